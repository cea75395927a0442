/* manifest.h - manifest.json: what was in force for one run. A run's
 * summary says what happened; the manifest says under what: the load
 * generator and its command line, this machine (kernel, CPUs, THP mode) and
 * the server as it reports itself (mode, threads, free policy, whether its
 * pinning held, the allocator with its full version, its settings and the
 * environment it read, the machine it runs on). */
#ifndef FL_LOADGEN_MANIFEST_H
#define FL_LOADGEN_MANIFEST_H

#include <cjson/cJSON.h>

#include "monitor.h"
#include "report.h"

/* Adds the manifest's "loadgen" and "host" objects for run `r` to `o`:
 * manifest.json's first part, and summary.json's "manifest". */
void fl_lg_manifest_run(cJSON *o, const struct fl_lg_result *r);

/* Writes DIR/manifest.json for the run `r`, asking the server's /stats once
 * more (through `mon`) unless it never answered or sampling is off (then
 * "server" is null). 0, or -errno after one line on stderr. */
int fl_lg_manifest_write(const char *dir, const struct fl_lg_result *r,
                         const struct fl_lg_monitor *mon);

#endif
