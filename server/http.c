/* http.c - HTTP/1.1 over llhttp (strict mode): the request is gathered into
 * buffers of its own size as it streams in, handed to the route callback
 * when complete, and answered in order into the connection's output queue;
 * pipelined requests are parsed from the same read. */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "conn.h"
#include "worker.h"

/* Stop parsing pipelined requests while this much output waits to be sent:
 * a client that pipelines without reading must not grow our memory. */
#define MAX_PENDING_OUT (256 * 1024)

static struct fl_conn *conn_of(llhttp_t *p)
{
    return p->data;
}

static struct fl_req *req_of(llhttp_t *p)
{
    return &conn_of(p)->http->req;
}

/* Appends to a request buffer: exact size for the first piece (the common
 * case: a target or body that arrives whole), doubling after that. 0, or
 * the size that could not be allocated (the old buffer stays with the
 * request, which frees it). */
static size_t append(struct fl_worker *w, char **buf, uint64_t *len, const char *at, size_t n)
{
    if (!n) /* llhttp may hand over an empty span; there may be no buffer yet */
        return 0;
    uint64_t need = *len + n;
    size_t cap = *buf ? fl_buf_size(*buf) : 0;
    if (need > cap) {
        size_t ncap = *buf ? (need > cap * 2 ? need : cap * 2) : need;
        char *nb = fl_buf_alloc(w, ncap);
        if (!nb)
            return ncap;
        if (*len)
            memcpy(nb, *buf, *len);
        fl_buf_free(w, *buf);
        *buf = nb;
    }
    memcpy(*buf + *len, at, n);
    *len = need;
    return 0;
}

void fl_http_reset(struct fl_worker *w, struct fl_conn *c)
{
    if (!c->http)
        return;
    fl_buf_free(w, c->http->req.target);
    fl_buf_free(w, c->http->req.body);
    memset(&c->http->req, 0, sizeof(c->http->req));
}

static int on_message_begin(llhttp_t *p)
{
    struct fl_conn *c = conn_of(p);
    fl_http_reset(c->cur, c);
    c->http->req.active = true;
    /* The first request's head is due header_timeout after the accept; a
     * later one's after its first byte, set by the receive that waits for
     * the rest (conn_ring.c), so a head that arrives whole reads no clock. */
    if (c->nreq)
        c->head_deadline = 0;
    return 0;
}

/* Rejects the request: the status and the reason sent back; the parser
 * stops with an error (a callback's -1) and the connection closes. */
static int reject(struct fl_req *r, int status, const char *why)
{
    if (!r->status) {
        r->status = status;
        r->why = why;
    }
    return -1;
}

/* Rejects the request because `bytes` of `kind` could not be allocated: the
 * feed answers 503 naming them (fl_http_unavailable). */
static int reject_oom(struct fl_req *r, enum fl_oom kind, uint64_t bytes)
{
    if (!r->status) {
        r->oom_kind = (uint8_t)kind;
        r->oom_bytes = bytes;
    }
    return reject(r, 503, "out of memory");
}

static const struct fl_server_config *cfg_of(llhttp_t *p)
{
    return &conn_of(p)->cur->srv->cfg;
}

/* The request line: method, target and version, counted together. */
static int count_line(llhttp_t *p, size_t n)
{
    struct fl_req *r = req_of(p);
    r->line_len += (uint32_t)n;
    r->head_len += (uint32_t)n;
    if (r->line_len > (uint64_t)cfg_of(p)->max_request_line)
        return reject(r, 414, "request line longer than max_request_line");
    return 0;
}

static int on_method(llhttp_t *p, const char *at, size_t n)
{
    (void)at;
    return count_line(p, n);
}

static int on_version(llhttp_t *p, const char *at, size_t n)
{
    (void)at;
    return count_line(p, n);
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    struct fl_conn *c = conn_of(p);
    if (count_line(p, n))
        return -1;
    size_t failed = append(c->cur, &c->http->req.target, &c->http->req.target_len, at, n);
    return failed ? reject_oom(&c->http->req, FL_OOM_target, failed) : 0;
}

/* The headers we act on. */
enum fl_hdr { H_OTHER, H_EXPECT, H_TE, H_HOST };

/* A field's bytes, name or value: each field and the whole head are capped. */
static int count_field(llhttp_t *p, size_t n)
{
    struct fl_req *r = req_of(p);
    const struct fl_server_config *cfg = cfg_of(p);
    r->field_sz += (uint32_t)n;
    r->head_len += (uint32_t)n;
    if (r->field_sz > (uint64_t)cfg->max_header_field)
        return reject(r, 431, "header field longer than max_header_field");
    if (r->head_len > (uint64_t)cfg->max_head)
        return reject(r, 431, "request head larger than max_head");
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct fl_req *r = req_of(p);
    if (count_field(p, n))
        return -1;
    for (size_t i = 0; i < n && r->field_len < sizeof(r->field); i++)
        r->field[r->field_len++] = (uint8_t)(at[i] | 0x20);
    return 0;
}

static bool named(const struct fl_req *r, const char *name)
{
    size_t n = strlen(name);
    return r->field_len == n && memcmp(r->field, name, n) == 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    struct fl_req *r = req_of(p);
    if (r->field_sz == 0)
        return reject(r, 400, "empty header name");
    if (++r->nfields > cfg_of(p)->max_headers)
        return reject(r, 431, "more header fields than max_headers");
    r->which = named(r, "expect")              ? H_EXPECT
               : named(r, "transfer-encoding") ? H_TE
               : named(r, "host")              ? H_HOST
                                               : H_OTHER;
    if (r->which == H_TE && r->te_len && r->te_len < sizeof(r->te))
        r->te[r->te_len++] = ','; /* a second field continues the list */
    return 0;
}

/* Field values: llhttp's strict mode refuses control characters, DEL and
 * bare CR/LF in them itself; what it lets through is obs-fold (below). */
static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct fl_conn *c = conn_of(p);
    struct fl_req *r = &c->http->req;
    if (count_field(p, n))
        return -1;
    /* llhttp 8.1 hands an obs-fold's continuation line over as one more
     * span of the same value; a value split by the end of a read resumes
     * at the start of the next one instead. */
    if (r->in_value && at != c->http->parse_start)
        return reject(r, 400, "obs-fold (header value continued on the next line)");
    r->in_value = true;
    if (r->which == H_EXPECT)
        for (size_t i = 0; i < n && r->val_len < sizeof(r->val); i++)
            r->val[r->val_len++] = (uint8_t)at[i];
    if (r->which == H_TE)
        for (size_t i = 0; i < n && r->te_len < sizeof(r->te); i++)
            r->te[r->te_len++] = (char)(at[i] | 0x20);
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct fl_req *r = req_of(p);
    if (r->which == H_EXPECT && r->val_len == 12 &&
        strncasecmp((char *)r->val, "100-continue", 12) == 0)
        r->expect_100 = true;
    if (r->which == H_HOST && r->hosts < 255)
        r->hosts++;
    if (r->which == H_TE && r->te_len == 0)
        r->te[r->te_len++] = ','; /* an empty value: seen, and no coding */
    r->head_len += 4;             /* ": " and CRLF, near enough */
    r->field_len = r->val_len = 0;
    r->field_sz = 0;
    r->which = H_OTHER;
    r->in_value = false;
    return 0;
}

/* Transfer-Encoding (RFC 9112 6.1, 6.3): only a final "chunked" frames a
 * request; any other last coding leaves its length unknown (400), and a
 * coding before chunked is one we do not implement (501). */
static int check_te(struct fl_req *r, const llhttp_t *p)
{
    if (r->te_len >= sizeof(r->te))
        return reject(r, 400, "Transfer-Encoding too long");
    if (p->http_minor == 0)
        return reject(r, 400, "Transfer-Encoding in HTTP/1.0");
    char list[sizeof(r->te) + 1];
    memcpy(list, r->te, r->te_len);
    list[r->te_len] = '\0';
    char *codings[16], *save = NULL;
    int n = 0;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t += strspn(t, " \t");
        size_t len = strlen(t);
        while (len && (t[len - 1] == ' ' || t[len - 1] == '\t'))
            t[--len] = '\0';
        if (len && n < 16)
            codings[n++] = t;
        else if (len)
            return reject(r, 400, "too many transfer codings");
    }
    if (!n || strcmp(codings[n - 1], "chunked") != 0)
        return reject(r, 400, "Transfer-Encoding whose last coding is not chunked");
    for (int i = 0; i < n - 1; i++)
        if (!strcmp(codings[i], "chunked"))
            return reject(r, 400, "chunked applied more than once");
    if (n > 1)
        return reject(r, 501, "transfer coding not implemented (only chunked is)");
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct fl_conn *c = conn_of(p);
    struct fl_req *r = &c->http->req;
    c->http->req.headers_done = true;
    c->http->req.head_only = llhttp_get_method(p) == HTTP_HEAD; /* parsed by now, not at begin */
    if (p->http_major != 1)
        return reject(r, 505, "only HTTP/1.0 and HTTP/1.1 are spoken here");
    if (p->http_minor >= 1 && r->hosts == 0)
        return reject(r, 400, "HTTP/1.1 request without Host");
    if (r->hosts > 1)
        return reject(r, 400, "more than one Host");
    if (r->te_len) {
        if (p->flags & F_CONTENT_LENGTH) /* llhttp refuses it too, unless lenient */
            return reject(r, 400, "Content-Length with Transfer-Encoding");
        if (check_te(r, p))
            return -1;
    }
    if (p->flags & F_CONTENT_LENGTH) {
        if (p->content_length > (uint64_t)c->cur->srv->cfg.max_body)
            return reject(r, 413, "body larger than max_body"); /* before reading it */
        if (p->content_length && !(r->body = fl_buf_alloc(c->cur, p->content_length)))
            return reject_oom(r, FL_OOM_body, p->content_length);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    struct fl_conn *c = conn_of(p);
    if (c->http->req.body_len + n > (uint64_t)c->cur->srv->cfg.max_body)
        return reject(&c->http->req, 413, "body larger than max_body"); /* chunked, as it grows */
    size_t failed = append(c->cur, &c->http->req.body, &c->http->req.body_len, at, n);
    return failed ? reject_oom(&c->http->req, FL_OOM_body, failed) : 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct fl_conn *c = conn_of(p);
    struct fl_worker *w = c->cur;
    int64_t max_req = w->srv->cfg.max_requests_per_conn;
    c->nreq++;
    c->closing = !llhttp_should_keep_alive(p) || (max_req > 0 && c->nreq >= (uint64_t)max_req);
    FL_COUNT(&w->ctr, requests, 1);
    w->srv->route(w, c);
    fl_http_reset(w, c);
    /* Room for the next request's answer: a response is at most two pieces,
     * plus a 100 Continue. */
    if (c->closing || fl_out_bytes(&c->out) > MAX_PENDING_OUT ||
        fl_out_count(&c->out) + 4 > FL_OUT_MAX)
        return HPE_PAUSED;
    return 0;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_method = on_method,
    .on_version = on_version,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Parsers a worker keeps for reuse: connections take one per request (most
 * give it back within the same completion), so a few cover a busy worker;
 * beyond these, a parser given back is freed. */
#define HTTP_CACHE_MAX 64

bool fl_http_attach(struct fl_worker *w, struct fl_conn *c)
{
    if (c->http)
        return true;
    struct fl_http *h = w->http_cache;
    if (h) {
        w->http_cache = h->next;
        w->http_cached--;
    } else if (!(h = malloc(sizeof(*h)))) {
        return false;
    }
    memset(&h->req, 0, sizeof(h->req));
    llhttp_init(&h->parser, HTTP_REQUEST, &settings);
    h->parser.data = c;
    c->http = h;
    FL_COUNT(&w->ctr, http_parsers, 1);
    return true;
}

void fl_http_detach(struct fl_worker *w, struct fl_conn *c)
{
    struct fl_http *h = c->http;
    if (!h)
        return;
    fl_http_reset(w, c);
    c->http = NULL;
    FL_COUNT(&w->ctr, http_parsers, -1);
    if (w->http_cached >= HTTP_CACHE_MAX) {
        free(h);
        return;
    }
    h->next = w->http_cache;
    w->http_cache = h;
    w->http_cached++;
}

void fl_http_cache_free(struct fl_worker *w)
{
    while (w->http_cache) {
        struct fl_http *h = w->http_cache;
        w->http_cache = h->next;
        free(h);
    }
    w->http_cached = 0;
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
    c->http->parse_start = c->in + c->in_off;
    llhttp_errno_t e =
        llhttp_execute(&c->http->parser, c->http->parse_start, c->in_len - c->in_off);
    if (e == HPE_OK) {
        consume_input(w, c);
    } else if (e == HPE_PAUSED) {
        uint32_t pos = (uint32_t)(llhttp_get_error_pos(&c->http->parser) - c->in);
        llhttp_resume(&c->http->parser);
        c->in_off = pos;
        if (c->closing || c->in_off >= c->in_len)
            consume_input(w, c);
    } else if (e == HPE_PAUSED_UPGRADE) {
        consume_input(w, c); /* answered as plain HTTP; no protocol switch follows */
        c->closing = true;
    } else {
        const struct fl_req *r = &c->http->req;
        int status = r->status ? r->status : 400;
        const char *why = r->status ? r->why : llhttp_get_error_reason(&c->http->parser);
        enum fl_oom kind = (enum fl_oom)r->oom_kind;
        uint64_t bytes = r->oom_bytes;
        consume_input(w, c);
        fl_http_reset(w, c); /* frees the target and body before the 503 is allocated */
        if (status == 503)   /* only reject_oom refuses with 503 */
            fl_http_unavailable(w, c, kind, bytes);
        else
            fl_http_fail(w, c, status, why);
        return false;
    }
    struct fl_req *r = &c->http->req;
    if (r->active && r->headers_done && r->expect_100 && !r->sent_100 && !c->closing) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        r->sent_100 = fl_out_push(w, &c->out, NULL, cont, sizeof(cont) - 1);
    }
    return !c->closing;
}

static const char *reason(int status);
static bool respond_copy(struct fl_worker *w, struct fl_conn *c, int status, const char *ctype,
                         const void *src, size_t len, size_t *total);

/* Answers and closes; when even the answer's small buffer cannot be had,
 * the connection closes without one (that failure is counted as a
 * response's unless the answer was already a 503 for a counted one). */
void fl_http_fail(struct fl_worker *w, struct fl_conn *c, int status, const char *why)
{
    char msg[200];
    int n = snprintf(msg, sizeof(msg), "%d %s: %s\n", status, reason(status),
                     why && *why ? why : "malformed request");
    size_t total;
    c->closing = true;
    if (!respond_copy(w, c, status, "text/plain", msg,
                      (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1, &total) &&
        status != 503)
        FL_COUNT(&w->ctr, alloc_failures[FL_OOM_response], 1);
}

static const char *const alloc_what[FL_NOOM] = {
#define FL_X(kind, what) [FL_OOM_##kind] = what,
    FL_OOM_KINDS(FL_X)
#undef FL_X
};

void fl_http_unavailable(struct fl_worker *w, struct fl_conn *c, enum fl_oom kind, uint64_t bytes)
{
    char why[96];
    FL_COUNT(&w->ctr, alloc_failures[kind], 1);
    snprintf(why, sizeof(why), "cannot allocate %s of %llu bytes", alloc_what[kind],
             (unsigned long long)bytes);
    fl_http_fail(w, c, 503, why);
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
    case 408:
        return "Request Timeout";
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
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
}

/* A response head being written: bytes past `end` are dropped (the heads
 * written here are far shorter than their buffer). */
struct head {
    char *p, *end;
};

static void put(struct head *h, const char *s, size_t n)
{
    if (n > (size_t)(h->end - h->p))
        n = (size_t)(h->end - h->p);
    memcpy(h->p, s, n);
    h->p += n;
}

#define PUT_LIT(h, lit) put((h), (lit), sizeof(lit) - 1)

static void put_str(struct head *h, const char *s)
{
    put(h, s, strlen(s));
}

static void put_u64(struct head *h, uint64_t v)
{
    char d[20];
    size_t i = sizeof(d);
    do
        d[--i] = (char)('0' + v % 10);
    while (v /= 10);
    put(h, d + i, sizeof(d) - i);
}

/* The status line and headers. Written piece by piece, not by snprintf:
 * formatting was 42 % of the server's own instructions per /healthz
 * request (callgrind, bench/README.md). */
static bool http10(const struct fl_conn *c)
{
    return c->http && c->http->parser.http_major == 1 && c->http->parser.http_minor == 0;
}

/* Whether format_head gives `c` the head of a keep-alive HTTP/1.1 request
 * (no Connection or Allow header), the one fl_http_const_make makes. */
static bool plain_head(const struct fl_conn *c)
{
    return !c->closing && !http10(c) && !(c->http && c->http->req.allow);
}

static size_t format_head(char *dst, size_t cap, const struct fl_conn *c, int status,
                          const char *ctype, size_t len)
{
    const struct fl_http *http = c->http;
    struct head h = {dst, dst + cap};
    PUT_LIT(&h, "HTTP/1.1 ");
    put_u64(&h, (uint64_t)status);
    PUT_LIT(&h, " ");
    put_str(&h, reason(status));
    PUT_LIT(&h, "\r\nServer: fraglab\r\nContent-Type: ");
    put_str(&h, ctype);
    PUT_LIT(&h, "\r\nContent-Length: ");
    put_u64(&h, len);
    PUT_LIT(&h, "\r\n");
    if (c->closing)
        PUT_LIT(&h, "Connection: close\r\n");
    else if (http10(c))
        PUT_LIT(&h, "Connection: keep-alive\r\n");
    if (http && http->req.allow)
        put_str(&h, http->req.allow);
    PUT_LIT(&h, "\r\n");
    return (size_t)(h.p - dst);
}

/* Queues `len` bytes at `data`, owned by the fl_buf `buf` (NULL: static). */
static void queue_or_close(struct fl_worker *w, struct fl_conn *c, void *buf, const void *data,
                           size_t len)
{
    /* Full (the parser pauses well before) or no room to grow: the answer
     * is lost, and the connection closes so that no later answer is read
     * as this one's. */
    if (!fl_out_push(w, &c->out, buf, data, len)) {
        fl_buf_free(w, buf);
        c->closing = true;
    }
}

static bool head_only(const struct fl_conn *c)
{
    return c->http && c->http->req.head_only; /* no parser: refused before a request */
}

/* Allocates one buffer of the response's size holding the head; the body,
 * `len` bytes (none for HEAD), goes at `*body`. NULL when the buffer cannot
 * be had; `*total` is its size either way. */
static char *begin_response(struct fl_worker *w, struct fl_conn *c, int status, const char *ctype,
                            size_t len, char **body, size_t *total)
{
    char head[256];
    size_t hl = format_head(head, sizeof(head), c, status, ctype, len);
    size_t blen = head_only(c) ? 0 : len;
    *total = blen > SIZE_MAX - hl ? SIZE_MAX : hl + blen;
    char *buf = fl_buf_alloc(w, *total);
    if (!buf)
        return NULL;
    memcpy(buf, head, hl);
    *body = buf + hl;
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
    if (!buf) {
        fl_http_unavailable(w, c, FL_OOM_response, total);
        return;
    }
    if (!head_only(c))
        fill(body, len);
    queue_or_close(w, c, buf, buf, total);
}

static bool respond_copy(struct fl_worker *w, struct fl_conn *c, int status, const char *ctype,
                         const void *src, size_t len, size_t *total)
{
    char *body;
    char *buf = begin_response(w, c, status, ctype, len, &body, total);
    if (!buf)
        return false;
    if (!head_only(c) && len)
        memcpy(body, src, len);
    queue_or_close(w, c, buf, buf, *total);
    return true;
}

void fl_http_respond(struct fl_worker *w, struct fl_conn *c, int status, const char *ctype,
                     const void *src, size_t len)
{
    size_t total;
    if (!respond_copy(w, c, status, ctype, src, len, &total))
        fl_http_unavailable(w, c, FL_OOM_response, total);
}

bool fl_http_const_make(struct fl_http_const *r, int status, const char *ctype, const char *body)
{
    struct fl_conn c; /* a keep-alive connection with no request: format_head's plain head */
    memset(&c, 0, sizeof(c));
    size_t len = strlen(body);
    size_t hl = format_head(r->bytes, sizeof(r->bytes), &c, status, ctype, len);
    if (hl + len > sizeof(r->bytes))
        return false;
    memcpy(r->bytes + hl, body, len);
    r->len = hl + len;
    return true;
}

void fl_http_respond_const(struct fl_worker *w, struct fl_conn *c, const struct fl_http_const *r,
                           int status, const char *ctype, const char *body)
{
    if (!r->len || !c->http || head_only(c) || !plain_head(c)) {
        fl_http_respond(w, c, status, ctype, body, strlen(body));
        return;
    }
    if (status >= 400)
        FL_COUNT(&w->ctr, http_errors, 1);
    queue_or_close(w, c, NULL, r->bytes, r->len);
}

void fl_http_respond_buf(struct fl_worker *w, struct fl_conn *c, int status, const char *ctype,
                         void *body, size_t len)
{
    char head[256];
    size_t hl = format_head(head, sizeof(head), c, status, ctype, len);
    char *hb = fl_buf_alloc(w, hl);
    if (!hb) {
        fl_buf_free(w, body);
        fl_http_unavailable(w, c, FL_OOM_response, hl);
        return;
    }
    memcpy(hb, head, hl);
    queue_or_close(w, c, hb, hb, hl);
    if (head_only(c) || !len)
        fl_buf_free(w, body);
    else
        queue_or_close(w, c, body, body, len);
}
