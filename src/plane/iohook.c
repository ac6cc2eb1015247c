/*
 * iohook.c: chaining muxer I/O hooks; see iohook.h.
 */
#include <string.h>

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
