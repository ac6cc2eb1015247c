# tests/lib/nginx.sh: a private nginx (RTMP module + WebDAV) for a test.
#
#   nginx_start NAME RTMP_PORT HTTP_PORT   starts $T/NAME/ from
#                                          tests/peers/nginx.conf.in, waits
#                                          until both ports answer; sets
#                                          NGINX_DIR and NGINX_PID
#   nginx_conf NAME RTMP_PORT HTTP_PORT [unique]
#                                          only writes $T/NAME/nginx.conf and
#                                          makes its directories; "unique":
#                                          every publish recorded to a file
#                                          of its own, STREAM-TIME.flv
#                                          (nginx-rtmp truncates a recording
#                                          when it is published again)
#   nginx_stop NAME                        graceful stop (QUIT)
#   nginx_kill NAME                        kill -9: a peer that dies
#   nginx_reuploads LOG                    the segments (.ts, .m4s) an access
#                                          log shows uploaded twice with other
#                                          bytes, one URI a line
#
# Recordings of RTMP streams land in $T/NAME/rec/STREAM.flv, HTTP PUTs under
# $T/NAME/www/upload/.

need nginx
[ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] ||
    skip "nginx RTMP module missing (libnginx-mod-rtmp; ./configure --install-deps)"

nginx_conf() {
    _d=$T/$1
    mkdir -p "$_d/rec" "$_d/www/upload" "$_d/tmp"
    # workers run as nobody when nginx starts as root
    chmod 777 "$_d/rec" "$_d/www" "$_d/www/upload" "$_d/tmp"
    _u=off
    [ "${4:-}" = unique ] && _u=on
    sed -e "s|@DIR@|$_d|g" -e "s|@RTMP_PORT@|$2|g" -e "s|@HTTP_PORT@|$3|g" \
        -e "s|record_unique off;|record_unique $_u;|" \
        "$TOP/tests/peers/nginx.conf.in" > "$_d/nginx.conf"
}

nginx_start() {
    nginx_conf "$1" "$2" "$3"
    _d=$T/$1
    nginx -t -e "$_d/error.log" -p "$_d" -c "$_d/nginx.conf" > "$_d/nginx-t.log" 2>&1 ||
        fail "nginx -t: $(cat "$_d/nginx-t.log")"
    bg nginx -e "$_d/error.log" -p "$_d" -c "$_d/nginx.conf"
    NGINX_PID=$BG_PID
    NGINX_DIR=$_d
    eval "NGINX_PID_$1=$BG_PID"
    "$TOP/tests/tools/waitport" "$2" 10 || fail "nginx $1 did not listen on $2: $(tail -5 "$_d/error.log")"
    "$TOP/tests/tools/waitport" "$3" 10 || fail "nginx $1 did not listen on $3"
}

nginx_stop() {
    eval "_p=\$NGINX_PID_$1"
    kill -QUIT "$_p" 2>/dev/null
    wait_for 10 sh -c "! kill -0 $_p" || kill -9 "$_p" 2>/dev/null
}

nginx_kill() {
    eval "_p=\$NGINX_PID_$1"
    # SIGKILL on the master alone would leave its worker serving, and killing
    # the worker first lets the master start another: stop the master, kill
    # its worker, then the master
    kill -STOP "$_p" 2>/dev/null
    pkill -9 -P "$_p" 2>/dev/null
    kill -9 "$_p" 2>/dev/null
}

# rtmp_publish PORT NAME PATTERN: a live 320x180 30 fps source (lavfi
# PATTERN, a 440 Hz tone) pushed to rtmp://127.0.0.1:PORT/live/NAME, in the
# background (BG_PID): x264 ultrafast zerolatency, a keyframe every 15
# frames, AAC.
rtmp_publish() {
    bg ffmpeg -nostdin -v error -re -f lavfi -i "$3=size=320x180:rate=30" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000" \
        -c:v libx264 -preset ultrafast -tune zerolatency -g 15 -c:a aac -b:a 64k \
        -f flv "rtmp://127.0.0.1:$1/live/$2"
}

# An origin holds one file per segment name: a name uploaded twice (201
# created, then 204 replaced) with another request length is a later
# muxer's segment over an earlier one's; the same bytes again are libav's
# retry of one upload. The log's last field is the request's length
# (tests/peers/nginx.conf.in).
nginx_reuploads() {
    awk '$6 == "\"PUT" && $7 ~ /\.(ts|m4s)$/ && ($9 == 201 || $9 == 204) { print $7, $NF }' "$1" 2> /dev/null |
        sort -u | awk '{ n[$1]++ } END { for (u in n) if (n[u] > 1) print u }'
}
