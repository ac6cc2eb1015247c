#!/bin/sh
# Jobs placed on the fleet (README, "Fleet", ctl --fleet place): a real
# 3-member etcd cluster, a real nginx WebDAV origin, hotspare nodes whose
# own job files have no stream (a fleet block and their own socket; node
# a leads one stream at most, max_streams: 1). The streams come from
# etcd:
#   1. a job with an error is refused by place (exit 2, the file, line
#      and column), and nothing is written to etcd;
#   2. place news.yaml (s1, s2): each stream is led by one node, the two
#      spread over a and b, and each uploads playable HLS to the origin
#      (ffprobe: H.264 160x90);
#   3. a second job reusing a stream name is refused (exit 2);
#   4. news.yaml placed again without s2 and with s3, s4: s2 ends (its
#      leadership key goes, no upload after, its playlist ends with
#      EXT-X-ENDLIST), s1 runs on untouched (the
#      same leader, its input opened once, no segment missing at the
#      origin), s3 and s4 go to b (a has no room);
#   5. b killed (kill -9): its streams are free when its lease ends, a
#      (full) leaves them; node c, started then, takes both (s4's DASH
#      output, to a directory both write, under names of its own: not
#      over b's);
#   6. unplace news: every stream ends (its HLS playlist with
#      EXT-X-ENDLIST: no node goes on in it), the nodes stay up, leading
#      nothing.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/etcd.sh"
. "$TOP/tests/lib/nginx.sh"
. "$TOP/tests/lib/fleet.sh"
need ffprobe

ETCD=24700; RTMP=19990; HTTP=18990
etcd_start $ETCD
nginx_start origin $RTMP $HTTP
LOG=$NGINX_DIR/access.log
ORIGIN="http://127.0.0.1:$HTTP"
FLEET="etcd=$ETCD_URL1,$ETCD_URL2,$ETCD_URL3,prefix=/tplace"

for n in a b c; do
    cat > "$T/node-$n.yaml" <<EOF
version: 1
supervisor:
  control: $T/ctl-$n.sock
  fleet: { etcd: [ $ETCD_URLS ], node: $n, lease: 3s, prefix: /tplace$([ $n = a ] && echo ", max_streams: 1") }
EOF
done
"$HS" check "$T/node-a.yaml" > "$T/check.txt" 2>&1 || fail "a fleet node's job without streams: $(cat "$T/check.txt")"
say "hotspare check: $(cat "$T/check.txt")"

stream() { fleet_stream "$1" "$ORIGIN"; }
# s4 also writes DASH to a directory every node writes (a shared mount):
# not epoch-locked there, its names carry the node and its start
stream_dash() {
    fleet_stream "$1" "$ORIGIN"
    cat <<EOF
      - name: dash
        format: dash
        url: $T/$1-dash/index.mpd
        options: { seg_duration: 1 }
EOF
}
leader() { etcd_get /tplace/lead/ | sed -n "s|^/tplace/lead/$1=||p"; }
place() { "$HS" ctl --fleet "$FLEET" --timeout 30 place "$@"; }

bg "$HS" run --events "$T/ev-a.jsonl" "$T/node-a.yaml" > "$T/run-a.log" 2>&1
PID_A=$BG_PID
bg "$HS" run --events "$T/ev-b.jsonl" "$T/node-b.yaml" > "$T/run-b.log" 2>&1
PID_B=$BG_PID
n=30
while [ "$(etcd_get /tplace/nodes/ | wc -l)" -lt 2 ] && [ $n -gt 0 ]; do sleep 0.5; n=$((n - 1)); done
[ "$(etcd_get /tplace/nodes/ | wc -l)" -ge 2 ] || fail "the nodes did not join: $(tail -3 "$T/run-a.log")"

# --- 1. a bad job is refused, nothing written ------------------------------
{ echo "version: 1"; echo "streams:"; stream s1 | sed 's/bitrate: 100k/bitrate: lots/'; } > "$T/bad.yaml"
st=0; place "$T/bad.yaml" > "$T/bad.out" 2>&1 || st=$?
assert_eq "place of a bad job: exit status" "$st" 2
grep -q "bad.yaml:[0-9]*:[0-9]*: " "$T/bad.out" || fail "no file:line:col in: $(cat "$T/bad.out")"
assert_eq "keys written for the bad job" "$(etcd_get /tplace/jobs/ | wc -l)" 0
say "bad job refused: $(grep -m1 'bad.yaml:' "$T/bad.out")"

# --- 2. place two streams ---------------------------------------------------
{ echo "version: 1"; echo "streams:"; stream s1; stream s2; } > "$T/news.yaml"
t0=$(date +%s.%N)
place "$T/news.yaml" > "$T/place.out" 2>&1 || fail "place news.yaml: $(cat "$T/place.out")"
t1=$(date +%s.%N)
cat "$T/place.out" >&2
l1=$(leader s1); l2=$(leader s2)
[ -n "$l1" ] && [ -n "$l2" ] || fail "not every stream is led: s1=$l1 s2=$l2"
assert_eq "s1's node" "$l1" a
assert_eq "s2's node" "$l2" b
say "placed in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s: s1 on $l1, s2 on $l2"
for s in s1 s2; do
    wait_for 20 sh -c "ls '$NGINX_DIR/www/upload/$s/' 2>/dev/null | grep -q 'index[0-9]*\.ts'" ||
        fail "$s: nothing at the origin"
done
sleep 3
for s in s1 s2; do
    seg=$(ls "$NGINX_DIR/www/upload/$s/" | grep 'index[0-9]*\.ts' | sort | head -1)
    v=$(ffprobe -v error -select_streams v -show_entries stream=codec_name,width,height -of csv=p=0 \
        "$NGINX_DIR/www/upload/$s/$seg" | head -1)
    assert_eq "$s at the origin (ffprobe $seg)" "$v" "h264,160,90"
done

# --- 3. a stream name placed twice is refused -------------------------------
{ echo "version: 1"; echo "streams:"; stream s2; } > "$T/other.yaml"
st=0; place "$T/other.yaml" > "$T/other.out" 2>&1 || st=$?
assert_eq "place of a job reusing s2: exit status" "$st" 2
grep -q "stream 's2' is placed on the fleet already, in job news" "$T/other.out" ||
    fail "no reason given: $(cat "$T/other.out")"

# --- 4. the job changed: s2 out, s3 and s4 in, s1 untouched ------------------
lines=$(wc -l < "$LOG")
{ echo "version: 1"; echo "streams:"; stream s1; stream s3; stream_dash s4; } > "$T/news.yaml"
place "$T/news.yaml" > "$T/place2.out" 2>&1 || fail "place news.yaml again: $(cat "$T/place2.out")"
cat "$T/place2.out" >&2
assert_eq "s1's leader after the change" "$(leader s1)" a
assert_eq "s2's leader after the change" "$(leader s2)" ""
assert_eq "s3's leader (a has no room)" "$(leader s3)" b
assert_eq "s4's leader (a has no room)" "$(leader s4)" b
assert_eq "s1's input opened on a" "$(grep '"stream":"s1"' "$T/ev-a.jsonl" | grep -c '"component":"input","kind":"start"')" 1
sleep 2                           # s2's last segment, uploaded as it ends
lines_s2=$(wc -l < "$LOG")
wait_for 20 sh -c "ls '$NGINX_DIR/www/upload/s3/' 2>/dev/null | grep -q 'index[0-9]*\.ts'" ||
    fail "s3: nothing at the origin"
sleep 3
lines2=$(wc -l < "$LOG")
gaps=$(sed -n "$((lines + 1)),${lines2}p" "$LOG" | grep 'PUT /upload/s1/index[0-9]*\.ts' |
    sed 's|.*/index\([0-9]*\)\.ts .*|\1|' |
    puts_gaps -)
assert_eq "s1 segments missing while the job changed" "$gaps" 0
s2_after=$(tail -n +$((lines_s2 + 1)) "$LOG" | grep -c 'PUT /upload/s2/' || true)
assert_eq "s2 uploads 2 s after it left the job" "$s2_after" 0
grep -q 'no longer placed on the fleet' "$T/ev-$l2.jsonl" || fail "no event for s2's end from $l2"
# s2 ended for good: its players are told (no other node goes on in it)
grep -q '#EXT-X-ENDLIST' "$NGINX_DIR/www/upload/s2/index.m3u8" || fail "s2's playlist has no ENDLIST"
grep -q '#EXT-X-ENDLIST' "$NGINX_DIR/www/upload/s1/index.m3u8" && fail "s1's playlist ended"
say "changed: s1 on $(leader s1) untouched (0 missing), s2 ended, s3 and s4 on b"

# --- 5. b dies: a has no room, c starts and takes b's streams ----------------
kill -9 "$PID_B"
t0=$(date +%s.%N)
n=40
while [ -n "$(leader s3)$(leader s4)" ] && [ $n -gt 0 ]; do sleep 0.25; n=$((n - 1)); done
assert_eq "s3 and s4 led once b's lease ended" "$(leader s3)$(leader s4)" ""
sleep 3
assert_eq "s3 and s4 taken by a (max_streams 1)" "$(leader s3)$(leader s4)" ""
assert_eq "s1's leader" "$(leader s1)" a
bg "$HS" run --events "$T/ev-c.jsonl" "$T/node-c.yaml" > "$T/run-c.log" 2>&1
PID_C=$BG_PID
n=60
while [ "$(leader s3)$(leader s4)" != cc ] && [ $n -gt 0 ]; do sleep 0.25; n=$((n - 1)); done
assert_eq "s3 and s4 taken by c" "$(leader s3)$(leader s4)" cc
lines=$(wc -l < "$LOG")
wait_for 15 sh -c "tail -n +$((lines + 1)) '$LOG' | grep -q 'PUT /upload/s4/index[0-9]*\.ts.*fleet-node/c'" ||
    fail "c uploads no s4 segment"
wait_for 10 sh -c "ls '$T/s4-dash' | grep -q 'chunk-stream0-c-[0-9]*-[0-9]*\.m4s'" ||
    fail "c's DASH segments do not carry its name: $(ls "$T/s4-dash" | tail -3)"
ls "$T/s4-dash" | grep -q 'chunk-stream0-b-[0-9]*-[0-9]*\.m4s' ||
    fail "b's DASH segments do not carry its name: $(ls "$T/s4-dash" | head -3)"
ls "$T/s4-dash" | grep -q '^init-stream0-c-[0-9]*\.m4s$' || fail "c's DASH init is not its own"
say "b killed: a (full) left s3 and s4; c took both, uploading $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}') s after b died"

# --- 5. unplace --------------------------------------------------------------
"$HS" ctl --fleet "$FLEET" --timeout 30 unplace news > "$T/unplace.out" 2>&1 ||
    fail "unplace news: $(cat "$T/unplace.out")"
assert_eq "leadership keys after unplace" "$(etcd_get /tplace/lead/ | wc -l)" 0
assert_eq "placed jobs after unplace" "$(etcd_get /tplace/jobs/ | wc -l)" 0
sleep 2                           # the last segments and playlists uploaded
for st in s1 s3 s4; do
    grep -q '#EXT-X-ENDLIST' "$NGINX_DIR/www/upload/$st/index.m3u8" || fail "$st's playlist has no ENDLIST"
done
kill -0 "$PID_A" && kill -0 "$PID_C" || fail "a node ended with its streams"
st=0; "$HS" ctl --fleet "$FLEET" unplace news > /dev/null 2>&1 || st=$?
assert_eq "unplace of a job not placed: exit status" "$st" 1
pass
