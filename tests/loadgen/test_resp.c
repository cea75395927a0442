/* test_resp.c - response parsing and verification: /work pattern and /echo
 * bodies checked as they stream (one piece, byte by byte, every split), wrong
 * status and Content-Length still consumed to the end, 100 Continue skipped,
 * pipelined responses taken one at a time with exact consumption, keep-alive,
 * HEAD, chunked bodies and garbage. Every piece is fed from the end of a page
 * followed by an unreadable one, so any over-read crashes (as picohttpparser's
 * test does). */
#include "resp.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#define GUARD_SPAN (64 * 1024)

static char *guard_base;

/* Copies n bytes so they end right where the PROT_NONE page begins. */
static const char *guarded(const char *s, size_t n)
{
    assert_true(n <= GUARD_SPAN);
    char *p = guard_base + GUARD_SPAN - n;
    memcpy(p, s, n);
    return p;
}

static int setup_guard(void **state)
{
    (void)state;
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, GUARD_SPAN + (size_t)page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || mprotect(m + GUARD_SPAN, (size_t)page, PROT_NONE) != 0)
        return -1;
    guard_base = m;
    return 0;
}

/* Feeds s in pieces of `step` bytes until one response completes; returns
 * its verdict and sets *consumed to the bytes it used. Every piece before the
 * verdict must be consumed whole. */
static enum fl_resp_result feed_steps(struct fl_resp *r, const char *s, size_t n, size_t step,
                                      size_t *consumed)
{
    enum fl_resp_result res = FL_RESP_MORE;
    size_t off = 0;
    while (off < n) {
        size_t k = n - off < step ? n - off : step;
        size_t used = SIZE_MAX;
        res = fl_resp_feed(r, guarded(s + off, k), k, &used);
        assert_true(used <= k);
        off += used;
        if (res != FL_RESP_MORE)
            break;
        assert_int_equal(used, k);
    }
    *consumed = off;
    return res;
}

static enum fl_resp_result feed_once(const struct fl_resp_expect *want, const char *s, size_t n,
                                     size_t step, size_t *consumed, bool *keep_alive)
{
    struct fl_resp r;
    fl_resp_init(&r);
    fl_resp_expect(&r, want);
    enum fl_resp_result res = feed_steps(&r, s, n, step, consumed);
    if (keep_alive)
        *keep_alive = fl_resp_keep_alive(&r);
    return res;
}

static void fill_pattern(char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (char)('a' + i % 26);
}

/* "HTTP/1.1 200 OK" with Content-Length and the pattern body into buf. */
static size_t pattern_response(char *buf, size_t cap, size_t body)
{
    int h = snprintf(buf, cap, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", body);
    assert_true(h > 0 && (size_t)h + body <= cap);
    fill_pattern(buf + h, body);
    return (size_t)h + body;
}

static const size_t steps[] = {1, 2, 7, 26, 100, 499, 500, 501, 4096};

static void test_pattern_ok(void **state)
{
    (void)state;
    static char buf[2048];
    size_t n = pattern_response(buf, sizeof(buf), 1000), used;
    struct fl_resp_expect want = {.status = 200, .body = FL_RESP_BODY_PATTERN, .len = 1000};
    struct fl_resp r;
    fl_resp_init(&r);
    fl_resp_expect(&r, &want);
    assert_int_equal(feed_steps(&r, buf, n, n, &used), FL_RESP_OK);
    assert_int_equal(used, n);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.seen, 1000);
    assert_true(fl_resp_keep_alive(&r));

    bool ka = false;
    assert_int_equal(feed_once(&want, buf, n, 1, &used, &ka), FL_RESP_OK); /* byte by byte */
    assert_int_equal(used, n);
    assert_true(ka);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        assert_int_equal(feed_once(&want, buf, n, steps[i], &used, NULL), FL_RESP_OK);
        assert_int_equal(used, n);
    }
}

/* The running offset survives every split: one wrong byte anywhere is found. */
static void test_pattern_mismatch(void **state)
{
    (void)state;
    static char buf[2048];
    size_t n = pattern_response(buf, sizeof(buf), 1000), used;
    size_t hdr = n - 1000;
    struct fl_resp_expect want = {.status = 200, .body = FL_RESP_BODY_PATTERN, .len = 1000};
    struct fl_resp_expect any = {.status = 200, .body = FL_RESP_BODY_ANY};
    const size_t bad[] = {0, 25, 26, 500, 999};
    for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
        buf[hdr + bad[b]] ^= 1;
        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
            bool ka = false;
            assert_int_equal(feed_once(&want, buf, n, steps[i], &used, &ka), FL_RESP_MISMATCH);
            assert_int_equal(used, n); /* still consumed to the end */
            assert_true(ka);
        }
        assert_int_equal(feed_once(&any, buf, n, n, &used, NULL), FL_RESP_OK);
        buf[hdr + bad[b]] ^= 1;
    }
}

static void test_echo(void **state)
{
    (void)state;
    uint8_t sent[300];
    for (size_t i = 0; i < sizeof(sent); i++)
        sent[i] = (uint8_t)(i * 7 + 3); /* includes NUL and high bytes */
    static char buf[1024];
    int h =
        snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", sizeof(sent));
    memcpy(buf + h, sent, sizeof(sent));
    size_t n = (size_t)h + sizeof(sent), used;
    struct fl_resp_expect want = {
        .status = 200, .body = FL_RESP_BODY_ECHO, .echo = sent, .len = sizeof(sent)};

    assert_int_equal(feed_once(&want, buf, n, n, &used, NULL), FL_RESP_OK);
    assert_int_equal(used, n);
    assert_int_equal(feed_once(&want, buf, n, 1, &used, NULL), FL_RESP_OK);
    assert_int_equal(used, n);

    buf[n - 1] ^= 0x40; /* the last byte differs */
    assert_int_equal(feed_once(&want, buf, n, n, &used, NULL), FL_RESP_MISMATCH);
    assert_int_equal(used, n);
    assert_int_equal(feed_once(&want, buf, n, 1, &used, NULL), FL_RESP_MISMATCH);
    assert_int_equal(used, n);
    /* Same bytes as the pattern would be wrong too. */
    struct fl_resp_expect pat = {.status = 200, .body = FL_RESP_BODY_PATTERN, .len = sizeof(sent)};
    assert_int_equal(feed_once(&pat, buf, n, n, &used, NULL), FL_RESP_MISMATCH);
}

/* A wrong status is reported, and the whole response consumed so the next
 * pipelined one parses cleanly. */
static void test_wrong_status(void **state)
{
    (void)state;
    static const char r404[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found";
    static char buf[256];
    size_t n1 = sizeof(r404) - 1;
    memcpy(buf, r404, n1);
    size_t n2 = pattern_response(buf + n1, sizeof(buf) - n1, 26), used;
    struct fl_resp_expect want = {.status = 200, .body = FL_RESP_BODY_PATTERN, .len = 26};
    struct fl_resp r;
    fl_resp_init(&r);
    fl_resp_expect(&r, &want);
    assert_int_equal(feed_steps(&r, buf, n1 + n2, n1 + n2, &used), FL_RESP_STATUS);
    assert_int_equal(used, n1);
    assert_int_equal(r.status, 404);
    assert_true(fl_resp_keep_alive(&r));
    fl_resp_expect(&r, &want);
    assert_int_equal(feed_steps(&r, buf + n1, n2, n2, &used), FL_RESP_OK);
    assert_int_equal(used, n2);
}

/* fraglab-server's answer when it cannot allocate: a 503 with its reason
 * and Connection: close is its own verdict, not a wrong status, though its
 * body is neither the pattern nor its length. */
static void test_unavailable(void **state)
{
    (void)state;
    static const char r503[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                               "Content-Length: 63\r\nConnection: close\r\n\r\n"
                               "503 Service Unavailable: cannot allocate hold of 1048576 bytes\n";
    size_t n = sizeof(r503) - 1, used;
    struct fl_resp_expect want = {.status = 200, .body = FL_RESP_BODY_PATTERN, .len = 16};
    struct fl_resp r;
    fl_resp_init(&r);
    fl_resp_expect(&r, &want);
    assert_int_equal(feed_steps(&r, r503, n, n, &used), FL_RESP_UNAVAILABLE);
    assert_int_equal(used, n);
    assert_int_equal(r.status, 503);
    assert_false(fl_resp_keep_alive(&r));
}

static void test_wrong_length(void **state)
{
    (void)state;
    static char buf[256];
    size_t used;
    struct fl_resp_expect want = {.status = 200, .body = FL_RESP_BODY_PATTERN, .len = 26};
    const size_t lens[] = {0, 25, 27, 52};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t n = pattern_response(buf, sizeof(buf), lens[i]);
        assert_int_equal(feed_once(&want, buf, n, n, &used, NULL), FL_RESP_LENGTH);
        assert_int_equal(used, n);
        assert_int_equal(feed_once(&want, buf, n, 1, &used, NULL), FL_RESP_LENGTH);
        assert_int_equal(used, n);
    }
    /* ANY ignores the length. */
    struct fl_resp_expect any = {.status = 200, .body = FL_RESP_BODY_ANY, .len = 26};
    size_t n = pattern_response(buf, sizeof(buf), 27);
    assert_int_equal(feed_once(&any, buf, n, n, &used, NULL), FL_RESP_OK);
}

static void test_continue_then_ok(void **state)
{
    (void)state;
    static const char s[] = "HTTP/1.1 100 Continue\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde";
    size_t n = sizeof(s) - 1, used;
    struct fl_resp_expect want = {.status = 200, .body = FL_RESP_BODY_PATTERN, .len = 5};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct fl_resp r;
        fl_resp_init(&r);
        fl_resp_expect(&r, &want);
        assert_int_equal(feed_steps(&r, s, n, steps[i], &used), FL_RESP_OK);
        assert_int_equal(used, n);
        assert_int_equal(r.status, 200);
        assert_true(fl_resp_keep_alive(&r));
    }
    /* The interim response alone is not a response. */
    assert_int_equal(feed_once(&want, s, 25, 25, &used, NULL), FL_RESP_MORE);
    assert_int_equal(used, 25);
}

/* Three responses in one buffer, taken one at a time as a client loop would,
 * at every segmentation of the stream. */
static void test_pipelined(void **state)
{
    (void)state;
    static const char s[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcdefghij"
                            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
                            "HTTP/1.1 204 No Content\r\n\r\n";
    const size_t lens[] = {49, 43, 27};
    size_t n = sizeof(s) - 1;
    assert_int_equal(lens[0] + lens[1] + lens[2], n);
    const struct fl_resp_expect want[] = {
        {.status = 200, .body = FL_RESP_BODY_PATTERN, .len = 10},
        {.status = 200, .body = FL_RESP_BODY_ECHO, .echo = (const uint8_t *)"hello", .len = 5},
        {.status = 204, .body = FL_RESP_BODY_ANY},
    };
    struct fl_resp r;
    size_t used;

    /* All in one buffer: exact consumption per response. */
    fl_resp_init(&r);
    size_t off = 0;
    for (int k = 0; k < 3; k++) {
        fl_resp_expect(&r, &want[k]);
        assert_int_equal(fl_resp_feed(&r, guarded(s + off, n - off), n - off, &used), FL_RESP_OK);
        assert_int_equal(used, lens[k]);
        assert_true(fl_resp_keep_alive(&r));
        off += used;
    }
    assert_int_equal(off, n);

    for (size_t step = 1; step <= n; step++) {
        int done = 0;
        fl_resp_init(&r);
        fl_resp_expect(&r, &want[0]);
        for (off = 0; off < n;) {
            size_t k = n - off < step ? n - off : step;
            const char *p = guarded(s + off, k);
            while (k > 0) {
                enum fl_resp_result res = fl_resp_feed(&r, p, k, &used);
                p += used, k -= used, off += used;
                if (res == FL_RESP_MORE) {
                    assert_int_equal(k, 0);
                    continue;
                }
                assert_int_equal(res, FL_RESP_OK);
                if (++done < 3)
                    fl_resp_expect(&r, &want[done]);
            }
        }
        assert_int_equal(done, 3);
    }
}

static void test_keep_alive(void **state)
{
    (void)state;
    static const char close11[] =
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc";
    static const char plain10[] = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    static const char ka10[] = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
                               "Content-Length: 3\r\n\r\nabc";
    struct fl_resp_expect want = {.status = 200, .body = FL_RESP_BODY_PATTERN, .len = 3};
    size_t used;
    bool ka = true;
    assert_int_equal(feed_once(&want, close11, sizeof(close11) - 1, 5, &used, &ka), FL_RESP_OK);
    assert_int_equal(used, sizeof(close11) - 1);
    assert_false(ka);
    assert_int_equal(feed_once(&want, plain10, sizeof(plain10) - 1, 5, &used, &ka), FL_RESP_OK);
    assert_false(ka);
    assert_int_equal(feed_once(&want, ka10, sizeof(ka10) - 1, 5, &used, &ka), FL_RESP_OK);
    assert_true(ka);

    /* Not complete yet: no verdict on reuse. */
    struct fl_resp r;
    fl_resp_init(&r);
    fl_resp_expect(&r, &want);
    assert_int_equal(fl_resp_feed(&r, plain10, 10, &used), FL_RESP_MORE);
    assert_false(fl_resp_keep_alive(&r));
}

/* HEAD: Content-Length announces the GET body, none follows; the next
 * response starts right after the headers. */
static void test_head(void **state)
{
    (void)state;
    static const char s[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    size_t n = sizeof(s) - 1, hdr = 41, used;
    struct fl_resp_expect head = {
        .status = 200, .body = FL_RESP_BODY_PATTERN, .len = 1000, .head = true};
    struct fl_resp_expect next = {.status = 200, .body = FL_RESP_BODY_PATTERN, .len = 3};
    for (size_t step = 1; step <= n; step += 9) {
        struct fl_resp r;
        fl_resp_init(&r);
        fl_resp_expect(&r, &head);
        assert_int_equal(feed_steps(&r, s, n, step, &used), FL_RESP_OK);
        assert_int_equal(used, hdr);
        assert_int_equal(r.seen, 0);
        assert_true(fl_resp_keep_alive(&r));
        fl_resp_expect(&r, &next);
        assert_int_equal(feed_steps(&r, s + hdr, n - hdr, step, &used), FL_RESP_OK);
        assert_int_equal(used, n - hdr);
    }
    /* A HEAD response whose Content-Length disagrees with the GET body. */
    head.len = 999;
    assert_int_equal(feed_once(&head, s, hdr, hdr, &used, NULL), FL_RESP_LENGTH);
    /* And one without a length at all is fine. */
    static const char nolen[] = "HTTP/1.1 200 OK\r\n\r\n";
    assert_int_equal(feed_once(&head, nolen, sizeof(nolen) - 1, 4, &used, NULL), FL_RESP_OK);
    assert_int_equal(used, sizeof(nolen) - 1);
}

static void test_protocol(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "SSH-2.0-OpenSSH_9.2\r\n",
        "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        /* Delimited by connection close: not supported. */
        "HTTP/1.1 200 OK\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc",
        /* An upgrade nobody asked for. */
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
    };
    struct fl_resp_expect want = {.status = 200, .body = FL_RESP_BODY_ANY};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = strlen(bad[i]), used;
        for (size_t step = 1; step <= n; step += n - 1) {
            struct fl_resp r;
            fl_resp_init(&r);
            fl_resp_expect(&r, &want);
            assert_int_equal(feed_steps(&r, bad[i], n, step, &used), FL_RESP_PROTOCOL);
            assert_true(used <= n);
            assert_false(fl_resp_keep_alive(&r));
            /* The connection stays broken. */
            fl_resp_expect(&r, &want);
            assert_int_equal(fl_resp_feed(&r, "HTTP/1.1 200 OK\r\n", 17, &used), FL_RESP_PROTOCOL);
        }
    }
}

static void test_chunked(void **state)
{
    (void)state;
    static char s[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nabcde\r\n3;ext=1\r\nfgh\r\n0\r\n\r\n"
                      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab";
    size_t n = sizeof(s) - 1, first = n - 40, used;
    struct fl_resp_expect want = {.status = 200, .body = FL_RESP_BODY_PATTERN, .len = 8};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct fl_resp r;
        fl_resp_init(&r);
        fl_resp_expect(&r, &want);
        assert_int_equal(feed_steps(&r, s, n, steps[i], &used), FL_RESP_OK);
        assert_int_equal(used, first);
        assert_int_equal(r.seen, 8);
        assert_true(fl_resp_keep_alive(&r));
        want.len = 2;
        fl_resp_expect(&r, &want);
        assert_int_equal(feed_steps(&r, s + first, n - first, steps[i], &used), FL_RESP_OK);
        assert_int_equal(used, n - first);
        want.len = 8;
    }
    /* Total too short or too long. */
    want.len = 9;
    assert_int_equal(feed_once(&want, s, first, 1, &used, NULL), FL_RESP_LENGTH);
    assert_int_equal(used, first);
    want.len = 7;
    assert_int_equal(feed_once(&want, s, first, 1, &used, NULL), FL_RESP_LENGTH);
    assert_int_equal(used, first);
    /* A wrong byte in the second chunk. */
    want.len = 8;
    char *g = strstr(s, "fgh");
    g[1] = 'x';
    assert_int_equal(feed_once(&want, s, first, 3, &used, NULL), FL_RESP_MISMATCH);
    assert_int_equal(used, first);
    g[1] = 'g';
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern_ok),
        cmocka_unit_test(test_pattern_mismatch),
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_wrong_status),
        cmocka_unit_test(test_unavailable),
        cmocka_unit_test(test_wrong_length),
        cmocka_unit_test(test_continue_then_ok),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_protocol),
        cmocka_unit_test(test_chunked),
    };
    return cmocka_run_group_tests(tests, setup_guard, NULL);
}
