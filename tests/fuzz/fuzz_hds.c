/*
 * fuzz_hds.c: the data store's reader on a damaged file. The input is
 * written as the whole file (a valid HDS from the corpus with bytes
 * changed: a page of the b-tree, a blob, the header) and read as
 * `hotspare hds` reads it: open, stats, samples, minutes, events and
 * baselines. It must end in a clear error or in values, never a crash:
 * SQLite checks its pages; our decoding of the blobs and of the ids in
 * the rows is what this exercises.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "hds/hds.h"
#include "tests/fuzz/fuzz.h"

static char path[4096];

static void remove_files(void)
{
    char side[sizeof(path) + 8];

    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
}

static void remove_all(void)
{
    remove_files();
    unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    int fd;

    av_log_set_level(AV_LOG_QUIET);
    snprintf(path, sizeof(path), "%s/hs-fuzz-hds-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if ((fd = mkstemp(path)) < 0) {
        perror("fuzz_hds: mkstemp");
        exit(1);
    }
    close(fd);
    atexit(remove_all);
    return 0;
}

/* Callbacks that read what they are given, as the exporters do. */
static int on_sample(void *opaque, const HdsTick *t, const SampleComp *c)
{
    size_t *n = opaque;

    *n += strlen(c->stream) + strlen(c->name) + (c->present & 1) + (size_t)(t->tick & 1);
    return 0;
}

static int on_minute(void *opaque, int64_t minute_us, const SampleComp *c, const HdsMinuteStat *st)
{
    size_t *n = opaque;

    *n += strlen(c->name) + (size_t)(st[0].n & 1) + (size_t)(minute_us & 1);
    return 0;
}

static int on_event(void *opaque, const HdsEvent *e)
{
    size_t *n = opaque;

    *n += (e->stream ? strlen(e->stream) : 0) + (e->component ? strlen(e->component) : 0) +
          (e->kind ? strlen(e->kind) : 0) + (e->cause ? strlen(e->cause) : 0);
    return 0;
}

static int on_baseline(void *opaque, const HdsBaseline *b)
{
    size_t *n = opaque;

    *n += strlen(b->stream) + strlen(b->name) + (size_t)b->hour;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    HdsReader *r = NULL;
    HdsFileStats st;
    HdsFilter all = { 0 }, some = { .stream = "news", .component = "720p" };
    size_t n = 0;
    FILE *f;

    /* a WAL or index left by the last input would be read with this one */
    remove_files();
    if (!(f = fopen(path, "wb")))
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    if (hds_reader_open(&r, path, err, sizeof(err)) < 0)
        return 0;
    hds_reader_stats(r, &st);
    hds_reader_samples(r, &all, on_sample, &n);
    hds_reader_samples(r, &some, on_sample, &n);
    hds_reader_minutes(r, &all, on_minute, &n);
    hds_reader_events(r, &all, on_event, &n);
    hds_reader_baselines(r, &all, on_baseline, &n);
    hds_reader_close(&r);
    return 0;
}
