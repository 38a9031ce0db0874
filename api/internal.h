/* internal.h — what the api/ files share: the server, one HTTP request's state, reply helpers.
 * Everything here lives on the loop thread. */
#ifndef SL_API_INTERNAL_H
#define SL_API_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>
#include <uv.h>

#include "api.h"
#include "request.h"

#define SL__NAME_MAX 64 /* SL_STORE_NAME_MAX */
#define SL__QUERY_MAX 1024 /* longest query string (no route takes one): longer gets 414 */
#define SL__QUERY_ARGS 64  /* most query arguments: more get 414 */

typedef struct sl__req sl__req;
typedef enum MHD_Result (*sl__handler)(sl__req *q);

/* One row of the route table. */
typedef struct sl__route {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* exact path; with prefix, what the path starts with (the rest: q->param) */
    sl__handler handler; /* runs once the whole body is in */
    int body;           /* 1: the handler wants the request body (JSON) */
    int prefix;
    int open;           /* 1: no API key needed (/health, /metrics) */
    /* Streaming bodies (uploads): BEGIN runs when the headers are in (after auth; it may
     * answer at once, e.g. 413 from Content-Length), DATA for every piece of the body (it sets
     * *size to what it consumed), instead of the body being buffered in q->body. */
    sl__handler begin;
    enum MHD_Result (*data)(sl__req *q, const char *data, size_t *size);
    const char *name;   /* label in metrics */
} sl__route;

extern const sl__route sl__routes[];
extern const int sl__n_routes;

/* 1 if Q carries a valid admin key (or auth is off); for open routes that show more to admins. */
int sl__req_admin_key(sl__req *q);

/* Generation state of a completion request (api/generate.c); opaque to the server. */
typedef struct sl__gen sl__gen;
/* A generation request parsed and waiting to be submitted (e.g. while its adapter loads). */
typedef struct sl__sub sl__sub;
void sl__sub_free(sl__sub *s);
/* An adapter upload in progress (api/upload.c). */
typedef struct sl__upload sl__upload;
void sl__upload_free(sl__upload *u);
void sl__upload_spare_free(sl_api *a); /* the staging chunks kept for reuse (sl_api_free) */

struct sl__req {
    sl_api *api;
    struct MHD_Connection *mhd;
    const sl__route *route;
    char method[8];
    char path[128];
    double t_start;
    sl__req *next, *prev; /* the server's list of requests in progress */
    char tenant[SL__NAME_MAX + 1]; /* who the request acts for ("default" without keys) */
    int admin;
    char param[256];      /* prefix routes: the rest of the (decoded) path */
    int param_long;       /* ... which did not fit in param */

    sl_buf body;         /* request body (bounded by max_body_bytes) */
    int too_big;
    size_t discarded;     /* body bytes dropped after too_big */
    int dispatched;
    int status;           /* HTTP status queued, for metrics and the access log */

    /* Waiting for the engine. */
    sl_engine_req *ereq;  /* our reference; NULL once finished and read */
    int suspended;
    int client_gone;
    uv_poll_t poll;       /* disconnect watch while waiting (see api.h) */
    int poll_init;

    /* Output of a generation: a full response made later (non-streaming) or SSE bytes. */
    struct MHD_Response *pending; /* non-streaming: ready to queue on the next handler call */
    int pending_status;
    sl_buf sse;          /* streaming: bytes not yet handed to MHD */
    size_t sse_off;
    int sse_end;          /* the last event is in sse */
    sl__gen *gen;         /* owned; freed with the request */
    sl__sub *sub;         /* owned until submitted */
    sl__upload *up;       /* owned; PUT /v1/adapters/{name} */
    void *op;             /* a route's own state across offloaded work; freed with op_free */
    void (*op_free)(void *op);
    sl__handler resume_fn; /* set by sl__req_offload: what the handler does when called again */
    int holds;            /* freed at 0: MHD, the disconnect watch, offloaded work */
    int http11;           /* an HTTP/1.1 request (it may get an interim 1xx answer) */
    int half_closed;      /* the client shut its sending side (EOF on read): still answered */
    int probed;           /* a "102 Processing" went out to tell a half-close from a close */
    int completed;        /* MHD reported the request done */
};

/* api/quota.c: upload slots per tenant and per address, stored-bytes and adapter-count
 * quotas per tenant (see there). */
typedef struct sl__holder sl__holder;
typedef struct sl__slot {
    int held;                       /* counted in the holders; release exactly once */
    char tenant[SL__NAME_MAX + 1];
    char addr[48];
    uint64_t reserved;              /* bytes reserved for this upload */
    uint64_t replaces;              /* bytes of the version it replaces (0: a new name) */
    int is_new;
} sl__slot;
#define SL__RESERVE_ROOM UINT64_MAX
/* Takes an upload slot and reserves DECLARED bytes (0: unknown yet; SL__RESERVE_ROOM: all the
 * room the quota leaves, at most --max-adapter-bytes, in s->reserved) for TENANT/NAME: 0, or -1
 * with STATUS (429: no slot; 413: a quota), CODE and MSG to answer. */
int sl__upload_admit(sl__req *q, const char *tenant, const char *name, uint64_t declared, sl__slot *s, int *status,
                     char *code, size_t codelen, char *msg, size_t msglen);
/* Grows the reservation to TOTAL bytes as a body arrives: -1 with MSG when over the quota. */
int sl__upload_reserve(sl__req *q, sl__slot *s, uint64_t total, char *msg, size_t msglen);
void sl__upload_release(sl_api *a, sl__slot *s);
/* Deadline timer (api/upload.c): cuts uploads that average less than --upload-min-rate. */
void sl__upload_check_rates(sl_api *a, double now);
void sl__quota_free_all(sl_api *a);
/* The limit Q of TENANT: the keys file's value, else the server's default (0: none). */
int64_t sl__tenant_limit(const sl_api *a, const char *tenant, sl_quota q);
/* TENANT's stored bytes (current versions, weights + config) and adapter count. */
void sl__tenant_usage(sl_api *a, const char *tenant, uint64_t *bytes, int *adapters);
int sl__tenant_uploads(sl_api *a, const char *tenant);
/* Open connections of address ADDR after adding DELTA (api/quota.c keeps the count). */
int sl__address_conns(sl_api *a, const char *addr, int delta);
/* The client's address as text ("?" when unknown). */
void sl__client_address(struct MHD_Connection *c, char *out, size_t n);

/* One TCP connection (MHD's socket context): the deadline of --request-timeout. MHD's own
 * timeout counts inactivity only, so a client sending a byte now and then never meets it; this
 * one is a total: from the accept (or from the request line of a keep-alive connection's next
 * request) until the headers and a JSON body are in. Between requests the deadline is the
 * idle limit (--connection-timeout), also total. While a request is handled there is none:
 * streams and uploads are bounded by MHD's inactivity timeout instead. */
typedef struct sl__gate sl__gate;

typedef struct sl__conn {
    struct sl__conn *next, *prev;
    int fd;
    double deadline;      /* monotonic seconds; 0: none */
    int cut;              /* shut down for missing it */
    /* Found in the request line by on_uri (MHD would fail on them without an answer, or answer
     * twice): answered by on_request, exactly once. */
    int uri_too_long;     /* the query string is over SL__QUERY_MAX bytes or SL__QUERY_ARGS arguments */
    int uri_space;        /* a space in the request target (strict mode) */
    const char *uri_end;  /* the request target's end as on_uri saw it (its first NUL), in MHD's buffer */
    int reserve;          /* accepted into the last --reserved-connections */
    char addr[48];        /* the client's address */
} sl__conn;
#define SL__RESERVE_HEADERS_S 2 /* a reserve connection's time to send its request (at most --request-timeout) */

struct sl_api {
    sl_api_config cfg;
    struct sl_cvocab *cvocab;                /* token bytes for structured outputs (owned) */
    struct sl_constraint_cache *constraints; /* compiled structured outputs (owned) */
    uv_loop_t *loop;
    struct MHD_Daemon *mhd;
    int listen_fd;
    char address[80];
    time_t started;       /* Unix time, the base model's "created" */
    uv_poll_t mhd_poll;   /* MHD's epoll fd */
    uv_timer_t mhd_timer; /* MHD's timeouts */
    uv_async_t async;     /* engine output ready */
    uv_timer_t shut_timer;
    uv_timer_t deadline_timer; /* checks the sl__conn deadlines */
    int handles_open;
    sl__conn *conns;      /* every open connection (owned; freed when MHD closes it) */
    int n_conns;
    int at_limit;         /* n_conns reached max_connections: MHD stopped accepting (see run_mhd) */
    uint64_t request_timeouts; /* connections cut for missing their deadline */
    sl__req *reqs;        /* requests in progress */
    int n_active;
    int shutting_down;
    int cancelled;        /* grace expired, engine cancel_all sent */
    double shut_deadline, shut_hard_deadline;
    void (*shut_done)(void *);
    void *shut_arg;
    /* Metrics kept by the server (the engine keeps its own). */
    struct {
        int route; /* index in sl__routes, -1 none */
        int status;
        uint64_t n;
    } counts[128];
    int n_counts;
    uint64_t client_gone;
    uint64_t rejected_busy;
    uint64_t auth_failures;
    sl_api_keys *keys;    /* owned; NULL: authentication off */
    sl__holder *holders;  /* api/quota.c: tenants and addresses with uploads in progress (owned) */
    struct sl__up_chunk *upload_spare; /* api/upload.c: staging chunks kept for reuse (loop thread; owned) */
    int upload_spare_n;
    int uploads_active;
    uint64_t uploads_refused; /* 429 for want of an upload slot, 413 over a quota */
    uint64_t uploads_too_slow; /* cut below --upload-min-rate */
    uint64_t bad_framing;      /* requests refused by check_framing (400/414) */
    int head_unknown_logged;   /* check_framing could not check a head's lines (logged once) */
    uint64_t reserve_refused;  /* reserve connections closed or refused (503) */
    struct sl__gate *gates;    /* tenants with pool jobs running or waiting (server.c, owned) */
};

void sl__log(sl_api *a, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
double sl__now(void); /* monotonic seconds */
/* Replaces every DIR in MSG (with the '/' after it when REPL is "") by REPL, in place: client-
 * visible messages name no server path. */
void sl__scrub_path(char *msg, const char *dir, const char *repl);

/* Replies (all return what the MHD handler should return). BODY is copied. */
enum MHD_Result sl__reply(sl__req *q, int status, const char *content_type, const char *body, size_t len);
/* JSON reply; takes ownership of J (decref'ed). */
enum MHD_Result sl__reply_json(sl__req *q, int status, json_t *j);
/* The one error helper: {"error": {"message", "type", "code", "param"}} with STATUS.
 * TYPE and PARAM may be NULL (TYPE then follows from STATUS). */
enum MHD_Result sl__reply_error(sl__req *q, int status, const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The reply of a refusal found by the parsers of request.h. */
enum MHD_Result sl__reply_err(sl__req *q, const sl__err *e);
/* The same JSON object, for an SSE error event or a deferred response. */
json_t *sl__error_json(int status, const char *code, const char *param, const char *msg);
struct MHD_Response *sl__response_json(json_t *j); /* takes J */

/* Parses the request body as a JSON object; on failure replies 400 and returns NULL
 * (then *ret is what the handler returns). */
json_t *sl__body_json(sl__req *q, enum MHD_Result *ret);

/* Waiting for the engine: suspend until output arrives (sl__gen_on_output is then called). */
void sl__req_wait(sl__req *q);
/* Runs WORK(ARG) on libuv's thread pool while Q waits suspended; when it is back, the
 * handler runs THEN(q) instead of the route's handler (not if the client went away).
 * ARG must stay valid until then; free it with the request (e.g. in q->sub). */
int sl__req_offload(sl__req *q, void (*work)(void *arg), void *arg, sl__handler then);
/* The general form: WORK(ARG) on the thread pool, then DONE(Q, ARG) on the loop (also when the
 * request has completed meanwhile: check q->completed). The request is held until DONE
 * returns; DONE decides whether to resume (sl__req_resume, sl__req_then). */
int sl__req_queue(sl__req *q, void (*work)(void *arg), void (*done)(sl__req *q, void *arg), void *arg);
/* Resumes a suspended request; with THEN the handler runs THEN(q) when MHD calls it next
 * (with no body data left). */
void sl__req_resume(sl__req *q);
void sl__req_then(sl__req *q, sl__handler then);
/* Tells MHD to look at its connections again (after a resume outside its callbacks). */
void sl__run_mhd(sl_api *a);
/* Starts an SSE response whose bytes come from q->sse. */
enum MHD_Result sl__reply_sse(sl__req *q);

/* api/generate.c */
enum MHD_Result sl__handle_completions(sl__req *q);
enum MHD_Result sl__handle_chat(sl__req *q);
/* New output of q->ereq: format it (SSE bytes or the final response). */
void sl__gen_on_output(sl__req *q, const sl_engine_out *out);
void sl__gen_free(sl__gen *g);
/* For the access log. */
void sl__gen_summary(const sl__gen *g, const char **model, int *prompt_tokens, int *completion_tokens,
                     const char **finish);

/* api/adapters.c: the adapter REST API. REF is what the client wrote ("name", or
 * "tenant/name" for an admin); fills TENANT and NAME. 0 ok; SL_EINVAL: not a valid name
 * (the caller answers 400, or 404 for a "model"); SL_ENOENT: another tenant's, for a
 * non-admin (answer exactly as for a missing adapter). */
int sl__resolve_adapter(const sl__req *q, const char *ref, char tenant[SL__NAME_MAX + 1], char name[SL__NAME_MAX + 1]);
enum MHD_Result sl__handle_adapters_list(sl__req *q);
enum MHD_Result sl__handle_adapter_get(sl__req *q);
enum MHD_Result sl__handle_adapter_delete(sl__req *q);
enum MHD_Result sl__handle_load_lora(sl__req *q);
enum MHD_Result sl__handle_unload_lora(sl__req *q);
/* The JSON of an adapter as the API shows it (upload reply, GET). */
struct sl_store_entry;
json_t *sl__adapter_json(const struct sl_store_entry *e, int pinned, int resident, size_t resident_bytes);
/* api/upload.c: PUT /v1/adapters/{name} */
enum MHD_Result sl__upload_begin(sl__req *q);
enum MHD_Result sl__upload_data(sl__req *q, const char *data, size_t *size);
enum MHD_Result sl__upload_end(sl__req *q);
/* Thread pool: the end of every upload (PUT and load_lora_adapter). Flushes TXN (ownership
 * passes: it is committed or aborted), validates it against the base model, commits it as
 * the next version of TENANT/NAME and publishes it. RESOLVED (RESOLVED_LEN bytes): the config
 * to store, its module patterns already evaluated (upload.c checks a PUT's config before
 * writing anything); NULL: read TXN's config and evaluate them here. On failure
 * *status/code/err say what to answer (422 for an adapter that does not fit, 507 for a full
 * disk). */
struct sl_store_txn;
int sl__upload_commit(sl_api *a, struct sl_store_txn *txn, const char *tenant, const char *name,
                      const char *resolved, size_t resolved_len, struct sl_store_entry *e, int *created,
                      size_t *resident_bytes, int *status, char *code,
                      size_t codelen, char *err, size_t errlen);

/* api/routes.c */
enum MHD_Result sl__handle_health(sl__req *q);
enum MHD_Result sl__handle_models(sl__req *q);
enum MHD_Result sl__handle_tokenize(sl__req *q);
enum MHD_Result sl__handle_detokenize(sl__req *q);
enum MHD_Result sl__handle_apply_template(sl__req *q);
enum MHD_Result sl__handle_metrics(sl__req *q);

/* Shared JSON helpers: fetch FIELD of OBJ with a type check; on a type error reply 400
 * naming the field and return -1 (*ret set); 0 absent/null (default kept); 1 found. */
int sl__json_int(sl__req *q, json_t *obj, const char *field, long long lo, long long hi, long long *out,
                 enum MHD_Result *ret);
int sl__json_num(sl__req *q, json_t *obj, const char *field, double lo, double hi, double *out,
                 enum MHD_Result *ret);
int sl__json_bool(sl__req *q, json_t *obj, const char *field, int *out, enum MHD_Result *ret);
int sl__json_str(sl__req *q, json_t *obj, const char *field, const char **out, enum MHD_Result *ret);
/* Parses messages[] into (role, content) pairs (content parts of type "text" are joined).
 * *msgs is malloc'ed; the strings point into OBJ or into *texts (free with free()). */

#endif
