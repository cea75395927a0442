/* runtime.h - starting and stopping the workers of either mode. */
#ifndef FL_SERVER_RUNTIME_H
#define FL_SERVER_RUNTIME_H

#include <stddef.h>

#include "worker.h"

/* Creates the listeners and starts cfg.threads workers in cfg.mode.
 * 0, or -errno with one line in `err`. */
int fl_server_start(struct fl_server *srv, char *err, size_t errlen);

/* Stops accepting, cancels in-flight operations, waits for every worker to
 * free its connections and exit, and releases everything. */
void fl_server_stop(struct fl_server *srv);

/* tpc mode: picks worker CPUs from the allowed set and sets dispatch. */
int fl_tpc_prepare(struct fl_server *srv, char *err, size_t errlen);

/* tpc mode, on the worker's own thread: pins it to its CPU and checks. */
int fl_tpc_pin(struct fl_worker *w, char *err, size_t errlen);

/* ws mode: creates the injector and the deques and sets dispatch. */
int fl_ws_prepare(struct fl_server *srv, char *err, size_t errlen);

/* ws mode: frees what fl_ws_prepare made (after the workers exited). */
void fl_ws_destroy(struct fl_server *srv);

#endif
