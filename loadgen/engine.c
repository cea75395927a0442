/* engine.c - one load generator thread: its ring, its slots, its timers.
 *
 * A slot's connection goes IDLE (no socket) -> CONNECTING -> READY ->
 * BUSY (a request's send and receive in flight together) -> READY ... and
 * back to IDLE when it ends; an error or timeout passes through CLOSING
 * while its operations are cancelled. Slots waiting for a time (think,
 * open-loop schedule, reconnect back-off, phase start) sit in a binary heap
 * keyed by that time; the ring's wait ends at the heap's top, the next
 * interval tick or the next timeout scan, whichever comes first. */
#include "engine.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "uring.h"

#define RBUF_COUNT 256           /* provided receive buffers per thread */
#define RBUF_SIZE (16 * 1024)    /* bytes each */
#define RBUF_GROUP 1             /* their group id */
#define SCAN_NS (100 * 1000000u) /* timeout scan period */
#define RETRY_NS (50 * 1000000u) /* back-off after a failed connect */
#define BATCH_DIV 8              /* wait for busy / BATCH_DIV completions... */
#define BATCH_NS (50 * 1000u)    /* ...or this much longer */
#define NO_TIME UINT64_MAX

const char *const fl_lg_err_names[FL_LG_NERR] = {
#define FL_X(name, help) #name,
    FL_LG_ERRORS(FL_X)
#undef FL_X
};

/* In a CQE's user_data's low bits, beside the connection. OP_CANCEL is 0:
 * a connection's cancel is its bare pointer (user_data NULL: none). */
enum op { OP_CANCEL = 0, OP_CONNECT = 1, OP_SEND = 2, OP_RECV = 3 };
enum cstate { C_IDLE, C_CONNECTING, C_READY, C_BUSY, C_CLOSING };

struct conn {
    struct fl_lg_thread *t;
    uint32_t slot; /* index over the whole run */
    int fd;
    int32_t heap_idx; /* -1: not waiting in the heap */
    uint8_t state;
    uint8_t nops; /* operations in flight */
    bool tcp;     /* this connection talks to the echo port */
    bool sent, answered, failed_connect;
    bool resend;      /* reconnecting to send the current request again */
    bool retried;     /* the current request was sent again once already */
    bool recv_armed;  /* its multishot receive is in flight */
    bool turn_kept;   /* closed at its turn (lifetime over): the reconnect takes that turn */
    uint32_t answers; /* answers on this connection */
    uint64_t got;     /* bytes received for the current request */
    enum fl_resp_result verdict;
    uint64_t due;      /* heap key */
    uint64_t intended; /* when the current (or next) request should be sent */
    uint64_t sent_at;
    uint64_t deadline; /* of the connect or the request in flight */
    uint64_t life_end; /* NO_TIME: no lifetime limit */
    uint64_t left;     /* requests left on this connection; UINT64_MAX: no limit */
    uint64_t seen;     /* tcp: bytes echoed back so far */
    uint64_t rng;
    const struct fl_scenario_population *pop; /* the slot's, for the whole run; NULL: --path */
    const struct fl_scenario_request *first;  /* drawn at connect, sent first */
    size_t to_send;                           /* bytes of head + body not yet sent */
    struct msghdr msg;
    struct iovec iov[2];
    struct fl_req req;
    struct fl_resp resp;
};

/* Weighted choice among some of the scenario's requests. */
struct mix {
    const struct fl_scenario_request *req[FL_SCENARIO_MAX_REQUESTS];
    double cum[FL_SCENARIO_MAX_REQUESTS];
    unsigned n;
};

struct fl_lg_thread {
    struct fl_lg_run *run;
    const struct fl_scenario *s;
    unsigned idx;
    struct io_uring ring;
    bool ring_ok;
    struct fl_bufring bufs;
    struct conn *conns;
    uint32_t nconns;
    struct conn **heap;
    uint32_t nheap;
    struct mix http, tcp;

    struct fl_lg_tally cur;   /* this interval */
    struct fl_lg_tally total; /* the run after warm-up */
    struct fl_lg_tally out;   /* published, taken by the coordinator (under run->mu) */
    uint64_t published;       /* ticks published (under run->mu) */
    bool done;                /* finished (under run->mu) */
    bool ready;               /* its ring is set up, or init_rc says why not (under run->mu) */
    int init_rc;
    enum fl_lg_init_stage init_stage;
    const char *init_what;

    uint64_t next_tick; /* absolute ns */
    uint64_t tick;      /* number of the interval running */
    uint64_t next_scan;
    uint64_t sends_left; /* share of max_requests; UINT64_MAX: no cap */
    uint64_t busy;       /* connections with a request or connect in flight */
    uint64_t unfinished;

    size_t phase;           /* index of the phase running, nphases before start */
    bool active_phase;      /* requests are sent in this phase */
    bool close_idle;        /* idle phase that closes connections */
    uint32_t active;        /* slots active in this phase (over the run) */
    uint64_t conn_interval; /* open loop: ns between one slot's sends; 0: closed loop */
};

uint64_t fl_lg_now(void)
{
    return fl_clock_ns();
}

/* ------------------------------------------------------------------ tallies */

int fl_lg_tally_init(struct fl_lg_tally *t)
{
    memset(t, 0, sizeof(*t));
    int rc = fl_hist_init(&t->lat, FL_HIST_DEFAULT_LOWEST, FL_HIST_DEFAULT_HIGHEST,
                          FL_HIST_DEFAULT_SIGFIGS);
    if (!rc)
        rc = fl_hist_init(&t->lat_unc, FL_HIST_DEFAULT_LOWEST, FL_HIST_DEFAULT_HIGHEST,
                          FL_HIST_DEFAULT_SIGFIGS);
    if (rc)
        fl_lg_tally_destroy(t);
    return rc;
}

void fl_lg_tally_destroy(struct fl_lg_tally *t)
{
    fl_hist_destroy(&t->lat);
    fl_hist_destroy(&t->lat_unc);
}

void fl_lg_tally_reset(struct fl_lg_tally *t)
{
    memset(&t->c, 0, sizeof(t->c));
    memset(t->pop_open, 0, sizeof(t->pop_open));
    fl_hist_reset(&t->lat);
    fl_hist_reset(&t->lat_unc);
}

void fl_lg_tally_add(struct fl_lg_tally *dst, const struct fl_lg_tally *src)
{
    uint64_t *d = (uint64_t *)&dst->c;
    const uint64_t *s = (const uint64_t *)&src->c;
    for (size_t i = 0; i < sizeof(dst->c) / sizeof(uint64_t); i++)
        d[i] += s[i];
    for (size_t i = 0; i < FL_SCENARIO_MAX_POPULATIONS; i++)
        dst->pop_open[i] += src->pop_open[i];
    fl_hist_merge(&dst->lat, &src->lat);
    fl_hist_merge(&dst->lat_unc, &src->lat_unc);
}

uint64_t fl_lg_counts_errors(const struct fl_lg_counts *c)
{
    uint64_t n = 0;
    for (int i = 0; i < FL_LG_NERR; i++)
        n += c->errors[i];
    return n;
}

/* Counts into this interval and, after the warm-up, the run. */
static void count_error(struct fl_lg_thread *t, enum fl_lg_err e, bool is_request, uint64_t now)
{
    t->cur.c.errors[e]++;
    t->cur.c.requests += is_request;
    if (now >= t->run->warmup_end) {
        t->total.c.errors[e]++;
        t->total.c.requests += is_request;
    }
}

/* --------------------------------------------------------------------- heap */

static bool heap_less(struct conn *a, struct conn *b)
{
    return a->due < b->due;
}

static void heap_set(struct fl_lg_thread *t, uint32_t i, struct conn *c)
{
    t->heap[i] = c;
    c->heap_idx = (int32_t)i;
}

static void heap_up(struct fl_lg_thread *t, uint32_t i)
{
    struct conn *c = t->heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!heap_less(c, t->heap[p]))
            break;
        heap_set(t, i, t->heap[p]);
        i = p;
    }
    heap_set(t, i, c);
}

static void heap_down(struct fl_lg_thread *t, uint32_t i)
{
    struct conn *c = t->heap[i];
    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        struct conn *best = c;
        if (l < t->nheap && heap_less(t->heap[l], best))
            m = l, best = t->heap[l];
        if (l + 1 < t->nheap && heap_less(t->heap[l + 1], best))
            m = l + 1, best = t->heap[l + 1];
        if (m == i)
            break;
        heap_set(t, i, best);
        i = m;
    }
    heap_set(t, i, c);
}

static void heap_remove(struct fl_lg_thread *t, struct conn *c)
{
    if (c->heap_idx < 0)
        return;
    uint32_t i = (uint32_t)c->heap_idx;
    c->heap_idx = -1;
    struct conn *last = t->heap[--t->nheap];
    if (last == c)
        return;
    heap_set(t, i, last);
    heap_up(t, i);
    heap_down(t, (uint32_t)last->heap_idx);
}

/* (Re)schedules c at `due`. */
static void schedule(struct fl_lg_thread *t, struct conn *c, uint64_t due)
{
    heap_remove(t, c);
    c->due = due;
    heap_set(t, t->nheap++, c);
    heap_up(t, (uint32_t)c->heap_idx);
}

/* ---------------------------------------------------------------- the mixes */

static void mix_add(struct mix *m, const struct fl_scenario_request *q)
{
    double prev = m->n ? m->cum[m->n - 1] : 0;
    m->req[m->n] = q;
    m->cum[m->n] = prev + q->weight;
    m->n++;
}

static const struct fl_scenario_request *mix_pick(const struct mix *m, uint64_t *rng)
{
    double u = fl_dist_uniform(rng) * m->cum[m->n - 1];
    for (unsigned i = 0; i + 1 < m->n; i++)
        if (u < m->cum[i])
            return m->req[i];
    return m->req[m->n - 1];
}

/* ----------------------------------------------------------- the operations */

static double progress(const struct fl_lg_thread *t, uint64_t now)
{
    uint64_t span = t->run->end - t->run->start;
    return now <= t->run->start ? 0 : (double)(now - t->run->start) / (double)span;
}

static void *udata(struct conn *c, enum op op)
{
    return (void *)((uintptr_t)c | (uintptr_t)op);
}

static size_t pop_index(const struct fl_lg_thread *t, const struct conn *c)
{
    return (size_t)(c->pop - t->s->populations);
}

static bool slot_active(const struct fl_lg_thread *t, const struct conn *c)
{
    return t->active_phase && c->slot < t->active;
}

/* One multishot receive per connection, armed with its first request and
 * in flight until the connection closes (or the kernel ends it: no buffer
 * free, EOF, an error): each answer's bytes arrive without a new SQE. */
static void arm_recv(struct fl_lg_thread *t, struct conn *c)
{
    if (c->recv_armed)
        return;
    c->recv_armed = true;
    struct io_uring_sqe *sqe = fl_uring_sqe(&t->ring);
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = RBUF_GROUP;
    io_uring_sqe_set_data(sqe, udata(c, OP_RECV));
    c->nops++;
}

static void arm_send(struct fl_lg_thread *t, struct conn *c)
{
    struct io_uring_sqe *sqe = fl_uring_sqe(&t->ring);
    if (c->msg.msg_iovlen == 1) /* a head alone: no msghdr to copy in */
        io_uring_prep_send(sqe, c->fd, c->msg.msg_iov->iov_base, c->msg.msg_iov->iov_len,
                           MSG_NOSIGNAL);
    else
        io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
    io_uring_sqe_set_data(sqe, udata(c, OP_SEND));
    c->nops++;
}

/* The slot's next event after its connection ended (or failed to open). */
static void after_close(struct fl_lg_thread *t, struct conn *c, uint64_t now)
{
    bool kept = c->turn_kept;
    c->turn_kept = false;
    if (!slot_active(t, c) || (t->sends_left == 0 && !c->resend))
        return; /* the next phase change or nothing */
    uint64_t due = c->failed_connect ? now + RETRY_NS : now;
    if (c->resend) { /* the request waiting to go again goes at once */
        schedule(t, c, now);
        return;
    }
    if (t->conn_interval) {
        /* Open loop: the schedule goes on; a reconnect takes the next turn,
         * or the turn it was closed at, unused. */
        if (!kept)
            c->intended += t->conn_interval;
        if (due < c->intended)
            due = c->intended;
    }
    schedule(t, c, due);
}

static void finish_close(struct fl_lg_thread *t, struct conn *c, uint64_t now)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->state == C_BUSY || c->state == C_CONNECTING || c->state == C_CLOSING)
        t->busy--;
    c->state = C_IDLE;
    after_close(t, c, now);
}

/* Ends c's connection: at once when nothing is in flight, else after its
 * operations have been cancelled and have completed. */
static void begin_close(struct fl_lg_thread *t, struct conn *c, uint64_t now)
{
    heap_remove(t, c);
    if (c->nops == 0) {
        finish_close(t, c, now);
        return;
    }
    if (c->state != C_CLOSING) {
        if (c->state != C_BUSY && c->state != C_CONNECTING)
            t->busy++; /* counted until the cancelled operations are back */
        c->state = C_CLOSING;
        /* The cancel counts as an operation: the socket closes only once it
         * is back, so it cannot meet the next connection's descriptor. */
        struct io_uring_sqe *sqe = fl_uring_sqe(&t->ring);
        io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data(sqe, udata(c, OP_CANCEL));
        c->nops++;
    }
}

/* A kept-alive connection the server had closed (its keep-alive timeout,
 * nginx's 75 s among them) shows as EOF or a reset before any byte of the
 * answer. As HTTP clients do (RFC 9112 9.3.1), the request goes again,
 * once, on a new connection of the same session: counted as retried, not
 * as an error. True when that is what happens; the caller closes. */
static bool retry_stale(struct fl_lg_thread *t, struct conn *c, int res, uint64_t now)
{
    if (c->state != C_BUSY || c->answers == 0 || c->got != 0 || c->retried || !slot_active(t, c) ||
        (res != 0 && res != -ECONNRESET && res != -EPIPE))
        return false;
    c->resend = true;
    t->cur.c.retried++;
    if (now >= t->run->warmup_end)
        t->total.c.retried++;
    return true;
}

/* The new connection for a request to send again could not be had: the
 * request is lost after all, as the read error it was. */
static void lose_resend(struct fl_lg_thread *t, struct conn *c, uint64_t now)
{
    if (!c->resend)
        return;
    c->resend = false;
    count_error(t, FL_LG_ERR_read, true, now);
}

static void start_connect(struct fl_lg_thread *t, struct conn *c, uint64_t now)
{
    const struct fl_lg_run *run = t->run;
    if (c->resend) /* the same session on a new connection: nothing is drawn */
        goto open;
    double p = progress(t, now);
    c->first = NULL;
    c->tcp = false;
    c->left = UINT64_MAX;
    c->life_end = NO_TIME;
    if (c->pop) {
        if (c->pop->requests.set) {
            uint64_t n = fl_dist_sample(&c->pop->requests, &c->rng, p);
            c->left = n ? n : 1;
        }
        if (c->pop->lifetime.set)
            c->life_end = now + fl_dist_sample(&c->pop->lifetime, &c->rng, p);
    }
    if (!run->path) {
        /* The first draw decides the connection's protocol. */
        c->first = fl_scenario_pick_request(t->s, &c->rng);
        c->tcp = c->first->kind == FL_SCENARIO_TCP;
    }
open:;
    const struct sockaddr_storage *sa = c->tcp ? &run->echo : &run->target;
    socklen_t salen = c->tcp ? run->echo_len : run->target_len;
    c->fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        count_error(t, FL_LG_ERR_connect, false, now);
        c->failed_connect = true;
        lose_resend(t, c, now);
        after_close(t, c, now);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct io_uring_sqe *sqe = fl_uring_sqe(&t->ring);
    io_uring_prep_connect(sqe, c->fd, (const struct sockaddr *)sa, salen);
    io_uring_sqe_set_data(sqe, udata(c, OP_CONNECT));
    c->nops++;
    c->state = C_CONNECTING;
    c->deadline = now + t->s->timeout;
    t->busy++;
}

static void transmit(struct fl_lg_thread *t, struct conn *c, uint64_t now);

static void send_request(struct fl_lg_thread *t, struct conn *c, uint64_t now)
{
    const struct fl_lg_run *run = t->run;
    bool last = c->left == 1;
    int rc;
    if (run->path) {
        rc = fl_req_build_get(&c->req, run->path, run->host, last);
    } else {
        const struct fl_scenario_request *q = c->first;
        if (!q)
            q = mix_pick(c->tcp ? &t->tcp : &t->http, &c->rng);
        c->first = NULL;
        rc = fl_req_build(&c->req, q, &c->rng, progress(t, now), run->host, last && !c->tcp,
                          run->noise);
    }
    if (rc) { /* cannot happen with a checked scenario: the head always fits */
        count_error(t, FL_LG_ERR_write, true, now);
        begin_close(t, c, now);
        return;
    }
    if (c->tcp && c->req.body_len == 0)
        c->req.body_len = 1; /* an empty echo would never answer */
    if (c->left != UINT64_MAX)
        c->left--;
    if (t->sends_left != UINT64_MAX)
        t->sends_left--;
    c->retried = false;
    if (!t->conn_interval)
        c->intended = now;
    transmit(t, c, now);
}

/* Sends c->req (just built, or again on a new connection) and arms the
 * receive of its answer. */
static void transmit(struct fl_lg_thread *t, struct conn *c, uint64_t now)
{
    int n = 0;
    if (c->req.head_len)
        c->iov[n++] = (struct iovec){c->req.head, c->req.head_len};
    if (c->req.body_len)
        c->iov[n++] = (struct iovec){(void *)c->req.body, c->req.body_len};
    memset(&c->msg, 0, sizeof(c->msg));
    c->msg.msg_iov = c->iov;
    c->msg.msg_iovlen = (size_t)n;
    c->to_send = c->req.head_len + c->req.body_len;
    if (!c->tcp)
        fl_resp_expect(&c->resp, &c->req.want);
    c->seen = c->got = 0;
    c->sent = c->answered = false;
    c->verdict = FL_RESP_MORE;
    c->sent_at = now;
    c->deadline = now + t->s->timeout;
    c->state = C_BUSY;
    t->busy++;
    arm_send(t, c);
    arm_recv(t, c);
}

/* The slot's timer fired: send, open, or (outside an active phase) close. */
static void on_due(struct fl_lg_thread *t, struct conn *c, uint64_t now)
{
    if (!slot_active(t, c)) {
        if (c->state == C_READY && (t->close_idle || c->slot >= t->active))
            begin_close(t, c, now);
        return;
    }
    if (t->sends_left == 0)
        return;
    if (c->state == C_READY && now >= c->life_end) {
        /* Lifetime over: reconnect, and send this turn's request on the new
         * connection (after an idle phase every session's lifetime may have
         * ended, and skipping their turns came out as a short interval). */
        c->turn_kept = true;
        begin_close(t, c, now);
        return;
    }
    if (c->state == C_IDLE)
        start_connect(t, c, now);
    else if (c->state == C_READY)
        send_request(t, c, now);
}

static void on_connect(struct fl_lg_thread *t, struct conn *c, int res, uint64_t now)
{
    if (c->state == C_CLOSING) { /* timed out: the scan counted it */
        if (c->nops == 0)
            finish_close(t, c, now);
        return;
    }
    if (res < 0) {
        count_error(t, FL_LG_ERR_connect, false, now);
        c->failed_connect = true;
        lose_resend(t, c, now);
        finish_close(t, c, now);
        return;
    }
    c->failed_connect = false;
    c->answers = 0;
    if (!c->tcp)
        fl_resp_init(&c->resp); /* one parser per connection, an expectation per answer */
    t->cur.c.connections++;
    t->total.c.connections++; /* warm-up included: most connections open at the start */
    if (c->pop) {
        t->cur.c.pop_opened[pop_index(t, c)]++;
        t->total.c.pop_opened[pop_index(t, c)]++;
    }
    c->state = C_READY;
    t->busy--;
    if (c->resend) {
        c->resend = false;
        c->retried = true;
        transmit(t, c, now);
    } else if (slot_active(t, c) && t->sends_left != 0) {
        send_request(t, c, now);
    }
}

/* Both halves done: count the answer and decide the slot's next step. */
static void complete(struct fl_lg_thread *t, struct conn *c, uint64_t now)
{
    static const enum fl_lg_err verdict_err[] = {
        [FL_RESP_UNAVAILABLE] = FL_LG_ERR_unavailable, [FL_RESP_STATUS] = FL_LG_ERR_status,
        [FL_RESP_LENGTH] = FL_LG_ERR_length,           [FL_RESP_MISMATCH] = FL_LG_ERR_mismatch,
        [FL_RESP_PROTOCOL] = FL_LG_ERR_protocol,
    };
    bool counted = now >= t->run->warmup_end;
    int64_t lat = (int64_t)(now - c->intended) / 1000;
    int64_t unc = (int64_t)(now - c->sent_at) / 1000;
    struct fl_lg_tally *tl[2] = {&t->cur, counted ? &t->total : NULL};
    for (int i = 0; i < 2 && tl[i]; i++) {
        tl[i]->c.requests++;
        if (c->pop)
            tl[i]->c.pop_requests[pop_index(t, c)]++;
        if (c->verdict == FL_RESP_OK)
            tl[i]->c.ok++;
        else
            tl[i]->c.errors[verdict_err[c->verdict]]++;
        fl_hist_record(&tl[i]->lat, lat);
        if (t->conn_interval)
            fl_hist_record(&tl[i]->lat_unc, unc);
    }
    c->state = C_READY;
    t->busy--;
    c->answers++;
    bool keep = c->tcp || fl_resp_keep_alive(&c->resp);
    bool idle = !slot_active(t, c);
    if (c->verdict == FL_RESP_PROTOCOL || !keep || c->left == 0 || now >= c->life_end ||
        (idle && (t->close_idle || c->slot >= t->active)) || t->sends_left == 0) {
        begin_close(t, c, now);
        return;
    }
    /* An idle phase began while this request was out: the connection stays
     * open and silent, as the phase's others do. */
    if (idle)
        return;
    if (t->conn_interval) {
        c->intended += t->conn_interval;
        schedule(t, c, c->intended);
    } else {
        uint64_t think = c->pop ? fl_dist_sample(&c->pop->think, &c->rng, progress(t, now)) : 0;
        if (think)
            schedule(t, c, now + think);
        else
            send_request(t, c, now);
    }
}

static void on_send(struct fl_lg_thread *t, struct conn *c, int res, uint64_t now)
{
    if (c->state == C_CLOSING) {
        if (c->nops == 0)
            finish_close(t, c, now);
        return;
    }
    if (res <= 0) {
        if (!retry_stale(t, c, res, now))
            count_error(t, FL_LG_ERR_write, true, now);
        begin_close(t, c, now);
        return;
    }
    t->cur.c.bytes_sent += (uint64_t)res;
    if (now >= t->run->warmup_end)
        t->total.c.bytes_sent += (uint64_t)res;
    size_t n = (size_t)res;
    if (n < c->to_send) { /* short send: skip what went and send the rest */
        c->to_send -= n;
        while (n) {
            struct iovec *v = c->msg.msg_iov;
            size_t k = n < v->iov_len ? n : v->iov_len;
            v->iov_base = (char *)v->iov_base + k;
            v->iov_len -= k;
            n -= k;
            if (v->iov_len == 0) {
                c->msg.msg_iov++;
                c->msg.msg_iovlen--;
            }
        }
        arm_send(t, c);
        return;
    }
    c->sent = true;
    if (c->answered)
        complete(t, c, now);
}

/* Checks received bytes against the request; true once the answer is whole. */
static bool verify(struct conn *c, const char *data, size_t len)
{
    if (c->tcp) {
        uint64_t want = c->req.body_len - c->seen;
        size_t n = len < want ? len : (size_t)want;
        if (c->verdict == FL_RESP_MORE && memcmp(data, c->req.body + c->seen, n) != 0)
            c->verdict = FL_RESP_MISMATCH;
        c->seen += n;
        if (len > n)
            c->verdict = FL_RESP_PROTOCOL; /* more bytes than were sent */
        if (c->seen < c->req.body_len && c->verdict != FL_RESP_PROTOCOL)
            return false;
        if (c->verdict == FL_RESP_MORE)
            c->verdict = FL_RESP_OK;
        return true;
    }
    size_t used;
    enum fl_resp_result r = fl_resp_feed(&c->resp, data, len, &used);
    if (r == FL_RESP_MORE)
        return false;
    c->verdict = used < len ? FL_RESP_PROTOCOL : r; /* bytes nobody asked for */
    return true;
}

static void on_recv(struct fl_lg_thread *t, struct conn *c, int res, unsigned flags, uint64_t now)
{
    const char *data = NULL;
    if (flags & IORING_CQE_F_BUFFER)
        data = fl_bufring_data(&t->bufs, flags >> IORING_CQE_BUFFER_SHIFT);
    if (c->state == C_CLOSING) {
        if (data)
            fl_bufring_recycle(&t->bufs, flags >> IORING_CQE_BUFFER_SHIFT);
        if (c->nops == 0)
            finish_close(t, c, now);
        return;
    }
    if (res == -ENOBUFS) { /* every buffer is out: they come back within this batch */
        arm_recv(t, c);
        return;
    }
    if (c->state != C_BUSY) { /* between requests */
        if (data)
            fl_bufring_recycle(&t->bufs, flags >> IORING_CQE_BUFFER_SHIFT);
        if (res > 0) { /* bytes nobody asked for */
            count_error(t, FL_LG_ERR_protocol, true, now);
            begin_close(t, c, now);
        }
        /* EOF or an error: the server closed the idle connection; the next
         * request meets it (retry_stale), as it would have without the
         * receive in flight. */
        return;
    }
    if (res <= 0) {
        if (data)
            fl_bufring_recycle(&t->bufs, flags >> IORING_CQE_BUFFER_SHIFT);
        if (!retry_stale(t, c, res, now))
            count_error(t, FL_LG_ERR_read, true, now);
        begin_close(t, c, now);
        return;
    }
    c->got += (uint64_t)res;
    t->cur.c.bytes_received += (uint64_t)res;
    if (now >= t->run->warmup_end)
        t->total.c.bytes_received += (uint64_t)res;
    bool whole = verify(c, data, (size_t)res);
    fl_bufring_recycle(&t->bufs, flags >> IORING_CQE_BUFFER_SHIFT);
    if (!whole) {
        arm_recv(t, c); /* if the kernel ended the multishot */
        return;
    }
    c->answered = true;
    if (c->sent)
        complete(t, c, now);
    else if (c->verdict == FL_RESP_PROTOCOL)
        begin_close(t, c, now);
    /* else: an answer before the request was all sent (e.g. a 413); the
     * send's completion completes it */
}

/* ------------------------------------------------------------- phases, time */

/* Enters phase `i` (nphases: the run is over) at time `now`. */
static void enter_phase(struct fl_lg_thread *t, size_t i, uint64_t now)
{
    const struct fl_scenario *s = t->s;
    t->phase = i;
    if (i >= s->nphases) {
        t->active_phase = false;
        return;
    }
    const struct fl_scenario_phase *ph = &s->phases[i];
    t->active_phase = !ph->idle;
    t->close_idle = ph->idle && ph->close_idle;
    t->active = ph->connections;
    t->conn_interval =
        ph->rate > 0 && t->active ? (uint64_t)((double)t->active * 1e9 / ph->rate) : 0;
    if (t->conn_interval == 0 && ph->rate > 0)
        t->conn_interval = 1;
    uint64_t phase_start = t->run->start + ph->start;
    for (uint32_t k = 0; k < t->nconns; k++) {
        struct conn *c = &t->conns[k];
        if (!slot_active(t, c)) {
            /* Idle or beyond this phase's connections: close now or stay. */
            if (c->state == C_READY && (t->close_idle || c->slot >= t->active))
                begin_close(t, c, now);
            else if (c->state == C_READY || c->state == C_IDLE)
                heap_remove(t, c);
            continue;
        }
        if (c->state != C_READY && c->state != C_IDLE)
            continue; /* busy: its completion schedules it */
        /* Open loop: slot k's first turn is k/rate after the phase start, so
         * the run's sends are evenly spread. */
        uint64_t due = now;
        if (t->conn_interval) {
            due = phase_start + (uint64_t)((double)c->slot * 1e9 / ph->rate);
            c->intended = due;
        }
        schedule(t, c, due);
    }
}

static void publish(struct fl_lg_thread *t, bool final)
{
    struct fl_lg_run *run = t->run;
    uint64_t open[FL_SCENARIO_MAX_POPULATIONS] = {0};
    for (uint32_t k = 0; k < t->nconns; k++) {
        const struct conn *c = &t->conns[k];
        if (c->pop && (c->state == C_READY || c->state == C_BUSY))
            open[pop_index(t, c)]++;
    }
    pthread_mutex_lock(&run->mu);
    fl_lg_tally_add(&t->out, &t->cur);
    /* A gauge, not a count: the latest tick's value replaces an earlier
     * one the coordinator has not taken yet. */
    memcpy(t->out.pop_open, open, sizeof(open));
    if (!final)
        t->published = t->tick;
    else
        t->done = true;
    pthread_cond_broadcast(&run->cv);
    pthread_mutex_unlock(&run->mu);
    fl_lg_tally_reset(&t->cur);
}

static void scan_timeouts(struct fl_lg_thread *t, uint64_t now)
{
    for (uint32_t k = 0; k < t->nconns; k++) {
        struct conn *c = &t->conns[k];
        if ((c->state == C_BUSY || c->state == C_CONNECTING) && now > c->deadline) {
            if (c->state == C_BUSY)
                count_error(t, FL_LG_ERR_timeout, true, now);
            else
                count_error(t, FL_LG_ERR_connect, false, now);
            if (c->state == C_CONNECTING)
                lose_resend(t, c, now);
            c->failed_connect = c->state == C_CONNECTING;
            begin_close(t, c, now);
        }
    }
}

static void dispatch(struct fl_lg_thread *t, struct io_uring_cqe *cqe, uint64_t now)
{
    uintptr_t u = (uintptr_t)io_uring_cqe_get_data(cqe);
    if (!u)
        return; /* not a connection's (none is submitted today) */
    struct conn *c = (struct conn *)(u & ~(uintptr_t)3);
    enum op op = (enum op)(u & 3);
    if (op == OP_RECV && (cqe->flags & IORING_CQE_F_MORE)) {
        on_recv(t, c, cqe->res, cqe->flags, now); /* the receive stays in flight */
        return;
    }
    c->nops--;
    if (op == OP_RECV)
        c->recv_armed = false;
    switch (op) {
    case OP_CANCEL:
        if (c->state == C_CLOSING && c->nops == 0)
            finish_close(t, c, now);
        break;
    case OP_CONNECT:
        on_connect(t, c, cqe->res, now);
        break;
    case OP_SEND:
        on_send(t, c, cqe->res, now);
        break;
    case OP_RECV:
        on_recv(t, c, cqe->res, cqe->flags, now);
        break;
    }
}

/* The ring is made by the thread that uses it: a SINGLE_ISSUER ring
 * refuses every other thread. */
static int ring_setup(struct fl_lg_thread *t)
{
    /* Two operations per connection at most, plus cancels. */
    unsigned cq = 4u * t->nconns + 256;
    if (cq < 2048)
        cq = 2048; /* at least twice the SQ */
    if (cq > 65536)
        cq = 65536;
    t->init_stage = FL_LG_INIT_RING;
    t->init_what = "io_uring_queue_init";
    int rc = fl_uring_init(&t->ring, 1024, cq);
    if (rc)
        return rc;
    t->ring_ok = true;
    t->init_stage = FL_LG_INIT_BUFS;
    t->init_what = "io_uring_register_buf_ring";
    return fl_bufring_init(&t->bufs, &t->ring, RBUF_COUNT, RBUF_SIZE, RBUF_GROUP);
}

void *fl_lg_thread_main(void *arg)
{
    struct fl_lg_thread *t = arg;
    struct fl_lg_run *run = t->run;
    const struct fl_scenario *s = t->s;
    int rc = ring_setup(t);
    pthread_mutex_lock(&run->mu);
    t->init_rc = rc;
    t->ready = true;
    pthread_cond_broadcast(&run->cv);
    while (!run->go)
        pthread_cond_wait(&run->cv, &run->mu);
    bool abort = run->abort;
    pthread_mutex_unlock(&run->mu);
    if (rc || abort) {
        publish(t, true);
        return NULL;
    }
    t->next_tick = run->start + fl_scenario_next_tick(s, 0);
    t->tick = 1;
    t->next_scan = run->start + SCAN_NS;
    t->phase = s->nphases; /* entered at the start */
    uint64_t now = fl_lg_now();
    if (now < run->start) {
        struct timespec ts = {(time_t)(run->start / 1000000000u), (long)(run->start % 1000000000u)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
    for (;;) {
        now = fl_lg_now();
        uint64_t stop = atomic_load_explicit(&run->stop_at, memory_order_relaxed);
        uint64_t end = stop < run->end ? stop : run->end;
        while (now >= t->next_tick && t->next_tick <= end) {
            publish(t, false);
            t->tick++;
            t->next_tick = run->start + fl_scenario_next_tick(s, t->next_tick - run->start);
        }
        if (now >= end)
            break;
        if (t->sends_left == 0 && t->busy == 0)
            break; /* its share of max_requests is answered */
        const struct fl_scenario_phase *ph = fl_scenario_phase_at(s, now - run->start);
        size_t pi = ph ? (size_t)(ph - s->phases) : s->nphases;
        if (pi != t->phase)
            enter_phase(t, pi, now);
        while (t->nheap && t->heap[0]->due <= now) {
            struct conn *c = t->heap[0];
            heap_remove(t, c);
            on_due(t, c, now);
        }
        if (now >= t->next_scan) {
            scan_timeouts(t, now);
            t->next_scan = now + SCAN_NS;
        }
        uint64_t wake = t->next_tick < end ? t->next_tick : end;
        if (t->next_scan < wake)
            wake = t->next_scan;
        if (t->nheap && t->heap[0]->due < wake)
            wake = t->heap[0]->due;
        uint64_t wait = wake > now ? wake - now : 0;
        /* Many requests in flight: wait for an eighth of them, or BATCH_NS
         * more. Waking on every single answer sends the next requests one
         * by one, and the server then reads them one by one too: measured
         * on nginx, 57k req/s against wrk's 70k; batched, 71k (bench/). */
        unsigned nr = 1;
        if (t->busy >= 2 * BATCH_DIV) {
            nr = (unsigned)(t->busy / BATCH_DIV);
            if (wait > BATCH_NS)
                wait = BATCH_NS;
        }
        struct __kernel_timespec ts = {(long long)(wait / 1000000000u),
                                       (long long)(wait % 1000000000u)};
        struct io_uring_cqe *cqe;
        rc = io_uring_submit_and_wait_timeout(&t->ring, &cqe, nr, &ts, NULL);
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            break;
        }
        now = fl_lg_now();
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&t->ring, head, cqe)
        {
            dispatch(t, cqe, now);
            seen++;
        }
        io_uring_cq_advance(&t->ring, seen);
    }
    for (uint32_t k = 0; k < t->nconns; k++) {
        struct conn *c = &t->conns[k];
        t->unfinished += c->state == C_BUSY;
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
    }
    /* A socket closed with a receive still queued stays open: the queued
     * request holds the file. Tearing the ring down cancels them, so the
     * server sees every connection close now, before the idle tail, not
     * when the threads are destroyed after it. */
    if (t->ring_ok) {
        io_uring_queue_exit(&t->ring);
        t->ring_ok = false;
    }
    publish(t, true);
    return NULL;
}

/* ------------------------------------------------------------ create, access */

int fl_lg_thread_create(struct fl_lg_run *run, unsigned idx, struct fl_lg_thread **out)
{
    const struct fl_scenario *s = run->s;
    struct fl_lg_thread *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->run = run;
    t->s = s;
    t->idx = idx;
    t->nconns = s->connections / run->nthreads + (idx < s->connections % run->nthreads);
    t->conns = calloc(t->nconns ? t->nconns : 1, sizeof(*t->conns));
    t->heap = calloc(t->nconns ? t->nconns : 1, sizeof(*t->heap));
    int rc = -ENOMEM;
    if (!t->conns || !t->heap)
        goto fail;
    if ((rc = fl_lg_tally_init(&t->cur)) || (rc = fl_lg_tally_init(&t->total)) ||
        (rc = fl_lg_tally_init(&t->out)))
        goto fail;
    /* Every thread deals the whole run's slots the same way and keeps its
     * own: a few bytes per connection, once. */
    uint8_t *pops = run->path ? NULL : malloc(s->connections ? s->connections : 1);
    rc = -ENOMEM;
    if (!run->path && !pops)
        goto fail;
    if (pops)
        fl_scenario_assign_populations(s, s->connections, pops);
    for (uint32_t k = 0; k < t->nconns; k++) {
        struct conn *c = &t->conns[k];
        c->t = t;
        c->slot = idx + k * run->nthreads;
        c->pop = pops ? &s->populations[pops[c->slot]] : NULL;
        c->fd = -1;
        c->heap_idx = -1;
        c->rng = fl_dist_stream(s->seed, c->slot);
        c->life_end = NO_TIME;
    }
    free(pops);
    for (size_t i = 0; i < s->nrequests; i++)
        mix_add(s->requests[i].kind == FL_SCENARIO_TCP ? &t->tcp : &t->http, &s->requests[i]);
    if (run->max_requests) {
        uint64_t share = run->max_requests / run->nthreads;
        t->sends_left = share + (idx < run->max_requests % run->nthreads);
    } else {
        t->sends_left = UINT64_MAX;
    }
    *out = t;
    return 0;
fail:
    fl_lg_thread_destroy(t);
    return rc;
}

void fl_lg_thread_destroy(struct fl_lg_thread *t)
{
    if (!t)
        return;
    if (t->ring_ok)
        io_uring_queue_exit(&t->ring);
    fl_bufring_destroy(&t->bufs);
    fl_lg_tally_destroy(&t->cur);
    fl_lg_tally_destroy(&t->total);
    fl_lg_tally_destroy(&t->out);
    free(t->conns);
    free(t->heap);
    free(t);
}

uint64_t fl_lg_thread_tick(const struct fl_lg_thread *t)
{
    return t->published;
}

bool fl_lg_thread_done(const struct fl_lg_thread *t)
{
    return t->done;
}

void fl_lg_thread_take(struct fl_lg_thread *t, struct fl_lg_tally *into)
{
    fl_lg_tally_add(into, &t->out);
    fl_lg_tally_reset(&t->out);
}

const struct fl_lg_tally *fl_lg_thread_total(const struct fl_lg_thread *t)
{
    return &t->total;
}

bool fl_lg_thread_ready(const struct fl_lg_thread *t, int *rc, enum fl_lg_init_stage *stage,
                        const char **what)
{
    if (!t->ready)
        return false;
    *rc = t->init_rc;
    *stage = t->init_stage;
    *what = t->init_what;
    return true;
}

uint64_t fl_lg_thread_unfinished(const struct fl_lg_thread *t)
{
    return t->unfinished;
}
