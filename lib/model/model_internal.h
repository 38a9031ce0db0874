/* model_internal.h — the model's weights as the forward pass reads them. Not a public API. */
#ifndef SL_MODEL_INTERNAL_H
#define SL_MODEL_INTERNAL_H

#include "model.h"
#include "gemm.h"
#include "safetensors.h"

typedef struct sl_layer_weights {
    const float *attn_norm;        /* (hidden) */
    const void *w[SL_MOD_COUNT];   /* each (out, in) packed as the model's wtype (gemm.h); see sl_model_module_shape */
    const float *bias[SL_MOD_COUNT]; /* (out) or NULL: q/k/v for Qwen2, q/k/v/o for Llama attention_bias */
    const float *ffn_norm;         /* (hidden) */
} sl_layer_weights;

struct sl_model {
    sl_model_config cfg;
    char *dir;
    sl_st_set *st;            /* the mapped checkpoint; F32 norms and embeddings point into it */
    const void *embed;        /* (vocab, hidden) row-major in the mapped checkpoint, of embed_dtype;
                                 NULL when tied (see sl__model_embed_row) */
    sl_gemm_src embed_dtype;
    const float *final_norm;  /* (hidden) */
    const void *lm_head;      /* (vocab, hidden) packed as wtype (gemm.h) */
    sl_wtype wtype;           /* of every packed linear */
    sl_layer_weights *layers; /* (n_layers) */
    void **owned;             /* packed linears and converted copies (F16/BF16/unaligned), freed with the model */
    size_t n_owned, cap_owned;
    size_t resident_bytes;
    float *inv_freq;          /* (head_dim / 2) RoPE frequencies after scaling */
};

/* Embedding row TOKEN (< vocab) -> DST (hidden floats). */
void sl__model_embed_row(const sl_model *m, int token, float *dst);

#endif
