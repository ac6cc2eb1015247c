#!/bin/sh
# The browser harness on hand-made streams (no hotspare in the loop): ffmpeg
# writes a live HLS and a live DASH stream into an origin; two CDN edges
# (nginx caching proxies on 127.0.0.2 and 127.0.0.3, each behind a fault
# proxy) serve them as pathways cdn-a and cdn-b; a hand-written multivariant
# playlist and an MPD rewritten by the origin name both pathways and a
# steering manifest, a static file the test rewrites. Four players play at
# once in headless Chromium (tests/browser/play.mjs): hls.js and dash.js,
# each with content steering on and off.
#   1. all start on cdn-a; with steering on, no stall
#   2. the manifest puts cdn-b first: the steered players move to cdn-b
#      within a few seconds (TTL 2 s), without a stall
#   3. cdn-a slows (its bandwidth falls below the stream's bitrate), then
#      dies: the steered players, on cdn-b, do not stall; the stall the
#      others' own failover costs is reported (not judged)
# A stall with media buffered ahead is the machine's, not the network's:
# reported, not judged; past a load average of 4 per CPU (or
# HS_BROWSER_LOAD_MAX) no stall is judged. Chromium may then take a minute
# or two to start.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/players.sh"
need ffmpeg
players_need

PORT=18400
W=$T/edges/origin/www
steer() {   # steer PATHWAY...: the steering manifest both players read
    _s=$(printf '"%s",' "$@")
    printf '{"VERSION":1,"TTL":2,"PATHWAY-PRIORITY":[%s]}\n' "${_s%,}" > "$W/steer/steering.json.tmp"
    mv "$W/steer/steering.json.tmp" "$W/steer/steering.json"
}

# the origin rewrites ffmpeg's MPD as a packager with pathways would: a
# BaseURL per pathway (serviceLocation) and the ContentSteering element,
# both MPD-level (dash.js reads the first ContentSteering of the MPD); and
# 3 segments of delay behind live, as hls.js keeps, where ffmpeg suggests
# one (dash.js then plays on an empty buffer and stalls at every segment)
cat > "$T/origin-extra.conf" <<EOF
location = /time { add_header Access-Control-Allow-Origin * always; return 200 "\$time_iso8601"; }
location = /dash/steered.mpd {
    alias $W/dash/live.mpd;
    sub_filter_types application/dash+xml;
    sub_filter_once on;
    sub_filter 'suggestedPresentationDelay="PT2S"' 'suggestedPresentationDelay="PT6S"';
    sub_filter '<Period ' '<BaseURL serviceLocation="cdn-a">http://127.0.0.2:$((PORT + 1))/dash/</BaseURL>
	<BaseURL serviceLocation="cdn-b">http://127.0.0.3:$((PORT + 1))/dash/</BaseURL>
	<ContentSteering defaultServiceLocation="cdn-a" queryBeforeStart="true">http://127.0.0.1:$PORT/steer/steering.json</ContentSteering>
	<Period ';
    add_header Cache-Control no-store always;
    add_header Access-Control-Allow-Origin * always;
}
EOF
EDGES_ORIGIN_CONF=$T/origin-extra.conf
. "$TOP/tests/lib/edges.sh"
edges_start $PORT a b
mkdir -p "$W/hls" "$W/dash" "$W/steer"
steer cdn-a cdn-b
say "origin $(origin_url), cdn-a $(edge_url a), cdn-b $(edge_url b)"

# 15 fps (light on a loaded machine), a keyframe every 2 s, 2 s segments
enc="-c:v libx264 -preset veryfast -profile:v main -level 3.0 -pix_fmt yuv420p -g 30 -keyint_min 30 -sc_threshold 0 -b:v 300k -c:a aac -b:a 64k -ac 2"
src="-re -f lavfi -i testsrc=size=320x180:rate=15 -f lavfi -i sine=frequency=440:sample_rate=48000"
# shellcheck disable=SC2086
bg ffmpeg -nostdin -v error $src $enc -f hls -hls_time 2 -hls_list_size 10 \
    -hls_flags delete_segments+independent_segments -hls_segment_filename "$W/hls/seg%05d.ts" "$W/hls/index.m3u8"
# shellcheck disable=SC2086
bg ffmpeg -nostdin -v error $src $enc -f dash -seg_duration 2 -window_size 10 -extra_window_size 5 \
    -use_template 1 -use_timeline 1 -adaptation_sets "id=0,streams=v id=1,streams=a" \
    -utc_timing_url "$(origin_url)/time" "$W/dash/live.mpd"

master() {  # master FILE PATHWAY...: the multivariant playlist, a variant per pathway
    _f=$1
    shift
    {
        echo '#EXTM3U'
        echo '#EXT-X-VERSION:6'
        echo '#EXT-X-INDEPENDENT-SEGMENTS'
        echo "#EXT-X-CONTENT-STEERING:SERVER-URI=\"$(origin_url)/steer/steering.json\",PATHWAY-ID=\"cdn-a\""
        for _p in "$@"; do
            echo "#EXT-X-STREAM-INF:BANDWIDTH=450000,RESOLUTION=320x180,FRAME-RATE=15.000,CODECS=\"avc1.4d401e,mp4a.40.2\",PATHWAY-ID=\"$_p\""
            echo "$(edge_url "${_p#cdn-}")/hls/index.m3u8"
        done
    } > "$W/hls/$_f"
}
master master.m3u8 cdn-a cdn-b
master master-a-last.m3u8 cdn-b cdn-a
HLS=$(origin_url)/hls/master.m3u8
DASH=$(origin_url)/dash/steered.mpd

# three segments of each before a player starts
wait_for 20 grep -q 'seg00002.ts' "$W/hls/index.m3u8" || fail "ffmpeg wrote no HLS"
wait_for 20 sh -c "ls '$W/dash' | grep -q 'chunk-stream0-00003.m4s'" || fail "ffmpeg wrote no DASH"
"$TOP/tests/tools/httpget" "$DASH" > "$T/steered.mpd" || fail "the origin does not serve $DASH"
grep -q '<ContentSteering defaultServiceLocation="cdn-a"' "$T/steered.mpd" || fail "no ContentSteering in $DASH"
"$TOP/tests/tools/httpget" "$(edge_url b)/hls/index.m3u8" > /dev/null || fail "cdn-b does not serve the playlist"

since() {   # since NAME MS [FILTER]: seconds stalled after MS (by stalls FILTER selects)
    jn "$1" "[.stalls[]|select(.end_ms > $2)|select(${3:-true})|(.end_ms - ([.start_ms, $2]|max)) / 1000]|add // 0"
}

load_start=$(cut -d' ' -f1 /proc/loadavg)
say "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
play hls_on hls "$HLS" 180
play dash_on dash "$DASH" 180
# hls.js without its steering controller sees two variants alike but for
# the host and its ABR takes the last one: this copy lists cdn-a last so
# that it starts where the steered one does
play hls_off hls "$(origin_url)/hls/master-a-last.m3u8" 180 --steering-off
play dash_off dash "$DASH" 180 --steering-off
ALL="hls_on dash_on hls_off dash_off"
# a machine too loaded to start four browsers in 150 s cannot judge players
t_start=$(($(date +%s) + 150))
for n in $ALL; do
    wait_until $t_start _pl_up_or_gone $n "$(eval echo \$PID_$n)" ||
        skip "$n not playing after 150 s: Chromium cannot run in time here (load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs)"
    await_start $n $t_start
done
say "all four playing"

# --- 2. the steering manifest puts cdn-b first -------------------------------
sleep 8
t_flip=$(now_ms)
steer cdn-b cdn-a
say "steering manifest: cdn-b first at $t_flip"
on_b() { [ "$(mark "$1" host)" = "127.0.0.3:$((PORT + 1))" ]; }
wait_until $(($(date +%s) + 20)) on_b hls_on && wait_until $(($(date +%s) + 20)) on_b dash_on ||
    say "a steered player is not on cdn-b yet"
sleep 2

# --- 3. cdn-a slows down, then dies -------------------------------------------
# the stream takes about 46 kB/s: below that the buffer drains
t_ramp=$(now_ms)
edge_ctl a 'bandwidth 200k..8k over 4s exp' || fail "edge_ctl a"
say "cdn-a slows down from $t_ramp"
sleep 12
t_kill=$(now_ms)
edge_kill a
"$TOP/tests/tools/httpget" -t 1 "$(edge_url a)/healthz" > /dev/null 2>&1 && fail "cdn-a still answers after edge_kill"
say "cdn-a killed at $t_kill"
sleep 12
stop $ALL
for n in $ALL; do finish $n; done
load_end=$(cut -d' ' -f1 /proc/loadavg)
say "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# On a machine loaded far past its CPUs, Chromium, the players and ffmpeg
# itself fall behind (the source late, the page's timers late): stalls are
# then the machine's, reported and not judged. The pathways still are.
load_max=${HS_BROWSER_LOAD_MAX:-$(($(nproc) * 4))}
judge_stalls=yes move_max=10000
awk -v a="$load_start" -v b="$load_end" -v m="$load_max" 'BEGIN { exit !(a > m || b > m) }' && {
    judge_stalls=no move_max=20000
    say "load average above $load_max: stalls are reported, not judged"
}

for n in $ALL; do
    say "$n: $(jn $n '.player + " " + .player_version'), steering $(jn $n .steering): start-up $(jn $n .startup_ms) ms," \
        "$(jn $n '.segments|length') segments, $(jn $n '.steering_requests|length') steering requests," \
        "$(jn $n '.errors|length') errors ($(jn $n .fatal_errors) fatal)"
    assert_eq "$n: first pathway host" "$(jn $n .first_host)" "127.0.0.2:$((PORT + 1))"
    say "$n: stalls: $(jn $n '[.stalls[]|{from_flip_ms:(.start_ms - '"$t_flip"'), s:.seconds, ahead:.buffer_ahead_s, open}]|tostring')"
done

for n in hls_on dash_on; do
    say "$n: steering queries: $(jn $n '[.steering_requests[].query]|unique|tostring' | cut -c1-300)"
    assert_eq "$n: segments on cdn-b before the flip" \
        "$(jn $n "[.segments[]|select(.t_ms < $t_flip and (.host|startswith(\"127.0.0.3\")))]|length")" 0
    other=$(jn $n .first_other_pathway_ms)
    [ "$other" != null ] || fail "$n: never moved to cdn-b: $(jn $n '.steering_requests|tostring' | cut -c1-600)"
    assert_eq "$n: moved to" "$(jn $n .first_other_host)" "127.0.0.3:$((PORT + 1))"
    # the next steering request comes within a TTL (2 s), the next segment
    # within a segment (2 s); a loaded machine adds seconds (20 s allowed
    # past the load limit)
    assert_le "$n: ms from the flip to the first cdn-b segment" $((other - t_flip)) $move_max
    assert_eq "$n: segments on cdn-a after the move" \
        "$(jn $n "[.segments[]|select(.t_ms > $other + 500 and (.host|startswith(\"127.0.0.2\")))]|length")" 0
    say "$n: with steering: $(jn $n .stall_count) stalls, $(jn $n .stall_seconds) s," \
        "of them on an empty buffer $(jn $n .empty_stall_seconds) s"
    [ $judge_stalls = yes ] &&
        assert_eq "$n: stalls on an empty buffer, with steering" "$(jn $n .empty_stall_count)" 0
    assert_eq "$n: fatal errors" "$(jn $n .fatal_errors)" 0
done

for n in hls_off dash_off; do
    other=$(jn $n .first_other_pathway_ms)
    if [ "$other" = null ]; then moved="never moved to cdn-b"
    else moved="first cdn-b segment $((other - t_kill)) ms after the kill"; fi
    say "$n: steering off, cdn-a slowed then killed: $(jn $n "[.stalls[]|select(.end_ms > $t_ramp)]|length")" \
        "stalls, $(since $n $t_ramp) s stalled since it slowed ($(since $n $t_ramp .empty) s on an empty buffer)," \
        "$(since $n $t_kill) s since the kill; $moved"
done
edges_stop
pass
