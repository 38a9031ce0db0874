/* engine.h — the continuous-batching scheduler: one thread runs every request's sequence.
 *
 * Requests are submitted from any thread into per-tenant wait queues. Each step the engine
 *   1. gives every running sequence its work and the KV blocks for it: one decode token of
 *      every sequence past its prompt, then prompt chunks (at most prefill_chunk tokens per
 *      sequence) filling what is left of max_batch_tokens. Blocks are taken as positions are
 *      filled (nothing is reserved for max_tokens). When the pool runs dry the scheduler
 *      PREEMPTS: it frees the blocks of the running sequence that is least entitled to run
 *      (see "Order" below) and puts it back at the front of its tenant's queue; when it is
 *      admitted again its prompt and the tokens generated so far are prefilled again
 *      (recomputation; full blocks still in the prefix cache are taken from it) and it goes
 *      on decoding exactly where it stopped: every kernel of the step sums in a fixed
 *      order, so the recomputed KV is bit-identical, and the sampler's random stream is the
 *      request's own and is not rewound. Tokens re-prefilled after preemption are never
 *      sampled again (nor do they pass any per-token hook a second time).
 *   2. admits waiting requests while a running slot, step budget and blocks for their first
 *      chunk are free, picking the tenant by weighted fair queuing (below). A request that
 *      cannot fit yet may be passed by later ones, at most SL_ENGINE_MAX_PASS times; then
 *      nothing passes it until it fits, so it never starves.
 *   3. runs one sl_forward_run over all of it, with sequences ordered so that those sharing
 *      an adapter are adjacent (one adapter GEMM pair per run).
 *
 * Prefix caching (opts.prefix_cache): full KV blocks are named by a chained SHA-256 of their
 * tokens under a root key made of the adapter's identity and version (sl_adapter_uid; the
 * base model has its own), the tenant (unless opts.share_tenants) and the request's
 * cache_salt; a request's prompt reuses the longest chain of cached blocks (kvcache.h).
 *
 * Fair sharing. Each tenant has a virtual clock: the tokens computed for it (prefill and
 * decode) divided by its weight. Admission takes the head of the waiting tenant whose clock
 * is lowest; a tenant that was idle starts at the lowest clock of the busy ones (no credit
 * is banked while idle). When every running slot is taken, a waiting tenant that holds
 * fewer slots than its weighted share of max_running preempts the sequence of the tenant
 * furthest over its share. Within a tenant, requests go by priority (lower first, as vLLM),
 * then arrival. Priority orders a tenant's own requests only: between tenants the weights
 * decide, so no tenant can jump the others by claiming a high priority.
 *
 * Order (who runs, who is preempted): the tenant with the lower clock first, then lower
 * priority value, then earlier admission. The victim of a preemption is the last in this
 * order: within one tenant, as vLLM, the lowest priority and then the latest arrival (it
 * has the least work to lose, and preempting the newest never starves the oldest).
 *
 * Output goes the other way without ever blocking the engine on a consumer: each step
 * appends tokens and text to per-request "pending" buffers under a short mutex, queues the
 * request on a ready list and calls opts.wake (e.g. uv_async_send). The consumer (one
 * thread, e.g. the HTTP loop) takes the ready list and swaps each request's pending
 * buffer out with sl_engine_read — no copy, no allocation on its side.
 *
 * Stop conditions: EOS (model eos ids and params.stop_ids, unless ignore_eos), max_tokens,
 * stop strings (matched on the detokenized text across token boundaries; text that may be
 * the start of a stop string is held back until decided; the stop string itself is not
 * output), the context limit, the KV pool (a sequence alone that fills every block ends
 * with "length"), and cancellation. */
#ifndef SL_ENGINE_H
#define SL_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "sampler.h"

struct sl_adapter;
struct sl_constraint;
struct sl_tokenizer;

typedef struct sl_engine sl_engine;
typedef struct sl_engine_req sl_engine_req;

#define SL_ENGINE_MAX_TOP 20 /* most alternatives per token in logprobs */
#define SL_ENGINE_MAX_STOP 16 /* most stop strings per request */
#define SL_ENGINE_NAME_MAX 160 /* longest tenant name, adapter label or cache salt */
#define SL_ENGINE_MAX_PASS 8 /* admissions that may pass a waiting head that does not fit */

typedef struct sl_engine_opts {
    int max_batch_tokens; /* tokens per step (decode + prefill chunks); >= max_running */
    int max_running;      /* sequences per step */
    int max_waiting;      /* wait queue bound (0 = 256): a full queue makes submit return SL_EBUSY */
    int tenant_max_inflight; /* one tenant's requests running or waiting (0 = max_running + max_waiting / 2) */
    int tenant_max_waiting;  /* one tenant's waiting requests (0 = max_waiting / 2) */
    int prefix_cache;     /* 1: reuse the KV of cached prompt prefixes */
    int share_tenants;    /* 1: the prefix cache is shared between tenants (their key leaves the root) */
    int prefill_chunk;    /* most prompt tokens of one sequence per step */
    int kv_block_size;    /* positions per KV block; 0 = 16 */
    int kv_blocks;        /* pool size; 0 = enough for max_running full contexts, capped by kv_cache_mb */
    size_t kv_cache_mb;   /* cap of the automatic pool size; 0 = 1024 */
    int kv_dtype;         /* KV element type: SL_WTYPE_F32 (0: exact), SL_WTYPE_BF16 or SL_WTYPE_F16 (symlorad's default) */
    int max_ctx;          /* longest sequence (prompt + output); 0 = the model's max_position_embeddings */
    int threads;          /* threads that run a step (sl_forward_set_threads); 0 = one per online CPU */
    /* Called on the engine thread when requests were added to the ready list. Must not block
     * (uv_async_send is the intended use). May be NULL (then poll with sl_engine_take_ready). */
    void (*wake)(void *ctx);
    void *wake_ctx;
    int step_delay_ms;    /* testing only: pause after every step, to make streams last (0 = off) */
    sl_log_fn log; /* warnings from the engine thread (forward failures); may be NULL */
    void *log_ctx;
} sl_engine_opts;

/* Why a request ended. */
typedef enum sl_finish {
    SL_FINISH_NONE = 0,   /* still running */
    SL_FINISH_STOP,       /* EOS, a stop token or a stop string */
    SL_FINISH_LENGTH,     /* max_tokens or the context limit */
    SL_FINISH_CANCELLED,  /* sl_engine_cancel or engine shutdown */
    SL_FINISH_ERROR       /* the forward pass failed (detail in sl_engine_out.error) */
} sl_finish;
const char *sl_finish_name(sl_finish f); /* "stop", "length", "cancelled", "error" */

typedef struct sl_engine_params {
    int max_tokens;          /* >= 1; n_prompt + max_tokens <= max_ctx */
    sl_sample_params sample; /* temperature <= 0: greedy */
    int logprobs;            /* < 0: none; else report each token's logprob and this many (<= 20) alternatives */
    int ignore_eos;          /* do not stop on the model's EOS ids (stop_ids still apply) */
    int skip_special;        /* leave special tokens out of the text (usual: 1) */
    const int32_t *stop_ids; /* (n_stop_ids) extra stop tokens, e.g. a chat template's end of turn; copied */
    int n_stop_ids;
    const char *const *stop; /* (n_stop) stop strings; copied; empty strings are ignored */
    int n_stop;
    /* Scheduling (all optional). */
    const char *tenant;      /* who the request is for (NULL or "": "default"); copied */
    double weight;           /* the tenant's fair-share weight (<= 0: 1); the latest submit sets it */
    int priority;            /* lower runs earlier, within the tenant (vLLM's "priority") */
    const char *cache_salt;  /* mixed into the prefix cache key (vLLM's "cache_salt"); copied */
    const char *label;       /* the adapter's name as clients address it, for metrics; copied */
    /* Structured output (lib/constraint), NULL: none. Borrowed: the engine takes its own
     * reference. Before each sampling the tokens that cannot continue a valid output get
     * logit -inf (so greedy, temperature, top-k/p and logprobs all see the constrained
     * distribution); the model's EOS ids and stop_ids are allowed exactly when the output is
     * complete (even with ignore_eos); after it the state advances over the sampled token, and
 * an output that nothing but EOS could continue ends there (SL_FINISH_STOP, no EOS token).
     * The state moves only on sampled tokens, never on prompt or recomputed positions.
     * Its vocabulary must have the model's size. A step where no token is allowed, or the
     * grammar's per-step work bound is hit, ends the request with SL_FINISH_ERROR. */
    struct sl_constraint *constraint;
} sl_engine_params;

/* One generated token as published to the consumer. */
typedef struct sl_engine_token {
    int32_t id;
    float logprob;                        /* valid when params.logprobs >= 0 */
    int n_top;                            /* alternatives below */
    int32_t top_ids[SL_ENGINE_MAX_TOP];   /* most likely first */
    float top_lps[SL_ENGINE_MAX_TOP];
} sl_engine_token;

/* What sl_engine_read hands over: everything published since the previous read.
 * Pointers stay valid until the next sl_engine_read on the same request (or its release). */
typedef struct sl_engine_out {
    const char *text;              /* new text (not NUL-terminated), stop strings removed */
    size_t text_len;
    const sl_engine_token *tokens; /* (n_tokens) new tokens */
    int n_tokens;
    /* Totals and status. */
    int n_prompt;
    int n_generated;               /* tokens generated so far (including a final EOS) */
    sl_finish finish;              /* SL_FINISH_NONE while running */
    int finished;                  /* 1 once finish is set: nothing will follow */
    const char *error;             /* SL_FINISH_ERROR detail, else "" */
} sl_engine_out;

/* Histograms of latency, for metrics. Bucket upper bounds in seconds (+Inf implied). */
#define SL_ENGINE_HIST_N 14
extern const double sl_engine_hist_bounds[SL_ENGINE_HIST_N];
typedef struct sl_engine_hist {
    uint64_t buckets[SL_ENGINE_HIST_N + 1]; /* non-cumulative; last = +Inf */
    uint64_t count;
    double sum;
} sl_engine_hist;

typedef struct sl_engine_stats {
    int running;              /* sequences admitted and not finished */
    int waiting;              /* in the wait queue */
    int kv_blocks_used, kv_blocks_total, kv_block_size;
    int last_batch_seqs, last_batch_tokens; /* of the most recent step */
    int max_ctx;
    uint64_t steps;
    uint64_t prompt_tokens;     /* prompt tokens prefilled */
    uint64_t generation_tokens; /* tokens sampled */
    uint64_t finished[5];       /* by sl_finish */
    sl_engine_hist ttft;        /* submit -> first token */
    sl_engine_hist tpot;        /* between consecutive tokens of a sequence */
    sl_engine_hist batch_seqs;  /* sequences per step; bucket bounds sl_engine_batch_bounds */
    uint64_t preemptions;       /* sequences preempted (their KV freed, to be recomputed) */
    uint64_t prefix_queries;    /* prompt tokens looked up in the prefix cache */
    uint64_t prefix_hits;       /* of them, found (their KV reused) */
    int kv_blocks_cached;       /* free blocks still holding cached prefixes (within kv_blocks_total - used) */
    int prefix_cache;           /* prefix caching on */
} sl_engine_stats;
extern const double sl_engine_batch_bounds[SL_ENGINE_HIST_N];

/* Starts the engine thread. M and TOK must outlive the engine (borrowed). */
int sl_engine_init(sl_engine **out, const sl_model *m, const struct sl_tokenizer *tok, const sl_engine_opts *opts,
                   char *err, size_t errlen);
/* Cancels every request, joins the thread, frees the engine. Requests still referenced by
 * the consumer stay valid (finished as cancelled) until sl_engine_req_release. */
void sl_engine_free(sl_engine *e);

/* Effective limits after defaults. */
int sl_engine_max_ctx(const sl_engine *e);

/* Submits a request. PROMPT (n_prompt ids, each < vocab) and the params are copied.
 * Ownership: one reference to ADAPTER (NULL = base model) passes to the engine in every
 * case, success or not; the engine drops it when the sequence ends (finish or cancel), so
 * the adapter version is pinned exactly while the sequence can still use it.
 * On success *out is the request with a reference for the caller (sl_engine_req_release)
 * and USER attached (see sl_engine_req_user). Errors: SL_EINVAL (bad params), SL_ETOOBIG
 * (prompt + max_tokens over max_ctx or over the whole KV pool), SL_EBUSY (wait queue full),
 * SL_ECANCELED (engine shutting down). */
int sl_engine_submit(sl_engine *e, const int32_t *prompt, int n_prompt, struct sl_adapter *adapter,
                     const sl_engine_params *params, void *user, sl_engine_req **out, char *err, size_t errlen);

/* Asks the engine to stop R; thread-safe, idempotent. KV blocks are freed at the next step
 * (or at once if still queued); R then finishes with SL_FINISH_CANCELLED unless it had
 * already finished. */
void sl_engine_cancel(sl_engine *e, sl_engine_req *r);
/* Cancels every request (running and queued). */
void sl_engine_cancel_all(sl_engine *e);

/* Consumer side (one thread). Takes up to MAX requests with new output; each comes with a
 * reference the caller must release. Returns the count. */
int sl_engine_take_ready(sl_engine *e, sl_engine_req **reqs, int max);
/* Swaps out R's output published since the last read (see sl_engine_out). Consumer thread only. */
void sl_engine_read(sl_engine_req *r, sl_engine_out *out);
void *sl_engine_req_user(const sl_engine_req *r);
void sl_engine_req_set_user(sl_engine_req *r, void *user); /* consumer thread only */
sl_engine_req *sl_engine_req_ref(sl_engine_req *r);
void sl_engine_req_release(sl_engine_req *r); /* NULL is fine */

void sl_engine_get_stats(sl_engine *e, sl_engine_stats *out);

/* One tenant's share of the engine (for metrics; tenants appear with their first request). */
typedef struct sl_engine_tenant_stats {
    char name[SL_ENGINE_NAME_MAX + 1];
    double weight;
    int running, waiting;
    uint64_t tokens;       /* prompt and generated tokens computed for it */
    uint64_t preemptions;
    uint64_t rejected;     /* submits refused by the per-tenant limits */
} sl_engine_tenant_stats;
/* Copies up to MAX tenants into OUT; returns how many there are in all. */
int sl_engine_get_tenants(sl_engine *e, sl_engine_tenant_stats *out, int max);

/* Adapter labels (params.label; "" for the base model) of running and waiting requests, each
 * once, comma-separated, into RUN and WAIT (truncated to their sizes at a whole name). */
void sl_engine_get_adapter_labels(sl_engine *e, char *run, size_t run_len, char *wait, size_t wait_len);

#endif
