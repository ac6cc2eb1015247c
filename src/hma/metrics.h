/*
 * metrics.h: the Prometheus endpoint: the latest Sample on GET /metrics.
 *
 * metrics_start() runs a libmicrohttpd server on its own thread. Every
 * tick the control loop calls metrics_publish(), which copies the Sample
 * and swaps the copy in under a short lock; a scrape renders from the copy
 * it holds a reference to, so neither side waits for the other's work.
 *
 * Formats: Prometheus text 0.0.4 by default (Content-Type: text/plain;
 * version=0.0.4; charset=utf-8), OpenMetrics 1.0.0 when the Accept header
 * prefers application/openmetrics-text (Prometheus itself asks for it).
 * Each metric name has one # HELP and one # TYPE line before its samples;
 * names come from the catalogue (sample.h): base units, counters end in
 * _total (OpenMetrics names the family without it). Labels:
 *   stream, component and role ("primary", "backup", "backup2", ...) for
 *   the components of a stream; gpu="NAME" for a GPU; none for the host.
 * Absent metrics are not exported. Besides: hotspare_build_info{version}
 * (1) and hotspare_tick (the sample's tick number). Labels carry names
 * only: never a URL, a key or a secret.
 *
 * The endpoint listens on loopback unless the caller allows otherwise:
 * metrics name every stream and component, which is topology.
 */
#ifndef HS_METRICS_H
#define HS_METRICS_H

#include <stdint.h>

#include <libavutil/bprint.h>

#include "hma/sample.h"

#define METRICS_DEFAULT_ADDR "127.0.0.1:9464"

/* Limits of a request (README, "Limits"). A connection's memory holds its
 * request line and headers: libmicrohttpd answers 414 to a request line,
 * 431 to headers, that do not fit. A path and decoded query longer than
 * METRICS_MAX_URL get 414 from the endpoint (a steering request is a path
 * and two parameters). Routes see at most METRICS_MAX_ARGS parameters. */
#define METRICS_CONN_MEMORY  (16 * 1024)
#define METRICS_MAX_URL      4096

typedef struct Metrics Metrics;

/*
 * Listens on addr ("127.0.0.1:9464", "[::1]:9464", "localhost:0"; port 0
 * picks a free one, see metrics_port). A non-loopback address is refused
 * with AVERROR(EACCES) unless allow_remote. Other errors: AVERROR(EINVAL)
 * (bad address), AVERROR(EADDRINUSE), AVERROR(EIO), AVERROR(ENOMEM); the
 * reason is logged.
 */
int metrics_start(Metrics **pm, const char *addr, int allow_remote);

/* Stops the server (waits for a scrape in progress). Accepts NULL; sets
 * *pm NULL. */
void metrics_stop(Metrics **pm);

/* The port it listens on. */
int metrics_port(const Metrics *m);

/* Makes a copy of s the one scrapes see. s stays the caller's. Returns 0 or
 * AVERROR(ENOMEM) (the previous sample stays). Thread-safe. */
int metrics_publish(Metrics *m, const Sample *s);

/*
 * Routes: other documents the endpoint serves beside /metrics (the
 * steering manifests, dra/steer.h). A route answers GET and HEAD of one
 * path (the query apart), with CORS open (players on any page read it).
 * The handler runs on the server's thread: it must be quick and
 * thread-safe. args: the query's parameters, decoded, in order (at most
 * METRICS_MAX_ARGS; nb_args -1 when there were more: a malformed query).
 * It sets *type (static) and *body (av_malloc'd, consumed) and returns
 * the HTTP status.
 */
#define METRICS_MAX_ARGS 16
#define METRICS_MAX_ROUTES 64
typedef struct MetricsArg {
    const char *key, *value;      /* value NULL: the key had no '=' */
} MetricsArg;
typedef unsigned (*MetricsRouteFn)(void *opaque, const char *path, const MetricsArg *args,
                                   int nb_args, const char **type, char **body);

/* Adds a route (path "/news/main.json"). Thread-safe; returns 0,
 * AVERROR(EEXIST) (a path taken), AVERROR(ENOSPC) (too many),
 * AVERROR(ENOMEM). */
int metrics_route(Metrics *m, const char *path, MetricsRouteFn fn, void *opaque);

/* Removes every route of opaque: after it returns, its handler is not
 * running and will not run. */
void metrics_unroute(Metrics *m, void *opaque);

typedef struct MetricsStats {
    int64_t scrapes_text;          /* /metrics answered in text 0.0.4 */
    int64_t scrapes_openmetrics;   /* ... in OpenMetrics */
    int64_t not_found;             /* other paths, other methods */
} MetricsStats;

void metrics_get_stats(Metrics *m, MetricsStats *st);

/* ---- rendering, also for tests and benchmarks -------------------------- */

enum MetricsFormat {
    METRICS_TEXT,                  /* text/plain; version=0.0.4 */
    METRICS_OPENMETRICS,           /* application/openmetrics-text; version=1.0.0 */
};

/* The format to answer an Accept header with (NULL: text). */
enum MetricsFormat metrics_negotiate(const char *accept);

/* The Content-Type of a format. */
const char *metrics_content_type(enum MetricsFormat fmt);

/* Appends the exposition of s (NULL: before the first tick) to bp. Returns
 * 0, or AVERROR(ENOMEM) when bp could not grow. */
int metrics_render(const Sample *s, enum MetricsFormat fmt, AVBPrint *bp);

#endif
