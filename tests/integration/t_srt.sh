#!/bin/sh
# SRT, end to end with real peers: ffmpeg publishing, srt-live-transmit
# relaying, hotspare as listener and as caller on both sides.
#
#   1. input, publisher killed: the primary input is an SRT listener fed
#      by an ffmpeg caller; the backup an SRT caller to a relay (listener)
#      fed by a second ffmpeg. The primary publisher is killed: the
#      backup takes over within loss_timeout and the output misses no
#      frame.
#   2. input, publisher hung (SIGSTOP): SRT keeps the connection (until
#      its peer idle timeout, 5 s), so no error comes; the age of the last
#      packet gives it away within loss_timeout, and nothing is lost.
#   3. output, relay hung: the primary output is an SRT caller to a relay
#      (listener) writing a file; the backup an SRT listener (with a
#      passphrase) read by a second relay. The first relay is stopped
#      (SIGSTOP): the output is failed within stall_timeout (1 s) and the
#      backup replays what the first may not have passed on: every frame
#      reached one relay or the other. No secret shows in logs or events.
. "$(dirname "$0")/../lib/common.sh"
need ffmpeg ffprobe srt-live-transmit
ffmpeg -hide_banner -protocols 2>/dev/null | grep -qx ' *srt' || skip "ffmpeg is built without libsrt"
. "$TOP/tests/lib/srt.sh"

P=19450   # 19450..19454
PARTS=${SRT_PARTS:-"killed hung out"}   # to run one part alone
STREAMID='#!::u=hs,r=live/feed-k3y,m=publish'
PASS=s3cret-srt-pass

# hs_run NAME: hotspare runs $T/NAME.yaml, its log in $T/NAME.log
hs_run() {
    bg sh -c 'exec "$1" run --events "$2.jsonl" "$2.yaml" > "$2.log" 2>&1' hs_run "$HS" "$T/$1"
}

# --- 1 and 2: input ----------------------------------------------------------

# input_run NAME ACTION: the two sources, hotspare reading them, ACTION
# (kill -9 / kill -STOP) on the primary publisher 3 s into the output.
input_run() {
    job "$T/$1.yaml" <<EOF
version: 1
streams:
  - name: live
    input:
      url: "srt://127.0.0.1:$P?mode=listener"
      options: { analyzeduration: 500000 }   # else 5 s of live data, read ahead
      backup: { url: "srt://127.0.0.1:$((P + 1))?mode=caller&streamid=$STREAMID", options: { analyzeduration: 500000 } }
      loss_timeout: 300ms
    renditions:
      - { name: main, width: 320, height: 180, fps: 30, bitrate: 300k, gop: 1s, options: { preset: veryfast } }
    outputs:
      - { name: rec, format: mpegts, url: $T/$1/out.ts }
    switch_back: never
    duration: 12s     # an input that started late begins with a backlog
EOF
    if [ "$2" = -9 ]; then    # once: the job is the same
        "$HS" check "$T/$1.yaml" > "$T/$1.check" 2>&1 || fail "$1: hotspare check: $(cat "$T/$1.check")"
    fi
    # the backup: ffmpeg -> UDP -> relay, listening for hotspare's call
    srt_relay "udp://127.0.0.1:$((P + 2))" "srt://127.0.0.1:$((P + 1))?mode=listener"
    RELAY=$BG_PID
    wait_for 5 udp_bound $((P + 1)) || fail "$1: the relay does not listen"
    srt_publish "udp://127.0.0.1:$((P + 2))?pkt_size=1316" smptebars
    BACKPUB=$BG_PID

    hs_run "$1"
    HSPID=$BG_PID
    wait_for 10 udp_bound $P || fail "$1: hotspare does not listen on $P"
    srt_publish "srt://127.0.0.1:$P?mode=caller" testsrc2
    PUB=$BG_PID
    wait_for 15 grep -q '"component":"out:rec","kind":"start"' "$T/$1.jsonl" ||
        fail "$1: no output after 15 s: $(cat "$T/$1.log")"
    sleep 3
    alive "$PUB" || fail "$1: the primary publisher ended by itself: $(cat "$T/$1.log")"
    grep '"kind":"failure"' "$T/$1.jsonl" && fail "$1: a failure before the test acted"
    ACT_MS=$(now_ms)
    kill $2 "$PUB"
    say "$1: primary publisher: kill $2"
    wait "$HSPID"; rc=$?
    [ "$2" = -STOP ] && kill -CONT "$PUB"
    kill "$PUB" "$BACKPUB" "$RELAY" 2>/dev/null
    [ $rc = 0 ] || fail "$1: hotspare exited $rc: $(tail -n 5 "$T/$1.log")"

    grep '"component":"input"' "$T/$1.jsonl" | grep -q '"kind":"failure"' ||
        fail "$1: no failure event for the input: $(cat "$T/$1.jsonl")"
    grep '"kind":"switch"' "$T/$1.jsonl" | grep -q 'input.backup takes over' ||
        fail "$1: no switch to the backup: $(cat "$T/$1.jsonl")"
    ms=$(grep -o 'no packet for [0-9]* ms' "$T/$1.jsonl" | head -n 1 | awk '{print $4}')
    [ -n "$ms" ] || fail "$1: the loss was not noticed from the packets' age: $(cat "$T/$1.jsonl")"
    assert_le "$1: time from the last packet to the switch (ms)" "$ms" 334
    # from the signal: SRT hands a packet over its latency (120 ms) after
    # it was sent, then loss_timeout (300 ms), and the shared machine
    sw=$(grep '"kind":"switch"' "$T/$1.jsonl" | head -n 1)
    ms=$(($(event_ms "$sw") - ACT_MS))
    assert_ge "$1: time from the signal to the switch (ms)" $ms 0
    assert_le "$1: time from the signal to the switch (ms)" $ms 800

    out=$T/$1/out.ts
    assert_eq "$1: decode errors" "$(probe_errors "$out")" 0
    assert_eq "$1: non-increasing dts" "$(probe_nonmonotonic "$out" v:0)" 0
    assert_le "$1: largest pts step (s)" "$(probe_max_gap "$out" v:0)" 0.0345
    probe_frame_numbers "$out" v:0 30 > "$T/$1.frames"
    first=$(head -n 1 "$T/$1.frames"); last=$(tail -n 1 "$T/$1.frames")
    assert_eq "$1: frames missing between the first and the last" \
        "$(frames_missing "$T/$1.frames" "$first" "$last")" 0
    assert_ge "$1: frames in the 12 s" "$(wc -l < "$T/$1.frames")" 359
    grep '"component":"input' "$T/$1.jsonl" | grep '"kind":"failure"' | grep -qv 'no packet for' &&
        fail "$1: an input failed otherwise than by the packets' age: $(grep '"kind":"failure"' "$T/$1.jsonl")"
    return 0
    assert_eq "$1: streams" "$(probe_streams "$out")" "video,audio"
}

has() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

has killed && input_run srt_killed -9
has hung && input_run srt_hung -STOP
has out || pass

# --- 3: output ---------------------------------------------------------------

mkdir -p "$T/relay"
job "$T/srt_out.yaml" <<EOF
version: 1
streams:
  - name: live
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: true }
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: veryfast } }
    outputs:
      - name: contrib
        format: mpegts
        url: "srt://127.0.0.1:$((P + 3))?mode=caller"
        backup: { url: "srt://127.0.0.1:$((P + 4))?mode=listener&passphrase=$PASS" }
    standby: always
    switch_back: never
    duration: 8s
EOF
"$HS" check "$T/srt_out.yaml" > "$T/srt_out.check" 2>&1 || fail "hotspare check: $(cat "$T/srt_out.check")"
srt_relay "srt://127.0.0.1:$((P + 3))?mode=listener" file://con "$T/relay/primary.ts"
RELAY1=$BG_PID
wait_for 5 udp_bound $((P + 3)) || fail "the primary relay does not listen"

hs_run srt_out
HSPID=$BG_PID
wait_for 20 udp_bound $((P + 4)) || fail "hotspare does not listen on $((P + 4)): $(cat "$T/srt_out.log")"
srt_relay "srt://127.0.0.1:$((P + 4))?mode=caller&passphrase=$PASS" file://con "$T/relay/backup.ts"
RELAY2=$BG_PID
wait_for 10 test -s "$T/relay/primary.ts" || fail "the primary relay got nothing"
sleep 3
STOP_MS=$(now_ms)
kill -STOP "$RELAY1"
say "stopped the primary relay"
wait "$HSPID"; rc=$?
kill -9 "$RELAY1"          # what it held never reaches anyone
sleep 0.5                  # the backup relay writes out its latency's worth
kill "$RELAY2"
[ $rc = 0 ] || fail "hotspare exited $rc: $(tail -n 5 "$T/srt_out.log")"

fl=$(grep '"component":"out:contrib"' "$T/srt_out.jsonl" | grep '"kind":"failure"' | head -n 1)
[ -n "$fl" ] || fail "the primary output was never failed: $(cat "$T/srt_out.jsonl")"
sw=$(grep '"component":"out:contrib"' "$T/srt_out.jsonl" | grep '"kind":"switch"' | head -n 1)
echo "$sw" | grep -q 'out:contrib.backup takes over' || fail "the backup did not take over: $sw"
ms=$(($(event_ms "$fl") - STOP_MS))
assert_ge "hung relay noticed after (ms)" $ms 0
assert_le "hung relay noticed after (ms)" $ms 1000

prim=$T/relay/primary.ts
back=$T/relay/backup.ts
assert_eq "backup: decode errors" "$(probe_errors "$back")" 0
assert_eq "backup: non-increasing dts" "$(probe_nonmonotonic "$back" v:0)" 0
assert_le "backup: largest pts step (s)" "$(probe_max_gap "$back" v:0)" 0.0345
assert_eq "backup: streams" "$(probe_streams "$back")" "video,audio"
probe_frame_numbers "$prim" v:0 30 > "$T/prim.frames"
probe_frame_numbers "$back" v:0 30 > "$T/back.frames"
sort -n -u "$T/prim.frames" "$T/back.frames" > "$T/frames"
first=$(head -n 1 "$T/frames")
last=$(tail -n 1 "$T/back.frames")
say "primary relay: frames $(head -n 1 "$T/prim.frames")..$(tail -n 1 "$T/prim.frames"); backup relay: $(head -n 1 "$T/back.frames")..$last"
assert_le "the first frame's number" "$first" 3
assert_eq "frames that reached neither relay" "$(frames_missing "$T/frames" "$first" "$last")" 0
assert_eq "the backup's last frame" "$last" $((first + 239))

# secrets: the streamid and the passphrase appear in no log and no event
for f in "$T"/*.jsonl "$T"/*.log "$T"/*.check; do
    grep -q -e "$PASS" -e 'feed-k3y' "$f" && fail "a secret in $(basename "$f"): $(grep -e "$PASS" -e 'feed-k3y' "$f" | head -n 1)"
done
pass
