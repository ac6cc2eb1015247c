/*
 * mux.c: one muxer instance on its own thread; see mux.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/bprint.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
#include <libavutil/time.h>

#include "plane/conn.h"
#include "plane/deadline.h"
#include "plane/delivery.h"
#include "plane/epoch_io.h"
#include "plane/pathway_io.h"
#include "core/log.h"
#include "plane/mux.h"
#include "plane/srt_out.h"
#include "core/redact.h"

/* Packets waiting for an instance: the owner never blocks on a full queue
 * (it keeps them in its cache), so this only bounds memory. */
#define MUX_QUEUE 1024
/* Stall faults sleep in slices this long. */
#define MUX_SLICE_US 20000
/* Writes remembered until the peer holds them (MUX_CONFIRM_ACK). */
#define MUX_CONFIRM_RING 4096
/* Bytes counted as unread beyond what the socket says: the protocol's own
 * buffers (RTMP keeps a tag until it is whole). */
#define MUX_CONFIRM_MARGIN (64 * 1024)
/* No connection to the destination found this long after it opened: the
 * watch cannot see it (a proxy, an address it does not know), and what
 * the peer holds is not known. */
#define MUX_CONN_FIND_US 2000000

/* A write: the stream's bytes after it, the newest media time in it. */
typedef struct MuxWrote {
    int64_t end;
    int64_t pts_us;
} MuxWrote;

typedef struct MuxIn {
    int is_audio;
    char name[48];
    StreamParams *sp;            /* owned; NULL: absent */
    int streams[32];             /* AVStream indices fed by this input */
    int nb_streams;
    uint8_t *new_extradata;      /* FLV: side data for the next packet */
    int new_extradata_size;
} MuxIn;

struct Mux {
    Stage st;
    MuxConfig cfg;
    AVDictionary *options;       /* owned copy */
    char url[4096];
    char shown[512];             /* redacted url */
    ThreadQueue *q;
    Deadline dl;
    MuxIn *in;
    int nb_in;

    /* Mux thread only. */
    AVFormatContext *oc;
    int header_written;
    int multivariant;            /* HLS with several renditions */
    int restarts;                /* HLS restarts for a discontinuity */
    int caught_up;               /* once on time: the latency budget applies */
    int64_t behind_us;           /* the lag that failed it, 0: none */
    Delivery *delivery;          /* HLS/DASH over HTTP: segments confirmed */
    PathwayIo *pathways;         /* HLS/DASH with CDN pathways */
    EpochIo *epoch;              /* DASH, epoch-locked */
    ConnWatch *conn;             /* its TCP connections, NULL: none (conn.h) */
    char stall_why[160];         /* what the watch saw when it failed a call */
    int64_t opened_us;
    int64_t newest_pts_us;       /* of what was written */
    int64_t hls_first_number;    /* HLS: the number of its first segment, -1:
                                    not known (a playlist's, hls_append) */
    int64_t first_pts_us;        /* media time of the first packet written
                                    (libav's segments are cut from it; audio
                                    may come first), INT64_MIN: none yet */
    MuxWrote *wrote;             /* ring of MUX_CONFIRM_RING, MUX_CONFIRM_ACK */
    int wrote_first, wrote_nb;

    DeliveryCounters http;       /* the confirmations' answers, any thread */

    _Atomic int confirm;         /* MuxConfirm; written by the mux thread */
    _Atomic int64_t confirmed_pts_us;
    _Atomic uint64_t sock_inode;
    _Atomic int state;           /* MuxState */
    _Atomic int64_t packets, bytes, last_pts_us, write_us_last, write_us_max,
                    first_write_us, errors, write_us_sum, writes, write_us_recent_max;
    _Atomic int64_t waited_us;   /* the latest packet's wait (mux_waited_us) */
    _Atomic int64_t busy_us;     /* time spent on packets, not waiting for one */
    _Atomic int64_t hls_next;    /* MuxStats.hls_next_number */
};

int mux_wants_global_header(const char *format)
{
    const AVOutputFormat *f = av_guess_format(format, NULL, NULL);
    return f && (f->flags & AVFMT_GLOBALHEADER);
}

static int is_local(const char *url)
{
    const char *proto = avio_find_protocol_name(url);
    return !proto || !strcmp(proto, "file");
}

/* mkdir -p of the directory part of a local path. */
static int make_parent_dirs(const char *url)
{
    char path[4096];
    char *p;

    if (!strncmp(url, "file:", 5))
        url += 5;
    if (av_strlcpy(path, url, sizeof(path)) >= sizeof(path))
        return AVERROR(ENAMETOOLONG);
    p = strrchr(path, '/');
    if (!p || p == path)
        return 0;
    *p = 0;
    for (p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(path, 0777) < 0 && errno != EEXIST)
            return AVERROR(errno);
        *p = '/';
    }
    if (mkdir(path, 0777) < 0 && errno != EEXIST)
        return AVERROR(errno);
    return 0;
}

/* "dir/" of a url or path, "" when none. */
static void dir_of(const char *url, char *buf, size_t size)
{
    const char *slash = strrchr(url, '/');
    size_t n = slash ? (size_t)(slash - url + 1) : 0;
    if (n >= size)
        n = size - 1;
    memcpy(buf, url, n);
    buf[n] = 0;
}

static int add_stream(Mux *m, MuxIn *in)
{
    AVStream *st = avformat_new_stream(m->oc, NULL);
    int ret;

    if (!st)
        return AVERROR(ENOMEM);
    ret = avcodec_parameters_copy(st->codecpar, in->sp->par);
    if (ret < 0)
        return ret;
    st->codecpar->codec_tag = 0;
    st->time_base = in->sp->time_base;
    if (!in->is_audio && in->sp->frame_rate.num > 0) {
        st->avg_frame_rate = in->sp->frame_rate;
        st->r_frame_rate = in->sp->frame_rate;
    }
    in->streams[in->nb_streams++] = st->index;
    return 0;
}

/* Creates the streams: for a multivariant HLS output, each variant gets a
 * video stream and its own copy of the audio; else one stream per input.
 * An output exists to carry video: with none of its renditions present the
 * instance fails rather than go on with audio alone. */
static int create_streams(Mux *m, AVBPrint *vsm)
{
    MuxIn *audio = NULL;
    int nv = 0, ret;

    for (int i = 0; i < m->nb_in; i++) {
        m->in[i].nb_streams = 0;
        if (m->in[i].is_audio && m->in[i].sp)
            audio = &m->in[i];
    }
    for (int i = 0; i < m->nb_in; i++) {
        MuxIn *in = &m->in[i];
        if (in->is_audio || !in->sp)
            continue;
        if ((ret = add_stream(m, in)) < 0)
            return ret;
        if (m->multivariant) {
            av_bprintf(vsm, "%sv:%d", nv ? " " : "", nv);
            if (audio) {
                if ((ret = add_stream(m, audio)) < 0)
                    return ret;
                av_bprintf(vsm, ",a:%d", audio->nb_streams - 1);
            }
            av_bprintf(vsm, ",name:%s", in->name);
        }
        nv++;
    }
    if (!nv)
        return AVERROR_STREAM_NOT_FOUND;
    if (audio && !m->multivariant)
        return add_stream(m, audio);
    return 0;
}

/* hls_flags += extra, keeping what the job set. */
static void add_hls_flags(AVDictionary **opts, const char *extra)
{
    const AVDictionaryEntry *e = av_dict_get(*opts, "hls_flags", NULL, 0);
    char buf[512];

    snprintf(buf, sizeof(buf), "%s%s", e ? e->value : "", extra);
    av_dict_set(opts, "hls_flags", buf, 0);
}

/* Says what the watch saw when the peer stalled. */
static int peer_stalled(Mux *m, const ConnFigures *f, int64_t busy_us, int64_t now)
{
    int64_t dl = conn_deadline(m->cfg.stall_timeout_us, f->rtt_us, f->rttvar_us);

    if (!conn_stalled(f, busy_us, now, m->cfg.stall_timeout_us))
        return 0;
    if (f->owed_since_us && f->window >= 0)
        snprintf(m->stall_why, sizeof(m->stall_why),
                 "the peer has read nothing for %.2f s (%lld bytes unacknowledged, its window "
                 "%lld of %lld bytes; stall_timeout %.1f s)",
                 (now - FFMAX(f->owed_since_us, f->last_progress_us)) / 1e6,
                 (long long)f->pending, (long long)f->window, (long long)f->window_max, dl / 1e6);
    else if (f->owed_since_us)   /* a kernel before 6.2 does not say the window */
        snprintf(m->stall_why, sizeof(m->stall_why),
                 "the peer has read nothing for %.2f s (%lld bytes unacknowledged; "
                 "stall_timeout %.1f s)", (now - FFMAX(f->owed_since_us, f->last_progress_us)) / 1e6,
                 (long long)f->pending, dl / 1e6);
    else
        snprintf(m->stall_why, sizeof(m->stall_why),
                 "no answer from the peer for %.2f s (stall_timeout %.1f s)",
                 (now - FFMAX(now - busy_us, f->last_progress_us)) / 1e6, dl / 1e6);
    return 1;
}

/* Deadline watch: asked by libav's interrupt callback while a call waits. */
static int watch_peer(void *opaque, int64_t armed_us, int64_t now)
{
    Mux *m = opaque;
    ConnFigures f;

    conn_watch_poll(m->conn, now);
    conn_watch_figures(m->conn, &f);
    return peer_stalled(m, &f, now - armed_us, now);
}

/* Why the last armed call failed, for its event: "" when the peer said. */
static const char *call_failure(Mux *m, char *buf, size_t size)
{
    if (dl_stalled(&m->dl))
        snprintf(buf, size, " (%s)", m->stall_why);
    else if (dl_expired(&m->dl))
        snprintf(buf, size, " (no answer within rw_timeout)");
    else
        buf[0] = 0;
    return buf;
}

/* After a write: how far the destination now holds the stream, and has
 * the peer stopped taking it while nothing was waiting on it? */
static int confirm_written(Mux *m, int64_t pts_us, int64_t now)
{
    MuxConfirm mode = atomic_load(&m->confirm);
    ConnFigures f;
    int64_t held, end, c;

    if (pts_us > m->newest_pts_us)
        m->newest_pts_us = pts_us;
    if (mode == MUX_CONFIRM_WRITTEN) {
        atomic_store(&m->confirmed_pts_us, m->newest_pts_us);
        return 0;
    }
    if (mode == MUX_CONFIRM_SEGMENT && m->delivery) {
        int64_t seg;
        if (delivery_confirmed(m->delivery, &seg))
            atomic_store(&m->confirmed_pts_us, seg);
        else
            atomic_store(&m->confirm, MUX_CONFIRM_NONE);   /* liveness only */
    }
    if (!m->conn)
        return 0;
    conn_watch_poll(m->conn, now);
    conn_watch_figures(m->conn, &f);
    atomic_store(&m->sock_inode, f.inode);
    if (peer_stalled(m, &f, 0, now))
        return AVERROR(ETIMEDOUT);
    if (mode != MUX_CONFIRM_ACK || !m->oc->pb)
        return 0;
    if (!f.nb_sockets && !f.acked) {
        if (now - m->opened_us > MUX_CONN_FIND_US) {
            av_log(m, AV_LOG_WARNING, "no connection to %s found among the process's "
                   "sockets: what it received is not known, a time window is kept\n", m->shown);
            atomic_store(&m->confirm, MUX_CONFIRM_NONE);
        }
        return 0;
    }
    /* the stream's bytes so far, and those the peer may not have read:
     * in libav's buffer, in the socket, in the peer's receive window */
    end = avio_tell(m->oc->pb);
    held = (m->oc->pb->buf_ptr - m->oc->pb->buffer) + f.pending + f.window_max + MUX_CONFIRM_MARGIN;
    if (m->wrote_nb == MUX_CONFIRM_RING) {       /* the oldest is never confirmed */
        m->wrote_first = (m->wrote_first + 1) % MUX_CONFIRM_RING;
        m->wrote_nb--;
    }
    m->wrote[(m->wrote_first + m->wrote_nb++) % MUX_CONFIRM_RING] = (MuxWrote){ end, m->newest_pts_us };
    c = end - held;
    while (m->wrote_nb && m->wrote[m->wrote_first].end <= c) {
        atomic_store(&m->confirmed_pts_us, m->wrote[m->wrote_first].pts_us);
        m->wrote_first = (m->wrote_first + 1) % MUX_CONFIRM_RING;
        m->wrote_nb--;
    }
    return 0;
}

/*
 * HLS and DASH write no byte before their first segment, so a header
 * written says nothing about the origin. An instance opened ahead must know
 * its origin answers: a GET of the playlist URL does, with no side effect;
 * any HTTP answer (404 included) means the origin is up, a refused or
 * timed-out connection means it is not.
 */
static int probe_peer(Mux *m)
{
    AVIOContext *pb = NULL;
    int ret;

    dl_arm(&m->dl, m->cfg.rw_timeout_us);
    log_quiet_libav(1);          /* a 404 is an answer: the origin is up */
    ret = avio_open2(&pb, m->url, AVIO_FLAG_READ, &m->oc->interrupt_callback, NULL);
    log_quiet_libav(0);
    dl_disarm(&m->dl);
    avio_closep(&pb);
    if (delivery_http_class(ret))
        return 0;
    return stage_fail(&m->st, ret, "the origin of %s does not answer%s", m->shown,
                      dl_stalled(&m->dl) ? " within stall_timeout" :
                      dl_expired(&m->dl) ? " within rw_timeout" : "");
}

/* Content Steering in the multivariant playlist or MPD (pathway_io.h),
 * after the delivery hook: the rewritten document is what is uploaded and
 * checked. */
static int attach_pathways(Mux *m, const AVOutputFormat *fmt)
{
    const JobOutput *jo = m->cfg.jo;
    const char *base = strrchr(m->url, '/');
    char doc[1024], media[COMP_NAME_SIZE + 8];
    int dash = !strcmp(fmt->name, "dash");

    if (!m->oc->io_open)
        return 0;
    base = base ? base + 1 : m->url;
    snprintf(doc, sizeof(doc), "%.*s", (int)strcspn(base, "?#"), base);
    /* the first rendition's media playlist: "%v.m3u8" named after it */
    snprintf(media, sizeof(media), "%s.m3u8", m->cfg.js->renditions[jo->renditions[0]].name);
    return pathway_io_attach(&m->pathways, m->oc, jo, dash, doc, dash ? NULL : media,
                             m->cfg.newest_seq, m->cfg.segment_ms, m);
}

static int open_output(Mux *m)
{
    const JobOutput *jo = m->cfg.jo;
    const AVOutputFormat *fmt = av_guess_format(jo->format, NULL, NULL);
    AVDictionary *opts = NULL;
    const AVDictionaryEntry *e = NULL;
    AVBPrint vsm;
    char filename[4096], why[200];
    SrtOutPlan srt = { 0, 0 };
    int ret, nv = 0, na = 0;

    av_bprint_init(&vsm, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (!fmt) {
        ret = stage_fail(&m->st, AVERROR_MUXER_NOT_FOUND, "unknown output format '%s'", jo->format);
        goto end;
    }
    /* pathways need a multivariant playlist to list them in, even for one
     * rendition */
    m->multivariant = !strcmp(fmt->name, "hls") && (jo->nb_renditions > 1 || jo->nb_pathways);
    av_strlcpy(filename, m->url, sizeof(filename));
    av_dict_copy(&opts, m->options, 0);
    if (m->multivariant) {
        char dir[4096];
        const char *base = strrchr(m->url, '/');
        dir_of(m->url, dir, sizeof(dir));
        snprintf(filename, sizeof(filename), "%s%%v.m3u8", dir);
        if (!av_dict_get(opts, "master_pl_name", NULL, 0))
            av_dict_set(&opts, "master_pl_name", base ? base + 1 : m->url, 0);
        if (!av_dict_get(opts, "hls_segment_filename", NULL, 0)) {
            char seg[4096];
            const AVDictionaryEntry *t = av_dict_get(opts, "hls_segment_type", NULL, 0);
            snprintf(seg, sizeof(seg), "%s%%v_%%05d.%s", dir, t && !strcmp(t->value, "fmp4") ? "m4s" : "ts");
            av_dict_set(&opts, "hls_segment_filename", seg, 0);
        }
    }
    /* DASH numbers every muxer's segments from 1 (it has no start number):
     * a later muxer of the same destination, under the same names, would
     * upload over the earlier one's segments (and their init), which hold
     * other media. Its names carry the run, and the output's run tag (a
     * fleet node's name and start: another node's muxer, or this node's
     * in an earlier leadership, writes the same destination); the MPD it
     * writes names them. */
    if (!strcmp(fmt->name, "dash") && m->cfg.epoch_lock) {
        /* epoch lock: the names every node gives the same segment
         * (epoch_io.h), whichever muxer writes it */
        av_dict_set(&opts, "media_seg_name", EPOCH_DASH_LIBAV_MEDIA, 0);
        av_dict_set(&opts, "init_seg_name", "init-stream$RepresentationID$.$ext$", 0);
        /* no edit list: the mp4 muxer's would start the presentation at
         * this muxer's first packet, which players apply over the
         * segments' Unix-time timestamps (and each node's init would
         * differ) */
        {
            const AVDictionaryEntry *f = av_dict_get(opts, "format_options", NULL, 0);
            char *fo = av_asprintf("%s%suse_editlist=0:avoid_negative_ts=disabled:movflags=+frag_discont",
                                   f ? f->value : "",
                                   f ? ":" : "");
            if (fo)
                av_dict_set(&opts, "format_options", fo, AV_DICT_DONT_STRDUP_VAL);
        }
    } else if (!strcmp(fmt->name, "dash") && (m->cfg.dash_run > 0 || m->cfg.jo->run_tag)) {
        char tag[160] = "", name[256];
        if (m->cfg.jo->run_tag)
            snprintf(tag, sizeof(tag), "-%s", m->cfg.jo->run_tag);
        if (m->cfg.dash_run > 0)
            av_strlcatf(tag, sizeof(tag), "-r%d", m->cfg.dash_run);
        if (!av_dict_get(opts, "media_seg_name", NULL, 0)) {
            snprintf(name, sizeof(name), "chunk-stream$RepresentationID$%s-$Number%%05d$.$ext$",
                     tag);
            av_dict_set(&opts, "media_seg_name", name, 0);
        }
        if (!av_dict_get(opts, "init_seg_name", NULL, 0)) {
            snprintf(name, sizeof(name), "init-stream$RepresentationID$%s.$ext$", tag);
            av_dict_set(&opts, "init_seg_name", name, 0);
        }
    }
    if (!strcmp(fmt->name, "hls")) {
        /* a restart goes on after the playlist's last segment (append_list
         * below); a start_number there would move every number it lists */
        if (m->cfg.hls_start_number >= 0 && !m->restarts)
            av_dict_set_int(&opts, "start_number", m->hls_first_number >= 0 ? m->hls_first_number
                                                                           : m->cfg.hls_start_number, 0);
        /* a restart for new codec parameters goes on in the same playlists,
         * after a discontinuity */
        if (m->restarts)
            add_hls_flags(&opts, "+append_list+discont_start");
        /* so does a reload's new pipeline: append_list marks the first new
         * segment (discont_start would also mark the playlist's first) */
        else if (m->cfg.hls_append)
            add_hls_flags(&opts, "+append_list");
        /* another node may have written this playlist's earlier segments
         * with other timestamps */
        else if (m->cfg.epoch_lock && !m->cfg.timeline_locked)
            add_hls_flags(&opts, "+discont_start");
    }

    ret = avformat_alloc_output_context2(&m->oc, fmt, NULL, filename);
    if (ret < 0) {
        stage_fail(&m->st, ret, "cannot create the %s muxer", fmt->name);
        goto end;
    }
    m->oc->interrupt_callback = dl_callback(&m->dl);
    m->oc->max_interleave_delta = MUX_MAX_INTERLEAVE_US;
    if (!is_local(m->url) && !m->conn && m->cfg.stall_timeout_us > 0) {
        if ((ret = conn_watch_alloc(&m->conn, m->url, m->cfg.send_buffer)) < 0) {
            stage_fail(&m->st, ret, "out of memory");
            goto end;
        }
        if (m->conn)
            dl_set_watch(&m->dl, watch_peer, m);
    }
    m->opened_us = av_gettime_relative();
    if ((fmt->flags & AVFMT_NOFILE) && !is_local(m->url)) {
        const AVDictionaryEntry *p = av_dict_get(opts, "http_persistent", NULL, 0);
        if ((ret = delivery_attach(&m->delivery, m->oc, m->cfg.rw_timeout_us, &m->http)) < 0) {
            stage_fail(&m->st, ret, "out of memory");
            goto end;
        }
        if (p && strcmp(p->value, "0") && !m->restarts)
            av_log(m, AV_LOG_WARNING, "http_persistent keeps one connection open: uploaded "
                   "segments cannot be confirmed, and a stalled origin will not be noticed\n");
    }
    if (jo->nb_pathways && (ret = attach_pathways(m, fmt)) < 0) {
        stage_fail(&m->st, ret, "out of memory");
        goto end;
    }
    /* epoch lock on DASH: the grid's names and the MPD every node writes
     * alike (epoch_io.h); outside the pathways' hook, which then sees
     * the MPD as players get it */
    if (m->cfg.epoch_lock && !strcmp(fmt->name, "dash")) {
        const char *base = strrchr(m->url, '/');
        char doc[1024];
        base = base ? base + 1 : m->url;
        snprintf(doc, sizeof(doc), "%.*s", (int)strcspn(base, "?#"), base);
        if ((ret = epoch_io_attach(&m->epoch, m->oc, doc,
                                   job_output_segment_us(jo, m->cfg.options), m)) < 0) {
            stage_fail(&m->st, ret, "out of memory");
            goto end;
        }
    }
    /* how far the destination will be known to hold what is written */
    atomic_store(&m->confirm, is_local(m->url) ? MUX_CONFIRM_WRITTEN :
                              (fmt->flags & AVFMT_NOFILE) ? (m->delivery ? MUX_CONFIRM_SEGMENT
                                                                         : MUX_CONFIRM_NONE) :
                              m->conn ? MUX_CONFIRM_ACK : MUX_CONFIRM_NONE);
    /* lavf would shift each instance by its own first timestamp; the
     * output's shift (ts_shift_us) is the same for all of them */
    if (!(fmt->flags & AVFMT_TS_NEGATIVE))
        m->oc->avoid_negative_ts = AVFMT_AVOID_NEG_TS_DISABLED;

    ret = create_streams(m, &vsm);
    if (ret < 0) {
        stage_fail(&m->st, ret, "nothing to write: none of the output's video renditions started");
        goto end;
    }
    for (unsigned i = 0; i < m->oc->nb_streams; i++) {
        if (m->oc->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO)
            nv++;
        else
            na++;
    }
    if (m->multivariant && !av_dict_get(opts, "var_stream_map", NULL, 0))
        av_dict_set(&opts, "var_stream_map", vsm.str, 0);
    if (!strcmp(fmt->name, "flv") && !av_dict_get(opts, "flvflags", NULL, 0))
        av_dict_set(&opts, "flvflags", "no_duration_filesize", 0);
    if (!is_local(m->url) && (fmt->flags & AVFMT_NOFILE)) {
        /* HLS and DASH open their segments themselves: their own option
         * carries the deadline, and PUT is what origins take */
        if (!av_dict_get(opts, "timeout", NULL, 0)) {
            char t[32];
            snprintf(t, sizeof(t), "%.6f", m->cfg.rw_timeout_us / 1e6);   /* a duration in s */
            av_dict_set(&opts, "timeout", t, 0);
        }
        if (!av_dict_get(opts, "method", NULL, 0))
            av_dict_set(&opts, "method", "PUT", 0);
    } else if (!is_local(m->url) && !av_dict_get(opts, "rw_timeout", NULL, 0)) {
        av_dict_set_int(&opts, "rw_timeout", m->cfg.rw_timeout_us, 0);
    }

    if (is_local(m->url) && (ret = make_parent_dirs(filename)) < 0) {
        stage_fail(&m->st, ret, "cannot create the directory of %s", m->shown);
        goto end;
    }
    if (srt_out_is_srt(m->url)) {
        /* a hung SRT peer shows only as a write that waits (srt_out.h) */
        srt = srt_out_plan(m->cfg.stall_timeout_us > 0 ? m->cfg.stall_timeout_us : SRT_OUT_STALL_US,
                           m->cfg.send_buffer > 0 ? m->cfg.send_buffer : SRT_OUT_SEND_BUFFER,
                           srt_out_bitrate(m->cfg.js, jo, m->options));
        if ((ret = srt_out_options(&opts, m->url, &srt)) < 0) {
            stage_fail(&m->st, ret, "out of memory");
            goto end;
        }
    }
    if (!(fmt->flags & AVFMT_NOFILE)) {
        dl_arm(&m->dl, m->cfg.rw_timeout_us);
        ret = avio_open2(&m->oc->pb, filename, AVIO_FLAG_WRITE, &m->oc->interrupt_callback, &opts);
        dl_disarm(&m->dl);
        if (ret < 0) {
            stage_fail(&m->st, ret, "cannot open %s%s", m->shown,
                       call_failure(m, why, sizeof(why)));
            goto end;
        }
        if (srt_out_is_srt(m->url) && srt_out_arm(m->oc->pb, m->url, m->options, &srt) < 0)
            av_log(m, AV_LOG_WARNING, "cannot shorten the SRT write timeout: a hung peer "
                   "is noticed after rw_timeout\n");
    }
    dl_arm(&m->dl, m->cfg.rw_timeout_us);
    ret = avformat_write_header(m->oc, &opts);
    dl_disarm(&m->dl);
    if (ret < 0) {
        stage_fail(&m->st, ret, "cannot start %s %s%s", fmt->name, m->shown,
                   call_failure(m, why, sizeof(why)));
        goto end;
    }
    m->header_written = 1;
    if ((fmt->flags & AVFMT_NOFILE) && !is_local(m->url) && (ret = probe_peer(m)) < 0)
        goto end;
    while ((e = av_dict_get(opts, "", e, AV_DICT_IGNORE_SUFFIX)))
        av_log(m, AV_LOG_WARNING, "output option '%s' was not used\n", e->key);
    if (!m->restarts)
        stage_event(&m->st, EV_START, "%s output %s opened (%d video, %d audio stream%s)",
                    fmt->name, m->shown, nv, na, na == 1 ? "" : "s");
    ret = 0;
end:
    av_bprint_finalize(&vsm, NULL);
    av_dict_free(&opts);
    return ret;
}

/* Closes the muxer; trailer: write it (ENDLIST, moov) or not (abandon). */
static void close_output(Mux *m, int trailer)
{
    char what[600];

    if (!m->oc)
        return;
    if (m->header_written && trailer) {
        int ret;
        /* an epoch-locked playlist is the stream's, not this process's:
         * whichever node runs the stream next goes on in it, so a stop
         * (a handover in a fleet) does not end it for the players, unless
         * the stream ends for good (removed from the fleet) */
        if (((m->cfg.continued && atomic_load(m->cfg.continued)) ||
             (m->cfg.epoch_lock && !(m->cfg.final && atomic_load(m->cfg.final)))) &&
            !strcmp(m->oc->oformat->name, "hls"))
            av_opt_set(m->oc->priv_data, "hls_flags", "+omit_endlist", 0);
        dl_arm(&m->dl, m->cfg.rw_timeout_us);
        ret = av_write_trailer(m->oc);
        dl_disarm(&m->dl);
        if (ret < 0)
            av_log(m, AV_LOG_ERROR, "writing the trailer failed: %s\n", av_err2str(ret));
    }
    if (!(m->oc->oformat->flags & AVFMT_NOFILE))
        avio_closep(&m->oc->pb);
    avformat_free_context(m->oc);
    /* a failed muxer closes with every call interrupted: its checks fail
     * for that, and its failure has been said */
    if (trailer && m->delivery && delivery_error(m->delivery, what, sizeof(what)) < 0)
        av_log(m, AV_LOG_ERROR, "%s (while closing)\n", what);
    delivery_free(&m->delivery);
    pathway_io_free(&m->pathways);
    epoch_io_free(&m->epoch);
    m->oc = NULL;
    m->header_written = 0;
}

/* Sleeps for a stall fault; a stall as long as the deadline is what a dead
 * peer looks like, and fails the same way. */
static int stall(Mux *m, int64_t us)
{
    int64_t until = av_gettime_relative() + FFMIN(us, m->cfg.rw_timeout_us);

    av_log(m, AV_LOG_WARNING, "fault: stalling for %.3f s\n", us / 1e6);
    while (av_gettime_relative() < until)
        av_usleep(MUX_SLICE_US);
    return us >= m->cfg.rw_timeout_us ? AVERROR(ETIMEDOUT) : 0;
}

/*
 * The segment numbers an HLS muxer may have used, from the media time of
 * what it was given: it cuts a segment no sooner than the shortest segment
 * after the previous cut (the first counted from its first packet, audio
 * or video), and once more at each restart (a discontinuity, which goes on
 * after the playlist's last segment), so it uses no more than 1 + restarts
 * + span / shortest numbers. Counted rather than read back from libav (its
 * count is private); never lowered (a timestamp may step back: B-frames,
 * an open GOP), and an over-estimate costs only a skipped number.
 */
static void hls_count(Mux *m, int64_t t_us)
{
    int64_t next;

    if (m->hls_first_number < 0 || m->cfg.hls_segment_min_us <= 0)
        return;
    if (m->first_pts_us == INT64_MIN)
        m->first_pts_us = t_us;
    next = m->hls_first_number + m->restarts + 1 +
           FFMAX(t_us - m->first_pts_us, 0) / m->cfg.hls_segment_min_us;
    if (next > atomic_load(&m->hls_next))
        atomic_store(&m->hls_next, next);
}

/* Writes pkt (consumed) to every stream its input feeds. */
static int write_packet(Mux *m, AVPacket *pkt, int index)
{
    MuxIn *in = &m->in[index];
    int64_t t_us, dts_us, waited;
    void *stamp = pkt->opaque;   /* its arrival (mux_stamp_arrival) */
    int ret = 0;

    if (!in->sp || !in->nb_streams) {
        av_packet_free(&pkt);
        return 0;
    }
    t_us = pkt->pts != AV_NOPTS_VALUE ? av_rescale_q(pkt->pts, pkt->time_base, AV_TIME_BASE_Q) : 0;

    if (m->cfg.faults && fault_any(m->cfg.faults)) {
        FaultEffect fx = fault_poll(m->cfg.faults, t_us);
        if (fx.error || fx.close) {
            av_packet_free(&pkt);
            av_log(m, AV_LOG_WARNING, "fault: %s\n", fx.error ? "write error" : "connection closed");
            return fx.error ? AVERROR(EIO) : AVERROR(ECONNRESET);
        }
        if (fx.stall_us && (ret = stall(m, fx.stall_us)) < 0) {
            av_packet_free(&pkt);
            return ret;
        }
        if (fx.delay_us)
            av_usleep(fx.delay_us);
        if (fx.drop) {
            av_packet_free(&pkt);
            return 0;
        }
    }

    if (in->new_extradata) {
        /* FLV writes a new sequence header on this side data */
        uint8_t *sd = av_packet_new_side_data(pkt, AV_PKT_DATA_NEW_EXTRADATA,
                                              in->new_extradata_size);
        if (sd)
            memcpy(sd, in->new_extradata, in->new_extradata_size);
        av_freep(&in->new_extradata);
    }
    atomic_store(&m->last_pts_us, t_us);
    dts_us = pkt->dts != AV_NOPTS_VALUE ? av_rescale_q(pkt->dts, pkt->time_base, AV_TIME_BASE_Q) : t_us;
    for (int i = 0; i < in->nb_streams && ret >= 0; i++) {
        AVStream *st = m->oc->streams[in->streams[i]];
        AVPacket *p = i == in->nb_streams - 1 ? pkt : av_packet_clone(pkt);
        int64_t t0, dt;

        if (!p) {
            ret = AVERROR(ENOMEM);
            break;
        }
        if (p == pkt)
            pkt = NULL;
        if (m->cfg.ts_shift_us) {
            int64_t d = av_rescale_q(m->cfg.ts_shift_us, AV_TIME_BASE_Q, p->time_base);
            if (p->pts != AV_NOPTS_VALUE)
                p->pts += d;
            if (p->dts != AV_NOPTS_VALUE)
                p->dts += d;
        }
        av_packet_rescale_ts(p, p->time_base, st->time_base);
        p->time_base = st->time_base;
        p->stream_index = st->index;
        atomic_fetch_add(&m->packets, 1);
        atomic_fetch_add(&m->bytes, p->size);

        if (m->delivery)
            delivery_set_position(m->delivery, t_us);
        t0 = av_gettime_relative();
        dl_arm(&m->dl, m->cfg.rw_timeout_us);
        ret = av_interleaved_write_frame(m->oc, p);   /* takes p's reference */
        /* a file holds what was written only once the I/O buffer is
         * flushed: a failed muxer is let go with every call interrupted,
         * its buffer with it, and what the cache let go as written (up to
         * 32 KiB, a second at 300 kbit/s) would be lost */
        if (ret >= 0 && atomic_load(&m->confirm) == MUX_CONFIRM_WRITTEN && m->oc->pb) {
            avio_flush(m->oc->pb);
            if (m->oc->pb->error < 0)
                ret = m->oc->pb->error;
        }
        dl_disarm(&m->dl);
        dt = av_gettime_relative() - t0;
        av_packet_free(&p);
        atomic_store(&m->write_us_last, dt);
        atomic_fetch_add(&m->write_us_sum, dt);
        atomic_fetch_add(&m->writes, 1);
        if (dt > atomic_load(&m->write_us_max))
            atomic_store(&m->write_us_max, dt);
        if (dt > atomic_load(&m->write_us_recent_max))
            atomic_store(&m->write_us_recent_max, dt);
        if (!atomic_load(&m->first_write_us))
            atomic_store(&m->first_write_us, t0);
    }
    av_packet_free(&pkt);
    hls_count(m, t_us);          /* a write that failed may have cut a segment */
    if (ret >= 0 && !in->is_audio)
        continuity_written(m->cfg.continuity, index, dts_us, in->sp->frame_rate);
    if (ret >= 0 && m->delivery)
        ret = delivery_error(m->delivery, NULL, 0);   /* a segment closed above */
    if (ret >= 0 && (ret = confirm_written(m, t_us, av_gettime_relative())) < 0)
        atomic_store(&m->dl.stalled, 1);             /* said like a call's */
    if (ret < 0)
        return ret;

    /* a live stream's output that holds packets up past the budget has
     * failed (its own delay: mux_stamp_arrival); an instance replaying a
     * backlog is judged once it has caught up */
    if (m->cfg.clock->live && m->cfg.clock->latency_budget_us) {
        waited = mux_waited_us(stamp, av_gettime_relative());
        atomic_store(&m->waited_us, waited);
        if (waited < m->cfg.clock->latency_budget_us / 2)
            m->caught_up = 1;
        else if (m->caught_up && waited > m->cfg.clock->latency_budget_us) {
            m->behind_us = waited;
            return AVERROR(ETIMEDOUT);
        }
    }
    return 0;
}

/* New codec parameters for an input (consumed): a standby encoder took
 * over. Receivers learn it the way their format says. */
static int change_params(Mux *m, int index, StreamParams *sp)
{
    MuxIn *in = &m->in[index];
    const char *fmt = m->oc->oformat->name;
    int ret = 0;

    params_free(&in->sp);
    in->sp = sp;
    if (!strcmp(fmt, "hls")) {
        /* HLS: EXT-X-DISCONTINUITY; the muxer restarts on the same playlists */
        av_opt_set(m->oc->priv_data, "hls_flags", "+omit_endlist", 0);
        close_output(m, 1);
        m->restarts++;
        av_log(m, AV_LOG_INFO, "codec parameters changed: the playlists go on after a discontinuity\n");
        return open_output(m);
    }
    if (strcmp(fmt, "flv")) {
        /* in-band headers (MPEG-TS inserts them at keyframes) come from
         * the stream's extradata: the new encoder's from now on. FLV
         * compares the side data below with it, so it keeps the old. */
        for (int i = 0; i < in->nb_streams; i++) {
            AVCodecParameters *par = m->oc->streams[in->streams[i]]->codecpar;
            uint8_t *extradata = av_mallocz(sp->par->extradata_size + AV_INPUT_BUFFER_PADDING_SIZE);
            if (!extradata)
                return AVERROR(ENOMEM);
            memcpy(extradata, sp->par->extradata, sp->par->extradata_size);
            av_freep(&par->extradata);
            par->extradata = extradata;
            par->extradata_size = sp->par->extradata_size;
        }
    }
    if (!strcmp(fmt, "flv")) {
        /* FLV: a new sequence header, on the next packet's side data */
        av_freep(&in->new_extradata);
        in->new_extradata = av_memdup(sp->par->extradata, sp->par->extradata_size);
        if (!in->new_extradata)
            return AVERROR(ENOMEM);
        in->new_extradata_size = sp->par->extradata_size;
        av_log(m, AV_LOG_INFO, "codec parameters changed: a new FLV sequence header follows\n");
    } else if (strcmp(fmt, "mpegts")) {
        av_log(m, AV_LOG_WARNING, "codec parameters changed: %s cannot signal it; "
               "players may not decode across the change\n", fmt);
    }
    return ret;
}

static int mux_run(void *arg)
{
    Mux *m = arg;
    int ret, kind, index, trailer = 1;
    char what[600];
    void *ptr;

    ret = open_output(m);
    if (ret < 0)
        goto end;
    atomic_store(&m->state, MUX_READY);

    for (;;) {
        ret = tq_recv(m->q, &kind, &index, &ptr, -1);
        if (ret == AVERROR_EOF) {
            ret = 0;
            break;
        }
        if (kind == TQ_END) {
            trailer = index == 0;
            break;
        }
        if (index < 0 || index >= m->nb_in) {
            tq_item_free(kind, ptr);
            continue;
        }
        if (kind == TQ_PACKET) {
            int64_t t0 = av_gettime_relative();
            ret = write_packet(m, ptr, index);
            atomic_fetch_add(&m->busy_us, av_gettime_relative() - t0);
            if (ret < 0) {
                atomic_fetch_add(&m->errors, 1);
                if (m->behind_us)
                    stage_fail(&m->st, ret, "%s holds packets up: they waited %.1f s for it (latency budget %.1f s)",
                               m->shown, m->behind_us / 1e6, m->cfg.clock->latency_budget_us / 1e6);
                else if (dl_stalled(&m->dl))
                    stage_fail(&m->st, ret, "%s stopped taking data: %s", m->shown, m->stall_why);
                else if (m->delivery && delivery_error(m->delivery, what, sizeof(what)) < 0)
                    stage_fail(&m->st, ret, "%s", what);
                else
                    stage_fail(&m->st, ret, "writing to %s failed%s", m->shown,
                               call_failure(m, what, sizeof(what)));
                break;
            }
        } else if (kind == TQ_PARAMS) {
            ret = change_params(m, index, ptr);
            if (ret < 0) {
                stage_fail(&m->st, ret, "cannot go on with new codec parameters on %s", m->shown);
                break;
            }
        } else {
            tq_item_free(kind, ptr);
        }
    }

end:
    tq_recv_done(m->q);
    /* a failed destination gets no goodbye: its peer may be the reason,
     * and the backup waits for this thread's end (every call is
     * interrupted at once) */
    if (ret < 0)
        dl_arm(&m->dl, 0);
    close_output(m, trailer && ret >= 0);
    atomic_store(&m->state, ret < 0 ? MUX_FAILED : MUX_DONE);
    if (ret < 0 && m->cfg.wake)
        tq_send_timeout(m->cfg.wake, TQ_END, -1, NULL, 0);   /* switch now, not at the next poll */
    if (ret >= 0 && trailer && atomic_load(&m->packets))
        stage_event(&m->st, EV_END, "output %s closed: %lld packets, %lld bytes", m->shown,
                    (long long)atomic_load(&m->packets), (long long)atomic_load(&m->bytes));
    return ret;
}

int mux_alloc(Mux **pm, const MuxConfig *cfg, const MuxInput *inputs, int nb_inputs)
{
    Mux *m = av_mallocz(sizeof(*m));
    const AVDictionaryEntry *e;

    *pm = NULL;
    if (!m)
        return AVERROR(ENOMEM);
    stage_init(&m->st, cfg->js->name, cfg->component, cfg->events, mux_run);
    m->cfg = *cfg;
    av_strlcpy(m->url, cfg->url, sizeof(m->url));
    redact_url(cfg->url, m->shown, sizeof(m->shown));
    m->cfg.url = m->url;
    if (av_dict_copy(&m->options, cfg->options, 0) < 0)
        goto fail;
    m->cfg.options = m->options;
    dl_init(&m->dl, NULL);
    atomic_init(&m->state, MUX_OPENING);
    atomic_init(&m->confirm, MUX_CONFIRM_NONE);
    atomic_init(&m->confirmed_pts_us, INT64_MIN);
    atomic_init(&m->sock_inode, 0);
    m->newest_pts_us = INT64_MIN;
    m->first_pts_us = INT64_MIN;
    /* libav starts at 0 unless told: by the job's start_number, or by the
     * owner's (by media time, never below the destination's earlier
     * muxers' numbers), the larger winning; a playlist gone on in decides
     * itself. A muxer that writes no packet may still upload its first
     * segment at its end. */
    m->hls_first_number = !cfg->hls_segment_min_us || cfg->hls_append ? -1 :
                          FFMAX(cfg->hls_start_number, 0);
    if (m->hls_first_number >= 0 && (e = av_dict_get(cfg->options, "start_number", NULL, 0)))
        m->hls_first_number = FFMAX(m->hls_first_number, strtoll(e->value, NULL, 10));
    atomic_init(&m->hls_next, m->hls_first_number < 0 ? -1 : m->hls_first_number + 1);
    m->q = tq_alloc(MUX_QUEUE, 1);
    m->in = av_calloc(nb_inputs, sizeof(*m->in));
    m->wrote = av_calloc(MUX_CONFIRM_RING, sizeof(*m->wrote));
    if (!m->q || !m->in || !m->wrote)
        goto fail;
    m->nb_in = nb_inputs;
    for (int i = 0; i < nb_inputs; i++) {
        m->in[i].is_audio = inputs[i].is_audio;
        av_strlcpy(m->in[i].name, inputs[i].name, sizeof(m->in[i].name));
        if (inputs[i].sp && !(m->in[i].sp = params_clone(inputs[i].sp)))
            goto fail;
    }
    *pm = m;
    return 0;
fail:
    mux_free(&m);
    return AVERROR(ENOMEM);
}

void mux_free(Mux **pm)
{
    Mux *m = *pm;

    if (!m)
        return;
    for (int i = 0; i < m->nb_in; i++) {
        params_free(&m->in[i].sp);
        av_freep(&m->in[i].new_extradata);
    }
    av_freep(&m->in);
    av_freep(&m->wrote);
    conn_watch_free(&m->conn);
    tq_free(&m->q);
    av_dict_free(&m->options);
    stage_uninit(&(*pm)->st);
    av_freep(pm);
}

int mux_start(Mux *m)
{
    return stage_start(&m->st);
}

int mux_join(Mux *m)
{
    return stage_join(&m->st);
}

MuxState mux_state(Mux *m)
{
    return atomic_load(&m->state);
}

ThreadQueue *mux_queue(Mux *m)
{
    return m->q;
}

void mux_stats(Mux *m, MuxStats *s)
{
    s->packets = atomic_load(&m->packets);
    s->bytes = atomic_load(&m->bytes);
    s->last_pts_us = atomic_load(&m->last_pts_us);
    s->write_us_last = atomic_load(&m->write_us_last);
    s->write_us_max = atomic_load(&m->write_us_max);
    s->first_write_us = atomic_load(&m->first_write_us);
    s->errors = atomic_load(&m->errors);
    s->write_us_sum = atomic_load(&m->write_us_sum);
    s->writes = atomic_load(&m->writes);
    s->http_checks = atomic_load(&m->http.checks);
    for (int i = 0; i < 4; i++)
        s->http_status[i] = atomic_load(&m->http.status[i]);
    s->waited_us = atomic_load(&m->waited_us);
    s->busy_us = atomic_load(&m->busy_us);
    s->budget_us = m->cfg.clock && m->cfg.clock->live ? m->cfg.clock->latency_budget_us : 0;
    s->hls_next_number = atomic_load(&m->hls_next);
}

int64_t mux_take_max_write(Mux *m)
{
    return atomic_exchange(&m->write_us_recent_max, 0);
}

MuxConfirm mux_confirmed(Mux *m, int64_t *pts_us)
{
    *pts_us = atomic_load(&m->confirmed_pts_us);
    return atomic_load(&m->confirm);
}

uint64_t mux_sock_inode(Mux *m)
{
    return atomic_load(&m->sock_inode);
}
