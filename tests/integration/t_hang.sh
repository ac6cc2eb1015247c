#!/bin/sh
# A wedged encoder: the primary encoder of one rendition blocks forever
# inside its encode call (fault: hang, as a driver that never returns).
# The stage gives the call up after its deadline (half the latency budget),
# its standby takes the frames not passed on, and nothing is lost; the
# other rendition, fed by the same ladder, never stalls: its output has no
# gap above one frame period and every frame.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe

job "$T/job.yaml" <<EOF
version: 1
streams:
  - name: wedge
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: true }
    renditions:
      - name: a
        width: 320
        height: 180
        gop: 1s
        options: { preset: veryfast }
        backup: { encoder: libx264, options: { preset: veryfast } }
      - name: b
        width: 160
        height: 90
        gop: 1s
        options: { preset: veryfast }
    outputs:
      - { name: a, format: mpegts, url: $T/out/a.ts, renditions: [a] }
      - { name: b, format: mpegts, url: $T/out/b.ts, renditions: [b] }
    latency_budget: 2s
    duration: 7s
    faults:
      - { at: 3s, component: enc:a, fault: hang }
EOF
mkdir -p "$T/out"
"$HS" run --events "$T/events.jsonl" "$T/job.yaml" > "$T/run.log" 2>&1 || fail "hotspare run exited $?: $(tail -5 "$T/run.log")"

ev() { grep "\"component\":\"$1\"" "$T/events.jsonl" | grep "\"kind\":\"$2\"" | head -n 1; }
mono() { sed 's/.*"mono_us":\([0-9]*\).*/\1/'; }
hang=$(ev enc:a warning | grep hang)
failure=$(ev enc:a failure)
switch=$(ev enc:a switch)
[ -n "$hang" ] || fail "no event for the hang: $(cat "$T/events.jsonl")"
[ -n "$failure" ] || fail "the hung encoder was never failed: $(cat "$T/events.jsonl")"
echo "$failure" | grep -q 'hung' || fail "the failure does not say it hung: $failure"
echo "$switch" | grep -q 'enc:a.backup takes over' || fail "the standby did not take over: $switch"
detect=$(( ($(echo "$failure" | mono) - $(echo "$hang" | mono)) / 1000 ))
say "hang noticed after $detect ms (deadline 1000 ms)"
assert_ge "detection (ms)" "$detect" 950
assert_le "detection (ms)" "$detect" 1500
grep -q '"kind":"stream_failed"' "$T/events.jsonl" && fail "the stream failed"

for r in a b; do
    f=$T/out/$r.ts
    assert_eq "$r: decode errors" "$(probe_decoder_errors "$f")" 0
    assert_eq "$r: non-increasing dts" "$(probe_nonmonotonic "$f" v:0)" 0
    assert_le "$r: largest pts step (s)" "$(probe_max_gap "$f" v:0)" 0.0334
    probe_frame_numbers "$f" v:0 30 > "$T/$r.frames"
    first=$(head -n 1 "$T/$r.frames")
    assert_eq "$r: frames missing" "$(frames_missing "$T/$r.frames" "$first" $((first + 209)))" 0
done
pass
