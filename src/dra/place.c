/*
 * place.c: where a standby encoder opens; see place.h.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "dra/place.h"

/* headroom of a device the tick knows nothing of */
#define UNKNOWN_HEADROOM 0.5

typedef struct Reservation {
    char name[48];
    int64_t until_us;
} Reservation;

/* The tick's thread only. */
struct DraPlace {
    int max_sessions;
    DraDevice dev[DRA_PLACE_MAX_DEVICES];
    int nb_dev;
    Reservation res[DRA_PLACE_MAX_DEVICES * 4];
    int nb_res;
};

/* "gpu0", "cuda:0" and "0" are the same CUDA device. */
static const char *canonical(const char *name)
{
    if (!strncmp(name, "gpu", 3) && name[3] >= '0' && name[3] <= '9')
        return name + 3;
    if (!strncmp(name, "cuda:", 5))
        return name + 5;
    return name;
}

/* A VAAPI render node as the DRM agent names its device: "dri:" and the
 * PCI slot its sysfs entry links to (/dev/dri/renderD128 ->
 * /sys/class/drm/renderD128/device -> ../../../0000:00:02.0); the name
 * as it is for anything else. */
static const char *drm_name(const char *name, char *buf, size_t size)
{
    const char *node = strrchr(name, '/');
    char link[512], target[512];
    ssize_t n;

    if (strncmp(name, "/dev/dri/", 9) || !node)
        return name;
    snprintf(link, sizeof(link), "/sys/class/drm/%s/device", node + 1);
    n = readlink(link, target, sizeof(target) - 1);
    if (n <= 0)
        return name;
    target[n] = 0;
    node = strrchr(target, '/');
    av_strlcpy(buf, "dri:", size);
    av_strlcat(buf, node ? node + 1 : target, size);
    return buf;
}

static const DraDevice *find(const DraDevice *devs, int nb, const char *name)
{
    char buf[128];

    name = canonical(drm_name(name, buf, sizeof(buf)));
    for (int i = 0; i < nb; i++)
        if (!strcmp(canonical(devs[i].name), name))
            return &devs[i];
    return NULL;
}

int dra_place_pick(const DraDevice *devs, int nb_devs, char *const *cand, int nb_cand,
                   const int *reserved, int max_sessions, char *why, size_t why_size)
{
    int best = -1;
    double best_room = -1;

    if (why_size)
        *why = 0;
    for (int k = 0; k < nb_cand; k++) {
        const DraDevice *d = find(devs, nb_devs, cand[k]);
        int sessions = (d && d->sessions >= 0 ? d->sessions : 0) + (reserved ? reserved[k] : 0);
        double room = d && !isnan(d->headroom) ? d->headroom : UNKNOWN_HEADROOM;
        char part[96];

        if (d && !d->up) {
            snprintf(part, sizeof(part), "%s%s lost", *why ? ", " : "", cand[k]);
            av_strlcat(why, part, why_size);
            continue;
        }
        if (max_sessions && sessions >= max_sessions) {
            snprintf(part, sizeof(part), "%s%s %d of %d sessions", *why ? ", " : "", cand[k],
                     sessions, max_sessions);
            av_strlcat(why, part, why_size);
            continue;
        }
        if (room > best_room) {
            best = k;
            best_room = room;
        }
    }
    return best;
}

int dra_place_alloc(DraPlace **pp, int max_sessions)
{
    DraPlace *p = av_mallocz(sizeof(*p));

    *pp = p;
    if (!p)
        return AVERROR(ENOMEM);
    p->max_sessions = max_sessions;
    return 0;
}

void dra_place_free(DraPlace **pp)
{
    av_freep(pp);
}

/* A DRM video engine ("dri:PDEV:ENGINE", agent_drm): its device's
 * headroom is its freest engine's. */
static void observe_engine(DraPlace *p, const SampleComp *c)
{
    const char *engine = strrchr(c->name, ':');
    char name[48];
    double room;
    DraDevice *d = NULL;

    if (!engine || !sample_has(c, GM_VIDEO_ENGINE_BUSY))
        return;
    snprintf(name, sizeof(name), "%.*s", (int)(engine - c->name), c->name);
    room = 1 - c->v[GM_VIDEO_ENGINE_BUSY];
    for (int k = 0; k < p->nb_dev && !d; k++)
        if (!strcmp(p->dev[k].name, name))
            d = &p->dev[k];
    if (!d && p->nb_dev < DRA_PLACE_MAX_DEVICES) {
        d = &p->dev[p->nb_dev++];
        *d = (DraDevice){ .up = 1, .headroom = room, .sessions = -1 };
        av_strlcpy(d->name, name, sizeof(d->name));
    }
    if (d && room > d->headroom)
        d->headroom = room;
}

void dra_place_observe(DraPlace *p, const Sample *s)
{
    p->nb_dev = 0;
    for (int i = 0; i < s->nb_comps && p->nb_dev < DRA_PLACE_MAX_DEVICES; i++) {
        const SampleComp *c = &s->comps[i];
        DraDevice *d = &p->dev[p->nb_dev];
        if (c->kind != COMP_GPU)
            continue;
        if (!strncmp(c->name, "dri:", 4)) {
            observe_engine(p, c);
            continue;
        }
        av_strlcpy(d->name, c->name, sizeof(d->name));
        d->up = !sample_has(c, GM_UP) || c->v[GM_UP] > 0.5;
        d->headroom = sample_has(c, GM_ENCODER_CAPACITY) ? c->v[GM_ENCODER_CAPACITY] :
                      sample_has(c, GM_ENCODER_UTIL) ? 1 - c->v[GM_ENCODER_UTIL] : NAN;
        d->sessions = sample_has(c, GM_ENCODER_SESSIONS) ? (int)c->v[GM_ENCODER_SESSIONS] : -1;
        p->nb_dev++;
    }
}

int dra_place(DraPlace *p, const JobEncoderBackup *eb, int64_t now_us, char *dev, size_t dev_size,
              char *why, size_t why_size)
{
    int reserved[JOB_MAX_DEVICES] = { 0 }, k, n = 0;

    *dev = 0;
    if (!eb || !eb->nb_devices || (eb->nb_devices == 1 && !p->max_sessions))
        return 0;
    /* reservations that NVML may not show yet */
    for (int r = 0; r < p->nb_res; r++)
        if (p->res[r].until_us > now_us)
            p->res[n++] = p->res[r];
    p->nb_res = n;
    for (k = 0; k < eb->nb_devices && k < JOB_MAX_DEVICES; k++)
        for (int r = 0; r < p->nb_res; r++)
            reserved[k] += !strcmp(canonical(p->res[r].name), canonical(eb->devices[k]));
    k = dra_place_pick(p->dev, p->nb_dev, eb->devices, FFMIN(eb->nb_devices, JOB_MAX_DEVICES),
                       reserved, p->max_sessions, why, why_size);
    if (k < 0)
        return AVERROR(EBUSY);
    av_strlcpy(dev, eb->devices[k], dev_size);
    if (p->nb_res < (int)(sizeof(p->res) / sizeof(p->res[0]))) {
        av_strlcpy(p->res[p->nb_res].name, eb->devices[k], sizeof(p->res[0].name));
        p->res[p->nb_res++].until_us = now_us + DRA_PLACE_RESERVE_US;
    }
    return 0;
}
