/* kernels_attention.inc.h — causal attention of one query row against a paged KV cache, one
 * body for every kernel set (included like kernels_gemm.inc.h, with ATT_GROUPS: the query
 * heads computed together, sharing every K and V load; each holds 4 * NV accumulators, so
 * AVX-512 takes 4 and the 16-register sets 1).
 *
 * Q (groups, hd) of the GROUPS query heads that share one KV head -> OUT (groups, hd). The
 * sequence's positions 0 .. vis-1 live in blocks of BS positions: block b of this KV head is
 * at element offset blocks[b] * bstride from KBASE (K transposed, (hd, bs)) and from VBASE
 * (V, (bs, hd)), elements of type KVT (F32, BF16 or F16, widened exactly in registers).
 * Every row is computed the same way whatever else is in the step (prefill chunk or decode,
 * alone or batched), and whichever heads share its registers:
 *   scores  16 positions at a time; each sums over d with 4 interleaved partial sums
 *           (d mod 4), joined as ((p0 + p1) + (p2 + p3)), times scale;
 *   softmax max (exact), e^(s - max) by vexp below, their sum in VW lanes then a fixed
 *           pairwise tree, times 1/sum;
 *   output  each element sums over positions in order, 64 dims (then VW) at a time.
 * So batching and chunking never change a result bit. Heads computed together only share
 * loads: no horizontal sums, and 4 * NV * ATT_GROUPS independent FMA chains (one chain per
 * accumulator register waits on its latency: AVX-512 with one head had 4 and ran at half
 * the FMA rate). S: (groups, max_ctx) scratch. */

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

/* Scores of heads [0, gn) (Q (gn, hd)) at the 16 positions from element KT of K^T -> T (gn, 16). */
static inline __attribute__((always_inline)) void scores16(const void *kbase, int kvt, size_t kt, int bs, int hd,
                                                           const float *restrict q, int gn, float scale,
                                                           float *restrict t) {
    vf a[ATT_GROUPS][4][NV];
#pragma GCC unroll 8
    for (int g = 0; g < gn; g++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) FOR_NV(e) a[g][c][e] = (vf){0};
    size_t kd = kt;
    int d = 0;
    for (; d + 4 <= hd; d += 4, kd += 4 * (size_t)bs) {
        vf k[4][NV];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) FOR_NV(e) k[c][e] = kvload(kbase, kvt, kd + c * (size_t)bs + e * VW);
#pragma GCC unroll 8
        for (int g = 0; g < gn; g++)
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) FOR_NV(e) a[g][c][e] += q[(size_t)g * hd + d + c] * k[c][e];
    }
    for (; d < hd; d++, kd += (size_t)bs) {
        vf k[NV];
        FOR_NV(e) k[e] = kvload(kbase, kvt, kd + e * VW);
#pragma GCC unroll 8
        for (int g = 0; g < gn; g++) FOR_NV(e) a[g][0][e] += q[(size_t)g * hd + d] * k[e];
    }
#pragma GCC unroll 8
    for (int g = 0; g < gn; g++)
        FOR_NV(e) vf_store(t + g * 16 + e * VW, ((a[g][0][e] + a[g][1][e]) + (a[g][2][e] + a[g][3][e])) * scale);
}

/* OUT[g][d0 .. d0+64) = sum over positions p of [b0 * bs, pb) in order of S[g][p] * V[p][d0 ..]
 * for heads [0, gn). */
static inline __attribute__((always_inline)) void values64(const void *vbase, int kvt, size_t bstride,
                                                           const int32_t *blocks, int bs, int b0, int pb, int hd,
                                                           int d0, const float *restrict s, int max_ctx, int gn,
                                                           float *restrict out) {
    vf acc[ATT_GROUPS][4 * NV];
#pragma GCC unroll 8
    for (int g = 0; g < gn; g++)
#pragma GCC unroll 16
        for (int c = 0; c < 4 * NV; c++) acc[g][c] = (vf){0};
    for (int b = b0, p0 = b0 * bs; p0 < pb; b++, p0 += bs) {
        size_t vb = (size_t)blocks[b] * bstride + (size_t)d0;
        int rows = pb - p0 < bs ? pb - p0 : bs;
        for (int j = 0; j < rows; j++, vb += (size_t)hd) {
            vf v[4 * NV];
#pragma GCC unroll 16
            for (int c = 0; c < 4 * NV; c++) v[c] = kvload(vbase, kvt, vb + (size_t)c * VW);
#pragma GCC unroll 8
            for (int g = 0; g < gn; g++) {
                float w = s[(size_t)g * max_ctx + p0 + j];
#pragma GCC unroll 16
                for (int c = 0; c < 4 * NV; c++) acc[g][c] += w * v[c];
            }
        }
    }
#pragma GCC unroll 8
    for (int g = 0; g < gn; g++)
#pragma GCC unroll 16
        for (int c = 0; c < 4 * NV; c++) vf_store(out + (size_t)g * hd + d0 + c * VW, acc[g][c]);
}

/* The same for the VW dims from D0 (N of them valid) of one head. */
static inline __attribute__((always_inline)) void values_tail(const void *vbase, int kvt, size_t bstride,
                                                              const int32_t *blocks, int bs, int b0, int pb, int hd,
                                                              int d0, int n, const float *restrict sg,
                                                              float *restrict og) {
    vf a0 = {0};
    for (int b = b0, p0 = b0 * bs; p0 < pb; b++, p0 += bs) {
        size_t vb = (size_t)blocks[b] * bstride + (size_t)d0;
        int rows = pb - p0 < bs ? pb - p0 : bs;
        for (int j = 0; j < rows; j++, vb += (size_t)hd)
            a0 += sg[p0 + j] * (n == VW ? kvload(vbase, kvt, vb) : kvload_part(vbase, kvt, vb, n));
    }
    float tmp[VW];
    vf_store(tmp, a0);
    memcpy(og + d0, tmp, (size_t)n * sizeof(float));
}

/* SR[0 .. n) := e^(SR - max) in place; returns their sum (order in the header), *MX the max. */
static inline __attribute__((always_inline)) float exp_row(float *restrict sr, int vis, float *mx_out) {
    /* The max (simd.h: a scalar chain of compares was 13% of a long row's attention); which
     * of +0 and -0 wins does not matter: s - mx, then e^(s - mx), is the same for both. */
    float mx = row_max(sr, (size_t)vis);
    *mx_out = mx;
    int p = 0;
    vf sum = {0};
    for (; p + VW <= vis; p += VW) {
        vf e = vexp(vf_load(sr + p) - mx);
        vf_store(sr + p, e);
        sum += e;
    }
    if (p < vis) {
        float tmp[VW];
        for (int l = 0; l < VW; l++) tmp[l] = p + l < vis ? sr[p + l] : -INFINITY; /* e^-inf: 0 (vexp) */
        vf e = vexp(vf_load(tmp) - mx);
        vf_store(tmp, e);
        sum += e;
        memcpy(sr + p, tmp, (size_t)(vis - p) * sizeof(float));
    }
    float l[VW];
    vf_store(l, sum);
    for (int w = VW / 2; w >= 1; w /= 2)
        for (int k = 0; k < w; k++) l[k] += l[k + w];
    return l[0];
}

/* Softmax of SR[0 .. vis) in place (order in the header). */
static inline __attribute__((always_inline)) void softmax_row(float *restrict sr, int vis) {
    float mx, inv = 1.0f / exp_row(sr, vis, &mx);
    for (int p = 0; p < vis; p++) sr[p] *= inv;
}

/* One call per head count 1 .. ATT_GROUPS, so that count is a constant in the unrolled loops. */
#define ATT_SWITCH(GN, CALL) \
    switch (GN) { \
    case 1: CALL(1); break; \
    case 2: if (2 <= ATT_GROUPS) CALL(2); break; \
    case 3: if (3 <= ATT_GROUPS) CALL(3); break; \
    case 4: if (4 <= ATT_GROUPS) CALL(4); break; \
    default: break; /* unreachable: 1 <= GN <= ATT_GROUPS <= 4 */ \
    }

/* Software prefetch of the cache lines of [P, P + BYTES): the blocks of a sequence are
 * scattered 4 KB pieces (F32, 16 positions, head_dim 64) that the hardware prefetcher, which
 * stops at page boundaries and needs a few misses to start, does not fetch ahead. */
static inline __attribute__((always_inline)) void prefetch_lines(const void *p, size_t bytes) {
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch((const char *)p + o, 0, 3);
}

/* S[g][p] = the scaled scores of heads [0, groups) at positions [b0 * bs, pb): blocks from B0. */
static inline __attribute__((always_inline)) void scores_range(const void *kbase, const void *vbase, size_t bstride,
                                                               const int32_t *blocks, int kvt, int bs, int b0, int pb,
                                                               int groups, int hd, float scale,
                                                               const float *restrict q, float *restrict s,
                                                               int max_ctx) {
    const size_t es = kvt == SL_WTYPE_F32 ? 4 : 2, kbytes = (size_t)hd * bs * es; /* a block's K^T */
    for (int b = b0, p0 = b0 * bs; p0 < pb; b++, p0 += bs) {
        size_t kt = (size_t)blocks[b] * bstride; /* element index of this block's K^T (hd, bs) */
        /* The pages of the K two blocks ahead (at the range's first block, the next one's too)
         * are walked now, so that the prefetch of their lines a block later is not dropped
         * (bigalloc.h: sl_touch_pages; a sequence's blocks are scattered 4 KB pieces of the
         * pool). F16 KV on an AMD Zen 5 VM, A/B: batch 64 at 1024 positions +4-10%, batch 8 at
         * 2048 +12% (walking the next block only; two ahead added 1.5-7%); batch 1 at 4096
         * within the noise; 128 positions unchanged. */
        for (int ahead = b == b0 ? 1 : 2; ahead <= 2 && p0 + ahead * bs < pb; ahead++)
            sl_touch_pages((const char *)kbase + (size_t)blocks[b + ahead] * bstride * es, kbytes);
        int rows = pb - p0 < bs ? pb - p0 : bs;
        for (int j0 = 0; j0 < rows; j0 += 16) { /* block_size is a multiple of 16 */
            int w = rows - j0 < 16 ? rows - j0 : 16;
            /* While this chunk's scores are computed: the next chunk's K (one piece of 16
             * positions per d) and this chunk's V rows (contiguous), read after the softmax,
             * their pages walked first (V's here, K's above; V's walk: +1-5% at batch 64, 1024 positions). */
            size_t kn = j0 + 16 < rows ? kt + (size_t)j0 + 16 : p0 + bs < pb ? (size_t)blocks[b + 1] * bstride : (size_t)-1;
            if (kn != (size_t)-1)
                for (int d = 0; d < hd; d++) __builtin_prefetch((const char *)kbase + (kn + (size_t)d * bs) * es, 0, 3);
            const char *vrows = (const char *)vbase + (kt + (size_t)j0 * hd) * es;
            sl_touch_pages(vrows, (size_t)w * hd * es);
            prefetch_lines(vrows, (size_t)w * hd * es);
            for (int g0 = 0; g0 < groups; g0 += ATT_GROUPS) {
                int gn = groups - g0 < ATT_GROUPS ? groups - g0 : ATT_GROUPS;
                float t[ATT_GROUPS * 16];
#define ATT_SCORES(N) scores16(kbase, kvt, kt + (size_t)j0, bs, hd, q + (size_t)g0 * hd, (N), scale, t)
                ATT_SWITCH(gn, ATT_SCORES)
#undef ATT_SCORES
                for (int g = 0; g < gn; g++) { /* 16 scores: vector moves (a 64-byte memcpy became rep movsq) */
                    float *dst = s + (size_t)(g0 + g) * max_ctx + p0 + j0;
                    if (w == 16) FOR_NV(e) vf_store(dst + e * VW, vf_load(t + g * 16 + e * VW));
                    else memcpy(dst, t + g * 16, (size_t)w * sizeof(float));
                }
            }
        }
    }
}

/* OUT[g] = sum over positions [b0 * bs, pb) in order of S[g][p] * V[p], heads [0, groups). */
static inline __attribute__((always_inline)) void values_range(const void *vbase, size_t bstride,
                                                               const int32_t *blocks, int kvt, int bs, int b0, int pb,
                                                               int groups, int hd, const float *restrict s,
                                                               float *restrict out, int max_ctx) {
    for (int g0 = 0; g0 < groups; g0 += ATT_GROUPS) {
        int gn = groups - g0 < ATT_GROUPS ? groups - g0 : ATT_GROUPS, d0 = 0;
        for (; d0 + 64 <= hd; d0 += 64) {
#define ATT_VALUES(N) values64(vbase, kvt, bstride, blocks, bs, b0, pb, hd, d0, s + (size_t)g0 * max_ctx, max_ctx, (N), \
                               out + (size_t)g0 * hd)
            ATT_SWITCH(gn, ATT_VALUES)
#undef ATT_VALUES
        }
        for (int g = g0; g < g0 + gn; g++)
            for (int d = d0; d < hd; d += VW)
                values_tail(vbase, kvt, bstride, blocks, bs, b0, pb, hd, d, hd - d >= VW ? VW : hd - d,
                            s + (size_t)g * max_ctx, out + (size_t)g * hd);
    }
}

static inline __attribute__((always_inline)) void attend_any(const void *kbase, const void *vbase, size_t bstride,
                                                             const int32_t *blocks, int kvt, int bs, int vis,
                                                             int groups, int hd, float scale, const float *restrict q,
                                                             float *restrict out, float *restrict s, int max_ctx) {
    scores_range(kbase, vbase, bstride, blocks, kvt, bs, 0, vis, groups, hd, scale, q, s, max_ctx);
    for (int g = 0; g < groups; g++) softmax_row(s + (size_t)g * max_ctx, vis);
    values_range(vbase, bstride, blocks, kvt, bs, 0, vis, groups, hd, s, out, max_ctx);
}

/* One part of a row (kernels.h: attend_part): positions [pa, pb), pa a multiple of bs. Per head
 * g, ML[2g] = the part's max score m and ML[2g + 1] = l = the sum of e^(s - m) (exp_row's
 * order), and OUT[g] = the sum over the part's positions in order of e^(s - m) * V[p], not
 * divided by l: the parts of a row are joined by sl_attend_join (kernels.h). */
static inline __attribute__((always_inline)) void attend_part_any(const void *kbase, const void *vbase,
                                                                  size_t bstride, const int32_t *blocks, int kvt,
                                                                  int bs, int pa, int pb, int groups, int hd,
                                                                  float scale, const float *restrict q,
                                                                  float *restrict out, float *restrict ml,
                                                                  float *restrict s, int max_ctx) {
    scores_range(kbase, vbase, bstride, blocks, kvt, bs, pa / bs, pb, groups, hd, scale, q, s, max_ctx);
    for (int g = 0; g < groups; g++) ml[2 * g + 1] = exp_row(s + (size_t)g * max_ctx + pa, pb - pa, &ml[2 * g]);
    values_range(vbase, bstride, blocks, kvt, bs, pa / bs, pb, groups, hd, s, out, max_ctx);
}

/* DST[0 .. n) := SRC[0 .. n) rounded to KVT (SL_WTYPE_BF16 or SL_WTYPE_F16, nearest even):
 * how the KV store writes a reduced-precision cache. F16 saturates at its largest finite
 * value, 65504 (an infinite key would turn its head's scores into inf or NaN; a saturated one
 * only weights that position less exactly). Sets with F16C convert 8 at a time in hardware;
 * every set gives sl_f32_to_f16 / sl_f32_to_bf16 of the saturated value (test_attention). */
static void kv_round(uint16_t *restrict dst, const float *restrict src, int n, int kvt) {
    int i = 0;
#if defined(__F16C__)
    if (kvt == SL_WTYPE_F16)
        for (; i + 8 <= n; i += 8) {
            __m256 v = _mm256_loadu_ps(src + i);
            /* NaN stays NaN: max / min return their second operand when one is NaN. */
            v = _mm256_min_ps(_mm256_set1_ps(65504.0f), _mm256_max_ps(_mm256_set1_ps(-65504.0f), v));
            _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
        }
#endif
    for (; i < n; i++) {
        float v = src[i];
        dst[i] = kvt == SL_WTYPE_F16 ? sl_f32_to_f16(v > 65504.0f ? 65504.0f : v < -65504.0f ? -65504.0f : v)
                                     : sl_f32_to_bf16(v);
    }
}

#define ATTEND_FN(NAME, KVT) \
    static void NAME(const void *kbase, const void *vbase, size_t bstride, const int32_t *blocks, int bs, int vis, \
                     int groups, int hd, float scale, const float *q, float *out, float *s, int max_ctx) { \
        attend_any(kbase, vbase, bstride, blocks, KVT, bs, vis, groups, hd, scale, q, out, s, max_ctx); \
    }
#define ATTEND_PART_FN(NAME, KVT) \
    static void NAME(const void *kbase, const void *vbase, size_t bstride, const int32_t *blocks, int bs, int pa, \
                     int pb, int groups, int hd, float scale, const float *q, float *out, float *ml, float *s, \
                     int max_ctx) { \
        attend_part_any(kbase, vbase, bstride, blocks, KVT, bs, pa, pb, groups, hd, scale, q, out, ml, s, max_ctx); \
    }
ATTEND_PART_FN(attend_part_f32, SL_WTYPE_F32)
ATTEND_PART_FN(attend_part_bf16, SL_WTYPE_BF16)
ATTEND_PART_FN(attend_part_f16, SL_WTYPE_F16)
ATTEND_FN(attend_f32, SL_WTYPE_F32)
ATTEND_FN(attend_bf16, SL_WTYPE_BF16)
ATTEND_FN(attend_f16, SL_WTYPE_F16)
