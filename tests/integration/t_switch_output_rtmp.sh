#!/bin/sh
# Output failover, RTMP: a primary and a backup ingest (two private nginx
# with the RTMP module), the backup opened ahead (standby: always). The
# primary's nginx is killed mid-stream; the backup then receives a
# continuous stream, and every frame of the run reached one of the two.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe
. "$TOP/tests/lib/nginx.sh"

nginx_start primary 19360 18090
nginx_start backup 19361 18091

job "$T/job.yaml" <<EOF
version: 1
streams:
  - name: live
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: true }
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: veryfast } }
    outputs:
      - name: ingest
        format: flv
        url: rtmp://127.0.0.1:19360/live/key1
        rw_timeout: 2s
        backup: { url: rtmp://127.0.0.1:19361/live/key1 }
    standby: always
    switch_back: never
    duration: 8s
EOF

bg "$HS" run --events "$T/events.jsonl" "$T/job.yaml"
HSPID=$BG_PID
wait_for 10 test -s "$NGINX_DIR/../primary/rec/key1.flv" || fail "the primary got nothing"
sleep 3
nginx_kill primary
say "killed the primary's nginx"
wait "$HSPID"; rc=$?
cat "$T/events.jsonl"
assert_eq "exit status" $rc 0

grep '"component":"out:ingest"' "$T/events.jsonl" | grep -q '"kind":"switch"' ||
    fail "no switch event"
ms=$(grep -o 'wrote its first packet [0-9.]* ms after the switch' "$T/events.jsonl" | awk '{print $5}')
[ -n "$ms" ] || fail "no first-packet event"
assert_le "first packet on the provisioned backup (ms)" "$ms" 50

prim=$T/primary/rec/key1.flv
back=$T/backup/rec/key1.flv
wait_for 10 test -s "$back" || fail "the backup recorded nothing"
nginx_stop backup
assert_eq "backup: decode errors" "$(probe_errors "$back")" 0
assert_eq "backup: non-increasing dts" "$(probe_nonmonotonic "$back" v:0)" 0
assert_le "backup: largest pts step (s)" "$(probe_max_gap "$back" v:0)" 0.0345
assert_eq "backup: streams" "$(probe_streams "$back")" "video,audio"
# the output's timestamps start where the encoder's first packet is (B-frames
# begin below 0): count the 240 frames from the primary's first one
{ probe_frame_numbers "$prim" v:0 30; probe_frame_numbers "$back" v:0 30; } | sort -n -u > "$T/frames"
first=$(head -n 1 "$T/frames")
assert_le "the first frame's number" "$first" 3
assert_eq "frames that reached neither ingest" "$(frames_missing "$T/frames" "$first" $((first + 239)))" 0
last=$(probe_frame_numbers "$back" v:0 30 | tail -n 1)
assert_eq "the backup's last frame" "$last" $((first + 239))
pass
