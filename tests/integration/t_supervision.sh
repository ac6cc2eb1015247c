#!/bin/sh
# The health agents on a real job: a live stream with a standby encoder
# (an error injected into the primary), run with the data store and the
# metrics endpoint.
#   - while it runs: promtool finds nothing to say about /metrics, and a
#     real Prometheus on loopback scrapes it and answers a query for the
#     encoder's frame counter;
#   - after: the store holds a series for every component (input, encoder,
#     audio encoder, output, edge, host) and the failure and switch events,
#     and hds export writes them as CSV;
#   - a second run is killed with SIGKILL: the store is consistent
#     (integrity_check ok) and holds its ticks up to the kill.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe sqlite3 promtool prometheus
GET=$TOP/tests/tools/httpget
PORT=19140
PROM_PORT=19191

job "$T/job.yaml" <<EOF
version: 1
supervisor:
  tick: 500ms
  hds: { path: $T/run.hds, retention: 1d }
  metrics: 127.0.0.1:$PORT
streams:
  - name: news
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: true }
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s,
          options: { preset: veryfast }, backup: { encoder: libx264 } }
    outputs:
      - { name: hls, format: hls, url: $T/out/index.m3u8, options: { hls_list_size: 0 } }
    duration: 12s
    faults:
      - { at: 3s, component: enc:main, fault: error }
EOF

sed "s|@TARGET@|127.0.0.1:$PORT|" "$TOP/tests/peers/prometheus.yml.in" > "$T/prometheus.yml"
bg prometheus --config.file="$T/prometheus.yml" --web.listen-address=127.0.0.1:$PROM_PORT \
    --storage.tsdb.path="$T/prom-data" --log.level=warn
bg "$HS" run --events "$T/events.jsonl" "$T/job.yaml"
HSPID=$BG_PID
wait_for 10 "$GET" http://127.0.0.1:$PORT/metrics || fail "the metrics endpoint does not answer"

# the endpoint, as Prometheus tooling sees it
sleep 1
"$GET" http://127.0.0.1:$PORT/metrics > "$T/metrics.prom" || fail "GET /metrics"
promtool check metrics < "$T/metrics.prom" > "$T/promtool.out" 2>&1 ||
    fail "promtool check metrics: $(head -5 "$T/promtool.out")"
[ -s "$T/promtool.out" ] && fail "promtool: $(head -5 "$T/promtool.out")"
for m in hotspare_ingest_up hotspare_encoder_frames_out_total hotspare_encoder_latency_p50_seconds \
         hotspare_output_up hotspare_edge_up hotspare_process_cpu_seconds_total hotspare_encoder_cpu_seconds_total; do
    grep -q "^$m" "$T/metrics.prom" || fail "no $m on /metrics"
done
grep -q 'component="main"' "$T/metrics.prom" || fail "no series for the rendition"
say "promtool check metrics: clean; every component kind present"

wait_for 15 "$GET" http://127.0.0.1:$PROM_PORT/-/ready || fail "prometheus not ready"
query='hotspare_encoder_frames_out_total%7Bstream%3D%22news%22%2Ccomponent%3D%22main%22%7D'
wait_for 20 sh -c "'$GET' 'http://127.0.0.1:$PROM_PORT/api/v1/query?query=$query' > '$T/q.json' &&
                   grep -q '\"result\":\[{' '$T/q.json'" ||
    fail "prometheus did not answer a query for the encoder: $(cat "$T/q.json")"
say "prometheus scraped the job and answered: $(head -c 200 "$T/q.json")"

wait "$HSPID"; rc=$?
assert_eq "exit status" $rc 0

# the store: every component's series and the failure events
"$HS" hds stats "$T/run.hds" > "$T/stats.txt" || fail "hds stats"
cat "$T/stats.txt"
"$HS" hds export "$T/run.hds" --out "$T/samples.csv" --events "$T/events.csv" || fail "hds export"
for kc in "news,ingest,input" "news,encoder,main" "news,encoder,audio" "news,output,hls" \
          "news,edge,hls" ",host,host"; do
    n=$(grep -c ",$kc," "$T/samples.csv")
    assert_ge "ticks of $kc" "$n" 15
done
grep -q ',news,encoder,main,backup,' "$T/samples.csv" || fail "no tick of the encoder on its standby"
grep 'enc:main' "$T/events.csv" | grep -q 'failure' || fail "the encoder's failure is not stored"
grep 'enc:main' "$T/events.csv" | grep -q 'switch' || fail "the switch is not stored"
ticks=$(sqlite3 "$T/run.hds" 'select count(*) from tick')
assert_ge "ticks stored (12 s at 500 ms)" "$ticks" 22

# a kill -9 in the middle of a run
rm -rf "$T/out"
sed -e "s|$T/run.hds|$T/killed.hds|" -e "s|metrics: .*|tick: 500ms|" "$T/job.yaml" |
    awk '!(/tick: 500ms/ && seen++)' > "$T/kill.yaml"
bg "$HS" -v error run "$T/kill.yaml"
KPID=$BG_PID
sleep 4
kill -9 "$KPID"
wait "$KPID" 2>/dev/null
assert_eq "integrity after kill -9" "$(sqlite3 "$T/killed.hds" 'pragma integrity_check')" ok
ticks=$(sqlite3 "$T/killed.hds" 'select count(*) from tick')
assert_ge "ticks stored before the kill (about 4 s at 500 ms)" "$ticks" 6
"$HS" hds stats "$T/killed.hds" > /dev/null || fail "hds stats after the kill"
pass
