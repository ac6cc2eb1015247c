/*
 * predict_test.c: the failure model's data path, from a component's
 * metrics to its risk: the health vector (src/health.c) per kind, with
 * counters turned into per-tick increases and absent figures kept absent;
 * data stores read back as labelled series (src/dataset.c), through a real
 * HDS written by the store itself, with failure events attributed to the
 * right components, repeated failures counted once and labels as
 * dataset.h defines them; and the predictor (src/predictor.c): risk in
 * [0,1] combining both heads, the anomaly score rising when a component
 * changes, per-component state, the risk written into the sample and
 * events when it crosses the thresholds.
 */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "pfm/dataset.h"
#include "core/event.h"
#include "hds/hds.h"
#include "pfm/health.h"
#include "core/log.h"
#include "pfm/model.h"
#include "pfm/predictor.h"

static char tmpdir[64];

#define T0 INT64_C(1790000000000000)    /* 2026-09 in microseconds */
#define SEC INT64_C(1000000)

static void set_encoder(SampleComp *c, double frames_out, double bytes, double fps, double p50,
                        double queue, double errors, double cpu)
{
    sample_set(c, EM_UP, 1);
    sample_set(c, EM_FRAMES_OUT, frames_out);
    sample_set(c, EM_BYTES_OUT, bytes);
    sample_set(c, EM_FPS, fps);
    sample_set(c, EM_TARGET_FPS, 30);
    sample_set(c, EM_LATENCY_P50, p50);
    sample_set(c, EM_LATENCY_P99, p50 * 2);
    sample_set(c, EM_QUEUE_DEPTH, queue);
    sample_set(c, EM_ERRORS, errors);
    sample_set(c, EM_DROPPED, 0);
    sample_set(c, EM_CPU_SECONDS, cpu);
}

static void test_health_encoder(void)
{
    SampleComp c = { .kind = COMP_ENCODER, .stream = "news", .name = "720p" };
    SampleComp host = { .kind = COMP_HOST, .stream = "", .name = "host" };
    HealthState st = { 0 };
    HealthHost h;
    float x[FEAT_NB];

    sample_set(&host, HM_PSI_CPU_SOME, 0.25);
    sample_set(&host, HM_CPU_RATIO, 1.5);
    health_host_comp(&host, &h);
    CU_ASSERT(h.v[0] == 0.25f && isnan(h.v[1]) && isnan(h.v[2]) && h.v[3] == 1.5f);

    set_encoder(&c, 0, 0, 30, 0.01, 2, 0, 0);
    health_extract(&st, &c, NULL, &h, T0, x);
    CU_ASSERT_EQUAL(x[FEAT_UP], 1);
    CU_ASSERT_EQUAL(x[FEAT_ON_BACKUP], 0);
    CU_ASSERT(fabsf(x[FEAT_RATE_RATIO] - 1.0f) < 1e-6);
    CU_ASSERT(fabsf(x[FEAT_LATENCY] - -2.0f) < 1e-5);          /* log10(0.01) */
    CU_ASSERT(fabsf(x[FEAT_LATENCY_PEAK] - log10f(0.02f)) < 1e-5);
    CU_ASSERT(fabsf(x[FEAT_QUEUE] - logf(3)) < 1e-5);          /* log1p(2) */
    CU_ASSERT(isnan(x[FEAT_ERRORS]));                          /* no previous tick */
    CU_ASSERT(isnan(x[FEAT_CPU]));
    CU_ASSERT(isnan(x[FEAT_STALE]));                           /* encoders have none */
    CU_ASSERT(x[FEAT_HOST_CPU_PSI] == 0.25f && isnan(x[FEAT_HOST_MEMORY_PSI]));
    CU_ASSERT_EQUAL(x[FEAT_KIND], 0.5f);

    /* a second later: 3 errors, half a core, half the frame rate, a standby */
    c.backup = 1;
    set_encoder(&c, 15, 10000, 15, 0.01, 0, 3, 0.5);
    health_extract(&st, &c, NULL, &h, T0 + SEC, x);
    CU_ASSERT(fabsf(x[FEAT_ERRORS] - logf(4)) < 1e-5);
    CU_ASSERT(fabsf(x[FEAT_CPU] - 0.5f) < 1e-6);
    CU_ASSERT(fabsf(x[FEAT_RATE_RATIO] - 0.5f) < 1e-6);
    CU_ASSERT_EQUAL(x[FEAT_ON_BACKUP], 1);
    CU_ASSERT_EQUAL(x[FEAT_THROUGHPUT_RATIO], 1);              /* its first rate */

    /* the counters went back (a new run): no negative increase */
    set_encoder(&c, 0, 0, 30, 0.01, 0, 0, 0);
    health_extract(&st, &c, NULL, &h, T0 + 2 * SEC, x);
    CU_ASSERT_EQUAL(x[FEAT_ERRORS], 0);
    CU_ASSERT_EQUAL(x[FEAT_CPU], 0);

    /* an absent figure stays absent */
    c.present &= ~(1u << EM_LATENCY_P50);
    health_extract(&st, &c, NULL, &h, T0 + 3 * SEC, x);
    CU_ASSERT(isnan(x[FEAT_LATENCY]));
}

static void test_health_kinds(void)
{
    SampleComp in = { .kind = COMP_INGEST, .stream = "s", .name = "input", .backup = 1 };
    SampleComp gpu = { .kind = COMP_GPU };
    HealthState st = { 0 }, sg = { 0 };
    HealthHost h;
    float x[FEAT_NB];

    health_host_comp(NULL, &h);
    for (int i = 0; i < 4; i++)
        CU_ASSERT(isnan(h.v[i]));
    CU_ASSERT(!health_kind_predicted(COMP_HOST) && !health_kind_predicted(COMP_GPU));
    CU_ASSERT(health_kind_predicted(COMP_INGEST) && health_kind_predicted(COMP_OUTPUT));
    CU_ASSERT(!health_kind_predicted(COMP_EDGE));
    health_extract(&sg, &gpu, NULL, &h, T0, x);
    for (int i = 0; i < FEAT_NB; i++)
        CU_ASSERT(isnan(x[i]));

    /* an input whose rate halves after a steady minute */
    for (int t = 0; t <= 61; t++) {
        sample_set(&in, IM_UP, 1);
        sample_set(&in, IM_THROUGHPUT, t < 61 ? 100000 : 50000);
        sample_set(&in, IM_PACKETS, t < 61 ? 50.0 * t : 50.0 * 60 + 25);
        sample_set(&in, IM_LAST_PACKET_AGE, t < 61 ? 0.02 : 30);
        health_extract(&st, &in, NULL, &h, T0 + t * SEC, x);
    }
    CU_ASSERT(fabsf(x[FEAT_THROUGHPUT_RATIO] - 0.5f) < 1e-3);
    CU_ASSERT(fabsf(x[FEAT_RATE_RATIO] - 0.5f) < 1e-3);
    CU_ASSERT_EQUAL(x[FEAT_STALE], 10);                        /* clamped */
    CU_ASSERT_EQUAL(x[FEAT_ON_BACKUP], 1);                     /* a backup source */
    CU_ASSERT_EQUAL(x[FEAT_KIND], 0);
}

/* The figures of the agents: an output's network figures are its edge's
 * (the same instance's, health_peer), its filesystem's are its own; the
 * latency's trend against its own slow average; the process's RSS growth. */
static void test_health_agents(void)
{
    SampleComp comps[3] = {
        { .kind = COMP_OUTPUT, .stream = "news", .name = "main", .backup = 0 },
        { .kind = COMP_EDGE, .stream = "news", .name = "main", .backup = 1 },
        { .kind = COMP_EDGE, .stream = "news", .name = "main", .backup = 0 },
    };
    SampleComp host = { .kind = COMP_HOST, .stream = "", .name = "host" };
    SampleComp *out = &comps[0], *edge = &comps[2];
    HealthState st = { 0 };
    HealthHost h;
    float x[FEAT_NB];

    CU_ASSERT_PTR_EQUAL(health_peer(comps, 3, out), edge);      /* its own instance's */
    CU_ASSERT_PTR_NULL(health_peer(comps, 2, out));
    CU_ASSERT_PTR_NULL(health_peer(comps, 3, edge));            /* only outputs have one */

    sample_set(&host, HM_RSS_GROWTH, 2e6);
    health_host_comp(&host, &h);
    sample_set(out, OM_UP, 1);
    sample_set(out, OM_WRITE_LATENCY, 0.01);
    sample_set(out, OM_FS_FREE, 25e6);
    sample_set(out, OM_FS_SIZE, 100e6);
    sample_set(edge, XM_RTT, 0.001);
    sample_set(edge, XM_UNACKED_BYTES, 999);
    sample_set(edge, XM_PEER_WINDOW, 99999);
    sample_set(edge, XM_LAST_ACK_AGE, 2.5);
    health_extract(&st, out, edge, &h, T0, x);
    CU_ASSERT(fabsf(x[FEAT_NET_RTT] - -3.0f) < 1e-5);
    CU_ASSERT(fabsf(x[FEAT_NET_UNACKED] - 3.0f) < 1e-5);        /* log10(1 + 999) */
    CU_ASSERT(fabsf(x[FEAT_NET_WINDOW] - 5.0f) < 1e-5);
    CU_ASSERT(fabsf(x[FEAT_NET_ACK_WAIT] - 2.5f) < 1e-6);       /* bytes wait for it */
    CU_ASSERT(fabsf(x[FEAT_FS_FREE] - 0.25f) < 1e-6);
    CU_ASSERT_EQUAL(x[FEAT_FS_FULL], 5);                        /* not filling */
    CU_ASSERT(fabsf(x[FEAT_HOST_RSS_GROWTH] - asinhf(2)) < 1e-5);
    CU_ASSERT_EQUAL(x[FEAT_LATENCY_TREND], 0);                  /* its first latency */

    /* a filesystem filling, nothing waiting for an ACK, writes 10 x slower */
    sample_set(out, OM_FS_TIME_TO_FULL, 99);
    sample_set(out, OM_WRITE_LATENCY, 0.1);
    sample_set(edge, XM_UNACKED_BYTES, 0);
    health_extract(&st, out, edge, &h, T0 + SEC, x);
    CU_ASSERT(fabsf(x[FEAT_FS_FULL] - 2.0f) < 1e-5);            /* log10(1 + 99) */
    CU_ASSERT_EQUAL(x[FEAT_NET_ACK_WAIT], 0);
    CU_ASSERT(fabsf(x[FEAT_LATENCY_TREND] - 1.0f) < 1e-5);      /* a decade above */

    /* no edge, no filesystem: absent, not "fine" */
    out->present &= ~((1u << OM_FS_FREE) | (1u << OM_FS_SIZE));
    health_extract(&st, out, NULL, &h, T0 + 2 * SEC, x);
    CU_ASSERT(isnan(x[FEAT_NET_RTT]) && isnan(x[FEAT_NET_ACK_WAIT]) && isnan(x[FEAT_FS_FREE]) &&
              isnan(x[FEAT_FS_FULL]));
}

/* A store with one stream: an encoder (primary, then its standby after a
 * failure), an output and its edge, an input; events as the data plane
 * writes them. */
static void write_store(const char *path)
{
    HdsConfig cfg;
    Hds *h = NULL;
    Sample s = { 0 };
    static const struct { int64_t at; const char *comp; const char *kind; } evs[] = {
        { 100, "enc:720p", "failure" },
        { 100, "enc:720p", "switch" },
        { 104, "enc:720p.backup", "failure" },   /* the same incident */
        { 150, "out:main", "failure" },
        { 170, "out:main", "failure" },          /* a retry while down */
        { 120, "input", "switch" },              /* the backup source takes over */
        { 250, "input.backup", "failure" },
        { 260, "other", "failure" },             /* no such component */
        { 230, "out:main", "averted" },          /* switched away at high risk */
    };

    hds_config_init(&cfg);
    cfg.path = path;
    cfg.queue_ticks = 512;          /* nothing dropped however fast we put */
    CU_ASSERT_FATAL(hds_open(&h, &cfg) == 0);
    for (int t = 0; t < 300; t++) {
        SampleComp *c;
        sample_reset(&s, T0 + t * SEC, t);
        c = sample_add_comp(&s, COMP_HOST, "", "host", 0);
        sample_set(c, HM_PSI_CPU_SOME, 0.1);
        c = sample_add_comp(&s, COMP_ENCODER, "news", "720p", t >= 100 ? 1 : 0);
        set_encoder(c, 30.0 * t, 1000.0 * t, 30, 0.01 + (t > 80 && t < 100 ? (t - 80) * 0.01 : 0),
                    0, 0, t * 0.1);
        c = sample_add_comp(&s, COMP_OUTPUT, "news", "main", 0);
        sample_set(c, OM_UP, t > 150 && t < 180 ? 0 : 1);
        sample_set(c, OM_PACKETS, 40.0 * t);
        c = sample_add_comp(&s, COMP_EDGE, "news", "main", 0);
        sample_set(c, XM_UP, t > 150 && t < 180 ? 0 : 1);
        for (int i = 0; i < 2; i++) {
            c = sample_add_comp(&s, COMP_INGEST, "news", "input", i);
            sample_set(c, IM_UP, 1);
        }
        CU_ASSERT(hds_put_sample(h, &s) == 0);
        for (size_t e = 0; e < sizeof(evs) / sizeof(evs[0]); e++)
            if (evs[e].at == t) {
                Event ev = { .time_us = T0 + t * SEC + SEC / 2, .stream = "news",
                             .component = evs[e].comp, .cause = "test" };
                if (!strcmp(evs[e].comp, "input"))
                    ev.cause = "input.backup takes over at 120.500 s (no packet for 300 ms)";
                ev.kind = !strcmp(evs[e].kind, "failure") ? EV_FAILURE :
                          !strcmp(evs[e].kind, "averted") ? EV_AVERTED : EV_SWITCH;
                CU_ASSERT(hds_put_event(h, &ev) == 0);
            }
    }
    hds_close(&h);
    sample_free(&s);
}

static const DsSeries *find(const Dataset *ds, CompKind kind, const char *name, int source)
{
    for (int i = 0; i < ds->nb; i++)
        if (ds->s[i].kind == kind && !strcmp(ds->s[i].name, name) && ds->s[i].source == source)
            return &ds->s[i];
    return NULL;
}

static void test_dataset(void)
{
    char path[128], err[256];
    Dataset ds = { 0 };
    const DsSeries *enc, *out, *edge, *in0, *in1;

    snprintf(path, sizeof(path), "%s/d.hds", tmpdir);
    write_store(path);
    CU_ASSERT_FATAL(dataset_load(&ds, path, err, sizeof(err)) == 0);
    CU_ASSERT_EQUAL(ds.nb, 4);                      /* host is context, the edge the output's */
    CU_ASSERT_EQUAL(ds.ticks, 4 * 300);
    CU_ASSERT_EQUAL(ds.nb_files, 1);
    CU_ASSERT_EQUAL(ds.files[0].failure_events, 6);
    CU_ASSERT_EQUAL(ds.files[0].first_us, T0);
    CU_ASSERT_EQUAL(ds.files[0].last_us, T0 + 299 * SEC);

    enc = find(&ds, COMP_ENCODER, "720p", 0);
    out = find(&ds, COMP_OUTPUT, "main", 0);
    edge = find(&ds, COMP_EDGE, "main", 0);
    in0 = find(&ds, COMP_INGEST, "input", 0);
    in1 = find(&ds, COMP_INGEST, "input", 1);
    CU_ASSERT_FATAL(enc && out && in0 && in1);
    CU_ASSERT_PTR_NULL(edge);
    CU_ASSERT_STRING_EQUAL(enc->label_name, "news/enc:720p");
    CU_ASSERT_STRING_EQUAL(in1->label_name, "news/input.backup");
    CU_ASSERT_STRING_EQUAL(out->label_name, "news/out:main");
    CU_ASSERT_EQUAL(enc->n, 300);
    /* one series for the encoder whatever instance runs, on_backup says which */
    CU_ASSERT_EQUAL(enc->x[99 * FEAT_NB + FEAT_ON_BACKUP], 0);
    CU_ASSERT_EQUAL(enc->x[100 * FEAT_NB + FEAT_ON_BACKUP], 1);

    /* enc: 100 and 104 are one incident; out: 170 was a retry while down */
    CU_ASSERT_EQUAL(enc->nb_failures, 1);
    CU_ASSERT_EQUAL(enc->failure_us[0], T0 + 100 * SEC + SEC / 2);
    CU_ASSERT_EQUAL(out->nb_failures, 1);
    CU_ASSERT_EQUAL(in0->nb_failures, 0);
    CU_ASSERT_EQUAL(in1->nb_failures, 1);

    CU_ASSERT_EQUAL(dataset_label(&ds, 30 * SEC), 0);
    /* within 30 s before the failure at 100.5: ticks 71..100 */
    CU_ASSERT_EQUAL(enc->label[70], 0);
    CU_ASSERT_EQUAL(enc->label[71], 1);
    CU_ASSERT_EQUAL(enc->label[100], 1);
    CU_ASSERT_EQUAL(enc->label[101], -1);          /* cooldown */
    CU_ASSERT_EQUAL(enc->label[110], -1);
    CU_ASSERT_EQUAL(enc->label[111], 0);
    CU_ASSERT_EQUAL(enc->label[269], 0);
    CU_ASSERT_EQUAL(enc->label[270], -1);          /* its future is unknown */
    CU_ASSERT_EQUAL(out->label[150], 1);
    CU_ASSERT_EQUAL(out->label[175], -1);          /* down */
    /* inputs: the source in use has labels, the other none */
    CU_ASSERT_EQUAL(in0->label[120], 0);
    CU_ASSERT_EQUAL(in0->label[121], -1);          /* the backup took over at 120.5 */
    CU_ASSERT_EQUAL(in1->label[120], -1);
    CU_ASSERT_EQUAL(in1->label[121], 0);
    CU_ASSERT_EQUAL(in1->label[221], 1);           /* its own failure at 250.5 */

    /* as if the store ended at 140 s: the output's failure at 150.5 s is
     * not known, and what lies within 30 s of the end is unknown */
    {
        signed char l[300];
        dataset_label_series(out, 30 * SEC, T0 + 140 * SEC, l);
        CU_ASSERT_EQUAL(l[110], 0);
        CU_ASSERT_EQUAL(l[111], -1);
        CU_ASSERT_EQUAL(l[140], -1);
        CU_ASSERT_EQUAL(out->label[125], 1);        /* the whole store knows */
        dataset_label_series(enc, 30 * SEC, T0 + 140 * SEC, l);
        CU_ASSERT_EQUAL(l[71], 1);                  /* a failure before the end */
    }
    CU_ASSERT_EQUAL(out->label[185], 0);
    /* switched away at 230.5 s: the 30 s before are not called healthy,
     * and nothing changes for the other series */
    CU_ASSERT_EQUAL(ds.files[0].averted_events, 1);
    CU_ASSERT_EQUAL(out->nb_averted, 1);
    CU_ASSERT_EQUAL(out->nb_failures, 1);
    CU_ASSERT_EQUAL(out->label[200], 0);
    CU_ASSERT_EQUAL(out->label[201], -1);
    CU_ASSERT_EQUAL(out->label[230], -1);
    CU_ASSERT_EQUAL(out->label[231], 0);
    CU_ASSERT_EQUAL(enc->label[201], 0);

    /* a schedule: the encoder's failure was abrupt (censored when asked),
     * the output's no scenario explains */
    {
        EvalFault f;
        char why[128];
        CU_ASSERT_EQUAL_FATAL(eval_fault_parse("90 101 news enc:720p abrupt enc_error", &f, why,
                                               sizeof(why)), 1);
        CU_ASSERT_EQUAL(dataset_classify(&ds, &f, 1, 1), 0);
        CU_ASSERT_EQUAL(enc->failure_class[0], EVAL_CLASS_ABRUPT);
        CU_ASSERT_EQUAL(out->failure_class[0], EVAL_CLASS_OTHER);
        CU_ASSERT_EQUAL(dataset_label(&ds, 30 * SEC), 0);
        CU_ASSERT_EQUAL(enc->label[70], 0);
        CU_ASSERT_EQUAL(enc->label[71], -1);        /* censored, not positive */
        CU_ASSERT_EQUAL(enc->label[100], -1);
        CU_ASSERT_EQUAL(out->label[150], 1);        /* unchanged */
    }
    dataset_free(&ds);
    CU_ASSERT_EQUAL(ds.nb, 0);

    CU_ASSERT(dataset_load(&ds, "/nonexistent/x.hds", err, sizeof(err)) < 0);
    CU_ASSERT(strstr(err, "x.hds") || strstr(err, "no such"));
    dataset_free(&ds);
}

/* Label feedback: an output switched away from at high risk twice. After
 * the first switch (100.5 s) the instance it left failed on its own 40 s
 * later (its failure event names it): the prediction is confirmed and the
 * ticks within the horizon before the switch are positives. After the
 * second (200.5 s) the instance failed only 130 s later, past the horizon:
 * censored. */
static void test_label_feedback(void)
{
    static const struct { int at; const char *comp; const char *kind; const char *cause; } evs[] = {
        { 100, "out:main", "averted", "switched away from out:main at risk 0.93 (request 3)" },
        { 140, "out:main", "failure", "test" },
        { 200, "out:main", "averted", "switched away from out:main at risk 0.81 (request 4)" },
        { 330, "out:main", "failure", "test" },
    };
    char path[128], err[256];
    HdsConfig cfg;
    Hds *h = NULL;
    Sample smp = { 0 };
    Dataset ds = { 0 };
    const DsSeries *out;
    int confirmed, censored;

    snprintf(path, sizeof(path), "%s/feedback.hds", tmpdir);
    hds_config_init(&cfg);
    cfg.path = path;
    cfg.queue_ticks = 512;
    CU_ASSERT_FATAL(hds_open(&h, &cfg) == 0);
    for (int t = 0; t < 400; t++) {
        SampleComp *c;
        sample_reset(&smp, T0 + t * SEC, t);
        c = sample_add_comp(&smp, COMP_OUTPUT, "news", "main", 0);
        sample_set(c, OM_UP, 1);
        sample_set(c, OM_PACKETS, 40.0 * t);
        CU_ASSERT(hds_put_sample(h, &smp) == 0);
        for (size_t e = 0; e < sizeof(evs) / sizeof(evs[0]); e++)
            if (evs[e].at == t) {
                Event ev = { .time_us = T0 + t * SEC + SEC / 2, .stream = "news",
                             .component = evs[e].comp, .cause = evs[e].cause };
                ev.kind = !strcmp(evs[e].kind, "failure") ? EV_FAILURE : EV_AVERTED;
                CU_ASSERT(hds_put_event(h, &ev) == 0);
            }
    }
    hds_close(&h);
    sample_free(&smp);

    CU_ASSERT_FATAL(dataset_load(&ds, path, err, sizeof(err)) == 0);
    out = find(&ds, COMP_OUTPUT, "main", 0);
    CU_ASSERT_FATAL(out != NULL);
    CU_ASSERT_EQUAL_FATAL(out->nb_averted, 2);
    /* the switch is stored with its risk and the later state of what it left */
    CU_ASSERT(fabsf(out->averted_risk[0] - 0.93f) < 1e-6);
    CU_ASSERT(fabsf(out->averted_risk[1] - 0.81f) < 1e-6);
    CU_ASSERT_EQUAL(out->averted_fail_us[0], T0 + 140 * SEC + SEC / 2);
    CU_ASSERT_EQUAL(out->averted_fail_us[1], T0 + 330 * SEC + SEC / 2);

    CU_ASSERT_EQUAL(dataset_label(&ds, 60 * SEC), 0);
    dataset_averted_count(&ds, 60 * SEC, &confirmed, &censored);
    CU_ASSERT_EQUAL(confirmed, 1);
    CU_ASSERT_EQUAL(censored, 1);
    CU_ASSERT_EQUAL(out->label[40], 0);
    CU_ASSERT_EQUAL(out->label[41], 1);     /* the switch at 100.5 is within 60 s */
    CU_ASSERT_EQUAL(out->label[79], 1);     /* the failure at 140.5 is not yet, the switch is */
    CU_ASSERT_EQUAL(out->label[100], 1);
    CU_ASSERT_EQUAL(out->label[140], 1);    /* its own failure */
    CU_ASSERT_EQUAL(out->label[141], -1);   /* cooldown */
    /* the second switch: censored, never a negative */
    CU_ASSERT_EQUAL(out->label[151], -1);
    CU_ASSERT_EQUAL(out->label[200], -1);
    CU_ASSERT_EQUAL(out->label[201], 0);
    CU_ASSERT_EQUAL(out->label[271], 1);    /* the failure at 330.5 */
    /* a horizon of 30 s: the first instance's failure came 40 s after its
     * switch, too late to confirm it: censored too */
    CU_ASSERT_EQUAL(dataset_label(&ds, 30 * SEC), 0);
    dataset_averted_count(&ds, 30 * SEC, &confirmed, &censored);
    CU_ASSERT_EQUAL(confirmed, 0);
    CU_ASSERT_EQUAL(censored, 2);
    CU_ASSERT_EQUAL(out->label[80], -1);
    CU_ASSERT_EQUAL(out->label[70], 0);
    dataset_free(&ds);
}

static void test_predictor_step(void)
{
    Model *m = NULL;
    static PredState st;          /* FEAT_NB detector states: not on the stack */
    AnomalyConfig ac;
    PredOut o;
    float x[FEAT_NB];
    float before = 0, peak = 0;

    CU_ASSERT_FATAL(model_alloc(&m, 7) == 0);
    m->anomaly_weight = 1.0f;
    predictor_state_reset(&st);
    anomaly_config_default(&ac);
    for (int t = 0; t < 700; t++) {
        for (int k = 0; k < FEAT_NB; k++)
            x[k] = (float)(0.1 * sin(t * 0.3 + k));
        x[3] = NAN;                                 /* an absent figure */
        if (t >= 600)
            x[FEAT_LATENCY] += 5;                   /* the component changes */
        predictor_step(m, &st, x, &o);
        CU_ASSERT(o.p_fail >= 0 && o.p_fail <= 1);
        CU_ASSERT(o.anomaly >= 0 && o.anomaly <= 1);
        CU_ASSERT(o.risk >= o.p_fail - 1e-6 && o.risk <= 1);
        CU_ASSERT(fabsf(o.risk - (1 - (1 - o.p_fail) * (1 - o.anomaly))) < 1e-5);
        /* the detector `hotspare nab` scores, with its warm-up */
        if (t < ac.warmup)
            CU_ASSERT_EQUAL(o.anomaly, 0);
        if (t > ac.warmup && t < 600)
            before = fmaxf(before, o.anomaly);
        if (t >= 600 && t < 610)
            peak = fmaxf(peak, o.anomaly);
    }
    /* the absent figure was skipped, never learnt */
    CU_ASSERT_EQUAL(st.anom[3].n, 0);
    CU_ASSERT_EQUAL(st.anom[FEAT_LATENCY].n, 700);
    CU_ASSERT(peak > 0.5f);
    CU_ASSERT(peak > before + 0.3f);
    model_free(&m);
}

static void test_predictor_tick(void)
{
    Model *m = NULL;
    Predictor *p = NULL;
    Sample s = { 0 };

    CU_ASSERT_FATAL(model_alloc(&m, 3) == 0);
    CU_ASSERT_FATAL(predictor_alloc(&p, &m) == 0);
    CU_ASSERT_PTR_NULL(m);
    for (int t = 0; t < 5; t++) {
        SampleComp *c;
        sample_reset(&s, T0 + t * SEC, t);
        sample_add_comp(&s, COMP_HOST, "", "host", 0);
        c = sample_add_comp(&s, COMP_ENCODER, "a", "720p", 0);
        set_encoder(c, 30.0 * t, 0, 30, 0.01, 0, 0, 0);
        c = sample_add_comp(&s, COMP_ENCODER, "b", "720p", 0);
        set_encoder(c, 30.0 * t, 0, 30, 0.01, 0, 0, 0);
        sample_add_comp(&s, COMP_INGEST, "a", "input", 0);
        sample_add_comp(&s, COMP_INGEST, "a", "input", 1);
        CU_ASSERT_EQUAL(predictor_tick(p, &s), 4);
        CU_ASSERT_EQUAL(s.comps[0].present, 0);     /* the host is context, not predicted */
        CU_ASSERT(sample_has(&s.comps[1], EM_FAILURE_RISK));
        CU_ASSERT(sample_has(&s.comps[4], IM_FAILURE_RISK));
        CU_ASSERT(s.comps[1].v[EM_FAILURE_RISK] >= 0 && s.comps[1].v[EM_FAILURE_RISK] <= 1);
    }
    predictor_free(&p);
    predictor_free(&p);
    sample_free(&s);
}

/* predictor_tick steps its components as one batch (lstm_step_batch): the
 * risks are those of stepping each alone, bit for bit, on whichever SIMD
 * path runs, also for a backup encoder that shares its primary's series,
 * and while components keep arriving (the table grows under the batch) */
static void test_predictor_batch(void)
{
    enum { NENC = 80, TICKS = 40 };
    Model *m = NULL, *ref = NULL;
    Predictor *p = NULL;
    Sample s = { 0 };
    PredState st[NENC + 1];
    int mismatches = 0, stepped = 0;

    CU_ASSERT_FATAL(model_alloc(&m, 5) == 0 && model_alloc(&ref, 5) == 0);
    ref->anomaly_weight = m->anomaly_weight = 0.5f;
    CU_ASSERT_FATAL(predictor_alloc(&p, &m) == 0);
    for (int i = 0; i <= NENC; i++)
        predictor_state_reset(&st[i]);
    for (int t = 0; t < TICKS; t++) {
        HealthHost host;
        sample_reset(&s, T0 + t * SEC, t);
        sample_add_comp(&s, COMP_HOST, "", "host", 0);
        for (int i = 0; i < NENC && i < 5 + 3 * t; i++) {
            char name[16];
            snprintf(name, sizeof(name), "r%d", i);
            set_encoder(sample_add_comp(&s, COMP_ENCODER, "a", name, 0),
                        (30.0 - i % 7) * t, 1000.0 * t * (i + 1), 30, 0.01 * (1 + i % 3), 0, 0, 0);
            /* r0's backup next to it (in its tile of the batch): the same
             * series as r0, stepped after it */
            if (i == 0)
                set_encoder(sample_add_comp(&s, COMP_ENCODER, "a", "r0", 1), 29.0 * t, 0, 30,
                            0.02, 0, 0, 0);
        }
        stepped += predictor_tick(p, &s) == s.nb_comps - 1;

        health_host(&s, &host);
        for (int i = 1; i < s.nb_comps; i++) {
            PredState *ps = &st[i <= 2 ? 0 : i - 2];
            float x[FEAT_NB];
            PredOut o;
            health_extract(&ps->feat, &s.comps[i], health_peer(s.comps, s.nb_comps, &s.comps[i]), &host, s.time_us, x);
            predictor_step(ref, ps, x, &o);
            mismatches += s.comps[i].v[EM_FAILURE_RISK] != o.risk;
        }
    }
    printf("\n  %d ticks of 6 to %d components: %d risks differ from one by one", TICKS, NENC + 1,
           mismatches);
    CU_ASSERT_EQUAL(stepped, TICKS);
    CU_ASSERT_EQUAL(mismatches, 0);
    predictor_free(&p);
    model_free(&ref);
    sample_free(&s);
}

int main(void)
{
    CU_pSuite suite;
    int failures;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/predict_test.XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    log_init(getenv("PREDICT_TEST_LOG") ? AV_LOG_DEBUG : AV_LOG_FATAL);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    suite = CU_add_suite("predict", NULL, NULL);
    CU_add_test(suite, "health vector of an encoder", test_health_encoder);
    CU_add_test(suite, "health vector of other kinds", test_health_kinds);
    CU_add_test(suite, "health vector: the agents' figures", test_health_agents);
    CU_add_test(suite, "a data store as labelled series", test_dataset);
    CU_add_test(suite, "switches away at high risk: confirmed or censored", test_label_feedback);
    CU_add_test(suite, "one component stepped", test_predictor_step);
    CU_add_test(suite, "a sample stepped, its risk set", test_predictor_tick);
    CU_add_test(suite, "a sample stepped as a batch = one by one", test_predictor_batch);
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
