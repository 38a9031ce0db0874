/* fuzz_tokenizer_load.c — sl_tokenizer_load_buffer (tokenizer.json) on arbitrary bytes.
 *
 * A tokenizer that loads must then work: encoding a fixed text (with and without special
 * tokens) gives ids inside the vocabulary that have a token, decoding them succeeds and is
 * NUL-terminated, and id_to_token / token_to_id agree with each other. */
#include "fuzz_common.h"

#include "error.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char sample[] = "Hello, world! 12345 \xc3\xa9t\xc3\xa9  \t\n<s> \xe2\x96\x81x \xf0\x9f\x98\x80 ab\xffz";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *json = fuzz_dup(data, size); /* exact size: not NUL-terminated */
    sl_tokenizer *tok = NULL;
    char err[512];
    err[0] = 'x';
    int rc = sl_tokenizer_load_buffer(&tok, json, size, err, sizeof err);
    fuzz_note(rc, err);
    free(json); /* the tokenizer must not keep pointers into the buffer */
    if (rc != 0) {
        FUZZ_CHECK(rc < 0 && tok == NULL);
        FUZZ_CHECK_ERR(err, sizeof err);
        FUZZ_CHECK(err[0] != 0);
        return 0;
    }
    FUZZ_CHECK(tok != NULL);
    int32_t vocab = sl_tokenizer_vocab_size(tok);
    FUZZ_CHECK(vocab >= 0);
    int32_t bos = sl_tokenizer_bos_id(tok);
    FUZZ_CHECK(bos >= -1 && bos < vocab);
    for (int add = 0; add < 2; add++) {
        int32_t *ids = NULL;
        size_t n = 0;
        rc = sl_tokenizer_encode(tok, sample, sizeof sample - 1, add, &ids, &n, err, sizeof err);
        if (rc != 0) {
            FUZZ_CHECK(rc < 0);
            FUZZ_CHECK_ERR(err, sizeof err);
            free(ids);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(ids[i] >= 0 && ids[i] < vocab);
            FUZZ_CHECK(sl_tokenizer_id_to_token(tok, ids[i]) != NULL);
        }
        char *text = NULL;
        size_t len = 0;
        rc = sl_tokenizer_decode(tok, ids, n, add, &text, &len, err, sizeof err);
        fuzz_note(rc, err);
        FUZZ_CHECK(rc == 0); /* ids from encode are in the vocabulary: decode has no reason to fail */
        FUZZ_CHECK(text != NULL && text[len] == 0);
        free(text);
        free(ids);
    }
    FUZZ_CHECK(sl_tokenizer_id_to_token(tok, vocab) == NULL); /* vocab = highest id + 1 */
    FUZZ_CHECK(sl_tokenizer_id_to_token(tok, -1) == NULL);
    /* id -> token -> id: the token a tokenizer names an id by must be known by that name (as in
     * the library, whose added-token maps both hold the same content). Not necessarily the same
     * id: several ids may share a token string. The first ids are enough to catch a mismatch. */
    for (int32_t id = 0; id < vocab && id < 1024; id++) {
        const char *t = sl_tokenizer_id_to_token(tok, id);
        if (t) FUZZ_CHECK(sl_tokenizer_token_to_id(tok, t) >= 0);
    }
    sl_tokenizer_free(tok);
    return 0;
}
