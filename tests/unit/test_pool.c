/* test_pool.c — the step's thread pool (lib/common/pool.h): every index of every job runs once,
 * the caller sees what the workers wrote, and no hand-off is lost whichever side sleeps: workers
 * left idle past the spin (they sleep on the condition variable), a caller that waits past the
 * spin for a slow worker (it sleeps), and a pool freed with its workers asleep or spinning. */
#include "pool.h"

#include <stdatomic.h>
#include <time.h>

#include "check.h"

enum { MAX_N = 4 };

typedef struct job {
    int n_seen;            /* the n each call got */
    int runs[MAX_N];       /* calls per index: plain ints, each written by one thread */
    long value[MAX_N];     /* what each index wrote this run */
    long round;
    int slow_us;           /* indexes > 0 sleep this long first (the caller then sleeps too) */
} job;

static void sleep_us(int us) {
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void job_fn(void *ctx, int i, int n) {
    job *j = ctx;
    if (i > 0 && j->slow_us) sleep_us(j->slow_us);
    if (i == 0) j->n_seen = n;
    j->runs[i]++;
    j->value[i] = j->round * 10 + i;
}

/* ROUNDS jobs on a pool of N; IDLE_US between jobs (0: back to back). */
static int run_rounds(sl_pool *p, int n, int rounds, int idle_us, int slow_us) {
    job j = {.slow_us = slow_us};
    int bad = 0;
    for (int r = 0; r < rounds; r++) {
        j.round = r;
        sl_pool_run(p, job_fn, &j);
        if (j.n_seen != n) bad++;
        for (int i = 0; i < n; i++)
            if (j.runs[i] != r + 1 || j.value[i] != (long)r * 10 + i) bad++;
        if (idle_us) sleep_us(idle_us);
    }
    return bad;
}

TEST(every_index_once_and_its_writes_seen) {
    for (int n = 1; n <= MAX_N; n++) {
        sl_pool *p;
        CHECK(sl_pool_init(&p, n) == 0);
        CHECK(sl_pool_size(p) == n);
        int rounds = n <= 2 ? 20000 : 1000; /* more threads than CI's 2 cores: each hand-off waits for a time slice */
        int bad = run_rounds(p, n, rounds, 0, 0);
        CHECKF(bad == 0, "n %d: %d wrong counts or values in %d back-to-back jobs", n, bad, rounds);
        sl_pool_free(p);
    }
}

/* 200 us between jobs: past the 50 us spin, so the workers sleep and each job wakes them. */
TEST(sleeping_workers_are_woken) {
    for (int n = 2; n <= MAX_N; n++) {
        sl_pool *p;
        CHECK(sl_pool_init(&p, n) == 0);
        int bad = run_rounds(p, n, 300, 200, 0);
        CHECKF(bad == 0, "n %d: %d wrong counts or values in jobs after idle gaps", n, bad);
        sl_pool_free(p);
    }
}

/* Workers that take 300 us: the caller stops spinning and sleeps until the last one is done. */
TEST(a_sleeping_caller_is_woken) {
    for (int n = 2; n <= MAX_N; n++) {
        sl_pool *p;
        CHECK(sl_pool_init(&p, n) == 0);
        int bad = run_rounds(p, n, 200, 0, 300);
        CHECKF(bad == 0, "n %d: %d wrong counts or values with slow workers", n, bad);
        bad = run_rounds(p, n, 100, 120, 120); /* both sides around the spin's length */
        CHECKF(bad == 0, "n %d: %d wrong with both sides near the spin", n, bad);
        sl_pool_free(p);
    }
}

/* Freed at once (workers spinning), after a job, and after an idle gap (workers asleep). */
TEST(free_with_workers_spinning_or_asleep) {
    for (int k = 0; k < 50; k++) {
        sl_pool *p;
        CHECK(sl_pool_init(&p, 1 + k % MAX_N) == 0);
        if (k % 3 >= 1) CHECK(run_rounds(p, 1 + k % MAX_N, 3, 0, 0) == 0);
        if (k % 3 == 2) sleep_us(200);
        sl_pool_free(p);
    }
    sl_pool_free(NULL);
}

int main(void) {
    RUN(every_index_once_and_its_writes_seen);
    RUN(sleeping_workers_are_woken);
    RUN(a_sleeping_caller_is_woken);
    RUN(free_with_workers_spinning_or_asleep);
    return check_summary();
}
