/*
 * sockdiag.c: this process's TCP sockets and their tcp_info, from
 * NETLINK_SOCK_DIAG; see sockdiag.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/time.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "core/sockdiag.h"

/*
 * struct tcp_info as the kernel lays it out (linux/tcp.h; it only grows, at
 * the end). Our own copy, so that what we read does not depend on the
 * headers we were built with: fields are present by the length the kernel
 * sent, not by what the build machine's headers know.
 */
typedef struct TcpInfoWire {
    uint8_t state, ca_state, retransmits, probes, backoff, options, wscale, flags;
    uint32_t rto, ato, snd_mss, rcv_mss;
    uint32_t unacked, sacked, lost, retrans, fackets;
    uint32_t last_data_sent, last_ack_sent, last_data_recv, last_ack_recv;
    uint32_t pmtu, rcv_ssthresh, rtt, rttvar, snd_ssthresh, snd_cwnd, advmss, reordering;
    uint32_t rcv_rtt, rcv_space;
    uint32_t total_retrans;
    uint64_t pacing_rate, max_pacing_rate;
    uint64_t bytes_acked, bytes_received;            /* 4.1 */
    uint32_t segs_out, segs_in;
    uint32_t notsent_bytes, min_rtt;                 /* 4.6 */
    uint32_t data_segs_in, data_segs_out;
    uint64_t delivery_rate;                          /* 4.9 */
    uint64_t busy_time, rwnd_limited, sndbuf_limited;
    uint32_t delivered, delivered_ce;
    uint64_t bytes_sent, bytes_retrans;              /* 4.19 */
    uint32_t dsack_dups, reord_seen;
    uint32_t rcv_ooopack;                            /* 5.4 */
    uint32_t snd_wnd;                                /* 6.2 */
} TcpInfoWire;

/* 232 bytes, as Linux 6.2 to 6.6 send it. */
typedef char check_tcp_info[sizeof(TcpInfoWire) == 232 ? 1 : -1];

#define HAS(len, field) ((len) >= offsetof(TcpInfoWire, field) + sizeof(((TcpInfoWire *)0)->field))

int sockdiag_build_request(uint8_t *buf, size_t size, int family, uint32_t states,
                           uint32_t seq)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
    } req;

    if (size < sizeof(req) || (family != AF_INET && family != AF_INET6))
        return AVERROR(EINVAL);
    if (!states)
        states = 0xfff & ~((1u << TCP_TIME_WAIT) | (1u << TCP_SYN_RECV));
    memset(&req, 0, sizeof(req));
    req.nlh.nlmsg_len = sizeof(req);
    req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.nlh.nlmsg_seq = seq;
    req.r.sdiag_family = family;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = states;
    req.r.idiag_ext = 1 << (INET_DIAG_INFO - 1);
    memcpy(buf, &req, sizeof(req));
    return sizeof(req);
}

/* The reverse of set_addr: a sockaddr into inet_diag's address and port. */
static void get_addr(const struct sockaddr_storage *ss, uint32_t *a, uint16_t *port_be)
{
    memset(a, 0, 16);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        *port_be = in->sin_port;
        memcpy(a, &in->sin_addr, 4);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        *port_be = in6->sin6_port;
        memcpy(a, &in6->sin6_addr, 16);
    }
}

int sockdiag_build_lookup(uint8_t *buf, size_t size, const SockDiagTcp *s, uint32_t seq)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
    } req;

    if (size < sizeof(req) || (s->family != AF_INET && s->family != AF_INET6) ||
        s->local.ss_family != s->family || s->peer.ss_family != s->family)
        return AVERROR(EINVAL);
    memset(&req, 0, sizeof(req));
    req.nlh.nlmsg_len = sizeof(req);
    req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nlh.nlmsg_flags = NLM_F_REQUEST;
    req.nlh.nlmsg_seq = seq;
    req.r.sdiag_family = s->family;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = 0xfff;
    req.r.idiag_ext = 1 << (INET_DIAG_INFO - 1);
    get_addr(&s->local, req.r.id.idiag_src, &req.r.id.idiag_sport);
    get_addr(&s->peer, req.r.id.idiag_dst, &req.r.id.idiag_dport);
    req.r.id.idiag_if = s->ifindex;
    req.r.id.idiag_cookie[0] = s->cookie[0];
    req.r.id.idiag_cookie[1] = s->cookie[1];
    memcpy(buf, &req, sizeof(req));
    return sizeof(req);
}

static void set_addr(struct sockaddr_storage *ss, int family, const uint32_t *a, uint16_t port_be)
{
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = port_be;
        memcpy(&in->sin_addr, a, 4);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = port_be;
        memcpy(&in6->sin6_addr, a, 16);
    }
}

static void read_tcp_info(SockDiagTcp *s, const uint8_t *data, size_t len, int kernel_snd_wnd)
{
    TcpInfoWire ti;
    size_t n = len < sizeof(ti) ? len : sizeof(ti);

    memset(&ti, 0, sizeof(ti));
    memcpy(&ti, data, n);
    if (!HAS(len, total_retrans))
        return;
    s->have |= SOCKDIAG_HAVE_INFO;
    s->ca_state = ti.ca_state;
    s->retransmits = ti.retransmits;
    s->probes = ti.probes;
    s->backoff = ti.backoff;
    s->rto_us = ti.rto;
    s->snd_mss = ti.snd_mss;
    s->rcv_mss = ti.rcv_mss;
    s->unacked = ti.unacked;
    s->lost = ti.lost;
    s->retrans = ti.retrans;
    s->last_data_sent_ms = ti.last_data_sent;
    s->last_data_recv_ms = ti.last_data_recv;
    s->last_ack_recv_ms = ti.last_ack_recv;
    s->rtt_us = ti.rtt;
    s->rttvar_us = ti.rttvar;
    s->snd_cwnd = ti.snd_cwnd;
    s->total_retrans = ti.total_retrans;
    if (HAS(len, bytes_received)) {
        s->have |= SOCKDIAG_HAVE_BYTES_ACKED;
        s->bytes_acked = ti.bytes_acked;
        s->bytes_received = ti.bytes_received;
    }
    if (HAS(len, min_rtt)) {
        s->have |= SOCKDIAG_HAVE_NOTSENT;
        s->notsent_bytes = ti.notsent_bytes;
        s->min_rtt_us = ti.min_rtt;
        /* idiag_wqueue is write_seq - snd_una and notsent write_seq -
         * snd_nxt: the difference is what left and is not acknowledged,
         * exactly (bytes_sent - bytes_acked is not: bytes_acked counts the
         * SYN of an active open, bytes_sent every retransmission) */
        if (s->state != TCP_LISTEN && s->wqueue >= ti.notsent_bytes)
            s->unacked_bytes = s->wqueue - ti.notsent_bytes;
    }
    if (HAS(len, delivery_rate)) {
        s->have |= SOCKDIAG_HAVE_DELIVERY_RATE;
        s->delivery_rate = ti.delivery_rate;
    }
    if (HAS(len, bytes_retrans)) {
        s->have |= SOCKDIAG_HAVE_BYTES_SENT;
        s->bytes_sent = ti.bytes_sent;
        s->bytes_retrans = ti.bytes_retrans;
    }
    /* past 232 bytes the kernel is newer than 6.2; at 232 exactly the field
     * may be an older kernel's padding */
    if (HAS(len, snd_wnd) && (len > sizeof(ti) || kernel_snd_wnd)) {
        s->have |= SOCKDIAG_HAVE_SND_WND;
        s->snd_wnd = ti.snd_wnd;
    }
}

static int inode_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* One SOCK_DIAG_BY_FAMILY answer message into *s. 0, or 1 when p filters
 * it out. */
static int parse_one(const struct nlmsghdr *h, const SockDiagParse *p, SockDiagTcp *s)
{
    const struct inet_diag_msg *m = NLMSG_DATA(h);
    const uint8_t *a, *end = (const uint8_t *)h + h->nlmsg_len;
    uint64_t inode;

    inode = m->idiag_inode;
    if (p->inodes && !bsearch(&inode, p->inodes, p->nb_inodes, sizeof(*p->inodes), inode_cmp))
        return 1;
    if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
        return 1;
    memset(s, 0, sizeof(*s));
    s->inode = inode;
    s->family = m->idiag_family;
    s->state = m->idiag_state;
    s->rqueue = m->idiag_rqueue;
    s->wqueue = m->idiag_wqueue;
    set_addr(&s->local, s->family, m->id.idiag_src, m->id.idiag_sport);
    set_addr(&s->peer, s->family, m->id.idiag_dst, m->id.idiag_dport);
    s->ifindex = m->id.idiag_if;
    s->cookie[0] = m->id.idiag_cookie[0];
    s->cookie[1] = m->id.idiag_cookie[1];
    /* attributes follow the aligned message; one too short for its own
     * header ends the walk, a value cut short is read as far as it goes */
    a = (const uint8_t *)m + NLMSG_ALIGN(sizeof(*m));
    while (a + sizeof(struct nlattr) <= end) {
        const struct nlattr *nla = (const struct nlattr *)a;
        size_t alen = nla->nla_len;
        if (alen < sizeof(*nla))
            break;
        if (alen > (size_t)(end - a))
            alen = end - a;
        if ((nla->nla_type & NLA_TYPE_MASK) == INET_DIAG_INFO)
            read_tcp_info(s, a + NLA_HDRLEN, alen - NLA_HDRLEN, p->kernel_snd_wnd);
        a += NLA_ALIGN(alen);
    }
    return 0;
}

int sockdiag_parse(const uint8_t *buf, size_t len, const SockDiagParse *p,
                   SockDiagTcp *out, int max, int *nb, int *nb_over)
{
    size_t off = 0;

    while (len - off >= sizeof(struct nlmsghdr)) {
        const struct nlmsghdr *h = (const struct nlmsghdr *)(buf + off);
        size_t mlen = h->nlmsg_len;

        if (mlen < sizeof(*h) || mlen > len - off)
            return AVERROR_INVALIDDATA;
        if (h->nlmsg_seq == p->seq) {
            if (h->nlmsg_type == NLMSG_DONE)
                return 1;
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(h);
                if (mlen < NLMSG_LENGTH(sizeof(*e)))
                    return AVERROR_INVALIDDATA;
                /* an errno is -4095..-1 (the kernel's MAX_ERRNO); anything
                 * else is no error the kernel sends, and INT_MIN would not
                 * even negate */
                return e->error < 0 && e->error >= -4095 ? AVERROR(-e->error)
                                                         : AVERROR_INVALIDDATA;
            }
            if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
                SockDiagTcp tmp;
                if (mlen < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
                    return AVERROR_INVALIDDATA;
                if (!parse_one(h, p, *nb < max ? &out[*nb] : &tmp)) {
                    if (*nb < max)
                        (*nb)++;
                    else if (nb_over)
                        (*nb_over)++;
                }
            }
        }
        off += NLMSG_ALIGN(mlen);
        if (off > len)
            break;
    }
    return 0;
}

int sockdiag_kernel_has_snd_wnd(const char *release)
{
    unsigned major, minor;

    if (sscanf(release, "%u.%u", &major, &minor) != 2)
        return 0;
    return major > 6 || (major == 6 && minor >= 2);
}

int sockdiag_parse_fd_link(const char *link, uint64_t *inode)
{
    char *end;
    unsigned long long v;

    if (strncmp(link, "socket:[", 8) || link[8] < '0' || link[8] > '9')
        return AVERROR(EINVAL);
    errno = 0;
    v = strtoull(link + 8, &end, 10);
    if (errno || end[0] != ']' || end[1])
        return AVERROR(EINVAL);
    *inode = v;
    return 0;
}

int sockdiag_fd_inode(int fd, uint64_t *inode)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return AVERROR(errno);
    if (!S_ISSOCK(st.st_mode))
        return AVERROR(ENOTSOCK);
    *inode = st.st_ino;
    return 0;
}

const SockDiagTcp *sockdiag_find(const SockDiagTcp *s, int nb, uint64_t inode)
{
    for (int i = 0; i < nb; i++)
        if (s[i].inode == inode)
            return &s[i];
    return NULL;
}

int sockdiag_port(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)a)->sin_port);
    if (a->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
    return 0;
}

/* The address as 16 bytes of IPv6 (IPv4 mapped), for comparisons. */
static int addr16(const struct sockaddr_storage *a, uint8_t out[16])
{
    if (a->ss_family == AF_INET) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)a)->sin_addr, 4);
        return 0;
    }
    if (a->ss_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
        return 0;
    }
    return -1;
}

int sockdiag_same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    uint8_t x[16], y[16];

    if (addr16(a, x) < 0 || addr16(b, y) < 0)
        return 0;
    return !memcmp(x, y, 16) && sockdiag_port(a) == sockdiag_port(b);
}

char *sockdiag_format(const struct sockaddr_storage *a, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";

    if (a->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, host, sizeof(host));
        snprintf(buf, size, "%s:%d", host, sockdiag_port(a));
    } else if (a->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, host, sizeof(host));
        snprintf(buf, size, "[%s]:%d", host, sockdiag_port(a));
    } else {
        snprintf(buf, size, "?");
    }
    return buf;
}

/* ---- live ---- */

#define RECV_SIZE (64 * 1024)

struct SockDiag {
    int fd;
    uint32_t seq;
    int kernel_snd_wnd;
    uint8_t *buf;
    uint64_t *inodes;
    int nb_inodes, alloc_inodes;
    SockDiagTcp *socks;
    int nb_socks, alloc_socks;
    uint64_t *seen;              /* the inodes listed at the last dump, sorted */
    int nb_seen, alloc_seen;
    int since_dump;              /* queries since; -1: no dump yet */
    int64_t nb_dumps;
};

int sockdiag_alloc(SockDiag **psd)
{
    SockDiag *sd = av_mallocz(sizeof(*sd));
    struct timeval tv = { 1, 0 };
    struct utsname u;
    int ret;

    *psd = NULL;
    if (!sd)
        return AVERROR(ENOMEM);
    sd->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (sd->fd < 0) {
        ret = AVERROR(errno);
        av_free(sd);
        return ret;
    }
    /* the kernel answers at once; this only bounds a kernel that does not */
    setsockopt(sd->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sd->kernel_snd_wnd = uname(&u) == 0 && sockdiag_kernel_has_snd_wnd(u.release);
    sd->since_dump = -1;
    sd->buf = av_malloc(RECV_SIZE);
    if (!sd->buf) {
        sockdiag_free(&sd);
        return AVERROR(ENOMEM);
    }
    *psd = sd;
    return 0;
}

void sockdiag_free(SockDiag **psd)
{
    SockDiag *sd = *psd;

    if (!sd)
        return;
    if (sd->fd >= 0)
        close(sd->fd);
    av_freep(&sd->buf);
    av_freep(&sd->inodes);
    av_freep(&sd->socks);
    av_freep(&sd->seen);
    av_freep(psd);
}

/* The inodes of this process's sockets, sorted, into sd->inodes. */
static int list_own_inodes(SockDiag *sd)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int dfd;

    if (!d)
        return AVERROR(errno);
    dfd = dirfd(d);
    sd->nb_inodes = 0;
    while ((e = readdir(d))) {
        char link[64];
        ssize_t n;
        uint64_t ino;
        if (e->d_name[0] == '.')
            continue;
        n = readlinkat(dfd, e->d_name, link, sizeof(link) - 1);
        if (n <= 0)
            continue;
        link[n] = 0;
        if (sockdiag_parse_fd_link(link, &ino) < 0)
            continue;
        if (sd->nb_inodes == sd->alloc_inodes) {
            int na = sd->alloc_inodes ? sd->alloc_inodes * 2 : 64;
            uint64_t *ni = av_realloc_array(sd->inodes, na, sizeof(*ni));
            if (!ni) {
                closedir(d);
                return AVERROR(ENOMEM);
            }
            sd->inodes = ni;
            sd->alloc_inodes = na;
        }
        sd->inodes[sd->nb_inodes++] = ino;
    }
    closedir(d);
    qsort(sd->inodes, sd->nb_inodes, sizeof(*sd->inodes), inode_cmp);
    return 0;
}

static int dump_family(SockDiag *sd, int family, uint32_t states)
{
    struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
    SockDiagParse p = { 0 };
    int len, ret;

    p.seq = ++sd->seq;
    p.inodes = sd->inodes;
    p.nb_inodes = sd->nb_inodes;
    p.kernel_snd_wnd = sd->kernel_snd_wnd;
    len = sockdiag_build_request(sd->buf, RECV_SIZE, family, states, p.seq);
    if (len < 0)
        return len;
    if (sendto(sd->fd, sd->buf, len, 0, (struct sockaddr *)&nl, sizeof(nl)) != len)
        return AVERROR(errno ? errno : EIO);
    for (;;) {
        ssize_t n = recv(sd->fd, sd->buf, RECV_SIZE, 0);
        int over = 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return AVERROR(errno);
        }
        if (n == 0)
            return AVERROR(EIO);
        /* room for every socket of this process: no more than its inodes */
        if (sd->alloc_socks < sd->nb_socks + sd->nb_inodes) {
            int na = sd->nb_socks + sd->nb_inodes;
            SockDiagTcp *ns = av_realloc_array(sd->socks, na, sizeof(*ns));
            if (!ns)
                return AVERROR(ENOMEM);
            sd->socks = ns;
            sd->alloc_socks = na;
        }
        ret = sockdiag_parse(sd->buf, n, &p, sd->socks, sd->alloc_socks, &sd->nb_socks, &over);
        if (ret != 0)
            return ret < 0 ? ret : 0;
    }
}

/* Is every inode of a (sorted) in b (sorted)? */
static int all_in(const uint64_t *a, int na, const uint64_t *b, int nb)
{
    int j = 0;

    for (int i = 0; i < na; i++) {
        while (j < nb && b[j] < a[i])
            j++;
        if (j == nb || b[j] != a[i])
            return 0;
    }
    return 1;
}

int sockdiag_lookup(SockDiag *sd, SockDiagTcp *s)
{
    struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
    SockDiagParse p = { 0 };
    SockDiagTcp out;
    int len, nb = 0, ret;
    ssize_t n;

    p.seq = ++sd->seq;
    p.kernel_snd_wnd = sd->kernel_snd_wnd;
    if ((len = sockdiag_build_lookup(sd->buf, RECV_SIZE, s, p.seq)) < 0)
        return len;
    if (sendto(sd->fd, sd->buf, len, 0, (struct sockaddr *)&nl, sizeof(nl)) != len)
        return AVERROR(errno ? errno : EIO);
    /* one answer, the socket or an error; older answers (a dump cut short
     * by a timeout) are skipped by their sequence number */
    do {
        n = recv(sd->fd, sd->buf, RECV_SIZE, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? AVERROR(errno) : AVERROR(EIO);
        ret = sockdiag_parse(sd->buf, n, &p, &out, 1, &nb, NULL);
        if (ret < 0)
            return ret;
    } while (!nb);
    /* the same socket: a reused 4-tuple would be another inode */
    if (out.inode != s->inode)
        return AVERROR(ENOENT);
    *s = out;
    return 0;
}

/* The sockets of the last answer, looked up again; those no longer ours
 * or gone are dropped. < 0: a lookup failed, a dump is needed. */
static int lookup_known(SockDiag *sd)
{
    int k = 0;

    for (int i = 0; i < sd->nb_socks; i++) {
        SockDiagTcp s = sd->socks[i];
        int ret;
        if (!bsearch(&s.inode, sd->inodes, sd->nb_inodes, sizeof(*sd->inodes), inode_cmp))
            continue;
        ret = sockdiag_lookup(sd, &s);
        if (ret == AVERROR(ENOENT))
            continue;
        if (ret < 0)
            return ret;
        sd->socks[k++] = s;
    }
    sd->nb_socks = k;
    return 0;
}

static int full_dump(SockDiag *sd, uint32_t states)
{
    int ret;

    sd->nb_socks = 0;
    sd->since_dump = 0;
    sd->nb_dumps++;
    if ((ret = dump_family(sd, AF_INET, states)) < 0 ||
        (ret = dump_family(sd, AF_INET6, states)) < 0) {
        sd->since_dump = -1;
        return ret;
    }
    if (sd->alloc_seen < sd->nb_inodes) {
        uint64_t *ns = av_realloc_array(sd->seen, sd->nb_inodes, sizeof(*ns));
        if (!ns) {
            sd->since_dump = -1;
            return AVERROR(ENOMEM);
        }
        sd->seen = ns;
        sd->alloc_seen = sd->nb_inodes;
    }
    memcpy(sd->seen, sd->inodes, sd->nb_inodes * sizeof(*sd->inodes));
    sd->nb_seen = sd->nb_inodes;
    return 0;
}

int sockdiag_query(SockDiag *sd, uint32_t states, const SockDiagTcp **socks, int *nb)
{
    int ret;

    *socks = NULL;
    *nb = 0;
    if ((ret = list_own_inodes(sd)) < 0)
        return ret;
    /* a socket the last dump did not see may be a new TCP connection: only
     * a dump finds it; otherwise the known ones are looked up */
    if (sd->since_dump < 0 || ++sd->since_dump >= SOCKDIAG_DUMP_EVERY ||
        !all_in(sd->inodes, sd->nb_inodes, sd->seen, sd->nb_seen) ||
        lookup_known(sd) < 0)
        ret = full_dump(sd, states);
    if (ret < 0) {
        sd->nb_socks = 0;
        return ret;
    }
    *socks = sd->socks;
    *nb = sd->nb_socks;
    return 0;
}

int64_t sockdiag_nb_dumps(const SockDiag *sd)
{
    return sd->nb_dumps;
}
