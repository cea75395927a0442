/* test_conn.c - a connection driven through conn.c's I/O-free seam, the
 * calls the ring driver (conn_ring.c) makes: fl_conn_feed for bytes
 * received, fl_conn_sent for bytes sent, fl_conn_expired for a deadline,
 * and what each says the connection wants next. No ring, no socket: the
 * output is read straight from the connection's queue.
 *
 * The route is a stub (the seam takes any): it answers each request with
 * its target as the body, so the order of answers shows, and /big with
 * 300 KiB, more than the parser lets wait before it pauses. Every test
 * ends by freeing the connection and checking that no server buffer is
 * left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "conn.h"
#include "http.h"
#include "worker.h"

#define BIG (300 * 1024) /* over http.c's MAX_PENDING_OUT (256 KiB) */

static struct fl_server srv;
static struct fl_worker worker;
static unsigned routed; /* requests the route answered */
static bool const_off;  /* /const answered by fl_http_respond */

static void fill_x(char *dst, size_t len)
{
    memset(dst, 'x', len);
}

static void stub_route_cb(struct fl_worker *w, struct fl_conn *c)
{
    const struct fl_req *r = &c->http->req;
    routed++;
    static struct fl_http_const ok;
    if (!ok.len)
        assert_true(fl_http_const_make(&ok, 200, "text/plain", "/const"));
    if (r->target_len == 4 && !memcmp(r->target, "/big", 4))
        fl_http_respond_fill(w, c, 200, "text/plain", BIG, fill_x);
    else if (r->target_len == 6 && !memcmp(r->target, "/const", 6) && !const_off)
        fl_http_respond_const(w, c, &ok, 200, "text/plain", "/const");
    else
        fl_http_respond(w, c, 200, "text/plain", r->target, r->target_len);
}

static int setup_server(void **state)
{
    (void)state;
    char *argv[] = {"test_conn", NULL};
    char err[256];
    if (fl_config_load(1, argv, &srv.cfg, err, sizeof(err)) != FL_CONFIG_OK) {
        fprintf(stderr, "test_conn: %s\n", err);
        return -1;
    }
    srv.workers = &worker;
    srv.nworkers = 1;
    srv.route = stub_route_cb;
    worker.srv = &srv;
    worker.cpu = -1;
    worker.wake_fd = -1;
    worker.rng = 1;
    return 0;
}

static int new_http(void **state)
{
    routed = 0;
    struct fl_conn *c = fl_conn_new(&worker, FL_CONN_HTTP);
    assert_non_null(c);
    *state = c;
    return 0;
}

static int new_echo(void **state)
{
    struct fl_conn *c = fl_conn_new(&worker, FL_CONN_ECHO);
    assert_non_null(c);
    *state = c;
    return 0;
}

/* Frees the connection: every buffer it or its requests took is gone. */
static int free_conn(void **state)
{
    fl_conn_free(&worker, *state);
    fl_http_cache_free(&worker);
    fl_out_cache_free(&worker);
    assert_int_equal(FL_READ(&worker.ctr, buffer_bytes), 0);
    assert_int_equal(FL_READ(&worker.ctr, connections_open), 0);
    return 0;
}

/* Feeds `s` as one read (a copy in an fl_buf, as the ring driver makes). */
static enum fl_conn_next feed(struct fl_conn *c, const char *s)
{
    size_t n = strlen(s);
    char *b = fl_buf_alloc(&worker, n);
    assert_non_null(b);
    memcpy(b, s, n);
    return fl_conn_feed(&worker, c, b, n);
}

/* What waits in the output queue, as one NUL-terminated string. */
static char sent_text[BIG + 4096];

static size_t queued(const struct fl_conn *c)
{
    size_t len = 0;
    const struct fl_outq *q = c->out.q;
    for (uint32_t i = q ? q->head : 0; q && i < q->n; i++) {
        assert_true(len + q->iov[i].iov_len < sizeof(sent_text));
        memcpy(sent_text + len, q->iov[i].iov_base, q->iov[i].iov_len);
        len += q->iov[i].iov_len;
    }
    sent_text[len] = '\0';
    assert_int_equal(len, fl_out_bytes(&c->out));
    return len;
}

/* Sends everything queued, as one writev that went through whole. */
static enum fl_conn_next send_all(struct fl_conn *c)
{
    return fl_conn_sent(&worker, c, queued(c));
}

#define REQ(target) "GET " target " HTTP/1.1\r\nHost: t\r\n\r\n"

/* Two requests in one read: both answered, in order, from that read. */
static void test_pipelined_pair_in_order(void **state)
{
    struct fl_conn *c = *state;
    assert_int_equal(feed(c, REQ("/first") REQ("/second")), FL_CONN_SEND);
    assert_int_equal(routed, 2);
    queued(c);
    char *a = strstr(sent_text, "\r\n\r\n/first"), *b = strstr(sent_text, "\r\n\r\n/second");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(a < b);
    assert_int_equal(strncmp(sent_text, "HTTP/1.1 200 OK\r\n", 17), 0);
    assert_int_equal(send_all(c), FL_CONN_RECV);
    assert_false(fl_out_pending(&c->out));
    assert_null(c->in);
    assert_null(c->http); /* idle between requests: the parser went back */
    assert_false(c->closing);
}

/* A constant answer is the same bytes fl_http_respond makes, queued
 * without an allocation; a request that needs another head (HEAD, HTTP/1.0,
 * Connection: close) gets that head. */
static void test_const_answer(void **state)
{
    struct fl_conn *c = *state;
    const_off = true;
    int64_t allocs = FL_READ(&worker.ctr, buffer_allocs);
    assert_int_equal(feed(c, REQ("/const")), FL_CONN_SEND);
    int64_t respond_allocs = FL_READ(&worker.ctr, buffer_allocs) - allocs;
    char made[512];
    size_t n = queued(c);
    memcpy(made, sent_text, n + 1);
    assert_int_equal(send_all(c), FL_CONN_RECV);
    const_off = false;
    allocs = FL_READ(&worker.ctr, buffer_allocs);
    assert_int_equal(feed(c, REQ("/const")), FL_CONN_SEND);
    /* the same but for the answer's buffer */
    assert_int_equal(FL_READ(&worker.ctr, buffer_allocs) - allocs, respond_allocs - 1);
    assert_int_equal(queued(c), n);
    assert_string_equal(sent_text, made);
    assert_null(c->out.q->buf[c->out.q->head]); /* static bytes */
    assert_int_equal(send_all(c), FL_CONN_RECV);

    assert_int_equal(feed(c, "HEAD /const HTTP/1.1\r\nHost: t\r\n\r\n"), FL_CONN_SEND);
    queued(c);
    assert_null(strstr(sent_text, "\r\n\r\n/const")); /* no body */
    assert_non_null(strstr(sent_text, "Content-Length: 6\r\n"));
    assert_int_equal(send_all(c), FL_CONN_RECV);
    assert_int_equal(feed(c, "GET /const HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
                     FL_CONN_SEND);
    queued(c);
    assert_non_null(strstr(sent_text, "Connection: keep-alive\r\n"));
    assert_int_equal(send_all(c), FL_CONN_RECV);
    assert_int_equal(feed(c, "GET /const HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
                     FL_CONN_SEND);
    queued(c);
    assert_non_null(strstr(sent_text, "Connection: close\r\n\r\n/const"));
    assert_int_equal(send_all(c), FL_CONN_CLOSE);
}

/* A request that arrives a byte at a time is answered once, when whole,
 * and the parser stays with the connection in between. */
static void test_request_split_over_feeds(void **state)
{
    struct fl_conn *c = *state;
    const char *req = REQ("/split");
    size_t n = strlen(req);
    for (size_t i = 0; i + 1 < n; i++) {
        char one[2] = {req[i], '\0'};
        assert_int_equal(feed(c, one), FL_CONN_RECV);
        assert_false(fl_out_pending(&c->out));
        assert_non_null(c->http);
    }
    assert_int_equal(routed, 0);
    assert_int_equal(feed(c, req + n - 1), FL_CONN_SEND);
    assert_int_equal(routed, 1);
    queued(c);
    assert_non_null(strstr(sent_text, "\r\n\r\n/split"));
    assert_int_equal(send_all(c), FL_CONN_RECV);
}

/* Past 256 KiB of waiting output the parser pauses: the request behind
 * /big stays unparsed until the output is sent, then it is parsed from the
 * input kept, without another read. A short send changes nothing. */
static void test_refeed_after_send_when_paused(void **state)
{
    struct fl_conn *c = *state;
    assert_int_equal(feed(c, REQ("/big") REQ("/after")), FL_CONN_SEND);
    assert_int_equal(routed, 1);
    assert_non_null(c->in); /* the paused parser's input, kept */
    size_t n = queued(c);
    assert_true(n > BIG);
    assert_null(strstr(sent_text, "/after"));

    assert_int_equal(fl_conn_sent(&worker, c, 100), FL_CONN_SEND); /* short */
    assert_int_equal(routed, 1);
    assert_int_equal(fl_out_bytes(&c->out), n - 100);
    assert_int_equal(send_all(c), FL_CONN_SEND); /* the rest; then the re-feed */
    assert_int_equal(routed, 2);
    assert_null(c->in);
    queued(c);
    assert_int_equal(strncmp(sent_text, "HTTP/1.1 200 OK\r\n", 17), 0);
    assert_non_null(strstr(sent_text, "\r\n\r\n/after"));
    assert_int_equal(send_all(c), FL_CONN_RECV);
}

/* A bad request is answered with its status and reason, Connection: close,
 * and the connection closes once that is sent; what follows it in the
 * read is never routed, while what came before is answered first. */
static void test_bad_request_status_and_close(void **state)
{
    struct fl_conn *c = *state;
    assert_int_equal(feed(c, REQ("/ok") "GET /nohost HTTP/1.1\r\n\r\n" REQ("/never")),
                     FL_CONN_SEND);
    assert_int_equal(routed, 1);
    assert_true(c->closing);
    queued(c);
    char *ok = strstr(sent_text, "\r\n\r\n/ok"),
         *bad = strstr(sent_text, "HTTP/1.1 400 Bad Request");
    assert_non_null(ok);
    assert_non_null(bad);
    assert_true(ok < bad);
    assert_non_null(strstr(bad, "Connection: close\r\n"));
    assert_non_null(strstr(bad, "\r\n\r\n400 Bad Request: HTTP/1.1 request without Host\n"));
    assert_null(strstr(sent_text, "/never"));
    assert_int_equal(send_all(c), FL_CONN_CLOSE);
    assert_int_equal(routed, 1);
}

/* Bytes the driver could not copy out of the receive ring: 503 naming
 * them, then the close. */
static void test_uncopied_bytes_get_503(void **state)
{
    struct fl_conn *c = *state;
    int64_t failed = FL_READ(&worker.ctr, alloc_failures[FL_OOM_input]);
    assert_int_equal(fl_conn_feed(&worker, c, NULL, 42), FL_CONN_SEND);
    assert_true(c->closing);
    queued(c);
    assert_non_null(strstr(sent_text, "HTTP/1.1 503 Service Unavailable\r\n"));
    assert_non_null(strstr(sent_text, "cannot allocate received bytes of 42 bytes\n"));
    assert_int_equal(FL_READ(&worker.ctr, alloc_failures[FL_OOM_input]), failed + 1);
    assert_int_equal(send_all(c), FL_CONN_CLOSE);
}

/* The head deadline with a request begun: 408, then the close. Between
 * requests a deadline just closes. */
static void test_expired(void **state)
{
    struct fl_conn *c = *state;
    assert_int_equal(feed(c, "GET /slow HTTP/1.1\r\nHo"), FL_CONN_RECV);
    assert_int_equal(fl_conn_expired(&worker, c, FL_WAIT_HEAD), FL_CONN_SEND);
    queued(c);
    assert_non_null(strstr(sent_text, "HTTP/1.1 408 Request Timeout\r\n"));
    assert_non_null(strstr(sent_text, "header_timeout"));
    assert_int_equal(send_all(c), FL_CONN_CLOSE);
    assert_int_equal(routed, 0);

    fl_conn_free(&worker, c);
    assert_int_equal(new_http(state), 0);
    c = *state;
    assert_int_equal(feed(c, REQ("/one")), FL_CONN_SEND);
    assert_int_equal(send_all(c), FL_CONN_RECV);
    assert_int_equal(fl_conn_expired(&worker, c, FL_WAIT_IDLE), FL_CONN_CLOSE);
    assert_false(fl_out_pending(&c->out));
}

/* The raw echo port: each read is sent back as it came. */
static void test_echo(void **state)
{
    struct fl_conn *c = *state;
    assert_int_equal(feed(c, "ping\r\n"), FL_CONN_SEND);
    queued(c);
    assert_string_equal(sent_text, "ping\r\n");
    assert_int_equal(send_all(c), FL_CONN_RECV);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipelined_pair_in_order, new_http, free_conn),
        cmocka_unit_test_setup_teardown(test_request_split_over_feeds, new_http, free_conn),
        cmocka_unit_test_setup_teardown(test_const_answer, new_http, free_conn),
        cmocka_unit_test_setup_teardown(test_refeed_after_send_when_paused, new_http, free_conn),
        cmocka_unit_test_setup_teardown(test_bad_request_status_and_close, new_http, free_conn),
        cmocka_unit_test_setup_teardown(test_uncopied_bytes_get_503, new_http, free_conn),
        cmocka_unit_test_setup_teardown(test_expired, new_http, free_conn),
        cmocka_unit_test_setup_teardown(test_echo, new_echo, free_conn),
    };
    return cmocka_run_group_tests(tests, setup_server, NULL);
}
