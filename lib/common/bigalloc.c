/* bigalloc.c — large zeroed buffers on transparent huge pages (bigalloc.h). */
#include "bigalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { HUGE = 2 << 20, PAGE = 4096 };

/* The mapped length of a buffer of BYTES (>= HUGE): whole 4 KB pages. The huge pages cover
 * its 2 MB-aligned part; the tail past the last 2 MB boundary stays on 4 KB pages, so a 6.6 MB
 * adapter maps 6.6 MB, not 8. */
static size_t mapped_len(size_t bytes) { return (bytes + PAGE - 1) / PAGE * PAGE; }

/* Below 2 MB a huge page cannot help: plain calloc. */
void *sl_big_alloc(size_t bytes) {
    if (bytes < HUGE) {
        void *p = NULL;
        if (posix_memalign(&p, 64, bytes ? bytes : 1) != 0) return NULL;
        return memset(p, 0, bytes ? bytes : 1);
    }
    size_t len = mapped_len(bytes);
    if (len < bytes || len + HUGE < len) return NULL;
    /* Map 2 MB more, then trim both ends to a span of LEN that starts on a 2 MB boundary. */
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
    munmap(p, mapped_len(bytes));
}
