/* wheel.c - a hashed timing wheel (see wheel.h). */
#include "wheel.h"

#include <string.h>

#define MASK (FL_WHEEL_SLOTS - 1)

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
    wh->count++;
}

void fl_wheel_del(struct fl_wheel *wh, struct fl_tnode *n)
{
    if (!n->pprev)
        return;
    *n->pprev = n->next;
    if (n->next)
        n->next->pprev = n->pprev;
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

uint64_t fl_wheel_next(const struct fl_wheel *wh, uint64_t now)
{
    if (!wh->count)
        return UINT64_MAX;
    for (uint64_t t = wh->done + 1; t <= wh->done + FL_WHEEL_SLOTS; t++) {
        if (!wh->slot[t & MASK])
            continue;
        uint64_t end = (t + 1) << FL_WHEEL_SHIFT;
        return end > now ? end - now : 0;
    }
    return UINT64_MAX; /* not reached: count > 0 means some slot holds a node */
}
