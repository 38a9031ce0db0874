/* test_engine.c — the continuous-batching scheduler on the llama-tiny fixture. */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapter.h"
#include "chat.h"
#include "check.h"
#include "engine.h"
#include "error.h"
#include "model.h"
#include "tokenizer.h"

static sl_model *model;
static sl_tokenizer *tok;

typedef struct result {
    int32_t toks[600];
    float lps[600];
    int n_top[600];
    int n;
    char text[16384];
    size_t tlen;
    sl_finish fin;
    int n_gen, n_prompt, done;
} result;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The consumer: collects the output of N requests until all are finished (or 30 s pass). */
static int collect(sl_engine *e, sl_engine_req **reqs, result *res, int n) {
    int left = n;
    for (int i = 0; i < n; i++) memset(&res[i], 0, sizeof res[i]);
    double deadline = now_s() + 30;
    while (left > 0 && now_s() < deadline) {
        sl_engine_req *rs[16];
        int k = sl_engine_take_ready(e, rs, 16);
        if (!k) usleep(200);
        for (int j = 0; j < k; j++) {
            int i = 0;
            while (i < n && reqs[i] != rs[j]) i++;
            if (i < n && !res[i].done) {
                sl_engine_out o;
                sl_engine_read(rs[j], &o);
                for (int t = 0; t < o.n_tokens && res[i].n < 600; t++) {
                    res[i].lps[res[i].n] = o.tokens[t].logprob;
                    res[i].n_top[res[i].n] = o.tokens[t].n_top;
                    res[i].toks[res[i].n++] = o.tokens[t].id;
                }
                if (res[i].tlen + o.text_len < sizeof res[i].text) {
                    memcpy(res[i].text + res[i].tlen, o.text, o.text_len);
                    res[i].tlen += o.text_len;
                }
                res[i].n_gen = o.n_generated;
                res[i].n_prompt = o.n_prompt;
                if (o.finished) {
                    res[i].fin = o.finish;
                    res[i].done = 1;
                    left--;
                }
            }
            sl_engine_req_release(rs[j]);
        }
    }
    return left == 0;
}

static sl_engine *engine(int max_batch_tokens, int max_running, int max_waiting, int chunk, int delay_ms) {
    sl_engine_opts o = {.max_batch_tokens = max_batch_tokens, .max_running = max_running, .max_waiting = max_waiting,
                        .prefill_chunk = chunk, .step_delay_ms = delay_ms};
    sl_engine *e = NULL;
    char err[256];
    int rc = sl_engine_init(&e, model, tok, &o, err, sizeof err);
    CHECKF(rc == 0, "sl_engine_init: %s", err);
    return e;
}

static sl_engine_params greedy(int max_tokens) {
    sl_engine_params p = {.max_tokens = max_tokens, .logprobs = -1, .ignore_eos = 1, .skip_special = 1};
    return p;
}

static const int32_t P1[] = {0, 735, 284, 524, 299, 467, 78, 429, 544, 85, 278, 309, 92, 271, 288, 299, 932, 16};

static int run_one(sl_engine *e, const int32_t *prompt, int n, struct sl_adapter *a, const sl_engine_params *p,
                   result *res) {
    sl_engine_req *r = NULL;
    char err[256];
    int rc = sl_engine_submit(e, prompt, n, a, p, NULL, &r, err, sizeof err);
    CHECKF(rc == 0, "submit: %s", err);
    if (rc) return rc;
    int ok = collect(e, &r, res, 1);
    sl_engine_req_release(r);
    CHECK(ok);
    return ok ? 0 : -1;
}

static void wait_idle(sl_engine *e) {
    sl_engine_stats st;
    double deadline = now_s() + 5;
    do {
        sl_engine_get_stats(e, &st);
        if (st.running == 0 && st.waiting == 0 && st.kv_blocks_used == 0) return;
        usleep(1000);
    } while (now_s() < deadline);
    CHECKF(0, "engine not idle: running %d waiting %d kv %d", st.running, st.waiting, st.kv_blocks_used);
}

TEST(greedy_max_tokens_and_length) {
    sl_engine *e = engine(64, 8, 8, 64, 0);
    if (!e) return;
    result r;
    sl_engine_params p = greedy(12);
    run_one(e, P1, 18, NULL, &p, &r);
    CHECKF(r.n == 12 && r.n_gen == 12 && r.n_prompt == 18, "n %d gen %d prompt %d", r.n, r.n_gen, r.n_prompt);
    CHECK(r.fin == SL_FINISH_LENGTH);
    /* The text is the detokenization of the tokens. */
    char *text = NULL;
    size_t len = 0;
    CHECK(sl_tokenizer_decode(tok, r.toks, (size_t)r.n, 1, &text, &len, NULL, 0) == 0);
    CHECKF(text && len == r.tlen && memcmp(text, r.text, len) == 0, "text '%.*s' vs decode '%s'", (int)r.tlen, r.text,
           text ? text : "");
    free(text);
    wait_idle(e);
    sl_engine_free(e);
}

TEST(chunked_prefill_and_batching_do_not_change_results) {
    sl_engine *ref = engine(512, 8, 8, 512, 0);
    if (!ref) return;
    result solo[4];
    int32_t prompts[4][120];
    int lens[4] = {18, 120, 5, 64};
    for (int i = 0; i < 4; i++)
        for (int t = 0; t < lens[i]; t++) prompts[i][t] = t == 0 ? 0 : (int32_t)((t * 37 + i * 11) % 1000 + 2);
    sl_engine_params p = greedy(10);
    for (int i = 0; i < 4; i++) run_one(ref, prompts[i], lens[i], NULL, &p, &solo[i]);
    sl_engine_free(ref);

    /* Tiny steps: prompts go in chunks of 7, decode and prefill share steps. */
    sl_engine *e = engine(12, 4, 8, 7, 0);
    if (!e) return;
    sl_engine_req *reqs[4];
    result res[4];
    for (int i = 0; i < 4; i++) CHECK(sl_engine_submit(e, prompts[i], lens[i], NULL, &p, NULL, &reqs[i], NULL, 0) == 0);
    CHECK(collect(e, reqs, res, 4));
    for (int i = 0; i < 4; i++) {
        CHECKF(res[i].n == solo[i].n && memcmp(res[i].toks, solo[i].toks, sizeof(int32_t) * (size_t)res[i].n) == 0,
               "request %d differs when batched", i);
        sl_engine_req_release(reqs[i]);
    }
    sl_engine_stats st;
    sl_engine_get_stats(e, &st);
    CHECKF(st.prompt_tokens == 18 + 120 + 5 + 64, "prompt tokens %llu", (unsigned long long)st.prompt_tokens);
    CHECK(st.batch_seqs.count > 0 && st.batch_seqs.sum / st.batch_seqs.count > 1.0);
    wait_idle(e);
    sl_engine_free(e);
}

TEST(stop_strings_and_stop_ids) {
    sl_engine *e = engine(64, 8, 8, 64, 0);
    if (!e) return;
    result full, cut, byid;
    sl_engine_params p = greedy(30);
    run_one(e, P1, 18, NULL, &p, &full);
    CHECK(full.tlen > 8);
    /* A stop string from the middle of the text: the output ends right before it. */
    char stop[4] = {0};
    memcpy(stop, full.text + 5, 3);
    const char *stops[] = {"\xe2\x98\x83never", stop};
    sl_engine_params ps = p;
    ps.stop = stops;
    ps.n_stop = 2;
    run_one(e, P1, 18, NULL, &ps, &cut);
    const char *at = strstr(full.text, stop);
    size_t want = at ? (size_t)(at - full.text) : 0;
    CHECKF(cut.fin == SL_FINISH_STOP && cut.tlen == want && memcmp(cut.text, full.text, want) == 0,
           "stop '%s': got '%.*s' (fin %d), want '%.*s'", stop, (int)cut.tlen, cut.text, cut.fin, (int)want, full.text);
    CHECK(cut.n < full.n);
    /* A stop token: generation ends with it. */
    int k = 4;
    while (k > 0) { /* the first occurrence of full.toks[k] must be at k */
        int first = 1;
        for (int j = 0; j < k; j++)
            if (full.toks[j] == full.toks[k]) first = 0;
        if (first) break;
        k--;
    }
    sl_engine_params pi = p;
    pi.stop_ids = &full.toks[k];
    pi.n_stop_ids = 1;
    run_one(e, P1, 18, NULL, &pi, &byid);
    CHECKF(byid.fin == SL_FINISH_STOP && byid.n == k + 1 && byid.toks[k] == full.toks[k], "stop id: n %d, k %d", byid.n,
           k);
    wait_idle(e);
    sl_engine_free(e);
}

TEST(seeded_sampling_and_logprobs) {
    sl_engine *e = engine(64, 8, 8, 64, 0);
    if (!e) return;
    sl_engine_params p = greedy(16);
    p.sample.temperature = 0.9f;
    p.sample.top_p = 0.95f;
    p.sample.seed = 42;
    p.logprobs = 3;
    result a, b, c;
    run_one(e, P1, 18, NULL, &p, &a);
    run_one(e, P1, 18, NULL, &p, &b);
    p.sample.seed = 43;
    run_one(e, P1, 18, NULL, &p, &c);
    CHECK(a.n == 16 && b.n == 16 && memcmp(a.toks, b.toks, sizeof(int32_t) * 16) == 0);
    CHECK(memcmp(a.toks, c.toks, sizeof(int32_t) * 16) != 0);
    for (int i = 0; i < a.n; i++) CHECKF(a.lps[i] <= 0 && a.n_top[i] == 3, "token %d: lp %f top %d", i, a.lps[i], a.n_top[i]);
    wait_idle(e);
    sl_engine_free(e);
}

TEST(cancel_frees_blocks_and_adapter) {
    sl_engine *e = engine(64, 8, 8, 64, 5);
    if (!e) return;
    sl_adapter *ad = NULL;
    char err[256];
    int rc = sl_adapter_load_dir(&ad, model, FIXTURE("adapters/llama-tiny/symlora-qo-r8"), NULL, err, sizeof err);
    CHECKF(rc == 0, "adapter: %s", err);
    if (rc) {
        sl_engine_free(e);
        return;
    }
    CHECK(sl_adapter_refs(ad) == 1);
    sl_engine_params p = greedy(400);
    sl_engine_req *r = NULL;
    CHECK(sl_engine_submit(e, P1, 18, sl_adapter_ref(ad), &p, NULL, &r, NULL, 0) == 0); /* the engine gets a ref */
    CHECK(sl_adapter_refs(ad) == 2);
    usleep(30000);
    sl_engine_stats st;
    sl_engine_get_stats(e, &st);
    CHECKF(st.running == 1 && st.kv_blocks_used > 0, "running %d kv %d", st.running, st.kv_blocks_used);
    sl_engine_cancel(e, r);
    result res;
    CHECK(collect(e, &r, &res, 1));
    CHECK(res.fin == SL_FINISH_CANCELLED && res.n < 400);
    sl_engine_req_release(r);
    wait_idle(e);
    CHECKF(sl_adapter_refs(ad) == 1, "the finished sequence still holds the adapter (%d refs)", sl_adapter_refs(ad));
    sl_engine_get_stats(e, &st);
    CHECK(st.finished[SL_FINISH_CANCELLED] == 1);
    sl_adapter_unref(ad);
    sl_engine_free(e);
}

TEST(limits) {
    sl_engine *e = engine(16, 1, 1, 16, 20);
    if (!e) return;
    sl_engine_params p = greedy(50);
    sl_engine_req *r1 = NULL, *r2 = NULL, *r3 = NULL;
    char err[256];
    /* Over the context: 512 positions. */
    int32_t big[500] = {0};
    sl_engine_params pb = greedy(13);
    CHECK(sl_engine_submit(e, big, 500, NULL, &pb, NULL, &r1, err, sizeof err) == SL_ETOOBIG && !r1);
    CHECK(strstr(err, "512") != NULL);
    int32_t bad[] = {0, 5000};
    CHECK(sl_engine_submit(e, bad, 2, NULL, &p, NULL, &r1, NULL, 0) == SL_EINVAL);
    sl_engine_params p0 = greedy(0);
    CHECK(sl_engine_submit(e, P1, 2, NULL, &p0, NULL, &r1, NULL, 0) == SL_EINVAL);
    /* One runs, one waits, the third finds the queue full. */
    CHECK(sl_engine_submit(e, P1, 18, NULL, &p, NULL, &r1, NULL, 0) == 0);
    usleep(50000);
    CHECK(sl_engine_submit(e, P1, 18, NULL, &p, NULL, &r2, NULL, 0) == 0);
    CHECK(sl_engine_submit(e, P1, 18, NULL, &p, NULL, &r3, err, sizeof err) == SL_EBUSY);
    sl_engine_stats st;
    sl_engine_get_stats(e, &st);
    CHECKF(st.running == 1 && st.waiting == 1, "running %d waiting %d", st.running, st.waiting);
    sl_engine_cancel_all(e);
    sl_engine_req *rs[2] = {r1, r2};
    result res[2];
    CHECK(collect(e, rs, res, 2));
    CHECK(res[0].fin == SL_FINISH_CANCELLED && res[1].fin == SL_FINISH_CANCELLED && res[1].n == 0);
    sl_engine_req_release(r1);
    sl_engine_req_release(r2);
    wait_idle(e);
    /* Requests still queued when the engine is freed end as cancelled and stay readable. */
    CHECK(sl_engine_submit(e, P1, 18, NULL, &p, NULL, &r1, NULL, 0) == 0);
    sl_engine_free(e);
    sl_engine_out o;
    sl_engine_read(r1, &o);
    CHECK(o.finished && (o.finish == SL_FINISH_CANCELLED || o.finish == SL_FINISH_LENGTH));
    sl_engine_req_release(r1);
}

/* The chat templates the daemon renders (lib/chat.c), against the Jinja templates' output. */
static void render_is(const sl_chat *c, const sl_chat_msg *m, int n, const char *want) {
    char *out = NULL;
    size_t len = 0;
    char err[256] = "";
    int rc = sl_chat_render(c, m, n, 1, &out, &len, err, sizeof err);
    CHECKF(rc == 0 && out && !strcmp(out, want) && len == strlen(want), "%s: got '%s' (%s), want '%s'",
           sl_chat_format_name(c->fmt), out ? out : "", err, want);
    free(out);
}

TEST(chat_templates) {
    CHECK(sl_chat_detect("{% for m in messages %}<|im_start|>{{m.role}}...<|im_end|>") == SL_CHAT_CHATML);
    CHECK(sl_chat_detect("<|start_header_id|>' + role + '<|end_header_id|> ... <|eot_id|>") == SL_CHAT_LLAMA3);
    CHECK(sl_chat_detect("[INST] <<SYS>> ... [/INST]") == SL_CHAT_LLAMA2);
    CHECK(sl_chat_detect("{{ '[INST] ' + content + ' [/INST]' }}") == SL_CHAT_MISTRAL);
    CHECK(sl_chat_detect("{{ messages }}") == SL_CHAT_UNKNOWN && sl_chat_detect(NULL) == SL_CHAT_UNKNOWN);
    CHECK(sl_chat_format_parse("llama3") == SL_CHAT_LLAMA3 && sl_chat_format_parse("auto") == 0 &&
          sl_chat_format_parse("jinja") == -1);

    sl_chat_msg one[] = {{"user", "Hi", 2}};
    sl_chat_msg sys[] = {{"system", "Be brief.", 9}, {"user", "Hi", 2}};
    sl_chat_msg turns[] = {{"user", "Hi", 2}, {"assistant", "Hello", 5}, {"user", "More", 4}};
    sl_chat c = {.fmt = SL_CHAT_CHATML};
    render_is(&c, one, 1, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    snprintf(c.default_system, sizeof c.default_system, "You are a helpful assistant.");
    render_is(&c, one, 1,
              "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
              "<|im_start|>assistant\n");
    render_is(&c, sys, 2, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    sl_chat l3 = {.fmt = SL_CHAT_LLAMA3, .bos = "<|begin_of_text|>"};
    render_is(&l3, sys, 2,
              "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    sl_chat l2 = {.fmt = SL_CHAT_LLAMA2, .bos = "<s>", .eos = "</s>"};
    render_is(&l2, sys, 2, "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]");
    render_is(&l2, turns, 3, "<s>[INST] Hi [/INST] Hello </s><s>[INST] More [/INST]");
    sl_chat mi = {.fmt = SL_CHAT_MISTRAL, .bos = "<s>", .eos = "</s>"};
    render_is(&mi, turns, 3, "<s>[INST] Hi [/INST]Hello</s>[INST] More [/INST]");
    CHECK(!strcmp(sl_chat_end_token(&c), "<|im_end|>") && !strcmp(sl_chat_end_token(&l3), "<|eot_id|>") &&
          !strcmp(sl_chat_end_token(&mi), "</s>"));
    /* Unknown roles and unknown formats are errors, not garbage. */
    sl_chat_msg bad[] = {{"tool", "x", 1}};
    char *out = NULL;
    CHECK(sl_chat_render(&c, bad, 1, 1, &out, NULL, NULL, 0) == SL_EINVAL && !out);
    sl_chat none = {.fmt = SL_CHAT_UNKNOWN};
    CHECK(sl_chat_render(&none, one, 1, 1, &out, NULL, NULL, 0) == SL_ENOTSUP && !out);
    /* The fixture models have no template: recognised as unknown unless forced. */
    sl_chat fx;
    CHECK(sl_chat_init(&fx, FIXTURE("models/qwen2-tiny"), NULL, NULL, 0) == 0 && fx.fmt == SL_CHAT_UNKNOWN && !fx.has_template);
    CHECK(sl_chat_init(&fx, FIXTURE("models/llama-tiny"), "llama3", NULL, 0) == 0 && fx.fmt == SL_CHAT_LLAMA3 && fx.forced &&
          !strcmp(fx.bos, "<|begin_of_text|>"));
    CHECK(sl_chat_init(&fx, FIXTURE("models/llama-tiny"), "nonsense", NULL, 0) == SL_EINVAL);
}

int main(void) {
    char err[512];
    if (sl_model_load(&model, FIXTURE("models/llama-tiny"), NULL, err, sizeof err) != 0 ||
        sl_tokenizer_load(&tok, FIXTURE("models/llama-tiny/tokenizer.json"), err, sizeof err) != 0) {
        printf("cannot load the fixture: %s\n# 0 passed, 1 failed\n", err);
        return 1;
    }
    RUN(greedy_max_tokens_and_length);
    RUN(chunked_prefill_and_batching_do_not_change_results);
    RUN(stop_strings_and_stop_ids);
    RUN(seeded_sampling_and_logprobs);
    RUN(cancel_frees_blocks_and_adapter);
    RUN(limits);
    RUN(chat_templates);
    sl_tokenizer_free(tok);
    sl_model_free(model);
    return check_summary();
}
