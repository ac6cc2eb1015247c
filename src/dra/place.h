/*
 * place.h: where a standby encoder opens. A rendition's backup may list
 * the devices it can run on (device: [0, 1]); when the orchestrator opens
 * it ahead, the allocator picks the one with the most headroom that is
 * under the job's per-device budget (supervisor: orchestrator:
 * max_sessions_per_device), from what the last tick saw of each device.
 *
 * Headroom is what NVML says is left of the GPU's encoder (capacity left,
 * else 1 - encoder utilisation), or for a VAAPI render node what DRM
 * fdinfo says its freest video engine has left (agent_drm: known only for
 * devices this process has open); a device the tick knows nothing of
 * counts as half free, so that a known busy
 * GPU loses to it and a known idle one wins. A GPU NVML reports lost is
 * never picked. Sessions are NVML's count on the whole GPU, plus the
 * standbys placed there in the last DRA_PLACE_RESERVE_US (NVML sees a new
 * session a tick or two late; counting both for a while errs on the side
 * of the budget).
 *
 * dra_place_pick is the decision, a pure function tested on synthetic
 * devices (tests/unit/place_test.c); DraPlace keeps the devices and the
 * reservations for the tick's thread.
 */
#ifndef HS_DRA_PLACE_H
#define HS_DRA_PLACE_H

#include <stddef.h>
#include <stdint.h>

#include "hma/sample.h"
#include "job/job.h"

#define DRA_PLACE_MAX_DEVICES 32
#define DRA_PLACE_RESERVE_US (10 * 1000000LL)

/* What the last tick saw of one device. */
typedef struct DraDevice {
    char name[48];               /* as a job names it: "0" for NVML's gpu0 */
    int up;                      /* 0: lost */
    double headroom;             /* 0..1; NAN unknown */
    int sessions;                /* encoder sessions on it; -1 unknown */
} DraDevice;

/*
 * Picks among the nb_cand candidate device names (the job's order) the
 * one to open a standby on: not lost, sessions (known, plus reserved[k]
 * for candidate k) below max_sessions (0: no budget), the most headroom
 * (ties: the job's order). Returns the candidate's index, or -1 with the
 * reason in why (every candidate lost or at its budget).
 */
int dra_place_pick(const DraDevice *devs, int nb_devs, char *const *cand, int nb_cand,
                   const int *reserved, int max_sessions, char *why, size_t why_size);

typedef struct DraPlace DraPlace;

int dra_place_alloc(DraPlace **pp, int max_sessions);
void dra_place_free(DraPlace **pp);

/* The devices as the tick's sample s shows them (COMP_GPU components). */
void dra_place_observe(DraPlace *p, const Sample *s);

/*
 * Where the standby eb opens, at now_us: writes the device's name to dev
 * (empty when there is nothing to choose: no device listed, or one and no
 * budget) and reserves a session there. Returns 0, or AVERROR(EBUSY) with
 * the reason in why when no listed device can take it.
 */
int dra_place(DraPlace *p, const JobEncoderBackup *eb, int64_t now_us, char *dev, size_t dev_size,
              char *why, size_t why_size);

#endif
