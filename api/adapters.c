/* adapters.c — the adapter table of --adapter NAME=DIR, one sl_adapter_source.
 * Entries are fixed after startup; an entry added "lazy" is loaded on first use, on libuv's
 * thread pool (acquire answers SL_EBUSY, load does the work), which is the same path the
 * adapter store's registry (versions, replacement, residency) takes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter.h"
#include "api.h"
#include "error.h"

typedef struct entry {
    char *name;
    sl_adapter *a; /* the table's reference; NULL while a lazy entry is not loaded (mu) */
    char *dir;     /* lazy entries: where to load from */
    int failed;    /* lazy entries: the load failed (mu); err says why */
    char err[256];
    int64_t created;
} entry;

struct sl_adapter_table {
    entry *e;
    int n, cap;
    uv_mutex_t mu; /* the a/failed fields of lazy entries */
    const sl_model *model;
    sl_adapter_opts opts;
};

int sl_adapter_table_init(sl_adapter_table **out) {
    *out = calloc(1, sizeof **out);
    if (!*out) return SL_ENOMEM;
    uv_mutex_init(&(*out)->mu);
    return 0;
}

int sl_adapter_table_add_lazy(sl_adapter_table *t, const char *name, const char *dir, const sl_model *m,
                              const sl_adapter_opts *opts) {
    t->model = m;
    if (opts) t->opts = *opts;
    int rc = sl_adapter_table_add(t, name, NULL);
    if (rc) return rc;
    if (!(t->e[t->n - 1].dir = strdup(dir))) return SL_ENOMEM;
    return 0;
}

int sl_adapter_table_add(sl_adapter_table *t, const char *name, struct sl_adapter *a) {
    for (int i = 0; i < t->n; i++) {
        if (!strcmp(t->e[i].name, name)) {
            sl_adapter_unref(a);
            return SL_EEXIST;
        }
    }
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 8;
        entry *e = realloc(t->e, (size_t)cap * sizeof *e);
        if (!e) {
            sl_adapter_unref(a);
            return SL_ENOMEM;
        }
        t->e = e;
        t->cap = cap;
    }
    char *nm = strdup(name);
    if (!nm) {
        sl_adapter_unref(a);
        return SL_ENOMEM;
    }
    t->e[t->n++] = (entry){.name = nm, .a = a, .created = (int64_t)time(NULL)};
    return 0;
}

int sl_adapter_table_count(const sl_adapter_table *t) { return t->n; }

static entry *find(sl_adapter_table *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->e[i].name, name)) return &t->e[i];
    return NULL;
}

static int table_acquire(void *ctx, const char *tenant, const char *name, struct sl_adapter **out) {
    sl_adapter_table *t = ctx;
    entry *e = find(t, name);
    if (!e) return SL_ENOENT;
    int rc = 0;
    uv_mutex_lock(&t->mu);
    if (e->a) *out = sl_adapter_ref(e->a); /* a new reference for the caller */
    else rc = e->failed ? SL_EFORMAT : SL_EBUSY;
    uv_mutex_unlock(&t->mu);
    return rc;
}

/* Thread pool. Loads run one at a time (under mu); a second request for the same adapter
 * waits for the first load and then finds it. */
static int table_load(void *ctx, const char *tenant, const char *name, struct sl_adapter **out, char *err,
                      size_t errlen) {
    sl_adapter_table *t = ctx;
    entry *e = find(t, name);
    if (!e) return SL_ENOENT;
    int rc = 0;
    uv_mutex_lock(&t->mu);
    if (!e->a && !e->failed && e->dir) {
        rc = sl_adapter_load_dir(&e->a, t->model, e->dir, &t->opts, e->err, sizeof e->err);
        if (rc) e->failed = rc == SL_ENOENT ? SL_EIO : rc; /* a missing file is not a missing adapter */
    }
    if (e->a) *out = sl_adapter_ref(e->a);
    else rc = e->failed ? e->failed : SL_EINVAL;
    if (e->a) rc = 0;
    if (rc && err && errlen) snprintf(err, errlen, "%s", e->err);
    uv_mutex_unlock(&t->mu);
    return rc;
}

static void table_list(void *ctx, const char *tenant, void (*each)(void *, const char *, int64_t), void *arg) {
    sl_adapter_table *t = ctx;
    for (int i = 0; i < t->n; i++) each(arg, t->e[i].name, t->e[i].created);
}

sl_adapter_source sl_adapter_table_source(sl_adapter_table *t) {
    return (sl_adapter_source){.acquire = table_acquire, .load = table_load, .list = table_list, .ctx = t};
}

void sl_adapter_table_free(sl_adapter_table *t) {
    if (!t) return;
    for (int i = 0; i < t->n; i++) {
        free(t->e[i].name);
        free(t->e[i].dir);
        sl_adapter_unref(t->e[i].a);
    }
    free(t->e);
    uv_mutex_destroy(&t->mu);
    free(t);
}
