/* kernels_attention.inc.h — causal attention of one query row against a paged KV cache, one
 * body for every kernel set (included like kernels_gemm.inc.h).
 *
 * Q (groups, hd) of the GROUPS query heads that share one KV head -> OUT (groups, hd). The
 * sequence's positions 0 .. vis-1 live in blocks of BS positions: block b of this KV head is
 * at element offset blocks[b] * bstride from KBASE (K transposed, (hd, bs)) and from VBASE
 * (V, (bs, hd)), elements of type KVT (F32, BF16 or F16, widened exactly in registers).
 * Every row is computed the same way whatever else is in the step (prefill chunk or decode,
 * alone or batched): each score sums over d in a fixed order (4 interleaved partial sums),
 * each output element over positions in order, so batching and chunking never change a
 * result bit. Scores run 16 positions at a time, outputs 16 or 64 dims at a time: no
 * horizontal sums, independent FMA chains. S: (groups, max_ctx) scratch. */

/* VW KV elements from element index I of P. */
static inline __attribute__((always_inline)) vf kvload(const void *p, int kvt, size_t i) {
    switch (kvt) {
    case SL_WTYPE_BF16: return vf_load_bf16((const uint16_t *)p + i);
    case SL_WTYPE_F16: return vf_load_f16((const uint16_t *)p + i);
    default: return vf_load((const float *)p + i);
    }
}

/* The first N (< VW) elements from index I, zeros after. */
static inline __attribute__((always_inline)) vf kvload_part(const void *p, int kvt, size_t i, int n) {
    float tmp[VW] = {0};
    for (int j = 0; j < n; j++)
        tmp[j] = kvt == SL_WTYPE_BF16 ? sl_bf16_to_f32(((const uint16_t *)p)[i + j])
               : kvt == SL_WTYPE_F16  ? sl_f16_to_f32(((const uint16_t *)p)[i + j])
                                      : ((const float *)p)[i + j];
    return vf_load(tmp);
}

static inline __attribute__((always_inline)) void attend_any(const void *kbase, const void *vbase, size_t bstride,
                                                             const int32_t *blocks, int kvt, int bs, int vis,
                                                             int groups, int hd, float scale, const float *restrict q,
                                                             float *restrict out, float *restrict s, int max_ctx) {
    for (int b = 0, p0 = 0; p0 < vis; b++, p0 += bs) {
        size_t kt = (size_t)blocks[b] * bstride; /* element index of this block's K^T (hd, bs) */
        int rows = vis - p0 < bs ? vis - p0 : bs;
        for (int g = 0; g < groups; g++) {
            const float *qg = q + (size_t)g * hd;
            float *sg = s + (size_t)g * max_ctx + p0;
            for (int j0 = 0; j0 < rows; j0 += 16) { /* block_size is a multiple of 16 */
                vf a[4][NV];
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++) FOR_NV(e) a[c][e] = (vf){0};
                size_t kd = kt + (size_t)j0;
                int d = 0;
                for (; d + 4 <= hd; d += 4, kd += 4 * (size_t)bs)
#pragma GCC unroll 4
                    for (int c = 0; c < 4; c++) FOR_NV(e) a[c][e] += qg[d + c] * kvload(kbase, kvt, kd + c * (size_t)bs + e * VW);
                for (; d < hd; d++, kd += (size_t)bs) FOR_NV(e) a[0][e] += qg[d] * kvload(kbase, kvt, kd + e * VW);
                float tmp[16];
                FOR_NV(e) vf_store(tmp + e * VW, ((a[0][e] + a[1][e]) + (a[2][e] + a[3][e])) * scale);
                int w = rows - j0 < 16 ? rows - j0 : 16;
                memcpy(sg + j0, tmp, (size_t)w * sizeof(float));
            }
        }
    }
    for (int g = 0; g < groups; g++) {
        float *sr = s + (size_t)g * max_ctx, mx = -INFINITY, sum = 0;
        for (int p = 0; p < vis; p++) mx = sr[p] > mx ? sr[p] : mx;
        for (int p = 0; p < vis; p++) { sr[p] = expf(sr[p] - mx); sum += sr[p]; }
        float inv = 1.0f / sum;
        for (int p = 0; p < vis; p++) sr[p] *= inv;
    }
    /* out[g][d] = sum over p (in order) of s[g][p] * V[p][d], 64 dims at a time, then VW. */
    for (int g = 0; g < groups; g++) {
        const float *sg = s + (size_t)g * max_ctx;
        float *og = out + (size_t)g * hd;
        int d0 = 0;
        for (; d0 + 64 <= hd; d0 += 64) {
            vf a[4 * NV];
#pragma GCC unroll 16
            for (int c = 0; c < 4 * NV; c++) a[c] = (vf){0};
            for (int b = 0, p0 = 0; p0 < vis; b++, p0 += bs) {
                size_t vb = (size_t)blocks[b] * bstride + (size_t)d0;
                int rows = vis - p0 < bs ? vis - p0 : bs;
                for (int j = 0; j < rows; j++, vb += (size_t)hd) {
                    float w = sg[p0 + j];
#pragma GCC unroll 16
                    for (int c = 0; c < 4 * NV; c++) a[c] += w * kvload(vbase, kvt, vb + (size_t)c * VW);
                }
            }
#pragma GCC unroll 16
            for (int c = 0; c < 4 * NV; c++) vf_store(og + d0 + c * VW, a[c]);
        }
        for (; d0 < hd; d0 += VW) {
            vf a0 = {0};
            int n = hd - d0 >= VW ? VW : hd - d0;
            for (int b = 0, p0 = 0; p0 < vis; b++, p0 += bs) {
                size_t vb = (size_t)blocks[b] * bstride + (size_t)d0;
                int rows = vis - p0 < bs ? vis - p0 : bs;
                for (int j = 0; j < rows; j++, vb += (size_t)hd)
                    a0 += sg[p0 + j] * (n == VW ? kvload(vbase, kvt, vb) : kvload_part(vbase, kvt, vb, n));
            }
            float tmp[VW];
            vf_store(tmp, a0);
            memcpy(og + d0, tmp, (size_t)n * sizeof(float));
        }
    }
}

#define ATTEND_FN(NAME, KVT) \
    static void NAME(const void *kbase, const void *vbase, size_t bstride, const int32_t *blocks, int bs, int vis, \
                     int groups, int hd, float scale, const float *q, float *out, float *s, int max_ctx) { \
        attend_any(kbase, vbase, bstride, blocks, KVT, bs, vis, groups, hd, scale, q, out, s, max_ctx); \
    }
ATTEND_FN(attend_f32, SL_WTYPE_F32)
ATTEND_FN(attend_bf16, SL_WTYPE_BF16)
ATTEND_FN(attend_f16, SL_WTYPE_F16)
