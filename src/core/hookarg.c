/*
 * hookarg.c: the placeholders of an exec hook's arguments; see hookarg.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/attributes.h>
#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "core/hookarg.h"

static const char *const var_names[HOOKARG_NB_VARS] = {
    [HOOKARG_STREAM]    = "stream",
    [HOOKARG_COMPONENT] = "component",
    [HOOKARG_INSTANCE]  = "instance",
    [HOOKARG_RISK]      = "risk",
};

/* Longer names are reported cut, so that a brace left open in a long
 * argument does not fill the message with the rest of it. */
#define SHOW_MAX 32

const char *hookarg_var_name(HookArgVar var)
{
    return (unsigned)var < HOOKARG_NB_VARS ? var_names[var] : NULL;
}

static int refuse(char *msg, size_t size, const char *fmt, ...) av_printf_format(3, 4);

static int refuse(char *msg, size_t size, const char *fmt, ...)
{
    va_list ap;

    if (msg && size) {
        va_start(ap, fmt);
        vsnprintf(msg, size, fmt, ap);
        va_end(ap);
    }
    return AVERROR(EINVAL);
}

/*
 * The one walk over an argument, so that what the job accepts and what the
 * allocator expands cannot differ: with out NULL it only checks; else it
 * appends the expansion to out.
 */
static int scan(const char *arg, const char *const *values, AVBPrint *out,
                char *msg, size_t size)
{
    const char *p = arg;

    while (*p) {
        const char *close;
        int var;

        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            if (out)
                av_bprint_chars(out, p[0], 1);
            p += 2;
            continue;
        }
        if (*p == '}')
            return refuse(msg, size, "a '}' alone (write '}}' for a brace)");
        if (*p != '{') {
            size_t n = strcspn(p, "{}");
            if (out)
                av_bprint_append_data(out, p, n);
            p += n;
            continue;
        }
        close = strchr(p + 1, '}');
        if (!close)
            return refuse(msg, size, "'%.*s' is not closed (write '{{' for a brace)",
                          (int)(strlen(p) > SHOW_MAX ? SHOW_MAX : strlen(p)), p);
        for (var = 0; var < HOOKARG_NB_VARS; var++)
            if ((size_t)(close - p - 1) == strlen(var_names[var]) &&
                !strncmp(p + 1, var_names[var], close - p - 1))
                break;
        if (var == HOOKARG_NB_VARS)
            return refuse(msg, size, "unknown placeholder '%.*s' (expected {stream}, "
                          "{component}, {instance}, {risk}, or {{ and }} for braces)",
                          (int)(close - p + 1 > SHOW_MAX ? SHOW_MAX : close - p + 1), p);
        if (out)
            av_bprintf(out, "%s", values[var]);
        p = close + 1;
    }
    return 0;
}

int hookarg_check(const char *arg, char *msg, size_t size)
{
    return scan(arg, NULL, NULL, msg, size);
}

int hookarg_expand(const char *arg, const char *const values[HOOKARG_NB_VARS], char **out)
{
    AVBPrint bp;
    int ret;

    *out = NULL;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    ret = scan(arg, values, &bp, NULL, 0);
    if (ret < 0) {
        av_bprint_finalize(&bp, NULL);
        return ret;
    }
    if (!av_bprint_is_complete(&bp)) {
        av_bprint_finalize(&bp, NULL);
        return AVERROR(ENOMEM);
    }
    return av_bprint_finalize(&bp, out) < 0 ? AVERROR(ENOMEM) : 0;
}
