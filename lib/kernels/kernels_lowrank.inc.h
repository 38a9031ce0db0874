/* kernels_lowrank.inc.h — the fixed-order low-rank update of the adapters (contract: lowrank.h),
 * one body for every kernel set (included like kernels_gemm.inc.h, with LOWRANK_GROUP: rows
 * that share the loads of U and VT; each holds 4 groups of 16 floats of accumulators, 4 * NV
 * registers, so AVX2 takes 1). Every set does the same lane-wise arithmetic, and one body
 * serves every element type of U and VT (F32, BF16, F16: lr_load / lr_at widen them to F32
 * exactly, simd.h), so a BF16 adapter computes exactly what the F32 kernel computes on the
 * same values widened.
 *
 * Every row's arithmetic is the same whatever rows are computed with it:
 *   down: h[j] = x·u[j], 64 floats per iteration into four independent 16-lane accumulators
 *         (a 16-float step, then a scalar tail for in % 16), reduced as
 *         ((a0 + a1) + (a2 + a3)), then lanes pairwise (k += k + 8, k + 4, k + 2, k + 1),
 *         then + tail; times scale[j].
 *   up:   64 outputs (then 16, then single ones) accumulate in registers over j = 0 .. r-1,
 *         in order, starting from 0, and are added into y once.
 * Rows go GROUP (LOWRANK_GROUP) at a time when r <= GROUP_MAX_R (their h fits on the stack), else one at a
 * time: a group only shares the loads of U and VT between its rows (a prefill chunk reads
 * them once per group instead of once per row); each row keeps its own accumulators and the
 * operations on them are those of a row alone, in the same order.
 * In a decode step every adapter row is its own call with n = 1 and the adapter's bytes come
 * from memory once: the kernel reads U and VT once per row with no packing, which is what
 * makes small runs cheap (cblas_sgemm packed both operands for every 1-row call), and why a
 * BF16 / F16 adapter (half the bytes) is up to twice as fast there.
 * Built with -ffp-contract=fast (Makefile), as the GEMM: `acc += x * u` is one FMA in every
 * path, so grouped and single rows still round alike (test_lowrank checks it bit for bit). */
enum { GROUP = LOWRANK_GROUP, GROUP_MAX_R = 64 };

/* VW elements of type WT at element I of P, widened (simd.h's loaders: exact). */
static inline __attribute__((always_inline)) vf lr_load(const void *p, size_t i, int wt) {
    const unsigned char *b = p;
    switch (wt) {
    case SL_WTYPE_BF16: return vf_load_bf16(b + i * 2);
    case SL_WTYPE_F16: return vf_load_f16(b + i * 2);
    default: return vf_load(b + i * 4);
    }
}

/* Element I of P (type WT), widened exactly: the scalar tails. */
static inline __attribute__((always_inline)) float lr_at(const void *p, size_t i, int wt) {
    const unsigned char *b = p;
    uint16_t hv;
    float f;
    switch (wt) {
    case SL_WTYPE_BF16: memcpy(&hv, b + i * 2, 2); return sl_bf16_to_f32(hv);
    case SL_WTYPE_F16: memcpy(&hv, b + i * 2, 2); return sl_f16_to_f32(hv);
    default: memcpy(&f, b + i * 4, 4); return f;
    }
}

/* Lanes 0 .. VW/2-1 of A and B interleaved (a0 b0 a1 b1 ...), and lanes VW/2 .. VW-1. */
#if VW == 16
#define VF_ZIP_LO(a, b) __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#define VF_ZIP_HI(a, b) __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)
#elif VW == 8
#define VF_ZIP_LO(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11)
#define VF_ZIP_HI(a, b) __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15)
#else
#define VF_ZIP_LO(a, b) __builtin_shufflevector(a, b, 0, 4, 1, 5)
#define VF_ZIP_HI(a, b) __builtin_shufflevector(a, b, 2, 6, 3, 7)
#endif

/* up_add's block of 64 columns [o, o + 64) for BF16 VT, with a cheaper widening: each load
 * of 2 * VW values, as VW 32-bit words, gives the even columns as the words shifted up 16
 * bits and the odd ones as the words' high halves (one instruction each, where the widening
 * loader takes two per VW values). The accumulators hold even and odd columns apart, and are
 * interleaved back once, at the store; each column's sum is the same FMAs in the same order
 * as up_add's other blocks, so the bits are those of the F32 kernel on the same values. */
static inline __attribute__((always_inline)) void up_block_bf16(float *restrict y, size_t ldy, int m, int o, int r,
                                                                const void *restrict vt, size_t ldv,
                                                                const float *restrict h, int ldh, int store) {
    vf ce[GROUP][2 * NV], co[GROUP][2 * NV]; /* load q's even and odd columns */
#pragma GCC unroll 4
    for (int t = 0; t < m; t++)
#pragma GCC unroll 8
        for (int q = 0; q < 2 * NV; q++) ce[t][q] = co[t][q] = (vf){0};
    const unsigned char *vj = (const unsigned char *)vt + (size_t)o * 2;
    for (int j = 0; j < r; j++, vj += ldv * 2) {
        float hj[GROUP];
#pragma GCC unroll 4
        for (int t = 0; t < m; t++) hj[t] = h[(size_t)t * ldh + j];
#pragma GCC unroll 8
        for (int q = 0; q < 2 * NV; q++) {
            vfu w;
            memcpy(&w, vj + (size_t)q * VW * 4, sizeof w);
            vf ev = (vf)(w << 16), od = (vf)(w & 0xffff0000u);
#pragma GCC unroll 4
            for (int t = 0; t < m; t++) {
                ce[t][q] += hj[t] * ev;
                co[t][q] += hj[t] * od;
            }
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < m; t++) {
        float *yt = y + (size_t)t * ldy + o;
#pragma GCC unroll 8
        for (int q = 0; q < 2 * NV; q++) {
            vf lo = VF_ZIP_LO(ce[t][q], co[t][q]), hi = VF_ZIP_HI(ce[t][q], co[t][q]);
            float *yq = yt + q * 2 * VW;
            vf_store(yq, store ? lo : vf_load(yq) + lo);
            vf_store(yq + VW, store ? hi : vf_load(yq + VW) + hi);
        }
    }
}

/* Y[:, 0..out) += h VT for rows [0, m) (STORE: Y[:, 0..out) = h VT): each column sums its r
 * terms for j = 0 .. r-1 in order from 0, then joins Y; so a column's bits do not depend on
 * which call or block it is in. */
static inline __attribute__((always_inline)) void up_add(float *restrict y, size_t ldy, int m, int out, int r,
                                                         const void *restrict vt, size_t ldv,
                                                         const float *restrict h, int ldh, int wt, int store) {
    int o = 0;
    if (wt == SL_WTYPE_BF16)
        for (; o + 64 <= out; o += 64) up_block_bf16(y, ldy, m, o, r, vt, ldv, h, ldh, store);
    for (; o + 64 <= out; o += 64) {
        vf c[GROUP][4 * NV];
#pragma GCC unroll 4
        for (int t = 0; t < m; t++)
#pragma GCC unroll 16
            for (int q = 0; q < 4 * NV; q++) c[t][q] = (vf){0};
        size_t v = (size_t)o; /* element of VT: row j, column o */
        for (int j = 0; j < r; j++, v += ldv) {
            float hj[GROUP];
#pragma GCC unroll 4
            for (int t = 0; t < m; t++) hj[t] = h[(size_t)t * ldh + j];
            /* Each register of VT used as soon as it is loaded: a widened BF16 / F16 one needs a
             * register of its own (an F32 one folds into the FMA), and 4 * NV of them held at
             * once spilled AVX2's accumulators. */
#pragma GCC unroll 16
            for (int q = 0; q < 4 * NV; q++) {
                vf vv = lr_load(vt, v + (size_t)(q * VW), wt);
#pragma GCC unroll 4
                for (int t = 0; t < m; t++) c[t][q] += hj[t] * vv;
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < m; t++) {
            float *yt = y + (size_t)t * ldy + o;
#pragma GCC unroll 16
            for (int q = 0; q < 4 * NV; q++) vf_store(yt + q * VW, store ? c[t][q] : vf_load(yt + q * VW) + c[t][q]);
        }
    }
    for (; o + 16 <= out; o += 16) {
        vf c[GROUP][NV];
#pragma GCC unroll 4
        for (int t = 0; t < m; t++) FOR_NV(e) c[t][e] = (vf){0};
        size_t v = (size_t)o;
        for (int j = 0; j < r; j++, v += ldv) {
            float hj[GROUP];
#pragma GCC unroll 4
            for (int t = 0; t < m; t++) hj[t] = h[(size_t)t * ldh + j];
            FOR_NV(e) {
                vf vv = lr_load(vt, v + (size_t)(e * VW), wt);
#pragma GCC unroll 4
                for (int t = 0; t < m; t++) c[t][e] += hj[t] * vv;
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < m; t++) {
            float *yt = y + (size_t)t * ldy + o;
            FOR_NV(e) vf_store(yt + e * VW, store ? c[t][e] : vf_load(yt + e * VW) + c[t][e]);
        }
    }
    for (; o < out; o++)
#pragma GCC unroll 4
        for (int t = 0; t < m; t++) {
            float c = 0;
            size_t v = (size_t)o;
            for (int j = 0; j < r; j++, v += ldv) c += h[(size_t)t * ldh + j] * lr_at(vt, v, wt);
            y[(size_t)t * ldy + o] = store ? c : y[(size_t)t * ldy + o] + c;
        }
}

/* Rows [0, m) of the update; H: (m, ldh) scratch. m is a constant at each call site, so the
 * loops over rows unroll and the accumulators live in registers. The four 16-lane
 * accumulators of the down pass are a[t][c * NV + e] (chunk c, register e of it). */
static inline __attribute__((always_inline)) void rows_add(float *restrict y, size_t ldy, const float *restrict x,
                                                           size_t ldx, int m, int in, int out, int r,
                                                           const void *restrict u, size_t ldu,
                                                           const float *restrict scale, const void *restrict vt,
                                                           size_t ldv, int split, const void *restrict vt2,
                                                           size_t ldv2, float *restrict h, int ldh, int wt,
                                                           int store) {
    /* h = X U^T (* scale) */
    for (int j = 0; j < r; j++) {
        const void *uj = (const unsigned char *)u + (size_t)j * ldu * (wt == SL_WTYPE_F32 ? 4 : 2);
        vf a[GROUP][4 * NV];
#pragma GCC unroll 4
        for (int t = 0; t < m; t++)
#pragma GCC unroll 16
            for (int q = 0; q < 4 * NV; q++) a[t][q] = (vf){0};
        int i = 0;
        for (; i + 64 <= in; i += 64) {
#pragma GCC unroll 16
            for (int q = 0; q < 4 * NV; q++) { /* each register of U used as soon as loaded (see up_add) */
                vf uu = lr_load(uj, (size_t)(i + q * VW), wt);
#pragma GCC unroll 4
                for (int t = 0; t < m; t++) a[t][q] += vf_load(x + (size_t)t * ldx + i + q * VW) * uu;
            }
        }
        for (; i + 16 <= in; i += 16) {
            FOR_NV(e) {
                vf uu = lr_load(uj, (size_t)(i + e * VW), wt);
#pragma GCC unroll 4
                for (int t = 0; t < m; t++) a[t][e] += vf_load(x + (size_t)t * ldx + i + e * VW) * uu;
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < m; t++) {
            const float *xt = x + (size_t)t * ldx;
            float tail = 0;
            for (int k = i; k < in; k++) tail += xt[k] * lr_at(uj, (size_t)k, wt);
            vf l[NV];
            FOR_NV(e) l[e] = (a[t][e] + a[t][NV + e]) + (a[t][2 * NV + e] + a[t][3 * NV + e]);
            float d = vf_sum16_tree(l) + tail;
            h[(size_t)t * ldh + j] = scale ? d * scale[j] : d;
        }
    }

    /* Y += h VT, the first SPLIT columns from VT, the others from VT2 (see lowrank.h). */
    up_add(y, ldy, m, split, r, vt, ldv, h, ldh, wt, store);
    if (out > split) up_add(y + split, ldy, m, out - split, r, vt2, ldv2, h, ldh, wt, store);
}

static inline __attribute__((always_inline)) void lowrank_any(float *restrict y, size_t ldy, const float *restrict x,
                                                              size_t ldx, int n, int in, int out, int r,
                                                              const void *restrict u, size_t ldu,
                                                              const float *restrict scale, const void *restrict vt,
                                                              size_t ldv, int split, const void *restrict vt2,
                                                              size_t ldv2, float *restrict h, int wt, int store) {
    if (split > out) split = out;
    /* SCALE sits apart from the adapter's matrices, away from the stream the hardware
     * prefetcher follows: fetched now, it is not a miss in the middle of the first dot products. */
    if (scale)
        for (int j = 0; j < r; j += 16) __builtin_prefetch(scale + j);
    int t = 0;
    if (r <= GROUP_MAX_R) {
        float hg[GROUP * GROUP_MAX_R];
        for (; t + GROUP <= n; t += GROUP)
            rows_add(y + (size_t)t * ldy, ldy, x + (size_t)t * ldx, ldx, GROUP, in, out, r, u, ldu, scale, vt, ldv,
                     split, vt2, ldv2, hg, GROUP_MAX_R, wt, store);
    }
    for (; t < n; t++)
        rows_add(y + (size_t)t * ldy, ldy, x + (size_t)t * ldx, ldx, 1, in, out, r, u, ldu, scale, vt, ldv, split, vt2,
                 ldv2, h, 0, wt, store);
}

/* One entry of the kernel table per element type of U / VT / VT2 (kernels.h). */
#define LOWRANK_FN(NAME, WT) \
    static void NAME(float *restrict y, size_t ldy, const float *restrict x, size_t ldx, int n, int in, int out, int r, \
                     const void *restrict u, size_t ldu, const float *restrict scale, const void *restrict vt, \
                     size_t ldv, int split, const void *restrict vt2, size_t ldv2, float *restrict h, int store) { \
        lowrank_any(y, ldy, x, ldx, n, in, out, r, u, ldu, scale, vt, ldv, split, vt2, ldv2, h, WT, store); \
    }
LOWRANK_FN(lowrank_f32, SL_WTYPE_F32)
LOWRANK_FN(lowrank_bf16, SL_WTYPE_BF16)
LOWRANK_FN(lowrank_f16, SL_WTYPE_F16)
