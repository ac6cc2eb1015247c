/*
 * cmd.c: the table of subcommands and the options they share.
 */
#include <stdarg.h>
#include <stdio.h>

#include <libavutil/error.h>

#include "cli/cmd.h"
#include "core/log.h"

const CmdEntry *const cmd_table[] = {
    &cmd_run_entry,
    &cmd_check_entry,
    &cmd_drill_entry,
    &cmd_ctl_entry,
    &cmd_graph_entry,
    &cmd_hds_entry,
    &cmd_nab_entry,
    &cmd_train_entry,
    &cmd_eval_entry,
    NULL,
};

int cmd_common_option(int c, const char *arg)
{
    int level;

    switch (c) {
    case 'v':
        level = log_parse_level(arg);
        if (level == LOG_LEVEL_INVALID) {
            fprintf(stderr, "hotspare: unknown log level '%s' "
                    "(quiet, panic, fatal, error, warning, info, verbose, debug, trace)\n", arg);
            return -1;
        }
        av_log_set_level(level);
        return 1;
    default:
        return 0;
    }
}

void cmd_print_help(const CmdEntry *e)
{
    printf("usage: hotspare %s %s\n\n%s\n", e->name, e->usage, e->summary);
    if (e->help && *e->help)
        printf("\n%s", e->help);
    printf("\nCommon options:\n"
           "  -v, --verbosity LEVEL  quiet, panic, fatal, error, warning, info (default),\n"
           "                         verbose, debug, trace; libav's own log included\n"
           "  -h, --help             this text\n");
}

int cmd_load_job(const char *path, Job **job)
{
    JobDiag diag = { 0 };
    int ret = job_load(path, job, &diag);

    for (int m = 0; m < diag.nb_msgs; m++)
        fprintf(stderr, "%s\n", diag.msgs[m]);
    if (ret < 0 && !diag.nb_msgs)
        fprintf(stderr, "%s: %s\n", path, av_err2str(ret));
    job_diag_free(&diag);
    return ret < 0 ? HS_EXIT_USAGE : 0;
}

int cmd_usage_error(const CmdEntry *e, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "hotspare %s: ", e->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: hotspare %s %s (hotspare %s --help)\n", e->name, e->usage, e->name);
    return HS_EXIT_USAGE;
}
