/* monitor.c - sampling the server: /proc and GET /stats. */
#include "monitor.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BODY_MAX (4u << 20) /* /stats of a 64-worker server is ~40 KiB */

bool fl_lg_is_loopback(const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

#define MAX_LISTENERS 1024 /* tpc: one SO_REUSEPORT socket per worker */

/* Inodes of the sockets listening on `port` in /proc/net/tcp or tcp6 (this
 * network namespace's), appended to ino[*n]. */
static void listeners(const char *table, unsigned port, unsigned long *ino, size_t *n)
{
    FILE *f = fopen(table, "re");
    if (!f)
        return;
    char line[512];
    while (*n < MAX_LISTENERS && fgets(line, sizeof(line), f)) {
        unsigned lport, st;
        unsigned long inode;
        /* sl local:port remote:port st tx:rx tr:when retrnsmt uid timeout inode */
        if (sscanf(line,
                   " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*x:%*x %*x:%*x %*x %*u %*u %lu",
                   &lport, &st, &inode) == 3 &&
            lport == port && st == 0x0A /* TCP_LISTEN */ && inode)
            ino[(*n)++] = inode;
    }
    fclose(f);
}

bool fl_lg_pid_listens(pid_t pid, const struct sockaddr *addr)
{
    unsigned port = addr->sa_family == AF_INET6
                        ? ntohs(((const struct sockaddr_in6 *)addr)->sin6_port)
                        : ntohs(((const struct sockaddr_in *)addr)->sin_port);
    unsigned long ino[MAX_LISTENERS];
    size_t n = 0;
    listeners("/proc/net/tcp", port, ino, &n);
    listeners("/proc/net/tcp6", port, ino, &n);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = n ? opendir(path) : NULL;
    if (!d)
        return false; /* no listener here, or not ours to look at */
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d));) {
        char link[64];
        ssize_t len = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
        unsigned long inode;
        if (len <= 0)
            continue;
        link[len] = '\0';
        if (sscanf(link, "socket:[%lu]", &inode) != 1)
            continue;
        for (size_t i = 0; i < n && !found; i++)
            found = ino[i] == inode;
    }
    closedir(d);
    return found;
}

/* Waits for fd to be ready for `events` until `deadline_ms` of
 * CLOCK_MONOTONIC-free budget runs out; 0 or -ETIMEDOUT. */
static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    int n;
    do
        n = poll(&p, 1, timeout_ms);
    while (n < 0 && errno == EINTR);
    return n > 0 ? 0 : n == 0 ? -ETIMEDOUT : -errno;
}

int fl_lg_http_get(const struct sockaddr *addr, socklen_t len, const char *host, const char *path,
                   int timeout_ms, char **body)
{
    *body = NULL;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int rc = 0;
    char *buf = NULL;
    if (connect(fd, addr, len) < 0) {
        if (errno != EINPROGRESS) {
            rc = -errno;
            goto out;
        }
        if ((rc = wait_fd(fd, POLLOUT, timeout_ms)))
            goto out;
        int err = 0;
        socklen_t el = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            rc = -err;
            goto out;
        }
    }
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n"
                     "Connection: close\r\n\r\n",
                     path, host);
    if (n < 0 || (size_t)n >= sizeof(req)) {
        rc = -EINVAL;
        goto out;
    }
    for (int off = 0; off < n;) {
        if ((rc = wait_fd(fd, POLLOUT, timeout_ms)))
            goto out;
        ssize_t w = send(fd, req + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            rc = -errno;
            goto out;
        }
        off += w > 0 ? (int)w : 0;
    }
    size_t cap = 64 * 1024, used = 0;
    buf = malloc(cap + 1);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    for (;;) { /* Connection: close: the answer ends at EOF */
        if ((rc = wait_fd(fd, POLLIN, timeout_ms)))
            goto out;
        if (used == cap) {
            if (cap >= BODY_MAX) {
                rc = -EFBIG;
                goto out;
            }
            char *b = realloc(buf, cap * 2 + 1);
            if (!b) {
                rc = -ENOMEM;
                goto out;
            }
            buf = b;
            cap *= 2;
        }
        ssize_t r = recv(fd, buf + used, cap - used, 0);
        if (r == 0)
            break;
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            rc = -errno;
            goto out;
        }
        used += (size_t)r;
    }
    buf[used] = '\0';
    int status = 0;
    char *sep = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || status != 200 || !sep) {
        rc = -EPROTO;
        goto out;
    }
    size_t hl = (size_t)(sep + 4 - buf);
    memmove(buf, sep + 4, used - hl + 1);
    *body = buf;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}

static int64_t num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : FL_NA;
}

static void str(const cJSON *o, const char *k, char *dst, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    snprintf(dst, len, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static void from_stats(const cJSON *root, struct fl_lg_sample *s, struct fl_lg_server_info *info)
{
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(root, "memory");
    const cJSON *tot = cJSON_GetObjectItemCaseSensitive(root, "totals");
    const cJSON *alloc = cJSON_GetObjectItemCaseSensitive(root, "allocator");
    if (cJSON_IsObject(mem)) {
#define FL_X(field, metric, help) s->field = num(mem, metric);
        FL_ALLOCATOR_FIELDS(FL_X)
        /* A remote server's own view of its memory beats nothing. */
        if (s->rss == FL_NA) {
            FL_PROCMEM_FIELDS(FL_X)
        }
#undef FL_X
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(mem, "frag_ratio");
        s->frag_ratio = cJSON_IsNumber(f) ? f->valuedouble : NAN;
    }
    if (cJSON_IsObject(tot)) {
        s->cross_thread_frees = num(tot, "cross_thread_frees_total");
        s->task_migrations = num(tot, "task_migrations_total");
        s->connections_open = num(tot, "connections_open");
        s->held_bytes = num(tot, "held_bytes");
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(tot, "cross_thread_free_share");
        s->cross_share = cJSON_IsNumber(x) ? x->valuedouble : NAN;
    }
    if (!info->known) {
        info->known = true;
        info->pid = num(root, "pid");
        info->threads = num(root, "threads");
        str(root, "mode", info->mode, sizeof(info->mode));
        str(root, "free_policy", info->free_policy, sizeof(info->free_policy));
        if (cJSON_IsObject(alloc)) {
            str(alloc, "name", info->allocator, sizeof(info->allocator));
            str(alloc, "version", info->version, sizeof(info->version));
        }
    }
}

void fl_lg_sample_clear(struct fl_lg_sample *s)
{
#define FL_X(field, metric, help) s->field = FL_NA;
    FL_ALLOC_STATS_FIELDS(FL_X)
#undef FL_X
    s->frag_ratio = NAN;
    s->cross_share = NAN;
    s->cross_thread_frees = s->task_migrations = s->connections_open = s->held_bytes = FL_NA;
    s->cpu_ms = FL_NA;
}

/* utime + stime of `pid` in ms from /proc/PID/stat, or FL_NA. */
static int64_t cpu_ms(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return FL_NA;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: fields are counted
     * from the last ')'. utime and stime are fields 14 and 15. */
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return FL_NA;
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (int64_t)((ut + st) * 1000 / (unsigned long long)hz) : FL_NA;
}

void fl_lg_monitor_sample(struct fl_lg_monitor *m, struct fl_lg_sample *s,
                          struct fl_lg_server_info *info)
{
    fl_lg_sample_clear(s);
    struct fl_procmem pm;
    if (m->pid > 0 && fl_procmem_read(m->pid, &pm) == 0) {
#define FL_X(field, metric, help) s->field = pm.field;
        FL_PROCMEM_FIELDS(FL_X)
#undef FL_X
        s->cpu_ms = cpu_ms(m->pid);
    }
    char *body = NULL;
    if (fl_lg_http_get((const struct sockaddr *)&m->addr, m->addr_len, m->host, "/stats", 1000,
                       &body) != 0)
        return;
    cJSON *root = cJSON_Parse(body);
    free(body);
    if (cJSON_IsObject(root)) {
        m->stats = true;
        from_stats(root, s, info);
    }
    cJSON_Delete(root);
}
