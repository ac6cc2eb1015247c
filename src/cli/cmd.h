/*
 * cmd.h: the hotspare subcommands (tmux's cmd-*.c pattern).
 *
 * One file per command, src/cmd_NAME.c, exporting one CmdEntry; cmd.c lists
 * them in cmd_table. exec() gets argv with argv[0] = the command's name and
 * returns the process exit status (HS_EXIT_*).
 */
#ifndef HS_CMD_H
#define HS_CMD_H

#include "job/job.h"

/* Exit statuses, documented in the README. */
#define HS_EXIT_OK            0    /* everything ran and ended normally */
#define HS_EXIT_FAILED        1    /* a stream failed for good */
#define HS_EXIT_USAGE         2    /* bad command line or bad job file */
#define HS_EXIT_SIGNAL      255    /* stopped by SIGINT/SIGTERM */

typedef struct CmdEntry {
    const char *name;
    const char *usage;             /* arguments, for "usage: hotspare NAME ..." */
    const char *summary;           /* one line for --help */
    const char *help;              /* the options, for "hotspare NAME --help" */
    int (*exec)(int argc, char **argv);
} CmdEntry;

extern const CmdEntry *const cmd_table[];

/* Options every command takes; returns 1 when c was one of them (and applied
 * it), 0 when not, -1 on a bad value (already reported). */
int cmd_common_option(int c, const char *arg);

/* getopt_long entries and short letters of cmd_common_option. */
#define CMD_COMMON_SHORTOPTS "v:h"
#define CMD_COMMON_LONGOPTS \
    { "verbosity", required_argument, 0, 'v' }, \
    { "help",      no_argument,       0, 'h' }

/* Prints "usage: hotspare NAME USAGE" and the command's help to stdout. */
void cmd_print_help(const CmdEntry *e);

/* Loads the job file a command runs on, printing its problems on stderr
 * (file:line:col: message). Returns 0 and *job (the caller frees it with
 * job_free), or HS_EXIT_USAGE. */
int cmd_load_job(const char *path, Job **job);

/* Reports a usage error and returns HS_EXIT_USAGE. */
int cmd_usage_error(const CmdEntry *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The commands. */
extern const CmdEntry cmd_run_entry;
extern const CmdEntry cmd_check_entry;
extern const CmdEntry cmd_drill_entry;
extern const CmdEntry cmd_ctl_entry;
extern const CmdEntry cmd_graph_entry;
extern const CmdEntry cmd_hds_entry;
extern const CmdEntry cmd_nab_entry;
extern const CmdEntry cmd_train_entry;
extern const CmdEntry cmd_eval_entry;

#endif
