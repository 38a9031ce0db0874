/* fuzz_model_config.c — sl_model_config_parse (config.json) on arbitrary bytes.
 *
 * A successful parse must give a config the loader and the forward pass can trust: the bounds
 * model.c enforces, an even head_dim, heads divisible by KV heads, finite positive epsilon and
 * RoPE theta, BOS/EOS ids inside the vocabulary. */
#include "fuzz_common.h"

#include <math.h>

#include "error.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_model_config cfg;
    char err[256];
    err[0] = 'x';
    int rc = sl_model_config_parse(&cfg, (const char *)data, size, "config.json", err, sizeof err);
    fuzz_note(rc, err);
    if (rc != 0) {
        FUZZ_CHECK(rc < 0);
        FUZZ_CHECK_ERR(err, sizeof err);
        FUZZ_CHECK(err[0] != 0);
        return 0;
    }
    FUZZ_CHECK(cfg.arch == SL_ARCH_LLAMA || cfg.arch == SL_ARCH_QWEN2);
    FUZZ_CHECK(memchr(cfg.model_type, 0, sizeof cfg.model_type) != NULL);
    FUZZ_CHECK(cfg.hidden >= 1 && cfg.n_layers >= 1 && cfg.n_heads >= 1 && cfg.n_kv_heads >= 1);
    FUZZ_CHECK(cfg.intermediate >= 1 && cfg.vocab >= 1 && cfg.max_pos >= 1);
    FUZZ_CHECK(cfg.head_dim >= 2 && cfg.head_dim % 2 == 0);
    FUZZ_CHECK(cfg.n_heads % cfg.n_kv_heads == 0);
    FUZZ_CHECK(cfg.rms_eps > 0 && isfinite(cfg.rms_eps));
    FUZZ_CHECK(cfg.rope_theta > 0 && isfinite(cfg.rope_theta));
    FUZZ_CHECK(cfg.rope_type == SL_ROPE_DEFAULT || cfg.rope_type == SL_ROPE_LINEAR || cfg.rope_type == SL_ROPE_LLAMA3);
    if (cfg.rope_type != SL_ROPE_DEFAULT) FUZZ_CHECK(cfg.rope_factor > 0 && isfinite(cfg.rope_factor));
    if (cfg.rope_type == SL_ROPE_LLAMA3) {
        FUZZ_CHECK(cfg.rope_orig_max_pos >= 1);
        FUZZ_CHECK(cfg.rope_high_freq_factor > cfg.rope_low_freq_factor);
    }
    FUZZ_CHECK(cfg.bos_id >= -1 && cfg.bos_id < cfg.vocab);
    FUZZ_CHECK(cfg.n_eos >= 0 && cfg.n_eos <= (int)(sizeof cfg.eos_ids / sizeof cfg.eos_ids[0]));
    for (int i = 0; i < cfg.n_eos; i++) FUZZ_CHECK(cfg.eos_ids[i] >= 0 && cfg.eos_ids[i] < cfg.vocab);
    /* 64-bit products the loader computes from these must not overflow. */
    int64_t q = (int64_t)cfg.n_heads * cfg.head_dim, embed = (int64_t)cfg.vocab * cfg.hidden;
    FUZZ_CHECK(q > 0 && embed > 0);
    return 0;
}
