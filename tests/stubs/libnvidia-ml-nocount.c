/*
 * tests/stubs/libnvidia-ml-nocount.c: the scripted NVML stub without
 * nvmlDeviceGetCount_v2 or nvmlDeviceGetCount, a required symbol: the agent
 * must disable itself and name the symbol.
 */
#define STUB_NO_COUNT 1
#include "libnvidia-ml.c"
