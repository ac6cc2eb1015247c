/*
 * delivery.c: HEAD after every uploaded segment; see delivery.h.
 */
#include <stdio.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "plane/delivery.h"
#include "core/log.h"
#include "core/redact.h"

/* A segment not there yet (its PUT still being stored: libav does not wait
 * for the answer) is asked for again after this, doubling. */
#define DELIVERY_RETRY_US     20000
#define DELIVERY_RETRY_MAX_US 320000

typedef struct OpenFile {
    AVIOContext *pb;
    char *url;                   /* a media segment uploaded over HTTP */
} OpenFile;

struct Delivery {
    int64_t timeout_us;
    DeliveryCounters *counters;
    int (*io_open)(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                   AVDictionary **options);
    int (*io_close2)(AVFormatContext *s, AVIOContext *pb);
    /* muxer thread only */
    OpenFile open[DELIVERY_MAX_OPEN];
    int liveness_only;           /* the origin does not answer HEAD for segments */
    int64_t position_us;         /* media time of the packet being written */
    int64_t closed_at_us;        /* position when the segment checked was closed */
    int64_t confirmed_pts_us;    /* what came before it is on the origin */
    int error;
    char what[600];
};

int delivery_http_class(int err)
{
    if (err >= 0)
        return 2;
    if (err == AVERROR_HTTP_BAD_REQUEST || err == AVERROR_HTTP_UNAUTHORIZED ||
        err == AVERROR_HTTP_FORBIDDEN || err == AVERROR_HTTP_NOT_FOUND ||
        err == AVERROR_HTTP_OTHER_4XX)
        return 4;
    if (err == AVERROR_HTTP_SERVER_ERROR)
        return 5;
    return 0;
}

static int is_http(const char *url)
{
    const char *p = avio_find_protocol_name(url);
    return p && (!strcmp(p, "http") || !strcmp(p, "https"));
}

/* Playlists and manifests are rewritten all the time: not checked. */
static int is_media(const char *url)
{
    size_t n = strcspn(url, "?#");

    return !(n >= 5 && !av_strncasecmp(url + n - 5, ".m3u8", 5)) &&
           !(n >= 4 && !av_strncasecmp(url + n - 4, ".mpd", 4));
}

/* An upload: no method (the muxer's default), PUT or POST. The muxers open
 * their DELETEs of old segments through the same hook. */
static int is_upload(AVDictionary *options)
{
    const AVDictionaryEntry *m = av_dict_get(options, "method", NULL, 0);

    return !m || !av_strcasecmp(m->value, "PUT") || !av_strcasecmp(m->value, "POST");
}

static int hook_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                     AVDictionary **options)
{
    Delivery *d = s->opaque;
    /* decided before the call: it consumes the options it uses */
    int check = (flags & AVIO_FLAG_WRITE) && !d->liveness_only && is_http(url) && is_media(url) &&
                is_upload(options ? *options : NULL);
    int ret = d->io_open(s, pb, url, flags, options);

    if (ret < 0 || !check)
        return ret;
    for (int i = 0; i < DELIVERY_MAX_OPEN; i++)
        if (!d->open[i].pb) {
            if ((d->open[i].url = av_strdup(url)))
                d->open[i].pb = *pb;
            break;               /* table full or no memory: not checked */
        }
    return ret;
}

static int head(Delivery *d, AVFormatContext *s, const char *url)
{
    AVDictionary *opts = NULL;
    AVIOContext *pb = NULL;
    int ret;

    av_dict_set(&opts, "method", "HEAD", 0);
    av_dict_set(&opts, "seekable", "0", 0);      /* no Range header */
    av_dict_set_int(&opts, "rw_timeout", d->timeout_us, 0);
    log_quiet_libav(1);          /* what the answers mean is said by confirm() */
    ret = avio_open2(&pb, url, AVIO_FLAG_READ, &s->interrupt_callback, &opts);
    log_quiet_libav(0);
    av_dict_free(&opts);
    avio_closep(&pb);
    return ret;
}

/*
 * Does the origin hold url? 2xx: yes. 404 and 5xx: not (yet): asked again
 * until timeout_us has passed. Another answer (401, 403, 405: an ingest
 * point that takes uploads and serves nothing) proves the origin answers,
 * which is what a stall takes away; it is said once and only liveness is
 * checked from then on. No answer at all: the deadline fails it.
 */
static void confirm(Delivery *d, AVFormatContext *s, const char *url)
{
    int64_t start = av_gettime_relative(), wait = DELIVERY_RETRY_US;
    char shown[512];
    int ret, cls;

    for (;;) {
        ret = head(d, s, url);
        cls = delivery_http_class(ret);
        atomic_fetch_add(&d->counters->checks, 1);
        if (cls)
            atomic_fetch_add(&d->counters->status[cls - 2], 1);
        if (cls == 2) {
            /* everything written before this segment closed is there */
            d->confirmed_pts_us = d->closed_at_us;
            return;
        }
        if (cls == 4 && ret != AVERROR_HTTP_NOT_FOUND) {
            d->liveness_only = 1;
            av_log(NULL, AV_LOG_WARNING, "the origin of %s answers HEAD with %s: uploads are "
                   "not confirmed, only that it answers\n", redact_url(url, shown, sizeof(shown)),
                   av_err2str(ret));
            return;
        }
        if (!(ret == AVERROR_HTTP_NOT_FOUND || cls == 5) ||
            av_gettime_relative() + wait - start > d->timeout_us)
            break;
        av_usleep(wait);
        wait = FFMIN(wait * 2, DELIVERY_RETRY_MAX_US);
    }
    if (d->error)
        return;
    /* the deadline interrupts with AVERROR_EXIT: say what it means */
    d->error = ret == AVERROR_EXIT ? AVERROR(ETIMEDOUT) : ret;
    snprintf(d->what, sizeof(d->what), "the origin did not confirm %s%s",
             redact_url(url, shown, sizeof(shown)),
             ret == AVERROR_EXIT || ret == AVERROR(ETIMEDOUT) ? " within rw_timeout" : "");
}

static int hook_close2(AVFormatContext *s, AVIOContext *pb)
{
    Delivery *d = s->opaque;
    char *url = NULL;
    int ret;

    for (int i = 0; i < DELIVERY_MAX_OPEN; i++)
        if (d->open[i].pb == pb) {
            url = d->open[i].url;
            d->open[i] = (OpenFile){ 0 };
            break;
        }
    ret = d->io_close2(s, pb);
    if (url && ret >= 0) {
        d->closed_at_us = d->position_us;
        confirm(d, s, url);
    }
    av_free(url);
    return ret;
}

int delivery_attach(Delivery **pd, AVFormatContext *oc, int64_t timeout_us,
                    DeliveryCounters *counters)
{
    Delivery *d = av_mallocz(sizeof(*d));

    *pd = NULL;
    if (!d)
        return AVERROR(ENOMEM);
    d->timeout_us = timeout_us;
    d->position_us = d->closed_at_us = d->confirmed_pts_us = INT64_MIN;
    d->counters = counters;
    d->io_open = oc->io_open;
    d->io_close2 = oc->io_close2;
    oc->opaque = d;
    oc->io_open = hook_open;
    oc->io_close2 = hook_close2;
    *pd = d;
    return 0;
}

void delivery_free(Delivery **pd)
{
    Delivery *d = *pd;

    if (!d)
        return;
    for (int i = 0; i < DELIVERY_MAX_OPEN; i++)
        av_free(d->open[i].url);
    av_freep(pd);
}

void delivery_set_position(Delivery *d, int64_t pts_us)
{
    d->position_us = pts_us;
}

int delivery_confirmed(const Delivery *d, int64_t *pts_us)
{
    *pts_us = d->confirmed_pts_us;
    return !d->liveness_only;
}

int delivery_error(const Delivery *d, char *what, size_t size)
{
    if (d->error && what && size)
        av_strlcpy(what, d->what, size);
    return d->error;
}
