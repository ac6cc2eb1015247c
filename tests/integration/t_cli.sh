#!/bin/sh
# The command line: help, version, exit statuses, check on every sample and
# on a broken job, -v levels, --progress blocks in ffmpeg's format, and a
# job of two streams run in one process.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe

"$HS" --help > "$T/help.txt" || fail "--help exited $?"
grep -q '^  run ' "$T/help.txt" || fail "--help does not list run"
grep -q '^  check ' "$T/help.txt" || fail "--help does not list check"
"$HS" --version | grep -q '^hotspare ' || fail "--version"
"$HS" --version | grep -q 'libavformat 59' || fail "--version names no libav"
HOTSPARE_SIMD=baseline "$HS" --version | grep -q '^lstm step: baseline' || fail "--version names no LSTM path"
"$HS" run --help | grep -q -- '--progress' || fail "run --help"

"$HS" frobnicate 2>/dev/null; assert_eq "unknown command" $? 2
"$HS" run 2>/dev/null; assert_eq "run without a job" $? 2
"$HS" -v loud --help 2>/dev/null; assert_eq "bad -v level" $? 2
"$HS" check "$T/missing.yaml" 2>/dev/null; assert_eq "check of a missing file" $? 2

for f in "$TOP"/samples/*.yaml; do
    "$HS" check "$f" > /dev/null || fail "hotspare check $f"
done
say "every sample passes check"

job "$T/bad.yaml" <<EOF
version: 1
streams:
  - name: bad
    input: { url: "testsrc2", format: lavfi }
    renditions:
      - { name: a, width: 1279, encoder: libx999 }
    outputs:
      - { name: o, format: flv, url: "rtmp://h/app/SECRET", renditions: [a, nope] }
EOF
"$HS" check "$T/bad.yaml" > "$T/check.out" 2>&1; rc=$?
cat "$T/check.out"
assert_eq "check of a bad job" $rc 2
grep -q "^$T/bad.yaml:6:[0-9]*: .*width" "$T/check.out" || fail "no width error with file:line:col"
grep -q "^$T/bad.yaml:6:[0-9]*: .*libx999" "$T/check.out" || fail "no encoder error with file:line:col"
grep -q "^$T/bad.yaml:8:[0-9]*: .*nope" "$T/check.out" || fail "no reference error with file:line:col"
grep -q SECRET "$T/check.out" && fail "check printed the stream key"
"$HS" run "$T/bad.yaml" 2>/dev/null; assert_eq "run of a bad job" $? 2

# two streams, one process, with progress blocks
job "$T/two.yaml" <<EOF
version: 1
streams:
  - name: one
    input: { url: "$(lavfi_src 160 90 30)", format: lavfi, realtime: false }
    renditions: [ { name: r, width: 160, height: 90, options: { preset: ultrafast } } ]
    outputs: [ { name: o, url: $T/out/one.mp4 } ]
    duration: 2s
  - name: two
    input: { url: "$(lavfi_src 160 90 25)", format: lavfi, realtime: false }
    renditions: [ { name: r, width: 160, height: 90, options: { preset: ultrafast } } ]
    outputs: [ { name: o, url: $T/out/two.ts } ]
    duration: 2s
EOF
"$HS" -v quiet run --progress "$T/progress.txt" "$T/two.yaml" > "$T/stdout.txt" 2> "$T/stderr.txt"
assert_eq "two streams: exit status" $? 0
assert_eq "-v quiet: stderr lines" "$(wc -l < "$T/stderr.txt")" 0
assert_eq "stream one frames" "$(probe_frames "$T/out/one.mp4" v:0)" 60
assert_eq "stream two frames" "$(probe_frames "$T/out/two.ts" v:0)" 50
for k in frame fps stream_0_0_q bitrate total_size out_time_us out_time_ms out_time dup_frames drop_frames speed progress; do
    grep -q "^$k=" "$T/progress.txt" || fail "progress lacks $k="
done
assert_eq "final blocks" "$(grep -c '^progress=end' "$T/progress.txt")" 2
assert_eq "stream one's final frame count" \
    "$(awk -F= '/^stream=/{s=$2} /^frame=/{f[s]=$2} END{print f["one"]}' "$T/progress.txt")" 60

# --progress - writes to stdout
"$HS" -v error run --progress - "$T/two.yaml" > "$T/stdout.txt"
grep -q '^progress=end' "$T/stdout.txt" || fail "--progress - wrote nothing to stdout"
pass
