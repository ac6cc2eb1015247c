#!/bin/sh
# make model: records the training corpus (when it is not there yet),
# trains models/default.hsm on it and evaluates it on a held-out job.
#
# The corpus is the project's own: corpus jobs written by gen.awk (live
# lavfi streams with backups and a seeded schedule of faults injected
# through the data plane) run in real time by hotspare, each recording an
# HDS. Jobs c1 and c2 train (the last quarter of each validates and sets
# the thresholds); job e1, another seed, is only ever evaluated on.
#
#   CORPUS_DIR      where the jobs, stores and outputs go [corpus]
#   CORPUS_MINUTES  length of each job [20]
#   CORPUS_STREAMS  streams per job [6]
#   CORPUS_REBUILD  1: record again even when the stores exist
#   MODEL           the model file to write [models/default.hsm]
#   CORPUS_ONLY     1: record, do not train
#
# Recording takes CORPUS_MINUTES of wall time (the jobs run side by side)
# and about 0.5 core; training a few minutes.
set -eu
cd "$(dirname "$0")/../.."
DIR=${CORPUS_DIR:-corpus}
MINUTES=${CORPUS_MINUTES:-20}
STREAMS=${CORPUS_STREAMS:-6}
MODEL=${MODEL:-models/default.hsm}
HS=${HOTSPARE:-./hotspare}
TRAIN_JOBS="c1:11 c2:12"
EVAL_JOBS="e1:21"

[ -x "$HS" ] || { echo "run make first" >&2; exit 2; }
mkdir -p "$DIR"

# Each job file is named after its job: a run's control socket is named
# after its job file (./NAME.sock), and the jobs run side by side.
record() {   # NAME SEED
    d=$DIR/$1
    if [ -s "$d/$1.hds" ] && [ "${CORPUS_REBUILD:-0}" != 1 ]; then
        echo "corpus: $d/$1.hds is there (CORPUS_REBUILD=1 records it again)"
        return 0
    fi
    rm -rf "$d"
    mkdir -p "$d"
    awk -v seed="$2" -v streams="$STREAMS" -v minutes="$MINUTES" -v job="$1" -v dir="$d" \
        -f models/corpus/gen.awk > "$d/$1.yaml"
    "$HS" check "$d/$1.yaml" >/dev/null
    echo "corpus: recording $1 ($STREAMS streams, $MINUTES min, seed $2) in $d"
    "$HS" -v error run --events "$d/events.jsonl" "$d/$1.yaml" > "$d/run.log" 2>&1 &
}

for j in $TRAIN_JOBS $EVAL_JOBS; do
    record "${j%%:*}" "${j##*:}"
done
wait
for j in $TRAIN_JOBS $EVAL_JOBS; do
    n=${j%%:*}
    [ -s "$DIR/$n/$n.hds" ] || { echo "corpus: $n recorded nothing (see $DIR/$n/run.log)" >&2; exit 1; }
    rm -rf "$DIR/$n/out"
done

[ "${CORPUS_ONLY:-0}" = 1 ] && exit 0

hds_args=
for j in $TRAIN_JOBS; do hds_args="$hds_args --hds $DIR/${j%%:*}/${j%%:*}.hds"; done
"$HS" train $hds_args --out "$MODEL" --seed 1

eval_args=
for j in $EVAL_JOBS; do eval_args="$eval_args --hds $DIR/${j%%:*}/${j%%:*}.hds"; done
base=${MODEL%.hsm}
"$HS" eval --model "$MODEL" $eval_args --json "$base.eval.json" --svg "$base.eval.svg" \
    | tee "$base.eval.txt"
# the card shows this evaluation, and only it (for the shipped model)
case "$MODEL" in
    models/default.hsm|*/models/default.hsm) "$(dirname "$0")/card.sh" --update "$base.eval.txt" ;;
esac
