/* bigalloc.h — large zeroed buffers (the KV pool, adapter tensors) on
 * transparent huge pages where the kernel offers them.
 *
 * The engine reads these buffers at memory speed in scattered 4 KB pieces (KV blocks of 16
 * positions) or long streams (adapter matrices): on 4 KB pages every piece is a TLB miss and
 * a page walk. sl_big_alloc maps anonymous memory aligned to 2 MB and asks for huge pages
 * with madvise(MADV_HUGEPAGE), which a system whose THP mode is "madvise" (Debian's default)
 * grants only to such requests. Pages are backed when first written, as with calloc; where
 * THP is off the buffer is ordinary memory. The mapping is whole 4 KB pages: huge pages for
 * its 2 MB-aligned part, 4 KB ones for the tail. */
#ifndef SL_BIGALLOC_H
#define SL_BIGALLOC_H

#include <stddef.h>

/* BYTES zeroed bytes, 64-byte aligned (2 MB for sizes of 2 MB and more); NULL when out of memory. */
void *sl_big_alloc(size_t bytes);
/* Frees P of BYTES (the size given to sl_big_alloc); P may be NULL. */
void sl_big_free(void *p, size_t bytes);

/* One demand load in every 4 KB of [P, P + BYTES) and one of its last byte: the page walks
 * that software prefetches of those bytes need first. Where a VM's host maps its memory in
 * 4 KB pages (huge pages in the guest then still take a TLB entry per 4 KB), a prefetch into
 * a page the TLB does not hold is dropped: on the AMD Zen 5 VMs of issue 13, a prefetched
 * 256 KB span read in 20 us, and in 6 us with its pages touched first (bench_engine's page
 * probe, tlbcold_read_us_*, measures the machine at hand). The loads read into nothing: no
 * result changes. */
static inline void sl_touch_pages(const void *p, size_t bytes) {
    if (!p || !bytes) return;
    const volatile unsigned char *c = p;
    for (size_t o = 0; o < bytes; o += (size_t)4 << 10) (void)c[o];
    (void)c[bytes - 1];
}

/* Whether a software prefetch with the L1 hint (T0) walks the page tables of a page the TLB
 * does not hold, so that the touches above can be left out where the prefetches use that hint
 * (and the GEMM's tiles of one or two rows prefetch their next panels with it: gemm_any):
 * 1 or 0, measured once per process (about 15 ms: 64 KB spans whose lines were flushed and
 * whose translations were evicted, read after a T0 prefetch of their lines or after nothing).
 * The Intel Xeon VM of issue 13 walks with T0 (2 against 17 us for 256 KB; its T1 prefetches
 * do not), the AMD VMs before it dropped their prefetches. SL_PAGE_WALK=prefetch or =touch
 * forces the answer (tests run both). Either answer computes the same bits. */
int sl_prefetch_walks_pages(void);

#endif
