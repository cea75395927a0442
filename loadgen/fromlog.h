/* fromlog.h - a scenario from a server's access log (`fraglab-loadgen
 * scenario --from-log`): the log is read line by line into fixed-size
 * aggregates (no line is kept, so memory does not grow with the log), then
 * written as a scenario INI that fl_scenario_load reads, every choice made
 * on the way written into it as a comment.
 *
 * Formats: `combined` (nginx's and Apache's default, `common` too) and
 * `json`, one object per line, from this nginx directive (http block):
 *
 *   log_format fraglab escape=json '{"msec":"$msec","request":"$request",'
 *       '"status":"$status","body_bytes_sent":"$body_bytes_sent",'
 *       '"request_length":"$request_length","request_time":"$request_time",'
 *       '"connection":"$connection","connection_requests":"$connection_requests"}';
 *   access_log /var/log/nginx/fraglab.json fraglab;
 *
 * In json, "time_iso8601" or "time_local" may stand for "msec", and
 * numbers may be bare or quoted; only msec (or a time), request, status
 * and body_bytes_sent are required. */
#ifndef FL_LOADGEN_FROMLOG_H
#define FL_LOADGEN_FROMLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum fl_fromlog_format { FL_FROMLOG_COMBINED, FL_FROMLOG_JSON };

/* The kinds of bad line, each counted and reported: X(name, what). */
#define FL_FROMLOG_BAD_KINDS(X)                                                                    \
    X(LAYOUT, "layout", "not the format's layout (a field missing, or not JSON)")                  \
    X(TIME, "time", "a timestamp that does not parse")                                             \
    X(REQUEST, "request", "a request line that is not METHOD TARGET [PROTOCOL]")                   \
    X(NUMBER, "number", "a status, size or time that is not a number")                             \
    X(TOO_LONG, "too_long", "longer than the line buffer (16 KiB)")                                \
    X(TIME_RANGE, "time_range", "more than 30 days from the log's first line")

enum fl_fromlog_bad {
#define FL__FROMLOG_ENUM(e, name, what) FL_FROMLOG_BAD_##e,
    FL_FROMLOG_BAD_KINDS(FL__FROMLOG_ENUM)
#undef FL__FROMLOG_ENUM
        FL_FROMLOG_NBAD
};

#define FL_FROMLOG_LINE_MAX 16384 /* bytes of a line, its newline included */

struct fl_fromlog;

/* The aggregates for one log (a few MiB, whatever its length); NULL when
 * out of memory. */
struct fl_fromlog *fl_fromlog_new(enum fl_fromlog_format fmt);

/* Frees `c` (NULL is fine). */
void fl_fromlog_free(struct fl_fromlog *c);

/* Adds one line (no newline): true, or false when it was bad (counted). */
bool fl_fromlog_line(struct fl_fromlog *c, const char *line, size_t len);

/* Adds every line of `in` to its end. 0, or -errno of a read error. */
int fl_fromlog_read(struct fl_fromlog *c, FILE *in);

/* Lines read so far, and those of them that were requests. */
uint64_t fl_fromlog_lines(const struct fl_fromlog *c);
uint64_t fl_fromlog_requests(const struct fl_fromlog *c);

/* Bad lines of kind `k` so far. */
uint64_t fl_fromlog_bad(const struct fl_fromlog *c, enum fl_fromlog_bad k);

/* The name of kind `k` ("layout"). */
const char *fl_fromlog_bad_name(enum fl_fromlog_bad k);

/* Writes the scenario to `out`, `source` (the log's name) in its comments.
 * 0; -EINVAL when no line was a request, with why. */
int fl_fromlog_write(struct fl_fromlog *c, FILE *out, const char *source, char *why, size_t whylen);

/* `fraglab-loadgen scenario ...` (argv[0] "scenario"): the exit status. */
int fl_lg_cmd_scenario(int argc, char **argv);

#endif
