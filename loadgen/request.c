/* request.c - request building from scenario draws. */
#include "request.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rand.h"

int fl_noise_init(struct fl_noise *n, uint64_t max_body, uint64_t seed)
{
    size_t len = (size_t)max_body + FL_REQ_NOISE_SLACK;
    uint8_t *b = malloc(len);
    if (!b)
        return -ENOMEM;
    uint64_t rng = fl_dist_stream(seed, UINT64_MAX);
    for (size_t i = 0; i < len; i += 8) {
        uint64_t x = fl_rand_next(&rng);
        size_t k = len - i < 8 ? len - i : 8;
        memcpy(b + i, &x, k);
    }
    n->bytes = b;
    n->len = len;
    return 0;
}

void fl_noise_free(struct fl_noise *n)
{
    free((void *)n->bytes);
    n->bytes = NULL;
    n->len = 0;
}

uint64_t fl_req_max_body(const struct fl_scenario *s)
{
    uint64_t m = 0;
    for (size_t i = 0; i < s->nrequests; i++) {
        uint64_t b = fl_dist_highest(&s->requests[i].body);
        if (b > m)
            m = b;
    }
    return m;
}

/* Appends to the head; false once it no longer fits. */
struct head {
    char *p;
    size_t len, cap;
    bool ok;
};

__attribute__((format(printf, 2, 3))) static void put(struct head *h, const char *fmt, ...)
{
    if (!h->ok)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(h->p + h->len, h->cap - h->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= h->cap - h->len)
        h->ok = false;
    else
        h->len += (size_t)n;
}

static void body_window(struct fl_req *r, uint64_t len, uint64_t *rng, const struct fl_noise *n)
{
    uint64_t off = fl_rand_next(rng) % FL_REQ_NOISE_SLACK;
    r->body = n->bytes + off;
    r->body_len = (size_t)len;
}

static int finish(struct fl_req *r, struct head *h, const char *host, bool close)
{
    put(h, " HTTP/1.1\r\nHost: %s\r\n", host);
    if (r->body_len || r->want.body == FL_RESP_BODY_ECHO)
        put(h, "Content-Length: %zu\r\n", r->body_len);
    if (close)
        put(h, "Connection: close\r\n");
    put(h, "\r\n");
    r->head_len = h->len;
    return h->ok ? 0 : -ENOSPC;
}

int fl_req_build(struct fl_req *r, const struct fl_scenario_request *q, uint64_t *rng,
                 double progress, const char *host, bool close, const struct fl_noise *n)
{
    struct head h = {.p = r->head, .cap = sizeof(r->head), .ok = true};
    memset(&r->want, 0, sizeof(r->want));
    r->body = NULL;
    r->body_len = 0;
    r->tcp = false;
    r->head_len = 0;
    r->want.status = 200;

    switch (q->kind) {
    case FL_SCENARIO_ECHO:
        body_window(r, fl_dist_sample(&q->body, rng, progress), rng, n);
        r->want.body = FL_RESP_BODY_ECHO;
        r->want.echo = r->body;
        r->want.len = r->body_len;
        put(&h, "POST /echo");
        break;
    case FL_SCENARIO_TCP:
        body_window(r, fl_dist_sample(&q->body, rng, progress), rng, n);
        r->tcp = true;
        r->head[0] = '\0';
        return 0;
    case FL_SCENARIO_GET:
        put(&h, "GET %s", q->path);
        r->want.body = FL_RESP_BODY_ANY;
        break;
    case FL_SCENARIO_WORK: {
        /* Every distribution is drawn, set or not, so the draws line up. */
        uint64_t resp = fl_dist_sample(&q->resp, rng, progress);
        uint64_t burst = fl_dist_sample(&q->burst, rng, progress);
        uint64_t bmin = fl_dist_sample(&q->burst_min, rng, progress);
        uint64_t bmax = fl_dist_sample(&q->burst_max, rng, progress);
        uint64_t hold = fl_dist_sample(&q->hold, rng, progress);
        uint64_t hold_for = fl_dist_sample(&q->hold_for, rng, progress);
        uint64_t seed = fl_rand_next(rng) % 1000000 + 1;
        uint64_t body = fl_dist_sample(&q->body, rng, progress);
        if (q->post)
            body_window(r, body, rng, n);
        else
            (void)fl_rand_next(rng);
        put(&h, "%s /work?resp=%" PRIu64, q->post ? "POST" : "GET", resp);
        if (q->burst.set && burst) {
            put(&h, "&burst=%" PRIu64, burst);
            if (q->burst_min.set)
                put(&h, "&burst_min=%" PRIu64, bmin);
            if (q->burst_max.set)
                put(&h, "&burst_max=%" PRIu64, bmax);
            put(&h, "&seed=%" PRIu64, seed);
        }
        if (q->hold.set && hold) {
            put(&h, "&hold=%" PRIu64, hold);
            if (q->hold_for_conn)
                put(&h, "&hold_for=conn");
            else if (q->hold_for.set)
                put(&h, "&hold_for=%" PRIu64, hold_for);
        }
        r->want.body = FL_RESP_BODY_PATTERN;
        r->want.len = resp;
        break;
    }
    default:
        return -EINVAL;
    }
    return finish(r, &h, host, close);
}

int fl_req_build_get(struct fl_req *r, const char *path, const char *host, bool close)
{
    struct head h = {.p = r->head, .cap = sizeof(r->head), .ok = true};
    memset(&r->want, 0, sizeof(r->want));
    r->body = NULL;
    r->body_len = 0;
    r->tcp = false;
    r->want.status = 200;
    r->want.body = FL_RESP_BODY_ANY;
    put(&h, "GET %s", path);
    return finish(r, &h, host, close);
}
