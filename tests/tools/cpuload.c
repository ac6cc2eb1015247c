/*
 * cpuload: another process that wants the CPU, more and more, for the
 * fault harness (tests/lib/harness.sh). A host whose encoders slow down
 * because something else grows on it is a failure a predictor should see
 * coming; this makes one that can be measured and replayed.
 *
 *   cpuload [--threads N] [--from A] [--to B] [--ramp D] [--hold D]
 *           [--period D] [--nice N] [--log FILE]
 *
 * Each of N threads (default 1) burns CPU with a duty cycle that moves in a
 * straight line from A % to B % of one core (default 0 and 100) over D
 * (--ramp, default 0), then stays at B % for --hold (default 0), then the
 * process exits: ramp + hold is at least 10 ms and at most 1 h, so a test
 * that forgets it is not haunted for long. N threads at B % take N * B %
 * of one core: `--threads 2 --from 0 --to 90 --ramp 60s --hold 30s`.
 *
 * Every --period (default 100 ms) a thread spins until its own CPU time in
 * this period reaches duty * period, then sleeps to the end of the period.
 * Counting its CPU time, not the wall clock, keeps the share asked for
 * when other processes compete for the cores (up to the whole period).
 * The threads' periods are staggered by period / N, so that the load is a
 * steady pressure rather than N bursts at once. --nice N runs them at that
 * nice value: a batch job that yields (10), or, from root, a load that
 * takes its share before anything else (-10, what the tests use to measure
 * the tool on a shared machine). Linux's autogroups weigh sessions against
 * each other and nice orders only the processes of one session, so with
 * --nice it also starts a session of its own, at that nice.
 *
 * At exit it prints one line to stdout, what it did in CPU seconds, asked
 * (the duty cycles) and got (the threads' CPU clocks), over the ramp and
 * over the hold:
 *   cpuload: ended=done|signal threads=N wall_s=W cpu_s=C asked_s=A
 *            ramp_cpu_s= ramp_asked_s= hold_cpu_s= hold_asked_s=
 * With --log FILE, one line a second, in cores (1.0 = one core busy):
 *   T_S asked=X got=Y
 * SIGTERM, SIGINT and SIGHUP end it within one period, with the same line.
 * Exit status: 0 (also after a signal), 1 on a system error, 2 on bad
 * arguments.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/units.h"

#define CL_MAX_THREADS 256
#define CL_MAX_TOTAL_US (3600LL * 1000000)
#define CL_SPIN_ITERS   16384   /* work between looks at the clock: ~25 us */

typedef struct Plan {
    int     threads;
    double  from, to;           /* duty, 0..1 */
    int64_t ramp, hold, period; /* us */
    int64_t t0;                 /* CLOCK_MONOTONIC us at start */
} Plan;

typedef struct Worker {
    pthread_t   tid;
    int         index;
    const Plan *plan;
    /* CPU seconds asked and got, in the ramp and in the hold; read by main
     * after the join */
    double      asked[2], got[2];
} Worker;

static atomic_int stop;

static int64_t clock_us(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_until(int64_t mono_us)
{
    struct timespec ts = { .tv_sec = mono_us / 1000000,
                           .tv_nsec = mono_us % 1000000 * 1000 };

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* The duty cycle at t us after the start. */
static double duty_at(const Plan *p, int64_t t)
{
    if (t >= p->ramp)
        return p->to;
    return p->from + (p->to - p->from) * (double)t / (double)p->ramp;
}

static void *worker_main(void *arg)
{
    Worker *w = arg;
    const Plan *p = w->plan;
    int64_t end = p->t0 + p->ramp + p->hold;
    int64_t start = p->t0 + p->period * w->index / p->threads;
    volatile uint64_t x = (uint64_t)w->index + 1;
    int i;

    sleep_until(start);
    while (start < end && !atomic_load(&stop)) {
        int64_t stop_at = start + p->period < end ? start + p->period : end;
        int64_t len = stop_at - start;
        /* the duty at the middle of the period: exact for a straight line */
        double duty = duty_at(p, start + len / 2 - p->t0);
        int64_t want = (int64_t)(duty * (double)len + 0.5);
        int64_t cpu0 = clock_us(CLOCK_THREAD_CPUTIME_ID), used = 0;
        int phase = start + len / 2 - p->t0 >= p->ramp;

        while (used < want && clock_us(CLOCK_MONOTONIC) < stop_at) {
            /* arithmetic a compiler cannot drop: user time, as an
             * encoder's, not the system time of a loop of clock calls */
            for (i = 0; i < CL_SPIN_ITERS; i++)
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            used = clock_us(CLOCK_THREAD_CPUTIME_ID) - cpu0;
        }
        w->asked[phase] += want / 1e6;
        w->got[phase]   += used / 1e6;
        sleep_until(stop_at);
        start = stop_at;
    }
    return NULL;
}

/* The nice value of this process and, where the kernel groups sessions
 * (autogroups), of a session of its own: otherwise the processes of every
 * other session keep their share whatever our nice. */
static int set_nice(int nice_val)
{
    FILE *f;

    if (setpriority(PRIO_PROCESS, 0, nice_val) < 0)
        return -1;
    /* a process group leader cannot start a session: then only nice */
    if (setsid() < 0 || !(f = fopen("/proc/self/autogroup", "w")))
        return 0;
    fprintf(f, "%d\n", nice_val);
    if (fclose(f) != 0)
        return -1;
    return 0;
}

static int parse_percent(const char *s, double *v)
{
    char *end;
    double d = strtod(s, &end);

    if (end == s || *end || !(d >= 0 && d <= 100))
        return -1;
    *v = d / 100;
    return 0;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
bad_args(const char *fmt, ...)
{
    va_list ap;

    fputs("cpuload: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see cpuload --help)\n", stderr);
    exit(2);
}

static void usage(void)
{
    printf("Usage: cpuload [--threads N] [--from A] [--to B] [--ramp D] [--hold D]\n"
           "               [--period D] [--nice N] [--log FILE]\n"
           "Burns CPU on N threads (1), each at a duty cycle moving from A %% (0)\n"
           "to B %% (100) of one core over --ramp (0s), then B %% for --hold (0s);\n"
           "then exits. Every --period (100ms) a thread runs duty * period of CPU\n"
           "time and sleeps the rest. Prints what it did at exit; --log FILE: the\n"
           "cores asked and got, once a second. ramp + hold: 10ms to 1h.\n"
           "--nice N: the threads' nice value.\n");
}

static int64_t parse_duration_arg(const char *opt, const char *s)
{
    char err[128];
    int64_t v;

    if (units_parse_duration(s, &v, err, sizeof(err)) < 0)
        bad_args("--%s '%s' %s", opt, s, err);
    return v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "threads", required_argument, NULL, 'n' },
        { "from",    required_argument, NULL, 'f' },
        { "to",      required_argument, NULL, 't' },
        { "ramp",    required_argument, NULL, 'r' },
        { "hold",    required_argument, NULL, 'H' },
        { "period",  required_argument, NULL, 'p' },
        { "nice",    required_argument, NULL, 'N' },
        { "log",     required_argument, NULL, 'L' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    static Worker workers[CL_MAX_THREADS];
    Plan plan = { .threads = 1, .from = 0, .to = 1, .period = 100000 };
    const char *log_path = NULL, *ended = "done";
    FILE *log = NULL;
    sigset_t sigs;
    double asked[2] = { 0 }, got[2] = { 0 };
    int64_t end, next_log, cpu_mark, wall_mark, t;
    char *endp;
    long n;
    int opt, i, r, failed = 0, nice_val = 0;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            n = strtol(optarg, &endp, 10);
            if (endp == optarg || *endp || n < 1 || n > CL_MAX_THREADS)
                bad_args("--threads '%s': want 1 to %d", optarg, CL_MAX_THREADS);
            plan.threads = (int)n;
            break;
        case 'f':
        case 't':
            if (parse_percent(optarg, opt == 'f' ? &plan.from : &plan.to) < 0)
                bad_args("--%s '%s': want a percentage from 0 to 100",
                         opt == 'f' ? "from" : "to", optarg);
            break;
        case 'r': plan.ramp   = parse_duration_arg("ramp", optarg); break;
        case 'H': plan.hold   = parse_duration_arg("hold", optarg); break;
        case 'p': plan.period = parse_duration_arg("period", optarg); break;
        case 'N':
            n = strtol(optarg, &endp, 10);
            if (endp == optarg || *endp || n < -20 || n > 19)
                bad_args("--nice '%s': want -20 to 19", optarg);
            nice_val = (int)n;
            break;
        case 'L': log_path = optarg; break;
        case 'h': usage(); return 0;
        default:  bad_args("bad option");
        }
    }
    if (optind < argc)
        bad_args("unexpected argument '%s'", argv[optind]);
    if (plan.ramp + plan.hold < 10000 || plan.ramp + plan.hold > CL_MAX_TOTAL_US)
        bad_args("--ramp plus --hold must be from 10ms to 1h");
    /* under 1 ms the clock calls are the load; over 1 s it is bursts */
    if (plan.period < 1000 || plan.period > 1000000)
        bad_args("--period: want 1ms to 1s");
    if (log_path && !(log = fopen(log_path, "w"))) {
        fprintf(stderr, "cpuload: --log %s: %s\n", log_path, strerror(errno));
        return 1;
    }
    if (log)
        setvbuf(log, NULL, _IOLBF, 0);      /* read while we run */
    /* before the threads: they inherit it */
    if (nice_val && set_nice(nice_val) < 0) {
        fprintf(stderr, "cpuload: --nice %d: %s\n", nice_val, strerror(errno));
        return 1;
    }

    /* the threads inherit the blocked mask: only sigtimedwait below sees
     * the signals, so no thread is cut in the middle of its accounting */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    plan.t0 = clock_us(CLOCK_MONOTONIC);
    end = plan.t0 + plan.ramp + plan.hold;
    for (i = 0; i < plan.threads; i++) {
        workers[i].index = i;
        workers[i].plan  = &plan;
        r = pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]);
        if (r) {
            fprintf(stderr, "cpuload: pthread_create: %s\n", strerror(r));
            atomic_store(&stop, 1);
            plan.threads = i;
            failed = 1;
            break;
        }
    }

    next_log = plan.t0 + 1000000;
    cpu_mark  = clock_us(CLOCK_PROCESS_CPUTIME_ID);
    wall_mark = plan.t0;
    while ((t = clock_us(CLOCK_MONOTONIC)) < end && !atomic_load(&stop)) {
        int64_t wake = log && next_log < end ? next_log : end;
        struct timespec ts = { .tv_sec = (wake - t) / 1000000,
                               .tv_nsec = (wake - t) % 1000000 * 1000 };

        if (sigtimedwait(&sigs, NULL, &ts) > 0) {
            ended = "signal";
            break;
        }
        t = clock_us(CLOCK_MONOTONIC);
        if (log && t >= next_log) {
            int64_t cpu = clock_us(CLOCK_PROCESS_CPUTIME_ID);
            /* the mean of a straight line over the second is its middle */
            double want = duty_at(&plan, next_log - 500000 - plan.t0) * plan.threads;

            /* per wall second: the wake-up may come a little late */
            fprintf(log, "%.1f asked=%.3f got=%.3f\n", (next_log - plan.t0) / 1e6,
                    want, (double)(cpu - cpu_mark) / (double)(t - wall_mark));
            cpu_mark  = cpu;
            wall_mark = t;
            next_log += 1000000;
        }
    }
    atomic_store(&stop, 1);
    for (i = 0; i < plan.threads; i++) {
        pthread_join(workers[i].tid, NULL);
        for (r = 0; r < 2; r++) {
            asked[r] += workers[i].asked[r];
            got[r]   += workers[i].got[r];
        }
    }
    printf("cpuload: ended=%s threads=%d wall_s=%.3f cpu_s=%.3f asked_s=%.3f "
           "ramp_cpu_s=%.3f ramp_asked_s=%.3f hold_cpu_s=%.3f hold_asked_s=%.3f\n",
           ended, plan.threads, (clock_us(CLOCK_MONOTONIC) - plan.t0) / 1e6,
           got[0] + got[1], asked[0] + asked[1], got[0], asked[0], got[1],
           asked[1]);
    if (log)
        fclose(log);
    return failed;
}
