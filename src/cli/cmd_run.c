/*
 * cmd_run.c: "hotspare run JOB.yaml": runs every stream of a job in this
 * process until the streams end, their duration passes, or a signal.
 *
 * SIGINT/SIGTERM: the first stops the inputs; the streams then unwind and
 * every output writes its trailer (HLS ENDLIST, MP4 moov) before the
 * process exits 255. A second signal exits at once. `hotspare ctl stop`
 * and `stop --now` on the control socket do the same.
 */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "cli/cmd.h"
#include "cli/control.h"
#include "core/event.h"
#include "ecg/ecg.h"
#include "fo/fo.h"
#include "hds/hds.h"
#include "job/job.h"
#include "core/log.h"
#include "hma/metrics.h"
#include "pfm/predictor.h"
#include "cli/progress.h"
#include "hma/sampler.h"

/* How often the loop looks at the streams, and reports progress
 * (ffmpeg's -stats_period default). */
#define RUN_POLL_US          100000
#define RUN_PROGRESS_US      500000
/* After a stop, every blocking call still has its own deadline; this bounds
 * the whole unwinding in case something does not honour one. */
#define RUN_STOP_GRACE_US    (30 * 1000000LL)

static _Atomic int stop_requested;
static _Atomic int signals_received;
static _Atomic int ctl_stopped;           /* hotspare ctl stop */
/* The control socket, removed by the exits that skip every cleanup (set
 * before the signals are installed, read-only after). */
static char exit_unlink[128];

/* Exits at once, from a signal handler too (async-signal-safe calls only). */
static void exit_now(const char *msg, size_t len)
{
    ssize_t n = write(STDERR_FILENO, msg, len);

    (void)n;
    if (exit_unlink[0])
        unlink(exit_unlink);
    _exit(HS_EXIT_SIGNAL);
}

static void on_signal(int sig)
{
    if (atomic_fetch_add(&signals_received, 1) >= 1) {
        static const char msg[] = "\nhotspare: second signal, exiting now\n";
        exit_now(msg, sizeof(msg) - 1);
    }
    atomic_store(&stop_requested, 1);
}

/* The control socket's stop and stop --now: as a first and a second signal. */
static void on_ctl_stop(void *opaque, int now)
{
    if (now) {
        static const char msg[] = "hotspare: stop --now on the control socket, exiting now\n";
        exit_now(msg, sizeof(msg) - 1);
    }
    atomic_store(&ctl_stopped, 1);
    atomic_store(&stop_requested, 1);
}

static void install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* a peer that closes its socket is an error on write, not a death */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* The historical data store and the metrics endpoint, when the job asks
 * for them, and the failure model, unless the job turns it off; all are
 * fed by the sampler every tick, the model first so that the others carry
 * its risk. */
typedef struct Supervision {
    Sampler *sampler;
    Predictor *pred;
    EventLog *events;
    Hds *hds;
    Metrics *metrics;
    int64_t next_tick;
    Ecg *g;                      /* not owned: gets each tick's figures */
    Fo *fo;                      /* acts on them */
    struct NodePrev {            /* per node of g: a counter's last value */
        double count;
        int64_t at_us;
        int source;              /* inputs: the source it was counted on */
    } *prev;
} Supervision;

/* The job's model, or the default one. A model that cannot be used is not
 * a reason to stop a live job: the run goes on without prediction and
 * says so. */
static void prediction_start(Supervision *sv, const JobSupervisor *js)
{
    char path[4096], why[256];
    Model *m = NULL;
    const char *p = js->model_path;

    if (js->prediction_off) {
        av_log(NULL, AV_LOG_INFO, "failure prediction is off (supervisor: model: none)\n");
        return;
    }
    if (!p) {
        if (predictor_default_model(path, sizeof(path)) < 0) {
            av_log(NULL, AV_LOG_INFO, "no failure model installed (models/default.hsm): "
                   "running without prediction\n");
            return;
        }
        p = path;
    }
    if (model_load(p, &m, NULL) < 0) {
        av_log(NULL, AV_LOG_WARNING, "the failure model %s cannot be used (see above): "
               "running without prediction\n", p);
        return;
    }
    if (predictor_model_fits(m, why, sizeof(why)) < 0) {
        av_log(NULL, AV_LOG_WARNING, "the failure model %s cannot be used: %s; running without "
               "prediction\n", p, why);
        model_free(&m);
        return;
    }
    if (predictor_alloc(&sv->pred, &m) < 0) {
        model_free(&m);
        av_log(NULL, AV_LOG_WARNING, "out of memory for the failure model: running without prediction\n");
        return;
    }
    av_log(NULL, AV_LOG_INFO, "failure prediction with %s (horizon %d s, provisioning above %.2f)\n",
           p, predictor_model(sv->pred)->horizon_s, predictor_model(sv->pred)->thr_high);
}

/* with_control: a control socket shows each tick's figures, so the tick
 * runs even without a store, an endpoint or a model. */
static int supervision_start(Supervision *sv, const Job *job, Ecg *g, EventLog *events,
                             int with_control)
{
    const JobSupervisor *js = &job->supervisor;
    int ret;

    prediction_start(sv, js);
    sv->events = events;
    sv->g = g;
    if (!js->hds_path && !js->metrics_addr && !sv->pred && !with_control)
        return 0;
    sv->prev = av_calloc(ecg_nb_nodes(g), sizeof(*sv->prev));
    if (!sv->prev)
        return AVERROR(ENOMEM);
    /* the orchestrator: without a model no risk is known, and it does
     * nothing on risk (thresholds out of reach) */
    ret = fo_alloc(&sv->fo, g, job, sv->pred ? predictor_model(sv->pred)->thr_high : 2.0f,
                   sv->pred ? predictor_model(sv->pred)->thr_low : -1.0f,
                   FO_DEFAULT_MAX_PROVISIONED, events);
    if (ret < 0)
        return ret;
    evlog_add_sink(events, fo_event_sink, sv->fo);
    if (js->hds_path) {
        HdsConfig hc;
        hds_config_init(&hc);
        hc.path = js->hds_path;
        hc.retention_us = js->hds_retention_us;
        hc.raw_window_us = js->hds_raw_window_us;
        hc.tick_us = js->tick_us;
        if ((ret = hds_open(&sv->hds, &hc)) < 0) {
            fprintf(stderr, "hotspare run: cannot use the data store %s: %s\n", js->hds_path,
                    av_err2str(ret));
            return ret;
        }
        evlog_add_sink(events, hds_event_sink, sv->hds);
    }
    if (js->metrics_addr && (ret = metrics_start(&sv->metrics, js->metrics_addr,
                                                 js->metrics_allow_remote)) < 0) {
        fprintf(stderr, "hotspare run: cannot serve metrics on %s: %s\n", js->metrics_addr,
                av_err2str(ret));
        return ret;
    }
    if ((ret = sampler_alloc(&sv->sampler, job, ecg_pipelines(g), ecg_nb_streams(g))) < 0)
        return ret;
    sampler_set_events(sv->sampler, events);
    return 0;
}

/* A counter's rate since the last tick; < 0 for the first, or after the
 * counter went back (another source) or came from elsewhere. */
static double counter_rate(struct NodePrev *p, double count, int source, int64_t now)
{
    double rate = -1;

    if (p->at_us && p->source == source && count >= p->count && now > p->at_us)
        rate = (count - p->count) * 1e6 / (now - p->at_us);
    p->count = count;
    p->at_us = now;
    p->source = source;
    return rate;
}

/* The tick's figures for the graph (status, graphs): risk, rate, queue of
 * every input, encoder and output. An input's are those of the source in
 * use; edges have no figures of their own yet. */
static void supervision_note(Supervision *sv, const Sample *s, int64_t now)
{
    static const int risk_of[COMP_NB_KINDS] = {
        [COMP_INGEST] = IM_FAILURE_RISK, [COMP_ENCODER] = EM_FAILURE_RISK,
        [COMP_OUTPUT] = OM_FAILURE_RISK,
    };

    for (int k = 0; k < s->nb_comps; k++) {
        const SampleComp *c = &s->comps[k];
        EcgFigures f = { .risk = -1, .rate = -1, .queue = -1, .at_us = now };
        CompId id = { .kind = c->kind, .instance = COMP_WHOLE };
        int i;

        if (c->kind != COMP_INGEST && c->kind != COMP_ENCODER && c->kind != COMP_OUTPUT)
            continue;
        av_strlcpy(id.stream, c->stream, sizeof(id.stream));
        av_strlcpy(id.name, c->name, sizeof(id.name));
        if ((i = ecg_find(sv->g, &id)) < 0)
            continue;
        if (c->kind == COMP_INGEST) {
            CompStatus st;
            ecg_status(sv->g, i, &st);
            if (c->backup != FFMAX(st.active, 0))
                continue;         /* a source not in use */
        }
        if (sample_has(c, risk_of[c->kind]))
            f.risk = c->v[risk_of[c->kind]];
        switch (c->kind) {
        case COMP_INGEST:
            if (sample_has(c, IM_PACKETS))
                f.rate = counter_rate(&sv->prev[i], c->v[IM_PACKETS], c->backup, now);
            break;
        case COMP_ENCODER:
            if (sample_has(c, EM_FPS))
                f.rate = c->v[EM_FPS];
            if (sample_has(c, EM_QUEUE_DEPTH))
                f.queue = (int)c->v[EM_QUEUE_DEPTH];
            break;
        default:
            if (sample_has(c, OM_PACKETS))
                f.rate = counter_rate(&sv->prev[i], c->v[OM_PACKETS], 0, now);
            if (sample_has(c, OM_QUEUE_DEPTH))
                f.queue = (int)c->v[OM_QUEUE_DEPTH];
            break;
        }
        ecg_note(sv->g, i, &f);
    }
}

/* One tick when it is due (or now, with force). */
static void supervision_tick(Supervision *sv, const Job *job, int64_t now, int force)
{
    Sample *s;

    if (!sv->sampler || (!force && now < sv->next_tick))
        return;
    sv->next_tick = (sv->next_tick ? sv->next_tick : now) + job->supervisor.tick_us;
    if (sv->next_tick < now)
        sv->next_tick = now + job->supervisor.tick_us;   /* late: no burst of ticks */
    s = sampler_tick(sv->sampler);
    if (sv->pred)
        predictor_tick(sv->pred, s, sv->events);
    supervision_note(sv, s, now);
    if (sv->fo)
        fo_tick(sv->fo, now);
    if (sv->hds)
        hds_put_sample(sv->hds, s);
    if (sv->metrics)
        metrics_publish(sv->metrics, s);
}

static void supervision_stop(Supervision *sv)
{
    metrics_stop(&sv->metrics);
    hds_close(&sv->hds);
    predictor_free(&sv->pred);
    sampler_free(&sv->sampler);
    av_freep(&sv->prev);
    fo_stop(sv->fo);             /* freed after the event log: it is a sink */
}

/*
 * The control socket, before anything starts: a live one at the path is
 * another run of this job (exit 2, nothing started). One that cannot be
 * made otherwise stops the run only when the job names it; the default's
 * failing is said and the job runs without.
 */
static int control_open(Control **pctl, const Job *job, EventLog *events)
{
    char path[4096], err[1024];
    int ret;

    ret = control_socket_path(job, 1, path, sizeof(path), err, sizeof(err));
    if (ret >= 0)
        ret = control_alloc(pctl, path, events, err, sizeof(err));
    if (ret >= 0) {
        av_strlcpy(exit_unlink, path, sizeof(exit_unlink));
        av_log(NULL, AV_LOG_VERBOSE, "control socket: %s\n", path);
        return 0;
    }
    if (ret == AVERROR(EADDRINUSE) || job->supervisor.control_path) {
        fprintf(stderr, "hotspare run: %s\n", err);
        return ret;
    }
    av_log(NULL, AV_LOG_WARNING, "%s: running without a control socket\n", err);
    return 0;
}

static int run_job(const Job *job, const char *progress_path, const char *events_path)
{
    Ecg *g = NULL;
    Control *ctl = NULL;
    EventLog *events = NULL;
    Progress *pg = NULL;
    Supervision sv = { 0 };
    ControlHooks hooks = { .stop = on_ctl_stop };
    int64_t start, last_report = 0, stop_at = 0;
    int ret, failed = 0, nb = job->nb_streams;

    ret = evlog_alloc(&events, events_path);
    if (ret < 0) {
        fprintf(stderr, "hotspare run: cannot open the event file %s: %s\n", events_path, av_err2str(ret));
        return HS_EXIT_USAGE;
    }
    ret = progress_alloc(&pg, progress_path, 1);
    if (ret < 0) {
        fprintf(stderr, "hotspare run: cannot open the progress file %s: %s\n", progress_path, av_err2str(ret));
        evlog_free(&events);
        return HS_EXIT_USAGE;
    }
    if (control_open(&ctl, job, events) < 0) {
        progress_free(&pg);
        evlog_free(&events);
        return HS_EXIT_USAGE;
    }
    if ((ret = ecg_alloc(&g, job, events, &stop_requested)) < 0)
        goto end;

    if ((ret = supervision_start(&sv, job, g, events, ctl != NULL)) < 0) {
        supervision_stop(&sv);
        ecg_free(&g);
        progress_free(&pg);
        evlog_free(&events);
        control_free(&ctl);
        fo_free(&sv.fo);
        return HS_EXIT_USAGE;
    }
    if (ctl && (ret = control_start(ctl, g, &hooks)) < 0)
        goto end;

    install_signals();
    start = av_gettime_relative();
    if (ecg_start(g) < 0)
        atomic_store(&stop_requested, 1);
    av_log(NULL, AV_LOG_INFO, "running %d stream%s of %s\n", nb, nb == 1 ? "" : "s", job->path);

    for (;;) {
        int64_t now = av_gettime_relative();

        if (ecg_finished(g))
            break;
        if (atomic_load(&stop_requested)) {
            if (!stop_at) {
                stop_at = now;
                av_log(NULL, AV_LOG_INFO, "stopping: inputs closed, outputs finishing\n");
            } else if (now - stop_at > RUN_STOP_GRACE_US) {
                static const char msg[] = "hotspare: the streams did not finish in time after the "
                                          "stop; exiting\n";
                exit_now(msg, sizeof(msg) - 1);
            }
        }
        if (now - last_report >= RUN_PROGRESS_US) {
            progress_report(pg, ecg_pipelines(g), nb, now - start, 0);
            last_report = now;
        }
        supervision_tick(&sv, job, now, 0);
        av_usleep(RUN_POLL_US);
    }
    failed = ecg_join(g);
    progress_report(pg, ecg_pipelines(g), nb, av_gettime_relative() - start, 1);
    /* the last figures, then the store is closed: after the streams' end
     * events, before the event log goes */
    supervision_tick(&sv, job, av_gettime_relative(), 1);
    supervision_stop(&sv);
    ret = 0;

end:
    /* the control thread reads the graph: it ends first */
    control_stop(ctl);
    supervision_stop(&sv);
    ecg_free(&g);
    progress_free(&pg);
    evlog_free(&events);
    control_free(&ctl);           /* its sink is called until the event log goes */
    fo_free(&sv.fo);              /* likewise */
    if (ret < 0) {
        av_log(NULL, AV_LOG_FATAL, "cannot run the job: %s\n", av_err2str(ret));
        return HS_EXIT_FAILED;
    }
    if (atomic_load(&signals_received) || atomic_load(&ctl_stopped))
        return HS_EXIT_SIGNAL;
    if (failed) {
        av_log(NULL, AV_LOG_ERROR, "%d of %d stream%s failed\n", failed, nb, nb == 1 ? "" : "s");
        return HS_EXIT_FAILED;
    }
    return HS_EXIT_OK;
}

static int run_exec(int argc, char **argv)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        { "progress", required_argument, 0, 'p' },
        { "events",   required_argument, 0, 'e' },
        { 0, 0, 0, 0 },
    };
    const char *progress_path = NULL, *events_path = NULL;
    Job *job = NULL;
    int c, ret;

    while ((c = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS "p:e:", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cmd_print_help(&cmd_run_entry);
            return HS_EXIT_OK;
        case 'p':
            progress_path = optarg;
            break;
        case 'e':
            events_path = optarg;
            break;
        default:
            if (cmd_common_option(c, optarg) <= 0)
                return cmd_usage_error(&cmd_run_entry, "bad option");
        }
    }
    if (optind != argc - 1)
        return cmd_usage_error(&cmd_run_entry, optind >= argc ? "no job file given" : "one job file at a time");

    if ((ret = cmd_load_job(argv[optind], &job)))
        return ret;
    ret = run_job(job, progress_path, events_path);
    job_free(&job);
    return ret;
}

const CmdEntry cmd_run_entry = {
    .name    = "run",
    .usage   = "[--progress FILE|-] [--events FILE] JOB.yaml",
    .summary = "run a job until its streams end, its duration passes, or SIGINT/SIGTERM",
    .help    = "Options:\n"
               "  --progress FILE|-   write ffmpeg-compatible progress blocks (key=value, one\n"
               "                      block per stream every 0.5 s, opened by stream=NAME)\n"
               "  --events FILE       append component events (failures, starts, ends) as\n"
               "                      JSON lines\n\n"
               "The first SIGINT/SIGTERM stops the inputs and lets every output finish\n"
               "(trailers written, HLS playlists closed); a second one exits at once.\n"
               "The run serves a control socket for hotspare ctl (supervisor: { control:\n"
               "PATH }, default $XDG_RUNTIME_DIR/hotspare/JOB.sock, else ./JOB.sock); a\n"
               "second run of the job on the same socket is refused (exit 2).\n"
               "Exit status: 0 ok, 1 a stream failed for good, 2 usage or job error,\n"
               "255 stopped by a signal or hotspare ctl stop.\n",
    .exec    = run_exec,
};
