/*
 * control.c: the control socket's server; see control.h.
 *
 * Everything below runs on the control thread, except control_sink (any
 * thread that emits an event) and the lifecycle calls (the run's thread).
 * Clients are plain structs owned by the thread; the shared state is the
 * event ring (ring_lock), the quit flag, and the graph and hooks a reload
 * replaces (graph_lock, held while a request is handled).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <libavutil/avstring.h>
#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "cli/control.h"
#include "cli/control_req.h"
#include "core/log.h"

/* Backlog of answers a client may have unread; a follower past it is
 * dropped, a request's answer past it ends the connection. */
#define CONTROL_MAX_BACKLOG    (4 << 20)
#define CONTROL_MAX_FOLLOW     (256 << 10)
/* The longest a request may wait for its outcome. */
#define CONTROL_MAX_WAIT_MS    600000

/* An event as the ring keeps it: copies, since the emitter's strings live
 * only during the sink's call. */
typedef struct CtlEvent {
    int64_t time_us;
    char stream[40];
    char component[64];
    EventKind kind;
    int error;
    uint32_t seq;
    char cause[512];
} CtlEvent;

typedef struct Client {
    int fd;                       /* -1: a free slot */
    char in[CONTROL_MAX_REQUEST + 1];
    size_t in_len;
    int discarding;               /* skipping an oversized line to its end */
    char *out;                    /* answers not yet written */
    size_t out_len, out_size;
    int closing;                  /* close once out is written */
    int eof;                      /* the client sent all it will (half-closed) */
    int following;                /* events --follow */
    uint64_t next_event;          /* following: the next ring index to send */
    /* a request waiting for its outcome (wait_seq != 0) */
    uint32_t wait_seq;
    int64_t wait_deadline_us;
    int wait_ms;
    char wait_cmd[16];
    char wait_comp[160];
    int64_t last_active_us;
} Client;

struct Control {
    LogCtx log;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    ino_t ino;                    /* of the socket we bound: removed only if still ours */
    dev_t dev;
    int listen_fd;
    int wake[2];                  /* the sink and control_stop wake the loop */
    /* a reload replaces the graph and the hooks while the thread runs:
     * a request is handled with graph_lock held (control_swap) */
    pthread_mutex_t graph_lock;
    Ecg *g;                       /* not owned; protected by graph_lock */
    ControlHooks hooks;           /* protected by graph_lock */
    pthread_t thread;
    int started;
    _Atomic int quit;

    pthread_mutex_t ring_lock;
    CtlEvent ring[CONTROL_RING];  /* protected by ring_lock */
    uint64_t ring_next;           /* protected by ring_lock: index of the next event */

    /* the control thread's own */
    Client clients[CONTROL_MAX_CLIENTS];
    uint64_t delivered;           /* events up to here handed to waiters and followers */
};

/* ---- paths ---------------------------------------------------------------- */

void control_default_dir(char *buf, size_t size)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");

    if (xdg && *xdg == '/')
        snprintf(buf, size, "%s/hotspare", xdg);
    else
        snprintf(buf, size, ".");
}

void control_job_name(const char *job_path, char *buf, size_t size)
{
    const char *base = strrchr(job_path, '/');
    size_t n;

    base = base ? base + 1 : job_path;
    n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".yaml"))
        n -= 5;
    else if (n > 4 && !strcmp(base + n - 4, ".yml"))
        n -= 4;
    snprintf(buf, size, "%.*s", (int)n, base);
}

int control_socket_path(const Job *job, int create, char *buf, size_t size,
                        char *err, size_t err_size)
{
    char dir[4096], name[256];
    int n;

    if (job->supervisor.control_path) {
        n = snprintf(buf, size, "%s", job->supervisor.control_path);
    } else {
        control_default_dir(dir, sizeof(dir));
        control_job_name(job->path, name, sizeof(name));
        if (create && strcmp(dir, ".") && mkdir(dir, 0700) < 0 && errno != EEXIST) {
            int ret = AVERROR(errno);
            snprintf(err, err_size, "cannot create %s: %s", dir, av_err2str(ret));
            return ret;
        }
        n = snprintf(buf, size, "%s/%s.sock", dir, name);
    }
    if (n < 0 || (size_t)n >= size ||
        (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, err_size, "the socket path %s is longer than a Unix socket's %zu bytes "
                 "(set supervisor: { control: PATH })", buf,
                 sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        return AVERROR(ENAMETOOLONG);
    }
    return 0;
}

/* ---- the socket ------------------------------------------------------------ */

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? AVERROR(errno) : 0;
}

/* Is a supervisor answering at path? 1 yes, 0 a stale socket, < 0 error. */
static int socket_alive(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ret;

    if (fd < 0)
        return AVERROR(errno);
    av_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 1;
    close(fd);
    if (ret == -ECONNREFUSED)
        return 0;                 /* nothing accepts: a run that was killed */
    return ret > 0 ? 1 : AVERROR(-ret);
}

static void control_sink(void *opaque, const Event *ev);

int control_alloc(Control **pc, const char *path, EventLog *events, char *err, size_t err_size)
{
    Control *c = av_mallocz(sizeof(*c));
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    mode_t old;
    int ret;

    *pc = NULL;
    if (!c)
        return AVERROR(ENOMEM);
    logctx_init(&c->log, "control");
    pthread_mutex_init(&c->ring_lock, NULL);
    pthread_mutex_init(&c->graph_lock, NULL);
    c->listen_fd = c->wake[0] = c->wake[1] = -1;
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
        c->clients[i].fd = -1;
    if (strlen(path) >= sizeof(c->path)) {
        snprintf(err, err_size, "%s: too long for a Unix socket", path);
        ret = AVERROR(ENAMETOOLONG);
        goto fail;
    }
    av_strlcpy(c->path, path, sizeof(c->path));
    av_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));

    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, err_size, "%s exists and is not a socket", path);
            ret = AVERROR(EEXIST);
            goto fail;
        }
        ret = socket_alive(path);
        if (ret > 0) {
            snprintf(err, err_size, "a supervisor is already running at %s (hotspare ctl "
                     "--socket %s status)", path, path);
            ret = AVERROR(EADDRINUSE);
            goto fail;
        }
        if (ret < 0) {
            snprintf(err, err_size, "cannot check %s: %s", path, av_err2str(ret));
            goto fail;
        }
        av_log(c, AV_LOG_INFO, "replacing the stale socket %s (left by a run that ended "
               "without removing it)\n", path);
        unlink(path);
    }
    if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) < 0 ||
        (c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        ret = AVERROR(errno);
        snprintf(err, err_size, "cannot create the control socket: %s", av_err2str(ret));
        goto fail;
    }
    /* 0600 from the start: no moment where another user could connect. The
     * umask is the process's, and no other thread runs yet. */
    old = umask(0177);
    ret = bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? AVERROR(errno) : 0;
    umask(old);
    if (ret < 0) {
        snprintf(err, err_size, "cannot create the control socket %s: %s", path,
                 av_err2str(ret));
        goto fail;
    }
    if (stat(path, &st) == 0) {
        c->ino = st.st_ino;
        c->dev = st.st_dev;
    }
    if (listen(c->listen_fd, 16) < 0 || (ret = set_nonblock(c->listen_fd)) < 0) {
        ret = ret < 0 ? ret : AVERROR(errno);
        snprintf(err, err_size, "cannot listen on %s: %s", path, av_err2str(ret));
        unlink(path);
        goto fail;
    }
    if (events && (ret = evlog_add_sink(events, control_sink, c)) < 0) {
        snprintf(err, err_size, "no room for another event sink");
        unlink(path);
        goto fail;
    }
    *pc = c;
    return 0;
fail:
    c->path[0] = 0;               /* not ours to remove */
    control_free(&c);
    return ret;
}

const char *control_path(const Control *c)
{
    return c->path;
}

/* ---- the event ring ----------------------------------------------------- */

/* Any thread, under the event log's lock: copy, wake, return. */
static void control_sink(void *opaque, const Event *ev)
{
    Control *c = opaque;
    CtlEvent *e;
    ssize_t n;

    pthread_mutex_lock(&c->ring_lock);
    e = &c->ring[c->ring_next % CONTROL_RING];
    e->time_us = ev->time_us;
    av_strlcpy(e->stream, ev->stream ? ev->stream : "", sizeof(e->stream));
    av_strlcpy(e->component, ev->component ? ev->component : "", sizeof(e->component));
    e->kind = ev->kind;
    e->error = ev->error;
    e->seq = ev->seq;
    av_strlcpy(e->cause, ev->cause ? ev->cause : "", sizeof(e->cause));
    c->ring_next++;
    pthread_mutex_unlock(&c->ring_lock);
    /* a full pipe already holds a wake-up: nothing lost */
    n = write(c->wake[1], "e", 1);
    (void)n;
}

static json_t *event_json(const CtlEvent *e)
{
    struct tm tm;
    time_t secs = e->time_us / 1000000;
    char when[64];
    json_t *o;

    gmtime_r(&secs, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    av_strlcatf(when, sizeof(when), ".%03dZ", (int)(e->time_us / 1000 % 1000));
    o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "time", when, "time_us",
                  (json_int_t)e->time_us, "stream", e->stream, "component", e->component,
                  "kind", evlog_kind_name(e->kind), "cause", e->cause);
    if (o && e->seq)
        json_object_set_new(o, "seq", json_integer(e->seq));
    if (o && e->error) {
        json_object_set_new(o, "error", json_integer(e->error));
        json_object_set_new(o, "error_text", json_string(av_err2str(e->error)));
    }
    return o;
}

/* ---- clients ------------------------------------------------------------ */

static void client_close(Client *cl)
{
    if (cl->fd >= 0)
        close(cl->fd);
    av_freep(&cl->out);
    memset(cl, 0, sizeof(*cl));
    cl->fd = -1;
}

/* Queues text for the client; past the backlog the client is closed (a
 * reader that does not read cannot hold the loop's memory). */
static void client_write(Control *c, Client *cl, const char *text, size_t len)
{
    size_t limit = cl->following ? CONTROL_MAX_FOLLOW : CONTROL_MAX_BACKLOG;

    if (cl->fd < 0)
        return;
    if (cl->out_len + len > limit) {
        av_log(c, AV_LOG_WARNING, "dropping a control client that does not read its %s\n",
               cl->following ? "events" : "answers");
        client_close(cl);
        return;
    }
    if (cl->out_len + len > cl->out_size) {
        size_t size = FFMAX(cl->out_size * 2, cl->out_len + len + 4096);
        char *p = av_realloc(cl->out, size);
        if (!p) {
            client_close(cl);
            return;
        }
        cl->out = p;
        cl->out_size = size;
    }
    memcpy(cl->out + cl->out_len, text, len);
    cl->out_len += len;
}

/* Sends a JSON value as one line; takes the reference. */
static void client_send(Control *c, Client *cl, json_t *answer)
{
    char *text;

    if (!answer) {
        static const char oom[] = "{\"v\":1,\"ok\":false,\"error\":\"out of memory\"}\n";
        client_write(c, cl, oom, sizeof(oom) - 1);
        return;
    }
    text = json_dumps(answer, JSON_COMPACT);
    json_decref(answer);
    if (!text) {
        client_send(c, cl, NULL);
        return;
    }
    client_write(c, cl, text, strlen(text));
    client_write(c, cl, "\n", 1);
    free(text);
}

static json_t *answer_ok(const char *cmd)
{
    return json_pack("{s:i, s:b, s:s}", "v", CONTROL_VERSION, "ok", 1, "cmd", cmd);
}

static void send_error(Control *c, Client *cl, const char *cmd, const char *fmt, ...)
    av_printf_format(4, 5);
static void send_error(Control *c, Client *cl, const char *cmd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    json_t *a;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    a = json_pack("{s:i, s:b, s:s}", "v", CONTROL_VERSION, "ok", 0, "error", msg);
    if (a && cmd)
        json_object_set_new(a, "cmd", json_string(cmd));
    client_send(c, cl, a);
}

/* Writes what it can without blocking. */
static void client_flush(Client *cl)
{
    while (cl->fd >= 0 && cl->out_len) {
        ssize_t n = send(cl->fd, cl->out, cl->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                client_close(cl);
            return;
        }
        memmove(cl->out, cl->out + n, cl->out_len - n);
        cl->out_len -= n;
    }
    if (cl->fd >= 0 && !cl->out_len && cl->closing)
        client_close(cl);
}

/* ---- commands ------------------------------------------------------------ */

/* The events in the ring from index from on (at most what it holds), into
 * out (CONTROL_RING entries); returns how many, and the index after them. */
static int ring_copy(Control *c, uint64_t from, CtlEvent *out, uint64_t *next, uint64_t *lost)
{
    int n = 0;

    pthread_mutex_lock(&c->ring_lock);
    *lost = 0;
    if (c->ring_next > CONTROL_RING && from < c->ring_next - CONTROL_RING) {
        *lost = c->ring_next - CONTROL_RING - from;
        from = c->ring_next - CONTROL_RING;
    }
    for (; from < c->ring_next; from++)
        out[n++] = c->ring[from % CONTROL_RING];
    *next = from;
    pthread_mutex_unlock(&c->ring_lock);
    return n;
}

static json_t *graph_json(Control *c)
{
    AVBPrint bp;
    json_t *root = NULL;

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (ecg_describe(c->g, 1, &bp) >= 0)
        root = json_loads(bp.str, 0, NULL);
    av_bprint_finalize(&bp, NULL);
    return root;
}

static void cmd_status(Control *c, Client *cl)
{
    json_t *graph = graph_json(c), *a = answer_ok("status");

    if (!graph || !a) {
        json_decref(graph);
        json_decref(a);
        send_error(c, cl, "status", "out of memory");
        return;
    }
    json_object_set(a, "components", json_object_get(graph, "nodes"));
    json_decref(graph);
    client_send(c, cl, a);
}

static void cmd_graph(Control *c, Client *cl, json_t *req)
{
    const char *format = json_string_value(json_object_get(req, "format"));
    json_t *a;

    if (json_object_get(req, "format") && !format) {
        send_error(c, cl, "graph", "'format' must be \"dot\" or \"json\"");
        return;
    }
    if (!format || !strcmp(format, "dot")) {
        AVBPrint bp;
        av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
        if (ecg_describe(c->g, 0, &bp) < 0) {
            av_bprint_finalize(&bp, NULL);
            send_error(c, cl, "graph", "out of memory");
            return;
        }
        a = answer_ok("graph");
        if (a) {
            json_object_set_new(a, "format", json_string("dot"));
            json_object_set_new(a, "graph", json_string(bp.str));
        }
        av_bprint_finalize(&bp, NULL);
    } else if (!strcmp(format, "json")) {
        json_t *graph = graph_json(c);
        a = graph ? answer_ok("graph") : NULL;
        if (a) {
            json_object_set_new(a, "format", json_string("json"));
            json_object_set(a, "graph", graph);
        }
        json_decref(graph);
    } else {
        send_error(c, cl, "graph", "unknown format '%s' (dot or json)", format);
        return;
    }
    client_send(c, cl, a);
}

static void cmd_request(Control *c, Client *cl, json_t *req, const char *cmd, CompOp op)
{
    json_t *jcomp = json_object_get(req, "component"), *jinst = json_object_get(req, "instance");
    json_t *jwait = json_object_get(req, "wait_ms"), *jhot = json_object_get(req, "hot"), *a;
    CompRequest r = { .op = op, .instance = COMP_ANY };
    char err[512], name[160], iname[ECG_INSTANCE_NAME_SIZE];
    CompId id;
    int node, ret, wait_ms = 0;

    if (!json_is_string(jcomp)) {
        send_error(c, cl, cmd, "'component' is required: a string such as \"news/out:main\"");
        return;
    }
    if (jwait && (!json_is_integer(jwait) || json_integer_value(jwait) < 0 ||
                  json_integer_value(jwait) > CONTROL_MAX_WAIT_MS)) {
        send_error(c, cl, cmd, "'wait_ms' must be a number of milliseconds, 0 to %d",
                   CONTROL_MAX_WAIT_MS);
        return;
    }
    if (jwait)
        wait_ms = (int)json_integer_value(jwait);
    if (jhot && (!json_is_boolean(jhot) || (json_is_true(jhot) && op != COMP_OP_PROVISION))) {
        send_error(c, cl, cmd, "'hot' is true or false, and only for provision");
        return;
    }
    r.hot = json_is_true(jhot);
    node = ecg_lookup(c->g, json_string_value(jcomp), &id, err, sizeof(err));
    if (node < 0) {
        send_error(c, cl, cmd, "%s", err);
        return;
    }
    if (jinst) {
        int k = json_is_integer(jinst) ? (json_integer_value(jinst) >= 0 &&
                                          json_integer_value(jinst) < COMP_MAX_INSTANCES ?
                                          (int)json_integer_value(jinst) : AVERROR(EINVAL)) :
                json_is_string(jinst) ? ecg_parse_instance(json_string_value(jinst)) :
                AVERROR(EINVAL);
        if (k < 0) {
            send_error(c, cl, cmd, "'instance' must be primary, backup, backupN or a number "
                       "below %d", COMP_MAX_INSTANCES);
            return;
        }
        r.instance = k;
    }
    av_strlcpy(r.origin, "ctl", sizeof(r.origin));
    ret = ecg_request(c->g, &id, &r, err, sizeof(err));
    if (ret < 0) {
        send_error(c, cl, cmd, "%s", err);
        return;
    }
    ecg_node_name(c->g, node, 1, name, sizeof(name));
    if (r.instance > 0)           /* "news/out:main.backup2", as events write it */
        av_strlcatf(name, sizeof(name), ".%s", ecg_instance_name(r.instance, iname, sizeof(iname)));
    if (!wait_ms) {
        a = answer_ok(cmd);
        if (a) {
            json_object_set_new(a, "seq", json_integer(r.seq));
            json_object_set_new(a, "component", json_string(name));
            json_object_set_new(a, "instance", json_string(
                ecg_instance_name(r.instance, iname, sizeof(iname))));
        }
        client_send(c, cl, a);
        return;
    }
    /* the outcome comes as an event with the seq: the ring from before
     * the post on holds it */
    cl->wait_seq = r.seq;
    cl->wait_ms = wait_ms;
    cl->wait_deadline_us = av_gettime_relative() + wait_ms * 1000LL;
    av_strlcpy(cl->wait_cmd, cmd, sizeof(cl->wait_cmd));
    av_strlcpy(cl->wait_comp, name, sizeof(cl->wait_comp));
    /* the outcome is an event emitted after the post: the loop's next
     * delivery, which starts where the last one ended, sees it */
}

static void cmd_events(Control *c, Client *cl, json_t *req)
{
    json_t *jfollow = json_object_get(req, "follow"), *jlast = json_object_get(req, "last");
    CtlEvent *evs = av_malloc_array(CONTROL_RING, sizeof(*evs));
    uint64_t next, lost;
    int n, first = 0;

    if ((jfollow && !json_is_boolean(jfollow)) ||
        (jlast && (!json_is_integer(jlast) || json_integer_value(jlast) < 0))) {
        av_free(evs);
        send_error(c, cl, "events", "'follow' must be true or false, 'last' a count");
        return;
    }
    if (!evs) {
        send_error(c, cl, "events", "out of memory");
        return;
    }
    n = ring_copy(c, 0, evs, &next, &lost);
    if (jlast && json_integer_value(jlast) < n)
        first = n - (int)json_integer_value(jlast);
    if (json_is_true(jfollow)) {
        json_t *a = answer_ok("events");
        if (a)
            json_object_set_new(a, "follow", json_true());
        client_send(c, cl, a);
        for (int i = first; i < n && cl->fd >= 0; i++)
            client_send(c, cl, json_pack("{s:i, s:o}", "v", CONTROL_VERSION, "event",
                                         event_json(&evs[i])));
        cl->following = 1;
        cl->next_event = next;
    } else {
        json_t *a = answer_ok("events"), *arr = json_array();
        for (int i = first; i < n && arr; i++)
            json_array_append_new(arr, event_json(&evs[i]));
        if (a && arr)
            json_object_set_new(a, "events", arr);
        else
            json_decref(arr);
        client_send(c, cl, a);
    }
    av_free(evs);
}

static void cmd_stop(Control *c, Client *cl, json_t *req)
{
    json_t *jnow = json_object_get(req, "now"), *a;
    int now = json_is_true(jnow);

    if (jnow && !json_is_boolean(jnow)) {
        send_error(c, cl, "stop", "'now' must be true or false");
        return;
    }
    a = answer_ok("stop");
    if (a)
        json_object_set_new(a, "now", json_boolean(now));
    client_send(c, cl, a);
    av_log(c, AV_LOG_INFO, "stop%s asked for on the control socket\n", now ? " now" : "");
    if (now) {
        /* the answer gets one try: the process ends below */
        client_flush(cl);
        if (c->path[0] && c->ino)
            unlink(c->path);
    }
    if (c->hooks.stop)
        c->hooks.stop(c->hooks.opaque, now);
}

/* {"cmd":"reload"}: the run reads its job again; the answer waits for
 * the outcome, an event "reload" (what it kept, started, stopped and
 * replaced) or "refused" (the new job's problems: the running one goes
 * on). */
static void cmd_reload(Control *c, Client *cl)
{
    char why[256] = "";
    int64_t seq;

    if (!c->hooks.reload) {
        send_error(c, cl, "reload", "this run cannot reload its job");
        return;
    }
    seq = c->hooks.reload(c->hooks.opaque, why, sizeof(why));
    if (seq <= 0) {
        send_error(c, cl, "reload", "%s", why[0] ? why : "refused");
        return;
    }
    cl->wait_seq = (uint32_t)seq;
    cl->wait_ms = CONTROL_RELOAD_WAIT_MS;
    cl->wait_deadline_us = av_gettime_relative() + CONTROL_RELOAD_WAIT_MS * 1000LL;
    av_strlcpy(cl->wait_cmd, "reload", sizeof(cl->wait_cmd));
    av_strlcpy(cl->wait_comp, "supervisor", sizeof(cl->wait_comp));
}

/* {"cmd":"drain"}: a fleet node moves its streams to the others, make
 * before break, and takes no more; answered at once (the moves take a
 * segment or two each: the events and the fleet's keys say when). */
static void cmd_drain(Control *c, Client *cl)
{
    char why[256] = "";
    json_t *a;
    int n;

    if (!c->hooks.drain) {
        send_error(c, cl, "drain", "not a fleet node (supervisor: { fleet: ... }): nothing "
                   "to drain to");
        return;
    }
    if ((n = c->hooks.drain(c->hooks.drain_opaque, why, sizeof(why))) < 0) {
        send_error(c, cl, "drain", "%s", why[0] ? why : "refused");
        return;
    }
    av_log(c, AV_LOG_INFO, "drain asked on the control socket\n");
    if ((a = answer_ok("drain")))
        json_object_set_new(a, "streams", json_integer(n));
    client_send(c, cl, a);
}

/* {"cmd":"steer","stream":S,"output":O,"order":["cdn-b","cdn-a"]} pins the
 * pathway order; "order":[] (or "auto":true) gives it back to the rules. */
static void cmd_steer(Control *c, Client *cl, json_t *req)
{
    const char *stream = json_string_value(json_object_get(req, "stream"));
    const char *output = json_string_value(json_object_get(req, "output"));
    json_t *jorder = json_object_get(req, "order"), *a;
    const char *ids[JOB_MAX_PATHWAYS];
    char why[256] = "";
    size_t n = 0;
    int ret;

    if (!c->hooks.steer) {
        send_error(c, cl, "steer", "no output of this job has pathways to steer");
        return;
    }
    if (!stream || !output) {
        send_error(c, cl, "steer", "'stream' and 'output' are required");
        return;
    }
    if (json_is_true(json_object_get(req, "auto")))
        jorder = NULL;
    else if (!json_is_array(jorder) || json_array_size(jorder) > JOB_MAX_PATHWAYS) {
        send_error(c, cl, "steer", "'order' must be a list of at most %d pathway ids, or "
                   "\"auto\": true", JOB_MAX_PATHWAYS);
        return;
    }
    for (n = 0; jorder && n < json_array_size(jorder); n++)
        if (!(ids[n] = json_string_value(json_array_get(jorder, n)))) {
            send_error(c, cl, "steer", "'order' must hold pathway ids (strings)");
            return;
        }
    if ((ret = c->hooks.steer(c->hooks.steer_opaque, stream, output, ids, (int)n, why,
                              sizeof(why))) < 0) {
        send_error(c, cl, "steer", "%s", why[0] ? why : av_err2str(ret));
        return;
    }
    av_log(c, AV_LOG_INFO, "steering of %.64s/%.64s %s on the control socket\n", stream, output,
           n ? "pinned" : "given back to the rules");
    if ((a = answer_ok("steer"))) {
        json_object_set_new(a, "pinned", json_boolean(n > 0));
        if (jorder)
            json_object_set(a, "order", jorder);
    }
    client_send(c, cl, a);
}

/* One request line (without its newline). */
static void handle_line(Control *c, Client *cl, const char *line, size_t len)
{
    char err[512];
    const char *cmd;
    json_t *req;
    int ret = control_parse_request(line, len, &req, &cmd, err, sizeof(err));

    if (ret <= 0) {
        if (ret < 0)
            send_error(c, cl, cmd, "%s", err);
        goto end;
    }
    pthread_mutex_lock(&c->graph_lock);
    if (!strcmp(cmd, "status"))
        cmd_status(c, cl);
    else if (!strcmp(cmd, "graph"))
        cmd_graph(c, cl, req);
    else if (!strcmp(cmd, "provision"))
        cmd_request(c, cl, req, cmd, COMP_OP_PROVISION);
    else if (!strcmp(cmd, "release"))
        cmd_request(c, cl, req, cmd, COMP_OP_RELEASE);
    else if (!strcmp(cmd, "switch"))
        cmd_request(c, cl, req, cmd, COMP_OP_SWITCH);
    else if (!strcmp(cmd, "events"))
        cmd_events(c, cl, req);
    else if (!strcmp(cmd, "stop"))
        cmd_stop(c, cl, req);
    else if (!strcmp(cmd, "steer"))
        cmd_steer(c, cl, req);
    else if (!strcmp(cmd, "reload"))
        cmd_reload(c, cl);
    else if (!strcmp(cmd, "drain"))
        cmd_drain(c, cl);
    else
        send_error(c, cl, cmd, "unknown command '%.64s' (status, graph, provision, release, "
                   "switch, events, steer, reload, drain, stop)", cmd);
    pthread_mutex_unlock(&c->graph_lock);
end:
    json_decref(req);
}

/* Handles the complete lines in the client's buffer, unless it waits for an
 * outcome (the rest then waits with it) or follows events. */
static void client_lines(Control *c, Client *cl)
{
    size_t start = 0;

    while (cl->fd >= 0 && !cl->wait_seq && !cl->following && start < cl->in_len) {
        char *nl = memchr(cl->in + start, '\n', cl->in_len - start);
        if (!nl)
            break;
        handle_line(c, cl, cl->in + start, nl - (cl->in + start));
        start = nl - cl->in + 1;
    }
    if (cl->fd < 0)
        return;
    if (cl->following)
        start = cl->in_len;       /* a follower's input is not read as requests */
    memmove(cl->in, cl->in + start, cl->in_len - start);
    cl->in_len -= start;
}

/* Reads what the client sent and handles its lines. hup: the client is
 * gone entirely (closed, not half-closed): what it sent still counts (a
 * stop written by a client that does not wait), answers go nowhere. */
static void client_read(Control *c, Client *cl, int hup)
{
    while (cl->fd >= 0 && !cl->eof) {
        size_t room = CONTROL_MAX_REQUEST - cl->in_len;
        ssize_t n;

        if (!room) {
            if (cl->wait_seq)
                break;            /* a full buffer waits with the request */
            /* a line longer than any request: refuse it, skip to its end */
            send_error(c, cl, NULL, "request longer than %d bytes", CONTROL_MAX_REQUEST);
            cl->in_len = 0;
            cl->discarding = 1;
            room = CONTROL_MAX_REQUEST;
        }
        n = recv(cl->fd, cl->in + cl->in_len, room, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            cl->eof = 1;          /* it has said all it will; it may still read */
            break;
        }
        cl->last_active_us = av_gettime_relative();
        if (cl->discarding) {
            char *nl = memchr(cl->in + cl->in_len, '\n', n);
            if (!nl)
                continue;         /* still inside the long line */
            cl->discarding = 0;
            memmove(cl->in, nl + 1, cl->in + cl->in_len + n - (nl + 1));
            cl->in_len = cl->in + cl->in_len + n - (nl + 1);
        } else {
            cl->in_len += n;
        }
        client_lines(c, cl);
    }
    if (cl->fd < 0)
        return;
    if (hup)
        client_close(cl);
    else if (cl->eof && !cl->wait_seq && !cl->following)
        cl->closing = 1;          /* answered: closed once written */
}

static void accept_clients(Control *c)
{
    for (;;) {
        int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), slot = -1;

        if (fd < 0)
            return;               /* EAGAIN, or a client gone before we took it */
        for (int i = 0; i < CONTROL_MAX_CLIENTS && slot < 0; i++)
            if (c->clients[i].fd < 0)
                slot = i;
        if (slot < 0) {
            char msg[128];
            int len = snprintf(msg, sizeof(msg), "{\"v\":%d,\"ok\":false,\"error\":\"too many "
                               "clients (%d)\"}\n", CONTROL_VERSION, CONTROL_MAX_CLIENTS);
            ssize_t n = send(fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)n;
            close(fd);
            continue;
        }
        c->clients[slot].fd = fd;
        c->clients[slot].last_active_us = av_gettime_relative();
    }
}

/* The answer to a request that waited: its outcome event, or the time out. */
static void wait_done(Control *c, Client *cl, const CtlEvent *e)
{
    json_t *a;

    if (!e) {
        send_error(c, cl, cl->wait_cmd, "%s: no outcome within %d ms (request %u)",
                   cl->wait_comp, cl->wait_ms, (unsigned)cl->wait_seq);
    } else if (e->kind == EV_PROVISIONED || e->kind == EV_RELEASED || e->kind == EV_SWITCH ||
               e->kind == EV_RELOAD) {
        a = answer_ok(cl->wait_cmd);
        if (a) {
            json_object_set_new(a, "seq", json_integer(cl->wait_seq));
            json_object_set_new(a, "component", json_string(cl->wait_comp));
            json_object_set_new(a, "outcome", json_string(evlog_kind_name(e->kind)));
            json_object_set_new(a, "event", event_json(e));
        }
        client_send(c, cl, a);
    } else {
        a = json_pack("{s:i, s:b, s:s, s:I, s:s, s:s, s:o}", "v", CONTROL_VERSION, "ok", 0,
                      "cmd", cl->wait_cmd, "seq", (json_int_t)cl->wait_seq, "component",
                      cl->wait_comp, "outcome", evlog_kind_name(e->kind), "event", event_json(e));
        if (a) {
            char msg[700];
            snprintf(msg, sizeof(msg), "%s: %s", evlog_kind_name(e->kind), e->cause);
            json_object_set_new(a, "error", json_string(msg));
        }
        client_send(c, cl, a);
    }
    cl->wait_seq = 0;
    cl->last_active_us = av_gettime_relative();
    if (cl->fd >= 0)
        client_lines(c, cl);      /* requests that came meanwhile */
    if (cl->fd >= 0 && cl->eof && !cl->wait_seq && !cl->following)
        cl->closing = 1;
}

/* Is e the outcome of a request? Intermediate events (info) are not. */
static int is_outcome(const CtlEvent *e)
{
    return e->seq && (e->kind == EV_PROVISIONED || e->kind == EV_RELEASED ||
                      e->kind == EV_SWITCH || e->kind == EV_REFUSED ||
                      e->kind == EV_FAILURE || e->kind == EV_RELOAD);
}

/* New events to the requests that wait and to followers. */
static void deliver(Control *c)
{
    CtlEvent *evs = av_malloc_array(CONTROL_RING, sizeof(*evs));
    uint64_t next, lost, from = c->delivered;
    int n;

    if (!evs)
        return;
    n = ring_copy(c, from, evs, &next, &lost);
    for (int k = 0; k < CONTROL_MAX_CLIENTS; k++) {
        Client *cl = &c->clients[k];
        if (cl->fd < 0)
            continue;
        for (int i = 0; i < n && cl->fd >= 0 && cl->wait_seq; i++)
            if (is_outcome(&evs[i]) && evs[i].seq == cl->wait_seq)
                wait_done(c, cl, &evs[i]);
        if (cl->fd >= 0 && cl->following) {
            /* a follower starts where its events answer left off */
            uint64_t base = next - n;
            if (cl->next_event < base) {
                client_send(c, cl, json_pack("{s:i, s:I}", "v", CONTROL_VERSION, "lost",
                                             (json_int_t)(base - cl->next_event)));
                cl->next_event = base;
            }
            for (int i = (int)(cl->next_event - base); i < n && cl->fd >= 0; i++)
                client_send(c, cl, json_pack("{s:i, s:o}", "v", CONTROL_VERSION, "event",
                                             event_json(&evs[i])));
            cl->next_event = next;
        }
    }
    c->delivered = next;
    av_free(evs);
}

static void *control_thread(void *arg)
{
    Control *c = arg;
    struct pollfd pfd[2 + CONTROL_MAX_CLIENTS];
    int who[2 + CONTROL_MAX_CLIENTS];

    log_set_component("control");
    while (!atomic_load(&c->quit)) {
        int64_t now = av_gettime_relative(), next = now + 1000000;
        int nfd = 0, timeout;

        pfd[nfd++] = (struct pollfd){ .fd = c->listen_fd, .events = POLLIN };
        pfd[nfd++] = (struct pollfd){ .fd = c->wake[0], .events = POLLIN };
        for (int k = 0; k < CONTROL_MAX_CLIENTS; k++) {
            Client *cl = &c->clients[k];
            short ev = 0;
            if (cl->fd < 0)
                continue;
            if (cl->wait_seq && now >= cl->wait_deadline_us)
                wait_done(c, cl, NULL);
            else if (!cl->wait_seq && !cl->following && !cl->out_len &&
                     now - cl->last_active_us > CONTROL_IDLE_US)
                client_close(cl);
            if (cl->fd < 0)
                continue;
            if (cl->wait_seq)
                next = FFMIN(next, cl->wait_deadline_us);
            /* a request that waits holds the client's further lines */
            if (!cl->eof && (!cl->wait_seq || cl->in_len < CONTROL_MAX_REQUEST))
                ev |= POLLIN;
            if (cl->out_len)
                ev |= POLLOUT;
            who[nfd] = k;
            pfd[nfd++] = (struct pollfd){ .fd = cl->fd, .events = ev };
        }
        timeout = (int)FFMAX((next - now + 999) / 1000, 0);
        if (poll(pfd, nfd, timeout) < 0 && errno != EINTR) {
            av_log(c, AV_LOG_ERROR, "poll: %s\n", av_err2str(AVERROR(errno)));
            av_usleep(100000);
            continue;
        }
        if (pfd[1].revents) {
            char buf[256];
            while (read(c->wake[0], buf, sizeof(buf)) > 0)
                ;
        }
        for (int i = 2; i < nfd; i++) {
            Client *cl = &c->clients[who[i]];
            if (cl->fd != pfd[i].fd)
                continue;         /* closed and reused meanwhile */
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                client_read(c, cl, !!(pfd[i].revents & (POLLHUP | POLLERR)));
            if (cl->fd >= 0 && (pfd[i].revents & POLLOUT))
                client_flush(cl);
        }
        if (pfd[0].revents & POLLIN)
            accept_clients(c);
        deliver(c);
        /* a client that is answered and said all it will is closed here,
         * also when its end came after its answers had gone out */
        for (int k = 0; k < CONTROL_MAX_CLIENTS; k++)
            if (c->clients[k].fd >= 0 && (c->clients[k].out_len || c->clients[k].closing))
                client_flush(&c->clients[k]);
    }
    /* the run ends: last events to followers, one try to write */
    deliver(c);
    for (int k = 0; k < CONTROL_MAX_CLIENTS; k++) {
        client_flush(&c->clients[k]);
        client_close(&c->clients[k]);
    }
    return NULL;
}

void control_swap(Control *c, Ecg *g, const ControlHooks *hooks)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->graph_lock);
    c->g = g;
    c->hooks = *hooks;
    pthread_mutex_unlock(&c->graph_lock);
}

int control_start(Control *c, Ecg *g, const ControlHooks *hooks)
{
    int ret;

    c->g = g;
    if (hooks)
        c->hooks = *hooks;
    c->delivered = 0;
    ret = pthread_create(&c->thread, NULL, control_thread, c);
    if (ret)
        return AVERROR(ret);
    c->started = 1;
    return 0;
}

void control_stop(Control *c)
{
    struct stat st;
    ssize_t n;

    if (!c)
        return;
    if (c->started) {
        atomic_store(&c->quit, 1);
        n = write(c->wake[1], "q", 1);
        (void)n;
        pthread_join(c->thread, NULL);
        c->started = 0;
    }
    if (c->listen_fd >= 0) {
        close(c->listen_fd);
        c->listen_fd = -1;
    }
    /* another run may have replaced a socket it found stale: leave that */
    if (c->path[0] && stat(c->path, &st) == 0 && st.st_ino == c->ino && st.st_dev == c->dev)
        unlink(c->path);
    c->path[0] = 0;
}

void control_free(Control **pc)
{
    Control *c = *pc;

    if (!c)
        return;
    control_stop(c);
    for (int k = 0; k < CONTROL_MAX_CLIENTS; k++)
        client_close(&c->clients[k]);
    if (c->wake[0] >= 0)
        close(c->wake[0]);
    if (c->wake[1] >= 0)
        close(c->wake[1]);
    pthread_mutex_destroy(&c->ring_lock);
    pthread_mutex_destroy(&c->graph_lock);
    av_freep(pc);
}
