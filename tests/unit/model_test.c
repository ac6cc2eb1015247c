/*
 * model_test.c: model files (src/model.c): a round trip keeps every field
 * and weight; a wrong magic, version or size, a truncation at any of several
 * offsets, a flipped byte anywhere and trailing bytes are each refused with
 * a message that names the file and says what was expected and found, plus
 * a HINT line, and never crash (tests/unit/model_test under valgrind once).
 */
#include <CUnit/Basic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/crc.h>
#include <libavutil/error.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mem.h>

#include "pfm/model.h"

#define NAME "test.hsm"

/* The last error lines logged, to check what the user is told. */
static char logged[4096];

static void capture(void *avcl, int level, const char *fmt, va_list vl)
{
    size_t len = strlen(logged);

    if (level > AV_LOG_ERROR || len >= sizeof(logged) - 1)
        return;
    vsnprintf(logged + len, sizeof(logged) - len, fmt, vl);
}

static uint8_t *image;
static size_t image_size;
static Model *orig;

/* builds a model, saves it, reads the file back into image */
static int suite_init(void)
{
    char path[] = "/tmp/model_test_XXXXXX";
    FILE *f;
    int fd = mkstemp(path);

    if (fd < 0)
        return 1;
    close(fd);
    if (model_alloc(&orig, 99) < 0)
        return 1;
    for (int k = 0; k < LSTM_F; k++) {
        snprintf(orig->feature[k], MODEL_NAME_SIZE, "enc.feature_%d", k);
        orig->mean[k] = 0.5f * k;
        orig->std[k] = 1.0f + k;
    }
    orig->horizon_s = 90;
    orig->thr_high = 0.7f;
    orig->thr_low = 0.4f;
    orig->anomaly_weight = 0.9995f;
    if (model_add_provenance(orig, "data", "tests/data/lstm/trace.csv, 800 ticks") < 0 ||
        model_add_provenance(orig, "date", "2026-11-24") < 0 ||
        model_add_provenance(orig, "eval.pr_auc", "0.93") < 0 ||
        model_save(orig, path, NULL) < 0)
        return 1;
    f = fopen(path, "rb");
    if (!f)
        return 1;
    image = av_malloc(MODEL_FILE_SIZE(MODEL_TEXT_MAX));
    image_size = fread(image, 1, MODEL_FILE_SIZE(MODEL_TEXT_MAX), f);
    fclose(f);
    unlink(path);
    return image_size == 0;
}

static int suite_clean(void)
{
    av_freep(&image);
    model_free(&orig);
    return 0;
}

static void test_round_trip(void)
{
    Model *m = NULL;
    char buf[128];
    char path[] = "/tmp/model_test_XXXXXX";
    int fd;

    CU_ASSERT_EQUAL(image_size, MODEL_FILE_SIZE(strlen(orig->provenance)));
    CU_ASSERT_EQUAL(AV_RL32(image), MODEL_MAGIC);
    CU_ASSERT(!memcmp(image, "HSPM", 4));
    CU_ASSERT_FATAL(model_parse(image, image_size, NAME, &m, NULL) == 0);
    CU_ASSERT(!memcmp(lstm_params(m->lstm), lstm_params(orig->lstm),
                      LSTM_NUM_PARAMS * sizeof(float)));
    CU_ASSERT(!memcmp(m->feature, orig->feature, sizeof(m->feature)));
    CU_ASSERT(!memcmp(m->mean, orig->mean, sizeof(m->mean)));
    CU_ASSERT(!memcmp(m->std, orig->std, sizeof(m->std)));
    CU_ASSERT_EQUAL(m->horizon_s, 90);
    CU_ASSERT(m->thr_high == 0.7f && m->thr_low == 0.4f && m->anomaly_weight == 0.9995f);
    CU_ASSERT_STRING_EQUAL(m->provenance, orig->provenance);
    CU_ASSERT_EQUAL(model_get_provenance(m, "date", buf, sizeof(buf)), 10);
    CU_ASSERT_STRING_EQUAL(buf, "2026-11-24");
    CU_ASSERT_EQUAL(model_get_provenance(m, "eval.pr_auc", buf, sizeof(buf)), 4);
    CU_ASSERT_STRING_EQUAL(buf, "0.93");
    CU_ASSERT_EQUAL(model_get_provenance(m, "eval", buf, sizeof(buf)), AVERROR(ENOENT));
    model_free(&m);
    CU_ASSERT_PTR_NULL(m);
    model_free(&m);

    /* through a file as well, and a bad provenance is refused */
    fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    CU_ASSERT_FATAL(model_save(orig, path, NULL) == 0);
    CU_ASSERT_FATAL(model_load(path, &m, NULL) == 0);
    CU_ASSERT(!memcmp(lstm_params(m->lstm), lstm_params(orig->lstm),
                      LSTM_NUM_PARAMS * sizeof(float)));
    CU_ASSERT_EQUAL(model_add_provenance(m, "bad key", "x"), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(model_add_provenance(m, "key", "two\nlines"), AVERROR(EINVAL));
    model_free(&m);
    unlink(path);
}

/* parses a modified copy; expects a refusal whose message has all of want */
static void expect_refusal(const uint8_t *buf, size_t size, const char *what, ...)
{
    Model *m = NULL;
    const char *want;
    va_list ap;
    int ret;

    logged[0] = 0;
    ret = model_parse(buf, size, NAME, &m, NULL);
    CU_ASSERT(ret == AVERROR_INVALIDDATA);
    CU_ASSERT_PTR_NULL(m);
    model_free(&m);
    CU_ASSERT(strstr(logged, "model file " NAME ": ") != NULL);
    CU_ASSERT(strstr(logged, "\nHINT: ") != NULL);
    va_start(ap, what);
    while ((want = va_arg(ap, const char *))) {
        if (!strstr(logged, want)) {
            printf("\n  %s: message lacks '%s':\n%s", what, want, logged);
            CU_FAIL("message");
        }
    }
    va_end(ap);
}

static uint8_t *copy(void)
{
    uint8_t *b = av_malloc(image_size + 16);

    memcpy(b, image, image_size);
    return b;
}

/* rewrites the CRC so that a semantic check, not the CRC, must catch it */
static void fix_crc(uint8_t *b, size_t size)
{
    AV_WL32(b + size - 4, av_crc(av_crc_get_table(AV_CRC_32_IEEE_LE), UINT32_MAX, b, size - 4)
                          ^ UINT32_MAX);
}

static void test_header(void)
{
    uint8_t *b = copy();

    printf("\n");
    AV_WL32(b, 0x12345678);
    expect_refusal(b, image_size, "magic", "wrong magic", "expected 0x4D505348", "found 0x12345678", NULL);
    memcpy(b, image, image_size);
    AV_WL32(b + 4, 2);
    expect_refusal(b, image_size, "version", "format version 2", "reads version 1", "newer", NULL);
    memcpy(b, image, image_size);
    AV_WL32(b + 8, 8);
    {
        char want[32];
        snprintf(want, sizeof(want), "inputs F expected %d", LSTM_F);
        expect_refusal(b, image_size, "F", want, "found 8", NULL);
    }
    memcpy(b, image, image_size);
    AV_WL32(b + 12, 64);
    expect_refusal(b, image_size, "H", "hidden H expected 32", "found 64", NULL);
    memcpy(b, image, image_size);
    AV_WL32(b + 16, 2);
    expect_refusal(b, image_size, "layers", "layers expected 1", "found 2", NULL);
    memcpy(b, image, image_size);
    AV_WL32(b + 20, LSTM_NUM_PARAMS + 1);
    expect_refusal(b, image_size, "params", "parameters expected", NULL);
    memcpy(b, image, image_size);
    AV_WL32(b + 40, 1);
    expect_refusal(b, image_size, "reserved", "reserved header word 10", NULL);
    memcpy(b, image, image_size);
    AV_WL32(b + 32, 0x7fffffff);
    expect_refusal(b, image_size, "text length", "provenance text of", NULL);
    av_free(b);
}

static void test_truncated(void)
{
    static const size_t cut[] = { 0, 1, 4, 7, 8, 100, 255, 256, 300, 900, 1000 };
    char want[64];

    for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++)
        expect_refusal(image, cut[i], "truncated", "truncated", NULL);
    for (size_t back = 1; back <= 4 * LSTM_NUM_PARAMS + 4; back = back * 3 + 1) {
        snprintf(want, sizeof(want), "expected %zu bytes, found %zu", image_size, image_size - back);
        expect_refusal(image, image_size - back, "truncated at the end", "truncated", want, NULL);
    }
    {
        uint8_t *b = copy();
        b[image_size] = 0;
        expect_refusal(b, image_size + 1, "trailing", "1 bytes after the end", NULL);
        av_free(b);
    }
}

/* every byte, each of its bits in turn over the file: always refused */
static void test_flipped(void)
{
    uint8_t *b = copy();
    int refused = 0, crc = 0;

    for (size_t i = 0; i < image_size; i++) {
        Model *m = NULL;
        b[i] ^= 1u << (i % 8);
        logged[0] = 0;
        refused += model_parse(b, image_size, NAME, &m, NULL) == AVERROR_INVALIDDATA && !m;
        crc += strstr(logged, "CRC-32 expected") != NULL;
        model_free(&m);
        b[i] ^= 1u << (i % 8);
    }
    printf("\n  %zu single-bit flips: %d refused (%d by the CRC)", image_size, refused, crc);
    CU_ASSERT_EQUAL(refused, (int)image_size);
    CU_ASSERT(crc > (int)image_size * 9 / 10);
    av_free(b);
}

/* values that pass the CRC but make no sense */
static void test_semantic(void)
{
    uint8_t *b = copy();
    size_t names = MODEL_HEADER_INTS * 4, norm = names + LSTM_F * MODEL_NAME_SIZE;
    size_t thr = norm + 8 * LSTM_F, weights = thr + 16 + strlen(orig->provenance);

    AV_WL32(b + 24, 0);
    fix_crc(b, image_size);
    expect_refusal(b, image_size, "horizon", "horizon 0 s", NULL);
    memcpy(b, image, image_size);
    memset(b + names + MODEL_NAME_SIZE, 'x', MODEL_NAME_SIZE);
    fix_crc(b, image_size);
    expect_refusal(b, image_size, "name", "feature name 1 is not NUL-terminated", NULL);
    memcpy(b, image, image_size);
    b[names] = 0;
    fix_crc(b, image_size);
    expect_refusal(b, image_size, "empty name", "feature name 0 is empty", NULL);
    memcpy(b, image, image_size);
    AV_WL32(b + norm + 4 * (LSTM_F + 2), av_float2int(0.0f));
    fix_crc(b, image_size);
    expect_refusal(b, image_size, "std", "feature 2 (enc.feature_2)", "std 0", NULL);
    memcpy(b, image, image_size);
    AV_WL32(b + thr, av_float2int(1.5f));
    fix_crc(b, image_size);
    expect_refusal(b, image_size, "threshold", "thresholds high 1.5", NULL);
    memcpy(b, image, image_size);
    AV_WL32(b + weights + 4 * 17, av_float2int(NAN));
    fix_crc(b, image_size);
    expect_refusal(b, image_size, "weight", "weight 17 is nan", NULL);
    memcpy(b, image, image_size);
    b[thr + 16 + 3] = 1;
    fix_crc(b, image_size);
    expect_refusal(b, image_size, "text", "provenance text is not printable", NULL);
    av_free(b);
}

static void test_files(void)
{
    Model *m = NULL;
    char path[] = "/tmp/model_test_XXXXXX";
    FILE *f;
    int fd;

    logged[0] = 0;
    CU_ASSERT(model_load("/nonexistent/x.hsm", &m, NULL) == AVERROR(ENOENT));
    CU_ASSERT(strstr(logged, "/nonexistent/x.hsm") && strstr(logged, "HINT:"));
    /* a large file is refused without reading it all */
    fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    f = fdopen(fd, "wb");
    fwrite(image, 1, image_size, f);
    for (int i = 0; i < 40; i++)
        fwrite(image, 1, image_size, f);
    fclose(f);
    logged[0] = 0;
    CU_ASSERT(model_load(path, &m, NULL) == AVERROR_INVALIDDATA);
    CU_ASSERT(strstr(logged, "larger than any model file") != NULL);
    CU_ASSERT_PTR_NULL(m);
    /* an unwritable destination */
    logged[0] = 0;
    CU_ASSERT(model_save(orig, "/nonexistent/dir/x.hsm", NULL) < 0);
    CU_ASSERT(strstr(logged, "/nonexistent/dir/x.hsm.tmp") != NULL);
    unlink(path);
}

int main(void)
{
    CU_pSuite s;

    av_log_set_callback(capture);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("model", suite_init, suite_clean);
    CU_add_test(s, "round trip", test_round_trip);
    CU_add_test(s, "wrong magic, version, sizes", test_header);
    CU_add_test(s, "truncated at several offsets, trailing bytes", test_truncated);
    CU_add_test(s, "a flipped bit anywhere", test_flipped);
    CU_add_test(s, "nonsense values behind a valid CRC", test_semantic);
    CU_add_test(s, "missing, huge and unwritable files", test_files);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    {
        int failures = CU_get_number_of_failures();
        CU_cleanup_registry();
        return failures;
    }
}
