#!/bin/sh
# A real RTMP push: nginx with the RTMP module on 127.0.0.1 records what it
# receives; every frame hotspare encoded must be in the recording, with
# audio, decodable; and the stream key never appears in hotspare's log or
# events.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe
. "$TOP/tests/lib/nginx.sh"

RTMP=19350; HTTP=18080
nginx_start ingest $RTMP $HTTP

KEY=k3y-$(date +%s)-s3cr3t
job "$T/job.yaml" <<EOF
version: 1
streams:
  - name: push
    input:
      url: "$(lavfi_src 320 180 30)"
      format: lavfi
      realtime: false
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: veryfast } }
    outputs:
      - name: ingest
        format: flv
        url: rtmp://127.0.0.1:$RTMP/live/$KEY
    duration: 4s
EOF

"$HS" -v verbose run --events "$T/events.jsonl" --progress "$T/progress.txt" "$T/job.yaml" > "$T/log.txt" 2>&1 ||
    { cat "$T/log.txt"; fail "hotspare run exited $?"; }
cat "$T/log.txt"

rec=$NGINX_DIR/rec/$KEY.flv
# nginx finishes the recording when the publisher leaves
wait_for 10 test -s "$rec" || fail "nginx recorded nothing ($(ls "$NGINX_DIR/rec"))"
nginx_stop ingest

assert_eq "frames received by nginx" "$(probe_frames "$rec" v:0)" 120
assert_eq "decode errors" "$(probe_errors "$rec")" 0
assert_eq "non-increasing dts" "$(probe_nonmonotonic "$rec" v:0)" 0
assert_eq "streams" "$(probe_streams "$rec")" "video,audio"
# FLV time stamps are whole milliseconds: one frame period is 33 or 34 ms
assert_le "largest pts step (s)" "$(probe_max_gap "$rec" v:0)" 0.0345

for f in "$T/log.txt" "$T/events.jsonl" "$T/progress.txt"; do
    grep -q "$KEY" "$f" && fail "stream key printed in $(basename "$f")"
done
grep -q 'rtmp://127.0.0.1:'$RTMP'/live/\*\*\*' "$T/events.jsonl" ||
    fail "events do not show the redacted URL: $(cat "$T/events.jsonl")"
pass
