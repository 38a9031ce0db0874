/* server.c — libmicrohttpd driven by a libuv loop (the why is in api.h), request lifecycle,
 * replies, suspend/resume around the engine, disconnect watch, graceful shutdown. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "constraint.h"
#include "error.h"
#include "framing_guard.h"

static sl__conn *conn_of(struct MHD_Connection *c);

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double sl__now(void) { return now_s(); }

/* ---------------------------------------------------------------- logging */

void sl__log(sl_api *a, int level, const char *fmt, ...) {
    if (!a->cfg.log) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    a->cfg.log(a->cfg.log_ctx, level, msg);
}

void sl__scrub_path(char *msg, const char *dir, const char *repl) {
    size_t dl = dir ? strlen(dir) : 0, rl = strlen(repl);
    if (!dl || rl > dl) return;
    for (char *p = strstr(msg, dir); p; p = strstr(p, dir)) {
        size_t cut = dl + (!rl && p[dl] == '/');
        memcpy(p, repl, rl);
        memmove(p + rl, p + cut, strlen(p + cut) + 1);
        p += rl;
    }
}

static void mhd_logger(void *cls, const char *fmt, va_list ap) {
    sl_api *a = cls;
    if (!a->cfg.log) return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
    a->cfg.log(a->cfg.log_ctx, 0, msg); /* MHD's own chatter (client resets, ...) is debug level */
}

/* ---------------------------------------------------------------- replies */

static const char *error_type(int status) {
    switch (status) {
    case 400: case 413: case 422: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 405: return "invalid_request_error";
    case 429: return "rate_limit_error";
    case 503: return "service_unavailable";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

json_t *sl__error_json(int status, const char *code, const char *param, const char *msg) {
    json_t *e = json_object();
    json_object_set_new(e, "message", json_string(msg ? msg : ""));
    json_object_set_new(e, "type", json_string(error_type(status)));
    json_object_set_new(e, "code", code ? json_string(code) : json_null());
    json_object_set_new(e, "param", param ? json_string(param) : json_null());
    json_t *j = json_object();
    json_object_set_new(j, "error", e);
    return j;
}

struct MHD_Response *sl__response_json(json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s) return NULL;
    size_t n = strlen(s);
    /* Ownership: MHD frees S with free() when the response is destroyed. */
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(n, s, free);
    if (!r) {
        free(s);
        return NULL;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return r;
}

static enum MHD_Result queue(sl__req *q, int status, struct MHD_Response *r) {
    if (!r) return MHD_NO;
    if (q->status) { /* an answer is queued already: never a second status line */
        MHD_destroy_response(r);
        sl__log(q->api, 2, "%s %s: a second answer (%d after %d) was dropped", q->method, q->path, status, q->status);
        return MHD_YES;
    }
    sl__conn *k = conn_of(q->mhd);
    if (q->api->shutting_down || (k && k->reserve)) /* a reserve connection is not kept alive */
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    if (status == 429 || status == 503) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", q->api->cfg.retry_after_s > 0 ? q->api->cfg.retry_after_s : 1);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    enum MHD_Result ret = MHD_queue_response(q->mhd, (unsigned)status, r);
    MHD_destroy_response(r); /* MHD keeps its own reference until sent */
    if (ret == MHD_YES) q->status = status;
    return ret;
}

enum MHD_Result sl__reply(sl__req *q, int status, const char *ctype, const char *body, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    if (ctype) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return queue(q, status, r);
}

enum MHD_Result sl__reply_json(sl__req *q, int status, json_t *j) { return queue(q, status, sl__response_json(j)); }

enum MHD_Result sl__reply_error(sl__req *q, int status, const char *code, const char *param, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sl__reply_json(q, status, sl__error_json(status, code, param, msg));
}

enum MHD_Result sl__reply_err(sl__req *q, const sl__err *e) {
    return sl__reply_error(q, e->status, e->code[0] ? e->code : NULL, e->param[0] ? e->param : NULL, "%s", e->msg);
}

json_t *sl__body_json(sl__req *q, enum MHD_Result *ret) {
    sl__err e;
    json_t *j = sl__parse_body(q->body.p, q->body.len, &e);
    if (!j) *ret = sl__reply_err(q, &e);
    return j;
}

/* ---------------------------------------------------------------- driving MHD from the loop */

static void run_mhd(sl_api *a);

void sl__run_mhd(sl_api *a) { run_mhd(a); }

static void on_mhd_timer(uv_timer_t *t) { run_mhd(t->data); }

static void on_mhd_poll(uv_poll_t *p, int status, int events) { run_mhd(p->data); }

static void run_mhd(sl_api *a) {
    if (!a->mhd) return;
    MHD_run(a->mhd);
    /* At --max-connections MHD takes its listening socket out of its epoll set, and puts it
     * back only at the start of a run after a connection has closed. Nothing would wake the
     * loop for that run (an idle server: never), so new connections would wait in the
     * backlog for good: run once more as soon as there is room again. */
    if (a->at_limit && a->n_conns < a->cfg.max_connections) {
        a->at_limit = 0;
        MHD_run(a->mhd);
    }
    MHD_UNSIGNED_LONG_LONG to;
    if (MHD_get_timeout(a->mhd, &to) == MHD_YES) uv_timer_start(&a->mhd_timer, on_mhd_timer, (uint64_t)to, 0);
    else uv_timer_stop(&a->mhd_timer);
}

/* ---------------------------------------------------------------- waiting for the engine */

void sl__req_resume(sl__req *q) {
    if (q->suspended) {
        q->suspended = 0;
        MHD_resume_connection(q->mhd);
    }
}

static void resume(sl__req *q) { sl__req_resume(q); }

void sl__req_then(sl__req *q, sl__handler then) {
    if (q->completed) return;
    q->resume_fn = then;
    sl__req_resume(q);
}

static void client_left(sl__req *q) {
    if (q->client_gone) return;
    q->client_gone = 1;
    q->api->client_gone++;
    sl__log(q->api, 0, "client went away: %s %s", q->method, q->path);
    if (q->ereq) sl_engine_cancel(q->api->cfg.engine, q->ereq);
    resume(q); /* MHD then sees the dead socket and completes the request */
    run_mhd(q->api);
}

static int conn_fd(sl__req *q) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(q->mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

/* EOF on read (EPOLLRDHUP) is the end of the request, not yet a disconnect: a client may
 * shut down its sending side (shutdown(SHUT_WR)) and wait for the answer. Only a failed write
 * says the client is gone. A stream writes every token, so MHD sees that itself; a request
 * that has sent nothing yet sends an interim "HTTP/1.1 102 Processing" (which HTTP/1.1
 * clients must skip) before the real answer: to a closed socket it draws a reset, which the
 * deadline timer then finds (check_half_closed). HTTP/1.0 clients cannot take a 1xx: for
 * them EOF still means gone. */
static void on_disconnect(uv_poll_t *p, int status, int events) {
    sl__req *q = p->data;
    uv_poll_stop(p);
    if (q->client_gone) return;
    if (status < 0 || !q->http11 || (events & ~UV_DISCONNECT)) {
        client_left(q);
        return;
    }
    q->half_closed = 1;
    int fd = conn_fd(q);
    if (!q->status && !q->probed && fd >= 0) {
        static const char probe[] = "HTTP/1.1 102 Processing\r\n\r\n";
        q->probed = 1;
        if (send(fd, probe, sizeof probe - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) client_left(q);
    }
}

/* Deadline timer: a half-closed client whose socket has failed since (reset) is gone. */
static void check_half_closed(sl_api *a) {
    for (sl__req *q = a->reqs; q; q = q->next) {
        if (!q->half_closed || q->client_gone || q->completed) continue;
        int fd = conn_fd(q);
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        if (fd >= 0 && poll(&pf, 1, 0) == 1 && (pf.revents & (POLLERR | POLLHUP))) {
            client_left(q);
            return; /* the list may have changed */
        }
    }
}

static void watch_disconnect(sl__req *q) {
    if (q->poll_init) return;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(q->mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return;
    if (uv_poll_init(q->api->loop, &q->poll, ci->connect_fd) != 0) return;
    q->poll.data = q;
    q->poll_init = 1;
    q->holds++; /* released when the handle is closed */
    uv_poll_start(&q->poll, UV_DISCONNECT, on_disconnect);
}

void sl__req_wait(sl__req *q) {
    if (!q->suspended) {
        MHD_suspend_connection(q->mhd);
        q->suspended = 1;
    }
    watch_disconnect(q);
}

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    sl__req *q = cls;
    if (q->client_gone) return MHD_CONTENT_READER_END_WITH_ERROR;
    if (q->sse_off < q->sse.len) {
        size_t n = q->sse.len - q->sse_off;
        if (n > max) n = max;
        memcpy(buf, q->sse.p + q->sse_off, n);
        q->sse_off += n;
        if (q->sse_off == q->sse.len) q->sse_off = q->sse.len = 0;
        return (ssize_t)n;
    }
    if (q->sse_end) return MHD_CONTENT_READER_END_OF_STREAM;
    sl__req_wait(q); /* nothing to send: sleep until the engine has more (allowed in a reader) */
    return 0;
}

enum MHD_Result sl__reply_sse(sl__req *q) {
    /* Ownership: the response reads q->sse; MHD stops calling the reader before it reports
     * the request completed, and the request is freed only after that. */
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_reader, q, NULL);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    return queue(q, 200, r);
}

static void deliver(sl_api *a, sl_engine_req *r) {
    sl__req *q = sl_engine_req_user(r);
    if (!q || q->ereq != r) return; /* the HTTP side is gone already */
    sl_engine_out out;
    sl_engine_read(r, &out);
    sl__gen_on_output(q, &out);
    if (out.finished) {
        sl_engine_req_set_user(r, NULL);
        sl_engine_req_release(q->ereq);
        q->ereq = NULL;
    }
    if (q->pending || q->sse.len > q->sse_off || q->sse_end) resume(q);
}

static void on_async(uv_async_t *h) {
    sl_api *a = h->data;
    sl_engine_req *rs[64];
    int n;
    while ((n = sl_engine_take_ready(a->cfg.engine, rs, 64)) > 0) {
        for (int i = 0; i < n; i++) {
            deliver(a, rs[i]);
            sl_engine_req_release(rs[i]); /* the ready list's reference */
        }
    }
    run_mhd(a);
}

void sl_api_notify(sl_api *a) { uv_async_send(&a->async); }

/* ---------------------------------------------------------------- connections and their deadlines */

static sl__conn *conn_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void conn_deadline(sl_api *a, struct MHD_Connection *c, int seconds) {
    sl__conn *k = conn_of(c);
    if (k) k->deadline = seconds > 0 ? now_s() + seconds : 0;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **sctx, enum MHD_ConnectionNotificationCode code) {
    sl_api *a = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        sl__conn *k = calloc(1, sizeof *k);
        if (!k) return; /* untracked: MHD's own timeout still applies */
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        k->fd = ci ? ci->connect_fd : -1;
        k->deadline = a->cfg.request_timeout_s > 0 ? now_s() + a->cfg.request_timeout_s : 0;
        k->next = a->conns;
        if (a->conns) a->conns->prev = k;
        a->conns = k;
        a->n_conns++;
        if (a->n_conns >= a->cfg.max_connections) a->at_limit = 1;
        *sctx = k; /* ownership: freed below when MHD closes the connection */
        sl__client_address(c, k->addr, sizeof k->addr);
        int held = sl__address_conns(a, k->addr, +1);
        /* The last --reserved-connections: a short deadline to show a request that may use
         * them (check_reserve), and none for an address that already holds many connections
         * (whoever filled the rest cannot take these too). */
        int reserve = a->cfg.reserved_connections;
        if (reserve > a->cfg.max_connections / 4) reserve = a->cfg.max_connections / 4; /* at most a quarter */
        if (reserve > 0 && a->n_conns > a->cfg.max_connections - reserve) {
            k->reserve = 1;
            int most = reserve / 4 > 1 ? reserve / 4 : 1;
            if (held > most && k->fd >= 0) {
                k->cut = 1;
                a->reserve_refused++;
                shutdown(k->fd, SHUT_RDWR);
            } else {
                double t = a->cfg.request_timeout_s > 0 && a->cfg.request_timeout_s < SL__RESERVE_HEADERS_S
                               ? a->cfg.request_timeout_s : SL__RESERVE_HEADERS_S;
                k->deadline = now_s() + t;
            }
        }
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        sl__conn *k = *sctx;
        if (!k) return;
        if (k->prev) k->prev->next = k->next;
        else a->conns = k->next;
        if (k->next) k->next->prev = k->prev;
        a->n_conns--;
        sl__address_conns(a, k->addr, -1);
        free(k);
        *sctx = NULL;
    }
}

/* MHD has the request line of a new request: its headers (and JSON body) have
 * --request-timeout from now. Returns the initial request context: none (on_request makes it). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    sl_api *a = cls;
    sl__conn *k = conn_of(c);
    if (!k) return NULL;
    if (!k->reserve) conn_deadline(a, c, a->cfg.request_timeout_s); /* a reserve one keeps its short one */
    k->uri_too_long = k->uri_space = 0;
    k->uri_end = uri + strlen(uri);
    if (a->cfg.http_strictness >= 1 && strchr(uri, ' ')) k->uri_space = 1;
    char *qs = strchr(uri, '?');
    if (qs) {
        size_t n = strlen(qs + 1), args = 1;
        for (const char *p = qs + 1; *p; p++) args += *p == '&';
        if (n > SL__QUERY_MAX || args > SL__QUERY_ARGS) {
            /* MHD 0.9 next parses every argument into the connection's memory pool and, when
             * that runs out, neither answers nor closes. The query is cut here, in MHD's own
             * buffer (it is called before MHD parses the arguments, on the writable request
             * line), and on_request answers 414. */
            k->uri_too_long = 1;
            qs[1] = 0;
        }
    }
    return NULL;
}

/* A connection past its deadline is shut down; MHD then reads EOF and closes it (MHD 0.9 has
 * no call to close a connection from outside its callbacks). */
static void on_deadline_timer(uv_timer_t *t) {
    sl_api *a = t->data;
    double now = now_s();
    int cut = 0;
    check_half_closed(a);
    sl__upload_check_rates(a, now);
    for (sl__conn *k = a->conns; k; k = k->next) {
        if (k->cut || !k->deadline || now < k->deadline || k->fd < 0) continue;
        k->cut = 1;
        shutdown(k->fd, SHUT_RDWR);
        a->request_timeouts++;
        cut++;
    }
    if (cut) {
        sl__log(a, 1, "closed %d connection(s) that sent no complete request in time (--request-timeout %d s, "
                      "--connection-timeout %d s)", cut, a->cfg.request_timeout_s, a->cfg.connection_timeout_s);
        run_mhd(a);
    }
}

/* ---------------------------------------------------------------- request lifecycle */

static void count_status(sl_api *a, const sl__route *rt, int status) {
    int ri = rt ? (int)(rt - sl__routes) : -1;
    for (int i = 0; i < a->n_counts; i++) {
        if (a->counts[i].route == ri && a->counts[i].status == status) {
            a->counts[i].n++;
            return;
        }
    }
    if (a->n_counts < (int)(sizeof a->counts / sizeof a->counts[0])) {
        a->counts[a->n_counts].route = ri;
        a->counts[a->n_counts].status = status;
        a->counts[a->n_counts].n = 1;
        a->n_counts++;
    }
}

static void req_free(sl__req *q) {
    sl_buf_free(&q->body);
    sl_buf_free(&q->sse);
    if (q->pending) MHD_destroy_response(q->pending);
    sl__gen_free(q->gen);
    sl__sub_free(q->sub);
    sl__upload_free(q->up);
    if (q->op_free) q->op_free(q->op);
    free(q);
}

/* A request is freed when its last holder lets go: MHD (until completion), the disconnect
 * watch (until its handle is closed), work on the thread pool (until it is back). */
static void req_unhold(sl__req *q) {
    if (--q->holds == 0) req_free(q);
}

static void on_poll_closed(uv_handle_t *h) { req_unhold(h->data); }

/* Work of requests on libuv's thread pool (uploads' disk jobs and checks, deletes, adapter
 * loads and imports) goes through a gate per tenant when there are keys (without them all
 * requests act for one tenant, "default", which cannot be kept from itself): at most
 * SL__GATE_JOBS of one tenant's jobs are on the pool at a time, the rest wait in the gate,
 * in order. Without it a tenant with four uploads in flight (--max-uploads-per-tenant)
 * keeps four pool threads busy at once, and on a 2-core machine another tenant's upload
 * waits for CPU behind them (its check, the wake-up after each of its fsyncs): its median
 * latency was 4.3-6.0x its idle one under a stream of refused uploads, 2.7-3.4x with the
 * gate (test_hostile.py's measurement, A/B alternated, other work on the machine). A
 * tenant's own requests wait behind its jobs (an adapter load behind its uploads' writes). */
#define SL__GATE_JOBS 1

typedef struct offload offload;
struct sl__gate {
    struct sl__gate *next;
    char tenant[SL__NAME_MAX + 1];
    int running;           /* its jobs on the pool */
    offload *head, *tail;  /* its jobs waiting (owned) */
};

struct offload {
    uv_work_t w;
    offload *next;         /* in its gate's queue */
    sl__gate *gate;        /* NULL: none (out of memory for one) */
    sl__req *q;
    void (*work)(void *arg);
    void (*done)(sl__req *q, void *arg);
    void *arg;
    sl__handler then;
};

static void offload_work(uv_work_t *w) {
    offload *o = w->data;
    o->work(o->arg);
}

static void offload_done(uv_work_t *w, int status);

static int offload_start(sl_api *a, offload *o) {
    return uv_queue_work(a->loop, &o->w, offload_work, offload_done) == 0 ? 0 : SL_ENOMEM;
}

/* O's gate lets its next job go (loop thread); frees the gate when it is idle. */
static void gate_leave(sl_api *a, sl__gate *g) {
    if (!g) return;
    g->running--;
    while (g->head && g->running < SL__GATE_JOBS) {
        offload *n = g->head;
        g->head = n->next;
        if (!g->head) g->tail = NULL;
        g->running++;
        if (offload_start(a, n) != 0) abort(); /* uv_queue_work fails only without callbacks */
    }
    if (g->running || g->head) return;
    for (sl__gate **p = &a->gates; *p; p = &(*p)->next)
        if (*p == g) {
            *p = g->next;
            free(g);
            return;
        }
}

static void offload_done(uv_work_t *w, int status) {
    offload *o = w->data;
    sl__req *q = o->q;
    sl_api *a = q->api;
    gate_leave(a, o->gate); /* first: a job queued by DONE below waits behind the tenant's others */
    if (o->done) o->done(q, o->arg);
    else sl__req_then(q, o->then); /* the handler runs again, now with THEN */
    free(o);
    req_unhold(q);
    run_mhd(a);
}

static int offload_queue(sl__req *q, offload *o) {
    sl_api *a = q->api;
    sl__gate *g = NULL;
    if (a->keys) {
        for (g = a->gates; g && strcmp(g->tenant, q->tenant) != 0;) g = g->next;
        if (!g && (g = calloc(1, sizeof *g)) != NULL) {
            snprintf(g->tenant, sizeof g->tenant, "%s", q->tenant);
            g->next = a->gates;
            a->gates = g;
        }
    }
    o->gate = g;
    if (g && g->running >= SL__GATE_JOBS) { /* its turn comes in gate_leave */
        if (g->tail) g->tail->next = o;
        else g->head = o;
        g->tail = o;
    } else {
        if (offload_start(a, o) != 0) {
            if (g && !g->running && !g->head) { g->running = 1; gate_leave(a, g); } /* frees it */
            return SL_ENOMEM;
        }
        if (g) g->running++;
    }
    q->holds++;
    return 0;
}

int sl__req_queue(sl__req *q, void (*work)(void *arg), void (*done)(sl__req *q, void *arg), void *arg) {
    offload *o = calloc(1, sizeof *o);
    if (!o) return SL_ENOMEM;
    o->q = q;
    o->work = work;
    o->done = done;
    o->arg = arg;
    o->w.data = o;
    if (offload_queue(q, o) != 0) {
        free(o);
        return SL_ENOMEM;
    }
    return 0;
}

int sl__req_offload(sl__req *q, void (*work)(void *arg), void *arg, sl__handler then) {
    offload *o = calloc(1, sizeof *o);
    if (!o) return SL_ENOMEM;
    o->q = q;
    o->work = work;
    o->arg = arg;
    o->then = then;
    o->w.data = o;
    if (offload_queue(q, o) != 0) {
        free(o);
        return SL_ENOMEM;
    }
    sl__req_wait(q);
    return 0;
}

/* ---------------------------------------------------------------- authentication */

/* The key of C's 'Authorization: Bearer KEY' (*n bytes, not NUL-terminated), or NULL with
 * *why saying what is wrong. */
static const char *bearer_key(struct MHD_Connection *c, size_t *n, const char **why) {
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    *why = "missing API key: send 'Authorization: Bearer KEY'";
    if (!h) return NULL;
    while (*h == ' ' || *h == '\t') h++;
    if (strncasecmp(h, "Bearer", 6) || (h[6] != ' ' && h[6] != '\t')) {
        *why = "the Authorization header must be 'Bearer KEY'";
        return NULL;
    }
    const char *k = h + 7;
    while (*k == ' ' || *k == '\t') k++;
    size_t len = strlen(k);
    while (len && (k[len - 1] == ' ' || k[len - 1] == '\t')) len--;
    *why = "invalid API key";
    *n = len;
    return len ? k : NULL;
}

int sl__req_admin_key(sl__req *q) {
    sl_api *a = q->api;
    if (!a->keys) return 1; /* auth off: everything is the operator's */
    size_t n = 0;
    const char *why, *tenant, *k = bearer_key(q->mhd, &n, &why);
    int admin = 0;
    return k && sl_api_keys_check(a->keys, k, n, &tenant, &admin) == 0 && admin;
}

/* 0: Q acts for a tenant (set in q). Otherwise the 401 is queued and *ret is the result. */
static int authenticate(sl__req *q, struct MHD_Connection *c, enum MHD_Result *ret) {
    sl_api *a = q->api;
    if (!a->keys) {
        snprintf(q->tenant, sizeof q->tenant, "default");
        return 0;
    }
    size_t n = 0;
    const char *why, *tenant, *k = bearer_key(c, &n, &why);
    int admin;
    if (k && sl_api_keys_check(a->keys, k, n, &tenant, &admin) == 0) {
        snprintf(q->tenant, sizeof q->tenant, "%s", tenant);
        q->admin = admin;
        return 0;
    }
    a->auth_failures++;
    /* Ownership: queue() takes the response; the key is never logged or echoed. */
    struct MHD_Response *r = sl__response_json(sl__error_json(401, "invalid_api_key", NULL, why));
    if (r) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    *ret = queue(q, 401, r);
    return -1;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    sl_api *a = cls;
    sl__req *q = *con_cls;
    if (!q) return;
    *con_cls = NULL;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && !q->client_gone) {
        q->client_gone = 1;
        if (q->ereq) a->client_gone++;
    }
    if (q->ereq) {
        /* The client is gone before the end: stop the sequence, free its KV blocks. */
        sl_engine_cancel(a->cfg.engine, q->ereq);
        sl_engine_req_set_user(q->ereq, NULL);
        sl_engine_req_release(q->ereq);
        q->ereq = NULL;
    }
    int status = q->status ? q->status : 499; /* 499: closed by the client before a reply */
    if (q->client_gone && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && q->route && q->status == 200 && q->gen)
        status = 499;
    count_status(a, q->route, status);
    if (a->cfg.access) {
        sl_api_access acc = {.method = q->method, .path = q->path, .status = q->status,
                             .seconds = now_s() - q->t_start, .model = "", .finish = "",
                             .client_gone = q->client_gone};
        if (q->gen) sl__gen_summary(q->gen, &acc.model, &acc.prompt_tokens, &acc.completion_tokens, &acc.finish);
        a->cfg.access(a->cfg.log_ctx, &acc);
    }
    if (q->prev) q->prev->next = q->next;
    else a->reqs = q->next;
    if (q->next) q->next->prev = q->prev;
    a->n_active--;
    q->completed = 1;
    conn_deadline(a, c, a->cfg.connection_timeout_s); /* idle until the next request line */
    if (q->poll_init) uv_close((uv_handle_t *)&q->poll, on_poll_closed);
    req_unhold(q); /* MHD's hold */
    /* Shutdown progress is checked from shut_timer, never from here: DONE stops MHD, which
     * must not happen inside MHD_run (we are in its callback). */
}

typedef struct framing {
    int strict;              /* --http-strictness >= 1 */
    int authorization, content_length, transfer_encoding, host;
    int content_length_bad;  /* a Content-Length that is not 1*DIGIT below 2^63 */
    char bad[48];            /* the first header with a control byte (its name, cut) */
    const char *te;
} framing;

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                      const char *value, size_t value_size) {
    framing *f = cls;
    int bad = strlen(key) != key_size || (value && strlen(value) != value_size); /* a NUL inside */
    /* MHD 0.9 cuts a name or value at a NUL itself (its size is the strlen), so
     * "Bearer KEY\0junk" would pass for "Bearer KEY": in strict mode sl__head_check
     * (framing_guard.c) finds the bytes such a NUL hides, and bare LFs and folded lines. */
    for (size_t i = 0; i < key_size && !bad; i++) {
        unsigned char ch = (unsigned char)key[i];
        bad = ch <= 0x20 || ch >= 0x7f || ch == ':';
    }
    for (size_t i = 0; value && i < value_size && !bad; i++) {
        unsigned char ch = (unsigned char)value[i];
        bad = (ch < 0x20 && ch != '\t') || ch == 0x7f;
    }
    if (bad && !f->bad[0]) sl__printable_name(f->bad, sizeof f->bad, key, key_size);
    if (!strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION)) f->authorization++;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        f->content_length++;
        if (!sl__content_length_ok(value, value ? value_size : 0, NULL)) f->content_length_bad = 1;
    }
    if (!strcasecmp(key, MHD_HTTP_HEADER_HOST)) f->host++;
    if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        f->transfer_encoding++;
        f->te = value;
    }
    return MHD_YES;
}

/* A NUL sent inside the request target ends it for MHD 0.9 (the path and query it parses, and
 * on_uri's checks, stop there: "GET /v1/models\0junk" was served as /v1/models). MHD puts the
 * NUL that ends the target where the space before the version was, so the version starts right
 * after END, the target's first NUL; any other byte between them was hidden by a NUL. (A layout
 * other than that, the version before END, is not judged.) */
static int uri_hides_bytes(const char *end, const char *version) {
    return end && version && (uintptr_t)version > (uintptr_t)end + 1;
}

/* Strict framing (issue 17). 0: fine; else the 400/414 is queued and *ret is the result. */
static int check_framing(sl__req *q, struct MHD_Connection *c, const char *method, const char *version,
                         enum MHD_Result *ret) {
    sl__conn *k = conn_of(c);
    const char *why = NULL;
    int status = 400;
    char msg[200];
    framing f = {.strict = q->api->cfg.http_strictness >= 1};
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, framing_header, &f);
    /* The head's lines (strict mode): MHD itself takes a bare LF for CR LF and glues a folded
     * line onto the previous header's name ("X-A: a\r\n b" arrives as "X-Ab: a"). */
    char where[48];
    sl__head head = f.strict ? sl__head_check(c, method, version, where, sizeof where) : SL_HEAD_OK;
    if (head == SL_HEAD_UNKNOWN && !q->api->head_unknown_logged) {
        q->api->head_unknown_logged = 1;
        sl__log(q->api, 2, "this libmicrohttpd does not lay out request heads as 0.9.75 does: bare LFs, folded "
                           "header lines and NULs inside header lines are not refused (SECURITY.md, strict framing)");
    }
    if (k && k->uri_too_long) {
        status = 414;
        snprintf(msg, sizeof msg, "the query string is longer than %d bytes or has more than %d arguments (this API "
                 "takes none)", SL__QUERY_MAX, SL__QUERY_ARGS);
        why = msg;
    } else if (k && k->uri_space) {
        why = "the request target contains a space";
    } else if (f.strict && k && uri_hides_bytes(k->uri_end, version)) {
        why = "the request target contains a NUL byte";
    } else if (head == SL_HEAD_FOLDED) {
        int rl = !strcmp(where, "request line");
        snprintf(msg, sizeof msg, "folded header line (obs-fold: a line starting with a space or tab)%s%s%s",
                 !where[0] ? "" : rl ? " after the request line" : " after the header '", rl ? "" : where,
                 where[0] && !rl ? "'" : "");
        why = msg;
    } else if (head == SL_HEAD_BAD_LINE) {
        if (!strcmp(where, "request line")) snprintf(msg, sizeof msg, "the request line does not end in CR LF");
        else snprintf(msg, sizeof msg, "the line of the header '%s' does not end in CR LF right after its value (a "
                      "bare LF, or a NUL inside it)", where);
        why = msg;
    } else if (head == SL_HEAD_BAD_END) {
        why = "the last header line or the empty line after it ends in a bare LF, not CR LF";
    } else if (f.bad[0]) {
        snprintf(msg, sizeof msg, "the header '%s' contains a control character or NUL (or its name is not a token)", f.bad);
        why = msg;
    } else if (f.authorization > 1) {
        why = "more than one Authorization header";
    } else if (f.content_length > 1) {
        why = "more than one Content-Length header";
    } else if (f.content_length_bad) {
        /* MHD saw no Content-Length here (framing_guard.c hides it), so it did not answer this
         * itself (twice, in 0.9.75) and read no body: the connection is closed after this. */
        why = "malformed Content-Length: it must be a decimal number below 2^63";
    } else if (f.transfer_encoding && f.content_length) {
        why = "both Content-Length and Transfer-Encoding: send one of them";
    } else if (f.transfer_encoding > 1 || (f.te && strcasecmp(f.te, "chunked") != 0)) {
        why = "Transfer-Encoding must be 'chunked' (once)";
    } else if (q->api->cfg.http_strictness >= 1 && q->http11 && !f.host) {
        why = "an HTTP/1.1 request needs a Host header";
    }
    if (!why) return 0;
    q->api->bad_framing++;
    /* Ownership: queue() takes the response; the connection is closed after it (the rest of
     * what the client sent cannot be trusted to be framed right). */
    struct MHD_Response *r = sl__response_json(sl__error_json(status, status == 414 ? "uri_too_long" : "bad_request", NULL, why));
    if (r) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    *ret = queue(q, status, r);
    return -1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    sl_api *a = cls;
    sl__req *q = *con_cls;
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q) return MHD_NO;
        q->api = a;
        q->mhd = c;
        q->holds = 1; /* MHD's, until on_completed */
        q->t_start = now_s();
        snprintf(q->method, sizeof q->method, "%s", method);
        snprintf(q->path, sizeof q->path, "%s", url);
        q->next = a->reqs;
        if (a->reqs) a->reqs->prev = q;
        a->reqs = q;
        a->n_active++;
        *con_cls = q;
        q->http11 = version && !strcmp(version, MHD_HTTP_VERSION_1_1);
        /* Framing first, before routing or authentication: one 400 (414) for each mistake. */
        {
            enum MHD_Result ret;
            if (check_framing(q, c, method, version, &ret) != 0) return ret;
        }
        int path_known = 0;
        for (int i = 0; i < sl__n_routes; i++) {
            const sl__route *rt = &sl__routes[i];
            size_t pl = strlen(rt->path);
            if (rt->prefix ? strncmp(rt->path, url, pl) != 0 || !url[pl] : strcmp(rt->path, url) != 0) continue;
            path_known = 1;
            if (strcmp(rt->method, method) != 0) continue;
            q->route = rt;
            if (rt->prefix) {
                size_t n = strlen(url + pl);
                q->param_long = n >= sizeof q->param;
                snprintf(q->param, sizeof q->param, "%s", q->param_long ? "" : url + pl);
            }
        }
        if (!q->route) {
            if (path_known) return sl__reply_error(q, 405, "method_not_allowed", NULL, "%s is not allowed on %s", method, q->path);
            return sl__reply_error(q, 404, "not_found", NULL, "no route %s %s", method, q->path);
        }
        if (a->shutting_down) return sl__reply_error(q, 503, "shutting_down", NULL, "the server is shutting down");
        if (!q->route->open) {
            enum MHD_Result ret;
            if (authenticate(q, c, &ret) != 0) return ret;
        } else {
            snprintf(q->tenant, sizeof q->tenant, "default");
        }
        sl__conn *k = conn_of(c);
        if (k && k->reserve && (q->route->begin || q->route->handler == sl__handle_load_lora)) {
            a->reserve_refused++;
            return sl__reply_error(q, 503, "server_busy", NULL,
                                   "the server is at its connection limit: its last connections serve only "
                                   "/health, /metrics and requests other than uploads; retry later");
        }
        if (q->route->begin) { /* streaming body: its own limits, and MHD's inactivity timeout */
            conn_deadline(a, c, 0);
            return q->route->begin(q);
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(cl, &end, 10);
            if (errno || *end || v > a->cfg.max_body_bytes)
                return sl__reply_error(q, 413, "body_too_large", NULL, "the request body is larger than %zu bytes",
                                       a->cfg.max_body_bytes);
        }
        return MHD_YES;
    }
    if (*upload_data_size && q->route && q->route->data && !q->status) return q->route->data(q, upload_data, upload_data_size);
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (q->too_big) {
            /* Discarded; answered with 413 once the body is in (MHD cannot queue a reply in
             * the middle of an upload). A client that goes on far past the limit is cut off. */
            q->discarded += n;
            return q->discarded > 64 * a->cfg.max_body_bytes ? MHD_NO : MHD_YES;
        }
        if (q->body.len + n > a->cfg.max_body_bytes) {
            q->too_big = 1;
            sl_buf_free(&q->body);
            return MHD_YES;
        }
        if (sl_buf_put(&q->body, upload_data, n) != 0) return MHD_NO;
        return MHD_YES;
    }
    if (q->client_gone) return MHD_NO;
    if (q->pending) { /* a deferred (non-streaming) response is ready */
        struct MHD_Response *r = q->pending;
        q->pending = NULL;
        return queue(q, q->pending_status, r);
    }
    if (q->resume_fn) { /* work done off the loop (sl__req_offload): go on */
        sl__handler fn = q->resume_fn;
        q->resume_fn = NULL;
        return fn(q);
    }
    if (q->dispatched) { /* resumed before the answer was ready: wait again */
        sl__req_wait(q);
        return MHD_YES;
    }
    q->dispatched = 1;
    conn_deadline(a, c, 0); /* the request is in: from here MHD's inactivity timeout only */
    if (q->too_big)
        return sl__reply_error(q, 413, "body_too_large", NULL, "the request body is larger than %zu bytes",
                               a->cfg.max_body_bytes);
    return q->route->handler(q);
}

/* ---------------------------------------------------------------- URL decoding */

static int hexdigit(int c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* MHD's percent-decoding (of the path and the query), except that %00 stays as it is: MHD's
 * own would end the string there, so /v1/adapters/x%00y would silently address "x". Left
 * undecoded, it is an invalid name (400). */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s) {
    char *w = s;
    for (const char *r = s; *r;) {
        int hi, lo;
        if (r[0] == '%' && (hi = hexdigit(r[1])) >= 0 && (lo = hexdigit(r[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi << 4 | lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

/* ---------------------------------------------------------------- listen socket */

static int open_listener(sl_api *a, const char *spec, char *err, size_t errlen) {
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec)
        return sl__errf(err, errlen, SL_EINVAL, "--listen '%s': expected HOST:PORT", spec);
    size_t hl = (size_t)(colon - spec);
    const char *h = spec;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof host) return sl__errf(err, errlen, SL_EINVAL, "--listen '%s': host too long", spec);
    memcpy(host, h, hl);
    host[hl] = 0;
    const char *port = colon + 1;
    char *end;
    long pv = strtol(port, &end, 10);
    if (!*port || *end || pv < 0 || pv > 65535)
        return sl__errf(err, errlen, SL_EINVAL, "--listen '%s': bad port", spec);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gai != 0) return sl__errf(err, errlen, SL_EINVAL, "--listen '%s': %s", spec, gai_strerror(gai));
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 511) == 0) break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) return sl__errf(err, errlen, SL_EIO, "--listen '%s': %s", spec, strerror(e));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    int bport = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
            bport = ntohs(s6->sin6_port);
            snprintf(a->address, sizeof a->address, "[%s]:%d", ip, bport);
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
            bport = ntohs(s4->sin_port);
            snprintf(a->address, sizeof a->address, "%s:%d", ip, bport);
        }
    }
    a->listen_fd = fd;
    return 0;
}

/* ---------------------------------------------------------------- public */

int sl_api_init(sl_api **out, uv_loop_t *loop, const sl_api_config *cfg, char *err, size_t errlen) {
    *out = NULL;
    sl_api *a = calloc(1, sizeof *a);
    if (!a) return sl__errf(err, errlen, SL_ENOMEM, "out of memory");
    a->cfg = *cfg;
    if (a->cfg.max_connections <= 0) a->cfg.max_connections = 1024;
    a->keys = cfg->keys; /* ownership: ours from here on, even on failure */
    a->cfg.keys = NULL;
    a->loop = loop;
    a->listen_fd = -1;
    a->started = time(NULL);
    int rc = 0;
    if (cfg->tok && cfg->model) { /* structured outputs: the token trie once, a cache of 16 compiled constraints */
        rc = sl_cvocab_init(&a->cvocab, cfg->tok, sl_model_get_config(cfg->model)->vocab, err, errlen);
        if (!rc) rc = sl_constraint_cache_init(&a->constraints, a->cvocab, 16);
        if (rc) {
            sl_api_free(a);
            return rc;
        }
    }
    rc = open_listener(a, cfg->listen, err, errlen);
    if (rc) {
        sl_api_free(a);
        return rc;
    }
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    a->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, a,
                              MHD_OPTION_LISTEN_SOCKET, (MHD_socket)a->listen_fd,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
                              MHD_OPTION_NOTIFY_CONNECTION, on_connection, a,
                              MHD_OPTION_URI_LOG_CALLBACK, on_uri, a,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)a->cfg.max_connections,
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                              (unsigned)(cfg->max_connections_per_ip > 0 ? cfg->max_connections_per_ip : 0),
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(cfg->connection_timeout_s > 0 ? cfg->connection_timeout_s : 0),
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                              (size_t)(cfg->connection_memory ? cfg->connection_memory : 32768),
                              /* Level 1: MHD's level 0 plus our own checks (check_framing), which answer
                               * exactly once where MHD 0.9.75's answer the Host check twice. */
                              MHD_OPTION_STRICT_FOR_CLIENT, (int)(cfg->http_strictness > 0 ? 0 : cfg->http_strictness),
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, a,
                              MHD_OPTION_UNESCAPE_CALLBACK, unescape, a,
                              MHD_OPTION_END);
    if (!a->mhd) {
        close(a->listen_fd);
        sl_api_free(a);
        return sl__errf(err, errlen, SL_EIO, "cannot start the HTTP server on %s", cfg->listen);
    }
    if (!sl__framing_guard_active())
        sl__log(a, 2, "this libmicrohttpd binds its own header lookups (built with -Bsymbolic?): it answers a "
                      "malformed Content-Length itself, with its status line and headers written twice in 0.9.75 "
                      "(SECURITY.md, strict framing)");
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    uv_poll_init(loop, &a->mhd_poll, di->epoll_fd);
    uv_timer_init(loop, &a->mhd_timer);
    uv_timer_init(loop, &a->shut_timer);
    uv_timer_init(loop, &a->deadline_timer);
    uv_async_init(loop, &a->async, on_async);
    a->mhd_poll.data = a->mhd_timer.data = a->shut_timer.data = a->deadline_timer.data = a->async.data = a;
    a->handles_open = 1;
    uv_poll_start(&a->mhd_poll, UV_READABLE, on_mhd_poll);
    uv_timer_start(&a->deadline_timer, on_deadline_timer, 250, 250); /* also half-closes and upload rates */
    run_mhd(a);
    *out = a;
    return 0;
}

const char *sl_api_address(const sl_api *a) { return a->address; }
int sl_api_active(const sl_api *a) { return a->n_active; }

static void check_shutdown(sl_api *a) {
    if (!a->shutting_down || !a->shut_done) return;
    double t = now_s();
    int busy = 0;
    for (sl__req *q = a->reqs; q; q = q->next)
        if (q->dispatched && !q->client_gone) busy = 1;
    if (busy && !a->cancelled && t >= a->shut_deadline) {
        sl__log(a, 2, "shutdown: grace period over, cancelling %d request(s)", a->n_active);
        a->cancelled = 1;
        sl_engine_cancel_all(a->cfg.engine);
    }
    if (!busy || t >= a->shut_hard_deadline) {
        void (*done)(void *) = a->shut_done;
        a->shut_done = NULL;
        uv_timer_stop(&a->shut_timer);
        done(a->shut_arg);
    }
}

static void on_shut_timer(uv_timer_t *t) { check_shutdown(t->data); }

void sl_api_shutdown(sl_api *a, double grace_s, void (*done)(void *), void *arg) {
    if (a->shutting_down) return;
    a->shutting_down = 1;
    a->shut_done = done;
    a->shut_arg = arg;
    a->shut_deadline = now_s() + grace_s;
    a->shut_hard_deadline = a->shut_deadline + 5.0;
    if (a->mhd) {
        MHD_socket fd = MHD_quiesce_daemon(a->mhd); /* no more accepts */
        if (fd != MHD_INVALID_SOCKET) close(fd);
        a->listen_fd = -1;
    }
    uv_timer_start(&a->shut_timer, on_shut_timer, 0, 50);
}

static void on_handle_closed(uv_handle_t *h) { (void)h; }

void sl_api_close(sl_api *a) {
    if (!a) return;
    /* MHD must not be stopped with suspended connections: resume them all first. */
    for (sl__req *q = a->reqs; q; q = q->next) {
        if (q->ereq) sl_engine_cancel(a->cfg.engine, q->ereq);
        q->client_gone = 1;
        resume(q);
    }
    if (a->handles_open) uv_poll_stop(&a->mhd_poll); /* before MHD closes its epoll fd */
    if (a->mhd) {
        MHD_run(a->mhd);
        MHD_stop_daemon(a->mhd); /* completes (on_completed) every open request */
        a->mhd = NULL;
    }
    if (a->listen_fd >= 0) close(a->listen_fd);
    a->listen_fd = -1;
    if (a->handles_open) {
        a->handles_open = 0;
        uv_close((uv_handle_t *)&a->mhd_poll, on_handle_closed);
        uv_close((uv_handle_t *)&a->mhd_timer, on_handle_closed);
        uv_close((uv_handle_t *)&a->shut_timer, on_handle_closed);
        uv_close((uv_handle_t *)&a->deadline_timer, on_handle_closed);
        uv_close((uv_handle_t *)&a->async, on_handle_closed);
    }
}

int sl_api_set_keys(sl_api *a, sl_api_keys *k) {
    if (!k) return SL_EINVAL;
    sl_api_keys_free(a->keys);
    a->keys = k;
    return 0;
}

void sl_api_free(sl_api *a) {
    if (!a) return;
    sl__quota_free_all(a);
    sl__upload_spare_free(a);
    sl_api_keys_free(a->keys);
    sl_constraint_cache_free(a->constraints);
    sl_cvocab_free(a->cvocab);
    free(a);
}
