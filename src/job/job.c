/*
 * job.c: the YAML job file -> a validated, immutable Job; see job.h.
 *
 * The file is read with libyaml's document API, so that every node keeps the
 * place it came from, and walked against schema version 1: this file is the
 * schema. Problems are collected by job_yaml.c and sorted into file order at
 * the end; what can be checked against libav without opening anything is
 * checked by job_libav.c (job_int.h says what each offers).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/parseutils.h>

#include "job/job.h"
#include "core/comp.h"
#include "core/hookarg.h"
#include "core/log.h"
#include "job/job_int.h"
#include "job/preset.h"
#include "core/redact.h"
#include "core/units.h"

/* Limits of schema version 1: part of the user-facing contract, like the
 * key names (a job valid today must stay valid). */
#define NAME_MAX_LEN        32
#define DIM_MIN             16
#define DIM_MAX             16384
#define FPS_MAX             1000
#define BITRATE_MIN         1000
#define BITRATE_MAX         2000000000
#define GOP_FRAMES_MAX      100000
#define GOP_US_MAX          (60 * 1000000LL)
#define SAMPLE_RATE_MIN     8000
#define SAMPLE_RATE_MAX     192000
#define PROBE_MAX_US        (3600 * 1000000LL)
#define LOSS_TIMEOUT_MAX_US (60 * 1000000LL)
#define SWITCH_BACK_MAX_US  (24 * 3600 * 1000000LL)
#define FAULT_COUNT_MAX     100000
#define HOOK_TIMEOUT_MAX_US (3600 * 1000000LL)

/* an input's sources and an output's destinations: the data plane holds
 * COMP_MAX_INSTANCES of each, the primary included */
#define BACKUPS_MAX         (COMP_MAX_INSTANCES - 1)

/* Names: [a-z0-9_-] for streams (they become paths and log prefixes),
 * [A-Za-z0-9_.-] for renditions and outputs ("720p", "HD.main"). */
static int name_char(char c, int loose)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || (loose && ((c >= 'A' && c <= 'Z') || c == '.'));
}

static int get_name(Loader *ld, const yaml_node_t *map, const char *what, int loose,
                    char **out, yaml_node_t **node)
{
    yaml_node_t *n = jy_map_require(ld, map, what, "name");
    const char *s;
    size_t len;

    *node = NULL;
    if (!n)
        return -1;
    if (jy_node_type(n) != T_STRING) {
        jy_wrong_type(ld, n, "name", "a string");
        return -1;
    }
    s = TEXT(n);
    len = strlen(s);
    for (const char *c = s; *c; c++)
        if (!name_char(*c, loose))
            len = 0;
    if (!len || len > NAME_MAX_LEN || len != n->data.scalar.length) {
        report(ld, n, "%s name must be 1 to %d characters of %s, got '%s'", what,
               NAME_MAX_LEN, loose ? "A-Z, a-z, 0-9, '_', '.' and '-'"
                                   : "a-z, 0-9, '_' and '-'", s);
        return -1;
    }
    *out = jy_strdup(ld, s);
    *node = n;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Inputs, audio, renditions, outputs                                       */

static const char *const job_keys[] = {
    "version", "rw_timeout", "supervisor", "streams", "expect", NULL,
};
static const char *const supervisor_keys[] = {
    "tick", "hds", "metrics", "model", "control", "hooks", "orchestrator", "standby_mode", "fleet",
    NULL,
};
static const char *const fleet_keys[] = { "etcd", "node", "lease", "prefix", "pair",
                                           "max_streams", NULL };
static const char *const orchestrator_keys[] = {
    "provision_above", "release_below", "switch_above", "confirm", "keep", "max_provisioned",
    "max_sessions_per_device", "hot_above", NULL,
};
static const char *const hooks_keys[] = { "provision", "release", "timeout", NULL };
static const char *const hds_keys[] = { "path", "retention", "raw_window", NULL };
static const char *const metrics_keys[] = { "listen", "allow_remote", NULL };
static const char *const stream_keys[] = {
    "name", "input", "audio", "renditions", "outputs", "duration", "standby",
    "standby_mode", "switch_back", "latency_budget", "faults", "orchestrator", "expect", NULL,
};
static const char *const input_keys[] = {
    "url", "format", "options", "realtime", "filter", "rw_timeout", "backup",
    "loss_timeout", "probes", "prefetch", NULL,
};
static const char *const prefetch_words[] = { "always", "on_risk", NULL };
static const char *const input_backup_keys[] = {
    "url", "format", "options", "realtime", "rw_timeout", NULL,
};
static const char *const probe_keys[] = { "black", "freeze", "silence", NULL };
static const char *const encoder_backup_keys[] = {
    "encoder", "bitrate", "options", "device", NULL,
};
static const char *const output_backup_keys[] = {
    "url", "options", "rw_timeout", "stall_timeout", "send_buffer_size", NULL,
};
static const char *const fault_keys[] = {
    "at", "component", "fault", "action", "duration", "ramp", "ratio", "every",
    "count", NULL,
};
static const char *const audio_keys[] = {
    "encoder", "bitrate", "sample_rate", "channels", "options", NULL,
};
static const char *const rendition_keys[] = {
    "name", "width", "height", "fps", "encoder", "bitrate", "gop", "options",
    "device", "backup", NULL,
};
static const char *const output_keys[] = {
    "name", "format", "url", "renditions", "options", "rw_timeout", "stall_timeout",
    "send_buffer_size", "backup", "pathways", "steering", "epoch_lock", NULL,
};

static JobLoc loc_of(const yaml_node_t *n)
{
    return (JobLoc){ (int)n->start_mark.line + 1, (int)n->start_mark.column + 1 };
}

/* Where an input reads from: the fields a stream input and its backups
 * share. */
typedef struct Source {
    char **url, **format;
    AVDictionary **options;
    int *realtime;
    int64_t *rw_timeout_us;
} Source;

static void load_source(Loader *ld, const yaml_node_t *map, const char *what, Source src)
{
    const AVInputFormat *ifmt = NULL;
    const AVClass *proto = NULL;
    const char *proto_name = NULL;
    yaml_node_t *opts, *fmt_node = jy_map_get(ld, map, "format");
    int checkable = 1;            /* options can be checked against libav */
    char scheme[32];

    *src.rw_timeout_us = ld->rw_timeout_us;
    if (jy_get_string(ld, map, "format", src.format) > 0) {
        ifmt = av_find_input_format(*src.format);
        if (!ifmt) {
            report(ld, fmt_node, "unknown input format '%s' (see ffmpeg -demuxers)", *src.format);
            checkable = 0;
        }
    } else if (fmt_node) {
        checkable = 0;
    }
    if (jy_map_require(ld, map, what, "url") && jy_get_string(ld, map, "url", src.url) > 0 &&
        *src.url) {
        jl_register_secrets(ld, *src.url);
        /* a format that opens no file (lavfi) reads its URL as it likes */
        if ((!ifmt || !(ifmt->flags & AVFMT_NOFILE)) &&
            jl_url_protocol(ld, jy_map_get(ld, map, "url"), *src.url, &proto_name, &proto) < 0)
            checkable = 0;
        jl_url_scheme(*src.url, scheme, sizeof(scheme));
        *src.realtime = !jl_is_network_scheme(scheme);
    }
    jy_get_options(ld, map, src.options, &opts);
    if (checkable)
        jl_check_input_options(ld, opts, ifmt, proto, proto_name);
    jy_get_bool(ld, map, "realtime", src.realtime);
    jy_get_duration(ld, map, "rw_timeout", 0, src.rw_timeout_us);
}

/* "backup": one mapping, or a list of them, each like key's parent but
 * with its own keys; returns the number (the array allocated zeroed). what:
 * "an input", "an output", for the message on too many. */
static int get_backups(Loader *ld, const yaml_node_t *map, const char *what,
                       void **array, size_t elem_size, yaml_node_t ***items)
{
    yaml_node_t *n = jy_map_get(ld, map, "backup");
    int nb;

    *items = NULL;
    if (!n)
        return 0;
    if (n->type == YAML_MAPPING_NODE) {
        nb = 1;
    } else if (n->type == YAML_SEQUENCE_NODE) {
        nb = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (!nb) {
            report(ld, n, "'backup' must not be empty (leave it out for none)");
            return 0;
        }
    } else {
        jy_wrong_type(ld, n, "backup", "a mapping or a list of mappings");
        return 0;
    }
    *array = av_calloc(nb, elem_size);
    *items = av_calloc(nb, sizeof(**items));
    if (!*array || !*items) {
        av_freep(array);
        av_freep(items);
        ld->enomem = 1;
        return 0;
    }
    for (int i = 0; i < nb; i++) {
        yaml_node_t *it = n->type == YAML_MAPPING_NODE ? n :
                          jy_node_at(ld, n->data.sequence.items.start[i]);
        if (it->type != YAML_MAPPING_NODE) {
            report(ld, it, "a backup must be a mapping, not %s", jy_type_name(jy_node_type(it)));
            it = NULL;
        }
        /* the data plane would run the first ones and drop the rest unsaid */
        if (i == BACKUPS_MAX)
            report(ld, jy_node_at(ld, n->data.sequence.items.start[i]),
                   "%s has at most %d backups (the data plane holds the primary and %d "
                   "more); this is backup %d of %d", what, BACKUPS_MAX, BACKUPS_MAX, i + 1, nb);
        (*items)[i] = it;
    }
    return nb;
}

static void load_probes(Loader *ld, const yaml_node_t *map, JobInput *in)
{
    yaml_node_t *p;

    if (jy_get_node(ld, map, "probes", YAML_MAPPING_NODE, &p) <= 0)
        return;
    jy_check_keys(ld, p, "probes", probe_keys);
    jy_get_duration(ld, p, "black", PROBE_MAX_US, &in->black_us);
    jy_get_duration(ld, p, "freeze", PROBE_MAX_US, &in->freeze_us);
    jy_get_duration(ld, p, "silence", PROBE_MAX_US, &in->silence_us);
}

static void load_input(Loader *ld, const yaml_node_t *map, JobInput *in)
{
    yaml_node_t **items;

    in->loc = loc_of(map);
    in->loss_timeout_us = JOB_DEFAULT_LOSS_TIMEOUT_US;
    jy_check_keys(ld, map, "input", input_keys);
    load_source(ld, map, "input", (Source){ &in->url, &in->format, &in->options,
                                            &in->realtime, &in->rw_timeout_us });
    jl_load_filter(ld, map, in);
    jy_get_duration(ld, map, "loss_timeout", LOSS_TIMEOUT_MAX_US, &in->loss_timeout_us);
    load_probes(ld, map, in);
    {
        int w;
        if (jy_get_word(ld, map, "prefetch", prefetch_words, &w) > 0)
            in->prefetch = (JobPrefetch)w;
    }

    in->nb_backups = get_backups(ld, map, "an input", (void **)&in->backups,
                                 sizeof(*in->backups), &items);
    for (int i = 0; i < in->nb_backups; i++) {
        JobInputBackup *b = &in->backups[i];
        if (!items[i])
            continue;
        b->loc = loc_of(items[i]);
        jy_check_keys(ld, items[i], "input backup", input_backup_keys);
        load_source(ld, items[i], "input backup",
                    (Source){ &b->url, &b->format, &b->options, &b->realtime, &b->rw_timeout_us });
    }
    av_free(items);
}

/* "audio": a mapping, true (the defaults) or false (no audio). */
static void load_audio(Loader *ld, const yaml_node_t *stream, JobAudio *a)
{
    yaml_node_t *n = jy_map_get(ld, stream, "audio"), *opts;
    const AVCodec *codec = NULL;
    int64_t v;

    a->loc = loc_of(n ? n : stream);
    a->enabled = 1;
    a->bitrate = JOB_DEFAULT_AUDIO_BITRATE;
    if (n && jy_node_type(n) == T_BOOL) {
        a->enabled = jy_in_words(TEXT(n), jy_true_words);
        if (!a->enabled) {
            a->bitrate = 0;
            return;
        }
    } else if (n && n->type != YAML_MAPPING_NODE) {
        jy_wrong_type(ld, n, "audio", "a mapping or false");
        return;
    }
    if (!n || n->type != YAML_MAPPING_NODE) {
        a->encoder = jy_strdup(ld, JOB_DEFAULT_AUDIO_ENCODER);
        return;
    }
    jy_check_keys(ld, n, "audio", audio_keys);
    if (jy_get_string(ld, n, "encoder", &a->encoder) > 0)
        codec = jl_find_encoder(ld, jy_map_get(ld, n, "encoder"), a->encoder,
                                AVMEDIA_TYPE_AUDIO, "audio");
    else if (!jy_map_get(ld, n, "encoder") &&
             (a->encoder = jy_strdup(ld, JOB_DEFAULT_AUDIO_ENCODER)))
        codec = avcodec_find_encoder_by_name(a->encoder);
    jy_get_size(ld, n, "bitrate", BITRATE_MIN, BITRATE_MAX, &a->bitrate);
    if (jy_get_int(ld, n, "sample_rate", SAMPLE_RATE_MIN, SAMPLE_RATE_MAX, &v) > 0)
        a->sample_rate = (int)v;
    if (jy_get_int(ld, n, "channels", 1, CHANNELS_MAX, &v) > 0)
        a->channels = (int)v;
    jy_get_options(ld, n, &a->options, &opts);
    if (codec) {
        jl_check_audio_params(ld, n, codec, a);
        jl_check_encoder_options(ld, opts, codec);
    }
}

/* width and height: 16..16384 and even, since 4:2:0 halves both. */
static void get_dimension(Loader *ld, const yaml_node_t *map, const char *key, int *out)
{
    int64_t v;

    if (jy_get_int(ld, map, key, DIM_MIN, DIM_MAX, &v) <= 0)
        return;
    if (v & 1) {
        report(ld, jy_map_get(ld, map, key), "'%s' must be even (4:2:0 video), got %" PRId64,
               key, v);
        return;
    }
    *out = (int)v;
}

static void get_fps(Loader *ld, const yaml_node_t *map, AVRational *fps)
{
    yaml_node_t *n = jy_map_get(ld, map, "fps");
    AVRational q;

    if (!n || !jy_unit_scalar(ld, n, "fps", "a frame rate such as 30 or 30000/1001"))
        return;
    if (av_parse_video_rate(&q, TEXT(n)) < 0 || av_cmp_q(q, (AVRational){ FPS_MAX, 1 }) > 0) {
        report(ld, n, "'fps' must be a frame rate above 0 and at most %d "
               "(30, 29.97 or 30000/1001), got '%s'", FPS_MAX, TEXT(n));
        return;
    }
    *fps = q;
}

/* "gop": a plain integer counts frames, anything else is a duration. */
static void get_gop(Loader *ld, const yaml_node_t *map, JobRendition *r)
{
    yaml_node_t *n = jy_map_get(ld, map, "gop");
    int64_t v;

    if (!n)
        return;
    if (jy_node_type(n) == T_INT) {
        if (jy_get_int(ld, map, "gop", 1, GOP_FRAMES_MAX, &v) > 0) {
            r->gop_frames = (int)v;
            r->gop_us = 0;
        }
        return;
    }
    if (jy_parse_duration(ld, n, "gop", GOP_US_MAX, &v) > 0)
        r->gop_us = v;
}

/* "device" of a standby encoder: one, or a list the allocator chooses
 * from (device: [0, 1]), in order of preference. */
static void load_devices(Loader *ld, const yaml_node_t *b, JobEncoderBackup *eb)
{
    yaml_node_t *n = jy_map_get(ld, b, "device");
    int nb;

    if (!n)
        return;
    if (n->type != YAML_SEQUENCE_NODE) {
        if (jy_get_string(ld, b, "device", &eb->device) <= 0)
            return;
        if (!(eb->devices = av_calloc(1, sizeof(*eb->devices))))
            ld->enomem = 1;
        else if ((eb->devices[0] = jy_strdup(ld, eb->device)))
            eb->nb_devices = 1;
        return;
    }
    nb = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (!nb || nb > JOB_MAX_DEVICES) {
        report(ld, n, "'device' must list 1 to %d devices, got %d", JOB_MAX_DEVICES, nb);
        return;
    }
    if (!(eb->devices = av_calloc(nb, sizeof(*eb->devices)))) {
        ld->enomem = 1;
        return;
    }
    for (int i = 0; i < nb; i++) {
        yaml_node_t *d = jy_node_at(ld, n->data.sequence.items.start[i]);
        NodeType t = jy_node_type(d);
        if (t != T_STRING && t != T_INT) {
            jy_wrong_type(ld, d, "device", "a device: a CUDA index or a render node");
            continue;
        }
        for (int k = 0; k < eb->nb_devices; k++)
            if (!strcmp(eb->devices[k], TEXT(d)))
                report(ld, d, "device '%s' is listed twice", TEXT(d));
        if (!(eb->devices[eb->nb_devices] = jy_strdup(ld, TEXT(d))))
            return;
        eb->nb_devices++;
    }
    if (eb->nb_devices && !(eb->device = jy_strdup(ld, eb->devices[0])))
        return;
}

/* "backup" of a rendition: the standby encoder. */
static void load_encoder_backup(Loader *ld, const yaml_node_t *map, JobRendition *r)
{
    yaml_node_t *b, *opts, *enc_node;
    const AVCodec *codec = NULL;
    JobEncoderBackup *eb;

    if (jy_get_node(ld, map, "backup", YAML_MAPPING_NODE, &b) <= 0)
        return;
    eb = r->backup = av_mallocz(sizeof(*r->backup));
    if (!eb) {
        ld->enomem = 1;
        return;
    }
    eb->loc = loc_of(b);
    jy_check_keys(ld, b, "encoder backup", encoder_backup_keys);
    enc_node = jy_map_get(ld, b, "encoder");
    if (jy_get_string(ld, b, "encoder", &eb->encoder) > 0)
        codec = jl_find_encoder(ld, enc_node, eb->encoder, AVMEDIA_TYPE_VIDEO,
                                "a rendition's backup");
    else if (!enc_node && (eb->encoder = jy_strdup(ld, JOB_DEFAULT_VIDEO_ENCODER)))
        codec = avcodec_find_encoder_by_name(eb->encoder);
    jy_get_size(ld, b, "bitrate", BITRATE_MIN, BITRATE_MAX, &eb->bitrate);
    jy_get_options(ld, b, &eb->options, &opts);
    if (codec)
        jl_check_encoder_options(ld, opts, codec);
    load_devices(ld, b, eb);
}

static void load_rendition(Loader *ld, const yaml_node_t *map, JobRendition *r,
                           yaml_node_t **name_node)
{
    yaml_node_t *opts, *enc_node = jy_map_get(ld, map, "encoder");
    const AVCodec *codec = NULL;

    r->loc = loc_of(map);
    r->gop_us = JOB_DEFAULT_GOP_US;
    jy_check_keys(ld, map, "rendition", rendition_keys);
    get_name(ld, map, "rendition", 1, &r->name, name_node);
    get_dimension(ld, map, "width", &r->width);
    get_dimension(ld, map, "height", &r->height);
    get_fps(ld, map, &r->fps);
    if (jy_get_string(ld, map, "encoder", &r->encoder) > 0)
        codec = jl_find_encoder(ld, enc_node, r->encoder, AVMEDIA_TYPE_VIDEO, "a rendition");
    else if (!enc_node && (r->encoder = jy_strdup(ld, JOB_DEFAULT_VIDEO_ENCODER)))
        codec = avcodec_find_encoder_by_name(r->encoder);
    jy_get_size(ld, map, "bitrate", BITRATE_MIN, BITRATE_MAX, &r->bitrate);
    get_gop(ld, map, r);
    jy_get_options(ld, map, &r->options, &opts);
    if (codec)
        jl_check_encoder_options(ld, opts, codec);
    jy_get_string(ld, map, "device", &r->device);
    load_encoder_backup(ld, map, r);
}

/* The muxer: named, or guessed from the URL the way users expect ffmpeg
 * to (it does not guess flv for rtmp:// itself). */
static const AVOutputFormat *output_format(Loader *ld, const yaml_node_t *map,
                                           JobOutput *o)
{
    const AVOutputFormat *ofmt;
    yaml_node_t *fmt_node = jy_map_get(ld, map, "format");
    char scheme[32], shown[URL_SHOW_MAX];

    if (fmt_node) {
        if (jy_get_string(ld, map, "format", &o->format) <= 0)
            return NULL;
        ofmt = av_guess_format(o->format, NULL, NULL);
        if (!ofmt)
            report(ld, fmt_node, "unknown output format '%s' (see ffmpeg -muxers)", o->format);
        return ofmt;
    }
    if (!o->url)
        return NULL;
    jl_url_scheme(o->url, scheme, sizeof(scheme));
    if (!strncmp(scheme, "rtmp", 4))
        ofmt = av_guess_format("flv", NULL, NULL);
    else if (!strcmp(scheme, "srt") || !strcmp(scheme, "udp") || !strcmp(scheme, "rtp"))
        ofmt = av_guess_format("mpegts", NULL, NULL);
    else
        ofmt = av_guess_format(NULL, o->url, NULL);
    if (!ofmt) {
        report(ld, jy_map_get(ld, map, "url"), "cannot guess the format of '%s'; set format:",
               redact_url(o->url, shown, sizeof(shown)));
        return NULL;
    }
    o->format = jy_strdup(ld, ofmt->name);
    return ofmt;
}

/* "output 'main'", or "output" when it has no valid name (reported). */
static const char *output_label(const JobOutput *o, char *buf, size_t size)
{
    if (o->name)
        snprintf(buf, size, "output '%s'", o->name);
    else
        snprintf(buf, size, "output");
    return buf;
}

/* "renditions" of an output: names of the stream's renditions, each once;
 * all of them when absent. */
static void output_renditions(Loader *ld, const yaml_node_t *map, JobStream *st,
                              JobOutput *o, int names_ok)
{
    yaml_node_t *list = NULL;
    SeenSet seen = { 0 };
    int ret = jy_get_node(ld, map, "renditions", YAML_SEQUENCE_NODE, &list);
    int nb;

    if (ret < 0)
        return;
    nb = list ? (int)(list->data.sequence.items.top - list->data.sequence.items.start)
              : st->nb_renditions;
    if (!list && !nb)
        return;                     /* the stream's "renditions" was reported */
    if (list && !nb) {
        report(ld, list, "'renditions' must not be empty (leave it out for all)");
        return;
    }
    o->renditions = av_calloc(nb, sizeof(*o->renditions));
    if (!o->renditions) {
        ld->enomem = 1;
        return;
    }
    if (!list) {
        for (int i = 0; i < nb; i++)
            o->renditions[i] = i;
        o->nb_renditions = nb;
        return;
    }
    for (yaml_node_item_t *it = list->data.sequence.items.start;
         it < list->data.sequence.items.top; it++) {
        yaml_node_t *n = jy_node_at(ld, *it);
        const yaml_node_t *first;
        char label[64];
        int idx = -1;

        if (jy_node_type(n) != T_STRING) {
            report(ld, n, "a rendition name must be a string, not %s",
                   jy_type_name(jy_node_type(n)));
            continue;
        }
        for (int i = 0; i < st->nb_renditions && idx < 0; i++)
            if (st->renditions[i].name && !strcmp(st->renditions[i].name, TEXT(n)))
                idx = i;
        if (idx < 0) {
            AVBPrint bp;
            /* a rendition without a valid name was reported already; naming
             * it here as unknown would only repeat that */
            if (!names_ok)
                continue;
            av_bprint_init(&bp, 0, AV_BPRINT_SIZE_AUTOMATIC);
            for (int i = 0; i < st->nb_renditions; i++)
                av_bprintf(&bp, "%s%s", i ? ", " : "", st->renditions[i].name);
            report(ld, n, "%s names unknown rendition '%s' (renditions: %s)",
                   output_label(o, label, sizeof(label)), TEXT(n), bp.str);
            av_bprint_finalize(&bp, NULL);
            continue;
        }
        first = jy_seen_add(ld, &seen, TEXT(n), n);
        if (first) {
            report(ld, n, "rendition '%s' is listed twice (first at line %d)",
                   TEXT(n), (int)first->start_mark.line + 1);
            continue;
        }
        o->renditions[o->nb_renditions++] = idx;
    }
    jy_seen_free(&seen);
}

/* A URL an output writes to: unique in the job, its secrets registered,
 * its protocol known. Returns 0 when options can be checked against it. */
static int output_url(Loader *ld, const yaml_node_t *url_node, const char *url,
                      const char **proto_name, const AVClass **proto)
{
    const yaml_node_t *first = jy_seen_add(ld, &ld->urls, url, url_node);
    char shown[URL_SHOW_MAX];

    jl_register_secrets(ld, url);
    if (first)
        report(ld, url_node, "duplicate output url '%s' (first at line %d)",
               redact_url(url, shown, sizeof(shown)), (int)first->start_mark.line + 1);
    return jl_url_protocol(ld, url_node, url, proto_name, proto);
}

/* stall_timeout above a minute is rw_timeout's job; a send buffer above
 * 64 MiB holds minutes of video, which is what the key is there to stop. */
#define MAX_STALL_TIMEOUT_US (60 * 1000000LL)
#define MAX_SEND_BUFFER      (64LL << 20)

/* "backup" of an output: more destinations for the same muxer. */
static void load_output_backups(Loader *ld, const yaml_node_t *map, JobOutput *o,
                                const AVOutputFormat *ofmt)
{
    yaml_node_t **items;

    o->nb_backups = get_backups(ld, map, "an output", (void **)&o->backups,
                                sizeof(*o->backups), &items);
    for (int i = 0; i < o->nb_backups; i++) {
        JobOutputBackup *b = &o->backups[i];
        const AVClass *proto = NULL;
        const char *proto_name = NULL;
        yaml_node_t *opts, *url_node;
        int checkable = 1;

        b->rw_timeout_us = o->rw_timeout_us;
        b->stall_timeout_us = o->stall_timeout_us;
        b->send_buffer_size = o->send_buffer_size;
        if (!items[i])
            continue;
        b->loc = loc_of(items[i]);
        jy_check_keys(ld, items[i], "output backup", output_backup_keys);
        url_node = jy_map_require(ld, items[i], "output backup", "url");
        if (url_node && jy_get_string(ld, items[i], "url", &b->url) > 0 && b->url &&
            output_url(ld, url_node, b->url, &proto_name, &proto) < 0)
            checkable = 0;
        /* the output's options, then the backup's own on top */
        if (av_dict_copy(&b->options, o->options, 0) < 0)
            ld->enomem = 1;
        jy_get_options(ld, items[i], &b->options, &opts);
        if (ofmt && checkable)
            jl_check_output_options(ld, opts, ofmt, proto, proto_name);
        jy_get_duration(ld, items[i], "rw_timeout", 0, &b->rw_timeout_us);
        jy_get_duration(ld, items[i], "stall_timeout", MAX_STALL_TIMEOUT_US, &b->stall_timeout_us);
        jy_get_size(ld, items[i], "send_buffer_size", 0, MAX_SEND_BUFFER, &b->send_buffer_size);
    }
    av_free(items);
}

static void load_output(Loader *ld, const yaml_node_t *map, JobStream *st, JobOutput *o,
                        int names_ok, yaml_node_t **name_node)
{
    const AVOutputFormat *ofmt;
    const AVClass *proto = NULL;
    const char *proto_name = NULL;
    yaml_node_t *opts, *url_node;
    int checkable = 1, max;

    o->loc = loc_of(map);
    o->rw_timeout_us = ld->rw_timeout_us;
    jy_check_keys(ld, map, "output", output_keys);
    get_name(ld, map, "output", 1, &o->name, name_node);
    url_node = jy_map_require(ld, map, "output", "url");
    if (url_node && jy_get_string(ld, map, "url", &o->url) > 0 && o->url &&
        output_url(ld, url_node, o->url, &proto_name, &proto) < 0)
        checkable = 0;
    ofmt = output_format(ld, map, o);
    output_renditions(ld, map, st, o, names_ok);
    jy_get_options(ld, map, &o->options, &opts);
    if (ofmt && checkable)
        jl_check_output_options(ld, opts, ofmt, proto, proto_name);
    jy_get_duration(ld, map, "rw_timeout", 0, &o->rw_timeout_us);
    o->stall_timeout_us = JOB_DEFAULT_STALL_TIMEOUT_US;
    o->send_buffer_size = JOB_DEFAULT_SEND_BUFFER;
    jy_get_duration(ld, map, "stall_timeout", MAX_STALL_TIMEOUT_US, &o->stall_timeout_us);
    jy_get_size(ld, map, "send_buffer_size", 0, MAX_SEND_BUFFER, &o->send_buffer_size);
    if (jy_get_bool(ld, map, "epoch_lock", &o->epoch_lock) > 0 && o->epoch_lock && o->format &&
        !strcmp(o->format, "dash") && o->url && !job_url_is_network(o->url))
        report(ld, jy_map_get(ld, map, "epoch_lock"), "epoch_lock on a DASH output needs an "
               "HTTP destination: libav renames its local segment files itself, under the names "
               "it chose");
    load_output_backups(ld, map, o, ofmt);
    jl_load_pathways(ld, map, st, o, ofmt);

    max = ofmt ? job_format_max_video(ofmt->name) : INT_MAX;
    if (o->nb_renditions > max) {
        yaml_node_t *r = jy_map_get(ld, map, "renditions");
        char label[64];
        report(ld, r ? r : map, "%s %s carries one video rendition, %d selected; "
               "list one under renditions:", ofmt->name,
               output_label(o, label, sizeof(label)), o->nb_renditions);
    }
}

/* ------------------------------------------------------------------------ */
/* Streams and the job                                                      */

/* A list of mappings under key: returns the number of items (the array is
 * allocated with that many zeroed elements), 0 when absent, wrong or empty
 * (reported). */
static int get_list(Loader *ld, const yaml_node_t *map, const char *what, const char *key,
                    void **array, size_t elem_size, yaml_node_t **list)
{
    int nb;

    if (!jy_map_require(ld, map, what, key) ||
        jy_get_node(ld, map, key, YAML_SEQUENCE_NODE, list) <= 0)
        return 0;
    nb = (int)((*list)->data.sequence.items.top - (*list)->data.sequence.items.start);
    if (!nb) {
        report(ld, *list, "'%s' must not be empty", key);
        return 0;
    }
    *array = av_calloc(nb, elem_size);
    if (!*array) {
        ld->enomem = 1;
        return 0;
    }
    return nb;
}

/* The item i of list, reported unless it is a mapping. */
static yaml_node_t *list_map_item(Loader *ld, const yaml_node_t *list, int i, const char *what)
{
    yaml_node_t *n = jy_node_at(ld, list->data.sequence.items.start[i]);

    if (n->type != YAML_MAPPING_NODE) {
        report(ld, n, "%s must be a mapping, not %s", what, jy_type_name(jy_node_type(n)));
        return NULL;
    }
    return n;
}

/* A duration that can be switched off with false (or a word in offs). */
static void get_duration_or_off(Loader *ld, const yaml_node_t *map, const char *key,
                                const char *off, int64_t max, int64_t *out)
{
    yaml_node_t *n = jy_map_get(ld, map, key);

    if (!n)
        return;
    if ((jy_node_type(n) == T_BOOL && !jy_in_words(TEXT(n), jy_true_words)) ||
        (jy_node_type(n) == T_STRING && !strcmp(TEXT(n), off))) {
        *out = 0;
        return;
    }
    jy_parse_duration(ld, n, key, max, out);
}

static const char *const standby_words[] = { "on_risk", "always", "never", NULL };

/* A risk: a number from 0 to 1; "off" where off is given (switch_above),
 * which stores 2 (never reached). */
static void get_risk(Loader *ld, const yaml_node_t *map, const char *key, int can_be_off,
                     float *out)
{
    yaml_node_t *n = jy_map_get(ld, map, key);
    double r;

    if (!n)
        return;
    /* off (a YAML 1.1 boolean) or false */
    if (can_be_off && jy_node_type(n) == T_BOOL && !jy_in_words(TEXT(n), jy_true_words)) {
        *out = 2;
        return;
    }
    r = jy_node_type(n) == T_INT || jy_node_type(n) == T_DECIMAL ? atof(TEXT(n)) : -1;
    if (r < 0 || r > 1) {
        report(ld, n, "'%s' must be a risk from 0 to 1%s, got %s", key,
               can_be_off ? " or off" : "", n->type == YAML_SCALAR_NODE ? TEXT(n) : "a collection");
        return;
    }
    *out = (float)r;
}

/* orchestrator: { provision_above, release_below, switch_above, confirm,
 * keep[, max_provisioned] }: the supervisor's (job-wide) or a stream's. */
static void load_orchestrator(Loader *ld, const yaml_node_t *map, int job_wide,
                              JobOrchestrator *o)
{
    yaml_node_t *m;
    int64_t v;

    if (jy_get_node(ld, map, "orchestrator", YAML_MAPPING_NODE, &m) <= 0)
        return;
    jy_check_keys(ld, m, "orchestrator", orchestrator_keys);
    get_risk(ld, m, "provision_above", 0, &o->provision_above);
    get_risk(ld, m, "release_below", 0, &o->release_below);
    get_risk(ld, m, "switch_above", 1, &o->switch_above);
    get_risk(ld, m, "hot_above", 1, &o->hot_above);
    if (jy_get_int(ld, m, "confirm", 1, 3600, &v) > 0)
        o->confirm = (int)v;
    jy_get_duration(ld, m, "keep", 24 * 3600 * 1000000LL, &o->keep_us);
    if (jy_map_get(ld, m, "max_provisioned")) {
        if (!job_wide)
            report(ld, jy_map_get(ld, m, "max_provisioned"), "'max_provisioned' is job-wide: "
                   "set it under supervisor: orchestrator:");
        else if (jy_get_int(ld, m, "max_provisioned", 0, 100000, &v) > 0)
            o->max_provisioned = v ? (int)v : -1;   /* 0 written: none ahead */
    }
    if (jy_map_get(ld, m, "max_sessions_per_device")) {
        if (!job_wide)
            report(ld, jy_map_get(ld, m, "max_sessions_per_device"), "'max_sessions_per_device' "
                   "is job-wide: set it under supervisor: orchestrator:");
        else if (jy_get_int(ld, m, "max_sessions_per_device", 1, 1024, &v) > 0)
            o->max_sessions_per_device = (int)v;
    }
    if (o->provision_above >= 0 && o->release_below >= 0 && o->release_below >= o->provision_above)
        report(ld, m, "'release_below' (%g) must be below 'provision_above' (%g)",
               o->release_below, o->provision_above);
}

static const char *const standby_mode_words[] = { "warm", "hot", NULL };

/* standby_mode: warm | hot, where the map has it. Returns 1 and sets *mode,
 * 0 when absent, -1 (reported) when it is something else. */
static int get_standby_mode(Loader *ld, const yaml_node_t *map, JobStandbyMode *mode)
{
    int w, ret = jy_get_word(ld, map, "standby_mode", standby_mode_words, &w);

    if (ret > 0)
        *mode = (JobStandbyMode)w;
    return ret;
}

/*
 * A hot standby holds a rendition's packets back a GOP at a time (the
 * failover splices at an IDR), and a hung encode call is given up after
 * half the latency budget: packets then leave up to a GOP plus half the
 * budget late. Within the budget only when a GOP is at most half of it,
 * so the budget must be at least 2 GOPs. A GOP in frames without the
 * rendition's fps is checked when the encoder opens (encode.c).
 */
static void check_hot(Loader *ld, const yaml_node_t *map, const yaml_node_t *mode_node,
                      const JobStream *st)
{
    const yaml_node_t *at = jy_map_get(ld, map, "latency_budget");

    if (st->standby_mode != JOB_STANDBY_HOT || !st->latency_budget_us)
        return;
    if (!at)
        at = mode_node ? mode_node : map;
    for (int i = 0; i < st->nb_renditions; i++) {
        const JobRendition *r = &st->renditions[i];
        int64_t gop_us = r->gop_us;
        char gop[32], budget[32], need[32];
        if (!r->backup || !r->name)
            continue;
        if (!gop_us && r->gop_frames && r->fps.num > 0)
            gop_us = av_rescale_q(r->gop_frames, av_inv_q(r->fps), AV_TIME_BASE_Q);
        if (gop_us <= 0 || st->latency_budget_us >= 2 * gop_us)
            continue;
        report(ld, at, "'standby_mode: hot' holds rendition '%s' back a GOP at a time: with "
               "a GOP of %s its latency_budget must be at least 2 GOPs (%s), got %s",
               r->name, units_format_duration(gop_us, gop, sizeof(gop)),
               units_format_duration(2 * gop_us, need, sizeof(need)),
               units_format_duration(st->latency_budget_us, budget, sizeof(budget)));
    }
}

static void load_switching(Loader *ld, const yaml_node_t *map, const JobSupervisor *sv,
                           JobStream *st)
{
    int w, mode_set;

    st->standby = JOB_STANDBY_ON_RISK;
    st->switch_back_us = JOB_DEFAULT_SWITCH_BACK_US;
    st->latency_budget_us = JOB_DEFAULT_LATENCY_BUDGET_US;
    if (jy_get_word(ld, map, "standby", standby_words, &w) > 0)
        st->standby = (JobStandby)w;
    get_duration_or_off(ld, map, "switch_back", "never", SWITCH_BACK_MAX_US, &st->switch_back_us);
    get_duration_or_off(ld, map, "latency_budget", "none", 0, &st->latency_budget_us);
    /* the stream's own, else the supervisor's */
    st->standby_mode = sv->standby_mode;
    mode_set = get_standby_mode(ld, map, &st->standby_mode);
    if (mode_set >= 0)
        check_hot(ld, map, mode_set ? jy_map_get(ld, map, "standby_mode") : ld->sv_standby_mode, st);
}

static const char *const fault_words[] = { "error", "stall", "slow", "drop", "close", "hang", NULL };
static const char *const action_words[] = {
    "provision", "release", "switch", "switch_back", NULL,
};

/* What a fault's component names, read with the one grammar (core/comp.h),
 * and whether it has a backup. Reports and
 * returns -1 when the name is malformed, or the stream has no such
 * component or no such backup. */
static int fault_target(Loader *ld, const yaml_node_t *n, const JobStream *st,
                        CompId *id, int *has_backup)
{
    const char *c = TEXT(n);
    char err[160];
    int nb_backups = 0, found = 0;

    if (comp_parse(c, 0, id, err, sizeof(err)) < 0) {
        report(ld, n, "%s", err);
        return -1;
    }
    /* the data plane looks its faults up by the name without the stream */
    if (id->stream[0]) {
        report(ld, n, "'%s': a fault names a component of its own stream, without '%s/'",
               c, id->stream);
        return -1;
    }
    switch (id->kind) {
    case COMP_INGEST:
        found = 1;
        nb_backups = st->input.nb_backups;
        break;
    case COMP_ENCODER:
        if (!strcmp(id->name, "audio")) {
            found = st->audio.enabled;
            break;
        }
        for (int r = 0; r < st->nb_renditions; r++)
            if (st->renditions[r].name && !strcmp(st->renditions[r].name, id->name)) {
                found = 1;
                nb_backups = !!st->renditions[r].backup;
            }
        break;
    case COMP_OUTPUT:
        for (int o = 0; o < st->nb_outputs; o++)
            if (st->outputs[o].name && !strcmp(st->outputs[o].name, id->name)) {
                found = 1;
                nb_backups = st->outputs[o].nb_backups;
            }
        break;
    default:                      /* host, GPUs, edges: no faults there */
        break;
    }
    if (!found) {
        report(ld, n, "unknown component '%s' (input, input.backup, enc:RENDITION, "
               "enc:RENDITION.backup, enc:audio, out:OUTPUT, out:OUTPUT.backup, ...)", c);
        return -1;
    }
    if (id->instance > nb_backups) {
        report(ld, n, "'%s': the %s has %d backup%s", c,
               id->kind == COMP_INGEST ? "input" :
               id->kind == COMP_ENCODER ? "rendition" : "output",
               nb_backups, nb_backups == 1 ? "" : "s");
        return -1;
    }
    *has_backup = nb_backups > 0;
    return 0;
}

static void load_fault(Loader *ld, const yaml_node_t *map, const JobStream *st, JobFault *f)
{
    yaml_node_t *fn = jy_map_get(ld, map, "fault"), *an = jy_map_get(ld, map, "action");
    yaml_node_t *cn = jy_map_require(ld, map, "fault", "component");
    CompId target = { .kind = COMP_HOST };
    int has_backup = 0, target_ok = 0;
    int64_t v;

    f->loc = loc_of(map);
    f->count = 1;
    f->ratio = 1.0;
    jy_check_keys(ld, map, "fault", fault_keys);
    /* at: 0s is the start of the stream: a duration that may be 0 */
    if (jy_map_require(ld, map, "fault", "at")) {
        yaml_node_t *at = jy_map_get(ld, map, "at");
        char err[160];
        if (jy_unit_scalar(ld, at, "at", "a media time such as 5s") &&
            units_parse_duration(TEXT(at), &f->at_us, err, sizeof(err)) < 0)
            report(ld, at, "'at' %s", err);
    }
    if (cn && jy_get_string(ld, map, "component", &f->component) > 0 && f->component)
        target_ok = fault_target(ld, cn, st, &target, &has_backup) == 0;

    if (!!fn == !!an) {
        report(ld, map, "a fault needs exactly one of 'fault' (%s) and 'action' (%s)",
               "error, stall, slow, drop, close, hang", "provision, release, switch, switch_back");
        return;
    }
    if (fn) {
        int k = -1;
        if (jy_node_type(fn) == T_STRING)
            for (int i = 0; fault_words[i]; i++)
                if (!strcmp(TEXT(fn), fault_words[i]))
                    k = i;
        if (k < 0) {
            report(ld, fn, "'fault' must be error, stall, slow, drop, close or hang");
            return;
        }
        f->kind = (JobFaultKind)(JOB_FAULT_ERROR + k);
        if (target_ok && ((f->kind == JOB_FAULT_DROP || f->kind == JOB_FAULT_CLOSE) &&
                          target.kind == COMP_ENCODER))
            report(ld, fn, "an encoder cannot have a '%s' fault (error, stall, slow or hang)", TEXT(fn));
        if (target_ok && f->kind == JOB_FAULT_HANG &&
            (target.kind != COMP_ENCODER || !strcmp(target.name, "audio")))
            report(ld, fn, "only a video encoder can have a 'hang' fault (its libav calls run "
                   "where a deadline can give up on them)");
    } else {
        int k = -1;
        if (jy_node_type(an) == T_STRING)
            for (int i = 0; action_words[i]; i++)
                if (!strcmp(TEXT(an), action_words[i]))
                    k = i;
        if (k < 0) {
            report(ld, an, "'action' must be provision, release, switch or switch_back");
            return;
        }
        f->kind = (JobFaultKind)(JOB_ACTION_PROVISION + k);
        if (target_ok && (target.instance || !has_backup))
            report(ld, cn, "'%s' names %s: an action applies to a component with a backup, "
                   "named without .backup", f->component,
                   target.instance ? "a backup" : "a component without a backup");
    }

    if (f->kind == JOB_FAULT_STALL || f->kind == JOB_FAULT_SLOW || f->kind == JOB_FAULT_DROP) {
        if (jy_map_require(ld, map, "fault", "duration"))
            jy_get_duration(ld, map, "duration", 0, &f->duration_us);
    } else if (jy_map_get(ld, map, "duration")) {
        report(ld, jy_map_get(ld, map, "duration"), "'duration' applies to stall, slow and drop");
    }
    if (f->kind == JOB_FAULT_SLOW) {
        if (jy_map_require(ld, map, "fault", "ramp"))
            jy_get_duration(ld, map, "ramp", 0, &f->ramp_us);
    } else if (jy_map_get(ld, map, "ramp")) {
        report(ld, jy_map_get(ld, map, "ramp"), "'ramp' applies to slow");
    }
    if (jy_map_get(ld, map, "ratio")) {
        yaml_node_t *rn = jy_map_get(ld, map, "ratio");
        double r = jy_node_type(rn) == T_INT || jy_node_type(rn) == T_DECIMAL ? atof(TEXT(rn)) : -1;
        if (f->kind != JOB_FAULT_DROP)
            report(ld, rn, "'ratio' applies to drop");
        else if (r <= 0 || r > 1)
            report(ld, rn, "'ratio' must be a number above 0 and at most 1, got %s", TEXT(rn));
        else
            f->ratio = r;
    }
    jy_get_duration(ld, map, "every", 0, &f->every_us);
    if (jy_get_int(ld, map, "count", 1, FAULT_COUNT_MAX, &v) > 0) {
        f->count = (int)v;
        if (v > 1 && !f->every_us)
            report(ld, jy_map_get(ld, map, "count"), "'count' above 1 needs 'every'");
    }
}

static void load_faults(Loader *ld, const yaml_node_t *map, JobStream *st)
{
    yaml_node_t *list;
    int nb;

    if (!jy_map_get(ld, map, "faults"))
        return;
    nb = get_list(ld, map, "stream", "faults", (void **)&st->faults, sizeof(*st->faults), &list);
    st->nb_faults = nb;
    for (int i = 0; i < nb; i++) {
        yaml_node_t *n = list_map_item(ld, list, i, "a fault");
        if (n)
            load_fault(ld, n, st, &st->faults[i]);
    }
}

static void load_stream(Loader *ld, const yaml_node_t *map, const JobSupervisor *sv,
                        JobStream *st)
{
    yaml_node_t *input, *list, *name_node;
    SeenSet names = { 0 };
    int names_ok = 1, nb;

    st->loc = loc_of(map);
    jy_check_keys(ld, map, "stream", stream_keys);
    if (jy_map_require(ld, map, "stream", "input") &&
        jy_get_node(ld, map, "input", YAML_MAPPING_NODE, &input) > 0)
        load_input(ld, input, &st->input);
    load_audio(ld, map, &st->audio);

    nb = get_list(ld, map, "stream", "renditions", (void **)&st->renditions,
                  sizeof(*st->renditions), &list);
    st->nb_renditions = nb;
    for (int i = 0; i < nb; i++) {
        yaml_node_t *n = list_map_item(ld, list, i, "a rendition");
        name_node = NULL;
        if (n)
            load_rendition(ld, n, &st->renditions[i], &name_node);
        if (name_node)
            jy_unique_name(ld, &names, "rendition", st->renditions[i].name, name_node);
        else
            names_ok = 0;
    }
    jy_seen_free(&names);

    nb = get_list(ld, map, "stream", "outputs", (void **)&st->outputs,
                  sizeof(*st->outputs), &list);
    st->nb_outputs = nb;
    for (int i = 0; i < nb; i++) {
        yaml_node_t *n = list_map_item(ld, list, i, "an output");
        name_node = NULL;
        if (n)
            load_output(ld, n, st, &st->outputs[i], names_ok, &name_node);
        if (name_node)
            jy_unique_name(ld, &names, "output", st->outputs[i].name, name_node);
    }
    jy_seen_free(&names);

    jy_get_duration(ld, map, "duration", 0, &st->duration_us);
    load_switching(ld, map, sv, st);
    load_orchestrator(ld, map, 0, &st->orchestrator);
    load_faults(ld, map, st);
    st->expect = *ld->expect;
    jx_load_expect(ld, map, 0, &st->expect);
}

/* "host:port" with host an IP literal or localhost; says whether it is a
 * loopback address. Returns 0 or reports. */
static int check_listen(Loader *ld, const yaml_node_t *n, const char *addr, int *loopback)
{
    const char *colon = strrchr(addr, ':');
    char host[64];
    long port;
    char *end;

    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host)) {
        report(ld, n, "'%s' must be host:port, e.g. 127.0.0.1:9464", addr);
        return -1;
    }
    memcpy(host, addr, colon - addr);
    host[colon - addr] = 0;
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535) {
        report(ld, n, "the port of '%s' must be 1 to 65535", addr);
        return -1;
    }
    *loopback = !strcmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "[::1]");
    return 0;
}

static void free_argv(char ***pargv)
{
    for (char **a = *pargv; a && *a; a++)
        av_free(*a);
    av_freep(pargv);
}

/* An exec hook: a list of strings, the command first, looked up in PATH
 * when it runs. Only strings, as wherever the schema means one: a plain
 * 8080 or true is refused with a hint to quote it. *out stays NULL unless
 * every argument is right. */
static void load_hook(Loader *ld, const yaml_node_t *map, const char *key, char ***out)
{
    yaml_node_t *list;
    char **argv;
    int nb, ok = 1;

    if (jy_get_node(ld, map, key, YAML_SEQUENCE_NODE, &list) <= 0)
        return;
    nb = (int)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (!nb) {
        report(ld, list, "'%s' must not be empty: a command, then its arguments", key);
        return;
    }
    if (!(argv = av_calloc(nb + 1, sizeof(*argv)))) {
        ld->enomem = 1;
        return;
    }
    for (int i = 0; i < nb; i++) {
        yaml_node_t *a = jy_node_at(ld, list->data.sequence.items.start[i]);
        char why[256];

        if (jy_node_type(a) != T_STRING) {
            /* unquoted, "{stream}" is a YAML mapping */
            report(ld, a, "argument %d of '%s' must be a string, not %s (quote it%s)", i + 1,
                   key, jy_type_name(jy_node_type(a)),
                   a->type == YAML_MAPPING_NODE ? ": \"{stream}\"" : "");
            ok = 0;
        } else if (strlen(TEXT(a)) != a->data.scalar.length) {
            report(ld, a, "argument %d of '%s' must not contain a NUL character", i + 1, key);
            ok = 0;
        } else if (!i && !*TEXT(a)) {
            report(ld, a, "the command of '%s' must not be empty", key);
            ok = 0;
        } else if (hookarg_check(TEXT(a), why, sizeof(why)) < 0) {
            report(ld, a, "argument %d of '%s': %s", i + 1, key, why);
            ok = 0;
        } else if (ok && !(argv[i] = jy_strdup(ld, TEXT(a)))) {
            ok = 0;               /* no hole in the list: free_argv stops at one */
        }
    }
    if (ok && !ld->enomem)
        *out = argv;
    else
        free_argv(&argv);
}

static void load_hooks(Loader *ld, const yaml_node_t *map, JobSupervisor *sv)
{
    yaml_node_t *h;

    if (jy_get_node(ld, map, "hooks", YAML_MAPPING_NODE, &h) <= 0)
        return;
    jy_check_keys(ld, h, "hooks", hooks_keys);
    load_hook(ld, h, "provision", &sv->hook_provision);
    load_hook(ld, h, "release", &sv->hook_release);
    jy_get_duration(ld, h, "timeout", HOOK_TIMEOUT_MAX_US, &sv->hook_timeout_us);
}

/* What fleet settings must be, from the file or the command line: NULL
 * when fine, else why not (a static string). */
static const char *fleet_check_url(const char *url)
{
    /* the gateway speaks HTTP/JSON; TLS and credentials are for later, and
     * a URL with credentials would end up in logs */
    if (strncmp(url, "http://", 7) || !url[7])
        return "an etcd endpoint must be an http:// URL";
    if (strchr(url + 7, '@'))
        return "an etcd endpoint must not carry credentials";
    return NULL;
}

static const char *fleet_check_name(const char *s)
{
    if (!*s || strlen(s) > 63)
        return "must be 1 to 63 characters";
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')) && *s != '-' && *s != '_' && *s != '.')
            return "may hold letters, digits, '-', '_' and '.' only";
    return NULL;
}

/* The lease in whole seconds (etcd's unit), at least 1 s, at most 60 s. */
static int64_t fleet_lease_round(int64_t us)
{
    int64_t s = (us + 999999) / 1000000;
    return av_clip64(s, 1, 60) * 1000000;
}

/* "always", "on_risk", "off": a JobPair, or -1. */
static int job_pair_parse(const char *text)
{
    return !strcmp(text, "always") ? JOB_PAIR_ALWAYS : !strcmp(text, "on_risk") ? JOB_PAIR_ON_RISK :
           !strcmp(text, "off") ? JOB_PAIR_OFF : -1;
}

static void load_fleet(Loader *ld, const yaml_node_t *map, JobFleet *fl)
{
    yaml_node_t *f, *e, *n;
    const char *why;

    if (jy_get_node(ld, map, "fleet", YAML_MAPPING_NODE, &f) <= 0)
        return;
    fl->loc = loc_of(f);
    jy_check_keys(ld, f, "fleet", fleet_keys);
    fl->lease_us = JOB_FLEET_DEFAULT_LEASE_US;
    e = jy_map_require(ld, f, "fleet", "etcd");
    if (e && e->type == YAML_SCALAR_NODE) {
        /* the URL itself is not repeated: it may hold credentials */
        if ((why = fleet_check_url(TEXT(e))))
            report(ld, e, "%s", why);
        else if ((fl->etcd[0] = jy_strdup(ld, TEXT(e))))
            fl->nb_etcd = 1;
    } else if (e && e->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = e->data.sequence.items.start; it < e->data.sequence.items.top; it++) {
            yaml_node_t *u = jy_node_at(ld, *it);
            if (u->type != YAML_SCALAR_NODE) {
                report(ld, u, "each of 'etcd' must be a URL");
            } else if ((why = fleet_check_url(TEXT(u)))) {
                report(ld, u, "%s", why);
            } else if (fl->nb_etcd == JOB_FLEET_MAX_ETCD) {
                report(ld, u, "at most %d etcd endpoints", JOB_FLEET_MAX_ETCD);
                break;
            } else if ((fl->etcd[fl->nb_etcd] = jy_strdup(ld, TEXT(u)))) {
                fl->nb_etcd++;
            }
        }
        if (!fl->nb_etcd && e->data.sequence.items.top == e->data.sequence.items.start)
            report(ld, e, "'etcd' must list at least one endpoint");
    } else if (e) {
        report(ld, e, "'etcd' must be a URL or a list of them");
    }
    if ((n = jy_map_require(ld, f, "fleet", "node")) && jy_get_string(ld, f, "node", &fl->node) > 0 &&
        (why = fleet_check_name(fl->node)))
        report(ld, n, "'node' %s", why);
    if (jy_get_duration(ld, f, "lease", 60 * 1000000LL, &fl->lease_us) > 0)
        fl->lease_us = fleet_lease_round(fl->lease_us);
    if (jy_get_string(ld, f, "prefix", &fl->prefix) > 0 &&
        (fl->prefix[0] != '/' || strlen(fl->prefix) > 200))
        report(ld, jy_map_get(ld, f, "prefix"), "'prefix' must start with '/' (at most 200 bytes)");
    if (!fl->prefix)
        fl->prefix = jy_strdup(ld, "/hotspare");
    if ((n = jy_map_get(ld, f, "pair"))) {
        if (n->type != YAML_SCALAR_NODE || (fl->pair = job_pair_parse(TEXT(n))) < 0)
            report(ld, n, "'pair' is always, on_risk or off");
    }
    {
        int64_t v;
        if (jy_get_int(ld, f, "max_streams", 1, JOB_FLEET_MAX_STREAMS, &v) > 0)
            fl->max_streams = (int)v;
    }
}

static void free_fleet(JobFleet *fl)
{
    for (int i = 0; i < fl->nb_etcd; i++)
        av_freep(&fl->etcd[i]);
    fl->nb_etcd = 0;
    av_freep(&fl->node);
    av_freep(&fl->prefix);
}

int job_fleet_from_arg(Job *job, const char *arg, char *why, size_t why_size)
{
    const JobFleet *was = &job->supervisor.fleet;
    JobFleet fl = { .lease_us = was->nb_etcd ? was->lease_us : JOB_FLEET_DEFAULT_LEASE_US,
                    .pair = was->pair, .max_streams = was->max_streams };
    char *dup = av_strdup(arg), *save = NULL, *tok;
    const char *bad;
    int ret = 0, last_etcd = 0, etcd_given = 0;

    if (!dup)
        return AVERROR(ENOMEM);
    /* on top of the job's own settings: --fleet node=b is enough with a
     * job that names its etcd */
    for (int i = 0; i < was->nb_etcd; i++)
        if ((fl.etcd[fl.nb_etcd] = av_strdup(was->etcd[i])))
            fl.nb_etcd++;
    if ((was->node && !(fl.node = av_strdup(was->node))) ||
        (was->prefix && !(fl.prefix = av_strdup(was->prefix))))
        ret = AVERROR(ENOMEM);
    for (tok = av_strtok(dup, ",", &save); tok && ret >= 0; tok = av_strtok(NULL, ",", &save)) {
        char *eq = strchr(tok, '='), *val = eq ? eq + 1 : tok;
        int url = eq && !strncmp(tok, "etcd=", 5);

        /* etcd=A,B: a bare URL right after the etcd ones is one more */
        if (!eq && last_etcd && !strncmp(tok, "http://", 7))
            url = 1;
        else if (!eq) {
            snprintf(why, why_size, "--fleet: '%s' is not KEY=VALUE", tok);
            ret = AVERROR(EINVAL);
            break;
        } else
            *eq = 0;
        last_etcd = url;
        if (url && !etcd_given) {       /* the command line's list replaces the job's */
            for (int i = 0; i < fl.nb_etcd; i++)
                av_freep(&fl.etcd[i]);
            fl.nb_etcd = 0;
            etcd_given = 1;
        }
        if (url) {
            if ((bad = fleet_check_url(val)) || fl.nb_etcd == JOB_FLEET_MAX_ETCD) {
                snprintf(why, why_size, "--fleet: %s", bad ? bad : "too many etcd endpoints");
                ret = AVERROR(EINVAL);
            } else if (!(fl.etcd[fl.nb_etcd++] = av_strdup(val))) {
                ret = AVERROR(ENOMEM);
            }
        } else if (!strcmp(tok, "node")) {
            if ((bad = fleet_check_name(eq + 1))) {
                snprintf(why, why_size, "--fleet: node %s", bad);
                ret = AVERROR(EINVAL);
            } else {
                av_freep(&fl.node);
                if (!(fl.node = av_strdup(eq + 1)))
                    ret = AVERROR(ENOMEM);
            }
        } else if (!strcmp(tok, "lease")) {
            char err[128] = "must be more than 0";
            if (units_parse_duration(eq + 1, &fl.lease_us, err, sizeof(err)) < 0 || fl.lease_us <= 0) {
                snprintf(why, why_size, "--fleet: lease: %s", err);
                ret = AVERROR(EINVAL);
            }
            fl.lease_us = fleet_lease_round(fl.lease_us);
        } else if (!strcmp(tok, "prefix")) {
            av_freep(&fl.prefix);
            if (eq[1] != '/') {
                snprintf(why, why_size, "--fleet: prefix must start with '/'");
                ret = AVERROR(EINVAL);
            } else if (!(fl.prefix = av_strdup(eq + 1))) {
                ret = AVERROR(ENOMEM);
            }
        } else if (!strcmp(tok, "pair")) {
            if ((fl.pair = job_pair_parse(eq + 1)) < 0) {
                snprintf(why, why_size, "--fleet: pair is always, on_risk or off");
                ret = AVERROR(EINVAL);
            }
        } else if (!strcmp(tok, "max_streams")) {
            char *end;
            long v = strtol(eq + 1, &end, 10);
            if (*end || end == eq + 1 || v < 1 || v > JOB_FLEET_MAX_STREAMS) {
                snprintf(why, why_size, "--fleet: max_streams is a number from 1 to %d",
                         JOB_FLEET_MAX_STREAMS);
                ret = AVERROR(EINVAL);
            }
            fl.max_streams = (int)v;
        } else {
            snprintf(why, why_size, "--fleet: unknown key '%s' (etcd, node, lease, prefix, pair, "
                     "max_streams)", tok);
            ret = AVERROR(EINVAL);
        }
    }
    av_free(dup);
    if (ret >= 0 && (!fl.nb_etcd || !fl.node)) {
        snprintf(why, why_size, "--fleet needs etcd=URL and node=NAME");
        ret = AVERROR(EINVAL);
    }
    if (ret >= 0 && !fl.prefix && !(fl.prefix = av_strdup("/hotspare")))
        ret = AVERROR(ENOMEM);
    if (ret < 0) {
        free_fleet(&fl);
        return ret;
    }
    free_fleet(&job->supervisor.fleet);
    job->supervisor.fleet = fl;
    return 0;
}

static void free_stream(JobStream *st);

void job_keep_streams(Job *job, int (*keep)(void *opaque, const char *name), void *opaque)
{
    int n = 0;

    for (int i = 0; i < job->nb_streams; i++) {
        if (keep(opaque, job->streams[i].name))
            job->streams[n++] = job->streams[i];
        else
            free_stream(&job->streams[i]);
    }
    job->nb_streams = n;
}

int job_adopt_streams(Job *dst, Job **psrc)
{
    Job *src = *psrc;
    JobStream *all;
    int n = 0;

    if (!src)
        return 0;
    all = av_realloc_array(dst->streams, dst->nb_streams + src->nb_streams + 1, sizeof(*all));
    if (!all) {
        job_free(psrc);
        return AVERROR(ENOMEM);
    }
    dst->streams = all;
    for (int i = 0; i < src->nb_streams; i++) {
        int dup = 0;
        for (int k = 0; k < dst->nb_streams && !dup; k++)
            dup = !strcmp(dst->streams[k].name, src->streams[i].name);
        if (!dup) {
            dst->streams[dst->nb_streams++] = src->streams[i];
            n++;
        } else {
            free_stream(&src->streams[i]);
        }
    }
    src->nb_streams = 0;
    job_free(psrc);
    return n;
}

static void load_supervisor(Loader *ld, const yaml_node_t *root, JobSupervisor *sv)
{
    yaml_node_t *map, *h, *m;

    sv->tick_us = JOB_DEFAULT_TICK_US;
    sv->hook_timeout_us = JOB_DEFAULT_HOOK_TIMEOUT_US;
    sv->orchestrator = (JobOrchestrator)JOB_ORCH_UNSET;
    if (jy_get_node(ld, root, "supervisor", YAML_MAPPING_NODE, &map) <= 0)
        return;
    sv->loc = loc_of(map);
    jy_check_keys(ld, map, "supervisor", supervisor_keys);
    if (jy_get_duration(ld, map, "tick", 60 * 1000000LL, &sv->tick_us) > 0 &&
        sv->tick_us < 100000) {
        report(ld, jy_map_get(ld, map, "tick"), "'tick' must be at least 100ms");
        sv->tick_us = JOB_DEFAULT_TICK_US;
    }
    if (jy_get_node(ld, map, "hds", YAML_MAPPING_NODE, &h) > 0) {
        jy_check_keys(ld, h, "hds", hds_keys);
        sv->hds_retention_us = 7 * 24 * 3600 * 1000000LL;
        sv->hds_raw_window_us = 24 * 3600 * 1000000LL;
        if (jy_map_require(ld, h, "hds", "path"))
            jy_get_string(ld, h, "path", &sv->hds_path);
        jy_get_duration(ld, h, "retention", 0, &sv->hds_retention_us);
        jy_get_duration(ld, h, "raw_window", 0, &sv->hds_raw_window_us);
        if (sv->hds_raw_window_us > sv->hds_retention_us)
            sv->hds_raw_window_us = sv->hds_retention_us;
    }
    if (jy_get_string(ld, map, "model", &sv->model_path) > 0 && !strcmp(sv->model_path, "none")) {
        av_freep(&sv->model_path);
        sv->prediction_off = 1;
    }
    /* the control socket (hotspare ctl); 107 bytes: sockaddr_un's sun_path */
    if (jy_get_string(ld, map, "control", &sv->control_path) > 0 && strlen(sv->control_path) > 107)
        report(ld, jy_map_get(ld, map, "control"), "'control' must be at most 107 bytes "
               "(a Unix socket's path), got %zu", strlen(sv->control_path));
    m = jy_map_get(ld, map, "metrics");
    if (m) {
        yaml_node_t *addr_node = m;
        int loopback = 1;
        if (m->type == YAML_MAPPING_NODE) {
            jy_check_keys(ld, m, "metrics", metrics_keys);
            addr_node = jy_map_require(ld, m, "metrics", "listen");
            jy_get_string(ld, m, "listen", &sv->metrics_addr);
            jy_get_bool(ld, m, "allow_remote", &sv->metrics_allow_remote);
        } else {
            jy_get_string(ld, map, "metrics", &sv->metrics_addr);
        }
        if (sv->metrics_addr && addr_node &&
            check_listen(ld, addr_node, sv->metrics_addr, &loopback) >= 0 &&
            !loopback && !sv->metrics_allow_remote)
            report(ld, addr_node, "'%s' is not a loopback address: metrics show the job's "
                   "topology; set allow_remote: true to listen there", sv->metrics_addr);
    }
    load_hooks(ld, map, sv);
    load_fleet(ld, map, &sv->fleet);
    load_orchestrator(ld, map, 1, &sv->orchestrator);
    if (get_standby_mode(ld, map, &sv->standby_mode) > 0)
        ld->sv_standby_mode = jy_map_get(ld, map, "standby_mode");
}

/* FNV-1a over what a node says: its structure and scalars, not its
 * comments, layout or quoting. Aliases are followed (depth-bounded: the
 * loader's nesting limit applies to what it reads, this to what an alias
 * makes of it). */
#define DIGEST_MAX_DEPTH 128

static uint64_t digest_bytes(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static uint64_t digest_node(Loader *ld, const yaml_node_t *n, uint64_t h, int depth)
{
    static const char open_map = '{', close_map = '}', open_seq = '[', close_seq = ']', sep = 0;

    if (!n || depth > DIGEST_MAX_DEPTH)
        return digest_bytes(h, "?", 1);
    switch (n->type) {
    case YAML_SCALAR_NODE:
        h = digest_bytes(h, n->data.scalar.value, n->data.scalar.length);
        return digest_bytes(h, &sep, 1);
    case YAML_SEQUENCE_NODE:
        h = digest_bytes(h, &open_seq, 1);
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
            h = digest_node(ld, jy_node_at(ld, *it), h, depth + 1);
        return digest_bytes(h, &close_seq, 1);
    case YAML_MAPPING_NODE:
        h = digest_bytes(h, &open_map, 1);
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            h = digest_node(ld, jy_node_at(ld, p->key), h, depth + 1);
            h = digest_node(ld, jy_node_at(ld, p->value), h, depth + 1);
        }
        return digest_bytes(h, &close_map, 1);
    default:
        return digest_bytes(h, "?", 1);
    }
}

/* A stream's digest: what it says and what the job says for every stream
 * (rw_timeout, the supervisor's standby_mode), so that a reload
 * (README, "Reload") knows a stream that would run differently. Its
 * expect: is a drill's verdict, not how it runs: left out. */
static uint64_t stream_digest(Loader *ld, const yaml_node_t *root, const yaml_node_t *s)
{
    uint64_t h = 14695981039346656037ULL;
    yaml_node_t *sv = jy_map_get(ld, root, "supervisor");

    if (s->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = s->data.mapping.pairs.start; p < s->data.mapping.pairs.top; p++) {
            const yaml_node_t *k = jy_node_at(ld, p->key);
            if (k && k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, "expect"))
                continue;
            h = digest_node(ld, k, h, 1);
            h = digest_node(ld, jy_node_at(ld, p->value), h, 1);
        }
    } else {
        h = digest_node(ld, s, h, 0);
    }
    h = digest_node(ld, jy_map_get(ld, root, "rw_timeout"), h, 0);
    if (sv && sv->type == YAML_MAPPING_NODE)
        h = digest_node(ld, jy_map_get(ld, sv, "standby_mode"), h, 0);
    return h;
}

static void load_job(Loader *ld, const yaml_node_t *root, Job *job)
{
    yaml_node_t *n, *list;
    SeenSet names = { 0 };
    int64_t v;

    if (root->type != YAML_MAPPING_NODE) {
        report(ld, root, "the job must be a mapping (version:, streams:), not %s",
               jy_type_name(jy_node_type(root)));
        return;
    }
    n = jy_map_require(ld, root, "job", "version");
    if (n && jy_get_int(ld, root, "version", INT_MIN, INT_MAX, &v) > 0) {
        /* another version's keys mean other things: stop before reporting
         * them all as problems */
        if (v != JOB_SCHEMA_VERSION) {
            report(ld, n, "unsupported version %" PRId64 " (this hotspare reads version %d)",
                   v, JOB_SCHEMA_VERSION);
            return;
        }
        job->version = (int)v;
    }
    jy_check_keys(ld, root, "job", job_keys);
    ld->rw_timeout_us = JOB_DEFAULT_RW_TIMEOUT_US;
    jy_get_duration(ld, root, "rw_timeout", 0, &ld->rw_timeout_us);
    load_supervisor(ld, root, &job->supervisor);
    job->expect = (JobExpect)JOB_EXPECT_UNSET;
    jx_load_expect(ld, root, 1, &job->expect);
    ld->expect = &job->expect;

    /* a fleet node's own job may leave its streams out: they are placed
     * on the fleet (ctl --fleet place) and come from etcd */
    n = jy_map_get(ld, root, "streams");
    if (job->supervisor.fleet.nb_etcd &&
        (!n || (n->type == YAML_SEQUENCE_NODE &&
                n->data.sequence.items.top == n->data.sequence.items.start))) {
        jy_seen_free(&names);
        return;
    }
    job->nb_streams = get_list(ld, root, "job", "streams", (void **)&job->streams,
                               sizeof(*job->streams), &list);
    for (int i = 0; i < job->nb_streams; i++) {
        yaml_node_t *s = list_map_item(ld, list, i, "a stream");
        JobStream *st = &job->streams[i];
        yaml_node_t *name_node = NULL;

        if (!s)
            continue;
        get_name(ld, s, "stream", 0, &st->name, &name_node);
        if (name_node)
            jy_unique_name(ld, &names, "stream", st->name, name_node);
        st->orchestrator = (JobOrchestrator)JOB_ORCH_UNSET;
        st->digest = stream_digest(ld, root, s);
        load_stream(ld, s, &job->supervisor, st);
        /* what the stream leaves out, the supervisor says */
        {
            const JobOrchestrator *d = &job->supervisor.orchestrator;
            JobOrchestrator *o = &st->orchestrator;
            if (o->provision_above < 0)
                o->provision_above = d->provision_above;
            if (o->release_below < 0)
                o->release_below = d->release_below;
            if (o->switch_above < 0)
                o->switch_above = d->switch_above;
            if (o->hot_above < 0)
                o->hot_above = d->hot_above;
            if (!o->confirm)
                o->confirm = d->confirm;
            if (!o->keep_us)
                o->keep_us = d->keep_us;
        }
    }
    jl_check_steering(ld, root, job);
    jy_seen_free(&names);
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                  */

int job_load_buffer(const char *name, const uint8_t *buf, size_t size, Job **pjob,
                    JobDiag *diag)
{
    Loader ld = { .path = name, .rw_timeout_us = JOB_DEFAULT_RW_TIMEOUT_US };
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    yaml_node_t *root;
    Job *job = NULL;
    int ret = 0, bad;

    *pjob = NULL;
    jl_register_devices();

    if (size > JOB_MAX_FILE_SIZE) {
        jy_add_problem(&ld, 0, 0, av_asprintf("%s: the job file is larger than %d bytes "
                                              "(4 MiB), the most hotspare reads", name,
                                              JOB_MAX_FILE_SIZE));
        goto out_limits;
    }
    /* the limits first, on the text: libyaml's tree is neither built for
     * a binary file nor for one too deep to build in reasonable time */
    if ((ret = jy_check_text(&ld, buf, size)) < 0 || (ret = jy_check_shape(&ld, buf, size)) < 0) {
        if (ret == AVERROR_INVALIDDATA)
            ret = 0;              /* reported: a bad job, below */
        goto out_limits;
    }
    if (!yaml_parser_initialize(&parser)) {
        jy_hand_over(&ld, diag);
        return AVERROR(ENOMEM);
    }
    yaml_parser_set_input_string(&parser, buf, size);
    ld.doc = &doc;

    if (!yaml_parser_load(&parser, &doc)) {
        if (parser.error == YAML_MEMORY_ERROR)
            ret = AVERROR(ENOMEM);
        else
            jy_report_syntax(&ld, &parser, buf, size);
        goto out_parser;
    }
    root = yaml_document_get_root_node(&doc);
    if (!root) {
        jy_report_at(&ld, (yaml_mark_t){ 0 }, "the job file is empty");
        goto out_doc;
    }
    /* a second document ("---" further down) would be ignored silently */
    if (!yaml_parser_load(&parser, &extra)) {
        if (parser.error == YAML_MEMORY_ERROR)
            ret = AVERROR(ENOMEM);
        else
            jy_report_syntax(&ld, &parser, buf, size);
        goto out_doc;
    }
    if (yaml_document_get_root_node(&extra))
        jy_report_at(&ld, yaml_document_get_root_node(&extra)->start_mark,
                     "a job file holds one YAML document; this is a second one");
    yaml_document_delete(&extra);

    job = av_mallocz(sizeof(*job));
    if (!job || !(job->path = av_strdup(name))) {
        ret = AVERROR(ENOMEM);
        goto out_doc;
    }
    load_job(&ld, root, job);

out_doc:
    yaml_document_delete(&doc);
out_parser:
    yaml_parser_delete(&parser);
out_limits:
    jy_seen_free(&ld.urls);

    bad = ld.nb_problems > 0;
    jy_hand_over(&ld, diag);
    if (ld.enomem)
        ret = AVERROR(ENOMEM);
    else if (!ret && bad)
        ret = AVERROR_INVALIDDATA;
    if (ret < 0)
        job_free(&job);
    *pjob = job;
    return ret;
}

int job_load(const char *path, Job **pjob, JobDiag *diag)
{
    Loader ld = { .path = path };
    uint8_t *buf = NULL;
    size_t n = 0;
    FILE *f;
    int ret;

    *pjob = NULL;
    f = fopen(path, "rb");
    /* one byte more than the limit tells a file that is too large; what a
     * pipe or a device sends is read no further */
    if (f && !(buf = av_malloc(JOB_MAX_FILE_SIZE + 1))) {
        fclose(f);
        return AVERROR(ENOMEM);
    }
    if (f) {
        n = fread(buf, 1, JOB_MAX_FILE_SIZE + 1, f);
        errno = ferror(f) ? (errno ? errno : EIO) : 0;
        fclose(f);
    }
    if (!f || errno) {
        ret = AVERROR(errno);
        av_free(buf);
        /* no line to point at: the message says which file and why */
        jy_add_problem(&ld, 0, 0, av_asprintf("%s: cannot read the job file: %s",
                                              path, av_err2str(ret)));
        jy_hand_over(&ld, diag);
        return ld.enomem ? AVERROR(ENOMEM) : ret;
    }
    ret = job_load_buffer(path, buf, n, pjob, diag);
    av_free(buf);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* Freeing, formats                                                         */

static void free_stream(JobStream *st)
{
    av_freep(&st->name);
    av_freep(&st->input.url);
    av_freep(&st->input.format);
    av_dict_free(&st->input.options);
    av_freep(&st->input.filter);
    av_freep(&st->input.filter_name);
    for (int i = 0; i < st->input.nb_backups; i++) {
        av_freep(&st->input.backups[i].url);
        av_freep(&st->input.backups[i].format);
        av_dict_free(&st->input.backups[i].options);
    }
    av_freep(&st->input.backups);
    av_freep(&st->audio.encoder);
    av_dict_free(&st->audio.options);
    for (int i = 0; i < st->nb_renditions; i++) {
        JobRendition *r = &st->renditions[i];
        av_freep(&r->name);
        av_freep(&r->encoder);
        av_dict_free(&r->options);
        av_freep(&r->device);
        if (r->backup) {
            av_freep(&r->backup->encoder);
            av_dict_free(&r->backup->options);
            av_freep(&r->backup->device);
            for (int k = 0; k < r->backup->nb_devices; k++)
                av_freep(&r->backup->devices[k]);
            av_freep(&r->backup->devices);
            av_freep(&r->backup);
        }
    }
    av_freep(&st->renditions);
    for (int i = 0; i < st->nb_outputs; i++) {
        JobOutput *o = &st->outputs[i];
        av_freep(&o->name);
        av_freep(&o->format);
        av_freep(&o->url);
        av_freep(&o->renditions);
        av_dict_free(&o->options);
        av_freep(&o->run_tag);
        for (int b = 0; b < o->nb_backups; b++) {
            av_freep(&o->backups[b].url);
            av_dict_free(&o->backups[b].options);
        }
        av_freep(&o->backups);
        for (int p = 0; p < o->nb_pathways; p++) {
            av_freep(&o->pathways[p].id);
            av_freep(&o->pathways[p].base);
        }
        av_freep(&o->pathways);
        av_freep(&o->steering.uri);
        av_freep(&o->steering.path);
    }
    av_freep(&st->outputs);
    for (int i = 0; i < st->nb_faults; i++)
        av_freep(&st->faults[i].component);
    av_freep(&st->faults);
}

void job_free(Job **pjob)
{
    Job *job = *pjob;

    if (!job)
        return;
    for (int i = 0; i < job->nb_streams; i++)
        free_stream(&job->streams[i]);
    av_freep(&job->streams);
    av_freep(&job->supervisor.hds_path);
    av_freep(&job->supervisor.metrics_addr);
    av_freep(&job->supervisor.model_path);
    av_freep(&job->supervisor.control_path);
    free_argv(&job->supervisor.hook_provision);
    free_argv(&job->supervisor.hook_release);
    free_fleet(&job->supervisor.fleet);
    av_freep(&job->path);
    av_freep(pjob);
}

void job_diag_free(JobDiag *diag)
{
    if (!diag)
        return;
    for (int i = 0; i < diag->nb_msgs; i++)
        av_freep(&diag->msgs[i]);
    av_freep(&diag->msgs);
    diag->nb_msgs = 0;
}

int job_url_is_network(const char *url)
{
    char scheme[32];

    jl_url_scheme(url, scheme, sizeof(scheme));
    return jl_is_network_scheme(scheme);
}

int job_unpace(Job *job)
{
    int n = 0;

    for (int s = 0; s < job->nb_streams; s++) {
        JobInput *in = &job->streams[s].input;
        int all = !job_url_is_network(in->url);

        if (all)
            in->realtime = 0;
        for (int b = 0; b < in->nb_backups; b++) {
            if (job_url_is_network(in->backups[b].url))
                all = 0;
            else
                in->backups[b].realtime = 0;
        }
        n += all;
    }
    return n;
}

int job_input_is_live(const JobInput *in)
{
    return in->realtime || job_url_is_network(in->url);
}

int64_t job_option_duration_us(const AVDictionary *options, const char *key, int64_t dflt)
{
    const AVDictionaryEntry *e = av_dict_get(options, key, NULL, 0);
    int64_t us;

    /* libav's own reading of an AV_OPT_TYPE_DURATION: seconds by default */
    if (!e || av_parse_time(&us, e->value, 1) < 0 || us < 0)
        return dflt;
    return us;
}

int64_t job_output_segment_us(const JobOutput *jo, const AVDictionary *options)
{
    if (!strcmp(jo->format, "hls"))
        return job_option_duration_us(options, "hls_time", 2000000);
    if (!strcmp(jo->format, "dash"))
        return job_option_duration_us(options, "seg_duration", 5000000);
    return 0;
}

int job_output_epoch_locked(const JobOutput *jo)
{
    return jo->epoch_lock && (!strcmp(jo->format, "hls") ||
                              (!strcmp(jo->format, "dash") && job_url_is_network(jo->url)));
}

int job_format_max_video(const char *format)
{
    /* Muxers that take one video stream, or that players read as one
     * (a second video PID in MPEG-TS, a second video tag stream in FLV, are
     * ignored or refused downstream). */
    static const char *const single[] = {
        "flv", "live_flv", "mpegts", "rtp_mpegts", "rtp", "ivf", "h264", "hevc",
        "rawvideo", "yuv4mpegpipe", "image2", "image2pipe", "gif", "apng",
        "webp", "mjpeg", NULL,
    };

    return format && jy_in_words(format, single) ? 1 : INT_MAX;
}
