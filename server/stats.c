/* stats.c - /stats JSON and /metrics Prometheus text from one view. Every
 * list (counters, memory figures, options) is walked through its X-macro, so
 * a new entry shows up in both outputs without an edit here. /stats's
 * "host" (kernel, CPUs, THP mode) is read from the system as it is
 * rendered. Both renderers return NULL when memory runs out; the route
 * answers 503 then. */
#include "stats.h"

#include <cjson/cJSON.h>
#include <gnu/libc-version.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The counter list as data, so renderers can loop over it. Pasting the type
 * token makes a misspelt type in FL_COUNTERS a compile error. */
enum kind { KIND_counter, KIND_gauge };

enum counter_id {
#define FL_X(field, metric, type, help) CTR_##field,
    FL_COUNTERS(FL_X)
#undef FL_X
        NCOUNTERS
};

static const struct {
    const char *metric;
    const char *help;
    enum kind kind;
} counters[NCOUNTERS] = {
#define FL_X(field, metric, type, help) [CTR_##field] = {metric, help, KIND_##type},
    FL_COUNTERS(FL_X)
#undef FL_X
};

static const char *const kind_names[] = {[KIND_counter] = "counter", [KIND_gauge] = "gauge"};

/* Allocation failures by kind: one labelled family, fraglab_alloc_failures_total. */
static const char *const alloc_kinds[FL_NOOM] = {
#define FL_X(kind, what) [FL_OOM_##kind] = #kind,
    FL_OOM_KINDS(FL_X)
#undef FL_X
};

/* A snapshot's columns: the counters, then the failures by kind. */
#define NCOLS (NCOUNTERS + FL_NOOM)
#define COL_FAIL(k) (NCOUNTERS + (k))

/* FL_READ wants the field's name, so the index is turned back into one. */
static int64_t read_counter(const struct fl_counters *c, enum counter_id id)
{
    switch (id) {
#define FL_X(field, metric, type, help)                                                            \
    case CTR_##field:                                                                              \
        return FL_READ(c, field);
        FL_COUNTERS(FL_X)
#undef FL_X
    case NCOUNTERS:
        break;
    }
    abort();
}

/* Workers keep counting while we render. Reading every counter once, into
 * one snapshot, keeps a document self-consistent: its totals are exactly the
 * sum of its per-worker figures. */
struct snapshot {
    int64_t (*w)[NCOLS]; /* [nworkers][NCOLS] */
    int64_t total[NCOLS];
};

static bool snapshot_take(struct snapshot *s, const struct fl_stats_view *v)
{
    size_t n = v->nworkers > 0 ? (size_t)v->nworkers : 1;
    s->w = calloc(n, sizeof(*s->w));
    if (!s->w)
        return false;
    memset(s->total, 0, sizeof(s->total));
    for (int w = 0; w < v->nworkers; w++) {
        for (int i = 0; i < NCOUNTERS; i++)
            s->w[w][i] = read_counter(v->workers[w].ctr, (enum counter_id)i);
        for (int k = 0; k < FL_NOOM; k++)
            s->w[w][COL_FAIL(k)] = FL_READ(v->workers[w].ctr, alloc_failures[k]);
        for (int i = 0; i < NCOLS; i++)
            s->total[i] += s->w[w][i];
    }
    return true;
}

static double ratio(int64_t num, int64_t den)
{
    return den > 0 ? (double)num / (double)den : 0.0;
}

/* Relaxed reads are not one instant: a free landing between the reads of
 * buffer_frees and cross_thread_frees can push the share past 1 for a moment. */
static double cross_thread_share(const struct snapshot *s)
{
    double share = ratio(s->total[CTR_cross_thread_frees], s->total[CTR_buffer_frees]);
    return share > 1.0 ? 1.0 : share;
}

/* Held only if every worker's affinity was set and read back; with no pinned
 * worker at all (ws mode) it did not hold either. */
static bool pinning_held(const struct fl_stats_view *v)
{
    if (v->nworkers <= 0)
        return false;
    for (int i = 0; i < v->nworkers; i++)
        if (!v->workers[i].pinned)
            return false;
    return true;
}

/* ---- JSON -------------------------------------------------------------- */

/* cJSON's adders return NULL when out of memory (or when the parent is NULL
 * because its own creation failed); `ok` collects that so a partial document
 * is never served. */
static void need(const void *item, bool *ok)
{
    if (!item)
        *ok = false;
}

static void add_int(cJSON *o, const char *key, int64_t x, bool *ok)
{
    /* A double holds integers exactly up to 2^53 bytes or events: enough. */
    need(cJSON_AddNumberToObject(o, key, (double)x), ok);
}

static void add_figure(cJSON *o, const char *key, int64_t x, bool *ok)
{
    if (x == FL_NA)
        need(cJSON_AddNullToObject(o, key), ok);
    else
        add_int(o, key, x, ok);
}

static void add_real(cJSON *o, const char *key, double x, bool *ok)
{
    if (isfinite(x))
        need(cJSON_AddNumberToObject(o, key, x), ok);
    else
        need(cJSON_AddNullToObject(o, key), ok);
}

static void add_str(cJSON *o, const char *key, const char *s, bool *ok)
{
    need(cJSON_AddStringToObject(o, key, s), ok);
}

/* environment: {NAME: value} from the allocator layer's "NAME=value\n" lines. */
static void json_environment(cJSON *o, const char *lines, bool *ok)
{
    cJSON *env = cJSON_AddObjectToObject(o, "environment");
    need(env, ok);
    while (env && *lines) {
        size_t len = strcspn(lines, "\n");
        const char *eq = memchr(lines, '=', len);
        if (eq) {
            char name[256], value[1024];
            snprintf(name, sizeof(name), "%.*s", (int)(eq - lines), lines);
            snprintf(value, sizeof(value), "%.*s", (int)(len - (size_t)(eq - lines) - 1), eq + 1);
            add_str(env, name, value, ok);
        }
        lines += len + (lines[len] == '\n');
    }
}

static void add_str_or_null(cJSON *o, const char *key, const char *s, bool *ok)
{
    if (s)
        add_str(o, key, s, ok);
    else
        need(cJSON_AddNullToObject(o, key), ok);
}

/* host: what the machine ran with as this document was rendered. Read here,
 * not kept in the view: THP can be switched while the server runs, and a
 * results manifest wants the mode in force during the run it describes. */
static void json_host(cJSON *root, bool *ok)
{
    cJSON *o = cJSON_AddObjectToObject(root, "host");
    struct utsname u;
    bool named = uname(&u) == 0;
    add_str_or_null(o, "kernel", named ? u.release : NULL, ok);
    add_str_or_null(o, "kernel_version", named ? u.version : NULL, ok);
    add_str_or_null(o, "machine", named ? u.machine : NULL, ok);
    add_int(o, "cpus_online", sysconf(_SC_NPROCESSORS_ONLN), ok);
    need(cJSON_AddStringToObject(o, "glibc_version", gnu_get_libc_version()), ok);
    /* The process's mask, as the main thread holds it: the worker rendering
     * this may be pinned to one CPU. */
    cpu_set_t set;
    if (sched_getaffinity(getpid(), sizeof(set), &set) == 0)
        add_int(o, "cpus_allowed", CPU_COUNT(&set), ok);
    else
        need(cJSON_AddNullToObject(o, "cpus_allowed"), ok);
    char a[64], b[64];
    add_str_or_null(o, "thp_enabled", fl_procmem_thp("enabled", a, sizeof(a)), ok);
    add_str_or_null(o, "thp_defrag", fl_procmem_thp("defrag", b, sizeof(b)), ok);
}

static void json_allocator(cJSON *root, const struct fl_alloc_info *a, bool *ok)
{
    if (!a) {
        need(cJSON_AddNullToObject(root, "allocator"), ok);
        return;
    }
    cJSON *o = cJSON_AddObjectToObject(root, "allocator");
    add_str(o, "name", a->name, ok);
    add_str(o, "version", a->version, ok);
    add_str(o, "library", a->library, ok);
    add_str(o, "requested", a->requested, ok);
    add_str(o, "settings", a->settings, ok);
    json_environment(o, a->environment, ok);
}

static void json_memory(cJSON *root, const struct fl_alloc_stats *m, bool *ok)
{
    if (!m) {
        need(cJSON_AddNullToObject(root, "memory"), ok);
        return;
    }
    cJSON *o = cJSON_AddObjectToObject(root, "memory");
#define FL_X(field, name, help) add_figure(o, name, m->field, ok);
    FL_ALLOC_STATS_FIELDS(FL_X)
#undef FL_X
    add_real(o, "frag_ratio", m->frag_ratio, ok);
    add_str(o, "frag_basis", m->frag_basis ? m->frag_basis : "n/a", ok);
}

/* alloc_failures_total (their sum) and alloc_failures: {kind: n}. */
static void json_alloc_failures(cJSON *o, const int64_t *row, bool *ok)
{
    int64_t sum = 0;
    for (int k = 0; k < FL_NOOM; k++)
        sum += row[COL_FAIL(k)];
    add_int(o, "alloc_failures_total", sum, ok);
    cJSON *by = cJSON_AddObjectToObject(o, "alloc_failures");
    need(by, ok);
    for (int k = 0; by && k < FL_NOOM; k++)
        add_int(by, alloc_kinds[k], row[COL_FAIL(k)], ok);
}

static void json_totals(cJSON *root, const struct snapshot *s, bool *ok)
{
    cJSON *o = cJSON_AddObjectToObject(root, "totals");
    for (int i = 0; i < NCOUNTERS; i++)
        add_int(o, counters[i].metric, s->total[i], ok);
    json_alloc_failures(o, s->total, ok);
    add_real(o, "cross_thread_free_share", cross_thread_share(s), ok);
    add_real(o, "migrations_per_request",
             ratio(s->total[CTR_task_migrations], s->total[CTR_requests]), ok);
}

static void json_workers(cJSON *root, const struct fl_stats_view *v, const struct snapshot *s,
                         bool *ok)
{
    cJSON *arr = cJSON_AddArrayToObject(root, "workers");
    need(arr, ok);
    for (int w = 0; arr && w < v->nworkers; w++) {
        const struct fl_stats_worker *sw = &v->workers[w];
        cJSON *o = cJSON_CreateObject();
        add_int(o, "worker", sw->id, ok);
        if (sw->cpu >= 0)
            add_int(o, "cpu", sw->cpu, ok);
        else
            need(cJSON_AddNullToObject(o, "cpu"), ok);
        need(cJSON_AddBoolToObject(o, "pinned", sw->pinned), ok);
        for (int i = 0; i < NCOUNTERS; i++)
            add_int(o, counters[i].metric, s->w[w][i], ok);
        json_alloc_failures(o, s->w[w], ok);
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o); /* not attached, so not freed with the root */
            *ok = false;
        }
    }
}

static void json_config(cJSON *root, const struct fl_server_config *c, bool *ok)
{
    cJSON *o = cJSON_AddObjectToObject(root, "config");
#define CFG_JSON_STR(name) add_str(o, #name, c->name, ok);
#define CFG_JSON_INT(name) add_int(o, #name, c->name, ok);
#define CFG_JSON_SIZE(name) add_int(o, #name, c->name, ok);
#define CFG_JSON_TIME(name) add_int(o, #name "_ms", c->name, ok);
#define FL_X(kind, name, def, help) CFG_JSON_##kind(name)
    FL_SERVER_OPTIONS(FL_X)
#undef FL_X
#undef CFG_JSON_STR
#undef CFG_JSON_INT
#undef CFG_JSON_SIZE
#undef CFG_JSON_TIME
}

char *fl_stats_json(const struct fl_stats_view *v, size_t *len)
{
    struct snapshot s;
    if (!snapshot_take(&s, v))
        return NULL;
    bool ok = true;
    cJSON *root = cJSON_CreateObject();
    add_str(root, "mode", v->cfg->mode, &ok);
    add_int(root, "pid", v->pid, &ok);
    add_real(root, "uptime_s", v->uptime_s, &ok);
    add_int(root, "threads", v->nworkers, &ok);
    add_str(root, "free_policy", v->cfg->free_policy, &ok);
    cJSON *pinning = cJSON_AddObjectToObject(root, "pinning");
    need(cJSON_AddBoolToObject(pinning, "held", pinning_held(v)), &ok);
    json_allocator(root, v->alloc, &ok);
    json_memory(root, v->mem, &ok);
    json_totals(root, &s, &ok);
    json_workers(root, v, &s, &ok);
    json_config(root, v->cfg, &ok);
    json_host(root, &ok);
    free(s.w);

    /* cJSON allocates with malloc (no hooks installed), so the caller's
     * free() matches. */
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (text && len)
        *len = strlen(text);
    return text;
}

/* ---- Prometheus text format 0.0.4 -------------------------------------- */

struct sbuf {
    char *p;
    size_t len, cap;
    bool failed; /* out of memory: later appends do nothing */
};

static bool grow(struct sbuf *b, size_t need_cap)
{
    size_t cap = b->cap;
    while (cap < need_cap)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

static void put(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct sbuf *b, const char *fmt, ...)
{
    while (!b->failed) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
        } else if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        } else {
            grow(b, b->len + (size_t)n + 1);
        }
    }
}

/* Label values escape backslash, double quote and newline; HELP text only
 * backslash and newline (format 0.0.4). */
static void put_escaped(struct sbuf *b, const char *s, bool label)
{
    const char *special = label ? "\\\"\n" : "\\\n";
    for (;;) {
        size_t n = strcspn(s, special);
        put(b, "%.*s", (int)n, s);
        s += n;
        if (!*s)
            return;
        put(b, "%s", *s == '\n' ? "\\n" : *s == '"' ? "\\\"" : "\\\\");
        s++;
    }
}

/* HELP and TYPE once per family, right before its samples. */
static void family(struct sbuf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP fraglab_%s ", name);
    put_escaped(b, help, false);
    put(b, "\n# TYPE fraglab_%s %s\n", name, type);
}

static void put_gauge(struct sbuf *b, const char *name, const char *help, double x)
{
    family(b, name, "gauge", help);
    put(b, "fraglab_%s %.15g\n", name, x);
}

/* Counters per worker (rate() works on each); gauges summed, as a gauge such
 * as connections_open can move on several workers in ws mode. */
static void prom_counters(struct sbuf *b, const struct fl_stats_view *v, const struct snapshot *s)
{
    for (int i = 0; i < NCOUNTERS; i++) {
        family(b, counters[i].metric, kind_names[counters[i].kind], counters[i].help);
        if (counters[i].kind == KIND_gauge) {
            put(b, "fraglab_%s %" PRId64 "\n", counters[i].metric, s->total[i]);
            continue;
        }
        for (int w = 0; w < v->nworkers; w++)
            put(b, "fraglab_%s{worker=\"%d\"} %" PRId64 "\n", counters[i].metric, v->workers[w].id,
                s->w[w][i]);
    }
}

static void prom_alloc_failures(struct sbuf *b, const struct fl_stats_view *v,
                                const struct snapshot *s)
{
    family(b, "alloc_failures_total", "counter",
           "Allocations a client sized that failed: the request was answered 503 and its "
           "connection closed");
    for (int w = 0; w < v->nworkers; w++)
        for (int k = 0; k < FL_NOOM; k++)
            put(b, "fraglab_alloc_failures_total{worker=\"%d\",kind=\"%s\"} %" PRId64 "\n",
                v->workers[w].id, alloc_kinds[k], s->w[w][COL_FAIL(k)]);
}

static void prom_pinning(struct sbuf *b, const struct fl_stats_view *v)
{
    family(b, "worker_pinned", "gauge",
           "1 if the worker's CPU affinity was set and read back as that one CPU");
    for (int w = 0; w < v->nworkers; w++) {
        const struct fl_stats_worker *sw = &v->workers[w];
        /* An empty label value means "no CPU" to Prometheus. */
        put(b, "fraglab_worker_pinned{worker=\"%d\",cpu=\"", sw->id);
        if (sw->cpu >= 0)
            put(b, "%d", sw->cpu);
        put(b, "\"} %d\n", sw->pinned ? 1 : 0);
    }
}

static void put_figure(struct sbuf *b, const char *name, const char *help, int64_t x)
{
    if (x == FL_NA)
        return; /* absent, not 0: the allocator has no such figure */
    family(b, name, "gauge", help);
    put(b, "fraglab_%s %" PRId64 "\n", name, x);
}

static void prom_memory(struct sbuf *b, const struct fl_alloc_stats *m)
{
    if (!m)
        return;
#define FL_X(field, name, help) put_figure(b, name, help, m->field);
    FL_ALLOC_STATS_FIELDS(FL_X)
#undef FL_X
    if (isfinite(m->frag_ratio))
        put_gauge(b, "frag_ratio", "(resident - allocated) / allocated", m->frag_ratio);
}

static void prom_info(struct sbuf *b, const struct fl_stats_view *v)
{
    family(b, "info", "gauge", "Runtime mode and the allocator the server really runs on");
    put(b, "fraglab_info{mode=\"");
    put_escaped(b, v->cfg->mode, true);
    put(b, "\",allocator=\"");
    put_escaped(b, v->alloc ? v->alloc->name : "unknown", true);
    put(b, "\",version=\"");
    put_escaped(b, v->alloc ? v->alloc->version : "", true);
    put(b, "\"} 1\n");
}

char *fl_stats_prometheus(const struct fl_stats_view *v, size_t *len)
{
    struct snapshot s;
    if (!snapshot_take(&s, v))
        return NULL;
    struct sbuf b = {.cap = 16384};
    b.p = malloc(b.cap);
    b.failed = !b.p;

    prom_info(&b, v);
    put_gauge(&b, "uptime_seconds", "Seconds since the server started", v->uptime_s);
    prom_pinning(&b, v);
    prom_counters(&b, v, &s);
    prom_alloc_failures(&b, v, &s);
    put_gauge(&b, "cross_thread_free_share",
              "Share of buffer frees done on another worker than the allocating one",
              cross_thread_share(&s));
    prom_memory(&b, v->mem);
    free(s.w);

    if (b.failed) {
        free(b.p);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.p;
}
