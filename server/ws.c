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
 * not pinned.
 *
 * --free-policy owner lives here too, as only ws frees buffers on a thread
 * other than the one that allocated them: such a buffer goes back to the
 * worker that allocated it, which frees it on its own thread (snmalloc's
 * remote deallocation, done above the allocator so that every allocator
 * gets it).
 *
 * All of this is ws's own state (struct ws_server, struct ws_worker), made
 * by ws_prepare and reached through fl_server.rt_state and fl_worker.rt. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "deque.h"
#include "runtime.h"

/* Tasks run per loop turn before the ring is reaped again, so completions
 * keep flowing while a worker is busy. */
#define TASKS_PER_TURN 64

/* Completions reaped by one worker for another, sent in one batch. */
#define WS_BATCH 64

/* Buffers sent back to one owner in one CAS (free-policy owner). */
#define REMOTE_BATCH 32

struct ws_pending {
    void *tasks[WS_BATCH];
    unsigned n;
};

/* A batch of buffers on their way back to the worker that allocated them. */
struct remote_batch {
    struct fl_buf_hdr *head, *tail;
    unsigned n;
};

/* One per worker, on cache lines of its own (thieves CAS the deque's top). */
struct ws_worker {
    struct fl_deque deque;
    struct fl_injector inbox; /* completions other workers drew for this one */
    atomic_bool parked;
    struct ws_pending *pending; /* per target worker: reaped, not yet handed over */
    /* free-policy owner: buffers other workers freed, for us to free */
    _Atomic(struct fl_buf_hdr *) remote_head;
    struct remote_batch *outbox; /* per owner, flushed each loop turn */
} __attribute__((aligned(64)));

struct ws_server {
    struct fl_injector injector; /* the shared queue: new work and overflow */
    atomic_int nparked;          /* workers blocked in their ring wait */
    struct ws_worker *workers;   /* nworkers, 64-byte aligned */
};

static struct ws_worker *ws_of(struct fl_worker *w)
{
    return w->rt;
}

static struct ws_server *ws_srv(struct fl_server *srv)
{
    return srv->rt_state;
}

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
    struct ws_worker *ow = ws_of(o);
    bool expected = true;
    if (!atomic_load(&ow->parked) || !atomic_compare_exchange_strong(&ow->parked, &expected, false))
        return false;
    atomic_fetch_sub(&ws_srv(o->srv)->nparked, 1);
    fl_worker_wake(o);
    return true;
}

/* Wakes one parked worker other than `w`, if any. */
static void wake_one(struct fl_worker *w)
{
    if (atomic_load(&ws_srv(w->srv)->nparked) == 0)
        return;
    for (int i = 1; i < w->srv->nworkers; i++)
        if (wake_if_parked(&w->srv->workers[(w->id + i) % w->srv->nworkers]))
            return;
}

static void send_pending(struct fl_worker *w, int target)
{
    struct ws_pending *p = &ws_of(w)->pending[target];
    struct fl_worker *o = &w->srv->workers[target];
    if (fl_injector_push_batch(&ws_of(o)->inbox, p->tasks, p->n)) {
        struct fl_conn *tasks[WS_BATCH];
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
    struct ws_worker *ww = ws_of(w);
    int target = (int)(fl__worker_rand(w) % (uint64_t)w->srv->nworkers);
    if (target == w->id) {
        int moved = fl_deque_push_or_overflow(&ww->deque, c, &ws_srv(w->srv)->injector);
        if (moved < 0) {
            run_here(w, &c, 1);
            return;
        }
        if (moved > 0) /* half the deque went to the injector: others may take it */
            wake_one(w);
        return;
    }
    struct ws_pending *p = &ww->pending[target];
    p->tasks[p->n++] = c;
    if (p->n == WS_BATCH)
        send_pending(w, target);
}

/* Hands the reaped completions to their workers; and if this worker's own
 * deque holds more than it is about to run, a parked one may steal it. */
static void flush_pending(struct fl_worker *w)
{
    struct ws_worker *ww = ws_of(w);
    for (int i = 0; i < w->srv->nworkers; i++)
        if (ww->pending[i].n)
            send_pending(w, i);
    if (fl_deque_len(&ww->deque) > 1)
        wake_one(w);
}

/* Half of a random victim's deque, or NULL. */
static struct fl_conn *steal(struct fl_worker *w)
{
    struct fl_server *srv = w->srv;
    int start = (int)(fl__worker_rand(w) % (uint64_t)srv->nworkers);
    for (int i = 0; i < srv->nworkers; i++) {
        struct fl_worker *v = &srv->workers[(start + i) % srv->nworkers];
        unsigned moved = 0;
        void *t;
        if (v == w || !(t = fl_deque_steal_half(&ws_of(v)->deque, &ws_of(w)->deque, &moved)))
            continue;
        FL_COUNT(&w->ctr, steals, 1);
        FL_COUNT(&w->ctr, tasks_stolen, moved);
        return t;
    }
    return NULL;
}

/* Local deque, inbox, a fair share of the injector, then half of a victim. */
static struct fl_conn *find_task(struct fl_worker *w)
{
    struct fl_server *srv = w->srv;
    struct ws_worker *ww = ws_of(w);
    struct fl_injector *injector = &ws_srv(srv)->injector;
    void *t = fl_deque_pop(&ww->deque);
    if (t)
        return t;
    if (fl_injector_len(&ww->inbox) &&
        (t = fl_injector_pop_batch(&ww->inbox, &ww->deque, FL_DEQUE_DEFAULT_CAP, NULL)))
        return t;
    size_t queued = fl_injector_len(injector);
    if (queued) {
        unsigned share = (unsigned)(queued / (size_t)srv->nworkers) + 1;
        if ((t = fl_injector_pop_batch(injector, &ww->deque, share, NULL)))
            return t;
    }
    return srv->nworkers > 1 ? steal(w) : NULL;
}

/* true when more may be ready, so the loop must not block. */
static bool run_tasks(struct fl_worker *w)
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

static void ws_unpark(struct fl_worker *w)
{
    bool expected = true;
    if (atomic_compare_exchange_strong(&ws_of(w)->parked, &expected, false))
        atomic_fetch_sub(&ws_srv(w->srv)->nparked, 1);
}

/* Park protocol: announce first, then look once more. A pusher that added
 * work after our look sees us parked (both sides use sequentially
 * consistent operations on `parked` and the injector's length) and wakes
 * us; one that added before it is seen by the look. */
static bool park(struct fl_worker *w)
{
    struct ws_worker *ww = ws_of(w);
    struct ws_server *ws = ws_srv(w->srv);
    atomic_store(&ww->parked, true);
    atomic_fetch_add(&ws->nparked, 1);
    if (fl_injector_len(&ws->injector) == 0 && fl_injector_len(&ww->inbox) == 0 &&
        fl_deque_len(&ww->deque) == 0)
        return true;
    ws_unpark(w);
    return false;
}

/* --- free-policy owner ---------------------------------------------------- */

/* Pushes a chain onto the owner's stack. Release: the owner's acquire
 * exchange must see the chain's links written before the push. */
static void send_batch(struct ws_worker *owner, struct remote_batch *b)
{
    struct fl_buf_hdr *old = atomic_load_explicit(&owner->remote_head, memory_order_relaxed);
    do
        b->tail->next = old;
    while (!atomic_compare_exchange_weak_explicit(&owner->remote_head, &old, b->head,
                                                  memory_order_release, memory_order_relaxed));
    b->head = b->tail = NULL;
    b->n = 0;
}

static void ws_return_to_owner(struct fl_worker *w, struct fl_buf_hdr *h)
{
    struct remote_batch *b = &ws_of(w)->outbox[h->owner];
    h->next = NULL;
    if (b->tail)
        b->tail->next = h;
    else
        b->head = h;
    b->tail = h;
    FL_COUNT(&w->ctr, remote_returns, 1);
    if (++b->n == REMOTE_BATCH)
        send_batch(&ws_srv(w->srv)->workers[h->owner], b);
}

/* Sends out this worker's batches for the others. */
static void remote_flush(struct fl_worker *w)
{
    struct ws_worker *ww = ws_of(w);
    for (int i = 0; i < w->srv->nworkers; i++)
        if (ww->outbox[i].n)
            send_batch(&ws_srv(w->srv)->workers[i], &ww->outbox[i]);
}

/* Frees the buffers other workers returned to this one; `w` is this
 * worker, or any once every worker was joined. */
static void remote_drain(struct fl_worker *w)
{
    struct ws_worker *ww = ws_of(w);
    struct fl_buf_hdr *h = atomic_exchange_explicit(&ww->remote_head, NULL, memory_order_acquire);
    while (h) {
        struct fl_buf_hdr *next = h->next;
        FL_COUNT(&w->ctr, buffer_frees, 1);
        free(h);
        h = next;
    }
}

/* --- the table -------------------------------------------------------------- */

static bool ws_before_wait(struct fl_worker *w)
{
    bool owner = w->srv->free_owner;
    if (owner)
        remote_drain(w);
    bool busy = run_tasks(w);
    if (owner)
        remote_flush(w);
    return !busy && park(w);
}

static void ws_worker_exit(struct fl_worker *w)
{
    if (w->srv->free_owner)
        remote_flush(w); /* the owners may have exited: ws_stopped drains */
}

/* Buffers returned after their owner left (none after a partial prepare). */
static void ws_stopped(struct fl_server *srv)
{
    for (int i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].rt)
            remote_drain(&srv->workers[i]);
}

static void ws_destroy(struct fl_server *srv)
{
    struct ws_server *ws = ws_srv(srv);
    if (!ws)
        return;
    for (int i = 0; ws->workers && i < srv->nworkers; i++) {
        struct ws_worker *ww = &ws->workers[i];
        if (ww->deque.slots)
            fl_deque_destroy(&ww->deque);
        if (ww->inbox.ring)
            fl_injector_destroy(&ww->inbox);
        free(ww->pending);
        free(ww->outbox);
        srv->workers[i].rt = NULL;
    }
    if (ws->injector.ring)
        fl_injector_destroy(&ws->injector);
    free(ws->workers);
    free(ws);
    srv->rt_state = NULL;
}

static int prepare_worker(struct fl_server *srv, struct ws_worker *ww)
{
    int rc = fl_deque_init(&ww->deque, FL_DEQUE_DEFAULT_CAP);
    if (!rc)
        rc = fl_injector_init(&ww->inbox, 0);
    ww->pending = calloc((size_t)srv->nworkers, sizeof(*ww->pending));
    ww->outbox = calloc((size_t)srv->nworkers, sizeof(*ww->outbox));
    if (!rc && (!ww->pending || !ww->outbox))
        rc = -ENOMEM;
    return rc;
}

/* The injector, and per worker a deque, an inbox and the batches. */
static int ws_prepare(struct fl_server *srv, char *err, size_t errlen)
{
    size_t n = (size_t)srv->nworkers;
    struct ws_server *ws = calloc(1, sizeof(*ws));
    int rc = -ENOMEM;
    if (ws) {
        srv->rt_state = ws;
        ws->workers = aligned_alloc(64, sizeof(*ws->workers) * n);
        if (ws->workers) {
            memset(ws->workers, 0, sizeof(*ws->workers) * n);
            rc = fl_injector_init(&ws->injector, 0);
        }
    }
    for (int i = 0; i < srv->nworkers && !rc; i++) {
        srv->workers[i].rt = &ws->workers[i];
        rc = prepare_worker(srv, &ws->workers[i]);
    }
    if (rc)
        snprintf(err, errlen, "ws mode: %s", strerror(-rc));
    return rc;
}

const struct fl_runtime_ops fl_ws_ops = {
    .name = "ws",
    .prepare = ws_prepare,
    .dispatch = ws_dispatch,
    .before_wait = ws_before_wait,
    .after_wait = ws_unpark,
    .return_to_owner = ws_return_to_owner,
    .worker_exit = ws_worker_exit,
    .stopped = ws_stopped,
    .destroy = ws_destroy,
    .conns_roam = true,
};
