# gen.awk: writes one corpus job: live streams with a seeded schedule of
# faults, recorded in an HDS, and the schedule itself, so that evaluation
# can tell the failures that had precursors from the abrupt ones.
#
#   awk -v seed=1 -v streams=8 -v minutes=20 -v job=c1 -v dir=corpus/c1 \
#       [-v origin=PORT] [-v disk=1] -f models/corpus/gen.awk > corpus/c1/c1.yaml
#   awk -v seed=1 -v minutes=20 -v dir=corpus -v mode=cpu -f models/corpus/gen.awk
#
# Writes, besides the job on stdout:
#   DIR/faults.tsv    one scenario a line: START END STREAM COMPONENT CLASS
#                     SCENARIO (seconds from the stream's start; CLASS is
#                     led, abrupt or benign); what `hotspare eval --faults`
#                     reads. "*" for STREAM or COMPONENT: any.
#   DIR/outside.txt   the faults outside hotspare that run.sh carries out,
#                     "AT ACTION ARGS..." (fp: a fault proxy command; fill
#                     RATE HOLD: fill the disk, hold it full, free it)
# mode=cpu writes DIR/cpu.faults.tsv and DIR/cpu.txt instead: a competing
# CPU load that grows, for all jobs at once (they run side by side).
#
# Every stream is a small lavfi source (video and a tone; sizes from
# 128x72 to 256x144) with a backup source, two renditions with standby
# encoders (opened when needed: the corpus runs many streams on a small
# machine), and an HLS output with a backup: every component has somewhere
# to fail over to, so a fault is an event and the run goes on. Stream s00
# writes its HLS over HTTP PUT to a real nginx (WebDAV) through a fault
# proxy on port `origin` (when given); stream s01 into a small tmpfs that
# run.sh mounts and fills (when disk=1); the others to a local directory.
# Each stream gets its own schedule, one scenario every 60-120 s:
#
# Input faults go to the source in use (see input_failed).
#
#   led: precursors, then a failure (what the failure head can learn)
#     enc_ramp     the encoder slows down frame by frame (a CPU it shares
#                  more and more) until it is behind real time past the
#                  latency budget: gentle ramps, 90-200 s
#     out_ramp     the packager's writes slow down until it is behind
#     in_decay     the input loses a growing share of packets, then stalls
#                  past loss_timeout
#     in_thin      the publisher thins out: a share of its packets that
#                  grows in four steps (5 % to 40 %) never comes, then
#                  nothing does
#     org_delay    (s00) the origin slows down (proxy delay ramp), then
#                  stalls until hotspare gives up on it
#     org_bw       (s00) its link narrows (bandwidth ramp), then stalls
#     disk_fill    (s01) the output's filesystem fills up at a steady rate
#   abrupt: no warning (what nobody can predict; the reflex covers them)
#     enc_error, enc_hang, out_error, in_stall; org_hang (the origin
#     stops answering: a hung peer), org_reset (its connections reset)
#   benign: disturbances that fail nothing (what must not raise an alarm)
#     enc_wobble, out_hiccup, in_jitter, org_wobble, disk_half
#
# Times are the stream's media time, which a realtime input keeps equal to
# the wall time since the start; outside faults run on run.sh's clock from
# the job's start (within a second of it).

function rnd(a, b) { return a + (b - a) * rand() }
function irnd(a, b) { return int(a + (b - a + 1) * rand()) }
function pick(s,    n, a) { n = split(s, a, " "); return a[irnd(1, n)] }
# the stream's data-plane faults, printed once all are known (a stream
# whose faults are all outside has none)
function fault(at, comp, what) {
    flines = flines sprintf("      - { at: %ds, component: %s, %s }\n", at, comp, what)
}
function sched(start, end, stream, comp, class, sc) {
    printf "%d\t%d\t%s\t%s\t%s\t%s\n", start, end, stream, comp, class, sc > tsv
}
function outside(at, what) {
    printf "%d %s\n", at, what > out
}

# The origin's link ramps (the proxy command fmt, its end drawn from lo..hi,
# over 60-150 s), then stalls 8-15 s, then recovers; returns the length.
function origin_ramp(t, st, sc, fmt, lo, hi,    r, s) {
    r = irnd(60, 150); s = irnd(8, 15)
    outside(t, sprintf(fmt, irnd(lo, hi), r))
    outside(t + r, "fp stall")
    outside(t + r + s, "fp clear")
    sched(t, t + r + s, st, "out:hls", "led", sc)
    return r + s
}

# An input does not switch back: after a failure the stream reads its
# backup source until that one fails, so an input's faults go to the
# source in use (a fault on the other one would fail nothing, and its
# precursors would be labelled healthy).
function input_failed() {
    insrc = insrc == "input" ? "input.backup" : "input"
}

# The input loses a growing share of its packets, d s at each ratio of
# the list, then stalls past loss_timeout; returns the length.
function input_steps(t, st, sc, d, ratios,    n, r, i) {
    n = split(ratios, r, " ")
    for (i = 1; i <= n; i++)
        fault(t + (i - 1) * d, insrc, sprintf("fault: drop, duration: %ds, ratio: %s", d, r[i]))
    fault(t + n * d, insrc, "fault: stall, duration: 3s")
    sched(t, t + n * d + 3, st, insrc, "led", sc)
    input_failed()
    return n * d + 3
}

# One scenario for stream st (role: origin, disk, local) at t; returns its length.
function scenario(t, st, role,    sc, len, d, c, r, s) {
    sc = "enc_ramp enc_ramp out_ramp out_ramp in_decay in_thin in_thin enc_error enc_hang out_error in_stall enc_wobble out_hiccup in_jitter"
    if (role == "origin")
        sc = sc " org_delay org_delay org_delay org_bw org_bw org_hang org_reset org_wobble"
    if (role == "disk")
        sc = sc " disk_fill disk_fill disk_fill disk_half"
    sc = pick(sc)
    len = 0
    if (sc == "enc_ramp") {
        # gentle: behind real time at a half to two thirds of the ramp
        c = "enc:" pick("hi lo")
        len = irnd(90, 200)
        fault(t, c, sprintf("fault: slow, duration: %ds, ramp: %dms", len, irnd(60, 140)))
        sched(t, t + len, st, c, "led", sc)
    } else if (sc == "out_ramp") {
        len = irnd(90, 200)
        fault(t, "out:hls", sprintf("fault: slow, duration: %ds, ramp: %dms", len, irnd(20, 40)))
        sched(t, t + len, st, "out:hls", "led", sc)
    } else if (sc == "in_decay") {
        len = input_steps(t, st, sc, irnd(20, 40), "0.1 0.3 0.6")
    } else if (sc == "in_thin") {
        # packets thin out in steps (a publisher whose uplink degrades),
        # then nothing comes: the ingest rate drops long before the loss
        len = input_steps(t, st, sc, irnd(15, 35), "0.05 0.1 0.2 0.4")
    } else if (sc == "org_delay") {
        len = origin_ramp(t, st, sc, "fp delay 0ms..%dms over %ds", 300, 900)
    } else if (sc == "org_bw") {
        len = origin_ramp(t, st, sc, "fp bandwidth 1M..%dk over %ds exp", 5, 20)
    } else if (sc == "disk_fill") {
        # a 24 MiB tmpfs: full after 60-150 s
        r = irnd(60, 150); s = irnd(10, 20)
        outside(t, sprintf("fill 1.0 %dk %d", int(24 * 1024 / r), r + s))
        len = r + s
        sched(t, t + len, st, "out:hls", "led", sc)
    } else if (sc == "enc_error") {
        c = "enc:" pick("hi lo")
        fault(t, c, "fault: error")
        sched(t, t, st, c, "abrupt", sc)
    } else if (sc == "enc_hang") {
        c = "enc:" pick("hi lo")
        fault(t, c, "fault: hang")
        sched(t, t, st, c, "abrupt", sc)
    } else if (sc == "out_error") {
        fault(t, "out:hls", "fault: " pick("error close"))
        sched(t, t, st, "out:hls", "abrupt", sc)
    } else if (sc == "in_stall") {
        fault(t, insrc, "fault: stall, duration: 3s")
        len = 3
        sched(t, t + len, st, insrc, "abrupt", sc)
        input_failed()
    } else if (sc == "org_hang") {
        s = irnd(8, 15)
        outside(t, "fp stall")
        outside(t + s, "fp clear")
        len = s
        sched(t, t + len, st, "out:hls", "abrupt", sc)
    } else if (sc == "org_reset") {
        outside(t, "fp reset")
        sched(t, t, st, "out:hls", "abrupt", sc)
    } else if (sc == "enc_wobble") {
        c = "enc:" pick("hi lo")
        len = irnd(20, 60)
        fault(t, c, sprintf("fault: slow, duration: %ds, ramp: %dms", len, irnd(5, 15)))
        sched(t, t + len, st, c, "benign", sc)
    } else if (sc == "out_hiccup") {
        fault(t, "out:hls", sprintf("fault: stall, duration: %dms", irnd(200, 800)))
        sched(t, t + 1, st, "out:hls", "benign", sc)
    } else if (sc == "in_jitter") {
        len = irnd(5, 20)
        fault(t, insrc, sprintf("fault: drop, duration: %ds, ratio: 0.02", len))
        sched(t, t + len, st, insrc, "benign", sc)
    } else if (sc == "org_wobble") {
        len = irnd(20, 40)
        outside(t, sprintf("fp delay 0ms..%dms over %ds", irnd(20, 60), len))
        outside(t + len, "fp clear")
        sched(t, t + len, st, "out:hls", "benign", sc)
    } else if (sc == "disk_half") {
        r = irnd(30, 60)
        outside(t, sprintf("fill 0.5 %dk %d", int(12 * 1024 / r), r + 10))
        len = r + 10
        sched(t, t + len, st, "out:hls", "benign", sc)
    }
    return len
}

BEGIN {
    if (seed == "" || minutes == "" || dir == "" ||
        (mode != "cpu" && (streams == "" || job == ""))) {
        print "gen.awk: set seed, streams, minutes, job and dir (mode=cpu: seed, minutes, dir)" > "/dev/stderr"
        exit 2
    }
    srand(seed)
    total = minutes * 60
    if (mode == "cpu") {
        # 1 thread from 0 to 60-90 % of a core: the streams' encoders share
        # the machine with it (and with whatever else runs there)
        tsv = dir "/cpu.faults.tsv"
        out = dir "/cpu.txt"
        printf "" > tsv
        printf "" > out
        t = irnd(120, 240)
        while (t < total - 150) {
            r = irnd(60, 150); h = irnd(15, 30)
            outside(t, sprintf("cpu %d %d %d", irnd(60, 90), r, h))
            sched(t, t + r + h, "*", "*", "led", "cpu_ramp")
            t += r + h + irnd(200, 400)
        }
        exit 0
    }
    tsv = dir "/faults.tsv"
    out = dir "/outside.txt"
    printf "" > tsv
    printf "" > out
    printf "# corpus job %s: seed %d, %d streams, %d min (written by models/corpus/gen.awk)\n",
        job, seed, streams, minutes
    print "version: 1"
    print "supervisor:"
    print "  tick: 1s"
    print "  model: none                 # the corpus is the same whatever model exists"
    printf "  hds: { path: %s/%s.hds }\n", dir, job
    print "streams:"
    for (s = 0; s < streams; s++) {
        st = sprintf("%s-s%02d", job, s)
        role = "local"
        if (s == 0 && origin != "")
            role = "origin"
        else if (s == 1 && disk == 1)
            role = "disk"
        rate = pick("25 30")
        budget = pick("2 3 4")
        size = pick("128x72 160x90 192x108 256x144")
        split(size, wh, "x")
        lo = (wh[1] > 192) ? "160x90" : "128x72"
        split(lo, lwh, "x")
        printf "  - name: %s\n", st
        print  "    input:"
        printf "      url: \"testsrc2=size=%s:rate=%d[out0];sine=frequency=%d:sample_rate=48000[out1]\"\n",
            size, rate, irnd(300, 1200)
        print  "      format: lavfi"
        print  "      realtime: true"
        printf "      backup: { url: \"testsrc2=size=%s:rate=%d[out0];sine=frequency=440:sample_rate=48000[out1]\", format: lavfi }\n", size, rate
        printf "      loss_timeout: %dms\n", pick("300 500 1000")
        print  "    renditions:"
        printf "      - { name: hi, width: %d, height: %d, bitrate: %dk, gop: 2s, encoder: libx264, options: { preset: %s, threads: 1 }, backup: { encoder: libx264, options: { preset: ultrafast, threads: 1 } } }\n",
            wh[1], wh[2], (wh[1] > 192 ? 350 : 250), pick("ultrafast superfast veryfast")
        printf "      - { name: lo, width: %d, height: %d, bitrate: 120k, gop: 2s, encoder: libx264, options: { preset: ultrafast, threads: 1 }, backup: { encoder: libx264, options: { preset: ultrafast, threads: 1 } } }\n",
            lwh[1], lwh[2]
        print  "    outputs:"
        print  "      - name: hls"
        print  "        format: hls"
        if (role == "origin") {
            printf "        url: http://127.0.0.1:%d/upload/%s/index.m3u8\n", origin, st
            print  "        rw_timeout: 3s"
        } else {
            printf "        url: %s/out/s%02d/a/index.m3u8\n", dir, s
        }
        printf "        backup: { url: %s/out/s%02d/b/index.m3u8 }\n", dir, s
        print  "        options: { hls_time: 2, hls_list_size: 6, hls_flags: delete_segments }"
        print  "    standby: on_risk"
        printf "    switch_back: %ds\n", pick("10 20 30")
        printf "    latency_budget: %ds\n", budget
        printf "    duration: %ds\n", total
        flines = ""
        insrc = "input"
        t = irnd(40, 100)
        n = 0
        while (t < total - 60) {
            len = scenario(t, st, role)
            n++
            t += len + irnd(60, 120)
        }
        if (!n) {
            fault(total - 40, insrc, "fault: stall, duration: 3s")
            sched(total - 40, total - 37, st, insrc, "abrupt", "in_stall")
        }
        if (flines != "")
            printf "    faults:\n%s", flines
    }
}
