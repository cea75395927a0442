/* buf.h - accounted buffers: every buffer the server allocates for the
 * experiment records the worker that allocated it, so a free on another
 * worker is counted as cross-thread (and, with --free-policy owner, sent
 * back to its owner). A 16-byte header precedes the payload, keeping
 * malloc's alignment. */
#ifndef FL_SERVER_BUF_H
#define FL_SERVER_BUF_H

#include <stddef.h>
#include <stdint.h>

struct fl_worker;

struct fl_buf_hdr {
    uint32_t owner; /* worker id that allocated it */
    uint32_t pad;
    union {
        uint64_t size;           /* payload bytes, while live */
        struct fl_buf_hdr *next; /* on its way back to the owner (free-policy owner) */
    };
};

/* Allocates `size` bytes on behalf of worker `w`; NULL (nothing counted) when
 * the allocator has none: every caller handles it, as the client chose the
 * size and the server must outlive a request it cannot serve. */
void *fl_buf_alloc(struct fl_worker *w, size_t size);

/* Frees `p` (may be NULL) on worker `w`, counting a cross-thread free when
 * `w` is not the owner, or returning it to the owner under free-policy owner. */
void fl_buf_free(struct fl_worker *w, void *p);

/* Payload size of a buffer from fl_buf_alloc. */
static inline size_t fl_buf_size(const void *p)
{
    return ((const struct fl_buf_hdr *)p - 1)->size;
}

#endif
