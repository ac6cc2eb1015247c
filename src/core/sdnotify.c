/*
 * sdnotify.c: the notify protocol of a service manager; see sdnotify.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "core/sdnotify.h"

struct SdNotify {
    int fd;                       /* an unbound datagram socket, CLOEXEC */
    struct sockaddr_un sa;        /* the manager's */
    socklen_t sa_len;
    int64_t watchdog_us;          /* 0: none */
};

int sdn_parse_address(const char *text, struct sockaddr_un *sa, socklen_t *len)
{
    size_t n = text ? strlen(text) : 0;

    if (n < 2 || (text[0] != '/' && text[0] != '@') || n >= sizeof(sa->sun_path))
        return AVERROR(EINVAL);
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, text, n);
    if (text[0] == '@') {
        /* abstract: no terminating NUL, the length says where it ends */
        sa->sun_path[0] = '\0';
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

/* A decimal number that fills the whole string, > 0; -1 otherwise. */
static long long positive(const char *s)
{
    char *end;
    long long v;

    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    return errno || *end || v <= 0 ? -1 : v;
}

int64_t sdn_parse_watchdog(const char *usec, const char *pid, pid_t self)
{
    long long us = positive(usec);

    if (us <= 0)
        return 0;
    if (pid && positive(pid) != (long long)self)
        return 0;
    return us;
}

int sdn_alloc(SdNotify **pn, char *err, size_t err_size)
{
    const char *path = getenv("NOTIFY_SOCKET");
    SdNotify *n;
    int ret;

    *pn = NULL;
    if (!path || !*path) {
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
        return 0;
    }
    if (!(n = av_mallocz(sizeof(*n)))) {
        snprintf(err, err_size, "out of memory");
        return AVERROR(ENOMEM);
    }
    n->fd = -1;
    if (sdn_parse_address(path, &n->sa, &n->sa_len) < 0) {
        snprintf(err, err_size, "NOTIFY_SOCKET=%s is neither an absolute path nor @name", path);
        ret = AVERROR(EINVAL);
        goto fail;
    }
    n->watchdog_us = sdn_parse_watchdog(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"), getpid());
    /* nonblocking: a manager that does not read must not stop the run's loop */
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (n->fd < 0) {
        ret = AVERROR(errno);
        snprintf(err, err_size, "cannot create a socket for NOTIFY_SOCKET: %s", av_err2str(ret));
        goto fail;
    }
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    *pn = n;
    return 0;

fail:
    sdn_free(&n);
    return ret;
}

void sdn_free(SdNotify **pn)
{
    SdNotify *n = *pn;

    if (!n)
        return;
    if (n->fd >= 0)
        close(n->fd);
    av_freep(pn);
}

int sdn_send(SdNotify *n, const char *msg)
{
    size_t len = strlen(msg);
    ssize_t sent;

    if (!n)
        return 0;
    sent = sendto(n->fd, msg, len, MSG_NOSIGNAL, (const struct sockaddr *)&n->sa, n->sa_len);
    if (sent < 0)
        return AVERROR(errno);
    return sent == (ssize_t)len ? 0 : AVERROR(EIO);
}

int64_t sdn_watchdog_us(const SdNotify *n)
{
    return n ? n->watchdog_us : 0;
}

int sdn_alive(const int64_t *ages, int n, int64_t bound_us,
              int64_t tick_age_us, int64_t tick_bound_us, int *which)
{
    int worst = -2;
    int64_t oldest = -1;

    if (tick_age_us > tick_bound_us) {
        worst = -1;
    } else {
        for (int i = 0; i < n; i++)
            if (ages[i] != SDN_NO_BEAT && ages[i] > bound_us && ages[i] > oldest) {
                oldest = ages[i];
                worst = i;
            }
    }
    if (which)
        *which = worst == -2 ? -1 : worst;
    return worst == -2;
}

int64_t sdn_wedge_bound(int64_t longest_deadline_us)
{
    int64_t b = longest_deadline_us > 0 ? 2 * longest_deadline_us : 0;

    return b < SDN_MIN_WEDGE_US ? SDN_MIN_WEDGE_US : b;
}

int sdn_ready(const SdnStreamState *st, int n)
{
    for (int i = 0; i < n; i++)
        if (st[i] == SDN_STARTING)
            return 0;
    return 1;
}

int sdn_summary(const SdnStreamState *st, int n, char *buf, size_t size)
{
    int count[SDN_FAILED + 1] = { 0 };
    int len;

    for (int i = 0; i < n; i++)
        if (st[i] >= SDN_STARTING && st[i] <= SDN_FAILED)
            count[st[i]]++;
    len = snprintf(buf, size, "%d stream%s: %d on air, %d on backup, %d failed", n,
                   n == 1 ? "" : "s", count[SDN_ON_AIR], count[SDN_ON_BACKUP], count[SDN_FAILED]);
    if (len >= 0 && count[SDN_STARTING])
        len += snprintf(buf + FFMIN((size_t)len, size), size - FFMIN((size_t)len, size),
                        ", %d starting", count[SDN_STARTING]);
    if (len >= 0 && count[SDN_ENDED])
        len += snprintf(buf + FFMIN((size_t)len, size), size - FFMIN((size_t)len, size),
                        ", %d ended", count[SDN_ENDED]);
    if (len < 0 || (size_t)len >= size)
        return AVERROR(ENOSPC);
    return len;
}
