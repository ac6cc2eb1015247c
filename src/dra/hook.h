/*
 * hook.h: exec hooks, how the allocator starts a backup outside this
 * process (a Kubernetes or Nomad job, a cloud instance, a remote encoder)
 * and lets it go again.
 *
 * A hook is the job's argv (supervisor: hooks:, job.h), never a shell
 * string, with placeholders (core/hookarg.h) expanded for the component it
 * runs for. argv[0] is looked up in PATH. The hook runs in a process group
 * of its own, stdin from /dev/null, stdout and stderr captured through
 * pipes, each bounded (DRA_HOOK_MAX_OUTPUT; the rest is read, counted and
 * dropped), with the caller's environment and no other descriptor of ours.
 *
 * It never blocks the caller: dra_hook_start() spawns it and returns,
 * dra_hook_poll() (from the orchestrator's tick) reads what it wrote and
 * sees whether it ended, and enforces its deadline: SIGTERM to the whole
 * group at the deadline, SIGKILL after a grace period. When the hook's own
 * process ends, whatever it left in its group is killed: a hook cannot
 * leave a child behind (one that must outlive it detaches with setsid, and
 * takes its output elsewhere). The hook's process is always reaped: no
 * zombie is left, whatever happens.
 *
 * The result: exit status 0 is success. On success, a line of stdout
 * "url=URL" names the backup the hook started (a remote encoder's output,
 * a new origin) for the caller to use (dra_hook_parse_url: the protocol).
 * Every run makes one event for its component: info on success (the time
 * taken, the URL redacted), warning on failure (the exit status, the
 * signal, or "killed at its deadline", and the first line of stderr,
 * masked) and on a success whose url= line cannot be used (two of them,
 * not a URL).
 *
 * A DraHook is used by one thread at a time (the orchestrator's).
 */
#ifndef HS_DRA_HOOK_H
#define HS_DRA_HOOK_H

#include <stddef.h>
#include <stdint.h>

#include "core/comp.h"
#include "core/event.h"
#include "plane/inst.h"

#define DRA_HOOK_MAX_OUTPUT  (64 * 1024)  /* kept of stdout, and of stderr */
#define DRA_HOOK_GRACE_US    1000000      /* SIGTERM -> SIGKILL */

typedef struct DraHook DraHook;

/* What to run, for what. Read during dra_hook_start() only, except events. */
typedef struct DraHookArgs {
    const char *what;             /* "provision", "release": for the event */
    char *const *argv;            /* the template, NULL-terminated (a job's
                                     JobSupervisor.hook_provision) */
    CompId id;                    /* {stream}, {component}, {instance}; the
                                     event's component (with the instance) */
    double risk;                  /* {risk} */
    int64_t timeout_us;           /* the deadline, from the start (> 0) */
    int64_t grace_us;             /* SIGTERM to SIGKILL; 0: DRA_HOOK_GRACE_US */
    size_t max_output;            /* per stream; 0: DRA_HOOK_MAX_OUTPUT */
    EventLog *events;             /* the run's event; NULL: the log alone.
                                     Borrowed: outlives the DraHook */
} DraHookArgs;

/* How a run ended. Owned by the DraHook; valid until dra_hook_free(). */
typedef struct DraHookResult {
    int ok;                       /* exited with status 0, in time */
    int error;                    /* it could not be started: the AVERROR
                                     (AVERROR(ENOENT): argv[0] not in PATH);
                                     0 when it ran. Where the spawn cannot
                                     tell (under valgrind), a command not
                                     found exits 127 instead, as in a shell */
    int exit_status;              /* its exit status; -1 when a signal ended it */
    int signal;                   /* the signal that ended it; 0 when it exited */
    int timed_out;                /* it was still running at its deadline */
    int64_t elapsed_us;           /* start to end, in the caller's clock */
    const char *out;              /* stdout: its last max_output bytes (the
                                     URL line is at the end), NUL-terminated */
    size_t out_len;
    int64_t out_dropped;          /* bytes of stdout read and not kept */
    const char *err;              /* stderr: its first max_output bytes (the
                                     first line says why), NUL-terminated */
    size_t err_len;
    int64_t err_dropped;
    const char *url;              /* on success, the URL of stdout's url= line
                                     (dra_hook_parse_url), else NULL. May hold
                                     credentials or a stream key: show it
                                     through redact_url */
    const char *url_error;        /* on success, why a url= line was not
                                     taken (dra_hook_parse_url's why), else
                                     NULL; names no part of the URL */
} DraHookResult;

/*
 * The provision hook's stdout protocol. Of what the hook printed (out, len
 * bytes; a NUL is not needed), the line that begins with "url=" (after
 * leading white space; the key in lower case) names the backup: the rest of
 * the line, white space around it trimmed, must be a URL, "scheme://..."
 * with no white space inside, shorter than COMP_URL_SIZE. Every other line
 * is the hook's own (kubectl's chatter, progress) and is ignored.
 *
 * Returns 1 and *url, *url_len (a span of out) for exactly one such line;
 * 0 when there is none; AVERROR(EINVAL) with the reason in why when the
 * line is not a URL, too long, or when there are two or more: which backup
 * the hook meant is then unclear, and guessing could send the stream to
 * the wrong place. why never quotes the value (it may hold a secret). Pure.
 */
int dra_hook_parse_url(const char *out, size_t len, const char **url, size_t *url_len,
                       char *why, size_t why_size);

/*
 * Checks a hook's argv (NULL-terminated) as the job does when it loads one.
 * Returns NULL when it can run, else buf holding why ("argument 2: unknown
 * placeholder '{strem}' (...)", "the hook is empty"). Pure.
 */
const char *dra_hook_check(char *const *argv, char *buf, size_t size);

/*
 * Expands args->argv and spawns it; now_us: the caller's clock
 * (av_gettime_relative), which every dra_hook_poll() must use too. Returns
 * 0 and *ph (the caller's, free with dra_hook_free), or a negative
 * AVERROR (EINVAL: args refused by dra_hook_check; ENOMEM) and *ph NULL.
 * A hook that cannot be spawned (argv[0] not found) is a run all the same:
 * 0 is returned, the first poll says it is done, result->error says why and
 * its event is a warning.
 */
int dra_hook_start(DraHook **ph, const DraHookArgs *args, int64_t now_us);

/*
 * Reads what the hook wrote, reaps it when it ended, and at its deadline
 * signals its group. Returns 1 once it is done (its result ready, its event
 * emitted; further calls return 1 and do nothing), 0 while it runs. Never
 * waits. Call it often enough that its pipes do not fill up: a hook that
 * writes more than a pipe holds (64 KiB) between two polls waits for the
 * next one.
 */
int dra_hook_poll(DraHook *h, int64_t now_us);

/* The result once dra_hook_poll() returned 1; NULL before. */
const DraHookResult *dra_hook_result(const DraHook *h);

/*
 * Starts args and polls it until it is done, sleeping on its pipes between
 * polls (at most 20 ms at a time), so at most the deadline plus the grace
 * period. For tests and one-off commands, never for the orchestrator's
 * tick. Returns what dra_hook_start() returns; on 0, *ph is done.
 */
int dra_hook_run(DraHook **ph, const DraHookArgs *args);

/*
 * Frees the hook and *ph becomes NULL (NULL accepted). A hook still running
 * is cancelled: its group is killed with SIGKILL and its process reaped
 * (the wait is for a process already killed: short, unless it is stuck in
 * the kernel), and its event is a warning saying so.
 */
void dra_hook_free(DraHook **ph);

#endif
