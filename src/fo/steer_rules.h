/*
 * steer_rules.h: the order in which players are told to use an output's
 * CDN pathways (PATHWAY-PRIORITY), as a pure function of (each pathway's
 * memory, what its synthetic viewer saw this tick, the policy, the time).
 * No thread, no I/O: tested on synthetic sequences (tests/unit/steer_test.c).
 *
 * Players re-read the manifest only every TTL, and a player on a failing
 * CDN stalls before its own penalty moves it: a pathway must lose its
 * place before it fails. So:
 *
 *   demote    a pathway whose risk stayed above demote_above for confirm
 *             ticks, or whose viewer failed (no playlist, an error status):
 *             at once; it goes after every pathway not demoted
 *   promote   a demoted pathway back in its place once its viewer has been
 *             up with the risk below promote_below for promote_after
 *   manual    an order pinned by hand (ctl steer) holds until released;
 *             the rules go on judging underneath, so that releasing it
 *             lands on what they would have done
 *
 * Pathways not demoted keep the operator's order (the job's list): viewers
 * are not moved between healthy CDNs because one measured a little
 * faster this tick. Demoted ones are left out of the manifest while a
 * healthy one remains: hls.js (1.6.15) charges an error of a segment still
 * loading from the pathway it left to the pathway it moved to, and goes
 * back to the first other one listed, the failing one (measured:
 * bench_steering, an edge whose bandwidth collapses). When every pathway
 * is demoted, all are listed: those still answering first, then those
 * that fail, each in the job's order: a player whose every pathway
 * fails still has one to try.
 */
#ifndef HS_FO_STEER_RULES_H
#define HS_FO_STEER_RULES_H

#include <stdint.h>

#include "job/job.h"

typedef struct SteerPolicy {
    float demote_above;           /* risk */
    float promote_below;
    int confirm_ticks;
    int64_t promote_after_us;
} SteerPolicy;

/* What a pathway's synthetic viewer saw at a tick. */
typedef struct SteerView {
    int known;                    /* the viewer has reported at all */
    int up;                       /* it got the playlist and the newest segment */
    float risk;                   /* the risk acted on, 0..1; < 0 unknown */
} SteerView;

/* A pathway's memory; zero it to start. */
typedef struct SteerPathState {
    int above;                    /* ticks in a row above demote_above */
    int demoted;
    int64_t good_since;           /* up and below promote_below since; 0 not */
    int down;                     /* its viewer failed at the last report */
} SteerPathState;

typedef enum SteerChange {
    STEER_NONE,
    STEER_DEMOTED_RISK,           /* risk above demote_above for confirm ticks */
    STEER_DEMOTED_DOWN,           /* its viewer failed */
    STEER_PROMOTED,               /* healthy again for promote_after */
} SteerChange;

const char *steer_change_name(SteerChange c);

/*
 * Judges pathway i at now_us: updates st, returns what changed for it.
 * An unknown view (no report yet) changes nothing.
 */
SteerChange steer_judge(SteerPathState *st, const SteerView *v, const SteerPolicy *p,
                        int64_t now_us);

/* The order from the pathways' memories: order[k] is the index of the
 * pathway in k-th place (all n of them). Returns how many of them players
 * are told of: the pathways not demoted, while there is one; every
 * pathway when all are demoted. */
int steer_order(const SteerPathState *st, int n, int *order);

/* An order pinned by hand: the npin pathways of pin first, then the
 * others in the rules' order (rules, n). */
void steer_pin_merge(const int *rules, int n, const int *pin, int npin, int *order);

#endif
