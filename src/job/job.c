/*
 * job.c: the YAML job file -> a validated, immutable Job; see job.h.
 *
 * The file is read with libyaml's document API, so that every node keeps the
 * place it came from, and walked against schema version 1. Every problem is
 * collected (a user fixing a job wants the whole list, as a compiler gives
 * it), each pointing at the node it is about; they are sorted into file
 * order at the end, because some checks (references between renditions and
 * outputs, URLs shared by two streams) are only possible after a later node
 * has been read.
 *
 * What can be checked against libav without opening anything is checked
 * here: encoders and their media type, muxers and demuxers, their options
 * (names against the AVClasses, values by setting them on a scratch
 * context), filter graphs (parsed in a scratch graph). Nothing is printed;
 * libav itself may log what it disliked about a graph or an option value,
 * through the process's log callback like any other libav line.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
#include <libavutil/parseutils.h>

#include "job/job.h"
#include "core/hookarg.h"
#include "core/log.h"
#include "job/preset.h"
#include "core/redact.h"
#include "core/units.h"

/* Limits of schema version 1: part of the user-facing contract, like the
 * key names (a job valid today must stay valid). */
#define NAME_MAX_LEN        32
#define DIM_MIN             16
#define DIM_MAX             16384
#define FPS_MAX             1000
#define BITRATE_MIN         1000
#define BITRATE_MAX         2000000000
#define GOP_FRAMES_MAX      100000
#define GOP_US_MAX          (60 * 1000000LL)
#define SAMPLE_RATE_MIN     8000
#define SAMPLE_RATE_MAX     192000
#define CHANNELS_MAX        8
#define PROBE_MAX_US        (3600 * 1000000LL)
#define LOSS_TIMEOUT_MAX_US (60 * 1000000LL)
#define SWITCH_BACK_MAX_US  (24 * 3600 * 1000000LL)
#define FAULT_COUNT_MAX     100000
#define HOOK_TIMEOUT_MAX_US (3600 * 1000000LL)

#define URL_SHOW_MAX        512   /* a redacted URL in a message */

/* ------------------------------------------------------------------------ */
/* Problems                                                                 */

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

typedef struct Loader {
    const char *path;
    yaml_document_t *doc;
    Problem *problems;
    int nb_problems, cap_problems;
    int enomem;                   /* an allocation failed: ENOMEM wins */
    int64_t rw_timeout_us;        /* the job-wide default */
    SeenSet urls;                 /* output URLs of the whole job */
} Loader;

static void add_problem(Loader *ld, int line, int col, char *msg)
{
    if (!msg) {
        ld->enomem = 1;
        return;
    }
    if (ld->nb_problems == ld->cap_problems) {
        int cap = ld->cap_problems ? 2 * ld->cap_problems : 16;
        Problem *p = av_realloc_array(ld->problems, cap, sizeof(*p));
        if (!p) {
            av_free(msg);
            ld->enomem = 1;
            return;
        }
        ld->problems = p;
        ld->cap_problems = cap;
    }
    ld->problems[ld->nb_problems] = (Problem){ line, col, ld->nb_problems, msg };
    ld->nb_problems++;
}

static void report_at(Loader *ld, yaml_mark_t mark, const char *fmt, ...)
    av_printf_format(3, 4);

/* Records "file:line:col: message" for the place mark (0-based in libyaml). */
static void report_at(Loader *ld, yaml_mark_t mark, const char *fmt, ...)
{
    AVBPrint bp;
    va_list ap;
    char *msg = NULL;

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, "%s:%d:%d: ", ld->path, (int)mark.line + 1, (int)mark.column + 1);
    va_start(ap, fmt);
    av_vbprintf(&bp, fmt, ap);
    va_end(ap);
    if (av_bprint_finalize(&bp, &msg) < 0)
        msg = NULL;
    add_problem(ld, (int)mark.line + 1, (int)mark.column + 1, msg);
}

#define report(ld, node, ...) report_at(ld, (node)->start_mark, __VA_ARGS__)

static int cmp_problem(const void *a, const void *b)
{
    const Problem *p = a, *q = b;

    if (p->line != q->line)
        return p->line - q->line;
    if (p->col != q->col)
        return p->col - q->col;
    return p->seq - q->seq;
}

static char *ld_strdup(Loader *ld, const char *s)
{
    char *d = av_strdup(s);

    if (!d)
        ld->enomem = 1;
    return d;
}

/* Returns the node that first used name in set, or NULL (and adds it). */
static const yaml_node_t *seen_add(Loader *ld, SeenSet *set, const char *name,
                                   const yaml_node_t *node)
{
    for (int i = 0; i < set->nb; i++)
        if (!strcmp(set->v[i].name, name))
            return set->v[i].node;
    if (set->nb == set->cap) {
        int cap = set->cap ? 2 * set->cap : 8;
        Seen *v = av_realloc_array(set->v, cap, sizeof(*v));
        if (!v) {
            ld->enomem = 1;
            return NULL;
        }
        set->v = v;
        set->cap = cap;
    }
    set->v[set->nb++] = (Seen){ name, node };
    return NULL;
}

static void seen_free(SeenSet *set)
{
    av_freep(&set->v);
    set->nb = set->cap = 0;
}

/* ------------------------------------------------------------------------ */
/* YAML typing: YAML 1.1 resolution of plain scalars, as job files expect   */

typedef enum NodeType {
    T_NULL, T_BOOL, T_INT, T_DECIMAL, T_STRING, T_LIST, T_MAP,
} NodeType;

#define TEXT(n) ((const char *)(n)->data.scalar.value)

static int match_int(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

static int match_decimal(const char *s)
{
    int digits = 0;

    if (*s == '-' || *s == '+')
        s++;
    for (; *s >= '0' && *s <= '9'; s++)
        digits++;
    if (*s != '.')
        return 0;
    for (s++; *s >= '0' && *s <= '9'; s++)
        digits++;
    return digits && !*s;
}

static const char *const true_words[]  = { "true", "yes", "on", NULL };
static const char *const false_words[] = { "false", "no", "off", NULL };

static int in_words(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (!strcasecmp(s, *words))
            return 1;
    return 0;
}

static NodeType node_type(const yaml_node_t *n)
{
    const char *s;

    if (n->type == YAML_SEQUENCE_NODE)
        return T_LIST;
    if (n->type == YAML_MAPPING_NODE)
        return T_MAP;
    /* quoted scalars and block literals are strings, whatever they hold */
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return T_STRING;
    s = TEXT(n);
    if (!*s || !strcmp(s, "~") || !strcasecmp(s, "null"))
        return T_NULL;
    if (in_words(s, true_words) || in_words(s, false_words))
        return T_BOOL;
    if (match_int(s))
        return T_INT;
    if (match_decimal(s))
        return T_DECIMAL;
    return T_STRING;
}

static const char *type_name(NodeType t)
{
    switch (t) {
    case T_NULL:    return "null";
    case T_BOOL:    return "a boolean";
    case T_INT:     return "an integer";
    case T_DECIMAL: return "a decimal number";
    case T_STRING:  return "a string";
    case T_LIST:    return "a list";
    case T_MAP:     return "a mapping";
    }
    return "?";
}

static void wrong_type(Loader *ld, const yaml_node_t *n, const char *key, const char *want)
{
    report(ld, n, "'%s' must be %s, not %s", key, want, type_name(node_type(n)));
}

static yaml_node_t *node_at(Loader *ld, int index)
{
    return yaml_document_get_node(ld->doc, index);
}

/* ------------------------------------------------------------------------ */
/* Mappings                                                                 */

/*
 * Reports the keys of map that are not in keys (NULL-terminated), keys that
 * are not scalars, and keys written twice. what names the mapping in
 * messages ("rendition").
 */
static void check_keys(Loader *ld, const yaml_node_t *map, const char *what,
                       const char *const *keys)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(ld, p->key);
        int known = 0;

        if (k->type != YAML_SCALAR_NODE) {
            report(ld, k, "a key must be a name, not %s", type_name(node_type(k)));
            continue;
        }
        for (const yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *prev = node_at(ld, q->key);
            if (prev->type == YAML_SCALAR_NODE && !strcmp(TEXT(prev), TEXT(k))) {
                report(ld, k, "duplicate key '%s' (first at line %d)", TEXT(k),
                       (int)prev->start_mark.line + 1);
                break;
            }
        }
        if (!keys)
            continue;
        for (const char *const *key = keys; *key; key++)
            known |= !strcmp(*key, TEXT(k));
        if (!known) {
            AVBPrint bp;
            av_bprint_init(&bp, 0, AV_BPRINT_SIZE_AUTOMATIC);
            for (const char *const *key = keys; *key; key++)
                av_bprintf(&bp, "%s%s", key == keys ? "" : ", ", *key);
            report(ld, k, "unknown key '%s' in %s (expected one of: %s)",
                   TEXT(k), what, bp.str);
            av_bprint_finalize(&bp, NULL);
        }
    }
}

/* The value of key in map (its first occurrence), NULL when absent. */
static yaml_node_t *map_get(Loader *ld, const yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(ld, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp(TEXT(k), key))
            return node_at(ld, p->value);
    }
    return NULL;
}

static yaml_node_t *map_require(Loader *ld, const yaml_node_t *map,
                                const char *what, const char *key)
{
    yaml_node_t *v = map_get(ld, map, key);

    if (!v)
        report(ld, map, "%s is missing '%s'", what, key);
    return v;
}

/*
 * Typed getters. Each looks key up in map and returns 0 when it is absent
 * (the output untouched), 1 when it was read into the output, or -1 when it
 * is there but wrong (reported).
 */

static int get_string(Loader *ld, const yaml_node_t *map, const char *key, char **out)
{
    yaml_node_t *n = map_get(ld, map, key);

    if (!n)
        return 0;
    if (node_type(n) != T_STRING) {
        wrong_type(ld, n, key, "a string");
        return -1;
    }
    if (!n->data.scalar.length) {
        report(ld, n, "'%s' must not be empty", key);
        return -1;
    }
    if (strlen(TEXT(n)) != n->data.scalar.length) {
        report(ld, n, "'%s' must not contain a NUL character", key);
        return -1;
    }
    *out = ld_strdup(ld, TEXT(n));
    return 1;
}

static int get_int(Loader *ld, const yaml_node_t *map, const char *key,
                   int64_t min, int64_t max, int64_t *out)
{
    yaml_node_t *n = map_get(ld, map, key);
    long long v;

    if (!n)
        return 0;
    if (node_type(n) != T_INT) {
        wrong_type(ld, n, key, "an integer");
        return -1;
    }
    errno = 0;
    v = strtoll(TEXT(n), NULL, 10);
    if (errno || v < min || v > max) {
        report(ld, n, "'%s' must be between %" PRId64 " and %" PRId64 ", got %s",
               key, min, max, TEXT(n));
        return -1;
    }
    *out = v;
    return 1;
}

static int get_bool(Loader *ld, const yaml_node_t *map, const char *key, int *out)
{
    yaml_node_t *n = map_get(ld, map, key);

    if (!n)
        return 0;
    if (node_type(n) != T_BOOL) {
        wrong_type(ld, n, key, "true or false");
        return -1;
    }
    *out = in_words(TEXT(n), true_words);
    return 1;
}

/* A value with units: a scalar that is not a boolean or null. Quoted or not,
 * "20s" is a duration; a plain 20 gets units.c's "needs a unit". */
static int unit_scalar(Loader *ld, const yaml_node_t *n, const char *key, const char *want)
{
    NodeType t = node_type(n);

    if (t == T_INT || t == T_DECIMAL || t == T_STRING)
        return 1;
    wrong_type(ld, n, key, want);
    return 0;
}

/* A duration node, more than 0 and at most max (0: no limit). */
static int parse_duration_node(Loader *ld, const yaml_node_t *n, const char *key,
                               int64_t max, int64_t *out)
{
    char err[160], a[32], b[32];
    int64_t us;

    if (!unit_scalar(ld, n, key, "a duration such as 5s"))
        return -1;
    if (units_parse_duration(TEXT(n), &us, err, sizeof(err)) < 0) {
        report(ld, n, "'%s' %s", key, err);
        return -1;
    }
    if (us <= 0 || (max && us > max)) {
        if (max)
            report(ld, n, "'%s' must be more than 0 and at most %s, got %s", key,
                   units_format_duration(max, a, sizeof(a)),
                   units_format_duration(us, b, sizeof(b)));
        else
            report(ld, n, "'%s' must be more than 0", key);
        return -1;
    }
    *out = us;
    return 1;
}

static int get_duration(Loader *ld, const yaml_node_t *map, const char *key,
                        int64_t max, int64_t *out)
{
    yaml_node_t *n = map_get(ld, map, key);

    return n ? parse_duration_node(ld, n, key, max, out) : 0;
}

static int get_size(Loader *ld, const yaml_node_t *map, const char *key,
                    int64_t min, int64_t max, int64_t *out)
{
    yaml_node_t *n = map_get(ld, map, key);
    char err[160];
    int64_t v;

    if (!n)
        return 0;
    if (!unit_scalar(ld, n, key, "a size such as 3M"))
        return -1;
    if (units_parse_size(TEXT(n), &v, err, sizeof(err)) < 0) {
        report(ld, n, "'%s' %s", key, err);
        return -1;
    }
    if (v < min || v > max) {
        report(ld, n, "'%s' must be between %" PRId64 " and %" PRId64 ", got %" PRId64,
               key, min, max, v);
        return -1;
    }
    *out = v;
    return 1;
}

/* The value of a typed mapping or list key; absent is 0, wrong is -1. */
static int get_node(Loader *ld, const yaml_node_t *map, const char *key,
                    yaml_node_type_t type, yaml_node_t **out)
{
    yaml_node_t *n = map_get(ld, map, key);

    if (!n)
        return 0;
    if (n->type != type) {
        wrong_type(ld, n, key, type == YAML_MAPPING_NODE ? "a mapping" : "a list");
        return -1;
    }
    *out = n;
    return 1;
}

/* An option's value as libav takes it: booleans as 1/0. */
static const char *option_value(const yaml_node_t *v)
{
    if (node_type(v) == T_BOOL)
        return in_words(TEXT(v), true_words) ? "1" : "0";
    return TEXT(v);
}

/*
 * "options": a mapping of scalars, into *dict. Returns the mapping node in
 * *node (for the checks against libav) when it is one.
 */
static int get_options(Loader *ld, const yaml_node_t *map, AVDictionary **dict,
                       yaml_node_t **node)
{
    yaml_node_t *n = map_get(ld, map, "options");
    int ok = 1;

    *node = NULL;
    if (!n)
        return 0;
    if (n->type != YAML_MAPPING_NODE) {
        report(ld, n, "'options' must be a mapping of scalar values");
        return -1;
    }
    check_keys(ld, n, "options", NULL);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(ld, p->key), *v = node_at(ld, p->value);
        if (k->type != YAML_SCALAR_NODE)
            continue;                       /* check_keys said so */
        if (v->type != YAML_SCALAR_NODE) {
            report(ld, v, "'options' must be a mapping of scalar values");
            ok = 0;
            continue;
        }
        /* libav options have no "present without a value" form */
        if (node_type(v) == T_NULL) {
            report(ld, v, "option '%s' needs a value", TEXT(k));
            ok = 0;
            continue;
        }
        /* AV_DICT_DONT_OVERWRITE: the first of a duplicated key, as map_get */
        if (av_dict_set(dict, TEXT(k), option_value(v), AV_DICT_DONT_OVERWRITE) < 0)
            ld->enomem = 1;
    }
    *node = n;
    return ok ? 1 : -1;
}

/* Names: [a-z0-9_-] for streams (they become paths and log prefixes),
 * [A-Za-z0-9_.-] for renditions and outputs ("720p", "HD.main"). */
static int name_char(char c, int loose)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || (loose && ((c >= 'A' && c <= 'Z') || c == '.'));
}

static int get_name(Loader *ld, const yaml_node_t *map, const char *what, int loose,
                    char **out, yaml_node_t **node)
{
    yaml_node_t *n = map_require(ld, map, what, "name");
    const char *s;
    size_t len;

    *node = NULL;
    if (!n)
        return -1;
    if (node_type(n) != T_STRING) {
        wrong_type(ld, n, "name", "a string");
        return -1;
    }
    s = TEXT(n);
    len = strlen(s);
    for (const char *c = s; *c; c++)
        if (!name_char(*c, loose))
            len = 0;
    if (!len || len > NAME_MAX_LEN || len != n->data.scalar.length) {
        report(ld, n, "%s name must be 1 to %d characters of %s, got '%s'", what,
               NAME_MAX_LEN, loose ? "A-Z, a-z, 0-9, '_', '.' and '-'"
                                   : "a-z, 0-9, '_' and '-'", s);
        return -1;
    }
    *out = ld_strdup(ld, s);
    *node = n;
    return 1;
}

/* Reports name as a duplicate in set if it is one. */
static void unique_name(Loader *ld, SeenSet *set, const char *what,
                        const char *name, const yaml_node_t *node)
{
    const yaml_node_t *first = seen_add(ld, set, name, node);

    if (first)
        report(ld, node, "duplicate %s name '%s' (first at line %d)", what, name,
               (int)first->start_mark.line + 1);
}

/* ------------------------------------------------------------------------ */
/* libav: components and their options                                      */

static void register_secret(void *opaque, const char *s, size_t len)
{
    char *dup = av_strndup(s, len);

    if (dup)
        log_add_secret(dup);
    else
        ((Loader *)opaque)->enomem = 1;
    av_free(dup);
}

/* The log masks these from now on, whatever prints them. */
static void register_secrets(Loader *ld, const char *url)
{
    redact_url_secrets(url, register_secret, ld);
}

/* The scheme of "scheme://...", lower case, or "" when url has none. */
static void url_scheme(const char *url, char *buf, size_t size)
{
    size_t n = 0;

    buf[0] = 0;
    while ((url[n] >= 'a' && url[n] <= 'z') || (url[n] >= 'A' && url[n] <= 'Z') ||
           (n && ((url[n] >= '0' && url[n] <= '9') || url[n] == '+' ||
                  url[n] == '-' || url[n] == '.')))
        n++;
    if (!n || strncmp(url + n, "://", 3) || n >= size)
        return;
    for (size_t i = 0; i < n; i++)
        buf[i] = url[i] >= 'A' && url[i] <= 'Z' ? url[i] - 'A' + 'a' : url[i];
    buf[n] = 0;
}

/* Live network sources pace themselves; reading them at native rate as well
 * would only add latency, so realtime defaults to false for them. */
static int is_network_scheme(const char *scheme)
{
    static const char *const net[] = {
        "srt", "udp", "rtp", "rtsp", "tcp", "http", "https",
        "rist", "srtp", "udplite", "tls", NULL,
    };

    if (!strncmp(scheme, "rtmp", 4))      /* rtmp, rtmps, rtmpt, rtmpts, ... */
        return 1;
    return in_words(scheme, net);
}

/*
 * The libav protocol that will open url: its name and its AVClass (NULL
 * when it has no options). Returns -1 when none handles the URL (reported).
 */
static int url_protocol(Loader *ld, const yaml_node_t *n, const char *url,
                        const char **name, const AVClass **cls)
{
    char scheme[32], shown[URL_SHOW_MAX];

    *name = avio_find_protocol_name(url);
    *cls = NULL;
    if (!*name) {
        url_scheme(url, scheme, sizeof(scheme));
        report(ld, n, "unknown protocol '%s' in '%s' (see ffmpeg -protocols)",
               *scheme ? scheme : url, redact_url(url, shown, sizeof(shown)));
        return -1;
    }
    *cls = avio_protocol_get_class(*name);
    return 0;
}

/* Where an option may be found. */
typedef struct OptScope {
    const AVClass *cls;            /* searched as a fake object; NULL: skip */
    int flags;                     /* AV_OPT_FLAG_* the option must carry */
    void *obj;                     /* an object of cls to try the value on,
                                      NULL when none can be made */
    const char *owner;             /* "muxer 'hls'", for messages */
} OptScope;

/* URLContext's own options, which no public AVClass lists. */
static const char *const url_context_options[] = {
    "protocol_whitelist", "protocol_blacklist", "rw_timeout", NULL,
};

static const OptScope *find_option(const OptScope *scopes, int nb, const char *name)
{
    for (int i = 0; i < nb; i++) {
        const AVClass *cls = scopes[i].cls;
        if (cls && av_opt_find(&cls, name, NULL, scopes[i].flags, AV_OPT_SEARCH_FAKE_OBJ))
            return &scopes[i];
    }
    return NULL;
}

/* "muxer 'hls' and protocol 'file' have": the owners of the scopes that
 * have options, each once. */
static void owners(const OptScope *scopes, int nb, AVBPrint *bp)
{
    int n = 0;

    for (int i = 0; i < nb; i++) {
        int dup = 0;
        if (!scopes[i].cls)
            continue;
        for (int j = 0; j < i; j++)
            dup |= scopes[j].cls && !strcmp(scopes[j].owner, scopes[i].owner);
        if (!dup)
            av_bprintf(bp, "%s%s", n++ ? " and " : "", scopes[i].owner);
    }
    av_bprintf(bp, " %s", n > 1 ? "have" : "has");
}

/* Does some demuxer have the option? */
static int any_demuxer_has(const char *name)
{
    const AVInputFormat *f;
    void *it = NULL;

    while ((f = av_demuxer_iterate(&it))) {
        const AVClass *cls = f->priv_class;
        if (cls && av_opt_find(&cls, name, NULL, AV_OPT_FLAG_DECODING_PARAM,
                               AV_OPT_SEARCH_FAKE_OBJ))
            return 1;
    }
    return 0;
}

/* Check flags. */
#define OPT_URL       (1u << 0)   /* a protocol opens the URL: URLContext's
                                     own options are valid too */
#define OPT_PROBED    (1u << 1)   /* the demuxer is probed, not named: an
                                     option some demuxer has is trusted */

/*
 * Checks each option of the mapping opts against scopes: the name must be in
 * one of them, and where that scope has an object, the value must set on
 * it. flags: OPT_*.
 */
static void check_options(Loader *ld, const yaml_node_t *opts, const OptScope *scopes,
                          int nb, unsigned flags)
{
    if (!opts)
        return;
    for (yaml_node_pair_t *p = opts->data.mapping.pairs.start;
         p < opts->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(ld, p->key), *v = node_at(ld, p->value);
        const OptScope *s;
        int ret;

        if (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE ||
            node_type(v) == T_NULL)
            continue;
        s = find_option(scopes, nb, TEXT(k));
        if (!s) {
            AVBPrint bp;
            if ((flags & OPT_URL) && in_words(TEXT(k), url_context_options))
                continue;
            if (flags & OPT_PROBED) {
                if (!any_demuxer_has(TEXT(k)))
                    report(ld, k, "unknown input option '%s' (no demuxer%s%s has it)",
                           TEXT(k), scopes[nb - 1].cls ? " or " : "",
                           scopes[nb - 1].cls ? scopes[nb - 1].owner : "");
                continue;
            }
            av_bprint_init(&bp, 0, AV_BPRINT_SIZE_AUTOMATIC);
            owners(scopes, nb, &bp);
            report(ld, k, "%s no option '%s'", bp.str, TEXT(k));
            av_bprint_finalize(&bp, NULL);
            continue;
        }
        if (!s->obj)
            continue;
        ret = av_opt_set(s->obj, TEXT(k), option_value(v), 0);
        if (ret < 0)
            report(ld, v, "invalid value '%s' for option '%s' of %s: %s",
                   option_value(v), TEXT(k), s->owner, av_err2str(ret));
    }
}

static const AVCodec *find_encoder(Loader *ld, const yaml_node_t *n, const char *name,
                                   enum AVMediaType type, const char *user)
{
    const AVCodec *c = avcodec_find_encoder_by_name(name);

    if (!c) {
        report(ld, n, "unknown encoder '%s' (see ffmpeg -encoders)", name);
        return NULL;
    }
    if (c->type != type) {
        const char *is = av_get_media_type_string(c->type);
        const char *want = av_get_media_type_string(type);
        report(ld, n, "'%s' is %s %s encoder, %s needs %s %s encoder", name,
               *is == 'a' ? "an" : "a", is, user, *want == 'a' ? "an" : "a", want);
        return NULL;
    }
    return c;
}

/* The encoder's options: its private class and the generic codec options
 * meant for encoding that media type; values are tried on a scratch
 * context (allocating one opens no device). */
static void check_encoder_options(Loader *ld, const yaml_node_t *opts,
                                  const AVCodec *codec)
{
    int media = codec->type == AVMEDIA_TYPE_VIDEO ? AV_OPT_FLAG_VIDEO_PARAM
                                                  : AV_OPT_FLAG_AUDIO_PARAM;
    AVCodecContext *ctx;
    char owner[96];

    if (!opts)
        return;
    ctx = avcodec_alloc_context3(codec);
    if (!ctx) {
        ld->enomem = 1;
        return;
    }
    snprintf(owner, sizeof(owner), "encoder '%s'", codec->name);
    {
        const OptScope scopes[] = {
            { codec->priv_class, AV_OPT_FLAG_ENCODING_PARAM | media, ctx->priv_data, owner },
            { avcodec_get_class(), AV_OPT_FLAG_ENCODING_PARAM | media, ctx, owner },
        };
        check_options(ld, opts, scopes, 2, 0);
    }
    avcodec_free_context(&ctx);
}

/* ------------------------------------------------------------------------ */
/* Filter graphs                                                            */

/*
 * avfilter_graph_parse2() answers EINVAL for a filter that does not exist
 * and logs its name. To put the name in our message (and keep libav from
 * logging during a check), the graph text is walked first the way
 * libavfilter's parser does (labels, name, '=' arguments, ',' or ';'):
 * returns the first name that is not a filter (av_malloc'd), or NULL.
 */
static char *unknown_filter_in(const char *graph)
{
    const char *p = graph;

    while (*p) {
        char *name, *args, *at;

        p += strspn(p, " \t\r\n,;");
        while (*p == '[') {                 /* input labels */
            const char *end = strchr(p, ']');
            if (!end)
                return NULL;
            p = end + 1;
            p += strspn(p, " \t\r\n");
        }
        if (!*p)
            break;
        name = av_get_token(&p, "=,;[");
        if (!name)
            return NULL;
        if (*p == '=') {
            p++;
            args = av_get_token(&p, "[],;");
            av_free(args);
        }
        at = strchr(name, '@');             /* "scale@main" names an instance */
        if (at)
            *at = 0;
        if (*name && strcmp(name, "sws_flags") && !avfilter_get_by_name(name))
            return name;
        av_free(name);
        while (*p == '[' || *p == ' ') {    /* output labels */
            const char *end = *p == '[' ? strchr(p, ']') : p;
            if (!end)
                return NULL;
            p = end + 1;
        }
    }
    return NULL;
}

static int count_inout(const AVFilterInOut *io)
{
    int n = 0;

    for (; io; io = io->next)
        n++;
    return n;
}

/*
 * The input's filter must be one video chain: parsed in a scratch graph,
 * exactly one unconnected input (the decoded frames) and one unconnected
 * output (to the ladder), both video. what is "filter preset 'x'" or
 * "filter graph '...'".
 */
static void check_graph(Loader *ld, const yaml_node_t *n, const char *graph,
                        const char *what)
{
    AVFilterGraph *g;
    AVFilterInOut *ins = NULL, *outs = NULL;
    char *bad = unknown_filter_in(graph);
    int ret, nb_in, nb_out;

    if (bad) {
        report(ld, n, "%s names an unknown filter '%s' (see ffmpeg -filters)", what, bad);
        av_free(bad);
        return;
    }
    g = avfilter_graph_alloc();
    if (!g) {
        ld->enomem = 1;
        return;
    }
    ret = avfilter_graph_parse2(g, graph, &ins, &outs);
    if (ret < 0) {
        report(ld, n, "%s does not parse: %s", what, av_err2str(ret));
        goto end;
    }
    nb_in = count_inout(ins);
    nb_out = count_inout(outs);
    if (nb_in != 1 || nb_out != 1) {
        report(ld, n, "%s must have exactly one unconnected input and one unconnected "
               "output, it has %d and %d", what, nb_in, nb_out);
        goto end;
    }
    if (avfilter_pad_get_type(ins->filter_ctx->input_pads, ins->pad_idx) != AVMEDIA_TYPE_VIDEO ||
        avfilter_pad_get_type(outs->filter_ctx->output_pads, outs->pad_idx) != AVMEDIA_TYPE_VIDEO)
        report(ld, n, "%s must take and give video", what);
end:
    avfilter_inout_free(&ins);
    avfilter_inout_free(&outs);
    avfilter_graph_free(&g);
}

/*
 * "filter": a preset name ([a-z0-9_-]+, found by preset_load) or an inline
 * graph. A name-shaped word that is no preset may still be a graph of one
 * filter ("hflip"); if it is not a filter either, it was meant as a preset.
 */
static void load_filter(Loader *ld, const yaml_node_t *map, JobInput *in)
{
    yaml_node_t *n = map_get(ld, map, "filter");
    char what[160];
    char *graph = NULL;
    const char *s;
    int ret;

    if (!n || get_string(ld, map, "filter", &graph) <= 0)
        return;
    s = graph;
    if (preset_name_valid(s)) {
        char *text = NULL;
        ret = preset_load(s, &text);
        if (ret >= 0) {
            in->filter_name = graph;
            in->filter = ld_strdup(ld, text);
            av_free(text);
            snprintf(what, sizeof(what), "filter preset '%s'", s);
            if (in->filter)
                check_graph(ld, n, in->filter, what);
            return;
        }
        if (ret == AVERROR_INVALIDDATA) {
            report(ld, n, "filter preset '%s' is empty", s);
            goto fail;
        }
        if (ret != AVERROR(ENOENT)) {
            report(ld, n, "cannot read filter preset '%s': %s", s, av_err2str(ret));
            goto fail;
        }
        if (!avfilter_get_by_name(s)) {
            report(ld, n, "unknown filter preset '%s' (no %s.graph in the preset "
                   "directories, and no libavfilter filter of that name)", s, s);
            goto fail;
        }
    }
    in->filter = graph;
    snprintf(what, sizeof(what), "filter graph '%s'", s);
    check_graph(ld, n, s, what);
    return;
fail:
    av_free(graph);
}

/* ------------------------------------------------------------------------ */
/* Inputs, audio, renditions, outputs                                       */

static const char *const job_keys[] = { "version", "rw_timeout", "supervisor", "streams", NULL };
static const char *const supervisor_keys[] = { "tick", "hds", "metrics", "model", "hooks", NULL };
static const char *const hooks_keys[] = { "provision", "release", "timeout", NULL };
static const char *const hds_keys[] = { "path", "retention", "raw_window", NULL };
static const char *const metrics_keys[] = { "listen", "allow_remote", NULL };
static const char *const stream_keys[] = {
    "name", "input", "audio", "renditions", "outputs", "duration", "standby",
    "switch_back", "latency_budget", "faults", NULL,
};
static const char *const input_keys[] = {
    "url", "format", "options", "realtime", "filter", "rw_timeout", "backup",
    "loss_timeout", "probes", NULL,
};
static const char *const input_backup_keys[] = {
    "url", "format", "options", "realtime", "rw_timeout", NULL,
};
static const char *const probe_keys[] = { "black", "freeze", "silence", NULL };
static const char *const encoder_backup_keys[] = {
    "encoder", "bitrate", "options", "device", NULL,
};
static const char *const output_backup_keys[] = { "url", "options", "rw_timeout", NULL };
static const char *const fault_keys[] = {
    "at", "component", "fault", "action", "duration", "ramp", "ratio", "every",
    "count", NULL,
};
static const char *const audio_keys[] = {
    "encoder", "bitrate", "sample_rate", "channels", "options", NULL,
};
static const char *const rendition_keys[] = {
    "name", "width", "height", "fps", "encoder", "bitrate", "gop", "options",
    "device", "backup", NULL,
};
static const char *const output_keys[] = {
    "name", "format", "url", "renditions", "options", "rw_timeout", "backup", NULL,
};

static JobLoc loc_of(const yaml_node_t *n)
{
    return (JobLoc){ (int)n->start_mark.line + 1, (int)n->start_mark.column + 1 };
}

/* Demuxer options: the demuxer's (when named), the generic ones, and the
 * protocol's. With no format named, an option that some demuxer has is
 * taken on trust: the probe decides which demuxer reads it. */
static void check_input_options(Loader *ld, const yaml_node_t *opts,
                                const AVInputFormat *ifmt, const AVClass *proto,
                                const char *proto_name)
{
    AVFormatContext *ctx;
    char owner[96], proto_owner[64];

    if (!opts)
        return;
    ctx = avformat_alloc_context();
    if (!ctx) {
        ld->enomem = 1;
        return;
    }
    snprintf(proto_owner, sizeof(proto_owner), "protocol '%s'", proto_name ? proto_name : "");
    if (ifmt) {
        /* the demuxer's private context only exists once opened: its
         * option values cannot be tried here */
        const OptScope scopes[] = {
            { ifmt->priv_class, AV_OPT_FLAG_DECODING_PARAM, NULL, owner },
            { avformat_get_class(), AV_OPT_FLAG_DECODING_PARAM, ctx, owner },
            { proto, 0, NULL, proto_owner },
        };
        snprintf(owner, sizeof(owner), "demuxer '%s'", ifmt->name);
        check_options(ld, opts, scopes, 3, proto_name ? OPT_URL : 0);
    } else {
        /* the protocol last: check_options names it */
        const OptScope scopes[] = {
            { avformat_get_class(), AV_OPT_FLAG_DECODING_PARAM, ctx, "the input" },
            { proto, 0, NULL, proto_owner },
        };
        check_options(ld, opts, scopes, 2, OPT_PROBED | (proto_name ? OPT_URL : 0));
    }
    avformat_free_context(ctx);
}

/* Where an input reads from: the fields a stream input and its backups
 * share. */
typedef struct Source {
    char **url, **format;
    AVDictionary **options;
    int *realtime;
    int64_t *rw_timeout_us;
} Source;

static void load_source(Loader *ld, const yaml_node_t *map, const char *what, Source src)
{
    const AVInputFormat *ifmt = NULL;
    const AVClass *proto = NULL;
    const char *proto_name = NULL;
    yaml_node_t *opts, *fmt_node = map_get(ld, map, "format");
    int checkable = 1;            /* options can be checked against libav */
    char scheme[32];

    *src.rw_timeout_us = ld->rw_timeout_us;
    if (get_string(ld, map, "format", src.format) > 0) {
        ifmt = av_find_input_format(*src.format);
        if (!ifmt) {
            report(ld, fmt_node, "unknown input format '%s' (see ffmpeg -demuxers)", *src.format);
            checkable = 0;
        }
    } else if (fmt_node) {
        checkable = 0;
    }
    if (map_require(ld, map, what, "url") && get_string(ld, map, "url", src.url) > 0 &&
        *src.url) {
        register_secrets(ld, *src.url);
        /* a format that opens no file (lavfi) reads its URL as it likes */
        if ((!ifmt || !(ifmt->flags & AVFMT_NOFILE)) &&
            url_protocol(ld, map_get(ld, map, "url"), *src.url, &proto_name, &proto) < 0)
            checkable = 0;
        url_scheme(*src.url, scheme, sizeof(scheme));
        *src.realtime = !is_network_scheme(scheme);
    }
    get_options(ld, map, src.options, &opts);
    if (checkable)
        check_input_options(ld, opts, ifmt, proto, proto_name);
    get_bool(ld, map, "realtime", src.realtime);
    get_duration(ld, map, "rw_timeout", 0, src.rw_timeout_us);
}

/* "backup": one mapping, or a list of them, each like key's parent but
 * with its own keys; returns the number (the array allocated zeroed). */
static int get_backups(Loader *ld, const yaml_node_t *map, void **array, size_t elem_size,
                       yaml_node_t ***items)
{
    yaml_node_t *n = map_get(ld, map, "backup");
    int nb;

    *items = NULL;
    if (!n)
        return 0;
    if (n->type == YAML_MAPPING_NODE) {
        nb = 1;
    } else if (n->type == YAML_SEQUENCE_NODE) {
        nb = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (!nb) {
            report(ld, n, "'backup' must not be empty (leave it out for none)");
            return 0;
        }
    } else {
        wrong_type(ld, n, "backup", "a mapping or a list of mappings");
        return 0;
    }
    *array = av_calloc(nb, elem_size);
    *items = av_calloc(nb, sizeof(**items));
    if (!*array || !*items) {
        av_freep(array);
        av_freep(items);
        ld->enomem = 1;
        return 0;
    }
    for (int i = 0; i < nb; i++) {
        yaml_node_t *it = n->type == YAML_MAPPING_NODE ? n :
                          node_at(ld, n->data.sequence.items.start[i]);
        if (it->type != YAML_MAPPING_NODE) {
            report(ld, it, "a backup must be a mapping, not %s", type_name(node_type(it)));
            it = NULL;
        }
        (*items)[i] = it;
    }
    return nb;
}

static void load_probes(Loader *ld, const yaml_node_t *map, JobInput *in)
{
    yaml_node_t *p;

    if (get_node(ld, map, "probes", YAML_MAPPING_NODE, &p) <= 0)
        return;
    check_keys(ld, p, "probes", probe_keys);
    get_duration(ld, p, "black", PROBE_MAX_US, &in->black_us);
    get_duration(ld, p, "freeze", PROBE_MAX_US, &in->freeze_us);
    get_duration(ld, p, "silence", PROBE_MAX_US, &in->silence_us);
}

static void load_input(Loader *ld, const yaml_node_t *map, JobInput *in)
{
    yaml_node_t **items;

    in->loc = loc_of(map);
    in->loss_timeout_us = JOB_DEFAULT_LOSS_TIMEOUT_US;
    check_keys(ld, map, "input", input_keys);
    load_source(ld, map, "input", (Source){ &in->url, &in->format, &in->options,
                                            &in->realtime, &in->rw_timeout_us });
    load_filter(ld, map, in);
    get_duration(ld, map, "loss_timeout", LOSS_TIMEOUT_MAX_US, &in->loss_timeout_us);
    load_probes(ld, map, in);

    in->nb_backups = get_backups(ld, map, (void **)&in->backups, sizeof(*in->backups), &items);
    for (int i = 0; i < in->nb_backups; i++) {
        JobInputBackup *b = &in->backups[i];
        if (!items[i])
            continue;
        b->loc = loc_of(items[i]);
        check_keys(ld, items[i], "input backup", input_backup_keys);
        load_source(ld, items[i], "input backup",
                    (Source){ &b->url, &b->format, &b->options, &b->realtime, &b->rw_timeout_us });
    }
    av_free(items);
}

/* Sample rates and channel counts the encoder declares (when it does). */
static void check_audio_params(Loader *ld, const yaml_node_t *map, const AVCodec *c,
                               const JobAudio *a)
{
    AVBPrint bp;
    int ok;

    if (a->sample_rate && c->supported_samplerates) {
        ok = 0;
        av_bprint_init(&bp, 0, AV_BPRINT_SIZE_AUTOMATIC);
        for (const int *r = c->supported_samplerates; *r; r++) {
            ok |= *r == a->sample_rate;
            av_bprintf(&bp, "%s%d", r == c->supported_samplerates ? "" : ", ", *r);
        }
        if (!ok)
            report(ld, map_get(ld, map, "sample_rate"),
                   "encoder '%s' cannot encode at %d Hz (it takes: %s)",
                   c->name, a->sample_rate, bp.str);
        av_bprint_finalize(&bp, NULL);
    }
    if (a->channels && c->ch_layouts) {
        int seen[CHANNELS_MAX + 1] = { 0 };
        ok = 0;
        av_bprint_init(&bp, 0, AV_BPRINT_SIZE_AUTOMATIC);
        for (const AVChannelLayout *l = c->ch_layouts; l->nb_channels; l++) {
            ok |= l->nb_channels == a->channels;
            if (l->nb_channels <= CHANNELS_MAX && !seen[l->nb_channels]++)
                av_bprintf(&bp, "%s%d", bp.len ? ", " : "", l->nb_channels);
        }
        if (!ok)
            report(ld, map_get(ld, map, "channels"),
                   "encoder '%s' cannot encode %d channels (it takes: %s)",
                   c->name, a->channels, bp.str);
        av_bprint_finalize(&bp, NULL);
    }
}

/* "audio": a mapping, true (the defaults) or false (no audio). */
static void load_audio(Loader *ld, const yaml_node_t *stream, JobAudio *a)
{
    yaml_node_t *n = map_get(ld, stream, "audio"), *opts;
    const AVCodec *codec = NULL;
    int64_t v;

    a->loc = loc_of(n ? n : stream);
    a->enabled = 1;
    a->bitrate = JOB_DEFAULT_AUDIO_BITRATE;
    if (n && node_type(n) == T_BOOL) {
        a->enabled = in_words(TEXT(n), true_words);
        if (!a->enabled) {
            a->bitrate = 0;
            return;
        }
    } else if (n && n->type != YAML_MAPPING_NODE) {
        wrong_type(ld, n, "audio", "a mapping or false");
        return;
    }
    if (!n || n->type != YAML_MAPPING_NODE) {
        a->encoder = ld_strdup(ld, JOB_DEFAULT_AUDIO_ENCODER);
        return;
    }
    check_keys(ld, n, "audio", audio_keys);
    if (get_string(ld, n, "encoder", &a->encoder) > 0)
        codec = find_encoder(ld, map_get(ld, n, "encoder"), a->encoder,
                             AVMEDIA_TYPE_AUDIO, "audio");
    else if (!map_get(ld, n, "encoder") &&
             (a->encoder = ld_strdup(ld, JOB_DEFAULT_AUDIO_ENCODER)))
        codec = avcodec_find_encoder_by_name(a->encoder);
    get_size(ld, n, "bitrate", BITRATE_MIN, BITRATE_MAX, &a->bitrate);
    if (get_int(ld, n, "sample_rate", SAMPLE_RATE_MIN, SAMPLE_RATE_MAX, &v) > 0)
        a->sample_rate = (int)v;
    if (get_int(ld, n, "channels", 1, CHANNELS_MAX, &v) > 0)
        a->channels = (int)v;
    get_options(ld, n, &a->options, &opts);
    if (codec) {
        check_audio_params(ld, n, codec, a);
        check_encoder_options(ld, opts, codec);
    }
}

/* width and height: 16..16384 and even, since 4:2:0 halves both. */
static void get_dimension(Loader *ld, const yaml_node_t *map, const char *key, int *out)
{
    int64_t v;

    if (get_int(ld, map, key, DIM_MIN, DIM_MAX, &v) <= 0)
        return;
    if (v & 1) {
        report(ld, map_get(ld, map, key), "'%s' must be even (4:2:0 video), got %" PRId64,
               key, v);
        return;
    }
    *out = (int)v;
}

static void get_fps(Loader *ld, const yaml_node_t *map, AVRational *fps)
{
    yaml_node_t *n = map_get(ld, map, "fps");
    AVRational q;

    if (!n || !unit_scalar(ld, n, "fps", "a frame rate such as 30 or 30000/1001"))
        return;
    if (av_parse_video_rate(&q, TEXT(n)) < 0 || av_cmp_q(q, (AVRational){ FPS_MAX, 1 }) > 0) {
        report(ld, n, "'fps' must be a frame rate above 0 and at most %d "
               "(30, 29.97 or 30000/1001), got '%s'", FPS_MAX, TEXT(n));
        return;
    }
    *fps = q;
}

/* "gop": a plain integer counts frames, anything else is a duration. */
static void get_gop(Loader *ld, const yaml_node_t *map, JobRendition *r)
{
    yaml_node_t *n = map_get(ld, map, "gop");
    int64_t v;

    if (!n)
        return;
    if (node_type(n) == T_INT) {
        if (get_int(ld, map, "gop", 1, GOP_FRAMES_MAX, &v) > 0) {
            r->gop_frames = (int)v;
            r->gop_us = 0;
        }
        return;
    }
    if (parse_duration_node(ld, n, "gop", GOP_US_MAX, &v) > 0)
        r->gop_us = v;
}

/* "backup" of a rendition: the standby encoder. */
static void load_encoder_backup(Loader *ld, const yaml_node_t *map, JobRendition *r)
{
    yaml_node_t *b, *opts, *enc_node;
    const AVCodec *codec = NULL;
    JobEncoderBackup *eb;

    if (get_node(ld, map, "backup", YAML_MAPPING_NODE, &b) <= 0)
        return;
    eb = r->backup = av_mallocz(sizeof(*r->backup));
    if (!eb) {
        ld->enomem = 1;
        return;
    }
    eb->loc = loc_of(b);
    check_keys(ld, b, "encoder backup", encoder_backup_keys);
    enc_node = map_get(ld, b, "encoder");
    if (get_string(ld, b, "encoder", &eb->encoder) > 0)
        codec = find_encoder(ld, enc_node, eb->encoder, AVMEDIA_TYPE_VIDEO, "a rendition's backup");
    else if (!enc_node && (eb->encoder = ld_strdup(ld, JOB_DEFAULT_VIDEO_ENCODER)))
        codec = avcodec_find_encoder_by_name(eb->encoder);
    get_size(ld, b, "bitrate", BITRATE_MIN, BITRATE_MAX, &eb->bitrate);
    get_options(ld, b, &eb->options, &opts);
    if (codec)
        check_encoder_options(ld, opts, codec);
    get_string(ld, b, "device", &eb->device);
}

static void load_rendition(Loader *ld, const yaml_node_t *map, JobRendition *r,
                           yaml_node_t **name_node)
{
    yaml_node_t *opts, *enc_node = map_get(ld, map, "encoder");
    const AVCodec *codec = NULL;

    r->loc = loc_of(map);
    r->gop_us = JOB_DEFAULT_GOP_US;
    check_keys(ld, map, "rendition", rendition_keys);
    get_name(ld, map, "rendition", 1, &r->name, name_node);
    get_dimension(ld, map, "width", &r->width);
    get_dimension(ld, map, "height", &r->height);
    get_fps(ld, map, &r->fps);
    if (get_string(ld, map, "encoder", &r->encoder) > 0)
        codec = find_encoder(ld, enc_node, r->encoder, AVMEDIA_TYPE_VIDEO, "a rendition");
    else if (!enc_node && (r->encoder = ld_strdup(ld, JOB_DEFAULT_VIDEO_ENCODER)))
        codec = avcodec_find_encoder_by_name(r->encoder);
    get_size(ld, map, "bitrate", BITRATE_MIN, BITRATE_MAX, &r->bitrate);
    get_gop(ld, map, r);
    get_options(ld, map, &r->options, &opts);
    if (codec)
        check_encoder_options(ld, opts, codec);
    get_string(ld, map, "device", &r->device);
    load_encoder_backup(ld, map, r);
}

/* The muxer: named, or guessed from the URL the way users expect ffmpeg
 * to (it does not guess flv for rtmp:// itself). */
static const AVOutputFormat *output_format(Loader *ld, const yaml_node_t *map,
                                           JobOutput *o)
{
    const AVOutputFormat *ofmt;
    yaml_node_t *fmt_node = map_get(ld, map, "format");
    char scheme[32], shown[URL_SHOW_MAX];

    if (fmt_node) {
        if (get_string(ld, map, "format", &o->format) <= 0)
            return NULL;
        ofmt = av_guess_format(o->format, NULL, NULL);
        if (!ofmt)
            report(ld, fmt_node, "unknown output format '%s' (see ffmpeg -muxers)", o->format);
        return ofmt;
    }
    if (!o->url)
        return NULL;
    url_scheme(o->url, scheme, sizeof(scheme));
    if (!strncmp(scheme, "rtmp", 4))
        ofmt = av_guess_format("flv", NULL, NULL);
    else if (!strcmp(scheme, "srt") || !strcmp(scheme, "udp") || !strcmp(scheme, "rtp"))
        ofmt = av_guess_format("mpegts", NULL, NULL);
    else
        ofmt = av_guess_format(NULL, o->url, NULL);
    if (!ofmt) {
        report(ld, map_get(ld, map, "url"), "cannot guess the format of '%s'; set format:",
               redact_url(o->url, shown, sizeof(shown)));
        return NULL;
    }
    o->format = ld_strdup(ld, ofmt->name);
    return ofmt;
}

/* Muxer options: the muxer's, the generic ones, and the protocol's. Values
 * are tried on a scratch output context. */
static void check_output_options(Loader *ld, const yaml_node_t *opts,
                                 const AVOutputFormat *ofmt, const AVClass *proto,
                                 const char *proto_name)
{
    AVFormatContext *ctx = NULL;
    char owner[96], proto_owner[64];

    if (!opts)
        return;
    if (avformat_alloc_output_context2(&ctx, ofmt, NULL, NULL) < 0) {
        ld->enomem = 1;
        return;
    }
    snprintf(owner, sizeof(owner), "muxer '%s'", ofmt->name);
    snprintf(proto_owner, sizeof(proto_owner), "protocol '%s'", proto_name ? proto_name : "");
    {
        const OptScope scopes[] = {
            { ofmt->priv_class, AV_OPT_FLAG_ENCODING_PARAM, ctx->priv_data, owner },
            { avformat_get_class(), AV_OPT_FLAG_ENCODING_PARAM, ctx, owner },
            { proto, 0, NULL, proto_owner },
        };
        check_options(ld, opts, scopes, 3, proto_name ? OPT_URL : 0);
    }
    avformat_free_context(ctx);
}

/* "output 'main'", or "output" when it has no valid name (reported). */
static const char *output_label(const JobOutput *o, char *buf, size_t size)
{
    if (o->name)
        snprintf(buf, size, "output '%s'", o->name);
    else
        snprintf(buf, size, "output");
    return buf;
}

/* "renditions" of an output: names of the stream's renditions, each once;
 * all of them when absent. */
static void output_renditions(Loader *ld, const yaml_node_t *map, JobStream *st,
                              JobOutput *o, int names_ok)
{
    yaml_node_t *list = NULL;
    SeenSet seen = { 0 };
    int ret = get_node(ld, map, "renditions", YAML_SEQUENCE_NODE, &list);
    int nb;

    if (ret < 0)
        return;
    nb = list ? (int)(list->data.sequence.items.top - list->data.sequence.items.start)
              : st->nb_renditions;
    if (!list && !nb)
        return;                     /* the stream's "renditions" was reported */
    if (list && !nb) {
        report(ld, list, "'renditions' must not be empty (leave it out for all)");
        return;
    }
    o->renditions = av_calloc(nb, sizeof(*o->renditions));
    if (!o->renditions) {
        ld->enomem = 1;
        return;
    }
    if (!list) {
        for (int i = 0; i < nb; i++)
            o->renditions[i] = i;
        o->nb_renditions = nb;
        return;
    }
    for (yaml_node_item_t *it = list->data.sequence.items.start;
         it < list->data.sequence.items.top; it++) {
        yaml_node_t *n = node_at(ld, *it);
        const yaml_node_t *first;
        char label[64];
        int idx = -1;

        if (node_type(n) != T_STRING) {
            report(ld, n, "a rendition name must be a string, not %s",
                   type_name(node_type(n)));
            continue;
        }
        for (int i = 0; i < st->nb_renditions && idx < 0; i++)
            if (st->renditions[i].name && !strcmp(st->renditions[i].name, TEXT(n)))
                idx = i;
        if (idx < 0) {
            AVBPrint bp;
            /* a rendition without a valid name was reported already; naming
             * it here as unknown would only repeat that */
            if (!names_ok)
                continue;
            av_bprint_init(&bp, 0, AV_BPRINT_SIZE_AUTOMATIC);
            for (int i = 0; i < st->nb_renditions; i++)
                av_bprintf(&bp, "%s%s", i ? ", " : "", st->renditions[i].name);
            report(ld, n, "%s names unknown rendition '%s' (renditions: %s)",
                   output_label(o, label, sizeof(label)), TEXT(n), bp.str);
            av_bprint_finalize(&bp, NULL);
            continue;
        }
        first = seen_add(ld, &seen, TEXT(n), n);
        if (first) {
            report(ld, n, "rendition '%s' is listed twice (first at line %d)",
                   TEXT(n), (int)first->start_mark.line + 1);
            continue;
        }
        o->renditions[o->nb_renditions++] = idx;
    }
    seen_free(&seen);
}

/* A URL an output writes to: unique in the job, its secrets registered,
 * its protocol known. Returns 0 when options can be checked against it. */
static int output_url(Loader *ld, const yaml_node_t *url_node, const char *url,
                      const char **proto_name, const AVClass **proto)
{
    const yaml_node_t *first = seen_add(ld, &ld->urls, url, url_node);
    char shown[URL_SHOW_MAX];

    register_secrets(ld, url);
    if (first)
        report(ld, url_node, "duplicate output url '%s' (first at line %d)",
               redact_url(url, shown, sizeof(shown)), (int)first->start_mark.line + 1);
    return url_protocol(ld, url_node, url, proto_name, proto);
}

/* "backup" of an output: more destinations for the same muxer. */
static void load_output_backups(Loader *ld, const yaml_node_t *map, JobOutput *o,
                                const AVOutputFormat *ofmt)
{
    yaml_node_t **items;

    o->nb_backups = get_backups(ld, map, (void **)&o->backups, sizeof(*o->backups), &items);
    for (int i = 0; i < o->nb_backups; i++) {
        JobOutputBackup *b = &o->backups[i];
        const AVClass *proto = NULL;
        const char *proto_name = NULL;
        yaml_node_t *opts, *url_node;
        int checkable = 1;

        b->rw_timeout_us = o->rw_timeout_us;
        if (!items[i])
            continue;
        b->loc = loc_of(items[i]);
        check_keys(ld, items[i], "output backup", output_backup_keys);
        url_node = map_require(ld, items[i], "output backup", "url");
        if (url_node && get_string(ld, items[i], "url", &b->url) > 0 && b->url &&
            output_url(ld, url_node, b->url, &proto_name, &proto) < 0)
            checkable = 0;
        /* the output's options, then the backup's own on top */
        if (av_dict_copy(&b->options, o->options, 0) < 0)
            ld->enomem = 1;
        get_options(ld, items[i], &b->options, &opts);
        if (ofmt && checkable)
            check_output_options(ld, opts, ofmt, proto, proto_name);
        get_duration(ld, items[i], "rw_timeout", 0, &b->rw_timeout_us);
    }
    av_free(items);
}

static void load_output(Loader *ld, const yaml_node_t *map, JobStream *st, JobOutput *o,
                        int names_ok, yaml_node_t **name_node)
{
    const AVOutputFormat *ofmt;
    const AVClass *proto = NULL;
    const char *proto_name = NULL;
    yaml_node_t *opts, *url_node;
    int checkable = 1, max;

    o->loc = loc_of(map);
    o->rw_timeout_us = ld->rw_timeout_us;
    check_keys(ld, map, "output", output_keys);
    get_name(ld, map, "output", 1, &o->name, name_node);
    url_node = map_require(ld, map, "output", "url");
    if (url_node && get_string(ld, map, "url", &o->url) > 0 && o->url &&
        output_url(ld, url_node, o->url, &proto_name, &proto) < 0)
        checkable = 0;
    ofmt = output_format(ld, map, o);
    output_renditions(ld, map, st, o, names_ok);
    get_options(ld, map, &o->options, &opts);
    if (ofmt && checkable)
        check_output_options(ld, opts, ofmt, proto, proto_name);
    get_duration(ld, map, "rw_timeout", 0, &o->rw_timeout_us);
    load_output_backups(ld, map, o, ofmt);

    max = ofmt ? job_format_max_video(ofmt->name) : INT_MAX;
    if (o->nb_renditions > max) {
        yaml_node_t *r = map_get(ld, map, "renditions");
        char label[64];
        report(ld, r ? r : map, "%s %s carries one video rendition, %d selected; "
               "list one under renditions:", ofmt->name,
               output_label(o, label, sizeof(label)), o->nb_renditions);
    }
}

/* ------------------------------------------------------------------------ */
/* Streams and the job                                                      */

/* A list of mappings under key: returns the number of items (the array is
 * allocated with that many zeroed elements), 0 when absent, wrong or empty
 * (reported). */
static int get_list(Loader *ld, const yaml_node_t *map, const char *what, const char *key,
                    void **array, size_t elem_size, yaml_node_t **list)
{
    int nb;

    if (!map_require(ld, map, what, key) ||
        get_node(ld, map, key, YAML_SEQUENCE_NODE, list) <= 0)
        return 0;
    nb = (int)((*list)->data.sequence.items.top - (*list)->data.sequence.items.start);
    if (!nb) {
        report(ld, *list, "'%s' must not be empty", key);
        return 0;
    }
    *array = av_calloc(nb, elem_size);
    if (!*array) {
        ld->enomem = 1;
        return 0;
    }
    return nb;
}

/* The item i of list, reported unless it is a mapping. */
static yaml_node_t *list_map_item(Loader *ld, const yaml_node_t *list, int i, const char *what)
{
    yaml_node_t *n = node_at(ld, list->data.sequence.items.start[i]);

    if (n->type != YAML_MAPPING_NODE) {
        report(ld, n, "%s must be a mapping, not %s", what, type_name(node_type(n)));
        return NULL;
    }
    return n;
}

/* A duration that can be switched off with false (or a word in offs). */
static void get_duration_or_off(Loader *ld, const yaml_node_t *map, const char *key,
                                const char *off, int64_t max, int64_t *out)
{
    yaml_node_t *n = map_get(ld, map, key);

    if (!n)
        return;
    if ((node_type(n) == T_BOOL && !in_words(TEXT(n), true_words)) ||
        (node_type(n) == T_STRING && !strcmp(TEXT(n), off))) {
        *out = 0;
        return;
    }
    parse_duration_node(ld, n, key, max, out);
}

static const char *const standby_words[] = { "on_risk", "always", "never", NULL };

static void load_switching(Loader *ld, const yaml_node_t *map, JobStream *st)
{
    yaml_node_t *n = map_get(ld, map, "standby");

    st->standby = JOB_STANDBY_ON_RISK;
    st->switch_back_us = JOB_DEFAULT_SWITCH_BACK_US;
    st->latency_budget_us = JOB_DEFAULT_LATENCY_BUDGET_US;
    if (n) {
        int found = -1;
        if (node_type(n) == T_STRING)
            for (int i = 0; standby_words[i]; i++)
                if (!strcmp(TEXT(n), standby_words[i]))
                    found = i;
        if (found < 0)
            report(ld, n, "'standby' must be on_risk, always or never");
        else
            st->standby = (JobStandby)found;
    }
    get_duration_or_off(ld, map, "switch_back", "never", SWITCH_BACK_MAX_US, &st->switch_back_us);
    get_duration_or_off(ld, map, "latency_budget", "none", 0, &st->latency_budget_us);
}

static const char *const fault_words[] = { "error", "stall", "slow", "drop", "close", "hang", NULL };
static const char *const action_words[] = {
    "provision", "release", "switch", "switch_back", NULL,
};

/* What a fault's component names: 'i'nput, 'e'ncoder, 'o'utput, with the
 * instance (0: the primary, k: backup k). Reports and returns -1 when the
 * stream has no such component. */
static int fault_target(Loader *ld, const yaml_node_t *n, const JobStream *st,
                        int *what, int *instance, int *has_backup, int *audio)
{
    const char *c = TEXT(n), *dot = strrchr(c, '.');
    char base[80];
    size_t blen = dot && !strncmp(dot, ".backup", 7) ? (size_t)(dot - c) : strlen(c);
    int nb_backups = 0;

    *instance = 0;
    *audio = 0;
    if (blen != strlen(c)) {
        const char *num = dot + 7;
        *instance = 1;
        if (*num) {
            char *end;
            long k = strtol(num, &end, 10);
            if (*end || k < 2)
                goto unknown;
            *instance = (int)k;
        }
    }
    if (blen >= sizeof(base))
        goto unknown;
    memcpy(base, c, blen);
    base[blen] = 0;

    if (!strcmp(base, "input")) {
        *what = 'i';
        nb_backups = st->input.nb_backups;
    } else if (!strncmp(base, "enc:", 4)) {
        *what = 'e';
        if (!strcmp(base + 4, "audio")) {
            if (!st->audio.enabled)
                goto unknown;
            *audio = 1;
        } else {
            int found = 0;
            for (int r = 0; r < st->nb_renditions; r++)
                if (st->renditions[r].name && !strcmp(st->renditions[r].name, base + 4)) {
                    found = 1;
                    nb_backups = !!st->renditions[r].backup;
                }
            if (!found)
                goto unknown;
        }
    } else if (!strncmp(base, "out:", 4)) {
        int found = 0;
        *what = 'o';
        for (int o = 0; o < st->nb_outputs; o++)
            if (st->outputs[o].name && !strcmp(st->outputs[o].name, base + 4)) {
                found = 1;
                nb_backups = st->outputs[o].nb_backups;
            }
        if (!found)
            goto unknown;
    } else {
        goto unknown;
    }
    if (*instance > nb_backups) {
        report(ld, n, "'%s': the %s has %d backup%s", c,
               *what == 'i' ? "input" : *what == 'e' ? "rendition" : "output",
               nb_backups, nb_backups == 1 ? "" : "s");
        return -1;
    }
    *has_backup = nb_backups > 0;
    return 0;
unknown:
    report(ld, n, "unknown component '%s' (input, input.backup, enc:RENDITION, "
           "enc:RENDITION.backup, enc:audio, out:OUTPUT, out:OUTPUT.backup, ...)", c);
    return -1;
}

static void load_fault(Loader *ld, const yaml_node_t *map, const JobStream *st, JobFault *f)
{
    yaml_node_t *fn = map_get(ld, map, "fault"), *an = map_get(ld, map, "action");
    yaml_node_t *cn = map_require(ld, map, "fault", "component");
    int what = 0, instance = 0, has_backup = 0, audio = 0, target_ok = 0;
    int64_t v;

    f->loc = loc_of(map);
    f->count = 1;
    f->ratio = 1.0;
    check_keys(ld, map, "fault", fault_keys);
    /* at: 0s is the start of the stream: a duration that may be 0 */
    if (map_require(ld, map, "fault", "at")) {
        yaml_node_t *at = map_get(ld, map, "at");
        char err[160];
        if (unit_scalar(ld, at, "at", "a media time such as 5s") &&
            units_parse_duration(TEXT(at), &f->at_us, err, sizeof(err)) < 0)
            report(ld, at, "'at' %s", err);
    }
    if (cn && get_string(ld, map, "component", &f->component) > 0 && f->component)
        target_ok = fault_target(ld, cn, st, &what, &instance, &has_backup, &audio) == 0;

    if (!!fn == !!an) {
        report(ld, map, "a fault needs exactly one of 'fault' (%s) and 'action' (%s)",
               "error, stall, slow, drop, close, hang", "provision, release, switch, switch_back");
        return;
    }
    if (fn) {
        int k = -1;
        if (node_type(fn) == T_STRING)
            for (int i = 0; fault_words[i]; i++)
                if (!strcmp(TEXT(fn), fault_words[i]))
                    k = i;
        if (k < 0) {
            report(ld, fn, "'fault' must be error, stall, slow, drop, close or hang");
            return;
        }
        f->kind = (JobFaultKind)(JOB_FAULT_ERROR + k);
        if (target_ok && ((f->kind == JOB_FAULT_DROP || f->kind == JOB_FAULT_CLOSE) && what == 'e'))
            report(ld, fn, "an encoder cannot have a '%s' fault (error, stall, slow or hang)", TEXT(fn));
        if (target_ok && f->kind == JOB_FAULT_HANG && (what != 'e' || audio))
            report(ld, fn, "only a video encoder can have a 'hang' fault (its libav calls run "
                   "where a deadline can give up on them)");
    } else {
        int k = -1;
        if (node_type(an) == T_STRING)
            for (int i = 0; action_words[i]; i++)
                if (!strcmp(TEXT(an), action_words[i]))
                    k = i;
        if (k < 0) {
            report(ld, an, "'action' must be provision, release, switch or switch_back");
            return;
        }
        f->kind = (JobFaultKind)(JOB_ACTION_PROVISION + k);
        if (target_ok && (instance || !has_backup))
            report(ld, cn, "'%s' names %s: an action applies to a component with a backup, "
                   "named without .backup", f->component,
                   instance ? "a backup" : "a component without a backup");
    }

    if (f->kind == JOB_FAULT_STALL || f->kind == JOB_FAULT_SLOW || f->kind == JOB_FAULT_DROP) {
        if (map_require(ld, map, "fault", "duration"))
            get_duration(ld, map, "duration", 0, &f->duration_us);
    } else if (map_get(ld, map, "duration")) {
        report(ld, map_get(ld, map, "duration"), "'duration' applies to stall, slow and drop");
    }
    if (f->kind == JOB_FAULT_SLOW) {
        if (map_require(ld, map, "fault", "ramp"))
            get_duration(ld, map, "ramp", 0, &f->ramp_us);
    } else if (map_get(ld, map, "ramp")) {
        report(ld, map_get(ld, map, "ramp"), "'ramp' applies to slow");
    }
    if (map_get(ld, map, "ratio")) {
        yaml_node_t *rn = map_get(ld, map, "ratio");
        double r = node_type(rn) == T_INT || node_type(rn) == T_DECIMAL ? atof(TEXT(rn)) : -1;
        if (f->kind != JOB_FAULT_DROP)
            report(ld, rn, "'ratio' applies to drop");
        else if (r <= 0 || r > 1)
            report(ld, rn, "'ratio' must be a number above 0 and at most 1, got %s", TEXT(rn));
        else
            f->ratio = r;
    }
    get_duration(ld, map, "every", 0, &f->every_us);
    if (get_int(ld, map, "count", 1, FAULT_COUNT_MAX, &v) > 0) {
        f->count = (int)v;
        if (v > 1 && !f->every_us)
            report(ld, map_get(ld, map, "count"), "'count' above 1 needs 'every'");
    }
}

static void load_faults(Loader *ld, const yaml_node_t *map, JobStream *st)
{
    yaml_node_t *list;
    int nb;

    if (!map_get(ld, map, "faults"))
        return;
    nb = get_list(ld, map, "stream", "faults", (void **)&st->faults, sizeof(*st->faults), &list);
    st->nb_faults = nb;
    for (int i = 0; i < nb; i++) {
        yaml_node_t *n = list_map_item(ld, list, i, "a fault");
        if (n)
            load_fault(ld, n, st, &st->faults[i]);
    }
}

static void load_stream(Loader *ld, const yaml_node_t *map, JobStream *st)
{
    yaml_node_t *input, *list, *name_node;
    SeenSet names = { 0 };
    int names_ok = 1, nb;

    st->loc = loc_of(map);
    check_keys(ld, map, "stream", stream_keys);
    if (map_require(ld, map, "stream", "input") &&
        get_node(ld, map, "input", YAML_MAPPING_NODE, &input) > 0)
        load_input(ld, input, &st->input);
    load_audio(ld, map, &st->audio);

    nb = get_list(ld, map, "stream", "renditions", (void **)&st->renditions,
                  sizeof(*st->renditions), &list);
    st->nb_renditions = nb;
    for (int i = 0; i < nb; i++) {
        yaml_node_t *n = list_map_item(ld, list, i, "a rendition");
        name_node = NULL;
        if (n)
            load_rendition(ld, n, &st->renditions[i], &name_node);
        if (name_node)
            unique_name(ld, &names, "rendition", st->renditions[i].name, name_node);
        else
            names_ok = 0;
    }
    seen_free(&names);

    nb = get_list(ld, map, "stream", "outputs", (void **)&st->outputs,
                  sizeof(*st->outputs), &list);
    st->nb_outputs = nb;
    for (int i = 0; i < nb; i++) {
        yaml_node_t *n = list_map_item(ld, list, i, "an output");
        name_node = NULL;
        if (n)
            load_output(ld, n, st, &st->outputs[i], names_ok, &name_node);
        if (name_node)
            unique_name(ld, &names, "output", st->outputs[i].name, name_node);
    }
    seen_free(&names);

    get_duration(ld, map, "duration", 0, &st->duration_us);
    load_switching(ld, map, st);
    load_faults(ld, map, st);
}

/* "host:port" with host an IP literal or localhost; says whether it is a
 * loopback address. Returns 0 or reports. */
static int check_listen(Loader *ld, const yaml_node_t *n, const char *addr, int *loopback)
{
    const char *colon = strrchr(addr, ':');
    char host[64];
    long port;
    char *end;

    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host)) {
        report(ld, n, "'%s' must be host:port, e.g. 127.0.0.1:9464", addr);
        return -1;
    }
    memcpy(host, addr, colon - addr);
    host[colon - addr] = 0;
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535) {
        report(ld, n, "the port of '%s' must be 1 to 65535", addr);
        return -1;
    }
    *loopback = !strcmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "[::1]");
    return 0;
}

static void free_argv(char ***pargv)
{
    for (char **a = *pargv; a && *a; a++)
        av_free(*a);
    av_freep(pargv);
}

/* An exec hook: a list of strings, the command first, looked up in PATH
 * when it runs. Only strings, as wherever the schema means one: a plain
 * 8080 or true is refused with a hint to quote it. *out stays NULL unless
 * every argument is right. */
static void load_hook(Loader *ld, const yaml_node_t *map, const char *key, char ***out)
{
    yaml_node_t *list;
    char **argv;
    int nb, ok = 1;

    if (get_node(ld, map, key, YAML_SEQUENCE_NODE, &list) <= 0)
        return;
    nb = (int)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (!nb) {
        report(ld, list, "'%s' must not be empty: a command, then its arguments", key);
        return;
    }
    if (!(argv = av_calloc(nb + 1, sizeof(*argv)))) {
        ld->enomem = 1;
        return;
    }
    for (int i = 0; i < nb; i++) {
        yaml_node_t *a = node_at(ld, list->data.sequence.items.start[i]);
        char why[256];

        if (node_type(a) != T_STRING) {
            /* unquoted, "{stream}" is a YAML mapping */
            report(ld, a, "argument %d of '%s' must be a string, not %s (quote it%s)", i + 1,
                   key, type_name(node_type(a)),
                   a->type == YAML_MAPPING_NODE ? ": \"{stream}\"" : "");
            ok = 0;
        } else if (strlen(TEXT(a)) != a->data.scalar.length) {
            report(ld, a, "argument %d of '%s' must not contain a NUL character", i + 1, key);
            ok = 0;
        } else if (!i && !*TEXT(a)) {
            report(ld, a, "the command of '%s' must not be empty", key);
            ok = 0;
        } else if (hookarg_check(TEXT(a), why, sizeof(why)) < 0) {
            report(ld, a, "argument %d of '%s': %s", i + 1, key, why);
            ok = 0;
        } else if (ok && !(argv[i] = ld_strdup(ld, TEXT(a)))) {
            ok = 0;               /* no hole in the list: free_argv stops at one */
        }
    }
    if (ok && !ld->enomem)
        *out = argv;
    else
        free_argv(&argv);
}

static void load_hooks(Loader *ld, const yaml_node_t *map, JobSupervisor *sv)
{
    yaml_node_t *h;

    if (get_node(ld, map, "hooks", YAML_MAPPING_NODE, &h) <= 0)
        return;
    check_keys(ld, h, "hooks", hooks_keys);
    load_hook(ld, h, "provision", &sv->hook_provision);
    load_hook(ld, h, "release", &sv->hook_release);
    get_duration(ld, h, "timeout", HOOK_TIMEOUT_MAX_US, &sv->hook_timeout_us);
}

static void load_supervisor(Loader *ld, const yaml_node_t *root, JobSupervisor *sv)
{
    yaml_node_t *map, *h, *m;

    sv->tick_us = JOB_DEFAULT_TICK_US;
    sv->hook_timeout_us = JOB_DEFAULT_HOOK_TIMEOUT_US;
    if (get_node(ld, root, "supervisor", YAML_MAPPING_NODE, &map) <= 0)
        return;
    sv->loc = loc_of(map);
    check_keys(ld, map, "supervisor", supervisor_keys);
    if (get_duration(ld, map, "tick", 60 * 1000000LL, &sv->tick_us) > 0 && sv->tick_us < 100000) {
        report(ld, map_get(ld, map, "tick"), "'tick' must be at least 100ms");
        sv->tick_us = JOB_DEFAULT_TICK_US;
    }
    if (get_node(ld, map, "hds", YAML_MAPPING_NODE, &h) > 0) {
        check_keys(ld, h, "hds", hds_keys);
        sv->hds_retention_us = 7 * 24 * 3600 * 1000000LL;
        sv->hds_raw_window_us = 24 * 3600 * 1000000LL;
        if (map_require(ld, h, "hds", "path"))
            get_string(ld, h, "path", &sv->hds_path);
        get_duration(ld, h, "retention", 0, &sv->hds_retention_us);
        get_duration(ld, h, "raw_window", 0, &sv->hds_raw_window_us);
        if (sv->hds_raw_window_us > sv->hds_retention_us)
            sv->hds_raw_window_us = sv->hds_retention_us;
    }
    if (get_string(ld, map, "model", &sv->model_path) > 0 && !strcmp(sv->model_path, "none")) {
        av_freep(&sv->model_path);
        sv->prediction_off = 1;
    }
    m = map_get(ld, map, "metrics");
    if (m) {
        yaml_node_t *addr_node = m;
        int loopback = 1;
        if (m->type == YAML_MAPPING_NODE) {
            check_keys(ld, m, "metrics", metrics_keys);
            addr_node = map_require(ld, m, "metrics", "listen");
            get_string(ld, m, "listen", &sv->metrics_addr);
            get_bool(ld, m, "allow_remote", &sv->metrics_allow_remote);
        } else {
            get_string(ld, map, "metrics", &sv->metrics_addr);
        }
        if (sv->metrics_addr && addr_node &&
            check_listen(ld, addr_node, sv->metrics_addr, &loopback) >= 0 &&
            !loopback && !sv->metrics_allow_remote)
            report(ld, addr_node, "'%s' is not a loopback address: metrics show the job's "
                   "topology; set allow_remote: true to listen there", sv->metrics_addr);
    }
    load_hooks(ld, map, sv);
}

static void load_job(Loader *ld, const yaml_node_t *root, Job *job)
{
    yaml_node_t *n, *list;
    SeenSet names = { 0 };
    int64_t v;

    if (root->type != YAML_MAPPING_NODE) {
        report(ld, root, "the job must be a mapping (version:, streams:), not %s",
               type_name(node_type(root)));
        return;
    }
    n = map_require(ld, root, "job", "version");
    if (n && get_int(ld, root, "version", INT_MIN, INT_MAX, &v) > 0) {
        /* another version's keys mean other things: stop before reporting
         * them all as problems */
        if (v != JOB_SCHEMA_VERSION) {
            report(ld, n, "unsupported version %" PRId64 " (this hotspare reads version %d)",
                   v, JOB_SCHEMA_VERSION);
            return;
        }
        job->version = (int)v;
    }
    check_keys(ld, root, "job", job_keys);
    ld->rw_timeout_us = JOB_DEFAULT_RW_TIMEOUT_US;
    get_duration(ld, root, "rw_timeout", 0, &ld->rw_timeout_us);
    load_supervisor(ld, root, &job->supervisor);

    job->nb_streams = get_list(ld, root, "job", "streams", (void **)&job->streams,
                               sizeof(*job->streams), &list);
    for (int i = 0; i < job->nb_streams; i++) {
        yaml_node_t *s = list_map_item(ld, list, i, "a stream");
        JobStream *st = &job->streams[i];
        yaml_node_t *name_node = NULL;

        if (!s)
            continue;
        get_name(ld, s, "stream", 0, &st->name, &name_node);
        if (name_node)
            unique_name(ld, &names, "stream", st->name, name_node);
        load_stream(ld, s, st);
    }
    seen_free(&names);
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                  */

/* "problem context", as libyaml words them ("did not find expected key
 * while parsing a block mapping"), at the problem's place. A reader error
 * (bad UTF-8) has only a byte offset: turn it into a line and column. */
static void report_syntax(Loader *ld, yaml_parser_t *p, FILE *f)
{
    yaml_mark_t mark = p->problem_mark;

    if (p->error == YAML_READER_ERROR) {
        size_t line = 0, col = 0;
        rewind(f);
        for (size_t i = 0; i < p->problem_offset; i++) {
            int c = fgetc(f);
            if (c == EOF)
                break;
            if (c == '\n') {
                line++;
                col = 0;
            } else if ((c & 0xc0) != 0x80) {
                col++;
            }
        }
        mark.line = line;
        mark.column = col;
    }
    report_at(ld, mark, "YAML syntax error: %s%s%s", p->problem ? p->problem : "unknown",
              p->context ? " " : "", p->context ? p->context : "");
}

static pthread_once_t register_once = PTHREAD_ONCE_INIT;

static void register_devices(void)
{
    /* lavfi (and v4l2, decklink, ...) are devices: unknown until registered */
    avdevice_register_all();
}

/* Moves the problems, sorted into file order, to diag. */
static void hand_over(Loader *ld, JobDiag *diag)
{
    qsort(ld->problems, ld->nb_problems, sizeof(*ld->problems), cmp_problem);
    for (int i = 0; i < ld->nb_problems; i++) {
        char **msgs = NULL;
        if (diag)
            msgs = av_realloc_array(diag->msgs, diag->nb_msgs + 1, sizeof(*msgs));
        if (!msgs) {
            if (diag)
                ld->enomem = 1;
            av_free(ld->problems[i].msg);
            continue;
        }
        diag->msgs = msgs;
        diag->msgs[diag->nb_msgs++] = ld->problems[i].msg;
    }
    av_freep(&ld->problems);
    ld->nb_problems = ld->cap_problems = 0;
}

int job_load(const char *path, Job **pjob, JobDiag *diag)
{
    Loader ld = { .path = path, .rw_timeout_us = JOB_DEFAULT_RW_TIMEOUT_US };
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    yaml_node_t *root;
    Job *job = NULL;
    FILE *f;
    int ret = 0, bad;

    *pjob = NULL;
    pthread_once(&register_once, register_devices);

    f = fopen(path, "rb");
    if (!f) {
        ret = AVERROR(errno);
        /* no line to point at: the message says which file and why */
        add_problem(&ld, 0, 0, av_asprintf("%s: cannot read the job file: %s",
                                           path, av_err2str(ret)));
        hand_over(&ld, diag);
        return ld.enomem ? AVERROR(ENOMEM) : ret;
    }
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return AVERROR(ENOMEM);
    }
    yaml_parser_set_input_file(&parser, f);
    ld.doc = &doc;

    if (!yaml_parser_load(&parser, &doc)) {
        if (parser.error == YAML_MEMORY_ERROR)
            ret = AVERROR(ENOMEM);
        else
            report_syntax(&ld, &parser, f);
        goto out_parser;
    }
    root = yaml_document_get_root_node(&doc);
    if (!root) {
        report_at(&ld, (yaml_mark_t){ 0 }, "the job file is empty");
        goto out_doc;
    }
    /* a second document ("---" further down) would be ignored silently */
    if (!yaml_parser_load(&parser, &extra)) {
        if (parser.error == YAML_MEMORY_ERROR)
            ret = AVERROR(ENOMEM);
        else
            report_syntax(&ld, &parser, f);
        goto out_doc;
    }
    if (yaml_document_get_root_node(&extra))
        report_at(&ld, yaml_document_get_root_node(&extra)->start_mark,
                  "a job file holds one YAML document; this is a second one");
    yaml_document_delete(&extra);

    job = av_mallocz(sizeof(*job));
    if (!job || !(job->path = av_strdup(path))) {
        ret = AVERROR(ENOMEM);
        goto out_doc;
    }
    load_job(&ld, root, job);

out_doc:
    yaml_document_delete(&doc);
out_parser:
    yaml_parser_delete(&parser);
    fclose(f);
    seen_free(&ld.urls);

    bad = ld.nb_problems > 0;
    hand_over(&ld, diag);
    if (ld.enomem)
        ret = AVERROR(ENOMEM);
    else if (!ret && bad)
        ret = AVERROR_INVALIDDATA;
    if (ret < 0)
        job_free(&job);
    *pjob = job;
    return ret;
}

/* ------------------------------------------------------------------------ */
/* Freeing, formats                                                         */

static void free_stream(JobStream *st)
{
    av_freep(&st->name);
    av_freep(&st->input.url);
    av_freep(&st->input.format);
    av_dict_free(&st->input.options);
    av_freep(&st->input.filter);
    av_freep(&st->input.filter_name);
    for (int i = 0; i < st->input.nb_backups; i++) {
        av_freep(&st->input.backups[i].url);
        av_freep(&st->input.backups[i].format);
        av_dict_free(&st->input.backups[i].options);
    }
    av_freep(&st->input.backups);
    av_freep(&st->audio.encoder);
    av_dict_free(&st->audio.options);
    for (int i = 0; i < st->nb_renditions; i++) {
        JobRendition *r = &st->renditions[i];
        av_freep(&r->name);
        av_freep(&r->encoder);
        av_dict_free(&r->options);
        av_freep(&r->device);
        if (r->backup) {
            av_freep(&r->backup->encoder);
            av_dict_free(&r->backup->options);
            av_freep(&r->backup->device);
            av_freep(&r->backup);
        }
    }
    av_freep(&st->renditions);
    for (int i = 0; i < st->nb_outputs; i++) {
        JobOutput *o = &st->outputs[i];
        av_freep(&o->name);
        av_freep(&o->format);
        av_freep(&o->url);
        av_freep(&o->renditions);
        av_dict_free(&o->options);
        for (int b = 0; b < o->nb_backups; b++) {
            av_freep(&o->backups[b].url);
            av_dict_free(&o->backups[b].options);
        }
        av_freep(&o->backups);
    }
    av_freep(&st->outputs);
    for (int i = 0; i < st->nb_faults; i++)
        av_freep(&st->faults[i].component);
    av_freep(&st->faults);
}

void job_free(Job **pjob)
{
    Job *job = *pjob;

    if (!job)
        return;
    for (int i = 0; i < job->nb_streams; i++)
        free_stream(&job->streams[i]);
    av_freep(&job->streams);
    av_freep(&job->supervisor.hds_path);
    av_freep(&job->supervisor.metrics_addr);
    av_freep(&job->supervisor.model_path);
    free_argv(&job->supervisor.hook_provision);
    free_argv(&job->supervisor.hook_release);
    av_freep(&job->path);
    av_freep(pjob);
}

void job_diag_free(JobDiag *diag)
{
    if (!diag)
        return;
    for (int i = 0; i < diag->nb_msgs; i++)
        av_freep(&diag->msgs[i]);
    av_freep(&diag->msgs);
    diag->nb_msgs = 0;
}

int job_url_is_network(const char *url)
{
    char scheme[32];

    url_scheme(url, scheme, sizeof(scheme));
    return is_network_scheme(scheme);
}

int job_input_is_live(const JobInput *in)
{
    return in->realtime || job_url_is_network(in->url);
}

int job_format_max_video(const char *format)
{
    /* Muxers that take one video stream, or that players read as one
     * (a second video PID in MPEG-TS, a second video tag stream in FLV, are
     * ignored or refused downstream). */
    static const char *const single[] = {
        "flv", "live_flv", "mpegts", "rtp_mpegts", "rtp", "ivf", "h264", "hevc",
        "rawvideo", "yuv4mpegpipe", "image2", "image2pipe", "gif", "apng",
        "webp", "mjpeg", NULL,
    };

    return format && in_words(format, single) ? 1 : INT_MAX;
}
