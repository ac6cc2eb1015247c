#!/bin/sh
# standby_mode: hot. The standby encoder is given every frame beside the
# primary; packets leave a GOP at a time. An error injected into the
# primary mid-GOP: the hot standby takes over at the IDR of the first GOP
# not passed on, with its own packets, encoding nothing again. A planned
# switch (drill) and a switch back: at a GOP boundary, no flush, the old
# encoder kept hot as the standby. A hot standby that hangs is given up
# alone while the primary goes on. A warm standby made hot by `ctl
# provision --hot` (what the orchestrator's risk_hot rule asks), published
# hot in ctl status, then switched to without a flush. Every frame is in
# the outputs, decodable, timestamps monotonic without a gap.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe jq

# the rendition of every job here: GOP 1 s, a libx264 standby like the primary
RENDITION='      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s,
          options: { preset: veryfast }, backup: { encoder: libx264, options: { preset: veryfast } } }'

# NAME FILE FRAMES MAX_STEP: the video of FILE is whole: FRAMES frames (30
# fps), none missing, all decodable, DTS increasing, no pts step above
# MAX_STEP seconds
check_whole() {
    assert_eq "$1: frames" "$(probe_frames "$2" v:0)" "$3"
    assert_eq "$1: decode errors" "$(probe_decoder_errors "$2")" 0
    assert_eq "$1: non-increasing dts" "$(probe_nonmonotonic "$2" v:0)" 0
    assert_le "$1: largest pts step (s)" "$(probe_max_gap "$2" v:0)" "$4"
    probe_frame_numbers "$2" v:0 30 > "$T/frames"
    _first=$(head -n 1 "$T/frames")
    assert_eq "$1: frames missing" "$(frames_missing "$T/frames" "$_first" $((_first + $3 - 1)))" 0
}

# NAME FAULTS: runs the job with the faults: list given, checks the outputs
run_case() {
    job "$T/$1.yaml" <<EOF
version: 1
streams:
  - name: enc
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: false }
    renditions:
$RENDITION
    outputs:
      - { name: hls, format: hls, url: $T/$1/index.m3u8, options: { hls_time: 1, hls_list_size: 0 } }
      - { name: flv, format: flv, url: $T/$1/rec.flv }
    standby: always
    standby_mode: hot
    duration: 6s
    faults:
$2
EOF
    "$HS" run --events "$T/$1.jsonl" "$T/$1.yaml" > "$T/$1.log" 2>&1 ||
        fail "$1: hotspare run exited $?: $(tail -n 5 "$T/$1.log")"
    check_whole "$1 hls" "$T/$1/index.m3u8" 180 0.0334
    check_whole "$1 flv" "$T/$1/rec.flv" 180 0.0345
    # the standby was hot from the first GOP, before anything happened:
    # its "hot" event comes before the first switch or failure
    hot_line=$(grep -n '"component":"enc:main.backup","kind":"info","cause":"hot: given every frame from 0.000 s' \
               "$T/$1.jsonl" | head -n 1 | cut -d: -f1)
    [ -n "$hot_line" ] || fail "$1: no event saying the standby is hot from 0 s"
    sw_line=$(grep -n -E '"kind":"(switch|failure)"' "$T/$1.jsonl" | head -n 1 | cut -d: -f1)
    [ -n "$sw_line" ] || fail "$1: no switch or failure event"
    assert_le "$1: the standby was hot before (event line)" "$hot_line" "$((sw_line - 1))"
}

# --- a failure mid-GOP (2.5 s, GOP 1 s) ---------------------------------------
run_case fail "      - { at: 2500ms, component: enc:main, fault: error }"
grep '"component":"enc:main"' "$T/fail.jsonl" | grep -q '"kind":"failure"' ||
    fail "fail: no failure event for enc:main"
sw=$(grep '"kind":"switch"' "$T/fail.jsonl" | head -n 1)
say "fail: $(echo "$sw" | sed 's/.*"cause":"\([^"]*\)".*/\1/')"
echo "$sw" | grep -q 'enc:main.backup (hot standby, given [0-9]* frames) took over from enc:main at a GOP boundary ([0-9.]* s): [0-9]* frames\{0,1\} not passed on, none encoded again' ||
    fail "fail: the switch event does not say the hot standby took over at a GOP boundary: $sw"
# given frames before the failure: at least the 2 s before the boundary it
# took over at, at most the 2.5 s up to the failure (and its lag)
given=$(echo "$sw" | sed 's/.*given \([0-9]*\) frames.*/\1/')
assert_ge "fail: frames the hot standby was given before the failure" "$given" 30
assert_le "fail: ... not more than up to the failure" "$given" 80
at=$(echo "$sw" | sed 's/.*at a GOP boundary (\([0-9.]*\) s).*/\1/')
assert_eq "fail: the splice is on a GOP boundary (s, GOP 1 s)" "$(awk -v a="$at" 'BEGIN { print (a == int(a)) ? "yes" : a }')" yes
# nothing was encoded again: no warm take-over ("with N frames not yet passed on")
grep -q 'not yet passed on' "$T/fail.jsonl" && fail "fail: a warm take-over happened"

# --- a planned switch to the hot standby, and back ----------------------------
run_case drill "      - { at: 2500ms, component: enc:main, action: switch }
      - { at: 4200ms, component: enc:main, action: switch_back }"
sws=$(grep '"kind":"switch"' "$T/drill.jsonl")
assert_eq "drill: switches" "$(echo "$sws" | grep -c 'at a GOP boundary')" 2
echo "$sws" | sed -n 1p | grep -q 'enc:main.backup (hot standby, given [0-9]* frames) took over from enc:main at a GOP boundary (2.000 s), no flush: .*none encoded again' ||
    fail "drill: the switch was not at the GOP boundary at 2 s without a flush: $(echo "$sws" | sed -n 1p)"
echo "$sws" | sed -n 1p | grep -q '"seq":' || fail "drill: the switch does not answer the drill's request"
# the old primary stayed hot as the standby: the switch back finds it fed
echo "$sws" | sed -n 2p | grep -q 'enc:main (hot standby, given [1-9][0-9]* frames) took over from enc:main.backup at a GOP boundary (4.000 s), no flush' ||
    fail "drill: the switch back did not find the primary hot: $(echo "$sws" | sed -n 2p)"
grep -q '"kind":"failure"' "$T/drill.jsonl" && fail "drill: a failure event"

# --- the hot standby hangs: given up alone, the primary goes on ---------------
run_case hang "      - { at: 2500ms, component: enc:main.backup, fault: hang }"
grep '"component":"enc:main.backup","kind":"failure"' "$T/hang.jsonl" | grep -q 'hot standby: hung' ||
    fail "hang: no failure event for the hung hot standby: $(grep failure "$T/hang.jsonl")"
grep -q '"kind":"switch"' "$T/hang.jsonl" && fail "hang: a switch (the primary was fine)"

# --- warm, made hot on request, then switched to ------------------------------
SOCK=$T/hs.sock
mkdir -p "$T/ctl"
job "$T/ctl.yaml" <<EOF
version: 1
supervisor: { control: $SOCK }
streams:
  - name: enc
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: true }
    renditions:
$RENDITION
    outputs:
      - { name: flv, format: flv, url: $T/ctl/rec.flv }
    standby: always
    switch_back: never
    duration: 8s
EOF
# field F (state, hot) of the standby of enc:main in ctl status
standby() {
    "$HS" ctl --socket "$SOCK" status --json |
        jq -r --arg f "$1" '.components[] | select(.id == "enc/enc:main") | .instances[] | select(.name == "backup") | .[$f]'
}
standby_ready() { [ "$(standby state)" = ready ]; }
bg "$HS" run --events "$T/ctl.jsonl" "$T/ctl.yaml"
HSPID=$BG_PID
wait_for 10 test -S "$SOCK" || fail "ctl: no control socket"
wait_for 10 standby_ready || fail "ctl: the standby is not ready"
assert_eq "ctl: the warm standby published" "$(standby hot)" false
"$HS" ctl --socket "$SOCK" provision --hot enc/enc:main backup > "$T/prov.out" 2>&1 ||
    fail "ctl: provision --hot failed: $(cat "$T/prov.out")"
assert_eq "ctl: the standby published after provision --hot" "$(standby hot)" true
wait_for 5 grep -q '"component":"enc:main.backup","kind":"info","cause":"hot: given every frame' "$T/ctl.jsonl" ||
    fail "ctl: the standby was not given frames"
sleep 2.5                         # a GOP held and more: it has the GOP not passed on
"$HS" ctl --socket "$SOCK" switch enc/enc:main backup > "$T/sw.out" 2>&1 ||
    fail "ctl: switch failed: $(cat "$T/sw.out")"
wait "$HSPID" || fail "ctl: hotspare run exited $?"
sw=$(grep '"kind":"switch"' "$T/ctl.jsonl")
say "ctl: $(echo "$sw" | sed 's/.*"cause":"\([^"]*\)".*/\1/')"
echo "$sw" | grep -q 'enc:main.backup (hot standby, given [1-9][0-9]* frames) took over from enc:main at a GOP boundary ([0-9.]* s), no flush' ||
    fail "ctl: the switch was not to the hot standby at a GOP boundary: $sw"
check_whole "ctl flv" "$T/ctl/rec.flv" 240 0.0345
pass
