/*
 * hds_db.c: SQL helpers of the data store: statements run and stepped with
 * their errors logged on the store's log, the meta table.
 */
#include <stdint.h>

#include <sqlite3.h>

#include <libavutil/error.h>
#include <libavutil/log.h>

#include "hds/hds_int.h"

int64_t hds_db_int(sqlite3 *db, const char *sql, int64_t dflt)
{
    sqlite3_stmt *st;
    int64_t v = dflt;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return dflt;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

const char *hds_column_text(sqlite3_stmt *st, int col)
{
    const char *s = (const char *)sqlite3_column_text(st, col);

    return s ? s : "";
}

void hds_log_sqlite(Hds *h, int level, const char *what)
{
    av_log(h, level, "%s: %s\n", what, sqlite3_errmsg(h->db));
}

int hds_exec_sql(Hds *h, const char *sql)
{
    char *msg = NULL;

    if (sqlite3_exec(h->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        av_log(h, AV_LOG_ERROR, "%s: %s\n", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return AVERROR(EIO);
    }
    return 0;
}

int hds_step_done(Hds *h, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        hds_log_sqlite(h, AV_LOG_ERROR, what);
        return AVERROR(EIO);
    }
    return 0;
}

int hds_meta_put(Hds *h, const char *key, int64_t v)
{
    sqlite3_bind_text(h->st_meta, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(h->st_meta, 2, v);
    return hds_step_done(h, h->st_meta, "meta");
}

int64_t hds_meta_get(Hds *h, const char *key, int64_t dflt)
{
    sqlite3_stmt *st;
    int64_t v = dflt;

    if (sqlite3_prepare_v2(h->db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) != SQLITE_OK)
        return dflt;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}
