/* matrix.c - fraglab-loadgen matrix: every mode under every allocator,
 * one after the other, each on a fresh fraglab-server on free loopback
 * ports, driven by the same seeded scenario and followed by an idle tail.
 * Each pairing is a `fraglab-loadgen run` child writing DIR/runs/NAME/;
 * DIR/runs.json is written at the start and rewritten as every pairing
 * starts and ends (a checkpoint the report
 * can read at any time), and the report is built at the end. */
#include "matrix.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "flags.h"
#include "matrix_internal.h"
#include "matrix_prom.h"
#include "matrix_report.h"
#include "monitor.h"
#include "paths.h"
#include "scenario.h"

#define PROG FL__MX_PROG
#define MAX_ITEMS FL__MX_MAX_ITEMS

extern char **environ;

volatile sig_atomic_t fl__mx_stop;

static void on_signal(int sig)
{
    (void)sig;
    fl__mx_stop = 1;
}

/* Splits a list on ',' or ';' (in place); an allocator's settings may hold
 * ':' and '=' but not ','. ';' is accepted too for settings lists. */
static int split(char *s, char **out, int max, const char *what)
{
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(s, ",;", &save); tok;
         tok = strtok_r(NULL, ",;", &save)) {
        if (n == max) {
            fprintf(stderr, PROG ": at most %d %s\n", max, what);
            return -1;
        }
        out[n++] = tok;
    }
    if (!n) {
        fprintf(stderr, PROG ": empty %s list\n", what);
        return -1;
    }
    return n;
}

static void label_of(const char *spec, char *out, size_t len)
{
    const char *base = strrchr(spec, '/');
    const char *colon = strchr(spec, ':');
    if (base && (!colon || base < colon))
        spec = base + 1; /* a path: its file name and settings */
    size_t k = 0;
    for (const char *p = spec; *p && k + 1 < len; p++)
        out[k++] = (char)((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                                  (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'
                              ? *p
                              : '_');
    out[k] = '\0';
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int fl__mx_allowed_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* The child's side of fl__mx_spawn: only async-signal-safe calls between
 * fork and exec. An errno it cannot go on from goes up `errfd` (close on
 * exec, so the parent reads EOF once the exec succeeded). */
static _Noreturn void spawn_child(char *const argv[], const char *log, pid_t parent, int errfd)
{
    int err = 0;
    /* Its own process group: a terminal's Ctrl-C reaches the matrix only,
     * which passes one SIGINT to the run and stops the server itself. */
    setpgid(0, 0);
    /* Dies with the matrix, even a SIGKILLed one, so no server outlives it.
     * PDEATHSIG fires when the forking *thread* ends: the matrix forks from
     * its only thread. A parent gone before prctl took effect is seen by
     * getppid(). The setting survives execve (these binaries are not
     * set-uid). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        err = errno;
    else if (getppid() != parent)
        _exit(127);
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC); /* dup2's copy stays open */
    if (!err && (in < 0 || dup2(in, 0) < 0))
        err = errno;
    if (!err && log) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            err = errno;
    }
    if (!err) {
        execve(argv[0], argv, environ);
        err = errno;
    }
    ssize_t w = write(errfd, &err, sizeof(err));
    (void)w;
    _exit(127);
}

pid_t fl__mx_spawn(char *const argv[], const char *log)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        spawn_child(argv, log, parent, pfd[1]);
    int saved = errno;
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        errno = saved;
        return -1;
    }
    int err = 0;
    ssize_t r;
    while ((r = read(pfd[0], &err, sizeof(err))) < 0 && errno == EINTR)
        ;
    close(pfd[0]);
    if (r == (ssize_t)sizeof(err)) { /* the exec failed: reap, report why */
        waitpid(pid, NULL, 0);
        errno = err;
        return -1;
    }
    return pid;
}

/* Waits up to `ms` for pid; its wait status, or -1 if it still runs. */
static int wait_ms(pid_t pid, int ms)
{
    for (int i = 0; i <= ms / 20; i++) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        if (r < 0 && errno != EINTR)
            return 0;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

void fl__mx_stop_server(pid_t pid)
{
    kill(pid, SIGTERM);
    if (wait_ms(pid, 10000) == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

/* The last non-empty line of a file, for a failed pairing's error. */
void fl__mx_last_line(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    char line[512];
    out[0] = '\0';
    if (!f)
        return;
    while (fgets(line, sizeof(line), f))
        if (line[0] != '\n') {
            line[strcspn(line, "\n")] = '\0';
            if (snprintf(out, len, "%s", line) >= (int)len)
                out[len - 1] = '\0'; /* cut: one line is enough to say why */
        }
    fclose(f);
}

static bool wait_ready(int port, pid_t pid)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < 200; i++) { /* 10 s */
        char *body = NULL;
        int rc =
            fl_lg_http_get((struct sockaddr *)&a, sizeof(a), "127.0.0.1", "/healthz", 500, &body);
        free(body);
        if (rc == 0)
            return true;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return false;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

char *fl__mx_read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    ssize_t n = getdelim(&buf, &len, '\0', f);
    fclose(f);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void add_manifest(cJSON *root, const struct mopts *o, int argc, char **argv)
{
    cJSON *m = cJSON_AddObjectToObject(root, "manifest");
    struct utsname u;
    if (uname(&u) == 0) {
        cJSON_AddStringToObject(m, "kernel", u.release);
        cJSON_AddStringToObject(m, "machine", u.machine);
    }
    char ver[64];
    size_t n = confstr(_CS_GNU_LIBC_VERSION, ver, sizeof(ver));
    if (n > 0 && n <= sizeof(ver))
        cJSON_AddStringToObject(m, "glibc", strncmp(ver, "glibc ", 6) ? ver : ver + 6);
    char *thp = fl__mx_read_text("/sys/kernel/mm/transparent_hugepage/enabled");
    if (thp) {
        thp[strcspn(thp, "\n")] = '\0';
        cJSON_AddStringToObject(m, "thp", thp);
        free(thp);
    }
    cJSON_AddNumberToObject(m, "cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
    cJSON_AddNumberToObject(m, "cpus_allowed", fl__mx_allowed_cpus());
    cJSON_AddNumberToObject(m, "server_threads", o->threads);
    cJSON *cmd = cJSON_AddArrayToObject(m, "command");
    for (int i = 0; i < argc; i++)
        cJSON_AddItemToArray(cmd, cJSON_CreateString(argv[i]));
}

/* One pairing's entry of runs.json. */
static cJSON *run_json(const struct pairing *p, bool parallel)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "name", p->name);
    bool owner = strcmp(p->mode, "ws-owner") == 0;
    cJSON_AddStringToObject(r, "mode", p->mode);
    cJSON_AddStringToObject(r, "free_policy", owner ? "owner" : "local");
    cJSON_AddStringToObject(r, "allocator", p->alloc_label);
    cJSON_AddStringToObject(r, "allocator_spec", p->alloc_spec);
    char d[sizeof(p->name) + 8];
    snprintf(d, sizeof(d), "runs/%.*s", (int)sizeof(p->name), p->name);
    cJSON_AddStringToObject(r, "dir", d);
    cJSON_AddStringToObject(r, "status", p->status);
    if (p->error[0])
        cJSON_AddStringToObject(r, "error", p->error);
    else
        cJSON_AddNullToObject(r, "error");
    /* Which CPUs its workers ran on (in --parallel, every pairing's
     * workers share the CPUs this process may use). */
    if (p->cpus[0]) {
        cJSON_AddStringToObject(r, "cpus", p->cpus);
        cJSON_AddBoolToObject(r, "pinned", p->pinned);
    } else {
        cJSON_AddNullToObject(r, "cpus");
    }
    if (parallel) {
        if (p->first_sample_at > 0)
            cJSON_AddNumberToObject(r, "first_sample_at", p->first_sample_at);
        cJSON_AddNumberToObject(r, "intervals_behind", (double)p->nbehind);
        cJSON *b = cJSON_AddArrayToObject(r, "behind_t_s");
        for (size_t k = 0; k < p->nbehind; k++)
            cJSON_AddItemToArray(b, cJSON_CreateNumber(p->behind_t[k]));
    }
    return r;
}

/* --parallel: how the CPU headroom was judged. */
static void add_headroom(cJSON *root, const struct fl__mx_headroom *h)
{
    cJSON *o = cJSON_AddObjectToObject(root, "headroom");
    cJSON_AddBoolToObject(o, "checked", h->checked);
    cJSON_AddNumberToObject(o, "cpus_allowed", h->cpus);
    if (!h->checked)
        return;
    cJSON_AddNumberToObject(o, "calibration_rate", h->cal_rate);
    cJSON_AddNumberToObject(o, "cpus_per_pairing", h->cpu_fixed);
    cJSON_AddNumberToObject(o, "cpu_us_per_request", h->cpu_per_request * 1e6);
    cJSON_AddBoolToObject(o, "saturated", h->saturated);
    cJSON_AddNumberToObject(o, "margin", h->margin);
    cJSON_AddNumberToObject(o, "max_rate", h->max_rate);
    cJSON *runs = cJSON_AddArrayToObject(o, "calibration_runs");
    for (int i = 0; i < h->nruns; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "rps", h->run_rate[i]);
        cJSON_AddNumberToObject(r, "cpus", h->run_cpu[i]);
        cJSON_AddItemToArray(runs, r);
    }
}

/* DIR/runs.json: what the report reads; rewritten as pairings start and end. */
int fl__mx_write_runs(const struct matrix *mx)
{
    const struct pairing *p = mx->pairs;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "scenario", mx->name);
    cJSON_AddStringToObject(root, "scenario_file", mx->o->scenario);
    cJSON_AddNumberToObject(root, "duration_s", (double)mx->duration / 1e9);
    cJSON_AddNumberToObject(root, "idle_s", (double)mx->idle / 1e9);
    cJSON_AddNumberToObject(root, "interval_s", (double)mx->interval / 1e9);
    cJSON_AddStringToObject(root, "started_at", mx->started_at);
    add_manifest(root, mx->o, mx->argc, mx->argv);
    cJSON_AddBoolToObject(root, "parallel", mx->o->parallel);
    if (mx->o->parallel)
        add_headroom(root, &mx->headroom);
    cJSON *runs = cJSON_AddArrayToObject(root, "runs");
    for (int i = 0; i < mx->n; i++)
        cJSON_AddItemToArray(runs, run_json(&p[i], mx->o->parallel));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return -ENOMEM;
    char path[PATH_MAX + 16], tmp[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/runs.json", mx->dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = 0;
    if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
        rc = -errno;
    free(text);
    return rc;
}

cJSON *fl__mx_read_json(const char *rdir, const char *file)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/%s", rdir, file);
    char *text = fl__mx_read_text(path);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

void fl__mx_read_cpus(struct pairing *p, const char *rdir)
{
    cJSON *m = fl__mx_read_json(rdir, "manifest.json");
    const cJSON *srv = cJSON_GetObjectItemCaseSensitive(m, "server");
    const cJSON *pin = cJSON_GetObjectItemCaseSensitive(srv, "pinning");
    p->pinned = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pin, "held"));
    /* A sorted set: workers on the same CPU count once. */
    bool seen[1024] = {false};
    const cJSON *w;
    cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(pin, "workers"))
    {
        const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(w, "cpu");
        if (cJSON_IsNumber(cpu) && cpu->valueint >= 0 && cpu->valueint < 1024)
            seen[cpu->valueint] = true;
    }
    cJSON_Delete(m);
    if (!p->pinned) { /* unpinned workers float over the CPUs the server inherited: ours */
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof(set), &set) == 0)
            for (int c = 0; c < 1024 && c < CPU_SETSIZE; c++)
                seen[c] = CPU_ISSET(c, &set);
    }
    size_t k = 0;
    p->cpus[0] = '\0';
    for (int c = 0; c < 1024 && k + 8 < sizeof(p->cpus); c++)
        if (seen[c])
            k += (size_t)snprintf(p->cpus + k, sizeof(p->cpus) - k, "%s%d", k ? "," : "", c);
}

bool fl__mx_make_run_dir(struct pairing *p, const char *dir, char *rdir, size_t len)
{
    if (snprintf(rdir, len, "%s/runs/%s", dir, p->name) >= (int)len) {
        snprintf(p->error, sizeof(p->error), "--out: the path is too long");
        return false;
    }
    if (mkdir(rdir, 0777) != 0 && errno != EEXIST) {
        snprintf(p->error, sizeof(p->error), "%.160s: %s", rdir, strerror(errno));
        return false;
    }
    return true;
}

bool fl__mx_spawn_server(struct pairing *p, const struct mopts *o, const char *rdir,
                         struct server *sv)
{
    char port_s[16], echo_s[16], threads_s[16];
    sv->port = free_port();
    sv->echo = free_port();
    snprintf(port_s, sizeof(port_s), "%d", sv->port);
    snprintf(echo_s, sizeof(echo_s), "%d", sv->echo);
    snprintf(threads_s, sizeof(threads_s), "%d", o->threads);
    snprintf(sv->log, sizeof(sv->log), "%s/server.log", rdir);
    bool owner = strcmp(p->mode, "ws-owner") == 0;
    char *sargv[] = {(char *)o->server, "--mode", owner ? "ws" : (char *)p->mode, "--free-policy",
                     owner ? "owner" : "local", "--allocator", (char *)p->alloc_spec, "--threads",
                     threads_s, "--bind", "127.0.0.1", "--port", port_s, "--echo-port", echo_s,
                     /* Sessions stay open through the scenario's idle phases:
                      * their memory is what the idle phases are about. */
                     "--keepalive-timeout", "0", NULL};
    sv->pid = fl__mx_spawn(sargv, sv->log);
    if (sv->pid < 0) {
        snprintf(p->error, sizeof(p->error), "%.160s: %s", o->server, strerror(errno));
        return false;
    }
    return true;
}

bool fl__mx_await_server(struct pairing *p, const struct mopts *o, struct server *sv)
{
    (void)o;
    if (!wait_ready(sv->port, sv->pid)) {
        fl__mx_last_line(sv->log, p->error, sizeof(p->error));
        if (!p->error[0])
            snprintf(p->error, sizeof(p->error), "the server did not answer /healthz in 10 s");
        fl__mx_stop_server(sv->pid);
        return false;
    }
    return true;
}

pid_t fl__mx_spawn_run(struct pairing *p, const struct mopts *o, const char *loadgen,
                       const char *rdir, const struct server *sv, const char *llog,
                       const char *duration, const char *rate, const char *idle)
{
    char target[64], etarget[64], pid_s[16];
    snprintf(target, sizeof(target), "127.0.0.1:%d", sv->port);
    snprintf(etarget, sizeof(etarget), "127.0.0.1:%d", sv->echo);
    snprintf(pid_s, sizeof(pid_s), "%d", (int)sv->pid);
    char *largv[32] = {(char *)loadgen,
                       "run",
                       "--scenario",
                       (char *)o->scenario,
                       "--target",
                       target,
                       "--echo-target",
                       etarget,
                       "--server-pid",
                       pid_s,
                       "--out",
                       (char *)rdir,
                       "--idle",
                       (char *)(idle ? idle : o->idle),
                       "-q"};
    int n = 15;
    const char *extra[][2] = {{"--duration", duration ? duration : o->duration},
                              {"--interval", o->interval},
                              {"--connections", o->connections},
                              {"--rate", rate ? rate : o->rate}};
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
        if (extra[i][1]) {
            largv[n++] = (char *)extra[i][0];
            largv[n++] = (char *)extra[i][1];
        }
    largv[n] = NULL;
    pid_t lpid = fl__mx_spawn(largv, llog);
    if (lpid < 0)
        snprintf(p->error, sizeof(p->error), "%.160s: %s", loadgen, strerror(errno));
    return lpid;
}

/* `fraglab-loadgen run` against the server into RDIR, logging to `llog`;
 * a stopped matrix passes one SIGINT on. Its exit status, or -1 with
 * p->error when it could not start. */
static int run_loadgen(struct pairing *p, const struct mopts *o, const char *loadgen,
                       const char *rdir, const struct server *sv, const char *llog)
{
    pid_t lpid = fl__mx_spawn_run(p, o, loadgen, rdir, sv, llog, NULL, NULL, NULL);
    if (lpid < 0)
        return -1;
    int st = 0;
    bool forwarded = false;
    while (waitpid(lpid, &st, 0) < 0 && errno == EINTR)
        if (fl__mx_stop && !forwarded) {
            kill(lpid, SIGINT); /* it finishes its interval and writes its summary */
            forwarded = true;
        }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void fl__mx_judge(struct pairing *p, int code, bool server_alive, const char *log, const char *llog)
{
    if (code == 130 || fl__mx_stop) {
        p->status = "interrupted";
        snprintf(p->error, sizeof(p->error), "interrupted");
    } else if (!server_alive) {
        char last[200];
        fl__mx_last_line(log, last, sizeof(last));
        snprintf(p->error, sizeof(p->error), "the server died during the run: %s", last);
    } else if (code != 0) {
        fl__mx_last_line(llog, p->error, sizeof(p->error));
        if (!p->error[0])
            snprintf(p->error, sizeof(p->error), "fraglab-loadgen run exited %d", code);
    } else {
        p->status = "ok";
    }
}

void fl__mx_print_outcome(const struct pairing *p, const char *rdir)
{
    cJSON *s = fl__mx_read_json(rdir, "summary.json");
    const cJSON *rps = cJSON_GetObjectItemCaseSensitive(s, "throughput_rps");
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(s, "server");
    const cJSON *peak = cJSON_GetObjectItemCaseSensitive(sv, "rss_peak_bytes");
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(sv, "rss_final_bytes");
    if (cJSON_IsNumber(rps) && cJSON_IsNumber(peak) && cJSON_IsNumber(fin))
        fprintf(stderr, "%.0f req/s, rss peak %.1f MiB, after idle %.1f MiB", rps->valuedouble,
                peak->valuedouble / 1048576, fin->valuedouble / 1048576);
    cJSON_Delete(s);
    if (strcmp(p->status, "ok") != 0)
        fprintf(stderr, "%s%s: %s", cJSON_IsNumber(rps) ? "; " : "", p->status, p->error);
    fputc('\n', stderr);
}

/* Runs pairing `idx` of `total`: its server, a `run` child against it, the
 * server stopped; fills p->status and p->error and prints one line. */
static void run_pairing(struct pairing *p, const struct mopts *o, const char *dir,
                        const char *loadgen, int idx, int total)
{
    char rdir[PATH_MAX], llog[PATH_MAX + 16];
    p->status = "failed";
    if (!fl__mx_make_run_dir(p, dir, rdir, sizeof(rdir)))
        return;
    fprintf(stderr, "[%d/%d] %s %s: ", idx, total, p->mode, p->alloc_spec);
    fflush(stderr);
    struct server sv;
    if (!fl__mx_spawn_server(p, o, rdir, &sv) || !fl__mx_await_server(p, o, &sv)) {
        fprintf(stderr, "failed: %s\n", p->error);
        return;
    }
    fl_matrix_prom_add(dir, p->name, sv.port);
    snprintf(llog, sizeof(llog), "%s/loadgen.log", rdir);
    int code = run_loadgen(p, o, loadgen, rdir, &sv, llog);
    bool server_alive = waitpid(sv.pid, NULL, WNOHANG) == 0;
    fl__mx_stop_server(sv.pid);
    fl_matrix_prom_remove(dir, p->name);
    if (code < 0) {
        fprintf(stderr, "failed: %s\n", p->error);
        return;
    }
    fl__mx_judge(p, code, server_alive, sv.log, llog);
    fl__mx_read_cpus(p, rdir);
    fl__mx_print_outcome(p, rdir);
}

static int parse(int argc, char **argv, struct mopts *o)
{
    /* The flags (fl_lg_matrix_command's table) into `o`, then the lists:
     * 0, 1 after --help, -1 after one line on stderr. */
    struct fl_lg_matrix_opts f = {0};
    int rc = fl_lg_flags_parse(&fl_lg_matrix_command, argc, argv, &f);
    if (rc)
        return rc;
    o->scenario = f.scenario ? f.scenario : o->scenario;
    o->out = f.out;
    o->server = f.server;
    o->duration = f.duration.text;
    o->idle = f.idle.text ? f.idle.text : o->idle;
    o->interval = f.interval.text;
    o->connections = f.connections.text;
    o->rate = f.rate.text;
    o->rate_x = f.rate.x;
    if (f.threads.text)
        o->threads = (int)f.threads.n;
    o->parallel = f.parallel;
    o->no_headroom_check = f.no_headroom_check;
    /* Copies: argv stays whole for the manifest. */
    static char modes_buf[1024], allocs_buf[4096];
    const char *modes = f.modes ? f.modes : "tpc,ws";
    const char *allocs = f.allocators ? f.allocators : "glibc,jemalloc,mimalloc,tcmalloc";
    if (snprintf(modes_buf, sizeof(modes_buf), "%s", modes) >= (int)sizeof(modes_buf) ||
        snprintf(allocs_buf, sizeof(allocs_buf), "%s", allocs) >= (int)sizeof(allocs_buf)) {
        fprintf(stderr, PROG ": --modes or --allocators: too long\n");
        return -1;
    }
    if ((o->nmodes = split(modes_buf, o->modes, MAX_ITEMS, "modes")) < 0 ||
        (o->nallocs = split(allocs_buf, o->allocs, MAX_ITEMS, "allocators")) < 0)
        return -1;
    for (int i = 0; i < o->nmodes; i++)
        if (strcmp(o->modes[i], "tpc") && strcmp(o->modes[i], "ws") &&
            strcmp(o->modes[i], "ws-owner")) {
            fprintf(stderr, PROG ": --modes: '%s' is not tpc, ws or ws-owner\n", o->modes[i]);
            return -1;
        }
    return 0;
}

/* mx->rate: the rate `run` will offer (--rate applied as it applies it),
 * 0 if any loaded phase is a closed loop. */
static void open_loop_rate(const struct mopts *o, struct fl_scenario *s, struct matrix *mx)
{
    if (o->rate)
        fl_scenario_set_rate(s, o->rate_x);
    mx->rate = s->rate;
    for (size_t i = 0; i < s->nphases; i++)
        if (!s->phases[i].idle && s->phases[i].rate <= 0)
            mx->rate = 0;
}

/* The scenario and the time flags, checked the way `run` will apply them;
 * the scenario's name and the times into `mx`. 0, or 2 (usage). */
static int check_scenario(struct mopts *o, const char *default_scenario, struct matrix *mx)
{
    if (!o->scenario)
        o->scenario = default_scenario;
    if (!o->scenario) {
        fprintf(stderr, PROG ": no scenario: give --scenario FILE\n");
        return 2;
    }
    struct fl_scenario s;
    char err[512];
    if (fl_scenario_load(o->scenario, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return 2;
    }
    mx->duration = s.duration;
    mx->interval = s.interval;
    char why[160];
    const char *bad = NULL;
    if (o->duration &&
        fl_dist_parse_value(FL_DIST_TIME, o->duration, &mx->duration, why, sizeof(why)))
        bad = "--duration";
    else if (fl_dist_parse_value(FL_DIST_TIME, o->idle, &mx->idle, why, sizeof(why)))
        bad = "--idle";
    else if (o->interval &&
             fl_dist_parse_value(FL_DIST_TIME, o->interval, &mx->interval, why, sizeof(why)))
        bad = "--interval";
    snprintf(mx->name, sizeof(mx->name), "%s", s.name);
    mx->timeout = s.timeout;
    open_loop_rate(o, &s, mx);
    fl_scenario_free(&s);
    if (bad) {
        fprintf(stderr, PROG ": %s: %s\n", bad, why);
        return 2;
    }
    return 0;
}

/* fraglab-server (--server, else beside this binary) and this binary, whose
 * `run` each pairing calls. 0, 2 (no server) or 1. */
static int find_binaries(struct mopts *o, struct matrix *mx)
{
    if (!o->server)
        o->server = fl_lg_beside_exe("fraglab-server", mx->server, sizeof(mx->server));
    if (!o->server || access(o->server, X_OK) != 0) {
        fprintf(stderr, PROG ": no fraglab-server at %s: give --server PATH\n",
                o->server ? o->server : "(unknown)");
        return 2;
    }
    ssize_t ln = readlink("/proc/self/exe", mx->loadgen, sizeof(mx->loadgen) - 1);
    if (ln <= 0) {
        fprintf(stderr, PROG ": /proc/self/exe: %s\n", ln < 0 ? strerror(errno) : "empty");
        return 1;
    }
    mx->loadgen[ln] = '\0';
    return 0;
}

/* The start time and DIR/runs/ (DIR: --out, else results/matrix-DATE-TIME).
 * 0, or 1. */
static int make_out_dir(struct matrix *mx)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(mx->started_at, sizeof(mx->started_at), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (mx->o->out) {
        snprintf(mx->dir, sizeof(mx->dir), "%s", mx->o->out);
    } else {
        localtime_r(&now, &tm);
        strftime(mx->dir, sizeof(mx->dir), "results/matrix-%Y%m%d-%H%M%S", &tm);
    }
    char runs_dir[PATH_MAX + 8];
    snprintf(runs_dir, sizeof(runs_dir), "%s/runs", mx->dir);
    int mrc = fl_lg_make_dirs(runs_dir);
    if (mrc) {
        fprintf(stderr, PROG ": %s: %s\n", runs_dir, strerror(-mrc));
        return 1;
    }
    return 0;
}

/* Every mode under every allocator, in that order, all pending. */
static void plan_pairings(struct matrix *mx)
{
    const struct mopts *o = mx->o;
    mx->n = 0;
    for (int m = 0; m < o->nmodes; m++)
        for (int a = 0; a < o->nallocs; a++) {
            struct pairing *p = &mx->pairs[mx->n++];
            p->mode = o->modes[m];
            p->alloc_spec = o->allocs[a];
            char label[sizeof(p->alloc_label)];
            label_of(p->alloc_spec, label, sizeof(label));
            memcpy(p->alloc_label, label, sizeof(label));
            snprintf(p->name, sizeof(p->name), "%s-%s", o->modes[m], label);
            p->status = "pending";
        }
}

/* SIGINT and SIGTERM stop the matrix after the pairing under way. */
static void catch_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Runs the pairings one after the other (once stopped, the rest are
 * skipped), runs.json rewritten around each; the number that failed. */
static int run_all(struct matrix *mx)
{
    int failed = 0;
    /* runs.json exists from the start, so `report DIR` works mid-run: the
     * pairing under way is "running", its CSV growing. */
    fl__mx_write_runs(mx);
    for (int i = 0; i < mx->n; i++) {
        struct pairing *p = &mx->pairs[i];
        if (fl__mx_stop) {
            p->status = "skipped";
            snprintf(p->error, sizeof(p->error), "interrupted before it ran");
        } else {
            p->status = "running";
            fl__mx_write_runs(mx);
            run_pairing(p, mx->o, mx->dir, mx->loadgen, i + 1, mx->n);
            failed += strcmp(p->status, "ok") != 0;
        }
        fl__mx_write_runs(mx);
        fl_mr_write_live(mx->dir, true); /* the page so far; the report ends it */
    }
    return failed;
}

int fl_lg_cmd_matrix(int argc, char **argv, const char *default_scenario)
{
    /* One server thread per CPU this process may use: tpc pins each worker
     * to one of them and refuses more threads than it may use. */
    struct mopts o = {.idle = "10s", .threads = fl__mx_allowed_cpus()};
    int prc = parse(argc, argv, &o);
    if (prc)
        return prc > 0 ? 0 : 2;
    static struct pairing pairs[MAX_ITEMS * MAX_ITEMS];
    struct matrix mx = {.o = &o, .argc = argc, .argv = argv, .pairs = pairs};
    int rc = check_scenario(&o, default_scenario, &mx);
    if (!rc)
        rc = find_binaries(&o, &mx);
    if (!rc && o.parallel && mx.rate <= 0) {
        fprintf(stderr, PROG ": --parallel needs an open loop (a rate; give --rate R): in a "
                             "closed loop the pairings would compete for CPU and carry different "
                             "loads\n");
        rc = 2;
    }
    if (!rc)
        rc = make_out_dir(&mx);
    if (rc)
        return rc;
    plan_pairings(&mx);
    catch_signals();
    fprintf(stderr, "matrix: %s, %d pairings of %.0f s load + %.0f s idle%s, results in %s/\n",
            mx.name, mx.n, (double)mx.duration / 1e9, (double)mx.idle / 1e9,
            o.parallel ? ", all at once" : "", mx.dir);
    int failed = o.parallel ? fl__mx_run_parallel(&mx) : run_all(&mx);
    if (failed == -2)
        return 2;
    if (failed < 0)
        return fl__mx_stop ? 130 : 1;
    char err[512];
    if (fl_lg_report_dir(mx.dir, true, stdout, NULL, err, sizeof(err))) {
        fprintf(stderr, PROG ": report: %s\n", err);
        return 1;
    }
    printf("\nreport: %s/index.html (table: %s/matrix.csv)\n", mx.dir, mx.dir);
    return fl__mx_stop ? 130 : failed ? 1 : 0;
}
