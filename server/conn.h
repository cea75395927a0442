/* conn.h - a connection: its state, its pending completion and its steps.
 *
 * A connection has exactly one operation in flight (recv, send or close), so
 * at most one completion of it exists at any time, stored in the connection
 * itself until a worker runs it. That makes a connection's step a task that
 * any worker may run (ws mode) without locks: whoever holds the completion
 * owns the connection until it submits the next operation.
 *
 * Two halves. conn.c is the connection without I/O: bytes in (fl_conn_feed),
 * bytes out (fl_conn_sent), a deadline passed (fl_conn_expired), each
 * answering what the connection wants next. conn_ring.c is the driver that
 * turns completions into those calls and their answers into the next
 * operation on the worker's io_uring (fl_conn_open, fl_conn_run). The fuzzer
 * and tests/server/test_conn.c drive the same calls without a ring. */
#ifndef FL_SERVER_CONN_H
#define FL_SERVER_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "counters.h"
#include "out.h"
#include "wheel.h"
#include "workload.h"

struct fl_http;
struct fl_worker;

enum fl_conn_kind { FL_CONN_HTTP, FL_CONN_ECHO };

/* The deadline of a connection's operation in flight. */
enum fl_wait {
    FL_WAIT_NONE,
    FL_WAIT_IDLE, /* between requests (echo: between reads): keepalive_timeout */
    FL_WAIT_HEAD, /* a request head coming in: header_timeout from its start */
    FL_WAIT_BODY, /* between reads of a body: body_timeout */
    FL_WAIT_SEND, /* one send: send_timeout */
};

/* What a connection wants after a step of conn.c. */
enum fl_conn_next {
    FL_CONN_RECV,  /* more input: nothing to send, nothing left to parse */
    FL_CONN_SEND,  /* queued output: c->out, pieces [head, n) */
    FL_CONN_CLOSE, /* close: nothing is left to send */
};

struct fl_conn {
    /* Laid out small: an idle keep-alive connection is this, its state and
     * nothing else (bench/idle-conns.sh). */
    char *ev_data;        /* received bytes copied out of the buffer ring (fl_buf) */
    int ev_res;           /* the pending completion, set by the worker that reaped it */
    int fd;               /* -1 without a socket (tests) */
    uint16_t last_worker; /* worker that ran the previous step, for migrations */
    uint16_t home;        /* worker that accepted it */
    uint8_t ev_op;        /* enum fl_op of the pending completion */
    uint8_t kind;         /* enum fl_conn_kind */
    uint8_t wait;         /* enum fl_wait of the operation in flight */
    /* An allocation failed before there was a request to answer (the state,
     * or the copy of received bytes): the next read is answered 503 with
     * this kind and size, so the client reads the answer to its request
     * rather than a reset. refused == 0: none. */
    uint8_t refused;        /* enum fl_oom + 1 */
    uint32_t refused_bytes; /* saturated at UINT32_MAX */
    bool closing;           /* close after the queued output is sent */
    struct fl_worker *cur;  /* worker running the current step (parser callbacks) */
    uint64_t head_deadline; /* CLOCK_MONOTONIC ns by which the head must be in; 0: not set */
    struct fl_tnode tn;     /* the deadline of the operation in flight, in its ring's wheel */

    void *state; /* per-connection state of varied size (fl_buf) */

    /* received bytes not parsed yet because the parser was paused */
    char *in;
    uint32_t in_off, in_len;

    struct fl_out out; /* answers waiting to be sent, in request order */

    struct fl_http *http; /* HTTP only, and only while a request is under way */
    uint64_t nreq;        /* requests completed */
    struct fl_holds holds;
} __attribute__((aligned(16)));

/* ---- conn.c: the connection without I/O ---- */

/* A new connection of `kind` on worker `w`, with its drawn state and no
 * socket; NULL (counted) when the connection itself cannot be allocated.
 * A state that cannot be had is remembered: HTTP answers it 503 at the
 * first read, echo closes at once. */
struct fl_conn *fl_conn_new(struct fl_worker *w, enum fl_conn_kind kind);

/* Runs `n` received bytes on worker `w`: `data` is an fl_buf of `n` bytes
 * that the connection now owns, or NULL when they could not be copied out
 * (answered 503). HTTP is parsed and answered into c->out; echo queues the
 * bytes back. */
enum fl_conn_next fl_conn_feed(struct fl_worker *w, struct fl_conn *c, char *data, size_t n);

/* Accounts `n` bytes of c->out as sent, on worker `w`: frees what went out;
 * once the queue drained, parses the input a paused parser left. */
enum fl_conn_next fl_conn_sent(struct fl_worker *w, struct fl_conn *c, size_t n);

/* The receive deadline `kind` passed: a request under way is answered 408;
 * a connection between requests (or one that never sent a byte) closes. */
enum fl_conn_next fl_conn_expired(struct fl_worker *w, struct fl_conn *c, enum fl_wait kind);

/* What the connection wants now. Between requests (receive, no request
 * under way, no input left) it also gives its parser back to `w`. */
enum fl_conn_next fl_conn_next(struct fl_worker *w, struct fl_conn *c);

/* Drops what would still be parsed or sent: the connection is closing. */
void fl_conn_shut(struct fl_worker *w, struct fl_conn *c);

/* Frees the connection and everything it holds (on worker `w`). */
void fl_conn_free(struct fl_worker *w, struct fl_conn *c);

/* ---- conn_ring.c: the driver on the worker's io_uring ---- */

/* Creates a connection for accepted socket `fd` on worker `w` and starts it. */
void fl_conn_open(struct fl_worker *w, int fd, enum fl_conn_kind kind);

/* The deadline of the connection's operation in flight on `w`'s ring
 * passed: cancels the operation (it completes with -ECANCELED). */
void fl_conn_deadline(struct fl_worker *w, struct fl_conn *c);

/* Runs the connection's pending completion on worker `w`. */
void fl_conn_run(struct fl_worker *w, struct fl_conn *c);

#endif
