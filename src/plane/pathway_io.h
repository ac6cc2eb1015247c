/*
 * pathway_io.h: the muxer's side of CDN pathways. An io_open/io_close2
 * hook on an HLS or DASH muxer whose output has pathways:
 *
 *   - the multivariant playlist (HLS) or the MPD (DASH) libav writes is
 *     taken into memory, rewritten for Content Steering (pathway.h: every
 *     variant once per pathway, the steering server named) and only then
 *     written where libav meant it to go, through the hook it wrapped (the
 *     delivery check over HTTP, plain files otherwise);
 *   - the first rendition's media playlist (HLS) or the MPD (DASH) is read
 *     on its way out for its newest segment's number and duration, which
 *     the edge viewers compare the CDN's with (agent_edge.h: freshness).
 *
 * A document the rewriter refuses goes out as libav wrote it (players then
 * see one pathway, and are not left without a playlist), said once.
 * Everything runs on the muxer's thread; the newest segment is published
 * through atomics the owner gives.
 */
#ifndef HS_PATHWAY_IO_H
#define HS_PATHWAY_IO_H

#include <stdatomic.h>
#include <stdint.h>

#include <libavformat/avformat.h>

#include "job/job.h"

typedef struct PathwayIo PathwayIo;

/*
 * Hooks oc (its io_open and io_close2, whatever they are now: set it after
 * any other hook) for the pathways of jo. dash: the muxer is DASH; doc:
 * the file name of the multivariant playlist or MPD; media: of the media
 * playlist to read the newest segment from (HLS; NULL for DASH, whose MPD
 * says it). newest_seq, segment_ms: where that is published (owned by the
 * caller, outlive the hook). Returns 0 or AVERROR(ENOMEM).
 */
int pathway_io_attach(PathwayIo **pp, AVFormatContext *oc, const JobOutput *jo, int dash,
                      const char *doc, const char *media, _Atomic int64_t *newest_seq,
                      _Atomic int64_t *segment_ms, void *log_ctx);

/* After the muxer is freed. NULL-safe. */
void pathway_io_free(PathwayIo **pp);

#endif
