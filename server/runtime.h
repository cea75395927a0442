/* runtime.h - the runtime modes as one const table of operations each
 * (tpc.c, ws.c), chosen once from cfg.mode_kind; and starting and stopping
 * the workers. server.c and worker.c call through the table and never test
 * the mode, so the modes differ in their own file only. */
#ifndef FL_SERVER_RUNTIME_H
#define FL_SERVER_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "worker.h"

struct fl_conn;

struct fl_runtime_ops {
    const char *name;
    /* Before any worker starts: the mode's state (srv->rt, each w->rt) and
     * each worker's CPU. 0, or -errno with one line in `err`. */
    int (*prepare)(struct fl_server *srv, char *err, size_t errlen);
    /* On the worker's own thread before its ring is made (tpc: pins it).
     * 0, or -errno with one line in `err`. NULL: nothing to do. */
    int (*worker_start)(struct fl_worker *w, char *err, size_t errlen);
    /* Runs the step connection `c` has ready (its completion is stored in
     * the connection). tpc: at once, on `w`; ws: queued for any worker. */
    void (*dispatch)(struct fl_worker *w, struct fl_conn *c);
    /* Each loop turn after completions were reaped: runs queued work; true
     * when the worker may block in its ring's wait, false when more may be
     * ready. NULL: always may block. */
    bool (*before_wait)(struct fl_worker *w);
    /* After a blocking wait returned. NULL: nothing to do. */
    void (*after_wait)(struct fl_worker *w);
    /* Frees buffer `h` that worker `w` did not allocate, under
     * --free-policy owner. NULL in a mode that refuses that policy. */
    void (*return_to_owner)(struct fl_worker *w, struct fl_buf_hdr *h);
    /* The worker left its loop (its owners may have exited). NULL: nothing. */
    void (*worker_exit)(struct fl_worker *w);
    /* Every worker was joined, none released yet. NULL: nothing. */
    void (*stopped)(struct fl_server *srv);
    /* Frees what prepare made, also after a partial prepare. NULL: nothing. */
    void (*destroy)(struct fl_server *srv);
    /* A connection's steps may run on any worker: a stopping worker waits
     * until every worker's connections are gone, not only its own. */
    bool conns_roam;
};

extern const struct fl_runtime_ops fl_tpc_ops; /* tpc.c */
extern const struct fl_runtime_ops fl_ws_ops;  /* ws.c */

/* Where start-up failed, so the caller decides on the stage, not on text. */
enum fl_start_stage {
    FL_START_OK,
    FL_START_MEMORY,  /* the workers' memory */
    FL_START_LISTEN,  /* socket, setsockopt, bind, listen, getsockname */
    FL_START_RUNTIME, /* the mode's prepare or per-worker start (pinning) */
    FL_START_URING,   /* io_uring_queue_init: io_uring may be refused (exit 3) */
    FL_START_WORKER,  /* the rest of a worker's set-up, or its thread */
};

struct fl_start_error {
    enum fl_start_stage stage;
    int err; /* -errno */
    char msg[256];
};

/* Creates the listeners and starts cfg.threads workers in cfg.mode.
 * 0, or -errno with the stage and one line in `e`. */
int fl_server_start(struct fl_server *srv, struct fl_start_error *e);

/* Stops accepting, cancels in-flight operations, waits for every worker to
 * free its connections and exit, and releases everything. */
void fl_server_stop(struct fl_server *srv);

#endif
