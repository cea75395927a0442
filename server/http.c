/* http.c - HTTP/1.1 over llhttp (strict mode): the request is gathered into
 * buffers of its own size as it streams in, routed when complete, and
 * answered in order; pipelined requests are parsed from the same read. */
#include "http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "conn.h"
#include "worker.h"

#define MAX_TARGET 8192
/* Stop parsing pipelined requests while this much output waits to be sent:
 * a client that pipelines without reading must not grow our memory. */
#define MAX_PENDING_OUT (256 * 1024)

static struct fl_conn *conn_of(llhttp_t *p)
{
    return p->data;
}

/* Appends to a request buffer: exact size for the first piece (the common
 * case: a target or body that arrives whole), doubling after that. */
static void append(struct fl_worker *w, char **buf, uint64_t *len, const char *at, size_t n)
{
    uint64_t need = *len + n;
    size_t cap = *buf ? fl_buf_size(*buf) : 0;
    if (need > cap) {
        size_t ncap = *buf ? (need > cap * 2 ? need : cap * 2) : need;
        char *nb = fl_buf_alloc(w, ncap);
        if (*len)
            memcpy(nb, *buf, *len);
        fl_buf_free(w, *buf);
        *buf = nb;
    }
    memcpy(*buf + *len, at, n);
    *len = need;
}

void fl_http_reset(struct fl_worker *w, struct fl_conn *c)
{
    fl_buf_free(w, c->req.target);
    fl_buf_free(w, c->req.body);
    memset(&c->req, 0, sizeof(c->req));
}

static int on_message_begin(llhttp_t *p)
{
    struct fl_conn *c = conn_of(p);
    fl_http_reset(c->cur, c);
    c->req.active = true;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    struct fl_conn *c = conn_of(p);
    if (c->req.target_len + n > MAX_TARGET) {
        c->req.status = 414;
        return -1;
    }
    append(c->cur, &c->req.target, &c->req.target_len, at, n);
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct fl_req *r = &conn_of(p)->req;
    for (size_t i = 0; i < n && r->field_len < sizeof(r->field); i++)
        r->field[r->field_len++] = (uint8_t)(at[i] | 0x20);
    return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    struct fl_req *r = &conn_of(p)->req;
    r->in_expect = r->field_len == 6 && memcmp(r->field, "expect", 6) == 0;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct fl_req *r = &conn_of(p)->req;
    for (size_t i = 0; r->in_expect && i < n && r->val_len < sizeof(r->val); i++)
        r->val[r->val_len++] = (uint8_t)at[i];
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct fl_req *r = &conn_of(p)->req;
    if (r->in_expect && r->val_len == 12 && strncasecmp((char *)r->val, "100-continue", 12) == 0)
        r->expect_100 = true;
    r->field_len = r->val_len = 0;
    r->in_expect = false;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct fl_conn *c = conn_of(p);
    c->req.headers_done = true;
    c->req.head_only = llhttp_get_method(p) == HTTP_HEAD; /* parsed by now, not at begin */
    if (p->flags & F_CONTENT_LENGTH) {
        if (p->content_length > (uint64_t)c->cur->srv->cfg.max_body) {
            c->req.status = 413; /* refused before reading the body */
            return -1;
        }
        if (p->content_length)
            c->req.body = fl_buf_alloc(c->cur, p->content_length);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    struct fl_conn *c = conn_of(p);
    if (c->req.body_len + n > (uint64_t)c->cur->srv->cfg.max_body) {
        c->req.status = 413; /* a chunked body that grew past the limit */
        return -1;
    }
    append(c->cur, &c->req.body, &c->req.body_len, at, n);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct fl_conn *c = conn_of(p);
    struct fl_worker *w = c->cur;
    int64_t max_req = w->srv->cfg.max_requests_per_conn;
    c->nreq++;
    c->closing = !llhttp_should_keep_alive(p) || (max_req > 0 && c->nreq >= (uint64_t)max_req);
    FL_COUNT(&w->ctr, requests, 1);
    fl__route(w, c);
    fl_http_reset(w, c);
    if (c->holds && c->nreq >= c->next_expiry)
        fl__conn_drop_holds(w, c, false);
    if (c->closing || c->out_bytes > MAX_PENDING_OUT || c->out_n + 4 > FL_OUT_MAX)
        return HPE_PAUSED;
    return 0;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void fl_http_init(struct fl_conn *c)
{
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
}

static void consume_input(struct fl_worker *w, struct fl_conn *c)
{
    fl_buf_free(w, c->in);
    c->in = NULL;
    c->in_off = c->in_len = 0;
}

bool fl_http_feed(struct fl_worker *w, struct fl_conn *c)
{
    c->cur = w;
    llhttp_errno_t e = llhttp_execute(&c->parser, c->in + c->in_off, c->in_len - c->in_off);
    if (e == HPE_OK) {
        consume_input(w, c);
    } else if (e == HPE_PAUSED) {
        uint32_t pos = (uint32_t)(llhttp_get_error_pos(&c->parser) - c->in);
        llhttp_resume(&c->parser);
        c->in_off = pos;
        if (c->closing || c->in_off >= c->in_len)
            consume_input(w, c);
    } else if (e == HPE_PAUSED_UPGRADE) {
        consume_input(w, c); /* answered as plain HTTP; no protocol switch follows */
        c->closing = true;
    } else {
        int status = c->req.status ? c->req.status : 400;
        consume_input(w, c);
        fl_http_reset(w, c);
        c->closing = true;
        const char *msg = status == 413 ? "request body too large\n" : "bad request\n";
        fl_http_respond(w, c, status, "text/plain", msg, strlen(msg));
        return false;
    }
    struct fl_req *r = &c->req;
    if (r->active && r->headers_done && r->expect_100 && !r->sent_100 && !c->closing) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        r->sent_100 = fl__conn_queue(c, NULL, cont, sizeof(cont) - 1);
    }
    return !c->closing;
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

static size_t format_head(char *dst, size_t cap, const struct fl_conn *c, int status,
                          const char *ctype, size_t len)
{
    const char *conn = c->closing ? "Connection: close\r\n"
                       : c->parser.http_major == 1 && c->parser.http_minor == 0
                           ? "Connection: keep-alive\r\n"
                           : "";
    int n = snprintf(dst, cap,
                     "HTTP/1.1 %d %s\r\nServer: fraglab\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\n%s%s\r\n",
                     status, reason(status), ctype, len, conn, c->req.allow ? c->req.allow : "");
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

static void queue_or_close(struct fl_worker *w, struct fl_conn *c, void *buf, size_t len)
{
    if (!fl__conn_queue(c, buf, buf, len)) { /* cannot happen: the parser pauses first */
        fl_buf_free(w, buf);
        c->closing = true;
    }
}

/* Allocates one buffer of the response's size holding the head; the body,
 * `*blen` bytes (none for HEAD), goes at `*body`. */
static char *begin_response(struct fl_worker *w, struct fl_conn *c, int status, const char *ctype,
                            size_t len, char **body, size_t *total)
{
    char head[256];
    size_t hl = format_head(head, sizeof(head), c, status, ctype, len);
    size_t blen = c->req.head_only ? 0 : len;
    char *buf = fl_buf_alloc(w, hl + blen);
    memcpy(buf, head, hl);
    *body = buf + hl;
    *total = hl + blen;
    if (status >= 400)
        FL_COUNT(&w->ctr, http_errors, 1);
    return buf;
}

void fl_http_respond_fill(struct fl_worker *w, struct fl_conn *c, int status, const char *ctype,
                          size_t len, void (*fill)(char *dst, size_t len))
{
    char *body;
    size_t total;
    char *buf = begin_response(w, c, status, ctype, len, &body, &total);
    if (!c->req.head_only)
        fill(body, len);
    queue_or_close(w, c, buf, total);
}

void fl_http_respond(struct fl_worker *w, struct fl_conn *c, int status, const char *ctype,
                     const void *src, size_t len)
{
    char *body;
    size_t total;
    char *buf = begin_response(w, c, status, ctype, len, &body, &total);
    if (!c->req.head_only && len)
        memcpy(body, src, len);
    queue_or_close(w, c, buf, total);
}

void fl_http_respond_buf(struct fl_worker *w, struct fl_conn *c, int status, const char *ctype,
                         void *body, size_t len)
{
    char head[256];
    size_t hl = format_head(head, sizeof(head), c, status, ctype, len);
    char *hb = fl_buf_alloc(w, hl);
    memcpy(hb, head, hl);
    queue_or_close(w, c, hb, hl);
    if (c->req.head_only || !len)
        fl_buf_free(w, body);
    else
        queue_or_close(w, c, body, len);
}
