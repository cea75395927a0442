/* out.c - a connection's output queue (see out.h). */
#include "out.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "worker.h"

/* Small blocks a worker keeps for reuse: a connection takes one per answer
 * and most give it back within the same loop turn; beyond these, a block
 * given back is freed. Blocks are the server's own bookkeeping, like the
 * parsers (http.c): plain malloc, not fl_buf's accounted buffers. */
#define OUT_CACHE_MAX 64

static size_t block_size(uint32_t cap)
{
    return sizeof(struct fl_outq) + cap * (sizeof(struct iovec) + sizeof(void *));
}

static struct fl_outq *block_new(struct fl_worker *w, uint32_t cap)
{
    struct fl_outq *q = NULL;
    if (cap == FL_OUT_SMALL && w->out_cache) {
        q = w->out_cache;
        w->out_cache = q->next;
        w->out_cached--;
    } else if (!(q = malloc(block_size(cap)))) {
        FL_COUNT(&w->ctr, alloc_failures[FL_OOM_response], 1);
        return NULL;
    }
    q->n = q->head = 0;
    q->cap = cap;
    q->bytes = 0;
    q->buf = (void **)(q->iov + cap);
    return q;
}

static void block_free(struct fl_worker *w, struct fl_outq *q)
{
    if (q->cap != FL_OUT_SMALL || w->out_cached >= OUT_CACHE_MAX) {
        free(q);
        return;
    }
    q->next = w->out_cache;
    w->out_cache = q;
    w->out_cached++;
}

void fl_out_cache_free(struct fl_worker *w)
{
    while (w->out_cache) {
        struct fl_outq *q = w->out_cache;
        w->out_cache = q->next;
        free(q);
    }
    w->out_cached = 0;
}

void fl_out_reset(struct fl_worker *w, struct fl_out *o)
{
    if (o->q)
        block_free(w, o->q);
    o->q = NULL;
}

/* A block with room for one more piece: the first, or the large one when
 * the small one is full. */
static bool room(struct fl_worker *w, struct fl_out *o)
{
    struct fl_outq *q = o->q;
    if (q && q->n < q->cap)
        return true;
    if (q && q->cap == FL_OUT_MAX)
        return false; /* the parser pauses before this */
    struct fl_outq *big = block_new(w, q ? FL_OUT_MAX : FL_OUT_SMALL);
    if (!big)
        return false;
    if (q) {
        memcpy(big->iov, q->iov, q->n * sizeof(*q->iov));
        memcpy(big->buf, q->buf, q->n * sizeof(*q->buf));
        big->n = q->n;
        big->head = q->head;
        big->bytes = q->bytes;
        block_free(w, q);
    }
    o->q = big;
    return true;
}

bool fl_out_push(struct fl_worker *w, struct fl_out *o, void *buf, const void *data, size_t len)
{
    if (!room(w, o))
        return false;
    struct fl_outq *q = o->q;
    q->iov[q->n].iov_base = (void *)data;
    q->iov[q->n].iov_len = len;
    q->buf[q->n] = buf;
    q->n++;
    q->bytes += len;
    return true;
}

bool fl_out_sent(struct fl_worker *w, struct fl_out *o, size_t n)
{
    struct fl_outq *q = o->q;
    if (!q)
        return true;
    q->bytes -= n;
    while (q->head < q->n && n >= q->iov[q->head].iov_len) {
        n -= q->iov[q->head].iov_len;
        fl_buf_free(w, q->buf[q->head]);
        q->head++;
    }
    if (q->head < q->n) { /* short send: the rest of this piece, then the others */
        q->iov[q->head].iov_base = (char *)q->iov[q->head].iov_base + n;
        q->iov[q->head].iov_len -= n;
        return false;
    }
    fl_out_reset(w, o);
    return true;
}

void fl_out_drop(struct fl_worker *w, struct fl_out *o)
{
    struct fl_outq *q = o->q;
    for (uint32_t i = q ? q->head : 0; q && i < q->n; i++)
        fl_buf_free(w, q->buf[i]);
    fl_out_reset(w, o);
}
