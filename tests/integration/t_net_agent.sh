#!/bin/sh
# The network, disk and memory agents on a real job: a live stream read
# from a real nginx over RTMP (ffmpeg publishes it there), pushed back to
# the same nginx under another name and to a second nginx, and recorded as
# HLS files, with the data store and the metrics endpoint.
#   - /metrics carries the TCP figures of the input's connection and of the
#     RTMP output's edge, one connection each although both go to the same
#     address and port (told apart by the way their data goes), and none
#     for the HLS output's edge (files: absent, never 0); the filesystem of
#     the HLS output and of the store (free, size, fill rate); the
#     process's memory growth;
#   - the second nginx hung (SIGSTOP of its master and worker: alive, reading
#     nothing): its kernel still acknowledges what fits in its receive
#     buffer, so the window shrinks, then closes (seconds, by the rate);
#     then what hotspare writes waits unsent and no data goes out (the
#     age of the last data sent grows). Figures read from /metrics: the
#     test reads no socket itself.
# Ports 19360, 18360, 19361, 19362, 18362. Exit 0 pass, 77 skip, other fail.
. "$(dirname "$0")/../lib/common.sh"
need promtool
. "$TOP/tests/lib/nginx.sh"
GET=$TOP/tests/tools/httpget
RTMP=19360; HTTP=18360; PORT=19361; RTMP2=19362; HTTP2=18362

nginx_start peer $RTMP $HTTP
nginx_start hung $RTMP2 $HTTP2
rtmp_publish $RTMP src testsrc2
job "$T/job.yaml" <<EOF
version: 1
supervisor:
  tick: 500ms
  hds: { path: $T/store/run.hds }
  metrics: 127.0.0.1:$PORT
streams:
  - name: net
    input: { url: "rtmp://127.0.0.1:$RTMP/live/src", loss_timeout: 2s }
    renditions:
      # qp 4: a few Mbit/s (what an ingest takes), so that a hung peer's
      # window closes in about a second
      - { name: main, width: 320, height: 180, bitrate: 4M, gop: 1s,
          options: { preset: ultrafast, tune: zerolatency, qp: "4" } }
    outputs:
      - { name: push, format: flv, url: "rtmp://127.0.0.1:$RTMP/live/net" }
      - { name: far, format: flv, url: "rtmp://127.0.0.1:$RTMP2/live/net", rw_timeout: 60s, stall_timeout: 60s }
      - { name: hls, format: hls, url: $T/out/index.m3u8, options: { hls_list_size: 0 } }
    duration: 120s                # ended by the test; long enough on a loaded machine
EOF
mkdir -p "$T/store" "$T/out"
bg "$HS" run "$T/job.yaml"
HSPID=$BG_PID

# one metric of one component: metric stream/component -> value or ""
m() {
    awk -v n="$1" -v c="component=\"$2\"" '
        index($0, n "{") == 1 && index($0, c) { print $2; exit }
        $1 == n { print $2; exit }' "$3"
}
scrape() { "$GET" http://127.0.0.1:$PORT/metrics > "$1" || fail "GET /metrics"; }

wait_for 15 sh -c "'$GET' http://127.0.0.1:$PORT/metrics | grep -q '^hotspare_edge_tcp_connections{.*component=\"far\"'" ||
    fail "no TCP figures for the RTMP output's edge"
# the publisher's stream may take seconds to come through nginx: the push
# output must be writing before "healthy" means anything
wait_for 20 sh -c "'$GET' http://127.0.0.1:$PORT/metrics | awk '/^hotspare_output_packets_total\\{.*component=\"push\"/ && \$2 > 0 { ok = 1 } END { exit !ok }'" ||
    fail "the RTMP output never wrote a packet"
sleep 3
scrape "$T/a.prom"
promtool check metrics < "$T/a.prom" > "$T/promtool.out" 2>&1 ||
    fail "promtool check metrics: $(head -5 "$T/promtool.out")"
[ -s "$T/promtool.out" ] && fail "promtool: $(head -5 "$T/promtool.out")"
grep '^hotspare_edge_.*component="push"' "$T/a.prom"
assert_eq "TCP connections of the RTMP edge" "$(m hotspare_edge_tcp_connections push "$T/a.prom")" 1
assert_eq "TCP connections of the other RTMP edge" "$(m hotspare_edge_tcp_connections far "$T/a.prom")" 1
for n in rtt_seconds rtt_variance_seconds retransmits_total lost_packets unacked_bytes notsent_bytes \
         delivery_rate_bytes_per_second last_ack_age_seconds last_data_received_age_seconds \
         last_data_sent_age_seconds receive_queue_bytes; do
    [ -n "$(m hotspare_edge_$n push "$T/a.prom")" ] || fail "no hotspare_edge_$n for the RTMP output"
done
rtt=$(m hotspare_edge_rtt_seconds push "$T/a.prom")
assert_le "RTT on loopback (s)" "$rtt" 0.05
assert_ge "RTT on loopback (s)" "$rtt" 0.000001
assert_le "age of the last data sent, healthy (s)" "$(m hotspare_edge_last_data_sent_age_seconds push "$T/a.prom")" 0.5
grep '^hotspare_ingest_.*component="input"' "$T/a.prom" | grep -v '_total\|_up\|packet\|latency\|jitter\|throughput\|risk'
assert_eq "TCP connections of the RTMP input" "$(m hotspare_ingest_tcp_connections input "$T/a.prom")" 1
assert_le "age of the last data received by the input (s)" \
    "$(m hotspare_ingest_last_data_received_age_seconds input "$T/a.prom")" 0.5
[ -n "$(m hotspare_ingest_receive_queue_bytes input "$T/a.prom")" ] || fail "no receive queue for the input"
# the HLS output writes files: no TCP figures, not zeros
[ -z "$(m hotspare_edge_tcp_connections hls "$T/a.prom")" ] || fail "TCP figures for a file output's edge"
[ -z "$(m hotspare_edge_rtt_seconds hls "$T/a.prom")" ] || fail "an RTT for a file output's edge"
# filesystems: the HLS output's and the store's, as df sees them
free=$(m hotspare_output_filesystem_free_bytes hls "$T/a.prom")
size=$(m hotspare_output_filesystem_size_bytes hls "$T/a.prom")
dfsize=$(df -B1 --output=size "$T/out" | tail -1)
assert_eq "size of the HLS output's filesystem" "$(printf '%.0f' "$size")" "$dfsize"
assert_ge "free bytes of the HLS output's filesystem" "$free" 1
[ -n "$(m hotspare_output_filesystem_fill_rate_bytes_per_second hls "$T/a.prom")" ] || fail "no fill rate for the HLS output"
[ -z "$(m hotspare_output_filesystem_free_bytes push "$T/a.prom")" ] || fail "a filesystem for the RTMP output"
assert_eq "store filesystem size" "$(printf '%.0f' "$(m hotspare_host_store_filesystem_size_bytes host "$T/a.prom")")" \
    "$(df -B1 --output=size "$T/store" | tail -1)"
[ -n "$(m hotspare_process_resident_memory_growth_bytes_per_second host "$T/a.prom")" ] || fail "no RSS growth"
say "healthy: edge, filesystems and memory figures present"

# ---- the second nginx hangs ----
# a stopped worker outlives its killed master: resume both whatever happens
resume() {
    pkill -CONT -P "$NGINX_PID_hung" 2>/dev/null
    kill -CONT "$NGINX_PID_hung" 2>/dev/null
}
trap 'resume; cleanup' EXIT
kill -STOP "$NGINX_PID_hung"
pkill -STOP -P "$NGINX_PID_hung"
t0=$(date +%s.%N)
# the peer's kernel takes what fits in its receive buffer, then its window
# closes: how soon depends on the rate and the buffer (seconds here)
closed=
i=0
while [ $i -lt 40 ]; do
    sleep 0.5
    scrape "$T/b.prom"
    w=$(m hotspare_edge_peer_window_bytes far "$T/b.prom")
    ns=$(m hotspare_edge_notsent_bytes far "$T/b.prom")
    if [ -n "$w" ] && awk -v w="$w" -v n="$ns" 'BEGIN { exit !(w < 4096 && n > 0) }'; then
        closed=$(date +%s.%N)
        break
    fi
    i=$((i + 1))
done
[ -n "$closed" ] || fail "the hung peer's window never closed: window $w, not sent $ns"
say "window closed $(awk -v a="$t0" -v b="$closed" 'BEGIN { printf "%.1f", b - a }') s after the SIGSTOP"
sleep 2
scrape "$T/c.prom"
resume
for f in a b c; do
    say "$f: window=$(m hotspare_edge_peer_window_bytes far "$T/$f.prom") notsent=$(m hotspare_edge_notsent_bytes far "$T/$f.prom")" \
        "unacked=$(m hotspare_edge_unacked_bytes far "$T/$f.prom") last_ack_age=$(m hotspare_edge_last_ack_age_seconds far "$T/$f.prom")" \
        "last_sent_age=$(m hotspare_edge_last_data_sent_age_seconds far "$T/$f.prom") throughput=$(m hotspare_edge_throughput_bytes_per_second far "$T/$f.prom")"
done
# two seconds later: still closed, what waits has not gone down, nothing
# has been sent since it closed
assert_le "peer window 2 s later" "$(m hotspare_edge_peer_window_bytes far "$T/c.prom")" 4095
assert_ge "bytes not sent 2 s later" "$(m hotspare_edge_notsent_bytes far "$T/c.prom")" \
    "$(m hotspare_edge_notsent_bytes far "$T/b.prom")"
assert_ge "age of the last data sent 2 s later (s)" \
    "$(m hotspare_edge_last_data_sent_age_seconds far "$T/c.prom")" 1.5
kill "$HSPID"
wait "$HSPID"
pass
