/* routes.c — the route table and the small handlers (health, models, tokenize, metrics). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "registry.h"
#include "tokenizer.h"

const sl__route sl__routes[] = {
    {.method = "POST", .path = "/v1/completions", .handler = sl__handle_completions, .body = 1, .name = "completions"},
    {.method = "POST", .path = "/v1/chat/completions", .handler = sl__handle_chat, .body = 1, .name = "chat_completions"},
    {.method = "GET", .path = "/v1/models", .handler = sl__handle_models, .name = "models"},
    {.method = "POST", .path = "/tokenize", .handler = sl__handle_tokenize, .body = 1, .name = "tokenize"},
    {.method = "POST", .path = "/detokenize", .handler = sl__handle_detokenize, .body = 1, .name = "detokenize"},
    {.method = "POST", .path = "/apply-template", .handler = sl__handle_apply_template, .body = 1, .name = "apply_template"},
    {.method = "GET", .path = "/v1/adapters", .handler = sl__handle_adapters_list, .name = "adapters_list"},
    {.method = "GET", .path = "/v1/adapters/", .prefix = 1, .handler = sl__handle_adapter_get, .name = "adapter_get"},
    {.method = "PUT", .path = "/v1/adapters/", .prefix = 1, .begin = sl__upload_begin, .data = sl__upload_data,
     .handler = sl__upload_end, .name = "adapter_put"},
    {.method = "DELETE", .path = "/v1/adapters/", .prefix = 1, .handler = sl__handle_adapter_delete, .name = "adapter_delete"},
    {.method = "POST", .path = "/v1/load_lora_adapter", .handler = sl__handle_load_lora, .body = 1, .name = "load_lora_adapter"},
    {.method = "POST", .path = "/v1/unload_lora_adapter", .handler = sl__handle_unload_lora, .body = 1,
     .name = "unload_lora_adapter"},
    /* Open without a key: liveness probes and scrapers (see api.h on what /metrics holds). */
    {.method = "GET", .path = "/health", .handler = sl__handle_health, .open = 1, .name = "health"},
    {.method = "GET", .path = "/metrics", .handler = sl__handle_metrics, .open = 1, .name = "metrics"},
};
const int sl__n_routes = (int)(sizeof sl__routes / sizeof sl__routes[0]);

enum MHD_Result sl__handle_health(sl__req *q) {
    json_t *j = json_object();
    json_object_set_new(j, "status", json_string("ok"));
    return sl__reply_json(q, 200, j);
}

/* ---------------------------------------------------------------- /v1/models */

static json_t *model_obj(const char *id, int64_t created, const char *root, const char *parent, int max_len) {
    json_t *m = json_object();
    json_object_set_new(m, "id", json_string(id));
    json_object_set_new(m, "object", json_string("model"));
    json_object_set_new(m, "created", json_integer(created));
    json_object_set_new(m, "owned_by", json_string("symlora"));
    json_object_set_new(m, "root", json_string(root));
    json_object_set_new(m, "parent", parent ? json_string(parent) : json_null());
    json_object_set_new(m, "max_model_len", json_integer(max_len));
    return m;
}

typedef struct list_ctx {
    json_t *data;
    const char *base;
    int max_len;
    int64_t started;
} list_ctx;

static void list_one(void *arg, const char *name, int64_t created) {
    list_ctx *c = arg;
    json_array_append_new(c->data, model_obj(name, created ? created : c->started, name, c->base, c->max_len));
}

enum MHD_Result sl__handle_models(sl__req *q) {
    sl_api *a = q->api;
    int max_len = sl_engine_max_ctx(a->cfg.engine);
    list_ctx c = {.data = json_array(), .base = a->cfg.model_id, .max_len = max_len, .started = (int64_t)a->started};
    /* root: the model's id, never its directory (a server path is nothing a client should see). */
    json_array_append_new(c.data, model_obj(a->cfg.model_id, (int64_t)a->started, a->cfg.model_id, NULL, max_len));
    /* The caller's own adapters, then the pinned ones (as vLLM: parent = the base model). */
    if (a->cfg.adapters.list) a->cfg.adapters.list(a->cfg.adapters.ctx, q->tenant, list_one, &c);
    json_t *j = json_object();
    json_object_set_new(j, "object", json_string("list"));
    json_object_set_new(j, "data", c.data);
    return sl__reply_json(q, 200, j);
}

/* ---------------------------------------------------------------- /tokenize, /detokenize, /apply-template */

/* llama.cpp's server: {"messages", "tools"?, "add_generation_prompt"?, "chat_template_kwargs"?}
 * -> {"prompt": the rendered chat} */
enum MHD_Result sl__handle_apply_template(sl__req *q) {
    enum MHD_Result ret = MHD_NO;
    json_t *body = sl__body_json(q, &ret);
    if (!body) return ret;
    char *text;
    size_t len;
    sl__err e;
    if (sl__chat_prompt(q->api->cfg.chat, body, &text, &len, &e) < 0) {
        ret = sl__reply_err(q, &e);
    } else {
        json_t *j = json_object();
        json_object_set_new(j, "prompt", json_stringn(text, len));
        free(text);
        ret = sl__reply_json(q, 200, j);
    }
    json_decref(body);
    return ret;
}

enum MHD_Result sl__handle_tokenize(sl__req *q) {
    sl_api *a = q->api;
    enum MHD_Result ret = MHD_NO;
    json_t *body = sl__body_json(q, &ret);
    if (!body) return ret;
    const char *prompt = NULL;
    char *rendered = NULL;
    size_t plen = 0;
    int add_special = -1;
    if (sl__json_str(q, body, "prompt", &prompt, &ret) < 0) goto out;
    if (sl__json_bool(q, body, "add_special_tokens", &add_special, &ret) < 0) goto out;
    if (prompt) {
        plen = json_string_length(json_object_get(body, "prompt"));
        if (add_special < 0) add_special = 1;
    } else if (json_object_get(body, "messages")) {
        sl__err e;
        if (sl__chat_prompt(a->cfg.chat, body, &rendered, &plen, &e) < 0) {
            ret = sl__reply_err(q, &e);
            goto out;
        }
        prompt = rendered;
        if (add_special < 0) add_special = 0; /* the template writes BOS itself */
    } else {
        ret = sl__reply_error(q, 400, "missing_field", "prompt", "'prompt' (a string) or 'messages' is required");
        goto out;
    }
    int32_t *ids = NULL;
    size_t n_ids = 0;
    char err[256];
    int rc = sl_tokenizer_encode(a->cfg.tok, prompt, plen, add_special, &ids, &n_ids, err, sizeof err);
    if (rc) {
        ret = sl__reply_error(q, 400, "invalid_value", "prompt", "cannot tokenize: %s", err);
        goto out;
    }
    json_t *toks = json_array();
    for (size_t i = 0; i < n_ids; i++) json_array_append_new(toks, json_integer(ids[i]));
    free(ids);
    json_t *j = json_object();
    json_object_set_new(j, "count", json_integer((json_int_t)n_ids));
    json_object_set_new(j, "max_model_len", json_integer(sl_engine_max_ctx(a->cfg.engine)));
    json_object_set_new(j, "tokens", toks);
    ret = sl__reply_json(q, 200, j);
out:
    free(rendered);
    json_decref(body);
    return ret;
}

enum MHD_Result sl__handle_detokenize(sl__req *q) {
    sl_api *a = q->api;
    enum MHD_Result ret = MHD_NO;
    json_t *body = sl__body_json(q, &ret);
    if (!body) return ret;
    json_t *arr = json_object_get(body, "tokens");
    if (!json_is_array(arr)) {
        ret = sl__reply_error(q, 400, arr ? "invalid_type" : "missing_field", "tokens", "'tokens' must be an array of token ids");
        json_decref(body);
        return ret;
    }
    size_t n = json_array_size(arr);
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    int32_t vocab = sl_tokenizer_vocab_size(a->cfg.tok);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= vocab) {
            ret = sl__reply_error(q, 400, "invalid_value", "tokens", "tokens[%zu] is not a token id (0..%d)", i, vocab - 1);
            free(ids);
            json_decref(body);
            return ret;
        }
        ids[i] = (int32_t)json_integer_value(v);
    }
    char *text = NULL;
    size_t len = 0;
    char err[256];
    int rc = sl_tokenizer_decode(a->cfg.tok, ids, n, 0, &text, &len, err, sizeof err);
    free(ids);
    if (rc) {
        ret = sl__reply_error(q, 400, "invalid_value", "tokens", "cannot detokenize: %s", err);
    } else {
        json_t *j = json_object();
        json_object_set_new(j, "prompt", json_stringn(text, len));
        ret = sl__reply_json(q, 200, j);
    }
    free(text);
    json_decref(body);
    return ret;
}

/* ---------------------------------------------------------------- /metrics */

static void hist(sl_buf *b, const char *name, const char *help, const sl_engine_hist *h, const double *bounds) {
    sl_buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < SL_ENGINE_HIST_N; i++) {
        cum += h->buckets[i];
        sl_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
    }
    cum += h->buckets[SL_ENGINE_HIST_N];
    sl_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name, (unsigned long long)cum, name,
                   h->sum, name, (unsigned long long)h->count);
}

static void gauge(sl_buf *b, const char *name, const char *help, const char *type, double v) {
    sl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void label_value(sl_buf *b, const char *v) {
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') sl_buf_printf(b, "\\%c", *v);
        else if (*v == '\n') sl_buf_printf(b, "\\n");
        else sl_buf_put(b, v, 1);
    }
}

/* The scheduler's share of /metrics: preemptions, the prefix cache, the per-tenant series
 * (names: only with --metrics-names or to an admin key), and the aliases of vLLM's metrics
 * that the Gateway API Inference Extension's model-server protocol reads. */
static void sched_metrics(sl__req *q, sl_buf *b, const sl_engine_stats *st) {
    sl_api *a = q->api;
    int names = a->cfg.metrics_names || sl__req_admin_key(q);
    double usage = st->kv_blocks_total ? (double)st->kv_blocks_used / st->kv_blocks_total : 0.0;
    gauge(b, "symlora_kv_blocks_cached", "Free KV blocks that still hold cached prompt prefixes.", "gauge",
          st->kv_blocks_cached);
    gauge(b, "symlora_preemptions_total", "Sequences preempted for KV memory or a fair share (recomputed later).",
          "counter", (double)st->preemptions);
    gauge(b, "symlora_prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.", "counter",
          (double)st->prefix_queries);
    gauge(b, "symlora_prefix_cache_hits_total", "Prompt tokens whose KV came from the prefix cache.", "counter",
          (double)st->prefix_hits);
    gauge(b, "vllm:num_requests_running", "Alias of symlora_num_requests_running (vLLM).", "gauge", st->running);
    gauge(b, "vllm:num_requests_waiting", "Alias of symlora_num_requests_waiting (vLLM).", "gauge", st->waiting);
    gauge(b, "vllm:kv_cache_usage_perc", "KV cache usage, 0..1 (vLLM).", "gauge", usage);
    gauge(b, "vllm:gpu_cache_usage_perc", "Alias of vllm:kv_cache_usage_perc (older vLLM, older endpoint pickers).", "gauge",
          usage);
    gauge(b, "vllm:num_preemptions_total", "Alias of symlora_preemptions_total (vLLM).", "counter", (double)st->preemptions);
    gauge(b, "vllm:prefix_cache_queries_total", "Alias of symlora_prefix_cache_queries_total (vLLM).", "counter",
          (double)st->prefix_queries);
    gauge(b, "vllm:prefix_cache_hits_total", "Alias of symlora_prefix_cache_hits_total (vLLM).", "counter",
          (double)st->prefix_hits);
    char run[1024] = "", wait[1024] = "";
    if (names) sl_engine_get_adapter_labels(a->cfg.engine, run, sizeof run, wait, sizeof wait);
    sl_buf_printf(b, "# HELP vllm:lora_requests_info Adapters of the running and waiting requests (vLLM; names only "
                     "with --metrics-names or to an admin key).\n# TYPE vllm:lora_requests_info gauge\n"
                     "vllm:lora_requests_info{running_lora_adapters=\"");
    label_value(b, run);
    sl_buf_printf(b, "\",waiting_lora_adapters=\"");
    label_value(b, wait);
    sl_buf_printf(b, "\",max_lora=\"%d\"} %.3f\n", a->cfg.max_lora, (double)time(NULL));
    if (!names) return;
    enum { MAXT = 256 };
    sl_engine_tenant_stats *ts = malloc(MAXT * sizeof *ts);
    if (!ts) return;
    int n = sl_engine_get_tenants(a->cfg.engine, ts, MAXT);
    if (n > MAXT) n = MAXT;
    static const struct { const char *name, *help, *type; } fam[] = {
        {"symlora_tenant_requests_running", "A tenant's sequences running.", "gauge"},
        {"symlora_tenant_requests_waiting", "A tenant's requests waiting.", "gauge"},
        {"symlora_tenant_tokens_total", "Prompt and generated tokens computed for a tenant.", "counter"},
        {"symlora_tenant_preemptions_total", "A tenant's sequences preempted.", "counter"},
        {"symlora_tenant_rejected_total", "A tenant's requests refused by its limits (429).", "counter"},
        {"symlora_tenant_weight", "A tenant's fair-share weight.", "gauge"},
    };
    for (int f = 0; f < 6; f++) {
        sl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", fam[f].name, fam[f].help, fam[f].name, fam[f].type);
        for (int i = 0; i < n; i++) {
            double v = f == 0 ? ts[i].running : f == 1 ? ts[i].waiting : f == 2 ? (double)ts[i].tokens
                     : f == 3 ? (double)ts[i].preemptions : f == 4 ? (double)ts[i].rejected : ts[i].weight;
            sl_buf_printf(b, "%s{tenant=\"", fam[f].name);
            label_value(b, ts[i].name);
            sl_buf_printf(b, "\"} %.17g\n", v);
        }
    }
    free(ts);
}

/* Per-tenant usage (admin only): each tenant of the keys file, or "default" without keys. */
static void tenant_metrics(sl_api *a, sl_buf *b) {
    static const char *const help[][2] = {
        {"symlora_tenant_store_bytes", "Bytes of a tenant's stored adapters (current versions)."},
        {"symlora_tenant_store_bytes_limit", "The tenant's max_store_bytes (0: no limit)."},
        {"symlora_tenant_adapters", "A tenant's stored adapters."},
        {"symlora_tenant_adapters_limit", "The tenant's max_adapters (0: no limit)."},
        {"symlora_tenant_uploads_active", "A tenant's uploads in progress."},
    };
    int n = a->keys ? sl_api_keys_tenant_count(a->keys) : 1;
    for (int m = 0; m < 5; m++) {
        sl_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", help[m][0], help[m][1], help[m][0]);
        for (int i = 0; i < n; i++) {
            const char *t = a->keys ? sl_api_keys_tenant_name(a->keys, i) : "default";
            uint64_t bytes;
            int count;
            double v = 0;
            if (m == 0 || m == 2) sl__tenant_usage(a, t, &bytes, &count);
            switch (m) {
            case 0: v = (double)bytes; break;
            case 1: v = (double)sl__tenant_limit(a, t, SL_QUOTA_STORE_BYTES); break;
            case 2: v = count; break;
            case 3: v = (double)sl__tenant_limit(a, t, SL_QUOTA_ADAPTERS); break;
            default: v = sl__tenant_uploads(a, t); break;
            }
            sl_buf_printf(b, "%s{tenant=\"", help[m][0]);
            label_value(b, t);
            sl_buf_printf(b, "\"} %.0f\n", v);
        }
    }
}

enum MHD_Result sl__handle_metrics(sl__req *q) {
    sl_api *a = q->api;
    sl_engine_stats st;
    sl_engine_get_stats(a->cfg.engine, &st);
    sl_buf b = {0};
    sl_buf_printf(&b, "# HELP symlora_requests_total HTTP requests by route and status.\n"
                       "# TYPE symlora_requests_total counter\n");
    for (int i = 0; i < a->n_counts; i++) {
        int ri = a->counts[i].route;
        sl_buf_printf(&b, "symlora_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                       ri >= 0 ? sl__routes[ri].name : "other", a->counts[i].status, (unsigned long long)a->counts[i].n);
    }
    gauge(&b, "symlora_http_requests_active", "HTTP requests in progress.", "gauge", a->n_active);
    gauge(&b, "symlora_http_connections", "Open HTTP connections.", "gauge", a->n_conns);
    gauge(&b, "symlora_http_request_timeouts_total",
          "Connections closed for not sending a complete request in time (--request-timeout, idle --connection-timeout).",
          "counter", (double)a->request_timeouts);
    gauge(&b, "symlora_client_disconnects_total", "Generation requests whose client went away before the end.",
          "counter", (double)a->client_gone);
    gauge(&b, "symlora_num_requests_running", "Sequences in the running batch.", "gauge", st.running);
    gauge(&b, "symlora_num_requests_waiting", "Requests in the wait queue.", "gauge", st.waiting);
    gauge(&b, "symlora_kv_blocks_used", "KV cache blocks in use.", "gauge", st.kv_blocks_used);
    gauge(&b, "symlora_kv_blocks_total", "KV cache blocks in the pool.", "gauge", st.kv_blocks_total);
    gauge(&b, "symlora_kv_cache_usage_ratio", "Fraction of KV blocks in use.", "gauge",
          st.kv_blocks_total ? (double)st.kv_blocks_used / st.kv_blocks_total : 0.0);
    gauge(&b, "symlora_batch_size", "Sequences in the most recent engine step.", "gauge", st.last_batch_seqs);
    gauge(&b, "symlora_batch_tokens", "Tokens in the most recent engine step.", "gauge", st.last_batch_tokens);
    gauge(&b, "symlora_engine_steps_total", "Engine steps (forward passes).", "counter", (double)st.steps);
    gauge(&b, "symlora_prompt_tokens_total", "Prompt tokens prefilled.", "counter", (double)st.prompt_tokens);
    gauge(&b, "symlora_generation_tokens_total", "Tokens generated.", "counter", (double)st.generation_tokens);
    sl_buf_printf(&b, "# HELP symlora_requests_finished_total Sequences ended, by reason.\n"
                       "# TYPE symlora_requests_finished_total counter\n");
    for (int f = SL_FINISH_STOP; f <= SL_FINISH_ERROR; f++)
        sl_buf_printf(&b, "symlora_requests_finished_total{reason=\"%s\"} %llu\n", sl_finish_name((sl_finish)f),
                       (unsigned long long)st.finished[f]);
    hist(&b, "symlora_time_to_first_token_seconds", "Time from submission to the first generated token.", &st.ttft,
         sl_engine_hist_bounds);
    hist(&b, "symlora_time_per_output_token_seconds", "Time between consecutive tokens of a sequence.", &st.tpot,
         sl_engine_hist_bounds);
    hist(&b, "symlora_batch_sequences", "Sequences per engine step.", &st.batch_seqs, sl_engine_batch_bounds);
    sched_metrics(q, &b, &st);
    if (a->cfg.registry) {
        sl_registry_stats rs;
        sl_registry_get_stats(a->cfg.registry, &rs);
        gauge(&b, "symlora_adapters_resident", "Adapters loaded in memory (pinned ones included).", "gauge", (double)rs.resident);
        gauge(&b, "symlora_adapter_resident_bytes", "Bytes of adapter tensors in memory.", "gauge", (double)rs.resident_bytes);
        gauge(&b, "symlora_adapter_cache_budget_bytes", "The adapter cache budget (--adapter-cache-bytes; 0: unlimited).",
              "gauge", (double)rs.budget_bytes);
        gauge(&b, "symlora_adapter_cache_hits_total", "Adapter lookups served from memory.", "counter", (double)rs.hits);
        gauge(&b, "symlora_adapter_cache_misses_total", "Adapter lookups that had to load from the store.", "counter",
              (double)rs.misses);
        gauge(&b, "symlora_adapter_evictions_total", "Adapters evicted to stay within the cache budget.", "counter",
              (double)rs.evictions);
        gauge(&b, "symlora_adapter_load_failures_total", "Adapter loads that failed (unreadable or corrupt versions).",
              "counter", (double)rs.load_failures);
        const char *ln = "symlora_adapter_load_seconds";
        sl_buf_printf(&b, "# HELP %s Time to load an adapter from the store (read, sha256, validate).\n# TYPE %s histogram\n",
                        ln, ln);
        uint64_t cum = 0;
        for (int i = 0; i < SL_REGISTRY_LOAD_BUCKETS; i++) {
            cum += rs.load_hist[i];
            if (i == SL_REGISTRY_LOAD_BUCKETS - 1) sl_buf_printf(&b, "%s_bucket{le=\"+Inf\"} %llu\n", ln, (unsigned long long)cum);
            else sl_buf_printf(&b, "%s_bucket{le=\"%g\"} %llu\n", ln, sl_registry_load_bucket_ms[i] / 1000.0, (unsigned long long)cum);
        }
        sl_buf_printf(&b, "%s_sum %.6f\n%s_count %llu\n", ln, rs.load_ms_sum / 1000.0, ln, (unsigned long long)rs.loads);
    }
    gauge(&b, "symlora_auth_failures_total", "Requests refused with 401 (no key, wrong key).", "counter",
          (double)a->auth_failures);
    gauge(&b, "symlora_uploads_active", "Adapter uploads in progress.", "gauge", a->uploads_active);
    gauge(&b, "symlora_uploads_refused_total", "Uploads refused for want of an upload slot (429) or over a quota (413).",
          "counter", (double)a->uploads_refused);
    gauge(&b, "symlora_uploads_too_slow_total", "Uploads cut for sending below --upload-min-rate.", "counter",
          (double)a->uploads_too_slow);
    gauge(&b, "symlora_http_bad_framing_total",
          "Requests refused for their framing: control bytes in headers, duplicate Authorization or Content-Length, "
          "Content-Length with Transfer-Encoding, a long query string.", "counter", (double)a->bad_framing);
    gauge(&b, "symlora_http_reserve_refused_total",
          "Connections refused the last --reserved-connections (an upload, or an address holding many).", "counter",
          (double)a->reserve_refused);
    /* The shared rule for per-tenant series (as sched_metrics): only to an admin key, or with
     * the operator's --metrics-names, so an anonymous scrape shows no tenant's name or usage. */
    if (a->cfg.metrics_names || sl__req_admin_key(q)) tenant_metrics(a, &b);
    enum MHD_Result ret = sl__reply(q, 200, "text/plain; version=0.0.4; charset=utf-8", b.p ? b.p : "", b.len);
    sl_buf_free(&b);
    return ret;
}
