/* fuzz_toolcall.c — the tool-call and reasoning parsers (lib/toolcall) on hostile model output.
 * Input: byte 0 picks the format (bits 0-1), reasoning (bit 2) and an opened <think> (bit 3);
 * byte 1 the piece length of the streamed feed (1..64); the rest is the generated text. The
 * incremental parse fed in pieces must equal the one-shot parse (content, reasoning, calls),
 * and every call's arguments must be a JSON object. */
#include <jansson.h>

#include "fuzz_common.h"
#include "toolcall.h"

static void collect(sl_toolcall_out *acc, sl_toolcall_out *o) {
    sl_buf_put(&acc->content, o->content.p ? o->content.p : "", o->content.len);
    sl_buf_put(&acc->reasoning, o->reasoning.p ? o->reasoning.p : "", o->reasoning.len);
    for (int i = 0; i < o->n_calls; i++) {
        if (acc->n_calls == acc->cap_calls) {
            acc->cap_calls = acc->cap_calls ? 2 * acc->cap_calls : 4;
            acc->calls = realloc(acc->calls, (size_t)acc->cap_calls * sizeof *acc->calls);
            FUZZ_CHECK(acc->calls);
        }
        acc->calls[acc->n_calls++] = o->calls[i];
        o->calls[i] = (sl_toolcall){0};
    }
    o->n_calls = 0;
    sl_toolcall_out_clear(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    sl_toolcall_format fmt = (sl_toolcall_format)(data[0] & 3);
    int reasoning = !!(data[0] & 4), think_open = !!(data[0] & 8);
    size_t piece = (size_t)(data[1] % 64) + 1;
    const char *text = (const char *)data + 2;
    size_t n = size - 2;

    sl_toolcall_out whole = {0}, acc = {0}, o = {0};
    FUZZ_CHECK(sl_toolcall_parse(fmt, reasoning, think_open, text, n, &whole) == 0);
    sl_toolcall_parser *p;
    FUZZ_CHECK(sl_toolcall_parser_new(&p, fmt, reasoning, think_open) == 0);
    for (size_t pos = 0;;) {
        size_t k = n - pos < piece ? n - pos : piece;
        FUZZ_CHECK(sl_toolcall_feed(p, text + pos, k, pos + k == n, &o) == 0);
        collect(&acc, &o);
        pos += k;
        if (pos == n) break;
    }
    FUZZ_CHECK(sl_toolcall_count(p) == acc.n_calls);
    sl_toolcall_parser_free(p);

    FUZZ_CHECK(whole.content.len == acc.content.len && whole.reasoning.len == acc.reasoning.len);
    FUZZ_CHECK(!whole.content.len || memcmp(whole.content.p, acc.content.p, whole.content.len) == 0);
    FUZZ_CHECK(!whole.reasoning.len || memcmp(whole.reasoning.p, acc.reasoning.p, whole.reasoning.len) == 0);
    FUZZ_CHECK(whole.n_calls == acc.n_calls);
    FUZZ_CHECK(whole.content.len + whole.reasoning.len <= n); /* nothing is made up */
    for (int i = 0; i < whole.n_calls; i++) {
        FUZZ_CHECK(strcmp(whole.calls[i].name, acc.calls[i].name) == 0);
        FUZZ_CHECK(strcmp(whole.calls[i].arguments, acc.calls[i].arguments) == 0);
        json_t *j = json_loads(whole.calls[i].arguments, 0, NULL);
        FUZZ_CHECK(json_is_object(j));
        json_decref(j);
    }
    sl_toolcall_out_free(&whole);
    sl_toolcall_out_free(&acc);
    sl_toolcall_out_free(&o);
    return 0;
}
