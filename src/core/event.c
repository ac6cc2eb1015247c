/*
 * event.c: component events to the log and to a JSON-lines file; see
 * event.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "core/event.h"
#include "core/log.h"

#define NB_KINDS EV_NB_KINDS

struct EventLog {
    LogCtx log;
    pthread_mutex_t lock;
    FILE *file;                  /* protected by lock */
    int counts[NB_KINDS];        /* protected by lock */
    /* protected by lock: a reload replaces the tick's sinks while
     * the streams emit */
    struct { EventSinkFn fn; void *opaque; } sinks[EVLOG_MAX_SINKS];
    int nb_sinks;
};

static const char *const kind_names[NB_KINDS] = {
    [EV_START]         = "start",
    [EV_FAILURE]       = "failure",
    [EV_END]           = "end",
    [EV_STREAM_FAILED] = "stream_failed",
    [EV_WARNING]       = "warning",
    [EV_SWITCH]        = "switch",
    [EV_INFO]          = "info",
    [EV_PROVISIONED]   = "provisioned",
    [EV_RELEASED]      = "released",
    [EV_REFUSED]       = "refused",
    [EV_RISK]          = "risk",
    [EV_AVERTED]       = "averted",
    [EV_STEER]         = "steer",
    [EV_FAULT]         = "fault",
    [EV_RELOAD]        = "reload",
};

const char *evlog_kind_name(EventKind kind)
{
    return (unsigned)kind < NB_KINDS ? kind_names[kind] : "unknown";
}

int evlog_alloc(EventLog **pel, const char *path)
{
    EventLog *el = av_mallocz(sizeof(*el));

    *pel = NULL;
    if (!el)
        return AVERROR(ENOMEM);
    logctx_init(&el->log, "events");
    pthread_mutex_init(&el->lock, NULL);
    if (path) {
        el->file = fopen(path, "a");
        if (!el->file) {
            int ret = AVERROR(errno);
            evlog_free(&el);
            return ret;
        }
        setvbuf(el->file, NULL, _IOLBF, 0);
    }
    *pel = el;
    return 0;
}

void evlog_free(EventLog **pel)
{
    EventLog *el = *pel;

    if (!el)
        return;
    if (el->file)
        fclose(el->file);
    pthread_mutex_destroy(&el->lock);
    av_freep(pel);
}

static void json_string(AVBPrint *bp, const char *s)
{
    av_bprint_chars(bp, '"', 1);
    for (; *s; s++) {
        unsigned char c = *s;
        if (c == '"' || c == '\\')
            av_bprintf(bp, "\\%c", c);
        else if (c == '\n')
            av_bprintf(bp, "\\n");
        else if (c < 0x20)
            av_bprintf(bp, "\\u%04x", c);
        else
            av_bprint_chars(bp, c, 1);
    }
    av_bprint_chars(bp, '"', 1);
}

int evlog_add_sink(EventLog *el, EventSinkFn fn, void *opaque)
{
    int ret = 0;

    pthread_mutex_lock(&el->lock);
    if (el->nb_sinks >= EVLOG_MAX_SINKS) {
        ret = AVERROR(ENOSPC);
    } else {
        el->sinks[el->nb_sinks].fn = fn;
        el->sinks[el->nb_sinks].opaque = opaque;
        el->nb_sinks++;
    }
    pthread_mutex_unlock(&el->lock);
    return ret;
}

void evlog_remove_sink(EventLog *el, EventSinkFn fn, void *opaque)
{
    if (!el)
        return;
    pthread_mutex_lock(&el->lock);
    for (int i = 0; i < el->nb_sinks; i++) {
        if (el->sinks[i].fn == fn && el->sinks[i].opaque == opaque) {
            memmove(&el->sinks[i], &el->sinks[i + 1], (el->nb_sinks - i - 1) * sizeof(el->sinks[0]));
            el->nb_sinks--;
            break;
        }
    }
    pthread_mutex_unlock(&el->lock);
}

static void emit(EventLog *el, const char *stream, const char *component,
                 EventKind kind, int err, uint32_t seq, const char *raw)
{
    char msg[1024];
    struct timespec ts;
    int level;

    log_mask(raw, msg, sizeof(msg));

    level = kind == EV_FAILURE || kind == EV_STREAM_FAILED ? AV_LOG_ERROR :
            kind == EV_WARNING ? AV_LOG_WARNING : AV_LOG_INFO;
    {
        LogCtx lc;
        logctx_init(&lc, "%s/%s", stream, component);
        if (seq)
            av_log(&lc, level, "%s (request %u): %s%s%s\n", evlog_kind_name(kind),
                   (unsigned)seq, msg, err ? ": " : "", err ? av_err2str(err) : "");
        else
            av_log(&lc, level, "%s: %s%s%s\n", evlog_kind_name(kind), msg,
                   err ? ": " : "", err ? av_err2str(err) : "");
    }

    if (!el)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&el->lock);
    if ((unsigned)kind < NB_KINDS)
        el->counts[kind]++;
    /* under the lock: sinks see events in the order of the file */
    for (int i = 0; i < el->nb_sinks; i++) {
        Event ev = {
            .time_us   = ts.tv_sec * INT64_C(1000000) + ts.tv_nsec / 1000,
            .stream    = stream,
            .component = component,
            .kind      = kind,
            .cause     = msg,
            .error     = err,
            .seq       = seq,
        };
        el->sinks[i].fn(el->sinks[i].opaque, &ev);
    }
    if (el->file) {
        AVBPrint bp;
        struct tm tm;
        char when[40];

        gmtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
        av_bprintf(&bp, "{\"time\":\"%s.%03ldZ\",\"mono_us\":%lld,\"stream\":", when,
                   ts.tv_nsec / 1000000, (long long)av_gettime_relative());
        json_string(&bp, stream);
        av_bprintf(&bp, ",\"component\":");
        json_string(&bp, component);
        av_bprintf(&bp, ",\"kind\":\"%s\",\"cause\":", evlog_kind_name(kind));
        json_string(&bp, msg);
        if (seq)
            av_bprintf(&bp, ",\"seq\":%u", (unsigned)seq);
        if (err) {
            av_bprintf(&bp, ",\"error\":%d,\"error_text\":", err);
            json_string(&bp, av_err2str(err));
        }
        av_bprintf(&bp, "}\n");
        if (av_bprint_is_complete(&bp))
            fputs(bp.str, el->file);
        av_bprint_finalize(&bp, NULL);
    }
    pthread_mutex_unlock(&el->lock);
}

void evlog_emit(EventLog *el, const char *stream, const char *component,
                EventKind kind, int err, const char *fmt, ...)
{
    char raw[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    emit(el, stream, component, kind, err, 0, raw);
}

void evlog_emit_seq(EventLog *el, const char *stream, const char *component,
                    EventKind kind, int err, uint32_t seq, const char *fmt, ...)
{
    char raw[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    emit(el, stream, component, kind, err, seq, raw);
}

int evlog_count(EventLog *el, EventKind kind)
{
    int n;

    if (!el || (unsigned)kind >= NB_KINDS)
        return 0;
    pthread_mutex_lock(&el->lock);
    n = el->counts[kind];
    pthread_mutex_unlock(&el->lock);
    return n;
}
