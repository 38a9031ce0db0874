/* test_sampler.c — greedy, seeds, top-k, top-p. */
#include "check.h"

#include "sampler.h"

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

int main(void) {
    RUN(greedy_is_argmax_lowest_id_on_ties);
    RUN(same_seed_same_tokens_other_seed_differs);
    RUN(top_k_and_top_p_restrict_the_candidates);
    return check_summary();
}
