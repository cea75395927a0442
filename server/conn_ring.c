/* conn_ring.c - the connection's driver on a worker's io_uring: each
 * completion becomes one call of conn.c's seam (bytes in, bytes sent, a
 * deadline passed), and what the seam wants next becomes the connection's
 * next single operation, submitted on the ring of the worker running the
 * step (see conn.h for why there is only one). */
#include <errno.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "conn.h"
#include "http.h"
#include "worker.h"

static uint64_t ud(struct fl_conn *c, enum fl_op op)
{
    return (uint64_t)(uintptr_t)c | (uint64_t)op;
}

/* What a receive waits under, and its deadline (CLOCK_MONOTONIC ns; 0:
 * none). */
static uint64_t recv_wait(struct fl_worker *w, struct fl_conn *c, enum fl_wait *kind)
{
    const struct fl_server_config *cfg = &w->srv->cfg;
    bool active = c->http && c->http->req.active;
    if (active && c->http->req.headers_done) {
        *kind = FL_WAIT_BODY;
        return cfg->body_timeout ? w->now + fl_clock_ms_to_ns(cfg->body_timeout) : 0;
    }
    if (c->kind == FL_CONN_HTTP && (active || c->nreq == 0)) {
        *kind = FL_WAIT_HEAD; /* the deadline is absolute: dribbling does not extend it */
        if (!cfg->header_timeout)
            return 0;
        if (!c->head_deadline) /* the head began in the read just parsed */
            c->head_deadline = w->now + fl_clock_ms_to_ns(cfg->header_timeout);
        return c->head_deadline;
    }
    *kind = FL_WAIT_IDLE;
    return cfg->keepalive_timeout ? w->now + fl_clock_ms_to_ns(cfg->keepalive_timeout) : 0;
}

/* Puts the operation just prepared under deadline `at` (0: none) in the
 * worker's wheel; when it passes first, the worker cancels the operation
 * (on_deadline), which completes with -ECANCELED. */
static void arm_deadline(struct fl_worker *w, struct fl_conn *c, uint64_t at, enum fl_wait kind)
{
    c->wait = (uint8_t)(at ? kind : FL_WAIT_NONE);
    if (at)
        fl_wheel_add(&w->wheel, &c->tn, at);
}

void fl_conn_deadline(struct fl_worker *w, struct fl_conn *c)
{
    struct io_uring_sqe *sqe = fl__worker_sqe(w);
    io_uring_prep_cancel64(sqe, ud(c, c->wait == FL_WAIT_SEND ? FL_OP_SEND : FL_OP_RECV), 0);
    io_uring_sqe_set_data64(sqe, FL_UD_IGNORE);
}

static void submit_recv(struct fl_worker *w, struct fl_conn *c)
{
    enum fl_wait kind;
    uint64_t at = recv_wait(w, c, &kind);
    struct io_uring_sqe *sqe = fl__worker_sqe(w);
    io_uring_prep_recv(sqe, c->fd, NULL, FL_RBUF_SIZE, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = FL_RBUF_GROUP;
    io_uring_sqe_set_data64(sqe, ud(c, FL_OP_RECV));
    arm_deadline(w, c, at, kind);
}

static void submit_send(struct fl_worker *w, struct fl_conn *c)
{
    /* writev, not sendmsg: no msghdr to keep in every connection (SIGPIPE is
     * ignored, so MSG_NOSIGNAL is not missed). */
    struct io_uring_sqe *sqe = fl__worker_sqe(w);
    const struct fl_outq *q = c->out.q;
    io_uring_prep_writev(sqe, c->fd, q->iov + q->head, q->n - q->head, 0);
    io_uring_sqe_set_data64(sqe, ud(c, FL_OP_SEND));
    unsigned ms = w->srv->cfg.send_timeout;
    arm_deadline(w, c, ms ? w->now + fl_clock_ms_to_ns(ms) : 0, FL_WAIT_SEND);
}

static void submit_close(struct fl_worker *w, struct fl_conn *c)
{
    struct io_uring_sqe *sqe = fl__worker_sqe(w);
    io_uring_prep_close(sqe, c->fd);
    io_uring_sqe_set_data64(sqe, ud(c, FL_OP_CLOSE));
}

static void begin_close(struct fl_worker *w, struct fl_conn *c)
{
    fl_conn_shut(w, c);
    submit_close(w, c);
}

static bool stopping(const struct fl_worker *w)
{
    return atomic_load_explicit(&w->srv->stopping, memory_order_relaxed);
}

/* Submits what the connection wants next. Once the server stops, a
 * connection submits nothing but its close: the worker cancelled
 * everything in flight once, and a new operation would not be cancelled
 * (a slow reader would hold SIGTERM up forever). */
static void submit_next(struct fl_worker *w, struct fl_conn *c, enum fl_conn_next next)
{
    if (stopping(w) || next == FL_CONN_CLOSE)
        begin_close(w, c);
    else if (next == FL_CONN_SEND)
        submit_send(w, c);
    else
        submit_recv(w, c);
}

void fl_conn_open(struct fl_worker *w, int fd, enum fl_conn_kind kind)
{
    struct fl_conn *c = fl_conn_new(w, kind);
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    atomic_fetch_add(&w->nconns, 1);
    submit_next(w, c, fl_conn_next(w, c));
}

static void on_recv(struct fl_worker *w, struct fl_conn *c, int res)
{
    if (res == -ENOBUFS) { /* every receive buffer in use: try again */
        FL_COUNT(&w->ctr, recv_nobufs, 1);
        submit_recv(w, c);
        return;
    }
    if (res == -ECANCELED && c->wait != FL_WAIT_NONE && !stopping(w)) {
        submit_next(w, c, fl_conn_expired(w, c, (enum fl_wait)c->wait));
        return;
    }
    if (res <= 0 || stopping(w)) {
        if (res == -ECONNRESET || res == -EPIPE || res == -ETIMEDOUT)
            FL_COUNT(&w->ctr, peer_errors, 1);
        fl_buf_free(w, c->ev_data);
        begin_close(w, c);
        return;
    }
    submit_next(w, c, fl_conn_feed(w, c, c->ev_data, (size_t)res));
}

static void on_sent(struct fl_worker *w, struct fl_conn *c, int res)
{
    if (res < 0) {
        if (res == -ECANCELED && c->wait == FL_WAIT_SEND && !stopping(w))
            FL_COUNT(&w->ctr, send_timeouts, 1); /* the peer stopped reading */
        else if (res != -ECANCELED)
            FL_COUNT(&w->ctr, peer_errors, 1);
        begin_close(w, c);
        return;
    }
    submit_next(w, c, fl_conn_sent(w, c, (size_t)res));
}

/* The close completed: the connection goes, and a stopping worker that
 * sleeps until the connections it waits for are gone is woken. */
static void on_closed(struct fl_worker *w, struct fl_conn *c)
{
    struct fl_worker *home = &w->srv->workers[c->home];
    fl_conn_free(w, c);
    if (atomic_fetch_sub(&home->nconns, 1) == 1 && atomic_load(&w->srv->stopping))
        for (int i = 0; i < w->srv->nworkers; i++)
            fl_worker_wake(&w->srv->workers[i]);
}

void fl_conn_run(struct fl_worker *w, struct fl_conn *c)
{
    c->cur = w; /* the queue grows, and the parser allocates, on this worker */
    if (c->last_worker != w->id) {
        FL_COUNT(&w->ctr, task_migrations, 1);
        c->last_worker = (uint16_t)w->id;
    }
    switch (c->ev_op) {
    case FL_OP_RECV:
        on_recv(w, c, c->ev_res);
        break;
    case FL_OP_SEND:
        on_sent(w, c, c->ev_res);
        break;
    case FL_OP_CLOSE:
        on_closed(w, c);
        break;
    }
}
