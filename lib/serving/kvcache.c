/* kvcache.c — the paged KV block pool (see kvcache.h for the layout and the prefix cache). */
#include "kvcache.h"

#include "bigalloc.h"
#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

typedef struct blockmeta {
    int32_t refs;                  /* sequences holding the block */
    int32_t lru_prev, lru_next;    /* in the LRU of free-but-cached blocks (refs == 0, named) */
    int named;                     /* hash is in the table */
    uint8_t hash[SL_KV_HASH_BYTES];
} blockmeta;

struct sl_kv_pool {
    int n_layers, n_kv_heads, head_dim, block_size, n_blocks;
    sl_wtype dtype;      /* F32, BF16 or F16 */
    size_t esize;        /* bytes of one element */
    size_t block_elems;  /* elements of one (layer, K or V, block): n_kv_heads * block_size * head_dim */
    unsigned char *data; /* (n_layers, 2, n_blocks, block_elems) elements of dtype */
    int32_t *free_ids;   /* (n_blocks) stack of plain free block ids (refs == 0, not named) */
    int n_free;
    blockmeta *meta;     /* (n_blocks) */
    int32_t lru_head, lru_tail; /* oldest first; -1: empty */
    int n_cached;
    /* Open addressing with linear probing: slot -> block id or -1. Named blocks only. */
    int32_t *table;      /* (table_mask + 1) */
    size_t table_mask;
    int prefix_cache;
    uint64_t evictions;
};

static size_t kv_elem_bytes(sl_wtype dtype) { return dtype == SL_WTYPE_F32 ? 4 : 2; }

int sl_kv_pool_init(sl_kv_pool **out, const sl_model *m, int n_blocks, int block_size, sl_wtype dtype, char *err,
                    size_t errlen) {
    *out = NULL;
    const sl_model_config *c = sl_model_get_config(m);
    if (n_blocks < 1 || block_size < 16 || block_size > 4096 || block_size % 16)
        return sl__errf(err, errlen, SL_EINVAL, "kv cache: blocks hold 16..4096 positions, a multiple of 16 (the attention kernel's vector width)");
    if (dtype != SL_WTYPE_F32 && dtype != SL_WTYPE_BF16 && dtype != SL_WTYPE_F16)
        return sl__errf(err, errlen, SL_EINVAL, "kv cache: elements are f32, bf16 or f16, not %s", sl_wtype_name(dtype));
    sl_kv_pool *p = calloc(1, sizeof *p);
    if (!p) return SL_ENOMEM;
    p->n_layers = c->n_layers;
    p->n_kv_heads = c->n_kv_heads;
    p->head_dim = c->head_dim;
    p->block_size = block_size;
    p->n_blocks = n_blocks;
    p->dtype = dtype;
    p->esize = kv_elem_bytes(dtype);
    p->block_elems = (size_t)c->n_kv_heads * (size_t)block_size * (size_t)c->head_dim;
    size_t total = (size_t)c->n_layers * 2 * (size_t)n_blocks * p->block_elems;
    size_t slots = 16;
    while (slots < (size_t)n_blocks * 2) slots *= 2;
    p->table_mask = slots - 1;
    /* Untouched pages stay unbacked until a sequence writes them; huge pages where offered,
     * since a step reads every sequence's blocks, 4 KB pieces scattered over the pool. */
    p->data = total <= SIZE_MAX / p->esize ? sl_big_alloc(total * p->esize) : NULL;
    p->free_ids = malloc((size_t)n_blocks * sizeof *p->free_ids);
    p->meta = calloc((size_t)n_blocks, sizeof *p->meta);
    p->table = malloc(slots * sizeof *p->table);
    if (!p->data || !p->free_ids || !p->meta || !p->table) {
        size_t mib = total * p->esize >> 20;
        sl_kv_pool_free(p);
        return sl__errf(err, errlen, SL_ENOMEM, "kv cache: cannot allocate %zu MiB", mib);
    }
    for (int i = 0; i < n_blocks; i++) p->free_ids[i] = n_blocks - 1 - i;
    p->n_free = n_blocks;
    for (size_t i = 0; i < slots; i++) p->table[i] = -1;
    p->lru_head = p->lru_tail = -1;
    *out = p;
    return 0;
}

void sl_kv_pool_free(sl_kv_pool *p) {
    if (!p) return;
    sl_big_free(p->data, sl_kv_pool_bytes(p));
    free(p->free_ids);
    free(p->meta);
    free(p->table);
    free(p);
}

int sl_kv_pool_block_size(const sl_kv_pool *p) { return p->block_size; }
int sl_kv_pool_total_blocks(const sl_kv_pool *p) { return p->n_blocks; }
int sl_kv_pool_free_blocks(const sl_kv_pool *p) { return p->n_free + p->n_cached; }
int sl_kv_pool_prefix_cache(const sl_kv_pool *p) { return p->prefix_cache; }
size_t sl_kv_pool_bytes(const sl_kv_pool *p) {
    return (size_t)p->n_layers * 2 * (size_t)p->n_blocks * p->block_elems * p->esize;
}
size_t sl_kv_bytes_per_block(const sl_model *m, int block_size, sl_wtype dtype) {
    const sl_model_config *c = sl_model_get_config(m);
    return (size_t)c->n_layers * 2 * (size_t)c->n_kv_heads * (size_t)block_size * (size_t)c->head_dim *
           kv_elem_bytes(dtype);
}
sl_wtype sl_kv_pool_dtype(const sl_kv_pool *p) { return p->dtype; }
int sl_kv_blocks_for(const sl_kv_pool *p, int n_pos) { return (n_pos + p->block_size - 1) / p->block_size; }

void sl_kv_pool_get_stats(const sl_kv_pool *p, sl_kv_stats *out) {
    out->total = p->n_blocks;
    out->cached = p->n_cached;
    out->used = p->n_blocks - p->n_free - p->n_cached;
    out->evictions = p->evictions;
}

/* ---------------------------------------------------------------- the name table */

static size_t slot_of(const sl_kv_pool *p, const uint8_t *h) {
    uint64_t v;
    memcpy(&v, h, sizeof v); /* SHA-256 output: any 8 bytes are uniform */
    return (size_t)v & p->table_mask;
}

static int32_t table_find(const sl_kv_pool *p, const uint8_t *h) {
    for (size_t i = slot_of(p, h);; i = (i + 1) & p->table_mask) {
        int32_t b = p->table[i];
        if (b < 0) return -1;
        if (memcmp(p->meta[b].hash, h, SL_KV_HASH_BYTES) == 0) return b;
    }
}

/* The table holds at most n_blocks names in >= 2 * n_blocks slots, so a probe always ends. */
static void table_insert(sl_kv_pool *p, int32_t b) {
    size_t i = slot_of(p, p->meta[b].hash);
    while (p->table[i] >= 0) i = (i + 1) & p->table_mask;
    p->table[i] = b;
    p->meta[b].named = 1;
}

/* Removes B's name; backward-shift deletion keeps every probe chain unbroken. */
static void table_remove(sl_kv_pool *p, int32_t b) {
    size_t i = slot_of(p, p->meta[b].hash);
    while (p->table[i] != b) i = (i + 1) & p->table_mask;
    for (size_t j = i;;) {
        p->table[i] = -1;
        for (;;) {
            j = (j + 1) & p->table_mask;
            if (p->table[j] < 0) {
                p->meta[b].named = 0;
                return;
            }
            size_t home = slot_of(p, p->meta[p->table[j]].hash);
            /* Move the entry at j back to i unless its home lies cyclically in (i, j]. */
            if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) break;
        }
        p->table[i] = p->table[j];
        i = j;
    }
}

/* ---------------------------------------------------------------- the LRU of cached blocks */

static void lru_unlink(sl_kv_pool *p, int32_t b) {
    blockmeta *m = &p->meta[b];
    if (m->lru_prev >= 0) p->meta[m->lru_prev].lru_next = m->lru_next;
    else p->lru_head = m->lru_next;
    if (m->lru_next >= 0) p->meta[m->lru_next].lru_prev = m->lru_prev;
    else p->lru_tail = m->lru_prev;
    m->lru_prev = m->lru_next = -1;
    p->n_cached--;
}

static void lru_push(sl_kv_pool *p, int32_t b) {
    blockmeta *m = &p->meta[b];
    m->lru_next = -1;
    m->lru_prev = p->lru_tail;
    if (p->lru_tail >= 0) p->meta[p->lru_tail].lru_next = b;
    else p->lru_head = b;
    p->lru_tail = b;
    p->n_cached++;
}

void sl_kv_pool_set_prefix_cache(sl_kv_pool *p, int on) {
    p->prefix_cache = on != 0;
    if (on) return;
    while (p->lru_head >= 0) {
        int32_t b = p->lru_head;
        lru_unlink(p, b);
        table_remove(p, b);
        p->free_ids[p->n_free++] = b;
    }
    for (int32_t b = 0; b < p->n_blocks; b++)
        if (p->meta[b].named) table_remove(p, b); /* held blocks: freed plainly at release */
}

/* ---------------------------------------------------------------- sequences */

void sl_kv_seq_begin(sl_kv_pool *p, sl_kv_seq *s, const uint8_t *root) {
    memset(s, 0, sizeof *s);
    if (root) {
        memcpy(s->root, root, SL_KV_HASH_BYTES);
        s->cacheable = 1;
    }
    memcpy(s->chain, s->root, SL_KV_HASH_BYTES);
    (void)p;
}

static void block_name(const uint8_t *prev, const int32_t *tokens, int n, uint8_t *out) {
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, SL_KV_HASH_BYTES, prev);
    uint8_t le[4 * 64];
    for (int i = 0; i < n;) {
        int k = n - i < 64 ? n - i : 64;
        for (int j = 0; j < k; j++) {
            uint32_t t = (uint32_t)tokens[i + j];
            le[4 * j] = (uint8_t)t;
            le[4 * j + 1] = (uint8_t)(t >> 8);
            le[4 * j + 2] = (uint8_t)(t >> 16);
            le[4 * j + 3] = (uint8_t)(t >> 24);
        }
        sha256_update(&c, (size_t)k * 4, le);
        i += k;
    }
    sha256_digest(&c, SL_KV_HASH_BYTES, out);
}

static int seq_grow(sl_kv_seq *s, int need) {
    if (need <= s->cap_blocks) return 0;
    int cap = s->cap_blocks ? s->cap_blocks : 4;
    while (cap < need) cap *= 2;
    int32_t *b = realloc(s->blocks, (size_t)cap * sizeof *b);
    if (!b) return SL_ENOMEM;
    s->blocks = b;
    s->cap_blocks = cap;
    return 0;
}

int sl_kv_seq_match(sl_kv_pool *p, sl_kv_seq *s, const int32_t *tokens, int max_pos) {
    if (!p->prefix_cache || !s->cacheable || s->n_blocks) return 0;
    int bs = p->block_size, n = 0;
    uint8_t h[SL_KV_HASH_BYTES];
    while ((n + 1) * bs <= max_pos) {
        block_name(s->chain, tokens + (size_t)n * bs, bs, h);
        int32_t b = table_find(p, h);
        if (b < 0 || seq_grow(s, n + 1) != 0) break;
        if (p->meta[b].refs++ == 0) lru_unlink(p, b);
        s->blocks[s->n_blocks++] = b;
        memcpy(s->chain, h, sizeof h);
        n++;
    }
    s->n_hashed = n;
    s->n_pos = n * bs;
    return s->n_pos;
}

void sl_kv_seq_commit(sl_kv_pool *p, sl_kv_seq *s, const int32_t *tokens) {
    if (!p->prefix_cache || !s->cacheable) return;
    int bs = p->block_size;
    while ((s->n_hashed + 1) * bs <= s->n_pos) {
        int i = s->n_hashed++;
        block_name(s->chain, tokens + (size_t)i * bs, bs, s->chain);
        int32_t b = s->blocks[i];
        /* A block found by match is named already; a twin computed by another sequence at
         * the same time stays unnamed (and is freed plainly at release). */
        if (!p->meta[b].named && table_find(p, s->chain) < 0) {
            memcpy(p->meta[b].hash, s->chain, SL_KV_HASH_BYTES);
            table_insert(p, b);
        }
    }
}

int sl_kv_seq_reserve(sl_kv_pool *p, sl_kv_seq *s, int n_pos) {
    int need = sl_kv_blocks_for(p, n_pos);
    if (need <= s->n_blocks) return 0;
    if (need - s->n_blocks > p->n_free + p->n_cached) return SL_EBUSY;
    if (seq_grow(s, need) != 0) return SL_ENOMEM;
    while (s->n_blocks < need) {
        int32_t b;
        if (p->n_free) {
            b = p->free_ids[--p->n_free];
        } else { /* evict the least recently used cached block */
            b = p->lru_head;
            lru_unlink(p, b);
            table_remove(p, b);
            p->evictions++;
        }
        p->meta[b].refs = 1;
        s->blocks[s->n_blocks++] = b;
    }
    return 0;
}

void sl_kv_seq_release(sl_kv_pool *p, sl_kv_seq *s) {
    /* Deepest blocks first into the LRU: a prefix's head outlives its tail, so eviction
     * never strands a tail block that can no longer be reached through its chain. */
    for (int i = s->n_blocks - 1; i >= 0; i--) {
        int32_t b = s->blocks[i];
        if (--p->meta[b].refs > 0) continue;
        if (p->meta[b].named) lru_push(p, b);
        else p->free_ids[p->n_free++] = b;
    }
    free(s->blocks);
    s->blocks = NULL;
    s->n_blocks = s->cap_blocks = s->n_pos = s->n_hashed = 0;
    memcpy(s->chain, s->root, SL_KV_HASH_BYTES);
}

void *sl__kv_layer(sl_kv_pool *p, int layer, int is_v) {
    return p->data + ((size_t)layer * 2 + (size_t)is_v) * (size_t)p->n_blocks * p->block_elems * p->esize;
}

size_t sl__kv_block_elems(const sl_kv_pool *p) { return p->block_elems; }
size_t sl__kv_elem_bytes(const sl_kv_pool *p) { return p->esize; }
