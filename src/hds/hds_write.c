/*
 * hds_write.c: the data store's writer: hds_open and hds_close, the queue
 * between the tick and the writer thread, the registry of streams and
 * components, storing one tick; see hds_int.h for the design.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "config.h"
#include "hds/hds_int.h"
#include "core/log.h"

/* ---- streams and components: ids, the hash, the state at open -------- */

static uint32_t comp_hash(CompKind kind, const char *stream, const char *name, int backup)
{
    uint32_t x = 2166136261u ^ (uint32_t)kind ^ ((uint32_t)backup << 8);

    for (const char *s = stream; *s; s++)
        x = (x ^ (uint8_t)*s) * 16777619u;
    x = (x ^ 0xff) * 16777619u;              /* ("a", "bc") != ("ab", "c") */
    for (const char *s = name; *s; s++)
        x = (x ^ (uint8_t)*s) * 16777619u;
    return x;
}

static int comp_same(const CompInfo *ci, const SampleComp *c)
{
    return ci->kind == c->kind && ci->backup == c->backup &&
           !strcmp(ci->name, c->name) && !strcmp(ci->stream, c->stream);
}

static int rehash(Hds *h, int size)
{
    int *t = av_calloc(size, sizeof(*t));

    if (!t)
        return AVERROR(ENOMEM);
    av_free(h->hash);
    h->hash = t;
    h->hash_size = size;
    for (int id = 1; id <= h->nb_comps; id++) {
        CompInfo *ci = &h->comps[id];
        uint32_t b = comp_hash(ci->kind, ci->stream, ci->name, ci->backup) % size;
        ci->hash_next = t[b];
        t[b] = id;
    }
    return 0;
}

/*
 * SQLite's page cache, sized to what a tick writes: 2 MB (SQLite's
 * default) and 1.5 KB per component, at most 16 MB (10,000 components:
 * bench_hds). Pages are allocated as the file grows into the cache, so
 * the cache is memory that grows for as long as it takes to fill: a
 * fixed 16 MB grew the heap of a three-stream job by some 9 MB an hour
 * (heaptrack), a leak in all but name. Asked again only when it moves by
 * a 64 KB step.
 */
static void size_cache(Hds *h)
{
    int kb = av_clip(2048 + h->nb_comps * 3 / 2, 2048, 16384) & ~63;
    char sql[64];

    if (kb == h->cache_kb || !h->db)
        return;
    snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", kb);
    if (hds_exec_sql(h, sql) >= 0)
        h->cache_kb = kb;
}

/* Registers a component known to the file or new; ids are dense from 1. */
static int add_comp_info(Hds *h, int id, CompKind kind, int stream_id, const char *name, int backup)
{
    CompInfo *ci;
    uint32_t b;

    if (id != h->nb_comps + 1)
        return AVERROR_INVALIDDATA;
    if (id >= h->alloc_comps) {
        int n = FFMAX(64, h->alloc_comps * 2);
        CompInfo *c = av_realloc_array(h->comps, n, sizeof(*c));
        if (!c)
            return AVERROR(ENOMEM);
        memset(c + h->alloc_comps, 0, (n - h->alloc_comps) * sizeof(*c));
        h->comps = c;
        h->alloc_comps = n;
    }
    ci = &h->comps[id];
    *ci = (CompInfo){ .kind = kind, .stream_id = stream_id, .backup = backup, .scan_slot = -1 };
    av_strlcpy(ci->stream, h->streams[stream_id], sizeof(ci->stream));
    av_strlcpy(ci->name, name, sizeof(ci->name));
    h->nb_comps = id;
    size_cache(h);
    if (h->nb_comps * 2 > h->hash_size)
        return rehash(h, FFMAX(1024, h->hash_size * 4));
    b = comp_hash(kind, ci->stream, ci->name, backup) % h->hash_size;
    ci->hash_next = h->hash[b];
    h->hash[b] = id;
    return 0;
}

static int add_stream_name(Hds *h, int id, const char *name)
{
    if (id != h->nb_streams + 1 || id >= MAX_STREAMS)
        return AVERROR_INVALIDDATA;
    if (id >= h->alloc_streams) {
        int n = FFMAX(64, h->alloc_streams * 2);
        char **s = av_realloc_array(h->streams, n, sizeof(*s));
        ByteBuf *bb = av_realloc_array(h->sbuf, n, sizeof(*bb));
        int *t = av_realloc_array(h->touched, n, sizeof(*t));
        uint8_t *seen = av_realloc(h->stream_seen, n);
        if (s)
            h->streams = s;
        if (bb)
            h->sbuf = bb;
        if (t)
            h->touched = t;
        if (seen)
            h->stream_seen = seen;
        if (!s || !bb || !t || !seen)
            return AVERROR(ENOMEM);
        memset(h->sbuf + h->alloc_streams, 0, (n - h->alloc_streams) * sizeof(*bb));
        h->alloc_streams = n;
    }
    if (!(h->streams[id] = av_strdup(name)))
        return AVERROR(ENOMEM);
    h->nb_streams = id;
    return 0;
}

static int find_stream(Hds *h, const char *name, int *id)
{
    int ret;

    for (int i = 1; i <= h->nb_streams; i++)
        if (!strcmp(h->streams[i], name)) {
            *id = i;
            return 0;
        }
    if ((ret = add_stream_name(h, h->nb_streams + 1, name)) < 0)
        return ret;
    sqlite3_bind_int(h->st_stream, 1, h->nb_streams);
    sqlite3_bind_text(h->st_stream, 2, name, -1, SQLITE_STATIC);
    if ((ret = hds_step_done(h, h->st_stream, "insert stream")) < 0)
        return ret;
    *id = h->nb_streams;
    return 0;
}

/* The id of a sample's component, registering it on first sight. */
static int comp_id_of(Hds *h, const SampleComp *c, int64_t time_us)
{
    uint32_t b = comp_hash(c->kind, c->stream, c->name, c->backup) % h->hash_size;
    int id, sid, ret;

    for (id = h->hash[b]; id; id = h->comps[id].hash_next)
        if (comp_same(&h->comps[id], c))
            return id;
    if ((ret = find_stream(h, c->stream, &sid)) < 0)
        return ret;
    id = h->nb_comps + 1;
    sqlite3_bind_int(h->st_comp, 1, id);
    sqlite3_bind_int(h->st_comp, 2, c->kind);
    sqlite3_bind_int(h->st_comp, 3, sid);
    sqlite3_bind_text(h->st_comp, 4, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(h->st_comp, 5, c->backup);
    sqlite3_bind_int64(h->st_comp, 6, time_us);
    if ((ret = hds_step_done(h, h->st_comp, "insert component")) < 0)
        return ret;
    if ((ret = add_comp_info(h, id, c->kind, sid, c->name, c->backup)) < 0)
        return ret;
    return id;
}

static void free_comp_state(Hds *h)
{
    for (int id = 1; id <= h->nb_comps; id++) {
        CompInfo *ci = &h->comps[id];
        if (ci->series)
            for (int m = 0; m < sample_kinds[ci->kind].nb_metrics; m++)
                hds_acc_free(&ci->series[m].hour);
        av_freep(&ci->series);
    }
    for (int i = 1; i <= h->nb_streams; i++)
        av_freep(&h->streams[i]);
    h->nb_comps = h->nb_streams = 0;
    h->nb_pos = 0;
}

/* Everything the writer keeps in memory, from the file: at open, and after
 * a transaction failed (memory may have run ahead of what was committed). */
static int load_state(Hds *h)
{
    sqlite3_stmt *st;
    int ret = 0;

    free_comp_state(h);
    if ((ret = rehash(h, 1024)) < 0)
        return ret;
    if (sqlite3_prepare_v2(h->db, "SELECT id, name FROM stream ORDER BY id", -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    while (ret >= 0 && sqlite3_step(st) == SQLITE_ROW)
        ret = add_stream_name(h, sqlite3_column_int(st, 0), hds_column_text(st, 1));
    sqlite3_finalize(st);
    if (ret < 0)
        return ret;
    if (sqlite3_prepare_v2(h->db, "SELECT id, kind, stream_id, name, backup FROM comp ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    while (ret >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        int kind = sqlite3_column_int(st, 1), sid = sqlite3_column_int(st, 2);
        if ((unsigned)kind >= COMP_NB_KINDS || sid < 1 || sid > h->nb_streams)
            ret = AVERROR_INVALIDDATA;
        else
            ret = add_comp_info(h, sqlite3_column_int(st, 0), kind, sid,
                                hds_column_text(st, 3), sqlite3_column_int(st, 4));
    }
    sqlite3_finalize(st);
    if (ret < 0)
        return ret;
    h->last_seq = hds_db_int(h->db, "SELECT max(seq) FROM tick", 0);
    h->rollup_next = hds_meta_get(h, "rollup_next_minute", 0);
    h->hour_closed = hds_meta_get(h, "hour_closed", -1);
    /* the hour not closed yet is rebuilt from its raw ticks */
    h->scan_next = h->hour_closed >= 0 ? (h->hour_closed + 1) * 60 : 0;
    h->acc_hour = -1;
    h->need_prime = 1;
    h->bl_hour = hds_meta_get(h, "baseline_hour", -1) < h->hour_closed ? h->hour_closed : -1;
    h->bl_cursor = 1;
    h->retention_minute = -1;
    return 0;
}

/* ---- the writer: one tick -------------------------------------------- */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Rows are built per stream: the buffer a component's record goes to, the
 * stream noted for flush_stream_rows(). */
static ByteBuf *stream_buf(Hds *h, int stream_id)
{
    ByteBuf *b = &h->sbuf[stream_id];

    if (!b->len)
        h->touched[h->nb_touched++] = stream_id;
    return b;
}

/* One row per stream noted, id key << 20 | stream_id, in ascending stream
 * ids: every row lands at the end of the B-tree. Empties the buffers. */
static int flush_stream_rows(Hds *h, sqlite3_stmt *st, int64_t key, const char *what)
{
    int ret = 0;

    qsort(h->touched, h->nb_touched, sizeof(*h->touched), cmp_int);
    for (int i = 0; i < h->nb_touched; i++) {
        ByteBuf *b = &h->sbuf[h->touched[i]];
        if (ret >= 0 && b->oom)
            ret = AVERROR(ENOMEM);
        if (ret >= 0) {
            sqlite3_bind_int64(st, 1, key << ID_SHIFT | h->touched[i]);
            sqlite3_bind_blob(st, 2, b->data, (int)b->len, SQLITE_STATIC);
            ret = hds_step_done(h, st, what);
        }
        b->len = 0;
        b->oom = 0;
    }
    h->nb_touched = 0;
    return ret;
}

static int store_tick(Hds *h, const Sample *s)
{
    int ret;

    if (s->nb_comps > h->nb_pos) {
        int *p = av_realloc_array(h->pos_ids, s->nb_comps, sizeof(*p));
        if (!p)
            return AVERROR(ENOMEM);
        memset(p + h->nb_pos, 0, (s->nb_comps - h->nb_pos) * sizeof(*p));
        h->pos_ids = p;
        h->nb_pos = s->nb_comps;
    }
    sqlite3_bind_int64(h->st_tick, 1, h->last_seq + 1);
    sqlite3_bind_int64(h->st_tick, 2, h->run_id);
    sqlite3_bind_int64(h->st_tick, 3, s->tick);
    sqlite3_bind_int64(h->st_tick, 4, s->time_us);
    sqlite3_bind_int(h->st_tick, 5, s->nb_comps);
    if ((ret = hds_step_done(h, h->st_tick, "insert tick")) < 0)
        return ret;
    h->last_seq++;

    for (int i = 0; i < s->nb_comps; i++) {
        const SampleComp *c = &s->comps[i];
        int id = h->pos_ids[i];

        if ((unsigned)c->kind >= COMP_NB_KINDS)
            continue;
        /* components come in the same order tick after tick */
        if (!id || id > h->nb_comps || !comp_same(&h->comps[id], c)) {
            if ((id = comp_id_of(h, c, s->time_us)) < 0)
                return id;
            h->pos_ids[i] = id;
        }
        hds_put_comp(stream_buf(h, h->comps[id].stream_id), id, c);
    }
    return flush_stream_rows(h, h->st_raw, h->last_seq, "insert raw");
}

/* ---- the writer thread ---------------------------------------------------- */

static int insert_events(Hds *h, int nb)
{
    for (int i = 0; i < nb; i++) {
        const EvItem *e = &h->evbatch[i];
        int ret;
        sqlite3_bind_int64(h->st_event, 1, e->time_us);
        sqlite3_bind_text(h->st_event, 2, e->stream, -1, SQLITE_STATIC);
        sqlite3_bind_text(h->st_event, 3, e->component, -1, SQLITE_STATIC);
        sqlite3_bind_text(h->st_event, 4, e->kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(h->st_event, 5, e->cause, -1, SQLITE_STATIC);
        sqlite3_bind_int(h->st_event, 6, e->error);
        if ((ret = hds_step_done(h, h->st_event, "insert event")) < 0)
            return ret;
    }
    return 0;
}

/* One transaction: the events, the tick, the upkeep it made due. */
static int write_batch(Hds *h, int nb_ev, int have_tick)
{
    int ret;

    if ((ret = hds_exec_sql(h, "BEGIN")) < 0)
        return ret;
    ret = insert_events(h, nb_ev);
    if (ret >= 0 && have_tick)
        ret = store_tick(h, &h->cur);
    if (ret >= 0 && have_tick)
        ret = hds_upkeep(h, h->cur.time_us);
    if (ret >= 0)
        ret = hds_exec_sql(h, "COMMIT");
    if (ret < 0) {
        int64_t now = av_gettime_relative();
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
        /* what memory holds ran ahead of the file: read it again */
        if (load_state(h) < 0)
            av_log(h, AV_LOG_ERROR, "cannot reload the store's state\n");
        if (now - h->last_error_log >= DROP_LOG_US) {
            av_log(h, AV_LOG_ERROR, "a tick could not be written (%s); the store goes on "
                   "with the next\n", av_err2str(ret));
            h->last_error_log = now;
        }
    }
    return ret;
}

static uint64_t oldest_pending(Hds *h)
{
    uint64_t g = h->busy_gen ? h->busy_gen : UINT64_MAX;

    if (h->ring_count)
        g = FFMIN(g, h->ring_gen[h->ring_head]);
    if (h->ev_count)
        g = FFMIN(g, h->evring[h->ev_head].gen);
    return g;
}

static void *writer_thread(void *arg)
{
    Hds *h = arg;

    log_set_component("hds");
    pthread_mutex_lock(&h->lock);
    for (;;) {
        int nb_ev = 0, have_tick = 0, ret;
        struct timespec cpu;

        while (!h->stop && !h->ring_count && !h->ev_count)
            pthread_cond_wait(&h->cond_work, &h->lock);
        if (!h->ring_count && !h->ev_count)
            break;                           /* stopped, and drained */
        h->busy_gen = oldest_pending(h);
        while (h->ev_count) {
            h->evbatch[nb_ev++] = h->evring[h->ev_head];
            h->ev_head = (h->ev_head + 1) % EVENT_QUEUE;
            h->ev_count--;
        }
        if (h->ring_count) {
            /* the slot's memory becomes the writer's, ours goes back */
            Sample t = h->ring[h->ring_head];
            h->ring[h->ring_head] = h->cur;
            h->cur = t;
            h->ring_head = (h->ring_head + 1) % h->cfg.queue_ticks;
            h->ring_count--;
            have_tick = 1;
        }
        pthread_mutex_unlock(&h->lock);

        ret = write_batch(h, nb_ev, have_tick);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);

        pthread_mutex_lock(&h->lock);
        h->busy_gen = 0;
        h->stats.writer_cpu_us = cpu.tv_sec * INT64_C(1000000) + cpu.tv_nsec / 1000;
        if (ret < 0) {
            h->stats.last_error = ret;
            h->stats.ticks_failed += have_tick;
            h->stats.events_dropped += nb_ev;
        } else {
            h->stats.events_written += nb_ev;
            if (have_tick) {
                h->stats.ticks_written++;
                h->stats.last_tick = h->cur.tick;
                h->stats.last_time_us = h->cur.time_us;
            }
        }
        pthread_cond_broadcast(&h->cond_done);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* ---- the writer's API ------------------------------------------------------ */

void hds_config_init(HdsConfig *cfg)
{
    *cfg = (HdsConfig){
        .raw_window_us = HDS_DEFAULT_RAW_WINDOW_US,
        .retention_us  = HDS_DEFAULT_RETENTION_US,
        .tick_us       = HDS_DEFAULT_TICK_US,
        .queue_ticks   = HDS_DEFAULT_QUEUE_TICKS,
    };
}

static int prepare(Hds *h, sqlite3_stmt **st, const char *sql)
{
    if (sqlite3_prepare_v3(h->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
        hds_log_sqlite(h, AV_LOG_ERROR, sql);
        return AVERROR(EIO);
    }
    return 0;
}

static int open_db(Hds *h)
{
    char err[256], sql[128];
    sqlite3_stmt *st;
    int ret, version, is_hds;

    if (sqlite3_open_v2(h->path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        av_log(h, AV_LOG_ERROR, "%s: %s\n", h->path, h->db ? sqlite3_errmsg(h->db) : "out of memory");
        return AVERROR(EIO);
    }
    sqlite3_busy_timeout(h->db, 5000);
    is_hds = ret = hds_check_file(h->db, &version, err, sizeof(err));
    if (ret < 0 || (is_hds && (ret = hds_check_catalogue(h->db, err, sizeof(err))) < 0)) {
        av_log(h, AV_LOG_ERROR, "%s: %s\n", h->path, err);
        return ret;
    }
    /* WAL: a commit appends to the log, readers (hotspare hds export) go on
     * reading meanwhile. synchronous=NORMAL: no fsync per commit; the
     * checkpoint syncs. A process kill loses nothing committed. */
    if ((ret = hds_exec_sql(h, "PRAGMA journal_mode = WAL")) < 0 ||
        (ret = hds_exec_sql(h, "PRAGMA synchronous = NORMAL; PRAGMA secure_delete = OFF;"
                           "PRAGMA temp_store = MEMORY;"
                           "PRAGMA journal_size_limit = 67108864")) < 0)
        return ret;
    size_cache(h);
    if (hds_db_int(h->db, "PRAGMA synchronous", -1) != 1) {
        av_log(h, AV_LOG_ERROR, "%s: cannot set synchronous=NORMAL\n", h->path);
        return AVERROR(EIO);
    }
    if (!is_hds && (ret = hds_create_schema(h)) < 0)
        return ret;
    if ((ret = hds_store_catalogue(h)) < 0)
        return ret;
    snprintf(sql, sizeof(sql), "INSERT INTO run(started_us, version, tick_us) VALUES(?, ?, %"PRId64")",
             h->cfg.tick_us);
    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    sqlite3_bind_int64(st, 1, av_gettime());
    sqlite3_bind_text(st, 2, HS_VERSION, -1, SQLITE_STATIC);
    ret = hds_step_done(h, st, "insert run");
    sqlite3_finalize(st);
    if (ret < 0)
        return ret;
    h->run_id = sqlite3_last_insert_rowid(h->db);

    if ((ret = prepare(h, &h->st_tick, "INSERT INTO tick VALUES(?, ?, ?, ?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_raw, "INSERT INTO raw VALUES(?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_comp, "INSERT INTO comp VALUES(?, ?, ?, ?, ?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_stream, "INSERT INTO stream VALUES(?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_event, "INSERT INTO event(time_us, stream, component, kind, "
                                        "cause, error) VALUES(?, ?, ?, ?, ?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_meta, "INSERT OR REPLACE INTO meta VALUES(?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_mticks, "SELECT seq, run, time_us FROM tick"
                                         " WHERE time_us >= ? AND time_us < ? ORDER BY seq")) < 0 ||
        (ret = prepare(h, &h->st_raw_get, "SELECT data FROM raw WHERE id = ?")) < 0 ||
        (ret = prepare(h, &h->st_raw_ids, "SELECT id FROM raw WHERE id >= ? AND id < ?")) < 0 ||
        (ret = prepare(h, &h->st_next_min, "SELECT min(time_us) FROM tick"
                                           " WHERE time_us >= ? AND time_us < ?")) < 0 ||
        (ret = prepare(h, &h->st_minute, "INSERT OR REPLACE INTO minute VALUES(?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_hourly, "INSERT OR REPLACE INTO hourly VALUES(?, ?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_hour_read, "SELECT comp_id, data FROM hourly"
                                            " WHERE hour = ? AND comp_id BETWEEN ? AND ?")) < 0 ||
        (ret = prepare(h, &h->st_bl_put, "INSERT OR REPLACE INTO baseline VALUES(?, ?, ?, ?, ?, ?,"
                                         " ?, ?, ?, ?, ?, ?, ?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_bl_del, "DELETE FROM baseline WHERE comp_id = ? AND metric = ?"
                                         " AND hour = ?")) < 0)
        return ret;
    return load_state(h);
}

int hds_open(Hds **ph, const HdsConfig *cfg)
{
    pthread_condattr_t ca;
    Hds *h;
    int ret;

    *ph = NULL;
    if (!cfg->path || cfg->raw_window_us < 0 || cfg->retention_us < cfg->raw_window_us ||
        cfg->tick_us <= 0 || cfg->queue_ticks < 1)
        return AVERROR(EINVAL);
    if (!(h = av_mallocz(sizeof(*h))))
        return AVERROR(ENOMEM);
    logctx_init(&h->log, "hds");
    h->cfg = *cfg;
    h->lock_fd = -1;
    h->stats.last_tick = -1;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond_work, NULL);
    pthread_cond_init(&h->cond_done, &ca);
    pthread_condattr_destroy(&ca);
    h->next_gen = 1;
    h->path = av_strdup(cfg->path);
    h->ring = av_calloc(cfg->queue_ticks, sizeof(*h->ring));
    h->ring_gen = av_calloc(cfg->queue_ticks, sizeof(*h->ring_gen));
    h->evring = av_calloc(EVENT_QUEUE, sizeof(*h->evring));
    h->evbatch = av_calloc(EVENT_QUEUE, sizeof(*h->evbatch));
    if (!h->path || !h->ring || !h->ring_gen || !h->evring || !h->evbatch) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    h->cfg.path = h->path;

    /* one writer per file: a second supervisor would interleave its ticks
     * (flock locks are apart from SQLite's fcntl locks on Linux) */
    h->lock_fd = open(h->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (h->lock_fd < 0) {
        ret = AVERROR(errno);
        av_log(h, AV_LOG_ERROR, "%s: %s\n", h->path, av_err2str(ret));
        goto fail;
    }
    if (flock(h->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        ret = errno == EWOULDBLOCK ? AVERROR(EBUSY) : AVERROR(errno);
        av_log(h, AV_LOG_ERROR, "%s: %s\n", h->path, ret == AVERROR(EBUSY) ?
               "another process writes this HDS" : av_err2str(ret));
        goto fail;
    }
    if ((ret = open_db(h)) < 0)
        goto fail;
    if ((ret = pthread_create(&h->thread, NULL, writer_thread, h))) {
        ret = AVERROR(ret);
        goto fail;
    }
    h->thread_started = 1;
    av_log(h, AV_LOG_VERBOSE, "%s: run %"PRId64", %d components known, raw %"PRId64" s, "
           "retention %"PRId64" s\n", h->path, h->run_id, h->nb_comps,
           h->cfg.raw_window_us / 1000000, h->cfg.retention_us / 1000000);
    *ph = h;
    return 0;
fail:
    hds_close(&h);
    return ret;
}

void hds_close(Hds **ph)
{
    Hds *h = *ph;

    if (!h)
        return;
    if (h->thread_started) {
        pthread_mutex_lock(&h->lock);
        h->stop = 1;
        pthread_cond_signal(&h->cond_work);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->thread, NULL);
        if (h->stats.ticks_dropped || h->stats.ticks_failed)
            av_log(h, AV_LOG_WARNING, "%"PRId64" ticks written, %"PRId64" dropped (writer behind), "
                   "%"PRId64" failed\n", h->stats.ticks_written, h->stats.ticks_dropped,
                   h->stats.ticks_failed);
    }
    {
        sqlite3_stmt *sts[] = {
            h->st_tick, h->st_raw, h->st_comp, h->st_stream, h->st_event, h->st_meta,
            h->st_mticks, h->st_raw_get, h->st_raw_ids, h->st_next_min, h->st_minute, h->st_hourly, h->st_hour_read,
            h->st_bl_put, h->st_bl_del,
        };
        for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++)
            sqlite3_finalize(sts[i]);
    }
    if (h->db && sqlite3_close(h->db) != SQLITE_OK)
        av_log(h, AV_LOG_ERROR, "%s: close: %s\n", h->path, sqlite3_errmsg(h->db));
    if (h->lock_fd >= 0)
        close(h->lock_fd);
    free_comp_state(h);
    av_freep(&h->comps);
    av_freep(&h->streams);
    av_freep(&h->hash);
    av_freep(&h->pos_ids);
    av_freep(&h->touched);
    av_freep(&h->stream_seen);
    av_freep(&h->mt_seq);
    av_freep(&h->mt_run);
    av_freep(&h->mt_time);
    av_freep(&h->slot_comp);
    av_freep(&h->vbuf);
    av_freep(&h->rbuf);
    av_freep(&h->vcnt);
    av_freep(&h->rcnt);
    av_freep(&h->scratch_bins);
    av_freep(&h->tmp_hist.bins);
    hds_acc_free(&h->tmp_acc);
    for (int i = 0; i < h->alloc_streams; i++)
        hds_bb_free(&h->sbuf[i]);
    av_freep(&h->sbuf);
    hds_bb_free(&h->blob);
    if (h->ring)
        for (int i = 0; i < h->cfg.queue_ticks; i++)
            sample_free(&h->ring[i]);
    sample_free(&h->cur);
    av_freep(&h->ring);
    av_freep(&h->ring_gen);
    av_freep(&h->evring);
    av_freep(&h->evbatch);
    av_freep(&h->path);
    pthread_cond_destroy(&h->cond_work);
    pthread_cond_destroy(&h->cond_done);
    pthread_mutex_destroy(&h->lock);
    av_freep(ph);
}

int hds_put_sample(Hds *h, const Sample *s)
{
    int64_t now, dropped = 0, slot;
    Sample *d;

    pthread_mutex_lock(&h->lock);
    if (h->ring_count == h->cfg.queue_ticks) {
        /* the writer is behind: the oldest unwritten tick goes */
        h->ring_head = (h->ring_head + 1) % h->cfg.queue_ticks;
        h->ring_count--;
        h->stats.ticks_dropped++;
        h->drops_since_log++;
        now = av_gettime_relative();
        if (now - h->last_drop_log >= DROP_LOG_US) {
            dropped = h->drops_since_log;
            h->drops_since_log = 0;
            h->last_drop_log = now;
        }
        pthread_cond_broadcast(&h->cond_done);
    }
    slot = (h->ring_head + h->ring_count) % h->cfg.queue_ticks;
    d = &h->ring[slot];
    if (d->nb_alloc < s->nb_comps) {
        SampleComp *c = av_realloc_array(d->comps, s->nb_comps, sizeof(*c));
        if (!c) {
            pthread_mutex_unlock(&h->lock);
            return AVERROR(ENOMEM);
        }
        d->comps = c;
        d->nb_alloc = s->nb_comps;
    }
    d->time_us = s->time_us;
    d->tick = s->tick;
    d->nb_comps = s->nb_comps;
    memcpy(d->comps, s->comps, s->nb_comps * sizeof(*s->comps));
    h->ring_gen[slot] = h->next_gen++;
    h->ring_count++;
    h->stats.ticks_put++;
    pthread_cond_signal(&h->cond_work);
    pthread_mutex_unlock(&h->lock);
    if (dropped)
        av_log(h, AV_LOG_WARNING, "the writer is behind: %"PRId64" tick(s) dropped "
               "(queue of %d full)\n", dropped, h->cfg.queue_ticks);
    return 0;
}

int hds_put_event(Hds *h, const Event *ev)
{
    EvItem *e;

    pthread_mutex_lock(&h->lock);
    if (h->ev_count == EVENT_QUEUE) {
        h->ev_head = (h->ev_head + 1) % EVENT_QUEUE;
        h->ev_count--;
        h->stats.events_dropped++;
    }
    e = &h->evring[(h->ev_head + h->ev_count) % EVENT_QUEUE];
    e->gen = h->next_gen++;
    e->time_us = ev->time_us;
    av_strlcpy(e->stream, ev->stream ? ev->stream : "", sizeof(e->stream));
    av_strlcpy(e->component, ev->component ? ev->component : "", sizeof(e->component));
    av_strlcpy(e->kind, evlog_kind_name(ev->kind), sizeof(e->kind));
    av_strlcpy(e->cause, ev->cause ? ev->cause : "", sizeof(e->cause));
    e->error = ev->error;
    h->ev_count++;
    pthread_cond_signal(&h->cond_work);
    pthread_mutex_unlock(&h->lock);
    return 0;
}

void hds_event_sink(void *opaque, const Event *ev)
{
    hds_put_event(opaque, ev);
}

int hds_flush(Hds *h, int64_t timeout_us)
{
    struct timespec ts;
    uint64_t target;
    int ret = 0;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (timeout_us >= 0) {
        int64_t ns = ts.tv_nsec + timeout_us % 1000000 * 1000;
        ts.tv_sec += timeout_us / 1000000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
    }
    pthread_mutex_lock(&h->lock);
    target = h->next_gen;
    while (oldest_pending(h) < target) {
        if (timeout_us < 0) {
            pthread_cond_wait(&h->cond_done, &h->lock);
        } else if (pthread_cond_timedwait(&h->cond_done, &h->lock, &ts) == ETIMEDOUT) {
            ret = AVERROR(ETIMEDOUT);
            break;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return ret;
}

void hds_get_stats(Hds *h, HdsStats *st)
{
    pthread_mutex_lock(&h->lock);
    *st = h->stats;
    st->queue_depth = h->ring_count;
    pthread_mutex_unlock(&h->lock);
}
