/* bench_constraint — structured outputs: compile time of a 10-property object schema and the
 * cost of token masking, on a 49,152-token byte-level vocabulary (the bench model's size).
 *
 *   build/bench_constraint [--vocab N] [--tokenizer tokenizer.json] [--batch 8] [--steps 96]
 *
 * The fixture tokenizers have 800-1256 tokens and the bench model's copy only pads ids, so a
 * mask over them would cost nothing: by default a byte-level BPE vocabulary of N tokens is
 * made here, deterministically (the 256 byte tokens, JSON punctuation runs, indentation,
 * numbers, and pseudo-words of English letter frequencies with and without a leading space,
 * some accented: a trie of the shape of a real vocabulary, ~7 bytes a token).
 *
 * Masking is measured as the engine runs it: BATCH sequences (different seeds) each take the
 * mask, turn it into -inf logits over the vocabulary and advance over a token picked
 * uniformly among the allowed ones (what a random model does: long strings, every branch of
 * the schema), for STEPS steps, restarting a sequence whose output is complete. Round 1 starts
 * with an empty mask cache (a new schema); rounds 2-3 reuse the compiled constraint (the cache
 * of repeated requests). Prints one JSON line:
 *   {"constraint_compile_ms": median of 20 compiles, "constraint_mask_ms_per_step_b8_cold": ...,
 *    "constraint_mask_ms_per_step_b8": warm, "constraint_mask_us_per_token": ..., "vocab": N, ...}
 * tools/bench.sh divides the per-step figures by the decode step at batch 8. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "constraint.h"
#include "error.h"
#include "tokenizer.h"

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint32_t rnd(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* GPT-2's byte-level alphabet: byte -> code point. */
static uint32_t byte_cp(int b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return (uint32_t)b;
    int n = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) n++;
    return 256u + (uint32_t)n;
}

/* Raw bytes -> the token's byte-level string. */
static void to_level(const unsigned char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = byte_cp(s[i]);
        if (cp < 0x80) out[o++] = (char)cp;
        else {
            out[o++] = (char)(0xC0 | (cp >> 6));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    out[o] = 0;
}

static const char FREQ[] = "eeeeeeeeeeeettttttttaaaaaaaaoooooooiiiiiiinnnnnnnsssssshhhhhhrrrrrrddddllllcccuuummmwwffggyyppbbvkjxqz";

/* A tokenizer.json (malloc'ed) with N tokens. */
static char *make_vocab(int n) {
    json_t *vocab = json_object();
    int id = 0;
    char lv[256];
    unsigned char raw[64];
    json_object_set_new(vocab, "<|endoftext|>", json_integer(id++));
    json_object_set_new(vocab, "<|im_start|>", json_integer(id++));
    json_object_set_new(vocab, "<|im_end|>", json_integer(id++));
    for (int b = 0; b < 256; b++) {
        raw[0] = (unsigned char)b;
        to_level(raw, 1, lv);
        json_object_set_new(vocab, lv, json_integer(id++));
    }
    static const char *const punct[] = {"\",", "\":", "{\"", "\"}", "},", "],", "\":\"", "\",\"", " \"", " {", "{\n",
                                        "\n}", "\",\n", "[\"", "\"]", "\": ", "\", \"", " [", "[]", "{}", "},\n", "null",
                                        "true", "false", " null", " true", " false", "\"\n", ":\n", ".\n", ", ", ". "};
    for (size_t i = 0; i < sizeof punct / sizeof *punct; i++) {
        to_level((const unsigned char *)punct[i], strlen(punct[i]), lv);
        if (!json_object_get(vocab, lv)) json_object_set_new(vocab, lv, json_integer(id++));
    }
    for (int k = 2; k <= 32; k++) { /* indentation: newline + spaces, and space runs */
        memset(raw, ' ', (size_t)k);
        to_level(raw, (size_t)k, lv);
        if (!json_object_get(vocab, lv)) json_object_set_new(vocab, lv, json_integer(id++));
        raw[0] = '\n';
        to_level(raw, (size_t)k, lv);
        if (!json_object_get(vocab, lv)) json_object_set_new(vocab, lv, json_integer(id++));
    }
    for (int v = 0; v < 1000; v++) {
        int l = snprintf((char *)raw, sizeof raw, "%d", v);
        to_level(raw, (size_t)l, lv);
        if (!json_object_get(vocab, lv)) json_object_set_new(vocab, lv, json_integer(id++));
        raw[0] = ' ';
        l = snprintf((char *)raw + 1, sizeof raw - 1, "%d", v) + 1;
        to_level(raw, (size_t)l, lv);
        if (!json_object_get(vocab, lv)) json_object_set_new(vocab, lv, json_integer(id++));
    }
    static const char *const acc[] = {"é", "è", "ü", "ö", "ä", "ñ", "ç", "ß", "à"};
    while (id < n) {
        size_t l = 0;
        int sp = rnd() % 100 < 55, cap = rnd() % 100 < 12, len = 1 + (int)(rnd() % 6) + (int)(rnd() % 6);
        if (sp) raw[l++] = ' ';
        for (int i = 0; i < len && l < 40; i++) {
            if (rnd() % 100 < 2) {
                const char *a = acc[rnd() % 9];
                memcpy(raw + l, a, strlen(a));
                l += strlen(a);
                continue;
            }
            char c = FREQ[rnd() % (sizeof FREQ - 1)];
            raw[l++] = (unsigned char)(i == 0 && cap ? c - 32 : c);
        }
        if (rnd() % 100 < 3) raw[l++] = (unsigned char)",.:;\")"[rnd() % 7];
        to_level(raw, l, lv);
        if (!json_object_get(vocab, lv)) json_object_set_new(vocab, lv, json_integer(id++));
    }
    json_t *added = json_array();
    const char *sp[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    for (int i = 0; i < 3; i++)
        json_array_append_new(added, json_pack("{s:i,s:s,s:b,s:b,s:b,s:b,s:b}", "id", i, "content", sp[i], "single_word", 0,
                                               "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 1));
    json_t *tok = json_pack("{s:s,s:o,s:n,s:{s:s,s:b,s:b,s:b},s:n,s:{s:s,s:b,s:b,s:b},s:{s:s,s:o,s:o}}", "version", "1.0",
                            "added_tokens", added, "normalizer", "pre_tokenizer", "type", "ByteLevel", "add_prefix_space", 0,
                            "trim_offsets", 1, "use_regex", 1, "post_processor", "decoder", "type", "ByteLevel",
                            "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1, "model", "type", "BPE", "vocab", vocab,
                            "merges", json_array());
    char *s = json_dumps(tok, JSON_COMPACT);
    json_decref(tok);
    return s;
}

static const char *SCHEMA =
    "{\"type\":\"object\",\"properties\":{"
    "\"id\":{\"type\":\"string\",\"format\":\"uuid\"},"
    "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":40},"
    "\"email\":{\"type\":\"string\",\"format\":\"email\"},"
    "\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":120},"
    "\"score\":{\"type\":\"number\"},"
    "\"active\":{\"type\":\"boolean\"},"
    "\"city\":{\"enum\":[\"Lisbon\",\"Porto\",\"Braga\",\"Faro\",\"Coimbra\"]},"
    "\"zip\":{\"type\":\"string\",\"pattern\":\"^[0-9]{4}-[0-9]{3}$\"},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":16},\"maxItems\":5},"
    "\"notes\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}},"
    "\"required\":[\"id\",\"name\",\"email\",\"age\",\"score\",\"active\",\"city\",\"zip\",\"tags\",\"notes\"],"
    "\"additionalProperties\":false}";

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int n_vocab = 49152, batch = 8, steps = 96;
    const char *tok_path = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--vocab")) n_vocab = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--tokenizer")) tok_path = argv[i + 1];
        else {
            fprintf(stderr, "usage: bench_constraint [--vocab N] [--tokenizer tokenizer.json] [--batch 8] [--steps 96]\n");
            return 2;
        }
    }
    if (n_vocab < 2048 || batch < 1 || batch > 64 || steps < 1) return 2;
    char err[512];
    sl_tokenizer *tok = NULL;
    int rc;
    if (tok_path) rc = sl_tokenizer_load(&tok, tok_path, err, sizeof err);
    else {
        char *j = make_vocab(n_vocab);
        rc = j ? sl_tokenizer_load_buffer(&tok, j, strlen(j), err, sizeof err) : SL_ENOMEM;
        free(j);
    }
    if (rc) {
        fprintf(stderr, "bench_constraint: tokenizer: %s\n", err);
        return 1;
    }
    int nv = sl_tokenizer_vocab_size(tok);
    if (tok_path && nv < n_vocab) nv = n_vocab;
    double t0 = now_s();
    sl_cvocab *v = NULL;
    if (sl_cvocab_init(&v, tok, nv, err, sizeof err)) {
        fprintf(stderr, "bench_constraint: %s\n", err);
        return 1;
    }
    double trie_ms = (now_s() - t0) * 1e3;

    /* Compile time: median of 20 (no cache). */
    sl_cpiece p = {SL_CPIECE_JSON_SCHEMA, SCHEMA, strlen(SCHEMA)};
    double ct[20];
    sl_constraint *c = NULL;
    for (int i = 0; i < 20; i++) {
        sl_constraint *x;
        t0 = now_s();
        if (sl_constraint_compile(&x, v, &p, 1, err, sizeof err)) {
            fprintf(stderr, "bench_constraint: compile: %s\n", err);
            return 1;
        }
        ct[i] = (now_s() - t0) * 1e3;
        if (c) sl_constraint_unref(x);
        else c = x;
    }
    qsort(ct, 20, sizeof *ct, cmp_d);

    /* Masking, as the engine does it, BATCH sequences per step. */
    int words = (nv + 63) / 64;
    uint64_t *mask = malloc((size_t)words * 8);
    float *row = malloc((size_t)nv * sizeof *row);
    sl_cmatch **m = calloc((size_t)batch, sizeof *m);
    double round_ms[3] = {0};
    long completed = 0, tokens = 0;
    for (int round = 0; round < 3; round++) {
        for (int b = 0; b < batch; b++) m[b] = sl_cmatch_new(c);
        double t = 0;
        for (int s = 0; s < steps; s++) {
            for (int b = 0; b < batch; b++) {
                for (int i = 0; i < nv; i++) row[i] = (float)(i & 7);
                double a = now_s();
                if ((rc = sl_cmatch_mask(m[b], mask)) != 0) {
                    fprintf(stderr, "bench_constraint: mask: %s\n", sl_strerror(rc));
                    return 1;
                }
                int cnt = 0;
                for (int w = 0; w < words; w++) {
                    uint64_t x = mask[w];
                    if (x == ~0ull) {
                        cnt += 64;
                        continue;
                    }
                    for (int k = 0; k < 64 && w * 64 + k < nv; k++) {
                        if ((x >> k) & 1) cnt++;
                        else row[w * 64 + k] = -INFINITY;
                    }
                }
                t += now_s() - a;
                if (sl_cmatch_complete(m[b]) && (cnt == 0 || rnd() % 4 == 0)) { /* EOS: start over */
                    completed++;
                    sl_cmatch_free(m[b]);
                    m[b] = sl_cmatch_new(c);
                    continue;
                }
                int k = (int)(rnd() % (uint32_t)cnt), pick = -1;
                for (int i = 0; i < nv && pick < 0; i++)
                    if (((mask[i >> 6] >> (i & 63)) & 1) && k-- == 0) pick = i;
                a = now_s();
                if (sl_cmatch_accept(m[b], pick) != 0) {
                    fprintf(stderr, "bench_constraint: an allowed token was refused\n");
                    return 1;
                }
                t += now_s() - a;
                tokens++;
            }
        }
        round_ms[round] = t * 1e3 / steps;
        for (int b = 0; b < batch; b++) sl_cmatch_free(m[b]);
    }
    sl_cmask_stats st;
    sl_constraint_mask_stats(c, &st);
    printf("{\"constraint_compile_ms\": %.3f, \"constraint_compile_ms_max\": %.3f, \"constraint_trie_build_ms\": %.1f, "
           "\"constraint_mask_ms_per_step_b%d_cold\": %.3f, \"constraint_mask_ms_per_step_b%d\": %.3f, "
           "\"constraint_mask_us_per_token\": %.1f, \"constraint_grammar_elements\": %d, \"constraint_vocab\": %d, "
           "\"constraint_trie_nodes_per_miss\": %.0f, \"constraint_mask_cache_entries\": %d, \"constraint_outputs_completed\": %ld}\n",
           ct[10], ct[19], trie_ms, batch, round_ms[0], batch, (round_ms[1] + round_ms[2]) / 2,
           (round_ms[1] + round_ms[2]) / 2 * 1e3 / batch, sl_constraint_size(c), nv,
           st.misses ? (double)st.nodes / (double)st.misses : 0.0, st.entries, completed);
    (void)tokens;
    sl_constraint_unref(c);
    free(m);
    free(mask);
    free(row);
    sl_cvocab_free(v);
    sl_tokenizer_free(tok);
    return 0;
}
