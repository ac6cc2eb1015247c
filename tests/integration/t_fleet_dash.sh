#!/bin/sh
# Epoch-locked DASH in a fleet (README, "Fleet", epoch lock): a real
# 3-member etcd cluster, a real nginx WebDAV origin, two hotspare nodes
# running one stream with a DASH output, and dash.js in headless Chromium
# playing it while the stream moves from one node to the other
# (ctl drain, make before break):
#   - the MPD is the number template from 1970 (availabilityStartTime
#     1970-01-01T00:00:00Z, no SegmentTimeline), the same from both nodes;
#   - the segments are named by their place on the 1 s grid from 1970:
#     none missing across the move, none uploaded by both nodes, one
#     uploader switch;
#   - ffprobe over the init segment and the segments around the move:
#     each starts exactly one segment after the one before (the same
#     timeline, to the frame), and at its grid point (N x 1 s);
#   - the player plays through the move: no fatal error, no stall longer
#     than a segment;
#   - hot pair (the nodes run pair: always): node c joins and follows b;
#     b's host vanishes (SIGSTOP): c takes over at once, asks the origin
#     which DASH segments it lacks (by their grid names) and uploads them
#     from what it kept warm: 0 missing, 0 uploaded twice.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/etcd.sh"
. "$TOP/tests/lib/nginx.sh"
. "$TOP/tests/lib/fleet.sh"
. "$TOP/tests/lib/players.sh"
need ffprobe
players_need

ETCD=24600; RTMP=19930; HTTP=18930
etcd_start $ETCD
nginx_start origin $RTMP $HTTP
LOG=$NGINX_DIR/access.log
SEG=$NGINX_DIR/www/upload/s1
ORIGIN="http://127.0.0.1:$HTTP"
FLEET="etcd=$ETCD_URL1,$ETCD_URL2,$ETCD_URL3,lease=3s,prefix=/tdash,pair=always"

for n in a b c; do
    cat > "$T/job-$n.yaml" <<EOF
version: 1
supervisor: { control: $T/ctl-$n.sock }
streams:
  - name: s1
    input: { url: "testsrc2=size=320x180:rate=25", format: lavfi }
    audio: false
    renditions:
      - { name: v, width: 320, height: 180, bitrate: 300k, gop: 25,
          options: { preset: veryfast, profile: main } }
    outputs:
      - name: dash
        format: dash
        url: $ORIGIN/upload/s1/index.mpd
        options: { seg_duration: 1, window_size: 10, utc_timing_url: "$ORIGIN/time" }
EOF
done
leader() { etcd_get /tdash/lead/ | sed -n 's|^/tdash/lead/s1=||p'; }

bg "$HS" run --events "$T/ev-a.jsonl" --fleet "$FLEET,node=a" "$T/job-a.yaml" > "$T/run-a.log" 2>&1
wait_for 20 sh -c "grep -q 'PUT /upload/s1/chunk-stream0-[0-9]*\.m4s.*fleet-node/a' '$LOG'" ||
    fail "a uploads no DASH segment: $(tail -5 "$T/run-a.log")"
bg "$HS" run --events "$T/ev-b.jsonl" --fleet "$FLEET,node=b" "$T/job-b.yaml" > "$T/run-b.log" 2>&1
PID_b=$BG_PID
sleep 4
assert_eq "leader" "$(leader)" a
grep -q 'availabilityStartTime="1970-01-01T00:00:00Z"' "$SEG/index.mpd" ||
    fail "the MPD is not dated from 1970: $(head -20 "$SEG/index.mpd")"
grep -q '<SegmentTimeline' "$SEG/index.mpd" && fail "the MPD still lists a SegmentTimeline"
grep -q 'media="chunk-stream$RepresentationID$-$Number$.m4s"' "$SEG/index.mpd" ||
    fail "no number template in the MPD: $(grep SegmentTemplate "$SEG/index.mpd")"
cp "$SEG/index.mpd" "$T/mpd-a.xml"
command -v xmllint > /dev/null && { xmllint --noout "$SEG/index.mpd" || fail "the MPD is not well-formed"; }

# --- the player, and the move under it -------------------------------------
play viewer dash "$ORIGIN/upload/s1/index.mpd" 24
await_start viewer
sleep 6
lines=$(wc -l < "$LOG")
t0=$(date +%s.%N)
"$HS" ctl --socket "$T/ctl-a.sock" drain > /dev/null || fail "ctl drain refused"
n=80
while [ "$(leader)" != b ] && [ $n -gt 0 ]; do sleep 0.25; n=$((n - 1)); done
[ "$(leader)" = b ] || fail "the stream did not move to b: $(grep -h fleet "$T"/ev-*.jsonl | tail -3)"
t1=$(date +%s.%N)
say "drained a: b leads $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s later"
finish viewer

# --- the origin: the segments across the move ---------------------------------
tail -n +$((lines + 1)) "$LOG" | grep 'PUT /upload/s1/chunk-stream0-[0-9]*\.m4s' |
    sed 's|.*/chunk-stream0-\([0-9]*\)\.m4s .*fleet-node/\([a-z]*\)".*|\1 \2|' > "$T/puts.txt"
dup=$(puts_twice "$T/puts.txt")
switches=$(puts_switches "$T/puts.txt")
gaps=$(puts_gaps "$T/puts.txt")
last_a=$(awk '$2 == "a" {x = $1} END{print x}' "$T/puts.txt")
first_b=$(awk '$2 == "b" {print $1; exit}' "$T/puts.txt")
say "a's last segment $last_a, b's first $first_b; missing $gaps, PUT by both $dup, switches $switches"
assert_eq "segments missing across the move" "$gaps" 0
assert_eq "segments uploaded by both nodes" "$dup" 0
assert_eq "uploader switches" "$switches" 1
assert_eq "b's first segment follows a's last" "$first_b" $((last_a + 1))
sed '/publishTime=/d' "$T/mpd-a.xml" > "$T/mpd-a.cmp"
sed '/publishTime=/d' "$SEG/index.mpd" > "$T/mpd-b.cmp"
cmp -s "$T/mpd-a.cmp" "$T/mpd-b.cmp" ||
    fail "b's MPD differs from a's: $(diff "$T/mpd-a.cmp" "$T/mpd-b.cmp" | head -6)"
# one timeline: each segment starts one segment after the one before, on
# its grid point
for n in $((last_a - 1)) $last_a $first_b $((first_b + 1)); do
    cat "$SEG/init-stream0.m4s" "$SEG/chunk-stream0-$n.m4s" > "$T/seg-$n.mp4"
    p=$(ffprobe -v error -select_streams v -show_entries packet=pts_time -of csv=p=0 "$T/seg-$n.mp4" |
        sort -n | head -1)
    off=$(awk -v p="$p" -v n="$n" 'BEGIN{d = p - n; if (d < 0) d = -d; printf "%.3f", d}')
    assert_le "segment $n starts at its grid point, $n s (off, s)" "$off" 0.001
done

# --- the player ---------------------------------------------------------------
fatal=$(jn viewer '.fatal_errors')
stall_max=$(jn viewer '[.stalls[].seconds] | max // 0')
played=$(jn viewer '.final.current_time')
say "dash.js: played to $played s, $(jn viewer '.stall_count') stalls (longest $stall_max s), $fatal fatal errors"
assert_eq "fatal player errors" "$fatal" 0
assert_le "the longest stall (s)" "$stall_max" 1.0

# --- hot pair: c follows b, b vanishes -------------------------------------------
# successful segment PUTs as "NUMBER NODE" (a PUT left hanging by the
# vanished node is logged, with its failure, only when nginx gives up)
puts() {
    tail -n +$(($1 + 1)) "$LOG" | grep 'PUT /upload/s1/chunk-stream0-[0-9]*\.m4s HTTP/1\.[01]" 20[14] ' |
        sed 's|.*/chunk-stream0-\([0-9]*\)\.m4s .*fleet-node/\([a-z]*\)".*|\1 \2|'
}
bg "$HS" run --events "$T/ev-c.jsonl" --fleet "$FLEET,node=c" "$T/job-c.yaml" > "$T/run-c.log" 2>&1
wait_for 30 grep -q "follows the stream (hot pair)" "$T/ev-c.jsonl" ||
    fail "c does not follow s1: $(tail -3 "$T/run-c.log")"
sleep 4
lines=$(wc -l < "$LOG")
evc=$(wc -l < "$T/ev-c.jsonl")
t0=$(date +%s.%N)
kill -STOP "$PID_b"
wait_for 20 sh -c "tail -n +$((lines + 1)) '$LOG' | grep -q 'PUT /upload/s1/chunk-stream0-[0-9]*\.m4s.*fleet-node/c'" ||
    fail "c did not take over: $(tail -5 "$T/run-c.log")"
t1=$(date +%s.%N)
sleep 5
# b's last upload that nginx confirmed (one under way at the SIGSTOP may
# have finished after it: it is b's too)
last_b=$(puts 0 | awk '$2 == "b" {n = $1} END{print n}')
puts 0 | awk -v f="$((last_b - 3))" '$1 >= f' > "$T/pair.txt"
first_c=$(puts "$lines" | awk '$2 == "c" {print $1; exit}')
dup=$(puts_twice "$T/pair.txt")
missing=$(puts_missing "$T/pair.txt")
say "b vanished (SIGSTOP) -> c's first segment at the origin: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s; b's last confirmed $last_b, c's first $first_c; missing $missing, PUT twice $dup"
assert_eq "leader after b vanished" "$(leader)" c
assert_eq "DASH segments missing at the origin (hot pair)" "$missing" 0
assert_eq "DASH segments uploaded twice (hot pair)" "$dup" 0
assert_eq "c's first segment is the one after b's last" "$first_c" $((last_b + 1))
tail -n +$((evc + 1)) "$T/ev-c.jsonl" | grep -q "holds segment [0-9]* and not the next" ||
    fail "c did not ask the origin what it lacked: $(tail -n +$((evc + 1)) "$T/ev-c.jsonl" | grep -v fleet | head -3)"
kill -9 "$PID_b" 2> /dev/null
pass
