/* wheel.c - a hashed timing wheel (see wheel.h). */
#include "wheel.h"

#include <string.h>

#define MASK (FL_WHEEL_SLOTS - 1)
#define WORDS (FL_WHEEL_SLOTS / 64)

static void mark(struct fl_wheel *wh, size_t i, int busy)
{
    if (busy)
        wh->busy[i / 64] |= UINT64_C(1) << (i % 64);
    else
        wh->busy[i / 64] &= ~(UINT64_C(1) << (i % 64));
}

/* The slot whose head pointer is `pp`, or -1 when `pp` is a node's link. */
static long slot_of(const struct fl_wheel *wh, struct fl_tnode *const *pp)
{
    uintptr_t p = (uintptr_t)pp, lo = (uintptr_t)wh->slot;
    if (p < lo || p >= lo + sizeof(wh->slot))
        return -1;
    return (long)((p - lo) / sizeof(wh->slot[0]));
}

void fl_wheel_init(struct fl_wheel *wh, uint64_t now)
{
    memset(wh, 0, sizeof(*wh));
    wh->done = (now >> FL_WHEEL_SHIFT) - 1;
}

void fl_wheel_add(struct fl_wheel *wh, struct fl_tnode *n, uint64_t at)
{
    uint64_t tick = at >> FL_WHEEL_SHIFT;
    if (tick <= wh->done) /* already due: the next tick to expire takes it */
        tick = wh->done + 1;
    struct fl_tnode **head = &wh->slot[tick & MASK];
    n->at = at;
    n->next = *head;
    n->pprev = head;
    if (*head)
        (*head)->pprev = &n->next;
    *head = n;
    mark(wh, tick & MASK, 1);
    wh->count++;
}

void fl_wheel_del(struct fl_wheel *wh, struct fl_tnode *n)
{
    if (!n->pprev)
        return;
    *n->pprev = n->next;
    if (n->next)
        n->next->pprev = n->pprev;
    long i = n->next ? -1 : slot_of(wh, n->pprev);
    if (i >= 0) /* it was the slot's only node */
        mark(wh, (size_t)i, 0);
    n->next = 0;
    n->pprev = 0;
    wh->count--;
}

/* Expires the due nodes of one slot; the others wait for a later turn. The
 * due ones move to a list of their own first, still counted and linked, so
 * fn may add nodes to this slot, and may delete a due node not called yet
 * (it then is not called). */
static unsigned expire_slot(struct fl_wheel *wh, struct fl_tnode **head, uint64_t now,
                            void (*fn)(struct fl_tnode *, void *), void *arg)
{
    struct fl_tnode *due = 0;
    for (struct fl_tnode *t = *head, *next; t; t = next) {
        next = t->next;
        if (t->at > now)
            continue;
        *t->pprev = t->next; /* unlink from the slot, link into `due` */
        if (t->next)
            t->next->pprev = t->pprev;
        t->next = due;
        t->pprev = &due;
        if (due)
            due->pprev = &t->next;
        due = t;
    }
    if (!*head)
        mark(wh, (size_t)(head - wh->slot), 0);
    unsigned n = 0;
    while (due) {
        struct fl_tnode *t = due;
        fl_wheel_del(wh, t);
        fn(t, arg);
        n++;
    }
    return n;
}

unsigned fl_wheel_expire(struct fl_wheel *wh, uint64_t now,
                         void (*fn)(struct fl_tnode *n, void *arg), void *arg)
{
    uint64_t last = (now >> FL_WHEEL_SHIFT) - 1; /* the last tick wholly past */
    if (last <= wh->done)
        return 0;
    uint64_t from = wh->done + 1;
    if (last - from >= FL_WHEEL_SLOTS) /* asleep for a whole turn: each slot once */
        from = last - FL_WHEEL_SLOTS + 1;
    wh->done = last; /* before fn runs: a node it adds goes to a tick still ahead */
    unsigned n = 0;
    for (uint64_t t = from; t <= last && wh->count; t++)
        n += expire_slot(wh, &wh->slot[t & MASK], now, fn, arg);
    return n;
}

/* How many slots after slot `from` (0 for `from` itself) the first busy
 * one is, going round; -1 when none is. */
static long next_busy(const struct fl_wheel *wh, size_t from)
{
    for (size_t k = 0; k <= WORDS; k++) {
        size_t w = (from / 64 + k) % WORDS;
        uint64_t b = wh->busy[w];
        if (k == 0)
            b &= ~UINT64_C(0) << (from % 64);
        else if (k == WORDS) /* round to the first word again: its bits before `from` */
            b &= ~(~UINT64_C(0) << (from % 64));
        if (b)
            return (long)((w * 64 + (size_t)__builtin_ctzll(b) - from) & MASK);
    }
    return -1;
}

uint64_t fl_wheel_next(const struct fl_wheel *wh, uint64_t now)
{
    long d = wh->count ? next_busy(wh, (size_t)((wh->done + 1) & MASK)) : -1;
    if (d < 0)
        return UINT64_MAX;
    uint64_t end = (wh->done + 2 + (uint64_t)d) << FL_WHEEL_SHIFT;
    return end > now ? end - now : 0;
}
