/*
 * job.c: YAML job file -> validated Job. Placeholder until the parser lands:
 * every load fails with ENOSYS.
 */
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "job.h"

int job_load(const char *path, Job **job, JobDiag *diag)
{
    *job = NULL;
    return AVERROR(ENOSYS);
}

void job_free(Job **job)
{
    av_freep(job);
}

void job_diag_free(JobDiag *diag)
{
}

int job_format_max_video(const char *format)
{
    return 1;
}
