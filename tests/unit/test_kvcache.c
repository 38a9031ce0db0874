/* test_kvcache.c — the KV block pool: on-demand blocks, reference counts, the prefix cache's
 * names (chained SHA-256 under a root), its LRU of free-but-cached blocks and eviction.
 *
 * The forward pass is not run: each "computed" position gets a marker value in its block that
 * depends on the sequence's root and every token up to it, exactly as real KV does. A block
 * found by sl_kv_seq_match must then hold the markers that recomputation would write. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "kvcache.h"
#include "model.h"

static sl_model *model;
enum { BS = 16 };

/* The marker of position I of TOKENS under ROOT: a hash of the prefix (what KV depends on). */
static float marker(uint32_t root, const int32_t *tokens, int i) {
    uint32_t h = root * 2654435761u;
    for (int k = 0; k <= i; k++) h = (h ^ (uint32_t)tokens[k]) * 16777619u;
    return (float)(h >> 8);
}

/* Element 0 of block B of layer 0's K (an F32 pool): the marker slot of its positions. */
static float *block0(sl_kv_pool *p, int32_t b) { return (float *)sl__kv_layer(p, 0, 0) + (size_t)b * sl__kv_block_elems(p); }

/* "Computes" positions n_pos .. n_pos+n-1 of S: writes their markers (layer 0, K, head 0, d 0). */
static void compute(sl_kv_pool *p, sl_kv_seq *s, uint32_t root, const int32_t *tokens, int n) {
    CHECK(sl_kv_seq_reserve(p, s, s->n_pos + n) == 0);
    for (int i = s->n_pos; i < s->n_pos + n; i++) block0(p, s->blocks[i / BS])[i % BS] = marker(root, tokens, i);
    s->n_pos += n;
    sl_kv_seq_commit(p, s, tokens);
}

static int markers_ok(sl_kv_pool *p, const sl_kv_seq *s, uint32_t root, const int32_t *tokens) {
    for (int i = 0; i < s->n_pos; i++)
        if (block0(p, s->blocks[i / BS])[i % BS] != marker(root, tokens, i)) return 0;
    return 1;
}

static void root_of(uint32_t r, uint8_t out[SL_KV_HASH_BYTES]) {
    memset(out, 0, SL_KV_HASH_BYTES);
    memcpy(out, &r, sizeof r);
}

static int invariant(const sl_kv_pool *p) {
    sl_kv_stats st;
    sl_kv_pool_get_stats(p, &st);
    return st.used >= 0 && st.cached >= 0 && st.used + st.cached <= st.total &&
           sl_kv_pool_free_blocks(p) == st.total - st.used;
}

TEST(on_demand_refcounts_and_reuse) {
    sl_kv_pool *p = NULL;
    CHECK(sl_kv_pool_init(&p, model, 8, BS, SL_WTYPE_F32, NULL, 0) == 0);
    if (!p) return;
    sl_kv_pool_set_prefix_cache(p, 1);
    int32_t t[128];
    for (int i = 0; i < 128; i++) t[i] = i * 7 + 1;
    uint8_t r1[SL_KV_HASH_BYTES], r2[SL_KV_HASH_BYTES];
    root_of(1, r1);
    root_of(2, r2);
    sl_kv_seq a, b, c;
    sl_kv_seq_begin(p, &a, r1);
    compute(p, &a, 1, t, 40); /* 3 blocks, 2 of them full and named */
    CHECK(a.n_blocks == 3 && sl_kv_pool_free_blocks(p) == 5 && a.n_hashed == 2);
    /* B with the same root and tokens shares the two full blocks (refs 2), computes the rest. */
    sl_kv_seq_begin(p, &b, r1);
    CHECK(sl_kv_seq_match(p, &b, t, 39) == 32);
    CHECK(b.blocks[0] == a.blocks[0] && b.blocks[1] == a.blocks[1] && sl_kv_pool_free_blocks(p) == 5);
    compute(p, &b, 1, t, 8);
    CHECK(markers_ok(p, &b, 1, t) && b.blocks[2] != a.blocks[2]);
    /* Another root sees nothing. */
    sl_kv_seq_begin(p, &c, r2);
    CHECK(sl_kv_seq_match(p, &c, t, 64) == 0 && c.n_pos == 0);
    /* A's release keeps the shared blocks (B holds them) and frees its unnamed last block. */
    sl_kv_seq_release(p, &a);
    sl_kv_stats st;
    sl_kv_pool_get_stats(p, &st);
    CHECK(st.used == 3 && st.cached == 0 && invariant(p));
    sl_kv_seq_release(p, &b);
    sl_kv_pool_get_stats(p, &st);
    CHECK(st.used == 0 && st.cached == 2 && sl_kv_pool_free_blocks(p) == 8 && invariant(p));
    /* Still findable after every user is gone; the content is what recomputation writes. */
    sl_kv_seq_begin(p, &a, r1);
    CHECK(sl_kv_seq_match(p, &a, t, 128) == 32 && markers_ok(p, &a, 1, t));
    sl_kv_seq_release(p, &a);
    /* Memory pressure evicts cached blocks (the LRU: the tail of a prefix before its head). */
    int32_t u[128];
    for (int i = 0; i < 128; i++) u[i] = 5000 + i;
    sl_kv_seq_begin(p, &c, r2);
    compute(p, &c, 2, u, 7 * BS); /* 7 blocks: one cached block must go */
    sl_kv_pool_get_stats(p, &st);
    CHECK(st.used == 7 && st.cached == 1 && st.evictions == 1);
    sl_kv_seq_begin(p, &a, r1);
    CHECK(sl_kv_seq_match(p, &a, t, 128) == 16); /* the head survived */
    CHECK(sl_kv_seq_reserve(p, &a, 64) == SL_EBUSY && a.n_blocks == 1); /* unchanged on failure */
    sl_kv_seq_release(p, &a);
    sl_kv_seq_release(p, &c);
    /* Turning the cache off forgets everything. */
    sl_kv_pool_set_prefix_cache(p, 0);
    sl_kv_pool_get_stats(p, &st);
    CHECK(st.cached == 0 && sl_kv_pool_free_blocks(p) == 8);
    sl_kv_seq_begin(p, &a, r2);
    CHECK(sl_kv_seq_match(p, &a, u, 128) == 0);
    sl_kv_pool_free(p);
}

/* Many sequences over few blocks and shared prefixes: every match returns blocks whose content
 * equals recomputation, the counts always add up, and the name table survives thousands of
 * insertions and evictions (backward-shift deletion). */
TEST(random_workload_keeps_content_and_counts) {
    sl_kv_pool *p = NULL;
    CHECK(sl_kv_pool_init(&p, model, 64, BS, SL_WTYPE_F32, NULL, 0) == 0);
    if (!p) return;
    sl_kv_pool_set_prefix_cache(p, 1);
    enum { NSEQ = 6, MAXT = 160 };
    sl_kv_seq s[NSEQ];
    int32_t toks[NSEQ][MAXT];
    uint32_t roots[NSEQ];
    int live[NSEQ] = {0}, matched_blocks = 0, bad = 0;
    uint64_t x = 12345;
    for (int it = 0; it < 4000; it++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int k = (int)(x >> 33) % NSEQ;
        if (!live[k]) {
            /* A new sequence: one of 3 roots, one of 4 prefixes, then its own tail. */
            roots[k] = 1 + (uint32_t)((x >> 20) % 3);
            int pre = (int)((x >> 24) % 4);
            for (int i = 0; i < MAXT; i++) toks[k][i] = i < 48 + 16 * pre ? pre * 100 + i : (int32_t)((x >> 8) % 997) + i;
            uint8_t r[SL_KV_HASH_BYTES];
            root_of(roots[k], r);
            sl_kv_seq_begin(p, &s[k], r);
            int m = sl_kv_seq_match(p, &s[k], toks[k], MAXT - 1);
            matched_blocks += m / BS;
            if (!markers_ok(p, &s[k], roots[k], toks[k])) bad++;
            live[k] = 1;
        } else if ((x >> 40) % 5 == 0 || s[k].n_pos + 8 > MAXT) {
            sl_kv_seq_release(p, &s[k]);
            live[k] = 0;
        } else {
            int n = 1 + (int)((x >> 44) % 8);
            if (sl_kv_seq_reserve(p, &s[k], s[k].n_pos + n) == 0) {
                compute(p, &s[k], roots[k], toks[k], n);
            } else { /* out of blocks: "preempt" it */
                sl_kv_seq_release(p, &s[k]);
                live[k] = 0;
            }
        }
        if (!invariant(p)) bad++;
    }
    for (int k = 0; k < NSEQ; k++)
        if (live[k]) {
            if (!markers_ok(p, &s[k], roots[k], toks[k])) bad++;
            sl_kv_seq_release(p, &s[k]);
        }
    sl_kv_stats st;
    sl_kv_pool_get_stats(p, &st);
    CHECKF(bad == 0 && st.used == 0, "%d bad, %d used", bad, st.used);
    CHECKF(matched_blocks > 100 && st.evictions > 50, "matched %d blocks, %llu evictions", matched_blocks,
           (unsigned long long)st.evictions);
    sl_kv_pool_free(p);
}

int main(void) {
    char err[512];
    if (sl_model_load(&model, FIXTURE("models/llama-tiny"), NULL, err, sizeof err) != 0) {
        printf("cannot load the fixture: %s\n# 0 passed, 1 failed\n", err);
        return 1;
    }
    RUN(on_demand_refcounts_and_reuse);
    RUN(random_workload_keeps_content_and_counts);
    sl_model_free(model);
    return check_summary();
}
