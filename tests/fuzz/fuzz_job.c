/*
 * fuzz_job.c: the job loader (job_load_buffer) on any bytes: the limits on
 * the text, libyaml, the schema walk and the checks against libav. Every
 * input must end in a Job or in problems, never a crash, a leak or a
 * hang; what was loaded is freed.
 */
#include <libavutil/log.h>

#include "job/job.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    av_log_set_level(AV_LOG_QUIET);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    JobDiag diag = { 0 };
    Job *job = NULL;

    job_load_buffer("fuzz.yaml", data, size, &job, &diag);
    job_free(&job);
    job_diag_free(&diag);
    return 0;
}
