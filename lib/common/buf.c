/* buf.c — see buf.h. */
#include "buf.h"

#include "error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sl_buf_reserve(sl_buf *b, size_t extra) {
    if (extra >= SIZE_MAX - b->len) return SL_ENOMEM;
    size_t need = b->len + extra + 1; /* +1 keeps room for the NUL terminator */
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) { cap = need; break; }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) return SL_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int sl_buf_put(sl_buf *b, const void *s, size_t n) {
    int rc = sl_buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

int sl_buf_printf(sl_buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return SL_EINVAL;
    if ((size_t)n < sizeof tmp) return sl_buf_put(b, tmp, (size_t)n);
    int rc = sl_buf_reserve(b, (size_t)n);
    if (rc) return rc;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void sl_buf_free(sl_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
