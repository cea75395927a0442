/* matrix_prom.c - DIR/prometheus-targets.json for Prometheus's file_sd.
 *
 * The file is a JSON list of target groups, {"targets": ["127.0.0.1:PORT"],
 * "labels": {...}}, one per pairing whose server is up. Prometheus attaches
 * a group's labels to every series it scrapes from that target, so the
 * server's /metrics stays free of them and the dashboards can still split by
 * mode and allocator.
 *
 * The file itself is the state: each call reads it, drops the pairing's old
 * group, adds the new one and renames a complete copy over it, so
 * Prometheus (which watches the folder) never sees half a file, and a
 * matrix that runs its pairings one by one, all at once, or from several
 * processes gets the same result. Updates are serialised with flock() on
 * the folder itself, which needs no lock file beside the results.
 *
 * The labels are read from DIR/runs.json, the matrix's checkpoint written
 * before any server starts, so they are the report's own names. */
#include "matrix_prom.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "matrix_internal.h"

#define PROG FL__MX_PROG
#define TARGETS "prometheus-targets.json"

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The labels of pairing `name` from DIR/runs.json; NULL with errno. The
 * label `mode` is the server's --mode: runs.json's "ws-owner" is ws with
 * free_policy owner, which keeps mode="ws" queries whole. */
static cJSON *labels_of(const char *dir, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/runs.json", dir);
    char *text = fl__mx_read_text(path);
    int err = text ? ENOENT : errno; /* no such pairing, or no runs.json */
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(root, "runs"), *run;
    cJSON *labels = NULL;
    cJSON_ArrayForEach(run, runs)
    {
        const char *n = jstr(run, "name"), *mode = jstr(run, "mode");
        if (!n || strcmp(n, name) != 0 || !mode)
            continue;
        const char *scen = jstr(root, "scenario"), *alloc = jstr(run, "allocator");
        const char *policy = jstr(run, "free_policy");
        labels = cJSON_CreateObject();
        cJSON_AddStringToObject(labels, "pairing", name);
        cJSON_AddStringToObject(labels, "mode", strncmp(mode, "ws", 2) == 0 ? "ws" : mode);
        cJSON_AddStringToObject(labels, "allocator", alloc ? alloc : "");
        cJSON_AddStringToObject(labels, "free_policy", policy ? policy : "local");
        cJSON_AddStringToObject(labels, "scenario", scen ? scen : "");
        break;
    }
    cJSON_Delete(root);
    if (!labels)
        errno = err;
    return labels;
}

/* The groups in the file now, without pairing `name`'s; a fresh list when
 * there is no file yet (or it is not a list: it is ours to rewrite). */
static cJSON *groups_without(const char *path, const char *name)
{
    char *text = fl__mx_read_text(path);
    cJSON *list = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(list);
        return cJSON_CreateArray();
    }
    for (int i = cJSON_GetArraySize(list) - 1; i >= 0; i--) {
        const cJSON *labels =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, i), "labels");
        const char *n = jstr(labels, "pairing");
        if (n && strcmp(n, name) == 0)
            cJSON_DeleteItemFromArray(list, i);
    }
    return list;
}

static cJSON *group(int port, cJSON *labels)
{
    char target[32];
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    cJSON *g = cJSON_CreateObject();
    cJSON *targets = cJSON_AddArrayToObject(g, "targets");
    cJSON_AddItemToArray(targets, cJSON_CreateString(target));
    cJSON_AddItemToObject(g, "labels", labels);
    return g;
}

/* `list` to PATH through PATH.tmp and rename(); 0 or -errno. */
static int write_atomic(const char *path, const cJSON *list)
{
    char *text = cJSON_Print(list);
    if (!text)
        return -ENOMEM;
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    int rc = 0;
    if (!f || fputs(text, f) < 0 || fputc('\n', f) == EOF || fclose(f) != 0 ||
        rename(tmp, path) != 0)
        rc = -errno;
    free(text);
    return rc;
}

/* Rewrites the file with pairing `name` at `port`, or without it (port 0). */
static int update(const char *dir, const char *name, int port)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/" TARGETS, dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (dfd < 0 || flock(dfd, LOCK_EX) != 0) {
        rc = -errno;
        goto out;
    }
    cJSON *labels = NULL;
    if (port > 0 && !(labels = labels_of(dir, name))) {
        rc = -errno;
        goto out;
    }
    cJSON *list = groups_without(path, name);
    if (labels)
        cJSON_AddItemToArray(list, group(port, labels));
    rc = write_atomic(path, list);
    cJSON_Delete(list);
out:
    if (rc)
        fprintf(stderr, PROG ": %s: %s (Prometheus will not see pairing %s)\n", path, strerror(-rc),
                name);
    if (dfd >= 0)
        close(dfd); /* and the lock with it */
    return rc;
}

int fl_matrix_prom_add(const char *dir, const char *name, int port)
{
    return port > 0 ? update(dir, name, port) : -EINVAL;
}

int fl_matrix_prom_remove(const char *dir, const char *name)
{
    return update(dir, name, 0);
}
