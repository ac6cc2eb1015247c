/*
 * redact.h: URLs as they may be shown (logs, metrics, status, graphs).
 *
 * A job's URLs carry secrets: "rtmp://a.rtmp.youtube.com/live2/KEY",
 * "http://user:pass@origin/...", "srt://host:9000?passphrase=...". Anything
 * that leaves the process shows the redacted form instead:
 *   - the userinfo ("user:password@") becomes "***@",
 *   - every query value becomes "***" (the keys stay, they help debugging);
 *     an SRT query runs to the end of the URL (a streamid may hold "#"),
 *   - for RTMP-family URLs, every path segment after the application becomes
 *     "***" (the stream key),
 *   - a local path is shown as it is.
 * Pure functions; no logging, no allocation.
 */
#ifndef HS_REDACT_H
#define HS_REDACT_H

#include <stddef.h>

/* Writes the redacted form of url into buf (always NUL-terminated, truncated
 * to size). Returns buf. */
char *redact_url(const char *url, char *buf, size_t size);

/* Calls fn(opaque, s, len) for each secret substring of url: the userinfo,
 * each query value, the RTMP stream key. */
void redact_url_secrets(const char *url,
                        void (*fn)(void *opaque, const char *s, size_t len),
                        void *opaque);

/* Redacts every "scheme://..." URL found inside free text (a libav message),
 * into buf. Returns buf. */
char *redact_text(const char *text, char *buf, size_t size);

#endif
