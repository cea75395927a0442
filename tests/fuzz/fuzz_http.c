/* fuzz_http.c - libFuzzer harness for the request path: a connection driven
 * through conn.c's I/O-free seam (fl_conn_new, fl_conn_feed, fl_conn_sent,
 * fl_conn_free), the calls the server's ring driver makes: parse (llhttp
 * and our strict checks), validate, route (the real endpoints) and answer,
 * with pipelining, the parser's pause and the re-feed after a send. The
 * input's first byte picks the settings:
 *   bit 0   tiny limits (line 64, field 64, head 256, 4 fields, body 100,
 *           workload caps 4k, holds 8k per connection and 6k in all)
 *           instead of the defaults
 *   bit 1   llhttp's lenient flags on (headers, chunked length, keep-alive,
 *           transfer encoding): our own checks must still refuse smuggling
 *   bits 2-7 N: the rest is cut into reads of N bytes, and answers are
 *           taken in sends of at most 256 * N bytes (0: one read, one send)
 * Checked on every input: the first answer starts with a whole HTTP/1.1
 * response head, and is no 2xx when the first request has both
 * Content-Length and Transfer-Encoding; a connection that asks for more
 * input has parsed all it had; every server buffer is freed, and every
 * held byte given back to the budget, once the connection is. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "conn.h"
#include "fl_alloc.h"
#include "http.h"
#include "routes.h"
#include "worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fl_server srv[2]; /* default and tiny limits */
static struct fl_worker workers[2];

static void setup(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    static struct fl_alloc_info info;
    char err[256];
    char *argv[] = {"fuzz_http", NULL};
    if (fl_alloc_init("glibc", argv, &info, err, sizeof(err))) {
        fprintf(stderr, "fuzz_http: %s\n", err);
        abort();
    }
    char *def[] = {"fuzz_http", NULL};
    char *tiny[] = {"fuzz_http",           "--max-request-line=64",    "--max-header-field=64",
                    "--max-head=256",      "--max-headers=4",          "--max-body=100",
                    "--work-max-resp=4k",  "--work-max-hold=4k",       "--work-max-hold-conn=8k",
                    "--work-max-burst=20", "--work-max-held-total=6k", NULL};
    char **args[2] = {def, tiny};
    for (int k = 0; k < 2; k++) {
        int argc = 0;
        while (args[k][argc])
            argc++;
        if (fl_config_load(argc, args[k], &srv[k].cfg, err, sizeof(err)) != FL_CONFIG_OK) {
            fprintf(stderr, "fuzz_http: %s\n", err);
            abort();
        }
        srv[k].alloc = &info;
        srv[k].route = fl_routes_cb;
        srv[k].workers = &workers[k];
        srv[k].nworkers = 1;
        clock_gettime(CLOCK_MONOTONIC, &srv[k].started);
        workers[k].srv = &srv[k];
        workers[k].id = 0;
        workers[k].cpu = -1;
        workers[k].wake_fd = -1;
        workers[k].rng = 1;
    }
}

/* Whether the first request's head has both a Content-Length and a
 * Transfer-Encoding field (names at line starts, any case). */
static bool first_head_conflicts(const uint8_t *data, size_t size)
{
    /* The head ends at the first empty line, CRLF or (lenient) bare LF. */
    const uint8_t *a = memmem(data, size, "\n\r\n", 3), *b = memmem(data, size, "\n\n", 2);
    const uint8_t *end = a && (!b || a < b) ? a : b;
    size_t n = end ? (size_t)(end - data) + 1 : size;
    bool cl = false, te = false;
    for (size_t i = 0; i + 1 < n; i++) {
        if (data[i] != '\n')
            continue;
        cl |= n - i - 1 >= 15 && !strncasecmp((const char *)data + i + 1, "content-length:", 15);
        te |= n - i - 1 >= 18 && !strncasecmp((const char *)data + i + 1, "transfer-encoding:", 18);
    }
    return cl && te;
}

/* What the answers must be: the first piece a connection sends is a response
 * head (bodies follow in pieces of their own, an echo body may say
 * anything); it must be whole, and it must not be a 2xx when the first
 * request framed its body two ways. */
struct answers {
    bool first; /* the first piece is still to be checked */
    bool conflict;
};

static void check_first(const struct fl_conn *c, struct answers *a)
{
    if (!a->first || !fl_out_pending(&c->out))
        return;
    a->first = false;
    const char *p = c->out.q->iov[c->out.q->head].iov_base;
    size_t n = c->out.q->iov[c->out.q->head].iov_len;
    if (n < 12 || memcmp(p, "HTTP/1.1 ", 9) || !memmem(p, n, "\r\n\r\n", 4))
        abort(); /* not a whole response head */
    if (a->conflict && p[9] == '2')
        abort(); /* Content-Length and Transfer-Encoding together were served */
}

/* Sends what the connection queued, as a client reading `chunk` bytes at a
 * time would take it (0: all at once), through conn.c's fl_conn_sent: short
 * sends, and the input a paused parser left parsed after each drained
 * queue. Returns what the connection wants once it wants no send. */
static enum fl_conn_next send_all(struct fl_worker *w, struct fl_conn *c, enum fl_conn_next next,
                                  struct answers *a, size_t chunk)
{
    for (long guard = 0; next == FL_CONN_SEND; guard++) {
        if (guard > 10000000)
            abort(); /* the connection wants to send for ever */
        check_first(c, a);
        size_t n = fl_out_bytes(&c->out);
        if (chunk && n > chunk)
            n = chunk;
        next = fl_conn_sent(w, c, n);
    }
    return next;
}

/* A parser for the next read, as fl_conn_feed would attach it, with the
 * lenient flags (selector bit 1) on each new one. */
static void attach(struct fl_worker *w, struct fl_conn *c, uint8_t sel)
{
    if (c->http || !fl_http_attach(w, c) || !(sel & 2))
        return;
    llhttp_set_lenient_headers(&c->http->parser, 1);
    llhttp_set_lenient_chunked_length(&c->http->parser, 1);
    llhttp_set_lenient_keep_alive(&c->http->parser, 1);
    llhttp_set_lenient_transfer_encoding(&c->http->parser, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    data++;
    size--;
    struct fl_worker *w = &workers[sel & 1];
    int64_t bytes0 = FL_READ(&w->ctr, buffer_bytes), held0 = FL_READ(&w->ctr, held_bytes);

    struct fl_conn *c = fl_conn_new(w, FL_CONN_HTTP);
    if (!c)
        abort();
    struct answers a = {.first = true, .conflict = first_head_conflicts(data, size)};
    size_t cut = (size_t)(sel >> 2), pos = 0;
    enum fl_conn_next next = FL_CONN_RECV;
    while (next == FL_CONN_RECV && pos < size) {
        size_t n = cut ? cut : size - pos;
        if (n > size - pos)
            n = size - pos;
        char *in = fl_buf_alloc(w, n);
        if (!in)
            abort();
        memcpy(in, data + pos, n);
        pos += n;
        attach(w, c, sel);
        next = send_all(w, c, fl_conn_feed(w, c, in, n), &a, cut * 256);
        if (next == FL_CONN_RECV && c->in)
            abort(); /* waits for more input with some still unparsed */
    }
    fl_conn_free(w, c);
    if (FL_READ(&w->ctr, buffer_bytes) != bytes0)
        abort(); /* a buffer of the request path was not freed */
    if (FL_READ(&w->ctr, held_bytes) != held0 || atomic_load(&w->srv->hold_budget.held))
        abort(); /* holds freed but not given back */
    return 0;
}
