#!/bin/sh
# bench_policy: what each standby policy costs and saves on the same faults.
# One scenario, run three times one after another, each time with a fresh
# set of peers, under `standby: never` (reactive failover only), `standby:
# always` (every backup opened ahead all the time: the 1+1 users buy
# today) and `standby: on_risk` (the orchestrator opening backups on the
# model's risk).
#
# Scenario: 3 live streams (lavfi, paced, 320x180 30 fps, libx264
# ultrafast 300k, GOP 1 s, AAC 64k), each with an encoder backup and one
# output to a primary nginx through a fault proxy of its own (64 KiB buffer,
# as a real uplink pushes back) with a backup destination on a second
# nginx: s0 and s2 push RTMP, s1 HLS over HTTP PUT (WebDAV). rw_timeout 2s,
# latency_budget 3s. A seeded schedule (POLICY_SEED, default 7: every
# policy gets the same faults at the same times from the job's start) of
# outside faults, from tests/lib/harness.sh:
#   delay ramp   a stream's origin slows down (proxy delay 0..800ms over
#                20-40 s), then stalls 6-10 s, then recovers (clear)
#   bw ramp      its link narrows (bandwidth 1M..20k over 20-40 s, exp),
#                then stalls 6-10 s, then recovers
#   cpu          competing load, 2 threads from 0 % to 95 % of a core over
#                20-40 s, held 10 s (cpuload)
#   reset        a stream's proxy resets its connections (RST)
#   hang         the primary nginx stopped (SIGSTOP) 5-10 s: every stream's
#                primary hangs
#   quiet        nothing, 15-30 s
# each followed by 10 s of recovery. POLICY_MINUTES (default 20) per policy.
#
# Columns (per policy):
#   lost         frames of the timeline that no receiver got: per stream the
#                union of the frame numbers (round(pts * 30), ffprobe) in
#                everything the primary and the backup destinations
#                received, against the range from the first frame to
#                duration * 30 - 1 frames later (less one, as
#                bench_failover), summed over the streams. What a receiver
#                got and later lost counts as lost: an HLS primary switched
#                back to restarts at index0.ts and overwrites the origin's
#                earlier segments (seen at 3 min: 2009 frames of s1)
#   impair s     seconds during which no receiver of a stream got a new
#                byte for more than the latency budget (3 s), summed over
#                the streams: sampled every 0.5 s from the sizes and mtimes of the
#                receivers' files (RTMP recordings, HLS segments) as they
#                arrive, from each stream's first byte to the end. A link
#                that trickles bytes while falling behind is not counted:
#                a lower bound of "the newest frame is late"
#   cpu s        user + sys CPU seconds of the hotspare process
#                (tests/tools/runstat: wait4 of the process)
#   bkp MB       bytes the backup destinations received (the sizes of the
#                backup nginx's recordings and uploads)
#   bkp-s open   seconds backup instances (outputs and encoders) were open,
#                from their `start`/`provisioned` events to `released`/`end`
#                or the stream's end (events' mono_us)
#   false/sh     provisions on risk (the orchestrator's) followed by no
#                failure of that component within the model's horizon
#                (60 s), per stream-hour
#   caught       failures of primaries with the backup opened ahead on risk
#                before them (within the horizon) / all failures of
#                primaries; lead: the median time from provision to failure
# Targets (the issue's): on_risk impairment and frames lost <= always's +
# 10 %; on_risk's extra cost over never <= 10 % of always's, for CPU, backup
# bytes and backup-seconds.
#
# Ports 19580-19581, 18580-18584 (bench_failover uses 19570-19574 and
# 18570-18575).
. "$(dirname "$0")/../lib/common.sh"
need ffmpeg ffprobe jq
. "$TOP/tests/lib/nginx.sh"
. "$TOP/tests/lib/harness.sh"
cd "$TOP" || exit 2
for t in faultproxy cpuload runstat waitport; do
    [ -x "$TOP/tests/tools/$t" ] || skip "no tests/tools/$t: run make testprogs first"
done

MIN=${POLICY_MINUTES:-20}
SEED=${POLICY_SEED:-7}
D=$(awk -v m="$MIN" 'BEGIN { printf "%d", m * 60 }')
[ "$D" -ge 60 ] || fail "POLICY_MINUTES=$MIN: at least 1 minute"
FPS=30
BUDGET=3
HORIZON=60
NS=3
PR=19580 PH=18580       # primary nginx: RTMP, HTTP
BR=19581 BH=18581       # backup nginx
PROXY0=18582            # s0, s1, s2: 18582..18584
BEGAN=$(date +%s)
DRIVER= MONITOR=

bench_cleanup() {
    [ -n "$DRIVER" ] && kill "$DRIVER" 2>/dev/null
    [ -n "$MONITOR" ] && kill "$MONITOR" 2>/dev/null
    harness_cleanup
    cleanup
}
trap bench_cleanup EXIT

# nginx with the tests' config, but record_unique on: a primary that is
# published to again after a failure keeps what it got before (one file
# per publish) instead of truncating it. peer_start NAME RTMP HTTP
peer_start() {
    _d=$T/$1
    mkdir -p "$_d/rec" "$_d/www/upload" "$_d/tmp"
    chmod 777 "$_d/rec" "$_d/www" "$_d/www/upload" "$_d/tmp"
    sed -e "s|@DIR@|$_d|g" -e "s|@RTMP_PORT@|$2|g" -e "s|@HTTP_PORT@|$3|g" \
        -e 's|record_unique off|record_unique on|' \
        "$TOP/tests/peers/nginx.conf.in" > "$_d/nginx.conf"
    nginx -t -e "$_d/error.log" -p "$_d" -c "$_d/nginx.conf" > "$_d/nginx-t.log" 2>&1 ||
        fail "nginx -t: $(cat "$_d/nginx-t.log")"
    bg nginx -e "$_d/error.log" -p "$_d" -c "$_d/nginx.conf"
    eval "NGINX_PID_$1=$BG_PID"
    "$TOP/tests/tools/waitport" "$2" 10 || fail "nginx $1 did not listen on $2: $(tail -5 "$_d/error.log")"
    "$TOP/tests/tools/waitport" "$3" 10 || fail "nginx $1 did not listen on $3"
}

# ---- the seeded schedule: "AT ACTION ARGS..." a line, seconds from the start
awk -v seed="$SEED" -v d="$D" -v ns=$NS 'BEGIN {
    srand(seed); t = 15
    while (1) {
        r = rand(); k = int(rand() * ns); ramp = 20 + int(rand() * 21)
        stall = 6 + int(rand() * 5)
        if (r < 0.30)      { kind = "delay"; len = ramp + stall }
        else if (r < 0.50) { kind = "bw";    len = ramp + stall }
        else if (r < 0.70) { kind = "cpu";   len = ramp + 10 }
        else if (r < 0.80) { kind = "reset"; len = 1 }
        else if (r < 0.90) { kind = "hang";  len = 5 + int(rand() * 6) }
        else               { kind = "quiet"; len = 15 + int(rand() * 16) }
        if (t + len + 10 > d - 5) {     # the end: an abrupt fault if one fits
            if (t + 11 > d - 5) break
            kind = "reset"; len = 1
        }
        if (kind == "delay") { print t, "fp", k, "delay 0ms..800ms over " ramp "s"
                               print t + ramp, "fp", k, "stall"
                               print t + ramp + stall, "fp", k, "clear" }
        else if (kind == "bw") { print t, "fp", k, "bandwidth 1M..20k over " ramp "s exp"
                                 print t + ramp, "fp", k, "stall"
                                 print t + ramp + stall, "fp", k, "clear" }
        else if (kind == "cpu")   print t, "cpu", ramp, 10
        else if (kind == "reset") print t, "fp", k, "reset"
        else if (kind == "hang")  print t, "hang", len
        else                      print t, "quiet", len
        t += len + 10
    } }' | sort -n -s -k1,1 > "$T/schedule"
[ -s "$T/schedule" ] || fail "the schedule is empty"

# driver P: runs the schedule against policy P's peers; logs what it did
driver() {
    _start=$(date +%s%3N)
    while read -r _at _what _a _b; do
        _wait=$((_at * 1000 - ($(date +%s%3N) - _start)))
        [ $_wait -gt 0 ] && sleep "$(awk -v w=$_wait 'BEGIN { printf "%.3f", w / 1000 }')"
        case $_what in
            fp)   fp_cmd "$1-p$_a" "$_b" || echo "fp_cmd $1-p$_a '$_b' failed" ;;
            cpu)  cpu_load --threads 2 --from 0 --to 95 --ramp "${_a}s" --hold "${_b}s" ;;
            hang) eval "_p=\$NGINX_PID_$1p"; hang_peer "$_p" "$_a" || echo "hang_peer failed" ;;
            quiet) ;;
        esac
        echo "$(date +%s%3N) $_at $_what $_a $_b"
    done < "$T/schedule"
}

# receivers P K: the files that stream K's destinations got under policy P
receivers() {
    case $2 in
        1) ls "$T/$1p/www/upload/s1/"*.ts "$T/$1b/www/upload/s1/"*.ts 2>/dev/null ;;
        *) ls "$T/$1p/rec/s$2"*.flv "$T/$1b/rec/s$2"*.flv 2>/dev/null ;;
    esac
}
# monitor P: every 0.5 s, "MS SIG0 SIG1 SIG2": per stream, the sum of the
# receivers' file sizes and mtimes: it changes when a file grows and when
# one is written over (an HLS primary switched back to starts again at
# index0.ts: sizes alone would show no progress)
monitor() {
    while :; do
        _l=$(date +%s%3N)
        for _k in 0 1 2; do
            _s=$(receivers "$1" $_k | xargs -r stat -c '%s %Y' 2>/dev/null | awk '{ s += $1 + $2 } END { print s + 0 }')
            _l="$_l $_s"
        done
        echo "$_l"
        sleep 0.5
    done
}

run_policy() {
    P=$1
    say "policy $P: ${D} s"
    peer_start "${P}p" $PR $PH
    peer_start "${P}b" $BR $BH
    for k in 0 1 2; do
        if [ $k = 1 ]; then up=127.0.0.1:$PH; else up=127.0.0.1:$PR; fi
        fp_start "$P-p$k" "127.0.0.1:$((PROXY0 + k))" "$up" --buffer 64Ki || fail "proxy $P-p$k did not start"
    done
    {
        echo "version: 1"
        echo "supervisor: { control: $T/$P.sock }"
        echo "streams:"
        for k in 0 1 2; do
            cat <<EOF
  - name: s$k
    input: { url: "$(lavfi_src 320 180 $FPS)", format: lavfi, realtime: true }
    audio: { encoder: aac, bitrate: 64k }
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: ultrafast },
          backup: { encoder: libx264, options: { preset: ultrafast } } }
    outputs:
EOF
            if [ $k = 1 ]; then
                cat <<EOF
      - name: origin
        format: hls
        url: http://127.0.0.1:$((PROXY0 + k))/upload/s1/index.m3u8
        options: { hls_time: 1, hls_list_size: 6 }
        rw_timeout: 2s
        backup: { url: http://127.0.0.1:$BH/upload/s1/index.m3u8 }
EOF
            else
                cat <<EOF
      - name: origin
        format: flv
        url: rtmp://127.0.0.1:$((PROXY0 + k))/live/s$k
        rw_timeout: 2s
        backup: { url: rtmp://127.0.0.1:$BR/live/s$k }
EOF
            fi
            cat <<EOF
    standby: $P
    latency_budget: ${BUDGET}s
    duration: ${D}s
EOF
        done
    } > "$T/$P.yaml"
    "$HS" check "$T/$P.yaml" > "$T/$P.check" 2>&1 || fail "$P.yaml: $(cat "$T/$P.check")"
    bg "$TOP/tests/tools/runstat" -o "$T/$P.runstat" "$HS" -v warning run --events "$T/$P.jsonl" \
        --progress "$T/$P.progress" "$T/$P.yaml" 2> "$T/$P.log"
    HSW=$BG_PID
    bg monitor "$P" > "$T/$P.mon"
    MONITOR=$BG_PID
    bg driver "$P" > "$T/$P.driver" 2>&1
    DRIVER=$BG_PID
    # once a second (fp_wait's 50 ms polls would cost CPU beside the job)
    _n=$((D + 60))
    while [ $_n -gt 0 ] && ! fp_exited "$HSW"; do sleep 1; _n=$((_n - 1)); done
    fp_exited "$HSW" || { say "$P: hotspare still running: SIGTERM"; kill "$(pgrep -P "$HSW")" 2>/dev/null; }
    fp_wait 20 fp_exited "$HSW" || kill -9 "$(pgrep -P "$HSW")" 2>/dev/null
    wait "$HSW"
    echo $? > "$T/$P.rc"
    kill "$DRIVER" "$MONITOR" 2>/dev/null
    DRIVER= MONITOR=
    harness_cleanup             # hung peers resumed, cpuload and proxies stopped
    eval "kill -QUIT \$NGINX_PID_${P}p \$NGINX_PID_${P}b" 2>/dev/null
    sleep 1
    [ -s "$T/$P.jsonl" ] || fail "$P: no events: $(tail -n 5 "$T/$P.log")"
    measure "$P"
}

# measure P: one line of figures into $T/rows
measure() {
    P=$1
    lost=0
    for k in 0 1 2; do
        receivers "$P" $k > "$T/$P.files$k"
        : > "$T/$P.frames$k"
        while read -r f; do
            probe_frame_numbers "$f" v:0 $FPS >> "$T/$P.frames$k"
        done < "$T/$P.files$k"
        sort -n -u "$T/$P.frames$k" -o "$T/$P.frames$k"
        if [ -s "$T/$P.frames$k" ]; then
            lo=$(head -n 1 "$T/$P.frames$k")
            n=$(frames_missing "$T/$P.frames$k" "$lo" $((lo + D * FPS - 2)))
        else
            n=$((D * FPS))
        fi
        echo "s$k $n" >> "$T/$P.lost"
        lost=$((lost + n))
    done
    impair=$(awk -v b=$BUDGET -v d=$D 'NR == 1 { t0 = $1 }
        { for (k = 2; k <= NF; k++) {
              if ($k != size[k]) { last[k] = $1; size[k] = $k }
              else if ((k in last) && $1 - last[k] > b * 1000 && $1 - t0 <= d * 1000) imp += ($1 - prev) / 1000 }
          prev = $1 }
        END { printf "%.1f", imp }' "$T/$P.mon")
    cpu=$(sed -n 's/.*user_s=\([0-9.]*\) sys_s=\([0-9.]*\).*/\1 \2/p' "$T/$P.runstat" | awk '{ printf "%.1f", $1 + $2 }')
    bytes=$(find "$T/${P}b/rec" "$T/${P}b/www/upload" -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
    jq -r '[.mono_us, .stream, .component, .kind, (.cause // "")] | @tsv' "$T/$P.jsonl" > "$T/$P.ev"
    # backup-seconds open: from start/provisioned to end/released or the stream's end
    bsec=$(awk -F'\t' '
        $3 == "stream" && $4 == "end" { send[$2] = $1 }
        { last = $1 }
        $3 ~ /\.backup/ && ($4 == "start" || $4 == "provisioned") && !(($2 SUBSEP $3) in open) { open[$2, $3] = $1 }
        $3 ~ /\.backup/ && ($4 == "end" || $4 == "released") && (($2 SUBSEP $3) in open) {
            s += $1 - open[$2, $3]; delete open[$2, $3] }
        END { for (i in open) { split(i, p, SUBSEP); e = (p[1] in send) ? send[p[1]] : last; s += e - open[i] }
              printf "%.0f", s / 1e6 }' "$T/$P.ev")
    # false provisions (on risk) and failures caught ahead
    awk -F'\t' -v h=$HORIZON -v hours="$(awk -v d=$D -v n=$NS 'BEGIN { print d * n / 3600 }')" '
        function base(c) { sub(/\.backup[0-9]*$/, "", c); return c }
        $4 == "info" && $5 ~ /^orchestrator: provision/ { np++; pt[np] = $1; pc[np] = $2 "/" base($3) }
        $4 == "failure" && $3 !~ /\.backup/ && $3 != "stream" { nf++; ft[nf] = $1; fc[nf] = $2 "/" $3 }
        END {
            fl = 0
            for (i = 1; i <= np; i++) {
                hit = 0
                for (j = 1; j <= nf; j++) if (fc[j] == pc[i] && ft[j] >= pt[i] && ft[j] - pt[i] <= h * 1e6) hit = 1
                if (!hit) fl++
            }
            c = 0; n = 0
            for (j = 1; j <= nf; j++) {
                best = -1
                for (i = 1; i <= np; i++) if (fc[j] == pc[i] && pt[i] <= ft[j] && ft[j] - pt[i] <= h * 1e6) best = ft[j] - pt[i]
                if (best >= 0) {   # insertion sort: mawk has no asort
                    c++; v = best / 1e6
                    for (m = ++n; m > 1 && lead[m - 1] > v; m--) lead[m] = lead[m - 1]
                    lead[m] = v
                }
            }
            med = n ? (n % 2 ? lead[(n + 1) / 2] : (lead[n / 2] + lead[n / 2 + 1]) / 2) : -1
            printf "%d %.2f %d %d %s\n", np, fl / hours, c, nf, med < 0 ? "-" : sprintf("%.1f", med)
        }' "$T/$P.ev" > "$T/$P.risk"
    read -r nprov falseh caught nfail lead < "$T/$P.risk"
    [ "$P" = on_risk ] || { falseh=-; caught="-/$nfail"; lead=-; }
    [ "$P" = on_risk ] && caught="$caught/$nfail"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$P" "$lost" "$impair" "$cpu" "$bytes" "$bsec" \
        "$falseh" "$caught" "$lead" "$(cat "$T/$P.rc")" "$nprov" >> "$T/rows"
}

: > "$T/rows"
for P in never always on_risk; do
    run_policy "$P"
done

# ---- the table -------------------------------------------------------------
echo "policy, $NS streams 320x180 $FPS fps (2 RTMP, 1 HLS over HTTP), ${MIN} min per policy, seed $SEED;" \
     "$(wc -l < "$T/schedule") scheduled actions, the same for every policy ($(($(date +%s) - BEGAN)) s in all)"
sed 's/^/  schedule: /' "$T/schedule"
echo "impair s: from the receivers' file sizes and mtimes sampled every 0.5 s (no new byte at any receiver for > ${BUDGET} s)"
awk -F'\t' 'BEGIN { printf "%-8s %7s %8s %7s %8s %8s %8s %7s %6s %3s\n", "policy", "lost", "impair", "cpu", "bkp", "bkp-s", "false", "caught", "lead", "rc"
                    printf "%-8s %7s %8s %7s %8s %8s %8s %7s %6s %3s\n", "", "frames", "s", "s", "MB", "open", "/sh", "", "s", "" }
            { printf "%-8s %7s %8s %7s %8.2f %8s %8s %7s %6s %3s\n", $1, $2, $3, $4, $5 / 1e6, $6, $7, $8, $9, $10 }' "$T/rows"
awk -F'\t' '
    { lost[$1] = $2; imp[$1] = $3; cpu[$1] = $4; by[$1] = $5; bs[$1] = $6; np[$1] = $11; cau[$1] = $8 }
    function le(a, b) { return a <= b * 1.1 + 1e-9 }
    function extra(name, v, unit,   xa, xr, r) {
        xa = v["always"] - v["never"]; xr = v["on_risk"] - v["never"]
        if (xa <= 0) { printf "  extra %s: always %+.2f%s, on_risk %+.2f%s over never: always costs nothing more here, no ratio\n", name, xa, unit, xr, unit; return }
        r = xr / xa
        printf "  extra %s over never: on_risk %.2f%s / always %.2f%s = %.1f %% (target <= 10 %%): %s\n", name, xr, unit, xa, unit, 100 * r, r <= 0.1 ? "met" : "NOT met"
    }
    END {
        print "targets:"
        printf "  frames lost: on_risk %d vs always %d (target <= always + 10 %%): %s\n", lost["on_risk"], lost["always"], le(lost["on_risk"], lost["always"]) ? "met" : "NOT met"
        printf "  impairment: on_risk %.1f s vs always %.1f s (target <= always + 10 %%): %s\n", imp["on_risk"], imp["always"], le(imp["on_risk"], imp["always"]) ? "met" : "NOT met"
        extra("CPU", cpu, " s"); extra("backup bytes", by, " B"); extra("backup-seconds", bs, " s")
        printf "  (CPU: one run each; differences within about 5 %% of the %.1f s of never are run-to-run noise)\n", cpu["never"]
        split(cau["on_risk"], c, "/")
        if (np["on_risk"] == 0)
            print "  the model is the limit: on_risk provisioned nothing ahead in this run, so it behaved as never (reactive failover only)"
        else if (c[1] == 0)
            printf "  the model is the limit: on_risk provisioned %d times but never before a failure: it behaved as never on every failure\n", np["on_risk"]
        else
            printf "  on_risk provisioned %d times; %s failures of primaries had a backup opened ahead on risk\n", np["on_risk"], cau["on_risk"]
    }' "$T/rows"
for P in never always on_risk; do
    r=$(cat "$T/$P.rc")
    [ "$r" = 0 ] || say "$P: hotspare exited $r: $(grep -i 'error\|fail' "$T/$P.log" | tail -n 2)"
    grep -q failed "$T/$P.driver" && say "$P: $(grep failed "$T/$P.driver" | head -n 3)"
done
exit 0
