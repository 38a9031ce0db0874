/* model.c — config.json parsing and weight loading for Llama / Qwen2 checkpoints. */
#include "model.h"

#include "error.h"
#include "model_internal.h"
#include "gemm.h"
#include "safetensors.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *const module_names[SL_MOD_COUNT] = {
    [SL_MOD_Q] = "q_proj", [SL_MOD_K] = "k_proj", [SL_MOD_V] = "v_proj", [SL_MOD_O] = "o_proj",
    [SL_MOD_GATE] = "gate_proj", [SL_MOD_UP] = "up_proj", [SL_MOD_DOWN] = "down_proj",
};

const char *sl_module_name(sl_module m) { return (unsigned)m < SL_MOD_COUNT ? module_names[m] : "?"; }
const char *sl_module_parent(sl_module m) { return m <= SL_MOD_O ? "self_attn" : "mlp"; }
int sl_module_parse(const char *leaf) {
    for (int i = 0; i < SL_MOD_COUNT; i++)
        if (strcmp(leaf, module_names[i]) == 0) return i;
    return -1;
}

/* ---- config.json ---- */

/* Bounds that keep a hostile config from asking for absurd allocations. */
enum { MAX_HIDDEN = 1 << 16, MAX_LAYERS = 1024, MAX_HEADS = 1024, MAX_HEAD_DIM = 1024,
       MAX_VOCAB = 1 << 22, MAX_INTER = 1 << 20, MAX_POS = 1 << 24 };

static int get_int(json_t *root, const char *key, int required, int dflt, int lo, int hi, int *out,
                   const char *label, char *err, size_t errlen) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        if (required) return sl__errf(err, errlen, SL_EFORMAT, "%s: missing required field \"%s\"", label, key);
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v)) return sl__errf(err, errlen, SL_EFORMAT, "%s: \"%s\" must be an integer", label, key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return sl__errf(err, errlen, SL_ERANGE, "%s: \"%s\" = %lld is outside [%d, %d]", label, key, (long long)x, lo, hi);
    *out = (int)x;
    return 0;
}

static int get_num(json_t *obj, const char *key, double *out, const char *label, char *err, size_t errlen) {
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v)) return sl__errf(err, errlen, SL_EFORMAT, "%s: \"%s\" must be a number", label, key);
    *out = json_number_value(v);
    if (!isfinite(*out)) return sl__errf(err, errlen, SL_ERANGE, "%s: \"%s\" is not finite", label, key);
    return 0;
}

/* eos_token_id: an integer or a list of integers; appended to cfg->eos_ids without duplicates. */
static int add_eos(sl_model_config *cfg, json_t *v, const char *label, char *err, size_t errlen) {
    if (!v || json_is_null(v)) return 0;
    json_t *one = v;
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    for (size_t i = 0; i < n; i++) {
        if (json_is_array(v)) one = json_array_get(v, i);
        if (!json_is_integer(one) || json_integer_value(one) < 0 || json_integer_value(one) >= cfg->vocab)
            return sl__errf(err, errlen, SL_EFORMAT, "%s: eos_token_id must be token ids within the vocabulary", label);
        int32_t id = (int32_t)json_integer_value(one);
        int dup = 0;
        for (int k = 0; k < cfg->n_eos; k++) dup |= cfg->eos_ids[k] == id;
        if (!dup && cfg->n_eos < (int)(sizeof cfg->eos_ids / sizeof cfg->eos_ids[0])) cfg->eos_ids[cfg->n_eos++] = id;
    }
    return 0;
}

static int parse_rope(sl_model_config *cfg, json_t *root, const char *label, char *err, size_t errlen) {
    /* Newer transformers: rope_parameters {rope_theta, rope_type, ...}; older: rope_theta at the top
     * level and an optional rope_scaling {rope_type|type, factor, ...}. */
    json_t *rp = json_object_get(root, "rope_parameters");
    json_t *rs = json_object_get(root, "rope_scaling");
    json_t *theta = json_object_get(root, "rope_theta");
    json_t *scaling = NULL;
    if (json_is_object(rp)) {
        if (!theta) theta = json_object_get(rp, "rope_theta");
        scaling = rp;
    } else if (rp && !json_is_null(rp)) {
        return sl__errf(err, errlen, SL_EFORMAT, "%s: \"rope_parameters\" must be an object", label);
    }
    if (json_is_object(rs)) scaling = rs;
    else if (rs && !json_is_null(rs)) return sl__errf(err, errlen, SL_EFORMAT, "%s: \"rope_scaling\" must be an object or null", label);
    cfg->rope_theta = 10000.0;
    if (theta) {
        if (!json_is_number(theta) || !(json_number_value(theta) > 0) || !isfinite(json_number_value(theta)))
            return sl__errf(err, errlen, SL_EFORMAT, "%s: rope_theta must be a positive number", label);
        cfg->rope_theta = json_number_value(theta);
    }
    cfg->rope_type = SL_ROPE_DEFAULT;
    cfg->rope_factor = 1.0;
    if (!scaling) return 0;
    json_t *jt = json_object_get(scaling, "rope_type");
    if (!jt) jt = json_object_get(scaling, "type");
    const char *type = json_is_string(jt) ? json_string_value(jt) : "default";
    if (strcmp(type, "default") == 0) return 0;
    int rc;
    if (strcmp(type, "linear") == 0) {
        cfg->rope_type = SL_ROPE_LINEAR;
        if ((rc = get_num(scaling, "factor", &cfg->rope_factor, label, err, errlen))) return rc;
    } else if (strcmp(type, "llama3") == 0) {
        cfg->rope_type = SL_ROPE_LLAMA3;
        double orig = 0;
        if ((rc = get_num(scaling, "factor", &cfg->rope_factor, label, err, errlen)) ||
            (rc = get_num(scaling, "low_freq_factor", &cfg->rope_low_freq_factor, label, err, errlen)) ||
            (rc = get_num(scaling, "high_freq_factor", &cfg->rope_high_freq_factor, label, err, errlen)) ||
            (rc = get_num(scaling, "original_max_position_embeddings", &orig, label, err, errlen)))
            return rc;
        if (!(cfg->rope_high_freq_factor > cfg->rope_low_freq_factor) || !(orig >= 1) || orig > MAX_POS)
            return sl__errf(err, errlen, SL_ERANGE, "%s: llama3 rope needs high_freq_factor > low_freq_factor and a positive original_max_position_embeddings", label);
        cfg->rope_orig_max_pos = (int)orig;
    } else {
        return sl__errf(err, errlen, SL_ENOTSUP, "%s: RoPE type \"%s\" is not supported (default, linear, llama3 are)", label, type);
    }
    if (!(cfg->rope_factor > 0)) return sl__errf(err, errlen, SL_ERANGE, "%s: rope factor must be > 0", label);
    return 0;
}

int sl_model_config_parse(sl_model_config *cfg, const char *json, size_t len, const char *label,
                          char *err, size_t errlen) {
    memset(cfg, 0, sizeof *cfg);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return sl__errf(err, errlen, SL_EFORMAT, "%s: invalid JSON: %s (line %d)", label, jerr.text, jerr.line);
    int rc = SL_EFORMAT;
    if (!json_is_object(root)) { sl__errf(err, errlen, rc, "%s: not a JSON object", label); goto out; }

    json_t *archs = json_object_get(root, "architectures");
    const char *arch = json_is_array(archs) && json_is_string(json_array_get(archs, 0))
                           ? json_string_value(json_array_get(archs, 0)) : NULL;
    if (!arch) { sl__errf(err, errlen, rc, "%s: missing \"architectures\"", label); goto out; }
    if (strcmp(arch, "LlamaForCausalLM") == 0 || strcmp(arch, "MistralForCausalLM") == 0) {
        cfg->arch = SL_ARCH_LLAMA;
    } else if (strcmp(arch, "Qwen2ForCausalLM") == 0) {
        cfg->arch = SL_ARCH_QWEN2;
    } else {
        rc = sl__errf(err, errlen, SL_ENOTSUP, "%s: unsupported architecture \"%s\" (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM are)", label, arch);
        goto out;
    }
    json_t *mt = json_object_get(root, "model_type");
    snprintf(cfg->model_type, sizeof cfg->model_type, "%s",
             json_is_string(mt) ? json_string_value(mt) : cfg->arch == SL_ARCH_QWEN2 ? "qwen2" : "llama");

    if ((rc = get_int(root, "hidden_size", 1, 0, 1, MAX_HIDDEN, &cfg->hidden, label, err, errlen)) ||
        (rc = get_int(root, "num_hidden_layers", 1, 0, 1, MAX_LAYERS, &cfg->n_layers, label, err, errlen)) ||
        (rc = get_int(root, "num_attention_heads", 1, 0, 1, MAX_HEADS, &cfg->n_heads, label, err, errlen)) ||
        (rc = get_int(root, "num_key_value_heads", 0, cfg->n_heads, 1, MAX_HEADS, &cfg->n_kv_heads, label, err, errlen)) ||
        (rc = get_int(root, "intermediate_size", 1, 0, 1, MAX_INTER, &cfg->intermediate, label, err, errlen)) ||
        (rc = get_int(root, "vocab_size", 1, 0, 1, MAX_VOCAB, &cfg->vocab, label, err, errlen)) ||
        (rc = get_int(root, "max_position_embeddings", 0, 2048, 1, MAX_POS, &cfg->max_pos, label, err, errlen)) ||
        (rc = get_int(root, "head_dim", 0, cfg->hidden / cfg->n_heads, 2, MAX_HEAD_DIM, &cfg->head_dim, label, err, errlen)))
        goto out;
    rc = SL_EFORMAT;
    /* The default hidden/heads is not range-checked by get_int: check the value in use. */
    if (cfg->head_dim < 2 || cfg->head_dim > MAX_HEAD_DIM || cfg->head_dim % 2) {
        sl__errf(err, errlen, rc, "%s: head_dim %d must be even and in [2, %d] (RoPE rotates pairs)", label, cfg->head_dim, MAX_HEAD_DIM);
        goto out;
    }
    if (cfg->n_heads % cfg->n_kv_heads) {
        sl__errf(err, errlen, rc, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", label, cfg->n_heads, cfg->n_kv_heads);
        goto out;
    }
    double eps = 0;
    if ((rc = get_num(root, "rms_norm_eps", &eps, label, err, errlen))) goto out;
    rc = SL_ERANGE;
    if (!(eps > 0) || eps > 1) { sl__errf(err, errlen, rc, "%s: rms_norm_eps must be in (0, 1]", label); goto out; }
    cfg->rms_eps = (float)eps;
    if (!(cfg->rms_eps > 0)) { sl__errf(err, errlen, rc, "%s: rms_norm_eps %g underflows to 0 as a float", label, eps); goto out; }

    json_t *act = json_object_get(root, "hidden_act");
    rc = SL_ENOTSUP;
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "silu") != 0)) {
        sl__errf(err, errlen, rc, "%s: hidden_act must be \"silu\"", label);
        goto out;
    }
    if (json_is_true(json_object_get(root, "mlp_bias"))) { sl__errf(err, errlen, rc, "%s: mlp_bias is not supported", label); goto out; }
    json_t *sw = json_object_get(root, "sliding_window");
    int use_sw = cfg->arch == SL_ARCH_QWEN2 ? json_is_true(json_object_get(root, "use_sliding_window"))
                                            : (sw && !json_is_null(sw));
    if (use_sw) { sl__errf(err, errlen, rc, "%s: sliding-window attention is not supported", label); goto out; }
    if ((rc = parse_rope(cfg, root, label, err, errlen))) goto out;

    json_t *tie = json_object_get(root, "tie_word_embeddings");
    cfg->tie_embeddings = json_is_true(tie);
    cfg->qkv_bias = cfg->arch == SL_ARCH_QWEN2 || json_is_true(json_object_get(root, "attention_bias"));
    json_t *bos = json_object_get(root, "bos_token_id");
    cfg->bos_id = -1;
    if (json_is_integer(bos) && json_integer_value(bos) >= 0 && json_integer_value(bos) < cfg->vocab)
        cfg->bos_id = (int32_t)json_integer_value(bos);
    if ((rc = add_eos(cfg, json_object_get(root, "eos_token_id"), label, err, errlen))) goto out;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* ---- weights ---- */

void sl_model_module_shape(const sl_model *m, sl_module mod, int *out_features, int *in_features) {
    const sl_model_config *c = &m->cfg;
    int q = c->n_heads * c->head_dim, kv = c->n_kv_heads * c->head_dim;
    int o = 0, i = 0;
    switch (mod) {
    case SL_MOD_Q: o = q; i = c->hidden; break;
    case SL_MOD_K:
    case SL_MOD_V: o = kv; i = c->hidden; break;
    case SL_MOD_O: o = c->hidden; i = q; break;
    case SL_MOD_GATE:
    case SL_MOD_UP: o = c->intermediate; i = c->hidden; break;
    case SL_MOD_DOWN: o = c->hidden; i = c->intermediate; break;
    default: break;
    }
    if (out_features) *out_features = o;
    if (in_features) *in_features = i;
}

typedef struct loader {
    sl_model *m;
    const sl_model_opts *opts;
    size_t tensors, bytes;
    char *err;
    size_t errlen;
} loader;

static void logf_(const loader *ld, int level, const char *fmt, ...) {
    if (!ld->opts || !ld->opts->log) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ld->opts->log(ld->opts->log_ctx, level, buf);
}

/* Room for one more buffer in m->owned. */
static int reserve_owned(sl_model *m) {
    if (m->n_owned < m->cap_owned) return 0;
    size_t cap = m->cap_owned ? 2 * m->cap_owned : 64;
    void **p = realloc(m->owned, cap * sizeof *p);
    if (!p) return SL_ENOMEM;
    m->owned = p;
    m->cap_owned = cap;
    return 0;
}

/* Finds NAME and checks its shape is (d0[, d1]) and its dtype F32, F16 or BF16. */
static int find_tensor(loader *ld, const char *name, int64_t d0, int64_t d1, const sl_tensor **out) {
    sl_model *m = ld->m;
    const sl_tensor *t = sl_st_set_find(m->st, name);
    if (!t) return sl__errf(ld->err, ld->errlen, SL_EFORMAT, "%s: tensor '%s' is missing from the checkpoint", m->dir, name);
    int want_ndim = d1 ? 2 : 1;
    if (t->ndim != want_ndim || t->shape[0] != d0 || (d1 && t->shape[1] != d1))
        return sl__errf(ld->err, ld->errlen, SL_EFORMAT, "%s: tensor '%s' has shape [%lld%s%lld] but config.json implies [%lld%s%lld]",
                        m->dir, name, (long long)t->shape[0], t->ndim > 1 ? ", " : "", t->ndim > 1 ? (long long)t->shape[1] : 0LL,
                        (long long)d0, d1 ? ", " : "", (long long)d1);
    if (t->dtype != SL_DTYPE_F32 && t->dtype != SL_DTYPE_F16 && t->dtype != SL_DTYPE_BF16)
        return sl__errf(ld->err, ld->errlen, SL_ENOTSUP, "%s: tensor '%s' has dtype %s (F32, F16, BF16 are supported)", m->dir, name,
                        sl_dtype_name(t->dtype));
    ld->tensors++;
    ld->bytes += t->nbytes;
    *out = t;
    return 0;
}

static sl_gemm_src gemm_src(sl_dtype dt) {
    return dt == SL_DTYPE_BF16 ? SL_GEMM_SRC_BF16 : dt == SL_DTYPE_F16 ? SL_GEMM_SRC_F16 : SL_GEMM_SRC_F32;
}

/* NAME (d0[, d1]) as F32: the mapped bytes when they are F32 and aligned, else a converted
 * copy owned by the model. For the small tensors (norms, biases). */
static int load_tensor(loader *ld, const char *name, int64_t d0, int64_t d1, const float **out) {
    sl_model *m = ld->m;
    const sl_tensor *t;
    int rc = find_tensor(ld, name, d0, d1, &t);
    if (rc) return rc;
    if (t->dtype == SL_DTYPE_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        *out = t->data;
        m->resident_bytes += t->nbytes;
        return 0;
    }
    if (reserve_owned(m)) return SL_ENOMEM;
    float *buf = malloc((size_t)t->nelem * sizeof(float));
    if (!buf) return sl__errf(ld->err, ld->errlen, SL_ENOMEM, "%s: out of memory converting '%s'", m->dir, name);
    sl_tensor_to_f32(t, buf, (size_t)t->nelem);
    m->owned[m->n_owned++] = buf;
    m->resident_bytes += (size_t)t->nelem * sizeof(float);
    *out = buf;
    return 0;
}

/* Drops this process's pages of a mapped range it will not read again (they stay in the page
 * cache, shared with other replicas; a later read faults them back). */
static void drop_pages(const void *p, size_t n) {
    long ps = sysconf(_SC_PAGESIZE);
    if (ps <= 0) return;
    uintptr_t a = ((uintptr_t)p + (uintptr_t)ps - 1) & ~((uintptr_t)ps - 1), b = ((uintptr_t)p + n) & ~((uintptr_t)ps - 1);
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

/* A linear layer's weight (out, in), packed as the model's wtype (gemm.h) straight from the
 * mapped checkpoint into a buffer the model owns (no widened copy, even transiently); the
 * mapped pages are then dropped, so a weight is resident once. */
static int load_packed(loader *ld, const char *name, int out, int in, const void **dst) {
    sl_model *m = ld->m;
    const sl_tensor *t;
    int rc = find_tensor(ld, name, out, in, &t);
    if (rc) return rc;
    size_t n = sl_gemm_packed_bytes(m->wtype, out, in);
    void *p = reserve_owned(m) ? NULL : aligned_alloc(64, (n + 63) / 64 * 64);
    if (!p) return sl__errf(ld->err, ld->errlen, SL_ENOMEM, "%s: out of memory packing '%s'", m->dir, name);
    sl_gemm_pack(p, m->wtype, t->data, gemm_src(t->dtype), (size_t)in, out, in);
    drop_pages(t->data, t->nbytes);
    m->owned[m->n_owned++] = p;
    m->resident_bytes += n;
    *dst = p;
    return 0;
}

static void rope_init(sl_model *m) {
    const sl_model_config *c = &m->cfg;
    int half = c->head_dim / 2;
    for (int i = 0; i < half; i++) {
        /* As transformers: computed in float32 from integer exponents. */
        float f = (float)(1.0 / pow(c->rope_theta, (double)(float)(2 * i) / (double)c->head_dim));
        if (c->rope_type == SL_ROPE_LINEAR) {
            f = (float)(f / c->rope_factor);
        } else if (c->rope_type == SL_ROPE_LLAMA3) {
            double lo_wl = c->rope_orig_max_pos / c->rope_low_freq_factor;
            double hi_wl = c->rope_orig_max_pos / c->rope_high_freq_factor;
            double wl = 2 * M_PI / f;
            if (wl > lo_wl) {
                f = (float)(f / c->rope_factor);
            } else if (wl >= hi_wl) {
                double smooth = (c->rope_orig_max_pos / wl - c->rope_low_freq_factor) /
                                (c->rope_high_freq_factor - c->rope_low_freq_factor);
                f = (float)((1 - smooth) * f / c->rope_factor + smooth * f);
            }
        }
        m->inv_freq[i] = f;
    }
}

static char *read_small_file(const char *path, size_t limit, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *buf = malloc(limit + 1);
    size_t n = buf ? fread(buf, 1, limit + 1, fp) : 0;
    fclose(fp);
    if (!buf || n > limit) { free(buf); return NULL; }
    buf[n] = 0;
    *len = n;
    return buf;
}

int sl_model_load(sl_model **out, const char *dir, const sl_model_opts *opts, char *err, size_t errlen) {
    *out = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *json = read_small_file(path, 1 << 20, &len);
    if (!json) return sl__errf(err, errlen, SL_ENOENT, "%s: cannot read (missing, unreadable or over 1 MiB)", path);
    sl_model *m = calloc(1, sizeof *m);
    if (!m) { free(json); return SL_ENOMEM; }
    int rc = sl_model_config_parse(&m->cfg, json, len, path, err, errlen);
    free(json);
    if (rc) { free(m); return rc; }
    /* generation_config.json may add EOS ids (e.g. Llama 3 instruct's <|eot_id|>). */
    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    json = read_small_file(path, 1 << 20, &len);
    if (json) {
        json_t *g = json_loadb(json, len, 0, NULL);
        if (json_is_object(g)) {
            char e2[256];
            if (add_eos(&m->cfg, json_object_get(g, "eos_token_id"), path, e2, sizeof e2) && opts && opts->log)
                opts->log(opts->log_ctx, 1, e2);
        }
        json_decref(g);
        free(json);
    }
    const sl_model_config *c = &m->cfg;
    m->dir = strdup(dir);
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    m->inv_freq = malloc((size_t)c->head_dim / 2 * sizeof(float));
    if (!m->dir || !m->layers || !m->inv_freq) { rc = SL_ENOMEM; goto fail; }
    rope_init(m);
    if ((rc = sl_st_set_open_dir(&m->st, dir, err, errlen))) goto fail;

    loader ld = {.m = m, .opts = opts, .err = err, .errlen = errlen};
    logf_(&ld, 0, "loading %s: %s, %d layers, hidden %d, %d heads (%d KV), vocab %d, %zu tensors, %.1f MiB",
          dir, c->model_type, c->n_layers, c->hidden, c->n_heads, c->n_kv_heads, c->vocab,
          sl_st_set_count(m->st), sl_st_set_total_bytes(m->st) / 1048576.0);
    /* The packed type: asked for, or the checkpoint's (that of its first q_proj). */
    const char *want = opts && opts->dtype && *opts->dtype ? opts->dtype : "auto";
    if (!strcmp(want, "auto")) {
        const sl_tensor *q0 = sl_st_set_find(m->st, "model.layers.0.self_attn.q_proj.weight");
        m->wtype = q0 && q0->dtype == SL_DTYPE_BF16 ? SL_WTYPE_BF16 : q0 && q0->dtype == SL_DTYPE_F16 ? SL_WTYPE_F16 : SL_WTYPE_F32;
    } else if (sl_wtype_parse(want) >= 0) {
        m->wtype = (sl_wtype)sl_wtype_parse(want);
    } else {
        rc = sl__errf(err, errlen, SL_EINVAL, "unknown weight dtype '%s' (auto, f32, bf16, f16 or q8_0)", want);
        goto fail;
    }
    /* Tied: the packed lm_head also serves the embedding lookups (sl__model_embed_row).
     * Untied: the embedding is read in place from the mapping, one row per token. */
    const sl_tensor *emb = NULL;
    if ((rc = load_tensor(&ld, "model.norm.weight", c->hidden, 0, &m->final_norm)) ||
        (c->tie_embeddings ? (rc = load_packed(&ld, "model.embed_tokens.weight", c->vocab, c->hidden, &m->lm_head))
                           : ((rc = find_tensor(&ld, "model.embed_tokens.weight", c->vocab, c->hidden, &emb)) ||
                              (rc = load_packed(&ld, "lm_head.weight", c->vocab, c->hidden, &m->lm_head)))))
        goto fail;
    if (emb) {
        m->embed = emb->data;
        m->embed_dtype = gemm_src(emb->dtype);
        m->resident_bytes += emb->nbytes;
    }
    char name[256];
    for (int l = 0; l < c->n_layers; l++) {
        sl_layer_weights *L = &m->layers[l];
        snprintf(name, sizeof name, "model.layers.%d.input_layernorm.weight", l);
        if ((rc = load_tensor(&ld, name, c->hidden, 0, &L->attn_norm))) goto fail;
        snprintf(name, sizeof name, "model.layers.%d.post_attention_layernorm.weight", l);
        if ((rc = load_tensor(&ld, name, c->hidden, 0, &L->ffn_norm))) goto fail;
        for (int mod = 0; mod < SL_MOD_COUNT; mod++) {
            int o, i;
            sl_model_module_shape(m, (sl_module)mod, &o, &i);
            snprintf(name, sizeof name, "model.layers.%d.%s.%s.weight", l, sl_module_parent((sl_module)mod), module_names[mod]);
            if ((rc = load_packed(&ld, name, o, i, &L->w[mod]))) goto fail;
            int want_bias = c->qkv_bias && mod <= SL_MOD_V;
            snprintf(name, sizeof name, "model.layers.%d.%s.%s.bias", l, sl_module_parent((sl_module)mod), module_names[mod]);
            /* Llama's attention_bias also puts a bias on o_proj. */
            if (c->qkv_bias && c->arch == SL_ARCH_LLAMA && mod == SL_MOD_O) want_bias = 1;
            if (want_bias && (rc = load_tensor(&ld, name, o, 0, &L->bias[mod]))) goto fail;
        }
        if (l % 8 == 7 || l == c->n_layers - 1)
            logf_(&ld, 0, "loaded layer %d/%d: %zu tensors, %.1f MiB", l + 1, c->n_layers, ld.tensors, ld.bytes / 1048576.0);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    logf_(&ld, 0, "model loaded: %zu tensors, %.1f MiB in the checkpoint, linears packed as %s, %.1f MiB resident, %.3f s",
          ld.tensors, ld.bytes / 1048576.0, sl_wtype_name(m->wtype), m->resident_bytes / 1048576.0,
          (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
    *out = m;
    return 0;
fail:
    if (rc == SL_ENOMEM) sl__errf(err, errlen, rc, "%s: out of memory loading the model", dir);
    sl_model_free(m);
    return rc;
}

void sl_model_free(sl_model *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    sl_st_set_free(m->st);
    free(m->layers);
    free(m->inv_freq);
    free(m->dir);
    free(m);
}

const sl_model_config *sl_model_get_config(const sl_model *m) { return &m->cfg; }
size_t sl_model_weight_bytes(const sl_model *m) { return m->resident_bytes; }
const char *sl_model_dir(const sl_model *m) { return m->dir; }

const char *sl_model_wtype_name(const sl_model *m) { return sl_wtype_name(m->wtype); }

void sl__model_embed_row(const sl_model *m, int token, float *dst) {
    int d = m->cfg.hidden;
    if (!m->embed) {
        sl_gemm_packed_row(dst, m->lm_head, m->wtype, d, token);
        return;
    }
    const unsigned char *row = (const unsigned char *)m->embed + (size_t)token * d * (m->embed_dtype == SL_GEMM_SRC_F32 ? 4 : 2);
    if (m->embed_dtype == SL_GEMM_SRC_F32) {
        memcpy(dst, row, (size_t)d * sizeof *dst);
        return;
    }
    for (int i = 0; i < d; i++) {
        uint16_t h;
        memcpy(&h, row + 2 * (size_t)i, 2); /* the mapping may be unaligned */
        dst[i] = m->embed_dtype == SL_GEMM_SRC_BF16 ? sl_bf16_to_f32(h) : sl_f16_to_f32(h);
    }
}
