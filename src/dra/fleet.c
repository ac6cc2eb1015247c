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

uint64_t fleet_decide(const FleetView *v, const char *me, int64_t now, int64_t grace_us)
{
    int load[FLEET_MAX_NODES] = { 0 };
    uint64_t take = 0;
    int self = -1;

    for (int n = 0; n < v->nb_nodes; n++)
        if (!strcmp(v->node[n], me))
            self = n;
    /* not among the live nodes yet (its health key not read back): the
     * others could not count it either */
    if (self < 0)
        return 0;
    /* what each live node leads now; leaders that are not live (their
     * health key gone first) count for nobody */
    for (int s = 0; s < v->nb_streams; s++)
        for (int n = 0; n < v->nb_nodes; n++)
            if (v->leader[s][0] && !strcmp(v->leader[s], v->node[n]))
                load[n]++;
    for (int s = 0; s < v->nb_streams; s++) {
        int best = -1;

        if (v->leader[s][0])
            continue;
        for (int n = 0; n < v->nb_nodes; n++)
            if (best < 0 || load[n] < load[best] ||
                (load[n] == load[best] && strcmp(v->node[n], v->node[best]) < 0))
                best = n;
        /* every node computes the same placement from the same view, so
         * the streams of a dead node spread instead of all going to the
         * fastest; the transaction still decides who gets each */
        if (best >= 0)
            load[best]++;
        if (best == self || (v->free_since[s] && now - v->free_since[s] >= grace_us))
            take |= 1ULL << s;
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

/* ---- the node ---------------------------------------------------------- */

/* How long the thread waits between its rounds: a third of the lease, so
 * that two renewals can fail before it expires. */
#define FLEET_ROUNDS_PER_LEASE 3

struct Fleet {
    LogCtx log;
    EventLog *events;             /* not owned */
    EtcdClient *etcd;             /* the thread's */
    char node[64];
    char prefix[256];
    int64_t lease_us;
    int nb_streams;
    char stream[FLEET_MAX_STREAMS][64];

    /* the thread's own state */
    int64_t lease_id;             /* 0: none */
    int64_t renewed_at;           /* av_gettime_relative() when the last
                                     successful grant/keepalive was sent */
    int64_t free_since[FLEET_MAX_STREAMS];
    uint64_t held;                /* keys held under the lease, as etcd said */
    int fenced_said;
    int skew_said;
    int64_t skew_est[FLEET_MAX_NODES];  /* this round: now - wall_us of the others */
    int nb_skew;
    uint64_t run;                 /* what the run loop was last told to run */
    int cut_off;                  /* fenced, or its lease lost: etcd may have
                                     given its streams away meanwhile */
    int64_t recovered_at;         /* when etcd answered again after that */

    pthread_t thread;
    int thread_started;
    _Atomic int stop;

    pthread_mutex_t lock;
    uint64_t led;                 /* guarded by lock: what the run loop runs */
    uint64_t upload;              /* guarded by lock: ... and lets write */
    uint64_t generation;          /* guarded by lock: bumped when either changes */
};

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
    f->nb_streams = job->nb_streams;
    for (int s = 0; s < job->nb_streams; s++)
        av_strlcpy(f->stream[s], job->streams[s].name, sizeof(f->stream[s]));
    /* a member that does not answer within a third of a round is skipped:
     * the next one still has time before the lease is at risk */
    ret = etcd_alloc(&f->etcd, (const char *const *)fl->etcd, fl->nb_etcd,
                     FFMAX(f->lease_us / FLEET_ROUNDS_PER_LEASE / 3, 200000), &f->stop);
    if (ret < 0) {
        fleet_free(&f);
        return ret;
    }
    *pf = f;
    return 0;
}

/* What the run loop runs (run) and lets write (upload, a subset), said
 * per stream as it changes. */
static void set_state(Fleet *f, uint64_t run, uint64_t upload)
{
    uint64_t was_run, was_up;

    upload &= run;
    pthread_mutex_lock(&f->lock);
    was_run = f->led;
    was_up = f->upload;
    if (run != was_run || upload != was_up) {
        f->led = run;
        f->upload = upload;
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

uint64_t fleet_state(Fleet *f, uint64_t *run, uint64_t *upload)
{
    uint64_t gen;

    pthread_mutex_lock(&f->lock);
    *run = f->led;
    *upload = f->upload;
    gen = f->generation;
    pthread_mutex_unlock(&f->lock);
    return gen;
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

/* The stream a leadership key names, or -1. */
static int stream_of_key(Fleet *f, const char *key)
{
    size_t n = strlen(f->prefix);

    if (strncmp(key, f->prefix, n) || strncmp(key + n, "/lead/", 6))
        return -1;
    for (int s = 0; s < f->nb_streams; s++)
        if (!strcmp(key + n + 6, f->stream[s]))
            return s;
    return -1;
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
    v->nb_streams = f->nb_streams;
    snprintf(prefix, sizeof(prefix), "%s/", f->prefix);
    ret = call(f, "/v3/kv/range", etcd_req_range_prefix(prefix), &ans);
    if (ret >= 0 && (ret = etcd_parse_range(ans, &kvs, why, sizeof(why))) < 0)
        av_log(&f->log, AV_LOG_WARNING, "range: %s\n", why);
    av_free(ans);
    if (ret < 0)
        return ret;
    wall = av_gettime();
    f->held = 0;
    for (int i = 0; i < kvs.nb; i++) {
        const EtcdKv *kv = &kvs.kvs[i];
        int s = stream_of_key(f, kv->key);

        if (s >= 0) {
            av_strlcpy(v->leader[s], kv->value, sizeof(v->leader[s]));
            if (kv->lease == f->lease_id && !strcmp(kv->value, f->node))
                f->held |= 1ULL << s;
        } else if (!strncmp(kv->key + strlen(f->prefix), "/nodes/", 7) &&
                   v->nb_nodes < FLEET_MAX_NODES) {
            const char *name = kv->key + strlen(f->prefix) + 7;
            json_t *h = json_loads(kv->value, 0, NULL);
            json_t *w = json_object_get(h, "wall_us");
            av_strlcpy(v->node[v->nb_nodes++], name, sizeof(v->node[0]));
            if (strcmp(name, f->node) && json_is_integer(w) && f->nb_skew < FLEET_MAX_NODES)
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

static int put_health(Fleet *f)
{
    char key[400], value[4096], *ans = NULL;
    int n = 0, ret;

    snprintf(key, sizeof(key), "%s/nodes/%s", f->prefix, f->node);
    snprintf(value, sizeof(value), "{\"node\":\"%s\",\"wall_us\":%" PRId64 ",\"streams\":%d,\"lead\":[",
             f->node, av_gettime(), av_popcount64(f->held));
    for (int s = 0; s < f->nb_streams; s++)
        if (f->held & (1ULL << s))
            av_strlcatf(value, sizeof(value), "%s\"%s\"", n++ ? "," : "", f->stream[s]);
    av_strlcat(value, "]}", sizeof(value));
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
        if (f->cut_off) {
            f->cut_off = 0;
            f->recovered_at = now;
        }
        /* streams it runs without leading them (fenced, or its lease
         * lost): it takes them back at once if nobody has; one that
         * another node leads now is dropped */
        warm = f->run & ~f->held;
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
        set_state(f, f->held | (warm & ~f->held), f->held);
        return;
    }
    if (ret > 0) {                /* the lease is gone: a new one next round */
        f->cut_off = 1;
        set_state(f, f->run, 0);
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
        set_state(f, f->run, 0);
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
    pthread_mutex_destroy(&f->lock);
    av_freep(pf);
}
