/* backend_mimalloc.c - mimalloc 2: mi_process_info, per-thread heap visits,
 * mi_collect, MIMALLOC_* options. */
#include "backend.h"

#include <dlfcn.h>
#include <errno.h>
#include <mimalloc.h> /* types only: every function is reached through dlsym */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static int (*mi_version_p)(void);
static void (*mi_process_info_p)(size_t *, size_t *, size_t *, size_t *, size_t *, size_t *,
                                 size_t *, size_t *);
static void (*mi_collect_p)(bool);
static bool (*mi_is_in_heap_region_p)(const void *);
static mi_heap_t *(*mi_heap_get_default_p)(void);
static bool (*mi_heap_visit_blocks_p)(const mi_heap_t *, bool, mi_block_visit_fun *, void *);

static int mi_bind(void *lib)
{
    mi_version_p = (int (*)(void))dlsym(lib, "mi_version");
    *(void **)&mi_process_info_p = dlsym(lib, "mi_process_info");
    *(void **)&mi_collect_p = dlsym(lib, "mi_collect");
    *(void **)&mi_is_in_heap_region_p = dlsym(lib, "mi_is_in_heap_region");
    *(void **)&mi_heap_get_default_p = dlsym(lib, "mi_heap_get_default");
    *(void **)&mi_heap_visit_blocks_p = dlsym(lib, "mi_heap_visit_blocks");
    bool ok = mi_version_p && mi_process_info_p && mi_collect_p && mi_is_in_heap_region_p &&
              mi_heap_get_default_p && mi_heap_visit_blocks_p;
    return ok ? 0 : -ENOSYS;
}

static bool mi_owns(void *p, size_t n)
{
    (void)n;
    return mi_is_in_heap_region_p(p);
}

static void mi_version_str(char *buf, size_t len)
{
    int v = mi_version_p(); /* 209 = 2.0.9 */
    snprintf(buf, len, "%d.%d.%d", v / 100, v / 10 % 10, v % 10);
}

/* Debian's mimalloc is a release build (MI_STAT=0): it counts committed and
 * reserved memory but not allocated bytes. A heap can only be walked safely
 * by its own thread, so each thread walks its heap's pages (not blocks: one
 * call per page, cheap) and publishes its sums in a slot; the process figure
 * is the sum of the slots. Threads that never sample are missing from it. */
#define MI_SLOTS 256
struct mi_slot {
    _Atomic int64_t used; /* bytes in live blocks */
    _Atomic int64_t free; /* bytes in free blocks of the same pages */
};
static struct mi_slot slots[MI_SLOTS];
static atomic_int slots_used;
static _Thread_local int my_slot = -1;

/* An area is one page: `committed` is its capacity (the blocks carved out so
 * far) times the full block size, so what is not in use of it is free blocks
 * the page holds for this thread alone. */
static bool area_cb(const mi_heap_t *heap, const mi_heap_area_t *area, void *block,
                    size_t block_size, void *arg)
{
    (void)heap, (void)block, (void)block_size;
    int64_t *sums = arg;
    int64_t used = (int64_t)(area->used * area->full_block_size);
    sums[0] += (int64_t)(area->used * area->block_size);
    sums[1] += (int64_t)area->committed > used ? (int64_t)area->committed - used : 0;
    return true;
}

static void mi_sample_thread(void)
{
    if (my_slot < 0) {
        int s = atomic_fetch_add(&slots_used, 1);
        if (s >= MI_SLOTS)
            return; /* more threads than slots: the rest go uncounted */
        my_slot = s;
    }
    int64_t sums[2] = {0, 0};
    mi_heap_visit_blocks_p(mi_heap_get_default_p(), false, area_cb, sums);
    atomic_store_explicit(&slots[my_slot].used, sums[0], memory_order_relaxed);
    atomic_store_explicit(&slots[my_slot].free, sums[1], memory_order_relaxed);
}

static void mi_stats(struct fl_alloc_stats *s)
{
    size_t elapsed, user, sys, rss, peak_rss, commit, peak_commit, faults;
    mi_process_info_p(&elapsed, &user, &sys, &rss, &peak_rss, &commit, &peak_commit, &faults);
    mi_sample_thread();
    int n = atomic_load(&slots_used);
    int64_t allocated = 0, page_free = 0;
    for (int i = 0; i < n && i < MI_SLOTS; i++) {
        allocated += atomic_load_explicit(&slots[i].used, memory_order_relaxed);
        page_free += atomic_load_explicit(&slots[i].free, memory_order_relaxed);
    }
    s->allocated = allocated;
    /* Committed is not resident: mimalloc commits whole segments eagerly and
     * most of a fresh one is never touched (32 MiB committed at start-up
     * against 2 MiB of RSS here). It is what mimalloc has mapped for use.
     * mi_process_info's current_rss is no help: on Linux 2.0.9 fills it with
     * the committed figure too. The rest of mimalloc's accounting (reserved,
     * reset, segments) is only printed as rounded text by mi_stats_print_out,
     * so it is left out rather than parsed back. */
    s->mapped = (int64_t)commit;
    s->mi_committed = (int64_t)commit;
    s->mi_page_free = page_free;
    s->resident = FL_NA;
    s->active = FL_NA;
    s->retained = FL_NA;
    s->metadata = FL_NA;
}

static void mi_release(void)
{
    mi_collect_p(true); /* reaches only the calling thread's heap and the OS-level caches */
}

static int mi_apply(const char *settings, char *err, size_t errlen)
{
    return fl__alloc_env_from_list("MIMALLOC_", settings, err, errlen);
}

/* The options of mimalloc 2.0.9 (Debian 12), read as MIMALLOC_<NAME>:
 * src/options.c's table with its legacy names (abandoned_page_reset,
 * reset_delay), without the deprecated_* entries that do nothing. */
static const char *const mi_names[] = {
    "abandoned_page_decommit",
    "abandoned_page_reset",
    "allow_decommit",
    "decommit_delay",
    "decommit_extend_delay",
    "destroy_on_exit",
    "eager_commit",
    "eager_commit_delay",
    "large_os_pages",
    "limit_os_alloc",
    "max_errors",
    "max_segment_reclaim",
    "max_warnings",
    "os_tag",
    "page_reset",
    "reserve_huge_os_pages",
    "reserve_huge_os_pages_at",
    "reserve_os_memory",
    "reset_delay",
    "segment_decommit_delay",
    "show_errors",
    "show_stats",
    "use_numa_nodes",
    "verbose",
    NULL,
};

const struct fl__alloc_backend fl__alloc_mimalloc = {
    .kind = FL_ALLOC_MIMALLOC,
    .name = "mimalloc",
    .soname = "libmimalloc.so.2",
    .marker = "mi_version",
    .env_prefixes = "MIMALLOC_",
    .bind = mi_bind,
    .owns = mi_owns,
    .version = mi_version_str,
    .settings = NULL,
    .stats = mi_stats,
    .release = mi_release,
    .release_thread = mi_release,
    .sample_thread = mi_sample_thread,
    .apply_settings = mi_apply,
    .setting_names = mi_names,
    .setting_sep = '=',
};
