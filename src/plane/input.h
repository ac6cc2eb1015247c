/*
 * input.h: the input stage: the sources of a stream (its input and the
 * backups), one of which feeds the decoders, switched without a gap.
 *
 * Every source is read by its own ingest instance (ingest.h), all the time:
 * the one in use feeds the decoders, the others are read ahead and keep
 * their last two GOPs of packets (with the time each arrived). When the
 * source in use is lost (no packet for the input's loss_timeout, an error,
 * the end of a live source) or its content fails (black, frozen or silent
 * for the input's probes: durations), the first other source that is up
 * takes over: its buffered packets from the keyframe before the moment the
 * lost one stopped are decoded, and its timeline is mapped onto the
 * stream's so that the stream goes on where it stopped, without a jump (the
 * decoders drop what overlaps and fill what is missing: decode.h). When no
 * source is up, the decoders repeat the last frame and play silence until
 * one comes back.
 *
 * A lost live source is opened again by its instance; once the primary has
 * been up for the stream's switch_back time it takes over again at its next
 * keyframe (a planned switch). Drills (switch, switch_back) do the same on
 * request.
 */
#ifndef HS_INPUT_H
#define HS_INPUT_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/event.h"
#include "plane/ingest.h"
#include "job/job.h"
#include "plane/stage.h"
#include "plane/tq.h"

typedef struct Input Input;

/* video_q, audio_q (NULL when the stream has no audio), clock, stop: not
 * owned. */
int input_alloc(Input **pin, const JobStream *js, ThreadQueue *video_q, ThreadQueue *audio_q,
                StreamClock *clock, EventLog *events, const _Atomic int *stop);
void input_free(Input **pin);

/* Starts the ingest instances and the stage. */
int input_start(Input *in);

/* Joins everything; < 0 when the stream's input failed for good (no source
 * at all could be read). */
int input_join(Input *in);

/* Are the stage and every ingest instance done? */
int input_finished(Input *in);

/* Stops this stream's input as the run's stop flag would (a reload takes
 * the stream away): the stream unwinds and its outputs finish. Thread-safe. */
void input_stop(Input *in);

/* The sources: their number, their figures, which one is in use (-1: none). */
int input_nb_sources(const Input *in);
void input_source_stats(Input *in, int i, IngestStats *st);
int input_active(Input *in);

/* A content probe saw the source in use fail (black, freeze, silence):
 * what says which. Thread-safe; acted on within 10 ms. */
void input_content_failure(Input *in, const char *what);

/* Requests (a planned switch to a source) go to the input's mailbox
 * (stage_post on its Stage, the struct's first member); see plane/inst.h. */

#endif
