/* steal.h — the units of one pool job (pool.h), dealt to its threads up front and rebalanced
 * at the end: thread i owns a contiguous range of units and takes them from its front; a
 * thread whose range is empty takes the last unit of the fullest other range.
 *
 * Why: the step's phases used to end when the slowest thread's fixed share was done. On a
 * shared VM one vCPU often runs 15-20% slower than the other for seconds at a time (a noisy
 * neighbour, host interrupts), and the fast thread then spun at the barrier. A unit's result
 * never depends on the thread that computes it (a GEMM column, an adapter row: gemm.h,
 * lowrank.h), so taking units across ranges changes timing only, never a bit. Owners keep the
 * front of their range, so their memory streams stay in order; thieves take from the back.
 *
 * A range is one 64-bit word, lo in the low half and hi in the high half, changed by
 * compare-and-swap only: a unit is taken exactly once, by its owner or by one thief. */
#ifndef SL_STEAL_H
#define SL_STEAL_H

#include <stdatomic.h>
#include <stdint.h>

enum { SL_STEAL_MAX = 64 };

/* One range per 64 bytes: each owner compare-and-swaps its own range once per unit, and with
 * 8 ranges to a cache line every take would invalidate the line under 7 other threads (on a
 * many-core machine, a miss per unit for each of them). Two 8-byte words 64 bytes apart are
 * never in one line, whatever the struct's alignment (heap blocks are only 16-byte aligned). */
typedef struct sl_steal_range {
    _Atomic uint64_t v; /* units [lo, hi): lo in the low half, hi in the high half */
    char pad[64 - sizeof(uint64_t)];
} sl_steal_range;

typedef struct sl_steal {
    int n;
    char pad[64 - sizeof(int)]; /* N and what precedes the struct stay off range 0's line */
    sl_steal_range range[SL_STEAL_MAX]; /* thread i's */
} sl_steal;

static inline uint64_t sl__steal_pack(uint32_t lo, uint32_t hi) { return (uint64_t)hi << 32 | lo; }

/* N ranges (N <= SL_STEAL_MAX), all empty; then sl_steal_set each. Before the job starts. */
static inline void sl_steal_init(sl_steal *s, int n) {
    s->n = n;
    for (int i = 0; i < n; i++) atomic_init(&s->range[i].v, 0);
}

/* Thread I owns units [LO, HI). */
static inline void sl_steal_set(sl_steal *s, int i, uint32_t lo, uint32_t hi) {
    atomic_store_explicit(&s->range[i].v, sl__steal_pack(lo, hi), memory_order_relaxed);
}

/* The next unit for thread I: the front of its own range, else the back of the other range
 * with the most units left; -1 when every range is empty. *OWNER: whose range it came from. */
static inline long sl_steal_next(sl_steal *s, int i, int *owner) {
    uint64_t v = atomic_load_explicit(&s->range[i].v, memory_order_relaxed);
    for (;;) {
        uint32_t lo = (uint32_t)v, hi = (uint32_t)(v >> 32);
        if (lo >= hi) break;
        if (atomic_compare_exchange_weak_explicit(&s->range[i].v, &v, sl__steal_pack(lo + 1, hi), memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *owner = i;
            return (long)lo;
        }
    }
    for (;;) {
        int victim = -1;
        uint32_t most = 0;
        uint64_t vv = 0;
        for (int k = 0; k < s->n; k++) {
            if (k == i) continue;
            uint64_t w = atomic_load_explicit(&s->range[k].v, memory_order_relaxed);
            uint32_t lo = (uint32_t)w, hi = (uint32_t)(w >> 32);
            if (lo < hi && hi - lo > most) most = hi - lo, victim = k, vv = w;
        }
        if (victim < 0) return -1;
        uint32_t lo = (uint32_t)vv, hi = (uint32_t)(vv >> 32);
        if (atomic_compare_exchange_strong_explicit(&s->range[victim].v, &vv, sl__steal_pack(lo, hi - 1),
                                                    memory_order_relaxed, memory_order_relaxed)) {
            *owner = victim;
            return (long)(hi - 1);
        }
        /* Lost a race with the owner or another thief: look again. */
    }
}

#endif
