/*
 * inst.h: what the orchestrator, the control socket and the job's drills
 * may ask of a component with instances (an input's sources, an encoder and
 * its standby, an output's destinations), and the instance states that
 * inputs, encoders and outputs publish alike.
 *
 * A request goes into the component's mailbox (stage_post, stage.h) and is
 * carried out, in order, by the component's own thread at its next wake-up:
 * only that thread holds the cache and the pending frames. Its outcome is an
 * event carrying the request's seq: EV_PROVISIONED, EV_RELEASED, EV_SWITCH,
 * or EV_REFUSED with the reason.
 *
 * The states, as a machine (inst_transition_ok says which moves exist):
 *
 *   IDLE -> OPENING -> READY -> ACTIVE -> DRAINING -> IDLE
 *     ^        |         |  \------------------------/^
 *     |        v         v                           |
 *     +---- BACKOFF <- (failure from any open state)--+
 *
 * A backup added at run time (COMP_OP_ADD) goes IDLE (or BACKOFF) -> VACANT
 * when it is released, and VACANT -> OPENING when an ADD fills its slot again.
 */
#ifndef HS_INST_H
#define HS_INST_H

#include <stdint.h>

#include "core/comp.h"

typedef enum CompOp {
    COMP_OP_PROVISION = 1,        /* open the instance ahead: connected, header
                                     written; encoder open; not fed unless hot */
    COMP_OP_RELEASE,              /* close it, unless it is in use */
    COMP_OP_SWITCH,               /* planned: it takes over at the next keyframe
                                     (GOP boundary); instance 0 = switch back */
    COMP_OP_ADD,                  /* outputs: a destination the job does not
                                     name (url, from a provision hook, dra/) as
                                     backup `instance` (the next one, or a vacant
                                     slot), then opened ahead as by PROVISION.
                                     Its RELEASE closes it and frees the slot */
} CompOp;

/* instance of a request: the stage picks (provision: the first backup that
 * is closed; switch: the next instance after the one in use; release: every
 * open backup not in use) */
#define COMP_ANY (-2)

/* A URL carried by a request, terminating NUL included, at most. */
#define COMP_URL_SIZE 1024

/* Copied by value into the mailbox (stage_post), so it holds no pointer:
 * what it names is the request's own. */
typedef struct CompRequest {
    CompOp op;
    int instance;                 /* 0..nb_instances-1, or COMP_ANY; ADD: the
                                     instance to create */
    uint32_t seq;                 /* echoed by the event that reports the outcome */
    char origin[16];              /* who asked: "drill", "ctl", "fo" (for events) */
    char device[48];              /* provision of a standby encoder: the device
                                     the allocator placed it on; "": the job's */
    char url[COMP_URL_SIZE];      /* ADD only: the destination, "" otherwise.
                                     May hold credentials and a stream key:
                                     shown through redact_url, never as is; the
                                     stage keeps its own copy */
    int hot;                      /* PROVISION of a standby encoder: open it and
                                     feed it every frame from the next GOP
                                     (standby_mode: hot for this one); 0: the
                                     stream's standby_mode. Others ignore it */
} CompRequest;

typedef enum InstState {
    INST_IDLE,                    /* closed */
    INST_OPENING,                 /* connecting, writing its header, opening */
    INST_READY,                   /* open and not fed: provisioned */
    INST_ACTIVE,                  /* in use */
    INST_DRAINING,                /* fed until its successor has every keyframe */
    INST_BACKOFF,                 /* failed; may open again at retry_at_us */
    INST_VACANT,                  /* no destination: the slot of a backup added
                                     at run time (COMP_OP_ADD) after its release;
                                     only an ADD fills it again */
    INST_NB_STATES
} InstState;

typedef struct InstStatus {
    InstState state;
    int fails;                    /* failures so far */
    int64_t since_us;             /* in this state since (av_gettime_relative) */
    int64_t retry_at_us;          /* INST_BACKOFF only */
    int dynamic;                  /* added at run time (COMP_OP_ADD), not the
                                     job's: status shows it as such */
    int hot;                      /* a standby encoder fed every frame (from
                                     the next GOP boundary on); 0 otherwise */
    uint64_t sock_inode;          /* the TCP socket its peer connection uses
                                     (an output's destination, an input's
                                     source), as /proc/self/fd names it:
                                     socket:[INODE]; 0 when unknown or not
                                     TCP. The network agent matches by it. */
} InstStatus;

/* What a component last published; any thread may read a copy (stage_status). */
typedef struct CompStatus {
    int nb_instances;
    int active;                   /* instance in use, -1 none */
    int pending;                  /* requests posted, not yet carried out */
    int all_open;                 /* every instance is open all the time (an
                                     input with prefetch: always): there is
                                     nothing to provision or release */
    int64_t last_progress_us;     /* heartbeat: when it last handled an item */
    int64_t busy_since_us;        /* working on an item since; 0 idle (waiting) */
    InstStatus inst[COMP_MAX_INSTANCES];
    int hot_capable;              /* a standby can be made hot (a video encoder
                                     with a standby): InstStatus.hot means something */
} CompStatus;

const char *inst_state_name(InstState s);
const char *comp_op_name(CompOp op);

/* Does the machine above have this move? (Staying put is not a move.) */
int inst_transition_ok(InstState from, InstState to);

/* Sets st to state at now_us, if the move exists; returns 0, or
 * AVERROR(EINVAL) and leaves it unchanged. */
int inst_set(InstStatus *st, InstState state, int64_t now_us);

/* The published view of one instance as a stage sees it now: its state
 * (since_us moves only when the state changes), its failures, and when it
 * may open again (kept in back-off only). Stages publish what they see,
 * whatever the move: inst_set is for machines that must follow it. */
void inst_observe(InstStatus *pub, InstState state, int fails, int64_t retry_at_us,
                  int64_t now_us);

/* Wait before open attempt n (n >= 1 failures so far): min_us << (n - 1),
 * at most max_us. */
int64_t inst_backoff(int n, int64_t min_us, int64_t max_us);

#endif
