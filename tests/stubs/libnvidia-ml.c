/*
 * tests/stubs/libnvidia-ml.c: a scripted NVML for the agent_nvml tests,
 * built into tests/stubs/libnvidia-ml.so and loaded by the agent instead of
 * the driver's libnvidia-ml.so.1.
 *
 * It exports the NVML functions hotspare uses, with NVML's ABI (the layouts
 * of nvml.h, NVML_API_VERSION 12), and answers what a script says. The
 * script is the file named by $HOTSPARE_NVML_STUB_SCRIPT, read at every
 * nvmlInit, one directive a line ('#' starts a comment):
 *
 *   devices N                      number of GPUs (default: highest index
 *                                  named + 1)
 *   init ERR                       nvmlInit fails with ERR
 *   count ERR                      nvmlDeviceGetCount fails with ERR
 *   METRIC DEV VALUE...            what a call returns for GPU DEV
 *   METRIC DEV ERR [after N]       fails with ERR (after N good calls)
 *   session DEV ID PID|self CODEC W H FPS LATENCY_US
 *   xid DEV XID [DELAY_MS]         an XID event, due DELAY_MS after the GPU
 *                                  registered for events
 *
 * METRIC is busid (a string), handle, enc_util (util period), dec_util,
 * enc_capacity_h264, enc_capacity_hevc, enc_stats (sessions fps latency),
 * enc_sessions (no value: zero sessions), utilization (gpu memory), memory
 * (total free used), temperature, power (mW), clock_reasons (a mask),
 * event_types (a mask), register_events, event_wait. ERR is ERR_NAME
 * (ERR_NOT_SUPPORTED, ERR_GPU_IS_LOST, ... as in nvmlReturn_t) or ERR_<n>.
 * A metric the script does not name is NOT_SUPPORTED (handle, busid and the
 * event calls succeed by default).
 *
 * Test hooks, found with dlsym on the same library:
 *   int hs_stub_nvml_calls(const char *fn)   calls of fn since nvmlInit;
 *                                            "after_shutdown": calls made
 *                                            after nvmlShutdown
 *   int hs_stub_nvml_active_waits(void)      threads inside an event wait
 *
 * Variants include this file: libnvidia-ml-old.c (STUB_OLD_API: only the
 * unversioned names of old drivers, no optional encoder symbols) and
 * libnvidia-ml-nocount.c (STUB_NO_COUNT: no nvmlDeviceGetCount at all).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef STUB_OLD_API
#define STUB_OLD_API 0
#endif
#ifndef STUB_NO_COUNT
#define STUB_NO_COUNT 0
#endif

#define NVML_SUCCESS                        0
#define NVML_ERROR_UNINITIALIZED            1
#define NVML_ERROR_INVALID_ARGUMENT         2
#define NVML_ERROR_NOT_SUPPORTED            3
#define NVML_ERROR_INSUFFICIENT_SIZE        7
#define NVML_ERROR_TIMEOUT                 10
#define NVML_ERROR_ARGUMENT_VERSION_MISMATCH 25

typedef int nvmlReturn_t;
typedef struct StubDev *nvmlDevice_t;
typedef struct StubSet *nvmlEventSet_t;

typedef struct nvmlPciInfo_t {          /* _v2, _v3 */
    char busIdLegacy[16];
    unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;

typedef struct nvmlPciInfo_v1_t {       /* the unversioned call */
    char busId[16];
    unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
    unsigned reserved0, reserved1, reserved2, reserved3;
} nvmlPciInfo_v1_t;

typedef struct nvmlUtilization_t { unsigned gpu, memory; } nvmlUtilization_t;
typedef struct nvmlMemory_t { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct nvmlMemory_v2_t {
    unsigned version;
    unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
typedef struct nvmlEncoderSessionInfo_t {
    unsigned sessionId, pid, vgpuInstance, codecType;
    unsigned hResolution, vResolution, averageFps, averageLatency;
} nvmlEncoderSessionInfo_t;
typedef struct nvmlEventData_t {
    nvmlDevice_t device;
    unsigned long long eventType, eventData;
    unsigned gpuInstanceId, computeInstanceId;
} nvmlEventData_t;
typedef struct nvmlEventData_v1_t {     /* nvmlEventSetWait (v1) */
    nvmlDevice_t device;
    unsigned long long eventType, eventData;
} nvmlEventData_v1_t;

/* Exported: NVML's functions and the test hooks. */
nvmlReturn_t nvmlInit_v2(void);
nvmlReturn_t nvmlInit(void);
nvmlReturn_t nvmlShutdown(void);
const char *nvmlErrorString(nvmlReturn_t rc);
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned *count);
nvmlReturn_t nvmlDeviceGetCount(unsigned *count);
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned idx, nvmlDevice_t *dev);
nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned idx, nvmlDevice_t *dev);
nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t dev, nvmlPciInfo_t *pci);
nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t dev, nvmlPciInfo_t *pci);
nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t dev, nvmlPciInfo_v1_t *pci);
nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t dev, unsigned *u, unsigned *p);
nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t dev, unsigned *u, unsigned *p);
nvmlReturn_t nvmlDeviceGetEncoderCapacity(nvmlDevice_t dev, int type, unsigned *cap);
nvmlReturn_t nvmlDeviceGetEncoderStats(nvmlDevice_t dev, unsigned *n, unsigned *fps,
                                       unsigned *lat);
nvmlReturn_t nvmlDeviceGetEncoderSessions(nvmlDevice_t dev, unsigned *count,
                                          nvmlEncoderSessionInfo_t *infos);
nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t dev, nvmlUtilization_t *u);
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t dev, nvmlMemory_t *m);
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t dev, nvmlMemory_v2_t *m);
nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t dev, int sensor, unsigned *t);
nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t dev, unsigned *mw);
nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t dev, unsigned long long *r);
nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t dev,
                                                       unsigned long long *r);
nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set);
nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set);
nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t dev, unsigned long long *types);
nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t dev, unsigned long long types,
                                      nvmlEventSet_t set);
nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned ms);
nvmlReturn_t nvmlEventSetWait(nvmlEventSet_t set, nvmlEventData_v1_t *data, unsigned ms);
int hs_stub_nvml_calls(const char *fn);
int hs_stub_nvml_active_waits(void);

/* ---- the scripted state -------------------------------------------------- */

enum Metric {
    M_BUSID, M_HANDLE, M_ENC_UTIL, M_DEC_UTIL, M_ENC_CAP_H264, M_ENC_CAP_HEVC,
    M_ENC_STATS, M_ENC_SESSIONS, M_UTIL, M_MEMORY, M_TEMP, M_POWER, M_REASONS,
    M_EVENT_TYPES, M_REGISTER, M_WAIT, NB_M
};
static const char *const metric_names[NB_M] = {
    "busid", "handle", "enc_util", "dec_util", "enc_capacity_h264",
    "enc_capacity_hevc", "enc_stats", "enc_sessions", "utilization", "memory",
    "temperature", "power", "clock_reasons", "event_types", "register_events",
    "event_wait",
};
/* Succeed unscripted: the calls every GPU answers. */
static const int default_ok[NB_M] = {
    [M_BUSID] = 1, [M_HANDLE] = 1, [M_EVENT_TYPES] = 1, [M_REGISTER] = 1, [M_WAIT] = 1,
};

typedef struct Value {
    int set;
    unsigned long long v[4];
    int err;                      /* 0: none */
    long err_after;               /* good calls before err */
    unsigned calls;
} Value;

typedef struct StubXid {
    unsigned long long xid;
    long delay_ms;
    int delivered;
} StubXid;

struct StubDev {
    char busid[32];
    Value m[NB_M];
    nvmlEncoderSessionInfo_t sessions[16];
    int nb_sessions;
    StubXid xids[8];
    int nb_xids;
    int registered;
    long long registered_ms;
};

struct StubSet {
    int unused;
};

#define MAX_DEV 8
#define MAX_FN  64

static struct {
    pthread_mutex_t lock;
    int inited;
    int ndev;
    struct StubDev dev[MAX_DEV];
    int init_err, count_err;
    struct { const char *fn; int n; } calls[MAX_FN];
    int nb_calls;
    int after_shutdown;
    int active_waits;
    struct StubSet set;
} st = { .lock = PTHREAD_MUTEX_INITIALIZER };

static const struct { const char *name; int rc; } errors[] = {
    { "UNINITIALIZED", 1 }, { "INVALID_ARGUMENT", 2 }, { "NOT_SUPPORTED", 3 },
    { "NO_PERMISSION", 4 }, { "ALREADY_INITIALIZED", 5 }, { "NOT_FOUND", 6 },
    { "INSUFFICIENT_SIZE", 7 }, { "INSUFFICIENT_POWER", 8 },
    { "DRIVER_NOT_LOADED", 9 }, { "TIMEOUT", 10 }, { "IRQ_ISSUE", 11 },
    { "LIBRARY_NOT_FOUND", 12 }, { "FUNCTION_NOT_FOUND", 13 },
    { "CORRUPTED_INFOROM", 14 }, { "GPU_IS_LOST", 15 }, { "RESET_REQUIRED", 16 },
    { "OPERATING_SYSTEM", 17 }, { "LIB_RM_VERSION_MISMATCH", 18 }, { "IN_USE", 19 },
    { "MEMORY", 20 }, { "NO_DATA", 21 }, { "ARGUMENT_VERSION_MISMATCH", 25 },
    { "UNKNOWN", 999 },
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Counts a call; under st.lock. */
static void count_call_locked(const char *fn)
{
    if (!st.inited)
        st.after_shutdown++;
    for (int i = 0; i < st.nb_calls; i++)
        if (!strcmp(st.calls[i].fn, fn)) {
            st.calls[i].n++;
            return;
        }
    if (st.nb_calls < MAX_FN) {
        st.calls[st.nb_calls].fn = fn;
        st.calls[st.nb_calls++].n = 1;
    }
}

int hs_stub_nvml_calls(const char *fn)
{
    int n = 0;

    pthread_mutex_lock(&st.lock);
    if (!strcmp(fn, "after_shutdown"))
        n = st.after_shutdown;
    for (int i = 0; i < st.nb_calls; i++)
        if (!strcmp(st.calls[i].fn, fn))
            n = st.calls[i].n;
    pthread_mutex_unlock(&st.lock);
    return n;
}

int hs_stub_nvml_active_waits(void)
{
    int n;

    pthread_mutex_lock(&st.lock);
    n = st.active_waits;
    pthread_mutex_unlock(&st.lock);
    return n;
}

static int parse_err(const char *s)
{
    if (strncmp(s, "ERR_", 4))
        return 0;
    s += 4;
    if (isdigit((unsigned char)*s))
        return atoi(s);
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
        if (!strcmp(s, errors[i].name))
            return errors[i].rc;
    fprintf(stderr, "nvml stub: unknown error name ERR_%s\n", s);
    return 999;
}

static void script_line(char *line, int lineno)
{
    char *tok[12];
    int n = 0, dev;
    char *save = NULL, *p;

    if ((p = strchr(line, '#')))
        *p = 0;
    for (p = strtok_r(line, " \t\r\n", &save); p && n < 12;
         p = strtok_r(NULL, " \t\r\n", &save))
        tok[n++] = p;
    if (!n)
        return;
    if (!strcmp(tok[0], "devices") && n == 2) {
        st.ndev = atoi(tok[1]);
        return;
    }
    if (!strcmp(tok[0], "init") && n == 2) {
        st.init_err = parse_err(tok[1]);
        return;
    }
    if (!strcmp(tok[0], "count") && n == 2) {
        st.count_err = parse_err(tok[1]);
        return;
    }
    if (n < 2 || (dev = atoi(tok[1])) < 0 || dev >= MAX_DEV)
        goto bad;
    if (dev >= st.ndev)
        st.ndev = dev + 1;
    if (!strcmp(tok[0], "session") && n == 9) {
        struct StubDev *d = &st.dev[dev];
        nvmlEncoderSessionInfo_t *s;
        if (d->nb_sessions >= 16)
            goto bad;
        s = &d->sessions[d->nb_sessions++];
        s->sessionId = strtoul(tok[2], NULL, 0);
        s->pid = !strcmp(tok[3], "self") ? (unsigned)getpid() : strtoul(tok[3], NULL, 0);
        s->codecType = strtoul(tok[4], NULL, 0);
        s->hResolution = strtoul(tok[5], NULL, 0);
        s->vResolution = strtoul(tok[6], NULL, 0);
        s->averageFps = strtoul(tok[7], NULL, 0);
        s->averageLatency = strtoul(tok[8], NULL, 0);
        d->m[M_ENC_SESSIONS].set = 1;
        return;
    }
    if (!strcmp(tok[0], "xid") && (n == 3 || n == 4)) {
        struct StubDev *d = &st.dev[dev];
        if (d->nb_xids >= 8)
            goto bad;
        d->xids[d->nb_xids].xid = strtoull(tok[2], NULL, 0);
        d->xids[d->nb_xids++].delay_ms = n == 4 ? atol(tok[3]) : 0;
        return;
    }
    for (int m = 0; m < NB_M; m++) {
        Value *v;
        if (strcmp(tok[0], metric_names[m]))
            continue;
        v = &st.dev[dev].m[m];
        if (n >= 3 && !strncmp(tok[2], "ERR_", 4)) {
            v->err = parse_err(tok[2]);
            v->err_after = 0;
            if (n == 5 && !strcmp(tok[3], "after"))
                v->err_after = atol(tok[4]);
            else if (n != 3)
                goto bad;
            return;
        }
        if (m == M_BUSID) {
            if (n != 3)
                goto bad;
            snprintf(st.dev[dev].busid, sizeof(st.dev[dev].busid), "%s", tok[2]);
        }
        v->set = 1;
        for (int i = 2; i < n && i < 6 && m != M_BUSID; i++)
            v->v[i - 2] = strtoull(tok[i], NULL, 0);
        return;
    }
bad:
    fprintf(stderr, "nvml stub: script line %d not understood\n", lineno);
}

/* Resets the state and reads the script; under st.lock. */
static void load_script_locked(void)
{
    const char *path = getenv("HOTSPARE_NVML_STUB_SCRIPT");
    char line[512];
    int lineno = 0;
    FILE *f;

    memset(st.dev, 0, sizeof(st.dev));
    st.ndev = -1;
    st.init_err = st.count_err = 0;
    st.nb_calls = 0;
    st.after_shutdown = 0;
    if (path && (f = fopen(path, "r"))) {
        while (fgets(line, sizeof(line), f))
            script_line(line, ++lineno);
        fclose(f);
    } else if (path) {
        fprintf(stderr, "nvml stub: cannot read %s\n", path);
    }
    if (st.ndev < 0)
        st.ndev = 1;
    for (int i = 0; i < st.ndev; i++)
        if (!st.dev[i].busid[0])
            snprintf(st.dev[i].busid, sizeof(st.dev[i].busid), "%08X:%02X:00.0", 0, i + 1);
}

/* The scripted outcome of one call of metric m on d; under st.lock. */
static nvmlReturn_t take_locked(struct StubDev *d, int m)
{
    Value *v = &d->m[m];
    unsigned n = v->calls++;

    if (v->err && n >= (unsigned long)v->err_after)
        return v->err;
    if (!v->set && !default_ok[m])
        return NVML_ERROR_NOT_SUPPORTED;
    return NVML_SUCCESS;
}

/* Validates the device and takes the outcome; returns with st.lock held
 * when the result is NVML_SUCCESS. */
static nvmlReturn_t enter(const char *fn, nvmlDevice_t dev, int m)
{
    nvmlReturn_t rc;

    pthread_mutex_lock(&st.lock);
    count_call_locked(fn);
    if (!st.inited)
        rc = NVML_ERROR_UNINITIALIZED;
    else if (!dev || dev < st.dev || dev >= st.dev + st.ndev)
        rc = NVML_ERROR_INVALID_ARGUMENT;
    else
        rc = take_locked(dev, m);
    if (rc != NVML_SUCCESS)
        pthread_mutex_unlock(&st.lock);
    return rc;
}

#define LEAVE(rc) do { pthread_mutex_unlock(&st.lock); return (rc); } while (0)

/* ---- NVML ------------------------------------------------------------------ */

static nvmlReturn_t do_init(const char *fn)
{
    nvmlReturn_t rc;

    pthread_mutex_lock(&st.lock);
    load_script_locked();
    count_call_locked(fn);
    st.after_shutdown = 0;        /* init itself is not a late call */
    rc = st.init_err;
    st.inited = rc == NVML_SUCCESS;
    pthread_mutex_unlock(&st.lock);
    return rc;
}

#if !STUB_OLD_API
nvmlReturn_t nvmlInit_v2(void)
{
    return do_init("nvmlInit_v2");
}
#endif

nvmlReturn_t nvmlInit(void)
{
    return do_init("nvmlInit");
}

nvmlReturn_t nvmlShutdown(void)
{
    pthread_mutex_lock(&st.lock);
    count_call_locked("nvmlShutdown");
    st.inited = 0;
    pthread_mutex_unlock(&st.lock);
    return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t rc)
{
    if (rc == NVML_SUCCESS)
        return "Success";
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
        if (errors[i].rc == rc)
            return errors[i].name;
    return "Unknown Error";
}

#if !STUB_NO_COUNT
static nvmlReturn_t do_count(const char *fn, unsigned *count)
{
    nvmlReturn_t rc;

    pthread_mutex_lock(&st.lock);
    count_call_locked(fn);
    rc = !st.inited ? NVML_ERROR_UNINITIALIZED : st.count_err;
    if (rc == NVML_SUCCESS)
        *count = st.ndev;
    pthread_mutex_unlock(&st.lock);
    return rc;
}

#if !STUB_OLD_API
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned *count)
{
    return do_count("nvmlDeviceGetCount_v2", count);
}
#endif

nvmlReturn_t nvmlDeviceGetCount(unsigned *count)
{
    return do_count("nvmlDeviceGetCount", count);
}
#endif

static nvmlReturn_t do_handle(const char *fn, unsigned idx, nvmlDevice_t *dev)
{
    nvmlReturn_t rc;

    pthread_mutex_lock(&st.lock);
    count_call_locked(fn);
    if (!st.inited)
        rc = NVML_ERROR_UNINITIALIZED;
    else if (idx >= (unsigned)st.ndev)
        rc = NVML_ERROR_INVALID_ARGUMENT;
    else
        rc = take_locked(&st.dev[idx], M_HANDLE);
    if (rc == NVML_SUCCESS)
        *dev = &st.dev[idx];
    pthread_mutex_unlock(&st.lock);
    return rc;
}

#if !STUB_OLD_API
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned idx, nvmlDevice_t *dev)
{
    return do_handle("nvmlDeviceGetHandleByIndex_v2", idx, dev);
}
#endif

nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned idx, nvmlDevice_t *dev)
{
    return do_handle("nvmlDeviceGetHandleByIndex", idx, dev);
}

/* The legacy 16-byte form "%04X:%02X:%02X.0": the id without the domain's
 * upper half. */
static void legacy_bus_id(const char *busid, char out[16])
{
    size_t len = strlen(busid);
    snprintf(out, 16, "%.12s", len > 12 ? busid + len - 12 : busid);
}

#if !STUB_OLD_API
static nvmlReturn_t do_pci(const char *fn, nvmlDevice_t dev, nvmlPciInfo_t *pci)
{
    nvmlReturn_t rc = enter(fn, dev, M_BUSID);

    if (rc != NVML_SUCCESS)
        return rc;
    memset(pci, 0, sizeof(*pci));
    snprintf(pci->busId, sizeof(pci->busId), "%s", dev->busid);
    legacy_bus_id(dev->busid, pci->busIdLegacy);
    LEAVE(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t dev, nvmlPciInfo_t *pci)
{
    return do_pci("nvmlDeviceGetPciInfo_v3", dev, pci);
}

nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t dev, nvmlPciInfo_t *pci)
{
    return do_pci("nvmlDeviceGetPciInfo_v2", dev, pci);
}
#endif

nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t dev, nvmlPciInfo_v1_t *pci)
{
    nvmlReturn_t rc = enter("nvmlDeviceGetPciInfo", dev, M_BUSID);

    if (rc != NVML_SUCCESS)
        return rc;
    /* Fills only the old, smaller struct: busId[16] first. */
    memset(pci, 0, sizeof(*pci));
    legacy_bus_id(dev->busid, pci->busId);
    LEAVE(NVML_SUCCESS);
}

#if !STUB_OLD_API
nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t dev, unsigned *u, unsigned *p)
{
    nvmlReturn_t rc = enter("nvmlDeviceGetEncoderUtilization", dev, M_ENC_UTIL);

    if (rc != NVML_SUCCESS)
        return rc;
    *u = dev->m[M_ENC_UTIL].v[0];
    *p = dev->m[M_ENC_UTIL].v[1];
    LEAVE(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t dev, unsigned *u, unsigned *p)
{
    nvmlReturn_t rc = enter("nvmlDeviceGetDecoderUtilization", dev, M_DEC_UTIL);

    if (rc != NVML_SUCCESS)
        return rc;
    *u = dev->m[M_DEC_UTIL].v[0];
    *p = dev->m[M_DEC_UTIL].v[1];
    LEAVE(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetEncoderCapacity(nvmlDevice_t dev, int type, unsigned *cap)
{
    int m = type == 0 ? M_ENC_CAP_H264 : M_ENC_CAP_HEVC;
    nvmlReturn_t rc;

    if (type != 0 && type != 1)
        return NVML_ERROR_INVALID_ARGUMENT;
    rc = enter("nvmlDeviceGetEncoderCapacity", dev, m);
    if (rc != NVML_SUCCESS)
        return rc;
    *cap = dev->m[m].v[0];
    LEAVE(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetEncoderStats(nvmlDevice_t dev, unsigned *n, unsigned *fps,
                                       unsigned *lat)
{
    nvmlReturn_t rc = enter("nvmlDeviceGetEncoderStats", dev, M_ENC_STATS);

    if (rc != NVML_SUCCESS)
        return rc;
    *n = dev->m[M_ENC_STATS].v[0];
    *fps = dev->m[M_ENC_STATS].v[1];
    *lat = dev->m[M_ENC_STATS].v[2];
    LEAVE(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetEncoderSessions(nvmlDevice_t dev, unsigned *count,
                                          nvmlEncoderSessionInfo_t *infos)
{
    nvmlReturn_t rc = enter("nvmlDeviceGetEncoderSessions", dev, M_ENC_SESSIONS);
    unsigned n;

    if (rc != NVML_SUCCESS)
        return rc;
    n = dev->nb_sessions;
    /* nvml.h: a zero count asks for the number; too small a buffer gets
     * INSUFFICIENT_SIZE and the number needed. */
    if (*count == 0) {
        *count = n;
        LEAVE(NVML_SUCCESS);
    }
    if (*count < n) {
        *count = n;
        LEAVE(NVML_ERROR_INSUFFICIENT_SIZE);
    }
    if (!infos)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    memcpy(infos, dev->sessions, n * sizeof(*infos));
    *count = n;
    LEAVE(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t dev, nvmlMemory_v2_t *m)
{
    nvmlReturn_t rc;

    /* NVML checks the version word first: a caller with the wrong layout
     * gets ARGUMENT_VERSION_MISMATCH. */
    if (m->version != ((unsigned)sizeof(nvmlMemory_v2_t) | 2u << 24))
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    rc = enter("nvmlDeviceGetMemoryInfo_v2", dev, M_MEMORY);
    if (rc != NVML_SUCCESS)
        return rc;
    m->total = dev->m[M_MEMORY].v[0];
    m->free = dev->m[M_MEMORY].v[1];
    m->used = dev->m[M_MEMORY].v[2];
    m->reserved = 0;
    LEAVE(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t dev, unsigned long long *r)
{
    nvmlReturn_t rc = enter("nvmlDeviceGetCurrentClocksEventReasons", dev, M_REASONS);

    if (rc != NVML_SUCCESS)
        return rc;
    *r = dev->m[M_REASONS].v[0];
    LEAVE(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t dev, unsigned long long *types)
{
    nvmlReturn_t rc = enter("nvmlDeviceGetSupportedEventTypes", dev, M_EVENT_TYPES);

    if (rc != NVML_SUCCESS)
        return rc;
    *types = dev->m[M_EVENT_TYPES].set ? dev->m[M_EVENT_TYPES].v[0] : 0x8ULL;
    LEAVE(NVML_SUCCESS);
}
#endif /* !STUB_OLD_API */

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t dev, nvmlUtilization_t *u)
{
    nvmlReturn_t rc = enter("nvmlDeviceGetUtilizationRates", dev, M_UTIL);

    if (rc != NVML_SUCCESS)
        return rc;
    u->gpu = dev->m[M_UTIL].v[0];
    u->memory = dev->m[M_UTIL].v[1];
    LEAVE(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t dev, nvmlMemory_t *m)
{
    nvmlReturn_t rc = enter("nvmlDeviceGetMemoryInfo", dev, M_MEMORY);

    if (rc != NVML_SUCCESS)
        return rc;
    m->total = dev->m[M_MEMORY].v[0];
    m->free = dev->m[M_MEMORY].v[1];
    m->used = dev->m[M_MEMORY].v[2];
    LEAVE(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t dev, int sensor, unsigned *t)
{
    nvmlReturn_t rc;

    if (sensor != 0)
        return NVML_ERROR_INVALID_ARGUMENT;
    rc = enter("nvmlDeviceGetTemperature", dev, M_TEMP);
    if (rc != NVML_SUCCESS)
        return rc;
    *t = dev->m[M_TEMP].v[0];
    LEAVE(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t dev, unsigned *mw)
{
    nvmlReturn_t rc = enter("nvmlDeviceGetPowerUsage", dev, M_POWER);

    if (rc != NVML_SUCCESS)
        return rc;
    *mw = dev->m[M_POWER].v[0];
    LEAVE(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t dev,
                                                       unsigned long long *r)
{
    nvmlReturn_t rc = enter("nvmlDeviceGetCurrentClocksThrottleReasons", dev, M_REASONS);

    if (rc != NVML_SUCCESS)
        return rc;
    *r = dev->m[M_REASONS].v[0];
    LEAVE(NVML_SUCCESS);
}

nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set)
{
    nvmlReturn_t rc;

    pthread_mutex_lock(&st.lock);
    count_call_locked("nvmlEventSetCreate");
    *set = &st.set;
    rc = st.inited ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
    pthread_mutex_unlock(&st.lock);
    return rc;
}

nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set)
{
    pthread_mutex_lock(&st.lock);
    count_call_locked("nvmlEventSetFree");
    pthread_mutex_unlock(&st.lock);
    return set == &st.set ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT;
}

nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t dev, unsigned long long types,
                                      nvmlEventSet_t set)
{
    nvmlReturn_t rc = enter("nvmlDeviceRegisterEvents", dev, M_REGISTER);

    if (rc != NVML_SUCCESS)
        return rc;
    if (set != &st.set || types != 0x8ULL)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    dev->registered = 1;
    dev->registered_ms = now_ms();
    LEAVE(NVML_SUCCESS);
}

/*
 * Waits like NVML: returns a due XID of a registered GPU, the scripted
 * event_wait error of a registered GPU, or TIMEOUT after timeout ms.
 */
static nvmlReturn_t do_wait(const char *fn, nvmlEventSet_t set, nvmlDevice_t *pdev,
                            unsigned long long *type, unsigned long long *data,
                            unsigned timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    nvmlReturn_t rc = NVML_ERROR_TIMEOUT;

    pthread_mutex_lock(&st.lock);
    count_call_locked(fn);
    if (!st.inited || set != &st.set) {
        pthread_mutex_unlock(&st.lock);
        return !st.inited ? NVML_ERROR_UNINITIALIZED : NVML_ERROR_INVALID_ARGUMENT;
    }
    st.active_waits++;
    for (;;) {
        long long t = now_ms(), next = deadline;
        for (int i = 0; i < st.ndev && rc == NVML_ERROR_TIMEOUT; i++) {
            struct StubDev *d = &st.dev[i];
            if (!d->registered)
                continue;
            if ((rc = take_locked(d, M_WAIT)) != NVML_SUCCESS) {
                *pdev = d;
                break;
            }
            rc = NVML_ERROR_TIMEOUT;
            for (int j = 0; j < d->nb_xids; j++) {
                StubXid *x = &d->xids[j];
                long long due = d->registered_ms + x->delay_ms;
                if (x->delivered)
                    continue;
                if (due <= t) {
                    x->delivered = 1;
                    *pdev = d;
                    *type = 0x8ULL;
                    *data = x->xid;
                    rc = NVML_SUCCESS;
                    break;
                }
                if (due < next)
                    next = due;
            }
        }
        if (rc != NVML_ERROR_TIMEOUT || t >= deadline)
            break;
        pthread_mutex_unlock(&st.lock);
        usleep((useconds_t)(next - t > 5 ? 5 : next - t > 0 ? next - t : 1) * 1000);
        pthread_mutex_lock(&st.lock);
    }
    st.active_waits--;
    pthread_mutex_unlock(&st.lock);
    return rc;
}

#if !STUB_OLD_API
nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned ms)
{
    nvmlDevice_t dev = NULL;
    unsigned long long type = 0, xid = 0;
    nvmlReturn_t rc = do_wait("nvmlEventSetWait_v2", set, &dev, &type, &xid, ms);

    data->device = dev;
    if (rc == NVML_SUCCESS) {
        data->eventType = type;
        data->eventData = xid;
        data->gpuInstanceId = data->computeInstanceId = 0xFFFFFFFFu;
    }
    return rc;
}
#endif

nvmlReturn_t nvmlEventSetWait(nvmlEventSet_t set, nvmlEventData_v1_t *data, unsigned ms)
{
    nvmlDevice_t dev = NULL;
    unsigned long long type = 0, xid = 0;
    nvmlReturn_t rc = do_wait("nvmlEventSetWait", set, &dev, &type, &xid, ms);

    /* the v1 struct only: 24 bytes */
    data->device = dev;
    if (rc == NVML_SUCCESS) {
        data->eventType = type;
        data->eventData = xid;
    }
    return rc;
}
