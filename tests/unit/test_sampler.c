/* test_sampler.c — greedy, seeds, top-k, top-p; the kernels the sampler runs (argmax,
 * exp_scaled: tests/run.sh runs this under every kernel set). */
#include "check.h"

#include "kernels.h"
#include "sampler.h"

#include <stdlib.h>

#include <math.h>

enum { V = 50 };

static void make_logits(float *l) {
    for (int i = 0; i < V; i++) l[i] = (float)((i * 37) % V) / 10.0f;
}

TEST(greedy_is_argmax_lowest_id_on_ties) {
    float l[V] = {0}, scratch[2 * V];
    l[7] = 3;
    l[9] = 3;
    sl_sampler s;
    sl_sampler_init(&s, &(sl_sample_params){.temperature = 0});
    float lp;
    CHECK(sl_sampler_sample(&s, l, V, scratch, &lp) == 7);
    CHECK(fabsf(lp - (float)log(exp(3.0) / (2 * exp(3.0) + 48))) < 1e-5f);
}

TEST(same_seed_same_tokens_other_seed_differs) {
    float l[V], scratch[2 * V];
    make_logits(l);
    int32_t a[64], b[64], c[64];
    sl_sampler s1, s2, s3;
    sl_sampler_init(&s1, &(sl_sample_params){.temperature = 1.5f, .seed = 42});
    sl_sampler_init(&s2, &(sl_sample_params){.temperature = 1.5f, .seed = 42});
    sl_sampler_init(&s3, &(sl_sample_params){.temperature = 1.5f, .seed = 43});
    for (int i = 0; i < 64; i++) {
        a[i] = sl_sampler_sample(&s1, l, V, scratch, NULL);
        b[i] = sl_sampler_sample(&s2, l, V, scratch, NULL);
        c[i] = sl_sampler_sample(&s3, l, V, scratch, NULL);
    }
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
}

TEST(top_k_and_top_p_restrict_the_candidates) {
    float l[V], scratch[2 * V];
    make_logits(l);
    int32_t top[3];
    float lps[3];
    CHECK(sl_top_logprobs(l, V, 3, top, lps) == 3);
    CHECK(lps[0] >= lps[1] && lps[1] >= lps[2]);
    for (int i = 0; i < 3; i++) CHECK(lps[i] == sl_logprob(l, V, top[i])); /* the same normaliser */
    sl_sampler s;
    sl_sampler_init(&s, &(sl_sample_params){.temperature = 5, .top_k = 3, .seed = 1});
    int seen[V] = {0};
    for (int i = 0; i < 2000; i++) seen[sl_sampler_sample(&s, l, V, scratch, NULL)]++;
    int distinct = 0;
    for (int i = 0; i < V; i++) distinct += seen[i] > 0;
    CHECK(distinct == 3 && seen[top[0]] && seen[top[1]] && seen[top[2]]);
    /* top_p tiny: only the most likely token survives. */
    sl_sampler_init(&s, &(sl_sample_params){.temperature = 1, .top_p = 1e-6f, .seed = 1});
    for (int i = 0; i < 100; i++) CHECK(sl_sampler_sample(&s, l, V, scratch, NULL) == top[0]);
    /* Frequencies follow the softmax at temperature 1 (loose bound, fixed seed). */
    sl_sampler_init(&s, &(sl_sample_params){.temperature = 1, .seed = 7});
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 20000; i++) seen[sl_sampler_sample(&s, l, V, scratch, NULL)]++;
    double p0 = exp(sl_logprob(l, V, top[0]));
    CHECKF(fabs(seen[top[0]] / 20000.0 - p0) < 0.02, "freq %.3f vs p %.3f", seen[top[0]] / 20000.0, p0);
}

/* Every length around the vector widths (tails), the max at every place, ties, NaN and -inf
 * elements: the kernel's index is the scalar loop's first index of the largest non-NaN. */
TEST(argmax_kernel_matches_the_scalar_rule) {
    const sl_kernels *k = sl_kernels_active();
    float v[80];
    for (int n = 1; n <= 80; n++)
        for (int at = 0; at < n; at++) {
            for (int i = 0; i < n; i++) v[i] = (float)((i * 7) % 11) - 20.0f;
            v[at] = 5.0f;
            if (at + 3 < n) v[at + 3] = 5.0f;  /* a tie after it: the first wins */
            if (at > 0) v[at - 1] = NAN;       /* NaN never wins */
            if (at + 1 < n) v[at + 1] = -INFINITY;
            CHECKF(k->argmax(v, (size_t)n) == (size_t)at, "n %d at %d: %zu", n, at, k->argmax(v, (size_t)n));
        }
    float z[3] = {-0.0f, 0.0f, -1.0f};
    CHECK(k->argmax(z, 3) == 0); /* -0 and +0 are equal: the first */
    float all_nan[5] = {NAN, NAN, NAN, NAN, NAN};
    CHECK(k->argmax(all_nan, 5) == 0);
    CHECK(k->argmax(v, 0) == 0);
}

/* dst = e^((src - mx) * s) and their sum, against double-precision exp (vexp: within 2 ulp of
 * expf; -inf gives 0), at every length around the vector widths. */
TEST(exp_scaled_kernel_matches_exp) {
    const sl_kernels *k = sl_kernels_active();
    float src[70], dst[71];
    for (int n = 0; n <= 70; n++) {
        for (int i = 0; i < n; i++) src[i] = (float)((i * 13) % 17) * 0.37f - 3.0f;
        if (n > 4) src[4] = -INFINITY;
        dst[n] = 123.0f; /* past the end: untouched */
        float sum = k->exp_scaled(dst, src, (size_t)n, 2.9f, 0.8f);
        double ref = 0;
        for (int i = 0; i < n; i++) {
            double e = exp(((double)src[i] - 2.9) * 0.8);
            ref += e;
            CHECKF(fabs(dst[i] - e) <= 1e-6 * e + 1e-30, "n %d i %d: %g vs %g", n, i, dst[i], e);
        }
        CHECKF(fabs(sum - ref) <= 1e-5 * ref + 1e-30, "n %d: sum %g vs %g", n, sum, ref);
        CHECK(dst[n] == 123.0f);
    }
}

int main(void) {
    RUN(argmax_kernel_matches_the_scalar_rule);
    RUN(exp_scaled_kernel_matches_exp);
    RUN(greedy_is_argmax_lowest_id_on_ties);
    RUN(same_seed_same_tokens_other_seed_differs);
    RUN(top_k_and_top_p_restrict_the_candidates);
    return check_summary();
}
