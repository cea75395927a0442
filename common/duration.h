/* duration.h - the one duration grammar of both programs, the one users of
 * nginx and wrk expect:
 *
 *   DURATION = DIGITS ["." DIGITS] [UNIT]      UNIT = ns | us | ms | s | m | h
 *
 * A bare number is seconds ("30" is 30 s, as nginx and wrk read it). A
 * fraction is exact to the nanosecond, rounded to the nearest ("1.5s",
 * "0.25ms"). No signs, spaces, exponents or other units. */
#ifndef FL_COMMON_DURATION_H
#define FL_COMMON_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* The largest duration fl_duration_parse returns: it fits an int64_t too. */
#define FL_DURATION_MAX ((uint64_t)INT64_MAX)

/* Parses `text` into nanoseconds. 0, or -EINVAL (malformed: empty, a sign,
 * an unknown unit, junk after it) or -ERANGE (above FL_DURATION_MAX), with
 * why in `why` (no prefix: the caller names the value). */
int fl_duration_parse(const char *text, uint64_t *ns, char *why, size_t whylen);

#endif
