#!/bin/sh
# bench_failover: what a failure costs a live stream, hotspare against the
# best ffmpeg CLI equivalent on the same scenario, with real peers, in one
# run. 320x180 30 fps, libx264 veryfast 300k, GOP 1 s, 8 s per run, the
# failure 3-4 s in:
#
#   output killed   RTMP push to a primary nginx, killed (-9) mid-stream; a
#                   backup nginx is up. hotspare: output backup, standby
#                   always. ffmpeg: tee to both, each slave onfail=ignore
#                   behind a fifo with attempt_recovery (drop_pkts_on_overflow,
#                   so that the dead slave cannot block the live one); and
#                   fifo alone to the primary (it retries only that URL).
#                   The row is whichever lost less, the other in its note.
#   encoder error   a live RTMP source (an ffmpeg publisher into nginx).
#                   hotspare: `faults:` error on enc:main at 4 s, a standby
#                   encoder. ffmpeg has no encoder failover: the process dies
#                   (kill -9) and a restart loop runs it again after 100 ms
#                   (systemd's default RestartSec).
#   input lost      one generator feeds two publishers (primary, backup) into
#                   nginx, so both carry the same timeline; the primary
#                   publisher is killed (-9). hotspare: input backup,
#                   loss_timeout 100ms. ffmpeg cannot switch inputs: a restart
#                   loop reads the primary with -rw_timeout 100 ms (without it
#                   ffmpeg waits for ever: nginx keeps an idle stream open)
#                   and, when that run ends, the backup URL. (-xerror ends
#                   the dead run 0.4 s sooner but drops what its encoder
#                   holds: 64 frames lost against 42 here.)
#   origin stalled  HLS over HTTP PUT to an nginx WebDAV origin behind
#                   tests/tools/faultproxy, a backup origin direct; the proxy
#                   stalls for the rest of the run (a hung origin).
#                   hotspare: output backup, standby always, rw_timeout 2s.
#                   ffmpeg: tee and fifo alone as for RTMP, HLS slaves.
#
# Both ffmpeg restart loops use -copyts (timestamps stay on the source's
# timeline across restarts, so the frame numbers can be counted),
# -fpsprobesize 0 (a restart is not held up 1-2 s probing the frame rate;
# it still waits for a keyframe to know the video) and
# -flush_packets 1 (a killed process loses no buffered output: what a push
# would have sent).
#
# Columns:
#   frames lost  frame numbers (round(pts * 30)) that reached no receiver,
#                primary and backup together, in the run's window: from the
#                first frame recorded to the last the run should have
#                produced (its duration, or the source's last frame for the
#                restart loops), less one frame (a cut at the duration may
#                land a frame early after a switch)
#   gap ms       the largest run of missing frames, in ms: the largest pts
#                step at the receivers less one frame period
#   detect ms    from the failure (kill, stall: the wall clock here) to its
#                notice: hotspare's failure event; ffmpeg's dead run ending
#   backup ms    from the notice to the backup serving: hotspare's own
#                "wrote its first packet X ms after the switch" for outputs,
#                its switch event for the encoder and the input; ffmpeg
#                restarts: the restarted run's first -progress report with a
#                packet muxed (10 ms period). Failure to first packet on the
#                backup is detect + backup.
#
# Targets (hotspare): 0 frames lost in every scenario; first packet on a
# provisioned backup <= 50 ms; input loss noticed within loss_timeout + one
# frame period. The script fails only when something could not be measured;
# a target missed is printed as such.
#
# Ports 19570-19574 and 18570-18575 (the integration tests use 18080-18120
# and 19100-19499).
. "$(dirname "$0")/../lib/common.sh"
need ffmpeg ffprobe
. "$TOP/tests/lib/nginx.sh"
. "$TOP/tests/lib/faultproxy.sh"
cd "$TOP" || exit 2
FP_DIR=$T
FP_BIN=$TOP/tests/tools/faultproxy
[ -x "$FP_BIN" ] || fail "no $FP_BIN: run make testprogs first"

FPS=30
SECS=8
N=$((FPS * SECS))
SRC_SECS=12                     # live sources outlast a run and its start
P1=19570 P1H=18570              # RTMP primary (killed)
B1=19571 B1H=18571              # RTMP backup
SRC=19572 SRCH=18572            # live sources
OA=19573 OAH=18573              # HLS origin A (behind the proxy)
OB=19574 OBH=18574              # HLS origin B
PROXY=18575
LAVFI_V="testsrc2=size=320x180:rate=$FPS"
LAVFI_A="sine=frequency=1000:sample_rate=48000"
# ffmpeg's rendition, as hotspare sets it up (GOP 1 s, no scene cuts)
FF_ENC="-c:v libx264 -preset veryfast -b:v 300k -g $FPS -keyint_min $FPS -sc_threshold 0 -c:a aac -b:a 128k"
FIFO_OPTS="attempt_recovery=1:drop_pkts_on_overflow=1:recovery_wait_time=1"
FIFO_ARGS="-attempt_recovery 1 -drop_pkts_on_overflow 1 -recovery_wait_time 1"
LOOPS=                          # restart loop directories, for the cleanup
BEGAN=$(date +%s)

bench_cleanup() {
    for _d in $LOOPS; do
        : > "$_d/stop"
        [ -s "$_d/pid" ] && kill -9 "$(cat "$_d/pid")" 2>/dev/null
    done
    fp_stop_all > /dev/null 2>&1
    cleanup
}
trap bench_cleanup EXIT

now_ms() { date +%s%3N; }

# finish PID SECS: wait for PID (killed after SECS); its exit status
finish() {
    fp_wait "$2" fp_exited "$1" || { say "pid $1 still running after $2 s: killed"; kill -9 "$1"; }
    wait "$1"
}

# ev_ms EVENTS COMPONENT KIND: the time of the first such event, ms since
# the epoch (the events' "time" is the wall clock, to the ms)
ev_ms() {
    _t=$(grep "\"component\":\"$2\"" "$1" | grep "\"kind\":\"$3\"" | head -n 1 |
         sed -n 's/.*"time":"\([^"]*\)".*/\1/p')
    [ -n "$_t" ] && date -d "$_t" +%s%3N
}

# frames OUT FILE...: the union of the files' video frame numbers
frames() {
    _o=$1; shift
    for _f in "$@"; do
        [ -s "$_f" ] && probe_frame_numbers "$_f" v:0 $FPS
    done | sort -n -u > "$_o"
    [ -s "$_o" ] || fail "$_o: no frame reached any receiver ($*)"
}

# loss LIST LAST: "LOST GAP_MS" over the window from LIST's first frame to
# LAST less one
loss() {
    awk -v last="$2" -v fps=$FPS 'NR == 1 { lo = $1 } { seen[$1] = 1 }
        END { n = 0; run = 0; m = 0
              for (i = lo; i < last; i++)
                  if (i in seen) run = 0; else { n++; if (++run > m) m = run }
              printf "%d %.0f\n", n, m * 1000 / fps }' "$1"
}

# row SCENARIO TOOL LOST GAP DETECT BACKUP NOTE
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$T/rows"; }
: > "$T/rows"
: > "$T/misses"
miss() { echo "$*" >> "$T/misses"; }

# A restart loop, as a user runs ffmpeg under a supervisor: run it, and when
# it ends, 100 ms later, run it again on the next URL (round robin) until
# DIR/stop exists. Run n writes DIR/part<n>.flv; DIR/log gets
# "start|exit <n> <ms>"; DIR/first<n> the time of its first -progress report
# with a packet muxed; DIR/pid the running ffmpeg.
# supervise DIR INPUT_OPTIONS URL...
supervise() {
    _d=$1 _in=$2 _n=0
    shift 2
    while [ ! -e "$_d/stop" ]; do
        for _u in "$@"; do
            [ -e "$_d/stop" ] && break
            _n=$((_n + 1))
            echo "start $_n $(now_ms)" >> "$_d/log"
            sh -c 'echo $$ > "$1"; shift; exec "$@"' sh "$_d/pid" \
                ffmpeg -nostdin -v error -nostats $_in -fpsprobesize 0 \
                -copyts -i "$_u" $FF_ENC -flush_packets 1 -f flv \
                -progress pipe:1 -stats_period 0.01 "$_d/part$_n.flv" 2> "$_d/err$_n" |
                first_packet "$_d/first$_n"
            echo "exit $_n $(now_ms)" >> "$_d/log"
            sleep 0.1
        done
    done
}
# reads -progress blocks; notes the time of the first with a packet muxed
first_packet() {
    while IFS= read -r _l; do
        case $_l in
            out_time_us=N/A) ;;
            out_time_us=*) now_ms > "$1"; break ;;
        esac
    done
    cat > /dev/null
}
loop_ms() { awk -v w="$2" -v n="$3" '$1 == w && $2 == n { print $3; exit }' "$1/log"; }

# stop_loop DIR LOOP_PID: end the loop once its source is gone
stop_loop() {
    : > "$1/stop"
    sleep 1.5                   # the last run notices the end (rw_timeout)
    [ -s "$1/pid" ] && kill "$(cat "$1/pid")" 2>/dev/null
    finish "$2" 10
}

# A live source: publish KEY, SRC_SECS long
publish() {
    bg ffmpeg -nostdin -v error -nostats -re -f lavfi -i "$LAVFI_V" -f lavfi -i "$LAVFI_A" \
        -t $SRC_SECS -c:v libx264 -preset ultrafast -tune zerolatency -g 15 -c:a aac -b:a 64k \
        -f flv "rtmp://127.0.0.1:$SRC/live/$1" 2> "$T/pub-$1.err"
    PUB_PID=$BG_PID
    wait_for 10 test -s "$T/src/rec/$1.flv" || fail "the source $1 did not start: $(cat "$T/pub-$1.err")"
}

# Two publishers of one generator's stream (one encode, tee'd to two FIFOs):
# KEY-main and KEY-backup carry the same timestamps. Sets PUB_MAIN, GEN_PID.
publish_pair() {
    mkfifo "$T/$1-main.fifo" "$T/$1-backup.fifo"
    for _s in main backup; do
        bg ffmpeg -nostdin -v error -nostats -fpsprobesize 0 -f flv -i "$T/$1-$_s.fifo" -c copy \
            -f flv "rtmp://127.0.0.1:$SRC/live/$1-$_s" 2> "$T/pub-$1-$_s.err"
        [ $_s = main ] && PUB_MAIN=$BG_PID
    done
    bg ffmpeg -nostdin -v error -nostats -re -f lavfi -i "$LAVFI_V" -f lavfi -i "$LAVFI_A" \
        -t $SRC_SECS -map 0:v -map 1:a -c:v libx264 -preset ultrafast -tune zerolatency -g 15 \
        -c:a aac -b:a 64k -flags +global_header \
        -f tee "[f=flv:onfail=ignore]$T/$1-main.fifo|[f=flv:onfail=ignore]$T/$1-backup.fifo" \
        2> "$T/gen-$1.err"
    GEN_PID=$BG_PID
    for _s in main backup; do
        wait_for 10 test -s "$T/src/rec/$1-$_s.flv" ||
            fail "the source $1-$_s did not start: $(cat "$T/gen-$1.err" "$T/pub-$1-$_s.err")"
    done
}

hs_run() {  # NAME: run $T/NAME.yaml in the background, events in $T/NAME.jsonl
    bg "$HS" -v error run --events "$T/$1.jsonl" --progress "$T/$1.progress" "$T/$1.yaml" 2> "$T/$1.log"
    HS_PID=$BG_PID
}
# hs_frames NAME N: hotspare's progress says it has encoded N frames
hs_frames() {
    awk -F= -v n="$2" '$1 == "frame" && $2 + 0 >= n { f = 1 } END { exit !f }' "$T/$1.progress" 2>/dev/null
}
hs_done() {  # NAME
    finish "$HS_PID" 30
    _rc=$?
    [ $_rc = 0 ] || say "$1: hotspare exited $_rc"
    [ -s "$T/$1.jsonl" ] || fail "$1: no events"
}
first_write() {  # EVENTS: hotspare's "wrote its first packet X ms after the switch"
    grep -o 'wrote its first packet [0-9.]* ms after the switch' "$1" | head -n 1 | awk '{ print $5 }'
}
diff_ms() { [ -n "$1" ] && [ -n "$2" ] && echo $(($1 - $2)); }
or_dash() { if [ -n "$1" ]; then echo "$1"; else echo "${2:--}"; fi; }

# hs_output_row SCENARIO NAME COMPONENT FAILED_MS RECORDING...: hotspare's
# row for an output failure
hs_output_row() {
    _sc=$1 _nm=$2
    _det=$(diff_ms "$(ev_ms "$T/$_nm.jsonl" "$3" failure)" "$4")
    _fw=$(first_write "$T/$_nm.jsonl")
    shift 4
    frames "$T/$_nm.frames" "$@"
    set -- $(loss "$T/$_nm.frames" $(($(head -n 1 "$T/$_nm.frames") + N - 1)))
    _note="backup opened ahead (standby)"
    [ -n "$_det" ] || _note="$_note; the failure never noticed"
    row "$_sc" hotspare "$1" "$2" "$(or_dash "$_det" never)" "$(or_dash "$_fw")" "$_note"
    [ "$1" = 0 ] || miss "$_sc: $1 frames lost"
    [ -n "$_fw" ] && awk -v v="$_fw" 'BEGIN { exit !(v <= 50) }' ||
        miss "$_sc: first packet on the backup $(or_dash "$_fw" 'never written') (target <= 50 ms)"
}

# ff_live ERRFILE OUTPUT_OPTIONS...: ffmpeg encodes the live lavfi source
# for SECS into the given output; FF_PID
ff_live() {
    _e=$1
    shift
    bg ffmpeg -nostdin -v error -nostats -re -f lavfi -i "$LAVFI_V" -f lavfi -i "$LAVFI_A" -t $SECS \
        -map 0:v -map 1:a $FF_ENC -flags +global_header "$@" 2> "$_e"
    FF_PID=$BG_PID
}

# ff_output_row SCENARIO: ffmpeg's row for an output failure, from the tee
# and the fifo-alone runs (LOST, GAP of each), whichever lost less
ff_output_row() {
    if [ "$tee_lost" -le "$LOST" ]; then
        row "$1" "ffmpeg tee" "$tee_lost" "$tee_gap" - 0 "backup fed all along (fifo alone: $LOST lost)"
    else
        row "$1" "ffmpeg fifo" "$LOST" "$GAP" - - "primary only (tee: $tee_lost lost)"
    fi
}

nginx_start b1 $B1 $B1H
nginx_start src $SRC $SRCH
nginx_start oa $OA $OAH
nginx_start ob $OB $OBH

# ---- 1. output killed: RTMP push ---------------------------------------------------

job "$T/s1hs.yaml" <<EOF
version: 1
streams:
  - name: s1
    input: { url: "$(lavfi_src 320 180 $FPS)", format: lavfi, realtime: true }
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: veryfast } }
    outputs:
      - name: ingest
        format: flv
        url: rtmp://127.0.0.1:$P1/live/hs
        rw_timeout: 2s
        backup: { url: rtmp://127.0.0.1:$B1/live/hs }
    standby: always
    switch_back: never
    duration: ${SECS}s
EOF
nginx_start p1hs $P1 $P1H
hs_run s1hs
wait_for 10 test -s "$T/p1hs/rec/hs.flv" || fail "output killed, hotspare: the primary got nothing"
sleep 3
k=$(now_ms)
nginx_kill p1hs
hs_done s1hs
hs_output_row "output killed" s1hs out:ingest "$k" "$T/p1hs/rec/hs.flv" "$T/b1/rec/hs.flv"

# ff_s1 TAG OUTPUT_OPTIONS...: ffmpeg pushes to a fresh primary, killed 3 s
# in; LOST, GAP
ff_s1() {
    _tag=$1
    shift
    nginx_start "p1$_tag" $P1 $P1H
    ff_live "$T/s1$_tag.err" "$@"
    wait_for 10 test -s "$T/p1$_tag/rec/$_tag.flv" ||
        fail "output killed, ffmpeg $_tag: the primary got nothing: $(cat "$T/s1$_tag.err")"
    sleep 3
    nginx_kill "p1$_tag"
    finish $FF_PID 30 || say "output killed: ffmpeg $_tag exited $?"
    frames "$T/s1$_tag.frames" "$T/p1$_tag/rec/$_tag.flv" "$T/b1/rec/$_tag.flv"
    set -- $(loss "$T/s1$_tag.frames" $(($(head -n 1 "$T/s1$_tag.frames") + N - 1)))
    LOST=$1 GAP=$2
}
ff_s1 tee -f tee -use_fifo 1 -fifo_options "$FIFO_OPTS" \
    "[f=flv:onfail=ignore]rtmp://127.0.0.1:$P1/live/tee|[f=flv:onfail=ignore]rtmp://127.0.0.1:$B1/live/tee"
tee_lost=$LOST tee_gap=$GAP
ff_s1 fifo -f fifo -fifo_format flv $FIFO_ARGS "rtmp://127.0.0.1:$P1/live/fifo"
ff_output_row "output killed"

# ---- 2. encoder error ---------------------------------------------------------------

publish enc-hs
job "$T/s2hs.yaml" <<EOF
version: 1
streams:
  - name: s2
    input: { url: rtmp://127.0.0.1:$SRC/live/enc-hs }
    renditions:
      - name: main
        width: 320
        height: 180
        fps: $FPS
        bitrate: 300k
        gop: 1s
        options: { preset: veryfast }
        backup: { encoder: libx264, options: { preset: veryfast } }
    outputs:
      - { name: rec, format: flv, url: $T/s2hs.flv }
    standby: always
    duration: ${SECS}s
    faults:
      - { at: 4s, component: enc:main, fault: error }
EOF
hs_run s2hs
hs_done s2hs
kill "$PUB_PID" 2>/dev/null
frames "$T/s2hs.frames" "$T/s2hs.flv"
set -- $(loss "$T/s2hs.frames" $(($(head -n 1 "$T/s2hs.frames") + N - 1)))
f=$(ev_ms "$T/s2hs.jsonl" enc:main failure)
sw=$(diff_ms "$(ev_ms "$T/s2hs.jsonl" enc:main switch)" "$f")
[ -n "$f" ] || miss "encoder error: no failure event for enc:main"
row "encoder error" hotspare "$1" "$2" - "$(or_dash "$sw" never)" "standby encoder; fault at 4 s"
[ "$1" = 0 ] || miss "encoder error: $1 frames lost"

publish enc-ff
D=$T/s2ff
mkdir -p "$D"
LOOPS="$LOOPS $D"
bg supervise "$D" "-rw_timeout 1000000" "rtmp://127.0.0.1:$SRC/live/enc-ff" 2> "$D/loop.err"
LOOP=$BG_PID
wait_for 10 test -s "$D/first1" || fail "encoder error, ffmpeg: no output: $(cat "$D/err1")"
sleep 3
k=$(now_ms)
kill -9 "$(cat "$D/pid")"
finish "$PUB_PID" 30
stop_loop "$D" "$LOOP"
frames "$T/s2ff.frames" "$D"/part*.flv
set -- $(loss "$T/s2ff.frames" "$(probe_frame_numbers "$T/src/rec/enc-ff.flv" v:0 $FPS | tail -n 1)")
e=$(loop_ms "$D" exit 1)
b=$(diff_ms "$(cat "$D/first2" 2>/dev/null)" "$e")
row "encoder error" "ffmpeg restart" "$1" "$2" "$(or_dash "$(diff_ms "$e" "$k")")" "$(or_dash "$b" never)" "kill -9, restarted after 100 ms"

# ---- 3. input lost -----------------------------------------------------------------

publish_pair in-hs
job "$T/s3hs.yaml" <<EOF
version: 1
streams:
  - name: s3
    input:
      url: rtmp://127.0.0.1:$SRC/live/in-hs-main
      backup: { url: rtmp://127.0.0.1:$SRC/live/in-hs-backup }
      loss_timeout: 100ms
    renditions:
      - { name: main, width: 320, height: 180, fps: $FPS, bitrate: 300k, gop: 1s, options: { preset: veryfast } }
    outputs:
      - { name: rec, format: flv, url: $T/s3hs.flv }
    switch_back: never
    duration: ${SECS}s
EOF
hs_run s3hs
wait_for 10 hs_frames s3hs 1 || fail "input lost, hotspare: no output"
sleep 3
k=$(now_ms)
kill -9 "$PUB_MAIN"
hs_done s3hs
kill "$GEN_PID" 2>/dev/null
frames "$T/s3hs.frames" "$T/s3hs.flv"
set -- $(loss "$T/s3hs.frames" $(($(head -n 1 "$T/s3hs.frames") + N - 1)))
f=$(ev_ms "$T/s3hs.jsonl" input failure)
det=$(diff_ms "$f" "$k")
sw=$(diff_ms "$(ev_ms "$T/s3hs.jsonl" input switch)" "$f")
quiet=$(grep -o 'no packet for [0-9]* ms' "$T/s3hs.jsonl" | head -n 1 | awk '{ print $4 }')
row "input lost" hotspare "$1" "$2" "$(or_dash "$det" never)" "$(or_dash "$sw" never)" \
    "loss_timeout 100ms; quiet $(or_dash "$quiet" ?) ms at notice"
[ "$1" = 0 ] || miss "input lost: $1 frames lost"
limit=$((100 + 1000 / FPS))
[ -n "$det" ] && [ "$det" -le $limit ] ||
    miss "input lost: noticed $(or_dash "$det" never) ms after the kill (target <= $limit ms)"

publish_pair in-ff
D=$T/s3ff
mkdir -p "$D"
LOOPS="$LOOPS $D"
bg supervise "$D" "${S3_FF_IN:--rw_timeout 100000}" "rtmp://127.0.0.1:$SRC/live/in-ff-main" "rtmp://127.0.0.1:$SRC/live/in-ff-backup" 2> "$D/loop.err"
LOOP=$BG_PID
wait_for 10 test -s "$D/first1" || fail "input lost, ffmpeg: no output: $(cat "$D/err1")"
sleep 3
k=$(now_ms)
kill -9 "$PUB_MAIN"
finish "$GEN_PID" 30
stop_loop "$D" "$LOOP"
frames "$T/s3ff.frames" "$D"/part*.flv
set -- $(loss "$T/s3ff.frames" "$(probe_frame_numbers "$T/src/rec/in-ff-backup.flv" v:0 $FPS | tail -n 1)")
e=$(loop_ms "$D" exit 1)
b=$(diff_ms "$(cat "$D/first2" 2>/dev/null)" "$e")
row "input lost" "ffmpeg restart" "$1" "$2" "$(or_dash "$(diff_ms "$e" "$k")")" "$(or_dash "$b" never)" \
    "-rw_timeout 100ms, then the backup URL"

# ---- 4. origin stalled: HLS over HTTP PUT --------------------------------------------

job "$T/s4hs.yaml" <<EOF
version: 1
streams:
  - name: s4
    input: { url: "$(lavfi_src 320 180 $FPS)", format: lavfi, realtime: true }
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: veryfast } }
    outputs:
      - name: origin
        format: hls
        url: http://127.0.0.1:$PROXY/upload/hs/index.m3u8
        options: { hls_time: 1, hls_list_size: 0 }
        rw_timeout: 2s
        backup: { url: http://127.0.0.1:$OBH/upload/hs/index.m3u8 }
    standby: always
    switch_back: never
    duration: ${SECS}s
EOF
fp_start origin 127.0.0.1:$PROXY 127.0.0.1:$OAH || fail "the fault proxy did not start"
hs_run s4hs
wait_for 10 test -s "$T/oa/www/upload/hs/index.m3u8" || fail "origin stalled, hotspare: the primary got nothing"
sleep 2
k=$(now_ms)
fp_cmd origin stall || fail "the proxy did not stall"
hs_done s4hs
hs_output_row "origin stalled" s4hs out:origin "$k" "$T"/oa/www/upload/hs/*.ts "$T"/ob/www/upload/hs/*.ts
fp_stop origin

# ff_s4 TAG OUTPUT_OPTIONS...: ffmpeg's HLS to a fresh proxy, stalled 2 s
# after the first playlist; LOST, GAP
ff_s4() {
    _tag=$1
    shift
    fp_start origin 127.0.0.1:$PROXY 127.0.0.1:$OAH || fail "the fault proxy did not start"
    ff_live "$T/s4$_tag.err" "$@"
    wait_for 10 test -s "$T/oa/www/upload/$_tag/index.m3u8" ||
        fail "origin stalled, ffmpeg $_tag: the primary got nothing: $(cat "$T/s4$_tag.err")"
    sleep 2
    fp_cmd origin stall || fail "the proxy did not stall"
    finish $FF_PID 30 || say "origin stalled: ffmpeg $_tag exited $?"
    frames "$T/s4$_tag.frames" "$T"/oa/www/upload/$_tag/*.ts "$T"/ob/www/upload/$_tag/*.ts
    fp_stop origin
    set -- $(loss "$T/s4$_tag.frames" $(($(head -n 1 "$T/s4$_tag.frames") + N - 1)))
    LOST=$1 GAP=$2
}
HLS_OPTS="hls_time=1:hls_list_size=0:method=PUT"
ff_s4 tee -f tee -use_fifo 1 -fifo_options "$FIFO_OPTS" \
    "[f=hls:$HLS_OPTS:onfail=ignore]http://127.0.0.1:$PROXY/upload/tee/index.m3u8|[f=hls:$HLS_OPTS:onfail=ignore]http://127.0.0.1:$OBH/upload/tee/index.m3u8"
tee_lost=$LOST tee_gap=$GAP
ff_s4 fifo -f fifo -fifo_format hls -format_opts "$HLS_OPTS" $FIFO_ARGS \
    "http://127.0.0.1:$PROXY/upload/fifo/index.m3u8"
ff_output_row "origin stalled"

# ---- the table -----------------------------------------------------------------------

echo "failover, 320x180 $FPS fps, ${SECS} s runs, the failure 3-4 s in; one run each ($(($(date +%s) - BEGAN)) s)"
awk -F'\t' 'BEGIN { printf "%-15s %-15s %7s %7s %7s %7s  %s\n", "scenario", "tool", "lost", "gap ms",
                    "detect", "backup", "notes"
                    printf "%-15s %-15s %7s %7s %7s %7s\n", "", "", "frames", "", "ms", "ms" }
            { printf "%-15s %-15s %7s %7s %7s %7s  %s\n", $1, $2, $3, $4, $5, $6, $7 }' "$T/rows"
cat <<EOF
lost: frames that reached no receiver (primary + backup together); gap: the
largest pts step at the receivers less a frame period; detect: from the
failure (kill, stall) to its notice (hotspare: its failure event; ffmpeg: the
dead run's end); backup: from the notice to the backup serving (hotspare
outputs: its first packet written after the switch; its encoder and input:
the switch event; ffmpeg restarts: the new run's first -progress report with
a packet muxed, +-10 ms). Failure to first packet on the backup: the sum.
ffmpeg: outputs: tee to both destinations, each slave onfail=ignore behind a
fifo ($FIFO_OPTS),
or fifo alone to the primary, whichever lost less (tee writes every packet to
both all along: no switch to time); encoder: the process killed (-9) and run
again by a loop after 100 ms; input: a loop runs it on the primary with
-rw_timeout 100 ms, then on the backup URL. Restarts: -copyts -fpsprobesize 0
-flush_packets 1.
targets (hotspare): 0 frames lost in every scenario; first packet on a
provisioned backup <= 50 ms; input loss noticed within loss_timeout + one
frame ($((100 + 1000 / FPS)) ms)
EOF
if [ -s "$T/misses" ]; then
    sed 's/^/hotspare target NOT met: /' "$T/misses"
else
    echo "hotspare targets: all met"
fi
exit 0
