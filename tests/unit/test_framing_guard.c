/* test_framing_guard.c — api/framing_guard.c: the Content-Length rule, and our
 * MHD_lookup_connection_value_n in front of libmicrohttpd's on a real connection (a small MHD
 * daemon on a loopback port, raw requests). */
#include "check.h"

#include "framing_guard.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

TEST(content_length_rule) {
    static const struct { const char *v; int ok; int64_t n; } cases[] = {
        {"0", 1, 0}, {"5", 1, 5}, {"007", 1, 7}, {"9223372036854775807", 1, INT64_MAX},
        {"00000000000000000000000000042", 1, 42},
        {"", 0, 0}, {"5x", 0, 0}, {"-1", 0, 0}, {"+1", 0, 0}, {" 1", 0, 0}, {"1 ", 0, 0}, {"1,1", 0, 0},
        {"0x10", 0, 0}, {"9223372036854775808", 0, 0}, {"18446744073709551615", 0, 0},
        {"18446744073709551616", 0, 0}, {"1000000000000000000000000000000", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t n = -1;
        int ok = sl__content_length_ok(cases[i].v, strlen(cases[i].v), &n);
        CHECKF(ok == cases[i].ok, "'%s': %d", cases[i].v, ok);
        if (ok && cases[i].ok) CHECKF(n == cases[i].n, "'%s': %lld", cases[i].v, (long long)n);
    }
    CHECK(!sl__content_length_ok(NULL, 0, NULL));
    CHECK(sl__content_length_ok("12x", 2, NULL)); /* N bytes, not up to a NUL */
}

/* This binary is linked like symlorad: libmicrohttpd's own calls reach our function. */
TEST(interposition_holds) { CHECK(sl__framing_guard_active() == 1); }

typedef struct seen {
    int calls, listed_cl, listed_cookie;
    int found_cl, found_cookie, found_host;
    char host[16];
} seen;

static enum MHD_Result list_one(void *cls, enum MHD_ValueKind kind, const char *key, size_t ks, const char *v, size_t vs) {
    seen *s = cls;
    if (!strcasecmp(key, "Content-Length")) s->listed_cl++;
    if (!strcasecmp(key, "Cookie")) s->listed_cookie++;
    return MHD_YES;
}

/* 200 "ok", then the connection is closed. */
static enum MHD_Result reply_ok(struct MHD_Connection *c) {
    struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *data, size_t *data_size, void **ctx) {
    seen *s = cls;
    if (!*ctx) { /* the first call: right after the header block (MHD 0.9: before any body) */
        *ctx = s;
        s->calls++;
        const char *v = NULL;
        s->found_cl = MHD_lookup_connection_value_n(c, MHD_HEADER_KIND, "content-length", 14, &v, NULL) == MHD_YES;
        s->found_cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cookie") != NULL;
        v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
        s->found_host = v != NULL;
        snprintf(s->host, sizeof s->host, "%s", v ? v : "");
        MHD_get_connection_values_n(c, MHD_HEADER_KIND, list_one, s);
        return reply_ok(c);
    }
    *data_size = 0;
    return MHD_YES;
}

/* Sends the LEN bytes of REQ to PORT; the whole answer (until the server closes) into OUT. */
static size_t exchange_n(int port, const char *req, size_t len, char *out, size_t cap) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t n = 0;
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) == 0 && write(s, req, len) == (ssize_t)len) {
        ssize_t k;
        while (n < cap - 1 && (k = read(s, out + n, cap - 1 - n)) > 0) n += (size_t)k;
    }
    out[n] = 0;
    close(s);
    return n;
}

static size_t exchange(int port, const char *req, char *out, size_t cap) {
    return exchange_n(port, req, strlen(req), out, cap);
}

static int status_lines(const char *s) {
    int n = 0;
    for (const char *p = strstr(s, "HTTP/1.1 "); p; p = strstr(p + 1, "HTTP/1.1 ")) n++;
    return n;
}

TEST(mhd_sees_no_bad_content_length_nor_cookie) {
    seen s;
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, &s,
                                            MHD_OPTION_END);
    CHECK(d != NULL);
    if (!d) return;
    int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    char out[4096];
    static const struct { const char *cl; int hidden; } cases[] = {
        {"5x", 1}, {"-1", 1}, {"1000000000000000000000000000000", 1}, {"18446744073709551615", 1}, {"0", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[256];
        snprintf(req, sizeof req, "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: %s\r\nCookie: a=b\r\n\r\n", cases[i].cl);
        memset(&s, 0, sizeof s);
        exchange(port, req, out, sizeof out);
        /* Without the guard MHD answers a bad one itself (400/413), with two status lines, and
         * never calls the handler. */
        CHECKF(s.calls == 1, "%s: handler called %d times", cases[i].cl, s.calls);
        CHECKF(status_lines(out) == 1 && !strncmp(out, "HTTP/1.1 200 ", 13), "%s: %.200s", cases[i].cl, out);
        CHECKF(s.found_cl == !cases[i].hidden, "%s: lookup found it: %d", cases[i].cl, s.found_cl);
        CHECKF(s.listed_cl == 1 && s.listed_cookie == 1, "%s: still listed", cases[i].cl);
        CHECK(!s.found_cookie);
        CHECK(s.found_host && !strcmp(s.host, "h")); /* every other key is MHD's answer */
    }
    MHD_stop_daemon(d);
}

typedef struct headseen {
    int calls;
    sl__head verdict;
    char where[48];
} headseen;

static enum MHD_Result head_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                    const char *version, const char *data, size_t *data_size, void **ctx) {
    headseen *s = cls;
    if (!*ctx) {
        *ctx = s;
        s->calls++;
        s->verdict = sl__head_check(c, method, version, s->where, sizeof s->where);
        return reply_ok(c);
    }
    *data_size = 0;
    return MHD_YES;
}

/* sl__head_check on heads as libmicrohttpd 0.9.75 really leaves them (a real daemon): every head
 * MHD accepts but that is not made of CR LF lines is found, and every well-formed one passes. */
TEST(head_lines_checked_where_mhd_split_them) {
    headseen s;
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, head_handler, &s,
                                            MHD_OPTION_END);
    CHECK(d != NULL);
    if (!d) return;
    int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    static const struct { const char *req; sl__head want; const char *where; } cases[] = {
        {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", SL_HEAD_OK, ""},
        {"GET / HTTP/1.0\r\n\r\n", SL_HEAD_OK, ""},
        {"GET /a?b=c HTTP/1.1\r\nHost:h\r\nX-Empty:\r\nX-Sp: \t a b \r\n\r\n", SL_HEAD_OK, ""},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n\n\n\n\n", SL_HEAD_OK, ""}, /* LFs in the body */
        {"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", SL_HEAD_FOLDED, ""},
        {"GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\nHost: h\r\n\r\n", SL_HEAD_FOLDED, ""},
        {"GET / HTTP/1.1\r\n X: y\r\nHost: h\r\n\r\n", SL_HEAD_FOLDED, "request line"},
        {"GET / HTTP/1.1\nHost: h\r\n\r\n", SL_HEAD_BAD_LINE, "request line"},
        {"GET / HTTP/1.1\r\nHost: h\nX-A: a\r\n\r\n", SL_HEAD_BAD_LINE, "Host"},
        {"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\n\r\n", SL_HEAD_BAD_END, "X-A"},
        {"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\n", SL_HEAD_BAD_END, "X-A"},
        {"GET / HTTP/1.1\r\nHost: h\n\n", SL_HEAD_BAD_END, "Host"},
        {"GET / HTTP/1.0\n\n", SL_HEAD_BAD_END, "request line"},
    };
    char out[4096];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&s, 0, sizeof s);
        exchange(port, cases[i].req, out, sizeof out);
        CHECKF(s.calls == 1, "case %zu: handler called %d times", i, s.calls);
        CHECKF(s.verdict == cases[i].want, "case %zu: verdict %d, want %d", i, (int)s.verdict, (int)cases[i].want);
        if (cases[i].want != SL_HEAD_OK) CHECKF(!strcmp(s.where, cases[i].where), "case %zu: where '%s'", i, s.where);
    }
    /* NUL inside a line: it hides the rest of the line from MHD. */
    static const char req[] = "GET / HTTP/1.1\r\nX-A: a\0\0Host: y\r\nHost: h\r\n\r\n";
    memset(&s, 0, sizeof s);
    exchange_n(port, req, sizeof req - 1, out, sizeof out);
    CHECK(s.calls == 1 && s.verdict == SL_HEAD_BAD_LINE && !strcmp(s.where, "X-A"));
    MHD_stop_daemon(d);
}

int main(void) {
    RUN(content_length_rule);
    RUN(interposition_holds);
    RUN(mhd_sees_no_bad_content_length_nor_cookie);
    RUN(head_lines_checked_where_mhd_split_them);
    return check_summary();
}
