/* fuzz_http_request.c — the bodies of POST /v1/completions and /v1/chat/completions as the
 * server parses them (api/request.c: sl__parse_body, then sl__gen_parse with the real
 * tokenizer and chat template of tests/fixtures/models/llama-tiny), on arbitrary bytes.
 *
 * Input layout: one byte W, then the body.
 *   bit 0: chat (1) or completion (0); bit 1: chat template Llama 3.1 (0) or Qwen2.5 (1), real
 *   templates of tests/fixtures/chat/templates rendered by the Jinja engine;
 *   bit 2: --max-tokens 4096 (0) or 8 (1); bit 3: --max-prompt-tokens 0 (0) or 24 (1);
 *   bit 4: context 512 (0) or 40 (1); bits 6-7: the tool-call format (sl_toolcall_format, for
 *   tool_choice required/named).
 * The body is copied into an exact-size heap buffer so ASan sees a read past it.
 *
 * On success the request must be one the engine accepts (engine.h): 1 <= prompt < context,
 * ids in the vocabulary, 1 <= max_tokens within the context and the cap, the prompt within
 * its cap, stop strings present and NUL-terminated, logprobs in range. On refusal: a 400 or a
 * 500 with a code and a NUL-terminated, non-empty message, and nothing owned left behind. */
#include "fuzz_common.h"

#include "chat.h"
#include "error.h"
#include "request.h"
#include "tokenizer.h"
#include "constraint.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sl_tokenizer *tok;
static sl_chat chats[2];
static sl_cvocab *cvocab;
static sl_constraint_cache *constraints; /* the structured-output fields compile for real */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    char dir[4096], path[4200], t0[4200], t1[4200], err[512];
    snprintf(dir, sizeof dir, "%s/models/llama-tiny", fuzz_fixtures_dir());
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    snprintf(t0, sizeof t0, "%s/chat/templates/meta-llama-Llama-3.1-8B-Instruct.jinja", fuzz_fixtures_dir());
    snprintf(t1, sizeof t1, "%s/chat/templates/Qwen-Qwen2.5-7B-Instruct.jinja", fuzz_fixtures_dir());
    if (sl_tokenizer_load(&tok, path, err, sizeof err) != 0 || sl_chat_init(&chats[0], dir, t0, err, sizeof err) != 0 ||
        sl_chat_init(&chats[1], dir, t1, err, sizeof err) != 0 || !sl_chat_ready(&chats[0]) || !sl_chat_ready(&chats[1])) {
        fprintf(stderr, "fuzz_http_request: cannot load %s: %s (set SL_FUZZ_FIXTURES)\n", dir, err);
        exit(2);
    }
    if (sl_cvocab_init(&cvocab, tok, sl_tokenizer_vocab_size(tok), err, sizeof err) != 0 ||
        sl_constraint_cache_init(&constraints, cvocab, 8) != 0) {
        fprintf(stderr, "fuzz_http_request: token trie: %s\n", err);
        exit(2);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned w = data[0];
    int chat = w & 1;
    sl__gen_limits lim = {.tok = tok, .chat = &chats[(w >> 1) & 1], .vocab = sl_tokenizer_vocab_size(tok),
                          .max_ctx = (w & 16) ? 40 : 512, .max_tokens = (w & 4) ? 8 : 4096,
                          .max_prompt_tokens = (w & 8) ? 24 : 0, .constraints = (w & 32) ? constraints : NULL,
                          .tool_format = (int)((w >> 6) & 3)};
    char *body = fuzz_dup(data + 1, size - 1);
    sl__err e;
    memset(&e, 'x', sizeof e);
    json_t *j = sl__parse_body(body, size - 1, &e);
    free(body); /* jansson copied what it keeps */
    if (!j) {
        FUZZ_CHECK(e.status == 400 && !strcmp(e.code, "invalid_json"));
        FUZZ_CHECK_ERR(e.msg, sizeof e.msg);
        return 0;
    }
    FUZZ_CHECK(json_is_object(j));
    sl__gen_req r;
    memset(&e, 'x', sizeof e);
    int rc = sl__gen_parse(j, chat, &lim, &r, &e); /* takes J */
    if (rc != 0) {
        FUZZ_CHECK(rc == -1);
        FUZZ_CHECK(e.status == 400 || e.status == 500);
        FUZZ_CHECK_ERR(e.code, sizeof e.code);
        FUZZ_CHECK_ERR(e.param, sizeof e.param);
        FUZZ_CHECK_ERR(e.msg, sizeof e.msg);
        FUZZ_CHECK(e.code[0] != 0 && e.msg[0] != 0);
        FUZZ_CHECK(r.body == NULL && r.ids == NULL);
        return 0;
    }
    FUZZ_CHECK(r.body != NULL && r.chat == chat);
    FUZZ_CHECK(r.n_ids >= 1 && r.n_ids < (size_t)lim.max_ctx && r.ids != NULL);
    if (lim.max_prompt_tokens) FUZZ_CHECK(r.n_ids <= (size_t)lim.max_prompt_tokens);
    for (size_t i = 0; i < r.n_ids; i++) FUZZ_CHECK(r.ids[i] >= 0 && r.ids[i] < lim.vocab);
    FUZZ_CHECK(r.ep.max_tokens >= 1 && r.ep.max_tokens <= lim.max_tokens);
    FUZZ_CHECK((long long)r.n_ids + r.ep.max_tokens <= lim.max_ctx);
    FUZZ_CHECK(r.ep.n_stop >= 0 && r.ep.n_stop <= SL_ENGINE_MAX_STOP);
    for (int i = 0; i < r.ep.n_stop; i++) {
        FUZZ_CHECK(r.stops[i] != NULL);
        fuzz_touch(r.stops[i], strlen(r.stops[i]) + 1);
    }
    FUZZ_CHECK(r.ep.n_stop_ids == (r.stop_id >= 0));
    if (r.stop_id >= 0) FUZZ_CHECK(chat && r.stop_id < lim.vocab);
    FUZZ_CHECK(r.logprobs >= -1 && r.logprobs <= SL_ENGINE_MAX_TOP && r.ep.logprobs == r.logprobs);
    FUZZ_CHECK(r.ep.sample.temperature >= 0 && r.ep.sample.temperature <= 100);
    FUZZ_CHECK(r.ep.sample.top_p > 0 && r.ep.sample.top_p <= 1);
    if (r.model) fuzz_touch(r.model, strlen(r.model) + 1);
    sl__gen_req_free(&r);
    FUZZ_CHECK(r.body == NULL && r.ids == NULL);
    return 0;
}
