/*
 * conn.h: the TCP connections a muxer holds to its destination, watched
 * from inside this process, so that a peer that stops taking data is
 * noticed within stall_timeout instead of once every buffer is full and
 * rw_timeout has passed.
 *
 * libav does not hand its sockets out. The watch finds them the way the
 * kernel names them: every socket of this process (/proc/self/fd) whose
 * peer is the destination's address and port. RTMP holds one; HLS and
 * DASH over HTTP open one per upload and per confirmation (delivery.h).
 *
 * A hung peer (a stopped process, a blackholed route, a link that went
 * down without a reset) looks healthy to the writer for as long as the
 * kernel buffers take its bytes: seconds at 4 Mbit/s. What gives it away
 * is that its application reads nothing: the window it offers closes
 * (the right edge, bytes acknowledged + window, stops moving on with what
 * is acknowledged) while its kernel still takes what fits in its receive
 * buffer (a stopped process: measured on a loopback nginx at 4 Mbit/s,
 * a 1.1 MB window closed to 0 in 1.5 s), or nothing at all comes back (a
 * blackholed route). So the watch follows, per connection, that right
 * edge (over spans of 100 ms, moving by at least a quarter of what was
 * acknowledged meanwhile, with the window at least half as open as it has
 * been: a reading peer keeps its buffer near empty) (the bytes acknowledged on a kernel before 6.2, which does not say
 * the window) and the bytes the peer has sent; a peer is stalled when
 * neither has moved for longer than the deadline while something is owed
 * to it
 * (bytes written and not acknowledged) or something is awaited from it (a
 * call waiting on it). The deadline is stall_timeout, or more on a path
 * whose round trips are long: three retransmission timeouts, so that a
 * lost segment retransmitted twice is not a stall.
 *
 * It also caps each new connection's send buffer (SO_SNDBUF), so that
 * what "written" means stays close to what "delivered" means, and reports
 * the bytes not yet acknowledged and the largest window the peer offered:
 * together, what the peer may not have read yet (output.c keeps all of it
 * for a replay).
 *
 * One thread uses a watch (the muxer's: inside libav's interrupt callback
 * and between writes). It reads sockets libav owns on that same thread;
 * each is checked to still be the same socket (its inode) before use.
 */
#ifndef HS_CONN_H
#define HS_CONN_H

#include <stdint.h>

typedef struct ConnWatch ConnWatch;

typedef struct ConnFigures {
    int nb_sockets;              /* connections to the peer now */
    uint64_t inode;              /* the newest of them (socket:[INODE]), 0: none */
    int64_t pending;             /* bytes written and not acknowledged, all of them */
    int64_t window_max;          /* the largest receive window the peer offered */
    int64_t window;              /* the newest connection's, now; -1 unknown */
    int64_t rtt_us, rttvar_us;   /* the newest connection's smoothed RTT; 0 unknown */
    int64_t acked;               /* bytes acknowledged, all connections so far */
    int64_t last_progress_us;    /* when the peer last acknowledged or sent
                                    something (av_gettime_relative) */
    int64_t owed_since_us;       /* since when bytes are owed: not acknowledged
                                    (pending > 0), or acknowledged and unread
                                    (a window less than half as open as it
                                    has been); 0: nothing owed */
} ConnFigures;

/*
 * A watch of the TCP connections to url's host and port (rtmp, rtmps,
 * rtmpt, http, https, tcp, tls). *pw is NULL and 0 returned when there is
 * nothing to watch: a file, a UDP protocol, a host that does not resolve
 * (libav will say so itself). send_buffer: SO_SNDBUF for each connection
 * found, 0 to leave the kernel's sizing. url may hold secrets: nothing of
 * it is logged. Returns 0 or AVERROR(ENOMEM).
 */
int conn_watch_alloc(ConnWatch **pw, const char *url, int64_t send_buffer);
void conn_watch_free(ConnWatch **pw);

/* Reads the connections' figures (at most every CONN_POLL_US; the process's
 * sockets are listed again at most every CONN_SCAN_US). */
void conn_watch_poll(ConnWatch *w, int64_t now_us);

void conn_watch_figures(const ConnWatch *w, ConnFigures *f);

/* The deadline for a peer with this RTT (0: unknown): stall_timeout, or
 * three retransmission timeouts when that is longer. */
int64_t conn_deadline(int64_t stall_timeout_us, int64_t rtt_us, int64_t rttvar_us);

/* Has the peer stalled? busy_us: how long the caller has been waiting on
 * it in one call (0: not waiting). Pure. */
int conn_stalled(const ConnFigures *f, int64_t busy_us, int64_t now_us, int64_t stall_timeout_us);

#endif
