/* kvcache.c — the paged KV block pool (see kvcache.h for the layout). */
#include "kvcache.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

struct sl_kv_pool {
    int n_layers, n_kv_heads, head_dim, block_size, n_blocks;
    size_t block_floats; /* floats of one (layer, K or V, block): n_kv_heads * block_size * head_dim */
    float *data;         /* (n_layers, 2, n_blocks, block_floats) */
    int32_t *free_ids;   /* stack of free block ids */
    int n_free;
};

int sl_kv_pool_init(sl_kv_pool **out, const sl_model *m, int n_blocks, int block_size, char *err, size_t errlen) {
    *out = NULL;
    const sl_model_config *c = sl_model_get_config(m);
    if (n_blocks < 1 || block_size < 16 || block_size > 4096 || block_size % 16)
        return sl__errf(err, errlen, SL_EINVAL, "kv cache: blocks hold 16..4096 positions, a multiple of 16 (the attention kernel's vector width)");
    sl_kv_pool *p = calloc(1, sizeof *p);
    if (!p) return SL_ENOMEM;
    p->n_layers = c->n_layers;
    p->n_kv_heads = c->n_kv_heads;
    p->head_dim = c->head_dim;
    p->block_size = block_size;
    p->n_blocks = n_blocks;
    p->block_floats = (size_t)c->n_kv_heads * (size_t)block_size * (size_t)c->head_dim;
    size_t total = (size_t)c->n_layers * 2 * (size_t)n_blocks * p->block_floats;
    /* calloc: untouched pages stay unbacked until a sequence writes them. */
    p->data = calloc(total, sizeof(float));
    p->free_ids = malloc((size_t)n_blocks * sizeof *p->free_ids);
    if (!p->data || !p->free_ids) {
        sl_kv_pool_free(p);
        return sl__errf(err, errlen, SL_ENOMEM, "kv cache: cannot allocate %zu MiB", total * sizeof(float) >> 20);
    }
    for (int i = 0; i < n_blocks; i++) p->free_ids[i] = n_blocks - 1 - i;
    p->n_free = n_blocks;
    *out = p;
    return 0;
}

void sl_kv_pool_free(sl_kv_pool *p) {
    if (!p) return;
    free(p->data);
    free(p->free_ids);
    free(p);
}

int sl_kv_pool_block_size(const sl_kv_pool *p) { return p->block_size; }
int sl_kv_pool_total_blocks(const sl_kv_pool *p) { return p->n_blocks; }
int sl_kv_pool_free_blocks(const sl_kv_pool *p) { return p->n_free; }
size_t sl_kv_pool_bytes(const sl_kv_pool *p) {
    return (size_t)p->n_layers * 2 * (size_t)p->n_blocks * p->block_floats * sizeof(float);
}
int sl_kv_blocks_for(const sl_kv_pool *p, int n_pos) { return (n_pos + p->block_size - 1) / p->block_size; }

int sl_kv_seq_reserve(sl_kv_pool *p, sl_kv_seq *s, int n_pos) {
    int need = sl_kv_blocks_for(p, n_pos);
    if (need <= s->n_blocks) return 0;
    if (need - s->n_blocks > p->n_free) return SL_EBUSY;
    if (need > s->cap_blocks) {
        int cap = s->cap_blocks ? s->cap_blocks : 4;
        while (cap < need) cap *= 2;
        int32_t *b = realloc(s->blocks, (size_t)cap * sizeof *b);
        if (!b) return SL_ENOMEM;
        s->blocks = b;
        s->cap_blocks = cap;
    }
    while (s->n_blocks < need) s->blocks[s->n_blocks++] = p->free_ids[--p->n_free];
    return 0;
}

void sl_kv_seq_release(sl_kv_pool *p, sl_kv_seq *s) {
    for (int i = s->n_blocks - 1; i >= 0; i--) p->free_ids[p->n_free++] = s->blocks[i];
    free(s->blocks);
    memset(s, 0, sizeof *s);
}

float *sl__kv_block(sl_kv_pool *p, int layer, int is_v, int32_t block) {
    return p->data + (((size_t)layer * 2 + (size_t)is_v) * (size_t)p->n_blocks + (size_t)block) * p->block_floats;
}
