/*
 * agent_host_test.c: /proc parsers on captured texts (tests/data/proc/),
 * rates from two samples, and one run against this process's live /proc.
 *
 * The "-1s" files are the same counters one second later, with known
 * deltas: the process used 100 ticks (100 % of a core at 100 Hz); sda1 read
 * 2048 sectors in 8 requests (40 ms) and wrote 20480 in 40 (200 ms), busy
 * 500 ms; eth0 received 12.5 MB and sent 2.5 MB; the veth was recreated;
 * the CPU pressure total grew by 250 ms.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "hma/agent_host.h"

static char data_dir[PATH_MAX / 2];
static atomic_int nb_psi_lines;

static void log_cb(void *avcl, int level, const char *fmt, va_list vl)
{
    if (strstr(fmt, "pressure stall"))
        nb_psi_lines++;
}

static char *read_data(const char *name)
{
    static char buf[8][16384];
    static int next;
    char path[PATH_MAX];
    char *b = buf[next++ % 8];
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", data_dir, name);
    f = fopen(path, "r");
    CU_ASSERT_FATAL(f != NULL);
    n = fread(b, 1, sizeof(buf[0]) - 1, f);
    b[n] = 0;
    fclose(f);
    return b;
}

#define NEAR(a, b) (fabs((a) - (b)) < 1e-6)

static void test_parse_stat(void)
{
    char comm[AGENT_HOST_COMM_SIZE];
    uint64_t ticks = 0;

    CU_ASSERT_FATAL(agent_host_parse_stat(read_data("stat.txt"), comm, &ticks) == 0);
    CU_ASSERT_STRING_EQUAL(comm, "hotspare");
    CU_ASSERT(ticks == 1234 + 321);
    /* a name with a space and parentheses: from the first '(' to the last ')' */
    CU_ASSERT_FATAL(agent_host_parse_stat(read_data("task-stat-odd.txt"), comm, &ticks) == 0);
    CU_ASSERT_STRING_EQUAL(comm, "x) (enc:1080p");
    CU_ASSERT(ticks == 705);
    /* the data plane's names: "stream/component", 15 characters */
    CU_ASSERT(agent_host_parse_stat("7 (news/enc:720p) S 1 1 1 0 -1 0 0 0 0 0 42 8 0 0",
                                    comm, &ticks) == 0);
    CU_ASSERT_STRING_EQUAL(comm, "news/enc:720p");
    CU_ASSERT(ticks == 50);
    CU_ASSERT(agent_host_parse_stat("7 (x) S 1 1", comm, &ticks) == AVERROR(EINVAL));
    CU_ASSERT(agent_host_parse_stat("garbage", comm, &ticks) == AVERROR(EINVAL));
    CU_ASSERT(agent_host_parse_stat("7 (x) 3 1 1 1 0 -1 0 0 0 0 0 42 8", comm, &ticks) ==
              AVERROR(EINVAL));
}

static void test_parse_status(void)
{
    uint64_t rss = 0, hwm = 0;

    CU_ASSERT(agent_host_parse_status(read_data("status.txt"), &rss, &hwm) ==
              (AGENT_HOST_RSS | AGENT_HOST_HWM));
    CU_ASSERT(rss == 120492ULL << 10 && hwm == 131072ULL << 10);
    rss = hwm = 7;
    CU_ASSERT(agent_host_parse_status(read_data("status-kthread.txt"), &rss, &hwm) == 0);
    CU_ASSERT(rss == 7 && hwm == 7);
}

static void test_parse_psi(void)
{
    AgentHostPsi p;

    CU_ASSERT_FATAL(agent_host_parse_psi(read_data("pressure-cpu.txt"), &p) == 0);
    CU_ASSERT(p.have == (AGENT_HOST_PSI_SOME | AGENT_HOST_PSI_FULL));
    CU_ASSERT(NEAR(p.some.avg10, 1.53) && NEAR(p.some.avg60, 0.87) && NEAR(p.some.avg300, 0.31));
    CU_ASSERT(p.some.total_us == 18234571ULL && p.full.total_us == 0);
    /* before Linux 5.13 cpu has no "full" line: absent, not 0 */
    CU_ASSERT_FATAL(agent_host_parse_psi(read_data("pressure-cpu-old.txt"), &p) == 0);
    CU_ASSERT(p.have == AGENT_HOST_PSI_SOME);
    CU_ASSERT_FATAL(agent_host_parse_psi(read_data("pressure-io.txt"), &p) == 0);
    CU_ASSERT(NEAR(p.full.avg10, 10.11) && p.full.total_us == 801234000ULL);
    CU_ASSERT(agent_host_parse_psi("", &p) == AVERROR(EINVAL));
    CU_ASSERT(agent_host_parse_psi("some avg10=x\n", &p) == AVERROR(EINVAL));
}

static void test_parse_diskstats(void)
{
    AgentHostDisk d;
    const char *t = read_data("diskstats.txt");

    CU_ASSERT_FATAL(agent_host_parse_diskstats(t, 8, 1, &d) == 0);
    CU_ASSERT_STRING_EQUAL(d.name, "sda1");
    CU_ASSERT(d.reads == 9800 && d.read_sectors == 765000 && d.read_ms == 4300);
    CU_ASSERT(d.writes == 123450 && d.write_sectors == 9876500 && d.write_ms == 54300);
    CU_ASSERT(d.in_flight == 2 && d.io_ms == 65400 && d.weighted_ms == 58600);
    /* 20-field lines (discards, flushes) read the same */
    CU_ASSERT_FATAL(agent_host_parse_diskstats(t, 259, 2, &d) == 0);
    CU_ASSERT_STRING_EQUAL(d.name, "nvme0n1p2");
    CU_ASSERT(d.io_ms == 1023300);
    CU_ASSERT(agent_host_parse_diskstats(t, 253, 0, &d) == 0);
    CU_ASSERT_STRING_EQUAL(d.name, "dm-0");
    CU_ASSERT(agent_host_parse_diskstats(t, 8, 2, &d) == AVERROR(ENOENT));
    CU_ASSERT(agent_host_parse_diskstats("", 8, 1, &d) == AVERROR(ENOENT));
}

static void test_parse_netdev(void)
{
    AgentHostNetIf ifs[4];
    int n = agent_host_parse_netdev(read_data("net-dev.txt"), ifs, 4);

    CU_ASSERT_FATAL(n == 3);
    CU_ASSERT_STRING_EQUAL(ifs[0].name, "lo");
    CU_ASSERT(ifs[0].rx_bytes == 868978229ULL && ifs[0].tx_packets == 57374);
    /* "eth0:123456789012": no space after the colon when the number is wide */
    CU_ASSERT_STRING_EQUAL(ifs[1].name, "eth0");
    CU_ASSERT(ifs[1].rx_bytes == 123456789012ULL && ifs[1].rx_packets == 98765432);
    CU_ASSERT(ifs[1].rx_errs == 3 && ifs[1].rx_drop == 17);
    CU_ASSERT(ifs[1].tx_bytes == 98765432101ULL && ifs[1].tx_drop == 2);
    CU_ASSERT_STRING_EQUAL(ifs[2].name, "veth9a8b7c6d5e4");
    CU_ASSERT(agent_host_parse_netdev(read_data("net-dev.txt"), ifs, 2) == 2);
}

static void mkdirs(const char *root, const char *rel)
{
    char path[PATH_MAX], cmd[PATH_MAX + 16];

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
    CU_ASSERT_FATAL(system(cmd) == 0);
}

static void put(const char *root, const char *rel, const char *text)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    CU_ASSERT_FATAL((f = fopen(path, "w")) != NULL);
    fputs(text, f);
    fclose(f);
}

/* A fake /sys: devices/.../sda/sda1, and dev/block/M:m links to them. */
static void test_whole_disk(void)
{
    char root[] = "/tmp/hs-sysblk-XXXXXX", blk[64], cmd[512];
    unsigned ma = 0, mi = 0;

    CU_ASSERT_FATAL(mkdtemp(root) != NULL);
    mkdirs(root, "devices/pci0000:00/0000:00:17.0/ata1/block/sda/sda1");
    mkdirs(root, "devices/virtual/block/dm-0");
    mkdirs(root, "dev/block");
    put(root, "devices/pci0000:00/0000:00:17.0/ata1/block/sda/dev", "8:0\n");
    put(root, "devices/pci0000:00/0000:00:17.0/ata1/block/sda/sda1/dev", "8:1\n");
    put(root, "devices/pci0000:00/0000:00:17.0/ata1/block/sda/sda1/partition", "1\n");
    put(root, "devices/virtual/block/dm-0/dev", "253:0\n");
    snprintf(cmd, sizeof(cmd), "cd '%s/dev/block' && "
             "ln -s ../../devices/pci0000:00/0000:00:17.0/ata1/block/sda/sda1 8:1 && "
             "ln -s ../../devices/pci0000:00/0000:00:17.0/ata1/block/sda 8:0 && "
             "ln -s ../../devices/virtual/block/dm-0 253:0", root);
    CU_ASSERT_FATAL(system(cmd) == 0);
    snprintf(blk, sizeof(blk), "%s/dev/block", root);

    CU_ASSERT(agent_host_whole_disk(blk, 8, 1, &ma, &mi) == 1);
    CU_ASSERT(ma == 8 && mi == 0);
    CU_ASSERT(agent_host_whole_disk(blk, 8, 0, &ma, &mi) == 0);
    CU_ASSERT(agent_host_whole_disk(blk, 253, 0, &ma, &mi) == 0);
    CU_ASSERT(agent_host_whole_disk(blk, 9, 9, &ma, &mi) == AVERROR(ENOENT));
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    CU_ASSERT(system(cmd) == 0);
}

/* A sample made of the captured files; t in seconds. */
static void sample_of(AgentHostSample *s, const char *suffix, double t)
{
    char name[64];

    memset(s, 0, sizeof(*s));
    s->time_ns = (int64_t)(t * 1e9);
    s->clk_tck = 100;
    snprintf(name, sizeof(name), "stat%s.txt", suffix);
    CU_ASSERT_FATAL(agent_host_parse_stat(read_data(name), s->threads[0].name,
                                          &s->cpu_ticks) == 0);
    s->have |= AGENT_HOST_CPU;
    s->have |= agent_host_parse_status(read_data("status.txt"), &s->rss_bytes, &s->hwm_bytes);
    snprintf(name, sizeof(name), "pressure-cpu%s.txt", suffix);
    CU_ASSERT_FATAL(agent_host_parse_psi(read_data(name), &s->psi[AGENT_HOST_PSI_CPU_IDX]) == 0);
    s->have |= AGENT_HOST_PSI_CPU;
    snprintf(name, sizeof(name), "diskstats%s.txt", suffix);
    CU_ASSERT_FATAL(agent_host_parse_diskstats(read_data(name), 8, 1, &s->disk) == 0);
    CU_ASSERT_FATAL(agent_host_parse_diskstats(read_data(name), 8, 0, &s->disk_whole) == 0);
    s->have |= AGENT_HOST_DISK | AGENT_HOST_DISK_WHOLE;
    snprintf(name, sizeof(name), "net-dev%s.txt", suffix);
    s->nb_ifs = agent_host_parse_netdev(read_data(name), s->ifs, AGENT_HOST_MAX_IFS);
    s->have |= AGENT_HOST_NET;
    /* threads: 100 (encoder), 101 (packager), 102 ends, 103 starts, 104's
     * tid is reused by a new thread (fewer ticks) */
    s->have |= AGENT_HOST_THREADS;
    s->nb_threads = 4;
    s->threads[3] = (AgentHostThread){ 104, "news/dec", *suffix ? 3 : 900 };
    s->threads[0] = (AgentHostThread){ 100, "news/enc:720p", *suffix ? 580 : 500 };
    s->threads[1] = (AgentHostThread){ 101, "news/pkg:hls", *suffix ? 205 : 200 };
    s->threads[2] = *suffix ? (AgentHostThread){ 103, "news/enc:1080p", 9 }
                            : (AgentHostThread){ 102, "news/edge:a", 30 };
}

static const AgentHostNetRate *net(const AgentHostRates *r, const char *name)
{
    for (int i = 0; i < r->nb_ifs; i++)
        if (!strcmp(r->ifs[i].name, name))
            return &r->ifs[i];
    return NULL;
}

static void test_rates(void)
{
    AgentHostSample *p = av_malloc(sizeof(*p)), *c = av_malloc(sizeof(*c));
    AgentHostRates *r = av_malloc(sizeof(*r));
    const AgentHostNetRate *n;

    CU_ASSERT_FATAL(p && c && r);
    sample_of(p, "", 100.0);
    sample_of(c, "-1s", 101.0);
    CU_ASSERT_FATAL(agent_host_rates(p, c, r) == 0);
    CU_ASSERT(r->have == (AGENT_HOST_CPU | AGENT_HOST_RSS | AGENT_HOST_HWM |
                          AGENT_HOST_THREADS | AGENT_HOST_PSI_CPU | AGENT_HOST_DISK |
                          AGENT_HOST_DISK_WHOLE | AGENT_HOST_NET));
    CU_ASSERT(NEAR(r->cpu_percent, 100.0));
    CU_ASSERT(r->rss_bytes == 120492ULL << 10);

    /* threads by tid: 80 and 5 ticks over 1 s; the new thread has no interval */
    CU_ASSERT_FATAL(r->nb_threads == 4);
    CU_ASSERT(r->threads[0].present && NEAR(r->threads[0].cpu_percent, 80.0));
    CU_ASSERT_STRING_EQUAL(r->threads[0].name, "news/enc:720p");
    CU_ASSERT(r->threads[1].present && NEAR(r->threads[1].cpu_percent, 5.0));
    CU_ASSERT(r->threads[2].tid == 103 && !r->threads[2].present);
    CU_ASSERT(r->threads[3].tid == 104 && !r->threads[3].present);
    CU_ASSERT(r->threads[3].cpu_percent == 0);

    /* pressure: avg10 as the kernel says, and 250 ms stalled in 1 s */
    CU_ASSERT(r->psi[0].have == (AGENT_HOST_PSI_SOME | AGENT_HOST_PSI_FULL));
    CU_ASSERT(NEAR(r->psi[0].some_avg10, 4.10));
    CU_ASSERT(r->psi[0].have_interval == (AGENT_HOST_PSI_SOME | AGENT_HOST_PSI_FULL));
    CU_ASSERT(NEAR(r->psi[0].some_percent, 25.0) && NEAR(r->psi[0].full_percent, 0.0));
    /* memory and io pressure were not read: absent, not zero */
    CU_ASSERT(!(r->have & (AGENT_HOST_PSI_MEMORY | AGENT_HOST_PSI_IO)));
    CU_ASSERT(r->psi[1].have == 0 && r->psi[2].have == 0);

    CU_ASSERT(NEAR(r->disk.read_bps, 1048576.0) && NEAR(r->disk.write_bps, 10485760.0));
    CU_ASSERT(NEAR(r->disk.read_iops, 8.0) && NEAR(r->disk.write_iops, 40.0));
    CU_ASSERT(NEAR(r->disk.read_await_ms, 5.0) && NEAR(r->disk.write_await_ms, 5.0));
    CU_ASSERT(NEAR(r->disk.util_percent, 50.0) && r->disk.in_flight == 3);
    CU_ASSERT(NEAR(r->disk_whole.util_percent, 50.0));

    CU_ASSERT_FATAL((n = net(r, "eth0")) != NULL);
    CU_ASSERT(n->present && NEAR(n->rx_bps, 12500000.0) && NEAR(n->tx_bps, 2500000.0));
    CU_ASSERT(NEAR(n->rx_pps, 10000.0) && NEAR(n->tx_pps, 2000.0));
    CU_ASSERT(NEAR(n->rx_drop_ps, 2.0) && NEAR(n->rx_errs_ps, 0.0));
    CU_ASSERT_FATAL((n = net(r, "lo")) != NULL);
    CU_ASSERT(n->present && NEAR(n->rx_bps, 1000.0));
    /* recreated: counters went backwards, so no rate this time */
    CU_ASSERT_FATAL((n = net(r, "veth9a8b7c6d5e4")) != NULL);
    CU_ASSERT(!n->present && n->rx_bps == 0);

    /* backwards in the process or disk counters: absent */
    CU_ASSERT_FATAL(agent_host_rates(p, p, r) == AVERROR(EINVAL));
    c->cpu_ticks = p->cpu_ticks - 1;
    c->disk.io_ms = p->disk.io_ms - 1;
    c->psi[0].some.total_us = 0;
    CU_ASSERT_FATAL(agent_host_rates(p, c, r) == 0);
    CU_ASSERT(!(r->have & AGENT_HOST_CPU) && !(r->have & AGENT_HOST_DISK));
    CU_ASSERT(r->have & AGENT_HOST_DISK_WHOLE);
    CU_ASSERT(r->psi[0].have_interval == AGENT_HOST_PSI_FULL);
    /* another device (the path moved): no interval */
    sample_of(c, "-1s", 101.0);
    c->disk.minor = 2;
    CU_ASSERT_FATAL(agent_host_rates(p, c, r) == 0);
    CU_ASSERT(!(r->have & AGENT_HOST_DISK));
    /* a sample without PSI (an old kernel): no PSI bit at all */
    sample_of(c, "-1s", 101.0);
    c->have &= ~AGENT_HOST_PSI_CPU;
    CU_ASSERT_FATAL(agent_host_rates(p, c, r) == 0);
    CU_ASSERT(!(r->have & AGENT_HOST_PSI_CPU) && r->psi[0].have == 0);
    av_free(p);
    av_free(c);
    av_free(r);
}

static atomic_int spin_stop;

static void *spin(void *arg)
{
    volatile unsigned long x = 0;

    pthread_setname_np(pthread_self(), "news/enc:720p");
    while (!atomic_load(&spin_stop))
        x++;
    return NULL;
}

/* This process's live /proc. */
static void test_live(void)
{
    AgentHost *a = NULL;
    AgentHostSample *p = av_malloc(sizeof(*p)), *c = av_malloc(sizeof(*c));
    AgentHostSample *x = av_malloc(sizeof(*x));
    AgentHostRates *r = av_malloc(sizeof(*r));
    struct stat st;
    pthread_t th;
    int found = 0, have_psi;
    FILE *f;

    CU_ASSERT_FATAL(p && c && x && r);
    CU_ASSERT_FATAL(agent_host_alloc(&a, "/") == 0);
    atomic_store(&spin_stop, 0);
    CU_ASSERT_FATAL(pthread_create(&th, NULL, spin, NULL) == 0);
    av_usleep(20000);             /* the name is set */
    nb_psi_lines = 0;
    CU_ASSERT_FATAL(agent_host_sample(a, p) == 0);
    av_usleep(300000);
    CU_ASSERT_FATAL(agent_host_sample(a, c) == 0);
    atomic_store(&spin_stop, 1);
    pthread_join(th, NULL);
    CU_ASSERT(agent_host_sample(a, x) == 0);   /* a third sample ... */
    CU_ASSERT(nb_psi_lines <= 1);              /* ... says nothing again */
    CU_ASSERT_FATAL(agent_host_rates(p, c, r) == 0);

    CU_ASSERT(r->have & AGENT_HOST_CPU);
    CU_ASSERT(r->cpu_percent > 20.0);          /* the spinning thread */
    CU_ASSERT(c->rss_bytes > 0 && (c->have & AGENT_HOST_RSS));
    CU_ASSERT(p->nb_threads >= 2);
    for (int i = 0; i < r->nb_threads; i++)
        if (!strcmp(r->threads[i].name, "news/enc:720p")) {
            found = 1;
            CU_ASSERT(r->threads[i].present && r->threads[i].cpu_percent > 20.0);
        }
    CU_ASSERT(found);
    /* loopback is always there */
    CU_ASSERT(r->have & AGENT_HOST_NET);
    CU_ASSERT(net(r, "lo") != NULL && net(r, "lo")->present);
    /* PSI present exactly when the kernel gives it */
    f = fopen("/proc/pressure/cpu", "r");
    have_psi = f && fgetc(f) == 's';
    if (f)
        fclose(f);
    CU_ASSERT(!!(c->have & AGENT_HOST_PSI_CPU) == have_psi);
    if (!have_psi)
        CU_ASSERT(nb_psi_lines == 1);
    /* the disk of "/" when it is a block device in diskstats */
    CU_ASSERT_FATAL(stat("/", &st) == 0);
    if (c->have & AGENT_HOST_DISK) {
        CU_ASSERT(c->disk.major == major(st.st_dev) && c->disk.minor == minor(st.st_dev));
        CU_ASSERT(r->have & AGENT_HOST_DISK);
    } else {
        char line[256];
        int listed = 0;
        f = fopen("/proc/diskstats", "r");
        while (f && fgets(line, sizeof(line), f)) {
            unsigned ma, mi;
            if (sscanf(line, "%u %u", &ma, &mi) == 2 && ma == major(st.st_dev) &&
                mi == minor(st.st_dev))
                listed = 1;
        }
        if (f)
            fclose(f);
        CU_ASSERT(!listed || major(st.st_dev) == 0);
    }
    agent_host_free(&a);
    CU_ASSERT(a == NULL);
    agent_host_free(&a);

    /* a path on no block device, or no path: disk absent */
    CU_ASSERT_FATAL(agent_host_alloc(&a, NULL) == 0);
    CU_ASSERT(agent_host_sample(a, x) == 0);
    CU_ASSERT(!(x->have & (AGENT_HOST_DISK | AGENT_HOST_DISK_WHOLE)));
    agent_host_free(&a);
    if (stat("/proc", &st) == 0 && major(st.st_dev) == 0) {
        CU_ASSERT_FATAL(agent_host_alloc(&a, "/proc") == 0);
        CU_ASSERT(agent_host_sample(a, x) == 0);
        CU_ASSERT(!(x->have & AGENT_HOST_DISK));
        agent_host_free(&a);
    }
    av_free(x);
    av_free(p);
    av_free(c);
    av_free(r);
}

int main(void)
{
    char exe[PATH_MAX];
    ssize_t len;
    CU_pSuite s;
    int failures;

    len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len <= 0)
        return 1;
    exe[len] = 0;
    snprintf(data_dir, sizeof(data_dir), "%s/../data/proc", dirname(exe));
    av_log_set_callback(log_cb);

    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    s = CU_add_suite("agent_host", NULL, NULL);
    CU_add_test(s, "parse stat", test_parse_stat);
    CU_add_test(s, "parse status", test_parse_status);
    CU_add_test(s, "parse pressure", test_parse_psi);
    CU_add_test(s, "parse diskstats", test_parse_diskstats);
    CU_add_test(s, "parse net/dev", test_parse_netdev);
    CU_add_test(s, "partition to whole disk", test_whole_disk);
    CU_add_test(s, "rates from two samples", test_rates);
    CU_add_test(s, "live /proc of this process", test_live);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures;
}
