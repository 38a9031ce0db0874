/* golden.h — reading the reference outputs in tests/fixtures/expected/ (made with transformers
 * and peft) and running the engine the same way, for the golden tests of several modules. */
#ifndef SL_TEST_GOLDEN_H
#define SL_TEST_GOLDEN_H

#include "adapter.h"
#include "forward.h"
#include "kvcache.h"
#include "model.h"
#include "safetensors.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN_MAX_PROMPTS 8
#define GOLDEN_NEW_TOKENS 12

typedef struct golden {
    json_t *root;          /* expected.json */
    sl_safetensors *logits; /* logits.safetensors: "<model>/<case>/<i>" (prompt_len, vocab) F32 */
} golden;

static inline int golden_open(golden *g) {
    g->root = json_load_file("tests/fixtures/expected/expected.json", 0, NULL);
    if (!g->root) return -1;
    return sl_safetensors_open(&g->logits, "tests/fixtures/expected/logits.safetensors", NULL, 0);
}

static inline void golden_close(golden *g) {
    json_decref(g->root);
    sl_safetensors_free(g->logits);
}

/* Prompt I of MODEL ("llama-tiny", "qwen2-tiny") as token ids; returns its length or -1. */
static inline int golden_prompt(const golden *g, const char *model, int i, int32_t *ids, int cap) {
    json_t *p = json_array_get(json_object_get(json_object_get(json_object_get(g->root, "models"), model), "prompts"), (size_t)i);
    if (!json_is_array(p) || (int)json_array_size(p) > cap) return -1;
    for (size_t k = 0; k < json_array_size(p); k++) ids[k] = (int32_t)json_integer_value(json_array_get(p, k));
    return (int)json_array_size(p);
}

static inline int golden_n_prompts(const golden *g, const char *model) {
    return (int)json_array_size(json_object_get(json_object_get(json_object_get(g->root, "models"), model), "prompts"));
}

/* The expected greedy continuation of prompt I (with its BOS, as golden_prompt gives it) under
 * CASE ("base", "lora-all-r8", ...). */
static inline int golden_greedy(const golden *g, const char *model, const char *cas, int i, int32_t *ids) {
    json_t *c = json_object_get(json_object_get(json_object_get(json_object_get(g->root, "models"), model), "cases"), cas);
    json_t *p = json_array_get(json_object_get(c, "greedy"), (size_t)i);
    if (!json_is_array(p) || json_array_size(p) != GOLDEN_NEW_TOKENS) return -1;
    for (size_t k = 0; k < GOLDEN_NEW_TOKENS; k++) ids[k] = (int32_t)json_integer_value(json_array_get(p, k));
    return 0;
}

/* Expected logits (prompt_len, vocab) of prompt I; NULL if absent. */
static inline const float *golden_logits(const golden *g, const char *model, const char *cas, int i, int64_t *rows, int64_t *cols) {
    char key[256];
    snprintf(key, sizeof key, "%s/%s/%d", model, cas, i);
    const sl_tensor *t = sl_safetensors_find(g->logits, key);
    if (!t || t->dtype != SL_DTYPE_F32 || t->ndim != 2) return NULL;
    *rows = t->shape[0];
    *cols = t->shape[1];
    return t->data; /* F32 spans in the fixture are 4-byte aligned */
}

static inline double max_abs_diff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double x = fabs((double)a[i] - (double)b[i]);
        if (!(x <= d)) d = x; /* NaN propagates as a failure */
    }
    return d;
}

static inline int32_t argmax(const float *v, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

/* Runs PROMPT alone (fresh KV of element type KVT), all logits into LOGITS (n, vocab); then N_NEW
 * greedy tokens into OUT. */
static inline int golden_run_alone_kv(const sl_model *m, const sl_adapter *ad, const int32_t *prompt, int n, float *logits,
                                      int n_new, int32_t *out, sl_wtype kvt) {
    const sl_model_config *c = sl_model_get_config(m);
    sl_kv_pool *kv = NULL;
    sl_forward *f = NULL;
    int rc = sl_kv_pool_init(&kv, m, 64, 16, kvt, NULL, 0);
    if (!rc) rc = sl_forward_init(&f, m, 256, 8, 256, 512, NULL, 0);
    sl_kv_seq ks = {0};
    if (!rc) rc = sl_kv_seq_reserve(kv, &ks, n + n_new);
    sl_batch_seq bs = {.kv = &ks, .tokens = prompt, .n_tokens = n, .adapter = ad, .logits = SL_LOGITS_ALL};
    if (!rc) rc = sl_forward_run(f, kv, &bs, 1, logits, NULL, 0);
    float *row = malloc((size_t)c->vocab * sizeof(float));
    int32_t tok = rc ? 0 : argmax(logits + (size_t)(n - 1) * c->vocab, c->vocab);
    for (int i = 0; !rc && i < n_new; i++) {
        out[i] = tok;
        bs.tokens = &out[i];
        bs.n_tokens = 1;
        bs.logits = SL_LOGITS_LAST;
        if (i + 1 < n_new) {
            rc = sl_forward_run(f, kv, &bs, 1, row, NULL, 0);
            tok = argmax(row, c->vocab);
        }
    }
    free(row);
    sl_kv_seq_release(kv, &ks);
    sl_forward_free(f);
    sl_kv_pool_free(kv);
    return rc;
}

static inline int golden_run_alone(const sl_model *m, const sl_adapter *ad, const int32_t *prompt, int n, float *logits,
                                   int n_new, int32_t *out) {
    return golden_run_alone_kv(m, ad, prompt, n, logits, n_new, out, SL_WTYPE_F32);
}

#endif
