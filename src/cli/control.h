/*
 * control.h: the control socket of a run (`hotspare ctl`): a Unix stream
 * socket, one JSON request per line in, one JSON answer per line out
 * (README, "Control socket and hotspare ctl").
 *
 * It is served by a thread of its own, one poll loop for every client, so
 * that no client can hold up another or the run: a client that says
 * nothing holds a slot and nothing else, a request waiting for its outcome
 * is a deadline in the loop, a slow reader of `events --follow` is dropped
 * once its backlog passes a bound. It reaches the rest of the process only
 * through ecg_* calls (thread-safe) and an event sink that copies every
 * event into a bounded ring (the sink never blocks: a mutex held for a
 * copy, and a non-blocking write to a pipe that wakes the loop).
 *
 * Lifecycle: control_alloc (binds the socket and adds the sink, before the
 * run starts: evlog_add_sink is not thread-safe against emitting), then
 * control_start once the graph exists, control_stop before the graph goes
 * (the thread ends, the socket is removed), control_free after the event
 * log is freed (the sink may be called until then).
 */
#ifndef HS_CONTROL_H
#define HS_CONTROL_H

#include <stddef.h>

#include "core/event.h"
#include "ecg/ecg.h"
#include "job/job.h"

/* The protocol's version: "v" in every request and answer. */
#define CONTROL_VERSION        1
/* A request line longer than this is refused (and skipped to its end). */
#define CONTROL_MAX_REQUEST    65536
/* Clients at once; one more is answered with an error and closed. */
#define CONTROL_MAX_CLIENTS    32
/* A client that sends nothing for this long, and waits for nothing, is
 * closed: its slot is freed for others. */
#define CONTROL_IDLE_US        (60 * 1000000LL)
/* Events kept for `events` and `wait_ms` (the newest). */
#define CONTROL_RING           256
/* How long `reload` waits for its outcome: the new streams' start. */
#define CONTROL_RELOAD_WAIT_MS 30000

typedef struct Control Control;

/* What the run lets the control socket do to it. */
typedef struct ControlHooks {
    /* now 0: stop gracefully, as the first SIGTERM does; now 1: exit at
     * once with status 255, as a second signal does (does not return). */
    void (*stop)(void *opaque, int now);
    void *opaque;
    /* ctl steer: pins STREAM/OUTPUT's pathway order to ids (n 0: back to
     * the rules); 0 or a negative AVERROR with why. NULL: no steering. */
    int (*steer)(void *opaque, const char *stream, const char *output, const char *const *ids,
                 int n, char *why, size_t why_size);
    void *steer_opaque;
    /* ctl reload: asks the run to read its job again (opaque). Returns the
     * seq its outcome event (EV_RELOAD or EV_REFUSED) will carry, or <= 0
     * with why. NULL: no reload. */
    int64_t (*reload)(void *opaque, char *why, size_t why_size);
    /* ctl drain: a fleet node hands its streams over to the others and
     * takes no more (drain_opaque). Returns how many streams it leads, or
     * < 0 with why. NULL: not a fleet node. */
    int (*drain)(void *drain_opaque, char *why, size_t why_size);
    void *drain_opaque;
} ControlHooks;

/* The default directory of sockets: $XDG_RUNTIME_DIR/hotspare, else ".". */
void control_default_dir(char *buf, size_t size);

/* A job's name: the base name of its file without .yaml or .yml. */
void control_job_name(const char *job_path, char *buf, size_t size);

/*
 * The socket of job: supervisor.control, else DIR/JOBNAME.sock in the
 * default directory (created 0700 when create is set). Returns 0, or a
 * negative AVERROR with the reason in err (a path too long for a socket,
 * a directory that cannot be made).
 */
int control_socket_path(const Job *job, int create, char *buf, size_t size,
                        char *err, size_t err_size);

/*
 * Creates the socket at path (mode 0600) and adds the event sink to
 * events. A stale socket (left by a run that was killed: nothing accepts
 * on it) is replaced. Returns 0, AVERROR(EADDRINUSE) when a supervisor
 * answers there, or another negative AVERROR; err says why.
 */
int control_alloc(Control **pc, const char *path, EventLog *events, char *err, size_t err_size);

/* A reload's new graph and hooks: after this returns no request uses the
 * old ones (they may go). Thread-safe; NULL-safe. */
void control_swap(Control *c, Ecg *g, const ControlHooks *hooks);

/* Starts serving requests on g (not owned, must outlive control_stop). */
int control_start(Control *c, Ecg *g, const ControlHooks *hooks);

/* Ends the thread (answers already queued get one last try), closes every
 * client and removes the socket, if it is still ours. NULL-safe; may be
 * called more than once. */
void control_stop(Control *c);

/* Stops as above and frees; NULL-safe. Call after the event log is freed. */
void control_free(Control **pc);

/* The socket's path (for a signal handler that must remove it). */
const char *control_path(const Control *c);

#endif
