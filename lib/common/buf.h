/* buf.h — the growable byte buffer of the engine, the tokenizer and the API. sl_buf_put and
 * sl_buf_printf keep it NUL-terminated (p[len] == 0 once anything was put) and double it as it
 * grows. A zeroed sl_buf is empty and valid. */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stddef.h>

typedef struct sl_buf {
    char *p;
    size_t len, cap;
} sl_buf;

/* Room for EXTRA more bytes plus the terminator; SL_ENOMEM on failure (B unchanged). */
int sl_buf_reserve(sl_buf *b, size_t extra);
int sl_buf_put(sl_buf *b, const void *s, size_t n);
int sl_buf_printf(sl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sl_buf_free(sl_buf *b);

#endif
