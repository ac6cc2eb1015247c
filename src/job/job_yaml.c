/*
 * job_yaml.c: a YAML reader with diagnostics, for job.c; see job_int.h.
 *
 * Every problem is collected (a user fixing a job wants the whole list, as a
 * compiler gives it), each pointing at the node it is about; they are
 * sorted into file order at the end, because some checks (references
 * between renditions and outputs, URLs shared by two streams) are only
 * possible after a later node has been read. Plain scalars are typed the
 * YAML 1.1 way job files expect (yes/no are booleans), and each typed
 * getter says what it wanted when the node is something else.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include <libavutil/avstring.h>
#include <libavutil/bprint.h>
#include <libavutil/mem.h>

#include "job/job_int.h"
#include "core/units.h"

/* ------------------------------------------------------------------------ */
/* Problems                                                                 */

void jy_add_problem(Loader *ld, int line, int col, char *msg)
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

/* Records "file:line:col: message" for the place mark (0-based in libyaml). */
void jy_report_at(Loader *ld, yaml_mark_t mark, const char *fmt, ...)
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
    jy_add_problem(ld, (int)mark.line + 1, (int)mark.column + 1, msg);
}

static int cmp_problem(const void *a, const void *b)
{
    const Problem *p = a, *q = b;

    if (p->line != q->line)
        return p->line - q->line;
    if (p->col != q->col)
        return p->col - q->col;
    return p->seq - q->seq;
}

char *jy_strdup(Loader *ld, const char *s)
{
    char *d = av_strdup(s);

    if (!d)
        ld->enomem = 1;
    return d;
}

/* Returns the node that first used name in set, or NULL (and adds it). */
const yaml_node_t *jy_seen_add(Loader *ld, SeenSet *set, const char *name,
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

void jy_seen_free(SeenSet *set)
{
    av_freep(&set->v);
    set->nb = set->cap = 0;
}

/* The line and column (0-based, in characters) of byte offset in buf. */
static yaml_mark_t mark_of_offset(const uint8_t *buf, size_t size, size_t offset)
{
    yaml_mark_t mark = { .index = offset };

    for (size_t i = 0; i < offset && i < size; i++) {
        if (buf[i] == '\n') {
            mark.line++;
            mark.column = 0;
        } else if ((buf[i] & 0xc0) != 0x80) {
            mark.column++;
        }
    }
    return mark;
}

/* "problem context", as libyaml words them ("did not find expected key
 * while parsing a block mapping"), at the problem's place. A reader error
 * (bad UTF-8) has only a byte offset: turn it into a line and column. */
void jy_report_syntax(Loader *ld, yaml_parser_t *p, const uint8_t *buf, size_t size)
{
    yaml_mark_t mark = p->problem_mark;

    if (p->error == YAML_READER_ERROR)
        mark = mark_of_offset(buf, size, p->problem_offset);
    jy_report_at(ld, mark, "YAML syntax error: %s%s%s", p->problem ? p->problem : "unknown",
                 p->context ? " " : "", p->context ? p->context : "");
}

/* ------------------------------------------------------------------------ */
/* Limits, checked before libyaml builds a tree                             */

/* The length of the UTF-8 sequence at s (n bytes left), 0 when it is not
 * one (overlong forms, surrogates and code points past U+10FFFF included). */
static int utf8_len(const uint8_t *s, size_t n)
{
    uint32_t cp;
    int len;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if ((size_t)len > n)
        return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* A job file is UTF-8 text: a NUL, a control character or a byte that is
 * not UTF-8 means it is something else (an image, an archive, a UTF-16
 * file), and one message at the first such byte says so better than
 * libyaml's complaint about the character. */
int jy_check_text(Loader *ld, const uint8_t *buf, size_t size)
{
    for (size_t i = 0; i < size;) {
        uint8_t c = buf[i];
        int len = utf8_len(buf + i, size - i);

        if (!len || c == 0 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
            jy_report_at(ld, mark_of_offset(buf, size, i),
                         "the job file is not text: %s (0x%02x) at byte %zu; a job file is "
                         "YAML in UTF-8", !len ? "a byte that is not UTF-8" :
                         c ? "a control character" : "a NUL byte", c, i);
            return AVERROR_INVALIDDATA;
        }
        i += len;
    }
    return 0;
}

typedef struct ShapeAnchor {
    char *name;
    int64_t nodes;               /* the values one use of it stands for */
} ShapeAnchor;

typedef struct ShapeLevel {
    yaml_mark_t mark;            /* where the mapping or list starts */
    int mapping;
    int64_t entries;             /* its keys and values, or items */
    int64_t nodes_before;        /* the count when it started */
    char *anchor;                /* its anchor, NULL none */
} ShapeLevel;

/* Counts one value at mark; 0, or AVERROR_INVALIDDATA (reported). */
static int shape_count(Loader *ld, ShapeLevel *levels, int depth, int64_t *nodes,
                       int64_t add, yaml_mark_t mark)
{
    ShapeLevel *up = depth ? &levels[depth - 1] : NULL;

    *nodes += add;
    if (*nodes > JOB_MAX_NODES) {
        jy_report_at(ld, mark, "more than %d values in the job file (an alias counts its "
                     "anchor's values each time it is used)", JOB_MAX_NODES);
        return AVERROR_INVALIDDATA;
    }
    if (up && ++up->entries > (up->mapping ? 2 : 1) * (int64_t)JOB_MAX_ENTRIES) {
        jy_report_at(ld, up->mark, "a %s with more than %d %s", up->mapping ? "mapping" : "list",
                     JOB_MAX_ENTRIES, up->mapping ? "keys" : "items");
        return AVERROR_INVALIDDATA;
    }
    return 0;
}

static int shape_anchor(Loader *ld, ShapeAnchor *anchors, int *nb, const yaml_char_t *name,
                        int64_t nodes, yaml_mark_t mark)
{
    if (*nb == JOB_MAX_ANCHORS) {
        jy_report_at(ld, mark, "more than %d anchors in the job file", JOB_MAX_ANCHORS);
        return AVERROR_INVALIDDATA;
    }
    if (!(anchors[*nb].name = av_strdup((const char *)name)))
        return AVERROR(ENOMEM);
    anchors[(*nb)++].nodes = nodes;
    return 0;
}

/*
 * Walks the events of the text (no tree is built) and refuses, at the
 * place it happens, nesting deeper than JOB_MAX_DEPTH, a mapping or list
 * of more than JOB_MAX_ENTRIES, more than JOB_MAX_NODES values in all
 * with every alias expanded (what the schema walk may visit: a few lines
 * of nested aliases stand for billions of values), and more than
 * JOB_MAX_ANCHORS anchors. libyaml's tree builder takes time that grows
 * with the square of the depth; this walk stops at the first level too
 * deep, so a file nested 100,000 times costs what 65 levels cost.
 * Returns 0, AVERROR_INVALIDDATA (reported, syntax errors included) or
 * AVERROR(ENOMEM).
 */
int jy_check_shape(Loader *ld, const uint8_t *buf, size_t size)
{
    ShapeLevel levels[JOB_MAX_DEPTH];
    ShapeAnchor *anchors;
    yaml_parser_t parser;
    yaml_event_t ev;
    int depth = 0, nb_anchors = 0, ret = 0, done = 0;
    int64_t nodes = 0;

    if (!(anchors = av_calloc(JOB_MAX_ANCHORS, sizeof(*anchors))))
        return AVERROR(ENOMEM);
    if (!yaml_parser_initialize(&parser)) {
        av_free(anchors);
        return AVERROR(ENOMEM);
    }
    yaml_parser_set_input_string(&parser, buf, size);
    while (!done && ret >= 0) {
        const yaml_char_t *anchor = NULL;
        int64_t size_of = 1;

        if (!yaml_parser_parse(&parser, &ev)) {
            if (parser.error == YAML_MEMORY_ERROR)
                ret = AVERROR(ENOMEM);
            else {
                jy_report_syntax(ld, &parser, buf, size);
                ret = AVERROR_INVALIDDATA;
            }
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_SCALAR_EVENT:
            ret = shape_count(ld, levels, depth, &nodes, 1, ev.start_mark);
            if (ret >= 0 && ev.data.scalar.anchor)
                ret = shape_anchor(ld, anchors, &nb_anchors, ev.data.scalar.anchor, 1,
                                   ev.start_mark);
            break;
        case YAML_ALIAS_EVENT:
            /* the latest anchor of that name; an unknown one is libyaml's
             * to report when it builds the tree */
            for (int i = nb_anchors - 1; i >= 0; i--)
                if (!strcmp(anchors[i].name, (const char *)ev.data.alias.anchor)) {
                    size_of = anchors[i].nodes;
                    break;
                }
            ret = shape_count(ld, levels, depth, &nodes, size_of, ev.start_mark);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            anchor = ev.type == YAML_MAPPING_START_EVENT ? ev.data.mapping_start.anchor
                                                        : ev.data.sequence_start.anchor;
            if ((ret = shape_count(ld, levels, depth, &nodes, 1, ev.start_mark)) < 0)
                break;
            if (depth == JOB_MAX_DEPTH) {
                jy_report_at(ld, ev.start_mark, "nested deeper than %d levels (mappings and "
                             "lists inside one another)", JOB_MAX_DEPTH);
                ret = AVERROR_INVALIDDATA;
                break;
            }
            levels[depth] = (ShapeLevel){
                .mark = ev.start_mark, .mapping = ev.type == YAML_MAPPING_START_EVENT,
                .nodes_before = nodes - 1,
            };
            if (anchor && !(levels[depth].anchor = av_strdup((const char *)anchor)))
                ret = AVERROR(ENOMEM);
            depth++;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (!depth)
                break;
            depth--;
            if (levels[depth].anchor)
                ret = shape_anchor(ld, anchors, &nb_anchors, (const yaml_char_t *)levels[depth].anchor,
                                   nodes - levels[depth].nodes_before, ev.start_mark);
            av_freep(&levels[depth].anchor);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    while (depth > 0)
        av_freep(&levels[--depth].anchor);
    for (int i = 0; i < nb_anchors; i++)
        av_free(anchors[i].name);
    av_free(anchors);
    yaml_parser_delete(&parser);
    return ret;
}

/* Moves the problems, sorted into file order, to diag. */
void jy_hand_over(Loader *ld, JobDiag *diag)
{
    /* a valid job has no problems and no array: qsort's base must not be
     * NULL even for 0 elements (C11 7.22.5), which UBSan reports */
    if (ld->nb_problems > 1)
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

/* ------------------------------------------------------------------------ */
/* YAML typing: YAML 1.1 resolution of plain scalars, as job files expect   */

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

const char *const jy_true_words[]  = { "true", "yes", "on", NULL };
static const char *const false_words[] = { "false", "no", "off", NULL };

int jy_in_words(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (!strcasecmp(s, *words))
            return 1;
    return 0;
}

NodeType jy_node_type(const yaml_node_t *n)
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
    if (jy_in_words(s, jy_true_words) || jy_in_words(s, false_words))
        return T_BOOL;
    if (match_int(s))
        return T_INT;
    if (match_decimal(s))
        return T_DECIMAL;
    return T_STRING;
}

const char *jy_type_name(NodeType t)
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

void jy_wrong_type(Loader *ld, const yaml_node_t *n, const char *key, const char *want)
{
    report(ld, n, "'%s' must be %s, not %s", key, want, jy_type_name(jy_node_type(n)));
}

yaml_node_t *jy_node_at(Loader *ld, int index)
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
void jy_check_keys(Loader *ld, const yaml_node_t *map, const char *what,
                   const char *const *keys)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = jy_node_at(ld, p->key);
        int known = 0;

        if (k->type != YAML_SCALAR_NODE) {
            report(ld, k, "a key must be a name, not %s", jy_type_name(jy_node_type(k)));
            continue;
        }
        for (const yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *prev = jy_node_at(ld, q->key);
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
yaml_node_t *jy_map_get(Loader *ld, const yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = jy_node_at(ld, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp(TEXT(k), key))
            return jy_node_at(ld, p->value);
    }
    return NULL;
}

yaml_node_t *jy_map_require(Loader *ld, const yaml_node_t *map,
                            const char *what, const char *key)
{
    yaml_node_t *v = jy_map_get(ld, map, key);

    if (!v)
        report(ld, map, "%s is missing '%s'", what, key);
    return v;
}

/*
 * Typed getters. Each looks key up in map and returns 0 when it is absent
 * (the output untouched), 1 when it was read into the output, or -1 when it
 * is there but wrong (reported).
 */

int jy_get_string(Loader *ld, const yaml_node_t *map, const char *key, char **out)
{
    yaml_node_t *n = jy_map_get(ld, map, key);

    if (!n)
        return 0;
    if (jy_node_type(n) != T_STRING) {
        jy_wrong_type(ld, n, key, "a string");
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
    *out = jy_strdup(ld, TEXT(n));
    return 1;
}

int jy_get_int(Loader *ld, const yaml_node_t *map, const char *key,
               int64_t min, int64_t max, int64_t *out)
{
    yaml_node_t *n = jy_map_get(ld, map, key);
    long long v;

    if (!n)
        return 0;
    if (jy_node_type(n) != T_INT) {
        jy_wrong_type(ld, n, key, "an integer");
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

int jy_get_bool(Loader *ld, const yaml_node_t *map, const char *key, int *out)
{
    yaml_node_t *n = jy_map_get(ld, map, key);

    if (!n)
        return 0;
    if (jy_node_type(n) != T_BOOL) {
        jy_wrong_type(ld, n, key, "true or false");
        return -1;
    }
    *out = jy_in_words(TEXT(n), jy_true_words);
    return 1;
}

int jy_get_word(Loader *ld, const yaml_node_t *map, const char *key,
                const char *const *words, int *out)
{
    yaml_node_t *n = jy_map_get(ld, map, key);
    char list[256] = "";

    if (!n)
        return 0;
    if (jy_node_type(n) == T_STRING)
        for (int i = 0; words[i]; i++)
            if (!strcmp(TEXT(n), words[i])) {
                *out = i;
                return 1;
            }
    for (int i = 0; words[i]; i++)
        av_strlcatf(list, sizeof(list), "%s%s", i ? (words[i + 1] ? ", " : " or ") : "", words[i]);
    report(ld, n, "'%s' must be %s", key, list);
    return -1;
}

/* A value with units: a scalar that is not a boolean or null. Quoted or not,
 * "20s" is a duration; a plain 20 gets units.c's "needs a unit". */
int jy_unit_scalar(Loader *ld, const yaml_node_t *n, const char *key, const char *want)
{
    NodeType t = jy_node_type(n);

    if (t == T_INT || t == T_DECIMAL || t == T_STRING)
        return 1;
    jy_wrong_type(ld, n, key, want);
    return 0;
}

/* A duration node, more than 0 and at most max (0: no limit). */
int jy_parse_duration(Loader *ld, const yaml_node_t *n, const char *key,
                      int64_t max, int64_t *out)
{
    char err[160], a[32], b[32];
    int64_t us;

    if (!jy_unit_scalar(ld, n, key, "a duration such as 5s"))
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

int jy_get_duration(Loader *ld, const yaml_node_t *map, const char *key,
                    int64_t max, int64_t *out)
{
    yaml_node_t *n = jy_map_get(ld, map, key);

    return n ? jy_parse_duration(ld, n, key, max, out) : 0;
}

int jy_get_size(Loader *ld, const yaml_node_t *map, const char *key,
                int64_t min, int64_t max, int64_t *out)
{
    yaml_node_t *n = jy_map_get(ld, map, key);
    char err[160];
    int64_t v;

    if (!n)
        return 0;
    if (!jy_unit_scalar(ld, n, key, "a size such as 3M"))
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
int jy_get_node(Loader *ld, const yaml_node_t *map, const char *key,
                yaml_node_type_t type, yaml_node_t **out)
{
    yaml_node_t *n = jy_map_get(ld, map, key);

    if (!n)
        return 0;
    if (n->type != type) {
        jy_wrong_type(ld, n, key, type == YAML_MAPPING_NODE ? "a mapping" : "a list");
        return -1;
    }
    *out = n;
    return 1;
}

/* An option's value as libav takes it: booleans as 1/0. */
const char *jy_option_value(const yaml_node_t *v)
{
    if (jy_node_type(v) == T_BOOL)
        return jy_in_words(TEXT(v), jy_true_words) ? "1" : "0";
    return TEXT(v);
}

/*
 * "options": a mapping of scalars, into *dict. Returns the mapping node in
 * *node (for the checks against libav) when it is one.
 */
int jy_get_options(Loader *ld, const yaml_node_t *map, AVDictionary **dict,
                   yaml_node_t **node)
{
    yaml_node_t *n = jy_map_get(ld, map, "options");
    int ok = 1;

    *node = NULL;
    if (!n)
        return 0;
    if (n->type != YAML_MAPPING_NODE) {
        report(ld, n, "'options' must be a mapping of scalar values");
        return -1;
    }
    jy_check_keys(ld, n, "options", NULL);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = jy_node_at(ld, p->key), *v = jy_node_at(ld, p->value);
        if (k->type != YAML_SCALAR_NODE)
            continue;                       /* jy_check_keys said so */
        if (v->type != YAML_SCALAR_NODE) {
            report(ld, v, "'options' must be a mapping of scalar values");
            ok = 0;
            continue;
        }
        /* libav options have no "present without a value" form */
        if (jy_node_type(v) == T_NULL) {
            report(ld, v, "option '%s' needs a value", TEXT(k));
            ok = 0;
            continue;
        }
        /* AV_DICT_DONT_OVERWRITE: the first of a duplicated key, as jy_map_get */
        if (av_dict_set(dict, TEXT(k), jy_option_value(v), AV_DICT_DONT_OVERWRITE) < 0)
            ld->enomem = 1;
    }
    *node = n;
    return ok ? 1 : -1;
}

/* Reports name as a duplicate in set if it is one. */
void jy_unique_name(Loader *ld, SeenSet *set, const char *what,
                    const char *name, const yaml_node_t *node)
{
    const yaml_node_t *first = jy_seen_add(ld, set, name, node);

    if (first)
        report(ld, node, "duplicate %s name '%s' (first at line %d)", what, name,
               (int)first->start_mark.line + 1);
}
