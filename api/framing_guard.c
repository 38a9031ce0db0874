/* framing_guard.c — our MHD_lookup_connection_value_n in front of libmicrohttpd's (why and what
 * it hides: framing_guard.h). */
#include "framing_guard.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
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
