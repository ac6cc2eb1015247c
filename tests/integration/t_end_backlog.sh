#!/bin/sh
# A destination that fails on its backlog as the stream ends: the input
# has ended and every packet has been handed to the output in use, which
# writes slower and slower (a slow fault) until its packets wait past the
# latency budget. The ready backup takes over with the rest of the cache:
# every frame of the run is on one file or the other (the soak found the
# output declared complete once the packets were handed over, not written,
# and the backlog lost).
. "$(dirname "$0")/../lib/common.sh"
need ffprobe

job "$T/job.yaml" <<EOF2
version: 1
streams:
  - name: e
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: true }
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: ultrafast } }
    outputs:
      - { name: rec, format: mpegts, url: $T/a.ts, backup: { url: $T/b.ts } }
    standby: always
    latency_budget: 3s
    duration: 10s
    faults:
      - { at: 5s, component: out:rec, fault: slow, duration: 6s, ramp: 60ms }
EOF2
"$HS" run --events "$T/events.jsonl" "$T/job.yaml" > "$T/run.log" 2>&1 || fail "run exited $?: $(tail -n 3 "$T/run.log")"
grep '"component":"out:rec","kind":"failure"' "$T/events.jsonl" | grep -q 'latency budget' ||
    fail "the slow destination did not fail: $(grep -v '"start"' "$T/events.jsonl")"
grep '"kind":"switch"' "$T/events.jsonl" | grep -q 'out:rec.backup takes over' ||
    fail "no switch to the backup: $(grep -v '"start"' "$T/events.jsonl")"
{ probe_frame_numbers "$T/a.ts" v:0 30; probe_frame_numbers "$T/b.ts" v:0 30; } | sort -n -u > "$T/frames"
assert_eq "first frame" "$(head -n 1 "$T/frames")" 0
assert_eq "frames on neither file" "$(frames_missing "$T/frames" 0 299)" 0
pass
