/* sampler.h — next-token choice from a logits row: greedy, temperature, top-k, top-p, seed.
 *
 * Each request owns an sl_sampler; its RNG is seeded per request, so the same seed and the
 * same logits give the same tokens whatever else runs in the batch. */
#ifndef SL_SAMPLER_H
#define SL_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_sample_params {
    float temperature; /* <= 0: greedy (argmax, lowest id on ties) */
    int top_k;         /* <= 0: off */
    float top_p;       /* >= 1 or <= 0: off */
    uint64_t seed;
} sl_sample_params;

typedef struct sl_sampler {
    sl_sample_params p;
    uint64_t rng[2]; /* xoroshiro128+ state */
} sl_sampler;

void sl_sampler_init(sl_sampler *s, const sl_sample_params *p);

/* Picks a token from LOGITS (vocab floats, not modified). SCRATCH must hold 2*vocab floats
 * (owned by the caller; reused across calls so sampling allocates nothing).
 * *logprob (if not NULL) gets log softmax of the chosen token under temperature 1. */
int32_t sl_sampler_sample(sl_sampler *s, const float *logits, int vocab, float *scratch, float *logprob);

/* log softmax of LOGITS[id] (temperature 1): what OpenAI's logprobs report. */
float sl_logprob(const float *logits, int vocab, int32_t id);

/* The K most likely ids (descending) and their logprobs; K <= 20. Returns the count. */
int sl_top_logprobs(const float *logits, int vocab, int k, int32_t *ids, float *lps);

#endif
