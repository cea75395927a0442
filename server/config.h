/* config.h - fraglab-server settings: one table of options drives the
 * defaults, the INI file (config/server.ini), the command-line flags and
 * --help. Flags win over the file; the file wins over defaults. */
#ifndef FL_SERVER_CONFIG_H
#define FL_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* X(kind, name, default, help): kind is STR, INT (int64), SIZE (bytes,
 * accepting suffixes k/K, m/M, g/G for KiB/MiB/GiB) or TIME (milliseconds,
 * written in the one duration grammar of common/duration.h: a number with
 * an optional fraction and unit ns, us, ms, s, m or h; a bare number is
 * seconds; finer than a millisecond is refused). `name` is the struct
 * field and the INI key; the flag is --name with '_' written as '-'. The
 * INI file accepts either spelling, in a [server] section or at top level. */
#define FL_SERVER_OPTIONS(X)                                                                       \
    X(STR, mode, "tpc", "runtime: tpc (pinned thread-per-core) or ws (work-stealing)")             \
    X(INT, threads, 0, "worker threads (0 = online CPUs)")                                         \
    X(STR, bind, "127.0.0.1", "address to listen on (IPv4 or IPv6)")                               \
    X(INT, port, 8080, "HTTP port")                                                                \
    X(INT, echo_port, 0, "raw TCP echo port (0 = off)")                                            \
    X(STR, allocator, "glibc", "glibc|jemalloc|mimalloc|tcmalloc|/path/lib.so[:settings]")         \
    X(STR, free_policy, "local", "ws only: local (free where the task runs) or owner")             \
    X(INT, ring_entries, 256, "io_uring submission queue entries per worker")                      \
    X(INT, max_conns, 10000, "connections per worker; beyond it accept and close")                 \
    X(SIZE, max_body, 1048576, "largest request body (413 beyond)")                                \
    X(SIZE, max_request_line, 8192, "longest request line (414 beyond)")                           \
    X(SIZE, max_header_field, 8192, "longest header field, name and value (431 beyond)")           \
    X(SIZE, max_head, 32768, "largest request head, request line included (431 beyond)")           \
    X(INT, max_headers, 100, "most header fields in one request (431 beyond)")                     \
    X(INT, max_requests_per_conn, 0,                                                               \
      "requests per connection before Connection: close (0 = no limit)")                           \
    X(TIME, header_timeout, 10000,                                                                 \
      "time to receive a request head, from its first byte (from accept on a new "                 \
      "connection); then 408 and close (0 = none)")                                                \
    X(TIME, body_timeout, 60000,                                                                   \
      "longest wait between two reads of a request body; then 408 and close (0 = none)")           \
    X(TIME, keepalive_timeout, 75000,                                                              \
      "idle time between requests (echo: between reads) before closing (0 = never)")               \
    X(TIME, send_timeout, 60000,                                                                   \
      "longest wait for one send to make progress; then close (0 = none)")                         \
    X(STR, conn_state_dist, "loguniform", "per-connection state size: fixed|uniform|loguniform")   \
    X(SIZE, conn_state_min, 512, "smallest per-connection state")                                  \
    X(SIZE, conn_state_max, 16384, "largest per-connection state")                                 \
    X(INT, seed, 1, "seed for per-connection state sizes")                                         \
    X(SIZE, work_max_resp, 1048576, "workload cap: response bytes")                                \
    X(INT, work_max_burst, 10000, "workload cap: allocations in one burst")                        \
    X(SIZE, work_max_burst_size, 65536, "workload cap: bytes of one burst allocation")             \
    X(SIZE, work_max_hold, 1048576, "workload cap: bytes held by one request")                     \
    X(SIZE, work_max_hold_conn, 16777216, "workload cap: bytes held by one connection")            \
    X(SIZE, work_max_held_total, 1073741824,                                                       \
      "workload budget: bytes held by all connections together, 503 beyond (1 GiB: far above "     \
      "what the shipped scenarios hold, far below what the per-connection cap allows at "          \
      "max_conns, so no client can exhaust a laptop)")                                             \
    X(INT, work_max_hold_for, 100000, "workload cap: requests a hold may outlive its request")

/* The runtime mode, free policy and state-size distribution, named once by validation (the strings
 * stay as typed, for /stats and the logs). Order as in config.c's choices. */
enum fl_mode { FL_MODE_TPC, FL_MODE_WS };
enum fl_free_policy { FL_FREE_LOCAL, FL_FREE_OWNER };
enum fl_state_dist { FL_STATE_FIXED, FL_STATE_UNIFORM, FL_STATE_LOGUNIFORM };

struct fl_server_config {
#define FL_CFG_STR(name) char name[256];
#define FL_CFG_INT(name) int64_t name;
#define FL_CFG_SIZE(name) int64_t name;
#define FL_CFG_TIME(name) int64_t name; /* milliseconds */
#define FL_X(kind, name, def, help) FL_CFG_##kind(name)
    FL_SERVER_OPTIONS(FL_X)
#undef FL_X
    enum fl_mode mode_kind;                  /* `mode`, parsed */
    enum fl_free_policy free_policy_kind;    /* `free_policy`, parsed */
    enum fl_state_dist conn_state_dist_kind; /* `conn_state_dist`, parsed */
    char config_file[256];                   /* --config FILE, "" if none */
    bool check;                              /* --check: print the allocator and exit */
};

enum fl_config_result { FL_CONFIG_OK, FL_CONFIG_EXIT_OK, FL_CONFIG_ERROR };

/* Fills `c` from defaults, then --config FILE, then flags; validates values
 * (mode, ranges, min <= max, combinations). FL_CONFIG_EXIT_OK after printing --help
 * (every option with its default and help text) or --version; FL_CONFIG_ERROR with one line in
 * `err` naming the bad value. */
enum fl_config_result fl_config_load(int argc, char **argv, struct fl_server_config *c, char *err,
                                     size_t errlen);

#endif
