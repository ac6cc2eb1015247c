#!/bin/sh
# bench_supervision: what measuring costs. The foundation's ladder job
# (1280x720 30 fps testsrc2, 600 frames, 720p 3M + 360p 800k, libx264
# veryfast, GOP 60, HLS, not paced) run with the health agents, the data
# store, the Prometheus endpoint and the failure model (supervisor: tick 1s,
# hds, metrics, the default model), and without any (model: none);
# alternating rounds, median fps of each and the ratio (target >= 0.98). The cost at scale (10,000 components through sampling
# and the store) is bench_hds.
set -u
cd "$(dirname "$0")/../.." || exit 2
ROUNDS=${ROUNDS:-3}
FRAMES=600
RUNSTAT=tests/tools/runstat
[ -x "$RUNSTAT" ] || { echo "run make testprogs first"; exit 1; }
T=$(mktemp -d /tmp/hs-bench-sup-XXXXXX)
trap 'rm -rf "$T"' EXIT

body() {
    cat <<EOF
streams:
  - name: bench
    input: { url: "testsrc2=size=1280x720:rate=30", format: lavfi, realtime: false }
    renditions:
      - { name: 720p, width: 1280, height: 720, bitrate: 3M, gop: 60, options: { preset: veryfast } }
      - { name: 360p, width: 640, height: 360, bitrate: 800k, gop: 60, options: { preset: veryfast } }
    outputs:
      - { name: hls, format: hls, url: $T/\$DIR/index.m3u8, options: { hls_time: 2, hls_list_size: 0 } }
    duration: 20s
EOF
}
{ echo "version: 1"; echo "supervisor: { model: none }"; body; } | sed 's/\$DIR/off/' > "$T/off.yaml"
{ echo "version: 1"; echo "supervisor: { tick: 1s, hds: { path: $T/run.hds }, metrics: 127.0.0.1:19198 }";
  body; } | sed 's/\$DIR/on/' > "$T/on.yaml"

: > "$T/on.stat"; : > "$T/off.stat"
i=0
while [ $i -lt "$ROUNDS" ]; do
    rm -rf "$T/off" "$T/on" "$T"/run.hds*
    "$RUNSTAT" -o "$T/off.stat" ./hotspare -v error run "$T/off.yaml" || { echo "run failed"; exit 1; }
    "$RUNSTAT" -o "$T/on.stat" ./hotspare -v error run "$T/on.yaml" || { echo "run failed"; exit 1; }
    i=$((i + 1))
done
ticks=$(./hotspare hds stats "$T/run.hds" | awk '/^ticks/ { print $2 }')

median() { tr ' ' '\n' < "$1" | awk -F= '$1 == "wall_s" { print $2 }' | sort -g |
           awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
awk -v f=$FRAMES -v on="$(median "$T/on.stat")" -v off="$(median "$T/off.stat")" \
    -v n="$ROUNDS" -v ticks="$ticks" 'BEGIN {
    printf "ladder job, %d frames, median of %d runs each\n", f, n
    printf "%-34s %8s\n", "", "fps"
    printf "%-34s %8.1f\n", "agents, store, /metrics, model off", f / off
    printf "%-34s %8.1f   (%s ticks stored in the last run)\n", "agents, store, /metrics, model on", f / on, ticks
    printf "%-34s %8.3f   target >= 0.98 %s\n", "ratio on / off", off / on,
           ((off / on >= 0.98) ? "(met)" : "(NOT met)")
}'
