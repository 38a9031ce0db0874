/* grammar.c — the grammar builder: rules, byte sets, UTF-8 classes, repetition, string
 * tries, and the final flattening with its checks (see constraint_internal.h). */
#include "constraint_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

int sl__gb_fail(sl__gb *g, int code, const char *fmt, ...) {
    g->failed = 1;
    if (!g->err_set && g->err && g->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->err, g->errlen, fmt, ap);
        va_end(ap);
        g->err_set = 1;
    }
    return code;
}

static int oom(sl__gb *g) { return sl__gb_fail(g, SL_ENOMEM, "out of memory compiling the constraint"); }

int sl__gb_init(sl__gb *g, char *err, size_t errlen) {
    memset(g, 0, sizeof *g);
    g->err = err;
    g->errlen = errlen;
    if (err && errlen) err[0] = 0;
    for (int i = 0; i < 256; i++) g->single[i] = -1;
    return 0;
}

void sl__seq_free(sl__seq *s) {
    free(s->v);
    memset(s, 0, sizeof *s);
}

void sl__gb_free(sl__gb *g) {
    for (int r = 0; r < g->n_rules; r++) {
        for (int a = 0; a < g->rules[r].n_alts; a++) free(g->rules[r].alts[a].v);
        free(g->rules[r].alts);
        free(g->rules[r].name);
    }
    free(g->rules);
    free(g->sets);
    memset(g, 0, sizeof *g);
}

int sl__gb_rule(sl__gb *g, const char *name) {
    if (g->failed) return SL_EINVAL;
    if (g->n_rules >= SL__G_MAX_RULES)
        return sl__gb_fail(g, SL_ETOOBIG, "the constraint is too large (more than %d rules)", SL__G_MAX_RULES);
    if (g->n_rules == g->cap_rules) {
        int cap = g->cap_rules ? g->cap_rules * 2 : 64;
        sl__rule *n = realloc(g->rules, (size_t)cap * sizeof *n);
        if (!n) return oom(g);
        g->rules = n;
        g->cap_rules = cap;
    }
    sl__rule *r = &g->rules[g->n_rules];
    memset(r, 0, sizeof *r);
    if (name && !(r->name = strdup(name))) return oom(g);
    return g->n_rules++;
}

int sl__gb_set(sl__gb *g, const sl__bset *s) {
    if (g->failed) return SL_EINVAL;
    if (g->n_sets >= SL__G_MAX_SETS)
        return sl__gb_fail(g, SL_ETOOBIG, "the constraint is too large (more than %d character sets)", SL__G_MAX_SETS);
    if (g->n_sets == g->cap_sets) {
        int cap = g->cap_sets ? g->cap_sets * 2 : 64;
        sl__bset *n = realloc(g->sets, (size_t)cap * sizeof *n);
        if (!n) return oom(g);
        g->sets = n;
        g->cap_sets = cap;
    }
    g->sets[g->n_sets] = *s;
    return g->n_sets++;
}

int sl__seq_push(sl__gb *g, sl__seq *s, int kind, int arg) {
    if (g->failed) return SL_EINVAL;
    if (++g->n_elems > SL__G_MAX_ELEMS)
        return sl__gb_fail(g, SL_ETOOBIG, "the constraint is too large (more than %d grammar elements)", SL__G_MAX_ELEMS);
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 8;
        sl__elem *n = realloc(s->v, (size_t)cap * sizeof *n);
        if (!n) return oom(g);
        s->v = n;
        s->cap = cap;
    }
    s->v[s->n++] = (sl__elem){kind, arg};
    return 0;
}

int sl__seq_append(sl__gb *g, sl__seq *s, const sl__seq *t) {
    for (int i = 0; i < t->n; i++)
        if (sl__seq_push(g, s, t->v[i].kind, t->v[i].arg)) return SL_EINVAL;
    return 0;
}

int sl__gb_alt(sl__gb *g, int rule, sl__seq *seq) {
    if (g->failed) return SL_EINVAL;
    sl__rule *r = &g->rules[rule];
    if (r->n_alts == r->cap_alts) {
        int cap = r->cap_alts ? r->cap_alts * 2 : 2;
        sl__seq *n = realloc(r->alts, (size_t)cap * sizeof *n);
        if (!n) return oom(g);
        r->alts = n;
        r->cap_alts = cap;
    }
    r->alts[r->n_alts++] = *seq; /* ownership: the elements move into the rule */
    memset(seq, 0, sizeof *seq);
    return 0;
}

int sl__seq_byte(sl__gb *g, sl__seq *s, unsigned lo, unsigned hi) {
    int idx;
    if (lo == hi && g->single[lo] >= 0) {
        idx = g->single[lo];
    } else {
        sl__bset b = {{0}};
        for (unsigned c = lo; c <= hi; c++) sl__bset_add(&b, c);
        if ((idx = sl__gb_set(g, &b)) < 0) return idx;
        if (lo == hi) g->single[lo] = idx;
    }
    return sl__seq_push(g, s, SL__E_SET, idx);
}

int sl__seq_lit(sl__gb *g, sl__seq *s, const char *bytes, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (sl__seq_byte(g, s, (unsigned char)bytes[i], (unsigned char)bytes[i])) return SL_EINVAL;
    return 0;
}

/* ---------------------------------------------------------------- code point classes */

int sl__cprs_add(sl__cprs *c, uint32_t lo, uint32_t hi) {
    if (lo > hi) return 0;
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 8;
        sl__cpr *n = realloc(c->v, (size_t)cap * sizeof *n);
        if (!n) return SL_ENOMEM;
        c->v = n;
        c->cap = cap;
    }
    c->v[c->n++] = (sl__cpr){lo, hi};
    return 0;
}

static int cpr_cmp(const void *a, const void *b) {
    const sl__cpr *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void sl__cprs_norm(sl__cprs *c) {
    if (!c->n) return;
    qsort(c->v, (size_t)c->n, sizeof *c->v, cpr_cmp);
    int k = 0;
    for (int i = 1; i < c->n; i++) {
        if (c->v[i].lo <= c->v[k].hi + 1) {
            if (c->v[i].hi > c->v[k].hi) c->v[k].hi = c->v[i].hi;
        } else {
            c->v[++k] = c->v[i];
        }
    }
    c->n = k + 1;
}

int sl__cprs_negate(sl__cprs *c) {
    sl__cprs_norm(c);
    sl__cprs o = {0};
    uint32_t next = 0;
    int rc = 0;
    for (int i = 0; i < c->n && !rc; i++) {
        if (c->v[i].lo > next) rc = sl__cprs_add(&o, next, c->v[i].lo - 1);
        next = c->v[i].hi + 1;
    }
    if (!rc && next <= 0x10FFFF) rc = sl__cprs_add(&o, next, 0x10FFFF);
    free(c->v);
    *c = o;
    return rc;
}

void sl__cprs_free(sl__cprs *c) {
    free(c->v);
    memset(c, 0, sizeof *c);
}

static int utf8_enc(uint32_t cp, unsigned char *o) {
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { o[0] = (unsigned char)(0xC0 | (cp >> 6)); o[1] = (unsigned char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int sl__utf8_dec(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    int l;
    uint32_t min;
    if (c < 0x80) { *cp = c; return 1; }
    if ((c & 0xE0) == 0xC0) l = 2, min = 0x80;
    else if ((c & 0xF0) == 0xE0) l = 3, min = 0x800;
    else if ((c & 0xF8) == 0xF0) l = 4, min = 0x10000;
    else return 0;
    if ((size_t)l > n) return 0;
    uint32_t v = c & (0x7Fu >> l);
    for (int i = 1; i < l; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return l;
}

/* One alternative per run of byte ranges: [lo, hi] of one encoded length, split until every
 * byte position is a range (the utf8-ranges construction). */
static int utf8_split(sl__gb *g, int rule, uint32_t lo, uint32_t hi, int depth) {
    if (g->failed) return SL_EINVAL;
    unsigned char a[4], b[4];
    int n = utf8_enc(lo, a);
    for (int i = 1; i < n; i++) {
        uint32_t m = (1u << (6 * i)) - 1;
        if ((lo & ~m) != (hi & ~m)) {
            if ((lo & m) != 0) {
                if (utf8_split(g, rule, lo, lo | m, depth + 1)) return SL_EINVAL;
                return utf8_split(g, rule, (lo | m) + 1, hi, depth + 1);
            }
            if ((hi & m) != m) {
                if (utf8_split(g, rule, lo, (hi & ~m) - 1, depth + 1)) return SL_EINVAL;
                return utf8_split(g, rule, hi & ~m, hi, depth + 1);
            }
        }
    }
    utf8_enc(hi, b);
    sl__seq s = {0};
    for (int i = 0; i < n; i++)
        if (sl__seq_byte(g, &s, a[i], b[i])) {
            sl__seq_free(&s);
            return SL_EINVAL;
        }
    return sl__gb_alt(g, rule, &s);
}

int sl__seq_class(sl__gb *g, sl__seq *s, sl__cprs *c) {
    if (g->failed) return SL_EINVAL;
    sl__cprs_norm(c);
    /* ASCII part as one set. */
    sl__bset ascii = {{0}};
    int has_ascii = 0, has_multi = 0;
    for (int i = 0; i < c->n; i++) {
        for (uint32_t x = c->v[i].lo; x <= c->v[i].hi && x < 0x80; x++) {
            sl__bset_add(&ascii, x);
            has_ascii = 1;
        }
        if (c->v[i].hi >= 0x80) has_multi = 1;
    }
    if (!has_ascii && !has_multi) return sl__gb_fail(g, SL_EINVAL, "an empty character class matches nothing");
    int ascii_set = -1;
    if (has_ascii && (ascii_set = sl__gb_set(g, &ascii)) < 0) return ascii_set;
    if (!has_multi) return sl__seq_push(g, s, SL__E_SET, ascii_set);
    int rule = sl__gb_rule(g, NULL);
    if (rule < 0) return rule;
    if (has_ascii) {
        sl__seq a = {0};
        if (sl__seq_push(g, &a, SL__E_SET, ascii_set) || sl__gb_alt(g, rule, &a)) {
            sl__seq_free(&a);
            return SL_EINVAL;
        }
    }
    static const uint32_t bounds[][2] = {{0x80, 0x7FF}, {0x800, 0xD7FF}, {0xE000, 0xFFFF}, {0x10000, 0x10FFFF}};
    for (int i = 0; i < c->n; i++)
        for (int k = 0; k < 4; k++) {
            uint32_t lo = c->v[i].lo > bounds[k][0] ? c->v[i].lo : bounds[k][0];
            uint32_t hi = c->v[i].hi < bounds[k][1] ? c->v[i].hi : bounds[k][1];
            if (lo <= hi && utf8_split(g, rule, lo, hi, 0)) return SL_EINVAL;
        }
    return sl__seq_push(g, s, SL__E_REF, rule);
}

/* ---------------------------------------------------------------- repetition, strings */

/* BODY as one element: itself if it has one element, else a new rule. */
static int as_elem(sl__gb *g, const sl__seq *body, sl__elem *out) {
    if (body->n == 1) {
        *out = body->v[0];
        return 0;
    }
    int r = sl__gb_rule(g, NULL);
    if (r < 0) return r;
    sl__seq c = {0};
    if (sl__seq_append(g, &c, body) || sl__gb_alt(g, r, &c)) {
        sl__seq_free(&c);
        return SL_EINVAL;
    }
    *out = (sl__elem){SL__E_REF, r};
    return 0;
}

int sl__seq_repeat(sl__gb *g, sl__seq *s, const sl__seq *body, int min, int max) {
    if (g->failed) return SL_EINVAL;
    if (min < 0 || min > SL__G_MAX_REPEAT || max > SL__G_MAX_REPEAT || (max >= 0 && max < min))
        return sl__gb_fail(g, SL_EINVAL, "repetition {%d,%d} is out of range (0 <= min <= max <= %d)", min, max,
                           SL__G_MAX_REPEAT);
    if (max == 0) return 0;
    sl__elem e;
    if (as_elem(g, body, &e)) return SL_EINVAL;
    for (int i = 0; i < min; i++)
        if (sl__seq_push(g, s, e.kind, e.arg)) return SL_EINVAL;
    sl__seq a = {0};
    if (max < 0) { /* S ::= e S | ε */
        int r = sl__gb_rule(g, NULL);
        if (r < 0) return r;
        if (sl__seq_push(g, &a, e.kind, e.arg) || sl__seq_push(g, &a, SL__E_REF, r) || sl__gb_alt(g, r, &a) ||
            sl__gb_alt(g, r, &a))
            goto fail;
        return sl__seq_push(g, s, SL__E_REF, r);
    }
    /* O_1 ::= e | ε;  O_k ::= e O_{k-1} | ε (one path per count: no ambiguity) */
    int prev = -1;
    for (int k = 1; k <= max - min; k++) {
        int r = sl__gb_rule(g, NULL);
        if (r < 0) return r;
        if (sl__seq_push(g, &a, e.kind, e.arg) || (prev >= 0 && sl__seq_push(g, &a, SL__E_REF, prev)) ||
            sl__gb_alt(g, r, &a) || sl__gb_alt(g, r, &a))
            goto fail;
        prev = r;
    }
    return prev >= 0 ? sl__seq_push(g, s, SL__E_REF, prev) : 0;
fail:
    sl__seq_free(&a);
    return SL_EINVAL;
}

typedef struct tnode {
    int32_t child, sibling;
    int terminal;
    unsigned char byte;
    int rule;
} tnode;

int sl__gb_strings(sl__gb *g, const char *const *strs, const size_t *lens, int n) {
    if (g->failed) return SL_EINVAL;
    size_t total = 1;
    for (int i = 0; i < n; i++) total += lens[i];
    if (total > SL__G_MAX_ELEMS) return sl__gb_fail(g, SL_ETOOBIG, "the constraint is too large (%zu bytes of strings)", total);
    tnode *t = calloc(total, sizeof *t);
    if (!t) return oom(g);
    int nn = 1, rc = 0;
    t[0].child = t[0].sibling = -1;
    for (int i = 0; i < n; i++) {
        int cur = 0;
        for (size_t k = 0; k < lens[i]; k++) {
            unsigned char b = (unsigned char)strs[i][k];
            int c = t[cur].child;
            while (c >= 0 && t[c].byte != b) c = t[c].sibling;
            if (c < 0) {
                c = nn++;
                t[c] = (tnode){-1, t[cur].child, 0, b, -1};
                t[cur].child = c;
            }
            cur = c;
        }
        t[cur].terminal = 1;
    }
    /* One rule per node with children; a leaf is just its byte. */
    for (int i = 0; i < nn && !rc; i++) {
        if (t[i].child < 0) continue;
        if ((t[i].rule = sl__gb_rule(g, NULL)) < 0) rc = t[i].rule;
    }
    for (int i = 0; i < nn && !rc; i++) {
        if (t[i].child < 0) continue;
        sl__seq a = {0};
        for (int c = t[i].child; c >= 0 && !rc; c = t[c].sibling) {
            rc = sl__seq_byte(g, &a, t[c].byte, t[c].byte);
            if (!rc && t[c].child >= 0) rc = sl__seq_push(g, &a, SL__E_REF, t[c].rule);
            if (!rc) rc = sl__gb_alt(g, t[i].rule, &a);
        }
        if (!rc && t[i].terminal) rc = sl__gb_alt(g, t[i].rule, &a);
        sl__seq_free(&a);
    }
    int root = t[0].rule;
    if (!rc && t[0].child < 0) { /* only empty strings */
        root = sl__gb_rule(g, NULL);
        sl__seq a = {0};
        if (root >= 0) rc = sl__gb_alt(g, root, &a);
        else rc = root;
    }
    free(t);
    return rc ? (rc < 0 ? rc : SL_EINVAL) : root;
}

/* ---------------------------------------------------------------- finish */

void sl__grammar_free(sl__grammar *gr) {
    free(gr->elems);
    free(gr->alt_off);
    free(gr->alts);
    free(gr->sets);
    memset(gr, 0, sizeof *gr);
}

static const char *rule_name(const sl__gb *g, int r, char *buf, size_t n) {
    if (g->rules[r].name) return g->rules[r].name;
    snprintf(buf, n, "#%d", r);
    return buf;
}

int sl__gb_finish(sl__gb *g, int root, sl__grammar *gr) {
    memset(gr, 0, sizeof *gr);
    int rc = SL_EINVAL;
    char nb[32];
    uint8_t *nullable = NULL, *color = NULL;
    int32_t *stack = NULL, *iter = NULL;
    if (g->failed || root < 0) goto out;
    int nr = g->n_rules;
    long ne = 0, na = 0;
    for (int r = 0; r < nr; r++) {
        na += g->rules[r].n_alts;
        for (int a = 0; a < g->rules[r].n_alts; a++) ne += g->rules[r].alts[a].n + 1;
        for (int a = 0; a < g->rules[r].n_alts; a++)
            for (int k = 0; k < g->rules[r].alts[a].n; k++) {
                sl__elem e = g->rules[r].alts[a].v[k];
                if (e.kind == SL__E_REF && g->rules[e.arg].n_alts == 0) {
                    rc = sl__gb_fail(g, SL_EINVAL, "rule '%s' is used but never defined", rule_name(g, e.arg, nb, sizeof nb));
                    goto out;
                }
            }
    }
    if (g->rules[root].n_alts == 0) {
        rc = sl__gb_fail(g, SL_EINVAL, "the start rule '%s' has no definition", rule_name(g, root, nb, sizeof nb));
        goto out;
    }
    if (ne + 1 > SL__G_MAX_ELEMS * 2L) {
        rc = sl__gb_fail(g, SL_ETOOBIG, "the constraint is too large");
        goto out;
    }
    /* Nullable rules (fixpoint). */
    nullable = calloc((size_t)nr + 1, 1);
    color = calloc((size_t)nr + 1, 1);
    stack = malloc(((size_t)nr + 1) * sizeof *stack);
    iter = malloc(((size_t)nr + 1) * sizeof *iter);
    if (!nullable || !color || !stack || !iter) {
        rc = oom(g);
        goto out;
    }
    for (int changed = 1; changed;) {
        changed = 0;
        for (int r = 0; r < nr; r++) {
            if (nullable[r]) continue;
            for (int a = 0; a < g->rules[r].n_alts && !nullable[r]; a++) {
                const sl__seq *s = &g->rules[r].alts[a];
                int k = 0;
                while (k < s->n && s->v[k].kind == SL__E_REF && nullable[s->v[k].arg]) k++;
                if (k == s->n) nullable[r] = 1, changed = 1;
            }
        }
    }
    /* Left recursion: a cycle through "rule r may start with rule s" edges (iterative DFS).
     * iter[r] enumerates the (alt, position) pairs of r as one counter. */
    for (int s0 = 0; s0 < nr; s0++) {
        if (color[s0]) continue;
        int sp = 0;
        stack[sp++] = s0;
        color[s0] = 1;
        iter[s0] = 0;
        while (sp) {
            int r = stack[sp - 1];
            const sl__rule *ru = &g->rules[r];
            int next = -1;
            /* Walk alternatives: iter = alt * 65536 + position. */
            while (next < 0) {
                int a = iter[r] >> 16, k = iter[r] & 0xFFFF;
                if (a >= ru->n_alts) break;
                const sl__seq *s = &ru->alts[a];
                if (k >= s->n || k >= 0xFFFF) {
                    iter[r] = (a + 1) << 16;
                    continue;
                }
                sl__elem e = s->v[k];
                if (e.kind != SL__E_REF) {
                    iter[r] = (a + 1) << 16;
                    continue;
                }
                /* e is a possible first symbol; the next one is too if e is nullable */
                iter[r] = nullable[e.arg] ? iter[r] + 1 : (a + 1) << 16;
                next = e.arg;
            }
            if (next < 0) {
                color[r] = 2;
                sp--;
                continue;
            }
            if (color[next] == 1) {
                rc = sl__gb_fail(g, SL_EINVAL,
                                 "rule '%s' is left-recursive (it can begin with itself); rewrite it with repetition",
                                 rule_name(g, next, nb, sizeof nb));
                goto out;
            }
            if (color[next] == 0) {
                color[next] = 1;
                iter[next] = 0;
                stack[sp++] = next;
            }
        }
    }
    /* Flatten. */
    gr->elems = malloc((size_t)(ne + 1) * sizeof *gr->elems);
    gr->alt_off = malloc(((size_t)nr + 1) * sizeof *gr->alt_off);
    gr->alts = malloc((size_t)(na + 1) * sizeof *gr->alts);
    if (!gr->elems || !gr->alt_off || !gr->alts) {
        rc = oom(g);
        goto out;
    }
    int pe = 0, pa = 0;
    for (int r = 0; r < nr; r++) {
        gr->alt_off[r] = pa;
        for (int a = 0; a < g->rules[r].n_alts; a++) {
            const sl__seq *s = &g->rules[r].alts[a];
            gr->alts[pa++] = pe;
            if (s->n) memcpy(gr->elems + pe, s->v, (size_t)s->n * sizeof *s->v);
            pe += s->n;
            gr->elems[pe++] = (sl__elem){SL__E_END, r};
        }
    }
    gr->alt_off[nr] = pa;
    gr->n_elems = pe;
    gr->n_rules = nr;
    gr->sets = g->sets;
    gr->n_sets = g->n_sets;
    g->sets = NULL;
    g->n_sets = 0;
    gr->root = root;
    rc = 0;
out:
    free(nullable);
    free(color);
    free(stack);
    free(iter);
    if (rc) sl__grammar_free(gr);
    sl__gb_free(g);
    return rc;
}
