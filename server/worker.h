/* worker.h - one worker: a thread with its own io_uring, its own listening
 * sockets, its own provided-buffer ring and counters. Both runtime modes are
 * made of workers; they differ only in the operations table `fl_server.rt`
 * (runtime.h), whose dispatch decides where a connection's next step runs
 * (tpc: right here; ws: any worker). */
#ifndef FL_SERVER_WORKER_H
#define FL_SERVER_WORKER_H

#include <liburing.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "counters.h"
#include "uring.h"
#include "wheel.h"
#include "fl_alloc.h"
#include "http.h"
#include "workload.h"

struct fl_conn;
struct fl_worker;

/* Receive buffers the kernel picks from at completion time (IOSQE_BUFFER_SELECT),
 * so an idle connection holds no receive buffer. 64 x 16 KiB per worker. */
#define FL_RBUF_COUNT 64
#define FL_RBUF_SIZE 16384
#define FL_RBUF_GROUP 0
#define FL_MAX_WORKERS 1024

struct fl_runtime_ops;
struct fl_start_error;

struct fl_server {
    struct fl_server_config cfg;
    const struct fl_alloc_info *alloc;
    struct fl_worker *workers;
    int nworkers;
    struct timespec started;
    atomic_bool stopping;
    sem_t go;                /* posted once per worker when all are ready: none serves before */
    atomic_uint release_gen; /* bumped by /admin/release: flush thread caches */
    const struct fl_runtime_ops *rt;   /* the mode's operations, chosen once at start */
    void *rt_state;                    /* the mode's own state, made by rt->prepare */
    bool free_owner;                   /* --free-policy owner: rt->return_to_owner frees */
    fl_http_route_cb *route;           /* answers parsed requests: routes.c's, or a test's */
    struct fl_hold_budget hold_budget; /* bytes held by all connections (work_max_held_total) */
};

struct fl_worker {
    struct fl_counters ctr; /* first: cache-line aligned, written by this thread only */
    struct fl_server *srv;
    int id;
    int cpu; /* pinned CPU, -1 if not pinned */
    bool pinned;
    struct io_uring ring;
    int listen_fd, echo_fd;
    int wake_fd; /* eventfd: other threads write it to wake this worker */
    uint64_t wake_val;
    struct fl_bufring rbufs;
    atomic_int nconns;        /* connections accepted here and not yet freed */
    unsigned release_seen;    /* the last release_gen this worker flushed for */
    atomic_uint release_done; /* the same, for the worker waiting in /admin/release */
    void *rt;                 /* the mode's per-worker state (rt->prepare) */
    uint64_t rng;
    struct fl_wheel wheel;      /* deadlines of the operations on this ring (conn_ring.c) */
    uint64_t now;               /* CLOCK_MONOTONIC ns, read once per loop turn */
    struct fl_http *http_cache; /* parsers for reuse (http.c) */
    struct fl_outq *out_cache;  /* small output blocks for reuse (out.c) */
    unsigned out_cached;
    unsigned http_cached;
    /* accepting paused after EMFILE and the like: the retry timer, per listener */
    struct __kernel_timespec accept_pause;
    uint64_t accept_warned;    /* CLOCK_MONOTONIC ns of the last such warning */
    unsigned cq_overflow_seen; /* the kernel's CQ overflow count, last read */
    pthread_t thread;
};

/* Operation tags in the low bits of a CQE's user_data; connection pointers
 * are 16-byte aligned, listeners use small constants. */
enum fl_op {
    FL_OP_RECV = 1,
    FL_OP_SEND = 2,
    FL_OP_CLOSE = 3,
};
#define FL_OP_MASK 15ull
#define FL_UD_ACCEPT 16ull
#define FL_UD_ECHO_ACCEPT 32ull
#define FL_UD_WAKE 48ull
#define FL_UD_IGNORE 64ull
#define FL_UD_RETRY_ACCEPT 80ull      /* the pause after a failed accept ended */
#define FL_UD_RETRY_ECHO_ACCEPT 96ull /* the same for the echo listener */

/* Sets up the worker's ring, buffer ring and wake eventfd.
 * 0, or -errno with the stage and one line naming the failed call in `e`. */
int fl_worker_init(struct fl_worker *w, struct fl_server *srv, int id, struct fl_start_error *e);

/* Releases everything fl_worker_init acquired. */
void fl_worker_destroy(struct fl_worker *w);

/* The event loop: runs until the server stops and this worker's connections
 * are gone. */
void fl_worker_run(struct fl_worker *w);

/* Wakes the worker from its wait (any thread). */
void fl_worker_wake(struct fl_worker *w);

/* A free SQE on `w`'s ring, submitting pending ones first if the SQ is full. */
struct io_uring_sqe *fl__worker_sqe(struct fl_worker *w);

/* Flushes this worker's thread caches if /admin/release asked since it last
 * did, and says so in release_done (this worker's thread only). */
void fl__worker_release_check(struct fl_worker *w);

/* /admin/release on worker `w`: flushes its own thread caches, has every
 * other worker flush theirs and waits (bounded) until they did, then
 * releases process-wide. The number of workers that flushed, `w` included. */
int fl_worker_release_all(struct fl_worker *w);

/* A pseudo-random number from the worker's own generator. */
uint64_t fl__worker_rand(struct fl_worker *w);

#endif
