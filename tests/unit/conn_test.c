/*
 * conn_test.c: the watch of a destination's TCP connections (plane/conn.h).
 * The decision on synthetic figures (owed bytes, a call waiting, the
 * deadline following the RTT), which URLs are watched, and a real loopback
 * connection whose reader stops: the watch finds it, caps its send
 * buffer, sees the bytes owed, and calls it stalled once nothing more is
 * acknowledged, while a reader that keeps reading is never stalled.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <CUnit/Basic.h>
#include <libavutil/time.h>

#include "plane/conn.h"

#define S 1000000LL

static void test_decision(void)
{
    ConnFigures f = { .nb_sockets = 1, .last_progress_us = 10 * S };

    /* nothing owed, nothing awaited: never a stall */
    CU_ASSERT_FALSE(conn_stalled(&f, 0, 100 * S, S));
    /* owed since 10 s, nothing back since: stalled after the timeout */
    f.pending = 50000;
    f.owed_since_us = 10 * S;
    CU_ASSERT_FALSE(conn_stalled(&f, 0, 10 * S + S, S));
    CU_ASSERT_TRUE(conn_stalled(&f, 0, 10 * S + S + 1, S));
    /* owed only since 12 s (the clock starts when something is owed) */
    f.owed_since_us = 12 * S;
    CU_ASSERT_FALSE(conn_stalled(&f, 0, 12 * S + S / 2, S));
    CU_ASSERT_TRUE(conn_stalled(&f, 0, 13 * S + 1, S));
    /* an acknowledgement restarts it */
    f.last_progress_us = 13 * S;
    CU_ASSERT_FALSE(conn_stalled(&f, 0, 13 * S + S / 2, S));
    /* nothing owed, but a call waits for an answer (a HEAD) */
    f.pending = 0;
    f.owed_since_us = 0;
    CU_ASSERT_FALSE(conn_stalled(&f, S / 2, 20 * S, S));
    CU_ASSERT_TRUE(conn_stalled(&f, 2 * S, 20 * S, S));
    /* ... that got an answer half a second ago */
    f.last_progress_us = 20 * S - S / 2;
    CU_ASSERT_FALSE(conn_stalled(&f, 2 * S, 20 * S, S));
}

static void test_deadline(void)
{
    /* loopback: stall_timeout */
    CU_ASSERT_EQUAL(conn_deadline(S, 50, 20), S);
    /* a long path: three retransmission timeouts */
    CU_ASSERT_EQUAL(conn_deadline(S, 300000, 50000), 3 * (300000 + 4 * 50000));
    /* never under three of Linux's minimum RTO */
    CU_ASSERT_EQUAL(conn_deadline(100000, 0, 0), 600000);
    /* a stall decision follows it */
    {
        ConnFigures f = { .pending = 1, .owed_since_us = S, .last_progress_us = S,
                          .rtt_us = 300000, .rttvar_us = 50000 };
        CU_ASSERT_FALSE(conn_stalled(&f, 0, S + 1400000, S));
        CU_ASSERT_TRUE(conn_stalled(&f, 0, S + 1600000, S));
    }
}

/* Is a watch made for url? (Numeric hosts: no name is resolved here.) */
static int watched(const char *url)
{
    ConnWatch *w = NULL;
    int ret = conn_watch_alloc(&w, url, 0) == 0 && w;

    conn_watch_free(&w);
    return ret;
}

static void test_urls(void)
{
    CU_ASSERT_TRUE(watched("rtmp://127.0.0.1/live/key"));
    CU_ASSERT_TRUE(watched("rtmp://user:pass@127.0.0.1:1936/app/key"));
    CU_ASSERT_TRUE(watched("http://127.0.0.1:8080/hls/a.m3u8"));
    CU_ASSERT_TRUE(watched("https://[::1]/x.mpd"));
    CU_ASSERT_TRUE(watched("tcp://127.0.0.1:9000"));
    CU_ASSERT_FALSE(watched("tcp://127.0.0.1"));       /* no port */
    CU_ASSERT_FALSE(watched("udp://127.0.0.1:9000"));
    CU_ASSERT_FALSE(watched("srt://127.0.0.1:9000"));
    CU_ASSERT_FALSE(watched("out/a.m3u8"));
    CU_ASSERT_FALSE(watched("file:out/a.flv"));
    CU_ASSERT_FALSE(watched(NULL));
}

/* A listener on an ephemeral loopback port, its port in *port. */
static int listener(int *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 16384;

    /* a small receive buffer: the reader's kernel fills up soon */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static int connect_to(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return -1;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Writes what the socket takes, reads (drains) on the other side when
 * reading; polls the watch; returns when it says stalled or after
 * limit_us. */
static int64_t run(ConnWatch *w, int wfd, int rfd, int reading, int64_t limit_us, ConnFigures *f)
{
    static char buf[65536];
    int64_t start = av_gettime_relative(), now;

    for (;;) {
        now = av_gettime_relative();
        if (write(wfd, buf, sizeof(buf)) < 0 && errno != EAGAIN)
            return -1;
        if (reading)
            while (read(rfd, buf, sizeof(buf)) > 0)
                ;
        conn_watch_poll(w, now);
        conn_watch_figures(w, f);
        if (conn_stalled(f, 0, now, 300000))
            return now - start;
        if (now - start > limit_us)
            return -2;
        av_usleep(5000);
    }
}

static void test_loopback(void)
{
    int port = 0, lfd = listener(&port), cfd, afd, sndbuf = 0;
    socklen_t len = sizeof(sndbuf);
    char url[64];
    ConnWatch *w = NULL;
    ConnFigures f;
    int64_t t;

    CU_ASSERT_FATAL(lfd >= 0);
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    CU_ASSERT_EQUAL_FATAL(conn_watch_alloc(&w, url, 65536), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    cfd = connect_to(port);
    afd = accept(lfd, NULL, NULL);
    CU_ASSERT_FATAL(cfd >= 0 && afd >= 0);
    fcntl(afd, F_SETFL, O_NONBLOCK);

    /* a reader that keeps up: 1.5 s, never stalled, its socket found */
    t = run(w, cfd, afd, 1, 1500000, &f);
    CU_ASSERT_EQUAL(t, -2);
    CU_ASSERT_EQUAL(f.nb_sockets, 1);
    CU_ASSERT_NOT_EQUAL(f.inode, 0);
    CU_ASSERT(f.acked > 1000000);
    CU_ASSERT(f.window_max > 0);
    /* the send buffer was capped as asked */
    CU_ASSERT_EQUAL(getsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len), 0);
    CU_ASSERT_EQUAL(sndbuf, 65536);

    /* the reader stops (a hung peer): stalled within the timeout (0.3 s)
     * and what it takes to fill its buffers, and bytes are owed */
    t = run(w, cfd, afd, 0, 3000000, &f);
    CU_ASSERT(t > 300000);
    CU_ASSERT(t < 1500000);
    CU_ASSERT(f.pending > 0);

    close(cfd);
    close(afd);
    close(lfd);
    /* the connection is gone: nothing owed any more */
    av_usleep(300000);
    conn_watch_poll(w, av_gettime_relative());
    conn_watch_figures(w, &f);
    CU_ASSERT_EQUAL(f.nb_sockets, 0);
    CU_ASSERT_EQUAL(f.pending, 0);
    CU_ASSERT_FALSE(conn_stalled(&f, 0, av_gettime_relative(), 300000));
    conn_watch_free(&w);
    conn_watch_free(&w);         /* NULL is fine */
}

static void test_not_watched(void)
{
    ConnWatch *w = (ConnWatch *)1;

    CU_ASSERT_EQUAL(conn_watch_alloc(&w, "udp://127.0.0.1:9", 0), 0);
    CU_ASSERT_PTR_NULL(w);
    CU_ASSERT_EQUAL(conn_watch_alloc(&w, "out/x.flv", 0), 0);
    CU_ASSERT_PTR_NULL(w);
    CU_ASSERT_EQUAL(conn_watch_alloc(&w, "rtmp://no-such-host.invalid/live/x", 0), 0);
    CU_ASSERT_PTR_NULL(w);
}

int main(void)
{
    CU_pSuite s;
    int failed;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("conn", NULL, NULL);
    CU_add_test(s, "stall decision", test_decision);
    CU_add_test(s, "deadline follows the RTT", test_deadline);
    CU_add_test(s, "which URLs are watched", test_urls);
    CU_add_test(s, "real loopback connection, reader stops", test_loopback);
    CU_add_test(s, "nothing to watch", test_not_watched);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failed = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
