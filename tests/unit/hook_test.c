/*
 * hook_test.c: exec hooks (src/dra/hook.c, src/core/hookarg.c) with real
 * processes: the argv a child receives, the url= line on its stdout (and
 * its parser on synthetic text), a failure's
 * status and stderr, a hang killed at its deadline with the child it
 * forked, bounded output, the events and what they must not show, and no
 * zombie after any of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "core/event.h"
#include "core/hookarg.h"
#include "core/log.h"
#include "dra/hook.h"

static char tmpdir[64];

/* ---- events: the last ones, as a sink sees them ------------------------ */

#define MAX_EVENTS 16

static struct { EventKind kind; char component[64]; char cause[1024]; } events[MAX_EVENTS];
static int nb_events;

static void sink(void *opaque, const Event *ev)
{
    if (nb_events < MAX_EVENTS) {
        events[nb_events].kind = ev->kind;
        snprintf(events[nb_events].component, sizeof(events[0].component), "%s", ev->component);
        snprintf(events[nb_events].cause, sizeof(events[0].cause), "%s", ev->cause);
    }
    nb_events++;
}

static EventLog *el;

/* ---- helpers ------------------------------------------------------------ */

/* The args of a hook for news/enc:720p.backup at risk 0.87654. */
static DraHookArgs args_for(char *const *argv, int64_t timeout_us)
{
    DraHookArgs a = {
        .what = "provision",
        .argv = argv,
        .id = { .stream = "news", .kind = COMP_ENCODER, .name = "720p", .instance = 1 },
        .risk = 0.87654,
        .timeout_us = timeout_us,
        .events = el,
    };
    return a;
}

/* Runs argv to its end; returns the finished hook (the caller frees it). */
static DraHook *run(char *const *argv, int64_t timeout_us)
{
    DraHookArgs a = args_for(argv, timeout_us);
    DraHook *h = NULL;

    nb_events = 0;
    CU_ASSERT_EQUAL_FATAL(dra_hook_run(&h, &a), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dra_hook_result(h));
    return h;
}

/* No child of this process is left, running or zombie. */
static void assert_no_children(void)
{
    int status;
    pid_t r = waitpid(-1, &status, WNOHANG);

    CU_ASSERT_EQUAL(r, -1);
    CU_ASSERT_EQUAL(errno, ECHILD);
}

static void path_in_tmp(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

static char *read_file(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* Is pid gone: no process, or a zombie waiting for its new parent (not
 * us: it was orphaned)? Waits up to 2 s for the kill to take effect. */
static int gone(pid_t pid)
{
    for (int i = 0; i < 200; i++) {
        char p[64], *stat;
        const char *paren;

        snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
        stat = read_file(p);
        if (!stat)
            return 1;
        paren = strrchr(stat, ')');
        if (paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'))
            return 1;
        av_usleep(10000);
    }
    return 0;
}

/* ---- placeholders ------------------------------------------------------- */

static void test_check(void)
{
    char *ok[] = { "notify", "--stream={stream}", "{component}.{instance}", "{risk}",
                   "{{literal}}", "", NULL };
    char *unknown[] = { "notify", "{stream}", "--to={strem}", NULL };
    char *open_[] = { "notify", "{stream", NULL };
    char *lone[] = { "notify", "a}b", NULL };
    char *empty[] = { NULL };
    char *empty_cmd[] = { "", "x", NULL };
    char buf[256], msg[256];

    CU_ASSERT_PTR_NULL(dra_hook_check(ok, buf, sizeof(buf)));
    CU_ASSERT_PTR_EQUAL(dra_hook_check(unknown, buf, sizeof(buf)), buf);
    CU_ASSERT_STRING_EQUAL(buf, "argument 3: unknown placeholder '{strem}' (expected "
                           "{stream}, {component}, {instance}, {risk}, or {{ and }} for braces)");
    CU_ASSERT_PTR_NOT_NULL(dra_hook_check(open_, buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, "argument 2: '{stream' is not closed (write '{{' for a brace)");
    CU_ASSERT_PTR_NOT_NULL(dra_hook_check(lone, buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, "argument 2: a '}' alone (write '}}' for a brace)");
    CU_ASSERT_PTR_NOT_NULL(dra_hook_check(empty, buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, "the hook is empty: it needs a command and its arguments");
    CU_ASSERT_PTR_NOT_NULL(dra_hook_check(NULL, buf, sizeof(buf)));
    CU_ASSERT_PTR_NOT_NULL(dra_hook_check(empty_cmd, buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, "the hook's command (argument 1) is empty");

    CU_ASSERT_EQUAL(hookarg_check("{}", msg, sizeof(msg)), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(hookarg_check("{{}}{{{stream}}}", msg, sizeof(msg)), 0);
    CU_ASSERT_STRING_EQUAL(hookarg_var_name(HOOKARG_RISK), "risk");
    CU_ASSERT_PTR_NULL(hookarg_var_name(HOOKARG_NB_VARS));
}

static void test_expand(void)
{
    const char *values[HOOKARG_NB_VARS] = { "news", "enc:720p", "1", "0.877" };
    char *out;

    CU_ASSERT_EQUAL(hookarg_expand("{{{stream}}}/{component}.{instance}@{risk}{{", values, &out), 0);
    CU_ASSERT_STRING_EQUAL(out, "{news}/enc:720p.1@0.877{");
    av_free(out);
    CU_ASSERT_EQUAL(hookarg_expand("", values, &out), 0);
    CU_ASSERT_STRING_EQUAL(out, "");
    av_free(out);
    CU_ASSERT_EQUAL(hookarg_expand("x{bad}", values, &out), AVERROR(EINVAL));
    CU_ASSERT_PTR_NULL(out);
}

/* A refused argv never starts a process. */
static void test_start_refused(void)
{
    char *bad[] = { "true", "{region}", NULL };
    char *good[] = { "true", NULL };
    DraHookArgs a = args_for(bad, 1000000);
    DraHook *h = (DraHook *)&h;

    CU_ASSERT_EQUAL(dra_hook_start(&h, &a, av_gettime_relative()), AVERROR(EINVAL));
    CU_ASSERT_PTR_NULL(h);
    a = args_for(good, 0);                      /* no deadline */
    CU_ASSERT_EQUAL(dra_hook_start(&h, &a, av_gettime_relative()), AVERROR(EINVAL));
    CU_ASSERT_PTR_NULL(h);
    dra_hook_free(&h);                          /* NULL is fine */
    assert_no_children();
}

/* ---- real processes ----------------------------------------------------- */

/* The child gets the expanded argv, element for element. */
static void test_argv_reaches_child(void)
{
    char file[128], script[256];
    char *argv[] = { "/bin/sh", "-c", script, "sh", "{stream}", "{component}", "{instance}",
                     "{risk}", "a b {{c}}", "{stream}-{instance}", "", NULL };
    const DraHookResult *r;
    DraHook *h;
    char *got;

    path_in_tmp(file, sizeof(file), "argv.txt");
    snprintf(script, sizeof(script), "printf '%%s|\\n' \"$@\" > %s", file);
    h = run(argv, 5000000);
    r = dra_hook_result(h);
    CU_ASSERT_TRUE(r->ok);
    CU_ASSERT_EQUAL(r->exit_status, 0);
    CU_ASSERT_EQUAL(r->signal, 0);
    CU_ASSERT_EQUAL(r->error, 0);
    CU_ASSERT_PTR_NULL(r->url);
    got = read_file(file);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_STRING_EQUAL(got, "news|\nenc:720p|\n1|\n0.877|\na b {c}|\nnews-1|\n|\n");
    unlink(file);
    dra_hook_free(&h);
    CU_ASSERT_PTR_NULL(h);
    CU_ASSERT_EQUAL(nb_events, 1);
    CU_ASSERT_EQUAL(events[0].kind, EV_INFO);
    CU_ASSERT_STRING_EQUAL(events[0].component, "enc:720p.backup");
    CU_ASSERT_PTR_NOT_NULL(strstr(events[0].cause, "provision hook done in "));
    assert_no_children();
}

/* The stdout protocol, on synthetic text: one url= line, among the hook's
 * own lines, names the backup; none is no URL; two, or one that is not a
 * URL, is an error that never quotes the value. */
static void test_parse_url(void)
{
    static const char one[] = "job.batch/hs-news-1 created\n"
                              "  url=  rtmp://edge.example.com/live/k3y  \r\n"
                              "see http://dashboard.example/x\n";
    static const char none[] = "rtmp://a/b/c\nstarted\nURL=rtmp://upper/case\nurl\n";
    static const char two[] = "url=srt://a.example:9000\nwaiting\nurl=srt://b.example:9000\n";
    static const char bad[] = "url=encoder-7 is up\n";
    static const char empty[] = "url=\n";
    static const char last[] = "x\nurl=https://u:p4ss@origin.example/up/index.m3u8";
    const char *url;
    size_t n;
    char why[160], big[COMP_URL_SIZE + 32];

    CU_ASSERT_EQUAL(dra_hook_parse_url(one, strlen(one), &url, &n, why, sizeof(why)), 1);
    CU_ASSERT_EQUAL(n, strlen("rtmp://edge.example.com/live/k3y"));
    CU_ASSERT_NSTRING_EQUAL(url, "rtmp://edge.example.com/live/k3y", n);
    /* no NUL needed: the last line may end the buffer */
    CU_ASSERT_EQUAL(dra_hook_parse_url(last, strlen(last), &url, &n, why, sizeof(why)), 1);
    CU_ASSERT_EQUAL(n, strlen("https://u:p4ss@origin.example/up/index.m3u8"));
    CU_ASSERT_EQUAL(dra_hook_parse_url(last, strlen(last) - 5, &url, &n, why, sizeof(why)), 1);
    CU_ASSERT_EQUAL(n, strlen("https://u:p4ss@origin.example/up/index"));

    /* a bare URL, an upper-case key, a key alone: no url= line */
    CU_ASSERT_EQUAL(dra_hook_parse_url(none, strlen(none), &url, &n, why, sizeof(why)), 0);
    CU_ASSERT_PTR_NULL(url);
    CU_ASSERT_EQUAL(dra_hook_parse_url("", 0, &url, &n, why, sizeof(why)), 0);

    CU_ASSERT_EQUAL(dra_hook_parse_url(two, strlen(two), &url, &n, why, sizeof(why)), AVERROR(EINVAL));
    CU_ASSERT_PTR_NULL(url);
    CU_ASSERT_STRING_EQUAL(why, "two url= lines (lines 1 and 3): which backup is meant is not clear");
    CU_ASSERT_EQUAL(dra_hook_parse_url(bad, strlen(bad), &url, &n, why, sizeof(why)), AVERROR(EINVAL));
    CU_ASSERT_STRING_EQUAL(why, "the url= line (line 1) is not a URL (scheme://...)");
    CU_ASSERT_PTR_NULL(strstr(why, "encoder-7"));
    CU_ASSERT_EQUAL(dra_hook_parse_url(empty, strlen(empty), &url, &n, why, sizeof(why)), AVERROR(EINVAL));

    /* what a request can carry, at most */
    snprintf(big, sizeof(big), "url=http://h/");
    memset(big + strlen(big), 'a', sizeof(big) - 1 - strlen(big));
    big[sizeof(big) - 1] = 0;
    CU_ASSERT_EQUAL(dra_hook_parse_url(big, strlen(big), &url, &n, why, sizeof(why)), AVERROR(EINVAL));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "1023 at most"));
    big[4 + COMP_URL_SIZE - 1] = 0;             /* 1023 bytes: fits */
    CU_ASSERT_EQUAL(dra_hook_parse_url(big, strlen(big), &url, &n, why, sizeof(why)), 1);
    CU_ASSERT_EQUAL(n, COMP_URL_SIZE - 1);
}

/* A real hook's url= line is the backup's; its credentials and key stay
 * out of the event and, from then on, out of every log line. */
static void test_url(void)
{
    char *argv[] = { "sh", "-c", "echo 'starting encoder'; echo; "
                     "echo '  url=rtmp://edge.example.com/live/k3y-0f-the-backup  '; echo 'started'",
                     NULL };
    char *creds[] = { "sh", "-c", "echo url=http://hsuser:s3cr3t-pw@origin.example/up/x.m3u8", NULL };
    char *no_url[] = { "sh", "-c", "echo 'rtmp://a/b/c'; echo 'started'", NULL };
    char *two[] = { "sh", "-c", "echo url=rtmp://a/b/c0ffee; echo url=rtmp://d/e/f", NULL };
    char *failed[] = { "sh", "-c", "echo 'url=rtmp://a/b/c'; exit 1", NULL };
    const DraHookResult *r;
    DraHook *h = run(argv, 5000000);
    char masked[256];

    r = dra_hook_result(h);
    CU_ASSERT_TRUE(r->ok);
    CU_ASSERT_PTR_NULL(r->url_error);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->url);
    CU_ASSERT_STRING_EQUAL(r->url, "rtmp://edge.example.com/live/k3y-0f-the-backup");
    CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "starting encoder\n"));
    CU_ASSERT_EQUAL(r->out_len, strlen(r->out));
    CU_ASSERT_EQUAL(nb_events, 1);
    CU_ASSERT_EQUAL(events[0].kind, EV_INFO);
    CU_ASSERT_PTR_NOT_NULL(strstr(events[0].cause, ", backup at rtmp://edge.example.com/live/***"));
    CU_ASSERT_PTR_NULL(strstr(events[0].cause, "k3y-0f-the-backup"));
    /* and the log masks the key from now on, wherever it appears */
    log_mask("pushing to k3y-0f-the-backup", masked, sizeof(masked));
    CU_ASSERT_STRING_EQUAL(masked, "pushing to ****");
    dra_hook_free(&h);

    h = run(creds, 5000000);                    /* user:password@ */
    r = dra_hook_result(h);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->url);
    CU_ASSERT_STRING_EQUAL(r->url, "http://hsuser:s3cr3t-pw@origin.example/up/x.m3u8");
    CU_ASSERT_EQUAL(nb_events, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(events[0].cause, ", backup at http://***@origin.example/up/x.m3u8"));
    CU_ASSERT_PTR_NULL(strstr(events[0].cause, "s3cr3t-pw"));
    CU_ASSERT_PTR_NULL(strstr(events[0].cause, "hsuser"));
    log_mask("auth with hsuser:s3cr3t-pw", masked, sizeof(masked));
    CU_ASSERT_PTR_NULL(strstr(masked, "s3cr3t-pw"));
    dra_hook_free(&h);

    h = run(no_url, 5000000);                   /* a bare URL is the hook's chatter */
    CU_ASSERT_TRUE(dra_hook_result(h)->ok);
    CU_ASSERT_PTR_NULL(dra_hook_result(h)->url);
    CU_ASSERT_PTR_NULL(dra_hook_result(h)->url_error);
    CU_ASSERT_EQUAL(events[0].kind, EV_INFO);
    dra_hook_free(&h);
    h = run(two, 5000000);                      /* two: neither, and a warning */
    r = dra_hook_result(h);
    CU_ASSERT_TRUE(r->ok);
    CU_ASSERT_PTR_NULL(r->url);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->url_error);
    CU_ASSERT_EQUAL(events[0].kind, EV_WARNING);
    CU_ASSERT_PTR_NOT_NULL(strstr(events[0].cause, "provision hook done in "));
    CU_ASSERT_PTR_NOT_NULL(strstr(events[0].cause, ", but its URL is not used: two url= lines"));
    CU_ASSERT_PTR_NULL(strstr(events[0].cause, "c0ffee"));
    dra_hook_free(&h);
    h = run(failed, 5000000);                   /* a failed hook started nothing */
    CU_ASSERT_FALSE(dra_hook_result(h)->ok);
    CU_ASSERT_PTR_NULL(dra_hook_result(h)->url);
    dra_hook_free(&h);
    assert_no_children();
}

/* A failure: its status and stderr come back; the event has the first line
 * of stderr, masked. */
static void test_failure(void)
{
    char *argv[] = { "sh", "-c", "echo 'job submitted'; "
                     "echo 'error: cannot reach http://admin:pa55w0rd@api.example/v1' >&2; "
                     "echo 'second line' >&2; exit 3", NULL };
    char *sig[] = { "sh", "-c", "kill -USR1 $$", NULL };
    char *missing[] = { "hotspare-no-such-hook", "{stream}", NULL };
    const DraHookResult *r;
    DraHook *h = run(argv, 5000000);

    r = dra_hook_result(h);
    CU_ASSERT_FALSE(r->ok);
    CU_ASSERT_EQUAL(r->exit_status, 3);
    CU_ASSERT_EQUAL(r->signal, 0);
    CU_ASSERT_FALSE(r->timed_out);
    CU_ASSERT_STRING_EQUAL(r->out, "job submitted\n");
    CU_ASSERT_STRING_EQUAL(r->err, "error: cannot reach http://admin:pa55w0rd@api.example/v1\n"
                           "second line\n");
    CU_ASSERT_EQUAL(r->err_dropped, 0);
    CU_ASSERT_EQUAL(nb_events, 1);
    CU_ASSERT_EQUAL(events[0].kind, EV_WARNING);
    CU_ASSERT_PTR_NOT_NULL(strstr(events[0].cause, "provision hook failed with exit status 3 after "));
    CU_ASSERT_PTR_NOT_NULL(strstr(events[0].cause, ": error: cannot reach http://***@api.example/v1"));
    CU_ASSERT_PTR_NULL(strstr(events[0].cause, "pa55w0rd"));
    CU_ASSERT_PTR_NULL(strstr(events[0].cause, "second line"));
    dra_hook_free(&h);

    h = run(sig, 5000000);
    r = dra_hook_result(h);
    CU_ASSERT_FALSE(r->ok);
    CU_ASSERT_EQUAL(r->signal, SIGUSR1);
    CU_ASSERT_EQUAL(r->exit_status, -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(events[0].cause, "ended by signal 10"));
    dra_hook_free(&h);

    /* argv[0] not in PATH: glibc's posix_spawnp says so; under valgrind,
     * which cannot share the child's memory, the child exits 127 instead */
    h = run(missing, 5000000);
    r = dra_hook_result(h);
    CU_ASSERT_FALSE(r->ok);
    CU_ASSERT(r->error == AVERROR(ENOENT) || (!r->error && r->exit_status == 127));
    CU_ASSERT_EQUAL(nb_events, 1);
    CU_ASSERT_EQUAL(events[0].kind, EV_WARNING);
    if (r->error)
        CU_ASSERT_PTR_NOT_NULL(strstr(events[0].cause,
                                      "provision hook could not start 'hotspare-no-such-hook'"));
    dra_hook_free(&h);
    assert_no_children();
}

/*
 * Runs `sh -c SCRIPT` to its end, SCRIPT being fmt with the path of a file
 * for the pid of the child the script forks (its "%s"); *child: that pid.
 * grace_us: 0 for the default.
 */
static DraHook *run_forking(const char *fmt, int64_t timeout_us, int64_t grace_us, pid_t *child)
{
    static int nb_files;
    char file[128], name[32], script[256];
    char *argv[] = { "sh", "-c", script, NULL };
    DraHookArgs a = args_for(argv, timeout_us);
    DraHook *h = NULL;
    const char *pid;

    snprintf(name, sizeof(name), "child%d.pid", ++nb_files);
    path_in_tmp(file, sizeof(file), name);
    snprintf(script, sizeof(script), fmt, file);
    a.grace_us = grace_us;
    nb_events = 0;
    CU_ASSERT_EQUAL_FATAL(dra_hook_run(&h, &a), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dra_hook_result(h));
    pid = read_file(file);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pid);
    *child = atoi(pid);
    CU_ASSERT_FATAL(*child > 1);
    unlink(file);
    return h;
}

/* A hook that hangs is killed at its deadline, with the child it forked. */
static void test_deadline(void)
{
    const DraHookResult *r;
    pid_t child;
    DraHook *h = run_forking("sleep 60 & echo $! > %s; echo waiting >&2; wait",
                             500000, 0, &child);

    r = dra_hook_result(h);
    CU_ASSERT_FALSE(r->ok);
    CU_ASSERT_TRUE(r->timed_out);
    CU_ASSERT_EQUAL(r->signal, SIGTERM);
    CU_ASSERT(r->elapsed_us >= 500000);
    CU_ASSERT(r->elapsed_us < 3000000);
    CU_ASSERT_EQUAL(nb_events, 1);
    CU_ASSERT_EQUAL(events[0].kind, EV_WARNING);
    CU_ASSERT_STRING_EQUAL(events[0].cause,
                           "provision hook killed at its deadline after 500ms: waiting");
    dra_hook_free(&h);
    CU_ASSERT_TRUE(gone(child));
    assert_no_children();
}

/* One that ignores SIGTERM (and its child with it) gets SIGKILL after the
 * grace period. */
static void test_deadline_kill(void)
{
    const DraHookResult *r;
    pid_t child;
    DraHook *h = run_forking("trap '' TERM; sleep 60 & echo $! > %s; wait",
                             300000, 300000, &child);

    r = dra_hook_result(h);
    CU_ASSERT_TRUE(r->timed_out);
    CU_ASSERT_EQUAL(r->signal, SIGKILL);
    CU_ASSERT(r->elapsed_us >= 600000);
    CU_ASSERT(r->elapsed_us < 3000000);
    CU_ASSERT_STRING_EQUAL(events[0].cause, "provision hook killed at its deadline after 300ms");
    dra_hook_free(&h);
    CU_ASSERT_TRUE(gone(child));
    assert_no_children();
}

/* A hook that ends but leaves a child holding its stdout: the child is
 * killed, and the run is done at once, not at the deadline. */
static void test_left_behind(void)
{
    const DraHookResult *r;
    pid_t child;
    DraHook *h = run_forking("sleep 60 & echo $! > %s; echo url=http://backup.example/x",
                             10000000, 0, &child);

    r = dra_hook_result(h);
    CU_ASSERT_TRUE(r->ok);
    CU_ASSERT(r->elapsed_us < 3000000);
    CU_ASSERT_PTR_NOT_NULL(r->url);
    dra_hook_free(&h);
    CU_ASSERT_TRUE(gone(child));
    assert_no_children();
}

/* stdout keeps its last bytes, stderr its first; the rest is counted. */
static void test_bounded_output(void)
{
    char *argv[] = { "sh", "-c",
                     "head -c 300000 /dev/zero | tr '\\0' a; echo; echo url=https://x.example/y; "
                     "head -c 200000 /dev/zero | tr '\\0' e >&2", NULL };
    DraHookArgs a = args_for(argv, 10000000);
    const DraHookResult *r;
    DraHook *h = NULL;

    a.max_output = 64 * 1024;
    CU_ASSERT_EQUAL_FATAL(dra_hook_run(&h, &a), 0);
    r = dra_hook_result(h);
    CU_ASSERT_TRUE(r->ok);
    CU_ASSERT_EQUAL(r->out_len, 65536);
    CU_ASSERT_EQUAL(strlen(r->out), 65536);
    CU_ASSERT_EQUAL(r->out_dropped, 300000 + 1 + 24 - 65536);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->url);
    CU_ASSERT_STRING_EQUAL(r->url, "https://x.example/y");
    CU_ASSERT_EQUAL(r->err_len, 65536);
    CU_ASSERT_EQUAL(r->err_dropped, 200000 - 65536);
    CU_ASSERT_EQUAL(r->err[0], 'e');
    dra_hook_free(&h);

    /* the default bound */
    a.max_output = 0;
    CU_ASSERT_EQUAL_FATAL(dra_hook_run(&h, &a), 0);
    CU_ASSERT_EQUAL(dra_hook_result(h)->out_len, DRA_HOOK_MAX_OUTPUT);
    CU_ASSERT_EQUAL(dra_hook_result(h)->err_len, DRA_HOOK_MAX_OUTPUT);
    dra_hook_free(&h);
    assert_no_children();
}

/* start + poll from a tick: never waits; the result only once done. */
static void test_async(void)
{
    char *argv[] = { "sh", "-c", "sleep 0.3; echo done", NULL };
    DraHookArgs a = args_for(argv, 5000000);
    DraHook *h = NULL;
    int64_t t0 = av_gettime_relative(), t;
    int polls = 0, done = 0;

    nb_events = 0;
    CU_ASSERT_EQUAL_FATAL(dra_hook_start(&h, &a, t0), 0);
    CU_ASSERT_PTR_NULL(dra_hook_result(h));
    while (!done && av_gettime_relative() - t0 < 5000000) {
        t = av_gettime_relative();
        done = dra_hook_poll(h, t);
        CU_ASSERT(av_gettime_relative() - t < 50000);     /* a poll does not wait */
        polls++;
        if (!done)
            av_usleep(10000);
    }
    CU_ASSERT_TRUE(done);
    CU_ASSERT(polls > 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dra_hook_result(h));
    CU_ASSERT_STRING_EQUAL(dra_hook_result(h)->out, "done\n");
    CU_ASSERT(dra_hook_result(h)->elapsed_us >= 300000);
    CU_ASSERT_EQUAL(dra_hook_poll(h, av_gettime_relative()), 1);   /* again: nothing new */
    CU_ASSERT_EQUAL(nb_events, 1);
    dra_hook_free(&h);
    assert_no_children();
}

/* Freed while it runs: killed, reaped, and its event says so. */
static void test_cancel(void)
{
    char *argv[] = { "sleep", "60", NULL };
    DraHookArgs a = args_for(argv, 60000000);
    DraHook *h = NULL;
    int64_t t0 = av_gettime_relative();

    nb_events = 0;
    CU_ASSERT_EQUAL_FATAL(dra_hook_start(&h, &a, t0), 0);
    CU_ASSERT_EQUAL(dra_hook_poll(h, av_gettime_relative()), 0);
    dra_hook_free(&h);
    CU_ASSERT_PTR_NULL(h);
    CU_ASSERT(av_gettime_relative() - t0 < 2000000);
    CU_ASSERT_EQUAL(nb_events, 1);
    CU_ASSERT_EQUAL(events[0].kind, EV_WARNING);
    CU_ASSERT_STRING_EQUAL(events[0].cause, "provision hook cancelled before it was done");
    assert_no_children();
}

/* stdin is /dev/null (a hook reading it ends at once), and no descriptor
 * of ours reaches the hook. */
static void test_stdin_and_fds(void)
{
    char *argv[] = { "sh", "-c", "cat; if [ -e /proc/self/fd/50 ]; then echo leaked; "
                     "else echo clean; fi", NULL };
    int fd = open("/dev/null", O_RDONLY);
    DraHook *h;

    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(dup2(fd, 50) == 50);        /* not close-on-exec */
    h = run(argv, 5000000);
    CU_ASSERT_TRUE(dra_hook_result(h)->ok);
    CU_ASSERT_FALSE(dra_hook_result(h)->timed_out);
    CU_ASSERT_STRING_EQUAL(dra_hook_result(h)->out, "clean\n");
    dra_hook_free(&h);
    close(50);
    close(fd);
    assert_no_children();
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
    static const struct { const char *name; CU_TestFunc fn; } tests[] = {
        { "check", test_check },
        { "expand", test_expand },
        { "start refused", test_start_refused },
        { "argv reaches the child", test_argv_reaches_child },
        { "url= line: the parser", test_parse_url },
        { "url= line from a hook", test_url },
        { "failure", test_failure },
        { "deadline: SIGTERM, with its child", test_deadline },
        { "deadline: SIGKILL after the grace", test_deadline_kill },
        { "a child left behind", test_left_behind },
        { "bounded output", test_bounded_output },
        { "async start and poll", test_async },
        { "cancel", test_cancel },
        { "stdin and descriptors", test_stdin_and_fds },
    };
    CU_pSuite s;
    int failures;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/hs-hook-test-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    av_log_set_level(argc > 1 && !strcmp(argv[1], "-v") ? AV_LOG_VERBOSE : AV_LOG_QUIET);
    if (evlog_alloc(&el, NULL) < 0 || evlog_add_sink(el, sink, NULL) < 0)
        return 1;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("hook", NULL, NULL);
    if (!s)
        return 1;
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return 1;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    evlog_free(&el);
    rmdir(tmpdir);                              /* each test removed its files */
    return failures;
}
