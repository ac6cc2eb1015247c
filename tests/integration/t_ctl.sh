#!/bin/sh
# The control socket and hotspare ctl on a running two-stream job: status
# lists every component with its instances and states; the graphs of ctl
# and of `hotspare graph` are valid Graphviz and name no URL; garbage, a
# 1 MiB line and a silent client change nothing for the job (it keeps
# producing, ctl still answers); a second run on the same socket is
# refused, a stale one replaced; ctl exits 3 with no supervisor; ctl stop
# stops the run like SIGTERM, stop --now like a second signal.
. "$(dirname "$0")/../lib/common.sh"
need dot jq
PEER=$TOP/tests/tools/ctlpeer
[ -x "$PEER" ] || fail "no $PEER: run make testprogs"
SOCK=$T/hs.sock

job "$T/job.yaml" <<EOF
version: 1
supervisor: { control: $SOCK }
streams:
  - name: news
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: true }
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: veryfast },
          backup: { encoder: libx264, options: { preset: ultrafast } } }
    outputs:
      - { name: hls, format: hls, url: $T/out/news/index.m3u8, options: { hls_time: 1, hls_list_size: 0 } }
      - { name: rec, format: flv, url: $T/out/news.flv, backup: { url: $T/out/news-backup.flv } }
    duration: 60s
  - name: sport
    input: { url: "testsrc2=size=320x180:rate=25", format: lavfi, realtime: true }
    audio: false
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: veryfast } }
    outputs:
      - { name: ts, format: mpegts, url: $T/out/sport.ts }
    duration: 60s
EOF

# no supervisor yet: exit 3; usage errors: exit 2
"$HS" ctl --socket "$SOCK" status 2>/dev/null; assert_eq "ctl without a supervisor" $? 3
"$HS" ctl --socket "$SOCK" 2>/dev/null; assert_eq "ctl without a command" $? 2
"$HS" ctl --socket "$SOCK" frobnicate 2>/dev/null; assert_eq "ctl unknown command" $? 2
"$HS" ctl --socket "$SOCK" switch 2>/dev/null; assert_eq "ctl switch without a component" $? 2
"$HS" ctl --socket "$SOCK" switch news/enc:main sideways 2>/dev/null; assert_eq "ctl bad instance" $? 2
"$HS" ctl --socket "$SOCK" status --now 2>/dev/null; assert_eq "ctl option of another command" $? 2

# the chain of the job file, without running it
"$HS" graph "$T/job.yaml" > "$T/static.dot" || fail "hotspare graph exited $?"
dot -Tsvg "$T/static.dot" > "$T/static.svg" || fail "dot refused hotspare graph's output"
grep -q '<svg' "$T/static.svg" || fail "no SVG from dot"
"$HS" graph --format json "$T/job.yaml" > "$T/static.json" || fail "hotspare graph --format json"
assert_eq "static graph: nodes" "$(jq '.nodes | length' "$T/static.json")" 16
assert_eq "static graph: edges" "$(jq '.edges | length' "$T/static.json")" 16
assert_eq "static graph: who feeds out:rec" \
    "$(jq -c '[.edges[] | select(.to == "news/out:rec") | .from]' "$T/static.json")" \
    '["news/enc:main","news/enc:audio"]'
grep -q "$T" "$T/static.dot" "$T/static.json" && fail "the static graph names a path"
"$HS" graph --format svg "$T/job.yaml" 2>/dev/null; assert_eq "graph --format svg" $? 2

bg "$HS" run --events "$T/events.jsonl" "$T/job.yaml"
HSPID=$BG_PID
wait_for 10 test -S "$SOCK" || fail "no control socket after 10 s"
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "socket mode $(stat -c %a "$SOCK"), want 600"
wait_for 15 grep -q '^index1.ts' "$T/out/news/index.m3u8" || fail "no second segment after 15 s"

# status: every component of both streams, with instances and states
"$HS" ctl --socket "$SOCK" status --json > "$T/status.json" || fail "ctl status --json exited $?"
assert_eq "status: ok" "$(jq .ok "$T/status.json")" true
assert_eq "status: components" "$(jq -c '[.components[].id]' "$T/status.json")" \
    '["news/input","news/vdec","news/adec","news/ladder","news/enc:main","news/enc:audio","news/out:hls","news/out:rec","news/edge:hls","news/edge:rec","sport/input","sport/vdec","sport/ladder","sport/enc:main","sport/out:ts","sport/edge:ts"]'
assert_eq "status: instances of out:rec" \
    "$(jq -c '[.components[] | select(.id == "news/out:rec") | .instances[].name]' "$T/status.json")" \
    '["primary","backup"]'
assert_eq "status: instances of enc:main" \
    "$(jq '[.components[] | select(.id == "news/enc:main") | .instances[]] | length' "$T/status.json")" 2
assert_eq "status: components without a state" \
    "$(jq '[.components[] | select((.instances | length) == 0 or any(.instances[]; .state == null))] | length' "$T/status.json")" 0
assert_eq "status: components running" \
    "$(jq '[.components[] | select(.thread == "running")] | length' "$T/status.json")" 16
assert_eq "status: primaries in use" \
    "$(jq '[.components[] | select(.in_use == "primary")] | length' "$T/status.json")" 16
grep -q "$T" "$T/status.json" && fail "status names a path"
"$HS" ctl --socket "$SOCK" status > "$T/status.txt" || fail "ctl status exited $?"
grep -q '^news  *enc:main  *encoder  *primary' "$T/status.txt" || fail "status table: $(cat "$T/status.txt")"
# the job file finds the same socket
"$HS" ctl --job "$T/job.yaml" status > /dev/null || fail "ctl --job exited $?"

# the running graph: valid DOT, and JSON with states
"$HS" ctl --socket "$SOCK" graph > "$T/run.dot" || fail "ctl graph exited $?"
dot -Tsvg "$T/run.dot" > "$T/run.svg" || fail "dot refused ctl graph's output"
"$HS" ctl --socket "$SOCK" graph --format json > "$T/run.json" || fail "ctl graph --format json"
assert_eq "graph: nodes in use" "$(jq '[.nodes[] | select(.active == 0)] | length' "$T/run.json")" 16
grep -q "$T" "$T/run.dot" "$T/run.json" && fail "the graph names a path"

# refusals: exit 1 with the reason
"$HS" ctl --socket "$SOCK" provision news/input 2> "$T/refused.txt"; rc=$?
assert_eq "provision of an input" $rc 1
grep -q 'only switched' "$T/refused.txt" || fail "no reason: $(cat "$T/refused.txt")"
"$HS" ctl --socket "$SOCK" switch enc:main 2> "$T/ambiguous.txt"; rc=$?
assert_eq "a name in two streams" $rc 1
grep -q 'several streams' "$T/ambiguous.txt" || fail "no reason: $(cat "$T/ambiguous.txt")"
"$HS" ctl --socket "$SOCK" release news/out:rec primary 2>/dev/null; assert_eq "release of a primary" $? 1
"$HS" ctl --socket "$SOCK" switch news/out:nope 2>/dev/null; assert_eq "no such component" $? 1

# a second run on the same socket is refused before it starts anything
"$HS" run "$T/job.yaml" > "$T/second.log" 2>&1; rc=$?
assert_eq "second run on a live socket" $rc 2
grep -q 'already running' "$T/second.log" || fail "second run: $(cat "$T/second.log")"
test -S "$SOCK" || fail "the second run removed the first's socket"

# bad clients change nothing
# (segments, not bytes: a file output is written in 256 KiB blocks, 5 s of
# this stream)
seg0=$(grep -c '^index' "$T/out/news/index.m3u8")
bg "$PEER" "$SOCK" silent 30
printf 'garbage\n{"v":1,"cmd":"status"\n[1,2]\n{"v":9,"cmd":"status"}\n{"v":1,"cmd":"fly"}\n{"v":1,"cmd":"graph","format":"png"}\n' |
    "$PEER" "$SOCK" send > "$T/garbage.txt" || fail "ctlpeer send exited $?"
assert_eq "answers to garbage" "$(grep -c '"ok":false' "$T/garbage.txt")" 6
"$PEER" "$SOCK" big 1048576 > "$T/big.txt" || fail "ctlpeer big exited $?"
grep -q 'longer than 65536' "$T/big.txt" || fail "no error for a 1 MiB line: $(head -c 300 "$T/big.txt")"
sed -n 2p "$T/big.txt" | grep -q '"ok":true' || fail "no status after the 1 MiB line"
"$HS" ctl --socket "$SOCK" status > /dev/null || fail "ctl status with a silent client: $?"
"$HS" ctl --socket "$SOCK" events > "$T/events.txt" || fail "ctl events exited $?"
grep -q '"kind":"start"' "$T/events.txt" || fail "no start event in ctl events"
kill -0 "$HSPID" || fail "the run died"
sleep 2
seg1=$(grep -c '^index' "$T/out/news/index.m3u8")
assert_ge "segments written meanwhile" $((seg1 - seg0)) 1
nseg0=$(grep -c '^index' "$T/out/news/index.m3u8")
sleep 2
assert_ge "HLS segments in 2 s" $(($(grep -c '^index' "$T/out/news/index.m3u8") - nseg0)) 1

# ctl stop: as SIGTERM (outputs finish, 255), the socket removed
"$HS" ctl --socket "$SOCK" stop > "$T/stop.txt" || fail "ctl stop exited $?"
wait "$HSPID"; rc=$?
assert_eq "exit status after ctl stop" $rc 255
grep -q '#EXT-X-ENDLIST' "$T/out/news/index.m3u8" || fail "HLS not finished after ctl stop"
test -e "$SOCK" && fail "the socket is still there after the run"
"$HS" ctl --socket "$SOCK" status 2>/dev/null; assert_eq "ctl after the run" $? 3

# a stale socket (a run killed with -9) is replaced; stop --now exits at once
bg "$HS" run "$T/job.yaml"
HSPID=$BG_PID
wait_for 10 test -S "$SOCK" || fail "no socket for the run to kill"
kill -9 "$HSPID"; wait "$HSPID" 2>/dev/null
test -S "$SOCK" || fail "no stale socket left"
"$HS" ctl --socket "$SOCK" status 2>/dev/null; assert_eq "ctl on a stale socket" $? 3
bg "$HS" run "$T/job.yaml" 2> "$T/third.log"
HSPID=$BG_PID
wait_for 10 "$HS" ctl --socket "$SOCK" status || fail "the stale socket was not replaced: $(cat "$T/third.log")"
grep -q 'stale socket' "$T/third.log" || fail "the stale socket replaced silently"
"$HS" ctl --socket "$SOCK" stop --now > /dev/null || fail "ctl stop --now exited $?"
wait "$HSPID"; rc=$?
assert_eq "exit status after stop --now" $rc 255
test -e "$SOCK" && fail "the socket is still there after stop --now"
pass
