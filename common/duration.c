/* duration.c - parses the one duration grammar (duration.h) into
 * nanoseconds, in integers: a double would turn "0.3s" into 299999999 ns. */
#include "duration.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define UNITS "ns, us, ms, s, m or h; a bare number is seconds"

static const struct {
    const char *name;
    uint64_t ns;
} units[] = {
    {"ns", 1},
    {"us", UINT64_C(1000)},
    {"ms", UINT64_C(1000000)},
    {"s", UINT64_C(1000000000)},
    {"m", UINT64_C(60000000000)},
    {"h", UINT64_C(3600000000000)},
};

/* Fraction digits beyond this many cannot change a result in ns: the
 * largest unit is below 10^13 ns. Keeping 18 also keeps the products below
 * 2^128. */
#define FRAC_MAX 18

__attribute__((format(printf, 3, 4))) static int bad(char *why, size_t whylen, const char *fmt, ...)
{
    if (whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* The unit starting at `p` (its letters), or 0 with why set. */
static uint64_t unit_at(const char *p, size_t *len, char *why, size_t whylen)
{
    *len = 0;
    while (isalpha((unsigned char)p[*len]))
        (*len)++;
    if (!*len && !*p)
        return units[3].ns; /* a bare number: seconds */
    if (!*len) {
        bad(why, whylen, "unexpected '%s' after the number (units: " UNITS ")", p);
        return 0;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strlen(units[i].name) == *len && strncmp(units[i].name, p, *len) == 0) {
            if (p[*len]) {
                bad(why, whylen, "unexpected '%s' after the unit '%s'", p + *len, units[i].name);
                return 0;
            }
            return units[i].ns;
        }
    bad(why, whylen, "unknown time unit '%.*s' (" UNITS ")", (int)*len, p);
    return 0;
}

int fl_duration_parse(const char *text, uint64_t *ns, char *why, size_t whylen)
{
    const char *p = text;
    if (!*p)
        return bad(why, whylen, "empty duration (expected a number with unit " UNITS ")");
    if (*p == '-')
        return bad(why, whylen, "a duration cannot be negative");
    if (!isdigit((unsigned char)*p))
        return bad(why, whylen, "expected a duration: a number with unit " UNITS);
    unsigned __int128 whole = 0;
    bool big = false;
    for (; isdigit((unsigned char)*p); p++) {
        whole = whole * 10 + (unsigned)(*p - '0');
        big |= whole > FL_DURATION_MAX;
        whole = big ? FL_DURATION_MAX + (unsigned __int128)1 : whole;
    }
    uint64_t frac = 0, scale = 1;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return bad(why, whylen, "expected digits after '.'");
        for (size_t k = 0; isdigit((unsigned char)*p); p++, k++)
            if (k < FRAC_MAX) {
                frac = frac * 10 + (unsigned)(*p - '0');
                scale *= 10;
            }
    }
    size_t ulen;
    uint64_t mul = unit_at(p, &ulen, why, whylen);
    if (!mul)
        return -EINVAL;
    /* whole <= 2^63, mul < 2^42, frac * mul < 10^18 * 2^42 < 2^102 */
    unsigned __int128 v = whole * mul + ((unsigned __int128)frac * mul + scale / 2) / scale;
    if (big || v > FL_DURATION_MAX) {
        if (whylen)
            snprintf(why, whylen, "too large (at most %llu ns, about 292 years)",
                     (unsigned long long)FL_DURATION_MAX);
        return -ERANGE;
    }
    *ns = (uint64_t)v;
    return 0;
}
