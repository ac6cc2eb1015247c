/*
 * progress.h: run progress for programs (--progress, ffmpeg-compatible
 * key=value blocks) and for people (one status line on a terminal).
 *
 * A block per stream every period, in ffmpeg -progress's keys and formats
 * (frame, fps, stream_0_0_q, bitrate, total_size, out_time_us, out_time_ms,
 * out_time, dup_frames, drop_frames, speed, progress=continue|end), each
 * block opened by a stream=NAME line so that one file serves a job of
 * several streams. Tools that parse ffmpeg's progress read it unchanged.
 */
#ifndef HS_PROGRESS_H
#define HS_PROGRESS_H

#include <stdint.h>

#include "plane/pipeline.h"

typedef struct Progress Progress;

/* path: a file, "-" for stdout, or NULL for none. status_line: show a
 * status line on stderr when it is a terminal. */
int progress_alloc(Progress **pp, const char *path, int status_line);
void progress_free(Progress **pp);

/* Reports every pipeline; last: this is the final report (progress=end). */
void progress_report(Progress *pg, Pipeline **pl, int nb, int64_t elapsed_us, int last);

#endif
