/*
 * sockdiag_test.c: the netlink sock_diag parser on captured kernel answers
 * (tests/data/sockdiag/), on answers cut short and on garbage, and the live
 * query on real loopback connections whose peer does not read.
 *
 * The captured answers: `sockdiag_test --capture DIR` opens a loopback
 * connection per family, writes until the peer's window is full (the peer
 * reads nothing), dumps the kernel's answer verbatim, keeping only the
 * messages of the test's own two sockets (the machine's other connections
 * are none of the test's business) and NLMSG_DONE, into tcpN-full.bin. Next
 * to it, tcpN-full.txt says what the test knew without the parser: the
 * sockets' inodes (fstat) and ports (getsockname), how many bytes the client
 * wrote, the request's sequence number and the kernel release.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "core/sockdiag.h"

static char data_dir[PATH_MAX / 2];

/* ---- a loopback connection whose server reads nothing ---- */

typedef struct Pair {
    int lfd, cli, srv;
    uint64_t cli_ino, srv_ino;
    int cli_port, srv_port;
    long long written;
} Pair;

static int port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    return sockdiag_port(&ss);
}

static int pair_open(Pair *p, int family)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int small = 8192, one = 1;

    memset(p, 0, sizeof(*p));
    p->lfd = p->cli = p->srv = -1;
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        len = sizeof(*in6);
    }
    if ((p->lfd = socket(family, SOCK_STREAM, 0)) < 0)
        return -1;
    /* small buffers: the window closes after a few kilobytes, at once */
    setsockopt(p->lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    if (bind(p->lfd, (struct sockaddr *)&ss, len) < 0 || listen(p->lfd, 1) < 0 ||
        getsockname(p->lfd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if ((p->cli = socket(family, SOCK_STREAM, 0)) < 0)
        return -1;
    setsockopt(p->cli, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(p->cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(p->cli, (struct sockaddr *)&ss, len) < 0)
        return -1;
    if ((p->srv = accept(p->lfd, NULL, NULL)) < 0)
        return -1;
    if (sockdiag_fd_inode(p->cli, &p->cli_ino) < 0 || sockdiag_fd_inode(p->srv, &p->srv_ino) < 0)
        return -1;
    p->cli_port = port_of(p->cli);
    p->srv_port = port_of(p->srv);
    return 0;
}

/* Writes until the kernel takes no more, twice with a pause so that what
 * was in flight has settled. */
static void pair_fill(Pair *p)
{
    static char chunk[4096];

    fcntl(p->cli, F_SETFL, fcntl(p->cli, F_GETFL) | O_NONBLOCK);
    for (int round = 0; round < 3; round++) {
        ssize_t n;
        while ((n = write(p->cli, chunk, sizeof(chunk))) > 0)
            p->written += n;
        usleep(50000);
    }
}

static void pair_close(Pair *p)
{
    if (p->cli >= 0)
        close(p->cli);
    if (p->srv >= 0)
        close(p->srv);
    if (p->lfd >= 0)
        close(p->lfd);
}

/* ---- capture ---- */

/* One dump, kept verbatim but for the messages of other sockets. */
static long dump_raw(int family, uint32_t seq, const uint64_t *keep, int nb_keep,
                     uint8_t *out, size_t size)
{
    static uint8_t buf[65536];
    struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    int len = sockdiag_build_request(buf, sizeof(buf), family, 0, seq);
    size_t used = 0;

    if (fd < 0 || len < 0 || sendto(fd, buf, len, 0, (struct sockaddr *)&nl, sizeof(nl)) != len)
        return -1;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        size_t off = 0;
        if (n <= 0)
            break;
        while (off + sizeof(struct nlmsghdr) <= (size_t)n) {
            struct nlmsghdr *h = (struct nlmsghdr *)(buf + off);
            int keep_it = h->nlmsg_type != SOCK_DIAG_BY_FAMILY;
            if (!keep_it) {
                const struct inet_diag_msg *m = NLMSG_DATA(h);
                for (int i = 0; i < nb_keep; i++)
                    keep_it |= m->idiag_inode == keep[i];
            }
            if (keep_it && used + NLMSG_ALIGN(h->nlmsg_len) <= size) {
                memcpy(out + used, h, NLMSG_ALIGN(h->nlmsg_len));
                used += NLMSG_ALIGN(h->nlmsg_len);
            }
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
                close(fd);
                return used;
            }
            off += NLMSG_ALIGN(h->nlmsg_len);
        }
    }
    close(fd);
    return -1;
}

static int capture(const char *dir)
{
    static uint8_t out[65536];
    static const int families[2] = { AF_INET, AF_INET6 };
    struct utsname u;

    uname(&u);
    for (int f = 0; f < 2; f++) {
        char path[PATH_MAX];
        uint64_t keep[2];
        uint32_t seq = 4242 + f;
        FILE *o;
        Pair p;
        long n;

        if (pair_open(&p, families[f]) < 0) {
            perror("loopback connection");
            return 1;
        }
        pair_fill(&p);
        keep[0] = p.cli_ino;
        keep[1] = p.srv_ino;
        n = dump_raw(families[f], seq, keep, 2, out, sizeof(out));
        if (n < 0) {
            perror("sock_diag dump");
            return 1;
        }
        snprintf(path, sizeof(path), "%s/tcp%d-full.bin", dir, f ? 6 : 4);
        if (!(o = fopen(path, "wb")) || fwrite(out, 1, n, o) != (size_t)n || fclose(o)) {
            perror(path);
            return 1;
        }
        snprintf(path, sizeof(path), "%s/tcp%d-full.txt", dir, f ? 6 : 4);
        if (!(o = fopen(path, "w")))
            return 1;
        fprintf(o, "seq %u\nclient_inode %llu\nserver_inode %llu\nclient_port %d\n"
                "server_port %d\nwritten %lld\nkernel %s\n", seq,
                (unsigned long long)p.cli_ino, (unsigned long long)p.srv_ino,
                p.cli_port, p.srv_port, p.written, u.release);
        fclose(o);
        printf("%s: %ld bytes, client wrote %lld\n", path, n, p.written);
        pair_close(&p);
    }
    return 0;
}

/* ---- captured answers ---- */

typedef struct Capture {
    uint8_t buf[65536];
    size_t len;
    unsigned seq;
    unsigned long long cli_ino, srv_ino;
    int cli_port, srv_port;
    long long written;
    char kernel[128];
} Capture;

static void load(Capture *c, const char *name)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.bin", data_dir, name);
    f = fopen(path, "rb");
    CU_ASSERT_FATAL(f != NULL);
    c->len = fread(c->buf, 1, sizeof(c->buf), f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/%s.txt", data_dir, name);
    f = fopen(path, "r");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(fscanf(f, "seq %u client_inode %llu server_inode %llu client_port %d "
                           "server_port %d written %lld kernel %127s", &c->seq, &c->cli_ino,
                           &c->srv_ino, &c->cli_port, &c->srv_port, &c->written,
                           c->kernel) == 7);
    fclose(f);
}

static void check_capture(const char *name, int family)
{
    Capture *c = av_mallocz(sizeof(*c));
    SockDiagTcp s[8];
    SockDiagParse p = { 0 };
    const SockDiagTcp *cli, *srv;
    int nb = 0, over = 0;

    CU_ASSERT_FATAL(c != NULL);
    load(c, name);
    p.seq = c->seq;
    p.kernel_snd_wnd = sockdiag_kernel_has_snd_wnd(c->kernel);
    CU_ASSERT(sockdiag_parse(c->buf, c->len, &p, s, 8, &nb, &over) == 1);
    CU_ASSERT(nb == 2 && over == 0);
    cli = sockdiag_find(s, nb, c->cli_ino);
    srv = sockdiag_find(s, nb, c->srv_ino);
    CU_ASSERT_FATAL(cli && srv);
    CU_ASSERT(cli->family == family && srv->family == family);
    CU_ASSERT(cli->state == TCP_ESTABLISHED && srv->state == TCP_ESTABLISHED);
    CU_ASSERT(sockdiag_port(&cli->local) == c->cli_port);
    CU_ASSERT(sockdiag_port(&cli->peer) == c->srv_port);
    CU_ASSERT(sockdiag_port(&srv->local) == c->srv_port);
    CU_ASSERT(sockdiag_same_endpoint(&cli->local, &srv->peer));
    CU_ASSERT(sockdiag_same_endpoint(&cli->peer, &srv->local));
    CU_ASSERT(!sockdiag_same_endpoint(&cli->local, &cli->peer));
    /* every figure a 6.1 kernel has (the capture's is newer) */
    CU_ASSERT((cli->have & 0x1f) == 0x1f);
    CU_ASSERT(!!(cli->have & SOCKDIAG_HAVE_SND_WND) == p.kernel_snd_wnd);
    /* what the client wrote is acknowledged, in flight or not sent yet;
     * the kernel's two views of the send queue agree */
    CU_ASSERT(cli->wqueue == c->written - (long long)(cli->bytes_acked - 1));
    CU_ASSERT(cli->unacked_bytes + cli->notsent_bytes == cli->wqueue);
    CU_ASSERT(cli->notsent_bytes > 0);
    /* the server read nothing: what it received waits in its queue, and it
     * received what the client saw acknowledged */
    CU_ASSERT(srv->rqueue == srv->bytes_received);
    CU_ASSERT((long long)(srv->bytes_received + cli->wqueue) == c->written);
    CU_ASSERT(cli->bytes_acked == srv->bytes_received + 1);        /* its SYN */
    CU_ASSERT(srv->bytes_received > 0 && cli->bytes_received == 0);
    CU_ASSERT(cli->rtt_us > 0 && cli->snd_mss > 0 && cli->snd_cwnd > 0);
    /* the window is closed: less than a segment left */
    if (cli->have & SOCKDIAG_HAVE_SND_WND)
        CU_ASSERT(cli->snd_wnd < cli->snd_mss);
    /* an inode filter keeps only those listed */
    {
        uint64_t only = c->srv_ino;
        nb = 0;
        p.inodes = &only;
        p.nb_inodes = 1;
        CU_ASSERT(sockdiag_parse(c->buf, c->len, &p, s, 8, &nb, NULL) == 1);
        CU_ASSERT(nb == 1 && s[0].inode == c->srv_ino);
        /* room for none: counted over */
        nb = over = 0;
        p.inodes = NULL;
        CU_ASSERT(sockdiag_parse(c->buf, c->len, &p, s, 0, &nb, &over) == 1);
        CU_ASSERT(nb == 0 && over == 2);
        /* another request's answer is not ours */
        p.seq = c->seq + 1;
        CU_ASSERT(sockdiag_parse(c->buf, c->len, &p, s, 8, &nb, NULL) == 0);
        CU_ASSERT(nb == 0);
    }
    av_free(c);
}

static void test_capture4(void)
{
    check_capture("tcp4-full", AF_INET);
}

static void test_capture6(void)
{
    check_capture("tcp6-full", AF_INET6);
}

/* The INET_DIAG_INFO attribute of the first message, to cut it short. */
static struct nlattr *info_attr(uint8_t *buf)
{
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    uint8_t *a = (uint8_t *)NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(struct inet_diag_msg));
    uint8_t *end = buf + h->nlmsg_len;

    while (a + sizeof(struct nlattr) <= end) {
        struct nlattr *nla = (struct nlattr *)a;
        if (nla->nla_len < sizeof(*nla))
            return NULL;
        if (nla->nla_type == INET_DIAG_INFO)
            return nla;
        a += NLA_ALIGN(nla->nla_len);
    }
    return NULL;
}

/* Older kernels' tcp_info: the figures they have, none they do not. */
static void test_short_tcp_info(void)
{
    static const struct { int len; unsigned have; } sizes[] = {
        { 104, SOCKDIAG_HAVE_INFO },                 /* 2.6 .. 4.0 */
        { 136, 0x3 },                                /* 4.1 */
        { 160, 0x7 },                                /* 4.6 */
        { 168, 0xf },                                /* 4.9 */
        { 216, 0x1f },                               /* 4.19 */
        { 228, 0x1f },                               /* 5.4 */
        { 50, 0 },                                   /* cut short */
        { 0, 0 },
    };
    Capture *c = av_mallocz(sizeof(*c));
    SockDiagParse p = { 0 };

    CU_ASSERT_FATAL(c != NULL);
    load(c, "tcp4-full");
    p.seq = c->seq;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *b = av_memdup(c->buf, c->len);
        struct nlattr *nla = info_attr(b);
        SockDiagTcp s[2];
        int nb = 0;
        CU_ASSERT_FATAL(nla != NULL);
        nla->nla_len = NLA_HDRLEN + sizes[i].len;
        CU_ASSERT(sockdiag_parse(b, c->len, &p, s, 1, &nb, NULL) == 1);
        CU_ASSERT(nb == 1 && s[0].have == sizes[i].have);
        /* what the kernel did not send reads 0, and its bit says absent */
        if (!(sizes[i].have & SOCKDIAG_HAVE_BYTES_SENT))
            CU_ASSERT(s[0].bytes_sent == 0);
        if (!(sizes[i].have & SOCKDIAG_HAVE_NOTSENT))
            CU_ASSERT(s[0].unacked_bytes == 0 && s[0].notsent_bytes == 0);
        av_free(b);
    }
    /* 232 bytes: padding from a kernel before 6.2, the window after */
    for (int k = 0; k < 2; k++) {
        uint8_t *b = av_memdup(c->buf, c->len);
        struct nlattr *nla = info_attr(b);
        SockDiagTcp s[2];
        int nb = 0;
        CU_ASSERT_FATAL(nla != NULL);
        nla->nla_len = NLA_HDRLEN + 232;
        p.kernel_snd_wnd = k;
        CU_ASSERT(sockdiag_parse(b, c->len, &p, s, 1, &nb, NULL) == 1);
        CU_ASSERT(nb == 1 && (s[0].have & 0x1f) == 0x1f);
        CU_ASSERT(!!(s[0].have & SOCKDIAG_HAVE_SND_WND) == k);
        av_free(b);
    }
    /* and past 232, whatever the release says */
    {
        SockDiagTcp s[2];
        int nb = 0;
        CU_ASSERT(info_attr(c->buf)->nla_len > NLA_HDRLEN + 232);
        p.kernel_snd_wnd = 0;
        CU_ASSERT(sockdiag_parse(c->buf, c->len, &p, s, 1, &nb, NULL) == 1);
        CU_ASSERT(nb == 1 && (s[0].have & SOCKDIAG_HAVE_SND_WND));
    }
    CU_ASSERT(sockdiag_kernel_has_snd_wnd("6.1.0-18-amd64") == 0);
    CU_ASSERT(sockdiag_kernel_has_snd_wnd("6.2.0") == 1);
    CU_ASSERT(sockdiag_kernel_has_snd_wnd("5.15.0-91-generic") == 0);
    CU_ASSERT(sockdiag_kernel_has_snd_wnd("7.0") == 1);
    CU_ASSERT(sockdiag_kernel_has_snd_wnd("x") == 0);
    av_free(c);
}

/* Every cut of the answer, and garbage: no read past the buffer (the
 * sanitizer builds see it), a clear error or what was whole. */
static void test_truncated_and_garbage(void)
{
    Capture *c = av_mallocz(sizeof(*c));
    SockDiagParse p = { 0 };
    uint8_t junk[4096];
    unsigned x = 12345;

    CU_ASSERT_FATAL(c != NULL);
    load(c, "tcp6-full");
    p.seq = c->seq;
    for (size_t cut = 0; cut < c->len; cut++) {
        uint8_t *b = av_memdup(c->buf, cut ? cut : 1);
        SockDiagTcp s[2];
        int nb = 0, ret = sockdiag_parse(b, cut, &p, s, 2, &nb, NULL);
        /* the DONE message is the last: a cut answer never ends */
        CU_ASSERT(ret == 0 || ret == AVERROR_INVALIDDATA);
        CU_ASSERT(nb <= 2);
        av_free(b);
    }
    for (int round = 0; round < 2000; round++) {
        SockDiagTcp s[4];
        int nb = 0, ret;
        size_t len = 16 + round % 400;
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245 + 12345;
            junk[i] = x >> 16;
        }
        /* a plausible header half the time, to reach the attribute walk */
        if (round & 1) {
            struct nlmsghdr *h = (struct nlmsghdr *)junk;
            h->nlmsg_len = len - (round % 7);
            h->nlmsg_type = SOCK_DIAG_BY_FAMILY;
            h->nlmsg_seq = p.seq;
        }
        ret = sockdiag_parse(junk, len, &p, s, 4, &nb, NULL);
        CU_ASSERT(ret <= 1 && nb <= 4);
    }
    av_free(c);
}

static void test_kernel_error(void)
{
    struct {
        struct nlmsghdr h;
        struct nlmsgerr e;
    } m;
    SockDiagParse p = { .seq = 9 };
    SockDiagTcp s[1];
    int nb = 0;

    memset(&m, 0, sizeof(m));
    m.h.nlmsg_len = sizeof(m);
    m.h.nlmsg_type = NLMSG_ERROR;
    m.h.nlmsg_seq = 9;
    m.e.error = -EPERM;
    CU_ASSERT(sockdiag_parse((uint8_t *)&m, sizeof(m), &p, s, 1, &nb, NULL) == AVERROR(EPERM));
    /* an error message cut short */
    m.h.nlmsg_len = sizeof(m.h) + 2;
    CU_ASSERT(sockdiag_parse((uint8_t *)&m, sizeof(m.h) + 2, &p, s, 1, &nb, NULL) ==
              AVERROR_INVALIDDATA);
    /* a length shorter than the header itself */
    m.h.nlmsg_len = 4;
    CU_ASSERT(sockdiag_parse((uint8_t *)&m, sizeof(m), &p, s, 1, &nb, NULL) == AVERROR_INVALIDDATA);
}

static void test_helpers(void)
{
    uint64_t ino = 0;
    struct sockaddr_storage a, b;
    char txt[64];
    int fd;

    CU_ASSERT(sockdiag_parse_fd_link("socket:[123456]", &ino) == 0 && ino == 123456);
    CU_ASSERT(sockdiag_parse_fd_link("socket:[]", &ino) == AVERROR(EINVAL));
    CU_ASSERT(sockdiag_parse_fd_link("socket:[12", &ino) == AVERROR(EINVAL));
    CU_ASSERT(sockdiag_parse_fd_link("pipe:[77]", &ino) == AVERROR(EINVAL));
    CU_ASSERT(sockdiag_parse_fd_link("/dev/null", &ino) == AVERROR(EINVAL));
    CU_ASSERT(sockdiag_parse_fd_link("socket:[5]x", &ino) == AVERROR(EINVAL));
    fd = open("/dev/null", O_RDONLY);
    CU_ASSERT(sockdiag_fd_inode(fd, &ino) == AVERROR(ENOTSOCK));
    close(fd);
    CU_ASSERT(sockdiag_fd_inode(-1, &ino) == AVERROR(EBADF));

    /* an IPv4 peer seen by an IPv6 socket: ::ffff:127.0.0.1 */
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    ((struct sockaddr_in *)&a)->sin_family = AF_INET;
    ((struct sockaddr_in *)&a)->sin_port = htons(1935);
    inet_pton(AF_INET, "127.0.0.1", &((struct sockaddr_in *)&a)->sin_addr);
    ((struct sockaddr_in6 *)&b)->sin6_family = AF_INET6;
    ((struct sockaddr_in6 *)&b)->sin6_port = htons(1935);
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &((struct sockaddr_in6 *)&b)->sin6_addr);
    CU_ASSERT(sockdiag_same_endpoint(&a, &b));
    ((struct sockaddr_in6 *)&b)->sin6_port = htons(1936);
    CU_ASSERT(!sockdiag_same_endpoint(&a, &b));
    CU_ASSERT_STRING_EQUAL(sockdiag_format(&a, txt, sizeof(txt)), "127.0.0.1:1935");
    CU_ASSERT_STRING_EQUAL(sockdiag_format(&b, txt, sizeof(txt)), "[::ffff:127.0.0.1]:1936");
    CU_ASSERT(sockdiag_build_request((uint8_t *)txt, 8, AF_INET, 0, 1) == AVERROR(EINVAL));
    CU_ASSERT(sockdiag_build_request((uint8_t *)txt, sizeof(txt), AF_UNIX, 0, 1) == AVERROR(EINVAL));
}

/* ---- live ---- */

static const SockDiagTcp *query(SockDiag *sd, uint64_t inode)
{
    const SockDiagTcp *s;
    int nb;

    CU_ASSERT_FATAL(sockdiag_query(sd, 0, &s, &nb) == 0);
    return sockdiag_find(s, nb, inode);
}

static void test_live(void)
{
    SockDiag *sd = NULL;
    const SockDiagTcp *s;
    const SockDiagTcp *all;
    uint32_t notsent0, age0;
    int nb, ret;
    Pair p;

    ret = sockdiag_alloc(&sd);
    if (ret < 0) {
        /* a container may refuse sock_diag: say so, do not pass silently */
        fprintf(stderr, "\n  sock_diag refused here (%s): live checks skipped\n", av_err2str(ret));
        CU_FAIL("NETLINK_SOCK_DIAG unavailable");
        return;
    }
    CU_ASSERT_FATAL(pair_open(&p, AF_INET) == 0);

    /* only this process's sockets: ours are there, all of them are ours */
    CU_ASSERT_FATAL(sockdiag_query(sd, 0, &all, &nb) == 0);
    CU_ASSERT(nb >= 2);
    CU_ASSERT(sockdiag_find(all, nb, p.cli_ino) && sockdiag_find(all, nb, p.srv_ino));
    for (int i = 0; i < nb; i++) {
        int mine = 0;
        for (int fd = 0; fd < 1024 && !mine; fd++) {
            uint64_t ino;
            mine = sockdiag_fd_inode(fd, &ino) == 0 && ino == all[i].inode;
        }
        CU_ASSERT(mine);
    }

    /* idle: nothing in flight, and the last ACK ages */
    usleep(300000);
    s = query(sd, p.cli_ino);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT(s->unacked_bytes == 0 && s->notsent_bytes == 0 && s->wqueue == 0);
    CU_ASSERT(s->last_ack_recv_ms >= 250 && s->last_data_sent_ms >= 250);
    CU_ASSERT(sockdiag_port(&s->peer) == p.srv_port);

    /* the server reads nothing: the window closes, what is written waits */
    pair_fill(&p);
    s = query(sd, p.cli_ino);
    CU_ASSERT_FATAL(s != NULL);
    notsent0 = s->notsent_bytes;
    CU_ASSERT(s->wqueue > 0 && notsent0 > 0);
    CU_ASSERT(s->unacked_bytes + s->notsent_bytes == s->wqueue);
    CU_ASSERT(s->wqueue == p.written - (long long)(s->bytes_acked - 1));
    if (s->have & SOCKDIAG_HAVE_SND_WND)
        CU_ASSERT(s->snd_wnd < s->snd_mss);
    s = query(sd, p.srv_ino);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT(s->rqueue > 0 && s->rqueue == s->bytes_received);
    /* no data came to the server since the fill: its age grows */
    age0 = s->last_data_recv_ms;
    usleep(200000);
    s = query(sd, p.srv_ino);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT(s->last_data_recv_ms >= age0 + 150);

    /* the server reads: the queue drains, the window opens */
    {
        char buf[65536];
        fcntl(p.srv, F_SETFL, fcntl(p.srv, F_GETFL) | O_NONBLOCK);
        for (int i = 0; i < 50; i++) {
            while (read(p.srv, buf, sizeof(buf)) > 0)
                ;
            usleep(10000);
        }
    }
    s = query(sd, p.cli_ino);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT(s->notsent_bytes == 0 && s->wqueue == 0);
    CU_ASSERT(s->bytes_acked == (uint64_t)p.written + 1);

    /* closed: gone from the list */
    {
        uint64_t ino = p.cli_ino;
        pair_close(&p);
        CU_ASSERT(query(sd, ino) == NULL);
    }
    sockdiag_free(&sd);
    sockdiag_free(&sd);
    CU_ASSERT(sd == NULL);
}

int main(int argc, char **argv)
{
    char exe[PATH_MAX];
    ssize_t len;
    CU_pSuite s;
    int failures;

    if (argc == 3 && !strcmp(argv[1], "--capture"))
        return capture(argv[2]);
    len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len <= 0)
        return 1;
    exe[len] = 0;
    snprintf(data_dir, sizeof(data_dir), "%s/../data/sockdiag", dirname(exe));

    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    s = CU_add_suite("sockdiag", NULL, NULL);
    CU_add_test(s, "captured answer, IPv4", test_capture4);
    CU_add_test(s, "captured answer, IPv6", test_capture6);
    CU_add_test(s, "tcp_info of older kernels", test_short_tcp_info);
    CU_add_test(s, "cut answers and garbage", test_truncated_and_garbage);
    CU_add_test(s, "kernel errors", test_kernel_error);
    CU_add_test(s, "helpers", test_helpers);
    CU_add_test(s, "live loopback connections", test_live);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures;
}
