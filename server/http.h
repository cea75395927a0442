/* http.h - HTTP/1.1 on a connection: llhttp callbacks that build the request
 * in buffers of its own size, and the responses. */
#ifndef FL_SERVER_HTTP_H
#define FL_SERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "counters.h"

struct fl_conn;
struct fl_worker;

/* Gives the connection a parser (from worker `w`'s cache) if it has none;
 * false when none can be allocated. */
bool fl_http_attach(struct fl_worker *w, struct fl_conn *c);

/* Takes the parser back into `w`'s cache once the connection waits for its
 * next request (no request under way, no input left), or closes. */
void fl_http_detach(struct fl_worker *w, struct fl_conn *c);

/* Frees the parsers cached by worker `w` (at its end). */
void fl_http_cache_free(struct fl_worker *w);

/* Parses the connection's unparsed input; queues responses. Returns false
 * when the connection must close once its output is sent. */
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

/* Routes the request just parsed (routes.c). */
void fl__route(struct fl_worker *w, struct fl_conn *c);

#endif
