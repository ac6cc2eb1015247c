/*
 * units.h: durations and sizes written with units, as job files write them.
 *
 *   durations: "100ms", "2s", "1.5s", "5m", "1h", "7d", "250us"
 *              (a unit is required: "20" alone is ambiguous)
 *   sizes and bit rates: "3M", "800k", "128k", "1.5M", "2G", or a plain
 *              number of units (bits/s or bytes); k = 1000, M = 10^6,
 *              G = 10^9; "Ki", "Mi", "Gi" are powers of 1024
 *
 * Values are rounded to the nearest integer ("1.5us" -> 2). Negative values,
 * garbage, unknown units and values past INT64_MAX are errors.
 *
 * Pure functions: they return 0 or a negative AVERROR(EINVAL) and, on error,
 * a short reason in err, phrased to follow the value's name: "'gop' " + err
 * reads "'gop' has an unknown unit 'x' (expected us, ms, s, m, h or d)".
 */
#ifndef HS_UNITS_H
#define HS_UNITS_H

#include <stddef.h>
#include <stdint.h>

int units_parse_duration(const char *s, int64_t *us, char *err, size_t errsize);
int units_parse_size(const char *s, int64_t *value, char *err, size_t errsize);

/* Formats a duration in microseconds as the shortest exact form ("2s",
 * "100ms", "1500ms"). */
char *units_format_duration(int64_t us, char *buf, size_t size);

#endif
