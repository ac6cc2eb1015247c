/*
 * sampler.c: one snapshot of every component per tick; see sampler.h.
 */
#include <string.h>

#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "hma/agent_disk.h"
#include "hma/agent_drm.h"
#include "hma/agent_host.h"
#include "hma/agent_mem.h"
#include "hma/agent_net.h"
#include "hma/agent_edge.h"
#include "hma/agent_plane.h"
#include "hma/agent_nvml.h"
#include "core/log.h"
#include "hma/sampler.h"

struct Sampler {
    LogCtx log;
    const Job *job;
    AgentPlane **planes;         /* one per stream */
    int nb;
    EventLog *events;
    Sample s;
    int64_t tick;

    AgentHost *host;
    AgentHostSample *host_cur, *host_prev;
    int host_have_prev;
    AgentNvml *nvml;
    uint64_t xid_count[AGENT_NVML_MAX_GPUS];
    AgentDrm *drm;
    AgentDrmSample *drm_cur, *drm_prev;
    AgentDrmStats *drm_stats;
    int drm_have_prev;
    AgentNet *net;
    AgentDisk *disk;
    AgentEdge *edge;             /* CDN pathways' viewers; NULL: none */
    int store_fs;                /* the data store's filesystem, -1: none */
    AgentMem *mem;
};

/* The first local directory the job writes to: its disk's I/O matters. */
static const char *output_dir(const Job *job, char *buf, size_t size)
{
    for (int i = 0; i < job->nb_streams; i++)
        for (int o = 0; o < job->streams[i].nb_outputs; o++) {
            const char *url = job->streams[i].outputs[o].url;
            const char *slash;
            if (strstr(url, "://"))
                continue;
            if (!strncmp(url, "file:", 5))
                url += 5;
            slash = strrchr(url, '/');
            if (!slash)
                return ".";
            snprintf(buf, size, "%.*s", (int)(slash - url), url);
            return *buf ? buf : "/";
        }
    return ".";
}

int sampler_alloc(Sampler **psm, const Job *job, Pipeline **pl, int nb)
{
    Sampler *sm = av_mallocz(sizeof(*sm));
    char dir[4096];
    int ret = AVERROR(ENOMEM);

    *psm = NULL;
    if (!sm)
        return ret;
    logctx_init(&sm->log, "sampler");
    sm->job = job;
    sm->planes = av_calloc(FFMAX(nb, 1), sizeof(*sm->planes));
    if (!sm->planes)
        goto fail;
    for (; sm->nb < nb; sm->nb++)
        if ((ret = agent_plane_alloc(&sm->planes[sm->nb], pl[sm->nb])) < 0)
            goto fail;
    ret = AVERROR(ENOMEM);
    sm->host_cur = av_mallocz(sizeof(*sm->host_cur));
    sm->host_prev = av_mallocz(sizeof(*sm->host_prev));
    sm->drm_cur = av_mallocz(sizeof(*sm->drm_cur));
    sm->drm_prev = av_mallocz(sizeof(*sm->drm_prev));
    sm->drm_stats = av_mallocz(sizeof(*sm->drm_stats));
    if (!sm->host_cur || !sm->host_prev || !sm->drm_cur || !sm->drm_prev || !sm->drm_stats)
        goto fail;
    /* each agent that cannot work here says so once and stays out */
    if ((ret = agent_host_alloc(&sm->host, output_dir(job, dir, sizeof(dir)))) < 0 ||
        (ret = agent_nvml_alloc(&sm->nvml, NULL)) < 0 ||
        (ret = agent_drm_alloc(&sm->drm)) < 0 ||
        (ret = agent_net_alloc(&sm->net)) < 0 ||
        (ret = agent_disk_alloc(&sm->disk)) < 0 ||
        (ret = agent_mem_alloc(&sm->mem)) < 0 ||
        (ret = agent_edge_alloc(&sm->edge, job, pl, job->supervisor.tick_us)) < 0)
        goto fail;
    sm->store_fs = -1;
    if (job->supervisor.hds_path &&
        agent_disk_url_dir(job->supervisor.hds_path, dir, sizeof(dir)))
        sm->store_fs = agent_disk_add(sm->disk, dir);
    for (int i = 0; i < sm->nb; i++)
        if ((ret = agent_plane_set_agents(sm->planes[i], sm->net, sm->disk)) < 0)
            goto fail;
    if (agent_nvml_status(sm->nvml, NULL) >= 0)
        agent_nvml_events_start(sm->nvml, 0);
    *psm = sm;
    return 0;
fail:
    sampler_free(&sm);
    return ret;
}

void sampler_free(Sampler **psm)
{
    Sampler *sm = *psm;

    if (!sm)
        return;
    for (int i = 0; sm->planes && i < sm->nb; i++)
        agent_plane_free(&sm->planes[i]);
    av_freep(&sm->planes);
    agent_nvml_free(&sm->nvml);
    agent_drm_free(&sm->drm);
    agent_host_free(&sm->host);
    agent_net_free(&sm->net);
    agent_disk_free(&sm->disk);
    agent_mem_free(&sm->mem);
    agent_edge_free(&sm->edge);
    av_freep(&sm->host_cur);
    av_freep(&sm->host_prev);
    av_freep(&sm->drm_cur);
    av_freep(&sm->drm_prev);
    av_freep(&sm->drm_stats);
    sample_free(&sm->s);
    av_freep(psm);
}

void sampler_set_events(Sampler *sm, EventLog *el)
{
    sm->events = el;
}

/* CPU seconds of the threads named for a component: the data plane names a
 * thread by the last 15 characters of "stream/component" (the kernel
 * keeps 15), and libraries' worker threads inherit their creator's name. */
static double thread_cpu(void *opaque, const char *component)
{
    Sampler *sm = opaque;
    const AgentHostSample *h = sm->host_cur;
    size_t len = strlen(component);
    const char *name = component + (len > 15 ? len - 15 : 0);
    uint64_t ticks = 0;
    int found = 0;

    if (!(h->have & AGENT_HOST_THREADS) || h->clk_tck <= 0)
        return -1;
    for (int i = 0; i < h->nb_threads; i++)
        if (!strcmp(h->threads[i].name, name)) {
            ticks += h->threads[i].ticks;
            found = 1;
        }
    return found ? (double)ticks / h->clk_tck : -1;
}

/* Memory growth, the cgroup's limits, the data store's filesystem. */
static void sample_host_trends(Sampler *sm, SampleComp *c, double now_s)
{
    const AgentHostSample *cur = sm->host_cur;
    AgentMemFigures m;

    agent_mem_sample(sm->mem, now_s, (cur->have & AGENT_HOST_RSS) ? (double)cur->rss_bytes : -1, &m);
    if (m.have_rss_growth)
        sample_set(c, HM_RSS_GROWTH, m.rss_growth);
    if (m.have_current)
        sample_set(c, HM_CGROUP_MEMORY_CURRENT, m.current);
    if (m.have_max)
        sample_set(c, HM_CGROUP_MEMORY_MAX, m.max);
    if (m.have_high)
        sample_set(c, HM_CGROUP_MEMORY_HIGH, m.high);
    if (m.have_time_to_limit)
        sample_set(c, HM_CGROUP_MEMORY_TIME_TO_LIMIT, m.time_to_limit);
    agent_disk_sample(sm->disk, sm->store_fs, c, HM_STORE_FS_FREE);
}

static void sample_host(Sampler *sm, double now_s)
{
    AgentHostSample *cur = sm->host_cur;
    AgentHostRates *r = NULL;
    SampleComp *c;
    uint64_t rx = 0, tx = 0;

    if (agent_host_sample(sm->host, cur) < 0)
        return;
    c = sample_add_comp(&sm->s, COMP_HOST, "", "host", 0);
    if (!c)
        return;
    if (cur->have & AGENT_HOST_CPU)
        sample_set(c, HM_CPU_SECONDS, (double)cur->cpu_ticks / cur->clk_tck);
    if (cur->have & AGENT_HOST_RSS)
        sample_set(c, HM_RSS_BYTES, cur->rss_bytes);
    if (cur->have & AGENT_HOST_HEAP)
        sample_set(c, HM_HEAP_BYTES, cur->heap_bytes);
    if (sm->host_have_prev && (r = av_malloc(sizeof(*r))) &&
        agent_host_rates(sm->host_prev, cur, r) >= 0) {
        if (r->have & AGENT_HOST_CPU)
            sample_set(c, HM_CPU_RATIO, r->cpu_percent / 100);
        if (r->have & (AGENT_HOST_DISK | AGENT_HOST_DISK_WHOLE)) {
            const AgentHostDiskRate *d = (r->have & AGENT_HOST_DISK_WHOLE) ? &r->disk_whole : &r->disk;
            sample_set(c, HM_DISK_BUSY_RATIO, d->util_percent / 100);
        }
    }
    av_free(r);
    if (cur->psi[AGENT_HOST_PSI_CPU_IDX].have & AGENT_HOST_PSI_SOME)
        sample_set(c, HM_PSI_CPU_SOME, cur->psi[AGENT_HOST_PSI_CPU_IDX].some.avg10 / 100);
    if (cur->psi[AGENT_HOST_PSI_MEMORY_IDX].have & AGENT_HOST_PSI_SOME)
        sample_set(c, HM_PSI_MEMORY_SOME, cur->psi[AGENT_HOST_PSI_MEMORY_IDX].some.avg10 / 100);
    if (cur->psi[AGENT_HOST_PSI_MEMORY_IDX].have & AGENT_HOST_PSI_FULL)
        sample_set(c, HM_PSI_MEMORY_FULL, cur->psi[AGENT_HOST_PSI_MEMORY_IDX].full.avg10 / 100);
    if (cur->psi[AGENT_HOST_PSI_IO_IDX].have & AGENT_HOST_PSI_SOME)
        sample_set(c, HM_PSI_IO_SOME, cur->psi[AGENT_HOST_PSI_IO_IDX].some.avg10 / 100);
    if (cur->psi[AGENT_HOST_PSI_IO_IDX].have & AGENT_HOST_PSI_FULL)
        sample_set(c, HM_PSI_IO_FULL, cur->psi[AGENT_HOST_PSI_IO_IDX].full.avg10 / 100);
    if (cur->have & (AGENT_HOST_DISK | AGENT_HOST_DISK_WHOLE)) {
        const AgentHostDisk *d = (cur->have & AGENT_HOST_DISK_WHOLE) ? &cur->disk_whole : &cur->disk;
        sample_set(c, HM_DISK_READ_BYTES, (double)d->read_sectors * 512);
        sample_set(c, HM_DISK_WRITE_BYTES, (double)d->write_sectors * 512);
    }
    if (cur->have & AGENT_HOST_NET) {
        for (int i = 0; i < cur->nb_ifs; i++) {
            rx += cur->ifs[i].rx_bytes;
            tx += cur->ifs[i].tx_bytes;
        }
        sample_set(c, HM_NET_RX_BYTES, rx);
        sample_set(c, HM_NET_TX_BYTES, tx);
    }
    sample_host_trends(sm, c, now_s);
}

static void sample_nvml(Sampler *sm)
{
    AgentNvmlEvent ev[16];
    unsigned dropped;
    int n;

    if (agent_nvml_status(sm->nvml, NULL) < 0)
        return;
    n = agent_nvml_drain_events(sm->nvml, ev, 16, &dropped);
    for (int i = 0; i < n; i++) {
        if (ev[i].type == AGENT_NVML_EV_XID && ev[i].gpu >= 0 && ev[i].gpu < AGENT_NVML_MAX_GPUS)
            sm->xid_count[ev[i].gpu]++;
        evlog_emit(sm->events, "", ev[i].gpu >= 0 ? "gpu" : "nvml",
                   ev[i].type == AGENT_NVML_EV_GPU_LOST ? EV_FAILURE : EV_WARNING, 0,
                   ev[i].type == AGENT_NVML_EV_GPU_LOST ? "GPU %d (%s) is lost" :
                   "GPU %d (%s): XID %llu", ev[i].gpu, ev[i].bus_id, (unsigned long long)ev[i].data);
    }
    for (int g = 0; g < agent_nvml_nb_gpus(sm->nvml) && g < AGENT_NVML_MAX_GPUS; g++) {
        AgentNvmlGpu gpu;
        SampleComp *c;
        char name[16];

        if (agent_nvml_sample(sm->nvml, g, &gpu) < 0)
            continue;
        snprintf(name, sizeof(name), "gpu%d", g);
        if (!(c = sample_add_comp(&sm->s, COMP_GPU, "", name, 0)))
            return;
        sample_set(c, GM_UP, !gpu.gpu_lost);
        sample_set(c, GM_XID_ERRORS, sm->xid_count[g]);
        if (gpu.present & AGENT_NVML_ENC_UTIL)
            sample_set(c, GM_ENCODER_UTIL, gpu.enc_util / 100.0);
        if (gpu.present & AGENT_NVML_DEC_UTIL)
            sample_set(c, GM_DECODER_UTIL, gpu.dec_util / 100.0);
        if (gpu.present & AGENT_NVML_ENC_CAP_H264)
            sample_set(c, GM_ENCODER_CAPACITY, gpu.enc_capacity_h264 / 100.0);
        if (gpu.present & AGENT_NVML_ENC_SESSIONS) {
            double fps = 0, lat = 0;
            sample_set(c, GM_ENCODER_SESSIONS, gpu.enc_sessions_gpu);
            sample_set(c, GM_OWN_SESSIONS, gpu.nb_own_sessions);
            for (unsigned k = 0; k < gpu.nb_own_sessions && k < AGENT_NVML_MAX_OWN_SESSIONS; k++) {
                fps += gpu.own_sessions[k].avg_fps;
                lat += gpu.own_sessions[k].avg_latency_us;
            }
            if (gpu.nb_own_sessions) {
                unsigned n_own = FFMIN(gpu.nb_own_sessions, AGENT_NVML_MAX_OWN_SESSIONS);
                sample_set(c, GM_OWN_SESSION_FPS, fps / n_own);
                sample_set(c, GM_OWN_SESSION_LATENCY, lat / n_own / 1e6);
            }
        }
        if (gpu.present & AGENT_NVML_GPU_UTIL)
            sample_set(c, GM_GPU_UTIL, gpu.gpu_util / 100.0);
        if (gpu.present & AGENT_NVML_MEMORY) {
            sample_set(c, GM_MEMORY_USED_BYTES, gpu.mem_used);
            sample_set(c, GM_MEMORY_TOTAL_BYTES, gpu.mem_total);
        }
        if (gpu.present & AGENT_NVML_TEMPERATURE)
            sample_set(c, GM_TEMPERATURE, gpu.temperature_c);
        if (gpu.present & AGENT_NVML_POWER)
            sample_set(c, GM_POWER_WATTS, gpu.power_mw / 1000.0);
        if (gpu.present & AGENT_NVML_CLOCK_REASONS)
            sample_set(c, GM_CLOCK_REASONS, (double)gpu.clock_reasons);
    }
}

/* VAAPI devices this process has open: video engine busy from DRM fdinfo. */
static void sample_drm(Sampler *sm)
{
    AgentDrmSample *t;
    int n = agent_drm_sample(sm->drm, sm->drm_cur);

    if (n <= 0)
        return;
    if (agent_drm_stats(sm->drm_have_prev ? sm->drm_prev : NULL, sm->drm_cur, sm->drm_stats) >= 0) {
        for (int i = 0; i < sm->drm_stats->nb_engines; i++) {
            const AgentDrmEngineUtil *u = &sm->drm_stats->engines[i];
            SampleComp *c;
            char name[48];
            if (!u->present || (u->cls != AGENT_DRM_ENGINE_VIDEO && u->cls != AGENT_DRM_ENGINE_VIDEO_ENHANCE))
                continue;
            snprintf(name, sizeof(name), "dri:%s:%s", u->pdev, u->name);
            if (!(c = sample_add_comp(&sm->s, COMP_GPU, "", name, 0)))
                return;
            sample_set(c, GM_VIDEO_ENGINE_BUSY, u->percent / 100);
        }
    }
    t = sm->drm_prev;
    sm->drm_prev = sm->drm_cur;
    sm->drm_cur = t;
    sm->drm_have_prev = 1;
}

Sample *sampler_tick(Sampler *sm)
{
    int64_t now = av_gettime_relative();
    AgentHostSample *t;

    sample_reset(&sm->s, av_gettime(), sm->tick++);
    /* the shared agents first: the components read what they took */
    agent_net_refresh(sm->net);
    agent_disk_refresh(sm->disk, now / 1e6);
    sample_host(sm, now / 1e6);
    sample_nvml(sm);
    sample_drm(sm);
    for (int i = 0; i < sm->nb; i++)
        agent_plane_sample(sm->planes[i], &sm->s, now, thread_cpu, sm);
    agent_edge_sample(sm->edge, &sm->s, now);
    t = sm->host_prev;
    sm->host_prev = sm->host_cur;
    sm->host_cur = t;
    sm->host_have_prev = 1;
    return &sm->s;
}
