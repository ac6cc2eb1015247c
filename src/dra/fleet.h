/*
 * fleet.h: a fleet node (README, "Fleet"). Nodes started with the same job
 * and the same etcd share the job's streams: each stream runs on exactly
 * one of them at a time; the others stand by and take it when its
 * leader's lease ends. etcd's lease and transactions are the only
 * coordination: nothing here elects anything.
 *
 * Keys, under the job's prefix P (default /hotspare):
 *   P/nodes/NODE    this node's health, JSON {"node","wall_us","streams",
 *                   "lead","lease","drain","ready","risk","at_risk"}, put
 *                   under the node's lease: it vanishes when the node does
 *   P/lead/STREAM   the stream's leader, value NODE, created under the
 *                   leader's lease by a transaction that succeeds only
 *                   when the key does not exist (create revision 0)
 *   P/jobs/NAME     a job placed on the fleet (`ctl --fleet ... place`),
 *                   its YAML text, under no lease: its streams are the
 *                   fleet's as much as the node's own job file's are
 *
 * The streams: the node's job file's, then those of each placed job in
 * key order (a name already seen is left out). A node has a table of up
 * to FLEET_MAX_STREAMS slots; a stream keeps its slot (its bit in every
 * mask) while it is in the set or this node still runs or holds it, so
 * placed jobs can come and go while the others' streams run on.
 *
 * A node keeps one lease (TTL: fleet.lease, kept alive every TTL/3). A
 * stream whose key is gone (its leader's lease expired at etcd, or it let
 * go) is taken by the live node that leads the fewest streams (ties: the
 * smaller name), by the same transaction; if that node has not taken it
 * within two periods, any node may (fleet_decide).
 *
 * Fencing: a node that cannot renew its lease stops uploading at the
 * lease's expiry as computed on its own clock from when it sent the last
 * renewal that succeeded (fleet_fenced): by then etcd may have let another
 * node take its streams. Its streams run on, warm (ingest and encoders),
 * their outputs writing nothing, until etcd answers: it uploads again
 * what it still leads, takes back at once what nobody leads
 * (fleet_decide_after_outage), and drops what another node took. Its lease expires at etcd no earlier than TTL after
 * that renewal reached etcd, which is after it was sent: the node stops
 * first, up to the clocks' rate difference over one TTL. When etcd answers
 * again and the lease is still alive (etcd extends every lease when a new
 * leader is elected, so after a full outage it usually is), nobody else
 * can have taken the keys held under it, and the node leads them again.
 *
 * Threads: fleet_start() runs the etcd I/O on a thread of its own; the run
 * loop reads what this node runs with fleet_state() and never blocks on
 * etcd.
 */
#ifndef HS_FLEET_H
#define HS_FLEET_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/event.h"
#include "job/job.h"
#include "pfm/host_risk.h"
#include "plane/output.h"

/* Streams a fleet job may have: the led set is a 64-bit mask. */
#define FLEET_MAX_STREAMS JOB_FLEET_MAX_STREAMS
#define FLEET_MAX_NODES   32

typedef struct Fleet Fleet;

/* ---- pure decisions ---------------------------------------------------- */

/* What a node sees of the fleet at one moment. */
typedef struct FleetView {
    int nb_streams;
    /* the slots that hold no stream of the set now (a placed stream
     * removed, an empty slot): nobody takes, moves or follows them */
    uint64_t gone;
    /* per stream: its leader's name, "" when the key does not exist */
    char leader[FLEET_MAX_STREAMS][64];
    /* per stream: since when (this node's clock) it has been seen without
     * a leader, 0 when it has one */
    int64_t free_since[FLEET_MAX_STREAMS];
    /* live nodes (their health keys exist), this one included */
    int nb_nodes;
    char node[FLEET_MAX_NODES][64];
    /* per node, from its health: being drained (`ctl drain`), its lease,
     * the streams it runs warm and could upload from the next segment */
    int drain[FLEET_MAX_NODES];
    int64_t lease[FLEET_MAX_NODES];
    uint64_t ready[FLEET_MAX_NODES];
    /* per node, from its health: its host's risk (host_risk.h), and
     * whether it is at risk (fleet_at_risk): it takes no stream and its
     * streams move away, as a drained node's */
    double risk[FLEET_MAX_NODES];
    int at_risk[FLEET_MAX_NODES];
    /* per node, from its health: the most streams it leads (fleet:
     * max_streams); 0: no limit. A node at it takes no more */
    int max_streams[FLEET_MAX_NODES];
    /* per stream: the last planned move (P/handover/STREAM): to whom, and
     * the Unix time (us) of the segment boundary where it happens */
    char handover_to[FLEET_MAX_STREAMS][64];
    char handover_from[FLEET_MAX_STREAMS][64];
    int64_t handover_at[FLEET_MAX_STREAMS];
    /* per stream: a move asked (`ctl --fleet ... move STREAM NODE`,
     * P/move/STREAM), to that node; "" when none */
    char move_to[FLEET_MAX_STREAMS][64];
} FleetView;

/*
 * The streams this node should try to take now (a mask): the free ones
 * that fall to it when each goes, in stream order, to the live node with
 * the fewest streams (ties: the smaller name) and room for one more
 * (max_streams), plus any free for longer than grace_us (the node it fell
 * to is not taking it) while it has room.
 */
uint64_t fleet_decide(const FleetView *v, const char *me, int64_t now, int64_t grace_us);

/*
 * After an outage. A node cut off from etcd (fenced, or its lease lost)
 * keeps its streams running, warm, uploading nothing. When etcd answers
 * again (at recovered_at; 0: never cut off) it takes back at once the
 * warm streams nobody leads (warm), and for wait_us takes nothing else:
 * the others cut off with it do the same with theirs, so each stream
 * returns to the node that still runs it instead of starting cold
 * elsewhere. want: what fleet_decide says; returns what to take.
 */
uint64_t fleet_decide_after_outage(uint64_t want, uint64_t warm, int64_t now,
                                   int64_t recovered_at, int64_t wait_us);

/*
 * Planned moves. A stream asked to move to a node (move_to: live, neither
 * drained nor at risk, not its leader) goes there. Each stream led by a
 * live node being drained (`ctl drain`) or at risk goes to a node that is
 * neither: one that runs it warm and ready already (a hot pair's
 * follower), else the one with the fewest streams (ties: the smaller
 * name), those with a host risk below FLEET_RISK_CLEAR first, counting
 * the moves already placed, as every node computes alike. target[s]: that
 * node's index in v->node, or -1. Returns the streams whose target is me:
 * it runs them warm (ingest and encoders, uploading nothing) until their
 * leader hands them over.
 */
uint64_t fleet_drain_targets(const FleetView *v, const char *me, int *target);

/*
 * Hot pair (fleet: { pair: always }): every stream also runs warm on a
 * second node, the live node other than its leader, neither drained nor
 * at risk, with the fewest streams led or followed (ties: the smaller
 * name; a host risk below FLEET_RISK_CLEAR first), in stream order, as
 * every node computes alike. With on_risk (pair: on_risk) only the
 * streams whose leader is at risk or has a host risk of FLEET_RISK_PAIR
 * or more get one, and keep it down to FLEET_RISK_PAIR_KEEP. Returns the
 * streams me follows. When the leader's lease ends the follower takes the stream at once
 * (it is warm) and uploads from the first segment the origin lacks
 * (FLEET_FROM_ORIGIN).
 */
uint64_t fleet_pair_targets(const FleetView *v, const char *me, int on_risk);

/*
 * Moves on risk. A node whose host risk (host_risk.h) stays at
 * FLEET_RISK_MOVE or above for FLEET_RISK_ROUNDS rounds in a row is at
 * risk: it says so in its health key, takes no stream, and hands each of
 * its streams to a node that is not at risk, as a drain does (make
 * before break); below FLEET_RISK_CLEAR it is no longer at risk and
 * takes streams again (those it gave away stay where they went). With
 * pair: on_risk a follower starts at FLEET_RISK_PAIR, earlier, so that
 * the move finds it warm. fleet_at_risk: this round's answer from the
 * last round's (was), the risk now and the rounds counted so far
 * (*rounds, updated).
 */
#define FLEET_RISK_MOVE   0.8
#define FLEET_RISK_CLEAR  0.5
#define FLEET_RISK_PAIR   0.5
#define FLEET_RISK_PAIR_KEEP 0.3
#define FLEET_RISK_ROUNDS 2
int fleet_at_risk(int was, double risk, int *rounds);

/*
 * The slot table (see the top): slot[] (nb_slots used) updated for the
 * stream set names (nb, in order; a name twice counts once). A name
 * already in a slot keeps it; a new one takes the first slot that is
 * empty, or whose stream left the set and is not busy (bit set: this
 * node still runs or holds it), and that slot is emptied of its old
 * name first. Returns the slots not in the set (gone). *dropped: how
 * many names found no slot (the table is full).
 */
uint64_t fleet_slots(char (*slot)[64], int *nb_slots, const char *const *names, int nb,
                     uint64_t busy, int *dropped);

/* fleet_state's from_us: start at the first segment the destination does
 * not have (output_window). */
#define FLEET_FROM_ORIGIN OUTPUT_FROM_DESTINATION

/* The segment boundary a planned move happens at: the first multiple of
 * seg_us at least seg_us after now (Unix us), so that the new leader
 * learns of it and is uploading before it. */
int64_t fleet_handover_at(int64_t now_unix_us, int64_t seg_us);

/* Has this node's lease expired on its own clock: last renewal sent at
 * renewed_at (0: never), TTL ttl_us? */
int fleet_fenced(int64_t renewed_at, int64_t ttl_us, int64_t now);

/*
 * Clock skew. Each node publishes its wall clock (wall_us) in its health
 * key every round; a node that reads another's at its own wall time now
 * knows that its clock minus the other's lies in [now - wall_us - age_us,
 * now - wall_us], age_us being at most one round plus a call's deadline.
 * It disagrees with that node when the whole interval is outside
 * [-max_us, max_us].
 *
 * fleet_skewed: est_us[i] = now - wall_us of each other live node. Non-zero
 * when this node disagrees with more than half of them: its clock is the
 * odd one out (with a single other node, both refuse). A node whose clock
 * is skewed takes no stream (its epoch-locked segments would not line up
 * with the others'); the ones it leads go on.
 */
#define FLEET_MAX_SKEW_US 500000
int fleet_skewed(const int64_t *est_us, int n, int64_t age_us, int64_t max_us);

/* ---- the node ---------------------------------------------------------- */

/*
 * A node for job's fleet settings and streams (their names are copied;
 * the job is not kept). events: where leadership changes are said (not
 * owned, outlives the fleet). A negative AVERROR when job is not a fleet
 * job, has too many streams, or out of memory.
 */
int  fleet_alloc(Fleet **pf, const Job *job, EventLog *events);
/* Starts the etcd thread. */
int  fleet_start(Fleet *f);
/* Stops the thread, lets go of the keys it holds (revokes its lease, so
 * others take over at once), frees. NULL is fine. */
void fleet_free(Fleet **pf);

/* What the run loop runs, at one moment. */
typedef struct FleetState {
    uint64_t gen;                 /* changes whenever anything below does */
    uint64_t placed_gen;          /* changes when a placed job does */
    /* the streams this node runs now (bit s: slot s) and, of those, the
     * ones it may upload (it leads them, or hands them over at a segment
     * boundary still to come; the others run fenced: etcd cannot say now
     * that this node leads them, or they are warm for a planned move) */
    uint64_t run, upload;
    /* per slot: the Unix time (us) its outputs start writing at (a
     * planned move's boundary, on the node it moves to) and stop at (on
     * the node it leaves); 0: none */
    int64_t from_us[FLEET_MAX_STREAMS], until_us[FLEET_MAX_STREAMS];
    int nb_slots;
    char stream[FLEET_MAX_STREAMS][64];   /* slot s's stream, "" when empty */
    uint64_t gone;                /* slots whose stream left the set: it
                                     ends for good (not on another node) */
    int nb_set;                   /* streams in the set */
} FleetState;

void fleet_state(Fleet *f, FleetState *st);

/* A job placed on the fleet, as it last loaded. */
typedef struct FleetJobText {
    char *name;                   /* "PREFIX/jobs/NAME": its key, for messages */
    uint8_t *text;
    size_t size;
} FleetJobText;

/* Copies of the placed jobs' texts (*texts, *nb; in key order), for the
 * run loop to load. 0 or AVERROR(ENOMEM). */
int  fleet_placed(Fleet *f, FleetJobText **texts, int *nb);
void fleet_placed_free(FleetJobText **texts, int nb);

/* How far back a stream run fenced keeps its outputs' packets: a hot
 * pair's follower takes over up to a lease, two rounds and a call after
 * the leader's last upload, and starts from the segment under way then. */
int64_t fleet_keep_us(const Fleet *f);

/* The run loop says which of the streams it runs fenced are ready to
 * upload from the next segment (their outputs hold a keyframe). */
void fleet_set_ready(Fleet *f, uint64_t ready);

/* The run loop gives the host's risk at each tick (tick_host_risk). */
void fleet_set_host_risk(Fleet *f, const HostRisk *r);

/* `ctl drain`: this node hands every stream it leads over to the others,
 * make before break, and takes no more. 0, or a negative AVERROR. */
int fleet_drain(Fleet *f);

/* This node's name, for the run loop. */
const char *fleet_node(const Fleet *f);

#endif
