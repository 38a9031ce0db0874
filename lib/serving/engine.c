/* engine.c — the continuous-batching scheduler (see engine.h for the model).
 *
 * Threads and locks:
 *   e->mu        the tenants and their wait queues, the stopping flag, the condition the
 *                engine sleeps on; the engine thread holds it while it schedules a step.
 *   r->mu        one request's published output (pending buffer, finish status).
 *   e->ready_mu  the ready list (requests with output the consumer has not taken yet).
 *   e->stats_mu  the counters and histograms.
 * Order: e->mu before r->mu; ready_mu and stats_mu are leaves. Everything else of a
 * running sequence (KV table, sampler, detokenizer, generated text) belongs to the
 * engine thread alone. */
#include "engine.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "adapter.h"
#include "buf.h"
#include "constraint.h"
#include "error.h"
#include "forward.h"
#include "kvcache.h"
#include "tokenizer.h"

#include <nettle/sha2.h>

const double sl_engine_hist_bounds[SL_ENGINE_HIST_N] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                        0.25,  0.5,    1.0,   2.5,  5.0,   10.0, 30.0};
const double sl_engine_batch_bounds[SL_ENGINE_HIST_N] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256};

enum { ST_QUEUED, ST_PREFILL, ST_DECODE, ST_DONE };

/* A tenant: its clock, its counts, its wait queue (all under e->mu). */
typedef struct tenant {
    char name[SL_ENGINE_NAME_MAX + 1];
    double weight;
    double vtime;     /* tokens computed for it / weight: the fair-queuing clock */
    int running, waiting;
    uint64_t tokens, preemptions, rejected;
    struct sl_engine_req *qhead, *qtail; /* by (priority, arrival) */
} tenant;

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
    int ti;          /* its tenant (index in e->tenants) */
    int priority;
    uint64_t arrival; /* submission order */
    char *label;     /* adapter label for metrics (owned; "" for the base model) */
    uint8_t root[SL_KV_HASH_BYTES]; /* prefix cache root key */

    /* Engine thread (and e->mu while queued). */
    struct sl_adapter *adapter; /* one reference, dropped at finish */
    int state;
    sl_kv_seq kv;
    int32_t *toks;   /* (toks_cap) the prompt, then every generated token; owned */
    int toks_cap;
    int32_t last;    /* last sampled token, fed at the next decode step */
    int n_gen;
    int target;      /* positions to reach by prefill (the prompt; after a preemption, all but the last token) */
    int chunk;       /* tokens of this sequence in the current step */
    uint64_t admitted; /* admission order (the latest admitted is preempted first) */
    int started;     /* kv begun (the root is set once) */
    int counted;     /* its prompt was counted in the prefix cache stats */
    int passed;      /* admissions that passed it while it did not fit (e->mu) */
    sl_sampler sampler;
    sl_cmatch *cm;   /* structured output state, NULL: none (owned) */
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
    uint64_t *cmask; /* ((vocab + 63) / 64) allowed tokens of a constrained sequence */
    sl_batch_seq *batch;   /* (max_running) */
    sl_engine_req **bmap;  /* (max_running) request of each batch entry */
    sl_engine_req **running; /* (max_running), grouped by adapter */
    int n_running;

    uv_thread_t thread;
    int thread_started;
    uv_mutex_t mu;
    uv_cond_t cond;
    tenant *tenants;   /* (n_tenants) e->mu; a tenant is never removed */
    int n_tenants, cap_tenants;
    int n_waiting;
    uint64_t n_arrived, n_admitted;
    int preempted_now; /* a preemption happened while planning this step */
    sl_engine_req **order; /* (max_running) plan scratch: running sequences in run order */
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
    free(r->toks);
    free(r->label);
    free(r->stop_ids);
    for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
    sl_buf_free(&r->gen);
    if (r->detok) sl_detok_free(r->detok);
    sl_cmatch_free(r->cm);
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
    if (!r->ignore_eos || r->cm) /* a constraint allows EOS only when the output is complete */
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

/* ---------------------------------------------------------------- tenants and queues (e->mu) */

static int req_before(const sl_engine_req *a, const sl_engine_req *b) {
    return a->priority != b->priority ? a->priority < b->priority : a->arrival < b->arrival;
}

/* A tenant that had nothing running or waiting starts at the lowest clock of the busy ones:
 * idle time banks no credit. */
static void tenant_wake(sl_engine *e, int ti) {
    double lo = 0;
    int any = 0;
    for (int i = 0; i < e->n_tenants; i++) {
        tenant *u = &e->tenants[i];
        if (i == ti || (!u->running && !u->waiting)) continue;
        if (!any || u->vtime < lo) lo = u->vtime;
        any = 1;
    }
    if (any && e->tenants[ti].vtime < lo) e->tenants[ti].vtime = lo;
}

/* Puts R in its tenant's queue, in (priority, arrival) order. */
static void tq_insert(sl_engine *e, sl_engine_req *r) {
    tenant *t = &e->tenants[r->ti];
    if (!t->running && !t->waiting) tenant_wake(e, r->ti);
    sl_engine_req *at = t->qtail;
    while (at && req_before(r, at)) at = at->qprev;
    r->qprev = at;
    r->qnext = at ? at->qnext : t->qhead;
    if (r->qnext) r->qnext->qprev = r;
    else t->qtail = r;
    if (at) at->qnext = r;
    else t->qhead = r;
    t->waiting++;
    e->n_waiting++;
}

static void tq_unlink(sl_engine *e, sl_engine_req *r) {
    tenant *t = &e->tenants[r->ti];
    if (r->qprev) r->qprev->qnext = r->qnext;
    else t->qhead = r->qnext;
    if (r->qnext) r->qnext->qprev = r->qprev;
    else t->qtail = r->qprev;
    r->qnext = r->qprev = NULL;
    t->waiting--;
    e->n_waiting--;
}

/* Charges C tokens of R's step work to its tenant's clock (negative: a preempted chunk). */
static void charge(sl_engine *e, const sl_engine_req *r, int c) {
    tenant *t = &e->tenants[r->ti];
    t->vtime += c / t->weight;
    t->tokens += (uint64_t)(int64_t)c;
}

/* ---------------------------------------------------------------- running set */

/* Ends R: frees its KV blocks and its adapter reference, publishes the end, drops the
 * engine's reference. R must no longer be in the running array or a wait queue. */
static int finish_req(sl_engine *e, sl_engine_req *r, sl_finish reason, const char *error) {
    sl_kv_seq_release(e->pool, &r->kv);
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

/* Takes R out of the running array (its tenant's count with it; e->mu held). */
static void running_drop(sl_engine *e, sl_engine_req *r) {
    for (int i = 0; i < e->n_running; i++)
        if (e->running[i] == r) {
            memmove(e->running + i, e->running + i + 1, (size_t)(e->n_running - i - 1) * sizeof *e->running);
            e->n_running--;
            e->tenants[r->ti].running--;
            return;
        }
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
    e->tenants[r->ti].running++;
}

/* Who keeps running first (see engine.h, "Order"): lower tenant clock, lower priority value,
 * earlier admission. Negative: A goes before B. */
static int run_order(const sl_engine *e, const sl_engine_req *a, const sl_engine_req *b) {
    double va = e->tenants[a->ti].vtime, vb = e->tenants[b->ti].vtime;
    if (a->ti != b->ti && va != vb) return va < vb ? -1 : 1;
    if (a->priority != b->priority) return a->priority < b->priority ? -1 : 1;
    return a->admitted < b->admitted ? -1 : a->admitted > b->admitted;
}

/* The running sequence to preempt: the last in run order, of tenant TI only if TI >= 0, and
 * only if after WORSE_THAN (when not NULL). NULL if none. */
static sl_engine_req *victim(sl_engine *e, int ti, const sl_engine_req *worse_than) {
    sl_engine_req *v = NULL;
    for (int i = 0; i < e->n_running; i++) {
        sl_engine_req *r = e->running[i];
        if (ti >= 0 && r->ti != ti) continue;
        if (!v || run_order(e, r, v) > 0) v = r;
    }
    if (v && worse_than && run_order(e, v, worse_than) <= 0) return NULL;
    return v;
}

/* Preempts R: its blocks go back (named ones stay cached), and it waits at the front of its
 * tenant's queue to be recomputed. Its sampler, detokenizer, generated tokens and text stay.
 * Returns the budget its chunk had. */
static int preempt(sl_engine *e, sl_engine_req *r) {
    int chunk = r->chunk;
    charge(e, r, -chunk);
    running_drop(e, r);
    sl_kv_seq_release(e->pool, &r->kv);
    r->state = ST_QUEUED;
    r->chunk = 0;
    tq_insert(e, r);
    e->tenants[r->ti].preemptions++;
    e->preempted_now = 1;
    uv_mutex_lock(&e->stats_mu);
    e->st.preemptions++;
    uv_mutex_unlock(&e->stats_mu);
    return chunk;
}

/* ---------------------------------------------------------------- tokens and text */

/* The end of R's text: what the detokenizer or a possible stop string held back is final. */
static sl_finish end_text(sl_engine_req *r, sl_finish fin) {
    const char *d;
    size_t dn;
    if (sl_detok_flush(r->detok, &d, &dn) == 0 && dn && sl_buf_put(&r->gen, d, dn) != 0) return SL_FINISH_ERROR;
    long at = stop_scan(r);
    if (at >= 0) {
        r->gen.len = (size_t)at;
        fin = SL_FINISH_STOP;
    }
    r->committed = r->gen.len;
    return fin;
}

/* Handles one sampled token of R. Returns the finish reason (SL_FINISH_NONE: go on). */
static sl_finish on_token(sl_engine *e, sl_engine_req *r, int32_t t) {
    if (r->n_prompt + r->n_gen >= r->toks_cap) {
        int cap = r->toks_cap * 2;
        int32_t *n = realloc(r->toks, (size_t)cap * sizeof *n);
        if (!n) return SL_FINISH_ERROR;
        r->toks = n;
        r->toks_cap = cap;
    }
    r->toks[r->n_prompt + r->n_gen] = t;
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
        if (r->cm && sl_cmatch_finished(r->cm)) fin = SL_FINISH_STOP; /* complete, only EOS could follow */
        else if (r->n_gen >= r->max_tokens || r->n_prompt + r->n_gen >= e->max_ctx) fin = SL_FINISH_LENGTH;
    }
    return fin ? end_text(r, fin) : fin;
}

static void engine_log(sl_engine *e, int level, const char *msg) {
    if (e->o.log) e->o.log(e->o.log_ctx, level, msg);
}

/* Structured output, before sampling: ROW (vocab logits of R) keeps only the tokens that
 * continue a valid output; the terminators exactly when it is complete. Returns NULL, or why
 * the sequence cannot go on. */
static const char *constraint_mask(sl_engine *e, sl_engine_req *r, float *row) {
    int rc = sl_cmatch_mask(r->cm, e->cmask);
    if (rc) return rc == SL_ETOOBIG ? "structured output: the grammar is too ambiguous (work bound of a step reached)"
                                    : "structured output: out of memory";
    int done = sl_cmatch_complete(r->cm);
    for (int i = 0; i < e->n_eos + r->n_stop_ids; i++) {
        int32_t t = i < e->n_eos ? e->eos[i] : r->stop_ids[i - e->n_eos];
        if (t < 0 || t >= e->vocab) continue;
        if (done) e->cmask[t >> 6] |= 1ull << (t & 63);
        else e->cmask[t >> 6] &= ~(1ull << (t & 63));
    }
    int any = 0;
    for (int w = 0; w < (e->vocab + 63) / 64; w++) {
        uint64_t m = e->cmask[w];
        any |= m != 0;
        if (m == ~0ull) continue;
        int end = (w + 1) * 64 < e->vocab ? 64 : e->vocab - w * 64;
        for (int b = 0; b < end; b++)
            if (!((m >> b) & 1)) row[w * 64 + b] = -INFINITY;
    }
    return any ? NULL : "structured output: no token of the vocabulary can continue the output";
}

/* ---------------------------------------------------------------- scheduling (e->mu held) */

/* Ends a running R from the scheduler (e->mu held). */
static int end_running(sl_engine *e, sl_engine_req *r, sl_finish fin, const char *error) {
    running_drop(e, r);
    if (fin == SL_FINISH_LENGTH || fin == SL_FINISH_STOP) fin = end_text(r, fin);
    return finish_req(e, r, fin, error);
}

/* Grows R's blocks to hold N_POS positions, preempting others as needed. DECODE: R must
 * advance or go: victims are taken from the end of the run order, R itself included (then R
 * is preempted), and R alone that cannot grow ends with "length". Otherwise (a prompt
 * chunk) only sequences after R in run order are preempted. Returns 0 when R has the blocks. */
static int get_blocks(sl_engine *e, sl_engine_req *r, int n_pos, int decode, int *budget, int *woke) {
    for (;;) {
        int rc = sl_kv_seq_reserve(e->pool, &r->kv, n_pos);
        if (rc == 0) return 0;
        if (rc != SL_EBUSY) {
            *woke |= end_running(e, r, SL_FINISH_ERROR, "out of memory for the KV block table");
            return rc;
        }
        sl_engine_req *v = victim(e, -1, decode ? NULL : r);
        if (!v) return SL_EBUSY;
        if (v == r && e->n_running == 1) {
            /* Alone and the pool is full: it can never grow. */
            *woke |= end_running(e, r, SL_FINISH_LENGTH, NULL);
            return SL_EBUSY;
        }
        *budget += preempt(e, v);
        if (v == r) return SL_EBUSY;
    }
}

static int cmp_tenant_clock(const sl_engine *e, int a, int b) {
    const tenant *ta = &e->tenants[a], *tb = &e->tenants[b];
    if (ta->vtime != tb->vtime) return ta->vtime < tb->vtime ? -1 : 1;
    return ta->qhead->arrival < tb->qhead->arrival ? -1 : 1;
}

/* Tries to start R with at most BUDGET tokens this step: reuses its cached prefix, takes the
 * blocks of its first chunk (keeping a watermark of free blocks while others run). Returns 1
 * if R now runs (its chunk set), 0 if it does not fit yet. */
static int try_admit(sl_engine *e, sl_engine_req *r, int budget) {
    sl_kv_pool *p = e->pool;
    if (!r->started) {
        sl_kv_seq_begin(p, &r->kv, e->o.prefix_cache ? r->root : NULL);
        r->started = 1;
    }
    /* Fresh: prefill the prompt (its last token at least is computed, for the logits).
     * Resumed after a preemption: everything but the last token, which the next decode feeds. */
    int fresh = r->n_gen == 0;
    int target = fresh ? r->n_prompt : r->n_prompt + r->n_gen - 1;
    int hit = sl_kv_seq_match(p, &r->kv, r->toks, fresh ? r->n_prompt - 1 : target);
    int c = target - r->kv.n_pos;
    if (c > e->o.prefill_chunk) c = e->o.prefill_chunk;
    if (c > budget) c = budget;
    if (c < 1 && r->kv.n_pos < target) {
        sl_kv_seq_release(p, &r->kv);
        return 0;
    }
    int want = r->kv.n_pos + (c > 0 ? c : 1);
    int extra = sl_kv_blocks_for(p, want) - r->kv.n_blocks;
    int watermark = e->n_running ? sl_kv_pool_total_blocks(p) / 100 : 0;
    if (extra > sl_kv_pool_free_blocks(p) - watermark || sl_kv_seq_reserve(p, &r->kv, want) != 0) {
        sl_kv_seq_release(p, &r->kv);
        return 0;
    }
    if (!r->counted) { /* once, whatever preemptions follow */
        r->counted = 1;
        uv_mutex_lock(&e->stats_mu);
        e->st.prefix_queries += (uint64_t)r->n_prompt;
        e->st.prefix_hits += (uint64_t)hit;
        uv_mutex_unlock(&e->stats_mu);
    }
    tq_unlink(e, r);
    r->target = target;
    r->state = r->kv.n_pos < target ? ST_PREFILL : ST_DECODE;
    r->chunk = r->state == ST_PREFILL ? c : 1;
    r->admitted = ++e->n_admitted;
    running_insert(e, r);
    charge(e, r, r->chunk);
    return 1;
}

/* Tenant I's weighted share of max_running among the tenants with running or waiting work. */
static double share_of(const sl_engine *e, int i) {
    double wsum = 0;
    for (int k = 0; k < e->n_tenants; k++)
        if (e->tenants[k].running || e->tenants[k].waiting) wsum += e->tenants[k].weight;
    double s = wsum > 0 ? e->o.max_running * e->tenants[i].weight / wsum : e->o.max_running;
    return s > 1 ? s : 1;
}

/* 1 if tenant TI may take one more slot: it stays within its share, or no other waiting
 * tenant is short of its own (a free slot is not handed to a tenant over its share while
 * another waits below it: that slot would be taken back at once). */
static int may_take_slot(const sl_engine *e, int ti) {
    if (e->tenants[ti].running + 1 <= share_of(e, ti)) return 1;
    for (int i = 0; i < e->n_tenants; i++)
        if (i != ti && e->tenants[i].waiting && e->tenants[i].running + 1 <= share_of(e, i)) return 0;
    return 1;
}

/* When every slot is taken: if tenant TI holds fewer slots than its weighted share of
 * max_running, preempts the latest sequence of the tenant furthest over its share. Returns 1
 * if a slot was freed. */
static int fair_slot(sl_engine *e, int ti, int *budget) {
    if (e->tenants[ti].running + 1 > share_of(e, ti)) return 0;
    int over = -1;
    double most = 0;
    for (int i = 0; i < e->n_tenants; i++) {
        tenant *u = &e->tenants[i];
        double x = u->running - share_of(e, i);
        if (i != ti && u->running > 1 && x >= 1 && x > most) {
            most = x;
            over = i;
        }
    }
    if (over < 0) return 0;
    *budget += preempt(e, victim(e, over, NULL));
    return 1;
}

/* Plans the next step: chunks and blocks for the running sequences, then admissions.
 * Returns the tokens left in the step's budget. */
static int plan_step(sl_engine *e, int *woke) {
    int budget = e->o.max_batch_tokens;
    e->preempted_now = 0;
    /* Run order (insertion sort: a few dozen sequences). */
    int n = e->n_running;
    sl_engine_req **ord = e->order;
    for (int i = 0; i < n; i++) {
        sl_engine_req *r = e->running[i];
        r->chunk = 0;
        int j = i;
        while (j > 0 && run_order(e, ord[j - 1], r) > 0) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = r;
    }
    /* Decodes first: one token each. */
    for (int i = 0; i < n && budget > 0; i++) {
        sl_engine_req *r = ord[i];
        if (r->state != ST_DECODE) continue;
        if (get_blocks(e, r, r->kv.n_pos + 1, 1, &budget, woke) == 0) {
            r->chunk = 1;
            budget--;
            charge(e, r, 1);
        }
    }
    /* Prompt chunks with what is left: as much as the free blocks hold; a sequence that
     * cannot take a single position preempts those after it in run order. */
    sl_kv_pool *p = e->pool;
    int bs = sl_kv_pool_block_size(p);
    for (int i = 0; i < n && budget > 0; i++) {
        sl_engine_req *r = ord[i];
        if (r->state != ST_PREFILL) continue;
        int c = r->target - r->kv.n_pos;
        if (c > e->o.prefill_chunk) c = e->o.prefill_chunk;
        if (c > budget) c = budget;
        int room = (r->kv.n_blocks + sl_kv_pool_free_blocks(p)) * bs - r->kv.n_pos;
        if (room < 1) {
            if (get_blocks(e, r, r->kv.n_pos + 1, 0, &budget, woke) != 0) continue;
            room = (r->kv.n_blocks + sl_kv_pool_free_blocks(p)) * bs - r->kv.n_pos;
        }
        if (c > room) c = room;
        if (sl_kv_seq_reserve(p, &r->kv, r->kv.n_pos + c) != 0) continue;
        r->chunk = c;
        budget -= c;
        charge(e, r, c);
    }
    if (e->preempted_now) return budget; /* no admissions in a step that had to preempt */

    /* Admissions: the fairest tenant's head first. A head that does not fit may be passed by
     * up to SL_ENGINE_MAX_PASS admissions; then nobody passes it until it fits. */
    sl_engine_req *blocked = NULL;
    int tries = 0;
    while (budget > 0 && e->n_waiting > 0 && tries < 16) {
        int order[16], no = 0;
        for (int i = 0; i < e->n_tenants; i++) { /* the 16 waiting tenants with the lowest clocks */
            if (!e->tenants[i].qhead) continue;
            int j;
            if (no < 16) j = no++;
            else if (cmp_tenant_clock(e, i, order[15]) < 0) j = 15;
            else continue;
            while (j > 0 && cmp_tenant_clock(e, i, order[j - 1]) < 0) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = i;
        }
        int admitted = 0;
        for (int k = 0; k < no && !admitted && tries < 16; k++) {
            for (sl_engine_req *r = e->tenants[order[k]].qhead; r && !admitted && tries < 16; r = r->qnext) {
                if (r == blocked) continue;
                /* Every slot taken: only a tenant short of its share gets one (next tenant). */
                if (e->n_running >= e->o.max_running ? !fair_slot(e, r->ti, &budget) : !may_take_slot(e, r->ti)) break;
                tries++;
                if (try_admit(e, r, budget)) {
                    budget -= r->chunk;
                    admitted = 1;
                    if (blocked && ++blocked->passed >= SL_ENGINE_MAX_PASS) goto done;
                } else if (!blocked) {
                    blocked = r;
                    if (blocked->passed >= SL_ENGINE_MAX_PASS) goto done;
                }
            }
        }
        if (!admitted) break;
    }
done:
    return budget;
}

/* ---------------------------------------------------------------- the step */

/* One forward step over the planned chunks. Returns 1 if any request was queued for the consumer. */
static int engine_step(sl_engine *e) {
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
            b->tokens = r->toks + r->kv.n_pos;
            /* Logits only where a token is to be sampled: the end of a fresh prompt. */
            b->logits = r->n_gen == 0 && r->kv.n_pos + r->chunk == r->target ? SL_LOGITS_LAST : SL_LOGITS_NONE;
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
            uv_mutex_lock(&e->mu);
            running_drop(e, r);
            uv_mutex_unlock(&e->mu);
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
        /* Full blocks just computed become findable in the prefix cache. */
        sl_kv_seq_commit(e->pool, &r->kv, r->toks);
        if (r->state == ST_PREFILL) {
            if (r->n_gen == 0) n_prompt_tok += (uint64_t)b->n_tokens;
            if (r->kv.n_pos == r->target && r->n_gen > 0) {
                /* Recomputed after a preemption: the tokens re-prefilled here were sampled
                 * (and passed every per-token hook: stop strings, detokenizer, constraints)
                 * before; they are never sampled again. Decoding goes on with r->last. */
                r->state = ST_DECODE;
                continue;
            }
        }
        if (b->logits != SL_LOGITS_LAST) continue;
        float *lrow = e->logits + (int64_t)row++ * e->vocab;
        r->state = ST_DECODE;
        const char *cerr = r->cm ? constraint_mask(e, r, lrow) : NULL;
        if (cerr) {
            uv_mutex_lock(&e->mu);
            running_drop(e, r);
            uv_mutex_unlock(&e->mu);
            woke |= finish_req(e, r, SL_FINISH_ERROR, cerr);
            continue;
        }
        sl_engine_token tk;
        tk.logprob = 0;
        tk.n_top = 0;
        tk.id = sl_sampler_sample(&r->sampler, lrow, e->vocab, e->scratch, r->logprobs >= 0 ? &tk.logprob : NULL);
        if (r->logprobs > 0) tk.n_top = sl_top_logprobs(lrow, e->vocab, r->logprobs, tk.top_ids, tk.top_lps);
        while (tk.n_top > 0 && isinf(tk.top_lps[tk.n_top - 1])) tk.n_top--; /* masked out: not alternatives */
        if (r->cm && !is_stop_token(e, r, tk.id) && sl_cmatch_accept(r->cm, tk.id) != 0) {
            uv_mutex_lock(&e->mu);
            running_drop(e, r);
            uv_mutex_unlock(&e->mu);
            woke |= finish_req(e, r, SL_FINISH_ERROR, "structured output: the sampled token was refused");
            continue;
        }
        n_gen_tok++;
        uv_mutex_lock(&e->stats_mu);
        if (r->n_gen == 0) hist_add(&e->st.ttft, sl_engine_hist_bounds, now - r->t_submit);
        else hist_add(&e->st.tpot, sl_engine_hist_bounds, now - r->t_last);
        uv_mutex_unlock(&e->stats_mu);
        r->t_last = now;
        sl_finish fin = on_token(e, r, tk.id);
        woke |= publish(e, r, &tk, SL_FINISH_NONE, NULL);
        if (fin) {
            uv_mutex_lock(&e->mu);
            running_drop(e, r);
            uv_mutex_unlock(&e->mu);
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
        while (!e->stopping && !e->cancel_all && e->n_running == 0 && e->n_waiting == 0) uv_cond_wait(&e->cond, &e->mu);
        int stopping = e->stopping;
        int cancel_all = e->cancel_all || stopping;
        e->cancel_all = 0;
        /* Cancelled requests leave the wait queues at once, running ones before the step. */
        for (int i = 0; i < e->n_tenants; i++)
            for (sl_engine_req *r = e->tenants[i].qhead, *nx; r; r = nx) {
                nx = r->qnext;
                if (cancel_all || atomic_load(&r->cancel)) {
                    tq_unlink(e, r);
                    woke |= finish_req(e, r, SL_FINISH_CANCELLED, NULL);
                }
            }
        for (int i = 0; i < e->n_running;) {
            sl_engine_req *r = e->running[i];
            if (cancel_all || atomic_load(&r->cancel)) {
                running_drop(e, r);
                woke |= finish_req(e, r, SL_FINISH_CANCELLED, NULL);
            } else {
                i++;
            }
        }
        if (stopping) {
            uv_mutex_unlock(&e->mu);
            if (woke && e->o.wake) e->o.wake(e->o.wake_ctx);
            break;
        }
        plan_step(e, &woke);
        uv_mutex_unlock(&e->mu);

        int stepped = 0;
        for (int i = 0; i < e->n_running && !stepped; i++) stepped = e->running[i]->chunk > 0;
        if (stepped) woke |= engine_step(e);
        else if (e->n_running || e->n_waiting) uv_sleep(1); /* nothing fits now: wait for a cancel or a submit */
        sl_kv_stats ks;
        sl_kv_pool_get_stats(e->pool, &ks);
        uv_mutex_lock(&e->stats_mu);
        e->st.running = e->n_running;
        e->st.kv_blocks_used = ks.used;
        e->st.kv_blocks_cached = ks.cached;
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
        size_t per_block = sl_kv_bytes_per_block(m, o->kv_block_size, (sl_wtype)o->kv_dtype);
        size_t want = (size_t)o->max_running * (size_t)((e->max_ctx + o->kv_block_size - 1) / o->kv_block_size);
        size_t cap = per_block ? (o->kv_cache_mb << 20) / per_block : want;
        if (want > cap) want = cap;
        if (want < 1) want = 1;
        o->kv_blocks = want > (size_t)1 << 30 ? 1 << 30 : (int)want;
    }
    if (o->tenant_max_waiting <= 0 || o->tenant_max_waiting > o->max_waiting) o->tenant_max_waiting = o->max_waiting;
    if (o->tenant_max_inflight <= 0) o->tenant_max_inflight = o->max_running + o->max_waiting;
    if ((rc = sl_kv_pool_init(&e->pool, m, o->kv_blocks, o->kv_block_size, (sl_wtype)o->kv_dtype, err, errlen)) != 0)
        goto fail;
    sl_kv_pool_set_prefix_cache(e->pool, o->prefix_cache);
    if ((rc = sl_forward_init(&e->fwd, m, o->max_batch_tokens, o->max_running, o->max_running, e->max_ctx, err,
                              errlen)) != 0 ||
        (rc = sl_forward_set_threads(e->fwd, o->threads, err, errlen)) != 0)
        goto fail;
    e->logits = malloc((size_t)o->max_running * (size_t)e->vocab * sizeof(float));
    e->scratch = malloc((size_t)2 * (size_t)e->vocab * sizeof(float));
    e->cmask = malloc((size_t)(e->vocab + 63) / 64 * sizeof *e->cmask);
    e->batch = calloc((size_t)o->max_running, sizeof *e->batch);
    e->bmap = calloc((size_t)o->max_running, sizeof *e->bmap);
    e->running = calloc((size_t)o->max_running, sizeof *e->running);
    e->order = calloc((size_t)o->max_running, sizeof *e->order);
    if (!e->logits || !e->scratch || !e->cmask || !e->batch || !e->bmap || !e->running || !e->order) {
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
    e->st.prefix_cache = o->prefix_cache != 0;
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
    free(e->cmask);
    free(e->batch);
    free(e->bmap);
    free(e->running);
    free(e->order);
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
    free(e->cmask);
    free(e->batch);
    free(e->bmap);
    free(e->running);
    free(e->order);
    free(e->tenants);
    uv_mutex_destroy(&e->mu);
    uv_cond_destroy(&e->cond);
    uv_mutex_destroy(&e->ready_mu);
    uv_mutex_destroy(&e->stats_mu);
    free(e);
}

int sl_engine_max_ctx(const sl_engine *e) { return e->max_ctx; }

/* Index of tenant NAME, created if new (e->mu held); -1: out of memory. */
static int tenant_get(sl_engine *e, const char *name) {
    for (int i = 0; i < e->n_tenants; i++)
        if (!strcmp(e->tenants[i].name, name)) return i;
    if (e->n_tenants == e->cap_tenants) {
        int cap = e->cap_tenants ? e->cap_tenants * 2 : 8;
        tenant *t = realloc(e->tenants, (size_t)cap * sizeof *t);
        if (!t) return -1;
        e->tenants = t;
        e->cap_tenants = cap;
    }
    tenant *t = &e->tenants[e->n_tenants];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->weight = 1;
    return e->n_tenants++;
}

/* The prefix cache root: SHA-256 over length-prefixed fields, so no two different
 * (tenant, adapter, salt) triples give the same bytes. */
static void cache_root(uint8_t out[SL_KV_HASH_BYTES], const char *tname, uint64_t adapter_uid, const char *salt) {
    struct sha256_ctx c;
    sha256_init(&c);
    const char *fields[2] = {tname, salt};
    sha256_update(&c, 12, (const uint8_t *)"symlora-kv1");
    uint8_t u[8];
    for (int i = 0; i < 8; i++) u[i] = (uint8_t)(adapter_uid >> (8 * i));
    sha256_update(&c, 8, u);
    for (int f = 0; f < 2; f++) {
        uint64_t n = strlen(fields[f]);
        for (int i = 0; i < 8; i++) u[i] = (uint8_t)(n >> (8 * i));
        sha256_update(&c, 8, u);
        sha256_update(&c, (size_t)n, (const uint8_t *)fields[f]);
    }
    sha256_digest(&c, SL_KV_HASH_BYTES, out);
}

int sl_engine_submit(sl_engine *e, const int32_t *prompt, int n_prompt, struct sl_adapter *adapter,
                     const sl_engine_params *p, void *user, sl_engine_req **out, char *err, size_t errlen) {
    *out = NULL;
    int rc = 0;
    const char *tname = p->tenant && p->tenant[0] ? p->tenant : "default";
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
    /* Blocks are taken as tokens come: only the prompt (and one token) must fit the pool. */
    if (sl_kv_blocks_for(e->pool, n_prompt + 1) > sl_kv_pool_total_blocks(e->pool)) {
        rc = sl__errf(err, errlen, SL_ETOOBIG, "a prompt of %d tokens does not fit in the KV cache (%d blocks of %d)",
                      n_prompt, sl_kv_pool_total_blocks(e->pool), e->o.kv_block_size);
        goto fail;
    }
    if (strlen(tname) > SL_ENGINE_NAME_MAX) {
        rc = sl__errf(err, errlen, SL_EINVAL, "the tenant name is longer than %d bytes", SL_ENGINE_NAME_MAX);
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
    if (p->constraint && sl_constraint_n_vocab(p->constraint) != e->vocab) {
        rc = sl__errf(err, errlen, SL_EINVAL, "the constraint was compiled for %d tokens, the model has %d",
                      sl_constraint_n_vocab(p->constraint), e->vocab);
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
    r->priority = p->priority;
    r->state = ST_QUEUED;
    r->t_submit = now_s();
    cache_root(r->root, e->o.share_tenants ? "" : tname, r->adapter ? sl_adapter_uid(r->adapter) : 0,
               p->cache_salt ? p->cache_salt : "");
    r->toks_cap = n_prompt + 16;
    r->toks = malloc((size_t)r->toks_cap * sizeof(int32_t));
    r->label = strdup(p->label ? p->label : "");
    int bad = !r->toks || !r->label;
    if (!bad) memcpy(r->toks, prompt, (size_t)n_prompt * sizeof(int32_t));
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
    if (!bad && p->constraint && !(r->cm = sl_cmatch_new(p->constraint))) bad = 1;
    if (bad) {
        req_free(r);
        return sl__errf(err, errlen, SL_ENOMEM, "out of memory");
    }
    sl_sampler_init(&r->sampler, &p->sample);

    uv_mutex_lock(&e->mu);
    int ti = e->stopping ? -1 : tenant_get(e, tname);
    if (e->stopping) rc = sl__errf(err, errlen, SL_ECANCELED, "the engine is shutting down");
    else if (ti < 0) rc = sl__errf(err, errlen, SL_ENOMEM, "out of memory");
    else if (e->n_waiting >= e->o.max_waiting)
        rc = sl__errf(err, errlen, SL_EBUSY, "the wait queue is full (%d requests)", e->n_waiting);
    else if (e->tenants[ti].waiting >= e->o.tenant_max_waiting) {
        e->tenants[ti].rejected++;
        rc = sl__errf(err, errlen, SL_EBUSY, "tenant '%s' has %d requests waiting, its limit", tname,
                      e->tenants[ti].waiting);
    } else if (e->tenants[ti].waiting + e->tenants[ti].running >= e->o.tenant_max_inflight) {
        e->tenants[ti].rejected++;
        rc = sl__errf(err, errlen, SL_EBUSY, "tenant '%s' has %d requests in flight, its limit", tname,
                      e->tenants[ti].waiting + e->tenants[ti].running);
    }
    if (rc) {
        uv_mutex_unlock(&e->mu);
        req_free(r);
        return rc;
    }
    if (p->weight > 0) e->tenants[ti].weight = p->weight;
    r->ti = ti;
    r->arrival = ++e->n_arrived;
    tq_insert(e, r);
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
    out->kv_blocks_total = sl_kv_pool_total_blocks(e->pool);
}

int sl_engine_get_tenants(sl_engine *e, sl_engine_tenant_stats *out, int max) {
    uv_mutex_lock(&e->mu);
    int n = e->n_tenants;
    for (int i = 0; i < n && i < max; i++) {
        const tenant *t = &e->tenants[i];
        sl_engine_tenant_stats *o = &out[i];
        memcpy(o->name, t->name, sizeof o->name);
        o->weight = t->weight;
        o->running = t->running;
        o->waiting = t->waiting;
        o->tokens = t->tokens;
        o->preemptions = t->preemptions;
        o->rejected = t->rejected;
    }
    uv_mutex_unlock(&e->mu);
    return n;
}

/* Appends LABEL to the comma-separated list in BUF unless it is there (or does not fit). */
static void label_add(char *buf, size_t cap, const char *label) {
    size_t n = strlen(label), len = strlen(buf);
    if (!n) return;
    for (const char *p = buf; *p;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (l == n && !memcmp(p, label, n)) return;
        p += l + (c != NULL);
    }
    if (len + (len > 0) + n + 1 > cap) return;
    if (len) buf[len++] = ',';
    memcpy(buf + len, label, n + 1);
}

void sl_engine_get_adapter_labels(sl_engine *e, char *run, size_t run_len, char *wait, size_t wait_len) {
    if (run_len) run[0] = 0;
    if (wait_len) wait[0] = 0;
    uv_mutex_lock(&e->mu);
    for (int i = 0; i < e->n_running && run_len; i++) label_add(run, run_len, e->running[i]->label);
    for (int i = 0; i < e->n_tenants && wait_len; i++)
        for (const sl_engine_req *r = e->tenants[i].qhead; r; r = r->qnext) label_add(wait, wait_len, r->label);
    uv_mutex_unlock(&e->mu);
}
