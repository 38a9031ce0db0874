/* kernels_gemm.inc.h — Y = X Wᵀ on packed weights (layout and order contract: gemm.h),
 * one body for every kernel set: included by the set's translation unit after simd.h, with
 *   GEMM_ACC, GEMM_TILE_M     the accumulator registers a tile may hold, and its most rows:
 *                             a tile of tm rows spans np = GEMM_ACC / (tm * NV) panels of 16
 *                             outputs (at most 4), leaving room for np * NV weight loads and
 *                             a broadcast (AVX-512: 32 registers of 16 floats, 24 for
 *                             accumulators: 6 rows x 4 panels; AVX2: 16 of 8, 12 for
 *                             accumulators: 6 rows x 1 panel). Fewer rows take more panels, so
 *                             a decode step of one sequence still runs np * NV independent FMA
 *                             chains (one chain per register would wait on its latency).
 *   GEMM_WIDE_M               tiles of at most this many rows span up to 8 panels (within
 *                             GEMM_ACC): one row of 4 panels is 4 FMA chains, one FMA per k
 *                             step each, so a k step waits for an FMA's latency; a BF16
 *                             decode step of one sequence then streamed its weights at 0.77
 *                             of the core's read bandwidth (Zen 5), where 8 chains keep up.
 * Loops, outermost first: blocks of BLOCK_M rows (X's block stays in L2), groups of TILE_P
 * panels (the group stays in L2 while every row tile of the block uses it), blocks of k (F32:
 * the group's block stays in L1; gemm_any), row tiles, then k. Weights are widened to F32 in registers (simd.h); each output element is summed over
 * k = 0 .. in-1 in order in one accumulator, so a row's result does not depend on the other
 * rows of the call nor on the column split. */

enum { BLOCK_M = 64, TILE_P_MAX = 8 };

/* Register E (of NV) of weight panel PANEL's 16 values at K, widened; Q8_0 reads its block
 * scale SC (simd.h). */
static inline __attribute__((always_inline)) vf wload(const unsigned char *panel, int wt, int k, int e, vf sc) {
    switch (wt) {
    case SL_WTYPE_BF16: return vf_load_bf16(panel + (size_t)k * 32 + (size_t)e * VW * 2);
    case SL_WTYPE_F16: return vf_load_f16(panel + (size_t)k * 32 + (size_t)e * VW * 2);
    case SL_WTYPE_Q8_0:
        return vf_load_i8(panel + (size_t)(k / SL_Q8_BLOCK) * SL_Q8_BLOCK_BYTES + 32 + (size_t)(k % SL_Q8_BLOCK) * 16 +
                          (size_t)e * VW) * sc;
    default: return vf_load(panel + (size_t)k * 64 + (size_t)e * VW * 4);
    }
}

/* One tile: rows [0, tm) of X times panels [0, np) starting at WP; columns past NCOLS (the
 * valid width from the tile's first column) are not stored. tm, np and wt are constants at
 * every call site, so the loops unroll and the accumulators live in registers. Meanwhile the
 * PF_LINES cache lines from PF (a share of the next panel group) are prefetched, one or a few
 * per k step, into L2 (or L1 and L2 where PF_T0: see gemm_any): the group after this one then
 * comes from the caches when its first row tile starts, instead of stalling that tile on memory
 * (at 64 rows it cost a third of the step); and the
 * tile's share of the caller's prefetch list (gemm.h: sl_prefetch): NA lines from PA, then NB
 * from PB (a share may end one range and begin the next), with the T0 hint: where such a
 * prefetch walks the page tables itself (bigalloc.h: sl_prefetch_walks_pages) the caller
 * leaves out its touches of the list's pages. On the Intel Xeon VM of issue 13 that ran 64
 * F32 SymLoRA adapters 2.7-8% faster (best step; BF16 adapters +1.2%, no adapter +0.5-3.5%;
 * A/Bs of 4 rounds); with the touches kept, T0 and T1 measured alike. */
static inline __attribute__((always_inline)) void tile(float *y, size_t ldy, const float *x, size_t ldx, int tm,
                                                       const unsigned char *wp, int np, int in, int kb0, int kb1,
                                                       int ncols, int wt,
                                                       const unsigned char *pf, int pf_lines, int pf_t0,
                                                       const unsigned char *pa, int na,
                                                       const unsigned char *pb, int nb) {
    const size_t pstride = sl_gemm_panel_bytes((sl_wtype)wt, in);
    vf acc[GEMM_TILE_M][TILE_P_MAX * NV];
    /* Q8_0 changes scale every SL_Q8_BLOCK k: its k loop runs in blocks. */
#pragma GCC unroll 16
    for (int t = 0; t < tm; t++)
#pragma GCC unroll 16
        for (int j = 0; j < np * NV; j++) {
            acc[t][j] = (vf){0};
            if (kb0 > 0) { /* the sums so far, stored by the k block before: exact */
                const float *yp = y + (size_t)t * ldy + j * VW;
                int w = ncols - j * VW;
                if (w >= VW) acc[t][j] = vf_load(yp);
                else if (w > 0) acc[t][j] = vf_load_part(yp, w);
            }
        }
    /* PF_LINES may exceed the k steps (a tile of few rows, which reads its group fast): up to
     * PPK lines per k step then. */
    const int ppk = (pf_lines + (kb1 - kb0) - 1) / (kb1 - kb0);
    /* The prefetches of k step KR (this call's): its lines of PF, then its line of the list. */
#define TILE_PREFETCH(kr) \
    do { \
        for (int l = (kr) * ppk, le = l + ppk; l < le && l < pf_lines; l++) { \
            if (pf_t0) __builtin_prefetch(pf + (size_t)l * 64, 0, 3); \
            else __builtin_prefetch(pf + (size_t)l * 64, 0, 2); \
        } \
        if ((kr) < na + nb) __builtin_prefetch((kr) < na ? pa + (size_t)(kr) * 64 : pb + (size_t)((kr) - na) * 64, 0, 3); \
    } while (0)
    if (wt != SL_WTYPE_Q8_0) {
        for (int k = kb0, kr = 0; k < kb1; k++, kr++) { /* kr: this call's k step, for the prefetches */
            TILE_PREFETCH(kr);
            vf w[TILE_P_MAX * NV];
#pragma GCC unroll 8
            for (int p = 0; p < np; p++) FOR_NV(e) w[p * NV + e] = wload(wp + p * pstride, wt, k, e, (vf){0});
#pragma GCC unroll 16
            for (int t = 0; t < tm; t++) {
                float xv = x[(size_t)t * ldx + k];
#pragma GCC unroll 16
                for (int j = 0; j < np * NV; j++) acc[t][j] += xv * w[j];
            }
        }
    } else {
        for (int k0 = kb0; k0 < kb1; k0 += SL_Q8_BLOCK) { /* kb0: a multiple of SL_Q8_BLOCK */
            vf sc[TILE_P_MAX * NV];
#pragma GCC unroll 8
            for (int p = 0; p < np; p++)
                FOR_NV(e) sc[p * NV + e] =
                    vf_load_f16(wp + p * pstride + (size_t)(k0 / SL_Q8_BLOCK) * SL_Q8_BLOCK_BYTES + (size_t)e * VW * 2);
            int k1 = kb1 - k0 < SL_Q8_BLOCK ? kb1 : k0 + SL_Q8_BLOCK;
            for (int k = k0; k < k1; k++) {
                TILE_PREFETCH(k - kb0);
                vf w[TILE_P_MAX * NV];
#pragma GCC unroll 8
                for (int p = 0; p < np; p++) FOR_NV(e) w[p * NV + e] = wload(wp + p * pstride, wt, k, e, sc[p * NV + e]);
#pragma GCC unroll 16
                for (int t = 0; t < tm; t++) {
                    float xv = x[(size_t)t * ldx + k];
#pragma GCC unroll 16
                    for (int j = 0; j < np * NV; j++) acc[t][j] += xv * w[j];
                }
            }
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < tm; t++)
#pragma GCC unroll 16
        for (int j = 0; j < np * NV; j++) {
            float *yp = y + (size_t)t * ldy + j * VW;
            int w = ncols - j * VW;
            if (w >= VW) vf_store(yp, acc[t][j]);
            else if (w > 0) vf_store_part(yp, acc[t][j], w);
        }
}
#undef TILE_PREFETCH

/* Panels of a tile of TM rows: GEMM_ACC / (TM * NV), within 1 .. 4 (1 .. 8 up to GEMM_WIDE_M rows). */
#define TILE_P_CAP(tm) ((tm) <= GEMM_WIDE_M ? TILE_P_MAX : 4)
#define TILE_P_FOR(tm) \
    (GEMM_ACC / ((tm) * NV) < 1 ? 1 : GEMM_ACC / ((tm) * NV) > TILE_P_CAP(tm) ? TILE_P_CAP(tm) : GEMM_ACC / ((tm) * NV))

/* One tile run's operands (tile() above). */
typedef struct tile_args {
    float *y;
    size_t ldy;
    const float *x;
    size_t ldx;
    const unsigned char *wp, *pf, *pa, *pb;
    int in, kb0, kb1, ncols, pf_lines, pf_t0, na, nb;
} tile_args;

/* Every tile instance (weight type x rows x panels) is a function of its own, called through
 * tile_fns: inlined into the GEMM, the ~100 unrolled instances made one function so large
 * that compile time grew superlinearly (GCC -O2: 80 s for a kernel set; clang with the
 * sanitizers: minutes). A call per tile run costs nothing next to its in k steps. Instances
 * past the set's tile (more rows than GEMM_TILE_M, more panels than fit) are empty and never
 * called. */
#define TILE_FN(WN, WT, M, P) \
    static __attribute__((noinline)) void tile_##WN##_##M##_##P(const tile_args *a) { \
        if ((M) <= GEMM_TILE_M && (P) <= TILE_P_FOR(M)) \
            tile(a->y, a->ldy, a->x, a->ldx, (M), a->wp, (P), a->in, a->kb0, a->kb1, a->ncols, (WT), a->pf, \
                 a->pf_lines, a->pf_t0, a->pa, a->na, a->pb, a->nb); \
    }
#define TILE_FNS_M(WN, WT, M) \
    TILE_FN(WN, WT, M, 1) TILE_FN(WN, WT, M, 2) TILE_FN(WN, WT, M, 3) TILE_FN(WN, WT, M, 4) \
    TILE_FN(WN, WT, M, 5) TILE_FN(WN, WT, M, 6) TILE_FN(WN, WT, M, 7) TILE_FN(WN, WT, M, 8)
#define TILE_FNS(WN, WT) \
    TILE_FNS_M(WN, WT, 1) TILE_FNS_M(WN, WT, 2) TILE_FNS_M(WN, WT, 3) TILE_FNS_M(WN, WT, 4) \
    TILE_FNS_M(WN, WT, 5) TILE_FNS_M(WN, WT, 6) TILE_FNS_M(WN, WT, 7) TILE_FNS_M(WN, WT, 8)
TILE_FNS(f32, SL_WTYPE_F32)
TILE_FNS(bf16, SL_WTYPE_BF16)
TILE_FNS(f16, SL_WTYPE_F16)
TILE_FNS(q8_0, SL_WTYPE_Q8_0)

#define TILE_ROW(WN, M) \
    {tile_##WN##_##M##_1, tile_##WN##_##M##_2, tile_##WN##_##M##_3, tile_##WN##_##M##_4, \
     tile_##WN##_##M##_5, tile_##WN##_##M##_6, tile_##WN##_##M##_7, tile_##WN##_##M##_8}
#define TILE_TABLE(WN) \
    {TILE_ROW(WN, 1), TILE_ROW(WN, 2), TILE_ROW(WN, 3), TILE_ROW(WN, 4), \
     TILE_ROW(WN, 5), TILE_ROW(WN, 6), TILE_ROW(WN, 7), TILE_ROW(WN, 8)}
/* [weight type][rows - 1][panels - 1] */
static void (*const tile_fns[SL_WTYPE_COUNT][8][TILE_P_MAX])(const tile_args *) = {
    [SL_WTYPE_F32] = TILE_TABLE(f32),
    [SL_WTYPE_BF16] = TILE_TABLE(bf16),
    [SL_WTYPE_F16] = TILE_TABLE(f16),
    [SL_WTYPE_Q8_0] = TILE_TABLE(q8_0),
};

static inline __attribute__((always_inline)) void gemm_any(float *y, size_t ldy, const float *x, size_t ldx, int n,
                                                           const void *wpv, int in, int c0, int c1, int wt,
                                                           const sl_prefetch *pl) {
    if (c1 <= c0 || n <= 0) return;
    const unsigned char *wp = wpv;
    const size_t pstride = sl_gemm_panel_bytes((sl_wtype)wt, in);
    int p0 = c0 / SL_GEMM_PANEL, p1 = (c1 + SL_GEMM_PANEL - 1) / SL_GEMM_PANEL;
    /* Panels per group: those of the widest tile this call runs (all its rows when n < TILE_M). */
    const int gp = TILE_P_FOR(n < GEMM_TILE_M ? n : GEMM_TILE_M);
    /* k blocks (F32 weights, several row tiles per block of rows): each tile of a panel
     * group runs over KC k steps at a time, so the group's KC rows (at most
     * sl__gemm_kc_bytes: kernels.h) stay in L1 for all the tiles, which then load their
     * weights from L1 instead of L2. Fewer L1 misses leave the core's miss buffers to the
     * streams prefetched meanwhile (the adapters: forward.c). A tile's sums go to Y between
     * k blocks and come back (exact), so every element still sums k = 0 .. in-1 in order in
     * one accumulator. Blocks are equal, as few as fit (no short tail block). BF16 weights
     * (half the bytes, and the widening's own work) measured 5% slower with k blocks at
     * batch 64, so other types are not split. */
    int kc = in;
    if (n > GEMM_TILE_M && wt == SL_WTYPE_F32) {
        size_t group = pstride * (size_t)gp, budget = (size_t)sl__gemm_kc_bytes();
        int nb = (int)((group + budget - 1) / budget);
        kc = ((in + nb - 1) / nb + 15) / 16 * 16;
        if (kc > in) kc = in;
    }
    const int nkb = (in + kc - 1) / kc;
    /* The next group's hint in tiles of at most GEMM_WIDE_M rows (decode steps of one or two
     * sequences, which read their panels at memory speed): T0 where such a prefetch walks the
     * page tables of a page the TLB does not hold (bigalloc.h: sl_prefetch_walks_pages), T1
     * elsewhere. On the Intel Xeon VM of issue 13 (T0 walks, T1 does not) the BF16 decode of
     * one sequence ran 8% faster (SmolLM2-135M shape) and 9% (Llama-3.2-1B shape), F32 the
     * same (A/Bs of 4-8 rounds); tiles of 6 rows (batch 8, 64) measured alike with either
     * hint, and AVX2's 4-panel one-row tiles (GEMM_WIDE_M 0) slower with T0 (F32). */
    const int wide_t0 = GEMM_WIDE_M > 0 && sl_prefetch_walks_pages();
    /* The lines of the prefetch list PL (gemm.h), dealt evenly to this call's tile runs (at
     * most one per k step): range PR from its line POFF on is next. */
    size_t pn_left = 0;
    for (int r = 0; pl && r < pl->n; r++) pn_left += (pl->bytes[r] + 63) / 64;
    size_t runs = (size_t)((p1 - p0 + gp - 1) / gp) * (size_t)((n + GEMM_TILE_M - 1) / GEMM_TILE_M) * (size_t)nkb;
    size_t pn_quota = (pn_left + runs - 1) / runs;
    int pr = 0;
    size_t poff = 0;
    for (int b0 = 0; b0 < n; b0 += BLOCK_M) {
        int b1 = n - b0 < BLOCK_M ? n : b0 + BLOCK_M;
        for (int pg = p0; pg < p1; pg += gp) {
            int np = p1 - pg < gp ? p1 - pg : gp;
            int col = pg * SL_GEMM_PANEL, ncols = c1 - col;
            const unsigned char *wg = wp + (size_t)pg * pstride;
            /* The next group of this block (contiguous after this one), its lines dealt to
             * this group's tile runs; at most one per k step. */
            int n_next = pg + gp < p1 ? (p1 - pg - gp < gp ? p1 - pg - gp : gp) : 0, n_tiles = (b1 - b0 + GEMM_TILE_M - 1) / GEMM_TILE_M;
            size_t next_lines = (size_t)n_next * pstride / 64;
            size_t per_run = (next_lines + (size_t)(n_tiles * nkb) - 1) / (size_t)(n_tiles * nkb);
            const unsigned char *pf = wg + (size_t)np * pstride, *pf_end = pf + next_lines * 64;
            for (int kb0 = 0; kb0 < in; kb0 += kc) {
                int kb1 = in - kb0 < kc ? in : kb0 + kc;
                for (int t0 = b0; t0 < b1; t0 += GEMM_TILE_M) {
                    int tm = b1 - t0 < GEMM_TILE_M ? b1 - t0 : GEMM_TILE_M;
                    /* At most 4 lines per k step: a group of 8 BF16 panels reads 4 per k step. */
                    size_t pfl = per_run < 4 * (size_t)(kb1 - kb0) ? per_run : 4 * (size_t)(kb1 - kb0);
                    if (pfl > (size_t)(pf_end - pf) / 64) pfl = (size_t)(pf_end - pf) / 64;
                    int pf_lines = (int)pfl;
                    /* This run's share of the list: the rest of range PR, then maybe the next one's start. */
                    const unsigned char *pa = NULL, *pb = NULL;
                    int na = 0, nb = 0;
                    if (pn_left) {
                        size_t want = pn_left < pn_quota ? pn_left : pn_quota;
                        if (want > (size_t)(kb1 - kb0)) want = (size_t)(kb1 - kb0);
                        size_t rem = (pl->bytes[pr] + 63) / 64 - poff;
                        na = (int)(want < rem ? want : rem);
                        pa = (const unsigned char *)pl->p[pr] + poff * 64;
                        poff += (size_t)na;
                        if (poff * 64 >= pl->bytes[pr]) pr++, poff = 0;
                        if (want > (size_t)na && pr < pl->n) {
                            rem = (pl->bytes[pr] + 63) / 64;
                            nb = (int)(want - (size_t)na < rem ? want - (size_t)na : rem);
                            pb = pl->p[pr];
                            poff = (size_t)nb;
                            if (poff * 64 >= pl->bytes[pr]) pr++, poff = 0;
                        }
                        pn_left -= (size_t)(na + nb);
                        if (pr >= pl->n) pn_left = 0;
                    }
                    const tile_args ta = {.y = y + (size_t)t0 * ldy + col, .ldy = ldy, .x = x + (size_t)t0 * ldx,
                                          .ldx = ldx, .wp = wg, .pf = pf, .pa = pa, .pb = pb, .in = in, .kb0 = kb0,
                                          .kb1 = kb1, .ncols = ncols, .pf_lines = pf_lines,
                                          .pf_t0 = wide_t0 && tm <= GEMM_WIDE_M, .na = na, .nb = nb};
                    tile_fns[wt][tm - 1][np - 1](&ta); /* 1 <= tm <= TILE_M <= 8, 1 <= np <= TILE_P_MAX */
                    pf += (size_t)pf_lines * 64;
                }
            }
        }
    }
}

#define GEMM_FN(NAME, WT) \
    static void NAME(float *y, size_t ldy, const float *x, size_t ldx, int n, const void *wp, int in, int c0, int c1, \
                     const sl_prefetch *pl) { \
        gemm_any(y, ldy, x, ldx, n, wp, in, c0, c1, WT, pl); \
    }
GEMM_FN(gemm_f32, SL_WTYPE_F32)
GEMM_FN(gemm_bf16, SL_WTYPE_BF16)
GEMM_FN(gemm_f16, SL_WTYPE_F16)
GEMM_FN(gemm_q8_0, SL_WTYPE_Q8_0)
