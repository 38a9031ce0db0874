#include "error.h"

#include <stdarg.h>
#include <stdio.h>

const char *sl_strerror(int code) {
    switch (code) {
    case SL_OK: return "success";
    case SL_EINVAL: return "invalid argument";
    case SL_ENOMEM: return "out of memory";
    case SL_EIO: return "i/o error";
    case SL_EFORMAT: return "malformed data";
    case SL_ENOTSUP: return "not supported";
    case SL_ENOENT: return "not found";
    case SL_ERANGE: return "value out of range";
    case SL_EBUSY: return "resource busy";
    case SL_EEXIST: return "already exists";
    case SL_ENOSPC: return "no space left on device";
    case SL_ETOOBIG: return "too large";
    case SL_ECANCELED: return "canceled";
    default: return "unknown error";
    }
}

int sl__errf(char *err, size_t errlen, int code, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}
