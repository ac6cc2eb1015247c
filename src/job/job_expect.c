/*
 * job_expect.c: a drill's expect: block (README "Drills"), at the top of
 * the job (the defaults of every stream) and in a stream (its own, key by
 * key). Only hotspare drill reads it; check validates it like every key.
 */
#include <stdint.h>

#include "job/job_int.h"

static const char *const expect_keys[] = {
    "frames_lost", "switch_within", "detect_within", "exit", NULL,
};

/* The exit statuses a run can have (README "Exit status"). */
static int exit_status_valid(int64_t v)
{
    return v == 0 || v == 1 || v == 2 || v == 255;
}

void jx_load_expect(Loader *ld, const yaml_node_t *map, int job_wide, JobExpect *e)
{
    yaml_node_t *x, *n;
    int64_t v;

    if (!(x = jy_map_get(ld, map, "expect")))
        return;
    if (x->type != YAML_MAPPING_NODE) {
        jy_wrong_type(ld, x, "expect", "a mapping (frames_lost, switch_within, "
                      "detect_within, exit)");
        return;
    }
    e->loc = (JobLoc){ x->start_mark.line + 1, x->start_mark.column + 1 };
    jy_check_keys(ld, x, "expect", expect_keys);
    /* a count of frames: INT32_MAX is "any", far beyond a drill's length */
    if (jy_get_int(ld, x, "frames_lost", 0, INT32_MAX, &v) > 0)
        e->frames_lost = v;
    jy_get_duration(ld, x, "switch_within", 0, &e->switch_within_us);
    jy_get_duration(ld, x, "detect_within", 0, &e->detect_within_us);
    if ((n = jy_map_get(ld, x, "exit"))) {
        /* one process, one status: a stream cannot expect its own */
        if (!job_wide)
            report(ld, n, "'exit' is the run's: write it in the job's expect:, not a stream's");
        else if (jy_get_int(ld, x, "exit", 0, 255, &v) > 0) {
            if (exit_status_valid(v))
                e->exit = (int)v;
            else
                report(ld, n, "'exit' must be 0, 1, 2 or 255 (README \"Exit status\"), got %s",
                       TEXT(n));
        }
    }
}
