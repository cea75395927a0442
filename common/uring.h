/* uring.h - io_uring pieces shared by the server and the load generator: a
 * ring set up with the newest flags the kernel takes, and a provided-buffer
 * ring for receives (the kernel picks a buffer when data arrives, so idle
 * connections pin no receive memory). */
#ifndef FL_COMMON_URING_H
#define FL_COMMON_URING_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>

/* Initialises `ring` with `entries` SQEs and `cq_entries` CQEs, trying
 * SINGLE_ISSUER|DEFER_TASKRUN (6.1), then COOP_TASKRUN, then neither: the
 * ring must be used by one thread only. 0 or -errno. */
int fl_uring_init(struct io_uring *ring, unsigned entries, unsigned cq_entries);

/* When io_uring_setup's error `err` (positive errno) means io_uring cannot
 * be used here (no kernel support, kernel.io_uring_disabled, a seccomp
 * filter, RLIMIT_MEMLOCK), writes one line naming the cause and the fix and
 * returns true. Programs exit with FL_EXIT_NO_URING then. */
bool fl_uring_unavailable(int err, char *buf, size_t len);
#define FL_EXIT_NO_URING 3

/* `count` (a power of two) receive buffers of `size` bytes in group `bgid`,
 * from mmap so they never show in the malloc figures. */
struct fl_bufring {
    struct io_uring_buf_ring *br;
    char *mem;
    unsigned count, size;
    int bgid;
};

/* Allocates and registers the buffers with `ring`; 0 or -errno. */
int fl_bufring_init(struct fl_bufring *b, struct io_uring *ring, unsigned count, unsigned size,
                    int bgid);
/* Unmaps the buffers (after io_uring_queue_exit, or unregister first). */
void fl_bufring_destroy(struct fl_bufring *b);
/* Hands buffer `bid` back to the kernel. */
void fl_bufring_recycle(struct fl_bufring *b, unsigned bid);

/* The first byte of buffer `bid`. */
static inline char *fl_bufring_data(const struct fl_bufring *b, unsigned bid)
{
    return b->mem + (size_t)bid * b->size;
}

/* A free SQE, handing the queued batch to the kernel when the SQ is full. */
static inline struct io_uring_sqe *fl_uring_sqe(struct io_uring *ring)
{
    struct io_uring_sqe *sqe;
    while (!(sqe = io_uring_get_sqe(ring)))
        io_uring_submit(ring);
    return sqe;
}

#endif
