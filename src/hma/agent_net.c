/*
 * agent_net.c: each component's TCP connections and their tcp_info; see
 * agent_net.h.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "core/log.h"
#include "hma/agent_net.h"

static const struct {
    const char *scheme;
    int port;
} tcp_schemes[] = {
    { "rtmp", 1935 }, { "rtmpt", 80 }, { "rtmps", 443 }, { "rtmpts", 443 },
    { "http", 80 }, { "https", 443 }, { "rtsp", 554 }, { "rtsps", 322 },
    { "tcp", -1 }, { "tls", -1 },
};

/* "listen" in the query (?listen, ?listen=1, &listen=2) or the options */
static int wants_listen(const char *url, const AVDictionary *opts)
{
    const AVDictionaryEntry *e = opts ? av_dict_get(opts, "listen", NULL, 0) : NULL;
    const char *q = strchr(url, '?');

    if (e)
        return strcmp(e->value, "0") != 0;
    while (q) {
        q++;
        if (!strncmp(q, "listen", 6) && (q[6] == 0 || q[6] == '&' ||
                                         (q[6] == '=' && q[7] != '0')))
            return 1;
        q = strchr(q, '&');
    }
    return 0;
}

int agent_net_url_endpoint(const char *url, const AVDictionary *opts, char *host,
                           size_t host_size, int *port, int *listen)
{
    char proto[16], auth[8], path[8];
    const char *sep = strstr(url, "://");
    int default_port = 0;

    *port = -1;
    *listen = 0;
    host[0] = 0;
    if (!sep)
        return 0;
    for (size_t i = 0; i < sizeof(tcp_schemes) / sizeof(tcp_schemes[0]); i++)
        if ((size_t)(sep - url) == strlen(tcp_schemes[i].scheme) &&
            !av_strncasecmp(url, tcp_schemes[i].scheme, sep - url)) {
            default_port = tcp_schemes[i].port;
            break;
        }
    if (!default_port)
        return 0;
    /* brackets of an IPv6 host are taken off; auth and path are not needed
     * (and may hold secrets: kept in small buffers, never logged) */
    av_url_split(proto, sizeof(proto), auth, sizeof(auth), host, host_size, port,
                 path, sizeof(path), url);
    if (*port < 0)
        *port = default_port;
    *listen = wants_listen(url, opts);
    if ((!host[0] && !*listen) || *port <= 0 || *port > 65535)
        return AVERROR(EINVAL);
    return 1;
}

int agent_net_resolve(const char *url, const AVDictionary *opts, NetPeer *peer)
{
    struct addrinfo hints = { 0 }, *res = NULL;
    char host[256], port[8];
    int ret;

    memset(peer, 0, sizeof(*peer));
    ret = agent_net_url_endpoint(url, opts, host, sizeof(host), &peer->port, &peer->listen);
    if (ret <= 0)
        return ret;
    peer->tcp = 1;
    /* listening: the local port is all there is to match */
    if (peer->listen)
        return 0;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    snprintf(port, sizeof(port), "%d", peer->port);
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
        return AVERROR(EHOSTUNREACH);
    for (struct addrinfo *ai = res; ai && peer->nb_addrs < AGENT_NET_MAX_ADDRS; ai = ai->ai_next)
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
            ai->ai_addrlen <= sizeof(peer->addrs[0]))
            memcpy(&peer->addrs[peer->nb_addrs++], ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

/* A listening socket's port on any local address, or the peer's address. */
static int is_peer(const SockDiagTcp *s, const NetPeer *peer)
{
    if (s->state == TCP_LISTEN)
        return 0;
    if (peer->listen)
        return sockdiag_port(&s->local) == peer->port;
    for (int i = 0; i < peer->nb_addrs; i++)
        if (sockdiag_same_endpoint(&s->peer, &peer->addrs[i]))
            return 1;
    return 0;
}

/* Does the connection carry data the component's way? Unknown: yes. */
static int goes(const SockDiagTcp *s, int dir)
{
    if (!(s->have & SOCKDIAG_HAVE_BYTES_ACKED))
        return 1;
    return dir == AGENT_NET_RECV ? s->bytes_received >= s->bytes_acked
                                 : s->bytes_acked >= s->bytes_received;
}

int agent_net_match(const SockDiagTcp *socks, int nb, uint64_t inode, const NetPeer *peer,
                    int dir, const SockDiagTcp **out, int max)
{
    int n = 0;

    if (inode) {
        const SockDiagTcp *s = sockdiag_find(socks, nb, inode);
        if (s && max > 0) {
            out[0] = s;
            return 1;
        }
    }
    if (!peer || !peer->tcp)
        return 0;
    for (int i = 0; i < nb && n < max; i++)
        if (is_peer(&socks[i], peer) && goes(&socks[i], dir))
            out[n++] = &socks[i];
    return n;
}

/* Folds the counters of connections gone into t->closed; returns the
 * counter now. */
static uint64_t track_retrans(NetTrack *t, const SockDiagTcp *const *conns, int n)
{
    uint64_t now = t->closed;
    NetTrack next = { 0 };

    for (int k = 0; k < t->n; k++) {
        int still = 0;
        for (int i = 0; i < n && !still; i++)
            still = conns[i]->inode == t->inode[k];
        if (!still)
            next.closed += t->last[k];
    }
    next.closed += t->closed;
    now = next.closed;
    for (int i = 0; i < n && next.n < AGENT_NET_MAX_CONNS; i++) {
        if (!(conns[i]->have & SOCKDIAG_HAVE_INFO))
            continue;
        next.inode[next.n] = conns[i]->inode;
        next.last[next.n++] = conns[i]->total_retrans;
        now += conns[i]->total_retrans;
    }
    *t = next;
    return now;
}

void agent_net_figures(const SockDiagTcp *const *conns, int n, NetTrack *t, NetFigures *f)
{
    const SockDiagTcp *m = NULL;

    memset(f, 0, sizeof(*f));
    f->retransmits = track_retrans(t, conns, n);
    f->nb_conns = n;
    for (int i = 0; i < n; i++) {
        const SockDiagTcp *s = conns[i];
        /* the connection that matters: most bytes waiting, then the one
         * that sent last */
        if (!m || s->wqueue > m->wqueue ||
            (s->wqueue == m->wqueue && (s->have & SOCKDIAG_HAVE_INFO) &&
             (!(m->have & SOCKDIAG_HAVE_INFO) || s->last_data_sent_ms < m->last_data_sent_ms)))
            m = s;
        f->recv_queue_bytes += s->rqueue;
        f->lost += s->lost;
        f->unacked_bytes += s->unacked_bytes;
        f->notsent_bytes += s->notsent_bytes;
    }
    if (!m)
        return;
    f->have = m->have;
    f->rtt_s = m->rtt_us / 1e6;
    f->rttvar_s = m->rttvar_us / 1e6;
    f->peer_window = m->snd_wnd;
    f->delivery_rate = m->delivery_rate;
    f->last_ack_age_s = m->last_ack_recv_ms / 1e3;
    f->last_data_recv_age_s = m->last_data_recv_ms / 1e3;
    f->last_data_sent_age_s = m->last_data_sent_ms / 1e3;
}

/* The network figures, in the same order for both kinds from their
 * first (IM_TCP_CONNECTIONS, XM_TCP_CONNECTIONS). */
typedef char check_net_order[IM_RECV_QUEUE_BYTES - IM_TCP_CONNECTIONS ==
                             XM_RECV_QUEUE_BYTES - XM_TCP_CONNECTIONS &&
                             IM_LAST_ACK_AGE - IM_TCP_CONNECTIONS ==
                             XM_LAST_ACK_AGE - XM_TCP_CONNECTIONS ? 1 : -1];

void agent_net_sample(const NetFigures *f, SampleComp *c, int first)
{
    int d = first - IM_TCP_CONNECTIONS;

    if (!f->nb_conns)
        return;
    sample_set(c, d + IM_TCP_CONNECTIONS, f->nb_conns);
    sample_set(c, d + IM_RETRANSMITS, f->retransmits);
    sample_set(c, d + IM_RECV_QUEUE_BYTES, f->recv_queue_bytes);
    if (f->have & SOCKDIAG_HAVE_INFO) {
        sample_set(c, d + IM_RTT, f->rtt_s);
        sample_set(c, d + IM_RTT_VAR, f->rttvar_s);
        sample_set(c, d + IM_LOST, f->lost);
        sample_set(c, d + IM_LAST_ACK_AGE, f->last_ack_age_s);
        sample_set(c, d + IM_LAST_DATA_RECV_AGE, f->last_data_recv_age_s);
        sample_set(c, d + IM_LAST_DATA_SENT_AGE, f->last_data_sent_age_s);
    }
    if (f->have & SOCKDIAG_HAVE_NOTSENT) {
        sample_set(c, d + IM_UNACKED_BYTES, f->unacked_bytes);
        sample_set(c, d + IM_NOTSENT_BYTES, f->notsent_bytes);
    }
    if (f->have & SOCKDIAG_HAVE_SND_WND)
        sample_set(c, d + IM_PEER_WINDOW, f->peer_window);
    if (f->have & SOCKDIAG_HAVE_DELIVERY_RATE)
        sample_set(c, d + IM_DELIVERY_RATE, f->delivery_rate);
}

/* ---- live ---- */

struct AgentNet {
    LogCtx log;
    SockDiag *sd;
    const SockDiagTcp *socks;
    int nb;
    int failing;                  /* the last refresh failed: said once */
};

int agent_net_alloc(AgentNet **pa)
{
    AgentNet *a = av_mallocz(sizeof(*a));
    int ret;

    *pa = NULL;
    if (!a)
        return AVERROR(ENOMEM);
    logctx_init(&a->log, "agent:net");
    if ((ret = sockdiag_alloc(&a->sd)) < 0) {
        if (ret == AVERROR(ENOMEM)) {
            av_free(a);
            return ret;
        }
        av_log(a, AV_LOG_WARNING, "no sock_diag here (%s): no network figures of the "
               "connections\n", av_err2str(ret));
    }
    *pa = a;
    return 0;
}

void agent_net_free(AgentNet **pa)
{
    if (!*pa)
        return;
    sockdiag_free(&(*pa)->sd);
    av_freep(pa);
}

void agent_net_refresh(AgentNet *a)
{
    int ret;

    a->socks = NULL;
    a->nb = 0;
    if (!a->sd)
        return;
    ret = sockdiag_query(a->sd, 0, &a->socks, &a->nb);
    if (ret < 0 && !a->failing)
        av_log(a, AV_LOG_WARNING, "cannot read this process's sockets: %s\n", av_err2str(ret));
    else if (ret >= 0 && a->failing)
        av_log(a, AV_LOG_INFO, "reading this process's sockets again\n");
    a->failing = ret < 0;
    if (ret < 0) {
        a->socks = NULL;
        a->nb = 0;
    }
}

void agent_net_component(AgentNet *a, uint64_t inode, const NetPeer *peer, int dir,
                         NetTrack *t, NetFigures *f)
{
    const SockDiagTcp *conns[AGENT_NET_MAX_CONNS];
    int n = 0;

    if (a && a->sd)
        n = agent_net_match(a->socks, a->nb, inode, peer, dir, conns, AGENT_NET_MAX_CONNS);
    agent_net_figures(conns, n, t, f);
}
