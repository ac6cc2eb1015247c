#!/bin/sh
# A hot pair whose leader's host vanishes from the network (README,
# "Fleet"): three network namespaces made by the test, joined by veth
# pairs: "core" holds a real 3-member etcd cluster and a real nginx WebDAV
# origin; node a and node b (hotspare, pair: always) each live in a
# namespace of their own with a link to core. a leads the stream, b
# follows it warm. Then a's link is cut (set down on core's side): no
# reset, no FIN, its upload under way left hanging, its etcd calls
# unanswered, as when a host's network dies. Checked at the origin: b's
# first segment, no segment missing, none uploaded twice, and the two
# nodes never uploading the same part of the stream (a, cut off, completes
# no segment at or after b's first).
. "$(dirname "$0")/../lib/common.sh"
need ip ffprobe
ip netns list > /dev/null 2>&1 || skip "ip netns not usable here"

id=$$
NC=hsc$id NA=hsa$id NB=hsb$id
netns_cleanup() {
    cleanup
    for n in $NC $NA $NB; do ip netns del "$n" 2> /dev/null; done
}
trap netns_cleanup EXIT
ip netns add $NC && ip netns add $NA && ip netns add $NB ||
    skip "cannot make network namespaces (root needed)"
for n in $NC $NA $NB; do ip -n $n link set lo up; done
# link N SIDE NET: a veth pair between namespace SIDE and core, 10.77.NET.2
# on SIDE's end, 10.77.NET.1 on core's (named c$SIDE)
link() {
    ip link add "v$1" type veth peer name "c$1" &&
    ip link set "v$1" netns "$1" && ip link set "c$1" netns $NC &&
    ip -n "$1" addr add "10.77.$2.2/24" dev "v$1" && ip -n $NC addr add "10.77.$2.1/24" dev "c$1" &&
    ip -n "$1" link set "v$1" up && ip -n $NC link set "c$1" up
}
link $NA 1 && link $NB 2 || fail "cannot link the namespaces"

ETCD=23950; RTMP=19980; HTTP=18980
ETCD_NETNS=$NC ETCD_HOST=10.77.1.1
. "$TOP/tests/lib/etcd.sh"
. "$TOP/tests/lib/nginx.sh"
. "$TOP/tests/lib/fleet.sh"
etcd_start $ETCD
# the origin in core, listening on all of core's addresses
nginx_conf origin $RTMP $HTTP
sed -i 's/listen 127\.0\.0\.1:/listen /' "$T/origin/nginx.conf"
bg ip netns exec $NC nginx -e "$T/origin/error.log" -p "$T/origin" -c "$T/origin/nginx.conf"
ip netns exec $NC "$TOP/tests/tools/waitport" $HTTP 10 || fail "nginx did not start: $(tail -3 "$T/origin/error.log")"
LOG=$T/origin/access.log
SEG=$T/origin/www/upload/s1

# each node reaches core at its own link's address
for n in a b; do
    net=1; [ $n = b ] && net=2
    fleet_job "$T/job-$n.yaml" "http://10.77.$net.1:$HTTP" "control: $T/ctl-$n.sock"
done
fleet() {   # fleet NET: the --fleet value for a node on link NET
    echo "etcd=http://10.77.$1.1:$ETCD,http://10.77.$1.1:$((ETCD + 1)),http://10.77.$1.1:$((ETCD + 2)),lease=3s,prefix=/tns,pair=always"
}
leader() { etcd_get /tns/lead/ | sed -n 's|^/tns/lead/s1=||p'; }
# successful segment PUTs as "NUMBER NODE" lines
puts() {
    grep 'PUT /upload/s1/index[0-9]*\.ts HTTP/1\.[01]" 20[14] ' "$LOG" |
        sed 's|.*/index\([0-9]*\)\.ts .*fleet-node/\([a-z0-9]*\)".*|\1 \2|'
}
now() { date +%s.%N; }

bg ip netns exec $NA nice -n 10 "$HS" run --events "$T/ev-a.jsonl" --fleet "$(fleet 1),node=a" "$T/job-a.yaml" > "$T/run-a.log" 2>&1
wait_for 20 sh -c "grep -q 'fleet-node/a' '$LOG'" || fail "a uploads nothing: $(tail -5 "$T/run-a.log")"
bg ip netns exec $NB nice -n 10 "$HS" run --events "$T/ev-b.jsonl" --fleet "$(fleet 2),node=b" "$T/job-b.yaml" > "$T/run-b.log" 2>&1
wait_for 20 grep -q "follows the stream (hot pair)" "$T/ev-b.jsonl" ||
    fail "b does not follow s1: $(tail -5 "$T/run-b.log")"
sleep 4
assert_eq "leader" "$(leader)" a
assert_eq "segment PUTs from the follower b" "$(puts | grep -c ' b$')" 0

# --- a's network goes -------------------------------------------------------
lines0=$(wc -l < "$LOG")
t0=$(now)
ip -n $NC link set c$NA down
wait_for 20 sh -c "tail -n +$((lines0 + 1)) '$LOG' | grep 'PUT /upload/s1/index[0-9]*\\.ts' | grep -q 'fleet-node/b'" ||
    fail "b did not take over: $(tail -5 "$T/run-b.log")"
t1=$(now)
sleep 6
puts > "$T/puts.txt"
# a's last segment at the origin: one under way at the cut may have
# completed on its own after lines0
last_a=$(awk '$2 == "a" {n = $1} END{print n}' "$T/puts.txt")
first_b=$(tail -n +$((lines0 + 1)) "$LOG" | grep 'PUT /upload/s1/index[0-9]*\.ts HTTP/1\.[01]" 20[14] ' |
    sed -n 's|.*/index\([0-9]*\)\.ts .*fleet-node/b".*|\1|p' | head -1)
first=$(head -1 "$T/puts.txt" | cut -d' ' -f1)
last=$(tail -1 "$T/puts.txt" | cut -d' ' -f1)
dup=$(puts_twice "$T/puts.txt")
missing=$(puts_missing "$T/puts.txt")
a_after=$(tail -n +$((lines0 + 1)) "$LOG" | grep 'PUT /upload/s1/index[0-9]*\.ts HTTP/1\.[01]" 20[14] ' | grep -c 'fleet-node/a"')
say "a's link cut -> b's first segment at the origin: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s; a's last $last_a, b's first $first_b; from $first to $last: missing $missing, PUT twice $dup; a's uploads completed after the cut: $a_after"
assert_eq "leader after a's link went" "$(leader)" b
assert_eq "segments missing at the origin (hot pair, link cut)" "$missing" 0
assert_eq "segments uploaded twice" "$dup" 0
assert_eq "b's first segment is the one after a's last" "$first_b" $((last_a + 1))
assert_eq "a's segments completed at the origin after b's first" \
    "$(awk -v b="$first_b" '$2 == "a" && $1 >= b' "$T/puts.txt" | wc -l)" 0
grep -q "holds segment [0-9]* and not the next" "$T/ev-b.jsonl" || fail "b did not ask the origin what it lacked"
pass
