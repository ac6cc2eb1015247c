/*
 * agent_net.h: the network agent: for each component that talks TCP (an
 * input's source, an output's peer), the kernel's figures of its
 * connection(s) each tick: round-trip time and its variation,
 * retransmissions, losses, bytes not acknowledged and not sent yet, the
 * peer's receive window, the delivery rate, the ages of the last ACK and of
 * the last data each way (core/sockdiag.h reads them).
 *
 * Which sockets are a component's: the one the data plane names
 * (InstStatus.sock_inode), exact; else those whose peer is the address and
 * port of the component's URL, resolved once when the agent is made (never
 * in the tick). Matching by peer is a fallback: two outputs pushing to the
 * same host and port cannot be told apart (both get both connections:
 * hotspare_edge_tcp_connections says 2), and an input and an output of the
 * same server are told apart by direction (a source's connection receives
 * more than it sends, an output's the reverse). An input that listens
 * (rtmp://0.0.0.0:1935/...?listen=1, or the listen option) is matched by
 * its local port instead.
 *
 * Several connections (an HTTP origin's uploads): the queues and losses
 * are summed; the per-connection figures (RTT, window, rates, ages) are of
 * the connection that matters, the one with the most bytes waiting (ties:
 * the one that sent last). Retransmissions are a counter that survives the
 * connections that close (a new connection per segment, a reconnect).
 *
 * Components without TCP (a file, UDP, SRT) have nothing: absent, never 0.
 */
#ifndef HS_AGENT_NET_H
#define HS_AGENT_NET_H

#include <stdint.h>

#include <libavutil/dict.h>

#include "core/sockdiag.h"
#include "hma/sample.h"

#define AGENT_NET_MAX_ADDRS 8     /* addresses kept per resolved name */
#define AGENT_NET_MAX_CONNS 16    /* connections per component */

/* Where a component's connections go (or, listening, come in). */
typedef struct NetPeer {
    int tcp;                      /* 0: not TCP (file, udp, srt): nothing to match */
    int listen;                   /* 1: match the local port, any peer */
    int port;
    int nb_addrs;                 /* 0 with tcp: not resolved (said once) */
    struct sockaddr_storage addrs[AGENT_NET_MAX_ADDRS];
} NetPeer;

/* Which way a component's data goes: tells a source's connection from an
 * output's when both go to the same server. */
enum { AGENT_NET_RECV, AGENT_NET_SEND };

/* A component's figures this tick. have: SOCKDIAG_HAVE_* bits of the
 * connection that matters; nb_conns 0: nothing found, every figure absent. */
typedef struct NetFigures {
    int nb_conns;
    unsigned have;
    double rtt_s, rttvar_s;
    double retransmits;           /* counter, see NetTrack */
    double lost;                  /* segments, summed */
    double unacked_bytes, notsent_bytes, recv_queue_bytes;   /* summed */
    double peer_window;           /* bytes, SOCKDIAG_HAVE_SND_WND */
    double delivery_rate;         /* bytes/s, SOCKDIAG_HAVE_DELIVERY_RATE */
    double last_ack_age_s, last_data_recv_age_s, last_data_sent_age_s;
} NetFigures;

/* What a component's retransmission counter remembers between ticks. */
typedef struct NetTrack {
    int n;
    uint64_t inode[AGENT_NET_MAX_CONNS];
    uint32_t last[AGENT_NET_MAX_CONNS];     /* total_retrans last seen */
    uint64_t closed;              /* of the connections gone */
} NetTrack;

/*
 * The host and port a URL connects to, or listens on: rtmp (1935), rtmps
 * and https (443), http (80), rtsp (554), tcp (port required). opts: the
 * component's options (listen); may be NULL. Returns 1 for TCP, 0 for
 * anything else (a file, udp, srt, rtp, pipe), AVERROR(EINVAL) for a TCP
 * URL without host or port. Pure.
 */
int agent_net_url_endpoint(const char *url, const AVDictionary *opts, char *host,
                           size_t host_size, int *port, int *listen);

/* Fills peer for url: the endpoint, its host resolved (getaddrinfo, may
 * block: call it when the agent is made). 0, or the resolver's error as
 * AVERROR(EHOSTUNREACH) with peer->tcp set and no address. */
int agent_net_resolve(const char *url, const AVDictionary *opts, NetPeer *peer);

/*
 * The connections of a component among socks[0..nb): the one of inode
 * when not 0 (and found), else those of peer in the direction dir
 * (AGENT_NET_RECV, AGENT_NET_SEND; ties go both ways). Up to max into out.
 * Returns how many. Pure.
 */
int agent_net_match(const SockDiagTcp *socks, int nb, uint64_t inode, const NetPeer *peer,
                    int dir, const SockDiagTcp **out, int max);

/* The figures of conns[0..n) (see the top of this file); t carries the
 * retransmission counter from tick to tick. Pure. */
void agent_net_figures(const SockDiagTcp *const *conns, int n, NetTrack *t, NetFigures *f);

/* Sets f on c from metric first on (IM_TCP_CONNECTIONS,
 * XM_TCP_CONNECTIONS: the same order for both kinds); nothing when no
 * connection was found, and each figure only when the kernel gave it. */
void agent_net_sample(const NetFigures *f, SampleComp *c, int first);

typedef struct AgentNet AgentNet;

/* Says once when sock_diag is refused here (then every figure is absent). */
int agent_net_alloc(AgentNet **pa);
void agent_net_free(AgentNet **pa);

/* Once per tick, before the components: reads this process's sockets. */
void agent_net_refresh(AgentNet *a);

/* A component's figures from the last refresh. */
void agent_net_component(AgentNet *a, uint64_t inode, const NetPeer *peer, int dir,
                         NetTrack *t, NetFigures *f);

#endif
