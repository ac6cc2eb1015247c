# gen.awk: writes one corpus job: live streams with a seeded schedule of
# faults injected through the data plane, recorded in an HDS.
#
#   awk -v seed=1 -v streams=8 -v minutes=20 -v job=c1 -v dir=corpus/c1 \
#       -f models/corpus/gen.awk > corpus/c1/c1.yaml
#
# Every stream is a small lavfi source (video and a tone) with a backup
# source, two renditions with standby encoders (opened when needed: the
# corpus runs many streams on a small machine), and an HLS output with a
# backup directory: every component has somewhere to fail over to, so a
# fault is an event and the run goes on. Each stream gets its own schedule,
# drawn from the scenarios below, one every 80-160 s:
#
#   precursors, then a failure (what the failure head can learn):
#     enc_ramp     the encoder slows down frame by frame until it is behind
#                  real time past the latency budget
#     out_ramp     the packager's writes slow down until it is behind
#     in_decay     the input loses a growing share of packets, then stalls
#                  past loss_timeout
#   abrupt failures, no warning (what nobody can predict; they keep the
#   figures honest):
#     enc_error, out_error, in_stall
#   disturbances that fail nothing (what must not raise an alarm for
#   long):
#     enc_wobble   a slow-down the encoder absorbs
#     out_hiccup   a write stall shorter than the budget
#     in_jitter    a few lost packets
#
# Times are the stream's media time, which a realtime input keeps equal to
# the wall time since the start.

function rnd(a, b) { return a + (b - a) * rand() }
function irnd(a, b) { return int(a + (b - a + 1) * rand()) }
function pick(s,    n, a) { n = split(s, a, " "); return a[irnd(1, n)] }
function fault(at, comp, what) {
    printf "      - { at: %ds, component: %s, %s }\n", at, comp, what
}

BEGIN {
    if (seed == "" || streams == "" || minutes == "" || job == "" || dir == "") {
        print "gen.awk: set seed, streams, minutes, job and dir" > "/dev/stderr"
        exit 2
    }
    srand(seed)
    total = minutes * 60
    printf "# corpus job %s: seed %d, %d streams, %d min (written by models/corpus/gen.awk)\n",
        job, seed, streams, minutes
    print "version: 1"
    print "supervisor:"
    print "  tick: 1s"
    print "  model: none                 # the corpus is the same whatever model exists"
    printf "  hds: { path: %s/%s.hds }\n", dir, job
    print "streams:"
    for (s = 0; s < streams; s++) {
        rate = pick("25 30")
        budget = pick("2 3 4")
        printf "  - name: %s-s%02d\n", job, s
        print  "    input:"
        printf "      url: \"testsrc2=size=192x108:rate=%d[out0];sine=frequency=%d:sample_rate=48000[out1]\"\n",
            rate, irnd(300, 1200)
        print  "      format: lavfi"
        print  "      realtime: true"
        printf "      backup: { url: \"testsrc2=size=192x108:rate=%d[out0];sine=frequency=440:sample_rate=48000[out1]\", format: lavfi }\n", rate
        printf "      loss_timeout: %dms\n", pick("300 500 1000")
        print  "    renditions:"
        printf "      - { name: hi, width: 192, height: 108, bitrate: 250k, gop: 2s, encoder: libx264, options: { preset: %s, threads: 1 }, backup: { encoder: libx264, options: { preset: ultrafast, threads: 1 } } }\n", pick("ultrafast superfast veryfast")
        print  "      - { name: lo, width: 128, height: 72, bitrate: 120k, gop: 2s, encoder: libx264, options: { preset: ultrafast, threads: 1 }, backup: { encoder: libx264, options: { preset: ultrafast, threads: 1 } } }"
        print  "    outputs:"
        print  "      - name: hls"
        print  "        format: hls"
        printf "        url: %s/out/s%02d/a/index.m3u8\n", dir, s
        printf "        backup: { url: %s/out/s%02d/b/index.m3u8 }\n", dir, s
        print  "        options: { hls_time: 2, hls_list_size: 6, hls_flags: delete_segments }"
        print  "    standby: on_risk"
        printf "    switch_back: %ds\n", pick("10 20 30")
        printf "    latency_budget: %ds\n", budget
        printf "    duration: %ds\n", total
        print  "    faults:"
        t = irnd(60, 120)
        n = 0
        while (t < total - 90) {
            sc = pick("enc_ramp enc_ramp out_ramp out_ramp in_decay in_decay enc_error out_error in_stall enc_wobble out_hiccup in_jitter")
            len = 0
            if (sc == "enc_ramp") {
                # past the frame period at about a third of the ramp
                len = irnd(40, 120)
                fault(t, "enc:" pick("hi lo"), sprintf("fault: slow, duration: %ds, ramp: %dms", len, irnd(90, 200)))
            } else if (sc == "out_ramp") {
                len = irnd(40, 120)
                fault(t, "out:hls", sprintf("fault: slow, duration: %ds, ramp: %dms", len, irnd(20, 60)))
            } else if (sc == "in_decay") {
                d = irnd(10, 30)
                fault(t, "input", sprintf("fault: drop, duration: %ds, ratio: 0.1", d))
                fault(t + d, "input", sprintf("fault: drop, duration: %ds, ratio: 0.3", d))
                fault(t + 2 * d, "input", sprintf("fault: drop, duration: %ds, ratio: 0.6", d))
                fault(t + 3 * d, "input", "fault: stall, duration: 3s")
                len = 3 * d + 3
            } else if (sc == "enc_error") {
                fault(t, "enc:" pick("hi lo"), "fault: error")
            } else if (sc == "out_error") {
                fault(t, "out:hls", "fault: " pick("error close"))
            } else if (sc == "in_stall") {
                fault(t, "input", "fault: stall, duration: 3s")
                len = 3
            } else if (sc == "enc_wobble") {
                len = irnd(20, 60)
                fault(t, "enc:" pick("hi lo"), sprintf("fault: slow, duration: %ds, ramp: %dms", len, irnd(5, 15)))
            } else if (sc == "out_hiccup") {
                fault(t, "out:hls", sprintf("fault: stall, duration: %dms", irnd(200, 800)))
            } else if (sc == "in_jitter") {
                len = irnd(5, 20)
                fault(t, "input", sprintf("fault: drop, duration: %ds, ratio: 0.02", len))
            }
            n++
            t += len + irnd(80, 160)
        }
        if (!n)
            fault(total - 60, "input", "fault: stall, duration: 3s")
    }
}
