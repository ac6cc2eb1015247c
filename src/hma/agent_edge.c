/*
 * agent_edge.c: a synthetic viewer per CDN pathway; see agent_edge.h.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <libavformat/avio.h>
#include <libavutil/avstring.h>
#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "core/log.h"
#include "core/redact.h"
#include "hma/agent_edge.h"
#include "plane/delivery.h"
#include "plane/output.h"
#include "plane/pathway.h"

/* A playlist or MPD larger than this is not one a player would read. */
#define EDGE_MAX_PLAYLIST (1 << 20)
/* Before a playlist has said its segment duration. */
#define EDGE_DEFAULT_TARGET_S 4.0
#define EDGE_MIN_TIMEOUT_US 1000000
#define EDGE_MAX_TIMEOUT_US 10000000
/* The origin's newest segments remembered, with when each was first seen. */
#define EDGE_HISTORY 64

typedef struct Viewer {
    AgentEdge *a;
    int st, o, p;
    int dash;
    const char *base;            /* the pathway's (job.h); may hold a token */
    char *playlist_url;          /* may hold a token: never logged as is */
    char shown[256];             /* the same, redacted */
    pthread_t thread;
    int started;
    int64_t deadline_us;         /* of the call under way; viewer thread only */
    int ever_up;                 /* viewer thread only */
    /* protected by AgentEdge.lock: */
    EdgeView v;
    int64_t busy_since_us;
    /* the tick's thread only: the origin's newest segments */
    int64_t seqs[EDGE_HISTORY], seen_at[EDGE_HISTORY];
    int nb_hist;
    int64_t first_upload_us;     /* the origin's first segment seen then */
} Viewer;

struct AgentEdge {
    LogCtx log;
    const Job *job;
    Pipeline **pl;
    int64_t period_us;
    Viewer *w;
    int nb;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_int stop;
};

double agent_edge_stale_s(int64_t edge_seq, const int64_t *seqs, const int64_t *at_us, int n,
                          double target_s, int64_t now_us)
{
    if (!n || edge_seq >= seqs[n - 1])
        return 0;
    /* the first segment the edge lacks: edge_seq + 1 */
    for (int i = 0; i < n; i++)
        if (seqs[i] > edge_seq)
            return i > 0 || seqs[0] == edge_seq + 1 ? (now_us - at_us[i]) / 1e6 :
                   (now_us - at_us[0]) / 1e6 + (seqs[0] - edge_seq - 1) * target_s;
    return 0;
}

static int interrupted(void *opaque)
{
    Viewer *w = opaque;

    return atomic_load(&w->a->stop) || av_gettime_relative() > w->deadline_us;
}

/* GETs url (at most max bytes; 0: all, up to EDGE_MAX_PLAYLIST) into body
 * (NULL: counted, not kept). Returns bytes read, or a negative AVERROR. */
static int64_t fetch(Viewer *w, const char *url, int64_t max, AVBPrint *body)
{
    AVIOInterruptCB cb = { interrupted, w };
    AVDictionary *opts = NULL;
    AVIOContext *pb = NULL;
    unsigned char buf[16384];
    int64_t got = 0;
    int ret;

    /* no Range (end_offset): libav 5.1 takes a segment shorter than the
     * range for a broken transfer ("Stream ends prematurely"); the read
     * stops at max and the connection is closed instead */
    av_dict_set(&opts, "user_agent", "hotspare-edge-viewer", 0);
    log_quiet_libav(1);          /* the viewer says what failed, once per change */
    ret = avio_open2(&pb, url, AVIO_FLAG_READ, &cb, &opts);
    av_dict_free(&opts);
    while (ret >= 0) {
        int n = avio_read(pb, buf, (int)FFMIN((int64_t)sizeof(buf),
                                              (max ? max : EDGE_MAX_PLAYLIST) - got));
        if (n == AVERROR_EOF || n == 0)
            break;
        if (n < 0) {
            ret = n;
            break;
        }
        if (body)
            av_bprint_append_data(body, (const char *)buf, n);
        got += n;
        if (got >= (max ? max : EDGE_MAX_PLAYLIST)) {
            if (!max)
                ret = AVERROR(EFBIG);
            break;
        }
    }
    avio_closep(&pb);
    log_quiet_libav(0);
    return ret < 0 ? ret : got;
}

static int status_class(int64_t ret)
{
    int c = delivery_http_class((int)ret);
    return c ? c - 2 : -1;       /* index into EdgeView.status, -1: no answer */
}

/* One probe: the playlist, then the head of its newest segment. */
static void probe(Viewer *w)
{
    AgentEdge *a = w->a;
    PlaylistNewest nw = { .seq = -1 };
    AVBPrint pl;
    double target = w->v.target_s > 0 ? w->v.target_s : EDGE_DEFAULT_TARGET_S;
    int64_t timeout = av_clip64((int64_t)(2 * target * 1e6), EDGE_MIN_TIMEOUT_US,
                                EDGE_MAX_TIMEOUT_US);
    int64_t t0 = av_gettime_relative(), t1, t2, ret, seg = -1;
    char why[200] = "";
    char *url = NULL;
    AVBPrint seg_url;
    int cls;

    pthread_mutex_lock(&a->lock);
    w->busy_since_us = t0;
    pthread_mutex_unlock(&a->lock);

    av_bprint_init(&pl, 0, AV_BPRINT_SIZE_UNLIMITED);
    w->deadline_us = t0 + timeout;
    ret = fetch(w, w->playlist_url, 0, &pl);
    t1 = av_gettime_relative();
    if (ret >= 0 && (!av_bprint_is_complete(&pl) ||
                     (w->dash ? pathway_mpd_newest(pl.str, pl.len, &nw)
                              : pathway_hls_newest(pl.str, pl.len, &nw)) < 0 ||
                     !nw.uri[0])) {
        snprintf(why, sizeof(why), "its %s lists no segment", w->dash ? "MPD" : "playlist");
        ret = AVERROR_INVALIDDATA;
    } else if (ret < 0) {
        snprintf(why, sizeof(why), "%s: %s", w->dash ? "MPD" : "playlist",
                 ret == AVERROR_EXIT ? "no answer in time" : av_err2str((int)ret));
    }
    cls = status_class(ret == AVERROR_INVALIDDATA ? 0 : ret);
    t2 = t1;
    if (ret >= 0) {
        /* the playlist (the MPD) lies in the pathway's base directory */
        av_bprint_init(&seg_url, 0, AV_BPRINT_SIZE_UNLIMITED);
        if (pathway_resolve(nw.uri, w->base, &seg_url) < 0)
            av_bprint_finalize(&seg_url, NULL);
        else
            av_bprint_finalize(&seg_url, &url);
        if (!url) {
            ret = AVERROR(ENOMEM);
        } else {
            w->deadline_us = t1 + timeout;
            seg = fetch(w, url, AGENT_EDGE_SEGMENT_BYTES, NULL);
            t2 = av_gettime_relative();
            if (seg < 0) {
                snprintf(why, sizeof(why), "newest segment: %s",
                         seg == AVERROR_EXIT ? "no answer in time" : av_err2str((int)seg));
                ret = seg;
            }
            av_free(url);
        }
    }
    av_bprint_finalize(&pl, NULL);

    pthread_mutex_lock(&a->lock);
    w->busy_since_us = 0;
    w->v.known = 1;
    w->v.started_us = t0;
    w->v.probes++;
    if (cls >= 0)
        w->v.status[cls]++;
    if (seg != -1 && status_class(seg) >= 0)
        w->v.status[status_class(seg)]++;
    w->v.playlist_s = (t1 - t0) / 1e6;
    w->v.segment_s = ret >= 0 ? (t2 - t1) / 1e6 : 0;
    w->v.throughput = ret >= 0 && t2 > t1 ? seg / ((t2 - t1) / 1e6) : 0;
    if (nw.seq >= 0) {
        w->v.seq = nw.seq;
        if (nw.target_s > 0)
            w->v.target_s = nw.target_s;
    }
    if (ret < 0) {
        w->v.failures++;
        /* before the edge has ever answered (the first segments not
         * uploaded yet) a failure is no news */
        if (w->v.up || !w->v.why[0] || strcmp(w->v.why, why))
            av_log(a, w->ever_up ? AV_LOG_WARNING : AV_LOG_VERBOSE, "edge viewer %s: %s\n",
                   w->shown, why);
        av_strlcpy(w->v.why, why, sizeof(w->v.why));
    } else if (!w->v.up && w->v.why[0]) {
        av_log(a, AV_LOG_INFO, "edge viewer %s: answers again\n", w->shown);
        w->v.why[0] = 0;
    }
    w->v.up = ret >= 0;
    w->ever_up |= w->v.up;
    pthread_mutex_unlock(&a->lock);
}

static void *viewer_main(void *arg)
{
    Viewer *w = arg;
    AgentEdge *a = w->a;
    int64_t next = av_gettime_relative();

    log_set_component("edge-viewer");
    while (!atomic_load(&a->stop)) {
        struct timespec ts;
        int64_t wall;
        probe(w);
        next += a->period_us;
        if (next < av_gettime_relative())
            next = av_gettime_relative();        /* late: no burst of probes */
        wall = av_gettime() + (next - av_gettime_relative());
        ts.tv_sec = wall / 1000000;
        ts.tv_nsec = (wall % 1000000) * 1000;
        pthread_mutex_lock(&a->lock);
        while (!atomic_load(&a->stop) && av_gettime_relative() < next)
            if (pthread_cond_timedwait(&a->cond, &a->lock, &ts))
                break;
        pthread_mutex_unlock(&a->lock);
    }
    return NULL;
}

void agent_edge_free(AgentEdge **pa)
{
    AgentEdge *a = *pa;

    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    atomic_store(&a->stop, 1);
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->lock);
    for (int i = 0; i < a->nb; i++) {
        if (a->w[i].started)
            pthread_join(a->w[i].thread, NULL);
        av_freep(&a->w[i].playlist_url);
    }
    av_freep(&a->w);
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->lock);
    av_freep(pa);
}

/* What a player of this output reads first through a pathway: the first
 * rendition's media playlist (HLS), the MPD (DASH). */
static char *playlist_url(const JobStream *js, const JobOutput *jo, const JobPathway *pw,
                          int *dash)
{
    const char *name = strrchr(jo->url, '/');

    name = name ? name + 1 : jo->url;
    *dash = jo->format ? !strcmp(jo->format, "dash") : av_match_ext(jo->url, "mpd");
    if (*dash)
        return av_asprintf("%s%.*s", pw->base, (int)strcspn(name, "?#"), name);
    return av_asprintf("%s%s.m3u8", pw->base, js->renditions[jo->renditions[0]].name);
}

int agent_edge_alloc(AgentEdge **pa, const Job *job, Pipeline **pl, int64_t period_us)
{
    AgentEdge *a;
    int nb = 0;

    *pa = NULL;
    for (int s = 0; s < job->nb_streams; s++)
        for (int o = 0; o < job->streams[s].nb_outputs; o++)
            nb += job->streams[s].outputs[o].nb_pathways;
    if (!nb)
        return 0;
    if (!(a = av_mallocz(sizeof(*a))))
        return AVERROR(ENOMEM);
    logctx_init(&a->log, "edge");
    a->job = job;
    a->pl = pl;
    a->period_us = period_us;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->cond, NULL);
    if (!(a->w = av_calloc(nb, sizeof(*a->w)))) {
        agent_edge_free(&a);
        return AVERROR(ENOMEM);
    }
    for (int s = 0; s < job->nb_streams; s++)
        for (int o = 0; o < job->streams[s].nb_outputs; o++) {
            const JobOutput *jo = &job->streams[s].outputs[o];
            for (int p = 0; p < jo->nb_pathways; p++) {
                Viewer *w = &a->w[a->nb++];
                *w = (Viewer){ .a = a, .st = s, .o = o, .p = p, .base = jo->pathways[p].base,
                               .v = { .seq = -1 } };
                if (!(w->playlist_url = playlist_url(&job->streams[s], jo, &jo->pathways[p],
                                                     &w->dash))) {
                    agent_edge_free(&a);
                    return AVERROR(ENOMEM);
                }
                redact_url(w->playlist_url, w->shown, sizeof(w->shown));
            }
        }
    for (int i = 0; i < a->nb; i++) {
        int ret = pthread_create(&a->w[i].thread, NULL, viewer_main, &a->w[i]);
        if (ret) {
            agent_edge_free(&a);
            return AVERROR(ret);
        }
        a->w[i].started = 1;
    }
    *pa = a;
    return 0;
}

int agent_edge_view(AgentEdge *a, int st, int o, int p, EdgeView *v)
{
    int64_t now = av_gettime_relative();

    for (int i = 0; a && i < a->nb; i++) {
        Viewer *w = &a->w[i];
        if (w->st != st || w->o != o || w->p != p)
            continue;
        pthread_mutex_lock(&a->lock);
        *v = w->v;
        v->busy_us = w->busy_since_us ? now - w->busy_since_us : 0;
        pthread_mutex_unlock(&a->lock);
        return 0;
    }
    return -1;
}

/* Remembers when the origin's newest segment of w's output was first seen. */
static void note_origin(Viewer *w, int64_t seq, int64_t now)
{
    if (seq >= 0 && !w->first_upload_us)
        w->first_upload_us = now;
    if (seq < 0 || (w->nb_hist && w->seqs[w->nb_hist - 1] >= seq)) {
        if (seq >= 0 && w->nb_hist && seq < w->seqs[w->nb_hist - 1])
            w->nb_hist = 0;      /* numbering started again (a new muxer) */
        else
            return;
    }
    if (w->nb_hist == EDGE_HISTORY) {
        memmove(w->seqs, w->seqs + 1, (EDGE_HISTORY - 1) * sizeof(*w->seqs));
        memmove(w->seen_at, w->seen_at + 1, (EDGE_HISTORY - 1) * sizeof(*w->seen_at));
        w->nb_hist--;
    }
    w->seqs[w->nb_hist] = seq;
    w->seen_at[w->nb_hist++] = now;
}

void agent_edge_sample(AgentEdge *a, Sample *s, int64_t now_us)
{
    for (int i = 0; a && i < a->nb; i++) {
        Viewer *w = &a->w[i];
        const JobStream *js = &a->job->streams[w->st];
        const JobOutput *jo = &js->outputs[w->o];
        OutputStats os = { .newest_seq = -1 };
        char name[COMP_NAME_SIZE];
        SampleComp *c;
        EdgeView v;
        double target;

        if (a->pl && a->pl[w->st])
            output_stats(pipeline_output(a->pl[w->st], w->o), &os);
        note_origin(w, os.newest_seq, now_us);
        agent_edge_view(a, w->st, w->o, w->p, &v);
        snprintf(name, sizeof(name), "%s:%s", jo->name, jo->pathways[w->p].id);
        if (!(c = sample_add_comp(s, COMP_EDGE, js->name, name, 0)))
            return;
        /* nothing seen yet; or nothing uploaded yet, which no edge can
         * serve: its 404s say nothing of it */
        if ((!v.known && !v.busy_us) || !w->first_upload_us || v.started_us < w->first_upload_us)
            continue;
        target = v.target_s > 0 ? v.target_s : os.segment_s > 0 ? os.segment_s : 0;
        sample_set(c, XM_UP, v.up && v.busy_us < (int64_t)(2 * (target > 0 ? target : 1) * 1e6));
        sample_set(c, XM_REQUESTS, v.probes);
        for (int k = 0; k < 4; k++)
            sample_set(c, XM_STATUS_2XX + k, v.status[k]);
        /* a probe under way for longer than the last answer took is what
         * the edge takes now */
        sample_set(c, XM_REQUEST_LATENCY, FFMAX(v.playlist_s, v.busy_us / 1e6));
        sample_set(c, XM_SEGMENT_LATENCY, v.segment_s);
        if (v.up)
            sample_set(c, XM_THROUGHPUT, v.throughput);
        if (target > 0)
            sample_set(c, XM_SEGMENT_DURATION, target);
        if (v.seq >= 0 && w->nb_hist)
            sample_set(c, XM_FRESHNESS, agent_edge_stale_s(v.seq, w->seqs, w->seen_at, w->nb_hist,
                                                           target, now_us));
        sample_set(c, XM_PROBE_FAILURES, v.failures);
    }
}
