/*
 * srt_out.h: what an SRT output needs so that a hung peer fails it within
 * its stall deadline instead of never.
 *
 * In live mode SRT keeps every packet it sent until the peer acknowledges
 * it, and by default drops, silently, what is older than the peer's
 * latency plus a second (too-late packet drop): a peer that stops reading
 * (a stopped relay, a route that went dark) costs the writer nothing, its
 * writes go on succeeding and the data goes nowhere, until SRT's peer idle
 * timeout (5 s, not settable through libav 5.1) breaks the connection.
 * Measured on loopback with libav's defaults (the scenario of
 * tests/integration/t_srt.sh, part 3): a relay stopped 4 s before the end
 * of an 8 s run was never noticed; hotspare wrote 426 KB, the relay's
 * file holds 172 KB, and the backup got nothing.
 *
 * libav does not hand out the SRT socket (nor its acknowledgements), so the
 * plane cannot watch the peer directly as it does TCP peers. What it can
 * do is make "not acknowledged" visible as a write that waits:
 *   - tlpktdrop=0: the sender keeps what the peer has not acknowledged
 *     instead of dropping it;
 *   - sndbuf: SRT's send buffer holds about half the stall deadline of the
 *     output's bit rate (at most send_buffer bytes): once the peer stops
 *     acknowledging, it fills within that time and the next write waits;
 *   - the connection's I/O timeout (the URLContext's rw_timeout, set after
 *     the connection is open so that connecting keeps libsrt's own 5 s):
 *     a write that waits this long for room fails with ETIMEDOUT.
 *   - linger: in live mode libsrt drops at close whatever the peer has
 *     not acknowledged; a stream's last packets would never arrive (20 of
 *     240 frames at the end of an 8 s run on loopback): the socket lingers
 *     up to SRT_OUT_LINGER_S to deliver them, in the background.
 * The first two add up to about the stall deadline from the last
 * acknowledgement to the failure (plus libsrt's 100 ms polling). A healthy
 * link holds about one round trip of data unacknowledged, far below the
 * buffer, as long as the round trip is shorter than half the deadline.
 * Whatever the output wrote and the peer may not have passed on is in the
 * output's cache (output.h), which its backup replays.
 *
 * Whatever the job sets itself (in the URL's query or in options) wins.
 */
#ifndef HS_SRT_OUT_H
#define HS_SRT_OUT_H

#include <stdint.h>

#include <libavformat/avio.h>
#include <libavutil/dict.h>

#include "job/job.h"

/* When the output's stall_timeout or send_buffer_size is 0 (a muxer made
 * without a job's, or send_buffer_size: 0, the kernel's sizing, which SRT
 * does not have). */
#define SRT_OUT_STALL_US    1000000
#define SRT_OUT_SEND_BUFFER 262144
#define SRT_OUT_LINGER_S    1
/* SRT's payload per packet for MPEG-TS (7 TS packets): the send buffer is
 * counted in packets of (MSS - 28) = 1472 bytes; never below this many. */
#define SRT_OUT_MIN_PACKETS 16

typedef struct SrtOutPlan {
    int64_t sndbuf;              /* SRTO_SNDBUF, bytes */
    int64_t write_timeout_us;    /* a write waits at most this long */
} SrtOutPlan;

/* Is url an SRT URL ("srt://")? Pure. */
int srt_out_is_srt(const char *url);

/* The nominal bit rate of what an output carries, bit/s: its renditions'
 * and the audio's bit rates plus 10 % for MPEG-TS, or the muxer's muxrate
 * when set; 0 when a rendition has none (the encoder's default). Pure. */
int64_t srt_out_bitrate(const JobStream *js, const JobOutput *jo, const AVDictionary *options);

/* The send buffer and write timeout for a stall deadline, a cap on the
 * buffer (bytes) and the output's bit rate (0: unknown, then the cap and
 * half the deadline). Pure. */
SrtOutPlan srt_out_plan(int64_t stall_us, int64_t send_buffer, int64_t bitrate);

/* Adds tlpktdrop=0, sndbuf and linger to *opts (protocol options for avio_open2)
 * unless the URL's query or *opts already name them. Returns 0 or a
 * negative AVERROR. */
int srt_out_options(AVDictionary **opts, const char *url, const SrtOutPlan *p);

/* After avio_open2 of url: the open connection's I/O timeout becomes the
 * plan's write timeout, unless the job set SRT's "timeout" (URL query or
 * options). Returns 0, or a negative AVERROR when libav has no such option
 * (the write deadline stays rw_timeout). */
int srt_out_arm(AVIOContext *pb, const char *url, const AVDictionary *options,
                const SrtOutPlan *p);

#endif
