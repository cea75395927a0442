/* stats.h - renders the server's state as /stats JSON and /metrics
 * Prometheus text, both from the same lists (FL_COUNTERS, the allocator
 * layer's FL_ALLOC_STATS_FIELDS, FL_SERVER_OPTIONS). */
#ifndef FL_SERVER_STATS_H
#define FL_SERVER_STATS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "counters.h"
#include "fl_alloc.h"

struct fl_stats_worker {
    int id;
    int cpu;     /* CPU it is pinned to, -1 when not pinned */
    bool pinned; /* the affinity was set and read back as that one CPU */
    const struct fl_counters *ctr;
};

struct fl_stats_view {
    const struct fl_server_config *cfg;
    const struct fl_alloc_info *alloc;
    const struct fl_alloc_stats *mem;
    const struct fl_stats_worker *workers;
    int nworkers;
    long pid;
    double uptime_s;
};

/* /stats: a malloc'd NUL-terminated JSON document, its length in *len. */
char *fl_stats_json(const struct fl_stats_view *v, size_t *len);

/* /metrics: a malloc'd Prometheus text exposition (format 0.0.4). */
char *fl_stats_prometheus(const struct fl_stats_view *v, size_t *len);

#endif
