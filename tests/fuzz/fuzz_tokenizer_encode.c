/* fuzz_tokenizer_encode.c — sl_tokenizer_encode / decode / incremental detokenisation on
 * arbitrary bytes, with the fixture tokenizers (tests/fixtures/tokenizers/{llama3-bpe,gpt2-bpe,
 * spm-bpe}, loaded once in LLVMFuzzerInitialize).
 *
 * Input layout: one control byte C, then the text (any bytes, not NUL-terminated).
 *   C % 3: which tokenizer; bit 2: add_special; bit 3: skip_special when decoding.
 * Checks: encode never crashes (it may reject invalid UTF-8 with SL_EINVAL); ids are inside the
 * vocabulary; decode succeeds; and, as tokenizer.h promises, feeding the ids one at a time to an
 * sl_detok and flushing gives exactly the text of sl_tokenizer_decode. */
#include "fuzz_common.h"

#include "error.h"
#include "tokenizer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[3] = {"llama3-bpe", "gpt2-bpe", "spm-bpe"};
static sl_tokenizer *toks[3];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    for (int i = 0; i < 3; i++) {
        char path[4096], err[512];
        snprintf(path, sizeof path, "%s/tokenizers/%s/tokenizer.json", fuzz_fixtures_dir(), names[i]);
        if (sl_tokenizer_load(&toks[i], path, err, sizeof err)) {
            fprintf(stderr, "fuzz_tokenizer_encode: cannot load %s: %s (set SL_FUZZ_FIXTURES)\n", path, err);
            exit(2);
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const sl_tokenizer *tok = toks[data[0] % 3];
    int add_special = (data[0] >> 2) & 1, skip_special = (data[0] >> 3) & 1;
    size_t len = size - 1;
    char *text = fuzz_dup(data + 1, len);
    int32_t *ids = NULL;
    size_t n = 0;
    char err[512];
    err[0] = 'x';
    int rc = sl_tokenizer_encode(tok, text, len, add_special, &ids, &n, err, sizeof err);
    fuzz_note(rc, err);
    free(text);
    if (rc != 0) {
        FUZZ_CHECK(rc == SL_EINVAL); /* the only documented rejection: invalid UTF-8 */
        FUZZ_CHECK_ERR(err, sizeof err);
        free(ids);
        return 0;
    }
    FUZZ_CHECK(n == 0 || ids != NULL);
    int32_t vocab = sl_tokenizer_vocab_size(tok);
    for (size_t i = 0; i < n; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < vocab);

    char *dec = NULL;
    size_t dlen = 0;
    rc = sl_tokenizer_decode(tok, ids, n, skip_special, &dec, &dlen, err, sizeof err);
    FUZZ_CHECK(rc == 0 && dec != NULL && dec[dlen] == 0);

    sl_detok *d = NULL;
    FUZZ_CHECK(sl_detok_init(&d, tok, skip_special) == 0 && d != NULL);
    size_t alen = 0;
    for (size_t i = 0; i <= n; i++) {
        const char *delta = NULL;
        size_t dl = 0;
        rc = i < n ? sl_detok_feed(d, ids[i], &delta, &dl) : sl_detok_flush(d, &delta, &dl);
        FUZZ_CHECK(rc == 0);
        FUZZ_CHECK(dl == 0 || delta != NULL);
        /* The concatenation of the deltas must equal the full decode (tokenizer.h). */
        FUZZ_CHECK(alen + dl <= dlen);
        if (dl) FUZZ_CHECK(memcmp(dec + alen, delta, dl) == 0);
        alen += dl;
    }
    FUZZ_CHECK(alen == dlen);
    sl_detok_free(d);
    free(dec);
    free(ids);
    return 0;
}
