/*
 * hds_upkeep.c: the data store's upkeep, run by the writer thread inside a
 * tick's transaction: minute rollups, the hour's accumulators and hourly
 * rows, baselines, retention; see hds_int.h (rollups and baselines).
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>

#include "hds/hds_int.h"

static int ensure_series(CompInfo *ci)
{
    if (!ci->series && !(ci->series = av_calloc(sample_kinds[ci->kind].nb_metrics, sizeof(*ci->series))))
        return AVERROR(ENOMEM);
    return 0;
}

static int close_hour(Hds *h)
{
    int ret = 0;

    for (int id = 1; id <= h->nb_comps && ret >= 0; id++) {
        CompInfo *ci = &h->comps[id];
        int nm = sample_kinds[ci->kind].nb_metrics;
        uint32_t present = 0;

        if (!ci->hour_touched)
            continue;
        ci->hour_touched = 0;
        for (int m = 0; m < nm; m++)
            if (ci->series[m].hour.n)
                present |= UINT32_C(1) << m;
        h->blob.len = 0;
        hds_put_varint(&h->blob, present);
        for (int m = 0; m < nm; m++)
            if (ci->series[m].hour.n)
                hds_put_acc(&h->blob, &ci->series[m].hour);
        for (int m = 0; m < nm; m++)
            hds_acc_reset(&ci->series[m].hour);
        if (!present)
            continue;
        if (h->blob.oom) {
            ret = AVERROR(ENOMEM);
            break;
        }
        sqlite3_bind_int64(h->st_hourly, 1, h->acc_hour);
        sqlite3_bind_int(h->st_hourly, 2, id);
        sqlite3_bind_blob(h->st_hourly, 3, h->blob.data, (int)h->blob.len, SQLITE_STATIC);
        ret = hds_step_done(h, h->st_hourly, "insert hourly");
    }
    if (ret < 0)
        return ret;
    if ((ret = hds_meta_put(h, "hour_closed", h->acc_hour)) < 0)
        return ret;
    h->hour_closed = h->acc_hour;
    h->bl_hour = h->acc_hour;
    h->bl_cursor = 1;
    h->acc_hour = -1;
    return 0;
}

/* The minute's ticks, in seq order. */
static int minute_ticks(Hds *h, int64_t m)
{
    sqlite3_stmt *st = h->st_mticks;
    int ret = 0;

    h->nb_mt = 0;
    sqlite3_bind_int64(st, 1, m * US_PER_MIN);
    sqlite3_bind_int64(st, 2, (m + 1) * US_PER_MIN);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (h->nb_mt == h->alloc_mt) {
            int n = FFMAX(64, h->alloc_mt * 2);
            int64_t *a = av_realloc_array(h->mt_seq, n, sizeof(*a));
            int64_t *b = av_realloc_array(h->mt_run, n, sizeof(*b));
            int64_t *c = av_realloc_array(h->mt_time, n, sizeof(*c));
            if (a)
                h->mt_seq = a;
            if (b)
                h->mt_run = b;
            if (c)
                h->mt_time = c;
            if (!a || !b || !c) {
                ret = AVERROR(ENOMEM);
                break;
            }
            h->alloc_mt = n;
        }
        h->mt_seq[h->nb_mt] = sqlite3_column_int64(st, 0);
        h->mt_run[h->nb_mt] = sqlite3_column_int64(st, 1);
        h->mt_time[h->nb_mt++] = sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    return ret;
}

/* Which streams have rows in the minute (a scan of its row ids). */
static int minute_streams(Hds *h)
{
    sqlite3_stmt *st = h->st_raw_ids;

    memset(h->stream_seen, 0, h->nb_streams + 1);
    if (!h->nb_mt)
        return 0;
    sqlite3_bind_int64(st, 1, h->mt_seq[0] << ID_SHIFT);
    sqlite3_bind_int64(st, 2, (h->mt_seq[h->nb_mt - 1] + 1) << ID_SHIFT);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t sid = sqlite3_column_int64(st, 0) & (MAX_STREAMS - 1);
        if (sid >= 1 && sid <= h->nb_streams)
            h->stream_seen[sid] = 1;
    }
    sqlite3_reset(st);
    return 0;
}

/* A slot for component id in the stream being scanned. */
static int scan_slot(Hds *h, int id)
{
    CompInfo *ci = &h->comps[id];
    size_t per_slot = (size_t)SAMPLE_MAX_METRICS * h->nb_mt;

    if (ci->scan_slot >= 0)
        return ci->scan_slot;
    if (h->nb_slots == h->alloc_slots) {
        int n = FFMAX(16, h->alloc_slots * 2);
        int *sc = av_realloc_array(h->slot_comp, n, sizeof(*sc));
        int *vc = av_realloc_array(h->vcnt, (size_t)n * SAMPLE_MAX_METRICS, sizeof(*vc));
        int *rc = av_realloc_array(h->rcnt, (size_t)n * SAMPLE_MAX_METRICS, sizeof(*rc));
        if (sc)
            h->slot_comp = sc;
        if (vc)
            h->vcnt = vc;
        if (rc)
            h->rcnt = rc;
        if (!sc || !vc || !rc)
            return AVERROR(ENOMEM);
        h->alloc_slots = n;
    }
    if ((h->nb_slots + 1) * per_slot > h->alloc_vbuf) {
        size_t n = FFMAX((h->nb_slots + 1) * per_slot, h->alloc_vbuf * 2);
        double *v = av_realloc_array(h->vbuf, n, sizeof(*v));
        double *r = av_realloc_array(h->rbuf, n, sizeof(*r));
        if (v)
            h->vbuf = v;
        if (r)
            h->rbuf = r;
        if (!v || !r)
            return AVERROR(ENOMEM);
        h->alloc_vbuf = n;
    }
    memset(h->vcnt + h->nb_slots * SAMPLE_MAX_METRICS, 0, SAMPLE_MAX_METRICS * sizeof(*h->vcnt));
    memset(h->rcnt + h->nb_slots * SAMPLE_MAX_METRICS, 0, SAMPLE_MAX_METRICS * sizeof(*h->rcnt));
    h->slot_comp[h->nb_slots] = id;
    return ci->scan_slot = h->nb_slots++;
}

/* The values of one stream's rows over the minute, by slot and metric. */
static int gather_stream(Hds *h, int sid)
{
    sqlite3_stmt *st = h->st_raw_get;
    int ret = 0;

    h->nb_slots = 0;
    for (int k = 0; k < h->nb_mt && ret >= 0; k++) {
        const uint8_t *p, *end;

        sqlite3_bind_int64(st, 1, h->mt_seq[k] << ID_SHIFT | sid);
        if (sqlite3_step(st) != SQLITE_ROW) {
            sqlite3_reset(st);
            continue;
        }
        p = sqlite3_column_blob(st, 0);
        end = p + sqlite3_column_bytes(st, 0);
        while (p && p < end) {
            SampleComp c;
            uint64_t id;
            CompInfo *ci;
            int slot;

            if ((ret = hds_get_varint(&p, end, &id)) < 0)
                break;
            if (!id || id > (uint64_t)h->nb_comps) {
                ret = AVERROR_INVALIDDATA;
                break;
            }
            ci = &h->comps[id];
            c.kind = ci->kind;
            if ((ret = hds_get_comp_values(&p, end, &c)) < 0 || (ret = ensure_series(ci)) < 0 ||
                (ret = slot = scan_slot(h, (int)id)) < 0)
                break;
            for (uint32_t bits = c.present; bits; bits &= bits - 1) {
                int mm = __builtin_ctz(bits), b = slot * SAMPLE_MAX_METRICS + mm;
                double x = c.v[mm];
                Series *se = &ci->series[mm];

                if (isnan(x))
                    continue;            /* no order, no mean: not a sample */
                h->vbuf[(size_t)b * h->nb_mt + h->vcnt[b]++] = x;
                if (sample_kinds[ci->kind].metrics[mm].type != METRIC_COUNTER)
                    continue;
                /* a counter's rate, within a run (counters restart with one) */
                if (se->prev_t && se->prev_run == h->mt_run[k] && h->mt_time[k] > se->prev_t &&
                    x >= se->prev_v)
                    h->rbuf[(size_t)b * h->nb_mt + h->rcnt[b]++] =
                        (x - se->prev_v) * 1e6 / (h->mt_time[k] - se->prev_t);
                se->prev_v = x;
                se->prev_t = h->mt_time[k];
                se->prev_run = h->mt_run[k];
            }
        }
        sqlite3_reset(st);
    }
    return ret;
}

/* The gathered values into the hour's accumulators and, when write, into
 * the stream's minute row (comp_id, presence, the n of each metric, then
 * mean/min/max of each: means are summed in tick order). */
static int fold_stream(Hds *h, int write)
{
    ByteBuf *b = &h->blob;
    int ret = 0;

    b->len = 0;
    if (h->alloc_scratch < h->nb_mt) {
        HistBin *sb = av_realloc_array(h->scratch_bins, h->nb_mt, sizeof(*sb));
        if (!sb)
            return AVERROR(ENOMEM);
        h->scratch_bins = sb;
        h->alloc_scratch = h->nb_mt;
    }
    for (int slot = 0; slot < h->nb_slots; slot++) {
        int id = h->slot_comp[slot];
        CompInfo *ci = &h->comps[id];
        int nm = sample_kinds[ci->kind].nb_metrics, k = 0;
        double st[3 * SAMPLE_MAX_METRICS];
        uint32_t present = 0;

        ci->scan_slot = -1;
        ci->hour_touched = 1;
        for (int mm = 0; mm < nm && ret >= 0; mm++) {
            int bi = slot * SAMPLE_MAX_METRICS + mm, n = h->vcnt[bi];
            double *v = h->vbuf + (size_t)bi * h->nb_mt, sum = 0, lo, hi;
            int counter = sample_kinds[ci->kind].metrics[mm].type == METRIC_COUNTER;

            if (!n)
                continue;
            present |= UINT32_C(1) << mm;
            lo = hi = v[0];
            for (int i = 0; i < n; i++) {
                sum += v[i];
                lo = FFMIN(lo, v[i]);
                hi = FFMAX(hi, v[i]);
            }
            st[k++] = sum / n;
            st[k++] = lo;
            st[k++] = hi;
            if (counter)
                ret = hds_acc_add_values(&ci->series[mm].hour, h->rbuf + (size_t)bi * h->nb_mt,
                                         h->rcnt[bi], h->scratch_bins, &h->tmp_hist);
            else
                ret = hds_acc_add_values(&ci->series[mm].hour, v, n, h->scratch_bins, &h->tmp_hist);
        }
        if (ret < 0 || !write || !present)
            continue;
        hds_put_varint(b, id);
        hds_put_varint(b, present);
        for (int mm = 0; mm < nm; mm++)
            if (present >> mm & 1)
                hds_put_varint(b, h->vcnt[slot * SAMPLE_MAX_METRICS + mm]);
        hds_put_values(b, st, k);
    }
    for (int slot = 0; slot < h->nb_slots; slot++)
        h->comps[h->slot_comp[slot]].scan_slot = -1;
    if (ret >= 0 && b->oom)
        ret = AVERROR(ENOMEM);
    return ret;
}

/* After load_state: each counter's value at the last tick before minute
 * m, so that the first rate of the rebuilt hour is there as it was. */
static int prime_counters(Hds *h, int64_t m)
{
    sqlite3_stmt *st;
    int64_t seq = 0, run = 0, t = 0;
    int ret = 0;

    if (sqlite3_prepare_v2(h->db, "SELECT seq, run, time_us FROM tick WHERE time_us < ?"
                           " ORDER BY time_us DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    sqlite3_bind_int64(st, 1, m * US_PER_MIN);
    if (sqlite3_step(st) == SQLITE_ROW) {
        seq = sqlite3_column_int64(st, 0);
        run = sqlite3_column_int64(st, 1);
        t = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (!seq)
        return 0;                /* the raw tick is gone, or there was none */
    if (sqlite3_prepare_v2(h->db, "SELECT data FROM raw WHERE id >= ? AND id < ?", -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    sqlite3_bind_int64(st, 1, seq << ID_SHIFT);
    sqlite3_bind_int64(st, 2, (seq + 1) << ID_SHIFT);
    while (ret >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        const uint8_t *p = sqlite3_column_blob(st, 0), *end = p + sqlite3_column_bytes(st, 0);
        while (p && p < end) {
            SampleComp c;
            uint64_t id;
            CompInfo *ci;

            if ((ret = hds_get_varint(&p, end, &id)) < 0 || !id || id > (uint64_t)h->nb_comps) {
                ret = AVERROR_INVALIDDATA;
                break;
            }
            ci = &h->comps[id];
            c.kind = ci->kind;
            if ((ret = hds_get_comp_values(&p, end, &c)) < 0 || (ret = ensure_series(ci)) < 0)
                break;
            for (uint32_t bits = c.present; bits; bits &= bits - 1) {
                int mm = __builtin_ctz(bits);
                if (sample_kinds[ci->kind].metrics[mm].type == METRIC_COUNTER && !isnan(c.v[mm])) {
                    ci->series[mm].prev_v = c.v[mm];
                    ci->series[mm].prev_t = t;
                    ci->series[mm].prev_run = run;
                }
            }
        }
    }
    sqlite3_finalize(st);
    /* without them the hour only lacks its first rates: not a reason to stop */
    return ret == AVERROR_INVALIDDATA ? 0 : ret;
}

/*
 * Reads minute m back from raw, one stream at a time: the minute's rollup
 * (when write) and the hour's accumulators (always). Stream by stream, so
 * that each series' values of the minute are at hand together: sorted once,
 * they join the hour's histogram in one merge instead of a search each.
 */
static int scan_minute(Hds *h, int64_t m, int write)
{
    int64_t hour = floor_div(m, 60);
    int ret;

    if (h->acc_hour >= 0 && hour != h->acc_hour && (ret = close_hour(h)) < 0)
        return ret;
    h->acc_hour = hour;
    if ((ret = minute_ticks(h, m)) < 0 || (ret = minute_streams(h)) < 0)
        return ret;
    for (int sid = 1; sid <= h->nb_streams; sid++) {
        if (!h->stream_seen[sid])
            continue;
        ret = gather_stream(h, sid);
        if (ret >= 0)
            ret = fold_stream(h, write);
        if (ret == AVERROR_INVALIDDATA) {
            av_log(h, AV_LOG_ERROR, "a raw row of minute %"PRId64", stream %d does not decode: "
                   "the stream's minute is skipped\n", m, sid);
            for (int slot = 0; slot < h->nb_slots; slot++)
                h->comps[h->slot_comp[slot]].scan_slot = -1;
            continue;
        }
        if (ret < 0)
            return ret;
        if (write && h->blob.len) {
            sqlite3_bind_int64(h->st_minute, 1, m << ID_SHIFT | sid);
            sqlite3_bind_blob(h->st_minute, 2, h->blob.data, (int)h->blob.len, SQLITE_STATIC);
            if ((ret = hds_step_done(h, h->st_minute, "insert minute")) < 0)
                return ret;
        }
    }
    return 0;
}

/* hourly rows of one hour for comps [first, last]; each metric's Acc goes
 * to roll (when non-NULL) and slot (when non-NULL), counting full days */
typedef struct BlSlot {
    Acc roll, slot;
    int days;
} BlSlot;

static int read_hour(Hds *h, int64_t hour, int first, int last, BlSlot *bs,
                     int to_roll, int to_slot, int64_t half)
{
    sqlite3_stmt *st = h->st_hour_read;
    int rc, ret = 0;

    sqlite3_bind_int64(st, 1, hour);
    sqlite3_bind_int(st, 2, first);
    sqlite3_bind_int(st, 3, last);
    while (ret >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int id = sqlite3_column_int(st, 0);
        const uint8_t *p = sqlite3_column_blob(st, 1);
        const uint8_t *end = p + sqlite3_column_bytes(st, 1);
        uint64_t present;

        if (id < first || id > last || !p || (ret = hds_get_varint(&p, end, &present)) < 0 ||
            (present & ~(uint64_t)hds_kind_mask(h->comps[id].kind))) {
            ret = AVERROR_INVALIDDATA;
            break;
        }
        for (uint32_t bits = (uint32_t)present; bits && ret >= 0; bits &= bits - 1) {
            BlSlot *b = &bs[(id - first) * SAMPLE_MAX_METRICS + __builtin_ctz(bits)];
            Acc *t = &h->tmp_acc;
            if ((ret = hds_decode_acc(&p, end, t)) >= 0) {
                if (to_roll)
                    ret = hds_acc_merge(&b->roll, t, &h->tmp_hist);
                if (ret >= 0 && to_slot) {
                    ret = hds_acc_merge(&b->slot, t, &h->tmp_hist);
                    b->days += t->n >= half;
                }
            }
        }
    }
    sqlite3_reset(st);
    return ret;
}

static int put_baseline(Hds *h, int id, int metric, int hour, int days, const Acc *a)
{
    sqlite3_stmt *st = h->st_bl_put;

    sqlite3_bind_int(st, 1, id);
    sqlite3_bind_int(st, 2, metric);
    sqlite3_bind_int(st, 3, hour);
    sqlite3_bind_int(st, 4, sample_kinds[h->comps[id].kind].metrics[metric].type == METRIC_COUNTER);
    sqlite3_bind_int(st, 5, days);
    sqlite3_bind_int64(st, 6, a->n);
    sqlite3_bind_double(st, 7, a->mean);
    sqlite3_bind_double(st, 8, hds_acc_std(a));
    sqlite3_bind_double(st, 9, a->min);
    sqlite3_bind_double(st, 10, a->max);
    sqlite3_bind_double(st, 11, hds_acc_quantile(a, 0.50));
    sqlite3_bind_double(st, 12, hds_acc_quantile(a, 0.95));
    sqlite3_bind_double(st, 13, hds_acc_quantile(a, 0.99));
    sqlite3_bind_int64(st, 14, h->bl_hour);
    return hds_step_done(h, st, "insert baseline");
}

/* One slice of the baselines due since bl_hour closed. */
static int baseline_step(Hds *h)
{
    int64_t H = h->bl_hour;
    int64_t per_hour = FFMAX(US_PER_HOUR / h->cfg.tick_us, 1);
    int64_t half = FFMAX(per_hour / 2, 1);
    int64_t max_days = h->cfg.retention_us / (24 * US_PER_HOUR);
    int first = h->bl_cursor, last = FFMIN(first + HDS_BASELINE_SLICE - 1, h->nb_comps);
    int nb = last - first + 1, ret = 0;
    BlSlot *bs;

    if (nb <= 0)
        goto done;
    bs = av_calloc((size_t)nb * SAMPLE_MAX_METRICS, sizeof(*bs));
    if (!bs)
        return AVERROR(ENOMEM);
    for (int k = 0; k < 24 && ret >= 0; k++)
        ret = read_hour(h, H - k, first, last, bs, 1, k == 0, half);
    for (int64_t d = 1; d <= max_days && ret >= 0; d++)
        ret = read_hour(h, H - 24 * d, first, last, bs, 0, 1, half);
    for (int id = first; id <= last && ret >= 0; id++) {
        for (int m = 0; m < sample_kinds[h->comps[id].kind].nb_metrics && ret >= 0; m++) {
            BlSlot *b = &bs[(id - first) * SAMPLE_MAX_METRICS + m];
            if (b->roll.n >= half)
                ret = put_baseline(h, id, m, HDS_BASELINE_ALL_HOURS, 0, &b->roll);
            if (ret >= 0 && b->days >= HDS_BASELINE_MIN_DAYS) {
                ret = put_baseline(h, id, m, (int)(((H % 24) + 24) % 24), b->days, &b->slot);
            } else if (ret >= 0 && b->slot.n) {
                sqlite3_bind_int(h->st_bl_del, 1, id);
                sqlite3_bind_int(h->st_bl_del, 2, m);
                sqlite3_bind_int(h->st_bl_del, 3, (int)(((H % 24) + 24) % 24));
                ret = hds_step_done(h, h->st_bl_del, "delete baseline");
            }
        }
    }
    for (int i = 0; i < nb * SAMPLE_MAX_METRICS; i++) {
        hds_acc_free(&bs[i].roll);
        hds_acc_free(&bs[i].slot);
    }
    av_free(bs);
    if (ret == AVERROR_INVALIDDATA) {
        av_log(h, AV_LOG_ERROR, "an hourly row of hour %"PRId64" does not decode: "
               "baselines of components %d-%d skipped\n", H, first, last);
        ret = 0;
    }
    if (ret < 0)
        return ret;
    h->bl_cursor = last + 1;
    if (h->bl_cursor <= h->nb_comps)
        return 0;
done:
    h->bl_hour = -1;
    return hds_meta_put(h, "baseline_hour", H);
}

static int exec_bound(Hds *h, const char *sql, int64_t v)
{
    sqlite3_stmt *st;
    int ret;

    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK) {
        hds_log_sqlite(h, AV_LOG_ERROR, sql);
        return AVERROR(EIO);
    }
    sqlite3_bind_int64(st, 1, v);
    ret = hds_step_done(h, st, sql);
    sqlite3_finalize(st);
    return ret;
}

static int retention(Hds *h, int64_t now_us)
{
    int64_t cut = now_us - h->cfg.raw_window_us;
    int64_t keep = FFMIN(h->scan_next, h->rollup_next) * US_PER_MIN;
    int64_t seq, old = now_us - h->cfg.retention_us;
    sqlite3_stmt *st;
    int ret;

    /* raw ticks go once rolled up, and never while their hour is open */
    if (h->acc_hour >= 0)
        keep = FFMIN(keep, h->acc_hour * US_PER_HOUR);
    cut = FFMIN(cut, keep);
    if (sqlite3_prepare_v2(h->db, "SELECT max(seq) FROM tick WHERE time_us < ?", -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    sqlite3_bind_int64(st, 1, cut);
    seq = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (seq > 0) {
        if ((ret = exec_bound(h, "DELETE FROM raw WHERE id < ?", (seq + 1) << ID_SHIFT)) < 0 ||
            (ret = exec_bound(h, "DELETE FROM tick WHERE seq <= ?", seq)) < 0)
            return ret;
    }
    if ((ret = exec_bound(h, "DELETE FROM minute WHERE id < ?",
                          floor_div(old, US_PER_MIN) << ID_SHIFT)) < 0 ||
        (ret = exec_bound(h, "DELETE FROM hourly WHERE hour < ?", floor_div(old, US_PER_HOUR))) < 0 ||
        (ret = exec_bound(h, "DELETE FROM event WHERE time_us < ?", old)) < 0)
        return ret;
    return 0;
}

int hds_upkeep(Hds *h, int64_t now_us)
{
    int64_t cur_min = floor_div(now_us, US_PER_MIN);
    int ret;

    for (int steps = 0; h->scan_next < cur_min && steps < MINUTES_PER_TICK; steps++) {
        sqlite3_stmt *st = h->st_next_min;
        int64_t t = -1, m;
        int write;

        /* the next minute that has ticks: gaps (the supervisor was off) are
         * jumped, not walked */
        sqlite3_bind_int64(st, 1, h->scan_next * US_PER_MIN);
        sqlite3_bind_int64(st, 2, cur_min * US_PER_MIN);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            t = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (t < 0) {
            h->scan_next = cur_min;
            break;
        }
        m = floor_div(t, US_PER_MIN);
        write = m >= h->rollup_next;
        if (h->need_prime) {
            if ((ret = prime_counters(h, m)) < 0)
                return ret;
            h->need_prime = 0;
        }
        if ((ret = scan_minute(h, m, write)) < 0)
            return ret;
        h->scan_next = m + 1;
    }
    if (h->scan_next > h->rollup_next) {
        h->rollup_next = h->scan_next;
        if ((ret = hds_meta_put(h, "rollup_next_minute", h->rollup_next)) < 0)
            return ret;
    }
    /* every minute of the hour is in: write it out */
    if (h->acc_hour >= 0 && h->scan_next >= (h->acc_hour + 1) * 60 && (ret = close_hour(h)) < 0)
        return ret;
    if (h->bl_hour >= 0 && (ret = baseline_step(h)) < 0)
        return ret;
    if (cur_min != h->retention_minute) {
        if ((ret = retention(h, now_us)) < 0)
            return ret;
        h->retention_minute = cur_min;
    }
    return 0;
}
