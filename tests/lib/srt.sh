# tests/lib/srt.sh: SRT peers for integration tests (sourced after common.sh).
#
#   srt_publish URL SRC     ffmpeg publishing SRC (testsrc2, smptebars, ...)
#                           160x90 at 30 fps (GOP 1 s) with a tone, MPEG-TS,
#                           to URL (srt://...?mode=caller, or udp://...),
#                           encoded live (x264 ultrafast, zerolatency: cheap,
#                           and packets leave as frames are made); its pid
#                           in BG_PID
#   srt_relay IN OUT [FILE] srt-live-transmit from IN to OUT (FILE: its
#                           stdout, for OUT = file://con); pid in BG_PID
#   alive PID               the process runs (not ended, not a zombie)
#   udp_bound PORT          succeeds once something listens on UDP PORT
#   event_ms LINE           an event's wall-clock time, ms since the epoch
#   now_ms                  the same clock, now

srt_publish() {
    bg ffmpeg -hide_banner -loglevel error -nostdin -re \
        -f lavfi -i "$2=size=160x90:rate=30" -f lavfi -i sine=frequency=1000:sample_rate=48000 \
        -c:v libx264 -preset ultrafast -tune zerolatency -g 30 -b:v 300k -c:a aac -f mpegts "$1"
}

srt_relay() {
    if [ $# -ge 3 ]; then
        bg sh -c 'exec srt-live-transmit -q "$1" "$2" > "$3"' srt_relay "$1" "$2" "$3"
    else
        bg srt-live-transmit -q "$1" "$2"
    fi
}

alive() {
    [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"
}

udp_bound() {
    _hex=$(printf ':%04X ' "$1")
    grep -qi "$_hex" /proc/net/udp /proc/net/udp6 2>/dev/null
}

event_ms() {
    _t=$(echo "$1" | sed 's/.*"time":"\([^"]*\)".*/\1/')
    date -d "$_t" +%s%3N
}

now_ms() { date +%s%3N; }
