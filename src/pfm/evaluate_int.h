/*
 * evaluate_int.h: what evaluate.c shares with eval_plot.c, and nothing
 * else includes.
 */
#ifndef HS_EVALUATE_INT_H
#define HS_EVALUATE_INT_H

#include "pfm/evaluate.h"

/* 0, or AVERROR(EINVAL) for what eval_run() refuses in the series: NULL
 * arrays, negative counts, tick or failure times not strictly increasing. */
int eval_check_series(const EvalSeries *s, int nb);

#endif
