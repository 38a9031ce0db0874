/* store.c — see store.h for the layout and the durability protocol. */
#include "store.h"

#include "error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <ftw.h>
#include <jansson.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct sl_store {
    char *dir;
    /* Two locks, taken in this order: commit_mu serialises the changes that touch the disk
     * (commit, delete, rescan) and may be held across fsyncs; mu guards only the in-memory
     * index and is never held during I/O, so sl_store_get/list (called on the event loop
     * by the registry) never wait for a disk. */
    pthread_mutex_t commit_mu;
    pthread_mutex_t mu;
    sl_store_entry *idx; /* current version of every (tenant, name) */
    size_t n, cap;
    /* This process's staging directory DIR/.tmp/p-XXXXXX, held with an exclusive flock for
     * our whole life: replicas sharing DIR remove only staging directories whose owner is
     * gone (lock free), never an upload another live replica is writing. */
    char stage[4096];
    int stage_fd;
    unsigned long generation; /* commits and deletes made here; the marker's content (commit_mu) */
};

struct sl_store_txn {
    sl_store *s;
    char dir[4096];
    int fd[2];
    uint64_t bytes[2];
    struct sha256_ctx sha; /* of the weights */
    int finished;
};

/* snprintf for paths; a path that does not fit is cut (and then simply not found). Through
 * vsnprintf so the compiler's truncation analysis, which cannot see our name limits, stays quiet. */
static void pathf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *buf, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

static const char *const part_file[2] = {"adapter_config.json", "adapter_model.safetensors"};

int sl_store_name_valid(const char *s) {
    if (!s || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9'))) return 0;
    size_t i = 1;
    for (; s[i]; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) return 0;
        if (i >= SL_STORE_NAME_MAX) return 0;
    }
    return 1;
}

static int errno_code(int e) { return e == ENOSPC || e == EDQUOT ? SL_ENOSPC : e == ENOENT ? SL_ENOENT : SL_EIO; }

static int fsync_path(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}
static void rm_rf(const char *path) { nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

/* mkdir that tolerates EEXIST and fsyncs the parent when it created something. */
static int mkdir_durable(const char *path, const char *parent) {
    if (mkdir(path, 0750) == 0) return fsync_path(parent);
    return errno == EEXIST ? 0 : -1;
}

/* Replaces DIR/.generation (SL_STORE_GENERATION) after a commit or delete, so that other
 * processes sharing DIR can watch that one file instead of the whole tree (inotify is not
 * recursive and versions sit two levels down). Written in our own staging directory, then
 * renamed over the marker: a watcher sees IN_MOVED_TO ".generation" on DIR. It is only a
 * hint for a rescan, so nothing is fsync'ed and errors are ignored (the periodic rescan is
 * the fallback). Caller holds commit_mu, which makes the staging file name ours alone. */
static void generation_bump(sl_store *s, const char *what) {
    char tmp[4200], dst[4200], text[256];
    pathf(tmp, sizeof tmp, "%s/generation", s->stage);
    pathf(dst, sizeof dst, "%s/" SL_STORE_GENERATION, s->dir);
    int n = snprintf(text, sizeof text, "%ld %lu %s\n", (long)getpid(), ++s->generation, what);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) return;
    ssize_t w = write(fd, text, n > 0 && (size_t)n < sizeof text ? (size_t)n : 0);
    close(fd);
    if (w < 0 || rename(tmp, dst) != 0) unlink(tmp);
}

static void hex(const uint8_t *d, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

/* ---- index ---- */

static sl_store_entry *find(sl_store *s, const char *tenant, const char *name) {
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->idx[i].tenant, tenant) && !strcmp(s->idx[i].name, name)) return &s->idx[i];
    return NULL;
}

static int index_put(sl_store_entry **idx, size_t *n, size_t *cap, const sl_store_entry *e) {
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        sl_store_entry *p = realloc(*idx, nc * sizeof *p);
        if (!p) return SL_ENOMEM;
        *idx = p;
        *cap = nc;
    }
    (*idx)[(*n)++] = *e;
    return 0;
}

static int meta_read(const char *vdir, sl_store_entry *e) {
    char path[4200];
    pathf(path, sizeof path, "%s/meta.json", vdir);
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j)) { json_decref(j); return -1; }
    const char *sha = json_string_value(json_object_get(j, "sha256"));
    const char *pt = json_string_value(json_object_get(j, "peft_type"));
    const char *tm = json_string_value(json_object_get(j, "target_modules"));
    json_t *b = json_object_get(j, "bytes"), *cb = json_object_get(j, "config_bytes"), *cr = json_object_get(j, "created"),
           *r = json_object_get(j, "r");
    int ok = sha && strlen(sha) == 64 && pt && tm && json_is_integer(b) && json_is_integer(cb) && json_is_integer(cr) && json_is_integer(r);
    if (ok) {
        snprintf(e->sha256, sizeof e->sha256, "%.64s", sha);
        snprintf(e->peft_type, sizeof e->peft_type, "%.15s", pt);
        snprintf(e->target_modules, sizeof e->target_modules, "%.159s", tm);
        e->bytes = (uint64_t)json_integer_value(b);
        e->config_bytes = (uint64_t)json_integer_value(cb);
        e->created = (int64_t)json_integer_value(cr);
        e->r = (int)json_integer_value(r);
    }
    json_decref(j);
    return ok ? 0 : -1;
}

static int parse_version(const char *d) {
    if (d[0] != 'v' || !d[1]) return -1;
    long v = 0;
    for (const char *p = d + 1; *p; p++) {
        if (*p < '0' || *p > '9' || v > 100000000) return -1;
        v = v * 10 + (*p - '0');
    }
    return v > 0 ? (int)v : -1;
}

/* Reads DIR into a fresh index. With CLEAN, removes what a crash may leave: versions without
 * a valid meta.json and versions older than the newest of their name. */
static int scan(sl_store *s, int clean, sl_store_entry **out, size_t *out_n) {
    sl_store_entry *idx = NULL;
    size_t n = 0, cap = 0;
    DIR *td = opendir(s->dir);
    if (!td) return SL_EIO;
    struct dirent *te;
    char path[4096], vpath[4200];
    while ((te = readdir(td))) {
        if (!sl_store_name_valid(te->d_name)) continue;
        pathf(path, sizeof path, "%s/%s", s->dir, te->d_name);
        DIR *nd = opendir(path);
        if (!nd) continue;
        struct dirent *ne;
        while ((ne = readdir(nd))) {
            if (!sl_store_name_valid(ne->d_name)) continue;
            char npath[4200];
            pathf(npath, sizeof npath, "%s/%s", path, ne->d_name);
            DIR *vd = opendir(npath);
            if (!vd) continue;
            struct dirent *ve;
            sl_store_entry best = {0};
            int have = 0, removed = 0;
            while ((ve = readdir(vd))) {
                int v = parse_version(ve->d_name);
                if (v < 0) continue;
                pathf(vpath, sizeof vpath, "%s/%s", npath, ve->d_name);
                sl_store_entry e = {0};
                if (meta_read(vpath, &e) != 0) {
                    if (clean) { rm_rf(vpath); removed = 1; }
                    continue;
                }
                e.version = (uint32_t)v;
                if (have && e.version < best.version) {
                    if (clean) { rm_rf(vpath); removed = 1; }
                    continue;
                }
                if (have && clean) {
                    pathf(vpath, sizeof vpath, "%s/v%u", npath, best.version);
                    rm_rf(vpath);
                    removed = 1;
                }
                best = e;
                have = 1;
            }
            closedir(vd);
            if (removed) fsync_path(npath);
            if (have) {
                snprintf(best.tenant, sizeof best.tenant, "%.64s", te->d_name);
                snprintf(best.name, sizeof best.name, "%.64s", ne->d_name);
                if (index_put(&idx, &n, &cap, &best)) { closedir(nd); closedir(td); free(idx); return SL_ENOMEM; }
            } else if (clean) {
                rmdir(npath); /* an empty name directory (after a delete crashed midway) */
            }
        }
        closedir(nd);
    }
    closedir(td);
    *out = idx;
    *out_n = n;
    return 0;
}

int sl_store_open(sl_store **out, const char *dir, char *err, size_t errlen) {
    *out = NULL;
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return sl__errf(err, errlen, SL_EIO, "store %s: cannot create: %s", dir, strerror(errno));
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) return sl__errf(err, errlen, SL_EIO, "store %s: not a directory", dir);
    sl_store *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(dir))) { free(s); return SL_ENOMEM; }
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->commit_mu, NULL);
    char path[4096];
    s->stage_fd = -1;
    int rc = 0;
    const char *sub[] = {".tmp", ".trash"};
    for (int i = 0; i < 2 && !rc; i++) {
        pathf(path, sizeof path, "%s/%s", dir, sub[i]);
        if (mkdir_durable(path, dir) != 0) rc = sl__errf(err, errlen, SL_EIO, "store %s: cannot create %s: %s", dir, sub[i], strerror(errno));
    }
    /* Leftovers of uploads and deletions that never completed: deletions in .trash always
     * (removing twice is harmless), staging directories of processes that are gone. */
    pathf(path, sizeof path, "%s/.trash", dir);
    DIR *d = rc ? NULL : opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p2[4400];
        pathf(p2, sizeof p2, "%s/%s", path, de->d_name);
        rm_rf(p2);
    }
    if (d) closedir(d);
    pathf(path, sizeof path, "%s/.tmp", dir);
    d = rc ? NULL : opendir(path);
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p2[4400];
        pathf(p2, sizeof p2, "%s/%s", path, de->d_name);
        int fd = open(p2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) { close(fd); continue; } /* a live replica's */
        /* "n-": a replica being born (its directory exists, its lock may not yet): empty, so
         * only removed once it is a minute old, which no start takes. */
        struct stat nb;
        if (!strncmp(de->d_name, "n-", 2) && fd >= 0 && fstat(fd, &nb) == 0 && time(NULL) - nb.st_mtime < 60) {
            close(fd);
            continue;
        }
        rm_rf(p2);
        if (fd >= 0) close(fd);
    }
    if (d) closedir(d);
    if (!rc) {
        /* Born as n-XXXXXX, locked, then renamed to p-XXXXXX: a p- directory is locked for as
         * long as its owner lives, so another replica's start never removes it by mistake. */
        char born[4096];
        pathf(born, sizeof born, "%s/.tmp/n-XXXXXX", dir);
        if (!mkdtemp(born) || (s->stage_fd = open(born, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
            flock(s->stage_fd, LOCK_EX | LOCK_NB) != 0) {
            rc = sl__errf(err, errlen, SL_EIO, "store %s: cannot create a locked staging directory: %s", dir, strerror(errno));
        } else {
            pathf(s->stage, sizeof s->stage, "%s/.tmp/p-%s", dir, strrchr(born, '/') + 3);
            if (rename(born, s->stage) != 0)
                rc = sl__errf(err, errlen, SL_EIO, "store %s: cannot name the staging directory: %s", dir, strerror(errno));
        }
    }
    if (!rc && (rc = scan(s, 1, &s->idx, &s->n)) != 0) sl__errf(err, errlen, rc, "store %s: cannot index", dir);
    s->cap = s->n;
    if (rc) { sl_store_free(s); return rc; }
    *out = s;
    return 0;
}

void sl_store_free(sl_store *s) {
    if (!s) return;
    if (s->stage_fd >= 0) {
        rm_rf(s->stage); /* empty unless an upload was abandoned */
        close(s->stage_fd);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->commit_mu);
    free(s->idx);
    free(s->dir);
    free(s);
}

const char *sl_store_dir(const sl_store *s) { return s->dir; }

/* ---- uploads ---- */

int sl_store_begin(sl_store *s, sl_store_txn **out, char *err, size_t errlen) {
    *out = NULL;
    sl_store_txn *t = calloc(1, sizeof *t);
    if (!t) return SL_ENOMEM;
    t->s = s;
    t->fd[0] = t->fd[1] = -1;
    pathf(t->dir, sizeof t->dir, "%s/up-XXXXXX", s->stage);
    if (!mkdtemp(t->dir)) {
        int e = errno;
        free(t);
        return sl__errf(err, errlen, errno_code(e), "store: cannot create an upload directory: %s", strerror(e));
    }
    for (int p = 0; p < 2; p++) {
        char path[4200];
        pathf(path, sizeof path, "%s/%s", t->dir, part_file[p]);
        t->fd[p] = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        if (t->fd[p] < 0) {
            int e = errno;
            sl_store_abort(t);
            return sl__errf(err, errlen, errno_code(e), "store: cannot create %s: %s", part_file[p], strerror(e));
        }
    }
    sha256_init(&t->sha);
    *out = t;
    return 0;
}

int sl_store_txn_write(sl_store_txn *t, enum sl_store_part part, const void *buf, size_t len, char *err, size_t errlen) {
    if (t->finished || (part != SL_STORE_CONFIG && part != SL_STORE_WEIGHTS)) return SL_EINVAL;
    const char *p = buf;
    size_t left = len;
    while (left) {
        ssize_t w = write(t->fd[part], p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            return sl__errf(err, errlen, errno_code(e), "store: writing %s: %s", part_file[part], strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (part == SL_STORE_WEIGHTS) sha256_update(&t->sha, len, buf);
    t->bytes[part] += len;
    return 0;
}

uint64_t sl_store_txn_bytes(const sl_store_txn *t, enum sl_store_part part) { return t->bytes[part & 1]; }
const char *sl_store_txn_dir(const sl_store_txn *t) { return t->dir; }

int sl_store_txn_config(sl_store_txn *t, size_t limit, char **buf, size_t *len, char *err, size_t errlen) {
    *buf = NULL;
    *len = 0;
    uint64_t n = t->bytes[SL_STORE_CONFIG];
    if (n > limit) return sl__errf(err, errlen, SL_ETOOBIG, "%s is larger than %zu bytes", part_file[SL_STORE_CONFIG], limit);
    char path[4200];
    pathf(path, sizeof path, "%s/%s", t->dir, part_file[SL_STORE_CONFIG]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *b = malloc(n ? n : 1);
    size_t got = 0;
    while (fd >= 0 && b && got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    int e = errno;
    if (fd >= 0) close(fd);
    if (!b) return sl__errf(err, errlen, SL_ENOMEM, "out of memory");
    if (got != n) {
        free(b);
        return sl__errf(err, errlen, SL_EIO, "store: reading %s back: %s", part_file[SL_STORE_CONFIG], strerror(e));
    }
    *buf = b;
    *len = n;
    return 0;
}

int sl_store_txn_replace_config(sl_store_txn *t, const void *buf, size_t len, char *err, size_t errlen) {
    if (!t->finished) return SL_EINVAL;
    char path[4200], tmp[4200];
    pathf(path, sizeof path, "%s/%s", t->dir, part_file[SL_STORE_CONFIG]);
    pathf(tmp, sizeof tmp, "%s/%s.new", t->dir, part_file[SL_STORE_CONFIG]);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    const char *p = buf;
    size_t left = len;
    int rc = fd < 0 ? -1 : 0;
    while (!rc && left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) rc = -1;
        else { p += w; left -= (size_t)w; }
    }
    if (!rc && fsync(fd) != 0) rc = -1;
    int e = errno;
    if (fd >= 0 && close(fd) != 0 && !rc) { rc = -1; e = errno; }
    if (!rc && rename(tmp, path) != 0) { rc = -1; e = errno; }
    if (rc) {
        unlink(tmp);
        return sl__errf(err, errlen, errno_code(e), "store: writing %s: %s", part_file[SL_STORE_CONFIG], strerror(e));
    }
    t->bytes[SL_STORE_CONFIG] = len;
    return 0;
}

int sl_store_txn_finish(sl_store_txn *t, char *err, size_t errlen) {
    for (int p = 0; p < 2; p++) {
        if (t->fd[p] < 0) continue;
        int rc = fsync(t->fd[p]);
        int e = errno;
        if (close(t->fd[p]) != 0 && rc == 0) { rc = -1; e = errno; }
        t->fd[p] = -1;
        if (rc != 0) return sl__errf(err, errlen, errno_code(e), "store: flushing %s: %s", part_file[p], strerror(e));
    }
    t->finished = 1;
    return 0;
}

void sl_store_abort(sl_store_txn *t) {
    if (!t) return;
    for (int p = 0; p < 2; p++)
        if (t->fd[p] >= 0) close(t->fd[p]);
    rm_rf(t->dir);
    free(t);
}

int sl_store_commit(sl_store *s, sl_store_txn *t, const char *tenant, const char *name, sl_store_entry *e,
                    int *created, char *err, size_t errlen) {
    int rc = 0;
    if (!sl_store_name_valid(tenant) || !sl_store_name_valid(name)) {
        sl_store_abort(t);
        return sl__errf(err, errlen, SL_EINVAL, "store: invalid tenant or adapter name");
    }
    if (!t->finished && (rc = sl_store_txn_finish(t, err, errlen))) { sl_store_abort(t); return rc; }
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&t->sha, sizeof digest, digest);
    hex(digest, sizeof digest, e->sha256);
    snprintf(e->tenant, sizeof e->tenant, "%.64s", tenant);
    snprintf(e->name, sizeof e->name, "%.64s", name);
    e->bytes = t->bytes[SL_STORE_WEIGHTS];
    e->config_bytes = t->bytes[SL_STORE_CONFIG];
    e->created = (int64_t)time(NULL);

    char tdir[4096], ndir[4200], vdir[4300], path[4200];
    pathf(tdir, sizeof tdir, "%s/%s", s->dir, tenant);
    pathf(ndir, sizeof ndir, "%s/%s", tdir, name);
    pthread_mutex_lock(&s->commit_mu); /* held across the disk work; mu only for the index */
    pthread_mutex_lock(&s->mu);
    sl_store_entry *cur = find(s, tenant, name);
    uint32_t prev = cur ? cur->version : 0;
    pthread_mutex_unlock(&s->mu);
    *created = prev == 0;
    if (mkdir_durable(tdir, s->dir) != 0 || mkdir_durable(ndir, tdir) != 0)
        rc = sl__errf(err, errlen, errno_code(errno), "store: cannot create %s: %s", ndir, strerror(errno));
    /* The next version is one past the newest on disk, not only in our index: another replica
     * sharing DIR may have committed meanwhile. Two replicas racing for the same number: the
     * rename of the loser fails (the target exists and is not empty) and it takes the next. */
    for (int attempt = 0; !rc; attempt++) {
        uint32_t top = prev;
        DIR *nd = opendir(ndir);
        struct dirent *de;
        while (nd && (de = readdir(nd))) {
            int v = parse_version(de->d_name);
            if (v > 0 && (uint32_t)v > top) top = (uint32_t)v;
        }
        if (nd) closedir(nd);
        if (top > prev) *created = 0;
        e->version = top + 1;
        /* meta.json completes the version; written and fsync'ed before the rename. */
        json_t *meta = json_pack("{s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:s, s:i, s:s}", "tenant", tenant, "name", name,
                                 "version", (int)e->version, "sha256", e->sha256, "bytes", (json_int_t)e->bytes,
                                 "config_bytes", (json_int_t)e->config_bytes, "created", (json_int_t)e->created,
                                 "peft_type", e->peft_type, "r", e->r, "target_modules", e->target_modules);
        pathf(path, sizeof path, "%s/meta.json", t->dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        char *text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
        json_decref(meta);
        size_t tl = text ? strlen(text) : 0;
        if (fd < 0 || !text || write(fd, text, tl) != (ssize_t)tl || fsync(fd) != 0) {
            int en = errno;
            rc = sl__errf(err, errlen, text ? errno_code(en) : SL_ENOMEM, "store: writing meta.json: %s", strerror(en));
        }
        free(text);
        if (fd >= 0) close(fd);
        if (!rc && fsync_path(t->dir) != 0) rc = sl__errf(err, errlen, errno_code(errno), "store: fsync: %s", strerror(errno));
        pathf(vdir, sizeof vdir, "%s/v%u", ndir, e->version);
        if (!rc && rename(t->dir, vdir) != 0) {
            if ((errno == EEXIST || errno == ENOTEMPTY) && attempt < 16) continue;
            rc = sl__errf(err, errlen, errno_code(errno), "store: rename: %s", strerror(errno));
        }
        break;
    }
    if (!rc && fsync_path(ndir) != 0) rc = sl__errf(err, errlen, errno_code(errno), "store: fsync %s: %s", ndir, strerror(errno));
    if (rc) {
        pthread_mutex_unlock(&s->commit_mu);
        sl_store_abort(t); /* removes the upload directory if the rename did not happen */
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    cur = find(s, tenant, name);
    if (cur) *cur = *e;
    else rc = index_put(&s->idx, &s->n, &s->cap, e);
    pthread_mutex_unlock(&s->mu);
    char what[200];
    snprintf(what, sizeof what, "commit %s/%s v%u", tenant, name, e->version);
    generation_bump(s, what);
    pthread_mutex_unlock(&s->commit_mu);
    free(t);
    if (rc) return rc; /* durable on disk; the next rescan or restart indexes it */
    /* The new version is durable; older ones go (a crash here leaves them, and the next
     * start removes them because a newer version exists). */
    DIR *nd = opendir(ndir);
    struct dirent *de;
    while (nd && (de = readdir(nd))) {
        int v = parse_version(de->d_name);
        if (v > 0 && (uint32_t)v < e->version) {
            pathf(vdir, sizeof vdir, "%s/%s", ndir, de->d_name);
            rm_rf(vdir);
        }
    }
    if (nd) closedir(nd);
    return 0;
}

/* ---- queries ---- */

int sl_store_get(sl_store *s, const char *tenant, const char *name, sl_store_entry *out) {
    pthread_mutex_lock(&s->mu);
    sl_store_entry *e = find(s, tenant, name);
    if (e) *out = *e;
    pthread_mutex_unlock(&s->mu);
    return e ? 0 : SL_ENOENT;
}

int sl_store_list(sl_store *s, const char *tenant, sl_store_entry **out, size_t *n) {
    pthread_mutex_lock(&s->mu);
    *out = malloc((s->n ? s->n : 1) * sizeof **out);
    *n = 0;
    if (*out)
        for (size_t i = 0; i < s->n; i++)
            if (!tenant || !strcmp(s->idx[i].tenant, tenant)) (*out)[(*n)++] = s->idx[i];
    pthread_mutex_unlock(&s->mu);
    return *out ? 0 : SL_ENOMEM;
}

int sl_store_delete(sl_store *s, const char *tenant, const char *name, char *err, size_t errlen) {
    char ndir[4200], trash[4200], tdir[4096];
    pathf(tdir, sizeof tdir, "%s/%s", s->dir, tenant);
    pathf(ndir, sizeof ndir, "%s/%s", tdir, name);
    pthread_mutex_lock(&s->commit_mu);
    pthread_mutex_lock(&s->mu);
    int found = find(s, tenant, name) != NULL;
    pthread_mutex_unlock(&s->mu);
    if (!found) { pthread_mutex_unlock(&s->commit_mu); return SL_ENOENT; }
    pathf(trash, sizeof trash, "%s/.trash/del-XXXXXX", s->dir);
    int rc = 0, made = mkdtemp(trash) != NULL;
    if (!made || rename(ndir, trash) != 0 || fsync_path(tdir) != 0)
        rc = sl__errf(err, errlen, errno_code(errno), "store: deleting %s/%s: %s", tenant, name, strerror(errno));
    if (!rc) {
        pthread_mutex_lock(&s->mu);
        sl_store_entry *e = find(s, tenant, name);
        if (e) *e = s->idx[--s->n];
        pthread_mutex_unlock(&s->mu);
        char what[200];
        snprintf(what, sizeof what, "delete %s/%s", tenant, name);
        generation_bump(s, what);
    }
    pthread_mutex_unlock(&s->commit_mu);
    if (made) rm_rf(trash);
    return rc;
}

int sl_store_read(sl_store *s, const sl_store_entry *e, char **config, size_t *config_len, void **weights,
                  size_t *weights_len, char *err, size_t errlen) {
    *config = NULL;
    *weights = NULL;
    char path[4300]; /* never in a message: they reach clients (503 adapter_unavailable) */
    int p = 0;
    void **bufs[2] = {(void **)config, weights};
    size_t *lens[2] = {config_len, weights_len};
    uint64_t want[2] = {e->config_bytes, e->bytes};
    for (p = 0; p < 2; p++) {
        pathf(path, sizeof path, "%s/%s/%s/v%u/%s", s->dir, e->tenant, e->name, e->version, part_file[p]);
        FILE *fp = fopen(path, "rb");
        if (!fp) goto io;
        char *b = malloc(want[p] + 1);
        size_t got = b ? fread(b, 1, want[p] + 1, fp) : 0;
        fclose(fp);
        if (!b) goto io;
        b[got < want[p] + 1 ? got : want[p]] = 0;
        *bufs[p] = b;
        *lens[p] = got;
        if (got != want[p]) {
            int rc = sl__errf(err, errlen, SL_EFORMAT, "store: %s/%s v%u: %s is %zu bytes, meta.json says %llu", e->tenant,
                              e->name, e->version, part_file[p], got, (unsigned long long)want[p]);
            free(*config); free(*weights);
            *config = NULL; *weights = NULL;
            return rc;
        }
    }
    struct sha256_ctx sha;
    uint8_t digest[SHA256_DIGEST_SIZE];
    char hx[65];
    sha256_init(&sha);
    sha256_update(&sha, *weights_len, *weights);
    sha256_digest(&sha, sizeof digest, digest);
    hex(digest, sizeof digest, hx);
    if (strcmp(hx, e->sha256) != 0) {
        free(*config); free(*weights);
        *config = NULL; *weights = NULL;
        return sl__errf(err, errlen, SL_EFORMAT, "store: %s/%s v%u: adapter_model.safetensors does not match its sha256", e->tenant,
                        e->name, e->version);
    }
    return 0;
io:
    {
        int en = errno;
        free(*config); free(*weights);
        *config = NULL; *weights = NULL;
        return sl__errf(err, errlen, errno_code(en), "store: %s/%s v%u: reading %s: %s", e->tenant, e->name, e->version,
                        part_file[p], strerror(en));
    }
}

/* Cost: a full scan, one opendir per tenant and per name and one meta.json parse per version
 * on disk (normally one per adapter), under commit_mu. Cheap for hundreds of adapters on a
 * local disk (well under a millisecond each); on NFS every step is a round trip, so tens of
 * thousands of adapters would want an index file or per-name change times instead. The daemon
 * runs it every --store-rescan-ms and on every change of DIR/.generation. */
int sl_store_rescan(sl_store *s, int *changed, char *err, size_t errlen) {
    sl_store_entry *idx = NULL;
    size_t n = 0;
    /* commit_mu: a commit of this process between the scan and the swap would be lost. */
    pthread_mutex_lock(&s->commit_mu);
    int rc = scan(s, 0, &idx, &n);
    if (rc) {
        pthread_mutex_unlock(&s->commit_mu);
        return sl__errf(err, errlen, rc, "store %s: rescan failed", s->dir);
    }
    pthread_mutex_lock(&s->mu);
    int diff = n != s->n;
    for (size_t i = 0; !diff && i < n; i++) {
        sl_store_entry *cur = find(s, idx[i].tenant, idx[i].name);
        diff = !cur || cur->version != idx[i].version || strcmp(cur->sha256, idx[i].sha256);
    }
    free(s->idx);
    s->idx = idx;
    s->n = s->cap = n;
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&s->commit_mu);
    if (changed) *changed = diff;
    return 0;
}
