/* adapter.c — SymLoRA and LoRA adapters: PEFT config + safetensors, validated against the
 * base model, stored once in their own precision (adapter.h), immutable and reference-counted.
 *
 * Loading runs in four passes, each rejecting with a message that names the field or the full
 * tensor name and the rule it broke:
 *   1. adapter_config.json: peft_type, r, lora_alpha, use_rslora, target_modules,
 *      exclude_modules, layers_to_transform, rank_pattern, alpha_pattern, unsupported features.
 *   2. the plan: which (layer, module) pairs are adapted, and each one's rank and scale,
 *      decided the way PEFT decides it from the module names "model.layers.<i>.<parent>.<leaf>".
 *   3. every tensor of adapter_model.safetensors: exact name form, a module of the base model
 *      that the plan targets, dtype F32/F16/BF16; then per module: both tensors present, ranks
 *      equal to each other and to the plan, shapes equal to what the module needs.
 *   4. storage into one allocation in the adapter's element type (adapter.h: BF16 or F16 when
 *      every matrix has that dtype, else F32), NaN/Inf rejected, Q and B stored transposed
 *      (qt, bt: r rows, the layout of the forward kernel, lowrank.h), and the F32 column
 *      scales (SymLoRA: s * lambda; LoRA: s). */
#include "adapter.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "bigalloc.h"
#include "error.h"
#include "safetensors.h"

#define SL_ADAPTER_DEFAULT_MAX_RANK 256
#define SL_ADAPTER_MAX_CONFIG (16u << 20) /* adapter_config.json larger than this is refused */
#define CFG_LABEL "adapter_config.json"
#define ST_LABEL "adapter_model.safetensors"
/* PEFT saves the state dict of PeftModel(LlamaForCausalLM): "base_model.model." + the name of
 * the module in the transformers model ("model.layers.<i>.<parent>.<leaf>"). */
#define PEFT_PREFIX "base_model.model."
#define LAYERS_PREFIX "model.layers."

struct sl_adapter {
    atomic_int refs;
    uint64_t uid;             /* process-unique, from 1 (sl_adapter_uid) */
    sl_adapter_kind kind;
    int r;                    /* the config's r */
    float alpha;              /* the config's lora_alpha */
    int n_layers;
    unsigned mask;            /* 1 << SL_MOD_* of adapted modules */
    sl_wtype wt;              /* element type of every module's matrices (adapter.h) */
    size_t bytes;             /* bytes of data: the matrices, up to 2 bytes of alignment, the scales */
    void *data;               /* one allocation: every module's qt or a/bt, then every scale; owned */
    sl_adapter_module *mods;  /* (n_layers, SL_MOD_COUNT); pointers into data; owned */
};

static const sl_adapter_module no_module; /* r == 0 */

/* ---- small helpers ---------------------------------------------------------------------- */

static const char *kind_name(sl_adapter_kind k) { return k == SL_ADAPTER_SYMLORA ? "SYMLORA" : "LORA"; }

/* The two tensor suffixes of each kind: slot 0 (Q or A), slot 1 (lambda or B). */
static const char *const suffixes[2][2] = {
    [SL_ADAPTER_SYMLORA] = {"symlora_Q.weight", "symlora_lambda"},
    [SL_ADAPTER_LORA] = {"lora_A.weight", "lora_B.weight"},
};

static void module_path(char *buf, size_t n, int layer, sl_module mod) {
    snprintf(buf, n, LAYERS_PREFIX "%d.%s.%s", layer, sl_module_parent(mod), sl_module_name(mod));
}

static void tensor_name(char *buf, size_t n, int layer, sl_module mod, sl_adapter_kind kind, int slot) {
    snprintf(buf, n, PEFT_PREFIX LAYERS_PREFIX "%d.%s.%s.%s", layer, sl_module_parent(mod), sl_module_name(mod),
             suffixes[kind][slot]);
}

static void shape_str(char *buf, size_t n, const sl_tensor *t) {
    size_t off = 0;
    off += (size_t)snprintf(buf + off, n - off, "[");
    for (int d = 0; d < t->ndim && off < n; d++)
        off += (size_t)snprintf(buf + off, n - off, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (off < n) snprintf(buf + off, n - off, "]");
}

static int ends_with_component(const char *name, const char *suffix) {
    size_t ln = strlen(name), ls = strlen(suffix);
    if (ls == 0) return 0;
    if (ln == ls) return strcmp(name, suffix) == 0;
    return ln > ls && name[ln - ls - 1] == '.' && strcmp(name + ln - ls, suffix) == 0;
}

/* ---- bounded regular expressions ---------------------------------------------------------
 *
 * The module patterns of a config (rank_pattern and alpha_pattern keys, a target_modules or
 * exclude_modules regex string) come from clients, so every match is bounded: PCRE2's match,
 * depth and heap limits per (pattern, module name), JIT where the platform has it (with a
 * small JIT stack of our own), and one budget of CPU time for all compiles and matches of one
 * config. A limit reached is an error naming the pattern, never "no match" (which would
 * silently change which rank applies). Legitimate patterns need a few hundred steps on names
 * of ~40 characters; the limits are 100x that. Uploads evaluate the patterns once and store
 * the result (sl_adapter_resolve), so loads of a stored version run no regex at all. */
#define RX_MAX_PATTERN 1024      /* longest module pattern accepted */
#define RX_MATCH_LIMIT 50000     /* PCRE2 match limit of one (pattern, module name) */
#define RX_DEPTH_LIMIT 1000      /* PCRE2 backtracking depth (interpreter only) */
#define RX_HEAP_LIMIT_KIB 1024   /* PCRE2 heap for backtracking frames (interpreter only) */
#define RX_BUDGET_NS 250000000LL /* CPU time for every compile and match of one config */

typedef struct rx_budget {
    pcre2_compile_context *cctx;
    pcre2_match_context *mctx;
    pcre2_match_data *md;      /* shared by every match (an ovector too small still matches) */
    pcre2_jit_stack *jstack;
    long long t0, budget_ns;   /* thread CPU time at the start; the budget */
    unsigned calls;
    int over;                  /* the budget is spent */
} rx_budget;

static long long cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int rx_init(rx_budget *b) {
    memset(b, 0, sizeof *b);
    b->cctx = pcre2_compile_context_create(NULL);
    b->mctx = pcre2_match_context_create(NULL);
    b->md = pcre2_match_data_create(4, NULL);
    if (!b->cctx || !b->mctx || !b->md) return SL_ENOMEM;
    pcre2_set_parens_nest_limit(b->cctx, 64);
    pcre2_set_match_limit(b->mctx, RX_MATCH_LIMIT);
    pcre2_set_depth_limit(b->mctx, RX_DEPTH_LIMIT);
    pcre2_set_heap_limit(b->mctx, RX_HEAP_LIMIT_KIB);
    b->jstack = pcre2_jit_stack_create(32 * 1024, 256 * 1024, NULL);
    if (b->jstack) pcre2_jit_stack_assign(b->mctx, NULL, b->jstack);
    b->t0 = cpu_ns();
    b->budget_ns = RX_BUDGET_NS;
    return 0;
}

static void rx_free(rx_budget *b) {
    pcre2_compile_context_free(b->cctx);
    pcre2_match_context_free(b->mctx);
    pcre2_match_data_free(b->md);
    pcre2_jit_stack_free(b->jstack);
    memset(b, 0, sizeof *b);
}

/* 1 when the budget is spent (checked every 16 calls: the clock is a system call). */
static int rx_spent(rx_budget *b) {
    if (!b->over && (b->calls++ & 15) == 0 && cpu_ns() - b->t0 > b->budget_ns) b->over = 1;
    return b->over;
}

/* A compiled regex; SUFFIX_FORM wraps KEY as PEFT's get_pattern_key does: re.match(r"(.*\.)?(KEY)$").
 * Otherwise the whole name must match (re.fullmatch, as PEFT's string target_modules). */
static pcre2_code *regex_compile(rx_budget *b, const char *key, int suffix_form, char *why, size_t whylen) {
    size_t kl = strlen(key);
    if (kl > RX_MAX_PATTERN) {
        snprintf(why, whylen, "longer than %d characters", RX_MAX_PATTERN);
        return NULL;
    }
    if (rx_spent(b)) {
        snprintf(why, whylen, "the config's patterns need more than the allowed work (%lld ms of CPU)", RX_BUDGET_NS / 1000000);
        return NULL;
    }
    size_t len = kl + 32;
    char *pat = malloc(len);
    if (!pat) { snprintf(why, whylen, "out of memory"); return NULL; }
    if (suffix_form) snprintf(pat, len, "(.*\\.)?(%s)$", key);
    else snprintf(pat, len, "(?:%s)", key);
    int ec;
    PCRE2_SIZE eoff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                                   PCRE2_ANCHORED | (suffix_form ? 0 : PCRE2_ENDANCHORED), &ec, &eoff, b->cctx);
    free(pat);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        snprintf(why, whylen, "%s", (const char *)msg);
        return NULL;
    }
    return re;
}

enum { RX_LIMIT = -1, RX_BUDGET = -2 };

/* 1 match, 0 no match, RX_LIMIT (a match limit reached: catastrophic backtracking), RX_BUDGET
 * (the config's budget is spent). *USES counts the matches of RE: JIT compilation (~25 us a
 * pattern, 25x a plain compile) pays only for a pattern matched against many module names, so
 * it is done at the 16th use, where available. */
static int regex_match(rx_budget *b, pcre2_code *re, unsigned *uses, const char *s) {
    if (rx_spent(b)) return RX_BUDGET;
    if (++*uses == 16) pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* else the interpreter goes on */
    int rc = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, b->md, b->mctx);
    if (rc >= 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    return RX_LIMIT; /* match, depth, heap or JIT stack limit, or out of memory */
}

/* The message of a failed match of PATTERN (what the client wrote, labelled FIELD) on NAME. */
static int regex_fail(int why, const char *field, const char *pattern, const char *name, char *err, size_t errlen) {
    if (why == RX_BUDGET)
        return sl__errf(err, errlen, SL_ETOOBIG,
                        CFG_LABEL ": %s \"%.80s\": the module patterns need more than the allowed matching work "
                        "(%lld ms of CPU for the whole config); use fewer or simpler patterns",
                        field, pattern, RX_BUDGET_NS / 1000000);
    return sl__errf(err, errlen, SL_ETOOBIG,
                    CFG_LABEL ": %s \"%.80s\": matching module \"%s\" reached the regex work limit (catastrophic "
                    "backtracking?); simplify the pattern",
                    field, pattern, name);
}

/* A json value that means "not set" in a PEFT config: absent, null, false, "", [] or {}. */
static int json_unset(const json_t *v) {
    if (!v || json_is_null(v) || json_is_false(v)) return 1;
    if (json_is_string(v)) return json_string_length(v) == 0;
    if (json_is_array(v)) return json_array_size(v) == 0;
    if (json_is_object(v)) return json_object_size(v) == 0;
    return 0;
}

/* ---- pass 1: adapter_config.json -------------------------------------------------------- */

typedef struct pattern {
    pcre2_code *re;
    unsigned uses;     /* matches so far (regex_match) */
    const char *key;   /* borrowed from the config json */
    double value;
} pattern;

typedef struct acfg {
    sl_adapter_kind kind;
    int r;
    double alpha;
    int rslora;
    json_t *target;       /* borrowed: array of strings or a string */
    json_t *exclude;      /* borrowed or NULL */
    int *layers;          /* layers_to_transform (n_layers_tt) or NULL; owned */
    int n_layers_tt;
    pattern *rank_pat, *alpha_pat; /* owned */
    size_t n_rank_pat, n_alpha_pat;
    json_t *resolved;     /* borrowed: symlora_resolved.modules, the server's own resolution */
    rx_budget rx;         /* owned: the regex work of this config */
} acfg;

static void acfg_free(acfg *c) {
    rx_free(&c->rx);
    free(c->layers);
    for (size_t i = 0; i < c->n_rank_pat; i++) pcre2_code_free(c->rank_pat[i].re);
    for (size_t i = 0; i < c->n_alpha_pat; i++) pcre2_code_free(c->alpha_pat[i].re);
    free(c->rank_pat);
    free(c->alpha_pat);
}

static int check_rank(json_int_t r, int max_rank, const char *field, char *err, size_t errlen) {
    if (r < 1 || r > max_rank)
        return sl__errf(err, errlen, SL_ERANGE, CFG_LABEL ": %s = %lld is out of range: the rank must be in 1..%d (max_rank)",
                        field, (long long)r, max_rank);
    return 0;
}

static int check_alpha(double a, const char *field, char *err, size_t errlen) {
    if (!isfinite(a) || !(a > 0))
        return sl__errf(err, errlen, SL_ERANGE, CFG_LABEL ": %s = %g is invalid: alpha must be finite and > 0", field, a);
    return 0;
}

static int parse_patterns(acfg *c, json_t *root, const char *field, int is_rank, int max_rank, pattern **out,
                          size_t *n_out, char *err, size_t errlen) {
    json_t *obj = json_object_get(root, field);
    *out = NULL;
    *n_out = 0;
    if (!obj || json_is_null(obj)) return 0;
    if (!json_is_object(obj))
        return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": %s must be an object {module pattern: %s}", field,
                        is_rank ? "rank" : "alpha");
    size_t n = json_object_size(obj);
    if (n == 0) return 0;
    pattern *p = calloc(n, sizeof *p);
    if (!p) return sl__errf(err, errlen, SL_ENOMEM, CFG_LABEL ": out of memory");
    *out = p;
    const char *key;
    json_t *v;
    char field_key[512];
    json_object_foreach(obj, key, v) {
        pattern *pp = &p[(*n_out)++];
        pp->key = key;
        snprintf(field_key, sizeof field_key, "%s[\"%s\"]", field, key);
        if (is_rank) {
            if (!json_is_integer(v))
                return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": %s must be an integer rank", field_key);
            int rc = check_rank(json_integer_value(v), max_rank, field_key, err, errlen);
            if (rc) return rc;
            pp->value = (double)json_integer_value(v);
        } else {
            if (!json_is_number(v))
                return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": %s must be a number", field_key);
            int rc = check_alpha(json_number_value(v), field_key, err, errlen);
            if (rc) return rc;
            pp->value = json_number_value(v);
        }
        if (key[0] == 0)
            return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": %s: empty module pattern", field_key);
        /* Compiled when first needed (pattern_re): a config whose first pattern already fails
         * costs one compile, not a thousand; make_plan compiles the rest at the end, so every
         * invalid key is still refused. */
    }
    return 0;
}

/* PAT's regex, compiled on first use; NULL with ERR when it does not compile (or the budget is
 * spent). WHICH: 0 rank_pattern, 1 alpha_pattern. */
static pcre2_code *pattern_re(acfg *c, pattern *pat, int which, int *rc, char *err, size_t errlen) {
    if (pat->re) return pat->re;
    char why[200];
    pat->re = regex_compile(&c->rx, pat->key, 1, why, sizeof why);
    if (!pat->re)
        *rc = sl__errf(err, errlen, c->rx.over ? SL_ETOOBIG : SL_EFORMAT,
                       CFG_LABEL ": %s[\"%.200s\"]: the key is not a valid regular expression (%s)",
                       which ? "alpha_pattern" : "rank_pattern", pat->key, why);
    return pat->re;
}

/* PEFT options that would change what the tensors mean or add tensors this engine does not
 * serve. Each must be unset (null/false/empty); "bias" must be "none". */
static const char *const unsupported_fields[] = {
    "use_dora", "lora_bias", "fan_in_fan_out", "modules_to_save", "layer_replication", "target_parameters",
    "trainable_token_indices", "use_qalora", "use_bdlora", "alora_invocation_tokens", "megatron_config",
};

static int parse_config(acfg *c, json_t *root, int max_rank, int n_model_layers, int upload, char *err, size_t errlen) {
    if (!json_is_object(root)) return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": not a JSON object");
    if (rx_init(&c->rx) != 0) return sl__errf(err, errlen, SL_ENOMEM, CFG_LABEL ": out of memory");

    json_t *v = json_object_get(root, "peft_type");
    if (!v) return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": peft_type is missing (expected \"SYMLORA\" or \"LORA\")");
    if (!json_is_string(v)) return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": peft_type must be a string (\"SYMLORA\" or \"LORA\")");
    const char *pt = json_string_value(v);
    if (strcmp(pt, "SYMLORA") == 0) c->kind = SL_ADAPTER_SYMLORA;
    else if (strcmp(pt, "LORA") == 0) c->kind = SL_ADAPTER_LORA;
    else
        return sl__errf(err, errlen, SL_ENOTSUP, CFG_LABEL ": peft_type \"%.64s\" is not supported (only \"SYMLORA\" and \"LORA\")", pt);

    v = json_object_get(root, "r");
    if (!v) return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": r (the rank) is missing");
    if (!json_is_integer(v)) return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": r must be an integer");
    int rc = check_rank(json_integer_value(v), max_rank, "r", err, errlen);
    if (rc) return rc;
    c->r = (int)json_integer_value(v);

    v = json_object_get(root, "lora_alpha");
    if (!v) return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": lora_alpha is missing");
    if (!json_is_number(v)) return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": lora_alpha must be a number");
    c->alpha = json_number_value(v);
    if ((rc = check_alpha(c->alpha, "lora_alpha", err, errlen))) return rc;

    v = json_object_get(root, "use_rslora");
    if (v && !json_is_null(v) && !json_is_boolean(v))
        return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": use_rslora must be true or false");
    c->rslora = v && json_is_true(v);

    for (size_t i = 0; i < sizeof unsupported_fields / sizeof *unsupported_fields; i++) {
        v = json_object_get(root, unsupported_fields[i]);
        if (!json_unset(v))
            return sl__errf(err, errlen, SL_ENOTSUP, CFG_LABEL ": %s is set, which this server does not support (it must be null, false or empty)",
                            unsupported_fields[i]);
    }
    v = json_object_get(root, "bias");
    if (v && !json_is_null(v) && !(json_is_string(v) && strcmp(json_string_value(v), "none") == 0))
        return sl__errf(err, errlen, SL_ENOTSUP, CFG_LABEL ": bias must be \"none\" (trained biases are not supported)");

    v = json_object_get(root, "target_modules");
    if (!v || json_is_null(v)) return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": target_modules is missing");
    if (json_is_array(v)) {
        if (json_array_size(v) == 0) return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": target_modules is empty");
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (!json_is_string(e) || json_string_length(e) == 0)
                return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": target_modules[%zu] must be a non-empty string", i);
        }
    } else if (!json_is_string(v) || json_string_length(v) == 0) {
        return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": target_modules must be a list of module names or a string (\"all-linear\" or a regex)");
    }
    c->target = v;

    v = json_object_get(root, "exclude_modules");
    if (!json_unset(v)) {
        if (json_is_array(v)) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                if (!json_is_string(e) || json_string_length(e) == 0)
                    return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": exclude_modules[%zu] must be a non-empty string", i);
            }
        } else if (!json_is_string(v)) {
            return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": exclude_modules must be a list of module names or a regex string");
        }
        c->exclude = v;
    }

    v = json_object_get(root, "layers_pattern");
    if (!json_unset(v)) {
        /* The only layer container of Llama / Qwen2 is "layers". */
        int ok = json_is_string(v) && strcmp(json_string_value(v), "layers") == 0;
        if (json_is_array(v) && json_array_size(v) == 1) {
            json_t *e = json_array_get(v, 0);
            ok = json_is_string(e) && strcmp(json_string_value(e), "layers") == 0;
        }
        if (!ok) return sl__errf(err, errlen, SL_ENOTSUP, CFG_LABEL ": layers_pattern must be \"layers\" (the decoder layers of this model)");
    }
    v = json_object_get(root, "layers_to_transform");
    if (v && !json_is_null(v)) {
        if (json_is_string(c->target) && strcmp(json_string_value(c->target), "all-linear") != 0)
            return sl__errf(err, errlen, SL_EINVAL, CFG_LABEL ": layers_to_transform cannot be used when target_modules is a regex string");
        size_t n = json_is_array(v) ? json_array_size(v) : 1;
        if (!json_is_array(v) && !json_is_integer(v))
            return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": layers_to_transform must be a layer index or a list of them");
        if (n) {
            c->layers = calloc(n, sizeof *c->layers);
            if (!c->layers) return sl__errf(err, errlen, SL_ENOMEM, CFG_LABEL ": out of memory");
            for (size_t i = 0; i < n; i++) {
                json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
                if (!json_is_integer(e))
                    return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": layers_to_transform[%zu] must be an integer", i);
                json_int_t l = json_integer_value(e);
                if (l < 0 || l >= n_model_layers)
                    return sl__errf(err, errlen, SL_ERANGE, CFG_LABEL ": layers_to_transform names layer %lld, but the model has layers 0..%d",
                                    (long long)l, n_model_layers - 1);
                c->layers[c->n_layers_tt++] = (int)l;
            }
        }
    }

    v = json_object_get(root, SL_ADAPTER_RESOLVED);
    if (v) {
        if (upload)
            return sl__errf(err, errlen, SL_EINVAL, CFG_LABEL ": " SL_ADAPTER_RESOLVED " is written by the server; remove it");
        json_t *ver = json_object_get(v, "version"), *mods = json_object_get(v, "modules");
        if (!json_is_object(v) || !json_is_integer(ver) || json_integer_value(ver) != 1 || !json_is_object(mods))
            return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": " SL_ADAPTER_RESOLVED " must be {\"version\": 1, \"modules\": {...}}");
        c->resolved = mods;
    }
    if ((rc = parse_patterns(c, root, "rank_pattern", 1, max_rank, &c->rank_pat, &c->n_rank_pat, err, errlen))) return rc;
    if ((rc = parse_patterns(c, root, "alpha_pattern", 0, max_rank, &c->alpha_pat, &c->n_alpha_pat, err, errlen))) return rc;
    return 0;
}

/* ---- pass 2: the plan ------------------------------------------------------------------- */

typedef struct plan_entry {
    int r;           /* 0: not targeted */
    double alpha;    /* the lora_alpha that applies (alpha_pattern or the config's) */
    double scale;    /* s */
    int rank_from_pattern; /* the rank came from rank_pattern (for error messages) */
    int out, in;     /* module shape */
    const sl_tensor *t[2]; /* slot 0: Q or A; slot 1: lambda or B */
} plan_entry;

/* Does the list entry KEY select module NAME (PEFT: exact name or a ".KEY" suffix)? *EXACT
 * tells which, because layers_to_transform only filters suffix matches. */
static int list_match(const char *key, const char *name, int *exact) {
    *exact = strcmp(key, name) == 0;
    return *exact || ends_with_component(name, key);
}

static int layer_allowed(const acfg *c, int layer) {
    if (!c->layers) return 1;
    for (int i = 0; i < c->n_layers_tt; i++)
        if (c->layers[i] == layer) return 1;
    return 0;
}

/* The plan from symlora_resolved.modules: {"model.layers.<i>.<parent>.<leaf>": [r, alpha]}. */
static int plan_resolved(plan_entry *plan, const acfg *c, const sl_model *m, int max_rank, char *err, size_t errlen) {
    const sl_model_config *mc = sl_model_get_config(m);
    char name[160];
    size_t found = 0;
    for (int l = 0; l < mc->n_layers; l++) {
        for (int mod = 0; mod < SL_MOD_COUNT; mod++) {
            plan_entry *pe = &plan[(size_t)l * SL_MOD_COUNT + mod];
            module_path(name, sizeof name, l, (sl_module)mod);
            sl_model_module_shape(m, (sl_module)mod, &pe->out, &pe->in);
            json_t *e = json_object_get(c->resolved, name);
            if (!e) continue;
            found++;
            json_t *r = json_array_get(e, 0), *al = json_array_get(e, 1);
            if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_integer(r) || !json_is_number(al))
                return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": " SL_ADAPTER_RESOLVED " \"%s\" must be [rank, alpha]", name);
            int rc = check_rank(json_integer_value(r), max_rank, name, err, errlen);
            if (!rc) rc = check_alpha(json_number_value(al), name, err, errlen);
            if (rc) return rc;
            pe->r = (int)json_integer_value(r);
            pe->alpha = json_number_value(al);
            pe->rank_from_pattern = pe->r != c->r;
            pe->scale = c->rslora ? pe->alpha / sqrt((double)pe->r) : pe->alpha / (double)pe->r;
        }
    }
    if (found != json_object_size(c->resolved))
        return sl__errf(err, errlen, SL_EINVAL, CFG_LABEL ": " SL_ADAPTER_RESOLVED " names a module the model does not have");
    if (!found) return sl__errf(err, errlen, SL_EINVAL, CFG_LABEL ": " SL_ADAPTER_RESOLVED " selects no module");
    return 0;
}

static int make_plan(plan_entry *plan, acfg *c, const sl_model *m, int max_rank, char *err, size_t errlen) {
    if (c->resolved) return plan_resolved(plan, c, m, max_rank, err, errlen);
    const sl_model_config *mc = sl_model_get_config(m);
    int nl = mc->n_layers;
    char name[160];
    int rc = 0;
    pcre2_code *target_re = NULL, *exclude_re = NULL;
    unsigned target_uses = 0, exclude_uses = 0;
    static const char *const all_linear[SL_MOD_COUNT] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                         "gate_proj", "up_proj", "down_proj"};
    const char *target_str = json_is_string(c->target) ? json_string_value(c->target) : NULL;
    int is_all_linear = target_str && strcmp(target_str, "all-linear") == 0;
    size_t n_keys = is_all_linear ? SL_MOD_COUNT : target_str ? 0 : json_array_size(c->target);
    char why[200];

    if (target_str && !is_all_linear) {
        target_re = regex_compile(&c->rx, target_str, 0, why, sizeof why);
        if (!target_re)
            return sl__errf(err, errlen, c->rx.over ? SL_ETOOBIG : SL_EFORMAT, CFG_LABEL ": target_modules \"%.80s\" is not a valid regular expression (%s)",
                            target_str, why);
    }
    if (c->exclude && json_is_string(c->exclude)) {
        exclude_re = regex_compile(&c->rx, json_string_value(c->exclude), 0, why, sizeof why);
        if (!exclude_re) {
            rc = sl__errf(err, errlen, c->rx.over ? SL_ETOOBIG : SL_EFORMAT, CFG_LABEL ": exclude_modules \"%.80s\" is not a valid regular expression (%s)",
                          json_string_value(c->exclude), why);
            goto done;
        }
    }

    /* Every list entry must name at least one adaptable module of the base model. */
    for (size_t k = 0; k < n_keys && !is_all_linear; k++) {
        const char *key = json_string_value(json_array_get(c->target, k));
        int found = 0, exact;
        for (int l = 0; l < nl && !found; l++)
            for (int mod = 0; mod < SL_MOD_COUNT && !found; mod++) {
                module_path(name, sizeof name, l, (sl_module)mod);
                found = list_match(key, name, &exact);
            }
        if (!found) {
            rc = sl__errf(err, errlen, SL_EINVAL,
                          CFG_LABEL ": target_modules entry \"%.80s\" is an unknown module: it names none of the adaptable "
                          "linear modules (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj) of the model's %d layers",
                          key, nl);
            goto done;
        }
    }

    int any = 0;
    for (int l = 0; l < nl; l++) {
        for (int mod = 0; mod < SL_MOD_COUNT; mod++) {
            plan_entry *pe = &plan[(size_t)l * SL_MOD_COUNT + mod];
            module_path(name, sizeof name, l, (sl_module)mod);
            int targeted = 0;
            if (target_re) {
                targeted = regex_match(&c->rx, target_re, &target_uses, name);
                if (targeted < 0) {
                    rc = regex_fail(targeted, "target_modules", target_str, name, err, errlen);
                    goto done;
                }
            } else {
                for (size_t k = 0; k < n_keys && !targeted; k++) {
                    const char *key = is_all_linear ? all_linear[k] : json_string_value(json_array_get(c->target, k));
                    int exact;
                    if (list_match(key, name, &exact)) targeted = exact || layer_allowed(c, l);
                }
            }
            if (targeted && c->exclude) {
                if (exclude_re) {
                    int x = regex_match(&c->rx, exclude_re, &exclude_uses, name);
                    if (x < 0) {
                        rc = regex_fail(x, "exclude_modules", json_string_value(c->exclude), name, err, errlen);
                        goto done;
                    }
                    targeted = !x;
                } else {
                    size_t i;
                    json_t *e;
                    int exact;
                    json_array_foreach(c->exclude, i, e) {
                        if (list_match(json_string_value(e), name, &exact)) targeted = 0;
                    }
                }
            }
            sl_model_module_shape(m, (sl_module)mod, &pe->out, &pe->in);
            if (!targeted) continue;
            any = 1;
            int r = c->r;
            double alpha = c->alpha;
            /* PEFT's get_pattern_key: the first key (in the file's order) that matches. */
            for (int which = 0; which < 2; which++) {
                pattern *pat = which ? c->alpha_pat : c->rank_pat;
                size_t np = which ? c->n_alpha_pat : c->n_rank_pat;
                for (size_t i = 0; i < np; i++) {
                    if (!pattern_re(c, &pat[i], which, &rc, err, errlen)) goto done;
                    int x = regex_match(&c->rx, pat[i].re, &pat[i].uses, name);
                    if (x < 0) {
                        rc = regex_fail(x, which ? "alpha_pattern key" : "rank_pattern key", pat[i].key, name, err, errlen);
                        goto done;
                    }
                    if (!x) continue;
                    if (which) alpha = pat[i].value;
                    else { r = (int)pat[i].value; pe->rank_from_pattern = 1; }
                    break;
                }
            }
            pe->r = r;
            pe->alpha = alpha;
            pe->scale = c->rslora ? alpha / sqrt((double)r) : alpha / (double)r;
        }
    }
    if (!any) {
        rc = sl__errf(err, errlen, SL_EINVAL, CFG_LABEL ": target_modules (with exclude_modules / layers_to_transform) selects no module of the model");
        goto done;
    }
    /* Keys no module name reached are still checked. */
    for (int which = 0; which < 2; which++) {
        pattern *pat = which ? c->alpha_pat : c->rank_pat;
        size_t np = which ? c->n_alpha_pat : c->n_rank_pat;
        for (size_t i = 0; i < np; i++)
            if (!pattern_re(c, &pat[i], which, &rc, err, errlen)) goto done;
    }
done:
    pcre2_code_free(target_re);
    pcre2_code_free(exclude_re);
    return rc;
}

/* ---- pass 3: tensor names, dtypes, shapes ----------------------------------------------- */

/* Classifies one tensor name into (layer, module, slot) of the plan, or rejects it. */
static int place_tensor(plan_entry *plan, const sl_tensor *t, const acfg *c, int n_layers, char *err, size_t errlen) {
    sl_adapter_kind kind = c->kind;
    const char *nm = t->name;
    char form[200];
    snprintf(form, sizeof form, PEFT_PREFIX LAYERS_PREFIX "<layer>.<self_attn|mlp>.<module>.<%s|%s>", suffixes[kind][0],
             suffixes[kind][1]);
    const char *prefix = PEFT_PREFIX LAYERS_PREFIX;
    size_t lp = strlen(prefix);
    if (strncmp(nm, prefix, lp) != 0)
        return sl__errf(err, errlen, SL_EFORMAT, "tensor \"%s\": unexpected tensor: the name must have the form %s", nm, form);
    const char *p = nm + lp;
    /* layer index: decimal, no sign, no leading zero */
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
        return sl__errf(err, errlen, SL_EFORMAT, "tensor \"%s\": malformed layer index after \"%s\" (expected %s)", nm, prefix, form);
    long layer = 0;
    while (*p >= '0' && *p <= '9') {
        layer = layer * 10 + (*p++ - '0');
        if (layer > 1000000) break;
    }
    if (*p != '.')
        return sl__errf(err, errlen, SL_EFORMAT, "tensor \"%s\": malformed layer index (expected %s)", nm, form);
    p++;
    const char *parent = p, *dot = strchr(p, '.');
    if (!dot) return sl__errf(err, errlen, SL_EFORMAT, "tensor \"%s\": the name must have the form %s", nm, form);
    size_t parent_len = (size_t)(dot - parent);
    const char *leaf = dot + 1;
    dot = strchr(leaf, '.');
    if (!dot) return sl__errf(err, errlen, SL_EFORMAT, "tensor \"%s\": the name must have the form %s", nm, form);
    char leafbuf[64];
    size_t leaf_len = (size_t)(dot - leaf);
    if (leaf_len >= sizeof leafbuf) leaf_len = sizeof leafbuf - 1;
    memcpy(leafbuf, leaf, leaf_len);
    leafbuf[leaf_len] = 0;
    const char *suffix = dot + 1;

    int mod = sl_module_parse(leafbuf);
    if (mod < 0)
        return sl__errf(err, errlen, SL_EINVAL,
                        "tensor \"%s\": unknown module \"%s\" (adaptable modules: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)",
                        nm, leafbuf);
    const char *want_parent = sl_module_parent((sl_module)mod);
    if (parent_len != strlen(want_parent) || strncmp(parent, want_parent, parent_len) != 0)
        return sl__errf(err, errlen, SL_EINVAL, "tensor \"%s\": unknown module path: %s is under %s, not \"%.*s\"", nm,
                        leafbuf, want_parent, (int)parent_len, parent);
    if (layer >= n_layers)
        return sl__errf(err, errlen, SL_EINVAL, "tensor \"%s\": layer %ld does not exist (the model has layers 0..%d)", nm,
                        layer, n_layers - 1);
    int slot = -1;
    for (int s = 0; s < 2; s++)
        if (strcmp(suffix, suffixes[kind][s]) == 0) slot = s;
    if (slot < 0) {
        sl_adapter_kind other = kind == SL_ADAPTER_SYMLORA ? SL_ADAPTER_LORA : SL_ADAPTER_SYMLORA;
        if (strcmp(suffix, suffixes[other][0]) == 0 || strcmp(suffix, suffixes[other][1]) == 0)
            return sl__errf(err, errlen, SL_EINVAL, "tensor \"%s\": a %s tensor in an adapter whose peft_type is %s", nm,
                            kind_name(other), kind_name(kind));
        return sl__errf(err, errlen, SL_EFORMAT, "tensor \"%s\": unexpected tensor \"%s\" of %s (a %s adapter has only %s and %s)",
                        nm, suffix, leafbuf, kind_name(kind), suffixes[kind][0], suffixes[kind][1]);
    }
    plan_entry *pe = &plan[(size_t)layer * SL_MOD_COUNT + mod];
    if (pe->r == 0)
        return sl__errf(err, errlen, SL_EINVAL, "tensor \"%s\": extra tensor: module %s of layer %ld is not in target_modules%s", nm,
                        leafbuf, layer,
                        c->exclude || c->layers ? " (as narrowed by exclude_modules / layers_to_transform)" : "");
    if (t->dtype != SL_DTYPE_F32 && t->dtype != SL_DTYPE_F16 && t->dtype != SL_DTYPE_BF16)
        return sl__errf(err, errlen, SL_ENOTSUP, "tensor \"%s\": dtype %s is not allowed (only F32, F16 or BF16)", nm,
                        sl_dtype_name(t->dtype));
    pe->t[slot] = t; /* the safetensors reader rejects duplicate names, so each slot fills once */
    return 0;
}

static int check_module(const plan_entry *pe, int layer, sl_module mod, sl_adapter_kind kind, char *err, size_t errlen) {
    char n0[192], n1[192], s0[64], s1[64];
    tensor_name(n0, sizeof n0, layer, mod, kind, 0);
    tensor_name(n1, sizeof n1, layer, mod, kind, 1);
    for (int s = 0; s < 2; s++)
        if (!pe->t[s])
            return sl__errf(err, errlen, SL_ENOENT, "tensor \"%s\" is missing: %s of layer %d is targeted (target_modules) and needs %s and %s",
                            s ? n1 : n0, sl_module_name(mod), layer, suffixes[kind][0], suffixes[kind][1]);
    const sl_tensor *t0 = pe->t[0], *t1 = pe->t[1];
    shape_str(s0, sizeof s0, t0);
    shape_str(s1, sizeof s1, t1);
    const char *rank_src = pe->rank_from_pattern ? "rank_pattern" : "r";
    if (kind == SL_ADAPTER_SYMLORA) {
        int64_t rows = pe->out > pe->in ? pe->out : pe->in;
        if (t0->ndim != 2)
            return sl__errf(err, errlen, SL_EINVAL, "tensor \"%s\": wrong shape %s: Q must be 2-D [max(out, in), r] = [%lld, %d]", n0,
                            s0, (long long)rows, pe->r);
        if (t1->ndim != 1)
            return sl__errf(err, errlen, SL_EINVAL, "tensor \"%s\": wrong shape %s: lambda must be 1-D [r] = [%d]", n1, s1, pe->r);
        if (t0->shape[1] != t1->shape[0])
            return sl__errf(err, errlen, SL_EINVAL,
                            "tensors \"%s\" %s and \"%s\" %s: Q has rank %lld but lambda has rank %lld (Q and lambda must have the same rank)",
                            n0, s0, n1, s1, (long long)t0->shape[1], (long long)t1->shape[0]);
        if (t0->shape[1] != pe->r)
            return sl__errf(err, errlen, SL_EINVAL, "tensor \"%s\": rank %lld (shape %s) does not match the config's %s = %d", n0,
                            (long long)t0->shape[1], s0, rank_src, pe->r);
        if (t0->shape[0] != rows)
            return sl__errf(err, errlen, SL_EINVAL,
                            "tensor \"%s\": wrong shape %s: %s is %d x %d (out x in), so Q must be [max(out, in), r] = [%lld, %d]",
                            n0, s0, sl_module_name(mod), pe->out, pe->in, (long long)rows, pe->r);
    } else {
        if (t0->ndim != 2)
            return sl__errf(err, errlen, SL_EINVAL, "tensor \"%s\": wrong shape %s: lora_A must be 2-D [r, in] = [%d, %d]", n0, s0,
                            pe->r, pe->in);
        if (t1->ndim != 2)
            return sl__errf(err, errlen, SL_EINVAL, "tensor \"%s\": wrong shape %s: lora_B must be 2-D [out, r] = [%d, %d]", n1, s1,
                            pe->out, pe->r);
        if (t0->shape[0] != t1->shape[1])
            return sl__errf(err, errlen, SL_EINVAL,
                            "tensors \"%s\" %s and \"%s\" %s: A has rank %lld but B has rank %lld (A and B must have the same rank)",
                            n0, s0, n1, s1, (long long)t0->shape[0], (long long)t1->shape[1]);
        if (t0->shape[0] != pe->r)
            return sl__errf(err, errlen, SL_EINVAL, "tensor \"%s\": rank %lld (shape %s) does not match the config's %s = %d", n0,
                            (long long)t0->shape[0], s0, rank_src, pe->r);
        if (t0->shape[1] != pe->in)
            return sl__errf(err, errlen, SL_EINVAL, "tensor \"%s\": wrong shape %s: %s is %d x %d (out x in), so lora_A must be [r, in] = [%d, %d]",
                            n0, s0, sl_module_name(mod), pe->out, pe->in, pe->r, pe->in);
        if (t1->shape[0] != pe->out)
            return sl__errf(err, errlen, SL_EINVAL, "tensor \"%s\": wrong shape %s: %s is %d x %d (out x in), so lora_B must be [out, r] = [%d, %d]",
                            n1, s1, sl_module_name(mod), pe->out, pe->in, pe->out, pe->r);
    }
    return 0;
}

/* ---- pass 4: conversion ----------------------------------------------------------------- */

/* Non-finite: F32 exponent 0xff; BF16 0xff (bits 7-14); F16 0x1f (bits 10-14). */
static uint32_t nonfinite_mask(sl_wtype wt) { return wt == SL_WTYPE_F32 ? 0x7f800000u : wt == SL_WTYPE_BF16 ? 0x7f80u : 0x7c00u; }

/* Whether any of the N elements of type WT at P is NaN or Inf. Tested on the bits, in a loop
 * without an early exit (it vectorises), so the check costs less than a copy. */
static int any_nonfinite(const void *p, sl_wtype wt, size_t n) {
    const uint32_t *w = p;
    const uint16_t *h = p;
    uint32_t emask = nonfinite_mask(wt);
    unsigned any = 0;
    if (wt == SL_WTYPE_F32)
        for (size_t i = 0; i < n; i++) any |= (w[i] & emask) == emask;
    else
        for (size_t i = 0; i < n; i++) any |= (h[i] & emask) == emask;
    return any != 0;
}

/* T's elements (n = t->nelem) into DST as WT: F32 widened, BF16 / F16 with their bits kept (T
 * then has that dtype: the adapter's rule, adapter.h); rejects NaN/Inf; multiplies by SCALE
 * (if != 1; F32 only). */
static int convert(void *dst, sl_wtype wt, const sl_tensor *t, double scale, char *err, size_t errlen) {
    size_t n = (size_t)t->nelem;
    if (wt == SL_WTYPE_F32) {
        int rc = sl_tensor_to_f32(t, dst, n);
        if (rc) return sl__errf(err, errlen, rc, "tensor \"%s\": cannot convert dtype %s to F32", t->name, sl_dtype_name(t->dtype));
    } else {
        memcpy(dst, t->data, n * 2);
    }
    if (any_nonfinite(dst, wt, n)) {
        const uint16_t *h = dst;
        const uint32_t *w = dst;
        uint32_t emask = nonfinite_mask(wt);
        size_t bad = 0;
        while ((wt == SL_WTYPE_F32 ? w[bad] & emask : h[bad] & emask) != emask) bad++;
        float v = sl_adapter_elem(wt, dst, bad);
        return sl__errf(err, errlen, SL_EINVAL, "tensor \"%s\": element %zu is %s: every value must be finite (no NaN or Inf)",
                        t->name, bad, isnan(v) ? "NaN" : "Inf");
    }
    if (scale != 1.0) {
        float *f = dst;
        for (size_t i = 0; i < n; i++) {
            f[i] = (float)(f[i] * scale);
            if (!isfinite(f[i]))
                return sl__errf(err, errlen, SL_ERANGE, "tensor \"%s\": element %zu overflows F32 once scaled by s = %g (values must stay finite)",
                                t->name, i, scale);
        }
    }
    return 0;
}

/* DST (cols, rows) = SRC (rows, cols)^T, both row-major, elements of ES (4 or 2) bytes. SRC
 * may be unaligned (a tensor in the mapped file). */
static void transpose(void *dst, const void *src, size_t rows, size_t cols, size_t es) {
    const unsigned char *s = src;
    if (es == 4) {
        uint32_t *d = dst;
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++) memcpy(&d[j * rows + i], s + (i * cols + j) * 4, 4);
    } else {
        uint16_t *d = dst;
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++) memcpy(&d[j * rows + i], s + (i * cols + j) * 2, 2);
    }
}

/* Whether T's elements are stored as WT already (no conversion: they can be read in place). */
static int stored_as(const sl_tensor *t, sl_wtype wt) {
    return (wt == SL_WTYPE_F32 && t->dtype == SL_DTYPE_F32) || (wt == SL_WTYPE_BF16 && t->dtype == SL_DTYPE_BF16) ||
           (wt == SL_WTYPE_F16 && t->dtype == SL_DTYPE_F16);
}

/* DST = T's (rows, cols) elements as WT, transposed, in two row blocks: rows [0, SPLIT) to
 * DST as (cols, split), rows [SPLIT, rows) right after it as (cols, rows - split) (SymLoRA's
 * Q^T and Q2^T: adapter.h). Elements already stored as WT go from the mapped file straight
 * into DST, checked there (a 13 MB F32 adapter spent 5 ms copying them to TMP first);
 * others are converted into TMP first (convert). Errors as convert's, in the tensor's order. */
static int convert_transposed(void *dst, sl_wtype wt, const sl_tensor *t, size_t split, void *tmp, char *err,
                              size_t errlen) {
    size_t es = wt == SL_WTYPE_F32 ? 4 : 2, n = (size_t)t->nelem, cols = (size_t)t->shape[1], rows = n / cols;
    int direct = stored_as(t, wt);
    if (!direct) {
        int rc = convert(tmp, wt, t, 1.0, err, errlen);
        if (rc) return rc;
    }
    const unsigned char *src = direct ? t->data : tmp;
    transpose(dst, src, split, cols, es);
    if (rows > split) transpose((unsigned char *)dst + split * cols * es, src + split * cols * es, rows - split, cols, es);
    /* Converted ones were checked by convert; direct ones are checked in DST, and a failure is
     * found again by convert, in the tensor's order, for its message. */
    if (direct && any_nonfinite(dst, wt, n)) {
        int rc = convert(tmp, wt, t, 1.0, err, errlen);
        return rc ? rc : sl__errf(err, errlen, SL_EINVAL, "tensor \"%s\": a value is not finite", t->name);
    }
    return 0;
}

/* ---- public API ------------------------------------------------------------------------- */

static void adapter_destroy(sl_adapter *a) {
    if (!a) return;
    sl_big_free(a->data, a->bytes);
    free(a->mods);
    free(a);
}

/* Passes 1 and 2: *ROOT (the parsed config, caller decrefs), CFG (caller acfg_frees) and *PLAN
 * ((n_layers, SL_MOD_COUNT), caller frees), also on failure. */
static int config_plan(const sl_model *m, const char *config, size_t config_len, const sl_adapter_opts *opts,
                       json_t **root, acfg *cfg, plan_entry **plan, char *err, size_t errlen) {
    *root = NULL;
    *plan = NULL;
    int max_rank = opts && opts->max_rank ? opts->max_rank : SL_ADAPTER_DEFAULT_MAX_RANK;
    if (max_rank < 1) return sl__errf(err, errlen, SL_EINVAL, "sl_adapter_load: max_rank %d must be >= 1", max_rank);
    if (!config || config_len == 0) return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": empty file");
    if (config_len > SL_ADAPTER_MAX_CONFIG)
        return sl__errf(err, errlen, SL_ETOOBIG, CFG_LABEL ": %zu bytes exceeds the %u-byte limit", config_len, SL_ADAPTER_MAX_CONFIG);
    int nl = sl_model_get_config(m)->n_layers;
    json_error_t jerr;
    *root = json_loadb(config, config_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*root)
        return sl__errf(err, errlen, SL_EFORMAT, CFG_LABEL ": malformed JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                        jerr.column);
    int rc = parse_config(cfg, *root, max_rank, nl, opts && opts->upload, err, errlen);
    if (rc) return rc;
    *plan = calloc((size_t)nl * SL_MOD_COUNT, sizeof **plan);
    if (!*plan) return sl__errf(err, errlen, SL_ENOMEM, "adapter: out of memory");
    return make_plan(*plan, cfg, m, max_rank, err, errlen);
}

int sl_adapter_resolve(const sl_model *m, const char *config, size_t config_len, const sl_adapter_opts *opts,
                       char **resolved, size_t *resolved_len, int *ranks, double *alphas, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (resolved) *resolved = NULL;
    if (resolved_len) *resolved_len = 0;
    if (!m) return sl__errf(err, errlen, SL_EINVAL, "sl_adapter_resolve: NULL argument");
    json_t *root = NULL, *mods = NULL;
    acfg cfg = {0};
    plan_entry *plan = NULL;
    int rc = config_plan(m, config, config_len, opts, &root, &cfg, &plan, err, errlen);
    if (!rc && resolved && !(mods = json_object())) rc = sl__errf(err, errlen, SL_ENOMEM, "adapter: out of memory");
    int nl = sl_model_get_config(m)->n_layers;
    char name[160];
    for (int l = 0; !rc && l < nl; l++) {
        for (int mod = 0; mod < SL_MOD_COUNT; mod++) {
            const plan_entry *pe = &plan[(size_t)l * SL_MOD_COUNT + mod];
            if (ranks) ranks[l * SL_MOD_COUNT + mod] = pe->r;
            if (alphas) alphas[l * SL_MOD_COUNT + mod] = pe->r ? pe->alpha : 0;
            if (!pe->r || !mods) continue;
            module_path(name, sizeof name, l, (sl_module)mod);
            json_t *e = json_array();
            if (!e || json_array_append_new(e, json_integer(pe->r)) != 0 || json_array_append_new(e, json_real(pe->alpha)) != 0 ||
                json_object_set_new(mods, name, e) != 0)
                rc = sl__errf(err, errlen, SL_ENOMEM, "adapter: out of memory");
        }
    }
    if (!rc && mods) {
        char *text = NULL;
        /* jansson prints reals with 17 significant digits: they read back exactly. */
        json_t *r = json_object();
        if (!r || json_object_set_new(r, "version", json_integer(1)) != 0 || json_object_set(r, "modules", mods) != 0 ||
            json_object_set_new(root, SL_ADAPTER_RESOLVED, r) != 0 || !(text = json_dumps(root, JSON_INDENT(2))))
            rc = sl__errf(err, errlen, SL_ENOMEM, "adapter: out of memory");
        *resolved = text;
        if (resolved_len && text) *resolved_len = strlen(text);
    }
    json_decref(mods);
    free(plan);
    acfg_free(&cfg);
    json_decref(root);
    return rc;
}

int sl_adapter_load(sl_adapter **out, const sl_model *m, const char *config, size_t config_len, const void *weights,
                    size_t weights_len, const sl_adapter_opts *opts, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (!out || !m) return sl__errf(err, errlen, SL_EINVAL, "sl_adapter_load: NULL argument");
    *out = NULL;
    int nl = sl_model_get_config(m)->n_layers;
    json_t *root = NULL;
    acfg cfg = {0};
    plan_entry *plan = NULL;
    sl_safetensors *st = NULL;
    sl_adapter *a = NULL;
    void *tmp = NULL;
    int rc = config_plan(m, config, config_len, opts, &root, &cfg, &plan, err, errlen);
    if (rc) goto done;

    if (!weights && weights_len) { rc = sl__errf(err, errlen, SL_EINVAL, ST_LABEL ": NULL buffer"); goto done; }
    static const char empty = 0;
    if ((rc = sl_safetensors_parse(&st, weights ? weights : &empty, weights_len, ST_LABEL, err, errlen))) goto done;
    for (size_t i = 0; i < sl_safetensors_count(st); i++)
        if ((rc = place_tensor(plan, sl_safetensors_at(st, i), &cfg, nl, err, errlen))) goto done;

    /* Count the elements of every adapted module, and their dtypes, before allocating them all
     * at once. */
    size_t n_mat = 0, n_scale = 0, tmp_n = 0; /* tmp_n: the largest tensor stored transposed (Q or B) */
    int mats = 0, mats_bf16 = 0, mats_f16 = 0;
    unsigned mask = 0;
    for (int l = 0; l < nl; l++) {
        for (int mod = 0; mod < SL_MOD_COUNT; mod++) {
            plan_entry *pe = &plan[(size_t)l * SL_MOD_COUNT + mod];
            if (!pe->r) continue;
            if ((rc = check_module(pe, l, (sl_module)mod, cfg.kind, err, errlen))) goto done;
            /* the matrices: Q (SymLoRA); A and B (LoRA) */
            for (int slot = 0; slot < (cfg.kind == SL_ADAPTER_SYMLORA ? 1 : 2); slot++) {
                const sl_tensor *t = pe->t[slot];
                n_mat += (size_t)t->nelem;
                mats++;
                mats_bf16 += t->dtype == SL_DTYPE_BF16;
                mats_f16 += t->dtype == SL_DTYPE_F16;
            }
            n_scale += (size_t)pe->r;
            size_t nt = (size_t)pe->t[cfg.kind == SL_ADAPTER_SYMLORA ? 0 : 1]->nelem;
            if (nt > tmp_n) tmp_n = nt;
            mask |= 1u << mod;
        }
    }
    /* The adapter's element type (adapter.h): BF16 or F16 when every matrix is, else F32. */
    sl_wtype wt = mats_bf16 == mats ? SL_WTYPE_BF16 : mats_f16 == mats ? SL_WTYPE_F16 : SL_WTYPE_F32;
    size_t es = wt == SL_WTYPE_F32 ? 4 : 2;
    size_t scale_off = (n_mat * es + 3) & ~(size_t)3; /* the F32 scales, 4-byte aligned */

    a = calloc(1, sizeof *a);
    if (!a) { rc = sl__errf(err, errlen, SL_ENOMEM, "adapter: out of memory"); goto done; }
    a->kind = cfg.kind;
    a->r = cfg.r;
    a->alpha = (float)cfg.alpha;
    a->n_layers = nl;
    a->mask = mask;
    a->wt = wt;
    a->bytes = scale_off + n_scale * sizeof(float);
    /* 64-byte aligned (a malloc of this size is a page + 16 bytes): the kernel's 16-element
     * loads of Q^T / A / B^T rows then stay within cache lines when r and the widths are
     * multiples of 16, as in most adapters. On huge pages where the system grants them
     * (bigalloc.h): a batch of 64 adapters streams 425-850 MB of them per step, one 4 KB TLB
     * entry each otherwise, and the forward pass prefetches them (bigalloc.h: sl_touch_pages).
     * The scales come after every matrix, away from their streams. Owned by a, freed in
     * adapter_destroy. */
    a->data = sl_big_alloc(a->bytes);
    a->mods = calloc((size_t)nl * SL_MOD_COUNT, sizeof *a->mods); /* owned by a */
    tmp = malloc((tmp_n ? tmp_n : 1) * es); /* Q or B as stored, before the transpose */
    if (!a->data || !a->mods || !tmp) { rc = sl__errf(err, errlen, SL_ENOMEM, "adapter: out of memory for %zu bytes of tensors", a->bytes); goto done; }

    unsigned char *p = a->data;                           /* the next matrix */
    float *sp = (float *)((unsigned char *)a->data + scale_off); /* the next scale vector */
    for (int l = 0; l < nl; l++) {
        for (int mod = 0; mod < SL_MOD_COUNT; mod++) {
            size_t idx = (size_t)l * SL_MOD_COUNT + mod;
            plan_entry *pe = &plan[idx];
            if (!pe->r) continue;
            sl_adapter_module *am = &a->mods[idx];
            am->r = pe->r;
            am->wt = wt;
            size_t r = (size_t)pe->r;
            am->scale = sp;                      /* (r) */
            sp += r;
            if (cfg.kind == SL_ADAPTER_SYMLORA) {
                size_t rows = (size_t)(pe->out > pe->in ? pe->out : pe->in), in = (size_t)pe->in;
                am->qt = p;                      /* (r, in) = Q[:in]^T, then Q[in:]^T (adapter.h) */
                p += (size_t)pe->t[0]->nelem * es;
                if ((rc = convert_transposed(am->qt, wt, pe->t[0], in, tmp, err, errlen))) goto done;
                if (rows > in) am->qt2 = (unsigned char *)am->qt + r * in * es; /* out > in */
                if ((rc = convert(am->scale, SL_WTYPE_F32, pe->t[1], pe->scale, err, errlen))) goto done; /* s * lambda */
            } else {
                am->a = p;                       /* (r, in) */
                p += (size_t)pe->t[0]->nelem * es;
                am->bt = p;                      /* (r, out) = B^T */
                p += (size_t)pe->t[1]->nelem * es;
                if ((rc = convert(am->a, wt, pe->t[0], 1.0, err, errlen))) goto done;
                if ((rc = convert_transposed(am->bt, wt, pe->t[1], (size_t)pe->out, tmp, err, errlen))) goto done;
                float s = (float)pe->scale;
                if (!isfinite(s)) {
                    rc = sl__errf(err, errlen, SL_ERANGE, "%s: the scale s = %g of %s (layer %d) overflows F32",
                                  CFG_LABEL, pe->scale, sl_module_name((sl_module)mod), l);
                    goto done;
                }
                for (size_t j = 0; j < r; j++) am->scale[j] = s;
            }
        }
    }
    atomic_init(&a->refs, 1);
    static atomic_uint_fast64_t next_uid = 1;
    a->uid = (uint64_t)atomic_fetch_add(&next_uid, 1);
    *out = a; /* the caller owns one reference */
    a = NULL;
    rc = 0;
done:
    free(tmp);
    adapter_destroy(a);
    sl_safetensors_free(st);
    free(plan);
    acfg_free(&cfg);
    json_decref(root);
    return rc;
}

static int read_file(const char *path, size_t limit, char **buf, size_t *len, char *err, size_t errlen) {
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return sl__errf(err, errlen, errno == ENOENT ? SL_ENOENT : SL_EIO, "%s: %s", path, strerror(errno));
    size_t cap = 0;
    char *b = NULL;
    int rc = 0;
    for (;;) {
        if (*len == cap) {
            if (cap >= limit) { rc = sl__errf(err, errlen, SL_ETOOBIG, "%s: larger than %zu bytes", path, limit); break; }
            cap = cap ? cap * 2 : 4096;
            if (cap > limit) cap = limit;
            char *nb = realloc(b, cap);
            if (!nb) { rc = sl__errf(err, errlen, SL_ENOMEM, "%s: out of memory", path); break; }
            b = nb;
        }
        size_t got = fread(b + *len, 1, cap - *len, f);
        *len += got;
        if (got == 0) {
            if (ferror(f)) rc = sl__errf(err, errlen, SL_EIO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (rc) { free(b); *len = 0; return rc; }
    *buf = b;
    return 0;
}

int sl_adapter_load_dir(sl_adapter **out, const sl_model *m, const char *dir, const sl_adapter_opts *opts, char *err,
                        size_t errlen) {
    if (!out || !m || !dir) return sl__errf(err, errlen, SL_EINVAL, "sl_adapter_load_dir: NULL argument");
    *out = NULL;
    size_t n = strlen(dir) + 64;
    char *path = malloc(n);
    if (!path) return sl__errf(err, errlen, SL_ENOMEM, "%s: out of memory", dir);
    char *cfg = NULL;
    size_t cfg_len = 0;
    snprintf(path, n, "%s/" CFG_LABEL, dir);
    int rc = read_file(path, SL_ADAPTER_MAX_CONFIG + 1, &cfg, &cfg_len, err, errlen);
    if (rc) { free(path); return rc; }

    snprintf(path, n, "%s/" ST_LABEL, dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = sl__errf(err, errlen, errno == ENOENT ? SL_ENOENT : SL_EIO, "%s: %s", path, strerror(errno));
        goto done;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = sl__errf(err, errlen, SL_EIO, "%s: not a regular file", path);
        close(fd);
        goto done;
    }
    size_t wlen = (size_t)sb.st_size;
    void *map = NULL;
    if (wlen) {
        map = mmap(NULL, wlen, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            rc = sl__errf(err, errlen, SL_EIO, "%s: mmap: %s", path, strerror(errno));
            close(fd);
            goto done;
        }
    }
    close(fd);
    /* sl_adapter_load stores copies of the weights: the map is not retained. */
    rc = sl_adapter_load(out, m, cfg, cfg_len, map, wlen, opts, err, errlen);
    if (map) munmap(map, wlen);
    if (rc && err && errlen) { /* name the directory too */
        char *detail = strdup(err);
        if (detail) snprintf(err, errlen, "%s: %s", dir, detail);
        free(detail);
    }
done:
    free(cfg);
    free(path);
    return rc;
}

sl_adapter *sl_adapter_ref(sl_adapter *a) {
    if (a) atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    return a;
}

uint64_t sl_adapter_uid(const sl_adapter *a) { return a->uid; }

int sl_adapter_refs(const sl_adapter *a) { return atomic_load_explicit(&((sl_adapter *)a)->refs, memory_order_acquire); }

void sl_adapter_unref(sl_adapter *a) {
    if (!a) return;
    if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_release) == 1) {
        atomic_thread_fence(memory_order_acquire);
        adapter_destroy(a);
    }
}

sl_adapter_kind sl_adapter_get_kind(const sl_adapter *a) { return a->kind; }
int sl_adapter_rank(const sl_adapter *a) { return a->r; }
float sl_adapter_alpha(const sl_adapter *a) { return a->alpha; }
size_t sl_adapter_bytes(const sl_adapter *a) { return a->bytes; }
sl_wtype sl_adapter_wtype(const sl_adapter *a) { return a->wt; }

float sl_adapter_elem(sl_wtype wt, const void *m, size_t i) {
    uint16_t h;
    float f;
    if (wt == SL_WTYPE_F32) {
        memcpy(&f, (const unsigned char *)m + 4 * i, 4);
        return f;
    }
    memcpy(&h, (const unsigned char *)m + 2 * i, 2);
    return wt == SL_WTYPE_BF16 ? sl_bf16_to_f32(h) : sl_f16_to_f32(h);
}
unsigned sl_adapter_module_mask(const sl_adapter *a) { return a->mask; }

const sl_adapter_module *sl_adapter_get_module(const sl_adapter *a, int layer, sl_module mod) {
    if (!a || layer < 0 || layer >= a->n_layers || (unsigned)mod >= SL_MOD_COUNT) return &no_module;
    return &a->mods[(size_t)layer * SL_MOD_COUNT + mod];
}
