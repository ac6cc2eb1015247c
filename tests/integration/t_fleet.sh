#!/bin/sh
# Fleet mode (README, "Fleet"): a real 3-member etcd cluster on loopback,
# a real nginx WebDAV origin, hotspare nodes as separate processes, all
# started with the same job (the fleet settings on the command line).
#   1. node a leads the stream and uploads it; node b stands by (no PUT);
#   2. kill -9 of a: its lease expires, b takes the stream (its job file
#      invalid meanwhile: it runs the job as the file last loaded) and goes on in
#      the same playlist URL with epoch-locked numbers and timestamps (no
#      discontinuity; b's first segment where a's timeline puts it).
#      Measured: death -> the first new segment at the origin, and the
#      numbers missing there;
#   3. an etcd member killed: nothing changes (same leader, segments keep
#      coming, no other node uploads);
#   4. etcd unreachable (every member SIGSTOPped) for longer than the
#      lease, then back: the leader fences its uploads at its lease's
#      expiry and keeps the stream running, warm; never do two nodes
#      upload the stream at once (the origin's access log, by User-Agent);
#      when etcd is back the same node uploads again, without a restart.
#      Measured: etcd back -> the first new segment at the origin;
#   5. ctl drain of the leader: the other node starts the stream warm,
#      and takes it over at a segment boundary, make before break: no
#      segment missing at the origin, none uploaded twice, one uploader
#      switch, the timeline continuous across it (ffprobe: the first
#      timestamp of each segment one segment after the previous one's);
#   6. ctl --fleet move s1 c (a third node): the same, to the node named.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/etcd.sh"
. "$TOP/tests/lib/nginx.sh"
. "$TOP/tests/lib/fleet.sh"

ETCD=23900; RTMP=19900; HTTP=18900
etcd_start $ETCD
nginx_start origin $RTMP $HTTP
LOG=$NGINX_DIR/access.log
SEG=$NGINX_DIR/www/upload/s1

fleet_job "$T/job.yaml" "http://127.0.0.1:$HTTP"

FLEET="etcd=$ETCD_URL1,$ETCD_URL2,$ETCD_URL3,lease=3s,prefix=/tfleet"
node() {
    bg nice -n 10 "$HS" run --events "$T/ev-$1.jsonl" --fleet "$FLEET,node=$1" \
        --pid-file "$T/$1.pid" "$T/job.yaml" > "$T/run-$1.log" 2>&1
    eval "PID_$1=$BG_PID"
}
ctl_sock() { printf 'supervisor: { control: %s }\n' "$T/ctl-$1.sock"; }
leader() { etcd_get /tfleet/lead/ | sed -n 's|^/tfleet/lead/s1=||p'; }
# wait_leader SECS NAME: every 0.5 s (each look starts a python3), until
# NAME leads s1 (NAME empty: anyone)
wait_leader() {
    _n=$(($1 * 2))
    while [ $_n -gt 0 ]; do
        _l=$(leader)
        [ -n "$_l" ] && { [ -z "$2" ] || [ "$_l" = "$2" ]; } && return 0
        sleep 0.5
        _n=$((_n - 1))
    done
    return 1
}
# segment PUTs (.ts) of node $1 in the access log
puts() { grep -c "PUT /upload/s1/index[0-9]*\.ts .*fleet-node/$1\"" "$LOG"; }
# the numbers of the segments at the origin, sorted
numbers() { ls "$SEG" 2>/dev/null | sed -n 's/^index\([0-9]*\)\.ts$/\1/p' | sort -n; }
now() { date +%s.%N; }

# each node its own control socket: two runs of one job on one host
sed -i "1a $(ctl_sock a | sed 's/[|&]/\\&/g')" "$T/job.yaml"
node a
wait_leader 15 a || fail "node a does not lead s1: $(tail -5 "$T/run-a.log")"
# b: same job, its own socket
sed "s|ctl-a.sock|ctl-b.sock|" "$T/job.yaml" > "$T/job-b.yaml"
bg nice -n 10 "$HS" run --events "$T/ev-b.jsonl" --fleet "$FLEET,node=b" "$T/job-b.yaml" > "$T/run-b.log" 2>&1
PID_b=$BG_PID
wait_for 15 sh -c "[ \$(ls '$SEG' 2>/dev/null | grep -c '\.ts\$') -ge 3 ]" || fail "no segments from a: $(tail -5 "$T/run-a.log")"
sleep 2
assert_eq "leader with two nodes up" "$(leader)" a
assert_eq "segment PUTs from the standby b" "$(puts b)" 0

# --- 2. kill -9 of the leader ------------------------------------------
last_a=$(numbers | tail -1)
# b's job file is being edited (invalid) when it must take over: it runs
# the stream as the file last loaded
cp "$T/job-b.yaml" "$T/job-b.good"
printf 'streams: [\n' >> "$T/job-b.yaml"
t0=$(now)
kill -9 $PID_a
wait_for 20 sh -c "[ \$(grep -c 'PUT /upload/s1/index[0-9]*\.ts .*fleet-node/b\"' '$LOG') -ge 1 ]" ||
    fail "b did not take over: $(tail -5 "$T/run-b.log")"
t1=$(now)
grep -q "job-b.yaml does not load now: the streams run as the file last loaded" "$T/run-b.log" ||
    fail "b did not say that its job file no longer loads"
cp "$T/job-b.good" "$T/job-b.yaml"
takeover=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}')
first_b=$(grep 'PUT /upload/s1/index[0-9]*\.ts .*fleet-node/b"' "$LOG" | head -1 | sed 's|.*/index\([0-9]*\)\.ts .*|\1|')
missing=$((first_b - last_a - 1))
say "kill -9 of the leader: death -> first new segment at the origin: $takeover s; last of a: $last_a, first of b: $first_b, segments missing: $missing"
assert_eq "leader after a's death" "$(leader)" b
assert_le "death -> first new segment (s; lease 3 s)" "$takeover" 10
assert_ge "b numbers after a (no segment overwritten)" "$first_b" $((last_a + 1))
# epoch lock: b's segments go on in a's timeline. The first video
# timestamp of a segment is its number times hls_time (1 s) in Unix time,
# modulo MPEG-TS's 33-bit clock, plus the muxer's fixed delay: the same on
# both nodes, so b's first minus a's last is the numbers' difference in
# seconds, to the frame (40 ms).
grep -q "#EXT-X-DISCONTINUITY" "$SEG/index.m3u8" && fail "a discontinuity in b's playlist: the timeline was not kept"
pa=$(pts0 "$SEG/index$last_a.ts"); pb=$(pts0 "$SEG/index$first_b.ts")
step=$(awk -v a="$pa" -v b="$pb" -v n=$((first_b - last_a)) 'BEGIN{d = b - a; if (d < 0) d += 2^33; printf "%.3f", d / 90000 - n}')
say "timeline across the takeover: b's first segment starts $step s from where a's numbering puts it"
assert_le "b's first segment off a's timeline (s, absolute)" "$(echo "$step" | tr -d -)" 0.04
for n in $(numbers | tail -4 | head -3); do
    d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$SEG/index$n.ts")
    assert_le "segment $n's length off 1 s (epoch grid)" "$(awk -v d="$d" 'BEGIN{x = d - 1; if (x < 0) x = -x; printf "%.3f", x}')" 0.05
done

# tests/bench/bench_fleet.sh repeats the takeover alone
[ "${FLEET_TAKEOVER_ONLY:-0}" = 1 ] && pass

# --- 3. an etcd member dies: nothing changes -------------------------------
sleep 1
pb=$(puts b)
etcd_kill 1
sleep 4
assert_eq "leader after an etcd member's death" "$(leader)" b
assert_ge "segments b uploaded in the 4 s after" $(($(puts b) - pb)) 3
grep -q "no longer leads" "$T/ev-b.jsonl" && fail "b let go of s1 when one etcd member died"

# --- 4. etcd unreachable for longer than the lease -------------------------
# a again, as a standby that will compete when etcd comes back
sed "s|ctl-a.sock|ctl-a2.sock|" "$T/job.yaml" > "$T/job-a2.yaml"
bg nice -n 10 "$HS" run --events "$T/ev-a2.jsonl" --fleet "$FLEET,node=a" "$T/job-a2.yaml" > "$T/run-a2.log" 2>&1
sleep 2
lines0=$(wc -l < "$LOG")
evb0=$(wc -l < "$T/ev-b.jsonl")
etcd_stop_all
sleep 7
lines1=$(wc -l < "$LOG")
etcd_cont_all
t2=$(now)
wait_leader 20 "" || fail "no leader after etcd came back"
wait_for 15 sh -c "tail -n +$((lines1 + 1)) '$LOG' | grep -q 'PUT /upload/s1/index[0-9]*\.ts'" ||
    fail "nothing uploaded after etcd came back"
t3=$(now)
back=$(awk -v a="$t2" -v b="$t3" 'BEGIN{printf "%.1f", b - a}')
sleep 4
say "leader after the outage: $(leader); etcd back -> first new segment at the origin: $back s"
tail -n +$((evb0 + 1)) "$T/ev-b.jsonl" > "$T/ev-b-outage.jsonl"
grep -q "upload nothing (fenced)" "$T/ev-b-outage.jsonl" || fail "b did not fence itself during the outage"
grep -q '"fenced: ' "$T/ev-b-outage.jsonl" || fail "b's output did not stop writing while fenced"
grep -q "unfenced" "$T/ev-b-outage.jsonl" || fail "b's output did not write again after the outage"
grep -q "no longer leads" "$T/ev-b-outage.jsonl" && fail "b stopped the stream during the outage (it should run on, fenced)"
assert_eq "leader after the outage (the node that kept it warm)" "$(leader)" b
# duplicates: a segment number PUT by two nodes, or the uploads of two
# nodes interleaved (a switch back and forth) since the outage began
tail -n +$((lines0 + 1)) "$LOG" | grep 'PUT /upload/s1/index[0-9]*\.ts' |
    sed 's|.*/index\([0-9]*\)\.ts .*fleet-node/\([a-z0-9]*\)".*|\1 \2|' > "$T/puts.txt"
dup=$(puts_twice "$T/puts.txt")
switches=$(puts_switches "$T/puts.txt")
say "etcd unreachable 7 s (lease 3 s): segments PUT by two nodes: $dup, uploader switches: $switches"
assert_eq "segments uploaded by two nodes" "$dup" 0
assert_le "uploader switches (at most one takeover)" "$switches" 1
[ -s "$T/puts.txt" ] || fail "nothing uploaded after etcd came back"

# --- 5. a planned move: ctl drain of the leader ----------------------------
lines2=$(wc -l < "$LOG")
t4=$(now)
"$HS" ctl --socket "$T/ctl-b.sock" drain || fail "ctl drain refused"
wait_leader 20 a || fail "a did not take s1 over from the drained b: $(tail -5 "$T/run-a2.log")"
t5=$(now)
sleep 5
check_move b a "$lines2" "$(awk -v a="$t4" -v b="$t5" 'BEGIN{printf "%.1f", b - a}')"
grep -q "hands the stream over to node a" "$T/ev-b.jsonl" || fail "no handover event from b"

# --- 6. a planned move asked of the fleet: ctl --fleet move ----------------
sed "s|ctl-a.sock|ctl-c.sock|" "$T/job.yaml" > "$T/job-c.yaml"
bg nice -n 10 "$HS" run --events "$T/ev-c.jsonl" --fleet "$FLEET,node=c" "$T/job-c.yaml" > "$T/run-c.log" 2>&1
PID_c=$BG_PID
sleep 3
# CPU seconds of node c (utime + stime)
cpu_c() { sed 's/.*) //' "/proc/$PID_c/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($12 + $13) / hz }'; }
c0=$(cpu_c)
assert_eq "leader with c standing by" "$(leader)" a
lines3=$(wc -l < "$LOG")
t6=$(now)
"$HS" ctl --fleet "$FLEET" move s1 c --timeout 20 || fail "ctl --fleet move did not move s1 to c: $(tail -5 "$T/run-c.log")"
t7=$(now)
c1=$(cpu_c)
say "hot move's extra cost: c used $(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b - a}') CPU-s over the $(awk -v a="$t6" -v b="$t7" 'BEGIN{printf "%.1f", b - a}') s from the request to leading (standing by before: $c0 CPU-s since its start)"
sleep 5
check_move a c "$lines3" "$(awk -v a="$t6" -v b="$t7" 'BEGIN{printf "%.1f", b - a}')"
[ -z "$(etcd_get /tfleet/move/)" ] || fail "the move request is still in etcd after the move"
"$HS" ctl --fleet "$FLEET" move s1 nobody --timeout 2 > /dev/null 2>&1 && fail "a move to a node that does not exist succeeded"
[ -z "$(etcd_get /tfleet/move/)" ] || fail "the failed move's request is still in etcd: $(etcd_get /tfleet/move/)"
pass
