/* bare_responder.c - the machine's ceiling for bench/server-efficiency.sh:
 * one thread, one io_uring, a multishot accept, a multishot receive into
 * provided buffers, and for every request (counted by its blank line, no
 * parsing) the same fixed response from one static buffer. No allocation
 * after start-up. Not a server: it ignores bodies, methods and paths.
 *
 *   bare-responder PORT          (127.0.0.1; SIGINT or SIGTERM stop it)
 */
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uring.h"

#define MAX_CONNS 4096
#define NBUF 256
#define BUFSZ 16384
#define GROUP 0
#define BATCH 64 /* responses per send at most */

/* Byte for byte fraglab-server's answer to a keep-alive GET /healthz, so
 * that wrk, which parses every answer, spends the same on both. */
static const char resp1[] = "HTTP/1.1 200 OK\r\nServer: fraglab\r\nContent-Type: text/plain\r\n"
                            "Content-Length: 2\r\n\r\nok";
#define RLEN (sizeof(resp1) - 1)
static char resp[BATCH * RLEN];

struct conn {
    int fd;
    unsigned tail;   /* how far "\r\n\r\n" was matched across reads */
    unsigned owed;   /* responses counted, not yet sent */
    size_t inflight; /* bytes of the send in flight (0: none) */
    size_t done;     /* of them, sent so far (short sends) */
    bool closing;
};

static struct conn conns[MAX_CONNS];
static struct io_uring ring;
static struct fl_bufring bufs; /* common/uring.c: mmap'd, registered */
static volatile sig_atomic_t stop;

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_CLOSE };
#define UD(op, fd) ((uint64_t)(op) << 32 | (uint32_t)(fd))

static struct io_uring_sqe *sqe_get(void)
{
    return fl_uring_sqe(&ring);
}

static void arm_recv(int fd)
{
    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = GROUP;
    io_uring_sqe_set_data64(s, UD(OP_RECV, fd));
}

static void send_owed(struct conn *c)
{
    if (c->inflight || !c->owed || c->closing)
        return;
    unsigned n = c->owed < BATCH ? c->owed : BATCH;
    c->owed -= n;
    c->inflight = n * RLEN;
    c->done = 0;
    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_send(s, c->fd, resp, c->inflight, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, UD(OP_SEND, c->fd));
}

static void close_conn(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_close(s, c->fd);
    io_uring_sqe_set_data64(s, UD(OP_CLOSE, c->fd));
}

/* Counts blank lines ("\r\n\r\n") across reads: one per request. */
static unsigned count_requests(struct conn *c, const char *p, size_t n)
{
    static const char pat[] = "\r\n\r\n";
    unsigned found = 0, t = c->tail;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == pat[t])
            t++;
        else
            t = p[i] == '\r' ? 1 : 0;
        if (t == 4) {
            found++;
            t = 0;
        }
    }
    c->tail = t;
    return found;
}

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
        fprintf(stderr, "usage: bare-responder PORT\n");
        return 2;
    }
    for (int i = 0; i < BATCH; i++)
        memcpy(resp + i * RLEN, resp1, RLEN);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)atoi(argv[1])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 4096)) {
        fprintf(stderr, "bare-responder: port %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
    int rc = io_uring_queue_init_params(1024, &ring, &p);
    if (rc) {
        fprintf(stderr, "bare-responder: io_uring: %s\n", strerror(-rc));
        return 3;
    }
    rc = fl_bufring_init(&bufs, &ring, NBUF, BUFSZ, GROUP);
    if (rc) {
        fprintf(stderr, "bare-responder: buffer ring: %s\n", strerror(-rc));
        return 1;
    }
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    signal(SIGPIPE, SIG_IGN);

    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, UD(OP_ACCEPT, lfd));
    while (!stop) {
        rc = io_uring_submit_and_wait(&ring, 1);
        if (rc < 0 && rc != -EINTR && rc != -EBUSY) {
            fprintf(stderr, "bare-responder: io_uring_enter: %s\n", strerror(-rc));
            return 1;
        }
        struct io_uring_cqe *cqe;
        unsigned head, n = 0;
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            n++;
            int op = (int)(cqe->user_data >> 32), fd = (int)(uint32_t)cqe->user_data;
            int res = cqe->res;
            if (op == OP_ACCEPT) {
                if (res >= 0 && res < MAX_CONNS) {
                    setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    conns[res] = (struct conn){.fd = res};
                    arm_recv(res);
                } else if (res >= 0) {
                    close(res);
                }
                if (!(cqe->flags & IORING_CQE_F_MORE)) {
                    s = sqe_get();
                    io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_CLOEXEC);
                    io_uring_sqe_set_data64(s, UD(OP_ACCEPT, lfd));
                }
                continue;
            }
            struct conn *c = &conns[fd];
            if (op == OP_RECV) {
                if (cqe->flags & IORING_CQE_F_BUFFER) {
                    unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
                    if (res > 0)
                        c->owed += count_requests(c, fl_bufring_data(&bufs, bid), (size_t)res);
                    fl_bufring_recycle(&bufs, bid);
                }
                if (res <= 0 && res != -ENOBUFS) {
                    close_conn(c);
                    continue;
                }
                send_owed(c);
                if (!(cqe->flags & IORING_CQE_F_MORE) && !c->closing)
                    arm_recv(fd); /* ended (-ENOBUFS): receive again */
            } else if (op == OP_SEND) {
                if (res <= 0) {
                    close_conn(c);
                    continue;
                }
                c->done += (size_t)res;
                if (c->done < c->inflight) { /* short send: the rest */
                    s = sqe_get();
                    io_uring_prep_send(s, fd, resp + c->done, c->inflight - c->done, MSG_NOSIGNAL);
                    io_uring_sqe_set_data64(s, UD(OP_SEND, fd));
                    continue;
                }
                c->inflight = 0;
                send_owed(c);
            }
            /* OP_CLOSE: the slot is reused by the next accept of this fd */
        }
        io_uring_cq_advance(&ring, n);
    }
    io_uring_queue_exit(&ring);
    return 0;
}
