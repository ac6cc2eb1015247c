/*
 * model.c: reading and writing model files; the format is in model.h.
 *
 * The reader works on the whole file in memory (it is ~30 KiB): it reads at
 * most one byte more than the largest valid file, so a huge or endless input
 * costs nothing, and every field is bounds-checked before it is read.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/crc.h>
#include <libavutil/error.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mem.h>

#include "core/log.h"
#include "pfm/model.h"

#define HEADER_BYTES (MODEL_HEADER_INTS * 4)
#define MAX_FILE     MODEL_FILE_SIZE(MODEL_TEXT_MAX)

static LogCtx model_log;

static void *log_ctx(void *logctx)
{
    if (logctx)
        return logctx;
    if (!model_log.class)
        logctx_init(&model_log, "model");
    return &model_log;
}

int model_alloc(Model **pm, uint64_t seed)
{
    Model *m = av_mallocz(sizeof(*m));
    int ret;

    *pm = NULL;
    if (!m)
        return AVERROR(ENOMEM);
    if ((ret = lstm_alloc(&m->lstm, seed)) < 0) {
        model_free(&m);
        return ret;
    }
    for (int k = 0; k < LSTM_F; k++) {
        snprintf(m->feature[k], MODEL_NAME_SIZE, "f%d", k);
        m->mean[k] = 0;
        m->std[k] = 1;
    }
    m->horizon_s = 60;
    m->thr_high = 0.5f;
    m->thr_low = 0.3f;
    m->anomaly_weight = 0.5f;
    *pm = m;
    return 0;
}

void model_free(Model **pm)
{
    Model *m = *pm;

    if (!m)
        return;
    lstm_free(&m->lstm);
    av_freep(&m->provenance);
    av_freep(pm);
}

static int key_ok(const char *k)
{
    if (!*k)
        return 0;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
              *k == '_' || *k == '.' || *k == '-'))
            return 0;
    return 1;
}

/* printable ASCII, tab, or bytes of UTF-8 sequences (>= 0x80); newline only
 * when allowed */
static int text_ok(const char *s, size_t len, int newline)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c == '\n' && newline)
            continue;
        if (c < 0x20 && c != '\t')
            return 0;
        if (c == 0x7f)
            return 0;
    }
    return 1;
}

int model_add_provenance(Model *m, const char *key, const char *value)
{
    size_t old = m->provenance ? strlen(m->provenance) : 0;
    size_t add = strlen(key) + strlen(value) + 2;
    int ret;

    if (!key_ok(key) || !text_ok(value, strlen(value), 0))
        return AVERROR(EINVAL);
    if (old + add > MODEL_TEXT_MAX)
        return AVERROR(EINVAL);
    if ((ret = av_reallocp(&m->provenance, old + add + 1)) < 0)
        return ret;
    snprintf(m->provenance + old, add + 1, "%s=%s\n", key, value);
    return 0;
}

int model_get_provenance(const Model *m, const char *key, char *buf, int size)
{
    size_t klen = strlen(key);

    for (const char *p = m->provenance; p && *p;) {
        const char *end = strchr(p, '\n');
        if (!end)
            end = p + strlen(p);
        if ((size_t)(end - p) > klen && !strncmp(p, key, klen) && p[klen] == '=') {
            int len = end - p - klen - 1;
            snprintf(buf, size, "%.*s", len, p + klen + 1);
            return len;
        }
        p = *end ? end + 1 : end;
    }
    return AVERROR(ENOENT);
}

static uint32_t crc32_ieee(const uint8_t *buf, size_t len)
{
    /* zlib's crc32(): reflected IEEE polynomial, ~0 in and out */
    return av_crc(av_crc_get_table(AV_CRC_32_IEEE_LE), UINT32_MAX, buf, len) ^ UINT32_MAX;
}

int model_save(const Model *m, const char *path, void *logctx)
{
    size_t tlen = m->provenance ? strlen(m->provenance) : 0, size = MODEL_FILE_SIZE(tlen), off;
    const float *w = lstm_params_const(m->lstm);
    char *tmp = NULL;
    uint8_t *buf = NULL;
    FILE *f = NULL;
    int ret = 0;

    logctx = log_ctx(logctx);
    if (tlen > MODEL_TEXT_MAX) {
        av_log(logctx, AV_LOG_ERROR, "%s: provenance text of %zu bytes, at most %d\n",
               path, tlen, MODEL_TEXT_MAX);
        return AVERROR(EINVAL);
    }
    if (!(buf = av_mallocz(size)) || !(tmp = av_asprintf("%s.tmp", path))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    AV_WL32(buf + 0, MODEL_MAGIC);
    AV_WL32(buf + 4, MODEL_VERSION);
    AV_WL32(buf + 8, LSTM_F);
    AV_WL32(buf + 12, LSTM_H);
    AV_WL32(buf + 16, LSTM_LAYERS);
    AV_WL32(buf + 20, LSTM_NUM_PARAMS);
    AV_WL32(buf + 24, m->horizon_s);
    AV_WL32(buf + 28, MODEL_NAME_SIZE);
    AV_WL32(buf + 32, tlen);
    off = HEADER_BYTES;
    for (int k = 0; k < LSTM_F; k++, off += MODEL_NAME_SIZE)
        memcpy(buf + off, m->feature[k], strnlen(m->feature[k], MODEL_NAME_SIZE - 1));
    for (int k = 0; k < LSTM_F; k++, off += 4)
        AV_WL32(buf + off, av_float2int(m->mean[k]));
    for (int k = 0; k < LSTM_F; k++, off += 4)
        AV_WL32(buf + off, av_float2int(m->std[k]));
    AV_WL32(buf + off, av_float2int(m->thr_high));
    AV_WL32(buf + off + 4, av_float2int(m->thr_low));
    AV_WL32(buf + off + 8, av_float2int(m->anomaly_weight));
    off += 16;
    if (tlen)
        memcpy(buf + off, m->provenance, tlen);
    off += tlen;
    for (int i = 0; i < LSTM_NUM_PARAMS; i++, off += 4)
        AV_WL32(buf + off, av_float2int(w[i]));
    AV_WL32(buf + off, crc32_ieee(buf, off));

    if (!(f = fopen(tmp, "wb"))) {
        ret = AVERROR(errno);
        av_log(logctx, AV_LOG_ERROR, "%s: cannot create: %s\n", tmp, av_err2str(ret));
        goto end;
    }
    if (fwrite(buf, 1, size, f) != size) {
        ret = AVERROR(errno ? errno : EIO);
        fclose(f);
        goto write_err;
    }
    if (fclose(f)) {
        ret = AVERROR(errno);
        goto write_err;
    }
    if (rename(tmp, path)) {
        ret = AVERROR(errno);
        goto write_err;
    }
    goto end;
write_err:
    av_log(logctx, AV_LOG_ERROR, "%s: cannot write: %s\n", path, av_err2str(ret));
    unlink(tmp);
end:
    av_free(tmp);
    av_free(buf);
    return ret;
}

/* Logs "NAME: WHAT" and a HINT line, returns AVERROR_INVALIDDATA. */
static int bad(void *logctx, const char *name, const char *hint, const char *fmt, ...)
    av_printf_format(4, 5);

static int bad(void *logctx, const char *name, const char *hint, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    av_log(logctx, AV_LOG_ERROR, "model file %s: %s\n", name, what);
    av_log(logctx, AV_LOG_ERROR, "HINT: %s\n", hint);
    return AVERROR_INVALIDDATA;
}

#define HINT_RETRAIN "retrain it with 'hotspare train' for this build, or use a model " \
                     "shipped with this version in models/"
#define HINT_DAMAGED "the file is damaged (a partial copy or download?): copy it again " \
                     "or retrain it with 'hotspare train'"

int model_parse(const uint8_t *buf, size_t size, const char *name, Model **pm, void *logctx)
{
    static const struct { const char *what; int expect; } sizes[] = {
        { "inputs F", LSTM_F }, { "hidden H", LSTM_H }, { "layers", LSTM_LAYERS },
        { "parameters", LSTM_NUM_PARAMS }, { "feature name size", MODEL_NAME_SIZE },
    };
    static const int size_at[] = { 8, 12, 16, 20, 28 };
    Model *m = NULL;
    size_t off, tlen, expect;
    uint32_t crc, stored;
    float *w;
    int ret;

    *pm = NULL;
    logctx = log_ctx(logctx);
    if (size < 8)
        return bad(logctx, name, HINT_DAMAGED, "truncated: %zu bytes, not even a header "
                   "(expected %d bytes of header)", size, HEADER_BYTES);
    if (AV_RL32(buf) != MODEL_MAGIC)
        return bad(logctx, name, "this is not a hotspare model (*.hsm); check the path",
                   "wrong magic: expected 0x%08X (\"HSPM\"), found 0x%08X",
                   MODEL_MAGIC, AV_RL32(buf));
    if (AV_RL32(buf + 4) != MODEL_VERSION)
        return bad(logctx, name, AV_RL32(buf + 4) > MODEL_VERSION ?
                   "the model was written by a newer hotspare: upgrade, or retrain it "
                   "with 'hotspare train'" : HINT_RETRAIN,
                   "format version %u, this hotspare reads version %d",
                   AV_RL32(buf + 4), MODEL_VERSION);
    if (size < HEADER_BYTES)
        return bad(logctx, name, HINT_DAMAGED, "truncated: %zu bytes, the header alone is %d",
                   size, HEADER_BYTES);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        int32_t found = (int32_t)AV_RL32(buf + size_at[i]);
        if (found != sizes[i].expect)
            return bad(logctx, name, HINT_RETRAIN, "built for other sizes: %s expected %d "
                       "(src/lstm.h), found %d", sizes[i].what, sizes[i].expect, found);
    }
    for (int i = 9; i < MODEL_HEADER_INTS; i++)
        if (AV_RL32(buf + 4 * i))
            return bad(logctx, name, HINT_DAMAGED, "reserved header word %d is 0x%08X, "
                       "expected 0", i, AV_RL32(buf + 4 * i));
    tlen = AV_RL32(buf + 32);
    if (tlen > MODEL_TEXT_MAX)
        return bad(logctx, name, HINT_DAMAGED, "provenance text of %zu bytes, at most %d",
                   tlen, MODEL_TEXT_MAX);
    expect = MODEL_FILE_SIZE(tlen);
    if (size < expect)
        return bad(logctx, name, HINT_DAMAGED, "truncated: expected %zu bytes, found %zu",
                   expect, size);
    if (size > expect)
        return bad(logctx, name, HINT_DAMAGED, "%zu bytes after the end: expected %zu bytes, "
                   "found %zu", size - expect, expect, size);
    stored = AV_RL32(buf + expect - 4);
    crc = crc32_ieee(buf, expect - 4);
    if (crc != stored)
        return bad(logctx, name, HINT_DAMAGED, "corrupted: CRC-32 expected 0x%08X (stored), "
                   "computed 0x%08X", stored, crc);

    /* the bytes are what was written; now whether what was written makes sense */
    if ((ret = model_alloc(&m, 0)) < 0)
        return ret;
    m->horizon_s = (int32_t)AV_RL32(buf + 24);
    if (m->horizon_s <= 0) {
        ret = bad(logctx, name, HINT_RETRAIN, "horizon %d s, expected > 0", m->horizon_s);
        goto fail;
    }
    off = HEADER_BYTES;
    for (int k = 0; k < LSTM_F; k++, off += MODEL_NAME_SIZE) {
        const char *s = (const char *)buf + off;
        size_t len = strnlen(s, MODEL_NAME_SIZE);
        if (!len || len == MODEL_NAME_SIZE || !text_ok(s, len, 0)) {
            ret = bad(logctx, name, HINT_RETRAIN, "feature name %d is %s", k,
                      !len ? "empty" : len == MODEL_NAME_SIZE ? "not NUL-terminated" :
                      "not printable");
            goto fail;
        }
        for (size_t i = len; i < MODEL_NAME_SIZE; i++)
            if (s[i]) {
                ret = bad(logctx, name, HINT_RETRAIN, "feature name %d: bytes after its end", k);
                goto fail;
            }
        memcpy(m->feature[k], s, len + 1);
    }
    for (int k = 0; k < LSTM_F; k++) {
        m->mean[k] = av_int2float(AV_RL32(buf + off + 4 * k));
        m->std[k] = av_int2float(AV_RL32(buf + off + 4 * (LSTM_F + k)));
        if (!isfinite(m->mean[k]) || !isfinite(m->std[k]) || !(m->std[k] > 0)) {
            ret = bad(logctx, name, HINT_RETRAIN, "normalisation of feature %d (%s): mean %g, "
                      "std %g; expected finite values and std > 0", k, m->feature[k],
                      m->mean[k], m->std[k]);
            goto fail;
        }
    }
    off += 8 * LSTM_F;
    m->thr_high = av_int2float(AV_RL32(buf + off));
    m->thr_low = av_int2float(AV_RL32(buf + off + 4));
    m->anomaly_weight = av_int2float(AV_RL32(buf + off + 8));
    if (!(m->thr_high >= 0 && m->thr_high <= 1) || !(m->thr_low >= 0 && m->thr_low <= m->thr_high) ||
        !(m->anomaly_weight >= 0 && m->anomaly_weight <= 1) || AV_RL32(buf + off + 12)) {
        ret = bad(logctx, name, HINT_RETRAIN, "thresholds high %g, low %g, anomaly weight %g: expected "
                  "0 <= low <= high <= 1 and 0 <= anomaly weight <= 1", m->thr_high, m->thr_low,
                  m->anomaly_weight);
        goto fail;
    }
    off += 16;
    if (tlen) {
        if (memchr(buf + off, 0, tlen) || !text_ok((const char *)buf + off, tlen, 1)) {
            ret = bad(logctx, name, HINT_RETRAIN, "the provenance text is not printable");
            goto fail;
        }
        if (!(m->provenance = av_malloc(tlen + 1))) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        memcpy(m->provenance, buf + off, tlen);
        m->provenance[tlen] = 0;
    }
    off += tlen;
    w = lstm_params(m->lstm);
    for (int i = 0; i < LSTM_NUM_PARAMS; i++, off += 4) {
        w[i] = av_int2float(AV_RL32(buf + off));
        if (!isfinite(w[i])) {
            ret = bad(logctx, name, HINT_RETRAIN, "weight %d is %g, expected a finite number",
                      i, w[i]);
            goto fail;
        }
    }
    lstm_reset_optimizer(m->lstm);
    *pm = m;
    return 0;
fail:
    model_free(&m);
    return ret;
}

int model_load(const char *path, Model **pm, void *logctx)
{
    uint8_t *buf = NULL;
    size_t n;
    FILE *f;
    int ret;

    *pm = NULL;
    logctx = log_ctx(logctx);
    if (!(f = fopen(path, "rb"))) {
        ret = AVERROR(errno);
        av_log(logctx, AV_LOG_ERROR, "model file %s: cannot open: %s\n", path, av_err2str(ret));
        av_log(logctx, AV_LOG_ERROR, "HINT: check the path; hotspare runs without prediction "
               "until a model loads\n");
        return ret;
    }
    /* one byte more than the largest valid file tells "too long" apart */
    if (!(buf = av_malloc(MAX_FILE + 1))) {
        fclose(f);
        return AVERROR(ENOMEM);
    }
    n = fread(buf, 1, MAX_FILE + 1, f);
    if (ferror(f)) {
        ret = AVERROR(EIO);
        av_log(logctx, AV_LOG_ERROR, "model file %s: read error\n", path);
    } else if (n > MAX_FILE) {
        ret = bad(logctx, path, "this is not a hotspare model (*.hsm); check the path",
                  "larger than any model file (%d bytes at most)", MAX_FILE);
    } else {
        ret = model_parse(buf, n, path, pm, logctx);
    }
    fclose(f);
    av_free(buf);
    return ret;
}
