/* workload.c - the workload endpoint (see workload.h): the query string
 * parser with its caps, the burst of short-lived allocations, the response
 * body pattern, and the holds with their server-wide budget. */
#include "workload.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "rand.h"

#define KiB 1024ULL
#define MiB (1024ULL * 1024ULL)

#define DEFAULT_BURST_MIN 16
#define DEFAULT_BURST_MAX 1024

/* ---- query string ---- */

enum kind { K_SIZE, K_COUNT, K_HOLD_FOR };

static const char *const expected[] = {
    [K_SIZE] = "a byte size such as 4096, 64k or 1m",
    [K_COUNT] = "a decimal count",
    [K_HOLD_FOR] = "a decimal count or 'conn'",
};

struct param {
    const char *name;
    size_t off; /* of the uint64_t field in struct fl_work_req */
    enum kind kind;
    const char *cap; /* config key capping it, NULL for none */
    size_t cap_off;  /* of that int64_t field in struct fl_server_config */
};

/* cap_value() reads caps through their offset as int64_t (INT and SIZE). */
#define IS_I64(f) _Generic(((struct fl_server_config *)0)->f, int64_t : 1, default : 0)
_Static_assert(IS_I64(work_max_resp) && IS_I64(work_max_burst) && IS_I64(work_max_burst_size) &&
                   IS_I64(work_max_hold) && IS_I64(work_max_hold_for),
               "workload caps must be int64_t");

#define CAPPED(f, k, c)                                                                            \
    {                                                                                              \
        .name = #f, .off = offsetof(struct fl_work_req, f), .kind = k, .cap = #c,                  \
        .cap_off = offsetof(struct fl_server_config, c)                                            \
    }

static const struct param params[] = {
    CAPPED(resp, K_SIZE, work_max_resp),
    CAPPED(burst, K_COUNT, work_max_burst),
    CAPPED(burst_min, K_SIZE, work_max_burst_size),
    CAPPED(burst_max, K_SIZE, work_max_burst_size),
    CAPPED(hold, K_SIZE, work_max_hold),
    CAPPED(hold_for, K_HOLD_FOR, work_max_hold_for),
    {.name = "seed", .off = offsetof(struct fl_work_req, seed), .kind = K_COUNT},
};

enum num { NUM_OK, NUM_BAD, NUM_BIG };

struct parser {
    const struct fl_server_config *cfg;
    struct fl_work_req *out;
    char *err;
    size_t errlen;
    bool min_set, max_set;
};

__attribute__((format(printf, 2, 3))) static int fail(struct parser *ps, const char *fmt, ...)
{
    if (ps->err && ps->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err, ps->errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* Copies client bytes into a message: truncated, and anything but printable
 * ASCII shown as '?', so the error stays one printable line. */
static const char *shown(char *dst, size_t cap, const char *s, size_t n)
{
    size_t keep = n < cap - 4 ? n : cap - 4;
    for (size_t i = 0; i < keep; i++)
        dst[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    strcpy(dst + keep, keep < n ? "..." : "");
    return dst;
}

/* A negative cap (a config mistake the config code should catch) allows
 * nothing rather than everything. */
static uint64_t cap_u64(int64_t v)
{
    return v < 0 ? 0 : (uint64_t)v;
}

static uint64_t cap_value(const struct fl_server_config *cfg, const struct param *p)
{
    int64_t v;
    memcpy(&v, (const char *)cfg + p->cap_off, sizeof(v));
    return cap_u64(v);
}

/* Decimal digits, then a k/K or m/M multiplier if `suffix`. Every byte is
 * checked before overflow is reported, so "99...9x" is malformed, not big. */
static enum num parse_num(const char *s, size_t n, bool suffix, uint64_t *out)
{
    uint64_t mult = 1;
    if (suffix && n > 1) {
        char c = s[n - 1];
        if (c == 'k' || c == 'K')
            mult = KiB, n--;
        else if (c == 'm' || c == 'M')
            mult = MiB, n--;
    }
    uint64_t v = 0;
    bool big = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return NUM_BAD;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            big = true;
        else
            v = v * 10 + d;
    }
    if (big || v > UINT64_MAX / mult)
        return NUM_BIG;
    *out = v * mult;
    return NUM_OK;
}

static const struct param *lookup(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
        if (strlen(params[i].name) == n && memcmp(params[i].name, name, n) == 0)
            return &params[i];
    return NULL;
}

static int parse_value(struct parser *ps, const struct param *p, const char *v, size_t n,
                       uint64_t *out)
{
    char show[48];
    if (n == 0)
        return fail(ps, "%s: empty value (expected %s)", p->name, expected[p->kind]);
    if (p->kind == K_HOLD_FOR && n == 4 && memcmp(v, "conn", 4) == 0) {
        *out = FL_HOLD_CONN; /* no cap: work_max_hold_conn bounds it per connection */
        return 0;
    }
    switch (parse_num(v, n, p->kind == K_SIZE, out)) {
    case NUM_OK:
        break;
    case NUM_BAD:
        return fail(ps, "%s=%s is malformed (expected %s)", p->name,
                    shown(show, sizeof(show), v, n), expected[p->kind]);
    case NUM_BIG:
        return fail(ps, "%s=%s overflows 64 bits", p->name, shown(show, sizeof(show), v, n));
    }
    if (p->cap && *out > cap_value(ps->cfg, p))
        return fail(ps, "%s=%llu exceeds the cap %s=%llu", p->name, (unsigned long long)*out,
                    p->cap, (unsigned long long)cap_value(ps->cfg, p));
    return 0;
}

/* One "name=value" piece; a piece without '=' has an empty value. */
static int parse_pair(struct parser *ps, const char *s, size_t n)
{
    const char *eq = memchr(s, '=', n);
    size_t nlen = eq ? (size_t)(eq - s) : n;
    const struct param *p = lookup(s, nlen);
    if (!p) {
        char show[48];
        return fail(ps,
                    "unknown parameter '%s' (known: resp, burst, burst_min, burst_max, "
                    "hold, hold_for, seed)",
                    shown(show, sizeof(show), s, nlen));
    }
    const char *v = eq ? eq + 1 : s + n;
    uint64_t val = 0;
    int rc = parse_value(ps, p, v, n - (size_t)(v - s), &val);
    if (rc)
        return rc;
    memcpy((char *)ps->out + p->off, &val, sizeof(val));
    ps->min_set |= p->off == offsetof(struct fl_work_req, burst_min);
    ps->max_set |= p->off == offsetof(struct fl_work_req, burst_max);
    return 0;
}

/* Burst sizes the client did not give default to 16..1024 bytes, lowered to
 * work_max_burst_size so that a server configured with a smaller cap still
 * serves requests that never mention burst sizes. */
static void default_burst_sizes(struct parser *ps)
{
    uint64_t cap = cap_u64(ps->cfg->work_max_burst_size);
    struct fl_work_req *r = ps->out;
    if (!ps->max_set)
        r->burst_max = DEFAULT_BURST_MAX < cap ? DEFAULT_BURST_MAX : cap;
    if (!ps->min_set)
        r->burst_min = DEFAULT_BURST_MIN < r->burst_max ? DEFAULT_BURST_MIN : r->burst_max;
}

static int check_burst(struct parser *ps)
{
    const struct fl_work_req *r = ps->out;
    if (r->burst_min > r->burst_max)
        return fail(ps, "burst_min=%llu exceeds burst_max=%llu", (unsigned long long)r->burst_min,
                    (unsigned long long)r->burst_max);
    if (r->burst && r->burst_min == 0)
        return fail(ps, "burst_min=0 with burst=%llu: burst allocations need at least 1 byte",
                    (unsigned long long)r->burst);
    return 0;
}

int fl_work_parse(const char *query, size_t len, const struct fl_server_config *cfg,
                  struct fl_work_req *out, char *err, size_t errlen)
{
    struct parser ps = {.cfg = cfg, .out = out, .err = err, .errlen = errlen};
    *out = (struct fl_work_req){.hold_for = 1, .seed = 1};
    if (err && errlen)
        err[0] = '\0';
    for (size_t i = 0; i < len;) {
        const char *amp = memchr(query + i, '&', len - i);
        size_t n = amp ? (size_t)(amp - (query + i)) : len - i;
        /* Empty pieces ("a=1&&b=2", a trailing '&') are skipped, as browsers do. */
        int rc = n ? parse_pair(&ps, query + i, n) : 0;
        if (rc)
            return rc;
        i += n + 1;
    }
    default_burst_sizes(&ps);
    return check_burst(&ps);
}

/* ---- burst ---- */

/* Allocations live at once: a parser keeps a handful of temporaries (the
 * current token, a key, a partial object) and drops older ones as it goes. */
#define BURST_WINDOW 16

/* Up to this size a burst allocation is written whole; beyond it, one byte
 * per page and the last byte. The burst exists for its allocator traffic and
 * the pages it makes resident, not for memory bandwidth: one store per page
 * makes a page resident exactly as a full memset would, while keeping a
 * 64 KiB allocation's cost low enough that the allocator, not memset,
 * dominates the burst's time. Small ones are written whole because that
 * costs no more than a few stores. */
#define TOUCH_WHOLE 256
#define PAGE 4096

struct live {
    unsigned char *p;
    size_t size;
};

/* Uniform in [lo, hi]. Modulo bias is at most span / 2^64: invisible for
 * sizes capped by work_max_burst_size. */
static uint64_t draw(uint64_t *s, uint64_t lo, uint64_t hi)
{
    uint64_t span = hi - lo + 1;
    uint64_t x = fl_rand_next(s);    /* splitmix64: fine with a zero seed */
    return span ? lo + x % span : x; /* span 0: the full 64-bit range */
}

static void touch(unsigned char *p, size_t size, unsigned char tag)
{
    if (size <= TOUCH_WHOLE) {
        memset(p, tag, size);
        return;
    }
    for (size_t off = 0; off < size; off += PAGE)
        p[off] = tag;
    p[size - 1] = tag;
}

/* Reads back the first and last bytes touch() wrote, then frees. */
static uint64_t release(struct fl_worker *w, struct live *l)
{
    uint64_t sum = l->size ? (uint64_t)l->p[0] + l->p[l->size - 1] : 0;
    fl_buf_free(w, l->p);
    return sum;
}

size_t fl_work_burst(struct fl_worker *w, const struct fl_work_req *r, uint64_t *sum_out)
{
    struct live win[BURST_WINDOW];
    size_t nlive = 0, failed = 0;
    uint64_t rng = r->seed, sum = 0;
    uint64_t hi = r->burst_max > r->burst_min ? r->burst_max : r->burst_min;
    for (uint64_t i = 0; i < r->burst; i++) {
        if (nlive == BURST_WINDOW) { /* full: drop a random temporary, not the oldest */
            size_t j = (size_t)draw(&rng, 0, BURST_WINDOW - 1);
            sum = sum * 31 + release(w, &win[j]);
            win[j] = win[--nlive];
        }
        size_t size = (size_t)draw(&rng, r->burst_min, hi);
        unsigned char *p = fl_buf_alloc(w, size);
        if (!p) {
            failed = size;
            break;
        }
        win[nlive++] = (struct live){p, size};
        touch(p, size, (unsigned char)(i ^ size));
    }
    while (nlive) /* the rest go in reverse, like a parse unwinding */
        sum = sum * 31 + release(w, &win[--nlive]);
    if (sum_out)
        *sum_out = sum;
    return failed;
}

/* ---- response body ---- */

/* Largest block copied at once: a multiple of the 26-byte period (26 * 2^8,
 * so doubling from 26 lands on it exactly) and small enough to stay in L1
 * while it is copied again and again over a 1 MiB body. */
#define FILL_CHUNK (26 * 256)

void fl_work_fill(char *dst, size_t len)
{
    size_t n = len < 26 ? len : 26;
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)('a' + i);
    /* The filled prefix is a whole number of periods until the last copy, so
     * copying it forward keeps byte i == 'a' + i % 26. */
    while (n < len) {
        size_t m = n < FILL_CHUNK ? n : FILL_CHUNK;
        if (m > len - n)
            m = len - n;
        memcpy(dst + n, dst, m);
        n += m;
    }
}

/* ---- holds ---- */

/* An allocation held past its request: this header, then the held bytes. */
struct fl_hold {
    struct fl_hold *next;
    uint64_t expires; /* request number after which it is freed, or FL_HOLD_CONN */
    uint64_t bytes;
};

void fl_holds_init(struct fl_holds *hs)
{
    hs->list = NULL;
    hs->bytes = 0;
    hs->next_expiry = FL_HOLD_CONN;
}

/* Takes `bytes` from the budget unless the total would pass `max`. The add
 * comes first and is undone on refusal, so two workers racing for the last
 * bytes can never both get them (at worst both are refused). */
static bool budget_take(struct fl_hold_budget *b, uint64_t bytes, uint64_t max)
{
    uint64_t before = atomic_fetch_add_explicit(&b->held, bytes, memory_order_relaxed);
    if (before + bytes <= max && before + bytes >= before)
        return true;
    atomic_fetch_sub_explicit(&b->held, bytes, memory_order_relaxed);
    return false;
}

static void budget_give(struct fl_hold_budget *b, uint64_t bytes)
{
    atomic_fetch_sub_explicit(&b->held, bytes, memory_order_relaxed);
}

enum fl_hold_result fl_hold_take(struct fl_worker *w, struct fl_holds *hs,
                                 struct fl_hold_budget *budget, const struct fl_server_config *cfg,
                                 const struct fl_work_req *r, uint64_t nreq)
{
    if (!budget_take(budget, r->hold, cap_u64(cfg->work_max_held_total)))
        return FL_HOLD_OVER_BUDGET;
    struct fl_hold *h =
        r->hold <= SIZE_MAX - sizeof(*h) ? fl_buf_alloc(w, sizeof(*h) + r->hold) : NULL;
    if (!h) {
        budget_give(budget, r->hold);
        return FL_HOLD_NO_MEMORY;
    }
    memset(h + 1, 0x33, r->hold); /* resident, like data a session keeps */
    h->bytes = r->hold;
    h->expires = r->hold_for == FL_HOLD_CONN ? FL_HOLD_CONN : nreq + r->hold_for;
    h->next = hs->list;
    hs->list = h;
    hs->bytes += r->hold;
    if (h->expires < hs->next_expiry)
        hs->next_expiry = h->expires;
    return FL_HOLD_OK;
}

uint64_t fl_holds_release(struct fl_worker *w, struct fl_holds *hs, struct fl_hold_budget *budget,
                          uint64_t nreq)
{
    if (!hs->list || nreq < hs->next_expiry)
        return 0;
    uint64_t next = FL_HOLD_CONN, freed = 0;
    for (struct fl_hold **pp = &hs->list; *pp;) {
        struct fl_hold *h = *pp;
        if (h->expires <= nreq) {
            *pp = h->next;
            freed += h->bytes;
            fl_buf_free(w, h);
        } else {
            if (h->expires < next)
                next = h->expires;
            pp = &h->next;
        }
    }
    hs->bytes -= freed;
    hs->next_expiry = next;
    budget_give(budget, freed);
    return freed;
}
