/* wheel.h - a worker's deadlines: a hashed timing wheel (Varghese and
 * Lauck's scheme 6). A node sits in the slot of its deadline's tick; a tick
 * is 2^FL_WHEEL_SHIFT ns (8.4 ms) and the wheel turns once in 512 ticks
 * (4.3 s), so a deadline further out stays in its slot and is passed over on
 * each turn until its time comes. Adding and removing are O(1) and read no
 * clock; expiring walks the slots of the ticks that have passed. A node
 * expires within one tick after its deadline.
 *
 * Why not a linked timeout per operation: on this machine arming and
 * disarming the kernel's timer for every receive and send cost 9 % of the
 * server's CPU on /healthz (bench/README.md), and almost no deadline ever
 * fires. One owner: a wheel is used by one thread. */
#ifndef FL_SERVER_WHEEL_H
#define FL_SERVER_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#define FL_WHEEL_SHIFT 23
#define FL_WHEEL_SLOTS 512u

struct fl_tnode {
    struct fl_tnode *next, **pprev; /* pprev NULL: not in a wheel */
    uint64_t at;                    /* CLOCK_MONOTONIC ns */
};

struct fl_wheel {
    struct fl_tnode *slot[FL_WHEEL_SLOTS];
    uint64_t busy[FL_WHEEL_SLOTS / 64]; /* a bit per slot that holds a node */
    uint64_t done;                      /* every tick up to this one has been expired */
    unsigned count;
};

/* An empty wheel whose expired ticks end just before `now`'s. */
void fl_wheel_init(struct fl_wheel *wh, uint64_t now);

/* Puts `n` (not in a wheel) in for deadline `at`; a deadline already past
 * expires at the next fl_wheel_expire. */
void fl_wheel_add(struct fl_wheel *wh, struct fl_tnode *n, uint64_t at);

/* Takes `n` out, if it is in. */
void fl_wheel_del(struct fl_wheel *wh, struct fl_tnode *n);

static inline bool fl_wheel_linked(const struct fl_tnode *n)
{
    return n->pprev != 0;
}

/* Takes out every node whose tick has passed by `now` (after a sleep of a
 * whole turn or more: every node whose deadline is not after `now`), and
 * calls fn(node, arg) for each: the node is out by then and fn may add it
 * again, or delete another node. Returns how many expired. */
unsigned fl_wheel_expire(struct fl_wheel *wh, uint64_t now,
                         void (*fn)(struct fl_tnode *n, void *arg), void *arg);

/* ns from `now` until fl_wheel_expire may have something to do: the end
 * of the first tick after `done` whose slot holds a node; UINT64_MAX when
 * the wheel is empty. */
uint64_t fl_wheel_next(const struct fl_wheel *wh, uint64_t now);

#endif
