/*
 * event.h: what happened to a component, for people and for programs.
 *
 * A failure never ends the process: it is an event naming the stream, the
 * component, the cause and the time. Every event is logged and, when the run
 * asks for it (--events FILE), appended to a JSON-lines file; later stages
 * (the data store, the orchestrator) read them as labels and triggers.
 * Messages are masked like log lines: no URL credentials or stream keys.
 */
#ifndef HS_EVENT_H
#define HS_EVENT_H

#include <stdint.h>

#include <libavutil/attributes.h>

typedef enum EventKind {
    EV_START,        /* a component is up (opened, connected) */
    EV_FAILURE,      /* a component failed; cause says why */
    EV_END,          /* a component or stream ended normally */
    EV_STREAM_FAILED,/* no output of a stream can go on: the stream ended */
    EV_WARNING,      /* something odd that did not fail anything */
    EV_SWITCH,       /* another instance (backup, primary) took over */
    EV_INFO,         /* recovered, first packet after a switch, ... */
    EV_PROVISIONED,  /* an instance is open ahead (ready); seq: the request's */
    EV_RELEASED,     /* an instance opened ahead is closed; seq: the request's */
    EV_REFUSED,      /* a request could not be carried out; cause says why */
    EV_RISK,         /* a component's risk went above provision_above, or
                        back below release_below (the orchestrator's) */
    EV_AVERTED,      /* the orchestrator switched a component away at high
                        risk and the switch was carried out: the failure
                        the model saw coming cannot be in the data, so its
                        ticks before are not labelled healthy (dataset.h) */
    EV_STEER,        /* the order in which viewers are steered to an
                        output's CDN pathways changed (fo/steering.h) */
    EV_FAULT,        /* a fault of the job's faults: struck (plane/fault.h):
                        what a drill measures detection from */
    EV_RELOAD,       /* the job was read again and applied (SIGHUP, ctl
                        reload); a new job that is refused is EV_REFUSED */
    EV_NB_KINDS
} EventKind;

typedef struct EventLog EventLog;

/* One event as delivered to a sink. The strings belong to the caller and
 * live only during the sink's call: a sink copies what it keeps. cause is
 * masked like the log (no URL credentials, no stream keys). */
typedef struct Event {
    int64_t time_us;             /* wall clock, UTC microseconds */
    const char *stream;
    const char *component;       /* "ingest", "enc:720p", "out:main", ... */
    EventKind kind;
    const char *cause;
    int error;                   /* the libav error behind it, 0 when none */
    uint32_t seq;                /* the request it answers (inst.h), 0 when none */
} Event;

/* Called for every event, in emission order, with the event log's lock
 * held: it must return quickly, must not block on I/O and must not emit
 * events itself (hand the event to a queue, as hds_event_sink does). */
typedef void (*EventSinkFn)(void *opaque, const Event *ev);

#define EVLOG_MAX_SINKS 4

/* path: JSON-lines file to append to, or NULL for the log alone. Returns 0
 * or a negative AVERROR (the file cannot be opened). */
int evlog_alloc(EventLog **pel, const char *path);
void evlog_free(EventLog **pel);

/* Records an event. err: the libav error behind a failure (0 when none).
 * Thread-safe; el may be NULL (the event is then only logged). */
void evlog_emit(EventLog *el, const char *stream, const char *component,
                EventKind kind, int err, const char *fmt, ...) av_printf_format(6, 7);

/* The same, answering the request seq (0: none): the JSON line carries
 * "seq". */
void evlog_emit_seq(EventLog *el, const char *stream, const char *component,
                    EventKind kind, int err, uint32_t seq, const char *fmt, ...)
    av_printf_format(7, 8);

/* Adds a sink (the historical data store, the control socket). Thread-safe.
 * Returns 0, or AVERROR(ENOSPC) past EVLOG_MAX_SINKS. */
int evlog_add_sink(EventLog *el, EventSinkFn fn, void *opaque);

/* Removes the sink added with fn and opaque: once this returns, it is not
 * being called and will not be again (a reload replaces the tick's). */
void evlog_remove_sink(EventLog *el, EventSinkFn fn, void *opaque);

/* Events of this kind emitted so far. */
int evlog_count(EventLog *el, EventKind kind);

const char *evlog_kind_name(EventKind kind);

#endif
