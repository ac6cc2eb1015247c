#!/bin/sh
# bench_failover: what viewers lose when a component of a live chain fails,
# hotspare against the best the ffmpeg CLI offers for the same failure, in
# the same run, with real peers (private nginx with RTMP and WebDAV,
# tests/tools/faultproxy).
#
# Every run: a live source (lavfi testsrc2 + sine, 320x180 30 fps, paced in
# real time), libx264 veryfast 300k, GOP 1 s (30 frames, no scene cuts),
# aac 64k, for 10 s (12 s for HLS); the failure comes once the tool's
# progress says 120 frames (4.0-4.5 s: progress comes every 0.5 s).
#
#   output killed   RTMP push; the primary ingest's nginx is killed (-9).
#                   hotspare: a backup ingest opened ahead (standby: always).
#                   ffmpeg: tee to both ingests, onfail=ignore, each behind
#                   fifo with attempt_recovery (the backup carries the
#                   stream all along: 2x egress); and fifo alone to the
#                   primary (what one ingest URL gives)
#   encoder error   RTMP push to one ingest. hotspare: an error injected into
#                   the encoder (faults:) with a standby opened ahead. ffmpeg
#                   has no standby encoder: its process is killed (-9) and
#                   started again at once, as by systemd Restart=always
#                   (with RestartSec=0; the default 100 ms adds to the gap)
#   input lost      two publishers (ffmpeg, on one live timeline) into
#                   nginx-rtmp, the primary killed (-9); the output is pushed
#                   back to the same nginx. hotspare: input with a backup,
#                   loss_timeout 100ms. ffmpeg: reads the primary with
#                   -rw_timeout 1 s and -xerror (without it, ffmpeg flushes
#                   its encoders but takes three timeouts to end), and a
#                   wrapper starts it on the backup URL when it exits
#   origin stalled  HLS (1 s segments) over HTTP PUT to nginx WebDAV, the
#                   primary origin behind faultproxy, stalled for 6 s.
#                   hotspare: a backup origin opened ahead, rw_timeout 1s.
#                   ffmpeg: tee to both origins behind fifo (2x egress); and
#                   hls alone to the primary with -timeout 1 and
#                   ignore_io_errors
#
# The fifo options are attempt_recovery=1, drop_pkts_on_overflow=1,
# recovery_wait_time=1: with the default drop_pkts_on_overflow=0 the dead
# slave's full queue blocks the tee, and the backup ingest starves as well.
#
# Frames are numbered on the live timeline: round(pts * 30). ffmpeg's source
# stamps each frame with the wall clock at capture (fb_live_src, -copyts),
# so a restarted ffmpeg's first frame is numbered by when it was captured,
# and what the restart missed shows as missing; hotspare never restarts,
# and its output timeline is the stream's own. Per run:
#
#   lost         frames of the first 9 s (270 frames from the first one that
#                reached a receiver) that reached no receiver: the union of
#                the ingests' recordings, of the origins' segments
#   max step     the largest step of that union timeline, ms (33 = one frame
#                period: no gap; a stream that never comes back runs to the
#                end of the 9 s)
#   to backup    ms from the failure to the first packet written to the
#                backup: hotspare's switch event plus its "wrote its first
#                packet X ms after the switch"; for the restarted ffmpeg,
#                the restart's first packet at the ingest (its recording
#                polled, about every 10 ms). For the input: ms from the
#                kill to the detection (hotspare's failure event, the exit of
#                the ffmpeg reading the primary). The failure's time is taken
#                just before the SIGKILL (nginx's worker, the publisher,
#                ffmpeg), or before the stall command goes to the proxy
#
# Targets for hotspare: 0 frames lost in every scenario; the first packet on
# a provisioned backup within 50 ms of the failure; input loss detected
# within loss_timeout (the event's "no packet for N ms", with one frame
# period of slack as in t_switch_input). A figure that cannot be measured
# honestly is n/a, with the reason in the notes.
#
# Ports 19510-19541, 18510-18542. Written to be tests/bench/bench_failover.sh
# (run.sh runs bench_*.sh); kept as failover.sh beside another session's
# bench_failover.sh, committed while this one was under way.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/lib/common.sh
need ffmpeg ffprobe
. tests/lib/nginx.sh
. tests/lib/faultproxy.sh
. tests/lib/failbench.sh
[ -x "$FP_BIN" ] && [ -x tests/tools/waitport ] || fail "run make testprogs first"
FP_DIR=$T

# the wrappers' ffmpeg processes and the pollers are not bg's children
stop_rest() {
    [ -f "$T/pids" ] && while read -r p; do kill -9 "$p" 2>/dev/null; done < "$T/pids"
    fp_stop_all > /dev/null 2>&1
}
trap 'stop_rest; cleanup' EXIT
remember() { echo "$1" >> "$T/pids"; }

DUR=10
FAIL_AT=120          # frames
WIN=270              # frames counted, from the first
FIFO_OPTS=attempt_recovery=1:drop_pkts_on_overflow=1:recovery_wait_time=1
FF_ENC="-map 0:v -map 0:a -c:v libx264 -preset veryfast -b:v 300k -g 30 -keyint_min 30 -sc_threshold 0 -c:a aac -b:a 64k"
FLV_OPTS=flvflags=no_duration_filesize
HLS_OPTS=hls_time=1:hls_list_size=0:method=PUT:timeout=1:ignore_io_errors=1
# the live timeline's origin, 10 s back so that timestamps stay positive
T0=$(($(fb_now) / 1000 - 10000000))

# ff_live PROGRESS SECONDS OUTPUT_ARGS...: ffmpeg on the live source. It
# replaces the shell it runs in: start it with & (or bg), so $! is ffmpeg.
ff_live() {
    _p=$1 _s=$2
    shift 2
    exec ffmpeg -nostdin -v error -progress "$_p" -re -t "$_s" -f lavfi -i "$(fb_live_src $T0)" \
        $FF_ENC -copyts "$@"
}

# hs_job FILE: the job from HS_INPUT, HS_ENC_BACKUP, HS_OUTPUTS, HS_EXTRA,
# HS_DUR, with the source and the encoder settings every run shares
hs_job() {
    _in=${HS_INPUT:-}
    [ -n "$_in" ] || _in="{ url: \"$(lavfi_src 320 180 30)\", format: lavfi, realtime: true }"
    cat > "$1" <<EOF
version: 1
streams:
  - name: live
    input: $_in
    audio: { encoder: aac, bitrate: 64k }
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: veryfast }${HS_ENC_BACKUP:+, $HS_ENC_BACKUP} }
    outputs:
$HS_OUTPUTS
    standby: always
    switch_back: never
    duration: ${HS_DUR:-$DUR}s
${HS_EXTRA:-}
EOF
    HS_INPUT='' HS_ENC_BACKUP='' HS_EXTRA='' HS_DUR=''
}

# hs_run DIR: runs DIR/job.yaml in the background (BG_PID)
hs_run() {
    bg "$HS" -v error run --progress "$1/progress" --events "$1/events" "$1/job.yaml" 2> "$1/log"
}

# row SCENARIO TOOL TO_BACKUP NOTE: a line of the table, with LOST and STEP
# from count and the run's notes (DIR d) before NOTE
row() {
    printf '%s\t%s\t%s\t%s\t%s\t%s%s\n' "$1" "$2" "$LOST" "$STEP" "$3" \
        "$(cat "$d/notes" 2>/dev/null)" "$4" >> "$T/rows"
}

# count DIR FILE...: the union of the FILEs' frames; sets LOST and STEP
count() {
    _d=$1
    shift
    fb_frames "$_d/frames" "$@"
    _first=$(head -n 1 "$_d/frames")
    if [ -z "$_first" ]; then
        LOST=n/a STEP=n/a
        return
    fi
    LOST=$(fb_lost "$_d/frames" "$_first" $WIN)
    STEP=$(fb_max_step "$_d/frames" "$_first" $WIN)
}

# wait_end PID DIR: the tool's end, or a note that it had to be killed
wait_end() {
    fb_wait_exit "$1" 40 || echo "killed: still running 40 s after the failure; " >> "$2/notes"
    wait "$1" 2>/dev/null
}

# hs_to_backup DIR T_FAIL COMPONENT: from the failure to the first packet on
# the backup, by the switch event and the first-packet event
hs_to_backup() {
    _sw=$(fb_ev_ns "$1/events" '"kind":"switch"' "$3.backup takes over from")
    _x=$(fb_ev_cause "$1/events" "$3.backup wrote its first packet" |
        sed -n 's/.* packet \([0-9.]*\) ms after.*/\1/p')
    if [ -z "$_sw" ] || [ -z "$_x" ]; then
        echo n/a
        return
    fi
    awk -v s="$_sw" -v f="$2" -v x="$_x" 'BEGIN { printf "%.1f", (s - f) / 1e6 + x }'
}

# ---- output killed --------------------------------------------------------

output_killed() {   # hs | tee | fifo
    r=out_$1 d=$T/out_$1
    mkdir -p "$d"
    nginx_start "${r}_p" 19510 18510
    nginx_start "${r}_b" 19511 18511
    P=rtmp://127.0.0.1:19510/live/k B=rtmp://127.0.0.1:19511/live/k
    case $1 in
        hs)
            HS_OUTPUTS="      - { name: ingest, format: flv, url: $P, rw_timeout: 1s, backup: { url: $B } }"
            hs_job "$d/job.yaml"
            hs_run "$d" ;;
        tee)
            bg ff_live "$d/progress" $DUR -use_fifo 1 -fifo_options "$FIFO_OPTS" -f tee \
                "[f=flv:$FLV_OPTS:onfail=ignore]$P|[f=flv:$FLV_OPTS:onfail=ignore]$B" 2> "$d/log" ;;
        fifo)
            bg ff_live "$d/progress" $DUR -f fifo -fifo_format flv -format_opts "$FLV_OPTS" \
                -attempt_recovery 1 -drop_pkts_on_overflow 1 -recovery_wait_time 1 "$P" 2> "$d/log" ;;
    esac
    pid=$BG_PID
    fb_wait_frames "$d/progress" $FAIL_AT 20 || fail "$r: no progress: $(tail -n 3 "$d/log")"
    fb_nginx_kill "${r}_p"
    t_fail=$FB_KILLED
    wait_end $pid "$d"
    nginx_stop "${r}_b"
    count "$d" "$T/${r}_p/rec/k.flv" "$T/${r}_b/rec/k.flv"
    case $1 in
        hs)
            to=$(hs_to_backup "$d" "$t_fail" out:ingest)
            det=n/a
            t=$(fb_ev_ns "$d/events" '"component":"out:ingest"' '"kind":"failure"') && det=$(fb_ms "$t_fail" "$t")
            HS_OUT_TO=$to
            row "output killed" hotspare "$to" \
                "failure seen $det ms after the kill; backup connected ahead, idle (1x egress)" ;;
        tee)
            row "output killed" "ffmpeg tee+fifo" n/a \
                "no switch: the backup carries the stream all along (2x egress)" ;;
        fifo)
            row "output killed" "ffmpeg fifo" n/a \
                "one ingest, no backup: retries the dead one" ;;
    esac
}

# ---- encoder error --------------------------------------------------------

encoder_error() {   # hs | restart
    r=enc_$1 d=$T/enc_$1
    mkdir -p "$d"
    nginx_start "$r" 19520 18520
    U=rtmp://127.0.0.1:19520/live/k
    rec=$T/$r/rec
    case $1 in
        hs)
            HS_ENC_BACKUP="backup: { encoder: libx264, options: { preset: veryfast } }"
            HS_OUTPUTS="      - { name: ingest, format: flv, url: $U, rw_timeout: 1s }"
            HS_EXTRA="    faults:
      - { at: 4s, component: enc:main, fault: error }"
            hs_job "$d/job.yaml"
            hs_run "$d"
            wait_end $BG_PID "$d"
            nginx_stop "$r"
            count "$d" "$rec/k.flv"
            t_fail=$(fb_ev_ns "$d/events" '"component":"enc:main"' '"kind":"failure"')
            t_sw=$(fb_ev_ns "$d/events" '"kind":"switch"' 'enc:main.backup takes over')
            resent=$(fb_ev_cause "$d/events" 'enc:main.backup takes over' |
                sed -n 's/.* with \([0-9]*\) frames\{0,1\} not yet.*/\1/p')
            if [ -n "$t_fail" ] && [ -n "$t_sw" ]; then
                what="standby in use $(fb_ms "$t_fail" "$t_sw") ms after the failure event, ${resent:-?} frames encoded again"
            else
                what="no switch event"
            fi
            row "encoder error" hotspare n/a \
                "$what; n/a: no event for the standby's first packet, and the output goes on" ;;
        restart)
            (
                ff_live "$d/progress" $DUR -f flv -flvflags no_duration_filesize "$U" 2> "$d/log" &
                echo $! > "$d/run1.pid"
                remember $!
                wait $! 2>/dev/null
                ff_live "$d/progress2" 7 -f flv -flvflags no_duration_filesize "$U" 2>> "$d/log" &
                remember $!
                wait $! 2>/dev/null
            ) &
            pid=$!
            remember $pid
            fb_wait_frames "$d/progress" $FAIL_AT 20 || fail "$r: no progress: $(tail -n 3 "$d/log")"
            # the first run's session goes on writing to the renamed file;
            # the restart's session makes a new one
            mv "$rec/k.flv" "$rec/k.1.flv"
            fb_watch_bytes "$rec/k.flv" 100 "$d/first" 15 &
            remember $!
            p1=$(cat "$d/run1.pid")
            t_fail=$(fb_now)
            kill -9 "$p1"
            wait_end $pid "$d"
            nginx_stop "$r"
            count "$d" "$rec/k.1.flv" "$rec/k.flv"
            to=n/a
            [ -s "$d/first" ] && to=$(fb_ms "$t_fail" "$(cat "$d/first")")
            row "encoder error" "ffmpeg restart" "$to" \
                "kill -9, started again at once: a new FLV session" ;;
    esac
}

# ---- input lost -----------------------------------------------------------

# pub NAME: a live publisher, on the same live timeline as the other
pub() {
    exec ffmpeg -nostdin -v error -re -t 40 -f lavfi -i "$(fb_live_src $T0)" \
        -c:v libx264 -preset ultrafast -tune zerolatency -g 15 -c:a aac -b:a 64k -copyts \
        -f flv -flvflags no_duration_filesize "rtmp://127.0.0.1:19530/live/$1"
}

input_lost() {   # hs | wrapper
    r=in_$1 d=$T/in_$1
    mkdir -p "$d"
    nginx_start "$r" 19530 18530
    L=rtmp://127.0.0.1:19530/live
    rec=$T/$r/rec
    bg pub main 2> "$d/pub.log"
    pub_main=$BG_PID
    bg pub backup 2>> "$d/pub.log"
    pub_backup=$BG_PID
    wait_for 10 test -s "$rec/main.flv" || fail "$r: the main publisher did not start"
    wait_for 10 test -s "$rec/backup.flv" || fail "$r: the backup publisher did not start"
    case $1 in
        hs)
            HS_INPUT="{ url: $L/main, backup: { url: $L/backup }, loss_timeout: 100ms }"
            HS_OUTPUTS="      - { name: ingest, format: flv, url: $L/out, rw_timeout: 1s }"
            hs_job "$d/job.yaml"
            hs_run "$d"
            pid=$BG_PID ;;
        wrapper)
            (
                ffmpeg -nostdin -v error -progress "$d/progress" -rw_timeout 1000000 -xerror \
                    -i "$L/main" $FF_ENC -copyts -f flv -flvflags no_duration_filesize "$L/out" \
                    2> "$d/log" &
                remember $!
                wait $! 2>/dev/null
                fb_now > "$d/exited"
                ffmpeg -nostdin -v error -rw_timeout 1000000 -xerror -t 7 \
                    -i "$L/backup" $FF_ENC -copyts -f flv -flvflags no_duration_filesize "$L/out" \
                    2>> "$d/log" &
                remember $!
                wait $! 2>/dev/null
            ) &
            pid=$!
            remember $pid ;;
    esac
    fb_wait_frames "$d/progress" $FAIL_AT 20 || fail "$r: no progress: $(tail -n 3 "$d/log")"
    if [ "$1" = wrapper ]; then
        mv "$rec/out.flv" "$rec/out.1.flv"
        fb_watch_bytes "$rec/out.flv" 100 "$d/first" 15 &
        remember $!
    fi
    t_fail=$(fb_now)
    kill -9 $pub_main
    wait $pub_main 2>/dev/null
    wait_end $pid "$d"
    kill $pub_backup
    wait $pub_backup 2>/dev/null
    nginx_stop "$r"
    case $1 in
        hs)
            count "$d" "$rec/out.flv"
            det=n/a
            t=$(fb_ev_ns "$d/events" '"component":"input"' '"kind":"failure"') && det=$(fb_ms "$t_fail" "$t")
            HS_IN_NOPKT=$(fb_ev_cause "$d/events" '"component":"input"' 'no packet for' |
                sed -n 's/.*no packet for \([0-9]*\) ms.*/\1/p')
            t=$(fb_ev_ns "$d/events" '"kind":"switch"' 'input.backup takes over') &&
                sw="backup in use $(fb_ms "$t_fail" "$t") ms after the kill" || sw="no switch"
            row "input lost" hotspare "$det" \
                "detect: \"no packet for ${HS_IN_NOPKT:-?} ms\" (loss_timeout 100 ms); $sw; the output's own timeline: a repeated (filled) frame would not show" ;;
        wrapper)
            count "$d" "$rec/out.1.flv" "$rec/out.flv"
            det=n/a first=''
            [ -s "$d/exited" ] && det=$(fb_ms "$t_fail" "$(cat "$d/exited")")
            [ -s "$d/first" ] && first="first packet from the backup $(fb_ms "$t_fail" "$(cat "$d/first")") ms after the kill; "
            row "input lost" "ffmpeg rw_timeout+wrapper" "$det" \
                "detect: the reader's exit; ${first}a new FLV session" ;;
    esac
}

# ---- origin stalled -------------------------------------------------------

origin_stalled() {   # hs | tee | hls
    r=org_$1 d=$T/org_$1
    mkdir -p "$d"
    nginx_start "${r}_a" 19540 18540
    nginx_start "${r}_b" 19541 18541
    fp_start "$r" 127.0.0.1:18542 127.0.0.1:18540 || fail "$r: faultproxy did not start"
    A=http://127.0.0.1:18542/upload/s/index.m3u8 B=http://127.0.0.1:18541/upload/s/index.m3u8
    DA=$T/${r}_a/www/upload/s DB=$T/${r}_b/www/upload/s
    case $1 in
        hs)
            HS_OUTPUTS="      - name: origin
        format: hls
        url: $A
        options: { hls_time: 1, hls_list_size: 0 }
        rw_timeout: 1s
        backup: { url: $B }"
            HS_DUR=12
            hs_job "$d/job.yaml"
            hs_run "$d" ;;
        tee)
            bg ff_live "$d/progress" 12 -use_fifo 1 -fifo_options "$FIFO_OPTS" -f tee \
                "[f=hls:$HLS_OPTS:onfail=ignore]$A|[f=hls:$HLS_OPTS:onfail=ignore]$B" 2> "$d/log" ;;
        hls)
            bg ff_live "$d/progress" 12 -f hls -hls_time 1 -hls_list_size 0 -method PUT \
                -timeout 1 -ignore_io_errors 1 "$A" 2> "$d/log" ;;
    esac
    pid=$BG_PID
    fb_wait_frames "$d/progress" $FAIL_AT 20 || fail "$r: no progress: $(tail -n 3 "$d/log")"
    t_fail=$(fb_now)
    fp_cmd "$r" 'stall 6s' || fail "$r: the stall was not applied"
    wait_end $pid "$d"
    to=n/a
    [ "$1" = hs ] && to=$(hs_to_backup "$d" "$t_fail" out:origin)
    # what the stalled proxy held reaches the primary origin once the stall
    # is over; a primary left by a switch gets no ENDLIST
    [ "$to" = n/a ] && wait_for 15 grep -qs EXT-X-ENDLIST "$DA/index.m3u8"
    fp_stop "$r"
    nginx_stop "${r}_a"
    nginx_stop "${r}_b"
    count "$d" "$DA"/*.ts "$DB"/*.ts
    wait_ms=$(fb_seg_gap "$DA" "$DB")
    case $1 in
        hs)
            HS_ORG_TO=$to HS_ORG_WAIT=$wait_ms
            if [ "$to" = n/a ]; then
                what="no failure seen: the stalled origin's socket took every PUT, whose answer is never read"
            else
                what="switched to the backup origin"
            fi
            row "origin stalled" hotspare "$to" \
                "$what; longest wait for a segment $wait_ms ms" ;;
        tee)
            row "origin stalled" "ffmpeg tee+fifo" n/a \
                "no switch: the backup origin gets every segment all along (2x egress); longest wait for a segment $wait_ms ms" ;;
        hls)
            row "origin stalled" "ffmpeg hls" n/a \
                "one origin, no backup; longest wait for a segment $wait_ms ms" ;;
    esac
}

HS_OUT_TO=n/a HS_ORG_TO=n/a HS_ORG_WAIT=n/a HS_IN_NOPKT=''
: > "$T/rows"
for t in hs tee fifo; do output_killed $t; done
for t in hs restart; do encoder_error $t; done
for t in hs wrapper; do input_lost $t; done
for t in hs tee hls; do origin_stalled $t; done

echo "failover: 320x180 30 fps testsrc2 + sine, libx264 veryfast 300k GOP 1 s, aac 64k, paced;"
echo "failure at 4.0-4.5 s; frames counted over the first 9 s (270)"
awk -F'\t' 'BEGIN { printf "%-15s %-26s %5s %9s %10s  %s\n", "scenario", "tool", "lost", "max step", "to backup", "notes" }
    { printf "%-15s %-26s %5s %9s %10s  %s\n", $1, $2, $3, $4, $5, $6 }' "$T/rows"
echo "lost: frames; max step: ms (33 = one frame period, no gap); to backup: ms from the failure"
echo "to the first packet on the backup (input lost: to the detection)"

# targets, for hotspare
met() { awk -v v="$1" -v m="$2" 'BEGIN { exit !(v != "n/a" && v != "" && v + 0 <= m + 0) }' && echo met || echo NOT met; }
hs_lost=$(awk -F'\t' '$2 == "hotspare" { printf "%s%s %s", (n++ ? ", " : ""), $1, $3 }' "$T/rows")
all_zero=$(awk -F'\t' '$2 == "hotspare" && $3 != "0" { bad = 1 } END { print bad ? "NOT met" : "met" }' "$T/rows")
if [ "$HS_ORG_TO" = n/a ]; then
    org="origin stalled: NOT met (no switch; a player waited $HS_ORG_WAIT ms for a segment)"
else
    org="origin stalled $HS_ORG_TO ms: $(met "$HS_ORG_TO" 50)"
fi
echo "targets (hotspare):"
echo "  0 frames lost in every scenario: $all_zero ($hs_lost)"
echo "  first packet on a provisioned backup within 50 ms of the failure: output killed $HS_OUT_TO ms: $(met "$HS_OUT_TO" 50); $org"
echo "  input loss detected within loss_timeout (100 ms, + one frame period): no packet for ${HS_IN_NOPKT:-n/a} ms: $(met "${HS_IN_NOPKT:-n/a}" 134)"
