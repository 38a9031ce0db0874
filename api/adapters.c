/* adapters.c — the adapter REST API over the store and its registry (lib/store.h,
 * lib/registry.h): the registry as the generation path's sl_adapter_source; GET and DELETE
 * /v1/adapters[/{name}]; vLLM's /v1/load_lora_adapter and /v1/unload_lora_adapter.
 * (PUT /v1/adapters/{name} is api/upload.c.) Lookups read the in-memory index on the loop;
 * anything that touches the disk (delete, import) runs on libuv's thread pool. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapter.h"
#include "error.h"
#include "internal.h"
#include "registry.h"
#include "store.h"

/* ---------------------------------------------------------------- the registry as a source */

static int reg_acquire(void *ctx, const char *tenant, const char *name, struct sl_adapter **out) {
    uint32_t v;
    return sl_registry_try_acquire(ctx, tenant, name, out, &v);
}

static int reg_load(void *ctx, const char *tenant, const char *name, struct sl_adapter **out, char *err, size_t errlen) {
    uint32_t v;
    return sl_registry_acquire(ctx, tenant, name, out, &v, err, errlen);
}

static void reg_list(void *ctx, const char *tenant, void (*each)(void *, const char *, int64_t), void *arg) {
    sl_registry_info *info = NULL;
    size_t n = 0;
    if (sl_registry_list(ctx, tenant, &info, &n) != 0) return;
    for (size_t i = 0; i < n; i++) {
        int shadowed = 0; /* a pinned name the tenant has its own adapter of */
        for (size_t k = 0; info[i].pinned && k < n; k++)
            shadowed |= !info[k].pinned && !strcmp(info[k].e.name, info[i].e.name);
        if (!shadowed) each(arg, info[i].e.name, info[i].e.created);
    }
    free(info);
}

sl_adapter_source sl_adapter_registry_source(struct sl_registry *r) {
    return (sl_adapter_source){.acquire = reg_acquire, .load = reg_load, .list = reg_list, .ctx = r};
}

/* ---------------------------------------------------------------- names */

int sl__resolve_adapter(const sl__req *q, const char *ref, char tenant[SL__NAME_MAX + 1], char name[SL__NAME_MAX + 1]) {
    const char *slash = strchr(ref, '/');
    if (!slash) {
        if (!sl_store_name_valid(ref)) return SL_EINVAL;
        snprintf(tenant, SL__NAME_MAX + 1, "%s", q->tenant);
        snprintf(name, SL__NAME_MAX + 1, "%s", ref);
        return 0;
    }
    size_t tl = (size_t)(slash - ref);
    if (tl == 0 || tl > SL__NAME_MAX || strchr(slash + 1, '/') || !sl_store_name_valid(slash + 1)) return SL_EINVAL;
    memcpy(tenant, ref, tl);
    tenant[tl] = 0;
    if (!sl_store_name_valid(tenant)) return SL_EINVAL;
    snprintf(name, SL__NAME_MAX + 1, "%s", slash + 1);
    if (!q->admin && strcmp(tenant, q->tenant) != 0) return SL_ENOENT; /* as if it did not exist */
    return 0;
}

/* Resolves q->param; on failure replies (*ret) and returns -1. */
static int param_name(sl__req *q, char *tenant, char *name, enum MHD_Result *ret) {
    int rc = q->param_long ? SL_EINVAL : sl__resolve_adapter(q, q->param, tenant, name);
    if (rc == SL_ENOENT) {
        *ret = sl__reply_error(q, 404, "adapter_not_found", NULL, "the adapter '%s' does not exist", q->param);
        return -1;
    }
    if (rc) {
        *ret = sl__reply_error(q, 400, "invalid_name", NULL,
                               "invalid adapter name: names must match ^[a-z0-9][a-z0-9._-]{0,63}$%s",
                               q->admin ? " (admins may write TENANT/NAME)" : "");
        return -1;
    }
    return 0;
}

static json_t *modules_json(const char *csv) {
    json_t *arr = json_array();
    for (const char *p = csv; *p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n) json_array_append_new(arr, json_stringn(p, n));
        p += n + (c ? 1 : 0);
    }
    return arr;
}

json_t *sl__adapter_json(const sl_store_entry *e, int pinned, int resident, size_t resident_bytes) {
    json_t *j = json_object();
    json_object_set_new(j, "object", json_string("adapter"));
    json_object_set_new(j, "name", json_string(e->name));
    json_object_set_new(j, "tenant", pinned ? json_null() : json_string(e->tenant));
    json_object_set_new(j, "pinned", json_boolean(pinned));
    if (!pinned) {
        json_object_set_new(j, "version", json_integer(e->version));
        json_object_set_new(j, "sha256", json_string(e->sha256));
        json_object_set_new(j, "bytes", json_integer((json_int_t)e->bytes));
        json_object_set_new(j, "config_bytes", json_integer((json_int_t)e->config_bytes));
        json_object_set_new(j, "created", json_integer((json_int_t)e->created));
    }
    json_object_set_new(j, "peft_type", json_string(e->peft_type));
    json_object_set_new(j, "r", json_integer(e->r));
    json_object_set_new(j, "target_modules", modules_json(e->target_modules));
    json_object_set_new(j, "resident", json_boolean(resident));
    json_object_set_new(j, "resident_bytes", json_integer((json_int_t)resident_bytes));
    return j;
}

static int have_store(sl__req *q, enum MHD_Result *ret) {
    if (q->api->cfg.store && q->api->cfg.registry) return 1;
    *ret = sl__reply_error(q, 503, "no_store", NULL, "this server has no adapter store");
    return 0;
}

/* ---------------------------------------------------------------- GET */

enum MHD_Result sl__handle_adapters_list(sl__req *q) {
    enum MHD_Result ret;
    if (!have_store(q, &ret)) return ret;
    /* An admin sees every tenant (or ?tenant=T); a tenant its own and the pinned ones. */
    const char *only = MHD_lookup_connection_value(q->mhd, MHD_GET_ARGUMENT_KIND, "tenant");
    const char *tenant = q->tenant;
    if (q->admin) tenant = only && *only ? only : NULL;
    else if (only && strcmp(only, q->tenant) != 0) tenant = NULL;
    json_t *data = json_array();
    if (tenant || q->admin) {
        sl_registry_info *info = NULL;
        size_t n = 0;
        if (sl_registry_list(q->api->cfg.registry, tenant, &info, &n) != 0) {
            json_decref(data);
            return sl__reply_error(q, 500, "internal_error", NULL, "out of memory");
        }
        for (size_t i = 0; i < n; i++)
            json_array_append_new(data, sl__adapter_json(&info[i].e, info[i].pinned, info[i].resident, info[i].resident_bytes));
        free(info);
    }
    json_t *j = json_object();
    json_object_set_new(j, "object", json_string("list"));
    json_object_set_new(j, "data", data);
    return sl__reply_json(q, 200, j);
}

enum MHD_Result sl__handle_adapter_get(sl__req *q) {
    enum MHD_Result ret;
    char tenant[SL__NAME_MAX + 1], name[SL__NAME_MAX + 1];
    if (!have_store(q, &ret) || param_name(q, tenant, name, &ret) < 0) return ret;
    sl_registry_info info;
    if (sl_registry_info_get(q->api->cfg.registry, tenant, name, &info) != 0)
        return sl__reply_error(q, 404, "adapter_not_found", NULL, "the adapter '%s' does not exist", q->param);
    json_t *j = sl__adapter_json(&info.e, info.pinned, info.resident, info.resident_bytes);
    /* The store keeps the current version only (an older one is removed once the newer is
     * durable; requests still running on it hold it in memory until they end). */
    json_t *versions = json_array();
    if (!info.pinned) {
        json_t *v = json_object();
        json_object_set_new(v, "version", json_integer(info.e.version));
        json_object_set_new(v, "sha256", json_string(info.e.sha256));
        json_object_set_new(v, "bytes", json_integer((json_int_t)info.e.bytes));
        json_object_set_new(v, "config_bytes", json_integer((json_int_t)info.e.config_bytes));
        json_object_set_new(v, "created", json_integer((json_int_t)info.e.created));
        json_object_set_new(v, "current", json_true());
        json_array_append_new(versions, v);
    }
    json_object_set_new(j, "versions", versions);
    return sl__reply_json(q, 200, j);
}

/* ---------------------------------------------------------------- DELETE, unload */

typedef struct del_op {
    char tenant[SL__NAME_MAX + 1], name[SL__NAME_MAX + 1];
    char label[2 * SL__NAME_MAX + 2]; /* what the client wrote */
    sl_store *store;
    sl_registry *reg;
    int vllm; /* unload_lora_adapter: vLLM's plain-text answers */
    int rc;
    uint32_t version;
    char err[512];
} del_op;

static void del_work(void *arg) {
    del_op *o = arg;
    sl_store_entry e;
    if (sl_store_get(o->store, o->tenant, o->name, &e) == 0) o->version = e.version;
    o->rc = sl_store_delete(o->store, o->tenant, o->name, o->err, sizeof o->err);
    /* Requests running on it keep their reference: the memory goes when the last one ends. */
    if (o->rc == 0 || o->rc == SL_ENOENT) sl_registry_forget(o->reg, o->tenant, o->name);
}

static enum MHD_Result reply_text(sl__req *q, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static enum MHD_Result reply_text(sl__req *q, int status, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sl__reply(q, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

static enum MHD_Result del_reply(sl__req *q) {
    del_op *o = q->op;
    if (o->rc == SL_ENOENT)
        return o->vllm ? sl__reply_error(q, 404, "adapter_not_found", "lora_name", "The lora adapter '%s' cannot be found.", o->label)
                       : sl__reply_error(q, 404, "adapter_not_found", NULL, "the adapter '%s' does not exist", o->label);
    if (o->rc) return sl__reply_error(q, 500, "store_error", NULL, "%s", o->err);
    sl__log(q->api, 1, "adapter %s/%s: deleted (version %u)", o->tenant, o->name, o->version);
    if (o->vllm) return reply_text(q, 200, "Success: LoRA adapter '%s' removed successfully.", o->label);
    json_t *j = json_object();
    json_object_set_new(j, "object", json_string("adapter.deleted"));
    json_object_set_new(j, "name", json_string(o->name));
    json_object_set_new(j, "tenant", json_string(o->tenant));
    json_object_set_new(j, "version", json_integer(o->version));
    json_object_set_new(j, "deleted", json_true());
    return sl__reply_json(q, 200, j);
}

static enum MHD_Result start_delete(sl__req *q, const char *tenant, const char *name, const char *label, int vllm) {
    sl_api *a = q->api;
    sl_store_entry e;
    if (sl_store_get(a->cfg.store, tenant, name, &e) != 0) {
        sl_registry_info info;
        if (sl_registry_info_get(a->cfg.registry, tenant, name, &info) == 0 && info.pinned)
            return sl__reply_error(q, 409, "adapter_pinned", vllm ? "lora_name" : NULL,
                                   "the adapter '%s' is preloaded with --adapter and cannot be removed over the API", label);
        return vllm ? sl__reply_error(q, 404, "adapter_not_found", "lora_name", "The lora adapter '%s' cannot be found.", label)
                    : sl__reply_error(q, 404, "adapter_not_found", NULL, "the adapter '%s' does not exist", label);
    }
    del_op *o = calloc(1, sizeof *o);
    if (!o) return sl__reply_error(q, 500, "internal_error", NULL, "out of memory");
    snprintf(o->tenant, sizeof o->tenant, "%s", tenant);
    snprintf(o->name, sizeof o->name, "%s", name);
    snprintf(o->label, sizeof o->label, "%s", label);
    o->store = a->cfg.store;
    o->reg = a->cfg.registry;
    o->vllm = vllm;
    q->op = o; /* ownership: the request's */
    q->op_free = free;
    if (sl__req_offload(q, del_work, o, del_reply) != 0) return sl__reply_error(q, 500, "internal_error", NULL, "out of memory");
    return MHD_YES;
}

enum MHD_Result sl__handle_adapter_delete(sl__req *q) {
    enum MHD_Result ret;
    char tenant[SL__NAME_MAX + 1], name[SL__NAME_MAX + 1];
    if (!have_store(q, &ret) || param_name(q, tenant, name, &ret) < 0) return ret;
    return start_delete(q, tenant, name, q->param, 0);
}

enum MHD_Result sl__handle_unload_lora(sl__req *q) {
    enum MHD_Result ret = MHD_NO;
    if (!have_store(q, &ret)) return ret;
    json_t *body = sl__body_json(q, &ret);
    if (!body) return ret;
    const char *ln = NULL;
    char tenant[SL__NAME_MAX + 1], name[SL__NAME_MAX + 1];
    if (sl__json_str(q, body, "lora_name", &ln, &ret) < 0) goto out;
    if (!ln) {
        ret = sl__reply_error(q, 400, "missing_field", "lora_name", "'lora_name' is required");
        goto out;
    }
    int rc = sl__resolve_adapter(q, ln, tenant, name);
    if (rc == SL_ENOENT) ret = sl__reply_error(q, 404, "adapter_not_found", "lora_name", "The lora adapter '%s' cannot be found.", ln);
    else if (rc) ret = sl__reply_error(q, 400, "invalid_name", "lora_name", "'lora_name' must match ^[a-z0-9][a-z0-9._-]{0,63}$");
    else ret = start_delete(q, tenant, name, ln, 1);
out:
    json_decref(body);
    return ret;
}

/* ---------------------------------------------------------------- load_lora_adapter */

typedef struct import_op {
    sl_api *api;
    char tenant[SL__NAME_MAX + 1], name[SL__NAME_MAX + 1];
    char label[2 * SL__NAME_MAX + 2];
    char *path; /* as given (owned) */
    int status, created;
    char code[32];
    char err[800];
    sl_store_entry e;
    size_t resident_bytes;
    sl__slot slot; /* an upload slot and the room reserved against the quota (api/quota.c) */
} import_op;

static void import_free(void *p) {
    import_op *o = p;
    if (!o) return;
    sl__upload_release(o->api, &o->slot);
    free(o->path);
    free(o);
}

static int fail_import(import_op *o, int status, const char *code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail_import(import_op *o, int status, const char *code, const char *fmt, ...) {
    o->status = status;
    snprintf(o->code, sizeof o->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->err, sizeof o->err, fmt, ap);
    va_end(ap);
    return -1;
}

/* Is P (a resolved path) ROOT or below it? */
static int below(const char *p, const char *root) {
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/') return 1;
    return !strncmp(p, root, n) && (p[n] == 0 || p[n] == '/');
}

/* Opens the directory o->path, which must resolve (symlinks and "..") to --import-dir or
 * below it. The check is repeated on the opened descriptor, so swapping a path component
 * for a symlink between the check and the open does not get out either. -1 on failure. */
static int open_import_dir(import_op *o, char *root, size_t rootlen) {
    const char *dir = o->api->cfg.import_dir;
    if (!realpath(dir, root))
        return fail_import(o, 500, "import_dir", "--import-dir %s: %s", dir, strerror(errno));
    (void)rootlen;
    char joined[PATH_MAX * 2], real[PATH_MAX];
    if (o->path[0] == '/') snprintf(joined, sizeof joined, "%s", o->path);
    else snprintf(joined, sizeof joined, "%s/%s", root, o->path); /* relative: to the import dir */
    if (!realpath(joined, real)) {
        if (errno == ENOENT || errno == ENOTDIR)
            return fail_import(o, 404, "path_not_found", "lora_path '%s' does not exist", o->path);
        return fail_import(o, 400, "invalid_path", "lora_path '%s': %s", o->path, strerror(errno));
    }
    if (!below(real, root))
        return fail_import(o, 403, "path_not_allowed", "lora_path '%s' is outside the import directory", o->path);
    int fd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return fail_import(o, 400, "invalid_path", "lora_path '%s': %s", o->path, strerror(errno));
    char link[64], now[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, now, sizeof now - 1);
    if (n > 0) {
        now[n] = 0;
        if (!below(now, root)) {
            close(fd);
            return fail_import(o, 403, "path_not_allowed", "lora_path '%s' is outside the import directory", o->path);
        }
    }
    return fd;
}

static void import_work(void *arg) {
    import_op *o = arg;
    sl_api *a = o->api;
    char root[PATH_MAX];
    int dfd = open_import_dir(o, root, sizeof root);
    if (dfd < 0) return;
    static const char *const files[2] = {"adapter_config.json", "adapter_model.safetensors"};
    int fds[2] = {-1, -1};
    uint64_t total = 0;
    for (int p = 0; p < 2; p++) {
        /* O_NOFOLLOW: a file that is a symlink (perhaps to something outside) is refused. */
        fds[p] = openat(dfd, files[p], O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        struct stat st;
        if (fds[p] < 0) {
            fail_import(o, 400, "invalid_adapter", "lora_path '%s': cannot open %s: %s", o->path, files[p],
                        errno == ELOOP ? "it is a symbolic link" : strerror(errno));
            goto out;
        }
        if (fstat(fds[p], &st) != 0 || !S_ISREG(st.st_mode)) {
            fail_import(o, 400, "invalid_adapter", "lora_path '%s': %s is not a regular file", o->path, files[p]);
            goto out;
        }
        total += (uint64_t)st.st_size;
    }
    if (total > a->cfg.max_adapter_bytes) {
        fail_import(o, 413, "upload_too_large", "the adapter is %llu bytes, more than the server's limit of %zu (--max-adapter-bytes)",
                    (unsigned long long)total, a->cfg.max_adapter_bytes);
        goto out;
    }
    if (total > o->slot.reserved) { /* the room the tenant's quota had left when the import began */
        fail_import(o, 413, "storage_quota_exceeded",
                    "storage quota exceeded: the adapter is %llu bytes, but tenant '%s' has room for %llu more "
                    "(max_store_bytes); delete adapters or ask the operator for more",
                    (unsigned long long)total, o->tenant, (unsigned long long)o->slot.reserved);
        goto out;
    }
    sl_store_txn *t = NULL;
    int rc = sl_store_begin(a->cfg.store, &t, o->err, sizeof o->err);
    char *buf = rc ? NULL : malloc(1 << 20);
    if (!rc && !buf) rc = SL_ENOMEM;
    for (int p = 0; p < 2 && !rc; p++) {
        for (;;) {
            ssize_t n = read(fds[p], buf, 1 << 20);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                rc = sl__errf(o->err, sizeof o->err, SL_EIO, "reading %s: %s", files[p], strerror(errno));
                break;
            }
            if (n == 0) break;
            if ((rc = sl_store_txn_write(t, (enum sl_store_part)p, buf, (size_t)n, o->err, sizeof o->err)) != 0) break;
        }
    }
    free(buf);
    if (rc) {
        o->status = rc == SL_ENOSPC ? 507 : 500;
        snprintf(o->code, sizeof o->code, "%s", rc == SL_ENOSPC ? "insufficient_storage" : "store_error");
        sl_store_abort(t);
        goto out;
    }
    if (sl__upload_commit(a, t, o->tenant, o->name, NULL, 0, &o->e, &o->created, &o->resident_bytes, &o->status, o->code,
                          sizeof o->code, o->err, sizeof o->err) == 0)
        o->status = 200;
out:
    for (int p = 0; p < 2; p++)
        if (fds[p] >= 0) close(fds[p]);
    close(dfd);
}

static enum MHD_Result import_reply(sl__req *q) {
    import_op *o = q->op;
    sl__upload_release(q->api, &o->slot); /* before the answer (see upload.c: reply) */
    if (o->status != 200) return sl__reply_error(q, o->status, o->code, "lora_path", "%s", o->err);
    sl__log(q->api, 1, "adapter %s/%s: version %u loaded from %s", o->tenant, o->name, o->e.version, o->path);
    return reply_text(q, 200, "Success: LoRA adapter '%s' added successfully.", o->label);
}

enum MHD_Result sl__handle_load_lora(sl__req *q) {
    sl_api *a = q->api;
    enum MHD_Result ret = MHD_NO;
    if (!have_store(q, &ret)) return ret;
    if (!a->cfg.import_dir || !*a->cfg.import_dir)
        return sl__reply_error(q, 403, "import_disabled", NULL,
                               "loading adapters from server paths is disabled: start the server with --import-dir DIR, "
                               "or upload with PUT /v1/adapters/{name}");
    json_t *body = sl__body_json(q, &ret);
    if (!body) return ret;
    const char *ln = NULL, *lp = NULL;
    int inplace = 0;
    char tenant[SL__NAME_MAX + 1], name[SL__NAME_MAX + 1];
    if (sl__json_str(q, body, "lora_name", &ln, &ret) < 0 || sl__json_str(q, body, "lora_path", &lp, &ret) < 0 ||
        sl__json_bool(q, body, "load_inplace", &inplace, &ret) < 0)
        goto out;
    if (!ln || !lp || !*lp) {
        ret = sl__reply_error(q, 400, "missing_field", !ln ? "lora_name" : "lora_path", "'lora_name' and 'lora_path' are required");
        goto out;
    }
    int rc = sl__resolve_adapter(q, ln, tenant, name);
    if (rc) {
        ret = rc == SL_ENOENT ? sl__reply_error(q, 404, "adapter_not_found", "lora_name", "The lora adapter '%s' cannot be found.", ln)
                              : sl__reply_error(q, 400, "invalid_name", "lora_name", "'lora_name' must match ^[a-z0-9][a-z0-9._-]{0,63}$");
        goto out;
    }
    sl_store_entry e;
    if (!inplace && sl_store_get(a->cfg.store, tenant, name, &e) == 0) { /* as vLLM: replacing is explicit */
        ret = sl__reply_error(q, 400, "adapter_exists", "lora_name",
                              "The lora adapter '%s' has already been loaded. (\"load_inplace\": true replaces it)", ln);
        goto out;
    }
    import_op *o = calloc(1, sizeof *o);
    if (!o || !(o->path = strdup(lp))) {
        free(o);
        ret = sl__reply_error(q, 500, "internal_error", NULL, "out of memory");
        goto out;
    }
    o->api = a;
    snprintf(o->tenant, sizeof o->tenant, "%s", tenant);
    snprintf(o->name, sizeof o->name, "%s", name);
    snprintf(o->label, sizeof o->label, "%s", ln);
    q->op = o; /* ownership: the request's */
    q->op_free = import_free;
    int st;
    char code[40], msg[400];
    if (sl__upload_admit(q, tenant, name, SL__RESERVE_ROOM, &o->slot, &st, code, sizeof code, msg, sizeof msg) != 0) {
        a->uploads_refused++;
        ret = sl__reply_error(q, st, code, "lora_path", "%s", msg);
        goto out;
    }
    ret = sl__req_offload(q, import_work, o, import_reply) == 0
              ? MHD_YES
              : sl__reply_error(q, 500, "internal_error", NULL, "out of memory");
out:
    json_decref(body);
    return ret;
}
