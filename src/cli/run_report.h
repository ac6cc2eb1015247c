/*
 * run_report.h: what a run did, as one JSON document written at its end
 * (hotspare run --report FILE): per stream, whether it failed, and per
 * output the frames of its timeline written and lost, switches and
 * errors. `hotspare drill` reads it to judge frames_lost; scripts may too.
 */
#ifndef HS_RUN_REPORT_H
#define HS_RUN_REPORT_H

#include <stdint.h>

#include "ecg/ecg.h"

/* Writes the report of g's streams (joined, not freed) to path, replacing
 * it whole (written to path.tmp, then renamed). exit_code: the run's.
 * Returns 0 or a negative AVERROR; the reason is logged. */
int run_report_write(const char *path, Ecg *g, const char *job_path, int exit_code,
                     int64_t elapsed_us);

#endif
