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

#endif
