/*
 * fo_test.c: the orchestrator's rules (fo/fo_rules.h) on synthetic
 * sequences of (risk, published states, time): provisioning after confirm
 * ticks, release after keep and never of the instance in use, flapping
 * bounded per hour, the proactive switch, switching back only to a healthy
 * primary, standby always and never, re-provisioning after a failover, a
 * failure while provisioning, a backup asked of the provision hook (add),
 * the job-wide budget, and a warm standby encoder made hot on risk.
 */
#include <string.h>

#include <CUnit/Basic.h>

#include "fo/fo_rules.h"

#define S 1000000LL

/* A component of nb instances, instance active in use, the others idle. */
static FoView view(int nb, int active, float risk)
{
    FoView v = { .risk = risk, .use = -1 };

    v.st.nb_instances = nb;
    v.st.active = active;
    for (int i = 0; i < nb; i++)
        v.st.inst[i].state = i == active ? INST_ACTIVE : INST_IDLE;
    return v;
}

/* One tick: decide, apply what was decided, return the count. */
static int tick(FoCompState *s, const FoView *v, const FoPolicy *p, int64_t t, FoAction *a)
{
    int n = fo_decide(s, v, p, t, a, 4);
    for (int i = 0; i < n; i++)
        fo_applied(s, &a[i], t);
    return n;
}

static FoPolicy policy(void)
{
    FoPolicy p;
    fo_policy_default(&p, 0.8f, 0.4f);
    return p;
}

static void test_provision_after_confirm(void)
{
    FoPolicy p = policy();
    FoCompState s = { 0 };
    FoAction a[4];
    FoView v = view(2, 0, 0.9f);

    CU_ASSERT(tick(&s, &v, &p, 1 * S, a) == 0);
    CU_ASSERT(tick(&s, &v, &p, 2 * S, a) == 0);
    CU_ASSERT_FATAL(tick(&s, &v, &p, 3 * S, a) == 1);
    CU_ASSERT(a[0].op == COMP_OP_PROVISION);
    CU_ASSERT(a[0].instance == 1);
    CU_ASSERT(a[0].rule == FO_RULE_RISK_HIGH);
    CU_ASSERT(a[0].risk > 0.89f);
    /* opening, then ready: nothing more to ask */
    v.st.inst[1].state = INST_OPENING;
    CU_ASSERT(tick(&s, &v, &p, 4 * S, a) == 0);
    v.st.inst[1].state = INST_READY;
    CU_ASSERT(tick(&s, &v, &p, 5 * S, a) == 0);

    /* one tick below the threshold restarts the count */
    {
        FoCompState s2 = { 0 };
        FoView w = view(2, 0, 0.9f);
        tick(&s2, &w, &p, 1 * S, a);
        tick(&s2, &w, &p, 2 * S, a);
        w.risk = 0.5f;
        CU_ASSERT(tick(&s2, &w, &p, 3 * S, a) == 0);
        w.risk = 0.9f;
        CU_ASSERT(tick(&s2, &w, &p, 4 * S, a) == 0);
        CU_ASSERT(tick(&s2, &w, &p, 5 * S, a) == 0);
        CU_ASSERT(tick(&s2, &w, &p, 6 * S, a) == 1);
    }
    /* no risk known (no model): nothing on risk */
    {
        FoCompState s3 = { 0 };
        FoView w = view(2, 0, -1);
        for (int t = 1; t < 20; t++)
            CU_ASSERT(tick(&s3, &w, &p, t * S, a) == 0);
    }
    /* nothing to provision without a backup */
    {
        FoCompState s4 = { 0 };
        FoView w = view(1, 0, 0.99f);
        for (int t = 1; t < 10; t++)
            CU_ASSERT(tick(&s4, &w, &p, t * S, a) == 0);
    }
}

static void test_release_after_keep(void)
{
    FoPolicy p = policy();
    FoCompState s = { 0 };
    FoAction a[4];
    FoView v = view(2, 0, 0.9f);
    int64_t t = 0;

    for (int i = 0; i < 3; i++)
        tick(&s, &v, &p, t += S, a);
    CU_ASSERT(s.provisioned_at == 3 * S);
    v.st.inst[1].state = INST_READY;
    /* low from t = 4 s: released once both the low stretch and the
     * provision are keep (60 s) old */
    v.risk = 0.2f;
    for (t = 4 * S; t < 64 * S; t += S)
        CU_ASSERT(tick(&s, &v, &p, t, a) == 0);
    CU_ASSERT_FATAL(tick(&s, &v, &p, 64 * S, a) == 1);
    CU_ASSERT(a[0].op == COMP_OP_RELEASE);
    CU_ASSERT(a[0].instance == 1);
    CU_ASSERT(a[0].rule == FO_RULE_RISK_LOW);
    v.st.inst[1].state = INST_IDLE;
    CU_ASSERT(tick(&s, &v, &p, 65 * S, a) == 0);

    /* a risk in between (neither high nor low) holds the backup */
    {
        FoCompState s2 = { 0 };
        FoView w = view(2, 0, 0.9f);
        for (int i = 1; i <= 3; i++)
            tick(&s2, &w, &p, i * S, a);
        w.st.inst[1].state = INST_READY;
        for (int i = 4; i < 200; i++) {
            w.risk = i % 10 ? 0.2f : 0.6f;
            CU_ASSERT(tick(&s2, &w, &p, i * S, a) == 0);
        }
    }
}

/* The deadline's risk: a component whose calls take more than half their
 * deadline is at risk whatever the model says (or without one), and the
 * decision names the rule. */
static void test_deadline(void)
{
    FoPolicy p = policy();
    FoCompState s = { 0 };
    FoAction a[4];
    FoView v = view(2, 0, 0.1f);
    int dl;

    /* the scale: half the deadline is release_below, past it
     * provision_above to 1 at the deadline */
    CU_ASSERT_DOUBLE_EQUAL(fo_effective_risk(-1, 0.25, &p, &dl), 0.2, 1e-6);
    CU_ASSERT(dl);
    CU_ASSERT_DOUBLE_EQUAL(fo_effective_risk(-1, 0.75, &p, &dl), 0.9, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(fo_effective_risk(-1, 3.0, &p, &dl), 1.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(fo_effective_risk(0.95f, 0.75, &p, &dl), 0.95, 1e-6);
    CU_ASSERT(!dl);                            /* the model's is larger */
    CU_ASSERT_DOUBLE_EQUAL(fo_effective_risk(0.3f, -1, &p, &dl), 0.3, 1e-6);
    CU_ASSERT(!dl);
    CU_ASSERT(fo_effective_risk(-1, -1, &p, &dl) < 0);

    /* writes at 60 % of the deadline for confirm ticks: provisioned */
    v.use = 0.6;
    CU_ASSERT(tick(&s, &v, &p, 1 * S, a) == 0);
    CU_ASSERT(tick(&s, &v, &p, 2 * S, a) == 0);
    CU_ASSERT_FATAL(tick(&s, &v, &p, 3 * S, a) == 1);
    CU_ASSERT(a[0].op == COMP_OP_PROVISION && a[0].rule == FO_RULE_DEADLINE);
    CU_ASSERT(a[0].risk > p.provision_above);
    CU_ASSERT_STRING_EQUAL(fo_rule_name(FO_RULE_DEADLINE), "deadline");
    /* near the deadline, with a proactive switch on: switched away */
    v.st.inst[1].state = INST_READY;
    p.switch_above = 0.95f;
    v.use = 0.97;
    CU_ASSERT_FATAL(tick(&s, &v, &p, 4 * S, a) == 1);
    CU_ASSERT(a[0].op == COMP_OP_SWITCH && a[0].rule == FO_RULE_SWITCH_AWAY);
    /* short calls keep the risk low: released after keep */
    {
        FoCompState s2 = { 0 };
        FoView w = view(2, 0, -1);
        int released = 0;
        FoPolicy q = policy();
        w.use = 0.7;
        for (int t = 1; t <= 3; t++)
            tick(&s2, &w, &q, t * S, a);
        w.st.inst[1].state = INST_READY;
        w.use = 0.05;
        for (int t = 4; t <= 70; t++)
            released += tick(&s2, &w, &q, t * S, a) == 1 && a[0].op == COMP_OP_RELEASE;
        CU_ASSERT_EQUAL(released, 1);
    }
}

/* A backup the orchestrator did not open (the reflex opened it cold, a
 * drill or ctl asked) is let go like its own once the risk has passed;
 * never the primary, never one in use; an input that reads every source
 * all the time (all_open) gets neither provisions nor releases. */
static void test_adopt_and_all_open(void)
{
    FoPolicy p = policy();
    FoAction a[4];
    int64_t t;

    {
        FoCompState s = { 0 };
        FoView v = view(3, 0, 0.1f);
        int released = 0;
        v.st.inst[2].state = INST_READY;        /* opened by someone else */
        for (t = S; t <= 70 * S; t += S) {
            int n = tick(&s, &v, &p, t, a);
            if (n) {
                CU_ASSERT(a[0].op == COMP_OP_RELEASE);
                CU_ASSERT(a[0].instance == 2);
                CU_ASSERT(t >= 61 * S);          /* keep after it was seen */
                v.st.inst[2].state = INST_IDLE;
                released++;
            }
        }
        CU_ASSERT(released == 1);
    }
    {
        /* after a failover to backup 1, the primary comes back: it is not
         * adopted (a primary is never released), and the backup in use is
         * not released */
        FoCompState s = { 0 };
        FoView v = view(2, 1, 0.1f);
        v.st.inst[0].state = INST_READY;
        for (t = S; t <= 200 * S; t += S)
            CU_ASSERT(tick(&s, &v, &p, t, a) == 0);
    }
    {
        /* prefetch: always: backups open, and high risk asks nothing */
        FoCompState s = { 0 };
        FoView v = view(2, 0, 0.99f);
        v.st.all_open = 1;
        v.st.inst[1].state = INST_IDLE;         /* a file backup that ended */
        for (t = S; t <= 10 * S; t += S)
            CU_ASSERT(tick(&s, &v, &p, t, a) == 0);
        v.st.inst[1].state = INST_READY;
        v.risk = 0.1f;
        for (t = 11 * S; t <= 200 * S; t += S)
            CU_ASSERT(tick(&s, &v, &p, t, a) == 0);
    }
}

static void test_never_release_in_use(void)
{
    FoPolicy p = policy();
    FoCompState s = { 0 };
    FoAction a[4];
    FoView v = view(2, 0, 0.9f);

    for (int i = 1; i <= 3; i++)
        tick(&s, &v, &p, i * S, a);
    /* the reflex switched to the backup, which is now in use */
    v = view(2, 1, 0.1f);
    v.st.inst[0].state = INST_BACKOFF;
    for (int i = 4; i < 200; i++) {
        int n = tick(&s, &v, &p, i * S, a);
        for (int k = 0; k < n; k++)
            CU_ASSERT(!(a[k].op == COMP_OP_RELEASE && a[k].instance == 1));
    }
    CU_ASSERT(s.provisioned_at == 0);
}

static void test_flapping_bounded(void)
{
    FoPolicy p = policy();
    FoCompState s = { 0 };
    FoAction a[4];
    FoView v = view(2, 0, 0);
    int provisions = 0, releases = 0;

    p.confirm_ticks = 1;
    p.keep_us = 5 * S;
    /* one hour of a risk that crosses both thresholds every 10 s */
    for (int64_t t = 1; t <= 3600; t++) {
        int n;
        v.risk = (t / 10) % 2 ? 0.85f : 0.35f;
        n = tick(&s, &v, &p, t * S, a);
        for (int k = 0; k < n; k++) {
            if (a[k].op == COMP_OP_PROVISION) {
                provisions++;
                v.st.inst[a[k].instance].state = INST_READY;
            } else if (a[k].op == COMP_OP_RELEASE) {
                releases++;
                v.st.inst[a[k].instance].state = INST_IDLE;
            }
        }
    }
    CU_ASSERT(provisions == p.max_cycles);
    CU_ASSERT(releases <= provisions);
    CU_ASSERT(fo_cycles_last_hour(&s, 3600 * S) == p.max_cycles);
    /* an hour after the last, the budget is back */
    CU_ASSERT(fo_cycles_last_hour(&s, 3 * 3600 * S) == 0);
}

static void test_switch_away(void)
{
    FoPolicy p = policy();
    FoCompState s = { 0 };
    FoAction a[4];
    FoView v = view(3, 0, 0.97f);

    p.switch_above = 0.95f;
    /* a backup that is only opening is not switched to */
    v.st.inst[1].state = INST_OPENING;
    CU_ASSERT(tick(&s, &v, &p, 1 * S, a) == 0);
    v.st.inst[1].state = INST_READY;
    CU_ASSERT_FATAL(tick(&s, &v, &p, 2 * S, a) == 1);
    CU_ASSERT(a[0].op == COMP_OP_SWITCH && a[0].instance == 1 && a[0].rule == FO_RULE_SWITCH_AWAY);
    /* the switch waits for its keyframe: not asked again meanwhile, and
     * asked again once FO_SWITCH_WAIT_US has passed without it */
    CU_ASSERT(tick(&s, &v, &p, 2 * S + S / 2, a) == 0);
    CU_ASSERT(tick(&s, &v, &p, 6 * S, a) == 0);
    CU_ASSERT_FATAL(tick(&s, &v, &p, 7 * S, a) == 1);
    CU_ASSERT(a[0].op == COMP_OP_SWITCH && a[0].instance == 1);
    /* on the backup now, still at risk: not back to the primary that was
     * at risk too, only to another backup */
    v.st.active = 1;
    v.st.inst[1].state = INST_ACTIVE;
    v.st.inst[0].state = INST_READY;
    for (int t = 3; t < 10; t++)
        CU_ASSERT(tick(&s, &v, &p, t * S, a) == 0);
    v.st.inst[2].state = INST_READY;
    CU_ASSERT_FATAL(tick(&s, &v, &p, 10 * S, a) == 1);
    CU_ASSERT(a[0].op == COMP_OP_SWITCH && a[0].instance == 2);
    /* off by default */
    {
        FoPolicy q = policy();
        FoCompState s2 = { 0 };
        for (int i = 1; i < 10; i++)
            for (int k = 0, n = tick(&s2, &v, &q, i * S, a); k < n; k++)
                CU_ASSERT(a[k].op != COMP_OP_SWITCH);
    }
}

static void test_switch_back(void)
{
    FoPolicy p = policy();
    FoAction a[4];

    p.switch_back_us = 10 * S;
    for (int degrading = 0; degrading < 2; degrading++) {
        FoCompState s = { 0 };
        FoView v = view(2, 0, degrading ? 0.7f : 0.1f);
        int backs = 0;
        tick(&s, &v, &p, 1 * S, a);
        /* the primary failed; the backup took over; the primary is open
         * again from t = 5 s */
        v = view(2, 1, 0.1f);
        v.st.inst[0].state = INST_READY;
        v.st.inst[0].since_us = 5 * S;
        for (int64_t t = 2; t < 60; t++) {
            int n = tick(&s, &v, &p, t * S, a);
            for (int k = 0; k < n; k++)
                if (a[k].op == COMP_OP_SWITCH && a[k].instance == 0) {
                    backs++;
                    CU_ASSERT(t >= 15);
                    CU_ASSERT(a[k].rule == FO_RULE_SWITCH_BACK);
                }
        }
        /* not back to a primary whose risk was rising when last seen */
        CU_ASSERT(degrading ? backs == 0 : backs > 0);
    }
    /* never: switch_back 0 */
    {
        FoPolicy q = policy();
        FoCompState s = { 0 };
        FoView v = view(2, 1, 0.1f);
        v.st.inst[0].state = INST_READY;
        for (int t = 1; t < 100; t++)
            CU_ASSERT(tick(&s, &v, &q, t * S, a) == 0);
    }
}

static void test_standby_modes(void)
{
    FoPolicy p = policy();
    FoAction a[4];

    /* always: one ready whatever the risk, again after each use */
    {
        FoCompState s = { 0 };
        FoView v = view(2, 0, 0.0f);
        p.standby = JOB_STANDBY_ALWAYS;
        CU_ASSERT_FATAL(tick(&s, &v, &p, 1 * S, a) == 1);
        CU_ASSERT(a[0].op == COMP_OP_PROVISION && a[0].rule == FO_RULE_STANDBY_ALWAYS);
        v.st.inst[1].state = INST_READY;
        for (int t = 2; t < 200; t++)
            CU_ASSERT(tick(&s, &v, &p, t * S, a) == 0);     /* and never released */
    }
    /* never: nothing opened ahead, even at a risk of 1 */
    {
        FoCompState s = { 0 };
        FoView v = view(2, 0, 1.0f);
        p.standby = JOB_STANDBY_NEVER;
        for (int t = 1; t < 100; t++)
            CU_ASSERT(tick(&s, &v, &p, t * S, a) == 0);
    }
}

static void test_reprovision_and_failed_provision(void)
{
    FoPolicy p = policy();
    FoCompState s = { 0 };
    FoAction a[4];
    FoView v = view(3, 0, 0.9f);

    for (int i = 1; i <= 3; i++)
        tick(&s, &v, &p, i * S, a);
    /* the backup failed while opening: it backs off; the next one is
     * asked for while the risk stays high */
    v.st.inst[1].state = INST_BACKOFF;
    CU_ASSERT_FATAL(tick(&s, &v, &p, 4 * S, a) == 1);
    CU_ASSERT(a[0].op == COMP_OP_PROVISION && a[0].instance == 2);
    /* the reflex moved to backup 2 on a failure of the primary: with no
     * other backup open, the next one (1, idle again) at once, whatever
     * the risk */
    v = view(3, 2, 0.0f);
    v.st.inst[0].state = INST_BACKOFF;
    v.failovers = 1;
    CU_ASSERT_FATAL(tick(&s, &v, &p, 5 * S, a) == 1);
    CU_ASSERT(a[0].op == COMP_OP_PROVISION && a[0].instance == 1 && a[0].rule == FO_RULE_REPROVISION);
}

/* An output without a closed backup whose provision hook may give one:
 * the hook is asked (ADD) for the next instance after confirm ticks; while
 * its URL is awaited nothing more is asked; once the stage has it, it is
 * an ordinary backup (released on low risk); a hook that gave nothing is
 * forgotten after add_wait and asked again; a job backup that is closed is
 * preferred to the hook. */
static void test_add_from_hook(void)
{
    FoPolicy p = policy();
    FoCompState s = { 0 };
    FoAction a[4];
    FoView v = view(1, 0, 0.9f);

    /* no hook (add_instance 0): a component without backups is left alone */
    for (int i = 1; i <= 4; i++)
        CU_ASSERT_EQUAL(tick(&s, &v, &p, i * S, a), 0);
    memset(&s, 0, sizeof(s));
    v.add_instance = 1;
    CU_ASSERT_EQUAL(tick(&s, &v, &p, 1 * S, a), 0);
    CU_ASSERT_EQUAL(tick(&s, &v, &p, 2 * S, a), 0);
    CU_ASSERT_FATAL(tick(&s, &v, &p, 3 * S, a) == 1);
    CU_ASSERT(a[0].op == COMP_OP_ADD && a[0].instance == 1 && a[0].rule == FO_RULE_RISK_HIGH);
    CU_ASSERT(s.adding && s.provisioned_at == 3 * S);
    /* the hook runs: nothing more is asked until add_wait has passed */
    for (int64_t t = 4 * S; t < 3 * S + p.add_wait_us; t += S)
        CU_ASSERT_EQUAL(tick(&s, &v, &p, t, a), 0);
    /* it gave nothing: forgotten, and asked again (the risk is still high) */
    CU_ASSERT_FATAL(tick(&s, &v, &p, 3 * S + p.add_wait_us, a) == 1);
    CU_ASSERT(a[0].op == COMP_OP_ADD && a[0].instance == 1);
    /* this time the stage added it: opening, then ready; no more asked */
    v = view(2, 0, 0.9f);
    v.add_instance = 2;
    v.st.inst[1].state = INST_OPENING;
    v.st.inst[1].dynamic = 1;
    CU_ASSERT_EQUAL(tick(&s, &v, &p, 50 * S, a), 0);
    CU_ASSERT_FALSE(s.adding);                          /* an ordinary backup now */
    v.st.inst[1].state = INST_READY;
    CU_ASSERT_EQUAL(tick(&s, &v, &p, 51 * S, a), 0);
    /* let go by someone else (ctl): its slot gone, the hook is asked at once */
    {
        FoCompState kept = s;
        FoView gone = view(1, 0, 0.9f);
        gone.add_instance = 1;
        CU_ASSERT_FATAL(tick(&kept, &gone, &p, 51 * S + S / 2, a) == 1);
        CU_ASSERT(a[0].op == COMP_OP_ADD && a[0].instance == 1);
    }
    /* the risk passes: it is released after keep like any backup ahead */
    v.risk = 0.1f;
    CU_ASSERT_EQUAL(tick(&s, &v, &p, 52 * S, a), 0);
    CU_ASSERT_FATAL(tick(&s, &v, &p, 52 * S + p.keep_us, a) == 1);
    CU_ASSERT(a[0].op == COMP_OP_RELEASE && a[0].instance == 1);
    /* its slot is vacant now: the hook fills it when the risk is back */
    v = view(2, 0, 0.9f);
    v.st.inst[1].state = INST_VACANT;
    v.add_instance = 1;
    for (int i = 1; i <= 2; i++)
        CU_ASSERT_EQUAL(tick(&s, &v, &p, 200 * S + i * S, a), 0);
    CU_ASSERT_FATAL(tick(&s, &v, &p, 203 * S, a) == 1);
    CU_ASSERT(a[0].op == COMP_OP_ADD && a[0].instance == 1);
    CU_ASSERT_EQUAL(tick(&s, &v, &p, 204 * S, a), 0);   /* awaited, vacant still */

    /* after a reflex failover to the added backup: the hook again, at once */
    memset(&s, 0, sizeof(s));
    v = view(2, 1, 0.0f);
    v.st.inst[0].state = INST_BACKOFF;
    v.failovers = 1;
    v.add_instance = 2;
    CU_ASSERT_FATAL(tick(&s, &v, &p, 1 * S, a) == 1);
    CU_ASSERT(a[0].op == COMP_OP_ADD && a[0].instance == 2 && a[0].rule == FO_RULE_REPROVISION);

    /* a closed job backup comes first; standby: always never asks the hook */
    memset(&s, 0, sizeof(s));
    v = view(2, 0, 0.9f);
    v.add_instance = 2;
    for (int i = 1; i <= 3; i++)
        tick(&s, &v, &p, i * S, a);
    CU_ASSERT(a[0].op == COMP_OP_PROVISION && a[0].instance == 1);
    memset(&s, 0, sizeof(s));
    p.standby = JOB_STANDBY_ALWAYS;
    v = view(1, 0, 0.9f);
    v.add_instance = 1;
    for (int i = 1; i <= 5; i++)
        CU_ASSERT_EQUAL(tick(&s, &v, &p, i * S, a), 0);
}

/* A ready warm standby encoder made hot when the risk stays above
 * hot_above for confirm ticks; not below it, not while the standby is
 * not ready, not once it is hot, not for a component that has no hot
 * standby; and it takes no slot of the budget and no cycle. */
static void test_hot(void)
{
    FoPolicy p = policy();
    FoAction a[4];

    p.standby = JOB_STANDBY_ALWAYS;
    p.hot_above = 0.9f;
    {
        FoCompState s = { 0 };
        FoView v = view(2, 0, 0.95f);
        v.st.hot_capable = 1;
        v.st.inst[1].state = INST_READY;
        CU_ASSERT(tick(&s, &v, &p, 1 * S, a) == 0);
        CU_ASSERT(tick(&s, &v, &p, 2 * S, a) == 0);
        CU_ASSERT_FATAL(tick(&s, &v, &p, 3 * S, a) == 1);
        CU_ASSERT(a[0].op == COMP_OP_PROVISION && a[0].instance == 1);
        CU_ASSERT(a[0].rule == FO_RULE_RISK_HOT);
        CU_ASSERT(a[0].risk > 0.94f);
        CU_ASSERT(s.provisioned_at == 0);           /* nothing of ours to release */
        CU_ASSERT(fo_cycles_last_hour(&s, 3 * S) == 0);
        /* not published hot yet: asked again; once hot, never */
        CU_ASSERT(tick(&s, &v, &p, 4 * S, a) == 1 && a[0].rule == FO_RULE_RISK_HOT);
        v.st.inst[1].hot = 1;
        for (int t = 5; t < 50; t++)
            CU_ASSERT(tick(&s, &v, &p, t * S, a) == 0);
    }
    /* above provision_above, below hot_above: nothing */
    {
        FoCompState s = { 0 };
        FoView v = view(2, 0, 0.85f);
        v.st.hot_capable = 1;
        v.st.inst[1].state = INST_READY;
        for (int t = 1; t < 50; t++)
            CU_ASSERT(tick(&s, &v, &p, t * S, a) == 0);
        /* one tick below restarts the count */
        v.risk = 0.95f;
        tick(&s, &v, &p, 50 * S, a);
        tick(&s, &v, &p, 51 * S, a);
        v.risk = 0.5f;
        CU_ASSERT(tick(&s, &v, &p, 52 * S, a) == 0);
        v.risk = 0.95f;
        CU_ASSERT(tick(&s, &v, &p, 53 * S, a) == 0);
        CU_ASSERT(tick(&s, &v, &p, 54 * S, a) == 0);
        CU_ASSERT(tick(&s, &v, &p, 55 * S, a) == 1 && a[0].rule == FO_RULE_RISK_HOT);
    }
    /* the standby not ready (opening, backing off, in use), or no hot
     * standby at all (an output's backup): nothing */
    {
        static const InstState not_ready[] = { INST_OPENING, INST_BACKOFF, INST_DRAINING };
        for (size_t k = 0; k < sizeof(not_ready) / sizeof(not_ready[0]); k++) {
            FoCompState s = { 0 };
            FoView v = view(2, 0, 0.95f);
            v.st.hot_capable = 1;
            v.st.inst[1].state = not_ready[k];
            for (int t = 1; t < 10; t++)
                CU_ASSERT(tick(&s, &v, &p, t * S, a) == 0);
        }
        {
            FoCompState s = { 0 };
            FoView v = view(2, 0, 0.95f);
            v.st.inst[1].state = INST_READY;
            for (int t = 1; t < 10; t++)
                CU_ASSERT(tick(&s, &v, &p, t * S, a) == 0);
        }
        /* the standby is the one in use: the primary, ready again, is
         * what is made hot */
        {
            FoCompState s = { 0 };
            FoView v = view(2, 1, 0.95f);
            v.st.hot_capable = 1;
            v.st.inst[0].state = INST_READY;
            tick(&s, &v, &p, 1 * S, a);
            tick(&s, &v, &p, 2 * S, a);
            CU_ASSERT_FATAL(tick(&s, &v, &p, 3 * S, a) == 1);
            CU_ASSERT(a[0].rule == FO_RULE_RISK_HOT && a[0].instance == 0);
        }
    }
    /* off by default */
    {
        FoPolicy d = policy();
        FoCompState s = { 0 };
        FoView v = view(2, 0, 1.0f);
        d.standby = JOB_STANDBY_ALWAYS;
        v.st.hot_capable = 1;
        v.st.inst[1].state = INST_READY;
        for (int t = 1; t < 10; t++)
            CU_ASSERT(tick(&s, &v, &d, t * S, a) == 0);
    }
    /* the budget: a standby made hot opens nothing, so it needs no slot */
    {
        FoCandidate c[2] = {
            { .a = { COMP_OP_PROVISION, 1, FO_RULE_RISK_HOT, 0.95f }, .comp = 0 },
            { .a = { COMP_OP_PROVISION, 1, FO_RULE_RISK_HIGH, 0.99f }, .comp = 1 },
        };
        CU_ASSERT(fo_budget(c, 2, 0) == 0);
        CU_ASSERT(c[0].granted && !c[1].granted);
        CU_ASSERT_STRING_EQUAL(fo_rule_name(FO_RULE_RISK_HOT), "risk_hot");
    }
}

static void test_crossing(void)
{
    FoPolicy p = policy();
    FoCompState s = { 0 };
    int ups = 0, downs = 0;
    /* up once above 0.8, not again while it hovers, down below 0.4 once */
    static const float risk[] = { 0.1f, 0.5f, 0.85f, 0.9f, 0.7f, 0.82f, 0.5f, 0.39f, 0.2f,
                                  -1, 0.95f, -1, 0.1f };
    int want[] = { 0, 0, 1, 0, 0, 0, 0, -1, 0, 0, 1, 0, -1 };

    for (size_t i = 0; i < sizeof(risk) / sizeof(risk[0]); i++) {
        int x = fo_crossing(&s, risk[i], &p);
        CU_ASSERT_EQUAL(x, want[i]);
        ups += x > 0;
        downs += x < 0;
    }
    CU_ASSERT(ups == 2 && downs == 2);
    /* every component has its own: no crossing without a known risk */
    {
        FoCompState t = { 0 };
        CU_ASSERT_EQUAL(fo_crossing(&t, -1, &p), 0);
        CU_ASSERT_EQUAL(fo_crossing(&t, 0.81f, &p), 1);
    }
}

static void test_budget(void)
{
    FoCandidate c[5] = {
        { .a = { COMP_OP_ADD, 1, FO_RULE_RISK_HIGH, 0.85f }, .comp = 0 },   /* counts as one */
        { .a = { COMP_OP_PROVISION, 1, FO_RULE_RISK_HIGH, 0.99f }, .comp = 1 },
        { .a = { COMP_OP_RELEASE, 1, FO_RULE_RISK_LOW, 0.1f }, .comp = 2 },
        { .a = { COMP_OP_PROVISION, 1, FO_RULE_REPROVISION, 0.0f }, .comp = 3 },
        { .a = { COMP_OP_PROVISION, 1, FO_RULE_RISK_HIGH, 0.90f }, .comp = 4 },
    };

    CU_ASSERT(fo_budget(c, 5, 2) == 2);
    CU_ASSERT(c[3].granted);     /* a promise first */
    CU_ASSERT(c[1].granted);     /* then the highest risk */
    CU_ASSERT(!c[0].granted && !c[4].granted);
    CU_ASSERT(c[2].granted);     /* a release is never held back */
    CU_ASSERT(fo_budget(c, 5, 0) == 0);
    CU_ASSERT(!c[1].granted && c[2].granted);
    CU_ASSERT(fo_budget(c, 5, 10) == 4);
    /* the order they are acted on: the release, the promise, then by risk */
    fo_order(c, 5);
    CU_ASSERT(c[0].comp == 2 && c[1].comp == 3 && c[2].comp == 1 && c[3].comp == 4 &&
              c[4].comp == 0);
    CU_ASSERT_STRING_EQUAL(fo_rule_name(FO_RULE_SWITCH_BACK), "switch_back");
}

int main(void)
{
    CU_pSuite s;
    unsigned fails;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("fo", NULL, NULL);
    CU_add_test(s, "provision after confirm ticks", test_provision_after_confirm);
    CU_add_test(s, "release after keep", test_release_after_keep);
    CU_add_test(s, "never release the instance in use", test_never_release_in_use);
    CU_add_test(s, "adopt backups opened by others; all_open", test_adopt_and_all_open);
    CU_add_test(s, "the deadline's risk", test_deadline);
    CU_add_test(s, "flapping bounded per hour", test_flapping_bounded);
    CU_add_test(s, "proactive switch", test_switch_away);
    CU_add_test(s, "switch back to a healthy primary only", test_switch_back);
    CU_add_test(s, "standby always and never", test_standby_modes);
    CU_add_test(s, "re-provision, failure while provisioning", test_reprovision_and_failed_provision);
    CU_add_test(s, "a backup from the provision hook (add)", test_add_from_hook);
    CU_add_test(s, "risk crossings", test_crossing);
    CU_add_test(s, "job-wide budget", test_budget);
    CU_add_test(s, "a warm standby made hot on risk", test_hot);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return (int)fails;
}
