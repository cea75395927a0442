/* stress_deque.c - every task runs exactly once under concurrency (deque.h).
 *
 * One owner thread pushes N tasks (ids 0..N-1; items point into a
 * preallocated array) in random bursts with fl_deque_push_or_overflow,
 * popping and running some itself between bursts; 3 thieves run tasks from
 * their own deques, from the injector (pop_batch) and by steal_half from a
 * random other worker, so thieves steal from each other as well. Small
 * deques (32 slots) make overflow, wrap-around and last-item races frequent.
 * Checks: each task's run counter ends at exactly 1 and the ids sum to
 * N(N-1)/2. A watchdog turns a lost task (which would otherwise hang the
 * run) into a failure after a deadline.
 *
 * The owner writes each task's id (a plain store) just before pushing it and
 * the runner reads it plainly, so under ThreadSanitizer a missing
 * release/acquire edge between push and pop/steal shows up as a data race.
 *
 * usage: stress_deque [N [ROUNDS]]   (defaults 1000000 tasks, 5 rounds:
 * about 0.2 s a round at -O2 and 1.5 s under TSan on 2 cores, so TSan needs
 * no reduced count). Rounds repeat the whole scenario with fresh seeds,
 * because the rare interleavings (a lost last-item race) do not occur in
 * every round. Exit 0 on success, 1 on failure; a line per round and a
 * summary line. */
#include "deque.h"

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NTHIEVES 3
#define NWORKERS (1 + NTHIEVES)
#define DEQUE_CAP 32
#define DEADLINE_S 240
#define IDLE_SPINS 64 /* failed find_work rounds before an idle worker yields */
#define WORK_ITERS 16 /* busy-work steps per task per (id % 8) */

struct worker {
    struct fl_deque dq;
    int id;
    uint64_t rng;
    uint64_t sum;  /* ids this worker ran */
    uint64_t sink; /* busy-work result, kept so it is not optimised out */
    unsigned long ran, popped, stolen, steals, injected, overflows, lost;
    char pad[64];
};

static size_t ntasks;
static uint32_t *ids;
static atomic_uint *runs;
static _Atomic size_t done;
static atomic_bool give_up;
static struct fl_injector inj;
static struct worker workers[NWORKERS];

static uint64_t rnd(struct worker *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

/* Runs a task: a few hundred ns of busy work (varying with the id) so the
 * thieves overlap the owner for the whole run instead of mostly finding the
 * owner's deque already drained. */
static void run(struct worker *w, void *item)
{
    uint32_t id = *(uint32_t *)item;
    if (id >= ntasks || item != &ids[id]) {
        fprintf(stderr, "stress_deque: task %p has id %" PRIu32 ": ran before its push\n", item,
                id);
        abort();
    }
    uint64_t x = id | 1;
    for (unsigned k = 0; k < WORK_ITERS * (id % 8); k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    w->sink += x;
    atomic_fetch_add_explicit(&runs[id], 1, memory_order_relaxed);
    w->sum += id;
    w->ran++;
    atomic_fetch_add_explicit(&done, 1, memory_order_relaxed);
}

static void *from_injector(struct worker *w)
{
    unsigned moved = 0;
    void *x = fl_injector_pop_batch(&inj, &w->dq, DEQUE_CAP / 2, &moved);
    w->injected += moved;
    return x;
}

static void *from_victim(struct worker *w)
{
    unsigned moved = 0;
    int v = (int)(rnd(w) % (NWORKERS - 1));
    v += v >= w->id;
    void *x = fl_deque_steal_half(&workers[v].dq, &w->dq, &moved);
    if (x && (moved < 1 || moved > DEQUE_CAP / 2 + 1)) {
        fprintf(stderr, "stress_deque: steal_half moved %u\n", moved);
        abort();
    }
    w->steals += x != NULL;
    w->stolen += moved;
    return x;
}

/* One scheduling step: own deque, then injector and a random victim in a
 * random order (injector-first alone would leave few steals to test).
 * false if nothing was found. */
static bool find_work(struct worker *w)
{
    void *x = fl_deque_pop(&w->dq);
    if (x) {
        w->popped++;
    } else if (rnd(w) & 1) {
        if (!(x = from_injector(w)))
            x = from_victim(w);
    } else {
        if (!(x = from_victim(w)))
            x = from_injector(w);
    }
    if (!x)
        return false;
    run(w, x);
    return true;
}

/* Runs tasks until all have run. An idle worker retries at once and yields
 * the CPU only after IDLE_SPINS misses in a row: steal attempts then keep
 * hitting the owner's deque while it is near empty (the racy case), yet
 * 4 threads on 2 cores still let the owner run. */
static void drain(struct worker *w)
{
    unsigned misses = 0;
    while (atomic_load_explicit(&done, memory_order_relaxed) < ntasks &&
           !atomic_load_explicit(&give_up, memory_order_relaxed)) {
        if (find_work(w))
            misses = 0;
        else if (++misses % IDLE_SPINS == 0)
            sched_yield();
    }
}

static void owner_push(struct worker *w, size_t i)
{
    ids[i] = (uint32_t)i; /* plain write, published by the push */
    int rc = fl_deque_push_or_overflow(&w->dq, &ids[i], &inj);
    if (rc < 0) {
        fprintf(stderr, "stress_deque: fl_deque_push_or_overflow: out of memory\n");
        abort();
    }
    w->overflows += rc > 0;
}

/* Pops up to `n` of its own tasks and runs them. */
static void owner_pops(struct worker *w, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        bool had = fl_deque_len(&w->dq) > 0;
        void *x = fl_deque_pop(&w->dq);
        w->lost += had && !x; /* thieves emptied it between the two calls */
        if (!x)
            break;
        w->popped++;
        run(w, x);
    }
}

/* Phases of 4096 tasks alternate at random between bursts of 1..64 pushes
 * and 0..47 pops (the 32-slot deque overflows to the injector) and bursts
 * of 1..4 pushes and pops (the deque hovers around empty, so the owner's
 * pop races the thieves for the last item). */
static void *owner_main(void *arg)
{
    struct worker *w = arg;
    size_t i = 0, push_max = 64, pop_max = 48;
    while (i < ntasks) {
        if (i % 4096 == 0) {
            bool small = rnd(w) & 1;
            push_max = small ? 4 : 64;
            pop_max = small ? 5 : 48;
        }
        size_t burst = 1 + rnd(w) % push_max;
        for (size_t k = 0; k < burst && i < ntasks; k++)
            owner_push(w, i++);
        owner_pops(w, rnd(w) % pop_max);
    }
    drain(w);
    return NULL;
}

static void *thief_main(void *arg)
{
    drain(arg);
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int setup(void)
{
    ids = malloc(ntasks * sizeof(*ids));
    runs = malloc(ntasks * sizeof(*runs));
    if (!ids || !runs || fl_injector_init(&inj, 0) != 0)
        return -1;
    for (int i = 0; i < NWORKERS; i++) {
        if (fl_deque_init(&workers[i].dq, DEQUE_CAP) != 0)
            return -1;
    }
    return 0;
}

/* Fresh ids, counters and statistics for round `r`; the queues are empty. */
static void reset(int r)
{
    for (size_t i = 0; i < ntasks; i++) {
        ids[i] = UINT32_MAX; /* the owner writes the real id at push time */
        atomic_init(&runs[i], 0);
    }
    atomic_store(&done, 0);
    for (int i = 0; i < NWORKERS; i++) {
        struct worker *w = &workers[i];
        struct fl_deque dq = w->dq;
        memset(w, 0, sizeof(*w));
        w->dq = dq;
        w->id = i;
        w->rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1 + NWORKERS * r) ^ (uint64_t)time(NULL);
    }
}

/* Joins the workers, giving up (and failing) after DEADLINE_S seconds. */
static bool wait_all(pthread_t *th, double t0)
{
    bool timed_out = false;
    while (atomic_load(&done) < ntasks && !timed_out) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        timed_out = now() - t0 > DEADLINE_S;
    }
    if (timed_out)
        atomic_store(&give_up, true);
    for (int i = 0; i < NWORKERS; i++)
        pthread_join(th[i], NULL);
    return !timed_out;
}

static bool check(int r, double secs, bool finished)
{
    size_t bad = 0, first_bad = 0;
    for (size_t i = 0; i < ntasks; i++) {
        if (atomic_load_explicit(&runs[i], memory_order_relaxed) != 1 && bad++ == 0)
            first_bad = i;
    }
    struct worker tot = {0};
    for (int i = 0; i < NWORKERS; i++) {
        struct worker *w = &workers[i];
        tot.sum += w->sum, tot.ran += w->ran, tot.popped += w->popped;
        tot.stolen += w->stolen, tot.steals += w->steals;
        tot.injected += w->injected, tot.overflows += w->overflows;
    }
    uint64_t want = (uint64_t)ntasks * (ntasks - 1) / 2;
    bool ok =
        finished && bad == 0 && tot.sum == want && tot.ran == ntasks && fl_injector_len(&inj) == 0;
    printf("stress_deque: round %d %s: %zu tasks, %d threads, %.2f s: ran %lu (owner %lu), "
           "local pops %lu, steals %lu moving %lu, overflows %lu, from injector %lu, "
           "owner pops lost to thieves %lu, ids not run once %zu, id sum %s%s\n",
           r, ok ? "ok" : "FAIL", ntasks, NWORKERS, secs, tot.ran, workers[0].ran, tot.popped,
           tot.steals, tot.stolen, tot.overflows, tot.injected, workers[0].lost, bad,
           tot.sum == want ? "ok" : "WRONG", finished ? "" : ", TIMED OUT");
    if (bad)
        printf("stress_deque: id %zu ran %u times\n", first_bad, atomic_load(&runs[first_bad]));
    return ok;
}

static bool round_run(int r)
{
    pthread_t th[NWORKERS];
    reset(r);
    double t0 = now();
    for (int i = 0; i < NWORKERS; i++) {
        int rc = pthread_create(&th[i], NULL, i == 0 ? owner_main : thief_main, &workers[i]);
        if (rc != 0) {
            fprintf(stderr, "stress_deque: pthread_create: %s\n", strerror(rc));
            exit(1);
        }
    }
    bool finished = wait_all(th, t0);
    return check(r, now() - t0, finished);
}

static unsigned long arg(int argc, char **argv, int i, unsigned long dflt, unsigned long max)
{
    if (argc <= i)
        return dflt;
    char *end;
    unsigned long v = strtoul(argv[i], &end, 10);
    if (*end || v < 1 || v > max) {
        fprintf(stderr, "stress_deque: bad argument '%s' (1..%lu)\n", argv[i], max);
        exit(1);
    }
    return v;
}

int main(int argc, char **argv)
{
    ntasks = arg(argc, argv, 1, 1000000, UINT32_MAX - 1);
    int rounds = (int)arg(argc, argv, 2, 5, 1000);
    if (setup() != 0) {
        fprintf(stderr, "stress_deque: setup: out of memory\n");
        return 1;
    }
    double t0 = now();
    int failed = 0;
    for (int r = 1; r <= rounds && !atomic_load(&give_up); r++)
        failed += !round_run(r);
    printf("stress_deque: %s: %d rounds of %zu tasks in %.2f s, %d failed\n",
           failed ? "FAIL" : "ok", rounds, ntasks, now() - t0, failed);
    for (int i = 0; i < NWORKERS; i++)
        fl_deque_destroy(&workers[i].dq);
    fl_injector_destroy(&inj);
    free(runs);
    free(ids);
    return failed ? 1 : 0;
}
