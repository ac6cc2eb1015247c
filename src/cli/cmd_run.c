/*
 * cmd_run.c: "hotspare run JOB.yaml": runs every stream of a job in this
 * process until the streams end, their duration passes, or a signal.
 *
 * SIGINT/SIGTERM: the first stops the inputs; the streams then unwind and
 * every output writes its trailer (HLS ENDLIST, MP4 moov) before the
 * process exits 255. A second signal exits at once.
 */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "cli/cmd.h"
#include "core/event.h"
#include "hds/hds.h"
#include "job/job.h"
#include "core/log.h"
#include "hma/metrics.h"
#include "plane/pipeline.h"
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

static void on_signal(int sig)
{
    if (atomic_fetch_add(&signals_received, 1) >= 1) {
        static const char msg[] = "\nhotspare: second signal, exiting now\n";
        ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
        (void)n;
        _exit(HS_EXIT_SIGNAL);
    }
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

static int supervision_start(Supervision *sv, const Job *job, Pipeline **pl, int nb,
                             EventLog *events)
{
    const JobSupervisor *js = &job->supervisor;
    int ret;

    prediction_start(sv, js);
    sv->events = events;
    if (!js->hds_path && !js->metrics_addr && !sv->pred)
        return 0;
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
    if ((ret = sampler_alloc(&sv->sampler, job, pl, nb)) < 0)
        return ret;
    sampler_set_events(sv->sampler, events);
    return 0;
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
}

static int run_job(const Job *job, const char *progress_path, const char *events_path)
{
    Pipeline **pl = NULL;
    EventLog *events = NULL;
    Progress *pg = NULL;
    Supervision sv = { 0 };
    int64_t start, last_report = 0, stop_at = 0;
    int ret, failed = 0, nb = 0;

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
    pl = av_calloc(job->nb_streams, sizeof(*pl));
    if (!pl) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    for (nb = 0; nb < job->nb_streams; nb++) {
        ret = pipeline_alloc(&pl[nb], &job->streams[nb], events, &stop_requested);
        if (ret < 0)
            goto end;
    }

    if ((ret = supervision_start(&sv, job, pl, nb, events)) < 0) {
        supervision_stop(&sv);
        for (int i = 0; i < nb; i++)
            pipeline_free(&pl[i]);
        av_free(pl);
        progress_free(&pg);
        evlog_free(&events);
        return HS_EXIT_USAGE;
    }

    install_signals();
    start = av_gettime_relative();
    for (int i = 0; i < nb; i++) {
        ret = pipeline_start(pl[i]);
        if (ret < 0) {
            atomic_store(&stop_requested, 1);
            break;
        }
    }
    av_log(NULL, AV_LOG_INFO, "running %d stream%s of %s\n", nb, nb == 1 ? "" : "s", job->path);

    for (;;) {
        int64_t now = av_gettime_relative();
        int running = 0;

        for (int i = 0; i < nb; i++)
            running += !pipeline_finished(pl[i]);
        if (!running)
            break;
        if (atomic_load(&stop_requested)) {
            if (!stop_at) {
                stop_at = now;
                av_log(NULL, AV_LOG_INFO, "stopping: inputs closed, outputs finishing\n");
            } else if (now - stop_at > RUN_STOP_GRACE_US) {
                av_log(NULL, AV_LOG_FATAL, "the streams did not finish within %d s of the stop; exiting\n",
                       (int)(RUN_STOP_GRACE_US / 1000000));
                _exit(HS_EXIT_SIGNAL);
            }
        }
        if (now - last_report >= RUN_PROGRESS_US) {
            progress_report(pg, pl, nb, now - start, 0);
            last_report = now;
        }
        supervision_tick(&sv, job, now, 0);
        av_usleep(RUN_POLL_US);
    }
    for (int i = 0; i < nb; i++)
        if (pipeline_join(pl[i]) < 0)
            failed++;
    progress_report(pg, pl, nb, av_gettime_relative() - start, 1);
    /* the last figures, then the store is closed: after the streams' end
     * events, before the event log goes */
    supervision_tick(&sv, job, av_gettime_relative(), 1);
    supervision_stop(&sv);
    ret = 0;

end:
    supervision_stop(&sv);
    for (int i = 0; i < nb; i++)
        pipeline_free(&pl[i]);
    av_free(pl);
    progress_free(&pg);
    evlog_free(&events);
    if (ret < 0) {
        av_log(NULL, AV_LOG_FATAL, "cannot run the job: %s\n", av_err2str(ret));
        return HS_EXIT_FAILED;
    }
    if (atomic_load(&signals_received))
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
    JobDiag diag = { 0 };
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

    ret = job_load(argv[optind], &job, &diag);
    for (int m = 0; m < diag.nb_msgs; m++)
        fprintf(stderr, "%s\n", diag.msgs[m]);
    if (ret < 0 && !diag.nb_msgs)
        fprintf(stderr, "%s: %s\n", argv[optind], av_err2str(ret));
    job_diag_free(&diag);
    if (ret < 0)
        return HS_EXIT_USAGE;
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
               "Exit status: 0 ok, 1 a stream failed for good, 2 usage or job error,\n"
               "255 stopped by a signal.\n",
    .exec    = run_exec,
};
