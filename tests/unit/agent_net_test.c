/*
 * agent_net_test.c: the network agent: the endpoint of a component's URL,
 * its connections found among the sockets of a captured kernel answer
 * (tests/data/sockdiag/, see sockdiag_test.c), the figures of several
 * connections and a retransmission counter that survives them, and a live
 * loopback connection found by its URL.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>

#include "hma/agent_net.h"

static char data_dir[PATH_MAX / 2];

static void test_url_endpoint(void)
{
    AVDictionary *opts = NULL;
    char host[128];
    int port, listen;

    CU_ASSERT(agent_net_url_endpoint("rtmp://ingest.example.com/live/key", NULL, host,
                                     sizeof(host), &port, &listen) == 1);
    CU_ASSERT_STRING_EQUAL(host, "ingest.example.com");
    CU_ASSERT(port == 1935 && !listen);
    CU_ASSERT(agent_net_url_endpoint("rtmp://user:pw@10.0.0.5:19350/app/k", NULL, host,
                                     sizeof(host), &port, &listen) == 1);
    CU_ASSERT_STRING_EQUAL(host, "10.0.0.5");
    CU_ASSERT(port == 19350);
    CU_ASSERT(agent_net_url_endpoint("https://[2001:db8::1]/up/index.m3u8", NULL, host,
                                     sizeof(host), &port, &listen) == 1);
    CU_ASSERT_STRING_EQUAL(host, "2001:db8::1");
    CU_ASSERT(port == 443);
    CU_ASSERT(agent_net_url_endpoint("HTTP://origin:8080/x", NULL, host, sizeof(host), &port,
                                     &listen) == 1 && port == 8080);
    CU_ASSERT(agent_net_url_endpoint("rtsp://cam/stream", NULL, host, sizeof(host), &port,
                                     &listen) == 1 && port == 554);
    /* listening: by the local port */
    CU_ASSERT(agent_net_url_endpoint("rtmp://0.0.0.0:1940/live/in?listen=1", NULL, host,
                                     sizeof(host), &port, &listen) == 1 && listen && port == 1940);
    CU_ASSERT(agent_net_url_endpoint("tcp://0.0.0.0:9000?timeout=1&listen", NULL, host,
                                     sizeof(host), &port, &listen) == 1 && listen);
    CU_ASSERT(agent_net_url_endpoint("tcp://0.0.0.0:9000?listen=0", NULL, host, sizeof(host),
                                     &port, &listen) == 1 && !listen);
    av_dict_set(&opts, "listen", "1", 0);
    CU_ASSERT(agent_net_url_endpoint("rtmp://0.0.0.0/live/in", opts, host, sizeof(host), &port,
                                     &listen) == 1 && listen && port == 1935);
    av_dict_free(&opts);
    /* not TCP */
    CU_ASSERT(agent_net_url_endpoint("srt://relay:9000?mode=caller", NULL, host, sizeof(host),
                                     &port, &listen) == 0);
    CU_ASSERT(agent_net_url_endpoint("udp://239.0.0.1:5000", NULL, host, sizeof(host), &port,
                                     &listen) == 0);
    CU_ASSERT(agent_net_url_endpoint("out/index.m3u8", NULL, host, sizeof(host), &port,
                                     &listen) == 0);
    CU_ASSERT(agent_net_url_endpoint("testsrc2=size=320x180[out0]", NULL, host, sizeof(host),
                                     &port, &listen) == 0);
    /* TCP without a port or host */
    CU_ASSERT(agent_net_url_endpoint("tcp://host", NULL, host, sizeof(host), &port, &listen) ==
              AVERROR(EINVAL));
    CU_ASSERT(agent_net_url_endpoint("rtmp:///live", NULL, host, sizeof(host), &port, &listen) ==
              AVERROR(EINVAL));
}

/* The captured answer of sockdiag_test: a client and a server on
 * loopback, the server reading nothing. */
static int load_capture(SockDiagTcp *s, int max, int *cli_port, int *srv_port)
{
    static uint8_t buf[65536];
    char path[PATH_MAX];
    SockDiagParse p = { 0 };
    unsigned seq;
    size_t len;
    int nb = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/tcp4-full.txt", data_dir);
    f = fopen(path, "r");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(fscanf(f, "seq %u client_inode %*u server_inode %*u client_port %d "
                           "server_port %d", &seq, cli_port, srv_port) == 3);
    fclose(f);
    snprintf(path, sizeof(path), "%s/tcp4-full.bin", data_dir);
    f = fopen(path, "rb");
    CU_ASSERT_FATAL(f != NULL);
    len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    p.seq = seq;
    p.kernel_snd_wnd = 1;
    CU_ASSERT_FATAL(sockdiag_parse(buf, len, &p, s, max, &nb, NULL) == 1);
    return nb;
}

static void peer_v4(NetPeer *p, const char *addr, int port)
{
    struct sockaddr_in *in = (struct sockaddr_in *)&p->addrs[0];

    memset(p, 0, sizeof(*p));
    p->tcp = 1;
    p->port = port;
    p->nb_addrs = 1;
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    inet_pton(AF_INET, addr, &in->sin_addr);
}

static void test_match_captured(void)
{
    SockDiagTcp s[4];
    const SockDiagTcp *m[4];
    NetPeer peer;
    int cli_port, srv_port, nb = load_capture(s, 4, &cli_port, &srv_port);
    const SockDiagTcp *cli = NULL, *srv = NULL;

    CU_ASSERT_FATAL(nb == 2);
    for (int i = 0; i < nb; i++)
        if (sockdiag_port(&s[i].local) == cli_port)
            cli = &s[i];
        else
            srv = &s[i];
    CU_ASSERT_FATAL(cli && srv);
    /* an output pushing to the server: the client's socket */
    peer_v4(&peer, "127.0.0.1", srv_port);
    CU_ASSERT(agent_net_match(s, nb, 0, &peer, AGENT_NET_SEND, m, 4) == 1 && m[0] == cli);
    /* a source at the same place receives: the client sent, it is not one */
    CU_ASSERT(agent_net_match(s, nb, 0, &peer, AGENT_NET_RECV, m, 4) == 0);
    /* another port, another address: nothing */
    peer_v4(&peer, "127.0.0.1", srv_port + 1);
    CU_ASSERT(agent_net_match(s, nb, 0, &peer, AGENT_NET_SEND, m, 4) == 0);
    peer_v4(&peer, "127.0.0.2", srv_port);
    CU_ASSERT(agent_net_match(s, nb, 0, &peer, AGENT_NET_SEND, m, 4) == 0);
    /* a source listening on the server's port: the accepted connection,
     * which receives */
    memset(&peer, 0, sizeof(peer));
    peer.tcp = peer.listen = 1;
    peer.port = srv_port;
    CU_ASSERT(agent_net_match(s, nb, 0, &peer, AGENT_NET_RECV, m, 4) == 1 && m[0] == srv);
    /* the plane's inode wins over the URL, and is enough alone */
    peer_v4(&peer, "127.0.0.1", srv_port);
    CU_ASSERT(agent_net_match(s, nb, srv->inode, &peer, AGENT_NET_SEND, m, 4) == 1 && m[0] == srv);
    CU_ASSERT(agent_net_match(s, nb, cli->inode, NULL, AGENT_NET_SEND, m, 4) == 1 && m[0] == cli);
    /* an inode that is gone: the URL again */
    CU_ASSERT(agent_net_match(s, nb, 1, &peer, AGENT_NET_SEND, m, 4) == 1 && m[0] == cli);
    /* not TCP: nothing, even with sockets around */
    memset(&peer, 0, sizeof(peer));
    CU_ASSERT(agent_net_match(s, nb, 0, &peer, AGENT_NET_SEND, m, 4) == 0);
}

static void test_figures(void)
{
    SockDiagTcp a, b;
    const SockDiagTcp *c[2] = { &a, &b };
    NetTrack t = { 0 };
    NetFigures f;
    SampleComp sc = { 0 };

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.inode = 11;
    a.have = b.have = SOCKDIAG_HAVE_INFO | SOCKDIAG_HAVE_NOTSENT | SOCKDIAG_HAVE_SND_WND;
    a.wqueue = 100;
    a.unacked_bytes = 60;
    a.notsent_bytes = 40;
    a.rtt_us = 20000;
    a.rttvar_us = 5000;
    a.snd_wnd = 65536;
    a.last_ack_recv_ms = 1500;
    a.last_data_sent_ms = 10;
    a.total_retrans = 5;
    a.lost = 1;
    a.rqueue = 7;
    b = a;
    b.inode = 12;
    b.wqueue = 5000;                  /* the one with most waiting */
    b.unacked_bytes = 1000;
    b.notsent_bytes = 4000;
    b.rtt_us = 80000;
    b.snd_wnd = 0;
    b.last_ack_recv_ms = 3000;
    b.total_retrans = 2;
    agent_net_figures(c, 2, &t, &f);
    CU_ASSERT(f.nb_conns == 2);
    CU_ASSERT(f.unacked_bytes == 1060 && f.notsent_bytes == 4040 && f.recv_queue_bytes == 14);
    CU_ASSERT(f.lost == 2 && f.retransmits == 7);
    CU_ASSERT(fabs(f.rtt_s - 0.08) < 1e-12 && f.peer_window == 0 && fabs(f.last_ack_age_s - 3) < 1e-12);
    /* b closes, a retransmits once more: the counter keeps b's */
    a.total_retrans = 6;
    agent_net_figures(c, 1, &t, &f);
    CU_ASSERT(f.retransmits == 8 && f.nb_conns == 1);
    CU_ASSERT(fabs(f.rtt_s - 0.02) < 1e-12 && f.peer_window == 65536);
    /* no connection at all: counted, but nothing to show */
    agent_net_figures(c, 0, &t, &f);
    CU_ASSERT(f.nb_conns == 0 && f.retransmits == 8);
    agent_net_sample(&f, &sc, XM_TCP_CONNECTIONS);
    CU_ASSERT(sc.present == 0);
    /* a new connection: on top of the old ones */
    b.total_retrans = 1;
    c[0] = &b;
    agent_net_figures(c, 1, &t, &f);
    CU_ASSERT(f.retransmits == 9);
    agent_net_sample(&f, &sc, XM_TCP_CONNECTIONS);
    CU_ASSERT(sample_has(&sc, XM_TCP_CONNECTIONS) && sc.v[XM_TCP_CONNECTIONS] == 1);
    CU_ASSERT(sample_has(&sc, XM_PEER_WINDOW) && sc.v[XM_PEER_WINDOW] == 0);
    CU_ASSERT(sample_has(&sc, XM_NOTSENT_BYTES) && sc.v[XM_NOTSENT_BYTES] == 4000);
    CU_ASSERT(sample_has(&sc, XM_RETRANSMITS) && sc.v[XM_RETRANSMITS] == 9);
    /* what the kernel did not give stays absent: no delivery rate here */
    CU_ASSERT(!sample_has(&sc, XM_DELIVERY_RATE));
    /* an ingest gets the same figures in its own slots */
    memset(&sc, 0, sizeof(sc));
    agent_net_sample(&f, &sc, IM_TCP_CONNECTIONS);
    CU_ASSERT(sample_has(&sc, IM_LAST_ACK_AGE) && fabs(sc.v[IM_LAST_ACK_AGE] - 3) < 1e-12);
    CU_ASSERT(!sample_has(&sc, IM_UP));
}

/* A live connection found by the URL a component would have. */
static void test_live(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);
    AgentNet *a = NULL;
    NetPeer peer;
    NetTrack t = { 0 };
    NetFigures f;
    char url[128];
    int lfd, cfd, sfd;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    CU_ASSERT_FATAL(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
                    listen(lfd, 1) == 0 && getsockname(lfd, (struct sockaddr *)&sa, &len) == 0);
    cfd = socket(AF_INET, SOCK_STREAM, 0);
    CU_ASSERT_FATAL(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    sfd = accept(lfd, NULL, NULL);
    CU_ASSERT_FATAL(sfd >= 0);
    CU_ASSERT(write(cfd, "0123456789", 10) == 10);
    usleep(20000);

    CU_ASSERT_FATAL(agent_net_alloc(&a) == 0);
    snprintf(url, sizeof(url), "rtmp://localhost:%d/live/key", ntohs(sa.sin_port));
    CU_ASSERT_FATAL(agent_net_resolve(url, NULL, &peer) == 0);
    CU_ASSERT(peer.tcp && peer.nb_addrs >= 1 && peer.port == ntohs(sa.sin_port));
    agent_net_refresh(a);
    agent_net_component(a, 0, &peer, AGENT_NET_SEND, &t, &f);
    CU_ASSERT(f.nb_conns == 1 && (f.have & SOCKDIAG_HAVE_INFO) && f.rtt_s > 0);
    /* the server side, as a listening source would see it */
    snprintf(url, sizeof(url), "rtmp://0.0.0.0:%d/live/in?listen=1", ntohs(sa.sin_port));
    CU_ASSERT_FATAL(agent_net_resolve(url, NULL, &peer) == 0);
    memset(&t, 0, sizeof(t));
    agent_net_component(a, 0, &peer, AGENT_NET_RECV, &t, &f);
    CU_ASSERT(f.nb_conns == 1 && f.recv_queue_bytes == 10);
    /* a file output: no peer, nothing */
    CU_ASSERT(agent_net_resolve("out/a.m3u8", NULL, &peer) == 0 && !peer.tcp);
    agent_net_component(a, 0, &peer, AGENT_NET_SEND, &t, &f);
    CU_ASSERT(f.nb_conns == 0);
    /* a name that does not resolve: said, and nothing found */
    CU_ASSERT(agent_net_resolve("rtmp://no-such-host.invalid/live/k", NULL, &peer) ==
              AVERROR(EHOSTUNREACH));
    CU_ASSERT(peer.tcp && peer.nb_addrs == 0);
    /* closed: gone at the next refresh */
    close(cfd);
    close(sfd);
    close(lfd);
    snprintf(url, sizeof(url), "rtmp://127.0.0.1:%d/live/key", ntohs(sa.sin_port));
    CU_ASSERT(agent_net_resolve(url, NULL, &peer) == 0);
    agent_net_refresh(a);
    agent_net_component(a, 0, &peer, AGENT_NET_SEND, &t, &f);
    CU_ASSERT(f.nb_conns == 0);
    agent_net_free(&a);
    agent_net_free(&a);
    CU_ASSERT(a == NULL);
}

int main(void)
{
    char exe[PATH_MAX];
    ssize_t len;
    CU_pSuite s;
    int failures;

    len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len <= 0)
        return 1;
    exe[len] = 0;
    snprintf(data_dir, sizeof(data_dir), "%s/../data/sockdiag", dirname(exe));
    av_log_set_level(AV_LOG_ERROR);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    s = CU_add_suite("agent_net", NULL, NULL);
    CU_add_test(s, "endpoint of a URL", test_url_endpoint);
    CU_add_test(s, "a component's connections in a captured answer", test_match_captured);
    CU_add_test(s, "figures of several connections", test_figures);
    CU_add_test(s, "live loopback connection by URL", test_live);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures;
}
