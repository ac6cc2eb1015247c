/*
 * agent_host.h: host health probe: this process's CPU (also per thread),
 * memory, the kernel's pressure stall information, disk I/O of the device
 * that holds the output, and network interfaces.
 *
 * The data plane names each thread after its component ("news/enc:720p",
 * the last 15 characters: the kernel keeps 15), so per-thread CPU is
 * per-component CPU: the encoder that starves shows first.
 *
 * Sources (Linux proc(5), Documentation/accounting/psi.rst,
 * Documentation/admin-guide/iostats.rst):
 *   /proc/self/stat, /proc/self/task/TID/stat   utime + stime, in clock ticks
 *   /proc/self/status                           VmRSS, VmHWM
 *   /proc/pressure/{cpu,memory,io}              some/full avg10, total (us)
 *   /proc/diskstats                             sectors of 512 bytes, ms
 *   /proc/net/dev                               bytes, packets, errors, drops
 *
 * Each parser is a pure function of the text. A sample holds counters;
 * agent_host_rates() makes rates of two samples. What a host does not have
 * (PSI on old kernels or in some containers, a disk for a path on tmpfs or
 * overlayfs) is absent (its bit clear), never 0; the agent says so once.
 */
#ifndef HS_AGENT_HOST_H
#define HS_AGENT_HOST_H

#include <stdint.h>

#define AGENT_HOST_MAX_THREADS   256
#define AGENT_HOST_MAX_IFS       32
#define AGENT_HOST_COMM_SIZE     16   /* TASK_COMM_LEN */
#define AGENT_HOST_IFNAME_SIZE   16   /* IFNAMSIZ */
#define AGENT_HOST_DISK_NAME     32

/* Bits of AgentHostSample.have and AgentHostRates.have. */
enum {
    AGENT_HOST_CPU        = 1 << 0,   /* cpu_ticks / cpu_percent */
    AGENT_HOST_RSS        = 1 << 1,
    AGENT_HOST_HWM        = 1 << 2,
    AGENT_HOST_THREADS    = 1 << 3,
    AGENT_HOST_PSI_CPU    = 1 << 4,   /* psi[AGENT_HOST_PSI_CPU] read */
    AGENT_HOST_PSI_MEMORY = 1 << 5,
    AGENT_HOST_PSI_IO     = 1 << 6,
    AGENT_HOST_DISK       = 1 << 7,   /* the device holding the path */
    AGENT_HOST_DISK_WHOLE = 1 << 8,   /* its whole disk, when a partition */
    AGENT_HOST_NET        = 1 << 9,
    AGENT_HOST_HEAP       = 1 << 10,  /* heap_bytes */
};

enum { AGENT_HOST_PSI_CPU_IDX, AGENT_HOST_PSI_MEMORY_IDX, AGENT_HOST_PSI_IO_IDX,
       AGENT_HOST_NB_PSI };

/* Bits of AgentHostPsi.have and AgentHostPsiRate.have. */
enum {
    AGENT_HOST_PSI_SOME = 1 << 0,
    AGENT_HOST_PSI_FULL = 1 << 1,     /* memory, io; cpu since Linux 5.13 */
};

typedef struct AgentHostPsiLine {
    double avg10, avg60, avg300;      /* percent of time stalled */
    uint64_t total_us;                /* stalled time, cumulative */
} AgentHostPsiLine;

typedef struct AgentHostPsi {
    unsigned have;
    AgentHostPsiLine some, full;
} AgentHostPsi;

typedef struct AgentHostThread {
    int tid;
    char name[AGENT_HOST_COMM_SIZE];
    uint64_t ticks;                   /* utime + stime */
} AgentHostThread;

typedef struct AgentHostDisk {
    char name[AGENT_HOST_DISK_NAME];  /* "sda1", "nvme0n1", "dm-0" */
    unsigned major, minor;
    uint64_t reads, read_sectors, read_ms;
    uint64_t writes, write_sectors, write_ms;
    uint64_t in_flight, io_ms, weighted_ms;
} AgentHostDisk;

typedef struct AgentHostNetIf {
    char name[AGENT_HOST_IFNAME_SIZE];
    uint64_t rx_bytes, rx_packets, rx_errs, rx_drop;
    uint64_t tx_bytes, tx_packets, tx_errs, tx_drop;
} AgentHostNetIf;

/* Counters at one time. */
typedef struct AgentHostSample {
    int64_t time_ns;                  /* CLOCK_MONOTONIC */
    unsigned have;
    long clk_tck;                     /* ticks per second of the CPU times */
    uint64_t cpu_ticks;               /* process: utime + stime */
    uint64_t rss_bytes, hwm_bytes;
    uint64_t heap_bytes;
    int nb_threads;
    AgentHostThread threads[AGENT_HOST_MAX_THREADS];
    AgentHostPsi psi[AGENT_HOST_NB_PSI];
    AgentHostDisk disk, disk_whole;
    int nb_ifs;
    AgentHostNetIf ifs[AGENT_HOST_MAX_IFS];
} AgentHostSample;

typedef struct AgentHostThreadRate {
    int tid;
    char name[AGENT_HOST_COMM_SIZE];
    int present;                      /* 0: new thread, no interval yet */
    double cpu_percent;               /* 100 = one core */
} AgentHostThreadRate;

typedef struct AgentHostPsiRate {
    unsigned have;                    /* AGENT_HOST_PSI_SOME/FULL: avg10 */
    unsigned have_interval;           /* ...: stall percent over the interval */
    double some_avg10, full_avg10;
    double some_percent, full_percent;
} AgentHostPsiRate;

typedef struct AgentHostDiskRate {
    double read_bps, write_bps;       /* bytes per second */
    double read_iops, write_iops;
    double util_percent;              /* time with I/O in flight */
    double read_await_ms, write_await_ms;  /* -1: no request completed */
    uint64_t in_flight;
} AgentHostDiskRate;

typedef struct AgentHostNetRate {
    char name[AGENT_HOST_IFNAME_SIZE];
    int present;                      /* 0: new, or its counters restarted */
    double rx_bps, tx_bps;            /* bytes per second */
    double rx_pps, tx_pps;
    double rx_errs_ps, tx_errs_ps, rx_drop_ps, tx_drop_ps;
} AgentHostNetRate;

/* Rates between two samples, and the levels of the later one. */
typedef struct AgentHostRates {
    unsigned have;                    /* AGENT_HOST_* */
    double cpu_percent;               /* 100 = one core busy */
    uint64_t rss_bytes, hwm_bytes;
    int nb_threads;
    AgentHostThreadRate threads[AGENT_HOST_MAX_THREADS];
    AgentHostPsiRate psi[AGENT_HOST_NB_PSI];
    AgentHostDiskRate disk, disk_whole;
    int nb_ifs;
    AgentHostNetRate ifs[AGENT_HOST_MAX_IFS];
} AgentHostRates;

/* /proc/PID/stat or /proc/PID/task/TID/stat: the name (comm, also when it
 * holds spaces or parentheses) and utime + stime. 0 or AVERROR(EINVAL). */
int agent_host_parse_stat(const char *text, char *comm, uint64_t *ticks);

/* Bytes allocated on the heap and not freed, as malloc counts them (glibc:
 * mallinfo2's in-use chunks, mmapped ones included; under AddressSanitizer,
 * whose allocator replaces malloc, its own count). What a leak grows: the
 * resident set also holds free pages the allocator keeps. 0 when unknown. */
uint64_t agent_host_heap_bytes(void);

/* /proc/PID/status: VmRSS and VmHWM in bytes. Returns the AGENT_HOST_RSS
 * and AGENT_HOST_HWM bits of what it found. */
unsigned agent_host_parse_status(const char *text, uint64_t *rss, uint64_t *hwm);

/* /proc/pressure/X. 0 (p->have tells which lines) or AVERROR(EINVAL). */
int agent_host_parse_psi(const char *text, AgentHostPsi *p);

/* The /proc/diskstats line of major:minor. 0 or AVERROR(ENOENT). */
int agent_host_parse_diskstats(const char *text, unsigned major, unsigned minor,
                               AgentHostDisk *d);

/* /proc/net/dev: every interface, loopback included. Returns how many. */
int agent_host_parse_netdev(const char *text, AgentHostNetIf *ifs, int max);

/*
 * The whole disk of a partition, from sysfs (sys_dev_block is
 * /sys/dev/block). Returns 1 and the disk's numbers when major:minor is a
 * partition, 0 when it is not, AVERROR(ENOENT) when sysfs does not know it.
 */
int agent_host_whole_disk(const char *sys_dev_block, unsigned major, unsigned minor,
                          unsigned *wmajor, unsigned *wminor);

/*
 * Rates from prev to cur. An interval in which a counter went backwards
 * (an interface recreated, a thread's tid reused) is absent. Returns 0, or
 * AVERROR(EINVAL) when cur is not after prev.
 */
int agent_host_rates(const AgentHostSample *prev, const AgentHostSample *cur,
                     AgentHostRates *r);

typedef struct AgentHost AgentHost;

/* disk_path: a path on the device whose I/O matters (the output
 * directory); NULL for none. Says once what this host cannot give. */
int agent_host_alloc(AgentHost **pa, const char *disk_path);
void agent_host_free(AgentHost **pa);

/* Reads the live /proc into *s. Returns 0 or a negative AVERROR. */
int agent_host_sample(AgentHost *a, AgentHostSample *s);

#endif
