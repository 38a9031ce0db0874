/* error.h — error codes and detail text shared by every symlora module.
 *
 * Convention (as libuv): functions return 0 on success or a negative SL_E* code.
 * Functions that can fail for a reason worth telling a human also take an optional
 * `char *err, size_t errlen` buffer (may be NULL/0) that receives one line of detail,
 * naming the file or field and the rule that was broken. */
#ifndef SL_ERROR_H
#define SL_ERROR_H

#include <stddef.h>

enum sl_errno {
    SL_OK = 0,
    SL_EINVAL = -1,    /* invalid argument or request */
    SL_ENOMEM = -2,    /* allocation failed */
    SL_EIO = -3,       /* read/write/mmap failed */
    SL_EFORMAT = -4,   /* malformed file or data */
    SL_ENOTSUP = -5,   /* valid but unsupported (architecture, dtype, component) */
    SL_ENOENT = -6,    /* no such file, tensor, adapter */
    SL_ERANGE = -7,    /* value out of allowed bounds */
    SL_EBUSY = -8,     /* resource exhausted for now (KV blocks, queue) */
    SL_EEXIST = -9,    /* already exists */
    SL_ENOSPC = -10,   /* no space left on device */
    SL_ETOOBIG = -11,  /* input larger than a configured limit */
    SL_ECANCELED = -12 /* operation cancelled */
};

/* Static description of an SL_E* code ("unknown error" for anything else). */
const char *sl_strerror(int code);

/* Internal: printf into err (if err && errlen) and return code. */
int sl__errf(char *err, size_t errlen, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
