/* bench_sched.c — the scheduler's benchmarks (issue 16), in one process, against the engine.
 *
 *   bench_sched [--long-model DIR] --model DIR --adapters DIR [--fair-model DIR] [--threads N]
 *               [--fair-seconds S] [--parts long,pressure,multiturn,fair]
 *
 * Token ids stand in for text: the engine is driven as the HTTP API drives it (a chat request
 * without max_tokens gets max_tokens = context - prompt, as with --max-tokens 0), so these
 * measure the scheduler, not the tokenizer. Engine options are the daemon's defaults
 * (max_running 64, max_batch_tokens 512, prefill_chunk 256, kv-cache-mb 1024, 16-position
 * blocks, prefix caching on) unless a part says otherwise.
 *
 * 1. Long context (--long-model, a 32k-context shape such as gen_model's qwen2.5-0.5b preset):
 *    16 concurrent requests of 32 prompt tokens without max_tokens, on the default KV pool.
 *    Reports how many ran at once (the most seen after a step, sl_engine_stats.running) and,
 *    for comparison, how many whole contexts the pool holds (what reserving prompt + max_tokens
 *    at admission, the old scheduler, would have let run). The requests are cancelled after a
 *    few decode steps.
 * 2. Multi-turn chat with prefix caching (--model, --adapters DIR/000..003): a shared system
 *    prompt of 1000 tokens, 8 users over 4 adapters (user u on adapter u % 4), 4 turns each;
 *    turn t's prompt = system + every earlier (user message of 24 tokens, answer of 16 tokens
 *    as generated) + the new user message. Requests run one at a time, turn by turn, so TTFT
 *    is the prefill alone. Reports TTFT p50 of turn-1 requests with the cache off (cold; also
 *    the cache-on turn 1 of the first user of each adapter) and of turns 2-4 with the cache, the hit rate (prompt tokens from the
 *    cache / prompt tokens), whether every answer equals the one with the prefix cache off,
 *    and the hits of the same prompts under a newly loaded version of an adapter and under
 *    another tenant (both must be 0).
 * 3. Fairness (--fair-model, default --model; a whole model such as the SmolLM2-135M shape, whose
 *    steps cost what a real model's do — a 2-layer cut is all lm_head): tenant A keeps 64 requests waiting (32 prompt tokens, 64 generated)
 *    while tenant B sends one request at a time (256 prompt tokens, 4 generated); B's TTFT p50
 *    is compared with its TTFT on the idle engine. Then A (weight 3) and B (weight 1) both keep
 *    64 waiting for --fair-seconds (default 8, after 2 s of warm-up) and the tokens computed for
 *    each are compared (goal 3:1).
 * 4. Memory pressure (--model): 16 streams (20-59 prompt tokens, 40 generated, half of them
 *    sampled with a seed) on a pool of 28 blocks (4 whole sequences): preemptions, and whether
 *    every stream equals its run alone.
 * One JSON object goes to stdout, a readable summary to stderr. */
#include "adapter.h"
#include "engine.h"
#include "error.h"
#include "model.h"
#include "tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, const char *err) {
    fprintf(stderr, "bench_sched: %s: %s\n", what, err);
    exit(1);
}

static int threads = 0;

typedef struct loaded {
    sl_model *m;
    sl_tokenizer *tok;
} loaded;

static loaded load(const char *dir) {
    loaded l = {0};
    char err[512], path[4096];
    if (sl_model_load(&l.m, dir, NULL, err, sizeof err) != 0) die(dir, err);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    if (sl_tokenizer_load(&l.tok, path, err, sizeof err) != 0) die(path, err);
    return l;
}

static sl_engine *start(const loaded *l, sl_engine_opts o) {
    sl_engine *e = NULL;
    char err[512];
    o.threads = threads;
    if (sl_engine_init(&e, l->m, l->tok, &o, err, sizeof err) != 0) die("engine", err);
    return e;
}

/* One request being driven: what came back of it. */
typedef struct job {
    sl_engine_req *r;
    double t_submit, t_first;
    int32_t toks[64];
    int n, done, tenant;
    sl_finish fin;
} job;

/* Every job of a part: a request may come up on the ready list once more after the read that
 * saw it finished, so a job lives (and keeps its reference) until the part's engine is gone. */
static job **all_jobs;
static int n_jobs, cap_jobs;

static job *submit(sl_engine *e, const int32_t *prompt, int n, sl_adapter *a, const sl_engine_params *p, int tenant) {
    job *j = calloc(1, sizeof *j);
    char err[512];
    if (n_jobs == cap_jobs) {
        cap_jobs = cap_jobs ? 2 * cap_jobs : 256;
        all_jobs = realloc(all_jobs, (size_t)cap_jobs * sizeof *all_jobs);
    }
    if (!j || !all_jobs) die("submit", "out of memory");
    all_jobs[n_jobs++] = j;
    j->t_submit = now();
    j->tenant = tenant;
    if (sl_engine_submit(e, prompt, n, a ? sl_adapter_ref(a) : NULL, p, j, &j->r, err, sizeof err) != 0) die("submit", err);
    return j;
}

/* Takes the ready list once: records first-token times and tokens. Returns jobs that ended. */
static int pump(sl_engine *e, job **ended, int max_ended) {
    sl_engine_req *rs[64];
    int k = sl_engine_take_ready(e, rs, 64), ne = 0;
    double t = now();
    for (int i = 0; i < k; i++) {
        job *j = sl_engine_req_user(rs[i]);
        sl_engine_out o;
        sl_engine_read(rs[i], &o);
        if (o.n_tokens && !j->t_first) j->t_first = t;
        for (int q = 0; q < o.n_tokens && j->n < 64; q++) j->toks[j->n++] = o.tokens[q].id;
        if (o.finished && !j->done) {
            j->done = 1;
            j->fin = o.finish;
            if (ne < max_ended) ended[ne++] = j;
        }
        sl_engine_req_release(rs[i]);
    }
    if (!k) usleep(100);
    return ne;
}

/* Done with J (it stays allocated until jobs_free). */
static void job_free(job *j) { (void)j; }

/* After the engine that ran them is freed. */
static void jobs_free(void) {
    for (int i = 0; i < n_jobs; i++) {
        sl_engine_req_release(all_jobs[i]->r);
        free(all_jobs[i]);
    }
    n_jobs = 0;
}

static void stop(sl_engine *e) {
    sl_engine_free(e);
    jobs_free();
}

/* Runs J alone to the end. */
static void wait_job(sl_engine *e, job *j) {
    job *ended[64];
    while (!j->done) pump(e, ended, 64);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double p50(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n ? (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2])) : 0;
}

static uint64_t seed_state = 0x9e3779b97f4a7c15ull;
static int32_t rnd_tok(void) {
    seed_state ^= seed_state >> 12;
    seed_state ^= seed_state << 25;
    seed_state ^= seed_state >> 27;
    return (int32_t)((seed_state * 0x2545f4914f6cdd1dull >> 33) % 1000) + 3;
}

static void fill(int32_t *p, int n) {
    for (int i = 0; i < n; i++) p[i] = rnd_tok();
}

static sl_engine_params params(int max_tokens, const char *tenant) {
    sl_engine_params p = {.max_tokens = max_tokens, .logprobs = -1, .ignore_eos = 1, .skip_special = 1, .tenant = tenant};
    return p;
}

/* ---------------------------------------------------------------- 1. long context */

static void long_context(const char *dir) {
    loaded l = load(dir);
    sl_engine *e = start(&l, (sl_engine_opts){0});
    int ctx = sl_engine_max_ctx(e);
    sl_engine_stats st;
    sl_engine_get_stats(e, &st);
    enum { N = 16, P = 32 };
    int32_t prompts[N][P];
    job *jobs[N];
    double t0 = now();
    for (int i = 0; i < N; i++) {
        fill(prompts[i], P);
        prompts[i][0] = 0;
        sl_engine_params p = params(ctx - P, "default");
        jobs[i] = submit(e, prompts[i], P, NULL, &p, 0);
    }
    int most = 0, all_decoding = 0;
    while (!all_decoding && now() - t0 < 600) {
        job *ended[N];
        pump(e, ended, N);
        sl_engine_get_stats(e, &st);
        if (st.running > most) most = st.running;
        all_decoding = 1;
        for (int i = 0; i < N; i++) all_decoding &= jobs[i]->n >= 3;
    }
    double secs = now() - t0;
    sl_engine_get_stats(e, &st);
    int whole = st.kv_blocks_total / ((ctx + st.kv_block_size - 1) / st.kv_block_size);
    sl_engine_cancel_all(e);
    for (int i = 0; i < N; i++) {
        wait_job(e, jobs[i]);
        job_free(jobs[i]);
    }
    stop(e);
    const sl_model_config *c = sl_model_get_config(l.m);
    double kv_mb = (double)st.kv_blocks_total * st.kv_block_size * 2.0 * c->n_layers * c->n_kv_heads * c->head_dim * 4 /
                   (1 << 20);
    fprintf(stderr, "long context: context %d, KV pool %.0f MiB (%d blocks), %d requests without max_tokens: %d ran at "
                    "once (%.1f s to 3 tokens each); reserving prompt + max_tokens would run %d\n",
            ctx, kv_mb, st.kv_blocks_total, N, most, secs, whole);
    printf("  \"sched_long_ctx\": %d,\n  \"sched_long_kv_pool_mb\": %.0f,\n  \"sched_long_requests\": %d,\n"
           "  \"sched_long_running_at_once\": %d,\n  \"sched_long_reserving_would_run\": %d,\n",
           ctx, kv_mb, N, most, whole);
    sl_tokenizer_free(l.tok);
    sl_model_free(l.m);
}

/* ---------------------------------------------------------------- 2. multi-turn chat */

enum { SYS = 1000, USERS = 8, TURNS = 4, UMSG = 24, ANS = 16, NAD = 4 };
enum { CONV = SYS + TURNS * (UMSG + ANS) };

typedef struct convo {
    int32_t t[CONV];
    int n;
} convo;

/* Runs the 8 x 4 conversation; answers[u][turn] get the tokens; ttft in ms. */
static void conversations(const loaded *l, sl_adapter **ads, int cache, const int32_t *sys,
                          int32_t umsg[USERS][TURNS][UMSG], int32_t answers[USERS][TURNS][ANS], double ttft[USERS][TURNS],
                          uint64_t *queries, uint64_t *hits) {
    sl_engine_opts o = {.prefix_cache = cache};
    sl_engine *e = start(l, o);
    static convo cv[USERS];
    for (int u = 0; u < USERS; u++) {
        memcpy(cv[u].t, sys, SYS * sizeof(int32_t));
        cv[u].n = SYS;
    }
    for (int turn = 0; turn < TURNS; turn++)
        for (int u = 0; u < USERS; u++) {
            convo *c = &cv[u];
            memcpy(c->t + c->n, umsg[u][turn], UMSG * sizeof(int32_t));
            c->n += UMSG;
            sl_engine_params p = params(ANS, "default");
            job *j = submit(e, c->t, c->n, ads[u % NAD], &p, 0);
            wait_job(e, j);
            ttft[u][turn] = (j->t_first - j->t_submit) * 1e3;
            memcpy(answers[u][turn], j->toks, ANS * sizeof(int32_t));
            memcpy(c->t + c->n, j->toks, ANS * sizeof(int32_t));
            c->n += ANS;
            job_free(j);
        }
    sl_engine_stats st;
    sl_engine_get_stats(e, &st);
    *queries = st.prefix_queries;
    *hits = st.prefix_hits;
    stop(e);
}

/* Prefix-cache hits of PROMPT on E under adapter A and TENANT (run alone). */
static uint64_t hits_of(sl_engine *e, const int32_t *prompt, int n, sl_adapter *a, const char *tenant) {
    sl_engine_stats s0, s1;
    sl_engine_get_stats(e, &s0);
    sl_engine_params p = params(2, tenant);
    job *j = submit(e, prompt, n, a, &p, 0);
    wait_job(e, j);
    job_free(j);
    sl_engine_get_stats(e, &s1);
    return s1.prefix_hits - s0.prefix_hits;
}

static void multi_turn(const loaded *l, const char *adir) {
    sl_adapter *ads[NAD], *fresh = NULL;
    char err[512], path[4096];
    for (int i = 0; i < NAD; i++) {
        snprintf(path, sizeof path, "%s/%03d", adir, i);
        if (sl_adapter_load_dir(&ads[i], l->m, path, NULL, err, sizeof err) != 0) die(path, err);
    }
    static int32_t sys[SYS], umsg[USERS][TURNS][UMSG], a_on[USERS][TURNS][ANS], a_off[USERS][TURNS][ANS];
    static double t_on[USERS][TURNS], t_off[USERS][TURNS];
    fill(sys, SYS);
    sys[0] = 0;
    for (int u = 0; u < USERS; u++)
        for (int t = 0; t < TURNS; t++) fill(umsg[u][t], UMSG);
    uint64_t q_on, h_on, q_off, h_off;
    conversations(l, ads, 1, sys, umsg, a_on, t_on, &q_on, &h_on);
    conversations(l, ads, 0, sys, umsg, a_off, t_off, &q_off, &h_off);
    int equal = memcmp(a_on, a_off, sizeof a_on) == 0;
    /* Cold: turn 1 with nothing cached, on an engine past its first request (a fresh pool's
     * first blocks also pay their page faults): turn 1 of every user with the cache off. The
     * cache-on turn-1 requests of the first user of each adapter are reported beside it. */
    double cold[USERS], first[NAD], later[USERS * (TURNS - 1)], nocache_later[USERS * (TURNS - 1)];
    int nl = 0;
    for (int u = 0; u < USERS; u++) {
        cold[u] = t_off[u][0];
        if (u < NAD) first[u] = t_on[u][0];
        for (int t = 1; t < TURNS; t++) {
            nocache_later[nl] = t_off[u][t];
            later[nl++] = t_on[u][t];
        }
    }
    double cold50 = p50(cold, USERS), first50 = p50(first, NAD), later50 = p50(later, nl), off50 = p50(nocache_later, nl);
    double rate = q_on ? (double)h_on / (double)q_on : 0;
    /* Isolation: the last turn's prompt of user 0 under a newly loaded version of its
     * adapter, and under another tenant, after a warm-up under the original. */
    snprintf(path, sizeof path, "%s/%03d", adir, 0);
    if (sl_adapter_load_dir(&fresh, l->m, path, NULL, err, sizeof err) != 0) die(path, err);
    sl_engine *e = start(l, (sl_engine_opts){.prefix_cache = 1});
    static int32_t pr[SYS + UMSG];
    memcpy(pr, sys, sizeof sys);
    memcpy(pr + SYS, umsg[0][0], sizeof umsg[0][0]);
    uint64_t warm = hits_of(e, pr, SYS + UMSG, ads[0], "default");
    uint64_t same = hits_of(e, pr, SYS + UMSG, ads[0], "default");
    uint64_t newver = hits_of(e, pr, SYS + UMSG, fresh, "default");
    uint64_t other = hits_of(e, pr, SYS + UMSG, ads[0], "other-tenant");
    stop(e);
    fprintf(stderr, "multi-turn: TTFT p50 cold %.1f ms (cache on, first user of each adapter: %.1f ms), later turns %.1f ms "
                    "(%.3fx; %.1f ms without the cache), hit "
                    "rate %.3f, answers equal without the cache: %s; hits: same again %llu (warm-up %llu), new "
                    "version %llu, other tenant %llu\n",
            cold50, first50, later50, later50 / cold50, off50, rate, equal ? "yes" : "NO", (unsigned long long)same,
            (unsigned long long)warm, (unsigned long long)newver, (unsigned long long)other);
    printf("  \"sched_mt_cold_ttft_p50_ms\": %.3f,\n  \"sched_mt_cold_first_ttft_p50_ms\": %.3f,\n"
           "  \"sched_mt_later_ttft_p50_ms\": %.3f,\n"
           "  \"sched_mt_later_ttft_p50_no_cache_ms\": %.3f,\n  \"ratio_sched_mt_later_over_cold\": %.4f,\n"
           "  \"sched_mt_hit_rate\": %.4f,\n  \"sched_mt_outputs_equal_no_cache\": %d,\n"
           "  \"sched_mt_same_again_hits\": %llu,\n  \"sched_mt_new_version_hits\": %llu,\n"
           "  \"sched_mt_other_tenant_hits\": %llu,\n",
           cold50, first50, later50, off50, later50 / cold50, rate, equal, (unsigned long long)same, (unsigned long long)newver,
           (unsigned long long)other);
    for (int i = 0; i < NAD; i++) sl_adapter_unref(ads[i]);
    sl_adapter_unref(fresh);
}

/* ---------------------------------------------------------------- 3. fairness */

typedef struct flood {
    const char *tenant;
    int idx, prompt, gen, keep_waiting;
} flood;

/* Keeps each flooding tenant's waiting count at keep_waiting; drains ended jobs. */
static void flood_step(sl_engine *e, flood *f, int nf, job **track, int *ntrack) {
    sl_engine_tenant_stats ts[8];
    int nt = sl_engine_get_tenants(e, ts, 8);
    for (int i = 0; i < nf; i++) {
        int waiting = 0;
        for (int k = 0; k < nt && k < 8; k++)
            if (!strcmp(ts[k].name, f[i].tenant)) waiting = ts[k].waiting;
        for (; waiting < f[i].keep_waiting; waiting++) {
            int32_t p[64];
            fill(p, f[i].prompt);
            p[0] = 0;
            sl_engine_params ep = params(f[i].gen, f[i].tenant);
            track[(*ntrack)++] = submit(e, p, f[i].prompt, NULL, &ep, f[i].idx);
        }
    }
    job *ended[64];
    int ne = pump(e, ended, 64);
    for (int i = 0; i < ne; i++)
        for (int k = 0; k < *ntrack; k++)
            if (track[k] == ended[i]) {
                job_free(track[k]);
                track[k] = track[--*ntrack];
                break;
            }
}

static void flood_end(sl_engine *e, job **track, int *ntrack) {
    sl_engine_cancel_all(e);
    while (*ntrack > 0) {
        job *ended[64];
        int ne = pump(e, ended, 64);
        for (int i = 0; i < ne; i++)
            for (int k = 0; k < *ntrack; k++)
                if (track[k] == ended[i]) {
                    job_free(track[k]);
                    track[k] = track[--*ntrack];
                    break;
                }
    }
}

static void fairness(const loaded *l, double fair_s) {
    enum { NB = 15, BP = 256 };
    static job *track[4096];
    int ntrack = 0;
    sl_engine *e = start(l, (sl_engine_opts){0});
    int32_t bp[BP];
    double idle[NB], loaded_[NB];
    for (int i = 0; i < NB; i++) {
        fill(bp, BP);
        bp[0] = 0;
        sl_engine_params p = params(4, "b");
        job *j = submit(e, bp, BP, NULL, &p, 1);
        wait_job(e, j);
        idle[i] = (j->t_first - j->t_submit) * 1e3;
        job_free(j);
    }
    flood fa = {.tenant = "a", .idx = 0, .prompt = 32, .gen = 64, .keep_waiting = 64};
    double t0 = now();
    while (now() - t0 < 1.0) flood_step(e, &fa, 1, track, &ntrack); /* A's 64 slots fill up */
    for (int i = 0; i < NB; i++) {
        fill(bp, BP);
        bp[0] = 0;
        sl_engine_params p = params(4, "b");
        job *j = submit(e, bp, BP, NULL, &p, 1);
        while (!j->done) flood_step(e, &fa, 1, track, &ntrack);
        loaded_[i] = (j->t_first - j->t_submit) * 1e3;
        job_free(j);
    }
    sl_engine_stats st;
    sl_engine_get_stats(e, &st);
    flood_end(e, track, &ntrack);
    stop(e);
    double i50 = p50(idle, NB), l50 = p50(loaded_, NB);

    /* Weights 3:1, both flooding. */
    e = start(l, (sl_engine_opts){0});
    flood fb[2] = {{.tenant = "a", .idx = 0, .prompt = 32, .gen = 64, .keep_waiting = 64},
                   {.tenant = "b", .idx = 1, .prompt = 32, .gen = 64, .keep_waiting = 64}};
    /* The weight comes with each submit (as the API passes the keys file's). */
    int32_t p1[2] = {0, 5};
    sl_engine_params wa = params(1, "a"), wb = params(1, "b");
    wa.weight = 3;
    wb.weight = 1;
    job *ja = submit(e, p1, 2, NULL, &wa, 0), *jb = submit(e, p1, 2, NULL, &wb, 1);
    wait_job(e, ja);
    wait_job(e, jb);
    job_free(ja);
    job_free(jb);
    t0 = now();
    uint64_t tok0[2] = {0, 0}, tok1[2] = {0, 0};
    int marked = 0;
    while (now() - t0 < 2.0 + fair_s) {
        flood_step(e, fb, 2, track, &ntrack);
        if (!marked && now() - t0 >= 2.0) {
            sl_engine_tenant_stats ts[8];
            int nt = sl_engine_get_tenants(e, ts, 8);
            for (int k = 0; k < nt && k < 8; k++) tok0[ts[k].name[0] == 'b'] = ts[k].tokens;
            marked = 1;
        }
    }
    sl_engine_tenant_stats ts[8];
    int nt = sl_engine_get_tenants(e, ts, 8);
    int run_a = 0, run_b = 0;
    for (int k = 0; k < nt && k < 8; k++) {
        tok1[ts[k].name[0] == 'b'] = ts[k].tokens;
        if (ts[k].name[0] == 'a') run_a = ts[k].running;
        else run_b = ts[k].running;
    }
    flood_end(e, track, &ntrack);
    stop(e);
    double ta = (double)(tok1[0] - tok0[0]), tb = (double)(tok1[1] - tok0[1]);
    double ratio = tb > 0 ? ta / tb : 0;
    fprintf(stderr, "fairness: B's TTFT p50 idle %.1f ms, with A keeping 64 waiting %.1f ms (%.2fx; %llu preemptions); "
                    "weights 3:1 over %.0f s: tokens %.0f : %.0f = %.3f (running at the end %d : %d)\n",
            i50, l50, l50 / i50, (unsigned long long)st.preemptions, fair_s, ta, tb, ratio, run_a, run_b);
    printf("  \"sched_fair_b_idle_ttft_p50_ms\": %.3f,\n  \"sched_fair_b_flooded_ttft_p50_ms\": %.3f,\n"
           "  \"ratio_sched_fair_b_flooded_over_idle\": %.4f,\n  \"sched_fair_w31_tokens_a\": %.0f,\n"
           "  \"sched_fair_w31_tokens_b\": %.0f,\n  \"sched_fair_w31_ratio\": %.4f,\n",
           i50, l50, l50 / i50, ta, tb, ratio);
}

/* ---------------------------------------------------------------- 4. memory pressure */

static void pressure(const loaded *l) {
    enum { N = 16, G = 40 };
    static int32_t pr[N][64];
    int len[N];
    sl_engine_params ps[N];
    seed_state = 0x853c49e6748fea9bull; /* the same streams whatever ran before */
    for (int i = 0; i < N; i++) {
        len[i] = 20 + (i * 7) % 40;
        fill(pr[i], len[i]);
        pr[i][0] = 0;
        ps[i] = params(G, "default");
        if (i % 2) {
            ps[i].sample.temperature = 0.8f;
            ps[i].sample.seed = (uint64_t)(7 + i);
        }
    }
    static int32_t solo[N][64];
    sl_engine *e = start(l, (sl_engine_opts){0});
    for (int i = 0; i < N; i++) {
        job *j = submit(e, pr[i], len[i], NULL, &ps[i], 0);
        wait_job(e, j);
        memcpy(solo[i], j->toks, sizeof solo[i]);
        job_free(j);
    }
    stop(e);
    e = start(l, (sl_engine_opts){.kv_blocks = 4 * 7, .prefix_cache = 1});
    job *jobs[N];
    for (int i = 0; i < N; i++) jobs[i] = submit(e, pr[i], len[i], NULL, &ps[i], 0);
    int equal = 1;
    for (int i = 0; i < N; i++) {
        wait_job(e, jobs[i]);
        int k = 0;
        while (k < G && k < jobs[i]->n && jobs[i]->toks[k] == solo[i][k]) k++;
        if (k < G)
            fprintf(stderr, "memory pressure: stream %d (%d prompt tokens) differs from its solo run at token %d (%d tokens, %s)\n",
                    i, len[i], k, jobs[i]->n, sl_finish_name(jobs[i]->fin));
        equal &= k == G;
        job_free(jobs[i]);
    }
    sl_engine_stats st;
    sl_engine_get_stats(e, &st);
    stop(e);
    fprintf(stderr, "memory pressure: 16 streams on 28 blocks: %llu preemptions, every stream equals its solo run: %s\n",
            (unsigned long long)st.preemptions, equal ? "yes" : "NO");
    printf("  \"sched_pressure_preemptions\": %llu,\n  \"sched_pressure_outputs_equal_solo\": %d,\n",
           (unsigned long long)st.preemptions, equal);
}

int main(int argc, char **argv) {
    const char *long_model = NULL, *model = NULL, *adapters = NULL, *fair_model = NULL;
    double fair_s = 8;
    const char *parts = "long,pressure,multiturn,fair";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--long-model")) long_model = argv[i + 1];
        else if (!strcmp(argv[i], "--model")) model = argv[i + 1];
        else if (!strcmp(argv[i], "--adapters")) adapters = argv[i + 1];
        else if (!strcmp(argv[i], "--fair-model")) fair_model = argv[i + 1];
        else if (!strcmp(argv[i], "--parts")) parts = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--fair-seconds")) fair_s = atof(argv[i + 1]);
        else die("usage", "bench_sched [--long-model DIR] --model DIR --adapters DIR [--fair-model DIR] [--threads N] [--fair-seconds S]");
    }
    if (!model || !adapters) die("usage", "bench_sched [--long-model DIR] --model DIR --adapters DIR [--fair-model DIR] [--threads N] [--fair-seconds S]");
    printf("{\n");
    if (long_model && strstr(parts, "long")) long_context(long_model);
    loaded l = load(model);
    if (strstr(parts, "pressure")) pressure(&l);
    if (strstr(parts, "multiturn")) multi_turn(&l, adapters);
    if (!strstr(parts, "fair")) {
    } else if (fair_model) {
        loaded f = load(fair_model);
        fairness(&f, fair_s);
        sl_tokenizer_free(f.tok);
        sl_model_free(f.m);
    } else {
        fairness(&l, fair_s);
    }
    printf("  \"sched_bench\": 1\n}\n");
    sl_tokenizer_free(l.tok);
    sl_model_free(l.m);
    return 0;
}
