/* monitor.h - the server's side of the timeline: its process memory from
 * /proc/PID/smaps_rollup (when it runs on this machine) and its own figures
 * from GET /stats (allocator, cross-thread frees, migrations). Either may be
 * missing (a remote server, a server that is not fraglab): the figure is
 * then FL_NA and the report leaves its cell empty. */
#ifndef FL_LOADGEN_MONITOR_H
#define FL_LOADGEN_MONITOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "fl_alloc.h"

/* What the server is; filled from the first /stats that answers. */
struct fl_lg_server_info {
    bool known;
    int64_t pid;
    char mode[16];
    char allocator[64]; /* name, e.g. "jemalloc" */
    char version[96];   /* whole: jemalloc's runs to 49 characters */
    char free_policy[16];
    int64_t threads;
};

/* One sample; every int64 figure is FL_NA when not known. The memory
 * figures are the allocator layer's list (FL_ALLOC_STATS_FIELDS), by the same
 * names, so a figure added there reaches the CSV and summary.json. */
struct fl_lg_sample {
#define FL_X(field, metric, help) int64_t field;
    FL_ALLOC_STATS_FIELDS(FL_X)
#undef FL_X
    double frag_ratio;  /* NaN when not known */
    double cross_share; /* cross-thread frees / buffer frees; NaN when not known */
    int64_t cross_thread_frees, task_migrations, connections_open, held_bytes;
    /* The server's CPU time so far (utime + stime), ms: at an equal offered
     * load, what a pairing's requests cost it. */
    int64_t cpu_ms;
};

struct fl_lg_monitor {
    struct sockaddr_storage addr; /* where /stats is asked */
    socklen_t addr_len;
    char host[256];
    pid_t pid;  /* 0: no /proc figures */
    bool stats; /* /stats answered at least once */
};

/* Takes one sample: /proc/PID/smaps_rollup when m->pid, GET /stats always
 * (1 s timeout). Fills `info` the first time /stats answers. */
/* Every figure of `s` unknown (FL_NA, NaN). */
void fl_lg_sample_clear(struct fl_lg_sample *s);

void fl_lg_monitor_sample(struct fl_lg_monitor *m, struct fl_lg_sample *s,
                          struct fl_lg_server_info *info);

/* GET /stats from addr: 0 and the body (malloc'd, NUL-terminated) in *body,
 * or -errno (-EPROTO: not a 200 answer). */
int fl_lg_http_get(const struct sockaddr *addr, socklen_t len, const char *host, const char *path,
                   int timeout_ms, char **body);

/* Whether addr is a loopback address (its pid may then be this machine's). */
bool fl_lg_is_loopback(const struct sockaddr *addr);

/* Whether process `pid`, as this machine numbers it, is the one listening on
 * addr's port here: one of its descriptors is a listening TCP socket of that
 * port in /proc/net/tcp{,6}. A server in another pid namespace (a container
 * sharing or forwarding the port) reports a pid that names another process
 * here, or none; its memory must then come from its /stats. */
bool fl_lg_pid_listens(pid_t pid, const struct sockaddr *addr);

#endif
