/* kvcache.h — a paged KV cache: one pool of fixed-size blocks shared by every sequence.
 *
 * A block holds BLOCK_SIZE token positions for every layer, K and V. Per layer the pool is
 *   k[layer]: (n_blocks, n_kv_heads, head_dim, block_size)   K transposed per head, so the
 *                                                           scores of a block's positions
 *                                                           are one vectorised pass over d
 *   v[layer]: (n_blocks, n_kv_heads, block_size, head_dim)
 * so one head's slice of a block is contiguous (block_size * head_dim floats) either way.
 * The pool has an explicit budget (n_blocks); the scheduler admits sequences against it.
 * Not thread-safe: owned by the engine thread. */
#ifndef SL_KVCACHE_H
#define SL_KVCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef struct sl_kv_pool sl_kv_pool;

/* A sequence's view of the cache: its block table and how many positions are filled. */
typedef struct sl_kv_seq {
    int32_t *blocks;   /* (cap_blocks) block ids; owned, freed by sl_kv_seq_release */
    int n_blocks;      /* blocks held */
    int cap_blocks;
    int n_pos;         /* positions already computed and stored */
} sl_kv_seq;

/* block_size: a multiple of 16 in 16..4096. */
int sl_kv_pool_init(sl_kv_pool **out, const sl_model *m, int n_blocks, int block_size, char *err, size_t errlen);
void sl_kv_pool_free(sl_kv_pool *p);
int sl_kv_pool_block_size(const sl_kv_pool *p);
int sl_kv_pool_total_blocks(const sl_kv_pool *p);
int sl_kv_pool_free_blocks(const sl_kv_pool *p);
size_t sl_kv_pool_bytes(const sl_kv_pool *p);
/* Blocks needed to hold N positions. */
int sl_kv_blocks_for(const sl_kv_pool *p, int n_pos);

/* Grows S so it can hold N_POS positions in total; SL_EBUSY when the pool is out of blocks
 * (S unchanged then). */
int sl_kv_seq_reserve(sl_kv_pool *p, sl_kv_seq *s, int n_pos);
/* Returns all of S's blocks to the pool and resets S. */
void sl_kv_seq_release(sl_kv_pool *p, sl_kv_seq *s);

/* Internal, for the forward pass: pointer to K or V of (layer, block), laid out as above. */
float *sl__kv_block(sl_kv_pool *p, int layer, int is_v, int32_t block);

#endif
