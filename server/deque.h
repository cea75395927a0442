/* deque.h - the task queues of the work-stealing (ws) runtime.
 *
 * struct fl_deque: one per worker, a fixed-capacity Chase-Lev deque (Chase &
 * Lev, SPAA 2005) in C11 atomics after Lê, Pop, Cohen and Zappa Nardelli,
 * "Correct and Efficient Work-Stealing for Weak Memory Models" (PPoPP 2013).
 * The worker that owns it pushes and pops at the bottom (LIFO: the task it
 * just made is hot in its cache); any other thread steals at the top (FIFO:
 * the oldest task), one CAS per item. It never grows: a full deque spills its
 * older half to the injector (tokio's policy), which bounds a worker's queue
 * and keeps the oldest tasks moving.
 *
 * struct fl_injector: the shared queue for new and overflowing work, a
 * mutex-protected ring that doubles when full, with a length readable
 * without the lock so idle workers can look cheaply.
 *
 * Items are non-NULL `void *` (tasks); NULL means "none". Whoever pops or
 * steals an item owns it and runs it: every pushed item comes out exactly
 * once. Memory-ordering arguments are in deque.c. */
#ifndef FL_SERVER_DEQUE_H
#define FL_SERVER_DEQUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FL_DEQUE_DEFAULT_CAP 256    /* slots per worker, as tokio's local queue */
#define FL_DEQUE_MAX_CAP (1u << 24) /* 128 MiB of slots: anything larger is a bug */
#define FL_INJECTOR_DEFAULT_CAP 256 /* initial slots; the ring doubles as needed */
#define FL__CACHE_LINE 64

/* Padding, not _Alignas: the deque does not choose where it lives (ws.c's
 * per-worker state is allocated 64-byte aligned, but tests put deques on
 * the stack or in plain malloc'ed memory). 64 bytes between fields keeps
 * them on different cache lines at any alignment, so thieves CASing `top`
 * do not invalidate the line holding the owner's `bottom`, and neither
 * touches the read-only part. */
struct fl_deque {
    _Atomic(void *) *slots; /* cap slots, atomic: a thief may read one the owner rewrites */
    int64_t mask;           /* cap - 1; cap is a power of two, fixed at init */
    char pad0[FL__CACHE_LINE - sizeof(void *) - sizeof(int64_t)];
    _Atomic int64_t top; /* next index to steal; only ever grows (CAS) */
    char pad1[FL__CACHE_LINE - sizeof(int64_t)];
    _Atomic int64_t bottom; /* next index to push; written by the owner only */
    char pad2[FL__CACHE_LINE - sizeof(int64_t)];
};

struct fl_injector {
    pthread_mutex_t lock;
    void **ring;        /* cap slots, under lock */
    size_t cap;         /* power of two, under lock */
    size_t head;        /* index of the oldest item, under lock */
    _Atomic size_t len; /* written under lock, read anywhere */
};

/* Allocates a deque of `cap` slots (a power of two >= 2; 0 means
 * FL_DEQUE_DEFAULT_CAP). 0, -EINVAL for a bad capacity, or -ENOMEM. */
int fl_deque_init(struct fl_deque *d, size_t cap);

/* Frees the slots; no thread may use `d` any more. Queued items are dropped. */
void fl_deque_destroy(struct fl_deque *d);

/* Owner only: pushes non-NULL `item` at the bottom; false if the deque is full. */
bool fl_deque_push(struct fl_deque *d, void *item);

/* Owner only: pushes `item`; if the deque is full, moves its older half and
 * then `item` to `inj` instead. Returns how many items went to `inj` (0: it
 * fit locally), or -ENOMEM with nothing moved and `item` not queued. */
int fl_deque_push_or_overflow(struct fl_deque *d, void *item, struct fl_injector *inj);

/* Owner only: removes and returns the newest item (LIFO), NULL when empty. */
void *fl_deque_pop(struct fl_deque *d);

/* Any thread: removes and returns the oldest item (FIFO); NULL only when the
 * deque was seen empty (a lost race is retried, not reported as empty). */
void *fl_deque_steal(struct fl_deque *d);

/* A thief that owns `into` (never `victim` itself): steals the oldest
 * ceil(n/2) of the victim's n items (fewer if `into` lacks room or others
 * take them first), one CAS each. Returns the oldest one, to run now, and
 * pushes the rest into `into` in age order. *moved (if not NULL) = items
 * taken including the returned one: 0 (and NULL returned) if none. */
void *fl_deque_steal_half(struct fl_deque *victim, struct fl_deque *into, unsigned *moved);

/* Any thread: number of queued items; a snapshot, exact only when no other
 * thread is using the deque. The owner never sees fewer than there are. */
size_t fl_deque_len(struct fl_deque *d);

/* The fixed capacity chosen at init. */
size_t fl_deque_capacity(const struct fl_deque *d);

/* Initialises an empty injector with room for `cap` items before it first
 * grows (rounded up to a power of two; 0 means FL_INJECTOR_DEFAULT_CAP).
 * 0, -EINVAL, or -ENOMEM. */
int fl_injector_init(struct fl_injector *q, size_t cap);

/* Frees the ring; no thread may use `q` any more. Queued items are dropped. */
void fl_injector_destroy(struct fl_injector *q);

/* Any thread: appends non-NULL `item`. 0, or -ENOMEM (ring could not grow). */
int fl_injector_push(struct fl_injector *q, void *item);

/* Any thread: appends items[0..n) in order, atomically with respect to other
 * pushes and pops. 0, or -ENOMEM with nothing appended. */
int fl_injector_push_batch(struct fl_injector *q, void *const *items, size_t n);

/* Any thread: removes and returns the oldest item (FIFO), NULL when empty. */
void *fl_injector_pop(struct fl_injector *q);

/* Owner of `into`: takes up to `max` (>= 1; 0 counts as 1) of the oldest
 * items, no more than `into` has room for plus one. Returns the oldest, to
 * run now, and pushes the rest into `into` in age order. *moved (if not
 * NULL) = items taken including the returned one. */
void *fl_injector_pop_batch(struct fl_injector *q, struct fl_deque *into, unsigned max,
                            unsigned *moved);

/* Any thread, no lock: number of queued items, a sequentially consistent
 * snapshot (see deque.c for the parking protocol it supports). */
size_t fl_injector_len(struct fl_injector *q);

#endif
