/*
 * hookarg.h: the placeholders of an exec hook's arguments.
 *
 * An exec hook (dra/hook.h) is an argv, never a shell string; each
 * argument may name what the hook is run for:
 *
 *   {stream}     the stream's name                         news
 *   {component}  the component, without stream or instance  enc:720p
 *   {instance}   the instance it is for, 1 = the first backup
 *   {risk}       the component's risk when it was decided, %.3f
 *   {{ and }}    a literal brace
 *
 * Anything else between braces, and a brace left open or a '}' alone, is an
 * error. The grammar lives here, below both of its readers, because the job
 * (job/) refuses a bad argument at load time with its place in the file and
 * the allocator (dra/) expands it at run time, and job/ may not include
 * dra/ (ARCHITECTURE.md, "Layers"). Pure functions; no logging.
 */
#ifndef HS_HOOKARG_H
#define HS_HOOKARG_H

#include <stddef.h>

typedef enum HookArgVar {
    HOOKARG_STREAM,
    HOOKARG_COMPONENT,
    HOOKARG_INSTANCE,
    HOOKARG_RISK,
    HOOKARG_NB_VARS
} HookArgVar;

/* "stream", "component", ...; NULL when out of range. */
const char *hookarg_var_name(HookArgVar var);

/*
 * Checks one argument. Returns 0, or AVERROR(EINVAL) with the reason (one
 * line: "unknown placeholder '{strem}' (expected {stream}, {component},
 * {instance}, {risk}, or {{ and }} for braces)") in msg.
 */
int hookarg_check(const char *arg, char *msg, size_t size);

/*
 * Writes arg with its placeholders replaced by values[var] (each a string,
 * the caller's) into *out, a new string the caller frees with av_free.
 * Returns 0, AVERROR(EINVAL) for an argument hookarg_check refuses (*out
 * NULL), or AVERROR(ENOMEM).
 */
int hookarg_expand(const char *arg, const char *const values[HOOKARG_NB_VARS], char **out);

#endif
