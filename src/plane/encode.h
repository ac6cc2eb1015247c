/*
 * encode.h: the encoder stage: one per video rendition (a primary encoder
 * and, when the job gives one, a standby), one for the stream's audio.
 *
 * An encoder opens on the first TQ_PARAMS (the exact size, format and rate
 * the ladder produces; codec.h) and sends its own TQ_PARAMS (codec
 * parameters) to every output it feeds, then packets. Video packets leave in
 * ENC_OUT_TB with strictly increasing DTS, keyframes forced on GOP
 * boundaries of the stream timeline so renditions stay aligned whatever
 * encoder produced them.
 *
 * Zero loss on an encoder failure (an error from libav, a fault, or a live
 * encoder falling behind real time past the latency budget): the stage
 * keeps a reference to every frame sent to the encoder in use until that
 * frame's packet has been passed on, and passes packets on only at points
 * where every earlier frame (in presentation order) is out. When the
 * encoder fails, its packets held back are dropped and the frames not yet
 * passed on go to the standby, the first as an IDR: the outputs see one
 * continuous stream, at worst with new codec parameters, which they mark
 * (HLS discontinuity, FLV sequence header). The standby is opened ahead
 * (standby: always, or a provision request) or on the spot.
 *
 * Planned switches (drills, switching back to a primary that has been open
 * again for switch_back) happen at a GOP boundary: the encoder in use is
 * flushed, the other starts there with an IDR.
 *
 * A hot standby (standby_mode: hot, or a provision request with hot set)
 * is given every frame the encoder in use gets, from a GOP boundary on, on
 * a worker of its own (it encodes in parallel, and a hang of either does
 * not stop the other); both get a forced IDR on the first frame of every
 * GOP. Its packets are kept from the first frame not passed on, and the
 * encoder in use's are passed on a GOP at a time, once the GOP's last
 * frame is out: a failover (or a planned switch) then splices at the IDR
 * of the first GOP not passed on, with the standby's own packets from
 * there; nothing is encoded again, so there is no burst of encoding, and
 * no flush wait. The cost: twice the encoding, and one GOP of delay on the
 * rendition. A standby that is not hot, or has not every frame from that
 * IDR (it became hot since), takes over the warm way above.
 *
 * An encoder that cannot open and has no standby is a failure event: it
 * sends TQ_END to its outputs, which go on without it.
 */
#ifndef HS_ENCODE_H
#define HS_ENCODE_H

#include <stdint.h>

#include "core/event.h"
#include "job/job.h"
#include "plane/probe.h"
#include "plane/stage.h"
#include "plane/tq.h"

/* Video packets leave the encoder stage in this time base: fine enough to
 * keep DTS increasing across a splice between encoders of different
 * delays without moving any frame by a visible amount. */
#define ENC_OUT_TB ((AVRational){ 1, 90000 })

typedef struct Encoder Encoder;

typedef struct EncoderStats {
    int64_t frames_in;
    int64_t packets_out;
    int64_t bytes_out;
    int64_t dropped;             /* frames refused for non-increasing pts */
    int64_t errors;              /* encoder failures (any instance) */
    int64_t switches;
    int64_t last_pts_us;         /* of the last packet, stream timeline */
    int quality;                 /* last packet's QP * FF_QP2LAMBDA, -1 unknown */
    int active;                  /* 0 primary, 1 standby, -1 none */
    int queue_depth;             /* frames waiting for this stage */
    double target_fps;           /* 0 when unknown */
    int64_t standby_frames;      /* frames given to a hot standby: its cost */
    int64_t standby_busy_us;     /* time its encode calls took (its worker's) */
    int64_t behind_us;           /* how far behind real time its latest frame
                                    was (live streams with a latency budget) */
    int64_t budget_us;           /* the stream's latency budget, 0: none */
    int64_t busy_us;             /* time its thread spent on frames (encoding,
                                    handing packets on), not waiting for one */
} EncoderStats;

/* A video encoder for jr, or the audio encoder for ja (exactly one non-NULL;
 * both not owned, as js, in and clock). content_fail: for the audio
 * encoder, called (on its thread) when the input's silence probe sees a
 * failure; NULL for none. */
int enc_alloc(Encoder **penc, const JobStream *js, const JobRendition *jr,
              const JobAudio *ja, ThreadQueue *in, const StreamClock *clock,
              ProbeFailure content_fail, void *opaque, EventLog *events);
void enc_free(Encoder **penc);

/* Adds an output queue (not owned) fed with this encoder's packets as input
 * number index of that output. global_header: the output's format wants
 * codec headers out of band (mp4, flv, HLS). Before enc_start() only. */
int enc_add_output(Encoder *enc, ThreadQueue *q, int index, int global_header);

int enc_start(Encoder *enc);
int enc_join(Encoder *enc);

void enc_stats(Encoder *enc, EncoderStats *st);

/* Median and 99th percentile of the time from a frame sent to its packet,
 * over the frames encoded since the previous call (0 when none); for the
 * one sampler that reads them every tick. */
void enc_take_latency(Encoder *enc, int64_t *p50_us, int64_t *p99_us);

/* Requests (provision or release the standby, a planned switch at the
 * next GOP boundary) go to the encoder's mailbox (stage_post on its Stage,
 * the struct's first member), served at its next frame or within
 * ENC_POLL (20 ms); see plane/inst.h. */

#endif
