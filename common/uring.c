/* uring.c - ring setup with flag fallback, and provided receive buffers. */
#include "uring.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int fl_uring_init(struct io_uring *ring, unsigned entries, unsigned cq_entries)
{
    /* Newest first: each step drops what an older kernel lacks.
     * SINGLE_ISSUER and DEFER_TASKRUN fit a ring used by one thread and run
     * completion work only when it waits, in batches. */
    static const unsigned flagsets[] = {
        IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
            IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN,
        IORING_SETUP_CQSIZE,
    };
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof(flagsets) / sizeof(flagsets[0]); i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        p.flags = flagsets[i];
        p.cq_entries = cq_entries;
        rc = io_uring_queue_init_params(entries, ring, &p);
        if (rc != -EINVAL)
            return rc;
    }
    return rc;
}

int fl_bufring_init(struct fl_bufring *b, struct io_uring *ring, unsigned count, unsigned size,
                    int bgid)
{
    memset(b, 0, sizeof(*b));
    size_t ring_bytes = count * sizeof(struct io_uring_buf);
    void *r = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (r == MAP_FAILED)
        return -errno;
    void *mem = mmap(NULL, (size_t)count * size, PROT_READ | PROT_WRITE,
                     MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) {
        int rc = -errno;
        munmap(r, ring_bytes);
        return rc;
    }
    b->br = r;
    b->mem = mem;
    b->count = count;
    b->size = size;
    b->bgid = bgid;
    io_uring_buf_ring_init(b->br);
    struct io_uring_buf_reg reg = {
        .ring_addr = (uint64_t)(uintptr_t)r, .ring_entries = count, .bgid = (unsigned short)bgid};
    int rc = io_uring_register_buf_ring(ring, &reg, 0);
    if (rc) {
        fl_bufring_destroy(b);
        return rc;
    }
    int mask = io_uring_buf_ring_mask(count);
    for (unsigned i = 0; i < count; i++)
        io_uring_buf_ring_add(b->br, fl_bufring_data(b, i), size, (unsigned short)i, mask, (int)i);
    io_uring_buf_ring_advance(b->br, (int)count);
    return 0;
}

void fl_bufring_destroy(struct fl_bufring *b)
{
    if (b->br)
        munmap(b->br, b->count * sizeof(struct io_uring_buf));
    if (b->mem)
        munmap(b->mem, (size_t)b->count * b->size);
    memset(b, 0, sizeof(*b));
}

void fl_bufring_recycle(struct fl_bufring *b, unsigned bid)
{
    io_uring_buf_ring_add(b->br, fl_bufring_data(b, bid), b->size, (unsigned short)bid,
                          io_uring_buf_ring_mask(b->count), 0);
    io_uring_buf_ring_advance(b->br, 1);
}

/* kernel.io_uring_disabled (Linux 6.6+): 0, 1 or 2; -1 when absent. */
static int sysctl_disabled(void)
{
    FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
    int v = -1;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

bool fl_uring_unavailable(int err, char *buf, size_t len)
{
    int d = sysctl_disabled();
    switch (err) {
    case ENOSYS:
        snprintf(buf, len,
                 "io_uring_setup is not implemented (ENOSYS): this kernel has no io_uring, or a "
                 "seccomp filter hides it; fix: Linux 6.1 or later with CONFIG_IO_URING, and a "
                 "seccomp profile that allows io_uring_setup, io_uring_enter and "
                 "io_uring_register");
        return true;
    case EPERM:
    case EACCES:
        if (d == 2)
            snprintf(buf, len,
                     "io_uring is disabled by the sysctl kernel.io_uring_disabled=2; fix: "
                     "sysctl -w kernel.io_uring_disabled=0");
        else if (d == 1)
            snprintf(buf, len,
                     "io_uring is limited to root and the group kernel.io_uring_group by "
                     "kernel.io_uring_disabled=1; fix: run as root or in that group, or "
                     "sysctl -w kernel.io_uring_disabled=0");
        else
            snprintf(buf, len,
                     "io_uring_setup was refused (%s), most likely by a seccomp filter (Docker's "
                     "default profile blocks io_uring since 2023) or a security module; fix: a "
                     "seccomp profile that allows io_uring_setup, io_uring_enter and "
                     "io_uring_register, such as fraglab's docker/seccomp-io_uring.json (Docker's "
                     "default plus those three): docker run --security-opt "
                     "seccomp=docker/seccomp-io_uring.json",
                     err == EPERM ? "EPERM" : "EACCES");
        return true;
    case ENOMEM:
        snprintf(buf, len,
                 "io_uring_setup found no memory to lock (ENOMEM): kernels before 5.12 charge "
                 "rings to RLIMIT_MEMLOCK; fix: raise it (ulimit -l unlimited, or docker run "
                 "--ulimit memlock=-1)");
        return true;
    default:
        return false;
    }
}
