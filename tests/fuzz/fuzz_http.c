/* fuzz_http.c - libFuzzer harness for the request path: parse (llhttp and
 * our strict checks), validate, route and answer, on a connection with no
 * socket. The input's first byte picks the settings:
 *   bit 0   tiny limits (line 64, field 64, head 256, 4 fields, body 100,
 *           workload caps 4k) instead of the defaults
 *   bit 1   llhttp's lenient flags on (headers, chunked length, keep-alive,
 *           transfer encoding): our own checks must still refuse smuggling
 *   bits 2-7 where the rest is cut into reads (0: one read)
 * Checked on every input: the first answer starts with a whole HTTP/1.1
 * response head, and is no 2xx when the first request has both
 * Content-Length and Transfer-Encoding; every server buffer is freed once
 * the connection is. */
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
#include "worker.h"
#include "workload.h"

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
    char *tiny[] = {"fuzz_http", "--max-request-line", "64",  "--max-header-field",
                    "64",        "--max-head",         "256", "--max-headers",
                    "4",         "--max-body",         "100", "--work-max-resp",
                    "4k",        "--work-max-hold",    "4k",  "--work-max-hold-conn",
                    "8k",        "--work-max-burst",   "20",  NULL};
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

/* Checks and frees what the connection queued, as a completed send would.
 * The first piece a connection sends is a response head (bodies follow in
 * pieces of their own, an echo body may say anything): it must be whole,
 * and it must not be a 2xx when the first request framed its body two
 * ways. `*first` is cleared once that piece was seen. */
static void drain(struct fl_worker *w, struct fl_conn *c, bool *first, bool conflict)
{
    for (uint32_t i = c->out_head; i < c->out_n; i++) {
        const char *p = c->out[i].iov_base;
        size_t n = c->out[i].iov_len;
        if (*first) {
            *first = false;
            if (n < 12 || memcmp(p, "HTTP/1.1 ", 9) || !memmem(p, n, "\r\n\r\n", 4))
                abort(); /* not a whole response head */
            if (conflict && p[9] == '2')
                abort(); /* Content-Length and Transfer-Encoding together were served */
        }
        fl_buf_free(w, c->out_buf[i]);
    }
    fl__conn_out_reset(w, c);
}

/* As conn.c's on_recv: a parser for the read, kept while a request is under
 * way; the lenient flags (selector bit 1) on each new one. */
static void attach(struct fl_worker *w, struct fl_conn *c, uint8_t sel)
{
    if (c->http)
        return;
    fl_http_attach(w, c);
    if (sel & 2) {
        llhttp_set_lenient_headers(&c->http->parser, 1);
        llhttp_set_lenient_chunked_length(&c->http->parser, 1);
        llhttp_set_lenient_keep_alive(&c->http->parser, 1);
        llhttp_set_lenient_transfer_encoding(&c->http->parser, 1);
    }
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
    int64_t bytes0 = FL_READ(&w->ctr, buffer_bytes);

    struct fl_conn *c = fl_buf_alloc(w, sizeof(*c));
    memset(c, 0, sizeof(*c));
    c->kind = FL_CONN_HTTP;
    c->fd = -1;
    c->home = w;
    c->cur = w;
    c->next_expiry = FL_HOLD_CONN;
    fl__conn_out_reset(w, c);
    bool conflict = first_head_conflicts(data, size), first = true;

    size_t cut = (size_t)(sel >> 2), pos = 0;
    bool open = true;
    while (open && pos < size) {
        size_t n = cut ? cut : size - pos;
        if (n > size - pos)
            n = size - pos;
        c->in = fl_buf_alloc(w, n);
        memcpy(c->in, data + pos, n);
        c->in_off = 0;
        c->in_len = (uint32_t)n;
        pos += n;
        attach(w, c, sel);
        open = fl_http_feed(w, c);
        /* A paused parser leaves input: send, then parse on (conn.c's on_sent). */
        for (int guard = 0; guard < 100000; guard++) {
            drain(w, c, &first, conflict);
            if (!c->in || c->closing || !open)
                break;
            open = fl_http_feed(w, c);
        }
        drain(w, c, &first, conflict);
        if (c->closing)
            open = false;
        else if (!c->in && !c->http->req.active)
            fl_http_detach(w, c); /* between requests, as conn.c's submit_recv */
    }
    fl_buf_free(w, c->in);
    fl_http_detach(w, c);
    fl__conn_drop_holds(w, c, true);
    fl_buf_free(w, c);
    if (FL_READ(&w->ctr, buffer_bytes) != bytes0)
        abort(); /* a buffer of the request path was not freed */
    return 0;
}
