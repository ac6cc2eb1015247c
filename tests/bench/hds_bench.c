/*
 * hds_bench: the cost of the historical data store and of /metrics at
 * scale, on synthetic ticks (tests/tools/synth.h: 10 components a stream,
 * the host and 8 GPUs, every metric changing every tick).
 *
 *   hds_bench [--comps N] [--ticks T] [--dir DIR]
 *       N components, T ticks of synthetic time 1 s apart, as fast as the
 *       writer commits them (each tick is flushed, so none is dropped):
 *       CPU time per tick of the producer (building the Sample; copying it
 *       into the HDS queue) and of the writer thread (encoding, SQLite, the
 *       minute rollups and, past an hour, hourly statistics, baselines and
 *       retention), thread CPU clocks; then bytes on disk per sample (one
 *       component at one tick) and the render time of /metrics.
 *   hds_bench --layouts [--comps N] [--ticks T] [--dir DIR]
 *       The storage layouts the schema was chosen from (hds_int.h's header),
 *       with the same encoder and SQLite settings: CPU per tick of encoding
 *       and inserting, bytes on disk per sample.
 *
 * It prints a table with the targets (<= 10 ms CPU per tick for sampling
 * and storage at 10,000 components) and exits 0; 1 when something failed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "hds/hds_int.h"             /* the layouts reuse its encoder */
#include "hma/metrics.h"
#include "../tools/synth.h"

static int64_t thread_cpu_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * INT64_C(1000000) + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void stats_of(int64_t *v, int n, double *mean, int64_t *p50, int64_t *p99, int64_t *max)
{
    int64_t sum = 0;

    for (int i = 0; i < n; i++)
        sum += v[i];
    qsort(v, n, sizeof(*v), cmp_i64);
    *mean = n ? (double)sum / n : 0;
    *p50 = n ? v[n / 2] : 0;
    *p99 = n ? v[FFMIN(n - 1, (int)(n * 0.99))] : 0;
    *max = n ? v[n - 1] : 0;
}

static int64_t path_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) < 0 ? 0 : sb.st_size;
}

static void remove_db(const char *p)
{
    char w[1100];

    unlink(p);
    snprintf(w, sizeof(w), "%s-wal", p);
    unlink(w);
    snprintf(w, sizeof(w), "%s-shm", p);
    unlink(w);
}

/* ---- the HDS as the run command uses it ---------------------------------- */

static int bench_hds(int comps, int ticks, const char *dir)
{
    char path[1024];
    Synth sy;
    Sample s = { 0 };
    HdsConfig cfg;
    HdsStats st;
    Hds *h;
    int64_t *build = av_calloc(ticks, sizeof(int64_t)), *put = av_calloc(ticks, sizeof(int64_t));
    int64_t *wr = av_calloc(ticks, sizeof(int64_t)), *tot = av_calloc(ticks, sizeof(int64_t));
    int64_t *wr_by_tick = av_calloc(ticks, sizeof(int64_t));
    int64_t prev_wr = 0, p50, p99, max, raw_bytes = 0, samples;
    double mean;
    sqlite3 *db;
    sqlite3_stmt *q;
    int ret, n;

    if (!build || !put || !wr || !tot || !wr_by_tick)
        return 1;
    synth_init(&sy, comps, 42);
    n = synth_nb_comps(&sy);
    snprintf(path, sizeof(path), "%s/bench.hds", dir);
    remove_db(path);
    hds_config_init(&cfg);
    cfg.path = path;
    if ((ret = hds_open(&h, &cfg)) < 0) {
        fprintf(stderr, "hds_open: %s\n", av_err2str(ret));
        return 1;
    }
    for (int t = 0; t < ticks; t++) {
        int64_t c0 = thread_cpu_us(), c1, c2;

        synth_build(&sy, &s, t, SYNTH_T0_US + t * INT64_C(1000000));
        c1 = thread_cpu_us();
        if (hds_put_sample(h, &s) < 0)
            return 1;
        c2 = thread_cpu_us();
        hds_flush(h, -1);
        hds_get_stats(h, &st);
        build[t] = c1 - c0;
        put[t] = c2 - c1;
        wr[t] = wr_by_tick[t] = st.writer_cpu_us - prev_wr;
        tot[t] = build[t] + put[t] + wr[t];
        prev_wr = st.writer_cpu_us;
    }
    hds_get_stats(h, &st);
    hds_close(&h);
    samples = (int64_t)ticks * n;

    /* raw storage alone (tick + raw tables), and the whole file */
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT sum(pgsize) FROM dbstat WHERE name IN ('raw', 'tick', 'tick_time')",
                           -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            raw_bytes = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    sqlite3_close(db);

    printf("HDS: %d components (%d streams, host, %d GPUs), %d ticks of 1 s, %"PRId64" written, "
           "%"PRId64" dropped\n", n, sy.nb_streams, sy.nb_gpus, ticks, st.ticks_written, st.ticks_dropped);
    printf("%-44s %9s %9s %9s %9s\n", "CPU per tick (ms)", "mean", "p50", "p99", "max");
    stats_of(build, ticks, &mean, &p50, &p99, &max);
    printf("%-44s %9.3f %9.3f %9.3f %9.3f\n", "  producer: build the Sample (synthetic)", mean / 1e3, p50 / 1e3, p99 / 1e3, max / 1e3);
    stats_of(put, ticks, &mean, &p50, &p99, &max);
    printf("%-44s %9.3f %9.3f %9.3f %9.3f\n", "  producer: hds_put_sample (copy, queue)", mean / 1e3, p50 / 1e3, p99 / 1e3, max / 1e3);
    stats_of(wr, ticks, &mean, &p50, &p99, &max);
    printf("%-44s %9.3f %9.3f %9.3f %9.3f\n", "  writer thread (encode, SQLite, upkeep)", mean / 1e3, p50 / 1e3, p99 / 1e3, max / 1e3);
    stats_of(tot, ticks, &mean, &p50, &p99, &max);
    printf("%-44s %9.3f %9.3f %9.3f %9.3f   target <= 10 ms (mean) %s\n", "  total", mean / 1e3,
           p50 / 1e3, p99 / 1e3, max / 1e3, mean <= 10000 ? "met" : "NOT met");
    {
        /* where the writer's time goes: a tick that only stores, one that
         * also rolls up the minute before, the one that closes an hour, and
         * those that recompute baselines after it (HDS_BASELINE_SLICE
         * components each) */
        static const char *const what[] = { "store only", "+ minute rollup", "+ hour close",
                                            "+ baseline slice" };
        int64_t sum[4] = { 0 }, worst[4] = { 0 };
        int cnt[4] = { 0 }, slices = (n + HDS_BASELINE_SLICE - 1) / HDS_BASELINE_SLICE;
        int64_t hour_tick = -1;

        for (int t = 0; t < ticks; t++) {
            int64_t sec = SYNTH_T0_US / 1000000 + t;
            int c = t && sec % 3600 == 0 ? 2 : t && sec % 60 == 0 ? 1 : 0;
            if (c == 2)
                hour_tick = t;
            else if (hour_tick >= 0 && t > hour_tick && t <= hour_tick + slices)
                c = c ? c : 3;
            sum[c] += wr_by_tick[t];
            worst[c] = FFMAX(worst[c], wr_by_tick[t]);
            cnt[c]++;
        }
        printf("writer CPU by kind of tick (ms): ");
        for (int c = 0; c < 4; c++)
            if (cnt[c])
                printf("%s%s %.2f mean, %.2f max (%d)", c ? "; " : "", what[c],
                       sum[c] / 1e3 / cnt[c], worst[c] / 1e3, cnt[c]);
        printf("\n");
    }
    {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("peak RSS of the benchmark process: %.0f MB\n", ru.ru_maxrss / 1024.0);
    }
    printf("bytes on disk per sample (component-tick): %.1f raw ticks (raw + tick tables), "
           "%.1f whole file (%.1f MB)\n", (double)raw_bytes / samples,
           (double)path_size(path) / samples, path_size(path) / 1e6);
    remove_db(path);
    sample_free(&s);
    av_free(build);
    av_free(put);
    av_free(wr);
    av_free(tot);
    av_free(wr_by_tick);
    return 0;
}

static int bench_render(int comps, int rounds)
{
    Synth sy;
    Sample s = { 0 };

    synth_init(&sy, comps, 42);
    synth_build(&sy, &s, 100, SYNTH_T0_US + 100 * INT64_C(1000000));
    for (int fmt = METRICS_TEXT; fmt <= METRICS_OPENMETRICS; fmt++) {
        int64_t *cpu = av_calloc(rounds, sizeof(*cpu)), p50, p99, max;
        double mean;
        unsigned len = 0;

        for (int r = 0; r < rounds; r++) {
            AVBPrint bp;
            int64_t c0 = thread_cpu_us();
            av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
            if (metrics_render(&s, fmt, &bp) < 0)
                return 1;
            cpu[r] = thread_cpu_us() - c0;
            len = bp.len;
            av_bprint_finalize(&bp, NULL);
        }
        stats_of(cpu, rounds, &mean, &p50, &p99, &max);
        printf("/metrics render, %d components, %-11s: %.2f ms CPU (median of %d; max %.2f), %.1f MB\n",
               s.nb_comps, fmt == METRICS_TEXT ? "text 0.0.4" : "OpenMetrics", p50 / 1e3, rounds,
               max / 1e3, len / 1e6);
        av_free(cpu);
    }
    sample_free(&s);
    return 0;
}

/* ---- the layouts the schema was chosen from --------------------------------- */

enum Layout { L_COLS, L_COMP, L_COMP_WR, L_STREAM, L_TICK, L_NB };

static const struct {
    const char *name, *ddl, *ins;
} layouts[L_NB] = {
    [L_COLS]    = { "row per (tick, component), columns",
                    "CREATE TABLE s(tick INTEGER, comp INTEGER, present INTEGER,"
                    " v0 REAL, v1 REAL, v2 REAL, v3 REAL, v4 REAL, v5 REAL, v6 REAL, v7 REAL,"
                    " v8 REAL, v9 REAL, v10 REAL, v11 REAL, v12 REAL, v13 REAL, v14 REAL, v15 REAL)",
                    "INSERT INTO s VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" },
    [L_COMP]    = { "row per (tick, component), packed BLOB",
                    "CREATE TABLE s(tick INTEGER, comp INTEGER, data BLOB)",
                    "INSERT INTO s VALUES(?, ?, ?)" },
    [L_COMP_WR] = { "same, WITHOUT ROWID (tick, comp) key",
                    "CREATE TABLE s(tick INTEGER, comp INTEGER, data BLOB, PRIMARY KEY(tick, comp)) WITHOUT ROWID",
                    "INSERT INTO s VALUES(?, ?, ?)" },
    [L_STREAM]  = { "row per (tick, stream), packed BLOB (chosen)",
                    "CREATE TABLE s(id INTEGER PRIMARY KEY, data BLOB)",
                    "INSERT INTO s VALUES(?, ?)" },
    [L_TICK]    = { "row per tick, one BLOB",
                    "CREATE TABLE s(id INTEGER PRIMARY KEY, data BLOB)",
                    "INSERT INTO s VALUES(?, ?)" },
};

static int stream_of(const Synth *sy, int i)
{
    return i <= sy->nb_gpus ? 1 : 2 + (i - 1 - sy->nb_gpus) / SYNTH_PER_STREAM;
}

static int bench_layout(enum Layout l, int comps, int ticks, const char *dir)
{
    char path[1024];
    sqlite3 *db;
    sqlite3_stmt *ins;
    Synth sy;
    Sample s = { 0 };
    ByteBuf b = { 0 };
    int64_t cpu = 0;
    int n;

    synth_init(&sy, comps, 42);
    n = synth_nb_comps(&sy);
    snprintf(path, sizeof(path), "%s/layout%d.db", dir, l);
    remove_db(path);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                         "PRAGMA secure_delete = OFF; PRAGMA cache_size = -16384", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, layouts[l].ddl, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, layouts[l].ins, -1, &ins, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", path, sqlite3_errmsg(db));
        return 1;
    }
    for (int t = 0; t < ticks; t++) {
        int64_t c0;

        synth_build(&sy, &s, t, SYNTH_T0_US + t * INT64_C(1000000));
        c0 = thread_cpu_us();
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        for (int i = 0; i < n; i++) {
            const SampleComp *c = &s.comps[i];
            int last = i + 1 == n || stream_of(&sy, i + 1) != stream_of(&sy, i);

            if (l == L_COLS) {
                sqlite3_bind_int64(ins, 1, t);
                sqlite3_bind_int(ins, 2, i + 1);
                sqlite3_bind_int(ins, 3, c->present);
                for (int m = 0; m < 16; m++) {
                    if (m < sample_kinds[c->kind].nb_metrics && sample_has(c, m))
                        sqlite3_bind_double(ins, 4 + m, c->v[m]);
                    else
                        sqlite3_bind_null(ins, 4 + m);
                }
                sqlite3_step(ins);
                sqlite3_reset(ins);
                continue;
            }
            hds_put_comp(&b, i + 1, c);
            if (l == L_COMP || l == L_COMP_WR) {
                sqlite3_bind_int64(ins, 1, t);
                sqlite3_bind_int(ins, 2, i + 1);
                sqlite3_bind_blob(ins, 3, b.data, (int)b.len, SQLITE_STATIC);
            } else if (l == L_STREAM && last) {
                sqlite3_bind_int64(ins, 1, (int64_t)t << ID_SHIFT | stream_of(&sy, i));
                sqlite3_bind_blob(ins, 2, b.data, (int)b.len, SQLITE_STATIC);
            } else if (l == L_TICK && i + 1 == n) {
                sqlite3_bind_int64(ins, 1, t);
                sqlite3_bind_blob(ins, 2, b.data, (int)b.len, SQLITE_STATIC);
            } else {
                continue;
            }
            sqlite3_step(ins);
            sqlite3_reset(ins);
            b.len = 0;
        }
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        cpu += thread_cpu_us() - c0;
    }
    sqlite3_finalize(ins);
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    sqlite3_close(db);
    printf("%-46s %9.2f %12.1f\n", layouts[l].name, cpu / 1e3 / ticks,
           (double)path_size(path) / ((int64_t)ticks * n));
    remove_db(path);
    hds_bb_free(&b);
    sample_free(&s);
    return 0;
}

int main(int argc, char **argv)
{
    int comps = 10000, ticks = 180, renders = 20, do_layouts = 0, ret = 0;
    const char *dir = "/tmp";

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--layouts"))
            do_layouts = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--comps"))
            comps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--ticks"))
            ticks = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--renders"))
            renders = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--dir"))
            dir = argv[++i];
        else {
            fprintf(stderr, "usage: hds_bench [--layouts] [--comps N] [--ticks T] [--renders R] [--dir DIR]\n");
            return 2;
        }
    }
    log_init(AV_LOG_WARNING);
    if (do_layouts) {
        printf("layouts, %d components, %d ticks (encode + insert + commit, thread CPU)\n", comps, ticks);
        printf("%-46s %9s %12s\n", "layout", "ms/tick", "bytes/sample");
        for (int l = 0; l < L_NB && !ret; l++)
            ret = bench_layout(l, comps, ticks, dir);
        return ret;
    }
    ret = bench_hds(comps, ticks, dir);
    if (!ret)
        ret = bench_render(comps, renders);
    return ret;
}
