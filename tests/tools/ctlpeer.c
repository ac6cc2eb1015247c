/*
 * ctlpeer: a raw client of a control socket, for tests that must send what
 * hotspare ctl never would (garbage, oversized lines) or behave as a bad
 * client does (connect and say nothing). POSIX sh cannot talk to a Unix
 * socket, and socat is not a test dependency.
 *
 *   ctlpeer PATH send [SECONDS]   sends stdin as it is, half-closes, prints
 *                                 every answer line until the server closes
 *                                 (or SECONDS pass: exit 1)
 *   ctlpeer PATH big BYTES        sends a line of BYTES 'x' and then a status
 *                                 request, prints the answers (two lines)
 *   ctlpeer PATH silent SECONDS   connects, sends nothing, holds SECONDS
 *
 * Exit 0, 1 on a timeout or a network error (said on stderr), 2 on usage,
 * 3 when it cannot connect.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int send_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            perror("ctlpeer: send");
            return -1;
        }
        buf += n;
        len -= n;
    }
    return 0;
}

/* Prints what the server sends until it closes, or until lines answer
 * lines have come (0: no limit), within secs. */
static int print_answers(int fd, int secs, int lines)
{
    time_t end = time(NULL) + secs;
    char buf[65536];
    int seen = 0;

    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int left = (int)(end - time(NULL));
        ssize_t n;

        if (left <= 0 || poll(&p, 1, left * 1000) <= 0) {
            fprintf(stderr, "ctlpeer: no (more) answer within %d s\n", secs);
            return 1;
        }
        n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? 1 : 0;
        fwrite(buf, 1, n, stdout);
        fflush(stdout);
        for (ssize_t i = 0; i < n; i++)
            seen += buf[i] == '\n';
        if (lines && seen >= lines)
            return 0;
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;

    if (argc < 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "usage: ctlpeer PATH send [SECONDS] | big BYTES | silent SECONDS\n");
        return 2;
    }
    strcpy(sa.sun_path, argv[1]);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "ctlpeer: %s: %s\n", argv[1], strerror(errno));
        return 3;
    }
    if (!strcmp(argv[2], "send")) {
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
            if (send_all(fd, buf, n) < 0)
                return 1;
        shutdown(fd, SHUT_WR);
        return print_answers(fd, argc > 3 ? atoi(argv[3]) : 10, 0);
    }
    if (!strcmp(argv[2], "big") && argc > 3) {
        static const char status[] = "\n{\"v\":1,\"cmd\":\"status\"}\n";
        size_t bytes = strtoul(argv[3], NULL, 10);
        char *line = malloc(bytes);
        if (!line)
            return 1;
        memset(line, 'x', bytes);
        /* the server answers the long line's error while we still send */
        if (send_all(fd, line, bytes) < 0 || send_all(fd, status, sizeof(status) - 1) < 0)
            return 1;
        free(line);
        return print_answers(fd, 10, 2);
    }
    if (!strcmp(argv[2], "silent") && argc > 3) {
        sleep(atoi(argv[3]));
        return 0;
    }
    fprintf(stderr, "ctlpeer: unknown mode '%s'\n", argv[2]);
    return 2;
}
