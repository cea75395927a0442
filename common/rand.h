/* rand.h - splitmix64 (Steele, Lea, Flood 2014), the one generator of both
 * programs: one 64-bit word of state, any value valid (zero too), so a
 * stream's state can be copied, stored or derived from a seed for free. One
 * add and two multiply-xorshifts: good enough for drawing sizes and mixes,
 * not for anything an adversary sees. */
#ifndef FL_COMMON_RAND_H
#define FL_COMMON_RAND_H

#include <stdint.h>

/* The next 64 random bits of the splitmix64 state `*s`, advancing it. */
static inline uint64_t fl_rand_next(uint64_t *s);

static inline uint64_t fl_rand_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

#endif
