/*
 * steer_rules.c: the pathway order; see steer_rules.h.
 */
#include <string.h>

#include "fo/steer_rules.h"

const char *steer_change_name(SteerChange c)
{
    switch (c) {
    case STEER_DEMOTED_RISK: return "risk";
    case STEER_DEMOTED_DOWN: return "down";
    case STEER_PROMOTED:     return "healthy";
    default:                 return "none";
    }
}

SteerChange steer_judge(SteerPathState *st, const SteerView *v, const SteerPolicy *p,
                        int64_t now_us)
{
    int good;

    if (!v->known)
        return STEER_NONE;
    st->down = !v->up;
    st->above = v->up && v->risk > p->demote_above ? st->above + 1 : 0;
    good = v->up && v->risk >= 0 && v->risk < p->promote_below;
    if (!good)
        st->good_since = 0;
    else if (!st->good_since)
        st->good_since = now_us;
    if (!st->demoted) {
        if (!v->up || st->above >= p->confirm_ticks) {
            st->demoted = 1;
            st->good_since = 0;
            return v->up ? STEER_DEMOTED_RISK : STEER_DEMOTED_DOWN;
        }
        return STEER_NONE;
    }
    if (good && now_us - st->good_since >= p->promote_after_us) {
        st->demoted = 0;
        st->above = 0;
        return STEER_PROMOTED;
    }
    return STEER_NONE;
}

int steer_order(const SteerPathState *st, int n, int *order)
{
    int k = 0, healthy;

    for (int i = 0; i < n; i++)
        if (!st[i].demoted)
            order[k++] = i;
    healthy = k;
    /* the demoted: those whose viewer gets answers before those whose
     * viewer fails, each in the job's order (not by the risk, which moves a
     * little every tick: viewers would be sent back and forth) */
    for (int down = 0; down < 2; down++)
        for (int i = 0; i < n; i++)
            if (st[i].demoted && st[i].down == down)
                order[k++] = i;
    return healthy ? healthy : n;
}

void steer_pin_merge(const int *rules, int n, const int *pin, int npin, int *order)
{
    int k = 0;

    for (int i = 0; i < npin; i++)
        order[k++] = pin[i];
    for (int i = 0; i < n; i++) {
        int pinned = 0;
        for (int j = 0; j < npin; j++)
            pinned |= pin[j] == rules[i];
        if (!pinned)
            order[k++] = rules[i];
    }
}
