/* fuzz_constraint.h — the body shared by the structured-output compiler targets
 * (fuzz_schema.c, fuzz_regex.c, fuzz_gbnf.c): hostile constraint text, then bytes to match.
 * Input: the constraint text, optionally a NUL byte and text to feed the matcher. Invariants:
 * a refusal is SL_EINVAL / SL_ETOOBIG with a NUL-terminated message; a compiled constraint
 * gives masks without special tokens, refuses bytes without changing its state, and every
 * token its mask allows is accepted. Bounded work: the libFuzzer timeout turns a runaway
 * compile or closure into a finding. */
#ifndef SL_FUZZ_CONSTRAINT_H
#define SL_FUZZ_CONSTRAINT_H

#include "constraint.h"
#include "error.h"
#include "fuzz_common.h"
#include "tokenizer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sl_tokenizer *fz_tok;
static sl_cvocab *fz_voc;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    char path[4200], err[512];
    snprintf(path, sizeof path, "%s/tokenizers/llama3-bpe/tokenizer.json", fuzz_fixtures_dir());
    if (sl_tokenizer_load(&fz_tok, path, err, sizeof err) != 0 ||
        sl_cvocab_init(&fz_voc, fz_tok, sl_tokenizer_vocab_size(fz_tok) + 3, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_constraint: cannot load %s: %s (set SL_FUZZ_FIXTURES)\n", path, err);
        exit(2);
    }
    return 0;
}

static int fz_first_allowed(const uint64_t *mask, int nv) {
    for (int i = 0; i < nv; i++)
        if ((mask[i >> 6] >> (i & 63)) & 1) return i;
    return -1;
}

static int fuzz_constraint_one(sl_cpiece_kind kind, const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t tlen = nul ? (size_t)(nul - data) : size;
    char *text = fuzz_dup(data, tlen);
    char *feed = nul ? fuzz_dup(nul + 1, size - tlen - 1) : NULL;
    size_t flen = nul ? size - tlen - 1 : 0;
    char err[256];
    memset(err, 'x', sizeof err);
    sl_constraint *c = NULL;
    sl_cpiece p = {kind, text, tlen};
    int rc = sl_constraint_compile(&c, fz_voc, &p, 1, err, sizeof err);
    fuzz_note(rc, err);
    if (rc) {
        FUZZ_CHECK(rc == SL_EINVAL || rc == SL_ETOOBIG || rc == SL_ENOMEM);
        FUZZ_CHECK(!c);
        FUZZ_CHECK_ERR(err, sizeof err);
        goto out;
    }
    FUZZ_CHECK(c && sl_constraint_n_vocab(c) == sl_cvocab_size(fz_voc));
    int nv = sl_cvocab_size(fz_voc);
    uint64_t *mask = calloc((size_t)(nv + 63) / 64, sizeof *mask);
    FUZZ_CHECK(mask);
    sl_cmatch *m = sl_cmatch_new(c);
    FUZZ_CHECK(m);
    /* Feed the text byte by byte; a refused byte leaves the state as it was. */
    for (size_t i = 0; i < flen && i < 256; i++) {
        int before = sl_cmatch_complete(m);
        int r = sl_cmatch_accept_bytes(m, feed + i, 1);
        FUZZ_CHECK(r == 0 || r == SL_EINVAL || r == SL_ETOOBIG);
        if (r) FUZZ_CHECK(sl_cmatch_complete(m) == before);
    }
    /* A few masked steps: every allowed token is accepted, specials never allowed. */
    for (int step = 0; step < 8; step++) {
        int r = sl_cmatch_mask(m, mask);
        FUZZ_CHECK(r == 0 || r == SL_ETOOBIG);
        if (r) break;
        for (int i = 0; i < nv; i++)
            if (sl_tokenizer_is_special(fz_tok, i) || i >= sl_tokenizer_vocab_size(fz_tok))
                FUZZ_CHECK(!((mask[i >> 6] >> (i & 63)) & 1));
        int t = fz_first_allowed(mask, nv);
        if (t < 0) {
            FUZZ_CHECK(sl_cmatch_complete(m)); /* nothing may follow only when complete */
            break;
        }
        r = sl_cmatch_accept(m, t);
        FUZZ_CHECK(r == 0 || r == SL_ETOOBIG);
        if (r) break;
    }
    sl_cmatch_free(m);
    free(mask);
    sl_constraint_unref(c);
out:
    free(text);
    free(feed);
    return 0;
}

#endif
