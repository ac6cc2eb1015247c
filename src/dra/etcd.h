/*
 * etcd.h: a small etcd v3 client over the JSON gateway (etcd 3.4's /v3/...
 * endpoints; keys and values travel in base64), for fleet mode
 * (dra/fleet.h). Only what a fleet node needs: a lease (grant, keep
 * alive), a key created under it by a transaction, ranges, puts, deletes
 * (a placed job's key, by ctl).
 *
 * Two halves:
 *   - pure encoders of requests and decoders of answers (etcd_req_*,
 *     etcd_parse_*), tested on answers captured from a real etcd
 *     (tests/unit/etcd_test.c);
 *   - etcd_call(): one POST through libavformat's http protocol (already
 *     linked: no new dependency), trying each endpoint in turn from the
 *     last one that answered. Every call has a deadline (rw_timeout and
 *     the connect timeout) and an interrupt flag, so a vanished member
 *     costs one timeout and a stop is never held up.
 *
 * Why lavf's http and not libcurl: every endpoint used here answers 200
 * with a JSON body for what a node must tell apart (a transaction that
 * did not succeed, a lease that expired: TTL 0); a non-200 status is a
 * broken request or member, for which the status alone is enough to try
 * the next member. /v3/watch (a streamed answer) is not used yet: a node
 * reads the leadership keys once per keepalive period instead.
 *
 * An EtcdClient is used by one thread at a time (the fleet's).
 */
#ifndef HS_ETCD_H
#define HS_ETCD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define ETCD_MAX_ENDPOINTS 8

typedef struct EtcdClient EtcdClient;

/* A key-value pair of a range answer; key and value decoded, owned by the
 * EtcdKvs that holds it. */
typedef struct EtcdKv {
    char *key;
    char *value;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t lease;
} EtcdKv;

typedef struct EtcdKvs {
    EtcdKv *kvs;
    int nb;
    int64_t revision;             /* the store's, in the answer's header */
} EtcdKvs;

void etcd_kvs_free(EtcdKvs *k);

/* ---- pure: requests (av_malloc'd JSON text, NULL when out of memory) --- */

char *etcd_req_grant(int64_t ttl_s);
char *etcd_req_lease_id(int64_t id);              /* keepalive, revoke */
/* Creates key = value under lease when the key does not exist (its
 * create revision is 0); otherwise reads it. */
char *etcd_req_create(const char *key, const char *value, int64_t lease);
char *etcd_req_put(const char *key, const char *value, int64_t lease);
/* The keys that start with prefix. */
char *etcd_req_range_prefix(const char *prefix);
/* A handover: when key is held under lease (the leader's), key = value
 * and key2 = value2, both under to_lease (the new leader's), and del_key
 * (NULL: none) deleted, in one transaction. */
char *etcd_req_transfer(const char *key, int64_t lease, const char *value, int64_t to_lease,
                        const char *key2, const char *value2, const char *del_key);
/* key deleted, whoever holds it (/v3/kv/deleterange). */
char *etcd_req_delete(const char *key);
/* key == value and held under lease: deleted (a leader letting go). */
char *etcd_req_delete_if(const char *key, int64_t lease);

/* ---- pure: answers; 0 or AVERROR_INVALIDDATA with why ------------------ */

int etcd_parse_grant(const char *json, int64_t *id, int64_t *ttl_s, char *why, size_t why_size);
/* ttl 0: the lease has expired (or never was) */
int etcd_parse_keepalive(const char *json, int64_t *ttl_s, char *why, size_t why_size);
/* *succeeded; on failure the key's present holder in *held (may be empty) */
int etcd_parse_txn(const char *json, int *succeeded, EtcdKvs *held, char *why, size_t why_size);
int etcd_parse_range(const char *json, EtcdKvs *out, char *why, size_t why_size);

/* ---- I/O --------------------------------------------------------------- */

/* urls: "http://HOST:PORT", copied; timeout_us: each call's deadline per
 * member; stop: read by every blocking call, may be NULL. */
int  etcd_alloc(EtcdClient **pc, const char *const *urls, int nb, int64_t timeout_us,
                const _Atomic int *stop);
void etcd_free(EtcdClient **pc);

/* POSTs body to path ("/v3/kv/range") at the members in turn until one
 * answers; *answer (av_malloc'd, the caller's) is its body. A negative
 * AVERROR when none did. */
int etcd_call(EtcdClient *c, const char *path, const char *body, char **answer);

/* The member that answered last, for logs: "http://127.0.0.1:2379". */
const char *etcd_endpoint(const EtcdClient *c);

#endif
