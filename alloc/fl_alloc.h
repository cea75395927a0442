/* fl_alloc.h - the allocator layer: choose an allocator at start-up, verify
 * which one really serves malloc, read one set of stats for every allocator,
 * and ask it to return free memory. One build serves every allocator: the
 * chosen library is preloaded (LD_PRELOAD) by re-executing the program, and
 * the allocator's own API is reached through dlsym, never linked. */
#ifndef FL_ALLOC_H
#define FL_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum fl_alloc_kind {
    FL_ALLOC_GLIBC,
    FL_ALLOC_JEMALLOC,
    FL_ALLOC_MIMALLOC,
    FL_ALLOC_TCMALLOC,
    FL_ALLOC_SANITIZER, /* ASan/TSan replace malloc in sanitizer builds */
    FL_ALLOC_OTHER,     /* a malloc .so we have no stats API for */
};

/* Every figure, listed once: X(field, metric name, help). Text, JSON and
 * Prometheus output, the load generator's CSV columns (<field>_bytes) and the
 * tests all iterate this list. Values are bytes; FL_NA (-1) where the
 * allocator or the kernel does not provide the figure. The list is made of
 * two parts because their sources differ: the process's memory, which the
 * load generator can read itself from /proc, and the allocator's own
 * figures, which only the server can ask for. */
#define FL_ALLOC_STATS_FIELDS(X) FL_PROCMEM_FIELDS(X) FL_ALLOCATOR_FIELDS(X)

#define FL_PROCMEM_FIELDS(X)                                                                       \
    X(rss, "rss_bytes", "Resident set size (smaps_rollup Rss)")                                    \
    X(rss_anon, "rss_anon_bytes", "Anonymous resident memory (smaps_rollup Anonymous)")            \
    X(lazyfree, "lazyfree_bytes", "MADV_FREE pages still counted in RSS (smaps_rollup LazyFree)")  \
    X(anon_huge, "anon_huge_bytes", "Anonymous transparent huge pages (AnonHugePages)")

/* The common figures first, then each allocator's breakdown of what it holds
 * beyond live data, in its own terms; those fields carry the allocator's
 * prefix (je_, tc_, glibc_, mi_) and are FL_NA under any other allocator. */
#define FL_ALLOCATOR_FIELDS(X)                                                                     \
    X(allocated, "allocator_allocated_bytes",                                                      \
      "Bytes in live allocations, as the allocator counts")                                        \
    X(active, "allocator_active_bytes", "Bytes in allocator pages holding live allocations")       \
    X(resident, "allocator_resident_bytes", "Allocator memory resident in RAM")                    \
    X(mapped, "allocator_mapped_bytes", "Allocator memory mapped from the OS")                     \
    X(retained, "allocator_retained_bytes", "Address space kept but returned to the OS")           \
    X(metadata, "allocator_metadata_bytes", "Allocator bookkeeping bytes")                         \
    X(je_dirty, "allocator_je_dirty_bytes",                                                        \
      "jemalloc: dirty pages, free but not yet purged, still resident (pdirty x page)")            \
    X(je_muzzy, "allocator_je_muzzy_bytes",                                                        \
      "jemalloc: muzzy pages, purged with MADV_FREE, resident until reclaimed (pmuzzy x page)")    \
    X(je_tcache, "allocator_je_tcache_bytes",                                                      \
      "jemalloc: free objects in thread caches (counted in allocated)")                            \
    X(tc_pageheap_free, "allocator_tc_pageheap_free_bytes",                                        \
      "tcmalloc: free pages in the page heap, still mapped")                                       \
    X(tc_pageheap_unmapped, "allocator_tc_pageheap_unmapped_bytes",                                \
      "tcmalloc: free pages in the page heap, returned to the OS")                                 \
    X(tc_central_free, "allocator_tc_central_free_bytes",                                          \
      "tcmalloc: free objects in the central free lists")                                          \
    X(tc_transfer_free, "allocator_tc_transfer_free_bytes",                                        \
      "tcmalloc: free objects in the transfer caches")                                             \
    X(tc_thread_free, "allocator_tc_thread_free_bytes",                                            \
      "tcmalloc: free objects in the thread caches")                                               \
    X(glibc_arena, "allocator_glibc_arena_bytes",                                                  \
      "glibc: memory of all arenas from brk and mmap'd heaps (mallinfo2 arena)")                   \
    X(glibc_arena_free, "allocator_glibc_arena_free_bytes",                                        \
      "glibc: free chunks in all arenas, top chunks included (mallinfo2 fordblks)")                \
    X(glibc_releasable, "allocator_glibc_releasable_bytes",                                        \
      "glibc: free top chunk of the main arena, which trimming returns (mallinfo2 keepcost)")      \
    X(glibc_mmapped, "allocator_glibc_mmapped_bytes",                                              \
      "glibc: blocks mmap'd on their own, outside the arenas (mallinfo2 hblkhd)")                  \
    X(mi_committed, "allocator_mi_committed_bytes",                                                \
      "mimalloc: memory committed from the OS (mi_process_info current_commit)")                   \
    X(mi_page_free, "allocator_mi_page_free_bytes",                                                \
      "mimalloc: free blocks in the pages of sampled thread heaps (page capacity - used)")

#define FL_NA ((int64_t)-1)

struct fl_alloc_stats {
#define FL_X(field, name, help) int64_t field;
    FL_ALLOC_STATS_FIELDS(FL_X)
#undef FL_X
    /* (resident - allocated) / allocated; the basis is the allocator's
     * resident figure, or anonymous RSS where the allocator has none (glibc).
     * NaN when neither is available. */
    double frag_ratio;
    const char *frag_basis; /* "allocator", "rss_anon" or "n/a" */
};

/* What the program really runs on, after verification. */
struct fl_alloc_info {
    enum fl_alloc_kind kind;
    char name[32];       /* glibc, jemalloc, mimalloc, tcmalloc, asan, tsan, or the .so's name */
    char version[96];    /* the allocator's own version string */
    char library[4096];  /* the shared object that serves malloc */
    char requested[256]; /* the --allocator value as given */
    char settings[1024]; /* tuning in the allocator's own terms, as in force */
    /* The allocator's variables in this process's environment, as its init
     * read them (what the layer wrote before the re-exec, or the caller
     * gave): "NAME=value" lines, each ended by '\n'. */
    char environment[1024];
    bool settings_needed; /* internal: the request carried settings */
};

#define FL_ALLOC_ERRLEN 2048 /* room for the list of known setting names */

/* Makes `spec` (glibc|jemalloc|mimalloc|tcmalloc|/path/to/lib.so, optionally
 * followed by ":settings") the process's allocator: re-executes `argv` with
 * the library preloaded when needed (does not return then), and otherwise
 * verifies the active allocator into `info`. Returns 0, or -errno with a one
 * line reason in `err`. Call first thing in main, before threads exist. */
int fl_alloc_init(const char *spec, char *const argv[], struct fl_alloc_info *info, char *err,
                  size_t errlen);

/* The allocator initialised by fl_alloc_init (NULL before). */
const struct fl_alloc_info *fl_alloc_active(void);

/* Fills `s` with process memory (smaps_rollup) and the allocator's figures. */
int fl_alloc_stats_read(struct fl_alloc_stats *s);

/* Writes `s` as "field: value" lines, bytes or n/a. */
void fl_alloc_stats_print(FILE *f, const struct fl_alloc_stats *s);

/* Asks the allocator to return free memory to the OS now, process-wide. */
void fl_alloc_release(void);

/* Per-thread part of a release: flushes this thread's caches (jemalloc
 * tcache, mimalloc's thread heap, tcmalloc's thread cache). */
void fl_alloc_release_thread(void);

/* Publishes this thread's allocated bytes where the allocator only knows them
 * per thread (mimalloc's release build keeps no process-wide counter).
 * Long-lived threads call it from time to time; a no-op elsewhere. */
void fl_alloc_sample_thread(void);

/* Process memory of `pid` (0 = self) from /proc/PID/smaps_rollup. */
struct fl_procmem {
#define FL_X(field, name, help) int64_t field;
    FL_PROCMEM_FIELDS(FL_X)
#undef FL_X
};
/* Reads `pid`'s (0: this process's) figures: 0, or -errno (the open's or
 * the read's; -ENODATA when the file holds no Rss line). */
int fl_procmem_read(pid_t pid, struct fl_procmem *m);

/* The transparent huge page mode in force: the selected word of
 * /sys/kernel/mm/transparent_hugepage/`file` ("enabled" or "defrag"), e.g.
 * "madvise", in `buf`; NULL when the kernel has no THP. */
const char *fl_procmem_thp(const char *file, char *buf, size_t len);

#endif
