/* kvcache.h — a paged KV cache: one pool of fixed-size blocks shared by every sequence,
 * allocated on demand, reference-counted, and content-addressed for prefix caching.
 *
 * A block holds BLOCK_SIZE token positions for every layer, K and V. Per layer the pool is
 *   k[layer]: (n_blocks, n_kv_heads, head_dim, block_size)   K transposed per head, so the
 *                                                           scores of a block's positions
 *                                                           are one vectorised pass over d
 *   v[layer]: (n_blocks, n_kv_heads, block_size, head_dim)
 * so one head's slice of a block is contiguous (block_size * head_dim elements) either way.
 * Elements are F32, BF16 or F16 (--kv-dtype): the forward pass rounds K and V to the type as
 * it stores them (nearest even) and the attention kernel widens them exactly; cached blocks
 * live in one pool, hence one type.
 *
 * Blocks. A sequence holds the blocks its positions fill (sl_kv_seq_reserve grows it as
 * tokens come). Each block has a reference count: the sequences whose tables hold it.
 *
 * Prefix caching (sl_kv_pool_set_prefix_cache). A FULL block of a sequence is named by a
 * chained SHA-256: h(i) = SHA-256(h(i-1) || tokens of block i as little-endian int32), with
 * h(-1) = the sequence's root key (sl_kv_seq_begin), which the scheduler derives from
 * everything besides the tokens that decides the block's content or who may see it: the
 * adapter's identity and version, the tenant, a client's cache salt. SHA-256 makes a
 * collision — two different prefixes under one name — infeasible to find, so one tenant
 * cannot plant content another's request would read, and the table compares all 32 bytes.
 * A full block is entered in the table once its positions are computed (sl_kv_seq_commit);
 * another sequence whose tokens give the same chain of names takes a reference to it instead
 * of recomputing (sl_kv_seq_match). When its last reference goes, a named block is not freed
 * but kept, still findable, in an LRU of free-but-cached blocks; it is evicted (its name
 * forgotten) only when a sequence needs a block and no plain free one is left. Shared blocks
 * are full, and a sequence writes only positions >= its n_pos, so nobody writes a shared block.
 * The content of a cached block equals what recomputation would give bit for bit: the forward
 * pass's kernels sum in a fixed order whatever the batch or the prefill chunking.
 *
 * Not thread-safe: owned by the engine thread. */
#ifndef SL_KVCACHE_H
#define SL_KVCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "gemm.h"
#include "model.h"

typedef struct sl_kv_pool sl_kv_pool;

#define SL_KV_HASH_BYTES 32

/* A sequence's view of the cache: its block table and how many positions are filled. */
typedef struct sl_kv_seq {
    int32_t *blocks;   /* (cap_blocks) block ids; owned, freed by sl_kv_seq_release */
    int n_blocks;      /* blocks held */
    int cap_blocks;
    int n_pos;         /* positions already computed and stored */
    /* Prefix caching (set by sl_kv_seq_begin; all zero: the sequence shares nothing). */
    int cacheable;
    int n_hashed;                      /* leading full blocks whose names are in chain */
    uint8_t root[SL_KV_HASH_BYTES];    /* h(-1) */
    uint8_t chain[SL_KV_HASH_BYTES];   /* h(n_hashed - 1), or root */
} sl_kv_seq;

typedef struct sl_kv_stats {
    int total, used;          /* blocks; used = held by at least one sequence */
    int cached;               /* free but cached (in the LRU) */
    uint64_t evictions;       /* cached blocks reused for other content */
} sl_kv_stats;

/* block_size: a multiple of 16 in 16..4096; dtype: SL_WTYPE_F32, _BF16 or _F16. */
int sl_kv_pool_init(sl_kv_pool **out, const sl_model *m, int n_blocks, int block_size, sl_wtype dtype, char *err,
                    size_t errlen);
void sl_kv_pool_free(sl_kv_pool *p);
/* Turns prefix caching on or off (default off); turning it off forgets every cached block. */
void sl_kv_pool_set_prefix_cache(sl_kv_pool *p, int on);
int sl_kv_pool_prefix_cache(const sl_kv_pool *p);
int sl_kv_pool_block_size(const sl_kv_pool *p);
int sl_kv_pool_total_blocks(const sl_kv_pool *p);
/* Blocks a sequence could get now: plain free ones plus free-but-cached ones. */
int sl_kv_pool_free_blocks(const sl_kv_pool *p);
void sl_kv_pool_get_stats(const sl_kv_pool *p, sl_kv_stats *out);
size_t sl_kv_pool_bytes(const sl_kv_pool *p);
sl_wtype sl_kv_pool_dtype(const sl_kv_pool *p);
/* Bytes one block takes over all layers, K and V, for a pool of M with these settings. */
size_t sl_kv_bytes_per_block(const sl_model *m, int block_size, sl_wtype dtype);
/* Blocks needed to hold N positions. */
int sl_kv_blocks_for(const sl_kv_pool *p, int n_pos);

/* Starts S (empty) under ROOT (SL_KV_HASH_BYTES; NULL: S neither finds nor offers cached
 * blocks). Without prefix caching on the pool, S shares nothing either. */
void sl_kv_seq_begin(sl_kv_pool *p, sl_kv_seq *s, const uint8_t *root);
/* For an empty S: takes a reference to the cached blocks that hold TOKENS' leading full
 * blocks, at most MAX_POS positions (a multiple of the block size is used), and sets n_pos
 * to the positions they cover. Returns the positions reused (0 when nothing matched or
 * caching is off). */
int sl_kv_seq_match(sl_kv_pool *p, sl_kv_seq *s, const int32_t *tokens, int max_pos);
/* Names S's full blocks computed since the last call (TOKENS: every token of S so far, at
 * least n_pos of them) and enters them in the table unless that name is there already. */
void sl_kv_seq_commit(sl_kv_pool *p, sl_kv_seq *s, const int32_t *tokens);
/* Grows S so it can hold N_POS positions in total, evicting cached blocks if no plain free
 * one is left; SL_EBUSY when even that is not enough (S unchanged then), SL_ENOMEM. */
int sl_kv_seq_reserve(sl_kv_pool *p, sl_kv_seq *s, int n_pos);
/* Drops S's references (named blocks that reach zero go to the LRU, others are freed) and
 * resets S (the root is kept, so S can match again after a preemption). */
void sl_kv_seq_release(sl_kv_pool *p, sl_kv_seq *s);

/* Internal, for the forward pass: K or V of LAYER, (n_blocks, block_elems) elements of the
 * pool's dtype laid out as above; block b starts at element b * sl__kv_block_elems. */
void *sl__kv_layer(sl_kv_pool *p, int layer, int is_v);
size_t sl__kv_block_elems(const sl_kv_pool *p);
size_t sl__kv_elem_bytes(const sl_kv_pool *p); /* 4 (F32) or 2 */

#endif
