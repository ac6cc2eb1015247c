/*
 * stage.h: what every stage thread of the data plane has in common.
 *
 * A stage is one component instance of a stream (ingest, decoder, ladder,
 * encoder, output) running on its own thread and talking to its neighbours
 * only through queues (tq.h). Each stage struct begins with a Stage, which
 * begins with a LogCtx, so av_log(stage, ...) names "stream/component".
 *
 * Lifecycle: the module's x_alloc() fills the Stage with stage_init(),
 * stage_start() runs the module's thread function, stage_join() waits and
 * returns what it returned (0: ended normally, < 0: failed), the module's
 * x_free() frees it (after a join).
 */
#ifndef HS_STAGE_H
#define HS_STAGE_H

#include <pthread.h>
#include <stdatomic.h>

#include <libavutil/rational.h>

#include "core/event.h"
#include "core/log.h"
#include "plane/inst.h"

typedef enum StageState {
    STAGE_IDLE,          /* allocated, thread not started */
    STAGE_RUNNING,
    STAGE_DONE,          /* ended normally */
    STAGE_FAILED,        /* ended on a failure (an event says why) */
} StageState;

/*
 * The stream's clock: media time 0 of the stream timeline happened at
 * origin_us (av_gettime_relative), set by the first packet ingest passes on.
 * For a live stream, media time runs with the wall clock from there on, so
 * a component's lag behind real time is (now - origin) - media time.
 */
typedef struct StreamClock {
    _Atomic int64_t origin_us;   /* 0 until the first packet */
    int live;                    /* realtime or network input */
    int64_t latency_budget_us;   /* 0: none */
    /* Epoch lock (README, "Fleet"): media time 0 is this Unix time (us),
     * a whole number of frames from 1970, set by ingest before the first
     * packet goes on (0 until then, or never when not locked). The
     * encoders put keyframes on the GOP grid of that clock and the
     * outputs write Unix time: every node that runs the stream writes
     * the same timestamps, keyframes and segments. The rest of the
     * pipeline keeps media time from 0. */
    int epoch_lock;
    _Atomic int64_t epoch_us;
} StreamClock;

/* The Unix time (us) of the frame-rate grid point at or before unix_us:
 * a whole number of frames of rate fr from 1970 (25 fps: whole 40 ms;
 * 30000/1001: rounded to the microsecond, the frame count exact). */
int64_t clock_epoch_grid(int64_t unix_us, AVRational fr);

/* Lag behind real time of an item at media time t_us; 0 when the stream
 * is not live or has not started. */
int64_t clock_lag(const StreamClock *c, int64_t t_us);

/* Requests that may wait for a stage's thread; one more is refused. */
#define STAGE_MAILBOX 16

typedef struct Stage {
    LogCtx log;                  /* "news/enc:720p"; first member */
    char stream[40];             /* "news" */
    char component[48];          /* "enc:720p" */
    EventLog *events;            /* not owned */
    int (*run)(void *stage);     /* the thread function */
    pthread_t thread;
    int started;                 /* owner thread only */
    int result;                  /* written by the thread, read after join */
    _Atomic int state;           /* StageState */

    /* The mailbox and the published status, both guarded by lock; the
     * owner thread holds it only to copy, never while it blocks. */
    pthread_mutex_t lock;
    CompRequest mail[STAGE_MAILBOX];
    int mail_head, nb_mail;
    CompStatus status;
} Stage;

void stage_init(Stage *s, const char *stream, const char *component,
                EventLog *events, int (*run)(void *stage));

int stage_start(Stage *s);

/* Joins the thread (if started) and returns its result. */
int stage_join(Stage *s);

StageState stage_state(const Stage *s);

/* Frees what stage_init allocated (the lock). */
void stage_uninit(Stage *s);

/* Any thread: queues req (copied) for the stage's thread, in order (the
 * stages poll their mailbox: inputs and outputs every 5 ms, encoders at
 * each frame and every 20 ms). Returns 0, AVERROR(EAGAIN) when
 * STAGE_MAILBOX requests wait already, AVERROR(ENODEV) when the thread has
 * ended. Never blocks. */
int stage_post(Stage *s, const CompRequest *req);

/* The stage's own thread: the oldest request into req; returns 1, or 0
 * when none waits. */
int stage_take(Stage *s, CompRequest *req);

/* The stage's own thread: publishes st (copied; pending is filled in). */
void stage_publish(Stage *s, const CompStatus *st);

/* The stage's own thread: the heartbeat. busy 1: it starts work on an item
 * now; 0: it is done and waits. */
void stage_beat(Stage *s, int busy);

/* Any thread: a copy of what the stage last published. */
void stage_status(Stage *s, CompStatus *st);

/* Records a failure event for this stage; returns err for chaining. */
int stage_fail(Stage *s, int err, const char *fmt, ...) av_printf_format(3, 4);

/* Records an informational event (start, end) for this stage. */
void stage_event(Stage *s, EventKind kind, const char *fmt, ...) av_printf_format(3, 4);

#endif
