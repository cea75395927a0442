/* scenario_hist.c - the scenario grammar's empirical distribution, for
 * sizes, counts and times measured somewhere (an access log, see
 * fromlog.c) rather than guessed:
 *
 *   HIST    = "hist:" BUCKETS ["~" ["hist:"] BUCKETS]
 *   BUCKETS = BUCKET {"," BUCKET}        1..FL_DIST_MAX_BUCKETS of them
 *   BUCKET  = VALUE ":" WEIGHT           VALUE as scenario_dist.c reads it
 *                                        (4k, 30s, 12), WEIGHT a whole
 *                                        number 0..1e9
 *
 * A draw picks bucket i with weight[i] / the sum, then a value uniform
 * over the bucket's integers: above the previous edge, up to its own. The
 * first bucket starts at the unit's floor: 0 for a size, 1 for a count or
 * a time (1 ns), so a request count or a lifetime drawn is never 0 (the
 * loader refuses a 0 there); an edge of 0 makes the first bucket exactly
 * 0, so "hist:0:10,1k:90" gives empty answers one time in ten. Uniform
 * inside a bucket is all a histogram knows: where values fell, not how.
 * Edges strictly increase; weights are not all 0; a bucket of weight 0
 * still sets where the next one starts.
 *
 * Weights are whole numbers so that printing gives the text back exactly
 * (a printed scenario loads into the same scenario) and a draw is an exact
 * integer choice. Drift ("~"): at run progress p a draw comes from the
 * second list with probability p, else from the first, so the mix moves
 * linearly from one histogram to the other whatever their edges. A draw
 * takes one word of the caller's generator, as every distribution does,
 * and derives the rest from it with splitmix64. */
#include "scenario_internal.h"

#include "fl_ini.h"
#include "rand.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static uint64_t unit_floor(enum fl_dist_unit unit)
{
    return unit == FL_DIST_BYTES ? 0 : 1;
}

/* The least value of bucket i. */
static uint64_t bucket_lo(const struct fl_dist_hist *h, enum fl_dist_unit unit, uint32_t i)
{
    if (i)
        return h->edge[i - 1] + 1;
    return h->edge[0] < unit_floor(unit) ? h->edge[0] : unit_floor(unit);
}

static int parse_weight(const char *w, uint32_t *out, char *why, size_t whylen)
{
    size_t digits = strspn(w, "0123456789");
    /* Ten digits already exceed the maximum; more could overflow. */
    uint64_t v = digits && digits <= 10 ? strtoull(w, NULL, 10) : UINT64_MAX;
    if (!digits || w[digits] || v > FL_DIST_MAX_WEIGHT)
        return fl__dist_bad(why, whylen, "weight '%s': expected a whole number 0..%" PRIu32, w,
                            FL_DIST_MAX_WEIGHT);
    *out = (uint32_t)v;
    return 0;
}

/* One "EDGE:WEIGHT", trimmed, appended to `h`. */
static int parse_bucket(struct fl_dist_hist *h, enum fl_dist_unit unit, char *b, char *why,
                        size_t whylen)
{
    char sub[FL_SCENARIO_STR_MAX];
    if (!*b)
        return fl__dist_bad(why, whylen, "empty bucket (two commas, or one at an end)");
    if (h->n == FL_DIST_MAX_BUCKETS)
        return fl__dist_bad(why, whylen, "more than %d buckets", FL_DIST_MAX_BUCKETS);
    char *colon = strrchr(b, ':');
    if (!colon)
        return fl__dist_bad(why, whylen, "bucket '%s': expected EDGE:WEIGHT", b);
    *colon = '\0';
    char *edge = fl_ini_trim(b), *weight = fl_ini_trim(colon + 1);
    uint64_t e;
    if (fl_dist_parse_value(unit, edge, &e, sub, sizeof(sub)) ||
        parse_weight(weight, &h->weight[h->n], sub, sizeof(sub)))
        return fl__dist_bad(why, whylen, "bucket '%s:%s': %s", edge, weight, sub);
    if (h->n && e <= h->edge[h->n - 1]) {
        char a[32], p[32];
        fl_dist_format_value(unit, e, a, sizeof(a));
        fl_dist_format_value(unit, h->edge[h->n - 1], p, sizeof(p));
        return fl__dist_bad(why, whylen,
                            "edge %s is not above the edge before it, %s (edges increase)", a, p);
    }
    h->edge[h->n++] = e;
    return 0;
}

/* "E:W,E:W,..." into `h` (zeroed here), its least and largest values into
 * lo and hi. */
static int parse_list(struct fl_dist_hist *h, enum fl_dist_unit unit, char *s, uint64_t *lo,
                      uint64_t *hi, char *why, size_t whylen)
{
    *h = (struct fl_dist_hist){0};
    for (char *b = s;;) {
        char *comma = strchr(b, ',');
        if (comma)
            *comma = '\0';
        int rc = parse_bucket(h, unit, fl_ini_trim(b), why, whylen);
        if (rc)
            return rc;
        if (!comma)
            break;
        b = comma + 1;
    }
    uint32_t first = h->n, last = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        if (h->weight[i] && first == h->n)
            first = i;
        if (h->weight[i])
            last = i;
    }
    if (first == h->n)
        return fl__dist_bad(why, whylen, "the weights add up to 0");
    *lo = bucket_lo(h, unit, first);
    *hi = h->edge[last];
    return 0;
}

int fl__dist_hist_parse(struct fl_dist *d, enum fl_dist_unit unit, char *s, char *why,
                        size_t whylen)
{
    struct fl_dist r = {.unit = unit, .set = true, .hist = true};
    char *tilde = strchr(s, '~');
    if (tilde) {
        *tilde = '\0';
        if (strchr(tilde + 1, '~'))
            return fl__dist_bad(why, whylen, "more than one '~'");
    }
    int rc = parse_list(&r.h, unit, s, &r.lo, &r.hi, why, whylen);
    if (rc)
        return rc;
    r.h_end = r.h;
    r.lo_end = r.lo;
    r.hi_end = r.hi;
    if (tilde) {
        char *end = fl_ini_trim(tilde + 1);
        if (strncmp(end, "hist:", 5) == 0)
            end += 5;
        if (strncmp(end, "log:", 4) == 0)
            return fl__dist_bad(why, whylen, "a hist drifts to another hist, not to log:");
        rc = parse_list(&r.h_end, unit, end, &r.lo_end, &r.hi_end, why, whylen);
        if (rc)
            return rc;
    }
    *d = r;
    return 0;
}

static bool same_hist(const struct fl_dist_hist *a, const struct fl_dist_hist *b)
{
    if (a->n != b->n)
        return false;
    for (uint32_t i = 0; i < a->n; i++)
        if (a->edge[i] != b->edge[i] || a->weight[i] != b->weight[i])
            return false;
    return true;
}

/* Appends "E:W,E:W..." to buf at *used (snprintf's truncation rules). */
static void format_list(const struct fl_dist_hist *h, enum fl_dist_unit unit, char *buf, size_t len,
                        size_t *used)
{
    for (uint32_t i = 0; i < h->n; i++) {
        char e[32];
        fl_dist_format_value(unit, h->edge[i], e, sizeof(e));
        int n = snprintf(buf + *used, len - *used, "%s%s:%" PRIu32, i ? "," : "", e, h->weight[i]);
        if (n < 0 || (size_t)n >= len - *used) {
            *used = len - 1;
            return;
        }
        *used += (size_t)n;
    }
}

void fl__dist_hist_format(const struct fl_dist *d, char *buf, size_t len)
{
    if (!len)
        return;
    size_t used = (size_t)snprintf(buf, len, "hist:");
    if (used >= len)
        return;
    format_list(&d->h, d->unit, buf, len, &used);
    if (same_hist(&d->h, &d->h_end) || used + 1 >= len)
        return;
    buf[used++] = '~';
    buf[used] = '\0';
    format_list(&d->h_end, d->unit, buf, len, &used);
}

bool fl__dist_hist_drifts(const struct fl_dist *d)
{
    return d->hist && !same_hist(&d->h, &d->h_end);
}

/* A bucket by weight, then a value inside it, from the stream `st`. */
static uint64_t draw(const struct fl_dist_hist *h, enum fl_dist_unit unit, uint64_t *st)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < h->n; i++)
        total += h->weight[i];
    /* t < total, so the walk stops inside the list; a weight of 0 never
     * holds t. */
    uint64_t t = (uint64_t)(((unsigned __int128)fl_rand_next(st) * total) >> 64), acc = 0;
    uint32_t i = 0;
    while (t >= (acc += h->weight[i]))
        i++;
    uint64_t lo = bucket_lo(h, unit, i), hi = h->edge[i];
    return lo + (uint64_t)(((unsigned __int128)fl_rand_next(st) * (hi - lo + 1)) >> 64);
}

uint64_t fl__dist_hist_sample(const struct fl_dist *d, uint64_t r, double p)
{
    uint64_t st = r; /* the caller's one draw seeds the few this one needs */
    const struct fl_dist_hist *h = &d->h;
    if (p > 0 && fl__dist_hist_drifts(d) && (double)(fl_rand_next(&st) >> 11) * 0x1.0p-53 < p)
        h = &d->h_end;
    return draw(h, d->unit, &st);
}
