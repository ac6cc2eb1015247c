#!/bin/sh
# HLS over HTTP PUT to an origin that is slow, then stalls. First the
# fault proxy in front of the primary origin caps uploads at 150 kB/s (a
# segment takes a while to arrive, and its check asks for it before it is
# stored: asked again, no failure). Then the proxy stops forwarding (both
# ways) mid-stream. The kernel's
# buffers take the uploads, so no write ever fails; only the check of each
# uploaded segment (a HEAD that never gets an answer) shows the origin is
# gone. The backup origin takes over within a segment and rw_timeout, and
# every frame is on one origin or the other; the edge's figures count the
# checks' answers by HTTP status class.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe
. "$TOP/tests/lib/nginx.sh"
FP_DIR=$T
. "$TOP/tests/lib/faultproxy.sh"
GET=$TOP/tests/tools/httpget
PORT=19152

nginx_start origina 19385 18115
nginx_start originb 19386 18116
fp_start px 127.0.0.1:18117 127.0.0.1:18115 || fail "the fault proxy did not start"
BG_PIDS="$BG_PIDS $(cat "$T/px.pid")"       # stopped with the rest on exit

job "$T/job.yaml" <<EOF
version: 1
supervisor: { tick: 500ms, metrics: 127.0.0.1:$PORT }
streams:
  - name: news
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: true }
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: veryfast } }
    outputs:
      - name: origin
        format: hls
        url: http://127.0.0.1:18117/upload/news/index.m3u8
        options: { hls_time: 1, hls_list_size: 0 }
        rw_timeout: 2s
        backup: { url: http://127.0.0.1:18116/upload/news/index.m3u8 }
    switch_back: never
    duration: 10s
EOF

A=$T/origina/www/upload/news
B=$T/originb/www/upload/news
fp_cmd px 'bandwidth 150k up'
bg "$HS" run --events "$T/events.jsonl" "$T/job.yaml"
HSPID=$BG_PID
wait_for 15 grep -q '^index4.ts' "$A/index.m3u8" || fail "the primary origin got no segments"
# the output's failures: an input that misses its loss_timeout on a loaded
# machine (lavfi paced in real time) is not the origin's doing
grep '"component":"out:origin' "$T/events.jsonl" | grep -q '"kind":"failure"' &&
    fail "a slow origin failed: $(grep failure "$T/events.jsonl")"
say "a slow origin: segments confirmed, no failure"
"$GET" http://127.0.0.1:$PORT/metrics > "$T/before.prom" || fail "GET /metrics"
fp_cmd px stall
t_stall=$(date +%s%N)
say "the primary origin's proxy stalls"
wait_for 8 grep -Eq '"kind":"failure".*(the origin did not confirm|stopped taking data)' "$T/events.jsonl" ||
    fail "the stalled origin was not noticed: $(cat "$T/events.jsonl")"
t_fail=$(date +%s%N)
wait "$HSPID"; rc=$?
cat "$T/events.jsonl"
assert_eq "exit status" $rc 0
# a segment of 1 s, then the check's rw_timeout of 2 s (and the poll)
assert_le "from the stall to the failure (ms)" $(((t_fail - t_stall) / 1000000)) 4000
grep '"kind":"switch"' "$T/events.jsonl" | grep -q 'out:origin.backup takes over' ||
    fail "no switch to the backup origin"

# the answers of the checks, by status class, on /metrics while it ran
grep -q '^hotspare_edge_responses_2xx_total{.*component="origin"' "$T/before.prom" ||
    fail "no 2xx answers counted for the edge: $(grep edge "$T/before.prom")"
n=$(grep '^hotspare_edge_responses_2xx_total{.*component="origin"' "$T/before.prom" | awk '{print $2}')
assert_ge "segments confirmed before the stall" "$n" 2

pl=$B/index.m3u8
[ -f "$pl" ] || fail "no playlist on the backup origin"
grep -q '#EXT-X-ENDLIST' "$pl" || fail "the backup's playlist is not closed"
assert_eq "backup: decode errors" "$(probe_errors "$pl")" 0
assert_eq "backup: non-increasing dts" "$(probe_nonmonotonic "$pl" v:0)" 0
assert_le "backup: largest pts step (s)" "$(probe_max_gap "$pl" v:0)" 0.0334

# what reached the primary before the stall, plus the backup: every frame
set -- $(origins_frames "$A" "$pl" "$T/frames")
first=$1 last=$2
assert_eq "frames on neither origin" "$(frames_missing "$T/frames" "$first" "$last")" 0
assert_eq "frames in all" $((last - first + 1)) 300
pass
