/*
 * drill_eval.c: a drill's judgement of one run; see drill_eval.h.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "cli/drill_eval.h"

/* ---- results ---------------------------------------------------------------- */

/* vsnprintf into a new av_malloc'd string (libav 5.1 has no av_vasprintf). */
static char *vstrdup_printf(const char *fmt, va_list ap)
{
    char buf[1024];

    vsnprintf(buf, sizeof(buf), fmt, ap);
    return av_strdup(buf);
}

static DrillResult *result_add(DrillResults *out, const char *stream, const char *fmt, ...)
    av_printf_format(3, 4);

static DrillResult *result_add(DrillResults *out, const char *stream, const char *fmt, ...)
{
    DrillResult *r;
    va_list ap;

    if (out->nb == out->cap) {
        int cap = out->cap ? 2 * out->cap : 16;
        DrillResult *v = av_realloc_array(out->v, cap, sizeof(*v));
        if (!v)
            return NULL;
        out->v = v;
        out->cap = cap;
    }
    r = &out->v[out->nb];
    memset(r, 0, sizeof(*r));
    r->value = r->limit = NAN;
    r->unit = "";
    va_start(ap, fmt);
    r->name = vstrdup_printf(fmt, ap);
    va_end(ap);
    r->stream = stream ? av_strdup(stream) : NULL;
    if (!r->name || (stream && !r->stream)) {
        av_freep(&r->name);
        av_freep(&r->stream);
        return NULL;
    }
    out->nb++;
    return r;
}

/* Sets the verdict and its text; returns 0 or AVERROR(ENOMEM). */
static int result_set(DrillResult *r, DrillVerdict v, char *figures, const char *fmt, ...)
    av_printf_format(4, 5);

static int result_set(DrillResult *r, DrillVerdict v, char *figures, const char *fmt, ...)
{
    va_list ap;

    r->verdict = v;
    r->figures = figures;
    if (fmt) {
        va_start(ap, fmt);
        r->message = vstrdup_printf(fmt, ap);
        va_end(ap);
        if (!r->message)
            return AVERROR(ENOMEM);
    }
    return figures ? 0 : AVERROR(ENOMEM);
}

void drill_results_free(DrillResults *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nb; i++) {
        av_freep(&r->v[i].stream);
        av_freep(&r->v[i].name);
        av_freep(&r->v[i].message);
        av_freep(&r->v[i].figures);
    }
    av_freep(&r->v);
    r->nb = r->cap = 0;
}

void drill_results_count(const DrillResults *r, int *pass, int *fail, int *skip)
{
    *pass = *fail = *skip = 0;
    for (int i = 0; i < r->nb; i++)
        (*(r->v[i].verdict == DRILL_PASS ? pass : r->v[i].verdict == DRILL_FAIL ? fail : skip))++;
}

/* ---- events ------------------------------------------------------------------- */

/* Does component c (any instance) belong to base? "out:main.backup2" and
 * "out:main" do to "out:main"; "out:main2" does not. */
static int same_component(const char *c, const char *base)
{
    size_t n = strlen(base);

    return !strncmp(c, base, n) && (!c[n] || !strncmp(c + n, ".backup", 7));
}

/* The component without its instance suffix, into buf. */
static const char *base_of(const char *c, char *buf, size_t size)
{
    const char *dot = strrchr(c, '.');

    av_strlcpy(buf, c, size);
    if (dot && !strncmp(dot, ".backup", 7) && (size_t)(dot - c) < size)
        buf[dot - c] = 0;
    return buf;
}

/* The figure of a "... first packet N ms after ..." event, or NAN. */
static double first_packet_ms(const DrillEvent *e)
{
    const char *p = e->kind == EV_INFO ? strstr(e->cause, "first packet ") : NULL;
    double ms;

    if (!p || sscanf(p, "first packet %lf ms after", &ms) != 1)
        return NAN;
    return ms;
}

/* The first event from index i on of stream, of kind, on component base,
 * before mono end (INT64_MAX: none) and, for EV_INFO, a first packet's. */
static int find_after(const DrillEvent *ev, int nb, int i, const char *stream, EventKind kind,
                      const char *base, int64_t end)
{
    for (; i < nb; i++) {
        const DrillEvent *e = &ev[i];
        if (e->mono_us >= end)
            break;
        if (e->kind != kind || strcmp(e->stream, stream) || !same_component(e->component, base))
            continue;
        if (kind == EV_INFO && isnan(first_packet_ms(e)))
            continue;
        return i;
    }
    return -1;
}

/* ---- the checks --------------------------------------------------------------- */

static int check_frames_lost(const JobStream *js, const DrillReport *rep, const DrillRun *run,
                             DrillResults *out)
{
    const DrillStreamFigures *sf = NULL;

    for (int s = 0; rep->streams && s < rep->nb_streams; s++)
        if (!strcmp(rep->streams[s].name, js->name))
            sf = &rep->streams[s];
    for (int o = 0; o < js->nb_outputs; o++) {
        const char *name = js->outputs[o].name;
        const DrillOutputFigures *of = NULL;
        DrillResult *r = result_add(out, js->name, "frames_lost out:%s", name);
        int64_t max = js->expect.frames_lost;

        if (!r)
            return AVERROR(ENOMEM);
        r->unit = "frames";
        r->limit = max;
        for (int k = 0; sf && k < sf->nb_outputs; k++)
            if (!strcmp(sf->outputs[k].name, name))
                of = &sf->outputs[k];
        if (!of) {
            if (result_set(r, DRILL_FAIL,
                           av_asprintf("no figures: the run left no report%s%s%s",
                                       run->log_path ? " (its output: " : "",
                                       run->log_path ? run->log_path : "",
                                       run->log_path ? ")" : ""),
                           "no report of out:%s: the run did not finish", name) < 0)
                return AVERROR(ENOMEM);
            continue;
        }
        r->value = of->frames_lost;
        if (result_set(r, of->frames_lost <= max ? DRILL_PASS : DRILL_FAIL,
                       av_asprintf("frames %" PRId64 ", frames_lost %" PRId64 " (at most %" PRId64
                                   "), switches %" PRId64 ", errors %" PRId64 "%s",
                                   of->frames, of->frames_lost, max, of->switches, of->errors,
                                   of->failed ? ", failed" : ""),
                       of->frames_lost <= max ? NULL :
                       "out:%s lost %" PRId64 " frame%s, at most %" PRId64 " expected", name,
                       of->frames_lost, of->frames_lost == 1 ? "" : "s", max) < 0)
            return AVERROR(ENOMEM);
    }
    return 0;
}

/* The fault's kind and media time, from its event's cause ("injected
 * fault drop for 200 ms at media time 5.000 s"). */
static void fault_of(const DrillEvent *e, char *kind, size_t size, double *at_s)
{
    const char *p = strstr(e->cause, "injected fault ");
    const char *t = strstr(e->cause, "at media time ");

    *kind = 0;
    if (p)
        sscanf(p, "injected fault %15s", kind);
    (void)size;
    *at_s = t ? atof(t + strlen("at media time ")) : NAN;
}

/* r (NULL: passed on) as a latency check: in ms, within limit_us. */
static DrillResult *ms_result(DrillResult *r, int64_t limit_us)
{
    if (r) {
        r->unit = "ms";
        r->limit = limit_us / 1e3;
    }
    return r;
}

/* The figures of a fault after which nothing failed. */
static char *no_failure_figures(const char *kind, double at_s)
{
    return av_asprintf("%s fault at %.3f s (media time); no failure event after it", kind, at_s);
}

/*
 * The scheduled time (s) of the occurrence of a fault of js that struck
 * at media time at_s: the latest at or before it of the faults of that
 * kind on that instance. A fault strikes the first item at or after its
 * time, which a paced run may place a little later than an unpaced one:
 * checks are named by the time the job says, the same in both.
 */
static double scheduled_at(const JobStream *js, const char *component, const char *kind,
                           double at_s)
{
    static const char *const kinds[] = { "error", "stall", "slow", "drop", "close", "hang" };
    double best = NAN;

    for (int i = 0; i < js->nb_faults; i++) {
        const JobFault *f = &js->faults[i];
        if (f->kind > JOB_FAULT_HANG || strcmp(kinds[f->kind], kind) ||
            strcmp(f->component, component))
            continue;
        for (int k = 0; k < f->count; k++) {
            double t = (f->at_us + k * f->every_us) / 1e6;
            if (t <= at_s + 1e-6 && (isnan(best) || t > best))
                best = t;
        }
    }
    return isnan(best) ? at_s : best;
}

static int fails_for_sure(const char *kind)
{
    return !strcmp(kind, "error") || !strcmp(kind, "close") || !strcmp(kind, "hang");
}

/* detect_within and switch_within of one fault event ev[f]. */
static int check_fault(const JobStream *js, const DrillEvent *ev, int nb, int f,
                       DrillResults *out)
{
    const DrillEvent *fe = &ev[f];
    const JobExpect *x = &js->expect;
    char base[DRILL_NAME_SIZE], kind[16], label[DRILL_NAME_SIZE + 32];
    int64_t end = INT64_MAX;
    int fi, pi = -1;
    double at_s;

    base_of(fe->component, base, sizeof(base));
    fault_of(fe, kind, sizeof(kind), &at_s);
    snprintf(label, sizeof(label), "%s@%.3fs", fe->component,
             scheduled_at(js, fe->component, kind, at_s));
    /* a failure belongs to the last fault on its component before it */
    for (int k = f + 1; k < nb; k++)
        if (ev[k].kind == EV_FAULT && !strcmp(ev[k].stream, fe->stream) &&
            same_component(ev[k].component, base)) {
            end = ev[k].mono_us;
            break;
        }
    fi = find_after(ev, nb, f + 1, fe->stream, EV_FAILURE, base, end);
    if (fi >= 0)
        pi = find_after(ev, nb, fi + 1, fe->stream, EV_INFO, base, INT64_MAX);

    if (x->detect_within_us) {
        DrillResult *r = ms_result(result_add(out, js->name, "detect_within %s", label),
                                   x->detect_within_us);
        double limit = x->detect_within_us / 1e3;
        int ret;
        if (!r)
            return AVERROR(ENOMEM);
        if (fi >= 0) {
            double ms = (ev[fi].mono_us - fe->mono_us) / 1e3;
            r->value = ms;
            ret = result_set(r, ms <= limit ? DRILL_PASS : DRILL_FAIL,
                             av_asprintf("%s fault at %.3f s (media time); failure of %s %.1f ms "
                                         "later (at most %g ms): %s", kind, at_s,
                                         ev[fi].component, ms, limit, ev[fi].cause),
                             ms <= limit ? NULL : "%s failed %.1f ms after the fault, more than %g ms",
                             ev[fi].component, ms, limit);
        } else if (fails_for_sure(kind)) {
            ret = result_set(r, DRILL_FAIL, no_failure_figures(kind, at_s),
                             "no failure of %s followed the %s fault", base, kind);
        } else {
            ret = result_set(r, DRILL_SKIP, no_failure_figures(kind, at_s),
                             "the %s fault failed nothing: no detection to time "
                             "(frames_lost judges what it cost)", kind);
        }
        if (ret < 0)
            return ret;
    }
    if (x->switch_within_us) {
        DrillResult *r = ms_result(result_add(out, js->name, "switch_within %s", label),
                                   x->switch_within_us);
        double limit = x->switch_within_us / 1e3;
        int ret;
        if (!r)
            return AVERROR(ENOMEM);
        if (pi >= 0) {
            double ms = first_packet_ms(&ev[pi]);
            r->value = ms;
            ret = result_set(r, ms <= limit ? DRILL_PASS : DRILL_FAIL,
                             av_asprintf("failure of %s, then: %s (at most %g ms); by the events' "
                                         "clock %.1f ms from the failure", ev[fi].component,
                                         ev[pi].cause, limit, (ev[pi].mono_us - ev[fi].mono_us) / 1e3),
                             ms <= limit ? NULL : "the first packet after the failure came %.1f ms "
                             "after it, more than %g ms", ms, limit);
        } else if (fi >= 0) {
            ret = result_set(r, DRILL_FAIL, av_asprintf("failure of %s: %s; no first packet of "
                                                        "another instance after it",
                                                        ev[fi].component, ev[fi].cause),
                             "no instance of %s passed on a packet after the failure", base);
        } else if (fails_for_sure(kind)) {
            ret = result_set(r, DRILL_FAIL, no_failure_figures(kind, at_s),
                             "no failure of %s followed the %s fault: no switch", base, kind);
        } else {
            ret = result_set(r, DRILL_SKIP, no_failure_figures(kind, at_s),
                             "the %s fault failed nothing: no switch to time", kind);
        }
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* One occurrence of a drill (action:) of the stream. */
typedef struct Occurrence {
    int64_t at_us;
    int order;                    /* index in the faults list, for ties */
    const JobFault *f;
} Occurrence;

static int occ_cmp(const void *a, const void *b)
{
    const Occurrence *x = a, *y = b;

    if (x->at_us != y->at_us)
        return x->at_us < y->at_us ? -1 : 1;
    return x->order - y->order;
}

/* Is ev[i] the answer to a request (a drill's): the first event carrying
 * its seq? */
static int is_answer(const DrillEvent *ev, int i)
{
    if (!ev[i].seq || ev[i].kind == EV_FAULT)
        return 0;
    for (int k = 0; k < i; k++)
        if (ev[k].seq == ev[i].seq && !strcmp(ev[k].stream, ev[i].stream))
            return 0;
    return 1;
}

static int ans_cmp(const void *a, const void *b)
{
    const DrillEvent *const *x = a, *const *y = b;

    return (*x)->seq < (*y)->seq ? -1 : (*x)->seq > (*y)->seq;
}

/*
 * switch_within of the drills on component base: its drills, in time
 * order, are answered in the order of their requests' seq (the data plane
 * numbers them as it posts them), so the k-th answer on the component is
 * the k-th drill's.
 */
static int check_actions(const JobStream *js, const char *base, const DrillEvent *ev, int nb,
                         DrillResults *out)
{
    Occurrence *occ = NULL;
    const DrillEvent **ans = NULL;
    int nb_occ = 0, nb_ans = 0, ret = 0;
    double limit = js->expect.switch_within_us / 1e3;

    for (int i = 0; i < js->nb_faults; i++) {
        const JobFault *f = &js->faults[i];
        if (f->kind >= JOB_ACTION_PROVISION && !strcmp(f->component, base))
            nb_occ += f->count;
    }
    occ = av_calloc(FFMAX(nb_occ, 1), sizeof(*occ));
    ans = av_calloc(FFMAX(nb, 1), sizeof(*ans));
    if (!occ || !ans) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    nb_occ = 0;
    for (int i = 0; i < js->nb_faults; i++) {
        const JobFault *f = &js->faults[i];
        if (f->kind < JOB_ACTION_PROVISION || strcmp(f->component, base))
            continue;
        for (int k = 0; k < f->count; k++)
            occ[nb_occ++] = (Occurrence){ f->at_us + k * f->every_us, i, f };
    }
    qsort(occ, nb_occ, sizeof(*occ), occ_cmp);
    for (int i = 0; i < nb; i++)
        if (!strcmp(ev[i].stream, js->name) && same_component(ev[i].component, base) &&
            is_answer(ev, i))
            ans[nb_ans++] = &ev[i];
    qsort(ans, nb_ans, sizeof(*ans), ans_cmp);

    for (int k = 0; k < nb_occ; k++) {
        const JobFault *f = occ[k].f;
        const char *what = f->kind == JOB_ACTION_SWITCH ? "switch" : "switch_back";
        const DrillEvent *a = k < nb_ans ? ans[k] : NULL;
        DrillResult *r;
        int pi;

        if (f->kind != JOB_ACTION_SWITCH && f->kind != JOB_ACTION_SWITCH_BACK)
            continue;
        r = ms_result(result_add(out, js->name, "switch_within %s %s@%.3fs", base, what,
                                 occ[k].at_us / 1e6), js->expect.switch_within_us);
        if (!r) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        if (!a) {
            ret = result_set(r, DRILL_FAIL, av_asprintf("drill %s of %s at %.3f s (media time): "
                                                        "no answer", what, base, occ[k].at_us / 1e6),
                             "the %s was not answered: the run ended before it was carried out",
                             what);
        } else if (a->kind != EV_SWITCH) {
            ret = result_set(r, DRILL_FAIL, av_asprintf("drill %s of %s at %.3f s (media time): "
                                                        "%s: %s", what, base, occ[k].at_us / 1e6,
                                                        evlog_kind_name(a->kind), a->cause),
                             "the %s was %s: %s", what,
                             a->kind == EV_REFUSED ? "refused" : evlog_kind_name(a->kind), a->cause);
        } else if ((pi = find_after(ev, nb, (int)(a - ev) + 1, js->name, EV_INFO, base,
                                    INT64_MAX)) < 0) {
            ret = result_set(r, DRILL_FAIL, av_asprintf("%s; no first packet after it", a->cause),
                             "no first packet of %s after the %s", base, what);
        } else {
            double ms = first_packet_ms(&ev[pi]);
            r->value = ms;
            ret = result_set(r, ms <= limit ? DRILL_PASS : DRILL_FAIL,
                             av_asprintf("%s; %s (at most %g ms)", a->cause, ev[pi].cause, limit),
                             ms <= limit ? NULL : "the first packet after the %s came %.1f ms "
                             "after it, more than %g ms", what, ms, limit);
        }
        if (ret < 0)
            goto end;
    }
end:
    av_free(occ);
    av_free(ans);
    return ret;
}

static int check_exit(const Job *job, const DrillRun *run, DrillResults *out)
{
    int want = job->expect.exit >= 0 ? job->expect.exit : 0;
    DrillResult *r = result_add(out, NULL, "exit");
    char *fig;

    if (!r)
        return AVERROR(ENOMEM);
    r->limit = want;
    if (run->timed_out) {
        fig = av_asprintf("killed after %.0f s (the streams' durations and a margin)%s%s",
                          run->timeout_s, run->log_path ? "; its output: " : "",
                          run->log_path ? run->log_path : "");
        return result_set(r, DRILL_FAIL, fig, "did not end: killed after %.0f s", run->timeout_s);
    }
    if (run->status < 0) {
        fig = av_asprintf("ended by signal %d (%s) after %.1f s%s%s", run->signal,
                          strsignal(run->signal), run->wall_s,
                          run->log_path ? "; its output: " : "", run->log_path ? run->log_path : "");
        return result_set(r, DRILL_FAIL, fig, "the run died of signal %d (%s)", run->signal,
                          strsignal(run->signal));
    }
    r->value = run->status;
    fig = av_asprintf("exit %d (expected %d) after %.1f s%s%s", run->status, want, run->wall_s,
                      run->status != want && run->log_path ? "; its output: " : "",
                      run->status != want && run->log_path ? run->log_path : "");
    return result_set(r, run->status == want ? DRILL_PASS : DRILL_FAIL, fig,
                      run->status == want ? NULL : "the run exited %d, %d expected",
                      run->status, want);
}

int drill_evaluate(const Job *job, const DrillEvent *ev, int nb_ev, const DrillReport *rep,
                   const DrillRun *run, DrillResults *out)
{
    int ret;

    for (int s = 0; s < job->nb_streams; s++) {
        const JobStream *js = &job->streams[s];
        char seen[16][DRILL_NAME_SIZE];
        int nb_seen = 0;

        if (js->expect.frames_lost >= 0 && (ret = check_frames_lost(js, rep, run, out)) < 0)
            return ret;
        if (js->expect.detect_within_us || js->expect.switch_within_us)
            for (int i = 0; i < nb_ev; i++)
                if (ev[i].kind == EV_FAULT && !strcmp(ev[i].stream, js->name) &&
                    (ret = check_fault(js, ev, nb_ev, i, out)) < 0)
                    return ret;
        if (!js->expect.switch_within_us)
            continue;
        /* each component with drills, once */
        for (int i = 0; i < js->nb_faults; i++) {
            const JobFault *f = &js->faults[i];
            int dup = 0;
            if (f->kind != JOB_ACTION_SWITCH && f->kind != JOB_ACTION_SWITCH_BACK)
                continue;
            for (int k = 0; k < nb_seen; k++)
                dup |= !strcmp(seen[k], f->component);
            if (dup || nb_seen == 16)
                continue;
            av_strlcpy(seen[nb_seen++], f->component, DRILL_NAME_SIZE);
            if ((ret = check_actions(js, f->component, ev, nb_ev, out)) < 0)
                return ret;
        }
    }
    return check_exit(job, run, out);
}

/* ---- reading the run's files ---------------------------------------------- */

static EventKind kind_by_name(const char *name)
{
    for (int k = 0; k < EV_NB_KINDS; k++)
        if (!strcmp(evlog_kind_name(k), name))
            return k;
    return EV_NB_KINDS;
}

int drill_parse_event(const char *line, DrillEvent *ev)
{
    json_t *o = json_loads(line, 0, NULL);
    const char *s;
    int ret = AVERROR_INVALIDDATA;

    memset(ev, 0, sizeof(*ev));
    if (!o || !json_is_object(o) || !json_is_integer(json_object_get(o, "mono_us")) ||
        !json_is_string(json_object_get(o, "kind")))
        goto end;
    ev->mono_us = json_integer_value(json_object_get(o, "mono_us"));
    ev->kind = kind_by_name(json_string_value(json_object_get(o, "kind")));
    if ((s = json_string_value(json_object_get(o, "stream"))))
        av_strlcpy(ev->stream, s, sizeof(ev->stream));
    if ((s = json_string_value(json_object_get(o, "component"))))
        av_strlcpy(ev->component, s, sizeof(ev->component));
    if ((s = json_string_value(json_object_get(o, "cause"))))
        av_strlcpy(ev->cause, s, sizeof(ev->cause));
    ev->seq = (uint32_t)json_integer_value(json_object_get(o, "seq"));
    ret = 0;
end:
    json_decref(o);
    return ret;
}

int drill_read_events(const char *path, DrillEvent **pev, int *nb)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    DrillEvent *ev = NULL;
    int cap = 0;

    *pev = NULL;
    *nb = 0;
    if (!f)
        return errno == ENOENT ? 0 : AVERROR(errno);
    while (fgets(line, sizeof(line), f)) {
        if (*nb == cap) {
            DrillEvent *v = av_realloc_array(ev, cap ? 2 * cap : 256, sizeof(*ev));
            if (!v) {
                av_free(ev);
                fclose(f);
                return AVERROR(ENOMEM);
            }
            ev = v;
            cap = cap ? 2 * cap : 256;
        }
        /* a line cut short by a crash is not an event */
        if (drill_parse_event(line, &ev[*nb]) == 0)
            (*nb)++;
    }
    fclose(f);
    *pev = ev;
    return 0;
}

void drill_report_free(DrillReport *rep)
{
    if (!rep)
        return;
    for (int s = 0; s < rep->nb_streams; s++)
        av_freep(&rep->streams[s].outputs);
    av_freep(&rep->streams);
    rep->nb_streams = 0;
}

int drill_read_report(const char *path, DrillReport *rep)
{
    json_t *root, *streams;
    size_t i, k;
    json_t *js, *jo;

    memset(rep, 0, sizeof(*rep));
    rep->exit = -1;
    root = json_load_file(path, 0, NULL);
    if (!root)
        return 0;                 /* none: the run did not get to write it */
    streams = json_object_get(root, "streams");
    rep->exit = (int)json_integer_value(json_object_get(root, "exit"));
    rep->elapsed_s = json_number_value(json_object_get(root, "elapsed_s"));
    rep->streams = av_calloc(FFMAX(json_array_size(streams), 1), sizeof(*rep->streams));
    if (!rep->streams)
        goto fail;
    json_array_foreach(streams, i, js) {
        DrillStreamFigures *sf = &rep->streams[rep->nb_streams++];
        json_t *outs = json_object_get(js, "outputs");
        av_strlcpy(sf->name, json_string_value(json_object_get(js, "name")) ?
                   json_string_value(json_object_get(js, "name")) : "", sizeof(sf->name));
        sf->outputs = av_calloc(FFMAX(json_array_size(outs), 1), sizeof(*sf->outputs));
        if (!sf->outputs)
            goto fail;
        json_array_foreach(outs, k, jo) {
            DrillOutputFigures *of = &sf->outputs[sf->nb_outputs++];
            const char *name = json_string_value(json_object_get(jo, "name"));
            av_strlcpy(of->name, name ? name : "", sizeof(of->name));
            of->frames = json_integer_value(json_object_get(jo, "frames"));
            of->frames_lost = json_integer_value(json_object_get(jo, "frames_lost"));
            of->switches = json_integer_value(json_object_get(jo, "switches"));
            of->errors = json_integer_value(json_object_get(jo, "errors"));
            of->failed = json_is_true(json_object_get(jo, "failed"));
        }
    }
    json_decref(root);
    return 0;
fail:
    json_decref(root);
    drill_report_free(rep);
    return AVERROR(ENOMEM);
}
