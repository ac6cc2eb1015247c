/*
 * fault.h: fault injection inside the data plane (the job's faults: list).
 *
 * Each component instance (an input, an encoder, an output, primary or
 * backup) holds a FaultPoint with the faults that name it, and asks it at
 * the places a real fault would strike: before a read, a frame sent to the
 * encoder, a write. Faults are scheduled on the stream's media time, so an
 * unpaced test run hits them at the same frame every time; what they do
 * (a stall, a slow-down) takes wall time, as real faults do.
 *
 * Drills (provision, release, switch, switch_back) are scheduled the same
 * way and handed to the component's owner, which carries them out as the
 * orchestrator's requests would be.
 */
#ifndef HS_FAULT_H
#define HS_FAULT_H

#include <stdint.h>

#include "core/event.h"
#include "job/job.h"

#define FAULT_MAX_PER_POINT 32

typedef struct FaultPoint {
    const JobFault *faults[FAULT_MAX_PER_POINT];
    int nb;
    int fired[FAULT_MAX_PER_POINT];   /* occurrences already delivered */
    int begun[FAULT_MAX_PER_POINT];   /* slow, drop: windows begun (reported) */
    uint32_t rng;                     /* for drop: deterministic per point */
    char component[64];
    EventLog *events;                 /* fault_point_report; not owned */
    const char *stream;
} FaultPoint;

/* What the faults say for one item at a media time. */
typedef struct FaultEffect {
    int error;                   /* fail this call (AVERROR(EIO)) */
    int close;                   /* close the connection now */
    int hang;                    /* this call never returns */
    int drop;                    /* lose this packet */
    int64_t stall_us;            /* block this long first */
    int64_t delay_us;            /* slow: take this much longer */
} FaultEffect;

/* Selects the faults of js whose component is exactly component
 * ("out:main", "out:main.backup", "enc:720p", "input.backup2"). Faults
 * beyond FAULT_MAX_PER_POINT for one component are ignored (logged by the
 * caller: the job parser does not limit them). Returns how many were
 * selected. */
int fault_point_init(FaultPoint *fp, const JobStream *js, const char *component);

/* Each fault, as it strikes (a one-shot's item, a window's first), is an
 * event (EV_FAULT) of stream's component: what a drill measures detection
 * from. events, stream: not owned, outlive the point; events may be NULL. */
void fault_point_report(FaultPoint *fp, EventLog *events, const char *stream);

/*
 * The effect on an item at media time t_us (stream timeline). One-shot
 * faults (error, close, stall) fire once per occurrence, at the first item
 * at or after their time; slow and drop apply to every item within their
 * window. Drills are not effects: see fault_actions.
 */
FaultEffect fault_poll(FaultPoint *fp, int64_t t_us);

/* Drills due at media time t_us, delivered once each: returns the number
 * written to kinds (at most max). */
int fault_actions(FaultPoint *fp, int64_t t_us, JobFaultKind *kinds, int max);

/* Are any faults or drills scheduled here at all? */
static inline int fault_any(const FaultPoint *fp)
{
    return fp->nb > 0;
}

#endif
