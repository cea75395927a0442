/* buf.c - accounted buffers (see buf.h), and the owner free policy: a buffer
 * freed on a foreign worker goes back to the worker that allocated it, which
 * frees it on its own thread (snmalloc's remote deallocation, done above the
 * allocator so that every allocator gets it). */
#include "buf.h"

#include <stdlib.h>

#include "worker.h"

/* Buffers sent back to one owner in one CAS. */
#define REMOTE_BATCH 32

void *fl_buf_alloc(struct fl_worker *w, size_t size)
{
    if (size > SIZE_MAX - sizeof(struct fl_buf_hdr))
        return NULL;
    struct fl_buf_hdr *h = malloc(sizeof(*h) + size);
    if (!h)
        return NULL;
    h->owner = (uint32_t)w->id;
    h->size = size;
    FL_COUNT(&w->ctr, buffer_allocs, 1);
    FL_COUNT(&w->ctr, buffer_bytes, (int64_t)size);
    return h + 1;
}

/* Pushes a chain onto the owner's stack. Release: the owner's acquire
 * exchange must see the chain's links written before the push. */
static void send_batch(struct fl_worker *owner, struct fl_remote_batch *b)
{
    struct fl_buf_hdr *old = atomic_load_explicit(&owner->remote_head, memory_order_relaxed);
    do
        b->tail->next = old;
    while (!atomic_compare_exchange_weak_explicit(&owner->remote_head, &old, b->head,
                                                  memory_order_release, memory_order_relaxed));
    b->head = b->tail = NULL;
    b->n = 0;
}

void fl_buf_free(struct fl_worker *w, void *p)
{
    if (!p)
        return;
    struct fl_buf_hdr *h = (struct fl_buf_hdr *)p - 1;
    FL_COUNT(&w->ctr, buffer_bytes, -(int64_t)h->size);
    if (h->owner == (uint32_t)w->id) {
        FL_COUNT(&w->ctr, buffer_frees, 1);
        free(h);
    } else if (!w->srv->free_owner) {
        FL_COUNT(&w->ctr, buffer_frees, 1);
        FL_COUNT(&w->ctr, cross_thread_frees, 1);
        free(h);
    } else {
        struct fl_remote_batch *b = &w->outbox[h->owner];
        h->next = NULL;
        if (b->tail)
            b->tail->next = h;
        else
            b->head = h;
        b->tail = h;
        FL_COUNT(&w->ctr, remote_returns, 1);
        if (++b->n == REMOTE_BATCH)
            send_batch(&w->srv->workers[h->owner], b);
    }
}

void fl__buf_remote_flush(struct fl_worker *w)
{
    if (!w->outbox)
        return;
    for (int i = 0; i < w->srv->nworkers; i++)
        if (w->outbox[i].n)
            send_batch(&w->srv->workers[i], &w->outbox[i]);
}

void fl__buf_remote_drain(struct fl_worker *w)
{
    struct fl_buf_hdr *h = atomic_exchange_explicit(&w->remote_head, NULL, memory_order_acquire);
    while (h) {
        struct fl_buf_hdr *next = h->next;
        FL_COUNT(&w->ctr, buffer_frees, 1);
        free(h);
        h = next;
    }
}
