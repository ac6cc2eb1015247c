/*
 * delivery.c: HEAD after every uploaded segment; see delivery.h.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "delivery.h"
#include "redact.h"

typedef struct OpenFile {
    AVIOContext *pb;
    char *url;                   /* a media segment written over HTTP */
} OpenFile;

struct Delivery {
    int64_t timeout_us;
    DeliveryCounters *counters;
    int (*io_open)(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                   AVDictionary **options);
    int (*io_close2)(AVFormatContext *s, AVIOContext *pb);
    OpenFile open[DELIVERY_MAX_OPEN];   /* muxer thread only */
    int error;                          /* muxer thread only */
    char what[600];
};

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

static void count_status(Delivery *d, int ret)
{
    int k = -1;

    if (ret >= 0)
        k = 0;
    else if (ret == AVERROR_HTTP_BAD_REQUEST || ret == AVERROR_HTTP_UNAUTHORIZED ||
             ret == AVERROR_HTTP_FORBIDDEN || ret == AVERROR_HTTP_NOT_FOUND ||
             ret == AVERROR_HTTP_OTHER_4XX)
        k = 2;
    else if (ret == AVERROR_HTTP_SERVER_ERROR)
        k = 3;
    if (k >= 0)
        atomic_fetch_add(&d->counters->status[k], 1);
}

static int hook_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                     AVDictionary **options)
{
    Delivery *d = s->opaque;
    int ret = d->io_open(s, pb, url, flags, options);

    if (ret < 0 || !(flags & AVIO_FLAG_WRITE) || !is_http(url) || !is_media(url))
        return ret;
    for (int i = 0; i < DELIVERY_MAX_OPEN; i++)
        if (!d->open[i].pb) {
            if ((d->open[i].url = av_strdup(url)))
                d->open[i].pb = *pb;
            break;               /* table full or no memory: not checked */
        }
    return ret;
}

/* Does the origin hold url? A HEAD, under the output's deadline. */
static void confirm(Delivery *d, AVFormatContext *s, const char *url)
{
    AVDictionary *opts = NULL;
    AVIOContext *pb = NULL;
    int ret;

    av_dict_set(&opts, "method", "HEAD", 0);
    av_dict_set_int(&opts, "rw_timeout", d->timeout_us, 0);
    ret = avio_open2(&pb, url, AVIO_FLAG_READ, &s->interrupt_callback, &opts);
    av_dict_free(&opts);
    avio_closep(&pb);
    atomic_fetch_add(&d->counters->checks, 1);
    count_status(d, ret);
    if (ret < 0 && !d->error) {
        char shown[512];
        /* the deadline interrupts with AVERROR_EXIT: say what it means */
        d->error = ret == AVERROR_EXIT ? AVERROR(ETIMEDOUT) : ret;
        snprintf(d->what, sizeof(d->what), "the origin did not confirm %s%s",
                 redact_url(url, shown, sizeof(shown)),
                 ret == AVERROR_EXIT || ret == AVERROR(ETIMEDOUT) ? " within rw_timeout" : "");
    }
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
    if (url && ret >= 0)
        confirm(d, s, url);
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

int delivery_error(const Delivery *d, char *what, size_t size)
{
    if (d->error && what && size)
        av_strlcpy(what, d->what, size);
    return d->error;
}
