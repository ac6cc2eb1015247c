/*
 * comp.c: the component grammar; see comp.h.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/avstring.h>
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

const char *comp_kind_name(CompKind kind)
{
    return (unsigned)kind < COMP_NB_KINDS ? kind_names[kind] : NULL;
}

int comp_format(const CompId *id, int with_stream, char *buf, size_t size)
{
    char inst[24] = "";
    const char *base;
    int n;

    if ((unsigned)id->kind >= COMP_NB_KINDS)
        return AVERROR(EINVAL);
    if (id->instance == 1)
        snprintf(inst, sizeof(inst), ".backup");
    else if (id->instance > 1)
        snprintf(inst, sizeof(inst), ".backup%d", id->instance);
    base = id->kind == COMP_HOST ? "host" : id->kind == COMP_INGEST ? "input" : NULL;
    n = snprintf(buf, size, "%s%s%s%s%s",
                 with_stream && id->stream[0] ? id->stream : "",
                 with_stream && id->stream[0] ? "/" : "",
                 base ? base : prefixes[id->kind], base ? "" : id->name, inst);
    return n < 0 || (size_t)n >= size ? AVERROR(ENOSPC) : n;
}

static int bad(char *err, size_t size, const char *text, const char *why)
{
    if (err && size)
        snprintf(err, size, "'%s': %s", text, why);
    return AVERROR(EINVAL);
}

/* [a-z0-9_-] and, inside names (renditions, outputs), '.' is refused: it
 * would read as an instance suffix. */
static int name_ok(const char *s, size_t n)
{
    if (!n || n >= COMP_NAME_SIZE)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

int comp_parse(const char *text, int whole_default, CompId *id, char *err, size_t err_size)
{
    const char *p = text, *slash = strchr(text, '/'), *dot, *colon;
    size_t n;

    memset(id, 0, sizeof(*id));
    id->instance = whole_default ? COMP_WHOLE : 0;
    if (slash) {
        if (!name_ok(text, slash - text))
            return bad(err, err_size, text, "the stream name before '/' must be 1-47 "
                       "characters of [a-z0-9_-]");
        memcpy(id->stream, text, slash - text);
        p = slash + 1;
        if (strchr(p, '/'))
            return bad(err, err_size, text, "one '/' at most (STREAM/COMPONENT)");
    }
    dot = strchr(p, '.');
    if (dot) {
        const char *d = dot + 1;
        char *end;
        long k;
        if (strncmp(d, "backup", 6))
            return bad(err, err_size, text, "an instance is written .backup or .backupN");
        d += 6;
        if (!*d) {
            k = 1;
        } else {
            if (*d < '0' || *d > '9')
                return bad(err, err_size, text, "an instance is written .backup or .backupN");
            k = strtol(d, &end, 10);
            if (*end)
                return bad(err, err_size, text, "an instance is written .backup or .backupN");
            if (k < 2)
                return bad(err, err_size, text, "the first backup is written .backup, "
                           "the next ones .backup2, .backup3, ...");
        }
        if (k >= COMP_MAX_INSTANCES) {
            if (err && err_size)
                snprintf(err, err_size, "'%s': at most %d backups per component (.backup%d)",
                         text, COMP_MAX_INSTANCES - 1, COMP_MAX_INSTANCES - 1);
            return AVERROR(EINVAL);
        }
        id->instance = (int)k;
        n = dot - p;
    } else {
        n = strlen(p);
    }
    colon = memchr(p, ':', n);
    if (!colon) {
        if (n == 5 && !strncmp(p, "input", 5))
            id->kind = COMP_INGEST;
        else if (n == 4 && !strncmp(p, "host", 4) && !id->stream[0])
            id->kind = COMP_HOST;
        else
            return bad(err, err_size, text, "a component is input, enc:NAME, out:NAME, "
                       "edge:NAME, host or gpu:NAME");
        av_strlcpy(id->name, id->kind == COMP_HOST ? "host" : "input", sizeof(id->name));
        if (id->kind == COMP_HOST && id->instance > 0)
            return bad(err, err_size, text, "the host has no backups");
        return 0;
    }
    {
        size_t pl = colon - p + 1;
        int kind = -1;
        for (int k = 0; k < COMP_NB_KINDS; k++)
            if (prefixes[k] && strlen(prefixes[k]) == pl && !strncmp(p, prefixes[k], pl))
                kind = k;
        if (kind < 0)
            return bad(err, err_size, text, "a component is input, enc:NAME, out:NAME, "
                       "edge:NAME, host or gpu:NAME");
        if (!name_ok(colon + 1, n - pl))
            return bad(err, err_size, text, "the name after ':' must be 1-47 characters "
                       "of [A-Za-z0-9_-]");
        if (kind == COMP_GPU && (id->stream[0] || id->instance > 0))
            return bad(err, err_size, text, "a GPU belongs to no stream and has no backups");
        id->kind = kind;
        memcpy(id->name, colon + 1, n - pl);
        id->name[n - pl] = 0;
    }
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
