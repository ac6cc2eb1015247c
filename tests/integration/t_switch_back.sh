#!/bin/sh
# Switching back is the orchestrator's: an output's primary fails (a write
# error), the backup takes over (the reflex), the primary is opened again
# after its back-off, and once it has been ready for switch_back the
# orchestrator switches back to it at a keyframe, with no frame lost, but
# only while the primary's own risk, when last seen in use, was below
# release_below: a primary that was getting worse is not gone back to.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe

run_case() {  # NAME RELEASE_BELOW PROVISION_ABOVE
    job "$T/$1.yaml" <<EOF
version: 1
streams:
  - name: back
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: true }
    renditions: [ { name: main, width: 320, height: 180, gop: 1s, options: { preset: ultrafast } } ]
    outputs:
      - { name: rec, format: mpegts, url: $T/$1/a.ts, backup: { url: $T/$1/b.ts } }
      - { name: whole, format: mpegts, url: $T/$1/whole.ts }
      - { name: hls, format: hls, url: $T/$1/hls/a/index.m3u8, options: { hls_time: 1, hls_list_size: 0 },
          backup: { url: $T/$1/hls/b/index.m3u8 } }
    standby: never
    switch_back: 2s
    orchestrator: { release_below: $2, provision_above: $3 }
    duration: 12s
    faults:
      - { at: 4s, component: out:rec, fault: error }
      - { at: 4s, component: out:hls, fault: error }
EOF
    mkdir -p "$T/$1"
    "$HS" run --events "$T/$1.jsonl" "$T/$1.yaml" > "$T/$1.log" 2>&1 || fail "$1: run exited $?"
    grep -q 'failure prediction with' "$T/$1.log" || skip "no model: no risk to judge a primary by"
    grep '"component":"out:rec"' "$T/$1.jsonl" | grep '"kind":"switch"' | grep -q 'out:rec.backup takes over' ||
        fail "$1: the backup did not take over: $(grep -v start "$T/$1.jsonl")"
}

# the primary's risk was below release_below (0.99): back after 2 s ready
run_case healthy 0.99 1
decision=$(grep 'orchestrator: switch out:rec ' "$T/healthy.jsonl" | head -n 1)
[ -n "$decision" ] || fail "no switch back decided: $(grep -v start "$T/healthy.jsonl")"
echo "$decision" | grep -q 'rule switch_back' || fail "not the switch_back rule: $decision"
seq=$(echo "$decision" | sed 's/.*"seq":\([0-9]*\).*/\1/')
grep '"kind":"switch"' "$T/healthy.jsonl" | grep "\"seq\":$seq[,}]" | grep -q 'out:rec took over' ||
    fail "the primary did not take over on request $seq: $(grep switch "$T/healthy.jsonl")"
f=$T/healthy/whole.ts
assert_eq "whole: decode errors" "$(probe_decoder_errors "$f")" 0
assert_le "whole: largest pts step (s)" "$(probe_max_gap "$f" v:0)" 0.0334
# every frame reached a destination of out:rec: the primary's second file
# (reopened) and the backup's, together
probe_frame_numbers "$T/healthy/b.ts" v:0 30 > "$T/healthy.frames"
probe_frame_numbers "$T/healthy/a.ts" v:0 30 >> "$T/healthy.frames"
sort -n -u "$T/healthy.frames" -o "$T/healthy.frames"
last=$(tail -n 1 "$T/healthy.frames")
assert_ge "frames after the switch back" "$last" 350
assert_eq "out:rec frames missing from the failure on" \
    "$(frames_missing "$T/healthy.frames" $(head -n 1 "$T/healthy.frames") "$last")" 0

# HLS: the primary, opened again to switch back to, numbers its segments
# by media time, so it does not write over what its origin already has:
# every frame is in the segments of the primary and the backup together
f=$T/healthy/hls
for s in "$f"/a/*.ts "$f"/b/*.ts; do probe_frame_numbers "$s" v:0 30; done | sort -n -u > "$T/hls.frames"
first=$(head -n 1 "$T/hls.frames"); last=$(tail -n 1 "$T/hls.frames")
assert_ge "hls: last frame" "$last" 350
assert_eq "hls: frames missing (primary and backup segments)" "$(frames_missing "$T/hls.frames" "$first" "$last")" 0
for s in "$f"/a/*.ts; do probe_frame_numbers "$s" v:0 30; done | sort -n -u > "$T/hls-a.frames"
assert_eq "hls: the primary's first frame is still the stream's first (nothing written over)" \
    "$(head -n 1 "$T/hls-a.frames")" "$(probe_frame_numbers "$T/healthy/whole.ts" v:0 30 | head -n 1)"
assert_ge "hls: the primary's last frame" "$(tail -n 1 "$T/hls-a.frames")" 350

# release_below 0: no risk is below it, the primary is never gone back to
run_case worse 0 0.5
grep -q 'orchestrator: switch out:rec ' "$T/worse.jsonl" && fail "switched back to a primary at risk: $(grep orchestrator "$T/worse.jsonl")"
assert_eq "switches of out:rec" "$(grep '"component":"out:rec"' "$T/worse.jsonl" | grep -c '"kind":"switch"')" 1
pass
