/* lowrank.h — the fixed-order low-rank update kernel of the adapters (engine layer).
 *
 * sl_lowrank_add adds, to each of N rows t of Y, the low-rank product
 *
 *     h[j]    = sum over i <  in of x[t][i] * u[j][i]     (j < r)
 *     h[j]   *= scale[j]                                  (when SCALE is not NULL)
 *     y[t][o] += sum over j <  r  of h[j] * vt[j][o]      (o < out)
 *
 * with u[j][i] = U[j * ldu + i] and vt[j][o] = VT[j * ldv + o] (both row-major, r rows; only
 * the first IN columns of U and the first OUT columns of VT are read, so one (r, max(out, in))
 * matrix can serve as both). SymLoRA: U = VT = Qᵀ, SCALE = s·λ. LoRA: U = A, VT = Bᵀ,
 * SCALE = s in every column.
 *
 * U, VT (and VT2) hold elements of type T: SL_WTYPE_F32, SL_WTYPE_BF16 or SL_WTYPE_F16 (an
 * adapter's tensors stay in their uploaded precision; adapter.h); LDU, LDV, LDV2 count
 * elements. Each element is widened exactly to F32 in registers and everything else is the
 * F32 arithmetic below, in the same order for every T: the result for BF16 / F16 values is
 * bit-identical to the F32 kernel's on the same values stored as F32. X, Y, SCALE and H are
 * F32.
 *
 * Every row's arithmetic is its own, in an order that depends only on (in, out, r): each h[j]
 * is a dot product over i in 16-float lanes with four independent accumulators, a scalar
 * tail and a fixed reduction tree; each y[t][o] sums its r terms for j = 0 .. r-1 in order
 * and is added into Y once (rows computed together share only the loads of U and VT). So a
 * row's result is bit-identical whatever N is and whatever rows are computed with it:
 * batching and splitting work between threads never change a token (within one kernel set;
 * kernels.h).
 *
 * X and Y rows are LDX and LDY floats apart; Y must not overlap X, U, VT, SCALE or H.
 * H: caller scratch of at least R floats (overwritten). */
#ifndef SL_LOWRANK_H
#define SL_LOWRANK_H

#include <stddef.h>

#include "gemm.h" /* sl_wtype */

void sl_lowrank_add(float *y, size_t ldy, const float *x, size_t ldx, int n, int in, int out, int r, sl_wtype t,
                    const void *u, size_t ldu, const float *scale, const void *vt, size_t ldv, float *h);
/* The same with VT in two blocks: output columns [0, SPLIT) from VT (ldv), columns
 * [SPLIT, out) from VT2 (ldv2; column SPLIT is VT2's column 0). Every column's result is
 * bit-identical to sl_lowrank_add on the joined matrix. SymLoRA with out > in stores Qᵀ so:
 * its first IN columns as one (r, in) block, which the down pass then reads as one stream
 * (like LoRA's A) instead of r strided pieces, and the rest as an (r, out - in) block. */
void sl_lowrank_add_split(float *y, size_t ldy, const float *x, size_t ldx, int n, int in, int out, int r, sl_wtype t,
                          const void *u, size_t ldu, const float *scale, const void *vt, size_t ldv, int split,
                          const void *vt2, size_t ldv2, float *h);
/* sl_lowrank_add_split with rows [0, n) of Y's columns [0, out) overwritten by the update
 * instead of added to (their old values are not read): bit-identical to sl_lowrank_add_split
 * on those columns set to -0.0f first (-0 + c == c for every c, signed zeros included). A
 * fused decode step writes each adapter's update so into delta rows (forward.c). */
void sl_lowrank_store_split(float *y, size_t ldy, const float *x, size_t ldx, int n, int in, int out, int r,
                            sl_wtype t, const void *u, size_t ldu, const float *scale, const void *vt, size_t ldv,
                            int split, const void *vt2, size_t ldv2, float *h);

#endif
