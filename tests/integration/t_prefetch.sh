#!/bin/sh
# prefetch: on_risk. Two publishers push into a private nginx-rtmp; the
# stream reads the primary, and its backup source only once provisioned.
#  1. healthy (no risk passes provision_above: 1): the backup source is
#     never opened: no play of it on nginx, no open event;
#  2. every risk passes (provision_above: 0): the orchestrator provisions
#     the backup source, it is read ahead, then the primary publisher is
#     killed: the backup takes over with no frame missing;
#  3. no risk, primary killed: the reflex opens the held backup cold, and
#     the stream goes on from it (frames repeat meanwhile).
. "$(dirname "$0")/../lib/common.sh"
need ffmpeg ffprobe
. "$TOP/tests/lib/nginx.sh"

RTMP=19390
nginx_start ingest $RTMP 18120

rtmp_publish $RTMP backup smptebars
wait_for 10 test -s "$NGINX_DIR/rec/backup.flv" || fail "the backup publisher did not start"

stream_job() {  # FILE PROVISION_ABOVE DURATION
    job "$1" <<EOF
version: 1
streams:
  - name: live
    input:
      url: rtmp://127.0.0.1:$RTMP/live/main
      backup: { url: rtmp://127.0.0.1:$RTMP/live/backup }
      loss_timeout: 100ms
      prefetch: on_risk
    renditions:
      - { name: main, width: 320, height: 180, fps: 30, bitrate: 300k, gop: 1s, options: { preset: veryfast } }
    outputs:
      - { name: hls, format: hls, url: $(dirname "$1")/out/index.m3u8, options: { hls_time: 1, hls_list_size: 0 } }
    standby: on_risk
    orchestrator: { provision_above: $2, confirm: 1 }
    switch_back: never
    duration: $3
EOF
}

plays_of_backup() {
    grep -c 'PLAY "live" "backup"' "$NGINX_DIR/rtmp_access.log" 2>/dev/null
}

# --- 1. healthy: the backup source is not read -------------------------------
rtmp_publish $RTMP main testsrc2
PUB_MAIN=$BG_PID
wait_for 10 test -s "$NGINX_DIR/rec/main.flv" || fail "the main publisher did not start"
mkdir -p "$T/healthy/out"
stream_job "$T/healthy/job.yaml" 1 12s
"$HS" run --events "$T/healthy.jsonl" "$T/healthy/job.yaml" > "$T/healthy.log" 2>&1 ||
    fail "healthy run exited $?: $(tail -n 5 "$T/healthy.log")"
grep '"component":"input.backup"' "$T/healthy.jsonl" | grep -q '"kind":"start"' &&
    fail "the backup source was opened in a healthy run: $(grep input.backup "$T/healthy.jsonl")"
grep -q '"kind":"provisioned"' "$T/healthy.jsonl" && fail "something was provisioned in a healthy run"
# nginx logs a session when it ends: hotspare's are over by now
wait_for 5 grep -q 'PLAY "live" "main"' "$NGINX_DIR/rtmp_access.log" ||
    fail "nginx logged no play of the primary: $(cat "$NGINX_DIR/rtmp_access.log")"
assert_eq "plays of the backup stream while healthy" "$(plays_of_backup)" 0
assert_ge "frames while healthy" "$(probe_frames "$T/healthy/out/index.m3u8" v:0)" 355

# --- 2. provisioned on risk, then the primary is lost: nothing missing ------
mkdir -p "$T/risk/out"
stream_job "$T/risk/job.yaml" 0 10s
bg "$HS" run --events "$T/risk.jsonl" "$T/risk/job.yaml"
HSPID=$BG_PID
wait_for 15 sh -c "grep '\"component\":\"input.backup\"' '$T/risk.jsonl' | grep -q '\"kind\":\"provisioned\"'" ||
    fail "the backup source was not provisioned: $(grep -v '"start"' "$T/risk.jsonl")"
# a GOP of it cached before the loss
sleep 1.5
kill -9 "$PUB_MAIN"
say "killed the main publisher"
wait "$HSPID"; rc=$?
assert_eq "exit status" $rc 0
decision=$(grep 'orchestrator: provision input.backup' "$T/risk.jsonl" | head -n 1)
[ -n "$decision" ] || fail "no orchestrator decision for the backup source"
seq=$(echo "$decision" | sed 's/.*"seq":\([0-9]*\).*/\1/')
grep '"kind":"provisioned"' "$T/risk.jsonl" | grep -q "\"seq\":$seq[,}]" ||
    fail "the provision was not answered with request $seq"
grep '"kind":"switch"' "$T/risk.jsonl" | grep -q 'input.backup takes over' ||
    fail "no switch to the backup: $(grep -v '"start"' "$T/risk.jsonl")"
grep -q 'opening 1 now' "$T/risk.jsonl" && fail "the backup was opened cold although provisioned"
out=$T/risk/out/index.m3u8
assert_eq "decode errors" "$(probe_errors "$out")" 0
assert_eq "non-increasing dts" "$(probe_nonmonotonic "$out" v:0)" 0
assert_le "largest pts step (s)" "$(probe_max_gap "$out" v:0)" 0.0345
probe_frame_numbers "$out" v:0 30 > "$T/frames"
first=$(head -n 1 "$T/frames"); last=$(tail -n 1 "$T/frames")
assert_eq "frames missing between the first and the last" "$(frames_missing "$T/frames" "$first" "$last")" 0

# --- 3. no risk, primary lost: the reflex reads the backup cold --------------
rtmp_publish $RTMP main testsrc2
PUB_MAIN=$BG_PID
wait_for 10 sh -c "[ \$(grep -c 'PUBLISH \"live\" \"main\"' '$NGINX_DIR/rtmp_access.log') -ge 1 ] || \
    ffprobe -v error -rw_timeout 2000000 -i rtmp://127.0.0.1:$RTMP/live/main -show_entries format=format_name >/dev/null 2>&1" ||
    fail "the main publisher did not start again"
mkdir -p "$T/cold/out"
stream_job "$T/cold/job.yaml" 1 10s
bg "$HS" run --events "$T/cold.jsonl" "$T/cold/job.yaml"
HSPID=$BG_PID
wait_for 15 grep -q '^index2.ts' "$T/cold/out/index.m3u8" || fail "no output after 15 s"
kill -9 "$PUB_MAIN"
wait "$HSPID"; rc=$?
assert_eq "exit status (cold)" $rc 0
grep -q 'no backup source was read ahead (prefetch: on_risk): opening 1 now' "$T/cold.jsonl" ||
    fail "the reflex did not open the held backup: $(grep -v '"start"' "$T/cold.jsonl")"
grep '"kind":"switch"' "$T/cold.jsonl" | grep -q 'input.backup takes over' ||
    fail "the backup never took over: $(grep -v '"start"' "$T/cold.jsonl")"
out=$T/cold/out/index.m3u8
assert_eq "decode errors (cold)" "$(probe_errors "$out")" 0
assert_eq "non-increasing dts (cold)" "$(probe_nonmonotonic "$out" v:0)" 0
pass
