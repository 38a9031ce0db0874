/* model.h — a frozen Hugging Face Llama / Qwen2 checkpoint and its batched forward pass.
 *
 * Weights: the linear layers (and the lm_head or tied embedding) are packed once at load
 * (lib/kernels/gemm.h) in the weight type of sl_model_opts.dtype: by default the checkpoint's
 * own (a BF16 checkpoint stays BF16 in memory, never widened), or F32, BF16, F16 or Q8_0 on
 * request. The process then drops its mapped pages of the originals, so a weight is resident
 * once. An untied input embedding is read in place from the read-only mmap, one row per token
 * (only the rows used are faulted in). Norms and biases are small and kept in F32. The
 * activations are F32 throughout: weights are widened in registers. */
#ifndef SL_MODEL_H
#define SL_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* The seven linear modules of a decoder layer, in PEFT's leaf names. */
typedef enum sl_module {
    SL_MOD_Q, SL_MOD_K, SL_MOD_V, SL_MOD_O, SL_MOD_GATE, SL_MOD_UP, SL_MOD_DOWN,
    SL_MOD_COUNT
} sl_module;
const char *sl_module_name(sl_module m);   /* "q_proj", ... */
int sl_module_parse(const char *leaf);      /* SL_MOD_* or -1 */
/* Prefix inside a decoder layer: "self_attn" (q,k,v,o) or "mlp" (gate, up, down). */
const char *sl_module_parent(sl_module m);

typedef enum sl_arch { SL_ARCH_LLAMA, SL_ARCH_QWEN2 } sl_arch;
typedef enum sl_rope_type { SL_ROPE_DEFAULT, SL_ROPE_LINEAR, SL_ROPE_LLAMA3 } sl_rope_type;

typedef struct sl_model_config {
    sl_arch arch;
    char model_type[32];       /* "llama", "qwen2" */
    int hidden;                /* hidden_size */
    int n_layers;
    int n_heads;
    int n_kv_heads;
    int head_dim;
    int intermediate;
    int vocab;
    int max_pos;               /* max_position_embeddings */
    float rms_eps;
    double rope_theta;
    sl_rope_type rope_type;
    double rope_factor;        /* linear / llama3 */
    double rope_low_freq_factor, rope_high_freq_factor;
    int rope_orig_max_pos;     /* llama3: original_max_position_embeddings */
    int tie_embeddings;
    int qkv_bias;
    int32_t bos_id;            /* -1 if none */
    int32_t eos_ids[8];        /* config.json eos_token_id (int or list) + generation_config */
    int n_eos;
} sl_model_config;

/* Parses DIR/config.json (JSON text in JSON, LEN bytes; LABEL names it in errors). */
int sl_model_config_parse(sl_model_config *cfg, const char *json, size_t len, const char *label,
                          char *err, size_t errlen);

typedef struct sl_model sl_model;

typedef void (*sl_log_fn)(void *ctx, int level, const char *msg); /* level: 0 info, 1 warn */

typedef struct sl_model_opts {
    sl_log_fn log;   /* progress of a load (tensors, bytes, time); may be NULL */
    void *log_ctx;
    /* Weight type of the packed linears: "auto" or NULL (the checkpoint's: F32, BF16 or F16,
     * taken from its q_proj), "f32", "bf16", "f16" or "q8_0" (gemm.h). */
    const char *dtype;
} sl_model_opts;

/* Loads config.json (+ generation_config.json) and the weights of DIR. */
int sl_model_load(sl_model **out, const char *dir, const sl_model_opts *opts, char *err, size_t errlen);
void sl_model_free(sl_model *m);
const sl_model_config *sl_model_get_config(const sl_model *m);
/* Output and input features of a module (same for every layer): e.g. q_proj (H*hd, hidden). */
void sl_model_module_shape(const sl_model *m, sl_module mod, int *out_features, int *in_features);
size_t sl_model_weight_bytes(const sl_model *m); /* bytes of weights resident (packed, converted or mapped in place) */
const char *sl_model_wtype_name(const sl_model *m); /* the packed linears' type: "f32", "bf16", "f16", "q8_0" */
const char *sl_model_dir(const sl_model *m);

#endif
