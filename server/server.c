/* server.c - listeners, worker threads and orderly shutdown, for either
 * mode through its operations table (runtime.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime.h"

/* Turns a boolean socket option on; 0 or -errno with one line in `err`. */
static int set_flag(int fd, int level, int opt, const char *name, char *err, size_t errlen)
{
    int one = 1;
    if (setsockopt(fd, level, opt, &one, sizeof(one)) == 0)
        return 0;
    int e = errno;
    snprintf(err, errlen, "setsockopt %s: %s", name, strerror(e));
    return -e;
}

/* A listening socket on bind:port. SO_REUSEPORT lets every worker own one
 * (the kernel spreads connections by flow hash); TCP_NODELAY set here is
 * inherited by accepted sockets, saving a setsockopt per connection.
 * `first`: the port's first socket. It binds without SO_REUSEPORT, so it
 * fails on a port another server holds (with SO_REUSEPORT alone a second
 * server would bind beside the first and silently take part of its
 * connections), and turns it on before listen for the others to join. */
static int make_listener(const char *bind_addr, int *port, bool first, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    socklen_t slen;
    if (inet_pton(AF_INET, bind_addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)*port);
        slen = sizeof(*v4);
    } else if (inet_pton(AF_INET6, bind_addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)*port);
        slen = sizeof(*v6);
    } else {
        snprintf(err, errlen, "bind address '%s' is not an IPv4 or IPv6 address", bind_addr);
        return -EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "socket: %s", strerror(e));
        return -e;
    }
    int rc;
    if ((rc = set_flag(fd, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", err, errlen)) ||
        (rc = set_flag(fd, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", err, errlen)) ||
        (!first && (rc = set_flag(fd, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT", err, errlen))))
        goto fail;
    if (bind(fd, (struct sockaddr *)&ss, slen)) {
        rc = -errno;
        snprintf(err, errlen, "bind %s port %d: %s%s", bind_addr, *port, strerror(-rc),
                 rc == -EADDRINUSE ? " (another server listens there?)" : "");
        goto fail;
    }
    if (first && (rc = set_flag(fd, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT", err, errlen)))
        goto fail;
    if (listen(fd, 4096)) {
        rc = -errno;
        snprintf(err, errlen, "listen %s port %d: %s", bind_addr, *port, strerror(-rc));
        goto fail;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &slen)) {
        rc = -errno;
        snprintf(err, errlen, "getsockname %s port %d: %s", bind_addr, *port, strerror(-rc));
        goto fail;
    }
    *port = ntohs(ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
    return fd;

fail:
    close(fd);
    return rc;
}

struct start {
    struct fl_worker *w;
    sem_t done;
    int rc;
    struct fl_start_error e;
};

static void *worker_main(void *arg)
{
    struct start *st = arg;
    struct fl_worker *w = st->w;
    const struct fl_runtime_ops *rt = w->srv->rt;
    int rc = 0;
    if (rt->worker_start && (rc = rt->worker_start(w, st->e.msg, sizeof(st->e.msg))))
        st->e.stage = FL_START_RUNTIME;
    if (!rc)
        rc = fl_worker_init(w, w->srv, w->id, &st->e);
    st->rc = rc;
    sem_post(&st->done); /* `st` is gone after this */
    if (rc)
        return NULL;
    /* Serve only once every worker is set up: what /stats reads of the
     * others (CPU, pinning) is written before the gate opens. */
    sem_wait(&w->srv->go);
    fl_worker_run(w);
    return NULL;
}

static int open_listeners(struct fl_server *srv, char *err, size_t errlen)
{
    int port = (int)srv->cfg.port, echo = (int)srv->cfg.echo_port;
    for (int i = 0; i < srv->nworkers; i++) {
        struct fl_worker *w = &srv->workers[i];
        /* With port 0 the first socket picks the port and the rest join it. */
        int fd = make_listener(srv->cfg.bind, &port, i == 0, err, errlen);
        if (fd < 0)
            return fd;
        w->listen_fd = fd;
        if (srv->cfg.echo_port) {
            if ((fd = make_listener(srv->cfg.bind, &echo, i == 0, err, errlen)) < 0)
                return fd;
            w->echo_fd = fd;
        }
    }
    srv->cfg.port = port;
    srv->cfg.echo_port = echo;
    return 0;
}

static int worker_count(const struct fl_server_config *cfg)
{
    if (cfg->threads > 0)
        return (int)cfg->threads;
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
        return CPU_COUNT(&allowed);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int fail(struct fl_start_error *e, enum fl_start_stage stage, int rc)
{
    e->stage = stage;
    e->err = rc;
    return rc;
}

/* Starts the workers one at a time; each reports its set-up before the next. */
static int start_workers(struct fl_server *srv, int *started, struct fl_start_error *e)
{
    for (int i = 0; i < srv->nworkers; i++) {
        struct start st = {.w = &srv->workers[i]};
        sem_init(&st.done, 0, 0);
        int rc = -pthread_create(&srv->workers[i].thread, NULL, worker_main, &st);
        if (rc) {
            snprintf(e->msg, sizeof(e->msg), "pthread_create: %s", strerror(-rc));
            sem_destroy(&st.done);
            return fail(e, FL_START_WORKER, rc);
        }
        sem_wait(&st.done);
        sem_destroy(&st.done);
        if (st.rc) {
            pthread_join(srv->workers[i].thread, NULL);
            srv->workers[i].thread = 0;
            snprintf(e->msg, sizeof(e->msg), "%s", st.e.msg);
            return fail(e, st.e.stage, st.rc);
        }
        ++*started;
    }
    return 0;
}

int fl_server_start(struct fl_server *srv, struct fl_start_error *e)
{
    memset(e, 0, sizeof(*e));
    clock_gettime(CLOCK_MONOTONIC, &srv->started);
    srv->rt = srv->cfg.mode_kind == FL_MODE_WS ? &fl_ws_ops : &fl_tpc_ops;
    srv->free_owner = srv->cfg.free_policy_kind == FL_FREE_OWNER;
    if (srv->free_owner && !srv->rt->return_to_owner) { /* config.c refuses it first */
        snprintf(e->msg, sizeof(e->msg), "--free-policy owner: not available in %s mode",
                 srv->rt->name);
        return fail(e, FL_START_RUNTIME, -EINVAL);
    }
    srv->nworkers = worker_count(&srv->cfg);
    if (srv->nworkers > FL_MAX_WORKERS)
        srv->nworkers = FL_MAX_WORKERS;
    srv->workers = aligned_alloc(64, sizeof(struct fl_worker) * (size_t)srv->nworkers);
    if (!srv->workers) {
        snprintf(e->msg, sizeof(e->msg), "workers: %s", strerror(ENOMEM));
        return fail(e, FL_START_MEMORY, -ENOMEM);
    }
    memset(srv->workers, 0, sizeof(struct fl_worker) * (size_t)srv->nworkers);
    for (int i = 0; i < srv->nworkers; i++) {
        srv->workers[i].id = i;
        srv->workers[i].cpu = -1;
        srv->workers[i].listen_fd = srv->workers[i].echo_fd = srv->workers[i].wake_fd = -1;
        srv->workers[i].srv = srv;
    }
    sem_init(&srv->go, 0, 0);
    int started = 0;
    int rc = open_listeners(srv, e->msg, sizeof(e->msg));
    if (rc)
        fail(e, FL_START_LISTEN, rc);
    else if ((rc = srv->rt->prepare(srv, e->msg, sizeof(e->msg))))
        fail(e, FL_START_RUNTIME, rc);
    else
        rc = start_workers(srv, &started, e);
    if (rc) /* the started workers see it as soon as the gate opens, and exit */
        atomic_store(&srv->stopping, true);
    for (int i = 0; i < started; i++)
        sem_post(&srv->go);
    if (rc)
        fl_server_stop(srv);
    return rc;
}

void fl_server_stop(struct fl_server *srv)
{
    atomic_store(&srv->stopping, true);
    for (int i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].thread)
            fl_worker_wake(&srv->workers[i]);
    /* Join every worker before releasing any: a worker freeing its last
     * connection wakes all the others through their eventfds. */
    for (int i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].thread)
            pthread_join(srv->workers[i].thread, NULL);
    if (srv->rt->stopped)
        srv->rt->stopped(srv);
    /* What was served, for whoever drove the load to account for every
     * request after a stop (tests do). */
    int64_t req = 0, acc = 0, peer = 0;
    for (int i = 0; i < srv->nworkers; i++) {
        req += FL_READ(&srv->workers[i].ctr, requests);
        acc += FL_READ(&srv->workers[i].ctr, connections_accepted);
        peer += FL_READ(&srv->workers[i].ctr, peer_errors);
    }
    if (srv->nworkers && srv->workers[0].thread)
        fprintf(stderr,
                "fraglab-server: stopped: %" PRId64 " HTTP requests answered, %" PRId64
                " connections accepted, %" PRId64 " ended by the peer\n",
                req, acc, peer);
    for (int i = 0; i < srv->nworkers; i++) {
        struct fl_worker *w = &srv->workers[i];
        if (w->thread)
            fl_worker_destroy(w);
        if (w->listen_fd >= 0)
            close(w->listen_fd);
        if (w->echo_fd >= 0)
            close(w->echo_fd);
    }
    if (srv->rt->destroy)
        srv->rt->destroy(srv); /* also after a partial prepare */
    free(srv->workers);
    srv->workers = NULL;
    sem_destroy(&srv->go);
}
