/*
 * fo_rules.h: the failover orchestrator's judgement for one component, as
 * a pure function of (its memory, what it looks like now, the policy, the
 * time): when to open a backup ahead, when to let it go, when to switch
 * away before a failure and when to go back. No thread, no I/O, no clock
 * of its own, so every rule is tested on synthetic sequences
 * (tests/unit/fo_test.c).
 *
 * The stages keep the reflex: a component that fails hands over on its own
 * thread within milliseconds, without losing a frame. These rules decide
 * what is planned around it:
 *
 *   provision  risk above provision_above for confirm ticks in a row, no
 *              backup open or opening (standby: always: whenever none is);
 *              after a reflex failover, the next backup at once
 *   add        the same, for a component with no closed backup left that a
 *              provision hook may give one (an output, add_instance): the
 *              hook is run for a new instance (COMP_OP_ADD), and that
 *              counts as a backup opening until it appears, for add_wait
 *              at most (the hook's deadline and a margin)
 *   release    risk below release_below for keep, and the backup opened
 *              at least keep ago; never the instance in use
 *   switch     risk of the instance in use above switch_above and a backup
 *              ready: a planned switch at the next keyframe, zero loss
 *   back       the primary ready again for switch_back and its own risk,
 *              when last seen in use, below release_below (a primary
 *              that was getting worse is not gone back to)
 *   hysteresis at most max_cycles provisions per component per hour: a
 *              risk hovering at a threshold does not flap
 *   hot        risk above hot_above for confirm ticks and a standby encoder
 *              ready but warm: a provision with hot set, so that it is fed
 *              every frame and a switch to it costs no burst of encoding
 *              (it opens nothing: no budget slot, no hook, no cycle)
 */
#ifndef HS_FO_RULES_H
#define HS_FO_RULES_H

#include <stdint.h>

#include "job/job.h"
#include "plane/inst.h"

#define FO_CYCLES_KEPT 16
/* A switch away waits for its keyframe: not asked again from the same
 * instance for this long (then it is taken as refused or lost). */
#define FO_SWITCH_WAIT_US (5 * 1000000LL)

typedef struct FoPolicy {
    JobStandby standby;
    float provision_above;        /* risk; default the model's threshold */
    float release_below;
    float switch_above;           /* > 1: no proactive switch */
    int confirm_ticks;
    int64_t keep_us;
    int64_t switch_back_us;       /* 0: never */
    int max_cycles;               /* provisions per component per hour */
    int64_t add_wait_us;          /* an ADD counts as a backup opening this
                                     long at most: the hook's deadline, its
                                     grace and a margin for the request */
    float hot_above;              /* risk; > 1: never make a standby hot */
} FoPolicy;

/* What the orchestrator sees of one component at a tick. */
typedef struct FoView {
    float risk;                   /* of the instance in use; < 0 unknown */
    double use;                   /* share of its deadline used; < 0 unknown */
    CompStatus st;                /* as published (plane/inst.h) */
    int failovers;                /* reflex failovers since the previous tick */
    int add_instance;             /* the instance a provision hook may add now
                                     (a vacant slot, or the next one); 0 (the
                                     primary, never added): none, for no hook,
                                     not an output, or no room */
} FoView;

typedef enum FoRule {
    FO_RULE_RISK_HIGH,            /* provision: the risk stayed high */
    FO_RULE_RISK_LOW,             /* release: the risk stayed low for keep */
    FO_RULE_SWITCH_AWAY,          /* planned switch before the failure */
    FO_RULE_SWITCH_BACK,          /* back to a primary that is healthy again */
    FO_RULE_STANDBY_ALWAYS,       /* standby: always keeps one ready */
    FO_RULE_REPROVISION,          /* after a reflex failover: the next backup */
    FO_RULE_DEADLINE,             /* provision: its calls take a growing share
                                     of their deadline */
    FO_RULE_RISK_HOT,             /* a ready warm standby made hot: risk higher still */
    FO_NB_RULES
} FoRule;

typedef struct FoAction {
    CompOp op;                    /* COMP_OP_ADD: run the provision hook for a
                                     new instance; its URL becomes it */
    int instance;
    FoRule rule;
    float risk;                   /* the risk that made it */
} FoAction;

/* The orchestrator's memory of one component; zero it to start. */
typedef struct FoCompState {
    int above;                    /* ticks in a row above provision_above */
    int64_t low_since;            /* risk below release_below since; 0 not */
    int64_t provisioned_at;       /* the backup it opened on risk; 0 none */
    int instance;                 /* ... which one */
    int adding;                   /* ... asked of the provision hook (ADD):
                                     it exists once the stage adds it */
    float primary_risk;           /* last risk while the primary was in use */
    int primary_seen;             /* ... known at all (a model runs) */
    int alarm;                    /* risk went above provision_above and has
                                     not come back below release_below */
    int active;                   /* the instance in use at the last decision */
    int64_t switch_at;            /* a switch away posted then (0: none) ... */
    int switch_from;              /* ... from this instance */
    int64_t cycles[FO_CYCLES_KEPT];   /* times of its last provisions, a ring */
    int cycle_pos;
    int hot_ticks;                /* ticks in a row above hot_above */
} FoCompState;

const char *fo_rule_name(FoRule r);

/* Sets the defaults: standby on_risk, provision above thr_high, release
 * below thr_low, no proactive switch, confirm 3 ticks, keep 60 s, no
 * switch back, 6 cycles an hour, an ADD awaited 40 s (a hook's default
 * deadline and 10 s), no standby made hot. */
void fo_policy_default(FoPolicy *p, float thr_high, float thr_low);

/*
 * The decisions for one component at now_us: writes up to max actions to
 * out and returns how many. s learns the risk's course; what the actions
 * change in it is applied by fo_applied, for the actions the budget
 * granted and that were posted. A request refused later needs no undoing:
 * the next tick sees the published states and decides again.
 */
int fo_decide(FoCompState *s, const FoView *v, const FoPolicy *p, int64_t now_us,
              FoAction *out, int max);

/*
 * The risk the rules act on: the model's (< 0 unknown), or, when larger,
 * the deadline's: a component whose calls (an output's writes, an
 * encoder's encode call, the one under way included) take a share `use`
 * of the deadline after which the data plane fails it is at risk however
 * well the model knows it. Up to FO_DEADLINE_USE (half the deadline) that
 * risk rises to release_below, beyond it from provision_above to 1 at the
 * deadline: a call taking more than half its deadline for confirm ticks
 * opens the backup; near the deadline, a switch_above switch. Returns < 0
 * when neither is known; *deadline is set when the deadline's is the one.
 */
#define FO_DEADLINE_USE 0.5
/* The thresholds without a model (its own come with it): only the
 * deadline's risk is known then. */
#define FO_DEFAULT_ABOVE 0.8f
#define FO_DEFAULT_BELOW 0.4f
float fo_effective_risk(float risk, double use, const FoPolicy *p, int *deadline);

/* The risk's crossings, with hysteresis: 1 when risk rises above
 * provision_above (once, until it is back below release_below), -1 when
 * it comes back below release_below, 0 otherwise (and for an unknown
 * risk). Each is an event of its own kind (EV_RISK). */
int fo_crossing(FoCompState *s, float risk, const FoPolicy *p);

/* Records that action a was posted at now_us. */
void fo_applied(FoCompState *s, const FoAction *a, int64_t now_us);

/* A candidate action of one component, for the job-wide budget. */
typedef struct FoCandidate {
    FoAction a;
    int comp;                     /* the caller's index of the component */
    int granted;                  /* set by fo_budget */
} FoCandidate;

/*
 * The job-wide budget of backups open ahead: of the provisions among c,
 * grants at most slots, the highest risks first (a component that must
 * keep a standby, standby: always, and a re-provision after a failover
 * come before any on risk); every other action is granted, a standby
 * made hot too (it is open already). Returns how many provisions were
 * granted.
 */
int fo_budget(FoCandidate *c, int n, int slots);

/* Orders the candidates as they are acted on: releases (they make room),
 * the promises (standby: always, a re-provision), then the highest risk,
 * equals in their order; so that where a budget binds further down (a device's sessions,
 * dra/place.h), the highest risks win there too. */
void fo_order(FoCandidate *c, int n);

/* Provisions on risk in the last hour (for the budget and the tests). */
int fo_cycles_last_hour(const FoCompState *s, int64_t now_us);

#endif
