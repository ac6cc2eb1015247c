#!/bin/sh
# Content failures (MediaLive-style input failover conditions): the input
# turns black, or silent, or its picture freezes; once that has lasted the
# probe's duration the backup source takes over, and the output goes on
# without a gap.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe

run_case() {  # NAME PRIMARY_GRAPH PROBES WHAT
    job "$T/$1.yaml" <<EOF
version: 1
streams:
  - name: probed
    input:
      url: "$2"
      format: lavfi
      realtime: true
      probes: $3
      backup: { url: "smptebars=size=320x180:rate=30[out0];sine=frequency=440:sample_rate=48000[out1]", format: lavfi }
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: veryfast } }
    outputs:
      - { name: hls, format: hls, url: $T/$1/index.m3u8, options: { hls_time: 1, hls_list_size: 0 } }
    switch_back: never
    duration: 6s
EOF
    "$HS" run --events "$T/$1.jsonl" "$T/$1.yaml" || fail "$1: exit status $?"
    grep '"component":"input"' "$T/$1.jsonl" | grep '"kind":"failure"' | grep -q "$4" ||
        fail "$1: no content failure '$4': $(cat "$T/$1.jsonl")"
    grep '"kind":"switch"' "$T/$1.jsonl" | grep -q "input.backup takes over" ||
        fail "$1: no switch to the backup"
    at=$(grep '"kind":"switch"' "$T/$1.jsonl" | grep -o 'at [0-9.]* s' | head -n 1 | awk '{print $2}')
    say "$1: the backup took over at $at s"
    out=$T/$1/index.m3u8
    assert_eq "$1: decode errors" "$(probe_errors "$out")" 0
    assert_eq "$1: non-increasing dts" "$(probe_nonmonotonic "$out" v:0)" 0
    assert_le "$1: largest pts step (s)" "$(probe_max_gap "$out" v:0)" 0.0334
    assert_ge "$1: frames" "$(probe_frames "$out" v:0)" 179
}

SRC="size=320x180:rate=30"
# black from 2 s on; probe black 1 s: switch at about 3 s
run_case black \
    "testsrc2=$SRC,drawbox=c=black:t=fill:enable='gte(t,2)'[out0];sine=frequency=1000:sample_rate=48000[out1]" \
    "{ black: 1s }" "black video"
# silent from 2 s on; probe silence 1s
run_case silence \
    "testsrc2=$SRC[out0];sine=frequency=1000:sample_rate=48000,volume=volume=0:enable='gte(t,2)'[out1]" \
    "{ silence: 1s }" "silent audio"
# the picture stops moving at 2 s (a static frame from then on)
run_case freeze \
    "testsrc2=$SRC,trim=end_frame=60,loop=loop=-1:size=1:start=59[out0];sine=frequency=1000:sample_rate=48000[out1]" \
    "{ freeze: 1s }" "frozen video"
pass
