/* fuzz_adapter_patterns.c — the module patterns of adapter_config.json (sl_adapter_resolve):
 * target_modules / exclude_modules regex strings, rank_pattern and alpha_pattern keys, all
 * client-supplied regexes evaluated against the base model's module names.
 *
 * Input: lines. Line 0 picks the module selection: "" -> the list ["q_proj", "o_proj"],
 * otherwise a target_modules regex string. Lines 1.. are pattern keys: a line starting with
 * 'x' is the exclude_modules regex, one starting with 'a' an alpha_pattern key, anything else
 * a rank_pattern key (values derived from the line's length). The config is built with
 * jansson, so every input reaches the pattern code rather than the JSON parser.
 *
 * Invariants: a refusal has an error text; an acceptance gives ranks within 1..r_max and
 * finite positive alphas where adapted; and the resolved config (what an upload stores)
 * resolves again, without any regex, to exactly the same ranks and alphas. Every input must
 * finish quickly whatever the patterns (the regex budget): libFuzzer's -timeout catches a
 * runaway match. */
#include "fuzz_common.h"

#include <jansson.h>
#include <math.h>

#include "adapter.h"
#include "error.h"
#include "model.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sl_model *model;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    char dir[4096], err[512];
    snprintf(dir, sizeof dir, "%s/models/llama-tiny", fuzz_fixtures_dir());
    if (sl_model_load(&model, dir, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_adapter_patterns: cannot load %s: %s (set SL_FUZZ_FIXTURES)\n", dir, err);
        exit(2);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *cfg = json_pack("{s:s, s:i, s:i}", "peft_type", "LORA", "r", 8, "lora_alpha", 16);
    json_t *rank = json_object(), *alpha = json_object();
    if (!cfg || !rank || !alpha) abort();
    size_t start = 0;
    int line = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != '\n') continue;
        size_t n = i - start;
        char *s = malloc(n + 1);
        if (!s) abort();
        memcpy(s, data + start, n);
        s[n] = 0;
        start = i + 1;
        if (line++ == 0) {
            json_object_set_new(cfg, "target_modules", n ? json_string_nocheck(s) : json_pack("[s, s]", "q_proj", "o_proj"));
        } else if (s[0] == 'x') {
            json_object_set_new(cfg, "exclude_modules", json_string_nocheck(s + 1));
        } else if (s[0] == 'a') {
            json_object_set_new(alpha, s + 1, json_real(1.0 + (double)(n % 7) * 0.25));
        } else {
            json_object_set_new(rank, s, json_integer(1 + (json_int_t)(n % 8)));
        }
        free(s);
    }
    json_object_set_new(cfg, "rank_pattern", rank);
    json_object_set_new(cfg, "alpha_pattern", alpha);
    char *text = json_dumps(cfg, 0);
    json_decref(cfg);
    if (!text) return 0; /* not valid UTF-8 as a JSON string: nothing to resolve */

    int nl = sl_model_get_config(model)->n_layers;
    int *ranks = calloc((size_t)nl * SL_MOD_COUNT, sizeof *ranks), *ranks2 = calloc((size_t)nl * SL_MOD_COUNT, sizeof *ranks2);
    double *alphas = calloc((size_t)nl * SL_MOD_COUNT, sizeof *alphas), *alphas2 = calloc((size_t)nl * SL_MOD_COUNT, sizeof *alphas2);
    if (!ranks || !ranks2 || !alphas || !alphas2) abort();
    sl_adapter_opts up = {.max_rank = 8, .upload = 1};
    char *res = NULL, err[512];
    size_t rl = 0;
    err[0] = 'x';
    int rc = sl_adapter_resolve(model, text, strlen(text), &up, &res, &rl, ranks, alphas, err, sizeof err);
    fuzz_note(rc, err);
    if (rc) {
        FUZZ_CHECK(rc < 0 && res == NULL);
        FUZZ_CHECK_ERR(err, sizeof err);
        FUZZ_CHECK(err[0] != 0);
    } else {
        FUZZ_CHECK(res && rl == strlen(res));
        int any = 0;
        for (int i = 0; i < nl * SL_MOD_COUNT; i++) {
            FUZZ_CHECK(ranks[i] >= 0 && ranks[i] <= 8);
            if (ranks[i]) FUZZ_CHECK(isfinite(alphas[i]) && alphas[i] > 0);
            any |= ranks[i] != 0;
        }
        FUZZ_CHECK(any);
        sl_adapter_opts load = {.max_rank = 8};
        int rc2 = sl_adapter_resolve(model, res, rl, &load, NULL, NULL, ranks2, alphas2, err, sizeof err);
        FUZZ_CHECK(rc2 == 0);
        FUZZ_CHECK(!memcmp(ranks, ranks2, (size_t)nl * SL_MOD_COUNT * sizeof *ranks));
        FUZZ_CHECK(!memcmp(alphas, alphas2, (size_t)nl * SL_MOD_COUNT * sizeof *alphas));
        /* A client may not send the resolved field itself. */
        FUZZ_CHECK(sl_adapter_resolve(model, res, rl, &up, NULL, NULL, NULL, NULL, err, sizeof err) < 0);
    }
    free(res);
    free(text);
    free(ranks);
    free(ranks2);
    free(alphas);
    free(alphas2);
    return 0;
}
