/* select.c - choosing the allocator at start-up and verifying it.
 *
 * Why re-exec with LD_PRELOAD: malloc must be replaced before the first
 * allocation of the process (the dynamic loader's, libc's, ours), for every
 * library in it, and without linking a particular allocator into the binary.
 * Preloading the distribution's library does exactly that and is how these
 * allocators are deployed in production; re-executing ourselves makes it a
 * flag instead of an environment ritual. Settings go into the allocator's own
 * environment variables before the exec, since each reads them at its init.
 * After the exec the layer checks which library really serves malloc (dladdr
 * of the resolved symbol, then the allocator's own ownership probe), so a
 * missing or bogus library is refused instead of silently running glibc. */
#include "backend.h"

#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENV_REEXEC "FRAGLAB_ALLOC_REEXEC"
#define ENV_SAVED "FRAGLAB_ALLOC_SAVED_PRELOAD"

static const struct fl__alloc_backend *const backends[] = {
    &fl__alloc_jemalloc,
    &fl__alloc_mimalloc,
    &fl__alloc_tcmalloc,
    &fl__alloc_glibc,
};
#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

static struct fl_alloc_info active_info;
static const struct fl__alloc_backend *active_be;
static bool initialised;

struct request {
    const struct fl__alloc_backend *be; /* NULL for a path to an unknown .so */
    char lib[PATH_MAX];                 /* library to preload; "" for glibc */
    const char *settings;               /* after the first ':', or "" */
};

static int parse_spec(const char *spec, struct request *rq, char *err, size_t errlen)
{
    memset(rq, 0, sizeof(*rq));
    rq->settings = "";
    if (spec[0] == '/' || spec[0] == '.') {
        if (realpath(spec, rq->lib))
            return 0;
        int e = errno;
        /* "/path/lib.so:settings": which names an arbitrary library reads
         * is unknowable here, so nothing is exported on a guess. */
        const char *colon = strchr(strrchr(spec, '/') ? strrchr(spec, '/') : spec, ':');
        char lib[PATH_MAX];
        if (colon && (size_t)(colon - spec) < sizeof(lib)) {
            snprintf(lib, sizeof(lib), "%.*s", (int)(colon - spec), spec);
            if (realpath(lib, rq->lib)) {
                snprintf(err, errlen,
                         "settings '%s' for %s: fraglab cannot check which names a library given "
                         "by path reads; set its own environment variables (e.g. MALLOC_CONF) "
                         "instead",
                         colon + 1, lib);
                return -EINVAL;
            }
        }
        snprintf(err, errlen, "allocator library %s: %s", spec, strerror(e));
        return -e;
    }
    const char *colon = strchr(spec, ':');
    size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
    if (colon)
        rq->settings = colon + 1;
    for (size_t i = 0; i < NBACKENDS; i++)
        if (strlen(backends[i]->name) == nlen && strncmp(backends[i]->name, spec, nlen) == 0)
            rq->be = backends[i];
    if (!rq->be) {
        snprintf(err, errlen,
                 "unknown allocator '%.*s' (expected glibc, jemalloc, mimalloc, tcmalloc or a "
                 "path to a malloc .so)",
                 (int)nlen, spec);
        return -EINVAL;
    }
    /* Before any environment is written: a misspelt name is refused with the
     * names the allocator reads, not exported for nobody to read. */
    return *rq->settings ? fl__alloc_check_names(rq->be, rq->settings, err, errlen) : 0;
}

/* Distribution libraries live beside libc in the multiarch directory. */
static int find_library(const char *soname, char *out, char *err, size_t errlen)
{
    Dl_info di;
    char libcdir[PATH_MAX] = "/lib";
    if (dladdr((void *)dlsym(RTLD_DEFAULT, "gnu_get_libc_version"), &di) && di.dli_fname) {
        snprintf(libcdir, sizeof(libcdir), "%s", di.dli_fname);
        dirname(libcdir);
    }
    char cand[4][PATH_MAX + 32];
    snprintf(cand[0], sizeof(cand[0]), "/usr%s/%s", strncmp(libcdir, "/usr/", 5) ? libcdir : "",
             soname);
    snprintf(cand[1], sizeof(cand[1]), "%s/%s", libcdir, soname);
    snprintf(cand[2], sizeof(cand[2]), "/usr/local/lib/%s", soname);
    snprintf(cand[3], sizeof(cand[3]), "/usr/lib/%s", soname);
    for (int i = 0; i < 4; i++)
        if (realpath(cand[i], out))
            return 0;
    snprintf(err, errlen, "allocator library %s not found in %s, /usr/local/lib or /usr/lib",
             soname, libcdir);
    return -ENOENT;
}

/* The library whose malloc the process calls, and the back end behind it. */
static int detect(char *lib, size_t liblen, const struct fl__alloc_backend **be, void **handle)
{
    Dl_info di;
    if (!dladdr((void *)dlsym(RTLD_DEFAULT, "malloc"), &di) || !di.dli_fname)
        return -ENOENT;
    if (!realpath(di.dli_fname, lib))
        snprintf(lib, liblen, "%s", di.dli_fname);
    *handle = dlopen(di.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!*handle)
        *handle = dlopen(NULL, RTLD_LAZY); /* malloc linked into the executable */
    *be = NULL;
    if (dlsym(RTLD_DEFAULT, fl__alloc_sanitizer.marker)) {
        *be = &fl__alloc_sanitizer;
        return 0;
    }
    for (size_t i = 0; i < NBACKENDS && !*be; i++)
        if (dlsym(*handle, backends[i]->marker))
            *be = backends[i];
    return 0;
}

static void restore_environment(void)
{
    if (!getenv(ENV_REEXEC))
        return;
    const char *saved = getenv(ENV_SAVED);
    if (saved)
        setenv("LD_PRELOAD", saved, 1);
    else
        unsetenv("LD_PRELOAD");
    unsetenv(ENV_SAVED);
    unsetenv(ENV_REEXEC);
}

static int reexec(const struct request *rq, char *const argv[], char *err, size_t errlen)
{
    if (*rq->settings) {
        if (!rq->be) { /* parse_spec refuses this already */
            snprintf(err, errlen, "settings for %s: pass them in its own environment", rq->lib);
            return -EINVAL;
        }
        int rc = rq->be->apply_settings(rq->settings, err, errlen);
        if (rc)
            return rc;
    }
    const char *old = getenv("LD_PRELOAD");
    if (old)
        setenv(ENV_SAVED, old, 1);
    setenv(ENV_REEXEC, "1", 1);
    if (*rq->lib) {
        char preload[PATH_MAX * 2];
        snprintf(preload, sizeof(preload), "%s%s%s", rq->lib, old ? " " : "", old ? old : "");
        setenv("LD_PRELOAD", preload, 1);
    } else {
        unsetenv("LD_PRELOAD"); /* glibc asked for while another malloc was preloaded */
    }
    execv("/proc/self/exe", argv);
    int e = errno;
    snprintf(err, errlen, "execv /proc/self/exe: %s", strerror(e));
    return -e;
}

static void describe(const struct fl__alloc_backend *be, const char *spec, const char *lib)
{
    struct fl_alloc_info *in = &active_info;
    memset(in, 0, sizeof(*in));
    in->kind = be ? be->kind : FL_ALLOC_OTHER;
    snprintf(in->requested, sizeof(in->requested), "%s", spec);
    snprintf(in->library, sizeof(in->library), "%s", lib);
    if (!be) {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof(tmp), "%s", lib);
        snprintf(in->name, sizeof(in->name), "%s", basename(tmp));
        snprintf(in->version, sizeof(in->version), "unknown");
        return;
    }
    if (be->kind == FL_ALLOC_SANITIZER)
        snprintf(in->name, sizeof(in->name), "%s",
                 dlsym(RTLD_DEFAULT, "__tsan_init") ? "tsan" : "asan");
    else
        snprintf(in->name, sizeof(in->name), "%s", be->name);
    be->version(in->version, sizeof(in->version));
    fl__alloc_env_describe(be->env_prefixes, '\n', in->environment, sizeof(in->environment));
    fl__alloc_env_describe(be->env_prefixes, ' ', in->settings, sizeof(in->settings));
    if (be->settings)
        be->settings(in->settings, sizeof(in->settings));
    size_t n = strlen(in->settings);
    if (n && in->settings[n - 1] == ' ')
        in->settings[n - 1] = '\0';
}

static int verify(const struct request *rq, const char *spec, char *err, size_t errlen)
{
    char lib[PATH_MAX];
    const struct fl__alloc_backend *be;
    void *handle;
    int rc = detect(lib, sizeof(lib), &be, &handle);
    if (rc) {
        snprintf(err, errlen, "cannot find which library serves malloc (dladdr failed)");
        return rc;
    }
    const char *want = rq->be ? rq->be->name : rq->lib;
    if (be == &fl__alloc_sanitizer) {
        if (rq->be != &fl__alloc_glibc || *rq->settings) {
            snprintf(err, errlen,
                     "allocator %s cannot run in a sanitizer build: the sanitizer replaces malloc",
                     spec);
            return -ENOTSUP;
        }
    } else if (rq->be ? be != rq->be : strcmp(lib, rq->lib) != 0) {
        snprintf(err, errlen, "requested %s, but malloc is served by %s (%s)", want,
                 be ? be->name : "an unknown library", lib);
        return -EPERM;
    }
    if (be && be->bind(handle)) {
        snprintf(err, errlen, "%s: %s lacks part of the API fraglab reads stats with", want, lib);
        return -ENOSYS;
    }
    /* The probe: the allocator's own bookkeeping must see an allocation. */
    void *p = malloc(1 << 16);
    bool owned = p && (!be || be->owns(p, 1 << 16));
    free(p);
    if (!owned) {
        snprintf(err, errlen, "%s: %s exports %s but did not serve a probe allocation", want, lib,
                 be->marker);
        return -EPERM;
    }
    active_be = be;
    describe(be, spec, lib);
    return 0;
}

static bool sanitizer_build(void)
{
    return dlsym(RTLD_DEFAULT, fl__alloc_sanitizer.marker) != NULL;
}

int fl_alloc_init(const char *spec, char *const argv[], struct fl_alloc_info *info, char *err,
                  size_t errlen)
{
    struct request rq;
    if (!spec || !*spec)
        spec = "glibc";
    int rc = parse_spec(spec, &rq, err, errlen);
    if (rc)
        return rc;
    bool sanitized = sanitizer_build();
    if (rq.be && rq.be->soname && !sanitized) {
        rc = find_library(rq.be->soname, rq.lib, err, errlen);
        if (rc)
            return rc;
    }

    /* Re-exec once when the request is not what runs now, or carries
     * settings that must be in the environment before the allocator starts. */
    if (!getenv(ENV_REEXEC) && !sanitized) {
        char lib[PATH_MAX];
        const struct fl__alloc_backend *be;
        void *handle;
        bool matches = detect(lib, sizeof(lib), &be, &handle) == 0 &&
                       (rq.be ? be == rq.be : strcmp(lib, rq.lib) == 0);
        if (!matches || *rq.settings)
            return reexec(&rq, argv, err, errlen);
    }
    restore_environment();
    rc = verify(&rq, spec, err, errlen);
    if (rc)
        return rc;
    initialised = true;
    if (info)
        *info = active_info;
    return 0;
}

const struct fl_alloc_info *fl_alloc_active(void)
{
    return initialised ? &active_info : NULL;
}

const struct fl__alloc_backend *fl__alloc_backend_active(void)
{
    return active_be;
}
