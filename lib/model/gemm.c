/* gemm.c — Y = X Wᵀ on packed weights (layout and order contract: gemm.h).
 *
 * Register tile: up to TILE_M rows of X times TILE_P panels (64 outputs), TILE_M * TILE_P
 * accumulators of 16 floats — 24 of the 32 AVX-512 registers, plus TILE_P panel loads and
 * one broadcast per row per k. Loops, outermost first: blocks of BLOCK_M rows (X's block
 * stays in L2), groups of TILE_P panels (the group, in * 256 bytes, stays in L2 while every
 * row tile of the block uses it), row tiles, then k. This file is built with
 * -ffp-contract=fast (Makefile) so that `acc += x * w` is one FMA where the clone has FMA. */
#include "gemm.h"

#include "simd.h"

#include <stdint.h>

enum { TILE_M = 6, TILE_P = 4, BLOCK_M = 64 };

size_t sl_gemm_packed_floats(int out, int in) {
    return (size_t)(out + SL_GEMM_PANEL - 1) / SL_GEMM_PANEL * SL_GEMM_PANEL * (size_t)in;
}

void sl_gemm_pack(float *dst, const float *w, size_t ldw, int out, int in) {
    int panels = (out + SL_GEMM_PANEL - 1) / SL_GEMM_PANEL;
    for (int p = 0; p < panels; p++) {
        float *pp = dst + (size_t)p * in * SL_GEMM_PANEL;
        for (int l = 0; l < SL_GEMM_PANEL; l++) {
            int o = p * SL_GEMM_PANEL + l;
            const float *wr = w + (size_t)o * ldw;
            for (int k = 0; k < in; k++) pp[(size_t)k * SL_GEMM_PANEL + l] = o < out ? wr[k] : 0.0f;
        }
    }
}

void sl_gemm_packed_row(float *dst, const float *wp, int in, int v) {
    const float *pp = wp + (size_t)(v / SL_GEMM_PANEL) * in * SL_GEMM_PANEL + v % SL_GEMM_PANEL;
    for (int k = 0; k < in; k++) dst[k] = pp[(size_t)k * SL_GEMM_PANEL];
}

/* One tile: rows [0, tm) of X times panels [0, np) starting at WP; columns past NCOLS (the
 * valid width from the tile's first column) are not stored. tm and np are constants at every
 * call site, so the loops unroll and the accumulators live in registers. */
static inline __attribute__((always_inline)) void tile(float *y, size_t ldy, const float *x, size_t ldx, int tm,
                                                       const float *wp, int np, int in, int ncols) {
    const size_t pstride = (size_t)in * SL_GEMM_PANEL;
    v16 acc[TILE_M][TILE_P];
#pragma GCC unroll 8
    for (int t = 0; t < tm; t++)
#pragma GCC unroll 4
        for (int p = 0; p < np; p++) acc[t][p] = (v16){0};
    for (int k = 0; k < in; k++) {
        v16 w[TILE_P];
#pragma GCC unroll 4
        for (int p = 0; p < np; p++) w[p] = v16_load(wp + p * pstride + (size_t)k * SL_GEMM_PANEL);
#pragma GCC unroll 8
        for (int t = 0; t < tm; t++) {
            float xv = x[(size_t)t * ldx + k];
#pragma GCC unroll 4
            for (int p = 0; p < np; p++) acc[t][p] += xv * w[p];
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < tm; t++)
#pragma GCC unroll 4
        for (int p = 0; p < np; p++) {
            float *yp = y + (size_t)t * ldy + p * SL_GEMM_PANEL;
            int w = ncols - p * SL_GEMM_PANEL;
            if (w >= SL_GEMM_PANEL) {
                v16_store(yp, acc[t][p]);
            } else if (w > 0) {
                float tmp[SL_GEMM_PANEL];
                v16_store(tmp, acc[t][p]);
                memcpy(yp, tmp, (size_t)w * sizeof(float));
            }
        }
}

#define TILE_CASE(M, P) \
    case (M) * 8 + (P): tile(yt, ldy, xt, ldx, (M), wg, (P), in, ncols); break;
#define TILE_CASES(M) TILE_CASE(M, 1) TILE_CASE(M, 2) TILE_CASE(M, 3) TILE_CASE(M, 4)

SL_SIMD_CLONES
void sl_gemm_packed(float *y, size_t ldy, const float *x, size_t ldx, int n, const float *wp, int in, int c0, int c1) {
    if (c1 <= c0 || n <= 0) return;
    int p0 = c0 / SL_GEMM_PANEL, p1 = (c1 + SL_GEMM_PANEL - 1) / SL_GEMM_PANEL;
    for (int b0 = 0; b0 < n; b0 += BLOCK_M) {
        int b1 = n - b0 < BLOCK_M ? n : b0 + BLOCK_M;
        for (int pg = p0; pg < p1; pg += TILE_P) {
            int np = p1 - pg < TILE_P ? p1 - pg : TILE_P;
            int col = pg * SL_GEMM_PANEL, ncols = c1 - col;
            const float *wg = wp + (size_t)pg * in * SL_GEMM_PANEL;
            for (int t0 = b0; t0 < b1; t0 += TILE_M) {
                int tm = b1 - t0 < TILE_M ? b1 - t0 : TILE_M;
                float *yt = y + (size_t)t0 * ldy + col;
                const float *xt = x + (size_t)t0 * ldx;
                switch (tm * 8 + np) {
                    TILE_CASES(1) TILE_CASES(2) TILE_CASES(3) TILE_CASES(4) TILE_CASES(5) TILE_CASES(6)
                default: break; /* unreachable: 1 <= tm <= TILE_M, 1 <= np <= TILE_P */
                }
            }
        }
    }
}
