#!/bin/sh
# An origin that slows down gradually: HLS over HTTP PUT through the fault
# proxy, whose delay ramps from 0 to 1.5 s over 40 s (a check of an
# uploaded segment, a HEAD, then takes twice that: past rw_timeout, 2 s,
# the data plane would fail the output). With standby: on_risk and a
# proactive switch (switch_above), the orchestrator sees the checks take a
# growing share of their deadline: it opens the backup origin ahead, then
# switches to it at a keyframe before the primary fails. Events in that
# order, no failure of the output, every frame on one origin or the other.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe
. "$TOP/tests/lib/nginx.sh"
FP_DIR=$T
. "$TOP/tests/lib/faultproxy.sh"

nginx_start origina 19395 18125
nginx_start originb 19396 18126
fp_start px 127.0.0.1:18127 127.0.0.1:18125 || fail "the fault proxy did not start"
BG_PIDS="$BG_PIDS $(cat "$T/px.pid")"

job "$T/job.yaml" <<EOF
version: 1
supervisor: { tick: 500ms }
streams:
  - name: news
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: true }
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: veryfast } }
    outputs:
      - name: origin
        format: hls
        url: http://127.0.0.1:18127/upload/news/index.m3u8
        options: { hls_time: 1, hls_list_size: 0 }
        rw_timeout: 2s
        backup: { url: http://127.0.0.1:18126/upload/news/index.m3u8 }
    standby: on_risk
    orchestrator: { switch_above: 0.95, confirm: 2 }
    switch_back: never
    duration: 45s
EOF

A=$T/origina/www/upload/news
B=$T/originb/www/upload/news
bg "$HS" run --events "$T/events.jsonl" "$T/job.yaml"
HSPID=$BG_PID
wait_for 15 grep -q '^index2.ts' "$A/index.m3u8" || fail "the primary origin got no segments"
fp_cmd px 'delay 0ms..1500ms over 40s'
t_ramp=$(date +%s%N)
say "the primary origin's proxy starts slowing down"
wait "$HSPID"; rc=$?
assert_eq "exit status" $rc 0

ev=$T/events.jsonl
line_of() { grep -n "$1" "$ev" | head -n 1 | cut -d: -f1; }
provision=$(line_of 'orchestrator: provision out:origin.backup')
provisioned=$(line_of '"kind":"provisioned"')
switch=$(line_of 'orchestrator: switch out:origin.backup')
switched=$(line_of '"kind":"switch".*out:origin.backup')
averted=$(line_of '"kind":"averted"')
failure=$(grep '"component":"out:origin' "$ev" | grep -n '"kind":"failure"' | head -n 1)
[ -n "$provision" ] || fail "the backup was not opened ahead: $(grep -v '"start"' "$ev")"
grep 'orchestrator: provision out:origin.backup' "$ev" | head -n 1 | grep -q 'rule deadline' ||
    fail "the provision does not name the deadline: $(grep 'orchestrator:' "$ev")"
[ -n "$provisioned" ] && [ -n "$switch" ] && [ -n "$switched" ] && [ -n "$averted" ] ||
    fail "no proactive switch: $(grep -v '"start"' "$ev")"
[ "$provision" -lt "$provisioned" ] && [ "$provisioned" -lt "$switch" ] && [ "$switch" -lt "$switched" ] ||
    fail "the events are out of order: provision $provision, provisioned $provisioned, switch $switch, switched $switched"
if [ -n "$failure" ]; then
    fline=$(grep -n '"kind":"failure"' "$ev" | grep 'out:origin' | head -n 1 | cut -d: -f1)
    [ "$fline" -gt "$switched" ] || fail "the primary failed before the switch: $failure"
fi
us_of() { sed -n "${1}p" "$ev" | sed 's/.*"mono_us":\([0-9]*\).*/\1/'; }
ms_since_ramp() {  # LINE: its wall time after the ramp began, ms
    t=$(sed -n "${1}p" "$ev" | sed 's/.*"time":"\([^"]*\)".*/\1/')
    echo $(( ($(date -d "$t" +%s%N) - t_ramp) / 1000000 ))
}
say "ramp began; backup opened ahead $(ms_since_ramp "$provision") ms later, switched to at $(ms_since_ramp "$switched") ms"
say "backup opened $(( ($(us_of "$switched") - $(us_of "$provision")) / 1000 )) ms before the switch"
say "$(sed -n "${averted}p" "$ev" | sed 's/.*"cause":"\([^"]*\)".*/\1/')"

pl=$B/index.m3u8
grep -q '#EXT-X-ENDLIST' "$pl" || fail "the backup's playlist is not closed"
assert_eq "backup: decode errors" "$(probe_errors "$pl")" 0
assert_eq "backup: non-increasing dts" "$(probe_nonmonotonic "$pl" v:0)" 0
set -- $(origins_frames "$A" "$pl" "$T/frames")
first=$1 last=$2
assert_eq "frames on neither origin" "$(frames_missing "$T/frames" "$first" "$last")" 0
assert_eq "frames in all" $((last - first + 1)) 1350
pass
