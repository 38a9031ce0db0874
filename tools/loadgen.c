/* loadgen.c — the HTTP load generator of `make bench` (issue 8, parts 5 and 6): a real client
 * process on loopback, one thread, non-blocking sockets multiplexed with poll(2), HTTP/1.1
 * keep-alive, chunked or length-delimited bodies, SSE `data:` lines parsed with jansson.
 *
 *   loadgen stream --addr HOST:PORT --concurrency C --models M1,M2,... [--requests R]
 *                  [--max-tokens T] [--prompt TEXT (default "Once upon a time") | --prompt-ids ID,ID,...]
 *                  [--label L]
 *       C streams, each sending R streaming completions back to back (request k of stream s
 *       uses model (s + k*C) mod len(models)); every request has stream: true, ignore_eos,
 *       temperature 0 and stream_options.include_usage (--prompt-ids: the prompt is that array of
 *       token ids, sent as is: no BOS added), so the token count is the server's own
 *       usage.completion_tokens, read from the stream. Prints one JSON object:
 *         tok_s         completion tokens of all requests / wall time (first send to last byte)
 *         steady_tok_s  token events per second in the window where every stream of the first
 *                       wave had its first token and none of the last wave had finished
 *                       (the decode-only rate at full concurrency; null if the window is empty)
 *         ttft_*_ms     send of the request (connect included when a new connection is opened)
 *                       -> arrival of the first SSE event carrying text
 *         itl_*_ms      gaps between consecutive text events of one request (events arriving in
 *                       one read() share a timestamp, so coalesced tokens show up as 0 gaps)
 *         tpot_p50_ms   per request (last event - first event) / (tokens - 1), median
 *         events/tokens text events vs usage tokens (equal when every token is its own event)
 *   loadgen put --addr A --name NAME --dir DIR
 *       PUT /v1/adapters/NAME, multipart parts config (DIR/adapter_config.json) and weights
 *       (DIR/adapter_model.safetensors); prints {"status", "ms", "bytes"}.
 *   loadgen upload --addr A --prefix P --dir DIR --count N
 *       uploads DIR/000 .. DIR/<N-1> as P000 .. (sequentially); prints totals.
 *   loadgen swap --addr A --name NAME --dir DIR --count N [--adapters K] [--prompt TEXT]
 *       N times: PUT a new version of NAME (its files taken from DIR/<i mod K>, so each version
 *       really differs from the one before), and as soon as the 200/201 is in, a streaming
 *       completion with model NAME (max_tokens 1). Measures start of the PUT (before connect)
 *       -> first text event of that completion. Prints p50/p99 of that and of its two parts, and
 *       the TTFT of the same completion sent again right after (no swap in between).
 *   loadgen cold --addr A --prefix P --count N [--start S] [--drop-cache DIR] [--prompt TEXT]
 *       for i in S .. S+N-1: a completion (max_tokens 1) with adapter P<i> (meant to be evicted:
 *       run the daemon with a tiny --adapter-cache-bytes), then the same adapter again (now
 *       resident): TTFT of both, so the cold cost is the difference. --drop-cache DIR first
 *       calls posix_fadvise(DONTNEED) on every file below DIR (the store), so the load reads the
 *       disk instead of the page cache.
 *
 * All times are CLOCK_MONOTONIC in this process. Exit status 1 when any request failed. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PROMPT "Once upon a time"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* ------------------------------------------------------------------ buffers */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void buf_reserve(buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) die("out of memory");
    b->p = p;
    b->cap = cap;
}

static void buf_put(buf *b, const void *s, size_t n) {
    buf_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void buf_printf(buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void buf_consume(buf *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->p, b->p + n, b->len - n);
        b->len -= n;
    }
    if (b->p) b->p[b->len] = 0;
}

typedef struct dvec {
    double *v;
    size_t n, cap;
} dvec;

static void dvec_push(dvec *d, double x) {
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 256;
        d->v = realloc(d->v, d->cap * sizeof *d->v);
        if (!d->v) die("out of memory");
    }
    d->v[d->n++] = x;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Percentile by nearest rank on a sorted copy; NAN when empty. */
static double pct(const dvec *d, double p) {
    if (!d->n) return NAN;
    double *s = malloc(d->n * sizeof *s);
    if (!s) die("out of memory");
    memcpy(s, d->v, d->n * sizeof *s);
    qsort(s, d->n, sizeof *s, cmp_double);
    size_t k = (size_t)ceil(p / 100.0 * (double)d->n);
    if (k < 1) k = 1;
    double r = s[k - 1];
    free(s);
    return r;
}

static void json_num(buf *o, const char *key, double v, int first) {
    if (isnan(v) || isinf(v)) buf_printf(o, "%s\"%s\": null", first ? "" : ", ", key);
    else buf_printf(o, "%s\"%s\": %.4f", first ? "" : ", ", key, v);
}

/* ------------------------------------------------------------------ files */

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) die("%s: %s", path, strerror(errno));
    buf b = {0};
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) buf_put(&b, tmp, n);
    if (ferror(f)) die("%s: read error", path);
    fclose(f);
    if (!b.p) buf_reserve(&b, 1);
    *len = b.len;
    return b.p;
}

/* posix_fadvise(DONTNEED) on every regular file below DIR: drops their clean pages from the
 * page cache (no privilege needed), so the next read goes to the disk. Returns files dropped. */
static int drop_cache(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            n += drop_cache(path);
        } else if (S_ISREG(st.st_mode)) {
            int fd = open(path, O_RDONLY);
            if (fd < 0) continue;
            if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0) n++;
            close(fd);
        }
    }
    closedir(d);
    return n;
}

/* ------------------------------------------------------------------ HTTP client */

static struct sockaddr_in g_addr;
static char g_host[64];

static void set_addr(const char *addr) {
    const char *colon = strrchr(addr, ':');
    if (!colon) die("--addr %s: expected HOST:PORT", addr);
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof g_host) die("--addr %s: host too long", addr);
    memcpy(g_host, addr, hl);
    g_host[hl] = 0;
    memset(&g_addr, 0, sizeof g_addr);
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, !strcmp(g_host, "localhost") ? "127.0.0.1" : g_host, &g_addr.sin_addr) != 1)
        die("--addr %s: not an IPv4 address", addr);
}

enum { C_IDLE, C_CONNECTING, C_SENDING, C_HEADERS, C_BODY };
enum { CH_SIZE, CH_DATA, CH_DATA_CRLF, CH_TRAILER };

/* One request's outcome. */
typedef struct result {
    int status;          /* HTTP status; 0: transport failure */
    int failed;          /* transport or protocol failure, an SSE error event, or a short stream */
    double t_start;      /* request begun (before connect when a new connection was needed) */
    double t_headers;    /* status line and headers in */
    double t_first;      /* first SSE event with text (0: none) */
    double t_last;       /* last SSE event with text */
    double t_done;       /* body complete */
    int events;          /* SSE events carrying text */
    int tokens;          /* usage.completion_tokens (-1: none seen) */
    int prompt_tokens;   /* usage.prompt_tokens (-1: none seen) */
    int done_seen;       /* data: [DONE] */
    char err[256];
    buf body;            /* non-SSE replies: the body (first 64 KiB) */
} result;

typedef struct conn {
    int fd;
    int state;
    int stream;          /* which load stream this connection belongs to */
    int k;               /* requests done by that stream */
    const char *out;     /* request bytes (borrowed from the stream's builder) */
    size_t out_len, out_off;
    buf in;              /* raw bytes not yet parsed */
    buf sse;             /* decoded SSE body bytes not yet split into lines */
    int status, chunked, close_after, sse_mode;
    long long clen;      /* content-length; -1: none */
    long long body_seen; /* length-delimited bodies: bytes seen */
    int ch_state;
    long long ch_left;
    result *r;
    dvec *itl;           /* gaps between text events go here (may be NULL) */
} conn;

static void conn_close(conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

/* Closes C and frees its buffers. */
static void conn_free(conn *c) {
    conn_close(c);
    free(c->in.p);
    free(c->sse.p);
    c->in = c->sse = (buf){0};
}

static int conn_open(conn *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&g_addr, sizeof g_addr) == 0) {
        c->state = C_SENDING;
        return 0;
    }
    if (errno != EINPROGRESS) {
        conn_close(c);
        return -1;
    }
    c->state = C_CONNECTING;
    return 0;
}

static void fail(conn *c, const char *fmt, ...) {
    if (!c->r->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->r->err, sizeof c->r->err, fmt, ap);
        va_end(ap);
    }
    c->r->failed = 1;
}

/* Starts a request on C (reusing its connection when open). */
static void conn_start(conn *c, const char *req, size_t len, result *r, dvec *itl) {
    memset(r, 0, sizeof *r);
    r->tokens = r->prompt_tokens = -1;
    r->t_start = now_ms();
    c->r = r;
    c->itl = itl;
    c->out = req;
    c->out_len = len;
    c->out_off = 0;
    c->in.len = 0;
    c->sse.len = 0;
    c->status = 0;
    c->chunked = 0;
    c->close_after = 0;
    c->sse_mode = 0;
    c->clen = -1;
    c->body_seen = 0;
    c->ch_state = CH_SIZE;
    c->ch_left = 0;
    if (c->fd >= 0) {
        c->state = C_SENDING;
    } else if (conn_open(c) != 0) {
        fail(c, "connect: %s", strerror(errno));
        c->state = C_IDLE;
        r->t_done = now_ms();
    }
}

/* One `data:` payload of an SSE stream, arrived at time T. */
static void on_sse_data(conn *c, const char *s, size_t n, double t) {
    result *r = c->r;
    if (n == 6 && !memcmp(s, "[DONE]", 6)) {
        r->done_seen = 1;
        return;
    }
    json_error_t je;
    json_t *j = json_loadb(s, n, 0, &je);
    if (!j) {
        fail(c, "bad SSE JSON: %s", je.text);
        return;
    }
    json_t *e = json_object_get(j, "error");
    if (e) {
        json_t *m = json_object_get(e, "message");
        fail(c, "SSE error: %s", json_is_string(m) ? json_string_value(m) : "?");
    }
    json_t *ch = json_object_get(j, "choices");
    if (json_is_array(ch) && json_array_size(ch) > 0) {
        json_t *c0 = json_array_get(ch, 0);
        json_t *text = json_object_get(c0, "text");
        if (!text) {
            json_t *d = json_object_get(c0, "delta");
            if (d) text = json_object_get(d, "content");
        }
        if (json_is_string(text) && json_string_length(text) > 0) {
            if (!r->events) r->t_first = t;
            else if (c->itl) dvec_push(c->itl, t - r->t_last);
            r->t_last = t;
            r->events++;
        }
    }
    json_t *u = json_object_get(j, "usage");
    if (json_is_object(u)) {
        json_t *ct = json_object_get(u, "completion_tokens");
        if (json_is_integer(ct)) r->tokens = (int)json_integer_value(ct);
        json_t *pt = json_object_get(u, "prompt_tokens");
        if (json_is_integer(pt)) r->prompt_tokens = (int)json_integer_value(pt);
    }
    json_decref(j);
}

/* Decoded body bytes. */
static void on_body(conn *c, const char *s, size_t n, double t) {
    if (!c->sse_mode) {
        if (c->r->body.len < 65536) buf_put(&c->r->body, s, n);
        return;
    }
    buf_put(&c->sse, s, n);
    size_t off = 0;
    for (;;) {
        char *nl = memchr(c->sse.p + off, '\n', c->sse.len - off);
        if (!nl) break;
        size_t ll = (size_t)(nl - (c->sse.p + off));
        const char *line = c->sse.p + off;
        if (ll && line[ll - 1] == '\r') ll--;
        if (ll >= 5 && !memcmp(line, "data:", 5)) {
            size_t k = 5;
            if (k < ll && line[k] == ' ') k++;
            on_sse_data(c, line + k, ll - k, t);
        }
        off = (size_t)(nl - c->sse.p) + 1;
    }
    buf_consume(&c->sse, off);
}

/* Parses what is in c->in. Returns 1 when the response is complete. */
static int parse(conn *c, double t) {
    if (c->state == C_HEADERS) {
        char *end = strstr(c->in.p, "\r\n\r\n");
        if (!end) {
            if (c->in.len > 65536) fail(c, "response headers too long");
            return c->r->failed;
        }
        *end = 0;
        if (sscanf(c->in.p, "HTTP/1.%*d %d", &c->status) != 1) {
            fail(c, "bad status line");
            return 1;
        }
        c->r->status = c->status;
        c->r->t_headers = t;
        if (strncmp(c->in.p, "HTTP/1.1", 8)) c->close_after = 1;
        for (char *h = strstr(c->in.p, "\r\n"); h;) {
            h += 2;
            char *eol = strstr(h, "\r\n");
            size_t hl = eol ? (size_t)(eol - h) : strlen(h);
            char line[1024];
            if (hl >= sizeof line) hl = sizeof line - 1;
            memcpy(line, h, hl);
            line[hl] = 0;
            if (!strncasecmp(line, "Content-Length:", 15)) c->clen = atoll(line + 15);
            else if (!strncasecmp(line, "Transfer-Encoding:", 18) && strcasestr(line, "chunked")) c->chunked = 1;
            else if (!strncasecmp(line, "Connection:", 11) && strcasestr(line, "close")) c->close_after = 1;
            else if (!strncasecmp(line, "Content-Type:", 13) && strcasestr(line, "text/event-stream")) c->sse_mode = 1;
            h = eol;
        }
        buf_consume(&c->in, (size_t)(end - c->in.p) + 4);
        c->state = C_BODY;
        if (!c->chunked && c->clen < 0 && !c->close_after) {
            /* no length and not chunked: the body ends with the connection */
            c->close_after = 1;
        }
        if (!c->chunked && c->clen == 0) return 1;
    }
    if (c->state != C_BODY) return 0;
    if (!c->chunked) {
        if (c->in.len) {
            size_t n = c->in.len;
            if (c->clen >= 0 && (long long)n > c->clen - c->body_seen) n = (size_t)(c->clen - c->body_seen);
            on_body(c, c->in.p, n, t);
            c->body_seen += (long long)n;
            buf_consume(&c->in, c->in.len);
        }
        return c->clen >= 0 && c->body_seen >= c->clen;
    }
    for (;;) {
        if (c->ch_state == CH_SIZE) {
            char *eol = memchr(c->in.p, '\n', c->in.len);
            if (!eol) return 0;
            char *endp;
            c->ch_left = strtoll(c->in.p, &endp, 16);
            if (endp == c->in.p || c->ch_left < 0) {
                fail(c, "bad chunk size");
                return 1;
            }
            buf_consume(&c->in, (size_t)(eol - c->in.p) + 1);
            c->ch_state = c->ch_left ? CH_DATA : CH_TRAILER;
        } else if (c->ch_state == CH_DATA) {
            if (!c->in.len) return 0;
            size_t n = c->in.len < (size_t)c->ch_left ? c->in.len : (size_t)c->ch_left;
            on_body(c, c->in.p, n, t);
            buf_consume(&c->in, n);
            c->ch_left -= (long long)n;
            if (!c->ch_left) c->ch_state = CH_DATA_CRLF;
        } else if (c->ch_state == CH_DATA_CRLF) {
            char *eol = memchr(c->in.p, '\n', c->in.len);
            if (!eol) return 0;
            buf_consume(&c->in, (size_t)(eol - c->in.p) + 1);
            c->ch_state = CH_SIZE;
        } else { /* trailers until an empty line */
            char *eol = memchr(c->in.p, '\n', c->in.len);
            if (!eol) return 0;
            size_t ll = (size_t)(eol - c->in.p);
            int empty = ll == 0 || (ll == 1 && c->in.p[0] == '\r');
            buf_consume(&c->in, ll + 1);
            if (empty) return 1;
        }
    }
}

/* Finishes the request on C: checks it and leaves the connection open for the next one
 * unless the server said otherwise. */
static void conn_finish(conn *c, double t) {
    result *r = c->r;
    r->t_done = t;
    if (!r->failed) {
        if (r->status / 100 != 2) fail(c, "HTTP %d: %.200s", r->status, r->body.p ? r->body.p : "");
        else if (c->sse_mode && !r->done_seen) fail(c, "stream ended without [DONE]");
    }
    if (c->close_after || r->failed || c->in.len) conn_close(c);
    c->state = C_IDLE;
}

/* Drives C after poll said REVENTS. Returns 1 when its request is over. */
static int conn_io(conn *c, short revents) {
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            fail(c, "connect: %s", strerror(err));
            conn_close(c);
            c->r->t_done = now_ms();
            c->state = C_IDLE;
            return 1;
        }
        c->state = C_SENDING;
    }
    if (c->state == C_SENDING) {
        while (c->out_off < c->out_len) {
            ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
            if (n > 0) {
                c->out_off += (size_t)n;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            if (n < 0 && errno == EINTR) continue;
            /* The server may answer early (413) and close: read what it said. */
            c->state = C_HEADERS;
            break;
        }
        if (c->out_off == c->out_len) c->state = C_HEADERS;
    }
    if ((c->state == C_HEADERS || c->state == C_BODY) && (revents & (POLLIN | POLLHUP | POLLERR))) {
        for (;;) {
            buf_reserve(&c->in, 65536);
            ssize_t n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len - 1, 0);
            double t = now_ms();
            if (n > 0) {
                c->in.len += (size_t)n;
                c->in.p[c->in.len] = 0;
                if (parse(c, t)) {
                    conn_finish(c, t);
                    return 1;
                }
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
            if (n < 0 && errno == EINTR) continue;
            /* EOF or error */
            if (c->state == C_BODY && !c->chunked && c->clen < 0) {
                c->close_after = 1;
                conn_finish(c, t);
                return 1;
            }
            fail(c, n == 0 ? "connection closed early" : "recv: %s", strerror(errno));
            conn_finish(c, t);
            return 1;
        }
    }
    return 0;
}

static short conn_events(const conn *c) {
    if (c->state == C_CONNECTING || c->state == C_SENDING) return POLLOUT | POLLIN;
    if (c->state == C_HEADERS || c->state == C_BODY) return POLLIN;
    return 0;
}

/* ------------------------------------------------------------------ request builders */

/* --prompt-ids "0,17,..." as a JSON array of token ids (dies on anything else). */
static json_t *prompt_ids_json(const char *ids) {
    json_t *a = json_array();
    const char *s = ids;
    while (*s) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || errno || v < 0 || v > INT32_MAX || (*end && *end != ',')) die("--prompt-ids %s: expected ID,ID,...", ids);
        json_array_append_new(a, json_integer(v));
        s = *end ? end + 1 : end;
    }
    if (!json_array_size(a)) die("--prompt-ids is empty");
    return a;
}

/* PROMPT_IDS (comma-separated token ids) when not NULL, else the text PROMPT. */
static buf completion_request(const char *model, const char *prompt, const char *prompt_ids, int max_tokens) {
    json_t *j = json_object();
    json_object_set_new(j, "model", json_string(model));
    json_object_set_new(j, "prompt", prompt_ids ? prompt_ids_json(prompt_ids) : json_string(prompt));
    json_object_set_new(j, "max_tokens", json_integer(max_tokens));
    json_object_set_new(j, "temperature", json_real(0));
    json_object_set_new(j, "ignore_eos", json_true());
    json_object_set_new(j, "stream", json_true());
    json_t *so = json_object();
    json_object_set_new(so, "include_usage", json_true());
    json_object_set_new(j, "stream_options", so);
    char *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    buf b = {0};
    buf_printf(&b,
               "POST /v1/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
               "Accept: text/event-stream\r\nContent-Length: %zu\r\n\r\n%s",
               g_host, strlen(body), body);
    free(body);
    return b;
}

static buf put_request(const char *name, const char *dir) {
    char path[4096];
    size_t clen, wlen;
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    char *cfg = read_file(path, &clen);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    char *w = read_file(path, &wlen);
    const char *bd = "----loadgen7f3a9c2e51b84d06";
    buf body = {0};
    buf_printf(&body,
               "--%s\r\nContent-Disposition: form-data; name=\"config\"; filename=\"adapter_config.json\"\r\n"
               "Content-Type: application/json\r\n\r\n",
               bd);
    buf_put(&body, cfg, clen);
    buf_printf(&body,
               "\r\n--%s\r\nContent-Disposition: form-data; name=\"weights\"; filename=\"adapter_model.safetensors\"\r\n"
               "Content-Type: application/octet-stream\r\n\r\n",
               bd);
    buf_put(&body, w, wlen);
    buf_printf(&body, "\r\n--%s--\r\n", bd);
    free(cfg);
    free(w);
    buf b = {0};
    buf_printf(&b,
               "PUT /v1/adapters/%s HTTP/1.1\r\nHost: %s\r\nContent-Type: multipart/form-data; boundary=%s\r\n"
               "Content-Length: %zu\r\n\r\n",
               name, g_host, bd, body.len);
    buf_put(&b, body.p, body.len);
    free(body.p);
    return b;
}

/* Runs one request to completion on C (blocking, via poll). */
static void run_one(conn *c, const buf *req, result *r, dvec *itl) {
    conn_start(c, req->p, req->len, r, itl);
    while (c->state != C_IDLE) {
        struct pollfd p = {.fd = c->fd, .events = conn_events(c)};
        int n = poll(&p, 1, 600000);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            fail(c, "timeout");
            conn_close(c);
            c->state = C_IDLE;
            break;
        }
        if (conn_io(c, p.revents)) break;
    }
}

/* ------------------------------------------------------------------ options */

typedef struct opts {
    const char *addr, *models, *prompt, *prompt_ids, *label, *name, *dir, *prefix, *drop;
    int concurrency, requests, max_tokens, count, adapters, start;
} opts;

static void parse_opts(int argc, char **argv, opts *o) {
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) die("%s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--addr")) o->addr = v;
        else if (!strcmp(a, "--models")) o->models = v;
        else if (!strcmp(a, "--prompt")) o->prompt = v;
        else if (!strcmp(a, "--prompt-ids")) o->prompt_ids = v;
        else if (!strcmp(a, "--label")) o->label = v;
        else if (!strcmp(a, "--name")) o->name = v;
        else if (!strcmp(a, "--dir")) o->dir = v;
        else if (!strcmp(a, "--prefix")) o->prefix = v;
        else if (!strcmp(a, "--drop-cache")) o->drop = v;
        else if (!strcmp(a, "--concurrency")) o->concurrency = atoi(v);
        else if (!strcmp(a, "--requests")) o->requests = atoi(v);
        else if (!strcmp(a, "--max-tokens")) o->max_tokens = atoi(v);
        else if (!strcmp(a, "--count")) o->count = atoi(v);
        else if (!strcmp(a, "--adapters")) o->adapters = atoi(v);
        else if (!strcmp(a, "--start")) o->start = atoi(v);
        else die("unknown option %s", a);
    }
    if (!o->addr) die("--addr HOST:PORT is required");
    set_addr(o->addr);
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen stream --addr H:P --concurrency C --models M1,M2,.. [--requests R] [--max-tokens T]\n"
            "                      [--prompt TEXT | --prompt-ids ID,ID,..] [--label L]\n"
            "       loadgen put --addr H:P --name NAME --dir DIR\n"
            "       loadgen upload --addr H:P --prefix P --dir DIR --count N\n"
            "       loadgen swap --addr H:P --name NAME --dir DIR --count N [--adapters K]\n"
            "       loadgen cold --addr H:P --prefix P --count N [--start S] [--drop-cache STORE]\n");
    exit(2);
}

/* ------------------------------------------------------------------ stream */

static int cmd_stream(const opts *o) {
    int C = o->concurrency > 0 ? o->concurrency : 1;
    int R = o->requests > 0 ? o->requests : 1;
    int T = o->max_tokens > 0 ? o->max_tokens : 64;
    const char *prompt = o->prompt ? o->prompt : DEFAULT_PROMPT;
    if (!o->models) die("--models is required");
    /* models */
    char *ms = strdup(o->models);
    char **models = NULL;
    int nm = 0;
    for (char *sv, *tok = strtok_r(ms, ",", &sv); tok; tok = strtok_r(NULL, ",", &sv)) {
        models = realloc(models, (size_t)(nm + 1) * sizeof *models);
        models[nm++] = tok;
    }
    if (!nm) die("--models is empty");
    buf *reqs = calloc((size_t)nm, sizeof *reqs);
    for (int m = 0; m < nm; m++) reqs[m] = completion_request(models[m], prompt, o->prompt_ids, T);

    conn *cs = calloc((size_t)C, sizeof *cs);
    result *rs = calloc((size_t)C * (size_t)R, sizeof *rs);
    struct pollfd *pfd = calloc((size_t)C, sizeof *pfd);
    int *slot = calloc((size_t)C, sizeof *slot);
    dvec itl = {0};
    if (!cs || !rs || !pfd || !slot) die("out of memory");
    double t0 = now_ms();
    /* Starts stream S's next request; a request that fails at once (connect refused) is
     * counted and the next one tried. Returns 1 while the stream has a request in flight. */
#define ADVANCE(S)                                                                         \
    do {                                                                                   \
        conn *c_ = &cs[S];                                                                 \
        while (c_->k < R) {                                                                \
            int m_ = ((S) + c_->k * C) % nm;                                               \
            conn_start(c_, reqs[m_].p, reqs[m_].len, &rs[(size_t)(S) * R + c_->k], &itl); \
            if (c_->state != C_IDLE) break;                                                \
            c_->k++;                                                                       \
        }                                                                                  \
        if (c_->k >= R) {                                                                  \
            conn_close(c_);                                                                \
            active--;                                                                      \
        }                                                                                  \
    } while (0)
    int active = C;
    for (int s = 0; s < C; s++) {
        cs[s].fd = -1;
        cs[s].stream = s;
    }
    for (int s = 0; s < C; s++) ADVANCE(s);
    while (active > 0) {
        int np = 0;
        for (int s = 0; s < C; s++) {
            if (cs[s].k >= R || cs[s].state == C_IDLE) continue;
            pfd[np].fd = cs[s].fd;
            pfd[np].events = conn_events(&cs[s]);
            pfd[np].revents = 0;
            slot[np++] = s;
        }
        int n = poll(pfd, (nfds_t)np, 600000);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("poll: %s", strerror(errno));
        if (n == 0) die("no progress for 600 s");
        for (int i = 0; i < np; i++) {
            if (!pfd[i].revents) continue;
            int s = slot[i];
            if (!conn_io(&cs[s], pfd[i].revents)) continue;
            cs[s].k++;
            ADVANCE(s);
        }
    }
#undef ADVANCE

    /* aggregate */
    dvec ttft = {0}, tpot = {0};
    long long tokens = 0, events = 0;
    int failed = 0, short_streams = 0, prompt_tokens = -1;
    double first_wave_ready = 0, last_wave_first_done = INFINITY, t_end = t0;
    for (int s = 0; s < C; s++) {
        for (int k = 0; k < R; k++) {
            result *r = &rs[(size_t)s * R + k];
            if (r->failed) {
                if (failed < 5) fprintf(stderr, "loadgen: stream %d request %d: %s\n", s, k, r->err);
                failed++;
                continue;
            }
            if (r->t_done > t_end) t_end = r->t_done;
            if (r->prompt_tokens > prompt_tokens) prompt_tokens = r->prompt_tokens;
            int ntok = r->tokens >= 0 ? r->tokens : r->events;
            if (ntok < T) short_streams++;
            tokens += ntok;
            events += r->events;
            if (r->events) dvec_push(&ttft, r->t_first - r->t_start);
            if (ntok > 1 && r->events > 1) dvec_push(&tpot, (r->t_last - r->t_first) / (ntok - 1));
            if (k == 0 && r->t_first > first_wave_ready) first_wave_ready = r->t_first;
            if (k == R - 1 && r->t_last < last_wave_first_done) last_wave_first_done = r->t_last;
        }
    }
    /* steady window: token events between first_wave_ready and last_wave_first_done */
    double steady = NAN;
    if (R == 1 && last_wave_first_done > first_wave_ready + 1) {
        /* count events in the window: approximate each request's events as uniform between
         * its first and last event (exact counts would need per-event timestamps) */
        double win = last_wave_first_done - first_wave_ready, ev = 0;
        for (int s = 0; s < C; s++) {
            result *r = &rs[s];
            if (r->failed || r->events < 2) continue;
            double a = r->t_first > first_wave_ready ? r->t_first : first_wave_ready;
            double b = r->t_last < last_wave_first_done ? r->t_last : last_wave_first_done;
            if (b > a) ev += (double)(r->events - 1) * (b - a) / (r->t_last - r->t_first);
        }
        steady = ev / win * 1e3;
    }
    double wall = t_end - t0;
    buf out = {0};
    buf_printf(&out, "{\"label\": \"%s\", \"concurrency\": %d, \"adapters\": %d, \"requests\": %d", o->label ? o->label : "",
               C, nm, C * R);
    buf_printf(&out, ", \"prompt_tokens\": %d", prompt_tokens);
    buf_printf(&out, ", \"max_tokens\": %d, \"tokens\": %lld, \"events\": %lld, \"failed\": %d, \"short\": %d", T,
               tokens, events, failed, short_streams);
    json_num(&out, "wall_s", wall / 1e3, 0);
    json_num(&out, "tok_s", wall > 0 ? (double)tokens / wall * 1e3 : NAN, 0);
    json_num(&out, "steady_tok_s", steady, 0);
    json_num(&out, "ttft_p50_ms", pct(&ttft, 50), 0);
    json_num(&out, "ttft_p99_ms", pct(&ttft, 99), 0);
    json_num(&out, "itl_p50_ms", pct(&itl, 50), 0);
    json_num(&out, "itl_p99_ms", pct(&itl, 99), 0);
    json_num(&out, "tpot_p50_ms", pct(&tpot, 50), 0);
    buf_printf(&out, "}\n");
    fputs(out.p, stdout);
    fflush(stdout);
    free(out.p);
    for (int s = 0; s < C; s++) conn_free(&cs[s]);
    for (size_t i = 0; i < (size_t)C * (size_t)R; i++) free(rs[i].body.p);
    for (int m = 0; m < nm; m++) free(reqs[m].p);
    free(reqs);
    free(models);
    free(ms);
    free(cs);
    free(rs);
    free(pfd);
    free(slot);
    free(itl.v);
    free(ttft.v);
    free(tpot.v);
    return failed ? 1 : 0;
}

/* ------------------------------------------------------------------ put / upload */

static int cmd_put(const opts *o) {
    if (!o->name || !o->dir) die("put needs --name and --dir");
    buf req = put_request(o->name, o->dir);
    conn c = {.fd = -1};
    result r;
    run_one(&c, &req, &r, NULL);
    conn_free(&c);
    printf("{\"status\": %d, \"ms\": %.3f, \"bytes\": %zu}\n", r.status, r.t_done - r.t_start, req.len);
    if (r.failed) fprintf(stderr, "loadgen: PUT %s: %s\n", o->name, r.err);
    free(req.p);
    free(r.body.p);
    return r.failed ? 1 : 0;
}

static int cmd_upload(const opts *o) {
    if (!o->prefix || !o->dir || o->count <= 0) die("upload needs --prefix, --dir and --count");
    conn c = {.fd = -1};
    dvec ms = {0};
    double bytes = 0, t0 = now_ms();
    for (int i = 0; i < o->count; i++) {
        char name[128], dir[4096];
        snprintf(name, sizeof name, "%s%03d", o->prefix, i);
        snprintf(dir, sizeof dir, "%s/%03d", o->dir, i);
        buf req = put_request(name, dir);
        result r;
        run_one(&c, &req, &r, NULL);
        if (r.failed) die("PUT %s: %s", name, r.err);
        dvec_push(&ms, r.t_done - r.t_start);
        bytes += (double)req.len;
        free(req.p);
        free(r.body.p);
    }
    conn_free(&c);
    double wall = now_ms() - t0;
    printf("{\"uploads\": %d, \"bytes\": %.0f, \"wall_s\": %.3f, \"put_p50_ms\": %.3f, \"put_p99_ms\": %.3f}\n",
           o->count, bytes, wall / 1e3, pct(&ms, 50), pct(&ms, 99));
    free(ms.v);
    return 0;
}

/* ------------------------------------------------------------------ swap */

static int cmd_swap(const opts *o) {
    if (!o->name || !o->dir || o->count <= 0) die("swap needs --name, --dir and --count");
    int K = o->adapters > 0 ? o->adapters : 64;
    buf comp = completion_request(o->name, o->prompt ? o->prompt : DEFAULT_PROMPT, NULL, 1);
    conn c = {.fd = -1};
    dvec total = {0}, put = {0}, ttft = {0}, again = {0};
    int failed = 0, created = 0, replaced = 0;
    for (int i = 0; i < o->count; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%03d", o->dir, i % K);
        buf req = put_request(o->name, dir); /* built before the clock starts: the files are read */
        result rp, rc;
        run_one(&c, &req, &rp, NULL);
        free(req.p);
        free(rp.body.p);
        if (rp.failed) {
            fprintf(stderr, "loadgen: swap %d: PUT: %s\n", i, rp.err);
            failed++;
            continue;
        }
        if (rp.status == 201) created++;
        else replaced++;
        run_one(&c, &comp, &rc, NULL);
        free(rc.body.p);
        if (rc.failed || !rc.events) {
            fprintf(stderr, "loadgen: swap %d: completion: %s\n", i, rc.failed ? rc.err : "no token");
            failed++;
            continue;
        }
        dvec_push(&total, rc.t_first - rp.t_start);
        dvec_push(&put, rp.t_done - rp.t_start);
        dvec_push(&ttft, rc.t_first - rc.t_start);
        /* The same request once more, the adapter now in use: the TTFT without the swap. */
        result r2;
        run_one(&c, &comp, &r2, NULL);
        free(r2.body.p);
        if (!r2.failed && r2.events) dvec_push(&again, r2.t_first - r2.t_start);
    }
    conn_free(&c);
    buf out = {0};
    buf_printf(&out, "{\"swaps\": %zu, \"failed\": %d, \"created\": %d, \"replaced\": %d", total.n, failed, created, replaced);
    json_num(&out, "swap_put_to_serve_p50_ms", pct(&total, 50), 0);
    json_num(&out, "swap_put_to_serve_p99_ms", pct(&total, 99), 0);
    json_num(&out, "swap_put_p50_ms", pct(&put, 50), 0);
    json_num(&out, "swap_put_p99_ms", pct(&put, 99), 0);
    json_num(&out, "swap_ttft_after_put_p50_ms", pct(&ttft, 50), 0);
    json_num(&out, "swap_ttft_after_put_p99_ms", pct(&ttft, 99), 0);
    json_num(&out, "swap_ttft_again_p50_ms", pct(&again, 50), 0);
    buf_printf(&out, "}\n");
    fputs(out.p, stdout);
    free(out.p);
    free(comp.p);
    free(total.v);
    free(put.v);
    free(ttft.v);
    free(again.v);
    return failed ? 1 : 0;
}

/* ------------------------------------------------------------------ cold */

static int cmd_cold(const opts *o) {
    if (!o->prefix || o->count <= 0) die("cold needs --prefix and --count");
    const char *prompt = o->prompt ? o->prompt : DEFAULT_PROMPT;
    conn c = {.fd = -1};
    dvec cold = {0}, warm = {0}, extra = {0};
    int failed = 0, dropped = 0;
    for (int i = 0; i < o->count; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s%03d", o->prefix, o->start + i);
        buf req = completion_request(name, prompt, NULL, 1);
        if (o->drop) dropped += drop_cache(o->drop);
        result a, b;
        run_one(&c, &req, &a, NULL);
        run_one(&c, &req, &b, NULL);
        free(req.p);
        free(a.body.p);
        free(b.body.p);
        if (a.failed || b.failed || !a.events || !b.events) {
            fprintf(stderr, "loadgen: cold %s: %s\n", name, a.failed ? a.err : b.failed ? b.err : "no token");
            failed++;
            continue;
        }
        dvec_push(&cold, a.t_first - a.t_start);
        dvec_push(&warm, b.t_first - b.t_start);
        dvec_push(&extra, (a.t_first - a.t_start) - (b.t_first - b.t_start));
    }
    conn_free(&c);
    buf out = {0};
    buf_printf(&out, "{\"loads\": %zu, \"failed\": %d, \"files_dropped\": %d", cold.n, failed, dropped);
    json_num(&out, "cold_ttft_p50_ms", pct(&cold, 50), 0);
    json_num(&out, "cold_ttft_p99_ms", pct(&cold, 99), 0);
    json_num(&out, "warm_ttft_p50_ms", pct(&warm, 50), 0);
    json_num(&out, "warm_ttft_p99_ms", pct(&warm, 99), 0);
    json_num(&out, "cold_extra_p50_ms", pct(&extra, 50), 0);
    buf_printf(&out, "}\n");
    fputs(out.p, stdout);
    free(out.p);
    free(cold.v);
    free(warm.v);
    free(extra.v);
    return failed ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    signal(SIGPIPE, SIG_IGN);
    opts o = {0};
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) usage();
    parse_opts(argc, argv, &o);
    if (!strcmp(cmd, "stream")) return cmd_stream(&o);
    if (!strcmp(cmd, "put")) return cmd_put(&o);
    if (!strcmp(cmd, "upload")) return cmd_upload(&o);
    if (!strcmp(cmd, "swap")) return cmd_swap(&o);
    if (!strcmp(cmd, "cold")) return cmd_cold(&o);
    usage();
    return 2;
}
