/* sampler.c — greedy, temperature, top-k, top-p with a per-request RNG. */
#include "sampler.h"

#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoroshiro128+: uniform double in [0, 1). */
static double rng_uniform(uint64_t s[2]) {
    uint64_t s0 = s[0], s1 = s[1], r = s0 + s1;
    s1 ^= s0;
    s[0] = rotl(s0, 24) ^ s1 ^ (s1 << 16);
    s[1] = rotl(s1, 37);
    return (double)(r >> 11) * 0x1.0p-53;
}

void sl_sampler_init(sl_sampler *s, const sl_sample_params *p) {
    s->p = *p;
    uint64_t x = p->seed;
    s->rng[0] = splitmix64(&x);
    s->rng[1] = splitmix64(&x);
}

/* The first index of the largest logit (kernels.h: a vector max, then its first occurrence). */
static int32_t argmax(const float *v, int n) { return (int32_t)sl_kernels_active()->argmax(v, (size_t)n); }

/* log sum_i e^(l_i - mx), in double, and *MX = the max logit: the log softmax's normaliser. */
static double log_norm(const float *logits, int vocab, float *mx_out) {
    float mx = logits[argmax(logits, vocab)];
    double sum = 0;
    for (int i = 0; i < vocab; i++) sum += exp((double)(logits[i] - mx));
    *mx_out = mx;
    return log(sum);
}

float sl_logprob(const float *logits, int vocab, int32_t id) {
    float mx;
    double ln = log_norm(logits, vocab, &mx);
    return (float)((double)(logits[id] - mx) - ln);
}

/* Draws one of N candidates (ids IDS, or 0 .. n-1 where IDS is NULL) with weights W[id]:
 * the first whose running sum of weights exceeds U (in [0, their total)); a U past the
 * rounded total takes the last candidate of nonzero weight. */
static int32_t draw(const float *w, const int32_t *ids, int n, double u) {
    double acc = 0;
    int32_t last = ids ? ids[0] : 0;
    for (int i = 0; i < n; i++) {
        int32_t id = ids ? ids[i] : i;
        if (w[id] <= 0) continue;
        last = id;
        acc += w[id];
        if (u < acc) return id;
    }
    return last;
}

/* Order of candidates: by probability descending, then by id (deterministic). */
static int cmp_desc(const void *a, const void *b, void *ctx) {
    const float *p = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (p[x] != p[y]) return p[x] > p[y] ? -1 : 1;
    return (x > y) - (x < y);
}

int32_t sl_sampler_sample(sl_sampler *s, const float *logits, int vocab, float *scratch, float *logprob) {
    int32_t pick;
    if (s->p.temperature <= 0 || s->p.top_k == 1) {
        pick = argmax(logits, vocab);
    } else {
        /* scratch: weights (vocab) then candidate ids (vocab, stored as int32 in float slots).
         * w[i] = e^((l[i] - max) / T), left unnormalised: the draw and top-p's threshold are
         * scaled by their sum instead (a pass over the vocabulary less, no division). */
        float *w = scratch;
        int32_t *ids = (int32_t *)(scratch + vocab);
        float mx = logits[argmax(logits, vocab)];
        double sum = sl_kernels_active()->exp_scaled(w, logits, (size_t)vocab, mx, 1.0f / s->p.temperature);
        int use_k = s->p.top_k > 0 && s->p.top_k < vocab, use_p = s->p.top_p > 0 && s->p.top_p < 1;
        if (!use_k && !use_p) {
            pick = draw(w, NULL, vocab, rng_uniform(s->rng) * sum); /* the whole vocabulary, in id order */
        } else {
            for (int i = 0; i < vocab; i++) ids[i] = i;
            qsort_r(ids, (size_t)vocab, sizeof *ids, cmp_desc, w);
            int n = use_k ? s->p.top_k : vocab;
            if (use_p) {
                double cum = 0, need = s->p.top_p * sum;
                int keep = 0;
                while (keep < n) {
                    cum += w[ids[keep++]];
                    if (cum >= need) break;
                }
                n = keep;
            }
            double mass = 0;
            for (int i = 0; i < n; i++) mass += w[ids[i]];
            pick = draw(w, ids, n, rng_uniform(s->rng) * mass);
        }
    }
    if (logprob) *logprob = sl_logprob(logits, vocab, pick);
    return pick;
}

int sl_top_logprobs(const float *logits, int vocab, int k, int32_t *ids, float *lps) {
    if (k > 20) k = 20;
    if (k > vocab) k = vocab;
    int n = 0;
    for (int i = 0; i < vocab; i++) {
        /* insertion into the k best so far: k <= 20, so this is cheap */
        if (n == k && logits[i] <= logits[ids[n - 1]]) continue;
        int j = n < k ? n++ : n - 1;
        while (j > 0 && logits[ids[j - 1]] < logits[i]) { ids[j] = ids[j - 1]; j--; }
        ids[j] = i;
    }
    /* One normaliser for all k (it was computed once per id: k + 1 passes of exp over the
     * vocabulary per token with logprobs = k); the same values as sl_logprob. */
    float mx;
    double ln = n > 0 ? log_norm(logits, vocab, &mx) : 0;
    for (int i = 0; i < n; i++) lps[i] = (float)((double)(logits[ids[i]] - mx) - ln);
    return n;
}
