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
#include "cli/notify.h"
#include "core/event.h"
#include "ecg/ecg.h"
#include "fo/tick.h"
#include "job/job.h"
#include "core/log.h"
#include "core/pidfile.h"
#include "cli/progress.h"

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
static char exit_unlink_pid[4096];        /* --pid-file, likewise */

/* Exits at once, from a signal handler too (async-signal-safe calls only). */
static void exit_now(const char *msg, size_t len)
{
    ssize_t n = write(STDERR_FILENO, msg, len);

    (void)n;
    if (exit_unlink[0])
        unlink(exit_unlink);
    if (exit_unlink_pid[0])
        unlink(exit_unlink_pid);
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

static int steer_pin(void *opaque, const char *stream, const char *output,
                     const char *const *ids, int n, char *why, size_t why_size)
{
    return fo_steer_pin(opaque, stream, output, ids, n, why, why_size);
}

static int run_job(const Job *job, const char *progress_path, const char *events_path)
{
    Ecg *g = NULL;
    Control *ctl = NULL;
    EventLog *events = NULL;
    Progress *pg = NULL;
    Tick *tick = NULL;
    Notify *nt = NULL;            /* systemd's notify socket, when it runs us */
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
    if ((ret = ecg_alloc(&g, job, events, &stop_requested)) < 0 ||
        (ret = notify_alloc(&nt, job, g)) < 0)
        goto end;

    if ((ret = tick_alloc(&tick, job, g, events)) < 0) {
        notify_free(&nt);
        ecg_free(&g);
        progress_free(&pg);
        evlog_free(&events);
        control_free(&ctl);
        return HS_EXIT_USAGE;
    }
    if (tick_steering(tick)) {
        hooks.steer = steer_pin;
        hooks.steer_opaque = tick_steering(tick);
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
                notify_stopping(nt);
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
        tick_run(tick, now, 0);
        notify_update(nt, tick, now);
        av_usleep(RUN_POLL_US);
    }
    notify_stopping(nt);          /* the streams ended on their own */
    failed = ecg_join(g);
    progress_report(pg, ecg_pipelines(g), nb, av_gettime_relative() - start, 1);
    /* the last figures, then the store is closed: after the streams' end
     * events, before the event log goes */
    tick_run(tick, av_gettime_relative(), 1);
    tick_stop(tick);
    ret = 0;

end:
    /* the control thread reads the graph: it ends first */
    control_stop(ctl);
    tick_stop(tick);
    ecg_free(&g);
    progress_free(&pg);
    evlog_free(&events);
    control_free(&ctl);           /* its sink is called until the event log goes */
    tick_free(&tick);             /* likewise (the orchestrator's sink) */
    notify_free(&nt);
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

/* --pid-file: taken before anything starts, so that a second run of the
 * service is refused like a second one on the control socket (exit 2). */
static int pid_file_take(const char *path)
{
    char err[4200];
    int ret = pidfile_write(path, err, sizeof(err));

    if (ret < 0) {
        fprintf(stderr, "hotspare run: %s\n", err);
        return HS_EXIT_USAGE;
    }
    if (ret > 0)
        av_log(NULL, AV_LOG_INFO, "%s\n", err);
    av_strlcpy(exit_unlink_pid, path, sizeof(exit_unlink_pid));
    return 0;
}

static int run_exec(int argc, char **argv)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        { "progress", required_argument, 0, 'p' },
        { "events",   required_argument, 0, 'e' },
        { "pid-file", required_argument, 0, 'P' },
        { 0, 0, 0, 0 },
    };
    const char *progress_path = NULL, *events_path = NULL, *pid_path = NULL;
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
        case 'P':
            pid_path = optarg;
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
    if (!pid_path || !(ret = pid_file_take(pid_path)))
        ret = run_job(job, progress_path, events_path);
    pidfile_remove(pid_path);
    job_free(&job);
    return ret;
}

const CmdEntry cmd_run_entry = {
    .name    = "run",
    .usage   = "[--progress FILE|-] [--events FILE] [--pid-file FILE] JOB.yaml",
    .summary = "run a job until its streams end, its duration passes, or SIGINT/SIGTERM",
    .help    = "Options:\n"
               "  --progress FILE|-   write ffmpeg-compatible progress blocks (key=value, one\n"
               "                      block per stream every 0.5 s, opened by stream=NAME)\n"
               "  --events FILE       append component events (failures, starts, ends) as\n"
               "                      JSON lines\n"
               "  --pid-file FILE     write the process id to FILE, removed at exit; a FILE\n"
               "                      naming a running hotspare is refused (exit 2)\n\n"
               "The first SIGINT/SIGTERM stops the inputs and lets every output finish\n"
               "(trailers written, HLS playlists closed); a second one exits at once.\n"
               "The run serves a control socket for hotspare ctl (supervisor: { control:\n"
               "PATH }, default $XDG_RUNTIME_DIR/hotspare/JOB.sock, else ./JOB.sock); a\n"
               "second run of the job on the same socket is refused (exit 2).\n"
               "Exit status: 0 ok, 1 a stream failed for good, 2 usage or job error,\n"
               "255 stopped by a signal or hotspare ctl stop.\n"
               "Under systemd (Type=notify, $NOTIFY_SOCKET): READY=1 once every stream's\n"
               "outputs are on air (or failed), STATUS= a one-line summary, WATCHDOG=1 while\n"
               "the tick and every stage's heartbeat move (WatchdogSec=), STOPPING=1 on stop.\n"
               "See samples/systemd/hotspare@.service.\n",
    .exec    = run_exec,
};
