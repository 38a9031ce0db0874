/* pool.c — see pool.h. */
#include "pool.h"

#include "error.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

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
    uint64_t gen;
    int pending, stop, started;
    sl_pool_fn fn;
    void *ctx;
};

static void *worker_main(void *arg) {
    worker *w = arg;
    sl_pool *p = w->p;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->stop) pthread_cond_wait(&p->work, &p->mu);
        if (p->stop) break;
        seen = p->gen;
        sl_pool_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, w->index, p->n);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
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
    pthread_mutex_lock(&p->mu);
    while (p->pending) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
