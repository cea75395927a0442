/* conn.c - a connection's life: open, receive, send, close, free. Each step
 * submits the connection's next single operation on the ring of the worker
 * running the step (see conn.h for why there is only one). */
#include "conn.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "workload.h"
#include "worker.h"

static uint64_t ud(struct fl_conn *c, enum fl_op op)
{
    return (uint64_t)(uintptr_t)c | (uint64_t)op;
}

uint64_t fl__now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* What a receive waits under, and for how long (ns; 0: no deadline). */
static uint64_t recv_wait(struct fl_worker *w, struct fl_conn *c, enum fl_wait *kind)
{
    const struct fl_server_config *cfg = &w->srv->cfg;
    uint64_t ms = 0;
    bool active = c->http && c->http->req.active;
    if (active && c->http->req.headers_done) {
        *kind = FL_WAIT_BODY;
        ms = (uint64_t)cfg->body_timeout;
    } else if (c->kind == FL_CONN_HTTP && (active || c->nreq == 0)) {
        *kind = FL_WAIT_HEAD; /* the deadline is absolute: dribbling does not extend it */
        if (!cfg->header_timeout)
            return 0;
        uint64_t now = fl__now_ns();
        if (!c->head_deadline) /* the head began in the read just parsed */
            c->head_deadline = now + (uint64_t)cfg->header_timeout * 1000000u;
        return c->head_deadline > now ? c->head_deadline - now : 1;
    } else {
        *kind = FL_WAIT_IDLE;
        ms = (uint64_t)cfg->keepalive_timeout;
    }
    return ms * 1000000u;
}

/* Links a timeout of `ns` to the SQE just prepared (the pair was reserved
 * together, so no submit splits it); its own completion is ignored. When it
 * fires first, the operation completes with -ECANCELED. */
static void link_timeout(struct fl_worker *w, struct fl_conn *c, struct io_uring_sqe *sqe,
                         uint64_t ns, enum fl_wait kind)
{
    c->wait = (uint8_t)(ns ? kind : FL_WAIT_NONE);
    if (!ns)
        return;
    sqe->flags |= IOSQE_IO_LINK;
    c->timeout.tv_sec = (long long)(ns / 1000000000u);
    c->timeout.tv_nsec = (long long)(ns % 1000000000u);
    struct io_uring_sqe *t = fl__worker_sqe(w);
    io_uring_prep_link_timeout(t, &c->timeout, 0);
    io_uring_sqe_set_data64(t, FL_UD_IGNORE);
}

static void submit_recv(struct fl_worker *w, struct fl_conn *c)
{
    enum fl_wait kind;
    uint64_t ns = recv_wait(w, c, &kind);
    if (kind == FL_WAIT_IDLE && !c->in)
        fl_http_detach(w, c); /* between requests: no parser held */
    fl__worker_reserve(w, 2);
    struct io_uring_sqe *sqe = fl__worker_sqe(w);
    io_uring_prep_recv(sqe, c->fd, NULL, FL_RBUF_SIZE, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = FL_RBUF_GROUP;
    io_uring_sqe_set_data64(sqe, ud(c, FL_OP_RECV));
    link_timeout(w, c, sqe, ns, kind);
}

static void submit_send(struct fl_worker *w, struct fl_conn *c)
{
    /* writev, not sendmsg: no msghdr to keep in every connection (SIGPIPE is
     * ignored, so MSG_NOSIGNAL is not missed). */
    fl__worker_reserve(w, 2);
    struct io_uring_sqe *sqe = fl__worker_sqe(w);
    io_uring_prep_writev(sqe, c->fd, c->out + c->out_head, c->out_n - c->out_head, 0);
    io_uring_sqe_set_data64(sqe, ud(c, FL_OP_SEND));
    link_timeout(w, c, sqe, (uint64_t)w->srv->cfg.send_timeout * 1000000u, FL_WAIT_SEND);
}

static void submit_close(struct fl_worker *w, struct fl_conn *c)
{
    struct io_uring_sqe *sqe = fl__worker_sqe(w);
    io_uring_prep_close(sqe, c->fd);
    io_uring_sqe_set_data64(sqe, ud(c, FL_OP_CLOSE));
}

/* Per-connection state size: fixed, uniform or log-uniform between min and
 * max. Log-uniform gives many small sessions and a few large ones. */
static size_t state_size(struct fl_worker *w)
{
    const struct fl_server_config *cfg = &w->srv->cfg;
    uint64_t lo = (uint64_t)cfg->conn_state_min, hi = (uint64_t)cfg->conn_state_max;
    if (cfg->conn_state_dist[0] == 'f' || lo >= hi) /* fixed (validated by config.c) */
        return lo;
    double u = (double)(fl__worker_rand(w) >> 11) * 0x1.0p-53;
    if (cfg->conn_state_dist[0] == 'u') /* uniform */
        return lo + (size_t)(u * (double)(hi - lo));
    return (size_t)exp(log((double)lo) + u * (log((double)hi) - log((double)lo)));
}

/* Records an allocation that failed before a request could be parsed; the
 * next read on an HTTP connection is answered 503 (on_recv). */
static void refuse(struct fl_conn *c, enum fl_oom kind, uint64_t bytes)
{
    c->refused = (uint8_t)(kind + 1);
    c->refused_bytes = bytes;
}

void fl_conn_open(struct fl_worker *w, int fd, enum fl_conn_kind kind)
{
    struct fl_conn *c = fl_buf_alloc(w, sizeof(*c));
    if (!c) { /* nothing to answer with: the socket just closes */
        FL_COUNT(&w->ctr, alloc_failures[FL_OOM_conn_state], 1);
        FL_COUNT(&w->ctr, connections_accepted, 1);
        close(fd);
        return;
    }
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->kind = kind;
    c->home = w;
    c->cur = w;
    fl__conn_out_reset(w, c);
    c->last_worker = w->id;
    size_t sz = state_size(w);
    c->state = fl_buf_alloc(w, sz);
    if (c->state)
        memset(c->state, 0x5a, sz); /* resident, as a real session's state is */
    else
        refuse(c, FL_OOM_conn_state, sz);
    c->next_expiry = FL_HOLD_CONN;
    c->head_deadline = fl__now_ns() + (uint64_t)w->srv->cfg.header_timeout * 1000000u;
    atomic_fetch_add(&w->nconns, 1);
    FL_COUNT(&w->ctr, connections_accepted, 1);
    FL_COUNT(&w->ctr, connections_open, 1);
    if (c->refused && kind == FL_CONN_ECHO) { /* raw TCP: no way to say why */
        FL_COUNT(&w->ctr, alloc_failures[FL_OOM_conn_state], 1);
        submit_close(w, c);
        return;
    }
    submit_recv(w, c);
}

void fl__conn_out_reset(struct fl_worker *w, struct fl_conn *c)
{
    if (c->outq)
        fl_buf_free(w, c->outq);
    c->outq = NULL;
    c->out = c->out_inl;
    c->out_buf = c->out_buf_inl;
    c->out_cap = FL_OUT_INLINE;
    c->out_head = c->out_n = 0;
    c->out_bytes = 0;
}

bool fl__conn_queue(struct fl_conn *c, void *buf, const void *data, size_t len)
{
    if (c->out_n == c->out_cap) {
        if (c->outq)
            return false; /* FL_OUT_MAX: the parser pauses before this */
        struct fl_outq *q = fl_buf_alloc(c->cur, sizeof(*q));
        if (!q) {
            FL_COUNT(&c->cur->ctr, alloc_failures[FL_OOM_response], 1);
            return false;
        }
        memcpy(q->iov, c->out, c->out_n * sizeof(*c->out));
        memcpy(q->buf, c->out_buf, c->out_n * sizeof(*c->out_buf));
        c->outq = q;
        c->out = q->iov;
        c->out_buf = q->buf;
        c->out_cap = FL_OUT_MAX;
    }
    c->out[c->out_n].iov_base = (void *)data;
    c->out[c->out_n].iov_len = len;
    c->out_buf[c->out_n] = buf;
    c->out_n++;
    c->out_bytes += len;
    return true;
}

void fl__conn_drop_holds(struct fl_worker *w, struct fl_conn *c, bool all)
{
    uint64_t next = FL_HOLD_CONN;
    for (struct fl_hold **pp = &c->holds; *pp;) {
        struct fl_hold *h = *pp;
        if (all || h->expires <= c->nreq) {
            *pp = h->next;
            c->hold_bytes -= h->bytes;
            FL_COUNT(&w->ctr, held_bytes, -(int64_t)h->bytes);
            fl_buf_free(w, h);
        } else {
            if (h->expires < next)
                next = h->expires;
            pp = &h->next;
        }
    }
    c->next_expiry = next;
}

static void drop_output(struct fl_worker *w, struct fl_conn *c)
{
    for (uint32_t i = c->out_head; i < c->out_n; i++)
        fl_buf_free(w, c->out_buf[i]);
    fl__conn_out_reset(w, c);
}

static void begin_close(struct fl_worker *w, struct fl_conn *c)
{
    fl_buf_free(w, c->in);
    c->in = NULL;
    drop_output(w, c);
    submit_close(w, c);
}

static void free_conn(struct fl_worker *w, struct fl_conn *c)
{
    fl_http_detach(w, c);
    fl__conn_drop_holds(w, c, true);
    fl_buf_free(w, c->state);
    FL_COUNT(&w->ctr, connections_open, -1);
    struct fl_worker *home = c->home;
    fl_buf_free(w, c);
    /* A stopping worker sleeps until the connections it waits for are gone. */
    if (atomic_fetch_sub(&home->nconns, 1) == 1 && atomic_load(&w->srv->stopping))
        for (int i = 0; i < w->srv->nworkers; i++)
            fl_worker_wake(&w->srv->workers[i]);
}

/* After input was consumed or output drained: send, receive more, or close. */
static bool stopping(const struct fl_worker *w)
{
    return atomic_load_explicit(&w->srv->stopping, memory_order_relaxed);
}

/* After input was consumed or output drained: send, receive more, or close.
 * Once the server stops, a connection submits nothing but its close: the
 * worker cancelled everything in flight once, and a new operation would
 * not be cancelled (a slow reader would hold SIGTERM up forever). */
static void next_op(struct fl_worker *w, struct fl_conn *c)
{
    if (stopping(w))
        begin_close(w, c);
    else if (c->out_head < c->out_n)
        submit_send(w, c);
    else if (c->closing)
        begin_close(w, c);
    else
        submit_recv(w, c);
}

/* The deadline linked to a receive passed. A request under way gets 408;
 * an idle connection (or a new one that never sent a byte) just closes. */
static void on_recv_timeout(struct fl_worker *w, struct fl_conn *c)
{
    if (c->wait == FL_WAIT_IDLE)
        FL_COUNT(&w->ctr, idle_timeouts, 1);
    else if (c->wait == FL_WAIT_BODY)
        FL_COUNT(&w->ctr, body_timeouts, 1);
    else
        FL_COUNT(&w->ctr, header_timeouts, 1);
    if (c->http && c->http->req.active) {
        bool body = c->wait == FL_WAIT_BODY;
        fl_buf_free(w, c->in); /* input left by a paused parser is dropped with the request */
        c->in = NULL;
        c->in_off = c->in_len = 0;
        fl_http_reset(w, c);
        fl_http_fail(w, c, 408,
                     body ? "no body bytes within body_timeout"
                          : "request head not received within header_timeout");
        next_op(w, c);
        return;
    }
    begin_close(w, c);
}

static void on_recv(struct fl_worker *w, struct fl_conn *c, int res)
{
    if (res == -ENOBUFS) { /* every receive buffer in use: try again */
        FL_COUNT(&w->ctr, recv_nobufs, 1);
        submit_recv(w, c);
        return;
    }
    if (res == -ECANCELED && c->wait != FL_WAIT_NONE && !stopping(w)) {
        on_recv_timeout(w, c);
        return;
    }
    if (res <= 0 || stopping(w)) {
        if (res == -ECONNRESET || res == -EPIPE || res == -ETIMEDOUT)
            FL_COUNT(&w->ctr, peer_errors, 1);
        fl_buf_free(w, c->ev_data);
        begin_close(w, c);
        return;
    }
    FL_COUNT(&w->ctr, bytes_received, res);
    if (!c->ev_data) /* the worker that reaped it could not copy the bytes out */
        refuse(c, c->kind == FL_CONN_ECHO ? FL_OOM_echo : FL_OOM_input, (uint64_t)res);
    if (c->kind == FL_CONN_ECHO) {
        if (c->refused) { /* raw TCP: no way to say why */
            FL_COUNT(&w->ctr, alloc_failures[c->refused - 1], 1);
            begin_close(w, c);
            return;
        }
        FL_COUNT(&w->ctr, echo_bytes, res);
        fl__conn_queue(c, c->ev_data, c->ev_data, (size_t)res);
        submit_send(w, c);
        return;
    }
    if (!c->refused && !fl_http_attach(w, c))
        refuse(c, FL_OOM_conn_state, sizeof(struct fl_http));
    if (c->refused) {
        /* The request is not parsed: its answer is the 503, then the close.
         * Input a paused parser left goes with it. */
        fl_buf_free(w, c->ev_data);
        fl_buf_free(w, c->in);
        c->in = NULL;
        c->in_off = c->in_len = 0;
        fl_http_reset(w, c);
        fl_http_unavailable(w, c, (enum fl_oom)(c->refused - 1), c->refused_bytes);
        c->refused = 0;
        next_op(w, c);
        return;
    }
    c->in = c->ev_data;
    c->in_off = 0;
    c->in_len = (uint32_t)res;
    if (!fl_http_feed(w, c))
        c->closing = true;
    next_op(w, c);
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
    FL_COUNT(&w->ctr, bytes_sent, res);
    size_t left = (size_t)res;
    c->out_bytes -= left;
    while (c->out_head < c->out_n && left >= c->out[c->out_head].iov_len) {
        left -= c->out[c->out_head].iov_len;
        fl_buf_free(w, c->out_buf[c->out_head]);
        c->out_head++;
    }
    if (c->out_head < c->out_n) { /* short send: the rest of this piece, then the others */
        c->out[c->out_head].iov_base = (char *)c->out[c->out_head].iov_base + left;
        c->out[c->out_head].iov_len -= left;
        next_op(w, c);
        return;
    }
    fl__conn_out_reset(w, c);
    if (c->in && !c->closing && !fl_http_feed(w, c)) /* input left by a paused parser */
        c->closing = true;
    next_op(w, c);
}

void fl_conn_run(struct fl_worker *w, struct fl_conn *c)
{
    c->cur = w; /* the queue grows, and the parser allocates, on this worker */
    if (c->last_worker != w->id) {
        FL_COUNT(&w->ctr, task_migrations, 1);
        c->last_worker = w->id;
    }
    switch (c->ev_op) {
    case FL_OP_RECV:
        on_recv(w, c, c->ev_res);
        break;
    case FL_OP_SEND:
        on_sent(w, c, c->ev_res);
        break;
    case FL_OP_CLOSE:
        free_conn(w, c);
        break;
    }
}
