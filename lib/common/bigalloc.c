/* bigalloc.c — large zeroed buffers on transparent huge pages (bigalloc.h). */
#include "bigalloc.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

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

static int walks;
static pthread_once_t walks_once = PTHREAD_ONCE_INIT;

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double median5(double *v) { /* 5 values, sorted in place */
    for (int i = 1; i < 5; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[2];
}

static void probe_walks(void) {
    const char *e = getenv("SL_PAGE_WALK");
    if (e && !strcmp(e, "prefetch")) {
        walks = 1;
        return;
    }
    if (e && !strcmp(e, "touch")) {
        walks = 0;
        return;
    }
    walks = 0; /* touching is right everywhere, only slower */
#if defined(__x86_64__) || defined(__i386__)
    /* Each trial: a fresh 64 KB span, its lines flushed, one byte of every other 4 KB page of
     * the 64 MB buffer read (~16384 translations: more than any TLB holds on 4 KB pages), then the span
     * prefetched (way 1) or not (way 0), 20 us of waiting, and the span read. A machine whose
     * T0 prefetches are dropped on TLB-cold pages reads both ways alike. */
    enum { BUF = 64 << 20, SPAN = 64 << 10, TRIALS = 5 };
    unsigned char *buf = sl_big_alloc(BUF);
    if (!buf) return;
    memset(buf, 1, BUF);
    double t[2][TRIALS];
    volatile unsigned sink = 0;
    for (int trial = 0; trial < TRIALS; trial++)
        for (int way = 0; way < 2; way++) {
            size_t at = (size_t)(trial * 2 + way) * (4 << 20) + (1 << 20); /* 10 spans, 4 MB apart */
            unsigned char *span = buf + at;
            for (size_t o = 0; o < SPAN; o += 64) _mm_clflush(span + o);
            _mm_mfence();
            for (size_t o = 0; o < BUF; o += PAGE)
                if (o < at || o >= at + SPAN) sink += ((volatile unsigned char *)buf)[o];
            if (way)
                for (size_t o = 0; o < SPAN; o += 64) __builtin_prefetch(span + o, 0, 3);
            for (double t0 = seconds(); seconds() - t0 < 20e-6;) {
            }
            double t0 = seconds();
            for (size_t o = 0; o < SPAN; o += 64) sink += ((volatile unsigned char *)span)[o];
            t[way][trial] = seconds() - t0;
        }
    walks = median5(t[1]) < 0.5 * median5(t[0]);
    sl_big_free(buf, BUF);
#endif
}

int sl_prefetch_walks_pages(void) {
    pthread_once(&walks_once, probe_walks);
    return walks;
}
