/* routes.c - the endpoints: /healthz, /echo, /work, /stats, /metrics and
 * /admin/release. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "routes.h"

#include "buf.h"
#include "conn.h"
#include "stats.h"
#include "workload.h"
#include "worker.h"

static bool path_is(const char *path, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(path, want, len) == 0;
}

static void respond_text(struct fl_worker *w, struct fl_conn *c, int status, const char *msg)
{
    fl_http_respond(w, c, status, "text/plain", msg, strlen(msg));
}

/* /healthz answers from bytes made once: a health check allocates nothing
 * (the experiment's allocations are /echo's and /work's). */
static struct fl_http_const healthz_ok;
static pthread_once_t healthz_once = PTHREAD_ONCE_INIT;

static void healthz_make(void)
{
    fl_http_const_make(&healthz_ok, 200, "text/plain", "ok");
}

static void respond_healthz(struct fl_worker *w, struct fl_conn *c)
{
    pthread_once(&healthz_once, healthz_make);
    fl_http_respond_const(w, c, &healthz_ok, 200, "text/plain", "ok");
}

/* The view /stats and /metrics render: every worker's counters, read with
 * relaxed loads while they run, and one allocator snapshot. */
static void render_stats(struct fl_worker *w, struct fl_conn *c, bool prometheus)
{
    struct fl_server *srv = w->srv;
    struct fl_stats_worker views[FL_MAX_WORKERS];
    int n = srv->nworkers;
    for (int i = 0; i < n; i++)
        views[i] = (struct fl_stats_worker){srv->workers[i].id, srv->workers[i].cpu,
                                            srv->workers[i].pinned, &srv->workers[i].ctr};
    struct fl_alloc_stats mem;
    fl_alloc_sample_thread();
    fl_alloc_stats_read(&mem);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct fl_stats_view v = {
        .cfg = &srv->cfg,
        .alloc = srv->alloc,
        .mem = &mem,
        .workers = views,
        .nworkers = n,
        .pid = (long)getpid(),
        .uptime_s = (double)(now.tv_sec - srv->started.tv_sec) +
                    (double)(now.tv_nsec - srv->started.tv_nsec) / 1e9,
    };
    size_t len = 0;
    char *text = prometheus ? fl_stats_prometheus(&v, &len) : fl_stats_json(&v, &len);
    if (!text) {
        respond_text(w, c, 503, "stats unavailable\n");
        return;
    }
    fl_http_respond(w, c, 200, prometheus ? "text/plain; version=0.0.4" : "application/json", text,
                    len);
    free(text);
}

/* Release now: every worker flushes its own thread caches (mimalloc's
 * heaps and jemalloc's tcaches can only be flushed by their own thread),
 * this one waits until they did (bounded), then the process-wide part, so
 * "after" includes every flush (worker.c). */
static void release(struct fl_worker *w, struct fl_conn *c)
{
    struct fl_procmem before, after;
    fl_procmem_read(0, &before);
    int flushed = fl_worker_release_all(w);
    fl_procmem_read(0, &after);
    char body[256];
    int n = snprintf(body, sizeof(body),
                     "{\"allocator\":\"%s\",\"rss_before_bytes\":%lld,\"rss_after_bytes\":%lld,"
                     "\"workers_notified\":%d,\"workers_flushed\":%d}\n",
                     w->srv->alloc ? w->srv->alloc->name : "?", (long long)before.rss,
                     (long long)after.rss, w->srv->nworkers - 1, flushed);
    fl_http_respond(w, c, 200, "application/json", body, (size_t)n);
}

/* Holds what the request asks for past its answer; false when it was
 * answered instead (503: over the server-wide budget, or out of memory). */
static bool hold(struct fl_worker *w, struct fl_conn *c, const struct fl_work_req *r)
{
    struct fl_server *srv = w->srv;
    switch (fl_hold_take(w, &c->holds, &srv->hold_budget, &srv->cfg, r, c->nreq)) {
    case FL_HOLD_OK:
        FL_COUNT(&w->ctr, held_bytes, (int64_t)r->hold);
        return true;
    case FL_HOLD_OVER_BUDGET: {
        /* Not an allocation failure: the server is fine and the
         * connection stays open; the client may retry once holds end. */
        char msg[200];
        FL_COUNT(&w->ctr, hold_budget_refusals, 1);
        snprintf(msg, sizeof(msg),
                 "hold=%llu would exceed the server-wide budget work_max_held_total=%lld\n",
                 (unsigned long long)r->hold, (long long)srv->cfg.work_max_held_total);
        respond_text(w, c, 503, msg);
        return false;
    }
    case FL_HOLD_NO_MEMORY:
        break;
    }
    fl_http_unavailable(w, c, FL_OOM_hold, r->hold);
    return false;
}

static void work(struct fl_worker *w, struct fl_conn *c, const char *query, size_t qlen)
{
    struct fl_work_req r;
    char err[256];
    if (fl_work_parse(query, qlen, &w->srv->cfg, &r, err, sizeof(err))) {
        size_t n = strlen(err);
        if (n + 1 < sizeof(err))
            err[n] = '\n', err[n + 1] = '\0';
        respond_text(w, c, 400, err);
        return;
    }
    if (r.hold && c->holds.bytes + r.hold > (uint64_t)w->srv->cfg.work_max_hold_conn) {
        snprintf(err, sizeof(err), "hold=%llu would exceed the cap work_max_hold_conn=%lld\n",
                 (unsigned long long)r.hold, (long long)w->srv->cfg.work_max_hold_conn);
        respond_text(w, c, 400, err);
        return;
    }
    size_t failed = r.burst ? fl_work_burst(w, &r, NULL) : 0;
    if (failed) {
        fl_http_unavailable(w, c, FL_OOM_burst, failed);
        return;
    }
    if (r.hold && !hold(w, c, &r))
        return;
    fl_http_respond_fill(w, c, 200, "text/plain", r.resp, fl_work_fill);
}

/* The Allow header of a known path, NULL for an unknown one. */
static const char *allowed(const char *path, size_t len)
{
    if (path_is(path, len, "/echo") || path_is(path, len, "/admin/release"))
        return "Allow: POST, PUT\r\n";
    if (path_is(path, len, "/work"))
        return "Allow: GET, HEAD, POST, PUT\r\n";
    if (path_is(path, len, "/healthz") || path_is(path, len, "/stats") ||
        path_is(path, len, "/metrics"))
        return "Allow: GET, HEAD\r\n";
    return NULL;
}

static void route(struct fl_worker *w, struct fl_conn *c)
{
    const char *t = c->http->req.target ? c->http->req.target : "";
    size_t tlen = c->http->req.target_len;
    const char *q = memchr(t, '?', tlen);
    size_t plen = q ? (size_t)(q - t) : tlen;
    size_t qlen = q ? tlen - plen - 1 : 0;
    uint8_t m = llhttp_get_method(&c->http->parser);
    bool get = m == HTTP_GET || m == HTTP_HEAD, post = m == HTTP_POST || m == HTTP_PUT;

    if (path_is(t, plen, "/echo") && post) {
        void *body = c->http->req.body;
        c->http->req.body = NULL; /* the response takes the request's buffer */
        fl_http_respond_buf(w, c, 200, "application/octet-stream", body, c->http->req.body_len);
    } else if (path_is(t, plen, "/work") && (get || post)) {
        work(w, c, q ? q + 1 : "", qlen);
    } else if (path_is(t, plen, "/healthz") && get) {
        respond_healthz(w, c);
    } else if ((path_is(t, plen, "/stats") || path_is(t, plen, "/metrics")) && get) {
        render_stats(w, c, path_is(t, plen, "/metrics"));
    } else if (path_is(t, plen, "/admin/release") && post) {
        release(w, c);
    } else if ((c->http->req.allow = allowed(t, plen))) {
        respond_text(w, c, 405, "method not allowed\n");
    } else {
        respond_text(w, c, 404, "not found\n");
    }
}

void fl_routes_cb(struct fl_worker *w, struct fl_conn *c)
{
    route(w, c);
    /* Holds end with the request that completes their time (hold_for). */
    uint64_t freed = fl_holds_release(w, &c->holds, &w->srv->hold_budget, c->nreq);
    if (freed)
        FL_COUNT(&w->ctr, held_bytes, -(int64_t)freed);
}
