/* workload.h - the workload endpoint: the client chooses, per request, the
 * allocation pattern the server performs (response size, a burst of
 * short-lived allocations, allocations held past the request), within caps.
 *
 *   GET|POST /work?resp=BYTES&burst=COUNT&burst_min=BYTES&burst_max=BYTES
 *                 &hold=BYTES&hold_for=REQUESTS|conn&seed=N
 * Every parameter is optional (default 0 / none; burst sizes default 16..1024;
 * hold_for defaults to 1: freed when the connection's next request ends;
 * hold_for=conn frees at connection close). Sizes accept k/m suffixes. */
#ifndef FL_SERVER_WORKLOAD_H
#define FL_SERVER_WORKLOAD_H

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

#endif
