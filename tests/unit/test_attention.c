/* test_attention.c — the attention kernel (lib/kernels/kernels_attention.inc.h) of the active
 * kernel set (tests/run.sh runs this binary under every set the CPU can run), for every KV
 * element type: values against a double-precision softmax reference on the stored K and V,
 * over head counts, head sizes (on and off the 4-, 16- and 64-wide steps), block sizes and
 * visible lengths (on and off the 16-position chunk); and the order contract: a head's result
 * does not depend on which heads are computed with it (bit for bit). */
#include "check.h"

#include "gemm.h"
#include "kernels.h"
#include "safetensors.h"

#include <math.h>
#include <stdint.h>

static uint64_t rng = 0x2545f4914f6cdd1dull;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* Stores V as type T at element I of BASE; returns the value stored, widened. */
static float put(void *base, sl_wtype t, size_t i, float v) {
    if (t == SL_WTYPE_BF16) return sl_bf16_to_f32(((uint16_t *)base)[i] = sl_f32_to_bf16(v));
    if (t == SL_WTYPE_F16) return sl_f16_to_f32(((uint16_t *)base)[i] = sl_f32_to_f16(v));
    return ((float *)base)[i] = v;
}

/* The row as the forward pass computes it (kernels.h: sl_attend_part_len): whole up to a part's
 * positions, else in parts joined by sl_attend_join, the parts computed last to first
 * (whichever thread computes which part, in whatever order, must not matter; S is shared
 * scratch). PO, PML: room for the parts. */
static void attend_row(sl_wtype t, const void *kb, const void *vb, size_t bstride, const int32_t *blocks, int bs,
                       int vis, int groups, int hd, float scale, const float *q, float *out, float *s, int max_ctx,
                       float *po, float *pml) {
    int plen = sl_attend_part_len(bs);
    if (vis <= plen) {
        sl_kernels_active()->attend[t](kb, vb, bstride, blocks, bs, vis, groups, hd, scale, q, out, s, max_ctx);
        return;
    }
    int np = (vis + plen - 1) / plen;
    for (int p = np - 1; p >= 0; p--)
        sl_kernels_active()->attend_part[t](kb, vb, bstride, blocks, bs, p * plen,
                                            (p + 1) * plen < vis ? (p + 1) * plen : vis, groups, hd,
                                            scale, q, po + (size_t)p * groups * hd, pml + (size_t)p * groups * 2, s,
                                            max_ctx);
    sl_attend_join(np, groups, hd, po, pml, out);
}

/* One case: GROUPS heads of HD dims against VIS positions in blocks of BS (blocks in a
 * shuffled order of a pool of NB). Checks values and head independence; returns 0 if fine. */
static void one_case(sl_wtype t, int groups, int hd, int bs, int vis) {
    const size_t es = t == SL_WTYPE_F32 ? 4 : 2;
    int nblk = (vis + bs - 1) / bs, nb = nblk + 3, max_ctx = nblk * bs + 5;
    size_t bstride = (size_t)hd * bs;
    unsigned char *kb = calloc((size_t)nb * bstride, es), *vb = calloc((size_t)nb * bstride, es);
    double *kr = malloc((size_t)vis * hd * sizeof *kr), *vr = malloc((size_t)vis * hd * sizeof *vr);
    int32_t *blocks = malloc((size_t)nblk * sizeof *blocks);
    for (int b = 0; b < nblk; b++) blocks[b] = (b * 5 + 2) % nb; /* 5 and nb = nblk + 3 need not be coprime: */
    for (int b = 0; b < nblk; b++) /* make the ids distinct */
        for (int c = 0; c < b; c++)
            if (blocks[c] == blocks[b]) { blocks[b] = (blocks[b] + 1) % nb; c = -1; }
    for (int p = 0; p < vis; p++)
        for (int d = 0; d < hd; d++) {
            size_t blk = (size_t)blocks[p / bs] * bstride;
            kr[(size_t)p * hd + d] = put(kb, t, blk + (size_t)d * bs + (size_t)(p % bs), 2 * frand());
            vr[(size_t)p * hd + d] = put(vb, t, blk + (size_t)(p % bs) * hd + (size_t)d, frand());
        }
    float *q = malloc((size_t)groups * hd * sizeof *q), *out = malloc((size_t)groups * hd * sizeof *out);
    float *one = malloc((size_t)hd * sizeof *one), *s = malloc((size_t)groups * max_ctx * sizeof *s);
    for (int i = 0; i < groups * hd; i++) q[i] = 2 * frand();
    float scale = 1.0f / sqrtf((float)hd);
    int np = (vis + sl_attend_part_len(bs) - 1) / sl_attend_part_len(bs);
    float *po = malloc((size_t)np * groups * hd * sizeof *po), *pml = malloc((size_t)np * groups * 2 * sizeof *pml);
    attend_row(t, kb, vb, bstride, blocks, bs, vis, groups, hd, scale, q, out, s, max_ctx, po, pml);
    double worst = 0;
    int same = 1;
    for (int g = 0; g < groups; g++) {
        double *w = malloc((size_t)vis * sizeof *w), mx = -INFINITY, sum = 0;
        for (int p = 0; p < vis; p++) {
            double a = 0;
            for (int d = 0; d < hd; d++) a += (double)q[(size_t)g * hd + d] * kr[(size_t)p * hd + d];
            w[p] = a * scale;
            mx = w[p] > mx ? w[p] : mx;
        }
        for (int p = 0; p < vis; p++) sum += (w[p] = exp(w[p] - mx));
        for (int d = 0; d < hd; d++) {
            double o = 0;
            for (int p = 0; p < vis; p++) o += w[p] / sum * vr[(size_t)p * hd + d];
            double e = fabs(o - out[(size_t)g * hd + d]);
            worst = e > worst ? e : worst;
        }
        free(w);
        /* The same head alone. */
        attend_row(t, kb, vb, bstride, blocks, bs, vis, 1, hd, scale, q + (size_t)g * hd, one, s, max_ctx, po, pml);
        same &= memcmp(one, out + (size_t)g * hd, (size_t)hd * sizeof *one) == 0;
    }
    /* Values are |v| <= 1 averaged: F32 sums of up to ~200 terms stay within 1e-5. */
    CHECKF(worst < 2e-5, "%s groups %d hd %d bs %d vis %d: max error %.3g", sl_wtype_name(t), groups, hd, bs, vis, worst);
    CHECKF(same, "%s groups %d hd %d bs %d vis %d: a head computed alone differs from it among %d", sl_wtype_name(t),
           groups, hd, bs, vis, groups);
    free(kb); free(vb); free(kr); free(vr); free(blocks); free(q); free(out); free(one); free(s); free(po); free(pml);
}

TEST(matches_reference_and_heads_are_independent) {
    static const sl_wtype types[] = {SL_WTYPE_F32, SL_WTYPE_BF16, SL_WTYPE_F16};
    static const int groups[] = {1, 2, 3, 4, 5, 7};
    static const int hds[] = {8, 36, 64, 80, 128};
    static const int bss[] = {16, 32};
    static const int viss[] = {1, 15, 16, 17, 40, 77};
    for (size_t a = 0; a < sizeof types / sizeof *types; a++)
        for (size_t b = 0; b < sizeof groups / sizeof *groups; b++)
            for (size_t c = 0; c < sizeof hds / sizeof *hds; c++)
                for (size_t d = 0; d < sizeof bss / sizeof *bss; d++)
                    for (size_t e = 0; e < sizeof viss / sizeof *viss; e++)
                        one_case(types[a], groups[b], hds[c], bss[d], viss[e]);
}

/* Rows longer than a part, in parts (the last one short, one position, or whole). */
TEST(long_rows_in_parts_match_reference) {
    static const sl_wtype types[] = {SL_WTYPE_F32, SL_WTYPE_BF16, SL_WTYPE_F16};
    static const int groups[] = {1, 3, 4};
    static const int viss[] = {SL_ATT_PART + 1, 2 * SL_ATT_PART, 2 * SL_ATT_PART + 77};
    for (size_t a = 0; a < sizeof types / sizeof *types; a++)
        for (size_t b = 0; b < sizeof groups / sizeof *groups; b++)
            for (size_t e = 0; e < sizeof viss / sizeof *viss; e++) {
                one_case(types[a], groups[b], 64, 16, viss[e]);
                one_case(types[a], groups[b], 80, 48, viss[e]); /* parts of 528 positions: 11 blocks */
            }
}

/* Scores far below the best position (e^-100 and less) weigh nothing and make no NaN. */
TEST(distant_scores_weigh_nothing) {
    int hd = 16, bs = 16, vis = 3, max_ctx = 16;
    float k[16 * 16] = {0}, v[16 * 16] = {0}, q[16] = {0}, out[16], s[16];
    int32_t blocks[1] = {0};
    q[0] = 1;
    k[0 * bs + 0] = 0;    /* score 0 */
    k[0 * bs + 1] = -400; /* score -100 (scale 1/4) */
    k[0 * bs + 2] = -1e30f;
    for (int d = 0; d < hd; d++) { v[0 * hd + d] = 1; v[1 * hd + d] = 50; v[2 * hd + d] = 1e6f; }
    sl_kernels_active()->attend[SL_WTYPE_F32](k, v, (size_t)hd * bs, blocks, bs, vis, 1, hd, 0.25f, q, out, s, max_ctx);
    for (int d = 0; d < hd; d++) CHECKF(out[d] == 1.0f, "dim %d: %g, want 1", d, out[d]);
}

/* The KV store's rounding (kv_round) of this set equals the scalar conversions of the value,
 * saturated at +-65504 for F16: floats from 2^-40 (F16 subnormals and below) past F16's range,
 * both signs, in runs of 13 (the vector body and its tail). */
TEST(kv_round_is_the_scalar_rounding) {
    enum { RUN_N = 13 };
    float src[RUN_N];
    uint16_t got[RUN_N];
    int bad[2] = {0, 0};
    for (int ti = 0; ti < 2; ti++) {
        int t = ti ? SL_WTYPE_F16 : SL_WTYPE_BF16;
        for (uint32_t b = 0x2b800000u; b < 0x48000000u; b += 0x3d1u * RUN_N) {
            for (int i = 0; i < RUN_N; i++) {
                uint32_t u = b + 0x3d1u * (uint32_t)i;
                memcpy(&src[i], &u, 4);
                if (i % 2) src[i] = -src[i];
            }
            sl_kernels_active()->kv_round(got, src, RUN_N, t);
            for (int i = 0; i < RUN_N; i++) {
                float v = src[i];
                uint16_t want = t == SL_WTYPE_F16 ? sl_f32_to_f16(v > 65504.0f ? 65504.0f : v < -65504.0f ? -65504.0f : v)
                                                  : sl_f32_to_bf16(v);
                bad[ti] += got[i] != want;
            }
        }
    }
    CHECKF(bad[0] == 0 && bad[1] == 0, "kv_round differs from the scalar rounding: %d BF16, %d F16 values", bad[0], bad[1]);
    uint16_t sat[2];
    float big[2] = {1e6f, -70000.0f};
    sl_kernels_active()->kv_round(sat, big, 2, SL_WTYPE_F16);
    CHECKF(sat[0] == 0x7bff && sat[1] == 0xfbff, "F16 saturation: %#x %#x", sat[0], sat[1]);
}

int main(void) {
    printf("    kernel set %s (%s)\n", sl_kernels_active()->name, sl_kernels_active()->tiles);
    RUN(matches_reference_and_heads_are_independent);
    RUN(long_rows_in_parts_match_reference);
    RUN(distant_scores_weigh_nothing);
    RUN(kv_round_is_the_scalar_rounding);
    return check_summary();
}
