/*
 * job.h: the job file, schema version 1, as an immutable validated struct.
 *
 * job_load() reads a YAML job file, checks everything that can be checked
 * without running it (types, ranges, names, references, encoders, formats,
 * their options, filter graphs) and either returns a Job whose every field
 * is valid and defaulted, or fails with every problem it found, each as
 * "file:line:column: message" (line and column 1-based, pointing at the
 * offending YAML node). Nothing in a Job changes after job_load(): the data
 * plane reads it from many threads without locks.
 *
 * The key names are the user-facing contract (README, "Job file"): extend
 * them, never rename them.
 */
#ifndef HS_JOB_H
#define HS_JOB_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/dict.h>
#include <libavutil/rational.h>

#define JOB_SCHEMA_VERSION 1

/* Limits of a job file (README, "Limits"), checked on its text before a
 * tree is built, so that a huge, deep or binary file costs milliseconds;
 * each has its own message at its place. A real job file is a few KiB,
 * nested 6 levels, with tens of entries in a mapping or list. */
#define JOB_MAX_FILE_SIZE  (4 << 20)  /* bytes */
#define JOB_MAX_DEPTH      64         /* mappings and lists inside one another */
#define JOB_MAX_ENTRIES    1000       /* keys of a mapping, items of a list */
#define JOB_MAX_NODES      50000      /* values in all, an alias counting its anchor's */
#define JOB_MAX_ANCHORS    256

/* Defaults, documented in the README. */
#define JOB_DEFAULT_RW_TIMEOUT_US   5000000   /* 5 s per blocking libav call */
/* An output's peer that takes no data (no acknowledgement, no answer) for
 * this long while something waits for it has failed (plane/conn.h). */
#define JOB_DEFAULT_STALL_TIMEOUT_US 1000000
/* What the kernel may hold of an output's unsent and unacknowledged bytes
 * (SO_SNDBUF): about 0.5 s at 4 Mbit/s, so that "written" stays close to
 * "delivered". */
#define JOB_DEFAULT_SEND_BUFFER     262144
#define JOB_DEFAULT_VIDEO_ENCODER   "libx264"
#define JOB_DEFAULT_AUDIO_ENCODER   "aac"
#define JOB_DEFAULT_AUDIO_BITRATE   128000
#define JOB_DEFAULT_GOP_US          2000000   /* 2 s */
#define JOB_DEFAULT_LOSS_TIMEOUT_US  100000   /* input lost after 100 ms without a packet */
#define JOB_DEFAULT_SWITCH_BACK_US 10000000   /* primary healthy this long: switch back */
#define JOB_DEFAULT_LATENCY_BUDGET_US 3000000 /* a live encoder or output this far
                                                 behind real time has failed */

/* Where a value came from in the YAML file, for messages at run time. */
typedef struct JobLoc {
    int line, col;                /* 1-based; 0 when not from the file */
} JobLoc;

/* A backup input: read ahead and buffered, switched to when the input in
 * use is lost. Filter and loss_timeout are the stream input's. */
typedef struct JobInputBackup {
    char *url;                    /* may hold secrets */
    char *format;
    AVDictionary *options;
    int realtime;
    int64_t rw_timeout_us;
    JobLoc loc;
} JobInputBackup;

/* When an input's backup sources are read (prefetch:). */
typedef enum JobPrefetch {
    JOB_PREFETCH_ALWAYS,          /* all the time: a loss is bridged at once */
    JOB_PREFETCH_ON_RISK,         /* only once provisioned (the orchestrator on
                                     risk, a drill, hotspare ctl), or when the
                                     source in use is lost: a healthy channel
                                     pays for one ingest */
} JobPrefetch;

typedef struct JobInput {
    char *url;                    /* as written: may hold secrets; show it
                                     through redact_url() only */
    char *format;                 /* demuxer name ("lavfi"), NULL = probe */
    AVDictionary *options;        /* demuxer and protocol options */
    int realtime;                 /* pace at native rate (ffmpeg -re) */
    char *filter;                 /* graph description applied before the
                                     ladder (preset resolved), NULL = none */
    char *filter_name;            /* the preset's name, NULL when inline */
    int64_t rw_timeout_us;        /* deadline of each blocking call */
    JobInputBackup *backups;      /* in order of preference */
    int nb_backups;
    JobPrefetch prefetch;         /* when the backups are read */
    int64_t loss_timeout_us;      /* no packet for this long: input lost */
    /* content failures (filters/probe-*.graph): how long black video, a
     * frozen picture or silent audio must last to count as a failure of
     * the input; 0 = not probed */
    int64_t black_us, freeze_us, silence_us;
    JobLoc loc;
} JobInput;

typedef struct JobAudio {
    int enabled;                  /* 0: "audio: false", no audio out */
    char *encoder;                /* default "aac"; NULL when disabled */
    int64_t bitrate;              /* bit/s, default 128k; 0 when disabled */
    int sample_rate;              /* 0 = the input's when the encoder takes it */
    int channels;                 /* 0 = the input's layout */
    AVDictionary *options;        /* encoder options */
    JobLoc loc;
} JobAudio;

/* The standby encoder of a rendition: the rendition's size, rate and GOP,
 * its own encoder, options, device and bit rate. */
typedef struct JobEncoderBackup {
    char *encoder;
    int64_t bitrate;              /* 0 = the rendition's */
    AVDictionary *options;        /* NULL: none (not the primary's: they are
                                     the primary encoder's options) */
    char *device;                 /* the first of devices; NULL: default */
    char **devices;               /* where it may run, in order of preference
                                     (device: [0, 1]): the allocator opens it
                                     on the one with most headroom; nb >= 1
                                     when device is set */
    int nb_devices;
    JobLoc loc;
} JobEncoderBackup;

typedef struct JobRendition {
    char *name;                   /* unique in the stream */
    int width, height;            /* 0 = the input's; one of them 0 with the
                                     other set keeps the aspect ratio */
    AVRational fps;               /* {0,0} = the input's */
    char *encoder;                /* libavcodec encoder name */
    int64_t bitrate;              /* bit/s, 0 = the encoder's default */
    int gop_frames;               /* GOP in frames when given as a number, */
    int64_t gop_us;               /* else in time; exactly one is > 0 */
    AVDictionary *options;        /* encoder options */
    char *device;                 /* hardware device (VAAPI render node,
                                     CUDA index), NULL = default */
    JobEncoderBackup *backup;     /* the standby encoder, NULL = none */
    JobLoc loc;
} JobRendition;

/* A backup destination of an output: same muxer and renditions, its own
 * URL; options and rw_timeout default to the output's. */
typedef struct JobOutputBackup {
    char *url;                    /* may hold secrets */
    AVDictionary *options;        /* the output's options, with the backup's
                                     own on top */
    int64_t rw_timeout_us;
    int64_t stall_timeout_us;
    int64_t send_buffer_size;     /* bytes, 0: the kernel's own sizing */
    JobLoc loc;
} JobOutputBackup;

/* A CDN path viewers reach an HLS/DASH output through (Content Steering). */
typedef struct JobPathway {
    char *id;                     /* PATHWAY-ID / serviceLocation: [A-Za-z0-9._-] */
    char *base;                   /* absolute http(s) URL of the output's directory
                                     as viewers reach it through this CDN, ending
                                     in '/'; may hold a token (a secret) */
    JobLoc loc;
} JobPathway;

/* The steering manifest of an output with pathways. */
typedef struct JobSteering {
    char *uri;                    /* as players reach it (SERVER-URI); may hold
                                     a token */
    char *path;                   /* its path: what the supervisor's HTTP
                                     endpoint answers, "/news/main.json" */
    int64_t ttl_us;               /* TTL players are told, whole seconds */
    int on_failure_only;          /* demote_on: failure: a pathway loses its
                                     place only once its viewer fails (no
                                     prediction; for comparison) */
    JobLoc loc;
} JobSteering;

#define JOB_DEFAULT_STEERING_TTL_US (10 * 1000000LL)
#define JOB_MAX_PATHWAYS 8

typedef struct JobOutput {
    char *name;                   /* unique in the stream */
    char *format;                 /* muxer name, guessed from the URL when
                                     not written ("rtmp://" -> flv) */
    char *url;                    /* may hold secrets, see JobInput.url */
    int *renditions;              /* indices into JobStream.renditions */
    int nb_renditions;            /* >= 1 */
    AVDictionary *options;        /* muxer and protocol options */
    int64_t rw_timeout_us;
    int64_t stall_timeout_us;     /* the peer takes nothing this long: failed */
    int64_t send_buffer_size;     /* SO_SNDBUF of its TCP connections, bytes;
                                     0: the kernel's own sizing */
    int epoch_lock;               /* HLS, DASH: segments cut and numbered on
                                     the grid of their length from 1970, with
                                     Unix-time timestamps, so that another
                                     node goes on with the same segments
                                     (README, "Fleet"); fleet mode sets it */
    char *run_tag;                /* DASH: what its segment and init names
                                     carry besides the muxer's run, so that
                                     no other node's or run's names are
                                     uploaded over ("NODE-UNIXTIME"); fleet
                                     mode sets it; owned, NULL: none */
    JobOutputBackup *backups;     /* in order of preference */
    int nb_backups;
    JobPathway *pathways;         /* HLS and DASH: the CDN paths to viewers,
                                     in the operator's order of preference */
    int nb_pathways;
    JobSteering steering;         /* set when nb_pathways */
    JobLoc loc;
} JobOutput;

/* When backups are opened ahead of a failure. */
typedef enum JobStandby {
    JOB_STANDBY_ON_RISK,          /* when the predictor (or a drill) asks */
    JOB_STANDBY_ALWAYS,           /* from the start, always ready */
    JOB_STANDBY_NEVER,            /* only when a failure needs them */
} JobStandby;

/* What an open standby encoder does before it is needed (standby_mode). */
typedef enum JobStandbyMode {
    JOB_STANDBY_WARM,             /* open, fed nothing; at a failover it gets
                                     the frames not passed on (a burst) */
    JOB_STANDBY_HOT,              /* fed every frame beside the encoder in use,
                                     its packets kept for the GOP: a switch
                                     costs no burst; the rendition's packets
                                     leave a GOP at a time (one GOP of delay) */
} JobStandbyMode;

/* What a fault does (faults:), or which operation a drill asks for. */
typedef enum JobFaultKind {
    JOB_FAULT_ERROR,              /* the component's next libav call fails */
    JOB_FAULT_STALL,              /* it stops for duration */
    JOB_FAULT_SLOW,               /* each item takes longer, ramping up to
                                     `ramp` extra over duration */
    JOB_FAULT_DROP,               /* a share (ratio) of its packets vanish,
                                     for duration */
    JOB_FAULT_CLOSE,              /* its connection is closed */
    JOB_FAULT_HANG,               /* encoders: its next encode call never
                                     returns, as a wedged driver's */
    JOB_ACTION_PROVISION,         /* open the backup ahead */
    JOB_ACTION_RELEASE,           /* close a provisioned backup */
    JOB_ACTION_SWITCH,            /* planned switch to the backup */
    JOB_ACTION_SWITCH_BACK,       /* planned switch back to the primary */
} JobFaultKind;

typedef struct JobFault {
    int64_t at_us;                /* media time of the stream */
    int64_t every_us;             /* repeat period, 0 = once */
    int count;                    /* occurrences (>= 1) */
    char *component;              /* "out:main", "enc:720p.backup", "input" */
    JobFaultKind kind;
    int64_t duration_us;          /* stall, slow, drop */
    int64_t ramp_us;              /* slow: extra time per item at the end */
    double ratio;                 /* drop: share of packets, 0..1 */
    JobLoc loc;
} JobFault;

/* What a drill (hotspare drill) checks of a run: the job's expect: holds
 * the defaults of every stream, a stream's own overrides them key by key
 * (README "Drills"). hotspare run ignores it. */
typedef struct JobExpect {
    int64_t frames_lost;          /* most frames an output may lose; -1: not checked */
    int64_t switch_within_us;     /* failure (or planned switch) -> first packet
                                     of the new instance; 0: not checked */
    int64_t detect_within_us;     /* fault -> failure event; 0: not checked */
    int exit;                     /* the run's exit status (the job's only);
                                     -1: not written (a drill expects 0) */
    JobLoc loc;                   /* of the expect: mapping, 0 when none */
} JobExpect;

#define JOB_EXPECT_UNSET { -1, 0, 0, -1, { 0, 0 } }

/* The orchestrator's judgement (README "Failure prediction"). A stream's
 * own values override the supervisor's, which override the defaults
 * (the model's thresholds; confirm 3; keep 60 s; no proactive switch). */
typedef struct JobOrchestrator {
    float provision_above;        /* risk; < 0: the model's threshold */
    float release_below;          /* risk; < 0: the model's lower threshold */
    float switch_above;           /* risk; > 1 (written off), or < 0 (unset):
                                     no proactive switch */
    int confirm;                  /* ticks in a row; 0: the default */
    int64_t keep_us;              /* 0: the default */
    int max_provisioned;          /* backups ahead, job-wide (supervisor
                                     only); 0: the default */
    int max_sessions_per_device;  /* encoder sessions a device (GPU) may hold
                                     when the allocator places a standby there,
                                     job-wide; 0: no limit */
    float hot_above;              /* risk above which a warm standby encoder
                                     is made hot; > 1 (off), < 0 (unset): never */
} JobOrchestrator;

#define JOB_ORCH_UNSET { -1, -1, -1, 0, 0, 0, 0, -1 }

typedef struct JobStream {
    char *name;                   /* unique in the job, [a-z0-9_-]+ */
    JobInput input;
    JobAudio audio;
    JobRendition *renditions;
    int nb_renditions;            /* >= 1 */
    JobOutput *outputs;
    int nb_outputs;               /* >= 1 */
    int64_t duration_us;          /* media time; 0 = until the input ends */
    JobStandby standby;
    JobStandbyMode standby_mode;  /* the stream's, else the supervisor's */
    int64_t switch_back_us;       /* clear time before switching back to a
                                     primary that recovered; 0 = never */
    int64_t latency_budget_us;    /* live only; 0 = no budget */
    JobOrchestrator orchestrator; /* what the stream says, then the
                                     supervisor's: see JobOrchestrator */
    JobFault *faults;             /* fault injection and drills */
    int nb_faults;
    JobExpect expect;             /* the job's, with the stream's own on top
                                     (exit: the job's) */
    uint64_t digest;              /* of its definition as written, with what the
                                     job sets for every stream: equal digests,
                                     a stream a reload leaves running */
    JobLoc loc;
} JobStream;

/* Fleet mode (README, "Fleet"): the nodes started with this job share its
 * streams through etcd; each stream runs on one of them at a time. */
#define JOB_FLEET_MAX_ETCD 8
#define JOB_FLEET_DEFAULT_LEASE_US 3000000      /* 3 s */
#define JOB_FLEET_MAX_STREAMS 64                /* FLEET_MAX_STREAMS (dra/fleet.h) */
typedef enum JobPair {
    JOB_PAIR_OFF,
    JOB_PAIR_ALWAYS,             /* every stream, all the time */
    JOB_PAIR_ON_RISK,            /* a stream whose leader's host is at risk */
} JobPair;
typedef struct JobFleet {
    char *etcd[JOB_FLEET_MAX_ETCD];   /* client URLs, "http://HOST:PORT"; owned */
    int nb_etcd;                  /* 0: not in fleet mode */
    char *node;                   /* this node's name; owned */
    int64_t lease_us;             /* the lease's TTL, whole seconds */
    char *prefix;                 /* every key under it, "/hotspare"; owned */
    int pair;                     /* hot pair (JobPair): each stream also runs
                                     warm on a second node, which takes over
                                     at once */
    int max_streams;              /* the most streams it leads (its headroom:
                                     a node at it takes no more); 0: no limit */
    JobLoc loc;
} JobFleet;

/* The supervisor's own settings: the tick, the data store, the metrics
 * endpoint, the control socket, the exec hooks, the fleet. */
typedef struct JobSupervisor {
    int64_t tick_us;              /* one snapshot of every component per tick */
    char *hds_path;               /* historical data store; NULL: none */
    int64_t hds_retention_us;
    int64_t hds_raw_window_us;    /* raw ticks kept this long, then rollups */
    char *metrics_addr;           /* "127.0.0.1:9464"; NULL: no endpoint */
    int metrics_allow_remote;     /* listen on a non-loopback address */
    char *model_path;             /* the failure model; NULL: the default one
                                     (predictor_default_model), if there is one */
    int prediction_off;           /* model: none */
    char *control_path;           /* the control socket (hotspare ctl); NULL:
                                     the default, $XDG_RUNTIME_DIR/hotspare/JOB.sock */
    /* exec hooks (README, "Exec hooks"): argv, NULL-terminated, with their
     * placeholders as written (checked: core/hookarg.h; expanded by
     * dra/hook.c); NULL when none */
    char **hook_provision;        /* starts a backup outside the process */
    char **hook_release;          /* lets it go */
    int64_t hook_timeout_us;      /* deadline of each run */
    JobOrchestrator orchestrator; /* the job-wide defaults */
    JobStandbyMode standby_mode;  /* the streams' default */
    JobFleet fleet;
    JobLoc loc;
} JobSupervisor;

#define JOB_DEFAULT_TICK_US 1000000
#define JOB_MAX_DEVICES 16
#define JOB_DEFAULT_HOOK_TIMEOUT_US 30000000   /* 30 s */

typedef struct Job {
    char *path;                   /* the file it was read from */
    int version;
    JobSupervisor supervisor;
    JobStream *streams;
    int nb_streams;               /* >= 1, except a fleet node's own job
                                     (supervisor.fleet set): 0 when its
                                     streams are all placed on the fleet */
    JobExpect expect;             /* expect: at the top level */
} Job;

/*
 * Keeps the streams for which keep(opaque, name) is non-zero, in their
 * order, and frees the others: a fleet node runs the ones it leads. The
 * result may have no stream at all (nb_streams 0), which a job read from
 * a file never has.
 */
void job_keep_streams(Job *job, int (*keep)(void *opaque, const char *name), void *opaque);

/*
 * Moves src's streams into dst, after its own, but for the names dst has
 * already; frees those and src (*psrc consumed, NULL after, also on
 * failure). A fleet node runs the streams placed on the fleet (etcd)
 * under its own supervisor settings. Returns how many moved, or
 * AVERROR(ENOMEM) (dst unchanged).
 */
int job_adopt_streams(Job *dst, Job **psrc);

/*
 * The fleet settings given on the command line (--fleet): "etcd=URL[,URL],
 * node=NAME[,lease=DUR][,prefix=P]", each key given replacing the job's
 * supervisor.fleet one (etcd: the whole list); etcd and node must be set
 * by one or the other. 0, or a negative AVERROR with why (the job's
 * settings untouched).
 */
int job_fleet_from_arg(Job *job, const char *arg, char *why, size_t why_size);

/* Problems found while loading, in file order. */
typedef struct JobDiag {
    char **msgs;                  /* "file:line:col: message" */
    int nb_msgs;
} JobDiag;

/*
 * Reads and validates path. On success returns 0 and *job (owned by the
 * caller, free with job_free). On failure returns a negative AVERROR
 * (AVERROR_INVALIDDATA for a bad job, AVERROR(errno) when the file cannot be
 * read, AVERROR(ENOMEM)), leaves *job NULL and appends every problem to diag
 * in file order (a file that cannot be read gets one "file: cannot read
 * ..." line, without a place). The caller owns diag and frees it with
 * job_diag_free, also on success where it may hold warnings: none today.
 * diag may be NULL. Also registers the URLs' secrets with log_add_secret().
 * Prints nothing itself; libav may log its own view of a bad filter graph
 * or option value through the log callback.
 */
int job_load(const char *path, Job **job, JobDiag *diag);

/* The same on a file's text in memory (size bytes, not NUL-terminated);
 * name stands for the file in messages and Job.path. The text stays the
 * caller's. */
int job_load_buffer(const char *name, const uint8_t *buf, size_t size, Job **job,
                    JobDiag *diag);

void job_free(Job **job);
void job_diag_free(JobDiag *diag);

/* Is this input live: paced at its native rate (realtime), or a network
 * source that paces itself? Live streams run on the wall clock: lags,
 * latency budgets and gap filling apply to them. */
int job_input_is_live(const JobInput *in);

/* --fast (drills): inputs read from files and lavfi graphs, backups
 * included, are read as fast as they come instead of at their native rate.
 * Returns how many streams have only such inputs now (unpaced). */
int job_unpace(Job *job);

/* Is url read through a network protocol (rtmp, srt, udp, http, ...)? */
int job_url_is_network(const char *url);

/* The segment length of an HLS or DASH output with these options (its
 * own or a backup's): hls_time, seg_duration, libav's defaults (2 s, 5 s)
 * when absent; 0 for other formats. */
int64_t job_output_segment_us(const JobOutput *jo, const AVDictionary *options);

/* Is this output epoch-locked (epoch_lock set, and a segmenting format:
 * HLS, or DASH to a network destination)? */
int job_output_epoch_locked(const JobOutput *jo);

/* Video renditions an output format can carry: 1 for flv and mpegts, INT_MAX
 * for containers with several video tracks (hls, dash, mp4, matroska). */
int job_format_max_video(const char *format);

/* An output option that libav reads as a duration (hls_time, hls_init_time,
 * seg_duration: "2", "2.5", "500ms", "00:00:02"), in microseconds; dflt
 * when it is absent, unreadable or negative. */
int64_t job_option_duration_us(const AVDictionary *options, const char *key, int64_t dflt);

#endif
