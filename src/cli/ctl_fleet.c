/*
 * ctl_fleet.c: requests to a fleet through its etcd; see ctl_fleet.h.
 *
 * A move is a key, PREFIX/move/STREAM = NODE, under a lease of its own
 * (a minute: a request nobody can carry out does not stay), read by every
 * node each round (dra/fleet.c): NODE starts the stream warm and says
 * when it is ready, the leader hands it over at a segment boundary and
 * deletes the key in the same transaction. This program only writes the
 * key and watches the leadership key.
 *
 * A placed job is a key too (below): this program checks the job, writes
 * its text and watches its streams' leadership keys; the nodes do the
 * rest.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/file.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "cli/cmd.h"
#include "cli/ctl_fleet.h"
#include "dra/etcd.h"
#include "dra/fleet.h"
#include "job/job.h"

#define MOVE_LEASE_S 60

/* The keys that start with prefix, with their values (*kvs, the caller
 * frees it); < 0 when etcd could not be asked or answered nonsense. */
static int range(EtcdClient *c, const char *prefix, EtcdKvs *kvs)
{
    char *ans = NULL, why[256];
    char *req = etcd_req_range_prefix(prefix);
    int ret = req ? etcd_call(c, "/v3/kv/range", req, &ans) : AVERROR(ENOMEM);

    av_free(req);
    memset(kvs, 0, sizeof(*kvs));
    if (ret >= 0 && (ret = etcd_parse_range(ans, kvs, why, sizeof(why))) < 0)
        fprintf(stderr, "hotspare ctl: etcd's answer: %s\n", why);
    av_free(ans);
    return ret;
}

/* The value of key, "" when it does not exist; < 0 when etcd could not be
 * asked. */
static int get_key(EtcdClient *c, const char *key, char *value, size_t size)
{
    EtcdKvs kvs;
    int ret = range(c, key, &kvs);

    value[0] = 0;
    for (int i = 0; ret >= 0 && i < kvs.nb; i++)
        if (!strcmp(kvs.kvs[i].key, key))
            snprintf(value, size, "%s", kvs.kvs[i].value);
    etcd_kvs_free(&kvs);
    return ret;
}

/* Would node refuse a stream (fleet.h: a live node, neither drained nor
 * at risk, takes one)? 1 with the reason in why, 0 no, < 0 etcd did not
 * answer. */
static int target_refuses(EtcdClient *c, const char *prefix, const char *node, char *why,
                          size_t size)
{
    char key[512], health[8192];
    json_t *h;
    int ret;

    snprintf(key, sizeof(key), "%s/nodes/%s", prefix, node);
    if ((ret = get_key(c, key, health, sizeof(health))) < 0)
        return ret;
    if (!health[0]) {
        snprintf(why, size, "no node %s in the fleet under %s (no health key)", node, prefix);
        return 1;
    }
    h = json_loads(health, 0, NULL);
    if (json_is_true(json_object_get(h, "drain")))
        snprintf(why, size, "%s is being drained", node);
    else if (json_is_true(json_object_get(h, "at_risk")))
        snprintf(why, size, "%s is at risk (host risk %.2f): it takes no stream", node,
                 json_number_value(json_object_get(h, "risk")));
    else if (json_integer_value(json_object_get(h, "max")) > 0 &&
             json_integer_value(json_object_get(h, "streams")) >=
             json_integer_value(json_object_get(h, "max")))
        snprintf(why, size, "%s leads %d streams, its max_streams: it has no room", node,
                 (int)json_integer_value(json_object_get(h, "streams")));
    else
        why[0] = 0;
    json_decref(h);
    return why[0] ? 1 : 0;
}

static int ctl_move(EtcdClient *c, const char *prefix, const char *stream, const char *node,
                    int timeout_ms)
{
    char key[512], mkey[512], leader[128], *ans = NULL, *req, why[256];
    int64_t lease, ttl, deadline;
    int ret;

    snprintf(key, sizeof(key), "%s/lead/%s", prefix, stream);
    snprintf(mkey, sizeof(mkey), "%s/move/%s", prefix, stream);
    if ((ret = get_key(c, key, leader, sizeof(leader))) < 0) {
        fprintf(stderr, "hotspare ctl: etcd did not answer: %s\n", av_err2str(ret));
        return HS_EXIT_FAILED;
    }
    if (!leader[0]) {
        fprintf(stderr, "hotspare ctl: no node leads %s (under %s): nothing to move\n", stream,
                prefix);
        return HS_EXIT_FAILED;
    }
    if (!strcmp(leader, node)) {
        printf("%s is led by %s already\n", stream, node);
        return HS_EXIT_OK;
    }
    if ((ret = target_refuses(c, prefix, node, why, sizeof(why))) != 0) {
        fprintf(stderr, "hotspare ctl: cannot move %s to %s: %s\n", stream, node,
                ret < 0 ? av_err2str(ret) : why);
        return HS_EXIT_FAILED;
    }
    req = etcd_req_grant(MOVE_LEASE_S);
    ret = req ? etcd_call(c, "/v3/lease/grant", req, &ans) : AVERROR(ENOMEM);
    av_free(req);
    if (ret >= 0)
        ret = etcd_parse_grant(ans, &lease, &ttl, why, sizeof(why));
    av_freep(&ans);
    if (ret >= 0) {
        req = etcd_req_put(mkey, node, lease);
        ret = req ? etcd_call(c, "/v3/kv/put", req, &ans) : AVERROR(ENOMEM);
        av_free(req);
        av_freep(&ans);
    }
    if (ret < 0) {
        fprintf(stderr, "hotspare ctl: cannot ask for the move: %s\n", av_err2str(ret));
        return HS_EXIT_FAILED;
    }
    printf("asked: %s moves from %s to %s (it starts warm there, then is handed over at a "
           "segment boundary)\n", stream, leader, node);
    fflush(stdout);
    deadline = av_gettime_relative() + (timeout_ms > 0 ? timeout_ms : 30000) * 1000LL;
    while (av_gettime_relative() < deadline) {
        av_usleep(200000);
        if (get_key(c, key, leader, sizeof(leader)) >= 0 && !strcmp(leader, node)) {
            printf("%s is led by %s\n", stream, node);
            return HS_EXIT_OK;
        }
    }
    /* a failed request is withdrawn (its lease revoked, the key with
     * it): a move that happened after ctl said it did not would surprise */
    req = etcd_req_lease_id(lease);
    ret = req ? etcd_call(c, "/v3/lease/revoke", req, &ans) : AVERROR(ENOMEM);
    av_free(req);
    av_freep(&ans);
    fprintf(stderr, "hotspare ctl: %s is still led by %s: is %s up, in the same fleet, "
            "neither drained nor at risk? %s\n", stream, leader[0] ? leader : "nobody", node,
            ret >= 0 ? "(the request is withdrawn)" : "(the request could not be withdrawn: it "
            "lapses within a minute)");
    return HS_EXIT_FAILED;
}

/* ---- placed jobs ---------------------------------------------------------
 * A placed job is its YAML text at PREFIX/jobs/NAME, under no lease: it
 * stays until it is removed (unplace). Every node reads it each round
 * and adds its streams to those it shares (dra/fleet.h). */

/* The keys under prefix/dir/ ("jobs", "lead") with their values. */
static int range_dir(EtcdClient *c, const char *prefix, const char *dir, EtcdKvs *kvs)
{
    char key[512];

    snprintf(key, sizeof(key), "%s/%s/", prefix, dir);
    return range(c, key, kvs);
}

/* The leader of stream, from a range of prefix/lead/; NULL: none. */
static const char *leader_of(const EtcdKvs *lead, const char *prefix, const char *stream)
{
    size_t n = strlen(prefix) + 6;

    for (int i = 0; i < lead->nb; i++)
        if (!strncmp(lead->kvs[i].key, prefix, n - 6) && !strcmp(lead->kvs[i].key + n, stream))
            return lead->kvs[i].value;
    return NULL;
}

/* Waits until each of names (nb) is led (want_led) or none is; prints
 * where each went. 1 when they all were in time. */
static int wait_leaders(EtcdClient *c, const char *prefix, char (*names)[64], int nb,
                        int want_led, int timeout_ms)
{
    int64_t deadline = av_gettime_relative() + (timeout_ms > 0 ? timeout_ms : 30000) * 1000LL;
    EtcdKvs lead = { 0 };
    int done = 0;

    for (;;) {
        done = 1;
        etcd_kvs_free(&lead);
        if (range_dir(c, prefix, "lead", &lead) < 0)
            done = 0;
        for (int i = 0; i < nb && done; i++)
            done = !!leader_of(&lead, prefix, names[i]) == want_led;
        if (done || av_gettime_relative() >= deadline)
            break;
        av_usleep(200000);
    }
    for (int i = 0; i < nb; i++) {
        const char *l = leader_of(&lead, prefix, names[i]);
        if (want_led)
            printf("  %-24s %s\n", names[i], l ? l : "(no node yet)");
        else if (l)
            printf("  %-24s still led by %s\n", names[i], l);
    }
    etcd_kvs_free(&lead);
    return done;
}

/* A placed job's name: letters, digits, '.', '_', '-'. */
static int place_name_ok(const char *name)
{
    if (!*name || strlen(name) > 100)
        return 0;
    for (const char *p = name; *p; p++)
        if (!av_isdigit(*p) && !((*p | 32) >= 'a' && (*p | 32) <= 'z') && !strchr("._-", *p))
            return 0;
    return 1;
}

/* The streams' names of a job. */
static char (*stream_names(const Job *job))[64]
{
    char (*names)[64] = av_calloc(FFMAX(job->nb_streams, 1), sizeof(*names));

    for (int i = 0; names && i < job->nb_streams; i++)
        av_strlcpy(names[i], job->streams[i].name, sizeof(names[0]));
    return names;
}

static int ctl_place(EtcdClient *c, const char *prefix, const char *path, const char *name_arg,
                     int timeout_ms)
{
    char name[128], key[512], (*names)[64] = NULL, (*was)[64] = NULL;
    char *ans = NULL, *req, *text = NULL;
    EtcdKvs jobs = { 0 };
    Job *job = NULL;
    size_t size;
    int ret, status = HS_EXIT_USAGE, nb_was = 0, total;

    if ((status = cmd_load_job(path, &job)))
        return status;
    status = HS_EXIT_USAGE;
    if (name_arg) {
        av_strlcpy(name, name_arg, sizeof(name));
    } else {                      /* news.yaml: news */
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        av_strlcpy(name, base, sizeof(name));
        if (strrchr(name, '.') && strrchr(name, '.') != name)
            *strrchr(name, '.') = 0;
    }
    if (!place_name_ok(name)) {
        fprintf(stderr, "hotspare ctl: '%s' cannot name a placed job: letters, digits, '.', "
                "'_' and '-' (give one: place JOB.yaml NAME)\n", name);
        goto out;
    }
    if (!job->nb_streams) {
        fprintf(stderr, "hotspare ctl: %s has no stream to place (a fleet node's own job?)\n",
                path);
        goto out;
    }
    if (job->supervisor.loc.line)
        fprintf(stderr, "hotspare ctl: note: %s:%d: the nodes run the placed streams under "
                "their own supervisor settings (store, control, metrics, fleet); this block "
                "sets only its streams' defaults\n", path, job->supervisor.loc.line);
    /* stream names are the fleet's keys: unique among the placed jobs */
    status = HS_EXIT_FAILED;
    if ((ret = range_dir(c, prefix, "jobs", &jobs)) < 0) {
        fprintf(stderr, "hotspare ctl: etcd did not answer: %s\n", av_err2str(ret));
        goto out;
    }
    total = job->nb_streams;
    for (int i = 0; i < jobs.nb; i++) {
        const char *other = jobs.kvs[i].key + strlen(prefix) + 6;
        JobDiag diag = { 0 };
        Job *oj = NULL;
        if (job_load_buffer(jobs.kvs[i].key, (const uint8_t *)jobs.kvs[i].value,
                            strlen(jobs.kvs[i].value), &oj, &diag) < 0) {
            job_diag_free(&diag);
            continue;
        }
        job_diag_free(&diag);
        if (!strcmp(other, name)) {
            nb_was = oj->nb_streams;
            was = stream_names(oj);
            job_free(&oj);
            continue;
        }
        total += oj->nb_streams;
        for (int a = 0; a < job->nb_streams; a++)
            for (int b = 0; b < oj->nb_streams; b++)
                if (!strcmp(job->streams[a].name, oj->streams[b].name)) {
                    fprintf(stderr, "%s:%d:%d: stream '%s' is placed on the fleet already, in "
                            "job %s (%s): stream names are unique in a fleet\n", path,
                            job->streams[a].loc.line, job->streams[a].loc.col,
                            job->streams[a].name, other, jobs.kvs[i].key);
                    status = HS_EXIT_USAGE;
                }
        job_free(&oj);
    }
    if (status == HS_EXIT_USAGE)
        goto out;
    if (total > FLEET_MAX_STREAMS) {
        fprintf(stderr, "hotspare ctl: with %s the fleet would have %d placed streams; a node "
                "runs at most %d\n", path, total, FLEET_MAX_STREAMS);
        status = HS_EXIT_USAGE;
        goto out;
    }
    if ((ret = av_file_map(path, (uint8_t **)&text, &size, 0, NULL)) < 0) {
        fprintf(stderr, "hotspare ctl: %s: %s\n", path, av_err2str(ret));
        goto out;
    }
    {
        /* etcd's values are strings: the text as it is, NUL-terminated */
        char *value = av_strndup(text, size);
        snprintf(key, sizeof(key), "%s/jobs/%s", prefix, name);
        req = value ? etcd_req_put(key, value, 0) : NULL;
        ret = req ? etcd_call(c, "/v3/kv/put", req, &ans) : AVERROR(ENOMEM);
        av_free(req);
        av_free(value);
        av_freep(&ans);
        av_file_unmap((uint8_t *)text, size);
    }
    if (ret < 0) {
        fprintf(stderr, "hotspare ctl: cannot place %s: %s\n", path, av_err2str(ret));
        goto out;
    }
    printf("placed %s at %s: %d stream%s%s\n", path, key, job->nb_streams,
           job->nb_streams == 1 ? "" : "s", was ? " (replacing the job placed under that name)" : "");
    fflush(stdout);
    names = stream_names(job);
    if (!names)
        goto out;
    /* the streams the new text no longer has end on their nodes */
    for (int i = 0; was && i < nb_was; i++) {
        int kept = 0;
        for (int k = 0; k < job->nb_streams && !kept; k++)
            kept = !strcmp(was[i], names[k]);
        if (kept)
            was[i][0] = 0;
    }
    if (wait_leaders(c, prefix, names, job->nb_streams, 1, timeout_ms) &&
        (!was || wait_leaders(c, prefix, was, nb_was, 0, timeout_ms))) {
        status = HS_EXIT_OK;
    } else {
        fprintf(stderr, "hotspare ctl: not every stream is where %s says yet: are nodes of this "
                "fleet up (%s/nodes/), neither drained nor at risk? The job stays placed: a "
                "node that starts takes its streams\n", path, prefix);
    }
out:
    av_free(names);
    av_free(was);
    etcd_kvs_free(&jobs);
    job_free(&job);
    return status;
}

static int ctl_unplace(EtcdClient *c, const char *prefix, const char *name, int timeout_ms)
{
    char key[512], *ans = NULL, *req, (*names)[64] = NULL;
    EtcdKvs jobs = { 0 };
    Job *job = NULL;
    int ret, nb = 0, status = HS_EXIT_FAILED, found = 0;

    snprintf(key, sizeof(key), "%s/jobs/%s", prefix, name);
    if ((ret = range_dir(c, prefix, "jobs", &jobs)) < 0) {
        fprintf(stderr, "hotspare ctl: etcd did not answer: %s\n", av_err2str(ret));
        return HS_EXIT_FAILED;
    }
    for (int i = 0; i < jobs.nb; i++) {
        if (strcmp(jobs.kvs[i].key, key))
            continue;
        found = 1;
        if (job_load_buffer(key, (const uint8_t *)jobs.kvs[i].value, strlen(jobs.kvs[i].value),
                            &job, NULL) >= 0) {
            nb = job->nb_streams;
            names = stream_names(job);
        }
    }
    etcd_kvs_free(&jobs);
    if (!found) {
        fprintf(stderr, "hotspare ctl: no job %s is placed under %s\n", name, prefix);
        return HS_EXIT_FAILED;
    }
    req = etcd_req_delete(key);
    ret = req ? etcd_call(c, "/v3/kv/deleterange", req, &ans) : AVERROR(ENOMEM);
    av_free(req);
    av_free(ans);
    if (ret < 0) {
        fprintf(stderr, "hotspare ctl: cannot remove %s: %s\n", key, av_err2str(ret));
    } else {
        printf("removed %s: its %d stream%s end on their nodes\n", key, nb, nb == 1 ? "" : "s");
        fflush(stdout);
        if (!names || wait_leaders(c, prefix, names, nb, 0, timeout_ms))
            status = HS_EXIT_OK;
        else
            fprintf(stderr, "hotspare ctl: a node still leads a stream of %s: it ends it at "
                    "its next round, or its lease takes the key\n", name);
    }
    av_free(names);
    job_free(&job);
    return status;
}

int ctl_fleet_exec(const char *settings, int argc, char **argv, int timeout_ms)
{
    Job *j = av_mallocz(sizeof(*j));
    EtcdClient *c = NULL;
    char why[256] = "", prefix[256];
    int ret, status;

    char *arg = av_asprintf("%s,node=ctl", settings);   /* the run's parser wants a node */

    if (!j || !arg) {
        av_free(j);
        av_free(arg);
        return HS_EXIT_FAILED;
    }
    ret = job_fleet_from_arg(j, arg, why, sizeof(why));
    av_free(arg);
    if (ret < 0 || !j->supervisor.fleet.nb_etcd) {
        fprintf(stderr, "hotspare ctl: %s\n", why[0] ? why : "--fleet needs etcd=URL");
        job_free(&j);
        return HS_EXIT_USAGE;
    }
    if (!(argc == 3 && !strcmp(argv[0], "move")) &&
        !((argc == 2 || argc == 3) && !strcmp(argv[0], "place")) &&
        !(argc == 2 && !strcmp(argv[0], "unplace"))) {
        fprintf(stderr, "hotspare ctl: with --fleet: move STREAM NODE | place JOB.yaml [NAME] | "
                "unplace NAME\n");
        job_free(&j);
        return HS_EXIT_USAGE;
    }
    snprintf(prefix, sizeof(prefix), "%s", j->supervisor.fleet.prefix ? j->supervisor.fleet.prefix
                                                                       : "/hotspare");
    if (strlen(prefix) > 1 && prefix[strlen(prefix) - 1] == '/')
        prefix[strlen(prefix) - 1] = 0;
    ret = etcd_alloc(&c, (const char *const *)j->supervisor.fleet.etcd,
                     j->supervisor.fleet.nb_etcd, 1000000, NULL);
    if (ret < 0) {
        fprintf(stderr, "hotspare ctl: %s\n", av_err2str(ret));
        job_free(&j);
        return HS_EXIT_FAILED;
    }
    if (!strcmp(argv[0], "move"))
        status = ctl_move(c, prefix, argv[1], argv[2], timeout_ms);
    else if (!strcmp(argv[0], "place"))
        status = ctl_place(c, prefix, argv[1], argc == 3 ? argv[2] : NULL, timeout_ms);
    else
        status = ctl_unplace(c, prefix, argv[1], timeout_ms);
    etcd_free(&c);
    job_free(&j);
    return status;
}
