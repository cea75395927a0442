/* counters.h - per-worker counters, each written by one thread only.
 *
 * A worker's block is written only by the thread running that worker and
 * read by whoever renders /stats or /metrics, so increments are a relaxed
 * load and a relaxed store (a plain add on x86, no locked instruction) and
 * the block is padded to a cache line against false sharing. */
#ifndef FL_SERVER_COUNTERS_H
#define FL_SERVER_COUNTERS_H

#include <stdatomic.h>
#include <stdint.h>

/* X(field, metric, type, help): metric is fraglab_<metric>; type counter or
 * gauge. Gauges may move on several workers (a connection opened on one and
 * closed on another in ws mode), so only their sum is meaningful. */
#define FL_COUNTERS(X)                                                                             \
    X(requests, "requests_total", counter, "HTTP requests answered")                               \
    X(connections_accepted, "connections_accepted_total", counter, "Connections accepted")         \
    X(connections_open, "connections_open", gauge, "Connections open")                             \
    X(connections_refused, "connections_refused_total", counter,                                   \
      "Connections closed at accept (max_conns)")                                                  \
    X(buffer_allocs, "buffer_allocs_total", counter, "Buffers allocated by the server")            \
    X(buffer_frees, "buffer_frees_total", counter, "Buffers freed by the server")                  \
    X(cross_thread_frees, "cross_thread_frees_total", counter,                                     \
      "Frees on a worker other than the allocating one")                                           \
    X(remote_returns, "remote_returns_total", counter,                                             \
      "Buffers sent back to their allocating worker (free-policy owner)")                          \
    X(buffer_bytes, "buffer_bytes", gauge, "Bytes in live server buffers")                         \
    X(http_parsers, "http_parsers", gauge,                                                         \
      "HTTP parsers held by connections with a request under way (idle ones hold none)")           \
    X(held_bytes, "held_bytes", gauge, "Bytes held past their request by the workload endpoint")   \
    X(hold_budget_refusals, "hold_budget_refusals_total", counter,                                 \
      "Holds answered 503: the server-wide budget work_max_held_total was reached")                \
    X(bytes_received, "received_bytes_total", counter, "Bytes received")                           \
    X(bytes_sent, "sent_bytes_total", counter, "Bytes sent")                                       \
    X(echo_bytes, "echo_bytes_total", counter, "Bytes echoed on the raw TCP port")                 \
    X(http_errors, "http_errors_total", counter, "Requests answered with 4xx or 5xx")              \
    X(peer_errors, "peer_errors_total", counter, "Connections ended by resets or broken pipes")    \
    X(header_timeouts, "header_timeouts_total", counter,                                           \
      "Connections closed at the header deadline (408 when a request had begun)")                  \
    X(body_timeouts, "body_timeouts_total", counter, "Requests answered 408 at the body timeout")  \
    X(idle_timeouts, "idle_timeouts_total", counter,                                               \
      "Idle connections closed (keepalive_timeout)")                                               \
    X(send_timeouts, "send_timeouts_total", counter,                                               \
      "Connections closed when a send made no progress (send_timeout)")                            \
    X(accept_errors, "accept_errors_total", counter,                                               \
      "Accepts that failed (EMFILE, ENFILE, ENOMEM, ...) and paused accepting")                    \
    X(recv_nobufs, "recv_nobufs_total", counter, "Receives retried: every receive buffer in use")  \
    X(cq_overflows, "cq_overflows_total", counter,                                                 \
      "Completions that found the completion queue full (kept by the kernel, delayed)")            \
    X(tasks_run, "tasks_run_total", counter, "Tasks run (ws mode)")                                \
    X(steals, "steals_total", counter, "Successful steals from another worker (ws mode)")          \
    X(tasks_stolen, "tasks_stolen_total", counter, "Tasks moved by steals (ws mode)")              \
    X(task_migrations, "task_migrations_total", counter,                                           \
      "Task steps run on another worker than the connection's previous step")

/* X(kind, what): the allocations whose size or number a client chooses. When
 * one fails, the request is answered 503 naming `what` and its size, the
 * connection closes, and the failure is counted by kind
 * (fraglab_alloc_failures_total{kind="..."}). `input` is the copy of received
 * bytes out of the receive ring on an HTTP connection (the raw echo port's is
 * `echo`); `conn_state` covers the connection itself, its drawn state and its
 * parser. */
#define FL_OOM_KINDS(X)                                                                            \
    X(hold, "hold")                                                                                \
    X(burst, "burst allocation")                                                                   \
    X(response, "response")                                                                        \
    X(body, "request body")                                                                        \
    X(target, "request target")                                                                    \
    X(input, "received bytes")                                                                     \
    X(echo, "echo buffer")                                                                         \
    X(conn_state, "connection state")

enum fl_oom {
#define FL_X(kind, what) FL_OOM_##kind,
    FL_OOM_KINDS(FL_X)
#undef FL_X
        FL_NOOM
};

struct fl_counters {
#define FL_X(field, metric, type, help) _Atomic int64_t field;
    FL_COUNTERS(FL_X)
#undef FL_X
    _Atomic int64_t alloc_failures[FL_NOOM]; /* by enum fl_oom */
} __attribute__((aligned(64)));

/* Adds `n` to this worker's own counter (single writer). */
#define FL_COUNT(ctr, field, n)                                                                    \
    atomic_store_explicit(&(ctr)->field,                                                           \
                          atomic_load_explicit(&(ctr)->field, memory_order_relaxed) + (n),         \
                          memory_order_relaxed)

/* Reads a counter written by another thread. */
#define FL_READ(ctr, field) atomic_load_explicit(&(ctr)->field, memory_order_relaxed)

#endif
