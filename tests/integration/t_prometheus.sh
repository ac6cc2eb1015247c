#!/bin/sh
#
# t_prometheus: the metrics endpoint (src/hma/metrics.c, served by
# tests/tools/metricsd with synthetic samples) as Prometheus tooling sees it:
#   - a non-loopback address is refused unless allowed;
#   - GET /metrics answers text 0.0.4 with its Content-Type, and
#     promtool check metrics finds nothing to say about it;
#   - one # HELP and one # TYPE per metric name, before its samples;
#   - Accept: application/openmetrics-text gets OpenMetrics, ending in # EOF;
#   - other paths are 404;
#   - a real Prometheus on loopback scrapes it (target up) and answers a
#     query for an encoder counter of one stream and component; it asks for
#     OpenMetrics, so its parser checks that format too.
# Ports 19100-19199. Exit 0 pass, 77 skip, other fail.

. "$(dirname "$0")/../lib/common.sh"

need promtool prometheus
MD=$TOP/tests/tools/metricsd
GET=$TOP/tests/tools/httpget
[ -x "$MD" ] && [ -x "$GET" ] || fail "tests/tools not built (make testprogs)"
PORT=19101
PROM_PORT=19190

# ---- refusing to publish topology beyond loopback -----------------------
"$MD" --addr 0.0.0.0:19102 > "$T/remote.out" 2>&1
rc=$?
assert_eq "exit status on 0.0.0.0 without --allow-remote" "$rc" 1
grep -q "not a loopback address" "$T/remote.out" || fail "no reason given: $(cat "$T/remote.out")"

bg "$MD" --addr 127.0.0.1:$PORT --comps 30 --interval-ms 200 > "$T/md.out"
MD_PID=$BG_PID
# metricsd prints its port; we gave it one, so wait for it to accept
wait_for 5 "$GET" http://127.0.0.1:$PORT/metrics || fail "metricsd does not answer on $PORT"

# ---- text 0.0.4 ------------------------------------------------------------
"$GET" -i http://127.0.0.1:$PORT/metrics > "$T/text.http" || fail "GET /metrics failed"
ctype=$(tr -d '\r' < "$T/text.http" | awk -F': ' 'tolower($1) == "content-type" { print $2 }')
assert_eq "text Content-Type" "$ctype" "text/plain; version=0.0.4; charset=utf-8"
"$GET" http://127.0.0.1:$PORT/metrics > "$T/text.prom" || fail "GET /metrics failed"
promtool check metrics < "$T/text.prom" > "$T/promtool.out" 2>&1
rc=$?
[ $rc = 0 ] && [ ! -s "$T/promtool.out" ] || fail "promtool check metrics ($rc): $(head -5 "$T/promtool.out")"
say "promtool check metrics: clean"
# each name: one HELP, one TYPE, before its first sample
awk '
    /^# HELP / { if (help[$3]++) { print "second HELP for " $3; bad = 1 } next }
    /^# TYPE / { if (type[$3]++) { print "second TYPE for " $3; bad = 1 } next }
    /^#/ { next }
    { n = $1; sub(/[{ ].*/, "", n); if (!type[n] || !help[n]) { print "sample before HELP/TYPE: " n; bad = 1 } }
    END { exit bad }' "$T/text.prom" || fail "HELP/TYPE rules"
grep -q '^hotspare_encoder_frames_out_total{stream="s0001",component="720p",role="primary"} [0-9]' "$T/text.prom" ||
    fail "no encoder counter for s0001/720p"
grep -q '^hotspare_gpu_up{gpu="gpu0"} 1$' "$T/text.prom" || fail "no GPU sample labelled gpu=\"gpu0\""
grep -q '^hotspare_process_cpu_seconds_total [0-9]' "$T/text.prom" || fail "no host sample without labels"
grep -q 'role="backup"' "$T/text.prom" || fail "no backup component"
grep -q '^hotspare_build_info{version="[^"]*"} 1$' "$T/text.prom" || fail "no build_info"
grep -q '^hotspare_tick [0-9]*$' "$T/text.prom" || fail "no hotspare_tick"
say "labels: stream/component/role, gpu, none for the host"

# ---- OpenMetrics ---------------------------------------------------------------
"$GET" -i -H "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5" \
    http://127.0.0.1:$PORT/metrics | tr -d '\r' > "$T/om.http" || fail "GET /metrics (OpenMetrics) failed"
ctype=$(awk -F': ' 'tolower($1) == "content-type" { print $2 }' "$T/om.http")
assert_eq "OpenMetrics Content-Type" "$ctype" "application/openmetrics-text; version=1.0.0; charset=utf-8"
assert_eq "last line" "$(tail -n 1 "$T/om.http")" "# EOF"
grep -q '^# TYPE hotspare_encoder_frames_out counter$' "$T/om.http" || fail "OpenMetrics counter family keeps _total"
grep -q '^hotspare_encoder_frames_out_total{' "$T/om.http" || fail "OpenMetrics counter samples lost _total"
grep -q '^# TYPE hotspare_build info$' "$T/om.http" || fail "no info family"

"$GET" http://127.0.0.1:$PORT/other > /dev/null 2>&1 && fail "GET /other answered 2xx"
say "/other: not found"

# ---- a real Prometheus scrapes it ------------------------------------------------
sed "s|@TARGET@|127.0.0.1:$PORT|" "$TOP/tests/peers/prometheus.yml.in" > "$T/prometheus.yml"
promtool check config "$T/prometheus.yml" > "$T/promconf.out" 2>&1 || fail "promtool check config: $(cat "$T/promconf.out")"
bg prometheus --config.file="$T/prometheus.yml" --web.listen-address=127.0.0.1:$PROM_PORT \
    --storage.tsdb.path="$T/prom-data" --log.level=warn
wait_for 15 "$GET" http://127.0.0.1:$PROM_PORT/-/ready || fail "prometheus not ready"
# hotspare_encoder_frames_out_total{stream="s0001",component="720p"}
query='hotspare_encoder_frames_out_total%7Bstream%3D%22s0001%22%2Ccomponent%3D%22720p%22%2Crole%3D%22primary%22%7D'
wait_for 20 sh -c "'$GET' 'http://127.0.0.1:$PROM_PORT/api/v1/query?query=$query' > '$T/q.json' &&
                   grep -q '\"result\":\[{' '$T/q.json'" || {
    "$GET" http://127.0.0.1:$PROM_PORT/api/v1/targets > "$T/targets.json" 2>&1
    fail "no answer to the query: $(cat "$T/q.json") targets: $(head -c 600 "$T/targets.json")"
}
value=$(sed 's/.*"value":\[[0-9.]*,"\([0-9.e+]*\)"\].*/\1/' "$T/q.json")
assert_ge "queried hotspare_encoder_frames_out_total" "$value" 1
"$GET" http://127.0.0.1:$PROM_PORT/api/v1/targets > "$T/targets.json" || fail "targets"
grep -q '"health":"up"' "$T/targets.json" || fail "target not up: $(head -c 600 "$T/targets.json")"
say "prometheus: target up, query answered"

# metricsd counts the scrapes per format: ours was one OpenMetrics scrape,
# Prometheus's must have been the others
kill "$MD_PID"
wait "$MD_PID"
BG_PIDS=$(echo "$BG_PIDS" | sed "s/ $MD_PID//")
om=$(sed -n 's/.*openmetrics=\([0-9]*\).*/\1/p' "$T/md.out")
assert_ge "OpenMetrics scrapes (ours: 1, the rest Prometheus's)" "$om" 2
pass
