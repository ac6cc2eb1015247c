#!/bin/sh
# The browser harness on hand-made streams (no hotspare in the loop): ffmpeg
# writes a live HLS and a live DASH stream into an origin; two CDN edges
# (nginx caching proxies on 127.0.0.2 and 127.0.0.3, each behind a fault
# proxy) serve them as pathways cdn-a and cdn-b; a hand-written multivariant
# playlist and an MPD rewritten by the origin name both pathways and a
# steering manifest, a static file the test rewrites. hls.js and dash.js
# play in headless Chromium (tests/browser/play.mjs), both at once:
#   1. steering on: they play through cdn-a without a stall; once the
#      manifest puts cdn-b first they move to cdn-b, without a stall
#   2. steering off: cdn-a slows (its bandwidth falls below the stream's
#      bitrate), then dies; the stall the players' own failover costs is
#      reported (not judged)
. "$(dirname "$0")/../lib/common.sh"
need ffmpeg node jq
[ -x /usr/bin/chromium ] || skip "no /usr/bin/chromium (./configure --install-deps)"
[ -d "$TOP/tests/browser/node_modules/playwright-core" ] ||
    skip "tests/browser/node_modules missing (make check runs npm ci --prefix tests/browser)"

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
# hls.js without its steering controller sees two variants alike but for
# the host and its ABR takes the last one: this copy lists cdn-a last so
# that the player without steering starts where the one with steering did
master master-a-last.m3u8 cdn-b cdn-a
HLS=$(origin_url)/hls/master.m3u8
DASH=$(origin_url)/dash/steered.mpd

# three segments of each before a player starts
wait_for 20 grep -q 'seg00002.ts' "$W/hls/index.m3u8" || fail "ffmpeg wrote no HLS"
wait_for 20 sh -c "ls '$W/dash' | grep -q 'chunk-stream0-00003.m4s'" || fail "ffmpeg wrote no DASH"
"$TOP/tests/tools/httpget" "$DASH" > "$T/steered.mpd" || fail "the origin does not serve $DASH"
grep -q '<ContentSteering defaultServiceLocation="cdn-a"' "$T/steered.mpd" || fail "no ContentSteering in $DASH"
"$TOP/tests/tools/httpget" "$(edge_url b)/hls/index.m3u8" > /dev/null || fail "cdn-b does not serve the playlist"

play() {    # play NAME PLAYER SRC SECONDS [OPTION...]: play.mjs in the background
    _n=$1 _p=$2 _s=$3 _sec=$4
    shift 4
    bg node "$TOP/tests/browser/play.mjs" --player "$_p" --src "$_s" --seconds "$_sec" \
        --out "$T/$_n.json" --mark "$T/$_n.mark" "$@" 2> "$T/$_n.err"
    eval "PID_$_n=\$BG_PID"
}
finish() {  # finish NAME: wait for play.mjs; skip when Chromium cannot run
    eval "_pid=\$PID_$1"
    wait "$_pid"
    _rc=$?
    [ $_rc = 3 ] && skip "Chromium cannot run here: $(tail -n 1 "$T/$1.err")"
    [ $_rc = 0 ] || fail "play.mjs $1 failed (status $_rc): $(tail -n 3 "$T/$1.err")"
    [ -s "$T/$1.json" ] || fail "play.mjs $1 wrote no result"
}
up_or_gone() { [ -s "$T/$1.mark" ] || fp_exited "$2"; }
await_start() {  # await_start NAME: until it plays (mark file) or play.mjs ends
    eval "_pid=\$PID_$1"
    wait_for 120 up_or_gone "$1" "$_pid"
    [ -s "$T/$1.mark" ] || finish "$1"
    [ -s "$T/$1.mark" ] || fail "$1 did not start playing"
}
jn() { jq -r "$2" "$T/$1.json"; }
mark() { sed -n "s/^$2=//p" "$T/$1.mark"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# --- 1. steering on: cdn-a, then cdn-b when the manifest says so ------------
play hls1 hls "$HLS" 20
play dash1 dash "$DASH" 20
await_start hls1
await_start dash1
say "both playing: hls.js started $(mark hls1 start_ms), dash.js $(mark dash1 start_ms)"
sleep 8
t_flip=$(now_ms)
steer cdn-b cdn-a
say "steering manifest: cdn-b first at $t_flip"
finish hls1
finish dash1

for n in hls1 dash1; do
    say "$n: $(jn $n '.player + " " + .player_version'): start-up $(jn $n .startup_ms) ms," \
        "$(jn $n '.segments|length') segments, $(jn $n '.steering_requests|length') steering requests," \
        "$(jn $n '.errors|length') errors"
    say "$n: steering query: $(jn $n '[.steering_requests[].query]|unique|tostring' | cut -c1-300)"
    assert_eq "$n: first pathway host" "$(jn $n .first_host)" "127.0.0.2:$((PORT + 1))"
    assert_eq "$n: segments on cdn-b before the flip" \
        "$(jn $n "[.segments[]|select(.t_ms < $t_flip and (.host|startswith(\"127.0.0.3\")))]|length")" 0
    other=$(jn $n .first_other_pathway_ms)
    [ "$other" != null ] || fail "$n: never moved to cdn-b: $(jn $n '.steering_requests|tostring' | cut -c1-600)"
    assert_eq "$n: moved to" "$(jn $n .first_other_host)" "127.0.0.3:$((PORT + 1))"
    assert_le "$n: ms from the flip to the first cdn-b segment" $((other - t_flip)) 8000
    assert_eq "$n: segments on cdn-a after the move" \
        "$(jn $n "[.segments[]|select(.t_ms > $other + 500 and (.host|startswith(\"127.0.0.2\")))]|length")" 0
    say "$n: stalls with steering: $(jn $n .stall_count), $(jn $n .stall_seconds) s" \
        "($(jn $n '[.stalls[]|{s:.seconds, ahead:.buffer_ahead_s}]|tostring'))"
    assert_eq "$n: stalls on an empty buffer, with steering" "$(jn $n .empty_stall_count)" 0
    assert_eq "$n: fatal errors" "$(jn $n .fatal_errors)" 0
done

# --- 2. steering off: cdn-a slows, then dies ---------------------------------
steer cdn-a cdn-b
play hls2 hls "$(origin_url)/hls/master-a-last.m3u8" 28 --steering-off
play dash2 dash "$DASH" 28 --steering-off
await_start hls2
await_start dash2
sleep 4
# the stream takes about 46 kB/s: below that the buffer drains
t_ramp=$(now_ms)
edge_ctl a 'bandwidth 200k..8k over 4s exp' || fail "edge_ctl a"
say "cdn-a slows down from $t_ramp"
sleep 12
t_kill=$(now_ms)
edge_kill a
"$TOP/tests/tools/httpget" -t 1 "$(edge_url a)/healthz" > /dev/null 2>&1 && fail "cdn-a still answers after edge_kill"
say "cdn-a killed at $t_kill"
finish hls2
finish dash2

for n in hls2 dash2; do
    assert_eq "$n: first pathway host" "$(jn $n .first_host)" "127.0.0.2:$((PORT + 1))"
    other=$(jn $n .first_other_pathway_ms)
    if [ "$other" = null ]; then moved="never moved to cdn-b"
    else moved="first cdn-b segment $((other - t_kill)) ms after the kill"; fi
    ramp=".stalls[]|select(.end_ms > $t_ramp)"
    kill=".stalls[]|select(.end_ms > $t_kill)"
    say "$n: steering off, cdn-a slowed then killed: stalls since it slowed: $(jn $n "[$ramp]|length")," \
        "$(jn $n "[$ramp|.seconds]|add // 0") s, since the kill: $(jn $n "[$kill|.seconds]|add // 0") s; $moved;" \
        "$(jn $n '.errors|length') errors ($(jn $n .fatal_errors) fatal)"
    say "$n: all stalls: $(jn $n '[.stalls[]|{from_ramp_ms:(.start_ms - '"$t_ramp"'), s:.seconds, ahead:.buffer_ahead_s, open}]|tostring')"
done
edges_stop
pass
