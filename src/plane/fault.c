/*
 * fault.c: scheduled faults and drills for one component; see fault.h.
 */
#include <string.h>

#include <libavutil/avstring.h>

#include "plane/fault.h"

int fault_point_init(FaultPoint *fp, const JobStream *js, const char *component)
{
    memset(fp, 0, sizeof(*fp));
    av_strlcpy(fp->component, component, sizeof(fp->component));
    fp->rng = 2463534242u;
    for (const char *c = component; *c; c++)
        fp->rng = fp->rng * 31 + (unsigned char)*c;
    for (int i = 0; i < js->nb_faults && fp->nb < FAULT_MAX_PER_POINT; i++)
        if (js->faults[i].component && !strcmp(js->faults[i].component, component))
            fp->faults[fp->nb++] = &js->faults[i];
    return fp->nb;
}

void fault_point_report(FaultPoint *fp, EventLog *events, const char *stream)
{
    fp->events = events;
    fp->stream = stream;
}

static const char *const fault_names[] = {
    [JOB_FAULT_ERROR] = "error", [JOB_FAULT_STALL] = "stall", [JOB_FAULT_SLOW] = "slow",
    [JOB_FAULT_DROP] = "drop", [JOB_FAULT_CLOSE] = "close", [JOB_FAULT_HANG] = "hang",
};

static void struck(const FaultPoint *fp, const JobFault *f, int64_t t_us)
{
    if (!fp->events)
        return;
    if (f->duration_us)
        evlog_emit(fp->events, fp->stream, fp->component, EV_FAULT, 0,
                   "injected fault %s for %.0f ms at media time %.3f s", fault_names[f->kind],
                   f->duration_us / 1e3, t_us / 1e6);
    else
        evlog_emit(fp->events, fp->stream, fp->component, EV_FAULT, 0,
                   "injected fault %s at media time %.3f s", fault_names[f->kind], t_us / 1e6);
}

static int is_action(JobFaultKind k)
{
    return k >= JOB_ACTION_PROVISION;
}

/* The start of occurrence n of f. */
static int64_t occurrence(const JobFault *f, int n)
{
    return f->at_us + (int64_t)n * f->every_us;
}

/* xorshift32: drops are reproducible run to run. */
static uint32_t next_rand(FaultPoint *fp)
{
    uint32_t x = fp->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return fp->rng = x;
}

FaultEffect fault_poll(FaultPoint *fp, int64_t t_us)
{
    FaultEffect e = { 0 };

    for (int i = 0; i < fp->nb; i++) {
        const JobFault *f = fp->faults[i];

        if (is_action(f->kind))
            continue;
        switch (f->kind) {
        case JOB_FAULT_ERROR:
        case JOB_FAULT_CLOSE:
        case JOB_FAULT_HANG:
        case JOB_FAULT_STALL:
            /* one-shot: each occurrence fires at the first item at or after it */
            while (fp->fired[i] < f->count && t_us >= occurrence(f, fp->fired[i])) {
                fp->fired[i]++;
                struck(fp, f, t_us);
                if (f->kind == JOB_FAULT_ERROR)
                    e.error = 1;
                else if (f->kind == JOB_FAULT_CLOSE)
                    e.close = 1;
                else if (f->kind == JOB_FAULT_HANG)
                    e.hang = 1;
                else
                    e.stall_us += f->duration_us;
            }
            break;
        case JOB_FAULT_SLOW:
        case JOB_FAULT_DROP:
            for (int n = 0; n < f->count; n++) {
                int64_t start = occurrence(f, n);
                if (t_us < start || t_us >= start + f->duration_us)
                    continue;
                if (fp->begun[i] <= n) {
                    fp->begun[i] = n + 1;
                    struck(fp, f, t_us);
                }
                if (f->kind == JOB_FAULT_SLOW) {
                    /* the ramp: 0 extra at the start, ramp_us at the end */
                    e.delay_us += f->ramp_us * (t_us - start) / f->duration_us;
                } else if (next_rand(fp) < (uint32_t)(f->ratio * 4294967295.0)) {
                    e.drop = 1;
                }
            }
            break;
        default:
            break;
        }
    }
    return e;
}

int fault_actions(FaultPoint *fp, int64_t t_us, JobFaultKind *kinds, int max)
{
    int n = 0;

    for (int i = 0; i < fp->nb && n < max; i++) {
        const JobFault *f = fp->faults[i];
        if (!is_action(f->kind))
            continue;
        while (fp->fired[i] < f->count && t_us >= occurrence(f, fp->fired[i]) && n < max) {
            fp->fired[i]++;
            kinds[n++] = f->kind;
        }
    }
    return n;
}
