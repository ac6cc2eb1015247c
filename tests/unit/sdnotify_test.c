/*
 * sdnotify_test.c: the notify protocol's pure parts (src/core/sdnotify.c):
 * the socket address (path, abstract), the watchdog's variables, the
 * watchdog decision on synthetic heartbeat ages, READY and the STATUS
 * line; one datagram sent to a socket of the test's own; and the pid
 * file's parsing and program check (src/core/pidfile.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <libavutil/error.h>

#include "core/pidfile.h"
#include "core/sdnotify.h"

static void test_address(void)
{
    struct sockaddr_un sa;
    socklen_t len = 0;

    CU_ASSERT_EQUAL(sdn_parse_address("/run/systemd/notify", &sa, &len), 0);
    CU_ASSERT_STRING_EQUAL(sa.sun_path, "/run/systemd/notify");
    CU_ASSERT_EQUAL(len, offsetof(struct sockaddr_un, sun_path) + strlen("/run/systemd/notify") + 1);
    /* abstract: a NUL first, and the length stops at the name's end */
    CU_ASSERT_EQUAL(sdn_parse_address("@hs/notify", &sa, &len), 0);
    CU_ASSERT_EQUAL(sa.sun_path[0], '\0');
    CU_ASSERT_EQUAL(memcmp(sa.sun_path + 1, "hs/notify", 9), 0);
    CU_ASSERT_EQUAL(len, offsetof(struct sockaddr_un, sun_path) + 10);
    CU_ASSERT_EQUAL(sdn_parse_address("", &sa, &len), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(sdn_parse_address(NULL, &sa, &len), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(sdn_parse_address("@", &sa, &len), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(sdn_parse_address("run/notify", &sa, &len), AVERROR(EINVAL));
    {
        char longp[200];
        memset(longp, 'a', sizeof(longp) - 1);
        longp[0] = '/';
        longp[sizeof(longp) - 1] = '\0';
        CU_ASSERT_EQUAL(sdn_parse_address(longp, &sa, &len), AVERROR(EINVAL));
    }
}

static void test_watchdog_env(void)
{
    CU_ASSERT_EQUAL(sdn_parse_watchdog("10000000", NULL, 42), 10000000);
    CU_ASSERT_EQUAL(sdn_parse_watchdog("10000000", "42", 42), 10000000);
    /* meant for another process (a child that inherited the variables) */
    CU_ASSERT_EQUAL(sdn_parse_watchdog("10000000", "43", 42), 0);
    CU_ASSERT_EQUAL(sdn_parse_watchdog("10000000", "x", 42), 0);
    CU_ASSERT_EQUAL(sdn_parse_watchdog(NULL, "42", 42), 0);
    CU_ASSERT_EQUAL(sdn_parse_watchdog("", NULL, 42), 0);
    CU_ASSERT_EQUAL(sdn_parse_watchdog("0", NULL, 42), 0);
    CU_ASSERT_EQUAL(sdn_parse_watchdog("-5", NULL, 42), 0);
    CU_ASSERT_EQUAL(sdn_parse_watchdog("10s", NULL, 42), 0);
    CU_ASSERT_EQUAL(sdn_parse_watchdog("99999999999999999999", NULL, 42), 0);
}

static void test_alive(void)
{
    const int64_t healthy[] = { 10000, SDN_NO_BEAT, 1900000, 0 };
    const int64_t wedged[] = { 10000, 2500000, SDN_NO_BEAT, 9000000 };
    const int64_t ended[] = { SDN_NO_BEAT, SDN_NO_BEAT };
    int which = 99;

    CU_ASSERT_EQUAL(sdn_alive(healthy, 4, 2000000, 500000, 3000000, &which), 1);
    CU_ASSERT_EQUAL(which, -1);
    /* at the bound is still alive; past it is not */
    CU_ASSERT_EQUAL(sdn_alive((const int64_t[]){ 2000000 }, 1, 2000000, 0, 3000000, NULL), 1);
    CU_ASSERT_EQUAL(sdn_alive((const int64_t[]){ 2000001 }, 1, 2000000, 0, 3000000, NULL), 0);
    /* the oldest stale heartbeat is the one named */
    CU_ASSERT_EQUAL(sdn_alive(wedged, 4, 2000000, 500000, 3000000, &which), 0);
    CU_ASSERT_EQUAL(which, 3);
    /* stages that ended (normally or failed) or never beat say nothing */
    CU_ASSERT_EQUAL(sdn_alive(ended, 2, 2000000, 500000, 3000000, &which), 1);
    CU_ASSERT_EQUAL(sdn_alive(NULL, 0, 2000000, 500000, 3000000, &which), 1);
    /* the tick: not run yet is the start; past its bound is wedged */
    CU_ASSERT_EQUAL(sdn_alive(healthy, 4, 2000000, -1, 3000000, &which), 1);
    CU_ASSERT_EQUAL(sdn_alive(healthy, 4, 2000000, 3000001, 3000000, &which), 0);
    CU_ASSERT_EQUAL(which, -1);
}

static void test_wedge_bound(void)
{
    CU_ASSERT_EQUAL(sdn_wedge_bound(5000000), 10000000);
    CU_ASSERT_EQUAL(sdn_wedge_bound(1000000), 2000000);
    CU_ASSERT_EQUAL(sdn_wedge_bound(300000), SDN_MIN_WEDGE_US);
    CU_ASSERT_EQUAL(sdn_wedge_bound(0), SDN_MIN_WEDGE_US);
}

static void test_ready_summary(void)
{
    const SdnStreamState mix[] = { SDN_ON_AIR, SDN_ON_BACKUP, SDN_FAILED, SDN_ON_AIR };
    const SdnStreamState start[] = { SDN_ON_AIR, SDN_STARTING };
    const SdnStreamState one[] = { SDN_ENDED };
    char buf[128];

    CU_ASSERT_EQUAL(sdn_ready(mix, 4), 1);
    CU_ASSERT_EQUAL(sdn_ready(start, 2), 0);
    CU_ASSERT_EQUAL(sdn_ready(one, 1), 1);
    CU_ASSERT_EQUAL(sdn_ready(NULL, 0), 1);
    CU_ASSERT(sdn_summary(mix, 4, buf, sizeof(buf)) > 0);
    CU_ASSERT_STRING_EQUAL(buf, "4 streams: 2 on air, 1 on backup, 1 failed");
    sdn_summary(start, 2, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "2 streams: 1 on air, 0 on backup, 0 failed, 1 starting");
    sdn_summary(one, 1, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "1 stream: 0 on air, 0 on backup, 0 failed, 1 ended");
    /* too small: ENOSPC, the buffer still terminated */
    CU_ASSERT_EQUAL(sdn_summary(start, 2, buf, 20), AVERROR(ENOSPC));
    CU_ASSERT_EQUAL(strlen(buf), 19);
}

/* A datagram through the real path: the environment read and cleared, the
 * message received whole by a socket of ours. */
static void test_send(void)
{
    char dir[] = "/tmp/sdn-test-XXXXXX", path[64], err[256] = "", got[64];
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    SdNotify *n = NULL;
    int fd;
    ssize_t len;

    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/notify", dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);

    unsetenv("NOTIFY_SOCKET");
    CU_ASSERT_EQUAL(sdn_alloc(&n, err, sizeof(err)), 0);
    CU_ASSERT_PTR_NULL(n);        /* no manager: nothing to do */
    CU_ASSERT_EQUAL(sdn_send(n, "READY=1"), 0);

    setenv("NOTIFY_SOCKET", "relative", 1);
    CU_ASSERT_EQUAL(sdn_alloc(&n, err, sizeof(err)), AVERROR(EINVAL));
    CU_ASSERT_PTR_NULL(n);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "relative"));

    setenv("NOTIFY_SOCKET", path, 1);
    setenv("WATCHDOG_USEC", "4000000", 1);
    setenv("WATCHDOG_PID", "1", 1);     /* not us */
    CU_ASSERT_EQUAL(sdn_alloc(&n, err, sizeof(err)), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_EQUAL(sdn_watchdog_us(n), 0);
    CU_ASSERT_PTR_NULL(getenv("NOTIFY_SOCKET"));
    CU_ASSERT_PTR_NULL(getenv("WATCHDOG_USEC"));
    CU_ASSERT_PTR_NULL(getenv("WATCHDOG_PID"));
    CU_ASSERT_EQUAL(sdn_send(n, "READY=1\nSTATUS=ok"), 0);
    len = recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT);
    CU_ASSERT_EQUAL(len, 17);
    if (len >= 0) {
        got[len] = '\0';
        CU_ASSERT_STRING_EQUAL(got, "READY=1\nSTATUS=ok");
    }
    sdn_free(&n);
    sdn_free(&n);                 /* NULL-safe */
    CU_ASSERT_PTR_NULL(n);

    close(fd);
    unlink(path);
    rmdir(dir);
}

static void write_pid(const char *path, pid_t pid)
{
    FILE *f = fopen(path, "w");

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "%d\n", (int)pid);
    fclose(f);
}

static void test_pidfile(void)
{
    char dir[] = "/tmp/pid-test-XXXXXX", path[128], err[256], text[32];
    FILE *f;
    pid_t child;

    CU_ASSERT_EQUAL(pidfile_parse("1234\n"), 1234);
    CU_ASSERT_EQUAL(pidfile_parse("1234"), 1234);
    CU_ASSERT_EQUAL(pidfile_parse(""), -1);
    CU_ASSERT_EQUAL(pidfile_parse("0\n"), -1);
    CU_ASSERT_EQUAL(pidfile_parse("-3\n"), -1);
    CU_ASSERT_EQUAL(pidfile_parse("12 34\n"), -1);
    CU_ASSERT_EQUAL(pidfile_parse("99999999999\n"), -1);
    CU_ASSERT_EQUAL(pidfile_parse(NULL), -1);

    CU_ASSERT(pidfile_same_program("/usr/local/bin/hotspare", "/work/x/hotspare"));
    CU_ASSERT(pidfile_same_program("/usr/local/bin/hotspare (deleted)", "/usr/local/bin/hotspare"));
    CU_ASSERT(!pidfile_same_program("/usr/bin/python3.11", "/usr/local/bin/hotspare"));

    /* written, kept by its owner, stale (our own pid counts as stale: a
     * restart that got the same pid), removed only when it is ours */
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/run.pid", dir);
    CU_ASSERT_EQUAL(pidfile_write(path, err, sizeof(err)), 0);
    f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_PTR_NOT_NULL(fgets(text, sizeof(text), f));
    fclose(f);
    CU_ASSERT_EQUAL(pidfile_parse(text), getpid());
    CU_ASSERT_EQUAL(pidfile_write(path, err, sizeof(err)), 1);
    /* a live process of this program: refused, the file left alone */
    if ((child = fork()) == 0) {
        pause();
        _exit(0);
    }
    CU_ASSERT_FATAL(child > 0);
    write_pid(path, child);
    CU_ASSERT_EQUAL(pidfile_write(path, err, sizeof(err)), AVERROR(EEXIST));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "names a running hotspare"));
    pidfile_remove(path);
    CU_ASSERT_EQUAL(access(path, F_OK), 0);   /* not ours: kept */
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    /* ... once it has ended, stale */
    CU_ASSERT_EQUAL(pidfile_write(path, err, sizeof(err)), 1);
    /* a live process of another program (the pid was reused): stale */
    if ((child = fork()) == 0) {
        execlp("sleep", "sleep", "10", (char *)NULL);
        _exit(1);
    }
    CU_ASSERT_FATAL(child > 0);
    usleep(100000);               /* its exec done */
    write_pid(path, child);
    CU_ASSERT_EQUAL(pidfile_write(path, err, sizeof(err)), 1);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    pidfile_remove(path);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
    pidfile_remove(NULL);
    rmdir(dir);
}

int main(void)
{
    CU_pSuite s;
    int failures;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("sdnotify", NULL, NULL);
    if (!s ||
        !CU_add_test(s, "socket address", test_address) ||
        !CU_add_test(s, "watchdog variables", test_watchdog_env) ||
        !CU_add_test(s, "alive or wedged", test_alive) ||
        !CU_add_test(s, "wedge bound", test_wedge_bound) ||
        !CU_add_test(s, "ready and summary", test_ready_summary) ||
        !CU_add_test(s, "a datagram", test_send) ||
        !CU_add_test(s, "pid file", test_pidfile)) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures;
}
