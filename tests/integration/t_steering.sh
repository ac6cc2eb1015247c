#!/bin/sh
# Content Steering with real players (slow: real time, headless Chromium).
# hotspare packages one live stream as HLS and DASH, uploaded by PUT to an
# origin (nginx WebDAV); two CDN edges, nginx caching proxies on 127.0.0.2
# and 127.0.0.3 each behind a fault proxy (tests/lib/edges.sh), are the
# pathways cdn-a and cdn-b; the supervisor's HTTP endpoint serves the
# steering manifests and its synthetic viewers watch both edges.
#
# For each of HLS (hls.js) and DASH (dash.js), two players at once through
# cdn-a: one steered by hotspare, one whose steering server is out of
# reach (--block: it keeps the playlist's first pathway and has only its
# own pathway penalty). cdn-a degrades gradually (its proxy's delay ramps
# up), then is killed. Checked: hotspare demotes cdn-a on risk before it is
# killed; the steered player moves to cdn-b before the kill, without a
# stall on an empty buffer; what the other player went through is
# reported. Besides: the playlists and the MPD carry the pathways, a
# malformed steering query gets a 400, ctl steer pins and releases the
# order, ctl status shows each pathway's priority, the metrics have the
# edges' figures, and cdn-a is promoted again once healthy.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/players.sh"
players_need

PORT=18440
MP=18445
# DASH players need the server's time (UTCTiming, libav's utc_timing_url):
# without it dash.js asks time servers on the internet, and fails
cat > "$T/origin-extra.conf" <<EOF
location = /time { add_header Access-Control-Allow-Origin * always; return 200 "\$time_iso8601"; }
EOF
EDGES_ORIGIN_CONF=$T/origin-extra.conf
. "$TOP/tests/lib/edges.sh"
edges_start $PORT a b
A=$(edge_url a) B=$(edge_url b) O=$(origin_url)
say "origin $O, cdn-a $A, cdn-b $B"

SOCK=$T/hs.sock
job "$T/job.yaml" <<EOF
version: 1
supervisor:
  tick: 1s
  metrics: { listen: "127.0.0.1:$MP" }
  control: $SOCK
  hds: { path: $T/store.hds }
streams:
  - name: news
    input: { url: "$(lavfi_src 320 180 15)", format: lavfi, realtime: true }
    audio: { bitrate: 64k }
    renditions:
      - { name: v180, width: 320, height: 180, bitrate: 300k, gop: 2s,
          options: { preset: veryfast, profile: main } }
    switch_back: 10s
    outputs:
      - name: hls
        format: hls
        url: $O/live/index.m3u8
        options: { hls_time: 2, hls_list_size: 10, hls_flags: independent_segments }
        pathways:
          - { id: cdn-a, base: "$A/live/" }
          - { id: cdn-b, base: "$B/live/" }
        steering: { uri: "http://127.0.0.1:$MP/steer/news.json", ttl: 2s }
      - name: dash
        format: dash
        url: $O/dash/news.mpd
        options: { seg_duration: 2, window_size: 10, extra_window_size: 5,
                   adaptation_sets: "id=0,streams=v id=1,streams=a", utc_timing_url: "$O/time" }
        pathways:
          - { id: cdn-a, base: "$A/dash/" }
          - { id: cdn-b, base: "$B/dash/" }
        steering: { uri: "http://127.0.0.1:$MP/steer/news-dash.json", ttl: 2s }
EOF
"$HS" check "$T/job.yaml" > "$T/check.log" 2>&1 || fail "check: $(cat "$T/check.log")"
bg "$HS" run --events "$T/events.jsonl" "$T/job.yaml"
HSPID=$BG_PID
W=$EDGES_WWW
wait_for 30 grep -q 'v180_00002' "$W/live/v180.m3u8" || fail "no HLS on the origin"
wait_for 30 sh -c "ls '$W/dash' | grep -q 'chunk-stream0-00003'" || fail "no DASH on the origin"

# --- the documents players read ------------------------------------------------
M=$W/live/index.m3u8
assert_eq "EXT-X-CONTENT-STEERING lines" "$(grep -c '^#EXT-X-CONTENT-STEERING:SERVER-URI="http://127.0.0.1:'$MP'/steer/news.json",PATHWAY-ID="cdn-a"$' "$M")" 1
assert_eq "variants with PATHWAY-ID cdn-a" "$(grep -c 'PATHWAY-ID="cdn-a"' "$M")" 2   # the tag and one variant
assert_eq "variant URI through cdn-b" "$(grep -c "^$B/live/v180.m3u8\$" "$M")" 1
grep -q "<BaseURL serviceLocation=\"cdn-b\">$B/dash/</BaseURL>" "$W/dash/news.mpd" || fail "no cdn-b BaseURL in the MPD"
grep -q "<ContentSteering defaultServiceLocation=\"cdn-a\" queryBeforeStart=\"true\">http://127.0.0.1:$MP/steer/news-dash.json</ContentSteering>" \
    "$W/dash/news.mpd" || fail "no ContentSteering in the MPD"
command -v xmllint > /dev/null && { xmllint --noout "$W/dash/news.mpd" || fail "the MPD is not well-formed"; }

# --- the steering server ----------------------------------------------------------
G=$TOP/tests/tools/httpget
man=$("$G" "http://127.0.0.1:$MP/steer/news.json?_HLS_pathway=cdn-a&_HLS_throughput=800000") || fail "no steering manifest"
assert_eq "steering manifest" "$man" '{"VERSION":1,"TTL":2,"RELOAD-URI":"http://127.0.0.1:'$MP'/steer/news.json","PATHWAY-PRIORITY":["cdn-a","cdn-b"]}'
"$G" -i "http://127.0.0.1:$MP/steer/news.json?_HLS_throughput=fast" > "$T/bad.txt" 2> /dev/null
assert_eq "malformed steering query" "$(head -n 1 "$T/bad.txt" | cut -d' ' -f2)" 400
grep -q 'bad steering query: the throughput is not a list of bit/s' "$T/bad.txt" || fail "no reason: $(cat "$T/bad.txt")"
"$G" -i "http://127.0.0.1:$MP/steer/news.json?_DASH_pathway=%22cdn%20a%22" > "$T/bad2.txt" 2> /dev/null
assert_eq "a pathway id with a space" "$(head -n 1 "$T/bad2.txt" | cut -d' ' -f2)" 400

# --- ctl steer and status ------------------------------------------------------------
"$HS" ctl --socket "$SOCK" steer news/hls cdn-b > "$T/pin.txt" || fail "ctl steer: $(cat "$T/pin.txt")"
wait_for 5 sh -c "'$G' 'http://127.0.0.1:$MP/steer/news.json' | grep -q '\"cdn-b\",\"cdn-a\"'" ||
    fail "ctl steer did not reach the manifest"
"$HS" ctl --socket "$SOCK" status > "$T/status.txt"
grep -q 'edge:hls:cdn-b .*priority 1 (pinned)' "$T/status.txt" || fail "status: $(cat "$T/status.txt")"
"$HS" ctl --socket "$SOCK" steer news/hls cdn-x 2> "$T/pin2.txt"
assert_eq "ctl steer to an unknown pathway" $? 1
grep -q 'news/hls has no pathway cdn-x (it has cdn-a cdn-b)' "$T/pin2.txt" || fail "$(cat "$T/pin2.txt")"
"$HS" ctl --socket "$SOCK" steer news/hls --auto > /dev/null || fail "ctl steer --auto"
wait_for 5 sh -c "'$G' 'http://127.0.0.1:$MP/steer/news.json' | grep -q '\"cdn-a\",\"cdn-b\"'" ||
    fail "ctl steer --auto did not give the order back"
"$HS" ctl --socket "$SOCK" graph > "$T/graph.dot"
grep -q '"news/edge:hls" -> "news/edge:hls:cdn-a"' "$T/graph.dot" || fail "no pathway in the graph"

# --- players ---------------------------------------------------------------------------
ev_ms() {   # ev_ms PATTERN: epoch ms of the first event matching PATTERN, after line $2
    _l=$(tail -n +"${2:-1}" "$T/events.jsonl" | grep -m 1 -- "$1" | sed 's/.*"time":"\([^"]*\)".*/\1/')
    [ -n "$_l" ] && echo $(($(date -d "$_l" +%s%N) / 1000000))
}

# run NAME PLAYER SRC: the steered player and the one without its steering
# server through cdn-a; cdn-a slows, is demoted, then killed
run() {
    r_n=$1 r_p=$2 r_s=$3
    _from=$(($(wc -l < "$T/events.jsonl") + 1))
    play "${r_n}_on" "$r_p" "$r_s" 40
    play "${r_n}_off" "$r_p" "$r_s" 40 --block /steer/
    await_start "${r_n}_on"
    await_start "${r_n}_off"
    sleep 6
    t_ramp=$(now_ms)
    edge_ctl a 'delay 0ms..1500ms over 20s' || fail "edge_ctl a"
    say "$r_n: cdn-a slows down from $t_ramp"
    r_ev="\"component\":\"out:$r_n\",\"kind\":\"steer\".*cdn-a demoted"
    wait_for 40 sh -c "tail -n +$_from '$T/events.jsonl' | grep -q '$r_ev: risk'" ||
        fail "$r_n: cdn-a was never demoted on risk: $(grep steer "$T/events.jsonl" | tail -n 3)"
    t_demote=$(ev_ms "$r_ev" "$_from")
    wait_for 20 grep -q 'host=127.0.0.3' "$T/${r_n}_on.mark"
    sleep 4
    t_kill=$(now_ms)
    edge_kill a
    say "$r_n: cdn-a demoted $((t_demote - t_ramp)) ms into its slow-down, killed $((t_kill - t_ramp)) ms into it"
    finish "${r_n}_on"
    finish "${r_n}_off"
    on=${r_n}_on off=${r_n}_off
    moved=$(jn $on .first_other_pathway_ms)
    [ "$moved" != null ] || fail "$on never moved to cdn-b"
    assert_eq "$on: first pathway" "$(jn $on .first_host)" "127.0.0.2:$((PORT + 1))"
    assert_eq "$on: moved to" "$(jn $on .first_other_host)" "127.0.0.3:$((PORT + 1))"
    assert_le "$on: demoted (ms after the slow-down began) before the kill" $((t_demote - t_ramp)) $((t_kill - t_ramp))
    assert_le "$on: moved to cdn-b (ms after the slow-down began) before the kill" $((moved - t_ramp)) $((t_kill - t_ramp))
    # stalls that end after the slow-down began: what the fault (and the
    # steering) cost; a start-up stall is reported apart
    late="[.stalls[]|select(.end_ms > $t_ramp)]"
    assert_eq "$on: stalls on an empty buffer since the slow-down began" "$(jn $on "$late|map(select(.empty))|length")" 0
    [ "$(jn $on .fatal_errors)" = 0 ] ||
        say "$on: errors: $(jn $on '[.errors[]|select(.fatal)|{t:(.t_ms - '"$t_ramp"'), source, details, code, host}]|.[:4]|tostring' | cut -c1-900)"
    assert_eq "$on: fatal errors" "$(jn $on .fatal_errors)" 0
    say "$on: $(jn $on '.player + " " + .player_version'), $(jn $on '.steering_requests|length') steering requests," \
        "stalls since the slow-down $(jn $on "$late|length") ($(jn $on "$late|map(.seconds)|add // 0") s)," \
        "all stalls $(jn $on .stall_count) ($(jn $on .stall_seconds) s), moved $((moved - t_demote)) ms after the demotion"
    omoved=$(jn $off .first_other_pathway_ms)
    if [ "$omoved" = null ]; then om="never moved to cdn-b"; else om="moved $((omoved - t_kill)) ms after the kill"; fi
    say "$off (no steering server): stalls since the slow-down $(jn $off "$late|length"), $(jn $off "$late|map(.seconds)|add // 0") s" \
        "(all stalls $(jn $off .stall_seconds) s); $om; $(jn $off .fatal_errors) fatal errors"
    echo "$r_n steered $(jn $on "$late|map(.seconds)|add // 0") $((moved - t_ramp)) $((t_demote - t_ramp)) $((t_kill - t_ramp))" >> "$T/summary.txt"
    echo "$r_n no-server $(jn $off "$late|map(.seconds)|add // 0") $([ "$omoved" = null ] && echo - || echo $((omoved - t_ramp))) - $((t_kill - t_ramp))" >> "$T/summary.txt"
}

run hls hls "$O/live/index.m3u8"

# cdn-a back: healthy for switch_back (10 s), then promoted again
edge_start a
wait_for 40 grep -q '"kind":"steer".*cdn-a promoted: healthy' "$T/events.jsonl" ||
    fail "cdn-a was not promoted: $(grep steer "$T/events.jsonl" | tail -n 3)"
wait_for 5 sh -c "'$G' 'http://127.0.0.1:$MP/steer/news-dash.json' | grep -q '\"cdn-a\",\"cdn-b\"'" ||
    fail "the DASH manifest does not put cdn-a first again"
say "cdn-a promoted again"

run dash dash "$O/dash/news.mpd"

# the edges' figures in the metrics, the changes in the data store
"$G" "http://127.0.0.1:$MP/metrics" > "$T/metrics.txt" || fail "no metrics"
for m in hotspare_edge_steering_priority hotspare_edge_failure_risk hotspare_edge_staleness_seconds \
         hotspare_edge_segment_latency_seconds hotspare_edge_steering_requests_total; do
    grep -q "^$m{stream=\"news\",component=\"hls:cdn-b\"" "$T/metrics.txt" || fail "no $m for hls:cdn-b"
done
reqs=$(sed -n 's/^hotspare_edge_steering_requests_total{stream="news",component="hls:cdn-b".*} //p' "$T/metrics.txt")
assert_ge "steering requests from players on cdn-b" "$reqs" 1
"$HS" ctl --socket "$SOCK" stop > /dev/null
wait "$HSPID"
assert_eq "exit status after ctl stop" $? 255
"$HS" hds export "$T/store.hds" --out /dev/null --events "$T/hds-events.txt" > "$T/hds.log" 2>&1 ||
    fail "hds export: $(tail -n 2 "$T/hds.log")"
assert_ge "steering changes in the data store" "$(grep -c 'steering: PATHWAY-PRIORITY' "$T/hds-events.txt")" 4
grep -q 'failure' "$T/events.jsonl" && grep '"kind":"failure"' "$T/events.jsonl" | grep -q '"component":"out:' &&
    fail "an output failed: $(grep '"kind":"failure"' "$T/events.jsonl" | head -n 2)"
say "summary (stall s since the slow-down, ms from slow-down to move, to demotion, to kill):"
while read -r l; do say "  $l"; done < "$T/summary.txt"
edges_stop
pass
