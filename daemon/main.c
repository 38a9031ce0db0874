/* main.c — symlorad: wires the model, tokenizer, adapters and engine (lib/) to the HTTP API
 * (api/) on one libuv loop; signals, logging, readiness notification. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "adapter.h"
#include "api.h"
#include "chat.h"
#include "toolcall.h"
#include "engine.h"
#include "error.h"
#include "bigalloc.h"
#include "kernels.h"
#include "log.h"
#include "model.h"
#include "options.h"
#include "registry.h"
#include "sd_notify.h"
#include "store.h"
#include "tokenizer.h"

#define SL_VERSION "0.1.0"

typedef struct daemon {
    sl_daemon_opts o;
    uv_loop_t *loop;
    sl_model *model;
    sl_tokenizer *tok;
    sl_chat chat;
    int tool_format, reasoning; /* of the chat template, or forced (--tool-call-parser, --reasoning-parser) */
    sl_store *store;
    sl_registry *registry;
    sl_engine *engine;
    sl_api *api;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t rescan;    /* --store-rescan-ms */
    uv_work_t rescan_work;
    int rescan_busy, rescan_changed, rescan_rc, rescan_init;
    int rescan_again;     /* a change was signalled while a rescan ran: run one more */
    char rescan_err[256];
    uv_fs_event_t watch;  /* --store-watch: the store's .generation marker */
    uv_timer_t watch_delay;
    int watch_init;
    int stopping;
    int closing;        /* shutdown_done ran: signals are ignored */
    uv_mutex_t wake_mu; /* guards wake_live: the engine thread may wake us until the API closes */
    int wake_live;
    char model_id[256];
} daemon_t;

/* ---------------------------------------------------------------- reload hooks */

/* SIGHUP runs these, in registration order, on the loop thread (the adapter store registers
 * the API keys reload here). */
typedef void (*sl_reload_fn)(void *arg);
static struct {
    sl_reload_fn fn;
    void *arg;
} reload_hooks[8];
static int n_reload_hooks;

int sl_daemon_on_reload(sl_reload_fn fn, void *arg);
int sl_daemon_on_reload(sl_reload_fn fn, void *arg) {
    if (n_reload_hooks == 8) return SL_ENOSPC;
    reload_hooks[n_reload_hooks].fn = fn;
    reload_hooks[n_reload_hooks].arg = arg;
    n_reload_hooks++;
    return 0;
}

/* ---------------------------------------------------------------- callbacks */

static void lib_log(void *ctx, int level, const char *msg) { sl_logf(level ? SL_LOG_WARN : SL_LOG_INFO, "%s", msg); }

static void api_log(void *ctx, int level, const char *msg) { sl_logf(level, "%s", msg); }

static void api_access(void *ctx, const sl_api_access *a) {
    if (!sl_log_enabled(SL_LOG_INFO)) return;
    char status[16], ms[32], pt[16], ct[16];
    snprintf(status, sizeof status, "#%d", a->status);
    snprintf(ms, sizeof ms, "#%.1f", a->seconds * 1000.0);
    snprintf(pt, sizeof pt, "#%d", a->prompt_tokens);
    snprintf(ct, sizeof ct, "#%d", a->completion_tokens);
    if (a->model && *a->model)
        sl_log_fields(SL_LOG_INFO, "request", "method", a->method, "path", a->path, "status", status, "ms", ms, "model",
                      a->model, "prompt_tokens", pt, "completion_tokens", ct, "finish", a->finish, "client_gone",
                      a->client_gone ? "#true" : "#false", (char *)NULL);
    else
        sl_log_fields(SL_LOG_INFO, "request", "method", a->method, "path", a->path, "status", status, "ms", ms,
                      (char *)NULL);
}

static void engine_wake(void *ctx) {
    daemon_t *d = ctx;
    uv_mutex_lock(&d->wake_mu);
    if (d->wake_live) sl_api_notify(d->api); /* uv_async_send: never blocks */
    uv_mutex_unlock(&d->wake_mu);
}

/* systemd readiness (daemon/sd_notify.c); a failure is worth a warning, never a stop. */
static void notify(const char *state) {
    int rc = sl_sd_notify(state);
    if (rc < 0) sl_logf(SL_LOG_WARN, "sd_notify %s: %s", state, sl_strerror(rc));
}

static void on_closed(uv_handle_t *h) { (void)h; }

/* Stops the engine's wakeups, then closes the API's handles (its uv_async among them). */
static void close_api(daemon_t *d) {
    uv_mutex_lock(&d->wake_mu);
    d->wake_live = 0;
    uv_mutex_unlock(&d->wake_mu);
    sl_api_close(d->api);
}

static void shutdown_done(void *arg) {
    daemon_t *d = arg;
    sl_logf(SL_LOG_INFO, "shutdown: no request left, stopping");
    close_api(d);
    if (d->rescan_init) uv_close((uv_handle_t *)&d->rescan, on_closed);
    if (d->watch_init) {
        uv_close((uv_handle_t *)&d->watch, on_closed);
        uv_close((uv_handle_t *)&d->watch_delay, on_closed);
    }
    /* The signal watchers are not closed but unreferenced (uv_run then returns without
     * them) and stay installed until the process is gone: closing or stopping the last
     * watcher of a signal puts back its default action, which for SIGTERM, SIGINT and SIGHUP
     * is to die by the signal, so one arriving during the teardown that follows (or during
     * LeakSanitizer's report at exit) would end the process with it instead of exit 0. From
     * here on on_signal ignores them. (The handles live in static storage for this reason;
     * uv_loop_close then reports them open, which is harmless at exit.) */
    d->closing = 1;
    uv_unref((uv_handle_t *)&d->sig_term);
    uv_unref((uv_handle_t *)&d->sig_int);
    uv_unref((uv_handle_t *)&d->sig_hup);
}

static void on_signal(uv_signal_t *s, int signum) {
    daemon_t *d = s->data;
    if (d->closing) return; /* the final teardown: nothing left to do (see shutdown_done) */
    if (signum == SIGHUP) {
        sl_logf(SL_LOG_INFO, "SIGHUP: reloading (%d hook(s))", n_reload_hooks);
        notify("RELOADING=1");
        for (int i = 0; i < n_reload_hooks; i++) reload_hooks[i].fn(reload_hooks[i].arg);
        notify("READY=1");
        return;
    }
    if (d->stopping) {
        sl_logf(SL_LOG_WARN, "%s again: cancelling everything now", signum == SIGINT ? "SIGINT" : "SIGTERM");
        sl_engine_cancel_all(d->engine);
        return;
    }
    d->stopping = 1;
    notify("STOPPING=1");
    sl_logf(SL_LOG_INFO, "%s: draining %d request(s), grace %.1f s", signum == SIGINT ? "SIGINT" : "SIGTERM",
            sl_api_active(d->api), d->o.shutdown_grace);
    sl_api_shutdown(d->api, d->o.shutdown_grace, shutdown_done, d);
}

/* ---------------------------------------------------------------- store rescan, key reload */

/* Another replica sharing --store (issue 7) commits and deletes behind our back. Two ways to
 * notice, both ending in the same work on the thread pool (sl_store_rescan re-reads every
 * meta.json, then the registry drops resident versions that are no longer current):
 * - fast path (--store-watch): every commit and delete replaces DIR/.generation (lib/store.h),
 *   and one uv_fs_event watch on DIR (inotify; not recursive, hence the marker at the top)
 *   sees it at once; the event is coalesced over WATCH_DELAY_MS;
 * - fallback: a timer every --store-rescan-ms. inotify sees only changes made through this
 *   kernel: on NFS another host's commits raise no event, so there the interval bounds the
 *   delay. A local upload is visible at once without either.
 * Never two rescans at once: a change signalled during one makes it run again afterwards. */
#define WATCH_DELAY_MS 10

static void rescan_work(uv_work_t *w) {
    daemon_t *d = w->data;
    d->rescan_changed = 0;
    d->rescan_rc = sl_store_rescan(d->store, &d->rescan_changed, d->rescan_err, sizeof d->rescan_err);
    if (!d->rescan_rc && d->rescan_changed) sl_registry_sync(d->registry);
}

static void rescan_done(uv_work_t *w, int status);

/* AGAIN: if one is running, run another after it (a change may have come after its scan). */
static void rescan_start(daemon_t *d, int again) {
    if (d->stopping) return;
    if (d->rescan_busy) {
        d->rescan_again |= again;
        return;
    }
    d->rescan_again = 0;
    d->rescan_work.data = d;
    if (uv_queue_work(d->loop, &d->rescan_work, rescan_work, rescan_done) == 0) d->rescan_busy = 1;
}

static void rescan_done(uv_work_t *w, int status) {
    daemon_t *d = w->data;
    d->rescan_busy = 0;
    if (d->rescan_rc) sl_logf(SL_LOG_WARN, "store rescan: %s", d->rescan_err);
    else if (d->rescan_changed) sl_logf(SL_LOG_INFO, "store rescan: the store changed on disk; index reloaded");
    if (d->rescan_again) rescan_start(d, 0);
}

static void on_rescan(uv_timer_t *t) { rescan_start(t->data, 0); }

static void on_watch_delay(uv_timer_t *t) { rescan_start(t->data, 1); }

static void on_store_event(uv_fs_event_t *h, const char *filename, int events, int status) {
    daemon_t *d = h->data;
    if (status < 0) {
        sl_logf(SL_LOG_WARN, "store watch: %s; relying on the rescan every %ld ms", uv_strerror(status),
                d->o.store_rescan_ms);
        uv_fs_event_stop(h);
        return;
    }
    /* NULL name: the kernel dropped events (queue overflow); rescan to be safe. */
    if (filename && strcmp(filename, SL_STORE_GENERATION) != 0) return;
    if (!uv_is_active((uv_handle_t *)&d->watch_delay)) uv_timer_start(&d->watch_delay, on_watch_delay, WATCH_DELAY_MS, 0);
}

/* SIGHUP: the keys file is read again; a broken file keeps the keys in force. */
static void reload_keys(void *arg) {
    daemon_t *d = arg;
    sl_api_keys *k = NULL;
    char err[512];
    if (sl_api_keys_load(&k, d->o.api_keys, err, sizeof err) != 0) {
        sl_logf(SL_LOG_ERROR, "%s; keeping the keys loaded before", err);
        return;
    }
    int n = sl_api_keys_count(k);
    sl_api_set_keys(d->api, k); /* ownership: the API's */
    sl_logf(SL_LOG_INFO, "API keys reloaded from %s: %d key(s)", d->o.api_keys, n);
}

/* ---------------------------------------------------------------- startup */

static int mkdir_p(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf) return -1;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0750) != 0 && errno != EEXIST) return -1;
            buf[i] = c;
        }
    }
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

/* The tool-call format and reasoning of the chat template (by its markers: the "tool_use"
 * template first, then the default one), unless forced by option. */
static void setup_tool_calls(daemon_t *d) {
    sl_toolcall_format fmt = SL_TOOLCALL_NONE;
    int reasoning = 0;
    const char *from = "no chat template";
    for (int with_tools = 1; with_tools >= 0; with_tools--) {
        const char *src = sl_template_source(&d->chat, with_tools);
        if (!src) continue;
        from = "chat template";
        if (fmt == SL_TOOLCALL_NONE) fmt = sl_toolcall_detect(src);
        reasoning |= sl_toolcall_detect_reasoning(src);
    }
    int forced = sl_toolcall_format_parse(d->o.tool_call_parser);
    if (forced >= 0) {
        fmt = (sl_toolcall_format)forced;
        from = "forced";
    }
    if (strcmp(d->o.reasoning_parser, "auto") != 0) reasoning = strcmp(d->o.reasoning_parser, "think") == 0;
    d->tool_format = fmt;
    d->reasoning = reasoning;
    sl_logf(SL_LOG_INFO, "tool calls: %s (%s); reasoning: %s", sl_toolcall_format_name(fmt), from,
            reasoning ? "<think> blocks" : "none");
}

/* The store (cleaned and indexed), the registry over it, and the pinned --adapter NAME=DIR. */
static int load_adapters(daemon_t *d) {
    char err[1024];
    if (sl_store_open(&d->store, d->o.store, err, sizeof err) != 0) {
        sl_logf(SL_LOG_ERROR, "%s", err);
        return -1;
    }
    sl_adapter_opts ao = {.max_rank = (int)d->o.max_adapter_rank};
    if (sl_registry_init(&d->registry, d->model, d->store, (size_t)d->o.adapter_cache_bytes, &ao, err, sizeof err) != 0) {
        sl_logf(SL_LOG_ERROR, "%s", err);
        return -1;
    }
    for (int i = 0; i < d->o.adapters.n; i++) {
        const char *spec = d->o.adapters.v[i];
        const char *eq = strchr(spec, '=');
        if (!eq || eq == spec || !eq[1]) {
            sl_logf(SL_LOG_ERROR, "--adapter '%s': expected NAME=DIR", spec);
            return -1;
        }
        char name[128];
        size_t nl = (size_t)(eq - spec);
        if (nl >= sizeof name) {
            sl_logf(SL_LOG_ERROR, "--adapter '%s': name too long", spec);
            return -1;
        }
        memcpy(name, spec, nl);
        name[nl] = 0;
        if (!strcmp(name, d->model_id)) {
            sl_logf(SL_LOG_ERROR, "--adapter '%s': the name is the base model's", spec);
            return -1;
        }
        sl_adapter *a = NULL;
        if (sl_adapter_load_dir(&a, d->model, eq + 1, &ao, err, sizeof err) != 0) {
            sl_logf(SL_LOG_ERROR, "adapter %s: %s", name, err);
            return -1;
        }
        sl_logf(SL_LOG_INFO, "adapter %s: %s r=%d, %zu bytes, from %s (pinned)", name,
                sl_adapter_get_kind(a) == SL_ADAPTER_SYMLORA ? "SymLoRA" : "LoRA", sl_adapter_rank(a),
                sl_adapter_bytes(a), eq + 1);
        /* Ownership: the registry takes our reference, also on failure. */
        if (sl_registry_add_pinned(d->registry, name, a, err, sizeof err) != 0) {
            sl_logf(SL_LOG_ERROR, "--adapter %s: %s", spec, err);
            return -1;
        }
    }
    sl_store_entry *all = NULL;
    size_t n = 0;
    if (sl_store_list(d->store, NULL, &all, &n) == 0)
        sl_logf(SL_LOG_INFO, "store %s: %zu adapter(s); cache budget %ld bytes", d->o.store, n, d->o.adapter_cache_bytes);
    free(all);
    return 0;
}

/* Every connection is a descriptor: raise the soft open-file limit to the hard one if
 * --max-connections (plus room for the store, the model and the loop) needs it. */
static void raise_nofile(long max_connections) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t need = (rlim_t)max_connections + 256;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = old;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        sl_logf(SL_LOG_WARN, "the open-file limit is %llu, less than --max-connections %ld needs (%llu): raise LimitNOFILE "
                             "(ulimit -n) or lower --max-connections", (unsigned long long)rl.rlim_cur, max_connections,
                (unsigned long long)need);
}

/* Is HOST:PORT a loopback address? (Only a warning hangs on it.) */
static int loopback(const char *listen) {
    return !strncmp(listen, "127.", 4) || !strncmp(listen, "[::1]", 5) || !strncmp(listen, "localhost:", 10);
}

int main(int argc, char **argv) {
    static daemon_t d; /* static: libuv's signal handler may look at d.sig_* until the exit */
    memset(&d, 0, sizeof d);
    char err[1024];
    if (sl_options_parse(&d.o, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "symlorad: %s\n", err);
        sl_options_free(&d.o);
        return 2;
    }
    if (d.o.help) {
        sl_options_help(stdout, "symlorad");
        sl_options_free(&d.o);
        return 0;
    }
    if (d.o.version) {
        const char *sets[4];
        int n = sl_kernels_runnable(sets, 4);
        printf("symlorad %s\nkernels: %s (%s); this CPU runs:", SL_VERSION, sl_kernels_active()->name,
               sl_kernels_active()->tiles);
        for (int i = 0; i < n; i++) printf(" %s", sets[i]);
        printf("\n");
        sl_options_free(&d.o);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_mutex_init(&d.wake_mu);
    sl_log_setup(d.o.log_format, d.o.log_level);
    raise_nofile(d.o.max_connections);
    int code = 1;

    if (mkdir_p(d.o.store) != 0) {
        sl_logf(SL_LOG_ERROR, "--store %s: cannot create the directory: %s", d.o.store, strerror(errno));
        goto out;
    }
    if (d.o.model_name && *d.o.model_name) {
        snprintf(d.model_id, sizeof d.model_id, "%s", d.o.model_name);
    } else {
        const char *m = d.o.model;
        size_t n = strlen(m);
        while (n > 1 && m[n - 1] == '/') n--;
        size_t s = n;
        while (s > 0 && m[s - 1] != '/') s--;
        snprintf(d.model_id, sizeof d.model_id, "%.*s", (int)(n - s), m + s);
    }

    if (strcmp(d.o.kernels, "auto") && sl_kernels_select(d.o.kernels, err, sizeof err) != 0) {
        sl_logf(SL_LOG_ERROR, "--kernels: %s", err);
        goto out;
    }
    sl_logf(SL_LOG_INFO, "kernels: %s (%s); %s", sl_kernels_active()->name, sl_kernels_active()->tiles,
            sl_prefetch_walks_pages()
                ? "T0 prefetches walk pages: adapters' pages walked by them, decode tiles prefetch with T0"
                : "T0 prefetches do not walk pages: adapters' pages touched before their prefetches");
    sl_model_opts mo = {.log = lib_log, .dtype = d.o.dtype};
    if (sl_model_load(&d.model, d.o.model, &mo, err, sizeof err) != 0) {
        sl_logf(SL_LOG_ERROR, "model %s: %s", d.o.model, err);
        goto out;
    }
    const sl_model_config *cfg = sl_model_get_config(d.model);
    sl_logf(SL_LOG_INFO, "model %s: %s, %d layers, hidden %d, vocab %d, context %d, %zu MB of weights (%s)", d.model_id,
            cfg->model_type, cfg->n_layers, cfg->hidden, cfg->vocab, cfg->max_pos, sl_model_weight_bytes(d.model) >> 20,
            sl_model_wtype_name(d.model));
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", d.o.model);
    if (sl_tokenizer_load(&d.tok, path, err, sizeof err) != 0) {
        sl_logf(SL_LOG_ERROR, "tokenizer %s: %s", path, err);
        goto out;
    }
    if (sl_chat_init(&d.chat, d.o.model, d.o.chat_template, err, sizeof err) != 0) {
        sl_logf(SL_LOG_ERROR, "chat template: %s", err);
        goto out;
    }
    if (sl_chat_ready(&d.chat))
        sl_logf(SL_LOG_INFO, "chat template: %s%s", d.chat.origin, d.chat.tmpl_tools ? " (with a tool_use template)" : "");
    else /* a template that does not parse is reported here with its line; chat requests get 400 */
        sl_logf(d.chat.origin[0] ? SL_LOG_ERROR : SL_LOG_WARN,
                "chat template: %s; /v1/chat/completions will answer 400 (give one with --chat-template FILE)",
                d.chat.error);
    setup_tool_calls(&d);
    if (load_adapters(&d) != 0) goto out;
    if (d.o.import_dir && *d.o.import_dir) {
        struct stat ist;
        if (stat(d.o.import_dir, &ist) != 0 || !S_ISDIR(ist.st_mode)) {
            sl_logf(SL_LOG_ERROR, "--import-dir %s: not a directory", d.o.import_dir);
            goto out;
        }
        sl_logf(SL_LOG_INFO, "load_lora_adapter: adapters may be loaded from below %s", d.o.import_dir);
    }
    sl_api_keys *keys = NULL;
    if (d.o.api_keys && *d.o.api_keys) {
        if (sl_api_keys_load(&keys, d.o.api_keys, err, sizeof err) != 0) {
            sl_logf(SL_LOG_ERROR, "%s", err);
            goto out;
        }
        sl_logf(SL_LOG_INFO, "API keys: %d key(s) from %s; every route but /health and /metrics needs one",
                sl_api_keys_count(keys), d.o.api_keys);
    } else if (!loopback(d.o.listen)) {
        sl_logf(SL_LOG_WARN, "--listen %s without --api-keys: anyone who can reach it may upload and use adapters",
                d.o.listen);
    }

    sl_engine_opts eo = {
        .max_batch_tokens = (int)d.o.max_batch_tokens,
        .max_running = (int)d.o.max_running,
        .threads = (int)d.o.threads,
        .max_waiting = (int)d.o.max_waiting,
        .prefill_chunk = (int)d.o.prefill_chunk,
        .kv_block_size = (int)d.o.kv_block_size,
        .kv_blocks = (int)d.o.kv_blocks,
        .kv_cache_mb = (size_t)d.o.kv_cache_mb,
        .prefix_cache = !d.o.no_prefix_cache,
        .share_tenants = d.o.prefix_cache_share_tenants,
        .tenant_max_inflight = (int)d.o.tenant_max_inflight,
        .tenant_max_waiting = (int)d.o.tenant_max_waiting,
        .kv_dtype = sl_wtype_parse(d.o.kv_dtype),
        .max_ctx = (int)d.o.max_model_len,
        .step_delay_ms = (int)d.o.step_delay_ms,
        .wake = engine_wake,
        .wake_ctx = &d,
        .log = lib_log,
    };
    if (sl_engine_init(&d.engine, d.model, d.tok, &eo, err, sizeof err) != 0) {
        sl_logf(SL_LOG_ERROR, "engine: %s", err);
        goto out;
    }
    sl_engine_stats st;
    sl_engine_get_stats(d.engine, &st);
    sl_logf(SL_LOG_INFO, "engine: context %d, %d KV blocks of %d (%s, taken as tokens come), batch %ld tokens / %ld sequences, "
            "prefix cache %s", st.max_ctx, st.kv_blocks_total, st.kv_block_size, d.o.kv_dtype, d.o.max_batch_tokens, d.o.max_running,
            !st.prefix_cache ? "off" : d.o.prefix_cache_share_tenants ? "on (shared between tenants)" : "on (per tenant)");

    d.loop = uv_default_loop();
    sl_api_config ac = {
        .listen = d.o.listen,
        .model_id = d.model_id,
        .max_body_bytes = (size_t)d.o.max_body_bytes,
        .max_connections = (int)d.o.max_connections,
        .max_connections_per_ip = (int)d.o.max_connections_per_ip,
        .connection_timeout_s = (int)d.o.connection_timeout,
        .request_timeout_s = (int)d.o.request_timeout,
        .connection_memory = (size_t)d.o.connection_memory_bytes,
        .http_strictness = (int)d.o.http_strictness,
        .max_tokens = (int)d.o.max_tokens,
        .max_prompt_tokens = (int)d.o.max_prompt_tokens,
        .retry_after_s = (int)d.o.retry_after,
        .metrics_names = d.o.metrics_names,
        .max_lora = (int)d.o.max_running,
        .model = d.model,
        .tok = d.tok,
        .engine = d.engine,
        .chat = &d.chat,
        .tool_format = d.tool_format,
        .reasoning = d.reasoning,
        .adapters = sl_adapter_registry_source(d.registry),
        .store = d.store,
        .registry = d.registry,
        .max_adapter_bytes = (size_t)d.o.max_adapter_bytes,
        .max_adapter_rank = (int)d.o.max_adapter_rank,
        .import_dir = d.o.import_dir,
        .tenant_max_store_bytes = (int64_t)d.o.tenant_max_store_bytes,
        .tenant_max_adapters = (int64_t)d.o.tenant_max_adapters,
        .max_uploads_per_tenant = (int)d.o.max_uploads_per_tenant,
        .max_uploads_per_ip = (int)d.o.max_uploads_per_ip,
        .upload_min_rate = (int64_t)d.o.upload_min_rate,
        .reserved_connections = (int)d.o.reserved_connections,
        .keys = keys, /* ownership: the API's from here on */
        .log = api_log,
        .access = api_access,
    };
    if (sl_api_init(&d.api, d.loop, &ac, err, sizeof err) != 0) {
        sl_logf(SL_LOG_ERROR, "http: %s", err);
        goto out;
    }
    uv_mutex_lock(&d.wake_mu);
    d.wake_live = 1;
    uv_mutex_unlock(&d.wake_mu);
    uv_signal_init(d.loop, &d.sig_term);
    uv_signal_init(d.loop, &d.sig_int);
    uv_signal_init(d.loop, &d.sig_hup);
    d.sig_term.data = d.sig_int.data = d.sig_hup.data = &d;
    uv_signal_start(&d.sig_term, on_signal, SIGTERM);
    uv_signal_start(&d.sig_int, on_signal, SIGINT);
    uv_signal_start(&d.sig_hup, on_signal, SIGHUP);
    if (keys) sl_daemon_on_reload(reload_keys, &d);
    if (d.o.store_rescan_ms > 0) {
        uv_timer_init(d.loop, &d.rescan);
        d.rescan.data = &d;
        d.rescan_init = 1;
        uv_timer_start(&d.rescan, on_rescan, (uint64_t)d.o.store_rescan_ms, (uint64_t)d.o.store_rescan_ms);
    }
    if (d.o.store_rescan_ms > 0 && d.o.store_watch) {
        uv_fs_event_init(d.loop, &d.watch);
        uv_timer_init(d.loop, &d.watch_delay);
        d.watch.data = d.watch_delay.data = &d;
        d.watch_init = 1;
        int rc = uv_fs_event_start(&d.watch, on_store_event, d.o.store, 0);
        if (rc < 0)
            sl_logf(SL_LOG_WARN, "store watch %s: %s; other replicas' changes show within %ld ms (--store-rescan-ms)",
                    d.o.store, uv_strerror(rc), d.o.store_rescan_ms);
    }
    sl_logf(SL_LOG_INFO, "listening on http://%s (model %s, auth %s)", sl_api_address(d.api), d.model_id,
            keys ? "on" : "off");
    notify("READY=1");

    uv_run(d.loop, UV_RUN_DEFAULT); /* until shutdown_done closed every handle */
    code = 0;
    sl_logf(SL_LOG_INFO, "stopped");

out:
    if (d.loop) {
        if (d.api && code != 0) close_api(&d);
        uv_run(d.loop, UV_RUN_DEFAULT);
        uv_loop_close(d.loop);
    }
    sl_engine_free(d.engine); /* after the API: no consumer is left */
    sl_api_free(d.api);
    sl_registry_free(d.registry); /* after the engine: no request holds an adapter */
    sl_store_free(d.store);
    sl_tokenizer_free(d.tok);
    sl_chat_free(&d.chat);
    sl_model_free(d.model);
    sl_options_free(&d.o);
    uv_mutex_destroy(&d.wake_mu);
    return code;
}
