# tests/lib/etcd.sh: a private 3-member etcd cluster on loopback for a test.
#
#   etcd_start BASE          starts members e1 e2 e3 with data in $T/etcd/,
#                            client ports BASE, BASE+1, BASE+2 and peer ports
#                            BASE+10.. (--initial-cluster-state new); waits
#                            until the cluster has a leader; sets ETCD_URLS
#                            (YAML list body) and ETCD_URL1..3
#   etcd_kill N              kill -9 member N (1..3)
#   etcd_stop_all / etcd_cont_all   SIGSTOP / SIGCONT every member: etcd
#                            unreachable (connections hang) without losing
#                            its data
#   etcd_get PREFIX          the keys under PREFIX as "KEY=VALUE" lines
#
# With ETCD_NETNS set (a network namespace the test made), the members run
# inside it, listening on every address there, and advertise ETCD_HOST
# (default 127.0.0.1); etcd_get asks from inside it too.
#
# Skips (77) when etcd is not installed (./configure --install-deps installs
# etcd-server).

need etcd curl base64 python3
ETCD_FLAGS="--heartbeat-interval 100 --election-timeout 1000 --log-level error"

etcd_start() {
    _b=$1
    _ns= _listen=127.0.0.1 _host=${ETCD_HOST:-127.0.0.1}
    [ -n "${ETCD_NETNS:-}" ] && _ns="ip netns exec $ETCD_NETNS" _listen=0.0.0.0
    _cluster="e1=http://127.0.0.1:$((_b + 10)),e2=http://127.0.0.1:$((_b + 11)),e3=http://127.0.0.1:$((_b + 12))"
    ETCD_URLS=
    for _i in 1 2 3; do
        _c=$((_b + _i - 1)); _p=$((_b + 9 + _i))
        mkdir -p "$T/etcd/e$_i"
        bg $_ns etcd --name "e$_i" --data-dir "$T/etcd/e$_i" $ETCD_FLAGS \
            --listen-client-urls "http://$_listen:$_c" --advertise-client-urls "http://$_host:$_c" \
            --listen-peer-urls "http://127.0.0.1:$_p" --initial-advertise-peer-urls "http://127.0.0.1:$_p" \
            --initial-cluster "$_cluster" --initial-cluster-state new --initial-cluster-token "$TESTNAME" \
            > "$T/etcd/e$_i.log" 2>&1
        eval "ETCD_PID_$_i=$BG_PID"
        eval "ETCD_URL$_i=http://$_host:$_c"
        ETCD_URLS="$ETCD_URLS${ETCD_URLS:+, }\"http://$_host:$_c\""
    done
    # a write goes through once there is a leader and a quorum
    wait_for 20 $_ns curl -sf -m 1 "http://$_host:$_b/v3/kv/put" \
        -d "{\"key\":\"$(printf /ready | base64)\",\"value\":\"\"}" ||
        fail "etcd did not start: $(tail -3 "$T/etcd/e1.log")"
}

etcd_kill() {
    eval "kill -9 \$ETCD_PID_$1" 2>/dev/null
}

etcd_stop_all() {
    for _i in 1 2 3; do eval "kill -STOP \$ETCD_PID_$_i" 2>/dev/null; done
}

etcd_cont_all() {
    for _i in 1 2 3; do eval "kill -CONT \$ETCD_PID_$_i" 2>/dev/null; done
}

etcd_get() {
    ${ETCD_NETNS:+ip netns exec $ETCD_NETNS} python3 - "$1" $ETCD_URL1 $ETCD_URL2 $ETCD_URL3 <<'EOF2'
import sys, json, base64, urllib.request
p = sys.argv[1].encode()
body = json.dumps({"key": base64.b64encode(p).decode(),
                   "range_end": base64.b64encode(p[:-1] + bytes([p[-1] + 1])).decode()}).encode()
for url in sys.argv[2:]:
    try:
        a = json.load(urllib.request.urlopen(url + "/v3/kv/range", body, timeout=1))
    except Exception:
        continue
    for kv in a.get("kvs", []):
        print(base64.b64decode(kv["key"]).decode() + "=" + base64.b64decode(kv.get("value", "")).decode())
    break
EOF2
}
