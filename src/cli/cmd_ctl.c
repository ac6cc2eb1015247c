/*
 * cmd_ctl.c: "hotspare ctl": asks a running supervisor, through its control
 * socket (control.h), for its status and graph, its events, requests on a
 * component (provision, release, switch, waiting for their outcome) and a
 * stop. One request line out, answer lines in (README, "Control socket and
 * hotspare ctl").
 *
 * Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 usage,
 * 3 no supervisor at that socket.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include <libavutil/avstring.h>
#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "cli/cmd.h"
#include "cli/control.h"
#include "cli/ctl_fleet.h"
#include "core/units.h"
#include "ecg/ecg.h"
#include "job/job.h"

#define CTL_EXIT_NO_SUPERVISOR 3
/* How long provision, release and switch wait for their outcome. */
#define CTL_DEFAULT_TIMEOUT_MS 10000
/* Beyond the supervisor's own time-out, for the answer to travel. */
#define CTL_ANSWER_SLACK_MS    5000

typedef struct CtlOpts {
    const char *socket, *job, *format;
    int json, follow, now, hot, autos;
    int timeout_ms;               /* -1: not given */
} CtlOpts;

/* ---- the socket --------------------------------------------------------------- */

/* Answer lines from the supervisor. */
typedef struct Reader {
    int fd;
    AVBPrint buf;
    size_t start;                 /* of the unread part of buf */
} Reader;

static int ctl_connect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd, err;

    if (strlen(path) >= sizeof(sa.sun_path))
        return AVERROR(ENAMETOOLONG);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return AVERROR(errno);
    av_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        err = AVERROR(errno);
        close(fd);
        return err;
    }
    return fd;
}

static int send_request(int fd, json_t *req)
{
    char *text = json_dumps(req, JSON_COMPACT);
    size_t len, off = 0;
    int ret = 0;

    if (!text)
        return AVERROR(ENOMEM);
    len = strlen(text);
    text[len++] = '\n';           /* json_dumps' terminator becomes the newline */
    while (off < len) {
        ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ret = AVERROR(errno);
            break;
        }
        off += n;
    }
    free(text);
    return ret;
}

/* The next answer line as JSON. timeout_ms < 0: none. Returns 1 with *out,
 * 0 when the supervisor closed the connection, AVERROR(ETIMEDOUT), or
 * AVERROR_INVALIDDATA for a line that is not JSON. */
static int read_answer(Reader *r, int timeout_ms, json_t **out)
{
    *out = NULL;
    for (;;) {
        char *nl = r->buf.len > r->start ? memchr(r->buf.str + r->start, '\n',
                                                 r->buf.len - r->start) : NULL;
        char chunk[65536];
        struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
        ssize_t n;

        if (nl) {
            size_t len = nl - (r->buf.str + r->start);
            *out = json_loadb(r->buf.str + r->start, len, 0, NULL);
            r->start += len + 1;
            if (r->start == r->buf.len) {
                av_bprint_clear(&r->buf);
                r->start = 0;
            }
            return *out ? 1 : AVERROR_INVALIDDATA;
        }
        if (poll(&pfd, 1, timeout_ms) == 0)
            return AVERROR(ETIMEDOUT);
        n = recv(r->fd, chunk, sizeof(chunk), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        av_bprint_append_data(&r->buf, chunk, n);
        if (!av_bprint_is_complete(&r->buf))
            return AVERROR(ENOMEM);
    }
}

/* ---- finding the socket ------------------------------------------------------- */

/* The socket to use, into path: --socket, the job's, else the only one in
 * the default directory. Returns 0 or an exit status (reported). */
static int find_socket(const CtlOpts *o, char *path, size_t size)
{
    char dir[4096], err[1024];
    struct dirent *de;
    AVBPrint found;
    DIR *d;
    int n = 0;

    if (o->socket) {
        av_strlcpy(path, o->socket, size);
        return 0;
    }
    if (o->job) {
        Job *job = NULL;
        int ret = cmd_load_job(o->job, &job);

        if (ret)
            return ret;
        ret = control_socket_path(job, 0, path, size, err, sizeof(err));
        job_free(&job);
        if (ret < 0) {
            fprintf(stderr, "hotspare ctl: %s\n", err);
            return HS_EXIT_USAGE;
        }
        return 0;
    }
    control_default_dir(dir, sizeof(dir));
    d = opendir(dir);
    if (!d) {
        fprintf(stderr, "hotspare ctl: no supervisor: cannot read %s (%s); name one with "
                "--socket or --job\n", dir, strerror(errno));
        return CTL_EXIT_NO_SUPERVISOR;
    }
    av_bprint_init(&found, 0, AV_BPRINT_SIZE_UNLIMITED);
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        char p[4096 + 256];
        struct stat st;
        if (len < 6 || strcmp(de->d_name + len - 5, ".sock"))
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        if (stat(p, &st) < 0 || !S_ISSOCK(st.st_mode))
            continue;
        av_bprintf(&found, "  %s\n", p);
        if (!n++)
            av_strlcpy(path, p, size);
    }
    closedir(d);
    if (n == 1) {
        av_bprint_finalize(&found, NULL);
        return 0;
    }
    if (!n)
        fprintf(stderr, "hotspare ctl: no supervisor: no socket in %s\n", dir);
    else
        fprintf(stderr, "hotspare ctl: %d sockets in %s; name one with --socket or --job:\n%s",
                n, dir, found.str);
    av_bprint_finalize(&found, NULL);
    return n ? HS_EXIT_USAGE : CTL_EXIT_NO_SUPERVISOR;
}

/* ---- printing ------------------------------------------------------------------- */

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

#define STATUS_COLS 9

/* The status as a table: one row per component. */
static void print_status(json_t *answer)
{
    static const char *const head[STATUS_COLS] = {
        "STREAM", "COMPONENT", "KIND", "IN USE", "INSTANCES", "RISK", "RATE", "QUEUE", "BEAT",
    };
    json_t *comps = json_object_get(answer, "components"), *c;
    size_t nb = json_array_size(comps), idx;
    char (*cell)[STATUS_COLS][160] = av_calloc(nb + 1, sizeof(*cell));
    int width[STATUS_COLS] = { 0 };

    if (!cell)
        return;
    for (int k = 0; k < STATUS_COLS; k++)
        av_strlcpy(cell[0][k], head[k], sizeof(cell[0][k]));
    json_array_foreach(comps, idx, c) {
        char (*row)[160] = cell[idx + 1];
        json_t *inst, *v;
        size_t k;
        av_strlcpy(row[0], str(c, "stream"), sizeof(row[0]));
        av_strlcpy(row[1], str(c, "component"), sizeof(row[1]));
        av_strlcpy(row[2], str(c, "kind"), sizeof(row[2]));
        av_strlcpy(row[3], json_is_string(json_object_get(c, "in_use")) ?
                   str(c, "in_use") : "-", sizeof(row[3]));
        json_array_foreach(json_object_get(c, "instances"), k, inst)
            av_strlcatf(row[4], sizeof(row[4]), "%s%s=%s%s", k ? " " : "", str(inst, "name"),
                        str(inst, "state"), json_is_true(json_object_get(inst, "hot")) ? "(hot)" : "");
        v = json_object_get(c, "priority");
        if (json_is_integer(v))   /* a CDN pathway: its place, not instances */
            snprintf(row[4], sizeof(row[4]), "priority %lld%s", (long long)json_integer_value(v),
                     json_is_true(json_object_get(c, "pinned")) ? " (pinned)" : "");
        v = json_object_get(c, "risk");
        snprintf(row[5], sizeof(row[5]), json_is_number(v) ? "%.2f" : "-", json_number_value(v));
        v = json_object_get(c, "rate");
        if (json_is_number(v))
            snprintf(row[6], sizeof(row[6]), "%.1f %s", json_number_value(v), str(c, "rate_unit"));
        else
            snprintf(row[6], sizeof(row[6]), "-");
        v = json_object_get(c, "queue");
        snprintf(row[7], sizeof(row[7]), json_is_integer(v) ? "%lld" : "-",
                 (long long)json_integer_value(v));
        v = json_object_get(c, "heartbeat_age_ms");
        snprintf(row[8], sizeof(row[8]), json_is_integer(v) ? "%lldms" : "-",
                 (long long)json_integer_value(v));
    }
    for (size_t r = 0; r <= nb; r++)
        for (int k = 0; k < STATUS_COLS; k++)
            width[k] = FFMAX(width[k], (int)strlen(cell[r][k]));
    for (size_t r = 0; r <= nb; r++)
        for (int k = 0; k < STATUS_COLS; k++)
            printf("%-*s%s", k < STATUS_COLS - 1 ? width[k] : 0, cell[r][k],
                   k < STATUS_COLS - 1 ? "  " : "\n");
    av_free(cell);
}

static void print_json(json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);

    if (text)
        printf("%s\n", text);
    free(text);
}

/* ---- the commands ------------------------------------------------------------- */

static int parse_timeout(const char *arg, int *ms)
{
    char err[128], *end;
    double secs = strtod(arg, &end);
    int64_t us;

    if (end != arg && !*end && secs >= 0 && secs <= 600) {
        *ms = (int)(secs * 1000 + 0.5);
        return 0;
    }
    if (units_parse_duration(arg, &us, err, sizeof(err)) < 0 || us > 600 * 1000000LL)
        return AVERROR(EINVAL);
    *ms = (int)(us / 1000);
    return 0;
}

/* Builds the request for argv (the command and its arguments); returns it
 * or NULL after a usage error (*status set). */
static json_t *build_request(const CtlOpts *o, int argc, char **argv, int *status)
{
    const char *cmd = argv[0];
    int nargs = argc - 1;
    json_t *req = json_pack("{s:i, s:s}", "v", CONTROL_VERSION, "cmd", cmd);

#define USAGE(...) do { *status = cmd_usage_error(&cmd_ctl_entry, __VA_ARGS__); \
                        json_decref(req); return NULL; } while (0)
    if (!req)
        USAGE("out of memory");
    if (o->json && strcmp(cmd, "status"))
        USAGE("--json is for status");
    if (o->format && strcmp(cmd, "graph"))
        USAGE("--format is for graph");
    if (o->follow && strcmp(cmd, "events"))
        USAGE("--follow is for events");
    if (o->now && strcmp(cmd, "stop"))
        USAGE("--now is for stop");
    if (o->hot && strcmp(cmd, "provision"))
        USAGE("--hot is for provision");
    if (o->autos && strcmp(cmd, "steer"))
        USAGE("--auto is for steer");
    if (o->timeout_ms >= 0 && strcmp(cmd, "provision") && strcmp(cmd, "release") &&
        strcmp(cmd, "switch"))
        USAGE("--timeout is for provision, release and switch");

    if (!strcmp(cmd, "status") || !strcmp(cmd, "events") || !strcmp(cmd, "stop") ||
        !strcmp(cmd, "graph") || !strcmp(cmd, "reload") || !strcmp(cmd, "drain")) {
        if (nargs)
            USAGE("%s takes no argument", cmd);
        if (o->format && strcmp(o->format, "dot") && strcmp(o->format, "json"))
            USAGE("--format is dot or json, not '%s'", o->format);
        if (o->format)
            json_object_set_new(req, "format", json_string(o->format));
        if (o->follow)
            json_object_set_new(req, "follow", json_true());
        if (o->now)
            json_object_set_new(req, "now", json_true());
        return req;
    }
    if (!strcmp(cmd, "provision") || !strcmp(cmd, "release") || !strcmp(cmd, "switch")) {
        int wait = o->timeout_ms >= 0 ? o->timeout_ms : CTL_DEFAULT_TIMEOUT_MS;
        if (nargs < 1 || nargs > 2)
            USAGE("%s takes COMPONENT [INSTANCE] (news/out:youtube backup)", cmd);
        if (nargs == 2 && ecg_parse_instance(argv[2]) < 0)
            USAGE("INSTANCE is primary, backup, backupN or a number, not '%s'", argv[2]);
        json_object_set_new(req, "component", json_string(argv[1]));
        if (nargs == 2)
            json_object_set_new(req, "instance", json_string(argv[2]));
        if (o->hot)
            json_object_set_new(req, "hot", json_true());
        if (wait)
            json_object_set_new(req, "wait_ms", json_integer(wait));
        return req;
    }
    if (!strcmp(cmd, "steer")) {
        /* steer STREAM/OUTPUT PATHWAY... | steer STREAM/OUTPUT --auto */
        const char *slash = nargs ? strchr(argv[1], '/') : NULL;
        json_t *order;
        if (!nargs || !slash || slash == argv[1] || !slash[1])
            USAGE("steer takes STREAM/OUTPUT and the pathways in order (news/main cdn-b "
                  "cdn-a), or --auto");
        if (o->autos == (nargs > 1))
            USAGE(o->autos ? "steer --auto takes no pathway" :
                  "steer takes the pathways in order, or --auto to give the order back");
        json_object_set_new(req, "stream", json_stringn(argv[1], slash - argv[1]));
        json_object_set_new(req, "output", json_string(slash + 1));
        if (o->autos) {
            json_object_set_new(req, "auto", json_true());
            return req;
        }
        if (!(order = json_array()))
            USAGE("out of memory");
        for (int i = 2; i <= nargs; i++)
            json_array_append_new(order, json_string(argv[i]));
        json_object_set_new(req, "order", order);
        return req;
    }
    USAGE("unknown command '%s' (status, graph, provision, release, switch, events, steer, "
          "reload, stop)", cmd);
#undef USAGE
}

/* What the answer says, printed; returns the exit status. */
static int show_answer(const CtlOpts *o, const char *cmd, json_t *a)
{
    json_t *ev;

    if (!json_is_true(json_object_get(a, "ok"))) {
        fprintf(stderr, "hotspare ctl %s: %s\n", cmd,
                json_is_string(json_object_get(a, "error")) ? str(a, "error") : "failed");
        return HS_EXIT_FAILED;
    }
    if (!strcmp(cmd, "status")) {
        if (o->json)
            print_json(a);
        else
            print_status(a);
    } else if (!strcmp(cmd, "graph")) {
        json_t *g = json_object_get(a, "graph");
        if (json_is_string(g))
            fputs(json_string_value(g), stdout);
        else
            print_json(g);
    } else if (!strcmp(cmd, "events")) {
        size_t i;
        json_array_foreach(json_object_get(a, "events"), i, ev)
            print_json(ev);
    } else if (!strcmp(cmd, "steer")) {
        json_t *id;
        size_t i;
        if (!json_is_true(json_object_get(a, "pinned")))
            printf("pathway order given back to the rules (from the next tick)\n");
        else {
            printf("pathway order pinned:");
            json_array_foreach(json_object_get(a, "order"), i, id)
                printf(" %s", json_string_value(id));
            printf(" (from the next tick, until steer --auto)\n");
        }
    } else if (!strcmp(cmd, "reload")) {
        json_t *evt = json_object_get(a, "event");
        printf("%s\n", json_is_string(json_object_get(evt, "cause")) ? str(evt, "cause") : "job reloaded");
    } else if (!strcmp(cmd, "drain")) {
        json_int_t n = json_integer_value(json_object_get(a, "streams"));
        printf("draining: %lld stream%s move%s to other nodes at segment boundaries; this node "
               "takes no more\n", (long long)n, n == 1 ? "" : "s", n == 1 ? "s" : "");
    } else if (!strcmp(cmd, "stop")) {
        printf("%s\n", json_is_true(json_object_get(a, "now")) ? "exiting now" :
               "stopping: inputs closed, outputs finishing");
    } else if (json_is_string(json_object_get(a, "outcome"))) {
        printf("%s: %s (request %lld)\n", str(a, "component"), str(a, "outcome"),
               (long long)json_integer_value(json_object_get(a, "seq")));
    } else {
        printf("%s: %s asked (request %lld)\n", str(a, "component"), cmd,
               (long long)json_integer_value(json_object_get(a, "seq")));
    }
    return HS_EXIT_OK;
}

/* events --follow: the events as JSON lines until the run ends. */
static int follow(Reader *r)
{
    for (;;) {
        json_t *line;
        int ret = read_answer(r, -1, &line);
        if (ret <= 0)
            return ret == 0 ? HS_EXIT_OK : HS_EXIT_FAILED;
        if (json_object_get(line, "event"))
            print_json(json_object_get(line, "event"));
        else if (json_object_get(line, "lost"))
            fprintf(stderr, "hotspare ctl events: %lld events lost (this reader was slow)\n",
                    (long long)json_integer_value(json_object_get(line, "lost")));
        fflush(stdout);
        json_decref(line);
    }
}

/* ---- ctl drill ------------------------------------------------------------------ */

/*
 * "ctl drill COMPONENT": a planned switch to the backup and back on a
 * running supervisor, for a nightly cron on production. Composed of the
 * requests any script could send: status (the outputs' frames_lost
 * before), switch to the backup (waited for), its first packet (followed
 * in the events), switch to the primary, its first packet, status again.
 * Exit 0 when both switches happened and the stream's outputs lost no
 * frame, 1 otherwise.
 */

/* Each switch, and its first packet after it. */
#define CTL_DRILL_WAIT_MS   10000
/* After the last first packet, before the frames are counted again: a
 * hole shows when the packet after it is written. */
#define CTL_DRILL_SETTLE_MS 500

/* One request on a connection of its own: 1 with *answer (the caller's),
 * else what read_answer or ctl_connect returned. */
static int ask(const char *path, json_t *req, int timeout_ms, json_t **answer)
{
    Reader r = { .fd = ctl_connect(path) };
    int ret;

    *answer = NULL;
    if (r.fd < 0)
        return r.fd;
    av_bprint_init(&r.buf, 0, AV_BPRINT_SIZE_UNLIMITED);
    ret = send_request(r.fd, req);
    if (ret >= 0)
        ret = read_answer(&r, timeout_ms, answer);
    av_bprint_finalize(&r.buf, NULL);
    close(r.fd);
    return ret;
}

/* The component's stream (into stream) and its outputs' frames_lost now,
 * as { "news/out:main": N, ... } in *lost. Returns 0 or an exit status
 * (reported). */
static int drill_frames(const char *path, const char *component, char *stream, size_t size,
                        json_t **lost)
{
    json_t *req = json_pack("{s:i, s:s}", "v", CONTROL_VERSION, "cmd", "status"), *a = NULL, *c;
    const char *slash = strchr(component, '/'), *name = slash ? slash + 1 : component;
    int ret, found = 0, status = HS_EXIT_OK;
    size_t i;

    *lost = NULL;
    ret = req ? ask(path, req, 30000, &a) : AVERROR(ENOMEM);
    json_decref(req);
    if (ret <= 0 || !json_is_true(json_object_get(a, "ok"))) {
        fprintf(stderr, "hotspare ctl drill: no status: %s\n", ret <= 0 ? av_err2str(ret) :
                str(a, "error"));
        json_decref(a);
        return ret == AVERROR(ENOENT) || ret == AVERROR(ECONNREFUSED) ? CTL_EXIT_NO_SUPERVISOR :
               HS_EXIT_FAILED;
    }
    json_array_foreach(json_object_get(a, "components"), i, c) {
        if (strcmp(str(c, "component"), name) ||
            (slash && strncmp(str(c, "stream"), component, slash - component)) ||
            (slash && strlen(str(c, "stream")) != (size_t)(slash - component)))
            continue;
        if (found++ == 0)
            av_strlcpy(stream, str(c, "stream"), size);
    }
    if (found != 1) {
        status = cmd_usage_error(&cmd_ctl_entry, found ? "'%s' is in %d streams: write "
                                 "STREAM/%s" : "no component '%s' (hotspare ctl status lists "
                                 "them)", found ? name : component, found, name);
        goto end;
    }
    if (!(*lost = json_object())) {
        status = HS_EXIT_FAILED;
        goto end;
    }
    json_array_foreach(json_object_get(a, "components"), i, c)
        if (!strcmp(str(c, "stream"), stream) && json_is_integer(json_object_get(c, "frames_lost")))
            json_object_set(*lost, str(c, "id"), json_object_get(c, "frames_lost"));
end:
    json_decref(a);
    return status;
}

/* Does the event belong to component name (any instance) of stream? */
static int drill_same(json_t *ev, const char *stream, const char *name)
{
    const char *c = str(ev, "component");
    size_t n = strlen(name);

    return !strcmp(str(ev, "stream"), stream) && !strncmp(c, name, n) &&
           (!c[n] || !strncmp(c + n, ".backup", 7));
}

/*
 * A planned switch of component to instance, waited for; then its first
 * packet, read from the events follower fr. Describes both in *rec.
 * Returns 1 when the switch happened and its first packet came.
 */
static int drill_switch(const char *path, Reader *fr, const char *component, const char *stream,
                        const char *instance, json_t *rec)
{
    const char *slash = strchr(component, '/'), *name = slash ? slash + 1 : component;
    json_t *req = json_pack("{s:i, s:s, s:s, s:s, s:i}", "v", CONTROL_VERSION, "cmd", "switch",
                            "component", component, "instance", instance,
                            "wait_ms", CTL_DRILL_WAIT_MS), *a = NULL;
    int64_t seq, deadline;
    int ret, seen = 0;

    json_object_set_new(rec, "to", json_string(instance));
    ret = req ? ask(path, req, CTL_DRILL_WAIT_MS + CTL_ANSWER_SLACK_MS, &a) : AVERROR(ENOMEM);
    json_decref(req);
    if (ret <= 0 || !json_is_true(json_object_get(a, "ok"))) {
        json_object_set_new(rec, "outcome", json_string("failed"));
        json_object_set_new(rec, "cause", json_string(ret <= 0 ? av_err2str(ret) :
                                                      str(a, "error")));
        json_decref(a);
        return 0;
    }
    seq = json_integer_value(json_object_get(a, "seq"));
    json_object_set_new(rec, "outcome", json_string(str(a, "outcome")));
    json_object_set_new(rec, "seq", json_integer(seq));
    json_object_set_new(rec, "cause", json_string(str(json_object_get(a, "event"), "cause")));
    json_decref(a);

    /* the follower sees the switch (its seq), then the first packet */
    deadline = av_gettime_relative() + CTL_DRILL_WAIT_MS * 1000LL;
    for (;;) {
        int64_t left = (deadline - av_gettime_relative()) / 1000;
        json_t *line = NULL, *ev;
        const char *p;
        double ms;
        if (left <= 0 || read_answer(fr, (int)left, &line) <= 0) {
            json_decref(line);
            json_object_set_new(rec, "first_packet_ms", json_null());
            return 0;
        }
        ev = json_object_get(line, "event");
        if (ev && json_integer_value(json_object_get(ev, "seq")) == seq)
            seen = 1;
        else if (ev && seen && !strcmp(str(ev, "kind"), "info") && drill_same(ev, stream, name) &&
                 (p = strstr(str(ev, "cause"), "first packet ")) &&
                 sscanf(p, "first packet %lf ms", &ms) == 1) {
            json_object_set_new(rec, "first_packet_ms", json_real(ms));
            json_object_set_new(rec, "first_packet", json_string(str(ev, "cause")));
            json_decref(line);
            return 1;
        }
        json_decref(line);
    }
}

static int ctl_drill(const CtlOpts *o, int argc, char **argv)
{
    json_t *before = NULL, *after = NULL, *rec[2] = { NULL, NULL }, *lost = NULL, *req;
    char path[4096], stream[COMP_NAME_SIZE];
    static const char *const to[2] = { "backup", "primary" };
    Reader fr = { .fd = -1 };
    int status, ok = 1;
    int64_t total = 0;
    const char *id;
    json_t *v;

    if (argc != 2)
        return cmd_usage_error(&cmd_ctl_entry, "drill takes COMPONENT (news/out:youtube)");
    if (o->format || o->follow || o->now || o->hot || o->autos || o->timeout_ms >= 0)
        return cmd_usage_error(&cmd_ctl_entry, "drill takes --json alone");
    if ((status = find_socket(o, path, sizeof(path))))
        return status;
    if ((status = drill_frames(path, argv[1], stream, sizeof(stream), &before)))
        return status;

    /* following from before the first switch: no event of it is missed */
    req = json_pack("{s:i, s:s, s:b, s:i}", "v", CONTROL_VERSION, "cmd", "events", "follow", 1,
                    "last", 0);
    fr.fd = ctl_connect(path);
    av_bprint_init(&fr.buf, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (!req || fr.fd < 0 || send_request(fr.fd, req) < 0 || read_answer(&fr, 30000, &v) <= 0) {
        fprintf(stderr, "hotspare ctl drill: cannot follow the events\n");
        status = HS_EXIT_FAILED;
        goto end;
    }
    json_decref(v);

    for (int k = 0; k < 2 && ok; k++) {
        if (!(rec[k] = json_object())) {
            status = HS_EXIT_FAILED;
            goto end;
        }
        ok = drill_switch(path, &fr, argv[1], stream, to[k], rec[k]);
    }
    av_usleep(CTL_DRILL_SETTLE_MS * 1000);
    if ((status = drill_frames(path, argv[1], stream, sizeof(stream), &after)))
        goto end;
    if (!(lost = json_object())) {
        status = HS_EXIT_FAILED;
        goto end;
    }
    json_object_foreach(after, id, v) {
        int64_t d = json_integer_value(v) - json_integer_value(json_object_get(before, id));
        json_object_set_new(lost, id, json_integer(d));
        total += d;
    }
    ok &= total == 0;
    status = ok ? HS_EXIT_OK : HS_EXIT_FAILED;

    if (o->json) {
        json_t *out = json_pack("{s:s, s:s, s:[o?, o?], s:O, s:I, s:b}", "component", argv[1],
                                "stream", stream, "switches", json_incref(rec[0]),
                                json_incref(rec[1]), "frames_lost", lost,
                                "frames_lost_total", (json_int_t)total, "ok", ok);
        if (out)
            print_json(out);
        json_decref(out);
    } else {
        for (int k = 0; k < 2 && rec[k]; k++) {
            json_t *ms = json_object_get(rec[k], "first_packet_ms");
            printf("switch to %s: %s", to[k], str(rec[k], "outcome"));
            if (*str(rec[k], "cause"))
                printf(" (%s)", str(rec[k], "cause"));
            if (json_is_number(ms))
                printf(", first packet %.1f ms after it\n", json_number_value(ms));
            else
                printf(", no first packet seen\n");
        }
        json_object_foreach(lost, id, v)
            printf("%s: %lld frame%s lost during the drill\n", id, (long long)json_integer_value(v),
                   json_integer_value(v) == 1 ? "" : "s");
        printf("drill of %s: %s\n", argv[1], ok ? "passed" : "FAILED");
    }
end:
    json_decref(req);
    json_decref(before);
    json_decref(after);
    json_decref(lost);
    json_decref(rec[0]);
    json_decref(rec[1]);
    if (fr.fd >= 0)
        close(fr.fd);
    av_bprint_finalize(&fr.buf, NULL);
    return status;
}

static int ctl_exec(int argc, char **argv)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        { "socket",  required_argument, 0, 's' },
        { "job",     required_argument, 0, 'j' },
        { "json",    no_argument,       0, 'J' },
        { "format",  required_argument, 0, 'f' },
        { "timeout", required_argument, 0, 't' },
        { "follow",  no_argument,       0, 'F' },
        { "now",     no_argument,       0, 'N' },
        { "hot",     no_argument,       0, 'H' },
        { "auto",    no_argument,       0, 'A' },
        { "fleet",   required_argument, 0, 'L' },
        { 0, 0, 0, 0 },
    };
    CtlOpts o = { .timeout_ms = -1 };
    const char *fleet = NULL;     /* --fleet: a request to the fleet, through etcd */
    char path[4096];
    Reader r = { .fd = -1 };
    json_t *req, *answer = NULL;
    int c, status = HS_EXIT_OK, ret;

    while ((c = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cmd_print_help(&cmd_ctl_entry);
            return HS_EXIT_OK;
        case 's': o.socket = optarg; break;
        case 'j': o.job = optarg; break;
        case 'J': o.json = 1; break;
        case 'f': o.format = optarg; break;
        case 'F': o.follow = 1; break;
        case 'N': o.now = 1; break;
        case 'H': o.hot = 1; break;
        case 'A': o.autos = 1; break;
        case 'L': fleet = optarg; break;
        case 't':
            if (parse_timeout(optarg, &o.timeout_ms) < 0)
                return cmd_usage_error(&cmd_ctl_entry, "--timeout takes seconds (10, 2.5, "
                                       "500ms), at most 600, not '%s'", optarg);
            break;
        default:
            if (cmd_common_option(c, optarg) <= 0)
                return cmd_usage_error(&cmd_ctl_entry, "bad option");
        }
    }
    if (o.socket && o.job)
        return cmd_usage_error(&cmd_ctl_entry, "--socket or --job, not both");
    if (optind >= argc)
        return cmd_usage_error(&cmd_ctl_entry, "no command given");
    if (fleet && (o.socket || o.job))
        return cmd_usage_error(&cmd_ctl_entry, "--fleet asks the fleet's etcd, not a socket");
    if (fleet)
        return ctl_fleet_exec(fleet, argc - optind, argv + optind, o.timeout_ms);
    if (!strcmp(argv[optind], "move"))
        return cmd_usage_error(&cmd_ctl_entry, "move is a fleet request: --fleet etcd=URL,... "
                               "move STREAM NODE");
    if (!strcmp(argv[optind], "drill"))
        return ctl_drill(&o, argc - optind, argv + optind);
    req = build_request(&o, argc - optind, argv + optind, &status);
    if (!req)
        return status;
    if ((status = find_socket(&o, path, sizeof(path)))) {
        json_decref(req);
        return status;
    }
    r.fd = ctl_connect(path);
    if (r.fd < 0) {
        fprintf(stderr, "hotspare ctl: no supervisor at %s: %s\n", path, av_err2str(r.fd));
        json_decref(req);
        return CTL_EXIT_NO_SUPERVISOR;
    }
    av_bprint_init(&r.buf, 0, AV_BPRINT_SIZE_UNLIMITED);
    ret = send_request(r.fd, req);
    if (ret >= 0) {
        json_t *w = json_object_get(req, "wait_ms");
        ret = read_answer(&r, w ? (int)json_integer_value(w) + CTL_ANSWER_SLACK_MS :
                          !strcmp(argv[optind], "reload") ?
                          CONTROL_RELOAD_WAIT_MS + CTL_ANSWER_SLACK_MS : 30000, &answer);
    }
    if (ret > 0) {
        status = show_answer(&o, argv[optind], answer);
        if (!status && o.follow)
            status = follow(&r);
    } else if (ret == 0 && o.now) {
        printf("exiting now\n");  /* it went before its answer could */
    } else {
        fprintf(stderr, "hotspare ctl: %s\n", ret == 0 ? "the supervisor closed the connection "
                "without an answer" : ret == AVERROR(ETIMEDOUT) ? "no answer in time" :
                ret == AVERROR_INVALIDDATA ? "the answer is not JSON" : av_err2str(ret));
        status = HS_EXIT_FAILED;
    }
    json_decref(answer);
    json_decref(req);
    av_bprint_finalize(&r.buf, NULL);
    close(r.fd);
    return status;
}

const CmdEntry cmd_ctl_entry = {
    .name    = "ctl",
    .usage   = "[--socket PATH | --job JOB.yaml] status [--json] | graph [--format dot|json] |\n"
               "       provision|release|switch COMPONENT [INSTANCE] [--timeout SEC] [--hot] |\n"
               "       reload | drain | --fleet etcd=URL[,URL...][,prefix=P] move STREAM NODE |\n"
               "       --fleet SETTINGS place JOB.yaml [NAME] | --fleet SETTINGS unplace NAME |\n"
               "       events [--follow] | steer STREAM/OUTPUT PATHWAY... | steer STREAM/OUTPUT --auto |\n"
               "       stop [--now] | drill COMPONENT [--json]",
    .summary = "ask a running supervisor, through its control socket",
    .help    = "The socket: --socket PATH, the job's (supervisor: { control: PATH }, else\n"
               "$XDG_RUNTIME_DIR/hotspare/JOB.sock, else ./JOB.sock), or without either\n"
               "the only socket in that default directory.\n\n"
               "  status [--json]          every component: instance in use, states, risk,\n"
               "                           rate, queue, heartbeat (a table, or the JSON answer)\n"
               "  graph [--format dot|json] the chain as Graphviz DOT (default) or JSON\n"
               "  provision COMPONENT [INSTANCE]   open a backup ahead (news/out:youtube backup);\n"
               "                           --hot: a standby encoder is also given every frame\n"
               "                           (standby_mode: hot for it)\n"
               "  release COMPONENT [INSTANCE]     close a backup opened ahead\n"
               "  switch COMPONENT [INSTANCE]      planned switch at the next keyframe;\n"
               "                           INSTANCE: primary, backup, backupN or a number\n"
               "  --timeout SEC            how long they wait for the outcome (default 10;\n"
               "                           0: do not wait, print the request's number)\n"
               "  events [--follow]        recent events as JSON lines; --follow: until the run ends\n"
               "  steer STREAM/OUTPUT PATHWAY...   pin the order players are steered to the\n"
               "                           output's CDN pathways (the ones left out follow);\n"
               "                           --auto: give the order back to the risk rules\n"
               "  reload                   read the job file again, as SIGHUP does: unchanged\n"
               "                           streams run on untouched; a job with problems is\n"
               "                           refused (status 1, the problems on stderr)\n"
               "  drain                    a fleet node hands every stream it leads over to\n"
               "                           the other nodes, make before break (each starts\n"
               "                           warm there and takes over at a segment boundary),\n"
               "                           and takes no more\n"
               "  --fleet SETTINGS move STREAM NODE   ask the fleet (through its etcd) to move\n"
               "                           STREAM to NODE, make before break; waits until NODE\n"
               "                           leads it (--timeout, default 30 s)\n"
               "  --fleet SETTINGS place JOB.yaml [NAME]   place JOB's streams on the fleet\n"
               "                           (PREFIX/jobs/NAME, NAME: the file's name): nodes\n"
               "                           take them; waits until each is led (--timeout)\n"
               "  --fleet SETTINGS unplace NAME   remove a placed job: its streams end\n"
               "  stop [--now]             stop like SIGTERM; --now: exit at once (status 255)\n"
               "  drill COMPONENT [--json] a planned switch to the backup and back, with both\n"
               "                           switch times and the frames the stream's outputs\n"
               "                           lost (exit 0: both switched, none lost; else 1)\n\n"
               "Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 usage,\n"
               "3 no supervisor at that socket.\n",
    .exec    = ctl_exec,
};
