/*
 * hook.c: exec hooks, spawned in a process group of their own, read and
 * reaped from the caller's tick; see hook.h.
 *
 * The process is spawned with posix_spawnp (glibc's uses clone(CLONE_VM |
 * CLONE_VFORK): cheap from a process with a large address space, safe from
 * a threaded one, and it reports an exec failure such as a command not in
 * PATH as its return value). The group is signalled only while its leader
 * is unreaped: a zombie keeps its pid, so the group's number cannot have
 * been given to someone else's process by then. waitid(WNOWAIT) sees the
 * leader end without reaping it, the group is swept with SIGKILL, and only
 * then is the leader reaped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/bprint.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "core/comp.h"
#include "core/event.h"
#include "core/hookarg.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/units.h"
#include "dra/hook.h"

extern char **environ;

/* Read from a pipe per poll, at most: a hook writing without pause (`yes`)
 * must not keep the caller's tick in the loop; its pipe fills and it waits
 * for the next poll. */
#define READ_PER_POLL   (1024 * 1024)
/* A line of stderr in the event, at most. */
#define EVENT_LINE_MAX  200
/* dra_hook_run() sleeps on the pipes this long at most, so that it also
 * sees a leader that ended while a child it left still holds the pipes. */
#define RUN_SLEEP_MS    20

/* One captured stream: stdout keeps its end (the URL line is last), stderr
 * its beginning (the first line says why it failed). */
typedef struct Capture {
    int fd;                       /* the read end, -1 once at EOF */
    int keep_tail;
    size_t max;
    char *buf;                    /* len bytes and a NUL; grows up to max + 1 */
    unsigned size;                /* allocated, for av_fast_realloc */
    size_t len;
    int64_t dropped;
} Capture;

struct DraHook {
    LogCtx log;                   /* "news/enc:720p.backup" */
    char what[16];                /* "provision" */
    char stream[COMP_NAME_SIZE];
    char component[2 * COMP_NAME_SIZE];   /* the event's: "enc:720p.backup" */
    char *argv0;                  /* for messages: the command as expanded */
    char *url;                    /* res.url's string */
    char url_why[160];            /* res.url_error's string */
    EventLog *events;             /* borrowed */
    pid_t pid;                    /* the leader, also the group's number; 0
                                     once reaped or when never spawned */
    Capture out, err;
    int64_t start_us, deadline_us, grace_us, timeout_us;
    int64_t kill_at_us;           /* SIGTERM sent: SIGKILL at this time; 0 before */
    int64_t eof_by_us;            /* leader reaped: pipes given until then */
    int reaped, done;
    DraHookResult res;
};

/* ------------------------------------------------------------------------ */
/* Checking and expanding                                                   */

const char *dra_hook_check(char *const *argv, char *buf, size_t size)
{
    char msg[256];

    if (!argv || !argv[0]) {
        snprintf(buf, size, "the hook is empty: it needs a command and its arguments");
        return buf;
    }
    if (!argv[0][0]) {
        snprintf(buf, size, "the hook's command (argument 1) is empty");
        return buf;
    }
    for (int i = 0; argv[i]; i++) {
        if (hookarg_check(argv[i], msg, sizeof(msg)) < 0) {
            snprintf(buf, size, "argument %d: %s", i + 1, msg);
            return buf;
        }
    }
    return NULL;
}

static void free_argv(char ***pargv)
{
    char **argv = *pargv;

    for (int i = 0; argv && argv[i]; i++)
        av_free(argv[i]);
    av_freep(pargv);
}

/* *pargv: a new NULL-terminated argv, the caller's (free_argv). */
static int expand_argv(const DraHookArgs *a, char ***pargv)
{
    char component[COMP_NAME_SIZE * 2], instance[16], risk[32];
    const char *values[HOOKARG_NB_VARS];
    CompId whole = a->id;
    char **argv;
    int n = 0, ret;

    *pargv = NULL;
    whole.instance = COMP_WHOLE;
    if (comp_format(&whole, 0, component, sizeof(component)) < 0)
        return AVERROR(EINVAL);
    snprintf(instance, sizeof(instance), "%d", a->id.instance);
    snprintf(risk, sizeof(risk), "%.3f", a->risk);
    values[HOOKARG_STREAM]    = a->id.stream;
    values[HOOKARG_COMPONENT] = component;
    values[HOOKARG_INSTANCE]  = instance;
    values[HOOKARG_RISK]      = risk;

    while (a->argv[n])
        n++;
    argv = av_calloc(n + 1, sizeof(*argv));
    if (!argv)
        return AVERROR(ENOMEM);
    for (int i = 0; i < n; i++) {
        if ((ret = hookarg_expand(a->argv[i], values, &argv[i])) < 0) {
            free_argv(&argv);
            return ret;
        }
    }
    *pargv = argv;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

static void capture_add(Capture *c, const char *data, size_t n)
{
    size_t keep;
    char *buf;

    if (c->keep_tail) {
        /* only the last max bytes can stay: make room at the front */
        if (n > c->max) {
            c->dropped += n - c->max;
            data += n - c->max;
            n = c->max;
        }
        if (c->len + n > c->max) {
            size_t drop = c->len + n - c->max;
            memmove(c->buf, c->buf + drop, c->len - drop);
            c->len -= drop;
            c->dropped += drop;
        }
    }
    keep = FFMIN(n, c->max - c->len);
    if (keep) {
        buf = av_fast_realloc(c->buf, &c->size, c->len + keep + 1);
        if (!buf) {
            keep = 0;             /* counted as dropped: the run goes on */
        } else {
            c->buf = buf;
            memcpy(c->buf + c->len, data, keep);
            c->len += keep;
            c->buf[c->len] = 0;
        }
    }
    c->dropped += n - keep;
}

static void capture_close(Capture *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Reads what is there now, never waits (the fd is non-blocking). */
static void capture_drain(Capture *c)
{
    char chunk[16384];
    size_t total = 0;

    while (c->fd >= 0 && total < READ_PER_POLL) {
        ssize_t n = read(c->fd, chunk, sizeof(chunk));
        if (n > 0) {
            capture_add(c, chunk, n);
            total += n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            capture_close(c);     /* EOF, or an error that will not pass */
        }
    }
}

/* Is s (n bytes, no whitespace inside) "scheme://" and something? */
static int looks_like_url(const char *s, size_t n)
{
    size_t i = 0;

    if (!n || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
        return 0;
    while (i < n && (((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') || av_isdigit(s[i]) ||
                     s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    if (n - i <= 3 || memcmp(s + i, "://", 3))
        return 0;
    for (; i < n; i++)
        if (av_isspace(s[i]) || (unsigned char)s[i] < 0x20)
            return 0;
    return 1;
}

#define URL_KEY "url="

int dra_hook_parse_url(const char *out, size_t len, const char **url, size_t *url_len,
                       char *why, size_t why_size)
{
    const char *p = out, *end = out + len, *found = NULL;
    size_t found_len = 0;
    int line = 0, found_line = 0;

    *url = NULL;
    *url_len = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', end - p), *s = p, *e;
        if (!eol)
            eol = end;
        p = eol + (eol < end);
        line++;
        while (s < eol && av_isspace(*s))
            s++;
        if ((size_t)(eol - s) < strlen(URL_KEY) || memcmp(s, URL_KEY, strlen(URL_KEY)))
            continue;
        s += strlen(URL_KEY);
        e = eol;
        while (e > s && av_isspace(e[-1]))
            e--;
        while (s < e && av_isspace(*s))
            s++;
        if (found) {
            snprintf(why, why_size, "two url= lines (lines %d and %d): which backup is meant "
                     "is not clear", found_line, line);
            return AVERROR(EINVAL);
        }
        if (!looks_like_url(s, e - s)) {
            snprintf(why, why_size, "the url= line (line %d) is not a URL (scheme://...)", line);
            return AVERROR(EINVAL);
        }
        if ((size_t)(e - s) >= COMP_URL_SIZE) {
            snprintf(why, why_size, "the url= line (line %d) is %d bytes long, %d at most",
                     line, (int)(e - s), COMP_URL_SIZE - 1);
            return AVERROR(EINVAL);
        }
        found = s;
        found_len = e - s;
        found_line = line;
    }
    if (!found)
        return 0;
    *url = found;
    *url_len = found_len;
    return 1;
}

/* The first non-empty line of stderr, masked, cut at EVENT_LINE_MAX. */
static void first_line(const Capture *c, char *buf, size_t size)
{
    const char *s = c->buf ? c->buf : "", *e;
    char line[EVENT_LINE_MAX + 4];
    size_t n;

    while (*s && av_isspace(*s))
        s++;
    e = s + strcspn(s, "\r\n");
    n = FFMIN((size_t)(e - s), (size_t)EVENT_LINE_MAX);
    memcpy(line, s, n);
    line[n] = 0;
    if ((size_t)(e - s) > n)
        av_strlcat(line, "...", sizeof(line));
    log_mask(line, buf, size);
}

/* ------------------------------------------------------------------------ */
/* The process                                                              */

/* Secrets of the URL the hook gave (a stream key, a password) are masked
 * in every log line from now on, as the job's own URLs are. */
static void register_secret(void *opaque, const char *s, size_t len)
{
    char *dup = av_strndup(s, len);

    log_add_secret(dup);
    av_free(dup);
}

static int spawn(DraHook *h, char **argv)
{
    int out[2] = { -1, -1 }, err[2] = { -1, -1 };
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    pid_t pid;
    int ret;

    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
        ret = AVERROR(errno);
        goto end;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    /* our sockets, files and pipes are none of the hook's business, and a
     * descriptor it inherited could keep a connection of ours open */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_init(&at);
    /* a group of its own, so that the deadline reaches what it forked;
     * default signals and an empty mask, whatever our threads block or
     * ignore (SIGPIPE), as a command started from a shell would have */
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                  POSIX_SPAWN_SETSIGDEF);
    ret = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    if (ret) {
        ret = AVERROR(ret);
        goto end;
    }
    h->pid = pid;
    /* the reads never wait: the caller's tick polls them */
    fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
    fcntl(err[0], F_SETFL, fcntl(err[0], F_GETFL) | O_NONBLOCK);
    h->out.fd = out[0];
    h->err.fd = err[0];
    out[0] = err[0] = -1;
    ret = 0;
end:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (err[i] >= 0)
            close(err[i]);
    }
    return ret;
}

static void record_status(DraHook *h, int status)
{
    if (WIFEXITED(status)) {
        h->res.exit_status = WEXITSTATUS(status);
    } else {
        h->res.exit_status = -1;
        h->res.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
}

/* The leader ended (seen without reaping it): sweep its group, reap it. */
static void reap(DraHook *h, int64_t now_us)
{
    int status = 0, ret;

    kill(-h->pid, SIGKILL);
    while ((ret = waitpid(h->pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (ret == h->pid)
        record_status(h, status);
    h->pid = 0;
    h->reaped = 1;
    h->res.elapsed_us = now_us - h->start_us;
    /* the killed rest of the group closes the pipes at once; a process that
     * left the group (setsid) with our pipes is not waited for longer */
    h->eof_by_us = now_us + h->grace_us;
}

static int leader_ended(DraHook *h)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, h->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
        /* ECHILD: reaped behind our back (SIGCHLD ignored by someone):
         * ended all the same, or the run would never be done */
        return errno != EINTR;
    return si.si_pid == h->pid;
}

static void emit_event(DraHook *h)
{
    const DraHookResult *r = &h->res;
    char line[EVENT_LINE_MAX * 2], shown[512], took[32], dl[32];
    EventKind kind = r->ok && !r->url_error ? EV_INFO : EV_WARNING;
    AVBPrint bp;

    snprintf(took, sizeof(took), "%.2f s", r->elapsed_us / 1e6);
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_AUTOMATIC);
    if (r->error) {
        /* the reason is the event's error, which the log line appends */
        log_mask(h->argv0 ? h->argv0 : "", shown, sizeof(shown));
        av_bprintf(&bp, "%s hook could not start '%s'", h->what, shown);
    } else if (r->ok) {
        av_bprintf(&bp, "%s hook done in %s", h->what, took);
        if (r->url)
            av_bprintf(&bp, ", backup at %s", redact_url(r->url, shown, sizeof(shown)));
        else if (r->url_error)
            av_bprintf(&bp, ", but its URL is not used: %s", r->url_error);
    } else {
        if (r->timed_out)
            av_bprintf(&bp, "%s hook killed at its deadline after %s", h->what,
                       units_format_duration(h->timeout_us, dl, sizeof(dl)));
        else if (r->signal)
            av_bprintf(&bp, "%s hook ended by signal %d (%s) after %s", h->what,
                       r->signal, strsignal(r->signal), took);
        else
            av_bprintf(&bp, "%s hook failed with exit status %d after %s", h->what,
                       r->exit_status, took);
        first_line(&h->err, line, sizeof(line));
        if (line[0])
            av_bprintf(&bp, ": %s", line);
    }
    evlog_emit(h->events, h->stream, h->component, kind, r->error, "%s", bp.str);
    av_bprint_finalize(&bp, NULL);
}

/* Everything is in: the result, the URL, the event. */
static void finish(DraHook *h)
{
    DraHookResult *r = &h->res;

    capture_close(&h->out);
    capture_close(&h->err);
    r->ok = !r->error && !r->timed_out && !r->signal && r->exit_status == 0;
    r->out = h->out.buf ? h->out.buf : "";
    r->out_len = h->out.len;
    r->out_dropped = h->out.dropped;
    r->err = h->err.buf ? h->err.buf : "";
    r->err_len = h->err.len;
    r->err_dropped = h->err.dropped;
    if (r->ok) {
        const char *u;
        size_t n;
        int ret = dra_hook_parse_url(r->out, r->out_len, &u, &n, h->url_why, sizeof(h->url_why));
        if (ret < 0)
            r->url_error = h->url_why;
        else if (ret > 0 && !(h->url = av_strndup(u, n)))
            r->url_error = "no memory for its URL";
        if (h->url) {
            r->url = h->url;
            redact_url_secrets(r->url, register_secret, NULL);
        }
    }
    h->done = 1;
    emit_event(h);
}

/* ------------------------------------------------------------------------ */
/* The interface                                                            */

int dra_hook_start(DraHook **ph, const DraHookArgs *a, int64_t now_us)
{
    char why[320], name[COMP_NAME_SIZE * 3];
    char **argv = NULL;
    DraHook *h;
    int ret;

    *ph = NULL;
    if (dra_hook_check(a->argv, why, sizeof(why)) || a->timeout_us <= 0 ||
        comp_format(&a->id, 1, name, sizeof(name)) < 0)
        return AVERROR(EINVAL);
    if ((ret = expand_argv(a, &argv)) < 0)
        return ret;
    h = av_mallocz(sizeof(*h));
    if (!h || !(h->argv0 = av_strdup(argv[0]))) {
        av_free(h);
        free_argv(&argv);
        return AVERROR(ENOMEM);
    }
    logctx_init(&h->log, "%s", name);
    comp_format(&a->id, 0, h->component, sizeof(h->component));
    av_strlcpy(h->what, a->what ? a->what : "exec", sizeof(h->what));
    av_strlcpy(h->stream, a->id.stream, sizeof(h->stream));
    h->events = a->events;
    h->out = (Capture){ .fd = -1, .keep_tail = 1,
                        .max = a->max_output ? a->max_output : DRA_HOOK_MAX_OUTPUT };
    h->err = (Capture){ .fd = -1, .max = h->out.max };
    h->start_us = now_us;
    h->timeout_us = a->timeout_us;
    h->deadline_us = now_us + a->timeout_us;
    h->grace_us = a->grace_us > 0 ? a->grace_us : DRA_HOOK_GRACE_US;
    h->res.exit_status = -1;

    if ((ret = spawn(h, argv)) < 0) {
        /* a run that failed at once: done at the first poll, with its event */
        h->res.error = ret;
        h->reaped = 1;
    } else {
        av_log(h, AV_LOG_VERBOSE, "%s hook started: %s (pid %d, deadline %.1f s)\n",
               h->what, argv[0], (int)h->pid, a->timeout_us / 1e6);
    }
    free_argv(&argv);
    *ph = h;
    return 0;
}

int dra_hook_poll(DraHook *h, int64_t now_us)
{
    if (h->done)
        return 1;
    capture_drain(&h->out);
    capture_drain(&h->err);
    if (!h->reaped) {
        if (leader_ended(h)) {
            reap(h, now_us);
            /* what it wrote just before it ended */
            capture_drain(&h->out);
            capture_drain(&h->err);
        } else if (!h->kill_at_us && now_us >= h->deadline_us) {
            h->res.timed_out = 1;
            kill(-h->pid, SIGTERM);
            h->kill_at_us = now_us + h->grace_us;
            av_log(h, AV_LOG_VERBOSE, "%s hook at its deadline: SIGTERM to its group\n", h->what);
            return 0;
        } else if (h->kill_at_us && now_us >= h->kill_at_us) {
            kill(-h->pid, SIGKILL);
            h->kill_at_us = INT64_MAX;   /* sent; reaped at a next poll */
            return 0;
        } else {
            return 0;
        }
    }
    if ((h->out.fd >= 0 || h->err.fd >= 0) && now_us < h->eof_by_us)
        return 0;
    finish(h);
    return 1;
}

const DraHookResult *dra_hook_result(const DraHook *h)
{
    return h && h->done ? &h->res : NULL;
}

int dra_hook_run(DraHook **ph, const DraHookArgs *args)
{
    int ret = dra_hook_start(ph, args, av_gettime_relative());

    if (ret < 0)
        return ret;
    while (!dra_hook_poll(*ph, av_gettime_relative())) {
        struct pollfd fds[2];
        int n = 0;

        if ((*ph)->out.fd >= 0)
            fds[n++] = (struct pollfd){ .fd = (*ph)->out.fd, .events = POLLIN };
        if ((*ph)->err.fd >= 0)
            fds[n++] = (struct pollfd){ .fd = (*ph)->err.fd, .events = POLLIN };
        if (n)
            poll(fds, n, RUN_SLEEP_MS);
        else
            av_usleep(RUN_SLEEP_MS * 1000);
    }
    return 0;
}

void dra_hook_free(DraHook **ph)
{
    DraHook *h = *ph;

    if (!h)
        return;
    if (h->pid > 0) {
        int status;
        /* cancelled while it runs: nothing of it may stay behind */
        kill(-h->pid, SIGKILL);
        while (waitpid(h->pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    /* every run has its event, also one given up before it was done */
    if (!h->done)
        evlog_emit(h->events, h->stream, h->component, EV_WARNING, h->res.error,
                   "%s hook cancelled before it was done", h->what);
    capture_close(&h->out);
    capture_close(&h->err);
    av_free(h->out.buf);
    av_free(h->err.buf);
    av_free(h->argv0);
    av_free(h->url);
    av_freep(ph);
}
