/* forward.h — one step of the batched forward pass.
 *
 * One call runs T tokens that belong to any number of sequences, some in prefill (many
 * tokens), some decoding (one token). Every base linear layer is one pass over its packed
 * weights for all T tokens (lib/gemm.h); adapters are applied per run of consecutive sequences
 * that share an adapter (lib/lowrank.h); attention runs per sequence against its own KV
 * blocks. Every kernel sums in a fixed order, so a sequence's logits are bit-identical alone
 * or in any batch. Scratch is sized once at init: a step allocates nothing. Not thread-safe:
 * one sl_forward per engine thread. */
#ifndef SL_FORWARD_H
#define SL_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "kvcache.h"
#include "model.h"

struct sl_adapter;

enum sl_logits_mode { SL_LOGITS_NONE = 0, SL_LOGITS_LAST = 1, SL_LOGITS_ALL = 2 };

typedef struct sl_batch_seq {
    sl_kv_seq *kv;                    /* tokens go to positions kv->n_pos ..; n_pos advances on success */
    const int32_t *tokens;            /* (n_tokens) */
    int n_tokens;
    const struct sl_adapter *adapter; /* NULL: the base model */
    int logits;                       /* enum sl_logits_mode */
} sl_batch_seq;

typedef struct sl_forward sl_forward;

/* max_tokens: most tokens in one step; max_seqs: most sequences in one step;
 * max_logit_rows: most logits rows one step may ask for; max_ctx: longest sequence. */
int sl_forward_init(sl_forward **out, const sl_model *m, int max_tokens, int max_seqs, int max_logit_rows,
                    int max_ctx, char *err, size_t errlen);
void sl_forward_free(sl_forward *f);

/* Runs each step on N threads (the caller and N - 1 workers; N <= 0: one per online CPU),
 * splitting base linears by output panels, adapters by chunks of runs of sequences and
 * attention by rows. Results do not depend on N (bit for bit). Default: 1. The step calls no
 * BLAS, so OpenBLAS's own threads stay idle. */
int sl_forward_set_threads(sl_forward *f, int n, char *err, size_t errlen);
int sl_forward_threads(const sl_forward *f);

/* Runs one step. LOGITS receives, in sequence order, n_tokens rows (SL_LOGITS_ALL) or one row
 * (SL_LOGITS_LAST) per sequence, each of vocab floats; it must hold that many rows.
 * The caller must have reserved KV blocks for n_pos + n_tokens positions of every sequence. */
int sl_forward_run(sl_forward *f, sl_kv_pool *kv, const sl_batch_seq *seqs, int n_seqs, float *logits,
                   char *err, size_t errlen);

#endif
