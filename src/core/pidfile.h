/*
 * pidfile.h: `hotspare run --pid-file FILE`: the process id, one decimal
 * line, for a service manager (PIDFile=) or a script that signals the run.
 *
 * The file appears whole or not at all: it is written under another name
 * and linked to FILE, and a link never replaces an existing file, so two
 * runs that start together cannot both own it. A file left by a run that
 * ended without removing it (a crash, SIGKILL) is replaced; one that names
 * a live hotspare is not.
 *
 * Like the other low-level helpers, nothing here logs: err gets the reason.
 */
#ifndef HS_PIDFILE_H
#define HS_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Writes getpid() to path. Returns 0; 1 when it replaced a stale file (err
 * says whose: the caller may say so); AVERROR(EEXIST) when path names a
 * live hotspare (err names its pid); another negative AVERROR when the file
 * cannot be written (err says why).
 */
int pidfile_write(const char *path, char *err, size_t err_size);

/* Removes path if it still holds our pid (a successor's file stays).
 * NULL-safe. */
void pidfile_remove(const char *path);

/* --- pure parts, for the tests --- */

/* The pid in a pid file's text ("1234\n"); -1 for anything else. */
pid_t pidfile_parse(const char *text);

/* Is the executable of a process, as /proc/PID/exe names it, the same
 * program as ours (same file name; " (deleted)" after an upgrade ignored)? */
int pidfile_same_program(const char *their_exe, const char *our_exe);

#endif
