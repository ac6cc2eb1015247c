/*
 * trend.h: the slope of a figure over its last ticks, by least squares, and
 * the time it takes to reach a level at that slope.
 *
 * For figures that matter by where they are going (a filesystem filling,
 * memory growing): the difference of two ticks is mostly noise (a segment
 * written, a buffer freed), the slope over a window (30 ticks) is the
 * trend. Pure arithmetic on a fixed ring; no allocation.
 */
#ifndef HS_TREND_H
#define HS_TREND_H

#define TREND_MAX 64

typedef struct Trend {
    int window;                  /* points kept, 2..TREND_MAX */
    int n, next;
    double t[TREND_MAX];         /* seconds, any origin */
    double v[TREND_MAX];
} Trend;

/* window: how many points the slope is taken over (clamped to 2..TREND_MAX). */
void trend_init(Trend *tr, int window);

/* Adds a point; the oldest goes once the window is full. A time not after
 * the newest point's starts the window again (the clock is not ours to
 * trust backwards). */
void trend_add(Trend *tr, double t, double v);

/* The least-squares slope (units of v per second) of the points kept: 0,
 * or AVERROR(EAGAIN) with fewer than 3 points or no time between them. */
int trend_slope(const Trend *tr, double *slope);

/* Seconds until level reaches limit at slope: 0 (already there or past),
 * or AVERROR(ERANGE) when it is not heading there (slope <= 0). */
int trend_time_to(double level, double limit, double slope, double *seconds);

#endif
