/* registry.h — which adapters exist and which are resident in memory.
 *
 * The store (store.h) is the truth about what exists; the registry keeps the current version
 * of each adapter loaded on first use, within a byte budget: when a load would exceed it, the
 * least recently used adapters with no request in flight (no reference but the registry's)
 * are evicted. Requests hold their own reference (sl_adapter_ref) for their whole life, so
 * a replacement, deletion or eviction never disturbs them: the old version is freed when its
 * last request ends. If every resident adapter is in flight the budget is exceeded until some
 * finish (admission never blocks on memory held by running requests).
 *
 * Pinned adapters (--adapter NAME=DIR) are loaded at startup, belong to no tenant, are visible
 * to every tenant after that tenant's own adapters, and are never evicted.
 * Thread-safe; sl_registry_acquire may block on disk I/O: call it from a worker thread. */
#ifndef SL_REGISTRY_H
#define SL_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "adapter.h"
#include "model.h"
#include "store.h"

typedef struct sl_registry sl_registry;

#define SL_REGISTRY_LOAD_BUCKETS 11
/* Upper bounds (ms) of the load-time histogram buckets; the last is +Inf. */
extern const double sl_registry_load_bucket_ms[SL_REGISTRY_LOAD_BUCKETS];

typedef struct sl_registry_stats {
    size_t resident, resident_bytes, budget_bytes;
    uint64_t hits, misses, evictions, load_failures;
    uint64_t load_hist[SL_REGISTRY_LOAD_BUCKETS]; /* cumulative counts are the caller's job */
    double load_ms_sum;
    uint64_t loads;
} sl_registry_stats;

typedef struct sl_registry_info {
    sl_store_entry e;  /* tenant "" for pinned adapters */
    int pinned, resident;
    size_t resident_bytes;
} sl_registry_info;

/* STORE may be NULL (then only pinned adapters exist). budget_bytes 0 = unlimited. */
int sl_registry_init(sl_registry **out, const sl_model *m, sl_store *store, size_t budget_bytes,
                     const sl_adapter_opts *opts, char *err, size_t errlen);
void sl_registry_free(sl_registry *r);

/* Registers an already loaded adapter under NAME for everybody; takes over the reference A. */
int sl_registry_add_pinned(sl_registry *r, const char *name, sl_adapter *a, char *err, size_t errlen);

/* The current version of TENANT's NAME (or a pinned NAME), loading it from the store when not
 * resident. On success *out is a new reference (the caller unrefs it) and *version its version
 * (0 for pinned). SL_ENOENT: no such adapter for this tenant. Other errors: the stored version
 * could not be read or validated (err says why). */
int sl_registry_acquire(sl_registry *r, const char *tenant, const char *name, sl_adapter **out, uint32_t *version,
                        char *err, size_t errlen);
/* Like acquire, but never loads: SL_EBUSY when the adapter exists but is not resident. */
int sl_registry_try_acquire(sl_registry *r, const char *tenant, const char *name, sl_adapter **out, uint32_t *version);

/* After sl_store_commit: E becomes the current version at once. VALIDATED (may be NULL) is
 * the adapter loaded from the upload, made resident so the first request needs no load; the
 * registry takes over that reference. */
void sl_registry_publish(sl_registry *r, const sl_store_entry *e, sl_adapter *validated);
/* After sl_store_delete (or a rescan that lost it): forget TENANT/NAME. */
void sl_registry_forget(sl_registry *r, const char *tenant, const char *name);
/* Drops resident versions that no longer match the store (after sl_store_rescan). */
void sl_registry_sync(sl_registry *r);

/* TENANT's adapters (NULL: all) with residency; *out malloc'ed, caller frees. Pinned ones too. */
int sl_registry_list(sl_registry *r, const char *tenant, sl_registry_info **out, size_t *n);
/* One adapter as TENANT sees it: its own NAME, else a pinned NAME (SL_ENOENT: neither).
 * Never loads; reads the store's index only (safe on an event loop). */
int sl_registry_info_get(sl_registry *r, const char *tenant, const char *name, sl_registry_info *out);
void sl_registry_get_stats(sl_registry *r, sl_registry_stats *out);

#endif
