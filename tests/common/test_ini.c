/* test_ini.c - the one INI reader (common/fl_ini.h): what the callbacks
 * see (sections, keys, values, lines), what is stripped, and every error
 * as one line "FILE:LINE: what", or "FILE: why" when the file fails. */
#include "fl_ini.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char path[64], err[512], seen[2048];

static int section_cb(void *user, const char *name, int line)
{
    (void)user;
    snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "%d[%s]", line, name);
    return 0;
}

static int key_cb(void *user, const char *key, const char *value, int line)
{
    if (user && strcmp(key, user) == 0)
        return fl_ini_error(err, sizeof(err), path, line, "refused '%s'", value);
    snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "%d%s=%s;", line, key, value);
    return 0;
}

static int parse(const char *text, void *user)
{
    snprintf(path, sizeof(path), "/tmp/fl_test_ini_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    static const struct fl_ini_handlers h = {.section_cb = section_cb, .key_cb = key_cb};
    seen[0] = '\0';
    memset(err, 'x', sizeof(err));
    int rc = fl_ini_parse(path, &h, user, err, sizeof(err));
    unlink(path);
    return rc;
}

static void test_lines(void **state)
{
    (void)state;
    assert_int_equal(parse("\xEF\xBB\xBF; top\r\n"
                           "a = 1\n"
                           "  [ one two ]   # spaced\n"
                           "\tb: x=y # note\n"
                           "c = p#q;r ; note\n"
                           "#d = 4\n"
                           "\n"
                           "[s]\n"
                           "[s]\n"
                           "e =\n",
                           NULL),
                     0);
    assert_string_equal(err, "");
    /* indented keys are keys; comments need a blank before them; every
     * header is seen, empty and repeated ones too */
    assert_string_equal(seen, "2a=1;3[one two]4b=x=y;5c=p#q;r;8[s]9[s]10e=;");
}

static void assert_error(const char *text, const char *want_after_path, void *user)
{
    assert_int_equal(parse(text, user), -EINVAL);
    char want[256];
    snprintf(want, sizeof(want), "%s%s", path, want_after_path);
    assert_string_equal(err, want);
}

static void test_errors(void **state)
{
    (void)state;
    assert_error("a = 1\nwords\nb = 2\n", ":2: expected 'key = value' or '[section]'", NULL);
    assert_error("[s\n", ":1: section header without ']'", NULL);
    assert_error("\n[s] x\n", ":2: text after ']'", NULL);
    assert_error("a = 1\nb = \x01\x7f\n", ":2: refused '?\?'", "b"); /* one line */
    assert_string_equal(seen, "1a=1;");                              /* stopped there */
    char text[512];
    int n = snprintf(text, sizeof(text), "a = 1\nb = ");
    memset(text + n, 'v', FL_INI_LINE_MAX - 4); /* "b = " + this: exactly the limit */
    snprintf(text + n + FL_INI_LINE_MAX - 4, sizeof(text) - (size_t)n - FL_INI_LINE_MAX + 4,
             "\nc = 3\n");
    assert_int_equal(parse(text, NULL), 0);
    n = snprintf(text, sizeof(text), "a = 1\nb = ");
    memset(text + n, 'v', FL_INI_LINE_MAX - 3);
    snprintf(text + n + FL_INI_LINE_MAX - 3, sizeof(text) - (size_t)n - FL_INI_LINE_MAX + 3,
             "\nc = 3\n");
    assert_error(text, ":2: line longer than 199 characters", NULL);
}

static void test_file_errors(void **state)
{
    (void)state;
    static const struct fl_ini_handlers h = {.section_cb = section_cb, .key_cb = key_cb};
    assert_int_equal(fl_ini_parse("/nonexistent/x.ini", &h, NULL, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "/nonexistent/x.ini: No such file or directory");
    assert_int_equal(fl_ini_parse("/tmp", &h, NULL, err, sizeof(err)), -EISDIR);
    assert_string_equal(err, "/tmp: Is a directory");
    assert_int_equal(fl_ini_parse("/tmp", &h, NULL, NULL, 0), -EISDIR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
