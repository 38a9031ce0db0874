/* upload.c — PUT /v1/adapters/{name}: a multipart/form-data body (parts `config` and
 * `weights`, as `curl -F config=@adapter_config.json -F weights=@adapter_model.safetensors`
 * sends them) parsed by libmicrohttpd's own PostProcessor and streamed into a store upload
 * transaction (lib/store.h), then validated against the base model, committed durably and
 * published to the registry before the 201/200 goes out. The body is never held whole in
 * memory: at most UP_HIGH_WATER bytes per upload wait for the disk.
 *
 * Where the disk work runs. Everything that touches the disk runs on libuv's thread pool, one
 * job at a time per upload (so the parts reach the files in order): creating the transaction,
 * every write, the fsyncs, the validation, the commit, an abort. The loop thread only copies
 * the PostProcessor's output into staging chunks; pieces that arrive while a job runs are
 * batched into the next job. We measured the alternative, write(2) of each piece straight
 * from the MHD callback on the loop thread (an experiment build; 2-vCPU VM, ext4, an 80 MB
 * adapter uploaded with curl -F while one token stream runs at one token per 6 ms): the
 * stream's largest inter-token gap during the upload was 79, 174 and 300 ms in three runs,
 * against 12.4 ms before the upload. write(2) into the page cache is usually microseconds,
 * but once an upload has dirtied enough memory it blocks in writeback throttling
 * (balance_dirty_pages) and the journal, and with it every connection of the loop. Queued as
 * here, the largest gaps were 12.4, 15.5 and 24.7 ms (the second core is shared by curl, the
 * client and the validation) for the same upload times (300-600 ms for 80 MB, ~150-250 MB/s).
 * When the disk falls behind, the staging buffer reaches UP_HIGH_WATER and the connection is
 * suspended (MHD stops reading it: TCP backpressure to the client) until the job in flight is
 * done, so an upload holds at most ~UP_HIGH_WATER + one job's chunks in memory.
 *
 * The config part is not staged for the disk: it is kept in memory (at most SL__CONFIG_MAX)
 * and checked (its module patterns evaluated, check in job_work) by the first job after it
 * is complete, before that job writes anything; with the config first, as clients send it,
 * a refused config never creates a file (before, a stream of refused uploads made and removed
 * ~800 upload directories a second).
 * Jobs pass the per-tenant gate of sl__req_queue (server.c): one job of a tenant at a time.
 *
 * Limits: --max-adapter-bytes bounds the whole body. With a Content-Length above it the 413
 * goes out before anything is read when the client waits for it (Expect: 100-continue) or
 * the body is more than UP_DISCARD_MAX past the limit; otherwise the client is already
 * sending, and a reply sent at once raced its writes (curl -F of a 200 KB file over a
 * 195 KB limit saw "Send failure: Broken pipe", not the 413), so that body is read and
 * dropped and the 413 sent once it is in, as for a failure mid-body. A chunked body is stopped as soon as it passes the limit:
 * nothing more is written, the transaction is aborted at once. MHD 0.9 cannot queue a reply
 * while a body is still arriving, so the 413 itself is sent when the client has finished;
 * a client that sends more than UP_DISCARD_MAX beyond the limit is disconnected. The same
 * holds for every other error found mid-body (an unknown or repeated part).
 *
 * Every failure answers 4xx/5xx with a message naming what is wrong, aborts the transaction
 * (its directory under STORE/.tmp is gone before the reply is sent) and leaves the previous
 * version current. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "adapter.h"
#include "error.h"
#include "internal.h"
#include "registry.h"
#include "store.h"

#define UP_CHUNK (256 * 1024)             /* staging chunk size */
#define UP_SPARE 8                        /* staging chunks kept for reuse, for all uploads */
#define UP_HIGH_WATER (1024 * 1024)       /* staged bytes that suspend the connection */
#define UP_DISCARD_MAX (16 * 1024 * 1024) /* bytes read and dropped after a failure, then hang up */
#define UP_PP_BUFFER 65536                /* MHD PostProcessor buffer (it parses part headers in it) */

_Static_assert(SL__PART_CONFIG == SL_STORE_CONFIG && SL__PART_WEIGHTS == SL_STORE_WEIGHTS, "part numbers");

typedef struct sl__up_chunk {
    struct sl__up_chunk *next;
    int part;        /* SL_STORE_CONFIG or SL_STORE_WEIGHTS */
    size_t len, cap;
    char data[];     /* (cap) */
} up_chunk;

struct sl__upload {
    sl_api *api;
    char tenant[SL__NAME_MAX + 1], name[SL__NAME_MAX + 1];
    struct MHD_PostProcessor *pp;
    /* Owned. While a job runs only the job touches it; the loop only between jobs. */
    sl_store_txn *txn;
    up_chunk *staged, *tail; /* received, not yet handed to a job (loop thread) */
    size_t staged_bytes;
    int job;                 /* a job is on the thread pool */
    int waiting;             /* suspended because staged_bytes reached UP_HIGH_WATER */
    int body_done;           /* the final handler call came: the body is in */
    uint64_t received;       /* body bytes */
    sl__slot slot;           /* the upload slot and the bytes reserved against the quota (api/quota.c) */
    double t_body;           /* seconds the body has been read (not waiting for the disk): --upload-min-rate */
    double t_mark;           /* monotonic time reading (re)started (0: not reading) */
    int cut;                 /* shut down for --upload-min-rate */
    sl__parts parts;         /* which form part each piece belongs to (api/request.c) */
    /* The config part is kept here, not staged for the disk (at most SL__CONFIG_MAX, which
     * sl__parts_piece enforces): it is checked (check_config) before anything of the upload
     * is written, as soon as it is complete, i.e. when the weights part starts (or the body
     * ends). A refused config (a catastrophic module pattern...) then costs no disk operation,
     * whose journal traffic would slow every other tenant's fsyncs. Appended on the loop
     * thread until config_done; read by jobs only after (no second config part is taken). */
    char *config;
    size_t config_len, config_cap;
    int config_done;
    int checked;             /* check_config ran (on the pool; jobs of one upload run one at a time) */
    char *resolved;          /* its result: the config to store (owned) */
    size_t resolved_len;
    /* The first failure wins; answered once the body is in. */
    int fail_status;
    char fail_code[32];
    char fail_msg[640];
    /* The finish job's result. */
    int finished;
    sl_store_entry entry;
    int created;
    size_t resident_bytes;
};

enum { JOB_WRITE, JOB_FINISH, JOB_ABORT };

typedef struct up_job {
    int kind;
    sl__upload *up;          /* NULL: a detached abort (the request is gone) */
    sl_store_txn *txn;       /* detached abort: the transaction to remove */
    up_chunk *chunks;        /* JOB_WRITE, JOB_FINISH: owned by the job */
    int config_ready;        /* the config part is complete: check it before writing anything */
    sl_api *api;             /* read-only: cfg.store, registry, model and limits never change */
    sl_store *store;
    /* Results. */
    int rc, status;
    char code[32];
    char err[640];
    sl_store_entry entry;
    int created;
    size_t resident_bytes;
} up_job;

static void fail(sl__upload *up, int status, const char *code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail(sl__upload *up, int status, const char *code, const char *fmt, ...) {
    if (up->fail_status) return;
    up->fail_status = status;
    snprintf(up->fail_code, sizeof up->fail_code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(up->fail_msg, sizeof up->fail_msg, fmt, ap);
    va_end(ap);
}

/* Staging chunks, on the loop thread only: done with, up to UP_SPARE of them go to a list of
 * the api's and the next ones staged come from it. A fresh malloc of a chunk is an mmap whose
 * 64 pages each fault in on the first copy into it, on this 2-vCPU VM 0.25 ms a chunk (the
 * faults were 7% of the daemon's CPU time in repeated 13 MB PUTs). The jobs on the pool
 * leave their chunks for job_done to return. */
static void free_chunks(sl_api *a, up_chunk *c) {
    while (c) {
        up_chunk *n = c->next;
        if (a->upload_spare_n < UP_SPARE) {
            c->next = a->upload_spare;
            a->upload_spare = c;
            a->upload_spare_n++;
        } else {
            free(c);
        }
        c = n;
    }
}

static up_chunk *new_chunk(sl_api *a) {
    up_chunk *c = a->upload_spare;
    if (c) {
        a->upload_spare = c->next;
        a->upload_spare_n--;
        return c;
    }
    return malloc(sizeof *c + UP_CHUNK);
}

void sl__upload_spare_free(sl_api *a) {
    while (a->upload_spare) {
        up_chunk *n = a->upload_spare->next;
        free(a->upload_spare);
        a->upload_spare = n;
    }
    a->upload_spare_n = 0;
}

static int stage(sl__upload *up, int part, const char *data, size_t n) {
    while (n) {
        up_chunk *t = up->tail;
        if (!t || t->part != part || t->len == t->cap) {
            t = new_chunk(up->api);
            if (!t) return SL_ENOMEM;
            t->next = NULL;
            t->part = part;
            t->len = 0;
            t->cap = UP_CHUNK;
            if (up->tail) up->tail->next = t;
            else up->staged = t;
            up->tail = t;
        }
        size_t k = t->cap - t->len < n ? t->cap - t->len : n;
        memcpy(t->data + t->len, data, k);
        t->len += k;
        data += k;
        n -= k;
        up->staged_bytes += k;
    }
    return 0;
}

static int keep_config(sl__upload *up, const char *data, size_t n) {
    if (up->config_done) return SL_EINVAL; /* cannot happen: a second config part is refused */
    if (up->config_len + n > up->config_cap) {
        size_t cap = up->config_cap ? up->config_cap : 4096;
        while (cap < up->config_len + n) cap *= 2;
        char *b = realloc(up->config, cap);
        if (!b) return SL_ENOMEM;
        up->config = b;
        up->config_cap = cap;
    }
    memcpy(up->config + up->config_len, data, n);
    up->config_len += n;
    return 0;
}

/* The PostProcessor's callback: one piece of one form part. */
static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                               const char *content_type, const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size) {
    sl__upload *up = cls;
    if (up->fail_status) return MHD_NO;
    sl__err e;
    int part = sl__parts_piece(&up->parts, key, transfer_encoding, off, size, &e);
    if (part < 0) {
        fail(up, e.status, e.code, "%s", e.msg);
        return MHD_NO;
    }
    if (part == SL__PART_WEIGHTS && up->parts.seen[SL__PART_CONFIG]) up->config_done = 1;
    if (size && (part == SL__PART_CONFIG ? keep_config(up, data, size) : stage(up, part, data, size)) != 0) {
        fail(up, 500, "internal_error", "out of memory");
        return MHD_NO;
    }
    return MHD_YES;
}

/* ---------------------------------------------------------------- jobs (thread pool) */

static void target_list(const sl_adapter *a, char *out, size_t n) {
    size_t p = 0;
    out[0] = 0;
    unsigned mask = sl_adapter_module_mask(a);
    for (int m = 0; m < SL_MOD_COUNT; m++)
        if (mask & (1u << m))
            p += (size_t)snprintf(out + p, p < n ? n - p : 0, "%s%s", p ? "," : "", sl_module_name((sl_module)m));
}


static void set_code(int rc, int *status, char *code, size_t codelen) {
    *status = rc == SL_ENOSPC ? 507 : 500;
    snprintf(code, codelen, "%s", rc == SL_ENOSPC ? "insufficient_storage" : "store_error");
}

/* The answer to an adapter that failed its checks (RC, MSG): 422, or 500 when the fault is ours. */
static void refused(int rc, const char *msg, int *status, char *code, size_t codelen, char *err, size_t errlen) {
    int ours = rc == SL_ENOMEM || rc == SL_EIO;
    *status = ours ? 500 : 422;
    snprintf(code, codelen, "%s", ours ? "internal_error" : "invalid_adapter");
    snprintf(err, errlen, "the adapter was not accepted: %s", msg);
}

/* The module patterns of CONFIG evaluated once, with bounded work (SL_ADAPTER_RESOLVED in the
 * result, so no load of the stored version runs a regex). */
static int resolve_config(sl_api *a, const char *config, size_t len, char **resolved, size_t *resolved_len, char *msg,
                          size_t msglen) {
    sl_adapter_opts opts = {.max_rank = a->cfg.max_adapter_rank, .upload = 1};
    return sl_adapter_resolve(a->cfg.model, config, len, &opts, resolved, resolved_len, NULL, NULL, msg, msglen);
}

int sl__upload_commit(sl_api *a, sl_store_txn *t, const char *tenant, const char *name, const char *resolved_in,
                      size_t resolved_in_len, sl_store_entry *e, int *created, size_t *resident_bytes, int *status,
                      char *code, size_t codelen, char *err, size_t errlen) {
    sl_adapter *ad = NULL;
    char msg[600];
    /* Without RESOLVED_IN the config is read back from T and its patterns evaluated here, before
     * anything is fsync'ed (a refused config costs no disk flush). */
    char *cfg = NULL, *resolved = NULL;
    size_t cfg_len = 0, resolved_len = 0;
    int rc = 0;
    if (!resolved_in) {
        rc = sl_store_txn_config(t, SL__CONFIG_MAX, &cfg, &cfg_len, msg, sizeof msg);
        if (!rc) rc = resolve_config(a, cfg, cfg_len, &resolved, &resolved_len, msg, sizeof msg);
        resolved_in = resolved;
        resolved_in_len = resolved_len;
    }
    if (!rc && (rc = sl_store_txn_finish(t, err, errlen)) != 0) {
        free(cfg);
        free(resolved);
        set_code(rc, status, code, codelen);
        sl_store_abort(t);
        return rc;
    }
    if (!rc) rc = sl_store_txn_replace_config(t, resolved_in, resolved_in_len, msg, sizeof msg);
    free(cfg);
    free(resolved);
    sl_adapter_opts opts = {.max_rank = a->cfg.max_adapter_rank};
    if (!rc) rc = sl_adapter_load_dir(&ad, a->cfg.model, sl_store_txn_dir(t), &opts, msg, sizeof msg);
    if (rc) {
        sl__scrub_path(msg, sl_store_txn_dir(t), "");
        if (rc == SL_ENOSPC) {
            set_code(rc, status, code, codelen);
            snprintf(err, errlen, "%s", msg);
            sl_store_abort(t);
            return rc;
        }
        refused(rc, msg, status, code, codelen, err, errlen);
        sl_store_abort(t);
        return rc;
    }
    memset(e, 0, sizeof *e);
    snprintf(e->peft_type, sizeof e->peft_type, "%s", sl_adapter_get_kind(ad) == SL_ADAPTER_SYMLORA ? "SYMLORA" : "LORA");
    e->r = sl_adapter_rank(ad);
    target_list(ad, e->target_modules, sizeof e->target_modules);
    *resident_bytes = sl_adapter_bytes(ad);
    rc = sl_store_commit(a->cfg.store, t, tenant, name, e, created, err, errlen); /* consumes T */
    if (rc) {
        set_code(rc, status, code, codelen);
        sl_adapter_unref(ad);
        return rc;
    }
    /* Current from now on; ownership of AD passes to the registry (resident at once, so the
     * first request needs no load: the hot swap costs no disk read). */
    sl_registry_publish(a->cfg.registry, e, ad);
    return 0;
}

static int write_chunks(up_job *j) {
    sl__upload *up = j->up;
    int rc = 0;
    if (!up->txn && (rc = sl_store_begin(j->store, &up->txn, j->err, sizeof j->err)) != 0) return rc;
    for (up_chunk *c = j->chunks; c && !rc; c = c->next)
        rc = sl_store_txn_write(up->txn, (enum sl_store_part)c->part, c->data, c->len, j->err, sizeof j->err);
    return rc; /* the chunks go back in job_done, on the loop (free_chunks) */
}

static void job_work(void *arg) {
    up_job *j = arg;
    sl__upload *up = j->up;
    if (j->kind == JOB_ABORT) {
        sl_store_abort(up ? up->txn : j->txn);
        if (up) up->txn = NULL;
        return;
    }
    int rc = 0;
    if (j->config_ready && !up->checked) { /* before anything of the upload is written */
        char msg[600];
        up->checked = 1;
        rc = resolve_config(j->api, up->config, up->config_len, &up->resolved, &up->resolved_len, msg, sizeof msg);
        if (rc) refused(rc, msg, &j->status, j->code, sizeof j->code, j->err, sizeof j->err);
    }
    if (!rc && (rc = write_chunks(j)) != 0) set_code(rc, &j->status, j->code, sizeof j->code);
    if (j->kind == JOB_FINISH && !rc) {
        if (!up->txn && (rc = sl_store_begin(j->store, &up->txn, j->err, sizeof j->err)) != 0) {
            set_code(rc, &j->status, j->code, sizeof j->code);
        } else {
            sl_store_txn *t = up->txn;
            up->txn = NULL; /* ownership: consumed, committed or aborted */
            rc = sl__upload_commit(j->api, t, up->tenant, up->name, up->resolved, up->resolved_len, &j->entry,
                                   &j->created, &j->resident_bytes,
                                   &j->status, j->code, sizeof j->code, j->err, sizeof j->err);
        }
    }
    if (rc && up->txn) { /* nothing of a failed upload stays behind */
        sl_store_abort(up->txn);
        up->txn = NULL;
    }
    j->rc = rc;
}

static int pump(sl__req *q);
static enum MHD_Result reply(sl__req *q);

/* The clock of --upload-min-rate runs only while the body is being read: not while the
 * connection waits for the disk (UP_HIGH_WATER), nor once the body is in. */
static void reading(sl__upload *up, int on) {
    double now = sl__now();
    if (up->t_mark > 0) up->t_body += now - up->t_mark;
    up->t_mark = on ? now : 0;
}

void sl__upload_check_rates(sl_api *a, double now) {
    int64_t rate = a->cfg.upload_min_rate;
    if (rate <= 0) return;
    double grace = a->cfg.request_timeout_s > 0 ? a->cfg.request_timeout_s : 30;
    for (sl__req *q = a->reqs; q; q = q->next) {
        sl__upload *up = q->up;
        if (!up || up->body_done || up->cut || q->completed) continue;
        double t = up->t_body + (up->t_mark > 0 ? now - up->t_mark : 0);
        if (t <= grace || (double)up->received >= (double)rate * (t - grace)) continue;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(q->mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci) continue;
        up->cut = 1;
        a->uploads_too_slow++;
        sl__log(a, 1, "upload %s/%s cut: %llu bytes in %.1f s, below --upload-min-rate %lld bytes/s", up->tenant, up->name,
                (unsigned long long)up->received, t, (long long)rate);
        shutdown(ci->connect_fd, SHUT_RDWR); /* MHD reads EOF and closes it; the upload is aborted */
        sl__run_mhd(a);
        return; /* the list may have changed */
    }
}

static void job_done(sl__req *q, void *arg) {
    up_job *j = arg;
    sl__upload *up = q->up;
    up->job = 0;
    if (j->rc) {
        if (j->status >= 500) sl__log(q->api, 2, "adapter %s/%s: %s", up->tenant, up->name, j->err);
        sl__scrub_path(j->err, sl_store_dir(j->store), "STORE"); /* the client sees no server path */
        fail(up, j->status ? j->status : 500, j->code[0] ? j->code : "store_error", "%s", j->err);
    }
    if (j->kind == JOB_FINISH && !j->rc) {
        up->finished = 1;
        up->entry = j->entry;
        up->created = j->created;
        up->resident_bytes = j->resident_bytes;
        sl__log(q->api, 1, "adapter %s/%s: version %u stored (%s r=%d, %llu bytes, sha256 %.16s...)", up->tenant, up->name,
                up->entry.version, up->entry.peft_type, up->entry.r, (unsigned long long)up->entry.bytes, up->entry.sha256);
    }
    free_chunks(q->api, j->chunks);
    free(j);
    if (q->completed) return; /* the client went away: sl__upload_free aborts what is left */
    if (pump(q)) sl__req_then(q, reply);
}

static int start_job(sl__req *q, int kind) {
    sl__upload *up = q->up;
    sl_api *a = q->api;
    up_job *j = calloc(1, sizeof *j);
    if (!j) return SL_ENOMEM;
    j->kind = kind;
    j->up = up;
    j->api = a;
    j->store = a->cfg.store;
    j->config_ready = up->config_done || kind == JOB_FINISH;
    if (kind != JOB_ABORT) {
        j->chunks = up->staged; /* ownership: the job's */
        up->staged = up->tail = NULL;
        up->staged_bytes = 0;
    }
    if (sl__req_queue(q, job_work, job_done, j) != 0) {
        if (kind != JOB_ABORT) { /* give the chunks back */
            up->staged = j->chunks;
            for (up->tail = up->staged; up->tail && up->tail->next;) up->tail = up->tail->next;
            for (up_chunk *c = up->staged; c; c = c->next) up->staged_bytes += c->len;
        }
        free(j);
        return SL_ENOMEM;
    }
    up->job = 1;
    return 0;
}

/* Moves the upload on after any event (loop thread). Returns 1 when the reply can be sent
 * (the body is in and nothing runs), 0 when something is in progress. */
static int pump(sl__req *q) {
    sl__upload *up = q->up;
    if (up->job) return 0;
    if (up->fail_status) {
        free_chunks(up->api, up->staged);
        up->staged = up->tail = NULL;
        up->staged_bytes = 0;
        if (up->txn) {
            if (start_job(q, JOB_ABORT) == 0) return 0;
            /* Could not queue: it is removed at the next start. */
        }
        if (!up->body_done) {
            if (up->waiting) { /* read on (and drop) the rest of the body */
                up->waiting = 0;
                reading(up, 1);
                sl__req_resume(q);
            }
            return 0;
        }
        return 1;
    }
    if (!up->body_done) {
        if ((up->staged || (up->config_done && !up->checked)) && start_job(q, JOB_WRITE) != 0) {
            fail(up, 500, "internal_error", "out of memory");
            return pump(q);
        }
        if (up->waiting && up->staged_bytes < UP_HIGH_WATER) {
            up->waiting = 0;
            reading(up, 1);
            sl__req_resume(q);
        }
        return 0;
    }
    if (!up->finished) {
        if (start_job(q, JOB_FINISH) != 0) {
            fail(up, 500, "internal_error", "out of memory");
            return pump(q);
        }
        return 0;
    }
    return 1;
}

static enum MHD_Result reply(sl__req *q) {
    sl__upload *up = q->up;
    /* Before the answer goes out: a client that uploads again at once finds its slot free and
     * the committed version counted once (in the store, no longer as a reservation). */
    sl__upload_release(q->api, &up->slot);
    if (up->fail_status) return sl__reply_error(q, up->fail_status, up->fail_code, NULL, "%s", up->fail_msg);
    return sl__reply_json(q, up->created ? 201 : 200, sl__adapter_json(&up->entry, 0, 1, up->resident_bytes));
}

/* ---------------------------------------------------------------- the route's three stages */

/* A new upload's state, its body clock running (reading); NULL: out of memory. */
static sl__upload *upload_new(sl_api *a) {
    sl__upload *up = calloc(1, sizeof *up);
    if (!up) return NULL;
    up->api = a;
    up->t_mark = sl__now();
    sl__parts_init(&up->parts);
    return up;
}

enum MHD_Result sl__upload_begin(sl__req *q) {
    sl_api *a = q->api;
    if (!a->cfg.store || !a->cfg.registry)
        return sl__reply_error(q, 503, "no_store", NULL, "this server has no adapter store");
    char tenant[SL__NAME_MAX + 1], name[SL__NAME_MAX + 1];
    int rc = sl__resolve_adapter(q, q->param, tenant, name);
    if (rc == SL_ENOENT)
        return sl__reply_error(q, 404, "adapter_not_found", NULL, "the adapter '%s' does not exist", q->param);
    if (rc) return sl__reply_error(q, 400, "invalid_name", NULL, "adapter names must match ^[a-z0-9][a-z0-9._-]{0,63}$");
    struct MHD_Connection *c = q->mhd;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long declared = 0;
    if (cl) {
        char *end;
        declared = strtoull(cl, &end, 10);
        if (*end || declared > a->cfg.max_adapter_bytes) {
            const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
            if (*end || declared > a->cfg.max_adapter_bytes + UP_DISCARD_MAX || (expect && strcasecmp(expect, "100-continue") == 0))
                return sl__reply_error(q, 413, "upload_too_large", NULL,
                                       "the upload is %.40s bytes, more than the server's limit of %zu (--max-adapter-bytes)", cl,
                                       a->cfg.max_adapter_bytes);
            /* Read and dropped (sl__upload_data), answered at its end (sl__upload_end): no
             * slot, no post processor, nothing staged. */
            sl__upload *up = upload_new(a);
            if (!up) return sl__reply_error(q, 500, "internal_error", NULL, "out of memory");
            fail(up, 413, "upload_too_large", "the upload is %llu bytes, more than the server's limit of %zu (--max-adapter-bytes)",
                 declared, a->cfg.max_adapter_bytes);
            q->up = up;
            return MHD_YES;
        }
    }
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
        return sl__reply_error(q, 415, "unsupported_media_type", NULL,
                               "send a multipart/form-data body with the parts 'config' and 'weights', e.g. "
                               "curl -X PUT -F config=@adapter_config.json -F weights=@adapter_model.safetensors URL");
    sl__upload *up = upload_new(a);
    if (!up) return sl__reply_error(q, 500, "internal_error", NULL, "out of memory");
    int status;
    char code[40], msg[400];
    if (sl__upload_admit(q, tenant, name, declared, &up->slot, &status, code, sizeof code, msg, sizeof msg) != 0) {
        free(up);
        a->uploads_refused++;
        return sl__reply_error(q, status, code, NULL, "%s", msg);
    }
    snprintf(up->tenant, sizeof up->tenant, "%s", tenant);
    snprintf(up->name, sizeof up->name, "%s", name);
    q->up = up; /* ownership: the request's, freed with it */
    up->pp = MHD_create_post_processor(c, UP_PP_BUFFER, on_part, up);
    if (!up->pp)
        return sl__reply_error(q, 400, "invalid_multipart", NULL, "the multipart/form-data Content-Type has no boundary");
    return MHD_YES;
}

enum MHD_Result sl__upload_data(sl__req *q, const char *data, size_t *size) {
    sl__upload *up = q->up;
    size_t n = *size;
    *size = 0;
    if (!up) return MHD_YES;
    up->received += n;
    if (up->fail_status) { /* dropped: the reply waits for the end of the body */
        return up->received > q->api->cfg.max_adapter_bytes + UP_DISCARD_MAX ? MHD_NO : MHD_YES;
    }
    char msg[400];
    if (up->received > q->api->cfg.max_adapter_bytes) {
        fail(up, 413, "upload_too_large", "the upload is larger than the server's limit of %zu bytes (--max-adapter-bytes)",
             q->api->cfg.max_adapter_bytes);
    } else if (sl__upload_reserve(q, &up->slot, up->received, msg, sizeof msg) != 0) {
        q->api->uploads_refused++;
        fail(up, 413, "storage_quota_exceeded", "%s", msg);
    } else if (MHD_post_process(up->pp, data, n) != MHD_YES) {
        fail(up, 400, "invalid_multipart", "the multipart/form-data body is malformed");
    }
    pump(q);
    if (!up->fail_status && up->job && up->staged_bytes >= UP_HIGH_WATER && !up->waiting) {
        up->waiting = 1; /* the disk is behind: stop reading until the job in flight is done */
        reading(up, 0);
        sl__req_wait(q);
    }
    return MHD_YES;
}

enum MHD_Result sl__upload_end(sl__req *q) {
    sl__upload *up = q->up;
    if (!up) return sl__reply_error(q, 500, "internal_error", NULL, "upload state lost");
    up->body_done = 1;
    reading(up, 0);
    if (up->pp) {
        enum MHD_Result ok = MHD_destroy_post_processor(up->pp);
        up->pp = NULL;
        if (ok != MHD_YES)
            fail(up, 400, "invalid_multipart", "the multipart/form-data body is incomplete (no closing boundary)");
    }
    sl__err e;
    if (sl__parts_end(&up->parts, &e) != 0) fail(up, e.status, e.code, "%s", e.msg);
    if (pump(q)) return reply(q);
    sl__req_wait(q);
    return MHD_YES;
}

/* ---------------------------------------------------------------- cleanup */

typedef struct detached {
    uv_work_t w;
    up_job j;
} detached;

static void detached_work(uv_work_t *w) { job_work(&((detached *)w->data)->j); }
static void detached_done(uv_work_t *w, int status) { free(w->data); }

void sl__upload_free(sl__upload *up) {
    if (!up) return;
    sl__upload_release(up->api, &up->slot);
    if (up->pp) MHD_destroy_post_processor(up->pp);
    free_chunks(up->api, up->staged);
    free(up->config);
    free(up->resolved);
    if (up->txn) {
        /* The client left mid-upload: remove its files on the pool, not here on the loop.
         * Ownership of the transaction passes to the job. */
        detached *d = calloc(1, sizeof *d);
        if (d) {
            d->j.kind = JOB_ABORT;
            d->j.txn = up->txn;
            d->w.data = d;
            if (uv_queue_work(up->api->loop, &d->w, detached_work, detached_done) != 0) {
                free(d);
                d = NULL;
            }
        }
        /* If that failed, STORE/.tmp is cleaned at the next start. */
    }
    free(up);
}
