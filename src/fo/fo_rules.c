/*
 * fo_rules.c: the orchestrator's rules for one component; see fo_rules.h.
 */
#include <math.h>

#include "fo/fo_rules.h"

#define HOUR_US (3600 * 1000000LL)

const char *fo_rule_name(FoRule r)
{
    static const char *const names[FO_NB_RULES] = {
        [FO_RULE_RISK_HIGH] = "risk_high", [FO_RULE_RISK_LOW] = "risk_low",
        [FO_RULE_SWITCH_AWAY] = "switch_away", [FO_RULE_SWITCH_BACK] = "switch_back",
        [FO_RULE_STANDBY_ALWAYS] = "standby_always", [FO_RULE_REPROVISION] = "reprovision",
        [FO_RULE_DEADLINE] = "deadline",
        [FO_RULE_RISK_HOT] = "risk_hot",
    };
    return (unsigned)r < FO_NB_RULES ? names[r] : "?";
}

void fo_policy_default(FoPolicy *p, float thr_high, float thr_low)
{
    *p = (FoPolicy){
        .standby = JOB_STANDBY_ON_RISK,
        .provision_above = thr_high,
        .release_below = thr_low,
        .switch_above = 2,
        .confirm_ticks = 3,
        .keep_us = 60 * 1000000LL,
        .switch_back_us = 0,
        .max_cycles = 6,
        .add_wait_us = 40 * 1000000LL,
        .hot_above = 2,
    };
}

float fo_effective_risk(float risk, double use, const FoPolicy *p, int *deadline)
{
    double hi = p->provision_above, lo = fmax(p->release_below, 0), d;

    *deadline = 0;
    if (use < 0)
        return risk;
    d = use <= FO_DEADLINE_USE ? lo * use / FO_DEADLINE_USE :
        hi + (1 - hi) * fmin((use - FO_DEADLINE_USE) / (1 - FO_DEADLINE_USE), 1);
    if (d <= risk)
        return risk;
    *deadline = 1;
    return (float)fmin(d, 1);
}

int fo_crossing(FoCompState *s, float risk, const FoPolicy *p)
{
    if (risk < 0)
        return 0;
    if (!s->alarm && risk > p->provision_above) {
        s->alarm = 1;
        return 1;
    }
    if (s->alarm && risk < p->release_below) {
        s->alarm = 0;
        return -1;
    }
    return 0;
}

static int is_provision(CompOp op)
{
    return op == COMP_OP_PROVISION || op == COMP_OP_ADD;
}

void fo_applied(FoCompState *s, const FoAction *a, int64_t now_us)
{
    if (a->rule == FO_RULE_RISK_HOT)
        return;                   /* it was open already: nothing of ours to release */
    if (is_provision(a->op) && a->rule != FO_RULE_STANDBY_ALWAYS) {
        s->provisioned_at = now_us;
        s->instance = a->instance;
        s->adding = a->op == COMP_OP_ADD;
        if (a->rule == FO_RULE_RISK_HIGH || a->rule == FO_RULE_DEADLINE) {
            s->cycles[s->cycle_pos] = now_us;
            s->cycle_pos = (s->cycle_pos + 1) % FO_CYCLES_KEPT;
        }
    } else if (a->op == COMP_OP_RELEASE) {
        s->provisioned_at = 0;
    } else if (a->op == COMP_OP_SWITCH && a->rule == FO_RULE_SWITCH_AWAY) {
        s->switch_at = now_us;
        s->switch_from = s->active;
    }
}

int fo_cycles_last_hour(const FoCompState *s, int64_t now_us)
{
    int n = 0;

    for (int i = 0; i < FO_CYCLES_KEPT; i++)
        n += s->cycles[i] && now_us - s->cycles[i] < HOUR_US;
    return n;
}

static int is_open(InstState st)
{
    return st == INST_OPENING || st == INST_READY;
}

static int add(FoAction *out, int n, int max, CompOp op, int instance, FoRule rule, float risk)
{
    if (n < max)
        out[n++] = (FoAction){ op, instance, rule, risk };
    return n;
}

int fo_decide(FoCompState *s, const FoView *v, const FoPolicy *p, int64_t now_us,
              FoAction *out, int max)
{
    const CompStatus *st = &v->st;
    FoPolicy all_open;
    int active = st->active, n = 0, backup_open = -1, ready = -1, idle = -1, extra = -1,
        adding = 0, deadline;
    float risk = fo_effective_risk(v->risk, v->use, p, &deadline);

    if ((st->nb_instances < 2 && v->add_instance <= 0) || active < 0)
        return 0;
    /* a backup asked of the provision hook: opening until the stage has it
     * (from then on an ordinary backup: its state says, and once it is let
     * go, by anyone, another may be asked for), or forgotten once add_wait
     * has passed without it (the hook failed, or gave no URL to use) */
    if (s->adding && s->instance < st->nb_instances && st->inst[s->instance].state != INST_VACANT)
        s->adding = 0;
    if (s->provisioned_at && s->adding &&
        (s->instance >= st->nb_instances || st->inst[s->instance].state == INST_VACANT)) {
        if (now_us - s->provisioned_at < p->add_wait_us)
            adding = 1;
        else
            s->provisioned_at = 0;
    }
    for (int i = 0; i < st->nb_instances; i++) {
        if (i == active)
            continue;
        if (is_open(st->inst[i].state) && backup_open < 0)
            backup_open = i;
        /* a ready backup before a ready primary (for a switch away) */
        if (st->inst[i].state == INST_READY && (ready < 0 || (ready == 0 && i > 0)))
            ready = i;
        if (i > 0 && st->inst[i].state == INST_IDLE && idle < 0)
            idle = i;
        if (i > 0 && is_open(st->inst[i].state) && extra < 0)
            extra = i;
    }

    /* on risk, a backup open that the orchestrator did not open (the
     * reflex opened it cold, a drill or hotspare ctl asked) is let go like
     * one of its own once the risk has passed; an input that reads every
     * source all the time has nothing to open or let go */
    if (st->all_open) {
        all_open = *p;
        all_open.standby = JOB_STANDBY_NEVER;
        p = &all_open;
    } else if (p->standby == JOB_STANDBY_ON_RISK && !s->provisioned_at && extra >= 0) {
        s->provisioned_at = now_us;
        s->instance = extra;
    }

    /* what the risk has been doing (unknown: neither high nor low) */
    if (active == 0 && risk >= 0) {
        s->primary_risk = risk;
        s->primary_seen = 1;
    }
    s->above = risk >= 0 && risk > p->provision_above ? s->above + 1 : 0;
    if (risk >= 0 && risk < p->release_below) {
        if (!s->low_since)
            s->low_since = now_us;
    } else {
        s->low_since = 0;
    }

    /* a backup ahead: a closed one, or else one from the provision hook
     * (standby: always keeps the job's own: the stages reopen them) */
    if (backup_open < 0 && !adding && (idle >= 0 || v->add_instance > 0)) {
        FoRule rule = FO_NB_RULES;
        if (p->standby == JOB_STANDBY_ALWAYS)
            rule = idle >= 0 ? FO_RULE_STANDBY_ALWAYS : FO_NB_RULES;
        else if (p->standby == JOB_STANDBY_ON_RISK && v->failovers)
            rule = FO_RULE_REPROVISION;
        else if (p->standby == JOB_STANDBY_ON_RISK && s->above >= p->confirm_ticks &&
                 fo_cycles_last_hour(s, now_us) < p->max_cycles)
            rule = deadline ? FO_RULE_DEADLINE : FO_RULE_RISK_HIGH;
        if (rule != FO_NB_RULES)
            n = idle >= 0 ? add(out, n, max, COMP_OP_PROVISION, idle, rule, risk)
                          : add(out, n, max, COMP_OP_ADD, v->add_instance, rule, risk);
    }

    /* ... let go once the risk has passed: never the one in use */
    if (p->standby == JOB_STANDBY_ON_RISK && s->provisioned_at && !adding && s->low_since &&
        now_us - s->low_since >= p->keep_us && now_us - s->provisioned_at >= p->keep_us) {
        if (s->instance != active && s->instance < st->nb_instances &&
            is_open(st->inst[s->instance].state))
            n = add(out, n, max, COMP_OP_RELEASE, s->instance, FO_RULE_RISK_LOW, risk);
        else
            s->provisioned_at = 0;    /* in use, or gone: nothing of ours to release */
    }

    /* a warm standby encoder made hot while the risk stays higher still:
     * fed every frame, a switch to it costs no burst of encoding. Asked
     * again each tick until it is published hot. */
    s->hot_ticks = risk >= 0 && risk > p->hot_above ? s->hot_ticks + 1 : 0;
    if (st->hot_capable && s->hot_ticks >= p->confirm_ticks)
        for (int i = 0; i < st->nb_instances; i++)
            if (i != active && st->inst[i].state == INST_READY && !st->inst[i].hot) {
                n = add(out, n, max, COMP_OP_PROVISION, i, FO_RULE_RISK_HOT, risk);
                break;
            }

    /* move before it breaks, to a backup that is ready; to the primary
     * only if it was healthy when last in use (no ping-pong between two
     * instances that are both at risk) */
    if (ready == 0 && s->primary_seen && s->primary_risk >= p->release_below)
        ready = -1;
    s->active = active;
    if (s->switch_at && (active != s->switch_from || now_us - s->switch_at >= FO_SWITCH_WAIT_US))
        s->switch_at = 0;         /* carried out, or given up */
    if (risk >= 0 && risk > p->switch_above && ready >= 0 && !s->switch_at) {
        n = add(out, n, max, COMP_OP_SWITCH, ready, FO_RULE_SWITCH_AWAY, risk);
        return n;
    }

    /* back to the primary only while it is healthy */
    if (active > 0 && p->switch_back_us && st->inst[0].state == INST_READY &&
        now_us - st->inst[0].since_us >= p->switch_back_us &&
        (!s->primary_seen || s->primary_risk < p->release_below))
        n = add(out, n, max, COMP_OP_SWITCH, 0, FO_RULE_SWITCH_BACK, s->primary_risk);
    return n;
}

/* Who gets a slot first: the rules that keep a promise, then the risk. */
static double priority(const FoAction *a)
{
    if (a->rule == FO_RULE_STANDBY_ALWAYS || a->rule == FO_RULE_REPROVISION)
        return 2;
    return a->risk;
}

/* releases first: they make room */
static double order_key(const FoAction *a)
{
    return a->op == COMP_OP_RELEASE ? 3 : priority(a);
}

void fo_order(FoCandidate *c, int n)
{
    /* insertion sort: n is small, and it keeps the order of equals */
    for (int i = 1; i < n; i++) {
        FoCandidate x = c[i];
        int k = i;
        while (k > 0 && order_key(&c[k - 1].a) < order_key(&x.a)) {
            c[k] = c[k - 1];
            k--;
        }
        c[k] = x;
    }
}

int fo_budget(FoCandidate *c, int n, int slots)
{
    int granted = 0;

    for (int i = 0; i < n; i++)
        c[i].granted = !is_provision(c[i].a.op) || c[i].a.rule == FO_RULE_RISK_HOT;
    /* n is small (components with a provision this tick): pick the best
     * remaining one slots times */
    while (granted < slots) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!c[i].granted && is_provision(c[i].a.op) &&
                (best < 0 || priority(&c[i].a) > priority(&c[best].a)))
                best = i;
        if (best < 0)
            break;
        c[best].granted = 1;
        granted++;
    }
    return granted;
}
