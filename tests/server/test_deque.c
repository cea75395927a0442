/* test_deque.c - single-threaded contract of the ws task queues (deque.h):
 * owner LIFO, thief FIFO, fixed capacity with wrap-around, overflow of the
 * older half to the injector, steal_half counts, injector FIFO and growth,
 * empty cases and init errors. Concurrency is stress_deque.c's job. */
#include "deque.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#define NITEMS 4096

/* Items are pointers into this array, so an item's index is its identity. */
static int items[NITEMS];

#define IT(i) ((void *)&items[(i)])
#define ID(p) ((int)((int *)(p)-items))

static void fill(struct fl_deque *d, int from, int to)
{
    for (int i = from; i < to; i++)
        assert_true(fl_deque_push(d, IT(i)));
}

static void test_init_errors(void **state)
{
    (void)state;
    struct fl_deque d;
    assert_int_equal(fl_deque_init(&d, 3), -EINVAL);
    assert_int_equal(fl_deque_init(&d, 1), -EINVAL);
    assert_int_equal(fl_deque_init(&d, (size_t)FL_DEQUE_MAX_CAP * 2), -EINVAL);
    assert_int_equal(fl_deque_init(&d, 0), 0);
    assert_int_equal(fl_deque_capacity(&d), FL_DEQUE_DEFAULT_CAP);
    fl_deque_destroy(&d);
    struct fl_injector q;
    assert_int_equal(fl_injector_init(&q, SIZE_MAX), -EINVAL);
    assert_int_equal(fl_injector_init(&q, 0), 0);
    fl_injector_destroy(&q);
}

static void test_empty(void **state)
{
    (void)state;
    struct fl_deque d, into;
    struct fl_injector q;
    assert_int_equal(fl_deque_init(&d, 8), 0);
    assert_int_equal(fl_deque_init(&into, 8), 0);
    assert_int_equal(fl_injector_init(&q, 4), 0);
    unsigned moved = 99;
    assert_null(fl_deque_pop(&d));
    assert_null(fl_deque_steal(&d));
    assert_null(fl_deque_steal_half(&d, &into, &moved));
    assert_int_equal(moved, 0);
    assert_null(fl_injector_pop(&q));
    moved = 99;
    assert_null(fl_injector_pop_batch(&q, &into, 8, &moved));
    assert_int_equal(moved, 0);
    /* Emptied again after use, and pop on empty leaves the indices sane. */
    fill(&d, 0, 2);
    assert_ptr_equal(fl_deque_pop(&d), IT(1));
    assert_ptr_equal(fl_deque_steal(&d), IT(0));
    assert_null(fl_deque_pop(&d));
    assert_null(fl_deque_steal(&d));
    assert_int_equal(fl_deque_len(&d), 0);
    fill(&d, 2, 3);
    assert_ptr_equal(fl_deque_pop(&d), IT(2));
    assert_null(fl_deque_pop(&d));
    fl_injector_destroy(&q);
    fl_deque_destroy(&into);
    fl_deque_destroy(&d);
}

static void test_owner_lifo_thief_fifo(void **state)
{
    (void)state;
    struct fl_deque d;
    assert_int_equal(fl_deque_init(&d, 16), 0);
    fill(&d, 0, 10);
    assert_int_equal(fl_deque_len(&d), 10);
    for (int i = 9; i >= 5; i--)
        assert_ptr_equal(fl_deque_pop(&d), IT(i));
    for (int i = 0; i < 5; i++)
        assert_ptr_equal(fl_deque_steal(&d), IT(i));
    assert_int_equal(fl_deque_len(&d), 0);
    fl_deque_destroy(&d);
}

/* Full at exactly cap items; space freed at either end is reusable, and the
 * order survives the indices wrapping around the slot array many times. */
static void test_full_and_wraparound(void **state)
{
    (void)state;
    struct fl_deque d;
    assert_int_equal(fl_deque_init(&d, 8), 0);
    fill(&d, 0, 8);
    assert_false(fl_deque_push(&d, IT(8)));
    assert_int_equal(fl_deque_len(&d), 8);
    assert_ptr_equal(fl_deque_steal(&d), IT(0));
    assert_true(fl_deque_push(&d, IT(8)));
    assert_false(fl_deque_push(&d, IT(9)));
    assert_ptr_equal(fl_deque_pop(&d), IT(8));
    assert_true(fl_deque_push(&d, IT(9)));
    /* Now queue = 1..7, 9. Run 1000 rounds of steal-one, push-one. */
    int next_steal = 1, next_push = 10;
    for (int r = 0; r < 1000; r++) {
        void *x = fl_deque_steal(&d);
        int want = next_steal == 8 ? 9 : next_steal;
        assert_ptr_equal(x, IT(want));
        next_steal = want + 1;
        assert_true(fl_deque_push(&d, IT(next_push++)));
        assert_false(fl_deque_push(&d, IT(0)));
    }
    for (int i = next_push - 1; i >= next_steal; i--)
        assert_ptr_equal(fl_deque_pop(&d), IT(i));
    assert_null(fl_deque_pop(&d));
    fl_deque_destroy(&d);
}

static void test_overflow_moves_half(void **state)
{
    (void)state;
    struct fl_deque d;
    struct fl_injector q;
    assert_int_equal(fl_deque_init(&d, 8), 0);
    assert_int_equal(fl_injector_init(&q, 2), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(fl_deque_push_or_overflow(&d, IT(i), &q), 0);
    assert_int_equal(fl_injector_len(&q), 0);
    /* Full: the 4 oldest and then the new item go to the injector. */
    assert_int_equal(fl_deque_push_or_overflow(&d, IT(8), &q), 5);
    assert_int_equal(fl_injector_len(&q), 5);
    assert_int_equal(fl_deque_len(&d), 4);
    const int inj[] = {0, 1, 2, 3, 8};
    for (int i = 0; i < 5; i++)
        assert_ptr_equal(fl_injector_pop(&q), IT(inj[i]));
    assert_null(fl_injector_pop(&q));
    /* Room again: the next push stays local. */
    assert_int_equal(fl_deque_push_or_overflow(&d, IT(9), &q), 0);
    const int loc[] = {9, 7, 6, 5, 4};
    for (int i = 0; i < 5; i++)
        assert_ptr_equal(fl_deque_pop(&d), IT(loc[i]));
    assert_null(fl_deque_pop(&d));
    fl_injector_destroy(&q);
    fl_deque_destroy(&d);
}

/* n items: steal_half takes ceil(n/2), returns the oldest, and puts the
 * next ones into `into` in age order; the victim keeps the newest. */
static void test_steal_half_counts(void **state)
{
    (void)state;
    for (int n = 1; n <= 33; n++) {
        struct fl_deque v, into;
        assert_int_equal(fl_deque_init(&v, 64), 0);
        assert_int_equal(fl_deque_init(&into, 64), 0);
        fill(&v, 0, n);
        unsigned moved = 0;
        assert_ptr_equal(fl_deque_steal_half(&v, &into, &moved), IT(0));
        int want = (n + 1) / 2;
        assert_int_equal(moved, want);
        assert_int_equal(fl_deque_len(&into), want - 1);
        assert_int_equal(fl_deque_len(&v), n - want);
        for (int i = 1; i < want; i++)
            assert_ptr_equal(fl_deque_steal(&into), IT(i));
        for (int i = n - 1; i >= want; i--)
            assert_ptr_equal(fl_deque_pop(&v), IT(i));
        assert_null(fl_deque_pop(&v));
        assert_null(fl_deque_pop(&into));
        fl_deque_destroy(&into);
        fl_deque_destroy(&v);
    }
}

/* The thief's deque is never overfilled: it takes at most room + 1. */
static void test_steal_half_limited_by_room(void **state)
{
    (void)state;
    struct fl_deque v, into;
    assert_int_equal(fl_deque_init(&v, 64), 0);
    assert_int_equal(fl_deque_init(&into, 4), 0);
    fill(&v, 0, 40);
    fill(&into, 100, 103);
    unsigned moved = 0;
    assert_ptr_equal(fl_deque_steal_half(&v, &into, &moved), IT(0));
    assert_int_equal(moved, 2);
    assert_int_equal(fl_deque_len(&into), 4);
    assert_ptr_equal(fl_deque_pop(&into), IT(1));
    assert_int_equal(fl_deque_len(&v), 38);
    assert_ptr_equal(fl_deque_steal(&v), IT(2));
    /* A full `into` still lets the thief take one to run. */
    assert_true(fl_deque_push(&into, IT(1)));
    assert_ptr_equal(fl_deque_steal_half(&v, &into, &moved), IT(3));
    assert_int_equal(moved, 1);
    assert_ptr_equal(fl_deque_steal_half(&v, &into, NULL), IT(4));
    fl_deque_destroy(&into);
    fl_deque_destroy(&v);
}

/* FIFO across many doublings from 1 slot, with the ring's head wrapped
 * (pops interleaved) at the moment it grows; push_batch keeps order. */
static void test_injector_fifo_growth(void **state)
{
    (void)state;
    struct fl_injector q;
    assert_int_equal(fl_injector_init(&q, 1), 0);
    int next_pop = 0, next_push = 0;
    while (next_push < NITEMS - 64) {
        for (int i = 0; i < 3; i++)
            assert_int_equal(fl_injector_push(&q, IT(next_push++)), 0);
        assert_ptr_equal(fl_injector_pop(&q), IT(next_pop++));
        assert_int_equal(fl_injector_len(&q), next_push - next_pop);
    }
    void *batch[64];
    for (int i = 0; i < 64; i++)
        batch[i] = IT(next_push + i);
    assert_int_equal(fl_injector_push_batch(&q, batch, 64), 0);
    assert_int_equal(fl_injector_push_batch(&q, batch, 0), 0);
    next_push += 64;
    assert_true(q.cap >= (size_t)(next_push - next_pop));
    while (next_pop < next_push)
        assert_ptr_equal(fl_injector_pop(&q), IT(next_pop++));
    assert_null(fl_injector_pop(&q));
    assert_int_equal(fl_injector_len(&q), 0);
    fl_injector_destroy(&q);
}

static void test_injector_pop_batch(void **state)
{
    (void)state;
    struct fl_injector q;
    struct fl_deque into;
    assert_int_equal(fl_injector_init(&q, 4), 0);
    assert_int_equal(fl_deque_init(&into, 4), 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(fl_injector_push(&q, IT(i)), 0);
    unsigned moved = 0;
    assert_ptr_equal(fl_injector_pop_batch(&q, &into, 3, &moved), IT(0));
    assert_int_equal(moved, 3);
    assert_int_equal(fl_injector_len(&q), 17);
    assert_ptr_equal(fl_deque_steal(&into), IT(1));
    assert_ptr_equal(fl_deque_steal(&into), IT(2));
    /* Room for 4 in `into`: takes 5 although 10 were asked for. */
    assert_ptr_equal(fl_injector_pop_batch(&q, &into, 10, &moved), IT(3));
    assert_int_equal(moved, 5);
    assert_int_equal(fl_deque_len(&into), 4);
    for (int i = 7; i >= 4; i--)
        assert_ptr_equal(fl_deque_pop(&into), IT(i));
    /* max 0 counts as 1; fewer left than asked takes what is there. */
    assert_ptr_equal(fl_injector_pop_batch(&q, &into, 0, &moved), IT(8));
    assert_int_equal(moved, 1);
    assert_int_equal(fl_deque_len(&into), 0);
    for (int i = 9; i < 18; i++)
        assert_ptr_equal(fl_injector_pop(&q), IT(i));
    assert_ptr_equal(fl_injector_pop_batch(&q, &into, 4, &moved), IT(18));
    assert_int_equal(moved, 2);
    assert_ptr_equal(fl_deque_pop(&into), IT(19));
    assert_int_equal(fl_injector_len(&q), 0);
    fl_deque_destroy(&into);
    fl_injector_destroy(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_errors),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_owner_lifo_thief_fifo),
        cmocka_unit_test(test_full_and_wraparound),
        cmocka_unit_test(test_overflow_moves_half),
        cmocka_unit_test(test_steal_half_counts),
        cmocka_unit_test(test_steal_half_limited_by_room),
        cmocka_unit_test(test_injector_fifo_growth),
        cmocka_unit_test(test_injector_pop_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
