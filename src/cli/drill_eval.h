/*
 * drill_eval.h: what hotspare drill concludes from one run of a job: the
 * job's expect: against the run's events (--events), its report
 * (--report) and how the process ended. The judgement is a pure function
 * (drill_evaluate) over parsed inputs, so that it is tested on synthetic
 * events; reading the files is beside it.
 *
 * What is measured (README "Drills"):
 *
 *   frames_lost OUTPUT    per output of the stream, the report's
 *                         frames_lost (the output's own continuity count)
 *                         at most expect.frames_lost.
 *   detect_within C@T     per fault event (one per occurrence of a fault,
 *                         T its media time): from the fault event to the
 *                         first failure event after it of the same
 *                         component (any instance: "out:main.backup" is
 *                         "out:main"), before the next fault on that
 *                         component; by the events' monotonic clock.
 *   switch_within C@T     from that failure to the component's next
 *                         "first packet" event: the figure it reports,
 *                         measured by the component itself from the
 *                         failure to its new instance's first packet.
 *   switch_within C ACTION@T
 *                         per drill (action: switch, switch_back): the
 *                         figure of the first "first packet" event of the
 *                         component after the switch that answered it.
 *   exit                  the job's: the run's exit status equals
 *                         expect.exit (0 when not written).
 *
 * A fault that fails no component (a short stall, slow, drop ridden out)
 * has nothing to detect or switch: its detect_within and switch_within are
 * skipped, saying so; frames_lost judges what it cost. error, close and
 * hang always fail the instance they strike: for them a missing failure
 * fails the check.
 */
#ifndef HS_DRILL_EVAL_H
#define HS_DRILL_EVAL_H

#include <stdint.h>

#include "core/event.h"
#include "job/job.h"

#define DRILL_NAME_SIZE 64

/* One line of the events file, what drill_evaluate reads of it. */
typedef struct DrillEvent {
    int64_t mono_us;
    char stream[DRILL_NAME_SIZE];
    char component[DRILL_NAME_SIZE];
    EventKind kind;               /* EV_NB_KINDS: a kind this build does not know */
    char cause[512];
    uint32_t seq;                 /* the request it answers, 0 none */
} DrillEvent;

typedef struct DrillOutputFigures {
    char name[DRILL_NAME_SIZE];
    int64_t frames, frames_lost, switches, errors;
    int failed;
} DrillOutputFigures;

typedef struct DrillStreamFigures {
    char name[DRILL_NAME_SIZE];
    DrillOutputFigures *outputs;  /* owned */
    int nb_outputs;
} DrillStreamFigures;

/* The run's report (run_report.h); streams NULL when there was none. */
typedef struct DrillReport {
    int exit;
    double elapsed_s;
    DrillStreamFigures *streams;  /* owned */
    int nb_streams;
} DrillReport;

/* How the run's process ended. */
typedef struct DrillRun {
    int status;                   /* its exit status; -1 when it did not exit */
    int signal;                   /* the signal that ended it, 0 none */
    int timed_out;                /* killed by the drill after timeout_s */
    double timeout_s;
    double wall_s;
    const char *log_path;         /* its output, named in messages; may be NULL */
} DrillRun;

typedef enum DrillVerdict {
    DRILL_PASS,
    DRILL_FAIL,
    DRILL_SKIP,                   /* nothing to measure (see above) */
} DrillVerdict;

/* One expectation of one stream (stream NULL: the job's exit). Strings
 * owned by the result. */
typedef struct DrillResult {
    char *stream;
    char *name;                   /* "frames_lost out:main", "exit" */
    DrillVerdict verdict;
    char *message;                /* why it failed or was skipped; NULL when passed */
    char *figures;                /* what was measured, lines of text */
    double value;                 /* the figure judged (frames, ms, status); NAN none */
    double limit;                 /* what it had to stay within (or equal); NAN none */
    const char *unit;             /* "frames", "ms", "" (static) */
} DrillResult;

typedef struct DrillResults {
    DrillResult *v;
    int nb, cap;
} DrillResults;

/*
 * Judges job's expectations against one run: appends one result per
 * stream and expectation, then the job's exit, to out (the caller frees
 * it with drill_results_free, also on failure). ev: the run's events in
 * file order; rep->streams NULL when the run left no report. Returns 0, or
 * AVERROR(ENOMEM).
 */
int drill_evaluate(const Job *job, const DrillEvent *ev, int nb_ev, const DrillReport *rep,
                   const DrillRun *run, DrillResults *out);

void drill_results_free(DrillResults *r);

/* Counts of a result list by verdict. */
void drill_results_count(const DrillResults *r, int *pass, int *fail, int *skip);

/* One JSON line of an events file into *ev. Returns 0, or
 * AVERROR_INVALIDDATA for a line that is not an event. */
int drill_parse_event(const char *line, DrillEvent *ev);

/* Every event of the file at path (*ev owned by the caller, av_free). A
 * missing file is no events. Returns 0 or a negative AVERROR. */
int drill_read_events(const char *path, DrillEvent **ev, int *nb);

/* The report at path into *rep (rep->streams stays NULL when the file is
 * missing: returns 0 then too). Returns 0 or a negative AVERROR. */
int drill_read_report(const char *path, DrillReport *rep);
void drill_report_free(DrillReport *rep);

#endif
