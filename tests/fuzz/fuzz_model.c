/*
 * fuzz_model.c: the model loader (model_parse) on any bytes. A file whose
 * CRC-32 does not match is refused before its values are read, and a
 * fuzzer seldom makes a matching CRC: every input is therefore parsed
 * twice, as it is, and with its last 4 bytes replaced by the CRC of the
 * rest, which reaches the checks of the header's values, the feature
 * names, the normalisation, the thresholds, the text and the weights.
 */
#include <stdlib.h>
#include <string.h>

#include <libavutil/crc.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/log.h>

#include "pfm/model.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    av_log_set_level(AV_LOG_QUIET);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Model *m = NULL;
    uint8_t *fixed;

    model_parse(data, size, "fuzz.hsm", &m, NULL);
    model_free(&m);
    if (size < 8 || !(fixed = malloc(size)))
        return 0;
    memcpy(fixed, data, size);
    AV_WL32(fixed + size - 4, av_crc(av_crc_get_table(AV_CRC_32_IEEE_LE), UINT32_MAX,
                                     fixed, size - 4) ^ UINT32_MAX);
    model_parse(fixed, size, "fuzz.hsm", &m, NULL);
    if (m) {
        char buf[64];
        model_get_provenance(m, "trained", buf, sizeof(buf));
    }
    model_free(&m);
    free(fixed);
    return 0;
}
