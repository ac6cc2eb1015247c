/*
 * preset.c: finds and reads filters/NAME.graph; see preset.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "config.h"
#include "job/preset.h"

int preset_name_valid(const char *name)
{
    if (!name || !*name)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return 0;
    return 1;
}

/* Reads a preset file: '#' comments dropped, lines joined, trimmed. */
static int read_graph(FILE *f, char **graph)
{
    AVBPrint bp;
    char line[4096];

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    while (fgets(line, sizeof(line), f)) {
        char *s = line, *e;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '#' || *s == '\n' || !*s)
            continue;
        e = s + strlen(s);
        while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            *--e = 0;
        av_bprintf(&bp, "%s", s);
    }
    if (ferror(f)) {
        av_bprint_finalize(&bp, NULL);
        return AVERROR(EIO);
    }
    if (!bp.len) {
        av_bprint_finalize(&bp, NULL);
        return AVERROR_INVALIDDATA;
    }
    return av_bprint_finalize(&bp, graph);
}

static int try_dir(const char *dir, size_t dirlen, const char *name, char **graph)
{
    char path[PATH_MAX];
    FILE *f;
    int ret;

    if (snprintf(path, sizeof(path), "%.*s/%s.graph", (int)dirlen, dir, name) >= (int)sizeof(path))
        return AVERROR(ENOENT);
    f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? AVERROR(ENOENT) : AVERROR(errno);
    ret = read_graph(f, graph);
    fclose(f);
    return ret;
}

int preset_load(const char *name, char **graph)
{
    const char *env = getenv("HOTSPARE_FILTERS");
    char exe[PATH_MAX];
    ssize_t n;
    int ret;

    *graph = NULL;
    if (!preset_name_valid(name))
        return AVERROR(ENOENT);

    while (env && *env) {
        const char *colon = strchr(env, ':');
        size_t len = colon ? (size_t)(colon - env) : strlen(env);
        if (len) {
            ret = try_dir(env, len, name, graph);
            if (ret != AVERROR(ENOENT))
                return ret;
        }
        env = colon ? colon + 1 : NULL;
    }

    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        char *slash;
        exe[n] = 0;
        slash = strrchr(exe, '/');
        if (slash) {
            /* a build tree (./hotspare, ./filters), then an install moved
             * as a whole (PREFIX/bin/hotspare, PREFIX/share/hotspare) */
            static const char *const rel[] = { "filters", "../share/hotspare/filters" };
            for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
                char dir[PATH_MAX];
                snprintf(dir, sizeof(dir), "%.*s/%s", (int)(slash - exe), exe, rel[i]);
                ret = try_dir(dir, strlen(dir), name, graph);
                if (ret != AVERROR(ENOENT))
                    return ret;
            }
        }
    }

    return try_dir(HS_DATADIR "/filters", strlen(HS_DATADIR "/filters"), name, graph);
}
