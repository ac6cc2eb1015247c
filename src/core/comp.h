/*
 * comp.h: the one name of a component, as events, samples, faults,
 * requests, the control socket and people write it:
 *
 *   news/input    news/input.backup    news/input.backup2
 *   news/enc:720p news/enc:720p.backup news/enc:audio
 *   news/out:main news/out:main.backup2
 *   news/edge:main  news/edge:main:cdn-a
 *   host          gpu:gpu0
 *
 * ".backup" is instance 1, ".backupN" instance N (2 <= N < COMP_MAX_INSTANCES),
 * no suffix the primary. Where the component as a whole is meant (a
 * request, a prediction series) instance is COMP_WHOLE and no suffix is
 * written. Rendition and output names may hold '.' ("out:HD.main.backup"):
 * only a last '.' segment that begins with "backup" is an instance. An
 * edge is an output's peer ("edge:main") or one of the CDN pathways viewers
 * reach it through ("edge:main:cdn-a"). After
 * "gpu:" the rest is the name, ':' and '.' included (DRM engines). This
 * file knows no job: whether a component exists is the caller's question.
 */
#ifndef HS_COMP_H
#define HS_COMP_H

#include <stddef.h>
#include <stdint.h>

#define COMP_NAME_SIZE      48
#define COMP_WHOLE          (-1)
/* The primary and 7 backups: what the data plane holds per component; the
 * job refuses more. */
#define COMP_MAX_INSTANCES  8

/* Stable numbers: stored in the data store and in model files. */
typedef enum CompKind {
    COMP_HOST    = 0,             /* the machine and this process; stream "" */
    COMP_GPU     = 1,             /* a GPU (NVML) or DRM device; stream "" */
    COMP_INGEST  = 2,             /* an input: demuxing and decoding; "input" */
    COMP_ENCODER = 3,             /* a rendition's or the audio encoder; "enc:NAME" */
    COMP_OUTPUT  = 4,             /* a packager/muxer; "out:NAME" */
    COMP_EDGE    = 5,             /* the peer an output delivers to, "edge:NAME";
                                     a CDN pathway to viewers, "edge:NAME:PATHWAY" */
    COMP_NB_KINDS
} CompKind;

typedef struct CompId {
    char stream[COMP_NAME_SIZE];  /* "" for the host and GPUs */
    CompKind kind;
    char name[COMP_NAME_SIZE];    /* "input", a rendition, "audio", an output, a GPU */
    int instance;                 /* 0 primary, k backup k, or COMP_WHOLE */
} CompId;

/* "host", "gpu", "ingest", "encoder", "output", "edge"; NULL when out of range. */
const char *comp_kind_name(CompKind kind);

/* The instance as a word: "primary", "backup", "backupN" (buf holds it,
 * size 16 is enough), "" for COMP_WHOLE. Metrics labels and the data
 * store's exports call it the role. */
const char *comp_instance_name(int instance, char *buf, size_t size);

/*
 * Writes the text form of id into buf; with_stream: "news/" in front (when
 * id->stream is not empty). Returns the length, or AVERROR(ENOSPC) when it
 * does not fit (buf then holds a truncated, terminated string), or
 * AVERROR(EINVAL) for what comp_parse would refuse: a kind or instance out
 * of range, a name missing, a host or GPU with a stream or a backup.
 */
int comp_format(const CompId *id, int with_stream, char *buf, size_t size);

/*
 * Reads the text form; the "stream/" part is optional (id->stream is then
 * ""). A name without an instance suffix reads as instance 0 unless
 * whole_default is set, then as COMP_WHOLE. Returns 0, or AVERROR(EINVAL)
 * with the reason (one line, no trailing newline) in err.
 */
int comp_parse(const char *text, int whole_default, CompId *id, char *err, size_t err_size);

/* The same component, and the same instance unless either is COMP_WHOLE.
 * An empty stream on either side matches any stream. */
int comp_match(const CompId *a, const CompId *b);

/* A number for a request, unique in the process, never 0. Thread-safe. */
uint32_t comp_next_seq(void);

#endif
