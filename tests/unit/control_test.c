/*
 * control_test.c: the control socket's server (src/cli/control.c) on a
 * graph with pipelines that never start: the protocol's answers and
 * errors, a request that waits for its outcome event (and one that times
 * out), a follower that does not read being dropped while others are
 * served, the client limit, the stop hook, and the socket's life (mode,
 * stale, live, removed).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <jansson.h>

#include <libavutil/error.h>
#include <libavutil/time.h>

#include "cli/control.h"

static char tmpdir[64], sock[128];
static Job *job;
static Ecg *graph;
static EventLog *events;
static Control *ctl;
static _Atomic int stop_flag;
static int stops, stops_now;

static void on_stop(void *opaque, int now)
{
    stops++;
    stops_now += now;
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -errno;
    }
    return fd;
}

static void send_text(int fd, const char *text)
{
    CU_ASSERT_EQUAL(send(fd, text, strlen(text), MSG_NOSIGNAL), (ssize_t)strlen(text));
}

/* One answer line within ms, parsed; NULL on a timeout or a close. */
static json_t *read_line(int fd, int ms)
{
    char buf[1 << 16];
    size_t len = 0;

    while (len < sizeof(buf) - 1) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, ms) <= 0 || recv(fd, buf + len, 1, 0) != 1)
            return NULL;
        if (buf[len] == '\n')
            return json_loadb(buf, len, 0, NULL);
        len++;
    }
    return NULL;
}

/* Sends request on a new connection; returns the answer. */
static json_t *ask(const char *request)
{
    int fd = connect_to(sock);
    json_t *a;

    CU_ASSERT_FATAL(fd >= 0);
    send_text(fd, request);
    a = read_line(fd, 5000);
    close(fd);
    return a;
}

static int is_ok(json_t *a)
{
    return json_is_true(json_object_get(a, "ok")) &&
           json_integer_value(json_object_get(a, "v")) == CONTROL_VERSION;
}

static const char *error_of(json_t *a)
{
    const char *e = json_string_value(json_object_get(a, "error"));
    return e ? e : "";
}

/* request must be refused with an error that says why. */
static void expect_error(const char *request, const char *why)
{
    json_t *a = ask(request);

    CU_ASSERT_FALSE(is_ok(a));
    CU_ASSERT_PTR_NOT_NULL(strstr(error_of(a), why));
    if (!strstr(error_of(a), why))
        fprintf(stderr, "\n    %s: got '%s'\n", request, error_of(a));
    json_decref(a);
}

static void test_protocol(void)
{
    struct stat st;
    json_t *a;

    CU_ASSERT_EQUAL(stat(sock, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    CU_ASSERT_TRUE(S_ISSOCK(st.st_mode));

    a = ask("{\"v\":1,\"cmd\":\"status\"}\n");
    CU_ASSERT_TRUE(is_ok(a));
    CU_ASSERT_EQUAL(json_array_size(json_object_get(a, "components")), 6);
    json_decref(a);
    a = ask("{\"v\":1,\"cmd\":\"graph\"}\n");
    CU_ASSERT_TRUE(is_ok(a));
    CU_ASSERT(!strncmp(json_string_value(json_object_get(a, "graph")), "digraph", 7));
    json_decref(a);
    a = ask("{\"v\":1,\"cmd\":\"graph\",\"format\":\"json\"}\n");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(json_object_get(a, "graph"), "edges")), 5);
    json_decref(a);

    /* errors, each an answer */
    expect_error("nonsense\n", "not JSON");
    expect_error("{\"cmd\":\"status\"}\n", "protocol version");
    a = ask("{\"v\":1,\"cmd\":\"status\",\"cmd\":\"stop\"}\n");   /* duplicate keys */
    CU_ASSERT_FALSE(is_ok(a));
    json_decref(a);
    expect_error("{\"v\":1,\"cmd\":\"provision\"}\n", "'component' is required");
    expect_error("{\"v\":1,\"cmd\":\"provision\",\"component\":\"out:o\",\"instance\":\"spare\"}\n", "'instance'");
    expect_error("{\"v\":1,\"cmd\":\"provision\",\"component\":\"out:o\",\"wait_ms\":-1}\n", "'wait_ms'");
    expect_error("{\"v\":1,\"cmd\":\"release\",\"component\":\"s/input\"}\n", "only switched");
    expect_error("{\"v\":1,\"cmd\":\"switch\",\"component\":\"s/ladder\"}\n", "takes no request");

    /* several requests on one connection, answered in order; a request
     * answered at once carries its seq */
    {
        int fd = connect_to(sock);
        json_t *b, *c;
        send_text(fd, "{\"v\":1,\"cmd\":\"events\"}\n\n{\"v\":1,\"cmd\":\"switch\","
                  "\"component\":\"s/out:o\",\"instance\":1}\n");
        b = read_line(fd, 5000);
        c = read_line(fd, 5000);
        CU_ASSERT_TRUE(is_ok(b));
        CU_ASSERT_TRUE(json_is_array(json_object_get(b, "events")));
        CU_ASSERT_TRUE(is_ok(c));
        CU_ASSERT(json_integer_value(json_object_get(c, "seq")) > 0);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "component")),
                               "s/out:o.backup");
        json_decref(b);
        json_decref(c);
        close(fd);
    }
}

/* A request that waits is answered by the event carrying its seq; other
 * clients are served meanwhile. */
static void test_wait(void)
{
    uint32_t next = comp_next_seq() + 1;
    int fd = connect_to(sock);
    json_t *a, *b;

    send_text(fd, "{\"v\":1,\"cmd\":\"provision\",\"component\":\"out:o\",\"wait_ms\":5000}\n");
    /* others are answered while it waits */
    b = ask("{\"v\":1,\"cmd\":\"status\"}\n");
    CU_ASSERT_TRUE(is_ok(b));
    json_decref(b);
    CU_ASSERT_PTR_NULL(read_line(fd, 100));       /* not yet */
    evlog_emit_seq(events, "s", "out:o.backup", EV_INFO, 0, next, "opening");    /* not an outcome */
    evlog_emit_seq(events, "s", "out:o.backup", EV_PROVISIONED, 0, next + 100, "another's");
    CU_ASSERT_PTR_NULL(read_line(fd, 100));
    evlog_emit_seq(events, "s", "out:o.backup", EV_PROVISIONED, 0, next, "connected, header written");
    a = read_line(fd, 2000);
    CU_ASSERT_TRUE(is_ok(a));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(a, "seq")), next);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(a, "outcome")), "provisioned");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(a, "event"), "cause")),
                           "connected, header written");
    json_decref(a);

    /* refused */
    next = comp_next_seq() + 1;
    send_text(fd, "{\"v\":1,\"cmd\":\"switch\",\"component\":\"s/enc:r\",\"instance\":\"backup\","
              "\"wait_ms\":5000}\n");
    av_usleep(50000);
    evlog_emit_seq(events, "s", "enc:r", EV_REFUSED, 0, next, "the standby failed to open");
    a = read_line(fd, 2000);
    CU_ASSERT_FALSE(is_ok(a));
    CU_ASSERT_PTR_NOT_NULL(strstr(error_of(a), "the standby failed to open"));
    json_decref(a);

    /* no outcome: a time-out, and the connection serves the next request */
    send_text(fd, "{\"v\":1,\"cmd\":\"release\",\"component\":\"out:o\",\"wait_ms\":200}\n"
              "{\"v\":1,\"cmd\":\"status\"}\n");
    a = read_line(fd, 2000);
    CU_ASSERT_FALSE(is_ok(a));
    CU_ASSERT_PTR_NOT_NULL(strstr(error_of(a), "no outcome within 200 ms"));
    json_decref(a);
    a = read_line(fd, 2000);
    CU_ASSERT_TRUE(is_ok(a));
    json_decref(a);
    close(fd);
}

/* A follower gets the events as they come; one that does not read is
 * dropped and holds no one up. */
static void test_follow(void)
{
    char cause[400];
    int fd = connect_to(sock), slow = connect_to(sock), lines = 0, closed = 0;
    json_t *a;
    int64_t t0;

    send_text(fd, "{\"v\":1,\"cmd\":\"events\",\"follow\":true,\"last\":0}\n");
    a = read_line(fd, 2000);
    CU_ASSERT_TRUE(is_ok(a));
    json_decref(a);
    evlog_emit(events, "s", "out:o", EV_WARNING, 0, "a warning");
    a = read_line(fd, 2000);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(a, "event"), "cause")),
                           "a warning");
    json_decref(a);
    close(fd);

    send_text(slow, "{\"v\":1,\"cmd\":\"events\",\"follow\":true}\n");
    memset(cause, 'w', sizeof(cause) - 1);
    cause[sizeof(cause) - 1] = 0;
    t0 = av_gettime_relative();
    for (int i = 0; i < 20000; i++) {
        evlog_emit(events, "s", "out:o", EV_INFO, 0, "%d %s", i, cause);
        if (i % 500 == 0)
            av_usleep(2000);      /* the loop gets to run */
    }
    /* the sink never blocked the emitter */
    CU_ASSERT(av_gettime_relative() - t0 < 10000000);
    /* others are served */
    a = ask("{\"v\":1,\"cmd\":\"status\"}\n");
    CU_ASSERT_TRUE(is_ok(a));
    json_decref(a);
    /* the slow one was dropped: its stream ends before the 20000th event */
    for (;;) {
        char buf[65536];
        struct pollfd p = { .fd = slow, .events = POLLIN };
        ssize_t n;
        if (poll(&p, 1, 3000) <= 0)
            break;
        n = recv(slow, buf, sizeof(buf), 0);
        if (n <= 0) {
            closed = n == 0;
            break;
        }
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
    }
    CU_ASSERT_TRUE(closed);
    CU_ASSERT(lines < 20000);
    close(slow);
}

static void test_clients(void)
{
    int fds[CONTROL_MAX_CLIENTS + 1], extra;
    json_t *a;

    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
        fds[i] = connect_to(sock);
    av_usleep(100000);
    extra = connect_to(sock);
    CU_ASSERT(extra >= 0);
    a = read_line(extra, 2000);
    CU_ASSERT_PTR_NOT_NULL(strstr(error_of(a), "too many clients"));
    json_decref(a);
    close(extra);
    /* the silent ones hold slots, nothing else: one goes, the next is served */
    close(fds[0]);
    av_usleep(100000);
    a = ask("{\"v\":1,\"cmd\":\"status\"}\n");
    CU_ASSERT_TRUE(is_ok(a));
    json_decref(a);
    for (int i = 1; i < CONTROL_MAX_CLIENTS; i++)
        close(fds[i]);
    av_usleep(100000);
}

static void test_stop(void)
{
    json_t *a = ask("{\"v\":1,\"cmd\":\"stop\"}\n");

    CU_ASSERT_TRUE(is_ok(a));
    CU_ASSERT_EQUAL(stops, 1);
    CU_ASSERT_EQUAL(stops_now, 0);
    json_decref(a);
    a = ask("{\"v\":1,\"cmd\":\"stop\",\"now\":\"yes\"}\n");
    CU_ASSERT_FALSE(is_ok(a));
    CU_ASSERT_EQUAL(stops, 1);
    json_decref(a);
}

/* The socket's life: a live one refuses another, a stale one is
 * replaced, a file that is not a socket is left alone. */
static void test_socket_life(void)
{
    char err[512], other[100];
    Control *c2 = NULL;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;
    FILE *f;

    CU_ASSERT_EQUAL(control_alloc(&c2, sock, NULL, err, sizeof(err)), AVERROR(EADDRINUSE));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "already running"));
    CU_ASSERT_PTR_NULL(c2);

    /* a socket nobody accepts on: what a killed run leaves */
    snprintf(other, sizeof(other), "%s/stale.sock", tmpdir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", other);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CU_ASSERT_EQUAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    CU_ASSERT_EQUAL(control_alloc(&c2, other, NULL, err, sizeof(err)), 0);
    CU_ASSERT_PTR_NOT_NULL(c2);
    CU_ASSERT_EQUAL(connect_to(other) >= 0, 1);
    control_free(&c2);
    CU_ASSERT_NOT_EQUAL(access(other, F_OK), 0);     /* removed */
    control_free(&c2);                               /* NULL-safe */

    snprintf(other, sizeof(other), "%s/plain.sock", tmpdir);
    f = fopen(other, "w");
    fclose(f);
    CU_ASSERT_EQUAL(control_alloc(&c2, other, NULL, err, sizeof(err)), AVERROR(EEXIST));
    CU_ASSERT_EQUAL(access(other, F_OK), 0);         /* left alone */
}

static void test_paths(void)
{
    char buf[256], err[256];

    control_job_name("/srv/jobs/news.yaml", buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "news");
    control_job_name("sport.yml", buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "sport");
    control_job_name("a/b/c", buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "c");

    setenv("XDG_RUNTIME_DIR", tmpdir, 1);
    CU_ASSERT_EQUAL(control_socket_path(job, 1, buf, sizeof(buf), err, sizeof(err)), 0);
    {
        char want[256];
        struct stat st;
        snprintf(want, sizeof(want), "%s/hotspare/job.sock", tmpdir);
        CU_ASSERT_STRING_EQUAL(buf, want);
        snprintf(want, sizeof(want), "%s/hotspare", tmpdir);
        CU_ASSERT_EQUAL(stat(want, &st), 0);
        CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);
    }
    unsetenv("XDG_RUNTIME_DIR");
    CU_ASSERT_EQUAL(control_socket_path(job, 0, buf, sizeof(buf), err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(buf, "./job.sock");
}

int main(int argc, char **argv)
{
    static const struct { const char *name; CU_TestFunc fn; } tests[] = {
        { "protocol: answers and errors", test_protocol },
        { "a request waits for its outcome", test_wait },
        { "followers, and a slow one dropped", test_follow },
        { "client limit", test_clients },
        { "stop", test_stop },
        { "stale, live and foreign sockets", test_socket_life },
        { "default paths", test_paths },
    };
    ControlHooks hooks = { .stop = on_stop };
    char path[128], err[512], cmd[160];
    JobDiag d = { 0 };
    CU_pSuite s;
    FILE *f;
    int failures;

    av_log_set_level(argc > 1 && !strcmp(argv[1], "-v") ? AV_LOG_INFO : AV_LOG_QUIET);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/hs-control-test-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    snprintf(path, sizeof(path), "%s/job.yaml", tmpdir);
    snprintf(sock, sizeof(sock), "%s/ctl.sock", tmpdir);
    f = fopen(path, "w");
    if (!f)
        return 1;
    fprintf(f, "version: 1\n"
            "streams:\n"
            "  - name: s\n"
            "    input: { url: \"testsrc2=size=64x64:rate=10\", format: lavfi }\n"
            "    audio: false\n"
            "    renditions: [ { name: r, backup: { encoder: libx264 } } ]\n"
            "    outputs: [ { name: o, format: mpegts, url: %s/o.ts, backup: { url: %s/b.ts } } ]\n",
            tmpdir, tmpdir);
    fclose(f);
    if (job_load(path, &job, &d) < 0) {
        for (int i = 0; i < d.nb_msgs; i++)
            fprintf(stderr, "%s\n", d.msgs[i]);
        return 1;
    }
    job_diag_free(&d);
    /* pipelines that never start: requests reach their mailboxes, the
     * test plays the data plane's part by emitting the outcome events */
    if (evlog_alloc(&events, NULL) < 0 || ecg_alloc(&graph, job, events, &stop_flag) < 0 ||
        control_alloc(&ctl, sock, events, err, sizeof(err)) < 0 ||
        control_start(ctl, graph, &hooks) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        return 1;
    }

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("control", NULL, NULL);
    if (!s)
        return 1;
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return 1;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();

    control_stop(ctl);
    if (access(sock, F_OK) == 0) {
        fprintf(stderr, "control_stop left %s\n", sock);
        failures++;
    }
    ecg_free(&graph);
    evlog_free(&events);
    control_free(&ctl);
    job_free(&job);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return failures;
}
