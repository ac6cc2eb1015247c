#!/bin/sh
# A two-rung ladder with audio to HLS: every frame of the input in every
# rendition, timestamps monotonic with no gap above one frame period, the
# GOP asked for, both renditions in the multivariant playlist, audio in
# every variant and in sync with the video.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe

job "$T/job.yaml" <<EOF
version: 1
streams:
  - name: ladder
    input:
      url: "$(lavfi_src 320 180 30)"
      format: lavfi
      realtime: false
    renditions:
      - { name: hi, width: 320, height: 180, bitrate: 400k, gop: 1s, options: { preset: veryfast } }
      - { name: lo, width: 160, height: 90, bitrate: 150k, gop: 30, options: { preset: veryfast } }
    outputs:
      - name: web
        format: hls
        url: $T/out/index.m3u8
        options: { hls_time: 1, hls_list_size: 0 }
    duration: 5s
EOF

"$HS" run --events "$T/events.jsonl" "$T/job.yaml" || fail "hotspare run exited $?"

master=$T/out/index.m3u8
[ -f "$master" ] || fail "no multivariant playlist at $master"
assert_eq "variants in the multivariant playlist" "$(grep -c '^#EXT-X-STREAM-INF' "$master")" 2
grep -q 'RESOLUTION=320x180' "$master" || fail "320x180 variant missing: $(cat "$master")"
grep -q 'RESOLUTION=160x90' "$master" || fail "160x90 variant missing"
grep -q '^hi.m3u8$' "$master" || fail "hi.m3u8 not listed"
grep -q '^lo.m3u8$' "$master" || fail "lo.m3u8 not listed"

for r in hi lo; do
    pl=$T/out/$r.m3u8
    grep -q '#EXT-X-ENDLIST' "$pl" || fail "$r: playlist not closed"
    assert_eq "$r: video frames" "$(probe_frames "$pl" v:0)" 150
    assert_eq "$r: decode errors" "$(probe_errors "$pl")" 0
    assert_eq "$r: non-increasing dts" "$(probe_nonmonotonic "$pl" v:0)" 0
    assert_le "$r: largest pts step (s)" "$(probe_max_gap "$pl" v:0)" 0.0334
    assert_eq "$r: GOP lengths (frames)" "$(probe_gops "$pl" v:0)" 30
    assert_eq "$r: streams" "$(probe_streams "$pl")" "video,audio"
    # audio in sync: it starts and ends within one frame period of the video.
    # (AAC adds 1024 samples of priming before the start and pads its last
    # frame: both fit in the frame period, so the check holds as stated.)
    vs=$(probe_first_pts "$pl" v:0); as=$(probe_first_pts "$pl" a:0)
    d=$(awk -v a="$as" -v b="$vs" 'BEGIN { d = a - b; if (d < 0) d = -d; print d }')
    assert_le "$r: audio/video start difference (s)" "$d" 0.0334
    ve=$(probe_end "$pl" v:0); ae=$(probe_end "$pl" a:0)
    d=$(awk -v a="$ae" -v b="$ve" 'BEGIN { d = a - b; if (d < 0) d = -d; print d }')
    assert_le "$r: audio/video end difference (s)" "$d" 0.0334
done
grep -q '"kind":"failure"' "$T/events.jsonl" && fail "unexpected failure events: $(cat "$T/events.jsonl")"
pass
