/* scenario_keys.c - the keys of each scenario section: one table per
 * section says how each value parses and where it goes, and the same
 * tables print the normalised scenario, so what is read and what is
 * written cannot drift apart. */
#include "scenario_internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

enum ktype {
    K_NAME,     /* [A-Za-z0-9_.-], < FL_SCENARIO_NAME_MAX */
    K_ADDR,     /* host:port */
    K_PATH,     /* /absolute, printable, no blanks */
    K_U64,      /* decimal */
    K_CONNS,    /* 1..FL_SCENARIO_MAX_CONNECTIONS, uint32_t */
    K_THREADS,  /* 1..FL_SCENARIO_MAX_THREADS, uint32_t */
    K_RATE,     /* requests/s, double >= 0 */
    K_WEIGHT,   /* double >= 0 */
    K_FRACTION, /* double 0..1 */
    K_TIME,     /* one time >= 0 */
    K_PTIME,    /* one time > 0 */
    K_BOOL,
    K_BYTES, /* distributions */
    K_COUNT,
    K_TIMES,
    K_HOLD_FOR, /* a count distribution or "conn" */
    K_KIND,     /* echo|work|get|tcp */
    K_METHOD,   /* GET|POST */
};

#define BIT(k) (1u << FL_SCENARIO_##k)

#define KEY(st, name, field, type, kinds, req)                                                     \
    {                                                                                              \
        name, type, offsetof(st, field), kinds, req                                                \
    }
#define SKEY(f, t, req) KEY(struct fl_scenario, #f, f, t, FL__ALL, req)
#define PKEY(f, t, req) KEY(struct fl_scenario_phase, #f, f, t, FL__ALL, req)
#define OKEY(f, t, req) KEY(struct fl_scenario_population, #f, f, t, FL__ALL, req)
#define RKEY(f, t, kinds, req) KEY(struct fl_scenario_request, #f, f, t, kinds, req)

static const struct fl__key scenario_keys[] = {
    SKEY(name, K_NAME, 0),
    SKEY(seed, K_U64, 0),
    SKEY(duration, K_PTIME, 0),
    SKEY(warmup, K_TIME, 0),
    SKEY(connections, K_CONNS, FL__ALL),
    SKEY(threads, K_THREADS, 0),
    SKEY(rate, K_RATE, 0),
    SKEY(max_requests, K_U64, 0),
    SKEY(timeout, K_PTIME, 0),
    SKEY(error_stop, K_FRACTION, 0),
    SKEY(interval, K_PTIME, 0),
    SKEY(target, K_ADDR, 0),
    SKEY(echo_target, K_ADDR, 0),
};
static const struct fl__key phase_keys[] = {
    PKEY(duration, K_PTIME, FL__ALL),
    KEY(struct fl_scenario_phase, "rate", rate, K_RATE, FL__PHASE_ACTIVE, 0),
    PKEY(connections, K_CONNS, 0),
    PKEY(idle, K_BOOL, 0),
    KEY(struct fl_scenario_phase, "close_idle", close_idle, K_BOOL, FL__PHASE_IDLE, 0),
};
static const struct fl__key population_keys[] = {
    OKEY(share, K_WEIGHT, FL__ALL),
    OKEY(requests, K_COUNT, 0),
    OKEY(lifetime, K_TIMES, 0),
    OKEY(think, K_TIMES, 0),
};
/* "bytes" (tcp) and "body" (echo, work) fill the same field. */
static const struct fl__key request_keys[] = {
    RKEY(weight, K_WEIGHT, FL__ALL, FL__ALL),
    RKEY(kind, K_KIND, FL__ALL, FL__ALL),
    KEY(struct fl_scenario_request, "method", post, K_METHOD, BIT(WORK), 0),
    RKEY(body, K_BYTES, BIT(ECHO) | BIT(WORK), BIT(ECHO)),
    KEY(struct fl_scenario_request, "bytes", body, K_BYTES, BIT(TCP), BIT(TCP)),
    RKEY(resp, K_BYTES, BIT(WORK), BIT(WORK)),
    RKEY(burst, K_COUNT, BIT(WORK), 0),
    RKEY(burst_min, K_BYTES, BIT(WORK), 0),
    RKEY(burst_max, K_BYTES, BIT(WORK), 0),
    RKEY(hold, K_BYTES, BIT(WORK), 0),
    RKEY(hold_for, K_HOLD_FOR, BIT(WORK), 0),
    RKEY(path, K_PATH, BIT(GET), BIT(GET)),
};

const struct fl__section fl__scenario_sections[FL__NSEC] = {
    [FL__SEC_SCENARIO] = {"scenario", scenario_keys, NELEM(scenario_keys)},
    [FL__SEC_PHASE] = {"phase", phase_keys, NELEM(phase_keys)},
    [FL__SEC_POPULATION] = {"population", population_keys, NELEM(population_keys)},
    [FL__SEC_REQUEST] = {"request", request_keys, NELEM(request_keys)},
};

_Static_assert(NELEM(scenario_keys) <= FL__MAX_KEYS && NELEM(request_keys) <= FL__MAX_KEYS,
               "FL__MAX_KEYS");

const char *const fl__scenario_kinds[FL_SCENARIO_NKINDS] = {"echo", "work", "get", "tcp"};

/* --- values -------------------------------------------------------------- */

bool fl__scenario_valid_name(const char *v)
{
    size_t n = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
    return n && !v[n] && n < FL_SCENARIO_NAME_MAX;
}

/* host:port, the host a name, an IPv4 address or a bracketed IPv6 one. */
static const char *check_addr(const char *v)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v)
        return "expected host:port";
    if (*v == '[' && colon[-1] != ']')
        return "expected [IPv6]:port";
    for (const char *p = v; p < colon; p++)
        if (!isgraph((unsigned char)*p))
            return "blank or control character in the host";
    size_t digits = strspn(colon + 1, "0123456789");
    unsigned long port = digits && digits < 6 ? strtoul(colon + 1, NULL, 10) : 0;
    if (colon[1 + digits] || port < 1 || port > 65535)
        return "the port must be 1..65535";
    return NULL;
}

static const char *check_path(const char *v)
{
    if (*v != '/')
        return "a path starts with '/'";
    for (const char *p = v; *p; p++)
        if (!isgraph((unsigned char)*p))
            return "blank or control character in the path";
    return NULL;
}

static const char *parse_u64(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    size_t digits = strspn(v, "0123456789");
    if (!digits || v[digits])
        return "expected a whole number";
    errno = 0;
    uint64_t x = strtoull(v, NULL, 10);
    if (errno == ERANGE || x < lo || x > hi)
        return hi == UINT64_MAX ? "too large" : "out of range";
    *out = x;
    return NULL;
}

static const char *parse_double(const char *v, double hi, double *out)
{
    if (*v == '-')
        return "must not be negative";
    if (!isdigit((unsigned char)*v) && *v != '.')
        return "expected a number";
    char *end;
    double x = strtod(v, &end);
    if (*end || !isfinite(x))
        return "expected a number";
    if (x > hi)
        return hi == 1 ? "must be between 0 and 1" : "too large";
    *out = x;
    return NULL;
}

static const char *parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                "off", "0"};
    for (size_t i = 0; i < NELEM(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
            *out = strcasecmp(v, yes[i]) == 0;
            return NULL;
        }
    }
    return "expected true or false";
}

static const char *parse_enum(const char *v, const char *const *names, size_t n, int *out)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v, names[i]) == 0) {
            *out = (int)i;
            return NULL;
        }
    }
    return n == 2 ? "expected GET or POST" : "expected echo, work, get or tcp";
}

static const char *copy_str(const char *v, const char *bad, char *dst, size_t size)
{
    if (bad)
        return bad;
    if (strlen(v) >= size)
        return "too long";
    strcpy(dst, v);
    return NULL;
}

static const char *parse_limit(const struct fl__key *k, const char *v, uint32_t *out, char *why,
                               size_t whylen)
{
    uint64_t u, max = k->type == K_CONNS ? FL_SCENARIO_MAX_CONNECTIONS : FL_SCENARIO_MAX_THREADS;
    if (parse_u64(v, 1, max, &u)) {
        snprintf(why, whylen, "must be between 1 and %" PRIu64, max);
        return why;
    }
    *out = (uint32_t)u;
    return NULL;
}

static const char *parse_time_key(const struct fl__key *k, const char *v, uint64_t *out, char *why,
                                  size_t whylen)
{
    uint64_t u;
    if (fl_dist_parse_value(FL_DIST_TIME, v, &u, why, whylen))
        return why;
    if (k->type == K_PTIME && !u)
        return "must be above 0";
    *out = u;
    return NULL;
}

static const char *parse_dist_key(const struct fl__key *k, const char *v, void *base, char *why,
                                  size_t whylen)
{
    struct fl_dist *d = (struct fl_dist *)(void *)((char *)base + k->off);
    if (k->type == K_HOLD_FOR) {
        struct fl_scenario_request *r = base;
        r->hold_for_conn = strcmp(v, "conn") == 0;
        if (r->hold_for_conn)
            return NULL;
    }
    enum fl_dist_unit unit = k->type == K_BYTES   ? FL_DIST_BYTES
                             : k->type == K_TIMES ? FL_DIST_TIME
                                                  : FL_DIST_COUNT;
    return fl_dist_parse(d, unit, v, why, whylen) ? why : NULL;
}

const char *fl__scenario_parse_key(const struct fl__key *k, const char *v, void *base, char *why,
                                   size_t whylen)
{
    static const char *const methods[] = {"GET", "POST"};
    char *f = (char *)base + k->off;
    const char *bad = NULL;
    int e = 0;
    switch (k->type) {
    case K_NAME:
        bad = fl__scenario_valid_name(v) ? NULL : "expected letters, digits, '_', '.', '-'";
        return copy_str(v, bad, f, FL_SCENARIO_NAME_MAX);
    case K_ADDR:
        return copy_str(v, check_addr(v), f, FL_SCENARIO_STR_MAX);
    case K_PATH:
        return copy_str(v, check_path(v), f, FL_SCENARIO_STR_MAX);
    case K_U64:
        return parse_u64(v, 0, UINT64_MAX, (uint64_t *)(void *)f);
    case K_CONNS:
    case K_THREADS:
        return parse_limit(k, v, (uint32_t *)(void *)f, why, whylen);
    case K_RATE:
    case K_WEIGHT:
    case K_FRACTION:
        return parse_double(v, k->type == K_FRACTION ? 1 : 1e9, (double *)(void *)f);
    case K_TIME:
    case K_PTIME:
        return parse_time_key(k, v, (uint64_t *)(void *)f, why, whylen);
    case K_BOOL:
        return parse_bool(v, (bool *)(void *)f);
    case K_HOLD_FOR:
    case K_BYTES:
    case K_COUNT:
    case K_TIMES:
        return parse_dist_key(k, v, base, why, whylen);
    case K_KIND:
        bad = parse_enum(v, fl__scenario_kinds, FL_SCENARIO_NKINDS, &e);
        ((struct fl_scenario_request *)base)->kind = (enum fl_scenario_kind)e;
        return bad;
    case K_METHOD:
        bad = parse_enum(v, methods, NELEM(methods), &e);
        *(bool *)(void *)f = e == 1;
        return bad;
    }
    return "unhandled key type"; /* not reached: the switch is complete */
}

int fl__scenario_key_index(enum fl__sec sec, const char *name)
{
    const struct fl__section *sc = &fl__scenario_sections[sec];
    for (size_t i = 0; i < sc->nkeys; i++) {
        const char *a = sc->keys[i].name, *b = name;
        while (*a && (*a == *b || (*a == '_' && *b == '-')))
            a++, b++;
        if (!*a && !*b)
            return (int)i;
    }
    return -1;
}

/* --- the normalised file ------------------------------------------------ */

static void print_key(FILE *f, const struct fl__key *k, const void *base)
{
    const char *p = (const char *)base + k->off;
    const struct fl_scenario_request *r = base;
    /* A hist may print longer than it was written (1.5s as 1500ms). */
    char v[4 * FL_SCENARIO_STR_MAX] = "";
    switch (k->type) {
    case K_NAME:
    case K_ADDR:
    case K_PATH:
        snprintf(v, sizeof(v), "%s", p);
        break;
    case K_U64:
        snprintf(v, sizeof(v), "%" PRIu64, *(const uint64_t *)(const void *)p);
        break;
    case K_CONNS:
    case K_THREADS:
        snprintf(v, sizeof(v), "%" PRIu32, *(const uint32_t *)(const void *)p);
        break;
    case K_RATE:
    case K_WEIGHT:
    case K_FRACTION:
        snprintf(v, sizeof(v), "%.10g", *(const double *)(const void *)p);
        break;
    case K_TIME:
    case K_PTIME:
        fl_dist_format_value(FL_DIST_TIME, *(const uint64_t *)(const void *)p, v, sizeof(v));
        break;
    case K_BOOL:
        snprintf(v, sizeof(v), "%s", *(const bool *)(const void *)p ? "true" : "false");
        break;
    case K_HOLD_FOR:
        if (r->hold_for_conn) {
            snprintf(v, sizeof(v), "conn");
            break;
        }
        /* fall through */
    case K_BYTES:
    case K_COUNT:
    case K_TIMES:
        fl_dist_format((const struct fl_dist *)(const void *)p, v, sizeof(v));
        break;
    case K_KIND:
        snprintf(v, sizeof(v), "%s", fl__scenario_kinds[r->kind]);
        break;
    case K_METHOD:
        snprintf(v, sizeof(v), "%s", r->post ? "POST" : "GET");
        break;
    }
    if (*v) /* unset strings and distributions stay out */
        fprintf(f, "%s = %s\n", k->name, v);
}

static void print_section(FILE *f, enum fl__sec sec, const char *name, const void *base,
                          unsigned kinds)
{
    const struct fl__section *sc = &fl__scenario_sections[sec];
    fprintf(f, "\n[%s%s%s]\n", sc->word, *name ? " " : "", name);
    for (size_t i = 0; i < sc->nkeys; i++)
        if (sc->keys[i].kinds & kinds)
            print_key(f, &sc->keys[i], base);
}

void fl_scenario_print(FILE *f, const struct fl_scenario *s)
{
    fprintf(f,
            "# fraglab scenario '%s', normalised: defaults written out, shares and weights "
            "summing to 1\n",
            s->name);
    print_section(f, FL__SEC_SCENARIO, "", s, FL__ALL);
    for (size_t i = 0; i < s->nphases; i++)
        print_section(f, FL__SEC_PHASE, s->phases[i].name, &s->phases[i],
                      s->phases[i].idle ? FL__PHASE_IDLE : FL__PHASE_ACTIVE);
    for (size_t i = 0; i < s->npopulations; i++)
        print_section(f, FL__SEC_POPULATION, s->populations[i].name, &s->populations[i], FL__ALL);
    for (size_t i = 0; i < s->nrequests; i++)
        print_section(f, FL__SEC_REQUEST, s->requests[i].name, &s->requests[i],
                      1u << s->requests[i].kind);
}
