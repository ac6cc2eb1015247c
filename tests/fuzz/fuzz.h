/*
 * fuzz.h: what every fuzz target (tests/fuzz/fuzz_NAME.c) defines:
 * libFuzzer's two entry points. `make fuzz` links each target with clang's
 * libFuzzer and sanitizers (build/fuzz/); `make check` links the same file
 * with replay.c and gcc against the normal library, to replay the
 * committed corpus (tests/fuzz/corpus/NAME/) as a regression test.
 *
 * A target must not keep state between inputs beyond what Initialize sets
 * up, and frees all it allocates (LeakSanitizer counts a leak as a crash).
 */
#ifndef HS_FUZZ_H
#define HS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Once, before the first input: quiets the log (a message per input
 * would be most of the time spent). Returns 0. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* One input; returns 0 (libFuzzer's contract: other values are reserved). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
