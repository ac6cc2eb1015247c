/*
 * hds_read.c: the data store's reader (hds_reader_*): opens a file read
 * only, beside a writer if one runs, and walks samples, minutes, events
 * and baselines in time order. It needs the codec, the schema and the SQL
 * helpers, not the writer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>

#include "hds/hds_int.h"

typedef struct ReaderComp {
    CompKind kind;
    int stream_id;
    int backup;
    char *name;
} ReaderComp;

struct HdsReader {
    sqlite3 *db;
    char *path;
    int version;
    ReaderComp *comps;           /* [1..nb_comps] */
    int nb_comps;
    char **streams;              /* [1..nb_streams] */
    int nb_streams;
};

void hds_reader_close(HdsReader **pr)
{
    HdsReader *r = *pr;

    if (!r)
        return;
    if (r->db)
        sqlite3_close(r->db);
    for (int i = 1; i <= r->nb_comps; i++)
        av_free(r->comps[i].name);
    for (int i = 1; i <= r->nb_streams; i++)
        av_free(r->streams[i]);
    av_free(r->comps);
    av_free(r->streams);
    av_free(r->path);
    av_freep(pr);
}

/* Component ids a reader takes: a store of a run with a million
 * components is not one hotspare writes; a larger id is damage. */
#define READER_MAX_COMPS (1 << 20)

static int reader_load(HdsReader *r)
{
    sqlite3_stmt *st;
    int64_t max_id;
    int n, ret = 0;

    /* ids index arrays: a damaged file's ids must not size them */
    max_id = hds_db_int(r->db, "SELECT max(id) FROM stream", 0);
    if (max_id < 0 || max_id >= MAX_STREAMS)
        return AVERROR_INVALIDDATA;
    n = (int)max_id;
    if (!(r->streams = av_calloc(n + 1, sizeof(*r->streams))))
        return AVERROR(ENOMEM);
    r->nb_streams = n;
    if (sqlite3_prepare_v2(r->db, "SELECT id, name FROM stream", -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    while (ret >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        int id = sqlite3_column_int(st, 0);
        if (id >= 1 && id <= n && !(r->streams[id] = av_strdup(hds_column_text(st, 1))))
            ret = AVERROR(ENOMEM);
    }
    sqlite3_finalize(st);
    for (int i = 1; i <= n && ret >= 0; i++)
        if (!r->streams[i] && !(r->streams[i] = av_strdup("?")))
            ret = AVERROR(ENOMEM);
    if (ret < 0)
        return ret;

    max_id = hds_db_int(r->db, "SELECT max(id) FROM comp", 0);
    if (max_id < 0 || max_id > READER_MAX_COMPS)
        return AVERROR_INVALIDDATA;
    n = (int)max_id;
    if (!(r->comps = av_calloc(n + 1, sizeof(*r->comps))))
        return AVERROR(ENOMEM);
    r->nb_comps = n;
    if (sqlite3_prepare_v2(r->db, "SELECT id, kind, stream_id, name, backup FROM comp", -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    while (ret >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        int id = sqlite3_column_int(st, 0), kind = sqlite3_column_int(st, 1);
        int sid = sqlite3_column_int(st, 2);
        ReaderComp *c;
        if (id < 1 || id > n || (unsigned)kind >= COMP_NB_KINDS || sid < 1 || sid > r->nb_streams) {
            ret = AVERROR_INVALIDDATA;
            break;
        }
        c = &r->comps[id];
        c->kind = kind;
        c->stream_id = sid;
        c->backup = sqlite3_column_int(st, 4);
        if (!(c->name = av_strdup(hds_column_text(st, 3))))
            ret = AVERROR(ENOMEM);
    }
    sqlite3_finalize(st);
    return ret;
}

int hds_reader_open(HdsReader **pr, const char *path, char *err, size_t err_size)
{
    HdsReader *r;
    struct stat sb;
    int ret;

    *pr = NULL;
    if (stat(path, &sb) < 0) {
        ret = AVERROR(errno);
        snprintf(err, err_size, "%s", errno == ENOENT ? "no such file" : av_err2str(ret));
        return ret;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, err_size, "not an HDS file (not a regular file)");
        return AVERROR(EINVAL);
    }
    if (!(r = av_mallocz(sizeof(*r))) || !(r->path = av_strdup(path))) {
        av_free(r);
        snprintf(err, err_size, "out of memory");
        return AVERROR(ENOMEM);
    }
    /* read-only; a WAL left by a killed writer is read as it is, and the
     * shared-memory index is rebuilt where the directory allows */
    if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "%s", r->db ? sqlite3_errmsg(r->db) : "out of memory");
        ret = AVERROR(EIO);
        goto fail;
    }
    sqlite3_busy_timeout(r->db, 5000);
    ret = hds_check_file(r->db, &r->version, err, err_size);
    if (ret == 0) {
        snprintf(err, err_size, "not an HDS file (%s)", sb.st_size ? "an empty SQLite database" : "empty");
        ret = AVERROR(EINVAL);
    }
    if (ret < 0 || (ret = hds_check_catalogue(r->db, err, err_size)) < 0)
        goto fail;
    if ((ret = reader_load(r)) < 0) {
        snprintf(err, err_size, "cannot read its components: %s", ret == AVERROR_INVALIDDATA ?
                 "the file is damaged (a stream or component id out of range)" : av_err2str(ret));
        goto fail;
    }
    *pr = r;
    return 0;
fail:
    hds_reader_close(&r);
    return ret;
}

static int64_t file_size(const char *path, const char *suffix)
{
    char p[4096];
    struct stat sb;

    snprintf(p, sizeof(p), "%s%s", path, suffix);
    return stat(p, &sb) < 0 ? 0 : sb.st_size;
}

/* A minute number of a row id in microseconds; a damaged file's id may be
 * past what int64 holds in microseconds: clamped, not overflowed. */
static int64_t minute_us(int64_t minute)
{
    if (minute > INT64_MAX / US_PER_MIN)
        return INT64_MAX;
    if (minute < INT64_MIN / US_PER_MIN)
        return INT64_MIN;
    return minute * US_PER_MIN;
}

int hds_reader_stats(HdsReader *r, HdsFileStats *st)
{
    sqlite3_stmt *q;
    int64_t lo, hi;

    memset(st, 0, sizeof(*st));
    st->schema_version = r->version;
    st->runs = hds_db_int(r->db, "SELECT count(*) FROM run", 0);
    st->ticks = hds_db_int(r->db, "SELECT count(*) FROM tick", 0);
    st->first_time_us = hds_db_int(r->db, "SELECT min(time_us) FROM tick", 0);
    st->last_time_us = hds_db_int(r->db, "SELECT max(time_us) FROM tick", 0);
    st->minutes = hds_db_int(r->db, "SELECT count(DISTINCT id >> 20) FROM minute", 0);
    lo = hds_db_int(r->db, "SELECT min(id) >> 20 FROM minute", -1);
    hi = hds_db_int(r->db, "SELECT max(id) >> 20 FROM minute", -1);
    if (lo >= 0) {
        st->first_minute_us = minute_us(lo);
        st->last_minute_us = minute_us(hi);
    }
    st->hours = hds_db_int(r->db, "SELECT count(DISTINCT hour) FROM hourly", 0);
    st->components = hds_db_int(r->db, "SELECT count(*) FROM comp", 0);
    st->streams = hds_db_int(r->db, "SELECT count(*) FROM stream WHERE name != ''", 0);
    st->baselines = hds_db_int(r->db, "SELECT count(*) FROM baseline", 0);
    if (sqlite3_prepare_v2(r->db, "SELECT kind, count(*) FROM event GROUP BY kind ORDER BY kind",
                           -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW && st->nb_event_kinds < HDS_MAX_EVENT_KINDS) {
            av_strlcpy(st->events[st->nb_event_kinds].kind, hds_column_text(q, 0),
                       sizeof(st->events[0].kind));
            st->events[st->nb_event_kinds++].count = sqlite3_column_int64(q, 1);
        }
        sqlite3_finalize(q);
    }
    st->file_bytes = file_size(r->path, "");
    st->wal_bytes = file_size(r->path, "-wal");
    for (size_t i = 0; i < sizeof(hds_table_names) / sizeof(hds_table_names[0]) && i < HDS_MAX_TABLES; i++) {
        char sql[64];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", hds_table_names[i]);
        st->tables[st->nb_tables].table = hds_table_names[i];
        st->tables[st->nb_tables++].rows = hds_db_int(r->db, sql, 0);
    }
    return 0;
}

static int reader_stream_id(HdsReader *r, const char *name)
{
    for (int i = 1; i <= r->nb_streams; i++)
        if (!strcmp(r->streams[i], name))
            return i;
    return 0;
}

static int reader_sql_error(HdsReader *r)
{
    av_log(NULL, AV_LOG_ERROR, "%s: %s\n", r->path, sqlite3_errmsg(r->db));
    return AVERROR(EIO);
}

/* the component of a decoded record, filled in c; 0, 1 to skip it (filter),
 * or AVERROR_INVALIDDATA */
static int reader_comp(HdsReader *r, const HdsFilter *f, const uint8_t **p, const uint8_t *end,
                       SampleComp *c, ReaderComp **prc)
{
    uint64_t id;
    ReaderComp *rc;

    if (hds_get_varint(p, end, &id) < 0 || !id || id > (uint64_t)r->nb_comps || !r->comps[id].name)
        return AVERROR_INVALIDDATA;
    rc = *prc = &r->comps[id];
    c->kind = rc->kind;
    av_strlcpy(c->stream, r->streams[rc->stream_id], sizeof(c->stream));
    av_strlcpy(c->name, rc->name, sizeof(c->name));
    c->backup = rc->backup;
    return f->component && strcmp(f->component, rc->name);
}

int hds_reader_samples(HdsReader *r, const HdsFilter *f, HdsSampleFn fn, void *opaque)
{
    sqlite3_stmt *ticks = NULL, *rows = NULL;
    int sid = 0, ret = 0, rc;

    if (f->stream && !(sid = reader_stream_id(r, f->stream)))
        return 0;                /* no such stream: nothing */
    if (sqlite3_prepare_v2(r->db, "SELECT seq, run, tick, time_us FROM tick"
                           " WHERE time_us >= ? AND time_us <= ? ORDER BY seq", -1, &ticks, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db, "SELECT id, data FROM raw WHERE id >= ? AND id <= ? ORDER BY id",
                           -1, &rows, NULL) != SQLITE_OK) {
        ret = reader_sql_error(r);
        goto end;
    }
    sqlite3_bind_int64(ticks, 1, f->has_from ? f->from_us : INT64_MIN);
    sqlite3_bind_int64(ticks, 2, f->has_to ? f->to_us : INT64_MAX);
    while (ret >= 0 && (rc = sqlite3_step(ticks)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(ticks, 0);
        HdsTick t = {
            .run = sqlite3_column_int64(ticks, 1),
            .tick = sqlite3_column_int64(ticks, 2),
            .time_us = sqlite3_column_int64(ticks, 3),
        };

        sqlite3_bind_int64(rows, 1, seq << ID_SHIFT | (sid ? sid : 0));
        sqlite3_bind_int64(rows, 2, seq << ID_SHIFT | (sid ? sid : MAX_STREAMS - 1));
        while (ret >= 0 && sqlite3_step(rows) == SQLITE_ROW) {
            const uint8_t *p = sqlite3_column_blob(rows, 1);
            /* NULL for an empty or NULL blob (a damaged file): no offset on it */
            const uint8_t *end = p ? p + sqlite3_column_bytes(rows, 1) : NULL;

            while (p && p < end && ret >= 0) {
                SampleComp c;
                ReaderComp *rc_;
                int skip;

                if ((skip = ret = reader_comp(r, f, &p, end, &c, &rc_)) < 0 ||
                    (ret = hds_get_comp_values(&p, end, &c)) < 0)
                    break;
                if (!skip)
                    ret = fn(opaque, &t, &c);
            }
        }
        sqlite3_reset(rows);
    }
    if (ret == AVERROR_INVALIDDATA)
        av_log(NULL, AV_LOG_ERROR, "%s: a raw row does not decode\n", r->path);
end:
    sqlite3_finalize(ticks);
    sqlite3_finalize(rows);
    return ret;
}

int hds_reader_minutes(HdsReader *r, const HdsFilter *f, HdsMinuteFn fn, void *opaque)
{
    sqlite3_stmt *st;
    int sid = 0, ret = 0;

    if (f->stream && !(sid = reader_stream_id(r, f->stream)))
        return 0;
    if (sqlite3_prepare_v2(r->db, "SELECT id, data FROM minute WHERE id >= ? AND id <= ?"
                           " ORDER BY id", -1, &st, NULL) != SQLITE_OK)
        return reader_sql_error(r);
    /* a minute counts when it starts within [from, to] */
    sqlite3_bind_int64(st, 1, f->has_from ? floor_div(f->from_us + US_PER_MIN - 1, US_PER_MIN) << ID_SHIFT : 0);
    sqlite3_bind_int64(st, 2, f->has_to ? floor_div(f->to_us, US_PER_MIN) << ID_SHIFT | (MAX_STREAMS - 1)
                                        : INT64_MAX);
    while (ret >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        const uint8_t *p = sqlite3_column_blob(st, 1);
        const uint8_t *end = p ? p + sqlite3_column_bytes(st, 1) : NULL;

        if (sid && (id & (MAX_STREAMS - 1)) != sid)
            continue;
        while (p && p < end && ret >= 0) {
            HdsMinuteStat ms[SAMPLE_MAX_METRICS] = { { 0 } };
            double v[3 * SAMPLE_MAX_METRICS];
            SampleComp c;
            ReaderComp *rc;
            uint64_t present, n;
            int skip, k = 0, nb;

            if ((skip = ret = reader_comp(r, f, &p, end, &c, &rc)) < 0 ||
                (ret = hds_get_varint(&p, end, &present)) < 0)
                break;
            if (present & ~(uint64_t)hds_kind_mask(c.kind)) {
                ret = AVERROR_INVALIDDATA;
                break;
            }
            c.present = (uint32_t)present;
            nb = hds_popcount32(c.present);
            for (uint32_t bits = c.present; bits && ret >= 0; bits &= bits - 1) {
                ret = hds_get_varint(&p, end, &n);
                ms[__builtin_ctz(bits)].n = n;
            }
            if (ret < 0 || (ret = hds_get_values(&p, end, v, 3 * nb)) < 0)
                break;
            for (uint32_t bits = c.present; bits; bits &= bits - 1) {
                HdsMinuteStat *m = &ms[__builtin_ctz(bits)];
                m->mean = v[k++];
                m->min = v[k++];
                m->max = v[k++];
            }
            if (!skip)
                ret = fn(opaque, minute_us(id >> ID_SHIFT), &c, ms);
        }
    }
    if (ret == AVERROR_INVALIDDATA)
        av_log(NULL, AV_LOG_ERROR, "%s: a minute row does not decode\n", r->path);
    sqlite3_finalize(st);
    return ret;
}

int hds_reader_events(HdsReader *r, const HdsFilter *f, HdsEventFn fn, void *opaque)
{
    sqlite3_stmt *st;
    int ret = 0;

    if (sqlite3_prepare_v2(r->db, "SELECT time_us, stream, component, kind, cause, error FROM event"
                           " WHERE time_us >= ? AND time_us <= ? AND (?3 IS NULL OR stream = ?3)"
                           " ORDER BY time_us, id", -1, &st, NULL) != SQLITE_OK)
        return reader_sql_error(r);
    sqlite3_bind_int64(st, 1, f->has_from ? f->from_us : INT64_MIN);
    sqlite3_bind_int64(st, 2, f->has_to ? f->to_us : INT64_MAX);
    if (f->stream)
        sqlite3_bind_text(st, 3, f->stream, -1, SQLITE_STATIC);
    while (ret >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        HdsEvent e = {
            .time_us   = sqlite3_column_int64(st, 0),
            .stream    = hds_column_text(st, 1),
            .component = hds_column_text(st, 2),
            .kind      = hds_column_text(st, 3),
            .cause     = hds_column_text(st, 4),
            .error     = sqlite3_column_int(st, 5),
        };
        ret = fn(opaque, &e);
    }
    sqlite3_finalize(st);
    return ret;
}

int hds_reader_baselines(HdsReader *r, const HdsFilter *f, HdsBaselineFn fn, void *opaque)
{
    sqlite3_stmt *st;
    int ret = 0;

    if (sqlite3_prepare_v2(r->db, "SELECT comp_id, metric, hour, rate, days, n, mean, std, min, max,"
                           " p50, p95, p99, updated_hour FROM baseline"
                           " ORDER BY comp_id, metric, hour = 24 DESC, hour", -1, &st, NULL) != SQLITE_OK)
        return reader_sql_error(r);
    while (ret >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        int id = sqlite3_column_int(st, 0);
        ReaderComp *c;
        HdsBaseline b;

        if (id < 1 || id > r->nb_comps || !r->comps[id].name)
            continue;
        c = &r->comps[id];
        if ((f->stream && strcmp(f->stream, r->streams[c->stream_id])) ||
            (f->component && strcmp(f->component, c->name)))
            continue;
        b = (HdsBaseline){
            .kind = c->kind, .stream = r->streams[c->stream_id], .name = c->name,
            .backup = c->backup,
            .metric = sqlite3_column_int(st, 1), .hour = sqlite3_column_int(st, 2),
            .is_rate = sqlite3_column_int(st, 3), .days = sqlite3_column_int(st, 4),
            .n = sqlite3_column_int64(st, 5),
            .mean = sqlite3_column_double(st, 6), .std = sqlite3_column_double(st, 7),
            .min = sqlite3_column_double(st, 8), .max = sqlite3_column_double(st, 9),
            .p50 = sqlite3_column_double(st, 10), .p95 = sqlite3_column_double(st, 11),
            .p99 = sqlite3_column_double(st, 12), .updated_hour = sqlite3_column_int64(st, 13),
        };
        if (!sample_metric(b.kind, b.metric))
            continue;            /* a metric of a newer catalogue */
        ret = fn(opaque, &b);
    }
    sqlite3_finalize(st);
    return ret;
}
