/* adapters.c — the preloaded adapter table (--adapter NAME=DIR), one sl_adapter_source.
 * Fixed after startup: lookups need no lock. The adapter store's registry (versions,
 * replacement, residency) implements the same interface. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter.h"
#include "api.h"
#include "error.h"

typedef struct entry {
    char *name;
    sl_adapter *a; /* the table's reference */
    int64_t created;
} entry;

struct sl_adapter_table {
    entry *e;
    int n, cap;
};

int sl_adapter_table_init(sl_adapter_table **out) {
    *out = calloc(1, sizeof **out);
    return *out ? 0 : SL_ENOMEM;
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

static int table_acquire(void *ctx, const char *tenant, const char *name, struct sl_adapter **out) {
    sl_adapter_table *t = ctx;
    for (int i = 0; i < t->n; i++) {
        if (!strcmp(t->e[i].name, name)) {
            *out = sl_adapter_ref(t->e[i].a); /* a new reference for the caller */
            return 0;
        }
    }
    return SL_ENOENT;
}

static void table_list(void *ctx, const char *tenant, void (*each)(void *, const char *, int64_t), void *arg) {
    sl_adapter_table *t = ctx;
    for (int i = 0; i < t->n; i++) each(arg, t->e[i].name, t->e[i].created);
}

sl_adapter_source sl_adapter_table_source(sl_adapter_table *t) {
    return (sl_adapter_source){.acquire = table_acquire, .list = table_list, .ctx = t};
}

void sl_adapter_table_free(sl_adapter_table *t) {
    if (!t) return;
    for (int i = 0; i < t->n; i++) {
        free(t->e[i].name);
        sl_adapter_unref(t->e[i].a);
    }
    free(t->e);
    free(t);
}
