/*
 * hds_test.c: the historical data store: value encoding, statistics
 * (Welford, histograms, quantiles) on series whose answers are known, the
 * schema and its refusals, put/read-back with presence bits, events through
 * an EventLog sink, the queue dropping the oldest tick when the writer is
 * held, retention and downsampling under a fake clock, baselines on a
 * constructed series, the hour rebuilt after a reopen, and a corrupt row.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <sqlite3.h>

#include <libavutil/time.h>

#include "hds/hds_codec.c"            /* value_tag and the tags */
#include "../tools/synth.h"

static char tmpdir[64];

static void tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

static int64_t sql_int(const char *path, const char *sql)
{
    sqlite3 *db;
    int64_t v;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        return -1;
    v = hds_db_int(db, sql, -1);
    sqlite3_close(db);
    return v;
}

static int sql_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    int rc;

    if (sqlite3_open(path, &db) != SQLITE_OK)
        return -1;
    rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

static int integrity_ok(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int ok = 0;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return 0;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK) {
        ok = sqlite3_step(st) == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return ok;
}

static Hds *open_store(const char *path, int64_t tick_us, int64_t raw_s, int64_t ret_s)
{
    HdsConfig cfg;
    Hds *h = NULL;

    hds_config_init(&cfg);
    cfg.path = path;
    cfg.tick_us = tick_us;
    cfg.raw_window_us = raw_s * 1000000;
    cfg.retention_us = ret_s * 1000000;
    CU_ASSERT_FATAL(hds_open(&h, &cfg) == 0);
    return h;
}

/* ---- encoding ------------------------------------------------------------ */

static void test_codec(void)
{
    const double v[] = { 0, 1, -1, 127, 128, 9007199254740992.0, -9007199254740992.0,
                         9007199254740994.0, 0.5, 0.1, 1e300, -0.0, INFINITY, -INFINITY,
                         3.0e10, 29.97, 1.0f / 3.0f };
    const int tags[] = { TAG_INT, TAG_INT, TAG_INT, TAG_INT, TAG_INT, TAG_INT, TAG_INT,
                         TAG_F64, TAG_F32, TAG_F64, TAG_F64, TAG_F32, TAG_F32, TAG_F32,
                         TAG_INT, TAG_F64, TAG_F32 };
    const int n = sizeof(v) / sizeof(v[0]);
    double back[32], nan_in = NAN, nan_out = 0;
    const uint8_t *p;
    ByteBuf b = { 0 };
    uint64_t u;

    for (int i = 0; i < n; i++)
        CU_ASSERT(value_tag(v[i]) == tags[i]);
    hds_put_values(&b, v, n);
    CU_ASSERT_FATAL(!b.oom);
    p = b.data;
    CU_ASSERT(hds_get_values(&p, b.data + b.len, back, n) == 0);
    CU_ASSERT(p == b.data + b.len);
    for (int i = 0; i < n; i++) {
        CU_ASSERT(back[i] == v[i]);
        CU_ASSERT(signbit(back[i]) == signbit(v[i]));
    }
    /* every truncation is an error, never a read past the end */
    for (size_t cut = 0; cut < b.len; cut++) {
        p = b.data;
        CU_ASSERT(hds_get_values(&p, b.data + cut, back, n) == AVERROR_INVALIDDATA);
    }
    b.len = 0;
    hds_put_values(&b, &nan_in, 1);
    p = b.data;
    CU_ASSERT(hds_get_values(&p, b.data + b.len, &nan_out, 1) == 0 && isnan(nan_out));
    /* a tag byte, then small integers in one byte, and a counter of 3e10
     * bytes in six (zigzag: 36 bits) */
    b.len = 0;
    hds_put_values(&b, (const double[]){ 1, 3.0e10 }, 2);
    CU_ASSERT(b.len == 1 + 1 + 6);

    b.len = 0;
    hds_put_varint(&b, UINT64_MAX);
    hds_put_varint(&b, 0);
    p = b.data;
    CU_ASSERT(hds_get_varint(&p, b.data + b.len, &u) == 0 && u == UINT64_MAX);
    CU_ASSERT(hds_get_varint(&p, b.data + b.len, &u) == 0 && u == 0);
    CU_ASSERT(hds_get_varint(&p, b.data + b.len, &u) == AVERROR_INVALIDDATA);
    CU_ASSERT(hds_unzigzag(hds_zigzag(INT64_MIN)) == INT64_MIN && hds_unzigzag(hds_zigzag(-3)) == -3);
    hds_bb_free(&b);
}

/* ---- statistics --------------------------------------------------------------- */

static void shuffle(double *v, int n, uint64_t seed)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(synth_mix(seed + i) % (uint64_t)(i + 1));
        double t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

static void test_stats_exact(void)
{
    double v[100], vals[100];
    HistBin scratch[100];
    Hist tmp = { 0 };
    Acc a = { 0 }, b = { 0 }, c = { 0 };

    for (int i = 0; i < 100; i++)
        v[i] = i + 1;
    shuffle(v, 100, 7);
    /* in two batches, like two minutes */
    memcpy(vals, v, sizeof(v));
    CU_ASSERT(hds_acc_add_values(&a, vals, 60, scratch, &tmp) == 0);
    CU_ASSERT(hds_acc_add_values(&a, vals + 60, 40, scratch, &tmp) == 0);
    CU_ASSERT(a.n == 100);
    CU_ASSERT_DOUBLE_EQUAL(a.mean, 50.5, 1e-12);
    /* population variance of 1..100: (100^2 - 1) / 12 */
    CU_ASSERT_DOUBLE_EQUAL(hds_acc_std(&a), sqrt(9999.0 / 12), 1e-9);
    CU_ASSERT(a.min == 1 && a.max == 100);
    /* nearest rank: the 50th, 95th and 99th values, exactly (integers
     * below 128 each have a bucket of their own) */
    CU_ASSERT(hds_acc_quantile(&a, 0.50) == 50);
    CU_ASSERT(hds_acc_quantile(&a, 0.95) == 95);
    CU_ASSERT(hds_acc_quantile(&a, 0.99) == 99);
    CU_ASSERT(hds_acc_quantile(&a, 0) == 1);
    CU_ASSERT(hds_acc_quantile(&a, 1) == 100);

    /* merging two halves (Chan) is the whole, bucket for bucket */
    memcpy(vals, v, sizeof(v));
    CU_ASSERT(hds_acc_add_values(&b, vals, 30, scratch, &tmp) == 0);
    CU_ASSERT(hds_acc_add_values(&c, vals + 30, 70, scratch, &tmp) == 0);
    CU_ASSERT(hds_acc_merge(&b, &c, &tmp) == 0);
    CU_ASSERT(b.n == a.n && b.min == a.min && b.max == a.max && b.h.nb == a.h.nb);
    CU_ASSERT_DOUBLE_EQUAL(b.mean, a.mean, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(b.m2, a.m2, 1e-9);
    for (int i = 0; i < a.h.nb && i < b.h.nb; i++)
        CU_ASSERT(a.h.bins[i].key == b.h.bins[i].key && a.h.bins[i].count == b.h.bins[i].count);

    /* the hourly encoding keeps every field */
    {
        ByteBuf bb = { 0 };
        const uint8_t *p;
        Acc d = { 0 };
        hds_put_acc(&bb, &a);
        p = bb.data;
        CU_ASSERT(hds_decode_acc(&p, bb.data + bb.len, &d) == 0 && p == bb.data + bb.len);
        CU_ASSERT(d.n == a.n && d.mean == a.mean && d.m2 == a.m2 && d.min == a.min && d.max == a.max);
        CU_ASSERT(d.h.nb == a.h.nb);
        CU_ASSERT(!memcmp(d.h.bins, a.h.bins, a.h.nb * sizeof(*a.h.bins)));
        hds_acc_free(&d);
        hds_bb_free(&bb);
    }
    hds_acc_free(&a);
    hds_acc_free(&b);
    hds_acc_free(&c);
    av_free(tmp.bins);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* continuous values: each quantile within a bucket (1/64) of the exact one */
static void test_stats_bounded(void)
{
    enum { N = 3600 };
    double *v = av_malloc_array(N, sizeof(*v)), *sorted = av_malloc_array(N, sizeof(*v));
    HistBin scratch[60];
    Hist tmp = { 0 };
    Acc a = { 0 };
    const double qs[] = { 0.5, 0.95, 0.99 };

    CU_ASSERT_FATAL(v && sorted);
    for (int i = 0; i < N; i++) {
        /* a latency-like, skewed series over two decades, some negative */
        double u = (synth_mix(i) >> 11) * (1.0 / 9007199254740992.0);
        v[i] = i % 97 == 0 ? -0.5 * u : 0.001 * exp(4.6 * u * u);
    }
    memcpy(sorted, v, N * sizeof(*v));
    qsort(sorted, N, sizeof(*sorted), cmp_double);
    for (int i = 0; i < N; i += 60)
        CU_ASSERT(hds_acc_add_values(&a, v + i, 60, scratch, &tmp) == 0);
    for (int k = 0; k < 3; k++) {
        double exact = sorted[(int)ceil(qs[k] * N) - 1], est = hds_acc_quantile(&a, qs[k]);
        CU_ASSERT(fabs(est - exact) <= fabs(exact) / 64);
    }
    hds_acc_free(&a);
    av_free(tmp.bins);
    av_free(v);
    av_free(sorted);
}

/* ---- the file -------------------------------------------------------------------- */

static void test_schema_and_refusals(void)
{
    char path[256], err[256];
    HdsReader *r = NULL;
    Hds *h;
    FILE *f;

    tmp_path(path, sizeof(path), "schema.hds");
    h = open_store(path, 1000000, 3600, 7200);
    hds_close(&h);
    CU_ASSERT(h == NULL);
    hds_close(&h);                           /* NULL is fine */
    CU_ASSERT(sql_int(path, "PRAGMA user_version") == HDS_SCHEMA_VERSION);
    CU_ASSERT(sql_int(path, "PRAGMA application_id") == HDS_APPLICATION_ID);
    CU_ASSERT(sql_int(path, "SELECT count(*) FROM metric") > 60);
    CU_ASSERT(sql_int(path, "SELECT count(*) FROM run") == 1);
    CU_ASSERT(hds_reader_open(&r, path, err, sizeof(err)) == 0);
    hds_reader_close(&r);
    CU_ASSERT(r == NULL);

    /* one writer per file */
    {
        Hds *h1 = open_store(path, 1000000, 3600, 7200), *h2 = NULL;
        HdsConfig cfg;
        hds_config_init(&cfg);
        cfg.path = path;
        CU_ASSERT(hds_open(&h2, &cfg) == AVERROR(EBUSY) && !h2);
        hds_close(&h1);
    }

    /* a newer schema: refused by the writer and the reader */
    CU_ASSERT_FATAL(sql_exec(path, "PRAGMA user_version = 99") == 0);
    {
        HdsConfig cfg;
        Hds *h2 = NULL;
        hds_config_init(&cfg);
        cfg.path = path;
        CU_ASSERT(hds_open(&h2, &cfg) == AVERROR(ENOSYS) && !h2);
    }
    CU_ASSERT(hds_reader_open(&r, path, err, sizeof(err)) == AVERROR(ENOSYS));
    CU_ASSERT(strstr(err, "newer") != NULL && strstr(err, "99") != NULL);

    /* another application's database */
    tmp_path(path, sizeof(path), "foreign.db");
    CU_ASSERT_FATAL(sql_exec(path, "CREATE TABLE t(x)") == 0);
    CU_ASSERT(hds_reader_open(&r, path, err, sizeof(err)) == AVERROR(EINVAL));
    CU_ASSERT(strstr(err, "not an HDS") != NULL);
    {
        HdsConfig cfg;
        Hds *h2 = NULL;
        hds_config_init(&cfg);
        cfg.path = path;
        CU_ASSERT(hds_open(&h2, &cfg) == AVERROR(EINVAL) && !h2);
        CU_ASSERT(sql_int(path, "SELECT count(*) FROM sqlite_schema") == 1);   /* untouched */
    }

    /* not SQLite at all; nothing there; empty */
    tmp_path(path, sizeof(path), "text.txt");
    f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    for (int i = 0; i < 200; i++)
        fputs("this is a text file, not a database\n", f);
    fclose(f);
    CU_ASSERT(hds_reader_open(&r, path, err, sizeof(err)) == AVERROR(EINVAL));
    CU_ASSERT(strstr(err, "not an SQLite database") != NULL);
    tmp_path(path, sizeof(path), "missing.hds");
    CU_ASSERT(hds_reader_open(&r, path, err, sizeof(err)) == AVERROR(ENOENT));
    CU_ASSERT(!strcmp(err, "no such file"));
    tmp_path(path, sizeof(path), "empty.hds");
    fclose(fopen(path, "w"));
    CU_ASSERT(hds_reader_open(&r, path, err, sizeof(err)) == AVERROR(EINVAL));
    /* ... which a writer makes into a store */
    h = open_store(path, 1000000, 3600, 7200);
    hds_close(&h);
    CU_ASSERT(hds_reader_open(&r, path, err, sizeof(err)) == 0);
    hds_reader_close(&r);

    /* bad configurations */
    {
        HdsConfig cfg;
        Hds *h2 = NULL;
        hds_config_init(&cfg);
        CU_ASSERT(hds_open(&h2, &cfg) == AVERROR(EINVAL));             /* no path */
        cfg.path = path;
        cfg.retention_us = cfg.raw_window_us - 1;
        CU_ASSERT(hds_open(&h2, &cfg) == AVERROR(EINVAL));
    }
}

/* ---- put, read back, events ---------------------------------------------------------- */

typedef struct Check {
    Synth sy;
    Sample want;
    int64_t rows, cur, bad;
} Check;

static int check_sample(void *opaque, const HdsTick *t, const SampleComp *c)
{
    Check *k = opaque;
    int i = synth_index(&k->sy, c->kind, c->stream, c->name, c->backup);

    if (t->tick != k->cur) {
        synth_build(&k->sy, &k->want, t->tick, t->time_us);
        k->cur = t->tick;
    }
    if (i < 0 || k->want.comps[i].present != c->present) {
        k->bad++;
        return 0;
    }
    for (int m = 0; m < SAMPLE_MAX_METRICS; m++)
        if (sample_has(c, m) && c->v[m] != k->want.comps[i].v[m])
            k->bad++;
    k->rows++;
    return 0;
}

static int count_event(void *opaque, const HdsEvent *e)
{
    int *n = opaque;

    if (*n == 0) {
        CU_ASSERT(!strcmp(e->stream, "news"));
        CU_ASSERT(!strcmp(e->component, "enc:720p"));
        CU_ASSERT(!strcmp(e->kind, "failure"));
        CU_ASSERT(!strcmp(e->cause, "encoder died: at frame 12"));
        CU_ASSERT(e->error == AVERROR(EIO));
    } else {
        CU_ASSERT(!strcmp(e->kind, "start"));
        CU_ASSERT(e->error == 0);
    }
    (*n)++;
    return 0;
}

static void test_put_read_events(void)
{
    char path[256], err[256];
    Check k = { .cur = -1 };
    Sample s = { 0 };
    HdsReader *r;
    HdsFilter f = { 0 };
    HdsStats st;
    EventLog *el;
    Hds *h;
    int nev = 0;

    tmp_path(path, sizeof(path), "put.hds");
    synth_init(&k.sy, 25, 1);
    h = open_store(path, 1000000, 3600, 7200);
    CU_ASSERT_FATAL(evlog_alloc(&el, NULL) == 0);
    for (int i = 0; i < EVLOG_MAX_SINKS; i++)
        CU_ASSERT(evlog_add_sink(el, hds_event_sink, h) == 0);
    CU_ASSERT(evlog_add_sink(el, hds_event_sink, h) == AVERROR(ENOSPC));
    evlog_free(&el);

    CU_ASSERT_FATAL(evlog_alloc(&el, NULL) == 0);
    CU_ASSERT(evlog_add_sink(el, hds_event_sink, h) == 0);
    for (int t = 0; t < 90; t++) {
        CU_ASSERT_FATAL(synth_build(&k.sy, &s, t, SYNTH_T0_US + t * INT64_C(1000000)) == 0);
        CU_ASSERT(hds_put_sample(h, &s) == 0);
        if (t == 10)
            evlog_emit(el, "news", "enc:720p", EV_FAILURE, AVERROR(EIO), "encoder died: at frame %d", 12);
        if (t == 20)
            evlog_emit(el, "news", "enc:720p", EV_START, 0, "backup up");
        CU_ASSERT(hds_flush(h, 5000000) == 0);
    }
    hds_get_stats(h, &st);
    CU_ASSERT(st.ticks_written == 90 && st.ticks_dropped == 0 && st.last_tick == 89);
    CU_ASSERT(st.events_written == 2 && st.writer_cpu_us > 0);
    hds_close(&h);
    evlog_free(&el);

    CU_ASSERT_FATAL(hds_reader_open(&r, path, err, sizeof(err)) == 0);
    CU_ASSERT(hds_reader_samples(r, &f, check_sample, &k) == 0);
    CU_ASSERT(k.bad == 0);
    CU_ASSERT(k.rows == 90 * synth_nb_comps(&k.sy));
    /* a stream, a component, a time range */
    k.rows = 0;
    f.stream = "s0001";
    f.component = "720p";
    f.has_from = f.has_to = 1;
    f.from_us = SYNTH_T0_US + 10 * INT64_C(1000000);
    f.to_us = SYNTH_T0_US + 19 * INT64_C(1000000);
    CU_ASSERT(hds_reader_samples(r, &f, check_sample, &k) == 0);
    CU_ASSERT(k.bad == 0 && k.rows == 10 * 2);      /* primary and backup 720p */
    f = (HdsFilter){ 0 };
    CU_ASSERT(hds_reader_events(r, &f, count_event, &nev) == 0);
    CU_ASSERT(nev == 2);
    {
        HdsFileStats fs;
        hds_reader_stats(r, &fs);
        CU_ASSERT(fs.ticks == 90 && fs.components == synth_nb_comps(&k.sy));
        CU_ASSERT(fs.streams == k.sy.nb_streams);
        CU_ASSERT(fs.first_time_us == SYNTH_T0_US && fs.last_time_us == SYNTH_T0_US + 89000000);
        CU_ASSERT(fs.nb_event_kinds == 2);
        /* 22:13:20 to 22:14:49: minute 13 is rolled up, 14 is not over */
        CU_ASSERT(fs.minutes == 1);
    }
    hds_reader_close(&r);
    sample_free(&s);
    sample_free(&k.want);
}

/* Holding SQLite's write lock from another connection holds the writer:
 * the queue fills, and the oldest unwritten ticks are the ones dropped. */
static int collect_tick(void *opaque, const HdsTick *t, const SampleComp *c)
{
    int64_t *ticks = opaque;

    if (ticks[0] < 15 && (!ticks[0] || ticks[ticks[0]] != t->tick))
        ticks[++ticks[0]] = t->tick;
    return 0;
}

static void test_queue_drops_oldest(void)
{
    char path[256], err[256];
    HdsConfig cfg;
    HdsStats st;
    HdsReader *r;
    HdsFilter f = { 0 };
    sqlite3 *blocker;
    Sample s = { 0 };
    Synth sy;
    Hds *h;
    int64_t ticks[16] = { 0 };

    tmp_path(path, sizeof(path), "drop.hds");
    hds_config_init(&cfg);
    cfg.path = path;
    cfg.queue_ticks = 2;
    CU_ASSERT_FATAL(hds_open(&h, &cfg) == 0);
    synth_init(&sy, 5, 3);
    CU_ASSERT_FATAL(sqlite3_open(path, &blocker) == SQLITE_OK);
    CU_ASSERT_FATAL(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);

    synth_build(&sy, &s, 0, SYNTH_T0_US);
    CU_ASSERT(hds_put_sample(h, &s) == 0);
    /* the writer takes tick 0 and waits on the lock */
    for (int i = 0; i < 500; i++) {
        hds_get_stats(h, &st);
        if (!st.queue_depth)
            break;
        av_usleep(2000);
    }
    CU_ASSERT(st.queue_depth == 0);
    for (int t = 1; t <= 5; t++) {
        synth_build(&sy, &s, t, SYNTH_T0_US + t * INT64_C(1000000));
        CU_ASSERT(hds_put_sample(h, &s) == 0);
    }
    hds_get_stats(h, &st);
    CU_ASSERT(st.ticks_dropped == 3 && st.queue_depth == 2);
    CU_ASSERT(hds_flush(h, 20000) == AVERROR(ETIMEDOUT));
    sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(blocker);
    CU_ASSERT(hds_flush(h, 10000000) == 0);
    hds_get_stats(h, &st);
    CU_ASSERT(st.ticks_written == 3 && st.ticks_put == 6);
    hds_close(&h);

    CU_ASSERT_FATAL(hds_reader_open(&r, path, err, sizeof(err)) == 0);
    CU_ASSERT(hds_reader_samples(r, &f, collect_tick, ticks) == 0);
    CU_ASSERT(ticks[0] == 3 && ticks[1] == 0 && ticks[2] == 4 && ticks[3] == 5);
    hds_reader_close(&r);
    sample_free(&s);
}

/* ---- retention and downsampling under a fake clock ---------------------------------- */

static void test_retention(void)
{
    char path[256];
    Sample s = { 0 };
    Synth sy;
    Hds *h;
    const int64_t step = 10;                 /* s per tick */
    const int64_t n = 3 * 3600 / step;       /* three hours */
    int64_t last, first_raw, first_min, nb_min, nb_hours;

    tmp_path(path, sizeof(path), "retention.hds");
    synth_init(&sy, 12, 5);
    /* raw for 10 minutes, everything for 2 hours */
    h = open_store(path, step * 1000000, 600, 7200);
    for (int64_t t = 0; t < n; t++) {
        synth_build(&sy, &s, t, SYNTH_T0_US + t * step * 1000000);
        CU_ASSERT(hds_put_sample(h, &s) == 0);
        if (t % 50 == 0) {
            Event ev = { .time_us = SYNTH_T0_US + t * step * 1000000, .stream = "s0000",
                         .component = "ingest", .kind = EV_WARNING, .cause = "late" };
            hds_put_event(h, &ev);
        }
        CU_ASSERT(hds_flush(h, 5000000) == 0);
    }
    hds_close(&h);
    last = SYNTH_T0_US + (n - 1) * step * 1000000;

    /* raw: the last 10 minutes, or back to the start of the hour still open */
    first_raw = sql_int(path, "SELECT min(time_us) FROM tick");
    CU_ASSERT(first_raw >= FFMIN(last - 600 * INT64_C(1000000), floor_div(last, US_PER_HOUR) * US_PER_HOUR)
                           - step * 1000000);
    CU_ASSERT(first_raw <= last - 600 * INT64_C(1000000));
    CU_ASSERT(sql_int(path, "SELECT count(*) FROM raw") ==
              sql_int(path, "SELECT count(*) FROM tick") * (sy.nb_streams + 1));   /* and "" */
    /* minutes: every minute of the last two hours but the current one */
    first_min = sql_int(path, "SELECT min(id >> 20) FROM minute");
    nb_min = sql_int(path, "SELECT count(DISTINCT id >> 20) FROM minute");
    CU_ASSERT(first_min == floor_div(last - 7200 * INT64_C(1000000), US_PER_MIN));
    CU_ASSERT(nb_min == floor_div(last, US_PER_MIN) - first_min);
    /* hours: the closed ones within the retention */
    nb_hours = sql_int(path, "SELECT count(DISTINCT hour) FROM hourly");
    CU_ASSERT(sql_int(path, "SELECT min(hour) FROM hourly") >= floor_div(last - 7200 * INT64_C(1000000), US_PER_HOUR));
    CU_ASSERT(nb_hours >= 2 && nb_hours <= 3);
    CU_ASSERT(sql_int(path, "SELECT max(hour) FROM hourly") == floor_div(last, US_PER_HOUR) - 1);
    /* events: the last two hours' */
    CU_ASSERT(sql_int(path, "SELECT min(time_us) FROM event") >= last - 7200 * INT64_C(1000000));
    CU_ASSERT(sql_int(path, "SELECT count(*) FROM event") >= 7200 / (50 * step) - 1);
    CU_ASSERT(integrity_ok(path));
    sample_free(&s);
}

/* ---- baselines on a constructed series ---------------------------------------------------- */

typedef struct BlSeen {
    int all, hourly, bad;
    int counter_all;
} BlSeen;

static int check_baseline(void *opaque, const HdsBaseline *b)
{
    BlSeen *k = opaque;

    if (b->kind != COMP_ENCODER || strcmp(b->name, "720p") || b->backup)
        return 0;
    if (b->metric == EM_QUEUE_DEPTH) {
        /* every hour holds each of 1..100 once */
        int ok = b->mean == 50.5 && fabs(b->std - sqrt(9999.0 / 12)) < 1e-9 && b->p50 == 50 &&
                 b->p95 == 95 && b->p99 == 99 && b->min == 1 && b->max == 100 && !b->is_rate;
        k->bad += !ok;
        if (b->hour == HDS_BASELINE_ALL_HOURS) {
            k->all++;
            k->bad += b->n != 24 * 100;
        } else {
            k->hourly++;
            k->bad += b->days < HDS_BASELINE_MIN_DAYS || b->n != b->days * 100;
        }
    }
    if (b->metric == EM_FRAMES_OUT && b->hour == HDS_BASELINE_ALL_HOURS) {
        /* grows by 1..5 frames per 36 s tick, in turn */
        k->counter_all++;
        k->bad += !b->is_rate || fabs(b->mean - 3.0 / 36) > 1e-12 || fabs(b->p50 - 3.0 / 36) > 1e-12 ||
                  fabs(b->p99 - 5.0 / 36) > 1e-12 || fabs(b->min - 1.0 / 36) > 1e-12;
    }
    return 0;
}

static void write_series(Hds *h, int64_t from, int64_t to, int64_t step_us)
{
    Sample s = { 0 };
    double frames = 0;

    for (int64_t t = 0; t < from; t++)
        frames += t % 5 + 1;
    for (int64_t t = from; t < to; t++) {
        SampleComp *c;
        sample_reset(&s, SYNTH_T0_US / US_PER_HOUR * US_PER_HOUR + t * step_us, t);
        c = sample_add_comp(&s, COMP_ENCODER, "news", "720p", 0);
        CU_ASSERT_FATAL(c != NULL);
        sample_set(c, EM_QUEUE_DEPTH, (double)(t % 100 + 1));
        frames += t % 5 + 1;
        sample_set(c, EM_FRAMES_OUT, frames);
        sample_set(c, EM_UP, 1);
        c = sample_add_comp(&s, COMP_HOST, "", "host", 0);
        sample_set(c, HM_RSS_BYTES, 1e9 + (double)t);
        CU_ASSERT(hds_put_sample(h, &s) == 0);
        CU_ASSERT(hds_flush(h, 5000000) == 0);
    }
    sample_free(&s);
}

static void test_baselines(void)
{
    char path[256], err[256];
    const int64_t step = 36 * INT64_C(1000000);     /* 100 ticks an hour */
    BlSeen k = { 0 };
    HdsReader *r;
    HdsFilter f = { 0 };
    Hds *h;

    tmp_path(path, sizeof(path), "baseline.hds");
    /* one day and an hour: a rolling baseline, none by hour of day yet */
    h = open_store(path, step, 3600, 10 * 86400);
    write_series(h, 0, 25 * 100 + 1, step);
    hds_close(&h);
    CU_ASSERT_FATAL(hds_reader_open(&r, path, err, sizeof(err)) == 0);
    CU_ASSERT(hds_reader_baselines(r, &f, check_baseline, &k) == 0);
    hds_reader_close(&r);
    CU_ASSERT(k.all == 1 && k.hourly == 0 && k.bad == 0 && k.counter_all == 1);

    /* four days and a bit, across a reopen: hours of day with >= 3 days */
    h = open_store(path, step, 3600, 10 * 86400);
    write_series(h, 25 * 100 + 1, 97 * 100 + 1, step);
    hds_close(&h);
    k = (BlSeen){ 0 };
    CU_ASSERT_FATAL(hds_reader_open(&r, path, err, sizeof(err)) == 0);
    CU_ASSERT(hds_reader_baselines(r, &f, check_baseline, &k) == 0);
    f.stream = "other";
    CU_ASSERT(hds_reader_baselines(r, &f, check_baseline, &k) == 0);   /* filtered out */
    hds_reader_close(&r);
    CU_ASSERT(k.all == 1 && k.bad == 0);
    CU_ASSERT(k.hourly == 24);
}

/* ---- the hour being written when the store closes is rebuilt on open -------------------- */

static int64_t hourly_n(const char *path, int64_t hour, int metric)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t n = -1;

    if (sqlite3_open(path, &db) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(db, "SELECT data FROM hourly WHERE hour = ? ORDER BY comp_id LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, hour);
        if (sqlite3_step(st) == SQLITE_ROW) {
            const uint8_t *p = sqlite3_column_blob(st, 0), *end = p + sqlite3_column_bytes(st, 0);
            uint64_t present;
            Acc a = { 0 };
            if (hds_get_varint(&p, end, &present) == 0)
                for (uint32_t bits = (uint32_t)present; bits; bits &= bits - 1) {
                    if (hds_decode_acc(&p, end, &a) < 0)
                        break;
                    if (__builtin_ctz(bits) == metric)
                        n = a.n;
                }
            hds_acc_free(&a);
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

static void test_reopen_rebuilds_hour(void)
{
    char one[256], two[256];
    const int64_t step = 36 * INT64_C(1000000);
    int64_t hour = SYNTH_T0_US / US_PER_HOUR;
    Hds *h;

    tmp_path(one, sizeof(one), "continuous.hds");
    tmp_path(two, sizeof(two), "reopened.hds");
    h = open_store(one, step, 3600, 86400);
    write_series(h, 0, 201, step);
    hds_close(&h);
    /* closed half-way through hour 1: its first half comes back from raw */
    h = open_store(two, step, 3600, 86400);
    write_series(h, 0, 150, step);
    hds_close(&h);
    h = open_store(two, step, 3600, 86400);
    write_series(h, 150, 201, step);
    hds_close(&h);
    /* a gauge: the same hour either way */
    CU_ASSERT(hourly_n(one, hour + 1, EM_QUEUE_DEPTH) == 100);
    CU_ASSERT(hourly_n(two, hour + 1, EM_QUEUE_DEPTH) == 100);
    /* a counter's rate: the first of the hour from the tick before it (read
     * again on open), none across the runs, where counters restart */
    CU_ASSERT(hourly_n(one, hour + 1, EM_FRAMES_OUT) == 100);
    CU_ASSERT(hourly_n(two, hour + 1, EM_FRAMES_OUT) == 99);
    CU_ASSERT(sql_int(two, "SELECT count(*) FROM minute") == sql_int(one, "SELECT count(*) FROM minute"));
}

/* ---- a row that does not decode ----------------------------------------------------------- */

static int count_rows(void *opaque, const HdsTick *t, const SampleComp *c)
{
    (*(int *)opaque)++;
    return 0;
}

static void test_corrupt_row(void)
{
    char path[256], err[256];
    HdsReader *r;
    HdsFilter f = { 0 };
    Sample s = { 0 };
    Synth sy;
    Hds *h;
    int n = 0;

    tmp_path(path, sizeof(path), "corrupt.hds");
    synth_init(&sy, 12, 9);
    h = open_store(path, 1000000, 3600, 7200);
    for (int t = 0; t < 5; t++) {
        synth_build(&sy, &s, t, SYNTH_T0_US + t * INT64_C(1000000));
        hds_put_sample(h, &s);
    }
    hds_close(&h);
    CU_ASSERT_FATAL(sql_exec(path, "UPDATE raw SET data = x'01ffffffff' WHERE id = (SELECT max(id) FROM raw)") == 0);
    CU_ASSERT_FATAL(hds_reader_open(&r, path, err, sizeof(err)) == 0);
    CU_ASSERT(hds_reader_samples(r, &f, count_rows, &n) == AVERROR_INVALIDDATA);
    CU_ASSERT(n > 0);
    hds_reader_close(&r);
    sample_free(&s);
}

int main(void)
{
    CU_pSuite suite;
    int failures;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/hds_test.XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    log_init(getenv("HDS_TEST_LOG") ? AV_LOG_DEBUG : AV_LOG_FATAL);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    suite = CU_add_suite("hds", NULL, NULL);
    CU_add_test(suite, "value encoding", test_codec);
    CU_add_test(suite, "mean, std, quantiles exact on 1..100", test_stats_exact);
    CU_add_test(suite, "quantiles within a bucket on continuous data", test_stats_bounded);
    CU_add_test(suite, "schema, newer and foreign files refused", test_schema_and_refusals);
    CU_add_test(suite, "put, read back, events", test_put_read_events);
    CU_add_test(suite, "a held writer drops the oldest ticks", test_queue_drops_oldest);
    CU_add_test(suite, "retention and downsampling, fake clock", test_retention);
    CU_add_test(suite, "baselines on a constructed series", test_baselines);
    CU_add_test(suite, "the open hour is rebuilt after a reopen", test_reopen_rebuilds_hour);
    CU_add_test(suite, "a row that does not decode", test_corrupt_row);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    if (!failures) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        if (system(cmd)) {}
    }
    return failures;
}
