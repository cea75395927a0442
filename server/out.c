/* out.c - a connection's output queue (see out.h). */
#include "out.h"

#include <string.h>

#include "buf.h"
#include "worker.h"

void fl_out_reset(struct fl_worker *w, struct fl_out *o)
{
    if (o->q)
        fl_buf_free(w, o->q);
    o->q = NULL;
    o->iov = o->iov_inl;
    o->buf = o->buf_inl;
    o->cap = FL_OUT_INLINE;
    o->head = o->n = 0;
    o->bytes = 0;
}

/* Moves the inline pieces into an overflow queue of FL_OUT_MAX. */
static bool grow(struct fl_worker *w, struct fl_out *o)
{
    if (o->q)
        return false; /* FL_OUT_MAX: the parser pauses before this */
    struct fl_outq *q = fl_buf_alloc(w, sizeof(*q));
    if (!q) {
        FL_COUNT(&w->ctr, alloc_failures[FL_OOM_response], 1);
        return false;
    }
    memcpy(q->iov, o->iov, o->n * sizeof(*o->iov));
    memcpy(q->buf, o->buf, o->n * sizeof(*o->buf));
    o->q = q;
    o->iov = q->iov;
    o->buf = q->buf;
    o->cap = FL_OUT_MAX;
    return true;
}

bool fl_out_push(struct fl_worker *w, struct fl_out *o, void *buf, const void *data, size_t len)
{
    if (o->n == o->cap && !grow(w, o))
        return false;
    o->iov[o->n].iov_base = (void *)data;
    o->iov[o->n].iov_len = len;
    o->buf[o->n] = buf;
    o->n++;
    o->bytes += len;
    return true;
}

bool fl_out_sent(struct fl_worker *w, struct fl_out *o, size_t n)
{
    o->bytes -= n;
    while (o->head < o->n && n >= o->iov[o->head].iov_len) {
        n -= o->iov[o->head].iov_len;
        fl_buf_free(w, o->buf[o->head]);
        o->head++;
    }
    if (o->head < o->n) { /* short send: the rest of this piece, then the others */
        o->iov[o->head].iov_base = (char *)o->iov[o->head].iov_base + n;
        o->iov[o->head].iov_len -= n;
        return false;
    }
    fl_out_reset(w, o);
    return true;
}

void fl_out_drop(struct fl_worker *w, struct fl_out *o)
{
    for (uint32_t i = o->head; i < o->n; i++)
        fl_buf_free(w, o->buf[i]);
    fl_out_reset(w, o);
}
