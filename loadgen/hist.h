/* hist.h - the load generator's latency histogram: HDR-style log-linear
 * buckets over int64 values (microseconds by convention). Power-of-two buckets
 * are each split into linear sub-buckets, so every recorded value is kept with
 * a relative error below 10^-sigfigs in a counts array whose size is fixed at
 * init: memory stays bounded however long a run records. Values above the
 * highest trackable value are recorded as that value and counted in
 * `overflow`; negative values are recorded as 0. Not thread-safe: keep one per
 * thread and merge them, as wrk does. The algorithm and the text output follow
 * HdrHistogram (Gil Tene); this is an independent implementation. */
#ifndef FL_HIST_H
#define FL_HIST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FL_HIST_DEFAULT_LOWEST INT64_C(1)           /* 1 us */
#define FL_HIST_DEFAULT_HIGHEST INT64_C(3600000000) /* 1 hour in us */
#define FL_HIST_DEFAULT_SIGFIGS 3

struct fl_hist;

/* Sizes h for values in [lowest, highest] at sigfigs (1..5) significant
 * figures; 0, -EINVAL (lowest < 1, highest < 2*lowest, bad sigfigs) or -ENOMEM. */
int fl_hist_init(struct fl_hist *h, int64_t lowest, int64_t highest, int sigfigs);
/* Frees h's counts; h may then be destroyed again or re-initialised. */
void fl_hist_destroy(struct fl_hist *h);
/* Forgets every recorded value, keeping the configuration and the memory. */
void fl_hist_reset(struct fl_hist *h);
/* Records one value (clamped to [0, highest], see `overflow`). */
void fl_hist_record(struct fl_hist *h, int64_t v);
/* Records value v n times. */
void fl_hist_record_n(struct fl_hist *h, int64_t v, uint64_t n);
/* Adds src's recorded values to dst; -EINVAL unless lowest, highest and
 * sigfigs are the same. */
int fl_hist_merge(struct fl_hist *dst, const struct fl_hist *src);
/* Number of values recorded. */
uint64_t fl_hist_count(const struct fl_hist *h);
/* Number of recorded values that were above highest (and clamped to it). */
uint64_t fl_hist_overflow(const struct fl_hist *h);
/* Smallest recorded value, as the lowest value of its bucket; 0 when empty. */
int64_t fl_hist_min(const struct fl_hist *h);
/* Largest recorded value, as the highest value of its bucket; 0 when empty. */
int64_t fl_hist_max(const struct fl_hist *h);
/* Mean of the recorded values (each taken at its bucket's middle); 0 when empty. */
double fl_hist_mean(const struct fl_hist *h);
/* Population standard deviation, computed like the mean; 0 when empty. */
double fl_hist_stddev(const struct fl_hist *h);
/* The highest value of the first bucket at which at least p% (clamped to
 * 0..100) of the values are <= it; p = 0 gives fl_hist_min, p = 100
 * fl_hist_max, an empty histogram 0. */
int64_t fl_hist_value_at_percentile(const struct fl_hist *h, double p);
/* The lowest value recorded into the same bucket as v. */
int64_t fl_hist_lowest_equivalent(const struct fl_hist *h, int64_t v);
/* The highest value recorded into the same bucket as v. */
int64_t fl_hist_highest_equivalent(const struct fl_hist *h, int64_t v);
/* Writes HdrHistogram's percentile distribution text (outputPercentileDistribution)
 * with values divided by unit_scale (1000.0 prints microseconds as ms); 0,
 * -EINVAL or -errno of the failed write. */
int fl_hist_write_percentiles(const struct fl_hist *h, FILE *f, int ticks_per_half_distance,
                              double unit_scale);

/* Read it through the functions above; the layout is explained in hist.c. */
struct fl_hist {
    int64_t lowest;       /* lowest discernible value, as configured */
    int64_t highest;      /* highest trackable value, as configured */
    int sigfigs;          /* significant figures, as configured */
    int unit_mag;         /* log2 of the finest step (largest power of 2 <= lowest) */
    int half_mag;         /* log2(sub_half) */
    int32_t sub_count;    /* linear steps in bucket 0 */
    int32_t sub_half;     /* stored steps in every further bucket */
    int32_t bucket_count; /* power-of-two buckets needed to reach highest */
    int32_t counts_len;   /* entries in counts */
    int64_t sub_mask;     /* (sub_count - 1) << unit_mag: bucket 0's value bits */
    uint64_t total;       /* values recorded, overflow included */
    uint64_t overflow;    /* values above highest, recorded as highest */
    int64_t min_raw;      /* smallest value recorded (after clamping) */
    int64_t max_raw;      /* largest value recorded (after clamping) */
    uint64_t *counts;
};

#endif
