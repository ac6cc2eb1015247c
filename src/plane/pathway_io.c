/*
 * pathway_io.c: the muxer's hook for CDN pathways; see pathway_io.h.
 */
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "plane/iohook.h"
#include "plane/pathway.h"
#include "plane/pathway_io.h"

/* Documents held open at once: libav writes a playlist and closes it
 * before the next, the master and a media playlist at most together. */
#define PIO_MAX_OPEN 4

enum { DOC_MASTER = 1, DOC_MEDIA = 2 };

/* Segments a DASH player is told to stay behind the live edge. */
#define PIO_LIVE_DELAY_SEGMENTS 3

typedef struct HeldDoc {
    IoHeld doc;
    int what;                    /* DOC_MASTER, DOC_MEDIA, or both (an MPD) */
} HeldDoc;

struct PathwayIo {
    void *log_ctx;
    int dash;
    char *doc, *media;
    Pathway pw[JOB_MAX_PATHWAYS];
    SteeringPlan plan;
    _Atomic int64_t *newest_seq, *segment_ms;
    IoHook under;                /* the hook this one wraps */
    HeldDoc held[PIO_MAX_OPEN];
    int warned;
};

static int hook_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                     AVDictionary **options)
{
    PathwayIo *p = s->opaque;
    int what = 0, ret;

    if (flags & AVIO_FLAG_WRITE) {
        if (iohook_names(url, p->doc))
            what = DOC_MASTER | (p->dash ? DOC_MEDIA : 0);
        else if (p->media && iohook_names(url, p->media))
            what = DOC_MEDIA;
    }
    for (int i = 0; what && i < PIO_MAX_OPEN; i++) {
        HeldDoc *h = &p->held[i];
        if (h->doc.dyn)
            continue;
        if ((ret = iohook_hold(&h->doc, url, options, pb)) < 0)
            return ret;
        h->what = what;
        return 0;
    }
    return iohook_open(&p->under, s, p, pb, url, flags, options);
}

/* Publishes the newest segment a media playlist or MPD lists. */
static void note_newest(PathwayIo *p, const char *text, size_t len)
{
    PlaylistNewest nw;

    if ((p->dash ? pathway_mpd_newest(text, len, &nw) : pathway_hls_newest(text, len, &nw)) < 0 ||
        nw.seq < 0)
        return;
    atomic_store(p->newest_seq, nw.seq);
    if (nw.target_s > 0)
        atomic_store(p->segment_ms, (int64_t)(nw.target_s * 1e3));
}

static int hook_close2(AVFormatContext *s, AVIOContext *pb)
{
    PathwayIo *p = s->opaque;
    HeldDoc *h = NULL;
    uint8_t *buf = NULL;
    AVBPrint out;
    int len, ret;

    for (int i = 0; i < PIO_MAX_OPEN && !h; i++)
        if (p->held[i].doc.dyn && p->held[i].doc.dyn == pb)
            h = &p->held[i];
    if (!h)
        return iohook_close(&p->under, s, p, pb);
    len = iohook_take(&h->doc, &buf);
    av_bprint_init(&out, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (h->what & DOC_MEDIA)
        note_newest(p, (const char *)buf, len);
    if (h->what & DOC_MASTER) {
        if (p->dash) {
            /* and a live delay dash.js can play at (pathway.h) */
            AVBPrint mpd;
            av_bprint_init(&mpd, 0, AV_BPRINT_SIZE_UNLIMITED);
            ret = pathway_dash_mpd((const char *)buf, len, &p->plan, &mpd);
            if (ret >= 0)
                ret = av_bprint_is_complete(&mpd) ?
                      pathway_mpd_live_delay(mpd.str, mpd.len, PIO_LIVE_DELAY_SEGMENTS, &out) :
                      AVERROR(ENOMEM);
            av_bprint_finalize(&mpd, NULL);
        } else {
            ret = pathway_hls_multivariant((const char *)buf, len, &p->plan, &out);
        }
        if (ret >= 0 && av_bprint_is_complete(&out)) {
            ret = iohook_write_out(&p->under, s, p, &h->doc, out.str, out.len);
            goto end;
        }
        if (!p->warned++)
            av_log(p->log_ctx, AV_LOG_WARNING, "the %s could not be written with its "
                   "pathways (%s): it goes out as libav wrote it, with one pathway\n",
                   p->dash ? "MPD" : "multivariant playlist",
                   ret < 0 ? av_err2str(ret) : "out of memory");
    }
    ret = iohook_write_out(&p->under, s, p, &h->doc, buf, len);
end:
    av_bprint_finalize(&out, NULL);
    av_free(buf);
    iohook_drop(&h->doc);
    return ret;
}

void pathway_io_free(PathwayIo **pp)
{
    PathwayIo *p = *pp;

    if (!p)
        return;
    for (int i = 0; i < PIO_MAX_OPEN; i++)
        iohook_drop(&p->held[i].doc);
    av_freep(&p->doc);
    av_freep(&p->media);
    av_freep(pp);
}

int pathway_io_attach(PathwayIo **pp, AVFormatContext *oc, const JobOutput *jo, int dash,
                      const char *doc, const char *media, _Atomic int64_t *newest_seq,
                      _Atomic int64_t *segment_ms, void *log_ctx)
{
    PathwayIo *p = av_mallocz(sizeof(*p));

    *pp = NULL;
    if (!p)
        return AVERROR(ENOMEM);
    p->log_ctx = log_ctx;
    p->dash = dash;
    p->doc = av_strdup(doc);
    p->media = media ? av_strdup(media) : NULL;
    if (!p->doc || (media && !p->media)) {
        pathway_io_free(&p);
        return AVERROR(ENOMEM);
    }
    for (int i = 0; i < jo->nb_pathways && i < JOB_MAX_PATHWAYS; i++)
        p->pw[i] = (Pathway){ jo->pathways[i].id, jo->pathways[i].base };
    p->plan = (SteeringPlan){ .pathways = p->pw, .nb_pathways = FFMIN(jo->nb_pathways, JOB_MAX_PATHWAYS),
                              .server_uri = jo->steering.uri, .first = jo->pathways[0].id };
    p->newest_seq = newest_seq;
    p->segment_ms = segment_ms;
    iohook_install(&p->under, oc, p, hook_open, hook_close2);
    *pp = p;
    return 0;
}
