/* main.c - fraglab-server: settings, allocator, workers, wait for a signal. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fl_alloc.h"
#include "routes.h"
#include "runtime.h"
#include "uring.h"

/* Exit codes: 0 clean stop, 1 runtime failure, 2 bad usage or allocator,
 * 3 io_uring not available (disabled, seccomp, memlock). */
enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_NO_URING = FL_EXIT_NO_URING };

static int check(const struct fl_alloc_info *in)
{
    struct fl_alloc_stats s;
    fl_alloc_stats_read(&s);
    printf("%-26s %s\n%-26s %s\n%-26s %s\n%-26s %s\n%-26s %s\n", "allocator:", in->name,
           "version:", in->version, "library:", in->library, "requested:", in->requested,
           "settings:", *in->settings ? in->settings : "(defaults)");
    fl_alloc_stats_print(stdout, &s);
    return 0;
}

int main(int argc, char **argv)
{
    static struct fl_server srv;
    char err[FL_ALLOC_ERRLEN];
    switch (fl_config_load(argc, argv, &srv.cfg, err, sizeof(err))) {
    case FL_CONFIG_EXIT_OK:
        return 0;
    case FL_CONFIG_ERROR:
        fprintf(stderr, "fraglab-server: %s\n", err);
        return EXIT_USAGE;
    case FL_CONFIG_OK:
        break;
    }
    struct fl_alloc_info info;
    if (fl_alloc_init(srv.cfg.allocator, argv, &info, err, sizeof(err))) {
        fprintf(stderr, "fraglab-server: %s\n", err);
        return EXIT_USAGE;
    }
    if (srv.cfg.check)
        return check(&info);
    srv.alloc = fl_alloc_active();
    srv.route = fl_routes_cb;

    /* Workers inherit this mask: only the main thread takes the signals. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct fl_start_error e;
    if (fl_server_start(&srv, &e)) {
        char why[400];
        if (e.stage == FL_START_URING && fl_uring_unavailable(-e.err, why, sizeof(why))) {
            fprintf(stderr, "fraglab-server: %s\n", why);
            return EXIT_NO_URING;
        }
        fprintf(stderr, "fraglab-server: %s\n", e.msg);
        return EXIT_RUNTIME;
    }
    bool v6 = strchr(srv.cfg.bind, ':') != NULL;
    fprintf(stderr,
            "fraglab-server: listening on http://%s%s%s:%lld (mode %s, %d workers, allocator %s "
            "%s)",
            v6 ? "[" : "", srv.cfg.bind, v6 ? "]" : "", (long long)srv.cfg.port, srv.cfg.mode,
            srv.nworkers, info.name, info.version);
    if (srv.cfg.echo_port)
        fprintf(stderr, ", echo on port %lld", (long long)srv.cfg.echo_port);
    fprintf(stderr, "\n");

    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "fraglab-server: %s: stopping\n", strsignal(sig));
    fl_server_stop(&srv);
    return 0;
}
