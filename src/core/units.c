/*
 * units.c: durations and sizes written with units; see units.h.
 *
 * The number is parsed as digits, not with strtod: "1.1s" must be exactly
 * 1100000 us, and a binary double cannot promise that. The fraction is
 * scaled by the unit with av_rescale_rnd(), which rounds half away from zero
 * without overflowing in the intermediate product.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/attributes.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>

#include "core/units.h"

typedef struct Unit {
    const char *name;
    int64_t mult;
} Unit;

/* Largest first: units_format_duration() takes the first unit that divides
 * exactly. The lookup compares whole suffixes, so "m" never eats "ms". */
static const Unit duration_units[] = {
    { "d",  86400LL * 1000000 },
    { "h",  3600LL * 1000000 },
    { "m",  60LL * 1000000 },
    { "s",  1000000 },
    { "ms", 1000 },
    { "us", 1 },
};

static const Unit size_units[] = {
    { "",   1 },
    { "k",  1000 },
    { "K",  1000 },
    { "M",  1000000 },
    { "G",  1000000000 },
    { "Ki", 1024 },
    { "Mi", 1024 * 1024 },
    { "Gi", 1024 * 1024 * 1024 },
};

#define NB_UNITS(t) ((int)(sizeof(t) / sizeof((t)[0])))

/* More fraction digits than this cannot be scaled exactly in 64 bits, and
 * no job needs them. */
#define MAX_FRACTION_DIGITS 18

typedef struct Kind {
    const Unit *units;
    int nb_units;
    const char *what;          /* "duration", "size" */
    const char *example;       /* shown when there is no number */
    const char *unit_list;     /* shown for an unknown unit */
} Kind;

static const Kind duration_kind = {
    duration_units, NB_UNITS(duration_units), "duration",
    "e.g. 20s, 500ms, 1.5h", "us, ms, s, m, h or d",
};

static const Kind size_kind = {
    size_units, NB_UNITS(size_units), "size",
    "e.g. 3M, 800k, 128000", "k, M, G, Ki, Mi or Gi",
};

static int fail(char *err, size_t errsize, const char *fmt, ...)
    av_printf_format(3, 4);

static int fail(char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    if (errsize) {
        va_start(ap, fmt);
        vsnprintf(err, errsize, fmt, ap);
        va_end(ap);
    }
    return AVERROR(EINVAL);
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * Parses "<digits>[.<digits>]<unit>" into value * unit, rounded to the
 * nearest integer. The error texts are predicates, so that a caller can
 * write "'bitrate' " followed by err.
 */
static int parse_with_unit(const Kind *k, const char *s, int64_t *out,
                           char *err, size_t errsize)
{
    const char *p = s, *unit;
    const Unit *u = NULL;
    int64_t ipart = 0, fpart = 0, fscale = 1, frac;
    int nb_frac = 0;

    if (!s || !*s)
        return fail(err, errsize, "is empty");
    if (*p == '-')
        return fail(err, errsize, "must not be negative, got '%s'", s);
    if (!is_digit(*p) && !(*p == '.' && is_digit(p[1])))
        return fail(err, errsize, "is not a %s: '%s' (%s)", k->what, s, k->example);
    for (; is_digit(*p); p++) {
        if (ipart > (INT64_MAX - (*p - '0')) / 10)
            return fail(err, errsize, "is too large: '%s'", s);
        ipart = ipart * 10 + (*p - '0');
    }
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return fail(err, errsize, "needs digits after the decimal point: '%s'", s);
        for (; is_digit(*p); p++) {
            if (++nb_frac > MAX_FRACTION_DIGITS)
                return fail(err, errsize, "has too many decimals: '%s'", s);
            fpart = fpart * 10 + (*p - '0');
            fscale *= 10;
        }
    }
    /* "2 s" reads naturally; allow blanks between number and unit */
    while (*p == ' ')
        p++;
    unit = p;
    for (int i = 0; i < k->nb_units; i++)
        if (!strcmp(unit, k->units[i].name))
            u = &k->units[i];
    if (!u) {
        if (!*unit)
            return fail(err, errsize, "needs a unit, e.g. 20s");
        return fail(err, errsize, "has an unknown unit '%s' (expected %s)",
                    unit, k->unit_list);
    }
    frac = av_rescale_rnd(fpart, u->mult, fscale, AV_ROUND_NEAR_INF);
    if (ipart > (INT64_MAX - frac) / u->mult)
        return fail(err, errsize, "is too large: '%s'", s);
    *out = ipart * u->mult + frac;
    return 0;
}

int units_parse_duration(const char *s, int64_t *us, char *err, size_t errsize)
{
    return parse_with_unit(&duration_kind, s, us, err, errsize);
}

int units_parse_size(const char *s, int64_t *value, char *err, size_t errsize)
{
    return parse_with_unit(&size_kind, s, value, err, errsize);
}

char *units_format_duration(int64_t us, char *buf, size_t size)
{
    const Unit *u = &duration_units[NB_UNITS(duration_units) - 1];

    /* the largest unit that divides it exactly; 0 reads best as "0s" */
    if (!us) {
        snprintf(buf, size, "0s");
        return buf;
    }
    for (int i = 0; i < NB_UNITS(duration_units); i++) {
        if (us % duration_units[i].mult == 0) {
            u = &duration_units[i];
            break;
        }
    }
    snprintf(buf, size, "%" PRId64 "%s", us / u->mult, u->name);
    return buf;
}
