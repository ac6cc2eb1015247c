/*
 * trend.c: least-squares slope over a window of ticks; see trend.h.
 */
#include <libavutil/error.h>

#include "hma/trend.h"

void trend_init(Trend *tr, int window)
{
    tr->window = window < 2 ? 2 : window > TREND_MAX ? TREND_MAX : window;
    tr->n = tr->next = 0;
}

void trend_add(Trend *tr, double t, double v)
{
    if (tr->n) {
        int last = (tr->next + tr->window - 1) % tr->window;
        if (!(t > tr->t[last]))
            tr->n = tr->next = 0;
    }
    tr->t[tr->next] = t;
    tr->v[tr->next] = v;
    tr->next = (tr->next + 1) % tr->window;
    if (tr->n < tr->window)
        tr->n++;
}

int trend_slope(const Trend *tr, double *slope)
{
    double mt = 0, mv = 0, stt = 0, stv = 0;
    int first = (tr->next + tr->window - tr->n) % tr->window;

    if (tr->n < 3)
        return AVERROR(EAGAIN);
    /* centred sums: the times are large (a monotonic clock), their squares
     * would swallow the differences */
    for (int i = 0; i < tr->n; i++) {
        int k = (first + i) % tr->window;
        mt += tr->t[k];
        mv += tr->v[k];
    }
    mt /= tr->n;
    mv /= tr->n;
    for (int i = 0; i < tr->n; i++) {
        int k = (first + i) % tr->window;
        double dt = tr->t[k] - mt;
        stt += dt * dt;
        stv += dt * (tr->v[k] - mv);
    }
    if (!(stt > 0))
        return AVERROR(EAGAIN);
    *slope = stv / stt;
    return 0;
}

int trend_time_to(double level, double limit, double slope, double *seconds)
{
    if (level >= limit) {
        *seconds = 0;
        return 0;
    }
    if (!(slope > 0))
        return AVERROR(ERANGE);
    *seconds = (limit - level) / slope;
    return 0;
}
