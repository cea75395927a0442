/* manifest.c - manifest.json: the load generator, this machine and the
 * server as it reported itself, for one run's folder.
 *
 * The server's part is its own /stats, asked once more at the end of the
 * run and copied by field: the allocator (full version, settings in its own
 * terms, the environment it read), pinning per worker, its machine and its
 * configuration. Nothing is inferred from the flags the server was given: a
 * manifest records what the server says was in force. */
#include "manifest.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define MANIFEST_VERSION 1

static void add_str_or_null(cJSON *o, const char *k, const char *v)
{
    if (v && *v)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

/* This machine: where the load generator ran (and the server, on loopback). */
static void add_host(cJSON *root)
{
    cJSON *o = cJSON_AddObjectToObject(root, "host");
    struct utsname u;
    bool named = uname(&u) == 0;
    add_str_or_null(o, "kernel", named ? u.release : NULL);
    add_str_or_null(o, "kernel_version", named ? u.version : NULL);
    add_str_or_null(o, "machine", named ? u.machine : NULL);
    add_str_or_null(o, "hostname", named ? u.nodename : NULL);
    cJSON_AddNumberToObject(o, "cpus_online", (double)sysconf(_SC_NPROCESSORS_ONLN));
    cpu_set_t set;
    if (sched_getaffinity(getpid(), sizeof(set), &set) == 0)
        cJSON_AddNumberToObject(o, "cpus_allowed", CPU_COUNT(&set));
    else
        cJSON_AddNullToObject(o, "cpus_allowed");
    cJSON_AddStringToObject(o, "glibc_version", gnu_get_libc_version());
    char a[64], b[64];
    add_str_or_null(o, "thp_enabled", fl_procmem_thp("enabled", a, sizeof(a)));
    add_str_or_null(o, "thp_defrag", fl_procmem_thp("defrag", b, sizeof(b)));
}

static void add_loadgen(cJSON *root, const struct fl_lg_result *r)
{
    cJSON *o = cJSON_AddObjectToObject(root, "loadgen");
    cJSON_AddStringToObject(o, "version", FRAGLAB_VERSION);
    cJSON *argv = cJSON_AddArrayToObject(o, "command");
    for (int i = 0; i < r->argc; i++)
        cJSON_AddItemToArray(argv, cJSON_CreateString(r->argv[i]));
    add_str_or_null(o, "started_at", r->started_at);
    add_str_or_null(o, "scenario_file", r->scenario_file);
    add_str_or_null(o, "scenario_name", r->s->name);
    add_str_or_null(o, "scenario", r->scenario_text);
    cJSON_AddNumberToObject(o, "seed", (double)r->s->seed);
    add_str_or_null(o, "target", r->target);
    add_str_or_null(o, "echo_target", r->echo_target);
    add_str_or_null(o, "path", r->path);
    cJSON_AddStringToObject(o, "loop", r->open_loop ? "open" : "closed");
    cJSON_AddNumberToObject(o, "rate", r->s->rate);
    cJSON_AddNumberToObject(o, "connections", r->s->connections);
    cJSON_AddNumberToObject(o, "threads", r->s->threads);
    cJSON_AddNumberToObject(o, "duration_s", (double)r->s->duration / 1e9);
    cJSON_AddNumberToObject(o, "warmup_s", (double)r->s->warmup / 1e9);
    cJSON_AddNumberToObject(o, "interval_s", (double)r->s->interval / 1e9);
    add_str_or_null(o, "stop_reason", fl_lg_stop_name(r->stop_reason));
}

/* Copies `key` of `from` into `to` (null when absent). */
static void copy(cJSON *to, const cJSON *from, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, key);
    cJSON *dup = v ? cJSON_Duplicate(v, true) : NULL;
    if (dup)
        cJSON_AddItemToObject(to, key, dup);
    else
        cJSON_AddNullToObject(to, key);
}

/* pinning: {held, workers: [{worker, cpu, pinned}]}, from /stats's pinning
 * and its per-worker entries without their counters. */
static void add_pinning(cJSON *srv, const cJSON *stats)
{
    cJSON *p = cJSON_AddObjectToObject(srv, "pinning");
    copy(p, cJSON_GetObjectItemCaseSensitive(stats, "pinning"), "held");
    cJSON *arr = cJSON_AddArrayToObject(p, "workers");
    const cJSON *w;
    cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(stats, "workers"))
    {
        cJSON *o = cJSON_CreateObject();
        copy(o, w, "worker");
        copy(o, w, "cpu");
        copy(o, w, "pinned");
        cJSON_AddItemToArray(arr, o);
    }
}

/* server: its /stats now, or null when it cannot be asked. */
static void add_server(cJSON *root, const struct fl_lg_result *r, const struct fl_lg_monitor *mon)
{
    char *body = NULL;
    cJSON *stats = NULL;
    if (r->info->known && fl_lg_http_get((const struct sockaddr *)&mon->addr, mon->addr_len,
                                         mon->host, "/stats", 1000, &body) == 0)
        stats = cJSON_Parse(body);
    free(body);
    if (!cJSON_IsObject(stats)) {
        cJSON_AddNullToObject(root, "server");
        cJSON_Delete(stats);
        return;
    }
    cJSON *o = cJSON_AddObjectToObject(root, "server");
    static const char *const keys[] = {"pid", "mode", "threads", "free_policy"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        copy(o, stats, keys[i]);
    add_pinning(o, stats);
    copy(o, stats, "allocator");
    /* Where the process figures (RSS ...) came from: this machine's
     * /proc/PID, or, for a server in another pid namespace or host, its
     * own /stats (and no CPU time then); null under --no-sample. */
    if (r->last)
        cJSON_AddStringToObject(o, "memory_from", mon->pid > 0 ? "proc" : "stats");
    else
        cJSON_AddNullToObject(o, "memory_from");
    copy(o, stats, "host");
    copy(o, stats, "config");
    cJSON_Delete(stats);
}

void fl_lg_manifest_run(cJSON *o, const struct fl_lg_result *r)
{
    add_loadgen(o, r);
    add_host(o);
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fputs(text, f);
    fputc('\n', f);
    return fclose(f) == 0 ? 0 : -EIO;
}

int fl_lg_manifest_write(const char *dir, const struct fl_lg_result *r,
                         const struct fl_lg_monitor *mon)
{
    char path[4096 + 32], now[32];
    snprintf(path, sizeof(path), "%s/manifest.json", dir);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);

    cJSON *root = cJSON_CreateObject();
    if (!root) {
        fprintf(stderr, "fraglab-loadgen: %s: out of memory\n", path);
        return -ENOMEM;
    }
    cJSON_AddNumberToObject(root, "manifest_version", MANIFEST_VERSION);
    cJSON_AddStringToObject(root, "written_at", now);
    fl_lg_manifest_run(root, r);
    add_server(root, r, mon);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    int rc = text ? write_text(path, text) : -ENOMEM;
    free(text);
    if (rc)
        fprintf(stderr, "fraglab-loadgen: %s: %s\n", path, strerror(-rc));
    return rc;
}
