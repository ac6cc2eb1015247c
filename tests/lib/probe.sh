# tests/lib/probe.sh: output checks with ffprobe, for integration tests.
#
# Each function takes a media file or playlist and prints one figure; the
# tests compare it. SEL is an ffprobe stream selector (v:0, a:0, ...).
#
#   probe_frames FILE SEL        frames decoded (-count_frames: decodes all,
#                                so a broken frame shows in probe_errors)
#   probe_errors FILE            lines ffprobe complains with while decoding
#   probe_decoder_errors FILE    the same, without the demuxer's parser's lines
#                                ("[NULL @"): after a new FLV sequence header
#                                the parser keeps the old SPS and complains,
#                                while the decoder takes the new one
#   probe_max_gap FILE SEL       largest step between consecutive pts, in
#                                seconds (packets in presentation order)
#   probe_nonmonotonic FILE SEL  count of dts that do not increase
#   probe_gops FILE SEL          distinct GOP lengths in frames, "60" or "60 30"
#                                (the last, partial GOP left out)
#   probe_first_pts FILE SEL     first pts_time
#   probe_end FILE SEL           last pts + its duration, seconds
#   probe_streams FILE           "video,audio,..." codec types in order

probe_frames() {
    ffprobe -v error -select_streams "$2" -count_frames \
        -show_entries stream=nb_read_frames -of csv=p=0 "$1" 2>/dev/null | head -n 1 | tr -d ' ,'
}

probe_errors() {
    ffprobe -v error -show_entries frame=pts -of csv=p=0 "$1" 2>&1 >/dev/null | wc -l
}

probe_decoder_errors() {
    ffprobe -v error -show_entries frame=pts -of csv=p=0 "$1" 2>&1 >/dev/null |
        grep -v '^\[NULL @' | grep -v 'Last message repeated' | wc -l
}

_probe_pkts() {   # FILE SEL -> "pts_time dts_time duration_time flags" per packet
    ffprobe -v error -select_streams "$2" \
        -show_entries packet=pts_time,dts_time,duration_time,flags -of csv=p=0 "$1" 2>/dev/null |
        grep -v '^$'
}

probe_max_gap() {
    _probe_pkts "$1" "$2" | awk -F, '$1 != "N/A" {print $1}' | sort -g |
        awk 'NR > 1 { d = $1 - p; if (d > m) m = d } { p = $1 } END { printf "%.6f\n", m + 0 }'
}

probe_nonmonotonic() {
    _probe_pkts "$1" "$2" | awk -F, '$2 != "N/A" { if (NR > 1 && $2 + 0 <= p + 0) n++; p = $2 } END { print n + 0 }'
}

probe_gops() {
    # keyframe positions in decode order; lengths between them
    _probe_pkts "$1" "$2" | awk -F, '
        { if (index($4, "K") > 0) { if (last != "") len[n++] = NR - last; last = NR } }
        END { for (i = 0; i < n; i++) seen[len[i]] = 1; s = ""; for (k in seen) s = s (s == "" ? "" : " ") k; print s }'
}

probe_first_pts() {
    _probe_pkts "$1" "$2" | awk -F, '$1 != "N/A" {print $1}' | sort -g | head -n 1
}

probe_end() {
    _probe_pkts "$1" "$2" | awk -F, '$1 != "N/A" { e = $1 + $3; if (e > max) max = e }
        END { printf "%.6f\n", max }'
}

probe_streams() {
    # programs repeat their streams: one line per stream index
    ffprobe -v error -show_entries stream=index,codec_type -of csv=p=0 "$1" 2>/dev/null |
        grep -v '^$' | sort -t, -k1,1n -u | cut -d, -f2 | paste -sd, -
}

# probe_frame_numbers FILE SEL FPS: the frame numbers (round(pts * FPS)) of
# every video packet, one per line, sorted and unique: union two of these to
# see which frames reached anyone.
probe_frame_numbers() {
    _probe_pkts "$1" "$2" | awk -F, -v fps="$3" '$1 != "N/A" { printf "%d\n", $1 * fps + 0.5 }' |
        sort -n -u
}

# frames_missing LIST FIRST LAST: how many of the frame numbers FIRST..LAST
# are not in the file LIST (one number per line).
frames_missing() {
    awk -v a="$2" -v b="$3" '{ seen[$1] = 1 } END { n = 0; for (i = a; i <= b; i++) if (!(i in seen)) n++; print n }' "$1"
}

# origins_frames DIR PLAYLIST LIST: the video frame numbers (30 fps) in the
# segments DIR/index*.ts (what a primary origin got) and in PLAYLIST (the
# backup's), into the file LIST; prints "FIRST LAST", LAST being the
# backup's last frame.
origins_frames() {
    for _f in "$1"/index*.ts; do probe_frame_numbers "$_f" v:0 30; done > "$3"
    probe_frame_numbers "$2" v:0 30 >> "$3"
    sort -n -u "$3" -o "$3"
    echo "$(head -n 1 "$3") $(probe_frame_numbers "$2" v:0 30 | tail -n 1)"
}
