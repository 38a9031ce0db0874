/* fuzz_adapter.c — sl_adapter_load (adapter_config.json + adapter_model.safetensors) against a
 * real base model, on arbitrary bytes.
 *
 * Input layout: a 4-byte little-endian word W, then the config, then the weights.
 *   bits 0..30 of W: config length (clamped to what is left), bit 31: base model
 *   (0: tests/fixtures/models/llama-tiny, 1: qwen2-tiny, loaded once in LLVMFuzzerInitialize).
 * Config and weights are copied into exact-size heap buffers so ASan sees a read past either.
 *
 * On success the adapter must match sl_adapter.h: kind/rank/alpha sane, a non-empty module mask,
 * one element type (F32, BF16, F16), every adapted (layer, module) with its arrays fully
 * readable and finite, sl_adapter_bytes equal to the arrays' total (matrices, up to 2 bytes of
 * alignment, F32 scales), out-of-range lookups giving r == 0. */
#include "fuzz_common.h"

#include <math.h>

#include "adapter.h"
#include "error.h"
#include "model.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sl_model *models[2];

static sl_model *load_model(const char *name) {
    char dir[4096], err[512];
    snprintf(dir, sizeof dir, "%s/models/%s", fuzz_fixtures_dir(), name);
    sl_model *m = NULL;
    int rc = sl_model_load(&m, dir, NULL, err, sizeof err);
    if (rc) {
        fprintf(stderr, "fuzz_adapter: cannot load the base model %s: %s (set SL_FUZZ_FIXTURES)\n", dir, err);
        exit(2);
    }
    return m;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    models[0] = load_model("llama-tiny");
    models[1] = load_model("qwen2-tiny");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    uint32_t w = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
    const sl_model *m = models[w >> 31];
    size_t rest = size - 4, clen = w & 0x7fffffffu;
    if (clen > rest) clen = rest;
    char *config = fuzz_dup(data + 4, clen);
    void *weights = fuzz_dup(data + 4 + clen, rest - clen);

    sl_adapter *a = NULL;
    char err[512];
    err[0] = 'x';
    int rc = sl_adapter_load(&a, m, config, clen, weights, rest - clen, NULL, err, sizeof err);
    fuzz_note(rc, err);
    free(config);
    free(weights); /* not retained by the adapter (adapter.h) */
    if (rc != 0) {
        FUZZ_CHECK(rc < 0 && a == NULL);
        FUZZ_CHECK_ERR(err, sizeof err);
        FUZZ_CHECK(err[0] != 0);
        return 0;
    }
    FUZZ_CHECK(a != NULL);
    const sl_model_config *mc = sl_model_get_config(m);
    sl_adapter_kind kind = sl_adapter_get_kind(a);
    FUZZ_CHECK(kind == SL_ADAPTER_SYMLORA || kind == SL_ADAPTER_LORA);
    FUZZ_CHECK(sl_adapter_rank(a) >= 1 && sl_adapter_rank(a) <= 256);
    FUZZ_CHECK(sl_adapter_alpha(a) > 0);
    unsigned mask = sl_adapter_module_mask(a), seen = 0;
    FUZZ_CHECK(mask != 0 && mask < (1u << SL_MOD_COUNT));
    sl_wtype wt = sl_adapter_wtype(a);
    FUZZ_CHECK(wt == SL_WTYPE_F32 || wt == SL_WTYPE_BF16 || wt == SL_WTYPE_F16);
    size_t es = wt == SL_WTYPE_F32 ? 4 : 2, elems = 0, scales = 0;
    for (int l = 0; l < mc->n_layers; l++) {
        for (int mod = 0; mod < SL_MOD_COUNT; mod++) {
            const sl_adapter_module *am = sl_adapter_get_module(a, l, (sl_module)mod);
            FUZZ_CHECK(am != NULL && am->r >= 0 && am->r <= 256);
            if (am->r == 0) continue;
            seen |= 1u << mod;
            FUZZ_CHECK(am->wt == wt && am->scale != NULL);
            int out, in;
            sl_model_module_shape(m, (sl_module)mod, &out, &in);
            size_t r = (size_t)am->r, n0, n1;
            const void *p0, *p1;
            if (kind == SL_ADAPTER_SYMLORA) {
                n0 = (size_t)(out > in ? out : in) * r; p0 = am->qt;
                n1 = 0; p1 = NULL; /* lambda is in the scale */
            } else {
                n0 = r * (size_t)in; p0 = am->a;
                n1 = (size_t)out * r; p1 = am->bt;
            }
            FUZZ_CHECK(p0 != NULL && (n1 == 0 || p1 != NULL));
            for (size_t i = 0; i < n0; i++) FUZZ_CHECK(isfinite(sl_adapter_elem(wt, p0, i)));
            for (size_t i = 0; i < n1; i++) FUZZ_CHECK(isfinite(sl_adapter_elem(wt, p1, i)));
            for (size_t j = 0; j < r; j++) FUZZ_CHECK(isfinite(am->scale[j]));
            elems += n0 + n1;
            scales += r;
        }
    }
    FUZZ_CHECK(seen == mask);
    FUZZ_CHECK(sl_adapter_bytes(a) == ((elems * es + 3) & ~(size_t)3) + scales * sizeof(float));
    FUZZ_CHECK(sl_adapter_get_module(a, -1, SL_MOD_Q)->r == 0);
    FUZZ_CHECK(sl_adapter_get_module(a, mc->n_layers, SL_MOD_Q)->r == 0);
    FUZZ_CHECK(sl_adapter_get_module(a, 0, SL_MOD_COUNT)->r == 0);
    FUZZ_CHECK(sl_adapter_ref(a) == a);
    sl_adapter_unref(a);
    sl_adapter_unref(a);
    return 0;
}
