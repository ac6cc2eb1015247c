/*
 * pidfile.c: the run's pid file; see pidfile.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "core/pidfile.h"

pid_t pidfile_parse(const char *text)
{
    char *end;
    long v;

    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno || v <= 0 || v > INT_MAX || (*end && strcmp(end, "\n")))
        return -1;
    return (pid_t)v;
}

/* The file name of an executable path, " (deleted)" cut off, into buf. */
static const char *exe_name(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    size_t n;

    snprintf(buf, size, "%s", slash ? slash + 1 : path);
    n = strlen(buf);
    if (n > 10 && !strcmp(buf + n - 10, " (deleted)"))
        buf[n - 10] = '\0';
    return buf;
}

int pidfile_same_program(const char *their_exe, const char *our_exe)
{
    char a[256], b[256];

    return !strcmp(exe_name(their_exe, a, sizeof(a)), exe_name(our_exe, b, sizeof(b)));
}

/* Reads a small file into buf; returns 0 or a negative AVERROR. */
static int read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return AVERROR(errno);
    n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return AVERROR(errno);
    buf[n] = '\0';
    return 0;
}

/* Does pid run hotspare? 1 yes, 0 no (gone, or another program that got
 * the pid after ours ended). A process we may not look at counts as one:
 * refusing is the side that cannot break a live run. */
static int live_hotspare(pid_t pid)
{
    char path[64], theirs[PATH_MAX], ours[PATH_MAX];
    ssize_t n;

    if (pid == getpid())
        return 0;
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    n = readlink(path, theirs, sizeof(theirs) - 1);
    if (n < 0)
        return errno != ENOENT && errno != ESRCH;
    theirs[n] = '\0';
    n = readlink("/proc/self/exe", ours, sizeof(ours) - 1);
    if (n < 0)
        return 1;
    ours[n] = '\0';
    return pidfile_same_program(theirs, ours);
}

int pidfile_write(const char *path, char *err, size_t err_size)
{
    char tmp[4096], line[32], old[32];
    int fd, ret, replaced = 0;
    ssize_t len;

    if (snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof(tmp)) {
        snprintf(err, err_size, "the pid file's name is too long");
        return AVERROR(ENAMETOOLONG);
    }
    len = snprintf(line, sizeof(line), "%d\n", (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        ret = AVERROR(errno);
        snprintf(err, err_size, "cannot write the pid file %s: %s", tmp, av_err2str(ret));
        return ret;
    }
    ret = write(fd, line, len) == len ? 0 : AVERROR(errno ? errno : EIO);
    if (close(fd) < 0 && !ret)
        ret = AVERROR(errno);
    if (ret < 0) {
        snprintf(err, err_size, "cannot write the pid file %s: %s", tmp, av_err2str(ret));
        unlink(tmp);
        return ret;
    }
    /* link() fails on an existing file where rename() would replace it:
     * one try, and one more after a stale file is taken away */
    for (int attempt = 0; attempt < 2; attempt++) {
        pid_t pid;

        if (link(tmp, path) == 0) {
            unlink(tmp);
            return replaced;
        }
        if (errno != EEXIST) {
            ret = AVERROR(errno);
            snprintf(err, err_size, "cannot write the pid file %s: %s", path, av_err2str(ret));
            unlink(tmp);
            return ret;
        }
        old[0] = '\0';
        if (read_small(path, old, sizeof(old)) < 0)
            continue;            /* gone meanwhile: link again */
        pid = pidfile_parse(old);
        if (pid > 0 && live_hotspare(pid)) {
            snprintf(err, err_size, "%s names a running hotspare (pid %d)", path, (int)pid);
            unlink(tmp);
            return AVERROR(EEXIST);
        }
        snprintf(err, err_size, "replacing the stale pid file %s (pid %d is not running "
                 "hotspare)", path, (int)pid);
        unlink(path);
        replaced = 1;
    }
    snprintf(err, err_size, "cannot write the pid file %s: another run keeps creating it", path);
    unlink(tmp);
    return AVERROR(EEXIST);
}

void pidfile_remove(const char *path)
{
    char text[32];

    if (path && read_small(path, text, sizeof(text)) >= 0 && pidfile_parse(text) == getpid())
        unlink(path);
}
