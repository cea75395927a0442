/* tpc.c - thread-per-core: each worker pinned to one CPU of its own,
 * accepting on its own SO_REUSEPORT socket, running every step of its
 * connections itself. A connection's buffers are allocated and freed on one
 * thread, so tpc has no queues, no parking and no owner to return a buffer
 * to (config.c refuses --free-policy owner with it). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "runtime.h"

static void tpc_dispatch(struct fl_worker *w, struct fl_conn *c)
{
    fl_conn_run(w, c);
}

/* Workers take the CPUs this process may run on (taskset, cgroups) in
 * order. More workers than CPUs would put two on one CPU, which is not
 * thread-per-core however the pinning reads back: refused. */
static int tpc_prepare(struct fl_server *srv, char *err, size_t errlen)
{
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof(allowed), &allowed)) {
        int e = errno;
        snprintf(err, errlen, "tpc mode: sched_getaffinity: %s", strerror(e));
        return -e;
    }
    int cpus[CPU_SETSIZE], n = 0;
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &allowed))
            cpus[n++] = i;
    if (srv->nworkers > n) {
        snprintf(err, errlen,
                 "tpc mode: %d threads but this process may run on %d CPU%s only "
                 "(sched_getaffinity); use --threads %d or --mode ws",
                 srv->nworkers, n, n == 1 ? "" : "s", n);
        return -EINVAL;
    }
    for (int i = 0; i < srv->nworkers; i++)
        srv->workers[i].cpu = cpus[i];
    return 0;
}

/* On the worker's own thread: pins it to its CPU and checks. */
static int tpc_pin(struct fl_worker *w, char *err, size_t errlen)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(w->cpu, &set);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    if (rc) {
        snprintf(err, errlen,
                 "tpc mode: cannot pin worker %d to CPU %d: pthread_setaffinity_np: %s "
                 "(use --mode ws where pinning is not allowed)",
                 w->id, w->cpu, strerror(rc));
        return -rc;
    }
    /* Read it back: "pinning held" is what the kernel reports, not what we asked. */
    cpu_set_t got;
    rc = pthread_getaffinity_np(pthread_self(), sizeof(got), &got);
    w->pinned =
        rc == 0 && CPU_COUNT(&got) == 1 && CPU_ISSET(w->cpu, &got) && sched_getcpu() == w->cpu;
    if (!w->pinned) {
        snprintf(err, errlen, "tpc mode: worker %d is not running on CPU %d alone after pinning",
                 w->id, w->cpu);
        return -EPERM;
    }
    return 0;
}

const struct fl_runtime_ops fl_tpc_ops = {
    .name = "tpc",
    .prepare = tpc_prepare,
    .worker_start = tpc_pin,
    .dispatch = tpc_dispatch,
    .conns_roam = false,
};
