/* out.h - a connection's output queue: response pieces in request order,
 * each an fl_buf (or static bytes) freed once sent, all handed to one
 * writev. The first FL_OUT_INLINE pieces live in the queue itself; more
 * (pipelined requests) take a struct fl_outq allocated when the inline
 * arrays overflow and freed once the queue drains, so an idle connection
 * carries only the inline ones. */
#ifndef FL_SERVER_OUT_H
#define FL_SERVER_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct fl_worker;

#define FL_OUT_MAX 64   /* response pieces queued for one writev */
#define FL_OUT_INLINE 3 /* of them, held in struct fl_out itself */

struct fl_outq {
    struct iovec iov[FL_OUT_MAX];
    void *buf[FL_OUT_MAX];
};

struct fl_out {
    /* pieces [head, n) wait to be sent; `iov` and `buf` point at the inline
     * arrays or at `q`'s (so the queue must not move while in use) */
    struct iovec *iov;
    void **buf; /* the fl_buf of each piece, NULL for static bytes */
    struct fl_outq *q;
    struct iovec iov_inl[FL_OUT_INLINE];
    void *buf_inl[FL_OUT_INLINE];
    uint32_t n, head, cap;
    uint64_t bytes; /* not sent yet */
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
    return o->head < o->n;
}

#endif
