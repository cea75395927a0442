/* test_request.c - requests built from scenario draws: each kind's request
 * line, query and headers, the expected answer, bodies that are windows into
 * the noise block, Connection: close on a connection's last request, the
 * same stream giving the same requests, and a head that does not fit. */
#include "request.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static struct fl_noise noise;

static int setup(void **state)
{
    (void)state;
    return fl_noise_init(&noise, 1 << 20, 42);
}

static int teardown(void **state)
{
    (void)state;
    fl_noise_free(&noise);
    return 0;
}

static struct fl_dist fixed(enum fl_dist_unit unit, uint64_t v)
{
    return (struct fl_dist){.unit = unit, .set = true, .lo = v, .hi = v, .lo_end = v, .hi_end = v};
}

static void build(struct fl_req *r, const struct fl_scenario_request *q, uint64_t seed, bool close)
{
    uint64_t rng = seed;
    assert_int_equal(fl_req_build(r, q, &rng, 0.5, "127.0.0.1:8080", close, &noise), 0);
    r->head[r->head_len] = '\0';
}

static void test_echo(void **state)
{
    (void)state;
    struct fl_scenario_request q = {.kind = FL_SCENARIO_ECHO, .body = fixed(FL_DIST_BYTES, 3000)};
    struct fl_req r;
    build(&r, &q, 1, false);
    assert_string_equal(r.head, "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
                                "Content-Length: 3000\r\n\r\n");
    assert_int_equal(r.body_len, 3000);
    assert_true(r.body >= noise.bytes && r.body + r.body_len <= noise.bytes + noise.len);
    assert_int_equal(r.want.status, 200);
    assert_int_equal(r.want.body, FL_RESP_BODY_ECHO);
    assert_ptr_equal(r.want.echo, r.body);
    assert_int_equal(r.want.len, 3000);
    assert_false(r.tcp);
}

static void test_work(void **state)
{
    (void)state;
    struct fl_scenario_request q = {
        .kind = FL_SCENARIO_WORK,
        .resp = fixed(FL_DIST_BYTES, 4096),
        .burst = fixed(FL_DIST_COUNT, 10),
        .burst_min = fixed(FL_DIST_BYTES, 16),
        .burst_max = fixed(FL_DIST_BYTES, 512),
        .hold = fixed(FL_DIST_BYTES, 1024),
        .hold_for = fixed(FL_DIST_COUNT, 3),
    };
    struct fl_req r;
    build(&r, &q, 7, true);
    assert_non_null(
        strstr(r.head, "GET /work?resp=4096&burst=10&burst_min=16&burst_max=512&seed="));
    assert_non_null(strstr(r.head, "&hold=1024&hold_for=3 HTTP/1.1\r\n"));
    assert_non_null(strstr(r.head, "\r\nConnection: close\r\n\r\n"));
    assert_null(strstr(r.head, "Content-Length"));
    assert_int_equal(r.want.body, FL_RESP_BODY_PATTERN);
    assert_int_equal(r.want.len, 4096);
    assert_int_equal(r.body_len, 0);

    q.hold_for_conn = true;
    q.post = true;
    q.body = fixed(FL_DIST_BYTES, 100);
    build(&r, &q, 7, false);
    assert_true(strncmp(r.head, "POST /work?", 11) == 0);
    assert_non_null(strstr(r.head, "&hold_for=conn HTTP/1.1\r\n"));
    assert_non_null(strstr(r.head, "Content-Length: 100\r\n"));
    assert_int_equal(r.body_len, 100);
}

static void test_get_tcp(void **state)
{
    (void)state;
    struct fl_scenario_request q = {.kind = FL_SCENARIO_GET};
    snprintf(q.path, sizeof(q.path), "/healthz");
    struct fl_req r;
    build(&r, &q, 1, false);
    assert_string_equal(r.head, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
    assert_int_equal(r.want.body, FL_RESP_BODY_ANY);

    struct fl_scenario_request t = {.kind = FL_SCENARIO_TCP, .body = fixed(FL_DIST_BYTES, 777)};
    build(&r, &t, 1, true);
    assert_true(r.tcp);
    assert_int_equal(r.head_len, 0);
    assert_int_equal(r.body_len, 777);

    assert_int_equal(fl_req_build_get(&r, "/", "h:1", false), 0);
    r.head[r.head_len] = '\0';
    assert_string_equal(r.head, "GET / HTTP/1.1\r\nHost: h:1\r\n\r\n");
}

static void test_replay(void **state)
{
    (void)state;
    struct fl_scenario_request q = {
        .kind = FL_SCENARIO_WORK,
        .resp = {.unit = FL_DIST_BYTES,
                 .set = true,
                 .log = true,
                 .lo = 64,
                 .hi = 65536,
                 .lo_end = 64,
                 .hi_end = 65536},
        .burst =
            {.unit = FL_DIST_COUNT, .set = true, .lo = 0, .hi = 100, .lo_end = 0, .hi_end = 100},
    };
    struct fl_req a, b;
    uint64_t ra = 99, rb = 99;
    int differ = 0;
    char first[FL_REQ_HEAD_MAX] = "";
    for (int i = 0; i < 50; i++) {
        assert_int_equal(fl_req_build(&a, &q, &ra, 0, "x", false, &noise), 0);
        assert_int_equal(fl_req_build(&b, &q, &rb, 0, "x", false, &noise), 0);
        assert_int_equal(a.head_len, b.head_len);
        assert_memory_equal(a.head, b.head, a.head_len);
        a.head[a.head_len] = '\0';
        if (i == 0)
            snprintf(first, sizeof(first), "%s", a.head);
        else
            differ += strcmp(first, a.head) != 0;
    }
    assert_true(differ > 40); /* draws move on */
}

static void test_head_too_long(void **state)
{
    (void)state;
    struct fl_req r;
    char host[FL_REQ_HEAD_MAX];
    memset(host, 'h', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    assert_int_equal(fl_req_build_get(&r, "/", host, false), -ENOSPC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo),          cmocka_unit_test(test_work),
        cmocka_unit_test(test_get_tcp),       cmocka_unit_test(test_replay),
        cmocka_unit_test(test_head_too_long),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
