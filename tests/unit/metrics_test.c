/*
 * metrics_test.c: the Prometheus exposition: text 0.0.4 and OpenMetrics
 * rendering (HELP/TYPE once per name, labels and their escaping, absent
 * metrics left out, values), Accept negotiation, addresses and the
 * loopback rule, and the server answering while samples are published.
 */
#include <arpa/inet.h>
#include <pthread.h>

#include <CUnit/Basic.h>
#include <libavutil/time.h>

#include "hma/metrics.c"

static char *render(const Sample *s, enum MetricsFormat fmt)
{
    AVBPrint bp;
    char *out = NULL;

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    CU_ASSERT(metrics_render(s, fmt, &bp) == 0);
    av_bprint_finalize(&bp, &out);
    return out;
}

static int count_lines(const char *text, const char *line)
{
    size_t n = strlen(line);
    int c = 0;

    for (const char *p = text; (p = strstr(p, line)); p += n)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == 0))
            c++;
    return c;
}

static void build(Sample *s)
{
    SampleComp *c;

    sample_reset(s, 1700000000000000, 42);
    c = sample_add_comp(s, COMP_HOST, "", "host", 0);
    sample_set(c, HM_CPU_SECONDS, 12.5);
    sample_set(c, HM_RSS_BYTES, 400000000);
    c = sample_add_comp(s, COMP_ENCODER, "news", "720p", 0);
    sample_set(c, EM_FRAMES_OUT, 3000);
    sample_set(c, EM_FPS, 29.97);
    sample_set(c, EM_LATENCY_P50, 0.1);
    c = sample_add_comp(s, COMP_GPU, "", "gpu0", 0);
    sample_set(c, GM_UP, 1);
    sample_set(c, GM_TEMPERATURE, NAN);
    c = sample_add_comp(s, COMP_ENCODER, "news", "720p", 1);
    sample_set(c, EM_FRAMES_OUT, 2990);
    sample_set(c, EM_FPS, INFINITY);
    c = sample_add_comp(s, COMP_ENCODER, "news", "720p", 2);
    sample_set(c, EM_FRAMES_OUT, -0.0);
    /* names are [a-z0-9_.-], but whatever comes is escaped */
    c = sample_add_comp(s, COMP_OUTPUT, "we\"ird\\st\nream", "main", 0);
    sample_set(c, OM_BYTES, 1e15);
    sample_set(c, OM_THROUGHPUT, -1.5e-7);
}

static void test_text(void)
{
    Sample s = { 0 };
    char *t;

    build(&s);
    t = render(&s, METRICS_TEXT);
    CU_ASSERT_FATAL(t != NULL);
    /* one HELP and one TYPE per name, also with three encoders */
    CU_ASSERT(count_lines(t, "# TYPE hotspare_encoder_frames_out_total counter") == 1);
    CU_ASSERT(count_lines(t, "# HELP hotspare_encoder_frames_out_total packets the encoder produced") == 1);
    CU_ASSERT(count_lines(t, "# TYPE hotspare_encoder_fps gauge") == 1);
    CU_ASSERT(count_lines(t, "# TYPE hotspare_build_info gauge") == 1);
    CU_ASSERT(count_lines(t, "# TYPE hotspare_tick gauge") == 1);
    CU_ASSERT(count_lines(t, "hotspare_tick 42") == 1);
    CU_ASSERT(strstr(t, "hotspare_build_info{version=\"" HS_VERSION "\"} 1\n") != NULL);
    /* labels: none for the host, gpu for GPUs, stream/component/role */
    CU_ASSERT(count_lines(t, "hotspare_process_cpu_seconds_total 12.5") == 1);
    CU_ASSERT(count_lines(t, "hotspare_process_resident_memory_bytes 400000000") == 1);
    CU_ASSERT(count_lines(t, "hotspare_gpu_up{gpu=\"gpu0\"} 1") == 1);
    CU_ASSERT(count_lines(t, "hotspare_encoder_frames_out_total{stream=\"news\",component=\"720p\",role=\"primary\"} 3000") == 1);
    CU_ASSERT(count_lines(t, "hotspare_encoder_frames_out_total{stream=\"news\",component=\"720p\",role=\"backup\"} 2990") == 1);
    CU_ASSERT(count_lines(t, "hotspare_encoder_frames_out_total{stream=\"news\",component=\"720p\",role=\"backup2\"} 0") == 1);
    /* values: shortest round trip, NaN and infinities spelled as Prometheus does */
    CU_ASSERT(count_lines(t, "hotspare_encoder_fps{stream=\"news\",component=\"720p\",role=\"primary\"} 29.97") == 1);
    CU_ASSERT(count_lines(t, "hotspare_encoder_latency_p50_seconds{stream=\"news\",component=\"720p\",role=\"primary\"} 0.1") == 1);
    CU_ASSERT(count_lines(t, "hotspare_encoder_fps{stream=\"news\",component=\"720p\",role=\"backup\"} +Inf") == 1);
    CU_ASSERT(count_lines(t, "hotspare_gpu_temperature_celsius{gpu=\"gpu0\"} NaN") == 1);
    CU_ASSERT(count_lines(t, "hotspare_output_throughput_bytes_per_second{stream=\"we\\\"ird\\\\st\\nream\",component=\"main\",role=\"primary\"} -1.5e-07") == 1);
    CU_ASSERT(strstr(t, "component=\"main\",role=\"primary\"} 1000000000000000\n") != NULL ||
              strstr(t, "component=\"main\",role=\"primary\"} 1e+15\n") != NULL);
    /* absent metrics: no line, and no HELP/TYPE for a name with no sample */
    CU_ASSERT(strstr(t, "hotspare_encoder_qp") == NULL);
    CU_ASSERT(strstr(t, "hotspare_ingest_") == NULL);
    CU_ASSERT(strstr(t, "fps{stream=\"news\",component=\"720p\",role=\"backup2\"}") == NULL);
    /* every line ends with a newline, no stray blank line */
    CU_ASSERT(t[strlen(t) - 1] == '\n' && !strstr(t, "\n\n"));
    CU_ASSERT(!strstr(t, "# EOF"));
    av_free(t);

    /* before the first tick: build_info alone */
    t = render(NULL, METRICS_TEXT);
    CU_ASSERT(strstr(t, "hotspare_build_info{") != NULL && !strstr(t, "hotspare_tick"));
    av_free(t);
    sample_free(&s);
}

static void test_openmetrics(void)
{
    Sample s = { 0 };
    char *t;
    size_t n;

    build(&s);
    t = render(&s, METRICS_OPENMETRICS);
    CU_ASSERT_FATAL(t != NULL);
    n = strlen(t);
    CU_ASSERT(n > 6 && !strcmp(t + n - 6, "# EOF\n"));
    CU_ASSERT(count_lines(t, "# EOF") == 1);
    /* counter families without _total, their samples with it */
    CU_ASSERT(count_lines(t, "# TYPE hotspare_encoder_frames_out counter") == 1);
    CU_ASSERT(count_lines(t, "# HELP hotspare_encoder_frames_out packets the encoder produced") == 1);
    CU_ASSERT(!strstr(t, "# TYPE hotspare_encoder_frames_out_total"));
    CU_ASSERT(count_lines(t, "hotspare_encoder_frames_out_total{stream=\"news\",component=\"720p\",role=\"primary\"} 3000") == 1);
    CU_ASSERT(count_lines(t, "# TYPE hotspare_encoder_fps gauge") == 1);
    CU_ASSERT(count_lines(t, "# TYPE hotspare_build info") == 1);
    CU_ASSERT(strstr(t, "\nhotspare_build_info{version=\"") != NULL);
    av_free(t);
    sample_free(&s);

    /* every counter of the catalogue ends in _total: the family rule holds */
    for (int k = 0; k < COMP_NB_KINDS; k++)
        for (int m = 0; m < sample_kinds[k].nb_metrics; m++) {
            const MetricDef *d = &sample_kinds[k].metrics[m];
            size_t len = strlen(d->name);
            int total = len > 6 && !strcmp(d->name + len - 6, "_total");
            CU_ASSERT((d->type == METRIC_COUNTER) == total);
        }
}

static void test_negotiate(void)
{
    CU_ASSERT(metrics_negotiate(NULL) == METRICS_TEXT);
    CU_ASSERT(metrics_negotiate("") == METRICS_TEXT);
    CU_ASSERT(metrics_negotiate("*/*") == METRICS_TEXT);
    CU_ASSERT(metrics_negotiate("text/plain;version=0.0.4") == METRICS_TEXT);
    /* what Prometheus 2.42 sends */
    CU_ASSERT(metrics_negotiate("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                                "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
              == METRICS_OPENMETRICS);
    CU_ASSERT(metrics_negotiate("application/openmetrics-text") == METRICS_OPENMETRICS);
    CU_ASSERT(metrics_negotiate("Application/OpenMetrics-Text; version=1.0.0; q=0.9, text/plain; q=0.5")
              == METRICS_OPENMETRICS);
    /* preferring text, or a version we do not serve */
    CU_ASSERT(metrics_negotiate("application/openmetrics-text;q=0.1, text/plain") == METRICS_TEXT);
    CU_ASSERT(metrics_negotiate("application/openmetrics-text;version=0.0.1") == METRICS_TEXT);
    CU_ASSERT(metrics_negotiate("application/openmetrics-text;q=0") == METRICS_TEXT);
    CU_ASSERT(!strcmp(metrics_content_type(METRICS_TEXT), "text/plain; version=0.0.4; charset=utf-8"));
    CU_ASSERT(!strcmp(metrics_content_type(METRICS_OPENMETRICS),
                      "application/openmetrics-text; version=1.0.0; charset=utf-8"));
}

static void test_addresses(void)
{
    struct sockaddr_storage ss;
    char err[300];

    CU_ASSERT(parse_addr("127.0.0.1:9464", &ss, err, sizeof(err)) == 0 && is_loopback((struct sockaddr *)&ss));
    CU_ASSERT(ntohs(((struct sockaddr_in *)&ss)->sin_port) == 9464);
    CU_ASSERT(parse_addr("127.3.4.5:1", &ss, err, sizeof(err)) == 0 && is_loopback((struct sockaddr *)&ss));
    CU_ASSERT(parse_addr("[::1]:9464", &ss, err, sizeof(err)) == 0 && is_loopback((struct sockaddr *)&ss));
    CU_ASSERT(ss.ss_family == AF_INET6);
    CU_ASSERT(parse_addr("[::ffff:127.0.0.1]:9", &ss, err, sizeof(err)) == 0 && is_loopback((struct sockaddr *)&ss));
    CU_ASSERT(parse_addr("0.0.0.0:9464", &ss, err, sizeof(err)) == 0 && !is_loopback((struct sockaddr *)&ss));
    CU_ASSERT(parse_addr("10.1.2.3:80", &ss, err, sizeof(err)) == 0 && !is_loopback((struct sockaddr *)&ss));
    CU_ASSERT(parse_addr("[::]:80", &ss, err, sizeof(err)) == 0 && !is_loopback((struct sockaddr *)&ss));
    CU_ASSERT(parse_addr(":9464", &ss, err, sizeof(err)) == 0 && !is_loopback((struct sockaddr *)&ss));
    CU_ASSERT(parse_addr("127.0.0.1", &ss, err, sizeof(err)) == AVERROR(EINVAL));
    CU_ASSERT(parse_addr("127.0.0.1:", &ss, err, sizeof(err)) == AVERROR(EINVAL));
    CU_ASSERT(parse_addr("127.0.0.1:99999", &ss, err, sizeof(err)) == AVERROR(EINVAL));
    CU_ASSERT(parse_addr("127.0.0.1:http", &ss, err, sizeof(err)) == AVERROR(EINVAL));
    CU_ASSERT(parse_addr("::1:80", &ss, err, sizeof(err)) == AVERROR(EINVAL));
    CU_ASSERT(parse_addr("[::1:80", &ss, err, sizeof(err)) == AVERROR(EINVAL));
}

/* ---- the server ------------------------------------------------------------- */

/* GET path with an Accept header; returns the reply (av_free it) or NULL */
static char *http_get(int port, const char *path, const char *accept)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    char *req, *buf = NULL;
    size_t len = 0, cap = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    req = av_asprintf("GET %s HTTP/1.0\r\n%s%s%s\r\n", path, accept ? "Accept: " : "",
                      accept ? accept : "", accept ? "\r\n" : "");
    if (!req || write(fd, req, strlen(req)) < 0) {
        av_free(req);
        close(fd);
        return NULL;
    }
    av_free(req);
    for (;;) {
        ssize_t r;
        if (cap - len < 4096) {
            char *nb = av_realloc(buf, cap = cap * 2 + 65536);
            if (!nb)
                break;
            buf = nb;
        }
        r = read(fd, buf + len, cap - len - 1);
        if (r <= 0)
            break;
        len += r;
    }
    close(fd);
    if (buf)
        buf[len] = 0;
    return buf;
}

typedef struct Scraper {
    int port, rounds, ok;
} Scraper;

static void *scrape_loop(void *arg)
{
    Scraper *sc = arg;

    for (int i = 0; i < sc->rounds; i++) {
        char *r = http_get(sc->port, "/metrics", i % 2 ? "application/openmetrics-text" : NULL);
        /* every reply is a whole tick: its last line is the end of one */
        if (r && strstr(r, "200 OK") && (i % 2 ? strstr(r, "# EOF\n") != NULL
                                               : strstr(r, "hotspare_encoder_frames_out_total{") != NULL))
            sc->ok++;
        av_free(r);
    }
    return NULL;
}

static void test_server(void)
{
    Metrics *m = NULL, *m2 = NULL;
    MetricsStats st;
    Sample s = { 0 };
    Scraper sc = { .rounds = 40 };
    pthread_t th;
    char *r, addr[64];

    CU_ASSERT(metrics_start(&m, "0.0.0.0:0", 0) == AVERROR(EACCES) && !m);
    CU_ASSERT(metrics_start(&m, "nonsense", 0) == AVERROR(EINVAL) && !m);
    CU_ASSERT_FATAL(metrics_start(&m, "127.0.0.1:0", 0) == 0);
    CU_ASSERT_FATAL(metrics_port(m) > 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", metrics_port(m));
    CU_ASSERT(metrics_start(&m2, addr, 0) == AVERROR(EADDRINUSE) && !m2);

    /* before the first tick */
    r = http_get(metrics_port(m), "/metrics", NULL);
    CU_ASSERT(r && strstr(r, "200 OK") && strstr(r, "hotspare_build_info") && !strstr(r, "hotspare_tick"));
    av_free(r);
    r = http_get(metrics_port(m), "/", NULL);
    CU_ASSERT(r && strstr(r, "404"));
    av_free(r);

    build(&s);
    CU_ASSERT(metrics_publish(m, &s) == 0);
    r = http_get(metrics_port(m), "/metrics", NULL);
    CU_ASSERT(r && strstr(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
    CU_ASSERT(r && strstr(r, "hotspare_tick 42\n"));
    av_free(r);

    /* scrapes while ticks are published: each sees one whole tick */
    sc.port = metrics_port(m);
    CU_ASSERT_FATAL(pthread_create(&th, NULL, scrape_loop, &sc) == 0);
    for (int i = 0; i < 200; i++) {
        sample_reset(&s, 1700000000000000 + i, i);
        for (int k = 0; k < 50 + i % 7; k++) {
            SampleComp *c = sample_add_comp(&s, COMP_ENCODER, "news", "720p", k);
            sample_set(c, EM_FRAMES_OUT, i);
        }
        CU_ASSERT(metrics_publish(m, &s) == 0);
        av_usleep(500);
    }
    pthread_join(th, NULL);
    CU_ASSERT(sc.ok == sc.rounds);
    metrics_get_stats(m, &st);
    CU_ASSERT(st.scrapes_text == 2 + sc.rounds / 2 && st.scrapes_openmetrics == sc.rounds / 2);
    CU_ASSERT(st.not_found == 1);
    metrics_stop(&m);
    CU_ASSERT(m == NULL);
    metrics_stop(&m);
    sample_free(&s);
}

/* The limits of a request: each refused with its status and a reason. */
static void test_request_limits(void)
{
    Metrics *m = NULL;
    char *r, *path = av_malloc(32768), *hdr = av_malloc(32768);

    CU_ASSERT_FATAL(path && hdr);
    CU_ASSERT_FATAL(metrics_start(&m, "127.0.0.1:0", 0) == 0);
    /* a query past METRICS_MAX_URL that fits the connection: ours */
    snprintf(path, 32768, "/metrics?x=");
    memset(path + 11, 'a', METRICS_MAX_URL);
    path[11 + METRICS_MAX_URL] = 0;
    r = http_get(metrics_port(m), path, NULL);
    CU_ASSERT(r && strstr(r, " 414 URI Too Long") && strstr(r, "URI too long: at most 4096 bytes"));
    av_free(r);
    /* one that does not fit the connection's memory: libmicrohttpd's */
    memset(path + 11, 'a', 20000);
    path[11 + 20000] = 0;
    r = http_get(metrics_port(m), path, NULL);
    CU_ASSERT(r && strstr(r, " 414 "));
    av_free(r);
    /* headers that do not fit */
    memset(hdr, 'a', 20000);
    hdr[20000] = 0;
    r = http_get(metrics_port(m), "/metrics", hdr);
    CU_ASSERT(r && strstr(r, " 431 "));
    av_free(r);
    /* and the server still answers */
    r = http_get(metrics_port(m), "/metrics?x=1", NULL);
    CU_ASSERT(r && strstr(r, "200 OK"));
    av_free(r);
    metrics_stop(&m);
    av_free(path);
    av_free(hdr);
}

int main(void)
{
    CU_pSuite suite;
    int failures;

    log_init(AV_LOG_FATAL);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    suite = CU_add_suite("metrics", NULL, NULL);
    CU_add_test(suite, "text 0.0.4", test_text);
    CU_add_test(suite, "OpenMetrics", test_openmetrics);
    CU_add_test(suite, "Accept negotiation", test_negotiate);
    CU_add_test(suite, "addresses and loopback", test_addresses);
    CU_add_test(suite, "the server, scraped while publishing", test_server);
    CU_add_test(suite, "limits of a request", test_request_limits);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures;
}
