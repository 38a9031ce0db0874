/* store.h — the durable adapter store: versions on disk that survive crashes and restarts.
 *
 * Layout under DIR:
 *   DIR/<tenant>/<name>/v<N>/{adapter_config.json, adapter_model.safetensors, meta.json}
 *   DIR/.tmp/    uploads being written (removed at startup: never acknowledged)
 *   DIR/.trash/  deletions in progress (removed at startup)
 *   DIR/.generation  replaced (rename) after every commit and delete: a hint for other
 *                processes sharing DIR to rescan, watchable with one non-recursive inotify
 *                watch on DIR; content "PID SEQ WHAT", for people only
 * An upload is written into a fresh directory under .tmp, each file fsync'ed, meta.json added,
 * then the directory is renamed to v<N> and the parent fsync'ed: a version either exists whole
 * or not at all. Only then is it acknowledged. The previous version's directory is removed
 * after the new one is durable. Blocking I/O: call from worker threads, never the event loop.
 * Thread-safe (one mutex around the index). */
#ifndef SL_STORE_H
#define SL_STORE_H

#include <stddef.h>
#include <stdint.h>

#define SL_STORE_NAME_MAX 64
#define SL_STORE_GENERATION ".generation" /* the change marker, directly under DIR */

typedef struct sl_store sl_store;

typedef struct sl_store_entry {
    char tenant[SL_STORE_NAME_MAX + 1];
    char name[SL_STORE_NAME_MAX + 1];
    uint32_t version;          /* 1, 2, ... per name (restarts after a delete) */
    char sha256[65];           /* hex SHA-256 of adapter_model.safetensors */
    uint64_t bytes;            /* size of adapter_model.safetensors */
    uint64_t config_bytes;     /* size of adapter_config.json */
    int64_t created;           /* unix seconds */
    char peft_type[16];        /* "SYMLORA" / "LORA" */
    int r;
    char target_modules[160];  /* comma-separated leaf names */
} sl_store_entry;

/* Names of adapters and tenants: ^[a-z0-9][a-z0-9._-]{0,63}$ — one safe path component. */
int sl_store_name_valid(const char *s);

/* Opens (creating if needed) DIR, removes leftover temporaries and indexes every version. */
int sl_store_open(sl_store **out, const char *dir, char *err, size_t errlen);
void sl_store_free(sl_store *s);
const char *sl_store_dir(const sl_store *s);

enum sl_store_part { SL_STORE_CONFIG = 0, SL_STORE_WEIGHTS = 1 };

/* An upload in progress: begin, write parts (streamed; SHA-256 computed on the way), finish
 * (fsync), validate the files, then commit or abort. Exactly one of commit/abort frees it. */
typedef struct sl_store_txn sl_store_txn;
int sl_store_begin(sl_store *s, sl_store_txn **out, char *err, size_t errlen);
/* SL_ENOSPC when the disk is full (the caller answers 507), SL_EIO otherwise. */
int sl_store_txn_write(sl_store_txn *t, enum sl_store_part part, const void *buf, size_t len, char *err, size_t errlen);
uint64_t sl_store_txn_bytes(const sl_store_txn *t, enum sl_store_part part);
int sl_store_txn_finish(sl_store_txn *t, char *err, size_t errlen); /* fsync + close both files */
const char *sl_store_txn_dir(const sl_store_txn *t);                /* holds both files after finish */
/* The config as written so far (malloc'ed, caller frees; at most LIMIT bytes, else
 * SL_ETOOBIG; before finish it comes from the page cache), and, after finish, its durable
 * replacement by BUF (written beside it, fsync'ed, renamed over it; the commit fsyncs the
 * directory). Error texts name no path. */
int sl_store_txn_config(sl_store_txn *t, size_t limit, char **buf, size_t *len, char *err, size_t errlen);
int sl_store_txn_replace_config(sl_store_txn *t, const void *buf, size_t len, char *err, size_t errlen);
/* Makes the upload version N+1 of TENANT/NAME. E carries peft_type, r, target_modules in and
 * is filled completely on success. *created: 1 if the name is new. */
int sl_store_commit(sl_store *s, sl_store_txn *t, const char *tenant, const char *name, sl_store_entry *e,
                    int *created, char *err, size_t errlen);
void sl_store_abort(sl_store_txn *t);

/* The current version of TENANT/NAME (SL_ENOENT if none). */
int sl_store_get(sl_store *s, const char *tenant, const char *name, sl_store_entry *out);
/* All current versions of TENANT (NULL: every tenant); *out malloc'ed, caller frees. */
int sl_store_list(sl_store *s, const char *tenant, sl_store_entry **out, size_t *n);
int sl_store_delete(sl_store *s, const char *tenant, const char *name, char *err, size_t errlen);
/* Reads a version's two files into malloc'ed buffers (caller frees) and checks the weights'
 * SHA-256 against meta.json: SL_EFORMAT names the file when they differ. */
int sl_store_read(sl_store *s, const sl_store_entry *e, char **config, size_t *config_len, void **weights,
                  size_t *weights_len, char *err, size_t errlen);
/* Re-reads the index from disk without cleaning anything (another process may share DIR).
 * *changed: 1 if any name appeared, disappeared or changed version. */
int sl_store_rescan(sl_store *s, int *changed, char *err, size_t errlen);

#endif
