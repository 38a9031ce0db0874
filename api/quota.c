/* quota.c — what one tenant or one client address may hold of the server's upload capacity
 * and of the store (issue 17: a hostile tenant must not lock others out).
 *
 * Upload slots: at most --max-uploads-per-tenant (or the tenant's max_uploads= in the keys
 * file) and --max-uploads-per-ip uploads in progress at once; one more gets 429 with
 * Retry-After before any of its body is read.
 *
 * Quotas: a tenant's stored adapters (current versions: weights + config) may take at most
 * --tenant-max-store-bytes and number at most --tenant-max-adapters (or the keys file's
 * max_store_bytes= / max_adapters= for that tenant; 0: no limit). An upload RESERVES its body
 * size (Content-Length, or what has arrived of a chunked body, re-checked as it grows) before
 * anything is written, against what is stored plus every other upload of the tenant in
 * progress, so concurrent uploads cannot overshoot together; replacing an adapter counts its
 * current version as freed. Over quota: 413 naming the quota, while other tenants go on. The
 * body (multipart framing included) is a little larger than what is stored, so a reservation
 * errs on the safe side. Another replica sharing the store is not counted until it commits.
 *
 * Everything here runs on the loop thread: the counts need no lock. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "internal.h"
#include "store.h"

struct sl__holder {
    sl__holder *next;
    char key[SL__NAME_MAX + 48]; /* "t:" tenant or "a:" address */
    int uploads;                 /* in progress */
    int conns;                   /* open connections (addresses) */
    uint64_t reserved;           /* bytes reserved by them (tenants) */
    int new_names;               /* of them, uploads of a name not yet stored (tenants) */
};

static sl__holder *holder(sl_api *a, const char *kind, const char *id, int create) {
    char key[sizeof ((sl__holder *)0)->key];
    snprintf(key, sizeof key, "%s:%s", kind, id);
    for (sl__holder *h = a->holders; h; h = h->next)
        if (!strcmp(h->key, key)) return h;
    if (!create) return NULL;
    sl__holder *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    snprintf(h->key, sizeof h->key, "%s", key);
    h->next = a->holders;
    a->holders = h;
    return h;
}

static void holder_drop(sl_api *a, sl__holder *h) {
    if (h->uploads || h->reserved || h->new_names || h->conns) return;
    for (sl__holder **p = &a->holders; *p; p = &(*p)->next)
        if (*p == h) {
            *p = h->next;
            free(h);
            return;
        }
}

void sl__quota_free_all(sl_api *a) {
    while (a->holders) {
        sl__holder *h = a->holders;
        a->holders = h->next;
        free(h);
    }
}

int64_t sl__tenant_limit(const sl_api *a, const char *tenant, sl_quota which) {
    int64_t v = sl_api_keys_tenant_quota(a->keys, tenant, which);
    if (v >= 0) return v;
    switch (which) {
    case SL_QUOTA_STORE_BYTES: return a->cfg.tenant_max_store_bytes;
    case SL_QUOTA_ADAPTERS: return a->cfg.tenant_max_adapters;
    case SL_QUOTA_UPLOADS: return a->cfg.max_uploads_per_tenant;
    default: return 0;
    }
}

void sl__client_address(struct MHD_Connection *c, char *out, size_t n) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, n, "?");
    if (!ci || !ci->client_addr) return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)n);
}

void sl__tenant_usage(sl_api *a, const char *tenant, uint64_t *bytes, int *adapters) {
    *bytes = 0;
    *adapters = 0;
    sl_store_entry *es = NULL;
    size_t n = 0;
    if (!a->cfg.store || sl_store_list(a->cfg.store, tenant, &es, &n) != 0) return;
    for (size_t i = 0; i < n; i++) *bytes += es[i].bytes + es[i].config_bytes;
    *adapters = (int)n;
    free(es);
}

int sl__address_conns(sl_api *a, const char *addr, int delta) {
    sl__holder *h = holder(a, "a", addr, delta > 0);
    if (!h) return 0;
    h->conns += delta;
    int n = h->conns;
    holder_drop(a, h);
    return n;
}

int sl__tenant_uploads(sl_api *a, const char *tenant) {
    sl__holder *h = holder(a, "t", tenant, 0);
    return h ? h->uploads : 0;
}

/* Whether TENANT may reserve MORE bytes now (SLOT's own reservation already counted in h). */
static int bytes_fit(sl_api *a, const sl__slot *s, uint64_t more, char *msg, size_t msglen) {
    int64_t max = sl__tenant_limit(a, s->tenant, SL_QUOTA_STORE_BYTES);
    if (max <= 0) return 1;
    uint64_t stored;
    int count;
    sl__tenant_usage(a, s->tenant, &stored, &count);
    sl__holder *h = holder(a, "t", s->tenant, 0);
    uint64_t reserved = h ? h->reserved : 0;
    uint64_t after = stored - (s->replaces < stored ? s->replaces : stored) + reserved + more;
    if (after <= (uint64_t)max) return 1;
    snprintf(msg, msglen,
             "storage quota exceeded: tenant '%s' stores %llu bytes, with uploads in progress %llu, of at most %lld "
             "(max_store_bytes); delete adapters or ask the operator for more",
             s->tenant, (unsigned long long)stored, (unsigned long long)reserved, (long long)max);
    return 0;
}

int sl__upload_admit(sl__req *q, const char *tenant, const char *name, uint64_t declared, sl__slot *s, int *status,
                     char *code, size_t codelen, char *msg, size_t msglen) {
    sl_api *a = q->api;
    memset(s, 0, sizeof *s);
    snprintf(s->tenant, sizeof s->tenant, "%s", tenant);
    sl__client_address(q->mhd, s->addr, sizeof s->addr);
    sl__holder *ht = holder(a, "t", tenant, 1), *ha = holder(a, "a", s->addr, 1);
    if (!ht || !ha) {
        if (ht) holder_drop(a, ht);
        if (ha) holder_drop(a, ha);
        *status = 500;
        snprintf(code, codelen, "internal_error");
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    int64_t max_t = sl__tenant_limit(a, tenant, SL_QUOTA_UPLOADS);
    int max_a = a->cfg.max_uploads_per_ip;
    int rc = 0;
    if (max_t > 0 && ht->uploads >= max_t) {
        *status = 429;
        snprintf(code, codelen, "too_many_uploads");
        snprintf(msg, msglen, "tenant '%s' has %d uploads in progress, the most allowed at once (max_uploads); retry when one is done",
                 tenant, ht->uploads);
        rc = -1;
    } else if (max_a > 0 && ha->uploads >= max_a) {
        *status = 429;
        snprintf(code, codelen, "too_many_uploads");
        snprintf(msg, msglen, "this address has %d uploads in progress, the most allowed at once (--max-uploads-per-ip); "
                 "retry when one is done", ha->uploads);
        rc = -1;
    }
    sl_store_entry cur;
    int exists = a->cfg.store && sl_store_get(a->cfg.store, tenant, name, &cur) == 0;
    s->replaces = exists ? cur.bytes + cur.config_bytes : 0;
    if (!rc && !exists) {
        int64_t max_n = sl__tenant_limit(a, tenant, SL_QUOTA_ADAPTERS);
        uint64_t stored;
        int count;
        sl__tenant_usage(a, tenant, &stored, &count);
        if (max_n > 0 && count + ht->new_names + 1 > max_n) {
            *status = 413;
            snprintf(code, codelen, "adapter_quota_exceeded");
            snprintf(msg, msglen, "adapter quota exceeded: tenant '%s' stores %d adapters%s, the most allowed is %lld "
                     "(max_adapters); delete one or replace an existing name", tenant, count,
                     ht->new_names ? " (more being uploaded)" : "", (long long)max_n);
            rc = -1;
        }
    }
    if (!rc && declared == SL__RESERVE_ROOM) { /* all the room left, at most one upload's worth */
        declared = a->cfg.max_adapter_bytes;
        int64_t max = sl__tenant_limit(a, tenant, SL_QUOTA_STORE_BYTES);
        if (max > 0) {
            uint64_t stored;
            int count;
            sl__tenant_usage(a, tenant, &stored, &count);
            uint64_t used = stored - (s->replaces < stored ? s->replaces : stored) + ht->reserved;
            uint64_t room = used < (uint64_t)max ? (uint64_t)max - used : 0;
            if (room < declared) declared = room ? room : 1; /* 1: refused below, with the message */
        }
    }
    if (!rc && !bytes_fit(a, s, declared, msg, msglen)) {
        *status = 413;
        snprintf(code, codelen, "storage_quota_exceeded");
        rc = -1;
    }
    if (rc) {
        holder_drop(a, ht);
        holder_drop(a, ha);
        return rc;
    }
    s->held = 1;
    s->is_new = !exists;
    s->reserved = declared;
    ht->uploads++;
    ht->reserved += declared;
    ht->new_names += s->is_new;
    ha->uploads++;
    a->uploads_active++;
    return 0;
}

int sl__upload_reserve(sl__req *q, sl__slot *s, uint64_t total, char *msg, size_t msglen) {
    if (!s->held || total <= s->reserved) return 0;
    sl_api *a = q->api;
    uint64_t more = total - s->reserved;
    if (!bytes_fit(a, s, more, msg, msglen)) return -1;
    sl__holder *ht = holder(a, "t", s->tenant, 0);
    if (ht) ht->reserved += more;
    s->reserved = total;
    return 0;
}

void sl__upload_release(sl_api *a, sl__slot *s) {
    if (!s->held) return;
    s->held = 0;
    sl__holder *ht = holder(a, "t", s->tenant, 0), *ha = holder(a, "a", s->addr, 0);
    if (ht) {
        ht->uploads--;
        ht->reserved -= s->reserved;
        ht->new_names -= s->is_new;
        holder_drop(a, ht);
    }
    if (ha) {
        ha->uploads--;
        holder_drop(a, ha);
    }
    a->uploads_active--;
}
