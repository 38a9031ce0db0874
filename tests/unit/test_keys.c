/* test_keys.c — the API keys file (api/keys.c): format, permissions, the Bearer check. */
#include "check.h"

#include "api.h"
#include "error.h"

#include <sys/stat.h>
#include <unistd.h>

static char dir[64], path[128];


static void write_file(const char *text, mode_t mode) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static const char *hexsha(const char *key) {
    /* The test computes the digests with sha256sum, independent of nettle. */
    static char out[65];
    char cmd[256];
    snprintf(cmd, sizeof cmd, "printf %%s '%s' | sha256sum", key);
    FILE *p = popen(cmd, "r");
    out[0] = 0;
    if (p) {
        if (!fgets(out, sizeof out, p)) out[0] = 0;
        pclose(p);
    }
    out[64] = 0;
    return out;
}

TEST(valid_file_and_check) {
    char text[1024], a[65], r[65];
    snprintf(a, sizeof a, "%s", hexsha("sk-alice"));
    snprintf(r, sizeof r, "%s", hexsha("sk-root"));
    snprintf(text, sizeof text, "# comment\n\n%s alice tenant\n  %s   ops\tadmin   # trailing comment\n", a, r);
    write_file(text, 0600);
    sl_api_keys *k = NULL;
    char err[512] = "";
    CHECKF(sl_api_keys_load(&k, path, err, sizeof err) == 0, "%s", err);
    if (!k) return;
    CHECK(sl_api_keys_count(k) == 2);
    const char *tenant = NULL;
    int admin = -1;
    CHECK(sl_api_keys_check(k, "sk-alice", 8, &tenant, &admin) == 0 && !strcmp(tenant, "alice") && admin == 0);
    CHECK(sl_api_keys_check(k, "sk-root", 7, &tenant, &admin) == 0 && !strcmp(tenant, "ops") && admin == 1);
    CHECK(sl_api_keys_check(k, "sk-alicf", 8, &tenant, &admin) == SL_ENOENT);
    CHECK(sl_api_keys_check(k, "sk-alice", 7, &tenant, &admin) == SL_ENOENT); /* a prefix is not the key */
    CHECK(sl_api_keys_check(k, a, 64, &tenant, &admin) == SL_ENOENT);       /* nor is its hash */
    CHECK(sl_api_keys_check(k, "", 0, &tenant, &admin) == SL_ENOENT);
    sl_api_keys_free(k);
    /* Upper-case hex is the same digest. */
    for (char *p = a; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 32);
    snprintf(text, sizeof text, "%s alice tenant\n", a);
    write_file(text, 0400);
    CHECKF(sl_api_keys_load(&k, path, err, sizeof err) == 0, "%s", err);
    CHECK(k && sl_api_keys_check(k, "sk-alice", 8, &tenant, &admin) == 0);
    sl_api_keys_free(k);
}

TEST(refusals) {
    char a[65];
    snprintf(a, sizeof a, "%s", hexsha("sk-alice"));
    struct {
        const char *fmt;
        mode_t mode;
        const char *word;
    } cases[] = {
        {"%s alice tenant\n", 0644, "chmod 600"},
        {"%s alice tenant\n", 0604, "chmod 600"},
        {"%s alice tenant\n", 0620, "chmod 600"},
        {"%s alice boss\n", 0600, "role"},
        {"%s alice\n", 0600, "expected"},
        {"%s alice tenant extra\n", 0600, "expected"},
        {"%.63s alice tenant\n", 0600, "SHA-256"},
        {"%.62szz alice tenant\n", 0600, "SHA-256"},
        {"%s ../alice tenant\n", 0600, "tenant"},
        {"%s Alice tenant\n", 0600, "tenant"},
        {"# only a comment %s\n", 0600, "no keys"},
        {"%1$s alice tenant\n%1$s bob tenant\n", 0600, "twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[512];
        snprintf(text, sizeof text, cases[i].fmt, a);
        write_file(text, cases[i].mode);
        sl_api_keys *k = NULL;
        char err[512] = "";
        int rc = sl_api_keys_load(&k, path, err, sizeof err);
        CHECKF(rc != 0 && !k && strstr(err, cases[i].word), "case %zu: rc %d err '%s'", i, rc, err);
        CHECKF(!strstr(err, "sk-alice"), "case %zu: the message shows a key", i);
        sl_api_keys_free(k);
    }
    sl_api_keys *k = NULL;
    char err[512] = "";
    CHECK(sl_api_keys_load(&k, "/nonexistent/keys", err, sizeof err) != 0 && strstr(err, "/nonexistent/keys"));
    CHECK(sl_api_keys_load(&k, dir, err, sizeof err) != 0); /* a directory */
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/sl-test-keys-XXXXXX");
    if (!mkdtemp(dir)) {
        printf("# 0 passed, 1 failed\n");
        return 1;
    }
    snprintf(path, sizeof path, "%s/keys", dir);
    RUN(valid_file_and_check);
    RUN(refusals);
    unlink(path);
    rmdir(dir);
    return check_summary();
}
