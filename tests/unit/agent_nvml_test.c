/*
 * agent_nvml_test.c: the NVML agent against the scripted stub NVML
 * (tests/stubs/libnvidia-ml*.so, see tests/stubs/libnvidia-ml.c).
 *
 * The stub is loaded from the build tree next to this program, so the test
 * runs from any directory. The test holds its own dlopen handle on each
 * stub to read the stub's call counters, also after the agent unloaded it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/time.h>

#include "hma/agent_nvml.h"

/* ---- log capture ------------------------------------------------------- */

#define MAX_LINES 256
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_lines[MAX_LINES][512];
static int log_levels[MAX_LINES];
static int nb_log_lines;

static void log_capture(void *avcl, int level, const char *fmt, va_list vl)
{
    pthread_mutex_lock(&log_lock);
    if (nb_log_lines < MAX_LINES) {
        vsnprintf(log_lines[nb_log_lines], sizeof(log_lines[0]), fmt, vl);
        log_levels[nb_log_lines++] = level;
    }
    pthread_mutex_unlock(&log_lock);
}

static void log_reset(void)
{
    pthread_mutex_lock(&log_lock);
    nb_log_lines = 0;
    pthread_mutex_unlock(&log_lock);
}

/* Lines containing needle, at level max_level or more important. */
static int log_count(const char *needle, int max_level)
{
    int n = 0;

    pthread_mutex_lock(&log_lock);
    for (int i = 0; i < nb_log_lines; i++)
        if (strstr(log_lines[i], needle) && log_levels[i] <= max_level)
            n++;
    pthread_mutex_unlock(&log_lock);
    return n;
}

/* ---- stub and script helpers ------------------------------------------- */

static char stub_dir[PATH_MAX / 2];
static char script_path[64];

static void stub_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", stub_dir, name);
}

static void write_script(const char *text)
{
    FILE *f = fopen(script_path, "w");

    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
    setenv("HOTSPARE_NVML_STUB_SCRIPT", script_path, 1);
}

typedef struct StubHooks {
    void *lib;
    int (*calls)(const char *fn);
    int (*active_waits)(void);
} StubHooks;

static void hooks_open(StubHooks *h, const char *name)
{
    char path[PATH_MAX];

    stub_path(path, sizeof(path), name);
    h->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CU_ASSERT_FATAL(h->lib != NULL);
    *(void **)&h->calls = dlsym(h->lib, "hs_stub_nvml_calls");
    *(void **)&h->active_waits = dlsym(h->lib, "hs_stub_nvml_active_waits");
    CU_ASSERT_FATAL(h->calls && h->active_waits);
}

static void hooks_close(StubHooks *h)
{
    if (h->lib)
        dlclose(h->lib);
    h->lib = NULL;
}

static AgentNvml *open_stub(const char *name)
{
    char path[PATH_MAX];
    AgentNvml *a = NULL;

    stub_path(path, sizeof(path), name);
    CU_ASSERT_FATAL(agent_nvml_alloc(&a, path) == 0);
    CU_ASSERT_FATAL(a != NULL);
    return a;
}

/* Drains until want events came or timeout_ms passed. */
static int wait_events(AgentNvml *a, AgentNvmlEvent *ev, int want, int timeout_ms)
{
    int64_t end = av_gettime_relative() + timeout_ms * 1000LL;
    int n = 0;

    while (n < want && av_gettime_relative() < end) {
        n += agent_nvml_drain_events(a, ev + n, want - n, NULL);
        if (n < want)
            av_usleep(5000);
    }
    return n;
}

static const char full_script[] =
    "# two GPUs, everything scripted\n"
    "devices 2\n"
    "busid 0 00000000:01:00.0\n"
    "busid 1 00000000:41:00.0\n"
    "enc_util 0 55 167000\n"
    "dec_util 0 12 167000\n"
    "enc_capacity_h264 0 80\n"
    "enc_capacity_hevc 0 70\n"
    "enc_stats 0 3 59 1800\n"
    "session 0 11 self 0 1280 720 60 1500\n"
    "session 0 12 999999 1 1920 1080 30 2500\n"
    "session 0 13 self 1 1920 1080 29 3100\n"
    "utilization 0 40 10\n"
    "memory 0 16000000000 12000000000 4000000000\n"
    "temperature 0 65\n"
    "power 0 75500\n"
    "clock_reasons 0 0x24\n"
    "utilization 1 7 3\n";

/* ---- tests ------------------------------------------------------------- */

static void test_bus_id_forms(void)
{
    char b[AGENT_NVML_BUS_ID_SIZE];

    CU_ASSERT(agent_nvml_normalize_bus_id("00000000:01:00.0", b) == 0);
    CU_ASSERT_STRING_EQUAL(b, "00000000:01:00.0");
    CU_ASSERT(agent_nvml_normalize_bus_id("0000:41:00.0", b) == 0);
    CU_ASSERT_STRING_EQUAL(b, "00000000:41:00.0");
    CU_ASSERT(agent_nvml_normalize_bus_id("0a:1f.3", b) == 0);
    CU_ASSERT_STRING_EQUAL(b, "00000000:0A:1F.3");
    CU_ASSERT(agent_nvml_normalize_bus_id("10000:c1:00.0", b) == 0);
    CU_ASSERT_STRING_EQUAL(b, "00010000:C1:00.0");
    CU_ASSERT(agent_nvml_normalize_bus_id("", b) == AVERROR(EINVAL));
    CU_ASSERT(agent_nvml_normalize_bus_id("01:00", b) == AVERROR(EINVAL));
    CU_ASSERT(agent_nvml_normalize_bus_id("0000:01:00.0x", b) == AVERROR(EINVAL));
    CU_ASSERT(agent_nvml_normalize_bus_id("0000:100:00.0", b) == AVERROR(EINVAL));
    CU_ASSERT(agent_nvml_normalize_bus_id("gpu0", b) == AVERROR(EINVAL));
}

static void test_no_library(void)
{
    AgentNvml *a = NULL;
    AgentNvmlGpu g;
    AgentNvmlEvent ev;
    const char *msg;

    log_reset();
    unsetenv(AGENT_NVML_LIB_ENV);
    CU_ASSERT_FATAL(agent_nvml_alloc(&a, "/nonexistent/libnvidia-ml.so.1") == 0);
    CU_ASSERT(agent_nvml_status(a, &msg) == AVERROR(ENOENT));
    CU_ASSERT(strstr(msg, "/nonexistent/libnvidia-ml.so.1") != NULL);
    CU_ASSERT(agent_nvml_nb_gpus(a) == 0);
    for (int i = 0; i < 3; i++)
        CU_ASSERT(agent_nvml_sample(a, 0, &g) == AVERROR(ENODEV));
    CU_ASSERT(g.present == 0 && !g.gpu_lost);
    CU_ASSERT(agent_nvml_events_start(a, 10) == AVERROR(ENODEV));
    CU_ASSERT(agent_nvml_drain_events(a, &ev, 1, NULL) == 0);
    CU_ASSERT(agent_nvml_find_gpu(a, "0000:01:00.0") == AVERROR(ENOENT));
    /* said once, at info, and nothing louder than info at all */
    CU_ASSERT(log_count("NVML not available", AV_LOG_INFO) == 1);
    CU_ASSERT(log_count("", AV_LOG_WARNING) == 0);
    agent_nvml_free(&a);
    CU_ASSERT(a == NULL);
    agent_nvml_free(&a);          /* NULL is fine */
    agent_nvml_free(NULL);

    /* the environment names the library when the argument does not */
    setenv(AGENT_NVML_LIB_ENV, "/nonexistent/from-env.so", 1);
    CU_ASSERT_FATAL(agent_nvml_alloc(&a, NULL) == 0);
    CU_ASSERT(agent_nvml_status(a, &msg) == AVERROR(ENOENT));
    CU_ASSERT(strstr(msg, "/nonexistent/from-env.so") != NULL);
    agent_nvml_free(&a);
    unsetenv(AGENT_NVML_LIB_ENV);
}

static void test_scripted_values(void)
{
    StubHooks h = { 0 };
    AgentNvml *a;
    AgentNvmlGpu g;
    const char *msg;

    write_script(full_script);
    hooks_open(&h, "libnvidia-ml.so");
    a = open_stub("libnvidia-ml.so");
    CU_ASSERT(agent_nvml_status(a, &msg) == 0);
    CU_ASSERT_FATAL(agent_nvml_nb_gpus(a) == 2);
    /* the versioned names were preferred */
    CU_ASSERT(h.calls("nvmlInit_v2") == 1 && h.calls("nvmlInit") == 0);
    CU_ASSERT(h.calls("nvmlDeviceGetCount_v2") == 1);
    CU_ASSERT(h.calls("nvmlDeviceGetPciInfo_v3") == 2);

    /* matching an encoder's GPU by bus id, in CUDA's and DRM's forms */
    CU_ASSERT(agent_nvml_find_gpu(a, "0000:01:00.0") == 0);
    CU_ASSERT(agent_nvml_find_gpu(a, "41:00.0") == 1);
    CU_ASSERT(agent_nvml_find_gpu(a, "00000000:41:00.0") == 1);
    CU_ASSERT(agent_nvml_find_gpu(a, "0000:02:00.0") == AVERROR(ENOENT));
    CU_ASSERT(agent_nvml_find_gpu(a, "bogus") == AVERROR(EINVAL));

    CU_ASSERT_FATAL(agent_nvml_sample(a, 0, &g) == 0);
    CU_ASSERT(g.index == 0 && !g.gpu_lost);
    CU_ASSERT_STRING_EQUAL(g.bus_id, "00000000:01:00.0");
    CU_ASSERT(g.present == (AGENT_NVML_ENC_UTIL | AGENT_NVML_DEC_UTIL |
                            AGENT_NVML_ENC_CAP_H264 | AGENT_NVML_ENC_CAP_HEVC |
                            AGENT_NVML_ENC_SESSIONS | AGENT_NVML_ENC_STATS |
                            AGENT_NVML_GPU_UTIL | AGENT_NVML_MEMORY |
                            AGENT_NVML_TEMPERATURE | AGENT_NVML_POWER |
                            AGENT_NVML_CLOCK_REASONS));
    CU_ASSERT(g.enc_util == 55 && g.enc_sampling_us == 167000);
    CU_ASSERT(g.dec_util == 12);
    CU_ASSERT(g.enc_capacity_h264 == 80 && g.enc_capacity_hevc == 70);
    CU_ASSERT(g.stats_sessions == 3 && g.stats_avg_fps == 59 &&
              g.stats_avg_latency_us == 1800);
    /* three sessions on the GPU, two of them ours */
    CU_ASSERT(g.enc_sessions_gpu == 3);
    CU_ASSERT_FATAL(g.nb_own_sessions == 2);
    CU_ASSERT(g.own_sessions[0].session_id == 11);
    CU_ASSERT(g.own_sessions[0].pid == (unsigned)getpid());
    CU_ASSERT(g.own_sessions[0].codec == AGENT_NVML_CODEC_H264);
    CU_ASSERT(g.own_sessions[0].width == 1280 && g.own_sessions[0].height == 720);
    CU_ASSERT(g.own_sessions[0].avg_fps == 60 &&
              g.own_sessions[0].avg_latency_us == 1500);
    CU_ASSERT(g.own_sessions[1].session_id == 13);
    CU_ASSERT(g.own_sessions[1].codec == AGENT_NVML_CODEC_HEVC);
    CU_ASSERT(g.own_sessions[1].avg_latency_us == 3100);
    CU_ASSERT(g.gpu_util == 40 && g.mem_util == 10);
    CU_ASSERT(g.mem_total == 16000000000ULL && g.mem_free == 12000000000ULL &&
              g.mem_used == 4000000000ULL);
    CU_ASSERT(g.temperature_c == 65);
    CU_ASSERT(g.power_mw == 75500);
    CU_ASSERT(g.clock_reasons == (AGENT_NVML_CLOCKS_SW_POWER_CAP |
                                  AGENT_NVML_CLOCKS_SW_THERMAL));
    /* newest names first: memory v2 (with the right version word: the stub
     * refuses others) and the R535 name of the clock reasons */
    CU_ASSERT(h.calls("nvmlDeviceGetMemoryInfo_v2") == 1);
    CU_ASSERT(h.calls("nvmlDeviceGetMemoryInfo") == 0);
    CU_ASSERT(h.calls("nvmlDeviceGetCurrentClocksEventReasons") == 1);
    CU_ASSERT(h.calls("nvmlDeviceGetCurrentClocksThrottleReasons") == 0);

    /* GPU 1 scripts only its utilization: the rest is absent, not zero */
    CU_ASSERT_FATAL(agent_nvml_sample(a, 1, &g) == 0);
    CU_ASSERT_STRING_EQUAL(g.bus_id, "00000000:41:00.0");
    CU_ASSERT(g.present == AGENT_NVML_GPU_UTIL);
    CU_ASSERT(g.gpu_util == 7 && g.mem_util == 3);

    CU_ASSERT(agent_nvml_sample(a, 2, &g) == AVERROR(EINVAL));
    agent_nvml_free(&a);
    CU_ASSERT(h.calls("nvmlShutdown") == 1);
    hooks_close(&h);
}

static void test_not_supported(void)
{
    StubHooks h = { 0 };
    AgentNvml *a;
    AgentNvmlGpu g;

    write_script("utilization 0 30 5\n"
                 "temperature 0 ERR_NOT_SUPPORTED\n"
                 "power 0 ERR_NO_PERMISSION\n");
    hooks_open(&h, "libnvidia-ml.so");
    log_reset();
    a = open_stub("libnvidia-ml.so");
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_FATAL(agent_nvml_sample(a, 0, &g) == 0);
        CU_ASSERT(g.present == AGENT_NVML_GPU_UTIL);
        CU_ASSERT(!(g.present & AGENT_NVML_TEMPERATURE) && g.temperature_c == 0);
        CU_ASSERT(!g.gpu_lost);
    }
    /* NOT_SUPPORTED is final: asked once, said once */
    CU_ASSERT(h.calls("nvmlDeviceGetTemperature") == 1);
    CU_ASSERT(log_count("temperature not supported", AV_LOG_VERBOSE) == 1);
    /* another failure is asked again but said once while it lasts */
    CU_ASSERT(h.calls("nvmlDeviceGetPowerUsage") == 4);
    CU_ASSERT(log_count("power usage failed: NO_PERMISSION", AV_LOG_WARNING) == 1);
    agent_nvml_free(&a);
    hooks_close(&h);
}

static void test_gpu_lost(void)
{
    StubHooks h = { 0 };
    AgentNvml *a;
    AgentNvmlGpu g;
    AgentNvmlEvent ev[4];
    unsigned dropped = 1;
    int n;

    write_script("devices 2\n"
                 "utilization 0 40 10\n"
                 "utilization 0 ERR_GPU_IS_LOST after 2\n"
                 "power 0 70000\n"
                 "utilization 1 20 1\n"
                 "power 1 50000\n");
    hooks_open(&h, "libnvidia-ml.so");
    log_reset();
    a = open_stub("libnvidia-ml.so");
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_FATAL(agent_nvml_sample(a, 0, &g) == 0);
        CU_ASSERT(!g.gpu_lost);
        CU_ASSERT(g.present == (AGENT_NVML_GPU_UTIL | AGENT_NVML_POWER));
    }
    CU_ASSERT(agent_nvml_drain_events(a, ev, 4, NULL) == 0);

    /* the third call says GPU_IS_LOST: a failure of that GPU */
    CU_ASSERT_FATAL(agent_nvml_sample(a, 0, &g) == 0);
    CU_ASSERT(g.gpu_lost == 1);
    CU_ASSERT(g.present == 0 && g.power_mw == 0);
    CU_ASSERT_STRING_EQUAL(g.bus_id, "00000000:01:00.0");
    n = agent_nvml_drain_events(a, ev, 4, &dropped);
    CU_ASSERT_FATAL(n == 1);
    CU_ASSERT(dropped == 0);
    CU_ASSERT(ev[0].type == AGENT_NVML_EV_GPU_LOST && ev[0].gpu == 0);
    CU_ASSERT_STRING_EQUAL(ev[0].bus_id, "00000000:01:00.0");
    CU_ASSERT(ev[0].time_us > 0);
    CU_ASSERT(log_count("is lost", AV_LOG_ERROR) == 1);

    /* it stays lost, quietly: no new event, no more calls to that GPU */
    for (int i = 0; i < 3; i++) {
        CU_ASSERT(agent_nvml_sample(a, 0, &g) == 0);
        CU_ASSERT(g.gpu_lost == 1 && g.present == 0);
    }
    CU_ASSERT(agent_nvml_drain_events(a, ev, 4, NULL) == 0);
    CU_ASSERT(h.calls("nvmlDeviceGetUtilizationRates") == 3);
    CU_ASSERT(h.calls("nvmlDeviceGetPowerUsage") == 2);
    CU_ASSERT(log_count("is lost", AV_LOG_ERROR) == 1);

    /* the other GPU is not affected */
    CU_ASSERT(agent_nvml_sample(a, 1, &g) == 0);
    CU_ASSERT(!g.gpu_lost && g.present == (AGENT_NVML_GPU_UTIL | AGENT_NVML_POWER));
    CU_ASSERT(g.gpu_util == 20 && g.power_mw == 50000);
    agent_nvml_free(&a);
    hooks_close(&h);
}

static void test_lost_at_start(void)
{
    AgentNvml *a;
    AgentNvmlGpu g;
    AgentNvmlEvent ev[2];

    write_script("devices 2\nhandle 1 ERR_GPU_IS_LOST\nutilization 0 1 1\n");
    a = open_stub("libnvidia-ml.so");
    CU_ASSERT_FATAL(agent_nvml_nb_gpus(a) == 2);
    CU_ASSERT(agent_nvml_sample(a, 1, &g) == 0);
    CU_ASSERT(g.gpu_lost == 1 && g.present == 0);
    CU_ASSERT(agent_nvml_drain_events(a, ev, 2, NULL) == 1);
    CU_ASSERT(ev[0].type == AGENT_NVML_EV_GPU_LOST && ev[0].gpu == 1);
    CU_ASSERT(agent_nvml_sample(a, 0, &g) == 0);
    CU_ASSERT(!g.gpu_lost && g.present == AGENT_NVML_GPU_UTIL);
    agent_nvml_free(&a);
}

static void test_missing_required_symbol(void)
{
    AgentNvml *a;
    AgentNvmlGpu g;
    const char *msg;

    write_script("utilization 0 1 1\n");
    log_reset();
    a = open_stub("libnvidia-ml-nocount.so");
    CU_ASSERT(agent_nvml_status(a, &msg) == AVERROR(ENOSYS));
    CU_ASSERT(strstr(msg, "nvmlDeviceGetCount_v2") != NULL);
    CU_ASSERT(strstr(msg, "nvmlDeviceGetCount)") != NULL);
    CU_ASSERT(strstr(msg, "libnvidia-ml-nocount.so") != NULL);
    CU_ASSERT(agent_nvml_nb_gpus(a) == 0);
    CU_ASSERT(agent_nvml_sample(a, 0, &g) == AVERROR(ENODEV));
    CU_ASSERT(log_count("nvmlDeviceGetCount_v2", AV_LOG_INFO) == 1);
    CU_ASSERT(log_count("", AV_LOG_WARNING) == 0);
    agent_nvml_free(&a);
}

static void test_init_fails(void)
{
    StubHooks h = { 0 };
    AgentNvml *a;
    const char *msg;

    write_script("init ERR_DRIVER_NOT_LOADED\n");
    hooks_open(&h, "libnvidia-ml.so");
    a = open_stub("libnvidia-ml.so");
    CU_ASSERT(agent_nvml_status(a, &msg) == AVERROR_EXTERNAL);
    CU_ASSERT(strstr(msg, "DRIVER_NOT_LOADED") != NULL);
    CU_ASSERT(agent_nvml_nb_gpus(a) == 0);
    /* nvmlInit failed: no nvmlShutdown is owed */
    CU_ASSERT(h.calls("nvmlShutdown") == 0);
    agent_nvml_free(&a);
    CU_ASSERT(h.calls("nvmlShutdown") == 0);
    hooks_close(&h);
}

static void test_old_driver_names(void)
{
    StubHooks h = { 0 };
    AgentNvml *a;
    AgentNvmlGpu g;
    AgentNvmlEvent ev[2];
    const char *msg;

    write_script("busid 0 00000000:65:00.0\n"
                 "utilization 0 33 4\n"
                 "memory 0 8000 6000 2000\n"
                 "temperature 0 50\n"
                 "power 0 30000\n"
                 "clock_reasons 0 0x1\n"
                 "enc_util 0 99 1\n"          /* the old library cannot say it */
                 "xid 0 31 20\n");
    hooks_open(&h, "libnvidia-ml-old.so");
    a = open_stub("libnvidia-ml-old.so");
    CU_ASSERT_FATAL(agent_nvml_status(a, &msg) == 0);
    CU_ASSERT(h.calls("nvmlInit") == 1 && h.calls("nvmlDeviceGetCount") == 1);
    /* the bus id from the old 16-byte field */
    CU_ASSERT(agent_nvml_find_gpu(a, "0000:65:00.0") == 0);
    CU_ASSERT_FATAL(agent_nvml_sample(a, 0, &g) == 0);
    CU_ASSERT_STRING_EQUAL(g.bus_id, "0000:65:00.0");
    /* optional symbols missing: their metrics absent, the rest there */
    CU_ASSERT(g.present == (AGENT_NVML_GPU_UTIL | AGENT_NVML_MEMORY |
                            AGENT_NVML_TEMPERATURE | AGENT_NVML_POWER |
                            AGENT_NVML_CLOCK_REASONS));
    CU_ASSERT(g.enc_util == 0);
    CU_ASSERT(g.gpu_util == 33 && g.mem_total == 8000 && g.mem_used == 2000);
    CU_ASSERT(g.clock_reasons == AGENT_NVML_CLOCKS_GPU_IDLE);
    CU_ASSERT(h.calls("nvmlDeviceGetCurrentClocksThrottleReasons") == 1);
    /* events through nvmlEventSetWait (v1), without the supported-types call */
    CU_ASSERT_FATAL(agent_nvml_events_start(a, 20) == 0);
    CU_ASSERT_FATAL(wait_events(a, ev, 1, 3000) == 1);
    CU_ASSERT(ev[0].type == AGENT_NVML_EV_XID && ev[0].gpu == 0 && ev[0].data == 31);
    CU_ASSERT(h.calls("nvmlEventSetWait") >= 1);
    agent_nvml_free(&a);
    hooks_close(&h);
}

static void test_xid_events(void)
{
    StubHooks h = { 0 };
    AgentNvml *a;
    AgentNvmlEvent ev[4];

    write_script("devices 2\n"
                 "xid 0 79 30\n"
                 "xid 1 48 80\n");
    hooks_open(&h, "libnvidia-ml.so");
    a = open_stub("libnvidia-ml.so");
    CU_ASSERT_FATAL(agent_nvml_events_start(a, 50) == 0);
    CU_ASSERT(agent_nvml_events_start(a, 50) == AVERROR(EEXIST));
    CU_ASSERT_FATAL(wait_events(a, ev, 2, 3000) == 2);
    CU_ASSERT(ev[0].type == AGENT_NVML_EV_XID && ev[0].gpu == 0 && ev[0].data == 79);
    CU_ASSERT_STRING_EQUAL(ev[0].bus_id, "00000000:01:00.0");
    CU_ASSERT(ev[1].type == AGENT_NVML_EV_XID && ev[1].gpu == 1 && ev[1].data == 48);
    CU_ASSERT_STRING_EQUAL(ev[1].bus_id, "00000000:02:00.0");
    CU_ASSERT(ev[0].time_us <= ev[1].time_us);
    CU_ASSERT(h.calls("nvmlDeviceRegisterEvents") == 2);
    agent_nvml_free(&a);
    hooks_close(&h);
}

static void test_no_xid_support(void)
{
    AgentNvml *a;

    write_script("event_types 0 0x4\n");   /* PState only */
    log_reset();
    a = open_stub("libnvidia-ml.so");
    CU_ASSERT(agent_nvml_events_start(a, 10) == AVERROR(ENOTSUP));
    CU_ASSERT(agent_nvml_events_start(a, 10) == AVERROR(ENOTSUP));
    CU_ASSERT(log_count("XID events not watched", AV_LOG_INFO) == 1);
    agent_nvml_free(&a);
}

static void test_event_wait_gpu_lost(void)
{
    StubHooks h = { 0 };
    AgentNvml *a;
    AgentNvmlEvent ev[4];
    AgentNvmlGpu g;
    int waits;

    write_script("event_wait 0 ERR_GPU_IS_LOST after 1\nutilization 0 5 5\n");
    hooks_open(&h, "libnvidia-ml.so");
    a = open_stub("libnvidia-ml.so");
    CU_ASSERT_FATAL(agent_nvml_events_start(a, 40) == 0);
    CU_ASSERT_FATAL(wait_events(a, ev, 1, 3000) == 1);
    CU_ASSERT(ev[0].type == AGENT_NVML_EV_GPU_LOST && ev[0].gpu == 0);
    CU_ASSERT(agent_nvml_sample(a, 0, &g) == 0);
    CU_ASSERT(g.gpu_lost == 1 && g.present == 0);
    /* a wait that keeps failing is retried at the poll interval, not spun */
    av_usleep(300000);
    waits = h.calls("nvmlEventSetWait_v2");
    CU_ASSERT(waits >= 2 && waits <= 12);
    CU_ASSERT(agent_nvml_drain_events(a, ev, 4, NULL) == 0);
    agent_nvml_free(&a);
    hooks_close(&h);
}

static void test_shutdown_joins_thread(void)
{
    StubHooks h = { 0 };
    AgentNvml *a;
    int64_t t0, t1, end;

    write_script("devices 1\n");
    hooks_open(&h, "libnvidia-ml.so");
    a = open_stub("libnvidia-ml.so");
    CU_ASSERT_FATAL(agent_nvml_events_start(a, 100) == 0);
    end = av_gettime_relative() + 2000000;
    while (h.active_waits() == 0 && av_gettime_relative() < end)
        av_usleep(2000);
    CU_ASSERT_FATAL(h.active_waits() == 1);
    t0 = av_gettime_relative();
    agent_nvml_free(&a);
    t1 = av_gettime_relative();
    /* joined: nobody is in a wait, nothing ran after nvmlShutdown, and it
     * took about one poll interval at most */
    CU_ASSERT(h.active_waits() == 0);
    CU_ASSERT(h.calls("after_shutdown") == 0);
    CU_ASSERT(h.calls("nvmlShutdown") == 1);
    CU_ASSERT(h.calls("nvmlEventSetFree") == 1);
    CU_ASSERT(t1 - t0 < 1000000);
    hooks_close(&h);

    /* stopping and starting again works */
    write_script("devices 1\nxid 0 13 0\n");
    a = open_stub("libnvidia-ml.so");
    CU_ASSERT_FATAL(agent_nvml_events_start(a, 20) == 0);
    agent_nvml_events_stop(a);
    agent_nvml_events_stop(a);
    CU_ASSERT(agent_nvml_events_start(a, 20) == 0);
    agent_nvml_free(&a);
}

int main(int argc, char **argv)
{
    char exe[PATH_MAX];
    ssize_t len;
    CU_pSuite s;
    int fd, failures;

    /* the stubs are built next to this program: ../stubs */
    len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len <= 0)
        return 1;
    exe[len] = 0;
    snprintf(stub_dir, sizeof(stub_dir), "%s/../stubs", dirname(exe));
    snprintf(script_path, sizeof(script_path), "/tmp/hs-nvml-script-XXXXXX");
    if ((fd = mkstemp(script_path)) < 0)
        return 1;
    close(fd);
    av_log_set_callback(log_capture);
    av_log_set_level(AV_LOG_DEBUG);

    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    s = CU_add_suite("agent_nvml", NULL, NULL);
    CU_add_test(s, "bus id forms", test_bus_id_forms);
    CU_add_test(s, "no library: said once, disabled", test_no_library);
    CU_add_test(s, "scripted values read right", test_scripted_values);
    CU_add_test(s, "NOT_SUPPORTED: absent, asked once", test_not_supported);
    CU_add_test(s, "GPU_IS_LOST: failure event, no crash", test_gpu_lost);
    CU_add_test(s, "GPU lost before the first sample", test_lost_at_start);
    CU_add_test(s, "missing required symbol named", test_missing_required_symbol);
    CU_add_test(s, "nvmlInit failing", test_init_fails);
    CU_add_test(s, "old driver: fallbacks, optional absent", test_old_driver_names);
    CU_add_test(s, "XID events from the event thread", test_xid_events);
    CU_add_test(s, "no XID support: said once", test_no_xid_support);
    CU_add_test(s, "event wait GPU_IS_LOST", test_event_wait_gpu_lost);
    CU_add_test(s, "shutdown joins the event thread", test_shutdown_joins_thread);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    unlink(script_path);
    return failures;
}
