/* backend.h - internal: what each allocator back end provides to the layer. */
#ifndef FL_ALLOC_BACKEND_H
#define FL_ALLOC_BACKEND_H

#include "fl_alloc.h"

struct fl__alloc_backend {
    enum fl_alloc_kind kind;
    const char *name;
    const char *soname;       /* library to preload; NULL for glibc */
    const char *marker;       /* a symbol only this allocator exports */
    const char *env_prefixes; /* its tuning variables, space separated */
    /* Resolves the allocator's API from `lib` (a dlopen handle); 0 or -ENOSYS. */
    int (*bind)(void *lib);
    /* Probe: did this allocator serve `p`, just allocated with `n` bytes? */
    bool (*owns)(void *p, size_t n);
    void (*version)(char *buf, size_t len);
    /* Appends settings beyond the environment (effective options). */
    void (*settings)(char *buf, size_t len);
    void (*stats)(struct fl_alloc_stats *s);
    void (*release)(void);
    void (*release_thread)(void); /* NULL: nothing kept per thread */
    void (*sample_thread)(void);  /* NULL: process-wide figures need no sampling */
    /* Turns user settings ("a=1,b=2") into environment variables. */
    int (*apply_settings)(const char *settings, char *err, size_t errlen);
    /* The setting names this allocator reads (NULL-terminated), checked
     * before anything is exported, and what separates a name from its value
     * ('=', or ':' in jemalloc's MALLOC_CONF). NULL: no settings at all. */
    const char *const *setting_names;
    char setting_sep;
};

extern const struct fl__alloc_backend fl__alloc_glibc;
extern const struct fl__alloc_backend fl__alloc_jemalloc;
extern const struct fl__alloc_backend fl__alloc_mimalloc;
extern const struct fl__alloc_backend fl__alloc_tcmalloc;
extern const struct fl__alloc_backend fl__alloc_sanitizer;

/* The back end verified by fl_alloc_init, or NULL. */
const struct fl__alloc_backend *fl__alloc_backend_active(void);

/* Sets NAME=value for each "key=value" in `settings` (comma separated), where
 * NAME is `prefix` followed by the upper-cased key. 0 or -EINVAL. */
int fl__alloc_env_from_list(const char *prefix, const char *settings, char *err, size_t errlen);

/* 0 if every "name<sep>value" item of the comma-separated `settings` names
 * one of be->setting_names; else -EINVAL and one line in `err` listing the
 * names the allocator knows. */
int fl__alloc_check_names(const struct fl__alloc_backend *be, const char *settings, char *err,
                          size_t errlen);

/* Appends "NAME=value" and `sep` for each environment variable starting
 * with one of the space-separated `prefixes`. */
void fl__alloc_env_describe(const char *prefixes, char sep, char *buf, size_t len);

/* snprintf that appends to buf. */
void fl__appendf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
