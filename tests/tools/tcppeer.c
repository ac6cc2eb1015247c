/*
 * tcppeer: both ends of a TCP connection, for measuring what faultproxy does
 * to the traffic between them (t_faultproxy.sh). No nc or socat on the test
 * machines, and ffmpeg cannot time single bytes, hence this.
 *
 *   tcppeer serve ADDR echo|sink|source
 *       accept connections at ADDR (one child process each) and echo what
 *       arrives, swallow it, or send a byte pattern until the peer goes.
 *       Prints "tcppeer: listening on ADDR" to stderr when ready; sink prints
 *       "sink bytes=N secs=S rate=R" to stdout when a connection ends (S from
 *       the first byte to the last, R in bytes/s over that span).
 *   tcppeer ping ADDR COUNT INTERVAL_MS
 *       send one byte to an echo server and wait for it, COUNT times (0:
 *       until an error), one every INTERVAL_MS at most; prints
 *       "ping SEQ T_MS RTT_MS" per answer (T_MS: when sent, since the start).
 *   tcppeer recv ADDR BYTES [EVERY_MS]
 *       receive BYTES (or until EOF) and print "recv bytes=N secs=S rate=R";
 *       with EVERY_MS, also "progress T_MS BYTES" at most that often, to
 *       see a rate change during the transfer (a bandwidth ramp).
 *   tcppeer send ADDR BYTES
 *       send BYTES and close.
 *   tcppeer copy ADDR
 *       send stdin, half-close, and copy all that comes back to stdout.
 *   tcppeer ask ADDR WAIT_MS
 *       connect, send stdin (a request: HTTP, an RTMP C0+C1) and wait up to
 *       WAIT_MS for an answer, to tell a peer that is alive but hung (the
 *       kernel accepts for it, nothing answers) from one that works. Prints
 *       "ask connected_ms=T sent=N" once sent, then "answer first_ms=T
 *       bytes=N head=HEX" (the answer read until EOF or 300 ms of silence,
 *       its first 8 bytes in hex) or "no answer within WAIT_MS ms".
 *
 * Clients exit 0 on success, 3 when the connection was reset (they print
 * "reset" and the time since start), 4 when the peer closed too early, 5
 * when ask got no answer, 1 on other errors, 2 on bad arguments.
 */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (16 * 1024)

enum { EXIT_RESET = 3, EXIT_CLOSED = 4, EXIT_SILENT = 5 };

static double t_start;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Exits with the status that tells a reset from other failures. */
static void __attribute__((noreturn)) fail(const char *what, int err)
{
    double t = (now_s() - t_start) * 1000;

    if (err == ECONNRESET) {
        fprintf(stderr, "tcppeer: %s: reset after %.0f ms\n", what, t);
        exit(EXIT_RESET);
    }
    if (!err) {
        fprintf(stderr, "tcppeer: %s: closed by peer after %.0f ms\n", what, t);
        exit(EXIT_CLOSED);
    }
    fprintf(stderr, "tcppeer: %s: %s\n", what, strerror(err));
    exit(1);
}

static int resolve(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *port = strrchr(s, ':');
    struct addrinfo hints = { 0 }, *res;

    if (!port || (size_t)(port - s) >= sizeof(host))
        return -1;
    memcpy(host, s, port - s);
    host[port - s] = 0;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port + 1, &hints, &res))
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int dial(const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1;

    if (resolve(addr, &ss, &len) < 0) {
        fprintf(stderr, "tcppeer: bad address '%s'\n", addr);
        exit(2);
    }
    fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0)
        fail("connect", errno);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void write_all(int fd, const uint8_t *p, size_t n, const char *what)
{
    ssize_t w;

    while (n) {
        w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            fail(what, errno == EPIPE ? ECONNRESET : errno);
        p += w;
        n -= (size_t)w;
    }
}

/* ---- server ------------------------------------------------------------- */

static void serve_conn(int fd, const char *mode)
{
    uint8_t buf[CHUNK];
    uint64_t bytes = 0, first_chunk = 0;
    double first = 0, last = 0;
    ssize_t r;
    size_t i;

    if (!strcmp(mode, "source")) {
        for (i = 0; i < sizeof(buf); i++)
            buf[i] = (uint8_t)(i * 7);
        for (;;)
            if (write(fd, buf, sizeof(buf)) < 0 && errno != EINTR)
                _exit(0);
    }
    while ((r = read(fd, buf, sizeof(buf))) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        if (!strcmp(mode, "echo")) {
            write_all(fd, buf, (size_t)r, "echo");
            continue;
        }
        if (!bytes) {
            first = now_s();
            first_chunk = (uint64_t)r;
        }
        last = now_s();
        bytes += (uint64_t)r;
    }
    if (!strcmp(mode, "sink")) {
        /* the first chunk arrived at first: the span carries the rest */
        printf("sink bytes=%llu secs=%.3f rate=%.0f\n", (unsigned long long)bytes,
               last - first, last > first ? (bytes - first_chunk) / (last - first) : 0);
        fflush(stdout);
    }
    shutdown(fd, SHUT_WR);
    _exit(0);
}

static int serve(const char *addr, const char *mode)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int lfd, fd, one = 1;

    if (strcmp(mode, "echo") && strcmp(mode, "sink") && strcmp(mode, "source")) {
        fprintf(stderr, "tcppeer: serve mode '%s': want echo, sink or source\n", mode);
        return 2;
    }
    if (resolve(addr, &ss, &len) < 0) {
        fprintf(stderr, "tcppeer: bad address '%s'\n", addr);
        return 2;
    }
    lfd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (lfd >= 0)
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, len) < 0 || listen(lfd, 64) < 0) {
        fprintf(stderr, "tcppeer: listen on %s: %s\n", addr, strerror(errno));
        return 1;
    }
    signal(SIGCHLD, SIG_IGN);   /* children reap themselves */
    fprintf(stderr, "tcppeer: listening on %s\n", addr);
    for (;;) {
        fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (fork() == 0) {
            close(lfd);
            serve_conn(fd, mode);
        }
        close(fd);
    }
}

/* ---- clients ------------------------------------------------------------ */

static int ping(const char *addr, long count, long interval_ms)
{
    int fd = dial(addr);
    double sent, next = now_s();
    uint8_t c = 'p';
    ssize_t r;
    long seq;

    for (seq = 1; !count || seq <= count; seq++) {
        double wait = next - now_s();
        if (wait > 0)
            usleep((useconds_t)(wait * 1e6));
        sent = now_s();
        next = sent + interval_ms / 1000.0;
        write_all(fd, &c, 1, "ping send");
        do
            r = read(fd, &c, 1);
        while (r < 0 && errno == EINTR);
        if (r <= 0)
            fail("ping recv", r < 0 ? errno : 0);
        printf("ping %ld %.1f %.1f\n", seq, (sent - t_start) * 1000,
               (now_s() - sent) * 1000);
        fflush(stdout);
    }
    close(fd);
    return 0;
}

static int recv_bytes(const char *addr, unsigned long long want, long every_ms)
{
    int fd = dial(addr);
    uint8_t buf[CHUNK];
    unsigned long long bytes = 0, first_chunk = 0;
    double first = 0, last = 0, next_progress = now_s();
    ssize_t r;

    while (bytes < want) {
        r = read(fd, buf, want - bytes < sizeof(buf) ? want - bytes : sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            fail("recv", errno);
        if (!r)
            break;
        if (!bytes) {
            first = now_s();
            first_chunk = (unsigned long long)r;
        }
        last = now_s();
        bytes += (unsigned long long)r;
        if (every_ms > 0 && last >= next_progress) {
            printf("progress %.1f %llu\n", (last - t_start) * 1000, bytes);
            next_progress = last + every_ms / 1000.0;
        }
    }
    printf("recv bytes=%llu secs=%.3f rate=%.0f\n", bytes, last - first,
           last > first ? (bytes - first_chunk) / (last - first) : 0);
    close(fd);
    return 0;
}

static int send_bytes(const char *addr, unsigned long long n)
{
    int fd = dial(addr);
    uint8_t buf[CHUNK];
    size_t len;

    memset(buf, 'x', sizeof(buf));
    while (n) {
        len = n < sizeof(buf) ? (size_t)n : sizeof(buf);
        write_all(fd, buf, len, "send");
        n -= len;
    }
    close(fd);
    return 0;
}

/* stdin to the socket and the socket to stdout at once: an echo server
 * answers while we still send, and neither side may wait for the other. */
static int copy(const char *addr)
{
    int fd = dial(addr);
    uint8_t in[CHUNK], out[CHUNK];
    size_t pending = 0, off = 0;
    int in_eof = 0, shut = 0;
    ssize_t r;

    /* a blocking write could wait on an echo that waits on our read */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

    for (;;) {
        struct pollfd p[2] = {
            { .fd = !in_eof && !pending ? 0 : -1, .events = POLLIN },
            { .fd = fd, .events = POLLIN | (pending ? POLLOUT : 0) },
        };
        if (in_eof && !pending && !shut) {
            shutdown(fd, SHUT_WR);
            shut = 1;
        }
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            fail("poll", errno);
        }
        if (p[0].revents) {
            r = read(0, in, sizeof(in));
            if (r < 0)
                fail("stdin", errno);
            if (!r)
                in_eof = 1;
            pending = (size_t)(r > 0 ? r : 0);
            off = 0;
        }
        if (p[1].revents & POLLOUT) {
            r = write(fd, in + off, pending);
            if (r < 0 && errno != EINTR && errno != EAGAIN)
                fail("send", errno == EPIPE ? ECONNRESET : errno);
            if (r > 0) {
                off += (size_t)r;
                pending -= (size_t)r;
            }
        }
        if (p[1].revents & (POLLIN | POLLERR | POLLHUP)) {
            r = read(fd, out, sizeof(out));
            if (r < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (r < 0)
                fail("recv", errno);
            if (!r)
                break;
            if (fwrite(out, 1, (size_t)r, stdout) != (size_t)r)
                fail("stdout", errno);
        }
    }
    if (!shut)
        fail("recv", 0);   /* the peer closed before we finished sending */
    return fflush(stdout) ? 1 : 0;
}

static int ask(const char *addr, long wait_ms)
{
    static uint8_t req[64 * 1024];
    uint8_t buf[CHUNK];
    size_t n = 0;
    unsigned long long bytes = 0;
    double deadline, first = 0;
    char head[17] = "";
    ssize_t r;
    int fd, i;

    while (n < sizeof(req) && (r = read(0, req + n, sizeof(req) - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            fail("stdin", errno);
        n += (size_t)r;
    }
    fd = dial(addr);
    write_all(fd, req, n, "ask send");
    printf("ask connected_ms=%.1f sent=%zu\n", (now_s() - t_start) * 1000, n);
    fflush(stdout);
    deadline = now_s() + wait_ms / 1000.0;
    for (;;) {
        /* before the answer, wait up to the deadline; after its first
         * byte, 300 ms of silence ends it (an RTMP server then waits) */
        double t = now_s(), until = bytes && t + 0.3 < deadline ? t + 0.3 : deadline;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int ms = (int)((until - t) * 1000);

        if (ms <= 0 || (r = poll(&p, 1, ms)) == 0)
            break;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            fail("poll", errno);
        r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            fail("ask recv", errno);
        if (!r)
            break;
        if (!bytes) {
            first = now_s();
            for (i = 0; i < 8 && i < r; i++)
                snprintf(head + 2 * i, 3, "%02x", buf[i]);
        }
        bytes += (unsigned long long)r;
    }
    close(fd);
    if (!bytes) {
        printf("no answer within %ld ms\n", wait_ms);
        return EXIT_SILENT;
    }
    printf("answer first_ms=%.1f bytes=%llu head=%s\n", (first - t_start) * 1000,
           bytes, head);
    return 0;
}

int main(int argc, char **argv)
{
    t_start = now_s();
    signal(SIGPIPE, SIG_IGN);
    if (argc == 4 && !strcmp(argv[1], "serve"))
        return serve(argv[2], argv[3]);
    if (argc == 5 && !strcmp(argv[1], "ping"))
        return ping(argv[2], atol(argv[3]), atol(argv[4]));
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "recv"))
        return recv_bytes(argv[2], strtoull(argv[3], NULL, 10),
                          argc == 5 ? atol(argv[4]) : 0);
    if (argc == 4 && !strcmp(argv[1], "send"))
        return send_bytes(argv[2], strtoull(argv[3], NULL, 10));
    if (argc == 3 && !strcmp(argv[1], "copy"))
        return copy(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "ask"))
        return ask(argv[2], atol(argv[3]));
    fprintf(stderr, "usage: tcppeer serve ADDR echo|sink|source | ping ADDR COUNT "
            "INTERVAL_MS | recv ADDR BYTES [EVERY_MS] | send ADDR BYTES | "
            "copy ADDR | ask ADDR WAIT_MS\n");
    return 2;
}
