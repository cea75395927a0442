/* env.c - allocator settings to and from environment variables. */
#include "backend.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void fl__alloc_env_describe(const char *prefixes, char *buf, size_t len)
{
    char copy[256], *save = NULL;
    snprintf(copy, sizeof(copy), "%s", prefixes);
    for (char *p = strtok_r(copy, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
        size_t pl = strlen(p);
        for (char **e = environ; *e; e++)
            if (strncmp(*e, p, pl) == 0 && (p[pl - 1] == '_' || (*e)[pl] == '='))
                fl__appendf(buf, len, "%s ", *e);
    }
}
