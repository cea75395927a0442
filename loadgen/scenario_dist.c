/* scenario_dist.c - the scenario's one grammar for sizes, counts and times,
 * its formatting, and sampling with a caller-owned PRNG state:
 *
 *   DIST  = ["log:"] RANGE ["~" RANGE]     drift: the first RANGE at the
 *         | HIST                           run's start, the second at its end
 *   RANGE = VALUE | VALUE "-" VALUE        (HIST, empirical: scenario_hist.c)
 *   VALUE = bytes:  N[k|m|g]       (KiB, MiB, GiB; case-insensitive)
 *           counts: N
 *           times:  N[.F][ns|us|ms|s|m|h]  (common/duration.h; a bare
 *                                           number is seconds, as in the
 *                                           server's config and nginx)
 *
 * Ranges are inclusive. The generator is common/rand.h's splitmix64: one
 * 64-bit word of state, any value valid, so a connection's state can be
 * copied, stored or derived from the seed for free. The draws of the
 * request and population mixes and the phase lookup live here too. */
#include "scenario_internal.h"

#include "duration.h"
#include "fl_ini.h"
#include "rand.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct suffix {
    const char *name;
    uint64_t mul;
};

/* Largest first, which is the order fl_dist_format_value tries them in. */
static const struct suffix time_sfx[] = {
    {"h", UINT64_C(3600000000000)}, {"m", UINT64_C(60000000000)}, {"s", UINT64_C(1000000000)},
    {"ms", UINT64_C(1000000)},      {"us", UINT64_C(1000)},       {"ns", 1},
};
static const struct suffix byte_sfx[] = {
    {"g", UINT64_C(1) << 30}, {"m", UINT64_C(1) << 20}, {"k", UINT64_C(1) << 10}, {"", 1}};

#define NSFX(a) (sizeof(a) / sizeof((a)[0]))

static const uint64_t unit_max[] = {
    [FL_DIST_BYTES] = FL_DIST_MAX_BYTES,
    [FL_DIST_COUNT] = FL_DIST_MAX_COUNT,
    [FL_DIST_TIME] = FL_DIST_MAX_TIME,
};

int fl__dist_bad(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (whylen)
        vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static const struct suffix *find_sfx(const char *name)
{
    for (size_t i = 0; i < NSFX(byte_sfx); i++)
        if (strcasecmp(byte_sfx[i].name, name) == 0)
            return &byte_sfx[i];
    return NULL;
}

/* A time: the one duration grammar, at most FL_DIST_MAX_TIME. */
static int parse_time(const char *s, uint64_t *out, char *why, size_t whylen)
{
    uint64_t v = UINT64_MAX; /* stays so on -ERANGE */
    if (fl_duration_parse(s, &v, why, whylen) == -EINVAL)
        return -EINVAL;
    if (v > FL_DIST_MAX_TIME) /* -ERANGE too */
        return fl__dist_bad(why, whylen, "too long (at most 30 days)");
    *out = v;
    return 0;
}

/* The number, then the suffix: digits only, so strtoull's signs and hex
 * never get in. */
static int parse_whole(enum fl_dist_unit unit, const char *s, size_t digits, uint64_t *out,
                       char *why, size_t whylen)
{
    const char *p = s + digits;
    if (*p == '.')
        return fl__dist_bad(why, whylen, "expected a whole number");
    const struct suffix *u = find_sfx(p);
    if (unit == FL_DIST_COUNT && *p)
        return fl__dist_bad(why, whylen, "a count is a plain number");
    if (!u)
        return fl__dist_bad(why, whylen, "unknown size suffix '%s' (k, m or g)", p);
    /* Ten digits already exceed every maximum; more could overflow. */
    uint64_t n = digits > 10 ? UINT64_MAX : strtoull(s, NULL, 10);
    if (n > unit_max[unit] / u->mul) {
        char max[32];
        fl_dist_format_value(unit, unit_max[unit], max, sizeof(max));
        return fl__dist_bad(why, whylen, "too large (at most %s)", max);
    }
    *out = n * u->mul;
    return 0;
}

int fl_dist_parse_value(enum fl_dist_unit unit, const char *text, uint64_t *out, char *why,
                        size_t whylen)
{
    char buf[FL_SCENARIO_STR_MAX];
    if (strlen(text) >= sizeof(buf))
        return fl__dist_bad(why, whylen, "value longer than %zu bytes", sizeof(buf) - 1);
    char *s = fl_ini_trim(strcpy(buf, text));
    if (unit == FL_DIST_TIME)
        return parse_time(s, out, why, whylen);
    size_t digits = strspn(s, "0123456789");
    if (!digits)
        return fl__dist_bad(why, whylen, "expected a number");
    return parse_whole(unit, s, digits, out, why, whylen);
}

static int parse_range(enum fl_dist_unit unit, char *s, uint64_t *lo, uint64_t *hi, char *why,
                       size_t whylen)
{
    char *dash = strchr(s, '-');
    if (dash)
        *dash = '\0';
    int rc = fl_dist_parse_value(unit, s, lo, why, whylen);
    *hi = *lo;
    if (rc || !dash)
        return rc;
    if (strchr(dash + 1, '-'))
        return fl__dist_bad(why, whylen, "more than one '-' in a range");
    rc = fl_dist_parse_value(unit, dash + 1, hi, why, whylen);
    if (rc == 0 && *lo > *hi)
        return fl__dist_bad(why, whylen, "range start %s is above its end %s", fl_ini_trim(s),
                            fl_ini_trim(dash + 1));
    return rc;
}

int fl_dist_parse(struct fl_dist *d, enum fl_dist_unit unit, const char *text, char *why,
                  size_t whylen)
{
    char buf[FL_SCENARIO_STR_MAX];
    if (strlen(text) >= sizeof(buf))
        return fl__dist_bad(why, whylen, "value longer than %zu bytes", sizeof(buf) - 1);
    char *s = fl_ini_trim(strcpy(buf, text));
    if (strncmp(s, "hist:", 5) == 0)
        return fl__dist_hist_parse(d, unit, s + 5, why, whylen);
    struct fl_dist r = {.unit = unit, .set = true};
    if (strncmp(s, "log:", 4) == 0) {
        r.log = true;
        s += 4;
    }
    if (strncmp(s, "hist:", 5) == 0)
        return fl__dist_bad(why, whylen, "log: and hist: do not combine");
    char *tilde = strchr(s, '~');
    if (tilde) {
        *tilde = '\0';
        if (strchr(tilde + 1, '~'))
            return fl__dist_bad(why, whylen, "more than one '~'");
    }
    int rc = parse_range(unit, s, &r.lo, &r.hi, why, whylen);
    r.lo_end = r.lo;
    r.hi_end = r.hi;
    if (rc == 0 && tilde)
        rc = parse_range(unit, tilde + 1, &r.lo_end, &r.hi_end, why, whylen);
    if (rc)
        return rc;
    if (r.log && fl_dist_lowest(&r) == 0)
        return fl__dist_bad(why, whylen, "log-uniform needs a lower bound of at least 1");
    *d = r;
    return 0;
}

void fl_dist_format_value(enum fl_dist_unit unit, uint64_t v, char *buf, size_t len)
{
    const struct suffix *t = unit == FL_DIST_TIME ? time_sfx : byte_sfx;
    size_t n = unit == FL_DIST_TIME ? NSFX(time_sfx) : unit == FL_DIST_BYTES ? NSFX(byte_sfx) : 0;
    for (size_t i = 0; i < n && v; i++) {
        if (v % t[i].mul == 0) {
            snprintf(buf, len, "%" PRIu64 "%s", v / t[i].mul, t[i].name);
            return;
        }
    }
    snprintf(buf, len, "%" PRIu64, v);
}

static void format_range(enum fl_dist_unit unit, uint64_t lo, uint64_t hi, char *buf, size_t len)
{
    char a[32], b[32];
    fl_dist_format_value(unit, lo, a, sizeof(a));
    fl_dist_format_value(unit, hi, b, sizeof(b));
    if (lo == hi)
        snprintf(buf, len, "%s", a);
    else
        snprintf(buf, len, "%s-%s", a, b);
}

void fl_dist_format(const struct fl_dist *d, char *buf, size_t len)
{
    char start[80], end[80] = "";
    if (!d->set) {
        snprintf(buf, len, "%s", "");
        return;
    }
    if (d->hist) {
        fl__dist_hist_format(d, buf, len);
        return;
    }
    format_range(d->unit, d->lo, d->hi, start, sizeof(start));
    if (d->lo_end != d->lo || d->hi_end != d->hi)
        format_range(d->unit, d->lo_end, d->hi_end, end, sizeof(end));
    snprintf(buf, len, "%s%s%s%s", d->log ? "log:" : "", start, *end ? "~" : "", end);
}

uint64_t fl_dist_lowest(const struct fl_dist *d)
{
    return d->lo < d->lo_end ? d->lo : d->lo_end;
}

uint64_t fl_dist_highest(const struct fl_dist *d)
{
    return d->hi > d->hi_end ? d->hi : d->hi_end;
}

/* --- sampling ------------------------------------------------------------ */

double fl_dist_uniform(uint64_t *rng)
{
    return (double)(fl_rand_next(rng) >> 11) * 0x1.0p-53;
}

uint64_t fl_dist_stream(uint64_t seed, uint64_t stream)
{
    /* Two rounds of the mixer, so neighbouring streams of neighbouring
     * seeds land far apart in the one splitmix64 sequence. */
    uint64_t st = seed ^ (stream * UINT64_C(0xd1b54a32d192ed03));
    fl_rand_next(&st);
    return fl_rand_next(&st);
}

/* Every bound is below 2^53, so the doubles here are exact integers. */
static uint64_t lerp(uint64_t a, uint64_t b, double p)
{
    if (a == b)
        return a;
    return (uint64_t)llround((double)a + ((double)b - (double)a) * p);
}

uint64_t fl_dist_sample(const struct fl_dist *d, uint64_t *rng, double progress)
{
    uint64_t r = fl_rand_next(rng);
    if (!d->set)
        return 0;
    double p = progress > 0 ? (progress < 1 ? progress : 1) : 0; /* NaN too */
    if (d->hist)
        return fl__dist_hist_sample(d, r, p);
    uint64_t lo = lerp(d->lo, d->lo_end, p), hi = lerp(d->hi, d->hi_end, p);
    if (hi <= lo)
        return lo;
    if (!d->log) /* Lemire's multiply-shift: one draw, bias (hi-lo)/2^64 */
        return lo + (uint64_t)(((unsigned __int128)r * (hi - lo + 1)) >> 64);
    /* floor(exp(U[ln lo, ln(hi + 1)))) gives each integer in [lo, hi] the
     * probability of its share of the log scale. */
    double u = (double)(r >> 11) * 0x1.0p-53;
    double a = log((double)lo), b = log((double)hi + 1);
    double v = floor(exp(a + u * (b - a)));
    if (v < (double)lo)
        return lo;
    return v > (double)hi ? hi : (uint64_t)v;
}

/* --- the request and population mixes ---------------------------------- */

/* Index of a draw by the weights at `off` in `n` elements of `size` bytes:
 * one draw of `rng`; a weight of 0 is never drawn. */
static size_t pick(uint64_t *rng, const void *arr, size_t n, size_t size, size_t off)
{
    double u = fl_dist_uniform(rng), acc = 0, w;
    size_t last = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(&w, (const char *)arr + i * size + off, sizeof(w));
        if (w <= 0)
            continue;
        acc += w;
        last = i;
        if (u < acc)
            return i;
    }
    return last; /* u beyond a sum rounded just below 1 */
}

const struct fl_scenario_request *fl_scenario_pick_request(const struct fl_scenario *s,
                                                           uint64_t *rng)
{
    return &s->requests[pick(rng, s->requests, s->nrequests, sizeof(*s->requests),
                             offsetof(struct fl_scenario_request, weight))];
}

void fl_scenario_assign_populations(const struct fl_scenario *s, uint32_t nslots, uint8_t *pop)
{
    size_t n = s->npopulations;
    uint32_t quota[FL_SCENARIO_MAX_POPULATIONS] = {0}, given[FL_SCENARIO_MAX_POPULATIONS] = {0};
    double rem[FL_SCENARIO_MAX_POPULATIONS];
    uint32_t sum = 0;
    /* Largest remainder: floor(share * nslots) each, the slots left over to
     * the largest fractions (the earlier population on a tie). */
    for (size_t i = 0; i < n; i++) {
        double want = s->populations[i].share * nslots;
        quota[i] = (uint32_t)want;
        rem[i] = want - quota[i];
        sum += quota[i];
    }
    for (; sum < nslots; sum++) {
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (rem[i] > rem[best])
                best = i;
        quota[best]++;
        rem[best] = -1;
    }
    /* Interleaved by index: slot k goes to the population furthest behind
     * its quota's pace, so the first k slots (a phase with fewer
     * connections) hold the mix too. */
    for (uint32_t k = 0; k < nslots; k++) {
        size_t best = n;
        double lag = 0;
        for (size_t i = 0; i < n; i++) {
            if (given[i] == quota[i])
                continue;
            double l = (double)quota[i] * (k + 1) / nslots - given[i];
            if (best == n || l > lag)
                best = i, lag = l;
        }
        given[best]++;
        pop[k] = (uint8_t)best;
    }
}

const struct fl_scenario_phase *fl_scenario_phase_at(const struct fl_scenario *s, uint64_t t)
{
    for (size_t i = 0; i < s->nphases; i++)
        if (t < s->phases[i].start + s->phases[i].duration)
            return &s->phases[i];
    return NULL;
}

uint64_t fl_scenario_next_tick(const struct fl_scenario *s, uint64_t t)
{
    uint64_t next = (t / s->interval + 1) * s->interval;
    if (s->warmup > t && s->warmup < next)
        next = s->warmup;
    for (size_t i = 0; i < s->nphases; i++) {
        uint64_t end = s->phases[i].start + s->phases[i].duration;
        if (end > t && end < next)
            next = end;
    }
    return next;
}
