/*
 * tests/stubs/libnvidia-ml-old.c: the scripted NVML stub as an old driver
 * exports it: only the unversioned names (nvmlInit, nvmlDeviceGetCount,
 * nvmlDeviceGetPciInfo with the 16-byte busId, nvmlEventSetWait with the
 * 24-byte event data, nvmlDeviceGetCurrentClocksThrottleReasons) and none
 * of the optional encoder, memory v2 or event-type symbols. The agent must
 * fall back to these names and leave the missing metrics absent.
 */
#define STUB_OLD_API 1
#include "libnvidia-ml.c"
