/* bigalloc.c — large zeroed buffers on transparent huge pages (bigalloc.h). */
#include "bigalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { HUGE = 2 << 20 };

/* Below 2 MB a huge page cannot help: plain calloc. */
void *sl_big_alloc(size_t bytes) {
    if (bytes < HUGE) {
        void *p = NULL;
        if (posix_memalign(&p, 64, bytes ? bytes : 1) != 0) return NULL;
        return memset(p, 0, bytes ? bytes : 1);
    }
    size_t len = (bytes + HUGE - 1) / HUGE * HUGE;
    if (len < bytes || len + HUGE < len) return NULL;
    /* Map one huge page more, then trim both ends to a 2 MB-aligned span of LEN. */
    char *raw = mmap(NULL, len + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    char *p = (char *)(((uintptr_t)raw + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
    if (p > raw) munmap(raw, (size_t)(p - raw));
    if (raw + len + HUGE > p + len) munmap(p + len, (size_t)(raw + len + HUGE - (p + len)));
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE); /* a request: without THP the span stays on 4 KB pages */
#endif
    return p;
}

void sl_big_free(void *p, size_t bytes) {
    if (!p) return;
    if (bytes < HUGE) {
        free(p);
        return;
    }
    munmap(p, (bytes + HUGE - 1) / HUGE * HUGE);
}
