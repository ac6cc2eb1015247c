/*
 * main.c: the hotspare command line: global options, then one subcommand
 * from cmd_table (cmd.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>

#include "cli/cmd.h"
#include "config.h"
#include "core/log.h"
#include "pfm/lstm.h"

static void print_version(void)
{
    printf("hotspare %s\n", HS_VERSION);
    printf("libavformat %s, libavcodec %s, libavfilter %s, libavutil %s\n",
           AV_STRINGIFY(LIBAVFORMAT_VERSION), AV_STRINGIFY(LIBAVCODEC_VERSION),
           AV_STRINGIFY(LIBAVFILTER_VERSION), AV_STRINGIFY(LIBAVUTIL_VERSION));
    printf("lstm step: %s (HOTSPARE_SIMD=baseline|avx2|auto)\n", lstm_simd_name(lstm_simd()));
}

static void print_help(void)
{
    printf("usage: hotspare [-v LEVEL] COMMAND [ARGS]\n\n"
           "A supervisor for live video encoding: runs the streams of a YAML job\n"
           "through libav and keeps them on air when components fail.\n\n"
           "Commands:\n");
    for (int i = 0; cmd_table[i]; i++)
        printf("  %-8s %s\n", cmd_table[i]->name, cmd_table[i]->summary);
    printf("\nOptions:\n"
           "  -v, --verbosity LEVEL  quiet, panic, fatal, error, warning, info (default),\n"
           "                         verbose, debug, trace\n"
           "  -h, --help             this text; 'hotspare COMMAND --help' for a command\n"
           "  -V, --version          versions of hotspare and of the libav it runs on\n\n"
           "Exit status: 0 ok, 1 a stream failed for good, 2 usage or job error,\n"
           "255 stopped by a signal.\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        { "version", no_argument, 0, 'V' },
        { 0, 0, 0, 0 },
    };
    int c;

    log_init(AV_LOG_INFO);
    log_set_component("main");
    avdevice_register_all();

    /* '+': stop at the command; its own options follow it */
    while ((c = getopt_long(argc, argv, "+" CMD_COMMON_SHORTOPTS "V", longopts, NULL)) != -1) {
        int r;
        switch (c) {
        case 'h':
            print_help();
            return HS_EXIT_OK;
        case 'V':
            print_version();
            return HS_EXIT_OK;
        default:
            r = cmd_common_option(c, optarg);
            if (r > 0)
                break;
            if (r == 0)
                fprintf(stderr, "usage: hotspare [-v LEVEL] COMMAND [ARGS] (hotspare --help)\n");
            return HS_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        print_help();
        return HS_EXIT_USAGE;
    }
    for (int i = 0; cmd_table[i]; i++) {
        if (!strcmp(argv[optind], cmd_table[i]->name)) {
            char **cargv = argv + optind;
            int cargc = argc - optind;
            optind = 0; /* restart getopt for the command's options */
            return cmd_table[i]->exec(cargc, cargv);
        }
    }
    fprintf(stderr, "hotspare: unknown command '%s' (hotspare --help lists them)\n", argv[optind]);
    return HS_EXIT_USAGE;
}
