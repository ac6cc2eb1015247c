/*
 * httpget: a minimal HTTP/1.0 GET over plain sockets, for tests on
 * machines without curl: fetches the metrics endpoint and queries a
 * Prometheus started by a test.
 *
 *   httpget [-H "Name: value"]... [-i] [-t SECONDS] http://HOST:PORT/PATH
 *
 * Writes the body to stdout (with -i, the status line and headers first)
 * and exits 0 for a 2xx status, 1 for any other status or a network error
 * (said on stderr), 2 on usage errors. HTTP/1.0 keeps the reply simple: no
 * chunked encoding, the body ends when the connection closes.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_HEADERS 16

static int usage(void)
{
    fprintf(stderr, "usage: httpget [-H 'Name: value']... [-i] [-t SECONDS] http://HOST:PORT/PATH\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *headers[MAX_HEADERS], *url = NULL;
    char host[256], port[16] = "80", *req = NULL, *buf = NULL;
    size_t len = 0, cap = 0;
    int nb_headers = 0, show = 0, fd = -1, status, rc;
    double timeout = 10;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
    struct timeval tv;
    const char *p, *slash, *colon, *body;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-H") && i + 1 < argc && nb_headers < MAX_HEADERS)
            headers[nb_headers++] = argv[++i];
        else if (!strcmp(argv[i], "-i"))
            show = 1;
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            timeout = atof(argv[++i]);
        else if (!url && !strncmp(argv[i], "http://", 7))
            url = argv[i];
        else
            return usage();
    }
    if (!url)
        return usage();
    p = url + 7;
    slash = strchr(p, '/');
    if (!slash)
        slash = p + strlen(p);
    colon = memchr(p, ':', slash - p);
    if ((colon ? colon : slash) - p >= (long)sizeof(host))
        return usage();
    snprintf(host, sizeof(host), "%.*s", (int)((colon ? colon : slash) - p), p);
    if (colon)
        snprintf(port, sizeof(port), "%.*s", (int)(slash - colon - 1), colon + 1);

    if ((rc = getaddrinfo(host, port, &hints, &ai))) {
        fprintf(stderr, "httpget: %s: %s\n", host, gai_strerror(rc));
        return 1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    tv.tv_sec = (time_t)timeout;
    tv.tv_usec = (suseconds_t)((timeout - tv.tv_sec) * 1e6);
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        fprintf(stderr, "httpget: connect %s:%s: %s\n", host, port, strerror(errno));
        freeaddrinfo(ai);
        return 1;
    }
    freeaddrinfo(ai);

    {
        size_t n = strlen(url) + 256;
        for (int i = 0; i < nb_headers; i++)
            n += strlen(headers[i]) + 2;
        req = malloc(n);
        if (!req)
            return 1;
        len = snprintf(req, n, "GET %s HTTP/1.0\r\nHost: %s:%s\r\n", *slash ? slash : "/", host, port);
        for (int i = 0; i < nb_headers; i++)
            len += snprintf(req + len, n - len, "%s\r\n", headers[i]);
        len += snprintf(req + len, n - len, "\r\n");
    }
    for (size_t off = 0; off < len; ) {
        ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (w <= 0) {
            fprintf(stderr, "httpget: send: %s\n", strerror(errno));
            return 1;
        }
        off += w;
    }
    len = 0;
    for (;;) {
        ssize_t r;
        if (cap - len < 65536) {
            char *nb = realloc(buf, cap = cap * 2 + 65536);
            if (!nb)
                return 1;
            buf = nb;
        }
        r = recv(fd, buf + len, cap - len - 1, 0);
        if (r < 0) {
            fprintf(stderr, "httpget: recv: %s\n", strerror(errno));
            return 1;
        }
        if (!r)
            break;
        len += r;
    }
    close(fd);
    buf[len] = 0;
    if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1) {
        fprintf(stderr, "httpget: not an HTTP reply\n");
        return 1;
    }
    body = strstr(buf, "\r\n\r\n");
    body = body ? body + 4 : buf + len;
    if (show)
        fwrite(buf, 1, body - buf, stdout);
    fwrite(body, 1, len - (body - buf), stdout);
    free(req);
    free(buf);
    if (status < 200 || status > 299) {
        fprintf(stderr, "httpget: status %d\n", status);
        return 1;
    }
    return 0;
}
