/*
 * cmd_hds.c: "hotspare hds stats|export|baseline FILE": what a historical
 * data store holds, its samples and events as CSV for training elsewhere,
 * and its baselines as a table. Reads only; a store being written by a
 * running supervisor can be read meanwhile (WAL).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/error.h>

#include "cli/cmd.h"
#include "core/comp.h"
#include "hds/hds.h"

/* ---- time: "1700000000[.5]", "2023-11-14T22:13:20[.5][Z]" (UTC) ---------- */

static int parse_time(const char *s, int64_t *us)
{
    struct tm tm = { 0 };
    double frac = 0;
    const char *p;
    char *end;

    if (strspn(s, "0123456789.") == strlen(s) && *s) {
        double v = strtod(s, &end);
        if (*end)
            return -1;
        *us = (int64_t)(v * 1e6 + (v >= 0 ? 0.5 : -0.5));
        return 0;
    }
    p = strptime(s, "%Y-%m-%d", &tm);
    if (!p)
        return -1;
    if (*p == 'T' || *p == ' ') {
        if (!(p = strptime(p + 1, "%H:%M:%S", &tm)))
            return -1;
        if (*p == '.') {
            frac = strtod(p, &end);
            p = end;
        }
    }
    if (*p == 'Z')
        p++;
    if (*p)
        return -1;
    *us = (int64_t)timegm(&tm) * 1000000 + (int64_t)(frac * 1e6 + 0.5);
    return 0;
}

static void format_time(int64_t us, char *buf, size_t size)
{
    time_t t = (time_t)(us / 1000000 - (us % 1000000 < 0));
    int64_t frac = us - (int64_t)t * 1000000;
    struct tm tm;

    gmtime_r(&t, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
}

static void format_span(int64_t us, char *buf, size_t size)
{
    int64_t s = us / 1000000;

    if (s >= 86400)
        snprintf(buf, size, "%"PRId64"d %"PRId64"h %"PRId64"m", s / 86400, s % 86400 / 3600, s % 3600 / 60);
    else if (s >= 3600)
        snprintf(buf, size, "%"PRId64"h %"PRId64"m %"PRId64"s", s / 3600, s % 3600 / 60, s % 60);
    else
        snprintf(buf, size, "%"PRId64"m %"PRId64"s", s / 60, s % 60);
}

/* Opens FILE for reading, or reports why not (exit status 2). */
static int open_file(const char *path, HdsReader **r)
{
    char err[300];

    if (hds_reader_open(r, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "hotspare hds: %s: %s\n", path, err);
        return HS_EXIT_USAGE;
    }
    return HS_EXIT_OK;
}

/* ---- stats ------------------------------------------------------------------ */

static void print_size(const char *label, int64_t bytes)
{
    printf("%-12s %.1f MB (%"PRId64" bytes)\n", label, bytes / 1e6, bytes);
}

static int do_stats(HdsReader *r, const char *path)
{
    HdsFileStats st;
    char a[64], b[64], span[40];

    hds_reader_stats(r, &st);
    printf("%-12s %s (HDS schema %d)\n", "file", path, st.schema_version);
    print_size("size", st.file_bytes);
    if (st.wal_bytes)
        print_size("wal", st.wal_bytes);
    printf("%-12s %"PRId64"\n", "runs", st.runs);
    if (st.ticks) {
        format_time(st.first_time_us, a, sizeof(a));
        format_time(st.last_time_us, b, sizeof(b));
        format_span(st.last_time_us - st.first_time_us, span, sizeof(span));
        printf("%-12s %"PRId64" raw, %s .. %s (%s)\n", "ticks", st.ticks, a, b, span);
    } else {
        printf("%-12s 0 raw\n", "ticks");
    }
    if (st.minutes) {
        format_time(st.first_minute_us, a, sizeof(a));
        format_time(st.last_minute_us, b, sizeof(b));
        printf("%-12s %"PRId64" rolled up, %s .. %s\n", "minutes", st.minutes, a, b);
    } else {
        printf("%-12s 0 rolled up\n", "minutes");
    }
    printf("%-12s %"PRId64" with hourly statistics\n", "hours", st.hours);
    printf("%-12s %"PRId64" in %"PRId64" stream%s (and the host)\n", "components", st.components,
           st.streams, st.streams == 1 ? "" : "s");
    printf("%-12s %"PRId64"\n", "baselines", st.baselines);
    printf("%-12s", "events");
    if (!st.nb_event_kinds)
        printf(" none");
    for (int i = 0; i < st.nb_event_kinds; i++)
        printf(" %s %"PRId64"%s", st.events[i].kind, st.events[i].count,
               i + 1 < st.nb_event_kinds ? "," : "");
    printf("\n%-12s", "rows");
    for (int i = 0; i < st.nb_tables; i++)
        printf(" %s %"PRId64"%s", st.tables[i].table, st.tables[i].rows, i + 1 < st.nb_tables ? "," : "");
    printf("\n");
    return HS_EXIT_OK;
}

/* ---- export ------------------------------------------------------------------- */

typedef struct Export {
    FILE *out;
} Export;

/* a CSV field: quoted when it holds a comma, a quote or a line break */
static void csv_field(FILE *f, const char *s)
{
    if (!s[strcspn(s, ",\"\r\n")]) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_value(FILE *f, double v)
{
    char buf[32];

    /* the shortest text that reads back as the same double */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, f);
}

static void csv_identity(FILE *f, const SampleComp *c)
{
    char role[16];

    csv_field(f, c->stream);
    fprintf(f, ",%s,", sample_kinds[c->kind].name);
    csv_field(f, c->name);
    fprintf(f, ",%s", comp_instance_name(c->backup, role, sizeof(role)));
}

static int export_sample(void *opaque, const HdsTick *t, const SampleComp *c)
{
    Export *e = opaque;
    char when[64];

    format_time(t->time_us, when, sizeof(when));
    fprintf(e->out, "%s,%"PRId64",", when, t->tick);
    csv_identity(e->out, c);
    for (int k = 0; k < COMP_NB_KINDS; k++)
        for (int m = 0; m < sample_kinds[k].nb_metrics; m++) {
            fputc(',', e->out);
            if (k == (int)c->kind && sample_has(c, m))
                csv_value(e->out, c->v[m]);
        }
    fputc('\n', e->out);
    return ferror(e->out) ? AVERROR(EIO) : 0;
}

static int export_minute(void *opaque, int64_t minute_us, const SampleComp *c, const HdsMinuteStat *st)
{
    Export *e = opaque;
    char when[64];

    format_time(minute_us, when, sizeof(when));
    fprintf(e->out, "%s,", when);
    csv_identity(e->out, c);
    for (int k = 0; k < COMP_NB_KINDS; k++)
        for (int m = 0; m < sample_kinds[k].nb_metrics; m++) {
            int have = k == (int)c->kind && sample_has(c, m);
            if (!have) {
                fputs(",,,,", e->out);
                continue;
            }
            fprintf(e->out, ",%"PRId64",", st[m].n);
            csv_value(e->out, st[m].mean);
            fputc(',', e->out);
            csv_value(e->out, st[m].min);
            fputc(',', e->out);
            csv_value(e->out, st[m].max);
        }
    fputc('\n', e->out);
    return ferror(e->out) ? AVERROR(EIO) : 0;
}

static int export_event(void *opaque, const HdsEvent *ev)
{
    Export *e = opaque;
    char when[64];

    format_time(ev->time_us, when, sizeof(when));
    fprintf(e->out, "%s,", when);
    csv_field(e->out, ev->stream);
    fputc(',', e->out);
    csv_field(e->out, ev->component);
    fputc(',', e->out);
    csv_field(e->out, ev->kind);
    fputc(',', e->out);
    csv_field(e->out, ev->cause);
    fprintf(e->out, ",%d\n", ev->error);
    return ferror(e->out) ? AVERROR(EIO) : 0;
}

static int close_out(FILE *f, const char *path)
{
    int bad = ferror(f);

    if (f == stdout)
        bad |= fflush(f) != 0;
    else
        bad |= fclose(f) != 0;
    if (bad) {
        fprintf(stderr, "hotspare hds export: %s: write error\n", path ? path : "stdout");
        return HS_EXIT_FAILED;
    }
    return HS_EXIT_OK;
}

static int do_export(HdsReader *r, const HdsFilter *f, const char *out, const char *events, int minutes)
{
    Export e = { .out = stdout };
    int ret, status;

    if (out && strcmp(out, "-") && !(e.out = fopen(out, "w"))) {
        fprintf(stderr, "hotspare hds export: %s: %s\n", out, strerror(errno));
        return HS_EXIT_FAILED;
    }
    fputs(minutes ? "time,stream,kind,name,role" : "time,tick,stream,kind,name,role", e.out);
    for (int k = 0; k < COMP_NB_KINDS; k++)
        for (int m = 0; m < sample_kinds[k].nb_metrics; m++) {
            const char *n = sample_kinds[k].metrics[m].name;
            if (minutes)
                fprintf(e.out, ",%s_n,%s_mean,%s_min,%s_max", n, n, n, n);
            else
                fprintf(e.out, ",%s", n);
        }
    fputc('\n', e.out);
    ret = minutes ? hds_reader_minutes(r, f, export_minute, &e) : hds_reader_samples(r, f, export_sample, &e);
    status = close_out(e.out, out);
    if (ret < 0 && status == HS_EXIT_OK) {
        fprintf(stderr, "hotspare hds export: %s\n", av_err2str(ret));
        status = HS_EXIT_FAILED;
    }
    if (status != HS_EXIT_OK || !events)
        return status;

    if (!(e.out = fopen(events, "w"))) {
        fprintf(stderr, "hotspare hds export: %s: %s\n", events, strerror(errno));
        return HS_EXIT_FAILED;
    }
    fputs("time,stream,component,kind,cause,error\n", e.out);
    ret = hds_reader_events(r, f, export_event, &e);
    status = close_out(e.out, events);
    if (ret < 0 && status == HS_EXIT_OK) {
        fprintf(stderr, "hotspare hds export: %s\n", av_err2str(ret));
        status = HS_EXIT_FAILED;
    }
    return status;
}

/* ---- baseline ------------------------------------------------------------------ */

typedef struct BaselineTable {
    int rows;
} BaselineTable;

static int print_baseline(void *opaque, const HdsBaseline *b)
{
    BaselineTable *t = opaque;
    const MetricDef *def = sample_metric(b->kind, b->metric);
    char role[16], metric[96], hour[8], days[8];

    if (!t->rows++)
        printf("%-8s %-10s %-8s %-8s %-52s %-4s %8s %4s %12s %12s %12s %12s %12s\n", "stream", "component",
               "kind", "role", "metric", "hour", "n", "days", "mean", "stddev", "p50", "p95", "p99");
    snprintf(metric, sizeof(metric), b->is_rate ? "rate(%s)" : "%s", def->name);
    if (b->hour == HDS_BASELINE_ALL_HOURS) {
        snprintf(hour, sizeof(hour), "all");
        snprintf(days, sizeof(days), "-");
    } else {
        snprintf(hour, sizeof(hour), "%02d", b->hour);
        snprintf(days, sizeof(days), "%d", b->days);
    }
    printf("%-8s %-10s %-8s %-8s %-52s %-4s %8"PRId64" %4s %12.6g %12.6g %12.6g %12.6g %12.6g\n",
           *b->stream ? b->stream : "-", b->name, sample_kinds[b->kind].name,
           comp_instance_name(b->backup, role, sizeof(role)), metric, hour, b->n, days, b->mean,
           b->std, b->p50, b->p95, b->p99);
    return 0;
}

static int do_baseline(HdsReader *r, const HdsFilter *f)
{
    BaselineTable t = { 0 };
    int ret = hds_reader_baselines(r, f, print_baseline, &t);

    if (ret < 0) {
        fprintf(stderr, "hotspare hds baseline: %s\n", av_err2str(ret));
        return HS_EXIT_FAILED;
    }
    if (!t.rows)
        printf("no baselines%s: they are computed when an hour of ticks ends (the rolling "
               "one needs half an hour of ticks, an hour of day %d days of it)\n",
               f->stream || f->component ? " match" : " yet", HDS_BASELINE_MIN_DAYS);
    return HS_EXIT_OK;
}

/* ---- the command ------------------------------------------------------------------ */

static int hds_exec(int argc, char **argv)
{
    enum { OPT_OUT = 256, OPT_EVENTS, OPT_FROM, OPT_TO, OPT_STREAM, OPT_COMPONENT, OPT_MINUTES };
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        { "out",       required_argument, 0, OPT_OUT },
        { "events",    required_argument, 0, OPT_EVENTS },
        { "from",      required_argument, 0, OPT_FROM },
        { "to",        required_argument, 0, OPT_TO },
        { "stream",    required_argument, 0, OPT_STREAM },
        { "component", required_argument, 0, OPT_COMPONENT },
        { "minutes",   no_argument,       0, OPT_MINUTES },
        { 0, 0, 0, 0 },
    };
    const CmdEntry *e = &cmd_hds_entry;
    const char *out = NULL, *events = NULL, *verb, *path;
    HdsFilter f = { 0 };
    HdsReader *r = NULL;
    int c, status, minutes = 0;

    while ((c = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cmd_print_help(e);
            return HS_EXIT_OK;
        case OPT_OUT:       out = optarg;          break;
        case OPT_EVENTS:    events = optarg;       break;
        case OPT_STREAM:    f.stream = optarg;     break;
        case OPT_COMPONENT: f.component = optarg;  break;
        case OPT_MINUTES:   minutes = 1;           break;
        case OPT_FROM:
        case OPT_TO:
            if (parse_time(optarg, c == OPT_FROM ? &f.from_us : &f.to_us) < 0)
                return cmd_usage_error(e, "bad time '%s' (unix seconds, or 2024-05-01T12:00:00Z)", optarg);
            *(c == OPT_FROM ? &f.has_from : &f.has_to) = 1;
            break;
        default:
            if (cmd_common_option(c, optarg) <= 0)
                return cmd_usage_error(e, "bad option");
        }
    }
    if (argc - optind != 2)
        return cmd_usage_error(e, argc - optind < 2 ? "a subcommand and a FILE are needed"
                                                    : "one FILE at a time");
    verb = argv[optind];
    path = argv[optind + 1];
    if (strcmp(verb, "stats") && strcmp(verb, "export") && strcmp(verb, "baseline"))
        return cmd_usage_error(e, "unknown subcommand '%s' (stats, export, baseline)", verb);
    if (strcmp(verb, "export") && (out || events || minutes || f.has_from || f.has_to))
        return cmd_usage_error(e, "--out, --events, --minutes, --from and --to are for export");
    if (!strcmp(verb, "stats") && (f.stream || f.component))
        return cmd_usage_error(e, "stats takes no --stream or --component");
    if ((status = open_file(path, &r)) != HS_EXIT_OK)
        return status;
    if (!strcmp(verb, "stats"))
        status = do_stats(r, path);
    else if (!strcmp(verb, "export"))
        status = do_export(r, &f, out, events, minutes);
    else
        status = do_baseline(r, &f);
    hds_reader_close(&r);
    return status;
}

const CmdEntry cmd_hds_entry = {
    .name    = "hds",
    .usage   = "stats|export|baseline FILE [options]",
    .summary = "what a historical data store holds; its samples and events as CSV; its baselines",
    .help    =
        "  stats FILE       ticks, time span, components, events by kind, size, rows per table\n"
        "  export FILE      one CSV row per component and tick: time, tick, stream, kind, name,\n"
        "                   role, then a column per metric of the catalogue (empty: absent)\n"
        "      --out CSV        write there instead of stdout\n"
        "      --events CSV     also the events: time, stream, component, kind, cause, error\n"
        "      --minutes        the per-minute rollups instead (kept longer than raw ticks):\n"
        "                       per metric NAME_n, NAME_mean, NAME_min, NAME_max\n"
        "      --from T, --to T a time range, inclusive: unix seconds or 2024-05-01T12:00:00Z\n"
        "      --stream S       one stream (\"\" is the host and the GPUs)\n"
        "      --component C    components of that name (\"720p\", \"main\")\n"
        "  baseline FILE    mean, standard deviation, p50, p95, p99 per component and metric:\n"
        "                   over the last 24 h (hour \"all\"), and by hour of day (UTC) once\n"
        "                   that hour has enough days; counters as rates per second\n"
        "      --stream S, --component C   as for export\n"
        "\nExit status: 0 ok, 1 an output could not be written, 2 usage, or FILE missing, not an\n"
        "HDS, or of a newer schema.\n",
    .exec    = hds_exec,
};
