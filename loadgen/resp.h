/* resp.h - incremental HTTP/1.1 response parsing and verification for the
 * load generator, on llhttp in response mode. Bytes are fed as they arrive;
 * each call stops right after one complete final response, so pipelined
 * responses are taken one at a time, each against its own expectation. 1xx
 * interim responses (100 Continue) are skipped. The body is checked as it
 * streams past, never buffered: against the bytes sent (/echo) or against the
 * /work pattern, byte i = 'a' + i % 26. A response that fails a check is still
 * consumed to its end so the connection stays in sync; only FL_RESP_PROTOCOL
 * leaves the connection unusable. Responses delimited by connection close
 * (no Content-Length, not chunked) are not supported: FL_RESP_PROTOCOL. */
#ifndef FL_RESP_H
#define FL_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

enum fl_resp_body {
    FL_RESP_BODY_ANY,     /* any body, any length */
    FL_RESP_BODY_ECHO,    /* exactly want->echo[0 .. len) */
    FL_RESP_BODY_PATTERN, /* len bytes of 'a' + i % 26 */
};

/* What the next response must look like. Owned by the caller; must stay
 * valid (echo included) until that response completes. */
struct fl_resp_expect {
    int status;             /* expected final status, e.g. 200 */
    enum fl_resp_body body; /* how to check the body */
    const uint8_t *echo;    /* FL_RESP_BODY_ECHO: the bytes sent */
    uint64_t len;           /* expected body length (ECHO, PATTERN); ignored for ANY */
    bool head;              /* request was HEAD: no body expected */
};

/* Verdicts, best first; a response gets the first failure found. */
enum fl_resp_result {
    FL_RESP_MORE,        /* response incomplete: feed more bytes */
    FL_RESP_OK,          /* complete and as expected */
    FL_RESP_UNAVAILABLE, /* 503 where another status was expected: the server
                          * refused the request for want of memory */
    FL_RESP_STATUS,      /* final status differs */
    FL_RESP_LENGTH,      /* Content-Length or body length differs */
    FL_RESP_MISMATCH,    /* a body byte differs */
    FL_RESP_PROTOCOL,    /* not parseable HTTP/1.1 (or close-delimited): close the connection */
};

/* Per-connection parser state; fields other than `parser` are read-only. */
struct fl_resp {
    llhttp_t parser;
    const struct fl_resp_expect *want;
    uint64_t seen;              /* body bytes of the final response so far */
    int status;                 /* final status, 0 until its headers are parsed */
    enum fl_resp_result result; /* FL_RESP_OK or the first failure so far */
    bool keep_alive;            /* valid once complete */
    bool complete;              /* the final response has been consumed */
};

/* Prepares r for a new connection (once per connection). */
void fl_resp_init(struct fl_resp *r);
/* Sets the expectation for the next response; call before feeding it. */
void fl_resp_expect(struct fl_resp *r, const struct fl_resp_expect *want);
/* Feeds received bytes, stopping right after one complete final response;
 * *used = bytes consumed (the rest belongs to the next response). Returns
 * FL_RESP_MORE while incomplete (then *used == len), else the verdict. */
enum fl_resp_result fl_resp_feed(struct fl_resp *r, const char *data, size_t len, size_t *used);
/* After a complete response: whether the connection may carry another request. */
bool fl_resp_keep_alive(const struct fl_resp *r);

#endif
