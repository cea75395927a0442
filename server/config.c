/* config.c - fraglab-server settings: defaults, then --config FILE, then
 * flags, all driven by the one table FL_SERVER_OPTIONS.
 *
 * Precedence does not depend on where --config sits on the command line: a
 * first getopt pass only looks for --config, --check, --help and --version
 * (and rejects bad usage), the file is read, and a second pass applies the
 * flags over it. Every value remembers where it came from, so a value that
 * fails validation is named the way the user wrote it: "--port 70000" or
 * "server.ini:4: port 70000". getopt's globals are the only shared state. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "fl_ini.h"

#ifndef FRAGLAB_VERSION
#define FRAGLAB_VERSION "0"
#endif

enum kind { K_STR, K_INT, K_SIZE, K_TIME };

struct opt {
    const char *name; /* struct field and INI key; the flag has '-' for '_' */
    enum kind kind;
    size_t off;
    size_t size; /* of the field: a STR holds at most size - 1 bytes */
    const char *def_str;
    int64_t def_num;
    const char *help;
};

#define FIELD_SIZE(name) sizeof(((struct fl_server_config *)0)->name)
#define OPT(k, name, ds, dn, help)                                                                 \
    {#name, k, offsetof(struct fl_server_config, name), FIELD_SIZE(name), ds, dn, help},
#define OPT_STR(name, def, help) OPT(K_STR, name, def, 0, help)
#define OPT_INT(name, def, help) OPT(K_INT, name, NULL, def, help)
#define OPT_SIZE(name, def, help) OPT(K_SIZE, name, NULL, def, help)
#define OPT_TIME(name, def, help) OPT(K_TIME, name, NULL, def, help)
#define X(kind, name, def, help) OPT_##kind(name, def, help)
static const struct opt opts[] = {FL_SERVER_OPTIONS(X)};
#undef X

/* Flag names are built at run time into fixed buffers of this size. */
#define NAME_LEN 48
#define X(kind, name, def, help) _Static_assert(sizeof(#name) <= NAME_LEN, "long name: " #name);
FL_SERVER_OPTIONS(X)
#undef X

enum {
    NOPT = sizeof(opts) / sizeof(opts[0]),
    /* getopt values: table options are VAL_OPT + index, above any char */
    VAL_OPT = 0x100,
    VAL_CONFIG = VAL_OPT + NOPT,
    VAL_CHECK,
    VAL_HELP,
    VAL_VERSION,
    NEXTRA = VAL_VERSION - VAL_CONFIG + 1,
};

/* Where a value came from: 0 the default, a flag, or a line of the file. */
#define FROM_FLAG (-1)

static const struct {
    struct option o;
    const char *arg, *help;
} extras[NEXTRA] = {
    {{"config", required_argument, NULL, VAL_CONFIG}, "FILE", "read settings from an INI file"},
    {{"check", no_argument, NULL, VAL_CHECK}, "", "print the allocator in use, then exit"},
    {{"help", no_argument, NULL, VAL_HELP}, "", "print this help, then exit"},
    {{"version", no_argument, NULL, VAL_VERSION}, "", "print the version, then exit"},
};

struct loader {
    struct fl_server_config *c;
    char *err;
    size_t errlen;
    int origin[NOPT];
    char flags[NOPT][NAME_LEN];
    struct option longopts[NOPT + NEXTRA + 1];
};

#define FMT(a, b) __attribute__((format(printf, a, b)))

static void usage(FILE *f);

/* The caller prints err as one line: keep a value's control characters
 * (a newline in a flag's argument) out of it. */
static void one_line(char *err)
{
    for (; *err; err++)
        if (iscntrl((unsigned char)*err))
            *err = '?';
}

FMT(3, 0) static void put_err(struct loader *ld, const char *prefix, const char *fmt, va_list ap)
{
    if (!ld->errlen)
        return;
    int n = snprintf(ld->err, ld->errlen, "%s", prefix);
    if (n >= 0 && (size_t)n < ld->errlen)
        vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
    one_line(ld->err);
}

FMT(2, 3) static enum fl_config_result fail(struct loader *ld, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    put_err(ld, "", fmt, ap);
    va_end(ap);
    return FL_CONFIG_ERROR;
}

/* Like fail, prefixed with the option as the user wrote it. */
FMT(3, 4) static enum fl_config_result fail_opt(struct loader *ld, int i, const char *fmt, ...)
{
    char where[sizeof(ld->c->config_file) + NAME_LEN + 16];
    if (ld->origin[i] == FROM_FLAG)
        snprintf(where, sizeof(where), "--%s", ld->flags[i]);
    else if (ld->origin[i] > 0)
        snprintf(where, sizeof(where), "%s:%d: %s", ld->c->config_file, ld->origin[i],
                 opts[i].name);
    else
        snprintf(where, sizeof(where), "%s", opts[i].name);
    va_list ap;
    va_start(ap, fmt);
    put_err(ld, where, fmt, ap);
    va_end(ap);
    return FL_CONFIG_ERROR;
}

static int64_t *num_field(struct fl_server_config *c, int i)
{
    return (int64_t *)(void *)((char *)c + opts[i].off);
}

static int64_t num(const struct fl_server_config *c, int i)
{
    return *(const int64_t *)(const void *)((const char *)c + opts[i].off);
}

static const char *str(const struct fl_server_config *c, int i)
{
    return (const char *)c + opts[i].off;
}

static void set_defaults(struct fl_server_config *c)
{
    memset(c, 0, sizeof(*c));
    for (int i = 0; i < NOPT; i++) {
        if (opts[i].kind == K_STR)
            snprintf((char *)c + opts[i].off, opts[i].size, "%s", opts[i].def_str);
        else
            *num_field(c, i) = opts[i].def_num;
    }
}

/* Returns NULL, or why `s` is not a decimal int64. Only "-?[0-9]+":
 * strtoll alone would also take spaces, '+' and trailing junk. */
static const char *parse_int(const char *s, int64_t *out)
{
    if (!isdigit((unsigned char)s[*s == '-']))
        return "expected a decimal integer";
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end)
        return "expected a decimal integer";
    if (errno == ERANGE)
        return "too large";
    *out = v;
    return NULL;
}

/* Returns NULL, or why `s` is not a byte count: digits, then optionally
 * one of k/K, m/M, g/G (KiB, MiB, GiB). Never negative. */
static const char *parse_size(const char *s, int64_t *out)
{
    static const char bad[] = "expected bytes, optionally with a k, m or g suffix";
    static const char sfx[] = "kKmMgG";
    if (!isdigit((unsigned char)*s))
        return bad;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    int shift = 0;
    if (*end) {
        const char *p = strchr(sfx, *end);
        if (!p || end[1])
            return bad;
        shift = 10 * (int)(1 + (p - sfx) / 2);
    }
    if (errno == ERANGE || v > (INT64_MAX >> shift))
        return "too large";
    *out = (int64_t)v << shift;
    return NULL;
}

/* Returns NULL, or why `s` is not a duration (common/duration.h: a bare
 * number is seconds). Stored in milliseconds, so a finer one is refused. */
static const char *parse_time(const char *s, int64_t *out, char *why, size_t whylen)
{
    uint64_t ns;
    if (fl_duration_parse(s, &ns, why, whylen))
        return why;
    if (ns % 1000000) {
        snprintf(why, whylen, "not a whole number of milliseconds");
        return why;
    }
    *out = (int64_t)(ns / 1000000);
    return NULL;
}

/* A duration the way a user would write it: 10000 ms is "10s". */
static void fmt_time(char *buf, size_t len, int64_t ms)
{
    if (ms && ms % 3600000 == 0)
        snprintf(buf, len, "%" PRId64 "h", ms / 3600000);
    else if (ms && ms % 60000 == 0)
        snprintf(buf, len, "%" PRId64 "m", ms / 60000);
    else if (ms % 1000 == 0)
        snprintf(buf, len, "%" PRId64 "s", ms / 1000);
    else
        snprintf(buf, len, "%" PRId64 "ms", ms);
}

static enum fl_config_result set_value(struct loader *ld, int i, const char *v, int from)
{
    const struct opt *o = &opts[i];
    ld->origin[i] = from;
    if (o->kind == K_STR) {
        size_t n = strlen(v);
        if (n >= o->size)
            return fail_opt(ld, i, ": value longer than %zu bytes", o->size - 1);
        memcpy((char *)ld->c + o->off, v, n + 1);
        return FL_CONFIG_OK;
    }
    int64_t x = 0;
    char buf[160];
    const char *why = o->kind == K_INT    ? parse_int(v, &x)
                      : o->kind == K_TIME ? parse_time(v, &x, buf, sizeof(buf))
                                          : parse_size(v, &x);
    if (why)
        return fail_opt(ld, i, " '%s': %s", v, why);
    *num_field(ld->c, i) = x;
    return FL_CONFIG_OK;
}

/* --- validation ---------------------------------------------------------- */

#define OFF(field) offsetof(struct fl_server_config, field)

/* Numbers are never negative (counts, sizes, caps, ports, the seed);
 * these have tighter bounds. */
static const struct {
    size_t off;
    int64_t min, max;
} ranges[] = {
    {OFF(threads), 0, 1024},
    {OFF(port), 0, 65535},
    {OFF(echo_port), 0, 65535},
    {OFF(ring_entries), 8, 32768},
    {OFF(max_conns), 1, INT64_MAX},
    /* a request line or head too small for "GET / HTTP/1.1" would refuse all */
    {OFF(max_request_line), 16, UINT32_MAX},
    {OFF(max_header_field), 16, UINT32_MAX},
    {OFF(max_head), 64, UINT32_MAX},
    {OFF(max_headers), 1, 65535}, /* counted in 16 bits */
    /* a linked timeout takes seconds and nanoseconds; a day is plenty */
    {OFF(header_timeout), 0, 86400000},
    {OFF(body_timeout), 0, 86400000},
    {OFF(keepalive_timeout), 0, 86400000},
    {OFF(send_timeout), 0, 86400000},
    {OFF(conn_state_min), 1, INT64_MAX},
    {OFF(conn_state_max), 1, INT64_MAX},
};

/* In the order of enum fl_mode, enum fl_free_policy and enum fl_state_dist
 * (validate_runtime reads them by position). */
static const struct {
    size_t off;
    const char *choices[4]; /* NULL-terminated */
} enums[] = {
    {OFF(mode), {"tpc", "ws", NULL}},
    {OFF(free_policy), {"local", "owner", NULL}},
    {OFF(conn_state_dist), {"fixed", "uniform", "loguniform", NULL}},
};

static int index_of(size_t off)
{
    for (int i = 0; i < NOPT; i++)
        if (opts[i].off == off)
            return i;
    abort(); /* a validation table names a field the options table lacks */
}

/* The value's index in enums[e].choices (what the fl_mode and
 * fl_free_policy enums number), or -1 with the error set. */
static int check_enum(struct loader *ld, size_t e)
{
    int i = index_of(enums[e].off);
    const char *const *ch = enums[e].choices;
    char list[128] = "";
    for (size_t k = 0; ch[k]; k++) {
        if (strcmp(str(ld->c, i), ch[k]) == 0)
            return (int)k;
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", k ? ", " : "", ch[k]);
    }
    fail_opt(ld, i, " '%s': expected one of %s", str(ld->c, i), list);
    return -1;
}

static enum fl_config_result check_range(struct loader *ld, int i)
{
    int64_t v = num(ld->c, i), lo = 0, hi = INT64_MAX;
    for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++)
        if (ranges[r].off == opts[i].off) {
            lo = ranges[r].min;
            hi = ranges[r].max;
        }
    if (v >= lo && v <= hi)
        return FL_CONFIG_OK;
    if (opts[i].kind == K_TIME) {
        char x[32], a[32], b[32];
        fmt_time(x, sizeof(x), v);
        fmt_time(a, sizeof(a), lo);
        fmt_time(b, sizeof(b), hi);
        return fail_opt(ld, i, " %s: must be between %s and %s", x, a, b);
    }
    if (hi == INT64_MAX)
        return fail_opt(ld, i, " %" PRId64 ": must be at least %" PRId64, v, lo);
    return fail_opt(ld, i, " %" PRId64 ": must be between %" PRId64 " and %" PRId64, v, lo, hi);
}

/* Names the mode, free policy and state distribution once; refuses what tpc would ignore. */
static enum fl_config_result validate_runtime(struct loader *ld)
{
    struct fl_server_config *c = ld->c;
    int k[sizeof(enums) / sizeof(enums[0])];
    for (size_t e = 0; e < sizeof(enums) / sizeof(enums[0]); e++)
        if ((k[e] = check_enum(ld, e)) < 0)
            return FL_CONFIG_ERROR;
    c->mode_kind = (enum fl_mode)k[0];
    c->free_policy_kind = (enum fl_free_policy)k[1];
    c->conn_state_dist_kind = (enum fl_state_dist)k[2];
    /* tpc frees every buffer on the thread that allocated it: there is no
     * owner to return one to, and /stats would report a policy not in force. */
    if (c->mode_kind == FL_MODE_TPC && c->free_policy_kind == FL_FREE_OWNER)
        return fail_opt(ld, index_of(OFF(free_policy)),
                        " 'owner': ws mode only (tpc frees every buffer where it was allocated); "
                        "use --mode ws or --free-policy local");
    return FL_CONFIG_OK;
}

static enum fl_config_result validate(struct loader *ld)
{
    const struct fl_server_config *c = ld->c;
    if (validate_runtime(ld) != FL_CONFIG_OK)
        return FL_CONFIG_ERROR;
    for (int i = 0; i < NOPT; i++)
        if (opts[i].kind != K_STR && check_range(ld, i) != FL_CONFIG_OK)
            return FL_CONFIG_ERROR;
    /* io_uring rounds the SQ size up to a power of two: insist on one, so
     * the figure in /stats is the one in force. */
    if (c->ring_entries & (c->ring_entries - 1))
        return fail_opt(ld, index_of(OFF(ring_entries)),
                        " %" PRId64 ": must be a power of two between 8 and 32768",
                        c->ring_entries);
    if (c->conn_state_min > c->conn_state_max)
        return fail_opt(ld, index_of(OFF(conn_state_min)),
                        " %" PRId64 ": greater than conn_state_max %" PRId64, c->conn_state_min,
                        c->conn_state_max);
    /* With SO_REUSEPORT both listeners would bind the same port and split
     * its connections between HTTP and echo without an error. */
    if (c->echo_port && c->echo_port == c->port)
        return fail_opt(ld, index_of(OFF(echo_port)), " %" PRId64 ": same as port", c->echo_port);
    return FL_CONFIG_OK;
}

/* --- the INI file -------------------------------------------------------- */

/* Finds a table option by INI key, which may spell '_' as '-'. */
static int find_key(const char *key)
{
    for (int i = 0; i < NOPT; i++) {
        const char *a = opts[i].name, *b = key;
        while (*a && (*a == *b || (*a == '_' && *b == '-'))) {
            a++;
            b++;
        }
        if (!*a && !*b)
            return i;
    }
    return -1;
}

static int section_cb(void *user, const char *name, int line)
{
    struct loader *ld = user;
    if (strcmp(name, "server") != 0)
        return fl_ini_error(ld->err, ld->errlen, ld->c->config_file, line,
                            "unknown section '[%s]' (settings go in [server])", name);
    return 0;
}

static int key_cb(void *user, const char *key, const char *value, int line)
{
    struct loader *ld = user;
    int i = find_key(key);
    if (i < 0)
        return fl_ini_error(ld->err, ld->errlen, ld->c->config_file, line, "unknown key '%s'", key);
    return set_value(ld, i, value, line) == FL_CONFIG_OK ? 0 : -EINVAL;
}

/* The file's lines go through the one INI reader (common/fl_ini.h); a file
 * that cannot be opened or read is named as the config. */
static enum fl_config_result load_file(struct loader *ld)
{
    static const struct fl_ini_handlers h = {.section_cb = section_cb, .key_cb = key_cb};
    const char *path = ld->c->config_file;
    int rc = fl_ini_parse(path, &h, ld, ld->err, ld->errlen);
    if (rc == 0)
        return FL_CONFIG_OK;
    if (rc == -EINVAL)
        return FL_CONFIG_ERROR;
    return fail(ld, "config %s: %s", path, strerror(-rc));
}

/* --- flags --------------------------------------------------------------- */

static void build_longopts(struct loader *ld)
{
    for (int i = 0; i < NOPT; i++) {
        char *f = ld->flags[i];
        snprintf(f, NAME_LEN, "%s", opts[i].name);
        for (; *f; f++)
            if (*f == '_')
                *f = '-';
        ld->longopts[i] = (struct option){ld->flags[i], required_argument, NULL, VAL_OPT + i};
    }
    for (int k = 0; k < NEXTRA; k++)
        ld->longopts[NOPT + k] = extras[k].o;
    ld->longopts[NOPT + NEXTRA] = (struct option){0};
}

/* "+" stops at the first non-option and so never permutes argv (main
 * re-executes itself with it); ":" reports a missing value apart from an
 * unknown option. */
static int next_flag(struct loader *ld, int argc, char **argv)
{
    return getopt_long(argc, argv, "+:", ld->longopts, NULL);
}

static enum fl_config_result bad_flag(struct loader *ld, int v, char **argv)
{
    if (v == ':')
        return fail(ld, "option '%s' needs a value", argv[optind - 1]);
    if (optopt >= VAL_OPT) {
        const char *name = ld->longopts[optopt - VAL_OPT].name;
        return fail(ld, "option '--%s' takes no value", name);
    }
    if (optopt)
        return fail(ld, "unknown option '-%c'", optopt);
    /* An unknown long option: glibc has already stepped past it. */
    const char *tok = argv[optind - 1];
    size_t len = strcspn(tok, "="), hits = 0;
    for (int i = 0; i < NOPT + NEXTRA; i++)
        hits += len > 2 && strncmp(ld->longopts[i].name, tok + 2, len - 2) == 0;
    return fail(ld, "%s option '%.*s'", hits > 1 ? "ambiguous" : "unknown", (int)len, tok);
}

/* First pass: everything but the table options' values. */
static enum fl_config_result scan_flags(struct loader *ld, int argc, char **argv)
{
    optind = 0; /* glibc: a full reset, so fl_config_load can run again */
    opterr = 0;
    for (int v; (v = next_flag(ld, argc, argv)) != -1;) {
        switch (v) {
        case VAL_CONFIG:
            if (strlen(optarg) >= sizeof(ld->c->config_file))
                return fail(ld, "--config: path longer than %zu bytes",
                            sizeof(ld->c->config_file) - 1);
            strcpy(ld->c->config_file, optarg);
            break;
        case VAL_CHECK:
            ld->c->check = true;
            break;
        case VAL_HELP:
            usage(stdout);
            return FL_CONFIG_EXIT_OK;
        case VAL_VERSION:
            printf("fraglab-server %s\n", FRAGLAB_VERSION);
            return FL_CONFIG_EXIT_OK;
        case '?':
        case ':':
            return bad_flag(ld, v, argv);
        }
    }
    if (optind < argc)
        return fail(ld, "unexpected argument '%s'", argv[optind]);
    return FL_CONFIG_OK;
}

/* Second pass, after the file: the table options' values. */
static enum fl_config_result apply_flags(struct loader *ld, int argc, char **argv)
{
    optind = 0;
    opterr = 0;
    for (int v; (v = next_flag(ld, argc, argv)) != -1;)
        if (v >= VAL_OPT && v < VAL_OPT + NOPT)
            if (set_value(ld, v - VAL_OPT, optarg, FROM_FLAG) != FL_CONFIG_OK)
                return FL_CONFIG_ERROR;
    return FL_CONFIG_OK;
}

enum fl_config_result fl_config_load(int argc, char **argv, struct fl_server_config *c, char *err,
                                     size_t errlen)
{
    struct loader ld = {.c = c, .err = err, .errlen = errlen};
    if (errlen)
        err[0] = '\0';
    set_defaults(c);
    build_longopts(&ld);
    enum fl_config_result rc = scan_flags(&ld, argc, argv);
    if (rc == FL_CONFIG_OK && c->config_file[0])
        rc = load_file(&ld);
    if (rc == FL_CONFIG_OK)
        rc = apply_flags(&ld, argc, argv);
    if (rc == FL_CONFIG_OK)
        rc = validate(&ld);
    return rc;
}

/* --- output -------------------------------------------------------------- */

/* A size the way a user would write it: 1048576 is "1m". */
static void fmt_size(char *buf, size_t len, int64_t v)
{
    static const char sfx[] = "gmk";
    for (int k = 0; k < 3; k++) {
        int64_t unit = INT64_C(1) << (10 * (3 - k));
        if (v && v % unit == 0) {
            snprintf(buf, len, "%" PRId64 "%c", v / unit, sfx[k]);
            return;
        }
    }
    snprintf(buf, len, "%" PRId64, v);
}

static void usage_line(FILE *f, int width, const char *name, const char *arg, const char *help,
                       const char *def)
{
    char left[NAME_LEN + 16];
    snprintf(left, sizeof(left), "--%s%s%s", name, *arg ? " " : "", arg);
    fprintf(f, "  %-*s  %s", width, left, help);
    if (def)
        fprintf(f, " (default: %s)", def);
    fputc('\n', f);
}

/* Prints --help: every option with its default and help text. */
static void usage(FILE *f)
{
    static const char *const arg[] = {
        [K_STR] = "VALUE", [K_INT] = "N", [K_SIZE] = "BYTES", [K_TIME] = "TIME"};
    struct loader ld = {0};
    build_longopts(&ld);
    int width = 0;
    for (int i = 0; i < NOPT + NEXTRA; i++) {
        const char *a = i < NOPT ? arg[opts[i].kind] : extras[i - NOPT].arg;
        int w = (int)(strlen(ld.longopts[i].name) + strlen(a)) + 3;
        width = w > width ? w : width;
    }
    fprintf(f, "usage: fraglab-server [--config FILE] [--OPTION VALUE]... [--check]\n\n"
               "Every option is also a key of the --config file (in [server]); flags win over\n"
               "the file. BYTES take a k, m or g suffix (KiB, MiB, GiB); TIME a unit ns, us,\n"
               "ms, s, m or h and may have a fraction (1.5s); a bare number is seconds.\n\n");
    for (int i = 0; i < NOPT; i++) {
        char def[32];
        if (opts[i].kind == K_SIZE)
            fmt_size(def, sizeof(def), opts[i].def_num);
        else if (opts[i].kind == K_TIME)
            fmt_time(def, sizeof(def), opts[i].def_num);
        else if (opts[i].kind == K_INT)
            snprintf(def, sizeof(def), "%" PRId64, opts[i].def_num);
        usage_line(f, width, ld.flags[i], arg[opts[i].kind], opts[i].help,
                   opts[i].kind == K_STR ? opts[i].def_str : def);
    }
    for (int k = 0; k < NEXTRA; k++)
        usage_line(f, width, extras[k].o.name, extras[k].arg, extras[k].help, NULL);
}
