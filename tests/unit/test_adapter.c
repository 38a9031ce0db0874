/* test_adapter.c — SymLoRA / LoRA adapters: loading the PEFT fixtures, PEFT config features,
 * a corpus of broken adapters (generated here from the good fixtures), exact resident bytes,
 * reference counting, and parity of the adapted forward pass with transformers + peft. */
#include "check.h"
#include "golden.h"

#include "adapter.h"
#include "error.h"
#include "forward.h"
#include "kvcache.h"
#include "model.h"
#include "safetensors.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

static golden G;

#define N_MODELS 2
static const char *const model_names[N_MODELS] = {"llama-tiny", "qwen2-tiny"};
static sl_model *models[N_MODELS];

#define N_CASES 5
static const char *const case_names[N_CASES] = {"lora-all-r8", "lora-qv-r4", "symlora-qo-r8", "symlora-all-r4",
                                                "symlora-qo-r16-bf16"};
static const struct {
    sl_adapter_kind kind;
    int r;
    float alpha;
    unsigned mask;
    sl_wtype wt; /* the stored element type: the fixture's own dtype */
} case_info[N_CASES] = {
    {SL_ADAPTER_LORA, 8, 16, 0x7f, SL_WTYPE_F32},
    {SL_ADAPTER_LORA, 4, 8, (1u << SL_MOD_Q) | (1u << SL_MOD_V), SL_WTYPE_F32},
    {SL_ADAPTER_SYMLORA, 8, 16, (1u << SL_MOD_Q) | (1u << SL_MOD_O), SL_WTYPE_F32},
    {SL_ADAPTER_SYMLORA, 4, 4, 0x7f, SL_WTYPE_F32},
    {SL_ADAPTER_SYMLORA, 16, 16, (1u << SL_MOD_Q) | (1u << SL_MOD_O), SL_WTYPE_BF16},
};

/* Resident bytes of an adapter whose matrices hold N_MAT elements of type WT and whose
 * modules' ranks sum to N_SCALE (adapter.h: matrices, 4-byte alignment, F32 scales). */
static size_t adapter_bytes(size_t n_mat, sl_wtype wt, size_t n_scale) {
    return ((n_mat * (wt == SL_WTYPE_F32 ? 4 : 2) + 3) & ~(size_t)3) + n_scale * sizeof(float);
}

static char tmpdir[256];

/* ---- helpers: files, a mutable safetensors set, configs ---------------------------------- */

static void adapter_path(char *buf, size_t n, int mi, const char *cas, const char *file) {
    snprintf(buf, n, "tests/fixtures/adapters/%s/%s%s%s", model_names[mi], cas, file ? "/" : "", file ? file : "");
}

typedef struct ttensor {
    char name[200];
    sl_dtype dtype;
    int ndim;
    int64_t shape[4];
    unsigned char *data; /* (nbytes) owned */
    size_t nbytes;
} ttensor;

typedef struct tset {
    ttensor t[96];
    int n;
} tset;

static void tset_free(tset *s) {
    for (int i = 0; i < s->n; i++) free(s->t[i].data);
    s->n = 0;
}

static ttensor *tset_add(tset *s, const char *name, sl_dtype dt, int ndim, const int64_t *shape, const void *data,
                         size_t nbytes) {
    ttensor *t = &s->t[s->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dt;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->nbytes = nbytes;
    t->data = malloc(nbytes ? nbytes : 1);
    if (data) memcpy(t->data, data, nbytes);
    else memset(t->data, 0, nbytes);
    return t;
}

static int tset_load(tset *s, int mi, const char *cas) {
    char path[512];
    adapter_path(path, sizeof path, mi, cas, "adapter_model.safetensors");
    sl_safetensors *st = NULL;
    if (sl_safetensors_open(&st, path, NULL, 0) != 0) return -1;
    s->n = 0;
    for (size_t i = 0; i < sl_safetensors_count(st); i++) {
        const sl_tensor *t = sl_safetensors_at(st, i);
        tset_add(s, t->name, t->dtype, t->ndim, t->shape, t->data, t->nbytes);
    }
    sl_safetensors_free(st);
    return 0;
}

static ttensor *tset_find(tset *s, const char *name) {
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->t[i].name, name) == 0) return &s->t[i];
    return NULL;
}

static void tset_remove(tset *s, const char *name) {
    ttensor *t = tset_find(s, name);
    if (!t) return;
    free(t->data);
    *t = s->t[--s->n];
}

/* A safetensors file of the set, in set order, with "__metadata__" as PEFT writes it. */
static unsigned char *tset_serialize(const tset *s, size_t *len) {
    json_t *h = json_object();
    json_object_set_new(h, "__metadata__", json_pack("{s:s}", "format", "pt"));
    size_t off = 0;
    for (int i = 0; i < s->n; i++) {
        const ttensor *t = &s->t[i];
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer(t->shape[d]));
        json_object_set_new(h, t->name, json_pack("{s:s, s:o, s:[I, I]}", "dtype", sl_dtype_name(t->dtype), "shape", shape,
                                                  "data_offsets", (json_int_t)off, (json_int_t)(off + t->nbytes)));
        off += t->nbytes;
    }
    char *hj = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(h);
    size_t hn = strlen(hj), pad = (8 - hn % 8) % 8;
    *len = 8 + hn + pad + off;
    unsigned char *buf = malloc(*len);
    uint64_t n = hn + pad;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(n >> (8 * i));
    memcpy(buf + 8, hj, hn);
    memset(buf + 8 + hn, ' ', pad);
    size_t p = 8 + hn + pad;
    for (int i = 0; i < s->n; i++) {
        memcpy(buf + p, s->t[i].data, s->t[i].nbytes);
        p += s->t[i].nbytes;
    }
    free(hj);
    return buf;
}

static float *f32(ttensor *t) { return (float *)t->data; }

/* Converts an F32 tensor to BF16 or F16 in place. */
static void to_half(ttensor *t, sl_dtype dt) {
    size_t n = t->nbytes / 4;
    uint16_t *h = malloc(n * 2);
    for (size_t i = 0; i < n; i++) h[i] = dt == SL_DTYPE_BF16 ? sl_f32_to_bf16(f32(t)[i]) : sl_f32_to_f16(f32(t)[i]);
    free(t->data);
    t->data = (unsigned char *)h;
    t->nbytes = n * 2;
    t->dtype = dt;
}

/* Keeps the first K columns of a 2-D F32 (rows, cols) tensor, or the first K of a 1-D one. */
static void keep_cols(ttensor *t, int k) {
    if (t->ndim == 1) {
        t->shape[0] = k;
        t->nbytes = (size_t)k * 4;
        return;
    }
    int64_t rows = t->shape[0], cols = t->shape[1];
    float *v = f32(t);
    for (int64_t r = 0; r < rows; r++)
        for (int c = 0; c < k; c++) v[r * k + c] = v[r * cols + c];
    t->shape[1] = k;
    t->nbytes = (size_t)(rows * k) * 4;
}

static json_t *cfg_load(int mi, const char *cas) {
    char path[512];
    adapter_path(path, sizeof path, mi, cas, "adapter_config.json");
    return json_load_file(path, 0, NULL);
}

static char *names(int layer, const char *parent, const char *leaf, const char *suffix) {
    static char buf[4][200];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, 200, "base_model.model.model.layers.%d.%s.%s.%s", layer, parent, leaf, suffix);
    return b;
}
#define SYM_Q(l, leaf) names(l, strcmp(leaf, "q_proj") && strcmp(leaf, "k_proj") && strcmp(leaf, "v_proj") && strcmp(leaf, "o_proj") ? "mlp" : "self_attn", leaf, "symlora_Q.weight")
#define SYM_L(l, leaf) names(l, strcmp(leaf, "q_proj") && strcmp(leaf, "k_proj") && strcmp(leaf, "v_proj") && strcmp(leaf, "o_proj") ? "mlp" : "self_attn", leaf, "symlora_lambda")
#define LORA_A(l, leaf) names(l, strcmp(leaf, "q_proj") && strcmp(leaf, "k_proj") && strcmp(leaf, "v_proj") && strcmp(leaf, "o_proj") ? "mlp" : "self_attn", leaf, "lora_A.weight")
#define LORA_B(l, leaf) names(l, strcmp(leaf, "q_proj") && strcmp(leaf, "k_proj") && strcmp(leaf, "v_proj") && strcmp(leaf, "o_proj") ? "mlp" : "self_attn", leaf, "lora_B.weight")

/* Loads CFG (json, or raw text if TEXT) + S on model MI; keeps the adapter in *OUT if asked. */
static int try_load(int mi, json_t *cfg, const char *text, const tset *s, int max_rank, sl_adapter **out, char *err,
                    size_t errlen) {
    char *ct = text ? NULL : json_dumps(cfg, JSON_PRESERVE_ORDER);
    const char *c = text ? text : ct;
    size_t wl;
    unsigned char *w = tset_serialize(s, &wl);
    sl_adapter_opts opts = {.max_rank = max_rank};
    sl_adapter *a = NULL;
    err[0] = 0;
    int rc = sl_adapter_load(&a, models[mi], c, strlen(c), w, wl, &opts, err, errlen);
    free(w);
    free(ct);
    if (out) *out = a;
    else sl_adapter_unref(a);
    return rc;
}

static void expect_reject(const char *what, int rc, const char *err, const char *w1, const char *w2, const char *w3) {
    CHECKF(rc < 0, "%s: accepted (want a rejection mentioning '%s')", what, w1);
    if (getenv("SL_TEST_VERBOSE")) printf("    [%s] %s: %s\n", sl_strerror(rc), what, err);
    const char *w[3] = {w1, w2, w3};
    for (int i = 0; i < 3; i++)
        if (w[i]) CHECKF(strstr(err, w[i]) != NULL, "%s: message lacks '%s': %s", what, w[i], err);
}

/* Expected resident bytes of fixture case CI on model MI stored as WT, from the module shapes. */
static size_t expected_bytes_as(int mi, int ci, sl_wtype wt) {
    size_t n_mat = 0, n_scale = 0;
    int nl = sl_model_get_config(models[mi])->n_layers;
    for (int mod = 0; mod < SL_MOD_COUNT; mod++) {
        if (!(case_info[ci].mask & (1u << mod))) continue;
        int out, in;
        sl_model_module_shape(models[mi], (sl_module)mod, &out, &in);
        size_t r = (size_t)case_info[ci].r;
        size_t per = case_info[ci].kind == SL_ADAPTER_SYMLORA ? (size_t)(out > in ? out : in) * r : r * (size_t)in + (size_t)out * r;
        n_mat += per * (size_t)nl;
        n_scale += r * (size_t)nl;
    }
    return adapter_bytes(n_mat, wt, n_scale);
}
static size_t expected_bytes(int mi, int ci) { return expected_bytes_as(mi, ci, case_info[ci].wt); }

/* ---- 1. every fixture adapter loads ------------------------------------------------------ */

TEST(fixtures_load_with_sane_metadata) {
    for (int mi = 0; mi < N_MODELS; mi++) {
        int nl = sl_model_get_config(models[mi])->n_layers;
        for (int ci = 0; ci < N_CASES; ci++) {
            char dir[512], err[512] = "";
            adapter_path(dir, sizeof dir, mi, case_names[ci], NULL);
            sl_adapter *a = NULL;
            int rc = sl_adapter_load_dir(&a, models[mi], dir, NULL, err, sizeof err);
            CHECKF(rc == 0, "%s: %s", dir, err);
            if (rc) continue;
            CHECKF(sl_adapter_get_kind(a) == case_info[ci].kind, "%s: kind", dir);
            CHECKF(sl_adapter_rank(a) == case_info[ci].r, "%s: rank %d", dir, sl_adapter_rank(a));
            CHECKF(sl_adapter_alpha(a) == case_info[ci].alpha, "%s: alpha %g", dir, sl_adapter_alpha(a));
            CHECKF(sl_adapter_module_mask(a) == case_info[ci].mask, "%s: mask %#x", dir, sl_adapter_module_mask(a));
            CHECKF(sl_adapter_bytes(a) == expected_bytes(mi, ci), "%s: bytes %zu, want %zu", dir, sl_adapter_bytes(a),
                   expected_bytes(mi, ci));
            CHECKF(sl_adapter_wtype(a) == case_info[ci].wt, "%s: stored as %s", dir, sl_wtype_name(sl_adapter_wtype(a)));
            for (int l = 0; l < nl; l++)
                for (int mod = 0; mod < SL_MOD_COUNT; mod++) {
                    const sl_adapter_module *am = sl_adapter_get_module(a, l, (sl_module)mod);
                    int on = (case_info[ci].mask >> mod) & 1;
                    CHECKF(am && am->r == (on ? case_info[ci].r : 0), "%s: layer %d %s r=%d", dir, l,
                           sl_module_name((sl_module)mod), am ? am->r : -1);
                    if (on) CHECK(am->wt == case_info[ci].wt && am->scale);
                    if (on && case_info[ci].kind == SL_ADAPTER_SYMLORA) CHECK(am->qt && !am->a && !am->bt);
                    if (on && case_info[ci].kind == SL_ADAPTER_LORA) CHECK(!am->qt && !am->qt2 && am->a && am->bt);
                }
            const sl_adapter_module *none = sl_adapter_get_module(a, nl, SL_MOD_Q);
            CHECK(none && none->r == 0);
            CHECK(sl_adapter_get_module(a, -1, SL_MOD_Q)->r == 0);
            CHECK(sl_adapter_get_module(NULL, 0, SL_MOD_Q)->r == 0);

            /* The same from memory buffers, as an upload arrives. */
            char p1[512], p2[512];
            size_t cl, wl;
            adapter_path(p1, sizeof p1, mi, case_names[ci], "adapter_config.json");
            adapter_path(p2, sizeof p2, mi, case_names[ci], "adapter_model.safetensors");
            char *c = check_read_file(p1, &cl), *w = check_read_file(p2, &wl);
            sl_adapter *b = NULL;
            rc = sl_adapter_load(&b, models[mi], c, cl, w, wl, NULL, err, sizeof err);
            CHECKF(rc == 0 && b && sl_adapter_bytes(b) == sl_adapter_bytes(a), "%s from memory: %s", dir, err);
            free(c);
            free(w);
            sl_adapter_unref(b);
            sl_adapter_unref(a);
        }
    }
}

/* The stored values: exactly the uploaded ones in the fixture's own type, Q and B transposed
 * (qt: (r, in) and qt2: (r, out - in); bt: (r, out)), A as it is; the F32 scale is s * lambda
 * (SymLoRA) or s in every column (LoRA; B is not scaled). */
TEST(values_are_converted_and_scaled) {
    for (int ci = 0; ci < N_CASES; ci++) {
        char dir[512], err[512] = "";
        adapter_path(dir, sizeof dir, 0, case_names[ci], NULL);
        sl_adapter *a = NULL;
        CHECKF(sl_adapter_load_dir(&a, models[0], dir, NULL, err, sizeof err) == 0, "%s", err);
        tset s;
        CHECK(tset_load(&s, 0, case_names[ci]) == 0);
        if (!a) { tset_free(&s); continue; }
        double scale = case_info[ci].alpha / case_info[ci].r;
        int nl = sl_model_get_config(models[0])->n_layers;
        for (int l = 0; l < nl; l++)
            for (int mod = 0; mod < SL_MOD_COUNT; mod++) {
                if (!((case_info[ci].mask >> mod) & 1)) continue;
                const sl_adapter_module *am = sl_adapter_get_module(a, l, (sl_module)mod);
                const char *leaf = sl_module_name((sl_module)mod);
                int sym = case_info[ci].kind == SL_ADAPTER_SYMLORA;
                ttensor *t0 = tset_find(&s, sym ? SYM_Q(l, leaf) : LORA_A(l, leaf));
                ttensor *t1 = tset_find(&s, sym ? SYM_L(l, leaf) : LORA_B(l, leaf));
                CHECK(t0 && t1);
                if (!t0 || !t1) continue;
                size_t n0 = (size_t)(t0->shape[0] * t0->shape[1]), n1 = (size_t)t1->shape[0] * (t1->ndim == 2 ? (size_t)t1->shape[1] : 1);
                float *v0 = malloc(n0 * 4), *v1 = malloc(n1 * 4);
                sl_tensor st0 = {.dtype = t0->dtype, .nelem = (int64_t)n0, .data = t0->data, .nbytes = t0->nbytes};
                sl_tensor st1 = {.dtype = t1->dtype, .nelem = (int64_t)n1, .data = t1->data, .nbytes = t1->nbytes};
                CHECK(sl_tensor_to_f32(&st0, v0, n0) == 0 && sl_tensor_to_f32(&st1, v1, n1) == 0);
                const void *got0 = sym ? am->qt : am->a;
                /* Q (rows, r) or B (out, r): element i = (i / r, i % r) is stored at (i % r, i / r). */
                const ttensor *tt = sym ? t0 : t1;
                size_t rows = (size_t)tt->shape[0], r = (size_t)tt->shape[1];
                CHECK(r == (size_t)am->r);
                int bad = 0;
                /* SymLoRA: Q^T as [Q[:in]^T (r, in) | Q[in:]^T (r, out - in)] (adapter.h). */
                int mi_;
                sl_model_module_shape(models[0], (sl_module)mod, NULL, &mi_);
                size_t split = sym ? (size_t)mi_ : rows;
                for (size_t i = 0; i < n0; i++) {
                    size_t k = i / r, j = i % r;
                    size_t at = !sym ? i : k < split ? j * split + k : r * split + j * (rows - split) + (k - split);
                    bad += sl_adapter_elem(am->wt, got0, at) != v0[i];
                }
                if (sym)
                    for (size_t i = 0; i < n1; i++) bad += am->scale[i] != (float)(v1[i] * scale);
                else
                    for (size_t i = 0; i < n1; i++) bad += sl_adapter_elem(am->wt, am->bt, (i % r) * rows + i / r) != v1[i];
                for (size_t j = 0; !sym && j < r; j++) bad += am->scale[j] != (float)scale;
                CHECKF(bad == 0, "%s layer %d %s: %d values differ", case_names[ci], l, leaf, bad);
                free(v0);
                free(v1);
            }
        tset_free(&s);
        sl_adapter_unref(a);
    }
}

/* ---- 2. resident bytes: n*r + r vs 2*n*r + r per square module, exactly --------------------- */

TEST(resident_bytes_symlora_half_of_lora) {
    for (int mi = 0; mi < N_MODELS; mi++) {
        int nl = sl_model_get_config(models[mi])->n_layers;
        char dir[512], err[512] = "";
        adapter_path(dir, sizeof dir, mi, "symlora-qo-r8", NULL);
        sl_adapter *sym = NULL, *lora = NULL;
        CHECKF(sl_adapter_load_dir(&sym, models[mi], dir, NULL, err, sizeof err) == 0, "%s", err);
        /* The LoRA of the same rank and targets, generated here. */
        const int r = 8;
        tset s = {.n = 0};
        size_t n = 0;
        for (int l = 0; l < nl; l++) {
            static const char *const leaves[2] = {"q_proj", "o_proj"};
            for (int k = 0; k < 2; k++) {
                int out, in;
                sl_model_module_shape(models[mi], (sl_module)sl_module_parse(leaves[k]), &out, &in);
                CHECK(out == in);
                n = (size_t)in;
                int64_t sa[2] = {r, in}, sb[2] = {out, r};
                ttensor *A = tset_add(&s, LORA_A(l, leaves[k]), SL_DTYPE_F32, 2, sa, NULL, (size_t)r * in * 4);
                ttensor *B = tset_add(&s, LORA_B(l, leaves[k]), SL_DTYPE_F32, 2, sb, NULL, (size_t)out * r * 4);
                for (int i = 0; i < r * in; i++) f32(A)[i] = (float)((i * 37 % 101) - 50) / 500.0f;
                for (int i = 0; i < out * r; i++) f32(B)[i] = (float)((i * 53 % 97) - 48) / 500.0f;
            }
        }
        const char *cfg = "{\"peft_type\": \"LORA\", \"r\": 8, \"lora_alpha\": 16, \"target_modules\": [\"q_proj\", \"o_proj\"]}";
        CHECKF(try_load(mi, NULL, cfg, &s, 0, &lora, err, sizeof err) == 0, "generated LoRA: %s", err);
        tset_free(&s);
        if (sym && lora) {
            size_t modules = (size_t)nl * 2;
            size_t want_sym = modules * (n * r + r) * sizeof(float);
            size_t want_lora = modules * (2 * n * r + r) * sizeof(float); /* + the scale s per column */
            CHECKF(sl_adapter_bytes(sym) == want_sym, "%s symlora-qo-r8: %zu bytes, want %zu", model_names[mi],
                   sl_adapter_bytes(sym), want_sym);
            CHECKF(sl_adapter_bytes(lora) == want_lora, "%s lora-qo-r8: %zu bytes, want %zu", model_names[mi],
                   sl_adapter_bytes(lora), want_lora);
            /* llama-tiny: n = 64, r = 8, 4 modules: 8320 vs 16512 bytes. */
            if (mi == 0) CHECK(sl_adapter_bytes(sym) == 8320 && sl_adapter_bytes(lora) == 16512);
        }
        sl_adapter_unref(sym);
        sl_adapter_unref(lora);
    }
}

/* ---- 2b. adapters stay in their precision ------------------------------------------------
 *
 * A fixture adapter converted to BF16 (or F16) keeps its matrices in that type: half the
 * matrix bytes of the F32 upload (the F32 scales stay), and its forward pass equals, bit for
 * bit, that of the F32 adapter whose values were rounded to the type (the kernel widens
 * exactly, in the F32 kernel's order: lowrank.h). SymLoRA square and non-square (qt2), and
 * LoRA, on both models, prefill logits of every prompt and a greedy continuation. */
TEST(half_precision_adapters_stay_half_and_equal_rounded_f32) {
    static const int cases[] = {0, 2, 3}; /* lora-all-r8, symlora-qo-r8, symlora-all-r4 */
    static const sl_dtype dts[] = {SL_DTYPE_BF16, SL_DTYPE_F16};
    int compared = 0;
    for (int mi = 0; mi < N_MODELS; mi++) {
        const sl_model_config *c = sl_model_get_config(models[mi]);
        for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
            int ci = cases[k];
            json_t *cfg = cfg_load(mi, case_names[ci]);
            for (size_t d = 0; d < 2; d++) {
                sl_wtype wt = dts[d] == SL_DTYPE_BF16 ? SL_WTYPE_BF16 : SL_WTYPE_F16;
                tset half, rounded;
                tset_load(&half, mi, case_names[ci]);
                tset_load(&rounded, mi, case_names[ci]);
                for (int i = 0; i < half.n; i++) {
                    to_half(&half.t[i], dts[d]);
                    ttensor *t = &rounded.t[i]; /* F32 holding the rounded values */
                    for (size_t e = 0; e < t->nbytes / 4; e++)
                        f32(t)[e] = wt == SL_WTYPE_BF16 ? sl_bf16_to_f32(sl_f32_to_bf16(f32(t)[e]))
                                                        : sl_f16_to_f32(sl_f32_to_f16(f32(t)[e]));
                }
                char err[512] = "";
                sl_adapter *ah = NULL, *af = NULL;
                CHECKF(try_load(mi, cfg, NULL, &half, 0, &ah, err, sizeof err) == 0, "%s as %s: %s", case_names[ci],
                       sl_wtype_name(wt), err);
                CHECKF(try_load(mi, cfg, NULL, &rounded, 0, &af, err, sizeof err) == 0, "%s rounded: %s", case_names[ci], err);
                if (ah && af) {
                    CHECK(sl_adapter_wtype(ah) == wt && sl_adapter_wtype(af) == SL_WTYPE_F32);
                    CHECKF(sl_adapter_bytes(af) == expected_bytes_as(mi, ci, SL_WTYPE_F32) &&
                               sl_adapter_bytes(ah) == expected_bytes_as(mi, ci, wt),
                           "%s %s: %zu bytes vs F32 %zu", case_names[ci], sl_wtype_name(wt), sl_adapter_bytes(ah),
                           sl_adapter_bytes(af));
                    if (mi == 0 && ci == 2 && d == 0)
                        printf("    %s %s: %zu bytes resident, F32 upload %zu (%.3f)\n", model_names[mi], case_names[ci],
                               sl_adapter_bytes(ah), sl_adapter_bytes(af), (double)sl_adapter_bytes(ah) / (double)sl_adapter_bytes(af));
                    for (int p = 0; p < golden_n_prompts(&G, model_names[mi]); p++) {
                        int32_t prompt[256], gh[4], gf[4];
                        int n = golden_prompt(&G, model_names[mi], p, prompt, 256);
                        size_t nl = (size_t)n * c->vocab;
                        float *lh = malloc(nl * sizeof(float)), *lf = malloc(nl * sizeof(float));
                        CHECK(golden_run_alone(models[mi], ah, prompt, n, lh, 4, gh) == 0);
                        CHECK(golden_run_alone(models[mi], af, prompt, n, lf, 4, gf) == 0);
                        CHECKF(memcmp(lh, lf, nl * sizeof(float)) == 0 && memcmp(gh, gf, sizeof gh) == 0,
                               "%s %s as %s, prompt %d: differs from the F32 adapter of the rounded values (max %.3g)",
                               model_names[mi], case_names[ci], sl_wtype_name(wt), p, max_abs_diff(lh, lf, nl));
                        compared++;
                        free(lh);
                        free(lf);
                    }
                }
                sl_adapter_unref(ah);
                sl_adapter_unref(af);
                tset_free(&half);
                tset_free(&rounded);
            }
            json_decref(cfg);
        }
    }
    printf("    %d (model, adapter, type, prompt) runs: BF16 / F16 == F32 of the rounded values, bit for bit\n", compared);
}

/* ---- 3. the broken-adapter corpus -------------------------------------------------------- */

TEST(broken_weights_rejected_with_reasons) {
    char err[1024];
    json_t *cfg = cfg_load(0, "symlora-qo-r8");
    CHECK(cfg != NULL);
    tset s;
    const char *Q0 = "base_model.model.model.layers.0.self_attn.q_proj.symlora_Q.weight";
    const char *L0 = "base_model.model.model.layers.0.self_attn.q_proj.symlora_lambda";
    const char *Q1o = "base_model.model.model.layers.1.self_attn.o_proj.symlora_Q.weight";
    const char *L1o = "base_model.model.model.layers.1.self_attn.o_proj.symlora_lambda";
    int rc;

    /* the good one first */
    tset_load(&s, 0, "symlora-qo-r8");
    CHECKF(try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err) == 0, "good: %s", err);
    tset_free(&s);

    /* truncated weights */
    {
        char p[512], *c;
        size_t wl, cl;
        adapter_path(p, sizeof p, 0, "symlora-qo-r8", "adapter_model.safetensors");
        char *w = check_read_file(p, &wl);
        adapter_path(p, sizeof p, 0, "symlora-qo-r8", "adapter_config.json");
        c = check_read_file(p, &cl);
        size_t cuts[] = {wl - 1, wl - 100, wl / 2, 300, 9, 5, 0};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            sl_adapter *a = NULL;
            err[0] = 0;
            rc = sl_adapter_load(&a, models[0], c, cl, w, cuts[i], NULL, err, sizeof err);
            char what[64];
            snprintf(what, sizeof what, "truncated to %zu bytes", cuts[i]);
            expect_reject(what, rc, err, "adapter_model.safetensors", NULL, NULL);
            CHECK(a == NULL);
        }
        free(w);
        free(c);
    }

    /* wrong shape */
    tset_load(&s, 0, "symlora-qo-r8");
    tset_find(&s, Q0)->shape[0] = 32;
    tset_find(&s, Q0)->nbytes = 32 * 8 * 4;
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("wrong shape", rc, err, Q0, "wrong shape [32, 8]", "[64, 8]");
    tset_free(&s);

    /* 3-D Q */
    tset_load(&s, 0, "symlora-qo-r8");
    {
        ttensor *t = tset_find(&s, Q0);
        t->ndim = 3;
        t->shape[0] = 64, t->shape[1] = 4, t->shape[2] = 2;
    }
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("3-D Q", rc, err, Q0, "2-D", NULL);
    tset_free(&s);

    /* missing lambda */
    tset_load(&s, 0, "symlora-qo-r8");
    tset_remove(&s, L1o);
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("missing lambda", rc, err, L1o, "missing", NULL);
    tset_free(&s);

    /* missing whole module / empty file */
    tset_load(&s, 0, "symlora-qo-r8");
    tset_remove(&s, Q1o);
    tset_remove(&s, L1o);
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("missing module", rc, err, Q1o, "missing", NULL);
    tset_free(&s);
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("no tensors", rc, err, "missing", "symlora_Q.weight", NULL);

    /* Q and lambda of different ranks */
    tset_load(&s, 0, "symlora-qo-r8");
    keep_cols(tset_find(&s, L0), 4);
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("Q/lambda ranks", rc, err, Q0, L0, "same rank");
    tset_free(&s);

    /* both of rank 4 while the config says 8 */
    tset_load(&s, 0, "symlora-qo-r8");
    keep_cols(tset_find(&s, Q0), 4);
    keep_cols(tset_find(&s, L0), 4);
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("rank vs config", rc, err, Q0, "r = 8", "rank 4");
    tset_free(&s);

    /* unknown module in a tensor name */
    tset_load(&s, 0, "symlora-qo-r8");
    snprintf(tset_find(&s, Q0)->name, 200, "base_model.model.model.layers.0.self_attn.qx_proj.symlora_Q.weight");
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("unknown module tensor", rc, err, "base_model.model.model.layers.0.self_attn.qx_proj.symlora_Q.weight",
                  "unknown module", NULL);
    tset_free(&s);

    /* a module under the wrong parent */
    tset_load(&s, 0, "symlora-qo-r8");
    snprintf(tset_find(&s, Q0)->name, 200, "base_model.model.model.layers.0.mlp.q_proj.symlora_Q.weight");
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("wrong parent", rc, err, "layers.0.mlp.q_proj.symlora_Q.weight", "self_attn", NULL);
    tset_free(&s);

    /* a layer the model does not have */
    tset_load(&s, 0, "symlora-qo-r8");
    snprintf(tset_find(&s, Q0)->name, 200, "base_model.model.model.layers.2.self_attn.q_proj.symlora_Q.weight");
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("layer out of range", rc, err, "layers.2.self_attn.q_proj", "layer 2 does not exist", NULL);
    tset_free(&s);
    tset_load(&s, 0, "symlora-qo-r8");
    snprintf(tset_find(&s, Q0)->name, 200, "base_model.model.model.layers.00.self_attn.q_proj.symlora_Q.weight");
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("leading zero layer", rc, err, "layers.00.", "layer", NULL);
    tset_free(&s);

    /* a tensor containing NaN, and one containing Inf */
    tset_load(&s, 0, "symlora-qo-r8");
    f32(tset_find(&s, Q1o))[77] = NAN;
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("NaN", rc, err, Q1o, "NaN", "element 77");
    tset_free(&s);
    tset_load(&s, 0, "symlora-qo-r8");
    f32(tset_find(&s, L0))[3] = -INFINITY;
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("Inf", rc, err, L0, "Inf", NULL);
    tset_free(&s);
    /* NaN in a BF16 tensor */
    tset_load(&s, 0, "symlora-qo-r8");
    f32(tset_find(&s, Q0))[0] = NAN;
    to_half(tset_find(&s, Q0), SL_DTYPE_BF16);
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("NaN bf16", rc, err, Q0, "NaN", NULL);
    tset_free(&s);

    /* extra tensors: a module not in target_modules, the other kind's tensor, something else */
    tset_load(&s, 0, "symlora-qo-r8");
    {
        int64_t sq[2] = {192, 8}, sl[1] = {8};
        tset_add(&s, SYM_Q(0, "up_proj"), SL_DTYPE_F32, 2, sq, NULL, 192 * 8 * 4);
        tset_add(&s, SYM_L(0, "up_proj"), SL_DTYPE_F32, 1, sl, NULL, 8 * 4);
    }
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("extra module", rc, err, "base_model.model.model.layers.0.mlp.up_proj.symlora_Q.weight", "extra tensor",
                  "target_modules");
    tset_free(&s);
    tset_load(&s, 0, "symlora-qo-r8");
    {
        int64_t sa[2] = {8, 64};
        tset_add(&s, LORA_A(1, "q_proj"), SL_DTYPE_F32, 2, sa, NULL, 8 * 64 * 4);
    }
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("LoRA tensor in SymLoRA", rc, err, "layers.1.self_attn.q_proj.lora_A.weight", "LORA tensor", "SYMLORA");
    tset_free(&s);
    tset_load(&s, 0, "symlora-qo-r8");
    {
        int64_t sh[2] = {1024, 64};
        tset_add(&s, "base_model.model.lm_head.weight", SL_DTYPE_F32, 2, sh, NULL, 1024 * 64 * 4);
    }
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("lm_head tensor", rc, err, "base_model.model.lm_head.weight", "unexpected tensor", NULL);
    tset_free(&s);
    tset_load(&s, 0, "symlora-qo-r8");
    snprintf(tset_find(&s, Q0)->name, 200, "base_model.model.model.layers.0.self_attn.q_proj.symlora_Q.default.weight");
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("adapter-named tensor", rc, err, "q_proj.symlora_Q.default.weight", "unexpected tensor", NULL);
    tset_free(&s);

    /* dtypes: BF16 mixed with F16 loads as F32 (exact: neither holds the other), every value
     * as uploaded; lambda's dtype does not choose the type; I32 is rejected */
    tset_load(&s, 0, "symlora-qo-r8");
    for (int i = 0; i < s.n; i++) to_half(&s.t[i], strcmp(s.t[i].name, Q0) ? SL_DTYPE_F16 : SL_DTYPE_BF16);
    sl_adapter *a = NULL;
    rc = try_load(0, cfg, NULL, &s, 0, &a, err, sizeof err);
    CHECKF(rc == 0, "BF16/F16 mix: %s", err);
    if (a) {
        CHECK(sl_adapter_wtype(a) == SL_WTYPE_F32);
        ttensor *t = tset_find(&s, Q0), *t1 = tset_find(&s, Q1o);
        const float *qt = sl_adapter_get_module(a, 0, SL_MOD_Q)->qt, *qt1 = sl_adapter_get_module(a, 1, SL_MOD_O)->qt;
        CHECK(qt[5 * t->shape[0]] == sl_bf16_to_f32(((uint16_t *)t->data)[5])); /* Q[0][5] is Q^T[5][0] */
        CHECK(qt1[5 * t1->shape[0]] == sl_f16_to_f32(((uint16_t *)t1->data)[5]));
        CHECKF(sl_adapter_bytes(a) == expected_bytes_as(0, 2, SL_WTYPE_F32), "BF16 + F16 mix: %zu bytes", sl_adapter_bytes(a));
    }
    sl_adapter_unref(a);
    tset_free(&s);
    tset_load(&s, 0, "symlora-qo-r8"); /* every Q F16, lambdas F32 and BF16: stored as F16 */
    for (int i = 0; i < s.n; i++)
        if (strstr(s.t[i].name, "symlora_Q")) to_half(&s.t[i], SL_DTYPE_F16);
        else if (strstr(s.t[i].name, "layers.1.")) to_half(&s.t[i], SL_DTYPE_BF16);
    a = NULL;
    rc = try_load(0, cfg, NULL, &s, 0, &a, err, sizeof err);
    CHECKF(rc == 0 && a && sl_adapter_wtype(a) == SL_WTYPE_F16 && sl_adapter_bytes(a) == expected_bytes_as(0, 2, SL_WTYPE_F16),
           "F16 Q with F32 / BF16 lambdas: %s", err);
    sl_adapter_unref(a);
    tset_free(&s);
    /* Inf in an F16 tensor (the widest F16 is 65504; F32 70000 rounds to Inf) */
    tset_load(&s, 0, "symlora-qo-r8");
    f32(tset_find(&s, Q1o))[9] = 70000.0f;
    for (int i = 0; i < s.n; i++) to_half(&s.t[i], SL_DTYPE_F16);
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("Inf f16", rc, err, Q1o, "Inf", "element 9");
    tset_free(&s);
    tset_load(&s, 0, "symlora-qo-r8");
    tset_find(&s, L1o)->dtype = SL_DTYPE_I32;
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("I32 dtype", rc, err, L1o, "dtype I32", "F32");
    tset_free(&s);
    tset_load(&s, 0, "symlora-qo-r8");
    {
        ttensor *t = tset_find(&s, L0);
        t->dtype = SL_DTYPE_F64;
        t->shape[0] = 4; /* 8 * 4 bytes = 4 doubles */
    }
    rc = try_load(0, cfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("F64 dtype", rc, err, L0, "dtype F64", NULL);
    tset_free(&s);

    /* LoRA: A/B ranks differ, B of the wrong shape */
    json_t *lcfg = cfg_load(0, "lora-qv-r4");
    tset_load(&s, 0, "lora-qv-r4");
    keep_cols(tset_find(&s, LORA_B(1, "v_proj")), 2);
    rc = try_load(0, lcfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("A/B ranks", rc, err, "layers.1.self_attn.v_proj.lora_B.weight", "same rank", NULL);
    tset_free(&s);
    tset_load(&s, 0, "lora-qv-r4");
    {
        ttensor *t = tset_find(&s, LORA_B(0, "v_proj"));
        t->shape[0] = 64, t->shape[1] = 2; /* same bytes, [64, 2] instead of [32, 4] */
        ttensor *ta = tset_find(&s, LORA_A(0, "v_proj"));
        ta->shape[0] = 2, ta->shape[1] = 128;
    }
    rc = try_load(0, lcfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("LoRA rank 2", rc, err, "layers.0.self_attn.v_proj.lora_A.weight", "rank 2", NULL);
    tset_free(&s);
    tset_load(&s, 0, "lora-qv-r4");
    {
        ttensor *t = tset_find(&s, LORA_B(0, "v_proj"));
        t->data = realloc(t->data, 64 * 4 * 4);
        t->shape[0] = 64, t->nbytes = 64 * 4 * 4;
        memset(t->data, 0, t->nbytes);
    }
    rc = try_load(0, lcfg, NULL, &s, 0, NULL, err, sizeof err);
    expect_reject("LoRA B shape", rc, err, "layers.0.self_attn.v_proj.lora_B.weight", "[32, 4]", "shape");
    tset_free(&s);
    json_decref(lcfg);
    json_decref(cfg);
}

static void set_and_reject(const char *what, int mi, const char *cas, const char *key, json_t *val, int max_rank,
                           const char *w1, const char *w2, const char *w3) {
    json_t *cfg = cfg_load(mi, cas);
    json_object_set_new(cfg, key, val);
    tset s;
    tset_load(&s, mi, cas);
    char err[1024];
    int rc = try_load(mi, cfg, NULL, &s, max_rank, NULL, err, sizeof err);
    expect_reject(what, rc, err, w1, w2, w3);
    tset_free(&s);
    json_decref(cfg);
}

TEST(broken_configs_rejected_with_reasons) {
    set_and_reject("rank 0", 0, "symlora-qo-r8", "r", json_integer(0), 0, "adapter_config.json", "r = 0", "1..256");
    set_and_reject("rank -3", 0, "lora-qv-r4", "r", json_integer(-3), 0, "r = -3", "out of range", NULL);
    set_and_reject("rank above default max", 0, "symlora-qo-r8", "r", json_integer(300), 0, "r = 300", "1..256", "max_rank");
    set_and_reject("rank as string", 0, "symlora-qo-r8", "r", json_string("8"), 0, "r must be an integer", NULL, NULL);
    set_and_reject("rank above max_rank", 0, "symlora-qo-r8", "r", json_integer(8), 4, "r = 8", "1..4", "max_rank");
    set_and_reject("negative alpha", 0, "symlora-qo-r8", "lora_alpha", json_real(-16), 0, "lora_alpha", "-16", "> 0");
    set_and_reject("zero alpha", 0, "lora-qv-r4", "lora_alpha", json_integer(0), 0, "lora_alpha", "> 0", NULL);
    set_and_reject("alpha string", 0, "lora-qv-r4", "lora_alpha", json_string("8"), 0, "lora_alpha", "number", NULL);
    set_and_reject("peft_type IA3", 0, "lora-qv-r4", "peft_type", json_string("IA3"), 0, "peft_type", "IA3", "not supported");
    set_and_reject("peft_type number", 0, "lora-qv-r4", "peft_type", json_integer(1), 0, "peft_type", "string", NULL);
    set_and_reject("unknown target module", 0, "symlora-qo-r8", "target_modules",
                   json_pack("[s, s, s]", "q_proj", "o_proj", "lm_head"), 0, "target_modules", "lm_head", "unknown module");
    set_and_reject("typo target module", 0, "lora-qv-r4", "target_modules", json_pack("[s, s]", "q_proj", "vproj"), 0,
                   "target_modules", "vproj", "unknown module");
    set_and_reject("empty targets", 0, "lora-qv-r4", "target_modules", json_array(), 0, "target_modules", "empty", NULL);
    set_and_reject("target not a list", 0, "lora-qv-r4", "target_modules", json_integer(3), 0, "target_modules", NULL, NULL);
    set_and_reject("targets fewer than tensors", 0, "lora-qv-r4", "target_modules", json_pack("[s]", "q_proj"), 0,
                   "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", "extra tensor", NULL);
    set_and_reject("targets more than tensors", 0, "lora-qv-r4", "target_modules", json_pack("[s, s, s]", "q_proj", "v_proj", "k_proj"), 0,
                   "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight", "missing", NULL);
    set_and_reject("use_dora", 0, "lora-qv-r4", "use_dora", json_true(), 0, "use_dora", "not support", NULL);
    set_and_reject("modules_to_save", 0, "lora-qv-r4", "modules_to_save", json_pack("[s]", "lm_head"), 0, "modules_to_save", NULL, NULL);
    set_and_reject("bias", 0, "lora-qv-r4", "bias", json_string("all"), 0, "bias", "none", NULL);
    set_and_reject("use_rslora type", 0, "lora-qv-r4", "use_rslora", json_string("yes"), 0, "use_rslora", NULL, NULL);
    set_and_reject("rank_pattern bad value", 0, "lora-qv-r4", "rank_pattern", json_pack("{s:i}", "q_proj", 0), 0,
                   "rank_pattern[\"q_proj\"]", "1..256", NULL);
    set_and_reject("rank_pattern disagrees", 0, "lora-qv-r4", "rank_pattern", json_pack("{s:i}", "v_proj", 2), 0,
                   "v_proj.lora_A.weight", "rank_pattern = 2", NULL);
    set_and_reject("alpha_pattern negative", 0, "lora-qv-r4", "alpha_pattern", json_pack("{s:f}", "q_proj", -1.0), 0,
                   "alpha_pattern[\"q_proj\"]", "> 0", NULL);
    set_and_reject("rank_pattern bad regex", 0, "lora-qv-r4", "rank_pattern", json_pack("{s:i}", "q_proj(", 4), 0,
                   "rank_pattern", "regular expression", NULL);
    set_and_reject("layers_to_transform out of range", 0, "lora-qv-r4", "layers_to_transform", json_pack("[i]", 5), 0,
                   "layers_to_transform", "layer 5", NULL);
    set_and_reject("layers_pattern", 0, "lora-qv-r4", "layers_pattern", json_string("h"), 0, "layers_pattern", NULL, NULL);

    char err[1024];
    tset s;
    tset_load(&s, 0, "symlora-qo-r8");
    const char *bad[][2] = {
        {"{\"peft_type\": \"SYMLORA\", \"r\": 8, ", "malformed JSON"},
        {"", "empty"},
        {"[1, 2]", "not a JSON object"},
        {"{\"peft_type\": \"SYMLORA\", \"r\": 8, \"r\": 8, \"lora_alpha\": 16, \"target_modules\": [\"q_proj\", \"o_proj\"]}", "duplicate"},
        {"{\"r\": 8, \"lora_alpha\": 16, \"target_modules\": [\"q_proj\", \"o_proj\"]}", "peft_type is missing"},
        {"{\"peft_type\": \"SYMLORA\", \"lora_alpha\": 16, \"target_modules\": [\"q_proj\", \"o_proj\"]}", "r (the rank) is missing"},
        {"{\"peft_type\": \"SYMLORA\", \"r\": 8, \"target_modules\": [\"q_proj\", \"o_proj\"]}", "lora_alpha is missing"},
        {"{\"peft_type\": \"SYMLORA\", \"r\": 8, \"lora_alpha\": 16}", "target_modules is missing"},
        {"{\"peft_type\": \"SYMLORA\", \"r\": 8, \"lora_alpha\": 1e400, \"target_modules\": [\"q_proj\", \"o_proj\"]}", "adapter_config.json"},
        {"{\"peft_type\": \"SYMLORA\", \"r\": 8, \"lora_alpha\": 16, \"target_modules\": \"(q_proj\"}", "regular expression"},
        {"{\"peft_type\": \"SYMLORA\", \"r\": 8, \"lora_alpha\": 16, \"target_modules\": \"lm_head\"}", "selects no module"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = try_load(0, NULL, bad[i][0], &s, 0, NULL, err, sizeof err);
        char what[64];
        snprintf(what, sizeof what, "config text %zu", i);
        expect_reject(what, rc, err, "adapter_config.json", bad[i][1], NULL);
    }
    tset_free(&s);
}

/* ---- 4. PEFT config features ------------------------------------------------------------- */

static sl_adapter *load_with(int mi, const char *cas, json_t *cfg, tset *s, char *err, size_t errlen) {
    sl_adapter *a = NULL;
    int rc = try_load(mi, cfg, NULL, s, 0, &a, err, errlen);
    return rc ? NULL : a;
}

TEST(peft_config_features) {
    char err[1024] = "";
    tset s;

    /* target_modules "all-linear" */
    json_t *cfg = cfg_load(1, "symlora-all-r4");
    json_object_set_new(cfg, "target_modules", json_string("all-linear"));
    tset_load(&s, 1, "symlora-all-r4");
    sl_adapter *a = load_with(1, "symlora-all-r4", cfg, &s, err, sizeof err);
    CHECKF(a && sl_adapter_module_mask(a) == 0x7f, "all-linear: %s", err);
    sl_adapter_unref(a);
    /* target_modules as a regex string (PEFT: re.fullmatch on the module name) */
    json_object_set_new(cfg, "target_modules", json_string("model\\.layers\\.\\d+\\.(self_attn|mlp)\\.\\w+_proj"));
    a = load_with(1, "symlora-all-r4", cfg, &s, err, sizeof err);
    CHECKF(a && sl_adapter_module_mask(a) == 0x7f, "regex target: %s", err);
    sl_adapter_unref(a);
    /* exclude_modules removes v_proj: its tensors become extra, then without them it loads */
    json_object_set_new(cfg, "target_modules", json_string("all-linear"));
    json_object_set_new(cfg, "exclude_modules", json_pack("[s]", "v_proj"));
    a = load_with(1, "symlora-all-r4", cfg, &s, err, sizeof err);
    CHECKF(!a && strstr(err, "v_proj.symlora_") && strstr(err, "extra tensor"), "exclude_modules: %s", err);
    sl_adapter_unref(a);
    for (int l = 0; l < 2; l++) {
        tset_remove(&s, SYM_Q(l, "v_proj"));
        tset_remove(&s, SYM_L(l, "v_proj"));
    }
    a = load_with(1, "symlora-all-r4", cfg, &s, err, sizeof err);
    CHECKF(a && sl_adapter_module_mask(a) == (0x7fu & ~(1u << SL_MOD_V)), "exclude_modules: %s", err);
    sl_adapter_unref(a);
    tset_free(&s);
    json_decref(cfg);

    /* suffix paths in target_modules, and layers_to_transform */
    cfg = cfg_load(0, "lora-qv-r4");
    json_object_set_new(cfg, "target_modules", json_pack("[s, s, s]", "self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                                                         "layers.1.self_attn.v_proj"));
    tset_load(&s, 0, "lora-qv-r4");
    a = load_with(0, "lora-qv-r4", cfg, &s, err, sizeof err);
    CHECKF(a && sl_adapter_module_mask(a) == ((1u << SL_MOD_Q) | (1u << SL_MOD_V)), "suffix targets: %s", err);
    sl_adapter_unref(a);
    json_object_set_new(cfg, "target_modules", json_pack("[s, s]", "q_proj", "v_proj"));
    json_object_set_new(cfg, "layers_to_transform", json_pack("[i]", 1));
    a = load_with(0, "lora-qv-r4", cfg, &s, err, sizeof err);
    CHECKF(!a && strstr(err, "layers.0.self_attn.") && strstr(err, "extra tensor"), "layers_to_transform: %s", err);
    tset_remove(&s, LORA_A(0, "q_proj"));
    tset_remove(&s, LORA_B(0, "q_proj"));
    tset_remove(&s, LORA_A(0, "v_proj"));
    tset_remove(&s, LORA_B(0, "v_proj"));
    a = load_with(0, "lora-qv-r4", cfg, &s, err, sizeof err);
    CHECKF(a, "layers_to_transform: %s", err);
    if (a) {
        CHECK(sl_adapter_get_module(a, 0, SL_MOD_Q)->r == 0 && sl_adapter_get_module(a, 1, SL_MOD_Q)->r == 4);
        CHECK(sl_adapter_bytes(a) == expected_bytes(0, 1) / 2);
    }
    sl_adapter_unref(a);
    json_object_set_new(cfg, "layers_to_transform", json_integer(1)); /* PEFT also takes a single int */
    a = load_with(0, "lora-qv-r4", cfg, &s, err, sizeof err);
    CHECKF(a, "layers_to_transform int: %s", err);
    sl_adapter_unref(a);
    tset_free(&s);
    json_decref(cfg);

    /* use_rslora: s = alpha / sqrt(r) = 8 / 2 instead of 8 / 4 */
    cfg = cfg_load(0, "lora-qv-r4");
    tset_load(&s, 0, "lora-qv-r4");
    a = load_with(0, "lora-qv-r4", cfg, &s, err, sizeof err);
    json_object_set_new(cfg, "use_rslora", json_true());
    sl_adapter *b = load_with(0, "lora-qv-r4", cfg, &s, err, sizeof err);
    CHECKF(a && b, "rslora: %s", err);
    if (a && b) {
        const float *Bp = f32(tset_find(&s, LORA_B(1, "v_proj")));
        /* B (out, 4): element 7 = B[1][3], stored unscaled at bt[3 * out + 1]; s is the scale */
        size_t o7 = 3 * (size_t)tset_find(&s, LORA_B(1, "v_proj"))->shape[0] + 1;
        const sl_adapter_module *ma = sl_adapter_get_module(a, 1, SL_MOD_V), *mb = sl_adapter_get_module(b, 1, SL_MOD_V);
        CHECK(((const float *)ma->bt)[o7] == Bp[7] && ((const float *)mb->bt)[o7] == Bp[7]);
        CHECK(ma->scale[3] == 2.0f && mb->scale[3] == 4.0f);
    }
    sl_adapter_unref(a);
    sl_adapter_unref(b);
    tset_free(&s);
    json_decref(cfg);

    /* rank_pattern / alpha_pattern: o_proj at rank 4 everywhere, layer 1's q_proj with alpha 32 */
    cfg = cfg_load(0, "symlora-qo-r8");
    json_object_set_new(cfg, "rank_pattern", json_pack("{s:i}", "o_proj", 4));
    json_object_set_new(cfg, "alpha_pattern", json_pack("{s:i}", "model.layers.1.self_attn.q_proj", 32));
    tset_load(&s, 0, "symlora-qo-r8");
    for (int l = 0; l < 2; l++) {
        keep_cols(tset_find(&s, SYM_Q(l, "o_proj")), 4);
        keep_cols(tset_find(&s, SYM_L(l, "o_proj")), 4);
    }
    a = load_with(0, "symlora-qo-r8", cfg, &s, err, sizeof err);
    CHECKF(a, "rank_pattern: %s", err);
    if (a) {
        CHECK(sl_adapter_rank(a) == 8);
        CHECK(sl_adapter_get_module(a, 0, SL_MOD_O)->r == 4 && sl_adapter_get_module(a, 1, SL_MOD_O)->r == 4);
        CHECK(sl_adapter_get_module(a, 0, SL_MOD_Q)->r == 8 && sl_adapter_get_module(a, 1, SL_MOD_Q)->r == 8);
        const float *lo = f32(tset_find(&s, SYM_L(0, "o_proj")));
        const float *lq0 = f32(tset_find(&s, SYM_L(0, "q_proj"))), *lq1 = f32(tset_find(&s, SYM_L(1, "q_proj")));
        CHECK(sl_adapter_get_module(a, 0, SL_MOD_O)->scale[3] == (float)(lo[3] * 4.0));   /* 16 / 4 */
        CHECK(sl_adapter_get_module(a, 0, SL_MOD_Q)->scale[3] == (float)(lq0[3] * 2.0));  /* 16 / 8 */
        CHECK(sl_adapter_get_module(a, 1, SL_MOD_Q)->scale[3] == (float)(lq1[3] * 4.0));  /* 32 / 8 */
        CHECK(sl_adapter_bytes(a) == (2 * (64 * 8 + 8) + 2 * (64 * 4 + 4)) * sizeof(float));
    }
    sl_adapter_unref(a);
    tset_free(&s);
    json_decref(cfg);
}

/* Patterns are resolved once (sl_adapter_resolve): the resolved config loads the very same
 * adapter without any regex; a catastrophic pattern is refused fast, naming it. */
TEST(patterns_resolved_once_and_bounded) {
    char err[1024] = "";
    tset s;
    json_t *cfg = cfg_load(0, "symlora-qo-r8");
    json_object_set_new(cfg, "rank_pattern", json_pack("{s:i}", "o_proj", 4));
    json_object_set_new(cfg, "alpha_pattern", json_pack("{s:f}", "model.layers.1.self_attn.q_proj", 32.1));
    json_object_set_new(cfg, "target_modules", json_string("model\\.layers\\.\\d+\\.self_attn\\.[qo]_proj"));
    tset_load(&s, 0, "symlora-qo-r8");
    for (int l = 0; l < 2; l++) {
        keep_cols(tset_find(&s, SYM_Q(l, "o_proj")), 4);
        keep_cols(tset_find(&s, SYM_L(l, "o_proj")), 4);
    }
    char *text = json_dumps(cfg, 0), *res = NULL;
    size_t rl = 0;
    int ranks[2 * SL_MOD_COUNT], ranks2[2 * SL_MOD_COUNT];
    double alphas[2 * SL_MOD_COUNT], alphas2[2 * SL_MOD_COUNT];
    sl_adapter_opts up = {.upload = 1};
    int rc = sl_adapter_resolve(models[0], text, strlen(text), &up, &res, &rl, ranks, alphas, err, sizeof err);
    CHECKF(rc == 0 && res && rl == strlen(res), "resolve: %s", err);
    CHECK(ranks[SL_MOD_O] == 4 && ranks[SL_MOD_Q] == 8 && ranks[SL_MOD_K] == 0 && ranks[SL_MOD_COUNT + SL_MOD_O] == 4);
    CHECK(alphas[SL_MOD_Q] == 16 && alphas[SL_MOD_COUNT + SL_MOD_Q] == 32.1);
    if (res) {
        CHECK(strstr(res, "\"" SL_ADAPTER_RESOLVED "\"") != NULL);
        /* The resolved text resolves to the same plan, and a client may not send it. */
        CHECK(sl_adapter_resolve(models[0], res, rl, NULL, NULL, NULL, ranks2, alphas2, err, sizeof err) == 0);
        CHECK(!memcmp(ranks, ranks2, sizeof ranks) && !memcmp(alphas, alphas2, sizeof alphas));
        rc = sl_adapter_resolve(models[0], res, rl, &up, NULL, NULL, NULL, NULL, err, sizeof err);
        CHECKF(rc < 0 && strstr(err, SL_ADAPTER_RESOLVED), "upload with the field: %s", err);
        /* Same adapter, bit for bit, from either config. */
        sl_adapter *a = NULL, *b = NULL;
        CHECKF(try_load(0, NULL, text, &s, 0, &a, err, sizeof err) == 0, "original: %s", err);
        CHECKF(try_load(0, NULL, res, &s, 0, &b, err, sizeof err) == 0, "resolved: %s", err);
        if (a && b) {
            CHECK(sl_adapter_bytes(a) == sl_adapter_bytes(b) && sl_adapter_module_mask(a) == sl_adapter_module_mask(b));
            for (int l = 0; l < 2; l++)
                for (int mod = 0; mod < SL_MOD_COUNT; mod++) {
                    const sl_adapter_module *x = sl_adapter_get_module(a, l, (sl_module)mod), *y = sl_adapter_get_module(b, l, (sl_module)mod);
                    CHECK(x->r == y->r);
                    if (x->r) CHECK(!memcmp(x->scale, y->scale, (size_t)x->r * sizeof(float)));
                }
        }
        sl_adapter_unref(a);
        sl_adapter_unref(b);
        /* A resolved table naming a module the model lacks, or a bad rank, is refused. */
        json_t *rj = json_loads(res, 0, NULL);
        json_t *mods = json_object_get(json_object_get(rj, SL_ADAPTER_RESOLVED), "modules");
        json_object_set_new(mods, "model.layers.9.self_attn.q_proj", json_pack("[i, f]", 8, 16.0));
        char *t2 = json_dumps(rj, 0);
        CHECK(sl_adapter_resolve(models[0], t2, strlen(t2), NULL, NULL, NULL, NULL, NULL, err, sizeof err) < 0 &&
              strstr(err, "does not have"));
        free(t2);
        json_object_del(mods, "model.layers.9.self_attn.q_proj");
        json_object_set_new(mods, "model.layers.0.self_attn.q_proj", json_pack("[i, f]", 0, 16.0));
        t2 = json_dumps(rj, 0);
        CHECK(sl_adapter_resolve(models[0], t2, strlen(t2), NULL, NULL, NULL, NULL, NULL, err, sizeof err) < 0 &&
              strstr(err, "1..256"));
        free(t2);
        json_decref(rj);
    }
    free(res);
    free(text);
    tset_free(&s);

    /* 1000 catastrophic patterns: refused with the first one named, in far less than a second. */
    json_t *pats = json_object();
    char key[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "(.|.)*\\d\\d(?:z)?%d", i);
        json_object_set_new(pats, key, json_integer(4));
    }
    json_object_set_new(cfg, "target_modules", json_pack("[s, s]", "q_proj", "o_proj"));
    json_object_set_new(cfg, "rank_pattern", pats);
    text = json_dumps(cfg, JSON_PRESERVE_ORDER);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = sl_adapter_resolve(models[0], text, strlen(text), &up, NULL, NULL, NULL, NULL, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    CHECKF(rc == SL_ETOOBIG && strstr(err, "rank_pattern key \"(.|.)*\\d\\d(?:z)?0\"") && strstr(err, "limit"),
           "catastrophic: rc %d %s", rc, err);
    CHECKF(secs < 1.0, "1000 catastrophic patterns took %.3f s", secs);
    free(text);
    /* 4000 patterns that backtrack heavily: stopped by the limits or the budget, never run to the end. */
    pats = json_object();
    for (int i = 0; i < 4000; i++) {
        snprintf(key, sizeof key, "(?:.?){0,5}(?:.?){0,5}x%d", i);
        json_object_set_new(pats, key, json_integer(4));
    }
    json_object_set_new(cfg, "rank_pattern", pats);
    text = json_dumps(cfg, JSON_PRESERVE_ORDER);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = sl_adapter_resolve(models[0], text, strlen(text), &up, NULL, NULL, NULL, NULL, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    CHECKF(secs < 2.0, "4000 slow patterns took %.3f s (rc %d %s)", secs, rc, err);
    printf("    # 4000 slow patterns: %.3f s, rc %d: %.120s\n", secs, rc, err);
    free(text);
    json_decref(cfg);
}

/* ---- 5. reference counting --------------------------------------------------------------- */

static void *ref_worker(void *arg) {
    sl_adapter *a = arg;
    for (int i = 0; i < 20000; i++) {
        sl_adapter *r = sl_adapter_ref(a);
        if (sl_adapter_get_module(r, 0, SL_MOD_Q)->r != 8) abort();
        sl_adapter_unref(r);
    }
    sl_adapter_unref(a); /* the reference the main thread took for this worker */
    return NULL;
}

TEST(refcount_across_threads) {
    char dir[512], err[512] = "";
    adapter_path(dir, sizeof dir, 0, "symlora-qo-r8", NULL);
    sl_adapter *a = NULL;
    CHECKF(sl_adapter_load_dir(&a, models[0], dir, NULL, err, sizeof err) == 0, "%s", err);
    if (!a) return;
    pthread_t th[4];
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&th[i], NULL, ref_worker, sl_adapter_ref(a)) == 0);
    sl_adapter_unref(a); /* the loader's reference: the workers' keep it alive */
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    sl_adapter_unref(NULL);
}

/* ---- 6. adapter directories on disk ------------------------------------------------------ */

static void write_file(const char *dir, const char *name, const void *data, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        if (n) fwrite(data, 1, n, f);
        fclose(f);
    }
}

TEST(load_dir_errors_name_the_file) {
    char err[1024] = "", p[512];
    size_t cl, wl;
    sl_adapter *a = NULL;
    CHECK(sl_adapter_load_dir(&a, models[0], "tests/fixtures/adapters/none", NULL, err, sizeof err) == SL_ENOENT &&
          strstr(err, "adapter_config.json") && a == NULL);
    adapter_path(p, sizeof p, 0, "lora-all-r8", "adapter_config.json");
    char *c = check_read_file(p, &cl);
    adapter_path(p, sizeof p, 0, "lora-all-r8", "adapter_model.safetensors");
    char *w = check_read_file(p, &wl);
    write_file(tmpdir, "adapter_config.json", c, cl);
    int rc = sl_adapter_load_dir(&a, models[0], tmpdir, NULL, err, sizeof err);
    CHECKF(rc == SL_ENOENT && strstr(err, "adapter_model.safetensors") && strstr(err, tmpdir), "no weights: %s", err);
    write_file(tmpdir, "adapter_model.safetensors", w, 0);
    rc = sl_adapter_load_dir(&a, models[0], tmpdir, NULL, err, sizeof err);
    expect_reject("empty weights file", rc, err, "adapter_model.safetensors", "too short", tmpdir);
    write_file(tmpdir, "adapter_model.safetensors", w, wl - 4096);
    rc = sl_adapter_load_dir(&a, models[0], tmpdir, NULL, err, sizeof err);
    expect_reject("truncated weights file", rc, err, "adapter_model.safetensors", NULL, NULL);
    write_file(tmpdir, "adapter_model.safetensors", w, wl);
    rc = sl_adapter_load_dir(&a, models[0], tmpdir, NULL, err, sizeof err);
    CHECKF(rc == 0 && a && sl_adapter_bytes(a) == expected_bytes(0, 0), "copied adapter: %s", err);
    sl_adapter_unref(a);
    a = NULL;
    write_file(tmpdir, "adapter_config.json", c, cl / 2);
    rc = sl_adapter_load_dir(&a, models[0], tmpdir, NULL, err, sizeof err);
    expect_reject("truncated config file", rc, err, "adapter_config.json", "malformed JSON", NULL);
    CHECK(a == NULL);
    free(c);
    free(w);
}

/* ---- 7. parity with transformers + peft -------------------------------------------------- */

TEST(golden_logits_and_greedy_with_each_adapter) {
    for (int mi = 0; mi < N_MODELS; mi++) {
        const sl_model_config *c = sl_model_get_config(models[mi]);
        double worst = 0;
        for (int ci = 0; ci < N_CASES; ci++) {
            char dir[512], err[512] = "";
            adapter_path(dir, sizeof dir, mi, case_names[ci], NULL);
            sl_adapter *a = NULL;
            CHECKF(sl_adapter_load_dir(&a, models[mi], dir, NULL, err, sizeof err) == 0, "%s: %s", dir, err);
            if (!a) continue;
            for (int p = 0; p < golden_n_prompts(&G, model_names[mi]); p++) {
                int32_t prompt[256], got[GOLDEN_NEW_TOKENS], want[GOLDEN_NEW_TOKENS];
                int n = golden_prompt(&G, model_names[mi], p, prompt, 256);
                int64_t rows = 0, cols = 0;
                const float *ref = golden_logits(&G, model_names[mi], case_names[ci], p, &rows, &cols);
                CHECKF(ref && rows == n && cols == c->vocab, "%s prompt %d: reference logits", dir, p);
                if (!ref) continue;
                float *logits = malloc((size_t)n * c->vocab * sizeof(float));
                int rc = golden_run_alone(models[mi], a, prompt, n, logits, 1, got);
                CHECKF(rc == 0, "%s: run: %s", dir, sl_strerror(rc));
                double d = max_abs_diff(logits, ref, (size_t)n * c->vocab);
                worst = d > worst ? d : worst;
                CHECKF(d <= 1e-4, "%s prompt %d: max |logit - peft| = %.3g", dir, p, d);
                rc = golden_run_alone(models[mi], a, prompt, n, logits, GOLDEN_NEW_TOKENS, got);
                CHECKF(golden_greedy(&G, model_names[mi], case_names[ci], p, want) == 0, "%s: expected greedy", dir);
                CHECKF(rc == 0 && memcmp(got, want, sizeof got) == 0,
                       "%s prompt %d: greedy continuation differs: got %d %d %d.., want %d %d %d..", dir, p, got[0], got[1],
                       got[2], want[0], want[1], want[2]);
                free(logits);
            }
            sl_adapter_unref(a);
        }
        printf("    %s with adapters: max |logit - peft| = %.3g\n", model_names[mi], worst);
    }
}

/* One batch: the four prompts each under a different adapter (LoRA and SymLoRA mixed), plus
 * one more sequence on the base model and two that share an adapter, then a decode step of
 * all of them; every row equals the same sequence run alone. */
TEST(mixed_adapter_batch_equals_each_alone) {
    for (int mi = 0; mi < N_MODELS; mi++) {
        const sl_model_config *c = sl_model_get_config(models[mi]);
        sl_adapter *ad[N_CASES] = {0};
        for (int ci = 0; ci < N_CASES; ci++) {
            char dir[512], err[512] = "";
            adapter_path(dir, sizeof dir, mi, case_names[ci], NULL);
            CHECKF(sl_adapter_load_dir(&ad[ci], models[mi], dir, NULL, err, sizeof err) == 0, "%s", err);
        }
        int np = golden_n_prompts(&G, model_names[mi]);
        CHECK(np == 4);
        if (np != 4) goto next;
        {
            enum { NS = 7 };
            /* (prompt, adapter case or -1) per sequence, in batch order */
            const int seq_prompt[NS] = {0, 1, 2, 3, 1, 2, 0};
            const int seq_case[NS] = {0, 2, 1, 3, -1, 4, 4};
            int32_t prompts[4][256];
            int len[4];
            for (int p = 0; p < 4; p++) len[p] = golden_prompt(&G, model_names[mi], p, prompts[p], 256);
            float *alone[NS];
            int32_t gen[NS][2];
            int total = 0;
            for (int s = 0; s < NS; s++) {
                int p = seq_prompt[s];
                const sl_adapter *a = seq_case[s] < 0 ? NULL : ad[seq_case[s]];
                alone[s] = malloc((size_t)len[p] * c->vocab * sizeof(float));
                CHECK(golden_run_alone(models[mi], a, prompts[p], len[p], alone[s], 2, gen[s]) == 0);
                total += len[p];
            }
            sl_kv_pool *kv = NULL;
            sl_forward *f = NULL;
            CHECK(sl_kv_pool_init(&kv, models[mi], 64, 16, SL_WTYPE_F32, NULL, 0) == 0);
            CHECK(sl_forward_init(&f, models[mi], 256, 8, 256, 512, NULL, 0) == 0);
            sl_kv_seq ks[NS] = {{0}};
            sl_batch_seq bs[NS];
            float *logits = malloc((size_t)total * c->vocab * sizeof(float));
            for (int s = 0; s < NS; s++) {
                int p = seq_prompt[s];
                CHECK(sl_kv_seq_reserve(kv, &ks[s], len[p] + 2) == 0);
                bs[s] = (sl_batch_seq){.kv = &ks[s], .tokens = prompts[p], .n_tokens = len[p],
                                       .adapter = seq_case[s] < 0 ? NULL : ad[seq_case[s]], .logits = SL_LOGITS_ALL};
            }
            char err[256] = "";
            int rc = sl_forward_run(f, kv, bs, NS, logits, err, sizeof err);
            CHECKF(rc == 0, "mixed prefill: %s", err);
            size_t off = 0;
            for (int s = 0; s < NS && rc == 0; s++) {
                int p = seq_prompt[s];
                double d = max_abs_diff(logits + off, alone[s], (size_t)len[p] * c->vocab);
                CHECKF(d == 0, "%s: sequence %d (prompt %d, %s) in the mixed batch differs by %.3g (must be bit-identical)", model_names[mi], s, p,
                       seq_case[s] < 0 ? "base" : case_names[seq_case[s]], d);
                off += (size_t)len[p] * c->vocab;
            }
            /* decode step: every sequence feeds its first generated token */
            for (int s = 0; s < NS; s++) {
                bs[s].tokens = &gen[s][0];
                bs[s].n_tokens = 1;
                bs[s].logits = SL_LOGITS_LAST;
            }
            rc = sl_forward_run(f, kv, bs, NS, logits, err, sizeof err);
            CHECKF(rc == 0, "mixed decode: %s", err);
            for (int s = 0; s < NS && rc == 0; s++) {
                int p = seq_prompt[s];
                int32_t ext[257], dummy[1];
                memcpy(ext, prompts[p], (size_t)len[p] * sizeof(int32_t));
                ext[len[p]] = gen[s][0];
                float *ref = malloc((size_t)(len[p] + 1) * c->vocab * sizeof(float));
                CHECK(golden_run_alone(models[mi], bs[s].adapter, ext, len[p] + 1, ref, 1, dummy) == 0);
                double d = max_abs_diff(logits + (size_t)s * c->vocab, ref + (size_t)len[p] * c->vocab, (size_t)c->vocab);
                CHECKF(d == 0, "%s: decode of sequence %d in the mixed batch differs by %.3g (must be bit-identical)", model_names[mi], s, d);
                free(ref);
            }
            for (int s = 0; s < NS; s++) sl_kv_seq_release(kv, &ks[s]);
            sl_forward_free(f);
            sl_kv_pool_free(kv);
            /* The same prefill beside a 300-token sequence: a step of more than FUSED_MAX_T
             * (256) rows adds the adapters after the GEMM instead of under it (forward.c:
             * lin_job), and must give the same bits as the short steps alone. */
            enum { FILL = 300 };
            int32_t fill[FILL];
            for (int i = 0; i < FILL; i++) fill[i] = prompts[i % 4][i / 4 % len[i % 4]];
            CHECK(sl_kv_pool_init(&kv, models[mi], 64, 16, SL_WTYPE_F32, NULL, 0) == 0);
            CHECK(sl_forward_init(&f, models[mi], 1024, 8, 1024, 512, NULL, 0) == 0);
            float *big = malloc((size_t)(total + FILL) * c->vocab * sizeof(float));
            sl_kv_seq kf = {0};
            for (int s = 0; s < NS; s++) {
                ks[s] = (sl_kv_seq){0};
                CHECK(sl_kv_seq_reserve(kv, &ks[s], len[seq_prompt[s]]) == 0);
                bs[s] = (sl_batch_seq){.kv = &ks[s], .tokens = prompts[seq_prompt[s]], .n_tokens = len[seq_prompt[s]],
                                       .adapter = seq_case[s] < 0 ? NULL : ad[seq_case[s]], .logits = SL_LOGITS_ALL};
            }
            sl_batch_seq all[NS + 1];
            memcpy(all, bs, sizeof bs);
            CHECK(sl_kv_seq_reserve(kv, &kf, FILL) == 0);
            all[NS] = (sl_batch_seq){.kv = &kf, .tokens = fill, .n_tokens = FILL, .adapter = ad[1], .logits = SL_LOGITS_NONE};
            rc = sl_forward_run(f, kv, all, NS + 1, big, err, sizeof err);
            CHECKF(rc == 0, "long mixed prefill: %s", err);
            off = 0;
            for (int s = 0; s < NS && rc == 0; s++) {
                int p = seq_prompt[s];
                double d = max_abs_diff(big + off, alone[s], (size_t)len[p] * c->vocab);
                CHECKF(d == 0, "%s: sequence %d beside a long prefill differs by %.3g from the short step alone", model_names[mi], s, d);
                off += (size_t)len[p] * c->vocab;
            }
            for (int s = 0; s < NS; s++) {
                sl_kv_seq_release(kv, &ks[s]);
                free(alone[s]);
            }
            sl_kv_seq_release(kv, &kf);
            free(big);
            free(logits);
            sl_forward_free(f);
            sl_kv_pool_free(kv);
        }
    next:
        for (int ci = 0; ci < N_CASES; ci++) sl_adapter_unref(ad[ci]);
    }
}

int main(void) {
    if (golden_open(&G) != 0) {
        printf("cannot open tests/fixtures/expected (run from the repository root)\n# 0 passed, 1 failed\n");
        return 1;
    }
    for (int mi = 0; mi < N_MODELS; mi++) {
        char dir[256], err[512] = "";
        snprintf(dir, sizeof dir, "tests/fixtures/models/%s", model_names[mi]);
        if (sl_model_load(&models[mi], dir, NULL, err, sizeof err) != 0) {
            printf("cannot load %s: %s\n# 0 passed, 1 failed\n", dir, err);
            return 1;
        }
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sl-test-adapter-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("mkdtemp failed\n# 0 passed, 1 failed\n");
        return 1;
    }
    RUN(fixtures_load_with_sane_metadata);
    RUN(values_are_converted_and_scaled);
    RUN(resident_bytes_symlora_half_of_lora);
    RUN(half_precision_adapters_stay_half_and_equal_rounded_f32);
    RUN(broken_weights_rejected_with_reasons);
    RUN(broken_configs_rejected_with_reasons);
    RUN(peft_config_features);
    RUN(patterns_resolved_once_and_bounded);
    RUN(refcount_across_threads);
    RUN(load_dir_errors_name_the_file);
    RUN(golden_logits_and_greedy_with_each_adapter);
    RUN(mixed_adapter_batch_equals_each_alone);
    for (int mi = 0; mi < N_MODELS; mi++) sl_model_free(models[mi]);
    golden_close(&G);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", tmpdir);
    return check_summary();
}
