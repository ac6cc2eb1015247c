/*
 * agent_nvml.c: NVIDIA GPU health probe through NVML; see agent_nvml.h.
 *
 * NVML is dlopen'ed, as nvtop does it (Syllo/nvtop src/extract_gpuinfo_nvidia.c):
 * our own prototypes and the few structs we use, no nvml.h (its
 * "#define nvmlInit nvmlInit_v2" macros would clash with our names, and the
 * build must not need the CUDA toolkit). Every function is looked up by its
 * newest versioned name first, then the older ones. A missing required
 * symbol disables the agent with the symbol named; a missing optional one
 * leaves its metric absent.
 *
 * Layouts below were checked against NVIDIA's nvml.h as shipped in
 * NVIDIA/nvidia-settings src/nvml.h (NVML_API_VERSION 12, "Copyright
 * 1993-2024"), quoted where they matter. x86-64 / aarch64 LP64 sizes are
 * asserted at compile time.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "hma/agent_nvml.h"
#include "core/log.h"

/* ---- NVML ABI, our own declarations ------------------------------------ */

/* nvmlReturn_t is an enum (int-sized); only the codes we act on. */
typedef int nvmlReturn_t;
#define NVML_SUCCESS                    0
#define NVML_ERROR_NOT_SUPPORTED        3
#define NVML_ERROR_NO_PERMISSION        4
#define NVML_ERROR_INSUFFICIENT_SIZE    7
#define NVML_ERROR_TIMEOUT             10
#define NVML_ERROR_GPU_IS_LOST         15

typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct nvmlEventSet_st *nvmlEventSet_t;

/*
 * nvml.h:
 *   typedef struct nvmlPciInfo_st {
 *       char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];   // 16
 *       unsigned int domain, bus, device, pciDeviceId;
 *       unsigned int pciSubSystemId;
 *       char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];            // 32
 *   } nvmlPciInfo_t;
 * That is the layout of nvmlDeviceGetPciInfo_v2/_v3. The unversioned
 * nvmlDeviceGetPciInfo of old drivers fills the older struct, whose first
 * member was "char busId[16]" (then domain..pciSubSystemId and reserved
 * words): the same bytes as busIdLegacy here, so with only the old symbol
 * we read busIdLegacy. Our buffer is the larger of the two.
 */
typedef struct nvmlPciInfo_t {
    char busIdLegacy[16];
    unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;

/* nvml.h: typedef struct nvmlUtilization_st { unsigned int gpu;
 * unsigned int memory; } nvmlUtilization_t;  (percent) */
typedef struct nvmlUtilization_t {
    unsigned gpu, memory;
} nvmlUtilization_t;

/* nvml.h: typedef struct nvmlMemory_st { unsigned long long total, free,
 * used; } nvmlMemory_t;  (v1, bytes; "used" includes the reserved part) */
typedef struct nvmlMemory_t {
    unsigned long long total, free, used;
} nvmlMemory_t;

/* nvml.h: typedef struct nvmlMemory_v2_st { unsigned int version;
 * unsigned long long total, reserved, free, used; } nvmlMemory_v2_t;
 * #define nvmlMemory_v2 NVML_STRUCT_VERSION(Memory, 2)
 *   = sizeof(nvmlMemory_v2_t) | 2 << 24 */
typedef struct nvmlMemory_v2_t {
    unsigned version;
    unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
#define NVML_MEMORY_V2_VERSION ((unsigned)sizeof(nvmlMemory_v2_t) | 2u << 24)

/* nvml.h: typedef struct nvmlEncoderSessionInfo_st { unsigned int sessionId;
 * unsigned int pid; nvmlVgpuInstance_t vgpuInstance; nvmlEncoderType_t
 * codecType; unsigned int hResolution, vResolution, averageFps,
 * averageLatency; } nvmlEncoderSessionInfo_t;  (latency in microseconds;
 * nvmlVgpuInstance_t is unsigned int, nvmlEncoderType_t an enum) */
typedef struct nvmlEncoderSessionInfo_t {
    unsigned sessionId, pid, vgpuInstance, codecType;
    unsigned hResolution, vResolution, averageFps, averageLatency;
} nvmlEncoderSessionInfo_t;

/* nvml.h: typedef struct nvmlEventData_st { nvmlDevice_t device;
 * unsigned long long eventType; unsigned long long eventData; unsigned int
 * gpuInstanceId; unsigned int computeInstanceId; } nvmlEventData_t;
 * Older headers end after eventData (24 bytes, nvmlEventSetWait v1): our
 * buffer is the larger one. eventData holds the Xid, 999 when unknown. */
typedef struct nvmlEventData_t {
    nvmlDevice_t device;
    unsigned long long eventType;
    unsigned long long eventData;
    unsigned gpuInstanceId, computeInstanceId;
} nvmlEventData_t;

_Static_assert(sizeof(nvmlPciInfo_t) == 68 &&
               offsetof(nvmlPciInfo_t, busId) == 36, "nvmlPciInfo_t");
_Static_assert(sizeof(nvmlUtilization_t) == 8, "nvmlUtilization_t");
_Static_assert(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t");
_Static_assert(sizeof(nvmlMemory_v2_t) == 40 &&
               NVML_MEMORY_V2_VERSION == 0x02000028, "nvmlMemory_v2_t");
_Static_assert(sizeof(nvmlEncoderSessionInfo_t) == 32, "nvmlEncoderSessionInfo_t");
_Static_assert(sizeof(nvmlEventData_t) == 32 &&
               offsetof(nvmlEventData_t, eventData) == 16, "nvmlEventData_t");

#define NVML_ENCODER_QUERY_H264 0           /* nvmlEncoderType_t */
#define NVML_ENCODER_QUERY_HEVC 1
#define NVML_TEMPERATURE_GPU    0           /* nvmlTemperatureSensors_t */
#define nvmlEventTypeXidCriticalError 0x0000000000000008ULL

typedef struct NvmlApi {
    /* required */
    nvmlReturn_t (*Init)(void);
    nvmlReturn_t (*Shutdown)(void);
    const char *(*ErrorString)(nvmlReturn_t);
    nvmlReturn_t (*DeviceGetCount)(unsigned *);
    nvmlReturn_t (*DeviceGetHandleByIndex)(unsigned, nvmlDevice_t *);
    nvmlReturn_t (*DeviceGetPciInfo)(nvmlDevice_t, nvmlPciInfo_t *);
    /* optional: the metric is absent without it */
    nvmlReturn_t (*DeviceGetEncoderUtilization)(nvmlDevice_t, unsigned *, unsigned *);
    nvmlReturn_t (*DeviceGetDecoderUtilization)(nvmlDevice_t, unsigned *, unsigned *);
    nvmlReturn_t (*DeviceGetEncoderCapacity)(nvmlDevice_t, int, unsigned *);
    nvmlReturn_t (*DeviceGetEncoderStats)(nvmlDevice_t, unsigned *, unsigned *, unsigned *);
    nvmlReturn_t (*DeviceGetEncoderSessions)(nvmlDevice_t, unsigned *,
                                             nvmlEncoderSessionInfo_t *);
    nvmlReturn_t (*DeviceGetUtilizationRates)(nvmlDevice_t, nvmlUtilization_t *);
    nvmlReturn_t (*DeviceGetMemoryInfo)(nvmlDevice_t, nvmlMemory_t *);
    nvmlReturn_t (*DeviceGetMemoryInfo_v2)(nvmlDevice_t, nvmlMemory_v2_t *);
    nvmlReturn_t (*DeviceGetTemperature)(nvmlDevice_t, int, unsigned *);
    nvmlReturn_t (*DeviceGetPowerUsage)(nvmlDevice_t, unsigned *);
    nvmlReturn_t (*DeviceGetClocksReasons)(nvmlDevice_t, unsigned long long *);
    nvmlReturn_t (*EventSetCreate)(nvmlEventSet_t *);
    nvmlReturn_t (*EventSetFree)(nvmlEventSet_t);
    nvmlReturn_t (*DeviceGetSupportedEventTypes)(nvmlDevice_t, unsigned long long *);
    nvmlReturn_t (*DeviceRegisterEvents)(nvmlDevice_t, unsigned long long, nvmlEventSet_t);
    nvmlReturn_t (*EventSetWait)(nvmlEventSet_t, nvmlEventData_t *, unsigned);
} NvmlApi;

typedef struct NvmlSym {
    size_t offset;                /* of the pointer in NvmlApi */
    int required;
    const char *names[3];         /* newest first */
} NvmlSym;

#define SYM(field, req, ...) { offsetof(NvmlApi, field), req, { __VA_ARGS__ } }
static const NvmlSym nvml_syms[] = {
    SYM(Init,                   1, "nvmlInit_v2", "nvmlInit"),
    SYM(Shutdown,               1, "nvmlShutdown"),
    SYM(ErrorString,            1, "nvmlErrorString"),
    SYM(DeviceGetCount,         1, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"),
    SYM(DeviceGetHandleByIndex, 1, "nvmlDeviceGetHandleByIndex_v2",
                                   "nvmlDeviceGetHandleByIndex"),
    SYM(DeviceGetPciInfo,       1, "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2",
                                   "nvmlDeviceGetPciInfo"),
    SYM(DeviceGetEncoderUtilization, 0, "nvmlDeviceGetEncoderUtilization"),
    SYM(DeviceGetDecoderUtilization, 0, "nvmlDeviceGetDecoderUtilization"),
    SYM(DeviceGetEncoderCapacity,    0, "nvmlDeviceGetEncoderCapacity"),
    SYM(DeviceGetEncoderStats,       0, "nvmlDeviceGetEncoderStats"),
    SYM(DeviceGetEncoderSessions,    0, "nvmlDeviceGetEncoderSessions"),
    SYM(DeviceGetUtilizationRates,   0, "nvmlDeviceGetUtilizationRates"),
    SYM(DeviceGetMemoryInfo,         0, "nvmlDeviceGetMemoryInfo"),
    SYM(DeviceGetMemoryInfo_v2,      0, "nvmlDeviceGetMemoryInfo_v2"),
    /* deprecated in NVML 13 for nvmlDeviceGetTemperatureV, still exported */
    SYM(DeviceGetTemperature,        0, "nvmlDeviceGetTemperature"),
    SYM(DeviceGetPowerUsage,         0, "nvmlDeviceGetPowerUsage"),
    /* renamed in R535; the old name has the same signature */
    SYM(DeviceGetClocksReasons,      0, "nvmlDeviceGetCurrentClocksEventReasons",
                                        "nvmlDeviceGetCurrentClocksThrottleReasons"),
    SYM(EventSetCreate,              0, "nvmlEventSetCreate"),
    SYM(EventSetFree,                0, "nvmlEventSetFree"),
    SYM(DeviceGetSupportedEventTypes, 0, "nvmlDeviceGetSupportedEventTypes"),
    SYM(DeviceRegisterEvents,        0, "nvmlDeviceRegisterEvents"),
    SYM(EventSetWait,                0, "nvmlEventSetWait_v2", "nvmlEventSetWait"),
};
#define NB_SYMS (sizeof(nvml_syms) / sizeof(nvml_syms[0]))

/* Names of the AGENT_NVML_* metric bits, by bit number, for messages. */
static const char *const metric_names[AGENT_NVML_NB_METRICS] = {
    "encoder utilization", "decoder utilization", "H.264 encoder capacity",
    "HEVC encoder capacity", "encoder sessions", "encoder stats",
    "GPU utilization", "memory info", "temperature", "power usage",
    "clock event reasons",
};

/* ---- the agent --------------------------------------------------------- */

typedef struct NvmlGpu {
    nvmlDevice_t dev;             /* NULL: no handle, everything absent */
    char bus_id[AGENT_NVML_BUS_ID_SIZE];    /* as NVML printed it */
    char bus_norm[AGENT_NVML_BUS_ID_SIZE];  /* normalised, for matching */
    atomic_int lost;
    uint32_t unsupported;         /* NOT_SUPPORTED once: not asked again */
    int last_rc[AGENT_NVML_NB_METRICS];     /* last failure logged */
    int mem_v2_failed;            /* _v2 refused: use v1 */
    nvmlEncoderSessionInfo_t *sessions;
    unsigned sessions_cap;
} NvmlGpu;

struct AgentNvml {
    LogCtx log;                   /* first: av_log(a, ...) */
    void *lib;
    char lib_path[256];
    NvmlApi api;
    int pci_v1;                   /* only the unversioned nvmlDeviceGetPciInfo */
    int initialized;              /* nvmlInit succeeded: nvmlShutdown owed */
    int status;                   /* 0 or why disabled (AVERROR) */
    char status_msg[512];
    unsigned pid;
    int nb_gpus;
    NvmlGpu gpus[AGENT_NVML_MAX_GPUS];

    /* Events: the queue, its counters and the stop request are under lock. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    AgentNvmlEvent queue[AGENT_NVML_EVENT_QUEUE];
    int q_head, q_len;
    unsigned dropped;
    int unknown_lost_queued;      /* a wait said GPU_IS_LOST, GPU unknown */
    nvmlEventSet_t set;
    pthread_t thread;
    int thread_running;
    int stop;
    unsigned poll_ms;
    int events_said;              /* the "no events" reason was logged */
    int wait_rc_said;             /* last wait failure logged */
};

static const char *nvml_str(const AgentNvml *a, nvmlReturn_t rc)
{
    const char *s = a->api.ErrorString ? a->api.ErrorString(rc) : NULL;
    return s ? s : "unknown error";
}

static int metric_index(uint32_t bit)
{
    int i = 0;
    while (bit > 1) {
        bit >>= 1;
        i++;
    }
    return i;
}

int agent_nvml_normalize_bus_id(const char *bus_id, char *buf)
{
    unsigned long v[4];
    int n = 0;
    const char *p = bus_id;
    char *end;

    if (!bus_id)
        return AVERROR(EINVAL);
    /* up to four hex fields: [domain:]bus:device.function */
    while (n < 4) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
              (*p >= 'A' && *p <= 'F')))
            return AVERROR(EINVAL);
        v[n++] = strtoul(p, &end, 16);
        p = end;
        if (*p == ':' && n < 3) {
            p++;
        } else if (*p == '.') {
            p++;
            if (n < 2)
                return AVERROR(EINVAL);
            v[n++] = strtoul(p, &end, 16);
            if (end == p)
                return AVERROR(EINVAL);
            p = end;
            break;
        } else {
            return AVERROR(EINVAL);
        }
    }
    if (*p || n < 3)
        return AVERROR(EINVAL);
    if (n == 3) {                 /* no domain: "01:00.0" */
        v[3] = v[2];
        v[2] = v[1];
        v[1] = v[0];
        v[0] = 0;
    }
    if (v[0] > 0xffffffffUL || v[1] > 0xff || v[2] > 0x1f || v[3] > 7)
        return AVERROR(EINVAL);
    snprintf(buf, AGENT_NVML_BUS_ID_SIZE, "%08lX:%02lX:%02lX.%lX",
             v[0], v[1], v[2], v[3]);
    return 0;
}

static void set_status(AgentNvml *a, int err, const char *fmt, ...)
    av_printf_format(3, 4);

static void set_status(AgentNvml *a, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(a->status_msg, sizeof(a->status_msg), fmt, ap);
    va_end(ap);
    a->status = err;
    /* The one line that says why: info, not an error, since a host without
     * an NVIDIA GPU is a normal host. */
    av_log(a, AV_LOG_INFO, "NVML not available: %s; NVIDIA GPU metrics are absent\n",
           a->status_msg);
}

/* Queues an event; a full queue loses its oldest (the newest matter more,
 * and the lost state is also kept in the GPU's sample). Under a->lock. */
static void queue_event_locked(AgentNvml *a, enum AgentNvmlEventType type,
                               int gpu, uint64_t data)
{
    AgentNvmlEvent *ev;

    if (a->q_len == AGENT_NVML_EVENT_QUEUE) {
        a->q_head = (a->q_head + 1) % AGENT_NVML_EVENT_QUEUE;
        a->q_len--;
        a->dropped++;
    }
    ev = &a->queue[(a->q_head + a->q_len) % AGENT_NVML_EVENT_QUEUE];
    a->q_len++;
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    ev->gpu = gpu;
    if (gpu >= 0)
        av_strlcpy(ev->bus_id, a->gpus[gpu].bus_id, sizeof(ev->bus_id));
    ev->data = data;
    ev->time_us = av_gettime();
}

/* The GPU is gone: flag it, queue one event, say so once. */
static void mark_lost(AgentNvml *a, int idx, const char *what)
{
    NvmlGpu *gpu = &a->gpus[idx];

    if (atomic_exchange(&gpu->lost, 1))
        return;
    pthread_mutex_lock(&a->lock);
    queue_event_locked(a, AGENT_NVML_EV_GPU_LOST, idx, 0);
    pthread_mutex_unlock(&a->lock);
    av_log(a, AV_LOG_ERROR, "GPU %d (%s) is lost: %s returned GPU_IS_LOST "
           "(fallen off the bus or otherwise inaccessible)\n",
           idx, gpu->bus_id[0] ? gpu->bus_id : "bus id unknown", what);
}

/*
 * Classifies the result of a metric call: 1 on success; otherwise the
 * metric is absent (0) and, by kind: GPU_IS_LOST -> the GPU is lost;
 * NOT_SUPPORTED -> never asked again; anything else -> logged when it
 * differs from the last failure of this metric (no line per tick).
 */
static int check_rc(AgentNvml *a, int idx, uint32_t metric, nvmlReturn_t rc)
{
    NvmlGpu *gpu = &a->gpus[idx];
    int m = metric_index(metric);

    if (rc == NVML_SUCCESS) {
        if (gpu->last_rc[m]) {
            av_log(a, AV_LOG_VERBOSE, "GPU %d: %s available again\n", idx,
                   metric_names[m]);
            gpu->last_rc[m] = NVML_SUCCESS;
        }
        return 1;
    }
    if (rc == NVML_ERROR_GPU_IS_LOST) {
        mark_lost(a, idx, metric_names[m]);
        return 0;
    }
    if (rc == NVML_ERROR_NOT_SUPPORTED) {
        gpu->unsupported |= metric;
        av_log(a, AV_LOG_VERBOSE, "GPU %d: %s not supported: absent\n", idx,
               metric_names[m]);
        return 0;
    }
    if (rc != gpu->last_rc[m]) {
        av_log(a, AV_LOG_WARNING, "GPU %d: %s failed: %s (%d): absent\n", idx,
               metric_names[m], nvml_str(a, rc), rc);
        gpu->last_rc[m] = rc;
    }
    return 0;
}

/* Resolves every symbol; 0, or AVERROR(ENOSYS) naming the missing one. */
static int load_symbols(AgentNvml *a)
{
    for (size_t i = 0; i < NB_SYMS; i++) {
        const NvmlSym *s = &nvml_syms[i];
        void *p = NULL;
        const char *found = NULL;

        for (int j = 0; j < 3 && s->names[j] && !p; j++)
            if ((p = dlsym(a->lib, s->names[j])))
                found = s->names[j];
        if (!p && s->required) {
            char names[192] = "";
            for (int j = 0; j < 3 && s->names[j]; j++) {
                av_strlcat(names, j == 0 ? "" : j == 1 ? " (nor " : ", ", sizeof(names));
                av_strlcat(names, s->names[j], sizeof(names));
            }
            if (s->names[1])
                av_strlcat(names, ")", sizeof(names));
            set_status(a, AVERROR(ENOSYS), "%s has no %s", a->lib_path, names);
            return a->status;
        }
        /* dlsym gives a data pointer; POSIX guarantees it converts to a
         * function pointer of the same size. */
        memcpy((char *)&a->api + s->offset, &p, sizeof(p));
        if (found && !strcmp(found, "nvmlDeviceGetPciInfo"))
            a->pci_v1 = 1;
    }
    return 0;
}

static void list_gpus(AgentNvml *a, unsigned count)
{
    if (count > AGENT_NVML_MAX_GPUS) {
        av_log(a, AV_LOG_WARNING, "NVML lists %u GPUs; watching the first %d\n",
               count, AGENT_NVML_MAX_GPUS);
        count = AGENT_NVML_MAX_GPUS;
    }
    a->nb_gpus = count;
    for (unsigned i = 0; i < count; i++) {
        NvmlGpu *gpu = &a->gpus[i];
        nvmlPciInfo_t pci;
        nvmlReturn_t rc;

        rc = a->api.DeviceGetHandleByIndex(i, &gpu->dev);
        if (rc != NVML_SUCCESS) {
            gpu->dev = NULL;
            if (rc == NVML_ERROR_GPU_IS_LOST)
                mark_lost(a, i, "nvmlDeviceGetHandleByIndex");
            else
                av_log(a, AV_LOG_WARNING, "GPU %u: no handle: %s (%d): its metrics "
                       "are absent\n", i, nvml_str(a, rc), rc);
            continue;
        }
        memset(&pci, 0, sizeof(pci));
        rc = a->api.DeviceGetPciInfo(gpu->dev, &pci);
        if (rc == NVML_SUCCESS) {
            const char *id = a->pci_v1 ? pci.busIdLegacy : pci.busId;
            size_t max = a->pci_v1 ? sizeof(pci.busIdLegacy) : sizeof(pci.busId);
            av_strlcpy(gpu->bus_id, id, FFMIN(max, sizeof(gpu->bus_id)));
            if (agent_nvml_normalize_bus_id(gpu->bus_id, gpu->bus_norm) < 0)
                av_strlcpy(gpu->bus_norm, gpu->bus_id, sizeof(gpu->bus_norm));
        } else if (rc == NVML_ERROR_GPU_IS_LOST) {
            mark_lost(a, i, "nvmlDeviceGetPciInfo");
        } else {
            av_log(a, AV_LOG_WARNING, "GPU %u: no PCI info: %s (%d): it cannot be "
                   "matched to an encoder by bus id\n", i, nvml_str(a, rc), rc);
        }
        av_log(a, AV_LOG_VERBOSE, "GPU %u at %s\n", i,
               gpu->bus_id[0] ? gpu->bus_id : "(unknown bus id)");
    }
}

static void nvml_open(AgentNvml *a)
{
    nvmlReturn_t rc;
    unsigned count = 0;

    /* RTLD_LOCAL: NVML's symbols must not satisfy anyone else's lookups. */
    a->lib = dlopen(a->lib_path, RTLD_NOW | RTLD_LOCAL);
    if (!a->lib) {
        const char *err = dlerror();
        set_status(a, AVERROR(ENOENT), "%s", err ? err : a->lib_path);
        return;
    }
    if (load_symbols(a) < 0)
        return;
    rc = a->api.Init();
    if (rc != NVML_SUCCESS) {
        set_status(a, AVERROR_EXTERNAL, "nvmlInit failed: %s (%d)", nvml_str(a, rc), rc);
        return;
    }
    a->initialized = 1;
    rc = a->api.DeviceGetCount(&count);
    if (rc != NVML_SUCCESS) {
        set_status(a, AVERROR_EXTERNAL, "nvmlDeviceGetCount failed: %s (%d)",
                   nvml_str(a, rc), rc);
        return;
    }
    list_gpus(a, count);
    av_log(a, count ? AV_LOG_VERBOSE : AV_LOG_INFO, "NVML loaded from %s: %u GPU%s\n",
           a->lib_path, count, count == 1 ? "" : "s");
}

/* Undoes nvml_open: NVML shut down, library unloaded. */
static void nvml_close(AgentNvml *a)
{
    if (a->initialized && a->api.Shutdown)
        a->api.Shutdown();
    a->initialized = 0;
    if (a->lib)
        dlclose(a->lib);
    a->lib = NULL;
    memset(&a->api, 0, sizeof(a->api));
}

int agent_nvml_alloc(AgentNvml **pa, const char *lib_path)
{
    AgentNvml *a;

    *pa = NULL;
    a = av_mallocz(sizeof(*a));
    if (!a)
        return AVERROR(ENOMEM);
    logctx_init(&a->log, "agent/nvml");
    if (!lib_path || !*lib_path)
        lib_path = getenv(AGENT_NVML_LIB_ENV);
    if (!lib_path || !*lib_path)
        lib_path = AGENT_NVML_DEFAULT_LIB;
    av_strlcpy(a->lib_path, lib_path, sizeof(a->lib_path));
    a->pid = (unsigned)getpid();
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->wake, NULL);
    for (int i = 0; i < AGENT_NVML_MAX_GPUS; i++)
        atomic_init(&a->gpus[i].lost, 0);

    nvml_open(a);
    if (a->status < 0) {
        a->nb_gpus = 0;
        nvml_close(a);
    }
    *pa = a;
    return 0;
}

void agent_nvml_free(AgentNvml **pa)
{
    AgentNvml *a = pa ? *pa : NULL;

    if (!a)
        return;
    /* The thread runs NVML code: it must be gone before NVML is. */
    agent_nvml_events_stop(a);
    nvml_close(a);
    for (int i = 0; i < AGENT_NVML_MAX_GPUS; i++)
        av_freep(&a->gpus[i].sessions);
    pthread_cond_destroy(&a->wake);
    pthread_mutex_destroy(&a->lock);
    av_freep(pa);
}

int agent_nvml_status(const AgentNvml *a, const char **msg)
{
    if (msg)
        *msg = a->status < 0 ? a->status_msg : "";
    return a->status;
}

int agent_nvml_nb_gpus(const AgentNvml *a)
{
    return a->status < 0 ? 0 : a->nb_gpus;
}

int agent_nvml_find_gpu(const AgentNvml *a, const char *bus_id)
{
    char norm[AGENT_NVML_BUS_ID_SIZE];
    int ret = agent_nvml_normalize_bus_id(bus_id, norm);

    if (ret < 0)
        return ret;
    for (int i = 0; i < agent_nvml_nb_gpus(a); i++)
        if (!strcmp(a->gpus[i].bus_norm, norm))
            return i;
    return AVERROR(ENOENT);
}

/* Encoder sessions: the GPU-wide count, and ours (by pid) in detail. */
static void sample_sessions(AgentNvml *a, int idx, AgentNvmlGpu *g)
{
    NvmlGpu *gpu = &a->gpus[idx];
    unsigned n = 0;
    nvmlReturn_t rc;

    /* nvml.h: "If sessionCount is 0 [...] returns NVML_SUCCESS with the
     * number of sessions in sessionCount". Sessions may start between the
     * two calls: INSUFFICIENT_SIZE then gives the new count; retry once. */
    rc = a->api.DeviceGetEncoderSessions(gpu->dev, &n, NULL);
    for (int attempt = 0; rc == NVML_SUCCESS && n > 0 && attempt < 2; attempt++) {
        unsigned want = n + 4;
        if (want > gpu->sessions_cap) {
            void *p = av_realloc_array(gpu->sessions, want, sizeof(*gpu->sessions));
            if (!p)
                return;
            gpu->sessions = p;
            gpu->sessions_cap = want;
        }
        n = gpu->sessions_cap;
        rc = a->api.DeviceGetEncoderSessions(gpu->dev, &n, gpu->sessions);
        if (rc == NVML_ERROR_INSUFFICIENT_SIZE && attempt == 0) {
            rc = NVML_SUCCESS;    /* n is the count needed now */
            continue;
        }
        break;
    }
    if (!check_rc(a, idx, AGENT_NVML_ENC_SESSIONS, rc))
        return;
    g->enc_sessions_gpu = n;
    for (unsigned i = 0; i < n && gpu->sessions; i++) {
        const nvmlEncoderSessionInfo_t *s = &gpu->sessions[i];
        AgentNvmlSession *o;

        if (s->pid != a->pid || g->nb_own_sessions >= AGENT_NVML_MAX_OWN_SESSIONS)
            continue;
        o = &g->own_sessions[g->nb_own_sessions++];
        o->session_id     = s->sessionId;
        o->pid            = s->pid;
        o->codec          = s->codecType;
        o->width          = s->hResolution;
        o->height         = s->vResolution;
        o->avg_fps        = s->averageFps;
        o->avg_latency_us = s->averageLatency;
    }
    g->present |= AGENT_NVML_ENC_SESSIONS;
}

static void sample_memory(AgentNvml *a, int idx, AgentNvmlGpu *g)
{
    NvmlGpu *gpu = &a->gpus[idx];
    nvmlReturn_t rc;

    /* v2 separates the driver's reserved memory from "used"; v1 counts it
     * as used. Prefer v2, fall back to v1 for good when v2 refuses. */
    if (a->api.DeviceGetMemoryInfo_v2 && !gpu->mem_v2_failed) {
        nvmlMemory_v2_t m = { .version = NVML_MEMORY_V2_VERSION };
        rc = a->api.DeviceGetMemoryInfo_v2(gpu->dev, &m);
        if (rc == NVML_SUCCESS) {
            check_rc(a, idx, AGENT_NVML_MEMORY, rc);
            g->mem_total = m.total;
            g->mem_free  = m.free;
            g->mem_used  = m.used;
            g->present  |= AGENT_NVML_MEMORY;
            return;
        }
        if (rc == NVML_ERROR_GPU_IS_LOST) {
            check_rc(a, idx, AGENT_NVML_MEMORY, rc);
            return;
        }
        av_log(a, AV_LOG_VERBOSE, "GPU %d: nvmlDeviceGetMemoryInfo_v2: %s (%d): "
               "using v1\n", idx, nvml_str(a, rc), rc);
        gpu->mem_v2_failed = 1;
    }
    if (a->api.DeviceGetMemoryInfo) {
        nvmlMemory_t m;
        rc = a->api.DeviceGetMemoryInfo(gpu->dev, &m);
        if (check_rc(a, idx, AGENT_NVML_MEMORY, rc)) {
            g->mem_total = m.total;
            g->mem_free  = m.free;
            g->mem_used  = m.used;
            g->present  |= AGENT_NVML_MEMORY;
        }
    }
}

int agent_nvml_sample(AgentNvml *a, unsigned idx, AgentNvmlGpu *g)
{
    const NvmlApi *f = &a->api;
    NvmlGpu *gpu;
    nvmlDevice_t dev;
    unsigned u1, u2, u3;

    memset(g, 0, sizeof(*g));
    if (a->status < 0)
        return AVERROR(ENODEV);
    if (idx >= (unsigned)a->nb_gpus)
        return AVERROR(EINVAL);
    gpu = &a->gpus[idx];
    dev = gpu->dev;
    g->index = idx;
    av_strlcpy(g->bus_id, gpu->bus_id, sizeof(g->bus_id));

/* Asks for a metric only while it may answer: the function exists, the GPU
 * did not say NOT_SUPPORTED, the GPU is not lost. */
#define WANT(bit, fn) (f->fn && dev && !(gpu->unsupported & (bit)) && \
                       !atomic_load(&gpu->lost))

    if (WANT(AGENT_NVML_ENC_UTIL, DeviceGetEncoderUtilization) &&
        check_rc(a, idx, AGENT_NVML_ENC_UTIL,
                 f->DeviceGetEncoderUtilization(dev, &u1, &u2))) {
        g->enc_util = u1;
        g->enc_sampling_us = u2;
        g->present |= AGENT_NVML_ENC_UTIL;
    }
    if (WANT(AGENT_NVML_DEC_UTIL, DeviceGetDecoderUtilization) &&
        check_rc(a, idx, AGENT_NVML_DEC_UTIL,
                 f->DeviceGetDecoderUtilization(dev, &u1, &u2))) {
        g->dec_util = u1;
        g->dec_sampling_us = u2;
        g->present |= AGENT_NVML_DEC_UTIL;
    }
    if (WANT(AGENT_NVML_ENC_CAP_H264, DeviceGetEncoderCapacity) &&
        check_rc(a, idx, AGENT_NVML_ENC_CAP_H264,
                 f->DeviceGetEncoderCapacity(dev, NVML_ENCODER_QUERY_H264, &u1))) {
        g->enc_capacity_h264 = u1;
        g->present |= AGENT_NVML_ENC_CAP_H264;
    }
    if (WANT(AGENT_NVML_ENC_CAP_HEVC, DeviceGetEncoderCapacity) &&
        check_rc(a, idx, AGENT_NVML_ENC_CAP_HEVC,
                 f->DeviceGetEncoderCapacity(dev, NVML_ENCODER_QUERY_HEVC, &u1))) {
        g->enc_capacity_hevc = u1;
        g->present |= AGENT_NVML_ENC_CAP_HEVC;
    }
    if (WANT(AGENT_NVML_ENC_SESSIONS, DeviceGetEncoderSessions))
        sample_sessions(a, idx, g);
    if (WANT(AGENT_NVML_ENC_STATS, DeviceGetEncoderStats) &&
        check_rc(a, idx, AGENT_NVML_ENC_STATS,
                 f->DeviceGetEncoderStats(dev, &u1, &u2, &u3))) {
        g->stats_sessions = u1;
        g->stats_avg_fps = u2;
        g->stats_avg_latency_us = u3;
        g->present |= AGENT_NVML_ENC_STATS;
    }
    if (WANT(AGENT_NVML_GPU_UTIL, DeviceGetUtilizationRates)) {
        nvmlUtilization_t u;
        if (check_rc(a, idx, AGENT_NVML_GPU_UTIL, f->DeviceGetUtilizationRates(dev, &u))) {
            g->gpu_util = u.gpu;
            g->mem_util = u.memory;
            g->present |= AGENT_NVML_GPU_UTIL;
        }
    }
    if ((f->DeviceGetMemoryInfo || f->DeviceGetMemoryInfo_v2) && dev &&
        !(gpu->unsupported & AGENT_NVML_MEMORY) && !atomic_load(&gpu->lost))
        sample_memory(a, idx, g);
    if (WANT(AGENT_NVML_TEMPERATURE, DeviceGetTemperature) &&
        check_rc(a, idx, AGENT_NVML_TEMPERATURE,
                 f->DeviceGetTemperature(dev, NVML_TEMPERATURE_GPU, &u1))) {
        g->temperature_c = u1;
        g->present |= AGENT_NVML_TEMPERATURE;
    }
    if (WANT(AGENT_NVML_POWER, DeviceGetPowerUsage) &&
        check_rc(a, idx, AGENT_NVML_POWER, f->DeviceGetPowerUsage(dev, &u1))) {
        g->power_mw = u1;
        g->present |= AGENT_NVML_POWER;
    }
    if (WANT(AGENT_NVML_CLOCK_REASONS, DeviceGetClocksReasons)) {
        unsigned long long mask;
        if (check_rc(a, idx, AGENT_NVML_CLOCK_REASONS,
                     f->DeviceGetClocksReasons(dev, &mask))) {
            g->clock_reasons = mask;
            g->present |= AGENT_NVML_CLOCK_REASONS;
        }
    }
#undef WANT

    /* A GPU lost in the middle of this sample: what was read before the
     * loss says nothing about a GPU that is gone. */
    if (atomic_load(&gpu->lost)) {
        int index = g->index;
        char bus[AGENT_NVML_BUS_ID_SIZE];
        memcpy(bus, g->bus_id, sizeof(bus));
        memset(g, 0, sizeof(*g));
        g->index = index;
        memcpy(g->bus_id, bus, sizeof(bus));
        g->gpu_lost = 1;
    }
    return 0;
}

/* ---- events ------------------------------------------------------------ */

static int gpu_of_handle(const AgentNvml *a, nvmlDevice_t dev)
{
    for (int i = 0; i < a->nb_gpus; i++)
        if (a->gpus[i].dev && a->gpus[i].dev == dev)
            return i;
    return -1;
}

/* Sleeps up to ms, or until a stop is requested; 1 when stopping. */
static int sleep_unless_stopped(AgentNvml *a, unsigned ms)
{
    struct timespec ts;
    int stop;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&a->lock);
    while (!a->stop && pthread_cond_timedwait(&a->wake, &a->lock, &ts) == 0)
        ;
    stop = a->stop;
    pthread_mutex_unlock(&a->lock);
    return stop;
}

static int stop_requested(AgentNvml *a)
{
    int stop;

    pthread_mutex_lock(&a->lock);
    stop = a->stop;
    pthread_mutex_unlock(&a->lock);
    return stop;
}

static void *event_thread(void *arg)
{
    AgentNvml *a = arg;

    log_set_component("nvml/events");
    while (!stop_requested(a)) {
        nvmlEventData_t d;
        nvmlReturn_t rc;
        int idx;

        memset(&d, 0, sizeof(d));
        /* The timeout bounds how long a stop waits for this thread. */
        rc = a->api.EventSetWait(a->set, &d, a->poll_ms);
        if (rc == NVML_ERROR_TIMEOUT)
            continue;
        idx = gpu_of_handle(a, d.device);
        if (rc == NVML_SUCCESS) {
            if (d.eventType & nvmlEventTypeXidCriticalError) {
                pthread_mutex_lock(&a->lock);
                queue_event_locked(a, AGENT_NVML_EV_XID, idx, d.eventData);
                pthread_mutex_unlock(&a->lock);
                av_log(a, AV_LOG_WARNING, "GPU %d (%s): Xid %llu\n", idx,
                       idx >= 0 ? a->gpus[idx].bus_id : "?", d.eventData);
            }
            a->wait_rc_said = 0;
            continue;
        }
        if (rc == NVML_ERROR_GPU_IS_LOST) {
            /* Which GPU: the event's device when NVML filled it in, else
             * the only GPU there is. */
            if (idx < 0 && a->nb_gpus == 1)
                idx = 0;
            if (idx >= 0) {
                mark_lost(a, idx, "nvmlEventSetWait");
            } else {
                pthread_mutex_lock(&a->lock);
                if (!a->unknown_lost_queued)
                    queue_event_locked(a, AGENT_NVML_EV_GPU_LOST, -1, 0);
                a->unknown_lost_queued = 1;
                pthread_mutex_unlock(&a->lock);
            }
        } else if (rc != a->wait_rc_said) {
            av_log(a, AV_LOG_WARNING, "waiting for GPU events failed: %s (%d)\n",
                   nvml_str(a, rc), rc);
            a->wait_rc_said = rc;
        }
        /* A failing wait fails again at once: do not spin on it. */
        if (sleep_unless_stopped(a, a->poll_ms))
            break;
    }
    return NULL;
}

static void events_say_once(AgentNvml *a, const char *why)
{
    if (a->events_said)
        return;
    a->events_said = 1;
    av_log(a, AV_LOG_INFO, "GPU XID events not watched: %s\n", why);
}

int agent_nvml_events_start(AgentNvml *a, unsigned poll_ms)
{
    const NvmlApi *f = &a->api;
    int registered = 0, ret;
    nvmlReturn_t rc;

    if (a->status < 0)
        return AVERROR(ENODEV);
    if (a->thread_running)
        return AVERROR(EEXIST);
    if (!f->EventSetCreate || !f->EventSetFree || !f->DeviceRegisterEvents ||
        !f->EventSetWait) {
        events_say_once(a, "this NVML has no event API");
        return AVERROR(ENOSYS);
    }
    rc = f->EventSetCreate(&a->set);
    if (rc != NVML_SUCCESS) {
        char why[128];
        snprintf(why, sizeof(why), "nvmlEventSetCreate: %s (%d)", nvml_str(a, rc), rc);
        events_say_once(a, why);
        return AVERROR_EXTERNAL;
    }
    for (int i = 0; i < a->nb_gpus; i++) {
        NvmlGpu *gpu = &a->gpus[i];
        unsigned long long types = nvmlEventTypeXidCriticalError;

        if (!gpu->dev || atomic_load(&gpu->lost))
            continue;
        /* nvml.h: register only supported types, others fail the call. */
        if (f->DeviceGetSupportedEventTypes) {
            rc = f->DeviceGetSupportedEventTypes(gpu->dev, &types);
            if (rc == NVML_ERROR_GPU_IS_LOST) {
                mark_lost(a, i, "nvmlDeviceGetSupportedEventTypes");
                continue;
            }
            if (rc != NVML_SUCCESS || !(types & nvmlEventTypeXidCriticalError)) {
                av_log(a, AV_LOG_VERBOSE, "GPU %d: no XID events\n", i);
                continue;
            }
        }
        rc = f->DeviceRegisterEvents(gpu->dev, nvmlEventTypeXidCriticalError, a->set);
        if (rc == NVML_SUCCESS)
            registered++;
        else if (rc == NVML_ERROR_GPU_IS_LOST)
            mark_lost(a, i, "nvmlDeviceRegisterEvents");
        else
            av_log(a, AV_LOG_VERBOSE, "GPU %d: registering XID events: %s (%d)\n",
                   i, nvml_str(a, rc), rc);
    }
    if (!registered) {
        f->EventSetFree(a->set);
        a->set = NULL;
        events_say_once(a, "no GPU reports them");
        return AVERROR(ENOTSUP);
    }
    a->poll_ms = poll_ms ? poll_ms : 500;
    a->stop = 0;
    ret = pthread_create(&a->thread, NULL, event_thread, a);
    if (ret) {
        f->EventSetFree(a->set);
        a->set = NULL;
        av_log(a, AV_LOG_ERROR, "cannot start the GPU event thread: %s\n", strerror(ret));
        return AVERROR(ret);
    }
    a->thread_running = 1;
    av_log(a, AV_LOG_VERBOSE, "watching XID events on %d GPU%s\n", registered,
           registered == 1 ? "" : "s");
    return 0;
}

void agent_nvml_events_stop(AgentNvml *a)
{
    if (!a || !a->thread_running)
        return;
    pthread_mutex_lock(&a->lock);
    a->stop = 1;
    pthread_cond_broadcast(&a->wake);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    a->thread_running = 0;
    if (a->set && a->api.EventSetFree)
        a->api.EventSetFree(a->set);
    a->set = NULL;
}

int agent_nvml_drain_events(AgentNvml *a, AgentNvmlEvent *ev, int max,
                            unsigned *dropped)
{
    int n = 0;

    pthread_mutex_lock(&a->lock);
    while (n < max && a->q_len > 0) {
        ev[n++] = a->queue[a->q_head];
        a->q_head = (a->q_head + 1) % AGENT_NVML_EVENT_QUEUE;
        a->q_len--;
    }
    if (dropped)
        *dropped = a->dropped;
    a->dropped = 0;
    pthread_mutex_unlock(&a->lock);
    return n;
}
