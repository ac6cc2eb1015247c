/*
 * agent_plane.c: the data plane's agent: one stream's components and their
 * figures, read from what the stages publish; see agent_plane.h.
 */
#include <math.h>
#include <stdio.h>

#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "hma/agent_plane.h"
#include "plane/stage.h"

/* The Stage that every stage struct begins with (stage.h), for the
 * published status (InstStatus.sock_inode). */
#define STAGE_OF(x) ((Stage *)(void *)(x))

/* What the previous tick saw, for rates. */
typedef struct SourcePrev {
    int64_t bytes, reads, read_us, gap_sum, gap_sq, packets;
} SourcePrev;

typedef struct OutputPrev {
    int64_t bytes, write_us_sum, writes;
} OutputPrev;

/* Per output: where each destination's connection goes, the edge's
 * retransmission counter, each destination's filesystem (-1: not a file). */
typedef struct OutputNet {
    NetPeer peer[COMP_MAX_INSTANCES];
    NetTrack track;
    int fs[COMP_MAX_INSTANCES];
} OutputNet;

struct AgentPlane {
    Pipeline *p;
    const JobStream *js;
    int64_t prev_us;
    SourcePrev prev_src[16];
    int64_t *prev_frames;        /* per rendition, then audio */
    OutputPrev *prev_out;        /* per output */
    AgentNet *net;               /* not owned; NULL: no network figures */
    AgentDisk *disk;             /* not owned; NULL: no filesystem figures */
    NetPeer src_peer[16];
    NetTrack src_track[16];
    OutputNet *out_net;          /* per output */
};

int agent_plane_alloc(AgentPlane **pa, Pipeline *p)
{
    AgentPlane *a = av_mallocz(sizeof(*a));

    *pa = NULL;
    if (!a)
        return AVERROR(ENOMEM);
    a->p = p;
    a->js = pipeline_stream(p);
    a->prev_frames = av_calloc(a->js->nb_renditions + 1, sizeof(*a->prev_frames));
    a->prev_out = av_calloc(a->js->nb_outputs, sizeof(*a->prev_out));
    a->out_net = av_calloc(a->js->nb_outputs, sizeof(*a->out_net));
    if (!a->prev_frames || !a->prev_out || !a->out_net) {
        agent_plane_free(&a);
        return AVERROR(ENOMEM);
    }
    *pa = a;
    return 0;
}

void agent_plane_free(AgentPlane **pa)
{
    if (!*pa)
        return;
    av_freep(&(*pa)->prev_frames);
    av_freep(&(*pa)->prev_out);
    av_freep(&(*pa)->out_net);
    av_freep(pa);
}

/* A URL whose host does not resolve keeps its figures absent: said once
 * here, never with the URL (it may hold a key). */
static void resolve(AgentPlane *a, const char *what, const char *url,
                    const AVDictionary *opts, NetPeer *peer)
{
    int ret = agent_net_resolve(url, opts, peer);

    if (ret < 0)
        av_log(a->net, AV_LOG_WARNING, "%s/%s: cannot resolve the host of its URL (%s): "
               "its connection is found only if the stage names it\n",
               a->js->name, what, av_err2str(ret));
}

int agent_plane_set_agents(AgentPlane *a, AgentNet *net, AgentDisk *disk)
{
    const JobStream *js = a->js;
    char name[96];

    a->net = net;
    a->disk = disk;
    if (net)
        for (int i = 0; i < 1 + js->input.nb_backups && i < 16; i++)
            resolve(a, i ? "input.backup" : "input",
                    i ? js->input.backups[i - 1].url : js->input.url,
                    i ? js->input.backups[i - 1].options : js->input.options, &a->src_peer[i]);
    for (int o = 0; o < js->nb_outputs; o++) {
        const JobOutput *jo = &js->outputs[o];
        OutputNet *on = &a->out_net[o];
        for (int k = 0; k < COMP_MAX_INSTANCES; k++)
            on->fs[k] = -1;
        for (int k = 0; k < 1 + jo->nb_backups && k < COMP_MAX_INSTANCES; k++) {
            const char *url = k ? jo->backups[k - 1].url : jo->url;
            char dir[4096];
            snprintf(name, sizeof(name), "%s%s", jo->name, k ? ".backup" : "");
            if (net)
                resolve(a, name, url, k ? jo->backups[k - 1].options : jo->options, &on->peer[k]);
            if (disk && agent_disk_url_dir(url, dir, sizeof(dir))) {
                on->fs[k] = agent_disk_add(disk, dir);
                if (on->fs[k] == AVERROR(ENOMEM))
                    return on->fs[k];
            }
        }
    }
    return 0;
}

static double cpu_of(AgentPlane *a, const char *component, ThreadCpuFn cpu, void *opaque)
{
    char name[96];

    if (!cpu)
        return -1;
    snprintf(name, sizeof(name), "%s/%s", a->js->name, component);
    return cpu(opaque, name);
}

static void sample_sources(AgentPlane *a, Sample *s, int64_t now, double dt,
                           ThreadCpuFn cpu, void *opaque)
{
    int active = input_active(pipeline_input(a->p));
    int nb = FFMIN(input_nb_sources(pipeline_input(a->p)), 16);
    CompStatus cs;

    if (a->net)
        stage_status(STAGE_OF(pipeline_input(a->p)), &cs);

    for (int i = 0; i < nb; i++) {
        SourcePrev *pv = &a->prev_src[i];
        IngestStats st;
        SampleComp *c = sample_add_comp(s, COMP_INGEST, a->js->name, "input", i);
        char comp[48];
        double cpus;

        if (!c)
            return;
        input_source_stats(pipeline_input(a->p), i, &st);
        sample_set(c, IM_UP, st.up);
        sample_set(c, IM_PACKETS, st.packets);
        sample_set(c, IM_BYTES, st.bytes);
        sample_set(c, IM_DISCONTINUITIES, st.discontinuities);
        if (st.last_packet_us)
            sample_set(c, IM_LAST_PACKET_AGE, (now - st.last_packet_us) / 1e6);
        if (dt > 0) {
            int64_t reads = st.reads - pv->reads, gaps = st.packets - pv->packets;
            sample_set(c, IM_THROUGHPUT, (st.bytes - pv->bytes) / dt);
            if (reads > 0)
                sample_set(c, IM_READ_LATENCY, (st.read_us_sum - pv->read_us) / 1e6 / reads);
            if (gaps > 1) {
                double m = (double)(st.gap_sum_us - pv->gap_sum) / gaps;
                double v = (double)(st.gap_sq_sum_us2 - pv->gap_sq) / gaps - m * m;
                sample_set(c, IM_JITTER, (v > 0 ? sqrt(v) : 0) / 1e6);
            }
        }
        *pv = (SourcePrev){ st.bytes, st.reads, st.read_us_sum, st.gap_sum_us,
                            st.gap_sq_sum_us2, st.packets };

        /* the decoders work for the source in use */
        snprintf(comp, sizeof(comp), i ? (i == 1 ? "input.backup" : "input.backup%d") : "input", i);
        cpus = cpu_of(a, comp, cpu, opaque);
        if (i == active) {
            DecoderStats ds;
            int64_t errors = st.errors;
            double d;
            dec_stats(pipeline_decoder(a->p, 0), &ds);
            errors += ds.errors;
            if (pipeline_decoder(a->p, 1)) {
                dec_stats(pipeline_decoder(a->p, 1), &ds);
                errors += ds.errors;
            }
            sample_set(c, IM_ERRORS, errors);
            if (cpus >= 0 && (d = cpu_of(a, "vdec", cpu, opaque)) >= 0)
                cpus += d;
            if (cpus >= 0 && pipeline_decoder(a->p, 1) && (d = cpu_of(a, "adec", cpu, opaque)) >= 0)
                cpus += d;
        } else {
            sample_set(c, IM_ERRORS, st.errors);
        }
        if (cpus >= 0)
            sample_set(c, IM_CPU_SECONDS, cpus);
        if (a->net) {
            NetFigures nf;
            agent_net_component(a->net, i < COMP_MAX_INSTANCES ? cs.inst[i].sock_inode : 0,
                                &a->src_peer[i], AGENT_NET_RECV, &a->src_track[i], &nf);
            agent_net_sample(&nf, c, IM_TCP_CONNECTIONS);
        }
    }
}

static void sample_encoder(AgentPlane *a, Sample *s, Encoder *enc, const char *name,
                           int has_standby, int64_t *prev, double dt, ThreadCpuFn cpu, void *opaque)
{
    EncoderStats es;
    SampleComp *c;
    int64_t p50, p99;
    char comp[64];
    double cpus;

    if (!enc)
        return;
    enc_stats(enc, &es);
    c = sample_add_comp(s, COMP_ENCODER, a->js->name, name, FFMAX(es.active, 0));
    if (!c)
        return;
    sample_set(c, EM_UP, es.active >= 0);
    sample_set(c, EM_FRAMES_IN, es.frames_in);
    sample_set(c, EM_FRAMES_OUT, es.packets_out);
    sample_set(c, EM_BYTES_OUT, es.bytes_out);
    if (dt > 0)
        sample_set(c, EM_FPS, (es.packets_out - *prev) / dt);
    *prev = es.packets_out;
    if (es.target_fps > 0)
        sample_set(c, EM_TARGET_FPS, es.target_fps);
    enc_take_latency(enc, &p50, &p99);
    if (p50 > 0) {
        sample_set(c, EM_LATENCY_P50, p50 / 1e6);
        sample_set(c, EM_LATENCY_P99, p99 / 1e6);
    }
    sample_set(c, EM_QUEUE_DEPTH, es.queue_depth);
    sample_set(c, EM_ERRORS, es.errors);
    sample_set(c, EM_DROPPED, es.dropped);
    if (es.quality >= 0)
        sample_set(c, EM_QP, es.quality / (double)FF_QP2LAMBDA);
    /* the cost of a hot standby; its CPU is in EM_CPU_SECONDS (its worker
     * and the encoder's own threads carry the component's name) */
    if (has_standby) {
        sample_set(c, EM_STANDBY_FRAMES, es.standby_frames);
        sample_set(c, EM_STANDBY_BUSY_SECONDS, es.standby_busy_us / 1e6);
    }
    if (es.budget_us > 0)
        sample_set(c, EM_BUDGET_USED, FFMAX(es.behind_us, 0) / (double)es.budget_us);
    sample_set(c, EM_BUSY_SECONDS, es.busy_us / 1e6);
    snprintf(comp, sizeof(comp), "enc:%s", name);
    if ((cpus = cpu_of(a, comp, cpu, opaque)) >= 0)
        sample_set(c, EM_CPU_SECONDS, cpus);
}

static void sample_outputs(AgentPlane *a, Sample *s, double dt, ThreadCpuFn cpu, void *opaque)
{
    const JobStream *js = a->js;

    for (int o = 0; o < js->nb_outputs; o++) {
        OutputPrev *pv = &a->prev_out[o];
        OutputStats os;
        SampleComp *c, *e;
        int64_t writes, max;
        int up;
        char comp[64];
        double cpus;

        OutputNet *on = &a->out_net[o];
        int inst;

        output_stats(pipeline_output(a->p, o), &os);
        inst = os.active >= 0 && os.active < COMP_MAX_INSTANCES ? os.active : 0;
        up = os.opened && os.active >= 0 && !os.failed;
        writes = os.writes - pv->writes;
        max = output_take_max_write(pipeline_output(a->p, o));
        c = sample_add_comp(s, COMP_OUTPUT, js->name, js->outputs[o].name, FFMAX(os.active, 0));
        if (!c)
            return;
        sample_set(c, OM_UP, up);
        sample_set(c, OM_PACKETS, os.packets);
        sample_set(c, OM_BYTES, os.bytes);
        if (dt > 0)
            sample_set(c, OM_THROUGHPUT, (os.bytes - pv->bytes) / dt);
        if (writes > 0) {
            sample_set(c, OM_WRITE_LATENCY, (os.write_us_sum - pv->write_us_sum) / 1e6 / writes);
            sample_set(c, OM_WRITE_LATENCY_MAX, max / 1e6);
        }
        sample_set(c, OM_QUEUE_DEPTH, os.queue_depth);
        if (os.budget_us > 0)
            sample_set(c, OM_BUDGET_USED, FFMAX(os.waited_us, 0) / (double)os.budget_us);
        sample_set(c, OM_BUSY_SECONDS, os.busy_us / 1e6);
        sample_set(c, OM_FRAMES_LOST, os.frames_lost);
        sample_set(c, OM_ERRORS, os.errors);
        sample_set(c, OM_RECONNECTS, os.reconnects);
        snprintf(comp, sizeof(comp), "out:%s", js->outputs[o].name);
        if ((cpus = cpu_of(a, comp, cpu, opaque)) >= 0)
            sample_set(c, OM_CPU_SECONDS, cpus);
        if (a->disk)
            agent_disk_sample(a->disk, on->fs[inst], c, OM_FS_FREE);

        /* the peer, as the output's writes see it; HTTP status classes
         * from the segment confirmations of HLS/DASH over HTTP (absent for
         * other outputs: libav's muxers do not show them) */
        e = sample_add_comp(s, COMP_EDGE, js->name, js->outputs[o].name, FFMAX(os.active, 0));
        if (!e)
            return;
        sample_set(e, XM_UP, up);
        sample_set(e, XM_REQUESTS, os.writes);
        if (writes > 0)
            sample_set(e, XM_REQUEST_LATENCY, (os.write_us_sum - pv->write_us_sum) / 1e6 / writes);
        if (dt > 0)
            sample_set(e, XM_THROUGHPUT, (os.bytes - pv->bytes) / dt);
        if (os.http_checks)
            for (int k = 0; k < 4; k++)
                sample_set(e, XM_STATUS_2XX + k, os.http_status[k]);
        if (a->net) {
            CompStatus cs;
            NetFigures nf;
            stage_status(STAGE_OF(pipeline_output(a->p, o)), &cs);
            agent_net_component(a->net, cs.inst[inst].sock_inode, &on->peer[inst],
                                AGENT_NET_SEND, &on->track, &nf);
            agent_net_sample(&nf, e, XM_TCP_CONNECTIONS);
        }
        *pv = (OutputPrev){ os.bytes, os.write_us_sum, os.writes };
    }
}

int agent_plane_sample(AgentPlane *a, Sample *s, int64_t now_us, ThreadCpuFn cpu, void *opaque)
{
    const JobStream *js = a->js;
    double dt = a->prev_us ? (now_us - a->prev_us) / 1e6 : 0;
    int before = s->nb_comps;

    sample_sources(a, s, now_us, dt, cpu, opaque);
    for (int r = 0; r < js->nb_renditions; r++)
        sample_encoder(a, s, pipeline_encoder(a->p, r), js->renditions[r].name,
                       !!js->renditions[r].backup, &a->prev_frames[r], dt, cpu, opaque);
    sample_encoder(a, s, pipeline_encoder(a->p, js->nb_renditions), "audio", 0,
                   &a->prev_frames[js->nb_renditions], dt, cpu, opaque);
    sample_outputs(a, s, dt, cpu, opaque);
    a->prev_us = now_us;
    return s->nb_comps > before ? 0 : AVERROR(ENOMEM);
}
