/*
 * pipeline.c: one stream's queues and stages; see pipeline.h.
 */
#include <math.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "plane/decode.h"
#include "plane/encode.h"
#include "plane/input.h"
#include "plane/ladder.h"
#include "plane/output.h"
#include "plane/pipeline.h"
#include "plane/stage.h"
#include "plane/tq.h"

/*
 * Queue sizes. Packets are small: the demux queues absorb bursts (an
 * interleaved file, a network hiccup). Frames are large (1.4 MB at 720p):
 * a few are enough to keep every stage busy, as in FFmpeg 7 (8 there). The
 * output queues hold every encoder's packets while the muxer interleaves or
 * waits on its peer.
 */
#define PL_PACKET_QUEUE    4
#define PL_FRAME_QUEUE     4
#define PL_ENC_QUEUE       4
#define PL_AUDIO_QUEUE    32
#define PL_OUTPUT_QUEUE  256

struct Pipeline {
    LogCtx log;
    const JobStream *js;
    EventLog *events;
    int has_audio;
    StreamClock clock;

    ThreadQueue *q_vpkt, *q_apkt, *q_vframe, *q_aframe;
    ThreadQueue **q_enc;         /* per rendition */
    ThreadQueue **q_out;         /* per output */

    Input *input;
    Decoder *vdec, *adec;
    Ladder *ladder;
    Encoder **venc;              /* per rendition */
    Encoder *aenc;
    Output **out;                /* per output */
    int started;
};

/* A content probe (ladder: black, freeze; audio encoder: silence) saw the
 * input in use fail. */
static void content_failed(void *opaque, const char *what)
{
    input_content_failure(opaque, what);
}

int pipeline_alloc(Pipeline **pp, const JobStream *js, EventLog *events,
                   const _Atomic int *stop)
{
    Pipeline *p = av_mallocz(sizeof(*p));
    int ret = AVERROR(ENOMEM);

    *pp = NULL;
    if (!p)
        return ret;
    logctx_init(&p->log, "%s", js->name);
    p->js = js;
    p->events = events;
    p->has_audio = js->audio.enabled;
    atomic_init(&p->clock.origin_us, 0);
    p->clock.live = job_input_is_live(&js->input);
    p->clock.latency_budget_us = js->latency_budget_us;
    /* one epoch-locked output locks the stream's timeline */
    for (int o = 0; o < js->nb_outputs; o++)
        p->clock.epoch_lock |= job_output_epoch_locked(&js->outputs[o]);

    p->q_enc = av_calloc(js->nb_renditions, sizeof(*p->q_enc));
    p->venc = av_calloc(js->nb_renditions, sizeof(*p->venc));
    p->q_out = av_calloc(js->nb_outputs, sizeof(*p->q_out));
    p->out = av_calloc(js->nb_outputs, sizeof(*p->out));
    if (!p->q_enc || !p->venc || !p->q_out || !p->out)
        goto fail;

    /* queues */
    if (!(p->q_vpkt = tq_alloc(PL_PACKET_QUEUE, 1)) ||
        !(p->q_vframe = tq_alloc(PL_FRAME_QUEUE, 1)))
        goto fail;
    if (p->has_audio &&
        (!(p->q_apkt = tq_alloc(PL_PACKET_QUEUE, 1)) ||
         !(p->q_aframe = tq_alloc(PL_AUDIO_QUEUE, 1))))
        goto fail;
    for (int r = 0; r < js->nb_renditions; r++)
        if (!(p->q_enc[r] = tq_alloc(PL_ENC_QUEUE, 1)))
            goto fail;
    for (int o = 0; o < js->nb_outputs; o++)
        if (!(p->q_out[o] = tq_alloc(PL_OUTPUT_QUEUE,
                                     output_nb_inputs(&js->outputs[o], p->has_audio))))
            goto fail;

    /* stages, each given the queues around it */
    if ((ret = input_alloc(&p->input, js, p->q_vpkt, p->q_apkt, &p->clock, events, stop)) < 0 ||
        (ret = dec_alloc(&p->vdec, js, AVMEDIA_TYPE_VIDEO, p->q_vpkt, p->q_vframe,
                         &p->clock, events)) < 0 ||
        (ret = ladder_alloc(&p->ladder, js, p->q_vframe, p->q_enc, content_failed, p->input,
                            events)) < 0)
        goto fail;
    if (p->has_audio &&
        ((ret = dec_alloc(&p->adec, js, AVMEDIA_TYPE_AUDIO, p->q_apkt, p->q_aframe,
                          &p->clock, events)) < 0 ||
         (ret = enc_alloc(&p->aenc, js, NULL, &js->audio, p->q_aframe, &p->clock,
                          content_failed, p->input, events)) < 0))
        goto fail;
    for (int r = 0; r < js->nb_renditions; r++)
        if ((ret = enc_alloc(&p->venc[r], js, &js->renditions[r], NULL, p->q_enc[r], &p->clock,
                             NULL, NULL, events)) < 0)
            goto fail;
    for (int o = 0; o < js->nb_outputs; o++) {
        const JobOutput *jo = &js->outputs[o];
        int gh = output_wants_global_header(jo);
        if ((ret = output_alloc(&p->out[o], js, jo, p->has_audio, p->q_out[o], &p->clock, events)) < 0)
            goto fail;
        for (int i = 0; i < jo->nb_renditions; i++)
            if ((ret = enc_add_output(p->venc[jo->renditions[i]], p->q_out[o], i, gh)) < 0)
                goto fail;
        if (p->has_audio && (ret = enc_add_output(p->aenc, p->q_out[o], jo->nb_renditions, gh)) < 0)
            goto fail;
    }
    *pp = p;
    return 0;
fail:
    pipeline_free(&p);
    return ret;
}

void pipeline_free(Pipeline **pp)
{
    Pipeline *p = *pp;
    const JobStream *js;

    if (!p)
        return;
    js = p->js;
    input_free(&p->input);
    dec_free(&p->vdec);
    dec_free(&p->adec);
    ladder_free(&p->ladder);
    enc_free(&p->aenc);
    for (int r = 0; p->venc && r < js->nb_renditions; r++)
        enc_free(&p->venc[r]);
    for (int o = 0; p->out && o < js->nb_outputs; o++)
        output_free(&p->out[o]);
    tq_free(&p->q_vpkt);
    tq_free(&p->q_apkt);
    tq_free(&p->q_vframe);
    tq_free(&p->q_aframe);
    for (int r = 0; p->q_enc && r < js->nb_renditions; r++)
        tq_free(&p->q_enc[r]);
    for (int o = 0; p->q_out && o < js->nb_outputs; o++)
        tq_free(&p->q_out[o]);
    av_freep(&p->q_enc);
    av_freep(&p->venc);
    av_freep(&p->q_out);
    av_freep(&p->out);
    av_freep(pp);
}

int pipeline_start(Pipeline *p)
{
    const JobStream *js = p->js;
    int ret = 0;

    /* downstream first, so that nothing waits on a thread not yet there */
    for (int o = 0; o < js->nb_outputs && ret >= 0; o++)
        ret = output_start(p->out[o]);
    for (int r = 0; r < js->nb_renditions && ret >= 0; r++)
        ret = enc_start(p->venc[r]);
    if (ret >= 0 && p->aenc)
        ret = enc_start(p->aenc);
    if (ret >= 0)
        ret = ladder_start(p->ladder);
    if (ret >= 0)
        ret = dec_start(p->vdec);
    if (ret >= 0 && p->adec)
        ret = dec_start(p->adec);
    if (ret >= 0)
        ret = input_start(p->input);
    p->started = 1;
    if (ret < 0)
        av_log(p, AV_LOG_FATAL, "cannot start a thread: %s\n", av_err2str(ret));
    return ret;
}

/* The Stage is the first member of every stage struct. */
static int stage_running(const void *s)
{
    return s && stage_state(s) == STAGE_RUNNING;
}

int pipeline_started(const Pipeline *p)
{
    return p->started;
}

void pipeline_stop(Pipeline *p, int replaced)
{
    for (int o = 0; o < p->js->nb_outputs; o++)
        output_continued(p->out[o], replaced);
    input_stop(p->input);
}

void pipeline_final(Pipeline *p)
{
    for (int o = 0; o < p->js->nb_outputs; o++)
        output_final(p->out[o]);
}

void pipeline_continue(Pipeline *p)
{
    for (int o = 0; o < p->js->nb_outputs; o++)
        output_hold(p->out[o]);
}

int pipeline_ready(Pipeline *p)
{
    for (int o = 0; o < p->js->nb_outputs; o++)
        if (!output_ready(p->out[o]))
            return 0;
    return 1;
}

void pipeline_release(Pipeline *p, int64_t from_us)
{
    for (int o = 0; o < p->js->nb_outputs; o++)
        output_release(p->out[o], from_us);
}

void pipeline_fence(Pipeline *p, int fenced, int64_t from_unix_us, int64_t until_unix_us,
                    int64_t keep_us)
{
    for (int o = 0; o < p->js->nb_outputs; o++) {
        output_window(p->out[o], from_unix_us, until_unix_us, keep_us);
        output_fence(p->out[o], fenced);
    }
}

int pipeline_finished(Pipeline *p)
{
    const JobStream *js = p->js;

    if (!input_finished(p->input) || stage_running(p->vdec) || stage_running(p->adec) ||
        stage_running(p->ladder) || stage_running(p->aenc))
        return 0;
    for (int r = 0; r < js->nb_renditions; r++)
        if (stage_running(p->venc[r]))
            return 0;
    for (int o = 0; o < js->nb_outputs; o++)
        if (stage_running(p->out[o]))
            return 0;
    return 1;
}

int pipeline_join(Pipeline *p)
{
    const JobStream *js = p->js;
    int ingest_ret, outputs_ok = 0, ret = 0;

    /* upstream first: the order the stream unwinds in */
    ingest_ret = input_join(p->input);
    dec_join(p->vdec);
    if (p->adec)
        dec_join(p->adec);
    ladder_join(p->ladder);
    if (p->aenc)
        enc_join(p->aenc);
    for (int r = 0; r < js->nb_renditions; r++)
        enc_join(p->venc[r]);
    for (int o = 0; o < js->nb_outputs; o++) {
        OutputStats os;
        int r = output_join(p->out[o]);
        output_stats(p->out[o], &os);
        /* a reload's replacement stopped before it took over wrote nothing
         * by design: its predecessor did */
        if (r >= 0 && (os.opened || output_held(p->out[o])))
            outputs_ok++;
    }

    if (ingest_ret < 0)
        ret = ingest_ret;
    else if (!outputs_ok)
        ret = AVERROR_EXTERNAL;
    if (ret < 0)
        evlog_emit(p->events, js->name, "stream", EV_STREAM_FAILED, 0, "%s",
                   ingest_ret < 0 ? "the input failed" : "no output of the stream could go on");
    else
        evlog_emit(p->events, js->name, "stream", EV_END, 0, "ended: %d of %d outputs complete",
                   outputs_ok, js->nb_outputs);
    return ret;
}

void pipeline_progress(Pipeline *p, PipelineProgress *pr)
{
    const JobStream *js = p->js;
    EncoderStats es;

    memset(pr, 0, sizeof(*pr));
    pr->quality = -1;
    for (int r = 0; r < js->nb_renditions; r++) {
        enc_stats(p->venc[r], &es);
        if (!r) {
            pr->frames = es.packets_out;
            pr->quality = es.quality;
        }
        pr->dropped += es.dropped;
    }
    for (int o = 0; o < js->nb_outputs; o++) {
        OutputStats os;
        output_stats(p->out[o], &os);
        pr->total_size += os.bytes;
        if (os.last_pts_us > pr->out_time_us)
            pr->out_time_us = os.last_pts_us;
        pr->outputs_open += os.opened;
        if (stage_state((const Stage *)p->out[o]) == STAGE_FAILED)
            pr->outputs_failed++;
    }
}

const char *pipeline_name(const Pipeline *p)
{
    return p->js->name;
}

const JobStream *pipeline_stream(const Pipeline *p)
{
    return p->js;
}

Input *pipeline_input(Pipeline *p)
{
    return p->input;
}

Decoder *pipeline_decoder(Pipeline *p, int audio)
{
    return audio ? p->adec : p->vdec;
}

Ladder *pipeline_ladder(Pipeline *p)
{
    return p->ladder;
}

Encoder *pipeline_encoder(Pipeline *p, int r)
{
    return r < p->js->nb_renditions ? p->venc[r] : p->aenc;
}

Output *pipeline_output(Pipeline *p, int o)
{
    return p->out[o];
}
