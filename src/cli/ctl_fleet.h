/*
 * ctl_fleet.h: `hotspare ctl --fleet SETTINGS ...`: requests to a fleet
 * (README, "Fleet") through its etcd, not through one node's control
 * socket: whichever node leads the stream acts on them.
 */
#ifndef HS_CTL_FLEET_H
#define HS_CTL_FLEET_H

/*
 * move STREAM NODE: asks that STREAM move to NODE, make before break (the
 * leader hands it over at a segment boundary once NODE runs it warm), and
 * waits up to timeout_ms (<= 0: 30 s) for NODE to lead it. settings: the
 * --fleet value (etcd=URL[,URL...][,prefix=P]). argv[0] is "move".
 * Returns the ctl exit status: 0 moved, 1 refused or not in time, 2 usage.
 */
int ctl_fleet_exec(const char *settings, int argc, char **argv, int timeout_ms);

#endif
