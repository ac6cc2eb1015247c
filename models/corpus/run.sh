#!/bin/sh
# make model: records the training corpus (when it is not there yet),
# trains models/default.hsm on it and evaluates it on a held-out job.
#
# The corpus is the project's own: corpus jobs written by gen.awk (live
# lavfi streams with backups and a seeded schedule of faults) run in real
# time by hotspare, each recording an HDS. Jobs c1 and c2 train (the last
# 40 % of each validates and sets the thresholds: VAL); job e1, another
# seed, is only ever evaluated on.
#
# Faults come from inside (the data plane's fault injection: the job's
# faults) and from outside hotspare, carried out here with
# tests/lib/harness.sh on each job's outside.txt: stream s00 of each job
# writes its HLS over HTTP to a real nginx (WebDAV) through a fault proxy
# whose delay or bandwidth ramps up before it stalls; stream s01 writes
# into a 24 MiB tmpfs mounted here that tests/tools/diskfill fills; a
# competing CPU load (tests/tools/cpuload) grows from time to time for all
# jobs at once (cpu.txt). gen.awk writes each job's schedule as faults.tsv,
# which `hotspare eval --faults` reads to tell failures with precursors
# from abrupt ones.
#
#   CORPUS_DIR      where the jobs, stores and outputs go [corpus]
#   CORPUS_MINUTES  length of each job [20]
#   CORPUS_STREAMS  streams per job [6]
#   CORPUS_REBUILD  1: record again even when the stores exist
#   CORPUS_PORT     first of the TCP ports used on 127.0.0.1 (nginx RTMP
#                   and HTTP, one proxy per job) [19590]
#   MODEL           the model file to write [models/default.hsm]
#   CORPUS_ONLY     1: record, do not train
#   HORIZON         the model's horizon [120s]
#   MAX_FA          false alarms per stream-hour allowed on validation when
#                   the threshold is chosen [1: validation holds about 1.6
#                   stream-hours, where one a day would allow none at all]
#   VAL             the share of each training store that validates [0.4]
#   EXTRA_TRAIN     more corpus directories whose training jobs (c*/c*.hds)
#                   train too: earlier recordings of the recipe (the shipped
#                   model: one, see models/README.md)
#   TRAIN_JOBS      the training jobs, NAME:SEED ... [c1:11 c2:12]
#   EVAL_JOBS       the held-out jobs, NAME:SEED ... [e1:21]; with
#                   CORPUS_ONLY=1 either may be empty (record more training
#                   jobs under other seeds, for EXTRA_TRAIN)
#
# Recording takes CORPUS_MINUTES of wall time (the jobs run side by side)
# and about 0.5 core, plus the CPU load it adds on purpose (at most 0.9 of
# a core, a few minutes in all); training a few minutes. Mounting the
# tmpfs needs root; without it s01 writes to a local directory.
set -eu
cd "$(dirname "$0")/../.."
TOP=$(pwd)
DIR=${CORPUS_DIR:-corpus}
MINUTES=${CORPUS_MINUTES:-20}
STREAMS=${CORPUS_STREAMS:-6}
PORT=${CORPUS_PORT:-19590}
MODEL=${MODEL:-models/default.hsm}
HS=${HOTSPARE:-./hotspare}
HORIZON=${HORIZON:-120s}
MAX_FA=${MAX_FA:-1}
VAL=${VAL:-0.4}
TRAIN_JOBS=${TRAIN_JOBS-c1:11 c2:12}
EVAL_JOBS=${EVAL_JOBS-e1:21}

[ -x "$HS" ] || { echo "run make first" >&2; exit 2; }
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

recorded() {   # NAME: its store is there and is not to be recorded again
    [ -s "$DIR/$1/$1.hds" ] && [ "${CORPUS_REBUILD:-0}" != 1 ]
}

todo=
for j in $TRAIN_JOBS $EVAL_JOBS; do
    if recorded "${j%%:*}"; then
        echo "corpus: $DIR/${j%%:*}/${j%%:*}.hds is there (CORPUS_REBUILD=1 records it again)"
    else
        todo="$todo $j"
    fi
done

# ---- the faults outside hotspare -----------------------------------------------

# outside NAME FILE: carries out FILE's "AT ACTION ARGS..." lines on time,
# counted from now: fp CMD (the job's proxy NAME), fill TO RATE HOLD (the
# job's tmpfs: fill it to TO at RATE, free it HOLD s after the start),
# cpu TO RAMP HOLD (a competing load of one thread). Logs what it did.
outside() {
    _start=$(date +%s)
    while read -r _at _what _rest; do
        _wait=$((_at - ($(date +%s) - _start)))
        [ $_wait -gt 0 ] && sleep $_wait
        case $_what in
            fp) fp_cmd "$1" "$_rest" || echo "fp_cmd $1 '$_rest' failed" ;;
            fill)
                set -- "$1" $_rest
                if [ -d "$DIR/$1/out/s01/a" ] && mountpoint -q "$DIR/$1/out/s01/a"; then
                    ( disk_fill "$DIR/$1/out/s01/a" "$2" "$3" --max-time "$4s"
                      sleep "$4"
                      kill "$DISKFILL_PID" 2> /dev/null || true
                      wait "$DISKFILL_PID" 2> /dev/null || true
                      rm -f "$DIR/$1/out/s01/a/diskfill.dat" ) &
                fi
                set -- "$1" ;;
            cpu)
                set -- "$1" $_rest
                cpu_load --threads 1 --from 0 --to "$2" --ramp "$3s" --hold "$4s"
                set -- "$1" ;;
        esac
        echo "$(date +%s) $_at $_what $_rest"
    done < "$2"
}

stop_nginx() {
    [ -s "$DIR/nginx/nginx.pid" ] || return 0
    kill -QUIT "$(cat "$DIR/nginx/nginx.pid")" 2> /dev/null || true
    sleep 1
}

if [ -n "$todo" ]; then
    HARNESS_DIR=$DIR/harness
    rm -rf "$HARNESS_DIR"
    mkdir -p "$HARNESS_DIR"
    . "$TOP/tests/lib/harness.sh"
    for t in faultproxy cpuload diskfill; do
        [ -x "$TOP/tests/tools/$t" ] || { echo "corpus: no tests/tools/$t (make testprogs)" >&2; exit 2; }
    done
    # the signals' trap cleans up itself: an EXIT trap does not run when a
    # signal's trap exits in every shell
    trap 'harness_cleanup || true; stop_nginx' EXIT
    trap 'trap - EXIT; kill $RUNS $DRIVERS 2> /dev/null; harness_cleanup || true; stop_nginx; exit 1' INT TERM HUP
    # the origin of every job's s00: an nginx taking HLS over WebDAV PUT
    N=$DIR/nginx
    rm -rf "$N"
    mkdir -p "$N/rec" "$N/www/upload" "$N/tmp"
    chmod 777 "$N/rec" "$N/www" "$N/www/upload" "$N/tmp"
    sed -e "s|@DIR@|$N|g" -e "s|@RTMP_PORT@|$PORT|g" -e "s|@HTTP_PORT@|$((PORT + 1))|g" \
        -e 's|^daemon off;|daemon on;|' tests/peers/nginx.conf.in > "$N/nginx.conf"
    nginx -e "$N/error.log" -p "$N" -c "$N/nginx.conf" ||
        { echo "corpus: nginx did not start ($N/error.log)" >&2; exit 1; }
    awk -v seed=5 -v minutes="$MINUTES" -v dir="$DIR" -v mode=cpu -f models/corpus/gen.awk
fi

# ---- the jobs ------------------------------------------------------------------

# Each job file is named after its job: a run's control socket is named
# after its job file (./NAME.sock), and the jobs run side by side.
k=0
RUNS= DRIVERS=
record() {   # NAME SEED
    d=$DIR/$1
    k=$((k + 1))
    rm -rf "$d"
    mkdir -p "$d/out/s01/a"
    disk=0
    if [ "$STREAMS" -gt 1 ] && small_fs "$d/out/s01/a" 24m && [ "$SMALL_FS_KIND" = tmpfs ]; then
        disk=1
    else
        echo "corpus: $1: no tmpfs for s01 (${SMALL_FS_WHY:-not tmpfs}): no disk that fills"
    fi
    fp_start "$1" "127.0.0.1:$((PORT + 1 + k))" "127.0.0.1:$((PORT + 1))" --buffer 64Ki ||
        { echo "corpus: $1: the fault proxy did not start" >&2; exit 1; }
    awk -v seed="$2" -v streams="$STREAMS" -v minutes="$MINUTES" -v job="$1" -v dir="$d" \
        -v origin=$((PORT + 1 + k)) -v disk=$disk -f models/corpus/gen.awk > "$d/$1.yaml"
    "$HS" check "$d/$1.yaml" >/dev/null
    echo "corpus: recording $1 ($STREAMS streams, $MINUTES min, seed $2) in $d"
    sort -n -s -k1,1 "$d/outside.txt" > "$d/outside.sorted"
    outside "$1" "$d/outside.sorted" > "$d/outside.log" 2>&1 &
    DRIVERS="$DRIVERS $!"
    "$HS" -v error run --events "$d/events.jsonl" "$d/$1.yaml" > "$d/run.log" 2>&1 &
    RUNS="$RUNS $!"
}

if [ -n "$todo" ]; then
    for j in $todo; do
        record "${j%%:*}" "${j##*:}"
    done
    sort -n -s -k1,1 "$DIR/cpu.txt" > "$DIR/cpu.sorted"
    outside cpu "$DIR/cpu.sorted" > "$DIR/cpu.log" 2>&1 &
    DRIVERS="$DRIVERS $!"
    # the jobs end by themselves (duration); what their drivers still had
    # to do is of no use then
    # a run whose stream failed for good ends with status 1: its store is whole
    for p in $RUNS; do wait "$p" || echo "corpus: a run ended with status $? (see its run.log)"; done
    kill $DRIVERS 2> /dev/null || true
    trap - EXIT
    harness_cleanup || true
    stop_nginx
    for j in $todo; do
        n=${j%%:*}
        [ -s "$DIR/$n/$n.hds" ] || { echo "corpus: $n recorded nothing (see $DIR/$n/run.log)" >&2; exit 1; }
        rm -rf "$DIR/$n/out"
    done
    rm -rf "$DIR/nginx/www"
fi

[ "${CORPUS_ONLY:-0}" = 1 ] && exit 0

# the schedules censor the ticks before abrupt failures (train --faults)
hds_args="--faults $DIR/cpu.faults.tsv"
for j in $TRAIN_JOBS; do
    hds_args="$hds_args --hds $DIR/${j%%:*}/${j%%:*}.hds --faults $DIR/${j%%:*}/faults.tsv"
done
# every training job (c*) of each earlier recording, whatever its seeds
for d in ${EXTRA_TRAIN:-}; do
    for h in "$d"/c*/c*.hds; do
        [ -s "$h" ] || continue
        hds_args="$hds_args --hds $h --faults $(dirname "$h")/faults.tsv"
    done
done
"$HS" train $hds_args --out "$MODEL" --seed 1 --horizon "$HORIZON" --max-false-alarms "$MAX_FA" \
    --validation "$VAL"

eval_args=
for j in $EVAL_JOBS; do
    eval_args="$eval_args --hds $DIR/${j%%:*}/${j%%:*}.hds --faults $DIR/${j%%:*}/faults.tsv"
done
[ -s "$DIR/cpu.faults.tsv" ] && eval_args="$eval_args --faults $DIR/cpu.faults.tsv"
base=${MODEL%.hsm}
"$HS" eval --model "$MODEL" $eval_args --json "$base.eval.json" --svg "$base.eval.svg" \
    | tee "$base.eval.txt"
# the card shows this evaluation, and only it (for the shipped model); the
# held-out job ships with it (compressed), with its schedules, so that
# tests/integration/t_model_corpus.sh can evaluate the shipped model again
case "$MODEL" in
    models/default.hsm|*/models/default.hsm)
        "$(dirname "$0")/card.sh" --update "$base.eval.txt"
        for j in $EVAL_JOBS; do
            n=${j%%:*}
            # without the per-minute and hourly rollups, which neither eval
            # nor train reads (a third of the compressed size)
            cp "$DIR/$n/$n.hds" "$DIR/$n/$n.ship.hds"
            if command -v sqlite3 > /dev/null; then
                sqlite3 "$DIR/$n/$n.ship.hds" \
                    "PRAGMA journal_mode=DELETE; DELETE FROM minute; DELETE FROM hourly; VACUUM;" > /dev/null
            fi
            xz -9 -c "$DIR/$n/$n.ship.hds" > "models/corpus/$n.hds.xz"
            rm -f "$DIR/$n/$n.ship.hds"
            cp "$DIR/$n/faults.tsv" "models/corpus/$n.faults.tsv"
        done
        cp "$DIR/cpu.faults.tsv" models/corpus/cpu.faults.tsv ;;
esac
