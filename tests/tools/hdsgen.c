/*
 * hdsgen: writes synthetic ticks (tests/tools/synth.h) into an HDS, and
 * checks what an HDS or an export holds against the same generator, for
 * the crash and round-trip tests (tests/integration/t_hds_*.sh).
 *
 *   hdsgen write FILE [--comps N] [--ticks N] [--step-us U] [--rate HZ]
 *                     [--raw-window S] [--retention S] [--sync] [--events N]
 *       Continues after the last tick in FILE (tick k is at SYNTH_T0 +
 *       k * step). --sync waits for each tick's commit and then prints
 *       "committed K" (the kill test's witness); --rate paces the ticks
 *       (0: as fast as it goes); --events N puts an event every N ticks.
 *   hdsgen verify FILE [--comps N] [--step-us U] [--min-last K]
 *       PRAGMA integrity_check; the raw ticks form one run of consecutive
 *       ticks whose every value is the generator's; the last is >= K;
 *       every minute rollup equals the generator's n/mean/min/max of that
 *       minute. Prints "ticks A..B, M minutes ok".
 *   hdsgen check-csv CSV [--comps N] [--ticks A..B]
 *       Parses an "hds export" CSV: the header is the catalogue, every row
 *       is one component at one tick and every field (empty: absent) is
 *       the generator's value, exactly; every (tick, component) of A..B is
 *       there once.
 *
 * Exit 0 when all holds, 1 when not (the first difference is printed), 2
 * on usage errors.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "hds/hds.h"
#include "core/log.h"
#include "synth.h"

typedef struct Opts {
    int comps;
    int64_t ticks;
    int64_t step_us;
    double rate;
    int64_t raw_window_s, retention_s;
    int sync;
    int events;
    int64_t min_last;
    int64_t from_tick, to_tick;
} Opts;

static int usage(void)
{
    fprintf(stderr, "usage: hdsgen write|verify FILE [options] | hdsgen check-csv CSV [options]\n");
    return 2;
}

static int parse_opts(int argc, char **argv, Opts *o)
{
    *o = (Opts){ .comps = 50, .ticks = 100, .step_us = 1000000, .raw_window_s = 24 * 3600,
                 .retention_s = 7 * 24 * 3600, .min_last = -1, .from_tick = -1, .to_tick = -1 };
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--sync")) {
            o->sync = 1;
            continue;
        }
        if (!v)
            return -1;
        if (!strcmp(a, "--comps"))            o->comps = atoi(v);
        else if (!strcmp(a, "--ticks"))       {
            if (sscanf(v, "%"SCNd64"..%"SCNd64, &o->from_tick, &o->to_tick) != 2)
                o->ticks = strtoll(v, NULL, 10);
        }
        else if (!strcmp(a, "--step-us"))     o->step_us = strtoll(v, NULL, 10);
        else if (!strcmp(a, "--rate"))        o->rate = atof(v);
        else if (!strcmp(a, "--raw-window"))  o->raw_window_s = strtoll(v, NULL, 10);
        else if (!strcmp(a, "--retention"))   o->retention_s = strtoll(v, NULL, 10);
        else if (!strcmp(a, "--events"))      o->events = atoi(v);
        else if (!strcmp(a, "--min-last"))    o->min_last = strtoll(v, NULL, 10);
        else return -1;
        i++;
    }
    return o->comps > 0 && o->step_us > 0 ? 0 : -1;
}

/* the tick after the last one stored, 0 for a new file */
static int64_t next_tick(const char *path, int64_t step_us)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t next = 0;

    if (access(path, F_OK) < 0 || sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return 0;
    if (sqlite3_prepare_v2(db, "SELECT max(time_us) FROM tick", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            next = (sqlite3_column_int64(st, 0) - SYNTH_T0_US) / step_us + 1;
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return next;
}

static int do_write(const char *path, const Opts *o)
{
    HdsConfig cfg;
    Hds *h = NULL;
    Sample s = { 0 };
    Synth sy;
    int64_t t0 = next_tick(path, o->step_us), start = av_gettime_relative();
    int ret;

    synth_init(&sy, o->comps, 1);
    hds_config_init(&cfg);
    cfg.path = path;
    cfg.raw_window_us = o->raw_window_s * 1000000;
    cfg.retention_us = o->retention_s * 1000000;
    cfg.tick_us = o->step_us;
    if ((ret = hds_open(&h, &cfg)) < 0) {
        fprintf(stderr, "hdsgen: %s: %s\n", path, av_err2str(ret));
        return 1;
    }
    printf("start %"PRId64"\n", t0);
    fflush(stdout);
    for (int64_t k = 0; !o->ticks || k < o->ticks; k++) {
        int64_t t = t0 + k, time_us = SYNTH_T0_US + t * o->step_us;

        if (synth_build(&sy, &s, t, time_us) < 0 || hds_put_sample(h, &s) < 0) {
            fprintf(stderr, "hdsgen: out of memory\n");
            break;
        }
        if (o->events && t % o->events == 0) {
            char cause[64];
            Event ev = { .time_us = time_us, .stream = "s0000", .component = "enc:720p",
                         .kind = t % (2 * o->events) ? EV_START : EV_FAILURE,
                         .cause = cause, .error = t % (2 * o->events) ? 0 : AVERROR(EIO) };
            snprintf(cause, sizeof(cause), "synthetic event at tick %"PRId64, t);
            hds_put_event(h, &ev);
        }
        if (o->sync) {
            if (hds_flush(h, 10 * 1000000) < 0) {
                fprintf(stderr, "hdsgen: tick %"PRId64" not written within 10 s\n", t);
                break;
            }
            printf("committed %"PRId64"\n", t);
            fflush(stdout);
        }
        if (o->rate > 0) {
            int64_t due = start + (int64_t)((k + 1) * 1e6 / o->rate), now = av_gettime_relative();
            if (due > now)
                av_usleep((unsigned)(due - now));
        }
    }
    hds_close(&h);
    sample_free(&s);
    return 0;
}

/* ---- verify ------------------------------------------------------------------ */

typedef struct Verify {
    Synth sy;
    const Opts *o;
    Sample s;                     /* the generator's tick being compared */
    int64_t first, last, cur;     /* ticks seen */
    int64_t rows;
    int bad;
    /* minute check */
    int64_t minutes;
} Verify;

static int same(double a, double b)
{
    return a == b || (a != a && b != b);
}

static int verify_sample(void *opaque, const HdsTick *t, const SampleComp *c)
{
    Verify *v = opaque;
    int i = synth_index(&v->sy, c->kind, c->stream, c->name, c->backup);
    const SampleComp *w;

    if (t->tick != v->cur) {
        if (v->cur >= 0 && t->tick != v->cur + 1) {
            printf("gap: tick %"PRId64" follows %"PRId64"\n", t->tick, v->cur);
            v->bad = 1;
            return -1;
        }
        if (v->first < 0)
            v->first = t->tick;
        v->cur = v->last = t->tick;
        if (t->time_us != SYNTH_T0_US + t->tick * v->o->step_us) {
            printf("tick %"PRId64": time %"PRId64"\n", t->tick, t->time_us);
            v->bad = 1;
            return -1;
        }
        synth_build(&v->sy, &v->s, t->tick, t->time_us);
    }
    if (i < 0) {
        printf("tick %"PRId64": unknown component %s/%s\n", t->tick, c->stream, c->name);
        v->bad = 1;
        return -1;
    }
    w = &v->s.comps[i];
    if (w->present != c->present) {
        printf("tick %"PRId64" %s/%s: present %#x, want %#x\n", t->tick, c->stream, c->name,
               c->present, w->present);
        v->bad = 1;
        return -1;
    }
    for (int m = 0; m < sample_kinds[c->kind].nb_metrics; m++)
        if (sample_has(c, m) && !same(c->v[m], w->v[m])) {
            printf("tick %"PRId64" %s/%s %s: %.17g, want %.17g\n", t->tick, c->stream, c->name,
                   sample_kinds[c->kind].metrics[m].name, c->v[m], w->v[m]);
            v->bad = 1;
            return -1;
        }
    v->rows++;
    return 0;
}

static int verify_minute(void *opaque, int64_t minute_us, const SampleComp *c, const HdsMinuteStat *st)
{
    Verify *v = opaque;
    int i = synth_index(&v->sy, c->kind, c->stream, c->name, c->backup);
    int64_t k0 = (minute_us - SYNTH_T0_US + v->o->step_us - 1) / v->o->step_us;
    int64_t k1 = (minute_us + 60000000 - SYNTH_T0_US + v->o->step_us - 1) / v->o->step_us;
    HdsMinuteStat want[SAMPLE_MAX_METRICS] = { { 0 } };
    double sum[SAMPLE_MAX_METRICS] = { 0 };
    SampleComp w;

    if (i < 0) {
        printf("minute %"PRId64": unknown component %s/%s\n", minute_us, c->stream, c->name);
        v->bad = 1;
        return -1;
    }
    w.kind = c->kind;
    for (int64_t k = FFMAX(k0, 0); k < k1; k++) {
        synth_values(&v->sy, i, k, &w);
        for (int m = 0; m < sample_kinds[c->kind].nb_metrics; m++) {
            HdsMinuteStat *ms = &want[m];
            double x = w.v[m];
            if (!sample_has(&w, m))
                continue;
            if (!ms->n || x < ms->min)
                ms->min = x;
            if (!ms->n || x > ms->max)
                ms->max = x;
            sum[m] += x;
            ms->n++;
        }
    }
    for (int m = 0; m < sample_kinds[c->kind].nb_metrics; m++) {
        int have = (c->present >> m) & 1;
        if (have != (want[m].n > 0) || (have && (st[m].n != want[m].n || st[m].min != want[m].min ||
                                                 st[m].max != want[m].max ||
                                                 st[m].mean != sum[m] / want[m].n))) {
            printf("minute %"PRId64" %s/%s %s: n %"PRId64" mean %.17g min %.17g max %.17g, "
                   "want n %"PRId64" mean %.17g min %.17g max %.17g\n", minute_us, c->stream, c->name,
                   sample_kinds[c->kind].metrics[m].name, st[m].n, st[m].mean, st[m].min, st[m].max,
                   want[m].n, want[m].n ? sum[m] / want[m].n : 0, want[m].min, want[m].max);
            v->bad = 1;
            return -1;
        }
    }
    v->minutes++;
    return 0;
}

static int do_verify(const char *path, const Opts *o)
{
    Verify v = { .o = o, .first = -1, .last = -1, .cur = -1 };
    HdsFilter f = { 0 };
    HdsReader *r;
    sqlite3 *db;
    sqlite3_stmt *st;
    char err[256];
    int ret, ok = 0;

    /* integrity first, on a connection of its own */
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        printf("%s: cannot open\n", path);
        return 1;
    }
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK) {
        ok = sqlite3_step(st) == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
        if (!ok)
            printf("integrity_check: %s\n", sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    if (!ok)
        return 1;
    printf("integrity_check ok\n");

    if ((ret = hds_reader_open(&r, path, err, sizeof(err))) < 0) {
        printf("%s: %s\n", path, err);
        return 1;
    }
    synth_init(&v.sy, o->comps, 1);
    ret = hds_reader_samples(r, &f, verify_sample, &v);
    if (ret >= 0 && !v.bad && v.rows != (v.last - v.first + 1) * synth_nb_comps(&v.sy)) {
        printf("%"PRId64" component-ticks for ticks %"PRId64"..%"PRId64", want %"PRId64"\n", v.rows,
               v.first, v.last, (v.last - v.first + 1) * synth_nb_comps(&v.sy));
        v.bad = 1;
    }
    if (ret >= 0 && !v.bad)
        ret = hds_reader_minutes(r, &f, verify_minute, &v);
    hds_reader_close(&r);
    sample_free(&v.s);
    if (ret < 0 && !v.bad)
        printf("read: %s\n", av_err2str(ret));
    if (ret < 0 || v.bad)
        return 1;
    if (v.last < o->min_last) {
        printf("last tick %"PRId64" < %"PRId64" (committed)\n", v.last, o->min_last);
        return 1;
    }
    printf("ticks %"PRId64"..%"PRId64", %"PRId64" minutes ok\n", v.first, v.last, v.minutes);
    return 0;
}

/* ---- check-csv ---------------------------------------------------------------- */

#define CSV_MAX_COLS 256

/* splits a line of unquoted fields (ours have no commas) in place */
static int split(char *line, char **f, int max)
{
    int n = 0;

    line[strcspn(line, "\r\n")] = 0;
    for (char *p = line; n < max; ) {
        f[n++] = p;
        p = strchr(p, ',');
        if (!p)
            break;
        *p++ = 0;
    }
    return n;
}

static int do_check_csv(const char *path, const Opts *o)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL, *f[CSV_MAX_COLS];
    size_t cap = 0;
    int col_kind[CSV_MAX_COLS], col_metric[CSV_MAX_COLS], nb_cols, bad = 0;
    int64_t rows = 0, ntick;
    uint8_t *seen;
    Synth sy;
    Sample s = { 0 };
    int64_t cur = -1;

    if (!fp) {
        printf("%s: %s\n", path, strerror(errno));
        return 1;
    }
    synth_init(&sy, o->comps, 1);
    ntick = o->to_tick - o->from_tick + 1;
    seen = av_mallocz(ntick * synth_nb_comps(&sy));
    if (!seen || getline(&line, &cap, fp) < 0) {
        printf("%s: empty\n", path);
        return 1;
    }
    nb_cols = split(line, f, CSV_MAX_COLS);
    if (nb_cols < 6 || strcmp(f[0], "time") || strcmp(f[1], "tick") || strcmp(f[2], "stream") ||
        strcmp(f[3], "kind") || strcmp(f[4], "name") || strcmp(f[5], "role")) {
        printf("header: %s,%s,...\n", f[0], nb_cols > 1 ? f[1] : "");
        return 1;
    }
    /* every metric of the catalogue, in catalogue order */
    {
        int c = 6;
        for (int k = 0; k < COMP_NB_KINDS; k++)
            for (int m = 0; m < sample_kinds[k].nb_metrics; m++, c++) {
                if (c >= nb_cols || strcmp(f[c], sample_kinds[k].metrics[m].name)) {
                    printf("header column %d: %s, want %s\n", c, c < nb_cols ? f[c] : "(none)",
                           sample_kinds[k].metrics[m].name);
                    return 1;
                }
                col_kind[c] = k;
                col_metric[c] = m;
            }
        if (c != nb_cols) {
            printf("header: %d columns, want %d\n", nb_cols, c);
            return 1;
        }
    }
    while (!bad && getline(&line, &cap, fp) >= 0) {
        int n = split(line, f, CSV_MAX_COLS), i, kind, backup;
        int64_t tick;
        const SampleComp *w;

        if (n != nb_cols) {
            printf("row %"PRId64": %d fields\n", rows + 1, n);
            bad = 1;
            break;
        }
        tick = strtoll(f[1], NULL, 10);
        kind = sample_kind_by_name(f[3]);
        backup = !strcmp(f[5], "primary") ? 0 : !strncmp(f[5], "backup", 6) ? FFMAX(atoi(f[5] + 6), 1) : -1;
        i = kind < 0 ? -1 : synth_index(&sy, kind, f[2], f[4], backup);
        if (i < 0 || tick < o->from_tick || tick > o->to_tick) {
            printf("row %"PRId64": tick %s %s/%s/%s/%s not expected\n", rows + 1, f[1], f[2], f[3], f[4], f[5]);
            bad = 1;
            break;
        }
        if (seen[(tick - o->from_tick) * synth_nb_comps(&sy) + i]++) {
            printf("row %"PRId64": tick %s %s/%s twice\n", rows + 1, f[1], f[2], f[4]);
            bad = 1;
            break;
        }
        if (tick != cur) {
            synth_build(&sy, &s, tick, SYNTH_T0_US + tick * o->step_us);
            cur = tick;
        }
        w = &s.comps[i];
        for (int c = 6; c < nb_cols; c++) {
            int mine = col_kind[c] == kind && sample_has(w, col_metric[c]);
            char *end;
            double x;
            if (!*f[c] && !mine)
                continue;
            x = strtod(f[c], &end);
            if (!mine || !*f[c] || *end || !same(x, w->v[col_metric[c]])) {
                printf("row %"PRId64" tick %s %s/%s %s: '%s', want %s%.17g\n", rows + 1, f[1], f[2],
                       f[4], sample_kinds[col_kind[c]].metrics[col_metric[c]].name, f[c],
                       mine ? "" : "(absent) ", mine ? w->v[col_metric[c]] : 0.0);
                bad = 1;
                break;
            }
        }
        rows++;
    }
    if (!bad && rows != ntick * synth_nb_comps(&sy)) {
        printf("%"PRId64" rows, want %"PRId64"\n", rows, ntick * synth_nb_comps(&sy));
        bad = 1;
    }
    if (!bad)
        printf("%"PRId64" rows ok\n", rows);
    free(line);
    fclose(fp);
    av_free(seen);
    sample_free(&s);
    return bad;
}

int main(int argc, char **argv)
{
    Opts o;

    log_init(AV_LOG_WARNING);
    if (argc < 3 || parse_opts(argc - 3, argv + 3, &o) < 0)
        return usage();
    if (!strcmp(argv[1], "write"))
        return do_write(argv[2], &o);
    if (!strcmp(argv[1], "verify"))
        return do_verify(argv[2], &o);
    if (!strcmp(argv[1], "check-csv") && o.from_tick >= 0 && o.to_tick >= o.from_tick)
        return do_check_csv(argv[2], &o);
    return usage();
}
