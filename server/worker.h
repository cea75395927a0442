/* worker.h - one worker: a thread with its own io_uring, its own listening
 * sockets, its own provided-buffer ring and counters. Both runtime modes are
 * made of workers; they differ only in `fl_server.dispatch`, which decides
 * where a connection's next step runs (tpc: right here; ws: any worker). */
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
#include "deque.h"
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

struct fl_server {
    struct fl_server_config cfg;
    const struct fl_alloc_info *alloc;
    struct fl_worker *workers;
    int nworkers;
    struct timespec started;
    atomic_bool stopping;
    sem_t go;                /* posted once per worker when all are ready: none serves before */
    atomic_uint release_gen; /* bumped by /admin/release: flush thread caches */
    fl_http_route_cb *route; /* answers parsed requests: routes.c's, or a test's */
    struct fl_hold_budget hold_budget; /* bytes held by all connections (work_max_held_total) */
    /* Runs the step that connection `c` has ready (its completion is stored
     * in the connection). tpc: at once, on `w`; ws: queued for any worker. */
    void (*dispatch)(struct fl_worker *w, struct fl_conn *c);
    /* ws: runs queued tasks after completions were reaped; true when more
     * may be ready, so the loop must not block. NULL in tpc. */
    bool (*run_tasks)(struct fl_worker *w);
    /* ws: about to block; false if work appeared and it must not. */
    bool (*park)(struct fl_worker *w);
    void (*unpark)(struct fl_worker *w);
    bool free_owner;             /* --free-policy owner */
    struct fl_injector injector; /* ws: the shared deque */
    atomic_int nparked;          /* ws: workers blocked in their ring wait */
};

/* ws: completions reaped by one worker for another, sent in one batch. */
#define FL_WS_BATCH 64
struct fl_ws_pending {
    void *tasks[FL_WS_BATCH];
    unsigned n;
};

/* A batch of buffers on their way back to the worker that allocated them. */
struct fl_remote_batch {
    struct fl_buf_hdr *head, *tail;
    unsigned n;
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
    atomic_int nconns; /* connections accepted here and not yet freed */
    unsigned release_seen;
    /* ws */
    struct fl_deque deque;
    struct fl_injector inbox; /* completions other workers drew for this one */
    atomic_bool parked;
    struct fl_ws_pending *pending; /* per target worker: reaped, not yet handed over */
    /* free-policy owner: buffers other workers freed, for us to free */
    _Atomic(struct fl_buf_hdr *) remote_head;
    struct fl_remote_batch *outbox; /* per owner, flushed each loop turn */
    uint64_t rng;
    struct fl_http *http_cache; /* parsers for reuse (http.c) */
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

/* Sets up the worker's ring, buffer ring, wake eventfd and listeners.
 * 0 or -errno; `what` names the failed call. */
int fl_worker_init(struct fl_worker *w, struct fl_server *srv, int id, const char **what);

/* Releases everything fl_worker_init acquired. */
void fl_worker_destroy(struct fl_worker *w);

/* The event loop: runs until the server stops and this worker's connections
 * are gone. */
void fl_worker_run(struct fl_worker *w);

/* Wakes the worker from its wait (any thread). */
void fl_worker_wake(struct fl_worker *w);

/* A free SQE on `w`'s ring, submitting pending ones first if the SQ is full. */
/* Room for `n` SQEs in a row on the worker's ring (a linked pair). */
void fl__worker_reserve(struct fl_worker *w, unsigned n);
struct io_uring_sqe *fl__worker_sqe(struct fl_worker *w);

/* Hands receive buffer `bid` back to the kernel (this worker's thread only). */
void fl__worker_recycle(struct fl_worker *w, unsigned bid);

/* Frees the buffers other workers returned to this one (free-policy owner),
 * and sends out this worker's batches for the others. */
void fl__buf_remote_drain(struct fl_worker *w);
void fl__buf_remote_flush(struct fl_worker *w);

/* A pseudo-random number from the worker's own generator. */
uint64_t fl__worker_rand(struct fl_worker *w);

#endif
