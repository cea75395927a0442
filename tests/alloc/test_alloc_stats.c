/* test_alloc_stats.c - the allocator layer under one allocator (argv[1]):
 * detection names the request, ~64 MiB of varied allocations show up in the
 * allocator's and the process's figures, and freeing plus release brings them
 * back down. Exits 77 (skip) where the allocator cannot run in this build. */
#include "fl_alloc.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdbool.h>
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

/* The breakdown fields carry their allocator's prefix in FL_ALLOC_STATS_FIELDS. */
static const char *const breakdown_prefixes[] = {"je_", "tc_", "glibc_", "mi_"};

static const char *own_prefix(enum fl_alloc_kind kind)
{
    switch (kind) {
    case FL_ALLOC_JEMALLOC:
        return "je_";
    case FL_ALLOC_TCMALLOC:
        return "tc_";
    case FL_ALLOC_GLIBC:
        return "glibc_";
    case FL_ALLOC_MIMALLOC:
        return "mi_";
    default:
        return NULL; /* the sanitizer's allocator has no breakdown */
    }
}

static bool has_prefix(const char *field, const char *prefix)
{
    return prefix && strncmp(field, prefix, strlen(prefix)) == 0;
}

/* Walks the list, so a figure added to it is checked without an edit here:
 * the running allocator's own breakdown is all there, every other
 * allocator's is n/a. */
static void test_breakdown_only_own(void **state)
{
    (void)state;
    struct fl_alloc_stats s;
    assert_int_equal(fl_alloc_stats_read(&s), 0);
    const char *own = own_prefix(info.kind);
    int owned = 0;
#define FL_X(field, metric, help)                                                                  \
    for (size_t i = 0; i < sizeof(breakdown_prefixes) / sizeof(breakdown_prefixes[0]); i++) {      \
        if (!has_prefix(#field, breakdown_prefixes[i]))                                            \
            continue;                                                                              \
        if (has_prefix(#field, own)) {                                                             \
            if (s.field < 0)                                                                       \
                fail_msg("%s: %s is %lld under its own allocator", info.name, #field,              \
                         (long long)s.field);                                                      \
            owned++;                                                                               \
        } else if (s.field != FL_NA) {                                                             \
            fail_msg("%s: %s is %lld, not n/a", info.name, #field, (long long)s.field);            \
        }                                                                                          \
    }
    FL_ALLOC_STATS_FIELDS(FL_X)
#undef FL_X
    /* A back end that lost its breakdown altogether fails here too. */
    if (own)
        assert_true(owned >= 2);
}

static void print_breakdown(const char *when, const struct fl_alloc_stats *s)
{
    const char *own = own_prefix(info.kind);
    print_message("%s %s: allocated %lld mapped %lld", info.name, when, (long long)s->allocated,
                  (long long)s->mapped);
#define FL_X(field, metric, help)                                                                  \
    if (has_prefix(#field, own))                                                                   \
        print_message(" %s %lld", #field, (long long)s->field);
    FL_ALLOC_STATS_FIELDS(FL_X)
#undef FL_X
    print_message("\n");
}

/* How the parts add up, from each allocator's own definitions. */
static void check_parts(const struct fl_alloc_stats *s)
{
    switch (info.kind) {
    case FL_ALLOC_GLIBC: /* one mallinfo2 call: exact */
        assert_int_equal(s->mapped, s->glibc_arena + s->glibc_mmapped);
        assert_int_equal(s->allocated, s->glibc_arena - s->glibc_arena_free + s->glibc_mmapped);
        assert_true(s->glibc_releasable <= s->glibc_arena_free);
        break;
    case FL_ALLOC_JEMALLOC: /* tcache objects are counted in allocated */
        assert_true(s->active + s->je_dirty + s->je_muzzy <= s->mapped);
        assert_true(s->je_tcache <= s->allocated);
        break;
    case FL_ALLOC_TCMALLOC:
        /* gperftools defines allocated as the heap minus these parts; this
         * thread is the only one allocating, so the reads agree exactly. */
        assert_int_equal(s->mapped, s->allocated + s->tc_pageheap_free + s->tc_pageheap_unmapped +
                                        s->tc_central_free + s->tc_transfer_free +
                                        s->tc_thread_free);
        assert_int_equal(s->retained, s->tc_pageheap_unmapped);
        break;
    case FL_ALLOC_MIMALLOC:
        assert_int_equal(s->mi_committed, s->mapped);
        assert_true(s->allocated + s->mi_page_free <= s->mi_committed);
        break;
    default:
        break;
    }
}

/* Small blocks (they stay in glibc's arenas), every other one freed: the
 * freed half cannot go back to the OS, so each allocator must show it in its
 * own terms; then the rest is freed, without a release. */
static void test_breakdown_after_frees(void **state)
{
    (void)state;
    if (!own_prefix(info.kind))
        skip();
    enum { N = 1 << 15 };
    void **p = calloc(N, sizeof(*p));
    assert_non_null(p);
    size_t total = 0, freed = 0;
    uint32_t x = 777;
    for (size_t i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        size_t sz = 16 + (x >> 8) % 2048;
        p[i] = malloc(sz);
        assert_non_null(p[i]);
        memset(p[i], 1, sz);
        total += sz;
        freed += i % 2 == 0 ? sz : 0;
    }
    for (size_t i = 0; i < N; i += 2)
        free(p[i]);
    struct fl_alloc_stats half, none;
    fl_alloc_sample_thread();
    assert_int_equal(fl_alloc_stats_read(&half), 0);
    print_breakdown("half freed", &half);
    check_parts(&half);
    int64_t q = (int64_t)freed / 4;
    switch (info.kind) {
    case FL_ALLOC_GLIBC:
        assert_true(half.glibc_arena_free >= q);
        break;
    case FL_ALLOC_JEMALLOC: /* freed objects sit in their slabs and the tcache */
        assert_true(half.active - half.allocated + half.je_tcache >= q);
        assert_true(half.je_tcache > 0);
        break;
    case FL_ALLOC_TCMALLOC:
        assert_true(half.tc_central_free + half.tc_transfer_free + half.tc_thread_free >= q);
        assert_true(half.tc_thread_free > 0);
        break;
    case FL_ALLOC_MIMALLOC:
        assert_true(half.mi_page_free >= q);
        break;
    default:
        break;
    }

    for (size_t i = 1; i < N; i += 2)
        free(p[i]);
    free(p);
    fl_alloc_sample_thread();
    assert_int_equal(fl_alloc_stats_read(&none), 0);
    print_breakdown("all freed", &none);
    check_parts(&none);
    switch (info.kind) {
    case FL_ALLOC_GLIBC: /* free trims the top beyond trim_threshold, keeps some */
        assert_true(none.glibc_releasable > 0);
        break;
    case FL_ALLOC_JEMALLOC: /* emptied slabs wait as dirty pages for decay */
        assert_true(none.je_dirty + none.je_muzzy >= q);
        break;
    case FL_ALLOC_TCMALLOC:
        assert_true(none.tc_pageheap_free + none.tc_pageheap_unmapped + none.tc_central_free +
                        none.tc_transfer_free + none.tc_thread_free >=
                    (int64_t)total / 2);
        break;
    default:
        break;
    }
    fl_alloc_release_thread();
    fl_alloc_release();
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

/* A name the allocator does not read is refused before anything is
 * exported, with one line that lists the names it does read. */
static void test_unknown_settings_refused(void **state)
{
    (void)state;
    static const struct {
        const char *spec, *known;
    } cases[] = {
        {"glibc:bogus=1", "arena_max"},         {"glibc:arena_max=2,bogus=1", "tcache_count"},
        {"jemalloc:bogus:1", "dirty_decay_ms"}, {"mimalloc:bogus=1", "page_reset"},
        {"tcmalloc:bogus=1", "release_rate"},
    };
    char *argv[] = {"x", NULL};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[FL_ALLOC_ERRLEN];
        struct fl_alloc_info dummy;
        assert_int_equal(fl_alloc_init(cases[i].spec, argv, &dummy, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "unknown"));
        assert_non_null(strstr(err, "'bogus'"));
        assert_non_null(strstr(err, cases[i].known));
        assert_null(strchr(err, '\n'));
    }
    /* A library given by path: its names cannot be checked, so settings
     * after it are refused, saying why. */
    char err[FL_ALLOC_ERRLEN];
    struct fl_alloc_info dummy;
    assert_int_equal(fl_alloc_init("/proc/self/exe:a=1", argv, &dummy, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "environment"));
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
        cmocka_unit_test(test_breakdown_only_own),
        cmocka_unit_test(test_allocate_free_release),
        /* After it: what this one leaves cached would blur its RSS figures. */
        cmocka_unit_test(test_breakdown_after_frees),
        cmocka_unit_test(test_bad_requests_refused),
        cmocka_unit_test(test_unknown_settings_refused),
    };
    return cmocka_run_group_tests_name(info.name, tests, NULL, NULL);
}
