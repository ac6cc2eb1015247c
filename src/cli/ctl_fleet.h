/*
 * ctl_fleet.h: `hotspare ctl --fleet SETTINGS ...`: requests to a fleet
 * (README, "Fleet") through its etcd, not through one node's control
 * socket: whichever node leads the stream acts on them.
 */
#ifndef HS_CTL_FLEET_H
#define HS_CTL_FLEET_H

/*
 * settings: the --fleet value (etcd=URL[,URL...][,prefix=P]); argv[0]:
 *   move STREAM NODE: asks that STREAM move to NODE, make before break (the
 *     leader hands it over at a segment boundary once NODE runs it warm),
 *     and waits up to timeout_ms (<= 0: 30 s) for NODE to lead it;
 *   place JOB.yaml [NAME]: checks the job (its streams' names unique
 *     among the jobs placed already), writes it at PREFIX/jobs/NAME
 *     (NAME: the file's name without its extension), and waits until a
 *     node leads each of its streams (and the streams a job placed before
 *     under that name had, and this one has not, ended);
 *   unplace NAME: removes it and waits until its streams have ended.
 * Returns the ctl exit status: 0 done, 1 refused, etcd unreachable or not
 * in time, 2 usage or a bad job (its problems on stderr).
 */
int ctl_fleet_exec(const char *settings, int argc, char **argv, int timeout_ms);

#endif
