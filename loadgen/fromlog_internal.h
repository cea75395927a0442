/* fromlog_internal.h - between the reader (fromlog.c) and the writer
 * (fromlog_write.c) of `scenario --from-log`: the fixed-size aggregates
 * one log is read into. Every array is sized here, so the memory a
 * conversion takes does not depend on the log's length. */
#ifndef FL_LOADGEN_FROMLOG_INTERNAL_H
#define FL_LOADGEN_FROMLOG_INTERNAL_H

#include "fromlog.h"
#include "scenario.h"

/* The rate over time: counts in bins of bin_ms, the width doubling (pairs
 * merged) whenever the log outgrows FL__FL_BINS bins. */
#define FL__FL_BINS 4096
#define FL__FL_MAX_SPAN_MS (INT64_C(30) * 24 * 3600 * 1000) /* a scenario's longest run */

/* Bucket edges, fixed so the aggregates are: sizes (responses, request
 * lengths) in steps of 4 up to fraglab-server's default caps (work_max_resp
 * and max_body, 1m), requests per connection, connection lifetimes (ms). */
#define FL__FL_NSIZE 9
#define FL__FL_NCOUNT 12
#define FL__FL_NLIFE 8
extern const uint64_t fl__fl_size_edges[FL__FL_NSIZE];
extern const uint64_t fl__fl_count_edges[FL__FL_NCOUNT];
extern const uint64_t fl__fl_life_edges_ms[FL__FL_NLIFE];

/* Open connections, by nginx's $connection: 4-way sets, the least recently
 * seen of a full set ending first. 16384 x 4 entries: 2 MiB. */
#define FL__FL_CONN_SETS 16384
#define FL__FL_CONN_WAYS 4

/* What the log's requests are grouped into (fromlog.c's classify). */
enum fl__fl_kind { FL__FL_STATIC, FL__FL_API, FL__FL_UPLOAD, FL__FL_NKINDS };

struct fl__fl_kind_agg {
    uint64_t n;
    uint64_t resp[FL__FL_NSIZE]; /* $body_bytes_sent by bucket; above 1m in the last */
    uint64_t resp_over;          /* of those, above 1m */
    uint64_t len[FL__FL_NSIZE];  /* $request_length, the same way */
    uint64_t len_n, len_sum, len_over;
    uint64_t not_2xx; /* fraglab answers 200: noted, not modelled */
};

struct fl__fl_conn {
    uint64_t id;
    int64_t first_ms, last_ms; /* first request's start, last one's end */
    uint64_t count;            /* requests seen (or $connection_requests) */
    bool used;
};

struct fl_fromlog {
    enum fl_fromlog_format fmt;
    uint64_t lines, requests, bad[FL_FROMLOG_NBAD];
    bool have_t0;
    int64_t t0_ms;   /* the first request's time */
    int64_t last_ms; /* the latest time seen, from t0 */
    uint64_t bins[FL__FL_BINS];
    uint32_t nbins;  /* bins in use */
    uint64_t bin_ms; /* width of a bin */
    struct fl__fl_kind_agg kinds[FL__FL_NKINDS];
    /* The optional fields: how many lines carried each. */
    uint64_t with_len, with_rtime, with_conn, with_creq;
    double rtime_sum_s; /* $request_time over the lines carrying it */
    /* Connections (with $connection), counted as each ends. */
    struct fl__fl_conn *conns;
    uint64_t conn_done, conn_cut; /* ended; of them, pushed out while maybe open */
    uint64_t creq_conns[FL__FL_NCOUNT], creq_reqs[FL__FL_NCOUNT];
    uint64_t life[FL__FL_NLIFE];
    double life_sum_s;
    char buf[FL_FROMLOG_LINE_MAX]; /* the line being read */
};

/* The bucket of `v` among `n` increasing `edges`: the first edge >= v,
 * the last for anything above it. */
static inline unsigned fl__fl_bucket(const uint64_t *edges, unsigned n, uint64_t v)
{
    unsigned i = 0;
    while (i + 1 < n && v > edges[i])
        i++;
    return i;
}

/* One line's fields; `target` points into the line (or its JSON tree). */
struct fl__fl_rec {
    int64_t t_ms;
    char method[16];
    const char *target;
    size_t target_len;
    unsigned status;
    uint64_t bytes;
    bool has_len, has_rtime, has_conn, has_creq;
    uint64_t len, conn, creq;
    double rtime_s;
};

/* fromlog_parse.c: a combined line into `r`; FL_FROMLOG_NBAD, or why not. */
enum fl_fromlog_bad fl__fl_parse_combined(const char *line, struct fl__fl_rec *r);

/* A json line into `r`, its parsed tree in *tree (fl__fl_json_free it
 * after using `r`, whose target points into it). */
enum fl_fromlog_bad fl__fl_parse_json(const char *line, size_t len, struct fl__fl_rec *r,
                                      void **tree);

/* Frees a tree of fl__fl_parse_json (NULL is fine). */
void fl__fl_json_free(void *tree);

/* fromlog_mix.c: writes `key = hist:...` of counts[] over `n` edges[] in
 * unit `u`, from the bucket before the first filled one to the last. */
void fl__fl_put_hist(FILE *f, const char *key, const uint64_t *edges, const uint64_t *counts,
                     unsigned n, enum fl_dist_unit u);

/* 100 * a / b, 0 when b is 0. */
double fl__fl_pct(uint64_t a, uint64_t b);

/* Writes the [population] and [request] sections of `c`. */
void fl__fl_put_mix(FILE *f, const struct fl_fromlog *c);

/* Ends every connection still open (before writing). */
void fl__fl_close_conns(struct fl_fromlog *c);

#endif
