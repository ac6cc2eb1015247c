#!/bin/sh
# Moves on risk (README, "Fleet"): a real 3-member etcd cluster, a real
# nginx WebDAV origin, two hotspare nodes with pair: on_risk. Node a's
# data store lives on a filesystem of its own (48 MB, harness.sh's
# small_fs), which diskfill then fills at 3 MB/s: a host heading for a
# full disk.
#   1. while a's host is quiet, b does not follow the stream (on_risk:
#      no second encode);
#   2. as the filesystem fills, a's host risk (the data store's
#      filesystem full in under a minute) rises: b starts the stream warm
#      at 0.5 (the follower), a is at risk at 0.8 for two rounds and
#      hands the stream over to b at a segment boundary, make before
#      break: 0 segments missing, 0 uploaded twice, one uploader switch,
#      the timeline continuous across the move (check_move), a's risk on
#      its /metrics (hotspare_host_risk).
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/etcd.sh"
. "$TOP/tests/lib/nginx.sh"
. "$TOP/tests/lib/fleet.sh"
. "$TOP/tests/lib/harness.sh"
need ffprobe curl

ETCD=24800; RTMP=19970; HTTP=18970; METRICS=18975
small_fs "$T/fa" 48m || skip "$SMALL_FS_WHY"

etcd_start $ETCD
nginx_start origin $RTMP $HTTP
LOG=$NGINX_DIR/access.log
SEG=$NGINX_DIR/www/upload/s1

# the same streams on both nodes; each its own socket, store and metrics
fleet_job "$T/job-a.yaml" "http://127.0.0.1:$HTTP" \
    "control: $T/ctl-a.sock, hds: { path: $T/fa/a.hds }, metrics: 127.0.0.1:$METRICS"
sed -e "s|ctl-a.sock|ctl-b.sock|" -e "s|, hds: { path: $T/fa/a.hds }, metrics: 127.0.0.1:$METRICS||" \
    "$T/job-a.yaml" > "$T/job-b.yaml"

FLEET="etcd=$ETCD_URL1,$ETCD_URL2,$ETCD_URL3,lease=3s,prefix=/trisk,pair=on_risk"
leader() { etcd_get /trisk/lead/ | sed -n 's|^/trisk/lead/s1=||p'; }
now() { date +%s.%N; }

bg nice -n 10 "$HS" run --events "$T/ev-a.jsonl" --fleet "$FLEET,node=a" "$T/job-a.yaml" > "$T/run-a.log" 2>&1
wait_for 15 sh -c "grep -q 'fleet-node/a' '$LOG'" || fail "a uploads nothing: $(tail -5 "$T/run-a.log")"
bg nice -n 10 "$HS" run --events "$T/ev-b.jsonl" --fleet "$FLEET,node=b" "$T/job-b.yaml" > "$T/run-b.log" 2>&1
sleep 5
assert_eq "leader" "$(leader)" a
grep -q "follows the stream" "$T/ev-b.jsonl" && fail "b follows s1 while a's host is quiet (pair: on_risk)"
say "a quiet: b stands by without following (no second encode)"

# --- the disk fills --------------------------------------------------------
lines=$(wc -l < "$LOG")
t0=$(now)
disk_fill "$T/fa" 0.99 3M
wait_for 40 grep -q "follows the stream" "$T/ev-b.jsonl" ||
    fail "b did not follow s1 as a's risk rose: $(grep -h 'risk' "$T"/ev-*.jsonl | tail -3)"
t1=$(now)
n=80
while [ "$(leader)" != b ] && [ $n -gt 0 ]; do sleep 0.5; n=$((n - 1)); done
[ "$(leader)" = b ] ||
    fail "a did not hand s1 over as its disk filled: $(grep -h 'risk' "$T"/ev-a.jsonl | tail -3)"
t2=$(now)
risk=$(curl -sf "http://127.0.0.1:$METRICS/metrics" | sed -n 's/^hotspare_host_risk\({[^}]*}\)\? //p' | head -1)
why=$(grep -h "is at risk" "$T/ev-a.jsonl" | head -1 | sed 's/.*"cause":"\([^"]*\)".*/\1/')
say "fill started -> b follows: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s; -> b leads: $(awk -v a="$t0" -v b="$t2" 'BEGIN{printf "%.1f", b - a}') s"
say "a's event: $why"
[ -n "$why" ] || fail "no 'at risk' event from a"
assert_ge "a's host risk on its /metrics" "${risk:-0}" 0.8
sleep 4
check_move a b "$lines" "$(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.1f", b - a}')"
grep -q "hands the stream over to node b" "$T/ev-a.jsonl" || fail "no handover event from a"
pass
