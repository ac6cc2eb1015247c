/*
 * model.h: hotspare's model files (models/NAME.hsm): one trained LSTM
 * (lstm.h) with everything needed to use it and to know where it came from.
 *
 * Format, version 1. All integers are int32 and all floats float32, little
 * endian; offsets in bytes; F, H and P are LSTM_F, LSTM_H, LSTM_NUM_PARAMS.
 *
 *   0        header, 64 int32:
 *              [0] magic 0x4D505348 (the bytes "HSPM")
 *              [1] format version (1)
 *              [2] F inputs   [3] H hidden   [4] layers   [5] P parameters
 *              [6] horizon in seconds (> 0): the failure head predicts a
 *                  failure within this time
 *              [7] MODEL_NAME_SIZE (32)
 *              [8] T, the length of the provenance text (0..MODEL_TEXT_MAX)
 *              [9..63] reserved, zero
 *   256      feature names: F x 32 bytes, ASCII, NUL-padded, in input order
 *   256+32F  normalisation: mean[F], then std[F] (> 0): input k is fed to
 *            the LSTM as (raw_k - mean[k]) / std[k]
 *   +8F      thresholds[4]: provision above, release below (on the risk,
 *            in [0,1]), the anomaly weight w (predictor.h: risk =
 *            1 - (1 - p_fail)(1 - w * anomaly), in [0,1]), reserved (0)
 *   +16      provenance: T bytes of "key=value\n" lines (printable, UTF-8):
 *            data description, date, evaluation figures, ...
 *   +T       weights: P float32 in lstm.h's order (wx, wh, b, wp, bp, wf, bf)
 *   +4P      CRC-32 of every byte before it (zlib's crc32, IEEE polynomial)
 *
 * The loader checks the header against the compiled sizes, the exact file
 * size, the CRC, and the values (finite weights, positive std, thresholds in
 * range, printable text), and refuses anything else with a message naming
 * the file, what was expected and what was found, and a HINT line. Any
 * change of layout bumps MODEL_VERSION.
 */
#ifndef HS_MODEL_H
#define HS_MODEL_H

#include <stdint.h>

#include "pfm/lstm.h"

#define MODEL_MAGIC       0x4D505348
#define MODEL_VERSION     1
#define MODEL_HEADER_INTS 64
#define MODEL_NAME_SIZE   32
#define MODEL_TEXT_MAX    65536

/* The size of a version-1 file whose provenance text is text_len bytes. */
#define MODEL_FILE_SIZE(text_len) (MODEL_HEADER_INTS * 4 + LSTM_F * MODEL_NAME_SIZE + \
                                   8 * LSTM_F + 16 + (text_len) + 4 * LSTM_NUM_PARAMS + 4)

typedef struct Model {
    Lstm *lstm;
    char feature[LSTM_F][MODEL_NAME_SIZE];  /* NUL-terminated, non-empty */
    float mean[LSTM_F], std[LSTM_F];
    int horizon_s;
    float thr_high, thr_low;     /* on the risk: provision, release; a
                                    thr_high of 1 never fires */
    float anomaly_weight;        /* how much the unsupervised head adds to the risk */
    char *provenance;            /* "key=value\n" lines; NULL = none */
} Model;

/* A model with a freshly initialised LSTM (seed), features named f0..f15,
 * identity normalisation, horizon 60 s, thresholds 0.5/0.3, anomaly
 * weight 0.5. */
int model_alloc(Model **pm, uint64_t seed);
void model_free(Model **pm);

/* Appends "key=value\n" to the provenance. The key is [A-Za-z0-9_.-]+, the
 * value printable without newlines. Returns 0 or AVERROR(EINVAL/ENOMEM). */
int model_add_provenance(Model *m, const char *key, const char *value);

/* Copies the value of key into buf; returns its length or AVERROR(ENOENT). */
int model_get_provenance(const Model *m, const char *key, char *buf, int size);

/* Writes path (through path.tmp and a rename, so a crash never leaves half a
 * file). Returns 0 or a negative AVERROR, logged to logctx (may be NULL). */
int model_save(const Model *m, const char *path, void *logctx);

/* Loads and checks path. On error *pm is NULL and the reason, with a HINT,
 * is logged to logctx (may be NULL); the return is AVERROR_INVALIDDATA for a
 * bad file, or the open/read error. */
int model_load(const char *path, Model **pm, void *logctx);

/* The same checks on a file image in memory (name is used in messages). */
int model_parse(const uint8_t *buf, size_t size, const char *name, Model **pm, void *logctx);

#endif
