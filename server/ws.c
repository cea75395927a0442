/* ws.c - work-stealing: completions become tasks that any worker may run.
 *
 * In a work-stealing runtime with one I/O driver (tokio, Go's netpoller),
 * whichever worker polls the driver next gets the tasks it makes ready, so a
 * task's next step lands on a worker unrelated to the one that ran its last
 * step. Here each worker has its own ring, so that is modelled directly: a
 * reaped completion goes to a worker drawn at random, into its own local
 * deque when it drew itself, else into that worker's inbox, batched. A
 * worker runs its local deque, then its inbox, then a share of the shared
 * injector (which takes the overflow of full deques), then steals half of a
 * random victim's deque, and parks in its ring's wait when all are empty.
 * A task continues its I/O on the ring of the worker that ran it, so a
 * connection's buffers are allocated on one worker and freed on whichever
 * runs its next step: about (N-1)/N of cross-step frees cross threads with
 * N workers. Draining a shared queue instead let whichever worker held a
 * CPU run nearly everything on this 2-core machine (1.6 % cross-thread
 * frees under wrk), which is not what the experiment is about. Workers are
 * not pinned. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "runtime.h"

/* Tasks run per loop turn before the ring is reaped again, so completions
 * keep flowing while a worker is busy. */
#define TASKS_PER_TURN 64

/* A queue that cannot grow (its ring is malloc'd, and the server may be at
 * its memory limit) must not lose the connections whose completions it was
 * to carry: the steps run here and now instead, as tpc would run them.
 * Nothing else is at stake, as a step submits its I/O and returns. */
static void run_here(struct fl_worker *w, struct fl_conn *const *tasks, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        FL_COUNT(&w->ctr, tasks_run, 1);
        fl_conn_run(w, tasks[i]);
    }
}

/* Wakes `o` if it is parked (any thread); true if this call woke it. */
static bool wake_if_parked(struct fl_worker *o)
{
    bool expected = true;
    if (!atomic_load(&o->parked) || !atomic_compare_exchange_strong(&o->parked, &expected, false))
        return false;
    atomic_fetch_sub(&o->srv->nparked, 1);
    fl_worker_wake(o);
    return true;
}

/* Wakes one parked worker other than `w`, if any. */
static void wake_one(struct fl_worker *w)
{
    if (atomic_load(&w->srv->nparked) == 0)
        return;
    for (int i = 1; i < w->srv->nworkers; i++)
        if (wake_if_parked(&w->srv->workers[(w->id + i) % w->srv->nworkers]))
            return;
}

static void send_pending(struct fl_worker *w, int target)
{
    struct fl_ws_pending *p = &w->pending[target];
    struct fl_worker *o = &w->srv->workers[target];
    if (fl_injector_push_batch(&o->inbox, p->tasks, p->n)) {
        struct fl_conn *tasks[FL_WS_BATCH];
        unsigned n = p->n;
        memcpy(tasks, p->tasks, n * sizeof(tasks[0]));
        p->n = 0; /* emptied before the steps run: no task runs twice */
        run_here(w, tasks, n);
        return;
    }
    p->n = 0;
    wake_if_parked(o);
}

static void ws_dispatch(struct fl_worker *w, struct fl_conn *c)
{
    int target = (int)(fl__worker_rand(w) % (uint64_t)w->srv->nworkers);
    if (target == w->id) {
        int moved = fl_deque_push_or_overflow(&w->deque, c, &w->srv->injector);
        if (moved < 0) {
            run_here(w, &c, 1);
            return;
        }
        if (moved > 0) /* half the deque went to the injector: others may take it */
            wake_one(w);
        return;
    }
    struct fl_ws_pending *p = &w->pending[target];
    p->tasks[p->n++] = c;
    if (p->n == FL_WS_BATCH)
        send_pending(w, target);
}

/* Hands the reaped completions to their workers; and if this worker's own
 * deque holds more than it is about to run, a parked one may steal it. */
static void flush_pending(struct fl_worker *w)
{
    for (int i = 0; i < w->srv->nworkers; i++)
        if (w->pending[i].n)
            send_pending(w, i);
    if (fl_deque_len(&w->deque) > 1)
        wake_one(w);
}

/* Local deque, inbox, a fair share of the injector, then half of a victim. */
static struct fl_conn *find_task(struct fl_worker *w)
{
    struct fl_server *srv = w->srv;
    void *t = fl_deque_pop(&w->deque);
    if (t)
        return t;
    if (fl_injector_len(&w->inbox) &&
        (t = fl_injector_pop_batch(&w->inbox, &w->deque, FL_DEQUE_DEFAULT_CAP, NULL)))
        return t;
    size_t queued = fl_injector_len(&srv->injector);
    if (queued) {
        unsigned share = (unsigned)(queued / (size_t)srv->nworkers) + 1;
        if ((t = fl_injector_pop_batch(&srv->injector, &w->deque, share, NULL)))
            return t;
    }
    if (srv->nworkers > 1) {
        int start = (int)(fl__worker_rand(w) % (uint64_t)srv->nworkers);
        for (int i = 0; i < srv->nworkers; i++) {
            struct fl_worker *v = &srv->workers[(start + i) % srv->nworkers];
            unsigned moved = 0;
            if (v == w || !(t = fl_deque_steal_half(&v->deque, &w->deque, &moved)))
                continue;
            FL_COUNT(&w->ctr, steals, 1);
            FL_COUNT(&w->ctr, tasks_stolen, moved);
            return t;
        }
    }
    return NULL;
}

static bool ws_run_tasks(struct fl_worker *w)
{
    flush_pending(w);
    for (int n = 0; n < TASKS_PER_TURN; n++) {
        struct fl_conn *c = find_task(w);
        if (!c)
            return false;
        FL_COUNT(&w->ctr, tasks_run, 1);
        fl_conn_run(w, c);
        flush_pending(w); /* completions a step produced synchronously, if any */
    }
    return true;
}

/* Park protocol: announce first, then look once more. A pusher that added
 * work after our look sees us parked (both sides use sequentially
 * consistent operations on `parked` and the injector's length) and wakes
 * us; one that added before it is seen by the look. */
static bool ws_park(struct fl_worker *w)
{
    atomic_store(&w->parked, true);
    atomic_fetch_add(&w->srv->nparked, 1);
    if (fl_injector_len(&w->srv->injector) == 0 && fl_injector_len(&w->inbox) == 0 &&
        fl_deque_len(&w->deque) == 0)
        return true;
    w->srv->unpark(w);
    return false;
}

static void ws_unpark(struct fl_worker *w)
{
    bool expected = true;
    if (atomic_compare_exchange_strong(&w->parked, &expected, false))
        atomic_fetch_sub(&w->srv->nparked, 1);
}

int fl_ws_prepare(struct fl_server *srv, char *err, size_t errlen)
{
    int rc = fl_injector_init(&srv->injector, 0);
    for (int i = 0; i < srv->nworkers && !rc; i++) {
        struct fl_worker *w = &srv->workers[i];
        rc = fl_deque_init(&w->deque, FL_DEQUE_DEFAULT_CAP);
        if (!rc)
            rc = fl_injector_init(&w->inbox, 0);
        w->pending = calloc((size_t)srv->nworkers, sizeof(*w->pending));
        w->outbox = calloc((size_t)srv->nworkers, sizeof(*w->outbox));
        if (!rc && (!w->pending || !w->outbox))
            rc = -ENOMEM;
    }
    if (rc) {
        snprintf(err, errlen, "ws mode: %s", strerror(-rc));
        return rc;
    }
    srv->dispatch = ws_dispatch;
    srv->run_tasks = ws_run_tasks;
    srv->park = ws_park;
    srv->unpark = ws_unpark;
    srv->free_owner = strcmp(srv->cfg.free_policy, "owner") == 0;
    return 0;
}

void fl_ws_destroy(struct fl_server *srv)
{
    for (int i = 0; i < srv->nworkers; i++) {
        struct fl_worker *w = &srv->workers[i];
        if (w->deque.slots)
            fl_deque_destroy(&w->deque);
        if (w->inbox.ring)
            fl_injector_destroy(&w->inbox);
        free(w->pending);
        free(w->outbox);
    }
    fl_injector_destroy(&srv->injector);
}
