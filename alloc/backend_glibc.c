/* backend_glibc.c - glibc ptmalloc: mallinfo2, malloc_trim, GLIBC_TUNABLES. */
#include "backend.h"

#include <errno.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int glibc_bind(void *lib)
{
    (void)lib;
    return 0;
}

/* mallinfo2 sums every arena; uordblks grows by at least n when the main
 * program's malloc is glibc's (it is 0-based and unaffected by other
 * allocators, which never touch ptmalloc's arenas). */
static size_t glibc_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static bool glibc_owns(void *p, size_t n)
{
    size_t before = glibc_in_use();
    void *q = malloc(n);
    bool grew = q && glibc_in_use() >= before + n;
    free(q);
    (void)p;
    return grew;
}

static void glibc_version(char *buf, size_t len)
{
    snprintf(buf, len, "%s", gnu_get_libc_version());
}

static void glibc_stats(struct fl_alloc_stats *s)
{
    struct mallinfo2 mi = mallinfo2();
    /* arena: bytes taken with brk/mmap'd heaps; hblkhd: large mmap'd blocks.
     * uordblks + hblkhd are live allocations. glibc has no resident figure:
     * free chunks stay resident until trimmed. fordblks is free bytes kept. */
    s->allocated = (int64_t)(mi.uordblks + mi.hblkhd);
    s->mapped = (int64_t)(mi.arena + mi.hblkhd);
    s->retained = FL_NA;
    s->active = FL_NA;
    s->resident = FL_NA;
    s->metadata = FL_NA;
    /* The breakdown: arena memory is live chunks plus fordblks, of which
     * keepcost (the main arena's top chunk) is what trimming the top gives
     * back; other free chunks return only as whole pages by malloc_trim. */
    s->glibc_arena = (int64_t)mi.arena;
    s->glibc_arena_free = (int64_t)mi.fordblks;
    s->glibc_releasable = (int64_t)mi.keepcost;
    s->glibc_mmapped = (int64_t)mi.hblkhd;
}

static void glibc_release(void)
{
    malloc_trim(0);
}

/* "arena_max=2,trim_threshold=131072" -> GLIBC_TUNABLES=glibc.malloc.arena_max=2:... */
static int glibc_apply(const char *settings, char *err, size_t errlen)
{
    char tun[512] = "";
    const char *old = getenv("GLIBC_TUNABLES");
    if (old && *old)
        snprintf(tun, sizeof(tun), "%s", old);
    char *copy = strdup(settings), *save = NULL;
    if (!copy)
        return -ENOMEM;
    for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        if (!strchr(kv, '=')) {
            snprintf(err, errlen, "glibc setting '%s' is not key=value (e.g. arena_max=2)", kv);
            free(copy);
            return -EINVAL;
        }
        fl__appendf(tun, sizeof(tun), "%sglibc.malloc.%s", *tun ? ":" : "", kv);
    }
    free(copy);
    return setenv("GLIBC_TUNABLES", tun, 1) ? -errno : 0;
}

/* glibc.malloc.* tunables of glibc 2.36 (Debian 12), as `ld.so
 * --list-tunables` prints them; glibc ignores any other name silently. */
static const char *const glibc_names[] = {
    "arena_max",
    "arena_test",
    "check",
    "hugetlb",
    "mmap_max",
    "mmap_threshold",
    "mxfast",
    "perturb",
    "tcache_count",
    "tcache_max",
    "tcache_unsorted_limit",
    "top_pad",
    "trim_threshold",
    NULL,
};

const struct fl__alloc_backend fl__alloc_glibc = {
    .kind = FL_ALLOC_GLIBC,
    .name = "glibc",
    .soname = NULL,
    .marker = "gnu_get_libc_version",
    .env_prefixes = "GLIBC_TUNABLES MALLOC_ARENA_MAX MALLOC_TRIM_THRESHOLD_ MALLOC_MMAP_THRESHOLD_",
    .bind = glibc_bind,
    .owns = glibc_owns,
    .version = glibc_version,
    .settings = NULL,
    .stats = glibc_stats,
    .release = glibc_release,
    .apply_settings = glibc_apply,
    .setting_names = glibc_names,
    .setting_sep = '=',
};
