/* generate.c — POST /v1/completions and /v1/chat/completions (OpenAI), streaming or not. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter.h"
#include "error.h"
#include "internal.h"
#include "tokenizer.h"

struct sl__gen {
    int chat;
    int stream, include_usage;
    int logprobs;      /* -1: none; else alternatives per token */
    int tokens_as_ids; /* vLLM's return_tokens_as_token_ids */
    char id[48];
    json_int_t created;
    char *model;       /* the name the client asked for (owned) */
    int n_prompt, n_gen;
    sl_finish finish;
    int sent_first;    /* chat stream: the role chunk went out */
    /* Non-streaming: accumulated until the end. */
    sl__abuf text;
    json_t *lp;        /* completions: {tokens, token_logprobs, top_logprobs, text_offset}; chat: [content...] */
    size_t text_offset;
};

void sl__gen_free(sl__gen *g) {
    if (!g) return;
    free(g->model);
    sl__abuf_free(&g->text);
    json_decref(g->lp);
    free(g);
}

void sl__gen_summary(const sl__gen *g, const char **model, int *pt, int *ct, const char **finish) {
    *model = g->model ? g->model : "";
    *pt = g->n_prompt;
    *ct = g->n_gen;
    *finish = sl_finish_name(g->finish);
}

/* ---------------------------------------------------------------- JSON text */

/* Length of the valid UTF-8 sequence at S (N bytes left), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t l;
    unsigned min;
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0) l = 2, min = 0x80;
    else if ((c & 0xf0) == 0xe0) l = 3, min = 0x800;
    else if ((c & 0xf8) == 0xf0) l = 4, min = 0x10000;
    else return 0;
    if (l > n) return 0;
    unsigned cp = c & (0x7f >> l);
    for (size_t i = 1; i < l; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return l;
}

/* A JSON string of N bytes; invalid UTF-8 bytes become U+FFFD (as a lossy decode would). */
static json_t *jstr(const char *s, size_t n) {
    json_t *j = json_stringn(s, n);
    if (j) return j;
    sl__abuf b = {0};
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len((const unsigned char *)s + i, n - i);
        if (l) sl__abuf_put(&b, s + i, l), i += l;
        else sl__abuf_put(&b, "\xef\xbf\xbd", 3), i++;
    }
    j = json_stringn(b.p ? b.p : "", b.len);
    sl__abuf_free(&b);
    return j ? j : json_string("");
}

/* The text of one token for logprobs (malloc'ed). */
static char *token_text(sl_api *a, const sl__gen *g, int32_t id, size_t *len) {
    char *s = NULL;
    if (g->tokens_as_ids) {
        s = malloc(32);
        if (s) *len = (size_t)snprintf(s, 32, "token_id:%d", id);
        return s;
    }
    if (sl_tokenizer_decode(a->cfg.tok, &id, 1, 0, &s, len, NULL, 0) != 0) {
        s = strdup("");
        *len = 0;
    }
    return s;
}

static json_t *bytes_array(const char *s, size_t n) {
    json_t *b = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(b, json_integer((unsigned char)s[i]));
    return b;
}

/* Appends the logprobs of TOKS to LP (created on first use); the layout differs by API. */
static void add_logprobs(sl_api *a, sl__gen *g, json_t **lp, const sl_engine_token *toks, int n) {
    if (g->chat) {
        if (!*lp) *lp = json_array();
        for (int i = 0; i < n; i++) {
            size_t len;
            char *s = token_text(a, g, toks[i].id, &len);
            json_t *e = json_object();
            json_object_set_new(e, "token", jstr(s ? s : "", s ? len : 0));
            json_object_set_new(e, "logprob", json_real(toks[i].logprob));
            json_object_set_new(e, "bytes", bytes_array(s ? s : "", s ? len : 0));
            free(s);
            json_t *top = json_array();
            for (int k = 0; k < toks[i].n_top; k++) {
                char *ts = token_text(a, g, toks[i].top_ids[k], &len);
                json_t *t = json_object();
                json_object_set_new(t, "token", jstr(ts ? ts : "", ts ? len : 0));
                json_object_set_new(t, "logprob", json_real(toks[i].top_lps[k]));
                json_object_set_new(t, "bytes", bytes_array(ts ? ts : "", ts ? len : 0));
                free(ts);
                json_array_append_new(top, t);
            }
            json_object_set_new(e, "top_logprobs", top);
            json_array_append_new(*lp, e);
        }
        return;
    }
    if (!*lp) {
        *lp = json_object();
        json_object_set_new(*lp, "tokens", json_array());
        json_object_set_new(*lp, "token_logprobs", json_array());
        json_object_set_new(*lp, "top_logprobs", json_array());
        json_object_set_new(*lp, "text_offset", json_array());
    }
    for (int i = 0; i < n; i++) {
        size_t len;
        char *s = token_text(a, g, toks[i].id, &len);
        json_array_append_new(json_object_get(*lp, "tokens"), jstr(s ? s : "", s ? len : 0));
        json_array_append_new(json_object_get(*lp, "token_logprobs"), json_real(toks[i].logprob));
        json_array_append_new(json_object_get(*lp, "text_offset"), json_integer((json_int_t)g->text_offset));
        /* The chosen token is always among the alternatives, as vLLM reports them. */
        json_t *top = json_object();
        json_object_set_new(top, s ? s : "", json_real(toks[i].logprob));
        g->text_offset += g->tokens_as_ids ? 0 : len;
        free(s);
        for (int k = 0; k < toks[i].n_top; k++) {
            char *ts = token_text(a, g, toks[i].top_ids[k], &len);
            json_t *key = jstr(ts ? ts : "", ts ? len : 0);
            json_object_set_new(top, json_string_value(key), json_real(toks[i].top_lps[k]));
            json_decref(key);
            free(ts);
        }
        json_array_append_new(json_object_get(*lp, "top_logprobs"), top);
    }
}

static const char *finish_reason(sl_finish f) {
    switch (f) {
    case SL_FINISH_STOP: return "stop";
    case SL_FINISH_LENGTH: return "length";
    case SL_FINISH_CANCELLED: return "abort";
    default: return NULL;
    }
}

static json_t *usage_json(const sl__gen *g) {
    json_t *u = json_object();
    json_object_set_new(u, "prompt_tokens", json_integer(g->n_prompt));
    json_object_set_new(u, "completion_tokens", json_integer(g->n_gen));
    json_object_set_new(u, "total_tokens", json_integer(g->n_prompt + g->n_gen));
    return u;
}

static json_t *envelope(const sl__gen *g, const char *object) {
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(g->id));
    json_object_set_new(j, "object", json_string(object));
    json_object_set_new(j, "created", json_integer(g->created));
    json_object_set_new(j, "model", jstr(g->model, strlen(g->model)));
    return j;
}

static void sse_event(sl__req *q, json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s) return;
    sl__abuf_put(&q->sse, "data: ", 6);
    sl__abuf_put(&q->sse, s, strlen(s));
    sl__abuf_put(&q->sse, "\n\n", 2);
    free(s);
}

/* ---------------------------------------------------------------- output */

static void stream_output(sl__req *q, sl__gen *g, const sl_engine_out *out) {
    sl_api *a = q->api;
    const char *fr = out->finished ? finish_reason(out->finish) : NULL;
    int has_lp = g->logprobs >= 0 && out->n_tokens > 0;
    if (g->chat && !g->sent_first) {
        g->sent_first = 1;
        json_t *j = envelope(g, "chat.completion.chunk");
        json_t *c = json_object();
        json_object_set_new(c, "index", json_integer(0));
        json_t *d = json_object();
        json_object_set_new(d, "role", json_string("assistant"));
        json_object_set_new(d, "content", json_string(""));
        json_object_set_new(c, "delta", d);
        json_object_set_new(c, "logprobs", json_null());
        json_object_set_new(c, "finish_reason", json_null());
        json_t *arr = json_array();
        json_array_append_new(arr, c);
        json_object_set_new(j, "choices", arr);
        sse_event(q, j);
    }
    if (out->text_len || has_lp || (out->finished && out->finish != SL_FINISH_ERROR)) {
        json_t *j = envelope(g, g->chat ? "chat.completion.chunk" : "text_completion");
        json_t *c = json_object();
        json_object_set_new(c, "index", json_integer(0));
        if (g->chat) {
            json_t *d = json_object();
            if (out->text_len || !out->finished) json_object_set_new(d, "content", jstr(out->text, out->text_len));
            json_object_set_new(c, "delta", d);
        } else {
            json_object_set_new(c, "text", jstr(out->text, out->text_len));
        }
        json_t *lp = NULL;
        if (has_lp) add_logprobs(a, g, &lp, out->tokens, out->n_tokens);
        if (lp && g->chat) {
            json_t *o = json_object();
            json_object_set_new(o, "content", lp);
            lp = o;
        }
        json_object_set_new(c, "logprobs", lp ? lp : json_null());
        json_object_set_new(c, "finish_reason", fr ? json_string(fr) : json_null());
        json_t *arr = json_array();
        json_array_append_new(arr, c);
        json_object_set_new(j, "choices", arr);
        sse_event(q, j);
    }
    if (!out->finished) return;
    if (out->finish == SL_FINISH_ERROR)
        sse_event(q, sl__error_json(500, "engine_error", NULL, out->error[0] ? out->error : "generation failed"));
    if (g->include_usage) {
        json_t *j = envelope(g, g->chat ? "chat.completion.chunk" : "text_completion");
        json_object_set_new(j, "choices", json_array());
        json_object_set_new(j, "usage", usage_json(g));
        sse_event(q, j);
    }
    sl__abuf_put(&q->sse, "data: [DONE]\n\n", 14);
    q->sse_end = 1;
}

static void final_response(sl__req *q, sl__gen *g, const sl_engine_out *out) {
    if (out->finish == SL_FINISH_ERROR || out->finish == SL_FINISH_CANCELLED) {
        int st = out->finish == SL_FINISH_ERROR ? 500 : 503;
        q->pending = sl__response_json(sl__error_json(
            st, out->finish == SL_FINISH_ERROR ? "engine_error" : "cancelled", NULL,
            out->finish == SL_FINISH_ERROR ? (out->error[0] ? out->error : "generation failed")
                                           : "the request was cancelled (server shutting down)"));
        q->pending_status = st;
        return;
    }
    json_t *j = envelope(g, g->chat ? "chat.completion" : "text_completion");
    json_t *c = json_object();
    json_object_set_new(c, "index", json_integer(0));
    json_t *text = jstr(g->text.p ? g->text.p : "", g->text.len);
    if (g->chat) {
        json_t *m = json_object();
        json_object_set_new(m, "role", json_string("assistant"));
        json_object_set_new(m, "content", text);
        json_object_set_new(c, "message", m);
    } else {
        json_object_set_new(c, "text", text);
    }
    json_t *lp = NULL;
    if (g->logprobs >= 0) {
        lp = g->lp;
        g->lp = NULL;
        if (!lp) lp = g->chat ? json_array() : json_object();
        if (g->chat) {
            json_t *o = json_object();
            json_object_set_new(o, "content", lp);
            lp = o;
        }
    }
    json_object_set_new(c, "logprobs", lp ? lp : json_null());
    json_object_set_new(c, "finish_reason", json_string(finish_reason(out->finish)));
    json_t *arr = json_array();
    json_array_append_new(arr, c);
    json_object_set_new(j, "choices", arr);
    json_object_set_new(j, "usage", usage_json(g));
    q->pending = sl__response_json(j);
    q->pending_status = 200;
}

void sl__gen_on_output(sl__req *q, const sl_engine_out *out) {
    sl__gen *g = q->gen;
    if (!g) return;
    g->n_prompt = out->n_prompt;
    g->n_gen = out->n_generated;
    if (out->finished) g->finish = out->finish;
    if (g->stream) {
        stream_output(q, g, out);
        return;
    }
    sl__abuf_put(&g->text, out->text, out->text_len);
    if (g->logprobs >= 0 && out->n_tokens) add_logprobs(q->api, g, &g->lp, out->tokens, out->n_tokens);
    if (out->finished) final_response(q, g, out);
}

/* ---------------------------------------------------------------- requests */

static uint64_t random_seed(void) {
    static atomic_ulong counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (atomic_fetch_add(&counter, 1) * 0x9e3779b97f4a7c15ull);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    return x ^ (x >> 29);
}

static const char idchars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

static void make_id(char *out, size_t n, const char *prefix) {
    uint64_t a = random_seed(), b = random_seed();
    size_t p = (size_t)snprintf(out, n, "%s", prefix);
    for (int i = 0; i < 24 && p + 1 < n; i++) {
        uint64_t *s = i < 12 ? &a : &b;
        out[p++] = idchars[*s % 62];
        *s /= 62;
    }
    out[p] = 0;
}

/* Reads the prompt of a completion request into *ids. 1 ok, -1 replied. */
static int parse_prompt(sl__req *q, json_t *body, int add_special, int32_t **ids, size_t *n, enum MHD_Result *ret) {
    sl_api *a = q->api;
    json_t *p = json_object_get(body, "prompt");
    if (json_is_array(p) && json_array_size(p) == 1 && !json_is_integer(json_array_get(p, 0)))
        p = json_array_get(p, 0); /* ["text"] or [[ids]]: one prompt */
    char err[256];
    if (json_is_string(p)) {
        if (sl_tokenizer_encode(a->cfg.tok, json_string_value(p), json_string_length(p), add_special, ids, n, err,
                                sizeof err) != 0) {
            *ret = sl__reply_error(q, 400, "invalid_value", "prompt", "cannot tokenize the prompt: %s", err);
            return -1;
        }
        return 1;
    }
    if (!json_is_array(p)) {
        *ret = sl__reply_error(q, 400, p ? "invalid_type" : "missing_field", "prompt",
                               "'prompt' must be a string or an array of token ids");
        return -1;
    }
    size_t cnt = json_array_size(p);
    if (cnt == 0) {
        *ret = sl__reply_error(q, 400, "invalid_value", "prompt", "'prompt' must not be empty");
        return -1;
    }
    int vocab = sl_model_get_config(a->cfg.model)->vocab;
    *ids = malloc(cnt * sizeof **ids);
    if (!*ids) {
        *ret = sl__reply_error(q, 500, "internal_error", NULL, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < cnt; i++) {
        json_t *v = json_array_get(p, i);
        if (!json_is_integer(v)) {
            *ret = sl__reply_error(q, 400, "invalid_type", "prompt",
                                   json_is_string(v) || json_is_array(v)
                                       ? "only one prompt per request is supported"
                                       : "'prompt' must be a string or an array of token ids");
            free(*ids);
            *ids = NULL;
            return -1;
        }
        json_int_t t = json_integer_value(v);
        if (t < 0 || t >= vocab) {
            *ret = sl__reply_error(q, 400, "invalid_value", "prompt", "prompt[%zu] = %lld is not a token id (0..%d)", i,
                                   (long long)t, vocab - 1);
            free(*ids);
            *ids = NULL;
            return -1;
        }
        (*ids)[i] = (int32_t)t;
    }
    *n = cnt;
    return 1;
}

/* ---------------------------------------------------------------- submission */

struct sl__sub {
    json_t *body;                         /* the request; the stop strings point into it */
    int32_t *ids;                         /* (n_ids) the prompt */
    size_t n_ids;
    sl_engine_params ep;                  /* stop and stop_ids are set at submit */
    const char *stops[SL_ENGINE_MAX_STOP];
    int32_t stop_id;
    struct sl_adapter *adapter;           /* a reference once acquired (NULL: base model) */
    const sl_adapter_source *src;
    char tenant[SL__NAME_MAX + 1];        /* the adapter "model" names, resolved */
    char name[SL__NAME_MAX + 1];
    int load_rc;                          /* of src->load, on the thread pool */
    char err[256];
};

void sl__sub_free(sl__sub *s) {
    if (!s) return;
    json_decref(s->body);
    free(s->ids);
    sl_adapter_unref(s->adapter);
    free(s);
}

/* Hands q->sub to the engine and starts the reply (SSE now, or JSON when done). */
static enum MHD_Result submit(sl__req *q) {
    sl_api *a = q->api;
    sl__sub *s = q->sub;
    char err[512];
    s->ep.stop = s->stops;
    s->ep.stop_ids = s->stop_id >= 0 ? &s->stop_id : NULL;
    struct sl_adapter *pass = s->adapter;
    s->adapter = NULL; /* ownership: passed to the engine, success or not */
    int rc = sl_engine_submit(a->cfg.engine, s->ids, (int)s->n_ids, pass, &s->ep, q, &q->ereq, err, sizeof err);
    sl__sub_free(s); /* the engine copied what it needs */
    q->sub = NULL;
    switch (rc) {
    case 0: break;
    case SL_EBUSY: return sl__reply_error(q, 429, "queue_full", NULL, "the server is busy: %s; retry later", err);
    case SL_ETOOBIG: return sl__reply_error(q, 400, "context_length_exceeded", NULL, "%s", err);
    case SL_ECANCELED: return sl__reply_error(q, 503, "shutting_down", NULL, "%s", err);
    default: return sl__reply_error(q, rc == SL_EINVAL ? 400 : 500, "invalid_value", NULL, "%s", err);
    }
    if (q->gen->stream) return sl__reply_sse(q);
    sl__req_wait(q);
    return MHD_YES;
}

/* Thread pool: load the adapter (q and q->sub stay alive: the offload holds the request). */
static void load_work(void *arg) {
    sl__req *q = arg;
    sl__sub *s = q->sub;
    s->load_rc = s->src->load(s->src->ctx, s->tenant, s->name, &s->adapter, s->err, sizeof s->err);
}

static enum MHD_Result after_load(sl__req *q) {
    sl__sub *s = q->sub;
    if (s->load_rc == SL_ENOENT)
        return sl__reply_error(q, 404, "model_not_found", "model", "the model '%s' does not exist", q->gen->model);
    if (s->load_rc)
        return sl__reply_error(q, 503, "adapter_unavailable", "model", "the adapter '%s' cannot be loaded: %s",
                               q->gen->model, s->err[0] ? s->err : sl_strerror(s->load_rc));
    return submit(q);
}

static enum MHD_Result generate(sl__req *q, int chat) {
    sl_api *a = q->api;
    enum MHD_Result ret = MHD_NO;
    json_t *body = sl__body_json(q, &ret);
    if (!body) return ret;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    sl__gen *g = NULL;
    sl__sub *sub = NULL;
    const char *stops[SL_ENGINE_MAX_STOP] = {0};
    int n_stops = 0;
    int32_t stop_id = -1;
    char err[512];

    /* Options, all checked before any work. */
    const char *model = NULL;
    long long max_tokens = -1, top_k = 0, seed = 0, n = 1, logprobs = -1, best_of = 1;
    double temperature = 1.0, top_p = 1.0, pres = 0, freq = 0;
    int stream = 0, include_usage = 0, as_ids = 0, ignore_eos = 0, echo = 0, skip_special = 1, add_special = chat ? 0 : 1;
    int has_seed;
    if (sl__json_str(q, body, "model", &model, &ret) < 0) goto out;
    if (sl__json_bool(q, body, "stream", &stream, &ret) < 0) goto out;
    json_t *so = json_object_get(body, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so)) {
            ret = sl__reply_error(q, 400, "invalid_type", "stream_options", "'stream_options' must be an object");
            goto out;
        }
        if (sl__json_bool(q, so, "include_usage", &include_usage, &ret) < 0) goto out;
    }
    if (sl__json_int(q, body, "max_tokens", 1, 1 << 30, &max_tokens, &ret) < 0) goto out;
    if (chat && sl__json_int(q, body, "max_completion_tokens", 1, 1 << 30, &max_tokens, &ret) < 0) goto out;
    if (sl__json_num(q, body, "temperature", 0, 100, &temperature, &ret) < 0) goto out;
    if (sl__json_num(q, body, "top_p", 0, 1, &top_p, &ret) < 0) goto out;
    if (top_p <= 0) {
        ret = sl__reply_error(q, 400, "invalid_value", "top_p", "'top_p' must be in (0, 1]");
        goto out;
    }
    if (sl__json_int(q, body, "top_k", -1, 1 << 30, &top_k, &ret) < 0) goto out;
    if ((has_seed = sl__json_int(q, body, "seed", INT64_MIN, INT64_MAX, &seed, &ret)) < 0) goto out;
    if (sl__json_int(q, body, "n", 1, 1, &n, &ret) < 0) goto out;
    if (sl__json_int(q, body, "best_of", 1, 1, &best_of, &ret) < 0) goto out;
    if (sl__json_num(q, body, "presence_penalty", 0, 0, &pres, &ret) < 0) goto out;
    if (sl__json_num(q, body, "frequency_penalty", 0, 0, &freq, &ret) < 0) goto out;
    if (sl__json_bool(q, body, "return_tokens_as_token_ids", &as_ids, &ret) < 0) goto out;
    if (sl__json_bool(q, body, "ignore_eos", &ignore_eos, &ret) < 0) goto out;
    if (sl__json_bool(q, body, "skip_special_tokens", &skip_special, &ret) < 0) goto out;
    if (sl__json_bool(q, body, "add_special_tokens", &add_special, &ret) < 0) goto out;
    if (chat) {
        int lp = 0;
        long long top = 0;
        if (sl__json_bool(q, body, "logprobs", &lp, &ret) < 0) goto out;
        if (sl__json_int(q, body, "top_logprobs", 0, SL_ENGINE_MAX_TOP, &top, &ret) < 0) goto out;
        logprobs = lp ? top : -1;
    } else {
        if (sl__json_int(q, body, "logprobs", 0, SL_ENGINE_MAX_TOP, &logprobs, &ret) < 0) goto out;
        if (sl__json_bool(q, body, "echo", &echo, &ret) < 0) goto out;
        if (echo) {
            ret = sl__reply_error(q, 400, "unsupported", "echo", "'echo' is not supported");
            goto out;
        }
        json_t *sfx = json_object_get(body, "suffix");
        if (sfx && !json_is_null(sfx)) {
            ret = sl__reply_error(q, 400, "unsupported", "suffix", "'suffix' is not supported");
            goto out;
        }
    }
    json_t *stop = json_object_get(body, "stop");
    if (json_is_string(stop)) {
        stops[n_stops++] = json_string_value(stop);
    } else if (json_is_array(stop)) {
        size_t i;
        json_t *s;
        if (json_array_size(stop) > SL_ENGINE_MAX_STOP - 1) {
            ret = sl__reply_error(q, 400, "invalid_value", "stop", "at most %d stop sequences", SL_ENGINE_MAX_STOP - 1);
            goto out;
        }
        json_array_foreach(stop, i, s) {
            if (!json_is_string(s)) {
                ret = sl__reply_error(q, 400, "invalid_type", "stop", "'stop' must be a string or an array of strings");
                goto out;
            }
            stops[n_stops++] = json_string_value(s);
        }
    } else if (stop && !json_is_null(stop)) {
        ret = sl__reply_error(q, 400, "invalid_type", "stop", "'stop' must be a string or an array of strings");
        goto out;
    }

    /* The prompt. */
    if (chat) {
        if (a->cfg.chat->fmt == SL_CHAT_UNKNOWN) {
            ret = sl__reply_error(q, 400, "no_chat_template", NULL,
                                  "the model has no chat template this server recognises; use /v1/completions "
                                  "or start the server with --chat-template");
            goto out;
        }
        sl_chat_msg *msgs;
        int nm;
        char **texts;
        if (sl__json_messages(q, body, &msgs, &nm, &texts, &ret) < 0) goto out;
        char *text = NULL;
        size_t tlen = 0;
        int rc = sl_chat_render(a->cfg.chat, msgs, nm, 1, &text, &tlen, err, sizeof err);
        for (int i = 0; i < nm; i++) free(texts[i]);
        free(texts);
        free(msgs);
        if (rc) {
            ret = sl__reply_error(q, 400, "invalid_value", "messages", "%s", err);
            goto out;
        }
        rc = sl_tokenizer_encode(a->cfg.tok, text, tlen, add_special, &ids, &n_ids, err, sizeof err);
        free(text);
        if (rc) {
            ret = sl__reply_error(q, 400, "invalid_value", "messages", "cannot tokenize the chat: %s", err);
            goto out;
        }
        const char *end = sl_chat_end_token(a->cfg.chat);
        stop_id = sl_tokenizer_token_to_id(a->cfg.tok, end);
        if (stop_id < 0 && n_stops < SL_ENGINE_MAX_STOP) stops[n_stops++] = end;
    } else if (parse_prompt(q, body, add_special, &ids, &n_ids, &ret) < 0) {
        goto out;
    }
    int max_ctx = sl_engine_max_ctx(a->cfg.engine);
    if (n_ids == 0) {
        ret = sl__reply_error(q, 400, "invalid_value", chat ? "messages" : "prompt", "the prompt is empty");
        goto out;
    }
    if ((long long)n_ids >= max_ctx) {
        ret = sl__reply_error(q, 400, "context_length_exceeded", chat ? "messages" : "prompt",
                              "this model's maximum context length is %d tokens, but the prompt has %zu tokens", max_ctx,
                              n_ids);
        goto out;
    }
    if (max_tokens < 0) {
        max_tokens = max_ctx - (long long)n_ids;
        if (!chat && max_tokens > 16) max_tokens = 16; /* OpenAI's default for completions */
    } else if ((long long)n_ids + max_tokens > max_ctx) {
        ret = sl__reply_error(q, 400, "context_length_exceeded", "max_tokens",
                              "this model's maximum context length is %d tokens, but %lld were requested "
                              "(%zu in the prompt, %lld for the completion)",
                              max_ctx, (long long)n_ids + max_tokens, n_ids, max_tokens);
        goto out;
    }

    g = calloc(1, sizeof *g);
    sub = calloc(1, sizeof *sub);
    if (!g || !sub || !(g->model = strdup(model ? model : a->cfg.model_id))) {
        ret = sl__reply_error(q, 500, "internal_error", NULL, "out of memory");
        goto out;
    }
    g->chat = chat;
    g->stream = stream;
    g->include_usage = include_usage;
    g->logprobs = (int)logprobs;
    g->tokens_as_ids = as_ids;
    g->created = (json_int_t)time(NULL);
    g->n_prompt = (int)n_ids;
    make_id(g->id, sizeof g->id, chat ? "chatcmpl-" : "cmpl-");

    /* Everything the submission needs, kept until the adapter is at hand. */
    sub->body = body; /* ownership: the stop strings point into it */
    body = NULL;
    sub->ids = ids;
    sub->n_ids = n_ids;
    ids = NULL;
    memcpy(sub->stops, stops, sizeof stops);
    sub->stop_id = stop_id;
    sub->src = &a->cfg.adapters;
    sub->ep = (sl_engine_params){
        .max_tokens = (int)max_tokens,
        .sample = {.temperature = (float)temperature, .top_k = (int)top_k, .top_p = (float)top_p,
                   .seed = has_seed ? (uint64_t)seed : random_seed()},
        .logprobs = (int)logprobs,
        .ignore_eos = ignore_eos,
        .skip_special = skip_special,
        .n_stop_ids = stop_id >= 0 ? 1 : 0,
        .n_stop = n_stops,
    };
    q->gen = g; /* ownership: both the request's, freed with it */
    q->sub = sub;
    g = NULL;
    sub = NULL;

    /* The adapter: a reference the request owns, handed on to the engine at submit. */
    if (model && strcmp(model, a->cfg.model_id) != 0) {
        const sl_adapter_source *src = &a->cfg.adapters;
        /* "name", or "tenant/name" for an admin; another tenant's is not found, as a missing one. */
        int rc = sl__resolve_adapter(q, model, q->sub->tenant, q->sub->name) != 0 ? SL_ENOENT
                 : src->acquire ? src->acquire(src->ctx, q->sub->tenant, q->sub->name, &q->sub->adapter)
                                : SL_ENOENT;
        if (rc == SL_EBUSY && src->load) { /* not resident: load off the loop, then go on */
            if (sl__req_offload(q, load_work, q, after_load) == 0) {
                ret = MHD_YES;
                goto out;
            }
            rc = SL_ENOMEM;
        }
        if (rc) {
            ret = rc == SL_ENOENT ? sl__reply_error(q, 404, "model_not_found", "model", "the model '%s' does not exist", model)
                                  : sl__reply_error(q, 503, "adapter_unavailable", "model", "the adapter '%s' cannot be used: %s",
                                                    model, sl_strerror(rc));
            goto out;
        }
    }
    ret = submit(q);
out:
    sl__sub_free(sub);
    sl__gen_free(g);
    free(ids);
    json_decref(body);
    return ret;
}

enum MHD_Result sl__handle_completions(sl__req *q) { return generate(q, 0); }
enum MHD_Result sl__handle_chat(sl__req *q) { return generate(q, 1); }
