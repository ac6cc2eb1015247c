/*
 * delivery.h: confirms that an origin really holds what a segmenting
 * muxer (HLS, DASH) uploaded to it over HTTP.
 *
 * libav's HTTP protocol sends a PUT and closes it without waiting for the
 * answer (it reads it only if it is already there). An origin that stalls,
 * accepting bytes into its socket and never answering, then looks healthy
 * forever: the kernel's buffers take a few segments, every write returns
 * at once, and players wait. So after each media segment is closed, the
 * origin is asked for it (HEAD, no Range) under rw_timeout:
 *   - 2xx: delivered;
 *   - 404 or 5xx: not there yet (the PUT may still be being stored, since
 *     nobody waited for its answer): asked again, 20 ms then doubling,
 *     until rw_timeout has passed, then a delivery failure;
 *   - another 4xx (401, 403, 405: an ingest point that takes uploads and
 *     serves nothing): the origin answers, which is what a stall takes
 *     away; said once, and from then on only that is known;
 *   - no answer within rw_timeout, or a refused connection: a failure.
 * A delivery failure is the output's failure, and the backup takes over.
 * Playlists and manifests are not checked (they are rewritten after every
 * segment, and a segment that arrived proves the origin takes uploads),
 * nor the muxers' DELETEs of old segments. With http_persistent the muxer
 * keeps its connection and never closes a segment: nothing is checked
 * (mux.c says so).
 *
 * The answers are counted by HTTP status class: the edge's figures (3xx
 * stays 0: libav follows redirects).
 *
 * It works through the format context's io_open/io_close2 hooks, so
 * everything runs on the muxer's thread, inside the muxer's calls.
 */
#ifndef HS_DELIVERY_H
#define HS_DELIVERY_H

#include <stdatomic.h>
#include <stdint.h>

#include <libavformat/avformat.h>

#define DELIVERY_MAX_OPEN 64     /* files a muxer has open at once */

/* Counts kept by the caller, so that they outlive the muxers (a muxer is
 * created again after a discontinuity); read from any thread. */
typedef struct DeliveryCounters {
    _Atomic int64_t checks;
    _Atomic int64_t status[4];   /* answers 2xx, 3xx, 4xx, 5xx */
} DeliveryCounters;

typedef struct Delivery Delivery;

/*
 * Hooks oc (whose io_open/io_close2 are libav's defaults, and whose opaque
 * is free: it is taken) so that media segments written over HTTP are
 * confirmed. timeout_us: how long a confirmation may take; counters: not
 * owned, counted into. Returns 0 or AVERROR(ENOMEM). The Delivery must
 * outlive oc's last I/O.
 */
int delivery_attach(Delivery **pd, AVFormatContext *oc, int64_t timeout_us,
                    DeliveryCounters *counters);
void delivery_free(Delivery **pd);

/* The media time of the packet the muxer is given next (before each
 * write): a segment closed during that write holds what came before it. */
void delivery_set_position(Delivery *d, int64_t pts_us);

/* Into *pts_us: the media time before which every packet is in a segment
 * the origin confirmed (INT64_MIN: none yet). Returns 0 when uploads are
 * not confirmed at all (an ingest point that serves nothing: liveness
 * only), 1 otherwise. */
int delivery_confirmed(const Delivery *d, int64_t *pts_us);

/* The HTTP status class of a libav result: 2 (success), 4, 5, or 0 when
 * it is not an HTTP answer (refused, timed out, ...). */
int delivery_http_class(int err);

/* The first failed confirmation since attach: 0, or the negative AVERROR,
 * with the redacted URL of the file and why in what (may be NULL). */
int delivery_error(const Delivery *d, char *what, size_t size);

#endif
