/*
 * ctl_fleet.c: requests to a fleet through its etcd; see ctl_fleet.h.
 *
 * A move is a key, PREFIX/move/STREAM = NODE, under a lease of its own
 * (a minute: a request nobody can carry out does not stay), read by every
 * node each round (dra/fleet.c): NODE starts the stream warm and says
 * when it is ready, the leader hands it over at a segment boundary and
 * deletes the key in the same transaction. This program only writes the
 * key and watches the leadership key.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "cli/cmd.h"
#include "cli/ctl_fleet.h"
#include "dra/etcd.h"
#include "job/job.h"

#define MOVE_LEASE_S 60

/* The value of key, "" when it does not exist; < 0 when etcd could not be
 * asked. */
static int get_key(EtcdClient *c, const char *key, char *value, size_t size)
{
    char *ans = NULL, why[256];
    EtcdKvs kvs = { 0 };
    char *req = etcd_req_range_prefix(key);
    int ret = req ? etcd_call(c, "/v3/kv/range", req, &ans) : AVERROR(ENOMEM);

    av_free(req);
    value[0] = 0;
    if (ret >= 0 && (ret = etcd_parse_range(ans, &kvs, why, sizeof(why))) >= 0)
        for (int i = 0; i < kvs.nb; i++)
            if (!strcmp(kvs.kvs[i].key, key))
                snprintf(value, size, "%s", kvs.kvs[i].value);
    av_free(ans);
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
    if (argc != 3 || strcmp(argv[0], "move")) {
        fprintf(stderr, "hotspare ctl: with --fleet: move STREAM NODE\n");
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
    status = ctl_move(c, prefix, argv[1], argv[2], timeout_ms);
    etcd_free(&c);
    job_free(&j);
    return status;
}
