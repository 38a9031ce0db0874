/* test_gemm.c — the packed linear kernel (lib/gemm.c): values against a double-precision
 * reference, and the order contract: a row's result does not depend on the other rows of the
 * call nor on how the columns are split (bit for bit). */
#include "check.h"

#include "gemm.h"

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

/* Every shape: out and in on and off the panel width, n across the row tile and block sizes. */
TEST(matches_reference) {
    static const int outs[] = {1, 15, 16, 17, 64, 100, 192};
    static const int ins[] = {1, 7, 16, 33, 576};
    static const int ns[] = {1, 2, 5, 6, 7, 13, 64, 65, 130};
    for (size_t a = 0; a < sizeof outs / sizeof *outs; a++)
        for (size_t b = 0; b < sizeof ins / sizeof *ins; b++)
            for (size_t c = 0; c < sizeof ns / sizeof *ns; c++) {
                int out = outs[a], in = ins[b], n = ns[c];
                size_t ldw = (size_t)in + 3, ldx = (size_t)in + 1, ldy = (size_t)out + 5;
                float *w = randv((size_t)out * ldw), *x = randv((size_t)n * ldx);
                float *wp = malloc(sl_gemm_packed_floats(out, in) * sizeof *wp);
                float *y = malloc((size_t)n * ldy * sizeof *y);
                for (size_t i = 0; i < (size_t)n * ldy; i++) y[i] = 12345.0f; /* sentinels */
                sl_gemm_pack(wp, w, ldw, out, in);
                sl_gemm_packed(y, ldy, x, ldx, n, wp, in, 0, out);
                double worst = 0;
                int sentinel_ok = 1;
                for (int t = 0; t < n; t++) {
                    for (int o = 0; o < out; o++) {
                        double ref = 0, mag = 0;
                        for (int k = 0; k < in; k++) {
                            ref += (double)x[(size_t)t * ldx + k] * w[(size_t)o * ldw + k];
                            mag += fabs((double)x[(size_t)t * ldx + k] * w[(size_t)o * ldw + k]);
                        }
                        double e = fabs(y[(size_t)t * ldy + o] - ref) / (mag + 1e-30);
                        if (e > worst) worst = e;
                    }
                    for (size_t o = (size_t)out; o < ldy; o++) sentinel_ok &= y[(size_t)t * ldy + o] == 12345.0f;
                }
                CHECKF(worst < 1e-6, "out %d in %d n %d: relative error %g", out, in, n, worst);
                CHECKF(sentinel_ok, "out %d in %d n %d: wrote past column %d", out, in, n, out);
                free(w); free(x); free(wp); free(y);
            }
}

/* Row t of an n-row call == the same row alone == the same row with the columns split. */
TEST(rows_and_splits_are_bit_identical) {
    int out = 200, in = 577, n = 71;
    float *w = randv((size_t)out * in), *x = randv((size_t)n * in);
    float *wp = malloc(sl_gemm_packed_floats(out, in) * sizeof *wp);
    float *all = malloc((size_t)n * out * sizeof *all), *one = malloc((size_t)out * sizeof *one);
    float *split = malloc((size_t)n * out * sizeof *split);
    sl_gemm_pack(wp, w, (size_t)in, out, in);
    sl_gemm_packed(all, (size_t)out, x, (size_t)in, n, wp, in, 0, out);
    int same = 1;
    for (int t = 0; t < n; t++) {
        sl_gemm_packed(one, (size_t)out, x + (size_t)t * in, (size_t)in, 1, wp, in, 0, out);
        same &= memcmp(one, all + (size_t)t * out, (size_t)out * sizeof *one) == 0;
    }
    CHECKF(same, "a row computed alone differs from the same row in a batch of %d", n);
    /* Rows in odd groups, columns split in three at panel boundaries. */
    for (int t0 = 0; t0 < n; t0 += 5) {
        int m = n - t0 < 5 ? n - t0 : 5;
        sl_gemm_packed(split + (size_t)t0 * out, (size_t)out, x + (size_t)t0 * in, (size_t)in, m, wp, in, 0, 48);
        sl_gemm_packed(split + (size_t)t0 * out, (size_t)out, x + (size_t)t0 * in, (size_t)in, m, wp, in, 48, 160);
        sl_gemm_packed(split + (size_t)t0 * out, (size_t)out, x + (size_t)t0 * in, (size_t)in, m, wp, in, 160, out);
    }
    CHECK(memcmp(split, all, (size_t)n * out * sizeof *all) == 0);
    free(w); free(x); free(wp); free(all); free(one); free(split);
}

TEST(packed_row_is_the_weight_row) {
    int out = 37, in = 19;
    float *w = randv((size_t)out * in), *wp = malloc(sl_gemm_packed_floats(out, in) * sizeof *wp), row[19];
    sl_gemm_pack(wp, w, (size_t)in, out, in);
    int same = 1;
    for (int v = 0; v < out; v++) {
        sl_gemm_packed_row(row, wp, in, v);
        same &= memcmp(row, w + (size_t)v * in, sizeof row) == 0;
    }
    CHECK(same);
    CHECK(sl_gemm_packed_floats(37, 19) == 48 * 19);
    free(w); free(wp);
}

int main(void) {
    RUN(matches_reference);
    RUN(rows_and_splits_are_bit_identical);
    RUN(packed_row_is_the_weight_row);
    return check_summary();
}
