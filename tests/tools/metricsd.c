/*
 * metricsd: the Prometheus endpoint (src/metrics.c) serving synthetic
 * samples (tests/tools/synth.h), a new tick every interval, for
 * tests/integration/t_prometheus.sh.
 *
 *   metricsd [--addr HOST:PORT] [--comps N] [--interval-ms MS] [--allow-remote]
 *
 * Prints "port N" once it listens, runs until SIGTERM or SIGINT, then
 * prints "scrapes text=N openmetrics=M not_found=K" and exits 0. Exits 1
 * when it cannot listen (and says why), 2 on usage errors.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/time.h>

#include "core/log.h"
#include "hma/metrics.h"
#include "synth.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    stop = 1;
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1:0";
    int comps = 50, interval_ms = 500, allow = 0, ret;
    Metrics *m;
    MetricsStats st;
    Sample s = { 0 };
    Synth sy;
    struct sigaction sa = { .sa_handler = on_signal };

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--allow-remote"))
            allow = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--addr"))
            addr = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--comps"))
            comps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--interval-ms"))
            interval_ms = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: metricsd [--addr HOST:PORT] [--comps N] [--interval-ms MS] [--allow-remote]\n");
            return 2;
        }
    }
    log_init(AV_LOG_INFO);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if ((ret = metrics_start(&m, addr, allow)) < 0) {
        fprintf(stderr, "metricsd: %s: %s\n", addr, av_err2str(ret));
        return 1;
    }
    printf("port %d\n", metrics_port(m));
    fflush(stdout);
    synth_init(&sy, comps, 7);
    for (int64_t t = 0; !stop; t++) {
        if (synth_build(&sy, &s, t, av_gettime()) < 0 || metrics_publish(m, &s) < 0) {
            fprintf(stderr, "metricsd: out of memory\n");
            break;
        }
        av_usleep(interval_ms * 1000);
    }
    metrics_get_stats(m, &st);
    metrics_stop(&m);
    sample_free(&s);
    printf("scrapes text=%"PRId64" openmetrics=%"PRId64" not_found=%"PRId64"\n",
           st.scrapes_text, st.scrapes_openmetrics, st.not_found);
    return 0;
}
