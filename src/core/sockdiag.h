/*
 * sockdiag.h: the kernel's view of this process's TCP connections, from
 * NETLINK_SOCK_DIAG (inet_diag, sock_diag(7)), with tcp_info.
 *
 * libav does not hand out the sockets its protocols open, so the figures
 * that tell a hung peer from a slow one (bytes the peer has not
 * acknowledged, its receive window, the age of its last ACK) are read from
 * the kernel: one dump of the TCP sockets of both families
 * (SOCK_DIAG_BY_FAMILY, INET_DIAG_INFO), kept when their inode is one of
 * this process's (/proc/self/fd names them socket:[INODE]). A component
 * finds its own by the inode of a socket it knows (sockdiag_fd_inode) or by
 * the peer's address and port.
 *
 * The parsers are pure functions of the netlink answer, so that captured
 * answers test them (tests/data/sockdiag/). tcp_info grows with the kernel
 * (tcpi_snd_wnd since Linux 6.2): a field the kernel did not send is
 * absent (its SOCKDIAG_HAVE_* bit clear), never 0.
 *
 * Used by the health agents (hma/agent_net.h) and by the data plane's stall
 * detection; no logging here: callers get an AVERROR and say what failed.
 */
#ifndef HS_SOCKDIAG_H
#define HS_SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Bits of SockDiagTcp.have: which tcp_info figures the kernel sent. */
enum {
    SOCKDIAG_HAVE_INFO          = 1 << 0,  /* rto .. total_retrans (Linux 2.6) */
    SOCKDIAG_HAVE_BYTES_ACKED   = 1 << 1,  /* bytes_acked, bytes_received (4.1) */
    SOCKDIAG_HAVE_NOTSENT       = 1 << 2,  /* notsent_bytes, min_rtt, */
                                           /* unacked_bytes (4.6) */
    SOCKDIAG_HAVE_DELIVERY_RATE = 1 << 3,  /* delivery_rate (4.9) */
    SOCKDIAG_HAVE_BYTES_SENT    = 1 << 4,  /* bytes_sent, bytes_retrans (4.19) */
    SOCKDIAG_HAVE_SND_WND       = 1 << 5,  /* snd_wnd (6.2) */
};

typedef struct SockDiagTcp {
    uint64_t inode;                  /* 0: no owner (TIME_WAIT) */
    int family;                      /* AF_INET or AF_INET6 */
    struct sockaddr_storage local;   /* address and port (network order, */
    struct sockaddr_storage peer;    /*  as in sockaddr_in/in6) */
    int state;                       /* TCP_ESTABLISHED... (netinet/tcp.h) */
    uint32_t rqueue;                 /* bytes received, not read (idiag_rqueue) */
    uint32_t wqueue;                 /* bytes written, not acknowledged
                                        (idiag_wqueue) */
    unsigned have;                   /* SOCKDIAG_HAVE_*; 0: no tcp_info */

    /* tcp_info (linux/tcp.h), when have says so */
    uint8_t ca_state, retransmits, probes, backoff;
    uint32_t rto_us, snd_mss, rcv_mss;
    uint32_t unacked;                /* segments in flight (packets_out) */
    uint32_t lost, retrans;          /* segments, now */
    uint32_t last_data_sent_ms;      /* ages */
    uint32_t last_data_recv_ms;
    uint32_t last_ack_recv_ms;
    uint32_t rtt_us, rttvar_us, min_rtt_us;
    uint32_t snd_cwnd;               /* segments */
    uint32_t total_retrans;          /* segments retransmitted, counter */
    uint64_t bytes_acked;            /* counters; bytes_acked counts the
                                        SYN of a connection this end opened
                                        (sequence numbers) */
    uint64_t bytes_received;
    uint64_t bytes_sent;             /* retransmissions included */
    uint64_t bytes_retrans;
    uint64_t unacked_bytes;          /* sent, not acknowledged: wqueue -
                                        notsent_bytes (snd_nxt - snd_una) */
    uint32_t notsent_bytes;          /* written, not sent yet */
    uint64_t delivery_rate;          /* bytes/s, the kernel's estimate */
    uint32_t snd_wnd;                /* the peer's receive window, bytes */
} SockDiagTcp;

/*
 * Writes into buf a dump request for the TCP sockets of family (AF_INET or
 * AF_INET6) in the states of the bit mask states (1 << TCP_ESTABLISHED |
 * ...; 0: all but TIME_WAIT and SYN_RECV, which have no owner), asking for
 * tcp_info. Returns its length, or AVERROR(EINVAL) (size too small, family
 * unknown).
 */
int sockdiag_build_request(uint8_t *buf, size_t size, int family, uint32_t states,
                           uint32_t seq);

/* What sockdiag_parse keeps, and how it reads tcp_info. */
typedef struct SockDiagParse {
    uint32_t seq;                /* the request's; other messages are skipped */
    const uint64_t *inodes;      /* sorted ascending; NULL keeps every socket */
    int nb_inodes;
    /* tcpi_snd_wnd (6.2) took what was the struct's tail padding, so an
     * older kernel sends as many bytes, the last 4 zero: the length alone
     * tells only past that size. 1: the kernel that answered has it
     * (sockdiag_kernel_has_snd_wnd). */
    int kernel_snd_wnd;
} SockDiagParse;

/*
 * Parses one answer buffer (one recv: several messages) of a dump, keeps
 * the sockets p selects and appends them to out[*nb], up to max; the
 * sockets past max are counted in *nb_over when nb_over is not NULL.
 * Attributes shorter than they should be are read as far as they go.
 *
 * Returns 1 when the dump ended (NLMSG_DONE), 0 when more is to come, or a
 * negative AVERROR: the kernel's error (NLMSG_ERROR), or AVERROR_INVALIDDATA
 * for a message that runs past the buffer or is shorter than its header.
 */
int sockdiag_parse(const uint8_t *buf, size_t len, const SockDiagParse *p,
                   SockDiagTcp *out, int max, int *nb, int *nb_over);

/* 1 when a kernel of that release ("6.1.0-18-amd64", uname -r) has
 * tcpi_snd_wnd, 0 otherwise (also when the text is not a release). */
int sockdiag_kernel_has_snd_wnd(const char *release);

/* "socket:[12345]" (readlink of /proc/self/fd/N) -> 12345. 0 or
 * AVERROR(EINVAL) when the link is not a socket's. */
int sockdiag_parse_fd_link(const char *link, uint64_t *inode);

/* The inode of the socket fd (fstat: st_ino). 0, AVERROR(ENOTSOCK) or the
 * error of fstat. */
int sockdiag_fd_inode(int fd, uint64_t *inode);

/* The socket with that inode in s[0..nb), or NULL. */
const SockDiagTcp *sockdiag_find(const SockDiagTcp *s, int nb, uint64_t inode);

/* The port of a sockaddr_in/in6, in host order; 0 for other families. */
int sockdiag_port(const struct sockaddr_storage *a);

/* 1 when a and b are the same address and port (an IPv4-mapped IPv6
 * address equals its IPv4 one), 0 otherwise. */
int sockdiag_same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

/* "127.0.0.1:1935", "[::1]:8080" */
char *sockdiag_format(const struct sockaddr_storage *a, char *buf, size_t size);

typedef struct SockDiag SockDiag;

/* Opens the netlink socket. AVERROR of socket(2) when the kernel has no
 * sock_diag (a container may refuse it). */
int sockdiag_alloc(SockDiag **psd);
void sockdiag_free(SockDiag **psd);

/*
 * This process's TCP sockets now (both families, states as for
 * sockdiag_build_request). *socks belongs to sd and stays valid until the
 * next call. Returns 0 or a negative AVERROR. The sockets of this process
 * are listed from /proc/self/fd; a socket opened meanwhile may be missed
 * (it is there on the next call).
 */
int sockdiag_query(SockDiag *sd, uint32_t states, const SockDiagTcp **socks, int *nb);

#endif
