/*
 * inst.c: instance states and request names; see inst.h.
 */
#include <libavutil/common.h>
#include <libavutil/error.h>

#include "plane/inst.h"

const char *inst_state_name(InstState s)
{
    static const char *const names[INST_NB_STATES] = {
        [INST_IDLE] = "idle", [INST_OPENING] = "opening", [INST_READY] = "ready",
        [INST_ACTIVE] = "active", [INST_DRAINING] = "draining", [INST_BACKOFF] = "backoff",
        [INST_VACANT] = "vacant",
    };
    return (unsigned)s < INST_NB_STATES ? names[s] : "?";
}

const char *comp_op_name(CompOp op)
{
    switch (op) {
    case COMP_OP_PROVISION: return "provision";
    case COMP_OP_RELEASE:   return "release";
    case COMP_OP_SWITCH:    return "switch";
    case COMP_OP_ADD:       return "add";
    }
    return "?";
}

int inst_transition_ok(InstState from, InstState to)
{
    /* rows: from; bits: to */
    static const unsigned moves[INST_NB_STATES] = {
        /* opened ahead or on the spot; a source read from the start is
         * active at once */
        [INST_IDLE]     = 1u << INST_OPENING | 1u << INST_ACTIVE | 1u << INST_READY |
                          1u << INST_VACANT,
        [INST_OPENING]  = 1u << INST_READY | 1u << INST_ACTIVE | 1u << INST_BACKOFF |
                          1u << INST_IDLE,
        [INST_READY]    = 1u << INST_ACTIVE | 1u << INST_IDLE | 1u << INST_BACKOFF,
        [INST_ACTIVE]   = 1u << INST_DRAINING | 1u << INST_BACKOFF | 1u << INST_IDLE |
                          1u << INST_READY,
        [INST_DRAINING] = 1u << INST_IDLE | 1u << INST_BACKOFF | 1u << INST_READY,
        [INST_BACKOFF]  = 1u << INST_OPENING | 1u << INST_IDLE | 1u << INST_ACTIVE |
                          1u << INST_VACANT,
        /* a released dynamic backup's slot, filled again by an ADD */
        [INST_VACANT]   = 1u << INST_OPENING,
    };
    if ((unsigned)from >= INST_NB_STATES || (unsigned)to >= INST_NB_STATES || from == to)
        return 0;
    return !!(moves[from] & (1u << to));
}

int inst_set(InstStatus *st, InstState state, int64_t now_us)
{
    if (st->state == state)
        return 0;
    if (!inst_transition_ok(st->state, state))
        return AVERROR(EINVAL);
    st->state = state;
    st->since_us = now_us;
    if (state != INST_BACKOFF)
        st->retry_at_us = 0;
    return 0;
}

void inst_observe(InstStatus *pub, InstState state, int fails, int64_t retry_at_us,
                  int64_t now_us)
{
    if (pub->state != state) {
        pub->state = state;
        pub->since_us = now_us;
    }
    pub->fails = fails;
    pub->retry_at_us = state == INST_BACKOFF ? retry_at_us : 0;
}

int64_t inst_backoff(int n, int64_t min_us, int64_t max_us)
{
    int64_t b = min_us << FFMIN(FFMAX(n, 1) - 1, 20);
    return FFMIN(b, max_us);
}
