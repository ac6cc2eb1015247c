/*
 * cmd_run.c: "hotspare run JOB.yaml". Placeholder until the data plane lands.
 */
#include "cmd.h"

static int run_exec(int argc, char **argv)
{
    return cmd_usage_error(&cmd_run_entry, "not implemented yet");
}

const CmdEntry cmd_run_entry = {
    .name    = "run",
    .usage   = "[--progress FILE|-] JOB.yaml",
    .summary = "run a job until its streams end, its duration passes, or SIGINT/SIGTERM",
    .exec    = run_exec,
};
