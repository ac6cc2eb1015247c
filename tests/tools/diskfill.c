/*
 * diskfill: a disk that fills up at a steady rate, for the fault harness
 * (tests/lib/harness.sh). Recordings, HLS segments and the data store all
 * fail when their filesystem is full; a filesystem that fills gradually is
 * a failure a predictor should see coming (the host's disk figures move
 * long before a write fails).
 *
 *   diskfill --dir DIR --to FRACTION --rate R [--file NAME] [--max-time D]
 *            [--any-size]
 *
 * Appends to DIR/NAME (default diskfill.dat) R bytes/s ("4M", "500k",
 * "64Ki") until the filesystem that holds DIR is FRACTION full (0.9, or
 * 90%), as df counts it: used / (used + available), then exits and leaves
 * the file (the disk stays full; remove the file to free it). It writes
 * whole blocks of the filesystem, every 20 ms, and syncs them once a second
 * so that a disk-backed filesystem really fills as it goes, not when the
 * page cache is written back. --max-time (default 10m) bounds the run.
 *
 * It refuses a filesystem larger than 4 GiB unless --any-size: the tests
 * fill a small one of their own (harness.sh's hs_small_fs), and a wrong
 * --dir must not fill the machine's root.
 *
 * At exit it prints one line to stdout:
 *   diskfill: ended=target|full|signal|time wrote=BYTES secs=S rate=R
 *             used=FRACTION target=FRACTION size=BYTES
 * Exit status: 0 at the target (or full, when asked for 1.0), 1 on a write
 * error or a full filesystem short of the target, 2 on bad arguments, 3
 * when a signal (SIGTERM, SIGINT, SIGHUP) or --max-time stopped it first.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "core/units.h"

#define DF_TICK_US      20000
#define DF_SYNC_US      1000000
#define DF_MAX_FS       (4LL << 30)
#define DF_MAX_WRITE    (1 << 20)

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct Usage {
    uint64_t bsize, used, avail;    /* bytes */
} Usage;

static int fs_usage(int fd, Usage *u)
{
    struct statvfs st;

    if (fstatvfs(fd, &st) < 0)
        return -1;
    u->bsize = st.f_frsize ? st.f_frsize : st.f_bsize;
    u->used  = (uint64_t)(st.f_blocks - st.f_bfree) * u->bsize;
    u->avail = (uint64_t)st.f_bavail * u->bsize;
    return 0;
}

static double fraction(const Usage *u)
{
    return u->used + u->avail ? (double)u->used / (double)(u->used + u->avail) : 1;
}

/* Bytes still to write for the target, rounded up to a block. */
static uint64_t to_target(const Usage *u, double target)
{
    double want = target * (double)(u->used + u->avail) - (double)u->used;
    uint64_t blocks;

    if (want <= 0)
        return 0;
    blocks = (uint64_t)((want + (double)u->bsize - 1) / (double)u->bsize);
    return blocks * u->bsize;
}

static int parse_fraction(const char *s, double *v)
{
    char *end;
    double d = strtod(s, &end);

    if (end != s && !strcmp(end, "%"))
        d /= 100;
    else if (end == s || *end)
        return -1;
    if (!(d > 0 && d <= 1))
        return -1;
    *v = d;
    return 0;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
bad_args(const char *fmt, ...)
{
    va_list ap;

    fputs("diskfill: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see diskfill --help)\n", stderr);
    exit(2);
}

static void usage(void)
{
    printf("Usage: diskfill --dir DIR --to FRACTION --rate R [--file NAME]\n"
           "                [--max-time D] [--any-size]\n"
           "Appends R bytes/s to DIR/NAME (diskfill.dat) until DIR's filesystem\n"
           "is FRACTION (0.9 or 90%%) full as df counts it, then exits leaving\n"
           "the file. Refuses filesystems over 4 GiB without --any-size.\n"
           "--max-time (10m) bounds the run.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir",      required_argument, NULL, 'd' },
        { "to",       required_argument, NULL, 't' },
        { "rate",     required_argument, NULL, 'r' },
        { "file",     required_argument, NULL, 'f' },
        { "max-time", required_argument, NULL, 'm' },
        { "any-size", no_argument,       NULL, 'a' },
        { "help",     no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    static uint8_t buf[DF_MAX_WRITE];
    const char *dir = NULL, *name = "diskfill.dat", *ended = "target";
    char path[4096], err[128];
    double target = 0;
    int64_t rate = 0, max_time = 600LL * 1000000, t0, t, next_sync;
    uint64_t written = 0, due, left, n;
    struct sigaction sa = { 0 };
    Usage u;
    ssize_t w;
    size_t i;
    int opt, fd, any_size = 0, ret = 0;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'd': dir = optarg; break;
        case 'f': name = optarg; break;
        case 'a': any_size = 1; break;
        case 't':
            if (parse_fraction(optarg, &target) < 0)
                bad_args("--to '%s': want a fraction above 0 up to 1, or a "
                         "percentage", optarg);
            break;
        case 'r':
            if (units_parse_size(optarg, &rate, err, sizeof(err)) < 0 || rate < 1)
                bad_args("--rate '%s': want bytes/s above 0 (4M, 500k)", optarg);
            break;
        case 'm':
            if (units_parse_duration(optarg, &max_time, err, sizeof(err)) < 0 ||
                max_time < 1)
                bad_args("--max-time '%s' %s", optarg, err);
            break;
        case 'h': usage(); return 0;
        default:  bad_args("bad option");
        }
    }
    if (optind < argc)
        bad_args("unexpected argument '%s'", argv[optind]);
    if (!dir || !target || !rate)
        bad_args("--dir, --to and --rate are required");
    if (strchr(name, '/'))
        bad_args("--file '%s': a name in --dir, not a path", name);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "diskfill: %s: %s\n", path, strerror(errno));
        return errno == ENOENT || errno == ENOTDIR ? 2 : 1;
    }
    if (fs_usage(fd, &u) < 0) {
        fprintf(stderr, "diskfill: statvfs %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (!any_size && u.used + u.avail > (uint64_t)DF_MAX_FS) {
        fprintf(stderr, "diskfill: %s is on a filesystem of %" PRIu64 " bytes, "
                "over 4 GiB: not a test's own (--any-size to fill it anyway)\n",
                dir, u.used + u.avail);
        unlink(path);
        return 2;
    }

    /* no SA_RESTART: a signal cuts the sleep short */
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    for (i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 31 + 7);     /* not zeros: nothing may skip them */

    t0 = mono_us();
    next_sync = t0 + DF_SYNC_US;
    for (;;) {
        if (fs_usage(fd, &u) < 0) {
            fprintf(stderr, "diskfill: statvfs: %s\n", strerror(errno));
            ret = 1;
            break;
        }
        left = to_target(&u, target);
        if (!left)
            break;
        t = mono_us();
        if (got_signal || t - t0 >= max_time) {
            ended = got_signal ? "signal" : "time";
            ret = 3;
            break;
        }
        /* the bytes due by now, in whole blocks, so that the filesystem
         * lands on the target block and a slow rate still moves */
        due = (uint64_t)((double)rate * (double)(t - t0) / 1e6);
        due = due > written ? due - written : 0;
        n = due < left ? due : left;
        n -= n % u.bsize;
        if (n > sizeof(buf))
            n = sizeof(buf);
        if (n) {
            w = write(fd, buf, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && errno == ENOSPC) {
                ended = "full";
                ret = target < 1;
                break;
            }
            if (w < 0) {
                fprintf(stderr, "diskfill: write %s: %s\n", path, strerror(errno));
                ret = 1;
                break;
            }
            written += (uint64_t)w;
            if (t >= next_sync) {
                fdatasync(fd);
                next_sync = t + DF_SYNC_US;
            }
            if ((uint64_t)w == sizeof(buf))
                continue;       /* behind: catch up before sleeping */
        }
        usleep(DF_TICK_US);
    }
    fdatasync(fd);
    if (fs_usage(fd, &u) < 0)
        memset(&u, 0, sizeof(u));
    close(fd);
    t = mono_us() - t0;
    printf("diskfill: ended=%s wrote=%" PRIu64 " secs=%.3f rate=%.0f used=%.4f "
           "target=%.4f size=%" PRIu64 "\n", ended, written, t / 1e6,
           t > 0 ? written / (t / 1e6) : 0, fraction(&u), target,
           u.used + u.avail);
    return ret;
}
