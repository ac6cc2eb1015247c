/*
 * epoch_io.c: an epoch-locked DASH output's names and MPD; see epoch_io.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/mathematics.h>
#include <libavutil/mem.h>

#include "plane/epoch_io.h"
#include "plane/iohook.h"
#include "plane/pathway.h"

/* ---- pure ---------------------------------------------------------------- */

int epoch_dash_segment_url(const char *url, const AVRational *tbs, int nb_streams,
                           int64_t seg_us, char *out, size_t size)
{
    const char *base = strrchr(url, '/'), *p, *dot;
    char *end;
    long rep;
    int64_t t, n;

    base = base ? base + 1 : url;
    if (av_strlcpy(out, url, size) >= size)
        return AVERROR(EINVAL);
    if (strncmp(base, "chunk-stream", 12) || seg_us <= 0)
        return 0;
    rep = strtol(base + 12, &end, 10);
    if (end == base + 12 || *end != '-' || rep < 0 || rep >= nb_streams ||
        tbs[rep].num <= 0 || tbs[rep].den <= 0)
        return 0;
    p = end + 1;
    t = strtoll(p, &end, 10);
    if (end == p || *end != '.' || t < 0)
        return 0;
    dot = end;
    /* [N, N+1) x segment: the start to the nearest grid point */
    n = av_rescale_q_rnd(t, tbs[rep], (AVRational){ 1, 1000000 }, AV_ROUND_NEAR_INF);
    n = (n + seg_us / 2) / seg_us;
    if (snprintf(out, size, "%.*s%" PRId64 "%s", (int)(p - url), url, n, dot) >= (int)size)
        return AVERROR(EINVAL);
    return 1;
}

/* The tag starting at lt ("<Name ..."), its end ('>'), or NULL. */
static const char *tag_end(const char *lt, const char *end)
{
    return memchr(lt, '>', end - lt);
}

/* Is there an element <name at p? */
static int is_tag(const char *p, const char *end, const char *name)
{
    size_t n = strlen(name);

    return p + n + 1 < end && p[0] == '<' && !strncmp(p + 1, name, n) &&
           strchr(" \t\r\n>/", p[n + 1]);
}

/* Appends the tag [lt, te) with attribute name set to value (replaced
 * when it is there, else added before the end). */
static void set_attr(AVBPrint *out, const char *lt, const char *te, const char *name,
                     const char *value)
{
    const char *v, *ve;

    if (pathway_attr(lt + 1, te, name, &v, &ve)) {
        av_bprint_append_data(out, lt, v - lt);
        av_bprintf(out, "%s", value);
        av_bprint_append_data(out, ve, te - ve);
    } else {
        /* before "/>" or ">" */
        const char *close = te - 1;
        if (close > lt && close[-1] == '/')
            close--;
        av_bprint_append_data(out, lt, close - lt);
        av_bprintf(out, " %s=\"%s\"", name, value);
        av_bprint_append_data(out, close, te - close);
    }
}

int epoch_dash_mpd(const char *in, size_t len, int64_t seg_us, AVBPrint *out)
{
    const char *end = in + len, *p = in, *v, *ve;
    AVBPrint mpd;
    int seen_mpd = 0, ret;

    av_bprint_init(&mpd, 0, AV_BPRINT_SIZE_UNLIMITED);
    while (p < end) {
        const char *lt = memchr(p, '<', end - p), *te;
        if (!lt) {
            av_bprint_append_data(&mpd, p, end - p);
            break;
        }
        av_bprint_append_data(&mpd, p, lt - p);
        if (!(te = tag_end(lt, end))) {
            av_bprint_append_data(&mpd, lt, end - lt);
            break;
        }
        te++;                     /* one past '>' */
        if (is_tag(lt, end, "MPD")) {
            if (pathway_attr(lt + 1, te, "type", &v, &ve) && ve - v == 6 &&
                !strncmp(v, "static", 6)) {
                av_bprint_finalize(&mpd, NULL);
                return 1;
            }
            /* the presentation's time 0 is the Unix epoch: a segment's
             * timestamps (Unix time) are its presentation time */
            set_attr(&mpd, lt, te, "availabilityStartTime", "1970-01-01T00:00:00Z");
            seen_mpd = 1;
        } else if (is_tag(lt, end, "SegmentTemplate")) {
            char dur[32];
            const char *tv, *tve;
            int64_t timescale;
            AVBPrint t1, t2, t3;
            if (!pathway_attr(lt + 1, te, "timescale", &tv, &tve) ||
                (timescale = strtoll(tv, NULL, 10)) <= 0) {
                av_bprint_finalize(&mpd, NULL);
                return AVERROR_INVALIDDATA;
            }
            snprintf(dur, sizeof(dur), "%" PRId64, av_rescale(seg_us, timescale, 1000000));
            av_bprint_init(&t1, 0, AV_BPRINT_SIZE_UNLIMITED);
            av_bprint_init(&t2, 0, AV_BPRINT_SIZE_UNLIMITED);
            av_bprint_init(&t3, 0, AV_BPRINT_SIZE_UNLIMITED);
            /* libav's $Time$ names are uploaded by number (the hook) */
            if (pathway_attr(lt + 1, te, "media", &v, &ve)) {
                const char *tm = av_strnstr(v, "$Time$", ve - v);
                AVBPrint media;
                av_bprint_init(&media, 0, AV_BPRINT_SIZE_UNLIMITED);
                if (tm)
                    av_bprintf(&media, "%.*s$Number$%.*s", (int)(tm - v), v,
                               (int)(ve - tm - 6), tm + 6);
                else
                    av_bprint_append_data(&media, v, ve - v);
                set_attr(&t1, lt, te, "media", media.str);
                av_bprint_finalize(&media, NULL);
            } else {
                av_bprint_append_data(&t1, lt, te - lt);
            }
            set_attr(&t2, t1.str, t1.str + t1.len, "startNumber", "0");
            set_attr(&t3, t2.str, t2.str + t2.len, "duration", dur);
            av_bprint_append_data(&mpd, t3.str, t3.len);
            av_bprint_finalize(&t1, NULL);
            av_bprint_finalize(&t2, NULL);
            av_bprint_finalize(&t3, NULL);
        } else if (is_tag(lt, end, "SegmentTimeline")) {
            /* the list of segments goes: the template says them all */
            const char *close = te;
            for (const char *q = te; q + 18 <= end; q++)
                if (!strncmp(q, "</SegmentTimeline>", 18)) {
                    close = q + 18;
                    break;
                }
            te = close;
            /* the whitespace before it too: the line goes */
            while (mpd.len && (mpd.str[mpd.len - 1] == '\t' || mpd.str[mpd.len - 1] == ' '))
                mpd.str[--mpd.len] = 0;
            if (te < end && *te == '\n')
                te++;
        } else {
            av_bprint_append_data(&mpd, lt, te - lt);
        }
        p = te;
    }
    if (!av_bprint_is_complete(&mpd)) {
        av_bprint_finalize(&mpd, NULL);
        return AVERROR(ENOMEM);
    }
    if (!seen_mpd) {
        av_bprint_finalize(&mpd, NULL);
        return AVERROR_INVALIDDATA;
    }
    ret = pathway_mpd_live_delay(mpd.str, mpd.len, EPOCH_DASH_LIVE_DELAY_SEGMENTS, out);
    av_bprint_finalize(&mpd, NULL);
    return ret < 0 ? ret : av_bprint_is_complete(out) ? 0 : AVERROR(ENOMEM);
}

/* ---- the hook ------------------------------------------------------------ */

struct EpochIo {
    void *log_ctx;
    char *doc;
    int64_t seg_us;
    IoHook under;                /* the hook this one wraps */
    IoHeld mpd;                  /* the MPD being written, in memory */
    int warned;
};

static int hook_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                     AVDictionary **options)
{
    EpochIo *e = s->opaque;
    AVRational tbs[16];
    char named[4096];
    int nb = FFMIN(s->nb_streams, FF_ARRAY_ELEMS(tbs)), ret;

    if ((flags & AVIO_FLAG_WRITE) && iohook_names(url, e->doc) && !e->mpd.dyn)
        return iohook_hold(&e->mpd, url, options, pb);
    for (int i = 0; i < nb; i++)
        tbs[i] = s->streams[i]->time_base;
    if ((ret = epoch_dash_segment_url(url, tbs, nb, e->seg_us, named, sizeof(named))) < 0)
        return ret;
    return iohook_open(&e->under, s, e, pb, named, flags, options);
}

static int hook_close2(AVFormatContext *s, AVIOContext *pb)
{
    EpochIo *e = s->opaque;
    uint8_t *buf = NULL;
    AVBPrint out;
    int len, ret;

    if (!pb || pb != e->mpd.dyn)
        return iohook_close(&e->under, s, e, pb);
    len = iohook_take(&e->mpd, &buf);
    av_bprint_init(&out, 0, AV_BPRINT_SIZE_UNLIMITED);
    ret = epoch_dash_mpd((const char *)buf, len, e->seg_us, &out);
    if (ret == 0)
        ret = iohook_write_out(&e->under, s, e, &e->mpd, out.str, out.len);
    else if (ret == 1)            /* the last one: not for the players */
        ret = 0;
    else {
        if (!e->warned++)
            av_log(e->log_ctx, AV_LOG_WARNING, "the MPD could not be written as the epoch's "
                   "number template (%s): it goes out as libav wrote it\n", av_err2str(ret));
        ret = iohook_write_out(&e->under, s, e, &e->mpd, buf, len);
    }
    av_bprint_finalize(&out, NULL);
    av_free(buf);
    iohook_drop(&e->mpd);
    return ret;
}

int epoch_io_attach(EpochIo **pe, AVFormatContext *oc, const char *doc, int64_t seg_us,
                    void *log_ctx)
{
    EpochIo *e = av_mallocz(sizeof(*e));

    *pe = NULL;
    if (!e || !(e->doc = av_strdup(doc))) {
        av_free(e);
        return AVERROR(ENOMEM);
    }
    e->log_ctx = log_ctx;
    e->seg_us = seg_us;
    iohook_install(&e->under, oc, e, hook_open, hook_close2);
    *pe = e;
    return 0;
}

void epoch_io_free(EpochIo **pe)
{
    EpochIo *e = *pe;

    if (!e)
        return;
    iohook_drop(&e->mpd);
    av_freep(&e->doc);
    av_freep(pe);
}
