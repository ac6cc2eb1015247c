/*
 * iohook.c: chaining muxer I/O hooks; see iohook.h.
 */
#include <string.h>

#include <libavutil/mem.h>

#include "plane/iohook.h"

void iohook_install(IoHook *under, AVFormatContext *oc, void *self, IoHookOpen open,
                    IoHookClose close2)
{
    under->io_open = oc->io_open;
    under->io_close2 = oc->io_close2;
    under->opaque = oc->opaque;
    oc->opaque = self;
    oc->io_open = open;
    oc->io_close2 = close2;
}

int iohook_open(const IoHook *under, AVFormatContext *s, void *self, AVIOContext **pb,
                const char *url, int flags, AVDictionary **options)
{
    int ret;

    s->opaque = under->opaque;
    ret = under->io_open(s, pb, url, flags, options);
    s->opaque = self;
    return ret;
}

int iohook_close(const IoHook *under, AVFormatContext *s, void *self, AVIOContext *pb)
{
    int ret;

    s->opaque = under->opaque;
    ret = under->io_close2(s, pb);
    s->opaque = self;
    return ret;
}

int iohook_hold(IoHeld *h, const char *url, AVDictionary **options, AVIOContext **pb)
{
    int ret = avio_open_dyn_buf(&h->dyn);

    if (ret < 0)
        return ret;
    if (!(h->url = av_strdup(url)) ||
        (options && *options && av_dict_copy(&h->opts, *options, 0) < 0)) {
        iohook_drop(h);
        return AVERROR(ENOMEM);
    }
    *pb = h->dyn;
    return 0;
}

int iohook_take(IoHeld *h, uint8_t **buf)
{
    int len = avio_close_dyn_buf(h->dyn, buf);

    h->dyn = NULL;
    return len;
}

int iohook_write_out(const IoHook *under, AVFormatContext *s, void *self, const IoHeld *h,
                     const void *data, size_t len)
{
    AVIOContext *real = NULL;
    AVDictionary *opts = NULL;
    int ret, r;

    if (h->opts && av_dict_copy(&opts, h->opts, 0) < 0) {
        av_dict_free(&opts);
        return AVERROR(ENOMEM);
    }
    ret = iohook_open(under, s, self, &real, h->url, AVIO_FLAG_WRITE, &opts);
    av_dict_free(&opts);
    if (ret < 0)
        return ret;
    avio_write(real, data, (int)len);
    avio_flush(real);
    ret = real->error;
    r = iohook_close(under, s, self, real);
    return ret < 0 ? ret : r;
}

void iohook_drop(IoHeld *h)
{
    if (h->dyn) {
        uint8_t *b;
        avio_close_dyn_buf(h->dyn, &b);
        av_free(b);
        h->dyn = NULL;
    }
    av_freep(&h->url);
    av_dict_free(&h->opts);
}

int iohook_names(const char *url, const char *name)
{
    const char *b = strrchr(url, '/');
    size_t n, len = strlen(name);

    b = b ? b + 1 : url;
    n = strcspn(b, "?#");
    if (n == len + 4 && !strncmp(b + len, ".tmp", 4))
        n = len;
    return n == len && !strncmp(b, name, len);
}
