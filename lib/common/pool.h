/* pool.h — a fixed set of worker threads that run one job at a time with the caller.
 *
 * sl_pool_run(p, fn, ctx) calls fn(ctx, i, n) once for every i in 0..n-1 — i == 0 on the
 * calling thread, the others on the workers — and returns when all have returned. Between
 * jobs workers spin for at most 50 us (the next job of a step is usually that close), then
 * sleep on a condition variable: an idle pool takes no CPU from the event loop. One caller
 * at a time. */
#ifndef SL_POOL_H
#define SL_POOL_H

typedef struct sl_pool sl_pool;
typedef void (*sl_pool_fn)(void *ctx, int i, int n);

/* N threads in all (N - 1 workers); N <= 1 makes a pool that runs jobs inline. */
int sl_pool_init(sl_pool **out, int n);
void sl_pool_free(sl_pool *p);
int sl_pool_size(const sl_pool *p);
void sl_pool_run(sl_pool *p, sl_pool_fn fn, void *ctx);

#endif
