/*
 * metrics.c: the Prometheus endpoint on libmicrohttpd; see metrics.h.
 *
 * Snapshots are reference-counted: metrics_publish() fills a snapshot
 * outside the lock (reusing the memory of one nobody holds any more) and
 * swaps it in under the lock; a scrape takes a reference under the lock
 * and renders without it. Rendering 10,000 components (10 MB of text)
 * takes 32 ms of CPU on the server's thread (tests/bench/bench_hds.sh);
 * the tick thread never waits for it, and a publish costs a copy.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>

#include "config.h"
#include "core/comp.h"
#include "core/log.h"
#include "hma/metrics.h"

#define METRICS_MAX_CONNECTIONS 32
#define METRICS_CONN_TIMEOUT_S  10

typedef struct Snapshot {
    Sample s;
    int refs;                    /* protected by Metrics.lock */
} Snapshot;

struct Metrics {
    LogCtx log;
    struct MHD_Daemon *daemon;
    int port;
    pthread_mutex_t lock;
    /* protected by lock: */
    Snapshot *current;           /* what scrapes see, NULL before the first tick */
    Snapshot *spare;             /* unreferenced, kept for the next publish */
    MetricsStats stats;
    struct {
        char *path;
        MetricsRouteFn fn;
        void *opaque;
    } routes[METRICS_MAX_ROUTES];
    int nb_routes;               /* protected by lock */
    pthread_mutex_t route_lock;  /* held while a route's handler runs, so
                                    that metrics_unroute can wait for it */
};

/* ---- rendering ----------------------------------------------------------- */

const char *metrics_content_type(enum MetricsFormat fmt)
{
    return fmt == METRICS_OPENMETRICS ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                      : "text/plain; version=0.0.4; charset=utf-8";
}

/* q of one media range's parameters ("version=1.0.0;q=0.5"); version must
 * be one we serve (when given) */
static double range_q(const char *params, const char *version)
{
    double q = 1;
    const char *p = params;

    while (p && *p) {
        while (*p == ';' || *p == ' ' || *p == '\t')
            p++;
        if (!av_strncasecmp(p, "q=", 2)) {
            q = strtod(p + 2, NULL);
        } else if (!av_strncasecmp(p, "version=", 8)) {
            size_t n = strcspn(p + 8, "; \t");
            if (n != strlen(version) || strncmp(p + 8, version, n))
                return 0;
        }
        p = strchr(p, ';');
    }
    return q;
}

enum MetricsFormat metrics_negotiate(const char *accept)
{
    double om = 0, text = 0;

    while (accept && *accept) {
        char range[256];
        size_t n = strcspn(accept, ","), t;
        const char *params;

        av_strlcpy(range, accept, FFMIN(n + 1, sizeof(range)));
        accept += n + (accept[n] == ',');
        params = range + strspn(range, " \t");
        t = strcspn(params, "; \t");
        if (t == 28 && !av_strncasecmp(params, "application/openmetrics-text", t))
            om = FFMAX(om, range_q(params + t, "1.0.0"));
        else if ((t == 10 && !av_strncasecmp(params, "text/plain", t)))
            text = FFMAX(text, range_q(params + t, "0.0.4"));
        else if ((t == 3 && !strncmp(params, "*/*", 3)) || (t == 6 && !av_strncasecmp(params, "text/*", 6)))
            text = FFMAX(text, range_q(params + t, "0.0.4"));
    }
    return om > 0 && om >= text ? METRICS_OPENMETRICS : METRICS_TEXT;
}

/* Label values escape backslash, double quote and newline (both formats). */
static void put_escaped(AVBPrint *bp, const char *s, int quote)
{
    const char *run = s;

    for (; *s; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : quote && *s == '"' ? "\\\"" : NULL;
        if (!esc)
            continue;
        av_bprint_append_data(bp, run, s - run);
        av_bprint_append_data(bp, esc, 2);
        run = s + 1;
    }
    av_bprint_append_data(bp, run, s - run);
}

static void put_str(AVBPrint *bp, const char *s)
{
    av_bprint_append_data(bp, s, strlen(s));
}

/* Shortest text that reads back as the same double; integers as integers. */
static void put_value(AVBPrint *bp, double v)
{
    char buf[32];
    int n;

    if (isnan(v)) {
        put_str(bp, "NaN");
        return;
    }
    if (isinf(v)) {
        put_str(bp, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == (double)(int64_t)v && fabs(v) < 1e15) {
        /* the common case (counters, gauges of whole units) without printf */
        int64_t i = (int64_t)v;
        uint64_t u = i < 0 ? -(uint64_t)i : (uint64_t)i;
        char *p = buf + sizeof(buf);
        do {
            *--p = '0' + u % 10;
            u /= 10;
        } while (u);
        if (i < 0)
            *--p = '-';
        av_bprint_append_data(bp, p, buf + sizeof(buf) - p);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (prec == 17 || strtod(buf, NULL) == v)
            break;
    }
    av_bprint_append_data(bp, buf, n);
}

static void put_header(AVBPrint *bp, const char *family, const char *type, const char *help,
                       enum MetricsFormat fmt)
{
    put_str(bp, "# HELP ");
    put_str(bp, family);
    av_bprint_chars(bp, ' ', 1);
    /* 0.0.4 escapes backslash and newline in HELP; OpenMetrics quotes too */
    put_escaped(bp, help, fmt == METRICS_OPENMETRICS);
    put_str(bp, "\n# TYPE ");
    put_str(bp, family);
    av_bprint_chars(bp, ' ', 1);
    put_str(bp, type);
    av_bprint_chars(bp, '\n', 1);
}

/* The label set of a component, "{...}" or "" (the host). */
static void put_labels(AVBPrint *bp, const SampleComp *c)
{
    char role[16];

    if (c->kind == COMP_HOST)
        return;
    if (c->kind == COMP_GPU) {
        put_str(bp, "{gpu=\"");
        put_escaped(bp, c->name, 1);
        put_str(bp, "\"}");
        return;
    }
    put_str(bp, "{stream=\"");
    put_escaped(bp, c->stream, 1);
    put_str(bp, "\",component=\"");
    put_escaped(bp, c->name, 1);
    put_str(bp, "\",role=\"");
    put_str(bp, comp_instance_name(c->backup, role, sizeof(role)));
    put_str(bp, "\"}");
}

int metrics_render(const Sample *s, enum MetricsFormat fmt, AVBPrint *bp)
{
    int *order = NULL, *label_off = NULL, first[COMP_NB_KINDS + 1] = { 0 };
    int nb = s ? s->nb_comps : 0, ret = 0;
    AVBPrint labels;

    av_bprint_init(&labels, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (fmt == METRICS_OPENMETRICS) {
        put_header(bp, "hotspare_build", "info", "version of the running hotspare", fmt);
        put_str(bp, "hotspare_build_info{version=\"");
    } else {
        put_header(bp, "hotspare_build_info", "gauge", "version of the running hotspare", fmt);
        put_str(bp, "hotspare_build_info{version=\"");
    }
    put_escaped(bp, HS_VERSION, 1);
    put_str(bp, "\"} 1\n");
    if (s) {
        put_header(bp, "hotspare_tick", "gauge", "number of the tick the samples below are of", fmt);
        put_str(bp, "hotspare_tick ");
        put_value(bp, (double)s->tick);
        av_bprint_chars(bp, '\n', 1);
    }

    if (nb) {
        /* components by kind (a counting sort, stable), and each one's label
         * set rendered once for all its metrics */
        order = av_malloc_array(nb, sizeof(*order));
        label_off = av_malloc_array(nb + 1, sizeof(*label_off));
        if (!order || !label_off) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        for (int i = 0; i < nb; i++)
            if ((unsigned)s->comps[i].kind < COMP_NB_KINDS)
                first[s->comps[i].kind + 1]++;
        for (int k = 0; k < COMP_NB_KINDS; k++)
            first[k + 1] += first[k];
        {
            int fill[COMP_NB_KINDS];
            memcpy(fill, first, sizeof(fill));
            for (int i = 0; i < nb; i++)
                if ((unsigned)s->comps[i].kind < COMP_NB_KINDS)
                    order[fill[s->comps[i].kind]++] = i;
        }
        for (int i = 0; i < nb; i++) {
            label_off[i] = labels.len;
            put_labels(&labels, &s->comps[i]);
            av_bprint_chars(&labels, ' ', 1);
        }
        label_off[nb] = labels.len;
        if (!av_bprint_is_complete(&labels)) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
    }

    for (int k = 0; k < COMP_NB_KINDS && nb; k++) {
        const CompKindDef *kd = &sample_kinds[k];
        for (int m = 0; m < kd->nb_metrics; m++) {
            const MetricDef *def = &kd->metrics[m];
            size_t len = strlen(def->name);
            int header = 0;

            for (int j = first[k]; j < first[k + 1]; j++) {
                const SampleComp *c = &s->comps[order[j]];
                if (!sample_has(c, m))
                    continue;
                if (!header) {
                    char family[128];
                    /* OpenMetrics: the family of a counter is its name
                     * without _total; its samples keep it */
                    av_strlcpy(family, def->name, sizeof(family));
                    if (fmt == METRICS_OPENMETRICS && def->type == METRIC_COUNTER &&
                        len > 6 && !strcmp(def->name + len - 6, "_total"))
                        family[len - 6] = 0;
                    put_header(bp, family, def->type == METRIC_COUNTER ? "counter" : "gauge",
                               def->help, fmt);
                    header = 1;
                }
                av_bprint_append_data(bp, def->name, len);
                av_bprint_append_data(bp, labels.str + label_off[order[j]],
                                      label_off[order[j] + 1] - label_off[order[j]]);
                put_value(bp, c->v[m]);
                av_bprint_chars(bp, '\n', 1);
            }
        }
    }
    if (fmt == METRICS_OPENMETRICS)
        put_str(bp, "# EOF\n");
    if (!av_bprint_is_complete(bp))
        ret = AVERROR(ENOMEM);
end:
    av_free(order);
    av_free(label_off);
    av_bprint_finalize(&labels, NULL);
    return ret;
}

/* ---- snapshots ------------------------------------------------------------- */

static void snapshot_free(Snapshot **ps)
{
    if (!*ps)
        return;
    sample_free(&(*ps)->s);
    av_freep(ps);
}

/* Drops a reference; with lock held. The last one keeps the memory as the
 * spare (or frees it when there is one). */
static void snapshot_unref(Metrics *m, Snapshot *snap)
{
    if (!snap || --snap->refs)
        return;
    if (!m->spare)
        m->spare = snap;
    else
        snapshot_free(&snap);
}

int metrics_publish(Metrics *m, const Sample *s)
{
    Snapshot *snap;

    pthread_mutex_lock(&m->lock);
    snap = m->spare;
    m->spare = NULL;
    pthread_mutex_unlock(&m->lock);
    if (!snap && !(snap = av_mallocz(sizeof(*snap))))
        return AVERROR(ENOMEM);
    if (snap->s.nb_alloc < s->nb_comps) {
        SampleComp *c = av_realloc_array(snap->s.comps, s->nb_comps, sizeof(*c));
        if (!c) {
            snapshot_free(&snap);
            return AVERROR(ENOMEM);
        }
        snap->s.comps = c;
        snap->s.nb_alloc = s->nb_comps;
    }
    snap->s.time_us = s->time_us;
    snap->s.tick = s->tick;
    snap->s.nb_comps = s->nb_comps;
    memcpy(snap->s.comps, s->comps, s->nb_comps * sizeof(*s->comps));
    snap->refs = 1;              /* the reference of "current" */

    pthread_mutex_lock(&m->lock);
    snapshot_unref(m, m->current);
    m->current = snap;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* ---- the HTTP side -------------------------------------------------------------- */

static void free_response(void *p)
{
    av_free(p);
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *type,
                              char *body, size_t len)
{
    struct MHD_Response *resp;
    enum MHD_Result r;

    resp = MHD_create_response_from_buffer_with_free_callback(len, body, free_response);
    if (!resp) {
        av_free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result answer_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    char *body = av_strdup(text);

    return body ? answer(conn, status, "text/plain; charset=utf-8", body, strlen(body)) : MHD_NO;
}

typedef struct ArgList {
    MetricsArg a[METRICS_MAX_ARGS];
    int nb;                      /* -1: more than METRICS_MAX_ARGS */
} ArgList;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    ArgList *l = cls;

    (void)kind;
    if (l->nb < 0 || l->nb == METRICS_MAX_ARGS) {
        l->nb = -1;
        return MHD_NO;
    }
    l->a[l->nb++] = (MetricsArg){ key, value };
    return MHD_YES;
}

/* A route's document, or -1 when url is none of them. */
static enum MHD_Result answer_route(Metrics *m, struct MHD_Connection *conn, const char *url,
                                    int *found)
{
    struct MHD_Response *resp;
    enum MHD_Result r;
    ArgList args = { .nb = 0 };
    const char *type = "text/plain; charset=utf-8";
    char *body = NULL;
    unsigned status = 0;

    pthread_mutex_lock(&m->route_lock);
    for (int i = 0; i < m->nb_routes && !status; i++)
        if (!strcmp(m->routes[i].path, url)) {
            MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &args);
            status = m->routes[i].fn(m->routes[i].opaque, url, args.a, args.nb, &type, &body);
        }
    pthread_mutex_unlock(&m->route_lock);
    if (!(*found = status != 0))
        return MHD_NO;
    if (!body && !(body = av_strdup("")))
        return MHD_NO;
    resp = MHD_create_response_from_buffer_with_free_callback(strlen(body), body, free_response);
    if (!resp) {
        av_free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

int metrics_route(Metrics *m, const char *path, MetricsRouteFn fn, void *opaque)
{
    int ret = 0;

    pthread_mutex_lock(&m->route_lock);
    for (int i = 0; i < m->nb_routes; i++)
        if (!strcmp(m->routes[i].path, path))
            ret = AVERROR(EEXIST);
    if (!ret && (!strcmp(path, "/metrics") || m->nb_routes == METRICS_MAX_ROUTES))
        ret = !strcmp(path, "/metrics") ? AVERROR(EEXIST) : AVERROR(ENOSPC);
    if (!ret) {
        if (!(m->routes[m->nb_routes].path = av_strdup(path)))
            ret = AVERROR(ENOMEM);
        else {
            m->routes[m->nb_routes].fn = fn;
            m->routes[m->nb_routes].opaque = opaque;
            m->nb_routes++;
        }
    }
    pthread_mutex_unlock(&m->route_lock);
    return ret;
}

void metrics_unroute(Metrics *m, void *opaque)
{
    int k = 0;

    if (!m)
        return;
    pthread_mutex_lock(&m->route_lock);
    for (int i = 0; i < m->nb_routes; i++) {
        if (m->routes[i].opaque == opaque) {
            av_freep(&m->routes[i].path);
            continue;
        }
        m->routes[k++] = m->routes[i];
    }
    m->nb_routes = k;
    pthread_mutex_unlock(&m->route_lock);
}

/* The bytes of a request's query, as decoded: with its path, what
 * METRICS_MAX_URL bounds. */
static enum MHD_Result count_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    size_t *n = cls;

    (void)kind;
    *n += strlen(key) + 1 + (value ? strlen(value) + 1 : 0);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    Metrics *m = cls;
    enum MetricsFormat fmt;
    Snapshot *snap;
    AVBPrint bp;
    char *body;
    int ret;

    size_t url_len = strlen(url);

    /* libmicrohttpd answers what does not fit its memory limit (414, 431)
     * itself; what fits but is longer than any of our URLs is refused
     * here, before a route reads it */
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, count_query, &url_len);
    if (url_len > METRICS_MAX_URL) {
        char *text = av_asprintf("URI too long: at most %d bytes of path and query\n",
                                 METRICS_MAX_URL);
        return text ? answer(conn, MHD_HTTP_URI_TOO_LONG, "text/plain; charset=utf-8", text,
                             strlen(text)) : MHD_NO;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
        pthread_mutex_lock(&m->lock);
        m->stats.not_found++;
        pthread_mutex_unlock(&m->lock);
        return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET /metrics\n");
    }
    if (strcmp(url, "/metrics")) {
        int found;
        enum MHD_Result r = answer_route(m, conn, url, &found);
        if (found)
            return r;
        pthread_mutex_lock(&m->lock);
        m->stats.not_found++;
        pthread_mutex_unlock(&m->lock);
        return answer_text(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
    }
    fmt = metrics_negotiate(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));

    pthread_mutex_lock(&m->lock);
    if ((snap = m->current))
        snap->refs++;
    if (fmt == METRICS_OPENMETRICS)
        m->stats.scrapes_openmetrics++;
    else
        m->stats.scrapes_text++;
    pthread_mutex_unlock(&m->lock);

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    ret = metrics_render(snap ? &snap->s : NULL, fmt, &bp);

    pthread_mutex_lock(&m->lock);
    snapshot_unref(m, snap);
    pthread_mutex_unlock(&m->lock);

    if (ret < 0 || av_bprint_finalize(&bp, &body) < 0) {
        av_bprint_finalize(&bp, NULL);
        return answer_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    return answer(conn, MHD_HTTP_OK, metrics_content_type(fmt), body, strlen(body));
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    av_vlog(cls, AV_LOG_WARNING, fmt, ap);
}

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}

/* "host:port" or "[v6]:port" into a socket address; 0 or AVERROR(EINVAL) */
static int parse_addr(const char *addr, struct sockaddr_storage *ss, char *err, size_t err_size)
{
    char host[256];
    const char *port;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai;
    int rc;

    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (!end || end[1] != ':') {
            snprintf(err, err_size, "'%s': want [ADDRESS]:PORT", addr);
            return AVERROR(EINVAL);
        }
        av_strlcpy(host, addr + 1, FFMIN((size_t)(end - addr), sizeof(host)));
        port = end + 2;
    } else {
        const char *colon = strrchr(addr, ':');
        if (!colon || strchr(addr, ':') != colon) {
            snprintf(err, err_size, "'%s': want HOST:PORT (an IPv6 address in brackets)", addr);
            return AVERROR(EINVAL);
        }
        av_strlcpy(host, addr, FFMIN((size_t)(colon - addr + 1), sizeof(host)));
        port = colon + 1;
    }
    if (!*port || strspn(port, "0123456789") != strlen(port) || atoi(port) > 65535) {
        snprintf(err, err_size, "'%s': bad port", addr);
        return AVERROR(EINVAL);
    }
    if (!*host)
        hints.ai_flags |= AI_PASSIVE;    /* ":9464": every interface */
    rc = getaddrinfo(*host ? host : NULL, port, &hints, &ai);
    if (rc) {
        snprintf(err, err_size, "'%s': %s", addr, gai_strerror(rc));
        return AVERROR(EINVAL);
    }
    memcpy(ss, ai->ai_addr, FFMIN(ai->ai_addrlen, sizeof(*ss)));
    freeaddrinfo(ai);
    return 0;
}

int metrics_start(Metrics **pm, const char *addr, int allow_remote)
{
    struct sockaddr_storage ss = { 0 };
    const union MHD_DaemonInfo *info;
    char err[300];
    Metrics *m;
    int ret, port;

    *pm = NULL;
    if (!(m = av_mallocz(sizeof(*m))))
        return AVERROR(ENOMEM);
    logctx_init(&m->log, "metrics");
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->route_lock, NULL);
    if ((ret = parse_addr(addr, &ss, err, sizeof(err))) < 0) {
        av_log(m, AV_LOG_ERROR, "%s\n", err);
        goto fail;
    }
    if (!is_loopback((struct sockaddr *)&ss) && !allow_remote) {
        av_log(m, AV_LOG_ERROR, "'%s' is not a loopback address: metrics name every stream "
               "and component; allow it explicitly to listen there\n", addr);
        ret = AVERROR(EACCES);
        goto fail;
    }
    port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
    errno = 0;
    m->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                                 (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
                                 port, NULL, NULL, on_request, m,
                                 /* first, or MHD prints on its own until it is set */
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, m,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_MAX_CONNECTIONS,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_CONN_TIMEOUT_S,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_CONN_MEMORY,
                                 MHD_OPTION_END);
    if (!m->daemon) {
        ret = errno == EADDRINUSE ? AVERROR(EADDRINUSE) : AVERROR(EIO);
        av_log(m, AV_LOG_ERROR, "cannot listen on %s: %s\n", addr, av_err2str(ret));
        goto fail;
    }
    info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
    m->port = info ? info->port : port;
    av_log(m, AV_LOG_VERBOSE, "serving http://%s/metrics (port %d)\n", addr, m->port);
    *pm = m;
    return 0;
fail:
    metrics_stop(&m);
    return ret;
}

void metrics_stop(Metrics **pm)
{
    Metrics *m = *pm;

    if (!m)
        return;
    if (m->daemon)
        MHD_stop_daemon(m->daemon);
    /* the server thread is gone: nothing else holds a reference */
    snapshot_free(&m->current);
    snapshot_free(&m->spare);
    for (int i = 0; i < m->nb_routes; i++)
        av_freep(&m->routes[i].path);
    pthread_mutex_destroy(&m->route_lock);
    pthread_mutex_destroy(&m->lock);
    av_freep(pm);
}

int metrics_port(const Metrics *m)
{
    return m->port;
}

void metrics_get_stats(Metrics *m, MetricsStats *st)
{
    pthread_mutex_lock(&m->lock);
    *st = m->stats;
    pthread_mutex_unlock(&m->lock);
}
