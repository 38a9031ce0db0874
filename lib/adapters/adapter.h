/* adapter.h — SymLoRA and LoRA adapters, validated against the base model.
 *
 * SymLoRA: dW = s * Q diag(lambda) Q^T, Q: (max(out,in), r), lambda: (r), s = alpha / r.
 * For out != in the update is the leading out x in block; Q[:k] = first k rows of Q.
 * LoRA (PEFT): dW = s * B A, A: (r, in), B: (out, r), s = alpha / r (alpha / sqrt(r) with
 * use_rslora). Tensors are stored once at load in the layout of the forward kernel
 * (lowrank.h): r rows, each contiguous over the module's in or out features, i.e. Q and B
 * transposed; no byte more than the tensors themselves (plus at most 2 bytes of alignment).
 *
 * Precision: an adapter stays in the element type it was uploaded in. Its matrices (Q; A and
 * B) are stored as one type for the whole adapter, the widest of its matrices' dtypes: all
 * BF16 -> BF16, all F16 -> F16, anything else (any F32, or BF16 mixed with F16, neither of
 * which holds the other exactly) -> F32. Either way every stored value is exactly the
 * uploaded one (transposing is exact, widening BF16 / F16 to F32 is exact); NaN and Inf are
 * rejected. The kernel widens the elements to F32 in registers (lowrank.h), so a BF16 adapter
 * costs half the bytes of its F32 form, in RAM and in memory traffic per step, and computes
 * exactly what that F32 adapter computes on the BF16-rounded values. The per-column scale is
 * F32 in every case: SymLoRA s * lambda (lambda's own dtype does not count in the rule above),
 * LoRA s in each of the r columns (s is not folded into B, which would not stay exact in
 * BF16).
 *
 * An adapter is immutable once loaded and reference-counted (atomic): a request holds a
 * reference for its whole life, so replacing or deleting it never disturbs requests in flight. */
#ifndef SL_ADAPTER_H
#define SL_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "gemm.h" /* sl_wtype */
#include "model.h"

typedef enum sl_adapter_kind { SL_ADAPTER_SYMLORA, SL_ADAPTER_LORA } sl_adapter_kind;

/* What the forward pass reads for one (layer, module). r == 0: module not adapted. The
 * matrices hold elements of type WT (F32, BF16 or F16: the adapter's, see above); their
 * shapes and indices count elements. */
typedef struct sl_adapter_module {
    int r;
    sl_wtype wt;  /* element type of qt, qt2, a, bt */
    void *qt;     /* SymLoRA: Q[:in]^T, (r, in) row-major: qt[j * in + k] = Q[k][j] (k < in), so
                     the down pass reads it as one stream; its first min(out, in) columns are
                     also the up pass's Q[:out]^T when out <= in */
    void *qt2;    /* SymLoRA with out > in: Q[in:out]^T, (r, out - in); else NULL */
    float *scale; /* (r) the column scale of H = X U: SymLoRA s * lambda, LoRA s (every column) */
    void *a;      /* LoRA: (r, in) row-major, as PEFT's lora_A */
    void *bt;     /* LoRA: B^T, (r, out) row-major: bt[j * out + o] = B[o][j] (not scaled) */
} sl_adapter_module;

typedef struct sl_adapter sl_adapter;

typedef struct sl_adapter_opts {
    int max_rank;  /* ranks above are rejected; 0 = default 256 */
    int upload;    /* 1: a client's config: SL_ADAPTER_RESOLVED in it is refused (only the server writes it) */
} sl_adapter_opts;

/* The config field where an upload stores its resolved module selection:
 * {"version": 1, "modules": {"model.layers.<i>.<parent>.<leaf>": [rank, alpha], ...}}, one
 * entry per adapted module. A config carrying it is loaded from it alone: target_modules,
 * exclude_modules, layers_to_transform, rank_pattern and alpha_pattern are then only
 * type-checked, and no regex runs. */
#define SL_ADAPTER_RESOLVED "symlora_resolved"

/* Evaluates the config's module selection and its rank_pattern / alpha_pattern once against
 * the model's module names (every regex bounded: PCRE2 match/depth/heap limits, JIT where
 * available, 250 ms of CPU for the whole config; a limit reached is SL_ETOOBIG naming the
 * pattern, never "no match"). *RESOLVED (malloc'ed, caller frees; may be NULL) is CONFIG with
 * SL_ADAPTER_RESOLVED added; RANKS and ALPHAS ((n_layers, SL_MOD_COUNT), may be NULL) receive
 * each module's rank (0: not adapted) and alpha. The weights are not looked at. */
int sl_adapter_resolve(const sl_model *m, const char *config, size_t config_len, const sl_adapter_opts *opts,
                       char **resolved, size_t *resolved_len, int *ranks, double *alphas, char *err, size_t errlen);

/* Validates and loads an adapter from adapter_config.json text (CONFIG, CONFIG_LEN) and
 * adapter_model.safetensors bytes (WEIGHTS, WEIGHTS_LEN; not retained). Every rejection
 * names the tensor or field and the rule it broke. On success *out has one reference. */
int sl_adapter_load(sl_adapter **out, const sl_model *m, const char *config, size_t config_len,
                    const void *weights, size_t weights_len, const sl_adapter_opts *opts,
                    char *err, size_t errlen);
/* The same from a directory holding adapter_config.json and adapter_model.safetensors. */
int sl_adapter_load_dir(sl_adapter **out, const sl_model *m, const char *dir, const sl_adapter_opts *opts,
                        char *err, size_t errlen);

sl_adapter *sl_adapter_ref(sl_adapter *a);   /* returns a; thread-safe */
void sl_adapter_unref(sl_adapter *a);        /* frees on the last reference; NULL is fine */
/* Current reference count (a snapshot: the registry evicts only adapters whose sole
 * reference is its own, i.e. with no request in flight). */
int sl_adapter_refs(const sl_adapter *a);

/* A number no other adapter object of this process has had (from 1): every load, and so
 * every version, gets a new one. The prefix cache keys KV by it, so a new version never
 * reuses the KV computed with an old one. */
uint64_t sl_adapter_uid(const sl_adapter *a);

sl_adapter_kind sl_adapter_get_kind(const sl_adapter *a);
int sl_adapter_rank(const sl_adapter *a);    /* the config's r (rank_pattern may vary per module) */
float sl_adapter_alpha(const sl_adapter *a);
size_t sl_adapter_bytes(const sl_adapter *a); /* resident bytes of tensor data actually allocated */
sl_wtype sl_adapter_wtype(const sl_adapter *a); /* the element type of its matrices (see above) */
/* Element I of a module's matrix M (qt, qt2, a or bt) of type WT (the module's wt), widened to
 * F32 exactly (for tests and tools; the kernel reads the matrices itself). */
float sl_adapter_elem(sl_wtype wt, const void *m, size_t i);
/* Bitmask of adapted modules (1 << SL_MOD_*). */
unsigned sl_adapter_module_mask(const sl_adapter *a);
/* The forward pass's view of (layer, module); never NULL (r == 0 when not adapted). */
const sl_adapter_module *sl_adapter_get_module(const sl_adapter *a, int layer, sl_module mod);

#endif
