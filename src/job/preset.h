/*
 * preset.h: libavfilter graph presets from filters/, named by jobs.
 *
 * A preset is a file NAME.graph holding one libavfilter graph description
 * (comment lines start with '#', lines are joined). Searched in order:
 *   1. each directory of $HOTSPARE_FILTERS (colon-separated),
 *   2. filters/ next to the running binary (a build tree),
 *   3. ../share/hotspare/filters from the binary (an install, wherever
 *      PREFIX was),
 *   4. HS_DATADIR/filters (the configured install).
 */
#ifndef HS_PRESET_H
#define HS_PRESET_H

/* Is name a valid preset name ([a-z0-9_-]+)? */
int preset_name_valid(const char *name);

/* Finds and reads preset name. Returns 0 and *graph (av_malloc'd, caller
 * frees with av_free), AVERROR(ENOENT) when no such preset exists, or
 * another negative AVERROR when it cannot be read. */
int preset_load(const char *name, char **graph);

#endif
