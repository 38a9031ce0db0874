/* test_toolcall.c — the tool-call and reasoning parsers (lib/toolcall): each format on complete
 * text, malformed JSON, several calls, text around calls, unicode; and the incremental parser
 * fed the same texts cut at every byte offset (and byte by byte) must give exactly what the
 * one-shot parse gives. */
#include <jansson.h>
#include <string.h>

#include "check.h"
#include "toolcall.h"

typedef struct tc_case {
    const char *name;
    sl_toolcall_format fmt;
    int reasoning, think_open;
    const char *text;
    const char *content;   /* expected content */
    const char *reasoning_text;
    int n_calls;
    const char *calls[4][2]; /* name, arguments */
} tc_case;

#define H SL_TOOLCALL_HERMES
#define L SL_TOOLCALL_LLAMA3_JSON
#define M SL_TOOLCALL_MISTRAL
#define N SL_TOOLCALL_NONE

static const tc_case cases[] = {
    /* hermes */
    {"hermes_one", H, 0, 0, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", "", "", 1,
     {{"get_weather", "{\"city\":\"Paris\"}"}}},
    {"hermes_two", H, 0, 0,
     "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": {}}\n</tool_call>",
     "", "", 2, {{"a", "{\"x\":1}"}, {"b", "{}"}}},
    {"hermes_text_around", H, 0, 0,
     "Let me check.\n<tool_call>{\"name\": \"f\", \"arguments\": {\"q\": [1, 2, {\"k\": null}]}}</tool_call>\nDone.",
     "Let me check.\nDone.", "", 1, {{"f", "{\"q\":[1,2,{\"k\":null}]}"}}},
    {"hermes_unclosed_at_end", H, 0, 0, "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": \"}\"}}\n", "", "", 1,
     {{"f", "{\"a\":\"}\"}"}}},
    {"hermes_malformed", H, 0, 0, "Hi <tool_call>{\"name\": \"f\", \"arguments\": {\"a\": }</tool_call> bye",
     "Hi <tool_call>{\"name\": \"f\", \"arguments\": {\"a\": }</tool_call> bye", "", 0, {{0}}},
    {"hermes_malformed_then_good", H, 0, 0,
     "<tool_call>{\"name\": 1}</tool_call><tool_call>{\"name\": \"g\", \"arguments\": {\"b\": true}}</tool_call>",
     "<tool_call>{\"name\": 1}</tool_call>", "", 1, {{"g", "{\"b\":true}"}}},
    {"hermes_unclosed_garbage", H, 0, 0, "text <tool_call>{\"name\": \"f\", \"argu", "text <tool_call>{\"name\": \"f\", \"argu", "", 0,
     {{0}}},
    {"hermes_unicode", H, 0, 0,
     "Voilà 🌤️ <tool_call>{\"name\": \"météo\", \"arguments\": {\"ville\": \"Zürich\", \"e\": \"\\u00e9\"}}</tool_call>",
     "Voilà 🌤️", "", 1, {{"météo", "{\"ville\":\"Zürich\",\"e\":\"é\"}"}}},
    {"hermes_string_arguments", H, 0, 0, "<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 2}\"}</tool_call>", "", "", 1,
     {{"f", "{\"a\":2}"}}},
    {"hermes_array_arguments", H, 0, 0, "<tool_call>{\"name\": \"f\", \"arguments\": [1]}</tool_call>",
     "<tool_call>{\"name\": \"f\", \"arguments\": [1]}</tool_call>", "", 0, {{0}}},
    {"hermes_no_call", H, 0, 0, "Just text, a < sign and <tool but no call.\n", "Just text, a < sign and <tool but no call.\n", "", 0,
     {{0}}},
    {"hermes_empty", H, 0, 0, "", "", "", 0, {{0}}},
    {"hermes_nested_marker", H, 0, 0, "<tool_call>{oops <tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>",
     "<tool_call>{oops", "", 1, {{"f", "{}"}}},
    {"hermes_think", H, 1, 0,
     "<think>\nThe user wants weather.\n</think>\n\n<tool_call>\n{\"name\": \"w\", \"arguments\": {}}\n</tool_call>", "",
     "\nThe user wants weather.\n", 1, {{"w", "{}"}}},
    {"hermes_think_open_in_prompt", H, 1, 1, "reasoning here</think>\n\nThe answer is 4.", "The answer is 4.", "reasoning here", 0,
     {{0}}},
    {"hermes_duplicate_keys", H, 0, 0, "<tool_call>{\"name\": \"f\", \"name\": \"g\", \"arguments\": {}}</tool_call>",
     "<tool_call>{\"name\": \"f\", \"name\": \"g\", \"arguments\": {}}</tool_call>", "", 0, {{0}}},
    /* llama3_json */
    {"llama_one", L, 0, 0, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", "", "", 1,
     {{"get_weather", "{\"city\":\"Paris\"}"}}},
    {"llama_python_tag", L, 0, 0, "<|python_tag|>{\"name\": \"f\", \"parameters\": {\"n\": 3.5}}", "", "", 1, {{"f", "{\"n\":3.5}"}}},
    {"llama_several", L, 0, 0,
     " <|python_tag|>{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"arguments\": {\"z\": \"ß\"}}\n", "", "", 2,
     {{"a", "{}"}, {"b", "{\"z\":\"ß\"}"}}},
    {"llama_text", L, 0, 0, "The weather is {nice} today.", "The weather is {nice} today.", "", 0, {{0}}},
    {"llama_brace_text", L, 0, 0, "{nice} weather", "{nice} weather", "", 0, {{0}}},
    {"llama_malformed", L, 0, 0, "{\"name\": \"f\", \"parameters\": {\"a\": 1}", "{\"name\": \"f\", \"parameters\": {\"a\": 1}", "", 0,
     {{0}}},
    {"llama_call_then_text", L, 0, 0, "{\"name\": \"f\", \"parameters\": {}} and then text",
     "{\"name\": \"f\", \"parameters\": {}} and then text", "", 0, {{0}}},
    {"llama_not_a_call", L, 0, 0, "{\"answer\": 42}", "{\"answer\": 42}", "", 0, {{0}}},
    {"llama_builtin_python", L, 0, 0, "<|python_tag|>brave_search.call(query=\"x\")", "<|python_tag|>brave_search.call(query=\"x\")", "", 0,
     {{0}}},
    {"llama_think", L, 1, 0, "<think>hmm</think>{\"name\": \"f\", \"parameters\": {}}", "", "hmm", 1, {{"f", "{}"}}},
    /* mistral */
    {"mistral_array", M, 0, 0, "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"x\": \"[]\"}}, {\"name\": \"b\", \"arguments\": {}}]", "", "",
     2, {{"a", "{\"x\":\"[]\"}"}, {"b", "{}"}}},
    {"mistral_text_before", M, 0, 0, "Sure. [TOOL_CALLS] [{\"name\": \"a\", \"arguments\": {}}]", "Sure.", "", 1, {{"a", "{}"}}},
    {"mistral_args_form", M, 0, 0, "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Oslo\"}[TOOL_CALLS]b.c-d_e[ARGS]{}", "", "", 2,
     {{"get_weather", "{\"city\":\"Oslo\"}"}, {"b.c-d_e", "{}"}}},
    {"mistral_malformed", M, 0, 0, "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {]}]", "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {]}]",
     "", 0, {{0}}},
    {"mistral_unclosed", M, 0, 0, "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {}}", "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {}}", "",
     0, {{0}}},
    {"mistral_bad_shape", M, 0, 0, "[TOOL_CALLS][]", "[TOOL_CALLS][]", "", 0, {{0}}},
    {"mistral_bad_name", M, 0, 0, "[TOOL_CALLS]not a name", "[TOOL_CALLS]not a name", "", 0, {{0}}},
    {"mistral_no_call", M, 0, 0, "Arrays like [1, 2] and [TOOL are text.", "Arrays like [1, 2] and [TOOL are text.", "", 0, {{0}}},
    /* reasoning without calls */
    {"think_only", N, 1, 0, "  <think>a < b </thin</think>  answer <think>not</think>", "answer <think>not</think>", "a < b </thin", 0, {{0}}},
    {"think_unclosed", N, 1, 0, "<think>still thinking", "", "still thinking", 0, {{0}}},
    {"think_off", N, 0, 0, "<think>x</think>y", "<think>x</think>y", "", 0, {{0}}},
    {"none_keeps_everything", N, 0, 0, " <tool_call>{\"name\": \"f\"}</tool_call> ", " <tool_call>{\"name\": \"f\"}</tool_call> ", "", 0, {{0}}},
};

/* The parse of CASE fed in pieces: cut at CUT (0: one piece), or byte by byte (BYTES). */
static void run(const tc_case *c, size_t cut, int bytes, sl_toolcall_out *acc) {
    sl_toolcall_parser *p;
    if (sl_toolcall_parser_new(&p, c->fmt, c->reasoning, c->think_open) != 0) return;
    size_t n = strlen(c->text);
    sl_toolcall_out o = {0};
    size_t pos = 0;
    int idx = 0;
    while (1) {
        size_t k = bytes ? (pos < n ? 1 : 0) : (pos == 0 && cut ? cut : n - pos);
        int final = pos + k == n;
        CHECK(sl_toolcall_feed(p, c->text + pos, k, final, &o) == 0);
        sl_buf_put(&acc->content, o.content.p ? o.content.p : "", o.content.len);
        sl_buf_put(&acc->reasoning, o.reasoning.p ? o.reasoning.p : "", o.reasoning.len);
        for (int i = 0; i < o.n_calls; i++) {
            if (acc->n_calls == acc->cap_calls) {
                acc->cap_calls = acc->cap_calls ? 2 * acc->cap_calls : 4;
                acc->calls = realloc(acc->calls, (size_t)acc->cap_calls * sizeof *acc->calls);
            }
            acc->calls[acc->n_calls++] = o.calls[i];
            o.calls[i] = (sl_toolcall){0};
            idx++;
        }
        o.n_calls = 0;
        sl_toolcall_out_clear(&o);
        pos += k;
        if (final) break;
    }
    CHECK(sl_toolcall_count(p) == idx);
    CHECK(sl_toolcall_feed(p, "x", 1, 1, &o) != 0); /* nothing after the end */
    sl_toolcall_out_free(&o);
    sl_toolcall_parser_free(p);
}

static int same(const sl_toolcall_out *a, const sl_toolcall_out *b) {
    if (a->content.len != b->content.len || a->reasoning.len != b->reasoning.len || a->n_calls != b->n_calls) return 0;
    if (a->content.len && memcmp(a->content.p, b->content.p, a->content.len)) return 0;
    if (a->reasoning.len && memcmp(a->reasoning.p, b->reasoning.p, a->reasoning.len)) return 0;
    for (int i = 0; i < a->n_calls; i++)
        if (strcmp(a->calls[i].name, b->calls[i].name) || strcmp(a->calls[i].arguments, b->calls[i].arguments)) return 0;
    return 1;
}

static const char *str(const sl_buf *b) { return b->p ? b->p : ""; }

TEST(one_shot) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const tc_case *c = &cases[i];
        sl_toolcall_out o = {0};
        CHECK(sl_toolcall_parse(c->fmt, c->reasoning, c->think_open, c->text, strlen(c->text), &o) == 0);
        CHECKF(strcmp(str(&o.content), c->content) == 0, "%s: content [%s], want [%s]", c->name, str(&o.content), c->content);
        CHECKF(strcmp(str(&o.reasoning), c->reasoning_text) == 0, "%s: reasoning [%s], want [%s]", c->name, str(&o.reasoning),
               c->reasoning_text);
        CHECKF(o.n_calls == c->n_calls, "%s: %d calls, want %d", c->name, o.n_calls, c->n_calls);
        for (int k = 0; k < o.n_calls && k < c->n_calls; k++) {
            CHECKF(strcmp(o.calls[k].name, c->calls[k][0]) == 0, "%s: call %d name %s", c->name, k, o.calls[k].name);
            CHECKF(strcmp(o.calls[k].arguments, c->calls[k][1]) == 0, "%s: call %d arguments %s, want %s", c->name, k,
                   o.calls[k].arguments, c->calls[k][1]);
        }
        sl_toolcall_out_free(&o);
    }
}

TEST(cut_at_every_byte) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const tc_case *c = &cases[i];
        sl_toolcall_out whole = {0};
        run(c, 0, 0, &whole);
        size_t n = strlen(c->text);
        for (size_t cut = 1; cut < n; cut++) {
            sl_toolcall_out part = {0};
            run(c, cut, 0, &part);
            CHECKF(same(&whole, &part), "%s: cut at %zu gives content [%s] reasoning [%s] %d calls", c->name, cut, str(&part.content),
                   str(&part.reasoning), part.n_calls);
            sl_toolcall_out_free(&part);
        }
        sl_toolcall_out bytes = {0};
        run(c, 0, 1, &bytes);
        CHECKF(same(&whole, &bytes), "%s: byte by byte gives content [%s] %d calls", c->name, str(&bytes.content), bytes.n_calls);
        sl_toolcall_out_free(&bytes);
        sl_toolcall_out_free(&whole);
    }
}

/* While streaming, text is held back only as long as it may still be a marker or a call. */
TEST(holds_back_only_what_is_undecided) {
    sl_toolcall_parser *p;
    sl_toolcall_out o = {0};
    CHECK(sl_toolcall_parser_new(&p, H, 0, 0) == 0);
    CHECK(sl_toolcall_feed(p, "Hello <tool", 11, 0, &o) == 0);
    CHECKF(strcmp(str(&o.content), "Hello") == 0, "[%s]", str(&o.content));
    sl_toolcall_out_clear(&o);
    CHECK(sl_toolcall_feed(p, "s are useful", 12, 0, &o) == 0); /* not a marker after all */
    CHECKF(strcmp(str(&o.content), " <tools are useful") == 0, "[%s]", str(&o.content));
    sl_toolcall_out_clear(&o);
    const char *call = "<tool_call>{\"name\": \"f\", \"arguments\": {}}";
    CHECK(sl_toolcall_feed(p, call, strlen(call), 0, &o) == 0);
    CHECK(o.content.len == 0 && o.n_calls == 0); /* waiting for </tool_call> */
    CHECK(sl_toolcall_feed(p, "</tool_call>", 12, 0, &o) == 0);
    CHECK(o.n_calls == 1 && strcmp(o.calls[0].name, "f") == 0);
    sl_toolcall_out_free(&o);
    sl_toolcall_parser_free(p);

    /* Llama 3: text that cannot start a call streams at once. */
    CHECK(sl_toolcall_parser_new(&p, L, 0, 0) == 0);
    CHECK(sl_toolcall_feed(p, "Sure", 4, 0, &o) == 0);
    CHECK(strcmp(str(&o.content), "Sure") == 0);
    sl_toolcall_out_free(&o);
    sl_toolcall_parser_free(p);

    /* Reasoning streams as it comes, minus a possible start of </think>. */
    CHECK(sl_toolcall_parser_new(&p, N, 1, 1) == 0);
    CHECK(sl_toolcall_feed(p, "step one </th", 13, 0, &o) == 0);
    CHECKF(strcmp(str(&o.reasoning), "step one ") == 0, "[%s]", str(&o.reasoning));
    sl_toolcall_out_free(&o);
    sl_toolcall_parser_free(p);
}

TEST(detect) {
    CHECK(sl_toolcall_detect("{% for t in tools %}<tool_call>{{ t }}</tool_call>") == SL_TOOLCALL_HERMES);
    CHECK(sl_toolcall_detect("{{ '[TOOL_CALLS]' }}") == SL_TOOLCALL_MISTRAL);
    CHECK(sl_toolcall_detect("<|start_header_id|>ipython<|end_header_id|>") == SL_TOOLCALL_LLAMA3_JSON);
    CHECK(sl_toolcall_detect("{{ '<|python_tag|>' }}") == SL_TOOLCALL_LLAMA3_JSON);
    CHECK(sl_toolcall_detect("<|im_start|>") == SL_TOOLCALL_NONE);
    CHECK(sl_toolcall_detect(NULL) == SL_TOOLCALL_NONE);
    CHECK(sl_toolcall_detect_reasoning("{% if '</think>' in content %}") == 1);
    CHECK(sl_toolcall_detect_reasoning("<|im_start|>") == 0);
    CHECK(sl_toolcall_prompt_opens_think("<|im_start|>assistant\n<think>\n", 30) == 1);
    CHECK(sl_toolcall_prompt_opens_think("<|im_start|>assistant\n", 22) == 0);
    CHECK(sl_toolcall_format_parse("hermes") == SL_TOOLCALL_HERMES);
    CHECK(sl_toolcall_format_parse("llama3_json") == SL_TOOLCALL_LLAMA3_JSON);
    CHECK(sl_toolcall_format_parse("mistral") == SL_TOOLCALL_MISTRAL);
    CHECK(sl_toolcall_format_parse("none") == SL_TOOLCALL_NONE);
    CHECK(sl_toolcall_format_parse("auto") == -2);
    CHECK(sl_toolcall_format_parse("pythonic") == -1);
}

/* The real templates of tests/fixtures/chat: each picks the parser of its model family, and
 * only DeepSeek-R1's generation prompt opens <think> (checked on transformers' renders). */
TEST(real_templates) {
    static const struct {
        const char *name;
        sl_toolcall_format fmt;
        int reasoning;
    } want[] = {
        {"01-ai-Yi-1.5-6B-Chat", N, 0},
        {"CohereForAI-c4ai-command-r-plus-tool_use", N, 0}, /* its own action format: not parsed */
        {"HuggingFaceH4-zephyr-7b-beta", N, 0},
        {"HuggingFaceTB-SmolLM2-135M-Instruct", N, 0},
        {"HuggingFaceTB-SmolLM3-3B", H, 1},
        {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", H, 0},
        {"Qwen-Qwen2-7B-Instruct", N, 0},
        {"Qwen-Qwen2.5-7B-Instruct", H, 0},
        {"TheBloke-Mistral-7B-Instruct-v0.1-GPTQ", N, 0},
        {"allenai-OLMo-2-1124-7B-Instruct", N, 0},
        {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", N, 1},
        {"deepseek-ai-DeepSeek-V3", N, 0},
        {"google-gemma-2-2b-it", N, 0},
        {"ibm-granite-granite-3.3-2B-Instruct", N, 1},
        {"internlm-internlm2-chat-7b", N, 0},
        {"meta-llama-Llama-2-7b-chat-hf", N, 0},
        {"meta-llama-Llama-3.1-8B-Instruct", L, 0},
        {"microsoft-Phi-3-mini-4k-instruct", N, 0},
        {"microsoft-Phi-3.5-mini-instruct", N, 0},
        {"mistralai-Mistral-Nemo-Instruct-2407", M, 0},
        {"mistralai-Mixtral-8x7B-Instruct-v0.1", N, 0},
    };
    char path[512];
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        size_t len;
        snprintf(path, sizeof path, "tests/fixtures/chat/templates/%s.jinja", want[i].name);
        char *src = check_read_file(path, &len);
        CHECKF(src, "%s: cannot read", path);
        if (!src) continue;
        CHECKF(sl_toolcall_detect(src) == want[i].fmt, "%s: %s", want[i].name, sl_toolcall_format_name(sl_toolcall_detect(src)));
        CHECKF(sl_toolcall_detect_reasoning(src) == want[i].reasoning, "%s: reasoning", want[i].name);
        free(src);
    }
    /* transformers' render of a DeepSeek-R1 prompt ends in an opened <think>; the others do not */
    json_t *exp = json_load_file("tests/fixtures/chat/expected.json", 0, NULL);
    CHECK(exp);
    const char *t;
    json_t *per_case;
    int opened = 0;
    json_object_foreach(exp, t, per_case) {
        json_t *text = json_object_get(json_object_get(per_case, "single_user"), "text");
        if (!json_is_string(text)) continue;
        int o = sl_toolcall_prompt_opens_think(json_string_value(text), json_string_length(text));
        CHECKF(o == (strcmp(t, "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B") == 0), "%s: opens <think>: %d", t, o);
        opened += o;
    }
    CHECK(opened == 1);
    json_decref(exp);
}

/* Hostile text: deep nesting, NUL bytes, invalid UTF-8, a huge unclosed call: no crash, no call. */
TEST(hostile) {
    static char deep[4096];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof deep, "<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": ");
    while (n < 3000) deep[n++] = '[';
    while (n < 4000) deep[n++] = ']';
    memcpy(deep + n, "}}</tool_call>", 14);
    n += 14;
    sl_toolcall_out o = {0};
    CHECK(sl_toolcall_parse(H, 0, 0, deep, n, &o) == 0);
    CHECK(o.n_calls == 0 && o.content.len == n);
    sl_toolcall_out_free(&o);
    const char nul[] = "<tool_call>{\"name\": \"f\0\", \"arguments\": {}}</tool_call>";
    CHECK(sl_toolcall_parse(H, 0, 0, nul, sizeof nul - 1, &o) == 0);
    CHECK(o.n_calls == 0 && o.content.len == sizeof nul - 1);
    sl_toolcall_out_free(&o);
    const char bad[] = "[TOOL_CALLS][{\"name\": \"\xff\xfe\", \"arguments\": {}}]";
    CHECK(sl_toolcall_parse(M, 0, 0, bad, sizeof bad - 1, &o) == 0);
    CHECK(o.n_calls == 0 && o.content.len == sizeof bad - 1);
    sl_toolcall_out_free(&o);
    const char *deep_mistral = "[TOOL_CALLS][[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[";
    CHECK(sl_toolcall_parse(M, 0, 0, deep_mistral, strlen(deep_mistral), &o) == 0);
    CHECK(o.n_calls == 0 && o.content.len == strlen(deep_mistral));
    sl_toolcall_out_free(&o);
}

int main(void) {
    RUN(one_shot);
    RUN(cut_at_every_byte);
    RUN(holds_back_only_what_is_undecided);
    RUN(detect);
    RUN(real_templates);
    RUN(hostile);
    return check_summary();
}
