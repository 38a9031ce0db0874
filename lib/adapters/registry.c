/* registry.c — see registry.h. One mutex; loads run outside it, with a per-entry "loading"
 * flag and a condition variable so concurrent requests for one adapter load it once. */
#include "registry.h"

#include "error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const double sl_registry_load_bucket_ms[SL_REGISTRY_LOAD_BUCKETS] = {1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 1e300};

typedef struct reg_entry {
    char tenant[SL_STORE_NAME_MAX + 1]; /* "" for pinned */
    char name[SL_STORE_NAME_MAX + 1];
    uint32_t version;
    char sha256[65];
    int pinned, loading;
    sl_adapter *resident; /* the registry's reference, or NULL */
    uint64_t last_used;
    uint64_t gen;         /* bumped by publish/forget/sync: a load that started before is stale */
} reg_entry;

struct sl_registry {
    pthread_mutex_t mu;
    pthread_cond_t loaded;
    const sl_model *m;
    sl_store *store;
    sl_adapter_opts opts;
    reg_entry **e; /* pointers: entries stay put while a load runs unlocked */
    size_t n, cap;
    uint64_t tick;
    sl_registry_stats st;
};

int sl_registry_init(sl_registry **out, const sl_model *m, sl_store *store, size_t budget_bytes,
                     const sl_adapter_opts *opts, char *err, size_t errlen) {
    sl_registry *r = calloc(1, sizeof *r);
    if (!r) return sl__errf(err, errlen, SL_ENOMEM, "registry: out of memory");
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->loaded, NULL);
    r->m = m;
    r->store = store;
    if (opts) r->opts = *opts;
    r->st.budget_bytes = budget_bytes;
    *out = r;
    return 0;
}

void sl_registry_free(sl_registry *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        sl_adapter_unref(r->e[i]->resident);
        free(r->e[i]);
    }
    free(r->e);
    pthread_cond_destroy(&r->loaded);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static reg_entry *find(sl_registry *r, const char *tenant, const char *name) {
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->e[i]->tenant, tenant) && !strcmp(r->e[i]->name, name)) return r->e[i];
    return NULL;
}

static reg_entry *add(sl_registry *r, const char *tenant, const char *name) {
    if (r->n == r->cap) {
        size_t nc = r->cap ? 2 * r->cap : 16;
        reg_entry **p = realloc(r->e, nc * sizeof *p);
        if (!p) return NULL;
        r->e = p;
        r->cap = nc;
    }
    reg_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    snprintf(e->tenant, sizeof e->tenant, "%.64s", tenant);
    snprintf(e->name, sizeof e->name, "%.64s", name);
    r->e[r->n++] = e;
    return e;
}

static void drop_resident(sl_registry *r, reg_entry *e) {
    if (!e->resident) return;
    r->st.resident--;
    r->st.resident_bytes -= sl_adapter_bytes(e->resident);
    sl_adapter_unref(e->resident); /* requests in flight keep their own references */
    e->resident = NULL;
}

static void remove_entry(sl_registry *r, reg_entry *e) {
    e->gen++;
    if (e->loading) { /* the loader finds it gone by its flag; keep the memory until then */
        e->version = 0;
        e->sha256[0] = 0;
        return;
    }
    drop_resident(r, e);
    for (size_t i = 0; i < r->n; i++)
        if (r->e[i] == e) { r->e[i] = r->e[--r->n]; break; }
    free(e);
}

/* Evicts LRU adapters that nobody uses until NEED more bytes fit in the budget. */
static void make_room(sl_registry *r, size_t need) {
    if (!r->st.budget_bytes) return;
    while (r->st.resident_bytes + need > r->st.budget_bytes) {
        reg_entry *victim = NULL;
        for (size_t i = 0; i < r->n; i++) {
            reg_entry *e = r->e[i];
            if (!e->resident || e->pinned || sl_adapter_refs(e->resident) != 1) continue;
            if (!victim || e->last_used < victim->last_used) victim = e;
        }
        if (!victim) return; /* everything resident is in flight: over budget for now */
        drop_resident(r, victim);
        r->st.evictions++;
    }
}

static void set_resident(sl_registry *r, reg_entry *e, sl_adapter *a) {
    drop_resident(r, e);
    make_room(r, sl_adapter_bytes(a));
    e->resident = a;
    e->last_used = ++r->tick;
    r->st.resident++;
    r->st.resident_bytes += sl_adapter_bytes(a);
}

int sl_registry_add_pinned(sl_registry *r, const char *name, sl_adapter *a, char *err, size_t errlen) {
    if (!sl_store_name_valid(name)) {
        sl_adapter_unref(a);
        return sl__errf(err, errlen, SL_EINVAL, "adapter name '%s' must match ^[a-z0-9][a-z0-9._-]{0,63}$", name);
    }
    pthread_mutex_lock(&r->mu);
    int rc = 0;
    reg_entry *e = find(r, "", name);
    if (e) rc = sl__errf(err, errlen, SL_EEXIST, "adapter '%s' is given twice", name);
    else if (!(e = add(r, "", name))) rc = SL_ENOMEM;
    if (!rc) {
        e->pinned = 1;
        e->resident = a;
        e->last_used = ++r->tick;
        r->st.resident++;
        r->st.resident_bytes += sl_adapter_bytes(a);
    }
    pthread_mutex_unlock(&r->mu);
    if (rc) sl_adapter_unref(a);
    return rc;
}

/* A pinned adapter's store-like description (it has no store entry). */
static void describe_pinned(const reg_entry *p, sl_store_entry *out) {
    snprintf(out->name, sizeof out->name, "%s", p->name);
    snprintf(out->peft_type, sizeof out->peft_type, "%s",
             sl_adapter_get_kind(p->resident) == SL_ADAPTER_SYMLORA ? "SYMLORA" : "LORA");
    out->r = sl_adapter_rank(p->resident);
    size_t n = 0;
    unsigned mask = sl_adapter_module_mask(p->resident);
    for (int m = 0; m < SL_MOD_COUNT; m++)
        if (mask & (1u << m) && n < sizeof out->target_modules)
            n += (size_t)snprintf(out->target_modules + n, sizeof out->target_modules - n, "%s%s", n ? "," : "",
                                  sl_module_name((sl_module)m));
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Under the lock: resolve TENANT/NAME. Returns 0 with *out referenced, SL_EBUSY with *need set
 * (a store entry to load), SL_ENOENT, or waits while another thread loads it. */
static int lookup_locked(sl_registry *r, const char *tenant, const char *name, sl_adapter **out, uint32_t *version,
                         sl_store_entry *need, reg_entry **slot) {
    for (;;) {
        reg_entry *e = find(r, tenant, name);
        sl_store_entry se;
        int in_store = r->store && sl_store_name_valid(tenant) && sl_store_get(r->store, tenant, name, &se) == 0;
        if (!in_store) {
            if (e && !e->loading) remove_entry(r, e);
            reg_entry *p = find(r, "", name);
            if (!p) return SL_ENOENT;
            *out = sl_adapter_ref(p->resident);
            p->last_used = ++r->tick;
            *version = 0;
            r->st.hits++;
            return 0;
        }
        if (e && e->loading) {
            pthread_cond_wait(&r->loaded, &r->mu);
            continue;
        }
        if (e && e->resident && e->version == se.version && !strcmp(e->sha256, se.sha256)) {
            *out = sl_adapter_ref(e->resident);
            e->last_used = ++r->tick;
            *version = e->version;
            r->st.hits++;
            /* Over budget after a burst of loads whose adapters were all in flight: shrink back
             * now that some may have finished (evictions happen on lookups, never elsewhere). */
            if (r->st.budget_bytes && r->st.resident_bytes > r->st.budget_bytes) make_room(r, 0);
            return 0;
        }
        if (!e && !(e = add(r, tenant, name))) return SL_ENOMEM;
        *need = se;
        *slot = e;
        return SL_EBUSY;
    }
}

int sl_registry_try_acquire(sl_registry *r, const char *tenant, const char *name, sl_adapter **out, uint32_t *version) {
    *out = NULL;
    pthread_mutex_lock(&r->mu);
    sl_store_entry need;
    reg_entry *slot = NULL;
    int rc;
    /* Never wait for a load in progress here: report busy instead. */
    reg_entry *e = find(r, tenant, name);
    if (e && e->loading) rc = SL_EBUSY;
    else rc = lookup_locked(r, tenant, name, out, version, &need, &slot);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int sl_registry_acquire(sl_registry *r, const char *tenant, const char *name, sl_adapter **out, uint32_t *version,
                        char *err, size_t errlen) {
    *out = NULL;
    pthread_mutex_lock(&r->mu);
    sl_store_entry need;
    reg_entry *e = NULL;
    int rc = lookup_locked(r, tenant, name, out, version, &need, &e);
    if (rc != SL_EBUSY) {
        pthread_mutex_unlock(&r->mu);
        return rc;
    }
    e->loading = 1;
    uint64_t gen = e->gen;
    r->st.misses++;
    pthread_mutex_unlock(&r->mu);

    double t0 = now_ms();
    char *config = NULL;
    void *weights = NULL;
    size_t cl = 0, wl = 0;
    sl_adapter *a = NULL;
    rc = sl_store_read(r->store, &need, &config, &cl, &weights, &wl, err, errlen);
    if (!rc) rc = sl_adapter_load(&a, r->m, config, cl, weights, wl, &r->opts, err, errlen);
    free(config);
    free(weights);
    double ms = now_ms() - t0;

    pthread_mutex_lock(&r->mu);
    e->loading = 0;
    if (rc) {
        r->st.load_failures++;
    } else {
        r->st.loads++;
        r->st.load_ms_sum += ms;
        int b = 0;
        while (ms > sl_registry_load_bucket_ms[b]) b++;
        r->st.load_hist[b]++;
        *out = sl_adapter_ref(a);
        *version = need.version;
        if (e->gen == gen) {
            e->version = need.version;
            memcpy(e->sha256, need.sha256, sizeof e->sha256);
            set_resident(r, e, a);
        } else {
            /* Published, forgotten or synced meanwhile: the caller (which asked before that)
             * gets what it loaded, but it must not replace the newer state. */
            sl_adapter_unref(a);
        }
    }
    pthread_cond_broadcast(&r->loaded);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void sl_registry_publish(sl_registry *r, const sl_store_entry *se, sl_adapter *validated) {
    pthread_mutex_lock(&r->mu);
    reg_entry *e = find(r, se->tenant, se->name);
    if (!e) e = add(r, se->tenant, se->name);
    if (!e) {
        pthread_mutex_unlock(&r->mu);
        sl_adapter_unref(validated);
        return;
    }
    drop_resident(r, e);
    e->gen++;
    e->version = se->version;
    memcpy(e->sha256, se->sha256, sizeof e->sha256);
    if (validated) set_resident(r, e, validated);
    pthread_cond_broadcast(&r->loaded);
    pthread_mutex_unlock(&r->mu);
}

void sl_registry_forget(sl_registry *r, const char *tenant, const char *name) {
    pthread_mutex_lock(&r->mu);
    reg_entry *e = find(r, tenant, name);
    if (e) remove_entry(r, e);
    pthread_mutex_unlock(&r->mu);
}

void sl_registry_sync(sl_registry *r) {
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n;) {
        reg_entry *e = r->e[i];
        sl_store_entry se;
        if (e->pinned || e->loading) { i++; continue; }
        if (!r->store || sl_store_get(r->store, e->tenant, e->name, &se) != 0) {
            remove_entry(r, e); /* swaps the last entry into i */
            continue;
        }
        if (se.version != e->version || strcmp(se.sha256, e->sha256)) {
            drop_resident(r, e);
            e->gen++;
        }
        i++;
    }
    pthread_mutex_unlock(&r->mu);
}

int sl_registry_list(sl_registry *r, const char *tenant, sl_registry_info **out, size_t *n) {
    *out = NULL;
    *n = 0;
    sl_store_entry *se = NULL;
    size_t ns = 0;
    if (r->store && sl_store_list(r->store, tenant, &se, &ns)) return SL_ENOMEM;
    pthread_mutex_lock(&r->mu);
    sl_registry_info *info = calloc(ns + r->n + 1, sizeof *info);
    if (!info) {
        pthread_mutex_unlock(&r->mu);
        free(se);
        return SL_ENOMEM;
    }
    for (size_t i = 0; i < ns; i++) {
        sl_registry_info *x = &info[(*n)++];
        x->e = se[i];
        reg_entry *e = find(r, se[i].tenant, se[i].name);
        if (e && e->resident && e->version == se[i].version) {
            x->resident = 1;
            x->resident_bytes = sl_adapter_bytes(e->resident);
        }
    }
    for (size_t i = 0; i < r->n; i++) {
        reg_entry *e = r->e[i];
        if (!e->pinned) continue;
        sl_registry_info *x = &info[(*n)++];
        describe_pinned(e, &x->e);
        x->pinned = x->resident = 1;
        x->resident_bytes = sl_adapter_bytes(e->resident);
    }
    pthread_mutex_unlock(&r->mu);
    free(se);
    *out = info;
    return 0;
}

int sl_registry_info_get(sl_registry *r, const char *tenant, const char *name, sl_registry_info *out) {
    memset(out, 0, sizeof *out);
    sl_store_entry se;
    int in_store = r->store && sl_store_name_valid(tenant) && sl_store_get(r->store, tenant, name, &se) == 0;
    pthread_mutex_lock(&r->mu);
    int rc = 0;
    if (in_store) {
        out->e = se;
        reg_entry *e = find(r, tenant, name);
        if (e && e->resident && e->version == se.version && !strcmp(e->sha256, se.sha256)) {
            out->resident = 1;
            out->resident_bytes = sl_adapter_bytes(e->resident);
        }
    } else {
        reg_entry *p = find(r, "", name);
        if (p && p->pinned) {
            describe_pinned(p, &out->e);
            out->pinned = out->resident = 1;
            out->resident_bytes = sl_adapter_bytes(p->resident);
        } else {
            rc = SL_ENOENT;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void sl_registry_get_stats(sl_registry *r, sl_registry_stats *out) {
    pthread_mutex_lock(&r->mu);
    *out = r->st;
    pthread_mutex_unlock(&r->mu);
}
