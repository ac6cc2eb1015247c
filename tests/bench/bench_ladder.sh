#!/bin/sh
# bench_ladder: hotspare against the ffmpeg CLI on the same work, in one run.
#
# 1280x720 30 fps testsrc2, 600 frames, a ladder of 720p 3M + 360p 800k,
# libx264 veryfast, GOP 60, HLS out, not paced. Each side runs ROUNDS times,
# alternating, so that a noisy neighbour hurts both alike; the table gives
# the median frames per second and the peak RSS of each, and the ratios
# (targets: fps ratio >= 1.0, RSS ratio <= 1.2).
set -u
cd "$(dirname "$0")/../.." || exit 2
ROUNDS=${ROUNDS:-3}
FRAMES=600
HS=./hotspare
RUNSTAT=tests/tools/runstat
command -v ffmpeg >/dev/null || { echo "ffmpeg not installed"; exit 1; }
[ -x "$RUNSTAT" ] || { echo "run make testprogs first"; exit 1; }
T=$(mktemp -d /tmp/hs-bench-ladder-XXXXXX)
trap 'rm -rf "$T"' EXIT

cat > "$T/job.yaml" <<EOF
version: 1
streams:
  - name: bench
    input:
      url: "testsrc2=size=1280x720:rate=30"
      format: lavfi
      realtime: false
    renditions:
      - { name: 720p, width: 1280, height: 720, encoder: libx264, bitrate: 3M, gop: 60, options: { preset: veryfast } }
      - { name: 360p, width: 640, height: 360, encoder: libx264, bitrate: 800k, gop: 60, options: { preset: veryfast } }
    outputs:
      - name: hls
        format: hls
        url: $T/hs/index.m3u8
        options: { hls_time: 2, hls_list_size: 0 }
    duration: 20s
EOF

# The ffmpeg command a user would write for the same ladder. hotspare's
# libx264 defaults for a live ladder (fixed GOPs, no scene-cut keyframes)
# are spelled out here as the options they are.
run_ffmpeg() {
    rm -rf "$T/ff"; mkdir -p "$T/ff"
    "$RUNSTAT" -o "$T/ff.stat" ffmpeg -nostdin -v error -y \
        -f lavfi -i testsrc2=size=1280x720:rate=30 -frames:v $FRAMES \
        -filter_complex "[0:v]split=2[a][b];[a]scale=1280:720[v0];[b]scale=640:360[v1]" \
        -map "[v0]" -map "[v1]" -c:v libx264 -preset veryfast \
        -b:v:0 3M -b:v:1 800k -g 60 -keyint_min 60 -sc_threshold 0 \
        -f hls -hls_time 2 -hls_list_size 0 -var_stream_map "v:0 v:1" \
        -master_pl_name index.m3u8 "$T/ff/%v.m3u8"
}
run_hotspare() {
    rm -rf "$T/hs"
    "$RUNSTAT" -o "$T/hs.stat" "$HS" -v error run "$T/job.yaml"
}

: > "$T/hs.stat"; : > "$T/ff.stat"
i=0
while [ $i -lt "$ROUNDS" ]; do
    run_hotspare || { echo "hotspare failed"; exit 1; }
    run_ffmpeg || { echo "ffmpeg failed"; exit 1; }
    i=$((i + 1))
done

# both produced every frame of both renditions
for d in hs ff; do
    n=$(ffprobe -v error -count_frames -show_entries stream=nb_read_frames -of csv=p=0 \
        "$T/$d/index.m3u8" 2>/dev/null | grep -v '^$' | sort -u | tr '\n' ' ')
    [ "$n" = "$FRAMES " ] || { echo "$d: frames per rendition '$n', want $FRAMES"; exit 1; }
done

# median wall time, max RSS
stat_of() {  # FILE KEY -> values, one per line
    tr ' ' '\n' < "$1" | awk -F= -v k="$2" '$1 == k { print $2 }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
hs_wall=$(stat_of "$T/hs.stat" wall_s | median)
ff_wall=$(stat_of "$T/ff.stat" wall_s | median)
hs_rss=$(stat_of "$T/hs.stat" maxrss_kb | sort -g | tail -n 1)
ff_rss=$(stat_of "$T/ff.stat" maxrss_kb | sort -g | tail -n 1)
hs_cpu=$(paste -d' ' "$T/hs.stat" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "user_s" || kv[1] == "sys_s") c += kv[2] } } END { printf "%.2f", c / NR }')
ff_cpu=$(paste -d' ' "$T/ff.stat" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "user_s" || kv[1] == "sys_s") c += kv[2] } } END { printf "%.2f", c / NR }')

awk -v f=$FRAMES -v hw="$hs_wall" -v fw="$ff_wall" -v hr="$hs_rss" -v fr="$ff_rss" \
    -v hc="$hs_cpu" -v fc="$ff_cpu" -v n="$ROUNDS" 'BEGIN {
    hf = f / hw; ff = f / fw
    printf "ladder 720p 3M + 360p 800k, libx264 veryfast, gop 60, HLS, %d frames, median of %d runs\n", f, n
    printf "%-10s %10s %12s %14s\n", "", "fps", "peak RSS MB", "CPU s per run"
    printf "%-10s %10.1f %12.1f %14s\n", "hotspare", hf, hr / 1024, hc
    printf "%-10s %10.1f %12.1f %14s\n", "ffmpeg", ff, fr / 1024, fc
    printf "%-10s %10.3f %12.3f\n", "ratio", hf / ff, hr / fr
    printf "targets: fps ratio >= 1.0 %s, RSS ratio <= 1.2 %s\n",
           ((hf / ff >= 1.0) ? "(met)" : "(NOT met)"), ((hr / fr <= 1.2) ? "(met)" : "(NOT met)")
}'
