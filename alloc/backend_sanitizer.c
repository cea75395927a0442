/* backend_sanitizer.c - the allocator of AddressSanitizer or ThreadSanitizer,
 * which replaces malloc in sanitizer builds. Reported honestly instead of
 * pretending to be glibc; its figures come from the sanitizer interface. */
#include "backend.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>

static size_t (*san_allocated)(void);
static size_t (*san_heap)(void);
static size_t (*san_unmapped)(void);
static int (*san_ownership)(const void *);
static void (*san_purge)(void);

static int san_bind(void *lib)
{
    (void)lib; /* the runtime may be linked statically: look process-wide */
    *(void **)&san_allocated = dlsym(RTLD_DEFAULT, "__sanitizer_get_current_allocated_bytes");
    *(void **)&san_heap = dlsym(RTLD_DEFAULT, "__sanitizer_get_heap_size");
    *(void **)&san_unmapped = dlsym(RTLD_DEFAULT, "__sanitizer_get_unmapped_bytes");
    *(void **)&san_ownership = dlsym(RTLD_DEFAULT, "__sanitizer_get_ownership");
    *(void **)&san_purge = dlsym(RTLD_DEFAULT, "__sanitizer_purge_allocator");
    return san_allocated && san_heap && san_ownership ? 0 : -ENOSYS;
}

static bool san_owns(void *p, size_t n)
{
    (void)n;
    return san_ownership(p) != 0;
}

static void san_version(char *buf, size_t len)
{
    snprintf(buf, len, "compiler runtime (%s)", __VERSION__);
}

static void san_stats(struct fl_alloc_stats *s)
{
    s->allocated = (int64_t)san_allocated();
    s->mapped = (int64_t)san_heap();
    s->retained = san_unmapped ? (int64_t)san_unmapped() : FL_NA;
    s->resident = FL_NA;
    s->active = FL_NA;
    s->metadata = FL_NA;
}

static void san_release(void)
{
    if (san_purge)
        san_purge();
}

static int san_apply(const char *settings, char *err, size_t errlen)
{
    snprintf(err, errlen, "allocator settings '%s' cannot apply in a sanitizer build", settings);
    return -EINVAL;
}

const struct fl__alloc_backend fl__alloc_sanitizer = {
    .kind = FL_ALLOC_SANITIZER,
    .name = "sanitizer",
    .soname = NULL,
    .marker = "__sanitizer_get_current_allocated_bytes",
    .env_prefixes = "ASAN_OPTIONS TSAN_OPTIONS",
    .bind = san_bind,
    .owns = san_owns,
    .version = san_version,
    .settings = NULL,
    .stats = san_stats,
    .release = san_release,
    .apply_settings = san_apply,
};
