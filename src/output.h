/*
 * output.h: the output stage: one muxer (packager) per job output.
 *
 * Its queue is fed by every encoder the output carries: the video
 * renditions it names (inputs 0..n-1, in the job's order) and the stream's
 * audio (input n, when the stream has audio). It waits for each input's
 * TQ_PARAMS (or TQ_END: that input is absent, e.g. its encoder failed to
 * open) before it writes the header, holding early packets meanwhile.
 *
 * Every blocking call (open, header, write, trailer) runs under the
 * output's rw_timeout deadline. A failure (peer refused, peer gone, disk
 * full) is an event; the output then closes its queue, so the encoders stop
 * feeding it and the rest of the stream goes on. The trailer is written
 * whenever a header was: HLS playlists get ENDLIST, MP4 its moov.
 *
 * HLS with several renditions writes a multivariant playlist at the job's
 * url and one media playlist per rendition beside it (NAME.m3u8, segments
 * NAME_00001.ts), each variant with its own copy of the audio.
 */
#ifndef HS_OUTPUT_H
#define HS_OUTPUT_H

#include <stdint.h>

#include "event.h"
#include "job.h"
#include "tq.h"

typedef struct Output Output;

typedef struct OutputStats {
    int64_t packets;
    int64_t bytes;               /* packet payload written */
    int64_t last_pts_us;         /* media time of the newest packet written */
    int64_t write_us_last;       /* duration of the last write call */
    int64_t write_us_max;
    int opened;                  /* header written */
} OutputStats;

/* Inputs of an output: its renditions' encoders, then audio if has_audio. */
int output_nb_inputs(const JobOutput *jo, int has_audio);

/* jo, js, in: not owned. A graceful stop does not abort an output: it ends
 * when its inputs end, after its trailer. */
int output_alloc(Output **pout, const JobStream *js, const JobOutput *jo, int has_audio,
                 ThreadQueue *in, EventLog *events);
void output_free(Output **pout);

/* Does this output's format take codec headers out of band? */
int output_wants_global_header(const JobOutput *jo);

int output_start(Output *out);
int output_join(Output *out);
void output_stats(Output *out, OutputStats *st);

#endif
