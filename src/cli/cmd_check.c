/*
 * cmd_check.c: "hotspare check JOB.yaml", validates a job without running it
 * (like nginx -t): exit 0, or 2 with every problem listed.
 */
#include <getopt.h>
#include <stdio.h>

#include <libavutil/error.h>

#include "cli/cmd.h"
#include "job/job.h"

static int check_exec(int argc, char **argv)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        { 0, 0, 0, 0 },
    };
    int c, ret, status = HS_EXIT_OK;

    while ((c = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
        if (c == 'h') {
            cmd_print_help(&cmd_check_entry);
            return HS_EXIT_OK;
        }
        if (cmd_common_option(c, optarg) <= 0)
            return cmd_usage_error(&cmd_check_entry, "bad option");
    }
    if (optind >= argc)
        return cmd_usage_error(&cmd_check_entry, "no job file given");

    for (int i = optind; i < argc; i++) {
        JobDiag diag = { 0 };
        Job *job = NULL;

        ret = job_load(argv[i], &job, &diag);
        for (int m = 0; m < diag.nb_msgs; m++)
            fprintf(stderr, "%s\n", diag.msgs[m]);
        if (ret < 0) {
            if (!diag.nb_msgs)
                fprintf(stderr, "%s: %s\n", argv[i], av_err2str(ret));
            fprintf(stderr, "%s: %d problem%s, job not valid\n", argv[i],
                    diag.nb_msgs, diag.nb_msgs == 1 ? "" : "s");
            status = HS_EXIT_USAGE;
        } else if (!job->nb_streams) {
            printf("%s: ok (a fleet node: its streams are the ones placed on the fleet)\n",
                   argv[i]);
        } else {
            printf("%s: ok (%d stream%s)\n", argv[i], job->nb_streams,
                   job->nb_streams == 1 ? "" : "s");
        }
        job_free(&job);
        job_diag_free(&diag);
    }
    return status;
}

const CmdEntry cmd_check_entry = {
    .name    = "check",
    .usage   = "JOB.yaml [JOB.yaml ...]",
    .summary = "validate job files without running them (exit 0, or 2 with every problem)",
    .help    = "Reports each problem as file:line:column: message, all of them in one run.\n",
    .exec    = check_exec,
};
