/*
 * hds_schema.c: the data store's file: its schema (version 1, described in
 * hds_int.h), and the checks that a file is one this build reads.
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include <libavutil/error.h>
#include <libavutil/time.h>

#include "hds/hds_int.h"

static const char *const schema_sql =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE run(id INTEGER PRIMARY KEY, started_us INTEGER NOT NULL,"
    " version TEXT NOT NULL, tick_us INTEGER NOT NULL);"
    "CREATE TABLE metric(kind INTEGER NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL,"
    " type TEXT NOT NULL, PRIMARY KEY(kind, idx)) WITHOUT ROWID;"
    "CREATE TABLE stream(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE comp(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
    " stream_id INTEGER NOT NULL, name TEXT NOT NULL, backup INTEGER NOT NULL,"
    " first_time_us INTEGER NOT NULL, UNIQUE(kind, stream_id, name, backup));"
    "CREATE TABLE tick(seq INTEGER PRIMARY KEY, run INTEGER NOT NULL, tick INTEGER NOT NULL,"
    " time_us INTEGER NOT NULL, nb_comps INTEGER NOT NULL);"
    "CREATE INDEX tick_time ON tick(time_us);"
    "CREATE TABLE raw(id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
    "CREATE TABLE minute(id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
    "CREATE TABLE hourly(hour INTEGER NOT NULL, comp_id INTEGER NOT NULL, data BLOB NOT NULL,"
    " PRIMARY KEY(hour, comp_id)) WITHOUT ROWID;"
    "CREATE TABLE baseline(comp_id INTEGER NOT NULL, metric INTEGER NOT NULL,"
    " hour INTEGER NOT NULL, rate INTEGER NOT NULL, days INTEGER NOT NULL, n INTEGER NOT NULL,"
    " mean REAL, std REAL, min REAL, max REAL, p50 REAL, p95 REAL, p99 REAL,"
    " updated_hour INTEGER NOT NULL, PRIMARY KEY(comp_id, metric, hour)) WITHOUT ROWID;"
    "CREATE TABLE event(id INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, stream TEXT NOT NULL,"
    " component TEXT NOT NULL, kind TEXT NOT NULL, cause TEXT NOT NULL, error INTEGER NOT NULL);"
    "CREATE INDEX event_time ON event(time_us);"
    "CREATE VIEW raw_rows AS SELECT id >> 20 AS seq, id & 1048575 AS stream_id, data FROM raw;"
    "CREATE VIEW minute_rows AS SELECT id >> 20 AS minute, id & 1048575 AS stream_id, data FROM minute;";

const char *const hds_table_names[HDS_NB_TABLES] = {
    "run", "metric", "stream", "comp", "tick", "raw", "minute", "hourly", "baseline", "event", "meta",
};

/*
 * What the file is: 1 an HDS this build reads (version in *version), 0 an
 * empty database (no tables: may become one), or a negative AVERROR with
 * the reason in err.
 */
int hds_check_file(sqlite3 *db, int *version, char *err, size_t err_size)
{
    sqlite3_stmt *st;
    int rc, app_id, tables;

    rc = sqlite3_prepare_v2(db, "PRAGMA application_id", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        app_id = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        sqlite3_finalize(st);
    }
    if (rc == SQLITE_NOTADB || (rc != SQLITE_OK && rc != SQLITE_ROW)) {
        snprintf(err, err_size, "not an HDS file (%s)",
                 rc == SQLITE_NOTADB ? "not an SQLite database" : sqlite3_errmsg(db));
        return rc == SQLITE_NOTADB ? AVERROR(EINVAL) : AVERROR(EIO);
    }
    *version = (int)hds_db_int(db, "PRAGMA user_version", 0);
    tables = (int)hds_db_int(db, "SELECT count(*) FROM sqlite_schema", 0);
    if (app_id != HDS_APPLICATION_ID) {
        if (!tables && !*version && !app_id)
            return 0;
        snprintf(err, err_size, "not an HDS file (an SQLite database of another "
                 "application: application_id 0x%08x)", (unsigned)app_id);
        return AVERROR(EINVAL);
    }
    if (*version > HDS_SCHEMA_VERSION) {
        snprintf(err, err_size, "HDS schema version %d is newer than this hotspare "
                 "reads (%d): use a newer hotspare", *version, HDS_SCHEMA_VERSION);
        return AVERROR(ENOSYS);
    }
    if (*version < 1) {
        snprintf(err, err_size, "not an HDS file (schema version %d)", *version);
        return AVERROR(EINVAL);
    }
    return 1;
}

/* The file's catalogue must agree with ours on every index both know:
 * indices are what the blobs store. */
int hds_check_catalogue(sqlite3 *db, char *err, size_t err_size)
{
    sqlite3_stmt *st;
    int ret = 0;

    if (sqlite3_prepare_v2(db, "SELECT kind, idx, name FROM metric", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "not an HDS file (%s)", sqlite3_errmsg(db));
        return AVERROR(EINVAL);
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        int kind = sqlite3_column_int(st, 0), idx = sqlite3_column_int(st, 1);
        const char *name = (const char *)sqlite3_column_text(st, 2);
        const MetricDef *def = sample_metric(kind, idx);
        if (def && name && strcmp(def->name, name)) {
            snprintf(err, err_size, "the file's metric %d of kind %d is %s, this hotspare's "
                     "is %s: the catalogue changed without a schema version", idx, kind,
                     name, def->name);
            ret = AVERROR(EINVAL);
            break;
        }
    }
    sqlite3_finalize(st);
    return ret;
}

int hds_create_schema(Hds *h)
{
    sqlite3_stmt *st;
    char sql[128];
    int ret;

    if ((ret = hds_exec_sql(h, "BEGIN")) < 0)
        return ret;
    snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d",
             HDS_APPLICATION_ID, HDS_SCHEMA_VERSION);
    if ((ret = hds_exec_sql(h, sql)) < 0 || (ret = hds_exec_sql(h, schema_sql)) < 0)
        goto fail;
    if (sqlite3_prepare_v2(h->db, "INSERT INTO meta VALUES('created_us', ?)", -1, &st, NULL) != SQLITE_OK) {
        ret = AVERROR(EIO);
        goto fail;
    }
    sqlite3_bind_int64(st, 1, av_gettime());
    ret = hds_step_done(h, st, "meta");
    sqlite3_finalize(st);
    if (ret < 0)
        goto fail;
    return hds_exec_sql(h, "COMMIT");
fail:
    sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
    return ret;
}

/* the catalogue of this build, appended to the file's (new metrics) */
int hds_store_catalogue(Hds *h)
{
    sqlite3_stmt *st;
    int ret = 0;

    if (sqlite3_prepare_v2(h->db, "INSERT OR IGNORE INTO metric VALUES(?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    for (int k = 0; k < COMP_NB_KINDS && ret >= 0; k++)
        for (int m = 0; m < sample_kinds[k].nb_metrics && ret >= 0; m++) {
            const MetricDef *d = &sample_kinds[k].metrics[m];
            sqlite3_bind_int(st, 1, k);
            sqlite3_bind_int(st, 2, m);
            sqlite3_bind_text(st, 3, d->name, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, d->type == METRIC_COUNTER ? "counter" : "gauge", -1, SQLITE_STATIC);
            ret = hds_step_done(h, st, "insert metric");
        }
    sqlite3_finalize(st);
    return ret;
}
