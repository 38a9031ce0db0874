/* request.h — the request bodies of the API parsed without HTTP: JSON fields with one
 * consistent 400 for every mistake, chat messages, the whole body of /v1/completions and
 * /v1/chat/completions, and the part bookkeeping of the multipart adapter upload (api/upload.c
 * feeds it what libmicrohttpd's PostProcessor finds). Nothing here touches a connection, so the
 * fuzz targets tests/fuzz/fuzz_http_*.c call these functions as the server does.
 *
 * Errors: every function that can refuse fills an sl__err (HTTP status, stable code, the
 * field at fault, a message for people) and returns -1; the server turns it into the JSON
 * error reply (sl__reply_err). */
#ifndef SL_API_REQUEST_H
#define SL_API_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "chat.h"
#include "engine.h"
#include "tools.h"


struct sl_tokenizer;
struct sl_constraint;
struct sl_constraint_cache;

typedef struct sl__err {
    int status;      /* 400, 413, 500 ... */
    char code[40];   /* e.g. "invalid_type" */
    char param[40];  /* the field at fault; "" none */
    char msg[640];
} sl__err;

/* Fills E; returns -1. PARAM may be NULL. */
int sl__err_set(sl__err *e, int status, const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The body as a JSON object (new reference), or NULL with E (400 invalid_json). Duplicate keys
 * are refused. */
json_t *sl__parse_body(const char *p, size_t n, sl__err *e);

/* Field FIELD of OBJ with a type (and range) check: 1 found (*out set), 0 absent or null (*out
 * kept), -1 refused (E: 400 invalid_type / invalid_value naming the field). */
int sl__jint(json_t *obj, const char *field, long long lo, long long hi, long long *out, sl__err *e);
int sl__jnum(json_t *obj, const char *field, double lo, double hi, double *out, sl__err *e);
int sl__jbool(json_t *obj, const char *field, int *out, sl__err *e);
int sl__jstr(json_t *obj, const char *field, const char **out, sl__err *e);
/* The prompt of a chat request (api/prompt.c): BODY's messages, tools, documents,
 * add_generation_prompt (default true), continue_final_message and chat_template_kwargs
 * rendered with CHAT's template. 0: *text malloc'ed (caller frees), *len its length; -1
 * refused (E: 400 naming the field, no_chat_template, or the template's raise_exception). */
int sl__chat_prompt(const sl_chat *chat, json_t *body, char **text, size_t *len, sl__err *e);

/* What a completion request may ask for on this server. */
typedef struct sl__gen_limits {
    const struct sl_tokenizer *tok; /* borrowed, like chat */
    const sl_chat *chat;
    int vocab;                      /* token ids of a prompt are below it */
    int max_ctx;                    /* prompt + output */
    int max_tokens;                 /* largest max_tokens (0: up to the context) */
    int max_prompt_tokens;          /* longest prompt (0: up to the context) */
    int tool_format;                /* sl_toolcall_format of the model's calls (forced calls are written in it) */
    struct sl_constraint_cache *constraints; /* compiles structured outputs; NULL: refused with 400 */
} sl__gen_limits;

/* A parsed /v1/completions or /v1/chat/completions body. */
typedef struct sl__gen_req {
    json_t *body;                         /* owned: model and the stop strings point into it */
    int chat;
    const char *model;                    /* NULL: not given (the base model) */
    int stream, include_usage, tokens_as_ids;
    int logprobs;                         /* -1: none; else alternatives per token */
    int32_t *ids;                         /* (n_ids) the prompt, 1 <= n_ids < max_ctx; owned */
    size_t n_ids;
    int has_seed;                         /* else ep.sample.seed is 0: the caller picks one */
    sl_engine_params ep;                  /* ep.stop and ep.stop_ids are NULL: point them at stops
                                           * and &stop_id where this struct finally lives */
    const char *stops[SL_ENGINE_MAX_STOP];
    int32_t stop_id;                      /* the chat template's end-of-turn token, or -1 */
    sl__tools tools;                      /* chat: tools, tool_choice (borrowing from body) */
    struct sl_constraint *constraint;     /* structured output (one reference, owned), or NULL;
                                           * ep.constraint points at it */
} sl__gen_req;

/* Parses BODY (ownership passes: kept in r->body, or released on failure) as a chat (CHAT)
 * or completion request. 0 ok; -1 refused (E: 400 with the field, 500 out of memory). */
int sl__gen_parse(json_t *body, int chat, const sl__gen_limits *lim, sl__gen_req *r, sl__err *e);
void sl__gen_req_free(sl__gen_req *r);

/* The structured-output fields of BODY (api/structured.c): 0 with *out NULL (none asked) or a
 * new reference to the compiled constraint (from CC); -1 with E (400 naming the field: two
 * fields at once, a bad value, a compile error). */
int sl__structured_parse(json_t *body, struct sl_constraint_cache *cc, struct sl_constraint **out, sl__err *e);

/* ---------------------------------------------------------------- multipart upload parts */

#define SL__PART_CONFIG 0              /* = SL_STORE_CONFIG */
#define SL__PART_WEIGHTS 1             /* = SL_STORE_WEIGHTS */
#define SL__CONFIG_MAX (1024 * 1024)   /* adapter_config.json larger than this is refused */

/* Which form part each piece of the PostProcessor's output belongs to: exactly the parts
 * `config` and `weights`, each once, in any order, binary (or 7bit/8bit) transfer encoding. */
typedef struct sl__parts {
    uint64_t bytes[2];  /* received per part */
    int seen[2];
    int cur;            /* part of the last piece (-1: none yet) */
    uint64_t next;      /* its next offset: a piece at another offset starts a new part */
} sl__parts;

void sl__parts_init(sl__parts *p);
/* One piece (the PostProcessor callback's KEY, TRANSFER_ENCODING (may be NULL), OFF, SIZE):
 * the part it belongs to, or -1 with E (400 unknown_part, duplicate_part,
 * unsupported_encoding; 413 config_too_large). After a -1 the upload is refused. */
int sl__parts_piece(sl__parts *p, const char *key, const char *transfer_encoding, uint64_t off, size_t size,
                    sl__err *e);
/* The body is in: 0 when both parts came, else -1 with E (400 missing_part). */
int sl__parts_end(const sl__parts *p, sl__err *e);

#endif
