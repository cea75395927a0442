/* deque.c - per-worker Chase-Lev deque and the shared injector (see deque.h).
 *
 * Memory ordering. Lê et al. (PPoPP 2013) write the deque with relaxed
 * accesses plus two standalone fences: a seq_cst fence between the owner's
 * `bottom` store and `top` load in take, and one between the thief's `top`
 * and `bottom` loads in steal. ThreadSanitizer does not model standalone
 * fences, so it would report false races on that code, and a TSan-only
 * variant would test code we do not ship. Instead every build uses the
 * equivalent seq_cst *accesses* on exactly those four operations (plus the
 * seq_cst CAS on `top` the paper already has), so TSan checks what runs:
 *
 *   pop (owner):  bottom = b-1 (SC store);  t = top (SC load)
 *   steal:        t = top (SC load);  b = bottom (SC load);  CAS top (SC)
 *
 * Why that is enough (the race the fences exist for): the owner takes index
 * b-1 without a CAS when it sees t < b-1; a thief takes index t with a CAS on
 * `top`. Both could claim index b-1 only if the thief read top == b-1 and
 * then the old bottom b (a store mo-before the owner's SC store of b-1),
 * while the owner read a top older than b-1. In the SC order S that is a
 * cycle: CAS(top=b-1) -> thief's top load (reads it) -> thief's bottom load
 * (sb) -> owner's bottom store (the load read an mo-earlier value, "rb") ->
 * owner's top load (sb) -> that CAS (reads an mo-earlier value, "rb"). All
 * are SC accesses, so RC11 (what compilers implement) forbids the cycle. (A
 * thief that reads a bottom stored after the pop's finds at index b-1 an item
 * pushed after the pop: a different task.) The last item (t == b-1) is
 * claimed by CAS from both sides: one wins.
 *
 * The cost is nil on x86-64 (SC loads are plain loads, the SC store is an
 * xchg where the paper has mov+mfence, and steal drops its mfence) and small
 * on AArch64 (ldar/stlr instead of dmb). The other accesses keep the paper's
 * orderings, each explained where it is made. Slots are atomics accessed
 * relaxed: a thief may read a slot at the same time as the owner rewrites it
 * after wrap-around; that read is then always discarded (its CAS fails), but
 * with plain slots it would still be a data race, i.e. undefined.
 *
 * Indices are signed 64-bit and never wrap (2^63 pushes), so there is no ABA
 * on `top` and the owner's transient bottom = top - 1 compares correctly. */
#include "deque.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int fl_deque_init(struct fl_deque *d, size_t cap)
{
    if (cap == 0)
        cap = FL_DEQUE_DEFAULT_CAP;
    if (cap < 2 || cap > FL_DEQUE_MAX_CAP || (cap & (cap - 1)) != 0)
        return -EINVAL;
    memset(d, 0, sizeof(*d));
    d->slots = malloc(cap * sizeof(*d->slots));
    if (!d->slots)
        return -ENOMEM;
    for (size_t i = 0; i < cap; i++)
        atomic_init(&d->slots[i], NULL);
    d->mask = (int64_t)cap - 1;
    atomic_init(&d->top, 0);
    atomic_init(&d->bottom, 0);
    return 0;
}

void fl_deque_destroy(struct fl_deque *d)
{
    free(d->slots);
    d->slots = NULL;
}

size_t fl_deque_capacity(const struct fl_deque *d)
{
    return (size_t)d->mask + 1;
}

size_t fl_deque_len(struct fl_deque *d)
{
    /* Relaxed: a snapshot is all the caller gets anyway. For the owner,
     * `bottom` is its own exact value and `top` can only be stale-low. */
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);
    return b > t ? (size_t)(b - t) : 0;
}

bool fl_deque_push(struct fl_deque *d, void *item)
{
    assert(item != NULL);
    /* Relaxed: only this thread (the owner) ever writes `bottom`. */
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    /* Acquire, pairing with the thieves' CAS (release part): once we see
     * top > i, the thief's read of slot i happened before our rewrite of it
     * below, so it cannot have read our new item. A stale top only makes
     * the deque look fuller, never emptier. */
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    if (b - t > d->mask)
        return false;
    atomic_store_explicit(&d->slots[b & d->mask], item, memory_order_relaxed);
    /* Release: a thief that reads bottom > b also sees the slot write. */
    atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
    return true;
}

void *fl_deque_pop(struct fl_deque *d)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    /* Fast empty check, relaxed: `top` only grows, so top >= bottom seen
     * now stays true and we skip the SC store (an xchg) when idle. */
    if (atomic_load_explicit(&d->top, memory_order_relaxed) >= b)
        return NULL;
    b--;
    /* SC store then SC load: the Dekker handshake with steal (file comment). */
    atomic_store_explicit(&d->bottom, b, memory_order_seq_cst);
    int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
    void *item = NULL;
    if (t <= b) {
        /* Relaxed: we wrote this slot ourselves; thieves never write slots. */
        item = atomic_load_explicit(&d->slots[b & d->mask], memory_order_relaxed);
        if (t < b)
            return item; /* more than one left: thieves cannot reach index b */
        /* The last item: race the thieves for it on `top`, as they do. */
        if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                     memory_order_relaxed))
            item = NULL;
    }
    /* Empty (now or after the race): restore bottom == top. Release, so a
     * thief reading this value synchronises with the pushes before it by
     * itself: C11 lets a later relaxed store by the same thread continue a
     * release sequence, but C++20 and RC11 dropped that rule, and it costs
     * nothing on x86 (a plain mov) to not depend on it. */
    atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
    return item;
}

/* One steal by any thread, retried while the deque looks non-empty: a failed
 * CAS means another thread took an item, so the loop is lock-free. On success
 * *seen (if not NULL) is the number of items there were, this one included. */
static void *steal_one(struct fl_deque *d, int64_t *seen)
{
    for (;;) {
        /* SC loads, top before bottom: the handshake with pop. The bottom
         * load is also an acquire pairing with push's release, so the slot
         * read below sees the pushed item. */
        int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
        int64_t b = atomic_load_explicit(&d->bottom, memory_order_seq_cst);
        if (t >= b)
            return NULL;
        /* Relaxed, and possibly a value the owner has since overwritten
         * (index t + cap): then top has moved past t and the CAS fails. */
        void *item = atomic_load_explicit(&d->slots[t & d->mask], memory_order_relaxed);
        /* SC (so also release): the owner's acquire load of top in push
         * then orders our slot read before its rewrite of that slot. */
        if (atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                    memory_order_relaxed)) {
            if (seen)
                *seen = b - t;
            return item;
        }
    }
}

void *fl_deque_steal(struct fl_deque *d)
{
    return steal_one(d, NULL);
}

/* One CAS per item, not one CAS of top += k: the owner pops without a CAS
 * whenever it sees more than one item, so while a thief sits between reading
 * [t, t+k) and its CAS, the owner can pop down into that range with top
 * still equal to t, and a batch CAS would then succeed on items the owner
 * already took. Per-item steals inherit the single-item proof. */
void *fl_deque_steal_half(struct fl_deque *victim, struct fl_deque *into, unsigned *moved)
{
    assert(victim != into);
    int64_t n = 0;
    unsigned k = 0;
    void *first = steal_one(victim, &n);
    if (first) {
        k = 1;
        int64_t want = (n + 1) / 2;
        /* `into` is ours, so its room only grows under us (thieves). */
        int64_t room = (int64_t)fl_deque_capacity(into) - (int64_t)fl_deque_len(into);
        if (want > room + 1)
            want = room + 1;
        while ((int64_t)k < want) {
            void *item = steal_one(victim, NULL);
            if (!item)
                break;
            bool ok = fl_deque_push(into, item);
            assert(ok);
            (void)ok;
            k++;
        }
    }
    if (moved)
        *moved = k;
    return first;
}

/* Under q->lock: makes room for `need` items in total, keeping their order. */
static int injector_reserve(struct fl_injector *q, size_t need)
{
    if (need <= q->cap)
        return 0;
    size_t len = atomic_load_explicit(&q->len, memory_order_relaxed);
    size_t cap = q->cap;
    while (cap < need) {
        if (cap > SIZE_MAX / 2 / sizeof(void *))
            return -ENOMEM;
        cap *= 2;
    }
    void **ring = malloc(cap * sizeof(*ring));
    if (!ring)
        return -ENOMEM;
    for (size_t i = 0; i < len; i++)
        ring[i] = q->ring[(q->head + i) & (q->cap - 1)];
    free(q->ring);
    q->ring = ring;
    q->cap = cap;
    q->head = 0;
    return 0;
}

/* Under q->lock, after injector_reserve: appends one item, len unpublished. */
static void injector_put(struct fl_injector *q, size_t *len, void *item)
{
    assert(item != NULL);
    q->ring[(q->head + *len) & (q->cap - 1)] = item;
    (*len)++;
}

/* Under q->lock, len > 0: removes the oldest item, len unpublished. */
static void *injector_take(struct fl_injector *q, size_t *len)
{
    void *item = q->ring[q->head];
    q->head = (q->head + 1) & (q->cap - 1);
    (*len)--;
    return item;
}

/* Under q->lock: publishes the new length. SC so that a worker parking with
 * "announce idle (SC); re-check fl_injector_len (SC)" and a pusher doing
 * "push (this SC store); check for idle workers (SC)" cannot both miss each
 * other (Dekker). Everything else about the ring is ordered by the mutex. */
static void injector_publish(struct fl_injector *q, size_t len)
{
    atomic_store_explicit(&q->len, len, memory_order_seq_cst);
}

int fl_deque_push_or_overflow(struct fl_deque *d, void *item, struct fl_injector *q)
{
    if (fl_deque_push(d, item))
        return 0;
    /* Full. Move the older half (the ones thieves would take next, and the
     * coldest in our cache) and then `item`, as tokio does. The owner takes
     * them with steals from its own top, under the injector lock with room
     * reserved first, so the move is all-or-nothing and appears in the
     * injector as one batch. */
    size_t half = fl_deque_len(d) / 2;
    pthread_mutex_lock(&q->lock);
    size_t len = atomic_load_explicit(&q->len, memory_order_relaxed);
    if (injector_reserve(q, len + half + 1) != 0) {
        pthread_mutex_unlock(&q->lock);
        return -ENOMEM;
    }
    size_t n = 0;
    void *x;
    while (n < half && (x = steal_one(d, NULL)) != NULL) {
        injector_put(q, &len, x);
        n++;
    }
    injector_put(q, &len, item);
    injector_publish(q, len);
    pthread_mutex_unlock(&q->lock);
    return (int)(n + 1);
}

int fl_injector_init(struct fl_injector *q, size_t cap)
{
    if (cap == 0)
        cap = FL_INJECTOR_DEFAULT_CAP;
    if (cap > SIZE_MAX / 2 / sizeof(void *))
        return -EINVAL;
    size_t c = 1;
    while (c < cap)
        c *= 2;
    memset(q, 0, sizeof(*q));
    q->ring = malloc(c * sizeof(*q->ring));
    if (!q->ring)
        return -ENOMEM;
    int rc = pthread_mutex_init(&q->lock, NULL);
    if (rc != 0) {
        free(q->ring);
        return -rc;
    }
    q->cap = c;
    atomic_init(&q->len, 0);
    return 0;
}

void fl_injector_destroy(struct fl_injector *q)
{
    pthread_mutex_destroy(&q->lock);
    free(q->ring);
    q->ring = NULL;
}

int fl_injector_push(struct fl_injector *q, void *item)
{
    return fl_injector_push_batch(q, &item, 1);
}

int fl_injector_push_batch(struct fl_injector *q, void *const *items, size_t n)
{
    pthread_mutex_lock(&q->lock);
    size_t len = atomic_load_explicit(&q->len, memory_order_relaxed);
    if (n > SIZE_MAX - len || injector_reserve(q, len + n) != 0) {
        pthread_mutex_unlock(&q->lock);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        injector_put(q, &len, items[i]);
    injector_publish(q, len);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

void *fl_injector_pop(struct fl_injector *q)
{
    return fl_injector_pop_batch(q, NULL, 1, NULL);
}

void *fl_injector_pop_batch(struct fl_injector *q, struct fl_deque *into, unsigned max,
                            unsigned *moved)
{
    unsigned k = 0;
    void *first = NULL;
    /* Lock-free look first: idle workers poll this often, and an empty
     * injector should cost them a shared cache line, not a contended lock. */
    if (fl_injector_len(q) == 0)
        goto out;
    size_t room = into ? fl_deque_capacity(into) - fl_deque_len(into) : 0;
    size_t want = max ? max : 1;
    if (want > room + 1)
        want = room + 1;
    pthread_mutex_lock(&q->lock);
    size_t len = atomic_load_explicit(&q->len, memory_order_relaxed);
    if (want > len)
        want = len;
    if (want > 0) {
        first = injector_take(q, &len);
        for (k = 1; k < want; k++) {
            bool ok = fl_deque_push(into, injector_take(q, &len));
            assert(ok);
            (void)ok;
        }
        injector_publish(q, len);
    }
    pthread_mutex_unlock(&q->lock);
out:
    if (moved)
        *moved = k;
    return first;
}

size_t fl_injector_len(struct fl_injector *q)
{
    return atomic_load_explicit(&q->len, memory_order_seq_cst);
}
