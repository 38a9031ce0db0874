/* gemm.h — the base model's linear layers: Y = X Wᵀ with W packed once at load, in F32, BF16,
 * F16 or Q8_0.
 *
 * Packed layout: W (out, in) row-major becomes ceil(out/16) panels of 16 output rows, zero
 * rows past `out`. A panel is (in, 16) row-major — P[p][k][l] = W[16p + l][k] — in the
 * element type:
 *   F32   4 bytes, BF16 2 bytes (the top half of the F32, rounded to nearest even),
 *   F16   2 bytes (IEEE half, rounded to nearest even),
 *   Q8_0  blocks of SL_Q8_BLOCK (32) k: 16 F16 scales (one per row l: max |w| / 127 of the
 *         row's 32 weights) then 32 x 16 int8 (round(w / scale)), SL_Q8_BLOCK_BYTES (544)
 *         bytes per block — the GGUF Q8_0 block, 34 bytes per 32 weights, regrouped by panel.
 * A step reads every panel front to back once, whatever the number of tokens: at one token
 * the kernel streams the weights at memory speed, at 64 tokens it reuses each panel from
 * cache for all of them.
 *
 * Every output element is summed over k = 0 .. in-1 in order, in one accumulator, from the
 * weight widened to F32 (exactly; Q8_0: int8 * scale, one rounding), so a row's result is
 * bit-identical whether it is computed alone or among any number of other rows, and whichever
 * columns a thread takes. Kernel sets (kernels.h) may round differently from each other
 * (FMA or not): the order, not the instruction, is the contract. */
#ifndef SL_GEMM_H
#define SL_GEMM_H

#include <stddef.h>

enum { SL_GEMM_PANEL = 16, SL_Q8_BLOCK = 32, SL_Q8_BLOCK_BYTES = 16 * 2 + SL_Q8_BLOCK * 16 };

/* How the packed weights of the base model's linears are stored. */
typedef enum sl_wtype { SL_WTYPE_F32 = 0, SL_WTYPE_BF16, SL_WTYPE_F16, SL_WTYPE_Q8_0, SL_WTYPE_COUNT } sl_wtype;
const char *sl_wtype_name(sl_wtype t); /* "f32", "bf16", "f16", "q8_0" */
/* "f32", "bf16", "f16", "q8_0" -> the type; else -1. */
int sl_wtype_parse(const char *name);

/* Bytes of one packed panel (16 rows) of IN columns, and of the whole packed (out, in) matrix. */
static inline size_t sl_gemm_panel_bytes(sl_wtype t, int in) {
    switch (t) {
    case SL_WTYPE_BF16:
    case SL_WTYPE_F16: return (size_t)in * SL_GEMM_PANEL * 2;
    case SL_WTYPE_Q8_0: return (size_t)((in + SL_Q8_BLOCK - 1) / SL_Q8_BLOCK) * SL_Q8_BLOCK_BYTES;
    default: return (size_t)in * SL_GEMM_PANEL * 4;
    }
}
size_t sl_gemm_packed_bytes(sl_wtype t, int out, int in);

/* The source element types sl_gemm_pack reads (those of a checkpoint). */
typedef enum sl_gemm_src { SL_GEMM_SRC_F32, SL_GEMM_SRC_BF16, SL_GEMM_SRC_F16 } sl_gemm_src;

/* W (out, in) row-major of element type ST, row stride LDW elements -> DST
 * (sl_gemm_packed_bytes(T, out, in) bytes) packed as T. */
void sl_gemm_pack(void *dst, sl_wtype t, const void *w, sl_gemm_src st, size_t ldw, int out, int in);
/* Row V of the packed matrix, widened to F32 (the tied embedding's lookup) -> DST (in floats). */
void sl_gemm_packed_row(float *dst, const void *wp, sl_wtype t, int in, int v);
/* Columns [c0, c1) of Y = X Wᵀ for n rows: Y (n, ldy), X (n, ldx), WP packed (out, in) as T.
 * c0 must be a multiple of SL_GEMM_PANEL; c1 <= out. Runs the active kernel set's kernel. */
void sl_gemm_packed(float *y, size_t ldy, const float *x, size_t ldx, int n, const void *wp, sl_wtype t, int in, int c0,
                    int c1);
/* Memory a GEMM call prefetches while it computes (the T0 hint: see bigalloc.h,
 * sl_prefetch_walks_pages): up to SL_PREFETCH_RANGES byte ranges, fetched in order, their
 * lines dealt evenly to the call's row tiles (one per k step, so at most `in` per tile: what
 * does not fit is left out). A hint: it changes no result. */
enum { SL_PREFETCH_RANGES = 8 };
typedef struct sl_prefetch {
    int n;
    const void *p[SL_PREFETCH_RANGES];
    size_t bytes[SL_PREFETCH_RANGES];
} sl_prefetch;
/* Appends [P, P + BYTES) to PF, joined to its last range when contiguous with it; a range
 * past SL_PREFETCH_RANGES is dropped (returns 0). */
static inline int sl_prefetch_add(sl_prefetch *pf, const void *p, size_t bytes) {
    if (!p || !bytes) return 1;
    if (pf->n > 0 && (const char *)pf->p[pf->n - 1] + pf->bytes[pf->n - 1] == (const char *)p) {
        pf->bytes[pf->n - 1] += bytes;
        return 1;
    }
    if (pf->n == SL_PREFETCH_RANGES) return 0;
    pf->p[pf->n] = p;
    pf->bytes[pf->n++] = bytes;
    return 1;
}
/* The same GEMM, prefetching PF (NULL: nothing) meanwhile: what the caller reads next (the
 * next linear's first panels, the adapters of the rows). Each call's first panel group would
 * otherwise come from memory while its first row tile waits (a step runs ~200 such calls per
 * thread), and an adapter's matrices stream from memory at what one core's outstanding misses
 * allow, where prefetched under the GEMM's arithmetic they cost no time of their own. */
void sl_gemm_packed_next(float *y, size_t ldy, const float *x, size_t ldx, int n, const void *wp, sl_wtype t, int in,
                         int c0, int c1, const sl_prefetch *pf);

#endif
