#!/bin/sh
# A failing output never stops the others: one output pushes to an RTMP
# server that is not running, one writes under a path that cannot be a
# directory, one is killed mid-stream (its nginx dies); the HLS output of
# the same stream still gets every frame, each failure is an event naming
# its component, and the run exits 0. When no output can go on, the stream
# fails: exit 1 and a stream_failed event.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe
. "$TOP/tests/lib/nginx.sh"

RTMP=19352; HTTP=18082; DEAD=19359
nginx_start victim $RTMP $HTTP
touch "$T/not-a-dir"

job "$T/job.yaml" <<EOF
version: 1
streams:
  - name: resilient
    input:
      url: "$(lavfi_src 320 180 30)"
      format: lavfi
      realtime: true
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: veryfast } }
    outputs:
      - { name: good, format: hls, url: $T/out/index.m3u8, options: { hls_time: 1, hls_list_size: 0 } }
      - { name: refused, format: flv, url: "rtmp://127.0.0.1:$DEAD/live/x", rw_timeout: 2s }
      - { name: baddir, format: mp4, url: $T/not-a-dir/rec.mp4 }
      - { name: killed, format: flv, url: "rtmp://127.0.0.1:$RTMP/live/victim", rw_timeout: 2s }
    duration: 5s
EOF

bg "$HS" run --events "$T/events.jsonl" "$T/job.yaml"
HSPID=$BG_PID
wait_for 10 test -s "$NGINX_DIR/rec/victim.flv" || fail "the push never reached nginx"
sleep 1
nginx_kill victim
wait "$HSPID"; rc=$?
cat "$T/events.jsonl"
assert_eq "exit status" $rc 0

assert_eq "good: frames" "$(probe_frames "$T/out/index.m3u8" v:0)" 150
assert_eq "good: decode errors" "$(probe_errors "$T/out/index.m3u8")" 0
grep -q '#EXT-X-ENDLIST' "$T/out/index.m3u8" || fail "good: playlist not closed"
for c in refused baddir killed; do
    grep "\"component\":\"out:$c\"" "$T/events.jsonl" | grep -q '"kind":"failure"' ||
        fail "no failure event for out:$c"
done
grep '"component":"out:good"' "$T/events.jsonl" | grep -q '"kind":"failure"' && fail "out:good failed"

# every output fails: the stream fails
job "$T/dead.yaml" <<EOF
version: 1
streams:
  - name: doomed
    input: { url: "$(lavfi_src 160 90 30)", format: lavfi, realtime: false }
    renditions: [ { name: main, width: 160, height: 90, options: { preset: ultrafast } } ]
    outputs:
      - { name: refused, format: flv, url: "rtmp://127.0.0.1:$DEAD/live/x", rw_timeout: 2s }
      - { name: baddir, format: mp4, url: $T/not-a-dir/x.mp4 }
    duration: 30s
EOF
"$HS" run --events "$T/dead.jsonl" "$T/dead.yaml"; rc=$?
assert_eq "exit status when no output can go on" $rc 1
grep -q '"kind":"stream_failed"' "$T/dead.jsonl" || fail "no stream_failed event: $(cat "$T/dead.jsonl")"
pass
