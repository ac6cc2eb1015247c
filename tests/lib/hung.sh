# tests/lib/hung.sh: peers that hang or vanish without a reset, and the
# clocks to measure how soon that is noticed, for t_hung_peer and
# bench_detect. Source after common.sh and nginx.sh.
#
#   stop_nginx NAME          SIGSTOP an nginx (tests/lib/nginx.sh) worker and
#                            master at once: alive, its kernel still takes
#                            what fits in its buffers, nothing is read
#   netns_up                 a network namespace HUNG_NS with a veth pair:
#                            here 10.231.0.1, there 10.231.0.2 (HUNG_PEER);
#                            returns 1 when namespaces cannot be made
#   netns_nginx NAME RTMP HTTP   an nginx (RTMP recording, WebDAV) in it,
#                            listening on HUNG_PEER; $T/NAME as nginx_start
#   netns_link_down          the link goes down on the far side: nothing
#                            arrives there, no reset ever comes back
#   netns_cleanup            kills what runs in it, removes it
#   event_epoch FILE COMPONENT KIND [TEXT]   wall time (s since the epoch)
#                            of the first such event of an --events file
#   ms_between T0 T1         (T1 - T0) in ms, both from date +%s.%N

HUNG_NS=hs-hung-$$
HUNG_VA=hsh$$a
HUNG_VB=hsh$$b
HUNG_HERE=10.231.0.1
HUNG_PEER=10.231.0.2

stop_nginx() {
    _hg_m=$(cat "$T/$1/nginx.pid") && _hg_w=$(pgrep -P "$_hg_m" | tr '\n' ' ') &&
        kill -STOP $_hg_w "$_hg_m"
}

netns_up() {
    command -v ip > /dev/null 2>&1 || return 1
    ip netns add "$HUNG_NS" 2> /dev/null || return 1
    ip link add "$HUNG_VA" type veth peer name "$HUNG_VB" &&
        ip link set "$HUNG_VB" netns "$HUNG_NS" &&
        ip addr add "$HUNG_HERE/30" dev "$HUNG_VA" && ip link set "$HUNG_VA" up &&
        ip -n "$HUNG_NS" addr add "$HUNG_PEER/30" dev "$HUNG_VB" &&
        ip -n "$HUNG_NS" link set "$HUNG_VB" up && ip -n "$HUNG_NS" link set lo up
}

netns_nginx() {
    _hg_d=$T/$1
    mkdir -p "$_hg_d/rec" "$_hg_d/www/upload" "$_hg_d/tmp"
    chmod 777 "$_hg_d/rec" "$_hg_d/www" "$_hg_d/www/upload" "$_hg_d/tmp"
    sed -e "s|@DIR@|$_hg_d|g" -e "s|@RTMP_PORT@|$2|g" -e "s|@HTTP_PORT@|$3|g" \
        -e 's|listen 127.0.0.1:|listen |' -e "s|allow publish 127.0.0.1|allow publish $HUNG_HERE|" \
        "$TOP/tests/peers/nginx.conf.in" > "$_hg_d/nginx.conf"
    bg ip netns exec "$HUNG_NS" nginx -e "$_hg_d/error.log" -p "$_hg_d" -c "$_hg_d/nginx.conf"
    ip netns exec "$HUNG_NS" "$TOP/tests/tools/waitport" "$2" 10
}

netns_link_down() {
    ip -n "$HUNG_NS" link set "$HUNG_VB" down
}

netns_cleanup() {
    ip netns pids "$HUNG_NS" 2> /dev/null | xargs -r kill -9 2> /dev/null
    ip link del "$HUNG_VA" 2> /dev/null
    ip netns del "$HUNG_NS" 2> /dev/null
    return 0
}

event_epoch() {
    _hg_t=$(grep "\"component\":\"$2\"" "$1" | grep "\"kind\":\"$3\"" | grep -- "${4:-}" | head -n 1 |
            sed 's/.*"time":"\([^"]*\)".*/\1/')
    [ -n "$_hg_t" ] && date -d "$_hg_t" +%s.%N
}

ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d\n", (b - a) * 1000 }'; }
