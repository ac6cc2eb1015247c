#!/bin/sh
# bench_steering: what viewers go through when one CDN path degrades and
# fails, with three ways of moving them, on the same fault at the same time.
# One hotspare packages a live stream (320x180 15 fps, 2 s segments) twice
# as HLS, uploaded to an origin; two CDN edges (nginx caching proxies on
# 127.0.0.2 and 127.0.0.3 behind fault proxies, tests/lib/edges.sh) are the
# pathways cdn-a and cdn-b of both. Three hls.js players in headless
# Chromium start on cdn-a:
#
#   risk      steered by hotspare, demote_on: risk (the default): a pathway
#             whose answers take a growing share of the segment duration is
#             demoted before it fails
#   failure   steered by hotspare, demote_on: failure: demoted only once
#             its synthetic viewer fails (no prediction)
#   player    no steering server (out of reach): the player's own pathway
#             penalty alone (hls.js: a pathway that errors is penalised for
#             5 min)
#
# Two faults, a table each (BENCH_STEERING_FAULTS picks, by name), the
# "first sign of trouble" being the ramp's start, cdn-a killed 18 s in:
#   slow      cdn-a's delay ramps from 0 to 1.5 s over 20 s: an edge that
#             answers later and later but still delivers the stream's rate
#   collapse  cdn-a's bandwidth falls from 400 kB/s to 8 kB/s over 20 s
#             (exponentially: below the stream's ~46 kB/s 11 s in, so a
#             fragment under way stalls the player)
# Columns, per mode, median and range over BENCH_STEERING_RUNS runs (3):
#   stall s        seconds the video element waited after playback began
#   empty s        ... of them on an empty buffer (the network's doing)
#   move s         from the first sign of trouble to the player's first
#                  segment from cdn-b ("-": it never moved)
#   before kill    runs in which the player moved before cdn-a died
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/players.sh"
players_need
RUNS=${BENCH_STEERING_RUNS:-3}
PORT=18460
MP=18465
KILL_S=18
FAULTS=${BENCH_STEERING_FAULTS:-slow collapse}
fault_cmd() {
    case $1 in
    slow)     echo 'delay 0ms..1500ms over 20s' ;;
    collapse) echo 'bandwidth 400k..8k over 20s exp' ;;
    *)        fail "unknown fault '$1' (slow, collapse)" ;;
    esac
}
. "$TOP/tests/lib/edges.sh"
edges_start $PORT a b
A=$(edge_url a) B=$(edge_url b) O=$(origin_url)

output() {  # output NAME DEMOTE_ON RUN
    cat <<EOF
      - name: $1
        format: hls
        url: $O/r$3/$1/index.m3u8
        options: { hls_time: 2, hls_list_size: 10, hls_flags: independent_segments }
        pathways:
          - { id: cdn-a, base: "$A/r$3/$1/" }
          - { id: cdn-b, base: "$B/r$3/$1/" }
        steering: { uri: "http://127.0.0.1:$MP/steer/$1.json", ttl: 2s, demote_on: $2 }
EOF
}

bench_fault() {   # bench_fault NAME: RUNS runs of the three modes under fault NAME
FAULT=$(fault_cmd "$1")
: > "$T/results.txt"
for run in $(seq 1 "$RUNS"); do
    run=$1$run
    {
        cat <<EOF
version: 1
supervisor: { tick: 1s, metrics: { listen: "127.0.0.1:$MP" } }
streams:
  - name: news
    input: { url: "$(lavfi_src 320 180 15)", format: lavfi, realtime: true }
    audio: { bitrate: 64k }
    renditions:
      - { name: v180, width: 320, height: 180, bitrate: 300k, gop: 2s,
          options: { preset: veryfast, profile: main } }
    outputs:
EOF
        output risk risk "$run"
        output fail failure "$run"
    } > "$T/job$run.yaml"
    bg "$HS" run --events "$T/events$run.jsonl" "$T/job$run.yaml"
    hs=$BG_PID
    wait_for 30 grep -q 'v180_00002' "$EDGES_WWW/r$run/fail/v180.m3u8" || fail "run $run: no HLS"
    play "risk$run" hls "$O/r$run/risk/index.m3u8" 40
    play "fail$run" hls "$O/r$run/fail/index.m3u8" 40
    play "player$run" hls "$O/r$run/risk/index.m3u8" 40 --block /steer/
    for m in risk fail player; do await_start "$m$run"; done
    sleep 6
    t_ramp=$(now_ms)
    edge_ctl a "$FAULT" || fail "edge_ctl a"
    sleep $KILL_S
    t_kill=$(now_ms)
    edge_kill a
    for m in risk fail player; do
        finish "$m$run"
        moved=$(jn "$m$run" .first_other_pathway_ms)
        echo "$m $(jn "$m$run" .stall_seconds) $(jn "$m$run" .empty_stall_seconds)" \
             "$([ "$moved" = null ] && echo - || echo $((moved - t_ramp)))" \
             "$([ "$moved" != null ] && [ "$moved" -lt "$t_kill" ] && echo 1 || echo 0)" >> "$T/results.txt"
    done
    kill "$hs" 2>/dev/null
    wait "$hs" 2>/dev/null
    edge_start a
done
# median and range of column $2 of mode $1 ("-" rows count as never)
stat() {
    awk -v m="$1" -v c="$2" '$1 == m { if ($c == "-") never++; else v[n++] = $c + 0 }
        END {
            if (!n) { printf "-"; exit }
            for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
            med = n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
            printf "%.1f (%.1f-%.1f)%s", med / (c == 4 ? 1000 : 1), v[0] / (c == 4 ? 1000 : 1),
                   v[n - 1] / (c == 4 ? 1000 : 1), never ? sprintf(", %d never", never) : ""
        }' "$T/results.txt"
}
printf '%-9s %-18s %-18s %-22s %s\n' mode "stall s" "empty s" "move s after trouble" "moved before kill"
for m in risk fail player; do
    label=$m
    [ $m = fail ] && label=failure
    printf '%-9s %-18s %-18s %-22s %s\n' "$label" "$(stat $m 2)" "$(stat $m 3)" "$(stat $m 4)" \
        "$(awk -v m=$m '$1 == m { n++; k += $5 } END { printf "%d of %d", k, n }' "$T/results.txt")"
done
echo "($1: cdn-a $FAULT from the first sign of trouble, killed ${KILL_S} s in; $RUNS runs;" \
     "hls.js $(jq -r .player_version "$T/risk${1}1.json"), chromium $(jq -r .chromium "$T/risk${1}1.json" | cut -c1-40))"
}

for f in $FAULTS; do
    echo "fault: $f"
    bench_fault "$f"
    echo
done
edges_stop
