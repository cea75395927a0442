/* test_procmem.c - fl_procmem_read returns 0 or -errno, the errno of the
 * call that failed: a failed read(2) (here made to fail with EIO through
 * the linker's --wrap=read) is -EIO, not "no data"; a missing process is
 * the open's -ENOENT; this process reads. */
#include "fl_alloc.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __wrap_read(int fd, void *buf, size_t n);

static int fail_after = -1; /* reads to let through before failing; -1: never fail */

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
    if (fail_after == 0) {
        errno = EIO;
        return -1;
    }
    if (fail_after > 0)
        fail_after--;
    return __real_read(fd, buf, n > 64 ? 64 : n); /* short reads: the loop must go on */
}

static void test_reads_self(void **state)
{
    (void)state;
    struct fl_procmem m;
    fail_after = -1;
    assert_int_equal(fl_procmem_read(0, &m), 0);
    assert_true(m.rss > 0);
}

static void test_read_error_is_its_errno(void **state)
{
    (void)state;
    struct fl_procmem m;
    fail_after = 0; /* the first read fails */
    assert_int_equal(fl_procmem_read(0, &m), -EIO);
    fail_after = 2; /* a later one, after a partial buffer */
    assert_int_equal(fl_procmem_read(0, &m), -EIO);
    fail_after = -1;
}

static void test_no_process(void **state)
{
    (void)state;
    struct fl_procmem m;
    assert_int_equal(fl_procmem_read(0x7ffffff0, &m), -ENOENT);
    assert_true(m.rss == FL_NA);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_self),
        cmocka_unit_test(test_read_error_is_its_errno),
        cmocka_unit_test(test_no_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
