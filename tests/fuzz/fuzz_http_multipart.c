/* fuzz_http_multipart.c — the body of PUT /v1/adapters/{name} as the server parses it:
 * libmicrohttpd's own PostProcessor (the one api/upload.c creates) fed arbitrary bytes in
 * arbitrary pieces, its output handed to the same part bookkeeping (api/request.c:
 * sl__parts_piece, sl__parts_end) and copied out as upload.c stages it.
 *
 * A PostProcessor needs a connection (it reads the Content-Type with the boundary from it):
 * LLVMFuzzerInitialize starts a real MHD daemon on 127.0.0.1 in external-select mode and opens
 * one connection per Content-Type below, each sending only the headers of a PUT; the request
 * handler keeps each connection and the daemon is never run again, so the connections stay
 * exactly as they were when their headers were in. libmicrohttpd itself is not instrumented
 * (coverage and ASan checks are of our code), but its heap blocks come from ASan's malloc, so
 * a piece it hands us that reaches past its buffer is caught when we read it.
 *
 * Input layout: byte 0 picks the Content-Type, byte 1 seeds the piece sizes, byte 2 picks the
 * PostProcessor buffer size (bits 0-1; upload.c uses 65536, smaller ones split part headers)
 * and the mode (bit 7), then the body. Checked: every piece is readable, belongs to 'config'
 * or 'weights' at contiguous offsets, a refusal is a 400/413 with a message, the config part
 * never exceeds its limit, and what was copied out adds up to what the bookkeeping counted.
 * In the round-trip mode (bit 7) the rest is two parts' contents instead, framed as curl -F
 * frames them: they must come out byte for byte. */
#include "fuzz_common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "request.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const ctypes[] = {
    "multipart/form-data; boundary=b0undary",
    "multipart/form-data; boundary=------------------------symlora0123456789abcdef", /* curl-like */
    "multipart/form-data; boundary=\"quoted:bound ary\"",
    "multipart/form-data; charset=utf-8; boundary=X",
    "Multipart/Form-Data;boundary=a",
    "multipart/form-data", /* no boundary: no PostProcessor (api/upload.c answers 400) */
};
#define N_CT ((int)(sizeof ctypes / sizeof ctypes[0]))

static const size_t bufsizes[4] = {256, 1024, 4096, 65536};
static int no_pp[N_CT][4]; /* MHD_create_post_processor refuses this Content-Type and buffer size */
static struct MHD_Daemon *daemon_;
static struct MHD_Connection *conns[N_CT];
static int n_conns;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls) {
    if (*con_cls) return MHD_YES;
    const char *i = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Index");
    int k = i ? atoi(i) : -1;
    if (k < 0 || k >= N_CT || conns[k]) return MHD_NO;
    conns[k] = c;
    n_conns++;
    *con_cls = c;
    return MHD_YES; /* the body never comes: the daemon is not run again */
}

static enum MHD_Result on_part_probe(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                     const char *content_type, const char *transfer_encoding, const char *data,
                                     uint64_t off, size_t size) {
    return MHD_YES;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 16) || getsockname(ls, (struct sockaddr *)&sa, &sl)) {
        perror("fuzz_http_multipart: listen");
        exit(2);
    }
    daemon_ = MHD_start_daemon(0, 0, NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)ls,
                               MHD_OPTION_END);
    if (!daemon_) {
        fprintf(stderr, "fuzz_http_multipart: MHD_start_daemon failed\n");
        exit(2);
    }
    int cs[N_CT];
    for (int k = 0; k < N_CT; k++) {
        cs[k] = socket(AF_INET, SOCK_STREAM, 0);
        char req[512];
        int n = snprintf(req, sizeof req, "PUT /v1/adapters/x HTTP/1.1\r\nHost: x\r\nX-Index: %d\r\nContent-Type: %s\r\n"
                         "Content-Length: 1000000000\r\n\r\n", k, ctypes[k]);
        if (cs[k] < 0 || connect(cs[k], (struct sockaddr *)&sa, sizeof sa) || write(cs[k], req, (size_t)n) != n) {
            perror("fuzz_http_multipart: connect");
            exit(2);
        }
    }
    for (int round = 0; n_conns < N_CT && round < 10000; round++) {
        fd_set rs, ws, es;
        MHD_socket max = 0;
        FD_ZERO(&rs);
        FD_ZERO(&ws);
        FD_ZERO(&es);
        MHD_get_fdset(daemon_, &rs, &ws, &es, &max);
        struct timeval tv = {0, 10000};
        select(max + 1, &rs, &ws, &es, &tv);
        MHD_run_from_select(daemon_, &rs, &ws, &es);
    }
    if (n_conns < N_CT) {
        fprintf(stderr, "fuzz_http_multipart: only %d of %d connections came in\n", n_conns, N_CT);
        exit(2);
    }
    /* Which Content-Types MHD takes (it does not depend on the input): ours must be among them. */
    for (int k = 0; k < N_CT; k++) {
        for (int b = 0; b < 4; b++) {
            struct MHD_PostProcessor *pp = MHD_create_post_processor(conns[k], bufsizes[b], on_part_probe, NULL);
            no_pp[k][b] = pp == NULL;
            if (pp) MHD_destroy_post_processor(pp);
        }
        if (no_pp[k][3]) fprintf(stderr, "fuzz_http_multipart: no PostProcessor for '%s'\n", ctypes[k]);
    }
    if (no_pp[0][0] || no_pp[0][3] || no_pp[1][3]) {
        fprintf(stderr, "fuzz_http_multipart: MHD refuses the boundaries curl sends\n");
        exit(2);
    }
    return 0; /* the client sockets stay open (and the daemon stopped) for the whole run */
}

typedef struct state {
    sl__parts parts;
    int refused;
    sl__err e;
    size_t copied[2];
    char *out[2]; /* what upload.c would stage, per part */
    size_t cap[2];
} state;

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                               const char *content_type, const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size) {
    state *s = cls;
    FUZZ_CHECK(!s->refused); /* MHD_NO stops the PostProcessor */
    if (key) fuzz_touch(key, strlen(key) + 1); /* NULL for a part without a name (MHD does that) */
    if (filename) fuzz_touch(filename, strlen(filename) + 1);
    if (content_type) fuzz_touch(content_type, strlen(content_type) + 1);
    if (transfer_encoding) fuzz_touch(transfer_encoding, strlen(transfer_encoding) + 1);
    if (size) fuzz_touch(data, size);
    uint64_t before[2] = {s->parts.bytes[0], s->parts.bytes[1]};
    int part = sl__parts_piece(&s->parts, key, transfer_encoding, off, size, &s->e);
    if (part < 0) {
        FUZZ_CHECK(s->e.status == 400 || s->e.status == 413);
        FUZZ_CHECK_ERR(s->e.msg, sizeof s->e.msg);
        FUZZ_CHECK(s->e.msg[0] != 0);
        s->refused = 1;
        return MHD_NO;
    }
    FUZZ_CHECK(part == SL__PART_CONFIG || part == SL__PART_WEIGHTS);
    FUZZ_CHECK(s->parts.bytes[part] == before[part] + size && s->parts.bytes[!part] == before[!part]);
    FUZZ_CHECK(s->parts.bytes[SL__PART_CONFIG] <= SL__CONFIG_MAX);
    FUZZ_CHECK(off + size == s->parts.next && s->parts.cur == part);
    if (s->copied[part] + size > s->cap[part]) {
        size_t cap = s->cap[part] ? s->cap[part] : 256;
        while (cap < s->copied[part] + size) cap *= 2;
        char *p = realloc(s->out[part], cap);
        if (!p) abort();
        s->out[part] = p;
        s->cap[part] = cap;
    }
    if (size) memcpy(s->out[part] + s->copied[part], data, size);
    s->copied[part] += size;
    return MHD_YES;
}

/* Feeds BODY to a PostProcessor on connection C in pseudo-random pieces; *ok: MHD accepted every
 * piece; returns whether it found the closing boundary (MHD_destroy_post_processor). */
static int feed(struct MHD_Connection *c, size_t bufsize, uint32_t rng, const uint8_t *body, size_t size, state *s,
                int *ok) {
    memset(s, 0, sizeof *s);
    sl__parts_init(&s->parts);
    struct MHD_PostProcessor *pp = MHD_create_post_processor(c, bufsize, on_part, s);
    if (!pp) return -1;
    *ok = 1;
    for (size_t at = 0; at < size && *ok;) {
        rng = rng * 1103515245u + 12345u;
        size_t n = 1 + (rng >> 8) % 700;
        if (n > size - at) n = size - at;
        char *piece = fuzz_dup(body + at, n); /* exact size: MHD reading past it is caught */
        *ok = MHD_post_process(pp, piece, n) == MHD_YES;
        free(piece);
        at += n;
    }
    return MHD_destroy_post_processor(pp) == MHD_YES;
}

static void append(char **b, size_t *n, const void *p, size_t k) {
    char *q = realloc(*b, *n + k + 1);
    if (!q) abort();
    if (k) memcpy(q + *n, p, k);
    *b = q;
    *n += k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    int ct = data[0] % N_CT;
    uint32_t rng = 0x9e3779b9u * (data[1] + 1u);
    size_t bufsize = bufsizes[data[2] & 3];
    int structured = data[2] & 0x80;
    data += 3;
    size -= 3;
    state s;
    int ok = 0;
    if (structured) {
        /* Round trip: the rest is a config and weights (split at the first byte's share of the
         * length) framed as curl -F frames them with the boundary of connection 0; the parts
         * must come out exactly as they went in. Skipped if the data holds the boundary. */
        if (size < 1) return 0;
        size_t clen = (size - 1) * data[0] / 255;
        const uint8_t *cfg = data + 1, *w = data + 1 + clen;
        size_t wlen = size - 1 - clen;
        if (!clen || !wlen || memmem(data + 1, size - 1, "--b0undary", 10)) return 0;
        static const char h1[] = "--b0undary\r\nContent-Disposition: form-data; name=\"config\"; filename=\"c.json\"\r\n"
                                 "Content-Type: application/octet-stream\r\n\r\n";
        static const char h2[] = "\r\n--b0undary\r\nContent-Disposition: form-data; name=\"weights\"; filename=\"w\"\r\n"
                                 "Content-Type: application/octet-stream\r\n\r\n";
        static const char tail[] = "\r\n--b0undary--\r\n";
        char *body = NULL;
        size_t n = 0;
        append(&body, &n, h1, sizeof h1 - 1);
        append(&body, &n, cfg, clen);
        append(&body, &n, h2, sizeof h2 - 1);
        append(&body, &n, w, wlen);
        append(&body, &n, tail, sizeof tail - 1);
        int closed = feed(conns[0], bufsize, rng, (const uint8_t *)body, n, &s, &ok);
        free(body);
        sl__err e;
        FUZZ_CHECK(closed == 1 && ok && !s.refused);
        FUZZ_CHECK(sl__parts_end(&s.parts, &e) == 0);
        FUZZ_CHECK(s.copied[0] == clen && s.copied[1] == wlen);
        FUZZ_CHECK(!clen || !memcmp(s.out[0], cfg, clen));
        FUZZ_CHECK(!wlen || !memcmp(s.out[1], w, wlen));
        free(s.out[0]);
        free(s.out[1]);
        return 0;
    }
    int closed = feed(conns[ct], bufsize, rng, data, size, &s, &ok);
    FUZZ_CHECK((closed < 0) == no_pp[ct][data[-1] & 3]); /* as for any other body */
    if (closed < 0) return 0;
    if (!s.refused && ok && closed) {
        sl__err e;
        int rc = sl__parts_end(&s.parts, &e);
        if (rc == 0) FUZZ_CHECK(s.parts.seen[0] && s.parts.seen[1]);
        else FUZZ_CHECK(e.status == 400 && !strcmp(e.code, "missing_part"));
    }
    /* Everything accepted was copied out; a refused piece may have been counted first. */
    if (!s.refused) FUZZ_CHECK(s.copied[0] == s.parts.bytes[0] && s.copied[1] == s.parts.bytes[1]);
    else FUZZ_CHECK(s.copied[0] <= s.parts.bytes[0] && s.copied[1] <= s.parts.bytes[1]);
    fuzz_touch(s.out[0], s.copied[0]);
    fuzz_touch(s.out[1], s.copied[1]);
    free(s.out[0]);
    free(s.out[1]);
    return 0;
}
