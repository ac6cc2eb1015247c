#!/bin/sh
# HLS over HTTP PUT to two origins (private nginx with WebDAV); the
# primary origin is killed mid-stream. Segments go on at the backup origin
# from the keyframe the cache starts at, its playlist is valid (closed,
# decodable, monotonic, no gap), and every frame is on one origin or the
# other.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe
. "$TOP/tests/lib/nginx.sh"

nginx_start origina 19380 18110
nginx_start originb 19381 18111

job "$T/job.yaml" <<EOF
version: 1
streams:
  - name: news
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: true }
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: veryfast } }
    outputs:
      - name: origin
        format: hls
        url: http://127.0.0.1:18110/upload/news/index.m3u8
        options: { hls_time: 1, hls_list_size: 0 }
        rw_timeout: 2s
        backup: { url: http://127.0.0.1:18111/upload/news/index.m3u8 }
    switch_back: never
    duration: 8s
EOF

A=$T/origina/www/upload/news
B=$T/originb/www/upload/news
bg "$HS" run --events "$T/events.jsonl" "$T/job.yaml"
HSPID=$BG_PID
wait_for 15 grep -q '^index2.ts' "$A/index.m3u8" || fail "the primary origin got no segments"
nginx_kill origina
say "killed the primary origin"
wait "$HSPID"; rc=$?
cat "$T/events.jsonl"
assert_eq "exit status" $rc 0
grep '"kind":"switch"' "$T/events.jsonl" | grep -q 'out:origin.backup takes over' ||
    fail "no switch to the backup origin"

pl=$B/index.m3u8
[ -f "$pl" ] || fail "no playlist on the backup origin: $(ls -R "$T/originb/www")"
grep -q '#EXT-X-ENDLIST' "$pl" || fail "the backup's playlist is not closed"
grep -q '^#EXTM3U' "$pl" || fail "the backup's playlist is not HLS"
assert_eq "backup: decode errors" "$(probe_errors "$pl")" 0
assert_eq "backup: non-increasing dts" "$(probe_nonmonotonic "$pl" v:0)" 0
assert_le "backup: largest pts step (s)" "$(probe_max_gap "$pl" v:0)" 0.0334
# segments on the backup are numbered as the primary's: by their time
first_seg=$(grep -m1 '^index' "$pl" | sed 's/index\([0-9]*\).ts/\1/')
first_pts=$(probe_first_pts "$B/index$first_seg.ts" v:0)
d=$(awk -v s="$first_seg" -v p="$first_pts" 'BEGIN { d = s - p; if (d < 0) d = -d; print d }')
assert_le "the backup's first segment: number vs start time (hls_time 1 s)" "$d" 1

# the primary's segments as written (its playlist stopped with the kill)
# plus the backup's: every frame is somewhere
set -- $(origins_frames "$A" "$pl" "$T/frames")
first=$1 last=$2
assert_eq "frames on neither origin" "$(frames_missing "$T/frames" "$first" "$last")" 0
assert_eq "frames in all" $((last - first + 1)) 240
pass
