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

TEST(tenant_fields) {
    char text[2048], a[65], a2[65], b[65], c[65];
    snprintf(a, sizeof a, "%s", hexsha("sk-alice"));
    snprintf(a2, sizeof a2, "%s", hexsha("sk-alice-2"));
    snprintf(b, sizeof b, "%s", hexsha("sk-bob"));
    snprintf(c, sizeof c, "%s", hexsha("sk-carol"));
    snprintf(text, sizeof text,
             "%s alice tenant 3 max_store_bytes=64M max_adapters=10 # comment 7\n"
             "%s alice tenant max_uploads=2\n" /* a second key of alice: more of her limits */
             "%s bob tenant weight=2 max_store_bytes=0\n"
             "%s carol admin\n", a, a2, b, c);
    write_file(text, 0600);
    sl_api_keys *k = NULL;
    char err[512] = "";
    CHECKF(sl_api_keys_load(&k, path, err, sizeof err) == 0, "%s", err);
    if (!k) return;
    CHECK(sl_api_keys_count(k) == 4);
    CHECK(sl_api_keys_tenant_count(k) == 3);
    CHECK(!strcmp(sl_api_keys_tenant_name(k, 0), "alice") && !strcmp(sl_api_keys_tenant_name(k, 2), "carol"));
    CHECK(sl_api_keys_tenant_name(k, 3) == NULL && sl_api_keys_tenant_name(k, -1) == NULL);
    CHECK(sl_api_keys_tenant_weight(k, "alice") == 3);
    CHECK(sl_api_keys_tenant_weight(k, "bob") == 2);
    CHECK(sl_api_keys_tenant_weight(k, "carol") == 1);
    CHECK(sl_api_keys_tenant_weight(k, "nobody") == 1);
    CHECK(sl_api_keys_tenant_weight(NULL, "alice") == 1);
    CHECK(sl_api_keys_tenant_quota(k, "alice", SL_QUOTA_STORE_BYTES) == 64LL << 20);
    CHECK(sl_api_keys_tenant_quota(k, "alice", SL_QUOTA_ADAPTERS) == 10);
    CHECK(sl_api_keys_tenant_quota(k, "alice", SL_QUOTA_UPLOADS) == 2);
    CHECK(sl_api_keys_tenant_quota(k, "bob", SL_QUOTA_STORE_BYTES) == 0); /* 0: no limit */
    CHECK(sl_api_keys_tenant_quota(k, "bob", SL_QUOTA_ADAPTERS) == -1);   /* -1: the server's default */
    CHECK(sl_api_keys_tenant_quota(k, "carol", SL_QUOTA_UPLOADS) == -1);
    CHECK(sl_api_keys_tenant_quota(k, "nobody", SL_QUOTA_UPLOADS) == -1);
    CHECK(sl_api_keys_tenant_quota(NULL, "alice", SL_QUOTA_UPLOADS) == -1);
    const char *tenant = NULL;
    int admin = -1;
    CHECK(sl_api_keys_check(k, "sk-alice-2", 10, &tenant, &admin) == 0 && !strcmp(tenant, "alice") && !admin);
    sl_api_keys_free(k);
    /* Suffixes are powers of 1024; the same value on two lines of a tenant is fine. */
    snprintf(text, sizeof text, "%s alice tenant 1000 max_store_bytes=1T\n%s alice tenant 1000 max_store_bytes=1024G\n", a, a2);
    write_file(text, 0600);
    CHECKF(sl_api_keys_load(&k, path, err, sizeof err) == 0, "%s", err);
    CHECK(k && sl_api_keys_tenant_quota(k, "alice", SL_QUOTA_STORE_BYTES) == 1LL << 40);
    CHECK(k && sl_api_keys_tenant_weight(k, "alice") == 1000);
    sl_api_keys_free(k);
    /* Two lines of one tenant that disagree: refused, naming both lines. */
    snprintf(text, sizeof text, "%s alice tenant 2\n\n%s alice tenant 3\n", a, a2);
    write_file(text, 0600);
    k = NULL;
    CHECK(sl_api_keys_load(&k, path, err, sizeof err) != 0 && !k && strstr(err, ":3:") && strstr(err, "line 1"));
    snprintf(text, sizeof text, "%s alice tenant max_adapters=2\n%s alice tenant max_adapters=3\n", a, a2);
    write_file(text, 0600);
    CHECK(sl_api_keys_load(&k, path, err, sizeof err) != 0 && !k && strstr(err, ":2:") && strstr(err, "max_adapters=2"));
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
        {"%s alice tenant extra\n", 0600, ":1: the weight 'extra'"},
        {"%s alice tenant 0\n", 0600, "weight '0'"},
        {"%s alice tenant 1001\n", 0600, "from 1 to 1000"},
        {"%s alice tenant -2\n", 0600, "weight '-2'"},
        {"%s alice tenant 2 3\n", 0600, "only NAME=VALUE"},
        {"%s alice tenant max_store_bytes=12Q\n", 0600, "max_store_bytes='12Q'"},
        {"%s alice tenant max_store_bytes=\n", 0600, "whole number"},
        {"%s alice tenant max_store_bytes=99999999999999999999\n", 0600, "whole number"},
        {"%s alice tenant max_store_bytes=16777216T\n", 0600, "whole number"},
        {"%s alice tenant max_adapters=-1\n", 0600, "max_adapters='-1'"},
        {"%s alice tenant colour=blue\n", 0600, "unknown field 'colour'"},
        {"%1$s alice tenant # 2\n%1$s alice tenant weight=x\n", 0600, ":2: the weight 'x'"},
        {"%s alice # tenant\n", 0600, "expected"},
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
    RUN(tenant_fields);
    RUN(refusals);
    unlink(path);
    rmdir(dir);
    return check_summary();
}
