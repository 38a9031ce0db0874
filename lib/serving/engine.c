/* engine.c — the continuous-batching scheduler (see engine.h for the model).
 *
 * Threads and locks:
 *   e->mu        the wait queue, the stopping flag, the condition the engine sleeps on.
 *   r->mu        one request's published output (pending buffer, finish status).
 *   e->ready_mu  the ready list (requests with output the consumer has not taken yet).
 *   e->stats_mu  the counters and histograms.
 * Order: e->mu before r->mu; ready_mu and stats_mu are leaves. Everything else of a
 * running sequence (KV table, sampler, detokenizer, generated text) belongs to the
 * engine thread alone. */
#include "engine.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "adapter.h"
#include "buf.h"
#include "error.h"
#include "forward.h"
#include "kvcache.h"
#include "tokenizer.h"

const double sl_engine_hist_bounds[SL_ENGINE_HIST_N] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                        0.25,  0.5,    1.0,   2.5,  5.0,   10.0, 30.0};
const double sl_engine_batch_bounds[SL_ENGINE_HIST_N] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256};

enum { ST_QUEUED, ST_PREFILL, ST_DECODE, ST_DONE };

typedef struct outbuf {
    sl_buf text;
    sl_engine_token *toks; /* (tcap) */
    int n, tcap;
} outbuf;

struct sl_engine_req {
    atomic_int refs;
    atomic_int cancel;
    void *user; /* consumer thread only */

    /* Immutable after submit. */
    int32_t *prompt; /* (n_prompt) owned */
    int n_prompt;
    int max_tokens;
    int logprobs;
    int ignore_eos;
    int32_t *stop_ids; /* (n_stop_ids) owned */
    int n_stop_ids;
    char *stop[SL_ENGINE_MAX_STOP]; /* owned */
    size_t stop_len[SL_ENGINE_MAX_STOP];
    int n_stop;
    double t_submit;

    /* Engine thread. */
    struct sl_adapter *adapter; /* one reference, dropped at finish */
    int state;
    sl_kv_seq kv;
    int32_t last;    /* last sampled token, fed at the next decode step */
    int n_gen;
    int chunk;       /* tokens of this sequence in the current step */
    sl_sampler sampler;
    sl_detok *detok;
    sl_buf gen;      /* generated text so far */
    size_t committed; /* gen[0..committed) is published or being published */
    size_t published; /* gen[0..published) already appended to pend */
    double t_last;
    sl_engine_req *qnext, *qprev; /* wait queue (e->mu) */

    /* Published (r->mu). */
    uv_mutex_t mu;
    outbuf pend, rd;
    int pub_n_gen;
    sl_finish finish;
    char error[160];

    /* Ready list (e->ready_mu). */
    int in_ready;
    sl_engine_req *rnext;
};

struct sl_engine {
    const sl_model *model;
    const sl_tokenizer *tok;
    sl_engine_opts o;
    int vocab;
    int max_ctx;
    int32_t eos[8];
    int n_eos;

    sl_kv_pool *pool;
    sl_forward *fwd;
    float *logits;  /* (max_running, vocab) */
    float *scratch; /* (2 * vocab) sampler scratch */
    sl_batch_seq *batch;   /* (max_running) */
    sl_engine_req **bmap;  /* (max_running) request of each batch entry */
    sl_engine_req **running; /* (max_running), grouped by adapter */
    int n_running;

    uv_thread_t thread;
    int thread_started;
    uv_mutex_t mu;
    uv_cond_t cond;
    sl_engine_req *wq_head, *wq_tail; /* wait queue */
    int n_waiting;
    int stopping;
    int cancel_all;

    uv_mutex_t ready_mu;
    sl_engine_req *ready_head, *ready_tail;

    uv_mutex_t stats_mu;
    sl_engine_stats st;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *sl_finish_name(sl_finish f) {
    switch (f) {
    case SL_FINISH_STOP: return "stop";
    case SL_FINISH_LENGTH: return "length";
    case SL_FINISH_CANCELLED: return "cancelled";
    case SL_FINISH_ERROR: return "error";
    default: return "";
    }
}

static void hist_add(sl_engine_hist *h, const double *bounds, double v) {
    int i = 0;
    while (i < SL_ENGINE_HIST_N && v > bounds[i]) i++;
    h->buckets[i]++;
    h->count++;
    h->sum += v;
}

/* ---------------------------------------------------------------- requests */

static void outbuf_free(outbuf *b) {
    sl_buf_free(&b->text);
    free(b->toks);
    memset(b, 0, sizeof *b);
}

static int outbuf_put_text(outbuf *b, const char *s, size_t n) {
    return n ? sl_buf_put(&b->text, s, n) : 0;
}

static int outbuf_put_tok(outbuf *b, const sl_engine_token *t) {
    if (b->n == b->tcap) {
        int cap = b->tcap ? b->tcap * 2 : 16;
        sl_engine_token *n = realloc(b->toks, (size_t)cap * sizeof *n);
        if (!n) return SL_ENOMEM;
        b->toks = n;
        b->tcap = cap;
    }
    b->toks[b->n++] = *t;
    return 0;
}

static void req_free(sl_engine_req *r) {
    free(r->prompt);
    free(r->stop_ids);
    for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
    sl_buf_free(&r->gen);
    if (r->detok) sl_detok_free(r->detok);
    sl_adapter_unref(r->adapter); /* normally already dropped at finish */
    outbuf_free(&r->pend);
    outbuf_free(&r->rd);
    uv_mutex_destroy(&r->mu);
    free(r);
}

sl_engine_req *sl_engine_req_ref(sl_engine_req *r) {
    atomic_fetch_add(&r->refs, 1);
    return r;
}

void sl_engine_req_release(sl_engine_req *r) {
    if (r && atomic_fetch_sub(&r->refs, 1) == 1) req_free(r);
}

void *sl_engine_req_user(const sl_engine_req *r) { return r->user; }
void sl_engine_req_set_user(sl_engine_req *r, void *user) { r->user = user; }

/* Queues R on the ready list (with a reference for the consumer) unless it is there. */
static int ready_push(sl_engine *e, sl_engine_req *r) {
    int pushed = 0;
    uv_mutex_lock(&e->ready_mu);
    if (!r->in_ready) {
        r->in_ready = 1;
        sl_engine_req_ref(r);
        r->rnext = NULL;
        if (e->ready_tail) e->ready_tail->rnext = r;
        else e->ready_head = r;
        e->ready_tail = r;
        pushed = 1;
    }
    uv_mutex_unlock(&e->ready_mu);
    return pushed;
}

int sl_engine_take_ready(sl_engine *e, sl_engine_req **reqs, int max) {
    int n = 0;
    uv_mutex_lock(&e->ready_mu);
    while (n < max && e->ready_head) {
        sl_engine_req *r = e->ready_head;
        e->ready_head = r->rnext;
        if (!e->ready_head) e->ready_tail = NULL;
        r->in_ready = 0;
        r->rnext = NULL;
        reqs[n++] = r; /* ownership: the ready list's reference passes to the caller */
    }
    uv_mutex_unlock(&e->ready_mu);
    return n;
}

void sl_engine_read(sl_engine_req *r, sl_engine_out *out) {
    uv_mutex_lock(&r->mu);
    /* Swap: the consumer gets what was pending; the engine appends to the emptied old one. */
    outbuf t = r->rd;
    r->rd = r->pend;
    r->pend = t;
    r->pend.text.len = 0;
    r->pend.n = 0;
    out->text = r->rd.text.p ? r->rd.text.p : "";
    out->text_len = r->rd.text.len;
    out->tokens = r->rd.toks;
    out->n_tokens = r->rd.n;
    out->n_prompt = r->n_prompt;
    out->n_generated = r->pub_n_gen;
    out->finish = r->finish;
    out->finished = r->finish != SL_FINISH_NONE;
    out->error = r->error;
    uv_mutex_unlock(&r->mu);
}

/* ---------------------------------------------------------------- engine thread */

/* Looks for a stop string starting at or after r->committed. Returns its position or -1;
 * otherwise advances r->committed past every byte that can no longer begin a match. */
static long stop_scan(sl_engine_req *r) {
    if (!r->n_stop) {
        r->committed = r->gen.len;
        return -1;
    }
    const char *base = r->gen.p + r->committed;
    size_t n = r->gen.len - r->committed;
    long best = -1;
    for (int i = 0; i < r->n_stop; i++) {
        const char *p = memmem(base, n, r->stop[i], r->stop_len[i]);
        if (p && (best < 0 || p - r->gen.p < best)) best = (long)(p - r->gen.p);
    }
    if (best >= 0) return best;
    /* Hold back the longest suffix that is a proper prefix of some stop string. */
    size_t hold = 0;
    for (int i = 0; i < r->n_stop; i++) {
        size_t maxl = r->stop_len[i] - 1 < n ? r->stop_len[i] - 1 : n;
        for (size_t l = maxl; l > hold; l--) {
            if (memcmp(r->gen.p + r->gen.len - l, r->stop[i], l) == 0) {
                hold = l;
                break;
            }
        }
    }
    r->committed = r->gen.len - hold;
    return -1;
}

static int is_stop_token(const sl_engine *e, const sl_engine_req *r, int32_t t) {
    if (!r->ignore_eos)
        for (int i = 0; i < e->n_eos; i++)
            if (e->eos[i] == t) return 1;
    for (int i = 0; i < r->n_stop_ids; i++)
        if (r->stop_ids[i] == t) return 1;
    return 0;
}

/* Publishes new committed text, TOK (if not NULL) and, when REASON is set, the end.
 * Queues R for the consumer. Returns 1 if the ready list went from not having R to having it. */
static int publish(sl_engine *e, sl_engine_req *r, const sl_engine_token *tok, sl_finish reason, const char *error) {
    int rc = 0;
    uv_mutex_lock(&r->mu);
    if (r->committed > r->published) {
        rc |= outbuf_put_text(&r->pend, r->gen.p + r->published, r->committed - r->published);
        r->published = r->committed;
    }
    if (tok) rc |= outbuf_put_tok(&r->pend, tok);
    r->pub_n_gen = r->n_gen;
    if (rc && !reason) {
        reason = SL_FINISH_ERROR;
        error = "out of memory publishing output";
    }
    if (reason && r->finish == SL_FINISH_NONE) {
        r->finish = reason;
        snprintf(r->error, sizeof r->error, "%s", error ? error : "");
    }
    uv_mutex_unlock(&r->mu);
    return ready_push(e, r);
}

/* Ends R: frees its KV blocks and its adapter reference, publishes the end, drops the
 * engine's reference. R must no longer be in the running array or the wait queue. */
static int finish_req(sl_engine *e, sl_engine_req *r, sl_finish reason, const char *error) {
    if (r->state == ST_PREFILL || r->state == ST_DECODE) sl_kv_seq_release(e->pool, &r->kv);
    r->state = ST_DONE;
    sl_adapter_unref(r->adapter);
    r->adapter = NULL;
    if (reason == SL_FINISH_CANCELLED || reason == SL_FINISH_ERROR) r->committed = r->published;
    int woke = publish(e, r, NULL, reason, error);
    uv_mutex_lock(&e->stats_mu);
    e->st.finished[reason]++;
    uv_mutex_unlock(&e->stats_mu);
    sl_engine_req_release(r); /* the engine's reference */
    return woke;
}

static void running_remove(sl_engine *e, int i) {
    memmove(e->running + i, e->running + i + 1, (size_t)(e->n_running - i - 1) * sizeof *e->running);
    e->n_running--;
}

/* Inserts R after the last running sequence with the same adapter (adapter groups stay contiguous). */
static void running_insert(sl_engine *e, sl_engine_req *r) {
    int at = e->n_running;
    for (int i = e->n_running - 1; i >= 0; i--) {
        if (e->running[i]->adapter == r->adapter) {
            at = i + 1;
            break;
        }
    }
    memmove(e->running + at + 1, e->running + at, (size_t)(e->n_running - at) * sizeof *e->running);
    e->running[at] = r;
    e->n_running++;
}

static void wq_unlink(sl_engine *e, sl_engine_req *r) {
    if (r->qprev) r->qprev->qnext = r->qnext;
    else e->wq_head = r->qnext;
    if (r->qnext) r->qnext->qprev = r->qprev;
    else e->wq_tail = r->qprev;
    r->qnext = r->qprev = NULL;
    e->n_waiting--;
}

/* Handles one sampled token of R. Returns the finish reason (SL_FINISH_NONE: go on). */
static sl_finish on_token(sl_engine *e, sl_engine_req *r, int32_t t) {
    r->n_gen++;
    r->last = t;
    sl_finish fin = SL_FINISH_NONE;
    if (is_stop_token(e, r, t)) {
        fin = SL_FINISH_STOP;
    } else {
        const char *d;
        size_t dn;
        if (sl_detok_feed(r->detok, t, &d, &dn) == 0 && sl_buf_put(&r->gen, d, dn) != 0) return SL_FINISH_ERROR;
        long at = stop_scan(r);
        if (at >= 0) {
            r->gen.len = (size_t)at;
            r->committed = (size_t)at;
            return SL_FINISH_STOP;
        }
        if (r->n_gen >= r->max_tokens || r->n_prompt + r->n_gen >= e->max_ctx) fin = SL_FINISH_LENGTH;
    }
    if (fin) {
        /* The end: text held back for the detokenizer or a possible stop string is final now. */
        const char *d;
        size_t dn;
        if (sl_detok_flush(r->detok, &d, &dn) == 0 && dn && sl_buf_put(&r->gen, d, dn) != 0) return SL_FINISH_ERROR;
        long at = stop_scan(r);
        if (at >= 0) {
            r->gen.len = (size_t)at;
            fin = SL_FINISH_STOP;
        }
        r->committed = r->gen.len;
    }
    return fin;
}

static void engine_log(sl_engine *e, int level, const char *msg) {
    if (e->o.log) e->o.log(e->o.log_ctx, level, msg);
}

/* One forward step over every running sequence. Returns 1 if any request was queued for the consumer. */
static int engine_step(sl_engine *e) {
    int budget = e->o.max_batch_tokens;
    for (int i = 0; i < e->n_running; i++) {
        sl_engine_req *r = e->running[i];
        r->chunk = 0;
        if (r->state == ST_DECODE && budget > 0) {
            r->chunk = 1;
            budget--;
        }
    }
    for (int i = 0; i < e->n_running && budget > 0; i++) {
        sl_engine_req *r = e->running[i];
        if (r->state != ST_PREFILL) continue;
        int c = r->n_prompt - r->kv.n_pos;
        if (c > e->o.prefill_chunk) c = e->o.prefill_chunk;
        if (c > budget) c = budget;
        r->chunk = c;
        budget -= c;
    }
    int nb = 0, ntok = 0;
    for (int i = 0; i < e->n_running; i++) {
        sl_engine_req *r = e->running[i];
        if (!r->chunk) continue;
        sl_batch_seq *b = &e->batch[nb];
        b->kv = &r->kv;
        b->adapter = r->adapter;
        b->n_tokens = r->chunk;
        if (r->state == ST_DECODE) {
            b->tokens = &r->last;
            b->logits = SL_LOGITS_LAST;
        } else {
            b->tokens = r->prompt + r->kv.n_pos;
            b->logits = r->kv.n_pos + r->chunk == r->n_prompt ? SL_LOGITS_LAST : SL_LOGITS_NONE;
        }
        e->bmap[nb++] = r;
        ntok += r->chunk;
    }
    if (!nb) return 0;

    char err[256] = "";
    int rc = sl_forward_run(e->fwd, e->pool, e->batch, nb, e->logits, err, sizeof err);
    int woke = 0;
    if (rc != 0) {
        char msg[320];
        snprintf(msg, sizeof msg, "engine: forward pass failed (%s): %s", sl_strerror(rc), err);
        engine_log(e, 1, msg);
        for (int j = 0; j < nb; j++) {
            sl_engine_req *r = e->bmap[j];
            for (int i = 0; i < e->n_running; i++)
                if (e->running[i] == r) {
                    running_remove(e, i);
                    break;
                }
            woke |= finish_req(e, r, SL_FINISH_ERROR, err);
        }
        return woke;
    }

    double now = now_s();
    uint64_t n_prompt_tok = 0, n_gen_tok = 0;
    int row = 0;
    for (int j = 0; j < nb; j++) {
        sl_engine_req *r = e->bmap[j];
        sl_batch_seq *b = &e->batch[j];
        if (r->state == ST_PREFILL) n_prompt_tok += (uint64_t)b->n_tokens;
        if (b->logits != SL_LOGITS_LAST) continue;
        const float *lrow = e->logits + (int64_t)row++ * e->vocab;
        r->state = ST_DECODE;
        sl_engine_token tk;
        tk.logprob = 0;
        tk.n_top = 0;
        tk.id = sl_sampler_sample(&r->sampler, lrow, e->vocab, e->scratch, r->logprobs >= 0 ? &tk.logprob : NULL);
        if (r->logprobs > 0) tk.n_top = sl_top_logprobs(lrow, e->vocab, r->logprobs, tk.top_ids, tk.top_lps);
        n_gen_tok++;
        uv_mutex_lock(&e->stats_mu);
        if (r->n_gen == 0) hist_add(&e->st.ttft, sl_engine_hist_bounds, now - r->t_submit);
        else hist_add(&e->st.tpot, sl_engine_hist_bounds, now - r->t_last);
        uv_mutex_unlock(&e->stats_mu);
        r->t_last = now;
        sl_finish fin = on_token(e, r, tk.id);
        woke |= publish(e, r, &tk, SL_FINISH_NONE, NULL);
        if (fin) {
            for (int i = 0; i < e->n_running; i++)
                if (e->running[i] == r) {
                    running_remove(e, i);
                    break;
                }
            woke |= finish_req(e, r, fin, fin == SL_FINISH_ERROR ? "out of memory" : NULL);
        }
    }
    uv_mutex_lock(&e->stats_mu);
    e->st.steps++;
    e->st.prompt_tokens += n_prompt_tok;
    e->st.generation_tokens += n_gen_tok;
    e->st.last_batch_seqs = nb;
    e->st.last_batch_tokens = ntok;
    hist_add(&e->st.batch_seqs, sl_engine_batch_bounds, nb);
    uv_mutex_unlock(&e->stats_mu);
    return woke;
}

static void engine_main(void *arg) {
    sl_engine *e = arg;
    for (;;) {
        int woke = 0;
        uv_mutex_lock(&e->mu);
        while (!e->stopping && !e->cancel_all && e->n_running == 0 && !e->wq_head) uv_cond_wait(&e->cond, &e->mu);
        int stopping = e->stopping;
        int cancel_all = e->cancel_all || stopping;
        e->cancel_all = 0;
        /* Cancelled requests leave the wait queue at once. */
        for (sl_engine_req *r = e->wq_head, *nx; r; r = nx) {
            nx = r->qnext;
            if (cancel_all || atomic_load(&r->cancel)) {
                wq_unlink(e, r);
                woke |= finish_req(e, r, SL_FINISH_CANCELLED, NULL);
            }
        }
        /* Admission, FIFO: the head waits until its worst case fits (no overtaking, no starvation). */
        while (e->wq_head && e->n_running < e->o.max_running) {
            sl_engine_req *r = e->wq_head;
            int need = r->n_prompt + r->max_tokens;
            if (need > e->max_ctx) need = e->max_ctx;
            if (sl_kv_seq_reserve(e->pool, &r->kv, need) != 0) {
                if (e->n_running > 0) break;
                /* Nothing runs, so every block is free: it can never fit (submit checks this). */
                wq_unlink(e, r);
                woke |= finish_req(e, r, SL_FINISH_ERROR, "the request does not fit in the KV cache");
                continue;
            }
            wq_unlink(e, r);
            r->state = ST_PREFILL;
            running_insert(e, r);
        }
        uv_mutex_unlock(&e->mu);

        for (int i = 0; i < e->n_running;) {
            sl_engine_req *r = e->running[i];
            if (cancel_all || atomic_load(&r->cancel)) {
                running_remove(e, i);
                woke |= finish_req(e, r, SL_FINISH_CANCELLED, NULL);
            } else {
                i++;
            }
        }
        if (stopping) {
            if (woke && e->o.wake) e->o.wake(e->o.wake_ctx);
            break;
        }
        int stepped = e->n_running > 0;
        if (stepped) woke |= engine_step(e);

        uv_mutex_lock(&e->stats_mu);
        e->st.running = e->n_running;
        e->st.kv_blocks_used = sl_kv_pool_total_blocks(e->pool) - sl_kv_pool_free_blocks(e->pool);
        uv_mutex_unlock(&e->stats_mu);
        if (woke && e->o.wake) e->o.wake(e->o.wake_ctx);
        if (stepped && e->o.step_delay_ms > 0) uv_sleep((unsigned)e->o.step_delay_ms);
    }
}

/* ---------------------------------------------------------------- public */

int sl_engine_init(sl_engine **out, const sl_model *m, const sl_tokenizer *tok, const sl_engine_opts *opts,
                   char *err, size_t errlen) {
    *out = NULL;
    sl_engine *e = calloc(1, sizeof *e);
    if (!e) return sl__errf(err, errlen, SL_ENOMEM, "engine: out of memory");
    e->model = m;
    e->tok = tok;
    e->o = *opts;
    const sl_model_config *cfg = sl_model_get_config(m);
    e->vocab = cfg->vocab;
    e->max_ctx = opts->max_ctx > 0 && opts->max_ctx < cfg->max_pos ? opts->max_ctx : cfg->max_pos;
    e->n_eos = cfg->n_eos < 8 ? cfg->n_eos : 8;
    memcpy(e->eos, cfg->eos_ids, (size_t)e->n_eos * sizeof(int32_t));
    sl_engine_opts *o = &e->o;
    if (o->max_running <= 0) o->max_running = 64;
    if (o->max_batch_tokens <= 0) o->max_batch_tokens = 512;
    if (o->max_batch_tokens < o->max_running) o->max_batch_tokens = o->max_running;
    if (o->max_waiting <= 0) o->max_waiting = 256;
    if (o->prefill_chunk <= 0) o->prefill_chunk = o->max_batch_tokens;
    if (o->kv_block_size <= 0) o->kv_block_size = 16;
    if (o->kv_cache_mb == 0) o->kv_cache_mb = 1024;
    int rc;
    if (o->kv_blocks <= 0) {
        /* Bytes of one block: K and V for every layer. */
        size_t per_block = (size_t)2 * (size_t)cfg->n_layers * (size_t)cfg->n_kv_heads * (size_t)cfg->head_dim *
                           (size_t)o->kv_block_size * sizeof(float);
        size_t want = (size_t)o->max_running * (size_t)((e->max_ctx + o->kv_block_size - 1) / o->kv_block_size);
        size_t cap = per_block ? (o->kv_cache_mb << 20) / per_block : want;
        if (want > cap) want = cap;
        if (want < 1) want = 1;
        o->kv_blocks = want > (size_t)1 << 30 ? 1 << 30 : (int)want;
    }
    if ((rc = sl_kv_pool_init(&e->pool, m, o->kv_blocks, o->kv_block_size, err, errlen)) != 0) goto fail;
    if ((rc = sl_forward_init(&e->fwd, m, o->max_batch_tokens, o->max_running, o->max_running, e->max_ctx, err,
                              errlen)) != 0 ||
        (rc = sl_forward_set_threads(e->fwd, o->threads, err, errlen)) != 0)
        goto fail;
    e->logits = malloc((size_t)o->max_running * (size_t)e->vocab * sizeof(float));
    e->scratch = malloc((size_t)2 * (size_t)e->vocab * sizeof(float));
    e->batch = calloc((size_t)o->max_running, sizeof *e->batch);
    e->bmap = calloc((size_t)o->max_running, sizeof *e->bmap);
    e->running = calloc((size_t)o->max_running, sizeof *e->running);
    if (!e->logits || !e->scratch || !e->batch || !e->bmap || !e->running) {
        rc = sl__errf(err, errlen, SL_ENOMEM, "engine: out of memory for scratch");
        goto fail;
    }
    uv_mutex_init(&e->mu);
    uv_cond_init(&e->cond);
    uv_mutex_init(&e->ready_mu);
    uv_mutex_init(&e->stats_mu);
    e->st.kv_blocks_total = sl_kv_pool_total_blocks(e->pool);
    e->st.kv_block_size = o->kv_block_size;
    e->st.max_ctx = e->max_ctx;
    if (uv_thread_create(&e->thread, engine_main, e) != 0) {
        rc = sl__errf(err, errlen, SL_ENOMEM, "engine: cannot start thread");
        uv_mutex_destroy(&e->mu);
        uv_cond_destroy(&e->cond);
        uv_mutex_destroy(&e->ready_mu);
        uv_mutex_destroy(&e->stats_mu);
        goto fail;
    }
    e->thread_started = 1;
    *out = e;
    return 0;
fail:
    if (e->fwd) sl_forward_free(e->fwd);
    if (e->pool) sl_kv_pool_free(e->pool);
    free(e->logits);
    free(e->scratch);
    free(e->batch);
    free(e->bmap);
    free(e->running);
    free(e);
    return rc;
}

void sl_engine_free(sl_engine *e) {
    if (!e) return;
    uv_mutex_lock(&e->mu);
    e->stopping = 1;
    uv_cond_signal(&e->cond);
    uv_mutex_unlock(&e->mu);
    uv_thread_join(&e->thread);
    /* The thread finished every request; drop the ready list's references. */
    sl_engine_req *rs[64];
    int n;
    while ((n = sl_engine_take_ready(e, rs, 64)) > 0)
        for (int i = 0; i < n; i++) sl_engine_req_release(rs[i]);
    sl_forward_free(e->fwd);
    sl_kv_pool_free(e->pool);
    free(e->logits);
    free(e->scratch);
    free(e->batch);
    free(e->bmap);
    free(e->running);
    uv_mutex_destroy(&e->mu);
    uv_cond_destroy(&e->cond);
    uv_mutex_destroy(&e->ready_mu);
    uv_mutex_destroy(&e->stats_mu);
    free(e);
}

int sl_engine_max_ctx(const sl_engine *e) { return e->max_ctx; }

int sl_engine_submit(sl_engine *e, const int32_t *prompt, int n_prompt, struct sl_adapter *adapter,
                     const sl_engine_params *p, void *user, sl_engine_req **out, char *err, size_t errlen) {
    *out = NULL;
    int rc = 0;
    if (n_prompt < 1) {
        rc = sl__errf(err, errlen, SL_EINVAL, "the prompt is empty");
        goto fail;
    }
    if (p->max_tokens < 1) {
        rc = sl__errf(err, errlen, SL_EINVAL, "max_tokens must be at least 1, got %d", p->max_tokens);
        goto fail;
    }
    if ((int64_t)n_prompt + p->max_tokens > e->max_ctx) {
        rc = sl__errf(err, errlen, SL_ETOOBIG,
                      "this model's maximum context length is %d tokens, but %d tokens were requested "
                      "(%d in the prompt, %d for the completion)",
                      e->max_ctx, n_prompt + p->max_tokens, n_prompt, p->max_tokens);
        goto fail;
    }
    if (sl_kv_blocks_for(e->pool, n_prompt + p->max_tokens) > sl_kv_pool_total_blocks(e->pool)) {
        rc = sl__errf(err, errlen, SL_ETOOBIG, "%d tokens do not fit in the KV cache (%d blocks of %d)",
                      n_prompt + p->max_tokens, sl_kv_pool_total_blocks(e->pool), e->o.kv_block_size);
        goto fail;
    }
    for (int i = 0; i < n_prompt; i++) {
        if (prompt[i] < 0 || prompt[i] >= e->vocab) {
            rc = sl__errf(err, errlen, SL_EINVAL, "prompt token %d at index %d is outside the vocabulary (0..%d)",
                          prompt[i], i, e->vocab - 1);
            goto fail;
        }
    }
    if (p->n_stop > SL_ENGINE_MAX_STOP) {
        rc = sl__errf(err, errlen, SL_EINVAL, "at most %d stop strings", SL_ENGINE_MAX_STOP);
        goto fail;
    }
    if (p->logprobs > SL_ENGINE_MAX_TOP) {
        rc = sl__errf(err, errlen, SL_EINVAL, "logprobs must be at most %d", SL_ENGINE_MAX_TOP);
        goto fail;
    }
    sl_engine_req *r = calloc(1, sizeof *r);
    if (!r) {
        rc = sl__errf(err, errlen, SL_ENOMEM, "out of memory");
        goto fail;
    }
    uv_mutex_init(&r->mu);
    atomic_init(&r->refs, 2); /* the caller's and the engine's */
    atomic_init(&r->cancel, 0);
    r->user = user;
    r->adapter = adapter; /* ownership: the reference passed in is now the request's */
    adapter = NULL;
    r->n_prompt = n_prompt;
    r->max_tokens = p->max_tokens;
    r->logprobs = p->logprobs;
    r->ignore_eos = p->ignore_eos;
    r->state = ST_QUEUED;
    r->t_submit = now_s();
    r->prompt = malloc((size_t)n_prompt * sizeof(int32_t));
    int bad = !r->prompt;
    if (!bad) memcpy(r->prompt, prompt, (size_t)n_prompt * sizeof(int32_t));
    if (p->n_stop_ids > 0) {
        r->stop_ids = malloc((size_t)p->n_stop_ids * sizeof(int32_t));
        if (r->stop_ids) {
            memcpy(r->stop_ids, p->stop_ids, (size_t)p->n_stop_ids * sizeof(int32_t));
            r->n_stop_ids = p->n_stop_ids;
        } else {
            bad = 1;
        }
    }
    for (int i = 0; i < p->n_stop && !bad; i++) {
        size_t l = strlen(p->stop[i]);
        if (!l) continue;
        if (!(r->stop[r->n_stop] = strdup(p->stop[i]))) bad = 1;
        else r->stop_len[r->n_stop++] = l;
    }
    if (!bad && sl_detok_init(&r->detok, e->tok, p->skip_special) != 0) bad = 1;
    if (bad) {
        req_free(r);
        return sl__errf(err, errlen, SL_ENOMEM, "out of memory");
    }
    sl_sampler_init(&r->sampler, &p->sample);

    uv_mutex_lock(&e->mu);
    if (e->stopping) rc = sl__errf(err, errlen, SL_ECANCELED, "the engine is shutting down");
    else if (e->n_waiting >= e->o.max_waiting)
        rc = sl__errf(err, errlen, SL_EBUSY, "the wait queue is full (%d requests)", e->n_waiting);
    if (rc) {
        uv_mutex_unlock(&e->mu);
        req_free(r);
        return rc;
    }
    r->qprev = e->wq_tail;
    if (e->wq_tail) e->wq_tail->qnext = r;
    else e->wq_head = r;
    e->wq_tail = r;
    e->n_waiting++;
    uv_cond_signal(&e->cond);
    uv_mutex_unlock(&e->mu);
    *out = r;
    return 0;
fail:
    sl_adapter_unref(adapter);
    return rc;
}

void sl_engine_cancel(sl_engine *e, sl_engine_req *r) {
    if (atomic_exchange(&r->cancel, 1)) return;
    uv_mutex_lock(&e->mu);
    uv_cond_signal(&e->cond);
    uv_mutex_unlock(&e->mu);
}

void sl_engine_cancel_all(sl_engine *e) {
    uv_mutex_lock(&e->mu);
    e->cancel_all = 1;
    uv_cond_signal(&e->cond);
    uv_mutex_unlock(&e->mu);
}

void sl_engine_get_stats(sl_engine *e, sl_engine_stats *out) {
    uv_mutex_lock(&e->mu);
    int waiting = e->n_waiting;
    uv_mutex_unlock(&e->mu);
    uv_mutex_lock(&e->stats_mu);
    *out = e->st;
    uv_mutex_unlock(&e->stats_mu);
    out->waiting = waiting;
}
