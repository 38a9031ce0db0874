/* fuzz_template.c — the Jinja engine (lib/template/jinja*.c) on arbitrary template source:
 * parsed, then rendered with a chat context (messages with content parts, tool calls and
 * results, tools, special tokens) under tight limits.
 *
 * Input layout: one byte W, then the template.
 *   bit 0: add_generation_prompt; bit 1: tools given (1) or null (0); bit 2: bos_token defined.
 * The template is copied into an exact-size heap buffer so ASan sees a read past it.
 *
 * Contract (jinja.h): parse returns 0 or SL_EFORMAT/SL_ENOMEM with a NUL-terminated message;
 * render returns 0 with a NUL-terminated output of the reported length within max_output, or
 * one of SL_JINJA_RAISED, SL_EINVAL, SL_ENOTSUP, SL_ETOOBIG, SL_ENOMEM with a message; a
 * template never runs past its limits (libFuzzer's -timeout and -rss_limit catch it if it does). */
#include "fuzz_common.h"

#include <jansson.h>

#include "error.h"
#include "jinja.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *ctx[8];

static const char *const context_json =
    "{\"messages\": ["
    "{\"role\": \"system\", \"content\": \"Be brief.\"},"
    "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"H\\u00e9llo {{ x }}\"}]},"
    "{\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"call_1\", \"type\": \"function\","
    " \"function\": {\"name\": \"get\", \"arguments\": {\"city\": \"Paris\", \"n\": [1, 2.5, null, true]}}}]},"
    "{\"role\": \"tool\", \"tool_call_id\": \"call_1\", \"content\": \"{\\\"t\\\": 20}\"},"
    "{\"role\": \"assistant\", \"content\": \"<think>\\nhm\\n</think>\\n\\nIt is 20.\", \"reasoning_content\": \"hm\"}],"
    "\"documents\": null, \"eos_token\": \"</s>\"}";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    for (int w = 0; w < 8; w++) {
        ctx[w] = json_loads(context_json, 0, NULL);
        if (!ctx[w]) abort();
        json_object_set_new(ctx[w], "add_generation_prompt", json_boolean(w & 1));
        json_object_set_new(ctx[w], "tools",
                            (w & 2) ? json_loads("[{\"type\": \"function\", \"function\": {\"name\": \"get\", \"description\": "
                                                 "\"d\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": "
                                                 "{\"type\": \"string\"}}, \"required\": [\"city\"]}}}]",
                                                 0, NULL)
                                    : json_null());
        if (w & 4) json_object_set_new(ctx[w], "bos_token", json_string("<s>"));
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned w = data[0] & 7;
    char *src = fuzz_dup(data + 1, size - 1);
    char err[256];
    memset(err, 'x', sizeof err);
    sl_jinja *t = NULL;
    int rc = sl_jinja_parse(src, size - 1, &t, err, sizeof err);
    free(src); /* the parse keeps its own copy */
    fuzz_note(rc, err);
    if (rc) {
        FUZZ_CHECK(rc == SL_EFORMAT || rc == SL_ENOMEM || rc == SL_ETOOBIG);
        FUZZ_CHECK(t == NULL);
        FUZZ_CHECK_ERR(err, sizeof err);
        return 0;
    }
    FUZZ_CHECK(t != NULL);
    sl_jinja_limits lim = {.max_output = 1 << 20, .max_memory = 32 << 20, .max_steps = 200000, .max_depth = 32,
                           .max_ms = 2000, .now = 1785024000};
    char *out = NULL;
    size_t len = 0;
    memset(err, 'x', sizeof err);
    rc = sl_jinja_render(t, ctx[w], &lim, &out, &len, err, sizeof err);
    fuzz_note(rc, err);
    if (rc == 0) {
        FUZZ_CHECK(out != NULL && len <= lim.max_output && out[len] == 0);
        fuzz_touch(out, len + 1);
    } else {
        FUZZ_CHECK(out == NULL);
        FUZZ_CHECK(rc == SL_JINJA_RAISED || rc == SL_EINVAL || rc == SL_ENOTSUP || rc == SL_ETOOBIG || rc == SL_ENOMEM);
        FUZZ_CHECK_ERR(err, sizeof err);
    }
    free(out);
    sl_jinja_free(t);
    return 0;
}
