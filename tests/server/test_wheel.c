/* test_wheel.c - the contract of a worker's timing wheel (wheel.h): a node
 * expires once its deadline has passed and the tick holding it has wholly
 * passed (at most one tick late, never early), deletion, deadlines already
 * past, deadlines more than a turn ahead, a sleep longer than a turn,
 * callbacks that re-add their node, fl_wheel_next, and 10,000 random
 * deadlines with and without the server's churn of deletes and re-arms.
 * Times are CLOCK_MONOTONIC-like: the wheel starts at 1000 s, not at 0. */
#include "wheel.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define TICK (UINT64_C(1) << FL_WHEEL_SHIFT)
#define TURN ((uint64_t)FL_WHEEL_SLOTS * TICK)
#define MS UINT64_C(1000000)
#define SEC UINT64_C(1000000000)
#define T0 (1000 * SEC)

struct item {
    struct fl_tnode tn;
    bool armed;        /* added and neither expired nor deleted since */
    unsigned fired;    /* expiries since it was last armed */
    uint64_t fired_at; /* `now` of the expire call that took it */
    uint64_t prev_now; /* `now` of the expire call before that one */
};

/* What the callback sees, and what it does with the node it is given. */
struct run {
    struct fl_wheel *wh;
    uint64_t now, prev_now;
    unsigned calls;
    bool strict;       /* the node's tick must have wholly passed by now */
    unsigned readd;    /* re-add this many more times, ... */
    uint64_t readd_at; /* ... at this deadline (0: its old one) */
};

static uint64_t tick_end(uint64_t at)
{
    return ((at >> FL_WHEEL_SHIFT) + 1) << FL_WHEEL_SHIFT;
}

static struct item *item_of(struct fl_tnode *n)
{
    return (struct item *)((char *)n - offsetof(struct item, tn));
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void arm(struct run *r, struct item *it, uint64_t at)
{
    assert_false(fl_wheel_linked(&it->tn));
    fl_wheel_add(r->wh, &it->tn, at);
    assert_true(fl_wheel_linked(&it->tn));
    it->armed = true;
    it->fired = 0;
}

static void expire_cb(struct fl_tnode *n, void *arg)
{
    struct run *r = arg;
    struct item *it = item_of(n);
    assert_false(fl_wheel_linked(n)); /* out before fn runs */
    assert_true(it->armed);           /* a deleted node never fires */
    assert_true(n->at <= r->now);     /* never before the deadline */
    if (r->strict)
        assert_true(tick_end(n->at) <= r->now);
    it->armed = false;
    it->fired++;
    it->fired_at = r->now;
    it->prev_now = r->prev_now;
    r->calls++;
    if (r->readd) {
        r->readd--;
        arm(r, it, r->readd_at ? r->readd_at : n->at);
    }
}

/* One fl_wheel_expire at `now`; checks its return against the callbacks. */
static unsigned expire(struct run *r, uint64_t now)
{
    unsigned before = r->calls;
    r->now = now;
    unsigned n = fl_wheel_expire(r->wh, now, expire_cb, r);
    assert_int_equal(n, r->calls - before);
    r->prev_now = now;
    return n;
}

static void run_init(struct run *r, struct fl_wheel *wh, uint64_t now)
{
    memset(r, 0, sizeof(*r));
    r->wh = wh;
    r->strict = true;
    r->prev_now = now;
    fl_wheel_init(wh, now);
    assert_int_equal(wh->count, 0);
}

/* For each offset and each start phase within a tick: the node stays in
 * through every call before its tick ends (including calls at or after its
 * deadline within that tick) and goes at the first call at its tick's end. */
static void test_expires_when_tick_passed(void **state)
{
    (void)state;
    static const uint64_t xs[] = {0,        1,        TICK / 2, TICK - 1, TICK,
                                  TICK + 1, 100 * MS, 999 * MS, 3 * SEC,  TURN - 2 * TICK};
    static const uint64_t phases[] = {0, 1, TICK / 3, TICK - 1};
    for (size_t p = 0; p < sizeof(phases) / sizeof(phases[0]); p++) {
        for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
            struct fl_wheel wh;
            struct run r;
            struct item it = {0};
            uint64_t now = T0 + phases[p];
            run_init(&r, &wh, now);
            uint64_t at = now + xs[i], end = tick_end(at);
            arm(&r, &it, at);
            assert_int_equal(wh.count, 1);
            /* Half-millisecond steps that also land on `at` and on end - 1. */
            while (now < end) {
                assert_int_equal(expire(&r, now), 0);
                uint64_t next = now + MS / 2;
                if (now < at && at < next)
                    next = at;
                if (now < end - 1 && end - 1 < next)
                    next = end - 1;
                now = next;
            }
            assert_true(fl_wheel_linked(&it.tn));
            assert_int_equal(expire(&r, end), 1);
            assert_int_equal(it.fired, 1);
            assert_int_equal(wh.count, 0);
            assert_int_equal(expire(&r, end + TICK), 0);
            assert_int_equal(it.fired, 1);
        }
    }
}

static void del(struct run *r, struct item *it)
{
    fl_wheel_del(r->wh, &it->tn);
    assert_false(fl_wheel_linked(&it->tn));
    it->armed = false;
}

/* Deleting from the middle, the tail and the head of one slot's list (the
 * tail right after its neighbour, so a stale back link would show), from a
 * slot alone and from a visited slot; deleting twice, a node never added or
 * one already expired does nothing; a deleted node never fires. */
static void test_del(void **state)
{
    (void)state;
    struct fl_wheel wh;
    struct run r;
    struct item it[8];
    memset(it, 0, sizeof(it));
    uint64_t now = T0 + 5 * MS;
    run_init(&r, &wh, now);
    uint64_t at = tick_end(now + 200 * MS) + 1000;
    for (int i = 0; i < 4; i++) /* one tick; the slot's list is LIFO: 3, 2, 1, 0 */
        arm(&r, &it[i], at + (uint64_t)i);
    arm(&r, &it[4], at + 50 * MS);  /* another slot, alone */
    arm(&r, &it[5], at + TURN);     /* it[0]'s slot, a turn later */
    arm(&r, &it[6], at + 100 * MS); /* stays */
    assert_int_equal(wh.count, 7);

    del(&r, &it[1]); /* the middle */
    assert_int_equal(wh.count, 6);
    del(&r, &it[1]); /* again: harmless */
    assert_int_equal(wh.count, 6);
    del(&r, &it[0]); /* the tail, whose neighbour just went */
    del(&r, &it[3]); /* the head */
    del(&r, &it[4]); /* alone in its slot */
    assert_int_equal(wh.count, 3);
    struct fl_tnode never = {0};
    fl_wheel_del(&wh, &never);
    assert_false(fl_wheel_linked(&never));
    assert_int_equal(wh.count, 3);
    arm(&r, &it[3], at + 3); /* a deleted node can go back in */
    assert_int_equal(wh.count, 4);

    for (now += MS; now < tick_end(at + 50 * MS) + TICK; now += MS)
        expire(&r, now);
    static const unsigned want[7] = {0, 0, 1, 1, 0, 0, 0};
    for (int i = 0; i < 7; i++)
        assert_int_equal(it[i].fired, want[i]);
    assert_int_equal(wh.count, 2);
    assert_true(fl_wheel_linked(&it[5].tn));
    assert_true(fl_wheel_linked(&it[6].tn));

    del(&r, &it[5]); /* a turn ahead, in a slot already visited */
    del(&r, &it[2]); /* expired: no longer in */
    assert_int_equal(wh.count, 1);
    del(&r, &it[6]);
    assert_int_equal(wh.count, 0);
    assert_true(fl_wheel_next(&wh, now) == UINT64_MAX);
    for (now += MS; now < at + TURN + TURN / 2; now += 3 * SEC)
        assert_int_equal(expire(&r, now), 0);
    for (int i = 0; i < 7; i++)
        assert_int_equal(it[i].fired, want[i]);
}

/* A deadline already past (even far past) goes at the next call that
 * passes a tick, whether the wheel is up to date or has not been expired
 * for a while. */
static void test_past_deadline(void **state)
{
    (void)state;
    struct fl_wheel wh;
    struct run r;
    struct item it[4];
    memset(it, 0, sizeof(it));
    uint64_t now = T0 + TICK / 2;
    run_init(&r, &wh, now);
    for (int i = 0; i < 10; i++)
        expire(&r, now += 3 * MS);
    arm(&r, &it[0], now - 5 * SEC);
    arm(&r, &it[1], now - 1);
    arm(&r, &it[2], 1);
    assert_int_equal(wh.count, 3);
    assert_int_equal(expire(&r, now), 0); /* no tick has passed since */
    assert_int_equal(fl_wheel_next(&wh, now), tick_end(now) - now);
    assert_int_equal(expire(&r, tick_end(now) - 1), 0);
    assert_int_equal(expire(&r, tick_end(now)), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(it[i].fired, 1);
    assert_int_equal(wh.count, 0);

    /* A wheel last expired 100 ticks ago. */
    now = tick_end(now) + 100 * TICK + TICK / 4;
    arm(&r, &it[3], now - 2 * SEC);
    assert_true(fl_wheel_next(&wh, now) == 0);
    assert_int_equal(expire(&r, now), 1);
    assert_int_equal(it[3].fired, 1);
    assert_int_equal(wh.count, 0);
}

/* Deadlines 3.x turns ahead share slots with nodes due on earlier turns;
 * stepping 5 ms at a time (and, again, 3 s at a time), each goes at the
 * first call at or after its tick's end, not when its slot comes round. */
static void test_beyond_one_turn(void **state)
{
    (void)state;
    static const uint64_t steps[] = {5 * MS, 3 * SEC, TICK};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        struct fl_wheel wh;
        struct run r;
        struct item it[4];
        memset(it, 0, sizeof(it));
        uint64_t start = T0 + 7 * MS;
        run_init(&r, &wh, start);
        uint64_t far = start + 3 * TURN + 1234567;
        uint64_t ats[4] = {far, far - TURN, far - 3 * TURN, far + TICK / 2};
        for (int i = 0; i < 4; i++)
            arm(&r, &it[i], ats[i]);
        for (uint64_t now = start + steps[s]; r.prev_now < tick_end(ats[3]); now += steps[s])
            expire(&r, now);
        for (int i = 0; i < 4; i++) {
            uint64_t end = tick_end(ats[i]);
            uint64_t want = start + ((end - start + steps[s] - 1) / steps[s]) * steps[s];
            assert_int_equal(it[i].fired, 1);
            assert_int_equal(it[i].fired_at, want);
        }
        assert_int_equal(wh.count, 0);
    }
}

/* One call after a sleep of several turns takes every node whose tick has
 * passed, exactly once, from slots holding nodes of several turns, and
 * leaves the rest (including one in the current tick but after now, and
 * ones in the slots of due nodes a turn or more ahead); they go on time.
 * A node in the current tick with a deadline before now is left out: after
 * a sleep of a whole turn such a call may take it before its tick ends,
 * never before its deadline (wheel.h). */
static void test_long_sleep(void **state)
{
    (void)state;
    enum { NDUE = 2 * FL_WHEEL_SLOTS + 7, NLATER = 5 };
    static struct item due[NDUE], later[NLATER];
    memset(due, 0, sizeof(due));
    memset(later, 0, sizeof(later));
    struct fl_wheel wh;
    struct run r;
    uint64_t start = T0 + 3 * MS;
    run_init(&r, &wh, start);
    uint64_t wake = start + 3 * TURN + 2 * SEC + TICK / 2;
    uint64_t wake_tick = wake & ~(TICK - 1);
    for (int i = 0; i < NDUE - 1; i++) /* every slot, over more than two turns */
        arm(&r, &due[i], start + (uint64_t)i * TICK + (uint64_t)i * 7919 % TICK);
    arm(&r, &due[NDUE - 1], wake_tick - 1); /* the last tick wholly past */
    uint64_t later_at[NLATER] = {wake + 1, wake_tick + 3 * TICK, wake + TURN - TICK,
                                 due[5].tn.at + 4 * TURN, wake + 2 * TURN};
    for (int i = 0; i < NLATER; i++)
        arm(&r, &later[i], later_at[i]);
    assert_int_equal(wh.count, NDUE + NLATER);

    assert_int_equal(expire(&r, wake), NDUE);
    for (int i = 0; i < NDUE; i++) {
        assert_int_equal(due[i].fired, 1);
        assert_false(fl_wheel_linked(&due[i].tn));
    }
    for (int i = 0; i < NLATER; i++)
        assert_true(fl_wheel_linked(&later[i].tn));
    assert_int_equal(wh.count, NLATER);
    assert_int_equal(expire(&r, wake), 0);

    for (uint64_t now = wake + 4 * MS; now < wake + 2 * TURN + 2 * TICK; now += 4 * MS)
        expire(&r, now);
    for (int i = 0; i < NLATER; i++) {
        assert_int_equal(later[i].fired, 1);
        assert_true(later[i].fired_at >= tick_end(later_at[i]));
        assert_true(later[i].prev_now < tick_end(later_at[i]));
    }
    for (int i = 0; i < NDUE; i++)
        assert_int_equal(due[i].fired, 1);
    assert_int_equal(wh.count, 0);
}

/* The callback re-adds the node it is given: later, to its old deadline
 * (already past), into the slot it is being taken from (a turn later), and
 * into a slot the same call has still to walk. None goes twice in one call. */
static void test_readd_in_callback(void **state)
{
    (void)state;
    struct fl_wheel wh;
    struct run r;
    struct item it = {0};
    uint64_t now = T0 + MS;
    run_init(&r, &wh, now);

    arm(&r, &it, now + 20 * MS); /* later deadline */
    now = tick_end(now + 20 * MS) + 2 * TICK;
    r.readd = 1;
    r.readd_at = now + 100 * MS;
    assert_int_equal(expire(&r, now), 1);
    assert_true(fl_wheel_linked(&it.tn));
    assert_int_equal(wh.count, 1);
    assert_int_equal(expire(&r, now), 0);
    assert_int_equal(expire(&r, tick_end(r.readd_at) - 1), 0);
    assert_int_equal(expire(&r, tick_end(r.readd_at)), 1);
    assert_int_equal(wh.count, 0);

    now = tick_end(r.readd_at) + MS; /* its old, past deadline */
    arm(&r, &it, now - MS);
    now += 3 * TICK;
    r.readd = 1;
    r.readd_at = 0;
    assert_int_equal(expire(&r, now), 1);
    assert_true(fl_wheel_linked(&it.tn));
    assert_int_equal(expire(&r, now + 1), 0);
    assert_int_equal(expire(&r, tick_end(now)), 1);
    assert_int_equal(wh.count, 0);

    /* Five nodes of one slot, each put back into that slot a turn later. */
    struct item same[5];
    memset(same, 0, sizeof(same));
    now = tick_end(now) + 2 * MS;
    uint64_t at = tick_end(now + 30 * MS) + 100;
    for (int i = 0; i < 5; i++)
        arm(&r, &same[i], at + (uint64_t)i);
    r.readd = 5;
    r.readd_at = at + TURN;
    now = tick_end(at + 4);
    assert_int_equal(expire(&r, now), 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(same[i].fired, 0); /* re-armed */
        assert_true(fl_wheel_linked(&same[i].tn));
    }
    assert_int_equal(wh.count, 5);
    assert_int_equal(expire(&r, tick_end(at + TURN) - 1), 0);
    assert_int_equal(expire(&r, tick_end(at + TURN)), 5);
    assert_int_equal(wh.count, 0);

    /* A call after more than a turn: put back into a slot the call walks
     * after this one (a turn ahead less two ticks), then at its old
     * deadline, which goes to the next tick's slot, walked first. */
    for (int mode = 0; mode < 2; mode++) {
        now = tick_end(r.now) + MS;
        uint64_t old = now + TICK;
        arm(&r, &it, old);
        now += TURN + 10 * TICK + TICK / 2;
        r.readd = 1;
        r.readd_at = mode ? 0 : now + TURN - 2 * TICK;
        assert_int_equal(expire(&r, now), 1);
        assert_true(fl_wheel_linked(&it.tn));
        uint64_t next_at = mode ? tick_end(now) : tick_end(r.readd_at);
        assert_int_equal(expire(&r, next_at - 1), 0);
        assert_int_equal(expire(&r, next_at), 1);
        assert_int_equal(wh.count, 0);
    }
}

static void test_next(void **state)
{
    (void)state;
    struct fl_wheel wh;
    struct run r;
    struct item it[4];
    memset(it, 0, sizeof(it));
    uint64_t now = T0 + 3 * MS;
    run_init(&r, &wh, now);
    assert_true(fl_wheel_next(&wh, now) == UINT64_MAX);

    uint64_t a = now + 100 * MS, b = now + 50 * MS;
    arm(&r, &it[0], a);
    assert_int_equal(fl_wheel_next(&wh, now), tick_end(a) - now);
    arm(&r, &it[1], b);
    assert_int_equal(fl_wheel_next(&wh, now), tick_end(b) - now);
    assert_int_equal(fl_wheel_next(&wh, now + 10 * MS), tick_end(b) - now - 10 * MS);
    assert_int_equal(fl_wheel_next(&wh, tick_end(b)), 0);
    assert_int_equal(fl_wheel_next(&wh, tick_end(b) + 7 * SEC), 0);
    /* Sleeping that long misses nothing: a call before then takes none. */
    assert_int_equal(expire(&r, tick_end(b) - 1), 0);
    assert_int_equal(expire(&r, tick_end(b)), 1);
    now = tick_end(b);
    assert_int_equal(fl_wheel_next(&wh, now), tick_end(a) - now);
    fl_wheel_del(&wh, &it[0].tn);
    it[0].armed = false;
    assert_true(fl_wheel_next(&wh, now) == UINT64_MAX);

    /* In the current tick; then already past, which counts as the next tick. */
    arm(&r, &it[2], now + 1);
    assert_int_equal(fl_wheel_next(&wh, now), tick_end(now) - now);
    fl_wheel_del(&wh, &it[2].tn);
    it[2].armed = false;
    arm(&r, &it[2], now - 3 * SEC);
    assert_int_equal(fl_wheel_next(&wh, now), tick_end(now) - now);
    assert_int_equal(expire(&r, tick_end(now)), 1);
    now = tick_end(now);

    /* More than a turn ahead: its slot comes round first at tick
     * tick(at) - k turns; never later than its own tick's end. */
    uint64_t far = now + 2 * TURN + 77 * TICK + 5;
    arm(&r, &it[3], far);
    uint64_t first = (now >> FL_WHEEL_SHIFT) + ((far - now) >> FL_WHEEL_SHIFT) % FL_WHEEL_SLOTS;
    uint64_t ns = fl_wheel_next(&wh, now);
    assert_int_equal(ns, ((first + 1) << FL_WHEEL_SHIFT) - now);
    assert_true(ns > 0 && ns <= tick_end(far) - now);
    assert_int_equal(expire(&r, now + ns - 1), 0);
    assert_int_equal(expire(&r, now + ns), 0); /* woken early: not due yet */
    assert_true(fl_wheel_linked(&it[3].tn));
    fl_wheel_del(&wh, &it[3].tn);
    it[3].armed = false;
    assert_true(fl_wheel_next(&wh, now) == UINT64_MAX);
}

/* 10,000 deadlines over 20 s, `now` stepping 0..50 ms: each goes exactly
 * once, at the first call at or after its tick's end, so never before its
 * deadline and at most a tick plus a step after it. fl_wheel_next is never
 * later than the first pending tick's end, and no call before the time it
 * names takes anything. With `churn`, each step also deletes and re-arms
 * random nodes as connections do. */
static void many(bool churn)
{
    enum { N = 10000 };
    static struct item it[N];
    memset(it, 0, sizeof(it));
    uint64_t seed = churn ? 12345 : 42;
    struct fl_wheel wh;
    struct run r;
    uint64_t now = T0 + 123456;
    run_init(&r, &wh, now);
    for (int i = 0; i < N; i++)
        arm(&r, &it[i], now + splitmix64(&seed) % (20 * SEC));
    unsigned armed = N, fires = 0;
    uint64_t end = now + 26 * SEC;
    while (now < end) {
        uint64_t ns = fl_wheel_next(&wh, now), first = UINT64_MAX;
        for (int i = 0; i < N; i++)
            if (it[i].armed && tick_end(it[i].tn.at) < first)
                first = tick_end(it[i].tn.at);
        if (armed == 0)
            assert_true(ns == UINT64_MAX);
        else
            assert_true(ns <= (first > now ? first - now : 0));
        uint64_t wake = ns == UINT64_MAX ? UINT64_MAX : now + ns;
        now += splitmix64(&seed) % (50 * MS + 1);
        unsigned n = expire(&r, now);
        if (now < wake)
            assert_int_equal(n, 0);
        fires += n;
        armed -= n;
        for (int k = 0; churn && k < 20; k++) {
            struct item *c = &it[splitmix64(&seed) % N];
            if (c->armed) {
                fl_wheel_del(&wh, &c->tn);
                assert_false(fl_wheel_linked(&c->tn));
                c->armed = false;
                armed--;
            }
            if (splitmix64(&seed) % 2 && now + 5 * SEC < end - 2 * TICK) {
                arm(&r, c, now + splitmix64(&seed) % (5 * SEC));
                armed++;
            }
        }
        assert_int_equal(wh.count, armed);
    }
    assert_int_equal(armed, 0);
    assert_true(fl_wheel_next(&wh, now) == UINT64_MAX);
    if (!churn)
        assert_int_equal(fires, N);
    for (int i = 0; i < N; i++) {
        if (!churn || it[i].fired) {
            assert_int_equal(it[i].fired, 1);
            assert_true(it[i].tn.at <= it[i].fired_at);
            assert_true(tick_end(it[i].tn.at) <= it[i].fired_at);
            assert_true(it[i].prev_now < tick_end(it[i].tn.at));
            assert_true(it[i].fired_at - it[i].tn.at <= TICK + 50 * MS);
        }
    }
}

static void test_many_random(void **state)
{
    (void)state;
    many(false);
}

static void test_many_random_churn(void **state)
{
    (void)state;
    many(true);
}

/* A callback that deletes another node due in the same call, or re-adds
 * one later: the deleted one is not called, the re-added one waits for its
 * new deadline, and the others of the slot are called once each. */
struct other_run {
    struct fl_wheel *wh;
    struct fl_tnode *nodes;
    uint64_t moved_at;
    int victim, moved; /* set by the first call: the indexes it deleted and moved */
    unsigned calls[4];
};

static void other_cb(struct fl_tnode *n, void *arg)
{
    struct other_run *o = arg;
    int i = (int)(n - o->nodes);
    o->calls[i]++;
    assert_false(fl_wheel_linked(n));
    if (o->victim >= 0)
        return;
    o->victim = (i + 1) % 3; /* both still due in this call */
    o->moved = (i + 2) % 3;
    assert_true(fl_wheel_linked(&o->nodes[o->victim]));
    fl_wheel_del(o->wh, &o->nodes[o->victim]);
    fl_wheel_del(o->wh, &o->nodes[o->moved]);
    fl_wheel_add(o->wh, &o->nodes[o->moved], o->moved_at);
}

static void test_callback_touches_others(void **state)
{
    (void)state;
    struct fl_wheel wh;
    struct fl_tnode nodes[4];
    memset(nodes, 0, sizeof(nodes));
    fl_wheel_init(&wh, T0);
    uint64_t base = (T0 & ~(TICK - 1)) + TICK;
    for (int i = 0; i < 3; i++) /* three due in one tick */
        fl_wheel_add(&wh, &nodes[i], base + 1 + (uint64_t)i);
    fl_wheel_add(&wh, &nodes[3], base + 11 * TICK + 3);
    struct other_run o = {.wh = &wh, .nodes = nodes, .moved_at = base + 10 * TICK, .victim = -1};
    assert_int_equal(fl_wheel_expire(&wh, base + TICK, other_cb, &o), 1);
    for (int i = 0; i < 4; i++) /* only the first was called */
        assert_int_equal(o.calls[i], i == 3 || i == o.victim || i == o.moved ? 0u : 1u);
    assert_false(fl_wheel_linked(&nodes[o.victim]));
    assert_true(fl_wheel_linked(&nodes[o.moved]));
    assert_true(fl_wheel_linked(&nodes[3]));
    assert_int_equal(wh.count, 2);
    /* the moved node goes when its new tick has passed, the other later */
    assert_int_equal(fl_wheel_expire(&wh, base + 11 * TICK - 1, other_cb, &o), 0);
    assert_int_equal(fl_wheel_expire(&wh, base + 11 * TICK, other_cb, &o), 1);
    assert_int_equal(o.calls[o.moved], 1);
    assert_int_equal(fl_wheel_expire(&wh, base + 12 * TICK, other_cb, &o), 1);
    assert_int_equal(o.calls[3], 1);
    assert_int_equal(o.calls[o.victim], 0);
    assert_int_equal(wh.count, 0);
}

static void noop_cb(struct fl_tnode *n, void *arg)
{
    (void)n;
    (void)arg;
}

/* fl_wheel_next names exactly the first slot that still holds a node: a
 * slot emptied by a delete (head, middle or last node), by an expire or by
 * a node moved away is passed over, across the wheel's turn. */
static void test_next_after_deletes(void **state)
{
    (void)state;
    struct fl_wheel wh;
    struct fl_tnode n[6];
    memset(n, 0, sizeof(n));
    uint64_t now = T0 + 3 * MS;
    fl_wheel_init(&wh, now);
    uint64_t t1 = now + 20 * TICK, t2 = now + 300 * TICK, t3 = now + 500 * TICK;
    fl_wheel_add(&wh, &n[0], t1);
    fl_wheel_add(&wh, &n[1], t1 + 1);
    fl_wheel_add(&wh, &n[2], t1 + 2); /* three in one slot */
    fl_wheel_add(&wh, &n[3], t2);
    fl_wheel_add(&wh, &n[4], t3); /* a slot before done's, round the wheel */
    fl_wheel_add(&wh, &n[5], now + 2 * TURN + 20 * TICK); /* t1's slot, two turns on */
    assert_int_equal(fl_wheel_next(&wh, now), tick_end(t1) - now);
    fl_wheel_del(&wh, &n[1]); /* middle, then head, then last */
    fl_wheel_del(&wh, &n[2]);
    fl_wheel_del(&wh, &n[0]);
    /* n[5] still holds t1's slot: next names that slot's tick this turn */
    assert_int_equal(fl_wheel_next(&wh, now), tick_end(t1) - now);
    fl_wheel_del(&wh, &n[5]);
    assert_int_equal(fl_wheel_next(&wh, now), tick_end(t2) - now);
    fl_wheel_del(&wh, &n[3]);
    assert_int_equal(fl_wheel_next(&wh, now), tick_end(t3) - now);
    fl_wheel_del(&wh, &n[4]);
    assert_true(fl_wheel_next(&wh, now) == UINT64_MAX);
    /* expired slots are passed over too */
    fl_wheel_add(&wh, &n[0], t1);
    fl_wheel_add(&wh, &n[3], t2);
    unsigned got = fl_wheel_expire(&wh, tick_end(t1), noop_cb, NULL);
    assert_int_equal(got, 1);
    assert_int_equal(fl_wheel_next(&wh, tick_end(t1)), tick_end(t2) - tick_end(t1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expires_when_tick_passed),
        cmocka_unit_test(test_del),
        cmocka_unit_test(test_past_deadline),
        cmocka_unit_test(test_beyond_one_turn),
        cmocka_unit_test(test_long_sleep),
        cmocka_unit_test(test_readd_in_callback),
        cmocka_unit_test(test_callback_touches_others),
        cmocka_unit_test(test_next_after_deletes),
        cmocka_unit_test(test_next),
        cmocka_unit_test(test_many_random),
        cmocka_unit_test(test_many_random_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
