#!/bin/sh
# The failure model end to end, on a real job:
#   - a live job records a data store while faults make an encoder fall
#     behind real time (a slow-down that builds up) and an output fail;
#   - hotspare train learns from it (a short run) and writes a model file;
#     the same store, options and seed give the same file, byte for byte;
#   - hotspare eval scores it next to the baselines: table, JSON, SVG;
#   - a run with that model carries each component's risk on /metrics and
#     in its store; a corrupted model file is refused with the reason and
#     the run goes on without prediction; bad arguments are usage errors.
. "$(dirname "$0")/../lib/common.sh"
need sqlite3
GET=$TOP/tests/tools/httpget
PORT=19150

job "$T/rec.yaml" <<EOF
version: 1
supervisor:
  tick: 200ms
  hds: { path: $T/rec.hds }
  model: none
streams:
  - name: news
    input: { url: "$(lavfi_src 160 90 25)", format: lavfi, realtime: true }
    renditions:
      - { name: hi, width: 160, height: 90, bitrate: 200k, gop: 1s,
          options: { preset: ultrafast, threads: 1 }, backup: { encoder: libx264 } }
    outputs:
      - { name: hls, format: hls, url: $T/out/a/index.m3u8,
          backup: { url: $T/out/b/index.m3u8 }, options: { hls_list_size: 4 } }
    latency_budget: 2s
    duration: 28s
    faults:
      - { at: 4s, component: enc:hi, fault: slow, duration: 12s, ramp: 150ms }
      - { at: 22s, component: out:hls, fault: error }
EOF
"$HS" -v warning run --events "$T/rec.jsonl" "$T/rec.yaml" || fail "the recording run failed"
grep '"kind":"failure"' "$T/rec.jsonl" | grep -q '"component":"enc:hi"' ||
    fail "the slowed encoder did not fail: $(grep failure "$T/rec.jsonl")"
grep '"kind":"failure"' "$T/rec.jsonl" | grep -q '"component":"out:hls"' || fail "the output did not fail"
say "recorded: $(grep -c '"kind":"failure"' "$T/rec.jsonl") failure events"

# training: short, reproducible
export SOURCE_DATE_EPOCH=1790000000
train() {
    "$HS" train --hds "$T/rec.hds" --out "$1" --horizon 5s --epochs 4 --patience 4 \
        --seed 7 --validation 0.4 --max-false-alarms 60
}
train "$T/m1.hsm" > "$T/train.out" 2>&1 || fail "train: $(cat "$T/train.out")"
cat "$T/train.out"
grep -q "model written to $T/m1.hsm" "$T/train.out" || fail "no summary"
train "$T/m2.hsm" > /dev/null 2>&1 || fail "second train"
cmp "$T/m1.hsm" "$T/m2.hsm" || fail "the same data and seed gave another model"
say "two trainings with seed 7: identical files ($(wc -c < "$T/m1.hsm") bytes)"

# evaluation
"$HS" eval --model "$T/m1.hsm" --hds "$T/rec.hds" --json "$T/eval.json" --svg "$T/eval.svg" \
    > "$T/eval.out" 2>&1 || fail "eval: $(cat "$T/eval.out")"
cat "$T/eval.out"
for d in model "static threshold" "ewma z-score"; do
    grep -q "\"detector\":\"$d\"" "$T/eval.json" || fail "no $d in the JSON"
done
for k in roc_auc pr_auc precision recall lead_median_s false_alarms_per_hour; do
    grep -q "\"$k\":" "$T/eval.json" || fail "no $k in the JSON"
done
head -c 200 "$T/eval.svg" | grep -q '<svg' || fail "the plot is not SVG"
grep -q 'news/enc:hi' "$T/eval.svg" || fail "the plot has no panel for the failed encoder"
grep -q 'ROC-AUC' "$T/eval.out" || fail "no table"

# a run with the model: the risk is on /metrics and in the store
job "$T/run.yaml" <<EOF
version: 1
supervisor:
  tick: 200ms
  hds: { path: $T/run.hds }
  metrics: 127.0.0.1:$PORT
  model: $T/m1.hsm
streams:
  - name: news
    input: { url: "$(lavfi_src 160 90 25)", format: lavfi, realtime: true }
    renditions:
      - { name: hi, width: 160, height: 90, bitrate: 200k, gop: 1s, options: { preset: ultrafast } }
    outputs:
      - { name: hls, format: hls, url: $T/out2/index.m3u8 }
    duration: 5s
EOF
bg "$HS" run "$T/run.yaml"
HSPID=$BG_PID
wait_for 10 "$GET" http://127.0.0.1:$PORT/metrics || fail "the metrics endpoint does not answer"
sleep 1
"$GET" http://127.0.0.1:$PORT/metrics > "$T/metrics.prom" || fail "GET /metrics"
wait "$HSPID"; rc=$?
assert_eq "exit status with the model" $rc 0
for k in ingest encoder output; do
    grep -q "^hotspare_${k}_failure_risk{" "$T/metrics.prom" || fail "no ${k} risk on /metrics"
done
v=$(grep '^hotspare_encoder_failure_risk{' "$T/metrics.prom" | head -n 1 | awk '{print $2}')
awk -v v="$v" 'BEGIN { exit !(v >= 0 && v <= 1) }' || fail "risk $v out of [0,1]"
"$HS" hds export "$T/run.hds" --out "$T/run.csv" || fail "hds export"
grep -q 'hotspare_encoder_failure_risk' "$T/run.csv" || fail "no risk in the store"
say "risk on /metrics (encoder: $v) and in the store"

# a corrupted model: refused, the run goes on without prediction
cp "$T/m1.hsm" "$T/bad.hsm"
printf '\377' | dd of="$T/bad.hsm" bs=1 seek=600 conv=notrunc 2>/dev/null
sed -e "s|$T/m1.hsm|$T/bad.hsm|" -e "s|metrics: 127.0.0.1:$PORT|tick: 200ms|" \
    -e "s|duration: 5s|duration: 2s|" -e "/^  hds:/d" "$T/run.yaml" | grep -v '^  tick: 200ms$' > "$T/bad.yaml"
"$HS" run "$T/bad.yaml" > "$T/bad.out" 2>&1; rc=$?
assert_eq "exit status with a corrupted model" $rc 0
grep -q "bad.hsm" "$T/bad.out" || fail "the refusal does not name the file: $(cat "$T/bad.out")"
grep -qi "crc\|checksum" "$T/bad.out" || fail "the refusal does not say why: $(cat "$T/bad.out")"
grep -q "running without prediction" "$T/bad.out" || fail "no 'running without prediction'"
say "a corrupted model: $(grep -i crc "$T/bad.out" | head -n 1)"

# usage errors
"$HS" train --out "$T/x.hsm" > "$T/u1" 2>&1; assert_eq "train without --hds" $? 2
"$HS" train --hds "$T/nope.hds" --out "$T/x.hsm" > "$T/u2" 2>&1; assert_eq "train on a missing store" $? 2
grep -q "nope.hds" "$T/u2" || fail "the error does not name the store: $(cat "$T/u2")"
"$HS" eval --model "$T/bad.hsm" --hds "$T/rec.hds" > "$T/u3" 2>&1; assert_eq "eval with a bad model" $? 2
[ ! -e "$T/x.hsm" ] || fail "a model file was written after an error"
pass
