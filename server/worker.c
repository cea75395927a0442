/* worker.c - a worker's io_uring: setup, the event loop, accepting, and
 * turning completions into connection steps. Nothing here blocks: sockets
 * are accepted, read, written and closed through the ring, and the loop's
 * only wait is io_uring_submit_and_wait. */
#include "worker.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "conn.h"
#include "http.h"
#include "out.h"
#include "rand.h"
#include "runtime.h"

static int ring_setup(struct fl_worker *w)
{
    /* Every connection has one operation in flight; the CQ must hold a
     * completion for each of them plus the multishot accepts', or the
     * kernel has to buffer overflowed completions. */
    unsigned entries = (unsigned)w->srv->cfg.ring_entries;
    /* Each connection has one operation in flight, and at its deadline the
     * cancel of it: two completions at most. */
    uint64_t want = 2 * (uint64_t)w->srv->cfg.max_conns + 64, cq = entries * 8u;
    while (cq < want && cq < 65536)
        cq *= 2;
    return fl_uring_init(&w->ring, entries, (unsigned)cq);
}

int fl_worker_init(struct fl_worker *w, struct fl_server *srv, int id, struct fl_start_error *e)
{
    w->srv = srv;
    w->id = id;
    w->rng = (uint64_t)srv->cfg.seed * 0x9E3779B97F4A7C15ull + (uint64_t)id + 1;
    w->now = fl_clock_ns();
    fl_wheel_init(&w->wheel, w->now);
    int rc = ring_setup(w);
    if (rc) {
        e->stage = FL_START_URING;
        snprintf(e->msg, sizeof(e->msg), "worker %d: io_uring_queue_init: %s", id, strerror(-rc));
        return rc;
    }
    const char *what = "io_uring_register_buf_ring";
    /* Receive buffers come from mmap, not malloc, so they never show in
     * the allocator's figures: only the experiment's buffers do. */
    rc = fl_bufring_init(&w->rbufs, &w->ring, FL_RBUF_COUNT, FL_RBUF_SIZE, FL_RBUF_GROUP);
    if (rc)
        goto fail_ring;
    w->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (w->wake_fd < 0) {
        rc = -errno;
        what = "eventfd";
        goto fail_ring;
    }
    return 0;

fail_ring: /* as fl_worker_destroy: the ring first, then its buffers (none yet is fine) */
    io_uring_queue_exit(&w->ring);
    fl_bufring_destroy(&w->rbufs);
    e->stage = FL_START_WORKER;
    snprintf(e->msg, sizeof(e->msg), "worker %d: %s: %s", id, what, strerror(-rc));
    return rc;
}

void fl_worker_destroy(struct fl_worker *w)
{
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    io_uring_queue_exit(&w->ring);
    fl_bufring_destroy(&w->rbufs);
    fl_http_cache_free(w);
    fl_out_cache_free(w);
}

struct io_uring_sqe *fl__worker_sqe(struct fl_worker *w)
{
    return fl_uring_sqe(&w->ring);
}

/* Hands receive buffer `bid` back to the kernel (this worker's thread only). */
static void worker_recycle(struct fl_worker *w, unsigned bid)
{
    fl_bufring_recycle(&w->rbufs, bid);
}

uint64_t fl__worker_rand(struct fl_worker *w)
{
    return fl_rand_next(&w->rng);
}

void fl_worker_wake(struct fl_worker *w)
{
    uint64_t one = 1;
    if (write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        perror("fraglab-server: write(eventfd)");
}

static void arm_accept(struct fl_worker *w, int fd, uint64_t ud)
{
    struct io_uring_sqe *sqe = fl__worker_sqe(w);
    io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ud);
}

static void arm_wake(struct fl_worker *w)
{
    struct io_uring_sqe *sqe = fl__worker_sqe(w);
    io_uring_prep_read(sqe, w->wake_fd, &w->wake_val, sizeof(w->wake_val), 0);
    io_uring_sqe_set_data64(sqe, FL_UD_WAKE);
}

/* Out of descriptors or memory (EMFILE, ENFILE, ENOMEM, ENOBUFS): another
 * accept now would fail the same way and spin, so accepting pauses for
 * 100 ms while the connections in the backlog wait; open ones closing frees
 * what is missing. One warning per worker every 10 s. */
static void pause_accept(struct fl_worker *w, uint64_t ud, int err)
{
    FL_COUNT(&w->ctr, accept_errors, 1);
    uint64_t now = fl_clock_ns();
    if (!w->accept_warned || now - w->accept_warned > 10000000000ull) {
        w->accept_warned = now;
        fprintf(stderr,
                "fraglab-server: worker %d: accept: %s; pausing accepts for 100 ms "
                "(raise `ulimit -n` or lower max_conns)\n",
                w->id, strerror(err));
    }
    w->accept_pause.tv_sec = 0;
    w->accept_pause.tv_nsec = 100000000;
    struct io_uring_sqe *sqe = fl__worker_sqe(w);
    io_uring_prep_timeout(sqe, &w->accept_pause, 0, 0);
    io_uring_sqe_set_data64(sqe, ud == FL_UD_ACCEPT ? FL_UD_RETRY_ACCEPT : FL_UD_RETRY_ECHO_ACCEPT);
}

static bool out_of_resources(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOMEM || err == ENOBUFS;
}

static void on_accept(struct fl_worker *w, struct io_uring_cqe *cqe, int fd, uint64_t ud)
{
    bool stopping = atomic_load(&w->srv->stopping);
    if (cqe->res >= 0) {
        if (stopping) {
            close(cqe->res);
        } else if (atomic_load_explicit(&w->nconns, memory_order_relaxed) >=
                   w->srv->cfg.max_conns) {
            FL_COUNT(&w->ctr, connections_refused, 1);
            close(cqe->res);
        } else {
            fl_conn_open(w, cqe->res, ud == FL_UD_ACCEPT ? FL_CONN_HTTP : FL_CONN_ECHO);
        }
    } else if (out_of_resources(-cqe->res) && !stopping) {
        if (!(cqe->flags & IORING_CQE_F_MORE)) {
            pause_accept(w, ud, -cqe->res);
            return;
        }
        FL_COUNT(&w->ctr, accept_errors, 1);
    } else if (cqe->res != -ECANCELED && cqe->res != -EAGAIN && cqe->res != -ECONNABORTED) {
        fprintf(stderr, "fraglab-server: worker %d: accept: %s\n", w->id, strerror(-cqe->res));
    }
    /* A multishot accept ends on errors; re-arm it. */
    if (!(cqe->flags & IORING_CQE_F_MORE) && !stopping)
        arm_accept(w, fd, ud);
}

/* Turns a connection's completion into a step: received bytes are copied
 * out of the buffer ring at once (the ring belongs to this thread) into a
 * buffer of the read's size, then the runtime decides where the step runs. */
static void on_conn_cqe(struct fl_worker *w, struct io_uring_cqe *cqe)
{
    struct fl_conn *c = (struct fl_conn *)(uintptr_t)(cqe->user_data & ~FL_OP_MASK);
    int op = (int)(cqe->user_data & FL_OP_MASK);
    c->ev_op = (uint8_t)op;
    c->ev_res = cqe->res;
    c->ev_data = NULL;
    fl_wheel_del(&w->wheel, &c->tn); /* it was armed on this ring, hence this wheel */
    if (op == FL_OP_RECV && (cqe->flags & IORING_CQE_F_BUFFER)) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        /* A failed copy leaves ev_data NULL with res > 0: the step answers
         * 503 (conn.c); the ring buffer goes back to the kernel either way. */
        if (cqe->res > 0 && (c->ev_data = fl_buf_alloc(w, (size_t)cqe->res)))
            memcpy(c->ev_data, fl_bufring_data(&w->rbufs, bid), (size_t)cqe->res);
        worker_recycle(w, bid);
    }
    w->srv->rt->dispatch(w, c);
}

static void handle(struct fl_worker *w, struct io_uring_cqe *cqe)
{
    uint64_t ud = cqe->user_data;
    if (ud == FL_UD_ACCEPT)
        on_accept(w, cqe, w->listen_fd, ud);
    else if (ud == FL_UD_ECHO_ACCEPT)
        on_accept(w, cqe, w->echo_fd, ud);
    else if (ud == FL_UD_RETRY_ACCEPT || ud == FL_UD_RETRY_ECHO_ACCEPT) {
        if (!atomic_load(&w->srv->stopping)) /* a cancelled pause ends with the server */
            arm_accept(w, ud == FL_UD_RETRY_ACCEPT ? w->listen_fd : w->echo_fd,
                       ud == FL_UD_RETRY_ACCEPT ? FL_UD_ACCEPT : FL_UD_ECHO_ACCEPT);
    } else if (ud == FL_UD_WAKE)
        arm_wake(w); /* also while stopping: a ws worker waits for others' frees */
    else if (ud != FL_UD_IGNORE)
        on_conn_cqe(w, cqe);
}

/* A connection's deadline passed: its operation is cancelled. */
static void on_deadline(struct fl_tnode *n, void *arg)
{
    fl_conn_deadline(arg, (struct fl_conn *)((char *)n - offsetof(struct fl_conn, tn)));
}

/* Stop: cancel the accepts and every operation in flight on this ring; the
 * connections see -ECANCELED, close and free themselves. */
static void begin_stop(struct fl_worker *w)
{
    struct io_uring_sqe *sqe = fl__worker_sqe(w);
    io_uring_prep_cancel(sqe, NULL, IORING_ASYNC_CANCEL_ANY);
    io_uring_sqe_set_data64(sqe, FL_UD_IGNORE);
}

/* Every 100 ms: mimalloc's allocated figure is per thread (fl_alloc.h). */
static void sample_allocator(struct timespec *last)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    if ((now.tv_sec - last->tv_sec) * 1000000000L + (now.tv_nsec - last->tv_nsec) > 100000000L) {
        fl_alloc_sample_thread();
        *last = now;
    }
}

/* This worker's own connections are gone; or everyone's, when connections
 * roam (ws), since one accepted anywhere may have its close in flight on
 * this ring. */
static bool may_exit(struct fl_worker *w)
{
    if (!w->srv->rt->conns_roam)
        return atomic_load(&w->nconns) == 0;
    for (int i = 0; i < w->srv->nworkers; i++)
        if (atomic_load(&w->srv->workers[i].nconns))
            return false;
    return true;
}

/* Submits what is queued and, unless the runtime has more work ready,
 * sleeps until a completion arrives or the wheel's next busy tick ends.
 * DEFER_TASKRUN runs completion work only when asked for events, hence
 * submit_and_get_events when not sleeping. */
static void submit_and_wait(struct fl_worker *w)
{
    const struct fl_runtime_ops *rt = w->srv->rt;
    int rc;
    if (rt->before_wait && !rt->before_wait(w)) {
        rc = io_uring_submit_and_get_events(&w->ring);
    } else {
        uint64_t ns = fl_wheel_next(&w->wheel, w->now);
        if (ns == UINT64_MAX) {
            rc = io_uring_submit_and_wait(&w->ring, 1);
        } else {
            struct __kernel_timespec ts = {.tv_sec = (long long)(ns / 1000000000u),
                                           .tv_nsec = (long long)(ns % 1000000000u)};
            struct io_uring_cqe *cqe;
            rc = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
            if (rc == -ETIME)
                rc = 0;
        }
        if (rt->after_wait)
            rt->after_wait(w);
    }
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
        fprintf(stderr, "fraglab-server: worker %d: io_uring_enter: %s\n", w->id, strerror(-rc));
        abort();
    }
}

/* Completions the CQ had no room for: the kernel keeps them (NODROP) and
 * hands them over later, but a CQ that overflows is too small. Counted,
 * and said once. */
static void check_overflow(struct fl_worker *w)
{
    unsigned over = IO_URING_READ_ONCE(*w->ring.cq.koverflow);
    if (over == w->cq_overflow_seen)
        return;
    if (!w->cq_overflow_seen)
        fprintf(stderr,
                "fraglab-server: worker %d: completion queue overflowed (%u CQ entries); "
                "completions are delayed, not lost\n",
                w->id, w->ring.cq.ring_entries);
    FL_COUNT(&w->ctr, cq_overflows, (int64_t)(over - w->cq_overflow_seen));
    w->cq_overflow_seen = over;
}

void fl_worker_run(struct fl_worker *w)
{
    arm_accept(w, w->listen_fd, FL_UD_ACCEPT);
    if (w->echo_fd >= 0)
        arm_accept(w, w->echo_fd, FL_UD_ECHO_ACCEPT);
    arm_wake(w);
    bool stop_begun = false;
    struct timespec last_sample = {0, 0};
    for (;;) {
        if (!stop_begun && atomic_load(&w->srv->stopping)) {
            begin_stop(w);
            stop_begun = true;
        }
        if (stop_begun && may_exit(w))
            break;
        submit_and_wait(w);
        unsigned head, n = 0;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(&w->ring, head, cqe)
        {
            handle(w, cqe);
            n++;
        }
        io_uring_cq_advance(&w->ring, n);
        w->now = fl_clock_ns();
        fl_wheel_expire(&w->wheel, w->now, on_deadline, w);
        check_overflow(w);
        sample_allocator(&last_sample);
        fl__worker_release_check(w);
    }
    if (w->srv->rt->worker_exit)
        w->srv->rt->worker_exit(w);
    fl_alloc_sample_thread();
}

/* --- /admin/release ------------------------------------------------------- */

/* How long /admin/release waits for the other workers to flush: a worker
 * reaches its check within one loop turn once woken, so only a stuck one
 * runs into it, and that must not hang the request. */
#define RELEASE_WAIT_NS 3000000000ull

void fl__worker_release_check(struct fl_worker *w)
{
    unsigned gen = atomic_load_explicit(&w->srv->release_gen, memory_order_acquire);
    if (gen == w->release_seen)
        return;
    w->release_seen = gen;
    fl_alloc_release_thread();
    atomic_store_explicit(&w->release_done, gen, memory_order_release);
}

/* The other workers that flushed for generation `gen` or a later one. */
static int flushed_since(struct fl_worker *w, unsigned gen)
{
    int n = 0;
    for (int i = 0; i < w->srv->nworkers; i++) {
        struct fl_worker *o = &w->srv->workers[i];
        unsigned done = atomic_load_explicit(&o->release_done, memory_order_acquire);
        n += o != w && (int)(done - gen) >= 0; /* wrap-safe: gen only grows */
    }
    return n;
}

/* The caller's ring is not served meanwhile, but the others' are: each
 * flushes on its own thread. Two workers in /admin/release at once answer
 * each other's generation here, so neither waits for the other in vain. */
int fl_worker_release_all(struct fl_worker *w)
{
    struct fl_server *srv = w->srv;
    unsigned gen = atomic_fetch_add(&srv->release_gen, 1) + 1;
    fl__worker_release_check(w);
    for (int i = 0; i < srv->nworkers; i++)
        if (&srv->workers[i] != w)
            fl_worker_wake(&srv->workers[i]);
    uint64_t deadline = fl_clock_ns() + RELEASE_WAIT_NS;
    int others = 0;
    while ((others = flushed_since(w, gen)) < srv->nworkers - 1 && !atomic_load(&srv->stopping) &&
           fl_clock_ns() < deadline) {
        struct timespec nap = {0, 50000};
        nanosleep(&nap, NULL);
        fl__worker_release_check(w);
    }
    /* Process-wide last, so what the threads gave back is returned too. */
    fl_alloc_release();
    return 1 + others;
}
