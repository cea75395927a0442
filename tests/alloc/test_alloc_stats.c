/* test_alloc_stats.c - the allocator layer under one allocator (argv[1]):
 * detection names the request, ~64 MiB of varied allocations show up in the
 * allocator's and the process's figures, and freeing plus release brings them
 * back down. Exits 77 (skip) where the allocator cannot run in this build. */
#include "fl_alloc.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MiB (1024 * 1024)
#define TOTAL (64 * MiB)

static const char *requested;
static struct fl_alloc_info info;

static void test_detect_names_request(void **state)
{
    (void)state;
    size_t n = strcspn(requested, ":");
    if (info.kind == FL_ALLOC_SANITIZER)
        assert_true(strcmp(info.name, "asan") == 0 || strcmp(info.name, "tsan") == 0);
    else
        assert_int_equal(strncmp(info.name, requested, n), 0);
    assert_string_equal(info.requested, requested);
    assert_true(strlen(info.version) > 0);
    assert_string_not_equal(info.version, "unknown");
    assert_non_null(fl_alloc_active());
}

/* Which allocator figures each allocator provides is part of the contract
 * (README): a back end that silently lost one would fail here. */
static void test_figures_available(void **state)
{
    (void)state;
    struct fl_alloc_stats s;
    assert_int_equal(fl_alloc_stats_read(&s), 0);
    assert_true(s.rss > 0 && s.rss_anon > 0 && s.lazyfree >= 0 && s.anon_huge >= 0);
    assert_true(s.allocated > 0);
    switch (info.kind) {
    case FL_ALLOC_JEMALLOC:
        assert_true(s.active > 0 && s.resident > 0 && s.mapped > 0 && s.retained >= 0 &&
                    s.metadata > 0);
        break;
    case FL_ALLOC_TCMALLOC:
        assert_true(s.active > 0 && s.resident > 0 && s.mapped > 0 && s.retained >= 0 &&
                    s.metadata > 0);
        break;
    case FL_ALLOC_GLIBC:
    case FL_ALLOC_MIMALLOC:
        assert_true(s.mapped > 0);
        assert_true(s.resident == FL_NA && s.active == FL_NA);
        break;
    default:
        break;
    }
    assert_false(isnan(s.frag_ratio));
}

/* Sizes from 16 B to 32 KiB plus a few 256 KiB blocks (mmap'd by glibc), each
 * touched so that it is resident. */
static void test_allocate_free_release(void **state)
{
    (void)state;
    enum { MAXP = 1 << 16 };
    void **p = calloc(MAXP, sizeof(*p));
    assert_non_null(p);
    struct fl_alloc_stats base, peak, after;
    fl_alloc_stats_read(&base);

    size_t total = 0, n = 0;
    uint32_t x = 12345;
    while (total < TOTAL && n < MAXP) {
        x = x * 1103515245u + 12345u;
        size_t sz = (n % 64 == 0) ? 256 * 1024 : 16 + (x >> 8) % (32 * 1024);
        p[n] = malloc(sz);
        assert_non_null(p[n]);
        memset(p[n], (int)n, sz);
        total += sz;
        n++;
    }
    fl_alloc_sample_thread();
    fl_alloc_stats_read(&peak);
    print_message("%s: %zu blocks, %zu MiB; allocated +%lld MiB, rss +%lld MiB\n", info.name, n,
                  total / MiB, (long long)(peak.allocated - base.allocated) / MiB,
                  (long long)(peak.rss - base.rss) / MiB);
    assert_true(peak.allocated - base.allocated >= (int64_t)(total * 9 / 10));
    assert_true(peak.rss - base.rss >= (int64_t)(total * 8 / 10));

    for (size_t i = 0; i < n; i++)
        free(p[i]);
    free(p);
    fl_alloc_release_thread();
    fl_alloc_release();
    fl_alloc_sample_thread();
    fl_alloc_stats_read(&after);
    print_message("%s: after free+release: allocated %lld MiB, rss %lld MiB (peak %lld MiB)\n",
                  info.name, (long long)after.allocated / MiB, (long long)after.rss / MiB,
                  (long long)peak.rss / MiB);
    assert_true(after.allocated <= base.allocated + (int64_t)(total / 20));
    /* The sanitizer keeps freed memory in quarantine on purpose. */
    if (info.kind != FL_ALLOC_SANITIZER)
        assert_true(after.rss <= peak.rss - (int64_t)(total / 2));
}

static void test_bad_requests_refused(void **state)
{
    (void)state;
    char err[FL_ALLOC_ERRLEN];
    struct fl_alloc_info dummy;
    char *argv[] = {"x", NULL};
    assert_int_equal(fl_alloc_init("bogus", argv, &dummy, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "bogus"));
    assert_int_equal(fl_alloc_init("/nonexistent/libnope.so", argv, &dummy, err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/libnope.so"));
}

int main(int argc, char **argv)
{
    requested = argc > 1 ? argv[1] : "glibc";
    char err[FL_ALLOC_ERRLEN];
    int rc = fl_alloc_init(requested, argv, &info, err, sizeof(err));
    if (rc == -ENOTSUP) {
        printf("SKIP: %s\n", err);
        return 77;
    }
    if (rc) {
        fprintf(stderr, "fl_alloc_init(%s): %s\n", requested, err);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_names_request),
        cmocka_unit_test(test_figures_available),
        cmocka_unit_test(test_allocate_free_release),
        cmocka_unit_test(test_bad_requests_refused),
    };
    return cmocka_run_group_tests_name(info.name, tests, NULL, NULL);
}
