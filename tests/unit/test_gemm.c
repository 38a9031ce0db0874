/* test_gemm.c — the packed linear kernels (lib/kernels/gemm.h) of the active kernel set
 * (SL_KERNELS picks another; tests/run.sh runs this binary under every set the CPU can run),
 * for every weight type: values against a double-precision reference on the stored weights,
 * the rounding of the stored types, and the order contract: a row's result does not depend
 * on the other rows of the call nor on how the columns are split (bit for bit). */
#include "check.h"

#include "gemm.h"
#include "kernels.h"
#include "safetensors.h"

#include <math.h>
#include <stdint.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}
static float *randv(size_t n) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = frand();
    return v;
}

/* W (out, in) packed as T; *deq (out, in) = the stored weights widened (packed_row). */
static void *pack(sl_wtype t, const float *w, size_t ldw, int out, int in, float **deq) {
    void *wp = aligned_alloc(64, (sl_gemm_packed_bytes(t, out, in) + 63) / 64 * 64);
    sl_gemm_pack(wp, t, w, SL_GEMM_SRC_F32, ldw, out, in);
    if (deq) {
        *deq = malloc((size_t)out * in * sizeof **deq);
        for (int o = 0; o < out; o++) sl_gemm_packed_row(*deq + (size_t)o * in, wp, t, in, o);
    }
    return wp;
}

/* Every type and shape: out and in on and off the panel width and Q8_0's block, n across the
 * row tile and block sizes. The reference sums the stored weights in double. */
TEST(matches_reference) {
    static const int outs[] = {1, 15, 16, 17, 64, 100, 192};
    static const int ins[] = {1, 7, 16, 33, 64, 576};
    static const int ns[] = {1, 2, 5, 6, 7, 13, 64, 65, 130};
    for (int t = 0; t < SL_WTYPE_COUNT; t++)
        for (size_t a = 0; a < sizeof outs / sizeof *outs; a++)
            for (size_t b = 0; b < sizeof ins / sizeof *ins; b++)
                for (size_t c = 0; c < sizeof ns / sizeof *ns; c++) {
                    int out = outs[a], in = ins[b], n = ns[c];
                    size_t ldw = (size_t)in + 3, ldx = (size_t)in + 1, ldy = (size_t)out + 5;
                    float *w = randv((size_t)out * ldw), *x = randv((size_t)n * ldx), *deq;
                    void *wp = pack((sl_wtype)t, w, ldw, out, in, &deq);
                    float *y = malloc((size_t)n * ldy * sizeof *y);
                    for (size_t i = 0; i < (size_t)n * ldy; i++) y[i] = 12345.0f; /* sentinels */
                    sl_gemm_packed(y, ldy, x, ldx, n, wp, (sl_wtype)t, in, 0, out);
                    double worst = 0;
                    int sentinel_ok = 1;
                    for (int r = 0; r < n; r++) {
                        for (int o = 0; o < out; o++) {
                            double ref = 0, mag = 0;
                            for (int k = 0; k < in; k++) {
                                double p = (double)x[(size_t)r * ldx + k] * deq[(size_t)o * in + k];
                                ref += p;
                                mag += fabs(p);
                            }
                            double e = fabs(y[(size_t)r * ldy + o] - ref) / (mag + 1e-30);
                            if (e > worst) worst = e;
                        }
                        for (size_t o = (size_t)out; o < ldy; o++) sentinel_ok &= y[(size_t)r * ldy + o] == 12345.0f;
                    }
                    CHECKF(worst < 1e-6, "%s out %d in %d n %d: relative error %g", sl_wtype_name((sl_wtype)t), out, in, n,
                           worst);
                    CHECKF(sentinel_ok, "%s out %d in %d n %d: wrote past column %d", sl_wtype_name((sl_wtype)t), out, in,
                           n, out);
                    free(w); free(x); free(wp); free(y); free(deq);
                }
}

/* The stored weights are the nearest of their type: BF16 and F16 within half an ulp, Q8_0
 * within half a step of its block's scale (max |w| / 127, itself stored as F16). */
TEST(stored_weights_are_rounded_to_nearest) {
    int out = 48, in = 100;
    float *w = randv((size_t)out * in);
    for (int i = 0; i < out * in; i += 7) w[i] *= 1e-3f; /* small values: F16 subnormals, Q8 zeros */
    for (int t = SL_WTYPE_BF16; t < SL_WTYPE_COUNT; t++) {
        float *deq;
        void *wp = pack((sl_wtype)t, w, (size_t)in, out, in, &deq);
        int ok = 1;
        for (int o = 0; o < out; o++)
            for (int k0 = 0; k0 < in; k0 += 32) {
                float amax = 0;
                for (int k = k0; k < in && k < k0 + 32; k++) amax = fmaxf(amax, fabsf(w[(size_t)o * in + k]));
                for (int k = k0; k < in && k < k0 + 32; k++) {
                    double v = w[(size_t)o * in + k], d = deq[(size_t)o * in + k], bound;
                    if (t == SL_WTYPE_BF16) bound = fabs(v) * 0x1p-8;
                    else if (t == SL_WTYPE_F16) bound = fmax(fabs(v) * 0x1p-11, 0x1p-25);
                    else bound = amax / 127.0 * (0.5 + 1e-3) + amax * 0x1p-11; /* half a step of the F16-rounded scale */
                    ok &= fabs(v - d) <= bound;
                }
            }
        CHECKF(ok, "%s: a stored weight is not the nearest", sl_wtype_name((sl_wtype)t));
        free(wp); free(deq);
    }
    free(w);
}

/* Row t of an n-row call == the same row alone == the same row with the columns split. */
/* n = 71 rows and in = 577 (above any k block of kernels_gemm.inc.h, not a multiple of it):
 * batched F32 sums cross k blocks, a row alone does not; out = 200 ends in a partial panel. */
TEST(rows_and_splits_are_bit_identical) {
    int out = 200, in = 577, n = 71;
    float *w = randv((size_t)out * in), *x = randv((size_t)n * in);
    float *all = malloc((size_t)n * out * sizeof *all), *one = malloc((size_t)out * sizeof *one);
    float *split = malloc((size_t)n * out * sizeof *split);
    for (int tt = 0; tt < SL_WTYPE_COUNT; tt++) {
        sl_wtype t = (sl_wtype)tt;
        void *wp = pack(t, w, (size_t)in, out, in, NULL);
        sl_gemm_packed(all, (size_t)out, x, (size_t)in, n, wp, t, in, 0, out);
        int same = 1;
        for (int r = 0; r < n; r++) {
            sl_gemm_packed(one, (size_t)out, x + (size_t)r * in, (size_t)in, 1, wp, t, in, 0, out);
            same &= memcmp(one, all + (size_t)r * out, (size_t)out * sizeof *one) == 0;
        }
        CHECKF(same, "%s: a row computed alone differs from the same row in a batch of %d", sl_wtype_name(t), n);
        /* Rows in odd groups, columns split in three at panel boundaries. */
        for (int t0 = 0; t0 < n; t0 += 5) {
            int m = n - t0 < 5 ? n - t0 : 5;
            float *ys = split + (size_t)t0 * out;
            const float *xs = x + (size_t)t0 * in;
            sl_gemm_packed(ys, (size_t)out, xs, (size_t)in, m, wp, t, in, 0, 48);
            sl_gemm_packed(ys, (size_t)out, xs, (size_t)in, m, wp, t, in, 48, 160);
            sl_gemm_packed(ys, (size_t)out, xs, (size_t)in, m, wp, t, in, 160, out);
        }
        CHECKF(memcmp(split, all, (size_t)n * out * sizeof *all) == 0, "%s: split columns differ", sl_wtype_name(t));
        /* A prefetch list is a hint: ranges of odd sizes, more lines than the call can issue,
         * joined and dropped ones (sl_prefetch_add) change no bit. */
        sl_prefetch pf = {0};
        static char far[3][100000];
        CHECK(sl_prefetch_add(&pf, far[0], 1) && sl_prefetch_add(&pf, far[0] + 1, 4095) && pf.n == 1 && pf.bytes[0] == 4096);
        for (int r = 0; r < SL_PREFETCH_RANGES + 2; r++) sl_prefetch_add(&pf, far[r % 3] + 7 * r + 64, 100000 - 7 * r - 64);
        CHECK(pf.n == SL_PREFETCH_RANGES);
        sl_gemm_packed_next(split, (size_t)out, x, (size_t)in, n, wp, t, in, 0, out, &pf);
        CHECKF(memcmp(split, all, (size_t)n * out * sizeof *all) == 0, "%s: a prefetch list changed a result", sl_wtype_name(t));
        free(wp);
    }
    free(w); free(x); free(all); free(one); free(split);
}

TEST(packed_row_is_the_weight_row) {
    int out = 37, in = 19;
    float *w = randv((size_t)out * in), row[19];
    void *wp = pack(SL_WTYPE_F32, w, (size_t)in, out, in, NULL);
    int same = 1;
    for (int v = 0; v < out; v++) {
        sl_gemm_packed_row(row, wp, SL_WTYPE_F32, in, v);
        same &= memcmp(row, w + (size_t)v * in, sizeof row) == 0;
    }
    CHECK(same);
    CHECK(sl_gemm_packed_bytes(SL_WTYPE_F32, 37, 19) == 48 * 19 * 4);
    CHECK(sl_gemm_packed_bytes(SL_WTYPE_BF16, 37, 19) == 48 * 19 * 2);
    CHECK(sl_gemm_packed_bytes(SL_WTYPE_Q8_0, 37, 33) == 3 * 2 * SL_Q8_BLOCK_BYTES);
    free(w); free(wp);
}

/* BF16 and F16 packed from BF16 / F16 sources keep their bits. */
TEST(half_sources_pack_bit_exactly) {
    int out = 20, in = 9;
    uint16_t src[20 * 9];
    for (int i = 0; i < out * in; i++) src[i] = (uint16_t)(0x3c00 + 37 * i); /* finite in both types */
    static const struct { sl_gemm_src s; sl_wtype t; } cases[] = {{SL_GEMM_SRC_BF16, SL_WTYPE_BF16}, {SL_GEMM_SRC_F16, SL_WTYPE_F16}};
    for (int c = 0; c < 2; c++) {
        void *wp = aligned_alloc(64, (sl_gemm_packed_bytes(cases[c].t, out, in) + 63) / 64 * 64);
        sl_gemm_pack(wp, cases[c].t, src, cases[c].s, (size_t)in, out, in);
        int same = 1;
        for (int o = 0; o < out; o++)
            for (int k = 0; k < in; k++)
                same &= ((const uint16_t *)wp)[(size_t)(o / 16) * in * 16 + (size_t)k * 16 + o % 16] == src[o * in + k];
        CHECKF(same, "%s", sl_wtype_name(cases[c].t));
        free(wp);
    }
}

/* The scalar conversions (safetensors.h) the packing and the KV cache use, against the compiler's _Float16 (IEEE, round to nearest even), over
 * every half and a sweep of floats across the half range, subnormals and overflow included. */
TEST(half_conversions_are_exact) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        _Float16 f16;
        uint16_t hh = (uint16_t)h;
        memcpy(&f16, &hh, 2);
        float want = (float)f16, got = sl_f16_to_f32(hh);
        bad += !(memcmp(&want, &got, 4) == 0 || (isnan(want) && isnan(got)));
    }
    CHECKF(bad == 0, "%d halves widen wrongly", bad);
    bad = 0;
    for (uint32_t b = 0x30000000u; b < 0x48000000u; b += 0x1f3u) {
        float f;
        memcpy(&f, &b, 4);
        for (int sgn = 0; sgn < 2; sgn++, f = -f) {
            _Float16 want = (_Float16)f;
            uint16_t w16, got = sl_f32_to_f16(f);
            memcpy(&w16, &want, 2);
            bad += w16 != got;
        }
    }
    CHECKF(bad == 0, "%d floats narrow to F16 wrongly", bad);
    CHECK(sl_f32_to_bf16(1.00390625f) == 0x3f80); /* a tie: to even */
    CHECK(sl_f32_to_bf16(1.01171875f) == 0x3f82); /* a tie: to even, upwards */
    CHECK(sl_bf16_to_f32(0x3f80) == 1.0f);
}

/* A set selected before anything asked for the active one is the set that runs (it was
 * overwritten by the first sl_kernels_active(): `symlorad --kernels avx2` ran AVX-512). Must
 * run first; then back to what SL_KERNELS (or auto) chose, for the other tests. */
TEST(selection_before_first_use_holds) {
    const char *names[4];
    int n = sl_kernels_runnable(names, 4);
    const char *pick = names[n - 1]; /* generic: every CPU runs it */
    CHECK(sl_kernels_select(pick, NULL, 0) == 0);
    CHECKF(!strcmp(sl_kernels_active()->name, pick), "selected %s, active %s", pick, sl_kernels_active()->name);
    const char *env = getenv("SL_KERNELS");
    CHECK(sl_kernels_select(env && *env ? env : "auto", NULL, 0) == 0);
}

int main(void) {
    RUN(selection_before_first_use_holds);
    const char *names[4];
    int n = sl_kernels_runnable(names, 4);
    printf("    kernel set %s (%s); this CPU runs:", sl_kernels_active()->name, sl_kernels_active()->tiles);
    for (int i = 0; i < n; i++) printf(" %s", names[i]);
    printf("\n");
    RUN(matches_reference);
    RUN(stored_weights_are_rounded_to_nearest);
    RUN(rows_and_splits_are_bit_identical);
    RUN(packed_row_is_the_weight_row);
    RUN(half_sources_pack_bit_exactly);
    RUN(half_conversions_are_exact);
    return check_summary();
}
