/* pool.c — see pool.h.
 *
 * A step runs ~300 jobs (a few per layer), each a few hundred microseconds long: waking a
 * sleeping worker through the condition variable costs tens of microseconds on a VM, every
 * time. So a worker that has just finished a job, and a caller waiting for its workers, first
 * watch the generation / pending count for up to SPIN_NS without the lock, and only then
 * sleep: within a step nobody sleeps, and an idle engine spins SPIN_NS once and sleeps. */
#include "pool.h"

#include "error.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

enum { SPIN_NS = 50000 };

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* A bounded spin: spin_more() is 0 once SPIN_NS have passed since the first call. */
typedef struct spin {
    unsigned i;
    uint64_t t0;
} spin;

static int spin_more(spin *s) {
    cpu_relax();
    if ((++s->i & 63) == 0) {
        uint64_t t = now_ns();
        if (!s->t0) s->t0 = t;
        else if (t - s->t0 > SPIN_NS) return 0;
    }
    return 1;
}

typedef struct worker {
    sl_pool *p;
    int index;
    pthread_t th;
} worker;

struct sl_pool {
    int n;
    worker *w;          /* (n - 1) */
    pthread_mutex_t mu;
    pthread_cond_t work; /* a new generation is ready, or stop */
    pthread_cond_t done; /* pending reached 0 */
    _Atomic uint64_t gen;     /* written under mu; read without it while spinning */
    _Atomic uint64_t pending; /* likewise */
    atomic_int stop;
    int started;
    sl_pool_fn fn;
    void *ctx;
};

static void *worker_main(void *arg) {
    worker *w = arg;
    sl_pool *p = w->p;
    uint64_t seen = 0;
    for (;;) {
        for (spin sp = {0}; atomic_load_explicit(&p->gen, memory_order_acquire) == seen &&
                            !atomic_load_explicit(&p->stop, memory_order_relaxed) && spin_more(&sp);) {
        }
        pthread_mutex_lock(&p->mu);
        while (p->gen == seen && !p->stop) pthread_cond_wait(&p->work, &p->mu);
        if (p->stop) break;
        seen = p->gen;
        sl_pool_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, w->index, p->n);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int sl_pool_init(sl_pool **out, int n) {
    *out = NULL;
    sl_pool *p = calloc(1, sizeof *p);
    if (!p) return SL_ENOMEM;
    p->n = n < 1 ? 1 : n;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    if (p->n > 1 && !(p->w = calloc((size_t)p->n - 1, sizeof *p->w))) {
        sl_pool_free(p);
        return SL_ENOMEM;
    }
    for (int i = 1; i < p->n; i++) {
        p->w[i - 1] = (worker){.p = p, .index = i};
        if (pthread_create(&p->w[i - 1].th, NULL, worker_main, &p->w[i - 1]) != 0) {
            p->n = i; /* the workers started so far are joined by free */
            sl_pool_free(p);
            return SL_ENOMEM;
        }
        p->started = i;
    }
    *out = p;
    return 0;
}

void sl_pool_free(sl_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++) pthread_join(p->w[i].th, NULL);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->w);
    free(p);
}

int sl_pool_size(const sl_pool *p) { return p->n; }

void sl_pool_run(sl_pool *p, sl_pool_fn fn, void *ctx) {
    if (p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->pending = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    for (spin sp = {0}; atomic_load_explicit(&p->pending, memory_order_acquire) && spin_more(&sp);) {
    }
    pthread_mutex_lock(&p->mu);
    while (p->pending) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
