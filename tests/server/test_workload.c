/* test_workload.c - the workload endpoint's query parser (defaults, every
 * parameter, every rejection, caps from the config), its burst (allocation
 * and free counts, sizes, window, determinism), its response pattern, and
 * its holds with the server-wide budget (work_max_held_total).
 *
 * Links server/workload.c with the stub fl_buf_alloc/fl_buf_free below
 * instead of server/buf.c, so the burst's calls can be counted and checked.
 * Queries are parsed from the very end of a readable page, as
 * picohttpparser's tests do, so reading past `len` crashes. */
#include "workload.h"
#include "buf.h"
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#define KiB 1024ULL
#define MiB (1024ULL * 1024ULL)

/* ---- stub buffers: malloc/free, recording every call ---- */

struct fl_worker {
    int id;
};

#define MAX_SIZES 50000
#define MAX_LIVE 64

static struct {
    uint64_t allocs, frees;
    size_t sizes[MAX_SIZES];
    void *live[MAX_LIVE];
    size_t nlive, max_live;
    uint64_t allocs_at_first_free; /* 0 until a free happens */
    uint64_t fail_at;              /* this allocation (1-based) returns NULL; 0: none */
} rec;

static struct fl_worker worker = {7};

static void rec_reset(void)
{
    memset(&rec, 0, sizeof(rec));
}

void *fl_buf_alloc(struct fl_worker *w, size_t size)
{
    assert_ptr_equal(w, &worker);
    assert_true(rec.nlive < MAX_LIVE);
    if (rec.allocs < MAX_SIZES)
        rec.sizes[rec.allocs] = size;
    if (++rec.allocs == rec.fail_at)
        return NULL;
    void *p = malloc(size ? size : 1);
    assert_non_null(p);
    rec.live[rec.nlive++] = p;
    if (rec.nlive > rec.max_live)
        rec.max_live = rec.nlive;
    return p;
}

void fl_buf_free(struct fl_worker *w, void *p)
{
    assert_ptr_equal(w, &worker);
    if (!p)
        return;
    size_t i = 0;
    while (i < rec.nlive && rec.live[i] != p)
        i++;
    assert_true(i < rec.nlive); /* freeing something not allocated, or twice */
    rec.live[i] = rec.live[--rec.nlive];
    if (!rec.frees++)
        rec.allocs_at_first_free = rec.allocs;
    free(p);
}

/* ---- helpers ---- */

static struct fl_server_config cfg;
static struct fl_work_req req;
static char err[256];
static char *page_end; /* one past the last readable byte before a PROT_NONE page */

/* The server's default caps (config.h), set on a zeroed struct. */
static void default_caps(struct fl_server_config *c)
{
    memset(c, 0, sizeof(*c));
    c->work_max_resp = 1048576;
    c->work_max_burst = 10000;
    c->work_max_burst_size = 65536;
    c->work_max_hold = 1048576;
    c->work_max_hold_conn = 16777216;
    c->work_max_hold_for = 100000;
    c->work_max_held_total = 1073741824;
}

static int setup(void **state)
{
    (void)state;
    default_caps(&cfg);
    memset(&req, 0xee, sizeof(req)); /* parse must set every field */
    memset(err, 'x', sizeof(err) - 1);
    err[sizeof(err) - 1] = '\0';
    rec_reset();
    return 0;
}

static int parse_n(const char *q, size_t n)
{
    assert_true(n <= 4096);
    char *at = page_end - n;
    memcpy(at, q, n);
    return fl_work_parse(at, n, &cfg, &req, err, sizeof(err));
}

static int parse(const char *q)
{
    return parse_n(q, strlen(q));
}

static void assert_ok(const char *q)
{
    int rc = parse(q);
    if (rc)
        fail_msg("'%s' rejected: %s", q, err);
}

/* Rejected with -EINVAL and one line naming `name`. */
static void assert_rejected(const char *q, const char *name)
{
    int rc = parse(q);
    if (rc != -EINVAL)
        fail_msg("'%s' returned %d, expected -EINVAL", q, rc);
    if (!strstr(err, name))
        fail_msg("'%s': message '%s' does not name '%s'", q, err, name);
    assert_true(strlen(err) > 0);
    assert_null(strchr(err, '\n'));
    assert_null(strchr(err, '\r'));
}

/* ---- parse ---- */

static void test_defaults_on_empty_query(void **state)
{
    (void)state;
    const char *queries[] = {"", "&", "&&&"};
    for (size_t i = 0; i < 3; i++) {
        assert_ok(queries[i]);
        assert_int_equal(req.resp, 0);
        assert_int_equal(req.burst, 0);
        assert_int_equal(req.burst_min, 16);
        assert_int_equal(req.burst_max, 1024);
        assert_int_equal(req.hold, 0);
        assert_int_equal(req.hold_for, 1);
        assert_int_equal(req.seed, 1);
    }
    assert_int_equal(fl_work_parse(NULL, 0, &cfg, &req, err, sizeof(err)), 0);
    assert_int_equal(req.burst_max, 1024);
}

static void test_each_parameter(void **state)
{
    (void)state;
    assert_ok("resp=4096");
    assert_int_equal(req.resp, 4096);
    assert_ok("resp=64k");
    assert_int_equal(req.resp, 64 * KiB);
    assert_ok("resp=3K");
    assert_int_equal(req.resp, 3 * KiB);
    assert_ok("resp=1m");
    assert_int_equal(req.resp, MiB);
    assert_ok("resp=1M");
    assert_int_equal(req.resp, MiB);
    assert_ok("resp=0&hold=0");
    assert_int_equal(req.resp, 0);
    assert_ok("burst=100");
    assert_int_equal(req.burst, 100);
    assert_ok("burst_min=8&burst_max=2k");
    assert_int_equal(req.burst_min, 8);
    assert_int_equal(req.burst_max, 2 * KiB);
    assert_ok("hold=1m");
    assert_int_equal(req.hold, MiB);
    assert_ok("hold_for=7");
    assert_int_equal(req.hold_for, 7);
    assert_ok("hold_for=0");
    assert_int_equal(req.hold_for, 0);
    assert_ok("hold_for=conn");
    assert_int_equal(req.hold_for, FL_HOLD_CONN);
    assert_ok("seed=0");
    assert_int_equal(req.seed, 0);
    assert_ok("seed=18446744073709551615"); /* seeds have no cap */
    assert_int_equal(req.seed, UINT64_MAX);
    assert_ok("resp=007");
    assert_int_equal(req.resp, 7);
}

static void test_all_together(void **state)
{
    (void)state;
    assert_ok("seed=42&hold_for=conn&hold=2k&burst_max=64k&burst_min=1&burst=10000&resp=1m");
    assert_int_equal(req.resp, MiB);
    assert_int_equal(req.burst, 10000);
    assert_int_equal(req.burst_min, 1);
    assert_int_equal(req.burst_max, 64 * KiB);
    assert_int_equal(req.hold, 2 * KiB);
    assert_int_equal(req.hold_for, FL_HOLD_CONN);
    assert_int_equal(req.seed, 42);
}

static void test_later_value_wins_and_empty_pieces_skipped(void **state)
{
    (void)state;
    assert_ok("resp=1&&resp=2&");
    assert_int_equal(req.resp, 2);
    assert_ok("hold_for=conn&hold_for=3");
    assert_int_equal(req.hold_for, 3);
}

static void test_rejects_unknown_parameter(void **state)
{
    (void)state;
    assert_rejected("foo=1", "foo");
    assert_rejected("resp=1&Resp=2", "Resp");
    assert_rejected("respx=1", "respx");
    assert_rejected("res=1", "res");
    assert_rejected("=5", "unknown parameter ''");
    assert_rejected("a\nb=1", "a?b"); /* control bytes never reach the one-line message */
}

static void test_rejects_empty_value(void **state)
{
    (void)state;
    assert_rejected("resp=", "resp");
    assert_rejected("resp", "resp");
    assert_rejected("burst=&resp=1", "burst");
    assert_rejected("hold_for=", "hold_for");
    assert_rejected("seed", "seed");
}

static void test_rejects_malformed_value(void **state)
{
    (void)state;
    const char *sizes[] = {"abc", "1x", "-1", "+1", "1.5", "k",    "m",    "1kk",
                           "1km", "1g", "1 ", " 1", "%31", "1%6B", "0x10", "1e3"};
    char q[64];
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        snprintf(q, sizeof(q), "resp=%s", sizes[i]);
        assert_rejected(q, "resp=");
        snprintf(q, sizeof(q), "burst_max=%s", sizes[i]);
        assert_rejected(q, "burst_max=");
    }
    /* counts take no suffix */
    assert_rejected("burst=1k", "burst=1k");
    assert_rejected("seed=1m", "seed=1m");
    assert_rejected("hold_for=1k", "hold_for=1k");
    assert_rejected("hold_for=Conn", "hold_for");
    assert_rejected("hold_for=conn2", "hold_for");
    assert_rejected("hold_for=-1", "hold_for");
}

static void test_rejects_overflow(void **state)
{
    (void)state;
    assert_rejected("resp=18446744073709551616", "resp=18446744073709551616 overflows");
    assert_rejected("resp=99999999999999999999999", "resp");
    assert_rejected("resp=18014398509481984k", "resp"); /* 2^54 KiB = 2^64 */
    assert_rejected("hold=17592186044416m", "hold");    /* 2^44 MiB = 2^64 */
    assert_rejected("seed=18446744073709551616", "seed");
    assert_rejected("hold_for=18446744073709551615", "hold_for"); /* over its cap, never conn */
}

static void test_rejects_bad_burst_range(void **state)
{
    (void)state;
    assert_rejected("burst_min=100&burst_max=50", "burst_min=100 exceeds burst_max=50");
    assert_rejected("burst_min=2k", "burst_min=2048 exceeds burst_max=1024");
    assert_rejected("burst=1&burst_min=0", "burst_min");
    assert_rejected("burst_min=0&burst_max=0&burst=5", "burst_min");
    /* a zero minimum is fine while there is no burst */
    assert_ok("burst_min=0");
    assert_int_equal(req.burst_min, 0);
}

static void test_caps_exact_message(void **state)
{
    (void)state;
    assert_int_equal(parse("resp=2m"), -EINVAL);
    assert_string_equal(err, "resp=2097152 exceeds the cap work_max_resp=1048576");
}

static void test_caps_from_config(void **state)
{
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.work_max_resp = 100;
    cfg.work_max_burst = 10;
    cfg.work_max_burst_size = 2048;
    cfg.work_max_hold = 3000;
    cfg.work_max_hold_for = 5;
    assert_ok("resp=100&burst=10&burst_max=2k&burst_min=2k&hold=3000&hold_for=5");
    assert_rejected("resp=101", "resp=101 exceeds the cap work_max_resp=100");
    assert_rejected("burst=11", "burst=11 exceeds the cap work_max_burst=10");
    assert_rejected("burst_max=2049", "burst_max=2049 exceeds the cap work_max_burst_size=2048");
    assert_rejected("burst_min=3k&burst_max=2k", "burst_min=3072 exceeds the cap");
    assert_rejected("hold=3001", "hold=3001 exceeds the cap work_max_hold=3000");
    assert_rejected("hold_for=6", "hold_for=6 exceeds the cap work_max_hold_for=5");
    /* conn is bounded per connection (work_max_hold_conn) by the caller */
    assert_ok("hold_for=conn&hold=3000");
    assert_int_equal(req.hold_for, FL_HOLD_CONN);
    /* the per-connection cap is not this function's business */
    cfg.work_max_hold_conn = 1;
    assert_ok("hold=3000");
}

static void test_zero_caps_allow_only_zero(void **state)
{
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    assert_ok("resp=0&burst=0&hold=0&hold_for=0&seed=9");
    assert_int_equal(req.burst_min, 0);
    assert_int_equal(req.burst_max, 0);
    assert_rejected("resp=1", "work_max_resp=0");
    assert_rejected("burst=1", "work_max_burst=0");
    cfg.work_max_resp = -5; /* a negative cap allows nothing */
    assert_rejected("resp=1", "resp=1 exceeds the cap work_max_resp=0");
}

/* Defaults the client did not give are lowered to a smaller size cap, so a
 * request that never mentions sizes still works on such a server. */
static void test_default_sizes_follow_small_cap(void **state)
{
    (void)state;
    cfg.work_max_burst_size = 512;
    assert_ok("burst=3");
    assert_int_equal(req.burst_min, 16);
    assert_int_equal(req.burst_max, 512);
    cfg.work_max_burst_size = 8;
    assert_ok("burst=3");
    assert_int_equal(req.burst_min, 8);
    assert_int_equal(req.burst_max, 8);
    assert_rejected("burst_max=9", "work_max_burst_size=8");
}

static void test_error_buffer_bounds(void **state)
{
    (void)state;
    char small[8];
    memset(small, 'x', sizeof(small));
    assert_int_equal(fl_work_parse("nope=1", 6, &cfg, &req, small, sizeof(small)), -EINVAL);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_int_equal(fl_work_parse("nope=1", 6, &cfg, &req, NULL, 0), -EINVAL);
    /* a huge value is shown truncated */
    char q[400] = "resp=";
    memset(q + 5, '9', 300);
    assert_rejected(q, "resp=999");
    assert_true(strlen(err) < 120);
    assert_non_null(strstr(err, "..."));
}

/* Every prefix of valid and invalid queries, each ending at the guard page:
 * the parser must never look at query[len]. */
static void test_no_overread(void **state)
{
    (void)state;
    const char *qs[] = {"resp=64k&burst=10&burst_min=1&burst_max=4k&hold=1m&hold_for=conn&seed=3",
                        "hold_for=conn", "resp=1k&", "x=", "burst_min=1&burst_max=1"};
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
        for (size_t n = 0; n <= strlen(qs[i]); n++) {
            int rc = parse_n(qs[i], n);
            assert_true(rc == 0 || rc == -EINVAL);
        }
}

/* ---- burst ---- */

static struct fl_work_req burst_req(uint64_t n, uint64_t lo, uint64_t hi, uint64_t seed)
{
    return (struct fl_work_req){
        .burst = n, .burst_min = lo, .burst_max = hi, .hold_for = 1, .seed = seed};
}

static void test_burst_counts_and_sizes(void **state)
{
    (void)state;
    struct fl_work_req r = burst_req(1000, 16, 1024, 1);
    fl_work_burst(&worker, &r, NULL);
    assert_int_equal(rec.allocs, 1000);
    assert_int_equal(rec.frees, 1000);
    assert_int_equal(rec.nlive, 0);
    for (size_t i = 0; i < 1000; i++)
        assert_in_range(rec.sizes[i], 16, 1024);
    /* a window of temporaries: bounded, and frees start long before the end */
    assert_in_range(rec.max_live, 2, 16);
    assert_in_range(rec.allocs_at_first_free, 1, 17);
}

static void test_burst_zero_does_nothing(void **state)
{
    (void)state;
    struct fl_work_req r = burst_req(0, 16, 1024, 1);
    fl_work_burst(&worker, &r, NULL);
    assert_int_equal(rec.allocs, 0);
    assert_int_equal(rec.frees, 0);
}

static void test_burst_small_counts(void **state)
{
    (void)state;
    for (uint64_t n = 1; n <= 40; n++) {
        rec_reset();
        struct fl_work_req r = burst_req(n, 1, 100, n);
        fl_work_burst(&worker, &r, NULL);
        assert_int_equal(rec.allocs, n);
        assert_int_equal(rec.frees, n);
        assert_int_equal(rec.nlive, 0);
    }
}

static void test_burst_covers_range(void **state)
{
    (void)state;
    struct fl_work_req r = burst_req(2000, 3, 6, 99);
    fl_work_burst(&worker, &r, NULL);
    unsigned seen[7] = {0};
    for (size_t i = 0; i < 2000; i++) {
        assert_in_range(rec.sizes[i], 3, 6);
        seen[rec.sizes[i]]++;
    }
    for (size_t s = 3; s <= 6; s++) /* 500 expected each */
        assert_in_range(seen[s], 400, 600);
    rec_reset();
    r = burst_req(50, 4096, 4096, 5); /* one size */
    fl_work_burst(&worker, &r, NULL);
    for (size_t i = 0; i < 50; i++)
        assert_int_equal(rec.sizes[i], 4096);
}

/* Large sizes take the page-touching path; ASan checks it stays in bounds. */
static void test_burst_large_sizes(void **state)
{
    (void)state;
    struct fl_work_req r = burst_req(200, 257, 64 * KiB, 3);
    fl_work_burst(&worker, &r, NULL);
    assert_int_equal(rec.allocs, 200);
    assert_int_equal(rec.frees, 200);
}

static void test_burst_same_seed_same_sizes(void **state)
{
    (void)state;
    enum { N = 500 };
    static size_t first[N];
    struct fl_work_req r = burst_req(N, 16, 1024, 12345);
    uint64_t sum1 = 0, sum2 = 0;
    fl_work_burst(&worker, &r, &sum1);
    memcpy(first, rec.sizes, sizeof(first));
    rec_reset();
    fl_work_burst(&worker, &r, &sum2);
    assert_memory_equal(first, rec.sizes, sizeof(first));
    assert_int_equal(sum1, sum2);
    rec_reset();
    r.seed = 12346;
    fl_work_burst(&worker, &r, NULL);
    assert_memory_not_equal(first, rec.sizes, sizeof(first));
}
/* Out of memory midway (with the window full, and at the first
 * allocation): the burst stops, names the size that failed, and frees every
 * allocation it took. */
static void test_burst_failure_frees_all(void **state)
{
    (void)state;
    uint64_t at[] = {1, 2, 10, 17, 40};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        rec_reset();
        rec.fail_at = at[i];
        struct fl_work_req r = burst_req(100, 16, 1024, 7);
        size_t failed = fl_work_burst(&worker, &r, NULL);
        assert_int_equal(failed, rec.sizes[at[i] - 1]);
        assert_int_equal(rec.allocs, at[i]);
        assert_int_equal(rec.frees, at[i] - 1);
        assert_int_equal(rec.nlive, 0);
    }
    rec_reset();
    struct fl_work_req r = burst_req(100, 16, 1024, 7);
    assert_int_equal(fl_work_burst(&worker, &r, NULL), 0);
}

/* ---- holds and their budget ---- */

static struct fl_work_req hold_req(uint64_t bytes, uint64_t hold_for)
{
    return (struct fl_work_req){.hold = bytes, .hold_for = hold_for, .seed = 1};
}

static enum fl_hold_result take(struct fl_holds *hs, struct fl_hold_budget *b, uint64_t bytes,
                                uint64_t hold_for, uint64_t nreq)
{
    struct fl_work_req r = hold_req(bytes, hold_for);
    return fl_hold_take(&worker, hs, b, &cfg, &r, nreq);
}

static uint64_t budget_held(struct fl_hold_budget *b)
{
    return atomic_load(&b->held);
}

/* Two connections share the budget: holds up to it are taken, one byte
 * past it is refused with nothing allocated, and what a closing
 * connection gives back can be held again. */
static void test_holds_share_the_budget(void **state)
{
    (void)state;
    cfg.work_max_held_total = 10000;
    struct fl_hold_budget b = {0};
    struct fl_holds one, two;
    fl_holds_init(&one);
    fl_holds_init(&two);
    assert_int_equal(take(&one, &b, 4000, FL_HOLD_CONN, 1), FL_HOLD_OK);
    assert_int_equal(take(&two, &b, 4000, FL_HOLD_CONN, 1), FL_HOLD_OK);
    assert_int_equal(take(&one, &b, 4000, FL_HOLD_CONN, 2), FL_HOLD_OVER_BUDGET);
    assert_int_equal(rec.allocs, 2); /* the refusal allocated nothing */
    assert_int_equal(budget_held(&b), 8000);
    assert_int_equal(one.bytes, 4000);
    assert_int_equal(take(&two, &b, 2000, FL_HOLD_CONN, 2), FL_HOLD_OK); /* exactly full */
    assert_int_equal(take(&one, &b, 1, FL_HOLD_CONN, 3), FL_HOLD_OVER_BUDGET);
    assert_int_equal(budget_held(&b), 10000);

    assert_int_equal(fl_holds_release(&worker, &one, &b, FL_HOLD_CONN), 4000); /* close */
    assert_int_equal(budget_held(&b), 6000);
    assert_int_equal(one.bytes, 0);
    assert_null(one.list);
    assert_int_equal(take(&two, &b, 4000, FL_HOLD_CONN, 3), FL_HOLD_OK);
    assert_int_equal(fl_holds_release(&worker, &two, &b, FL_HOLD_CONN), 10000);
    assert_int_equal(budget_held(&b), 0);
    assert_int_equal(rec.nlive, 0);
}

/* Holds end with the request that completes their time, giving their bytes
 * back; the rest stay, and the next expiry follows them. */
static void test_hold_expiry(void **state)
{
    (void)state;
    struct fl_hold_budget b = {0};
    struct fl_holds hs;
    fl_holds_init(&hs);
    assert_int_equal(take(&hs, &b, 100, 1, 2), FL_HOLD_OK);            /* ends with 3 */
    assert_int_equal(take(&hs, &b, 200, 3, 2), FL_HOLD_OK);            /* ends with 5 */
    assert_int_equal(take(&hs, &b, 400, FL_HOLD_CONN, 2), FL_HOLD_OK); /* at close */
    assert_int_equal(hs.next_expiry, 3);
    assert_int_equal(fl_holds_release(&worker, &hs, &b, 2), 0);
    assert_int_equal(fl_holds_release(&worker, &hs, &b, 4), 100);
    assert_int_equal(hs.next_expiry, 5);
    assert_int_equal(budget_held(&b), 600);
    assert_int_equal(fl_holds_release(&worker, &hs, &b, 5), 200);
    assert_int_equal(hs.next_expiry, FL_HOLD_CONN);
    assert_int_equal(fl_holds_release(&worker, &hs, &b, 1000), 0);
    assert_int_equal(hs.bytes, 400);
    assert_int_equal(fl_holds_release(&worker, &hs, &b, FL_HOLD_CONN), 400);
    assert_int_equal(budget_held(&b), 0);
    assert_int_equal(rec.nlive, 0);
}

/* A hold whose allocation fails gives its bytes back to the budget. */
static void test_hold_failure_returns_budget(void **state)
{
    (void)state;
    struct fl_hold_budget b = {0};
    struct fl_holds hs;
    fl_holds_init(&hs);
    rec.fail_at = 1;
    assert_int_equal(take(&hs, &b, 5000, FL_HOLD_CONN, 1), FL_HOLD_NO_MEMORY);
    assert_int_equal(budget_held(&b), 0);
    assert_int_equal(hs.bytes, 0);
    assert_null(hs.list);
    assert_int_equal(take(&hs, &b, 5000, FL_HOLD_CONN, 1), FL_HOLD_OK);
    assert_int_equal(fl_holds_release(&worker, &hs, &b, FL_HOLD_CONN), 5000);
}

/* A budget of 0 refuses every hold, as a cap of 0 allows only 0. */
static void test_zero_budget_refuses_holds(void **state)
{
    (void)state;
    cfg.work_max_held_total = 0;
    struct fl_hold_budget b = {0};
    struct fl_holds hs;
    fl_holds_init(&hs);
    assert_int_equal(take(&hs, &b, 1, FL_HOLD_CONN, 1), FL_HOLD_OVER_BUDGET);
    assert_int_equal(budget_held(&b), 0);
    assert_int_equal(rec.allocs, 0);
}

/* ---- fill ---- */

static void check_fill(size_t len)
{
    char *buf = malloc(len + 1);
    assert_non_null(buf);
    buf[len] = '#';
    fl_work_fill(buf, len);
    for (size_t i = 0; i < len; i++)
        if (buf[i] != (char)('a' + i % 26))
            fail_msg("len %zu: byte %zu is '%c', expected '%c'", len, i, buf[i],
                     (char)('a' + i % 26));
    assert_int_equal(buf[len], '#'); /* nothing written past the end */
    free(buf);
}

static void test_fill_pattern(void **state)
{
    (void)state;
    size_t lens[] = {0,    1,    25,    26,    27,    51,      52,      53,         6655,
                     6656, 6657, 13312, 13313, 65536, 1048576, MiB + 3, 3 * MiB + 7};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        check_fill(lens[i]);
}

int main(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    char *map =
        mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED || mprotect(map + pg, (size_t)pg, PROT_NONE)) {
        perror("test_workload: mmap/mprotect");
        return 1;
    }
    page_end = map + pg;

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults_on_empty_query, setup),
        cmocka_unit_test_setup(test_each_parameter, setup),
        cmocka_unit_test_setup(test_all_together, setup),
        cmocka_unit_test_setup(test_later_value_wins_and_empty_pieces_skipped, setup),
        cmocka_unit_test_setup(test_rejects_unknown_parameter, setup),
        cmocka_unit_test_setup(test_rejects_empty_value, setup),
        cmocka_unit_test_setup(test_rejects_malformed_value, setup),
        cmocka_unit_test_setup(test_rejects_overflow, setup),
        cmocka_unit_test_setup(test_rejects_bad_burst_range, setup),
        cmocka_unit_test_setup(test_caps_exact_message, setup),
        cmocka_unit_test_setup(test_caps_from_config, setup),
        cmocka_unit_test_setup(test_zero_caps_allow_only_zero, setup),
        cmocka_unit_test_setup(test_default_sizes_follow_small_cap, setup),
        cmocka_unit_test_setup(test_error_buffer_bounds, setup),
        cmocka_unit_test_setup(test_no_overread, setup),
        cmocka_unit_test_setup(test_burst_counts_and_sizes, setup),
        cmocka_unit_test_setup(test_burst_zero_does_nothing, setup),
        cmocka_unit_test_setup(test_burst_small_counts, setup),
        cmocka_unit_test_setup(test_burst_covers_range, setup),
        cmocka_unit_test_setup(test_burst_large_sizes, setup),
        cmocka_unit_test_setup(test_burst_same_seed_same_sizes, setup),
        cmocka_unit_test_setup(test_burst_failure_frees_all, setup),
        cmocka_unit_test_setup(test_holds_share_the_budget, setup),
        cmocka_unit_test_setup(test_hold_expiry, setup),
        cmocka_unit_test_setup(test_hold_failure_returns_budget, setup),
        cmocka_unit_test_setup(test_zero_budget_refuses_holds, setup),
        cmocka_unit_test_setup(test_fill_pattern, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
