/*
 * ingest.h: the ingest stage: opens a stream's input, demuxes it, puts its
 * timestamps on the stream's timeline and feeds the decoders.
 *
 * The stream owns its timeline: packets leave ingest rebased so that the
 * input starts at 0 and never jumps (a publisher that restarts at 0 or a
 * clock step is absorbed here), in their input stream's time base. File and
 * lavfi inputs can be paced at their native rate (job: realtime).
 *
 * Each of the two output queues (video, audio) gets a TQ_PARAMS item with the
 * input stream's codec parameters, then TQ_PACKETs; a queue whose kind the
 * input lacks is ended without PARAMS. When a downstream queue closes (its
 * decoder reached the job's duration or died), ingest stops feeding it; when
 * both are closed, ingest ends. The first packet it passes on starts the
 * stream's clock (stage.h).
 */
#ifndef HS_INGEST_H
#define HS_INGEST_H

#include <stdatomic.h>
#include <stdint.h>

#include "event.h"
#include "job.h"
#include "stage.h"
#include "tq.h"

typedef struct Ingest Ingest;

typedef struct IngestStats {
    int64_t packets;             /* read and passed on */
    int64_t bytes;
    int64_t last_packet_us;      /* av_gettime_relative() of the last one, 0: none */
    int64_t discontinuities;     /* timestamp jumps absorbed */
} IngestStats;

/*
 * js: the stream (not owned, outlives the stage). video_q: not owned;
 * audio_q: not owned, NULL when the stream's audio is disabled. stop: the
 * run's graceful-stop flag (not owned): when set, ingest stops reading,
 * which ends the stream cleanly downstream.
 */
int ingest_alloc(Ingest **pin, const JobStream *js, ThreadQueue *video_q,
                 ThreadQueue *audio_q, StreamClock *clock, EventLog *events,
                 const _Atomic int *stop);
void ingest_free(Ingest **pin);

int ingest_start(Ingest *in);
int ingest_join(Ingest *in);

void ingest_stats(Ingest *in, IngestStats *st);

#endif
