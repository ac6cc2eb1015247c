/*
 * epoch_io.h: an epoch-locked DASH output (README, "Fleet", epoch lock):
 * the segments every node cuts alike, named alike, listed by an MPD that
 * every node writes alike, so that a segment from one node and the next
 * from another play as one timeline.
 *
 * libav's DASH muxer numbers each muxer's segments from 1 and dates its
 * MPD (availabilityStartTime) from its own first packet: two nodes, or
 * one node's two muxers, never agree. Its timestamps are Unix time on an
 * epoch-locked output (output.c), and its first segment starts on the
 * grid of the segment length from 1970, so every segment is [N, N+1) x
 * segment of Unix time. This io_open/io_close2 hook on the muxer:
 *
 *   - asks libav for $Time$ names (EPOCH_DASH_LIBAV_MEDIA) and uploads
 *     each media segment as chunk-streamR-N.EXT, N its place on the grid
 *     (its start over the segment length, rounded: audio segments start
 *     within a frame of the video's); a DELETE of libav's window the same;
 *   - rewrites the MPD as a number template from 1970
 *     (availabilityStartTime 1970-01-01T00:00:00Z, SegmentTemplate
 *     duration = the segment, startNumber 0, media $Number$, no
 *     SegmentTimeline), which a player reads as: segment N is available
 *     at the end of [N, N+1) x segment, Unix time; and the live delay
 *     dash.js needs (pathway_mpd_live_delay);
 *   - drops the MPD libav writes at its end (type static: the
 *     presentation over): the stream is the fleet's, the next node goes
 *     on in the same MPD.
 *
 * Everything runs on the muxer's thread.
 */
#ifndef HS_EPOCH_IO_H
#define HS_EPOCH_IO_H

#include <stddef.h>
#include <stdint.h>

#include <libavformat/avformat.h>
#include <libavutil/bprint.h>

/* What libav is asked to name media segments: uploaded by number
 * instead (chunk-streamR-N.EXT), the MPD's media template saying
 * $Number$ where libav's says $Time$. */
#define EPOCH_DASH_LIBAV_MEDIA "chunk-stream$RepresentationID$-$Time$.$ext$"

/* Segments a player is told to stay behind the live edge. */
#define EPOCH_DASH_LIVE_DELAY_SEGMENTS 3

/*
 * The name a media segment is uploaded as: url ends in libav's
 * "chunk-streamR-T.EXT" (T in stream R's time base, tbs[R]; nb_streams of
 * them); out gets url with "chunk-streamR-N.EXT", N = T / seg_us rounded.
 * 1 when renamed, 0 when url is no such name (copied as it is), < 0 when
 * it does not fit in size.
 */
int epoch_dash_segment_url(const char *url, const AVRational *tbs, int nb_streams,
                           int64_t seg_us, char *out, size_t size);

/*
 * libav's MPD (len bytes) as the number template from 1970 (above),
 * appended to out. 0; 1 when the MPD is the last one libav writes (type
 * static): nothing is appended, it is not to be uploaded;
 * AVERROR_INVALIDDATA when it has no MPD element or a SegmentTemplate
 * without a timescale; AVERROR(ENOMEM).
 */
int epoch_dash_mpd(const char *in, size_t len, int64_t seg_us, AVBPrint *out);

typedef struct EpochIo EpochIo;

/* Hooks oc (a DASH muxer whose media_seg_name is EPOCH_DASH_LIBAV_MEDIA;
 * set after any other hook: it wraps what is there). doc: the MPD's file
 * name. 0 or AVERROR(ENOMEM). */
int  epoch_io_attach(EpochIo **pe, AVFormatContext *oc, const char *doc, int64_t seg_us,
                     void *log_ctx);
/* After the muxer is freed. NULL-safe. */
void epoch_io_free(EpochIo **pe);

#endif
