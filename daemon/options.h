/* options.h — symlorad's options: one table (name, type, default, bounds, help), read from
 * the command line and from a config file of the same names ("name = value" lines).
 * Precedence: built-in default < config file < command line. */
#ifndef SL_OPTIONS_H
#define SL_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

typedef struct sl_strlist {
    char **v; /* owned */
    int n, cap;
} sl_strlist;

typedef struct sl_daemon_opts {
    char *model;
    char *store;
    char *listen;
    sl_strlist adapters; /* NAME=DIR */
    char *model_name;
    char *chat_template;
    char *tool_call_parser;
    char *reasoning_parser;
    char *config;
    long max_model_len;
    long max_batch_tokens;
    long max_running;
    long threads;
    long max_waiting;
    long prefill_chunk;
    long kv_block_size;
    long kv_blocks;
    long kv_cache_mb;
    int no_prefix_cache;
    int prefix_cache_share_tenants;
    long tenant_max_inflight;
    long tenant_max_waiting;
    int metrics_names;
    char *dtype;
    char *kv_dtype;
    char *kernels;
    long max_adapter_rank;
    long max_body_bytes;
    long max_connections;
    long max_connections_per_ip;
    long connection_timeout;
    long request_timeout;
    long connection_memory_bytes;
    long http_strictness;
    long max_tokens;
    long max_prompt_tokens;
    long retry_after;
    double shutdown_grace;
    long step_delay_ms;
    long adapter_cache_bytes;
    long max_adapter_bytes;
    long tenant_max_store_bytes;
    long tenant_max_adapters;
    long max_uploads_per_tenant;
    long max_uploads_per_ip;
    long upload_min_rate;
    long reserved_connections;
    char *import_dir;
    char *api_keys;
    long store_rescan_ms;
    long store_watch;
    char *log_format;
    char *log_level;
    int help;
    int version;
} sl_daemon_opts;

/* Parses ARGV (and the file of --config). 0 on success; on error a message is in err.
 * After success with o->help set, print sl_options_help and exit. */
int sl_options_parse(sl_daemon_opts *o, int argc, char **argv, char *err, size_t errlen);
void sl_options_help(FILE *f, const char *prog);
void sl_options_free(sl_daemon_opts *o);

#endif
