/* conn.h - a connection: its state, its pending completion and its steps.
 *
 * A connection has exactly one operation in flight (recv, send or close), so
 * at most one completion of it exists at any time, stored in the connection
 * itself until a worker runs it. That makes a connection's step a task that
 * any worker may run (ws mode) without locks: whoever holds the completion
 * owns the connection until it submits the next operation. */
#ifndef FL_SERVER_CONN_H
#define FL_SERVER_CONN_H

#include <linux/time_types.h>
#include <llhttp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct fl_worker;

#define FL_OUT_MAX 64   /* response pieces queued for one sendmsg */
#define FL_OUT_INLINE 3 /* of them, held in the connection itself */

/* The output queue beyond FL_OUT_INLINE pieces (pipelined requests): an
 * fl_buf allocated when the inline queue overflows and freed once the
 * queue drains, so an idle connection carries only the inline one. */
struct fl_outq {
    struct iovec iov[FL_OUT_MAX];
    void *buf[FL_OUT_MAX];
};

enum fl_conn_kind { FL_CONN_HTTP, FL_CONN_ECHO };

/* The deadline linked to a connection's operation in flight. */
enum fl_wait {
    FL_WAIT_NONE,
    FL_WAIT_IDLE, /* between requests (echo: between reads): keepalive_timeout */
    FL_WAIT_HEAD, /* a request head coming in: header_timeout from its start */
    FL_WAIT_BODY, /* between reads of a body: body_timeout */
    FL_WAIT_SEND, /* one send: send_timeout */
};

/* An allocation held past its request (workload endpoint). */
struct fl_hold {
    struct fl_hold *next;
    uint64_t expires; /* request number after which it is freed, or FL_HOLD_CONN */
    uint64_t bytes;
};

/* The request being parsed. Its buffers are allocated as it arrives, each of
 * the size it needs: the target, and the body (Content-Length, or grown for
 * chunked bodies). */
struct fl_req {
    char *target; /* fl_buf, target_len bytes */
    uint64_t target_len;
    char *body; /* fl_buf */
    uint64_t body_len;
    uint8_t field[20]; /* current header name, lower-cased, truncated */
    uint8_t field_len;
    uint8_t val[16]; /* value of Expect */
    uint8_t val_len;
    uint8_t which;     /* the header being read: enum fl_hdr (http.c) */
    bool in_value;     /* a span of the current field's value was seen */
    uint8_t hosts;     /* Host fields seen */
    uint16_t nfields;  /* header fields seen */
    uint32_t line_len; /* request line bytes: method, target, version */
    uint32_t head_len; /* head bytes so far */
    uint32_t field_sz; /* bytes of the current field, name and value */
    char te[32];       /* Transfer-Encoding values, lower-cased, joined by ',' */
    uint8_t te_len;    /* 0: none seen; sizeof(te): too long */
    bool expect_100;   /* Expect: 100-continue seen */
    bool sent_100;
    bool active;        /* between message begin and complete */
    bool headers_done;  /* headers complete, body may follow */
    bool head_only;     /* HEAD: no body in the response */
    int status;         /* set by a callback that rejects the request (413, ...) */
    const char *why;    /* and why, for the answer's body */
    const char *allow;  /* "Allow: ...\r\n" for a 405, set by the route */
    uint8_t oom_kind;   /* with status 503: the enum fl_oom that failed */
    uint64_t oom_bytes; /* and its size */
};

/* The parser and the request it builds: what an HTTP connection needs only
 * between a request's first byte and its answer. A connection waiting for
 * its next request gives it back to its worker's cache (http.c), so an idle
 * keep-alive connection carries none of it. */
struct fl_http {
    llhttp_t parser;
    const char *parse_start; /* the bytes llhttp_execute is working on */
    struct fl_req req;
    struct fl_http *next; /* in a worker's cache */
};

struct fl_conn {
    /* the pending completion: set by the worker that reaped it */
    int ev_op;
    int ev_res;
    char *ev_data; /* received bytes copied out of the buffer ring (fl_buf) */

    enum fl_conn_kind kind;
    int fd;
    int last_worker;        /* worker that ran the previous step, for migrations */
    struct fl_worker *cur;  /* worker running the current step (parser callbacks) */
    struct fl_worker *home; /* worker that accepted it */
    bool closing;           /* close after the queued output is sent */
    uint8_t wait;           /* enum fl_wait of the operation in flight */
    uint64_t head_deadline; /* CLOCK_MONOTONIC ns by which the head must be in; 0: not set */
    struct __kernel_timespec timeout; /* of the linked timeout in flight */

    void *state; /* per-connection state of varied size (fl_buf) */
    /* An allocation failed before there was a request to answer (the state,
     * or the copy of received bytes): the next read is answered 503 with
     * this kind and size, so the client reads the answer to its request
     * rather than a reset. refused == 0: none. */
    uint8_t refused; /* enum fl_oom + 1 */
    uint64_t refused_bytes;

    /* received bytes not parsed yet because the parser was paused */
    char *in;
    uint32_t in_off, in_len;

    /* output: pieces in request order, each an fl_buf freed once sent; `out`
     * and `out_buf` point at the inline arrays or at `outq`'s */
    struct iovec *out;
    void **out_buf;
    struct fl_outq *outq;
    struct iovec out_inl[FL_OUT_INLINE];
    void *out_buf_inl[FL_OUT_INLINE];
    uint32_t out_n, out_head, out_cap;
    uint64_t out_bytes;

    struct fl_http *http; /* HTTP only, and only while a request is under way */
    uint64_t nreq;        /* requests completed */
    struct fl_hold *holds;
    uint64_t hold_bytes;
    uint64_t next_expiry;
} __attribute__((aligned(16)));

/* Creates a connection for accepted socket `fd` on worker `w` and starts it. */
void fl_conn_open(struct fl_worker *w, int fd, enum fl_conn_kind kind);

/* Runs the connection's pending completion on worker `w`. */
void fl_conn_run(struct fl_worker *w, struct fl_conn *c);

/* Queues a response piece (an fl_buf, or NULL with static bytes in `iov`),
 * growing the queue past the inline pieces on c->cur. Returns false when
 * the output queue is full or cannot grow (counted as a response failure). */
bool fl__conn_queue(struct fl_conn *c, void *buf, const void *data, size_t len);

/* Empties the output queue (its pieces already freed or sent) and goes back
 * to the inline one. */
void fl__conn_out_reset(struct fl_worker *w, struct fl_conn *c);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t fl__now_ns(void);

/* Frees every allocation the connection holds. */
void fl__conn_drop_holds(struct fl_worker *w, struct fl_conn *c, bool all);

#endif
