/* bench_tokenizer — encode throughput of a tokenizer.json on a large deterministic text.
 *
 *   build/bench_tokenizer tests/fixtures/tokenizers/llama3-bpe/tokenizer.json [MiB]
 *
 * Generates MiB (default 8) of prose-like text from a fixed seed (English words, numbers,
 * punctuation, newlines, some accented, CJK and emoji text), encodes it in one call, best
 * of three runs, and prints one JSON line:
 *   {"tokenizer_encode_mb_s": X, "tokenizer_decode_mb_s": Y, "tokens": N, "bytes": M} */
#include "error.h"
#include "tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *const WORDS[] = {
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by",
    "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had",
    "they", "you", "were", "their", "one", "all", "we", "can", "her", "has", "there", "been", "if",
    "more", "when", "will", "would", "who", "so", "no", "model", "adapter", "request", "memory",
    "tokenizer", "server", "layer", "weights", "matrix", "frozen", "serving", "tenant", "batch",
    "inference", "symmetric", "spectral", "low-rank", "update", "throughput", "latency", "cache",
    "attention", "sequence", "vector", "function", "implementation", "performance", "however",
    "therefore", "because", "between", "through", "without", "another", "different", "important",
    "naïve", "café", "résumé", "Zürich", "São", "Ångström", "straße", "мир", "данные", "你好",
    "世界", "模型", "日本語", "한국어", "😀", "🚀", "👍🏽", "it's", "don't", "we'll", "they've", "I'm"};
#define NWORDS (sizeof WORDS / sizeof *WORDS)

static char *gen_text(size_t target, size_t *len) {
    char *s = malloc(target + 256);
    if (!s) return NULL;
    size_t n = 0;
    int sentence_start = 1;
    while (n < target) {
        char w[64];
        uint32_t r = rnd() % 100;
        if (r < 4) {
            snprintf(w, sizeof w, "%u", rnd() % (r < 2 ? 100u : 1000000u));
        } else if (r < 5) {
            snprintf(w, sizeof w, "%u.%02u", rnd() % 1000u, rnd() % 100u);
        } else {
            /* skew towards frequent words, as real text */
            uint32_t k = rnd() % NWORDS;
            if (rnd() % 2) k %= 48;
            snprintf(w, sizeof w, "%s", WORDS[k]);
            if (sentence_start && w[0] >= 'a' && w[0] <= 'z') w[0] = (char)(w[0] - 32);
        }
        size_t l = strlen(w);
        memcpy(s + n, w, l);
        n += l;
        sentence_start = 0;
        uint32_t p = rnd() % 100;
        const char *sep = " ";
        if (p < 6) { sep = ". "; sentence_start = 1; }
        else if (p < 10) sep = ", ";
        else if (p < 11) { sep = ".\n\n"; sentence_start = 1; }
        else if (p < 12) sep = "; ";
        else if (p < 13) sep = " (";
        else if (p < 14) sep = ") ";
        else if (p < 15) sep = "? ";
        else if (p < 16) sep = ": ";
        else if (p < 17) sep = "\n";
        size_t sl = strlen(sep);
        memcpy(s + n, sep, sl);
        n += sl;
    }
    s[n] = 0;
    *len = n;
    return s;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s TOKENIZER_JSON [MiB]\n", argv[0]);
        return 2;
    }
    double mib = argc == 3 ? atof(argv[2]) : 8.0;
    if (!(mib > 0 && mib <= 1024)) {
        fprintf(stderr, "bench_tokenizer: MiB must be in (0, 1024]\n");
        return 2;
    }
    char err[512] = "";
    sl_tokenizer *tok = NULL;
    int rc = sl_tokenizer_load(&tok, argv[1], err, sizeof err);
    if (rc) {
        fprintf(stderr, "bench_tokenizer: %s (%s)\n", err, sl_strerror(rc));
        return 1;
    }
    size_t len = 0;
    char *text = gen_text((size_t)(mib * 1024 * 1024), &len);
    if (!text) {
        fprintf(stderr, "bench_tokenizer: out of memory\n");
        return 1;
    }
    double best_enc = 1e30, best_dec = 1e30;
    size_t n_ids = 0;
    for (int run = 0; run < 3; run++) {
        int32_t *ids = NULL;
        char *dec = NULL;
        size_t dl = 0;
        double t0 = now_s();
        rc = sl_tokenizer_encode(tok, text, len, 0, &ids, &n_ids, err, sizeof err);
        double t1 = now_s();
        if (rc) {
            fprintf(stderr, "bench_tokenizer: encode: %s\n", err);
            return 1;
        }
        rc = sl_tokenizer_decode(tok, ids, n_ids, 0, &dec, &dl, err, sizeof err);
        double t2 = now_s();
        if (rc) {
            fprintf(stderr, "bench_tokenizer: decode: %s\n", err);
            return 1;
        }
        if (t1 - t0 < best_enc) best_enc = t1 - t0;
        if (t2 - t1 < best_dec) best_dec = t2 - t1;
        free(ids);
        free(dec);
    }
    double mb = (double)len / 1e6;
    printf("{\"tokenizer_encode_mb_s\": %.2f, \"tokenizer_decode_mb_s\": %.2f, \"tokens\": %zu, \"bytes\": %zu}\n",
           mb / best_enc, mb / best_dec, n_ids, len);
    free(text);
    sl_tokenizer_free(tok);
    return 0;
}
