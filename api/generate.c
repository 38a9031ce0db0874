/* generate.c — POST /v1/completions and /v1/chat/completions (OpenAI), streaming or not. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter.h"
#include "constraint.h"
#include "error.h"
#include "internal.h"
#include "tokenizer.h"
#include "tools.h"

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
    sl_buf text;
    json_t *lp;        /* completions: {tokens, token_logprobs, top_logprobs, text_offset}; chat: [content...] */
    size_t text_offset;
    /* Chat: the output parsed into content, reasoning and tool calls (tc NULL: plain content). */
    int parsed;           /* the output goes through tc (or, after tc ran out of memory, as content) */
    sl_toolcall_parser *tc;
    sl_toolcall_out tco;  /* what the latest feed gave */
    int reasoning;        /* reasoning_content is reported */
    int parallel;         /* parallel_tool_calls: 0 keeps only the first call */
    int named;            /* tool_choice named a function: the call ends with "stop", as OpenAI's */
    int n_calls;          /* tool calls reported so far */
    sl_buf reasoning_text; /* non-streaming: accumulated */
    json_t *calls;         /* non-streaming: message.tool_calls */
};

void sl__gen_free(sl__gen *g) {
    if (!g) return;
    free(g->model);
    sl_buf_free(&g->text);
    json_decref(g->lp);
    sl_toolcall_parser_free(g->tc);
    sl_toolcall_out_free(&g->tco);
    sl_buf_free(&g->reasoning_text);
    json_decref(g->calls);
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
    sl_buf b = {0};
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len((const unsigned char *)s + i, n - i);
        if (l) sl_buf_put(&b, s + i, l), i += l;
        else sl_buf_put(&b, "\xef\xbf\xbd", 3), i++;
    }
    j = json_stringn(b.p ? b.p : "", b.len);
    sl_buf_free(&b);
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

/* "tool_calls" when the model ended its turn with calls, as OpenAI reports it ("stop" when the
 * request named the function). */
static const char *gen_finish_reason(const sl__gen *g, sl_finish f) {
    return g->n_calls > 0 && f == SL_FINISH_STOP && !g->named ? "tool_calls" : finish_reason(f);
}

static void make_id(char *out, size_t n, const char *prefix);

/* Feeds the engine's new text to the output parser (g->tco gets what became certain). */
static void parse_output(sl__gen *g, const sl_engine_out *out) {
    sl_toolcall_out_clear(&g->tco);
    if (g->tc && sl_toolcall_feed(g->tc, out->text, out->text_len, out->finished, &g->tco) == 0) return;
    /* out of memory: what comes from here on is plain content */
    sl_toolcall_parser_free(g->tc);
    g->tc = NULL;
    sl_toolcall_out_clear(&g->tco);
    sl_buf_put(&g->tco.content, out->text, out->text_len);
}

/* The calls of the latest feed as OpenAI tool_calls entries appended to ARR (STREAM: with their
 * index); with parallel_tool_calls false, calls after the first are dropped. */
static void add_calls(sl__gen *g, json_t *arr, int stream) {
    for (int i = 0; i < g->tco.n_calls; i++) {
        if (!g->parallel && g->n_calls >= 1) break;
        char id[40];
        make_id(id, sizeof id, "call_");
        json_array_append_new(arr, sl__tool_call_json(&g->tco.calls[i], id, stream ? g->n_calls : -1));
        g->n_calls++;
    }
}

/* A chat stream's delta: the parsed pieces of the latest feed, or the new text as it is. */
static json_t *chat_delta(sl__gen *g, const sl_engine_out *out) {
    json_t *d = json_object();
    if (!g->parsed) {
        if (out->text_len || !out->finished) json_object_set_new(d, "content", jstr(out->text, out->text_len));
        return d;
    }
    if (g->tco.reasoning.len) json_object_set_new(d, "reasoning_content", jstr(g->tco.reasoning.p, g->tco.reasoning.len));
    if (g->tco.content.len) json_object_set_new(d, "content", jstr(g->tco.content.p, g->tco.content.len));
    if (g->tco.n_calls) {
        json_t *arr = json_array();
        add_calls(g, arr, 1);
        if (json_array_size(arr)) json_object_set_new(d, "tool_calls", arr);
        else json_decref(arr);
    }
    return d;
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
    sl_buf_put(&q->sse, "data: ", 6);
    sl_buf_put(&q->sse, s, strlen(s));
    sl_buf_put(&q->sse, "\n\n", 2);
    free(s);
}

/* ---------------------------------------------------------------- output */

static void stream_output(sl__req *q, sl__gen *g, const sl_engine_out *out) {
    sl_api *a = q->api;
    int has_lp = g->logprobs >= 0 && out->n_tokens > 0;
    size_t new_text = g->parsed ? g->tco.content.len + g->tco.reasoning.len + (size_t)g->tco.n_calls : out->text_len;
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
    if (new_text || has_lp || (out->finished && out->finish != SL_FINISH_ERROR)) {
        json_t *j = envelope(g, g->chat ? "chat.completion.chunk" : "text_completion");
        json_t *c = json_object();
        json_object_set_new(c, "index", json_integer(0));
        if (g->chat) {
            json_object_set_new(c, "delta", chat_delta(g, out)); /* before the finish reason: it counts the calls */
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
        const char *fr = out->finished ? gen_finish_reason(g, out->finish) : NULL;
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
    sl_buf_put(&q->sse, "data: [DONE]\n\n", 14);
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
        /* content null when the model said nothing besides its calls or reasoning, as OpenAI */
        int none = !g->text.len && (g->n_calls || g->reasoning_text.len);
        json_object_set_new(m, "content", none ? json_null() : json_incref(text));
        json_decref(text);
        if (g->reasoning)
            json_object_set_new(m, "reasoning_content", g->reasoning_text.len ? jstr(g->reasoning_text.p, g->reasoning_text.len)
                                                                               : json_null());
        if (g->n_calls) {
            json_object_set_new(m, "tool_calls", g->calls);
            g->calls = NULL;
        }
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
    json_object_set_new(c, "finish_reason", json_string(gen_finish_reason(g, out->finish)));
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
    if (g->parsed) parse_output(g, out);
    if (g->stream) {
        stream_output(q, g, out);
        return;
    }
    if (g->parsed) {
        sl_buf_put(&g->text, g->tco.content.p, g->tco.content.len);
        sl_buf_put(&g->reasoning_text, g->tco.reasoning.p, g->tco.reasoning.len);
        if (g->tco.n_calls) {
            if (!g->calls) g->calls = json_array();
            add_calls(g, g->calls, 0);
        }
    } else {
        sl_buf_put(&g->text, out->text, out->text_len);
    }
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

/* ---------------------------------------------------------------- submission */

struct sl__sub {
    json_t *body;                         /* the request; the stop strings point into it */
    int32_t *ids;                         /* (n_ids) the prompt */
    size_t n_ids;
    sl_engine_params ep;                  /* stop and stop_ids are set at submit */
    const char *stops[SL_ENGINE_MAX_STOP];
    int32_t stop_id;
    struct sl_adapter *adapter;           /* a reference once acquired (NULL: base model) */
    struct sl_constraint *constraint;     /* structured output: one reference (NULL: none);
                                           * the engine takes its own at submit */
    const sl_adapter_source *src;
    char tenant[SL__NAME_MAX + 1];        /* the adapter "model" names, resolved */
    char name[SL__NAME_MAX + 1];
    char adapter_label[2 * SL__NAME_MAX + 2]; /* "" for the base model */
    int load_rc;                          /* of src->load, on the thread pool */
    char err[256];
};

void sl__sub_free(sl__sub *s) {
    if (!s) return;
    json_decref(s->body);
    free(s->ids);
    sl_adapter_unref(s->adapter);
    sl_constraint_unref(s->constraint);
    free(s);
}

/* Hands q->sub to the engine and starts the reply (SSE now, or JSON when done). */
static enum MHD_Result submit(sl__req *q) {
    sl_api *a = q->api;
    sl__sub *s = q->sub;
    char err[512];
    s->ep.stop = s->stops;
    s->ep.stop_ids = s->stop_id >= 0 ? &s->stop_id : NULL;
    /* Scheduling: the caller's tenant and its fair-share weight from the keys file; the
     * adapter's label (the model name the client used) for the gateway metrics. */
    s->ep.tenant = q->tenant;
    s->ep.weight = sl_api_keys_tenant_weight(a->keys, q->tenant);
    s->ep.label = s->adapter_label;
    s->ep.constraint = s->constraint;
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

/* Chat: the parser of the output when the request has tools (and did not say tool_choice
 * "none") and the model writes calls in a known format, or when the model reasons in <think>
 * blocks. 0 or SL_ENOMEM. */
static int setup_output_parser(sl_api *a, sl__gen *g, sl__gen_req *r) {
    sl_toolcall_format fmt = r->tools.choice != SL__TOOL_CHOICE_NONE ? (sl_toolcall_format)a->cfg.tool_format : SL_TOOLCALL_NONE;
    g->parallel = r->tools.parallel;
    g->named = r->tools.choice == SL__TOOL_CHOICE_NAMED;
    g->reasoning = a->cfg.reasoning;
    if (fmt == SL_TOOLCALL_NONE && !g->reasoning) return 0;
    int think_open = g->reasoning && sl__prompt_opens_think(a->cfg.tok, r->ids, r->n_ids);
    /* Mistral's [TOOL_CALLS] is a special token: keep it in the text unless the client said */
    if (fmt == SL_TOOLCALL_MISTRAL && !json_object_get(r->body, "skip_special_tokens")) r->ep.skip_special = 0;
    g->parsed = 1;
    return sl_toolcall_parser_new(&g->tc, fmt, g->reasoning, think_open);
}

static enum MHD_Result generate(sl__req *q, int chat) {
    sl_api *a = q->api;
    enum MHD_Result ret = MHD_NO;
    json_t *body = sl__body_json(q, &ret);
    if (!body) return ret;
    sl__gen_limits lim = {.tok = a->cfg.tok, .chat = a->cfg.chat, .vocab = sl_model_get_config(a->cfg.model)->vocab,
                          .max_ctx = sl_engine_max_ctx(a->cfg.engine), .max_tokens = a->cfg.max_tokens,
                          .max_prompt_tokens = a->cfg.max_prompt_tokens, .constraints = a->constraints,
                          .tool_format = a->cfg.tool_format};
    sl__gen_req r;
    sl__err e;
    if (sl__gen_parse(body, chat, &lim, &r, &e) != 0) return sl__reply_err(q, &e); /* BODY released */
    const char *model = r.model;
    sl__gen *g = calloc(1, sizeof *g);
    sl__sub *sub = calloc(1, sizeof *sub);
    if (!g || !sub || !(g->model = strdup(model ? model : a->cfg.model_id))) {
        ret = sl__reply_error(q, 500, "internal_error", NULL, "out of memory");
        goto out;
    }
    g->chat = chat;
    g->stream = r.stream;
    g->include_usage = r.include_usage;
    g->logprobs = r.logprobs;
    g->tokens_as_ids = r.tokens_as_ids;
    g->created = (json_int_t)time(NULL);
    g->n_prompt = (int)r.n_ids;
    make_id(g->id, sizeof g->id, chat ? "chatcmpl-" : "cmpl-");
    if (chat && setup_output_parser(a, g, &r) != 0) {
        ret = sl__reply_error(q, 500, "internal_error", NULL, "out of memory");
        goto out;
    }

    /* Everything the submission needs, kept until the adapter is at hand. Ownership: the body
     * (the stop strings and MODEL point into it) and the prompt pass to SUB. */
    sub->body = r.body;
    r.body = NULL;
    sub->ids = r.ids;
    sub->n_ids = r.n_ids;
    r.ids = NULL;
    memcpy(sub->stops, r.stops, sizeof r.stops);
    sub->stop_id = r.stop_id;
    sub->src = &a->cfg.adapters;
    sub->ep = r.ep;
    sub->constraint = r.constraint; /* ownership: the reference passes to SUB */
    r.constraint = NULL;
    if (!r.has_seed) sub->ep.sample.seed = random_seed();
    q->gen = g; /* ownership: both the request's, freed with it */
    q->sub = sub;
    g = NULL;
    sub = NULL;

    /* The adapter: a reference the request owns, handed on to the engine at submit. */
    if (model && strcmp(model, a->cfg.model_id) != 0) {
        const sl_adapter_source *src = &a->cfg.adapters;
        snprintf(q->sub->adapter_label, sizeof q->sub->adapter_label, "%s", model);
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
    sl__gen_req_free(&r);
    return ret;
}

enum MHD_Result sl__handle_completions(sl__req *q) { return generate(q, 0); }
enum MHD_Result sl__handle_chat(sl__req *q) { return generate(q, 1); }
