/* procmem.c - process memory from /proc/PID/smaps_rollup, and the THP mode. */
#include "fl_alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* smaps_rollup is a few hundred bytes; one read of a stack buffer keeps this
 * cheap enough to call at every sampling interval. */
int fl_procmem_read(pid_t pid, struct fl_procmem *m)
{
    char path[64], buf[4096];
    if (pid == 0)
        snprintf(path, sizeof(path), "/proc/self/smaps_rollup");
    else
        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);

    m->rss = m->rss_anon = m->lazyfree = m->anon_huge = FL_NA;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = 0, len = 0;
    while (len < (ssize_t)sizeof(buf) - 1 &&
           (n = read(fd, buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
        len += n;
    int saved = errno;
    close(fd);
    if (n < 0) /* a failed read is its errno, not "no data", even after a partial one */
        return -saved;
    if (len == 0)
        return -ENODATA;
    buf[len] = '\0';

    static const struct {
        const char *key;
        size_t off;
    } keys[] = {
        {"Rss:", offsetof(struct fl_procmem, rss)},
        {"Anonymous:", offsetof(struct fl_procmem, rss_anon)},
        {"LazyFree:", offsetof(struct fl_procmem, lazyfree)},
        {"AnonHugePages:", offsetof(struct fl_procmem, anon_huge)},
    };
    for (char *line = buf; line;) {
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            size_t kl = strlen(keys[i].key);
            if (strncmp(line, keys[i].key, kl) == 0)
                *(int64_t *)((char *)m + keys[i].off) = strtoll(line + kl, NULL, 10) * 1024;
        }
        char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    return m->rss == FL_NA ? -ENODATA : 0;
}

const char *fl_procmem_thp(const char *file, char *buf, size_t len)
{
    char path[128];
    snprintf(path, sizeof(path), "/sys/kernel/mm/transparent_hugepage/%s", file);
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char line[256];
    bool got = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    /* "always [madvise] never": the bracketed word is the one in force. */
    char *open = got ? strchr(line, '[') : NULL;
    char *close = open ? strchr(open, ']') : NULL;
    if (!close)
        return NULL;
    snprintf(buf, len, "%.*s", (int)(close - open - 1), open + 1);
    return buf;
}
