/* hist.c - HDR-style log-linear histogram: bucket math, recording, queries and
 * HdrHistogram's percentile-distribution text. */
#include "hist.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * Layout. Let U = 2^unit_mag (the largest power of two <= lowest) and
 * S = sub_count, the smallest power of two >= 2 * 10^sigfigs (2048 for 3).
 * Bucket 0 covers [0, S*U) in S linear steps of U. Bucket b >= 1 covers
 * [S/2 * U*2^b, S * U*2^b) in S/2 steps of U*2^b: the lower half of that
 * power-of-two range is already covered, more finely, by the buckets below,
 * so it is not stored. A value v >= S/2 * U therefore sits in a step of width
 * w with w/v <= 2/S < 10^-sigfigs, which is the precision promise; smaller
 * values sit in steps of width U (exact when lowest is 1). counts[] holds
 * bucket 0's S steps, then S/2 steps per further bucket: bucket b >= 1, step
 * s (S/2 <= s < S) is at b*S/2 + s, which for b = 0 is just s.
 */

static int bucket_of(const struct fl_hist *h, int64_t v)
{
    /* Index of v's top bit, raised to the top of bucket 0 by the mask, so all
     * values below S*U (0 included: clz(0) is undefined) land in bucket 0. */
    int top = 64 - __builtin_clzll((uint64_t)v | (uint64_t)h->sub_mask);
    return top - h->unit_mag - (h->half_mag + 1);
}

static int32_t index_of(const struct fl_hist *h, int64_t v)
{
    int b = bucket_of(h, v);
    int32_t step = (int32_t)(v >> (b + h->unit_mag));
    return (b << h->half_mag) + step;
}

static int bucket_of_index(const struct fl_hist *h, int32_t i)
{
    int b = (i >> h->half_mag) - 1;
    return b < 0 ? 0 : b;
}

/* The lowest value stored at counts[i]. */
static int64_t index_lowest(const struct fl_hist *h, int32_t i)
{
    int b = bucket_of_index(h, i);
    int64_t step = i - (int64_t)b * h->sub_half;
    return step << (b + h->unit_mag);
}

static int64_t index_width(const struct fl_hist *h, int32_t i)
{
    return INT64_C(1) << (bucket_of_index(h, i) + h->unit_mag);
}

/* lowest + width - 1 in that order cannot overflow, even for the last step
 * below 2^63. */
static int64_t index_highest(const struct fl_hist *h, int32_t i)
{
    return index_lowest(h, i) + (index_width(h, i) - 1);
}

/* Where the mean and deviation take a step's values to be. */
static int64_t index_median(const struct fl_hist *h, int32_t i)
{
    return index_lowest(h, i) + (index_width(h, i) >> 1);
}

static int64_t clamp_value(const struct fl_hist *h, int64_t v)
{
    return v < 0 ? 0 : (v > h->highest ? h->highest : v);
}

/* Number of power-of-two buckets for bucket 0 (which ends at S*U) and its
 * doublings to pass highest; one more once doubling would overflow, as the
 * last bucket then reaches past INT64_MAX anyway. */
static int32_t buckets_needed(int64_t highest, int32_t sub_count, int unit_mag)
{
    int64_t limit = (int64_t)sub_count << unit_mag;
    int32_t n = 1;
    while (limit <= highest) {
        if (limit > INT64_MAX / 2)
            return n + 1;
        limit <<= 1;
        n++;
    }
    return n;
}

static int configure(struct fl_hist *h, int64_t lowest, int64_t highest, int sigfigs)
{
    if (lowest < 1 || sigfigs < 1 || sigfigs > 5 || highest / 2 < lowest)
        return -EINVAL;
    /* Values up to 2 * 10^sigfigs must be told apart at single-unit steps
     * for the relative error to stay below 10^-sigfigs in every bucket. */
    int64_t single_unit = 2;
    for (int i = 0; i < sigfigs; i++)
        single_unit *= 10;
    int sub_mag = 0;
    while ((INT64_C(1) << sub_mag) < single_unit)
        sub_mag++;
    h->unit_mag = 63 - __builtin_clzll((uint64_t)lowest);
    h->half_mag = sub_mag - 1;
    /* sub_mask and the shifts in index_lowest must stay below bit 63. */
    if (h->unit_mag + h->half_mag > 61)
        return -EINVAL;
    h->lowest = lowest;
    h->highest = highest;
    h->sigfigs = sigfigs;
    h->sub_count = INT32_C(1) << sub_mag;
    h->sub_half = h->sub_count / 2;
    h->sub_mask = (int64_t)(h->sub_count - 1) << h->unit_mag;
    h->bucket_count = buckets_needed(highest, h->sub_count, h->unit_mag);
    h->counts_len = (h->bucket_count + 1) * h->sub_half;
    return 0;
}

int fl_hist_init(struct fl_hist *h, int64_t lowest, int64_t highest, int sigfigs)
{
    if (!h)
        return -EINVAL;
    memset(h, 0, sizeof(*h));
    int rc = configure(h, lowest, highest, sigfigs);
    if (rc < 0)
        return rc;
    h->counts = calloc((size_t)h->counts_len, sizeof(*h->counts));
    if (!h->counts)
        return -ENOMEM;
    fl_hist_reset(h);
    return 0;
}

void fl_hist_destroy(struct fl_hist *h)
{
    if (!h)
        return;
    free(h->counts);
    memset(h, 0, sizeof(*h));
}

void fl_hist_reset(struct fl_hist *h)
{
    if (h->counts)
        memset(h->counts, 0, (size_t)h->counts_len * sizeof(*h->counts));
    h->total = 0;
    h->overflow = 0;
    h->min_raw = INT64_MAX;
    h->max_raw = 0;
}

/* v is already clamped. */
static void add(struct fl_hist *h, int64_t v, uint64_t n)
{
    h->counts[index_of(h, v)] += n;
    h->total += n;
    if (v < h->min_raw)
        h->min_raw = v;
    if (v > h->max_raw)
        h->max_raw = v;
}

void fl_hist_record_n(struct fl_hist *h, int64_t v, uint64_t n)
{
    if (n == 0)
        return;
    if (v > h->highest)
        h->overflow += n;
    add(h, clamp_value(h, v), n);
}

void fl_hist_record(struct fl_hist *h, int64_t v)
{
    fl_hist_record_n(h, v, 1);
}

int fl_hist_merge(struct fl_hist *dst, const struct fl_hist *src)
{
    if (!dst || !src || !dst->counts || !src->counts || dst->lowest != src->lowest ||
        dst->highest != src->highest || dst->sigfigs != src->sigfigs)
        return -EINVAL;
    for (int32_t i = 0; i < dst->counts_len; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->overflow += src->overflow;
    if (src->min_raw < dst->min_raw)
        dst->min_raw = src->min_raw;
    if (src->max_raw > dst->max_raw)
        dst->max_raw = src->max_raw;
    return 0;
}

uint64_t fl_hist_count(const struct fl_hist *h)
{
    return h->total;
}

uint64_t fl_hist_overflow(const struct fl_hist *h)
{
    return h->overflow;
}

int64_t fl_hist_lowest_equivalent(const struct fl_hist *h, int64_t v)
{
    return index_lowest(h, index_of(h, clamp_value(h, v)));
}

int64_t fl_hist_highest_equivalent(const struct fl_hist *h, int64_t v)
{
    return index_highest(h, index_of(h, clamp_value(h, v)));
}

int64_t fl_hist_min(const struct fl_hist *h)
{
    return h->total ? fl_hist_lowest_equivalent(h, h->min_raw) : 0;
}

/* As HdrHistogram's getMaxValue: a maximum of 0 stays 0 even when lowest > 1. */
int64_t fl_hist_max(const struct fl_hist *h)
{
    return h->total && h->max_raw ? fl_hist_highest_equivalent(h, h->max_raw) : 0;
}

/* Summed in index order in double, like HdrHistogram, so the footer's mean
 * matches its output digit for digit. */
double fl_hist_mean(const struct fl_hist *h)
{
    if (!h->total)
        return 0.0;
    double sum = 0.0;
    for (int32_t i = 0; i < h->counts_len; i++)
        if (h->counts[i])
            sum += (double)index_median(h, i) * (double)h->counts[i];
    return sum / (double)h->total;
}

double fl_hist_stddev(const struct fl_hist *h)
{
    if (!h->total)
        return 0.0;
    double mean = fl_hist_mean(h), sum = 0.0;
    for (int32_t i = 0; i < h->counts_len; i++) {
        if (!h->counts[i])
            continue;
        double dev = (double)index_median(h, i) - mean;
        sum += dev * dev * (double)h->counts[i];
    }
    return sqrt(sum / (double)h->total);
}

int64_t fl_hist_value_at_percentile(const struct fl_hist *h, double p)
{
    if (!h->total)
        return 0;
    /* One ulp down first, as HdrHistogram does: p% of the count landing a
     * rounding error above a whole number must not push the rank past it. */
    double q = isnan(p) ? 0.0 : fmin(fmax(nextafter(p, -INFINITY), 0.0), 100.0);
    uint64_t rank = (uint64_t)ceil(q / 100.0 * (double)h->total);
    if (rank < 1)
        rank = 1;
    if (p >= 100.0 || rank > h->total)
        rank = h->total;
    uint64_t seen = 0;
    for (int32_t i = 0; i < h->counts_len; i++) {
        seen += h->counts[i];
        if (seen >= rank)
            return (isnan(p) || p <= 0.0) ? index_lowest(h, i) : index_highest(h, i);
    }
    return fl_hist_max(h);
}

/*
 * Percentile distribution text, as HdrHistogram's (Java) AbstractHistogram.
 * outputPercentileDistribution prints it: a header, then a line at 0% and at
 * ticks_per_half_distance evenly spaced levels in every half of the remaining
 * distance to 100% (0, 10, ..., 50, 55, ..., 75, 77.5, ... for 5 ticks), each
 * printed at the first step whose cumulative share reaches it; a 100% line
 * without the 1/(1-p) column; a footer with mean, deviation, max, count and
 * the bucket geometry. Values are printed with sigfigs decimals.
 */

/* The level after `level`: the same expression as the reference, so the
 * levels printed agree to the last digit. level is below 100 here: the
 * caller stops at the last step, and the share reached before it is at most
 * 100 * (total - 1) / total, so the halvings stay far below 62. */
static double next_level(double level, int ticks)
{
    double halvings = trunc(log(100.0 / (100.0 - level)) / log(2)) + 1;
    if (!(halvings < 62))
        halvings = 62;
    return level + 100.0 / ((double)ticks * ldexp(1.0, (int)halvings));
}

/* Java's Formatter, which the reference output goes through, rounds the
 * shortest decimal that reads back as the double, half up; printf rounds the
 * exact binary value. They differ on ties: the level 99.97802734375% is
 * 0.99978027343749999... in binary, "0.999780273438" in Java's output and
 * "...437" from printf. This prints %*.*f with Java's digits. */
static void fmt_fixed(char *out, size_t len, int width, int prec, double x)
{
    char sci[32], fixed[360];
    int p = 1;
    for (; p < 17; p++) { /* fewest significant digits that read back as x */
        snprintf(sci, sizeof(sci), "%.*e", p - 1, x);
        if (strtod(sci, NULL) == x)
            break;
    }
    snprintf(sci, sizeof(sci), "%.*e", p - 1, x);
    int point = atoi(strchr(sci, 'e') + 1) + 1; /* digits before the decimal point */
    if (x == 0.0 || !isfinite(x) || point > 320 || prec > 20) {
        snprintf(out, len, "%*.*f", width, prec, x);
        return;
    }
    /* fixed[1..] gets the digits at 10^(ip-1) .. 10^-prec; fixed[0] takes a
     * carry out of the top digit. */
    int ip = point > 1 ? point : 1, end = 1 + ip + prec;
    memset(fixed, '0', (size_t)end);
    char round = '0';
    int at = 1 + ip - point;
    for (const char *s = sci + (sci[0] == '-'); *s != 'e'; s++) {
        if (*s == '.')
            continue;
        if (at < end)
            fixed[at] = *s;
        else if (at == end)
            round = *s;
        at++;
    }
    for (int i = end - 1; round >= '5' && i >= 0; i--) { /* half up: carry */
        round = fixed[i] == '9' ? '9' : '0';
        fixed[i] = fixed[i] == '9' ? '0' : (char)(fixed[i] + 1);
    }
    int first = fixed[0] == '0';
    char body[400];
    snprintf(body, sizeof(body), "%s%.*s%s%.*s", x < 0 ? "-" : "", ip + 1 - first, fixed + first,
             prec ? "." : "", prec, fixed + 1 + ip);
    snprintf(out, len, "%*s", width, body);
}

static int write_header(FILE *f)
{
    return fprintf(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
                   "1/(1-Percentile)");
}

static int write_line(const struct fl_hist *h, FILE *f, int32_t i, double level, uint64_t cum,
                      double scale)
{
    char value[400], pct[400], inv[400];
    double p = level / 100.0;
    fmt_fixed(value, sizeof(value), 12, h->sigfigs, (double)index_highest(h, i) / scale);
    fmt_fixed(pct, sizeof(pct), 2, 12, p);
    if (level >= 100.0) /* the reference leaves the infinite 1/(1-p) out */
        return fprintf(f, "%s %s %10" PRIu64 "\n", value, pct, cum);
    fmt_fixed(inv, sizeof(inv), 14, 2, 1 / (1.0 - p));
    return fprintf(f, "%s %s %10" PRIu64 " %s\n", value, pct, cum, inv);
}

static int write_lines(const struct fl_hist *h, FILE *f, int ticks, double scale)
{
    double level = 0.0;
    uint64_t cum = 0;
    int32_t i;
    for (i = 0; i < h->counts_len; i++) {
        if (!h->counts[i])
            continue;
        cum += h->counts[i];
        double share = (100.0 * (double)cum) / (double)h->total;
        while (share >= level) {
            if (write_line(h, f, i, level, cum, scale) < 0)
                return -1;
            level = next_level(level, ticks);
            /* The reference moves on to the 100% line once every value is
             * counted, so the last step gets one ordinary line at most. */
            if (cum == h->total)
                break;
        }
        if (cum == h->total)
            break;
    }
    return write_line(h, f, i, 100.0, cum, scale);
}

static int write_footer(const struct fl_hist *h, FILE *f, double scale)
{
    char a[400], b[400];
    int sf = h->sigfigs;
    fmt_fixed(a, sizeof(a), 12, sf, fl_hist_mean(h) / scale);
    fmt_fixed(b, sizeof(b), 12, sf, fl_hist_stddev(h) / scale);
    if (fprintf(f, "#[Mean    = %s, StdDeviation   = %s]\n", a, b) < 0)
        return -1;
    fmt_fixed(a, sizeof(a), 12, sf, (double)fl_hist_max(h) / scale);
    if (fprintf(f, "#[Max     = %s, Total count    = %12" PRIu64 "]\n", a, h->total) < 0)
        return -1;
    return fprintf(f, "#[Buckets = %12d, SubBuckets     = %12d]\n", (int)h->bucket_count,
                   (int)h->sub_count);
}

int fl_hist_write_percentiles(const struct fl_hist *h, FILE *f, int ticks_per_half_distance,
                              double unit_scale)
{
    if (!h || !h->counts || !f || ticks_per_half_distance < 1 || !(unit_scale > 0.0) ||
        !isfinite(unit_scale))
        return -EINVAL;
    errno = 0;
    if (write_header(f) < 0 ||
        (h->total && write_lines(h, f, ticks_per_half_distance, unit_scale) < 0) ||
        write_footer(h, f, unit_scale) < 0 || fflush(f) != 0)
        return errno ? -errno : -EIO;
    return 0;
}
