/* gen_model.c — random models and adapters of real shapes, for benchmarks without downloads.
 *
 *   gen_model model --preset NAME --out DIR [--dtype f32|bf16|f16] [--seed N] [--layers N]
 *                   [--tokenizer DIR]
 *       A Hugging Face model directory: config.json, generation_config.json,
 *       model.safetensors (random weights), tokenizer.json + tokenizer_config.json copied from
 *       --tokenizer (default tests/fixtures/tokenizers/llama3-bpe).
 *       Presets: smollm2-135m, qwen2.5-0.5b, llama-3.2-1b (shapes of the real checkpoints).
 *   gen_model adapters --model DIR --out DIR --count N --kind symlora|lora --rank R
 *                   [--targets all|q_proj,v_proj,...] [--alpha A] [--dtype f32|bf16|f16] [--seed N]
 *       N PEFT-style adapter directories OUT/000, OUT/001, ... (adapter_config.json +
 *       adapter_model.safetensors) for the model whose config.json is in --model. --dtype is the
 *       tensors' dtype (the values drawn in F32, rounded to nearest even); the daemon keeps a
 *       BF16 / F16 adapter in that type (lib/adapters/adapter.h).
 *
 * The fixture tokenizer has a small vocabulary (1024 ids); the model keeps the preset's real
 * vocabulary (>= the tokenizer's), so the embedding and lm_head cost what they cost in the real
 * model. BOS = 0 and EOS = 1 match the fixture tokenizer's <|begin_of_text|> / <|end_of_text|>.
 *
 * Weights are an init of the usual scale: normal(0, 0.02) (sum of four uniforms, from a
 * xoshiro256** stream per tensor), RMSNorm weights 1, so activations stay finite through all layers.
 * Every file is written to NAME.tmp and renamed into place, so an interrupted run leaves no
 * half-written file under its final name. */
#include "model.h"
#include "safetensors.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- random numbers ---- */

typedef struct rng { uint64_t s[4]; } rng;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed * 0x2545f4914f6cdd1dull ^ (stream + 1) * 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(rng *r) { /* xoshiro256** */
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return res;
}

/* Approximately normal(0, 1): the sum of four 16-bit uniforms, centred and scaled
 * (Irwin-Hall n = 4: variance 4/12). Bounded by +-3.46, which is all an init needs. */
static inline float rng_normal(rng *r) {
    uint64_t x = rng_next(r);
    uint32_t s = (uint32_t)(x & 0xffff) + (uint32_t)((x >> 16) & 0xffff) + (uint32_t)((x >> 32) & 0xffff) +
                 (uint32_t)(x >> 48);
    return ((float)s * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
}

/* ---- safetensors writer ---- */

typedef enum fill_kind { FILL_NORMAL, FILL_ONES } fill_kind;

typedef struct tensor_spec {
    char name[200];
    int ndim;
    int64_t shape[2];
    fill_kind fill;
    float scale;      /* FILL_NORMAL: standard deviation */
} tensor_spec;

typedef struct tensor_list {
    tensor_spec *v;
    size_t n, cap;
} tensor_list;

static void die(const char *fmt, const char *arg) {
    fprintf(stderr, "gen_model: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(1);
}

/* snprintf into a path buffer; a path that does not fit is an error, never silently cut. */
static void pathf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *buf, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= size) die("path too long: %s", buf);
}

static void tl_add(tensor_list *tl, const char *name, int64_t d0, int64_t d1, fill_kind fill, float scale) {
    if (tl->n == tl->cap) {
        tl->cap = tl->cap ? 2 * tl->cap : 256;
        tl->v = realloc(tl->v, tl->cap * sizeof *tl->v);
        if (!tl->v) die("%s", "out of memory");
    }
    tensor_spec *t = &tl->v[tl->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->fill = fill;
    t->scale = scale;
}

static int64_t nelem(const tensor_spec *t) { return t->ndim == 2 ? t->shape[0] * t->shape[1] : t->shape[0]; }

typedef struct sbuf { char *p; size_t n, cap; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) die("%s", "format error");
        if (b->p && b->n + (size_t)k < b->cap) { b->n += (size_t)k; return; }
        b->cap = (b->cap + (size_t)k + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) die("%s", "out of memory");
    }
}

static void write_all(FILE *fp, const void *p, size_t n, const char *path) {
    if (fwrite(p, 1, n, fp) != n) die("cannot write %s", path);
}

/* Writes PATH: the header (padded with spaces so the data starts 64-byte aligned, which keeps
 * F32 tensors usable in place from the map), then each tensor's random data. */
/* DT: SL_DTYPE_F32, SL_DTYPE_BF16 or SL_DTYPE_F16. */
static void write_safetensors(const char *path, const tensor_list *tl, sl_dtype dt, uint64_t seed) {
    size_t esz = dt == SL_DTYPE_F32 ? 4 : 2;
    sbuf h = {0};
    sb_printf(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (size_t i = 0; i < tl->n; i++) {
        const tensor_spec *t = &tl->v[i];
        uint64_t nb = (uint64_t)nelem(t) * esz;
        sb_printf(&h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld", t->name, sl_dtype_name(dt), (long long)t->shape[0]);
        if (t->ndim == 2) sb_printf(&h, ",%lld", (long long)t->shape[1]);
        sb_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + nb));
        off += nb;
    }
    sb_printf(&h, "}");
    while ((8 + h.n) % 64) sb_printf(&h, " ");

    char tmp[4200];
    pathf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *fp = fopen(tmp, "wb");
    if (!fp) die("cannot create %s", tmp);
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)h.n >> (8 * i));
    write_all(fp, len8, 8, tmp);
    write_all(fp, h.p, h.n, tmp);

    enum { CHUNK = 1 << 20 };
    float *fb = malloc(CHUNK * sizeof(float));
    uint16_t *hb = malloc(CHUNK * sizeof(uint16_t));
    if (!fb || !hb) die("%s", "out of memory");
    for (size_t i = 0; i < tl->n; i++) {
        const tensor_spec *t = &tl->v[i];
        rng r;
        rng_seed(&r, seed, i);
        for (int64_t done = 0, n = nelem(t); done < n;) {
            size_t k = (size_t)(n - done < CHUNK ? n - done : CHUNK);
            if (t->fill == FILL_ONES)
                for (size_t j = 0; j < k; j++) fb[j] = 1.0f;
            else
                for (size_t j = 0; j < k; j++) fb[j] = rng_normal(&r) * t->scale;
            if (dt != SL_DTYPE_F32) {
                for (size_t j = 0; j < k; j++) hb[j] = dt == SL_DTYPE_BF16 ? sl_f32_to_bf16(fb[j]) : sl_f32_to_f16(fb[j]);
                write_all(fp, hb, k * 2, tmp);
            } else {
                write_all(fp, fb, k * 4, tmp);
            }
            done += (int64_t)k;
        }
    }
    free(fb);
    free(hb);
    free(h.p);
    if (fflush(fp) || fsync(fileno(fp)) || fclose(fp)) die("cannot write %s", tmp);
    if (rename(tmp, path)) die("cannot rename into %s", path);
}

static void write_text(const char *path, const char *text) {
    char tmp[4200];
    pathf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *fp = fopen(tmp, "wb");
    if (!fp) die("cannot create %s", tmp);
    write_all(fp, text, strlen(text), tmp);
    if (fclose(fp)) die("cannot write %s", tmp);
    if (rename(tmp, path)) die("cannot rename into %s", path);
}

static char *read_file(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    sbuf b = {0};
    b.cap = 1 << 16;
    b.p = malloc(b.cap);
    size_t k;
    while (b.p && (k = fread(b.p + b.n, 1, b.cap - b.n - 1, fp)) > 0) {
        b.n += k;
        if (b.cap - b.n < 2) {
            b.cap *= 2;
            b.p = realloc(b.p, b.cap);
        }
    }
    fclose(fp);
    if (!b.p) die("%s", "out of memory");
    b.p[b.n] = 0;
    *len = b.n;
    return b.p;
}

static void copy_file(const char *from, const char *to) {
    size_t n;
    char *s = read_file(from, &n);
    if (!s) die("cannot read %s", from);
    write_text(to, s);
    free(s);
}

static void mkdir_p(const char *dir) {
    char tmp[4096];
    pathf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) && errno != EEXIST) die("cannot create %s", tmp);
            *p = '/';
        }
    if (mkdir(tmp, 0755) && errno != EEXIST) die("cannot create %s", tmp);
}

/* ---- presets ---- */

typedef struct preset {
    const char *name, *arch, *model_type;
    int hidden, layers, heads, kv_heads, head_dim, inter, vocab, max_pos;
    double rope_theta, rms_eps;
    int llama3_rope; /* factor 32, low 1, high 4, original 8192 */
} preset;

static const preset presets[] = {
    {.name = "smollm2-135m", .arch = "LlamaForCausalLM", .model_type = "llama", .hidden = 576, .layers = 30, .heads = 9,
     .kv_heads = 3, .head_dim = 64, .inter = 1536, .vocab = 49152, .max_pos = 8192, .rope_theta = 100000, .rms_eps = 1e-5},
    {.name = "qwen2.5-0.5b", .arch = "Qwen2ForCausalLM", .model_type = "qwen2", .hidden = 896, .layers = 24, .heads = 14,
     .kv_heads = 2, .head_dim = 64, .inter = 4864, .vocab = 151936, .max_pos = 32768, .rope_theta = 1000000, .rms_eps = 1e-6},
    {.name = "llama-3.2-1b", .arch = "LlamaForCausalLM", .model_type = "llama", .hidden = 2048, .layers = 16, .heads = 32,
     .kv_heads = 8, .head_dim = 64, .inter = 8192, .vocab = 128256, .max_pos = 131072, .rope_theta = 500000, .rms_eps = 1e-5,
     .llama3_rope = 1},
};

static const char *mod_leaf[SL_MOD_COUNT] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
static const char *mod_parent(int m) { return m <= SL_MOD_O ? "self_attn" : "mlp"; }

static void mod_shape(int hidden, int heads, int kv_heads, int head_dim, int inter, int mod, int *out, int *in) {
    int q = heads * head_dim, kv = kv_heads * head_dim;
    switch (mod) {
    case SL_MOD_Q: *out = q; *in = hidden; break;
    case SL_MOD_K:
    case SL_MOD_V: *out = kv; *in = hidden; break;
    case SL_MOD_O: *out = hidden; *in = q; break;
    case SL_MOD_GATE:
    case SL_MOD_UP: *out = inter; *in = hidden; break;
    default: *out = hidden; *in = inter; break;
    }
}

typedef struct opts {
    const char *cmd, *preset, *out, *dtype, *tokenizer, *model, *kind, *targets;
    uint64_t seed;
    int layers, count, rank;
    double alpha;
} opts;

static sl_dtype dtype_of(const char *name) {
    return !strcmp(name, "bf16") ? SL_DTYPE_BF16 : !strcmp(name, "f16") ? SL_DTYPE_F16 : SL_DTYPE_F32;
}

static void usage(void) {
    fprintf(stderr,
            "usage: gen_model model --preset smollm2-135m|qwen2.5-0.5b|llama-3.2-1b --out DIR\n"
            "                 [--dtype f32|bf16|f16] [--seed N] [--layers N] [--tokenizer DIR]\n"
            "       gen_model adapters --model DIR --out DIR --count N --kind symlora|lora --rank R\n"
            "                 [--targets all|q_proj,k_proj,...] [--alpha A] [--dtype f32|bf16|f16] [--seed N]\n");
    exit(2);
}

static int gen_model(const opts *o) {
    const preset *p = NULL;
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (o->preset && strcmp(presets[i].name, o->preset) == 0) p = &presets[i];
    if (!p || !o->out) usage();
    sl_dtype dt = dtype_of(o->dtype);
    int layers = o->layers > 0 ? o->layers : p->layers;
    int qwen = strcmp(p->model_type, "qwen2") == 0;
    mkdir_p(o->out);
    char path[4096];

    /* config.json: the fields transformers writes for these models. */
    sbuf c = {0};
    sb_printf(&c, "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"%s\",\n", p->arch, p->model_type);
    sb_printf(&c, "  \"hidden_size\": %d,\n  \"num_hidden_layers\": %d,\n  \"num_attention_heads\": %d,\n"
                  "  \"num_key_value_heads\": %d,\n  \"head_dim\": %d,\n  \"intermediate_size\": %d,\n"
                  "  \"vocab_size\": %d,\n  \"max_position_embeddings\": %d,\n  \"rms_norm_eps\": %g,\n",
              p->hidden, layers, p->heads, p->kv_heads, p->head_dim, p->inter, p->vocab, p->max_pos, p->rms_eps);
    sb_printf(&c, "  \"hidden_act\": \"silu\",\n  \"initializer_range\": 0.02,\n  \"tie_word_embeddings\": true,\n"
                  "  \"bos_token_id\": 0,\n  \"eos_token_id\": 1,\n  \"torch_dtype\": \"%s\",\n  \"rope_theta\": %.1f,\n",
              dt == SL_DTYPE_BF16 ? "bfloat16" : dt == SL_DTYPE_F16 ? "float16" : "float32", p->rope_theta);
    if (p->llama3_rope)
        sb_printf(&c, "  \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 32.0, \"low_freq_factor\": 1.0,"
                      " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192},\n");
    else
        sb_printf(&c, "  \"rope_scaling\": null,\n");
    if (qwen)
        sb_printf(&c, "  \"use_sliding_window\": false,\n  \"sliding_window\": %d,\n  \"max_window_layers\": %d,\n", p->max_pos, layers);
    else
        sb_printf(&c, "  \"attention_bias\": false,\n  \"mlp_bias\": false,\n");
    sb_printf(&c, "  \"symlora_generated\": \"random weights, preset %s, seed %llu\"\n}\n", p->name, (unsigned long long)o->seed);
    pathf(path, sizeof path, "%s/config.json", o->out);
    write_text(path, c.p);
    free(c.p);
    pathf(path, sizeof path, "%s/generation_config.json", o->out);
    write_text(path, "{\n  \"bos_token_id\": 0,\n  \"eos_token_id\": 1\n}\n");

    const char *names[] = {"tokenizer.json", "tokenizer_config.json"};
    for (int i = 0; i < 2; i++) {
        char from[4096];
        pathf(from, sizeof from, "%s/%s", o->tokenizer, names[i]);
        pathf(path, sizeof path, "%s/%s", o->out, names[i]);
        copy_file(from, path);
    }

    /* Tensors, in the order transformers saves them (embedding, layers, final norm). */
    tensor_list tl = {0};
    char name[200];
    const float sd = 0.02f;
    tl_add(&tl, "model.embed_tokens.weight", p->vocab, p->hidden, FILL_NORMAL, sd);
    for (int l = 0; l < layers; l++) {
        snprintf(name, sizeof name, "model.layers.%d.input_layernorm.weight", l);
        tl_add(&tl, name, p->hidden, 0, FILL_ONES, 0);
        for (int m = 0; m < SL_MOD_COUNT; m++) {
            int out, in;
            mod_shape(p->hidden, p->heads, p->kv_heads, p->head_dim, p->inter, m, &out, &in);
            snprintf(name, sizeof name, "model.layers.%d.%s.%s.weight", l, mod_parent(m), mod_leaf[m]);
            tl_add(&tl, name, out, in, FILL_NORMAL, sd);
            if (qwen && m <= SL_MOD_V) {
                snprintf(name, sizeof name, "model.layers.%d.%s.%s.bias", l, mod_parent(m), mod_leaf[m]);
                tl_add(&tl, name, out, 0, FILL_NORMAL, sd);
            }
        }
        snprintf(name, sizeof name, "model.layers.%d.post_attention_layernorm.weight", l);
        tl_add(&tl, name, p->hidden, 0, FILL_ONES, 0);
    }
    tl_add(&tl, "model.norm.weight", p->hidden, 0, FILL_ONES, 0);
    pathf(path, sizeof path, "%s/model.safetensors", o->out);
    write_safetensors(path, &tl, dt, o->seed);
    int64_t params = 0;
    for (size_t i = 0; i < tl.n; i++) params += nelem(&tl.v[i]);
    fprintf(stderr, "gen_model: %s: %s, %d layers, %lld parameters, %s\n", o->out, p->name, layers, (long long)params,
            sl_dtype_name(dt));
    free(tl.v);
    return 0;
}

static int gen_adapters(const opts *o) {
    if (!o->model || !o->out || o->count < 1 || o->rank < 1 || !o->kind) usage();
    int sym = strcmp(o->kind, "symlora") == 0;
    if (!sym && strcmp(o->kind, "lora") != 0) usage();
    sl_dtype dt = dtype_of(o->dtype);
    char path[4096], err[512];
    pathf(path, sizeof path, "%s/config.json", o->model);
    size_t len;
    char *json = read_file(path, &len);
    if (!json) die("cannot read %s", path);
    sl_model_config cfg;
    if (sl_model_config_parse(&cfg, json, len, path, err, sizeof err)) die("%s", err);
    free(json);

    unsigned mask = 0;
    if (strcmp(o->targets, "all") == 0 || strcmp(o->targets, "all-linear") == 0) {
        mask = (1u << SL_MOD_COUNT) - 1;
    } else {
        char *t = strdup(o->targets), *save = NULL;
        for (char *tok = strtok_r(t, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int m = -1;
            for (int k = 0; k < SL_MOD_COUNT; k++)
                if (strcmp(tok, mod_leaf[k]) == 0) m = k;
            if (m < 0) die("unknown target module '%s'", tok);
            mask |= 1u << m;
        }
        free(t);
    }
    double alpha = o->alpha > 0 ? o->alpha : 2.0 * o->rank;

    sbuf c = {0};
    sb_printf(&c, "{\n  \"peft_type\": \"%s\",\n  \"r\": %d,\n  \"lora_alpha\": %g,\n  \"target_modules\": [", sym ? "SYMLORA" : "LORA",
              o->rank, alpha);
    for (int m = 0, first = 1; m < SL_MOD_COUNT; m++)
        if (mask & (1u << m)) {
            sb_printf(&c, "%s\"%s\"", first ? "" : ", ", mod_leaf[m]);
            first = 0;
        }
    sb_printf(&c, "],\n  \"task_type\": \"CAUSAL_LM\",\n  \"bias\": \"none\",\n  \"fan_in_fan_out\": false,\n"
                  "  \"use_rslora\": false,\n  \"rank_pattern\": {},\n  \"alpha_pattern\": {},\n"
                  "  \"base_model_name_or_path\": \"%s\",\n  \"inference_mode\": true\n}\n", o->model);

    /* Tensors, sorted by name as PEFT's save does (the loader does not care). Scales: SymLoRA Q
     * columns of norm ~1 (sd 1/sqrt(n)) and lambda ~ 0.02 keep the update near a real fine-tune's;
     * LoRA A, B normal(0, 0.02). */
    tensor_list tl = {0};
    char name[200];
    for (int l = 0; l < cfg.n_layers; l++)
        for (int m = 0; m < SL_MOD_COUNT; m++) {
            if (!(mask & (1u << m))) continue;
            int out, in;
            mod_shape(cfg.hidden, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim, cfg.intermediate, m, &out, &in);
            const char *pre = "base_model.model.model.layers";
            if (sym) {
                int n = out > in ? out : in;
                snprintf(name, sizeof name, "%s.%d.%s.%s.symlora_Q.weight", pre, l, mod_parent(m), mod_leaf[m]);
                tl_add(&tl, name, n, o->rank, FILL_NORMAL, 1.0f / sqrtf((float)n));
                snprintf(name, sizeof name, "%s.%d.%s.%s.symlora_lambda", pre, l, mod_parent(m), mod_leaf[m]);
                tl_add(&tl, name, o->rank, 0, FILL_NORMAL, 0.02f);
            } else {
                snprintf(name, sizeof name, "%s.%d.%s.%s.lora_A.weight", pre, l, mod_parent(m), mod_leaf[m]);
                tl_add(&tl, name, o->rank, in, FILL_NORMAL, 0.02f);
                snprintf(name, sizeof name, "%s.%d.%s.%s.lora_B.weight", pre, l, mod_parent(m), mod_leaf[m]);
                tl_add(&tl, name, out, o->rank, FILL_NORMAL, 0.02f);
            }
        }
    for (int i = 0; i < o->count; i++) {
        char dir[4096];
        pathf(dir, sizeof dir, "%s/%03d", o->out, i);
        mkdir_p(dir);
        pathf(path, sizeof path, "%s/adapter_config.json", dir);
        write_text(path, c.p);
        pathf(path, sizeof path, "%s/adapter_model.safetensors", dir);
        write_safetensors(path, &tl, dt, o->seed * 1000003u + (uint64_t)i + 1);
    }
    fprintf(stderr, "gen_model: %s: %d %s adapters, rank %d, %zu tensors each, %s\n", o->out, o->count, o->kind, o->rank, tl.n,
            sl_dtype_name(dt));
    free(tl.v);
    free(c.p);
    return 0;
}

int main(int argc, char **argv) {
    opts o = {.dtype = "f32", .tokenizer = "tests/fixtures/tokenizers/llama3-bpe", .targets = "all", .seed = 1};
    if (argc < 2) usage();
    o.cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        i++;
        if (!strcmp(a, "--preset")) o.preset = v;
        else if (!strcmp(a, "--out")) o.out = v;
        else if (!strcmp(a, "--dtype")) o.dtype = v;
        else if (!strcmp(a, "--tokenizer")) o.tokenizer = v;
        else if (!strcmp(a, "--seed")) o.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--layers")) o.layers = atoi(v);
        else if (!strcmp(a, "--model")) o.model = v;
        else if (!strcmp(a, "--count")) o.count = atoi(v);
        else if (!strcmp(a, "--kind")) o.kind = v;
        else if (!strcmp(a, "--rank")) o.rank = atoi(v);
        else if (!strcmp(a, "--targets")) o.targets = v;
        else if (!strcmp(a, "--alpha")) o.alpha = atof(v);
        else usage();
    }
    if (strcmp(o.dtype, "f32") != 0 && strcmp(o.dtype, "bf16") != 0 && strcmp(o.dtype, "f16") != 0) usage();
    if (!strcmp(o.cmd, "model")) return gen_model(&o);
    if (!strcmp(o.cmd, "adapters")) return gen_adapters(&o);
    usage();
    return 2;
}
