/* buf.c - accounted buffers (see buf.h). Under the owner free policy a
 * buffer freed on a foreign worker goes back to the worker that allocated
 * it, through the runtime mode (ws.c: only ws frees across threads). */
#include "buf.h"

#include <stdlib.h>

#include "runtime.h"
#include "worker.h"

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
        w->srv->rt->return_to_owner(w, h);
    }
}
