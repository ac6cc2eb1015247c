#!/bin/sh
# bench_detect: how soon a hung or unreachable peer is noticed, and what it
# costs, hotspare against ffmpeg with -rw_timeout, on the same peers in one
# run. 320x180 30 fps x264 ultrafast CBR 4 Mbit/s (a noise source, so the
# rate is real), the peer hung 5 s in:
#
#   rtmp hung    a real nginx-rtmp ingest SIGSTOPped (tests/lib/hung.sh)
#   http hung    a real nginx WebDAV origin taking HLS PUTs (hls_time 1),
#                SIGSTOPped
#   link down    an nginx-rtmp ingest in a network namespace whose veth
#                goes down on the far side (no reset ever comes back);
#                skipped where namespaces cannot be made
#
# hotspare: the output with a backup to another nginx, standby always,
# stall_timeout 1 s (the default). ffmpeg: the same encode pushed to the
# primary alone with -rw_timeout set to its best value, the smallest of
# 100 ms, 250 ms, 500 ms, 1 s, 2 s, 5 s that does not fail a healthy 6 s
# run to the same peer (a smaller one fails on a healthy peer, so nobody
# would run it).
#
# Columns:
#   detect ms   from the hang (wall clock here) to the notice: hotspare's
#               failure event; ffmpeg's exit (">20000": still running 20 s
#               later, killed)
#   lost        frames that reached no viewer: hotspare, frame numbers in
#               neither what the hung peer held when it stopped nor the
#               backup; ffmpeg, at least the frames it wrote after the hang
#               until it noticed (the peer never passed them on; a restart
#               on another URL adds its own start-up)
#   rw_timeout  the value ffmpeg ran with
. "$(dirname "$0")/../lib/common.sh"
need ffprobe
need ffmpeg
. "$TOP/tests/lib/nginx.sh"
. "$TOP/tests/lib/hung.sh"
trap 'nginx_kill pa; nginx_kill oa; netns_cleanup; cleanup' EXIT

SRC="testsrc2=size=320x180:rate=30,noise=alls=60:allf=t[out0];sine=frequency=1000:sample_rate=48000[out1]"
REND='{ name: main, width: 320, height: 180, bitrate: 4M, gop: 1s, options: { preset: ultrafast, x264-params: "nal-hrd=cbr", maxrate: 4M, bufsize: 2M } }'
SECS=12
FRAMES=$((SECS * 30))
RW_CANDIDATES="100000 250000 500000 1000000 2000000 5000000"

ffmpeg_push() {   # SECS FORMAT URL RW_US: the same encode, in the background (BG_PID)
    case $2 in
    hls) _bd_fmt="-f hls -hls_time 1 -hls_list_size 0 -method PUT" ;;
    *)   _bd_fmt="-f flv" ;;
    esac
    bg ffmpeg -nostdin -v error -re -f lavfi -t "$1" \
        -i "testsrc2=size=320x180:rate=30,noise=alls=60:allf=t" \
        -f lavfi -t "$1" -i "sine=frequency=1000:sample_rate=48000" \
        -c:v libx264 -preset ultrafast -b:v 4M -maxrate 4M -bufsize 2M -x264-params nal-hrd=cbr \
        -g 30 -c:a aac -rw_timeout "$4" $_bd_fmt "$3" 2>> "$T/ffmpeg.log"
}

# best_rw FORMAT URL: the smallest candidate a healthy 6 s run survives
best_rw() {
    for _bd_rw in $RW_CANDIDATES; do
        ffmpeg_push 6 "$1" "$2" "$_bd_rw"
        wait "$BG_PID" && { echo "$_bd_rw"; return; }
    done
    echo none
}

# ffmpeg_detect FORMAT URL RW HANG: ms from the hang to ffmpeg's exit
ffmpeg_detect() {
    [ "$3" = none ] && { echo "n/a"; $4; return; }
    ffmpeg_push 30 "$1" "$2" "$3"
    _bd_p=$BG_PID
    sleep 5
    _bd_t0=$(date +%s.%N)
    $4
    _bd_n=0
    while kill -0 "$_bd_p" 2> /dev/null && [ $_bd_n -lt 200 ]; do sleep 0.1; _bd_n=$((_bd_n + 1)); done
    if kill -0 "$_bd_p" 2> /dev/null; then
        kill -9 "$_bd_p"
        echo ">20000"
    else
        ms_between "$_bd_t0" "$(date +%s.%N)"
    fi
}

# hotspare_run NAME FORMAT PRIMARY BACKUP HANG HELD: runs the job, hangs the
# primary 5 s in; HELD copies what the primary holds when it stops into
# $T/NAME.held (a file or a directory of segments). Sets DETECT and LOST.
hotspare_run() {
    job "$T/$1.yaml" <<EOF
version: 1
streams:
  - name: live
    input: { url: "$SRC", format: lavfi, realtime: true }
    renditions:
      - $REND
    outputs:
      - name: out
        format: $2
        url: $3
        options: { hls_time: 1, hls_list_size: 0 }
        backup: { url: $4 }
    standby: always
    switch_back: never
    duration: ${SECS}s
EOF
    [ "$2" = flv ] && sed -i '/hls_time/d' "$T/$1.yaml"
    bg "$HS" -v error run --events "$T/$1.events" "$T/$1.yaml" 2> "$T/$1.log"
    _bd_hs=$BG_PID
    sleep 5
    _bd_t0=$(date +%s.%N)
    $5
    sleep 0.2
    $6
    wait "$_bd_hs"
    _bd_tf=$(event_epoch "$T/$1.events" out:out failure)
    DETECT=$([ -n "$_bd_tf" ] && ms_between "$_bd_t0" "$_bd_tf" || echo "none")
}

lost_flv() {   # HELD BACKUP
    { probe_frame_numbers "$1" v:0 30; probe_frame_numbers "$2" v:0 30; } | sort -n -u > "$T/frames"
    frames_missing "$T/frames" "$(head -n 1 "$T/frames")" $(($(head -n 1 "$T/frames") + FRAMES - 1))
}

printf '%-10s | %-9s | %-6s | %-10s | %-9s | %s\n' scenario "hotspare" "" "ffmpeg" "" ""
printf '%-10s | %-9s | %-6s | %-10s | %-9s | %s\n' "" "detect ms" "lost" "rw_timeout" "detect ms" "lost (at least)"
row() { printf '%-10s | %-9s | %-6s | %-10s | %-9s | %s\n' "$@"; }
ff_lost() { case $1 in ">"*) echo ">600" ;; n/a) echo "n/a" ;; *) echo $(($1 * 30 / 1000)) ;; esac; }
rw_ms() { [ "$1" = none ] && echo "none passes" || echo "$(($1 / 1000)) ms"; }

nginx_start pb 19402 18202

# --- rtmp hung --------------------------------------------------------------------
nginx_start pa 19401 18201
hotspare_run rtmp flv rtmp://127.0.0.1:19401/live/h rtmp://127.0.0.1:19402/live/h \
    "stop_nginx pa" "cp $T/pa/rec/h.flv $T/rtmp.held"
LOST=$(lost_flv "$T/rtmp.held" "$T/pb/rec/h.flv")
nginx_kill pa
nginx_start pa 19401 18201
RW=$(best_rw flv rtmp://127.0.0.1:19401/live/best)
FD=$(ffmpeg_detect flv rtmp://127.0.0.1:19401/live/f "$RW" "stop_nginx pa")
row "rtmp hung" "$DETECT" "$LOST" "$(rw_ms "$RW")" "$FD" "$(ff_lost "$FD")"
nginx_kill pa

# --- http hung --------------------------------------------------------------------
nginx_start oa 19403 18203
hotspare_run http hls http://127.0.0.1:18203/upload/h/index.m3u8 http://127.0.0.1:18202/upload/h/index.m3u8 \
    "stop_nginx oa" "eval mkdir -p $T/http.held && cp $T/oa/www/upload/h/index*.ts $T/http.held/"
set -- $(origins_frames "$T/http.held" "$T/pb/www/upload/h/index.m3u8" "$T/http.frames")
LOST=$(frames_missing "$T/http.frames" "$1" $(($1 + FRAMES - 1)))
nginx_kill oa
nginx_start oa 19403 18203
RW=$(best_rw hls http://127.0.0.1:18203/upload/best/index.m3u8)
FD=$(ffmpeg_detect hls http://127.0.0.1:18203/upload/f/index.m3u8 "$RW" "stop_nginx oa")
row "http hung" "$DETECT" "$LOST" "$(rw_ms "$RW")" "$FD" "$(ff_lost "$FD")"
nginx_kill oa

# --- link down ----------------------------------------------------------------------
if netns_up && netns_nginx na 19405 18205; then
    hotspare_run link flv "rtmp://$HUNG_PEER:19405/live/h" rtmp://127.0.0.1:19402/live/l \
        netns_link_down "cp $T/na/rec/h.flv $T/link.held"
    LOST=$(lost_flv "$T/link.held" "$T/pb/rec/l.flv")
    netns_cleanup
    netns_up && netns_nginx na 19405 18205
    RW=$(best_rw flv "rtmp://$HUNG_PEER:19405/live/best")
    FD=$(ffmpeg_detect flv "rtmp://$HUNG_PEER:19405/live/f" "$RW" netns_link_down)
    row "link down" "$DETECT" "$LOST" "$(rw_ms "$RW")" "$FD" "$(ff_lost "$FD")"
else
    row "link down" "skipped: no network namespace here" "" "" "" ""
fi
