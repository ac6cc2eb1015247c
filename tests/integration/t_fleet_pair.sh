#!/bin/sh
# Hot pair (README, "Fleet"): fleet: { pair: always } on a real 3-member
# etcd and a real nginx WebDAV origin, two hotspare nodes.
#   1. a leads s1 and uploads it; b follows: it runs s1 warm (events) and
#      uploads nothing;
#   2. planned moves both ways (ctl --fleet move s1 b, then a): the node
#      left becomes the follower again (its outputs ended at the boundary:
#      the pipeline is rebuilt warm), so the move back works;
#   3. a's host vanishes without a reset (SIGSTOP: no FIN, no RST, its
#      upload under way left hanging): its lease expires, b takes s1 at
#      once, asks the origin which segments it lacks and uploads them
#      from what it kept warm, then goes on live. Measured: the vanishing
#      -> b's first segment, and the segments missing at the origin: 0
#      (every number from a's first to b's last is there, each once).
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/etcd.sh"
. "$TOP/tests/lib/nginx.sh"
. "$TOP/tests/lib/fleet.sh"

ETCD=24900; RTMP=19950; HTTP=18950
etcd_start $ETCD
nginx_start origin $RTMP $HTTP
LOG=$NGINX_DIR/access.log
SEG=$NGINX_DIR/www/upload/s1

fleet_job "$T/job.yaml" "http://127.0.0.1:$HTTP" "control: $T/ctl-a.sock"
sed "s|ctl-a.sock|ctl-b.sock|" "$T/job.yaml" > "$T/job-b.yaml"

FLEET="etcd=$ETCD_URL1,$ETCD_URL2,$ETCD_URL3,lease=3s,prefix=/tpair,pair=always"
leader() { etcd_get /tpair/lead/ | sed -n 's|^/tpair/lead/s1=||p'; }
# successful segment PUTs as "NUMBER NODE" lines (a PUT left hanging by a
# vanished node is logged, with its failure, only when nginx gives up)
puts() {
    grep 'PUT /upload/s1/index[0-9]*\.ts HTTP/1\.[01]" 20[14] ' "$LOG" |
        sed 's|.*/index\([0-9]*\)\.ts .*fleet-node/\([a-z0-9]*\)".*|\1 \2|'
}
now() { date +%s.%N; }

bg nice -n 10 "$HS" run --events "$T/ev-a.jsonl" --fleet "$FLEET,node=a" "$T/job.yaml" > "$T/run-a.log" 2>&1
PID_a=$BG_PID
wait_for 15 sh -c "[ \"\$(etcd_get /tpair/lead/ 2>/dev/null)\" != '' ]" 2> /dev/null
wait_for 15 sh -c "grep -q 'fleet-node/a' '$LOG'" || fail "a uploads nothing: $(tail -5 "$T/run-a.log")"
bg nice -n 10 "$HS" run --events "$T/ev-b.jsonl" --fleet "$FLEET,node=b" "$T/job-b.yaml" > "$T/run-b.log" 2>&1
PID_b=$BG_PID
wait_for 15 grep -q "follows the stream (hot pair)" "$T/ev-b.jsonl" ||
    fail "b does not follow s1: $(tail -5 "$T/run-b.log")"
sleep 4
assert_eq "leader" "$(leader)" a
assert_eq "segment PUTs from the follower b" "$(puts | grep -c ' b$')" 0

# --- moves both ways under a pair ------------------------------------------
"$HS" ctl --fleet "$FLEET" move s1 b --timeout 20 > /dev/null || fail "move s1 to b: $(tail -3 "$T/run-b.log")"
wait_for 30 grep -q "node a follows the stream" "$T/ev-a.jsonl" ||
    fail "a does not follow s1 after handing it over: $(tail -3 "$T/run-a.log")"
"$HS" ctl --fleet "$FLEET" move s1 a --timeout 30 > /dev/null || fail "move s1 back to a: $(tail -3 "$T/run-a.log")"
# the pair forms again: b, whose outputs ended at the move's boundary,
# rebuilds the stream warm once the boundary's last upload is done
wait_for 30 sh -c "[ \$(grep -c 'node b follows the stream' '$T/ev-b.jsonl') -ge 2 ]" ||
    fail "b does not follow s1 again after handing it back"
sleep 3
assert_eq "leader after the moves" "$(leader)" a

# --- a's host vanishes -----------------------------------------------------
lines0=$(wc -l < "$LOG")
evb0=$(wc -l < "$T/ev-b.jsonl")
t0=$(now)
kill -STOP $PID_a
wait_for 20 sh -c "tail -n +$((lines0 + 1)) '$LOG' | grep 'PUT /upload/s1/index[0-9]*\\.ts' | grep -q 'fleet-node/b'" ||
    fail "b did not take over: $(tail -5 "$T/run-b.log")"
t1=$(now)
sleep 6
# a's last upload that nginx confirmed (one under way at the SIGSTOP may
# have finished after it: it is a's too)
last_a=$(puts | awk '$2 == "a" {n = $1} END{print n}')
puts > "$T/puts.txt"
first_b=$(tail -n +$((lines0 + 1)) "$LOG" | grep 'PUT /upload/s1/index[0-9]*\.ts HTTP/1\.[01]" 20[14] ' |
    sed -n 's|.*/index\([0-9]*\)\.ts .*fleet-node/b".*|\1|p' | head -1)
last=$(tail -1 "$T/puts.txt" | cut -d' ' -f1)
first=$(head -1 "$T/puts.txt" | cut -d' ' -f1)
dup=$(puts_twice "$T/puts.txt")
missing=$(puts_missing "$T/puts.txt")
say "a vanished (SIGSTOP) -> b's first segment at the origin: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s; a's last confirmed $last_a, b's first $first_b; from $first to $last: missing $missing, PUT twice $dup"
assert_eq "leader after a vanished" "$(leader)" b
assert_eq "segments missing at the origin (hot pair)" "$missing" 0
assert_eq "segments uploaded twice" "$dup" 0
assert_le "b's first segment (none skipped after a's last)" "$first_b" $((last_a + 1))
tail -n +$((evb0 + 1)) "$T/ev-b.jsonl" | grep -q "holds segment [0-9]* and not the next" ||
    fail "b did not ask the origin what it lacked"
assert_eq "b's first segment after a vanished is the one after a's last" "$first_b" $((last_a + 1))
kill -9 $PID_a 2> /dev/null
pass
