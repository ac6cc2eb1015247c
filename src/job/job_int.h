/*
 * job_int.h: what the files of src/job/ share, and nothing outside them
 * includes: the Loader (the document being walked and the problems found
 * so far) and the helpers each file offers the others.
 *
 *   job.c        schema version 1: the walk over the document, load, free
 *   job_yaml.c   a YAML reader with diagnostics: problems collected as
 *                "file:line:col: message" and sorted, YAML 1.1 typing of
 *                plain scalars, typed accessors that report what is wrong
 *   job_expect.c a drill's expect: (the job's and a stream's)
 *   job_libav.c  what can be checked against libav without opening
 *                anything: URLs and their secrets, options against the
 *                AVClasses, encoders, filter graphs
 *
 * The helpers are prefixed by the file that defines them, shortened the way
 * Lua's internals are (luaD_ is ldo.c): jy_ is job_yaml.c, jl_ job_libav.c.
 */
#ifndef HS_JOB_INT_H
#define HS_JOB_INT_H

#include <stdint.h>
#include <stdio.h>

#include <yaml.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/attributes.h>
#include <libavutil/dict.h>

#include "job/job.h"

/* Shared limits of schema version 1 (the others are job.c's). */
#define CHANNELS_MAX        8
#define URL_SHOW_MAX        512   /* a redacted URL in a message */

/* One problem found, to be sorted into file order. */
typedef struct Problem {
    int line, col;                /* 1-based */
    int seq;                      /* order of discovery, for a stable sort */
    char *msg;                    /* "file:line:col: message" */
} Problem;

/* A name already seen in a scope (streams of the job, renditions of a
 * stream, ...) and where, for "duplicate ... (first at line N)". */
typedef struct Seen {
    const char *name;
    const yaml_node_t *node;
} Seen;

typedef struct SeenSet {
    Seen *v;
    int nb, cap;
} SeenSet;

/* The walk of one job file: the document and what was found wrong in it. */
typedef struct Loader {
    const char *path;
    yaml_document_t *doc;
    Problem *problems;
    int nb_problems, cap_problems;
    int enomem;                   /* an allocation failed: ENOMEM wins */
    int64_t rw_timeout_us;        /* the job-wide default */
    SeenSet urls;                 /* output URLs of the whole job */
    const JobExpect *expect;      /* the job's expect:, the streams' defaults */
    const yaml_node_t *sv_standby_mode;   /* the supervisor's standby_mode:
                                             where a stream's default came from */
} Loader;

/* A node under YAML 1.1 resolution of plain scalars (jy_node_type). */
typedef enum NodeType {
    T_NULL, T_BOOL, T_INT, T_DECIMAL, T_STRING, T_LIST, T_MAP,
} NodeType;

/* A scalar node's text. */
#define TEXT(n) ((const char *)(n)->data.scalar.value)

/* ---- job_yaml.c: problems ------------------------------------------------ */

/* Records msg (av_malloc'd, taken; NULL: out of memory) at line:col. */
void jy_add_problem(Loader *ld, int line, int col, char *msg);

/* Records "file:line:col: message" for the place mark (0-based in libyaml). */
void jy_report_at(Loader *ld, yaml_mark_t mark, const char *fmt, ...) av_printf_format(3, 4);

/* The same at a node. */
#define report(ld, node, ...) jy_report_at(ld, (node)->start_mark, __VA_ARGS__)

/* libyaml's own complaint (a syntax or encoding error) at its place; buf
 * is the text it parsed (a reader error has only a byte offset). */
void jy_report_syntax(Loader *ld, yaml_parser_t *p, const uint8_t *buf, size_t size);

/* The limits of job.h checked on the text before a tree is built, each
 * reported at its place: not UTF-8 text (jy_check_text); too deep, too
 * wide, too many values or anchors (jy_check_shape, syntax errors too).
 * 0, AVERROR_INVALIDDATA (reported) or AVERROR(ENOMEM). */
int jy_check_text(Loader *ld, const uint8_t *buf, size_t size);
int jy_check_shape(Loader *ld, const uint8_t *buf, size_t size);

/* Moves the problems, sorted into file order, to diag (NULL: drops them). */
void jy_hand_over(Loader *ld, JobDiag *diag);

/* av_strdup, or NULL with ld->enomem set. */
char *jy_strdup(Loader *ld, const char *s);

/* Returns the node that first used name in set, or NULL (and adds it). */
const yaml_node_t *jy_seen_add(Loader *ld, SeenSet *set, const char *name,
                               const yaml_node_t *node);
void jy_seen_free(SeenSet *set);

/* Reports name as a duplicate in set if it is one ("duplicate WHAT name"). */
void jy_unique_name(Loader *ld, SeenSet *set, const char *what,
                    const char *name, const yaml_node_t *node);

/* ---- job_yaml.c: nodes ----------------------------------------------------- */

extern const char *const jy_true_words[];   /* "true", "yes", "on" */

/* Is s one of words (NULL-terminated), ignoring case? */
int jy_in_words(const char *s, const char *const *words);

/* What a node is under YAML 1.1 resolution; "a string", "a list", ... */
NodeType jy_node_type(const yaml_node_t *n);
const char *jy_type_name(NodeType t);

/* Reports "'key' must be WANT, not TYPE". */
void jy_wrong_type(Loader *ld, const yaml_node_t *n, const char *key, const char *want);

yaml_node_t *jy_node_at(Loader *ld, int index);

/*
 * Reports the keys of map that are not in keys (NULL-terminated; NULL: any
 * key), keys that are not scalars, and keys written twice. what names the
 * mapping in messages ("rendition").
 */
void jy_check_keys(Loader *ld, const yaml_node_t *map, const char *what,
                   const char *const *keys);

/* The value of key in map (its first occurrence), NULL when absent. */
yaml_node_t *jy_map_get(Loader *ld, const yaml_node_t *map, const char *key);

/* The same, reported as "WHAT is missing 'key'" when absent. */
yaml_node_t *jy_map_require(Loader *ld, const yaml_node_t *map,
                            const char *what, const char *key);

/* ---- job_yaml.c: typed getters ------------------------------------------- */

/*
 * Each looks key up in map and returns 0 when it is absent (the output
 * untouched), 1 when it was read into the output, or -1 when it is there
 * but wrong (reported).
 */
int jy_get_string(Loader *ld, const yaml_node_t *map, const char *key, char **out);
int jy_get_int(Loader *ld, const yaml_node_t *map, const char *key,
               int64_t min, int64_t max, int64_t *out);
int jy_get_bool(Loader *ld, const yaml_node_t *map, const char *key, int *out);
/* one of words (NULL-terminated): its index; the error lists them all */
int jy_get_word(Loader *ld, const yaml_node_t *map, const char *key,
                const char *const *words, int *out);
/* more than 0 and at most max (0: no limit) */
int jy_get_duration(Loader *ld, const yaml_node_t *map, const char *key,
                    int64_t max, int64_t *out);
int jy_get_size(Loader *ld, const yaml_node_t *map, const char *key,
                int64_t min, int64_t max, int64_t *out);
/* a mapping or a list (type) */
int jy_get_node(Loader *ld, const yaml_node_t *map, const char *key,
                yaml_node_type_t type, yaml_node_t **out);
/* "options": a mapping of scalars into *dict; the mapping in *node, for the
 * checks against libav, when it is one */
int jy_get_options(Loader *ld, const yaml_node_t *map, AVDictionary **dict,
                   yaml_node_t **node);

/* A scalar that may carry units (not a boolean or null); 0 and reported when not. */
int jy_unit_scalar(Loader *ld, const yaml_node_t *n, const char *key, const char *want);

/* A duration node, more than 0 and at most max (0: no limit): 1, or -1 reported. */
int jy_parse_duration(Loader *ld, const yaml_node_t *n, const char *key,
                      int64_t max, int64_t *out);

/* An option's value as libav takes it: booleans as 1/0. */
const char *jy_option_value(const yaml_node_t *v);

/* ---- job_libav.c --------------------------------------------------------- */

/* Registers libavdevice's formats (lavfi, v4l2, ...), once per process. */
void jl_register_devices(void);

/* The URL's secrets (user info, stream keys) are masked in the log from now on. */
void jl_register_secrets(Loader *ld, const char *url);

/* The scheme of "scheme://...", lower case, or "" when url has none. */
void jl_url_scheme(const char *url, char *buf, size_t size);

/* Live network sources pace themselves: rtmp*, srt, udp, http, ... */
int jl_is_network_scheme(const char *scheme);

/* The protocol that will open url, its name and AVClass (NULL: no options);
 * -1 when none does (reported). */
int jl_url_protocol(Loader *ld, const yaml_node_t *n, const char *url,
                    const char **name, const AVClass **cls);

/* The encoder called name, of media type; NULL when there is none or it is
 * of another type (reported; user names who wanted it: "audio"). */
const AVCodec *jl_find_encoder(Loader *ld, const yaml_node_t *n, const char *name,
                               enum AVMediaType type, const char *user);

/* Each option of the mapping opts (NULL: none) against the encoder, the
 * demuxer or the muxer and the protocol: its name, and its value where a
 * scratch context can take it. */
void jl_check_encoder_options(Loader *ld, const yaml_node_t *opts, const AVCodec *codec);
void jl_check_input_options(Loader *ld, const yaml_node_t *opts,
                            const AVInputFormat *ifmt, const AVClass *proto,
                            const char *proto_name);
void jl_check_output_options(Loader *ld, const yaml_node_t *opts,
                             const AVOutputFormat *ofmt, const AVClass *proto,
                             const char *proto_name);

/* The audio's sample rate and channels against what encoder c declares. */
void jl_check_audio_params(Loader *ld, const yaml_node_t *map, const AVCodec *c,
                           const JobAudio *a);

/* ---- job_expect.c -------------------------------------------------------- */

/* "expect" of map (the job's root when job_wide, else a stream) into *e,
 * which holds the defaults (JOB_EXPECT_UNSET, or the job's): the keys
 * written replace them one by one. exit is the job's alone. */
void jx_load_expect(Loader *ld, const yaml_node_t *map, int job_wide, JobExpect *e);

/* ---- job_steer.c --------------------------------------------------------- */

/* "pathways" and "steering" of an output (after its format is known; ofmt
 * NULL when it is not). */
void jl_load_pathways(Loader *ld, const yaml_node_t *map, const JobStream *st, JobOutput *o,
                      const AVOutputFormat *ofmt);

/* Job-wide: steering paths unique, and an HTTP endpoint to serve them. */
void jl_check_steering(Loader *ld, const yaml_node_t *root, const Job *job);

/* "filter" of an input: a preset name or an inline graph, checked in a
 * scratch graph. */
void jl_load_filter(Loader *ld, const yaml_node_t *map, JobInput *in);

#endif
