/*
 * agent_nvml.h: NVIDIA GPU health probe (NVML, loaded with dlopen).
 *
 * The supervisor's per-tick sampler calls agent_nvml_sample() for the GPU
 * that runs an encoder and drains the event queue (XID errors, lost GPUs).
 * libnvidia-ml.so.1 is loaded at run time, never linked: a host without the
 * NVIDIA driver runs hotspare as well, it just has no NVML metrics.
 *
 * Rules, as for every agent (Netdata's collectors): a probe that cannot work
 * says so once and disables itself; it never stops the supervisor. A metric
 * the GPU does not report is absent (its bit in AgentNvmlGpu.present is
 * clear), never 0. NVML_ERROR_GPU_IS_LOST from any call is a failure of that
 * GPU: AgentNvmlGpu.gpu_lost is set and an AGENT_NVML_EV_GPU_LOST event is
 * queued, once.
 *
 * Thread safety: one thread samples (the sampler); the event thread, when
 * started, only touches the event queue and the lost flags, under a lock.
 * NVML itself is thread-safe (nvml.h: "NVML is thread-safe so it is safe to
 * make simultaneous NVML calls from multiple threads").
 */
#ifndef HS_AGENT_NVML_H
#define HS_AGENT_NVML_H

#include <stdint.h>

/* Library name tried when neither the argument nor $HOTSPARE_NVML_LIB says. */
#define AGENT_NVML_DEFAULT_LIB      "libnvidia-ml.so.1"
#define AGENT_NVML_LIB_ENV          "HOTSPARE_NVML_LIB"

#define AGENT_NVML_MAX_GPUS         16
#define AGENT_NVML_MAX_OWN_SESSIONS 16   /* this process's NVENC sessions kept */
#define AGENT_NVML_BUS_ID_SIZE      32   /* NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE */
#define AGENT_NVML_EVENT_QUEUE      64

/* Bits of AgentNvmlGpu.present: which metrics this sample holds. */
enum {
    AGENT_NVML_ENC_UTIL      = 1 << 0,  /* enc_util, enc_sampling_us */
    AGENT_NVML_DEC_UTIL      = 1 << 1,  /* dec_util, dec_sampling_us */
    AGENT_NVML_ENC_CAP_H264  = 1 << 2,  /* enc_capacity_h264 */
    AGENT_NVML_ENC_CAP_HEVC  = 1 << 3,  /* enc_capacity_hevc */
    AGENT_NVML_ENC_SESSIONS  = 1 << 4,  /* enc_sessions_gpu, own_sessions */
    AGENT_NVML_ENC_STATS     = 1 << 5,  /* stats_* */
    AGENT_NVML_GPU_UTIL      = 1 << 6,  /* gpu_util, mem_util */
    AGENT_NVML_MEMORY        = 1 << 7,  /* mem_total, mem_free, mem_used */
    AGENT_NVML_TEMPERATURE   = 1 << 8,  /* temperature_c */
    AGENT_NVML_POWER         = 1 << 9,  /* power_mw */
    AGENT_NVML_CLOCK_REASONS = 1 << 10, /* clock_reasons */
};
#define AGENT_NVML_NB_METRICS 11

/* Bits of AgentNvmlGpu.clock_reasons (nvmlClocksEventReason*, nvml.h). */
#define AGENT_NVML_CLOCKS_GPU_IDLE            0x0001ULL
#define AGENT_NVML_CLOCKS_APP_SETTING         0x0002ULL
#define AGENT_NVML_CLOCKS_SW_POWER_CAP        0x0004ULL
#define AGENT_NVML_CLOCKS_HW_SLOWDOWN         0x0008ULL
#define AGENT_NVML_CLOCKS_SYNC_BOOST          0x0010ULL
#define AGENT_NVML_CLOCKS_SW_THERMAL          0x0020ULL
#define AGENT_NVML_CLOCKS_HW_THERMAL          0x0040ULL
#define AGENT_NVML_CLOCKS_HW_POWER_BRAKE      0x0080ULL
#define AGENT_NVML_CLOCKS_DISPLAY_SETTING     0x0100ULL

/* Codec of an encoder session (nvmlEncoderType_t). */
enum {
    AGENT_NVML_CODEC_H264 = 0,
    AGENT_NVML_CODEC_HEVC = 1,
    AGENT_NVML_CODEC_AV1  = 2,
};

/* One NVENC session of this process, as NVML sees it. */
typedef struct AgentNvmlSession {
    unsigned session_id;
    unsigned pid;
    unsigned codec;               /* AGENT_NVML_CODEC_* (NVML's value) */
    unsigned width, height;
    unsigned avg_fps;             /* moving average */
    unsigned avg_latency_us;      /* moving average */
} AgentNvmlSession;

/* One sample of one GPU. Only the fields whose bit is in present hold data. */
typedef struct AgentNvmlGpu {
    unsigned index;               /* NVML index (not the CUDA ordinal) */
    char bus_id[AGENT_NVML_BUS_ID_SIZE]; /* "00000000:01:00.0", as NVML says */
    int gpu_lost;                 /* NVML_ERROR_GPU_IS_LOST seen: the GPU is
                                     gone; nothing else is present */
    uint32_t present;             /* AGENT_NVML_* bits */

    unsigned enc_util, enc_sampling_us;    /* percent, window */
    unsigned dec_util, dec_sampling_us;
    unsigned enc_capacity_h264;   /* percent of the encoder's capacity left */
    unsigned enc_capacity_hevc;

    unsigned enc_sessions_gpu;    /* NVENC sessions on the whole GPU */
    unsigned nb_own_sessions;     /* of which ours (pid), at most
                                     AGENT_NVML_MAX_OWN_SESSIONS listed */
    AgentNvmlSession own_sessions[AGENT_NVML_MAX_OWN_SESSIONS];

    unsigned stats_sessions;      /* nvmlDeviceGetEncoderStats, GPU-wide */
    unsigned stats_avg_fps;
    unsigned stats_avg_latency_us;

    unsigned gpu_util, mem_util;  /* percent over NVML's sampling period */
    uint64_t mem_total, mem_free, mem_used;  /* bytes */
    unsigned temperature_c;
    unsigned power_mw;            /* milliwatts */
    uint64_t clock_reasons;       /* AGENT_NVML_CLOCKS_* */
} AgentNvmlGpu;

enum AgentNvmlEventType {
    AGENT_NVML_EV_XID      = 1,   /* data = the Xid (999: unknown) */
    AGENT_NVML_EV_GPU_LOST = 2,   /* the GPU fell off the bus */
};

typedef struct AgentNvmlEvent {
    enum AgentNvmlEventType type;
    int gpu;                      /* index, -1 when NVML did not say which */
    char bus_id[AGENT_NVML_BUS_ID_SIZE];
    uint64_t data;
    int64_t time_us;              /* av_gettime() when it was queued */
} AgentNvmlEvent;

typedef struct AgentNvml AgentNvml;

/*
 * Loads NVML from lib_path (NULL: $HOTSPARE_NVML_LIB, else
 * "libnvidia-ml.so.1"), initialises it and lists the GPUs.
 *
 * Returns 0 and an agent, also when NVML cannot be used (no library, a
 * required symbol missing, nvmlInit failing): that agent is disabled, has
 * said why in one log line, and agent_nvml_status() tells it again. Only a
 * failed allocation returns a negative AVERROR.
 */
int agent_nvml_alloc(AgentNvml **pa, const char *lib_path);

/* Stops the event thread (joins it), shuts NVML down, unloads it. NULL and
 * *pa == NULL are fine. */
void agent_nvml_free(AgentNvml **pa);

/*
 * 0 when the agent works; otherwise the negative AVERROR of why it is
 * disabled (ENOENT: no library, ENOSYS: a required symbol missing,
 * AVERROR_EXTERNAL: nvmlInit failed) and, in msg, the reason in words
 * (naming the library or the missing symbol).
 */
int agent_nvml_status(const AgentNvml *a, const char **msg);

/* Number of GPUs NVML lists; 0 when disabled. */
int agent_nvml_nb_gpus(const AgentNvml *a);

/*
 * The NVML index of the GPU at PCI address bus_id, in any of the forms in
 * use: "00000000:01:00.0" (NVML), "0000:01:00.0" (CUDA, DRM), "01:00.0".
 * AVERROR(ENOENT) when no GPU has it, AVERROR(EINVAL) when it is malformed.
 */
int agent_nvml_find_gpu(const AgentNvml *a, const char *bus_id);

/*
 * Samples GPU idx into *g (cleared first). Returns 0, also when the GPU is
 * lost (g->gpu_lost) or some metrics are absent; AVERROR(ENODEV) when the
 * agent is disabled, AVERROR(EINVAL) for a bad index.
 */
int agent_nvml_sample(AgentNvml *a, unsigned idx, AgentNvmlGpu *g);

/*
 * Starts the thread that waits for XID critical errors on every GPU that
 * supports them, waking at least every poll_ms (0: 500 ms) to notice a
 * stop. Returns 0, AVERROR(ENODEV) when disabled, AVERROR(ENOSYS) when this
 * NVML has no event API, AVERROR(ENOTSUP) when no GPU reports XID events, or
 * AVERROR(EEXIST) when running already. Each failure is logged once.
 */
int agent_nvml_events_start(AgentNvml *a, unsigned poll_ms);

/* Stops and joins the event thread; returns within about poll_ms. */
void agent_nvml_events_stop(AgentNvml *a);

/*
 * Moves up to max queued events, oldest first, into ev; returns how many.
 * The queue holds AGENT_NVML_EVENT_QUEUE events; *dropped (may be NULL)
 * gets the number lost to a full queue since the last drain.
 */
int agent_nvml_drain_events(AgentNvml *a, AgentNvmlEvent *ev, int max,
                            unsigned *dropped);

/* Normalises a PCI address to "DDDDDDDD:BB:DD.F" (NVML's form, upper case)
 * in buf (AGENT_NVML_BUS_ID_SIZE bytes). Returns 0 or AVERROR(EINVAL). */
int agent_nvml_normalize_bus_id(const char *bus_id, char *buf);

#endif
