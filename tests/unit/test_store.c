/* test_store.c — the durable store (versions, crash leftovers, integrity) and the registry
 * (lazy loads, hot swap with requests in flight, LRU within a byte budget, pinned adapters). */
#include "check.h"

#include "adapter.h"
#include "error.h"
#include "model.h"
#include "registry.h"
#include "store.h"

#include <pthread.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[256];
static sl_model *M;

static int exists(const char *fmt, const char *a, const char *b) {
    char p[1024];
    snprintf(p, sizeof p, fmt, a, b);
    return access(p, F_OK) == 0;
}

/* Uploads fixture adapter FIX as TENANT/NAME the way the HTTP layer does: stream, finish,
 * validate the files, commit. Returns the commit's rc; *out (if given) gets the validated adapter. */
static int upload(sl_store *s, const char *tenant, const char *name, const char *fix, sl_store_entry *e, int *created,
                  sl_adapter **out) {
    char path[512];
    size_t cl = 0, wl = 0;
    snprintf(path, sizeof path, "tests/fixtures/adapters/llama-tiny/%s/adapter_config.json", fix);
    char *config = check_read_file(path, &cl);
    snprintf(path, sizeof path, "tests/fixtures/adapters/llama-tiny/%s/adapter_model.safetensors", fix);
    char *weights = check_read_file(path, &wl);
    sl_store_txn *t = NULL;
    char err[512] = "";
    int rc = config && weights ? sl_store_begin(s, &t, err, sizeof err) : SL_ENOENT;
    if (!rc) rc = sl_store_txn_write(t, SL_STORE_CONFIG, config, cl, err, sizeof err);
    for (size_t off = 0; !rc && off < wl; off += 1000) /* streamed in chunks */
        rc = sl_store_txn_write(t, SL_STORE_WEIGHTS, weights + off, wl - off < 1000 ? wl - off : 1000, err, sizeof err);
    if (!rc) rc = sl_store_txn_finish(t, err, sizeof err);
    sl_adapter *a = NULL;
    if (!rc) rc = sl_adapter_load_dir(&a, M, sl_store_txn_dir(t), NULL, err, sizeof err);
    if (rc) {
        if (t) sl_store_abort(t);
    } else {
        memset(e, 0, sizeof *e);
        snprintf(e->peft_type, sizeof e->peft_type, "%s", sl_adapter_get_kind(a) == SL_ADAPTER_SYMLORA ? "SYMLORA" : "LORA");
        e->r = sl_adapter_rank(a);
        snprintf(e->target_modules, sizeof e->target_modules, "q_proj");
        rc = sl_store_commit(s, t, tenant, name, e, created, err, sizeof err);
    }
    if (rc) printf("    upload %s: %s\n", fix, err);
    if (out && !rc) *out = a;
    else sl_adapter_unref(a);
    free(config);
    free(weights);
    return rc;
}

TEST(names) {
    const char *good[] = {"a", "tenant-1", "x.y_z", "0abc", "a234567890123456789012345678901234567890123456789012345678901234"};
    const char *bad[] = {"", "../x", "%2e%2e", "/etc/passwd", ".hidden", "A", "has space", "a/b", "-x",
                         "a2345678901234567890123456789012345678901234567890123456789012345", NULL};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) CHECKF(sl_store_name_valid(good[i]), "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECKF(!sl_store_name_valid(bad[i]), "%s", bad[i] ? bad[i] : "NULL");
}

TEST(versions_replace_delete_and_integrity) {
    sl_store *s = NULL;
    char err[512] = "";
    CHECKF(sl_store_open(&s, root, err, sizeof err) == 0, "%s", err);
    if (!s) return;
    sl_store_entry e, g;
    int created = 0;
    CHECK(upload(s, "alice", "x", "symlora-qo-r8", &e, &created, NULL) == 0 && created && e.version == 1);
    CHECK(strlen(e.sha256) == 64 && e.bytes > 0 && !strcmp(e.peft_type, "SYMLORA") && e.r == 8);
    CHECK(upload(s, "alice", "x", "lora-qv-r4", &e, &created, NULL) == 0 && !created && e.version == 2);
    CHECK(exists("%s/alice/x/v2/meta.json", root, "") && !exists("%s/alice/x/v1%s", root, ""));
    CHECK(sl_store_get(s, "alice", "x", &g) == 0 && g.version == 2 && !strcmp(g.sha256, e.sha256));
    CHECK(sl_store_get(s, "bob", "x", &g) == SL_ENOENT);
    char *c;
    void *w;
    size_t cl, wl;
    CHECK(sl_store_read(s, &g, &c, &cl, &w, &wl, err, sizeof err) == 0 && wl == g.bytes);
    free(c);
    free(w);
    /* A flipped byte on disk is caught by the sha256 check. */
    char p[512];
    snprintf(p, sizeof p, "%s/alice/x/v2/adapter_model.safetensors", root);
    FILE *fp = fopen(p, "r+b");
    fseek(fp, 200, SEEK_SET);
    fputc(0x55, fp);
    fclose(fp);
    CHECK(sl_store_read(s, &g, &c, &cl, &w, &wl, err, sizeof err) == SL_EFORMAT && strstr(err, "sha256"));
    CHECK(sl_store_delete(s, "alice", "x", err, sizeof err) == 0);
    CHECK(sl_store_get(s, "alice", "x", &g) == SL_ENOENT && !exists("%s/alice/x%s", root, ""));
    CHECK(sl_store_delete(s, "alice", "x", err, sizeof err) == SL_ENOENT);
    /* A failed validation leaves nothing behind. */
    sl_store_txn *t = NULL;
    CHECK(sl_store_begin(s, &t, err, sizeof err) == 0);
    sl_store_txn_write(t, SL_STORE_WEIGHTS, "junk", 4, err, sizeof err);
    sl_store_abort(t);
    snprintf(p, sizeof p, "test -z \"$(find %s/.tmp -mindepth 2)\"", root); /* only the empty staging dir */
    CHECK(system(p) == 0);
    sl_store_free(s);
}

TEST(restart_cleans_leftovers_and_keeps_acknowledged) {
    sl_store *s = NULL;
    char err[512] = "", p[2400];
    CHECK(sl_store_open(&s, root, err, sizeof err) == 0);
    if (!s) return;
    sl_store_entry e1, e2;
    int created;
    CHECK(upload(s, "t1", "a", "symlora-all-r4", &e1, &created, NULL) == 0);
    CHECK(upload(s, "t1", "b", "lora-all-r8", &e2, &created, NULL) == 0);
    /* Simulate crashes: an upload never renamed, a version dir without meta.json (cannot
     * happen with rename, but a damaged disk might), an old version left after a crash. */
    snprintf(p, sizeof p, "mkdir -p %s/.tmp/up-crash %s/t1/a/v7 && echo x > %s/.tmp/up-crash/adapter_model.safetensors"
                          " && cp -r %s/t1/b/v1 %s/t1/b/v0x && mkdir -p %s/t1/c", root, root, root, root, root, root);
    CHECK(system(p) == 0);
    sl_store_free(s);
    s = NULL;
    CHECK(sl_store_open(&s, root, err, sizeof err) == 0);
    if (!s) return;
    sl_store_entry g;
    CHECK(sl_store_get(s, "t1", "a", &g) == 0 && g.version == 1 && !strcmp(g.sha256, e1.sha256));
    CHECK(sl_store_get(s, "t1", "b", &g) == 0 && !strcmp(g.sha256, e2.sha256));
    CHECK(!exists("%s/.tmp/up-crash%s", root, "") && !exists("%s/t1/a/v7%s", root, "") && !exists("%s/t1/c%s", root, ""));
    sl_store_entry *list;
    size_t n;
    CHECK(sl_store_list(s, "t1", &list, &n) == 0 && n == 2);
    free(list);
    CHECK(sl_store_list(s, "nobody", &list, &n) == 0 && n == 0);
    free(list);
    /* A second process sharing the directory sees changes after a rescan. */
    sl_store *other = NULL;
    CHECK(sl_store_open(&other, root, err, sizeof err) == 0);
    CHECK(upload(other, "t1", "a", "symlora-qo-r8", &e1, &created, NULL) == 0 && e1.version == 2);
    int changed = 0;
    CHECK(sl_store_rescan(s, &changed, err, sizeof err) == 0 && changed);
    CHECK(sl_store_get(s, "t1", "a", &g) == 0 && g.version == 2);
    CHECK(sl_store_rescan(s, &changed, err, sizeof err) == 0 && !changed);
    sl_store_free(other);
    sl_store_free(s);
}

/* Reads DIR/.generation into BUF (empty if missing); returns its inode (0 if missing). */
static ino_t marker(const char *dir, char *buf, size_t n) {
    char p[400];
    snprintf(p, sizeof p, "%s/" SL_STORE_GENERATION, dir);
    buf[0] = 0;
    struct stat st;
    if (stat(p, &st) != 0) return 0;
    FILE *f = fopen(p, "r");
    if (f) {
        size_t got = fread(buf, 1, n - 1, f);
        buf[got] = 0;
        fclose(f);
    }
    return st.st_ino;
}

/* Did an IN_MOVED_TO of SL_STORE_GENERATION arrive on the inotify descriptor FD? Drains it. */
static int saw_marker_event(int fd) {
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int seen = 0;
    ssize_t len;
    while ((len = read(fd, buf, sizeof buf)) > 0)
        for (char *p = buf; p < buf + len;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if ((ev->mask & IN_MOVED_TO) && ev->len && !strcmp(ev->name, SL_STORE_GENERATION)) seen = 1;
            p += sizeof *ev + ev->len;
        }
    return seen;
}

TEST(generation_marker_on_commit_and_delete) {
    char dir[300], err[512] = "", m1[256], m2[256], m3[256], cmd[1024];
    snprintf(dir, sizeof dir, "%s/gen", root);
    sl_store *a = NULL, *b = NULL;
    CHECK(sl_store_open(&a, dir, err, sizeof err) == 0 && sl_store_open(&b, dir, err, sizeof err) == 0);
    if (!a || !b) { sl_store_free(a); sl_store_free(b); return; }
    CHECK(marker(dir, m1, sizeof m1) == 0); /* opening writes nothing */
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    CHECK(in >= 0 && inotify_add_watch(in, dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE) >= 0);
    sl_store_entry e;
    int created;
    CHECK(upload(a, "t", "x", "lora-qv-r4", &e, &created, NULL) == 0);
    ino_t i1 = marker(dir, m1, sizeof m1);
    CHECKF(i1 && strstr(m1, "commit t/x v1"), "%s", m1);
    CHECK(saw_marker_event(in)); /* one watch on DIR sees a commit two levels below it */
    /* The other process's commit replaces the marker (a new file, renamed over it). */
    CHECK(upload(b, "t", "x", "symlora-qo-r8", &e, &created, NULL) == 0 && e.version == 2);
    ino_t i2 = marker(dir, m2, sizeof m2);
    CHECKF(i2 && i2 != i1 && strstr(m2, "commit t/x v2"), "%s", m2);
    CHECK(saw_marker_event(in));
    /* A failed upload changes nothing. */
    sl_store_txn *t = NULL;
    CHECK(sl_store_begin(a, &t, err, sizeof err) == 0);
    sl_store_abort(t);
    CHECK(marker(dir, m3, sizeof m3) == i2 && !strcmp(m3, m2) && !saw_marker_event(in));
    int changed = 0;
    CHECK(sl_store_rescan(a, &changed, err, sizeof err) == 0 && changed); /* a rescan writes nothing */
    CHECK(marker(dir, m3, sizeof m3) == i2 && !saw_marker_event(in));
    CHECK(sl_store_delete(a, "t", "x", err, sizeof err) == 0);
    ino_t i3 = marker(dir, m3, sizeof m3);
    CHECKF(i3 && i3 != i2 && strstr(m3, "delete t/x"), "%s", m3);
    CHECK(saw_marker_event(in));
    CHECK(sl_store_delete(a, "t", "x", err, sizeof err) == SL_ENOENT && !saw_marker_event(in));
    /* Nothing is left in the staging directories; the marker is all there is at the top. */
    snprintf(cmd, sizeof cmd, "test -z \"$(find %s/.tmp -mindepth 2)\" && test -z \"$(ls -A %s | grep -v -x -e .tmp -e .trash -e t -e %s)\"",
             dir, dir, SL_STORE_GENERATION);
    CHECK(system(cmd) == 0);
    if (in >= 0) close(in);
    sl_store_free(b);
    sl_store_free(a);
}

TEST(registry_hot_swap_lru_and_pinned) {
    char dir[300], err[512] = "";
    snprintf(dir, sizeof dir, "%s/reg", root);
    sl_store *s = NULL;
    CHECK(sl_store_open(&s, dir, err, sizeof err) == 0);
    if (!s) return;
    const char *fix[5] = {"symlora-qo-r8", "symlora-all-r4", "lora-qv-r4", "lora-all-r8", "symlora-qo-r16-bf16"};
    const char *names[5] = {"n0", "n1", "n2", "n3", "n4"};
    sl_store_entry e;
    int created;
    size_t biggest = 0;
    for (int i = 0; i < 5; i++) {
        sl_adapter *a = NULL;
        CHECK(upload(s, "t", names[i], fix[i], &e, &created, &a) == 0);
        if (a && sl_adapter_bytes(a) > biggest) biggest = sl_adapter_bytes(a);
        sl_adapter_unref(a);
    }
    sl_registry *r = NULL;
    /* A budget of the biggest adapter (fewer than three of these five fit): cycling must evict. */
    CHECK(sl_registry_init(&r, M, s, biggest, NULL, err, sizeof err) == 0);
    sl_adapter *a = NULL;
    uint32_t v;
    CHECK(sl_registry_try_acquire(r, "t", "n0", &a, &v) == SL_EBUSY);
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 5; i++) {
            CHECKF(sl_registry_acquire(r, "t", names[i], &a, &v, err, sizeof err) == 0 && a && v == 1, "%s", err);
            sl_adapter_unref(a);
        }
    sl_registry_stats st;
    sl_registry_get_stats(r, &st);
    CHECKF(st.evictions > 0 && st.resident_bytes <= biggest && st.misses >= 5 && st.loads == st.misses,
           "evictions %llu resident %zu", (unsigned long long)st.evictions, st.resident_bytes);
    /* Other tenants don't see t's adapters. */
    CHECK(sl_registry_acquire(r, "u", "n0", &a, &v, err, sizeof err) == SL_ENOENT);
    /* Hot swap: a request holds v1; v2 is published; the request's adapter stays valid. */
    sl_adapter *held = NULL;
    CHECK(sl_registry_acquire(r, "t", "n0", &held, &v, err, sizeof err) == 0 && v == 1);
    sl_adapter *v2 = NULL;
    CHECK(upload(s, "t", "n0", "lora-all-r8", &e, &created, &v2) == 0 && e.version == 2);
    sl_registry_publish(r, &e, v2);
    CHECK(sl_registry_try_acquire(r, "t", "n0", &a, &v) == 0 && v == 2 && a == v2 && a != held);
    sl_adapter_unref(a);
    CHECK(held && sl_adapter_get_kind(held) == SL_ADAPTER_SYMLORA && sl_adapter_refs(held) == 1);
    /* An adapter in flight is never evicted: hold n1, then cycle the rest. */
    sl_adapter *inflight = NULL;
    CHECK(sl_registry_acquire(r, "t", "n1", &inflight, &v, err, sizeof err) == 0);
    for (int i = 2; i < 5; i++) {
        CHECK(sl_registry_acquire(r, "t", names[i], &a, &v, err, sizeof err) == 0);
        sl_adapter_unref(a);
    }
    CHECK(sl_registry_try_acquire(r, "t", "n1", &a, &v) == 0 && a == inflight);
    sl_adapter_unref(a);
    sl_adapter_unref(inflight);
    sl_adapter_unref(held);
    /* Delete. */
    CHECK(sl_store_delete(s, "t", "n2", err, sizeof err) == 0);
    sl_registry_forget(r, "t", "n2");
    CHECK(sl_registry_acquire(r, "t", "n2", &a, &v, err, sizeof err) == SL_ENOENT);
    /* Pinned adapters: visible to every tenant, after the tenant's own. */
    sl_adapter *p = NULL;
    CHECK(sl_adapter_load_dir(&p, M, "tests/fixtures/adapters/llama-tiny/lora-qv-r4", NULL, err, sizeof err) == 0);
    CHECK(sl_registry_add_pinned(r, "shared", p, err, sizeof err) == 0);
    CHECK(sl_registry_acquire(r, "anyone", "shared", &a, &v, err, sizeof err) == 0 && a == p && v == 0);
    sl_adapter_unref(a);
    sl_registry_info *info;
    size_t n;
    CHECK(sl_registry_list(r, "t", &info, &n) == 0 && n == 5); /* n0 n1 n3 n4 + shared */
    free(info);
    sl_registry_free(r);
    sl_store_free(s);
}

/* Commits run concurrently from many threads (the thread pool): every one gets its own
 * version, none is lost, the index ends at the last. */
typedef struct committer {
    sl_store *s;
    const char *name;
    int n, fails;
    uint32_t versions[16];
} committer;

static void *commit_thread(void *arg) {
    committer *c = arg;
    for (int i = 0; i < c->n; i++) {
        sl_store_entry e;
        int created;
        if (upload(c->s, "conc", c->name, i % 2 ? "symlora-qo-r8" : "lora-qv-r4", &e, &created, NULL) != 0) c->fails++;
        else c->versions[i] = e.version;
    }
    return NULL;
}

TEST(concurrent_commits_get_distinct_versions) {
    char dir[300], err[512] = "";
    snprintf(dir, sizeof dir, "%s/conc", root);
    sl_store *s = NULL;
    CHECK(sl_store_open(&s, dir, err, sizeof err) == 0);
    if (!s) return;
    enum { T = 6, N = 5 };
    committer c[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        c[i] = (committer){.s = s, .name = i < 4 ? "same" : "other", .n = N};
        pthread_create(&th[i], NULL, commit_thread, &c[i]);
    }
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    int seen[4 * N + 1] = {0}, fails = 0;
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < N; k++) {
            fails += c[i].fails;
            uint32_t v = c[i].versions[k];
            if (v >= 1 && v <= 4 * N) seen[v]++;
        }
    CHECK(fails == 0);
    for (int v = 1; v <= 4 * N; v++) CHECKF(seen[v] == 1, "version %d committed %d times", v, seen[v]);
    sl_store_entry g;
    CHECK(sl_store_get(s, "conc", "same", &g) == 0 && g.version == 4 * N);
    CHECK(sl_store_get(s, "conc", "other", &g) == 0 && g.version == 2 * N);
    CHECK(!exists("%s/conc/same/v1%s", dir, "") && exists("%s/conc/same/v20%s", dir, ""));
    /* A rescan while nothing changes keeps everything. */
    int changed = 1;
    CHECK(sl_store_rescan(s, &changed, err, sizeof err) == 0 && !changed);
    sl_store_free(s);
}

/* After a burst with every adapter in flight the registry is over budget; the next lookup
 * (a hit) shrinks it back by evicting idle ones. */
TEST(registry_shrinks_back_after_a_burst) {
    char dir[300], err[512] = "";
    snprintf(dir, sizeof dir, "%s/burst", root);
    sl_store *s = NULL;
    CHECK(sl_store_open(&s, dir, err, sizeof err) == 0);
    if (!s) return;
    sl_store_entry e;
    int created;
    sl_adapter *a0 = NULL;
    CHECK(upload(s, "t", "a", "symlora-qo-r8", &e, &created, &a0) == 0);
    size_t one = a0 ? sl_adapter_bytes(a0) : 0;
    sl_adapter_unref(a0);
    CHECK(upload(s, "t", "b", "symlora-qo-r8", &e, &created, NULL) == 0);
    CHECK(upload(s, "t", "c", "symlora-qo-r8", &e, &created, NULL) == 0);
    sl_registry *r = NULL;
    CHECK(sl_registry_init(&r, M, s, one, NULL, err, sizeof err) == 0);
    if (!r) { sl_store_free(s); return; }
    sl_adapter *ha = NULL, *hb = NULL, *x = NULL;
    uint32_t v;
    CHECK(sl_registry_acquire(r, "t", "a", &ha, &v, err, sizeof err) == 0);
    CHECK(sl_registry_acquire(r, "t", "b", &hb, &v, err, sizeof err) == 0); /* a in flight: over budget */
    sl_registry_stats st;
    sl_registry_get_stats(r, &st);
    CHECK(st.resident == 2 && st.resident_bytes == 2 * one && st.evictions == 0);
    sl_adapter_unref(ha);
    sl_adapter_unref(hb);
    CHECK(sl_registry_try_acquire(r, "t", "b", &x, &v) == 0); /* a hit: a (idle, LRU) goes */
    sl_adapter_unref(x);
    sl_registry_get_stats(r, &st);
    CHECKF(st.resident == 1 && st.resident_bytes == one && st.evictions == 1, "resident %zu evictions %llu", st.resident,
           (unsigned long long)st.evictions);
    CHECK(sl_registry_try_acquire(r, "t", "a", &x, &v) == SL_EBUSY);
    /* Publish replaces the resident version at once; a later lookup sees it without a load. */
    sl_adapter *v2 = NULL;
    CHECK(upload(s, "t", "b", "lora-qv-r4", &e, &created, &v2) == 0 && e.version == 2);
    sl_registry_publish(r, &e, v2);
    CHECK(sl_registry_try_acquire(r, "t", "b", &x, &v) == 0 && x == v2 && v == 2);
    sl_adapter_unref(x);
    sl_registry_info info;
    CHECK(sl_registry_info_get(r, "t", "b", &info) == 0 && info.resident && info.e.version == 2 && !info.pinned);
    CHECK(sl_registry_info_get(r, "t", "zzz", &info) == SL_ENOENT);
    CHECK(sl_registry_info_get(r, "u", "b", &info) == SL_ENOENT);
    sl_registry_free(r);
    sl_store_free(s);
}

/* Replicas share one directory: opening a store must not remove an upload that another live
 * process is writing, but must remove the staging directory of one that died. */
TEST(replicas_keep_each_others_uploads) {
    char dir[300], err[512] = "", cmd[1200];
    snprintf(dir, sizeof dir, "%s/shared", root);
    sl_store *a = NULL, *b = NULL;
    CHECK(sl_store_open(&a, dir, err, sizeof err) == 0);
    if (!a) return;
    sl_store_txn *t = NULL;
    CHECK(sl_store_begin(a, &t, err, sizeof err) == 0);
    if (!t) return;
    /* A dead replica's leftovers: a staging directory nobody holds a lock on. */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/.tmp/p-dead/up-1 && echo x > %s/.tmp/p-dead/up-1/adapter_model.safetensors", dir, dir);
    CHECK(system(cmd) == 0);
    /* A replica being born right now (n-, not locked yet) is left alone; an old n- is not. */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/.tmp/n-young %s/.tmp/n-old && touch -d '2 minutes ago' %s/.tmp/n-old", dir, dir, dir);
    CHECK(system(cmd) == 0);
    CHECK(sl_store_open(&b, dir, err, sizeof err) == 0);
    CHECK(access(sl_store_txn_dir(t), F_OK) == 0);
    snprintf(cmd, sizeof cmd, "%s/.tmp/p-dead", dir);
    CHECK(access(cmd, F_OK) != 0);
    snprintf(cmd, sizeof cmd, "%s/.tmp/n-young", dir);
    CHECK(access(cmd, F_OK) == 0);
    snprintf(cmd, sizeof cmd, "%s/.tmp/n-old", dir);
    CHECK(access(cmd, F_OK) != 0);
    /* Both commit the same name: distinct versions, the newest wins everywhere. */
    char path[512];
    size_t cl = 0, wl = 0;
    snprintf(path, sizeof path, "tests/fixtures/adapters/llama-tiny/symlora-qo-r8/adapter_config.json");
    char *config = check_read_file(path, &cl);
    snprintf(path, sizeof path, "tests/fixtures/adapters/llama-tiny/symlora-qo-r8/adapter_model.safetensors");
    char *weights = check_read_file(path, &wl);
    CHECK(config && weights);
    if (config && weights) {
        sl_store_txn_write(t, SL_STORE_CONFIG, config, cl, err, sizeof err);
        sl_store_txn_write(t, SL_STORE_WEIGHTS, weights, wl, err, sizeof err);
    }
    sl_store_entry ea = {.r = 8}, eb;
    snprintf(ea.peft_type, sizeof ea.peft_type, "SYMLORA");
    int created;
    CHECK(upload(b, "t", "same", "symlora-qo-r8", &eb, &created, NULL) == 0 && eb.version == 1 && created);
    CHECK(sl_store_commit(a, t, "t", "same", &ea, &created, err, sizeof err) == 0 && ea.version == 2 && !created);
    int changed = 0;
    sl_store_entry g;
    CHECK(sl_store_rescan(b, &changed, err, sizeof err) == 0 && changed);
    CHECK(sl_store_get(b, "t", "same", &g) == 0 && g.version == 2);
    snprintf(cmd, sizeof cmd, "%s/t/same/v1", dir);
    CHECK(access(cmd, F_OK) != 0);
    free(config);
    free(weights);
    sl_store_free(b);
    sl_store_free(a);
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/sl-test-store-XXXXXX");
    if (!mkdtemp(root) || sl_model_load(&M, "tests/fixtures/models/llama-tiny", NULL, NULL, 0) != 0) {
        printf("# 0 passed, 1 failed\n");
        return 1;
    }
    RUN(names);
    RUN(versions_replace_delete_and_integrity);
    RUN(restart_cleans_leftovers_and_keeps_acknowledged);
    RUN(registry_hot_swap_lru_and_pinned);
    RUN(replicas_keep_each_others_uploads);
    RUN(concurrent_commits_get_distinct_versions);
    RUN(registry_shrinks_back_after_a_burst);
    RUN(generation_marker_on_commit_and_delete);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    sl_model_free(M);
    return check_summary();
}
