/* gemm.h — the base model's linear layers: Y = X Wᵀ with W packed once at load.
 *
 * Packed layout: W (out, in) row-major becomes ceil(out/16) panels of 16 output rows, each
 * panel (in, 16) row-major — P[p][k][l] = W[16p + l][k], zero rows past `out`. A step then
 * reads every panel front to back once, whatever the number of tokens: at one token the
 * kernel streams the weights at memory speed (no per-call repacking, which is what a BLAS
 * sgemm with one row pays), at 64 tokens it reuses each panel from cache for all of them.
 *
 * Every output element is summed over k = 0 .. in-1 in order, in one accumulator, so a row's
 * result is bit-identical whether it is computed alone or among any number of other rows,
 * and whichever columns a thread takes. */
#ifndef SL_GEMM_H
#define SL_GEMM_H

#include <stddef.h>

enum { SL_GEMM_PANEL = 16 };

/* Floats of the packed form of an (out, in) matrix. */
size_t sl_gemm_packed_floats(int out, int in);
/* W (out, in) row-major with row stride ldw -> DST (sl_gemm_packed_floats(out, in) floats). */
void sl_gemm_pack(float *dst, const float *w, size_t ldw, int out, int in);
/* Row V of the packed matrix (the tied embedding's lookup) -> DST (in floats). */
void sl_gemm_packed_row(float *dst, const float *wp, int in, int v);
/* Columns [c0, c1) of Y = X Wᵀ for n rows: Y (n, ldy), X (n, ldx), WP packed (out, in).
 * c0 must be a multiple of SL_GEMM_PANEL; c1 <= out. */
void sl_gemm_packed(float *y, size_t ldy, const float *x, size_t ldx, int n, const float *wp, int in, int c0, int c1);

#endif
