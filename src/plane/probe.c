/*
 * probe.c: black, freeze and silence probes; see probe.h.
 */
#include <stdio.h>
#include <string.h>

#include <libavutil/bprint.h>
#include <libavutil/dict.h>
#include <libavutil/mem.h>

#include "job/preset.h"
#include "plane/probe.h"

/* The presets' graphs, used when filters/ cannot be found (an install
 * without its data directory): the same thresholds, documented there. */
static const struct { const char *preset, *fallback; } probe_presets[] = {
    { "probe-black",   "blackdetect=d=2:pic_th=0.98:pix_th=0.10" },
    { "probe-freeze",  "freezedetect=n=-60dB:d=2" },
    { "probe-silence", "silencedetect=n=-60dB:d=2:mono=0" },
};

void probe_init(Probe *p, const JobInput *ji, ProbeFailure fail, void *opaque)
{
    memset(p, 0, sizeof(*p));
    p->black_us = ji->black_us;
    p->freeze_us = ji->freeze_us;
    p->silence_us = ji->silence_us;
    p->black_start_us = AV_NOPTS_VALUE;
    p->fail = fail;
    p->opaque = opaque;
}

/* The preset's graph with its duration set to d_us (the last value of an
 * option wins in libavfilter's argument strings). */
static void preset_with_duration(AVBPrint *bp, int idx, int64_t d_us)
{
    char *graph = NULL;

    if (preset_load(probe_presets[idx].preset, &graph) < 0)
        graph = NULL;
    av_bprintf(bp, "%s:d=%.3f", graph ? graph : probe_presets[idx].fallback, d_us / 1e6);
    av_free(graph);
}

char *probe_video_filters(const Probe *p)
{
    AVBPrint bp;
    char *s = NULL;

    if (!p->black_us && !p->freeze_us)
        return NULL;
    /* a small copy is enough to tell black or frozen */
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, "scale=w=320:h=-2:flags=fast_bilinear,format=yuv420p");
    if (p->black_us) {
        /* blackdetect marks the first black frame; the duration is ours */
        av_bprintf(&bp, ",");
        preset_with_duration(&bp, 0, p->black_us);
    }
    if (p->freeze_us) {
        av_bprintf(&bp, ",");
        preset_with_duration(&bp, 1, p->freeze_us);
    }
    av_bprint_finalize(&bp, &s);
    return s;
}

char *probe_audio_filters(const Probe *p)
{
    AVBPrint bp;
    char *s = NULL;

    if (!p->silence_us)
        return NULL;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    preset_with_duration(&bp, 2, p->silence_us);
    av_bprint_finalize(&bp, &s);
    return s;
}

static void fire(Probe *p, const char *what, int64_t lasted_us)
{
    char msg[96];

    snprintf(msg, sizeof(msg), "%s for %.1f s", what, lasted_us / 1e6);
    if (p->fail)
        p->fail(p->opaque, msg);
}

void probe_frame(Probe *p, const AVFrame *f, AVRational tb)
{
    int64_t t = f->pts == AV_NOPTS_VALUE ? 0 : av_rescale_q(f->pts, tb, AV_TIME_BASE_Q);

    if (p->black_us) {
        if (av_dict_get(f->metadata, "lavfi.black_end", NULL, 0)) {
            p->black_start_us = AV_NOPTS_VALUE;
            p->black_fired = 0;
        } else if (av_dict_get(f->metadata, "lavfi.black_start", NULL, 0)) {
            p->black_start_us = t;
        }
        if (p->black_start_us != AV_NOPTS_VALUE && !p->black_fired &&
            t - p->black_start_us >= p->black_us) {
            p->black_fired = 1;
            fire(p, "black video", t - p->black_start_us);
        }
    }
    if (p->freeze_us) {
        /* freezedetect says start once the picture has not moved for d */
        if (av_dict_get(f->metadata, "lavfi.freezedetect.freeze_end", NULL, 0))
            p->freeze_fired = 0;
        else if (av_dict_get(f->metadata, "lavfi.freezedetect.freeze_start", NULL, 0) &&
                 !p->freeze_fired) {
            p->freeze_fired = 1;
            fire(p, "frozen video", p->freeze_us);
        }
    }
    if (p->silence_us) {
        if (av_dict_get(f->metadata, "lavfi.silence_end", NULL, 0))
            p->silence_fired = 0;
        else if (av_dict_get(f->metadata, "lavfi.silence_start", NULL, 0) && !p->silence_fired) {
            p->silence_fired = 1;
            fire(p, "silent audio", p->silence_us);
        }
    }
}
