/*
 * log.h: one log for hotspare and for libav.
 *
 * Every line goes through av_log, ours and libav's alike, and is printed by
 * one callback that
 *   - names the component: our contexts carry an AVClass whose item_name is
 *     "stream/component"; libav's own contexts (x264, the HLS muxer, ...) are
 *     named after the component whose thread logs them (log_set_component),
 *   - masks secrets: URL credentials and stream keys never reach the log,
 *   - keeps a terminal status line (log_status) intact.
 */
#ifndef HS_LOG_H
#define HS_LOG_H

#include <libavutil/log.h>

/*
 * The log context of a hotspare object: the first member of every long-lived
 * struct, so that av_log(obj, ...) prints "[news/enc:720p] ...".
 */
typedef struct LogCtx {
    const AVClass *class;
    char name[64];
} LogCtx;

/* Sets the class and formats the name. */
void logctx_init(LogCtx *l, const char *fmt, ...) av_printf_format(2, 3);

/* Installs the callback and sets the level (an AV_LOG_* value). */
void log_init(int level);

/* Parses a -v argument: quiet, panic, fatal, error, warning, info, verbose,
 * debug, trace, or a number. Returns the AV_LOG_* level or LOG_LEVEL_INVALID. */
#define LOG_LEVEL_INVALID (-1000)
int log_parse_level(const char *s);

/* Names the component that the calling thread works for ("news/enc:720p"),
 * for lines that libav logs from this thread. The string is copied. Also
 * names the thread (for top/gdb) with its last 15 characters. */
void log_set_component(const char *name);

/* Registers a string that must never be printed (a stream key, a password):
 * every log line has it replaced by "****". Strings shorter than 8
 * characters are ignored here (they would mask ordinary words); URLs in log
 * lines are redacted by pattern as well (redact.h), which covers them.
 * Thread-safe. */
void log_add_secret(const char *secret);

/* Shows a one-line status at the bottom of a terminal (stderr), redrawn by
 * the next call; log lines are printed above it. NULL or "" clears it. Does
 * nothing when stderr is not a terminal. */
void log_status(const char *line);

/* While set on the calling thread, libav's own errors and warnings from
 * this thread are shown from -v verbose only: for calls whose failures the
 * caller reports itself (an answer it expects, like the 404 of a segment
 * not stored yet). */
void log_quiet_libav(int quiet);

/* Masks registered secrets and URL credentials in text, into buf. */
void log_mask(const char *text, char *buf, size_t size);

#endif
