/*
 * waitport: waits until a TCP port on 127.0.0.1 accepts connections (or,
 * with --closed, until it refuses them), for test scripts that start a peer
 * and must not race it. POSIX sh has no portable way to try a connect.
 *
 *   waitport [--closed] PORT [SECONDS]     exit 0 when it happened, 1 on timeout
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int try_connect(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    if (fd < 0)
        return 0;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

int main(int argc, char **argv)
{
    int closed = 0, port;
    double secs = 10;
    struct timespec t0, now;

    if (argc > 1 && !strcmp(argv[1], "--closed")) {
        closed = 1;
        argv++;
        argc--;
    }
    if (argc < 2 || (port = atoi(argv[1])) <= 0 || port > 65535) {
        fprintf(stderr, "usage: waitport [--closed] PORT [SECONDS]\n");
        return 2;
    }
    if (argc > 2)
        secs = atof(argv[2]);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (try_connect(port) != closed)
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec + (now.tv_nsec - t0.tv_nsec) / 1e9 > secs)
            return 1;
        usleep(50000);
    }
}
