/* kernels.h — the step's compute kernels, one set per ISA, chosen once at run time.
 *
 * Sets, best first: "avx512" (x86-64 AVX-512 F/BW/VL/DQ + FMA + F16C), "avx2" (AVX2 + FMA +
 * F16C), "generic" (any CPU: the compiler's baseline vectors). Each set is the same source
 * (kernels_*.inc.h) compiled for its ISA with its own register tiles (x86/, generic/), as
 * ggml-cpu keeps arch/x86 apart from the model. The active set is the best one this CPU
 * runs, unless the environment variable SL_KERNELS names another ("auto" = best): tests use it
 * to run the lower sets on a bigger CPU. Within a set every kernel sums in a fixed order, so
 * batching never changes a bit; two sets may round differently (FMA or not, other tiles of
 * the reduction), so results are reproducible per set, and the set is logged at startup
 * (`symlorad --version` names it too). */
#ifndef SL_KERNELS_H
#define SL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "gemm.h"

typedef struct sl_kernels {
    const char *name;
    const char *tiles; /* register tiles, for logs and benchmarks */
    /* gemm.h, per weight type. */
    void (*gemm[SL_WTYPE_COUNT])(float *y, size_t ldy, const float *x, size_t ldx, int n, const void *wp, int in,
                                 int c0, int c1, const sl_prefetch *pf);
    /* lowrank.h's sl_lowrank_add_split (STORE 0) and sl_lowrank_store_split (STORE 1), per
     * element type of U / VT / VT2 (F32, BF16, F16; no Q8_0 adapters: NULL). */
    void (*lowrank[SL_WTYPE_COUNT])(float *restrict y, size_t ldy, const float *restrict x, size_t ldx, int n, int in,
                                    int out, int r, const void *restrict u, size_t ldu, const float *restrict scale,
                                    const void *restrict vt, size_t ldv, int split, const void *restrict vt2,
                                    size_t ldv2, float *restrict h, int store);
    /* kernels_attention.inc.h, per KV element type (F32, BF16, F16; no Q8_0 KV: NULL). */
    void (*attend[SL_WTYPE_COUNT])(const void *kbase, const void *vbase, size_t bstride, const int32_t *blocks, int bs, int vis,
                      int groups, int hd, float scale, const float *q, float *out, float *s, int max_ctx);
    /* kernels_attention.inc.h: one part of a row, positions [pa, pb) (pa a multiple of bs): per
     * head g, out[g] = sum over the part in order of e^(s - m) V[p] and ml[2g], ml[2g + 1] =
     * m (the part's max score), l (the sum of its e^(s - m)); joined by sl_attend_join. */
    void (*attend_part[SL_WTYPE_COUNT])(const void *kbase, const void *vbase, size_t bstride, const int32_t *blocks,
                                        int bs, int pa, int pb, int groups, int hd, float scale, const float *q,
                                        float *out, float *ml, float *s, int max_ctx);
    /* kernels_attention.inc.h: n floats rounded to the KV cache's BF16 or F16 (the KV store). */
    void (*kv_round)(uint16_t *restrict dst, const float *restrict src, int n, int kvt);
    /* kernels_rows.inc.h, the element-wise stages: y[i] += d[i]; g[i] = silu(g[i]) * u[i]. */
    void (*add_into)(float *restrict y, const float *restrict d, size_t n);
    void (*swiglu)(float *restrict g, const float *restrict u, size_t n);
    /* kernels_rows.inc.h: dst[i] = e^((src[i] - mx) * s); returns their sum. The sampler's
     * softmax weights (e^x below e^-87 gives 0). */
    float (*exp_scaled)(float *restrict dst, const float *restrict src, size_t n, float mx, float s);
    /* kernels_rows.inc.h: the first index of the largest of v[0 .. n) (NaN never wins; 0 if n
     * is 0 or every element is NaN). The same index on every set. */
    size_t (*argmax)(const float *restrict v, size_t n);
} sl_kernels;

/* Attention rows that see more than P = sl_attend_part_len(block size) positions are computed
 * in parts of P positions ([0, P), [P, 2P), ...; attend_part), joined by sl_attend_join: the
 * parts of one row may then run on different threads (a decode step of few sequences and
 * long contexts, which would otherwise have one task per KV head), and a row's result depends
 * only on its visible length (and the pool's block size), never on how its parts were dealt.
 * Rows of at most P positions run whole (attend). P: SL_ATT_PART rounded up to whole blocks,
 * so that every part starts on a block. */
enum { SL_ATT_PART = 512 };
static inline int sl_attend_part_len(int bs) { return (SL_ATT_PART + bs - 1) / bs * bs; }
/* OUT (groups, hd) = the row joined from its N_PARTS parts in order: PO (n_parts, groups, hd)
 * and PML (n_parts, groups, 2), as attend_part wrote them. Per head: M = the max of the
 * parts' m, w_p = e^(m_p - M) (expf), L = sum over p in order of w_p l_p, and each element
 * = (sum over p in order of w_p o_p) / L. The same arithmetic on every kernel set. */
void sl_attend_join(int n_parts, int groups, int hd, const float *po, const float *pml, float *out);

/* The active set (chosen on first use: SL_KERNELS, else the best this CPU runs). Never NULL. */
const sl_kernels *sl_kernels_active(void);
/* Makes NAME ("auto", "avx512", "avx2", "generic") the active set. SL_ENOTSUP if this CPU
 * (or this build) cannot run it, SL_EINVAL for an unknown name. Call before any step runs. */
int sl_kernels_select(const char *name, char *err, size_t errlen);
/* The bytes of weights one k block of the GEMM keeps in L1 for all the row tiles of a panel
 * group (kernels_gemm.inc.h): two thirds of this CPU's L1 data cache (48 KB when the system
 * does not say), read once. Measured on a 48 KB L1 (decode at batch 64, F32): 32 KB blocks
 * beat 16 KB by 4% and 64 KB by 5%. */
int sl__gemm_kc_bytes(void);
/* The sets this CPU can run, best first; returns how many (at most MAX) went to NAMES. */
int sl_kernels_runnable(const char **names, int max);

#endif
