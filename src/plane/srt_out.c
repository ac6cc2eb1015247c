/*
 * srt_out.c: an SRT output's send buffer and write timeout; see srt_out.h.
 */
#include <string.h>
#include <strings.h>

#include <libavformat/avformat.h>
#include <libavutil/common.h>
#include <libavutil/opt.h>
#include <libavutil/parseutils.h>

#include "plane/srt_out.h"

/* SRT counts its send buffer in packets of MSS (1500) - 28 bytes. */
#define SRT_OUT_PACKET 1472
/* libsrt polls for room every 100 ms and starts counting its timeout
 * after the first poll: a write fails this much after its timeout. */
#define SRT_OUT_POLL_US 100000

int srt_out_is_srt(const char *url)
{
    return url && !strncasecmp(url, "srt://", 6);
}

int64_t srt_out_bitrate(const JobStream *js, const JobOutput *jo, const AVDictionary *options)
{
    const AVDictionaryEntry *e = av_dict_get(options, "muxrate", NULL, 0);
    int64_t sum = 0;

    if (e && strtoll(e->value, NULL, 10) > 0)
        return strtoll(e->value, NULL, 10);
    for (int i = 0; i < jo->nb_renditions; i++) {
        const JobRendition *r = &js->renditions[jo->renditions[i]];
        if (r->bitrate <= 0)
            return 0;
        sum += r->bitrate;
    }
    if (js->audio.enabled)
        sum += js->audio.bitrate;
    return sum + sum / 10;
}

SrtOutPlan srt_out_plan(int64_t stall_us, int64_t send_buffer, int64_t bitrate)
{
    SrtOutPlan p;
    int64_t floor = SRT_OUT_MIN_PACKETS * SRT_OUT_PACKET;

    p.sndbuf = send_buffer > 0 ? send_buffer : SRT_OUT_SEND_BUFFER;
    p.write_timeout_us = stall_us / 2;
    if (bitrate > 0) {
        /* half the deadline's worth of the stream fills the buffer; the
         * write waits for the rest of it */
        int64_t half = av_rescale(bitrate / 8, stall_us / 2, 1000000);
        if (half < p.sndbuf)
            p.sndbuf = half;
        p.sndbuf = FFMAX(p.sndbuf, floor);
        p.write_timeout_us = FFMAX(stall_us - av_rescale(p.sndbuf * 8, 1000000, bitrate)
                                   - SRT_OUT_POLL_US, stall_us / 4);
    }
    p.sndbuf = FFMAX(p.sndbuf, floor);
    return p;
}

/* Does the job name this SRT option, in url's query or in opts? */
static int job_sets(const char *url, const AVDictionary *opts, const char *key)
{
    const char *q = url ? strchr(url, '?') : NULL;
    char buf[256];

    if (av_dict_get(opts, key, NULL, 0))
        return 1;
    return q && av_find_info_tag(buf, sizeof(buf), key, q);
}

int srt_out_options(AVDictionary **opts, const char *url, const SrtOutPlan *p)
{
    int ret;

    if (!job_sets(url, *opts, "tlpktdrop") &&
        (ret = av_dict_set(opts, "tlpktdrop", "0", 0)) < 0)
        return ret;
    if (!job_sets(url, *opts, "sndbuf") &&
        (ret = av_dict_set_int(opts, "sndbuf", p->sndbuf, 0)) < 0)
        return ret;
    if (!job_sets(url, *opts, "linger") &&
        (ret = av_dict_set_int(opts, "linger", SRT_OUT_LINGER_S, 0)) < 0)
        return ret;
    return 0;
}

int srt_out_arm(AVIOContext *pb, const char *url, const AVDictionary *options,
                const SrtOutPlan *p)
{
    if (job_sets(url, options, "timeout"))
        return 0;
    /* "rw_timeout" is the URLContext's own option, the AVIOContext's child:
     * libsrt waits for room in its send buffer that long */
    return av_opt_set_int(pb, "rw_timeout", p->write_timeout_us, AV_OPT_SEARCH_CHILDREN);
}
