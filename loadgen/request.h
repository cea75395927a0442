/* request.h - turns one draw of the scenario's request mix into the bytes
 * to send and the answer to expect. Bodies are never generated per request:
 * they are windows into one read-only block of random bytes (the "noise")
 * shared by every thread, so a request costs a header format and nothing
 * else, and an echo answer is checked against the very bytes sent. */
#ifndef FL_LOADGEN_REQUEST_H
#define FL_LOADGEN_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resp.h"
#include "scenario.h"

#define FL_REQ_HEAD_MAX 512 /* a /work query or a get path with its headers */

/* Bodies start at a random offset below this into the noise block. */
#define FL_REQ_NOISE_SLACK 4096

struct fl_noise {
    const uint8_t *bytes;
    size_t len; /* the largest body plus FL_REQ_NOISE_SLACK */
};

/* One request, ready to send. */
struct fl_req {
    char head[FL_REQ_HEAD_MAX]; /* HTTP request line and headers; empty for tcp */
    size_t head_len;
    const uint8_t *body; /* into the noise block */
    size_t body_len;
    bool tcp;                   /* raw echo: the answer is body_len bytes equal to body */
    struct fl_resp_expect want; /* HTTP: the answer to expect */
};

/* Allocates the noise block for bodies up to `max_body` bytes, filled from
 * `seed`; 0 or -ENOMEM. */
int fl_noise_init(struct fl_noise *n, uint64_t max_body, uint64_t seed);
void fl_noise_free(struct fl_noise *n);

/* The largest body any request of `s` can send. */
uint64_t fl_req_max_body(const struct fl_scenario *s);

/* Builds request `q` drawn at run progress 0..1 for the server at `host`
 * (the Host header). `close` adds "Connection: close" (the connection's
 * last request, so the server closes first and keeps the TIME_WAIT).
 * Draws from `rng` a fixed number of times per kind, so the same stream
 * gives the same requests. 0, or -ENOSPC when the head does not fit. */
int fl_req_build(struct fl_req *r, const struct fl_scenario_request *q, uint64_t *rng,
                 double progress, const char *host, bool close, const struct fl_noise *n);

/* `GET path` expecting 200 and any body (the --path mode). */
int fl_req_build_get(struct fl_req *r, const char *path, const char *host, bool close);

#endif
