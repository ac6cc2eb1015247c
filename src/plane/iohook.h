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

/* A document a hook takes into memory (libav writes it there) to write
 * it out later, rewritten or not, where libav meant it to go. */
typedef struct IoHeld {
    AVIOContext *dyn;             /* open while libav writes it */
    char *url;
    AVDictionary *opts;           /* the muxer's options for the real open */
} IoHeld;

/* Holds the document libav opens at url (h unused): *pb is where libav
 * writes it. 0 or a negative AVERROR (h left unused). */
int  iohook_hold(IoHeld *h, const char *url, AVDictionary **options, AVIOContext **pb);
/* What libav wrote (*buf, av_free it; its length returned); h keeps its
 * url and options for iohook_write_out. */
int  iohook_take(IoHeld *h, uint8_t **buf);
/* Writes data where h was meant to go, through the hook under self. */
int  iohook_write_out(const IoHook *under, AVFormatContext *s, void *self, const IoHeld *h,
                      const void *data, size_t len);
/* Lets go of h (written or not); h is unused after. */
void iohook_drop(IoHeld *h);

/* Does url name the file name (its last path element, without a query,
 * and without the ".tmp" libav's temporary files add)? */
int iohook_names(const char *url, const char *name);

#endif
