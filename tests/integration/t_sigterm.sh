#!/bin/sh
# SIGTERM during a live run leaves playable outputs: HLS playlists closed
# with ENDLIST, a plain MP4 with its moov, every frame written decodable,
# and exit status 255. A second signal exits at once.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe

job "$T/job.yaml" <<EOF
version: 1
streams:
  - name: live
    input:
      url: "$(lavfi_src 320 180 30)"
      format: lavfi
      realtime: true
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: veryfast } }
    outputs:
      - { name: hls, format: hls, url: $T/out/index.m3u8, options: { hls_time: 1, hls_list_size: 0 } }
      - { name: mp4, format: mp4, url: $T/out/rec.mp4 }
    duration: 60s
EOF

bg "$HS" run "$T/job.yaml"
HSPID=$BG_PID
wait_for 15 grep -q '^index1.ts' "$T/out/index.m3u8" || fail "no second segment after 15 s"
t0=$(date +%s)
kill -TERM "$HSPID"
wait "$HSPID"; rc=$?
t1=$(date +%s)
assert_eq "exit status after SIGTERM" $rc 255
assert_le "seconds to stop" $((t1 - t0)) 5

grep -q '#EXT-X-ENDLIST' "$T/out/index.m3u8" || fail "HLS playlist has no ENDLIST"
hls=$(probe_frames "$T/out/index.m3u8" v:0)
mp4=$(probe_frames "$T/out/rec.mp4" v:0)
assert_ge "HLS frames" "$hls" 60
assert_eq "MP4 frames (moov written, same frames)" "$mp4" "$hls"
assert_eq "MP4 decode errors" "$(probe_errors "$T/out/rec.mp4")" 0
assert_eq "HLS decode errors" "$(probe_errors "$T/out/index.m3u8")" 0
assert_eq "MP4 streams" "$(probe_streams "$T/out/rec.mp4")" "video,audio"

# a second signal does not wait for anything
bg "$HS" run "$T/job.yaml"
HSPID=$BG_PID
wait_for 15 test -s "$T/out/rec.mp4" || fail "second run did not start"
sleep 1
kill -TERM "$HSPID"; kill -TERM "$HSPID"
wait "$HSPID"; rc=$?
assert_eq "exit status after two signals" $rc 255
pass
