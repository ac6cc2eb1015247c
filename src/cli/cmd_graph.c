/*
 * cmd_graph.c: "hotspare graph JOB.yaml [--format dot|json]": the chain of
 * a job file, every stream's components and who feeds whom, without
 * running it (ecg_alloc_static). Names only: no URL, no key.
 *
 *   hotspare graph news.yaml | dot -Tsvg > news.svg
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/bprint.h>
#include <libavutil/error.h>

#include "cli/cmd.h"
#include "ecg/ecg.h"
#include "job/job.h"

static int graph_exec(int argc, char **argv)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        { "format", required_argument, 0, 'f' },
        { 0, 0, 0, 0 },
    };
    const char *format = "dot";
    Job *job = NULL;
    Ecg *g = NULL;
    AVBPrint bp;
    int c, ret;

    while ((c = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS "f:", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cmd_print_help(&cmd_graph_entry);
            return HS_EXIT_OK;
        case 'f':
            format = optarg;
            break;
        default:
            if (cmd_common_option(c, optarg) <= 0)
                return cmd_usage_error(&cmd_graph_entry, "bad option");
        }
    }
    if (strcmp(format, "dot") && strcmp(format, "json"))
        return cmd_usage_error(&cmd_graph_entry, "--format is dot or json, not '%s'", format);
    if (optind != argc - 1)
        return cmd_usage_error(&cmd_graph_entry, optind >= argc ? "no job file given" :
                               "one job file at a time");

    if ((ret = cmd_load_job(argv[optind], &job)))
        return ret;
    if ((ret = ecg_alloc_static(&g, job)) < 0) {
        fprintf(stderr, "hotspare graph: %s\n", av_err2str(ret));
        job_free(&job);
        return HS_EXIT_FAILED;
    }
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    ret = ecg_describe(g, !strcmp(format, "json"), &bp);
    if (ret >= 0)
        fputs(bp.str, stdout);
    else
        fprintf(stderr, "hotspare graph: %s\n", av_err2str(ret));
    av_bprint_finalize(&bp, NULL);
    ecg_free(&g);
    job_free(&job);
    return ret < 0 ? HS_EXIT_FAILED : HS_EXIT_OK;
}

const CmdEntry cmd_graph_entry = {
    .name    = "graph",
    .usage   = "JOB.yaml [--format dot|json]",
    .summary = "print the chain of a job file (components, who feeds whom) without running it",
    .help    = "Options:\n"
               "  --format dot|json   Graphviz DOT (default: hotspare graph JOB.yaml | dot -Tsvg)\n"
               "                      or JSON {\"nodes\": [...], \"edges\": [...]}\n\n"
               "Components are named as events and hotspare ctl name them; no URL or key is\n"
               "printed. Exit status: 0, or 2 when the job file is not valid.\n",
    .exec    = graph_exec,
};
