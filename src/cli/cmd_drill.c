/*
 * cmd_drill.c: "hotspare drill JOB.yaml...": runs each job with its
 * faults: and checks its expect: (README "Drills"), for a nightly batch:
 * JUnit and JSON reports, a summary on stdout, exit 0 when every
 * expectation held, 1 when one did not, 2 for a usage or job error (then
 * nothing runs).
 *
 * Each job runs as a child process, "hotspare run --events E --report R
 * [--fast] JOB" with its files in a temporary directory: a job that
 * crashes or hangs is a failed check, not a dead drill. The judgement is
 * drill_eval.c's; this file runs, times and writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "cli/cmd.h"
#include "cli/drill_eval.h"
#include "job/job.h"

/* What a run may take beyond its streams' media time before it is killed:
 * opening, a slow machine, the outputs' trailers. Paced runs also get a
 * share on top of the media time (a live stream falls behind a little). */
#define DRILL_MARGIN_S        30.0
#define DRILL_PACED_SLACK     1.25
/* A file input whose length cannot be read: assume this much. */
#define DRILL_UNKNOWN_FILE_S  600.0
/* After the stop at the deadline (SIGTERM: outputs finish), the run gets
 * this long before SIGKILL. */
#define DRILL_KILL_GRACE_US   (5 * 1000000LL)
#define DRILL_POLL_US         20000

typedef struct DrillOpts {
    const char *junit_path;
    const char *json_path;
    int fast;
    double timeout_s;             /* 0: from the durations */
} DrillOpts;

/* One job's drill: its run and the verdicts. */
typedef struct JobDrill {
    const char *path;
    char name[256];               /* the file's name without .yaml: the suite */
    Job *job;
    DrillRun run;
    DrillResults res;
    char dir[4096];               /* its temporary directory */
    char log[4200];
    time_t started;
} JobDrill;

/* ---- before running ---------------------------------------------------------- */

/* Is the URL a generated source (lavfi) that may go on for ever? */
static int is_generated(const char *url, const char *format)
{
    return (format && !strcmp(format, "lavfi")) || !strncmp(url, "lavfi:", 6);
}

/* The media length of a file, in seconds, or NAN. */
static double file_seconds(const char *url, const char *format)
{
    AVFormatContext *fc = NULL;
    const AVInputFormat *ifmt = format ? av_find_input_format(format) : NULL;
    double s = NAN;

    if (avformat_open_input(&fc, url, ifmt, NULL) < 0)
        return NAN;
    if (fc->duration <= 0 && avformat_find_stream_info(fc, NULL) < 0)
        fc->duration = 0;
    if (fc->duration > 0)
        s = fc->duration / (double)AV_TIME_BASE;
    avformat_close_input(&fc);
    return s;
}

/*
 * Does every stream end by itself, and how long may the run take? A
 * stream ends with its duration, or with its input when every source is a
 * file (a backup that is up goes on where the primary ended). Returns 0
 * and *timeout_s, or HS_EXIT_USAGE (said on stderr).
 */
static int plan_job(const Job *job, const DrillOpts *o, double *timeout_s)
{
    double longest = 0;
    int bad = 0;

    for (int s = 0; s < job->nb_streams; s++) {
        const JobStream *js = &job->streams[s];
        const JobInput *in = &js->input;
        double media = NAN, extra = 0;
        int finite = 1;

        finite = !job_url_is_network(in->url) && !is_generated(in->url, in->format);
        for (int b = 0; b < in->nb_backups; b++)
            finite &= !job_url_is_network(in->backups[b].url) &&
                      !is_generated(in->backups[b].url, in->backups[b].format);
        if (js->duration_us) {
            media = js->duration_us / 1e6;
        } else if (!finite) {
            fprintf(stderr, "%s:%d:%d: stream '%s' does not end by itself (a %s input and no "
                    "duration): a drill needs every stream to end; set its duration:\n",
                    job->path, js->loc.line, js->loc.col, js->name,
                    job_url_is_network(in->url) ? "network" : "generated or network");
            bad = 1;
            continue;
        } else {
            media = file_seconds(in->url, in->format);
            if (isnan(media))
                media = DRILL_UNKNOWN_FILE_S;
        }
        /* faults take wall time of their own: stalls and slow-downs as
         * long as they last, a hang until the encoder gives it up */
        for (int f = 0; f < js->nb_faults; f++) {
            const JobFault *jf = &js->faults[f];
            if (jf->kind == JOB_FAULT_STALL || jf->kind == JOB_FAULT_SLOW)
                extra += jf->count * jf->duration_us / 1e6;
            else if (jf->kind == JOB_FAULT_HANG)
                extra += jf->count * (js->latency_budget_us ? js->latency_budget_us / 2e6 : 5.0);
        }
        media = media * (o->fast ? 1.0 : DRILL_PACED_SLACK) + extra;
        longest = FFMAX(longest, media);
    }
    if (bad)
        return HS_EXIT_USAGE;
    *timeout_s = o->timeout_s > 0 ? o->timeout_s : longest + DRILL_MARGIN_S;
    return 0;
}

/* ---- running ----------------------------------------------------------------- */

static void remove_run_dir(const JobDrill *d)
{
    static const char *const files[] = { "events.jsonl", "report.json", "report.json.tmp",
                                         "run.log", NULL };
    char p[4200];

    for (int i = 0; files[i]; i++) {
        snprintf(p, sizeof(p), "%s/%s", d->dir, files[i]);
        unlink(p);
    }
    /* the control socket's directory (the run removed the socket) */
    snprintf(p, sizeof(p), "%s/hotspare", d->dir);
    rmdir(p);
    rmdir(d->dir);
}

/* Runs the job in a child process, bounded by timeout_s. Fills d->run;
 * returns 0, or a negative AVERROR when no child could be started. */
static int run_child(JobDrill *d, const DrillOpts *o, double timeout_s)
{
    char events[4200], report[4200];
    const char *tmp = getenv("TMPDIR");
    char *argv[10];
    int64_t start, deadline, termed = 0;
    int argc = 0, status;
    pid_t pid;

    snprintf(d->dir, sizeof(d->dir), "%s/hotspare-drill-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(d->dir))
        return AVERROR(errno);
    snprintf(events, sizeof(events), "%s/events.jsonl", d->dir);
    snprintf(report, sizeof(report), "%s/report.json", d->dir);
    snprintf(d->log, sizeof(d->log), "%s/run.log", d->dir);

    argv[argc++] = "hotspare";
    argv[argc++] = "run";
    argv[argc++] = "--events";
    argv[argc++] = events;
    argv[argc++] = "--report";
    argv[argc++] = report;
    if (o->fast)
        argv[argc++] = "--fast";
    argv[argc++] = (char *)d->path;
    argv[argc] = NULL;

    d->started = time(NULL);
    start = av_gettime_relative();
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0)
        return AVERROR(errno);
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(127);
        /* its default control socket in the run's directory: a drill of
         * news.yaml beside a production run of another news.yaml is not
         * refused as a second run, and plain "hotspare ctl" there does
         * not find two sockets (a job that names its socket keeps it) */
        if (setenv("XDG_RUNTIME_DIR", d->dir, 1) < 0)
            _exit(127);
        /* this very binary, wherever it was started from */
        execv("/proc/self/exe", argv);
        _exit(127);
    }

    d->run.timeout_s = timeout_s;
    d->run.log_path = d->log;
    deadline = start + (int64_t)(timeout_s * 1e6);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        int64_t now = av_gettime_relative();
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return AVERROR(errno);
        if (!termed && now >= deadline) {
            /* as a first signal: the outputs finish, the report is written */
            kill(pid, SIGTERM);
            termed = now;
            d->run.timed_out = 1;
        } else if (termed && now - termed >= DRILL_KILL_GRACE_US) {
            kill(pid, SIGKILL);
            termed = INT64_MAX / 2;
        }
        av_usleep(DRILL_POLL_US);
    }
    d->run.wall_s = (av_gettime_relative() - start) / 1e6;
    if (WIFEXITED(status)) {
        d->run.status = WEXITSTATUS(status);
    } else {
        d->run.status = -1;
        d->run.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
    return 0;
}

/* Runs and judges one job. Returns 0 or a negative AVERROR (the drill
 * itself could not go on: no process, no memory). */
static int drill_job(JobDrill *d, const DrillOpts *o, double timeout_s)
{
    char events[4200], report[4200];
    DrillEvent *ev = NULL;
    DrillReport rep = { 0 };
    int nb = 0, ret;

    if ((ret = run_child(d, o, timeout_s)) < 0)
        return ret;
    snprintf(events, sizeof(events), "%s/events.jsonl", d->dir);
    snprintf(report, sizeof(report), "%s/report.json", d->dir);
    if ((ret = drill_read_events(events, &ev, &nb)) >= 0 &&
        (ret = drill_read_report(report, &rep)) >= 0)
        ret = drill_evaluate(d->job, ev, nb, &rep, &d->run, &d->res);
    av_free(ev);
    drill_report_free(&rep);
    return ret;
}

/* ---- writing ----------------------------------------------------------------- */

static const char *verdict_word(DrillVerdict v)
{
    return v == DRILL_PASS ? "ok" : v == DRILL_FAIL ? "FAIL" : "skip";
}

static void print_value(FILE *f, const DrillResult *r)
{
    if (!strcmp(r->name, "exit")) {
        if (isnan(r->value))
            fprintf(f, "no exit status (expected %.0f)", r->limit);
        else
            fprintf(f, "%.0f (expected %.0f)", r->value, r->limit);
    } else if (!isnan(r->value)) {
        fprintf(f, "%.*f %s (at most %g)", !strcmp(r->unit, "ms"), r->value, r->unit, r->limit);
    } else {
        fprintf(f, "-");
    }
}

static void print_summary(const JobDrill *d, int nb)
{
    for (int j = 0; j < nb; j++) {
        int pass, fail, skip;
        drill_results_count(&d[j].res, &pass, &fail, &skip);
        printf("%s: %d check%s, %d passed, %d failed, %d skipped (run %.1f s, exit %d)\n",
               d[j].path, d[j].res.nb, d[j].res.nb == 1 ? "" : "s", pass, fail, skip,
               d[j].run.wall_s, d[j].run.status);
        for (int i = 0; i < d[j].res.nb; i++) {
            const DrillResult *r = &d[j].res.v[i];
            printf("  %-4s %s%s%s: ", verdict_word(r->verdict), r->stream ? r->stream : "",
                   r->stream ? " " : "", r->name);
            print_value(stdout, r);
            if (r->message)
                printf("\n       %s", r->message);
            printf("\n");
        }
        if (fail)
            printf("  the run's files are kept in %s\n", d[j].dir);
    }
}

/* Writes s as XML character data or an attribute value: the five entities
 * escaped, control characters (not allowed in XML 1.0) as '?'. */
static void xml_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = *s;
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            fputc(c < 0x20 && c != '\n' && c != '\t' ? '?' : c, f);
        }
    }
}

/* The JUnit time of a result: its latency for the timed checks, the run's
 * for exit, 0 for counts. */
static double result_time(const JobDrill *d, const DrillResult *r)
{
    if (!strcmp(r->name, "exit"))
        return d->run.wall_s;
    return !strcmp(r->unit, "ms") && !isnan(r->value) ? r->value / 1e3 : 0;
}

static int write_junit(const char *path, const JobDrill *d, int nb)
{
    char host[256] = "localhost", ts[32], tmp[4200];
    int tests = 0, failures = 0, skipped = 0;
    double total = 0;
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (!(f = fopen(tmp, "w")))
        return AVERROR(errno);
    gethostname(host, sizeof(host) - 1);
    for (int j = 0; j < nb; j++) {
        int pass, fail, skip;
        drill_results_count(&d[j].res, &pass, &fail, &skip);
        tests += d[j].res.nb;
        failures += fail;
        skipped += skip;
        total += d[j].run.wall_s;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<testsuites name=\"hotspare drill\" tests=\"%d\" failures=\"%d\" errors=\"0\" "
            "time=\"%.3f\">\n", tests, failures, total);
    (void)skipped;
    for (int j = 0; j < nb; j++) {
        int pass, fail, skip;
        drill_results_count(&d[j].res, &pass, &fail, &skip);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", gmtime(&d[j].started));
        fprintf(f, "  <testsuite name=\"");
        xml_escape(f, d[j].name);
        fprintf(f, "\" id=\"%d\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"%d\" "
                "time=\"%.3f\" timestamp=\"%s\" hostname=\"", j, d[j].res.nb, fail, skip,
                d[j].run.wall_s, ts);
        xml_escape(f, host);
        fprintf(f, "\" file=\"");
        xml_escape(f, d[j].path);
        fprintf(f, "\">\n");
        for (int i = 0; i < d[j].res.nb; i++) {
            const DrillResult *r = &d[j].res.v[i];
            fprintf(f, "    <testcase classname=\"");
            xml_escape(f, d[j].name);
            if (r->stream) {
                fputc('.', f);
                xml_escape(f, r->stream);
            }
            fprintf(f, "\" name=\"");
            xml_escape(f, r->name);
            fprintf(f, "\" time=\"%.6f\">\n", result_time(&d[j], r));
            if (r->verdict != DRILL_PASS) {
                fprintf(f, "      <%s message=\"", r->verdict == DRILL_FAIL ? "failure" : "skipped");
                xml_escape(f, r->message);
                fprintf(f, "\"%s>", r->verdict == DRILL_FAIL ? " type=\"expectation\"" : "");
                xml_escape(f, r->message);
                fprintf(f, "</%s>\n", r->verdict == DRILL_FAIL ? "failure" : "skipped");
            }
            fprintf(f, "      <system-out>");
            xml_escape(f, r->figures);
            fprintf(f, "</system-out>\n    </testcase>\n");
        }
        fprintf(f, "  </testsuite>\n");
    }
    fprintf(f, "</testsuites>\n");
    if (fclose(f) != 0 || rename(tmp, path) < 0) {
        int ret = AVERROR(errno);
        unlink(tmp);
        return ret;
    }
    return 0;
}

static json_t *number_or_null(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

static int write_json(const char *path, const JobDrill *d, int nb, int fast, int code)
{
    json_t *root = json_object(), *jobs = json_array();
    int tests = 0, failures = 0, skipped = 0, ret = 0;
    char tmp[4200];

    if (!root || !jobs) {
        json_decref(root);
        json_decref(jobs);
        return AVERROR(ENOMEM);
    }
    for (int j = 0; j < nb; j++) {
        json_t *jj = json_object(), *res = json_array();
        int pass, fail, skip;
        drill_results_count(&d[j].res, &pass, &fail, &skip);
        tests += d[j].res.nb;
        failures += fail;
        skipped += skip;
        for (int i = 0; i < d[j].res.nb; i++) {
            const DrillResult *r = &d[j].res.v[i];
            json_t *jr = json_object();
            char cls[512];
            snprintf(cls, sizeof(cls), "%s%s%s", d[j].name, r->stream ? "." : "",
                     r->stream ? r->stream : "");
            json_object_set_new(jr, "classname", json_string(cls));
            json_object_set_new(jr, "stream", r->stream ? json_string(r->stream) : json_null());
            json_object_set_new(jr, "name", json_string(r->name));
            json_object_set_new(jr, "verdict", json_string(r->verdict == DRILL_PASS ? "pass" :
                                                           r->verdict == DRILL_FAIL ? "fail" : "skip"));
            json_object_set_new(jr, "ok", json_boolean(r->verdict != DRILL_FAIL));
            json_object_set_new(jr, "value", number_or_null(r->value));
            json_object_set_new(jr, "limit", number_or_null(r->limit));
            json_object_set_new(jr, "unit", json_string(r->unit));
            json_object_set_new(jr, "message", r->message ? json_string(r->message) : json_null());
            json_object_set_new(jr, "figures", json_string(r->figures ? r->figures : ""));
            json_array_append_new(res, jr);
        }
        json_object_set_new(jj, "job", json_string(d[j].path));
        json_object_set_new(jj, "name", json_string(d[j].name));
        json_object_set_new(jj, "exit", d[j].run.status >= 0 ? json_integer(d[j].run.status) : json_null());
        json_object_set_new(jj, "signal", json_integer(d[j].run.signal));
        json_object_set_new(jj, "timed_out", json_boolean(d[j].run.timed_out));
        json_object_set_new(jj, "timeout_s", json_real(d[j].run.timeout_s));
        json_object_set_new(jj, "wall_s", json_real(d[j].run.wall_s));
        json_object_set_new(jj, "tests", json_integer(d[j].res.nb));
        json_object_set_new(jj, "failures", json_integer(fail));
        json_object_set_new(jj, "skipped", json_integer(skip));
        json_object_set_new(jj, "results", res);
        json_array_append_new(jobs, jj);
    }
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "fast", json_boolean(fast));
    json_object_set_new(root, "exit", json_integer(code));
    json_object_set_new(root, "tests", json_integer(tests));
    json_object_set_new(root, "failures", json_integer(failures));
    json_object_set_new(root, "skipped", json_integer(skipped));
    json_object_set_new(root, "jobs", jobs);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (json_dump_file(root, tmp, JSON_INDENT(2)) < 0 || rename(tmp, path) < 0) {
        ret = AVERROR(errno ? errno : EIO);
        unlink(tmp);
    }
    json_decref(root);
    return ret;
}

/* ---- the command ------------------------------------------------------------- */

static void suite_name(const char *path, char *buf, size_t size)
{
    const char *b = strrchr(path, '/');
    size_t n;

    av_strlcpy(buf, b ? b + 1 : path, size);
    n = strlen(buf);
    if (n > 5 && !strcmp(buf + n - 5, ".yaml"))
        buf[n - 5] = 0;
    else if (n > 4 && !strcmp(buf + n - 4, ".yml"))
        buf[n - 4] = 0;
}

static int drill_exec(int argc, char **argv)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        { "junit",   required_argument, 0, 'j' },
        { "json",    required_argument, 0, 'J' },
        { "fast",    no_argument,       0, 'f' },
        { "timeout", required_argument, 0, 't' },
        { 0, 0, 0, 0 },
    };
    DrillOpts o = { 0 };
    JobDrill *d = NULL;
    double *timeouts = NULL;
    int c, nb, code = HS_EXIT_OK, failed = 0;
    char *end;

    while ((c = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cmd_print_help(&cmd_drill_entry);
            return HS_EXIT_OK;
        case 'j':
            o.junit_path = optarg;
            break;
        case 'J':
            o.json_path = optarg;
            break;
        case 'f':
            o.fast = 1;
            break;
        case 't':
            o.timeout_s = strtod(optarg, &end);
            if (*end || !(o.timeout_s > 0))
                return cmd_usage_error(&cmd_drill_entry, "--timeout takes seconds above 0, not '%s'",
                                       optarg);
            break;
        default:
            if (cmd_common_option(c, optarg) <= 0)
                return cmd_usage_error(&cmd_drill_entry, "bad option");
        }
    }
    if (optind >= argc)
        return cmd_usage_error(&cmd_drill_entry, "no job file given");
    nb = argc - optind;
    d = av_calloc(nb, sizeof(*d));
    timeouts = av_calloc(nb, sizeof(*timeouts));
    if (!d || !timeouts) {
        code = HS_EXIT_FAILED;
        goto end;
    }

    /* every job is checked before any runs: a typo in one is a job error
     * (exit 2), not a night of drills with one missing */
    for (int j = 0; j < nb; j++) {
        d[j].path = argv[optind + j];
        suite_name(d[j].path, d[j].name, sizeof(d[j].name));
        if (cmd_load_job(d[j].path, &d[j].job) || plan_job(d[j].job, &o, &timeouts[j]))
            code = HS_EXIT_USAGE;
    }
    if (code != HS_EXIT_OK) {
        fprintf(stderr, "hotspare drill: job errors (above): nothing was run\n");
        goto end;
    }

    for (int j = 0; j < nb; j++) {
        int ret, pass, fail, skip;
        printf("%s: running%s, at most %.0f s\n", d[j].path, o.fast ? " unpaced (--fast)" : "",
               timeouts[j]);
        ret = drill_job(&d[j], &o, timeouts[j]);
        if (ret < 0) {
            fprintf(stderr, "hotspare drill: %s: %s\n", d[j].path, av_err2str(ret));
            code = HS_EXIT_FAILED;
            goto end;
        }
        drill_results_count(&d[j].res, &pass, &fail, &skip);
        failed += fail > 0;
        /* what a failed run left is kept for whoever looks at it */
        if (!fail)
            remove_run_dir(&d[j]);
    }
    print_summary(d, nb);
    code = failed ? HS_EXIT_FAILED : HS_EXIT_OK;
    printf("%d of %d job%s held every expectation\n", nb - failed, nb, nb == 1 ? "" : "s");
    if (o.junit_path && write_junit(o.junit_path, d, nb) < 0) {
        fprintf(stderr, "hotspare drill: cannot write %s: %s\n", o.junit_path, strerror(errno));
        code = HS_EXIT_FAILED;
    }
    if (o.json_path && write_json(o.json_path, d, nb, o.fast, code) < 0) {
        fprintf(stderr, "hotspare drill: cannot write %s: %s\n", o.json_path, strerror(errno));
        code = HS_EXIT_FAILED;
    }

end:
    for (int j = 0; d && j < nb; j++) {
        job_free(&d[j].job);
        drill_results_free(&d[j].res);
    }
    av_free(d);
    av_free(timeouts);
    return code;
}

const CmdEntry cmd_drill_entry = {
    .name    = "drill",
    .usage   = "[--junit FILE] [--json FILE] [--fast] [--timeout SEC] JOB.yaml [JOB.yaml ...]",
    .summary = "run jobs with their faults and check their expect: (exit 0 all held, 1 not)",
    .help    = "Options:\n"
               "  --junit FILE     a JUnit XML report: a testsuite per job, a testcase per\n"
               "                   stream and expectation (classname JOB.STREAM)\n"
               "  --json FILE      the same as JSON (README \"Drills\")\n"
               "  --fast           read file and lavfi inputs unpaced (hotspare run --fast)\n"
               "  --timeout SEC    kill a run after SEC (default: its streams' durations,\n"
               "                   the faults' own time and 30 s)\n\n"
               "Every stream must end by itself (a duration, or file inputs only).\n"
               "Exit status: 0 every expectation held, 1 one did not, 2 usage or job error\n"
               "(nothing is run then).\n",
    .exec    = drill_exec,
};
