#!/bin/sh
# HLS numbers on a destination that fails and takes over again and again:
# each of its muxers numbers its first segment by media time, and one
# opened ahead (at a switch back) or replaying the cache (from before it
# opened) must never number a segment that an earlier muxer of the same
# destination wrote: an origin holds one file per number, and the later
# upload, starting later, would take the earlier one's first seconds with
# it (the hour soak lost 60 and 30 frames so while every muxer's own
# continuity said 0). Checked the way an origin sees it: no segment is
# PUT twice to the same origin with other bytes, each playlist's entries
# numbered as their files (an encoder switch restarts a muxer on its
# playlist), and every frame is on one of them. The job numbers from 100
# (its own start_number: the first muxer's; the later ones' numbers are
# never below it). A DASH output beside it,
# failing and switching back the same way: no segment written over.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe
. "$TOP/tests/lib/nginx.sh"

nginx_start origina 19390 18120
nginx_start originb 19391 18121

# the primary fails each time soon after it took back over, before the
# origin confirmed its first segment: the backup, opened again ahead at
# the switch, replays from the cache's start, seconds before it opened
job "$T/job.yaml" <<EOF
version: 1
streams:
  - name: news
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: true }
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: veryfast },
          backup: { encoder: libx264, options: { preset: ultrafast } } }
    outputs:
      - name: origin
        format: hls
        url: http://127.0.0.1:18120/upload/news/index.m3u8
        options: { hls_time: 2, hls_list_size: 6, start_number: 100 }
        rw_timeout: 2s
        backup: { url: http://127.0.0.1:18121/upload/news/index.m3u8 }
      - name: dash
        format: dash
        url: http://127.0.0.1:18120/upload/dash/index.mpd
        options: { seg_duration: 2, window_size: 6 }
        rw_timeout: 2s
        backup: { url: http://127.0.0.1:18121/upload/dash/index.mpd }
    standby: always
    switch_back: never
    duration: 46s
    faults:
      - { at: 7.3s, component: out:origin, fault: error }
      - { at: 13.5s, component: out:origin, action: switch_back }
      - { at: 14.6s, component: out:origin, fault: error }
      - { at: 18.2s, component: enc:main, action: switch }
      - { at: 21.5s, component: out:origin, action: switch_back }
      - { at: 25.1s, component: out:origin, fault: error }
      - { at: 31.5s, component: out:origin, action: switch_back }
      - { at: 32.4s, component: out:origin, fault: error }
      - { at: 39.5s, component: out:origin, action: switch_back }
      - { at: 7.3s, component: out:dash, fault: error }
      - { at: 13.5s, component: out:dash, action: switch_back }
      - { at: 14.6s, component: out:dash, fault: error }
      - { at: 21.5s, component: out:dash, action: switch_back }
      - { at: 25.1s, component: out:dash, fault: error }
      - { at: 31.5s, component: out:dash, action: switch_back }
EOF

"$HS" run --events "$T/events.jsonl" "$T/job.yaml" > "$T/run.log" 2>&1; rc=$?
grep -E '"kind":"(switch|failure)"' "$T/events.jsonl" | sed 's/.*"cause":"\([^"]*\)".*/  \1/'
assert_eq "exit status" $rc 0
assert_ge "switches" "$(grep -c '"kind":"switch"' "$T/events.jsonl")" 8

for o in origina originb; do
    nginx_reuploads "$T/$o/access.log" > "$T/$o.twice"
    say "$o: $(awk '$6 == "\"PUT" && $7 ~ /\.ts$/' "$T/$o/access.log" | wc -l) segment uploads, twice: $(paste -sd' ' "$T/$o.twice")"
    assert_eq "$o: segments uploaded twice" "$(wc -l < "$T/$o.twice")" 0
done

# DASH numbers every muxer's segments from 1: the later muxers of a
# destination name theirs by their run (-rN), so none was written over
# (the check above counts .m4s too)
assert_ge "originb: DASH segment runs" "$(ls "$T/originb/www/upload/dash" | sed -n 's/.*-r\([0-9]*\)-[0-9]*\.m4s$/\1/p' | sort -u | wc -l)" 2

assert_ge "the lowest HLS number on the origins (the job's start_number)" \
    "$(ls "$T"/origin?/www/upload/news | sed -n 's/^index\([0-9]*\)\.ts$/\1/p' | sort -n | head -1)" 100

# each playlist numbers its segments as their files are named: the
# encoder switch at 18 s restarts the muxer after a discontinuity, which
# goes on after the playlist's last segment (RFC 8216: a segment keeps
# its media sequence number)
for o in origina originb; do
    pl=$T/$o/www/upload/news/index.m3u8
    off=$(awk -F: '/^#EXT-X-MEDIA-SEQUENCE:/ { s = $2 } /^index[0-9]+\.ts$/ { n = substr($0, 6) + 0;
              if (n != s + i) bad++; i++ } END { print bad + 0 }' "$pl")
    assert_eq "$o: playlist entries whose sequence number is not their file's" "$off" 0
done
grep -q '"kind":"switch".*enc:main' "$T/events.jsonl" || fail "no encoder switch"

# every frame from the first to the last is on one origin or the other
: > "$T/frames"
for f in "$T"/origina/www/upload/news/index*.ts "$T"/originb/www/upload/news/index*.ts; do
    probe_frame_numbers "$f" v:0 30
done >> "$T/frames"
sort -n -u "$T/frames" -o "$T/frames"
first=$(head -n 1 "$T/frames") last=$(tail -n 1 "$T/frames")
assert_eq "frames on neither origin" "$(frames_missing "$T/frames" "$first" "$last")" 0
assert_ge "frames on the origins" $((last - first + 1)) 1290
pass
