#!/bin/sh
# Hung and unreachable peers at 4 Mbit/s, each with a backup opened ahead:
#   1. an RTMP ingest (a real nginx) that hangs: SIGSTOP, alive, its kernel
#      still takes a few hundred kB, nothing is read, no reset;
#   2. an HTTP origin (nginx WebDAV, HLS PUTs) that hangs the same way;
#   3. an RTMP ingest in a network namespace whose link goes down: nothing
#      arrives there any more and no reset ever comes back.
# Each must be noticed within stall_timeout (1 s) of the peer taking no more
# data (plus what its kernel still took), the backup taking over with
# everything the hung peer had not confirmed replayed: every frame of the
# run is in what the hung peer held when it stopped or on the backup.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe
. "$TOP/tests/lib/nginx.sh"
. "$TOP/tests/lib/hung.sh"

SRC="testsrc2=size=320x180:rate=30,noise=alls=60:allf=t[out0];sine=frequency=1000:sample_rate=48000[out1]"
REND='{ name: main, width: 320, height: 180, bitrate: 4M, gop: 1s, options: { preset: ultrafast, x264-params: "nal-hrd=cbr", maxrate: 4M, bufsize: 2M } }'
SECS=14
FRAMES=$((SECS * 30))

# rtmp_case NAME PRIMARY_URL HANG_CMD REC_DIR: runs the job, hangs the
# primary with HANG_CMD once it records, checks detection and frames.
rtmp_case() {
    hp_n=$1
    job "$T/$hp_n.yaml" <<EOF
version: 1
streams:
  - name: live
    input: { url: "$SRC", format: lavfi, realtime: true }
    renditions:
      - $REND
    outputs:
      - name: ingest
        format: flv
        url: $2
        backup: { url: rtmp://127.0.0.1:19392/live/k$hp_n }
    standby: always
    switch_back: never
    duration: ${SECS}s
EOF
    bg "$HS" run --events "$T/$hp_n.events" "$T/$hp_n.yaml"
    hp_hs=$BG_PID
    wait_for 15 test -s "$4/k$hp_n.flv" || fail "$hp_n: the primary recorded nothing"
    sleep 4
    hp_t0=$(date +%s.%N)
    $3 || fail "$hp_n: could not hang the primary"
    # what viewers of the primary got: its recording stops growing with it
    sleep 0.2
    cp "$4/k$hp_n.flv" "$T/$hp_n.primary.flv"
    wait_for 10 grep -q '"component":"out:ingest","kind":"failure"' "$T/$hp_n.events" ||
        fail "$hp_n: the hung primary was not noticed: $(cat "$T/$hp_n.events")"
    wait "$hp_hs"; hp_rc=$?
    cat "$T/$hp_n.events"
    assert_eq "$hp_n: exit status" $hp_rc 0
    hp_tf=$(event_epoch "$T/$hp_n.events" out:ingest failure)
    DETECT=$(ms_between "$hp_t0" "$hp_tf")
    say "$hp_n: noticed $DETECT ms after the peer hung: $(grep '"kind":"failure"' "$T/$hp_n.events" | head -n 1 | sed 's/.*"cause":"\([^"]*\)".*/\1/')"
    grep '"kind":"switch"' "$T/$hp_n.events" | grep -q 'out:ingest.backup takes over' ||
        fail "$hp_n: no switch to the backup"
    hp_b=$T/rb/rec/k$hp_n.flv
    wait_for 10 test -s "$hp_b" || fail "$hp_n: the backup recorded nothing"
    sleep 1
    assert_eq "$hp_n backup: decode errors" "$(probe_errors "$hp_b")" 0
    assert_eq "$hp_n backup: non-increasing dts" "$(probe_nonmonotonic "$hp_b" v:0)" 0
    { probe_frame_numbers "$T/$hp_n.primary.flv" v:0 30; probe_frame_numbers "$hp_b" v:0 30; } |
        sort -n -u > "$T/$hp_n.frames"
    hp_first=$(head -n 1 "$T/$hp_n.frames")
    assert_le "$hp_n: the first frame's number" "$hp_first" 3
    assert_eq "$hp_n: frames that reached no viewer" \
        "$(frames_missing "$T/$hp_n.frames" "$hp_first" $((hp_first + FRAMES - 1)))" 0
}

# a stopped nginx's worker outlives its master's kill: they go first
trap 'nginx_kill ra; nginx_kill oa; netns_cleanup; cleanup' EXIT
nginx_start rb 19392 18192

# --- 1. an RTMP ingest that hangs ----------------------------------------------
nginx_start ra 19391 18191
rtmp_case rtmp rtmp://127.0.0.1:19391/live/krtmp "stop_nginx ra" "$T/ra/rec"
assert_le "rtmp: from the hang to the failure (ms)" "$DETECT" 1800
grep '"kind":"failure"' "$T/rtmp.events" | grep -q 'stopped taking data' ||
    fail "rtmp: the failure does not say the peer stopped taking data"
nginx_kill ra

# --- 2. an HTTP origin that hangs ----------------------------------------------
nginx_start oa 19393 18193
nginx_start ob 19394 18194
job "$T/hls.yaml" <<EOF
version: 1
streams:
  - name: news
    input: { url: "$SRC", format: lavfi, realtime: true }
    renditions:
      - $REND
    outputs:
      - name: origin
        format: hls
        url: http://127.0.0.1:18193/upload/news/index.m3u8
        options: { hls_time: 1, hls_list_size: 0 }
        backup: { url: http://127.0.0.1:18194/upload/news/index.m3u8 }
    standby: always
    switch_back: never
    duration: ${SECS}s
EOF
A=$T/oa/www/upload/news
B=$T/ob/www/upload/news
bg "$HS" run --events "$T/hls.events" "$T/hls.yaml"
HSPID=$BG_PID
wait_for 15 grep -q '^index3.ts' "$A/index.m3u8" || fail "hls: the primary origin got no segments"
sleep 2
t0=$(date +%s.%N)
stop_nginx oa || fail "hls: could not hang the origin"
sleep 0.2
mkdir -p "$T/hls.primary" && cp "$A"/index*.ts "$T/hls.primary/"
wait_for 10 grep -q '"component":"out:origin","kind":"failure"' "$T/hls.events" ||
    fail "hls: the hung origin was not noticed: $(cat "$T/hls.events")"
wait "$HSPID"; rc=$?
cat "$T/hls.events"
assert_eq "hls: exit status" $rc 0
DETECT=$(ms_between "$t0" "$(event_epoch "$T/hls.events" out:origin failure)")
say "hls: noticed $DETECT ms after the origin hung: $(grep '"kind":"failure"' "$T/hls.events" | head -n 1 | sed 's/.*"cause":"\([^"]*\)".*/\1/')"
# HLS uploads a segment when it ends (hls_time 1 s): the hang shows at the
# next upload, when the origin's answer does not come within stall_timeout
assert_le "hls: from the hang to the failure (ms)" "$DETECT" 2500
pl=$B/index.m3u8
grep -q '#EXT-X-ENDLIST' "$pl" || fail "hls: the backup's playlist is not closed"
assert_eq "hls backup: decode errors" "$(probe_errors "$pl")" 0
set -- $(origins_frames "$T/hls.primary" "$pl" "$T/hls.frames")
assert_le "hls: the first frame's number" "$1" 3
assert_eq "hls: frames on neither origin" "$(frames_missing "$T/hls.frames" "$1" $(($1 + FRAMES - 1)))" 0
nginx_kill oa
nginx_stop ob

# --- 3. a link that goes down (network namespace) -------------------------------
netns_up || skip "cannot make a network namespace with a veth pair here (ip netns add)"
netns_nginx rn 19395 18195 || fail "nginx in $HUNG_NS did not listen"
rtmp_case netns rtmp://$HUNG_PEER:19395/live/knetns netns_link_down "$T/rn/rec"
assert_le "netns: from the link down to the failure (ms)" "$DETECT" 1800
pass
