/*
 * sdnotify.h: the service manager's notify protocol (systemd's sd_notify),
 * spoken directly: one datagram of "KEY=VALUE" lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET (a path, or "@name" for an abstract socket). No
 * libsystemd: the protocol is a datagram, and a build without systemd
 * installed must behave the same.
 *
 * The watchdog: with WatchdogSec= the manager sets $WATCHDOG_USEC (and
 * $WATCHDOG_PID, the process it is meant for) and restarts the service
 * when no "WATCHDOG=1" comes within that time. Whether to send one is a
 * decision (sdn_alive), kept apart from the sending so that it is tested
 * on synthetic ages.
 *
 * Like the other low-level helpers, nothing here logs: calls return a
 * negative AVERROR and fill a caller's err where there is more to say.
 */
#ifndef HS_SDNOTIFY_H
#define HS_SDNOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

typedef struct SdNotify SdNotify;

/*
 * Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID, then removes
 * them from the environment, so that the processes we start (exec hooks,
 * dra/hook.c) do not speak for us. Call before any other thread starts
 * (unsetenv is not thread-safe).
 * Returns 0 with *pn set; 0 with *pn NULL when no manager listens (no
 * $NOTIFY_SOCKET); or AVERROR(EINVAL) / AVERROR(errno) with the reason in
 * err, *pn NULL. Free with sdn_free.
 */
int sdn_alloc(SdNotify **pn, char *err, size_t err_size);
void sdn_free(SdNotify **pn);

/* Sends msg ("READY=1", "STATUS=...", several lines at once) in one
 * datagram. Never blocks. Returns 0 (also for n NULL) or a negative
 * AVERROR (the manager went away, the socket is full). */
int sdn_send(SdNotify *n, const char *msg);

/* The watchdog's timeout meant for this process, in microseconds; 0 when
 * there is none (or n is NULL). A ping is due every half of it. */
int64_t sdn_watchdog_us(const SdNotify *n);

/* --- pure parts, for the tests --- */

/* The address of $NOTIFY_SOCKET: an absolute path, or "@name" for the
 * abstract namespace (the '@' becomes a NUL byte, and the length counts
 * only the name). Returns 0, or AVERROR(EINVAL) for anything else (empty,
 * relative, too long). */
int sdn_parse_address(const char *text, struct sockaddr_un *sa, socklen_t *len);

/* The watchdog timeout from $WATCHDOG_USEC and $WATCHDOG_PID (either may
 * be NULL): the number of microseconds, or 0 when unset, not a positive
 * number, or meant for another pid than self (systemd sets the pid so
 * that a child that inherited the variables does not ping). */
int64_t sdn_parse_watchdog(const char *usec, const char *pid, pid_t self);

/* A heartbeat's age that says nothing: the stage is not running (not
 * started yet, or ended: normally or on a failure, which is an event, not a
 * wedge) or has not beaten yet. */
#define SDN_NO_BEAT (-1)

/*
 * Is the process alive enough to ping the watchdog? Yes when the tick ran
 * within tick_bound_us (tick_age_us < 0: it has not run yet, which is the
 * start and says nothing) and no heartbeat among ages[0..n) is older than
 * bound_us (SDN_NO_BEAT entries are skipped). Returns 1 alive; 0 wedged,
 * with *which the index of the oldest stale heartbeat, or -1 for the tick
 * (which may be NULL).
 */
int sdn_alive(const int64_t *ages, int n, int64_t bound_us,
              int64_t tick_age_us, int64_t tick_bound_us, int *which);

/*
 * How old a stage's heartbeat may grow before the stage counts as wedged:
 * twice the longest deadline any of its blocking calls has (an output's
 * rw_timeout, an encoder's call deadline), since before that deadline the
 * stage's own supervision gives the call up and beats again; at least
 * SDN_MIN_WEDGE_US.
 */
#define SDN_MIN_WEDGE_US 2000000
int64_t sdn_wedge_bound(int64_t longest_deadline_us);

/* Where a stream stands, for READY and STATUS. */
typedef enum SdnStreamState {
    SDN_STARTING,                 /* some output has neither written a header
                                     nor failed */
    SDN_ON_AIR,                   /* started, every component on its primary */
    SDN_ON_BACKUP,                /* started, some component on a backup */
    SDN_ENDED,                    /* every thread ended, not failed */
    SDN_FAILED,                   /* its input failed, or every output did */
} SdnStreamState;

/* READY: no stream is still starting (ended and failed ones have settled:
 * holding READY for them would only get a live job restarted). n 0: 1. */
int sdn_ready(const SdnStreamState *st, int n);

/* The STATUS= line, without the key: "3 streams: 2 on air, 1 on backup,
 * 0 failed", with ", N starting" and ", N ended" when there are any.
 * Returns the length, or AVERROR(ENOSPC) (buf then holds what fit). */
int sdn_summary(const SdnStreamState *st, int n, char *buf, size_t size);

#endif
