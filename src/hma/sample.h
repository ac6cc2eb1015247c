/*
 * sample.h: one tick's snapshot of every component's metrics, and the
 * catalogue of metrics it draws from.
 *
 * Every tick (job: supervisor.tick, default 1 s) the sampler takes one
 * consistent snapshot: for each component (an ingest, an encoder, an
 * output, the host, a GPU) its identity (stream, kind, name, primary or
 * backup) and the values of the metrics its kind has. The snapshot goes to
 * the historical data store (hds.h), to the Prometheus endpoint (metrics.h)
 * and to the predictor, which all read it and never the data plane itself.
 *
 * The catalogue is the contract with everything stored and trained: a
 * metric's name is how the HDS, the exports and the model files refer to
 * it, so names are never reused for another meaning; new metrics are
 * appended. Names follow Prometheus' conventions (base units, _total for
 * counters) and are exported as they are.
 *
 * A metric a component does not have this tick (a probe that is not
 * available, a rate before its second sample) is absent: its bit in
 * SampleComp.present is clear. Absent is never 0.
 */
#ifndef HS_SAMPLE_H
#define HS_SAMPLE_H

#include <stdint.h>

#include "core/comp.h"

/* Component kinds (CompKind): core/comp.h, stable numbers stored in the HDS. */

typedef enum MetricType {
    METRIC_GAUGE,
    METRIC_COUNTER,       /* monotonic within a run; name ends in _total */
} MetricType;

typedef struct MetricDef {
    const char *name;     /* hotspare_encoder_frames_out_total */
    MetricType type;
    const char *help;     /* one line, for # HELP and the model card */
} MetricDef;

/* A kind's metrics, in a fixed order: SampleComp.v[i] is metrics[i]. */
#define SAMPLE_MAX_METRICS 32

typedef struct CompKindDef {
    const char *name;                      /* "encoder" */
    int nb_metrics;
    const MetricDef *metrics;
} CompKindDef;

extern const CompKindDef sample_kinds[COMP_NB_KINDS];

/* Indices into each kind's metrics (and SampleComp.v). Appending is fine;
 * reordering changes stored data and must bump HDS_SCHEMA_VERSION. */
enum HostMetric {
    HM_CPU_SECONDS,          /* process CPU, counter */
    HM_CPU_RATIO,            /* process CPU over the tick, cores (1.0 = one core) */
    HM_RSS_BYTES,
    HM_PSI_CPU_SOME,         /* ratio of time stalled, avg10 */
    HM_PSI_MEMORY_SOME,
    HM_PSI_MEMORY_FULL,
    HM_PSI_IO_SOME,
    HM_PSI_IO_FULL,
    HM_DISK_READ_BYTES,      /* device of the outputs, counters */
    HM_DISK_WRITE_BYTES,
    HM_DISK_BUSY_RATIO,
    HM_NET_RX_BYTES,         /* all interfaces, counters */
    HM_NET_TX_BYTES,
    /* agent_mem.h: memory growth and the cgroup's limits */
    HM_RSS_GROWTH,           /* bytes/s, least-squares slope of RSS over the window */
    HM_CGROUP_MEMORY_CURRENT,/* cgroup v2 memory.current, bytes */
    HM_CGROUP_MEMORY_MAX,    /* memory.max; absent when "max" (no limit) */
    HM_CGROUP_MEMORY_HIGH,   /* memory.high; absent when "max" */
    HM_CGROUP_MEMORY_TIME_TO_LIMIT, /* seconds to the lower limit at the growth
                                       of memory.current; absent when not growing */
    /* agent_disk.h: the filesystem of the data store (hds_path) */
    HM_STORE_FS_FREE,        /* bytes available to unprivileged writers */
    HM_STORE_FS_SIZE,
    HM_STORE_FS_FILL_RATE,   /* bytes/s, slope of used bytes over the window */
    HM_STORE_FS_TIME_TO_FULL,/* seconds; absent when not filling */
    HM_HEAP_BYTES,           /* allocated and not freed (agent_host_heap_bytes) */
    HM_HOST_RISK,            /* 0..1, by rules (host_risk.h): set by the tick */
    HM_NB
};

enum GpuMetric {
    GM_UP,                   /* 1, 0 once lost */
    GM_ENCODER_UTIL,         /* ratio 0..1 */
    GM_DECODER_UTIL,
    GM_ENCODER_CAPACITY,     /* ratio of capacity left */
    GM_ENCODER_SESSIONS,     /* on the whole GPU */
    GM_OWN_SESSIONS,         /* of this process */
    GM_OWN_SESSION_FPS,      /* mean over this process's sessions */
    GM_OWN_SESSION_LATENCY,  /* seconds */
    GM_GPU_UTIL,
    GM_MEMORY_USED_BYTES,
    GM_MEMORY_TOTAL_BYTES,
    GM_TEMPERATURE,          /* celsius */
    GM_POWER_WATTS,
    GM_CLOCK_REASONS,        /* bitmask (nvml clock event reasons) */
    GM_XID_ERRORS,           /* counter */
    GM_VIDEO_ENGINE_BUSY,    /* DRM fdinfo: ratio of the video engine(s) */
    GM_NB
};

enum IngestMetric {
    IM_UP,                   /* 1 while reading */
    IM_PACKETS,              /* counter */
    IM_BYTES,                /* counter */
    IM_THROUGHPUT,           /* bytes/s over the tick */
    IM_READ_LATENCY,         /* seconds, mean of av_read_frame over the tick */
    IM_JITTER,               /* seconds, std dev of gaps between packets */
    IM_LAST_PACKET_AGE,      /* seconds since the last packet */
    IM_DISCONTINUITIES,      /* counter */
    IM_ERRORS,               /* demux and decode errors, counter */
    IM_CPU_SECONDS,          /* ingest + decoder threads, counter */
    IM_FAILURE_RISK,         /* the predictor's risk, 0..1 (predictor.h) */
    /* agent_net.h: the TCP connection(s) to the source, from tcp_info;
     * absent when the input has none (a file, UDP, SRT) */
    IM_TCP_CONNECTIONS,
    IM_RTT,                  /* seconds, smoothed (agent_net.h: of the connection
                                that matters) */
    IM_RTT_VAR,              /* seconds */
    IM_RETRANSMITS,          /* segments retransmitted, counter */
    IM_LOST,                 /* segments presumed lost now */
    IM_UNACKED_BYTES,        /* sent, not acknowledged by the peer */
    IM_NOTSENT_BYTES,        /* written, not sent yet */
    IM_PEER_WINDOW,          /* the peer's receive window, bytes (Linux >= 6.2) */
    IM_DELIVERY_RATE,        /* bytes/s, the kernel's estimate */
    IM_LAST_ACK_AGE,         /* seconds since the peer's last ACK */
    IM_LAST_DATA_RECV_AGE,   /* seconds since data last came from the peer */
    IM_LAST_DATA_SENT_AGE,   /* seconds since data last went to the peer */
    IM_RECV_QUEUE_BYTES,     /* received, not read by us yet */
    IM_NB
};

enum EncoderMetric {
    EM_UP,                   /* 1 while open and encoding */
    EM_FRAMES_IN,            /* counter */
    EM_FRAMES_OUT,           /* packets, counter */
    EM_BYTES_OUT,            /* counter */
    EM_FPS,                  /* frames out per second over the tick */
    EM_TARGET_FPS,           /* the rendition's frame rate */
    EM_LATENCY_P50,          /* seconds from send to packet, over the tick */
    EM_LATENCY_P99,
    EM_QUEUE_DEPTH,          /* frames waiting for this encoder */
    EM_ERRORS,               /* counter */
    EM_DROPPED,              /* frames dropped, counter */
    EM_QP,                   /* mean QP of the tick's packets */
    EM_CPU_SECONDS,          /* the encoder thread, counter */
    EM_FAILURE_RISK,
    EM_STANDBY_FRAMES,       /* frames given to a hot standby, counter */
    EM_STANDBY_BUSY_SECONDS, /* time the hot standby's encode calls took, counter */
    EM_BUDGET_USED,          /* how far behind real time its latest frame was,
                                over the stream's latency budget (1: it fails);
                                absent without a budget */
    EM_BUSY_SECONDS,         /* time its thread spent on frames, counter */
    EM_NB
};

enum OutputMetric {
    OM_UP,                   /* 1 once the header is written, 0 when failed */
    OM_PACKETS,              /* counter */
    OM_BYTES,                /* counter */
    OM_THROUGHPUT,           /* bytes/s over the tick */
    OM_WRITE_LATENCY,        /* seconds, mean over the tick */
    OM_WRITE_LATENCY_MAX,    /* seconds, over the tick */
    OM_QUEUE_DEPTH,          /* packets waiting for this muxer */
    OM_ERRORS,               /* counter */
    OM_RECONNECTS,           /* counter */
    OM_CPU_SECONDS,          /* the muxer thread, counter */
    OM_FAILURE_RISK,
    /* agent_disk.h: the filesystem a file output writes to; absent for
     * network outputs */
    OM_FS_FREE,              /* bytes available to unprivileged writers */
    OM_FS_SIZE,
    OM_FS_FILL_RATE,         /* bytes/s, slope of used bytes over the window
                                (every writer's, not only this output's) */
    OM_FS_TIME_TO_FULL,      /* seconds; absent when not filling */
    OM_BUDGET_USED,          /* how long its latest packet waited for it, over
                                the stream's latency budget (1: it fails);
                                absent without a budget */
    OM_BUSY_SECONDS,         /* time its threads spent on packets, counter */
    OM_FRAMES_LOST,          /* video frames of its timeline no destination
                                wrote (plane/continuity.h), counter */
    OM_NB
};

enum EdgeMetric {
    XM_UP,
    XM_REQUEST_LATENCY,      /* seconds, mean per request (HTTP) or write (RTMP) */
    XM_REQUESTS,             /* counter */
    XM_STATUS_2XX,           /* counters by HTTP status class */
    XM_STATUS_3XX,
    XM_STATUS_4XX,
    XM_STATUS_5XX,
    XM_THROUGHPUT,           /* bytes/s */
    /* agent_net.h: the output's TCP connection(s) to the peer, as for
     * IngestMetric's; absent when it has none */
    XM_TCP_CONNECTIONS,
    XM_RTT,
    XM_RTT_VAR,
    XM_RETRANSMITS,
    XM_LOST,
    XM_UNACKED_BYTES,
    XM_NOTSENT_BYTES,
    XM_PEER_WINDOW,
    XM_DELIVERY_RATE,
    XM_LAST_ACK_AGE,
    XM_LAST_DATA_RECV_AGE,
    XM_LAST_DATA_SENT_AGE,
    XM_RECV_QUEUE_BYTES,
    /* agent_edge.h: a CDN pathway's synthetic viewer (edge:OUTPUT:PATHWAY;
     * XM_UP, XM_REQUEST_LATENCY (the playlist's), XM_REQUESTS (probes),
     * XM_STATUS_*, XM_THROUGHPUT (the segment's) are its figures too) */
    XM_SEGMENT_LATENCY,      /* seconds to fetch the head of the newest segment */
    XM_SEGMENT_DURATION,     /* seconds, the playlist's target duration */
    XM_FRESHNESS,            /* seconds the edge's newest segment is behind the origin's */
    XM_PROBE_FAILURES,       /* counter */
    XM_FAILURE_RISK,         /* the risk the steering acts on, 0..1 */
    /* dra/steer.h: what the steering tells players and what they say */
    XM_STEER_PRIORITY,       /* place in PATHWAY-PRIORITY, 1 first */
    XM_STEER_REQUESTS,       /* counter: manifest requests from players on it */
    XM_STEER_PLAYERS,        /* players on it (requests over two TTLs / 2) */
    XM_STEER_THROUGHPUT,     /* bit/s, mean the players report */
    XM_NB
};

/* One component in one tick. */
typedef struct SampleComp {
    CompKind kind;
    char stream[40];             /* "" for host and GPUs */
    char name[48];               /* "input", "720p", "main", "host", "gpu0" */
    int backup;                  /* 0: primary, 1..: a backup instance */
    uint32_t present;            /* bit i: v[i] holds metrics[i] */
    double v[SAMPLE_MAX_METRICS];
} SampleComp;

typedef struct Sample {
    int64_t time_us;             /* wall clock, UTC microseconds */
    int64_t tick;                /* 0, 1, 2, ... within the run */
    int nb_comps;
    int nb_alloc;
    SampleComp *comps;
} Sample;

/* Empties s (keeps its memory) for a new tick. */
void sample_reset(Sample *s, int64_t time_us, int64_t tick);

/* Appends a component (all metrics absent) and returns it, or NULL on
 * ENOMEM. Pointers stay valid until the next sample_add_comp/reset. */
SampleComp *sample_add_comp(Sample *s, CompKind kind, const char *stream,
                            const char *name, int backup);

static inline void sample_set(SampleComp *c, int metric, double value)
{
    c->v[metric] = value;
    c->present |= 1u << metric;
}

static inline int sample_has(const SampleComp *c, int metric)
{
    return (c->present >> metric) & 1;
}

/* Frees what sample_add_comp allocated. */
void sample_free(Sample *s);

/* The catalogue entry for a kind's metric; NULL when out of range. */
const MetricDef *sample_metric(CompKind kind, int metric);

/* Looks a kind up by name ("encoder"); -1 when unknown. */
int sample_kind_by_name(const char *name);

#endif
