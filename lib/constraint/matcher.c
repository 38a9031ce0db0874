/* matcher.c — the vocabulary trie, compiled constraints, per-sequence matching, the token
 * mask with its cache, and the compile cache (see constraint.h).
 *
 * State of a sequence: a set of stacks of element positions (top last). A stack is "ready":
 * its top is a SET element, the next byte to match. Advancing over a byte keeps the stacks
 * whose top set has it, moves their top one element on and closes over the result: a REF
 * pushes each alternative of its rule (the return position below, or nothing when the REF is
 * the last element of its alternative: tail call), an END pops. A stack popped empty means
 * the whole constraint matched: the state is then "accepting". */
#include "constraint.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "constraint_internal.h"
#include "error.h"
#include "tokenizer.h"

#define MAX_STACKS 256           /* stacks in one state (deduplication is quadratic in it) */
#define MAX_DEPTH 1024           /* positions in one stack */
#define STEP_WORK (4u * 1000 * 1000) /* closure steps of one mask or one token */
#define MASK_CACHE_MAX 512       /* cached masks per constraint (6 KB each at 49k tokens) */
#define MASK_CACHE_MIN_NODES 1024 /* masks cheaper than this many trie nodes are not cached */

/* ---------------------------------------------------------------- vocabulary */

struct sl_cvocab {
    int n_vocab;
    /* Trie of token bytes in preorder; node 0 is the root. */
    int n_nodes;
    unsigned char *byte; /* (n_nodes) the byte leading into the node */
    int32_t *depth;      /* (n_nodes) */
    int32_t *end;        /* (n_nodes) first node after the subtree */
    int32_t *tok_off;    /* (n_nodes + 1) tokens ending at each node: toks[tok_off[i] .. tok_off[i+1]) */
    int32_t *toks;
    int max_depth;
    /* Bytes of each id in the middle of a text (len 0: never allowed). */
    uint32_t *off;       /* (n_vocab + 1) into bytes */
    char *bytes;
    /* Ids whose bytes differ at the start of a text (SentencePiece's leading space). */
    int n_first;
    int32_t *first_ids;  /* (n_first) */
    uint32_t *first_off; /* (n_first + 1) into first_bytes */
    char *first_bytes;
};

int sl_cvocab_size(const sl_cvocab *v) { return v->n_vocab; }

void sl_cvocab_free(sl_cvocab *v) {
    if (!v) return;
    free(v->byte);
    free(v->depth);
    free(v->end);
    free(v->tok_off);
    free(v->toks);
    free(v->off);
    free(v->bytes);
    free(v->first_ids);
    free(v->first_off);
    free(v->first_bytes);
    free(v);
}

static int tok_cmp(const void *a, const void *b, void *ctx) {
    const sl_cvocab *v = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint32_t lx = v->off[x + 1] - v->off[x], ly = v->off[y + 1] - v->off[y];
    int c = memcmp(v->bytes + v->off[x], v->bytes + v->off[y], lx < ly ? lx : ly);
    if (c) return c;
    if (lx != ly) return lx < ly ? -1 : 1;
    return (x > y) - (x < y);
}

int sl_cvocab_init(sl_cvocab **out, const sl_tokenizer *tok, int n_vocab, char *err, size_t errlen) {
    *out = NULL;
    sl_cvocab *v = calloc(1, sizeof *v);
    sl_buf all = {0}, first = {0}, one = {0}, one1 = {0};
    int32_t *ids = NULL, *path = NULL, *node_of = NULL;
    int rc = SL_ENOMEM;
    if (!v || n_vocab <= 0) goto fail;
    v->n_vocab = n_vocab;
    int n_tok = sl_tokenizer_vocab_size(tok);
    v->off = calloc((size_t)n_vocab + 1, sizeof *v->off);
    v->first_ids = malloc((size_t)n_vocab * sizeof *v->first_ids);
    v->first_off = calloc((size_t)n_vocab + 1, sizeof *v->first_off);
    ids = malloc((size_t)n_vocab * sizeof *ids);
    node_of = malloc((size_t)n_vocab * sizeof *node_of);
    if (!v->off || !v->first_ids || !v->first_off || !ids || !node_of) goto fail;
    int n_ids = 0;
    size_t total = 0;
    for (int32_t id = 0; id < n_vocab; id++) {
        v->off[id] = (uint32_t)all.len;
        node_of[id] = -1;
        if (id >= n_tok || sl_tokenizer_is_special(tok, id)) continue;
        one.len = one1.len = 0;
        if (sl_tokenizer_token_bytes(tok, id, 0, &one) || sl_tokenizer_token_bytes(tok, id, 1, &one1)) goto fail;
        if (!one.len) continue; /* adds nothing: never allowed (it could repeat forever) */
        if (one.len > 4096) continue; /* longer than any real token: never allowed */
        if ((total += one.len) > (1u << 30)) {
            rc = sl__errf(err, errlen, SL_ETOOBIG, "the vocabulary's tokens add up to more than 1 GiB");
            goto fail;
        }
        if (sl_buf_put(&all, one.p, one.len)) goto fail;
        ids[n_ids++] = id;
        if (one1.len != one.len || memcmp(one1.p ? one1.p : "", one.p, one.len)) {
            v->first_ids[v->n_first] = id;
            if (one1.len && sl_buf_put(&first, one1.p, one1.len)) goto fail;
            v->first_off[++v->n_first] = (uint32_t)first.len;
        }
    }
    v->off[n_vocab] = (uint32_t)all.len;
    v->bytes = all.p ? all.p : calloc(1, 1);
    v->first_bytes = first.p ? first.p : calloc(1, 1);
    all = (sl_buf){0};
    first = (sl_buf){0};
    if (!v->bytes || !v->first_bytes) goto fail;
    qsort_r(ids, (size_t)n_ids, sizeof *ids, tok_cmp, v);
    /* Preorder trie: at most one node per byte of all tokens, plus the root. */
    size_t cap = (size_t)v->off[n_vocab] + 1;
    v->byte = malloc(cap);
    v->depth = malloc(cap * sizeof *v->depth);
    v->end = malloc(cap * sizeof *v->end);
    path = malloc((4096 + 2) * sizeof *path);
    if (!v->byte || !v->depth || !v->end || !path) goto fail;
    int nn = 1, plen = 0; /* path[0..plen) = nodes of the previous token's bytes */
    v->byte[0] = 0;
    v->depth[0] = 0;
    const char *prev = NULL;
    uint32_t prev_len = 0;
    for (int i = 0; i < n_ids; i++) {
        int32_t id = ids[i];
        const char *b = v->bytes + v->off[id];
        uint32_t l = v->off[id + 1] - v->off[id], lcp = 0;
        while (prev && lcp < l && lcp < prev_len && b[lcp] == prev[lcp]) lcp++;
        while ((uint32_t)plen > lcp) v->end[path[--plen]] = nn;
        for (uint32_t k = lcp; k < l; k++) {
            v->byte[nn] = (unsigned char)b[k];
            v->depth[nn] = (int32_t)k + 1;
            path[plen++] = nn++;
        }
        node_of[id] = path[l - 1];
        if ((int)l > v->max_depth) v->max_depth = (int)l;
        prev = b;
        prev_len = l;
    }
    while (plen > 0) v->end[path[--plen]] = nn;
    v->end[0] = nn;
    v->n_nodes = nn;
    v->tok_off = calloc((size_t)nn + 1, sizeof *v->tok_off);
    v->toks = malloc(((size_t)n_ids + 1) * sizeof *v->toks);
    if (!v->tok_off || !v->toks) goto fail;
    for (int32_t id = 0; id < n_vocab; id++)
        if (node_of[id] >= 0) v->tok_off[node_of[id] + 1]++;
    for (int i = 0; i < nn; i++) v->tok_off[i + 1] += v->tok_off[i];
    for (int32_t id = 0; id < n_vocab; id++)
        if (node_of[id] >= 0) v->toks[v->tok_off[node_of[id]]++] = id;
    for (int i = nn; i > 0; i--) v->tok_off[i] = v->tok_off[i - 1];
    v->tok_off[0] = 0;
    free(ids);
    free(path);
    free(node_of);
    sl_buf_free(&one);
    sl_buf_free(&one1);
    *out = v;
    return 0;
fail:
    if (rc == SL_ENOMEM) sl__errf(err, errlen, SL_ENOMEM, "out of memory building the token trie");
    sl_buf_free(&all);
    sl_buf_free(&first);
    sl_buf_free(&one);
    sl_buf_free(&one1);
    free(ids);
    free(path);
    free(node_of);
    sl_cvocab_free(v);
    return rc;
}

/* ---------------------------------------------------------------- states */

typedef struct cstate {
    int32_t *d;     /* stacks, each [len, p0 .. p(len-1)] with the top last */
    int len, cap;
    int n;          /* stacks */
    int accept;
    uint32_t *hash; /* (n) of each stack, for deduplication */
    int32_t *at;    /* (n) offset of each stack in d */
    int hcap;
} cstate;

static void cstate_free(cstate *s) {
    free(s->d);
    free(s->hash);
    free(s->at);
    memset(s, 0, sizeof *s);
}

static void cstate_clear(cstate *s) {
    s->len = s->n = s->accept = 0;
}

static uint32_t stack_hash(const int32_t *p, int len) {
    uint32_t h = 2166136261u ^ (uint32_t)len;
    for (int i = 0; i < len; i++) h = (h ^ (uint32_t)p[i]) * 16777619u;
    return h;
}

/* Adds stack P (LEN) unless present. 0, or SL_ETOOBIG / SL_ENOMEM. */
static int cstate_add(cstate *s, const int32_t *p, int len) {
    uint32_t h = stack_hash(p, len);
    for (int i = 0; i < s->n; i++)
        if (s->hash[i] == h && s->d[s->at[i]] == len && !memcmp(s->d + s->at[i] + 1, p, (size_t)len * sizeof *p))
            return 0;
    if (s->n >= MAX_STACKS) return SL_ETOOBIG;
    if (s->n == s->hcap) {
        int cap = s->hcap ? s->hcap * 2 : 8;
        uint32_t *nh = realloc(s->hash, (size_t)cap * sizeof *nh);
        if (!nh) return SL_ENOMEM;
        s->hash = nh;
        int32_t *na = realloc(s->at, (size_t)cap * sizeof *na);
        if (!na) return SL_ENOMEM;
        s->at = na;
        s->hcap = cap;
    }
    if (s->len + len + 1 > s->cap) {
        int cap = s->cap ? s->cap : 64;
        while (cap < s->len + len + 1) cap *= 2;
        int32_t *nd = realloc(s->d, (size_t)cap * sizeof *nd);
        if (!nd) return SL_ENOMEM;
        s->d = nd;
        s->cap = cap;
    }
    s->hash[s->n] = h;
    s->at[s->n++] = s->len;
    s->d[s->len++] = len;
    if (len) memcpy(s->d + s->len, p, (size_t)len * sizeof *p); /* P may be NULL when LEN is 0 */
    s->len += len;
    return 0;
}

static int cstate_copy(cstate *dst, const cstate *src) {
    cstate_clear(dst);
    for (int i = 0; i < src->n; i++) {
        int rc = cstate_add(dst, src->d + src->at[i] + 1, src->d[src->at[i]]);
        if (rc) return rc;
    }
    dst->accept = src->accept;
    return 0;
}

/* Sorts the stacks (a canonical form: equal sets compare equal as arrays). */
static int stack_cmp(const void *a, const void *b, void *ctx) {
    const int32_t *d = ctx;
    const int32_t *x = d + *(const int32_t *)a, *y = d + *(const int32_t *)b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return memcmp(x + 1, y + 1, (size_t)x[0] * sizeof *x);
}

static int cstate_canon(cstate *s, cstate *tmp) {
    if (s->n < 2) return 0;
    qsort_r(s->at, (size_t)s->n, sizeof *s->at, stack_cmp, s->d);
    cstate_clear(tmp);
    for (int i = 0; i < s->n; i++) {
        int rc = cstate_add(tmp, s->d + s->at[i] + 1, s->d[s->at[i]]);
        if (rc) return rc;
    }
    tmp->accept = s->accept;
    cstate t = *s;
    *s = *tmp;
    *tmp = t;
    return 0;
}

/* Work list of stacks to close over: entries [p0 .. p(len-1), len] so the last is popped. */
typedef struct wlist {
    int32_t *d;
    int len, cap;
    int32_t cur[MAX_DEPTH + 2];
    /* Stacks already expanded in this closure (paths through nullable rules converge: without
     * this, (a?){n} would be explored 2^n times). Open addressing; a slot is live when its
     * generation is the closure's. */
    uint32_t *vh, *vgen;
    int32_t *vat;
    int vcap, vn;
    uint32_t gen;
    int32_t *vd;
    long vlen, vdcap;
} wlist;

static void wl_free(wlist *w) {
    if (!w) return;
    free(w->d);
    free(w->vh);
    free(w->vgen);
    free(w->vat);
    free(w->vd);
    free(w);
}

/* 1 if stack P (LEN) is new in this closure (and now recorded), 0 if seen, < 0 on error. */
static int wl_visit(wlist *w, const int32_t *p, int len) {
    if ((w->vn + 1) * 2 > w->vcap) {
        int cap = w->vcap ? w->vcap * 2 : 1024;
        uint32_t *h = malloc((size_t)cap * sizeof *h), *g = calloc((size_t)cap, sizeof *g);
        int32_t *at = malloc((size_t)cap * sizeof *at);
        if (!h || !g || !at) {
            free(h);
            free(g);
            free(at);
            return SL_ENOMEM;
        }
        for (int i = 0; i < w->vcap; i++) {
            if (w->vgen[i] != w->gen) continue;
            int k = (int)(w->vh[i] & (uint32_t)(cap - 1));
            while (g[k] == w->gen) k = (k + 1) & (cap - 1);
            h[k] = w->vh[i];
            at[k] = w->vat[i];
            g[k] = w->gen;
        }
        free(w->vh);
        free(w->vgen);
        free(w->vat);
        w->vh = h;
        w->vgen = g;
        w->vat = at;
        w->vcap = cap;
    }
    uint32_t hv = stack_hash(p, len);
    int k = (int)(hv & (uint32_t)(w->vcap - 1));
    for (; w->vgen[k] == w->gen; k = (k + 1) & (w->vcap - 1))
        if (w->vh[k] == hv && w->vd[w->vat[k]] == len && !memcmp(w->vd + w->vat[k] + 1, p, (size_t)len * sizeof *p))
            return 0;
    if (w->vlen + len + 1 > w->vdcap) {
        long cap = w->vdcap ? w->vdcap : 4096;
        while (cap < w->vlen + len + 1) cap *= 2;
        int32_t *nd = realloc(w->vd, (size_t)cap * sizeof *nd);
        if (!nd) return SL_ENOMEM;
        w->vd = nd;
        w->vdcap = cap;
    }
    w->vh[k] = hv;
    w->vgen[k] = w->gen;
    w->vat[k] = (int32_t)w->vlen;
    w->vd[w->vlen++] = len;
    memcpy(w->vd + w->vlen, p, (size_t)len * sizeof *p);
    w->vlen += len;
    w->vn++;
    return 1;
}

static int wl_push(wlist *w, const int32_t *p, int len, int32_t top) {
    int need = w->len + len + 2;
    if (need > w->cap) {
        int cap = w->cap ? w->cap : 256;
        while (cap < need) cap *= 2;
        int32_t *nd = realloc(w->d, (size_t)cap * sizeof *nd);
        if (!nd) return SL_ENOMEM;
        w->d = nd;
        w->cap = cap;
    }
    if (len) memcpy(w->d + w->len, p, (size_t)len * sizeof *p); /* P may be NULL when LEN is 0 */
    w->d[w->len + len] = top;
    w->d[w->len + len + 1] = len + 1;
    w->len += len + 2;
    return 0;
}

typedef struct work {
    uint64_t n, limit;
} work;

/* Closes every stack of the work list into OUT (ready stacks and the accept flag). */
static int closure(const sl__grammar *G, wlist *w, cstate *out, work *wk) {
    int32_t *cur = w->cur;
    if (++w->gen == 0) { /* generations wrapped: forget every slot */
        if (w->vgen) memset(w->vgen, 0, (size_t)w->vcap * sizeof *w->vgen);
        w->gen = 1;
    }
    w->vn = 0;
    w->vlen = 0;
    while (w->len > 0) {
        int len = w->d[w->len - 1];
        w->len -= len + 1;
        memcpy(cur, w->d + w->len, (size_t)len * sizeof *cur);
        for (;;) {
            if (++wk->n > wk->limit) return SL_ETOOBIG;
            int32_t p = cur[len - 1];
            sl__elem e = G->elems[p];
            if (e.kind != SL__E_SET) { /* a branch point or a pop: once per distinct stack */
                int v = wl_visit(w, cur, len);
                if (v < 0) return v;
                if (!v) break;
            }
            if (e.kind == SL__E_SET) {
                int rc = cstate_add(out, cur, len);
                if (rc) return rc;
                break;
            }
            if (e.kind == SL__E_END) {
                if (--len == 0) {
                    out->accept = 1;
                    break;
                }
                continue;
            }
            int32_t ret = p + 1;
            int base;
            if (G->elems[ret].kind == SL__E_END) base = len - 1; /* tail call: nothing to return to */
            else {
                cur[len - 1] = ret;
                base = len;
            }
            if (base + 1 > MAX_DEPTH) break; /* nested too deeply: this path is dropped */
            int a0 = G->alt_off[e.arg], a1 = G->alt_off[e.arg + 1];
            for (int a = a1 - 1; a > a0; a--) {
                int rc = wl_push(w, cur, base, G->alts[a]);
                if (rc) return rc;
            }
            cur[base] = G->alts[a0];
            len = base + 1;
        }
    }
    return 0;
}

/* OUT = IN advanced over byte B. */
static int advance(const sl__grammar *G, const cstate *in, unsigned b, cstate *out, wlist *w, work *wk) {
    cstate_clear(out);
    w->len = 0;
    for (int i = 0; i < in->n; i++) {
        const int32_t *s = in->d + in->at[i];
        int len = s[0];
        int32_t top = s[len];
        if (!sl__bset_has(&G->sets[G->elems[top].arg], b)) continue;
        int rc = wl_push(w, s + 1, len - 1, top + 1);
        if (rc) return rc;
    }
    return w->len ? closure(G, w, out, wk) : 0;
}

/* ---------------------------------------------------------------- constraints */

/* The automaton is determinised lazily: every state met (a canonical set of stacks and the
 * accept flag) is interned once per constraint and gets an id; its transitions by byte are
 * computed on first use and remembered, as is the token mask of an expensive state. A mask
 * is then a walk of the token trie where each node costs one table lookup, and the states
 * inside a string or a number repeat, so the walk of a new state is mostly lookups too.
 * Everything lives in the constraint (shared by its sequences, behind c->mu); past
 * MAX_DSTATES states or MAX_ARENA stack entries the memory is dropped and rebuilt (between
 * steps; within a step the work bound, which counts the size of the states made, bounds it). */
#define MAX_DSTATES 8192
#define MAX_ARENA (1L << 20) /* stack entries of all states (4 MB) */
#define T_UNKNOWN (-2)
#define T_DEAD (-1)

typedef struct dstate {
    uint32_t hash;
    int32_t off, len;   /* the stacks in c->arena, as cstate.d */
    int32_t n;          /* stacks */
    uint8_t accept;
    int32_t *next;      /* (256) state by byte, T_UNKNOWN or T_DEAD; NULL: none computed */
    uint64_t *mask;     /* cached token mask, or NULL */
} dstate;

struct sl_constraint {
    int refs; /* atomic via __atomic builtins */
    const sl_cvocab *v;
    sl__grammar g;
    cstate start;
    pthread_mutex_t mu; /* everything below */
    dstate *ds;
    int n_ds, cap_ds;
    int32_t *arena;
    long arena_len, arena_cap;
    int32_t *htab; /* (hcap) ids, -1 empty */
    int hcap;
    int n_masks;
    cstate t_in, t_out, t_tmp; /* scratch of a transition */
    wlist *w;
    sl_cmask_stats st;
};

int sl_constraint_size(const sl_constraint *c) { return c->g.n_elems; }
int sl_constraint_n_vocab(const sl_constraint *c) { return c->v->n_vocab; }

sl_constraint *sl_constraint_ref(sl_constraint *c) {
    __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
    return c;
}

static void dfa_clear(sl_constraint *c) {
    for (int i = 0; i < c->n_ds; i++) {
        free(c->ds[i].next);
        free(c->ds[i].mask);
    }
    c->n_ds = 0;
    c->arena_len = 0;
    c->n_masks = 0;
    for (int i = 0; i < c->hcap; i++) c->htab[i] = -1;
}

void sl_constraint_unref(sl_constraint *c) {
    if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    dfa_clear(c);
    free(c->ds);
    free(c->arena);
    free(c->htab);
    cstate_free(&c->t_in);
    cstate_free(&c->t_out);
    cstate_free(&c->t_tmp);
    wl_free(c->w);
    pthread_mutex_destroy(&c->mu);
    sl__grammar_free(&c->g);
    cstate_free(&c->start);
    free(c);
}

void sl_constraint_mask_stats(sl_constraint *c, sl_cmask_stats *out) {
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    out->entries = c->n_masks;
    pthread_mutex_unlock(&c->mu);
}

static uint32_t state_hash(const cstate *s) {
    return stack_hash(s->d, s->len) * 31u + (uint32_t)s->accept;
}

/* The id of canonical state S (interned on first sight); < 0 on out of memory. */
static int intern(sl_constraint *c, const cstate *s) {
    uint32_t h = state_hash(s);
    if (c->n_ds * 2 >= c->hcap) {
        int cap = c->hcap ? c->hcap * 2 : 1024;
        int32_t *t = malloc((size_t)cap * sizeof *t);
        if (!t) return SL_ENOMEM;
        for (int i = 0; i < cap; i++) t[i] = -1;
        for (int i = 0; i < c->n_ds; i++) {
            int k = (int)(c->ds[i].hash & (uint32_t)(cap - 1));
            while (t[k] >= 0) k = (k + 1) & (cap - 1);
            t[k] = i;
        }
        free(c->htab);
        c->htab = t;
        c->hcap = cap;
    }
    int k = (int)(h & (uint32_t)(c->hcap - 1));
    for (; c->htab[k] >= 0; k = (k + 1) & (c->hcap - 1)) {
        const dstate *d = &c->ds[c->htab[k]];
        if (d->hash == h && d->len == s->len && d->accept == s->accept &&
            (!s->len || !memcmp(c->arena + d->off, s->d, (size_t)s->len * sizeof *s->d)))
            return c->htab[k];
    }
    if (c->n_ds == c->cap_ds) {
        int cap = c->cap_ds ? c->cap_ds * 2 : 256;
        dstate *n = realloc(c->ds, (size_t)cap * sizeof *n);
        if (!n) return SL_ENOMEM;
        c->ds = n;
        c->cap_ds = cap;
    }
    if (c->arena_len + s->len > c->arena_cap) {
        long cap = c->arena_cap ? c->arena_cap : 4096;
        while (cap < c->arena_len + s->len) cap *= 2;
        int32_t *n = realloc(c->arena, (size_t)cap * sizeof *n);
        if (!n) return SL_ENOMEM;
        c->arena = n;
        c->arena_cap = cap;
    }
    dstate *d = &c->ds[c->n_ds];
    *d = (dstate){h, (int32_t)c->arena_len, s->len, s->n, (uint8_t)s->accept, NULL, NULL};
    if (s->len) memcpy(c->arena + c->arena_len, s->d, (size_t)s->len * sizeof *s->d);
    c->arena_len += s->len;
    c->htab[k] = c->n_ds;
    return c->n_ds++;
}

/* Loads interned state ID into S (its stacks are distinct already: no deduplication). */
static int load_state(const sl_constraint *c, int id, cstate *s) {
    cstate_clear(s);
    const dstate *d = &c->ds[id];
    if (d->n > s->hcap) {
        uint32_t *nh = realloc(s->hash, (size_t)d->n * sizeof *nh);
        if (!nh) return SL_ENOMEM;
        s->hash = nh;
        int32_t *na = realloc(s->at, (size_t)d->n * sizeof *na);
        if (!na) return SL_ENOMEM;
        s->at = na;
        s->hcap = d->n;
    }
    if (d->len > s->cap) {
        int32_t *nd = realloc(s->d, (size_t)d->len * sizeof *nd);
        if (!nd) return SL_ENOMEM;
        s->d = nd;
        s->cap = d->len;
    }
    const int32_t *p = c->arena + d->off;
    if (d->len) memcpy(s->d, p, (size_t)d->len * sizeof *p);
    for (int32_t i = 0; i < d->len; i += p[i] + 1) {
        s->hash[s->n] = stack_hash(p + i + 1, p[i]);
        s->at[s->n++] = i;
    }
    s->len = d->len;
    s->accept = d->accept;
    return 0;
}

/* The state after byte B from state ID: an id, T_DEAD, or < T_DEAD... (an SL_E code). */
static int trans(sl_constraint *c, int id, unsigned b, work *wk) {
    dstate *d = &c->ds[id];
    if (d->next && d->next[b] != T_UNKNOWN) return d->next[b];
    if (!d->next) {
        if (!(d->next = malloc(256 * sizeof *d->next))) return SL_ENOMEM;
        for (int i = 0; i < 256; i++) d->next[i] = T_UNKNOWN;
    }
    wk->n += (uint64_t)d->len / 8; /* copying and canonicalising big states is work too */
    int rc = load_state(c, id, &c->t_in);
    if (!rc) rc = advance(&c->g, &c->t_in, b, &c->t_out, c->w, wk);
    if (!rc) rc = cstate_canon(&c->t_out, &c->t_tmp);
    if (rc) return rc == SL_ETOOBIG ? SL_ETOOBIG : SL_ENOMEM;
    wk->n += (uint64_t)c->t_out.len / 2;
    int to = c->t_out.n || c->t_out.accept ? intern(c, &c->t_out) : T_DEAD;
    if (to < T_DEAD) return to;
    c->ds[id].next[b] = to; /* c->ds may have moved */
    return to;
}

static const char *kind_name(sl_cpiece_kind k) {
    switch (k) {
    case SL_CPIECE_LITERAL: return "literal";
    case SL_CPIECE_JSON_SCHEMA:
    case SL_CPIECE_JSON_SCHEMA_COMPACT: return "JSON schema";
    case SL_CPIECE_JSON_OBJECT:
    case SL_CPIECE_JSON_OBJECT_COMPACT: return "JSON object";
    case SL_CPIECE_REGEX: return "regex";
    case SL_CPIECE_GBNF: return "grammar";
    case SL_CPIECE_CHOICE: return "choice";
    }
    return "piece";
}

int sl_constraint_compile(sl_constraint **out, const sl_cvocab *v, const sl_cpiece *pieces, int n, char *err,
                          size_t errlen) {
    *out = NULL;
    if (n < 1 || n > SL_CONSTRAINT_MAX_PIECES)
        return sl__errf(err, errlen, SL_EINVAL, "a constraint has 1 to %d pieces", SL_CONSTRAINT_MAX_PIECES);
    size_t total = 0;
    for (int i = 0; i < n; i++) total += pieces[i].len;
    if (total > SL_CONSTRAINT_MAX_TEXT)
        return sl__errf(err, errlen, SL_ETOOBIG, "the constraint is %zu bytes; at most %d are accepted", total,
                        SL_CONSTRAINT_MAX_TEXT);
    char e1[400] = "";
    sl__gb g;
    sl__gb_init(&g, e1, sizeof e1);
    sl__seq root_seq = {0};
    int root = sl__gb_rule(&g, NULL);
    for (int i = 0; i < n && !g.failed; i++) {
        const sl_cpiece *p = &pieces[i];
        int r;
        switch (p->kind) {
        case SL_CPIECE_LITERAL:
            sl__seq_lit(&g, &root_seq, p->text, p->len);
            continue;
        case SL_CPIECE_JSON_SCHEMA: r = sl__schema_compile(&g, p->text, p->len, 0); break;
        case SL_CPIECE_JSON_SCHEMA_COMPACT: r = sl__schema_compile(&g, p->text, p->len, 1); break;
        case SL_CPIECE_JSON_OBJECT: r = sl__json_object_rule(&g, 0); break;
        case SL_CPIECE_JSON_OBJECT_COMPACT: r = sl__json_object_rule(&g, 1); break;
        case SL_CPIECE_REGEX: r = sl__regex_compile_rule(&g, p->text, p->len, 0); break;
        case SL_CPIECE_GBNF: r = sl__gbnf_compile(&g, p->text, p->len); break;
        case SL_CPIECE_CHOICE: r = sl__choice_compile(&g, p->text, p->len); break;
        default: r = sl__gb_fail(&g, SL_EINVAL, "unknown constraint kind %d", (int)p->kind);
        }
        if (r >= 0) sl__seq_push(&g, &root_seq, SL__E_REF, r);
        else if (!g.failed) sl__gb_fail(&g, SL_EINVAL, "cannot compile");
        if (g.failed && n > 1) {
            char t[400];
            memcpy(t, e1, sizeof t);
            t[300] = 0;
            snprintf(e1, sizeof e1, "%s (piece %d): %.300s", kind_name(p->kind), i + 1, t);
        }
    }
    int rc = 0;
    if (!g.failed) sl__gb_alt(&g, root, &root_seq);
    sl__seq_free(&root_seq);
    int code = g.failed ? SL_EINVAL : 0;
    if (g.failed && strstr(e1, "too large")) code = SL_ETOOBIG;
    sl_constraint *c = calloc(1, sizeof *c);
    if (!c) {
        sl__gb_free(&g);
        return sl__errf(err, errlen, SL_ENOMEM, "out of memory");
    }
    if ((rc = sl__gb_finish(&g, root, &c->g)) != 0) { /* frees g */
        free(c);
        return sl__errf(err, errlen, code ? code : rc, "%s", e1[0] ? e1 : "cannot compile the constraint");
    }
    c->refs = 1;
    c->v = v;
    pthread_mutex_init(&c->mu, NULL);
    /* The start state: every alternative of the root, closed. */
    c->w = calloc(1, sizeof *c->w);
    work wk = {0, STEP_WORK};
    int32_t top = c->g.alts[c->g.alt_off[c->g.root]];
    rc = c->w ? wl_push(c->w, NULL, 0, top) : SL_ENOMEM;
    if (!rc) rc = closure(&c->g, c->w, &c->start, &wk);
    if (!rc) rc = cstate_canon(&c->start, &c->t_tmp);
    if (rc) {
        sl_constraint_unref(c);
        return rc == SL_ETOOBIG ? sl__errf(err, errlen, SL_ETOOBIG,
                                           "the constraint is too ambiguous (more than %d alternatives at once)", MAX_STACKS)
                                : sl__errf(err, errlen, rc, "out of memory");
    }
    if (!c->start.n && !c->start.accept) {
        sl_constraint_unref(c);
        return sl__errf(err, errlen, SL_EINVAL, "the constraint matches nothing");
    }
    *out = c;
    return 0;
}

/* ---------------------------------------------------------------- matching */

struct sl_cmatch {
    sl_constraint *c;
    cstate cur;   /* canonical */
    int n_tokens; /* tokens accepted (0: the next token starts the text) */
    int32_t *lv;  /* (max_depth + 1) state ids along the trie path */
};

sl_cmatch *sl_cmatch_new(sl_constraint *c) {
    sl_cmatch *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->lv = malloc(((size_t)c->v->max_depth + 2) * sizeof *m->lv);
    if (!m->lv || cstate_copy(&m->cur, &c->start)) {
        sl_cmatch_free(m);
        return NULL;
    }
    m->c = sl_constraint_ref(c);
    return m;
}

void sl_cmatch_free(sl_cmatch *m) {
    if (!m) return;
    cstate_free(&m->cur);
    free(m->lv);
    sl_constraint_unref(m->c);
    free(m);
}

int sl_cmatch_complete(const sl_cmatch *m) { return m->cur.accept; }
int sl_cmatch_finished(const sl_cmatch *m) { return m->cur.accept && m->cur.n == 0; }

/* The id of the matcher's state (c->mu held), dropping the memory first when it is full. */
static int cur_id(sl_cmatch *m) {
    sl_constraint *c = m->c;
    if (c->n_ds >= MAX_DSTATES || c->arena_len >= MAX_ARENA) dfa_clear(c);
    return intern(c, &m->cur);
}

/* Walks bytes S from state ID: the id reached, T_DEAD, or an SL_E code (c->mu held). */
static int walk_id(sl_constraint *c, int id, const char *s, size_t n, work *wk) {
    for (size_t i = 0; i < n && id >= 0; i++) {
        if (!c->ds[id].n) return T_DEAD;
        id = trans(c, id, (unsigned char)s[i], wk);
    }
    return id;
}

static int mask_locked(sl_cmatch *m, uint64_t *mask) {
    sl_constraint *c = m->c;
    const sl_cvocab *v = c->v;
    int words = (v->n_vocab + 63) / 64;
    int id = cur_id(m);
    if (id < 0) return id;
    work wk = {0, STEP_WORK};
    if (c->ds[id].mask) {
        memcpy(mask, c->ds[id].mask, (size_t)words * sizeof *mask);
        c->st.hits++;
    } else {
        memset(mask, 0, (size_t)words * sizeof *mask);
        uint64_t nodes = 0;
        int32_t *lv = m->lv;
        lv[0] = id;
        if (c->ds[id].n) {
            for (int i = 1; i < v->n_nodes;) {
                int d = v->depth[i];
                int to = trans(c, lv[d - 1], v->byte[i], &wk);
                if (to < T_DEAD) return to;
                nodes++;
                if (to == T_DEAD) {
                    i = v->end[i];
                    continue;
                }
                lv[d] = to;
                for (int k = v->tok_off[i]; k < v->tok_off[i + 1]; k++) mask[v->toks[k] >> 6] |= 1ull << (v->toks[k] & 63);
                i = c->ds[to].n ? i + 1 : v->end[i];
            }
        }
        c->st.misses++;
        c->st.nodes += nodes;
        if (nodes >= MASK_CACHE_MIN_NODES && c->n_masks < MASK_CACHE_MAX &&
            (c->ds[id].mask = malloc((size_t)words * sizeof *mask))) {
            memcpy(c->ds[id].mask, mask, (size_t)words * sizeof *mask);
            c->n_masks++;
        }
    }
    if (m->n_tokens == 0) /* the first token: SentencePiece drops a leading space */
        for (int i = 0; i < v->n_first; i++) {
            int32_t t = v->first_ids[i];
            int to = walk_id(c, id, v->first_bytes + v->first_off[i], v->first_off[i + 1] - v->first_off[i], &wk);
            if (to < T_DEAD) return to;
            if (to >= 0) mask[t >> 6] |= 1ull << (t & 63);
            else mask[t >> 6] &= ~(1ull << (t & 63));
        }
    return 0;
}

int sl_cmatch_mask(sl_cmatch *m, uint64_t *mask) {
    pthread_mutex_lock(&m->c->mu);
    int rc = mask_locked(m, mask);
    pthread_mutex_unlock(&m->c->mu);
    return rc;
}

static int accept_bytes(sl_cmatch *m, const char *s, size_t n) {
    if (!n) return 0;
    sl_constraint *c = m->c;
    work wk = {0, STEP_WORK};
    pthread_mutex_lock(&c->mu);
    int id = cur_id(m);
    if (id >= 0) id = walk_id(c, id, s, n, &wk);
    int rc = id >= 0 ? load_state(c, id, &m->cur) : id == T_DEAD ? SL_EINVAL : id;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int sl_cmatch_accept_bytes(sl_cmatch *m, const char *s, size_t n) {
    int rc = accept_bytes(m, s, n);
    if (!rc && n) m->n_tokens++;
    return rc;
}

int sl_cmatch_accept(sl_cmatch *m, int32_t id) {
    const sl_cvocab *v = m->c->v;
    if (id < 0 || id >= v->n_vocab || v->off[id + 1] == v->off[id]) return SL_EINVAL;
    const char *s = v->bytes + v->off[id];
    size_t n = v->off[id + 1] - v->off[id];
    if (m->n_tokens == 0) {
        int lo = 0, hi = v->n_first - 1; /* first_ids ascend */
        while (lo <= hi) {
            int mid = (lo + hi) / 2;
            if (v->first_ids[mid] == id) {
                s = v->first_bytes + v->first_off[mid];
                n = v->first_off[mid + 1] - v->first_off[mid];
                break;
            }
            if (v->first_ids[mid] < id) lo = mid + 1;
            else hi = mid - 1;
        }
    }
    int rc = accept_bytes(m, s, n);
    if (!rc) m->n_tokens++;
    return rc;
}

/* ---------------------------------------------------------------- compile cache */

typedef struct centry {
    char *key;
    size_t klen;
    uint64_t hash;
    sl_constraint *c;
    uint64_t used;
} centry;

struct sl_constraint_cache {
    const sl_cvocab *v;
    pthread_mutex_t mu;
    centry *e;
    int n, max;
    uint64_t tick;
};

int sl_constraint_cache_init(sl_constraint_cache **out, const sl_cvocab *v, int max) {
    sl_constraint_cache *cc = calloc(1, sizeof *cc);
    if (!cc) return SL_ENOMEM;
    cc->max = max > 0 ? max : 32;
    cc->e = calloc((size_t)cc->max, sizeof *cc->e);
    if (!cc->e) {
        free(cc);
        return SL_ENOMEM;
    }
    cc->v = v;
    pthread_mutex_init(&cc->mu, NULL);
    *out = cc;
    return 0;
}

void sl_constraint_cache_free(sl_constraint_cache *cc) {
    if (!cc) return;
    for (int i = 0; i < cc->n; i++) {
        free(cc->e[i].key);
        sl_constraint_unref(cc->e[i].c);
    }
    free(cc->e);
    pthread_mutex_destroy(&cc->mu);
    free(cc);
}

int sl_constraint_cache_get(sl_constraint_cache *cc, const sl_cpiece *pieces, int n, sl_constraint **out, char *err,
                            size_t errlen) {
    *out = NULL;
    if (n < 1 || n > SL_CONSTRAINT_MAX_PIECES)
        return sl__errf(err, errlen, SL_EINVAL, "a constraint has 1 to %d pieces", SL_CONSTRAINT_MAX_PIECES);
    sl_buf k = {0};
    for (int i = 0; i < n; i++) {
        uint64_t hdr[2] = {(uint64_t)pieces[i].kind, (uint64_t)pieces[i].len};
        if (sl_buf_put(&k, hdr, sizeof hdr) || sl_buf_put(&k, pieces[i].text ? pieces[i].text : "", pieces[i].len)) {
            sl_buf_free(&k);
            return sl__errf(err, errlen, SL_ENOMEM, "out of memory");
        }
    }
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < k.len; i++) h = (h ^ (unsigned char)k.p[i]) * 1099511628211ull;
    pthread_mutex_lock(&cc->mu);
    for (int i = 0; i < cc->n; i++)
        if (cc->e[i].hash == h && cc->e[i].klen == k.len && !memcmp(cc->e[i].key, k.p, k.len)) {
            cc->e[i].used = ++cc->tick;
            *out = sl_constraint_ref(cc->e[i].c);
            pthread_mutex_unlock(&cc->mu);
            sl_buf_free(&k);
            return 0;
        }
    pthread_mutex_unlock(&cc->mu);
    sl_constraint *c;
    int rc = sl_constraint_compile(&c, cc->v, pieces, n, err, errlen);
    if (rc) {
        sl_buf_free(&k);
        return rc;
    }
    pthread_mutex_lock(&cc->mu);
    int slot = cc->n < cc->max ? cc->n++ : -1;
    if (slot < 0) { /* evict the least recently used */
        slot = 0;
        for (int i = 1; i < cc->n; i++)
            if (cc->e[i].used < cc->e[slot].used) slot = i;
        free(cc->e[slot].key);
        sl_constraint_unref(cc->e[slot].c);
    }
    cc->e[slot] = (centry){k.p, k.len, h, sl_constraint_ref(c), ++cc->tick};
    pthread_mutex_unlock(&cc->mu);
    *out = c; /* ownership: the compile's reference goes to the caller, the cache holds its own */
    return 0;
}
