/* test_stats_render.c - /stats JSON and /metrics text rendered from a view
 * with known values: totals are sums over workers, FL_NA figures are null in
 * JSON and absent from Prometheus, every exposition line is well-formed, each
 * family has HELP and TYPE once and before its samples, label values are
 * escaped. Lists are walked with the same X-macros the renderer uses, so a
 * new counter, figure or option is checked without editing this file. */
#include "stats.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NW 2
#define VERSION_RAW "5.3.0 \"quoted\" back\\slash\nline"
#define VERSION_ESCAPED "5.3.0 \\\"quoted\\\" back\\\\slash\\nline"

static struct {
    struct fl_server_config cfg;
    struct fl_alloc_info alloc;
    struct fl_alloc_stats mem;
    struct fl_counters ctr[NW];
    struct fl_stats_worker workers[NW];
    struct fl_stats_view view;
} fx;

/* Every counter gets a value distinct per counter and per worker, so a sum
 * over the wrong field or over one worker only shows; a few are then set to
 * round numbers for the derived ratios. */
static void fill_counters(void)
{
    int64_t k = 1;
    for (int w = 0; w < NW; w++) {
#define FL_X(field, metric, type, help) atomic_store(&fx.ctr[w].field, 1000 * k++ + w);
        FL_COUNTERS(FL_X)
#undef FL_X
    }
    /* Allocation failures: worker w, kind j has 10 * j + w (hold 0 and 1). */
    for (int w = 0; w < NW; w++)
        for (int j = 0; j < FL_NOOM; j++)
            atomic_store(&fx.ctr[w].alloc_failures[j], 10 * j + w);
    atomic_store(&fx.ctr[0].requests, 100);
    atomic_store(&fx.ctr[1].requests, 50);
    atomic_store(&fx.ctr[0].buffer_frees, 40);
    atomic_store(&fx.ctr[1].buffer_frees, 60);
    atomic_store(&fx.ctr[0].cross_thread_frees, 10);
    atomic_store(&fx.ctr[1].cross_thread_frees, 15);
    atomic_store(&fx.ctr[0].task_migrations, 30);
    atomic_store(&fx.ctr[1].task_migrations, 0);
    atomic_store(&fx.ctr[0].connections_open, 3);  /* ws: opened here ... */
    atomic_store(&fx.ctr[1].connections_open, -1); /* ... closed there */
}

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof(fx));
    strcpy(fx.cfg.mode, "tpc");
    strcpy(fx.cfg.free_policy, "local");
    strcpy(fx.cfg.bind, "127.0.0.1");
    fx.cfg.threads = NW;
    fx.cfg.port = 8080;
    fx.cfg.max_body = 1048576;

    fx.alloc.kind = FL_ALLOC_JEMALLOC;
    strcpy(fx.alloc.name, "jemalloc");
    strcpy(fx.alloc.version, VERSION_RAW);
    strcpy(fx.alloc.library, "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2");
    strcpy(fx.alloc.requested, "jemalloc:dirty_decay_ms:0");
    strcpy(fx.alloc.settings, "MALLOC_CONF=dirty_decay_ms:0");
    strcpy(fx.alloc.environment, "MALLOC_CONF=dirty_decay_ms:0,narenas:2\nX=a=b\n");

    /* As a jemalloc server: its own breakdown present, every other
     * allocator's n/a. */
#define FL_X(field, metric, help) fx.mem.field = FL_NA;
    FL_ALLOC_STATS_FIELDS(FL_X)
#undef FL_X
    fx.mem.rss = 1000000;
    fx.mem.rss_anon = 800000;
    fx.mem.anon_huge = 0;
    fx.mem.allocated = 500000;
    fx.mem.active = 600000;
    fx.mem.resident = 700000;
    fx.mem.metadata = 12345;
    fx.mem.je_dirty = 81920;
    fx.mem.je_muzzy = 0;
    fx.mem.je_tcache = 4567;
    fx.mem.frag_ratio = 0.4;
    fx.mem.frag_basis = "allocator";

    fill_counters();
    for (int w = 0; w < NW; w++)
        fx.workers[w] = (struct fl_stats_worker){w, 2 * w, true, &fx.ctr[w]};
    fx.view = (struct fl_stats_view){&fx.cfg, &fx.alloc, &fx.mem, fx.workers, NW, 4242, 12.5};
    return 0;
}

/* The view a ws server would show: nothing pinned, allocator unknown, no
 * fragmentation figure. */
static void make_unpinned(void)
{
    strcpy(fx.cfg.mode, "ws");
    for (int w = 0; w < NW; w++)
        fx.workers[w] = (struct fl_stats_worker){w, -1, false, &fx.ctr[w]};
    fx.view.alloc = NULL;
    fx.mem.frag_ratio = NAN;
    fx.mem.frag_basis = "n/a";
}

/* ---- JSON helpers ------------------------------------------------------- */

static const cJSON *get(const cJSON *o, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!item)
        fail_msg("missing key \"%s\"", key);
    return item;
}

static void assert_num(const cJSON *o, const char *key, double want)
{
    const cJSON *item = get(o, key);
    if (!cJSON_IsNumber(item) || fabs(item->valuedouble - want) > 1e-9)
        fail_msg("\"%s\": want %g, got %s", key, want, cJSON_PrintUnformatted(item));
}

static void assert_str(const cJSON *o, const char *key, const char *want)
{
    const cJSON *item = get(o, key);
    assert_true(cJSON_IsString(item));
    assert_string_equal(item->valuestring, want);
}

static cJSON *render_json(void)
{
    size_t len = 0;
    char *text = fl_stats_json(&fx.view, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    assert_null(strchr(text, '\n')); /* compact */
    cJSON *root = cJSON_Parse(text);
    if (!root)
        fail_msg("not JSON: %s", text);
    free(text);
    return root;
}

static int64_t sum(const _Atomic int64_t *w0, const _Atomic int64_t *w1)
{
    return atomic_load(w0) + atomic_load(w1);
}

/* ---- JSON tests --------------------------------------------------------- */

static void test_json_top_level(void **state)
{
    (void)state;
    cJSON *root = render_json();
    assert_str(root, "mode", "tpc");
    assert_num(root, "pid", 4242);
    assert_num(root, "uptime_s", 12.5);
    assert_num(root, "threads", NW);
    assert_str(root, "free_policy", "local");
    assert_true(cJSON_IsTrue(get(get(root, "pinning"), "held")));

    const cJSON *a = get(root, "allocator");
    assert_str(a, "name", "jemalloc");
    assert_str(a, "version", VERSION_RAW);
    assert_str(a, "library", fx.alloc.library);
    assert_str(a, "requested", fx.alloc.requested);
    assert_str(a, "settings", fx.alloc.settings);
    /* The variables the allocator read, by name; a value may hold '='. */
    const cJSON *env = get(a, "environment");
    assert_true(cJSON_IsObject(env));
    assert_int_equal(cJSON_GetArraySize(env), 2);
    assert_str(env, "MALLOC_CONF", "dirty_decay_ms:0,narenas:2");
    assert_str(env, "X", "a=b");

    /* The machine as rendered: kernel, CPUs and THP mode (null without THP). */
    const cJSON *h = get(root, "host");
    assert_true(cJSON_IsString(get(h, "kernel")));
    assert_true(cJSON_IsString(get(h, "machine")));
    assert_true(cJSON_IsNumber(get(h, "cpus_online")) && get(h, "cpus_online")->valuedouble >= 1);
    assert_true(cJSON_IsNumber(get(h, "cpus_allowed")));
    FILE *thp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
    if (thp) {
        char line[256] = "";
        assert_non_null(fgets(line, sizeof(line), thp));
        fclose(thp);
        const char *mode = get(h, "thp_enabled")->valuestring;
        char want[64];
        assert_non_null(mode);
        snprintf(want, sizeof(want), "[%s]", mode);
        assert_non_null(strstr(line, want));
        assert_true(cJSON_IsString(get(h, "thp_defrag")));
    } else {
        assert_true(cJSON_IsNull(get(h, "thp_enabled")));
    }

    const cJSON *c = get(root, "config");
#define CHECK_STR(name) assert_str(c, #name, fx.cfg.name);
#define CHECK_INT(name) assert_num(c, #name, (double)fx.cfg.name);
#define CHECK_SIZE(name) assert_num(c, #name, (double)fx.cfg.name);
#define CHECK_TIME(name) assert_num(c, #name "_ms", (double)fx.cfg.name);
#define FL_X(kind, name, def, help) CHECK_##kind(name)
    FL_SERVER_OPTIONS(FL_X)
#undef FL_X
    assert_num(c, "port", 8080);
    assert_str(c, "bind", "127.0.0.1");
    cJSON_Delete(root);
}

static void test_json_memory(void **state)
{
    (void)state;
    cJSON *root = render_json();
    const cJSON *m = get(root, "memory");
#define FL_X(field, name, help)                                                                    \
    if (fx.mem.field == FL_NA)                                                                     \
        assert_true(cJSON_IsNull(get(m, name)));                                                   \
    else                                                                                           \
        assert_num(m, name, (double)fx.mem.field);
    FL_ALLOC_STATS_FIELDS(FL_X)
#undef FL_X
    assert_num(m, "rss_bytes", 1000000);
    assert_true(cJSON_IsNull(get(m, "lazyfree_bytes")));
    /* The breakdown by its documented names: the allocator's own, and
     * another allocator's as null rather than missing. */
    assert_num(m, "allocator_je_dirty_bytes", 81920);
    assert_num(m, "allocator_je_muzzy_bytes", 0);
    assert_num(m, "allocator_je_tcache_bytes", 4567);
    assert_true(cJSON_IsNull(get(m, "allocator_tc_pageheap_free_bytes")));
    assert_true(cJSON_IsNull(get(m, "allocator_glibc_arena_free_bytes")));
    assert_true(cJSON_IsNull(get(m, "allocator_mi_committed_bytes")));
    assert_num(m, "frag_ratio", 0.4);
    assert_str(m, "frag_basis", "allocator");
    cJSON_Delete(root);
}

static void test_json_totals_and_workers(void **state)
{
    (void)state;
    cJSON *root = render_json();
    const cJSON *t = get(root, "totals");
#define FL_X(field, metric, type, help)                                                            \
    assert_num(t, metric, (double)sum(&fx.ctr[0].field, &fx.ctr[1].field));
    FL_COUNTERS(FL_X)
#undef FL_X
    assert_num(t, "requests_total", 150);
    assert_num(t, "cross_thread_frees_total", 25);
    assert_num(t, "connections_open", 2);
    assert_num(t, "cross_thread_free_share", 0.25);
    assert_num(t, "migrations_per_request", 0.2);

    const cJSON *ws = get(root, "workers");
    assert_true(cJSON_IsArray(ws));
    assert_int_equal(cJSON_GetArraySize(ws), NW);
    for (int w = 0; w < NW; w++) {
        const cJSON *o = cJSON_GetArrayItem(ws, w);
        assert_num(o, "worker", w);
        assert_num(o, "cpu", 2 * w);
        assert_true(cJSON_IsTrue(get(o, "pinned")));
#define FL_X(field, metric, type, help)                                                            \
    assert_num(o, metric, (double)atomic_load(&fx.ctr[w].field));
        FL_COUNTERS(FL_X)
#undef FL_X
    }
    cJSON_Delete(root);
}

static void test_json_unpinned_unknown(void **state)
{
    (void)state;
    make_unpinned();
    cJSON *root = render_json();
    assert_str(root, "mode", "ws");
    assert_true(cJSON_IsFalse(get(get(root, "pinning"), "held")));
    assert_true(cJSON_IsNull(get(root, "allocator")));
    assert_true(cJSON_IsNull(get(get(root, "memory"), "frag_ratio")));
    const cJSON *w1 = cJSON_GetArrayItem(get(root, "workers"), 1);
    assert_true(cJSON_IsNull(get(w1, "cpu")));
    assert_true(cJSON_IsFalse(get(w1, "pinned")));
    cJSON_Delete(root);

    /* One pinned worker out of two is not "pinning held". */
    fx.workers[0].pinned = true;
    root = render_json();
    assert_true(cJSON_IsFalse(get(get(root, "pinning"), "held")));
    cJSON_Delete(root);
}

static void test_json_ratios_without_events(void **state)
{
    (void)state;
    for (int w = 0; w < NW; w++) {
#define FL_X(field, metric, type, help) atomic_store(&fx.ctr[w].field, 0);
        FL_COUNTERS(FL_X)
#undef FL_X
    }
    cJSON *root = render_json();
    const cJSON *t = get(root, "totals");
    assert_num(t, "cross_thread_free_share", 0);
    assert_num(t, "migrations_per_request", 0);
    cJSON_Delete(root);
}

/* ---- Prometheus helpers ------------------------------------------------- */

static char *render_prom(void)
{
    size_t len = 0;
    char *text = fl_stats_prometheus(&fx.view, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    assert_true(len > 0 && text[len - 1] == '\n');
    return text;
}

/* The whole line is present, not a prefix of a longer one. */
static bool has_line(const char *text, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool has_line(const char *text, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

static regex_t sample_re;

static void compile_sample_re(void)
{
    int rc = regcomp(&sample_re, "^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{[^}]*\\})? -?[0-9.eE+-]+$",
                     REG_EXTENDED | REG_NOSUB);
    assert_int_equal(rc, 0);
    /* The pattern itself must tell good lines from bad ones. */
    assert_int_equal(regexec(&sample_re, "a_b{x=\"1\"} 12", 0, NULL, 0), 0);
    assert_int_equal(regexec(&sample_re, "a_b 1.5e-05", 0, NULL, 0), 0);
    assert_int_not_equal(regexec(&sample_re, "a_b inf", 0, NULL, 0), 0);
    assert_int_not_equal(regexec(&sample_re, "a-b 1", 0, NULL, 0), 0);
    assert_int_not_equal(regexec(&sample_re, "a_b{x=\"1\" 1", 0, NULL, 0), 0);
}

#define MAX_FAMILIES 256

struct exposition {
    char *seen[MAX_FAMILIES]; /* families that had their HELP */
    int nseen;
    char family[256]; /* the family whose HELP came last */
    enum { NONE, HELP_SEEN, TYPE_SEEN } stage;
};

static void check_help(struct exposition *e, const char *name)
{
    for (int i = 0; i < e->nseen; i++)
        if (strcmp(e->seen[i], name) == 0)
            fail_msg("family %s has a second HELP (or is interleaved)", name);
    assert_true(e->nseen < MAX_FAMILIES);
    e->seen[e->nseen++] = strdup(name);
    strcpy(e->family, name);
    e->stage = HELP_SEEN;
}

/* HELP then TYPE once per family, then its samples; a sample must belong to
 * the family whose TYPE came last, and a family never gets a second HELP, so
 * families cannot interleave. */
static void check_line(struct exposition *e, const char *line)
{
    char name[256], rest[512];
    if (sscanf(line, "# HELP %255s %511[^\n]", name, rest) == 2) {
        check_help(e, name);
    } else if (sscanf(line, "# TYPE %255s %511s", name, rest) == 2) {
        if (strcmp(name, e->family) != 0 || e->stage != HELP_SEEN)
            fail_msg("TYPE %s not right after its HELP", name);
        assert_true(strcmp(rest, "counter") == 0 || strcmp(rest, "gauge") == 0);
        e->stage = TYPE_SEEN;
    } else {
        if (line[0] == '#' || regexec(&sample_re, line, 0, NULL, 0) != 0)
            fail_msg("malformed line: %s", line);
        size_t n = strcspn(line, "{ ");
        if (e->stage != TYPE_SEEN || strlen(e->family) != n || strncmp(line, e->family, n) != 0)
            fail_msg("sample outside its family (current %s): %s", e->family, line);
    }
}

static void check_exposition(const char *text)
{
    char *copy = strdup(text), *save = NULL;
    struct exposition e = {.stage = NONE};
    compile_sample_re();
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        check_line(&e, line);
    assert_true(e.nseen > 0);
    for (int i = 0; i < e.nseen; i++)
        free(e.seen[i]);
    regfree(&sample_re);
    free(copy);
}

/* ---- Prometheus tests --------------------------------------------------- */

static void test_prom_well_formed(void **state)
{
    (void)state;
    char *text = render_prom();
    check_exposition(text);
    free(text);

    make_unpinned();
    text = render_prom();
    check_exposition(text);
    free(text);
}

static void test_prom_counters(void **state)
{
    (void)state;
    char *text = render_prom();
#define FL_X(field, metric, type, help)                                                            \
    assert_true(has_line(text, "# TYPE fraglab_%s %s", metric, #type));                            \
    if (strcmp(#type, "gauge") == 0) {                                                             \
        assert_true(has_line(text, "fraglab_%s %lld", metric,                                      \
                             (long long)sum(&fx.ctr[0].field, &fx.ctr[1].field)));                 \
    } else {                                                                                       \
        for (int w = 0; w < NW; w++)                                                               \
            assert_true(has_line(text, "fraglab_%s{worker=\"%d\"} %lld", metric, w,                \
                                 (long long)atomic_load(&fx.ctr[w].field)));                       \
    }
    FL_COUNTERS(FL_X)
#undef FL_X
    assert_true(has_line(text, "fraglab_requests_total{worker=\"1\"} 50"));
    assert_true(has_line(text, "fraglab_connections_open 2"));
    assert_true(has_line(text, "fraglab_cross_thread_free_share 0.25"));
    assert_true(has_line(text, "fraglab_uptime_seconds 12.5"));
    assert_true(has_line(text, "fraglab_worker_pinned{worker=\"1\",cpu=\"2\"} 1"));
    free(text);
}

static void test_prom_memory(void **state)
{
    (void)state;
    char *text = render_prom();
    char name[128];
#define FL_X(field, metric, help)                                                                  \
    snprintf(name, sizeof(name), "fraglab_%s", metric);                                            \
    if (fx.mem.field == FL_NA) {                                                                   \
        assert_null(strstr(text, name));                                                           \
    } else {                                                                                       \
        assert_true(has_line(text, "# TYPE %s gauge", name));                                      \
        assert_true(has_line(text, "%s %lld", name, (long long)fx.mem.field));                     \
    }
    FL_ALLOC_STATS_FIELDS(FL_X)
#undef FL_X
    assert_null(strstr(text, "lazyfree"));
    assert_true(has_line(text, "fraglab_anon_huge_bytes 0")); /* 0 is a figure, not n/a */
    assert_true(has_line(text, "fraglab_frag_ratio 0.4"));
    assert_true(has_line(text, "# TYPE fraglab_allocator_je_dirty_bytes gauge"));
    assert_true(has_line(text, "fraglab_allocator_je_dirty_bytes 81920"));
    assert_true(has_line(text, "fraglab_allocator_je_muzzy_bytes 0"));
    assert_true(has_line(text, "fraglab_allocator_je_tcache_bytes 4567"));
    assert_null(strstr(text, "fraglab_allocator_tc_"));
    assert_null(strstr(text, "fraglab_allocator_glibc_"));
    assert_null(strstr(text, "fraglab_allocator_mi_"));
    free(text);
}

static void test_prom_info_escaped(void **state)
{
    (void)state;
    char *text = render_prom();
    assert_true(has_line(text, "# TYPE fraglab_info gauge"));
    assert_true(has_line(text, "fraglab_info{mode=\"tpc\",allocator=\"jemalloc\",version=\"%s\"} 1",
                         VERSION_ESCAPED));
    free(text);

    make_unpinned();
    text = render_prom();
    assert_true(has_line(text, "fraglab_info{mode=\"ws\",allocator=\"unknown\",version=\"\"} 1"));
    assert_true(has_line(text, "fraglab_worker_pinned{worker=\"0\",cpu=\"\"} 0"));
    assert_null(strstr(text, "fraglab_frag_ratio"));
    free(text);
}

/* Failures by kind under totals and each worker, and their sum; /metrics
 * has one labelled counter family for them. */
static void test_alloc_failures(void **state)
{
    (void)state;
    static const char *const kinds[] = {"hold",   "burst", "response", "body",
                                        "target", "input", "echo",     "conn_state"};
    assert_int_equal(sizeof(kinds) / sizeof(kinds[0]), FL_NOOM);
    cJSON *root = render_json();
    const cJSON *t = get(root, "totals");
    double all = 0;
    for (int k = 0; k < FL_NOOM; k++) {
        assert_num(get(t, "alloc_failures"), kinds[k], 20 * k + 1); /* 10k + 0 + 10k + 1 */
        all += 20 * k + 1;
    }
    assert_num(t, "alloc_failures_total", all);
    const cJSON *w1 = cJSON_GetArrayItem(get(root, "workers"), 1);
    assert_num(get(w1, "alloc_failures"), "conn_state", 10 * FL_OOM_conn_state + 1);
    cJSON_Delete(root);
    char *text = render_prom();
    assert_true(has_line(text, "# TYPE fraglab_alloc_failures_total counter"));
    for (int w = 0; w < NW; w++)
        for (int k = 0; k < FL_NOOM; k++)
            assert_true(has_line(text, "fraglab_alloc_failures_total{worker=\"%d\",kind=\"%s\"} %d",
                                 w, kinds[k], 10 * k + w));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_json_top_level, setup),
        cmocka_unit_test_setup(test_json_memory, setup),
        cmocka_unit_test_setup(test_json_totals_and_workers, setup),
        cmocka_unit_test_setup(test_json_unpinned_unknown, setup),
        cmocka_unit_test_setup(test_json_ratios_without_events, setup),
        cmocka_unit_test_setup(test_prom_well_formed, setup),
        cmocka_unit_test_setup(test_prom_counters, setup),
        cmocka_unit_test_setup(test_alloc_failures, setup),
        cmocka_unit_test_setup(test_prom_memory, setup),
        cmocka_unit_test_setup(test_prom_info_escaped, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
