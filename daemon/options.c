/* options.c — the option table and its two readers (command line, config file). */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

typedef enum opt_type { OPT_STR, OPT_LONG, OPT_DOUBLE, OPT_ENUM, OPT_LIST, OPT_FLAG } opt_type;

typedef struct sl_opt {
    const char *name;
    opt_type type;
    const char *def;     /* default as text; NULL: none */
    double min, max;     /* OPT_LONG, OPT_DOUBLE */
    const char *choices; /* OPT_ENUM: "a|b|c" */
    size_t off;          /* field in sl_daemon_opts */
    const char *metavar;
    const char *help;
    int required;
    int hidden;          /* testing knobs: accepted, but not in --help (not for users) */
} sl_opt;

#define F(field) offsetof(sl_daemon_opts, field)

static const sl_opt opts[] = {
    {.name = "model", .type = OPT_STR, .off = F(model), .metavar = "DIR", .required = 1,
     .help = "Hugging Face model directory (config.json, *.safetensors, tokenizer.json)"},
    {.name = "store", .type = OPT_STR, .off = F(store), .metavar = "DIR", .required = 1,
     .help = "adapter store directory (created if missing)"},
    {.name = "listen", .type = OPT_STR, .def = "127.0.0.1:8080", .off = F(listen), .metavar = "HOST:PORT",
     .help = "address to serve HTTP on ([::1]:PORT for IPv6; port 0 picks a free port)"},
    {.name = "adapter", .type = OPT_LIST, .off = F(adapters), .metavar = "NAME=DIR",
     .help = "preload the adapter in DIR under NAME for every tenant, never evicted (repeatable)"},
    {.name = "adapter-cache-bytes", .type = OPT_LONG, .def = "1073741824", .min = 0, .max = 1L << 50,
     .off = F(adapter_cache_bytes), .metavar = "BYTES",
     .help = "memory for stored adapters loaded on first use; the least recently used idle ones are evicted (0: no limit)"},
    {.name = "max-adapter-bytes", .type = OPT_LONG, .def = "268435456", .min = 1024, .max = 1L << 40,
     .off = F(max_adapter_bytes), .metavar = "BYTES", .help = "largest adapter upload (the whole request body); larger ones get 413"},
    {.name = "tenant-max-store-bytes", .type = OPT_LONG, .def = "4294967296", .min = 0, .max = 1L << 50,
     .off = F(tenant_max_store_bytes), .metavar = "BYTES",
     .help = "stored bytes of one tenant's adapters; an upload past it gets 413 (per tenant: max_store_bytes= in the keys file; 0: no limit)"},
    {.name = "tenant-max-adapters", .type = OPT_LONG, .def = "256", .min = 0, .max = 1L << 30, .off = F(tenant_max_adapters),
     .metavar = "N", .help = "stored adapters of one tenant; a new name past it gets 413 (per tenant: max_adapters=; 0: no limit)"},
    {.name = "max-uploads-per-tenant", .type = OPT_LONG, .def = "4", .min = 0, .max = 1 << 20, .off = F(max_uploads_per_tenant),
     .metavar = "N", .help = "uploads of one tenant in progress at once; more get 429 before their body is read (per tenant: max_uploads=; 0: no limit)"},
    {.name = "max-uploads-per-ip", .type = OPT_LONG, .def = "8", .min = 0, .max = 1 << 20, .off = F(max_uploads_per_ip),
     .metavar = "N", .help = "uploads from one client address in progress at once; more get 429 (0: no limit; behind a proxy: its address)"},
    {.name = "upload-min-rate", .type = OPT_LONG, .def = "16384", .min = 0, .max = 1L << 40, .off = F(upload_min_rate),
     .metavar = "BYTES/S", .help = "an upload slower than this on average, counted from --request-timeout after its headers, is cut (0: no minimum)"},
    {.name = "reserved-connections", .type = OPT_LONG, .def = "32", .min = 0, .max = 1 << 20, .off = F(reserved_connections),
     .metavar = "N", .help = "the last N of --max-connections serve only /health, /metrics and authenticated requests other than uploads"},
    {.name = "import-dir", .type = OPT_STR, .def = "", .off = F(import_dir), .metavar = "DIR",
     .help = "POST /v1/load_lora_adapter may read adapters below DIR only (empty: that route is disabled)"},
    {.name = "api-keys", .type = OPT_STR, .def = "", .off = F(api_keys), .metavar = "FILE",
     .help = "API keys, lines 'SHA256HEX TENANT ROLE [WEIGHT] [NAME=VALUE ...]' (role tenant|admin), mode 600; reloaded on SIGHUP (empty: auth off)"},
    {.name = "store-rescan-ms", .type = OPT_LONG, .def = "2000", .min = 0, .max = 86400000, .off = F(store_rescan_ms),
     .metavar = "MS", .help = "re-read the store directory this often, to see other replicas' changes (0: never, and no store-watch)"},
    {.name = "store-watch", .type = OPT_LONG, .def = "1", .min = 0, .max = 1, .off = F(store_watch), .metavar = "0|1",
     .help = "also re-read it at once when a replica on this host changes it (inotify on STORE/.generation; not across NFS hosts)"},
    {.name = "model-name", .type = OPT_STR, .def = "", .off = F(model_name), .metavar = "NAME",
     .help = "the base model's id in the API (default: the model directory's name)"},
    {.name = "chat-template", .type = OPT_STR, .def = "", .off = F(chat_template), .metavar = "FILE",
     .help = "Jinja chat template file (.jinja, or .json with \"chat_template\") instead of the model's own (chat_template.jinja, chat_template.json, tokenizer_config.json)"},
    {.name = "tool-call-parser", .type = OPT_ENUM, .def = "auto", .choices = "auto|none|hermes|llama3_json|mistral",
     .off = F(tool_call_parser), .metavar = "NAME",
     .help = "format the model writes tool calls in: recognised from the chat template (<tool_call>: hermes, <|python_tag|>/ipython: llama3_json, [TOOL_CALLS]: mistral), or forced"},
    {.name = "reasoning-parser", .type = OPT_ENUM, .def = "auto", .choices = "auto|none|think", .off = F(reasoning_parser),
     .metavar = "NAME",
     .help = "<think>...</think> of the output as reasoning_content: when the chat template writes <think> (auto), never, or always (think)"},
    {.name = "config", .type = OPT_STR, .def = "", .off = F(config), .metavar = "FILE",
     .help = "read options from FILE (\"name = value\" lines, # comments); the command line wins"},
    {.name = "max-model-len", .type = OPT_LONG, .def = "0", .min = 0, .max = 1 << 24, .off = F(max_model_len),
     .metavar = "N", .help = "context length, prompt + output (0: the model's max_position_embeddings)"},
    {.name = "max-batch-tokens", .type = OPT_LONG, .def = "512", .min = 1, .max = 1 << 20, .off = F(max_batch_tokens),
     .metavar = "N", .help = "most tokens in one engine step (decode tokens + prefill chunks)"},
    {.name = "max-running", .type = OPT_LONG, .def = "64", .min = 1, .max = 4096, .off = F(max_running), .metavar = "N",
     .help = "most sequences running at once"},
    {.name = "max-waiting", .type = OPT_LONG, .def = "256", .min = 1, .max = 1 << 20, .off = F(max_waiting),
     .metavar = "N", .help = "wait queue length; beyond it requests get 429 with Retry-After"},
    {.name = "prefill-chunk", .type = OPT_LONG, .def = "256", .min = 1, .max = 1 << 20, .off = F(prefill_chunk),
     .metavar = "N", .help = "most prompt tokens of one sequence per step (long prompts are prefilled in chunks)"},
    {.name = "kv-block-size", .type = OPT_LONG, .def = "16", .min = 16, .max = 4096, .off = F(kv_block_size),
     .metavar = "N", .help = "token positions per KV cache block (a multiple of 16)"},
    {.name = "threads", .type = OPT_LONG, .def = "0", .min = 0, .max = 64, .off = F(threads), .metavar = "N",
     .help = "threads that run an engine step (0: one per online CPU)"},
    {.name = "kv-blocks", .type = OPT_LONG, .def = "0", .min = 0, .max = 1 << 30, .off = F(kv_blocks), .metavar = "N",
     .help = "KV cache blocks (0: enough for max-running full contexts, within kv-cache-mb)"},
    {.name = "dtype", .type = OPT_ENUM, .def = "auto", .choices = "auto|f32|bf16|f16|q8_0", .off = F(dtype),
     .metavar = "TYPE",
     .help = "weights of the linear layers in memory: auto (the checkpoint's own: a BF16 model stays BF16), f32, bf16, f16, or q8_0 (int8, a scale per 32 weights; ~1/4 of F32)"},
    {.name = "kv-dtype", .type = OPT_ENUM, .def = "f16", .choices = "f32|bf16|f16", .off = F(kv_dtype), .metavar = "TYPE",
     .help = "KV cache elements: f16 (half the memory and the attention's reads of f32), bf16, or f32 (exact: parity with the reference to 1e-4)"},
    {.name = "kernels", .type = OPT_ENUM, .def = "auto", .choices = "auto|avx512|avx2|generic", .off = F(kernels),
     .metavar = "SET", .help = "compute kernels: auto (the best this CPU runs; SL_KERNELS in the environment also sets it), or a lower set"},
    {.name = "kv-cache-mb", .type = OPT_LONG, .def = "1024", .min = 1, .max = 1 << 24, .off = F(kv_cache_mb),
     .metavar = "MB", .help = "memory cap of the automatically sized KV cache"},
    {.name = "no-prefix-cache", .type = OPT_FLAG, .off = F(no_prefix_cache),
     .help = "do not reuse the KV of cached prompt prefixes (prefix caching is on by default)"},
    {.name = "prefix-cache-share-tenants", .type = OPT_FLAG, .off = F(prefix_cache_share_tenants),
     .help = "let tenants share cached prefixes (by default each tenant's are its own: sharing lets one tenant time another's prompts)"},
    {.name = "tenant-max-inflight", .type = OPT_LONG, .def = "192", .min = 1, .max = 1 << 20, .off = F(tenant_max_inflight),
     .metavar = "N", .help = "most requests of one tenant running or waiting; beyond it 429 with Retry-After"},
    {.name = "tenant-max-waiting", .type = OPT_LONG, .def = "128", .min = 1, .max = 1 << 20, .off = F(tenant_max_waiting),
     .metavar = "N", .help = "most waiting requests of one tenant; beyond it 429 with Retry-After"},
    {.name = "metrics-names", .type = OPT_FLAG, .off = F(metrics_names),
     .help = "show tenant and adapter names in /metrics to every scraper (per-tenant series, vllm:lora_requests_info); else only to an admin key"},
    {.name = "max-adapter-rank", .type = OPT_LONG, .def = "256", .min = 1, .max = 65536, .off = F(max_adapter_rank),
     .metavar = "R", .help = "adapters of a higher rank are rejected"},
    {.name = "max-body-bytes", .type = OPT_LONG, .def = "1048576", .min = 1024, .max = 1L << 30,
     .off = F(max_body_bytes), .metavar = "BYTES", .help = "largest JSON request body; larger ones get 413 (uploads: max-adapter-bytes)"},
    {.name = "max-tokens", .type = OPT_LONG, .def = "4096", .min = 0, .max = 1 << 24, .off = F(max_tokens),
     .metavar = "N", .help = "largest max_tokens (max_completion_tokens) a request may ask for; more gets 400 (0: up to the context length)"},
    {.name = "max-prompt-tokens", .type = OPT_LONG, .def = "0", .min = 0, .max = 1 << 24, .off = F(max_prompt_tokens),
     .metavar = "N", .help = "longest prompt in tokens (chat: after the template); longer ones get 400 (0: up to the context length)"},
    {.name = "max-connections", .type = OPT_LONG, .def = "1024", .min = 1, .max = 1 << 20, .off = F(max_connections),
     .metavar = "N", .help = "most open HTTP connections; more are closed at once (the open-file limit is raised to fit)"},
    {.name = "max-connections-per-ip", .type = OPT_LONG, .def = "512", .min = 0, .max = 1 << 20,
     .off = F(max_connections_per_ip), .metavar = "N",
     .help = "most open HTTP connections from one client address (0: no limit; behind a reverse proxy all come from its address)"},
    {.name = "connection-timeout", .type = OPT_LONG, .def = "60", .min = 0, .max = 86400,
     .off = F(connection_timeout), .metavar = "SECONDS",
     .help = "a connection that sends and receives nothing for this long is closed, also an idle keep-alive one; streams are not cut while tokens flow (0: never)"},
    {.name = "request-timeout", .type = OPT_LONG, .def = "30", .min = 0, .max = 86400, .off = F(request_timeout),
     .metavar = "SECONDS",
     .help = "a request's line, headers and JSON body must all arrive within this long (slow senders are cut; uploads: the headers) (0: no limit)"},
    {.name = "connection-memory-bytes", .type = OPT_LONG, .def = "32768", .min = 8192, .max = 1 << 24,
     .off = F(connection_memory_bytes), .metavar = "BYTES",
     .help = "memory of one HTTP connection for its request line, headers and I/O buffers (bounds the header size: larger gets 431)"},
    {.name = "http-strictness", .type = OPT_LONG, .def = "1", .min = -1, .max = 1, .off = F(http_strictness),
     .metavar = "LEVEL",
     .help = "request framing: 1 strict (one 400 for control bytes or NUL in headers, a line not ended by CR LF, a folded header line, two Authorization or Content-Length headers, Content-Length with Transfer-Encoding, HTTP/1.1 without Host, spaces in the URL), 0 libmicrohttpd's default, -1 tolerant; a malformed Content-Length gets one 400 at every level"},
    {.name = "retry-after", .type = OPT_LONG, .def = "1", .min = 0, .max = 3600, .off = F(retry_after),
     .metavar = "SECONDS", .help = "Retry-After of a 429 (wait queue full)"},
    {.name = "shutdown-grace", .type = OPT_DOUBLE, .def = "10", .min = 0, .max = 3600, .off = F(shutdown_grace),
     .metavar = "SECONDS", .help = "on SIGTERM, time running requests get to finish before they are cancelled"},
    {.name = "step-delay-ms", .type = OPT_LONG, .def = "0", .min = 0, .max = 10000, .off = F(step_delay_ms),
     .metavar = "MS", .hidden = 1, .help = "testing only: pause the engine after every step, so streams last"},
    {.name = "log-format", .type = OPT_ENUM, .def = "text", .choices = "text|json", .off = F(log_format),
     .metavar = "FMT", .help = "log lines on stderr: text or JSON (one object per line)"},
    {.name = "log-level", .type = OPT_ENUM, .def = "info", .choices = "debug|info|warn|error", .off = F(log_level),
     .metavar = "LEVEL", .help = "least severe level logged"},
    {.name = "help", .type = OPT_FLAG, .off = F(help), .help = "print this help and exit"},
    {.name = "version", .type = OPT_FLAG, .off = F(version), .help = "print the version and exit"},
};
#define N_OPTS ((int)(sizeof opts / sizeof opts[0]))

static const sl_opt *find(const char *name, size_t len) {
    for (int i = 0; i < N_OPTS; i++) {
        const char *n = opts[i].name;
        if (strlen(n) != len) continue;
        size_t k = 0;
        for (; k < len; k++) /* '_' and '-' are the same in names (config files like both) */
            if (!(n[k] == name[k] || (n[k] == '-' && name[k] == '_'))) break;
        if (k == len) return &opts[i];
    }
    return NULL;
}

static int list_add(sl_strlist *l, const char *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return SL_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s))) return SL_ENOMEM;
    l->n++;
    return 0;
}

static int set(sl_daemon_opts *o, const sl_opt *op, const char *val, const char *where, char *err, size_t errlen) {
    void *p = (char *)o + op->off;
    switch (op->type) {
    case OPT_STR: {
        char *s = strdup(val);
        if (!s) return sl__errf(err, errlen, SL_ENOMEM, "out of memory");
        free(*(char **)p);
        *(char **)p = s;
        return 0;
    }
    case OPT_ENUM: {
        size_t vl = strlen(val);
        for (const char *c = op->choices; *c;) {
            const char *bar = strchr(c, '|');
            size_t cl = bar ? (size_t)(bar - c) : strlen(c);
            if (cl == vl && !strncmp(c, val, vl)) {
                char *s = strdup(val);
                if (!s) return sl__errf(err, errlen, SL_ENOMEM, "out of memory");
                free(*(char **)p);
                *(char **)p = s;
                return 0;
            }
            c += cl + (bar ? 1 : 0);
        }
        return sl__errf(err, errlen, SL_EINVAL, "%s: --%s must be one of %s, not '%s'", where, op->name, op->choices, val);
    }
    case OPT_LONG: {
        char *end;
        errno = 0;
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end)
            return sl__errf(err, errlen, SL_EINVAL, "%s: --%s expects an integer, not '%s'", where, op->name, val);
        if (v < op->min || v > op->max)
            return sl__errf(err, errlen, SL_ERANGE, "%s: --%s must be between %.0f and %.0f, not %ld", where, op->name,
                            op->min, op->max, v);
        *(long *)p = v;
        return 0;
    }
    case OPT_DOUBLE: {
        char *end;
        errno = 0;
        double v = strtod(val, &end);
        if (errno || end == val || *end || !isfinite(v))
            return sl__errf(err, errlen, SL_EINVAL, "%s: --%s expects a number, not '%s'", where, op->name, val);
        if (v < op->min || v > op->max)
            return sl__errf(err, errlen, SL_ERANGE, "%s: --%s must be between %g and %g, not %g", where, op->name,
                            op->min, op->max, v);
        *(double *)p = v;
        return 0;
    }
    case OPT_LIST:
        if (list_add((sl_strlist *)p, val)) return sl__errf(err, errlen, SL_ENOMEM, "out of memory");
        return 0;
    case OPT_FLAG:
        if (!strcmp(val, "1") || !strcmp(val, "true") || !strcmp(val, "yes")) *(int *)p = 1;
        else if (!strcmp(val, "0") || !strcmp(val, "false") || !strcmp(val, "no")) *(int *)p = 0;
        else return sl__errf(err, errlen, SL_EINVAL, "%s: --%s expects true or false, not '%s'", where, op->name, val);
        return 0;
    }
    return SL_EINVAL;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static int read_config(sl_daemon_opts *o, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) return sl__errf(err, errlen, SL_EIO, "--config %s: %s", path, strerror(errno));
    char line[8192];
    int ln = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        ln++;
        char *s = trim(line);
        if (!*s || *s == '#' || *s == ';') continue;
        char where[600];
        snprintf(where, sizeof where, "%s:%d", path, ln);
        char *eq = strchr(s, '=');
        char *key = s, *val = NULL;
        if (eq) {
            *eq = 0;
            val = trim(eq + 1);
            key = trim(s);
        }
        if (key[0] == '-' && key[1] == '-') key += 2;
        const sl_opt *op = find(key, strlen(key));
        if (!op || !strcmp(op->name, "help") || !strcmp(op->name, "version") || !strcmp(op->name, "config")) {
            rc = sl__errf(err, errlen, SL_EINVAL, "%s: unknown option '%s'", where, key);
            break;
        }
        if (!val) {
            rc = sl__errf(err, errlen, SL_EINVAL, "%s: '%s' needs a value (name = value)", where, key);
            break;
        }
        size_t vl = strlen(val); /* "quoted values" keep their spaces */
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = 0;
            val++;
        }
        rc = set(o, op, val, where, err, errlen);
    }
    fclose(f);
    return rc;
}

int sl_options_parse(sl_daemon_opts *o, int argc, char **argv, char *err, size_t errlen) {
    memset(o, 0, sizeof *o);
    int rc;
    for (int i = 0; i < N_OPTS; i++)
        if (opts[i].def && (rc = set(o, &opts[i], opts[i].def, "default", err, errlen)) != 0) return rc;
    /* Pass 1: --config and --help first, so the file comes under the command line. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) o->help = 1;
        if (!strncmp(a, "--config=", 9)) {
            if ((rc = set(o, find("config", 6), a + 9, "command line", err, errlen))) return rc;
        } else if (!strcmp(a, "--config") && i + 1 < argc) {
            if ((rc = set(o, find("config", 6), argv[++i], "command line", err, errlen))) return rc;
        }
    }
    if (o->help) return 0;
    if (o->config && *o->config && (rc = read_config(o, o->config, err, errlen)) != 0) return rc;
    /* Pass 2: the command line. A list given on the command line replaces the file's. */
    int list_reset = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0)
            return sl__errf(err, errlen, SL_EINVAL, "unexpected argument '%s' (options are --name VALUE)", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        const sl_opt *op = find(name, nl);
        if (!op) return sl__errf(err, errlen, SL_EINVAL, "unknown option '%.*s' (see --help)", (int)nl + 2, a);
        const char *val;
        if (eq) val = eq + 1;
        else if (op->type == OPT_FLAG) val = "1";
        else if (i + 1 < argc) val = argv[++i];
        else return sl__errf(err, errlen, SL_EINVAL, "--%s needs a value (%s)", op->name, op->metavar);
        if (!strcmp(op->name, "config")) continue;
        if (op->type == OPT_LIST && !list_reset) {
            sl_strlist *l = (sl_strlist *)((char *)o + op->off);
            for (int k = 0; k < l->n; k++) free(l->v[k]);
            l->n = 0;
            list_reset = 1;
        }
        if ((rc = set(o, op, val, "command line", err, errlen)) != 0) return rc;
    }
    if (o->help || o->version) return 0;
    for (int i = 0; i < N_OPTS; i++) {
        if (!opts[i].required) continue;
        char *v = *(char **)((char *)o + opts[i].off);
        if (!v || !*v) return sl__errf(err, errlen, SL_EINVAL, "--%s %s is required (see --help)", opts[i].name, opts[i].metavar);
    }
    return 0;
}

void sl_options_help(FILE *f, const char *prog) {
    fprintf(f, "Usage: %s --model DIR --store DIR [options]\n\n"
               "symlorad serves one base language model with many SymLoRA / LoRA adapters over an\n"
               "OpenAI-compatible HTTP API. Every option can also be set in a --config file.\n\nOptions:\n",
            prog);
    for (int i = 0; i < N_OPTS; i++) {
        const sl_opt *op = &opts[i];
        if (op->hidden) continue;
        char left[64];
        if (op->metavar) snprintf(left, sizeof left, "--%s %s", op->name, op->metavar);
        else snprintf(left, sizeof left, "--%s", op->name);
        fprintf(f, "  %-32s %s", left, op->help);
        if (op->required) fprintf(f, " (required)");
        else if (op->type == OPT_ENUM) fprintf(f, " [%s] (default: %s)", op->choices, op->def);
        else if (op->type == OPT_LIST) fprintf(f, " (default: none)");
        else if (op->type == OPT_FLAG) {
            if (strcmp(op->name, "help") && strcmp(op->name, "version")) fprintf(f, " (default: off)");
        }
        else if (op->def && *op->def) fprintf(f, " (default: %s)", op->def);
        fputc('\n', f);
    }
    fprintf(f, "\nSignals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads.\n");
}

void sl_options_free(sl_daemon_opts *o) {
    for (int i = 0; i < N_OPTS; i++) {
        void *p = (char *)o + opts[i].off;
        if (opts[i].type == OPT_STR || opts[i].type == OPT_ENUM) {
            free(*(char **)p);
            *(char **)p = NULL;
        } else if (opts[i].type == OPT_LIST) {
            sl_strlist *l = p;
            for (int k = 0; k < l->n; k++) free(l->v[k]);
            free(l->v);
            memset(l, 0, sizeof *l);
        }
    }
}
