/* api.h — the HTTP API of symlorad: OpenAI-compatible inference, vLLM-style extras, metrics.
 *
 * Threading: libmicrohttpd runs in "external polling" mode, driven entirely by one libuv
 * loop (the caller's): MHD's epoll descriptor is watched with a uv_poll_t and MHD's own
 * timeouts with a uv_timer_t, and every MHD call happens on that loop thread. We chose this
 * over MHD's internal threads because then every piece of HTTP state — connections, their
 * output buffers, suspend/resume — has one owner and needs no lock, and the same loop can
 * later run the adapter store's disk work through libuv's thread pool. The engine runs on
 * its own thread; it hands output over through sl_engine's ready list and wakes the loop
 * with uv_async_send (sl_api_notify), so it never waits for a socket. A connection waiting
 * for tokens is suspended (MHD_suspend_connection) and resumed when output arrives; a slow
 * client only lets its own buffer grow, it never stalls the engine. While suspended MHD does
 * not see a client go away, so each waiting connection's socket is also watched for
 * EPOLLRDHUP (uv_poll, UV_DISCONNECT): a disconnect cancels the sequence at once, which
 * frees its KV blocks at the engine's next step.
 *
 * Adapters are looked up by name through sl_adapter_source, an interface over the versioned,
 * refcounted registry of the adapter store: acquire() hands back a new reference to the
 * version current at that moment, which the request then owns (and passes on to the engine)
 * for its whole life, so a replacement never disturbs it.
 *
 * Tenants: with API keys every route but /health and /metrics needs `Authorization: Bearer
 * KEY` (401 otherwise). /metrics stays open, as vLLM's does with --api-key, so scrapers need
 * no secret: it carries aggregate counters only, never a tenant's or an adapter's name, unless
 * the request carries an admin key or the operator opts in (metrics_names). A
 * request acts for its key's tenant and sees only that tenant's adapters (and the pinned
 * ones); another tenant's adapter is a 404 exactly like a missing one. An admin key may also
 * address TENANT/NAME: in /v1/adapters/TENANT/NAME (the path is percent-decoded before it is
 * routed, so TENANT%2FNAME is the same) and as "model": "TENANT/NAME". Without keys every
 * request acts for the tenant "default". */
#ifndef SL_API_H
#define SL_API_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "chat.h"
#include "engine.h"
#include "model.h"

struct sl_adapter;
struct sl_adapter_opts;
struct sl_tokenizer;

/* Name → adapter lookup, per tenant (tenant NULL: authentication off). */
typedef struct sl_adapter_source {
    /* Loop thread, never blocks: a new reference to the current version of NAME (ownership:
     * the caller's, release with sl_adapter_unref). SL_ENOENT when TENANT has no such adapter;
     * SL_EBUSY when it exists but must be loaded first — then load() runs on libuv's thread
     * pool and the request waits (suspended) without holding up anything else. */
    int (*acquire)(void *ctx, const char *tenant, const char *name, struct sl_adapter **out);
    /* Worker thread, may block on disk: the same contract, with ERR detail for other failures.
     * NULL when acquire() never answers SL_EBUSY. */
    int (*load)(void *ctx, const char *tenant, const char *name, struct sl_adapter **out, char *err, size_t errlen);
    /* Calls EACH for every adapter TENANT may see (name, creation time in Unix seconds). */
    void (*list)(void *ctx, const char *tenant, void (*each)(void *arg, const char *name, int64_t created), void *arg);
    void *ctx;
} sl_adapter_source;

/* The registry of the adapter store (lib/registry.h) as a source: tenants' uploaded adapters
 * (loaded on first use, within the cache budget) and the pinned ones of --adapter NAME=DIR. */
struct sl_registry;
struct sl_store;
sl_adapter_source sl_adapter_registry_source(struct sl_registry *r);

/* API keys (--api-keys FILE, api/keys.c): lines `SHA256HEX TENANT ROLE [WEIGHT] [NAME=VALUE ...]`,
 * ROLE tenant|admin, WEIGHT the tenant's fair-share weight (1..SL_TENANT_WEIGHT_MAX, default
 * 1), NAME=VALUE the tenant's own limits (names: sl_quota_names). Refused when group/world can
 * read or write the file (mode & 077), and for any malformed line (the error names it). */
typedef struct sl_api_keys sl_api_keys;
int sl_api_keys_load(sl_api_keys **out, const char *path, char *err, size_t errlen);
void sl_api_keys_free(sl_api_keys *k);
int sl_api_keys_count(const sl_api_keys *k);

/* Per-tenant settings of the keys file. Tenants are those named by at least one line, indexed
 * 0..sl_api_keys_tenant_count()-1 in name order (names valid while K lives). */
#define SL_TENANT_WEIGHT_MAX 1000
typedef enum sl_quota {
    SL_QUOTA_STORE_BYTES, /* max_store_bytes: bytes of the tenant's stored adapters (current versions) */
    SL_QUOTA_ADAPTERS,    /* max_adapters: number of stored adapters */
    SL_QUOTA_UPLOADS,     /* max_uploads: uploads in progress at once */
    SL_QUOTA_COUNT
} sl_quota;
extern const char *const sl_quota_names[SL_QUOTA_COUNT]; /* the NAME of NAME=VALUE */
int sl_api_keys_tenant_count(const sl_api_keys *k);
const char *sl_api_keys_tenant_name(const sl_api_keys *k, int i);
/* TENANT's weight: its line's WEIGHT, else 1 (also for an unknown tenant and for K NULL). */
int sl_api_keys_tenant_weight(const sl_api_keys *k, const char *tenant);
/* TENANT's own limit Q (0: no limit), or -1 when its lines set none (the server's default
 * applies; also for an unknown tenant and for K NULL). */
int64_t sl_api_keys_tenant_quota(const sl_api_keys *k, const char *tenant, sl_quota q);
/* The entry of the key KEY (LEN bytes): 0 with *tenant (valid while K lives) and *admin set,
 * or SL_ENOENT. The SHA-256 of KEY is compared with every entry in constant time. */
int sl_api_keys_check(const sl_api_keys *k, const char *key, size_t len, const char **tenant, int *admin);

/* One finished HTTP request, for the access log. */
typedef struct sl_api_access {
    const char *method, *path;
    int status;              /* 0: no response was sent (client went away first) */
    double seconds;
    const char *model;       /* "" when not a generation request */
    int prompt_tokens, completion_tokens;
    const char *finish;      /* "stop", "length", "cancelled", "error", or "" */
    int client_gone;
} sl_api_access;

typedef struct sl_api_config {
    const char *listen;        /* "HOST:PORT" (IPv6 as [::1]:PORT); port 0 picks a free one */
    const char *model_id;      /* the base model's name in "model" and /v1/models */
    size_t max_body_bytes;     /* larger request bodies get 413 */
    int max_connections;       /* MHD's connection limit */
    int max_connections_per_ip; /* 0: no limit */
    int connection_timeout_s;  /* MHD's inactivity timeout (0: none); also the most an idle keep-alive
                                * connection may wait for its next request line */
    int request_timeout_s;     /* request line + headers (+ a JSON body) must arrive within this (0: none) */
    size_t connection_memory;  /* MHD's per-connection memory pool (request line, headers, buffers) */
    int http_strictness;       /* MHD_OPTION_STRICT_FOR_CLIENT: -1, 0, 1 */
    int max_tokens;            /* largest max_tokens of a request (0: the context length) */
    int max_prompt_tokens;     /* longest prompt in tokens (0: the context length) */
    int retry_after_s;         /* Retry-After of a 429 */
    int metrics_names;         /* /metrics shows tenant and adapter names to everyone (else to admin keys only) */
    int max_lora;              /* vllm:lora_requests_info's max_lora: adapters one step can mix (max_running) */
    const sl_model *model;     /* borrowed, like everything below */
    const struct sl_tokenizer *tok;
    sl_engine *engine;
    const sl_chat *chat;
    int tool_format;           /* sl_toolcall_format the model writes tool calls in (0: none) */
    int reasoning;             /* 1: <think> blocks of the output are reasoning_content */
    sl_adapter_source adapters;
    /* The adapter store and its registry (the REST adapter API); both NULL: no such routes. */
    struct sl_store *store;
    struct sl_registry *registry;
    size_t max_adapter_bytes;     /* largest PUT /v1/adapters body; larger ones get 413 */
    int max_adapter_rank;         /* uploads of a higher rank are rejected */
    const char *import_dir;       /* load_lora_adapter reads only below it; NULL/"": disabled */
    /* Per-tenant defaults (the keys file may override them per tenant; 0: no limit) and
     * per-address caps of uploads (api/quota.c). */
    int64_t tenant_max_store_bytes; /* stored bytes of a tenant's adapters */
    int64_t tenant_max_adapters;    /* stored adapters of a tenant */
    int max_uploads_per_tenant;     /* uploads in progress at once */
    int max_uploads_per_ip;
    int64_t upload_min_rate;        /* bytes/s an upload must average after request_timeout_s (0: none) */
    int reserved_connections;       /* the last ones of max_connections: only /health, /metrics and
                                     * authenticated requests other than uploads may use them */
    /* API keys; ownership passes to the API. NULL: authentication off, tenant "default". */
    sl_api_keys *keys;
    /* level: 0 debug, 1 info, 2 warn, 3 error. Both may be NULL. */
    void (*log)(void *ctx, int level, const char *msg);
    void (*access)(void *ctx, const sl_api_access *a);
    void *log_ctx;
} sl_api_config;

typedef struct sl_api sl_api;

/* Binds the listening socket and starts serving on LOOP. */
int sl_api_init(sl_api **out, uv_loop_t *loop, const sl_api_config *cfg, char *err, size_t errlen);
/* The bound address as "HOST:PORT" (the real port when 0 was asked for). */
const char *sl_api_address(const sl_api *a);
/* Thread-safe: new engine output is ready (the engine's wake callback). */
void sl_api_notify(sl_api *a);
/* Replaces the API keys (SIGHUP); takes K, frees the old set. Loop thread. NULL is refused
 * (a reload cannot switch authentication off): returns SL_EINVAL and keeps the old keys. */
int sl_api_set_keys(sl_api *a, sl_api_keys *k);
/* Graceful stop: stop accepting connections, answer new requests on open connections with
 * 503, let running requests finish for GRACE_S seconds, then cancel them; DONE(ARG) is called
 * on the loop when no request is left (or a few seconds after the cancel at the latest). */
void sl_api_shutdown(sl_api *a, double grace_s, void (*done)(void *arg), void *arg);
int sl_api_active(const sl_api *a); /* requests in progress */
/* Stops MHD and closes the loop handles; the loop must then run until they are closed
 * (uv_run), after which sl_api_free releases the memory. */
void sl_api_close(sl_api *a);
void sl_api_free(sl_api *a);

#endif
