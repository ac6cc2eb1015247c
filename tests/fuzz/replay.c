/*
 * replay.c: main() for a fuzz target built without libFuzzer: calls
 * LLVMFuzzerTestOneInput once per file named, or per file in each
 * directory named (in name order), as libFuzzer does when it is given
 * files. `make check` runs the committed corpus through it
 * (tests/integration/t_fuzz_corpus.sh): a crash, a sanitizer report (in
 * an --enable-asan build) or a hang fails the test.
 *
 *   tests/fuzz/replay_NAME FILE|DIR...
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

/* Reads path whole; NULL (and a message) when it cannot. The caller frees. */
static uint8_t *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            uint8_t *p = realloc(buf, cap = cap ? 2 * cap : 65536);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (!got)
            break;
    }
    fclose(f);
    *size = n;
    return buf;
}

static int replay_file(const char *path)
{
    size_t size = 0;
    uint8_t *buf = read_all(path, &size);

    if (!buf)
        return -1;
    /* a copy of exactly size bytes, so that an over-read shows under ASan */
    uint8_t *exact = malloc(size ? size : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, size);
    free(buf);
    LLVMFuzzerTestOneInput(exact, size);
    free(exact);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    int files = 0, errors = 0;

    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) < 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            errors++;
            continue;
        }
        if (!S_ISDIR(sb.st_mode)) {
            errors += replay_file(argv[i]) < 0;
            files++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *de;
        char **names = NULL;
        size_t nb = 0, cap = 0;
        while (d && (de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            if (nb == cap) {
                char **p = realloc(names, (cap = cap ? 2 * cap : 256) * sizeof(*names));
                if (!p)
                    break;
                names = p;
            }
            if (asprintf(&names[nb], "%s/%s", argv[i], de->d_name) < 0)
                break;
            nb++;
        }
        if (d)
            closedir(d);
        qsort(names, nb, sizeof(*names), by_name);
        for (size_t k = 0; k < nb; k++) {
            errors += replay_file(names[k]) < 0;
            files++;
            free(names[k]);
        }
        free(names);
    }
    printf("replayed %d inputs%s\n", files, errors ? ", some could not be read" : "");
    return errors ? 1 : 0;
}
