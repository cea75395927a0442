/* matrix_report_write.c - the report's table on the terminal, DIR/matrix.csv
 * and DIR/matrix.json; one column list drives the CSV and the JSON. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "matrix_report_internal.h"
#include "matrix_verdict.h"

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
    X(cross_thread_free_share, cross_share, 4)                                                     \
    X(live_bytes, live, 0)                                                                         \
    X(live_drift_share, live_drift, 4)                                                             \
    X(overhead_peak_bytes, over_peak, 0)                                                           \
    X(overhead_steady_bytes, over_steady, 0)                                                       \
    X(overhead_after_idle_bytes, over_idle, 0)                                                     \
    X(alloc_failures, alloc_failures, 0)

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

/* The allocator-specific columns the run's CSV filled, at the steady point. */
static void detail_json(cJSON *o, const struct fl__mr_run *run)
{
    cJSON *d = cJSON_AddObjectToObject(o, "allocator_detail");
    for (int k = 0; k < FL__MR_NDETAIL; k++)
        if (!isnan(run->detail[k]))
            cJSON_AddNumberToObject(d, fl__mr_detail_names[k], run->detail[k]);
}

/* The drift note, beside the pairing and beside its stair-steps. */
static void drift_json(cJSON *o, const struct fl__mr_run *run)
{
    char note[160];
    fl__mr_drift_note(run, note, sizeof(note));
    add_str(o, "live_drift_phase", run->drift_phase[0] ? run->drift_phase : NULL);
    add_num(o, "live_drift_phase_share", run->drift_phase[0] ? run->worst_drift : NAN);
    add_str(o, "live_data_note", note[0] ? note : NULL);
    add_str(o, "stair_step_note", note[0] && run->nsteps ? note : NULL);
    add_str(o, "heap_basis", run->heap_basis);
    fl__mr_oom_note(run, note, sizeof(note));
    add_str(o, "alloc_failure_note", note[0] ? note : NULL);
    detail_json(o, run);
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
    add_str(o, "cpus", run->cpus);
    cJSON_AddBoolToObject(o, "pinned", run->pinned);
    add_num(o, "intervals_behind", run->intervals_behind);
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
    drift_json(o, run);
    return o;
}

static cJSON *ratio_json(const struct fl__mr_ratio *x)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "allocator", x->allocator);
    char what[32];
    snprintf(what, sizeof(what), "%s/tpc", x->mode);
    cJSON_AddStringToObject(o, "ratio", what);
    add_num(o, "rss_peak", x->peak);
    add_num(o, "rss_after_idle", x->final);
    add_num(o, "overhead_peak", x->over_peak);
    add_num(o, "overhead_steady", x->over_steady);
    add_num(o, "overhead_after_idle", x->over_idle);
    cJSON_AddBoolToObject(o, "comparable", x->comparable);
    add_str(o, "not_comparable_reason", x->comparable ? NULL : x->why);
    add_num(o, "throughput_diff_share", x->rps_diff);
    add_num(o, "live_diff_share", x->live_diff);
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
    for (int i = 0; i < r->nratios; i++)
        cJSON_AddItemToArray(ratios, ratio_json(&r->ratios[i]));
    if (r->verdict)
        cJSON_AddItemToObject(root, "verdict", fl__mv_json(r->verdict));
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

#define TABLE_FMT "%-*s  %-*s  %-8s %9s %9s %11s %6s %11s %11s %11s %11s %11s %11s %8s %7s %5s\n"

static void print_run(FILE *f, const struct fl__mr_run *run, int wm, int wa)
{
    char rps[32], p99[32], live[32], dr[32], op[32], os[32], oi[32], pk[32], st[32], id[32];
    char ret[32], fr[32], steps[16];
    fl__mr_num(rps, sizeof(rps), run->rps, 0);
    fl__mr_num(p99, sizeof(p99), run->p99_us, 0);
    fl__mr_fmt_bytes(live, sizeof(live), run->live);
    snprintf(dr, sizeof(dr), isnan(run->live_drift) ? "" : "%+.0f%%%s", 100 * run->live_drift,
             fl__mr_drifts(run) ? "!" : "");
    fl__mr_fmt_bytes(op, sizeof(op), run->over_peak);
    fl__mr_fmt_bytes(os, sizeof(os), run->over_steady);
    fl__mr_fmt_bytes(oi, sizeof(oi), run->over_idle);
    fl__mr_fmt_bytes(pk, sizeof(pk), run->rss_peak);
    fl__mr_fmt_bytes(st, sizeof(st), run->rss_steady);
    fl__mr_fmt_bytes(id, sizeof(id), run->rss_idle);
    fl__mr_num(ret, sizeof(ret), run->returned * 100, 1);
    if (ret[0])
        strcat(ret, "%");
    fl__mr_num(fr, sizeof(fr), run->frag_peak, 2);
    snprintf(steps, sizeof(steps), run->has_csv ? "%d" : "", run->nsteps);
    const char *status = run->status ? run->status : "?";
    if (run->has_csv && !run->has_summary && (!strcmp(status, "ok") || !strcmp(status, "pending")))
        status = "partial";
    fprintf(f, TABLE_FMT, wm, run->mode ? run->mode : "?", wa,
            run->allocator ? run->allocator : "?", status, rps, p99, live, dr, op, os, oi, pk, st,
            id, ret, fr, steps);
}

/* "x1.23" or "n/a". */
static const char *times(char *b, size_t n, double v)
{
    fl__mr_num(b + 1, n - 1, v, 2);
    b[0] = 'x';
    return b[1] ? b : "n/a";
}

/* One ratio line: plain when the two pairings compare, else the reason
 * first and the figures in parentheses. */
static void print_ratio(FILE *f, const struct fl__mr_ratio *x)
{
    char a[32], b[32], c[32], d[32], e[32];
    fprintf(f, "%s/tpc %s: ", x->mode, x->allocator);
    if (!x->comparable)
        fprintf(f, "not comparable: %s (", x->why);
    fprintf(f, "overhead peak %s, steady %s, after idle %s; rss peak %s, after idle %s%s\n",
            times(a, sizeof(a), x->over_peak), times(b, sizeof(b), x->over_steady),
            times(c, sizeof(c), x->over_idle), times(d, sizeof(d), x->peak),
            times(e, sizeof(e), x->final), x->comparable ? "" : ")");
}

/* Which CPUs each pairing's workers ran on (pinned: one worker per CPU;
 * else floating over them) and, in a --parallel matrix, the pairings that
 * fell behind their schedule. */
static void print_cpus(FILE *f, const struct fl__mr_report *r)
{
    bool any = false;
    for (int i = 0; i < r->n; i++) {
        const struct fl__mr_run *run = &r->runs[i];
        if (!run->cpus)
            continue;
        fprintf(f, "%s%s %s%s", any ? "; " : "cpus: ", run->name ? run->name : "?", run->cpus,
                run->pinned ? " pinned" : "");
        any = true;
    }
    if (any)
        fputc('\n', f);
    for (int i = 0; i < r->n; i++)
        if (r->runs[i].intervals_behind > 0)
            fprintf(f, "%s: behind its schedule in %.0f intervals (runs.json behind_t_s)\n",
                    r->runs[i].name ? r->runs[i].name : "?", r->runs[i].intervals_behind);
}

void fl__mr_print_table(FILE *f, const struct fl__mr_report *r)
{
    int wm = width(r, offsetof(struct fl__mr_run, mode), 4);
    int wa = width(r, offsetof(struct fl__mr_run, allocator), 9);
    fprintf(f, TABLE_FMT, wm, "mode", wa, "allocator", "status", "req/s", "p99 us", "live", "drift",
            "ovh peak", "ovh steady", "ovh idle", "rss peak", "steady", "after idle", "returned",
            "frag", "steps");
    for (int i = 0; i < r->n; i++)
        print_run(f, &r->runs[i], wm, wa);
    fputs("(ovh: allocator overhead, RSS - allocated; live: allocated, steady)\n", f);
    for (int i = 0; i < r->n; i++) {
        char note[160];
        fl__mr_drift_note(&r->runs[i], note, sizeof(note));
        if (note[0])
            fprintf(f, "%s: %s%s\n", r->runs[i].name ? r->runs[i].name : "?", note,
                    r->runs[i].nsteps ? "; its stair-steps too" : "");
        fl__mr_oom_note(&r->runs[i], note, sizeof(note));
        if (note[0])
            fprintf(f, "%s: %s\n", r->runs[i].name ? r->runs[i].name : "?", note);
    }
    print_cpus(f, r);
    for (int i = 0; i < r->nratios; i++) {
        if (!i)
            fputc('\n', f);
        print_ratio(f, &r->ratios[i]);
    }
    for (int i = 0; i < r->n; i++)
        if (r->runs[i].error)
            fprintf(f, "%s %s: %s: %s\n", r->runs[i].mode ? r->runs[i].mode : "?",
                    r->runs[i].allocator ? r->runs[i].allocator : "?",
                    r->runs[i].status ? r->runs[i].status : "?", r->runs[i].error);
}
