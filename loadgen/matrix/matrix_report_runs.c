/* matrix_report_runs.c - which runs a folder holds: DIR/runs.json as the
 * matrix writes it; without one, the runs.json the matrix would have written
 * for the folders under DIR/runs/ (a matrix whose pairings run at once may
 * not have written it yet, or was killed first), or for DIR as one run's
 * folder (`run --out`). A run's mode and allocator come from its
 * summary.json, else from its folder's name (MODE-ALLOCATOR). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "matrix_report_internal.h"

cJSON *fl__mr_read_json(const char *path)
{
    char *text = fl__mr_slurp(path);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

/* DIR's last path component (of its real path when there is one). */
static void folder_name(const char *dir, char *out, size_t len)
{
    char real[PATH_MAX];
    const char *d = realpath(dir, real) ? real : dir;
    size_t n = strlen(d);
    while (n > 1 && d[n - 1] == '/')
        n--;
    const char *base = d + n;
    while (base > d && base[-1] != '/')
        base--;
    snprintf(out, len, "%.*s", (int)(d + n - base), base);
}

/* The mode a matrix folder's name starts with ("ws-owner-glibc"), and the
 * allocator after it; "unknown" when it names none. */
static const char *mode_of_name(const char *name, const char **alloc)
{
    static const char *const modes[] = {"ws-owner", "tpc", "ws"};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        size_t n = strlen(modes[i]);
        if (!strncmp(name, modes[i], n) && name[n] == '-' && name[n + 1]) {
            *alloc = name + n + 1;
            return modes[i];
        }
    }
    *alloc = NULL;
    return NULL;
}

/* runs.json's entry for the run in `rundir`, named `name`, its "dir"
 * `reldir`: mode and allocator from its summary.json (status "ok" or
 * "interrupted"), else from `name` (status `nosum`). NULL when the folder
 * holds neither summary.json nor timeseries.csv. */
static cJSON *run_entry(const char *rundir, const char *name, const char *reldir, bool by_name,
                        const char *nosum)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/summary.json", rundir);
    cJSON *sum = fl__mr_read_json(path);
    snprintf(path, sizeof(path), "%s/timeseries.csv", rundir);
    if (!sum && access(path, F_OK) != 0)
        return NULL;
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(sum, "server");
    const char *mode = jstr(sv, "mode"), *policy = jstr(sv, "free_policy");
    const char *alloc = jstr(sv, "allocator"), *name_alloc = NULL;
    const char *name_mode = by_name ? mode_of_name(name, &name_alloc) : NULL;
    if (mode && policy && !strcmp(mode, "ws") && !strcmp(policy, "owner"))
        mode = "ws-owner";
    if (!mode && name_mode) {
        mode = name_mode;
        policy = strcmp(mode, "ws-owner") ? "local" : "owner";
    }
    alloc = alloc ? alloc : name_mode ? name_alloc : NULL;
    const cJSON *interrupted = cJSON_GetObjectItemCaseSensitive(sum, "interrupted");
    cJSON *run = cJSON_CreateObject();
    if (!run) {
        cJSON_Delete(sum);
        return NULL;
    }
    cJSON_AddStringToObject(run, "name", name);
    cJSON_AddStringToObject(run, "mode", mode ? mode : "unknown");
    cJSON_AddStringToObject(run, "free_policy", policy ? policy : "unknown");
    cJSON_AddStringToObject(run, "allocator", alloc ? alloc : "unknown");
    cJSON_AddStringToObject(run, "allocator_spec", alloc ? alloc : "unknown");
    cJSON_AddStringToObject(run, "dir", reldir);
    cJSON_AddStringToObject(run, "status",
                            !sum                        ? nosum
                            : cJSON_IsTrue(interrupted) ? "interrupted"
                                                        : "ok");
    cJSON_AddNullToObject(run, "error");
    cJSON_Delete(sum);
    return run;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* DIR/runs/'s folder names, sorted; their number, or -errno. */
static int list_runs(const char *dir, char ***names)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/runs", dir);
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    int n = 0, cap = 0, rc = 0;
    *names = NULL;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **nn = realloc(*names, (size_t)(cap = cap ? cap * 2 : 16) * sizeof(char *));
            if (!nn) {
                rc = -ENOMEM;
                break;
            }
            *names = nn;
        }
        if (!((*names)[n] = strdup(e->d_name))) {
            rc = -ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (*names)
        qsort(*names, (size_t)n, sizeof(char *), cmp_name);
    if (rc) {
        while (n)
            free((*names)[--n]);
        free(*names);
        *names = NULL;
        return rc;
    }
    return n;
}

/* The runs.json of a matrix folder without one: each run folder under
 * DIR/runs/ with a summary.json or a timeseries.csv, by name ("running"
 * without a summary). NULL when there is none. */
static cJSON *scanned_matrix(const char *dir)
{
    char **names = NULL;
    int n = list_runs(dir, &names);
    if (n <= 0)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *runs = cJSON_AddArrayToObject(root, "runs");
    for (int i = 0; i < n; i++) {
        char rundir[PATH_MAX], rel[NAME_MAX + 8];
        snprintf(rundir, sizeof(rundir), "%s/runs/%s", dir, names[i]);
        snprintf(rel, sizeof(rel), "runs/%s", names[i]);
        cJSON *run = runs ? run_entry(rundir, names[i], rel, true, "running") : NULL;
        if (run && !cJSON_AddItemToArray(runs, run))
            cJSON_Delete(run);
        free(names[i]);
    }
    free(names);
    if (cJSON_GetArraySize(runs) == 0) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* One run's folder (`run --out`: timeseries.csv, summary.json, no
 * runs.json) as a matrix of that one run, named after the folder ("partial"
 * without a summary). NULL when DIR holds neither file. */
static cJSON *single_run(const char *dir)
{
    char name[256];
    folder_name(dir, name, sizeof(name));
    cJSON *run = run_entry(dir, name, ".", false, "partial");
    cJSON *root = cJSON_CreateObject();
    if (!run || !cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "runs"), run)) {
        cJSON_Delete(run);
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static void seterr(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

int fl__mr_read_runs(const char *dir, cJSON **out, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/runs.json", dir);
    char *text = fl__mr_slurp(path);
    int e = text ? 0 : errno;
    if (e == ENOENT && ((*out = scanned_matrix(dir)) || (*out = single_run(dir))))
        return 0;
    if (!text) {
        seterr(err, errlen,
               "%s: %s (DIR is a `fraglab-loadgen matrix` folder with runs.json or "
               "runs/*/timeseries.csv, or one run's folder with timeseries.csv and "
               "summary.json)",
               path, strerror(e));
        return -e;
    }
    *out = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(*out, "runs"))) {
        seterr(err, errlen, "%s: not a matrix folder's runs.json (no \"runs\" array)", path);
        return -EINVAL;
    }
    return 0;
}
