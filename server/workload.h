/* workload.h - the workload endpoint: the client chooses, per request, the
 * allocation pattern the server performs (response size, a burst of
 * short-lived allocations, allocations held past the request), within caps.
 *
 *   GET|POST /work?resp=BYTES&burst=COUNT&burst_min=BYTES&burst_max=BYTES
 *                 &hold=BYTES&hold_for=REQUESTS|conn&seed=N
 * Every parameter is optional (default 0 / none; burst sizes default 16..1024;
 * hold_for defaults to 1: freed when the connection's next request ends;
 * hold_for=conn frees at connection close). Sizes accept k/m suffixes.
 *
 * Holds are kept per connection (struct fl_holds) and charged to one
 * server-wide budget (struct fl_hold_budget, work_max_held_total). This
 * file knows nothing of HTTP or rings: the route and the connection call
 * it, and count the worker's held_bytes gauge from what it returns. */
#ifndef FL_SERVER_WORKLOAD_H
#define FL_SERVER_WORKLOAD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct fl_server_config;
struct fl_worker;

#define FL_HOLD_CONN UINT64_MAX /* hold_for=conn */

struct fl_work_req {
    uint64_t resp;      /* response body bytes */
    uint64_t burst;     /* number of short-lived allocations */
    uint64_t burst_min; /* their size range, bytes */
    uint64_t burst_max;
    uint64_t hold;     /* bytes held past the request */
    uint64_t hold_for; /* requests the hold outlives, or FL_HOLD_CONN */
    uint64_t seed;     /* seeds burst sizes (default 1) */
};

/* Parses the query string (the part after '?', not NUL-terminated, never
 * read past `len`) against the caps in `cfg`. Pieces are name=value joined
 * by '&'; empty pieces are skipped and a repeated name keeps its last value.
 * Sizes are decimal with an optional k/K (KiB) or m/M (MiB) suffix; counts
 * and seed are plain decimal; nothing is percent-decoded ('%' is malformed).
 * Burst sizes not given default to 16..1024, lowered to work_max_burst_size.
 * 0, or -EINVAL with one line (no newline) for a 400 in `err`: an unknown
 * parameter, an empty or malformed value, a 64-bit overflow, burst_min >
 * burst_max, burst_min=0 with a burst, or a figure over its cap (the message
 * names the parameter, the value and the cap). work_max_hold_conn is left to
 * the caller, which knows what the connection already holds. */
int fl_work_parse(const char *query, size_t len, const struct fl_server_config *cfg,
                  struct fl_work_req *out, char *err, size_t errlen);

/* Runs the burst of `r` (as accepted by fl_work_parse): `burst` allocations
 * through fl_buf_alloc with sizes drawn uniformly from [burst_min,
 * burst_max] by a PRNG seeded with `seed` (same seed, same sizes), each
 * touched, all freed through fl_buf_free before returning. At most 16 are
 * live at once, a random one freed to make room, the way a parser drops
 * temporaries. Returns 0, or the size of the allocation that failed, after
 * which the burst stops and frees what it took. `*sum` (if not NULL) gets a
 * checksum of the touched bytes, so the work cannot be elided. */
size_t fl_work_burst(struct fl_worker *w, const struct fl_work_req *r, uint64_t *sum);

/* Fills `dst` with `len` bytes of the response pattern: byte i of the body is
 * 'a' + (i % 26), so a client can verify any response without a copy. */
void fl_work_fill(char *dst, size_t len);

struct fl_hold; /* one held allocation (workload.c) */

/* A connection's holds, touched only by the step running the connection. */
struct fl_holds {
    struct fl_hold *list;
    uint64_t bytes;       /* held by this connection (work_max_hold_conn caps it) */
    uint64_t next_expiry; /* request number the earliest hold ends with; FL_HOLD_CONN: none */
};

/* The bytes held by every connection of the server together, checked
 * against work_max_held_total. Every worker adds and subtracts with relaxed
 * atomics: the figure guards a size, it orders no other memory, and one
 * locked add per hold and per release is noise beside the hold's own
 * malloc and page touching. */
struct fl_hold_budget {
    _Atomic uint64_t held;
};

enum fl_hold_result {
    FL_HOLD_OK,
    FL_HOLD_OVER_BUDGET, /* would pass work_max_held_total: nothing held */
    FL_HOLD_NO_MEMORY,   /* the allocation failed: nothing held */
};

/* Makes zeroed holds ready (none held, nothing due). */
void fl_holds_init(struct fl_holds *hs);

/* Holds r->hold bytes (r as accepted by fl_work_parse, r->hold > 0) on
 * connection holds `hs`, answering its request number `nreq`: kept until
 * request nreq + r->hold_for ends (FL_HOLD_CONN: until the connection
 * closes), touched so they are resident. The bytes are taken from `budget`
 * first, and refused when the server would then hold more than
 * cfg->work_max_held_total; a failed allocation gives them back. The
 * caller checks work_max_hold_conn beforehand (it answers 400, not 503). */
enum fl_hold_result fl_hold_take(struct fl_worker *w, struct fl_holds *hs,
                                 struct fl_hold_budget *budget, const struct fl_server_config *cfg,
                                 const struct fl_work_req *r, uint64_t nreq);

/* Frees the holds due once request `nreq` has ended (FL_HOLD_CONN: every
 * one, at close) and gives their bytes back to `budget`. Returns the bytes
 * freed. Cheap when nothing is due. */
uint64_t fl_holds_release(struct fl_worker *w, struct fl_holds *hs, struct fl_hold_budget *budget,
                          uint64_t nreq);

#endif
