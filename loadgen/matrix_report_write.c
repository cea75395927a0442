/* matrix_report_write.c - the report's table on the terminal, DIR/matrix.csv
 * and DIR/matrix.json; one column list drives the CSV and the JSON. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "matrix_report_internal.h"

/* The figures of a run, in matrix.csv order: column, field, decimals. */
#define FL_MR_FIGURES(X)                                                                           \
    X(throughput_rps, rps, 1)                                                                      \
    X(p99_us, p99_us, 0)                                                                           \
    X(rss_peak_bytes, rss_peak, 0)                                                                 \
    X(rss_steady_bytes, rss_steady, 0)                                                             \
    X(rss_after_idle_bytes, rss_idle, 0)                                                           \
    X(returned_share, returned, 4)                                                                 \
    X(allocated_peak_bytes, alloc_peak, 0)                                                         \
    X(resident_peak_bytes, res_peak, 0)                                                            \
    X(allocated_after_idle_bytes, alloc_idle, 0)                                                   \
    X(resident_after_idle_bytes, res_idle, 0)                                                      \
    X(frag_ratio_at_peak, frag_peak, 4)                                                            \
    X(lazyfree_after_idle_bytes, lazy_idle, 0)                                                     \
    X(cross_thread_frees, cross_frees, 0)                                                          \
    X(cross_thread_free_share, cross_share, 4)

const char *fl__mr_num(char *b, size_t n, double v, int prec)
{
    if (isnan(v))
        b[0] = '\0';
    else
        snprintf(b, n, "%.*f", prec, v);
    return b;
}

void fl__mr_fmt_bytes(char *b, size_t n, double v)
{
    if (isnan(v))
        snprintf(b, n, "n/a");
    else if (v < 1024 * 1024)
        snprintf(b, n, "%.1f KiB", v / 1024);
    else if (v < 1024.0 * 1024 * 1024)
        snprintf(b, n, "%.1f MiB", v / (1024 * 1024));
    else
        snprintf(b, n, "%.2f GiB", v / (1024.0 * 1024 * 1024));
}

/* A CSV field: quoted when it holds a comma, a quote or a line break. */
static void csv_str(FILE *f, const char *s)
{
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int finish(FILE *f, const char *path, char *err, size_t errlen)
{
    bool bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(err, errlen, "%s: write failed", path);
        return -EIO;
    }
    return 0;
}

int fl__mr_write_csv(const struct fl__mr_report *r, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/matrix.csv", r->dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    fputs("mode,allocator,name,free_policy,allocator_spec,status,complete,load_rows,idle_rows", f);
#define FL_X(col, field, prec) fputs("," #col, f);
    FL_MR_FIGURES(FL_X)
#undef FL_X
    fputs(",stair_steps,stair_step_times_s,error\n", f);
    for (int i = 0; i < r->n; i++) {
        const struct fl__mr_run *run = &r->runs[i];
        const char *strs[] = {run->mode,        run->allocator, run->name,
                              run->free_policy, run->spec,      run->status};
        for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++) {
            if (k)
                fputc(',', f);
            csv_str(f, strs[k]);
        }
        fprintf(f, ",%d,%d,%d", run->has_summary, run->load_rows, run->idle_rows);
        char b[64];
#define FL_X(col, field, prec) fprintf(f, ",%s", fl__mr_num(b, sizeof(b), run->field, prec));
        FL_MR_FIGURES(FL_X)
#undef FL_X
        if (run->has_csv)
            fprintf(f, ",%d,", run->nsteps);
        else
            fputs(",,", f);
        for (int s = 0; s < run->nsteps && s < FL__MR_MAX_STEPS; s++)
            fprintf(f, "%s%.3f", s ? ";" : "", run->steps[s].t_s);
        fputc(',', f);
        csv_str(f, run->error);
        fputc('\n', f);
    }
    return finish(f, path, err, errlen);
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isnan(v))
        cJSON_AddNullToObject(o, k);
    else
        cJSON_AddNumberToObject(o, k, v);
}

static void add_str(cJSON *o, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static cJSON *run_json(const struct fl__mr_run *run)
{
    cJSON *o = cJSON_CreateObject();
    add_str(o, "mode", run->mode);
    add_str(o, "allocator", run->allocator);
    add_str(o, "name", run->name);
    add_str(o, "free_policy", run->free_policy);
    add_str(o, "allocator_spec", run->spec);
    add_str(o, "status", run->status);
    add_str(o, "error", run->error);
    add_str(o, "allocator_name", run->alloc_name);
    add_str(o, "allocator_version", run->alloc_version);
    cJSON_AddBoolToObject(o, "complete", run->has_summary);
    cJSON_AddNumberToObject(o, "load_rows", run->load_rows);
    cJSON_AddNumberToObject(o, "idle_rows", run->idle_rows);
#define FL_X(col, field, prec) add_num(o, #col, run->field);
    FL_MR_FIGURES(FL_X)
#undef FL_X
    if (run->has_csv)
        cJSON_AddNumberToObject(o, "stair_steps", run->nsteps);
    else
        cJSON_AddNullToObject(o, "stair_steps");
    cJSON *steps = cJSON_AddArrayToObject(o, "stair_step_list");
    for (int s = 0; s < run->nsteps && s < FL__MR_MAX_STEPS; s++) {
        cJSON *st = cJSON_CreateObject();
        cJSON_AddNumberToObject(st, "t_s", run->steps[s].t_s);
        cJSON_AddNumberToObject(st, "from_bytes", run->steps[s].from);
        cJSON_AddNumberToObject(st, "to_bytes", run->steps[s].to);
        cJSON_AddItemToArray(steps, st);
    }
    return o;
}

int fl__mr_write_json(const struct fl__mr_report *r, char *err, size_t errlen)
{
    cJSON *root = cJSON_CreateObject();
    static const char *const keys[] = {"scenario", "duration_s", "idle_s", "interval_s",
                                       "started_at"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->runs_json, keys[k]);
        cJSON_AddItemToObject(root, keys[k], v ? cJSON_Duplicate(v, true) : cJSON_CreateNull());
    }
    cJSON_AddItemToObject(root, "manifest",
                          r->manifest ? cJSON_Duplicate(r->manifest, true) : cJSON_CreateNull());
    cJSON_AddStringToObject(root, "stair_step_rule", fl__mr_step_rule);
    cJSON *rows = cJSON_AddArrayToObject(root, "rows");
    for (int i = 0; i < r->n; i++)
        cJSON_AddItemToArray(rows, run_json(&r->runs[i]));
    cJSON *ratios = cJSON_AddArrayToObject(root, "ratios");
    for (int i = 0; i < r->nratios; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "allocator", r->ratios[i].allocator);
        char what[32];
        snprintf(what, sizeof(what), "%s/tpc", r->ratios[i].mode);
        cJSON_AddStringToObject(o, "ratio", what);
        add_num(o, "rss_peak", r->ratios[i].peak);
        add_num(o, "rss_after_idle", r->ratios[i].final);
        cJSON_AddItemToArray(ratios, o);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) {
        snprintf(err, errlen, "matrix.json: out of memory");
        return -ENOMEM;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/matrix.json", r->dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        int e = errno;
        free(text);
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    fputs(text, f);
    fputc('\n', f);
    free(text);
    return finish(f, path, err, errlen);
}

static int width(const struct fl__mr_report *r, size_t off, int min)
{
    int w = min;
    for (int i = 0; i < r->n; i++) {
        const char *s = *(const char *const *)((const char *)&r->runs[i] + off);
        if (s && (int)strlen(s) > w)
            w = (int)strlen(s);
    }
    return w;
}

void fl__mr_print_table(FILE *f, const struct fl__mr_report *r)
{
    int wm = width(r, offsetof(struct fl__mr_run, mode), 4);
    int wa = width(r, offsetof(struct fl__mr_run, allocator), 9);
    fprintf(f, "%-*s  %-*s  %-8s %9s %9s %11s %11s %11s %8s %7s %5s\n", wm, "mode", wa, "allocator",
            "status", "req/s", "p99 us", "rss peak", "steady", "after idle", "returned", "frag",
            "steps");
    for (int i = 0; i < r->n; i++) {
        const struct fl__mr_run *run = &r->runs[i];
        char rps[32], p99[32], pk[32], st[32], id[32], ret[32], fr[32], steps[16];
        fl__mr_num(rps, sizeof(rps), run->rps, 0);
        fl__mr_num(p99, sizeof(p99), run->p99_us, 0);
        fl__mr_fmt_bytes(pk, sizeof(pk), run->rss_peak);
        fl__mr_fmt_bytes(st, sizeof(st), run->rss_steady);
        fl__mr_fmt_bytes(id, sizeof(id), run->rss_idle);
        fl__mr_num(ret, sizeof(ret), run->returned * 100, 1);
        if (ret[0])
            strcat(ret, "%");
        fl__mr_num(fr, sizeof(fr), run->frag_peak, 2);
        snprintf(steps, sizeof(steps), run->has_csv ? "%d" : "", run->nsteps);
        const char *status = run->status ? run->status : "?";
        if (run->has_csv && !run->has_summary &&
            (!strcmp(status, "ok") || !strcmp(status, "pending")))
            status = "partial";
        fprintf(f, "%-*s  %-*s  %-8s %9s %9s %11s %11s %11s %8s %7s %5s\n", wm,
                run->mode ? run->mode : "?", wa, run->allocator ? run->allocator : "?", status, rps,
                p99, pk, st, id, ret, fr, steps);
    }
    for (int i = 0; i < r->nratios; i++) {
        char pk[32], fin[32];
        fl__mr_num(pk, sizeof(pk), r->ratios[i].peak, 2);
        fl__mr_num(fin, sizeof(fin), r->ratios[i].final, 2);
        fprintf(f, "%s%s/tpc %s: rss peak x%s, after idle x%s\n", i ? "" : "\n", r->ratios[i].mode,
                r->ratios[i].allocator, pk[0] ? pk : "n/a", fin[0] ? fin : "n/a");
    }
    for (int i = 0; i < r->n; i++)
        if (r->runs[i].error)
            fprintf(f, "%s %s: %s: %s\n", r->runs[i].mode ? r->runs[i].mode : "?",
                    r->runs[i].allocator ? r->runs[i].allocator : "?",
                    r->runs[i].status ? r->runs[i].status : "?", r->runs[i].error);
}
