/*
 * etcd.c: the etcd v3 JSON gateway client; see etcd.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <libavformat/avio.h>
#include <libavutil/avstring.h>
#include <libavutil/base64.h>
#include <libavutil/bprint.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "core/log.h"
#include "dra/etcd.h"

/* An answer larger than this is not one of ours (a range of a fleet's keys
 * is a few kB). */
#define ETCD_MAX_ANSWER (4 << 20)

struct EtcdClient {
    LogCtx log;
    char *urls[ETCD_MAX_ENDPOINTS];
    int nb;
    int cur;                      /* the member tried first: the last that answered */
    int64_t timeout_us;
    const _Atomic int *stop;
};

/* ---- pure -------------------------------------------------------------- */

static char *b64(const char *s)
{
    size_t n = strlen(s);
    int size = AV_BASE64_SIZE(n);
    char *out = av_malloc(size);

    if (out)
        av_base64_encode(out, size, (const uint8_t *)s, (int)n);
    return out;
}

/* The decoded text of a base64 JSON string, NUL-terminated; NULL when it
 * is not one. */
static char *unb64(const json_t *v)
{
    const char *s = json_string_value(v);
    size_t n;
    char *out;
    int len;

    if (!s)
        return NULL;
    n = strlen(s);
    if (!(out = av_malloc(AV_BASE64_DECODE_SIZE(n) + 1)))
        return NULL;
    len = av_base64_decode((uint8_t *)out, s, (int)AV_BASE64_DECODE_SIZE(n));
    if (len < 0) {
        av_free(out);
        return NULL;
    }
    out[len] = 0;
    return out;
}

/* etcd's int64s travel as JSON strings; absent fields are zero (proto3). */
static int64_t i64(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);

    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    if (json_is_integer(v))
        return json_integer_value(v);
    return 0;
}

static char *dump(json_t *root)
{
    char *s, *out = NULL;

    if (!root)
        return NULL;
    s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (s) {
        out = av_strdup(s);
        free(s);
    }
    return out;
}

char *etcd_req_grant(int64_t ttl_s)
{
    char buf[64];

    snprintf(buf, sizeof(buf), "{\"TTL\":\"%" PRId64 "\"}", ttl_s);
    return av_strdup(buf);
}

char *etcd_req_lease_id(int64_t id)
{
    char buf[64];

    snprintf(buf, sizeof(buf), "{\"ID\":\"%" PRId64 "\"}", id);
    return av_strdup(buf);
}

/* {"key":…,"value":…,"lease":…} with the strings in base64 */
static json_t *put_op(const char *key, const char *value, int64_t lease)
{
    char *k = b64(key), *v = b64(value), id[32];
    json_t *o = NULL;

    snprintf(id, sizeof(id), "%" PRId64, lease);
    if (k && v)
        o = json_pack("{s:s, s:s, s:s}", "key", k, "value", v, "lease", id);
    av_free(k);
    av_free(v);
    return o;
}

char *etcd_req_create(const char *key, const char *value, int64_t lease)
{
    char *k = b64(key);
    json_t *put = put_op(key, value, lease), *root = NULL;

    if (k && put)
        root = json_pack("{s:[{s:s, s:s, s:s, s:s}], s:[{s:o}], s:[{s:{s:s}}]}",
                         "compare", "target", "CREATE", "result", "EQUAL", "key", k,
                         "createRevision", "0",
                         "success", "requestPut", put,
                         "failure", "requestRange", "key", k);
    else
        json_decref(put);
    av_free(k);
    return dump(root);
}

char *etcd_req_put(const char *key, const char *value, int64_t lease)
{
    return dump(put_op(key, value, lease));
}

/* The end of a prefix range: the prefix with its last byte incremented. */
char *etcd_req_range_prefix(const char *prefix)
{
    size_t n = strlen(prefix);
    char *end = av_strdup(prefix), *k = b64(prefix), *e;
    json_t *root = NULL;

    if (end && n)
        end[n - 1]++;
    e = end ? b64(end) : NULL;
    if (k && e)
        root = json_pack("{s:s, s:s}", "key", k, "range_end", e);
    av_free(end);
    av_free(k);
    av_free(e);
    return dump(root);
}

char *etcd_req_transfer(const char *key, int64_t lease, const char *value, int64_t to_lease,
                        const char *key2, const char *value2, const char *del_key)
{
    char *k = b64(key), *d = del_key ? b64(del_key) : NULL, id[32];
    json_t *put = put_op(key, value, to_lease), *put2 = put_op(key2, value2, to_lease);
    json_t *root = NULL, *ops;

    snprintf(id, sizeof(id), "%" PRId64, lease);
    if (k && put && put2 && (!del_key || d) &&
        (root = json_pack("{s:[{s:s, s:s, s:s, s:s}], s:[{s:o}, {s:o}]}",
                          "compare", "target", "LEASE", "result", "EQUAL", "key", k, "lease", id,
                          "success", "requestPut", put, "requestPut", put2))) {
        ops = json_object_get(root, "success");
        if (d && json_array_append_new(ops, json_pack("{s:{s:s}}", "requestDeleteRange",
                                                      "key", d)) < 0) {
            json_decref(root);
            root = NULL;
        }
    } else if (!root) {
        json_decref(put);
        json_decref(put2);
    }
    av_free(k);
    av_free(d);
    return dump(root);
}

char *etcd_req_delete_if(const char *key, int64_t lease)
{
    char *k = b64(key), id[32];
    json_t *root = NULL;

    snprintf(id, sizeof(id), "%" PRId64, lease);
    if (k)
        root = json_pack("{s:[{s:s, s:s, s:s, s:s}], s:[{s:{s:s}}]}",
                         "compare", "target", "LEASE", "result", "EQUAL", "key", k, "lease", id,
                         "success", "requestDeleteRange", "key", k);
    av_free(k);
    return dump(root);
}

char *etcd_req_delete(const char *key)
{
    char *k = b64(key);
    json_t *root = k ? json_pack("{s:s}", "key", k) : NULL;

    av_free(k);
    return dump(root);
}

void etcd_kvs_free(EtcdKvs *k)
{
    if (!k)
        return;
    for (int i = 0; i < k->nb; i++) {
        av_freep(&k->kvs[i].key);
        av_freep(&k->kvs[i].value);
    }
    av_freep(&k->kvs);
    k->nb = 0;
}

static json_t *parse(const char *json, char *why, size_t why_size)
{
    json_error_t e;
    json_t *root = json_loads(json, 0, &e);

    if (!root || !json_is_object(root)) {
        snprintf(why, why_size, "not a JSON object: %s", root ? "other type" : e.text);
        json_decref(root);
        return NULL;
    }
    /* the gateway's errors: {"error":…,"message":…,"code":N} */
    if (json_object_get(root, "error")) {
        snprintf(why, why_size, "etcd: %s", json_string_value(json_object_get(root, "error")) ?
                 json_string_value(json_object_get(root, "error")) : "error");
        json_decref(root);
        return NULL;
    }
    return root;
}

int etcd_parse_grant(const char *json, int64_t *id, int64_t *ttl_s, char *why, size_t why_size)
{
    json_t *root = parse(json, why, why_size);

    if (!root)
        return AVERROR_INVALIDDATA;
    *id = i64(root, "ID");
    *ttl_s = i64(root, "TTL");
    json_decref(root);
    if (*id == 0 || *ttl_s <= 0) {
        snprintf(why, why_size, "lease grant without an ID or a TTL");
        return AVERROR_INVALIDDATA;
    }
    return 0;
}

int etcd_parse_keepalive(const char *json, int64_t *ttl_s, char *why, size_t why_size)
{
    json_t *root = parse(json, why, why_size), *r;

    if (!root)
        return AVERROR_INVALIDDATA;
    /* a streamed endpoint: the gateway wraps each message in "result" */
    r = json_object_get(root, "result");
    if (!json_is_object(r)) {
        snprintf(why, why_size, "keepalive answer without a result");
        json_decref(root);
        return AVERROR_INVALIDDATA;
    }
    *ttl_s = i64(r, "TTL");
    json_decref(root);
    return 0;
}

static int parse_kvs(const json_t *arr, EtcdKvs *out, char *why, size_t why_size)
{
    size_t n = json_array_size(arr);

    if (!n)
        return 0;
    if (!(out->kvs = av_calloc(n, sizeof(*out->kvs))))
        return AVERROR(ENOMEM);
    for (size_t i = 0; i < n; i++) {
        const json_t *kv = json_array_get(arr, i);
        EtcdKv *d = &out->kvs[out->nb];
        json_t *v = json_object_get(kv, "value");

        if (!(d->key = unb64(json_object_get(kv, "key")))) {
            snprintf(why, why_size, "a key that is not base64");
            return AVERROR_INVALIDDATA;
        }
        out->nb++;
        /* an empty value is absent (proto3) */
        if (!(d->value = v ? unb64(v) : av_strdup(""))) {
            snprintf(why, why_size, "a value that is not base64");
            return AVERROR_INVALIDDATA;
        }
        d->create_revision = i64(kv, "create_revision");
        d->mod_revision = i64(kv, "mod_revision");
        d->lease = i64(kv, "lease");
    }
    return 0;
}

int etcd_parse_range(const char *json, EtcdKvs *out, char *why, size_t why_size)
{
    json_t *root = parse(json, why, why_size);
    int ret;

    memset(out, 0, sizeof(*out));
    if (!root)
        return AVERROR_INVALIDDATA;
    out->revision = i64(json_object_get(root, "header"), "revision");
    ret = parse_kvs(json_object_get(root, "kvs"), out, why, why_size);
    json_decref(root);
    if (ret < 0)
        etcd_kvs_free(out);
    return ret;
}

int etcd_parse_txn(const char *json, int *succeeded, EtcdKvs *held, char *why, size_t why_size)
{
    json_t *root = parse(json, why, why_size), *resp;
    int ret = 0;

    memset(held, 0, sizeof(*held));
    if (!root)
        return AVERROR_INVALIDDATA;
    held->revision = i64(json_object_get(root, "header"), "revision");
    *succeeded = json_is_true(json_object_get(root, "succeeded"));
    resp = json_object_get(root, "responses");
    if (!*succeeded && json_array_size(resp)) {
        json_t *rr = json_object_get(json_array_get(resp, 0), "response_range");
        if (rr)
            ret = parse_kvs(json_object_get(rr, "kvs"), held, why, why_size);
    }
    json_decref(root);
    if (ret < 0)
        etcd_kvs_free(held);
    return ret;
}

/* ---- I/O --------------------------------------------------------------- */

int etcd_alloc(EtcdClient **pc, const char *const *urls, int nb, int64_t timeout_us,
               const _Atomic int *stop)
{
    EtcdClient *c = av_mallocz(sizeof(*c));

    *pc = NULL;
    if (!c)
        return AVERROR(ENOMEM);
    logctx_init(&c->log, "etcd");
    for (int i = 0; i < nb && i < ETCD_MAX_ENDPOINTS; i++) {
        if (!(c->urls[i] = av_strdup(urls[i]))) {
            etcd_free(&c);
            return AVERROR(ENOMEM);
        }
        c->nb++;
    }
    c->timeout_us = timeout_us;
    c->stop = stop;
    *pc = c;
    return 0;
}

void etcd_free(EtcdClient **pc)
{
    EtcdClient *c = *pc;

    if (!c)
        return;
    for (int i = 0; i < c->nb; i++)
        av_freep(&c->urls[i]);
    av_freep(pc);
}

const char *etcd_endpoint(const EtcdClient *c)
{
    return c->nb ? c->urls[c->cur] : "";
}

static int interrupted(void *opaque)
{
    const _Atomic int *stop = opaque;

    return stop && atomic_load(stop);
}

/* One POST to one member; the answer's body in *answer. */
static int post_one(EtcdClient *c, const char *url, const char *body, char **answer)
{
    AVIOInterruptCB cb = { interrupted, (void *)c->stop };
    AVDictionary *opts = NULL;
    AVIOContext *pb = NULL;
    AVBPrint bp;
    uint8_t buf[4096];
    char *hex;
    int ret;

    /* post_data is a binary option: through a dictionary, in hex */
    if (!(hex = av_malloc(2 * strlen(body) + 1)))
        return AVERROR(ENOMEM);
    for (size_t i = 0; body[i]; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)body[i]);
    hex[2 * strlen(body)] = 0;
    av_dict_set(&opts, "method", "POST", 0);
    av_dict_set(&opts, "post_data", hex, AV_DICT_DONT_STRDUP_VAL);
    av_dict_set(&opts, "content_type", "application/json", 0);
    /* one deadline for the connection and for each read */
    av_dict_set_int(&opts, "rw_timeout", c->timeout_us, 0);
    av_dict_set_int(&opts, "timeout", c->timeout_us, 0);
    av_dict_set(&opts, "reconnect", "0", 0);
    av_dict_set(&opts, "multiple_requests", "0", 0);
    ret = avio_open2(&pb, url, AVIO_FLAG_READ, &cb, &opts);
    av_dict_free(&opts);
    if (ret < 0)
        return ret;
    av_bprint_init(&bp, 0, ETCD_MAX_ANSWER);
    while ((ret = avio_read(pb, buf, sizeof(buf))) > 0)
        av_bprint_append_data(&bp, (const char *)buf, ret);
    avio_closep(&pb);
    if (ret < 0 && ret != AVERROR_EOF) {
        av_bprint_finalize(&bp, NULL);
        return ret;
    }
    if (!av_bprint_is_complete(&bp)) {
        av_bprint_finalize(&bp, NULL);
        return AVERROR(ENOMEM);
    }
    return av_bprint_finalize(&bp, answer);
}

int etcd_call(EtcdClient *c, const char *path, const char *body, char **answer)
{
    int ret = AVERROR(EINVAL);

    *answer = NULL;
    if (!body)
        return AVERROR(ENOMEM);
    for (int t = 0; t < c->nb; t++) {
        int i = (c->cur + t) % c->nb;
        char url[600];

        if (interrupted((void *)c->stop))
            return AVERROR_EXIT;
        snprintf(url, sizeof(url), "%s%s", c->urls[i], path);
        log_quiet_libav(1);       /* a member that is down is said once, below */
        ret = post_one(c, url, body, answer);
        log_quiet_libav(0);
        if (ret >= 0) {
            if (i != c->cur)
                av_log(&c->log, AV_LOG_VERBOSE, "now talking to %s\n", c->urls[i]);
            c->cur = i;
            return 0;
        }
        av_log(&c->log, AV_LOG_DEBUG, "%s: %s\n", url, av_err2str(ret));
    }
    return ret;
}
