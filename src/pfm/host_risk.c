/*
 * host_risk.c: the host's risk, by rules; see host_risk.h for the table.
 */
#include <stdio.h>

#include "pfm/host_risk.h"

/* 0 at zero, 1 at one, linear between (either way round), clamped. */
static double ramp(double v, double zero, double one)
{
    double r = (v - zero) / (one - zero);

    return r < 0 ? 0 : r > 1 ? 1 : r;
}

/* Keeps the highest risk and what gives it. */
static void consider(HostRisk *r, double risk, const char *what, double figure, const char *unit)
{
    if (risk <= r->risk)
        return;
    r->risk = risk;
    snprintf(r->why, sizeof(r->why), "%s %.*f%s", what, figure < 10 ? 1 : 0, figure, unit);
}

void host_risk(const SampleComp *c, HostRisk *r)
{
    r->risk = 0;
    r->why[0] = 0;
    if (!c || c->kind != COMP_HOST)
        return;
    if (sample_has(c, HM_CGROUP_MEMORY_TIME_TO_LIMIT))
        consider(r, ramp(c->v[HM_CGROUP_MEMORY_TIME_TO_LIMIT], 600, 60),
                 "the cgroup's memory limit reached in", c->v[HM_CGROUP_MEMORY_TIME_TO_LIMIT], " s");
    if (sample_has(c, HM_STORE_FS_TIME_TO_FULL))
        consider(r, ramp(c->v[HM_STORE_FS_TIME_TO_FULL], 600, 60),
                 "the data store's filesystem full in", c->v[HM_STORE_FS_TIME_TO_FULL], " s");
    if (sample_has(c, HM_STORE_FS_FREE) && sample_has(c, HM_STORE_FS_SIZE) &&
        c->v[HM_STORE_FS_SIZE] > 0) {
        double free = c->v[HM_STORE_FS_FREE] / c->v[HM_STORE_FS_SIZE];
        consider(r, ramp(free, 0.05, 0.01), "the data store's filesystem free:", 100 * free, " %");
    }
    if (sample_has(c, HM_PSI_MEMORY_FULL))
        consider(r, ramp(c->v[HM_PSI_MEMORY_FULL], 0.10, 0.40), "memory pressure (PSI full):",
                 100 * c->v[HM_PSI_MEMORY_FULL], " %");
    if (sample_has(c, HM_PSI_IO_FULL))
        consider(r, ramp(c->v[HM_PSI_IO_FULL], 0.30, 0.80), "I/O pressure (PSI full):",
                 100 * c->v[HM_PSI_IO_FULL], " %");
    if (sample_has(c, HM_PSI_CPU_SOME))
        consider(r, ramp(c->v[HM_PSI_CPU_SOME], 0.60, 0.95), "CPU pressure (PSI some):",
                 100 * c->v[HM_PSI_CPU_SOME], " %");
}

void host_risk_sample(const Sample *s, HostRisk *r)
{
    const SampleComp *host = NULL;

    for (int i = 0; s && i < s->nb_comps && !host; i++)
        if (s->comps[i].kind == COMP_HOST)
            host = &s->comps[i];
    host_risk(host, r);
}
