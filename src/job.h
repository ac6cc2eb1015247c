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

#include <stdint.h>

#include <libavutil/dict.h>
#include <libavutil/rational.h>

#define JOB_SCHEMA_VERSION 1

/* Defaults, documented in the README. */
#define JOB_DEFAULT_RW_TIMEOUT_US   5000000   /* 5 s per blocking libav call */
#define JOB_DEFAULT_VIDEO_ENCODER   "libx264"
#define JOB_DEFAULT_AUDIO_ENCODER   "aac"
#define JOB_DEFAULT_AUDIO_BITRATE   128000
#define JOB_DEFAULT_GOP_US          2000000   /* 2 s */

/* Where a value came from in the YAML file, for messages at run time. */
typedef struct JobLoc {
    int line, col;                /* 1-based; 0 when not from the file */
} JobLoc;

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
    JobLoc loc;
} JobRendition;

typedef struct JobOutput {
    char *name;                   /* unique in the stream */
    char *format;                 /* muxer name, guessed from the URL when
                                     not written ("rtmp://" -> flv) */
    char *url;                    /* may hold secrets, see JobInput.url */
    int *renditions;              /* indices into JobStream.renditions */
    int nb_renditions;            /* >= 1 */
    AVDictionary *options;        /* muxer and protocol options */
    int64_t rw_timeout_us;
    JobLoc loc;
} JobOutput;

typedef struct JobStream {
    char *name;                   /* unique in the job, [a-z0-9_-]+ */
    JobInput input;
    JobAudio audio;
    JobRendition *renditions;
    int nb_renditions;            /* >= 1 */
    JobOutput *outputs;
    int nb_outputs;               /* >= 1 */
    int64_t duration_us;          /* media time; 0 = until the input ends */
    JobLoc loc;
} JobStream;

typedef struct Job {
    char *path;                   /* the file it was read from */
    int version;
    JobStream *streams;
    int nb_streams;               /* >= 1 */
} Job;

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

void job_free(Job **job);
void job_diag_free(JobDiag *diag);

/* Video renditions an output format can carry: 1 for flv and mpegts, INT_MAX
 * for containers with several video tracks (hls, dash, mp4, matroska). */
int job_format_max_video(const char *format);

#endif
