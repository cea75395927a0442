/* resp.c - response parsing and streaming verification on llhttp: the
 * callbacks record the first failure in r->result and never stop the parser
 * (except for close-delimited bodies, which cannot be resynchronised), and
 * on_message_complete pauses llhttp so that one call consumes exactly one
 * final response. */
#include "resp.h"

#include <string.h>

static struct fl_resp *resp_of(llhttp_t *p)
{
    return p->data;
}

static bool is_interim(const llhttp_t *p)
{
    return p->status_code / 100 == 1;
}

/* Records a failure unless an earlier one already decided the verdict. */
static void fail(struct fl_resp *r, enum fl_resp_result res)
{
    if (r->result == FL_RESP_OK)
        r->result = res;
}

static bool no_body_status(int status)
{
    return status / 100 == 1 || status == 204 || status == 304;
}

static int on_headers_complete_cb(llhttp_t *p)
{
    struct fl_resp *r = resp_of(p);
    const struct fl_resp_expect *w = r->want;

    if (is_interim(p))
        return 0; /* 100 Continue and friends: wait for the final response */
    r->status = p->status_code;
    if (r->status != w->status) /* a 503 is fraglab-server out of memory: its own kind */
        fail(r, r->status == 503 ? FL_RESP_UNAVAILABLE : FL_RESP_STATUS);
    /* A body running to connection close can't be followed by another
     * response; we don't support it, and returning -1 stops the parser. */
    if (!w->head && llhttp_message_needs_eof(p)) {
        r->result = FL_RESP_PROTOCOL;
        return -1;
    }
    /* A HEAD response's Content-Length is that of the GET body (RFC 9110
     * 9.3.2), so it is checked the same way; chunked lengths are checked at
     * the end. */
    if (w->body != FL_RESP_BODY_ANY && (p->flags & F_CONTENT_LENGTH) &&
        !no_body_status(r->status) && p->content_length != w->len)
        fail(r, FL_RESP_LENGTH);
    return w->head ? 1 : 0; /* 1: llhttp skips the body */
}

/* Index of the first byte of b that breaks the /work pattern at offset off. */
static size_t pattern_diff(uint64_t off, const uint8_t *b, size_t n)
{
    unsigned c = (unsigned)(off % 26);
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 'a' + c)
            return i;
        if (++c == 26)
            c = 0;
    }
    return n;
}

static int on_body_cb(llhttp_t *p, const char *at, size_t len)
{
    struct fl_resp *r = resp_of(p);
    const struct fl_resp_expect *w = r->want;
    const uint8_t *b = (const uint8_t *)at;
    uint64_t off = r->seen;

    if (is_interim(p))
        return 0;
    r->seen += len;
    if (r->result != FL_RESP_OK || w->body == FL_RESP_BODY_ANY)
        return 0;
    /* Only bytes within the expected length are compared; a chunked body
     * running past it fails as LENGTH in on_message_complete (a wrong
     * Content-Length already failed in on_headers_complete). */
    size_t n = off < w->len ? (size_t)(w->len - off < len ? w->len - off : len) : 0;
    if (w->body == FL_RESP_BODY_PATTERN && pattern_diff(off, b, n) != n)
        fail(r, FL_RESP_MISMATCH);
    else if (w->body == FL_RESP_BODY_ECHO && n > 0 && memcmp(w->echo + off, b, n) != 0)
        fail(r, FL_RESP_MISMATCH);
    return 0;
}

static int on_message_complete_cb(llhttp_t *p)
{
    struct fl_resp *r = resp_of(p);
    const struct fl_resp_expect *w = r->want;

    if (is_interim(p))
        return 0;
    if (w->body != FL_RESP_BODY_ANY && !w->head && !no_body_status(r->status) && r->seen != w->len)
        fail(r, FL_RESP_LENGTH);
    /* Must be read here: llhttp clears the flags it needs right after. */
    r->keep_alive = llhttp_should_keep_alive(p);
    r->complete = true;
    return HPE_PAUSED; /* one response per fl_resp_feed call */
}

/* Shared by every connection; llhttp only reads it. */
static const llhttp_settings_t settings = {
    .on_headers_complete = on_headers_complete_cb,
    .on_body = on_body_cb,
    .on_message_complete = on_message_complete_cb,
};

static const struct fl_resp_expect expect_any = {.status = 200, .body = FL_RESP_BODY_ANY};

void fl_resp_init(struct fl_resp *r)
{
    memset(r, 0, sizeof(*r));
    llhttp_init(&r->parser, HTTP_RESPONSE, &settings);
    r->parser.data = r;
    fl_resp_expect(r, &expect_any);
}

void fl_resp_expect(struct fl_resp *r, const struct fl_resp_expect *want)
{
    r->want = want;
    r->seen = 0;
    r->status = 0;
    r->result = FL_RESP_OK;
    r->keep_alive = false;
    r->complete = false;
}

enum fl_resp_result fl_resp_feed(struct fl_resp *r, const char *data, size_t len, size_t *used)
{
    if (r->complete) { /* the caller has not set the next expectation yet */
        *used = 0;
        return r->result;
    }
    llhttp_errno_t err = llhttp_execute(&r->parser, data, len);
    if (err == HPE_OK) {
        *used = len;
        return FL_RESP_MORE;
    }
    const char *pos = llhttp_get_error_pos(&r->parser);
    *used = pos && pos >= data && pos <= data + len ? (size_t)(pos - data) : len;
    if (err == HPE_PAUSED && r->complete) {
        llhttp_resume(&r->parser);
        return r->result;
    }
    /* Parse error, callback error or an unexpected upgrade: the stream can't
     * be resynchronised, and llhttp keeps returning the error from now on. */
    r->result = FL_RESP_PROTOCOL;
    r->keep_alive = false;
    r->complete = true;
    return FL_RESP_PROTOCOL;
}

bool fl_resp_keep_alive(const struct fl_resp *r)
{
    return r->complete && r->keep_alive && r->result != FL_RESP_PROTOCOL;
}
