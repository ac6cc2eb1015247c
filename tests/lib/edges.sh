# tests/lib/edges.sh: an origin and CDN edges in front of it, for tests
# that play a stream through several pathways (HLS/DASH Content Steering).
# Source after common.sh (POSIX sh). Every nginx has its own prefix and
# config file under $T/edges/NAME/; nothing touches the system's nginx.
#
#   edges_start PORT [ID...]  the origin, then edge_start for each ID (a b
#                             when none is named). The origin: nginx on
#                             127.0.0.1:PORT serving $EDGES_WWW as static
#                             files, with WebDAV PUT/DELETE (a packager can
#                             upload to origin_url), CORS, and no-store on
#                             .m3u8/.mpd/.json. EDGES_ORIGIN_CONF=FILE adds
#                             FILE's directives to its server block.
#   edge_start ID [FAULTPROXY OPTION...]
#                             (re)starts edge ID: nginx, a caching reverse
#                             proxy of the origin, on ADDR:PORT+2, behind a
#                             tests/tools/faultproxy on ADDR:PORT+1 (what
#                             players reach), ADDR 127.0.0.2 for the first
#                             ID, 127.0.0.3 for the second... Options go to
#                             the proxy (e.g. --schedule "10s:stall").
#                             Manifests are cached EDGE_MANIFEST_TTL (1s),
#                             segments EDGE_SEGMENT_TTL (60s).
#   edge_url ID               http://ADDR:PORT+1, no trailing slash
#   edge_addr ID              ADDR
#   origin_url                http://127.0.0.1:PORT
#   edge_ctl ID 'COMMAND'     a fault proxy command, returns once applied:
#                             'delay 0ms..800ms over 20s', 'bandwidth
#                             2M..50k over 30s exp', 'stall', 'resume',
#                             'reset', 'drop 5s', 'clear' (faultproxy.c)
#   edge_kill ID              the edge dies: kill -9 its proxy and its
#                             nginx; its address refuses connections
#   edge_stop ID              a clean stop of the proxy and the nginx
#   edges_stop                edge_stop every running edge, then the origin
#   edge_log ID               the edge nginx's access log (one line a
#                             request: msec addr "request" status bytes time
#                             cache-status); origin_log likewise
#
# EDGES_WWW ($T/edges/origin/www) is the origin's document root.

need nginx
FP_DIR=${FP_DIR:-$T}
FP_BIN=${FP_BIN:-$TOP/tests/tools/faultproxy}
. "$TOP/tests/lib/faultproxy.sh"
[ -x "$FP_BIN" ] || fail "no $FP_BIN (make testprogs)"
[ -x "$TOP/tests/tools/httpget" ] || fail "no tests/tools/httpget (make testprogs)"

EDGES_DIR=$T/edges
EDGES_WWW=$EDGES_DIR/origin/www
EDGES_IDS=
EDGES_PORT=
EDGE_MANIFEST_TTL=${EDGE_MANIFEST_TTL:-1s}
EDGE_SEGMENT_TTL=${EDGE_SEGMENT_TTL:-60s}

_edges_prefix() {   # _edges_prefix NAME: a fresh nginx prefix
    mkdir -p "$EDGES_DIR/$1/tmp" "$EDGES_DIR/$1/cache"
    # workers run as nobody when nginx starts as root
    chmod 777 "$EDGES_DIR/$1/tmp" "$EDGES_DIR/$1/cache"
    echo "$EDGES_DIR/$1"
}

_edges_nginx() {    # _edges_nginx NAME URL: start $EDGES_DIR/NAME, wait for URL/healthz
    _ed_d=$EDGES_DIR/$1
    nginx -t -e "$_ed_d/error.log" -p "$_ed_d" -c "$_ed_d/nginx.conf" > "$_ed_d/nginx-t.log" 2>&1 ||
        fail "nginx -t ($1): $(cat "$_ed_d/nginx-t.log")"
    bg nginx -e "$_ed_d/error.log" -p "$_ed_d" -c "$_ed_d/nginx.conf"
    eval "EDGES_NGINX_$(echo "$1" | tr -c 'A-Za-z0-9\n' _)=$BG_PID"
    wait_for 10 "$TOP/tests/tools/httpget" -t 1 "$2/healthz" ||
        fail "nginx $1 does not answer $2/healthz: $(tail -n 3 "$_ed_d/error.log")"
}

_edges_nginx_pid() { eval "echo \${EDGES_NGINX_$(echo "$1" | tr -c 'A-Za-z0-9\n' _):-}"; }

edges_start() {
    EDGES_PORT=$1
    shift
    [ $# -gt 0 ] || set -- a b
    EDGES_IDS="$*"
    _ed_d=$(_edges_prefix origin)
    mkdir -p "$EDGES_WWW"
    chmod 777 "$EDGES_WWW"
    if [ -n "${EDGES_ORIGIN_CONF:-}" ]; then cp "$EDGES_ORIGIN_CONF" "$_ed_d/extra.conf"
    else : > "$_ed_d/extra.conf"; fi
    sed -e "s|@DIR@|$_ed_d|g" -e "s|@PORT@|$EDGES_PORT|g" \
        "$TOP/tests/peers/edge-origin.conf.in" > "$_ed_d/nginx.conf"
    _edges_nginx origin "$(origin_url)"
    for _ed_id in $EDGES_IDS; do
        edge_start "$_ed_id" || return 1
    done
}

origin_url() { echo "http://127.0.0.1:$EDGES_PORT"; }
origin_log() { echo "$EDGES_DIR/origin/access.log"; }
edge_log() { echo "$EDGES_DIR/edge-$1/access.log"; }

edge_addr() {
    _ed_n=2
    for _ed_i in $EDGES_IDS; do
        [ "$_ed_i" = "$1" ] && { echo "127.0.0.$_ed_n"; return 0; }
        _ed_n=$((_ed_n + 1))
    done
    echo "edge_addr: no edge '$1' (edges: $EDGES_IDS)" >&2
    return 1
}

edge_url() { echo "http://$(edge_addr "$1"):$((EDGES_PORT + 1))"; }

edge_start() {
    _ed_id=$1
    shift
    _ed_a=$(edge_addr "$_ed_id") || return 1
    _ed_d=$(_edges_prefix "edge-$_ed_id")
    sed -e "s|@DIR@|$_ed_d|g" -e "s|@ID@|$_ed_id|g" -e "s|@ADDR@|$_ed_a|g" \
        -e "s|@PORT@|$((EDGES_PORT + 2))|g" -e "s|@ORIGIN_PORT@|$EDGES_PORT|g" \
        -e "s|@MANIFEST_TTL@|$EDGE_MANIFEST_TTL|g" -e "s|@SEGMENT_TTL@|$EDGE_SEGMENT_TTL|g" \
        "$TOP/tests/peers/edge.conf.in" > "$_ed_d/nginx.conf"
    _edges_nginx "edge-$_ed_id" "http://$_ed_a:$((EDGES_PORT + 2))"
    fp_start "edge-$_ed_id" "$_ed_a:$((EDGES_PORT + 1))" "$_ed_a:$((EDGES_PORT + 2))" "$@" ||
        fail "the fault proxy of edge $_ed_id did not start"
    BG_PIDS="$BG_PIDS $(cat "$FP_DIR/edge-$_ed_id.pid")"
    wait_for 5 "$TOP/tests/tools/httpget" -t 1 "$(edge_url "$_ed_id")/healthz" ||
        fail "edge $_ed_id does not answer through its proxy"
}

edge_ctl() { fp_cmd "edge-$1" "$2"; }

edge_kill() {
    _ed_fp=$(cat "$FP_DIR/edge-$1.pid")
    kill -9 "$_ed_fp" 2>/dev/null
    wait "$_ed_fp" 2>/dev/null
    echo 137 > "$FP_DIR/edge-$1.rc"
    _ed_p=$(_edges_nginx_pid "edge-$1")
    # as nginx_kill: a master killed alone would leave its worker serving
    if [ -n "$_ed_p" ]; then
        kill -STOP "$_ed_p" 2>/dev/null
        pkill -9 -P "$_ed_p" 2>/dev/null
        kill -9 "$_ed_p" 2>/dev/null
        wait "$_ed_p" 2>/dev/null
    fi
    return 0
}

_edges_nginx_stop() {
    _ed_p=$(_edges_nginx_pid "$1")
    [ -n "$_ed_p" ] || return 0
    kill -QUIT "$_ed_p" 2>/dev/null
    wait_for 10 fp_exited "$_ed_p" || kill -9 "$_ed_p" 2>/dev/null
    wait "$_ed_p" 2>/dev/null
    return 0
}

edge_stop() {
    [ -e "$FP_DIR/edge-$1.rc" ] || fp_stop "edge-$1"
    _edges_nginx_stop "edge-$1"
}

edges_stop() {
    for _ed_i in $EDGES_IDS; do
        edge_stop "$_ed_i"
    done
    _edges_nginx_stop origin
}
