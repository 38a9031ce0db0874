/* framing_guard.c — our MHD_lookup_connection_value_n in front of libmicrohttpd's (why and what
 * it hides: framing_guard.h). */
#include "framing_guard.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

int sl__content_length_ok(const char *v, size_t n, int64_t *out) {
    if (!v || !n) return 0;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)v[i] - (unsigned)'0';
        if (d > 9) return 0;
        if (x > ((uint64_t)INT64_MAX - d) / 10) return 0; /* x * 10 + d > INT64_MAX */
        x = x * 10 + d;
    }
    if (out) *out = (int64_t)x;
    return 1;
}

typedef enum MHD_Result (*lookup_fn)(struct MHD_Connection *, enum MHD_ValueKind, const char *, size_t,
                                     const char **, size_t *);

static lookup_fn real_lookup;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static atomic_int probed;
static const char probe_key[] = "X-Symlora-Framing-Guard-Probe";

static void find_real(void) {
    real_lookup = (lookup_fn)dlsym(RTLD_NEXT, "MHD_lookup_connection_value_n");
    if (!real_lookup) { /* the executable links libmicrohttpd: cannot happen short of a broken install */
        fprintf(stderr, "symlorad: libmicrohttpd's MHD_lookup_connection_value_n not found: %s\n", dlerror());
        abort();
    }
}

static int named(const char *key, size_t key_size, const char *name, size_t name_size) {
    return key && key_size == name_size && !strncasecmp(key, name, name_size);
}

#define NAMED(key, n, lit) named(key, n, lit, sizeof lit - 1)

/* Interposes libmicrohttpd's function of the same name (framing_guard.h); the same contract:
 * MHD_NO and *value_ptr, *value_size_ptr untouched when "not found". Called on the loop thread
 * (MHD's callbacks and state machine) and from upload workers (the PostProcessor). */
enum MHD_Result MHD_lookup_connection_value_n(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                                              const char *key, size_t key_size, const char **value_ptr,
                                              size_t *value_size_ptr) {
    if (!connection && key == probe_key) atomic_store(&probed, 1);
    pthread_once(&real_once, find_real);
    if (kind == MHD_HEADER_KIND && NAMED(key, key_size, MHD_HTTP_HEADER_COOKIE)) return MHD_NO;
    const char *v = NULL;
    size_t n = 0;
    enum MHD_Result r = real_lookup(connection, kind, key, key_size, &v, &n);
    if (r != MHD_YES) return r;
    if (kind == MHD_HEADER_KIND && NAMED(key, key_size, MHD_HTTP_HEADER_CONTENT_LENGTH) && !sl__content_length_ok(v, n, NULL))
        return MHD_NO; /* check_framing answers it */
    if (value_ptr) *value_ptr = v;
    if (value_size_ptr) *value_size_ptr = n;
    return r;
}

int sl__framing_guard_active(void) {
    atomic_store(&probed, 0);
    /* MHD's MHD_lookup_connection_value calls MHD_lookup_connection_value_n through its PLT, as
     * parse_connection_headers does: it reaches ours only if the interposition holds. */
    (void)MHD_lookup_connection_value(NULL, MHD_HEADER_KIND, probe_key);
    return atomic_load(&probed);
}

void sl__printable_name(char *dst, size_t cap, const char *key, size_t n) {
    size_t i = 0;
    for (; i < n && i < cap - 1; i++) {
        unsigned char ch = (unsigned char)key[i];
        dst[i] = ch > 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    dst[i] = 0;
    if (!i) snprintf(dst, cap, "?");
}

/* The request head as libmicrohttpd 0.9.75 leaves it (connection.c): MHD reads the head into the
 * connection's read buffer, which grows in place (it is the last block taken from the front of
 * the connection's pool), and splits it where it stands. get_next_header_line replaces a line's
 * CR LF by two NULs, a bare LF by one; process_header_line replaces the colon by a NUL and skips
 * SP/HTAB after it; the header list points at each name and value in the buffer, and value_size
 * is strlen (up to the first NUL). The head starts at the method, the request line ends with the
 * version ("HTTP/1.x": MHD accepts no other 8 bytes there), and
 * MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE is its length up to and including the LF of the empty
 * line. A line starting with SP or HTAB (obs-fold) is glued onto the previous header's NAME
 * (process_broken_line: "X-A: a\r\n b" is listed as "X-Ab: a", the name copied to a new block);
 * the continuation line itself stays in the buffer.
 *
 * So a head of CR LF lines is exactly: method .. version, NUL NUL; per header: its name (where
 * the previous line ended), NUL (the colon), SP/HTAB*, its value, NUL NUL; then NUL NUL (the empty
 * line), ending at method + header size. A gap is bytes MHD's pieces do not account for: a bare
 * LF (one NUL where two belong), a NUL sent inside a line (for MHD the name or value ends there,
 * and the rest of the line is hidden from every reader), a folded line (the next line starts with
 * SP/HTAB). This reads only bytes of the head that MHD has already split, never the socket nor
 * past the head: no second parser, and it cannot read the head differently from MHD. */
typedef struct walk {
    uintptr_t start, end;   /* the head: [method, method + header size) */
    const char *pos;        /* where the next line must start */
    const char *prev;       /* the name of the line before pos (NULL: the request line) */
    size_t prev_n;
    sl__head verdict;
} walk;

static int at(const walk *w, const char *p) { /* the byte at P, -1 outside the head */
    uintptr_t u = (uintptr_t)p;
    return u >= w->start && u < w->end ? (unsigned char)*p : -1;
}

/* The line named NAME (N bytes; NULL: the request line) has its last byte before P: it must end
 * in CR LF (two NULs now) and the next line must not start with SP or HTAB. */
static void line_end(walk *w, const char *p, const char *name, size_t n) {
    w->prev = name;
    w->prev_n = n;
    if (at(w, p) != 0 || at(w, p + 1) != 0) w->verdict = SL_HEAD_BAD_LINE;
    else if (at(w, p + 2) == ' ' || at(w, p + 2) == '\t') w->verdict = SL_HEAD_FOLDED;
    else w->pos = p + 2;
}

static enum MHD_Result walk_one(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                const char *value, size_t value_size) {
    walk *w = cls;
    (void)kind;
    /* The name starts where the previous line ended; a NUL (the colon) and SP/HTAB up to the value. */
    int ok = key == w->pos && value && (uintptr_t)value > (uintptr_t)key + key_size &&
             at(w, key + key_size) == 0;
    for (const char *p = key + key_size + 1; ok && p < value; p++) ok = at(w, p) == ' ' || at(w, p) == '\t';
    if (!ok) {
        /* A name MHD copied elsewhere is one it glued a folded line onto (its own bytes in the
         * buffer are zeroed then): the line after this value starts with SP/HTAB. */
        const char *e = value ? value + value_size : NULL;
        if (e && key != w->pos && at(w, e) == 0 && at(w, e + 1) == 0 && (at(w, e + 2) == ' ' || at(w, e + 2) == '\t')) {
            w->verdict = SL_HEAD_FOLDED;
            w->prev = "";
            w->prev_n = 0;
        } else {
            w->verdict = SL_HEAD_BAD_LINE; /* the previous line hid something */
        }
        return MHD_NO;
    }
    line_end(w, value + value_size, key, key_size);
    return w->verdict == SL_HEAD_OK ? MHD_YES : MHD_NO;
}

sl__head sl__head_check(struct MHD_Connection *c, const char *method, const char *version, char *where,
                        size_t wherelen) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (wherelen) where[0] = 0;
    if (!ci || !method || !version) return SL_HEAD_UNKNOWN;
    walk w = {.start = (uintptr_t)method, .end = (uintptr_t)method + ci->header_size};
    if ((uintptr_t)version <= w.start || (uintptr_t)version + 8 > w.end || strnlen(version, 9) != 8)
        return SL_HEAD_UNKNOWN;
    line_end(&w, version + 8, NULL, 0);
    if (w.verdict == SL_HEAD_OK) MHD_get_connection_values_n(c, MHD_HEADER_KIND, walk_one, &w);
    /* The empty line, and nothing after it up to where MHD says the head ends. */
    if (w.verdict == SL_HEAD_OK && (at(&w, w.pos) != 0 || at(&w, w.pos + 1) != 0 || (uintptr_t)w.pos + 2 != w.end))
        w.verdict = SL_HEAD_BAD_END;
    if (w.verdict != SL_HEAD_OK && wherelen) {
        if (w.prev && !w.prev_n) where[0] = 0; /* a folded header's name (MHD's glued copy) */
        else if (w.prev) sl__printable_name(where, wherelen, w.prev, w.prev_n);
        else snprintf(where, wherelen, "request line");
    }
    return w.verdict;
}
