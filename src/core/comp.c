/*
 * comp.c: the component grammar; see comp.h.
 *
 * Names of renditions and outputs may hold '.' (the job accepts "HD.main"),
 * and the data plane writes their backups "out:HD.main.backup2": so the
 * instance is the last '.' segment when, and only when, it begins with
 * "backup". GPU names come from the agents ("gpu0", "dri:0000:03:00.0:vcs0")
 * and have no instances: after "gpu:" the rest is the name.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/error.h>

#include "core/comp.h"

static const char *const kind_names[COMP_NB_KINDS] = {
    [COMP_HOST] = "host", [COMP_GPU] = "gpu", [COMP_INGEST] = "ingest",
    [COMP_ENCODER] = "encoder", [COMP_OUTPUT] = "output", [COMP_EDGE] = "edge",
};

/* How each kind is written in a name: "input", "enc:720p", ... */
static const char *const prefixes[COMP_NB_KINDS] = {
    [COMP_GPU] = "gpu:", [COMP_ENCODER] = "enc:", [COMP_OUTPUT] = "out:", [COMP_EDGE] = "edge:",
};

#define KINDS_TEXT "a component is input, enc:NAME, out:NAME, edge:NAME, host or gpu:NAME"
#define INSTANCE_TEXT "an instance is written .backup or .backupN"

const char *comp_kind_name(CompKind kind)
{
    return (unsigned)kind < COMP_NB_KINDS ? kind_names[kind] : NULL;
}

const char *comp_instance_name(int instance, char *buf, size_t size)
{
    if (instance < 0)             /* COMP_WHOLE */
        return "";
    if (instance == 0)
        return "primary";
    if (instance == 1)
        return "backup";
    snprintf(buf, size, "backup%d", instance);
    return buf;
}

/* Stream names as the job takes them: [a-z0-9_-]. */
static int stream_ok(const char *s, size_t n)
{
    if (!n || n >= COMP_NAME_SIZE)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

/* Rendition and output names as the job takes them: [A-Za-z0-9_.-]; GPU
 * names also ':' (DRM engines: "dri:PCI-ADDRESS:ENGINE"). */
static int name_ok(const char *s, size_t n, int gpu)
{
    if (!n || n >= COMP_NAME_SIZE)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.' ||
              (gpu && s[i] == ':')))
            return 0;
    return 1;
}

/* An output's edge "main", or the edge of one of its CDN pathways
 * "main:cdn-a" (output names hold no ':'). */
static int edge_name_ok(const char *s, size_t n)
{
    const char *c = memchr(s, ':', n);

    if (!c)
        return name_ok(s, n, 0);
    return n < COMP_NAME_SIZE && name_ok(s, c - s, 0) && name_ok(c + 1, n - (c - s) - 1, 0);
}

int comp_format(const CompId *id, int with_stream, char *buf, size_t size)
{
    char word[24];
    const char *base, *stream = with_stream && id->stream[0] ? id->stream : "";
    int n, named;

    if ((unsigned)id->kind >= COMP_NB_KINDS || id->instance < COMP_WHOLE ||
        id->instance >= COMP_MAX_INSTANCES)
        return AVERROR(EINVAL);
    named = id->kind != COMP_HOST && id->kind != COMP_INGEST;
    /* what comp_parse would refuse or misread is not written */
    if ((named && !id->name[0]) ||
        ((id->kind == COMP_HOST || id->kind == COMP_GPU) && (id->stream[0] || id->instance > 0)))
        return AVERROR(EINVAL);
    base = id->kind == COMP_HOST ? "host" : id->kind == COMP_INGEST ? "input" : prefixes[id->kind];
    n = snprintf(buf, size, "%s%s%s%s%s%s", stream, stream[0] ? "/" : "", base,
                 named ? id->name : "", id->instance > 0 ? "." : "",
                 id->instance > 0 ? comp_instance_name(id->instance, word, sizeof(word)) : "");
    return n < 0 || (size_t)n >= size ? AVERROR(ENOSPC) : n;
}

static int bad(char *err, size_t size, const char *text, const char *why)
{
    if (err && size)
        snprintf(err, size, "'%s': %s", text, why);
    return AVERROR(EINVAL);
}

/* The instance in "backup" or "backupN" (after the '.'): 1..COMP_MAX_INSTANCES-1,
 * or < 0 with the reason in err. */
static int parse_instance(const char *text, const char *s, char *err, size_t err_size)
{
    int k = 0;

    s += 6;                       /* "backup" */
    if (!*s)
        return 1;
    if (*s < '1' || *s > '9')     /* no sign, no space, no leading zero */
        return bad(err, err_size, text, INSTANCE_TEXT);
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return bad(err, err_size, text, INSTANCE_TEXT);
        if (k < COMP_MAX_INSTANCES)   /* stops growing: no overflow */
            k = 10 * k + (*s - '0');
    }
    if (k < 2)
        return bad(err, err_size, text, "the first backup is written .backup, "
                   "the next ones .backup2, .backup3, ...");
    if (k >= COMP_MAX_INSTANCES) {
        if (err && err_size)
            snprintf(err, err_size, "'%s': at most %d backups per component (.backup%d)",
                     text, COMP_MAX_INSTANCES - 1, COMP_MAX_INSTANCES - 1);
        return AVERROR(EINVAL);
    }
    return k;
}

int comp_parse(const char *text, int whole_default, CompId *id, char *err, size_t err_size)
{
    const char *p, *slash, *dot, *colon;
    size_t n, pl;
    int kind = -1;

    memset(id, 0, sizeof(*id));
    id->instance = whole_default ? COMP_WHOLE : 0;
    if (!text || !*text)
        return bad(err, err_size, text ? text : "", "is empty");
    p = text;
    if ((slash = strchr(text, '/'))) {
        if (!stream_ok(text, slash - text))
            return bad(err, err_size, text, "the stream name before '/' must be 1-47 "
                       "characters of [a-z0-9_-]");
        memcpy(id->stream, text, slash - text);
        p = slash + 1;
        if (strchr(p, '/'))
            return bad(err, err_size, text, "one '/' at most (STREAM/COMPONENT)");
    }

    if (!strncmp(p, "gpu:", 4)) {
        if (id->stream[0] || strstr(p, ".backup"))
            return bad(err, err_size, text, "a GPU belongs to no stream and has no backups");
        if (!name_ok(p + 4, strlen(p + 4), 1))
            return bad(err, err_size, text, "the name after 'gpu:' must be 1-47 characters "
                       "of [A-Za-z0-9_.:-]");
        id->kind = COMP_GPU;
        memcpy(id->name, p + 4, strlen(p + 4));
        return 0;
    }

    n = strlen(p);
    dot = strrchr(p, '.');
    if (dot && !strncmp(dot + 1, "backup", 6)) {
        int k = parse_instance(text, dot + 1, err, err_size);
        if (k < 0)
            return k;
        id->instance = k;
        n = dot - p;
    }
    colon = memchr(p, ':', n);
    if (!colon) {
        if (n == 5 && !strncmp(p, "input", 5))
            id->kind = COMP_INGEST;
        else if (n == 4 && !strncmp(p, "host", 4))
            id->kind = COMP_HOST;
        else
            return bad(err, err_size, text, memchr(p, '.', n) ? INSTANCE_TEXT : KINDS_TEXT);
        if (id->kind == COMP_HOST && (id->stream[0] || id->instance > 0))
            return bad(err, err_size, text, "the host belongs to no stream and has no backups");
        memcpy(id->name, p, n);
        return 0;
    }
    pl = colon - p + 1;
    for (int k = 0; k < COMP_NB_KINDS; k++)
        if (prefixes[k] && k != COMP_GPU && strlen(prefixes[k]) == pl &&
            !strncmp(p, prefixes[k], pl))
            kind = k;
    if (kind < 0)
        return bad(err, err_size, text, KINDS_TEXT);
    if (kind == COMP_EDGE ? !edge_name_ok(colon + 1, n - pl) : !name_ok(colon + 1, n - pl, 0))
        return bad(err, err_size, text, kind == COMP_EDGE ?
                   "an edge is edge:OUTPUT or edge:OUTPUT:PATHWAY, 1-47 characters of "
                   "[A-Za-z0-9_.-] and that ':'" :
                   "the name after ':' must be 1-47 characters of [A-Za-z0-9_.-]");
    id->kind = kind;
    memcpy(id->name, colon + 1, n - pl);
    return 0;
}

int comp_match(const CompId *a, const CompId *b)
{
    if (a->kind != b->kind || strcmp(a->name, b->name))
        return 0;
    if (a->stream[0] && b->stream[0] && strcmp(a->stream, b->stream))
        return 0;
    return a->instance == COMP_WHOLE || b->instance == COMP_WHOLE || a->instance == b->instance;
}

uint32_t comp_next_seq(void)
{
    static _Atomic uint32_t seq;
    uint32_t s;

    while (!(s = atomic_fetch_add(&seq, 1) + 1))
        ;                         /* 0 means "none": skipped on wrap-around */
    return s;
}
