#!/bin/sh
# Reload without a restart (SIGHUP, hotspare ctl reload): a stream whose
# definition did not change goes on untouched (one RTMP publish at nginx
# from start to end, no gap in its recording), one that is removed ends
# cleanly, one that is added starts, one that changed is replaced and goes
# on in its HLS playlist (numbering on, one discontinuity), and a job with
# problems is refused with them while the running one goes on.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe python3
. "$TOP/tests/lib/nginx.sh"

RTMP=19770; HTTP=18770
nginx_start ingest $RTMP $HTTP
SRC="testsrc2=size=160x90:rate=25"
mkdir -p "$T/hls"

# $1: the changed stream's bitrate; $2: 1 with the stream that is removed,
# $3: 1 with the one that is added. The kept stream is written with other
# comments and spacing each time: only what it says counts.
write_job() {
    {
        cat <<EOF2
version: 1
supervisor: { control: $T/ctl.sock }
streams:
  - name: keep          # pushed to nginx all along ($1)
    input: { url: "$SRC", format: lavfi }
    audio: false
    renditions:
      - { name: v, width: 160, height: 90, bitrate: 100k, gop: 25, options: { preset: ultrafast } }
    outputs:
      - { name: ingest, format: flv, url: "rtmp://127.0.0.1:$RTMP/live/keep" }
  - name: change
    input: { url: "$SRC", format: lavfi }
    audio: false
    renditions:
      - { name: v, width: 160, height: 90, bitrate: $1, gop: 25, options: { preset: ultrafast } }
    outputs:
      - { name: hls, format: hls, url: "$T/hls/index.m3u8", options: { hls_time: 1, hls_list_size: 0 } }
EOF2
        [ "$2" = 1 ] && cat <<EOF2
  - name: gone
    input: { url: "$SRC", format: lavfi }
    audio: false
    renditions: [ { name: v, width: 160, height: 90, bitrate: 100k, gop: 25, options: { preset: ultrafast } } ]
    outputs: [ { name: o, format: mpegts, url: "$T/gone.ts" } ]
EOF2
        [ "$3" = 1 ] && cat <<EOF2
  - name: added
    input: { url: "$SRC", format: lavfi }
    audio: false
    renditions: [ { name: v, width: 160, height: 90, bitrate: 100k, gop: 25, options: { preset: ultrafast } } ]
    outputs: [ { name: o, format: mpegts, url: "$T/added.ts" } ]
EOF2
    } > "$T/job.yaml"
}

# as a systemd service would run it: the watchdog goes on across reloads
cat > "$T/listen.py" <<'EOF2'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
t0 = time.monotonic()
with open(sys.argv[2], "w") as f:
    while True:
        for line in s.recv(4096).decode().split("\n"):
            f.write("%.3f %s\n" % (time.monotonic() - t0, line))
        f.flush()
EOF2
bg python3 "$T/listen.py" "$T/notify.sock" "$T/notify.log"
wait_for 5 test -S "$T/notify.sock" || fail "the notify listener did not start"

write_job 100k 1 0
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=4000000 \
    "$HS" run --events "$T/events.jsonl" "$T/job.yaml" > "$T/run.log" 2>&1 &
RUN=$!
wait_for 10 test -S "$T/ctl.sock" || fail "no control socket: $(cat "$T/run.log")"
sleep 4

# 1. SIGHUP: the changed, added and removed streams
write_job 150k 0 1
sed -i 's/pushed to nginx all along/   the same, said otherwise/' "$T/job.yaml"
kill -HUP $RUN
wait_for 10 grep -q '"kind":"reload"' "$T/events.jsonl" || fail "no reload event: $(tail -20 "$T/run.log")"
grep '"kind":"reload"' "$T/events.jsonl"
grep -q '1 stream kept running, 1 started, 1 replaced, 1 stopped' "$T/events.jsonl" ||
    fail "reload outcome: $(grep '"reload"' "$T/events.jsonl")"
sleep 4
kill -0 $RUN || fail "the run ended at the reload: $(tail -20 "$T/run.log")"

# 2. a job with problems: refused, with them, and nothing changes
cp "$T/job.yaml" "$T/good.yaml"
printf 'version: 1\nstreams:\n  - name: broken\n    input: { url: x }\n' > "$T/job.yaml"
"$HS" ctl --socket "$T/ctl.sock" reload > "$T/reload.out" 2> "$T/reload.err"
assert_eq "ctl reload of a bad job exits" $? 1
cat "$T/reload.err"
grep -q "job.yaml:3:5: stream is missing 'renditions'" "$T/reload.err" ||
    fail "the refusal does not name the problem: $(cat "$T/reload.err")"
"$HS" ctl --socket "$T/ctl.sock" status > "$T/status.txt" || fail "status after the refusal"
for s in keep change added; do
    grep -q "^$s " "$T/status.txt" || fail "$s is not running after the refused reload"
done
grep -q "^gone " "$T/status.txt" && fail "the removed stream is still shown"

# 3. ctl reload of the same job: everything kept
cp "$T/good.yaml" "$T/job.yaml"
"$HS" ctl --socket "$T/ctl.sock" reload > "$T/reload2.out" || fail "ctl reload: $(cat "$T/reload2.out")"
cat "$T/reload2.out"
grep -q "3 streams kept running, 0 started, 0 replaced, 0 stopped" "$T/reload2.out" ||
    fail "an unchanged job was not kept whole: $(cat "$T/reload2.out")"
sleep 2
kill -TERM $RUN
wait $RUN
assert_eq "run exit status after SIGTERM" $? 255

# the service manager heard READY once and the watchdog all along, across
# both reloads: pings every 2 s, never a silence as long as the 4 s after
# which systemd would kill the run (3.5 s: the reloads themselves take
# well under a second, a loaded machine adds its own delays)
grep -c "READY=1" "$T/notify.log" | { read n; assert_eq "READY=1 sent" "$n" 1; }
assert_le "longest watchdog silence (s)" "$(awk '$2 == "READY=1" { on = 1; p = $1 } on && $2 == "WATCHDOG=1" { if ($1 - p > m) m = $1 - p; p = $1 } $2 == "STOPPING=1" { exit } END { printf "%.3f\n", m }' "$T/notify.log")" 3.5
grep "STATUS=" "$T/notify.log" | tail -3

# the kept stream: one publish from start to end, no gap in the recording
rec=$NGINX_DIR/rec/keep.flv
wait_for 10 test -s "$rec" || fail "nginx recorded nothing"
nginx_stop ingest
cat "$NGINX_DIR/rtmp_access.log"
assert_eq "RTMP publishes of the kept stream" "$(grep -c 'PUBLISH "live" "keep"' "$NGINX_DIR/rtmp_access.log")" 1
assert_eq "decode errors (kept)" "$(probe_errors "$rec")" 0
assert_le "largest pts step of the kept stream (s)" "$(probe_max_gap "$rec" v:0)" 0.041
assert_ge "kept stream length (s)" "$(probe_end "$rec" v:0)" 10

# the removed stream ended cleanly; the added one ran
assert_eq "decode errors (removed)" "$(probe_errors "$T/gone.ts")" 0
assert_ge "removed stream length (s)" "$(probe_end "$T/gone.ts" v:0)" 3
assert_ge "added stream length (s)" "$(probe_end "$T/added.ts" v:0)" 5
grep -q '"stream":"gone".*"kind":"end","cause":"input stopped on request"' "$T/events.jsonl" ||
    fail "the removed stream did not end on request"

# the changed stream: one playlist, numbering on, a discontinuity where the
# new pipeline took over, every segment there, ENDLIST once at the end
pl=$T/hls/index.m3u8
cat "$pl"
assert_eq "discontinuities" "$(grep -c EXT-X-DISCONTINUITY "$pl")" 1
assert_eq "ENDLIST" "$(grep -c EXT-X-ENDLIST "$pl")" 1
[ "$(tail -n 1 "$pl")" = "#EXT-X-ENDLIST" ] || fail "ENDLIST is not last"
grep -v '^#' "$pl" | awk -F'index|\\.ts' '{ if (NR > 1 && $2 != p + 1) bad++; p = $2 } END { exit bad > 0 }' ||
    fail "segment numbers do not follow each other"
for s in $(grep -v '^#' "$pl"); do
    test -s "$T/hls/$s" || fail "segment $s missing"
done
grep -q '"stream":"change","component":"enc:v","kind":"start","cause":"encoder libx264 opened: 160x90 yuv420p, 25/1 fps, gop 25, 150000 bit/s"' \
    "$T/events.jsonl" || fail "the changed stream does not run its new definition"
# make before break: the new encoder opened before the old output ended,
# and the new output opened right after it (the time between the two)
mono() { grep "$1" "$T/events.jsonl" | sed -n "${2}p" | sed 's/.*"mono_us":\([0-9]*\).*/\1/'; }
enc_new=$(mono '"stream":"change","component":"enc:v","kind":"start"' 2)
old_end=$(mono '"stream":"change","component":"out:hls","kind":"end"' 1)
new_out=$(mono '"stream":"change","component":"out:hls","kind":"start"' 2)
[ -n "$enc_new" ] && [ -n "$old_end" ] && [ -n "$new_out" ] || fail "the replacement's events are missing"
[ "$enc_new" -lt "$old_end" ] || fail "the new encoder opened after the old output ended (break before make)"
assert_le "old output's end to the new output's start (ms)" "$(( (new_out - old_end) / 1000 ))" 500
pass
