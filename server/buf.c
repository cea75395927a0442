/* buf.c - accounted buffers (see buf.h). */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>

#include "worker.h"

void *fl_buf_alloc(struct fl_worker *w, size_t size)
{
    struct fl_buf_hdr *h = malloc(sizeof(*h) + size);
    if (!h) {
        fprintf(stderr, "fraglab-server: out of memory allocating %zu bytes\n", size);
        abort();
    }
    h->owner = (uint32_t)w->id;
    h->size = size;
    FL_COUNT(&w->ctr, buffer_allocs, 1);
    FL_COUNT(&w->ctr, buffer_bytes, (int64_t)size);
    return h + 1;
}

void fl_buf_free(struct fl_worker *w, void *p)
{
    if (!p) return;
    struct fl_buf_hdr *h = (struct fl_buf_hdr *)p - 1;
    FL_COUNT(&w->ctr, buffer_frees, 1);
    FL_COUNT(&w->ctr, buffer_bytes, -(int64_t)h->size);
    if (h->owner != (uint32_t)w->id) FL_COUNT(&w->ctr, cross_thread_frees, 1);
    free(h);
}
