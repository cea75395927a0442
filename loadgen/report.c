/* report.c - CSV rows, progress, summary.json and the human summary. */
#include "report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "columns.h"
#include "manifest.h"

void fl_lg_csv_header(FILE *f, const struct fl_scenario *pops)
{
    for (int c = 0; c < FL_LG_NCOLS; c++)
        fprintf(f, "%s%s", c ? "," : "", fl_lg_csv_names[c]);
    for (size_t i = 0; pops && i < pops->npopulations; i++)
        for (int k = 0; k < FL_LG_NPOPCOLS; k++)
            fprintf(f, ",pop_%s_%s", pops->populations[i].name, fl_lg_csv_pop_suffixes[k]);
    fputc('\n', f);
    fflush(f);
}

/* Cell values; an unknown figure is an empty cell. */
static void put_count(FILE *f, int64_t v)
{
    if (v != FL_NA)
        fprintf(f, "%" PRId64, v);
}

static void put_ratio(FILE *f, double v)
{
    if (!isnan(v))
        fprintf(f, "%.4f", v);
}

static int64_t percentile(const struct fl_hist *h, double p)
{
    return fl_hist_count(h) > 0 ? fl_hist_value_at_percentile(h, p) : FL_NA;
}

/* One fixed cell, without its separator. The switch names every column of
 * columns.h (-Wswitch): a column added there does not build until it has a
 * value here. */
static void put_cell(FILE *f, enum fl_lg_col c, const struct fl_lg_row *r)
{
    const struct fl_lg_tally *t = r->tally;
    const struct fl_lg_sample *s = r->sample;
    switch (c) {
    case FL_LG_COL_t_s:
        fprintf(f, "%.3f", r->t_s);
        return;
    case FL_LG_COL_phase:
        fputs(r->phase, f);
        return;
    case FL_LG_COL_warmup:
        fputc(r->warmup ? '1' : '0', f);
        return;
    case FL_LG_COL_requests:
        fprintf(f, "%" PRIu64, t->c.requests);
        return;
    case FL_LG_COL_rps:
        fprintf(f, "%.1f", r->seconds > 0 ? (double)t->c.requests / r->seconds : 0.0);
        return;
    case FL_LG_COL_errors:
        fprintf(f, "%" PRIu64, fl_lg_counts_errors(&t->c));
        return;
    case FL_LG_COL_unavailable:
        fprintf(f, "%" PRIu64, t->c.errors[FL_LG_ERR_unavailable]);
        return;
    case FL_LG_COL_p50_us:
        put_count(f, percentile(&t->lat, 50));
        return;
    case FL_LG_COL_p90_us:
        put_count(f, percentile(&t->lat, 90));
        return;
    case FL_LG_COL_p99_us:
        put_count(f, percentile(&t->lat, 99));
        return;
    case FL_LG_COL_max_us:
        put_count(f, fl_hist_count(&t->lat) > 0 ? fl_hist_max(&t->lat) : FL_NA);
        return;
#define MEMORY(field, metric, help)                                                                \
    case FL_LG_COL_##field##_bytes:                                                                \
        put_count(f, s->field);                                                                    \
        return;
        FL_LG_CSV_MEMORY(MEMORY)
#undef MEMORY
#define SERVER(col, field, kind)                                                                   \
    case FL_LG_COL_##col:                                                                          \
        put_##kind(f, s->field);                                                                   \
        return;
        FL_LG_CSV_SERVER(SERVER)
#undef SERVER
    case FL_LG_NCOLS:
        return;
    }
}

/* A population's cells, FL_LG_CSV_POP's suffixes. */
static uint64_t pop_open(const struct fl_lg_tally *t, size_t i)
{
    return t->pop_open[i];
}

static uint64_t pop_opened(const struct fl_lg_tally *t, size_t i)
{
    return t->c.pop_opened[i];
}

static uint64_t pop_requests(const struct fl_lg_tally *t, size_t i)
{
    return t->c.pop_requests[i];
}

int fl_lg_csv_row(FILE *f, const struct fl_lg_row *r)
{
    for (int c = 0; c < FL_LG_NCOLS; c++) {
        if (c)
            fputc(',', f);
        put_cell(f, (enum fl_lg_col)c, r);
    }
    for (size_t i = 0; i < r->npop; i++) {
#define FL_X(suffix) fprintf(f, ",%" PRIu64, pop_##suffix(r->tally, i));
        FL_LG_CSV_POP(FL_X)
#undef FL_X
    }
    fputc('\n', f);
    return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

/* "812us", "1.25ms", "2.10s" */
static void fmt_us(char *b, size_t n, int64_t us)
{
    if (us < 1000)
        snprintf(b, n, "%" PRId64 "us", us);
    else if (us < 1000000)
        snprintf(b, n, "%.2fms", (double)us / 1e3);
    else
        snprintf(b, n, "%.2fs", (double)us / 1e6);
}

static void fmt_bytes(char *b, size_t n, int64_t v)
{
    if (v == FL_NA)
        snprintf(b, n, "n/a");
    else if (v < 1024 * 1024)
        snprintf(b, n, "%.1f KiB", (double)v / 1024);
    else if (v < (int64_t)1 << 30)
        snprintf(b, n, "%.1f MiB", (double)v / (1024 * 1024));
    else
        snprintf(b, n, "%.2f GiB", (double)v / (1024.0 * 1024 * 1024));
}

void fl_lg_progress(FILE *f, bool tty, const struct fl_lg_row *r, double duration_s)
{
    const struct fl_lg_tally *t = r->tally;
    char p99[32], rss[32];
    fmt_us(p99, sizeof(p99), fl_hist_value_at_percentile(&t->lat, 99));
    fmt_bytes(rss, sizeof(rss), r->sample->rss);
    fprintf(f, "%s%7.1fs/%.0fs  %-10s %9.0f req/s  p99 %-9s  rss %-11s  errors %" PRIu64 "%s%s",
            tty ? "\r" : "", r->t_s, duration_s, r->phase,
            r->seconds > 0 ? (double)t->c.requests / r->seconds : 0.0, p99, rss,
            fl_lg_counts_errors(&t->c), r->warmup ? "  (warm-up)" : "", tty ? "\033[K" : "\n");
    fflush(f);
}

int fl_lg_hgrm_write(const char *dir, const char *name, const struct fl_hist *h)
{
    char path[4096 + 64];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    int rc = f ? fl_hist_write_percentiles(h, f, 5, 1000.0) : -errno;
    if (f && fclose(f) != 0 && !rc)
        rc = -EIO;
    if (rc)
        fprintf(stderr, "fraglab-loadgen: %s: %s\n", path, strerror(-rc));
    return rc;
}

/* ------------------------------------------------------------ summary.json */

static void add_lat(cJSON *o, const char *name, const struct fl_hist *h)
{
    cJSON *l = cJSON_AddObjectToObject(o, name);
    static const struct {
        const char *key;
        double p;
    } ps[] = {{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p999", 99.9}};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
        cJSON_AddNumberToObject(l, ps[i].key, (double)fl_hist_value_at_percentile(h, ps[i].p));
    cJSON_AddNumberToObject(l, "max", (double)fl_hist_max(h));
    cJSON_AddNumberToObject(l, "mean", fl_hist_mean(h));
    cJSON_AddNumberToObject(l, "stddev", fl_hist_stddev(h));
    cJSON_AddNumberToObject(l, "count", (double)fl_hist_count(h));
}

static void add_i64(cJSON *o, const char *k, int64_t v)
{
    if (v == FL_NA)
        cJSON_AddNullToObject(o, k);
    else
        cJSON_AddNumberToObject(o, k, (double)v);
}

static void add_str_or_null(cJSON *o, const char *k, const char *v)
{
    if (v && *v)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static void add_server(cJSON *root, const struct fl_lg_result *r)
{
    cJSON *o = cJSON_AddObjectToObject(root, "server");
    const struct fl_lg_server_info *in = r->info;
    add_i64(o, "pid", r->server_pid ? r->server_pid : in->known ? in->pid : FL_NA);
    add_str_or_null(o, "mode", in->mode);
    add_str_or_null(o, "allocator", in->allocator);
    add_str_or_null(o, "allocator_version", in->version);
    add_str_or_null(o, "free_policy", in->free_policy);
    add_i64(o, "threads", in->known ? in->threads : FL_NA);
    add_i64(o, "rss_peak_bytes", r->rss_peak);
    const struct fl_lg_sample *s = r->last;
    struct fl_lg_sample none;
    if (!s) {
        fl_lg_sample_clear(&none);
        s = &none;
    }
    /* The last sample's figures under the CSV's names; the process's own
     * say "final" beside rss_peak_bytes. */
#define FL_X(field, metric, help) add_i64(o, #field "_final_bytes", s->field);
    FL_PROCMEM_FIELDS(FL_X)
#undef FL_X
#define FL_X(field, metric, help) add_i64(o, #field "_bytes", s->field);
    FL_ALLOCATOR_FIELDS(FL_X)
#undef FL_X
    if (isnan(s->frag_ratio))
        cJSON_AddNullToObject(o, "frag_ratio");
    else
        cJSON_AddNumberToObject(o, "frag_ratio", s->frag_ratio);
    add_i64(o, "cross_thread_frees", s->cross_thread_frees);
    if (isnan(s->cross_share))
        cJSON_AddNullToObject(o, "cross_thread_free_share");
    else
        cJSON_AddNumberToObject(o, "cross_thread_free_share", s->cross_share);
    add_i64(o, "task_migrations", s->task_migrations);
}

/* How the connection mix held: each population's slots, and what they did
 * after the warm-up (open: mean of the measured load rows). */
static void add_populations(cJSON *root, const struct fl_lg_result *r)
{
    cJSON *a = cJSON_AddArrayToObject(root, "populations");
    uint8_t *pops = r->npop ? malloc(r->s->connections) : NULL;
    if (pops)
        fl_scenario_assign_populations(r->s, r->s->connections, pops);
    for (size_t i = 0; pops && i < r->npop; i++) {
        uint32_t slots = 0;
        for (uint32_t k = 0; k < r->s->connections; k++)
            slots += pops[k] == i;
        const struct fl_lg_counts *c = &r->total->c;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", r->s->populations[i].name);
        cJSON_AddNumberToObject(o, "share", r->s->populations[i].share);
        cJSON_AddNumberToObject(o, "slots", slots);
        cJSON_AddNumberToObject(o, "connections_open_mean", r->pop_open_mean[i]);
        cJSON_AddNumberToObject(o, "connections_opened", (double)c->pop_opened[i]);
        cJSON_AddNumberToObject(o, "requests", (double)c->pop_requests[i]);
        cJSON_AddItemToArray(a, o);
    }
    free(pops);
}

static void add_manifest(cJSON *root, const struct fl_lg_result *r)
{
    fl_lg_manifest_run(cJSON_AddObjectToObject(root, "manifest"), r);
}

const char *fl_lg_stop_name(enum fl_lg_stop why)
{
    static const char *const names[] = {
        [FL_LG_STOP_DURATION] = "duration",
        [FL_LG_STOP_MAX_REQUESTS] = "max_requests",
        [FL_LG_STOP_INTERRUPTED] = "interrupted",
        [FL_LG_STOP_ERROR_THRESHOLD] = "error_threshold",
    };
    return (unsigned)why < sizeof(names) / sizeof(names[0]) ? names[why] : "unknown";
}

int fl_lg_summary_write(const char *path, const struct fl_lg_result *r)
{
    const struct fl_lg_counts *c = &r->total->c;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return -ENOMEM;
    cJSON_AddStringToObject(root, "scenario", r->s->name);
    cJSON_AddBoolToObject(root, "interrupted", r->interrupted);
    cJSON_AddStringToObject(root, "stop_reason", fl_lg_stop_name(r->stop_reason));
    cJSON_AddStringToObject(root, "loop", r->open_loop ? "open" : "closed");
    cJSON_AddNumberToObject(root, "elapsed_s", r->elapsed_s);
    cJSON_AddNumberToObject(root, "measured_s", r->measured_s);
    cJSON_AddNumberToObject(root, "intervals", (double)r->intervals);
    cJSON_AddNumberToObject(root, "requests", (double)c->requests);
    cJSON_AddNumberToObject(root, "ok", (double)c->ok);
    cJSON *e = cJSON_AddObjectToObject(root, "errors");
    cJSON_AddNumberToObject(e, "total", (double)fl_lg_counts_errors(c));
    for (int i = 0; i < FL_LG_NERR; i++)
        cJSON_AddNumberToObject(e, fl_lg_err_names[i], (double)c->errors[i]);
    cJSON_AddNumberToObject(root, "mismatches", (double)c->errors[FL_LG_ERR_mismatch]);
    cJSON_AddNumberToObject(root, "unfinished", (double)r->unfinished);
    cJSON_AddNumberToObject(root, "throughput_rps",
                            r->measured_s > 0 ? (double)c->requests / r->measured_s : 0);
    cJSON_AddNumberToObject(root, "connections_opened", (double)c->connections);
    add_populations(root, r);
    cJSON_AddNumberToObject(root, "retried", (double)c->retried);
    cJSON_AddNumberToObject(root, "bytes_sent", (double)c->bytes_sent);
    cJSON_AddNumberToObject(root, "bytes_received", (double)c->bytes_received);
    add_lat(root, "latency_us", &r->total->lat);
    if (r->open_loop)
        add_lat(root, "latency_uncorrected_us", &r->total->lat_unc);
    add_server(root, r);
    add_manifest(root, r);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return -ENOMEM;
    int rc = 0;
    FILE *f = fopen(path, "w");
    if (!f)
        rc = -errno;
    else {
        fputs(text, f);
        fputc('\n', f);
        if (fclose(f) != 0)
            rc = -EIO;
    }
    free(text);
    return rc;
}

/* ------------------------------------------------------------ the summary */

static void print_lat(FILE *f, const char *title, const struct fl_hist *h)
{
    char a[32], b[32], c[32], d[32], m[32];
    fmt_us(a, sizeof(a), fl_hist_value_at_percentile(h, 50));
    fmt_us(b, sizeof(b), fl_hist_value_at_percentile(h, 90));
    fmt_us(c, sizeof(c), fl_hist_value_at_percentile(h, 99));
    fmt_us(d, sizeof(d), fl_hist_value_at_percentile(h, 99.9));
    fmt_us(m, sizeof(m), fl_hist_max(h));
    fprintf(f, "  %-22s p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n", title, a, b, c, d, m);
}

void fl_lg_summary_print(FILE *f, const struct fl_lg_result *r)
{
    const struct fl_lg_counts *c = &r->total->c;
    fprintf(f, "\n%s: %s against %s, %u connections on %u threads, %s loop",
            r->interrupted ? "interrupted" : "done", r->s->name, r->target, r->s->connections,
            r->s->threads, r->open_loop ? "open" : "closed");
    if (r->open_loop)
        fprintf(f, " at %.0f req/s", r->s->rate);
    fprintf(f, "\n  %.1f s measured (after %.1f s of warm-up), stopped by %s\n", r->measured_s,
            (double)r->s->warmup / 1e9, fl_lg_stop_name(r->stop_reason));
    fprintf(f, "  %" PRIu64 " requests, %.1f req/s, %" PRIu64 " connections opened\n", c->requests,
            r->measured_s > 0 ? (double)c->requests / r->measured_s : 0.0, c->connections);
    print_lat(f, r->open_loop ? "latency (corrected)" : "latency", &r->total->lat);
    if (r->open_loop)
        print_lat(f, "latency (uncorrected)", &r->total->lat_unc);
    uint64_t errs = fl_lg_counts_errors(c);
    fprintf(f, "  errors %" PRIu64, errs);
    for (int i = 0; i < FL_LG_NERR; i++)
        if (c->errors[i])
            fprintf(f, "  %s %" PRIu64, fl_lg_err_names[i], c->errors[i]);
    fputc('\n', f);
    const struct fl_lg_server_info *in = r->info;
    if (in->known)
        fprintf(f, "  server: %s mode, %s %s, %" PRId64 " threads\n", in->mode, in->allocator,
                in->version, in->threads);
    if (r->last) {
        char peak[32], fin[32], alloc[32];
        fmt_bytes(peak, sizeof(peak), r->rss_peak);
        fmt_bytes(fin, sizeof(fin), r->last->rss);
        fmt_bytes(alloc, sizeof(alloc), r->last->allocated);
        fprintf(f, "  server memory: rss peak %s, final %s, allocated %s\n", peak, fin, alloc);
    }
}
