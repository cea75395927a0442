/* env.c - allocator settings to and from environment variables. */
#include "backend.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

void fl__appendf(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strnlen(buf, len);
    if (used + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

int fl__alloc_env_from_list(const char *prefix, const char *settings, char *err, size_t errlen)
{
    char *copy = strdup(settings), *save = NULL;
    if (!copy)
        return -ENOMEM;
    int rc = 0;
    for (char *kv = strtok_r(copy, ",", &save); kv && !rc; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
            snprintf(err, errlen, "allocator setting '%s' is not key=value", kv);
            rc = -EINVAL;
            break;
        }
        char name[128];
        size_t n = (size_t)snprintf(name, sizeof(name), "%s", prefix);
        for (char *k = kv; k < eq && n + 1 < sizeof(name); k++)
            name[n++] = (char)toupper((unsigned char)*k);
        name[n] = '\0';
        if (setenv(name, eq + 1, 1))
            rc = -errno;
    }
    free(copy);
    return rc;
}

static bool known_name(const struct fl__alloc_backend *be, const char *key, size_t n)
{
    /* MIMALLOC_* and TCMALLOC_* keys are upper-cased into variable names, so
     * their case does not matter; glibc's tunables and MALLOC_CONF's keys
     * are matched as written. */
    bool fold = be->kind == FL_ALLOC_MIMALLOC || be->kind == FL_ALLOC_TCMALLOC;
    for (const char *const *k = be->setting_names; *k; k++)
        if (strlen(*k) == n && (fold ? strncasecmp(*k, key, n) : strncmp(*k, key, n)) == 0)
            return true;
    return false;
}

static void list_names(const struct fl__alloc_backend *be, char *err, size_t errlen)
{
    fl__appendf(err, errlen, " (%s knows:", be->name);
    for (const char *const *k = be->setting_names; *k; k++)
        fl__appendf(err, errlen, "%s %s", k == be->setting_names ? "" : ",", *k);
    fl__appendf(err, errlen, ")");
}

int fl__alloc_check_names(const struct fl__alloc_backend *be, const char *settings, char *err,
                          size_t errlen)
{
    if (!be->setting_names) {
        snprintf(err, errlen, "%s takes no settings, got '%s'", be->name, settings);
        return -EINVAL;
    }
    for (const char *item = settings; *item;) {
        size_t len = strcspn(item, ",");
        const char *sep = memchr(item, be->setting_sep, len);
        if (be->setting_sep == ':' && memchr(item, '=', len)) {
            snprintf(err, errlen, "%s settings use MALLOC_CONF syntax key:value, not '%s'",
                     be->name, settings);
            return -EINVAL;
        }
        if (!sep || sep == item) {
            snprintf(err, errlen, "%s setting '%.*s' is not name%cvalue", be->name, (int)len, item,
                     be->setting_sep);
            return -EINVAL;
        }
        if (!known_name(be, item, (size_t)(sep - item))) {
            snprintf(err, errlen, "unknown %s setting '%.*s'", be->name, (int)(sep - item), item);
            list_names(be, err, errlen);
            return -EINVAL;
        }
        item += len + (item[len] == ',');
    }
    return 0;
}

void fl__alloc_env_describe(const char *prefixes, char sep, char *buf, size_t len)
{
    char copy[256], *save = NULL;
    snprintf(copy, sizeof(copy), "%s", prefixes);
    for (char *p = strtok_r(copy, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
        size_t pl = strlen(p);
        for (char **e = environ; *e; e++)
            if (strncmp(*e, p, pl) == 0 && (p[pl - 1] == '_' || (*e)[pl] == '='))
                fl__appendf(buf, len, "%s%c", *e, sep);
    }
}
