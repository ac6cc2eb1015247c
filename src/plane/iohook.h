/*
 * iohook.h: a hook chained onto a muxer's io_open/io_close2, for the
 * hooks that take a muxer's documents into memory and rewrite them on
 * their way out (pathway_io.h: Content Steering; epoch_io.h: an
 * epoch-locked DASH output). Each hook keeps what it replaced and calls
 * it as that one expects: with its own opaque in the AVFormatContext.
 */
#ifndef HS_IOHOOK_H
#define HS_IOHOOK_H

#include <libavformat/avformat.h>

typedef int (*IoHookOpen)(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                          AVDictionary **options);
typedef int (*IoHookClose)(AVFormatContext *s, AVIOContext *pb);

/* What a hook replaced, to call on. */
typedef struct IoHook {
    IoHookOpen io_open;
    IoHookClose io_close2;
    void *opaque;
} IoHook;

/* Installs open/close2 on oc with self as its opaque; under keeps what
 * was there. */
void iohook_install(IoHook *under, AVFormatContext *oc, void *self, IoHookOpen open,
                    IoHookClose close2);

/* The hook under self, called as it expects. */
int iohook_open(const IoHook *under, AVFormatContext *s, void *self, AVIOContext **pb,
                const char *url, int flags, AVDictionary **options);
int iohook_close(const IoHook *under, AVFormatContext *s, void *self, AVIOContext *pb);

/* Does url name the file name (its last path element, without a query,
 * and without the ".tmp" libav's temporary files add)? */
int iohook_names(const char *url, const char *name);

#endif
