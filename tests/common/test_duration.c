/* test_duration.c - the one duration grammar (common/duration.h): every
 * unit, a bare number as seconds, exact fractions, and each error with its
 * reason: empty, a sign, junk after the number or the unit, overflow. */
#include "duration.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define MS UINT64_C(1000000)
#define SEC UINT64_C(1000000000)

static void test_units(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        uint64_t ns;
    } ok[] = {
        {"0", 0},
        {"30", 30 * SEC}, /* a bare number is seconds, as nginx and wrk read it */
        {"7ns", 7},
        {"250us", 250000},
        {"250ms", 250 * MS},
        {"30s", 30 * SEC},
        {"5m", 300 * SEC},
        {"4h", 14400 * SEC},
        {"0s", 0},
        {"007s", 7 * SEC},
        {"1.5s", 1500 * MS},
        {"0.3s", 300 * MS}, /* exact: a double would give 299999999 ns */
        {"0.5", 500 * MS},
        {"1.25ms", 1250000},
        {"0.0004us", 0},                          /* rounded to the nearest ns... */
        {"0.0006us", 1},                          /* ...both ways */
        {"1.5ns", 2},                             /* half away from zero */
        {"2.000000000000000000000001s", 2 * SEC}, /* digits past 18 cannot matter */
        {"9223372036854775807ns", UINT64_C(9223372036854775807)},
        {"2562047h", UINT64_C(2562047) * 3600 * SEC},
    };
    char why[160];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t v = 12345;
        if (fl_duration_parse(ok[i].in, &v, why, sizeof(why)))
            fail_msg("'%s': %s", ok[i].in, why);
        if (v != ok[i].ns)
            fail_msg("'%s': %llu ns, not %llu", ok[i].in, (unsigned long long)v,
                     (unsigned long long)ok[i].ns);
    }
}

static void assert_bad(const char *in, int rc, const char *what)
{
    char why[160] = "";
    uint64_t v = 12345;
    if (fl_duration_parse(in, &v, why, sizeof(why)) != rc)
        fail_msg("'%s': not refused with %d", in, rc);
    if (!strstr(why, what))
        fail_msg("'%s': '%s' lacks '%s'", in, why, what);
    assert_int_equal(v, 12345); /* untouched */
}

static void test_errors(void **state)
{
    (void)state;
    assert_bad("", -EINVAL, "empty duration");
    assert_bad("-1s", -EINVAL, "cannot be negative");
    assert_bad("-0", -EINVAL, "cannot be negative");
    assert_bad("+1s", -EINVAL, "expected a duration");
    assert_bad("s", -EINVAL, "expected a duration");
    assert_bad(" 1s", -EINVAL, "expected a duration");
    assert_bad(".5s", -EINVAL, "expected a duration");
    assert_bad("1.s", -EINVAL, "expected digits after '.'");
    assert_bad("1x", -EINVAL, "unknown time unit 'x'");
    assert_bad("31d", -EINVAL, "unknown time unit 'd'");
    assert_bad("1sec", -EINVAL, "unknown time unit 'sec'");
    assert_bad("1S", -EINVAL, "unknown time unit 'S'"); /* "M" would be ambiguous */
    assert_bad("10ms5", -EINVAL, "unexpected '5' after the unit 'ms'");
    assert_bad("1s ", -EINVAL, "unexpected ' ' after the unit 's'");
    assert_bad("1 s", -EINVAL, "unexpected ' s' after the number");
    assert_bad("1e3s", -EINVAL, "unknown time unit 'e'");
    assert_bad("0x10", -EINVAL, "unknown time unit 'x'");
    assert_bad("9223372036854775808ns", -ERANGE, "too large");
    assert_bad("2562048h", -ERANGE, "too large");
    assert_bad("99999999999999999999999999999999s", -ERANGE, "too large");
    assert_bad("9223372036854775807.9ns", -ERANGE, "too large");
    /* no room for why: still refused, nothing written */
    uint64_t v = 1;
    assert_int_equal(fl_duration_parse("x", &v, NULL, 0), -EINVAL);
    assert_int_equal(v, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
