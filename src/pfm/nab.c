/*
 * nab.c: the NAB corpus reader and scorer; see nab.h for the rules.
 *
 * The scorer is written from NAB's description and its sweeper.py, not
 * translated from it: per-row weighted scores first (NAB's S(t) column),
 * then one descending pass over all scorable rows of the corpus that keeps
 * per-window maxima and the false-positive sum up to date.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>

#include "pfm/nab.h"

const NabProfile nab_profiles[NAB_NB_PROFILES] = {
    { "standard",           1.0, 0.11, 1.0 },
    { "reward_low_FP_rate", 1.0, 0.22, 1.0 },
    { "reward_low_FN_rate", 1.0, 0.11, 2.0 },
};

/* ---- time stamps ---------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so that no time zone or libc locale gets involved. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int parse_digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

int nab_parse_time(const char *s, int len, int64_t *t)
{
    int y, mo, d, h, mi, se;

    /* 0123456789012345678 */
    /* YYYY-MM-DD HH:MM:SS */
    if (len < 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':')
        return AVERROR_INVALIDDATA;
    if (parse_digits(s, 4, &y) || parse_digits(s + 5, 2, &mo) || parse_digits(s + 8, 2, &d) ||
        parse_digits(s + 11, 2, &h) || parse_digits(s + 14, 2, &mi) || parse_digits(s + 17, 2, &se))
        return AVERROR_INVALIDDATA;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return AVERROR_INVALIDDATA;
    if (len > 19) {
        /* ".ffffff" as in the label file: only a zero fraction */
        if (s[19] != '.' || len == 20)
            return AVERROR_INVALIDDATA;
        for (int i = 20; i < len; i++)
            if (s[i] != '0')
                return AVERROR_INVALIDDATA;
    }
    *t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

void nab_format_time(int64_t t, char *buf)
{
    /* civil_from_days, the inverse of days_from_civil */
    int64_t z = (t >= 0 ? t : t - 86399) / 86400, secs = t - z * 86400;
    int64_t era, doe, yoe, y, doy, mp, d, m;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp + (mp < 10 ? 3 : -9);
    y += m <= 2;
    snprintf(buf, NAB_TIME_SIZE, "%04d-%02d-%02d %02d:%02d:%02d", (int)y, (int)m, (int)d,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

/* ---- combined_windows.json -------------------------------------------------- */

/* A reader for exactly the shape of the label file:
 *   { "path": [ ["start", "end"], ... ], ... }
 * with JSON's whitespace and string escapes. Anything else is an error
 * with its line and column. */
typedef struct JsonIn {
    const char *s, *p;
    char *err;
    int errlen;
} JsonIn;

static int json_fail(JsonIn *in, const char *what)
{
    int line = 1, col = 1;

    for (const char *q = in->s; q < in->p; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    snprintf(in->err, in->errlen, "line %d col %d: %s", line, col, what);
    return AVERROR_INVALIDDATA;
}

static void json_ws(JsonIn *in)
{
    while (*in->p == ' ' || *in->p == '\t' || *in->p == '\n' || *in->p == '\r')
        in->p++;
}

static int json_expect(JsonIn *in, char c)
{
    char what[32];

    json_ws(in);
    if (*in->p != c) {
        snprintf(what, sizeof(what), "expected '%c'", c);
        return json_fail(in, what);
    }
    in->p++;
    return 0;
}

/* Reads a string into buf (NUL-terminated); ASCII escapes only, which is all
 * a path or a time stamp can hold. */
static int json_string(JsonIn *in, char *buf, int size)
{
    int n = 0;

    json_ws(in);
    if (*in->p != '"')
        return json_fail(in, "expected a string");
    in->p++;
    for (;;) {
        int c = (unsigned char)*in->p;

        if (!c)
            return json_fail(in, "unterminated string");
        if (c < 0x20)
            return json_fail(in, "control character in string");
        in->p++;
        if (c == '"')
            break;
        if (c == '\\') {
            int e = *in->p++;
            switch (e) {
            case '"': case '\\': case '/': c = e; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                int v = 0;
                for (int i = 0; i < 4; i++) {
                    int h = *in->p++, d;
                    if (h >= '0' && h <= '9')      d = h - '0';
                    else if (h >= 'a' && h <= 'f') d = h - 'a' + 10;
                    else if (h >= 'A' && h <= 'F') d = h - 'A' + 10;
                    else { in->p--; return json_fail(in, "bad \\u escape"); }
                    v = v * 16 + d;
                }
                if (v < 0x20 || v > 0x7e)
                    return json_fail(in, "\\u escape outside printable ASCII");
                c = v;
                break;
            }
            default:
                in->p--;
                return json_fail(in, "bad escape");
            }
        }
        if (n + 1 >= size)
            return json_fail(in, "string too long");
        buf[n++] = c;
    }
    buf[n] = 0;
    return 0;
}

/* Peeks the next non-blank character. */
static int json_peek(JsonIn *in)
{
    json_ws(in);
    return *in->p;
}

void nab_windows_json_free(NabJsonWindows *w)
{
    for (int i = 0; i < w->nb_files; i++) {
        av_freep(&w->names[i]);
        av_freep(&w->start[i]);
        av_freep(&w->end[i]);
    }
    av_freep(&w->names);
    av_freep(&w->start);
    av_freep(&w->end);
    av_freep(&w->nb_windows);
    w->nb_files = 0;
}

static int json_grow(NabJsonWindows *w)
{
    int n = w->nb_files + 1;

    if (av_reallocp_array(&w->names, n, sizeof(*w->names)) < 0 ||
        av_reallocp_array(&w->start, n, sizeof(*w->start)) < 0 ||
        av_reallocp_array(&w->end, n, sizeof(*w->end)) < 0 ||
        av_reallocp_array(&w->nb_windows, n, sizeof(*w->nb_windows)) < 0)
        return AVERROR(ENOMEM);
    w->names[n - 1] = NULL;
    w->start[n - 1] = w->end[n - 1] = NULL;
    w->nb_windows[n - 1] = 0;
    w->nb_files = n;
    return 0;
}

static int json_window(JsonIn *in, NabJsonWindows *w, int k)
{
    char ts[2][64];
    int64_t t[2];
    int ret, n = w->nb_windows[k];

    if ((ret = json_expect(in, '[')) < 0)
        return ret;
    for (int j = 0; j < 2; j++) {
        if (j && (ret = json_expect(in, ',')) < 0)
            return ret;
        if ((ret = json_string(in, ts[j], sizeof(ts[j]))) < 0)
            return ret;
        if (nab_parse_time(ts[j], strlen(ts[j]), &t[j]) < 0)
            return json_fail(in, "not a time stamp YYYY-MM-DD HH:MM:SS[.000000]");
    }
    if ((ret = json_expect(in, ']')) < 0)
        return ret;
    if (t[1] < t[0])
        return json_fail(in, "window ends before it starts");
    if (n && t[0] <= w->end[k][n - 1])
        return json_fail(in, "window overlaps or precedes the previous one");
    if (av_reallocp_array(&w->start[k], n + 1, sizeof(int64_t)) < 0 ||
        av_reallocp_array(&w->end[k], n + 1, sizeof(int64_t)) < 0)
        return AVERROR(ENOMEM);
    w->start[k][n] = t[0];
    w->end[k][n] = t[1];
    w->nb_windows[k] = n + 1;
    return 0;
}

int nab_windows_json_parse(const char *text, NabJsonWindows *w, char *err, int errlen)
{
    JsonIn in = { .s = text, .p = text, .err = err, .errlen = errlen };
    char name[1024];
    int ret;

    memset(w, 0, sizeof(*w));
    if ((ret = json_expect(&in, '{')) < 0)
        goto fail;
    if (json_peek(&in) == '}') {
        in.p++;
        goto end;
    }
    for (;;) {
        int k;

        if ((ret = json_string(&in, name, sizeof(name))) < 0)
            goto fail;
        for (k = 0; k < w->nb_files; k++)
            if (!strcmp(w->names[k], name))
                break;
        if (k < w->nb_files) {
            ret = json_fail(&in, "file listed twice");
            goto fail;
        }
        if ((ret = json_grow(w)) < 0)
            goto fail;
        if (!(w->names[k] = av_strdup(name))) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        if ((ret = json_expect(&in, ':')) < 0 || (ret = json_expect(&in, '[')) < 0)
            goto fail;
        if (json_peek(&in) == ']') {
            in.p++;
        } else {
            for (;;) {
                if ((ret = json_window(&in, w, k)) < 0)
                    goto fail;
                if (json_peek(&in) == ',') {
                    in.p++;
                    continue;
                }
                if ((ret = json_expect(&in, ']')) < 0)
                    goto fail;
                break;
            }
        }
        if (json_peek(&in) == ',') {
            in.p++;
            continue;
        }
        if ((ret = json_expect(&in, '}')) < 0)
            goto fail;
        break;
    }
end:
    if (json_peek(&in)) {
        ret = json_fail(&in, "text after the end of the object");
        goto fail;
    }
    return 0;
fail:
    nab_windows_json_free(w);
    return ret;
}

/* ---- corpus ------------------------------------------------------------------ */

/* Reads a whole file, NUL-terminated. */
static int read_text(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int ret = 0;

    if (!f)
        return AVERROR(errno);
    for (;;) {
        size_t got;
        if (cap - n < 65536) {
            cap = cap ? cap * 2 : 1 << 20;
            if ((ret = av_reallocp(&buf, cap + 1)) < 0)
                goto end;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        ret = AVERROR(EIO);
end:
    fclose(f);
    if (ret < 0) {
        av_free(buf);
        return ret;
    }
    buf[n] = 0;
    if (memchr(buf, 0, n)) {
        av_free(buf);
        return AVERROR_INVALIDDATA;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int load_csv(NabFile *f, const char *path, void *logctx)
{
    char *text = NULL, *p, *line_end;
    size_t len;
    int ret, line = 1, cap = 0;

    if ((ret = read_text(path, &text, &len)) < 0) {
        av_log(logctx, AV_LOG_ERROR, "%s: cannot read: %s\n", path, av_err2str(ret));
        return ret;
    }
    p = text;
    line_end = strchr(p, '\n');
    if (!line_end || strncmp(p, "timestamp,value", 15) ||
        (line_end - p != 15 && !(line_end - p == 16 && p[15] == '\r'))) {
        av_log(logctx, AV_LOG_ERROR, "%s:1: expected the header 'timestamp,value'\n", path);
        ret = AVERROR_INVALIDDATA;
        goto end;
    }
    p = line_end + 1;
    while (*p) {
        char *comma, *end;
        int64_t t;
        double v;
        int l;

        line++;
        line_end = strchr(p, '\n');
        if (!line_end)
            line_end = p + strlen(p);
        l = line_end - p;
        if (l && p[l - 1] == '\r')
            l--;
        if (!l) {           /* blank line: only allowed at the end */
            p = *line_end ? line_end + 1 : line_end;
            if (*p) {
                av_log(logctx, AV_LOG_ERROR, "%s:%d: blank line inside the data\n", path, line);
                ret = AVERROR_INVALIDDATA;
                goto end;
            }
            break;
        }
        comma = memchr(p, ',', l);
        if (!comma || nab_parse_time(p, comma - p, &t) < 0) {
            av_log(logctx, AV_LOG_ERROR, "%s:%d: expected 'YYYY-MM-DD HH:MM:SS,value'\n", path, line);
            ret = AVERROR_INVALIDDATA;
            goto end;
        }
        errno = 0;
        v = strtod(comma + 1, &end);
        if (end == comma + 1 || end != p + l || errno || !isfinite(v)) {
            av_log(logctx, AV_LOG_ERROR, "%s:%d: the value is not a finite number\n", path, line);
            ret = AVERROR_INVALIDDATA;
            goto end;
        }
        if (f->nb_rows == cap) {
            cap = cap ? cap * 2 : 4096;
            if ((ret = av_reallocp_array(&f->ts, cap, sizeof(*f->ts))) < 0 ||
                (ret = av_reallocp_array(&f->value, cap, sizeof(*f->value))) < 0)
                goto end;
        }
        f->ts[f->nb_rows] = t;
        f->value[f->nb_rows] = v;
        f->nb_rows++;
        p = *line_end ? line_end + 1 : line_end;
    }
    if (!f->nb_rows) {
        av_log(logctx, AV_LOG_ERROR, "%s: no data rows\n", path);
        ret = AVERROR_INVALIDDATA;
    }
end:
    av_free(text);
    return ret;
}

/* Index of the first row stamped t, or -1. A linear search on purpose: a few
 * NAB files repeat time stamps or step back an hour (clock changes), and NAB
 * takes the first row with the window's stamp (list.index). */
static int find_row(const NabFile *f, int64_t t)
{
    for (int i = 0; i < f->nb_rows; i++)
        if (f->ts[i] == t)
            return i;
    return -1;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void nab_corpus_free(NabCorpus **pc)
{
    NabCorpus *c = *pc;

    if (!c)
        return;
    for (int i = 0; i < c->nb_files; i++) {
        av_freep(&c->files[i].name);
        av_freep(&c->files[i].ts);
        av_freep(&c->files[i].value);
        av_freep(&c->files[i].windows);
    }
    av_freep(&c->files);
    av_freep(pc);
}

int nab_corpus_load(const char *root, NabCorpus **pc, void *logctx)
{
    NabJsonWindows jw = { 0 };
    NabCorpus *c = NULL;
    char *text = NULL, *path = NULL, err[256];
    int *order = NULL, ret;
    size_t len;

    *pc = NULL;
    if (!(path = av_asprintf("%s/labels/combined_windows.json", root)))
        return AVERROR(ENOMEM);
    if ((ret = read_text(path, &text, &len)) < 0) {
        av_log(logctx, AV_LOG_ERROR, "%s: cannot read: %s\n"
               "HINT: DIR must be an NAB root holding data/ and labels/combined_windows.json\n",
               path, av_err2str(ret));
        goto fail;
    }
    if ((ret = nab_windows_json_parse(text, &jw, err, sizeof(err))) < 0) {
        av_log(logctx, AV_LOG_ERROR, "%s: %s\n", path, err);
        goto fail;
    }
    if (!jw.nb_files) {
        av_log(logctx, AV_LOG_ERROR, "%s: lists no files\n", path);
        ret = AVERROR_INVALIDDATA;
        goto fail;
    }
    if (!(c = av_mallocz(sizeof(*c))) ||
        !(c->files = av_calloc(jw.nb_files, sizeof(*c->files))) ||
        !(order = av_malloc_array(jw.nb_files, sizeof(*order)))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    /* sorted by name, so that the output does not depend on the JSON order */
    {
        char **sorted = av_malloc_array(jw.nb_files, sizeof(*sorted));
        if (!sorted) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        memcpy(sorted, jw.names, jw.nb_files * sizeof(*sorted));
        qsort(sorted, jw.nb_files, sizeof(*sorted), cmp_names);
        for (int i = 0; i < jw.nb_files; i++)
            for (int k = 0; k < jw.nb_files; k++)
                if (sorted[i] == jw.names[k])
                    order[i] = k;
        av_free(sorted);
    }
    for (int i = 0; i < jw.nb_files; i++) {
        int k = order[i];
        NabFile *f = &c->files[i];

        c->nb_files = i + 1;
        if (!(f->name = av_strdup(jw.names[k]))) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        if (strstr(f->name, "..") || f->name[0] == '/') {
            av_log(logctx, AV_LOG_ERROR, "%s: '%s' is not a path inside data/\n", path, f->name);
            ret = AVERROR_INVALIDDATA;
            goto fail;
        }
        av_freep(&path);
        if (!(path = av_asprintf("%s/data/%s", root, f->name))) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        if ((ret = load_csv(f, path, logctx)) < 0)
            goto fail;
        f->probation = (int)fmin(floor(0.15 * f->nb_rows), 0.15 * 5000);
        if (jw.nb_windows[k] &&
            !(f->windows = av_calloc(jw.nb_windows[k], sizeof(*f->windows)))) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        for (int w = 0; w < jw.nb_windows[k]; w++) {
            char a[NAB_TIME_SIZE], b[NAB_TIME_SIZE];
            NabWindow *win = &f->windows[w];

            win->start = find_row(f, jw.start[k][w]);
            win->end = find_row(f, jw.end[k][w]);
            if (win->start < 0 || win->end < 0) {
                nab_format_time(jw.start[k][w], a);
                nab_format_time(jw.end[k][w], b);
                av_log(logctx, AV_LOG_ERROR, "%s: window [%s, %s]: %s is not a row's time stamp\n",
                       path, a, b, win->start < 0 ? a : b);
                ret = AVERROR_INVALIDDATA;
                goto fail;
            }
            if (win->end < win->start ||
                (w && win->start <= f->windows[w - 1].end)) {
                av_log(logctx, AV_LOG_ERROR, "%s: window %d: rows %d..%d are not after the "
                       "previous window\n", path, w, win->start, win->end);
                ret = AVERROR_INVALIDDATA;
                goto fail;
            }
            if (win->start < f->probation) {
                av_log(logctx, AV_LOG_ERROR, "%s: window %d starts at row %d, inside the "
                       "probation period (%d rows)\n", path, w, win->start, f->probation);
                ret = AVERROR_INVALIDDATA;
                goto fail;
            }
            f->nb_windows++;
        }
        c->nb_windows += f->nb_windows;
        c->nb_rows += f->nb_rows;
    }
    *pc = c;
    c = NULL;
fail:
    av_free(order);
    av_free(path);
    av_free(text);
    nab_windows_json_free(&jw);
    nab_corpus_free(&c);
    return ret;
}

/* ---- scoring ------------------------------------------------------------------ */

double nab_round_score(double s)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%.12g", s);
    return strtod(buf, NULL);
}

double nab_scaled_sigmoid(double x)
{
    if (x >= 3.0)
        return -1.0;
    return 2.0 / (1.0 + exp(5.0 * x)) - 1.0;
}

/* Per-row weighted scores and window membership (win[i] = window index or
 * -1; may be NULL). */
static void row_scores(const NabFile *f, const NabProfile *p, double *out, int *win)
{
    const double max_tp = nab_scaled_sigmoid(-1.0);
    int next = 0, cur = -1, prev = -1;

    for (int i = 0; i < f->nb_rows; i++) {
        if (cur < 0 && next < f->nb_windows && i == f->windows[next].start)
            cur = next++;
        if (cur >= 0) {
            const NabWindow *w = &f->windows[cur];
            double width = w->end - w->start + 1;
            out[i] = p->tp * nab_scaled_sigmoid(-(w->end - i + 1) / width) / max_tp;
        } else if (prev < 0) {
            out[i] = p->fp * nab_scaled_sigmoid(3.0);
        } else {
            const NabWindow *w = &f->windows[prev];
            /* a one-row window divides by zero in NAB too; call it far */
            double den = w->end - w->start;
            out[i] = p->fp * nab_scaled_sigmoid(den > 0 ? fabs((double)(i - w->end)) / den : 3.0);
        }
        if (win)
            win[i] = cur;
        if (cur >= 0 && i == f->windows[cur].end) {
            prev = cur;
            cur = -1;
        }
    }
}

void nab_row_scores(const NabFile *f, const NabProfile *p, double *out)
{
    row_scores(f, p, out, NULL);
}

double nab_file_raw(const NabFile *f, const double *score, const NabProfile *p,
                    double threshold, int *tp, int *fp, int *fn)
{
    const double max_tp = nab_scaled_sigmoid(-1.0);
    double raw = 0;
    int ntp = 0, nfp = 0, nfn = 0, next = 0, cur = -1, prev = -1;
    double wbest = 0;
    int wdet = 0;

    /* the same walk as row_scores, without storing: no allocation here */
    for (int i = 0; i < f->nb_rows; i++) {
        double s;

        if (cur < 0 && next < f->nb_windows && i == f->windows[next].start) {
            cur = next++;
            wdet = 0;
            wbest = -p->fn;
        }
        if (cur >= 0) {
            const NabWindow *w = &f->windows[cur];
            s = p->tp * nab_scaled_sigmoid(-(w->end - i + 1) / (double)(w->end - w->start + 1)) / max_tp;
        } else if (prev < 0) {
            s = -p->fp;
        } else {
            const NabWindow *w = &f->windows[prev];
            double den = w->end - w->start;
            s = p->fp * nab_scaled_sigmoid(den > 0 ? fabs((double)(i - w->end)) / den : 3.0);
        }
        if (i >= f->probation && score[i] >= threshold) {
            if (cur >= 0) {
                wdet = 1;
                wbest = FFMAX(wbest, s);
            } else {
                raw += s;
                nfp++;
            }
        }
        if (cur >= 0 && i == f->windows[cur].end) {
            raw += wbest;
            ntp += wdet;
            nfn += !wdet;
            prev = cur;
            cur = -1;
        }
    }
    if (tp) *tp = ntp;
    if (fp) *fp = nfp;
    if (fn) *fn = nfn;
    return raw;
}

typedef struct SweepRow {
    double score;
    double sweep;                /* the row's weighted score */
    int window;                  /* corpus-wide window index, -1 outside */
    int order;                   /* position in the corpus, breaks ties */
} SweepRow;

static int cmp_sweep(const void *a, const void *b)
{
    const SweepRow *x = a, *y = b;

    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->order - y->order;
}

int nab_score(const NabCorpus *c, const double *const *scores, const NabProfile *p,
              NabResult *res)
{
    SweepRow *rows = NULL;
    double *wmax = NULL, *rs = NULL, raw, cur_t, best_t, best_raw;
    int *win = NULL, n = 0, wbase = 0, ret = 0, max_rows = 0;

    for (int f = 0; f < c->nb_files; f++)
        max_rows = FFMAX(max_rows, c->files[f].nb_rows);
    if (!(rows = av_malloc_array(c->nb_rows, sizeof(*rows))) ||
        !(wmax = av_malloc_array(FFMAX(c->nb_windows, 1), sizeof(*wmax))) ||
        !(rs = av_malloc_array(max_rows, sizeof(*rs))) ||
        !(win = av_malloc_array(max_rows, sizeof(*win)))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    for (int f = 0; f < c->nb_files; f++) {
        const NabFile *nf = &c->files[f];

        row_scores(nf, p, rs, win);
        for (int i = 0; i < nf->nb_rows; i++) {
            double s = scores[f][i];
            if (!(s >= 0.0 && s <= 1.0)) {   /* NaN fails too */
                ret = AVERROR(EINVAL);
                goto end;
            }
            if (i < nf->probation)
                continue;
            rows[n].score = s;
            rows[n].sweep = rs[i];
            rows[n].window = win[i] >= 0 ? wbase + win[i] : -1;
            rows[n].order = n;
            n++;
        }
        wbase += nf->nb_windows;
    }
    qsort(rows, n, sizeof(*rows), cmp_sweep);

    for (int w = 0; w < c->nb_windows; w++)
        wmax[w] = -p->fn;
    raw = -p->fn * c->nb_windows;
    cur_t = best_t = 1.1;
    best_raw = raw;
    for (int i = 0; i < n; i++) {
        const SweepRow *r = &rows[i];

        if (r->score != cur_t) {
            /* everything with score >= cur_t is detected now */
            if (raw > best_raw) {
                best_raw = raw;
                best_t = cur_t;
            }
            cur_t = r->score;
        }
        if (r->window < 0) {
            raw += r->sweep;
        } else if (r->sweep > wmax[r->window]) {
            raw += r->sweep - wmax[r->window];
            wmax[r->window] = r->sweep;
        }
    }
    if (raw > best_raw) {
        best_raw = raw;
        best_t = cur_t;
    }

    /* re-score each file at that threshold, as NAB's scorer does */
    memset(res, 0, sizeof(*res));
    res->threshold = best_t;
    for (int f = 0; f < c->nb_files; f++) {
        int tp, fp, fn;
        res->raw += nab_file_raw(&c->files[f], scores[f], p, best_t, &tp, &fp, &fn);
        res->tp += tp;
        res->fp += fp;
        res->fn += fn;
    }
    if (c->nb_windows)
        res->score = 100.0 * (res->raw + p->fn * c->nb_windows) /
                     (p->tp * c->nb_windows + p->fn * c->nb_windows);
end:
    av_free(rows);
    av_free(wmax);
    av_free(rs);
    av_free(win);
    return ret;
}

/* ---- Windowed Gaussian ------------------------------------------------------- */

#define WG_WINDOW 6400
#define WG_STEP   100

struct NabGauss {
    double window[WG_WINDOW];    /* oldest first */
    int n;
    double step[WG_STEP];
    int nb_step;
    double mean, std;
};

int nab_gauss_alloc(NabGauss **pg)
{
    NabGauss *g = av_mallocz(sizeof(*g));

    if (!(*pg = g))
        return AVERROR(ENOMEM);
    g->mean = 0;
    g->std = 1;
    return 0;
}

void nab_gauss_free(NabGauss **pg)
{
    av_freep(pg);
}

/* numpy's mean and std (population, two-pass) */
static void gauss_window(NabGauss *g)
{
    double sum = 0, var = 0;

    for (int i = 0; i < g->n; i++)
        sum += g->window[i];
    g->mean = sum / g->n;
    for (int i = 0; i < g->n; i++)
        var += (g->window[i] - g->mean) * (g->window[i] - g->mean);
    g->std = sqrt(var / g->n);
    if (g->std == 0.0)
        g->std = 0.000001;
}

double nab_gauss_update(NabGauss *g, double x)
{
    double score = 0.0;

    if (g->n > 0) {
        /* Q of the distance from the mean, mirrored below it, as NAB does */
        double xp = x < g->mean ? 2 * g->mean - x : x;
        double z = (xp - g->mean) / g->std;
        score = 1.0 - 0.5 * erfc(z / sqrt(2.0));
    }
    if (g->n < WG_WINDOW) {
        g->window[g->n++] = x;
        gauss_window(g);
    } else {
        g->step[g->nb_step++] = x;
        if (g->nb_step == WG_STEP) {
            memmove(g->window, g->window + WG_STEP, (WG_WINDOW - WG_STEP) * sizeof(double));
            memcpy(g->window + WG_WINDOW - WG_STEP, g->step, sizeof(g->step));
            g->nb_step = 0;
            gauss_window(g);
        }
    }
    return score;
}
