/*
 * host_risk.h: the host's own risk, from its pressure and exhaustion
 * figures (the host component of a sample, sample.h).
 *
 * The failure model predicts components (inputs, encoders, outputs) and
 * moves each to a backup in the same process; what threatens the whole
 * host threatens every backup on it too, and only another host helps (a
 * fleet's planned move, fleet.h). The model has no host series to learn
 * from (a host failure takes the recorder with it), so this risk is a
 * set of rules over figures that say where the host is going, each a
 * ramp from 0 (nothing to see) to 1 (it fails within about a minute):
 *
 *   rule               figure                                      0      1
 *   memory limit       cgroup memory, seconds to its limit          600 s  60 s
 *   store full         the data store's filesystem, seconds to full 600 s  60 s
 *   store space        ... its free share                           5 %    1 %
 *   memory pressure    PSI memory full avg10                        10 %   40 %
 *   I/O pressure       PSI io full avg10                            30 %   80 %
 *   CPU pressure       PSI cpu some avg10                           60 %   95 %
 *
 * The risk is the highest; its rule and figure say why. A figure the host
 * does not have (no cgroup limit, no store, no PSI) counts for nothing.
 */
#ifndef HS_HOST_RISK_H
#define HS_HOST_RISK_H

#include "hma/sample.h"

typedef struct HostRisk {
    double risk;                 /* 0..1 */
    char why[160];               /* the rule that gives it, with its figure;
                                    "" when the risk is 0 */
} HostRisk;

/* The risk of host (a COMP_HOST component; NULL: none, risk 0). Pure. */
void host_risk(const SampleComp *host, HostRisk *r);

/* The same, from a whole sample's host component. */
void host_risk_sample(const Sample *s, HostRisk *r);

#endif
