/* test_fromlog.c - `scenario --from-log` on logs written here: each kind of
 * bad line counted under its name (combined and json, a line too long, a
 * log with no request refused), phases from a rate change and an idle gap,
 * answer and upload sizes in their hist: buckets, populations and their
 * shares from $connection_requests, and every scenario written loads with
 * fl_scenario_load. */
#include "fromlog.h"
#include "scenario.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define SEC UINT64_C(1000000000)
#define T0 1764957600 /* 2025-12-05T18:00:00Z */

static char err[512];

static void feed(struct fl_fromlog *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void feed(struct fl_fromlog *c, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fl_fromlog_line(c, line, strlen(line));
}

/* A combined line at `t` seconds from T0 (whole seconds). */
static void combined(struct fl_fromlog *c, long t, const char *req, unsigned status,
                     unsigned long bytes)
{
    time_t tt = T0 + t;
    struct tm g;
    gmtime_r(&tt, &g);
    char ts[64];
    strftime(ts, sizeof(ts), "%d/%b/%Y:%H:%M:%S +0000", &g);
    feed(c, "10.1.2.3 - - [%s] \"%s HTTP/1.1\" %u %lu \"-\" \"agent\"", ts, req, status, bytes);
}

/* A json line at `t_ms` from T0, with the connection fields when conn > 0. */
static void jline(struct fl_fromlog *c, long t_ms, const char *req, unsigned long bytes,
                  unsigned long len, unsigned long conn, unsigned long creq)
{
    char extra[128] = "";
    if (conn)
        snprintf(extra, sizeof(extra), ",\"connection\":\"%lu\",\"connection_requests\":\"%lu\"",
                 conn, creq);
    feed(c,
         "{\"msec\":\"%ld.%03ld\",\"request\":\"%s HTTP/1.1\",\"status\":\"200\","
         "\"body_bytes_sent\":\"%lu\",\"request_length\":\"%lu\",\"request_time\":\"0.002\"%s}",
         T0 + t_ms / 1000, t_ms % 1000, req, bytes, len, extra);
}

/* Writes `c`'s scenario, loads it into `s`; returns the text (free it). */
static char *convert(struct fl_fromlog *c, struct fl_scenario *s)
{
    char path[] = "/tmp/fl_fromlog_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w+");
    char why[256];
    if (fl_fromlog_write(c, f, "test.log", why, sizeof(why)))
        fail_msg("write: %s", why);
    fflush(f);
    long n = ftell(f);
    char *text = calloc(1, (size_t)n + 1);
    rewind(f);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    int rc = fl_scenario_load(path, s, err, sizeof(err));
    unlink(path);
    if (rc)
        fail_msg("the scenario written does not load: %s\n%s", err, text);
    return text;
}

static const struct fl_scenario_request *req_named(const struct fl_scenario *s, const char *name)
{
    for (size_t i = 0; i < s->nrequests; i++)
        if (!strcmp(s->requests[i].name, name))
            return &s->requests[i];
    fail_msg("no [request %s]", name);
    return NULL;
}

static void test_bad_lines(void **state)
{
    (void)state;
    struct fl_fromlog *c = fl_fromlog_new(FL_FROMLOG_COMBINED);
    assert_non_null(c);
    combined(c, 0, "GET /", 200, 10);
    feed(c, "10.1.2.3 - - [05/Dec/2025:18:00:01 +0000] \"GET /api/it");      /* layout */
    feed(c, "just some words");                                              /* layout */
    feed(c, "1.2.3.4 - - [yesterday] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\""); /* time */
    feed(c, "1.2.3.4 - - [31/Foo/2025:18:00:01 +0000] \"GET / HTTP/1.1\" 200 1");
    feed(c, "1.2.3.4 - - [05/Dec/2025:18:00:01 +0000] \"\\x16\\x03\\x01\" 400 1 \"-\" \"-\"");
    feed(c, "1.2.3.4 - - [05/Dec/2025:18:00:01 +0000] \"-\" 400 0 \"-\" \"-\""); /* request */
    feed(c, "1.2.3.4 - - [05/Dec/2025:18:00:01 +0000] \"GET / HTTP/1.1\" 200 lots");
    feed(c, "1.2.3.4 - - [05/Dec/2025:18:00:01 +0000] \"GET / HTTP/1.1\" 2x0 5"); /* number */
    feed(c, "1.2.3.4 - - [05/Feb/2026:18:00:01 +0000] \"GET / HTTP/1.1\" 200 5"); /* range */
    combined(c, 1, "GET /b", 200, 0);
    assert_int_equal(fl_fromlog_bad(c, FL_FROMLOG_BAD_LAYOUT), 2);
    assert_int_equal(fl_fromlog_bad(c, FL_FROMLOG_BAD_TIME), 2);
    assert_int_equal(fl_fromlog_bad(c, FL_FROMLOG_BAD_REQUEST), 2);
    assert_int_equal(fl_fromlog_bad(c, FL_FROMLOG_BAD_NUMBER), 2);
    assert_int_equal(fl_fromlog_bad(c, FL_FROMLOG_BAD_TIME_RANGE), 1);
    assert_int_equal(fl_fromlog_requests(c), 2);
    assert_int_equal(fl_fromlog_lines(c), 11);
    assert_string_equal(fl_fromlog_bad_name(FL_FROMLOG_BAD_REQUEST), "request");
    struct fl_scenario s;
    char *text = convert(c, &s);
    assert_non_null(strstr(text, "11 lines, 2 requests, 9 bad lines (2 layout, 2 time, "
                                 "2 request, 2 number, 1 time_range)"));
    free(text);
    fl_scenario_free(&s);
    fl_fromlog_free(c);

    c = fl_fromlog_new(FL_FROMLOG_JSON);
    jline(c, 0, "GET /a", 10, 400, 0, 0);
    feed(c, "{\"msec\":\"1764957600.5\",\"request\":\"GET /"); /* layout */
    feed(c, "[1, 2]");                                         /* layout */
    feed(c, "{\"request\":\"GET / HTTP/1.1\",\"status\":\"200\",\"body_bytes_sent\":\"1\"}");
    feed(c, "{\"msec\":\"noon\",\"request\":\"GET / HTTP/1.1\",\"status\":200,"
            "\"body_bytes_sent\":1}"); /* time */
    feed(c, "{\"time_iso8601\":\"2025-12-05T19:00:00+01:00\",\"request\":\"GET /iso HTTP/1.1\","
            "\"status\":200,\"body_bytes_sent\":1}"); /* good: T0 in another zone */
    feed(c, "{\"msec\":1764957601,\"request\":\"get / HTTP/1.1\",\"status\":200,"
            "\"body_bytes_sent\":1}"); /* request */
    feed(c, "{\"msec\":1764957601,\"request\":\"GET / HTTP/1.1\",\"status\":\"ok\","
            "\"body_bytes_sent\":1}"); /* number */
    assert_int_equal(fl_fromlog_bad(c, FL_FROMLOG_BAD_LAYOUT), 3);
    assert_int_equal(fl_fromlog_bad(c, FL_FROMLOG_BAD_TIME), 1);
    assert_int_equal(fl_fromlog_bad(c, FL_FROMLOG_BAD_REQUEST), 1);
    assert_int_equal(fl_fromlog_bad(c, FL_FROMLOG_BAD_NUMBER), 1);
    assert_int_equal(fl_fromlog_requests(c), 2);
    fl_fromlog_free(c);
}

static void test_long_line_and_nothing_parsed(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    for (int i = 0; i < FL_FROMLOG_LINE_MAX + 100; i++)
        fputc('x', f);
    fputs("\n\nnot a log line\n", f);
    rewind(f);
    struct fl_fromlog *c = fl_fromlog_new(FL_FROMLOG_COMBINED);
    assert_int_equal(fl_fromlog_read(c, f), 0);
    fclose(f);
    assert_int_equal(fl_fromlog_bad(c, FL_FROMLOG_BAD_TOO_LONG), 1);
    assert_int_equal(fl_fromlog_bad(c, FL_FROMLOG_BAD_LAYOUT), 1);
    assert_int_equal(fl_fromlog_lines(c), 2); /* the blank line is not one */
    char why[256] = "";
    FILE *out = tmpfile();
    assert_int_equal(fl_fromlog_write(c, out, "x.log", why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "no line of 2 was a request"));
    fclose(out);
    fl_fromlog_free(c);
}

/* The same instant in any zone; lines a little out of order count at the
 * start; more than 30 days away they are refused. */
static void test_time_zones(void **state)
{
    (void)state;
    struct fl_fromlog *c = fl_fromlog_new(FL_FROMLOG_COMBINED);
    combined(c, 0, "GET /a", 200, 1);
    feed(c, "1.2.3.4 - - [05/Dec/2025:13:00:02 -0500] \"GET /b HTTP/1.1\" 200 1");
    feed(c, "1.2.3.4 - - [06/Dec/2025:03:30:03 +0930] \"GET /c HTTP/1.1\" 200 1");
    feed(c, "1.2.3.4 - - [05/Dec/2025:17:59:58 +0000] \"GET /d HTTP/1.1\" 200 1");
    feed(c, "1.2.3.4 - - [25/Oct/2025:18:00:00 +0000] \"GET /e HTTP/1.1\" 200 1");
    assert_int_equal(fl_fromlog_requests(c), 4);
    assert_int_equal(fl_fromlog_bad(c, FL_FROMLOG_BAD_TIME_RANGE), 1);
    struct fl_scenario s;
    char *text = convert(c, &s);
    assert_int_equal(s.duration, 4 * SEC); /* 0 s to 3 s: 4 bins of 1 s */
    assert_true(fabs(s.rate - 1) < 1e-9);
    free(text);
    fl_scenario_free(&s);
    fl_fromlog_free(c);
}

/* 60 s at 10 requests/s, 40 s of nothing, 60 s at 40/s. */
static void test_phases(void **state)
{
    (void)state;
    struct fl_fromlog *c = fl_fromlog_new(FL_FROMLOG_COMBINED);
    for (long t = 0; t < 60; t++)
        for (int i = 0; i < 10; i++)
            combined(c, t, "GET /api/x", 200, 100);
    for (long t = 100; t < 160; t++)
        for (int i = 0; i < 40; i++)
            combined(c, t, "GET /api/x", 200, 100);
    struct fl_scenario s;
    char *text = convert(c, &s);
    if (s.nphases != 3)
        fail_msg("%zu phases, not 3:\n%s", s.nphases, text);
    assert_false(s.phases[0].idle);
    assert_true(s.phases[1].idle);
    assert_false(s.phases[2].idle);
    assert_int_equal(s.phases[0].duration, 60 * SEC);
    assert_int_equal(s.phases[1].duration, 40 * SEC);
    assert_int_equal(s.phases[2].duration, 60 * SEC);
    assert_true(fabs(s.phases[0].rate - 10) < 0.01);
    assert_true(fabs(s.phases[2].rate - 40) < 0.01);
    assert_true(fabs(s.rate - 3000.0 / 120) < 0.01); /* over the active time */
    assert_int_equal(s.duration, 160 * SEC);
    free(text);
    fl_scenario_free(&s);
    fl_fromlog_free(c);
}

static void test_hist_buckets(void **state)
{
    (void)state;
    struct fl_fromlog *c = fl_fromlog_new(FL_FROMLOG_JSON);
    for (int i = 0; i < 100; i++)
        jline(c, i * 10, "GET /static/a.css", 50, 500, 0, 0); /* (0, 64] */
    for (int i = 0; i < 300; i++)
        jline(c, i * 10, "GET /assets/b", 3000, 500, 0, 0); /* (1k, 4k] */
    for (int i = 0; i < 200; i++)
        jline(c, i * 10, "GET /api/c?x=1.png", 0, 500, 0, 0); /* 0: api, not static */
    for (int i = 0; i < 40; i++)
        jline(c, i * 10, "PUT /up", 100, 500 + 10000, 0, 0); /* body 10000 */
    for (int i = 0; i < 60; i++)
        jline(c, i * 10, "POST /up", 100, 500 + 100, 0, 0); /* body 100 */
    jline(c, 2000, "GET /huge.mp4", 5u << 20, 500, 0, 0);   /* above 1m: counted as 1m */
    struct fl_scenario s;
    char *text = convert(c, &s);
    const struct fl_scenario_request *st = req_named(&s, "static");
    const struct fl_dist_hist *h = &st->resp.h;
    assert_true(st->resp.hist && st->kind == FL_SCENARIO_WORK);
    assert_true(fabs(st->weight - 401.0 / 701) < 1e-9);
    /* 0:0,64:100,256:0,1k:0,4k:300,16k:0,64k:0,256k:0,1m:1 */
    assert_int_equal(h->n, 9);
    assert_int_equal(h->edge[0], 0);
    assert_int_equal(h->weight[0], 0);
    assert_int_equal(h->weight[1], 100);
    assert_int_equal(h->edge[4], 4096);
    assert_int_equal(h->weight[4], 300);
    assert_int_equal(h->edge[8], 1 << 20);
    assert_int_equal(h->weight[8], 1);
    assert_non_null(strstr(text, "1 answers above 1m sent as 1m"));
    const struct fl_scenario_request *api = req_named(&s, "api");
    assert_int_equal(api->resp.h.n, 1); /* exactly 0 bytes */
    assert_int_equal(fl_dist_highest(&api->resp), 0);
    const struct fl_scenario_request *up = req_named(&s, "upload");
    assert_true(up->post);
    /* Bodies: $request_length less the mean of the others (500). */
    assert_non_null(strstr(text, "less 500 bytes"));
    assert_int_equal(fl_dist_lowest(&up->body), 1);      /* (0, 256 - 500 ...] */
    assert_int_equal(fl_dist_highest(&up->body), 15884); /* 16k - 500 */
    free(text);
    fl_scenario_free(&s);
    fl_fromlog_free(c);
}

/* 10 connections of 1 request, 5 of 4, 2 of 20: 70 requests. */
static void test_connections(void **state)
{
    (void)state;
    struct fl_fromlog *c = fl_fromlog_new(FL_FROMLOG_JSON);
    unsigned long id = 1;
    long t = 0;
    for (int i = 0; i < 10; i++, id++)
        jline(c, t += 100, "GET /api/a", 10, 300, id, 1);
    for (int i = 0; i < 5; i++, id++)
        for (unsigned long k = 1; k <= 4; k++)
            jline(c, t += 100, "GET /api/a", 10, 300, id, k);
    for (int i = 0; i < 2; i++, id++)
        for (unsigned long k = 1; k <= 20; k++)
            jline(c, t += 100, "GET /api/a", 10, 300, id, k);
    struct fl_scenario s;
    char *text = convert(c, &s);
    if (s.npopulations != 3)
        fail_msg("%zu populations:\n%s", s.npopulations, text);
    assert_string_equal(s.populations[0].name, "single");
    assert_true(fabs(s.populations[0].share - 10.0 / 70) < 1e-4);
    assert_int_equal(fl_dist_highest(&s.populations[0].requests), 1);
    assert_string_equal(s.populations[1].name, "short");
    assert_true(fabs(s.populations[1].share - 20.0 / 70) < 1e-4);
    assert_int_equal(fl_dist_lowest(&s.populations[1].requests), 3); /* (2, 5] */
    assert_int_equal(fl_dist_highest(&s.populations[1].requests), 5);
    assert_string_equal(s.populations[2].name, "long");
    assert_int_equal(fl_dist_lowest(&s.populations[2].requests), 11); /* (10, 20] */
    assert_int_equal(fl_dist_highest(&s.populations[2].requests), 20);
    assert_non_null(strstr(text, "17 connections in the log"));
    free(text);
    fl_scenario_free(&s);
    fl_fromlog_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_lines),    cmocka_unit_test(test_long_line_and_nothing_parsed),
        cmocka_unit_test(test_time_zones),   cmocka_unit_test(test_phases),
        cmocka_unit_test(test_hist_buckets), cmocka_unit_test(test_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
