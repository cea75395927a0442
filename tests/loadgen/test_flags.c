/* test_flags.c - fraglab-loadgen's flag tables and parser: values land in
 * their fields (long, short, "--flag=value", after a positional), an
 * unknown flag, a missing value, a bad or out-of-range number and an extra
 * argument are refused with one line on stderr, --help and --version stop
 * the command, and --help lists every entry of every table. */
#include "flags.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static const struct fl_lg_command *const commands[] = {
    &fl_lg_run_command, &fl_lg_matrix_command, &fl_lg_report_command, &fl_lg_scenario_command};

/* What the parser wrote to stderr, via a temporary file. */
static char err_text[1024];

static int parse_capturing(const struct fl_lg_command *cmd, int argc, char **argv, void *opts)
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fileno(tmp), 2), 2);
    int rc = fl_lg_flags_parse(cmd, argc, argv, opts);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(err_text, 1, sizeof(err_text) - 1, tmp);
    err_text[n] = '\0';
    fclose(tmp);
    return rc;
}

#define ARGV(...) ((char *[]){__VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
#define PARSE(cmd, opts, ...) parse_capturing(cmd, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), opts)

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* A refusal: -1, one line on stderr naming `named`. */
static void refused(int rc, const char *named)
{
    assert_int_equal(rc, -1);
    assert_int_equal(lines(err_text), 1);
    assert_non_null(strstr(err_text, named));
}

static void test_run_values(void **state)
{
    (void)state;
    struct fl_lg_run_opts o = {0};
    assert_int_equal(PARSE(&fl_lg_run_command, &o, "run", "--scenario", "x.ini", "-d", "5s",
                           "--warmup=1s", "-c", "64", "-t2", "-R", "1500.5", "--path", "/healthz",
                           "--no-sample", "-q", "--idle", "0", "--server-pid", "42"),
                     0);
    assert_string_equal(err_text, "");
    assert_string_equal(o.scenario, "x.ini");
    assert_string_equal(o.duration.text, "5s");
    assert_true(o.duration.n == UINT64_C(5000000000));
    assert_true(o.warmup.n == UINT64_C(1000000000));
    assert_true(o.connections.n == 64);
    assert_true(o.threads.n == 2);
    assert_true(o.rate.x == 1500.5);
    assert_string_equal(o.rate.text, "1500.5");
    assert_string_equal(o.path, "/healthz");
    assert_true(o.no_sample && o.quiet);
    assert_non_null(o.idle.text);
    assert_true(o.idle.n == 0);
    assert_true(o.server_pid.n == 42);
    assert_null(o.target);
    assert_null(o.interval.text);
}

static void test_unknown_flag(void **state)
{
    (void)state;
    struct fl_lg_run_opts o = {0};
    refused(PARSE(&fl_lg_run_command, &o, "run", "--target", "h:1", "--bogus-flag"),
            "--bogus-flag");
    assert_non_null(strstr(err_text, "unknown option"));
    refused(PARSE(&fl_lg_run_command, &o, "run", "-x"), "-x");
    struct fl_lg_matrix_opts m = {0};
    /* -t is run's (event loops), not matrix's. */
    refused(PARSE(&fl_lg_matrix_command, &m, "matrix", "-t", "4"), "-t");
    assert_non_null(strstr(err_text, "fraglab-loadgen matrix:"));
}

static void test_missing_value(void **state)
{
    (void)state;
    struct fl_lg_run_opts o = {0};
    refused(PARSE(&fl_lg_run_command, &o, "run", "--out"), "--out");
    assert_non_null(strstr(err_text, "needs a value"));
    refused(PARSE(&fl_lg_run_command, &o, "run", "-d"), "-d");
    struct fl_lg_matrix_opts m = {0};
    refused(PARSE(&fl_lg_matrix_command, &m, "matrix", "--allocators"), "--allocators");
}

static void test_bad_number(void **state)
{
    (void)state;
    struct fl_lg_run_opts o = {0};
    refused(PARSE(&fl_lg_run_command, &o, "run", "--duration", "5x"), "5x");
    assert_non_null(strstr(err_text, "--duration"));
    refused(PARSE(&fl_lg_run_command, &o, "run", "-c", "0"), "out of range");
    refused(PARSE(&fl_lg_run_command, &o, "run", "--connections", "many"), "many");
    refused(PARSE(&fl_lg_run_command, &o, "run", "--interval", "1ms"), "--interval 1ms");
    refused(PARSE(&fl_lg_run_command, &o, "run", "-R", "-5"), "--rate -5");
    refused(PARSE(&fl_lg_run_command, &o, "run", "-R", "fast"), "fast");
    refused(PARSE(&fl_lg_run_command, &o, "run", "--server-pid", "0"), "--server-pid 0");
    struct fl_lg_matrix_opts m = {0};
    refused(PARSE(&fl_lg_matrix_command, &m, "matrix", "--threads", "300"), "--threads 300");
    refused(PARSE(&fl_lg_matrix_command, &m, "matrix", "--idle", "soon"), "--idle soon");
}

static void test_positional(void **state)
{
    (void)state;
    struct fl_lg_run_opts o = {0};
    refused(PARSE(&fl_lg_run_command, &o, "run", "stray"), "'stray'");
    struct fl_lg_report_opts r = {0};
    assert_int_equal(PARSE(&fl_lg_report_command, &r, "report", "some/dir", "--no-plots"), 0);
    assert_string_equal(r.dir, "some/dir");
    assert_true(r.no_plots);
    r = (struct fl_lg_report_opts){0};
    refused(PARSE(&fl_lg_report_command, &r, "report", "a", "b"), "'b'");
}

/* scenario --from-log: its three values, and no positional argument. */
static void test_scenario_flags(void **state)
{
    (void)state;
    struct fl_lg_scenario_opts o = {0};
    assert_int_equal(PARSE(&fl_lg_scenario_command, &o, "scenario", "--from-log", "a.log",
                           "--format", "json", "--out", "a.ini"),
                     0);
    assert_string_equal(o.from_log, "a.log");
    assert_string_equal(o.format, "json");
    assert_string_equal(o.out, "a.ini");
    o = (struct fl_lg_scenario_opts){0};
    refused(PARSE(&fl_lg_scenario_command, &o, "scenario", "a.log"), "'a.log'");
    refused(PARSE(&fl_lg_scenario_command, &o, "scenario", "--from-log"), "--from-log");
}

/* matrix keeps each flag's text: it forwards them to `run` as given. */
static void test_matrix_forwarding(void **state)
{
    (void)state;
    struct fl_lg_matrix_opts m = {0};
    assert_int_equal(PARSE(&fl_lg_matrix_command, &m, "matrix", "--modes", "tpc", "--allocators",
                           "glibc;jemalloc:dirty_decay_ms:0", "-d", "90s", "--interval", "250ms",
                           "-c", "32", "-R", "100", "--threads", "3", "--server", "/s", "--out",
                           "o", "--scenario", "q.ini", "--idle", "2s"),
                     0);
    assert_string_equal(m.modes, "tpc");
    assert_string_equal(m.allocators, "glibc;jemalloc:dirty_decay_ms:0");
    assert_string_equal(m.duration.text, "90s");
    assert_string_equal(m.interval.text, "250ms");
    assert_string_equal(m.connections.text, "32");
    assert_string_equal(m.rate.text, "100");
    assert_string_equal(m.idle.text, "2s");
    assert_true(m.threads.n == 3);
    assert_string_equal(m.server, "/s");
    assert_string_equal(m.out, "o");
    assert_string_equal(m.scenario, "q.ini");
}

static void test_help_and_version(void **state)
{
    (void)state;
    fflush(stdout);
    int saved = dup(1);
    FILE *devnull = fopen("/dev/null", "w");
    assert_non_null(devnull);
    dup2(fileno(devnull), 1);
    struct fl_lg_run_opts o = {0};
    int help = PARSE(&fl_lg_run_command, &o, "run", "-d", "1s", "--help", "--bogus");
    int version = PARSE(&fl_lg_run_command, &o, "run", "--version");
    struct fl_lg_report_opts r = {0};
    int rhelp = PARSE(&fl_lg_report_command, &r, "report", "-h");
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(devnull);
    assert_int_equal(help, 1);
    assert_int_equal(version, 1);
    assert_int_equal(rhelp, 1);
}

/* --help names every flag of the table, its short form, and its value. */
static void test_help_lists_every_entry(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
        const struct fl_lg_command *cmd = commands[c];
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        assert_non_null(f);
        fl_lg_flags_usage(cmd, f);
        fclose(f);
        assert_true(cmd->nflags > 0);
        for (size_t i = 0; i < cmd->nflags; i++) {
            const struct fl_lg_flag *fl = &cmd->flags[i];
            char want[96];
            snprintf(want, sizeof(want), "--%s%s%s", fl->name, fl->arg[0] ? " " : "", fl->arg);
            assert_non_null(strstr(text, want));
            if (fl->letter) {
                snprintf(want, sizeof(want), "-%c, --%s", fl->letter, fl->name);
                assert_non_null(strstr(text, want));
            }
            /* The first line of its help text follows it. */
            char first[96];
            snprintf(first, sizeof(first), "%.*s", (int)strcspn(fl->help, "\n"), fl->help);
            assert_non_null(strstr(text, first));
        }
        free(text);
    }
}

/* The flags users have today, each in its table (the matrix forwards some
 * of them to `run` by name). */
static void test_tables_hold_todays_flags(void **state)
{
    (void)state;
    static const char *const run[] = {"scenario",     "target",      "echo-target", "duration",
                                      "warmup",       "connections", "threads",     "rate",
                                      "max-requests", "timeout",     "path",        "server-pid",
                                      "no-sample",    "out",         "interval",    "idle",
                                      "quiet",        "help",        "version"};
    static const char *const matrix[] = {
        "scenario", "modes",   "allocators", "duration", "idle", "interval", "connections",
        "rate",     "threads", "server",     "out",      "help", "parallel", "no-headroom-check"};
    static const char *const report[] = {"no-plots", "repeats", "help"};
    static const char *const scenario[] = {"from-log", "format", "out", "help"};
    const char *const *lists[] = {run, matrix, report, scenario};
    size_t sizes[] = {sizeof(run) / sizeof(*run), sizeof(matrix) / sizeof(*matrix),
                      sizeof(report) / sizeof(*report), sizeof(scenario) / sizeof(*scenario)};
    for (size_t c = 0; c < 4; c++) {
        assert_int_equal(commands[c]->nflags, sizes[c]);
        for (size_t k = 0; k < sizes[c]; k++) {
            size_t i = 0;
            while (i < commands[c]->nflags && strcmp(commands[c]->flags[i].name, lists[c][k]))
                i++;
            assert_true(i < commands[c]->nflags);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_values),
        cmocka_unit_test(test_unknown_flag),
        cmocka_unit_test(test_missing_value),
        cmocka_unit_test(test_bad_number),
        cmocka_unit_test(test_positional),
        cmocka_unit_test(test_matrix_forwarding),
        cmocka_unit_test(test_scenario_flags),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_help_lists_every_entry),
        cmocka_unit_test(test_tables_hold_todays_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
