/*
 * fleet.c: a fleet node's leadership through etcd; see fleet.h.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "core/log.h"
#include "dra/etcd.h"
#include "dra/fleet.h"

/* ---- pure decisions ---------------------------------------------------- */

/* Can node n take a stream: live, neither being drained nor at risk. */
static int eligible(const FleetView *v, int n)
{
    return !v->drain[n] && !v->at_risk[n];
}

/* Does node n lead as many streams as it may (load: what it leads)? */
static int full(const FleetView *v, const int *load, int n)
{
    return v->max_streams[n] > 0 && load[n] >= v->max_streams[n];
}

/* The eligible node other than skip (-1: none), with room for one more
 * stream, that leads the fewest
 * streams (ties: the smaller name), among those whose host risk is below
 * FLEET_RISK_CLEAR if there is one (a stream moved off a failing host
 * should not land on one about to be: it would bounce); -1 when none. */
static int least_loaded(const FleetView *v, const int *load, int skip)
{
    int best = -1, best_low = 0;

    for (int n = 0; n < v->nb_nodes; n++) {
        int low = v->risk[n] < FLEET_RISK_CLEAR;
        if (n == skip || !eligible(v, n) || full(v, load, n))
            continue;
        if (best < 0 || low > best_low ||
            (low == best_low && (load[n] < load[best] ||
                                 (load[n] == load[best] && strcmp(v->node[n], v->node[best]) < 0)))) {
            best = n;
            best_low = low;
        }
    }
    return best;
}

/* An eligible node other than from that runs stream s warm and ready (a
 * hot pair's follower): the move to make, it needs no cold start; -1.
 * load (NULL: not asked): it must have room to lead one more. */
static int warm_node(const FleetView *v, int s, int from, const int *load)
{
    for (int n = 0; n < v->nb_nodes; n++)
        if (n != from && eligible(v, n) && (v->ready[n] & (1ULL << s)) &&
            (!load || !full(v, load, n)))
            return n;
    return -1;
}

/* What each live node leads (streams led by a node that is not live count
 * for nobody). */
static void count_load(const FleetView *v, int *load)
{
    for (int s = 0; s < v->nb_streams; s++)
        for (int n = 0; n < v->nb_nodes; n++)
            if (v->leader[s][0] && !strcmp(v->leader[s], v->node[n]))
                load[n]++;
}

uint64_t fleet_drain_targets(const FleetView *v, const char *me, int *target)
{
    int load[FLEET_MAX_NODES] = { 0 };
    uint64_t mine = 0;

    count_load(v, load);
    for (int s = 0; s < v->nb_streams; s++) {
        int from = -1, to = -1;
        target[s] = -1;
        if (v->gone & (1ULL << s))
            continue;
        for (int n = 0; n < v->nb_nodes && v->leader[s][0]; n++)
            if (!strcmp(v->leader[s], v->node[n]))
                from = n;
        if (from < 0)
            continue;
        /* a move asked goes where asked, unless that node cannot take
         * it (then, for a leader that must go, as a drain places it) */
        for (int n = 0; n < v->nb_nodes && v->move_to[s][0]; n++)
            if (n != from && eligible(v, n) && !full(v, load, n) &&
                !strcmp(v->move_to[s], v->node[n]))
                to = n;
        if (to < 0 && eligible(v, from))
            continue;
        if (to < 0 && (to = warm_node(v, s, from, load)) < 0 && (to = least_loaded(v, load, from)) < 0)
            continue;
        target[s] = to;
        load[to]++;
        if (!strcmp(v->node[to], me))
            mine |= 1ULL << s;
    }
    return mine;
}

/* pair: on_risk: does stream s, led by node lead, want a follower? From
 * FLEET_RISK_PAIR (or at risk); one that has a ready follower keeps it
 * down to FLEET_RISK_PAIR_KEEP, so that a risk hovering around the start
 * level does not start and stop a second encode every round. */
static int pair_wanted(const FleetView *v, int s, int lead)
{
    if (v->at_risk[lead] || v->risk[lead] >= FLEET_RISK_PAIR)
        return 1;
    return v->risk[lead] >= FLEET_RISK_PAIR_KEEP && warm_node(v, s, lead, NULL) >= 0;
}

uint64_t fleet_pair_targets(const FleetView *v, const char *me, int on_risk)
{
    int load[FLEET_MAX_NODES] = { 0 };
    uint64_t mine = 0;

    count_load(v, load);
    for (int s = 0; s < v->nb_streams; s++) {
        int lead = -1, best;
        if (v->gone & (1ULL << s))
            continue;
        for (int n = 0; n < v->nb_nodes && v->leader[s][0]; n++)
            if (!strcmp(v->leader[s], v->node[n]))
                lead = n;
        if (lead < 0 || (on_risk && !pair_wanted(v, s, lead)))
            continue;
        if ((best = least_loaded(v, load, lead)) < 0)
            continue;
        load[best]++;
        if (!strcmp(v->node[best], me))
            mine |= 1ULL << s;
    }
    return mine;
}

int64_t fleet_handover_at(int64_t now_unix_us, int64_t seg_us)
{
    if (seg_us <= 0)
        seg_us = 1000000;
    return (now_unix_us + seg_us) / seg_us * seg_us + seg_us;
}

uint64_t fleet_decide(const FleetView *v, const char *me, int64_t now, int64_t grace_us)
{
    int load[FLEET_MAX_NODES] = { 0 };
    uint64_t take = 0;
    int self = -1;

    for (int n = 0; n < v->nb_nodes; n++)
        if (!strcmp(v->node[n], me))
            self = n;
    /* not among the live nodes yet (its health key not read back): the
     * others could not count it either; being drained, it takes nothing */
    if (self < 0 || v->drain[self])
        return 0;
    /* what each live node leads now; leaders that are not live (their
     * health key gone first) count for nobody */
    count_load(v, load);
    for (int s = 0; s < v->nb_streams; s++) {
        int best;

        if (v->leader[s][0] || (v->gone & (1ULL << s)))
            continue;
        best = least_loaded(v, load, -1);
        /* every node computes the same placement from the same view, so
         * the streams of a dead node spread instead of all going to the
         * fastest; the transaction still decides who gets each */
        if (best >= 0)
            load[best]++;
        if (best == self || (v->free_since[s] && now - v->free_since[s] >= grace_us &&
                             !full(v, load, self))) {
            take |= 1ULL << s;
            if (best != self)
                load[self]++;
        }
    }
    return take;
}

uint64_t fleet_decide_after_outage(uint64_t want, uint64_t warm, int64_t now,
                                   int64_t recovered_at, int64_t wait_us)
{
    if (recovered_at && now - recovered_at < wait_us)
        want &= warm;
    return want | warm;
}

int fleet_at_risk(int was, double risk, int *rounds)
{
    *rounds = risk >= FLEET_RISK_MOVE ? *rounds + 1 : 0;
    if (was)
        return risk >= FLEET_RISK_CLEAR;
    return *rounds >= FLEET_RISK_ROUNDS;
}

int fleet_fenced(int64_t renewed_at, int64_t ttl_us, int64_t now)
{
    return !renewed_at || now >= renewed_at + ttl_us;
}

int fleet_skewed(const int64_t *est_us, int n, int64_t age_us, int64_t max_us)
{
    int off = 0;

    for (int i = 0; i < n; i++)
        if (est_us[i] < -max_us || est_us[i] - age_us > max_us)
            off++;
    return off && 2 * off > n;
}

uint64_t fleet_slots(char (*slot)[64], int *nb_slots, const char *const *names, int nb,
                     uint64_t busy, int *dropped)
{
    uint64_t in = 0;

    *dropped = 0;
    for (int i = 0; i < nb; i++) {
        int s;
        for (s = 0; s < *nb_slots && strcmp(slot[s], names[i]); s++)
            ;
        if (s < *nb_slots && names[i][0])
            in |= 1ULL << s;
    }
    for (int i = 0; i < nb; i++) {
        int s, free_s = -1;
        if (!names[i][0])
            continue;
        for (s = 0; s < *nb_slots && strcmp(slot[s], names[i]); s++)
            if (free_s < 0 && !(in & (1ULL << s)) && !(busy & (1ULL << s)))
                free_s = s;
        if (s < *nb_slots)
            continue;             /* has its slot (in already) */
        if (free_s < 0 && *nb_slots < FLEET_MAX_STREAMS)
            free_s = (*nb_slots)++;
        if (free_s < 0) {
            (*dropped)++;
            continue;
        }
        av_strlcpy(slot[free_s], names[i], sizeof(slot[0]));
        in |= 1ULL << free_s;
    }
    /* a stream that left the set and is not busy any more: its slot is
     * emptied, so that no key of its name matches it */
    for (int s = 0; s < *nb_slots; s++)
        if (!(in & (1ULL << s)) && !(busy & (1ULL << s)))
            slot[s][0] = 0;
    while (*nb_slots && !slot[*nb_slots - 1][0] && !(busy & (1ULL << (*nb_slots - 1))))
        (*nb_slots)--;
    return ~in & (*nb_slots >= 64 ? ~0ULL : (1ULL << *nb_slots) - 1);
}

/* ---- the node ---------------------------------------------------------- */

/* How long the thread waits between its rounds: a third of the lease, so
 * that two renewals can fail before it expires. */
#define FLEET_ROUNDS_PER_LEASE 3
/* A stream handed over runs on this long after its boundary: its outputs
 * have ended there; this is for the last segment's upload. */
#define FLEET_LEAVE_TAIL_US 10000000

/* Jobs placed on the fleet at most (P/jobs/NAME). */
#define FLEET_MAX_PLACED FLEET_MAX_STREAMS

/* A placed job, as the fleet thread last read it. */
typedef struct Placed {
    char name[128];               /* NAME in P/jobs/NAME */
    int64_t rev;                  /* the key's mod revision last read */
    uint8_t *text;                /* the last text that loaded; NULL: none */
    size_t size;
    int nb;                       /* its streams' names and segment lengths */
    char (*names)[64];
    int64_t *seg_us;
    int seen;                     /* in this round's read */
} Placed;

struct Fleet {
    LogCtx log;
    EventLog *events;             /* not owned */
    EtcdClient *etcd;             /* the thread's */
    char node[64];
    char prefix[256];
    int64_t lease_us;
    /* the slot table (fleet.h): written by the thread under lock, read
     * by the thread without it and by others under it */
    int nb_streams;
    char stream[FLEET_MAX_STREAMS][64];
    /* the job file's streams, the first of the set */
    int nb_file;
    char file_stream[FLEET_MAX_STREAMS][64];
    int64_t file_seg_us[FLEET_MAX_STREAMS];
    uint64_t gone;                /* slots not in the set: written by the
                                     thread under lock */
    Placed placed[FLEET_MAX_PLACED];    /* guarded by lock (written by the
                                           thread, read by fleet_placed) */
    int nb_placed;                /* guarded by lock */
    uint64_t placed_gen;          /* guarded by lock */
    _Atomic int64_t max_seg_us;   /* the longest segment of any stream */

    /* the thread's own state */
    int64_t lease_id;             /* 0: none */
    _Atomic int64_t renewed_at;   /* av_gettime_relative() when the last
                                     successful grant/keepalive was sent */
    int64_t free_since[FLEET_MAX_STREAMS];
    uint64_t held;                /* keys held under the lease, as etcd said */
    int fenced_said;
    int skew_said;
    int64_t skew_est[FLEET_MAX_NODES];  /* this round: now - wall_us of the others */
    int nb_skew;
    /* the others' health keys as last seen: a key that has not changed for
     * two rounds is a node that stopped renewing (dead, or frozen: its
     * lease not expired yet); its wall clock is stale, not skewed */
    char seen_node[FLEET_MAX_NODES][64];
    int64_t seen_rev[FLEET_MAX_NODES], seen_at[FLEET_MAX_NODES];
    int nb_seen;
    uint64_t run;                 /* what the run loop was last told to run */
    int64_t seg_us[FLEET_MAX_STREAMS];  /* the stream's segment length (its
                                           longest HLS hls_time) */
    int64_t leaving[FLEET_MAX_STREAMS]; /* handed over at this Unix time (us):
                                           uploaded until then */
    int cooldown[FLEET_MAX_STREAMS];    /* handed over and its tail done: out
                                           of the run for a round, so that a
                                           follow rebuilds it (its outputs
                                           ended at the boundary) */
    int drain_said;
    int full_said;                /* the slot table full, said */
    int pair;                     /* JobFleet.pair */
    int max_streams;              /* JobFleet.max_streams */
    int at_risk;                  /* fleet_at_risk, this round */
    int risk_rounds;
    int64_t call_us;              /* an etcd call's deadline per member */
    _Atomic int draining;         /* ctl drain (any thread) */
    int cut_off;                  /* fenced, or its lease lost: etcd may have
                                     given its streams away meanwhile */
    int64_t recovered_at;         /* when etcd answered again after that */

    pthread_t thread;
    int thread_started;
    _Atomic int stop;

    pthread_mutex_t lock;
    uint64_t led;                 /* guarded by lock: what the run loop runs */
    uint64_t upload;              /* guarded by lock: ... and lets write */
    int64_t from_us[FLEET_MAX_STREAMS];  /* guarded by lock: fleet_state */
    int64_t until_us[FLEET_MAX_STREAMS]; /* guarded by lock: fleet_state */
    uint64_t ready;               /* guarded by lock: fleet_set_ready */
    HostRisk host;                /* guarded by lock: fleet_set_host_risk */
    uint64_t generation;          /* guarded by lock: bumped when any changes */
};

/* A stream's segment length: a planned move happens on a boundary of
 * every segment grid of the stream (segment lengths being multiples of
 * each other), its longest HLS or DASH segment. */
static int64_t stream_seg_us(const JobStream *js)
{
    int64_t seg = 1000000;

    for (int o = 0; o < js->nb_outputs; o++)
        seg = FFMAX(seg, job_output_segment_us(&js->outputs[o], js->outputs[o].options));
    return seg;
}

int fleet_alloc(Fleet **pf, const Job *job, EventLog *events)
{
    const JobFleet *fl = &job->supervisor.fleet;
    Fleet *f;
    int ret;

    *pf = NULL;
    if (!fl->nb_etcd || !fl->node)
        return AVERROR(EINVAL);
    if (job->nb_streams > FLEET_MAX_STREAMS) {
        av_log(NULL, AV_LOG_ERROR, "%s: a fleet job has at most %d streams\n", job->path,
               FLEET_MAX_STREAMS);
        return AVERROR(EINVAL);
    }
    if (!(f = av_mallocz(sizeof(*f))))
        return AVERROR(ENOMEM);
    logctx_init(&f->log, "fleet:%s", fl->node);
    pthread_mutex_init(&f->lock, NULL);
    f->events = events;
    av_strlcpy(f->node, fl->node, sizeof(f->node));
    av_strlcpy(f->prefix, fl->prefix ? fl->prefix : "/hotspare", sizeof(f->prefix));
    /* "/hotspare/" and "/hotspare" name the same keys */
    if (strlen(f->prefix) > 1 && f->prefix[strlen(f->prefix) - 1] == '/')
        f->prefix[strlen(f->prefix) - 1] = 0;
    f->lease_us = fl->lease_us;
    f->pair = fl->pair;
    f->max_streams = fl->max_streams;
    f->nb_streams = f->nb_file = job->nb_streams;
    for (int s = 0; s < job->nb_streams; s++) {
        av_strlcpy(f->stream[s], job->streams[s].name, sizeof(f->stream[s]));
        av_strlcpy(f->file_stream[s], job->streams[s].name, sizeof(f->file_stream[s]));
        f->seg_us[s] = f->file_seg_us[s] = stream_seg_us(&job->streams[s]);
        f->max_seg_us = FFMAX(f->max_seg_us, f->seg_us[s]);
    }
    /* a member that does not answer within a third of a round is skipped:
     * the next one still has time before the lease is at risk */
    f->call_us = FFMAX(f->lease_us / FLEET_ROUNDS_PER_LEASE / 3, 200000);
    ret = etcd_alloc(&f->etcd, (const char *const *)fl->etcd, fl->nb_etcd, f->call_us, &f->stop);
    if (ret < 0) {
        fleet_free(&f);
        return ret;
    }
    *pf = f;
    return 0;
}

/* What the run loop runs (run) and lets write (upload, a subset), said
 * per stream as it changes. */
static void set_state(Fleet *f, uint64_t run, uint64_t upload, const int64_t *from,
                      const int64_t *until)
{
    uint64_t was_run, was_up;

    run &= ~f->gone;              /* a stream no longer placed ends */
    upload &= run;
    pthread_mutex_lock(&f->lock);
    was_run = f->led;
    was_up = f->upload;
    if (run != was_run || upload != was_up ||
        memcmp(from, f->from_us, sizeof(f->from_us)) ||
        memcmp(until, f->until_us, sizeof(f->until_us))) {
        f->led = run;
        f->upload = upload;
        if (from != f->from_us)
            memcpy(f->from_us, from, sizeof(f->from_us));
        if (until != f->until_us)
            memcpy(f->until_us, until, sizeof(f->until_us));
        f->generation++;
    }
    pthread_mutex_unlock(&f->lock);
    f->run = run;
    for (int s = 0; s < f->nb_streams; s++) {
        uint64_t b = 1ULL << s;
        if ((upload & b) && !(was_up & b))
            evlog_emit(f->events, f->stream[s], "fleet", EV_INFO, 0,
                       "node %s leads the stream", f->node);
        else if (!(run & b) && (was_run & b))
            evlog_emit(f->events, f->stream[s], "fleet", EV_WARNING, 0,
                       "node %s no longer leads the stream", f->node);
        else if ((run & b) && (was_up & b) && !(upload & b))
            evlog_emit(f->events, f->stream[s], "fleet", EV_WARNING, 0,
                       "node %s may no longer lead the stream: it runs on, uploading nothing "
                       "(fenced), until etcd says", f->node);
    }
}

void fleet_state(Fleet *f, FleetState *st)
{
    pthread_mutex_lock(&f->lock);
    st->run = f->led;
    st->upload = f->upload;
    /* the fence, on this node's clock, the moment it is due (and a call's
     * deadline early): not when the fleet thread's next call to etcd
     * fails, up to a round and a timeout later, by when a hot pair's
     * follower may be uploading */
    if (fleet_fenced(atomic_load(&f->renewed_at), f->lease_us - f->call_us,
                     av_gettime_relative()))
        st->upload = 0;
    memcpy(st->from_us, f->from_us, sizeof(f->from_us));
    memcpy(st->until_us, f->until_us, sizeof(f->until_us));
    st->nb_slots = f->nb_streams;
    memcpy(st->stream, f->stream, sizeof(f->stream));
    st->gone = f->gone;
    st->nb_set = av_popcount64(~f->gone & (f->nb_streams >= 64 ? ~0ULL :
                                           (1ULL << f->nb_streams) - 1));
    st->gen = f->generation;
    st->placed_gen = f->placed_gen;
    pthread_mutex_unlock(&f->lock);
}

int fleet_placed(Fleet *f, FleetJobText **texts, int *nb)
{
    FleetJobText *t;
    int n = 0, ret = 0;

    *texts = NULL;
    *nb = 0;
    pthread_mutex_lock(&f->lock);
    t = av_calloc(FFMAX(f->nb_placed, 1), sizeof(*t));
    for (int i = 0; t && i < f->nb_placed; i++) {
        const Placed *p = &f->placed[i];
        if (!p->text)
            continue;
        t[n].name = av_asprintf("%s/jobs/%s", f->prefix, p->name);
        t[n].text = av_memdup(p->text, p->size);
        t[n].size = p->size;
        if (!t[n++].name || !t[n - 1].text)
            ret = AVERROR(ENOMEM);
    }
    pthread_mutex_unlock(&f->lock);
    if (!t || ret < 0) {
        fleet_placed_free(&t, n);
        return AVERROR(ENOMEM);
    }
    *texts = t;
    *nb = n;
    return 0;
}

void fleet_placed_free(FleetJobText **texts, int nb)
{
    for (int i = 0; *texts && i < nb; i++) {
        av_free((*texts)[i].name);
        av_free((*texts)[i].text);
    }
    av_freep(texts);
}

int64_t fleet_keep_us(const Fleet *f)
{
    int64_t seg = atomic_load(&f->max_seg_us);

    return f->lease_us + 3 * f->lease_us / FLEET_ROUNDS_PER_LEASE + 2 * seg + 2000000;
}

void fleet_set_ready(Fleet *f, uint64_t ready)
{
    pthread_mutex_lock(&f->lock);
    f->ready = ready;
    pthread_mutex_unlock(&f->lock);
}

void fleet_set_host_risk(Fleet *f, const HostRisk *r)
{
    pthread_mutex_lock(&f->lock);
    f->host = *r;
    pthread_mutex_unlock(&f->lock);
}

int fleet_drain(Fleet *f)
{
    atomic_store(&f->draining, 1);
    return 0;
}

/* The streams named in a JSON array, as a mask. */
static uint64_t stream_mask(Fleet *f, json_t *names)
{
    uint64_t m = 0;
    size_t i;
    json_t *n;

    json_array_foreach(names, i, n)
        for (int s = 0; s < f->nb_streams && json_is_string(n); s++)
            if (!strcmp(json_string_value(n), f->stream[s]))
                m |= 1ULL << s;
    return m;
}

const char *fleet_node(const Fleet *f)
{
    return f->node;
}

/* A call whose answer is parsed by the caller; logs nothing. */
static int call(Fleet *f, const char *path, char *body, char **answer)
{
    int ret = etcd_call(f->etcd, path, body, answer);

    av_free(body);
    return ret;
}

/* The lease: granted when there is none, else kept alive. 0 when this node
 * holds a live lease now, < 0 when etcd could not be reached, 1 when the
 * lease is gone (expired at etcd: whatever it held is someone else's). */
static int lease_round(Fleet *f)
{
    int64_t sent = av_gettime_relative(), id, ttl;
    char *ans = NULL, why[256];
    int ret;

    if (!f->lease_id) {
        ret = call(f, "/v3/lease/grant", etcd_req_grant(f->lease_us / 1000000), &ans);
        if (ret >= 0 && (ret = etcd_parse_grant(ans, &id, &ttl, why, sizeof(why))) < 0)
            av_log(&f->log, AV_LOG_WARNING, "lease grant: %s\n", why);
        av_free(ans);
        if (ret < 0)
            return ret;
        f->lease_id = id;
        f->renewed_at = sent;
        f->held = 0;
        av_log(&f->log, AV_LOG_INFO, "lease %" PRIx64 " granted by %s, TTL %" PRId64 " s\n",
               id, etcd_endpoint(f->etcd), ttl);
        return 0;
    }
    ret = call(f, "/v3/lease/keepalive", etcd_req_lease_id(f->lease_id), &ans);
    if (ret >= 0 && (ret = etcd_parse_keepalive(ans, &ttl, why, sizeof(why))) < 0)
        av_log(&f->log, AV_LOG_WARNING, "lease keepalive: %s\n", why);
    av_free(ans);
    if (ret < 0)
        return ret;
    if (ttl <= 0) {
        evlog_emit(f->events, "", "fleet", EV_WARNING, 0,
                   "node %s: its lease expired at etcd: it competes for its streams "
                   "again, keeping them warm meanwhile",
                   f->node);
        f->lease_id = 0;
        f->held = 0;
        return 1;
    }
    f->renewed_at = sent;
    return 0;
}

/* The stream a key PREFIX/dir/STREAM names (dir: "/lead/", "/handover/"),
 * or -1. */
static int stream_of_key(Fleet *f, const char *key, const char *dir)
{
    size_t n = strlen(f->prefix), d = strlen(dir);

    if (strncmp(key, f->prefix, n) || strncmp(key + n, dir, d))
        return -1;
    for (int s = 0; s < f->nb_streams; s++)
        if (f->stream[s][0] && !strcmp(key + n + d, f->stream[s]))
            return s;
    return -1;
}

/* Has node name's health key changed (mod_revision) within two rounds?
 * Only such a node's wall clock says anything of the skew. */
static int health_fresh(Fleet *f, const char *name, int64_t rev, int64_t now)
{
    int i;

    for (i = 0; i < f->nb_seen && strcmp(f->seen_node[i], name); i++)
        ;
    if (i == f->nb_seen) {
        if (i == FLEET_MAX_NODES)
            return 0;
        av_strlcpy(f->seen_node[i], name, sizeof(f->seen_node[i]));
        f->nb_seen++;
        f->seen_rev[i] = -1;
    }
    if (f->seen_rev[i] != rev) {
        f->seen_rev[i] = rev;
        f->seen_at[i] = now;
    }
    return now - f->seen_at[i] <= 2 * f->lease_us / FLEET_ROUNDS_PER_LEASE;
}

/* Loads placed job p's text (value, the key's revision rev) into p: its
 * streams' names and segment lengths, the text kept for the run loop. A
 * text that does not load is said, and the job stays as it last loaded. */
static void placed_load(Fleet *f, Placed *p, const char *value, int64_t rev)
{
    char name[512];
    JobDiag diag = { 0 };
    Job *job = NULL;
    size_t size = strlen(value);
    int ret;

    p->rev = rev;
    snprintf(name, sizeof(name), "%s/jobs/%s", f->prefix, p->name);
    ret = job_load_buffer(name, (const uint8_t *)value, size, &job, &diag);
    if (ret >= 0 && !job->nb_streams)
        ret = AVERROR_INVALIDDATA;
    if (ret < 0) {
        evlog_emit(f->events, "", "fleet", EV_WARNING, ret, "placed job %s (revision %" PRId64
                   ") does not load%s: %s%s", p->name, rev, p->text ? ", it runs as it last "
                   "loaded" : "", diag.nb_msgs ? diag.msgs[0] : "it has no stream",
                   diag.nb_msgs > 1 ? " (and more: hotspare check)" : "");
    } else {
        char (*names)[64] = av_calloc(job->nb_streams, sizeof(*names));
        int64_t *seg = av_calloc(job->nb_streams, sizeof(*seg));
        uint8_t *text = av_memdup(value, size);
        if (!names || !seg || !text) {
            av_free(names);
            av_free(seg);
            av_free(text);
            rev = p->rev = 0;     /* read again next round */
        } else {
            for (int i = 0; i < job->nb_streams; i++) {
                av_strlcpy(names[i], job->streams[i].name, sizeof(names[0]));
                seg[i] = stream_seg_us(&job->streams[i]);
            }
            pthread_mutex_lock(&f->lock);
            av_free(p->names);
            av_free(p->seg_us);
            av_free(p->text);
            p->names = names;
            p->seg_us = seg;
            p->text = text;
            p->size = size;
            p->nb = job->nb_streams;
            f->placed_gen++;
            pthread_mutex_unlock(&f->lock);
            evlog_emit(f->events, "", "fleet", EV_INFO, 0, "placed job %s (revision %" PRId64
                       "): %d stream%s", p->name, rev, job->nb_streams,
                       job->nb_streams == 1 ? "" : "s");
        }
    }
    job_diag_free(&diag);
    job_free(&job);
}

static void placed_clear(Placed *p)
{
    av_freep(&p->names);
    av_freep(&p->seg_us);
    av_freep(&p->text);
}

static int placed_cmp(const void *a, const void *b)
{
    return strcmp(((const Placed *)a)->name, ((const Placed *)b)->name);
}

/* The placed jobs (P/jobs/NAME) of a range answer: new and changed ones
 * loaded, removed ones dropped. */
static void placed_update(Fleet *f, const EtcdKvs *kvs)
{
    size_t n = strlen(f->prefix);

    for (int i = 0; i < f->nb_placed; i++)
        f->placed[i].seen = 0;
    for (int k = 0; k < kvs->nb; k++) {
        const EtcdKv *kv = &kvs->kvs[k];
        const char *name = kv->key + n + 6;
        Placed *p = NULL;
        if (strncmp(kv->key, f->prefix, n) || strncmp(kv->key + n, "/jobs/", 6) || !*name ||
            strchr(name, '/') || strlen(name) >= sizeof(p->name))
            continue;
        for (int i = 0; i < f->nb_placed && !p; i++)
            if (!strcmp(f->placed[i].name, name))
                p = &f->placed[i];
        if (!p) {
            if (f->nb_placed == FLEET_MAX_PLACED)
                continue;
            pthread_mutex_lock(&f->lock);
            p = &f->placed[f->nb_placed++];
            memset(p, 0, sizeof(*p));
            av_strlcpy(p->name, name, sizeof(p->name));
            pthread_mutex_unlock(&f->lock);
        }
        p->seen = 1;
        if (p->rev != kv->mod_revision)
            placed_load(f, p, kv->value, kv->mod_revision);
    }
    pthread_mutex_lock(&f->lock);
    for (int i = 0; i < f->nb_placed; i++) {
        if (f->placed[i].seen)
            continue;
        evlog_emit(f->events, "", "fleet", EV_INFO, 0, "placed job %s removed: its streams "
                   "end", f->placed[i].name);
        placed_clear(&f->placed[i]);
        f->placed[i--] = f->placed[--f->nb_placed];
        f->placed_gen++;
    }
    qsort(f->placed, f->nb_placed, sizeof(f->placed[0]), placed_cmp);
    pthread_mutex_unlock(&f->lock);
}

/* The stream set again (the file's streams, then the placed jobs'), into
 * the slot table (fleet_slots). busy: what this node still runs or holds. */
static void set_update(Fleet *f, uint64_t busy)
{
    const char *names[FLEET_MAX_STREAMS * 2];
    const int64_t *segs[FLEET_MAX_STREAMS * 2];
    char slot[FLEET_MAX_STREAMS][64];
    int nb = 0, nb_slots = f->nb_streams, dropped;
    uint64_t gone;

    for (int s = 0; s < f->nb_file; s++) {
        names[nb] = f->file_stream[s];
        segs[nb++] = &f->file_seg_us[s];
    }
    for (int i = 0; i < f->nb_placed; i++)
        for (int k = 0; k < f->placed[i].nb && nb < (int)FF_ARRAY_ELEMS(names); k++) {
            names[nb] = f->placed[i].names[k];
            segs[nb++] = &f->placed[i].seg_us[k];
        }
    memcpy(slot, f->stream, sizeof(slot));
    gone = fleet_slots(slot, &nb_slots, names, nb, busy, &dropped);
    if (dropped && !f->full_said)
        evlog_emit(f->events, "", "fleet", EV_WARNING, 0, "node %s: %d stream%s of the placed "
                   "jobs left out: a node runs at most %d streams' slots", f->node, dropped,
                   dropped == 1 ? " is" : "s are", FLEET_MAX_STREAMS);
    f->full_said = !!dropped;
    for (int s = 0; s < nb_slots; s++) {
        if (strcmp(slot[s], f->stream[s])) {     /* a new stream in the slot */
            f->free_since[s] = 0;
            f->leaving[s] = 0;
            f->cooldown[s] = 0;
        }
        for (int i = 0; i < nb; i++)
            if (slot[s][0] && !strcmp(slot[s], names[i])) {
                f->seg_us[s] = *segs[i];
                break;
            }
    }
    for (int s = 0; s < nb_slots; s++)
        atomic_store(&f->max_seg_us, FFMAX(atomic_load(&f->max_seg_us), f->seg_us[s]));
    pthread_mutex_lock(&f->lock);
    if (nb_slots != f->nb_streams || memcmp(slot, f->stream, sizeof(slot)))
        f->generation++;
    memcpy(f->stream, slot, sizeof(slot));
    f->nb_streams = nb_slots;
    f->gone = gone;
    pthread_mutex_unlock(&f->lock);
}

/* Reads the fleet into v: the leadership keys and the live nodes. */
static int read_view(Fleet *f, FleetView *v, int64_t now)
{
    char prefix[300], *ans = NULL, why[256];
    EtcdKvs kvs;
    int64_t wall;
    int ret;

    memset(v, 0, sizeof(*v));
    f->nb_skew = 0;
    snprintf(prefix, sizeof(prefix), "%s/", f->prefix);
    ret = call(f, "/v3/kv/range", etcd_req_range_prefix(prefix), &ans);
    if (ret >= 0 && (ret = etcd_parse_range(ans, &kvs, why, sizeof(why))) < 0)
        av_log(&f->log, AV_LOG_WARNING, "range: %s\n", why);
    av_free(ans);
    if (ret < 0)
        return ret;
    wall = av_gettime();
    /* the stream set first: the keys below are matched against it; a
     * stream this node runs or holds keeps its slot (it is let go first) */
    placed_update(f, &kvs);
    set_update(f, f->run | f->held);
    v->nb_streams = f->nb_streams;
    v->gone = f->gone;
    f->held = 0;
    for (int i = 0; i < kvs.nb; i++) {
        const EtcdKv *kv = &kvs.kvs[i];
        int s = stream_of_key(f, kv->key, "/lead/"), h_s = stream_of_key(f, kv->key, "/handover/");
        int m_s = stream_of_key(f, kv->key, "/move/");

        if (s >= 0) {
            av_strlcpy(v->leader[s], kv->value, sizeof(v->leader[s]));
            if (kv->lease == f->lease_id && !strcmp(kv->value, f->node))
                f->held |= 1ULL << s;
        } else if (m_s >= 0) {
            av_strlcpy(v->move_to[m_s], kv->value, sizeof(v->move_to[0]));
        } else if (h_s >= 0) {
            json_t *h = json_loads(kv->value, 0, NULL);
            json_t *to = json_object_get(h, "to"), *at = json_object_get(h, "at_us");
            json_t *from = json_object_get(h, "from");
            if (json_is_string(to) && json_is_integer(at)) {
                av_strlcpy(v->handover_to[h_s], json_string_value(to), sizeof(v->handover_to[0]));
                if (json_is_string(from))
                    av_strlcpy(v->handover_from[h_s], json_string_value(from),
                               sizeof(v->handover_from[0]));
                v->handover_at[h_s] = json_integer_value(at);
            }
            json_decref(h);
        } else if (!strncmp(kv->key + strlen(f->prefix), "/nodes/", 7) &&
                   v->nb_nodes < FLEET_MAX_NODES) {
            const char *name = kv->key + strlen(f->prefix) + 7;
            json_t *h = json_loads(kv->value, 0, NULL);
            json_t *w = json_object_get(h, "wall_us"), *l = json_object_get(h, "lease");
            int n = v->nb_nodes++;
            av_strlcpy(v->node[n], name, sizeof(v->node[0]));
            v->drain[n] = json_is_true(json_object_get(h, "drain"));
            v->lease[n] = json_is_integer(l) ? json_integer_value(l) : 0;
            v->ready[n] = stream_mask(f, json_object_get(h, "ready"));
            v->risk[n] = json_is_number(json_object_get(h, "risk")) ?
                         json_number_value(json_object_get(h, "risk")) : 0;
            v->at_risk[n] = json_is_true(json_object_get(h, "at_risk"));
            v->max_streams[n] = json_is_integer(json_object_get(h, "max")) ?
                                (int)json_integer_value(json_object_get(h, "max")) : 0;
            if (strcmp(name, f->node) && json_is_integer(w) && f->nb_skew < FLEET_MAX_NODES &&
                health_fresh(f, name, kv->mod_revision, now))
                f->skew_est[f->nb_skew++] = wall - json_integer_value(w);
            json_decref(h);
        }
    }
    etcd_kvs_free(&kvs);
    for (int s = 0; s < f->nb_streams; s++) {
        if (v->leader[s][0])
            f->free_since[s] = 0;
        else if (!f->free_since[s])
            f->free_since[s] = now;
        v->free_since[s] = f->free_since[s];
    }
    return 0;
}

/* Appends a JSON array of the streams in mask. */
static void add_streams(Fleet *f, char *buf, size_t size, uint64_t mask)
{
    int n = 0;

    av_strlcat(buf, "[", size);
    for (int s = 0; s < f->nb_streams; s++)
        if (mask & (1ULL << s))
            av_strlcatf(buf, size, "%s\"%s\"", n++ ? "," : "", f->stream[s]);
    av_strlcat(buf, "]", size);
}

/* This round's risk: at risk or not (fleet_at_risk), said when it
 * changes. */
static void risk_round(Fleet *f, const HostRisk *host)
{
    int at = fleet_at_risk(f->at_risk, host->risk, &f->risk_rounds);

    if (at && !f->at_risk)
        evlog_emit(f->events, "", "fleet", EV_WARNING, 0, "node %s is at risk (host risk %.2f, "
                   "%s): its %d stream%s move to other nodes, make before break, and it takes "
                   "no more", f->node, host->risk, host->why, av_popcount64(f->held),
                   av_popcount64(f->held) == 1 ? "" : "s");
    else if (!at && f->at_risk)
        evlog_emit(f->events, "", "fleet", EV_INFO, 0, "node %s is no longer at risk (host "
                   "risk %.2f): it takes streams again", f->node, host->risk);
    f->at_risk = at;
}

static int put_health(Fleet *f)
{
    char key[400], value[8192], *ans = NULL;
    uint64_t ready;
    int ret;

    HostRisk host;

    pthread_mutex_lock(&f->lock);
    ready = f->ready & f->led & ~f->upload;
    host = f->host;
    pthread_mutex_unlock(&f->lock);
    risk_round(f, &host);
    snprintf(key, sizeof(key), "%s/nodes/%s", f->prefix, f->node);
    snprintf(value, sizeof(value), "{\"node\":\"%s\",\"wall_us\":%" PRId64 ",\"streams\":%d,"
             "\"lease\":%" PRId64 ",\"drain\":%s,\"risk\":%.3f,\"at_risk\":%s,\"max\":%d,"
             "\"lead\":", f->node, av_gettime(), av_popcount64(f->held), f->lease_id,
             atomic_load(&f->draining) ? "true" : "false", host.risk, f->at_risk ? "true" : "false",
             f->max_streams);
    add_streams(f, value, sizeof(value), f->held);
    av_strlcat(value, ",\"ready\":", sizeof(value));
    add_streams(f, value, sizeof(value), ready);
    av_strlcat(value, "}", sizeof(value));
    ret = call(f, "/v3/kv/put", etcd_req_put(key, value, f->lease_id), &ans);
    av_free(ans);
    return ret;
}

/* Tries to take stream s: the key created under this node's lease. */
static int take(Fleet *f, int s)
{
    char key[400], *ans = NULL, why[256];
    EtcdKvs held;
    int ok = 0, ret;

    snprintf(key, sizeof(key), "%s/lead/%s", f->prefix, f->stream[s]);
    ret = call(f, "/v3/kv/txn", etcd_req_create(key, f->node, f->lease_id), &ans);
    if (ret >= 0 && (ret = etcd_parse_txn(ans, &ok, &held, why, sizeof(why))) < 0)
        av_log(&f->log, AV_LOG_WARNING, "take %s: %s\n", f->stream[s], why);
    av_free(ans);
    if (ret < 0)
        return ret;
    if (ok)
        f->held |= 1ULL << s;
    else
        av_log(&f->log, AV_LOG_VERBOSE, "%s: led by %s already\n", f->stream[s],
               held.nb ? held.kvs[0].value : "?");
    etcd_kvs_free(&held);
    return ok;
}

/* Hands stream s over to node t of v (planned move): in one transaction,
 * while s is still held under this node's lease, its leadership key and
 * the move's (where: at_us, the segment boundary) go under t's lease.
 * 1 when it did. */
static int hand_over(Fleet *f, const FleetView *v, int s, int t, int64_t at_us)
{
    char key[400], hkey[400], mkey[400], hval[256], *ans = NULL, why[256];
    EtcdKvs held = { 0 };
    int ok = 0, ret;

    snprintf(key, sizeof(key), "%s/lead/%s", f->prefix, f->stream[s]);
    snprintf(hkey, sizeof(hkey), "%s/handover/%s", f->prefix, f->stream[s]);
    snprintf(mkey, sizeof(mkey), "%s/move/%s", f->prefix, f->stream[s]);
    snprintf(hval, sizeof(hval), "{\"from\":\"%s\",\"to\":\"%s\",\"at_us\":%" PRId64 "}",
             f->node, v->node[t], at_us);
    ret = call(f, "/v3/kv/txn", etcd_req_transfer(key, f->lease_id, v->node[t], v->lease[t],
                                                  hkey, hval, v->move_to[s][0] ? mkey : NULL),
               &ans);
    if (ret >= 0 && (ret = etcd_parse_txn(ans, &ok, &held, why, sizeof(why))) < 0)
        av_log(&f->log, AV_LOG_WARNING, "hand %s over: %s\n", f->stream[s], why);
    av_free(ans);
    etcd_kvs_free(&held);
    return ret >= 0 && ok;
}

/* After a round that read the fleet: planned moves, then what the run
 * loop runs and uploads. warm: the streams it keeps warm after an outage
 * (round_once). */
static void moves(Fleet *f, const FleetView *v, int skewed, uint64_t warm)
{
    int target[FLEET_MAX_STREAMS];
    int64_t from[FLEET_MAX_STREAMS] = { 0 }, until[FLEET_MAX_STREAMS] = { 0 };
    int64_t wall = av_gettime();
    uint64_t incoming = fleet_drain_targets(v, f->node, target), leaving = 0, cool = 0, force = 0;
    int draining = atomic_load(&f->draining);

    if (draining && !f->drain_said) {
        evlog_emit(f->events, "", "fleet", EV_INFO, 0, "node %s is drained: its %d stream%s "
                   "move to other nodes, make before break", f->node, av_popcount64(f->held),
                   av_popcount64(f->held) == 1 ? "" : "s");
        f->drain_said = 1;
    }
    /* hot pair: the streams this node follows run warm here too */
    if (f->pair) {
        uint64_t follow = fleet_pair_targets(v, f->node, f->pair == JOB_PAIR_ON_RISK) & ~f->held;
        for (int s = 0; s < f->nb_streams; s++)
            if ((follow & (1ULL << s)) && !(f->run & (1ULL << s)))
                evlog_emit(f->events, f->stream[s], "fleet", EV_INFO, 0, "node %s follows the "
                           "stream (hot pair): it runs it warm, to take over at once", f->node);
        incoming |= follow;
    }
    if (skewed || draining || f->at_risk)
        incoming = 0;
    for (int s = 0; s < f->nb_streams; s++)
        if ((incoming & (1ULL << s)) && !(f->run & (1ULL << s)) && v->move_to[s][0])
            evlog_emit(f->events, f->stream[s], "fleet", EV_INFO, 0, "node %s starts the stream "
                       "warm: it is asked to move here from node %s", f->node, v->leader[s]);
    /* a handover this node asked whose answer it did not get (a member
     * that committed it, then failed to answer): etcd says it happened */
    for (int s = 0; s < f->nb_streams; s++)
        if ((f->run & (1ULL << s)) && !(f->held & (1ULL << s)) && !f->leaving[s] &&
            v->handover_at[s] && !strcmp(v->handover_from[s], f->node) &&
            v->leader[s][0] && strcmp(v->leader[s], f->node) &&
            wall < v->handover_at[s] + FLEET_LEAVE_TAIL_US) {
            f->leaving[s] = v->handover_at[s];
            evlog_emit(f->events, f->stream[s], "fleet", EV_INFO, 0, "node %s handed the "
                       "stream over to node %s at %.3f (etcd says; its answer was lost)",
                       f->node, v->leader[s], v->handover_at[s] / 1e6);
        }
    /* a stream of this node, drained or at risk, goes once its new node is ready:
     * at a segment boundary at least a segment away, so that the new node
     * knows it before it comes */
    for (int s = 0; s < f->nb_streams; s++) {
        uint64_t b = 1ULL << s;
        int t = target[s];
        if (!(f->held & b) || t < 0 || !(v->ready[t] & b) || !v->lease[t] ||
            (!draining && !f->at_risk && !v->move_to[s][0]))
            continue;
        int64_t at = fleet_handover_at(wall, f->seg_us[s]);
        if (hand_over(f, v, s, t, at)) {
            f->held &= ~b;
            f->leaving[s] = at;
            evlog_emit(f->events, f->stream[s], "fleet", EV_INFO, 0,
                       "node %s hands the stream over to node %s at %.3f (Unix time: a segment "
                       "boundary, %.1f s from now)", f->node, v->node[t], at / 1e6,
                       (at - wall) / 1e6);
        }
    }
    for (int s = 0; s < f->nb_streams; s++) {
        uint64_t b = 1ULL << s;
        /* handed over: it uploads until the boundary, then its outputs
         * end; the pipeline stops a little after */
        if (f->cooldown[s]) {
            f->cooldown[s] = 0;
            cool |= b;
        } else if (f->leaving[s] && (f->held & b)) {
            /* taken back while its outputs end at the boundary (its new
             * leader died, or it moved back): they cannot write again, the
             * pipeline is rebuilt (a cold start) */
            f->leaving[s] = 0;
            f->cooldown[s] = 1;
            force |= b;
        } else if (f->leaving[s] && wall < f->leaving[s] + FLEET_LEAVE_TAIL_US) {
            leaving |= b;
            until[s] = f->leaving[s];
        } else if (f->leaving[s]) {
            f->leaving[s] = 0;
            f->cooldown[s] = 1;
            cool |= b;
        }
        /* coming here by a planned move: uploading from its boundary */
        if (v->handover_at[s] && !strcmp(v->handover_to[s], f->node) &&
            wall < v->handover_at[s] + FLEET_LEAVE_TAIL_US)
            from[s] = v->handover_at[s];
        /* a hot pair's stream, taken over (or uploaded again after an
         * outage): from the first segment the origin lacks, from what
         * its outputs kept warm */
        else if (f->pair)
            from[s] = FLEET_FROM_ORIGIN;
    }
    set_state(f, (f->held | (warm & ~f->held) | incoming | leaving) & ~(cool & ~f->held) & ~force,
              f->held | leaving, from, until);
}

/* A stream no longer placed on the fleet that this node leads: its
 * leadership key deleted (while still under this node's lease), the
 * stream stopped by the next set_state. */
static void release_gone(Fleet *f)
{
    for (int s = 0; s < f->nb_streams; s++) {
        char key[400], *ans = NULL;
        if (!(f->gone & f->held & (1ULL << s)))
            continue;
        snprintf(key, sizeof(key), "%s/lead/%s", f->prefix, f->stream[s]);
        if (call(f, "/v3/kv/txn", etcd_req_delete_if(key, f->lease_id), &ans) < 0) {
            av_free(ans);
            break;                /* next round */
        }
        av_free(ans);
        f->held &= ~(1ULL << s);
        evlog_emit(f->events, f->stream[s], "fleet", EV_INFO, 0, "the stream is no longer "
                   "placed on the fleet: node %s stops it and lets its leadership go", f->node);
    }
}

static void round_once(Fleet *f)
{
    int64_t now = av_gettime_relative();
    FleetView v;
    int ret = lease_round(f);

    if (ret == 0 && (ret = put_health(f)) >= 0 && (ret = read_view(f, &v, now)) >= 0) {
        int64_t period = f->lease_us / FLEET_ROUNDS_PER_LEASE;
        uint64_t want = fleet_decide(&v, f->node, now, 2 * period);
        /* a health value is at most a round and a call old */
        int skewed = fleet_skewed(f->skew_est, f->nb_skew, period + f->lease_us / 3,
                                  FLEET_MAX_SKEW_US);
        if (skewed != f->skew_said)
            evlog_emit(f->events, "", "fleet", skewed ? EV_WARNING : EV_INFO, 0, skewed ?
                       "node %s: its clock disagrees with the other nodes' by more than %.1f s: "
                       "it takes no stream (epoch lock refused; check NTP)" :
                       "node %s: its clock agrees with the other nodes' again", f->node,
                       FLEET_MAX_SKEW_US / 1e6);
        uint64_t warm;

        f->skew_said = skewed;
        release_gone(f);
        if (f->cut_off) {
            f->cut_off = 0;
            f->recovered_at = now;
        }
        /* streams it runs without leading them (fenced, or its lease
         * lost): it takes them back at once if nobody has; one that
         * another node leads now is dropped */
        warm = f->run & ~f->held & ~f->gone;
        for (int s = 0; s < f->nb_streams; s++)
            if (v.leader[s][0])
                warm &= ~(1ULL << s);
        want = fleet_decide_after_outage(want, warm, now, f->recovered_at, 2 * period);
        if (skewed)
            want = warm = 0;
        for (int s = 0; s < f->nb_streams; s++)
            if ((want & (1ULL << s)) && take(f, s) < 0)
                break;
        if (f->fenced_said) {
            evlog_emit(f->events, "", "fleet", EV_INFO, 0, "node %s: etcd answers again (%s)",
                       f->node, etcd_endpoint(f->etcd));
            f->fenced_said = 0;
        }
        moves(f, &v, skewed, warm);
        return;
    }
    if (ret > 0) {                /* the lease is gone: a new one next round */
        f->cut_off = 1;
        set_state(f, f->run, 0, f->from_us, f->until_us);
        return;
    }
    /* etcd unreachable: what this node leads goes on until its lease
     * would have expired; then its outputs stop writing (fenced) while
     * the streams run on, warm, for when etcd answers again */
    if (fleet_fenced(f->renewed_at, f->lease_us, av_gettime_relative())) {
        if (!f->fenced_said && f->held)
            evlog_emit(f->events, "", "fleet", EV_WARNING, ret,
                       "node %s: etcd unreachable past its lease: its streams run on but "
                       "upload nothing (fenced)", f->node);
        f->fenced_said = 1;
        f->cut_off = 1;
        set_state(f, f->run, 0, f->from_us, f->until_us);
    }
}

static void *fleet_thread(void *arg)
{
    Fleet *f = arg;
    int64_t period = f->lease_us / FLEET_ROUNDS_PER_LEASE;

    log_set_component("fleet");
    while (!atomic_load(&f->stop)) {
        int64_t t0 = av_gettime_relative();
        round_once(f);
        while (!atomic_load(&f->stop) && av_gettime_relative() - t0 < period)
            av_usleep(20000);
    }
    return NULL;
}

int fleet_start(Fleet *f)
{
    int ret = pthread_create(&f->thread, NULL, fleet_thread, f);

    if (ret)
        return AVERROR(ret);
    f->thread_started = 1;
    return 0;
}

void fleet_free(Fleet **pf)
{
    Fleet *f = *pf;

    if (!f)
        return;
    atomic_store(&f->stop, 1);
    if (f->thread_started)
        pthread_join(f->thread, NULL);
    /* revoking the lease deletes every key under it: the others take over
     * now instead of a TTL from now (a stop is a planned end) */
    if (f->etcd && f->lease_id) {
        char *ans = NULL;
        atomic_store(&f->stop, 0);
        if (call(f, "/v3/lease/revoke", etcd_req_lease_id(f->lease_id), &ans) >= 0)
            av_log(&f->log, AV_LOG_INFO, "lease revoked\n");
        av_free(ans);
    }
    etcd_free(&f->etcd);
    for (int i = 0; i < f->nb_placed; i++)
        placed_clear(&f->placed[i]);
    pthread_mutex_destroy(&f->lock);
    av_freep(pf);
}
