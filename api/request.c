/* request.c — request bodies parsed without HTTP (see request.h). */
#include "request.h"

#include "constraint.h"

#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tokenizer.h"

int sl__err_set(sl__err *e, int status, const char *code, const char *param, const char *fmt, ...) {
    e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code ? code : "");
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

json_t *sl__parse_body(const char *p, size_t n, sl__err *e) {
    json_error_t je;
    json_t *j = json_loadb(p ? p : "", n, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        sl__err_set(e, 400, "invalid_json", NULL, "the request body is not valid JSON: %s (line %d, column %d)", je.text,
                    je.line, je.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        sl__err_set(e, 400, "invalid_json", NULL, "the request body must be a JSON object");
        return NULL;
    }
    return j;
}

/* ---------------------------------------------------------------- typed fields */

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

int sl__jint(json_t *obj, const char *f, long long lo, long long hi, long long *out, sl__err *e) {
    json_t *v = json_object_get(obj, f);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) return sl__err_set(e, 400, "invalid_type", f, "'%s' must be an integer, not %s", f, type_name(v));
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return sl__err_set(e, 400, "invalid_value", f, "'%s' must be between %lld and %lld, got %lld", f, lo, hi, x);
    *out = x;
    return 1;
}

int sl__jnum(json_t *obj, const char *f, double lo, double hi, double *out, sl__err *e) {
    json_t *v = json_object_get(obj, f);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return sl__err_set(e, 400, "invalid_type", f, "'%s' must be a number, not %s", f, type_name(v));
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi))
        return sl__err_set(e, 400, "invalid_value", f, "'%s' must be between %g and %g, got %g", f, lo, hi, x);
    *out = x;
    return 1;
}

int sl__jbool(json_t *obj, const char *f, int *out, sl__err *e) {
    json_t *v = json_object_get(obj, f);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return sl__err_set(e, 400, "invalid_type", f, "'%s' must be a boolean, not %s", f, type_name(v));
    *out = json_is_true(v);
    return 1;
}

int sl__jstr(json_t *obj, const char *f, const char **out, sl__err *e) {
    json_t *v = json_object_get(obj, f);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return sl__err_set(e, 400, "invalid_type", f, "'%s' must be a string, not %s", f, type_name(v));
    *out = json_string_value(v);
    return 1;
}

/* ---------------------------------------------------------------- completion requests */

/* The prompt of a completion request: text, token ids, or either wrapped in a one-element
 * array. 0 ok (*ids malloc'ed), -1 refused. */
static int parse_prompt(json_t *body, int add_special, const sl__gen_limits *lim, int32_t **ids, size_t *n, sl__err *e) {
    json_t *p = json_object_get(body, "prompt");
    if (json_is_array(p) && json_array_size(p) == 1 && !json_is_integer(json_array_get(p, 0)))
        p = json_array_get(p, 0); /* ["text"] or [[ids]]: one prompt */
    char err[256];
    if (json_is_string(p)) {
        if (sl_tokenizer_encode(lim->tok, json_string_value(p), json_string_length(p), add_special, ids, n, err,
                                sizeof err) != 0)
            return sl__err_set(e, 400, "invalid_value", "prompt", "cannot tokenize the prompt: %s", err);
        return 0;
    }
    if (!json_is_array(p))
        return sl__err_set(e, 400, p ? "invalid_type" : "missing_field", "prompt",
                           "'prompt' must be a string or an array of token ids");
    size_t cnt = json_array_size(p);
    if (cnt == 0) return sl__err_set(e, 400, "invalid_value", "prompt", "'prompt' must not be empty");
    *ids = malloc(cnt * sizeof **ids);
    if (!*ids) return sl__err_set(e, 500, "internal_error", NULL, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        json_t *v = json_array_get(p, i);
        if (!json_is_integer(v)) {
            free(*ids);
            *ids = NULL;
            return sl__err_set(e, 400, "invalid_type", "prompt", "%s",
                               json_is_string(v) || json_is_array(v) ? "only one prompt per request is supported"
                                                                    : "'prompt' must be a string or an array of token ids");
        }
        json_int_t t = json_integer_value(v);
        if (t < 0 || t >= lim->vocab) {
            free(*ids);
            *ids = NULL;
            return sl__err_set(e, 400, "invalid_value", "prompt", "prompt[%zu] = %lld is not a token id (0..%d)", i,
                               (long long)t, lim->vocab - 1);
        }
        (*ids)[i] = (int32_t)t;
    }
    *n = cnt;
    return 0;
}

/* The prompt of a chat request: the messages rendered with the template, then tokenized. */
static int parse_chat(json_t *body, int add_special, const sl__gen_limits *lim, int32_t **ids, size_t *n, sl__err *e) {
    char *text = NULL, err[512];
    size_t tlen = 0;
    if (sl__chat_prompt(lim->chat, body, &text, &tlen, e) < 0) return -1;
    int rc = sl_tokenizer_encode(lim->tok, text, tlen, add_special, ids, n, err, sizeof err);
    free(text);
    if (rc) return sl__err_set(e, 400, "invalid_value", "messages", "cannot tokenize the chat: %s", err);
    return 0;
}

void sl__gen_req_free(sl__gen_req *r) {
    if (!r) return;
    json_decref(r->body);
    free(r->ids);
    sl_constraint_unref(r->constraint);
    memset(r, 0, sizeof *r);
}

int sl__gen_parse(json_t *body, int chat, const sl__gen_limits *lim, sl__gen_req *r, sl__err *e) {
    memset(r, 0, sizeof *r);
    r->body = body; /* ownership: ours from here on, freed with R */
    r->chat = chat;
    r->stop_id = -1;
    const char *prompt_field = chat ? "messages" : "prompt";

    /* Options, all checked before any work. */
    long long max_tokens = -1, top_k = 0, seed = 0, n = 1, logprobs = -1, best_of = 1;
    double temperature = 1.0, top_p = 1.0, pres = 0, freq = 0;
    int stream = 0, include_usage = 0, as_ids = 0, ignore_eos = 0, echo = 0, skip_special = 1, add_special = chat ? 0 : 1;
    int n_stops = 0, has_seed;
    if (sl__jstr(body, "model", &r->model, e) < 0) goto fail;
    if (sl__jbool(body, "stream", &stream, e) < 0) goto fail;
    json_t *so = json_object_get(body, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so)) {
            sl__err_set(e, 400, "invalid_type", "stream_options", "'stream_options' must be an object");
            goto fail;
        }
        if (sl__jbool(so, "include_usage", &include_usage, e) < 0) goto fail;
    }
    const char *mt_field = "max_tokens";
    int got = sl__jint(body, "max_tokens", 1, 1 << 30, &max_tokens, e);
    if (got < 0) goto fail;
    if (chat) {
        int got2 = sl__jint(body, "max_completion_tokens", 1, 1 << 30, &max_tokens, e);
        if (got2 < 0) goto fail;
        if (got2 > 0) mt_field = "max_completion_tokens";
    }
    if (max_tokens > 0 && lim->max_tokens > 0 && max_tokens > lim->max_tokens) {
        sl__err_set(e, 400, "invalid_value", mt_field, "'%s' is %lld; this server generates at most %d tokens per request",
                    mt_field, max_tokens, lim->max_tokens);
        goto fail;
    }
    if (sl__jnum(body, "temperature", 0, 100, &temperature, e) < 0) goto fail;
    if (sl__jnum(body, "top_p", 0, 1, &top_p, e) < 0) goto fail;
    if (top_p <= 0) {
        sl__err_set(e, 400, "invalid_value", "top_p", "'top_p' must be in (0, 1]");
        goto fail;
    }
    if (sl__jint(body, "top_k", -1, 1 << 30, &top_k, e) < 0) goto fail;
    if ((has_seed = sl__jint(body, "seed", INT64_MIN, INT64_MAX, &seed, e)) < 0) goto fail;
    if (sl__jint(body, "n", 1, 1, &n, e) < 0) goto fail;
    if (sl__jint(body, "best_of", 1, 1, &best_of, e) < 0) goto fail;
    if (sl__jnum(body, "presence_penalty", 0, 0, &pres, e) < 0) goto fail;
    if (sl__jnum(body, "frequency_penalty", 0, 0, &freq, e) < 0) goto fail;
    if (sl__jbool(body, "return_tokens_as_token_ids", &as_ids, e) < 0) goto fail;
    if (sl__jbool(body, "ignore_eos", &ignore_eos, e) < 0) goto fail;
    if (sl__jbool(body, "skip_special_tokens", &skip_special, e) < 0) goto fail;
    if (sl__jbool(body, "add_special_tokens", &add_special, e) < 0) goto fail;
    /* Scheduling, as vLLM: priority (lower runs earlier; within the tenant, see engine.h) and
     * cache_salt (mixed into the prefix cache key: only requests with the same salt share). */
    long long priority = 0;
    const char *cache_salt = NULL;
    if (sl__jint(body, "priority", INT32_MIN, INT32_MAX, &priority, e) < 0) goto fail;
    if (sl__jstr(body, "cache_salt", &cache_salt, e) < 0) goto fail;
    if (cache_salt && !cache_salt[0]) {
        sl__err_set(e, 400, "invalid_value", "cache_salt", "'cache_salt' must be a non-empty string");
        goto fail;
    }
    if (chat) {
        int lp = 0;
        long long top = 0;
        if (sl__jbool(body, "logprobs", &lp, e) < 0) goto fail;
        if (sl__jint(body, "top_logprobs", 0, SL_ENGINE_MAX_TOP, &top, e) < 0) goto fail;
        logprobs = lp ? top : -1;
    } else {
        if (sl__jint(body, "logprobs", 0, SL_ENGINE_MAX_TOP, &logprobs, e) < 0) goto fail;
        if (sl__jbool(body, "echo", &echo, e) < 0) goto fail;
        if (echo) {
            sl__err_set(e, 400, "unsupported", "echo", "'echo' is not supported");
            goto fail;
        }
        json_t *sfx = json_object_get(body, "suffix");
        if (sfx && !json_is_null(sfx)) {
            sl__err_set(e, 400, "unsupported", "suffix", "'suffix' is not supported");
            goto fail;
        }
    }
    json_t *stop = json_object_get(body, "stop");
    if (json_is_string(stop)) {
        r->stops[n_stops++] = json_string_value(stop);
    } else if (json_is_array(stop)) {
        size_t i;
        json_t *s;
        if (json_array_size(stop) > SL_ENGINE_MAX_STOP - 1) {
            sl__err_set(e, 400, "invalid_value", "stop", "at most %d stop sequences", SL_ENGINE_MAX_STOP - 1);
            goto fail;
        }
        json_array_foreach(stop, i, s) {
            if (!json_is_string(s)) {
                sl__err_set(e, 400, "invalid_type", "stop", "'stop' must be a string or an array of strings");
                goto fail;
            }
            r->stops[n_stops++] = json_string_value(s);
        }
    } else if (stop && !json_is_null(stop)) {
        sl__err_set(e, 400, "invalid_type", "stop", "'stop' must be a string or an array of strings");
        goto fail;
    }

    if (chat && sl__tools_parse(body, lim->constraints != NULL, &r->tools, e) < 0) goto fail;
    if (sl__structured_parse(body, lim->constraints, &r->constraint, e) < 0) goto fail;
    if (chat && sl__tools_constrain(&r->tools, (sl_toolcall_format)lim->tool_format, lim->constraints, &r->constraint, e) < 0)
        goto fail;

    /* The prompt. */
    if (chat) {
        if (parse_chat(body, add_special, lim, &r->ids, &r->n_ids, e) < 0) goto fail;
        const char *end = sl_chat_end_token(lim->chat); /* tokenizer_config's eos_token */
        r->stop_id = end ? sl_tokenizer_token_to_id(lim->tok, end) : -1;
        if (end && r->stop_id < 0 && n_stops < SL_ENGINE_MAX_STOP) r->stops[n_stops++] = end;
    } else if (parse_prompt(body, add_special, lim, &r->ids, &r->n_ids, e) < 0) {
        goto fail;
    }
    int max_ctx = lim->max_ctx;
    if (r->n_ids == 0) {
        sl__err_set(e, 400, "invalid_value", prompt_field, "the prompt is empty");
        goto fail;
    }
    if (lim->max_prompt_tokens > 0 && r->n_ids > (size_t)lim->max_prompt_tokens) {
        sl__err_set(e, 400, "prompt_too_long", prompt_field,
                    "the prompt has %zu tokens; this server accepts at most %d", r->n_ids, lim->max_prompt_tokens);
        goto fail;
    }
    if ((long long)r->n_ids >= max_ctx) {
        sl__err_set(e, 400, "context_length_exceeded", prompt_field,
                    "this model's maximum context length is %d tokens, but the prompt has %zu tokens", max_ctx, r->n_ids);
        goto fail;
    }
    if (max_tokens < 0) {
        max_tokens = max_ctx - (long long)r->n_ids;
        if (!chat && max_tokens > 16) max_tokens = 16; /* OpenAI's default for completions */
        if (lim->max_tokens > 0 && max_tokens > lim->max_tokens) max_tokens = lim->max_tokens;
    } else if ((long long)r->n_ids + max_tokens > max_ctx) {
        sl__err_set(e, 400, "context_length_exceeded", "max_tokens",
                    "this model's maximum context length is %d tokens, but %lld were requested "
                    "(%zu in the prompt, %lld for the completion)",
                    max_ctx, (long long)r->n_ids + max_tokens, r->n_ids, max_tokens);
        goto fail;
    }

    r->stream = stream;
    r->include_usage = include_usage;
    r->tokens_as_ids = as_ids;
    r->logprobs = (int)logprobs;
    r->has_seed = has_seed > 0;
    r->ep = (sl_engine_params){
        .max_tokens = (int)max_tokens,
        .sample = {.temperature = (float)temperature, .top_k = (int)top_k, .top_p = (float)top_p,
                   .seed = has_seed > 0 ? (uint64_t)seed : 0},
        .logprobs = (int)logprobs,
        .ignore_eos = ignore_eos,
        .skip_special = skip_special,
        .n_stop_ids = r->stop_id >= 0 ? 1 : 0,
        .n_stop = n_stops,
        .priority = (int)priority,
        .cache_salt = cache_salt, /* points into the body, which the submission keeps */
        .constraint = r->constraint,
    };
    return 0;
fail:
    sl__gen_req_free(r);
    return -1;
}

/* ---------------------------------------------------------------- multipart upload parts */

static const char *const part_name[2] = {"config", "weights"};

void sl__parts_init(sl__parts *p) {
    memset(p, 0, sizeof *p);
    p->cur = -1;
}

int sl__parts_piece(sl__parts *p, const char *key, const char *transfer_encoding, uint64_t off, size_t size,
                    sl__err *e) {
    int part = key && !strcmp(key, "config") ? SL__PART_CONFIG : key && !strcmp(key, "weights") ? SL__PART_WEIGHTS : -1;
    if (part < 0)
        return sl__err_set(e, 400, "unknown_part",
                           NULL, "unexpected form part '%.64s': send exactly the parts 'config' (adapter_config.json) "
                           "and 'weights' (adapter_model.safetensors)", key ? key : "");
    if (part != p->cur || off != p->next) { /* a new part begins */
        if (p->seen[part]) return sl__err_set(e, 400, "duplicate_part", NULL, "the form part '%s' is given twice", part_name[part]);
        p->seen[part] = 1;
        p->cur = part;
    }
    if (transfer_encoding && strcasecmp(transfer_encoding, "binary") && strcasecmp(transfer_encoding, "8bit") &&
        strcasecmp(transfer_encoding, "7bit"))
        return sl__err_set(e, 400, "unsupported_encoding", NULL,
                           "the form part '%s' uses Content-Transfer-Encoding %.32s; send it as binary", part_name[part],
                           transfer_encoding);
    p->next = off + size;
    p->bytes[part] += size;
    if (part == SL__PART_CONFIG && p->bytes[part] > SL__CONFIG_MAX)
        return sl__err_set(e, 413, "config_too_large", NULL,
                           "the form part 'config' is larger than %d bytes; it should be adapter_config.json", SL__CONFIG_MAX);
    return part;
}

int sl__parts_end(const sl__parts *p, sl__err *e) {
    if (p->seen[SL__PART_CONFIG] && p->seen[SL__PART_WEIGHTS]) return 0;
    return sl__err_set(e, 400, "missing_part",
                       NULL, "the form part '%s' is missing: send both, e.g. curl -X PUT -F config=@adapter_config.json "
                       "-F weights=@adapter_model.safetensors",
                       p->seen[SL__PART_CONFIG] ? "weights" : "config");
}
