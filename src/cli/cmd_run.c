/*
 * cmd_run.c: "hotspare run JOB.yaml": runs every stream of a job in this
 * process until the streams end, their duration passes, or a signal.
 *
 * SIGINT/SIGTERM: the first stops the inputs; the streams then unwind and
 * every output writes its trailer (HLS ENDLIST, MP4 moov) before the
 * process exits 255. A second signal exits at once. `hotspare ctl stop`
 * and `stop --now` on the control socket do the same.
 *
 * SIGHUP and `hotspare ctl reload` read the job again (cli/reload.h): what
 * did not change runs on untouched, a job with problems is refused and the
 * running one goes on.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/file.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "config.h"
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
#include "cli/reload.h"
#include "cli/run_report.h"
#include "dra/fleet.h"

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
static _Atomic int reload_hup;            /* SIGHUP: read the job again */
static _Atomic uint32_t reload_seq;       /* ctl reload: its request's seq */
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

static void on_hup(int sig)
{
    atomic_store(&reload_hup, 1);
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
    /* SIGHUP's default ends the process: a systemctl reload or a log
     * rotation script would take every stream off the air */
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
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

/* What the command line asks of a run besides the job. */
typedef struct RunOpts {
    const char *progress_path;
    const char *events_path;
    const char *report_path;      /* --report: JSON at the end */
    int fast;                     /* --fast: unpaced inputs, at each reload too */
    const char *fleet_arg;        /* --fleet: replaces supervisor.fleet */
} RunOpts;

/* SIGHUP and ctl reload: the job is read again at the loop's next turn.
 * A ctl reload's seq rides on the outcome event; two asked before the
 * loop turns share one reload and its seq. */
/* ctl drain (the control thread): the fleet hands its streams over */
static int ctl_drain(void *opaque, char *why, size_t why_size)
{
    Fleet *f = opaque;
    FleetState st;
    int ret;

    fleet_state(f, &st);
    if ((ret = fleet_drain(f)) < 0) {
        snprintf(why, why_size, "%s", av_err2str(ret));
        return ret;
    }
    return av_popcount64(st.upload);
}

static int64_t ctl_reload(void *opaque, char *why, size_t why_size)
{
    uint32_t seq = atomic_load(&reload_seq), none = 0;

    if (!seq) {
        seq = comp_next_seq();
        if (!atomic_compare_exchange_strong(&reload_seq, &none, seq))
            seq = none;
    }
    return seq;
}

/* ---- fleet mode (README, "Fleet") ---------------------------------------
 * The fleet thread (dra/fleet.h) says which of the fleet's streams (the
 * job file's and those placed on the fleet) this node leads; the loop runs
 * exactly those: the job file read again, the placed jobs' streams added,
 * the others dropped, applied as a reload applies a job (unchanged
 * streams run on untouched, new ones start, dropped ones end). */

/* Is stream name run here (a slot of the fleet's state, its bit set)? */
static int fleet_keeps(void *opaque, const char *name)
{
    const FleetState *st = opaque;

    for (int s = 0; s < st->nb_slots; s++)
        if (!strcmp(st->stream[s], name))
            return !!(st->run & (1ULL << s));
    return 0;
}

/* Fleet mode's job: every HLS and DASH output epoch-locked (a stream's
 * segments are cut and named alike on every node), and their uploads
 * name the node in their User-Agent (unless the job sets one), so that an
 * origin's access log shows which node wrote what. A DASH output written
 * to local files cannot be epoch-locked (libav renames its own segment
 * files there, epoch_io.h): its names carry the node and the time it
 * started the stream instead, so that a takeover never writes over the
 * segments players may still be reading. */
static void fleet_lock_outputs(Job *job, const char *node)
{
    char ua[128];

    snprintf(ua, sizeof(ua), "hotspare/%s fleet-node/%s", HS_VERSION, node);
    for (int s = 0; s < job->nb_streams; s++)
        for (int i = 0; i < job->streams[s].nb_outputs; i++) {
            JobOutput *o = &job->streams[s].outputs[i];
            int dash = !strcmp(o->format, "dash");
            if (dash && !job_url_is_network(o->url)) {
                if (!o->run_tag)
                    o->run_tag = av_asprintf("%s-%" PRId64, node, av_gettime() / 1000000);
            } else if (dash || !strcmp(o->format, "hls")) {
                o->epoch_lock = 1;
            } else {
                continue;
            }
            av_dict_set(&o->options, "http_user_agent", ua, AV_DICT_DONT_OVERWRITE);
            for (int b = 0; b < o->nb_backups; b++)
                av_dict_set(&o->backups[b].options, "http_user_agent", ua, AV_DICT_DONT_OVERWRITE);
        }
}

/* The text of the job file as it last loaded. */
typedef struct FleetText {
    uint8_t *buf;
    size_t size;
} FleetText;

/* Adds the streams of the jobs placed on the fleet, in key order, but
 * for the names nj has already (the fleet thread loaded each text
 * already: one that fails now is out of memory, and the loop tries
 * again). 0 or a negative AVERROR. */
static int fleet_add_placed(Job *nj, Fleet *fleet)
{
    FleetJobText *t = NULL;
    int nb = 0, ret = fleet_placed(fleet, &t, &nb);

    for (int i = 0; ret >= 0 && i < nb; i++) {
        Job *pj = NULL;
        if ((ret = job_load_buffer(t[i].name, t[i].text, t[i].size, &pj, NULL)) >= 0)
            ret = job_adopt_streams(nj, &pj);
    }
    fleet_placed_free(&t, nb);
    return ret < 0 ? ret : 0;
}

/* The job with only the streams st runs: the file read again, the placed
 * jobs' streams added. A file that no longer loads (being edited,
 * deleted) is said, and the job runs as it last loaded: a node that took
 * a stream must run it. NULL only when even that fails (out of memory):
 * the caller tries again. */
static Job *fleet_job(const Job *full, Fleet *fleet, FleetState *st, int fast, FleetText *txt)
{
    JobDiag diag = { 0 };
    Job *nj = NULL;
    uint8_t *map = NULL;
    size_t size = 0;
    int ret = av_file_map(full->path, &map, &size, 0, NULL);

    if (ret >= 0) {
        ret = job_load_buffer(full->path, map, size, &nj, &diag);
        if (ret >= 0) {
            uint8_t *copy = av_memdup(map, size);
            if (copy) {
                av_free(txt->buf);
                txt->buf = copy;
                txt->size = size;
            }
        }
        av_file_unmap(map, size);
    }
    if (ret < 0) {
        for (int m = 0; m < diag.nb_msgs; m++)
            av_log(NULL, AV_LOG_ERROR, "%s\n", diag.msgs[m]);
        if (!diag.nb_msgs)
            av_log(NULL, AV_LOG_ERROR, "%s: cannot read the job file: %s\n", full->path,
                   av_err2str(ret));
        job_diag_free(&diag);
        if (!txt->buf)
            return NULL;
        av_log(NULL, AV_LOG_WARNING, "%s does not load now: the streams run as the file last "
               "loaded\n", full->path);
        if (job_load_buffer(full->path, txt->buf, txt->size, &nj, &diag) < 0) {
            job_diag_free(&diag);
            return NULL;
        }
    }
    job_diag_free(&diag);
    /* the placed streams after the file's: a name the file has is its
     * (as in the fleet's stream set) */
    if (fleet_add_placed(nj, fleet) < 0) {
        job_free(&nj);
        return NULL;
    }
    job_keep_streams(nj, fleet_keeps, st);
    if (fast)
        job_unpace(nj);
    fleet_lock_outputs(nj, full->supervisor.fleet.node);
    return nj;
}

static int run_job(Job *job, const RunOpts *o)
{
    const char *progress_path = o->progress_path, *events_path = o->events_path;
    RunState *rs = NULL;
    Control *ctl = NULL;
    EventLog *events = NULL;
    Progress *pg = NULL;
    Notify *nt = NULL;            /* systemd's notify socket, when it runs us */
    ControlHooks hooks = { .stop = on_ctl_stop, .steer = steer_pin, .reload = ctl_reload };
    int64_t start = av_gettime_relative(), last_report = 0, stop_at = 0;
    int ret, code, failed = 0;
    Fleet *fleet = NULL;          /* fleet mode: which streams run here */
    Job *full = NULL;             /* fleet mode: the job as read, every stream */
    Job *first = NULL;
    uint64_t fleet_gen = 0;       /* the fleet state's generation applied */
    uint64_t fleet_run = 0;       /* the streams it runs, as applied */
    uint64_t fleet_placed_gen = 0;  /* the placed jobs, as applied */
    FleetText text = { 0 };       /* fleet mode: the job file as it last loaded */

    ret = evlog_alloc(&events, events_path);
    if (ret < 0) {
        fprintf(stderr, "hotspare run: cannot open the event file %s: %s\n", events_path, av_err2str(ret));
        job_free(&job);
        return HS_EXIT_USAGE;
    }
    ret = progress_alloc(&pg, progress_path, 1);
    if (ret < 0) {
        fprintf(stderr, "hotspare run: cannot open the progress file %s: %s\n", progress_path, av_err2str(ret));
        evlog_free(&events);
        job_free(&job);
        return HS_EXIT_USAGE;
    }
    if (job->supervisor.fleet.nb_etcd) {
        FleetState none = { 0 };
        /* a fleet node starts leading nothing: the fleet says what */
        if (fleet_alloc(&fleet, job, events) < 0 ||
            !(first = fleet_job(job, fleet, &none, o->fast, &text))) {
            fprintf(stderr, "hotspare run: cannot start the fleet node\n");
            fleet_free(&fleet);
            progress_free(&pg);
            evlog_free(&events);
            job_free(&job);
            return HS_EXIT_USAGE;
        }
        full = job;
        job = first;
        hooks.drain = ctl_drain;
        hooks.drain_opaque = fleet;
    }
    if (control_open(&ctl, job, events) < 0 || notify_alloc(&nt, job) < 0 ||
        runstate_alloc(&rs, job, events, &stop_requested, ctl, &hooks, o->fast) < 0) {
        notify_free(&nt);
        control_free(&ctl);
        fleet_free(&fleet);
        progress_free(&pg);
        evlog_free(&events);
        job_free(&job);
        job_free(&full);
        av_freep(&text.buf);
        return HS_EXIT_USAGE;
    }
    job = NULL;                   /* the run state's */

    install_signals();
    start = av_gettime_relative();
    if ((ret = runstate_start(rs)) < 0)
        atomic_store(&stop_requested, 1);
    if (fleet && (ret = fleet_start(fleet)) < 0)
        atomic_store(&stop_requested, 1);
    if (fleet)
        av_log(NULL, AV_LOG_INFO, "fleet node %s: the %d stream%s of %s and those placed on the "
               "fleet, run here while it leads them\n", fleet_node(fleet), full->nb_streams,
               full->nb_streams == 1 ? "" : "s", full->path);
    else
        av_log(NULL, AV_LOG_INFO, "running %d stream%s of %s\n", runstate_job(rs)->nb_streams,
               runstate_job(rs)->nb_streams == 1 ? "" : "s", runstate_job(rs)->path);

    for (;;) {
        int64_t now = av_gettime_relative();
        int stopping = atomic_load(&stop_requested);
        uint32_t seq = atomic_exchange(&reload_seq, 0);

        if (atomic_exchange(&reload_hup, 0) || seq) {
            if (stopping)
                evlog_emit_seq(events, "", "supervisor", EV_REFUSED, 0, seq,
                               "reload refused: the run is stopping");
            else if (fleet)       /* the file again, with the streams led */
                fleet_gen = ~0ULL;
            else
                runstate_reload(rs, seq);
        }
        if (fleet && !stopping) {
            FleetState st;
            uint64_t ready = 0;
            HostRisk host;
            Job *nj;
            /* a fence alone changes no pipeline */
            int applied = 1;
            fleet_state(fleet, &st);
            if (st.gen != fleet_gen && (st.run != fleet_run || fleet_gen == ~0ULL ||
                                        st.placed_gen != fleet_placed_gen)) {
                if ((nj = fleet_job(full, fleet, &st, o->fast, &text))) {
                    /* a stream no longer placed on the fleet ends for
                     * good: no other node goes on in its playlists */
                    for (int s = 0; s < st.nb_slots; s++)
                        if ((st.gone & (1ULL << s)) && st.stream[s][0] &&
                            ecg_has_stream(runstate_graph(rs), st.stream[s]))
                            ecg_end_stream(runstate_graph(rs), st.stream[s]);
                    av_log(NULL, AV_LOG_INFO, "fleet node %s runs %d of %d stream%s, %d of them "
                           "fenced\n", fleet_node(fleet), nj->nb_streams, st.nb_set,
                           st.nb_set == 1 ? "" : "s", av_popcount64(st.run & ~st.upload));
                    runstate_apply(rs, nj, seq);
                } else {
                    applied = 0;  /* again at the next turn of the loop */
                }
            }
            /* every loop: a stream replaced by a reload gets a new
             * pipeline, fenced from its start (its outputs open only
             * once its first packets are encoded, well after this) */
            for (int s = 0; s < st.nb_slots; s++)
                if ((st.run & (1ULL << s)) &&
                    ecg_fence_stream(runstate_graph(rs), st.stream[s],
                                     !(st.upload & (1ULL << s)), st.from_us[s], st.until_us[s],
                                     fleet_keep_us(fleet)))
                    ready |= 1ULL << s;
            fleet_set_ready(fleet, ready);
            /* a host at risk moves its streams away (fleet.h); a
             * reload's new tick knows nothing yet: the last risk holds */
            if (tick_host_risk(runstate_tick(rs), &host) >= 0)
                fleet_set_host_risk(fleet, &host);
            if (applied) {
                fleet_gen = st.gen;
                fleet_run = st.run;
                fleet_placed_gen = st.placed_gen;
            }
        }
        runstate_poll(rs, stopping);
        /* a fleet node leading nothing stays up, standing by */
        if (runstate_finished(rs, stopping) && (!fleet || stopping))
            break;
        if (stopping) {
            if (!stop_at) {
                stop_at = now;
                notify_stopping(nt, runstate_graph(rs));
                av_log(NULL, AV_LOG_INFO, "stopping: inputs closed, outputs finishing\n");
            } else if (now - stop_at > RUN_STOP_GRACE_US) {
                static const char msg[] = "hotspare: the streams did not finish in time after the "
                                          "stop; exiting\n";
                exit_now(msg, sizeof(msg) - 1);
            }
        }
        if (now - last_report >= RUN_PROGRESS_US) {
            progress_report(pg, ecg_pipelines(runstate_graph(rs)), runstate_job(rs)->nb_streams,
                            now - start, 0);
            last_report = now;
        }
        tick_run(runstate_tick(rs), now, 0);
        notify_update(nt, runstate_job(rs), runstate_graph(rs), runstate_tick(rs), now);
        av_usleep(RUN_POLL_US);
    }
    notify_stopping(nt, runstate_graph(rs));   /* the streams ended on their own */
    failed = runstate_join(rs);
    progress_report(pg, ecg_pipelines(runstate_graph(rs)), runstate_job(rs)->nb_streams,
                    av_gettime_relative() - start, 1);
    /* the last figures, then the store is closed: after the streams' end
     * events, before the event log goes */
    tick_run(runstate_tick(rs), av_gettime_relative(), 1);
    tick_stop(runstate_tick(rs));
    code = ret < 0 ? HS_EXIT_FAILED :
           atomic_load(&signals_received) || atomic_load(&ctl_stopped) ? HS_EXIT_SIGNAL :
           failed ? HS_EXIT_FAILED : HS_EXIT_OK;
    if (o->report_path)
        run_report_write(o->report_path, runstate_graph(rs), runstate_job(rs)->path, code,
                         av_gettime_relative() - start);
    if (failed)
        av_log(NULL, AV_LOG_ERROR, "%d of %d stream%s failed\n", failed, runstate_job(rs)->nb_streams,
               runstate_job(rs)->nb_streams == 1 ? "" : "s");
    if (ret < 0)
        av_log(NULL, AV_LOG_FATAL, "cannot run the job: %s\n", av_err2str(ret));

    /* the lease revoked: the others take over now, not a TTL from now */
    fleet_free(&fleet);
    av_freep(&text.buf);
    job_free(&full);
    /* the control thread reads the graph: it ends first */
    control_stop(ctl);
    runstate_free(&rs);           /* its sinks are off the event log */
    progress_free(&pg);
    evlog_free(&events);
    control_free(&ctl);           /* its sink is called until the event log goes */
    notify_free(&nt);
    return code;
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
        { "report",   required_argument, 0, 'r' },
        { "fast",     no_argument,       0, 'f' },
        { "pid-file", required_argument, 0, 'P' },
        { "fleet",    required_argument, 0, 'F' },
        { 0, 0, 0, 0 },
    };
    RunOpts o = { 0 };
    const char *pid_path = NULL;
    Job *job = NULL;
    int c, ret, fast = 0;

    while ((c = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS "p:e:", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cmd_print_help(&cmd_run_entry);
            return HS_EXIT_OK;
        case 'p':
            o.progress_path = optarg;
            break;
        case 'e':
            o.events_path = optarg;
            break;
        case 'r':
            o.report_path = optarg;
            break;
        case 'f':
            fast = 1;
            break;
        case 'P':
            pid_path = optarg;
            break;
        case 'F':
            o.fleet_arg = optarg;
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
    if (o.fleet_arg) {
        char why[300];
        if (job_fleet_from_arg(job, o.fleet_arg, why, sizeof(why)) < 0) {
            job_free(&job);
            return cmd_usage_error(&cmd_run_entry, why);
        }
    }
    if (fast)
        av_log(NULL, AV_LOG_INFO, "--fast: %d of %d stream%s read unpaced\n", job_unpace(job),
               job->nb_streams, job->nb_streams == 1 ? "" : "s");
    o.fast = fast;
    if (pid_path && (ret = pid_file_take(pid_path))) {
        job_free(&job);
        return ret;
    }
    ret = run_job(job, &o);       /* job consumed */
    pidfile_remove(pid_path);
    return ret;
}

const CmdEntry cmd_run_entry = {
    .name    = "run",
    .usage   = "[--progress FILE|-] [--events FILE] [--report FILE] [--fast]\n"
               "       [--pid-file FILE] [--fleet etcd=URL[,URL...],node=NAME[,lease=DUR]\n"
               "       [,prefix=P]] JOB.yaml",
    .summary = "run a job until its streams end, its duration passes, or SIGINT/SIGTERM",
    .help    = "Options:\n"
               "  --progress FILE|-   write ffmpeg-compatible progress blocks (key=value, one\n"
               "                      block per stream every 0.5 s, opened by stream=NAME)\n"
               "  --events FILE       append component events (failures, starts, ends) as\n"
               "                      JSON lines\n"
               "  --report FILE       at the end, write what the run did as JSON: per output\n"
               "                      the frames of its timeline written and lost, switches\n"
               "  --fast              read file and lavfi inputs unpaced, not at their native\n"
               "                      rate (drills: the same faults at the same frames, sooner)\n"
               "  --pid-file FILE     write the process id to FILE, removed at exit; a FILE\n"
               "                      naming a running hotspare is refused (exit 2)\n"
               "  --fleet SETTINGS    fleet mode (supervisor: { fleet: ... }): the nodes\n"
               "                      started with this job and etcd share its streams,\n"
               "                      each run by one node at a time (README, \"Fleet\")\n\n"
               "The first SIGINT/SIGTERM stops the inputs and lets every output finish\n"
               "(trailers written, HLS playlists closed); a second one exits at once.\n"
               "SIGHUP (or hotspare ctl reload) reads the job again: unchanged streams run\n"
               "on untouched, new ones start, removed ones end, changed ones are replaced;\n"
               "a job with problems is refused and the running one goes on.\n"
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
