#!/bin/sh
# bench_fleet: a fleet node killed with SIGKILL, how long until its stream
# is back at the origin and how many segments the origin misses, against
# the published figures of the systems that move live encodes between
# hosts (/work/shared/notes/anchors-refresh.md, sections 1.13 and 5).
#
# Each run is tests/integration/t_fleet.sh's takeover (FLEET_TAKEOVER_ONLY):
# a 3-member etcd on loopback, an nginx WebDAV origin, two hotspare nodes
# with the same job (160x90 25 fps x264, HLS hls_time 1 s, lease 3 s); the
# leader is killed; "death -> segment" runs from the kill to the first PUT
# of a segment by the other node in the origin's access log, "missing" is
# the segment numbers between the dead node's last and the new one's
# first (numbers are epoch-locked: one per second of wall clock).
#
# RUNS=N (default 3) runs.
set -u
cd "$(dirname "$0")/../.." || exit 2
RUNS=${RUNS:-3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq 1 "$RUNS"); do
    FLEET_TAKEOVER_ONLY=1 sh tests/integration/t_fleet.sh > "$out.log" 2>&1
    rc=$?
    [ $rc = 77 ] && { echo "bench_fleet: skipped: $(tail -1 "$out.log")"; rm -f "$out.log"; exit 0; }
    line=$(grep "kill -9 of the leader:" "$out.log")
    [ $rc = 0 ] && [ -n "$line" ] || { cat "$out.log"; rm -f "$out.log"; exit 1; }
    echo "$line" | sed 's/.*origin: \([0-9.]*\) s;.*missing: \([0-9-]*\)$/\1 \2/' >> "$out"
done
# medians and maxima of each column (mawk: no asort)
col() { cut -d' ' -f"$1" "$out" | sort -n; }
med() { col "$1" | sed -n "$(( (RUNS + 1) / 2 ))p"; }
max() { col "$1" | tail -1; }
printf '%-46s %18s %9s\n' "system (kill -9 of the host running a stream)" "death -> segment" "missing"
printf '%-46s %16s s %9s   (median of %d; max %s s, %s)\n' "hotspare fleet, lease 3 s, hls_time 1 s" \
    "$(med 1)" "$(med 2)" "$RUNS" "$(max 1)" "$(max 2)"
printf '%-46s %18s %9s\n' "datarhei Core cluster (node_recover_timeout)" "~120 s (default)" "n/a"
printf '%-46s %18s %9s\n' "AWS MediaLive pipeline restore" "a few minutes" "n/a"
printf '%-46s %18s %9s\n' "Flussonic cluster ingest" "no figure" "n/a"

# the other scenarios, from one full t_fleet run: the etcd outage (every
# member stopped 7 s, lease 3 s), the drain of the leader, and a move to
# a named node (ctl --fleet move), make before break. time: etcd's return
# -> the first new segment at the origin; for a move, the request -> the
# new node leading (its first segment is the boundary's, 1-2 s later);
# extra CPU: the node the stream moves to, from the request to leading
FLEET_TAKEOVER_ONLY=0 sh tests/integration/t_fleet.sh > "$out.log" 2>&1 || { cat "$out.log"; rm -f "$out.log"; exit 1; }
echo
printf '%-34s %14s %8s %11s %9s %s\n' "scenario (hotspare fleet)" "time" "missing" "PUT twice" "switches" "extra CPU"
o=$(grep "etcd back -> first new segment" "$out.log" | sed 's/.*origin: \([0-9.]*\) s.*/\1/')
od=$(grep "etcd unreachable 7 s" "$out.log" | sed 's/.*two nodes: \([0-9]*\), uploader switches: \([0-9]*\)/\1 \2/')
printf '%-34s %12s s %8s %11s %9s %s\n' "etcd unreachable 7 s (lease 3 s)" "$o" "(fenced)" "${od% *}" "${od#* }" "none (kept warm)"
for mv in "b -> a" "a -> c"; do
    l=$(grep "move $mv: leader moved" "$out.log")
    t=$(echo "$l" | sed 's/.*moved in \([0-9.]*\) s.*/\1/')
    m=$(echo "$l" | sed 's/.*missing \([0-9]*\),.*/\1/')
    d=$(echo "$l" | sed 's/.*PUT twice \([0-9]*\),.*/\1/')
    sw=$(echo "$l" | sed 's/.*switches \([0-9]*\)$/\1/')
    cpu=
    [ "$mv" = "a -> c" ] && cpu="$(grep "hot move's extra cost" "$out.log" | sed 's/.*c used \([0-9.]*\) CPU-s over the \([0-9.]*\) s.*/\1 CPU-s in \2 s/')"
    what=$([ "$mv" = "b -> a" ] && echo "ctl drain ($mv)" || echo "ctl --fleet move ($mv)")
    printf '%-34s %12s s %8s %11s %9s %s\n' "$what" "$t" "$m" "$d" "$sw" "$cpu"
done
# a move on risk (t_fleet_risk: the leader's data store filesystem filled
# at 3 MB/s, pair: on_risk): time from the fill's start to the new node
# leading; and a hot pair's leader cut off the network (t_fleet_netns):
# time from the cut to the follower's first segment at the origin
sh tests/integration/t_fleet_risk.sh > "$out.log" 2>&1; rc=$?
if [ $rc = 0 ]; then
    l=$(grep "move a -> b: leader moved" "$out.log")
    t=$(grep "fill started" "$out.log" | sed 's/.*b leads: \([0-9.]*\) s.*/\1/')
    printf '%-34s %12s s %8s %11s %9s %s\n' "host at risk, disk fills (a -> b)" "$t" \
        "$(echo "$l" | sed 's/.*missing \([0-9]*\),.*/\1/')" "$(echo "$l" | sed 's/.*PUT twice \([0-9]*\),.*/\1/')" \
        "$(echo "$l" | sed 's/.*switches \([0-9]*\)$/\1/')" "a follower while the risk is >= 0.5"
else
    printf '%-34s %s\n' "host at risk, disk fills" "$([ $rc = 77 ] && echo "skipped: $(tail -1 "$out.log")" || echo "FAILED (rc $rc)")"
fi
sh tests/integration/t_fleet_netns.sh > "$out.log" 2>&1; rc=$?
if [ $rc = 0 ]; then
    l=$(grep "a's link cut" "$out.log")
    printf '%-34s %12s s %8s %11s %9s %s\n' "hot pair, leader's link cut" \
        "$(echo "$l" | sed 's/.*origin: \([0-9.]*\) s;.*/\1/')" "$(echo "$l" | sed 's/.*missing \([0-9]*\),.*/\1/')" \
        "$(echo "$l" | sed 's/.*PUT twice \([0-9]*\);.*/\1/')" 1 "a second encode, always"
else
    printf '%-34s %s\n' "hot pair, leader's link cut" "$([ $rc = 77 ] && echo "skipped: $(tail -1 "$out.log")" || echo "FAILED (rc $rc)")"
fi
# DASH, epoch-locked (t_fleet_dash): the leader drained while dash.js
# plays: time from the request to the new node leading, the origin's
# segments across the move, and what the viewer saw
sh tests/integration/t_fleet_dash.sh > "$out.log" 2>&1; rc=$?
if [ $rc = 0 ]; then
    l=$(grep "a's last segment" "$out.log")
    printf '%-34s %12s s %8s %11s %9s %s\n' "DASH: ctl drain under dash.js" \
        "$(grep "drained a: b leads" "$out.log" | sed 's/.*leads \([0-9.]*\) s later.*/\1/')" \
        "$(echo "$l" | sed 's/.*missing \([0-9]*\),.*/\1/')" "$(echo "$l" | sed 's/.*PUT by both \([0-9]*\),.*/\1/')" \
        "$(echo "$l" | sed 's/.*switches \([0-9]*\)$/\1/')" \
        "viewer: $(grep "dash.js: played" "$out.log" | sed 's/.*s, \([0-9]*\) stalls (longest \([0-9.]*\) s), \([0-9]*\) fatal.*/\1 stalls, \3 fatal errors/')"
else
    printf '%-34s %s\n' "DASH: ctl drain under dash.js" "$([ $rc = 77 ] && echo "skipped: $(tail -1 "$out.log")" || echo "FAILED (rc $rc)")"
fi
# a job placed on two nodes (t_fleet_place): ctl --fleet place to every
# stream led
sh tests/integration/t_fleet_place.sh > "$out.log" 2>&1; rc=$?
if [ $rc = 0 ]; then
    printf '%-34s %12s s %8s %11s %9s %s\n' "ctl --fleet place (2 streams)" \
        "$(grep "placed in" "$out.log" | sed 's/.*placed in \([0-9.]*\) s.*/\1/')" "-" "-" "-" \
        "$(grep "placed in" "$out.log" | sed 's/.*s: //')"
else
    printf '%-34s %s\n' "ctl --fleet place" "$([ $rc = 77 ] && echo "skipped: $(tail -1 "$out.log")" || echo "FAILED (rc $rc)")"
fi
rm -f "$out.log"
