/*
 * agent_drm.h: Intel and AMD GPU engine usage of this process, from DRM
 * fdinfo (Linux Documentation/gpu/drm-usage-stats.rst), plus the device-wide
 * figures sysfs has.
 *
 * VAAPI encoders (h264_vaapi, hevc_vaapi) work through a DRM render node
 * that libav opens privately. The kernel accounts the time each engine
 * spends on each open DRM file ("client") in /proc/self/fdinfo/FD:
 *
 *   drm-driver:      i915                 mandatory
 *   drm-pdev:        0000:00:02.0         PCI slot
 *   drm-client-id:   7                    one per struct drm_file: dup'ed
 *                                         fds show the same client
 *   drm-engine-video:  52567609040 ns     busy time (i915, amdgpu)
 *   drm-engine-capacity-vcs: 2            identical engines in the class
 *   drm-cycles-vcs / drm-total-cycles-vcs busy and total GPU cycles (xe)
 *   drm-memory-vram / drm-resident-<r> / drm-total-<r>   memory
 *
 * amdgpu before Linux 5.19 printed no drm- keys: "pdev:", "pasid:",
 * "vram mem:" and a percentage per ring ("enc0:\t12.5%"); it is parsed too.
 *
 * Everything that reads text is a pure function of the text, for tests.
 * Counters become utilisation from two samples; an interval whose counter
 * went backwards is absent (present == 0), never negative or zero.
 */
#ifndef HS_AGENT_DRM_H
#define HS_AGENT_DRM_H

#include <stdint.h>

#define AGENT_DRM_MAX_ENGINES  24      /* per client */
#define AGENT_DRM_MAX_REGIONS  8
#define AGENT_DRM_MAX_CLIENTS  16      /* distinct DRM clients of a process */
#define AGENT_DRM_MAX_CARDS    8
#define AGENT_DRM_NAME_SIZE    32
#define AGENT_DRM_PDEV_SIZE    16      /* "0000:00:02.0" */

/* What an engine does, from its driver's name for it. */
enum AgentDrmEngineClass {
    AGENT_DRM_ENGINE_OTHER = 0,
    AGENT_DRM_ENGINE_RENDER,          /* i915 render, xe rcs, amdgpu gfx */
    AGENT_DRM_ENGINE_COPY,            /* i915 copy, xe bcs, amdgpu dma */
    AGENT_DRM_ENGINE_COMPUTE,         /* i915 compute, xe ccs, amdgpu compute */
    AGENT_DRM_ENGINE_VIDEO,           /* encode and decode on one engine:
                                         i915 video, xe vcs */
    AGENT_DRM_ENGINE_VIDEO_ENHANCE,   /* scaling, CSC: i915 video-enhance, xe vecs */
    AGENT_DRM_ENGINE_ENC,             /* amdgpu enc, enc_1 (VCE, VCN encode) */
    AGENT_DRM_ENGINE_DEC,             /* amdgpu dec (UVD, VCN decode) */
    AGENT_DRM_ENGINE_JPEG,            /* amdgpu jpeg */
};

/* Bits of AgentDrmEngine.have. */
enum {
    AGENT_DRM_HAVE_NS      = 1 << 0,  /* busy_ns */
    AGENT_DRM_HAVE_CYCLES  = 1 << 1,  /* cycles */
    AGENT_DRM_HAVE_TOTAL   = 1 << 2,  /* total_cycles */
    AGENT_DRM_HAVE_PERCENT = 1 << 3,  /* percent (amdgpu before 5.19) */
};

typedef struct AgentDrmEngine {
    char name[AGENT_DRM_NAME_SIZE];   /* the driver's: "video", "vcs", "enc0" */
    enum AgentDrmEngineClass cls;
    unsigned capacity;                /* >= 1 */
    unsigned have;                    /* AGENT_DRM_HAVE_* */
    uint64_t busy_ns;
    uint64_t cycles, total_cycles;
    double percent;
} AgentDrmEngine;

/* Bits of AgentDrmRegion.have. */
enum {
    AGENT_DRM_MEM_TOTAL    = 1 << 0,
    AGENT_DRM_MEM_RESIDENT = 1 << 1,  /* drm-resident-, or drm-memory- */
};

typedef struct AgentDrmRegion {
    char name[AGENT_DRM_NAME_SIZE];   /* "vram", "gtt", "system0", "local0" */
    unsigned have;
    uint64_t total, resident;         /* bytes */
} AgentDrmRegion;

/* Bits of AgentDrmClient.have. */
enum {
    AGENT_DRM_CLIENT_PDEV = 1 << 0,
    AGENT_DRM_CLIENT_ID   = 1 << 1,   /* drm-client-id, or amdgpu's pasid */
};

/* One DRM client (one open DRM file), from its fdinfo text. */
typedef struct AgentDrmClient {
    char driver[AGENT_DRM_NAME_SIZE];
    char pdev[AGENT_DRM_PDEV_SIZE];
    uint64_t client_id;
    unsigned have;
    int nb_engines;
    AgentDrmEngine engines[AGENT_DRM_MAX_ENGINES];
    int nb_regions;
    AgentDrmRegion regions[AGENT_DRM_MAX_REGIONS];
} AgentDrmClient;

/* The DRM clients of this process at one time, each counted once. */
typedef struct AgentDrmSample {
    int64_t time_ns;                  /* CLOCK_MONOTONIC */
    int nb_clients;
    AgentDrmClient clients[AGENT_DRM_MAX_CLIENTS];
    int nb_unkeyed;                   /* clients without pdev/client id: a dup
                                         of one of them would count twice */
} AgentDrmSample;

/* Utilisation of one engine of one device, summed over our clients. */
typedef struct AgentDrmEngineUtil {
    char driver[AGENT_DRM_NAME_SIZE];
    char pdev[AGENT_DRM_PDEV_SIZE];
    char name[AGENT_DRM_NAME_SIZE];
    enum AgentDrmEngineClass cls;
    int present;                      /* 0: no valid interval this time */
    double percent;                   /* 0..100 of the engine class */
    int nb_clients;                   /* clients that use it */
} AgentDrmEngineUtil;

/* Memory of one region of one device, summed over our clients. */
typedef struct AgentDrmMemory {
    char pdev[AGENT_DRM_PDEV_SIZE];
    char name[AGENT_DRM_NAME_SIZE];
    unsigned have;                    /* AGENT_DRM_MEM_* */
    uint64_t total, resident;
} AgentDrmMemory;

#define AGENT_DRM_MAX_UTIL (AGENT_DRM_MAX_ENGINES * 4)

typedef struct AgentDrmStats {
    int nb_engines;
    AgentDrmEngineUtil engines[AGENT_DRM_MAX_UTIL];
    int nb_memory;
    AgentDrmMemory memory[AGENT_DRM_MAX_REGIONS * 4];
} AgentDrmStats;

/* Device-wide figures of one card from sysfs. */
enum {
    AGENT_DRM_CARD_GPU_BUSY = 1 << 0, /* gpu_busy_percent (amdgpu: GFX only) */
    AGENT_DRM_CARD_MEM_BUSY = 1 << 1, /* mem_busy_percent (amdgpu) */
};

typedef struct AgentDrmCard {
    char card[16];                    /* "card0" */
    char pdev[AGENT_DRM_PDEV_SIZE];   /* "" when not a PCI device */
    char driver[AGENT_DRM_NAME_SIZE];
    unsigned have;
    unsigned gpu_busy_percent, mem_busy_percent;
} AgentDrmCard;

/*
 * Parses one fdinfo text into *c. Returns 0, or AVERROR(ENOENT) when the
 * text is not a DRM client's (no drm-driver and not old amdgpu's form).
 */
int agent_drm_parse_fdinfo(const char *text, AgentDrmClient *c);

/* The class of an engine name, as i915, xe and amdgpu name them. */
enum AgentDrmEngineClass agent_drm_engine_class(const char *name);

/*
 * Adds a client to a sample, once per (driver, pdev, client id): the fdinfo
 * of a dup'ed or inherited fd shows the same client and is merged (the
 * larger counter wins, the two reads being a moment apart). Returns 0, or
 * AVERROR(ENOSPC) when the sample is full.
 */
int agent_drm_sample_add(AgentDrmSample *s, const AgentDrmClient *c);

/*
 * Utilisation between two samples of the same process, per (device, engine)
 * and memory of cur per (device, region). A counter lower than in prev
 * (the spec allows non-monotonic counters) makes that interval absent and
 * is raised to prev's value in cur, as drm-usage-stats.rst asks ("stay with
 * that larger previous value until a monotonic update is seen"): hence cur
 * is not const. A client new in cur has no interval: its engines are absent
 * this time. prev may be NULL (the first sample): then only memory and old
 * amdgpu's percentages are present. Returns 0 or AVERROR(EINVAL) when cur
 * is not after prev.
 */
int agent_drm_stats(const AgentDrmSample *prev, AgentDrmSample *cur,
                    AgentDrmStats *out);

/*
 * Reads the DRM clients open in a process: every fd under fd_dir that
 * links to /dev/dri/..., its fdinfo under fdinfo_dir. Sets s->time_ns.
 * Returns the number of DRM fds seen (>= 0) or a negative AVERROR.
 */
int agent_drm_scan_dir(const char *fd_dir, const char *fdinfo_dir, AgentDrmSample *s);

/*
 * Reads the cards under a sysfs class directory (/sys/class/drm): cardN
 * entries, their PCI slot, driver and busy percentages. Returns how many.
 */
int agent_drm_read_cards(const char *class_dir, AgentDrmCard *cards, int max);

typedef struct AgentDrm AgentDrm;

/* The agent: says once when this process has no DRM device open. */
int agent_drm_alloc(AgentDrm **pa);
void agent_drm_free(AgentDrm **pa);

/* Scans /proc/self into *s. Returns the number of clients (0: none, said
 * once at verbose level) or a negative AVERROR. */
int agent_drm_sample(AgentDrm *a, AgentDrmSample *s);

#endif
