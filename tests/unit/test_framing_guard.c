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
        struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Connection", "close");
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    *data_size = 0;
    return MHD_YES;
}

/* Sends REQ to PORT; the whole answer (until the server closes) into OUT. */
static size_t exchange(int port, const char *req, char *out, size_t cap) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t n = 0;
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) == 0 && write(s, req, strlen(req)) == (ssize_t)strlen(req)) {
        ssize_t k;
        while (n < cap - 1 && (k = read(s, out + n, cap - 1 - n)) > 0) n += (size_t)k;
    }
    out[n] = 0;
    close(s);
    return n;
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

int main(void) {
    RUN(content_length_rule);
    RUN(interposition_holds);
    RUN(mhd_sees_no_bad_content_length_nor_cookie);
    return check_summary();
}
