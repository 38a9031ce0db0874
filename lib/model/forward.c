/* forward.c — the batched Llama/Qwen2 forward pass with per-sequence adapters.
 *
 * Shapes, for T tokens of the step (all sequences concatenated), D = hidden,
 * Hq = n_heads * head_dim, Hkv = n_kv_heads * head_dim, FF = intermediate (not I: complex.h):
 *   x  = embed[tokens]                                  (T, D)
 *   per layer:
 *     xn = rmsnorm(x) * attn_norm                       (T, D)
 *     q, k, v = xn Wq^T, xn Wk^T, xn Wv^T (+ bias)      (T, Hq), (T, Hkv), (T, Hkv)
 *               (+ adapters per segment)
 *     rope(q, k); k, v -> KV blocks
 *     att = softmax(q K^T / sqrt(hd), causal) V          (T, Hq), per sequence and head
 *     x += att Wo^T (+ adapter)
 *     xn = rmsnorm(x) * ffn_norm
 *     x += (silu(xn Wg^T) * (xn Wu^T)) Wd^T (+ adapters)
 *   logits = rmsnorm(x[rows]) * final_norm  lm_head^T   (R, vocab)
 */
#include "forward.h"

#include "adapter.h"
#include "bigalloc.h"
#include "error.h"
#include "gemm.h"
#include "kernels.h"
#include "lowrank.h"
#include "model_internal.h"
#include "pool.h"
#include "safetensors.h"
#include "steal.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_THREADS = 64 };
_Static_assert((int)MAX_THREADS <= (int)SL_STEAL_MAX, "a linear job deals units to every thread (steal.h)");
/* Linear jobs (lin_job_run): rows per adapter item, the most rows a fused job takes, the
 * columns of its GEMM chunks, and of the units an unfused job deals (a multiple of the widest
 * tile, 8 panels: gemm.h, so a one-row step keeps its 8-panel tiles). */
enum { AD_ROWS = 32, FUSED_MAX_T = 256, GEMM_CHUNK = 64, UNFUSED_CHUNK = 256 };

/* An adapter item of a linear job: rows [t0, t0 + rows) of a run of sequences with adapter A. */
typedef struct ad_item {
    const sl_adapter *a;
    int t0, rows;
} ad_item;

/* A linear job (see lin_job_run): up to three base linears of one input, and their adapters;
 * D: a linear's delta rows (T, out) when the job runs fused. */
typedef struct lin_job {
    sl_forward *f;
    int n_lin, T, layer, fused;
    sl_wtype wt;
    struct { float *y; const float *x; const void *w; const float *bias; int out, in; sl_module mod; float *d; } l[3];
    /* The GEMM chunks (lin_job_deal): thread i's own are units [first[i], first[i + 1]), its
     * column share of each linear in turn, CHUNK columns at a time. */
    int chunk, n_units, first[MAX_THREADS + 1];
    sl_steal units;
    _Atomic int units_begun, next_item; /* fused: chunks begun, items taken (all threads) */
} lin_job;

struct sl_forward {
    const sl_model *m;
    int max_tokens, max_seqs, max_logit_rows, max_ctx;
    float *x;     /* (max_tokens, D) residual stream */
    float *xn;    /* (max_tokens, max(D, Hq)) normed input of a linear layer */
    float *q;     /* (max_tokens, Hq) */
    float *k;     /* (max_tokens, Hkv) */
    float *v;     /* (max_tokens, Hkv) */
    float *att;   /* (max_tokens, Hq) */
    float *g;     /* (max_tokens, FF) */
    float *u;     /* (max_tokens, FF) */
    float *cosv;  /* (max_tokens, hd/2) RoPE cos per token */
    float *sinv;  /* (max_tokens, hd/2) */
    float *xl;    /* (max_logit_rows, D) final hidden rows that want logits */
    int *seq_off; /* (max_seqs + 1) first token of each sequence in the step */
    /* Threads: the caller plus nth - 1 pool workers split each phase of a step (columns of
     * a base GEMM, adapter segments, attention rows). Each has its own scratch: */
    sl_pool *pool;
    int nth;
    int prefetch_walks; /* bigalloc.h: sl_prefetch_walks_pages, read once at init */
    float *s[MAX_THREADS];  /* (groups, max_ctx) attention scores of one row, per query head of a KV group */
    _Atomic int att_next;   /* the attention job's next item (attend_job_run) */
    /* Attention rows longer than a part, in parts (kernels.h): a part block holds one
     * (row, KV head)'s parts, (max_parts, groups, hd) outputs then (max_parts, groups, 2)
     * (m, l). ap: each thread's, for the rows it computes whole; split: 2 * nth blocks for a
     * step of few decode rows whose parts are dealt to every thread (attend_job_run), with
     * the count of parts done of each (the last to finish joins them). */
    int max_parts;
    float *ap[MAX_THREADS];
    float *split;
    _Atomic int *split_done;
    float *ah[MAX_THREADS]; /* (ah_cap) adapter intermediate h = x Q[:in] or x A^T of one row, (r) */
    size_t ah_cap;
    /* The adapter items of the linear job being run, and a fused job's deltas until the rows
     * stage after it adds them (pend, has_pend). dl: (dl_rows, the widest job's outputs). */
    ad_item *items;
    int n_items;
    float *dl;
    int dl_rows;
    lin_job pend;
    int has_pend;
    /* The step being run, for the jobs. */
    const sl_batch_seq *seqs;
    int n_seqs, T, layer;
    sl_kv_pool *kv;
};

/* Floats of one part block (struct sl_forward: ap, split). */
static size_t part_block_floats(const sl_forward *f) {
    const sl_model_config *c = &f->m->cfg;
    return (size_t)f->max_parts * (size_t)(c->n_heads / c->n_kv_heads) * ((size_t)c->head_dim + 2);
}

void sl_forward_free(sl_forward *f) {
    if (!f) return;
    float *bufs[] = {f->x, f->xn, f->q, f->k, f->v, f->att, f->g, f->u, f->cosv, f->sinv, f->xl, f->dl};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(f->split);
    free((void *)f->split_done);
    for (int i = 0; i < MAX_THREADS; i++) {
        free(f->ap[i]);
        free(f->s[i]);
        free(f->ah[i]);
    }
    sl_pool_free(f->pool);
    free(f->seq_off);
    free(f->items);
    free(f);
}

/* Scratch rows start on a cache line: the kernels load 16 floats (64 bytes) at a time. */
static float *falloc(size_t n, int *fail) {
    size_t bytes = ((n ? n : 1) * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (!p) *fail = 1;
    return p;
}

int sl_forward_init(sl_forward **out, const sl_model *m, int max_tokens, int max_seqs, int max_logit_rows,
                    int max_ctx, char *err, size_t errlen) {
    *out = NULL;
    const sl_model_config *c = &m->cfg;
    if (max_tokens < 1 || max_seqs < 1 || max_logit_rows < 1 || max_ctx < 1 || max_seqs > max_tokens)
        return sl__errf(err, errlen, SL_EINVAL, "forward: limits must be >= 1 and max_seqs <= max_tokens");
    sl_forward *f = calloc(1, sizeof *f);
    if (!f) return SL_ENOMEM;
    f->m = m;
    f->max_tokens = max_tokens;
    f->max_seqs = max_seqs;
    f->max_logit_rows = max_logit_rows;
    f->max_ctx = max_ctx;
    size_t T = (size_t)max_tokens, D = (size_t)c->hidden, hd = (size_t)c->head_dim;
    size_t Hq = (size_t)c->n_heads * hd, Hkv = (size_t)c->n_kv_heads * hd, FF = (size_t)c->intermediate;
    int fail = 0;
    f->x = falloc(T * D, &fail);
    f->xn = falloc(T * (D > Hq ? D : Hq), &fail);
    f->q = falloc(T * Hq, &fail);
    f->k = falloc(T * Hkv, &fail);
    f->v = falloc(T * Hkv, &fail);
    f->att = falloc(T * Hq, &fail);
    f->g = falloc(T * FF, &fail);
    f->u = falloc(T * FF, &fail);
    f->cosv = falloc(T * hd / 2, &fail);
    f->sinv = falloc(T * hd / 2, &fail);
    f->s[0] = falloc((size_t)(c->n_heads / c->n_kv_heads) * (size_t)max_ctx, &fail);
    f->max_parts = (max_ctx + SL_ATT_PART - 1) / SL_ATT_PART;
    f->ap[0] = falloc(part_block_floats(f), &fail);
    f->ah_cap = 65536; /* one row's h: any rank the daemon accepts (--max-adapter-rank <= 65536) */
    f->ah[0] = falloc(f->ah_cap, &fail);
    f->xl = falloc((size_t)max_logit_rows * D, &fail);
    f->seq_off = calloc((size_t)max_seqs + 1, sizeof *f->seq_off);
    /* Items: a run gives ceil(rows / AD_ROWS), so at most max_seqs + max_tokens / AD_ROWS. The
     * delta rows of fused jobs: pages touched only by steps with adapters. */
    f->items = calloc((size_t)max_seqs + (size_t)max_tokens / AD_ROWS + 1, sizeof *f->items);
    f->dl_rows = max_tokens < FUSED_MAX_T ? max_tokens : FUSED_MAX_T;
    size_t widest = Hq + 2 * Hkv;
    if (D > widest) widest = D;
    if (2 * FF > widest) widest = 2 * FF;
    f->dl = falloc((size_t)f->dl_rows * widest, &fail);
    f->nth = 1;
    f->prefetch_walks = sl_prefetch_walks_pages();
    if (!fail && sl_pool_init(&f->pool, 1) != 0) fail = 1;
    if (fail || !f->seq_off || !f->items) {
        sl_forward_free(f);
        return sl__errf(err, errlen, SL_ENOMEM, "forward: cannot allocate scratch for %d tokens", max_tokens);
    }
    *out = f;
    return 0;
}

int sl_forward_set_threads(sl_forward *f, int n, char *err, size_t errlen) {
    if (n <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (int)cpus : 1;
    }
    if (n > MAX_THREADS) n = MAX_THREADS;
    const sl_model_config *c = &f->m->cfg;
    /* 2 * n part blocks (attend_job_run splits a step's rows when it has fewer than 2 * n
     * (sequence, KV head) pairs), their counts at 0. */
    float *split = NULL;
    _Atomic int *split_done = NULL;
    sl_pool *p = NULL;
    int fail = 0;
    if (f->max_parts > 1) {
        split = falloc(part_block_floats(f) * 2 * (size_t)n, &fail);
        split_done = calloc(2 * (size_t)n, sizeof *split_done);
        fail |= !split_done;
    }
    for (int i = 1; !fail && i < n; i++) {
        if (!f->ap[i]) f->ap[i] = falloc(part_block_floats(f), &fail);
        if (!f->s[i]) f->s[i] = falloc((size_t)(c->n_heads / c->n_kv_heads) * (size_t)f->max_ctx, &fail);
        if (!f->ah[i]) f->ah[i] = falloc(f->ah_cap, &fail);
    }
    if (fail || sl_pool_init(&p, n) != 0) {
        free(split);
        free((void *)split_done);
        return fail ? sl__errf(err, errlen, SL_ENOMEM, "forward: cannot allocate scratch for %d threads", n)
                    : sl__errf(err, errlen, SL_ENOMEM, "forward: cannot start %d threads", n);
    }
    sl_pool_free(f->pool);
    f->pool = p;
    f->nth = n;
    free(f->split);
    free((void *)f->split_done);
    f->split = split;
    f->split_done = split_done;
    return 0;
}

int sl_forward_threads(const sl_forward *f) { return f->nth; }

/* y = rmsnorm(x) * w for N rows of D. As transformers: in float, mean of squares, rsqrt(var + eps). */
static void rmsnorm(float *y, const float *x, const float *w, int n, int d, float eps) {
    for (int t = 0; t < n; t++) {
        const float *xr = x + (size_t)t * d;
        float *yr = y + (size_t)t * d;
        double ss = 0;
        for (int i = 0; i < d; i++) ss += (double)xr[i] * xr[i];
        float inv = 1.0f / sqrtf((float)(ss / d) + eps);
        for (int i = 0; i < d; i++) yr[i] = w[i] * (xr[i] * inv);
    }
}

/* Columns [c0, c1) of Y (n, out) = X (n, in) W^T (+ bias); W packed as WT (gemm.h), c0 a
 * multiple of its panel width. */
static void linear_cols(float *y, const float *x, const void *w, sl_wtype wt, const float *bias, int n, int out, int in,
                        int c0, int c1, const sl_prefetch *pf) {
    if (c1 <= c0) return;
    sl_gemm_packed_next(y, (size_t)out, x, (size_t)in, n, w, wt, in, c0, c1, pf);
    if (bias)
        for (int t = 0; t < n; t++) {
            float *yr = y + (size_t)t * out;
            for (int i = c0; i < c1; i++) yr[i] += bias[i];
        }
}

/* Thread I of N's share of OUT columns, in whole panels of the packed weights. */
static void split_cols(int out, int i, int n, int *c0, int *c1) {
    int units = (out + SL_GEMM_PANEL - 1) / SL_GEMM_PANEL;
    *c0 = (int)((long)units * i / n) * SL_GEMM_PANEL;
    *c1 = (int)((long)units * (i + 1) / n) * SL_GEMM_PANEL;
    if (*c1 > out) *c1 = out;
    if (*c0 > out) *c0 = out;
}

/* The packed weights (out, in) of the base linear a step runs after module MOD of layer L
 * (q, k, v, o, gate, up, down, then the next layer's q; the lm_head after the last down). */
static const void *next_linear(const sl_model *m, int l, sl_module mod, int *out, int *in) {
    static const sl_module order[] = {SL_MOD_Q, SL_MOD_K, SL_MOD_V, SL_MOD_O, SL_MOD_GATE, SL_MOD_UP, SL_MOD_DOWN};
    int i = 0;
    while (i < 6 && order[i] != mod) i++;
    if (i < 6) {
        sl_model_module_shape(m, order[i + 1], out, in);
        return m->layers[l].w[order[i + 1]];
    }
    if (l + 1 < m->cfg.n_layers) {
        sl_model_module_shape(m, SL_MOD_Q, out, in);
        return m->layers[l + 1].w[SL_MOD_Q];
    }
    *out = m->cfg.vocab;
    *in = m->cfg.hidden;
    return m->lm_head;
}

/* Adds one adapter's update to rows [0, n) of Y (n, out) given the module input X (n, in) (STORE:
 * writes it there, Y's values unread: the fused path's delta rows, lin_job below), with
 * the fixed-order kernel of lowrank.h, whatever n (never cblas: each row's result is then the
 * same alone, in any batch, in any chunk, on any thread), reading the adapter's matrices in
 * their own element type (am->wt; adapter.h):
 *   SymLoRA: h = x Q[:in]; h *= s*lambda; y += h Q[:out]^T   (U = VT = qt, then qt2: adapter.h)
 *   LoRA:    h = x A^T;    h *= s;        y += h B^T         (U = A, VT = B^T)
 * H: the thread's scratch of H_CAP floats (one row's h). A rank above H_CAP (possible only
 * with a library max_rank beyond 65536) is added in rank slices of H_CAP. */
static void adapter_apply(const sl_adapter_module *am, float *h, size_t h_cap, float *y, const float *x, int n, int out,
                          int in, int store) {
    int sym = am->qt != NULL;
    const unsigned char *u = sym ? am->qt : am->a, *vt = sym ? am->qt : am->bt, *vt2 = am->qt2;
    size_t es = am->wt == SL_WTYPE_F32 ? 4 : 2; /* bytes of one element of U, VT, VT2 */
    /* SymLoRA: output columns [0, min(out, in)) from qt (r, in), the rest from qt2 (adapter.h). */
    size_t ldu = (size_t)in, ldv = sym ? (size_t)in : (size_t)out, ldv2 = vt2 ? (size_t)(out - in) : 0;
    int split = vt2 ? in : out;
    for (size_t j0 = 0; j0 < (size_t)am->r; j0 += h_cap) {
        int r = (size_t)am->r - j0 < h_cap ? am->r - (int)j0 : (int)h_cap;
        /* Rank slices after the first add to what it stored. */
        (store && j0 == 0 ? sl_lowrank_store_split : sl_lowrank_add_split)(
            y, (size_t)out, x, (size_t)in, n, in, out, r, am->wt, u + j0 * ldu * es, ldu, am->scale + j0,
            vt + j0 * ldv * es, ldv, split, vt2 ? vt2 + j0 * ldv2 * es : NULL, ldv2, h);
    }
}

/* A linear job: up to three base linears over the same T rows (one input X), split between
 * the threads by output columns, and the adapter updates of those rows. Each thread owns its
 * column share of every linear, as chunks (lin_job_deal), and runs them in order; a thread
 * done with its own takes the last chunks of a slower one (steal.h), so a vCPU slowed by its
 * host does not hold the step. Adapter items are (run of sequences sharing an adapter, chunk
 * of up to AD_ROWS of its rows), each adding the updates of every module of the job
 * (f->items, built by modules_forward), taken in order by whichever thread is free. A GEMM
 * column and an item's rows are computed the same on any thread (gemm.h, lowrank.h), so
 * neither the dealing nor the stealing ever changes a result.
 *
 * Two ways to run the items, with the same bits:
 *   fused (T <= FUSED_MAX_T, the decode steps): the chunks are GEMM_CHUNK columns, and after
 *     each chunk its thread runs the items due by then (take_items: in step with the chunks
 *     begun). While a chunk computes, the GEMM prefetches into L2 the matrices of the items
 *     that run after it (sl_prefetch): their bytes stream from memory under the GEMM's
 *     arithmetic instead of after it, where one core's outstanding misses bound them (a batch
 *     of 64 sequences with 64 rank-16 adapters reads 850 MB of them per step). An item
 *     cannot add to rows whose columns other threads are still writing, so it writes its
 *     update c to the module's delta rows (f->dl; sl_lowrank_store_split: what adding c to
 *     -0.0f gives, for every c), and the rows stage after the linear adds them to Y
 *     (deltas_add): y + c, what the in-place add gives.
 *   apart (longer steps): the GEMM job (chunks of UNFUSED_CHUNK columns), then the items as a
 *     second job, adding in place.
 * Each chunk prefetches the first panels of what its owner runs next: the linear's next chunk,
 * or its share of the linear that runs after it (gemm.h: sl_gemm_packed_next); the lm_head
 * job (LAYER < 0) has no next linear and no adapters. */

/* Appends to PF the first panel group (4 panels: AVX-512's widest tile) of thread I of N's
 * share of the base linear that runs after module MOD of the job's layer. */
static void prefetch_next_linear(const lin_job *j, sl_module mod, int i, int n, sl_prefetch *pf) {
    if (j->layer < 0) return;
    int nout = 0, nin = 0, n0, n1;
    const unsigned char *next = next_linear(j->f->m, j->layer, mod, &nout, &nin);
    split_cols(nout, i, n, &n0, &n1);
    int panels = (n1 - n0 + SL_GEMM_PANEL - 1) / SL_GEMM_PANEL;
    size_t pstride = sl_gemm_panel_bytes(j->wt, nin);
    sl_prefetch_add(pf, next + (size_t)(n0 / SL_GEMM_PANEL) * pstride, (size_t)(panels < 4 ? panels : 4) * pstride);
}

/* The bytes of an adapted module's matrices, contiguous from its first (adapter.c's layout:
 * SymLoRA qt then qt2, (r, max(in, out)); LoRA a then bt, (r, in) + (r, out)). */
static const void *adapter_module_span(const sl_adapter_module *am, int out, int in, size_t *bytes) {
    size_t es = am->wt == SL_WTYPE_F32 ? 4 : 2;
    *bytes = (size_t)am->r * (am->qt ? (size_t)(out > in ? out : in) : (size_t)in + (size_t)out) * es;
    return am->qt ? am->qt : am->a;
}

static const sl_adapter_module *item_module(const lin_job *j, const ad_item *it, int k) {
    const sl_adapter_module *am = sl_adapter_get_module(it->a, j->layer, j->l[k].mod);
    return am && am->r > 0 ? am : NULL;
}

/* Runs item IT on thread I: fused, into the delta rows; apart, into Y. */
static void ad_item_run(const lin_job *j, const ad_item *it, int i) {
    sl_forward *f = j->f;
    for (int k = 0; k < j->n_lin; k++) {
        const sl_adapter_module *am = item_module(j, it, k);
        if (!am) continue;
        int out = j->l[k].out, in = j->l[k].in;
        float *y = (j->fused ? j->l[k].d : j->l[k].y) + (size_t)it->t0 * out;
        adapter_apply(am, f->ah[i], f->ah_cap, y, j->l[k].x + (size_t)it->t0 * in, it->rows, out, in, j->fused);
    }
}

/* Chunks of linear K in thread H's share (of N threads), and that share [*C0, *C1). */
static int share_chunks(const lin_job *j, int k, int h, int n, int *c0, int *c1) {
    split_cols(j->l[k].out, h, n, c0, c1);
    return *c1 > *c0 ? (*c1 - *c0 + j->chunk - 1) / j->chunk : 0;
}

/* Deals the job's GEMM chunks to N threads (sl_steal: a slow thread's last chunks go to a
 * fast one); before sl_pool_run. */
static void lin_job_deal(lin_job *j, int n) {
    j->chunk = j->fused ? GEMM_CHUNK : UNFUSED_CHUNK;
    sl_steal_init(&j->units, n);
    j->first[0] = 0;
    for (int h = 0; h < n; h++) {
        int units = 0, c0, c1;
        for (int k = 0; k < j->n_lin; k++) units += share_chunks(j, k, h, n, &c0, &c1);
        j->first[h + 1] = j->first[h] + units;
        sl_steal_set(&j->units, h, (uint32_t)j->first[h], (uint32_t)j->first[h + 1]);
    }
    j->n_units = j->first[n];
    atomic_init(&j->units_begun, 0);
    atomic_init(&j->next_item, 0);
}

/* Unit U of owner H (of N): linear *K, columns [*A, *B); prefetches into PF what follows it
 * in H's share: the linear's next chunk, else the first panels of the linear after it. */
static void unit_cols(const lin_job *j, int u, int h, int n, int *k, int *a, int *b, sl_prefetch *pf) {
    int local = u - j->first[h], c0 = 0, c1 = 0;
    for (*k = 0; *k < j->n_lin; (*k)++) {
        int cnt = share_chunks(j, *k, h, n, &c0, &c1);
        if (local < cnt) break;
        local -= cnt;
    }
    *a = c0 + local * j->chunk;
    *b = c1 - *a < j->chunk ? c1 : *a + j->chunk;
    if (*b < c1) {
        int panels = (c1 - *b + SL_GEMM_PANEL - 1) / SL_GEMM_PANEL;
        size_t pstride = sl_gemm_panel_bytes(j->wt, j->l[*k].in);
        sl_prefetch_add(pf, (const unsigned char *)j->l[*k].w + (size_t)(*b / SL_GEMM_PANEL) * pstride,
                        (size_t)(panels < 4 ? panels : 4) * pstride);
    } else {
        prefetch_next_linear(j, j->l[*k].mod, h, n, pf);
    }
}

/* Fused: takes the items due once this chunk is done, [*Q0, *Q1): as many as keep the items
 * begun in step with the chunks begun (N_ITEMS * begun / N_UNITS), so every thread runs its
 * memory-bound items between compute-bound chunks. */
static void take_items(lin_job *j, int *q0, int *q1) {
    int begun = atomic_fetch_add_explicit(&j->units_begun, 1, memory_order_relaxed) + 1;
    int due = (int)((long)j->f->n_items * begun / j->n_units);
    int q = atomic_load_explicit(&j->next_item, memory_order_relaxed);
    while (q < due && !atomic_compare_exchange_weak_explicit(&j->next_item, &q, due, memory_order_relaxed,
                                                             memory_order_relaxed)) {
    }
    *q0 = q;
    *q1 = q < due ? due : q;
}

static void lin_job_run(void *ctx, int i, int n) {
    lin_job *j = ctx;
    sl_forward *f = j->f;
    int h;
    for (long u; (u = sl_steal_next(&j->units, i, &h)) >= 0;) {
        int k, a, b, q0 = 0, q1 = 0;
        sl_prefetch pf = {0};
        unit_cols(j, (int)u, h, n, &k, &a, &b, &pf);
        if (j->fused) {
            /* Prefetched under this chunk, after the GEMM's own next panels: the items' adapters,
             * each 4 KB walked first (bigalloc.h: sl_touch_pages) unless the GEMM's prefetches
             * walk pages themselves on this machine (f->prefetch_walks). With a load every 4 KB
             * rather than every 2 MB page, 64 rank-16 adapters ran 1.5-11% faster (A/B in both
             * orders, BF16 and F32 adapters); the loads of a chunk's items go out back to back,
             * so their misses overlap, and they are of bytes the items read anyway. */
            take_items(j, &q0, &q1);
            for (int q = q0; q < q1; q++)
                for (int m = 0; m < j->n_lin; m++) {
                    const sl_adapter_module *am = item_module(j, &f->items[q], m);
                    size_t bytes = 0;
                    const void *p = am ? adapter_module_span(am, j->l[m].out, j->l[m].in, &bytes) : NULL;
                    if (!f->prefetch_walks) sl_touch_pages(p, bytes);
                    sl_prefetch_add(&pf, p, bytes);
                }
        }
        linear_cols(j->l[k].y, j->l[k].x, j->l[k].w, j->wt, j->l[k].bias, j->T, j->l[k].out, j->l[k].in, a, b, &pf);
        for (int q = q0; q < q1; q++) ad_item_run(j, &f->items[q], i);
    }
    if (!j->fused) return;
    /* Items not yet taken (rounding, or a job with no columns for this thread). */
    for (int q; (q = atomic_fetch_add_explicit(&j->next_item, 1, memory_order_relaxed)) < f->n_items;)
        ad_item_run(j, &f->items[q], i);
}

/* Apart: the items after the GEMM job, each taken by the first thread free. */
static void ad_job_run(void *ctx, int i, int n) {
    lin_job *j = ctx;
    for (int q; (q = atomic_fetch_add_explicit(&j->next_item, 1, memory_order_relaxed)) < j->f->n_items;)
        ad_item_run(j, &j->f->items[q], i);
}

/* Base linears of modules MODS (sharing input X) over all T tokens, and the adapters of each
 * run of sequences (fused or apart: lin_job). Fused, their deltas wait in f->pend for the
 * rows stage that follows every linear job (rows_run adds them). */
static void modules_forward(sl_forward *f, const sl_module *mods, float *const *ys, int n_mod, const float *x) {
    const sl_layer_weights *L = &f->m->layers[f->layer];
    lin_job lj = {.f = f, .n_lin = n_mod, .T = f->T, .layer = f->layer, .wt = f->m->wtype};
    size_t doff = 0;
    for (int k = 0; k < n_mod; k++) {
        int out, in;
        sl_model_module_shape(f->m, mods[k], &out, &in);
        lj.l[k].y = ys[k];
        lj.l[k].x = x;
        lj.l[k].w = L->w[mods[k]];
        lj.l[k].bias = L->bias[mods[k]];
        lj.l[k].out = out;
        lj.l[k].in = in;
        lj.l[k].mod = mods[k];
        lj.l[k].d = f->dl + doff; /* (T, out) */
        doff += (size_t)f->T * (size_t)out;
    }
    /* The items: runs of sequences sharing an adapter that adapts a module of the job. Fused
     * only when every rank fits one h (rank slices would add to the delta more than once). */
    int fused = f->T <= f->dl_rows;
    f->n_items = 0;
    for (int s = 0; s < f->n_seqs;) {
        const sl_adapter *a = f->seqs[s].adapter;
        int e = s + 1, any = 0;
        while (e < f->n_seqs && f->seqs[e].adapter == a) e++;
        for (int k = 0; a && k < n_mod; k++) {
            const sl_adapter_module *am = sl_adapter_get_module(a, f->layer, mods[k]);
            if (am && am->r > 0) {
                any = 1;
                if ((size_t)am->r > f->ah_cap) fused = 0;
            }
        }
        for (int t0 = f->seq_off[s]; any && t0 < f->seq_off[e]; t0 += AD_ROWS)
            f->items[f->n_items++] = (ad_item){a, t0, f->seq_off[e] - t0 < AD_ROWS ? f->seq_off[e] - t0 : AD_ROWS};
        s = e;
    }
    lj.fused = fused && f->n_items > 0;
    lin_job_deal(&lj, sl_pool_size(f->pool));
    sl_pool_run(f->pool, lin_job_run, &lj);
    if (lj.fused) {
        f->pend = lj; /* deltas_add, in the rows stage next */
        f->has_pend = 1;
    } else if (f->n_items > 0) {
        sl_pool_run(f->pool, ad_job_run, &lj);
    }
}

/* Adds the pending deltas of the last fused linear job to its outputs, rows [t0, t1). */
static void deltas_add(sl_forward *f, int t0, int t1) {
    const lin_job *j = &f->pend;
    for (int q = 0; q < f->n_items; q++) {
        const ad_item *it = &f->items[q];
        int a = it->t0 > t0 ? it->t0 : t0, b = it->t0 + it->rows < t1 ? it->t0 + it->rows : t1;
        for (int k = 0; a < b && k < j->n_lin; k++) {
            if (!item_module(j, it, k)) continue;
            size_t out = (size_t)j->l[k].out;
            sl_kernels_active()->add_into(j->l[k].y + (size_t)a * out, j->l[k].d + (size_t)a * out, (size_t)(b - a) * out);
        }
    }
}

static void module_forward(sl_forward *f, sl_module mod, float *y, const float *x) {
    modules_forward(f, &mod, &y, 1, x);
}

/* Rotates pairs (i, i + hd/2) of every head, as transformers' rotate_half. */
static void rope(float *v, int n_tok, int n_heads, int hd, const float *cosv, const float *sinv) {
    int half = hd / 2;
    for (int t = 0; t < n_tok; t++) {
        const float *c = cosv + (size_t)t * half, *sn = sinv + (size_t)t * half;
        for (int h = 0; h < n_heads; h++) {
            float *p = v + ((size_t)t * n_heads + h) * hd;
            for (int i = 0; i < half; i++) {
                float a = p[i], b = p[i + half];
                p[i] = a * c[i] - b * sn[i];
                p[i + half] = b * c[i] + a * sn[i];
            }
        }
    }
}

/* What every attention task of a step reads: the kernels, the KV pool's layout, the heads. */
typedef struct att_step {
    const sl_kernels *ks;
    sl_wtype kvt;
    int hd, groups, bs, plen; /* plen: positions of a part (kernels.h: sl_attend_part_len) */
    size_t bstride;
    float scale;
} att_step;

/* Parts of a row that sees VIS positions (1: it runs whole). */
static int att_parts(const att_step *a, int vis) { return (vis + a->plen - 1) / a->plen; }

/* Part P of a row that sees VIS positions, for one KV head (KB, VB), into part block BLOCK
 * (struct sl_forward), on thread I. */
static void attend_part(const sl_forward *f, const att_step *a, int i, const unsigned char *kb, const unsigned char *vb,
                        const int32_t *blocks, int vis, int p, const float *q, float *block) {
    int pb = (p + 1) * a->plen < vis ? (p + 1) * a->plen : vis;
    float *ml = block + (size_t)f->max_parts * a->groups * a->hd; /* after the outputs */
    a->ks->attend_part[a->kvt](kb, vb, a->bstride, blocks, a->bs, p * a->plen, pb, a->groups, a->hd, a->scale, q,
                               block + (size_t)p * a->groups * a->hd, ml + (size_t)p * a->groups * 2, f->s[i],
                               f->max_ctx);
}

/* OUT = the NP parts of part block BLOCK joined. */
static void join_parts(const sl_forward *f, const att_step *a, int np, const float *block, float *out) {
    sl_attend_join(np, a->groups, a->hd, block, block + (size_t)f->max_parts * a->groups * a->hd, out);
}

/* Attention of every sequence's new tokens against all of its cached positions (K/V of the
 * new tokens already stored), written to att. Tasks are (sequence, KV head, 16 query rows), or
 * one part of a long decode row (below); query heads kh*groups .. kh*groups+groups-1 share KV
 * head kh and are adjacent in q. */
static void attend_job_run(void *ctx, int i, int n) {
    sl_forward *f = ctx;
    const sl_model_config *c = &f->m->cfg;
    int KVH = c->n_kv_heads, Hq = c->n_heads * c->head_dim;
    att_step a = {.ks = sl_kernels_active(), .kvt = sl_kv_pool_dtype(f->kv), .hd = c->head_dim,
                  .groups = c->n_heads / KVH, .bs = sl_kv_pool_block_size(f->kv),
                  .bstride = sl__kv_block_elems(f->kv), .scale = 1.0f / sqrtf((float)c->head_dim)};
    a.plen = sl_attend_part_len(a.bs);
    size_t esize = sl__kv_elem_bytes(f->kv), head_bytes = (size_t)a.hd * a.bs * esize;
    const unsigned char *kl = sl__kv_layer(f->kv, f->layer, 0), *vl = sl__kv_layer(f->kv, f->layer, 1);
    /* A step with fewer (sequence, KV head) pairs than 2 * threads (a few long decode rows)
     * deals its long rows' parts one by one (the pair's part block: the last part done joins
     * them), so every thread has work; rows otherwise run whole or in parts on one thread,
     * in tasks of (sequence, KV head, 16 rows). Either way a row's bits are the same
     * (kernels.h: sl_attend_part_len). Tasks are taken in order by whichever thread is free:
     * a vCPU slowed by its host does not hold the step (steal.h). */
    int split = f->split && f->n_seqs * KVH < 2 * n;
    int item = 0, mine = atomic_fetch_add_explicit(&f->att_next, 1, memory_order_relaxed);
    for (int s = 0; s < f->n_seqs; s++) {
        const sl_batch_seq *q = &f->seqs[s];
        for (int kh = 0; kh < KVH; kh++) {
            /* This KV head's slice of every block: (hd, bs) of K^T, (bs, hd) of V. */
            const unsigned char *kb = kl + (size_t)kh * head_bytes, *vb = vl + (size_t)kh * head_bytes;
            int vis0 = q->kv->n_pos + 1; /* the first row's */
            if (split && q->n_tokens == 1 && vis0 > a.plen) {
                int np = att_parts(&a, vis0), pair = s * KVH + kh;
                size_t off = (size_t)f->seq_off[s] * Hq + (size_t)kh * a.groups * a.hd;
                float *block = f->split + part_block_floats(f) * (size_t)pair;
                for (int p = 0; p < np; p++) {
                    if (item++ != mine) continue;
                    mine = atomic_fetch_add_explicit(&f->att_next, 1, memory_order_relaxed);
                    attend_part(f, &a, i, kb, vb, q->kv->blocks, vis0, p, f->q + off, block);
                    /* acq_rel: the last one sees every part written before its count, and sets
                     * the count back to 0 for the next layer (the pool's barrier orders it). */
                    if (atomic_fetch_add_explicit(&f->split_done[pair], 1, memory_order_acq_rel) + 1 == np) {
                        join_parts(f, &a, np, block, f->att + off);
                        atomic_store_explicit(&f->split_done[pair], 0, memory_order_relaxed);
                    }
                }
                continue;
            }
            for (int r0 = 0; r0 < q->n_tokens; r0 += 16) {
                if (item++ != mine) continue;
                mine = atomic_fetch_add_explicit(&f->att_next, 1, memory_order_relaxed);
                int r1 = q->n_tokens - r0 < 16 ? q->n_tokens : r0 + 16;
                for (int r = r0; r < r1; r++) {
                    size_t off = (size_t)(f->seq_off[s] + r) * Hq + (size_t)kh * a.groups * a.hd;
                    int vis = q->kv->n_pos + r + 1, np = att_parts(&a, vis);
                    if (np == 1) {
                        a.ks->attend[a.kvt](kb, vb, a.bstride, q->kv->blocks, a.bs, vis, a.groups, a.hd, a.scale,
                                            f->q + off, f->att + off, f->s[i], f->max_ctx);
                        continue;
                    }
                    for (int p = 0; p < np; p++)
                        attend_part(f, &a, i, kb, vb, q->kv->blocks, vis, p, f->q + off, f->ap[i]);
                    join_parts(f, &a, np, f->ap[i], f->att + off);
                }
            }
        }
    }
}

/* Writes the step's K and V rows of one sequence into its blocks: V as (bs, hd) rows, K
 * transposed as (hd, bs) per KV head (see kvcache.h). */
static void kv_store(sl_forward *f, sl_kv_pool *kv, int layer, const sl_kv_seq *ks, int pos0, int n, int t0) {
    const sl_model_config *c = &f->m->cfg;
    int hd = c->head_dim, KVH = c->n_kv_heads, bs = sl_kv_pool_block_size(kv), Hkv = KVH * hd;
    sl_wtype kvt = sl_kv_pool_dtype(kv);
    void *kl = sl__kv_layer(kv, layer, 0), *vl = sl__kv_layer(kv, layer, 1);
    size_t bstride = sl__kv_block_elems(kv);
    void (*round_half)(uint16_t *restrict, const float *restrict, int, int) = sl_kernels_active()->kv_round;
    uint16_t kh16[64]; /* 64 of a head's K values rounded, before their scatter */
    for (int i = 0; i < n; i++) {
        int p = pos0 + i, j = p % bs;
        size_t blk = (size_t)ks->blocks[p / bs] * bstride; /* element index of the block */
        for (int kh = 0; kh < KVH; kh++) {
            const float *k = f->k + (size_t)(t0 + i) * Hkv + (size_t)kh * hd;
            const float *v = f->v + (size_t)(t0 + i) * Hkv + (size_t)kh * hd;
            size_t kt = blk + (size_t)kh * hd * bs + (size_t)j, vr = blk + ((size_t)kh * bs + (size_t)j) * hd;
            if (kvt == SL_WTYPE_F32) {
                for (int d = 0; d < hd; d++) ((float *)kl)[kt + (size_t)d * bs] = k[d];
                memcpy((float *)vl + vr, v, (size_t)hd * sizeof(float));
            } else { /* rounded once, as stored (kernels_attention.inc.h: kv_round) */
                for (int d0 = 0; d0 < hd; d0 += 64) {
                    int m = hd - d0 < 64 ? hd - d0 : 64;
                    round_half(kh16, k + d0, m, kvt);
                    for (int d = 0; d < m; d++) ((uint16_t *)kl)[kt + (size_t)(d0 + d) * bs] = kh16[d];
                }
                round_half((uint16_t *)vl + vr, v, hd, kvt);
            }
        }
    }
}

/* The element-wise stages between the linears, split by token rows between the threads (a
 * row's arithmetic is its own, so the split never changes a bit):
 *   ROWS_ROPE_KV        RoPE on q and k, then k and v into the sequences' KV blocks;
 *   ROWS_RESIDUAL_NORM  x += xn (a linear's output), then xn = rmsnorm(x) * NORM (none: the last layer);
 *   ROWS_SWIGLU         g = silu(g) * u. */
enum { ROWS_ROPE_KV, ROWS_RESIDUAL_NORM, ROWS_SWIGLU };
typedef struct rows_job {
    sl_forward *f;
    int kind;
    const float *norm;
} rows_job;

static void rows_job_run(void *ctx, int i, int n) {
    rows_job *j = ctx;
    sl_forward *f = j->f;
    const sl_model_config *c = &f->m->cfg;
    int T = f->T, D = c->hidden, hd = c->head_dim, half = hd / 2;
    int t0 = (int)((long)T * i / n), t1 = (int)((long)T * (i + 1) / n);
    if (t1 <= t0) return;
    if (f->has_pend) deltas_add(f, t0, t1); /* the linear job's adapter updates, first */
    switch (j->kind) {
    case ROWS_ROPE_KV:
        rope(f->q + (size_t)t0 * c->n_heads * hd, t1 - t0, c->n_heads, hd, f->cosv + (size_t)t0 * half,
             f->sinv + (size_t)t0 * half);
        rope(f->k + (size_t)t0 * c->n_kv_heads * hd, t1 - t0, c->n_kv_heads, hd, f->cosv + (size_t)t0 * half,
             f->sinv + (size_t)t0 * half);
        for (int s = 0; s < f->n_seqs; s++) {
            int a = f->seq_off[s] > t0 ? f->seq_off[s] : t0, b = f->seq_off[s + 1] < t1 ? f->seq_off[s + 1] : t1;
            if (a < b) kv_store(f, f->kv, f->layer, f->seqs[s].kv, f->seqs[s].kv->n_pos + (a - f->seq_off[s]), b - a, a);
        }
        break;
    case ROWS_RESIDUAL_NORM:
        sl_kernels_active()->add_into(f->x + (size_t)t0 * D, f->xn + (size_t)t0 * D, (size_t)(t1 - t0) * D);
        if (j->norm)
            rmsnorm(f->xn + (size_t)t0 * D, f->x + (size_t)t0 * D, j->norm, t1 - t0, D, c->rms_eps);
        break;
    case ROWS_SWIGLU:
        sl_kernels_active()->swiglu(f->g + (size_t)t0 * c->intermediate, f->u + (size_t)t0 * c->intermediate,
                                    (size_t)(t1 - t0) * c->intermediate);
        break;
    }
}

static void rows_run(sl_forward *f, int kind, const float *norm) {
    rows_job j = {.f = f, .kind = kind, .norm = norm};
    sl_pool_run(f->pool, rows_job_run, &j);
    f->has_pend = 0;
}

static int check_batch(sl_forward *f, sl_kv_pool *kv, const sl_batch_seq *seqs, int n_seqs, int *T_out, int *R_out,
                       char *err, size_t errlen) {
    const sl_model_config *c = &f->m->cfg;
    if (n_seqs < 1 || n_seqs > f->max_seqs)
        return sl__errf(err, errlen, SL_EINVAL, "forward: %d sequences (1..%d allowed)", n_seqs, f->max_seqs);
    int T = 0, R = 0;
    for (int s = 0; s < n_seqs; s++) {
        const sl_batch_seq *q = &seqs[s];
        if (q->n_tokens < 1 || q->n_tokens > f->max_tokens - T)
            return sl__errf(err, errlen, SL_EINVAL, "forward: the step holds more than %d tokens", f->max_tokens);
        if (q->kv->n_pos + q->n_tokens > f->max_ctx)
            return sl__errf(err, errlen, SL_ERANGE, "forward: sequence %d would reach %d positions (max %d)", s,
                            q->kv->n_pos + q->n_tokens, f->max_ctx);
        if (sl_kv_blocks_for(kv, q->kv->n_pos + q->n_tokens) > q->kv->n_blocks)
            return sl__errf(err, errlen, SL_EINVAL, "forward: sequence %d has too few KV blocks reserved", s);
        for (int i = 0; i < q->n_tokens; i++)
            if (q->tokens[i] < 0 || q->tokens[i] >= c->vocab)
                return sl__errf(err, errlen, SL_ERANGE, "forward: token id %d is outside the vocabulary (0..%d)", q->tokens[i], c->vocab - 1);
        f->seq_off[s] = T;
        T += q->n_tokens;
        R += q->logits == SL_LOGITS_ALL ? q->n_tokens : q->logits == SL_LOGITS_LAST ? 1 : 0;
    }
    f->seq_off[n_seqs] = T;
    if (R > f->max_logit_rows)
        return sl__errf(err, errlen, SL_EINVAL, "forward: %d logits rows asked, %d allowed", R, f->max_logit_rows);
    *T_out = T;
    *R_out = R;
    return 0;
}

int sl_forward_run(sl_forward *f, sl_kv_pool *kv, const sl_batch_seq *seqs, int n_seqs, float *logits,
                   char *err, size_t errlen) {
    const sl_model *m = f->m;
    const sl_model_config *c = &m->cfg;
    int T = 0, R = 0, rc;
    if ((rc = check_batch(f, kv, seqs, n_seqs, &T, &R, err, errlen))) return rc;
    int D = c->hidden, hd = c->head_dim, half = hd / 2;

    for (int s = 0; s < n_seqs; s++) {
        const sl_batch_seq *q = &seqs[s];
        for (int i = 0; i < q->n_tokens; i++) {
            int t = f->seq_off[s] + i;
            sl__model_embed_row(m, q->tokens[i], f->x + (size_t)t * D);
            float pos = (float)(q->kv->n_pos + i);
            for (int j = 0; j < half; j++) {
                float ang = pos * m->inv_freq[j]; /* float product, as transformers */
                f->cosv[(size_t)t * half + j] = (float)cos((double)ang);
                f->sinv[(size_t)t * half + j] = (float)sin((double)ang);
            }
        }
    }

    f->seqs = seqs;
    f->n_seqs = n_seqs;
    f->T = T;
    f->kv = kv;
    rmsnorm(f->xn, f->x, m->layers[0].attn_norm, T, D, c->rms_eps);
    for (int l = 0; l < c->n_layers; l++) {
        const sl_layer_weights *L = &m->layers[l];
        f->layer = l;
        static const sl_module qkv[3] = {SL_MOD_Q, SL_MOD_K, SL_MOD_V};
        float *qkv_out[3] = {f->q, f->k, f->v};
        modules_forward(f, qkv, qkv_out, 3, f->xn);
        rows_run(f, ROWS_ROPE_KV, NULL);
        atomic_store_explicit(&f->att_next, 0, memory_order_relaxed);
        sl_pool_run(f->pool, attend_job_run, f);
        /* o_proj writes into xn (free now), which joins the residual stream. */
        module_forward(f, SL_MOD_O, f->xn, f->att);
        rows_run(f, ROWS_RESIDUAL_NORM, L->ffn_norm);
        static const sl_module gate_up[2] = {SL_MOD_GATE, SL_MOD_UP};
        float *gu_out[2] = {f->g, f->u};
        modules_forward(f, gate_up, gu_out, 2, f->xn);
        rows_run(f, ROWS_SWIGLU, NULL);
        module_forward(f, SL_MOD_DOWN, f->xn, f->g);
        rows_run(f, ROWS_RESIDUAL_NORM, l + 1 < c->n_layers ? m->layers[l + 1].attn_norm : NULL);
    }

    /* Final norm only on the rows that want logits, then one GEMM against lm_head. */
    int r = 0;
    for (int s = 0; s < n_seqs; s++) {
        int first = seqs[s].logits == SL_LOGITS_ALL ? 0 : seqs[s].n_tokens - 1;
        if (seqs[s].logits == SL_LOGITS_NONE) continue;
        for (int i = first; i < seqs[s].n_tokens; i++, r++)
            rmsnorm(f->xl + (size_t)r * D, f->x + (size_t)(f->seq_off[s] + i) * D, m->final_norm, 1, D, c->rms_eps);
    }
    if (R > 0) {
        lin_job lj = {.f = f, .n_lin = 1, .T = R, .layer = -1, .wt = m->wtype};
        lj.l[0].y = logits;
        lj.l[0].x = f->xl;
        lj.l[0].w = m->lm_head;
        lj.l[0].out = c->vocab;
        lj.l[0].in = D;
        lin_job_deal(&lj, sl_pool_size(f->pool));
        sl_pool_run(f->pool, lin_job_run, &lj);
    }
    for (int s = 0; s < n_seqs; s++) seqs[s].kv->n_pos += seqs[s].n_tokens;
    return 0;
}
