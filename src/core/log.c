/*
 * log.c: the one log callback for hotspare and libav; see log.h.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/log.h>

#include "core/log.h"
#include "core/redact.h"

#define LOG_LINE_MAX 4096
#define LOG_MAX_SECRETS 256
/* Shorter strings are not masked in free text: they would hit ordinary
 * words ("main", "backup" as stream keys in a test). URLs in log lines are
 * redacted by pattern whatever their secrets' length. */
#define LOG_SECRET_MIN 8

static _Thread_local char tl_component[64];
static _Thread_local int tl_quiet_libav;     /* log_quiet_libav() */

/* Everything below is protected by log_lock. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char *secrets[LOG_MAX_SECRETS];
static int nb_secrets;
static char status_line[512];
static int status_shown;          /* the status line is on the terminal now */
static int stderr_tty = -1;       /* -1: not asked yet */
static char partial[LOG_LINE_MAX]; /* a line libav printed in pieces */
static int partial_len;
static int partial_level;
static char partial_prefix[160];

static const struct { const char *name; int level; } levels[] = {
    { "quiet",   AV_LOG_QUIET   },
    { "panic",   AV_LOG_PANIC   },
    { "fatal",   AV_LOG_FATAL   },
    { "error",   AV_LOG_ERROR   },
    { "warning", AV_LOG_WARNING },
    { "info",    AV_LOG_INFO    },
    { "verbose", AV_LOG_VERBOSE },
    { "debug",   AV_LOG_DEBUG   },
    { "trace",   AV_LOG_TRACE   },
};

int log_parse_level(const char *s)
{
    char *end;
    long v;

    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (!strcasecmp(s, levels[i].name))
            return levels[i].level;
    if (!strcasecmp(s, "warn"))
        return AV_LOG_WARNING;
    v = strtol(s, &end, 10);
    if (*s && !*end && v >= AV_LOG_QUIET && v <= AV_LOG_TRACE)
        return (int)v;
    return LOG_LEVEL_INVALID;
}

static const char *level_tag(int level)
{
    if (level <= AV_LOG_FATAL)   return "fatal";
    if (level <= AV_LOG_ERROR)   return "error";
    if (level <= AV_LOG_WARNING) return "warn ";
    if (level <= AV_LOG_INFO)    return "info ";
    if (level <= AV_LOG_VERBOSE) return "verb ";
    if (level <= AV_LOG_DEBUG)   return "debug";
    return "trace";
}

static const char *logctx_item_name(void *ctx)
{
    return ((LogCtx *)ctx)->name;
}

static const AVClass logctx_class = {
    .class_name = "hotspare",
    .item_name  = logctx_item_name,
    .version    = LIBAVUTIL_VERSION_INT,
};

void logctx_init(LogCtx *l, const char *fmt, ...)
{
    va_list ap;

    l->class = &logctx_class;
    va_start(ap, fmt);
    vsnprintf(l->name, sizeof(l->name), fmt, ap);
    va_end(ap);
}

void log_set_component(const char *name)
{
    size_t len;

    av_strlcpy(tl_component, name ? name : "", sizeof(tl_component));
    len = strlen(tl_component);
    /* thread names are 15 characters at most: keep the specific end */
    pthread_setname_np(pthread_self(), tl_component + (len > 15 ? len - 15 : 0));
}

void log_add_secret(const char *secret)
{
    if (!secret || strlen(secret) < LOG_SECRET_MIN)
        return;
    pthread_mutex_lock(&log_lock);
    for (int i = 0; i < nb_secrets; i++)
        if (!strcmp(secrets[i], secret))
            goto out;
    if (nb_secrets < LOG_MAX_SECRETS) {
        char *dup = strdup(secret);
        if (dup)
            secrets[nb_secrets++] = dup;
    }
out:
    pthread_mutex_unlock(&log_lock);
}

/* Masks secrets in place; buf holds a NUL-terminated string of size bytes. */
static void mask_secrets_locked(char *buf, size_t size)
{
    for (int i = 0; i < nb_secrets; i++) {
        size_t slen = strlen(secrets[i]);
        char *hit;
        while ((hit = strstr(buf, secrets[i]))) {
            size_t tail = strlen(hit + slen) + 1;
            /* "****" is never longer than a secret (>= LOG_SECRET_MIN) */
            memcpy(hit, "****", 4);
            memmove(hit + 4, hit + slen, tail);
        }
    }
    (void)size;
}

void log_mask(const char *text, char *buf, size_t size)
{
    redact_text(text, buf, size);
    pthread_mutex_lock(&log_lock);
    mask_secrets_locked(buf, size);
    pthread_mutex_unlock(&log_lock);
}

static int is_tty_locked(void)
{
    if (stderr_tty < 0)
        stderr_tty = isatty(STDERR_FILENO);
    return stderr_tty;
}

void log_status(const char *line)
{
    pthread_mutex_lock(&log_lock);
    if (is_tty_locked()) {
        av_strlcpy(status_line, line ? line : "", sizeof(status_line));
        fprintf(stderr, "\r%s\033[K", status_line);
        status_shown = status_line[0] != 0;
        fflush(stderr);
    }
    pthread_mutex_unlock(&log_lock);
}

/* Name of the context: ours say "stream/component", libav's get the
 * component of the thread in front ("news/enc:720p libx264"). */
static void context_name(void *avcl, char *buf, size_t size)
{
    AVClass *cls = avcl ? *(AVClass **)avcl : NULL;
    const char *comp = tl_component;
    const char *item = cls && cls->item_name ? cls->item_name(avcl) : NULL;

    if (cls && !strcmp(cls->class_name, "hotspare")) {
        snprintf(buf, size, "%s", item ? item : "");
    } else if (item && *comp) {
        snprintf(buf, size, "%s %s", comp, item);
    } else if (item) {
        snprintf(buf, size, "%s", item);
    } else {
        snprintf(buf, size, "%s", comp);
    }
}

static void emit_locked(int level, const char *prefix, const char *msg)
{
    char masked[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;

    redact_text(msg, masked, sizeof(masked));
    mask_secrets_locked(masked, sizeof(masked));

    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    if (status_shown)
        fputs("\r\033[K", stderr);
    fprintf(stderr, "%02d:%02d:%02d.%03ld %s %s%s%s%s", tm.tm_hour, tm.tm_min,
            tm.tm_sec, ts.tv_nsec / 1000000, level_tag(level),
            *prefix ? "[" : "", prefix, *prefix ? "] " : "", masked);
    if (status_shown)
        fprintf(stderr, "%s\033[K", status_line);
    fflush(stderr);
}

static void log_callback(void *avcl, int level, const char *fmt, va_list vl)
{
    char msg[LOG_LINE_MAX];
    char prefix[160];
    int n;

    /* libav's own info lines (segment opened, encoder statistics) are
     * detail for a supervisor that runs for days: shown from -v verbose */
    if (level == AV_LOG_INFO && avcl && strcmp((*(AVClass **)avcl)->class_name, "hotspare"))
        level = AV_LOG_VERBOSE;
    /* a caller that reports libav's errors itself asked for quiet */
    if (tl_quiet_libav && level > AV_LOG_FATAL && level < AV_LOG_VERBOSE && avcl &&
        strcmp((*(AVClass **)avcl)->class_name, "hotspare"))
        level = AV_LOG_VERBOSE;
    if (level > av_log_get_level())
        return;
    n = vsnprintf(msg, sizeof(msg), fmt, vl);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(msg)) {
        n = sizeof(msg) - 2;
        msg[n++] = '\n';
        msg[n] = 0;
    }
    context_name(avcl, prefix, sizeof(prefix));

    pthread_mutex_lock(&log_lock);
    /* libav sometimes prints one line in several calls: collect the pieces
     * until the newline, so that each line gets one prefix. Pieces from
     * different threads interleave rarely; they are flushed as they come. */
    if (partial_len && (strcmp(prefix, partial_prefix) || n == 0)) {
        partial[partial_len++] = '\n';
        partial[partial_len] = 0;
        emit_locked(partial_level, partial_prefix, partial);
        partial_len = 0;
    }
    if (n && msg[n - 1] != '\n') {
        int room = (int)sizeof(partial) - 2 - partial_len;
        if (!partial_len) {
            av_strlcpy(partial_prefix, prefix, sizeof(partial_prefix));
            partial_level = level;
        }
        if (n > room)
            n = room;
        memcpy(partial + partial_len, msg, n);
        partial_len += n;
        partial[partial_len] = 0;
    } else if (partial_len) {
        int room = (int)sizeof(partial) - 1 - partial_len;
        if (n > room)
            n = room;
        memcpy(partial + partial_len, msg, n);
        partial_len += n;
        partial[partial_len] = 0;
        emit_locked(partial_level, partial_prefix, partial);
        partial_len = 0;
    } else if (n) {
        emit_locked(level, prefix, msg);
    }
    pthread_mutex_unlock(&log_lock);
}

void log_init(int level)
{
    av_log_set_level(level);
    av_log_set_callback(log_callback);
}

void log_quiet_libav(int quiet)
{
    tl_quiet_libav = quiet;
}
