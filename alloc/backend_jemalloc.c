/* backend_jemalloc.c - jemalloc 5: mallctl stats after an epoch write,
 * arena purge, MALLOC_CONF. */
#include "backend.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);
static mallctl_fn je_mallctl;

/* MALLCTL_ARENAS_ALL in jemalloc 5: the pseudo-index meaning every arena. */
#define JE_ARENAS_ALL "4096"

static int je_bind(void *lib)
{
    je_mallctl = (mallctl_fn)dlsym(lib, "mallctl");
    return je_mallctl ? 0 : -ENOSYS;
}

static int64_t je_size(const char *name)
{
    size_t v, len = sizeof(v);
    return je_mallctl(name, &v, &len, NULL, 0) == 0 ? (int64_t)v : FL_NA;
}

/* thread.allocated counts this thread's bytes served by jemalloc. */
static bool je_owns(void *p, size_t n)
{
    uint64_t before, after;
    size_t len = sizeof(before);
    if (je_mallctl("thread.allocated", &before, &len, NULL, 0))
        return false;
    void *q = malloc(n);
    len = sizeof(after);
    bool ok =
        q && je_mallctl("thread.allocated", &after, &len, NULL, 0) == 0 && after >= before + n;
    free(q);
    (void)p;
    return ok;
}

static void je_version(char *buf, size_t len)
{
    const char *v = NULL;
    size_t l = sizeof(v);
    snprintf(buf, len, "%s", je_mallctl("version", &v, &l, NULL, 0) == 0 && v ? v : "?");
}

static void je_settings(char *buf, size_t len)
{
    unsigned narenas;
    size_t l = sizeof(narenas);
    if (je_mallctl("opt.narenas", &narenas, &l, NULL, 0) == 0)
        fl__appendf(buf, len, "opt.narenas=%u ", narenas);
    static const char *decays[] = {"opt.dirty_decay_ms", "opt.muzzy_decay_ms"};
    for (size_t i = 0; i < 2; i++) {
        ssize_t ms;
        l = sizeof(ms);
        if (je_mallctl(decays[i], &ms, &l, NULL, 0) == 0)
            fl__appendf(buf, len, "%s=%zd ", decays[i], ms);
    }
    static const char *bools[] = {"opt.background_thread", "opt.tcache"};
    for (size_t i = 0; i < 2; i++) {
        bool b;
        l = sizeof(b);
        if (je_mallctl(bools[i], &b, &l, NULL, 0) == 0)
            fl__appendf(buf, len, "%s=%s ", bools[i], b ? "true" : "false");
    }
    const char *thp = NULL;
    l = sizeof(thp);
    if (je_mallctl("opt.thp", &thp, &l, NULL, 0) == 0 && thp)
        fl__appendf(buf, len, "opt.thp=%s ", thp);
}

static void je_stats(struct fl_alloc_stats *s)
{
    /* Stats are a snapshot refreshed by writing the epoch. */
    uint64_t epoch = 1;
    size_t len = sizeof(epoch);
    je_mallctl("epoch", &epoch, &len, &epoch, len);
    s->allocated = je_size("stats.allocated");
    s->active = je_size("stats.active");
    s->resident = je_size("stats.resident");
    s->mapped = je_size("stats.mapped");
    s->retained = je_size("stats.retained");
    s->metadata = je_size("stats.metadata");
    /* The breakdown, summed over all arenas. Dirty and muzzy are counted in
     * pages; tcache bytes are free objects that jemalloc still counts in
     * stats.allocated, as the arenas handed them out. */
    int64_t page = je_size("arenas.page");
    int64_t dirty = je_size("stats.arenas." JE_ARENAS_ALL ".pdirty");
    int64_t muzzy = je_size("stats.arenas." JE_ARENAS_ALL ".pmuzzy");
    s->je_dirty = page != FL_NA && dirty != FL_NA ? dirty * page : FL_NA;
    s->je_muzzy = page != FL_NA && muzzy != FL_NA ? muzzy * page : FL_NA;
    s->je_tcache = je_size("stats.arenas." JE_ARENAS_ALL ".tcache_bytes");
}

static void je_release_thread(void)
{
    je_mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
}

static void je_release(void)
{
    je_release_thread();
    je_mallctl("arena." JE_ARENAS_ALL ".purge", NULL, NULL, NULL, 0);
}

/* jemalloc's own terms: the settings are a MALLOC_CONF string
 * ("dirty_decay_ms:1000,narenas:2"), appended to any MALLOC_CONF given. */
static int je_apply(const char *settings, char *err, size_t errlen)
{
    char conf[512];
    const char *old = getenv("MALLOC_CONF");
    snprintf(conf, sizeof(conf), "%s%s%s", old && *old ? old : "", old && *old ? "," : "",
             settings);
    if (strchr(settings, '=')) {
        snprintf(err, errlen, "jemalloc settings use MALLOC_CONF syntax key:value, not '%s'",
                 settings);
        return -EINVAL;
    }
    return setenv("MALLOC_CONF", conf, 1) ? -errno : 0;
}

/* MALLOC_CONF keys of jemalloc 5.3.0 (Debian 12), from its conf parser
 * (malloc_conf_init_helper). jemalloc itself only warns about another key,
 * "<jemalloc>: Invalid conf pair", on stderr, and runs on. A table checked
 * before the re-exec refuses the typo at once with the list; a build
 * without profiling or logging still warns about prof_* or log itself. */
static const char *const je_names[] = {
    "abort",
    "abort_conf",
    "background_thread",
    "bin_shards",
    "confirm_conf",
    "dirty_decay_ms",
    "dss",
    "experimental_infallible_new",
    "hpa",
    "hpa_dirty_mult",
    "hpa_hugification_threshold",
    "hpa_hugification_threshold_ratio",
    "hpa_hugify_delay_ms",
    "hpa_min_purge_interval_ms",
    "hpa_sec_batch_fill_extra",
    "hpa_sec_bytes_after_flush",
    "hpa_sec_max_alloc",
    "hpa_sec_max_bytes",
    "hpa_sec_nshards",
    "hpa_slab_max_alloc",
    "junk",
    "lg_extent_max_active_fit",
    "lg_prof_interval",
    "lg_prof_sample",
    "lg_san_uaf_align",
    "lg_tcache_flush_large_div",
    "lg_tcache_flush_small_div",
    "lg_tcache_max",
    "lg_tcache_nslots_mul",
    "log",
    "max_background_threads",
    "metadata_thp",
    "mutex_max_spin",
    "muzzy_decay_ms",
    "narenas",
    "narenas_ratio",
    "oversize_threshold",
    "percpu_arena",
    "prof",
    "prof_accum",
    "prof_active",
    "prof_final",
    "prof_gdump",
    "prof_leak",
    "prof_leak_error",
    "prof_log",
    "prof_prefix",
    "prof_recent_alloc_max",
    "prof_stats",
    "prof_sys_thread_name",
    "prof_thread_active_init",
    "prof_time_resolution",
    "prof_unbias",
    "retain",
    "san_guard_large",
    "san_guard_small",
    "slab_sizes",
    "stats_interval",
    "stats_interval_opts",
    "stats_print",
    "stats_print_opts",
    "tcache",
    "tcache_gc_delay_bytes",
    "tcache_gc_incr_bytes",
    "tcache_max",
    "tcache_nslots_large",
    "tcache_nslots_small_max",
    "tcache_nslots_small_min",
    "thp",
    "trust_madvise",
    "utrace",
    "xmalloc",
    "zero",
    "zero_realloc",
    NULL,
};

const struct fl__alloc_backend fl__alloc_jemalloc = {
    .kind = FL_ALLOC_JEMALLOC,
    .name = "jemalloc",
    .soname = "libjemalloc.so.2",
    .marker = "mallctl",
    .env_prefixes = "MALLOC_CONF",
    .bind = je_bind,
    .owns = je_owns,
    .version = je_version,
    .settings = je_settings,
    .stats = je_stats,
    .release = je_release,
    .release_thread = je_release_thread,
    .apply_settings = je_apply,
    .setting_names = je_names,
    .setting_sep = ':',
};
