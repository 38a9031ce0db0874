/* keys.c — the API keys file of --api-keys and the Bearer check.
 *
 * File: one key per line, `SHA256HEX TENANT ROLE [WEIGHT] [NAME=VALUE ...]`: the hex SHA-256 of
 * the key (the key itself is never stored on the server), the tenant it acts for (an
 * adapter-name-like identifier), `tenant` or `admin`, then optionally the tenant's fair-share
 * weight (a whole number 1..SL_TENANT_WEIGHT_MAX, default 1; `weight=N` says the same) and its
 * own limits as NAME=VALUE (sl_quota_names: max_store_bytes=, max_adapters=, max_uploads=; a
 * whole number with an optional K, M, G or T suffix, powers of 1024; 0: no limit). Weight and
 * limits belong to the tenant, not to the key: a tenant with several keys may give them on any
 * of its lines, but two lines may not give different values. Blank lines and lines starting
 * with '#' are ignored, as is a '#' comment after the fields. The file must not be readable or
 * writable by group or others (mode & 077 == 0), as ssh insists for its keys. Every mistake is
 * refused with the file's name and the line's number.
 *
 * Check: the presented key is hashed (nettle) and the digest compared with EVERY entry by an
 * OR of XORs, without an early exit, so the time taken does not depend on which entry (if
 * any) matches or on how many leading bytes agree. Keys and digests are never logged. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "api.h"
#include "error.h"
#include "store.h"

typedef struct key_entry {
    uint8_t digest[SHA256_DIGEST_SIZE];
    char tenant[SL_STORE_NAME_MAX + 1];
    int admin;
} key_entry;

/* One tenant of the file: its weight and limits, with the line that set each (0: not set). */
typedef struct tenant_entry {
    char name[SL_STORE_NAME_MAX + 1];
    int weight;
    int weight_line;
    int64_t quota[SL_QUOTA_COUNT]; /* -1: not set */
    int quota_line[SL_QUOTA_COUNT];
} tenant_entry;

struct sl_api_keys {
    key_entry *e;
    int n;
    tenant_entry *t; /* sorted by name */
    int nt;
};

const char *const sl_quota_names[SL_QUOTA_COUNT] = {
    [SL_QUOTA_STORE_BYTES] = "max_store_bytes",
    [SL_QUOTA_ADAPTERS] = "max_adapters",
    [SL_QUOTA_UPLOADS] = "max_uploads",
};

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A whole number with an optional K/M/G/T suffix (powers of 1024), at most 2^62: 0, or -1. */
static int parse_count(const char *s, int64_t *out) {
    if (*s < '0' || *s > '9') return -1;
    int64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > ((int64_t)1 << 62) / 10) return -1;
        v = v * 10 + (*s - '0');
    }
    int shift = 0;
    if (*s) {
        const char *u = "KMGT", *p = strchr(u, *s);
        if (!p || s[1]) return -1;
        shift = 10 * (int)(p - u + 1);
    }
    if (v > ((int64_t)1 << 62) >> shift) return -1;
    *out = v << shift;
    return 0;
}

static tenant_entry *tenant_find(const sl_api_keys *k, const char *name) {
    int lo = 0, hi = k->nt - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(k->t[mid].name, name);
        if (!c) return &k->t[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

/* The tenant entry NAME, added (in order) if new; NULL: out of memory. */
static tenant_entry *tenant_get(sl_api_keys *k, int *cap, const char *name) {
    tenant_entry *t = tenant_find(k, name);
    if (t) return t;
    if (k->nt == *cap) {
        int c = *cap ? 2 * *cap : 16;
        tenant_entry *p = realloc(k->t, (size_t)c * sizeof *p);
        if (!p) return NULL;
        k->t = p;
        *cap = c;
    }
    int at = 0;
    while (at < k->nt && strcmp(k->t[at].name, name) < 0) at++;
    memmove(&k->t[at + 1], &k->t[at], (size_t)(k->nt - at) * sizeof *k->t);
    t = &k->t[at];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->weight = 1;
    for (int i = 0; i < SL_QUOTA_COUNT; i++) t->quota[i] = -1;
    k->nt++;
    return t;
}

/* The optional fields after ROLE on line LN: [WEIGHT] [NAME=VALUE ...] up to the end or a '#'. */
static int tenant_fields(sl_api_keys *k, int *cap, const char *tenant, char **save, const char *path, int ln,
                         char *err, size_t errlen) {
    tenant_entry *t = tenant_get(k, cap, tenant);
    if (!t) return sl__errf(err, errlen, SL_ENOMEM, "--api-keys: out of memory");
    char *f;
    for (int first = 1; (f = strtok_r(NULL, " \t\r\n", save)) != NULL && f[0] != '#'; first = 0) {
        char *eq = strchr(f, '=');
        const char *name = eq ? f : "weight", *val = eq ? eq + 1 : f;
        if (eq) *eq = 0;
        else if (!first)
            return sl__errf(err, errlen, SL_EFORMAT,
                            "--api-keys %s:%d: '%.40s': after the weight come only NAME=VALUE fields", path, ln, f);
        int64_t v;
        int ok = parse_count(val, &v) == 0;
        if (!strcmp(name, "weight")) {
            if (!ok || v < 1 || v > SL_TENANT_WEIGHT_MAX)
                return sl__errf(err, errlen, SL_EFORMAT,
                                "--api-keys %s:%d: the weight '%.40s' must be a whole number from 1 to %d (expected "
                                "'SHA256HEX TENANT ROLE [WEIGHT] [NAME=VALUE ...]')",
                                path, ln, val, SL_TENANT_WEIGHT_MAX);
            if (t->weight_line && t->weight != (int)v)
                return sl__errf(err, errlen, SL_EFORMAT,
                                "--api-keys %s:%d: tenant '%s' has weight %d on line %d; its lines must agree", path,
                                ln, tenant, t->weight, t->weight_line);
            t->weight = (int)v;
            t->weight_line = ln;
            continue;
        }
        int q = 0;
        while (q < SL_QUOTA_COUNT && strcmp(sl_quota_names[q], name) != 0) q++;
        if (q == SL_QUOTA_COUNT)
            return sl__errf(err, errlen, SL_EFORMAT,
                            "--api-keys %s:%d: unknown field '%.40s' (known: weight, max_store_bytes, max_adapters, "
                            "max_uploads)", path, ln, name);
        if (!ok)
            return sl__errf(err, errlen, SL_EFORMAT,
                            "--api-keys %s:%d: %s='%.40s' must be a whole number (K, M, G, T: powers of 1024; 0: no "
                            "limit)", path, ln, name, val);
        if (t->quota_line[q] && t->quota[q] != v)
            return sl__errf(err, errlen, SL_EFORMAT,
                            "--api-keys %s:%d: tenant '%s' has %s=%lld on line %d; its lines must agree", path, ln,
                            tenant, name, (long long)t->quota[q], t->quota_line[q]);
        t->quota[q] = v;
        t->quota_line[q] = ln;
    }
    return 0;
}

int sl_api_keys_load(sl_api_keys **out, const char *path, char *err, size_t errlen) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return sl__errf(err, errlen, SL_EIO, "--api-keys %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sl__errf(err, errlen, SL_EINVAL, "--api-keys %s: not a regular file", path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return sl__errf(err, errlen, SL_EINVAL,
                        "--api-keys %s: mode %03o lets group or others read it; chmod 600 (or 400) it", path,
                        (unsigned)(st.st_mode & 0777));
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return sl__errf(err, errlen, SL_ENOMEM, "--api-keys %s: out of memory", path);
    }
    sl_api_keys *k = calloc(1, sizeof *k);
    int cap = 0, tcap = 0, rc = 0, ln = 0;
    char line[1024];
    while (k && !rc && fgets(line, sizeof line, f)) {
        ln++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            rc = sl__errf(err, errlen, SL_EFORMAT, "--api-keys %s:%d: line too long", path, ln);
            break;
        }
        char *save = NULL;
        char *hash = strtok_r(line, " \t\r\n", &save);
        if (!hash || hash[0] == '#') continue;
        char *tenant = strtok_r(NULL, " \t\r\n", &save);
        char *role = strtok_r(NULL, " \t\r\n", &save);
        if (!tenant || !role || tenant[0] == '#' || role[0] == '#') {
            rc = sl__errf(err, errlen, SL_EFORMAT,
                          "--api-keys %s:%d: expected 'SHA256HEX TENANT ROLE [WEIGHT] [NAME=VALUE ...]'", path, ln);
            break;
        }
        key_entry e = {0};
        int ok = strlen(hash) == 2 * SHA256_DIGEST_SIZE;
        for (int i = 0; ok && i < SHA256_DIGEST_SIZE; i++) {
            int hi = hexval(hash[2 * i]), lo = hexval(hash[2 * i + 1]);
            if (hi < 0 || lo < 0) ok = 0;
            else e.digest[i] = (uint8_t)(hi << 4 | lo);
        }
        if (!ok) {
            rc = sl__errf(err, errlen, SL_EFORMAT,
                          "--api-keys %s:%d: the first field must be the 64 hex digits of the key's SHA-256 "
                          "(printf %%s KEY | sha256sum)", path, ln);
            break;
        }
        if (!sl_store_name_valid(tenant)) {
            rc = sl__errf(err, errlen, SL_EFORMAT, "--api-keys %s:%d: tenant '%.80s' must match ^[a-z0-9][a-z0-9._-]{0,63}$",
                          path, ln, tenant);
            break;
        }
        if (!strcmp(role, "admin")) e.admin = 1;
        else if (strcmp(role, "tenant") != 0) {
            rc = sl__errf(err, errlen, SL_EFORMAT, "--api-keys %s:%d: role '%.40s' must be 'tenant' or 'admin'", path, ln, role);
            break;
        }
        snprintf(e.tenant, sizeof e.tenant, "%s", tenant);
        if ((rc = tenant_fields(k, &tcap, tenant, &save, path, ln, err, errlen)) != 0) break;
        for (int i = 0; i < k->n; i++)
            if (!memcmp(k->e[i].digest, e.digest, sizeof e.digest))
                rc = sl__errf(err, errlen, SL_EEXIST, "--api-keys %s:%d: the same key is listed twice", path, ln);
        if (rc) break;
        if (k->n == cap) {
            cap = cap ? 2 * cap : 16;
            key_entry *p = realloc(k->e, (size_t)cap * sizeof *p);
            if (!p) {
                rc = SL_ENOMEM;
                break;
            }
            k->e = p;
        }
        k->e[k->n++] = e;
    }
    explicit_bzero(line, sizeof line);
    fclose(f);
    if (!k) return sl__errf(err, errlen, SL_ENOMEM, "--api-keys: out of memory");
    if (!rc && k->n == 0) rc = sl__errf(err, errlen, SL_EINVAL, "--api-keys %s: no keys (an empty file would lock everybody out)", path);
    if (rc) {
        sl_api_keys_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

void sl_api_keys_free(sl_api_keys *k) {
    if (!k) return;
    if (k->e) explicit_bzero(k->e, (size_t)k->n * sizeof *k->e);
    free(k->e);
    free(k->t);
    free(k);
}

int sl_api_keys_count(const sl_api_keys *k) { return k ? k->n : 0; }

int sl_api_keys_tenant_count(const sl_api_keys *k) { return k ? k->nt : 0; }

const char *sl_api_keys_tenant_name(const sl_api_keys *k, int i) {
    return k && i >= 0 && i < k->nt ? k->t[i].name : NULL;
}

int sl_api_keys_tenant_weight(const sl_api_keys *k, const char *tenant) {
    const tenant_entry *t = k && tenant ? tenant_find(k, tenant) : NULL;
    return t ? t->weight : 1;
}

int64_t sl_api_keys_tenant_quota(const sl_api_keys *k, const char *tenant, sl_quota q) {
    const tenant_entry *t = k && tenant && q >= 0 && q < SL_QUOTA_COUNT ? tenant_find(k, tenant) : NULL;
    return t ? t->quota[q] : -1;
}

int sl_api_keys_check(const sl_api_keys *k, const char *key, size_t len, const char **tenant, int *admin) {
    uint8_t d[SHA256_DIGEST_SIZE];
    struct sha256_ctx sha;
    sha256_init(&sha);
    sha256_update(&sha, len, (const uint8_t *)key);
    sha256_digest(&sha, sizeof d, d);
    /* Every entry is compared in full; the match is selected with masks, not branches. */
    size_t found = 0, idx = 0;
    for (int i = 0; i < k->n; i++) {
        unsigned diff = 0;
        for (int b = 0; b < SHA256_DIGEST_SIZE; b++) diff |= (unsigned)(k->e[i].digest[b] ^ d[b]);
        size_t hit = (size_t)0 - (size_t)(((diff | (0u - diff)) >> 31) ^ 1u); /* all ones iff diff == 0 */
        idx |= hit & (size_t)i;
        found |= hit;
    }
    explicit_bzero(d, sizeof d);
    explicit_bzero(&sha, sizeof sha);
    if (!found) return SL_ENOENT;
    *tenant = k->e[idx].tenant;
    *admin = k->e[idx].admin;
    return 0;
}
