/* tokenizer_bpe.c — hash maps and the BPE model.
 *
 * The merge loop is the library's: symbols in a doubly linked list, candidate merges in a
 * binary min-heap ordered by (rank, position), stale entries skipped when popped. That is
 * O(n log n) in the word length, so a 10 MB run without spaces is fine. */
#include "tokenizer_internal.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ hashing */

static uint64_t mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0x100000001b3ull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, s, n);
    return mix64(h ^ v);
}

static size_t pow2_for(size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2 + 1) cap *= 2;
    return cap;
}

struct sl__strslot {
    const char *key; /* NULL: empty */
    uint32_t len;
    int32_t val;
    uint64_t hash;
};

int sl__strmap_init(sl__strmap *m, size_t expected) {
    size_t cap = pow2_for(expected);
    m->slots = calloc(cap, sizeof *m->slots);
    if (!m->slots) return SL_ENOMEM;
    m->mask = cap - 1;
    m->n = 0;
    return 0;
}

void sl__strmap_free(sl__strmap *m) {
    free(m->slots);
    m->slots = NULL;
    m->n = m->mask = 0;
}

static int strmap_grow(sl__strmap *m) {
    size_t cap = (m->mask + 1) * 2;
    struct sl__strslot *s = calloc(cap, sizeof *s);
    if (!s) return SL_ENOMEM;
    for (size_t i = 0; i <= m->mask; i++) {
        if (!m->slots[i].key) continue;
        size_t j = m->slots[i].hash & (cap - 1);
        while (s[j].key) j = (j + 1) & (cap - 1);
        s[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = s;
    m->mask = cap - 1;
    return 0;
}

int sl__strmap_put(sl__strmap *m, const char *key, size_t len, int32_t val) {
    if (len > UINT32_MAX) return SL_ERANGE;
    if ((m->n + 1) * 2 > m->mask + 1) {
        int rc = strmap_grow(m);
        if (rc) return rc;
    }
    uint64_t h = hash_bytes(key, len);
    size_t j = h & m->mask;
    while (m->slots[j].key) {
        struct sl__strslot *s = &m->slots[j];
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) {
            s->val = val;
            return 1;
        }
        j = (j + 1) & m->mask;
    }
    m->slots[j] = (struct sl__strslot){key, (uint32_t)len, val, h};
    m->n++;
    return 0;
}

int32_t sl__strmap_get(const sl__strmap *m, const char *key, size_t len) {
    if (!m->slots) return -1;
    uint64_t h = hash_bytes(key, len);
    size_t j = h & m->mask;
    while (m->slots[j].key) {
        const struct sl__strslot *s = &m->slots[j];
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return s->val;
        j = (j + 1) & m->mask;
    }
    return -1;
}

struct sl__pairslot {
    uint64_t key; /* UINT64_MAX: empty (ids are non-negative, so never a real key) */
    int32_t rank, new_id;
};

int sl__pairmap_init(sl__pairmap *m, size_t expected) {
    size_t cap = pow2_for(expected);
    m->slots = malloc(cap * sizeof *m->slots);
    if (!m->slots) return SL_ENOMEM;
    for (size_t i = 0; i < cap; i++) m->slots[i].key = UINT64_MAX;
    m->mask = cap - 1;
    m->n = 0;
    return 0;
}

void sl__pairmap_free(sl__pairmap *m) {
    free(m->slots);
    m->slots = NULL;
    m->n = m->mask = 0;
}

static uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

int sl__pairmap_put(sl__pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t new_id) {
    if ((m->n + 1) * 2 > m->mask + 1) {
        size_t cap = (m->mask + 1) * 2;
        struct sl__pairslot *s = malloc(cap * sizeof *s);
        if (!s) return SL_ENOMEM;
        for (size_t i = 0; i < cap; i++) s[i].key = UINT64_MAX;
        for (size_t i = 0; i <= m->mask; i++) {
            if (m->slots[i].key == UINT64_MAX) continue;
            size_t j = mix64(m->slots[i].key) & (cap - 1);
            while (s[j].key != UINT64_MAX) j = (j + 1) & (cap - 1);
            s[j] = m->slots[i];
        }
        free(m->slots);
        m->slots = s;
        m->mask = cap - 1;
    }
    uint64_t k = pair_key(a, b);
    size_t j = mix64(k) & m->mask;
    while (m->slots[j].key != UINT64_MAX) {
        if (m->slots[j].key == k) { /* a later duplicate wins, as with a Rust HashMap collect */
            m->slots[j].rank = rank;
            m->slots[j].new_id = new_id;
            return 1;
        }
        j = (j + 1) & m->mask;
    }
    m->slots[j] = (struct sl__pairslot){k, rank, new_id};
    m->n++;
    return 0;
}

int sl__pairmap_get(const sl__pairmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *new_id) {
    if (!m->slots) return 0;
    uint64_t k = pair_key(a, b);
    size_t j = mix64(k) & m->mask;
    while (m->slots[j].key != UINT64_MAX) {
        if (m->slots[j].key == k) {
            *rank = m->slots[j].rank;
            *new_id = m->slots[j].new_id;
            return 1;
        }
        j = (j + 1) & m->mask;
    }
    return 0;
}

/* ------------------------------------------------------------------ BPE */

struct sl__sym {
    int32_t id;
    int32_t prev, next; /* -1: none */
    int alive;
};

struct sl__merge {
    int32_t rank, pos, new_id;
};

void sl__bpe_scratch_free(sl__bpe_scratch *s) {
    free(s->sym);
    free(s->heap);
    memset(s, 0, sizeof *s);
}

void sl__bpe_free(sl__bpe *m) {
    sl__strmap_free(&m->vocab);
    sl__pairmap_free(&m->merges);
    sl__pairmap_free(&m->cross);
    free(m->first_cp);
    free(m->last_cp);
    free(m->unk_token);
    free(m->prefix);
    free(m->suffix);
}

static int merge_less(const struct sl__merge *a, const struct sl__merge *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

/* A 4-ary heap: half the depth of a binary one, and the four children of a node share a
 * cache line or two, which matters when one huge word makes the heap hundreds of MB. */
static void heap_push(struct sl__merge *h, size_t *n, struct sl__merge x) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 4;
        if (!merge_less(&x, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static struct sl__merge heap_pop(struct sl__merge *h, size_t *n) {
    struct sl__merge top = h[0], x = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 4 * i + 1;
        if (c >= *n) break;
        size_t best = c, end = c + 4 < *n ? c + 4 : *n;
        for (size_t k = c + 1; k < end; k++)
            if (merge_less(&h[k], &h[best])) best = k;
        if (!merge_less(&h[best], &x)) break;
        h[i] = h[best];
        i = best;
    }
    if (*n) h[i] = x;
    return top;
}

static int ids_push(int32_t **ids, size_t *n, size_t *cap, int32_t id) {
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        int32_t *v = realloc(*ids, c * sizeof *v);
        if (!v) return SL_ENOMEM;
        *ids = v;
        *cap = c;
    }
    (*ids)[(*n)++] = id;
    return 0;
}

static int sym_push(sl__bpe_scratch *sc, size_t *n, int32_t id) {
    if (*n == sc->sym_cap) {
        size_t c = sc->sym_cap ? sc->sym_cap * 2 : 64;
        struct sl__sym *v = realloc(sc->sym, c * sizeof *v);
        if (!v) return SL_ENOMEM;
        sc->sym = v;
        sc->sym_cap = c;
    }
    sc->sym[*n] = (struct sl__sym){id, (int32_t)*n - 1, (int32_t)*n + 1, 1};
    (*n)++;
    return 0;
}

/* Lookup of one character with the optional prefix/suffix around it; full and fl get
 * the string that was looked up (byte fallback uses its bytes). */
static int32_t char_id(const sl__bpe *m, const char *c, size_t l, int first, int last, char *tmp,
                       const char **full, size_t *fl) {
    if ((first || !m->prefix) && (!last || !m->suffix)) {
        *full = c;
        *fl = l;
        return sl__strmap_get(&m->vocab, c, l);
    }
    size_t k = 0;
    if (!first && m->prefix) { memcpy(tmp, m->prefix, m->prefix_len); k = m->prefix_len; }
    memcpy(tmp + k, c, l);
    k += l;
    if (last && m->suffix) { memcpy(tmp + k, m->suffix, m->suffix_len); k += m->suffix_len; }
    *full = tmp;
    *fl = k;
    return sl__strmap_get(&m->vocab, tmp, k);
}

static int bpe_can_cross(const sl__bpe *m, int32_t left, int32_t right) {
    int32_t r, x;
    if (left >= m->n_cp || right >= m->n_cp) return 1;
    return sl__pairmap_get(&m->cross, m->last_cp[left], m->first_cp[right], &r, &x);
}

/* The library's merge loop over symbols [a, b): the lowest (rank, position) merge first,
 * with a heap; stale entries are skipped when popped. */
static int merge_range(const sl__bpe *m, sl__bpe_scratch *sc, size_t a, size_t b) {
    struct sl__sym *s = sc->sym;
    if (b - a < 2) return 0;
    s[a].prev = -1;
    s[b - 1].next = -1;
    size_t need = (b - a) * 2;
    if (sc->heap_cap < need) {
        struct sl__merge *h = realloc(sc->heap, need * sizeof *h);
        if (!h) return SL_ENOMEM;
        sc->heap = h;
        sc->heap_cap = need;
    }
    size_t hn = 0;
    for (size_t i = a; i + 1 < b; i++) {
        int32_t rank, nid;
        if (sl__pairmap_get(&m->merges, s[i].id, s[i + 1].id, &rank, &nid))
            heap_push(sc->heap, &hn, (struct sl__merge){rank, (int32_t)i, nid});
    }
    while (hn) {
        struct sl__merge top = heap_pop(sc->heap, &hn);
        struct sl__sym *cur = &s[top.pos];
        if (!cur->alive || cur->next < 0) continue;
        int32_t nx = cur->next;
        int32_t rank, nid;
        if (!sl__pairmap_get(&m->merges, cur->id, s[nx].id, &rank, &nid) || nid != top.new_id)
            continue; /* stale entry */
        cur->id = top.new_id;
        cur->next = s[nx].next;
        s[nx].alive = 0;
        if (cur->next >= 0) s[cur->next].prev = top.pos;
        /* each merge pushes at most two entries: grow when a long run of merges needs it */
        if (hn + 2 > sc->heap_cap) {
            struct sl__merge *h = realloc(sc->heap, sc->heap_cap * 2 * sizeof *h);
            if (!h) return SL_ENOMEM;
            sc->heap = h;
            sc->heap_cap *= 2;
        }
        if (cur->prev >= 0 && sl__pairmap_get(&m->merges, s[cur->prev].id, cur->id, &rank, &nid))
            heap_push(sc->heap, &hn, (struct sl__merge){rank, cur->prev, nid});
        if (cur->next >= 0 && sl__pairmap_get(&m->merges, cur->id, s[cur->next].id, &rank, &nid))
            heap_push(sc->heap, &hn, (struct sl__merge){rank, top.pos, nid});
    }
    return 0;
}

int sl__bpe_tokenize(const sl__bpe *m, sl__bpe_scratch *sc, const char *w, size_t n,
                     int32_t **ids, size_t *n_ids, size_t *cap_ids, char *err, size_t errlen) {
    int rc;
    if (n == 0) return 0;
    if (m->ignore_merges) {
        int32_t id = sl__strmap_get(&m->vocab, w, n);
        if (id >= 0) return ids_push(ids, n_ids, cap_ids, id);
    }
    if (n > INT32_MAX / 2) return sl__errf(err, errlen, SL_ETOOBIG, "word of %zu bytes too long", n);

    /* 1. characters -> symbols (merge_word) */
    size_t ns = 0;
    int32_t unk = -1; /* pending unknown (fused) */
    char *tmp = NULL;
    if (m->prefix || m->suffix) {
        tmp = malloc(m->prefix_len + m->suffix_len + 8);
        if (!tmp) return SL_ENOMEM;
    }
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t l = sl__utf8_next(w + i, n - i, &cp);
        const char *full;
        size_t fl;
        int32_t id = char_id(m, w + i, l, i == 0, i + l == n, tmp, &full, &fl);
        if (id >= 0) {
            if (unk >= 0) {
                if ((rc = sym_push(sc, &ns, unk))) goto out;
                unk = -1;
            }
            if ((rc = sym_push(sc, &ns, id))) goto out;
        } else {
            int done = 0;
            if (m->byte_fallback) {
                /* the library looks up the bytes of the (prefixed) string, all or nothing */
                int all = 1;
                for (size_t j = 0; j < fl; j++) all &= m->byte_ids[(unsigned char)full[j]] >= 0;
                if (all) {
                    for (size_t j = 0; j < fl; j++)
                        if ((rc = sym_push(sc, &ns, m->byte_ids[(unsigned char)full[j]]))) goto out;
                    done = 1;
                }
            }
            if (!done && m->has_unk) {
                if (m->unk_id < 0) {
                    rc = sl__errf(err, errlen, SL_EFORMAT, "model: unk_token \"%s\" is not in the vocabulary",
                                  m->unk_token);
                    goto out;
                }
                if (unk < 0) {
                    unk = m->unk_id;
                } else if (!m->fuse_unk) {
                    if ((rc = sym_push(sc, &ns, unk))) goto out;
                    unk = m->unk_id;
                }
            }
        }
        i += l;
    }
    if (unk >= 0 && (rc = sym_push(sc, &ns, unk))) goto out;
    if (ns == 0) { rc = 0; goto out; }

    /* 2. merges, one independent segment at a time (see merge_range) */
    struct sl__sym *s = sc->sym;
    size_t seg = 0;
    for (size_t i = 0; ns > 32 && i + 1 < ns; i++) {
        /* A merge across the boundary i|i+1 needs a merge whose left side ends with the
         * last char of s[i] and whose right side starts with the first char of s[i+1]; when
         * no merge has that pair, both sides evolve independently and the result is the same
         * as merging the whole word. This keeps the heap small on long words (a text without
         * pre-tokenizer, as SentencePiece-style tokenizers have, is one word). */
        if (m->cross.slots && !bpe_can_cross(m, s[i].id, s[i + 1].id)) {
            if ((rc = merge_range(m, sc, seg, i + 1))) goto out;
            seg = i + 1;
        }
    }
    if ((rc = merge_range(m, sc, seg, ns))) goto out;
    rc = 0;
    for (size_t i = 0; i < ns && !rc; i++)
        if (s[i].alive) rc = ids_push(ids, n_ids, cap_ids, s[i].id);
out:
    free(tmp);
    return rc;
}

static int32_t first_cp_of(const char *s) {
    int32_t cp = 0;
    if (*s) sl__utf8_next(s, strlen(s), &cp);
    return cp;
}

static int32_t last_cp_of(const char *s) {
    size_t n = strlen(s), q;
    int32_t cp = 0;
    if (!n) return 0;
    q = n - 1;
    while (q > 0 && ((unsigned char)s[q] & 0xC0) == 0x80) q--;
    sl__utf8_next(s + q, n - q, &cp);
    return cp;
}

int sl__bpe_build_cross(sl__bpe *m, char *const *id_to_tok, int32_t n_ids, const int32_t *pairs,
                        size_t n_pairs) {
    m->n_cp = n_ids;
    m->first_cp = malloc((n_ids ? (size_t)n_ids : 1) * sizeof *m->first_cp);
    m->last_cp = malloc((n_ids ? (size_t)n_ids : 1) * sizeof *m->last_cp);
    if (!m->first_cp || !m->last_cp) return SL_ENOMEM;
    for (int32_t i = 0; i < n_ids; i++) {
        m->first_cp[i] = id_to_tok[i] ? first_cp_of(id_to_tok[i]) : -1;
        m->last_cp[i] = id_to_tok[i] ? last_cp_of(id_to_tok[i]) : -1;
    }
    int rc = sl__pairmap_init(&m->cross, n_pairs);
    for (size_t k = 0; !rc && k < n_pairs; k++) {
        int32_t a = pairs[2 * k], b = pairs[2 * k + 1];
        rc = sl__pairmap_put(&m->cross, m->last_cp[a], m->first_cp[b], 0, 0);
        if (rc > 0) rc = 0;
    }
    return rc;
}
