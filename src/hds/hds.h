/*
 * hds.h: the historical data store: every tick's samples, every event,
 * per-minute rollups and per-component baselines in one SQLite file.
 *
 * Writing (the run command): hds_open() opens or creates the file and
 * starts a writer thread; every tick, hds_put_sample() copies the Sample
 * into a bounded queue and returns at once; the writer stores each tick in
 * one transaction, then does the upkeep that tick has made due (minute
 * rollups, hourly statistics, baselines, retention), so nothing of it ever
 * runs on the caller's thread. When the writer falls behind and the queue
 * is full, the oldest unwritten tick is dropped (and logged): the data
 * plane is never held up by storage. Events arrive through
 * hds_event_sink() (an EventLog sink, event.h) or hds_put_event().
 *
 * Durability: WAL with synchronous=NORMAL. A committed transaction is in
 * the WAL in the kernel's page cache, so a kill -9 of the process at any
 * moment loses only what was not committed yet (the tick being written and
 * whatever waited in the queue: one tick when the writer keeps up) and
 * never leaves the file inconsistent; a power cut may lose the last
 * transactions since the last checkpoint's fsync, not consistency.
 *
 * Time is the samples' time (Sample.time_us), not the wall clock: minutes,
 * hours and retention follow the data, so tests drive them with a fake
 * clock and a replayed trace rolls up as it was recorded.
 *
 * Reading (hotspare hds, the trainer, tests): hds_reader_open() opens a
 * file read-only, checks that it is an HDS of a schema this build reads,
 * and iterates samples, events and baselines.
 *
 * The schema, the encodings and the measurements behind them are in the
 * header comment of hds_int.h.
 */
#ifndef HS_HDS_H
#define HS_HDS_H

#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "hma/sample.h"

/* PRAGMA user_version of the files this build writes. Bump it on any change
 * of tables, blob encodings or the meaning of stored metric indices; a file
 * of a newer version is refused, an older one is migrated on open. */
#define HDS_SCHEMA_VERSION 1
/* PRAGMA application_id: what tells an HDS from any other SQLite file */
#define HDS_APPLICATION_ID 0x48534453   /* "HSDS" */

#define HDS_DEFAULT_RAW_WINDOW_US  (INT64_C(24) * 3600 * 1000000)      /* 24 h */
#define HDS_DEFAULT_RETENTION_US   (INT64_C(7) * 24 * 3600 * 1000000)  /* 7 d */
#define HDS_DEFAULT_TICK_US        INT64_C(1000000)
#define HDS_DEFAULT_QUEUE_TICKS    8

/* Baselines by hour of day need this many days whose hour holds at least
 * half the ticks an hour should have (3600 s / tick); the rolling baseline
 * (last 24 h, all hours) needs half an hour of ticks in all. */
#define HDS_BASELINE_MIN_DAYS      3
#define HDS_BASELINE_ALL_HOURS     24    /* HdsBaseline.hour of the rolling baseline */

typedef struct HdsConfig {
    const char *path;
    int64_t raw_window_us;   /* raw ticks are kept this long, then only their
                                minute rollups; >= 0 (0: until rolled up) */
    int64_t retention_us;    /* rollups, hourly statistics and events older
                                than this are deleted; >= raw_window_us */
    int64_t tick_us;         /* the run's tick period: what "enough data" for
                                a baseline is measured against */
    int queue_ticks;         /* ticks that may wait for the writer (>= 1) */
} HdsConfig;

/* Fills the defaults above (path NULL). */
void hds_config_init(HdsConfig *cfg);

typedef struct Hds Hds;

/*
 * Opens (creating when absent) the store at cfg->path and starts its
 * writer. Refuses a file that is not an HDS, or of a newer schema, with a
 * logged reason. Returns 0, AVERROR(EINVAL) (bad config or not an HDS),
 * AVERROR(ENOSYS) (newer schema), AVERROR(EIO) (SQLite could not open or
 * write it) or AVERROR(ENOMEM).
 */
int hds_open(Hds **ph, const HdsConfig *cfg);

/* Writes what is queued, stops the writer and closes the file (a clean
 * close checkpoints the WAL into the file). Accepts NULL; sets *ph NULL. */
void hds_close(Hds **ph);

/*
 * Copies s into the writer's queue and returns without waiting for I/O.
 * When the queue is full the oldest unwritten tick is dropped (counted in
 * HdsStats.ticks_dropped, logged). s stays the caller's. Returns 0, or
 * AVERROR(ENOMEM) (this tick not stored). Thread-safe.
 */
int hds_put_sample(Hds *h, const Sample *s);

/* Copies an event into the writer's queue (bounded as well: the oldest is
 * dropped on overflow). Returns 0 or AVERROR(ENOMEM). Thread-safe. */
int hds_put_event(Hds *h, const Event *ev);

/* An EventSinkFn: evlog_add_sink(el, hds_event_sink, hds). */
void hds_event_sink(void *opaque, const Event *ev);

/* Waits until everything put before this call is written (or dropped).
 * Returns 0, or AVERROR(ETIMEDOUT) after timeout_us (< 0: no limit). */
int hds_flush(Hds *h, int64_t timeout_us);

typedef struct HdsStats {
    int64_t ticks_put;
    int64_t ticks_written;       /* committed */
    int64_t ticks_dropped;       /* the queue was full */
    int64_t ticks_failed;        /* SQLite refused the transaction (disk full...) */
    int64_t events_written;
    int64_t events_dropped;
    int64_t last_tick;           /* Sample.tick of the last committed tick, -1 */
    int64_t last_time_us;        /* its Sample.time_us */
    int64_t writer_cpu_us;       /* CPU time of the writer thread so far */
    int queue_depth;             /* ticks waiting now */
    int last_error;              /* the last write error, 0 when none */
} HdsStats;

void hds_get_stats(Hds *h, HdsStats *st);

/* ---- reading ---------------------------------------------------------- */

typedef struct HdsReader HdsReader;

/*
 * Opens path for reading. On failure returns a negative AVERROR and puts
 * the reason in err ("no such file", "not an HDS file (...)", "HDS schema
 * version 3 is newer than this hotspare reads (1)"): AVERROR(ENOENT),
 * AVERROR(EINVAL) (not an HDS), AVERROR(ENOSYS) (newer), AVERROR(EIO).
 */
int hds_reader_open(HdsReader **pr, const char *path, char *err, size_t err_size);
void hds_reader_close(HdsReader **pr);

typedef struct HdsTableRows {
    const char *table;
    int64_t rows;
} HdsTableRows;

#define HDS_MAX_TABLES 12
#define HDS_MAX_EVENT_KINDS 16

typedef struct HdsFileStats {
    int schema_version;
    int64_t runs;
    int64_t ticks;               /* raw ticks held */
    int64_t first_time_us, last_time_us;        /* of the raw ticks; 0 when none */
    int64_t minutes;             /* minute rollup rows (per stream) */
    int64_t first_minute_us, last_minute_us;    /* span of the rollups */
    int64_t hours;               /* distinct hours of hourly statistics */
    int64_t components, streams;
    int64_t baselines;
    int nb_event_kinds;
    struct { char kind[24]; int64_t count; } events[HDS_MAX_EVENT_KINDS];
    int64_t file_bytes, wal_bytes;
    int nb_tables;
    HdsTableRows tables[HDS_MAX_TABLES];
} HdsFileStats;

int hds_reader_stats(HdsReader *r, HdsFileStats *st);

/* What to read; zero-initialised means everything. */
typedef struct HdsFilter {
    int64_t from_us;             /* time >= from_us when has_from */
    int64_t to_us;               /* time <= to_us when has_to */
    int has_from, has_to;
    const char *stream;          /* NULL: all ("" is the host and GPUs) */
    const char *component;       /* a component name ("720p"); NULL: all */
} HdsFilter;

typedef struct HdsTick {
    int64_t run;                 /* which hds_open() wrote it */
    int64_t tick;                /* Sample.tick */
    int64_t time_us;
} HdsTick;

/* Called per component per stored tick, in time order; a negative return
 * stops the iteration and is returned. c->v holds the present values. */
typedef int (*HdsSampleFn)(void *opaque, const HdsTick *t, const SampleComp *c);

int hds_reader_samples(HdsReader *r, const HdsFilter *f, HdsSampleFn fn, void *opaque);

/* A minute's rollup of one metric of one component. */
typedef struct HdsMinuteStat {
    int64_t n;                   /* ticks the metric was present in */
    double mean, min, max;       /* of the raw values (counters too) */
} HdsMinuteStat;

/* Called per component per rolled-up minute, in time order: c holds the
 * identity and c->present the metrics with n > 0; st[i] is metric i. */
typedef int (*HdsMinuteFn)(void *opaque, int64_t minute_us, const SampleComp *c,
                           const HdsMinuteStat *st);

int hds_reader_minutes(HdsReader *r, const HdsFilter *f, HdsMinuteFn fn, void *opaque);

typedef struct HdsEvent {
    int64_t time_us;
    const char *stream, *component, *kind, *cause;
    int error;
} HdsEvent;

typedef int (*HdsEventFn)(void *opaque, const HdsEvent *e);

/* Events in time order; filter: time and stream. */
int hds_reader_events(HdsReader *r, const HdsFilter *f, HdsEventFn fn, void *opaque);

typedef struct HdsBaseline {
    CompKind kind;
    const char *stream, *name;
    int backup;
    int metric;                  /* index into the kind's catalogue */
    int is_rate;                 /* a counter: the statistics are of its rate per second */
    int hour;                    /* 0..23 (UTC hour of day), or HDS_BASELINE_ALL_HOURS */
    int days;                    /* days that made an hour-of-day baseline */
    int64_t n;                   /* samples */
    double mean, std;            /* std: population standard deviation */
    double min, max;
    double p50, p95, p99;        /* nearest-rank, from log-bucket histograms */
    int64_t updated_hour;        /* the hour (since 1970, UTC) it was computed at */
} HdsBaseline;

typedef int (*HdsBaselineFn)(void *opaque, const HdsBaseline *b);

/* Baselines ordered by component, metric and hour (all hours first). */
int hds_reader_baselines(HdsReader *r, const HdsFilter *f, HdsBaselineFn fn, void *opaque);

#endif
