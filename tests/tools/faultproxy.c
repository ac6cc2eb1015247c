/*
 * faultproxy: a TCP proxy that injects network faults, for the integration
 * tests.
 *
 * Tests put it between hotspare and a real peer (nginx-rtmp, nginx WebDAV,
 * an ffmpeg listener) and make the network misbehave on cue. It forwards any
 * number of connections both ways from one single-threaded poll() loop with
 * non-blocking sockets and a bounded buffer per connection and direction.
 * When a buffer is full the proxy stops reading the side that fills it, so
 * TCP back-pressure reaches the sender as it would on a slow link.
 *
 *   faultproxy --listen HOST:PORT --connect HOST:PORT [--control FIFO]
 *              [--schedule SPEC]... [--log FILE] [--buffer SIZE]
 *
 * Faults. "up" is client to server, "down" is server to client; a fault that
 * takes a direction applies to both when none is given:
 *
 *   delay D [DIR]      hold every byte D before forwarding it
 *   bandwidth R [DIR]  cap at R bytes/s (alias bw; "50k" = 50000, "64Ki" =
 *                      65536); 0 lifts the cap. The cap is a link shared by
 *                      all connections, not a per-connection cap
 *   stall [D] [DIR]    forward nothing for D, or until resume or clear; keep
 *                      connections open and keep reading until the buffer
 *                      is full
 *   resume [DIR]       end a stall
 *   reset [D]          close every open connection with RST (SO_LINGER 0);
 *                      with D, also answer new connections with RST for D
 *   drop [D]           accept new connections and close them at once, for D
 *                      or until clear
 *   clear              back to pass-through (all of the above ended)
 *   stats              log the counters and the bytes buffered now
 *
 * An argument follows the verb after a space or '=': "delay=200ms up" is
 * "delay 200ms up". Durations take a unit: 250us, 200ms, 2s, 1.5s, 1m.
 *
 * Ramps: a link that degrades gradually, as a real one does before it
 * fails, so that a predictor has something to see coming:
 *
 *   [ramp] delay A..B over D [DIR] [linear|exp]
 *   [ramp] bandwidth A..B over D [DIR] [linear|exp]
 *                      move the delay (the cap) from A to B over D, a new
 *                      value every 20 ms, then hold B. exp moves by equal
 *                      ratios (2M..50k over 60s halves every 11 s) and needs
 *                      both ends above 0, as a bandwidth ramp does (0 is no
 *                      cap, not a rate). A plain delay (bandwidth) ends a
 *                      ramp of it in its directions; clear ends all. A
 *                      stall stops the flow on top of a ramp, which goes
 *                      on. The log shows each ramp's value once a second
 *                      ("ramp: delay 120ms both") and when it ends.
 *   e.g. "0s:delay=0ms..800ms over 60s,60s:stall" or
 *        "bandwidth 2M..50k over 60s up exp"
 *
 * --buffer SIZE (default 1Mi) bounds what one connection holds each way, so
 * a stall absorbs that much before the sender is pushed back, and under a
 * delay D one connection moves at most SIZE / D bytes/s.
 *
 * --schedule "2s:delay=200ms,5s:stall=3s,10s:reset,12s:bw=50k down,15s:clear"
 *     runs commands at times counted from when the proxy starts listening.
 * --control FIFO
 *     reads the same commands, one per line, from a FIFO, created when
 *     missing and then removed at exit:  echo "stall 2s" > FIFO
 *
 * Once it accepts connections it prints "faultproxy: listening on ADDR" to
 * stderr (tests wait for that line). It logs every fault, control line and
 * connection with the seconds since start to --log FILE (default stderr),
 * and at exit (SIGTERM, SIGINT) a "counters:" line of key=value pairs.
 * Exit status: 0 after a signal, 1 on a runtime error, 2 on bad arguments.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Per connection and direction. With a delay D, one connection moves at
 * most buffer / D bytes/s (1 MiB at 200 ms: 5 MB/s, above any live stream). */
#define FP_BUF_DEFAULT  (1024 * 1024)
#define FP_MAX_MARKS    4096        /* timestamped chunks per buffer */
#define FP_COALESCE_US  1000        /* reads closer than this share a stamp */
#define FP_MAX_CONNS    256         /* beyond it, new ones wait in the backlog */
#define FP_MAX_SCHEDULE 64
#define FP_LINE_MAX     512         /* < PIPE_BUF: an echoed line arrives whole */
#define FP_ERR_LEN      256
#define FP_FOREVER      INT64_MAX   /* a fault with no end: until clear */
/* A ramp moves its value this often: smooth next to the 50 ms burst of the
 * bandwidth cap and to the frame period of a live stream, and 50 wake-ups
 * a second cost nothing. */
#define FP_RAMP_STEP_US 20000
#define FP_RAMP_LOG_US  1000000     /* a ramp's value in the log this often */

enum { UP, DOWN, NB_DIRS };         /* also the side read: 0 client, 1 server */
#define DIR_UP   (1u << UP)
#define DIR_DOWN (1u << DOWN)
#define DIR_BOTH (DIR_UP | DIR_DOWN)

enum Verb { V_DELAY, V_BANDWIDTH, V_STALL, V_RESUME, V_RESET, V_DROP,
            V_CLEAR, V_STATS };
enum ArgKind { ARG_NONE, ARG_DURATION, ARG_RATE };

typedef struct VerbDef {
    const char  *name;
    enum Verb    verb;
    enum ArgKind arg;
    int          arg_required;
    int          takes_dir;
    int          ramps;         /* takes A..B over D */
} VerbDef;

static const VerbDef verb_defs[] = {
    { "delay",     V_DELAY,     ARG_DURATION, 1, 1, 1 },
    { "bandwidth", V_BANDWIDTH, ARG_RATE,     1, 1, 1 },
    { "bw",        V_BANDWIDTH, ARG_RATE,     1, 1, 1 },
    { "stall",     V_STALL,     ARG_DURATION, 0, 1, 0 },
    { "resume",    V_RESUME,    ARG_NONE,     0, 1, 0 },
    { "reset",     V_RESET,     ARG_DURATION, 0, 0, 0 },
    { "drop",      V_DROP,      ARG_DURATION, 0, 0, 0 },
    { "clear",     V_CLEAR,     ARG_NONE,     0, 0, 0 },
    { "stats",     V_STATS,     ARG_NONE,     0, 0, 0 },
};

enum Shape { SHAPE_LINEAR, SHAPE_EXP };

typedef struct Cmd {
    const VerbDef *def;
    int64_t        arg;     /* us or bytes/s; -1: not given; a ramp's start */
    unsigned       dirs;    /* DIR_* */
    int            ramp;    /* arg..to over `over` */
    int64_t        to, over;
    enum Shape     shape;
} Cmd;

typedef struct SchedItem {
    int64_t at;             /* us after start */
    Cmd     cmd;
} SchedItem;

/* What a ramp moves: the delay or the bandwidth cap. */
enum { RAMP_DELAY, RAMP_RATE, NB_RAMPS };

/* A value moving from `from` to `to` between start and start + len. */
typedef struct Ramp {
    int        on;
    enum Shape shape;
    int64_t    from, to;    /* us or bytes/s */
    int64_t    start, len;  /* monotonic us */
    int64_t    next_step;   /* when the value moves next */
    int64_t    next_log;
} Ramp;

/* Fault state of one direction, shared by every connection. */
typedef struct Fault {
    int64_t delay;          /* us each byte is held */
    int64_t stall_until;    /* monotonic us; 0: flowing */
    int64_t rate;           /* bytes/s; 0: no cap */
    double  tokens;         /* token bucket of the cap */
    int64_t refill_t;
    Ramp    ramp[NB_RAMPS];
} Fault;

/* Byte n of the stream arrived at t, for every n below end. */
typedef struct Mark {
    uint64_t end;
    int64_t  t;
} Mark;

/*
 * One direction of one connection: a ring buffer that reads fd[dir] and
 * writes fd[!dir]. in and out count bytes since the connection opened, so
 * in - out is what is buffered and never exceeds size.
 */
typedef struct Pipe {
    uint8_t *buf;
    size_t   size;
    uint64_t in, out;
    Mark    *marks;         /* ring of FP_MAX_MARKS, oldest first */
    unsigned mark_head, nb_marks;
    int      eof;           /* the source sent FIN ... */
    int64_t  eof_t;         /* ... at this time */
    int      shut;          /* FIN passed on */
    int      blocked;       /* the last write hit EAGAIN: wait for POLLOUT */
} Pipe;

typedef struct Conn {
    unsigned id;
    int      fd[2];         /* [UP] client, [DOWN] server */
    int      connecting;    /* non-blocking connect to the server pending */
    int      hup[2];        /* POLLHUP seen: poll only when there is work */
    int      dead;          /* closed; swept at the end of the pass */
    Pipe     pipe[NB_DIRS];
    char     peer[64];
    int64_t  opened;
} Conn;

typedef struct Counters {
    uint64_t bytes[NB_DIRS];
    unsigned conns, refused, dropped, failed, aborted, resets, faults;
} Counters;

typedef struct Proxy {
    int64_t   t0;
    FILE     *log;
    int       listen_fd, ctl_fd, ctl_wfd;
    char      listen_name[80], connect_name[80];
    struct sockaddr_storage connect_addr;
    socklen_t connect_len;
    const char *ctl_path;
    int       ctl_created;
    char      ctl_line[FP_LINE_MAX];
    size_t    ctl_len;
    int       ctl_overlong;
    Fault     fault[NB_DIRS];
    int64_t   refuse_until, drop_until;
    SchedItem sched[FP_MAX_SCHEDULE];
    int       nb_sched, next_sched;
    Conn     *conns[FP_MAX_CONNS];
    int       nb_conns;
    unsigned  next_id;
    size_t    bufsize;
    Counters  cnt;
} Proxy;

static int sig_pipe[2] = { -1, -1 };

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void lower(int64_t *wake, int64_t t)
{
    if (t < *wake)
        *wake = t;
}

/* ---- parsing ------------------------------------------------------------ */

typedef struct Unit {
    const char *name;
    double      mult;
} Unit;

static const Unit duration_units[] = {
    { "us", 1 }, { "ms", 1e3 }, { "s", 1e6 }, { "m", 60e6 }, { "h", 3600e6 },
    { NULL, 0 }
};

static const Unit rate_units[] = {
    { "", 1 }, { "k", 1e3 }, { "M", 1e6 }, { "G", 1e9 },
    { "Ki", 1024 }, { "Mi", 1048576 }, { "Gi", 1073741824 }, { NULL, 0 }
};

/* A non-negative decimal number and a unit from the table; "0" alone is
 * allowed for durations because zero needs no unit. */
static int parse_units(const char *s, const Unit *units, int64_t *val,
                       char *err, size_t errlen)
{
    char *end;
    double v;
    int i;

    /* strtod would also take "inf", "0x10" and leading blanks */
    if (!((*s >= '0' && *s <= '9') || *s == '.')) {
        snprintf(err, errlen, "'%s' is not a number", s);
        return -1;
    }
    errno = 0;
    v = strtod(s, &end);
    if (end == s || errno) {
        snprintf(err, errlen, "'%s' is not a number", s);
        return -1;
    }
    if (!*end && v == 0) {
        *val = 0;
        return 0;
    }
    for (i = 0; units[i].name; i++) {
        if (strcmp(end, units[i].name))
            continue;
        if (v * units[i].mult > 1e15) {
            snprintf(err, errlen, "'%s' is too large", s);
            return -1;
        }
        *val = (int64_t)(v * units[i].mult + 0.5);
        return 0;
    }
    if (!*end)
        snprintf(err, errlen, "'%s' needs a unit (us, ms, s, m, h)", s);
    else
        snprintf(err, errlen, "unknown unit '%s' in '%s'", end, s);
    return -1;
}

static int parse_dir(const char *s, unsigned *dirs)
{
    if (!strcmp(s, "up") || !strcmp(s, "upstream"))
        *dirs = DIR_UP;
    else if (!strcmp(s, "down") || !strcmp(s, "downstream"))
        *dirs = DIR_DOWN;
    else if (!strcmp(s, "both"))
        *dirs = DIR_BOTH;
    else
        return -1;
    return 0;
}

/* A ramp's "A..B" into cmd->arg and cmd->to, checked for its verb. */
static int parse_range(const char *arg, Cmd *cmd, char *err, size_t errlen)
{
    const Unit *units = cmd->def->arg == ARG_RATE ? rate_units : duration_units;
    const char *dots = strstr(arg, "..");
    char from[64];

    if (!dots || (size_t)(dots - arg) >= sizeof(from)) {
        snprintf(err, errlen, "%s: a ramp wants FROM..TO, not '%s'",
                 cmd->def->name, arg);
        return -1;
    }
    memcpy(from, arg, dots - arg);
    from[dots - arg] = 0;
    if (parse_units(from, units, &cmd->arg, err, errlen) < 0 ||
        parse_units(dots + 2, units, &cmd->to, err, errlen) < 0)
        return -1;
    /* 0 lifts the cap: a ramp through "no cap" has no meaning, and an
     * equal-ratio ramp cannot start or end at 0 */
    if ((cmd->def->verb == V_BANDWIDTH || cmd->shape == SHAPE_EXP) &&
        (!cmd->arg || !cmd->to)) {
        snprintf(err, errlen, "%s ramp %s: both ends must be above 0",
                 cmd->def->name, arg);
        return -1;
    }
    return 0;
}

/*
 * "VERB[ |=]ARG [DIR]": the argument and the direction in either order.
 * Ramps: "[ramp] VERB A..B over D [DIR] [linear|exp]", words in any order
 * after the range.
 */
static int parse_cmd(const char *text, Cmd *cmd, char *err, size_t errlen)
{
    char buf[FP_LINE_MAX], *tok, *save = NULL;
    const char *arg = NULL, *over = NULL;
    size_t i;
    int dir_given = 0, ramp_word = 0, shape_given = 0;

    snprintf(buf, sizeof(buf), "%s", text);
    for (i = 0; buf[i]; i++)
        if (buf[i] == '=' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n')
            buf[i] = ' ';
    tok = strtok_r(buf, " ", &save);
    if (tok && !strcmp(tok, "ramp")) {
        ramp_word = 1;
        tok = strtok_r(NULL, " ", &save);
    }
    if (!tok) {
        snprintf(err, errlen, ramp_word ? "ramp: delay or bandwidth?"
                                        : "empty command");
        return -1;
    }
    cmd->def = NULL;
    for (i = 0; i < sizeof(verb_defs) / sizeof(verb_defs[0]); i++)
        if (!strcmp(tok, verb_defs[i].name))
            cmd->def = &verb_defs[i];
    if (!cmd->def) {
        snprintf(err, errlen, "unknown command '%s' (delay, bandwidth, stall, "
                 "resume, reset, drop, clear, stats, ramp)", tok);
        return -1;
    }
    if (ramp_word && !cmd->def->ramps) {
        snprintf(err, errlen, "ramp: only delay and bandwidth ramp, not %s", tok);
        return -1;
    }
    cmd->arg   = -1;
    cmd->dirs  = DIR_BOTH;
    cmd->ramp  = 0;
    cmd->to    = cmd->over = 0;
    cmd->shape = SHAPE_LINEAR;
    while ((tok = strtok_r(NULL, " ", &save))) {
        if (cmd->def->takes_dir && !dir_given && !parse_dir(tok, &cmd->dirs)) {
            dir_given = 1;
        } else if (cmd->def->ramps && !over && !strcmp(tok, "over")) {
            over = strtok_r(NULL, " ", &save);
            if (!over) {
                snprintf(err, errlen, "%s: over how long?", cmd->def->name);
                return -1;
            }
        } else if (cmd->def->ramps && !shape_given &&
                   (!strcmp(tok, "linear") || !strcmp(tok, "exp"))) {
            shape_given = 1;
            cmd->shape = tok[0] == 'e' ? SHAPE_EXP : SHAPE_LINEAR;
        } else if (cmd->def->arg != ARG_NONE && !arg) {
            arg = tok;
        } else {
            snprintf(err, errlen, "%s: unexpected '%s'", cmd->def->name, tok);
            return -1;
        }
    }
    if (!arg && cmd->def->arg_required) {
        snprintf(err, errlen, "%s needs a %s", cmd->def->name,
                 cmd->def->arg == ARG_RATE ? "rate in bytes/s" : "duration");
        return -1;
    }
    cmd->ramp = ramp_word || over || shape_given || (arg && strstr(arg, ".."));
    if (!cmd->ramp)
        return arg ? parse_units(arg, cmd->def->arg == ARG_RATE ? rate_units
                                                               : duration_units,
                                 &cmd->arg, err, errlen) : 0;
    if (!over) {
        snprintf(err, errlen, "%s ramp: over how long? (%s A..B over 60s)",
                 cmd->def->name, cmd->def->name);
        return -1;
    }
    if (parse_range(arg, cmd, err, errlen) < 0 ||
        parse_units(over, duration_units, &cmd->over, err, errlen) < 0)
        return -1;
    if (!cmd->over) {
        snprintf(err, errlen, "%s ramp: over 0 is no ramp", cmd->def->name);
        return -1;
    }
    return 0;
}

/* "TIME:CMD,TIME:CMD,...", appended to px->sched in time order. */
static int parse_schedule(Proxy *px, const char *spec, char *err, size_t errlen)
{
    char *copy = strdup(spec), *item, *save = NULL, *colon;
    char why[FP_ERR_LEN / 2];
    SchedItem si;
    int i, ret = 0;

    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (item = strtok_r(copy, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        colon = strchr(item, ':');
        if (!colon) {
            snprintf(err, errlen, "schedule item '%s': want TIME:COMMAND", item);
            ret = -1;
            break;
        }
        *colon = 0;
        for (i = (int)strlen(item); i > 0 && item[i - 1] == ' '; i--)
            item[i - 1] = 0;
        if (parse_units(item, duration_units, &si.at, why, sizeof(why)) < 0 ||
            parse_cmd(colon + 1, &si.cmd, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "schedule item '%.40s:%.40s': %s", item,
                     colon + 1, why);
            ret = -1;
            break;
        }
        if (px->nb_sched == FP_MAX_SCHEDULE) {
            snprintf(err, errlen, "more than %d schedule items", FP_MAX_SCHEDULE);
            ret = -1;
            break;
        }
        /* insertion keeps items with equal times in the order written */
        for (i = px->nb_sched; i > 0 && px->sched[i - 1].at > si.at; i--)
            px->sched[i] = px->sched[i - 1];
        px->sched[i] = si;
        px->nb_sched++;
    }
    free(copy);
    return ret;
}

/* "HOST:PORT" or "[V6ADDR]:PORT" to an address, numeric or resolved. */
static int parse_addr(const char *s, int passive, struct sockaddr_storage *ss,
                      socklen_t *len, char *err, size_t errlen)
{
    char host[256];
    const char *port;
    struct addrinfo hints = { 0 }, *res;
    int r;

    port = strrchr(s, ':');
    if (!port || port == s || !port[1] || (size_t)(port - s) >= sizeof(host)) {
        snprintf(err, errlen, "'%s': want HOST:PORT", s);
        return -1;
    }
    memcpy(host, s, port - s);
    host[port - s] = 0;
    port++;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = 0;
    }
    hints.ai_family   = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags    = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    r = getaddrinfo(host, port, &hints, &res);
    if (r) {
        snprintf(err, errlen, "'%s': %s", s, gai_strerror(r));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* ---- formatting and logging --------------------------------------------- */

static const char *fmt_duration(int64_t us, char *buf, size_t size)
{
    if (us % 1000000 == 0)
        snprintf(buf, size, "%" PRId64 "s", us / 1000000);
    else if (us % 1000 == 0)
        snprintf(buf, size, "%" PRId64 "ms", us / 1000);
    else
        snprintf(buf, size, "%" PRId64 "us", us);
    return buf;
}

static const char *dir_name(unsigned dirs)
{
    return dirs == DIR_BOTH ? "both" : dirs == DIR_UP ? "up" : "down";
}

/* A delay or a rate as the log shows it: "800ms", "50000 B/s". */
static const char *fmt_value(enum ArgKind kind, int64_t v, char *buf, size_t size)
{
    if (kind == ARG_RATE)
        snprintf(buf, size, "%" PRId64 " B/s", v);
    else
        fmt_duration(v, buf, size);
    return buf;
}

/* As the log shows a command: "delay 200ms up", "stall both, until resume",
 * "delay 0s..800ms over 60s both". */
static void fmt_cmd(const Cmd *cmd, char *buf, size_t size)
{
    char arg[96] = "", a[32], b[32], d[32];
    const char *until = "";

    if (cmd->ramp)
        snprintf(arg, sizeof(arg), " %s..%s over %s",
                 fmt_value(cmd->def->arg, cmd->arg, a, sizeof(a)),
                 fmt_value(cmd->def->arg, cmd->to, b, sizeof(b)),
                 fmt_duration(cmd->over, d, sizeof(d)));
    else if (cmd->def->arg == ARG_RATE && cmd->arg)
        snprintf(arg, sizeof(arg), " %s", fmt_value(ARG_RATE, cmd->arg, a, sizeof(a)));
    else if (cmd->def->arg == ARG_RATE)
        snprintf(arg, sizeof(arg), " off");
    else if (cmd->def->arg == ARG_DURATION && cmd->arg >= 0) {
        arg[0] = ' ';
        fmt_duration(cmd->arg, arg + 1, sizeof(arg) - 1);
    } else if (cmd->def->verb == V_STALL) {
        until = ", until resume";
    } else if (cmd->def->verb == V_DROP) {
        until = ", until clear";
    }
    if (cmd->ramp && cmd->shape == SHAPE_EXP)
        until = ", exp";
    snprintf(buf, size, "%s%s%s%s%s",
             cmd->def->verb == V_BANDWIDTH ? "bandwidth" : cmd->def->name, arg,
             cmd->def->takes_dir ? " " : "",
             cmd->def->takes_dir ? dir_name(cmd->dirs) : "", until);
}

static void __attribute__((format(printf, 2, 3)))
fp_log(Proxy *px, const char *fmt, ...)
{
    va_list ap;
    int64_t t = now_us() - px->t0;

    fprintf(px->log, "faultproxy: +%" PRId64 ".%03ds ", t / 1000000,
            (int)(t % 1000000 / 1000));
    va_start(ap, fmt);
    vfprintf(px->log, fmt, ap);
    va_end(ap);
    fputc('\n', px->log);
}

static void log_counters(Proxy *px, const char *what)
{
    uint64_t buffered[NB_DIRS] = { 0 };
    int i, d;

    for (i = 0; i < px->nb_conns; i++)
        for (d = 0; d < NB_DIRS; d++)
            buffered[d] += px->conns[i]->pipe[d].in - px->conns[i]->pipe[d].out;
    fp_log(px, "%s: up_bytes=%" PRIu64 " down_bytes=%" PRIu64 " conns=%u "
           "open=%d refused=%u dropped=%u failed=%u aborted=%u resets=%u "
           "faults=%u buffered_up=%" PRIu64 " buffered_down=%" PRIu64, what,
           px->cnt.bytes[UP], px->cnt.bytes[DOWN], px->cnt.conns, px->nb_conns,
           px->cnt.refused, px->cnt.dropped, px->cnt.failed, px->cnt.aborted,
           px->cnt.resets, px->cnt.faults, buffered[UP], buffered[DOWN]);
}

/* ---- sockets (anet style: fill err, do not log) ------------------------- */

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void set_nodelay(int fd)
{
    int one = 1;
    /* a proxy must not add Nagle's latency to what the delay fault adds */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Closes with RST instead of FIN: SO_LINGER on with a zero timeout. */
static void close_rst(int fd)
{
    struct linger lg = { 1, 0 };

    if (fd < 0)
        return;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

/*
 * Closes with FIN. Linux answers a close() with unread data by RST, and a
 * client that spoke first (an RTMP handshake) has data queued already: send
 * the FIN, then discard what arrived, then close.
 */
static void close_fin(int fd)
{
    char buf[4096];

    shutdown(fd, SHUT_WR);
    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
    close(fd);
}

static void addr_name(const struct sockaddr *sa, socklen_t len, char *buf,
                      size_t size)
{
    char host[64], port[16];

    if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV)) {
        snprintf(buf, size, "?");
        return;
    }
    snprintf(buf, size, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
             host, port);
}

static int tcp_listen(const struct sockaddr_storage *ss, socklen_t len,
                      char *name, size_t namesize, char *err, size_t errlen)
{
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    int one = 1, fd;

    addr_name((const struct sockaddr *)ss, len, name, namesize);
    fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, 128) < 0 ||
        set_nonblock(fd) < 0) {
        snprintf(err, errlen, "listen on %.80s: %s", name, strerror(errno));
        close(fd);
        return -1;
    }
    /* port 0 asks the kernel for one: report the one it gave */
    if (!getsockname(fd, (struct sockaddr *)&bound, &blen))
        addr_name((struct sockaddr *)&bound, blen, name, namesize);
    return fd;
}

/* ---- connections -------------------------------------------------------- */

static Mark *pipe_mark(Pipe *p, unsigned i)
{
    return &p->marks[(p->mark_head + i) % FP_MAX_MARKS];
}

/* Room to read into, counting the chunk stamps as well as the bytes. */
static size_t pipe_room(const Pipe *p)
{
    if (p->eof || p->nb_marks == FP_MAX_MARKS)
        return 0;
    return p->size - (size_t)(p->in - p->out);
}

/* The ring bytes from stream offset pos, len of them, as one or two iovecs. */
static int pipe_iov(Pipe *p, uint64_t pos, size_t len, struct iovec *iov)
{
    size_t start = pos % p->size, first = p->size - start;

    if (first > len)
        first = len;
    iov[0].iov_base = p->buf + start;
    iov[0].iov_len  = first;
    iov[1].iov_base = p->buf;
    iov[1].iov_len  = len - first;
    return len > first ? 2 : 1;
}

static void pipe_push(Pipe *p, size_t n, int64_t now)
{
    Mark *last = p->nb_marks ? pipe_mark(p, p->nb_marks - 1) : NULL;

    p->in += n;
    if (last && now - last->t < FP_COALESCE_US) {
        last->end = p->in;
        return;
    }
    last = pipe_mark(p, p->nb_marks++);
    last->end = p->in;
    last->t   = now;
}

/* n bytes went out: forget the stamps of the chunks they finish. */
static void pipe_consume(Pipe *p, size_t n)
{
    p->out += n;
    while (p->nb_marks && pipe_mark(p, 0)->end <= p->out) {
        p->mark_head = (p->mark_head + 1) % FP_MAX_MARKS;
        p->nb_marks--;
    }
}

static double bucket_burst(int64_t rate)
{
    /* 50 ms of traffic: small enough that a cap holds over a second,
     * large enough not to wake up for every few bytes */
    double b = rate / 20.0;
    return b < 1 ? 1 : b;
}

static void bucket_refill(Fault *f, int64_t now)
{
    double burst = bucket_burst(f->rate);

    f->tokens += (now - f->refill_t) * (double)f->rate / 1e6;
    if (f->tokens > burst)
        f->tokens = burst;
    f->refill_t = now;
}

/*
 * How many bytes pipe d may write at now: past their delay, within the
 * bandwidth cap and not stalled. Lowers *wake to when that may grow.
 */
static size_t pipe_sendable(Proxy *px, Pipe *p, int d, int64_t now,
                            int64_t *wake)
{
    Fault *f = &px->fault[d];
    size_t n = 0;
    unsigned i;

    if (p->in == p->out)
        return 0;
    if (f->stall_until > now) {
        if (f->stall_until != FP_FOREVER)
            lower(wake, f->stall_until);
        return 0;
    }
    if (!f->delay) {
        n = (size_t)(p->in - p->out);
    } else {
        for (i = 0; i < p->nb_marks; i++) {
            const Mark *m = pipe_mark(p, i);
            if (m->t + f->delay > now) {
                lower(wake, m->t + f->delay);
                break;
            }
            n = (size_t)(m->end - p->out);
        }
    }
    if (n && f->rate) {
        double burst = bucket_burst(f->rate), need = n < burst ? n : burst;
        bucket_refill(f, now);
        if (f->tokens < need) {
            lower(wake, now + 1 + (int64_t)((need - f->tokens) * 1e6 / f->rate));
            return 0;
        }
        if (n > f->tokens)
            n = (size_t)f->tokens;
    }
    return n;
}

static Conn *conn_alloc(Proxy *px)
{
    Conn *c = calloc(1, sizeof(*c));
    int d;

    if (!c)
        return NULL;
    c->fd[0] = c->fd[1] = -1;
    for (d = 0; d < NB_DIRS; d++) {
        c->pipe[d].size  = px->bufsize;
        c->pipe[d].buf   = malloc(px->bufsize);
        c->pipe[d].marks = malloc(FP_MAX_MARKS * sizeof(Mark));
        if (!c->pipe[d].buf || !c->pipe[d].marks)
            goto fail;
    }
    return c;
fail:
    for (d = 0; d < NB_DIRS; d++) {
        free(c->pipe[d].buf);
        free(c->pipe[d].marks);
    }
    free(c);
    return NULL;
}

static void conn_free(Conn **pc)
{
    Conn *c = *pc;
    int d;

    if (!c)
        return;
    for (d = 0; d < NB_DIRS; d++) {
        if (c->fd[d] >= 0)
            close(c->fd[d]);
        free(c->pipe[d].buf);
        free(c->pipe[d].marks);
    }
    free(c);
    *pc = NULL;
}

/* Ends a connection. rst: close both sides with RST, not FIN. */
static void conn_end(Proxy *px, Conn *c, int rst, const char *why)
{
    int64_t t = now_us() - c->opened;

    if (c->dead)
        return;
    if (rst) {
        close_rst(c->fd[0]);
        close_rst(c->fd[1]);
        c->fd[0] = c->fd[1] = -1;
    }
    c->dead = 1;
    fp_log(px, "conn %u close (%s) up %" PRIu64 " down %" PRIu64 " after "
           "%" PRId64 ".%03ds", c->id, why, c->pipe[UP].out, c->pipe[DOWN].out,
           t / 1000000, (int)(t % 1000000 / 1000));
}

/* An error on side s: pass it on as a reset of the other side, as a
 * router would if the path broke. counter: the failed or aborted count. */
static void conn_abort(Proxy *px, Conn *c, int s, int err, unsigned *counter)
{
    char why[160];

    snprintf(why, sizeof(why), "%s: %s", s == UP ? "client" : "server",
             strerror(err));
    (*counter)++;
    conn_end(px, c, 1, why);
}

static void conn_open(Proxy *px, int cfd, const struct sockaddr_storage *ss,
                      socklen_t len, int64_t now)
{
    Conn *c = conn_alloc(px);
    int sfd;

    if (!c) {
        fp_log(px, "out of memory for a connection: reset");
        close_rst(cfd);
        return;
    }
    c->id     = ++px->next_id;
    c->opened = now;
    c->fd[UP] = cfd;
    addr_name((const struct sockaddr *)ss, len, c->peer, sizeof(c->peer));
    px->conns[px->nb_conns++] = c;
    px->cnt.conns++;
    fp_log(px, "conn %u open from %s", c->id, c->peer);

    set_nonblock(cfd);
    set_nodelay(cfd);
    sfd = socket(px->connect_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sfd < 0) {
        conn_abort(px, c, DOWN, errno, &px->cnt.failed);
        return;
    }
    c->fd[DOWN] = sfd;
    set_nonblock(sfd);
    set_nodelay(sfd);
    if (connect(sfd, (struct sockaddr *)&px->connect_addr, px->connect_len) < 0) {
        if (errno != EINPROGRESS) {
            /* the client is already connected: a reset is the closest we
             * can come to the refusal the server gave us */
            conn_abort(px, c, DOWN, errno, &px->cnt.failed);
            return;
        }
        c->connecting = 1;
    }
}

static void conn_connected(Proxy *px, Conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(c->fd[DOWN], SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        conn_abort(px, c, DOWN, err, &px->cnt.failed);
        return;
    }
    c->connecting = 0;
    fp_log(px, "conn %u connected to %s", c->id, px->connect_name);
}

static void conn_read(Proxy *px, Conn *c, int d, int64_t now)
{
    Pipe *p = &c->pipe[d];
    struct iovec iov[2];
    size_t room = pipe_room(p);
    ssize_t r;

    if (!room || c->dead)
        return;
    r = readv(c->fd[d], iov, pipe_iov(p, p->in, room, iov));
    if (r < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            conn_abort(px, c, d, errno, &px->cnt.aborted);
        return;
    }
    if (!r) {
        p->eof   = 1;
        p->eof_t = now;
        return;
    }
    pipe_push(p, (size_t)r, now);
}

/* Writes what pipe d may send now; then passes a FIN on once it is due. */
static void conn_flush(Proxy *px, Conn *c, int d, int64_t now, int64_t *wake)
{
    Pipe *p = &c->pipe[d];
    Fault *f = &px->fault[d];
    struct iovec iov[2];
    size_t n;
    ssize_t w;
    int64_t fin_at;

    if (c->dead || c->connecting || p->shut || p->blocked)
        return;
    while ((n = pipe_sendable(px, p, d, now, wake))) {
        w = writev(c->fd[!d], iov, pipe_iov(p, p->out, n, iov));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                p->blocked = 1;
            else
                conn_abort(px, c, !d, errno, &px->cnt.aborted);
            return;
        }
        pipe_consume(p, (size_t)w);
        px->cnt.bytes[d] += (size_t)w;
        if (f->rate)
            f->tokens -= w;
    }
    if (!p->eof || p->in != p->out || f->stall_until > now)
        return;
    /* the FIN is held like the byte before it would be */
    fin_at = p->eof_t + f->delay;
    if (fin_at > now) {
        lower(wake, fin_at);
        return;
    }
    shutdown(c->fd[!d], SHUT_WR);
    p->shut = 1;
    if (c->pipe[!d].shut)
        conn_end(px, c, 0, "eof");
}

static void conns_sweep(Proxy *px)
{
    int i, j;

    for (i = j = 0; i < px->nb_conns; i++) {
        if (px->conns[i]->dead)
            conn_free(&px->conns[i]);
        else
            px->conns[j++] = px->conns[i];
    }
    px->nb_conns = j;
}

/* ---- faults ------------------------------------------------------------- */

static const enum ArgKind ramp_kind[NB_RAMPS] = { ARG_DURATION, ARG_RATE };
static const char *const ramp_what[NB_RAMPS] = { "delay", "bandwidth" };

static int64_t fault_value(const Fault *f, int k)
{
    return k == RAMP_DELAY ? f->delay : f->rate;
}

/* The value of a ramp at now: a straight line, or equal ratios in equal
 * times (exp: 2M..50k spends as long from 400k to 200k as from 100k to 50k,
 * where a straight line would rush through the low rates that matter). */
static int64_t ramp_value(const Ramp *r, int64_t now)
{
    double x = now <= r->start ? 0
             : now >= r->start + r->len ? 1
             : (double)(now - r->start) / (double)r->len;
    double v = r->shape == SHAPE_EXP
             ? (double)r->from * pow((double)r->to / (double)r->from, x)
             : (double)r->from + (double)(r->to - r->from) * x;

    return (int64_t)(v + 0.5);
}

/* One step of a ramp. A new cap keeps what the bucket holds (up to the new
 * burst): emptying it, as a fresh "bandwidth" does, would pause the flow
 * 50 times a second and cut the rate well below the ramp's. */
static void ramp_set(Fault *f, int k, int64_t v, int64_t now)
{
    if (k == RAMP_DELAY) {
        f->delay = v;
        return;
    }
    bucket_refill(f, now);      /* what the old rate earned until now */
    f->rate = v;
    if (f->tokens > bucket_burst(v))
        f->tokens = bucket_burst(v);
}

/* Starts the ramp a command asks for, or ends the one running: a plain
 * value replaces a ramp. */
static void ramp_begin(Ramp *r, const Cmd *cmd, int64_t now)
{
    *r = (Ramp){ .on = cmd->ramp };
    if (!cmd->ramp)
        return;
    r->shape     = cmd->shape;
    r->from      = cmd->arg;
    r->to        = cmd->to;
    r->start     = now;
    r->len       = cmd->over;
    r->next_step = now + FP_RAMP_STEP_US;
    r->next_log  = now + FP_RAMP_LOG_US;
}

/* Logs the value of ramp k in dirs, once for both when they agree. */
static void ramp_log(Proxy *px, int k, unsigned dirs, const char *what)
{
    char v[32];
    int64_t x;
    int d, both = dirs == DIR_BOTH &&
        fault_value(&px->fault[UP], k) == fault_value(&px->fault[DOWN], k);

    for (d = 0; d < NB_DIRS; d++) {
        if (!(dirs & (1u << d)))
            continue;
        x = fault_value(&px->fault[d], k);
        if (k == RAMP_DELAY)
            x = (x + 500) / 1000 * 1000;    /* "403ms", not "403556us" */
        fp_log(px, "%s: %s %s %s", what, ramp_what[k],
               fmt_value(ramp_kind[k], x, v, sizeof(v)),
               dir_name(both ? DIR_BOTH : 1u << d));
        if (both)
            break;
    }
}

/* Moves every ramp that is due, logs them once a second and when they
 * end; lowers *wake to the next step. */
static void ramps_tick(Proxy *px, int64_t now, int64_t *wake)
{
    unsigned due, ended;
    int k, d;

    for (k = 0; k < NB_RAMPS; k++) {
        due = ended = 0;
        for (d = 0; d < NB_DIRS; d++) {
            Fault *f = &px->fault[d];
            Ramp *r = &f->ramp[k];
            int64_t end = r->start + r->len;

            if (!r->on)
                continue;
            if (now >= r->next_step) {
                ramp_set(f, k, ramp_value(r, now), now);
                r->next_step = now + FP_RAMP_STEP_US < end
                             ? now + FP_RAMP_STEP_US : end;
            }
            if (now >= end) {
                r->on = 0;
                ended |= 1u << d;
                continue;
            }
            if (now >= r->next_log) {
                r->next_log += FP_RAMP_LOG_US;
                due |= 1u << d;
            }
            lower(wake, r->next_step);
        }
        if (due)
            ramp_log(px, k, due, "ramp");
        if (ended)
            ramp_log(px, k, ended, "ramp ended");
    }
}

static void apply(Proxy *px, const Cmd *cmd, int64_t now, const char *source)
{
    char desc[160];
    int d, i;

    fmt_cmd(cmd, desc, sizeof(desc));
    for (d = 0; d < NB_DIRS; d++) {
        Fault *f = &px->fault[d];
        if (!(cmd->dirs & (1u << d)) || !cmd->def->takes_dir)
            continue;
        switch (cmd->def->verb) {
        case V_DELAY:
            /* data already buffered follows the new delay at once */
            f->delay = cmd->arg;
            ramp_begin(&f->ramp[RAMP_DELAY], cmd, now);
            break;
        case V_BANDWIDTH:
            f->rate     = cmd->arg;
            f->tokens   = 0;
            f->refill_t = now;
            ramp_begin(&f->ramp[RAMP_RATE], cmd, now);
            break;
        case V_STALL:
            f->stall_until = cmd->arg < 0 ? FP_FOREVER : now + cmd->arg;
            break;
        case V_RESUME:
            f->stall_until = 0;
            break;
        default:
            break;
        }
    }
    switch (cmd->def->verb) {
    case V_RESET:
        for (i = 0; i < px->nb_conns; i++) {
            if (px->conns[i]->dead)
                continue;
            px->cnt.resets++;
            conn_end(px, px->conns[i], 1, "reset fault");
        }
        if (cmd->arg > 0)
            px->refuse_until = now + cmd->arg;
        break;
    case V_DROP:
        px->drop_until = cmd->arg < 0 ? FP_FOREVER : now + cmd->arg;
        break;
    case V_CLEAR:
        memset(px->fault, 0, sizeof(px->fault));
        px->refuse_until = px->drop_until = 0;
        break;
    default:
        break;
    }
    if (cmd->def->verb != V_STATS)
        px->cnt.faults++;
    fp_log(px, "fault: %s (%s)", desc, source);
    if (cmd->def->verb == V_STATS)
        log_counters(px, "stats");
}

/* Runs due schedule items and ends timed faults; lowers *wake to the next. */
static void faults_tick(Proxy *px, int64_t now, int64_t *wake)
{
    unsigned ended = 0;
    char src[48], dur[32];
    int d;

    while (px->next_sched < px->nb_sched &&
           px->t0 + px->sched[px->next_sched].at <= now) {
        const SchedItem *si = &px->sched[px->next_sched++];
        snprintf(src, sizeof(src), "schedule %s",
                 fmt_duration(si->at, dur, sizeof(dur)));
        apply(px, &si->cmd, now, src);
    }
    if (px->next_sched < px->nb_sched)
        lower(wake, px->t0 + px->sched[px->next_sched].at);
    ramps_tick(px, now, wake);

    for (d = 0; d < NB_DIRS; d++) {
        Fault *f = &px->fault[d];
        if (f->stall_until && f->stall_until <= now) {
            f->stall_until = 0;
            ended |= 1u << d;
        } else if (f->stall_until && f->stall_until != FP_FOREVER) {
            lower(wake, f->stall_until);
        }
    }
    if (ended)
        fp_log(px, "stall ended (%s)", dir_name(ended));
    if (px->refuse_until && px->refuse_until <= now) {
        px->refuse_until = 0;
        fp_log(px, "refusing ended");
    } else if (px->refuse_until) {
        lower(wake, px->refuse_until);
    }
    if (px->drop_until && px->drop_until <= now) {
        px->drop_until = 0;
        fp_log(px, "dropping ended");
    } else if (px->drop_until && px->drop_until != FP_FOREVER) {
        lower(wake, px->drop_until);
    }
}

static void accept_all(Proxy *px, int64_t now)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char name[64];
    int fd;

    while (px->nb_conns < FP_MAX_CONNS) {
        len = sizeof(ss);
        fd = accept4(px->listen_fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                fp_log(px, "accept: %s", strerror(errno));
            return;
        }
        if (px->refuse_until > now || px->drop_until > now) {
            addr_name((struct sockaddr *)&ss, len, name, sizeof(name));
            if (px->refuse_until > now) {
                close_rst(fd);
                px->cnt.refused++;
            } else {
                close_fin(fd);
                px->cnt.dropped++;
            }
            fp_log(px, "conn from %s %s", name,
                   px->refuse_until > now ? "refused (reset)" : "dropped");
            continue;
        }
        conn_open(px, fd, &ss, len, now);
    }
}

/* ---- control FIFO ------------------------------------------------------- */

static void ctl_line(Proxy *px, char *line, int64_t now)
{
    char err[FP_ERR_LEN], src[FP_LINE_MAX + 16];
    size_t n = strlen(line);
    Cmd cmd;

    while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
        line[--n] = 0;
    while (*line == ' ' || *line == '\t')
        line++;
    if (!*line || *line == '#')
        return;
    if (parse_cmd(line, &cmd, err, sizeof(err)) < 0) {
        fp_log(px, "control: \"%s\": %s", line, err);
        return;
    }
    /* the raw line in the log lets a test wait for its own command */
    snprintf(src, sizeof(src), "control: \"%s\"", line);
    apply(px, &cmd, now, src);
}

static void ctl_read(Proxy *px, int64_t now)
{
    char buf[1024];
    ssize_t r, i;

    for (;;) {
        r = read(px->ctl_fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        for (i = 0; i < r; i++) {
            if (buf[i] != '\n') {
                if (px->ctl_len < sizeof(px->ctl_line) - 1)
                    px->ctl_line[px->ctl_len++] = buf[i];
                else
                    px->ctl_overlong = 1;
                continue;
            }
            px->ctl_line[px->ctl_len] = 0;
            if (px->ctl_overlong)
                fp_log(px, "control: line longer than %d bytes ignored",
                       FP_LINE_MAX - 1);
            else
                ctl_line(px, px->ctl_line, now);
            px->ctl_len = 0;
            px->ctl_overlong = 0;
        }
    }
}

/* Returns 0, -1 on a system error or -2 when the path is a wrong argument. */
static int ctl_open(Proxy *px, char *err, size_t errlen)
{
    struct stat st;

    if (stat(px->ctl_path, &st) < 0) {
        if (errno != ENOENT || mkfifo(px->ctl_path, 0600) < 0) {
            snprintf(err, errlen, "control FIFO %s: %s", px->ctl_path,
                     strerror(errno));
            return -1;
        }
        px->ctl_created = 1;
    } else if (!S_ISFIFO(st.st_mode)) {
        snprintf(err, errlen, "--control %s exists and is not a FIFO", px->ctl_path);
        return -2;
    }
    px->ctl_fd = open(px->ctl_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    /* our own writer keeps the FIFO from reporting EOF, and POLLHUP
     * forever, each time a test's "echo cmd > fifo" closes it */
    if (px->ctl_fd >= 0)
        px->ctl_wfd = open(px->ctl_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (px->ctl_fd < 0 || px->ctl_wfd < 0) {
        snprintf(err, errlen, "open %s: %s", px->ctl_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- event loop --------------------------------------------------------- */

static void on_signal(int sig)
{
    int saved = errno;
    char c = (char)sig;

    if (write(sig_pipe[1], &c, 1) < 0) {
        /* the pipe is full: a signal is already pending */
    }
    errno = saved;
}

static int poll_timeout(int64_t wake, int64_t now)
{
    int64_t ms;

    if (wake == FP_FOREVER)
        return -1;
    if (wake <= now)
        return 0;
    /* round up: waking early would only spin until the deadline */
    ms = (wake - now + 999) / 1000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

enum { SLOT_SIGNAL = -3, SLOT_LISTEN = -2, SLOT_CONTROL = -1 };

static int run(Proxy *px)
{
    struct pollfd pfd[3 + 2 * FP_MAX_CONNS];
    int slot[3 + 2 * FP_MAX_CONNS];     /* SLOT_* or conn index * 2 + side */
    Conn *c;
    int64_t now, wake;
    int n, i, s, r, ev;

    for (;;) {
        now  = now_us();
        wake = FP_FOREVER;
        faults_tick(px, now, &wake);
        for (i = 0; i < px->nb_conns; i++) {
            conn_flush(px, px->conns[i], UP, now, &wake);
            conn_flush(px, px->conns[i], DOWN, now, &wake);
        }
        conns_sweep(px);

        n = 0;
        pfd[n] = (struct pollfd){ .fd = sig_pipe[0], .events = POLLIN };
        slot[n++] = SLOT_SIGNAL;
        if (px->nb_conns < FP_MAX_CONNS) {
            pfd[n] = (struct pollfd){ .fd = px->listen_fd, .events = POLLIN };
            slot[n++] = SLOT_LISTEN;
        }
        if (px->ctl_fd >= 0) {
            pfd[n] = (struct pollfd){ .fd = px->ctl_fd, .events = POLLIN };
            slot[n++] = SLOT_CONTROL;
        }
        for (i = 0; i < px->nb_conns; i++) {
            c = px->conns[i];
            for (s = 0; s < 2; s++) {
                ev = 0;
                /* side s feeds pipe[s] and is written from pipe[!s] */
                if ((s == UP || !c->connecting) && pipe_room(&c->pipe[s]))
                    ev |= POLLIN;
                if ((s == DOWN && c->connecting) || c->pipe[!s].blocked)
                    ev |= POLLOUT;
                /* a hung-up socket polls ready forever: leave it out
                 * until there is something to try on it */
                pfd[n] = (struct pollfd){ .fd = ev || !c->hup[s] ? c->fd[s] : -1,
                                          .events = (short)ev };
                slot[n++] = i * 2 + s;
            }
        }

        r = poll(pfd, n, poll_timeout(wake, now));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fp_log(px, "poll: %s", strerror(errno));
            return -1;
        }
        now = now_us();
        for (i = 0; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            if (slot[i] == SLOT_SIGNAL)
                return 0;
            if (slot[i] == SLOT_LISTEN) {
                accept_all(px, now);
                continue;
            }
            if (slot[i] == SLOT_CONTROL) {
                ctl_read(px, now);
                continue;
            }
            c = px->conns[slot[i] / 2];
            s = slot[i] % 2;
            if (c->dead)
                continue;
            if (s == DOWN && c->connecting) {
                if (pfd[i].revents & (POLLOUT | POLLERR | POLLHUP))
                    conn_connected(px, c);
                continue;
            }
            if (pfd[i].revents & POLLHUP)
                c->hup[s] = 1;
            if (pfd[i].revents & POLLOUT)
                c->pipe[!s].blocked = 0;
            /* a read reports what POLLERR and POLLHUP mean: data, EOF or
             * the error itself */
            if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
                conn_read(px, c, s, now);
            if ((pfd[i].revents & POLLERR) && !c->dead) {
                int err = 0;
                socklen_t len = sizeof(err);
                getsockopt(c->fd[s], SOL_SOCKET, SO_ERROR, &err, &len);
                if (err)
                    conn_abort(px, c, s, err, &px->cnt.aborted);
            }
        }
        conns_sweep(px);
    }
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: faultproxy --listen HOST:PORT --connect HOST:PORT [options]\n"
        "A TCP proxy that injects faults, for tests.\n"
        "\n"
        "  --listen HOST:PORT   accept here (only here)\n"
        "  --connect HOST:PORT  forward each connection to this server\n"
        "  --control FIFO       read commands from this FIFO, one a line\n"
        "                       (created when missing)\n"
        "  --schedule SPEC      TIME:COMMAND,... run at TIME after start;\n"
        "                       may be repeated\n"
        "  --log FILE           log here instead of stderr (appends)\n"
        "  --buffer SIZE        buffer per connection and direction [%d];\n"
        "                       under a delay D, at most SIZE / D bytes/s\n"
        "  -h, --help           this text\n"
        "\n"
        "Commands (DIR: up = client to server, down, both [default]):\n"
        "  delay D [DIR]        hold each byte D (250us, 200ms, 2s, 1m)\n"
        "  bandwidth R [DIR]    cap at R bytes/s (50k = 50000, 64Ki), 0 lifts;\n"
        "                       alias bw\n"
        "  stall [D] [DIR]      forward nothing for D or until resume/clear\n"
        "  resume [DIR]         end a stall\n"
        "  reset [D]            RST every connection; RST new ones for D\n"
        "  drop [D]             accept and close new connections, D or until clear\n"
        "  clear                back to pass-through\n"
        "  stats                log the counters\n"
        "  [ramp] delay A..B over D [DIR] [linear|exp]\n"
        "  [ramp] bandwidth A..B over D [DIR] [linear|exp]\n"
        "                       move from A to B over D (a step every 20 ms),\n"
        "                       then hold B; exp: by equal ratios\n"
        "An argument may follow after '=': \"5s:delay=200ms up\".\n",
        FP_BUF_DEFAULT);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
bad_args(const char *fmt, ...)
{
    va_list ap;

    fputs("faultproxy: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see faultproxy --help)\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "listen",   required_argument, NULL, 'l' },
        { "connect",  required_argument, NULL, 'c' },
        { "control",  required_argument, NULL, 'C' },
        { "schedule", required_argument, NULL, 's' },
        { "log",      required_argument, NULL, 'L' },
        { "buffer",   required_argument, NULL, 'b' },
        { "help",     no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    static Proxy proxy;
    Proxy *px = &proxy;
    const char *listen_arg = NULL, *connect_arg = NULL, *log_path = NULL;
    struct sockaddr_storage listen_addr;
    socklen_t listen_len;
    struct sigaction sa = { 0 };
    char err[FP_ERR_LEN];
    int64_t v;
    int opt, ret, i;

    px->listen_fd = px->ctl_fd = px->ctl_wfd = -1;
    px->bufsize = FP_BUF_DEFAULT;
    px->log = stderr;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'l': listen_arg  = optarg; break;
        case 'c': connect_arg = optarg; break;
        case 'C': px->ctl_path = optarg; break;
        case 'L': log_path    = optarg; break;
        case 's':
            if (parse_schedule(px, optarg, err, sizeof(err)) < 0)
                bad_args("--schedule: %s", err);
            break;
        case 'b':
            if (parse_units(optarg, rate_units, &v, err, sizeof(err)) < 0 ||
                v < 1 || v > (1 << 30))
                bad_args("--buffer '%s': want a size from 1 to 1Gi", optarg);
            px->bufsize = (size_t)v;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            bad_args("bad option");
        }
    }
    if (optind < argc)
        bad_args("unexpected argument '%s'", argv[optind]);
    if (!listen_arg || !connect_arg)
        bad_args("--listen and --connect are required");
    if (parse_addr(listen_arg, 1, &listen_addr, &listen_len, err, sizeof(err)) < 0)
        bad_args("--listen %s", err);
    if (parse_addr(connect_arg, 0, &px->connect_addr, &px->connect_len,
                   err, sizeof(err)) < 0)
        bad_args("--connect %s", err);
    addr_name((struct sockaddr *)&px->connect_addr, px->connect_len,
              px->connect_name, sizeof(px->connect_name));

    if (log_path) {
        px->log = fopen(log_path, "a");
        if (!px->log) {
            fprintf(stderr, "faultproxy: --log %s: %s\n", log_path, strerror(errno));
            return 1;
        }
    }
    /* tests read the log while we run */
    setvbuf(px->log, NULL, _IOLBF, 0);

    if (pipe(sig_pipe) < 0 || set_nonblock(sig_pipe[0]) < 0 ||
        set_nonblock(sig_pipe[1]) < 0) {
        fprintf(stderr, "faultproxy: pipe: %s\n", strerror(errno));
        return 1;
    }
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (px->ctl_path && (ret = ctl_open(px, err, sizeof(err))) < 0) {
        fprintf(stderr, "faultproxy: %s\n", err);
        ret = ret == -2 ? 2 : 1;
        goto end;
    }
    ret = 1;
    px->listen_fd = tcp_listen(&listen_addr, listen_len, px->listen_name,
                               sizeof(px->listen_name), err, sizeof(err));
    if (px->listen_fd < 0) {
        fprintf(stderr, "faultproxy: %s\n", err);
        goto end;
    }
    px->t0 = now_us();
    fprintf(stderr, "faultproxy: listening on %s\n", px->listen_name);
    fflush(stderr);
    fp_log(px, "listening on %s, forwarding to %s, buffer %zu, pid %d",
           px->listen_name, px->connect_name, px->bufsize, (int)getpid());

    ret = run(px) < 0 ? 1 : 0;

    for (i = 0; i < px->nb_conns; i++)
        conn_end(px, px->conns[i], 0, "exit");
    conns_sweep(px);
    log_counters(px, "counters");
    if (px->log != stderr) {
        fflush(px->log);
        fprintf(stderr, "faultproxy: counters: up_bytes=%" PRIu64 " down_bytes=%"
                PRIu64 " conns=%u refused=%u dropped=%u failed=%u aborted=%u "
                "resets=%u faults=%u\n", px->cnt.bytes[UP], px->cnt.bytes[DOWN],
                px->cnt.conns, px->cnt.refused, px->cnt.dropped, px->cnt.failed,
                px->cnt.aborted, px->cnt.resets, px->cnt.faults);
    }
end:
    if (px->listen_fd >= 0)
        close(px->listen_fd);
    if (px->ctl_fd >= 0)
        close(px->ctl_fd);
    if (px->ctl_wfd >= 0)
        close(px->ctl_wfd);
    if (px->ctl_created)
        unlink(px->ctl_path);
    if (px->log != stderr)
        fclose(px->log);
    return ret;
}
