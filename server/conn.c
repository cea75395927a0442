/* conn.c - a connection without I/O (see conn.h): set-up with its drawn
 * state, received bytes run through the parser (or echoed), sent bytes
 * accounted with the re-feed of pipelined input, deadlines, and the free.
 * Every function answers what the connection wants next; conn_ring.c turns
 * that into the next operation on a ring, the tests check it directly. */
#include "conn.h"

#include <math.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "http.h"
#include "worker.h"

/* Per-connection state size: fixed, uniform or log-uniform between min and
 * max. Log-uniform gives many small sessions and a few large ones. */
static size_t state_size(struct fl_worker *w)
{
    const struct fl_server_config *cfg = &w->srv->cfg;
    uint64_t lo = (uint64_t)cfg->conn_state_min, hi = (uint64_t)cfg->conn_state_max;
    if (cfg->conn_state_dist_kind == FL_STATE_FIXED || lo >= hi)
        return lo;
    double u = (double)(fl__worker_rand(w) >> 11) * 0x1.0p-53;
    if (cfg->conn_state_dist_kind == FL_STATE_UNIFORM)
        return lo + (size_t)(u * (double)(hi - lo));
    return (size_t)exp(log((double)lo) + u * (log((double)hi) - log((double)lo)));
}

/* Records an allocation that failed before a request could be parsed; the
 * next read on an HTTP connection is answered 503 (fl_conn_feed). */
static void refuse(struct fl_conn *c, enum fl_oom kind, uint64_t bytes)
{
    c->refused = (uint8_t)(kind + 1);
    c->refused_bytes = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
}

/* An idle keep-alive connection is this struct and its state: 144 bytes
 * here keep it, with its fl_buf header and malloc's, at 176 of the 256 a
 * connection may cost beyond its state (bench/idle-conns.sh). */
_Static_assert(sizeof(struct fl_conn) <= 144, "struct fl_conn grew: see bench/idle-conns.sh");

struct fl_conn *fl_conn_new(struct fl_worker *w, enum fl_conn_kind kind)
{
    FL_COUNT(&w->ctr, connections_accepted, 1);
    struct fl_conn *c = fl_buf_alloc(w, sizeof(*c));
    if (!c) { /* nothing to answer with: the socket just closes */
        FL_COUNT(&w->ctr, alloc_failures[FL_OOM_conn_state], 1);
        return NULL;
    }
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->kind = (uint8_t)kind;
    c->home = (uint16_t)w->id;
    c->cur = w;
    c->last_worker = (uint16_t)w->id;
    fl_out_reset(w, &c->out);
    fl_holds_init(&c->holds);
    size_t sz = state_size(w);
    c->state = fl_buf_alloc(w, sz);
    if (c->state)
        memset(c->state, 0x5a, sz); /* resident, as a real session's state is */
    else
        refuse(c, FL_OOM_conn_state, sz);
    c->head_deadline = fl_clock_ns() + fl_clock_ms_to_ns(w->srv->cfg.header_timeout);
    FL_COUNT(&w->ctr, connections_open, 1);
    if (c->refused && kind == FL_CONN_ECHO) { /* raw TCP: no way to say why */
        FL_COUNT(&w->ctr, alloc_failures[FL_OOM_conn_state], 1);
        c->closing = true;
    }
    return c;
}

void fl_conn_shut(struct fl_worker *w, struct fl_conn *c)
{
    fl_buf_free(w, c->in);
    c->in = NULL;
    c->in_off = c->in_len = 0;
    fl_out_drop(w, &c->out);
}

void fl_conn_free(struct fl_worker *w, struct fl_conn *c)
{
    fl_conn_shut(w, c);
    fl_http_detach(w, c);
    uint64_t held = fl_holds_release(w, &c->holds, &w->srv->hold_budget, FL_HOLD_CONN);
    FL_COUNT(&w->ctr, held_bytes, -(int64_t)held);
    fl_buf_free(w, c->state);
    FL_COUNT(&w->ctr, connections_open, -1);
    fl_buf_free(w, c);
}

enum fl_conn_next fl_conn_next(struct fl_worker *w, struct fl_conn *c)
{
    if (fl_out_pending(&c->out))
        return FL_CONN_SEND;
    if (c->closing)
        return FL_CONN_CLOSE;
    /* Between requests (not while the first one's head is awaited): no
     * parser held while idle. */
    if (c->http && !c->http->req.active && c->nreq && !c->in)
        fl_http_detach(w, c);
    return FL_CONN_RECV;
}

/* The request is not parsed: its answer is the 503 for what failed, then
 * the close. Input a paused parser left goes with it. */
static void answer_refused(struct fl_worker *w, struct fl_conn *c)
{
    fl_buf_free(w, c->in);
    c->in = NULL;
    c->in_off = c->in_len = 0;
    fl_http_reset(w, c);
    fl_http_unavailable(w, c, (enum fl_oom)(c->refused - 1), c->refused_bytes);
    c->refused = 0;
}

static enum fl_conn_next feed_echo(struct fl_worker *w, struct fl_conn *c, char *data, size_t n)
{
    if (c->refused) { /* raw TCP: no way to say why */
        FL_COUNT(&w->ctr, alloc_failures[c->refused - 1], 1);
        fl_buf_free(w, data);
        c->closing = true;
        return FL_CONN_CLOSE;
    }
    FL_COUNT(&w->ctr, echo_bytes, (int64_t)n);
    if (!fl_out_push(w, &c->out, data, data, n)) { /* the queue is empty between reads */
        fl_buf_free(w, data);
        c->closing = true;
    }
    return fl_conn_next(w, c);
}

enum fl_conn_next fl_conn_feed(struct fl_worker *w, struct fl_conn *c, char *data, size_t n)
{
    c->cur = w; /* the queue grows, and the parser allocates, on this worker */
    FL_COUNT(&w->ctr, bytes_received, (int64_t)n);
    if (!data) /* the worker that reaped it could not copy the bytes out */
        refuse(c, c->kind == FL_CONN_ECHO ? FL_OOM_echo : FL_OOM_input, (uint64_t)n);
    if (c->kind == FL_CONN_ECHO)
        return feed_echo(w, c, data, n);
    if (!c->refused && !fl_http_attach(w, c))
        refuse(c, FL_OOM_conn_state, sizeof(struct fl_http));
    if (c->refused) {
        fl_buf_free(w, data);
        answer_refused(w, c);
        return fl_conn_next(w, c);
    }
    c->in = data;
    c->in_off = 0;
    c->in_len = (uint32_t)n;
    if (!fl_http_feed(w, c))
        c->closing = true;
    return fl_conn_next(w, c);
}

enum fl_conn_next fl_conn_sent(struct fl_worker *w, struct fl_conn *c, size_t n)
{
    c->cur = w;
    FL_COUNT(&w->ctr, bytes_sent, (int64_t)n);
    if (!fl_out_sent(w, &c->out, n))
        return FL_CONN_SEND; /* a short send: the rest */
    /* Input left by a parser paused for the output just sent. */
    if (c->in && !c->closing && !fl_http_feed(w, c))
        c->closing = true;
    return fl_conn_next(w, c);
}

enum fl_conn_next fl_conn_expired(struct fl_worker *w, struct fl_conn *c, enum fl_wait kind)
{
    c->cur = w;
    if (kind == FL_WAIT_IDLE)
        FL_COUNT(&w->ctr, idle_timeouts, 1);
    else if (kind == FL_WAIT_BODY)
        FL_COUNT(&w->ctr, body_timeouts, 1);
    else
        FL_COUNT(&w->ctr, header_timeouts, 1);
    if (!c->http || !c->http->req.active) {
        c->closing = true;
        return FL_CONN_CLOSE;
    }
    /* input left by a paused parser is dropped with the request */
    fl_buf_free(w, c->in);
    c->in = NULL;
    c->in_off = c->in_len = 0;
    fl_http_reset(w, c);
    fl_http_fail(w, c, 408,
                 kind == FL_WAIT_BODY ? "no body bytes within body_timeout"
                                      : "request head not received within header_timeout");
    return fl_conn_next(w, c);
}
