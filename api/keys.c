/* keys.c — the API keys file of --api-keys and the Bearer check.
 *
 * File: one key per line, `SHA256HEX TENANT ROLE`: the hex SHA-256 of the key (the key itself
 * is never stored on the server), the tenant it acts for (an adapter-name-like identifier) and
 * `tenant` or `admin`. Blank lines and lines starting with '#' are ignored. The file must not
 * be readable or writable by group or others (mode & 077 == 0), as ssh insists for its keys.
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

struct sl_api_keys {
    key_entry *e;
    int n;
};

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
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
    int cap = 0, rc = 0, ln = 0;
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
        char *extra = strtok_r(NULL, " \t\r\n", &save);
        if (!tenant || !role || (extra && extra[0] != '#')) {
            rc = sl__errf(err, errlen, SL_EFORMAT, "--api-keys %s:%d: expected 'SHA256HEX TENANT ROLE'", path, ln);
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
    free(k);
}

int sl_api_keys_count(const sl_api_keys *k) { return k ? k->n : 0; }

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
