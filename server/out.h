/* out.h - a connection's output queue: response pieces in request order,
 * each an fl_buf (or static bytes) freed once sent, all handed to one
 * writev. The pieces live in a block the connection holds only while output
 * waits: a small one of FL_OUT_SMALL pieces from the worker's cache, moved
 * to one of FL_OUT_MAX when pipelined answers overflow it; once the queue
 * drains the block goes back (the small one to the cache of the worker that
 * drained it, the large one freed), so an idle connection carries one
 * pointer. */
#ifndef FL_SERVER_OUT_H
#define FL_SERVER_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct fl_worker;

#define FL_OUT_MAX 64  /* response pieces queued for one writev */
#define FL_OUT_SMALL 4 /* of them, in the small block most answers need */

struct fl_outq {
    uint32_t n, head, cap; /* pieces [head, n) wait to be sent, of cap */
    uint64_t bytes;        /* not sent yet */
    struct fl_outq *next;  /* in the worker's cache */
    void **buf;            /* the fl_buf of each piece, NULL for static bytes */
    struct iovec iov[];    /* cap of them, then buf's cap pointers */
};

struct fl_out {
    struct fl_outq *q; /* NULL: nothing waits */
};

/* Empties the queue (its pieces already sent or freed) and goes back to the
 * inline arrays, freeing the overflow on `w`. Also makes a zeroed queue ready. */
void fl_out_reset(struct fl_worker *w, struct fl_out *o);

/* Queues `len` bytes at `data`, owned by the fl_buf `buf` (NULL: static
 * bytes). Grows past the inline pieces on `w`. false when the queue is full
 * or cannot grow (a response's allocation failure, counted); `buf` is then
 * still the caller's. */
bool fl_out_push(struct fl_worker *w, struct fl_out *o, void *buf, const void *data, size_t len);

/* Accounts `n` bytes as sent: frees the pieces sent whole and trims a piece
 * sent in part. true when everything was sent (the queue is reset). */
bool fl_out_sent(struct fl_worker *w, struct fl_out *o, size_t n);

/* Frees every piece not sent yet and resets the queue (the connection closes). */
void fl_out_drop(struct fl_worker *w, struct fl_out *o);

/* Whether pieces wait to be sent. */
static inline bool fl_out_pending(const struct fl_out *o)
{
    return o->q && o->q->head < o->q->n;
}

/* Bytes and pieces waiting. */
static inline uint64_t fl_out_bytes(const struct fl_out *o)
{
    return o->q ? o->q->bytes : 0;
}

static inline uint32_t fl_out_count(const struct fl_out *o)
{
    return o->q ? o->q->n : 0;
}

/* Frees the small blocks worker `w` keeps (at its exit). */
void fl_out_cache_free(struct fl_worker *w);

#endif
