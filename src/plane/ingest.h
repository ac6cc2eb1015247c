/*
 * ingest.h: one ingest instance: reads one source of a stream (the primary
 * input or a backup) on its own thread and hands its packets to the input
 * stage (input.c), which decides which source the stream uses.
 *
 * Each instance keeps its own timeline: packets are rebased so that its
 * first packet is at 0 and a jump of its clock (a publisher restarting at
 * 0) is absorbed; the input stage maps that timeline onto the stream's.
 * File and lavfi sources can be paced at their native rate (realtime).
 *
 * Items go to the input stage's queue with index = 2 * instance + branch
 * (branch 0 video, 1 audio):
 *   TQ_PARAMS  each time the source is (re)opened: codec parameters and
 *              time base of the branch; a branch the source lacks is
 *              reported with a TQ_END instead
 *   TQ_PACKET  pkt->time_base set, timestamps on the instance's timeline
 *   TQ_END     the branch ended: the source ended or failed. While the
 *              instance's thread still runs (ingest_running) it is lost
 *              until its next TQ_PARAMS; when the thread has ended, it is
 *              over
 *
 * A live source (a network input) that fails or ends is lost, not over:
 * the instance opens it again after a back-off (0.5 s doubling to 10 s)
 * until the stream stops. A file or lavfi source that ends ends the
 * instance.
 */
#ifndef HS_INGEST_H
#define HS_INGEST_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/event.h"
#include "job/job.h"
#include "plane/stage.h"
#include "plane/tq.h"

typedef struct Ingest Ingest;

typedef struct IngestConfig {
    const JobStream *js;
    const char *component;       /* "input", "input.backup", "input.backup2" */
    const char *url;             /* may hold secrets */
    const char *format;          /* NULL: probe */
    AVDictionary *options;       /* not owned */
    int realtime;
    int64_t rw_timeout_us;
    int instance;                /* 0: the primary */
    int reconnect;               /* open again after a loss */
    int held;                    /* starts held: not read until ingest_hold(0) */
    ThreadQueue *q;              /* the input stage's; one of its senders */
    const _Atomic int *stop;     /* the run's graceful stop */
    EventLog *events;
} IngestConfig;

typedef struct IngestStats {
    int64_t packets;             /* read and passed on */
    int64_t bytes;
    int64_t last_packet_us;      /* av_gettime_relative() of the last one, 0: none */
    int64_t read_us_sum;         /* time spent waiting in av_read_frame */
    int64_t reads;
    int64_t gap_sum_us, gap_sq_sum_us2;  /* between packets, for the jitter */
    int64_t discontinuities;     /* timestamp jumps absorbed */
    int64_t errors;              /* failed opens and reads */
    int64_t reconnects;
    int up;                      /* open and reading now */
} IngestStats;

int ingest_alloc(Ingest **pin, const IngestConfig *cfg);
void ingest_free(Ingest **pin);

int ingest_start(Ingest *in);
int ingest_join(Ingest *in);

void ingest_stats(Ingest *in, IngestStats *st);

/* Is the instance's thread still going (a lost live source comes back)? */
int ingest_running(Ingest *in);

/* Stops the instance at once: a blocking read or a back-off is cut short.
 * The run's graceful stop is seen by the input stage, which aborts its
 * instances. Thread-safe. */
void ingest_abort(Ingest *in);

/* Held (1), the source is closed and not read, without a failure or a
 * back-off, and the input stage gets TQ_END for its branches (a blocking
 * open or read is cut short); let go (0), it is opened at once and read
 * again. The thread keeps running either way (prefetch: on_risk, input.c).
 * Called from the input stage's thread only. */
void ingest_hold(Ingest *in, int held);

#endif
