#!/bin/sh
# Backups that are themselves down: each is a clear event, the stream goes
# on with what is left, nothing crashes.
#   - the input's backup is a refused RTMP URL, the input itself fails: the
#     stream goes on repeating its last frame (and silence) to the end;
#   - the rendition's standby is an NVENC encoder that cannot open here, the
#     primary encoder gets an error: it is opened again and goes on;
#   - an output's primary ingest is killed and its backup refuses: that
#     output is down, while the other output of the stream is complete.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe
. "$TOP/tests/lib/nginx.sh"

nginx_start ingest 19390 18120
DEAD=19399

job "$T/job.yaml" <<EOF
version: 1
streams:
  - name: hard
    input:
      url: "$(lavfi_src 320 180 30)"
      format: lavfi
      realtime: true
      backup: { url: "rtmp://127.0.0.1:$DEAD/live/nobody", rw_timeout: 1s }
    renditions:
      - name: main
        width: 320
        height: 180
        bitrate: 300k
        gop: 1s
        options: { preset: veryfast }
        backup: { encoder: h264_nvenc }
    outputs:
      - { name: file, format: hls, url: $T/out/index.m3u8, options: { hls_time: 1, hls_list_size: 0 } }
      - name: push
        format: flv
        url: rtmp://127.0.0.1:19390/live/push
        rw_timeout: 1s
        backup: { url: "rtmp://127.0.0.1:$DEAD/live/push" }
    switch_back: never
    duration: 7s
    faults:
      - { at: 2s, component: enc:main, fault: error }
      - { at: 4s, component: input, fault: error }
EOF

bg "$HS" run --events "$T/events.jsonl" "$T/job.yaml"
HSPID=$BG_PID
wait_for 15 test -s "$NGINX_DIR/rec/push.flv" || fail "the push never started"
sleep 1
nginx_kill ingest
wait "$HSPID"; rc=$?
cat "$T/events.jsonl"
assert_eq "exit status (the stream goes on)" $rc 0

has_event() {  # COMPONENT KIND TEXT
    grep "\"component\":\"$1\"" "$T/events.jsonl" | grep "\"kind\":\"$2\"" | grep -q "$3" ||
        fail "no $2 event for $1 saying '$3'"
}
has_event enc:main.backup failure "cannot take over"
has_event enc:main start "libx264"
has_event input failure "fault"
has_event input warning "no other source is up"
has_event out:push warning "no destination can take over now"
has_event out:push.backup failure "Connection refused\\|cannot open"

out=$T/out/index.m3u8
grep -q '#EXT-X-ENDLIST' "$out" || fail "the file output is not closed"
assert_eq "file: decode errors" "$(probe_errors "$out")" 0
assert_eq "file: non-increasing dts" "$(probe_nonmonotonic "$out" v:0)" 0
assert_le "file: largest pts step (s)" "$(probe_max_gap "$out" v:0)" 0.0334
assert_eq "file: frames for 7 s" "$(probe_frames "$out" v:0)" 210
pass
