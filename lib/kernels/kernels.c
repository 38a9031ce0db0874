/* kernels.c — choosing the kernel set (kernels.h), packing weights (gemm.h), and the entry
 * points that run the active set's kernels (gemm.h, lowrank.h). */
#include "kernels.h"

#include "error.h"
#include "lowrank.h"
#include "safetensors.h" /* the F16 / BF16 conversions */

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const sl_kernels sl__kernels_generic;
#if defined(__x86_64__)
extern const sl_kernels sl__kernels_avx2, sl__kernels_avx512;
#endif

/* Best first. */
static const struct {
    const sl_kernels *k;
} sets[] = {
#if defined(__x86_64__)
    {&sl__kernels_avx512},
    {&sl__kernels_avx2},
#endif
    {&sl__kernels_generic},
};
enum { N_SETS = sizeof sets / sizeof sets[0] };

/* __builtin_cpu_supports checks the CPUID bits and, for AVX and AVX-512, that the OS saves the
 * registers (XCR0). F16C is not among its names in every GCC; every AVX2 CPU has it (Intel
 * since Ivy Bridge, AMD since Piledriver), so the AVX2 check stands for it. */
static int cpu_runs(const sl_kernels *k) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (k == &sl__kernels_avx512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2");
    if (k == &sl__kernels_avx2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return k == &sl__kernels_generic;
}

static const sl_kernels *active;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const sl_kernels *best(void) {
    for (int i = 0; i < N_SETS; i++)
        if (cpu_runs(sets[i].k)) return sets[i].k;
    return &sl__kernels_generic;
}

static int select_set(const char *name, char *err, size_t errlen);

static void choose(void) {
    const char *env = getenv("SL_KERNELS");
    if (env && *env && select_set(env, NULL, 0) == 0) return;
    active = best(); /* an unusable SL_KERNELS falls back to the best set (the daemon logs the set) */
}

static int kc_bytes;
static pthread_once_t kc_once = PTHREAD_ONCE_INIT;

static void read_l1d(void) {
    long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE); /* 0 or -1 where glibc cannot tell */
    if (l1 < 16384 || l1 > (1L << 20)) l1 = 49152;
    kc_bytes = (int)(l1 * 2 / 3);
}

void sl_attend_join(int n_parts, int groups, int hd, const float *po, const float *pml, float *out) {
    for (int g = 0; g < groups; g++) {
        float mx = -INFINITY, l = 0, *o = out + (size_t)g * hd;
        for (int p = 0; p < n_parts; p++) mx = fmaxf(mx, pml[((size_t)p * groups + g) * 2]);
        for (int d = 0; d < hd; d++) o[d] = 0;
        for (int p = 0; p < n_parts; p++) { /* l and every o[d] summed over p in order */
            const float *ml = pml + ((size_t)p * groups + g) * 2, *op = po + ((size_t)p * groups + g) * hd;
            float w = expf(ml[0] - mx);
            l += w * ml[1];
            for (int d = 0; d < hd; d++) o[d] += w * op[d];
        }
        for (int d = 0; d < hd; d++) o[d] /= l;
    }
}

int sl__gemm_kc_bytes(void) {
    pthread_once(&kc_once, read_l1d);
    return kc_bytes;
}

const sl_kernels *sl_kernels_active(void) {
    pthread_once(&once, choose);
    return active;
}

/* After the first choice (choose: SL_KERNELS or the best), so that a selection made before the
 * first sl_kernels_active() is not overwritten by it. */
int sl_kernels_select(const char *name, char *err, size_t errlen) {
    pthread_once(&once, choose);
    return select_set(name, err, errlen);
}

static int select_set(const char *name, char *err, size_t errlen) {
    if (!strcmp(name, "auto")) {
        active = best();
        return 0;
    }
    for (int i = 0; i < N_SETS; i++) {
        if (strcmp(sets[i].k->name, name)) continue;
        if (!cpu_runs(sets[i].k))
            return sl__errf(err, errlen, SL_ENOTSUP, "kernel set '%s' needs instructions this CPU lacks", name);
        active = sets[i].k;
        return 0;
    }
    return sl__errf(err, errlen, SL_EINVAL, "unknown kernel set '%s' (avx512, avx2, generic or auto)", name);
}

int sl_kernels_runnable(const char **names, int max) {
    int n = 0;
    for (int i = 0; i < N_SETS && n < max; i++)
        if (cpu_runs(sets[i].k)) names[n++] = sets[i].k->name;
    return n;
}

/* ---- weight types and packing ---- */

static const char *const wtype_names[SL_WTYPE_COUNT] = {"f32", "bf16", "f16", "q8_0"};

const char *sl_wtype_name(sl_wtype t) { return (unsigned)t < SL_WTYPE_COUNT ? wtype_names[t] : "?"; }

int sl_wtype_parse(const char *name) {
    for (int i = 0; i < SL_WTYPE_COUNT; i++)
        if (!strcmp(name, wtype_names[i])) return i;
    return -1;
}

size_t sl_gemm_packed_bytes(sl_wtype t, int out, int in) {
    return (size_t)((out + SL_GEMM_PANEL - 1) / SL_GEMM_PANEL) * sl_gemm_panel_bytes(t, in);
}

/* Element I of a source matrix; memcpy, since a checkpoint's mapping may be unaligned. */
static uint16_t src_u16(const void *w, size_t i) {
    uint16_t h;
    memcpy(&h, (const unsigned char *)w + 2 * i, 2);
    return h;
}

static float src_at(const void *w, sl_gemm_src st, size_t i) {
    switch (st) {
    case SL_GEMM_SRC_BF16: return sl_bf16_to_f32(src_u16(w, i));
    case SL_GEMM_SRC_F16: return sl_f16_to_f32(src_u16(w, i));
    default: {
        float f;
        memcpy(&f, (const unsigned char *)w + 4 * i, 4);
        return f;
    }
    }
}

void sl_gemm_pack(void *dst, sl_wtype t, const void *w, sl_gemm_src st, size_t ldw, int out, int in) {
    int panels = (out + SL_GEMM_PANEL - 1) / SL_GEMM_PANEL;
    size_t pbytes = sl_gemm_panel_bytes(t, in);
    for (int p = 0; p < panels; p++) {
        unsigned char *pp = (unsigned char *)dst + (size_t)p * pbytes;
        if (t == SL_WTYPE_Q8_0) memset(pp, 0, pbytes); /* the last block's padding */
        for (int l = 0; l < SL_GEMM_PANEL; l++) {
            int o = p * SL_GEMM_PANEL + l;
            size_t row = (size_t)o * ldw;
            if (t == SL_WTYPE_Q8_0) {
                for (int k0 = 0; k0 < in; k0 += SL_Q8_BLOCK) {
                    unsigned char *blk = pp + (size_t)(k0 / SL_Q8_BLOCK) * SL_Q8_BLOCK_BYTES;
                    int k1 = in - k0 < SL_Q8_BLOCK ? in : k0 + SL_Q8_BLOCK;
                    float amax = 0;
                    for (int k = k0; o < out && k < k1; k++) amax = fmaxf(amax, fabsf(src_at(w, st, row + (size_t)k)));
                    /* The scale as stored (F16), and the quants against that very value. */
                    uint16_t sh = sl_f32_to_f16(amax / 127.0f);
                    float s = sl_f16_to_f32(sh), inv = s > 0 ? 1.0f / s : 0.0f;
                    memcpy(blk + 2 * l, &sh, 2);
                    for (int k = k0; k < k1; k++) {
                        float q = o < out ? nearbyintf(src_at(w, st, row + (size_t)k) * inv) : 0.0f;
                        q = q > 127.0f ? 127.0f : q < -127.0f ? -127.0f : q;
                        ((int8_t *)(blk + 32))[(k - k0) * SL_GEMM_PANEL + l] = (int8_t)q;
                    }
                }
                continue;
            }
            for (int k = 0; k < in; k++) {
                float v = o < out ? src_at(w, st, row + (size_t)k) : 0.0f;
                size_t i = (size_t)k * SL_GEMM_PANEL + (size_t)l;
                if (t == SL_WTYPE_F32) ((float *)pp)[i] = v;
                /* BF16 -> BF16 and F16 -> F16 keep the bits (NaN payloads included). */
                else if (t == SL_WTYPE_BF16) ((uint16_t *)pp)[i] = st == SL_GEMM_SRC_BF16 && o < out ? src_u16(w, row + (size_t)k) : sl_f32_to_bf16(v);
                else ((uint16_t *)pp)[i] = st == SL_GEMM_SRC_F16 && o < out ? src_u16(w, row + (size_t)k) : sl_f32_to_f16(v);
            }
        }
    }
}

void sl_gemm_packed_row(float *dst, const void *wp, sl_wtype t, int in, int v) {
    const unsigned char *pp = (const unsigned char *)wp + (size_t)(v / SL_GEMM_PANEL) * sl_gemm_panel_bytes(t, in);
    int l = v % SL_GEMM_PANEL;
    for (int k = 0; k < in; k++) {
        size_t i = (size_t)k * SL_GEMM_PANEL + (size_t)l;
        switch (t) {
        case SL_WTYPE_BF16: dst[k] = sl_bf16_to_f32(((const uint16_t *)pp)[i]); break;
        case SL_WTYPE_F16: dst[k] = sl_f16_to_f32(((const uint16_t *)pp)[i]); break;
        case SL_WTYPE_Q8_0: {
            const unsigned char *blk = pp + (size_t)(k / SL_Q8_BLOCK) * SL_Q8_BLOCK_BYTES;
            uint16_t sh;
            memcpy(&sh, blk + 2 * l, 2);
            dst[k] = (float)((const int8_t *)(blk + 32))[(k % SL_Q8_BLOCK) * SL_GEMM_PANEL + l] * sl_f16_to_f32(sh);
            break;
        }
        default: dst[k] = ((const float *)pp)[i];
        }
    }
}

/* ---- entry points ---- */

void sl_gemm_packed(float *y, size_t ldy, const float *x, size_t ldx, int n, const void *wp, sl_wtype t, int in, int c0,
                    int c1) {
    sl_kernels_active()->gemm[t](y, ldy, x, ldx, n, wp, in, c0, c1, NULL);
}

void sl_gemm_packed_next(float *y, size_t ldy, const float *x, size_t ldx, int n, const void *wp, sl_wtype t, int in,
                         int c0, int c1, const sl_prefetch *pf) {
    sl_kernels_active()->gemm[t](y, ldy, x, ldx, n, wp, in, c0, c1, pf);
}

void sl_lowrank_add_split(float *y, size_t ldy, const float *x, size_t ldx, int n, int in, int out, int r, sl_wtype t,
                          const void *u, size_t ldu, const float *scale, const void *vt, size_t ldv, int split,
                          const void *vt2, size_t ldv2, float *h) {
    sl_kernels_active()->lowrank[t](y, ldy, x, ldx, n, in, out, r, u, ldu, scale, vt, ldv, split, vt2, ldv2, h, 0);
}

void sl_lowrank_store_split(float *y, size_t ldy, const float *x, size_t ldx, int n, int in, int out, int r,
                            sl_wtype t, const void *u, size_t ldu, const float *scale, const void *vt, size_t ldv,
                            int split, const void *vt2, size_t ldv2, float *h) {
    sl_kernels_active()->lowrank[t](y, ldy, x, ldx, n, in, out, r, u, ldu, scale, vt, ldv, split, vt2, ldv2, h, 1);
}

void sl_lowrank_add(float *y, size_t ldy, const float *x, size_t ldx, int n, int in, int out, int r, sl_wtype t,
                    const void *u, size_t ldu, const float *scale, const void *vt, size_t ldv, float *h) {
    sl_lowrank_add_split(y, ldy, x, ldx, n, in, out, r, t, u, ldu, scale, vt, ldv, out, NULL, 0, h);
}
