/* engine.h - the load generator's event loops. Each thread owns an io_uring
 * and a slice of the connection slots (slot i belongs to thread i % n), as
 * wrk's threads do; nothing is shared on the request path. A slot holds one
 * connection at a time: when a connection ends (its population's request
 * count or lifetime, or an error) the slot opens a new one, of a freshly
 * drawn population. Each slot draws from its own random stream, so a
 * scenario replays the same connections and requests whatever the thread
 * count.
 *
 * Closed loop: a slot sends its next request when the answer (and the
 * think time) is over. Open loop: each active slot sends at rate/active
 * per second on a fixed schedule; latency runs from the intended send time
 * (corrected, as wrk2 measures it) and from the real one (uncorrected).
 *
 * Every interval each thread adds what it measured to its published tally
 * under the run's lock and signals; the coordinator (main.c) merges them. */
#ifndef FL_LOADGEN_ENGINE_H
#define FL_LOADGEN_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hist.h"
#include "request.h"
#include "scenario.h"

/* Error kinds, in the order summary.json lists them. */
#define FL_LG_ERRORS(X)                                                                            \
    X(connect, "connection refused, reset or timed out while connecting")                          \
    X(read, "the connection failed or closed before the whole answer")                             \
    X(write, "the request could not be sent")                                                      \
    X(timeout, "no whole answer within the timeout")                                               \
    X(status, "unexpected HTTP status")                                                            \
    X(unavailable, "503 Service Unavailable: the server could not allocate")                       \
    X(length, "Content-Length or body length differs from the expected")                           \
    X(mismatch, "a body byte differs from what was sent or asked for")                             \
    X(protocol, "not parseable HTTP/1.1")

enum fl_lg_err {
#define FL_X(name, help) FL_LG_ERR_##name,
    FL_LG_ERRORS(FL_X)
#undef FL_X
        FL_LG_NERR
};

extern const char *const fl_lg_err_names[FL_LG_NERR];

/* What one thread measured over some span. */
struct fl_lg_counts {
    uint64_t requests; /* answered (correctly or not) or failed in transit */
    uint64_t ok;       /* answered as expected */
    uint64_t errors[FL_LG_NERR];
    uint64_t bytes_sent, bytes_received;
    uint64_t connections; /* connections established */
    uint64_t retried;     /* requests sent again: the server had closed the kept-alive connection */
    /* By population (the scenario's order): connections established, and
     * requests answered on them. */
    uint64_t pop_opened[FL_SCENARIO_MAX_POPULATIONS];
    uint64_t pop_requests[FL_SCENARIO_MAX_POPULATIONS];
};

struct fl_lg_tally {
    struct fl_lg_counts c;
    struct fl_hist lat;     /* µs; open loop: from the intended send time */
    struct fl_hist lat_unc; /* µs from the real send time (open loop only) */
    /* Connections open by population at the latest tick, summed over the
     * threads: a gauge, 0 in whole-run tallies. */
    uint64_t pop_open[FL_SCENARIO_MAX_POPULATIONS];
};

int fl_lg_tally_init(struct fl_lg_tally *t);
void fl_lg_tally_destroy(struct fl_lg_tally *t);
void fl_lg_tally_reset(struct fl_lg_tally *t);
/* dst += src */
void fl_lg_tally_add(struct fl_lg_tally *dst, const struct fl_lg_tally *src);
uint64_t fl_lg_counts_errors(const struct fl_lg_counts *c);

struct fl_lg_thread;

/* The run, shared by every thread; set up by main.c before the threads
 * start and read-only afterwards, except where marked. */
struct fl_lg_run {
    const struct fl_scenario *s; /* tcp requests already dropped without echo */
    const struct fl_noise *noise;
    const char *path; /* --path: every request is GET path */
    struct sockaddr_storage target, echo;
    socklen_t target_len, echo_len;
    char host[FL_SCENARIO_STR_MAX]; /* the Host header */
    unsigned nthreads;
    uint64_t start;      /* CLOCK_MONOTONIC ns at t = 0 */
    uint64_t warmup_end; /* absolute ns */
    uint64_t end;        /* absolute ns */
    uint64_t interval;   /* ns */
    uint64_t max_requests;

    _Atomic uint64_t stop_at; /* absolute ns; threads stop there (UINT64_MAX: at end) */

    pthread_mutex_t mu; /* guards go, abort and the threads' published state */
    pthread_cond_t cv;  /* signalled at every change of those */
    bool go;            /* start, warmup_end and end are set: run (or abort) */
    bool abort;
    struct fl_lg_thread **threads;
};

/* Creates thread `idx`'s state (its slots and tallies); 0 or -ENOMEM. */
int fl_lg_thread_create(struct fl_lg_run *run, unsigned idx, struct fl_lg_thread **out);
void fl_lg_thread_destroy(struct fl_lg_thread *t);
/* The thread body: sets up its ring, reports ready, waits for run->go, then
 * runs until run->end, run->stop_at or its share of max_requests is done. */
void *fl_lg_thread_main(void *arg);

/* Under run->mu: the highest tick thread t has published (tick k ends at
 * the k-th fl_scenario_next_tick), and whether it has finished. */
uint64_t fl_lg_thread_tick(const struct fl_lg_thread *t);
bool fl_lg_thread_done(const struct fl_lg_thread *t);
/* The set-up step a thread failed at, typed so that the caller decides on
 * it, not on the message: only a ring that could not be made at all may be
 * io_uring refused (exit 3). */
enum fl_lg_init_stage { FL_LG_INIT_RING, FL_LG_INIT_BUFS };
/* Under run->mu: whether t has tried to set up its ring; then *rc is 0 or
 * -errno with *stage the failed step and *what its name. */
bool fl_lg_thread_ready(const struct fl_lg_thread *t, int *rc, enum fl_lg_init_stage *stage,
                        const char **what);
/* Under run->mu: adds what t published since the last take to `into`, and
 * forgets it. */
void fl_lg_thread_take(struct fl_lg_thread *t, struct fl_lg_tally *into);
/* After the thread has ended: its whole-run tally (warm-up excluded). */
const struct fl_lg_tally *fl_lg_thread_total(const struct fl_lg_thread *t);
/* After the thread has ended: requests in flight when it stopped. */
uint64_t fl_lg_thread_unfinished(const struct fl_lg_thread *t);

/* CLOCK_MONOTONIC in ns. */
uint64_t fl_lg_now(void);

#endif
