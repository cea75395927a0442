/* scenario.h - the load generator's scenario: one INI file that fully
 * defines the load (connections and their populations, the request mix and
 * its size distributions, the rate, phases, duration and seed), so that the
 * same file and seed replay the same sequence of requests. The format is
 * taught by config/quick.ini and documented in the README.
 *
 * Every time is in nanoseconds, every size in bytes. Nothing read from a
 * file makes the loader allocate beyond the FL_SCENARIO_MAX_* bounds. */
#ifndef FL_LOADGEN_SCENARIO_H
#define FL_LOADGEN_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FL_SCENARIO_NAME_MAX 64 /* bytes of a name, with its NUL */
#define FL_SCENARIO_STR_MAX 200 /* a path or host:port: no longer than a line */
#define FL_SCENARIO_MAX_PHASES 256
#define FL_SCENARIO_MAX_POPULATIONS 16
#define FL_SCENARIO_MAX_REQUESTS 64
#define FL_SCENARIO_MAX_CONNECTIONS 100000
#define FL_SCENARIO_MAX_THREADS 64

/* The largest value of each unit. All are below 2^53, so drift and
 * log-uniform draws computed in doubles never lose an integer. */
#define FL_DIST_MAX_BYTES (UINT64_C(1) << 30)
#define FL_DIST_MAX_COUNT UINT64_C(1000000000)
#define FL_DIST_MAX_TIME (UINT64_C(30) * 24 * 3600 * 1000000000) /* 30 days */

enum fl_dist_unit { FL_DIST_BYTES, FL_DIST_COUNT, FL_DIST_TIME };

#define FL_DIST_MAX_BUCKETS 16                  /* of one "hist:" list */
#define FL_DIST_MAX_WEIGHT UINT32_C(1000000000) /* of one bucket */

/* An empirical distribution ("hist:EDGE:WEIGHT,...", scenario_hist.c):
 * bucket i is drawn with weight[i] / the sum of the weights, then a value
 * uniform over its integers, edge[i-1] + 1 to edge[i]; the first bucket
 * runs from the unit's floor (0 for a size, 1 for a count or a time) to
 * edge[0], or holds just 0 when edge[0] is 0. Edges strictly increase. */
struct fl_dist_hist {
    uint32_t n; /* buckets, 1..FL_DIST_MAX_BUCKETS */
    uint64_t edge[FL_DIST_MAX_BUCKETS];
    uint32_t weight[FL_DIST_MAX_BUCKETS]; /* whole numbers; not all 0 */
};

/* Sizes, counts or times: uniform (or log-uniform) over [lo, hi], moving
 * linearly to [lo_end, hi_end] as the run goes from start to end; or
 * empirical (`hist`): the histogram `h`, a draw at progress p coming from
 * `h_end` with probability p, so the mix moves linearly from one to the
 * other. A histogram's lo, hi (lo_end, hi_end) are the least and largest
 * values `h` (`h_end`) can give, so fl_dist_lowest and fl_dist_highest
 * hold for every form. */
struct fl_dist {
    enum fl_dist_unit unit;
    bool set;                     /* given in the file; an unset one samples 0 */
    bool log;                     /* log-uniform, else uniform */
    bool hist;                    /* empirical: h and h_end */
    uint64_t lo, hi;              /* at progress 0; lo == hi is a fixed value */
    uint64_t lo_end, hi_end;      /* at progress 1; lo, hi without drift */
    struct fl_dist_hist h, h_end; /* hist only; h_end is h without drift */
};

enum fl_scenario_kind {
    FL_SCENARIO_ECHO, /* POST /echo with a body */
    FL_SCENARIO_WORK, /* GET|POST /work?resp=&burst=... */
    FL_SCENARIO_GET,  /* GET of a fixed path, e.g. /healthz */
    FL_SCENARIO_TCP,  /* bytes written to the raw echo port, read back */
    FL_SCENARIO_NKINDS
};

struct fl_scenario_phase {
    char name[FL_SCENARIO_NAME_MAX];
    uint64_t start;       /* offset from the run's start (ns) */
    uint64_t duration;    /* ns, > 0 */
    double rate;          /* requests/s over all connections; 0 = closed loop */
    uint32_t connections; /* active in this phase, <= the scenario's total */
    bool idle;            /* no requests; connections stay open... */
    bool close_idle;      /* ...unless this is set (idle phases only) */
};

struct fl_scenario_population {
    char name[FL_SCENARIO_NAME_MAX];
    double share;            /* of the connections; shares sum to 1 */
    struct fl_dist requests; /* per connection, then reconnect; unset: no limit */
    struct fl_dist lifetime; /* ns, then close and reconnect; unset: no limit */
    struct fl_dist think;    /* ns between a response and the next request */
};

struct fl_scenario_request {
    char name[FL_SCENARIO_NAME_MAX];
    double weight; /* of the request mix; weights sum to 1 */
    enum fl_scenario_kind kind;
    struct fl_dist body; /* echo: body; work: POST body; tcp: bytes */
    struct fl_dist resp, burst, burst_min, burst_max, hold, hold_for; /* work */
    bool hold_for_conn;                                               /* work: hold_for = conn */
    bool post;                                                        /* work: method = POST */
    char path[FL_SCENARIO_STR_MAX];                                   /* get */
};

struct fl_scenario {
    char name[FL_SCENARIO_NAME_MAX];
    uint64_t seed;
    uint64_t duration;     /* ns: the run's length, the sum of the phases */
    uint64_t warmup;       /* ns from the start excluded from the figures */
    uint32_t connections;  /* total, 1..FL_SCENARIO_MAX_CONNECTIONS */
    uint32_t threads;      /* 1..FL_SCENARIO_MAX_THREADS, <= connections */
    double rate;           /* requests/s over all connections; 0 = closed loop */
    uint64_t max_requests; /* stop after this many; 0 = no cap */
    uint64_t timeout;      /* ns per request */
    double error_stop;     /* stop when errors/requests over one interval exceed it; 0 = off */
    uint64_t interval;     /* ns between samples */
    char target[FL_SCENARIO_STR_MAX];      /* host:port of the HTTP server, "" = none */
    char echo_target[FL_SCENARIO_STR_MAX]; /* host:port of the echo port, "" = none */
    struct fl_scenario_phase *phases;      /* at least one, in file order */
    size_t nphases;
    struct fl_scenario_population *populations;
    size_t npopulations;
    struct fl_scenario_request *requests;
    size_t nrequests;
};

/* Loads and validates the scenario file at `path` into `s`. 0, or -errno
 * (-EINVAL for a bad file) with one line "FILE:LINE: what" in `err`. */
int fl_scenario_load(const char *path, struct fl_scenario *s, char *err, size_t errlen);

/* Frees what fl_scenario_load allocated; `s` may be zeroed or failed. */
void fl_scenario_free(struct fl_scenario *s);

/* Writes `s` as a normalised scenario file (for the run manifest); it
 * loads back into the same scenario. */
void fl_scenario_print(FILE *f, const struct fl_scenario *s);

/* Draws a request of the mix by weight, advancing `rng`. */
const struct fl_scenario_request *fl_scenario_pick_request(const struct fl_scenario *s,
                                                           uint64_t *rng);

/* Deals `nslots` connection slots to the populations: pop[k] is slot k's
 * population index. Each population gets its share of the slots by largest
 * remainder (70/30 of 64 is 45/19), interleaved by index so every prefix
 * keeps the mix as nearly as whole slots allow. A slot keeps its
 * population across every reconnect, so the mix holds for the whole run. */
void fl_scenario_assign_populations(const struct fl_scenario *s, uint32_t nslots, uint8_t *pop);

/* The phase running at `t` ns from the start; NULL at or after the end. */
const struct fl_scenario_phase *fl_scenario_phase_at(const struct fl_scenario *s, uint64_t t);

/* The first row boundary after `t` ns from the start: the next multiple of
 * the interval, a phase's end or the end of the warm-up, whichever comes
 * first, so no row straddles a phase or the warm-up's end. The threads
 * publish and the coordinator writes rows on these ticks. */
uint64_t fl_scenario_next_tick(const struct fl_scenario *s, uint64_t t);

/* Parses "[log:]A[-B][~C[-D]]" or "hist:E:W,...[~E:W,...]" in `unit` into
 * `d`. 0, or -EINVAL with why. */
int fl_dist_parse(struct fl_dist *d, enum fl_dist_unit unit, const char *text, char *why,
                  size_t whylen);

/* Parses one value ("4k", "30s", "12") in `unit`. 0, or -EINVAL with why. */
int fl_dist_parse_value(enum fl_dist_unit unit, const char *text, uint64_t *out, char *why,
                        size_t whylen);

/* Writes `d` in the grammar fl_dist_parse reads ("" when unset). */
void fl_dist_format(const struct fl_dist *d, char *buf, size_t len);

/* Writes one value with the largest exact suffix: 65536 bytes as "64k". */
void fl_dist_format_value(enum fl_dist_unit unit, uint64_t v, char *buf, size_t len);

/* Draws from `d` at run progress 0..1 (clamped). Consumes exactly one
 * draw of `rng`, set or not, so editing one distribution does not shift
 * the draws of the others. */
uint64_t fl_dist_sample(const struct fl_dist *d, uint64_t *rng, double progress);

/* The smallest value `d` can take over the whole run. */
uint64_t fl_dist_lowest(const struct fl_dist *d);

/* The largest value `d` can take over the whole run. */
uint64_t fl_dist_highest(const struct fl_dist *d);

/* A uniform double in [0, 1) from the next draw of `rng`. */
double fl_dist_uniform(uint64_t *rng);

/* The initial state of independent stream `stream` (a thread, a
 * connection) of the run seeded with `seed`. */
uint64_t fl_dist_stream(uint64_t seed, uint64_t stream);

/* Command-line overrides, applied after loading (scenario_adjust.c). */

/* Sets the run's length to `d` ns (> 0): every phase keeps its share of the
 * run, phase ends rounded to the ns, the last ending at `d`. */
void fl_scenario_scale_duration(struct fl_scenario *s, uint64_t d);

/* Sets the rate to `r` requests/s (0: closed loop). Phases keep their
 * proportion to the scenario's rate; from a closed loop every phase gets `r`. */
void fl_scenario_set_rate(struct fl_scenario *s, double r);

/* Sets the connections to `n` (1..FL_SCENARIO_MAX_CONNECTIONS); phases keep
 * their proportion, at least 1 each. */
void fl_scenario_set_connections(struct fl_scenario *s, uint32_t n);

/* Removes the requests of `kind` from the mix and renormalises the weights;
 * returns the share of the mix removed (0..1). All of it (1) leaves the
 * mix empty: the caller must refuse the scenario. */
double fl_scenario_drop_kind(struct fl_scenario *s, enum fl_scenario_kind kind);

#endif
