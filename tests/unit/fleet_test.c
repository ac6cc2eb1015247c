/*
 * fleet_test.c: fleet mode's pure parts. The etcd gateway's requests and
 * answers (dra/etcd.h), on answers captured from a real etcd 3.4.23
 * (Debian etcd-server): lease grant and keepalive (alive and expired), a
 * transaction that created the key and one that found it held, ranges
 * with and without keys, a gateway error. Then which free streams a node
 * tries to take (fleet_decide) and when it fences itself (fleet_fenced),
 * and whose clock disagrees (fleet_skewed), on synthetic views.
 */
#include <string.h>

#include <CUnit/Basic.h>
#include <jansson.h>
#include <libavutil/base64.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>
#include <libavutil/mem.h>

#include "dra/etcd.h"
#include "dra/fleet.h"
#include "job/job.h"
#include "plane/stage.h"

/* captured from etcd 3.4.23 with curl (keys /hotspare/lead/s1 = nodeA) */
static const char grant_json[] =
    "{\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":\"13668033151171901709\","
    "\"revision\":\"1\",\"raft_term\":\"2\"},\"ID\":\"4111120467878923269\",\"TTL\":\"3\"}";
static const char keepalive_json[] =
    "{\"result\":{\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":"
    "\"13668033151171901709\",\"revision\":\"1\",\"raft_term\":\"2\"},\"ID\":\"4111120467878923269\","
    "\"TTL\":\"3\"}}";
static const char keepalive_expired_json[] =
    "{\"result\":{\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":"
    "\"13668033151171901709\",\"revision\":\"3\",\"raft_term\":\"2\"},\"ID\":\"4111120467878923269\"}}";
static const char txn_ok_json[] =
    "{\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":\"13668033151171901709\","
    "\"revision\":\"2\",\"raft_term\":\"2\"},\"succeeded\":true,\"responses\":[{\"response_put\":"
    "{\"header\":{\"revision\":\"2\"}}}]}";
static const char txn_held_json[] =
    "{\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":\"13668033151171901709\","
    "\"revision\":\"2\",\"raft_term\":\"2\"},\"responses\":[{\"response_range\":{\"header\":"
    "{\"revision\":\"2\"},\"kvs\":[{\"key\":\"L2hvdHNwYXJlL2xlYWQvczE=\",\"create_revision\":\"2\","
    "\"mod_revision\":\"2\",\"version\":\"1\",\"value\":\"bm9kZUE=\",\"lease\":\"4111120467878923269\"}],"
    "\"count\":\"1\"}}]}";
static const char range_json[] =
    "{\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":\"13668033151171901709\","
    "\"revision\":\"2\",\"raft_term\":\"2\"},\"kvs\":[{\"key\":\"L2hvdHNwYXJlL2xlYWQvczE=\","
    "\"create_revision\":\"2\",\"mod_revision\":\"2\",\"version\":\"1\",\"value\":\"bm9kZUE=\","
    "\"lease\":\"4111120467878923269\"}],\"count\":\"1\"}";
static const char range_empty_json[] =
    "{\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":\"13668033151171901709\","
    "\"revision\":\"3\",\"raft_term\":\"2\"}}";
static const char error_json[] =
    "{\"error\":\"illegal base64 data at input byte 0\",\"message\":\"illegal base64 data at "
    "input byte 0\",\"code\":3}";

static void test_answers(void)
{
    int64_t id = 0, ttl = -1;
    EtcdKvs kvs;
    char why[256];
    int ok = -1;

    CU_ASSERT_EQUAL(etcd_parse_grant(grant_json, &id, &ttl, why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(id, 4111120467878923269LL);
    CU_ASSERT_EQUAL(ttl, 3);
    CU_ASSERT_EQUAL(etcd_parse_keepalive(keepalive_json, &ttl, why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(ttl, 3);
    /* expired: proto3 leaves TTL 0 out */
    CU_ASSERT_EQUAL(etcd_parse_keepalive(keepalive_expired_json, &ttl, why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(ttl, 0);
    /* a keepalive answer is wrapped in "result"; a grant's is not */
    CU_ASSERT(etcd_parse_keepalive(grant_json, &ttl, why, sizeof(why)) < 0);

    CU_ASSERT_EQUAL(etcd_parse_txn(txn_ok_json, &ok, &kvs, why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(ok, 1);
    CU_ASSERT_EQUAL(kvs.nb, 0);
    etcd_kvs_free(&kvs);
    CU_ASSERT_EQUAL(etcd_parse_txn(txn_held_json, &ok, &kvs, why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(ok, 0);
    CU_ASSERT_FATAL(kvs.nb == 1);
    CU_ASSERT_STRING_EQUAL(kvs.kvs[0].key, "/hotspare/lead/s1");
    CU_ASSERT_STRING_EQUAL(kvs.kvs[0].value, "nodeA");
    CU_ASSERT_EQUAL(kvs.kvs[0].lease, 4111120467878923269LL);
    etcd_kvs_free(&kvs);

    CU_ASSERT_EQUAL(etcd_parse_range(range_json, &kvs, why, sizeof(why)), 0);
    CU_ASSERT_FATAL(kvs.nb == 1);
    CU_ASSERT_EQUAL(kvs.revision, 2);
    CU_ASSERT_EQUAL(kvs.kvs[0].create_revision, 2);
    CU_ASSERT_STRING_EQUAL(kvs.kvs[0].value, "nodeA");
    etcd_kvs_free(&kvs);
    CU_ASSERT_EQUAL(etcd_parse_range(range_empty_json, &kvs, why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(kvs.nb, 0);
    CU_ASSERT_EQUAL(kvs.revision, 3);

    CU_ASSERT_EQUAL(etcd_parse_range(error_json, &kvs, why, sizeof(why)), AVERROR_INVALIDDATA);
    CU_ASSERT(strstr(why, "illegal base64") != NULL);
    CU_ASSERT_EQUAL(etcd_parse_range("not json", &kvs, why, sizeof(why)), AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(etcd_parse_grant(range_empty_json, &id, &ttl, why, sizeof(why)), AVERROR_INVALIDDATA);
}

/* s decoded from the base64 JSON string at o[key] equals want */
static int b64_is(const json_t *o, const char *key, const char *want)
{
    const char *s = json_string_value(json_object_get(o, key));
    char out[256];
    int n;

    if (!s)
        return 0;
    n = av_base64_decode((uint8_t *)out, s, sizeof(out) - 1);
    if (n < 0)
        return 0;
    out[n] = 0;
    return !strcmp(out, want);
}

static void test_requests(void)
{
    char *r = etcd_req_create("/hotspare/lead/s1", "nodeA", 4111120467878923269LL);
    json_t *j, *c, *p;

    CU_ASSERT_FATAL(r != NULL);
    j = json_loads(r, 0, NULL);
    CU_ASSERT_FATAL(j != NULL);
    c = json_array_get(json_object_get(j, "compare"), 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "target")), "CREATE");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "createRevision")), "0");
    CU_ASSERT(b64_is(c, "key", "/hotspare/lead/s1"));
    p = json_object_get(json_array_get(json_object_get(j, "success"), 0), "requestPut");
    CU_ASSERT(b64_is(p, "value", "nodeA"));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "lease")), "4111120467878923269");
    CU_ASSERT(json_object_get(json_array_get(json_object_get(j, "failure"), 0), "requestRange") != NULL);
    json_decref(j);
    av_free(r);

    /* a prefix's range ends at the prefix with its last byte + 1 */
    r = etcd_req_range_prefix("/hotspare/");
    j = json_loads(r, 0, NULL);
    CU_ASSERT(b64_is(j, "key", "/hotspare/"));
    CU_ASSERT(b64_is(j, "range_end", "/hotspare0"));
    json_decref(j);
    av_free(r);

    /* a handover: only while the key is under the old leader's lease; the
     * key and the move's record under the new one's; the request deleted */
    r = etcd_req_transfer("/h/lead/s1", 7, "b", 9, "/h/handover/s1", "{}", "/h/move/s1");
    j = json_loads(r, 0, NULL);
    CU_ASSERT_FATAL(j != NULL);
    c = json_array_get(json_object_get(j, "compare"), 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "target")), "LEASE");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "lease")), "7");
    CU_ASSERT(b64_is(c, "key", "/h/lead/s1"));
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "success")), 3);
    p = json_object_get(json_array_get(json_object_get(j, "success"), 0), "requestPut");
    CU_ASSERT(b64_is(p, "key", "/h/lead/s1") && b64_is(p, "value", "b"));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "lease")), "9");
    p = json_object_get(json_array_get(json_object_get(j, "success"), 1), "requestPut");
    CU_ASSERT(b64_is(p, "key", "/h/handover/s1"));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "lease")), "9");
    p = json_object_get(json_array_get(json_object_get(j, "success"), 2), "requestDeleteRange");
    CU_ASSERT(b64_is(p, "key", "/h/move/s1"));
    json_decref(j);
    av_free(r);
    r = etcd_req_transfer("/h/lead/s1", 7, "b", 9, "/h/handover/s1", "{}", NULL);
    j = json_loads(r, 0, NULL);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "success")), 2);
    json_decref(j);
    av_free(r);

    r = etcd_req_grant(3);
    CU_ASSERT_STRING_EQUAL(r, "{\"TTL\":\"3\"}");
    av_free(r);
    r = etcd_req_lease_id(42);
    CU_ASSERT_STRING_EQUAL(r, "{\"ID\":\"42\"}");
    av_free(r);
}

static void view(FleetView *v, int nb_streams, const char *const *leaders,
                 const char *const *nodes, int nb_nodes)
{
    memset(v, 0, sizeof(*v));
    v->nb_streams = nb_streams;
    for (int s = 0; s < nb_streams; s++)
        strcpy(v->leader[s], leaders[s]);
    v->nb_nodes = nb_nodes;
    for (int n = 0; n < nb_nodes; n++)
        strcpy(v->node[n], nodes[n]);
}

static void test_decide(void)
{
    static const char *const ab[] = { "a", "b" }, *const abc[] = { "a", "b", "c" };
    FleetView v;

    /* alone: every free stream */
    view(&v, 3, (const char *const[]){ "", "", "" }, ab, 1);
    CU_ASSERT_EQUAL(fleet_decide(&v, "a", 0, 2000000), 7);
    /* two nodes, nothing led: spread, a then b then a (ties: the name) */
    view(&v, 3, (const char *const[]){ "", "", "" }, ab, 2);
    CU_ASSERT_EQUAL(fleet_decide(&v, "a", 0, 2000000), 5);
    CU_ASSERT_EQUAL(fleet_decide(&v, "b", 0, 2000000), 2);
    /* led streams are never taken */
    view(&v, 3, (const char *const[]){ "a", "b", "a" }, ab, 2);
    CU_ASSERT_EQUAL(fleet_decide(&v, "a", 0, 2000000), 0);
    CU_ASSERT_EQUAL(fleet_decide(&v, "b", 0, 2000000), 0);
    /* c died: its two streams go to a and b, the less loaded first */
    view(&v, 4, (const char *const[]){ "a", "", "", "b" }, ab, 2);
    v.leader[3][0] = 'a';         /* a leads 2, b none */
    CU_ASSERT_EQUAL(fleet_decide(&v, "b", 0, 2000000), 6);
    CU_ASSERT_EQUAL(fleet_decide(&v, "a", 0, 2000000), 0);
    /* a leader whose health key is gone counts for nobody */
    view(&v, 2, (const char *const[]){ "c", "" }, abc, 2);
    CU_ASSERT_EQUAL(fleet_decide(&v, "a", 0, 2000000), 2);
    /* the node a stream fell to does not take it: after the grace anyone */
    view(&v, 1, (const char *const[]){ "" }, ab, 2);
    v.free_since[0] = 1000000;
    CU_ASSERT_EQUAL(fleet_decide(&v, "b", 2000000, 2000000), 0);
    CU_ASSERT_EQUAL(fleet_decide(&v, "b", 3000000, 2000000), 1);
    /* a node not yet among the live ones takes nothing */
    view(&v, 1, (const char *const[]){ "" }, ab, 2);
    CU_ASSERT_EQUAL(fleet_decide(&v, "z", 0, 2000000), 0);
}

/* Placed streams come and go: a stream keeps its slot (its bit) while it
 * is in the set or busy here; a gone slot is reused only when idle. */
static void test_slots(void)
{
    char slot[FLEET_MAX_STREAMS][64] = { { 0 } };
    int nb = 0, dropped;
    uint64_t gone;

    /* the file's s1, then a placed job's s2, s3; a name twice counts once */
    gone = fleet_slots(slot, &nb, (const char *const[]){ "s1", "s2", "s3", "s2" }, 4, 0, &dropped);
    CU_ASSERT_EQUAL(nb, 3);
    CU_ASSERT_EQUAL(gone, 0);
    CU_ASSERT_STRING_EQUAL(slot[1], "s2");
    /* s2 leaves the job while this node still runs it: its slot stays,
     * gone; s4 comes: a new slot, not s2's */
    gone = fleet_slots(slot, &nb, (const char *const[]){ "s1", "s3", "s4" }, 3, 2, &dropped);
    CU_ASSERT_EQUAL(gone, 2);
    CU_ASSERT_STRING_EQUAL(slot[1], "s2");
    CU_ASSERT_STRING_EQUAL(slot[3], "s4");
    CU_ASSERT_EQUAL(nb, 4);
    /* s2 no longer busy: emptied; s5 then takes the empty slot 1 */
    gone = fleet_slots(slot, &nb, (const char *const[]){ "s1", "s3", "s4" }, 3, 0, &dropped);
    CU_ASSERT_EQUAL(gone, 2);
    CU_ASSERT_STRING_EQUAL(slot[1], "");
    gone = fleet_slots(slot, &nb, (const char *const[]){ "s1", "s3", "s4", "s5" }, 4, 0, &dropped);
    CU_ASSERT_EQUAL(gone, 0);
    CU_ASSERT_STRING_EQUAL(slot[1], "s5");
    /* everything removed: the table shrinks to nothing */
    gone = fleet_slots(slot, &nb, NULL, 0, 0, &dropped);
    CU_ASSERT_EQUAL(nb, 0);
    CU_ASSERT_EQUAL(gone, 0);
    /* a full table drops what does not fit, and says how many */
    {
        char names[FLEET_MAX_STREAMS + 2][16];
        const char *p[FLEET_MAX_STREAMS + 2];
        for (int i = 0; i < FLEET_MAX_STREAMS + 2; i++) {
            snprintf(names[i], sizeof(names[i]), "x%d", i);
            p[i] = names[i];
        }
        gone = fleet_slots(slot, &nb, p, FLEET_MAX_STREAMS + 2, 0, &dropped);
        CU_ASSERT_EQUAL(nb, FLEET_MAX_STREAMS);
        CU_ASSERT_EQUAL(dropped, 2);
        CU_ASSERT_EQUAL(gone, 0);
    }
}

/* Gone slots are nobody's to take, move or follow; a node at its
 * max_streams takes no more, and the others take what it cannot. */
static void test_gone_and_room(void)
{
    static const char *const ab[] = { "a", "b" };
    FleetView v;
    int target[FLEET_MAX_STREAMS];

    view(&v, 3, (const char *const[]){ "", "", "" }, ab, 2);
    v.gone = 2;
    CU_ASSERT_EQUAL(fleet_decide(&v, "a", 0, 2000000), 1);
    CU_ASSERT_EQUAL(fleet_decide(&v, "b", 0, 2000000), 4);
    /* a drained leader's gone stream goes nowhere */
    view(&v, 2, (const char *const[]){ "a", "a" }, ab, 2);
    v.drain[0] = 1;
    v.gone = 1;
    CU_ASSERT_EQUAL(fleet_drain_targets(&v, "b", target), 2);
    CU_ASSERT_EQUAL(target[0], -1);
    /* a may lead one: it leads one, so b gets both free streams */
    view(&v, 3, (const char *const[]){ "a", "", "" }, ab, 2);
    v.max_streams[0] = 1;
    CU_ASSERT_EQUAL(fleet_decide(&v, "a", 0, 2000000), 0);
    CU_ASSERT_EQUAL(fleet_decide(&v, "b", 0, 2000000), 6);
    /* ... and even after the grace a full node takes nothing */
    v.free_since[1] = v.free_since[2] = 1;
    CU_ASSERT_EQUAL(fleet_decide(&v, "a", 5000000, 2000000), 0);
    /* the grace lets a node take what it has room for, no more */
    view(&v, 3, (const char *const[]){ "", "", "" }, ab, 2);
    v.max_streams[1] = 1;
    v.free_since[0] = v.free_since[1] = v.free_since[2] = 1;
    CU_ASSERT_EQUAL(av_popcount64(fleet_decide(&v, "b", 5000000, 2000000)), 1);
    /* a move to a full node waits; a drain goes to one with room */
    view(&v, 2, (const char *const[]){ "a", "b" }, (const char *const[]){ "a", "b", "c" }, 3);
    v.max_streams[1] = 1;
    strcpy(v.move_to[0], "b");
    CU_ASSERT_EQUAL(fleet_drain_targets(&v, "b", target), 0);
    CU_ASSERT_EQUAL(target[0], -1);
    v.drain[0] = 1;
    CU_ASSERT_EQUAL(fleet_drain_targets(&v, "c", target), 1);
    CU_ASSERT_EQUAL(target[0], 2);
}

static void test_fenced(void)
{
    /* never renewed: fenced; then fenced from renewal + TTL on */
    CU_ASSERT(fleet_fenced(0, 3000000, 5));
    CU_ASSERT(!fleet_fenced(1000000, 3000000, 3999999));
    CU_ASSERT(fleet_fenced(1000000, 3000000, 4000000));
}

/* After an outage a node takes back the warm streams nobody leads at
 * once, and nothing else for a while: the nodes cut off with it take
 * back theirs first. */
static void test_after_outage(void)
{
    const int64_t wait = 2000000;

    /* never cut off: what fleet_decide says, plus nothing warm */
    CU_ASSERT_EQUAL(fleet_decide_after_outage(0x6, 0, 5000000, 0, wait), 0x6);
    /* just back: only its own warm streams, though the placement gives it
     * stream 1 (another node's, warm there) */
    CU_ASSERT_EQUAL(fleet_decide_after_outage(0x2, 0x4, 5000000, 4000000, wait), 0x4);
    CU_ASSERT_EQUAL(fleet_decide_after_outage(0x6, 0x4, 5000000, 4000000, wait), 0x4);
    /* the wait is over: the placement again, and the warm ones */
    CU_ASSERT_EQUAL(fleet_decide_after_outage(0x2, 0x4, 6000000, 4000000, wait), 0x6);
    CU_ASSERT_EQUAL(fleet_decide_after_outage(0x2, 0x4, 6000001, 4000000, wait), 0x6);
    CU_ASSERT_EQUAL(fleet_decide_after_outage(0x2, 0x4, 5999999, 4000000, wait), 0x4);
    /* warm streams are taken even when the placement names another node */
    CU_ASSERT_EQUAL(fleet_decide_after_outage(0, 0x1, 9000000, 0, wait), 0x1);
}

/* The epoch grid: a whole number of frames from 1970, the frame count
 * exact even where a frame is not a whole number of microseconds. */
static void test_epoch_grid(void)
{
    const int64_t u = 1796525138123456LL;     /* 2026-12-06 */
    static const AVRational rates[] = { { 25, 1 }, { 30000, 1001 }, { 60000, 1001 }, { 50, 1 },
                                        { 24000, 1001 } };

    CU_ASSERT_EQUAL(clock_epoch_grid(u, (AVRational){ 25, 1 }), 1796525138120000LL);
    CU_ASSERT_EQUAL(clock_epoch_grid(u, (AVRational){ 0, 1 }), 1796525138120000LL);
    CU_ASSERT_EQUAL(clock_epoch_grid(1796525138120000LL, (AVRational){ 25, 1 }), 1796525138120000LL);
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        AVRational fr = rates[i], tb = av_inv_q(fr);
        int64_t frame = av_rescale_q(1, tb, AV_TIME_BASE_Q);
        for (int64_t t = u; t < u + 10 * frame; t += frame / 3) {
            int64_t g = clock_epoch_grid(t, fr);
            int64_t n = av_rescale_rnd(t, fr.num, (int64_t)fr.den * 1000000, AV_ROUND_DOWN);
            /* at or before t, within a frame, and on the frame count */
            CU_ASSERT(g <= t && t - g < frame + 1);
            CU_ASSERT_EQUAL(av_rescale_q(g, AV_TIME_BASE_Q, tb), n);
            /* the same point from anywhere in its frame */
            CU_ASSERT_EQUAL(clock_epoch_grid(g, fr), g);
        }
    }
}

/* Planned moves: each stream of a drained node goes to the least loaded
 * node that is not drained, every node computing the same; the boundary
 * is a whole segment at least one segment away. */
/* Nodes a, b and c: a leads streams 0, 1 (and 3, when the view has
 * four), b leads stream 2. */
static void abc(FleetView *v)
{
    strcpy(v->node[0], "a");
    strcpy(v->node[1], "b");
    strcpy(v->node[2], "c");
    strcpy(v->leader[0], "a");
    strcpy(v->leader[1], "a");
    strcpy(v->leader[2], "b");
    if (v->nb_streams > 3)
        strcpy(v->leader[3], "a");
}

static void test_drain(void)
{
    FleetView v = { .nb_streams = 4, .nb_nodes = 3 };
    int target[FLEET_MAX_STREAMS];
    uint64_t mine;

    abc(&v);
    /* nobody drained: no move */
    CU_ASSERT_EQUAL(fleet_drain_targets(&v, "b", target), 0);
    CU_ASSERT_EQUAL(target[0], -1);
    /* a drained: its three streams spread over c (0 streams) and b (1) */
    v.drain[0] = 1;
    mine = fleet_drain_targets(&v, "c", target);
    CU_ASSERT_EQUAL(target[0], 2);
    CU_ASSERT_EQUAL(target[1], 1);      /* b 1, c 1: the smaller name */
    CU_ASSERT_EQUAL(target[2], -1);     /* b's own stream stays */
    CU_ASSERT_EQUAL(target[3], 2);      /* b 2, c 1 */
    CU_ASSERT_EQUAL(mine, 0x9);
    CU_ASSERT_EQUAL(fleet_drain_targets(&v, "b", target), 0x2);
    CU_ASSERT_EQUAL(fleet_drain_targets(&v, "a", target), 0);
    /* a drained node takes no free stream, and is nobody's target */
    v.leader[2][0] = 0;
    CU_ASSERT_EQUAL(fleet_decide(&v, "a", 0, 1000000), 0);
    CU_ASSERT_EQUAL(fleet_decide(&v, "b", 0, 1000000), 0x4);   /* b 0, c 0: b */
    CU_ASSERT_EQUAL(fleet_decide(&v, "c", 0, 1000000), 0);
    /* a move asked: to the node named, before any placement; not to a
     * drained node, nor to the leader itself */
    v.drain[0] = 0;
    v.leader[2][0] = 0;
    strcpy(v.move_to[1], "b");
    strcpy(v.move_to[3], "a");
    CU_ASSERT_EQUAL(fleet_drain_targets(&v, "b", target), 0x2);
    CU_ASSERT_EQUAL(target[1], 1);
    CU_ASSERT_EQUAL(target[3], -1);
    v.drain[1] = 1;
    CU_ASSERT_EQUAL(fleet_drain_targets(&v, "b", target), 0);
    CU_ASSERT_EQUAL(target[1], -1);
    v.drain[1] = 0;
    v.drain[0] = 1;
    /* a drained, b asked for stream 1: the rest placed in stream order,
     * counting it (stream 0 to b, 1 to b as asked, 3 to c) */
    fleet_drain_targets(&v, "c", target);
    CU_ASSERT_EQUAL(target[0], 1);
    CU_ASSERT_EQUAL(target[1], 1);
    CU_ASSERT_EQUAL(target[3], 2);
    /* every node drained: nowhere to go */
    v.drain[1] = v.drain[2] = 1;
    CU_ASSERT_EQUAL(fleet_drain_targets(&v, "c", target), 0);
    CU_ASSERT_EQUAL(target[0], -1);

    /* the boundary: a whole segment, one to two segments ahead */
    CU_ASSERT_EQUAL(fleet_handover_at(1796525138000000LL, 1000000), 1796525140000000LL);
    CU_ASSERT_EQUAL(fleet_handover_at(1796525138999999LL, 1000000), 1796525140000000LL);
    CU_ASSERT_EQUAL(fleet_handover_at(1796525138000000LL, 4000000), 1796525144000000LL);
    for (int64_t t = 1796525138000000LL; t < 1796525146000000LL; t += 333333) {
        int64_t e = fleet_handover_at(t, 2000000);
        CU_ASSERT(e % 2000000 == 0 && e - t >= 2000000 && e - t <= 2 * 2000000);
    }
}

/* Hot pair: each stream's follower is the least loaded live node other
 * than its leader and not drained, counting the follows placed before. */
static void test_pair(void)
{
    FleetView v = { .nb_streams = 3, .nb_nodes = 3 };

    abc(&v);
    /* loads a 2, b 1, c 0: stream 0 -> c (0), stream 1 -> b (1) or c (1):
     * b, the smaller name; stream 2 (b's) -> c (1) before a (2) */
    CU_ASSERT_EQUAL(fleet_pair_targets(&v, "c", 0), 0x5);
    CU_ASSERT_EQUAL(fleet_pair_targets(&v, "b", 0), 0x2);
    CU_ASSERT_EQUAL(fleet_pair_targets(&v, "a", 0), 0);
    /* a stream without a leader has no follower; a drained node follows
     * nothing */
    v.leader[2][0] = 0;
    v.drain[2] = 1;
    CU_ASSERT_EQUAL(fleet_pair_targets(&v, "c", 0), 0);
    CU_ASSERT_EQUAL(fleet_pair_targets(&v, "b", 0), 0x3);
    /* one node: no pair */
    v.nb_nodes = 1;
    CU_ASSERT_EQUAL(fleet_pair_targets(&v, "a", 0), 0);
}

/* Moves on risk: a node enters after FLEET_RISK_ROUNDS rounds at
 * FLEET_RISK_MOVE, leaves below FLEET_RISK_CLEAR; at risk, it is
 * drained for placement; a pair on_risk follows only its streams. */
static void test_risk(void)
{
    FleetView v = { .nb_streams = 3, .nb_nodes = 3 };
    int target[FLEET_MAX_STREAMS], rounds = 0, at = 0;

    /* one round above is a spike, two are a trend; a dip under the move
     * level starts the count again */
    at = fleet_at_risk(at, 0.9, &rounds);
    CU_ASSERT_EQUAL(at, 0);
    at = fleet_at_risk(at, 0.79, &rounds);
    CU_ASSERT_EQUAL(at, 0);
    CU_ASSERT_EQUAL(rounds, 0);
    at = fleet_at_risk(at, 0.8, &rounds);
    at = fleet_at_risk(at, 1.0, &rounds);
    CU_ASSERT_EQUAL(at, 1);
    /* held down to the clear level, not below */
    at = fleet_at_risk(at, 0.6, &rounds);
    CU_ASSERT_EQUAL(at, 1);
    at = fleet_at_risk(at, 0.5, &rounds);
    CU_ASSERT_EQUAL(at, 1);
    at = fleet_at_risk(at, 0.49, &rounds);
    CU_ASSERT_EQUAL(at, 0);

    abc(&v);
    /* a at risk: its streams go to c, then b (b 1, c 1: the smaller) */
    v.risk[0] = 0.95;
    v.at_risk[0] = 1;
    CU_ASSERT_EQUAL(fleet_drain_targets(&v, "c", target), 0x1);
    CU_ASSERT_EQUAL(target[0], 2);
    CU_ASSERT_EQUAL(target[1], 1);
    CU_ASSERT_EQUAL(target[2], -1);
    /* ... takes no free stream while another node can */
    v.leader[2][0] = 0;
    CU_ASSERT_EQUAL(fleet_decide(&v, "a", 0, 1000000), 0);
    CU_ASSERT_EQUAL(fleet_decide(&v, "b", 0, 1000000), 0x4);
    /* ... but one nobody takes, after the grace, as any node */
    v.free_since[2] = 1;
    CU_ASSERT_EQUAL(fleet_decide(&v, "a", 2000000, 1000000), 0x4);
    v.free_since[2] = 0;
    strcpy(v.leader[2], "b");
    /* every node at risk: nowhere better to go, nothing moves */
    v.at_risk[1] = v.at_risk[2] = 1;
    CU_ASSERT_EQUAL(fleet_drain_targets(&v, "b", target), 0);
    CU_ASSERT_EQUAL(target[0], -1);
    v.at_risk[1] = v.at_risk[2] = 0;
    /* pair on_risk: followers only for a's streams (0.95), none for b's
     * (0.2) until b reaches FLEET_RISK_PAIR; a at risk follows nothing */
    v.risk[1] = 0.2;
    CU_ASSERT_EQUAL(fleet_pair_targets(&v, "c", 1), 0x1);
    CU_ASSERT_EQUAL(fleet_pair_targets(&v, "b", 1), 0x2);
    CU_ASSERT_EQUAL(fleet_pair_targets(&v, "a", 1), 0);
    /* b at the start level: its stream gets one too; c (risk 0) is
     * preferred to b (0.5, not below FLEET_RISK_CLEAR) for every stream */
    v.risk[1] = FLEET_RISK_PAIR;
    CU_ASSERT_EQUAL(fleet_pair_targets(&v, "c", 1), 0x7);
    CU_ASSERT_EQUAL(fleet_pair_targets(&v, "b", 1), 0);
    /* b's risk falls to 0.4 (below FLEET_RISK_CLEAR: b is a follower
     * again, of stream 1, by load): stream 2 gets no new follower, but
     * one that is ready already (c runs it warm) keeps it down to 0.3 */
    v.risk[1] = 0.4;
    CU_ASSERT_EQUAL(fleet_pair_targets(&v, "c", 1), 0x1);
    CU_ASSERT_EQUAL(fleet_pair_targets(&v, "b", 1), 0x2);
    v.ready[2] = 0x4;
    CU_ASSERT_EQUAL(fleet_pair_targets(&v, "c", 1), 0x5);
    v.risk[1] = 0.29;
    CU_ASSERT_EQUAL(fleet_pair_targets(&v, "c", 1), 0x1);
    v.ready[2] = 0;
    /* always: every stream, whatever the risk; on_risk with nobody at
     * risk: none */
    v.risk[0] = v.risk[1] = 0;
    v.at_risk[0] = 0;
    CU_ASSERT_EQUAL(fleet_pair_targets(&v, "c", 0), 0x5);
    CU_ASSERT_EQUAL(fleet_pair_targets(&v, "c", 1), 0);

    /* a at risk again. Its streams go to a node that runs them warm and
     * ready (b runs stream 1: a pair's follower), not by load */
    v.at_risk[0] = 1;
    v.ready[1] = 0x2;
    fleet_drain_targets(&v, "c", target);
    CU_ASSERT_EQUAL(target[0], 2);
    CU_ASSERT_EQUAL(target[1], 1);
    v.ready[1] = 0;
    /* a move asked to a node at risk goes elsewhere for a leader that
     * must go, and nowhere for one that need not */
    strcpy(v.move_to[0], "c");
    v.at_risk[2] = 1;
    fleet_drain_targets(&v, "b", target);
    CU_ASSERT_EQUAL(target[0], 1);
    v.at_risk[0] = 0;
    fleet_drain_targets(&v, "b", target);
    CU_ASSERT_EQUAL(target[0], -1);
    v.at_risk[2] = 0;
    CU_ASSERT_EQUAL(fleet_drain_targets(&v, "c", target), 0x1);
    /* a node whose risk is not below FLEET_RISK_CLEAR is a target only
     * when none is: a (leader of 0 and 1) drained, b at 0.6, c at 0 */
    v.move_to[0][0] = 0;
    v.drain[0] = 1;
    v.risk[1] = 0.6;
    fleet_drain_targets(&v, "c", target);
    CU_ASSERT_EQUAL(target[0], 2);
    CU_ASSERT_EQUAL(target[1], 2);
    /* both at or above it: by load (c 0, then b 1 and c 1: b) */
    v.risk[2] = 0.7;
    fleet_drain_targets(&v, "c", target);
    CU_ASSERT_EQUAL(target[0], 2);
    CU_ASSERT_EQUAL(target[1], 1);
}

static void test_skew(void)
{
    /* est = my clock at reading - the other's at writing: true skew plus
     * the value's age (0 to 2 s here) */
    int64_t agree[] = { 300000, 1900000 }, ahead[] = { -800000, -700000 },
            mixed[] = { -900000, 100000, 200000 };

    CU_ASSERT(!fleet_skewed(agree, 2, 2000000, 500000));
    /* both others' clocks are 0.7 s or more ahead of mine */
    CU_ASSERT(fleet_skewed(ahead, 2, 2000000, 500000));
    /* one of three disagrees: that one is the odd clock, not this one */
    CU_ASSERT(!fleet_skewed(mixed, 3, 2000000, 500000));
    /* mine ahead by more than the bound plus the largest age */
    CU_ASSERT(fleet_skewed((int64_t[]){ 2600000 }, 1, 2000000, 500000));
    CU_ASSERT(!fleet_skewed((int64_t[]){ 2400000 }, 1, 2000000, 500000));
    /* alone: nothing to disagree with */
    CU_ASSERT(!fleet_skewed(NULL, 0, 2000000, 500000));
}

static void test_fleet_arg(void)
{
    Job job = { 0 };
    char why[300];

    CU_ASSERT_EQUAL(job_fleet_from_arg(&job, "etcd=http://127.0.0.1:2379,http://127.0.0.1:2380,"
                                       "node=a,lease=2.5s", why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(job.supervisor.fleet.nb_etcd, 2);
    CU_ASSERT_STRING_EQUAL(job.supervisor.fleet.node, "a");
    CU_ASSERT_EQUAL(job.supervisor.fleet.lease_us, 3000000);     /* whole seconds, up */
    CU_ASSERT_STRING_EQUAL(job.supervisor.fleet.prefix, "/hotspare");
    CU_ASSERT(job_fleet_from_arg(&job, "etcd=http://u:p@h:1,node=a", why, sizeof(why)) < 0);
    CU_ASSERT(strstr(why, "credentials") != NULL);
    /* no node, by the job or the command line */
    CU_ASSERT(job_fleet_from_arg(&(Job){ 0 }, "etcd=http://h:1", why, sizeof(why)) < 0);
    CU_ASSERT(job_fleet_from_arg(&job, "etcd=http://h:1,node=a b", why, sizeof(why)) < 0);
    CU_ASSERT(job_fleet_from_arg(&job, "etcd=http://h:1,node=a,colour=red", why, sizeof(why)) < 0);
    /* a refused one leaves the earlier settings */
    CU_ASSERT_STRING_EQUAL(job.supervisor.fleet.node, "a");
    /* on top of the job's: node alone; a new etcd list replaces the old */
    CU_ASSERT_EQUAL(job_fleet_from_arg(&job, "node=b", why, sizeof(why)), 0);
    CU_ASSERT_STRING_EQUAL(job.supervisor.fleet.node, "b");
    CU_ASSERT_EQUAL(job.supervisor.fleet.nb_etcd, 2);
    CU_ASSERT_EQUAL(job.supervisor.fleet.lease_us, 3000000);
    CU_ASSERT_EQUAL(job_fleet_from_arg(&job, "etcd=http://h:9,prefix=/p", why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(job.supervisor.fleet.nb_etcd, 1);
    CU_ASSERT_STRING_EQUAL(job.supervisor.fleet.etcd[0], "http://h:9");
    CU_ASSERT_STRING_EQUAL(job.supervisor.fleet.prefix, "/p");
    CU_ASSERT_STRING_EQUAL(job.supervisor.fleet.node, "b");
    CU_ASSERT_EQUAL(job_fleet_from_arg(&job, "pair=on_risk", why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(job.supervisor.fleet.pair, JOB_PAIR_ON_RISK);
    CU_ASSERT(job_fleet_from_arg(&job, "pair=sometimes", why, sizeof(why)) < 0);
    CU_ASSERT(strstr(why, "on_risk") != NULL);
    job_free(&(Job *){ av_memdup(&job, sizeof(job)) });
}

int main(void)
{
    CU_pSuite s;
    int failed;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("fleet", NULL, NULL);
    CU_add_test(s, "etcd answers (captured)", test_answers);
    CU_add_test(s, "etcd requests", test_requests);
    CU_add_test(s, "which free streams to take", test_decide);
    CU_add_test(s, "slots of placed streams", test_slots);
    CU_add_test(s, "gone streams, max_streams", test_gone_and_room);
    CU_add_test(s, "fencing at the lease's expiry", test_fenced);
    CU_add_test(s, "clock skew between nodes", test_skew);
    CU_add_test(s, "taking streams back after an outage", test_after_outage);
    CU_add_test(s, "the epoch grid of frames", test_epoch_grid);
    CU_add_test(s, "planned moves (drain)", test_drain);
    CU_add_test(s, "hot pair followers", test_pair);
    CU_add_test(s, "moves and followers on risk", test_risk);
    CU_add_test(s, "--fleet", test_fleet_arg);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failed = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed;
}
