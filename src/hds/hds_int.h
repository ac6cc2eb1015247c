/*
 * hds_int.h: the historical data store's design, and what the files of
 * src/hds/ share; hds.h is the contract, and nothing outside src/hds/ (its
 * tests and benchmark aside) includes this file.
 *
 *   hds_codec.c    byte buffers, varints, value vectors: the blob encoding
 *   hds_stats.c    Welford accumulators, log-bucket histograms, quantiles
 *   hds_db.c       SQL helpers on the writer's connection, the meta table
 *   hds_schema.c   the schema, and the checks that a file is one we read
 *   hds_write.c    hds_open/hds_close, the queue, the writer thread, the
 *                  component registry, storing a tick
 *   hds_upkeep.c   minute rollups, hourly rows, baselines, retention
 *   hds_read.c     the reader (hds_reader_*): codec, schema and db only
 *
 * What one file offers the others is declared here and prefixed hds_, as
 * the public functions are; hds.h says which are public.
 *
 * Schema (version 1)
 * ------------------
 *   meta(key, value)               cursors of the upkeep, creation time
 *   run(id, started_us, version, tick_us)          one row per hds_open()
 *   metric(kind, idx, name, type)  the catalogue the file was written with
 *   stream(id, name)               "" is the host and its GPUs
 *   comp(id, kind, stream_id, name, backup, first_time_us)
 *   tick(seq, run, tick, time_us, nb_comps)        one row per stored tick
 *   raw(id = seq << 20 | stream_id, data)          a tick's components of
 *                                                  one stream, packed
 *   minute(id = minute << 20 | stream_id, data)    per-minute n/mean/min/max
 *   hourly(hour, comp_id, data)    per-hour n/mean/M2/min/max + histogram
 *   baseline(comp_id, metric, hour, ...)           mean, std, p50/p95/p99
 *   event(id, time_us, stream, component, kind, cause, error)
 * (views raw_rows and minute_rows split the packed ids for people using
 * the sqlite3 shell.)
 *
 * Why a row per (tick, stream) with the metric vectors packed in a BLOB.
 * The budget is 10,000 components at one tick per second in <= 10 ms of
 * CPU per tick for sampling and storage together, so the number of B-tree
 * inserts per tick decides. Measured with tests/bench/hds_bench --layouts
 * (SQLite 3.40, WAL, synchronous=NORMAL, 10,000 components of the bench's
 * mix, 60 ticks, thread CPU of the inserting thread, this blob encoding,
 * a 2-vCPU AMD EPYC virtual machine):
 *
 *   layout                                   CPU/tick   bytes/sample
 *   row per (tick, component), columns        8.4 ms       74.0
 *   row per (tick, component), packed BLOB    5.2 ms       67.6
 *   same, WITHOUT ROWID (tick, comp) key      8.5 ms       72.3
 *   row per (tick, stream), packed BLOB       2.5 ms       58.2
 *   row per tick, one BLOB                    1.7 ms       53.3
 *
 * A row per component costs most of the budget in SQLite alone, and a
 * column per metric adds a NULL per absent metric and a type byte per
 * value. One row per tick is cheapest but makes every read of one stream
 * decode every component and puts 500 kB in overflow pages. A row per
 * (tick, stream) keeps a stream's components together (export --stream
 * reads one row per tick; a row stays within a page at our ~10 components
 * per stream) for little more CPU, and the minute rollup reads a stream's
 * minute as 60 point lookups. The row id packs (seq, stream_id), so a
 * tick's rows are appended at the end of the rowid B-tree: no index, no
 * page splits in the middle.
 *
 * Encoding of a metric vector (raw, and the statistics of rollups): the
 * presence mask as a varint, then for the present values a 2-bit tag each
 * (packed 4 to a byte) and the values: tag 0 an integer (zigzag varint:
 * counters, up, queue depths: 1 to 5 bytes), 1 a float that float32 holds
 * exactly (4 bytes), 2 a float64. Lossless: a counter of bytes keeps every
 * byte, a latency every bit, and export gives back what was put.
 *
 * Rollups and baselines. Raw ticks stay for the raw window (default 24 h);
 * each completed minute is read back from raw once and rolled up into
 * n/mean/min/max per component and metric (the minute table, kept for the
 * retention, default 7 d). The same pass feeds per-hour accumulators
 * (Welford n/mean/M2, min, max, and a histogram of log-spaced buckets, 64
 * per octave, each with its count and sum) that are written to the hourly
 * table when the hour ends. Baselines merge hourly rows exactly: mean and
 * standard deviation by Chan's formula, histograms bucket by bucket;
 * quantiles are nearest-rank on the merged histogram, each bucket valued at
 * the mean of its samples, clamped to [min, max]: exact when a bucket holds
 * one distinct value (integers below 128, a constant series), otherwise
 * within the bucket's width (1/64 of the value, 1.6 %). Counters are
 * baselined as rates per second (their raw values only grow); gauges as
 * they are. Baselines (table baseline):
 *   hour 24   rolling: the last 24 hourly rows, once they hold half an
 *             hour of ticks;
 *   hour h    hour of day h (UTC), from the same hour of every day in the
 *             retention, once HDS_BASELINE_MIN_DAYS days each hold at least
 *             half an hour's ticks in that hour.
 * They are recomputed when an hour ends, HDS_BASELINE_SLICE components per
 * tick, so that no tick's transaction grows by more than a slice.
 *
 * Cost (tests/bench/bench_hds.sh, TICKS=3720, 10,009 components, same
 * machine): the writer thread spends 3.6 ms on a tick that only stores it
 * (p50 1.5 ms; the mean carries the WAL checkpoints), 190 ms on a tick
 * that also rolls up the minute before (3.2 ms a tick amortized), 0.95 s
 * on the tick that closes an hour (65 MB of hourly rows), then 14 ms on
 * each of the 40 ticks that recompute baselines; 7.0 ms a tick over the
 * run. The producer spends 0.15 ms in hds_put_sample. Bursts wait in the
 * queue (HDS_DEFAULT_QUEUE_TICKS) and are caught up on the next ticks.
 * Bytes on disk per component-tick: 58.8 for the raw ticks, 64.3 for the
 * whole file. Memory: the queue (a Sample per slot), the hour's
 * accumulators (16 bytes per histogram bucket, 58 buckets per series on
 * average on the bench's data) and SQLite's 16 MB cache: 242 MB peak RSS
 * for the benchmark process at 10,000 components.
 *
 * Crash safety. Each tick's transaction holds the tick, the events that
 * came with it and the upkeep it triggered, cursors included; the per-hour
 * accumulators live in memory and are rebuilt on open from the raw ticks of
 * the hour not yet closed (raw rows of an open hour are never deleted).
 */
#ifndef HS_HDS_INT_H
#define HS_HDS_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "core/log.h"
#include "hds/hds.h"

#define US_PER_MIN   INT64_C(60000000)
#define US_PER_HOUR  INT64_C(3600000000)
#define ID_SHIFT     20                  /* raw and minute ids: x << 20 | stream_id */
#define MAX_STREAMS  (1 << ID_SHIFT)
#define HIST_SUB     64                  /* histogram buckets per octave */
#define EVENT_QUEUE  256                 /* events that may wait for the writer */
#define MINUTES_PER_TICK 2               /* minute rollups one tick may do (catch-up) */
#define HDS_BASELINE_SLICE 256           /* components per tick when baselines are due */
#define DROP_LOG_US  (10 * INT64_C(1000000))

static inline int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b < 0);
}

/* ---- hds_codec.c: byte buffers, varints, value vectors ------------------- */

typedef struct ByteBuf {
    uint8_t *data;
    size_t len, alloc;
    int oom;
} ByteBuf;

void hds_bb_free(ByteBuf *b);
void hds_put_varint(ByteBuf *b, uint64_t v);
/* 0 and *pp advanced, or AVERROR_INVALIDDATA past end */
int hds_get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v);
uint64_t hds_zigzag(int64_t v);
int64_t hds_unzigzag(uint64_t v);
/* n values, stride bytes apart (hds_put_values: contiguous): ceil(n / 4)
 * tag bytes, then each value in its tag's form; hds_get_values reads them
 * back */
void hds_put_values_strided(ByteBuf *b, const double *first, int n, size_t stride);
void hds_put_values(ByteBuf *b, const double *v, int n);
int hds_get_values(const uint8_t **pp, const uint8_t *end, double *v, int n);
int hds_popcount32(uint32_t x);
/* the presence bits a component of kind can have */
uint32_t hds_kind_mask(CompKind kind);
/* one component of a raw row: comp_id, presence, the present values; read
 * back (after the comp_id) into c->present and c->v */
void hds_put_comp(ByteBuf *b, int comp_id, const SampleComp *c);
int hds_get_comp_values(const uint8_t **pp, const uint8_t *end, SampleComp *c);

/* ---- hds_stats.c: Welford accumulators and log-bucket histograms --------- */

typedef struct HistBin {
    int32_t key;
    uint32_t count;
    double sum;                  /* of the samples in the bucket */
} HistBin;

typedef struct Hist {
    HistBin *bins;               /* ascending key = ascending value */
    int nb, alloc;
} Hist;

typedef struct Acc {
    int64_t n;
    double mean, m2, min, max;
    Hist h;
} Acc;

void hds_acc_reset(Acc *a);
void hds_acc_free(Acc *a);
/* a += b, exactly (Chan's formula; histograms bucket by bucket); tmp: scratch */
int hds_acc_merge(Acc *a, const Acc *b, Hist *tmp);
/* a += the n values of v (no NaN); scratch: n bins at least; tmp: scratch */
int hds_acc_add_values(Acc *a, const double *v, int n, HistBin *scratch, Hist *tmp);
double hds_acc_std(const Acc *a);
/* nearest rank on the histogram, each bucket valued at its mean, clamped
 * to [min, max] */
double hds_acc_quantile(const Acc *a, double q);
/* an accumulator as hourly rows store it, and back */
void hds_put_acc(ByteBuf *b, const Acc *a);
int hds_decode_acc(const uint8_t **pp, const uint8_t *end, Acc *t);

/* ---- hds_db.c: the writer's state, SQL helpers ----------------------------- */

typedef struct Series {
    Acc hour;                    /* this hour: the gauge, or the counter's rate */
    double prev_v;               /* counters: last value, its time and run */
    int64_t prev_t;              /* 0: none yet */
    int64_t prev_run;
} Series;

typedef struct CompInfo {
    CompKind kind;
    int stream_id;
    int backup;
    char stream[sizeof(((SampleComp *)0)->stream)];
    char name[sizeof(((SampleComp *)0)->name)];
    int hash_next;               /* next id in the hash chain, 0: end */
    Series *series;              /* [nb_metrics], NULL until it has data */
    int scan_slot;               /* its slot in the stream being scanned, -1 */
    int hour_touched;
} CompInfo;

typedef struct EvItem {
    uint64_t gen;
    int64_t time_us;
    char stream[48];
    char component[64];
    char kind[24];
    char cause[1024];
    int error;
} EvItem;

struct Hds {
    LogCtx log;
    HdsConfig cfg;
    char *path;
    int lock_fd;                 /* flock'd: one writer per file */

    pthread_t thread;
    int thread_started;
    pthread_mutex_t lock;
    pthread_cond_t cond_work;    /* the writer waits: a tick, an event, stop */
    pthread_cond_t cond_done;    /* flushers wait: an item was written or dropped */
    /* protected by lock: */
    Sample *ring;                /* cfg.queue_ticks slots, their memory reused */
    uint64_t *ring_gen;
    int ring_head, ring_count;
    EvItem *evring;
    int ev_head, ev_count;
    int stop;
    uint64_t next_gen;           /* given to the next item put */
    uint64_t busy_gen;           /* the oldest item the writer holds, 0: none */
    HdsStats stats;
    int64_t last_drop_log;
    int64_t drops_since_log;

    /* the writer thread's own (and hds_open's before it starts): */
    sqlite3 *db;
    int64_t run_id;
    int64_t last_seq;
    Sample cur;
    EvItem *evbatch;
    CompInfo *comps;             /* [1..nb_comps], by comp id */
    int nb_comps, alloc_comps;
    int cache_kb;                /* the page cache asked of SQLite (size_cache) */
    int *hash;                   /* buckets of comp ids */
    int hash_size;
    char **streams;              /* [1..nb_streams], by stream id */
    int nb_streams, alloc_streams;
    int *pos_ids;                /* comp id of each position of the last tick */
    int nb_pos;
    ByteBuf *sbuf;               /* per stream id: the row being built */
    int alloc_sbuf;
    int *touched;                /* stream ids with a row this tick [alloc_streams] */
    int nb_touched;
    ByteBuf blob;
    int64_t rollup_next;         /* minutes before it are rolled up (persisted) */
    int64_t scan_next;           /* minutes before it are in the hour accumulators */
    int64_t acc_hour;            /* the hour the accumulators hold, -1: none */
    int64_t hour_closed;         /* hourly rows written up to it (persisted), -1 */
    /* the minute being scanned: its ticks, and per stream the values of
     * each component (slot) and metric, in tick order */
    int64_t *mt_seq, *mt_run, *mt_time;
    int nb_mt, alloc_mt;
    uint8_t *stream_seen;        /* [alloc_streams] */
    int *slot_comp;              /* comp id of each slot */
    int nb_slots, alloc_slots;
    double *vbuf, *rbuf;         /* [slot][metric][tick]: values, counter rates */
    int *vcnt, *rcnt;            /* [slot][metric] */
    size_t alloc_vbuf;
    HistBin *scratch_bins;
    int alloc_scratch;
    Hist tmp_hist;
    Acc tmp_acc;                 /* an hourly row's metric, decoded */
    int need_prime;              /* counters' last values not read yet (after load_state) */
    int64_t bl_hour;             /* baselines being recomputed for it, -1: none */
    int bl_cursor;               /* next comp id of that job */
    int64_t retention_minute;    /* retention last ran at this minute */
    int64_t last_error_log;
    sqlite3_stmt *st_tick, *st_raw, *st_comp, *st_stream, *st_event, *st_meta;
    sqlite3_stmt *st_mticks, *st_raw_get, *st_raw_ids, *st_next_min, *st_minute, *st_hourly, *st_hour_read;
    sqlite3_stmt *st_bl_put, *st_bl_del;
};

/* the first column of the first row of sql, dflt when none or NULL */
int64_t hds_db_int(sqlite3 *db, const char *sql, int64_t dflt);
/* a text column of the current row; "" where a damaged file holds NULL
 * (the schema's NOT NULL is the writer's promise, not the file's) */
const char *hds_column_text(sqlite3_stmt *st, int col);
/* logs "what: SQLite's last error" on h's log */
void hds_log_sqlite(Hds *h, int level, const char *what);
/* runs sql (several statements allowed); AVERROR(EIO) logged on failure */
int hds_exec_sql(Hds *h, const char *sql);
/* steps st to SQLITE_DONE and resets it; AVERROR(EIO) logged otherwise */
int hds_step_done(Hds *h, sqlite3_stmt *st, const char *what);
/* the meta table: cursors of the upkeep, creation time */
int hds_meta_put(Hds *h, const char *key, int64_t v);
int64_t hds_meta_get(Hds *h, const char *key, int64_t dflt);

/* ---- hds_schema.c: the file ---------------------------------------------- */

#define HDS_NB_TABLES 11
extern const char *const hds_table_names[HDS_NB_TABLES];

/*
 * What the file is: 1 an HDS this build reads (version in *version), 0 an
 * empty database (no tables: may become one), or a negative AVERROR with
 * the reason in err.
 */
int hds_check_file(sqlite3 *db, int *version, char *err, size_t err_size);
/* the file's catalogue agrees with ours on every index both know */
int hds_check_catalogue(sqlite3 *db, char *err, size_t err_size);
/* a new file: application id, schema version, tables, creation time */
int hds_create_schema(Hds *h);
/* the catalogue of this build, appended to the file's (new metrics) */
int hds_store_catalogue(Hds *h);

/* ---- hds_upkeep.c ----------------------------------------------------------- */

/* rollups, the hour's accumulators, baselines and retention due at now_us,
 * within the writer's open transaction */
int hds_upkeep(Hds *h, int64_t now_us);

#endif
