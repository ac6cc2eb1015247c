/*
 * fuzz_steer_query.c: what a player or a scraper sends the HTTP endpoint
 * (hma/metrics.c, dra/steer.c). The first line of the input is a
 * steering request's query string: cut at '&' and '=' and %-decoded as
 * libmicrohttpd hands it over (at most METRICS_MAX_ARGS parameters, more
 * is nb_args -1), then read by steer_query_parse against three pathway
 * ids; the rest is an Accept header for metrics_negotiate.
 */
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "dra/steer.h"
#include "hma/metrics.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    av_log_set_level(AV_LOG_QUIET);
    return 0;
}

static int hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
           c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* %XX and '+' decoded in place, as MHD_http_unescape does */
static void unescape(char *s)
{
    char *w = s;

    for (; *s; s++) {
        if (*s == '+')
            *w++ = ' ';
        else if (*s == '%' && hex(s[1]) >= 0 && hex(s[2]) >= 0) {
            *w++ = (char)(hex(s[1]) << 4 | hex(s[2]));
            s += 2;
        } else
            *w++ = *s;
    }
    *w = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const ids[] = { "cdn-a", "cdn-b", "origin.eu_1" };
    MetricsArg args[METRICS_MAX_ARGS];
    char *text = malloc(size + 1), *query, *accept, *save = NULL, why[256];
    int nb = 0;
    SteerQuery q;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    query = text;
    accept = strchr(text, '\n');
    if (accept)
        *accept++ = 0;
    for (char *kv = strtok_r(query, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (nb == METRICS_MAX_ARGS) {
            nb = -1;
            break;
        }
        if (eq)
            *eq++ = 0;
        unescape(kv);
        if (eq)
            unescape(eq);
        args[nb++] = (MetricsArg){ kv, eq };
    }
    steer_query_parse(args, nb, ids, 3, &q, why, sizeof(why));
    metrics_negotiate(accept);
    free(text);
    return 0;
}
