/* test_steal.c — the job units of lib/common/steal.h: every unit is taken exactly once, owners
 * take their own range front to back, and a thread whose range is empty takes a stalled
 * thread's units from the back. Run on the real pool (pool.h), as the forward pass does. */
#include "pool.h"
#include "steal.h"

#include <stdatomic.h>

#include "check.h"

enum { MAX_N = 4, MAX_UNITS = 20000 };

typedef struct job {
    sl_steal s;
    int units;
    _Atomic int taken[MAX_UNITS]; /* times each unit was taken */
    _Atomic int misordered;       /* an owner's unit below one it took before */
    _Atomic int stolen;           /* units taken from another's range */
    int count[MAX_N];             /* units each thread ran: each written by its thread only */
    /* The stalled case: thread 1 takes one unit, then waits until thread 0 has found every
     * range empty; thread 0 starts once thread 1 has its unit. */
    int stall;
    _Atomic int one_started, zero_done;
} job;

static void deal(job *j, int n, int units) {
    j->units = units;
    sl_steal_init(&j->s, n);
    for (int h = 0; h < n; h++) sl_steal_set(&j->s, h, (uint32_t)((long)units * h / n), (uint32_t)((long)units * (h + 1) / n));
    for (int u = 0; u < units; u++) atomic_init(&j->taken[u], 0);
    atomic_init(&j->misordered, 0);
    atomic_init(&j->stolen, 0);
    atomic_init(&j->one_started, 0);
    atomic_init(&j->zero_done, 0);
    memset(j->count, 0, sizeof j->count);
}

static void job_fn(void *ctx, int i, int n) {
    job *j = ctx;
    long u, last_own = -1;
    int owner;
    if (j->stall && i == 0)
        while (!atomic_load(&j->one_started)) {
        }
    while ((u = sl_steal_next(&j->s, i, &owner)) >= 0) {
        if (u >= j->units) break; /* reported below as a unit never taken */
        atomic_fetch_add(&j->taken[u], 1);
        j->count[i]++;
        if (owner == i) {
            if (u <= last_own) atomic_fetch_add(&j->misordered, 1);
            last_own = u;
        } else {
            atomic_fetch_add(&j->stolen, 1);
        }
        if (j->stall && i == 1) {
            atomic_store(&j->one_started, 1);
            while (!atomic_load(&j->zero_done)) {
            }
        }
    }
    if (j->stall && i == 0) atomic_store(&j->zero_done, 1);
    (void)n;
}

static int units_taken_once(job *j) {
    int bad = 0;
    for (int u = 0; u < j->units; u++) bad += atomic_load(&j->taken[u]) != 1;
    return bad;
}

TEST(every_unit_taken_once_owners_in_order) {
    static job j;
    for (int n = 1; n <= MAX_N; n++) {
        sl_pool *p;
        CHECK(sl_pool_init(&p, n) == 0);
        int sizes[] = {0, 1, 3, 64, 1000, MAX_UNITS};
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            for (int rep = 0; rep < 20; rep++) {
                deal(&j, n, sizes[k]);
                sl_pool_run(p, job_fn, &j);
                int bad = units_taken_once(&j), sum = 0;
                for (int i = 0; i < n; i++) sum += j.count[i];
                CHECKF(bad == 0 && sum == sizes[k], "n %d, %d units: %d taken other than once, %d runs", n, sizes[k], bad, sum);
                CHECKF(atomic_load(&j.misordered) == 0, "n %d, %d units: an owner took its range out of order", n, sizes[k]);
            }
        }
        sl_pool_free(p);
    }
}

TEST(a_stalled_threads_units_go_to_the_free_one) {
    static job j;
    sl_pool *p;
    CHECK(sl_pool_init(&p, 2) == 0);
    deal(&j, 2, 40);
    j.stall = 1;
    sl_pool_run(p, job_fn, &j);
    /* Thread 1 took its first unit (20) and stalled; thread 0 ran its own 20, then 39 down to 21. */
    CHECK(units_taken_once(&j) == 0);
    CHECKF(j.count[0] == 39 && j.count[1] == 1, "thread 0 ran %d units, thread 1 %d (want 39 and 1)", j.count[0], j.count[1]);
    CHECK(atomic_load(&j.stolen) == 19);
    CHECK(atomic_load(&j.taken[20]) == 1);
    sl_pool_free(p);
}

TEST(empty_ranges_and_one_thread) {
    sl_steal s;
    int owner = -1;
    sl_steal_init(&s, 3);
    CHECK(sl_steal_next(&s, 0, &owner) == -1);
    sl_steal_set(&s, 2, 5, 7);
    CHECK(sl_steal_next(&s, 0, &owner) == 6 && owner == 2); /* from the back of another's range */
    CHECK(sl_steal_next(&s, 2, &owner) == 5 && owner == 2); /* from the front of one's own */
    CHECK(sl_steal_next(&s, 1, &owner) == -1);
    sl_steal_init(&s, 1);
    sl_steal_set(&s, 0, 0, 2);
    CHECK(sl_steal_next(&s, 0, &owner) == 0 && sl_steal_next(&s, 0, &owner) == 1 && sl_steal_next(&s, 0, &owner) == -1);
}

int main(void) {
    RUN(every_unit_taken_once_owners_in_order);
    RUN(a_stalled_threads_units_go_to_the_free_one);
    RUN(empty_ranges_and_one_thread);
    return check_summary();
}
