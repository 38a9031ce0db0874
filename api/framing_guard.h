/* framing_guard.h — keeps libmicrohttpd 0.9.75 from answering a request itself, twice.
 *
 * Debian 12's libmicrohttpd (0.9.75) checks a request's Content-Length right after its header
 * block (parse_connection_headers) and, when the value is not a number or overflows, queues a
 * 400 / 413 of its own and builds its header block; the state machine then overwrites that
 * connection's state and builds the header block a second time, so the client gets the status
 * line and headers twice, and our handler never sees the request. A Cookie header too large to
 * copy into the connection's memory takes the same path (431 twice).
 *
 * Every header lookup MHD makes goes through its exported MHD_lookup_connection_value_n, which
 * it calls through its PLT (Debian builds it without -Bsymbolic). symlorad defines a function of
 * that name (framing_guard.c), which the dynamic linker binds in MHD's place; it calls MHD's own
 * (dlsym RTLD_NEXT) and then hides from every caller:
 *   - a Content-Length whose value sl__content_length_ok refuses: MHD then sees a request
 *     without a body and calls our handler, where check_framing (server.c) answers one 400
 *     "malformed Content-Length" and closes the connection;
 *   - Cookie: no route uses cookies, so MHD never copies or parses them.
 * MHD_get_connection_values_n (what check_framing reads) still lists every header as received.
 * Nothing else changes: other keys, and valid values, are MHD's answer as it is. */
#ifndef SL_FRAMING_GUARD_H
#define SL_FRAMING_GUARD_H

#include <stddef.h>
#include <stdint.h>

/* A Content-Length value as HTTP allows it (RFC 9110: 1*DIGIT) that fits in int64 (leading
 * zeros are fine). N bytes of V (no NUL needed). 1 and *out (when out is not NULL) set: valid;
 * 0: not. */
int sl__content_length_ok(const char *v, size_t n, int64_t *out);

/* 1 when MHD's own calls reach our MHD_lookup_connection_value_n (checked through
 * MHD_lookup_connection_value, which calls it the same way parse_connection_headers does),
 * 0 when they are bound inside the library (a libmicrohttpd linked with -Bsymbolic, or a
 * static one): then MHD answers a malformed Content-Length itself again. */
int sl__framing_guard_active(void);

/* The line structure of a request head (strict framing, issue 17), read where libmicrohttpd 0.9
 * leaves it: MHD has no option to refuse a bare LF or a folded line (obs-fold), and hands us
 * only the pieces it parsed, so we check that those pieces tile its read buffer exactly as a
 * head of CR LF lines would (framing_guard.c: how, and why that is no second parser). */
typedef enum sl__head {
    SL_HEAD_OK,
    SL_HEAD_UNKNOWN,   /* the buffer is not laid out as MHD 0.9.75 lays it out: nothing checked */
    SL_HEAD_FOLDED,    /* a line starts with SP or HTAB (obs-fold, RFC 9112 5.2), after *where */
    SL_HEAD_BAD_LINE,  /* the line *where names does not end in CR LF right after its value
                        * (a bare LF, or a NUL that hides the rest of the line) */
    SL_HEAD_BAD_END,   /* the last header line or the empty line ends in a bare LF */
} sl__head;

struct MHD_Connection;
/* C, METHOD and VERSION as MHD passes them to the access handler, on its first call (the head
 * is complete then). WHERE (WHERELEN bytes) gets the header's name (printable ASCII, cut),
 * "request line", or "" for a folded header (MHD lists it under a name glued from both lines). */
sl__head sl__head_check(struct MHD_Connection *c, const char *method, const char *version, char *where,
                        size_t wherelen);

/* KEY (N bytes) into DST (CAP > 1 bytes) for a message: bytes outside printable ASCII as '?',
 * cut to fit; "?" for an empty name. */
void sl__printable_name(char *dst, size_t cap, const char *key, size_t n);

#endif
