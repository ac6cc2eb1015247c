/*
 * health.h: what the failure model sees of a component each tick.
 *
 * The model (lstm.h) has LSTM_F inputs; components of different kinds
 * have different metrics (sample.h). Rather than one model per kind, every
 * predicted component (ingest, encoder, output) is mapped onto one
 * health vector whose slots mean the same thing for every kind: is it up,
 * is it moving as much data and as many items as it usually does, how long
 * its work takes, how much waits for it, what goes wrong, and what the
 * machine around it is going through. One model then learns from every
 * kind's failures, and a component kind with few failures borrows from
 * the others.
 *
 *   #  name              ingest               encoder              output
 *   0  up                up                   up                   up
 *   1  on_backup         a backup source      standby in use       backup in use
 *   2  throughput_ratio  bytes/s over its own slow average (EWMA, about a minute)
 *   3  rate_ratio        packets/s / average  fps / target fps     packets/s / average
 *   4  latency_log       read latency         p50 send->packet     write latency
 *   5  latency_peak_log  packet jitter        p99 send->packet     longest write
 *   6  queue_log         -                    log1p(queue)         log1p(queue)
 *   7  errors            log1p(errors this tick)
 *   8  drops             discontinuities      dropped frames       reconnects
 *   9  stale_s           age of the last    behind real time     its packets' wait
 *                        packet (s, <= 10)  over the latency     over the latency
 *                                           budget (<= 4; 1: it fails; - without one)
 *  10  cpu_cores         CPU of its threads over the tick (cores); for an
 *                        encoder or output whose busy time is counted, the
 *                        share of the tick its thread was busy (not waiting
 *                        for work; <= 4)
 *  11  host_cpu_psi      /proc/pressure/cpu some avg10 (ratio), the same for all
 *  12  host_memory_psi   /proc/pressure/memory some avg10
 *  13  host_io_psi       /proc/pressure/io some avg10
 *  14  host_cpu_cores    this process's CPU over the tick (cores)
 *  15  kind              0 ingest, 0.5 encoder, 1 output
 *  16  latency_trend     latency_log less its own slow average (EWMA, about a
 *                        minute): how much slower than usual its work is now
 *  17  net_rtt_log       its TCP connection's smoothed RTT (log10 s): the
 *                        source's for an ingest, the peer's (its edge's) for
 *                        an output; - for an encoder
 *  18  net_unacked_log   log10(1 + bytes sent and not acknowledged + written
 *                        and not sent)
 *  19  net_ack_wait_s    seconds since the peer's last ACK while bytes wait
 *                        for one (0 when none waits), <= 10
 *  20  net_window_log    log10(1 + the peer's receive window, bytes)
 *  21  fs_free_ratio     -                    -                    free / size of
 *                                                                  its filesystem
 *  22  fs_full_log       -                    -                    log10(1 + seconds
 *                        to full) at the fill rate, <= 5; 5 when not filling
 *  23  host_rss_growth   asinh(the process's RSS growth in MB/s), the same for all
 *
 * An output's edge (its peer) is not predicted on its own: its figures are
 * the output's writes seen from the other side, and a failure of the one
 * is a failure of the other; the output's risk covers both, and its
 * network figures (17-20) are the edge's (health_peer finds it).
 *
 * latency_* are log10 of seconds (floored at 10 us). Ratios are clamped
 * to [0, 4]. A value the component does not have this tick is NAN: the
 * model's normalisation turns it into the feature's mean (0 after
 * normalising), so absent reads as "usual", never as 0.
 *
 * The extractor keeps per-component state (the previous tick's counters,
 * the slow averages): one HealthState per component, zeroed at its start.
 * The names are written into model files; a model is only used with
 * features of the same names in the same order.
 */
#ifndef HS_HEALTH_H
#define HS_HEALTH_H

#include <stdint.h>

#include "pfm/lstm.h"
#include "hma/sample.h"

#define FEAT_NB LSTM_F

enum {
    FEAT_UP, FEAT_ON_BACKUP, FEAT_THROUGHPUT_RATIO, FEAT_RATE_RATIO, FEAT_LATENCY,
    FEAT_LATENCY_PEAK, FEAT_QUEUE, FEAT_ERRORS, FEAT_DROPS, FEAT_STALE, FEAT_CPU,
    FEAT_HOST_CPU_PSI, FEAT_HOST_MEMORY_PSI, FEAT_HOST_IO_PSI, FEAT_HOST_CPU, FEAT_KIND,
    FEAT_LATENCY_TREND, FEAT_NET_RTT, FEAT_NET_UNACKED, FEAT_NET_ACK_WAIT, FEAT_NET_WINDOW,
    FEAT_FS_FREE, FEAT_FS_FULL, FEAT_HOST_RSS_GROWTH,
};

_Static_assert(FEAT_HOST_RSS_GROWTH == FEAT_NB - 1, "the health vector fills the model's inputs");

extern const char *const health_feature_names[FEAT_NB];

/* The machine's figures of one tick, the same for every component. */
typedef struct HealthHost {
    float v[5];                  /* psi cpu, memory, io; process cores; RSS
                                  * growth (bytes/s); NAN absent */
} HealthHost;

typedef struct HealthState {
    int64_t prev_us;             /* time of the previous tick, 0: none */
    double prev_errors, prev_drops, prev_cpu, prev_bytes, prev_items, prev_busy;
    uint32_t have;               /* which prev_* hold a value (bit per field) */
    double avg_bytes, avg_items; /* slow averages of the rates */
    int n_bytes, n_items;        /* rates averaged so far */
    double avg_lat;              /* slow average of latency_log */
    int n_lat;
} HealthState;

/* Is this kind predicted (does it get a health vector)? */
static inline int health_kind_predicted(CompKind k)
{
    return k == COMP_INGEST || k == COMP_ENCODER || k == COMP_OUTPUT;
}

/*
 * A predicted component's series: an input has one per source (each source
 * is another origin, with a health of its own), an encoder or an output one
 * for all its instances (they take turns; which one runs is a feature).
 * health_series_source: which source the series of a sample's component
 * (its backup field) follows, 0 for the whole. health_series_id: the name
 * of that series, instance COMP_WHOLE for the whole.
 */
static inline int health_series_source(CompKind kind, int backup)
{
    return kind == COMP_INGEST ? backup : 0;
}

void health_series_id(CompKind kind, const char *stream, const char *name, int source,
                      CompId *id);

/* The host figures of a tick (the COMP_HOST component), all NAN without one. */
void health_host(const Sample *s, HealthHost *h);

/* The same from one host component (the trainer reads components one at a
 * time); c may be NULL. */
void health_host_comp(const SampleComp *c, HealthHost *h);

/* The component among comps[nb] whose network figures are c's: an
 * output's edge (same stream, name and instance); NULL for other kinds or
 * when there is none. */
const SampleComp *health_peer(const SampleComp *comps, int nb, const SampleComp *c);

/*
 * The health vector of component c at time_us into x (FEAT_NB floats, NAN
 * where absent), advancing st. peer: what health_peer gave (may be NULL).
 * Components of kinds that are not predicted get all NAN.
 */
void health_extract(HealthState *st, const SampleComp *c, const SampleComp *peer,
                    const HealthHost *h, int64_t time_us, float *x);

#endif
