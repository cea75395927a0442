/* test_config.c - fraglab-server settings: table defaults, the INI file over
 * them, flags over the file wherever --config sits, size suffixes, and one
 * single-line error per kind of bad input. argv[1], when given, is the
 * sample config/server.ini, which must load and equal the defaults. */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <ini.h>

#define MAXARGS 16

static const char *sample_ini;
static struct fl_server_config cfg;
static char err[512];

/* fl_config_load on a NULL-terminated list of arguments after argv[0]. */
static enum fl_config_result vload(const char *first, va_list ap)
{
    char *argv[MAXARGS + 2] = {"fraglab-server"};
    int argc = 1;
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        assert_true(argc <= MAXARGS);
        argv[argc++] = (char *)a;
    }
    return fl_config_load(argc, argv, &cfg, err, sizeof(err));
}

static enum fl_config_result load(const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    enum fl_config_result r = vload(first, ap);
    va_end(ap);
    return r;
}

/* Loads, expects FL_CONFIG_ERROR with one line that contains `want`. */
static void load_fails(const char *want, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    err[0] = '\0';
    enum fl_config_result r = vload(first, ap);
    va_end(ap);
    assert_int_equal(r, FL_CONFIG_ERROR);
    if (!strstr(err, want))
        fail_msg("error '%s' does not contain '%s'", err, want);
    assert_null(strchr(err, '\n'));
}

/* Writes `text` to a fresh temporary file; its name goes to `path`. */
static void write_tmp(char *path, size_t len, const char *text)
{
    snprintf(path, len, "/tmp/fl_test_config_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

static void assert_defaults(const struct fl_server_config *c)
{
#define CHECK_STR(name, def) assert_string_equal(c->name, def);
#define CHECK_INT(name, def) assert_int_equal(c->name, def);
#define CHECK_SIZE(name, def) assert_int_equal(c->name, def);
#define CHECK_TIME(name, def) assert_int_equal(c->name, def);
#define X(kind, name, def, help) CHECK_##kind(name, def)
    FL_SERVER_OPTIONS(X)
#undef X
}

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(load(NULL), FL_CONFIG_OK);
    assert_defaults(&cfg);
    assert_string_equal(cfg.config_file, "");
    assert_false(cfg.check);
    assert_string_equal(cfg.mode, "tpc");
    assert_int_equal(cfg.max_body, 1048576);
}

static void test_ini_overrides_defaults(void **state)
{
    (void)state;
    char path[64];
    write_tmp(path, sizeof(path),
              "; top-level keys count as [server]\n"
              "threads = 3\n"
              "[server]\n"
              "  mode = ws ; an inline comment\n"
              "    max-body = 2k\n" /* indented: a key, not a continuation */
              "conn_state_dist = fixed\n"
              "bind = ::1\n");
    assert_int_equal(load("--config", path, NULL), FL_CONFIG_OK);
    assert_int_equal(cfg.threads, 3);
    assert_string_equal(cfg.mode, "ws");
    assert_int_equal(cfg.max_body, 2048);
    assert_string_equal(cfg.conn_state_dist, "fixed");
    assert_string_equal(cfg.bind, "::1");
    assert_int_equal(cfg.port, 8080); /* not in the file: the default */
    assert_string_equal(cfg.config_file, path);
    unlink(path);
}

static void test_flags_override_ini_anywhere(void **state)
{
    (void)state;
    char path[64], eq[80];
    write_tmp(path, sizeof(path), "[server]\nport = 9000\nthreads = 2\n");
    snprintf(eq, sizeof(eq), "--config=%s", path);

    assert_int_equal(load("--port", "7000", "--config", path, NULL), FL_CONFIG_OK);
    assert_int_equal(cfg.port, 7000);
    assert_int_equal(cfg.threads, 2);

    assert_int_equal(load(eq, "--port=7001", NULL), FL_CONFIG_OK);
    assert_int_equal(cfg.port, 7001);
    assert_int_equal(cfg.threads, 2);

    assert_int_equal(load("--config", path, "--check", NULL), FL_CONFIG_OK);
    assert_int_equal(cfg.port, 9000);
    assert_true(cfg.check);
    unlink(path);
}

/* Each call starts from the defaults: nothing leaks from the one before. */
static void test_reload_starts_fresh(void **state)
{
    (void)state;
    assert_int_equal(load("--check", "--mode", "ws", "--echo-port", "9", NULL), FL_CONFIG_OK);
    assert_true(cfg.check);
    assert_int_equal(load(NULL), FL_CONFIG_OK);
    assert_false(cfg.check);
    assert_defaults(&cfg);
}

static void test_size_suffixes(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t want;
    } ok[] = {
        {"0", 0},           {"512", 512},       {"4k", 4096},
        {"4K", 4096},       {"1m", 1048576},    {"3M", 3 * 1048576},
        {"2g", 2147483648}, {"2G", 2147483648}, {"8589934591g", INT64_C(8589934591) << 30},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(load("--max-body", ok[i].in, NULL), FL_CONFIG_OK);
        assert_int_equal(cfg.max_body, ok[i].want);
    }
    static const char *const bad[] = {"", "k", "1x", "1kk", "1 k", "-1", "+1", " 1", "1.5m"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        load_fails("--max-body", "--max-body", bad[i], NULL);
    load_fails("--max-body '1x': expected bytes", "--max-body", "1x", NULL);
    load_fails("--max-body '8589934592g': too large", "--max-body", "8589934592g", NULL);
    /* INT options take no suffix */
    load_fails("--threads '1k': expected a decimal integer", "--threads", "1k", NULL);
}

static void test_time_units(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t want_ms;
    } ok[] = {
        {"0", 0},        {"10", 10000},  {"10s", 10000}, {"250ms", 250}, {"2m", 120000},
        {"1h", 3600000}, {"1.5s", 1500}, {"0.5", 500},   {"2000us", 2},  {"3000000ns", 3},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(load("--header-timeout", ok[i].in, NULL), FL_CONFIG_OK);
        assert_int_equal(cfg.header_timeout, ok[i].want_ms);
    }
    static const char *const bad[] = {"", "s", "1x", "1.5ms", "-1s", "1 s", "1sec", "10ms5", "1."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        load_fails("--send-timeout", "--send-timeout", bad[i], NULL);
    load_fails("--keepalive-timeout '2d': unknown time unit 'd'", "--keepalive-timeout", "2d",
               NULL);
    load_fails("--keepalive-timeout '-1s': a duration cannot be negative", "--keepalive-timeout",
               "-1s", NULL);
    load_fails("--keepalive-timeout '1s5': unexpected '5' after the unit 's'",
               "--keepalive-timeout", "1s5", NULL);
    load_fails("--keepalive-timeout '250us': not a whole number of milliseconds",
               "--keepalive-timeout", "250us", NULL);
    load_fails("--keepalive-timeout '99999999999999999999': too large", "--keepalive-timeout",
               "99999999999999999999", NULL);
    load_fails("--body-timeout 25h: must be between 0s and 24h", "--body-timeout", "25h", NULL);
    load_fails("--max-headers 0: must be between 1", "--max-headers", "0", NULL);
    load_fails("--max-head 32: must be between 64", "--max-head", "32", NULL);
}

static void test_bad_values(void **state)
{
    (void)state;
    load_fails("--mode 'foo': expected one of tpc, ws", "--mode", "foo", NULL);
    load_fails("--free-policy 'mine'", "--free-policy", "mine", NULL);
    load_fails("--conn-state-dist 'normal'", "--conn-state-dist", "normal", NULL);
    load_fails("--threads '12x': expected a decimal integer", "--threads", "12x", NULL);
    load_fails("--port '99999999999999999999': too large", "--port", "99999999999999999999", NULL);
    load_fails("--threads 1025: must be between 0 and 1024", "--threads", "1025", NULL);
    load_fails("--threads -1: must be between 0 and 1024", "--threads", "-1", NULL);
    load_fails("--port 65536: must be between 0 and 65535", "--port", "65536", NULL);
    load_fails("--echo-port 70000", "--echo-port", "70000", NULL);
    load_fails("--echo-port 8080: same as port", "--echo-port", "8080", NULL);
    load_fails("--ring-entries 4: must be between 8", "--ring-entries", "4", NULL);
    load_fails("--ring-entries 65536", "--ring-entries", "65536", NULL);
    load_fails("--ring-entries 100: must be a power of two", "--ring-entries", "100", NULL);
    load_fails("--max-conns 0: must be at least 1", "--max-conns", "0", NULL);
    load_fails("--work-max-burst -1: must be at least 0", "--work-max-burst", "-1", NULL);
    load_fails("--seed -1: must be at least 0", "--seed", "-1", NULL);
    load_fails("--conn-state-min 0: must be at least 1", "--conn-state-min", "0", NULL);
    load_fails("--conn-state-min 32768: greater than conn_state_max 16384", "--conn-state-min",
               "32k", NULL);
    load_fails("--conn-state-min 2048: greater than conn_state_max 1024", "--conn-state-max", "1k",
               "--conn-state-min", "2k", NULL);

    char longval[300];
    memset(longval, 'a', sizeof(longval) - 1);
    longval[sizeof(longval) - 1] = '\0';
    load_fails("--bind: value longer than 255 bytes", "--bind", longval, NULL);
    load_fails("--mode 'a?b'", "--mode", "a\nb", NULL); /* still one line */

    /* the edges are accepted */
    assert_int_equal(load("--ring-entries", "8", "--threads", "1024", "--port", "0",
                          "--conn-state-min", "1k", "--conn-state-max", "1k", NULL),
                     FL_CONFIG_OK);
    assert_int_equal(load("--ring-entries", "32768", "--port", "65535", NULL), FL_CONFIG_OK);
}

/* The mode and free policy are named once; tpc refuses the owner policy it
 * would ignore (and /stats would report as in force). */
static void test_mode_and_policy(void **state)
{
    (void)state;
    assert_int_equal(load(NULL), FL_CONFIG_OK);
    assert_int_equal(cfg.mode_kind, FL_MODE_TPC);
    assert_int_equal(cfg.free_policy_kind, FL_FREE_LOCAL);
    assert_int_equal(cfg.conn_state_dist_kind, FL_STATE_LOGUNIFORM);
    assert_int_equal(load("--conn-state-dist", "uniform", NULL), FL_CONFIG_OK);
    assert_int_equal(cfg.conn_state_dist_kind, FL_STATE_UNIFORM);
    assert_int_equal(load("--conn-state-dist", "fixed", NULL), FL_CONFIG_OK);
    assert_int_equal(cfg.conn_state_dist_kind, FL_STATE_FIXED);
    assert_int_equal(load("--mode", "ws", "--free-policy", "owner", NULL), FL_CONFIG_OK);
    assert_int_equal(cfg.mode_kind, FL_MODE_WS);
    assert_int_equal(cfg.free_policy_kind, FL_FREE_OWNER);
    assert_string_equal(cfg.mode, "ws");
    assert_string_equal(cfg.free_policy, "owner");
    load_fails("--free-policy 'owner': ws mode only", "--mode", "tpc", "--free-policy", "owner",
               NULL);
    load_fails("--free-policy 'owner': ws mode only", "--free-policy", "owner", NULL);
    char path[64];
    write_tmp(path, sizeof(path), "[server]\nfree_policy = owner\n");
    load_fails(": free_policy 'owner': ws mode only", "--config", path, NULL);
    assert_int_equal(load("--config", path, "--mode", "ws", NULL), FL_CONFIG_OK);
    unlink(path);
}

static void test_bad_usage(void **state)
{
    (void)state;
    load_fails("unknown option '--foo'", "--foo", NULL);
    load_fails("unknown option '--foo'", "--port", "1", "--foo=bar", NULL);
    load_fails("unknown option '-x'", "-x", NULL);
    load_fails("ambiguous option '--work-max'", "--work-max", "1", NULL);
    load_fails("unexpected argument 'extra'", "extra", NULL);
    load_fails("unexpected argument 'extra'", "--port", "1", "extra", "--threads", "2", NULL);
    load_fails("unexpected argument 'extra'", "--", "extra", NULL);
    load_fails("option '--port' needs a value", "--threads", "1", "--port", NULL);
    load_fails("option '--check' takes no value", "--check=yes", NULL);
    load_fails("config /nonexistent/fl.ini: No such file or directory", "--config",
               "/nonexistent/fl.ini", NULL);
    load_fails("config /tmp: Is a directory", "--config", "/tmp", NULL);
    assert_string_equal(err, "config /tmp: Is a directory");
}

static void expect_ini_error(const char *text, const char *want_after_path)
{
    char path[64], want[256];
    write_tmp(path, sizeof(path), text);
    snprintf(want, sizeof(want), "%s%s", path, want_after_path);
    load_fails(want, "--config", path, NULL);
    assert_string_equal(err, want);
    unlink(path);
}

static void test_ini_errors(void **state)
{
    (void)state;
    expect_ini_error("[server]\n\nport = 1\nbogus = 2\n", ":4: unknown key 'bogus'");
    expect_ini_error("port = 1\n[client]\nport = 2\n",
                     ":2: unknown section '[client]' (settings go in [server])");
    expect_ini_error("[server]\nthreads = 12x\n", ":2: threads '12x': expected a decimal integer");
    expect_ini_error("[server]\nmode = fast\n", ":2: mode 'fast': expected one of tpc, ws");
    expect_ini_error("[server]\nport = 80\n\nport 81\nbogus = 1\n",
                     ":4: expected 'key = value' or '[section]'");
    expect_ini_error("[server]\nconn_state_min = 4k\nconn_state_max = 1k\n",
                     ":2: conn_state_min 4096: greater than conn_state_max 1024");

    char text[400];
    int n = snprintf(text, sizeof(text), "[server]\nbind = ");
    memset(text + n, 'x', 300);
    snprintf(text + n + 300, sizeof(text) - (size_t)n - 300, "\nport = 1\n");
    char path[64];
    write_tmp(path, sizeof(path), text);
    load_fails(":2: line longer than", "--config", path, NULL);
    unlink(path);
}

/* Runs fl_config_load with stdout in a file; returns what it printed. */
static enum fl_config_result load_capture(const char *arg, char *out, size_t len)
{
    char path[64];
    write_tmp(path, sizeof(path), "");
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), fd = open(path, O_WRONLY);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDOUT_FILENO);
    enum fl_config_result rc = load("--port", "junk", arg, "--bogus", NULL);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(fd);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
    unlink(path);
    return rc;
}

/* --help and --version act where they stand, before values are checked. */
static void test_help_and_version(void **state)
{
    (void)state;
    static char out[16384];
    assert_int_equal(load_capture("--help", out, sizeof(out)), FL_CONFIG_EXIT_OK);
    assert_non_null(strstr(out, "usage: fraglab-server"));
    assert_int_equal(load_capture("--version", out, sizeof(out)), FL_CONFIG_EXIT_OK);
    assert_int_equal(strncmp(out, "fraglab-server ", 15), 0);
}

/* --help, as a user asks for it, lists every option of the table. */
static void test_usage_lists_every_option(void **state)
{
    (void)state;
    static char text[65536];
    assert_int_equal(load_capture("--help", text, sizeof(text)), FL_CONFIG_EXIT_OK);
    assert_true(strlen(text) < sizeof(text) - 1); /* all of it */
    char flag[64];
#define X(kind, name, def, help)                                                                   \
    snprintf(flag, sizeof(flag), "--%s ", #name);                                                  \
    for (char *p = flag; *p; p++)                                                                  \
        if (*p == '_')                                                                             \
            *p = '-';                                                                              \
    if (!strstr(text, flag))                                                                       \
        fail_msg("--help lacks %s", flag);                                                         \
    if (!strstr(text, help))                                                                       \
        fail_msg("--help lacks the help of %s", flag);
    FL_SERVER_OPTIONS(X)
#undef X
    assert_non_null(strstr(text, "--max-body BYTES"));
    assert_non_null(strstr(text, "(default: 1m)"));
    assert_non_null(strstr(text, "(default: loguniform)"));
    assert_non_null(strstr(text, "--config FILE"));
    assert_non_null(strstr(text, "--check"));
    assert_non_null(strstr(text, "--version"));
}

static int count_key_cb(void *user, const char *section, const char *name, const char *value)
{
    (void)section;
    (void)value;
    char *seen = user;
    int i = 0;
#define X(kind, key, def, help)                                                                    \
    if (strcmp(name, #key) == 0)                                                                   \
        seen[i]++;                                                                                 \
    i++;
    FL_SERVER_OPTIONS(X)
#undef X
    return 1;
}

/* The sample file is documentation: it must name every key, once, at its
 * default, so it cannot drift from the table. */
static void test_sample_ini(void **state)
{
    (void)state;
    if (!sample_ini)
        skip();
    assert_int_equal(load("--config", sample_ini, NULL), FL_CONFIG_OK);
    assert_defaults(&cfg);
    char seen[64] = {0};
    assert_int_equal(ini_parse(sample_ini, count_key_cb, seen), 0);
    int i = 0;
#define X(kind, name, def, help)                                                                   \
    if (seen[i++] != 1)                                                                            \
        fail_msg("config/server.ini has %s %d times", #name, seen[i - 1]);
    FL_SERVER_OPTIONS(X)
#undef X
}

int main(int argc, char **argv)
{
    sample_ini = argc > 1 ? argv[1] : NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_ini_overrides_defaults),
        cmocka_unit_test(test_flags_override_ini_anywhere),
        cmocka_unit_test(test_reload_starts_fresh),
        cmocka_unit_test(test_size_suffixes),
        cmocka_unit_test(test_time_units),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_mode_and_policy),
        cmocka_unit_test(test_bad_usage),
        cmocka_unit_test(test_ini_errors),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_usage_lists_every_option),
        cmocka_unit_test(test_sample_ini),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
