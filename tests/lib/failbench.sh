# tests/lib/failbench.sh: helpers for the failover benchmark in tests/bench/
# (POSIX sh), sourced after common.sh (T, bg, wait_for, probe_*). Times are
# wall clock (CLOCK_REALTIME) in ns, the clock of date +%s%N and of the
# "time" of hotspare's --events lines.
#
#   fb_now                          now, ns
#   fb_ms FROM_NS TO_NS             TO - FROM in ms, one decimal
#   fb_live_src T0_US               an ffmpeg lavfi graph (testsrc2 + sine,
#                                   320x180 30 fps) whose timestamps are the
#                                   wall clock at capture, in 1/30 s steps
#                                   counted from T0_US: frame N of a process
#                                   started later is frame N of the same live
#                                   timeline, so a restarted ffmpeg goes on
#                                   where the clock is, not at 0 (use with
#                                   -re and -copyts)
#   fb_nginx_kill NAME              nginx_kill NAME (tests/lib/nginx.sh), and
#                                   FB_KILLED = the time its worker, the
#                                   process holding the connections, was sent
#                                   SIGKILL
#   fb_wait_frames PROGRESS N SECS  wait until a progress file (ffmpeg's
#                                   -progress, hotspare's --progress) says
#                                   frame >= N
#   fb_wait_exit PID SECS           wait for a child to exit; kill -9 it
#                                   after SECS (status 1 then)
#   fb_watch_bytes FILE MIN OUT SECS
#                                   (run in the background) write to OUT the
#                                   time FILE first holds MIN bytes, polled
#                                   about every 10 ms (a stat, a 5 ms
#                                   sleep); nothing after SECS
#   fb_ev_ns EVENTS WORD...         time of the first event line holding
#                                   every WORD (fixed strings), ns
#   fb_ev_cause EVENTS WORD...      the "cause" of that line
#   fb_frames OUT FILE...           the union of the frame numbers of every
#                                   video packet in FILEs (flv, ts, m3u8)
#   fb_lost FRAMES FIRST N          frames of FIRST..FIRST+N-1 not in FRAMES
#   fb_max_step FRAMES FIRST N      largest step, in ms, between consecutive
#                                   frames of FRAMES in that window, its end
#                                   counted as a frame (a stream that never
#                                   comes back has its gap run to the end);
#                                   one frame period (33 ms) is no gap
#   fb_seg_gap DIR...               the longest wait, in ms, of a player for
#                                   the next HLS segment: segment n is there
#                                   once it and every earlier one reached one
#                                   of the origins DIRs (file mtime, earliest
#                                   origin per segment); about hls_time when
#                                   all is well

FB_FPS=30

fb_now() { date +%s%N; }

fb_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }

fb_live_src() {
    _off="round((RTCSTART-$1)*3e-5)"
    echo "testsrc2=size=320x180:rate=$FB_FPS,setpts=($_off+N)/$FB_FPS/TB[out0];sine=frequency=1000:sample_rate=48000,asetpts=$_off/$FB_FPS/TB+N/SR/TB[out1]"
}

fb_nginx_kill() {
    eval "_p=\$NGINX_PID_$1"
    kill -STOP "$_p" 2>/dev/null
    _w=$(pgrep -P "$_p")
    FB_KILLED=$(fb_now)
    kill -9 $_w "$_p" 2>/dev/null
    wait "$_p" 2>/dev/null
}

_fb_frames_at_least() {
    awk -F= -v n="$2" '$1 == "frame" && $2 + 0 >= n { f = 1 } END { exit !f }' "$1" 2>/dev/null
}
fb_wait_frames() { wait_for "$3" _fb_frames_at_least "$1" "$2"; }

# a child the shell has not reaped still answers kill -0: read its state
_fb_gone() {
    _st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 0
    [ -z "$_st" ] || [ "$_st" = Z ]
}
fb_wait_exit() {
    wait_for "$2" _fb_gone "$1" && return 0
    kill -9 "$1" 2>/dev/null
    return 1
}

fb_watch_bytes() {
    _n=$(($4 * 200))
    while [ $_n -gt 0 ]; do
        if [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ]; then
            fb_now > "$3"
            return 0
        fi
        sleep 0.005
        _n=$((_n - 1))
    done
    return 1
}

_fb_ev_line() {
    _f=$1; shift
    _l=$(cat "$_f")
    for _w in "$@"; do
        _l=$(printf '%s\n' "$_l" | grep -F -- "$_w")
    done
    printf '%s\n' "$_l" | head -n 1
}
fb_ev_ns() {
    _t=$(_fb_ev_line "$@" | sed -n 's/^{"time":"\([^"]*\)".*/\1/p')
    [ -n "$_t" ] && date -d "$_t" +%s%N
}
fb_ev_cause() { _fb_ev_line "$@" | sed -n 's/.*"cause":"\([^"]*\)".*/\1/p'; }

fb_frames() {
    _o=$1; shift
    for _f in "$@"; do
        [ -s "$_f" ] && probe_frame_numbers "$_f" v:0 $FB_FPS
    done | sort -n -u > "$_o"
}

fb_lost() { frames_missing "$1" "$2" $(($2 + $3 - 1)); }

fb_max_step() {
    awk -v a="$2" -v n="$3" -v fps=$FB_FPS '
        $1 >= a && $1 < a + n { if (seen) { d = $1 - p; if (d > m) m = d } p = $1; seen = 1 }
        END {
            if (!seen) { print "n/a"; exit }
            d = a + n - p; if (d > m) m = d
            printf "%.0f\n", m * 1000 / fps
        }' "$1"
}

fb_seg_gap() {
    for _d in "$@"; do
        for _f in "$_d"/*.ts; do
            [ -f "$_f" ] && stat -c '%n %.9Y' "$_f"
        done
    done | sed 's|.*[^0-9]\([0-9][0-9]*\)\.ts |\1 |' | sort -k1,1n -k2,2g |
        awk 'NR > 1 && $1 == s { next }
             { s = $1; a = $2 > r ? $2 : r; if (NR > 1 && a - r > m) m = a - r; r = a }
             END { printf "%.0f\n", m * 1000 }'
}
