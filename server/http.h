/* http.h - HTTP/1.1 on a connection: llhttp callbacks that build the request
 * in buffers of its own size, the route callback that answers it, and the
 * responses. http.c never calls the endpoints itself: it calls the route it
 * was given (struct fl_server's `route`), so the request path runs without
 * them in tests. */
#ifndef FL_SERVER_HTTP_H
#define FL_SERVER_HTTP_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "counters.h"

struct fl_conn;
struct fl_worker;

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
 * its next request gives it back to its worker's cache, so an idle
 * keep-alive connection carries none of it. */
struct fl_http {
    llhttp_t parser;
    const char *parse_start; /* the bytes llhttp_execute is working on */
    struct fl_req req;
    struct fl_http *next; /* in a worker's cache */
};

/* Answers the request just parsed (c->http->req; its method in
 * c->http->parser) through fl_http_respond*, on worker `w`. Runs once per
 * request, in request order; c->nreq already counts it. */
typedef void fl_http_route_cb(struct fl_worker *w, struct fl_conn *c);

/* Gives the connection a parser (from worker `w`'s cache) if it has none;
 * false when none can be allocated. */
bool fl_http_attach(struct fl_worker *w, struct fl_conn *c);

/* Takes the parser back into `w`'s cache (the connection waits for its next
 * request with no input left, or closes). */
void fl_http_detach(struct fl_worker *w, struct fl_conn *c);

/* Frees the parsers cached by worker `w` (at its end). */
void fl_http_cache_free(struct fl_worker *w);

/* Parses the connection's unparsed input (c->in from c->in_off) and queues
 * the answers; stops early (input left) when too much output waits. Returns
 * false when the connection must close once its output is sent. */
bool fl_http_feed(struct fl_worker *w, struct fl_conn *c);

/* Answers `status` with `why` in the body and Connection: close: for a
 * request that cannot be served (malformed, over a limit, timed out). When
 * even that answer cannot be allocated, the connection closes without one. */
void fl_http_fail(struct fl_worker *w, struct fl_conn *c, int status, const char *why);

/* Answers 503 "cannot allocate WHAT of BYTES bytes" with Connection: close
 * and counts the failure by `kind`; if even that answer cannot be
 * allocated, the connection just closes. */
void fl_http_unavailable(struct fl_worker *w, struct fl_conn *c, enum fl_oom kind, uint64_t bytes);

/* Frees the request being parsed, if any. */
void fl_http_reset(struct fl_worker *w, struct fl_conn *c);

/* Queues a response: status line, headers and `len` body bytes copied from
 * `src`, in one buffer of the response's size. */
void fl_http_respond(struct fl_worker *w, struct fl_conn *c, int status, const char *ctype,
                     const void *src, size_t len);

/* Queues a response whose body is the fl_buf `body` itself (no copy). */
void fl_http_respond_buf(struct fl_worker *w, struct fl_conn *c, int status, const char *ctype,
                         void *body, size_t len);

/* Queues a response of `len` body bytes written by `fill(dst, len)`. */
void fl_http_respond_fill(struct fl_worker *w, struct fl_conn *c, int status, const char *ctype,
                          size_t len, void (*fill)(char *dst, size_t len));

/* A whole response made once, for answers that never change: the head a
 * keep-alive HTTP/1.1 GET gets, and the body. */
struct fl_http_const {
    char bytes[192];
    size_t len;
};

/* Fills `r` with the response fl_http_respond would queue for status,
 * ctype and body to a keep-alive HTTP/1.1 GET; false if it does not fit. */
bool fl_http_const_make(struct fl_http_const *r, int status, const char *ctype, const char *body);

/* Queues `r` itself (nothing allocated, nothing copied) when this request
 * gets that head; otherwise (a HEAD, HTTP/1.0, a closing connection) the
 * same as fl_http_respond. */
void fl_http_respond_const(struct fl_worker *w, struct fl_conn *c, const struct fl_http_const *r,
                           int status, const char *ctype, const char *body);

#endif
