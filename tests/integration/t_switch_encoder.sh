#!/bin/sh
# Encoder failover: an error injected into the primary encoder of a
# rendition; the standby takes over with the frames the primary had not
# passed on. Every frame is in the outputs, timestamps monotonic, decodable.
# Once with a standby of the same settings (one continuous stream), once
# with one whose codec parameters differ: HLS marks the change with
# EXT-X-DISCONTINUITY, FLV gets a new sequence header, both still decode.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe

run_case() {  # NAME BACKUP_OPTIONS
    job "$T/$1.yaml" <<EOF
version: 1
streams:
  - name: enc
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: false }
    renditions:
      - name: main
        width: 320
        height: 180
        bitrate: 300k
        gop: 1s
        options: { preset: veryfast }
        backup: { encoder: libx264, options: $2 }
    outputs:
      - { name: hls, format: hls, url: $T/$1/index.m3u8, options: { hls_time: 1, hls_list_size: 0 } }
      - { name: flv, format: flv, url: $T/$1/rec.flv }
    standby: always
    duration: 6s
    faults:
      - { at: 2500ms, component: enc:main, fault: error }
EOF
    "$HS" run --events "$T/$1.jsonl" "$T/$1.yaml" || fail "$1: hotspare run exited $?"
    grep '"component":"enc:main"' "$T/$1.jsonl" | grep -q '"kind":"failure"' ||
        fail "$1: no failure event for enc:main"
    grep '"component":"enc:main"' "$T/$1.jsonl" | grep -q '"kind":"switch"' ||
        fail "$1: no switch event"
    for f in "$T/$1/index.m3u8" "$T/$1/rec.flv"; do
        n=$(basename "$f")
        assert_eq "$1 $n: frames" "$(probe_frames "$f" v:0)" 180
        assert_eq "$1 $n: decode errors" "$(probe_decoder_errors "$f")" 0
        assert_eq "$1 $n: non-increasing dts" "$(probe_nonmonotonic "$f" v:0)" 0
    done
    assert_le "$1 hls: largest pts step (s)" "$(probe_max_gap "$T/$1/index.m3u8" v:0)" 0.0334
    assert_le "$1 flv: largest pts step (s)" "$(probe_max_gap "$T/$1/rec.flv" v:0)" 0.0345
    probe_frame_numbers "$T/$1/rec.flv" v:0 30 > "$T/$1.frames"
    first=$(head -n 1 "$T/$1.frames")
    assert_eq "$1: frames missing" "$(frames_missing "$T/$1.frames" "$first" $((first + 179)))" 0
}

run_case same "{ preset: veryfast }"
grep -q '#EXT-X-DISCONTINUITY' "$T/same/index.m3u8" &&
    fail "same parameters: a discontinuity was marked"

run_case differ "{ preset: ultrafast }"
grep -q '#EXT-X-DISCONTINUITY' "$T/differ/index.m3u8" ||
    fail "different parameters: no EXT-X-DISCONTINUITY in $(cat "$T/differ/index.m3u8")"
grep -c '#EXT-X-ENDLIST' "$T/differ/index.m3u8" | grep -q '^1$' || fail "one ENDLIST expected"
pass
