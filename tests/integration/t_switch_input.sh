#!/bin/sh
# Input failover: two publishers (ffmpeg) push into a private nginx-rtmp;
# hotspare reads the primary and, ahead, the backup. The primary publisher
# is killed: the switch comes within loss_timeout plus a frame period, and
# the output's timeline has no gap (every step at most one frame period),
# video and audio decodable.
. "$(dirname "$0")/../lib/common.sh"
need ffmpeg ffprobe
. "$TOP/tests/lib/nginx.sh"

RTMP=19370
nginx_start ingest $RTMP 18100

rtmp_publish $RTMP main testsrc2
PUB_MAIN=$BG_PID
rtmp_publish $RTMP backup smptebars
# both publishing before hotspare starts reading
wait_for 10 sh -c "grep -q 'live/main' '$NGINX_DIR/rtmp_access.log' 2>/dev/null || \
    [ -s '$NGINX_DIR/rec/main.flv' ]" || fail "the main publisher did not start"
wait_for 10 test -s "$NGINX_DIR/rec/backup.flv" || fail "the backup publisher did not start"

job "$T/job.yaml" <<EOF
version: 1
streams:
  - name: live
    input:
      url: rtmp://127.0.0.1:$RTMP/live/main
      backup: { url: rtmp://127.0.0.1:$RTMP/live/backup }
      loss_timeout: 100ms
    renditions:
      - { name: main, width: 320, height: 180, fps: 30, bitrate: 300k, gop: 1s, options: { preset: veryfast } }
    outputs:
      - { name: hls, format: hls, url: $T/out/index.m3u8, options: { hls_time: 1, hls_list_size: 0 } }
    switch_back: never
    duration: 8s
EOF

bg "$HS" run --events "$T/events.jsonl" "$T/job.yaml"
HSPID=$BG_PID
wait_for 15 grep -q '^index2.ts' "$T/out/index.m3u8" || fail "no output after 15 s"
kill -9 "$PUB_MAIN"
say "killed the main publisher"
wait "$HSPID"; rc=$?
cat "$T/events.jsonl"
assert_eq "exit status" $rc 0

grep '"component":"input"' "$T/events.jsonl" | grep -q '"kind":"failure"' ||
    fail "no failure event for the input"
grep '"kind":"switch"' "$T/events.jsonl" | grep -q 'input.backup takes over' ||
    fail "no switch to the backup"
# the loss was noticed within loss_timeout + one frame period
ms=$(grep -o 'no packet for [0-9]* ms' "$T/events.jsonl" | head -n 1 | awk '{print $4}')
[ -n "$ms" ] || fail "no loss detection event"
assert_le "time from the last packet to the switch (ms)" "$ms" 134

out=$T/out/index.m3u8
grep -q '#EXT-X-ENDLIST' "$out" || fail "playlist not closed"
assert_eq "decode errors" "$(probe_errors "$out")" 0
assert_eq "non-increasing dts" "$(probe_nonmonotonic "$out" v:0)" 0
assert_le "largest pts step (s)" "$(probe_max_gap "$out" v:0)" 0.0345
# every frame between the first and the last: none missing around the
# switch (where the backup lands on the timeline depends on when its
# packets came, so the 8 s cut may hold 239 or 240 of them)
probe_frame_numbers "$out" v:0 30 > "$T/frames"
first=$(head -n 1 "$T/frames"); last=$(tail -n 1 "$T/frames")
assert_eq "frames missing between the first and the last" "$(frames_missing "$T/frames" "$first" "$last")" 0
assert_ge "frames in the 8 s" "$(probe_frames "$out" v:0)" 239
assert_eq "streams" "$(probe_streams "$out")" "video,audio"
assert_le "largest audio step (s)" "$(probe_max_gap "$out" a:0)" 0.0214
pass
