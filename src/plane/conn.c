/*
 * conn.c: the watch of a destination's TCP connections; see conn.h.
 */
#include <dirent.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "plane/conn.h"

/* Figures are read this often while the muxer works or waits: well under
 * a stall_timeout, and a handful of system calls per connection. */
#define CONN_POLL_US      20000
/* The process's sockets are listed this often (a directory of a few
 * hundred entries): an HTTP upload's new connection is found within it. */
#define CONN_SCAN_US      250000
#define CONN_MAX_SOCKS    32
#define CONN_MAX_ADDRS    8
/* Linux retransmits no sooner than this (TCP_RTO_MIN). */
#define CONN_RTO_MIN_US   200000
/* The peer's window is judged over this long (conn_watch_poll). */
#define CONN_EDGE_SPAN_US 100000

typedef struct ConnSock {
    int fd;
    uint64_t inode;              /* 0: free slot */
    int64_t acked, received;
    int64_t ref_edge;            /* acked + the peer's window (the right edge
                                    of what it may be sent) at ref_us; -1 none */
    int64_t ref_acked, ref_us;
    int64_t wnd_max;             /* the largest window it offered */
    int64_t pending;
    uint64_t seq;                /* order found: the newest is the highest */
} ConnSock;

struct ConnWatch {
    struct sockaddr_storage addr[CONN_MAX_ADDRS];
    int nb_addr;
    int port;
    int64_t send_buffer;
    ConnSock sock[CONN_MAX_SOCKS];
    uint64_t found;              /* connections found so far */
    int64_t polled_us, scanned_us;
    ConnFigures f;
};

static int default_port(const char *proto)
{
    static const struct { const char *proto; int port; } ports[] = {
        { "rtmp", 1935 }, { "rtmps", 443 }, { "rtmpt", 80 }, { "rtmpts", 443 },
        { "http", 80 }, { "https", 443 }, { "tcp", -1 }, { "tls", -1 },
    };

    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
        if (!av_strcasecmp(proto, ports[i].proto))
            return ports[i].port;
    return 0;
}

/* proto, host and port of a TCP URL; 0 when it is not one */
static int split(const char *url, char *host, size_t hsize, int *port)
{
    char proto[32], auth[8], path[8];
    int def;

    av_url_split(proto, sizeof(proto), auth, sizeof(auth), host, hsize, port,
                 path, sizeof(path), url);
    if (!host[0] || !(def = default_port(proto)))
        return 0;
    if (*port <= 0)
        *port = def;
    return *port > 0 && *port < 65536;
}

int conn_watch_alloc(ConnWatch **pw, const char *url, int64_t send_buffer)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    char host[256], port_s[16];
    ConnWatch *w;
    int port;

    *pw = NULL;
    if (!url || !split(url, host, sizeof(host), &port))
        return 0;
    w = av_mallocz(sizeof(*w));
    if (!w)
        return AVERROR(ENOMEM);
    snprintf(port_s, sizeof(port_s), "%d", port);
    if (getaddrinfo(host, port_s, &hints, &res) || !res) {
        av_free(w);
        return 0;                /* the muxer's own connect says why */
    }
    for (struct addrinfo *a = res; a && w->nb_addr < CONN_MAX_ADDRS; a = a->ai_next)
        if (a->ai_addrlen <= sizeof(w->addr[0]))
            memcpy(&w->addr[w->nb_addr++], a->ai_addr, a->ai_addrlen);
    freeaddrinfo(res);
    w->port = port;
    w->send_buffer = send_buffer;
    *pw = w;
    return 0;
}

void conn_watch_free(ConnWatch **pw)
{
    av_freep(pw);
}

/* An IPv4 address of a sockaddr, mapped or not; 0 when it has none. */
static int v4_of(const struct sockaddr_storage *ss, struct in_addr *a)
{
    if (ss->ss_family == AF_INET) {
        *a = ((const struct sockaddr_in *)ss)->sin_addr;
        return 1;
    }
    if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            memcpy(a, &a6->s6_addr[12], 4);
            return 1;
        }
    }
    return 0;
}

static int port_of(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return -1;
}

static int is_peer(const ConnWatch *w, const struct sockaddr_storage *peer)
{
    struct in_addr p4, a4;

    if (port_of(peer) != w->port)
        return 0;
    for (int i = 0; i < w->nb_addr; i++) {
        const struct sockaddr_storage *a = &w->addr[i];
        if (v4_of(peer, &p4) && v4_of(a, &a4)) {
            if (p4.s_addr == a4.s_addr)
                return 1;
        } else if (peer->ss_family == AF_INET6 && a->ss_family == AF_INET6 &&
                   !memcmp(&((const struct sockaddr_in6 *)peer)->sin6_addr,
                           &((const struct sockaddr_in6 *)a)->sin6_addr, sizeof(struct in6_addr))) {
            return 1;
        }
    }
    return 0;
}

static ConnSock *find(ConnWatch *w, uint64_t inode)
{
    for (int i = 0; i < CONN_MAX_SOCKS; i++)
        if (w->sock[i].inode == inode)
            return &w->sock[i];
    return NULL;
}

/* Lists the process's sockets and takes the new ones to the peer. */
static void scan(ConnWatch *w)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;

    if (!dir)
        return;
    while ((de = readdir(dir))) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);
        struct stat sb;
        ConnSock *s;
        int fd, type;
        socklen_t tlen = sizeof(type);
        char *end;

        fd = (int)strtol(de->d_name, &end, 10);
        if (*end || end == de->d_name || fd == dirfd(dir))
            continue;
        if (fstat(fd, &sb) < 0 || !S_ISSOCK(sb.st_mode) || find(w, sb.st_ino))
            continue;

        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_STREAM ||
            getpeername(fd, (struct sockaddr *)&peer, &len) < 0 || !is_peer(w, &peer))
            continue;
        if (!(s = find(w, 0)))
            break;               /* more connections than a muxer makes */
        *s = (ConnSock){ .fd = fd, .inode = sb.st_ino, .seq = ++w->found, .acked = -1, .ref_edge = -1 };
        if (w->send_buffer > 0) {
            /* the kernel doubles what it is given, for its bookkeeping:
             * send_buffer is what getsockopt(SO_SNDBUF) then says */
            int v = (int)FFMIN(w->send_buffer / 2, INT32_MAX);
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
        }
    }
    closedir(dir);
}

void conn_watch_poll(ConnWatch *w, int64_t now)
{
    ConnFigures *f = &w->f;
    uint64_t newest = 0;
    int progress = 0, unread = 0;

    if (!f->last_progress_us)
        f->last_progress_us = now;
    if (w->polled_us && now - w->polled_us < CONN_POLL_US)
        return;
    w->polled_us = now;
    if (!w->scanned_us || now - w->scanned_us >= CONN_SCAN_US) {
        w->scanned_us = now;
        scan(w);
    }
    f->nb_sockets = 0;
    f->pending = 0;
    for (int i = 0; i < CONN_MAX_SOCKS; i++) {
        ConnSock *s = &w->sock[i];
        struct tcp_info ti;
        socklen_t len = sizeof(ti);
        struct stat sb;
        int outq = 0, has_wnd;
        int64_t edge;

        if (!s->inode)
            continue;
        /* libav closed it (and the number may be another file now) */
        if (fstat(s->fd, &sb) < 0 || sb.st_ino != s->inode) {
            s->inode = 0;
            continue;
        }
        memset(&ti, 0, sizeof(ti));
        if (getsockopt(s->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) {
            s->inode = 0;
            continue;
        }
        if (ioctl(s->fd, SIOCOUTQ, &outq) < 0)
            outq = 0;
        /* tcpi_snd_wnd came with Linux 6.2: an older kernel's answer is
         * shorter, and the window stays unknown */
        has_wnd = len >= offsetof(struct tcp_info, tcpi_snd_wnd) + sizeof(ti.tcpi_snd_wnd);
        edge = has_wnd ? (int64_t)ti.tcpi_bytes_acked + ti.tcpi_snd_wnd : -1;
        /* Progress is the peer's application reading or answering. Its
         * kernel acknowledging is not: a stopped process's kernel takes a
         * full receive buffer (a megabyte and more, autotuned) while the
         * window it offers closes. A reading application moves the right
         * edge of its window on by what it reads; a stopped one's edge
         * creeps by the kernel's window growth alone, a few kB while
         * hundreds arrive. So the edge must move by a quarter of what was
         * acknowledged meanwhile (a peer that reads less is falling
         * behind, which the latency budget judges). */
        if (s->acked >= 0) {
            if ((int64_t)ti.tcpi_bytes_received > s->received ||
                (edge < 0 && (int64_t)ti.tcpi_bytes_acked > s->acked))
                progress = 1;
            f->acked += (int64_t)ti.tcpi_bytes_acked - s->acked;
        }
        /* the edge is judged over spans of CONN_EDGE_SPAN_US: a single
         * window update may come with no new data acknowledged */
        if (edge >= 0 && s->ref_edge >= 0 && now - s->ref_us >= CONN_EDGE_SPAN_US) {
            int64_t dacked = (int64_t)ti.tcpi_bytes_acked - s->ref_acked;
            /* a window less than half open does not count: its creeping
             * (window scaling rounds, a few bytes acknowledged) is not
             * an application reading */
            if (edge > s->ref_edge && 4 * (edge - s->ref_edge) >= dacked &&
                2 * (int64_t)ti.tcpi_snd_wnd >= s->wnd_max)
                progress = 1;
            s->ref_edge = -1;
        }
        if (edge >= 0 && s->ref_edge < 0) {
            s->ref_edge = edge;
            s->ref_acked = (int64_t)ti.tcpi_bytes_acked;
            s->ref_us = now;
        }
        s->acked = (int64_t)ti.tcpi_bytes_acked;
        s->received = (int64_t)ti.tcpi_bytes_received;
        s->pending = outq;
        f->pending += outq;
        f->nb_sockets++;
        if (has_wnd && (int64_t)ti.tcpi_snd_wnd > s->wnd_max)
            s->wnd_max = ti.tcpi_snd_wnd;
        /* more than half its buffer unread: owed, though acknowledged */
        if (has_wnd && 2 * (int64_t)ti.tcpi_snd_wnd < s->wnd_max)
            unread = 1;
        if (has_wnd && (int64_t)ti.tcpi_snd_wnd > f->window_max)
            f->window_max = ti.tcpi_snd_wnd;
        if (s->seq > newest) {
            newest = s->seq;
            f->inode = s->inode;
            f->rtt_us = ti.tcpi_rtt;
            f->window = has_wnd ? (int64_t)ti.tcpi_snd_wnd : -1;
            f->rttvar_us = ti.tcpi_rttvar;
        }
    }
    if (!newest)
        f->inode = 0;
    if (progress)
        f->last_progress_us = now;
    if (f->pending <= 0 && !unread)
        f->owed_since_us = 0;
    else if (!f->owed_since_us)
        f->owed_since_us = now;
}

void conn_watch_figures(const ConnWatch *w, ConnFigures *f)
{
    *f = w->f;
}

int64_t conn_deadline(int64_t stall_timeout_us, int64_t rtt_us, int64_t rttvar_us)
{
    int64_t rto = FFMAX(CONN_RTO_MIN_US, rtt_us + 4 * rttvar_us);

    return FFMAX(stall_timeout_us, 3 * rto);
}

int conn_stalled(const ConnFigures *f, int64_t busy_us, int64_t now, int64_t stall_timeout_us)
{
    int64_t from;

    if (f->owed_since_us)
        from = f->owed_since_us;
    else if (busy_us > 0)
        from = now - busy_us;
    else
        return 0;                /* nothing owed, nothing awaited */
    from = FFMAX(from, f->last_progress_us);
    return now - from > conn_deadline(stall_timeout_us, f->rtt_us, f->rttvar_us);
}
