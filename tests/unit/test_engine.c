/* test_engine.c — the continuous-batching scheduler on the llama-tiny fixture. */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapter.h"
#include "check.h"
#include "constraint.h"
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

/* Waits (up to 10 s) until N sequences run: their first step is done. */
static void wait_running(sl_engine *e, int n) {
    sl_engine_stats st;
    double deadline = now_s() + 10;
    do {
        usleep(1000);
        sl_engine_get_stats(e, &st);
    } while (st.running < n && now_s() < deadline);
    CHECKF(st.running >= n, "%d running, want %d", st.running, n);
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
    sl_engine_stats st;
    double deadline = now_s() + 10; /* running after its first step (slow under sanitizers and load) */
    do {
        usleep(2000);
        sl_engine_get_stats(e, &st);
    } while (!(st.running == 1 && st.kv_blocks_used > 0) && now_s() < deadline);
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
    wait_running(e, 1);
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

static sl_engine *engine_opts(sl_engine_opts o) {
    sl_engine *e = NULL;
    char err[256];
    int rc = sl_engine_init(&e, model, tok, &o, err, sizeof err);
    CHECKF(rc == 0, "sl_engine_init: %s", err);
    return e;
}

/* Prompts that share nothing but BOS, of varied lengths. */
static int mk_prompt(int32_t *out, int i, int len) {
    for (int t = 0; t < len; t++) out[t] = t == 0 ? 0 : (int32_t)((t * 53 + i * 97) % 1000 + 3);
    return len;
}

#define NS 16
static result solo_res[NS], many_res[NS];

/* A pool for 4 whole sequences and 16 streams: the scheduler must preempt, and every stream
 * must still produce exactly the tokens of its solo run (greedy and seeded sampling alike),
 * with and without the prefix cache (which lets a resumed sequence take back its blocks). */
TEST(memory_pressure_preempts_and_resumes_exactly) {
    int32_t prompts[NS][64];
    int lens[NS];
    sl_engine_params ps[NS];
    for (int i = 0; i < NS; i++) {
        lens[i] = mk_prompt(prompts[i], i, 20 + (i * 7) % 40);
        ps[i] = greedy(40);
        if (i % 3 == 1) {
            ps[i].sample.temperature = 0.8f;
            ps[i].sample.seed = (uint64_t)(1000 + i);
        }
    }
    sl_engine *ref = engine(512, 8, 8, 512, 0);
    if (!ref) return;
    for (int i = 0; i < NS; i++) run_one(ref, prompts[i], lens[i], NULL, &ps[i], &solo_res[i]);
    sl_engine_free(ref);
    for (int cache = 0; cache < 2; cache++) {
        /* Whole sequences take at most 60 + 40 = 100 positions: 7 blocks of 16. */
        sl_engine_opts o = {.max_batch_tokens = 64, .max_running = NS, .max_waiting = NS, .prefill_chunk = 24,
                            .kv_blocks = 4 * 7, .prefix_cache = cache};
        sl_engine *e = engine_opts(o);
        if (!e) return;
        sl_engine_req *reqs[NS];
        for (int i = 0; i < NS; i++)
            CHECK(sl_engine_submit(e, prompts[i], lens[i], NULL, &ps[i], NULL, &reqs[i], NULL, 0) == 0);
        CHECK(collect(e, reqs, many_res, NS));
        for (int i = 0; i < NS; i++) {
            CHECKF(many_res[i].fin == SL_FINISH_LENGTH && many_res[i].n == solo_res[i].n &&
                       memcmp(many_res[i].toks, solo_res[i].toks, sizeof(int32_t) * (size_t)solo_res[i].n) == 0 &&
                       many_res[i].tlen == solo_res[i].tlen && memcmp(many_res[i].text, solo_res[i].text, solo_res[i].tlen) == 0,
                   "cache %d: stream %d differs from its solo run (n %d vs %d)", cache, i, many_res[i].n, solo_res[i].n);
            sl_engine_req_release(reqs[i]);
        }
        sl_engine_stats st;
        sl_engine_get_stats(e, &st);
        CHECKF(st.preemptions > 0, "cache %d: no preemption", cache);
        printf("    cache %d: %llu preemptions, %llu of %llu prompt tokens from the cache\n", cache,
               (unsigned long long)st.preemptions, (unsigned long long)st.prefix_hits,
               (unsigned long long)st.prefix_queries);
        wait_idle(e);
        sl_engine_free(e);
    }
}

/* A request without max_tokens (the rest of the context) takes only the blocks it fills:
 * with a pool for one whole context, 8 such requests run at once. */
TEST(no_reservation_for_max_tokens) {
    sl_engine_opts o = {.max_batch_tokens = 64, .max_running = 8, .max_waiting = 8, .kv_blocks = 512 / 16,
                        .step_delay_ms = 5};
    sl_engine *e = engine_opts(o);
    if (!e) return;
    sl_engine_req *reqs[8];
    for (int i = 0; i < 8; i++) {
        sl_engine_params p = greedy(512 - 18);
        CHECK(sl_engine_submit(e, P1, 18, NULL, &p, NULL, &reqs[i], NULL, 0) == 0);
    }
    sl_engine_stats st;
    double deadline = now_s() + 5;
    do {
        usleep(2000);
        sl_engine_get_stats(e, &st);
    } while (st.running < 8 && now_s() < deadline);
    CHECKF(st.running == 8 && st.waiting == 0, "running %d waiting %d", st.running, st.waiting);
    sl_engine_cancel_all(e);
    result *res = many_res;
    CHECK(collect(e, reqs, res, 8));
    for (int i = 0; i < 8; i++) sl_engine_req_release(reqs[i]);
    wait_idle(e);
    sl_engine_free(e);
}

/* The prefix cache: a second request with the same prompt reuses its full blocks and gives
 * the same tokens; another adapter (or version), another tenant or another cache_salt never
 * hits; --prefix-cache-share-tenants lets tenants share. Chunk boundaries do not matter: the
 * first prompt is prefilled in chunks of 7. */
TEST(prefix_cache_reuse_and_isolation) {
    sl_adapter *ad = NULL, *ad2 = NULL;
    char err[256];
    CHECK(sl_adapter_load_dir(&ad, model, FIXTURE("adapters/llama-tiny/symlora-qo-r8"), NULL, err, sizeof err) == 0);
    CHECK(sl_adapter_load_dir(&ad2, model, FIXTURE("adapters/llama-tiny/symlora-qo-r8"), NULL, err, sizeof err) == 0);
    if (!ad || !ad2) return;
    CHECK(sl_adapter_uid(ad) != sl_adapter_uid(ad2));
    int32_t pr[100];
    mk_prompt(pr, 5, 100);
    for (int share = 0; share < 2; share++) {
        sl_engine_opts o = {.max_batch_tokens = 64, .max_running = 4, .max_waiting = 8, .prefill_chunk = 7,
                            .prefix_cache = 1, .share_tenants = share};
        sl_engine *e = engine_opts(o);
        if (!e) return;
        sl_engine_params p = greedy(8);
        p.tenant = "alice";
        result a, b;
        sl_engine_stats st0, st1;
        run_one(e, pr, 100, sl_adapter_ref(ad), &p, &a);
        sl_engine_get_stats(e, &st0);
        CHECK(st0.prefix_hits == 0 && st0.prefix_queries == 100);
        run_one(e, pr, 100, sl_adapter_ref(ad), &p, &b);
        sl_engine_get_stats(e, &st1);
        /* 99 positions may come from the cache (the last one is computed for its logits): 6 blocks. */
        CHECKF(st1.prefix_hits == 96, "hits %llu", (unsigned long long)st1.prefix_hits);
        CHECK(a.n == b.n && memcmp(a.toks, b.toks, sizeof(int32_t) * (size_t)a.n) == 0);
        /* A longer prompt with the same start: the shared blocks, same output as without cache. */
        int32_t longer[120];
        memcpy(longer, pr, sizeof pr);
        mk_prompt(longer + 100, 9, 20);
        result c;
        run_one(e, longer, 120, sl_adapter_ref(ad), &p, &c);
        sl_engine_get_stats(e, &st0);
        CHECK(st0.prefix_hits - st1.prefix_hits == 96);
        /* Isolation: each of these must miss. */
        struct { sl_adapter *a; const char *tenant, *salt; int hits; } cases[] = {
            {ad2, "alice", NULL, 0},                /* another version of the adapter */
            {NULL, "alice", NULL, 0},               /* the base model */
            {ad, "bob", NULL, share ? 96 : 0},      /* another tenant */
            {ad, "alice", "s1", 0},                 /* a cache salt */
        };
        for (int k = 0; k < 4; k++) {
            sl_engine_params q = p;
            q.tenant = cases[k].tenant;
            q.cache_salt = cases[k].salt;
            sl_engine_get_stats(e, &st0);
            result x;
            run_one(e, pr, 100, cases[k].a ? sl_adapter_ref(cases[k].a) : NULL, &q, &x);
            sl_engine_get_stats(e, &st1);
            CHECKF(st1.prefix_hits - st0.prefix_hits == (uint64_t)cases[k].hits, "share %d case %d: %llu hits", share, k,
                   (unsigned long long)(st1.prefix_hits - st0.prefix_hits));
        }
        sl_engine_free(e);
        /* Without the cache: the same tokens. */
        o.prefix_cache = 0;
        o.prefill_chunk = 64;
        e = engine_opts(o);
        result d;
        run_one(e, longer, 120, sl_adapter_ref(ad), &p, &d);
        CHECK(c.n == d.n && memcmp(c.toks, d.toks, sizeof(int32_t) * (size_t)c.n) == 0);
        sl_engine_get_stats(e, &st0);
        CHECK(st0.prefix_hits == 0);
        sl_engine_free(e);
    }
    sl_adapter_unref(ad);
    sl_adapter_unref(ad2);
}

static void finish_order(sl_engine *e, sl_engine_req **reqs, int n, int *order);

/* A head that cannot fit yet is passed by requests that fit (at most SL_ENGINE_MAX_PASS of
 * them), and still runs once blocks free up. */
TEST(small_requests_pass_a_head_that_does_not_fit) {
    /* 12 blocks of 16: the first request holds 8 by its end; the head needs 8 at once. */
    sl_engine_opts o = {.max_batch_tokens = 256, .max_running = 8, .max_waiting = 32, .prefill_chunk = 256,
                        .kv_blocks = 12, .step_delay_ms = 2};
    sl_engine *e = engine_opts(o);
    if (!e) return;
    int32_t big[120], first[100];
    mk_prompt(first, 1, 100);
    mk_prompt(big, 2, 120);
    sl_engine_req *reqs[3 + SL_ENGINE_MAX_PASS + 4];
    int n = 0;
    sl_engine_params pl = greedy(24), ph = greedy(1), ps = greedy(2); /* the head ends in the step it starts */
    CHECK(sl_engine_submit(e, first, 100, NULL, &pl, NULL, &reqs[n++], NULL, 0) == 0);
    wait_running(e, 1);
    CHECK(sl_engine_submit(e, big, 120, NULL, &ph, NULL, &reqs[n++], NULL, 0) == 0); /* the head: 8 blocks */
    for (int i = 0; i < SL_ENGINE_MAX_PASS + 4; i++) CHECK(sl_engine_submit(e, P1, 4, NULL, &ps, NULL, &reqs[n++], NULL, 0) == 0);
    int order[16];
    finish_order(e, reqs, n, order);
    int head_at = 0;
    while (head_at < n && order[head_at] != 1) head_at++;
    /* Before the head: the first request and the smalls that passed it while it did not fit. */
    CHECKF(head_at >= 2 && head_at <= 1 + SL_ENGINE_MAX_PASS + 1, "the head finished %d-th", head_at + 1);
    for (int i = 0; i < n; i++) sl_engine_req_release(reqs[i]);
    wait_idle(e);
    sl_engine_free(e);
}

/* Order of completion with one running slot. */
static void finish_order(sl_engine *e, sl_engine_req **reqs, int n, int *order) {
    int done = 0, seen[32] = {0};
    double deadline = now_s() + 20;
    while (done < n && now_s() < deadline) {
        sl_engine_req *rs[16];
        int k = sl_engine_take_ready(e, rs, 16);
        if (!k) usleep(500);
        for (int j = 0; j < k; j++) {
            sl_engine_out o;
            sl_engine_read(rs[j], &o);
            for (int i = 0; i < n; i++)
                if (reqs[i] == rs[j] && o.finished && !seen[i]) {
                    seen[i] = 1;
                    order[done++] = i;
                }
            sl_engine_req_release(rs[j]);
        }
    }
    CHECK(done == n);
}

/* Weighted fair queuing between tenants and priority within one, with one running slot:
 * a tenant that arrives behind another's backlog goes next; a lower priority value goes
 * first within a tenant; per-tenant limits refuse with SL_EBUSY. */
TEST(fair_queuing_priority_and_tenant_limits) {
    sl_engine_opts o = {.max_batch_tokens = 64, .max_running = 1, .max_waiting = 32, .step_delay_ms = 2,
                        .tenant_max_waiting = 4};
    sl_engine *e = engine_opts(o);
    if (!e) return;
    sl_engine_req *reqs[8];
    sl_engine_params pa = greedy(6), pb = greedy(6), plong = greedy(200);
    pa.tenant = plong.tenant = "a";
    pb.tenant = "b";
    CHECK(sl_engine_submit(e, P1, 18, NULL, &plong, NULL, &reqs[0], NULL, 0) == 0);
    wait_running(e, 1);
    for (int i = 1; i < 5; i++) CHECK(sl_engine_submit(e, P1, 18, NULL, &pa, NULL, &reqs[i], NULL, 0) == 0);
    char err[256];
    sl_engine_req *x = NULL;
    CHECK(sl_engine_submit(e, P1, 18, NULL, &pa, NULL, &x, err, sizeof err) == SL_EBUSY && !x);
    CHECKF(strstr(err, "tenant 'a'") != NULL, "%s", err);
    CHECK(sl_engine_submit(e, P1, 18, NULL, &pb, NULL, &reqs[5], NULL, 0) == 0);
    int order[6];
    finish_order(e, reqs, 6, order);
    CHECKF(order[0] == 0 && order[1] == 5, "b's request did not go next: %d %d %d", order[0], order[1], order[2]);
    sl_engine_tenant_stats ts[4];
    int nt = sl_engine_get_tenants(e, ts, 4);
    CHECK(nt == 2 && !strcmp(ts[0].name, "a") && ts[0].rejected == 1 && ts[0].tokens > ts[1].tokens);
    for (int i = 0; i < 6; i++) sl_engine_req_release(reqs[i]);

    /* Priority within a tenant. */
    CHECK(sl_engine_submit(e, P1, 18, NULL, &plong, NULL, &reqs[0], NULL, 0) == 0);
    wait_running(e, 1);
    sl_engine_params lo = pa, hi = pa;
    lo.priority = 5;
    hi.priority = -1;
    CHECK(sl_engine_submit(e, P1, 18, NULL, &lo, NULL, &reqs[1], NULL, 0) == 0);
    CHECK(sl_engine_submit(e, P1, 18, NULL, &hi, NULL, &reqs[2], NULL, 0) == 0);
    finish_order(e, reqs, 3, order);
    CHECKF(order[1] == 2 && order[2] == 1, "priority order: %d %d %d", order[0], order[1], order[2]);
    for (int i = 0; i < 3; i++) sl_engine_req_release(reqs[i]);
    /* More waiting tenants than one admission round looks at (16): all are served. */
    sl_engine_req *many[24];
    char names[24][16];
    for (int i = 0; i < 24; i++) {
        snprintf(names[i], sizeof names[i], "t%d", i);
        sl_engine_params pt = greedy(2);
        pt.tenant = names[i];
        CHECK(sl_engine_submit(e, P1, 4, NULL, &pt, NULL, &many[i], NULL, 0) == 0);
    }
    int ord24[24];
    finish_order(e, many, 24, ord24);
    for (int i = 0; i < 24; i++) sl_engine_req_release(many[i]);
    wait_idle(e);
    sl_engine_free(e);
}

/* Structured outputs in the batch: constrained, differently constrained and plain streams mix
 * under memory pressure (preemption and recomputation); each produces exactly its solo run, the
 * constraint state is not advanced again by the recomputed tokens, every output that stopped is
 * complete for its constraint, logprobs are of the constrained distribution (the chosen token's
 * is finite and no masked token is an alternative), and masking costs no extra step. */
TEST(constraints_mix_and_survive_preemption) {
    char err[256];
    sl_cvocab *v = NULL;
    CHECKF(sl_cvocab_init(&v, tok, sl_model_get_config(model)->vocab, err, sizeof err) == 0, "%s", err);
    if (!v) return;
    static const sl_cpiece pieces[] = {
        {SL_CPIECE_REGEX, "[a-z]{2,6}( [a-z]{2,6}){3,12}\\.", 0},
        {SL_CPIECE_JSON_SCHEMA, "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"minimum\":0,"
                                "\"maximum\":999},\"s\":{\"type\":\"string\",\"maxLength\":6}},\"required\":[\"n\",\"s\"]}", 0},
        {SL_CPIECE_CHOICE, "[\"alpha\",\"beta\",\"gamma delta\"]", 0},
    };
    sl_constraint *cs[3] = {0};
    for (int k = 0; k < 3; k++) {
        sl_cpiece p = pieces[k];
        p.len = strlen(p.text);
        CHECKF(sl_constraint_compile(&cs[k], v, &p, 1, err, sizeof err) == 0, "%s", err);
        if (!cs[k]) return;
    }
    int32_t prompts[NS][64];
    int lens[NS];
    sl_engine_params ps[NS];
    for (int i = 0; i < NS; i++) {
        lens[i] = mk_prompt(prompts[i], i, 20 + (i * 7) % 40);
        ps[i] = greedy(40);
        ps[i].ignore_eos = 0;
        ps[i].logprobs = 5;
        if (i % 2) ps[i].sample.temperature = 0.9f, ps[i].sample.seed = (uint64_t)(77 + i);
        ps[i].constraint = i % 4 == 3 ? NULL : cs[i % 4]; /* every fourth stream is plain */
    }
    sl_engine *ref = engine(512, 8, 8, 512, 0);
    if (!ref) return;
    for (int i = 0; i < NS; i++) run_one(ref, prompts[i], lens[i], NULL, &ps[i], &solo_res[i]);
    sl_engine_free(ref);
    sl_engine_opts o = {.max_batch_tokens = 64, .max_running = NS, .max_waiting = NS, .prefill_chunk = 24,
                        .kv_blocks = 4 * 7, .prefix_cache = 1};
    sl_engine *e = engine_opts(o);
    if (!e) return;
    sl_engine_req *reqs[NS];
    for (int i = 0; i < NS; i++) CHECK(sl_engine_submit(e, prompts[i], lens[i], NULL, &ps[i], NULL, &reqs[i], NULL, 0) == 0);
    CHECK(collect(e, reqs, many_res, NS));
    int stopped = 0;
    for (int i = 0; i < NS; i++) {
        result *r = &many_res[i];
        CHECKF(r->n == solo_res[i].n && memcmp(r->toks, solo_res[i].toks, sizeof(int32_t) * (size_t)r->n) == 0 &&
                   r->tlen == solo_res[i].tlen && memcmp(r->text, solo_res[i].text, r->tlen) == 0,
               "stream %d differs from its solo run", i);
        if (ps[i].constraint) {
            CHECKF(r->fin == SL_FINISH_STOP || r->fin == SL_FINISH_LENGTH, "stream %d: finish %d", i, r->fin);
            sl_cmatch *m = sl_cmatch_new(ps[i].constraint);
            int ok = sl_cmatch_accept_bytes(m, r->text, r->tlen) == 0;
            CHECKF(ok, "stream %d: '%.*s' does not match", i, (int)r->tlen, r->text);
            if (r->fin == SL_FINISH_STOP) {
                stopped++;
                CHECKF(sl_cmatch_complete(m), "stream %d stopped incomplete: '%.*s'", i, (int)r->tlen, r->text);
            }
            sl_cmatch_free(m);
            for (int t = 0; t < r->n; t++) CHECK(r->lps[t] > -1e30f && r->lps[t] <= 0);
        }
        sl_engine_req_release(reqs[i]);
    }
    CHECKF(stopped >= 4, "only %d constrained streams completed", stopped);
    sl_engine_stats st;
    sl_engine_get_stats(e, &st);
    CHECKF(st.preemptions > 0, "no preemption");
    wait_idle(e);
    sl_engine_free(e);
    for (int k = 0; k < 3; k++) sl_constraint_unref(cs[k]);
    sl_cvocab_free(v);
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
    RUN(memory_pressure_preempts_and_resumes_exactly);
    RUN(no_reservation_for_max_tokens);
    RUN(prefix_cache_reuse_and_isolation);
    RUN(fair_queuing_priority_and_tenant_limits);
    RUN(small_requests_pass_a_head_that_does_not_fit);
    RUN(constraints_mix_and_survive_preemption);
    sl_tokenizer_free(tok);
    sl_model_free(model);
    return check_summary();
}
