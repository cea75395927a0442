/* clock.h - the monotonic clock both binaries read: CLOCK_MONOTONIC in
 * nanoseconds (never goes back, not moved by date changes), and settings
 * given in milliseconds turned into the same unit. Inline: clock_gettime is
 * a vDSO call, cheap enough to read on a request's path. */
#ifndef FL_COMMON_CLOCK_H
#define FL_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t fl_clock_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* `ms` milliseconds (a timeout setting) in nanoseconds; a negative value is 0. */
static inline uint64_t fl_clock_ms_to_ns(int64_t ms)
{
    return ms > 0 ? (uint64_t)ms * 1000000u : 0;
}

#endif
