/* backend_tcmalloc.c - gperftools tcmalloc: MallocExtension numeric
 * properties, ReleaseFreeMemory, TCMALLOC_* variables. */
#include "backend.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>

static int (*tc_prop)(const char *, size_t *);
static void (*tc_release_all)(void);
static void (*tc_mark_idle)(void);
static int (*tc_ownership)(const void *);
static const char *(*tc_version_p)(int *, int *, const char **);

static int tc_bind(void *lib)
{
    *(void **)&tc_prop = dlsym(lib, "MallocExtension_GetNumericProperty");
    *(void **)&tc_release_all = dlsym(lib, "MallocExtension_ReleaseFreeMemory");
    *(void **)&tc_mark_idle = dlsym(lib, "MallocExtension_MarkThreadIdle");
    *(void **)&tc_ownership = dlsym(lib, "MallocExtension_GetOwnership");
    *(void **)&tc_version_p = dlsym(lib, "tc_version");
    return tc_prop && tc_release_all && tc_mark_idle && tc_ownership && tc_version_p ? 0 : -ENOSYS;
}

static int64_t prop(const char *name)
{
    size_t v = 0;
    return tc_prop(name, &v) ? (int64_t)v : FL_NA;
}

/* MallocExtension_Ownership: 0 unknown, 1 owned, 2 not owned. */
static bool tc_owns(void *p, size_t n)
{
    (void)n;
    return tc_ownership(p) == 1;
}

static void tc_version(char *buf, size_t len)
{
    int major, minor;
    const char *patch;
    snprintf(buf, len, "%s", tc_version_p(&major, &minor, &patch));
}

static void tc_settings(char *buf, size_t len)
{
    int64_t v = prop("tcmalloc.max_total_thread_cache_bytes");
    if (v != FL_NA)
        fl__appendf(buf, len, "tcmalloc.max_total_thread_cache_bytes=%lld ", (long long)v);
}

static void tc_stats(struct fl_alloc_stats *s)
{
    /* heap_size counts the page heap including unmapped (released) pages. */
    int64_t heap = prop("generic.heap_size");
    int64_t unmapped = prop("tcmalloc.pageheap_unmapped_bytes");
    int64_t physical = prop("generic.total_physical_bytes");
    int64_t allocated = prop("generic.current_allocated_bytes");
    /* gperftools 2.10 answers both thread cache names with the same figure;
     * thread_cache_free_bytes is the one documented beside central and
     * transfer, so the breakdown's parts are named alike. */
    int64_t cache = prop("tcmalloc.thread_cache_free_bytes");
    int64_t central = prop("tcmalloc.central_cache_free_bytes");
    int64_t transfer = prop("tcmalloc.transfer_cache_free_bytes");
    s->allocated = allocated;
    s->mapped = heap;
    s->retained = unmapped;
    s->resident = heap != FL_NA && unmapped != FL_NA ? heap - unmapped : FL_NA;
    /* active: bytes in spans handed out (allocated plus the caches' free objects) */
    s->active = allocated != FL_NA && cache != FL_NA && central != FL_NA && transfer != FL_NA
                    ? allocated + cache + central + transfer
                    : FL_NA;
    s->metadata = physical != FL_NA && s->resident != FL_NA && physical > s->resident
                      ? physical - s->resident
                      : FL_NA;
    s->tc_pageheap_free = prop("tcmalloc.pageheap_free_bytes");
    s->tc_pageheap_unmapped = unmapped;
    s->tc_central_free = central;
    s->tc_transfer_free = transfer;
    s->tc_thread_free = cache;
}

static void tc_release(void)
{
    tc_release_all();
}

static void tc_release_thread(void)
{
    tc_mark_idle(); /* returns this thread's cache to the central lists */
}

static int tc_apply(const char *settings, char *err, size_t errlen)
{
    return fl__alloc_env_from_list("TCMALLOC_", settings, err, errlen);
}

/* The TCMALLOC_* variables libtcmalloc_minimal of gperftools 2.10 (Debian
 * 12) reads, lower-cased; the profiler's and the debug library's are not
 * read by the minimal library fraglab preloads. */
static const char *const tc_names[] = {
    "aggressive_decommit",
    "devmem_limit",
    "devmem_start",
    "disable_memory_release",
    "heap_limit_mb",
    "large_alloc_report_threshold",
    "max_total_thread_cache_bytes",
    "memfs_abort_on_fail",
    "memfs_disable_fallback",
    "memfs_ignore_mmap_fail",
    "memfs_limit_mb",
    "memfs_malloc_path",
    "memfs_map_private",
    "release_rate",
    "skip_mmap",
    "skip_sbrk",
    "transfer_num_obj",
    NULL,
};

const struct fl__alloc_backend fl__alloc_tcmalloc = {
    .kind = FL_ALLOC_TCMALLOC,
    .name = "tcmalloc",
    .soname = "libtcmalloc_minimal.so.4",
    .marker = "tc_version",
    .env_prefixes = "TCMALLOC_",
    .bind = tc_bind,
    .owns = tc_owns,
    .version = tc_version,
    .settings = tc_settings,
    .stats = tc_stats,
    .release = tc_release,
    .release_thread = tc_release_thread,
    .apply_settings = tc_apply,
    .setting_names = tc_names,
    .setting_sep = '=',
};
