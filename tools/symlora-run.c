/* symlora-run — offline generation for debugging: no HTTP, no scheduler.
 *   symlora-run --model DIR [--adapter DIR] --prompt-ids 1,2,3 [--max-tokens N]
 *               [--temperature T] [--top-k K] [--top-p P] [--seed S] [--logits]
 * Prints the generated ids (and with --logits the argmax and max logit of every step). */
#include "adapter.h"
#include "error.h"
#include "forward.h"
#include "kvcache.h"
#include "model.h"
#include "sampler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void log_stderr(void *ctx, int level, const char *msg) {
    (void)ctx;
    fprintf(stderr, "%s: %s\n", level ? "warning" : "info", msg);
}

static void usage(void) {
    fprintf(stderr, "usage: symlora-run --model DIR [--adapter DIR] --prompt-ids 1,2,3 [--max-tokens N]\n"
                    "                   [--temperature T] [--top-k K] [--top-p P] [--seed S]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *model_dir = NULL, *adapter_dir = NULL, *ids_arg = NULL;
    int max_tokens = 16;
    sl_sample_params sp = {.temperature = 0, .top_p = 1, .seed = 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (!strcmp(a, "--model")) model_dir = v;
        else if (!strcmp(a, "--adapter")) adapter_dir = v;
        else if (!strcmp(a, "--prompt-ids")) ids_arg = v;
        else if (!strcmp(a, "--max-tokens")) max_tokens = atoi(v);
        else if (!strcmp(a, "--temperature")) sp.temperature = strtof(v, NULL);
        else if (!strcmp(a, "--top-k")) sp.top_k = atoi(v);
        else if (!strcmp(a, "--top-p")) sp.top_p = strtof(v, NULL);
        else if (!strcmp(a, "--seed")) sp.seed = strtoull(v, NULL, 10);
        else usage();
        i++;
    }
    if (!model_dir || !ids_arg || max_tokens < 1) usage();
    int32_t *prompt = NULL;
    int n = 0;
    for (const char *p = ids_arg; *p;) {
        char *end;
        long id = strtol(p, &end, 10);
        if (end == p) usage();
        int32_t *np = realloc(prompt, (size_t)(n + 1) * sizeof *np);
        if (!np) return 1;
        prompt = np;
        prompt[n++] = (int32_t)id;
        p = *end == ',' ? end + 1 : end;
    }
    char err[1024];
    sl_model *m = NULL;
    sl_model_opts mo = {.log = log_stderr};
    if (sl_model_load(&m, model_dir, &mo, err, sizeof err)) { fprintf(stderr, "error: %s\n", err); return 1; }
    const sl_model_config *c = sl_model_get_config(m);
    sl_adapter *ad = NULL;
    if (adapter_dir && sl_adapter_load_dir(&ad, m, adapter_dir, NULL, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        return 1;
    }
    int ctx = n + max_tokens;
    sl_kv_pool *kv = NULL;
    sl_forward *f = NULL;
    if (sl_kv_pool_init(&kv, m, (ctx + 15) / 16, 16, SL_WTYPE_F32, err, sizeof err) ||
        sl_forward_init(&f, m, n, 1, 1, ctx, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        return 1;
    }
    sl_kv_seq ks = {0};
    sl_kv_seq_reserve(kv, &ks, ctx);
    float *logits = malloc((size_t)c->vocab * sizeof(float)), *scratch = malloc(2 * (size_t)c->vocab * sizeof(float));
    sl_sampler smp;
    sl_sampler_init(&smp, &sp);
    sl_batch_seq bs = {.kv = &ks, .tokens = prompt, .n_tokens = n, .adapter = ad, .logits = SL_LOGITS_LAST};
    int32_t tok;
    for (int i = 0; i < max_tokens; i++) {
        if (sl_forward_run(f, kv, &bs, 1, logits, err, sizeof err)) { fprintf(stderr, "error: %s\n", err); return 1; }
        tok = sl_sampler_sample(&smp, logits, c->vocab, scratch, NULL);
        printf("%s%d", i ? "," : "", tok);
        fflush(stdout);
        bs.tokens = &tok;
        bs.n_tokens = 1;
    }
    printf("\n");
    free(logits);
    free(scratch);
    free(prompt);
    sl_kv_seq_release(kv, &ks);
    sl_forward_free(f);
    sl_kv_pool_free(kv);
    sl_adapter_unref(ad);
    sl_model_free(m);
    return 0;
}
