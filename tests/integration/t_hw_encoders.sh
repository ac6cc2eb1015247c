#!/bin/sh
# Hardware encoders that cannot open here (no NVIDIA driver, no VAAPI render
# node) are failure events naming the rendition, never a crash; the software
# rendition beside them and its output go on with every frame; an output
# that carries only a hardware rendition fails alone.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe

job "$T/job.yaml" <<EOF
version: 1
streams:
  - name: hw
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: false }
    renditions:
      - { name: sw, width: 320, height: 180, bitrate: 300k, options: { preset: veryfast } }
      - { name: nvenc, width: 320, height: 180, encoder: h264_nvenc, bitrate: 300k, device: "0" }
      - { name: vaapi, width: 320, height: 180, encoder: h264_vaapi, bitrate: 300k, device: /dev/dri/renderD128 }
    outputs:
      - { name: mixed, format: hls, url: $T/out/index.m3u8, renditions: [sw, nvenc, vaapi], options: { hls_list_size: 0 } }
      - { name: nvonly, format: mp4, url: $T/out/nv.mp4, renditions: [nvenc] }
    duration: 3s
EOF

# with a GPU this test does not apply: it checks the failure path
[ -e /dev/nvidiactl ] && skip "an NVIDIA device exists here"
[ -e /dev/dri/renderD128 ] && skip "a DRM render node exists here"

"$HS" run --events "$T/events.jsonl" "$T/job.yaml"; rc=$?
cat "$T/events.jsonl"
assert_eq "exit status" $rc 0
for r in nvenc vaapi; do
    grep "\"component\":\"enc:$r\"" "$T/events.jsonl" | grep -q '"kind":"failure"' ||
        fail "no failure event for enc:$r"
done
grep "\"component\":\"out:nvonly\"" "$T/events.jsonl" | grep -q '"kind":"failure"' ||
    fail "out:nvonly should fail: its only rendition did not start"
assert_eq "the software rendition's frames" "$(probe_frames "$T/out/sw.m3u8" v:0)" 90
grep -q 'sw.m3u8' "$T/out/index.m3u8" || fail "sw missing from the multivariant playlist"
pass
