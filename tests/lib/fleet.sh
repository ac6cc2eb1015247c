# tests/lib/fleet.sh: the fleet tests' job, and checks of a fleet's
# uploads to one HLS origin. The checks need LOG (the origin's access log)
# and SEG (the stream's segment directory); segments 1 s long (hls_time 1).
#
#   fleet_job FILE ORIGIN [SUPERVISOR]
#                            writes the job every fleet test runs: one
#                            stream, s1 (160x90 25 fps x264, no audio),
#                            uploading HLS (hls_time 1, every segment
#                            listed) to ORIGIN (http://HOST:PORT);
#                            SUPERVISOR: what goes inside the job's
#                            supervisor: { } (none when empty)
#   fleet_stream NAME ORIGIN the same stream named NAME, as an item of a
#                            job's streams: list (uploading to
#                            ORIGIN/upload/NAME/)
#   puts_twice FILE          of "NUMBER NODE" lines (segments uploaded, in
#                            order; FILE - for stdin): numbers listed twice
#   puts_gaps FILE           numbers skipped from one line to the next
#   puts_missing FILE        numbers missing from the lowest to the highest
#   puts_switches FILE       changes of uploader from one line to the next
#   pts0 FILE                the first video pts of a segment (90 kHz)
#   check_move FROM TO LINES SECS
#                            the planned move from node FROM to node TO
#                            seen in the access log after line LINES (SECS:
#                            how long it took, said)

fleet_stream() {
    cat <<EOF
  - name: $1
    input: { url: "testsrc2=size=160x90:rate=25", format: lavfi }
    audio: false
    renditions:
      - { name: v, width: 160, height: 90, bitrate: 100k, gop: 25, options: { preset: ultrafast } }
    outputs:
      - name: origin
        format: hls
        url: $2/upload/$1/index.m3u8
        options: { hls_time: 1, hls_list_size: 0 }
EOF
}

fleet_job() {
    {
        echo "version: 1"
        [ -n "${3:-}" ] && echo "supervisor: { $3 }"
        echo "streams:"
        fleet_stream s1 "$2"
    } > "$1"
}

puts_twice() { awk '{n[$1]++} END{d=0; for (k in n) if (n[k] > 1) d++; print d}' "$1"; }
puts_gaps() { awk 'NR > 1 && $1 != prev + 1 {g += $1 - prev - 1} {prev = $1} END{print g + 0}' "$1"; }
puts_missing() { sort -n -u "$1" | puts_gaps -; }
puts_switches() { awk 'NR > 1 && $2 != prev {s++} {prev = $2} END{print s + 0}' "$1"; }

pts0() { ffprobe -v error -select_streams v -show_entries packet=pts -of csv=p=0 "$1" | head -1; }

# check_move FROM TO LINES SECS: the planned move from FROM to TO seen in
# the access log after line LINES: no segment missing or uploaded twice,
# one uploader switch, TO's first segment right after FROM's last, and
# the timeline continuous across it (each segment's first timestamp one
# segment after the previous one's, to the frame)
check_move() {
    tail -n +$(($3 + 1)) "$LOG" | grep 'PUT /upload/s1/index[0-9]*\.ts' |
        sed 's|.*/index\([0-9]*\)\.ts .*fleet-node/\([a-z0-9]*\)".*|\1 \2|' > "$T/puts-$2.txt"
    dup=$(puts_twice "$T/puts-$2.txt")
    switches=$(puts_switches "$T/puts-$2.txt")
    gaps=$(puts_gaps "$T/puts-$2.txt")
    last_from=$(awk -v n="$1" '$2 == n {x = $1} END{print x}' "$T/puts-$2.txt")
    first_to=$(awk -v n="$2" '$2 == n {print $1; exit}' "$T/puts-$2.txt")
    say "move $1 -> $2: leader moved in $4 s; $1's last segment $last_from, $2's first $first_to; missing $gaps, PUT twice $dup, uploader switches $switches"
    assert_eq "segments missing across the move $1 -> $2" "$gaps" 0
    assert_eq "segments uploaded by both nodes ($1 -> $2)" "$dup" 0
    assert_eq "uploader switches ($1 -> $2)" "$switches" 1
    assert_eq "$2's first segment follows $1's last" "$first_to" $((last_from + 1))
    prev=
    for n in $(seq $((last_from - 1)) $((first_to + 1))); do
        p=$(pts0 "$SEG/index$n.ts")
        if [ -n "$prev" ]; then
            d=$(awk -v a="$prev" -v b="$p" 'BEGIN{d = b - a; if (d < 0) d += 2^33; x = d / 90000 - 1; if (x < 0) x = -x; printf "%.3f", x}')
            assert_le "segment $n starts 1 s after $((n - 1)) (off, s)" "$d" 0.04
        fi
        prev=$p
    done
    grep -q "#EXT-X-ENDLIST" "$SEG/index.m3u8" && fail "the playlist ended at the move $1 -> $2"
    return 0
}

