/* simd.h — the kernels' SIMD: GCC/clang vector extensions at the set's native width.
 *
 * Included by each kernel set's translation unit (generic/generic.c, x86/avx2.c,
 * x86/avx512.c) after it has chosen its target ISA and defined VW, the floats of one native
 * register: 16 (AVX-512), 8 (AVX2), 4 (SSE2 / generic). The kernels are written over groups of
 * 16 floats (a weight panel's width) made of NV = 16 / VW registers, so every set does the same
 * lane-wise arithmetic on whole registers: wider vectors lowered by the compiler spill badly
 * (a 64-byte vector type on AVX2 ran 6x slower than native 32-byte ones). Everything here is
 * a macro or a static always_inline function: an out-of-line function taking or returning vf
 * would change the ABI between sets. Unaligned loads and stores go through memcpy.
 *
 * Loaders widen the stored element types to F32 exactly: BF16 is the top half of an F32, F16
 * converts exactly (F16C where the set has it, else safetensors.h's exact routine), Q8_0 is an
 * int8 times its block scale (one rounding, the same in every set). */
#ifndef SL_KERNELS_SIMD_H
#define SL_KERNELS_SIMD_H

#include <stdint.h>
#include <string.h>

#include "safetensors.h" /* sl_f16_to_f32 */

#if !defined(VW) || (VW != 4 && VW != 8 && VW != 16)
#error "a kernel set defines VW (4, 8 or 16) before including simd.h"
#endif
#define NV (16 / VW)

typedef float vf __attribute__((vector_size(VW * 4)));
typedef uint32_t vfu __attribute__((vector_size(VW * 4)));
typedef uint16_t vfh __attribute__((vector_size(VW * 2)));
typedef int8_t vfb __attribute__((vector_size(VW)));

#define vf_load(p) __extension__({ vf vf_; memcpy(&vf_, (p), sizeof vf_); vf_; })
#define vf_store(p, v) do { vf vfs_ = (v); memcpy((p), &vfs_, sizeof vfs_); } while (0)

/* VW BF16 values at P, VW int8 values at P, VW F16 values at P: the set's widening
 * instructions where it has them (GCC 12 scalarises the generic int8 conversion and splits
 * the 16-bit one), the vector extensions' conversions elsewhere. */
#if VW == 16 && defined(__AVX512F__)
#include <immintrin.h>
#define vf_load_bf16(p) __extension__({ __m256i h_; memcpy(&h_, (p), sizeof h_); \
        (vf)_mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h_), 16)); })
#define vf_load_i8(p) __extension__({ __m128i b_; memcpy(&b_, (p), sizeof b_); \
        (vf)_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b_)); })
#define vf_load_f16(p) __extension__({ __m256i h_; memcpy(&h_, (p), sizeof h_); (vf)_mm512_cvtph_ps(h_); })
#elif VW == 8 && defined(__AVX2__) && defined(__F16C__)
#include <immintrin.h>
#define vf_load_bf16(p) __extension__({ __m128i h_; memcpy(&h_, (p), sizeof h_); \
        (vf)_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h_), 16)); })
#define vf_load_i8(p) __extension__({ long long b_; memcpy(&b_, (p), sizeof b_); \
        (vf)_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(b_))); })
#define vf_load_f16(p) __extension__({ __m128i h_; memcpy(&h_, (p), sizeof h_); (vf)_mm256_cvtph_ps(h_); })
#else
#define vf_load_bf16(p) __extension__({ vfh h_; memcpy(&h_, (p), sizeof h_); \
        (vf)(__builtin_convertvector(h_, vfu) << 16); })
#define vf_load_i8(p) __extension__({ vfb b_; memcpy(&b_, (p), sizeof b_); __builtin_convertvector(b_, vf); })
/* F16 without F16C: exponent and mantissa moved into place as an F32 of 2^-112 times the
 * value (normals and subnormals alike), times 2^112 (exact: a power of two); exponent 31
 * (infinity, NaN) becomes 255; then the sign. */
#define vf_load_f16(p) __extension__({ vfh h_; memcpy(&h_, (p), sizeof h_); \
        vfu u_ = __builtin_convertvector(h_, vfu), em_ = (u_ & 0x7fffu) << 13; \
        vfu big_ = (vfu)(em_ >= 0x0f800000u), f_ = (vfu)((vf)em_ * 0x1p112f); \
        (vf)((f_ & ~big_) | ((em_ | 0x7f800000u) & big_) | ((u_ & 0x8000u) << 16)); })
#endif

/* The first N (0 < N < VW) floats at P into a register, zeros after; V's first N lanes to P.
 * Nothing past them is touched (a row's last panel may end inside a register). Masked moves
 * where the set has them: lane-by-lane code for all of a tile's accumulators was most of the
 * GEMM's code. */
#if VW == 16 && defined(__AVX512F__)
#define vf_load_part(p, n) ((vf)_mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1u), (p)))
#define vf_store_part(p, v, n) _mm512_mask_storeu_ps((p), (__mmask16)((1u << (n)) - 1u), (__m512)(v))
#elif VW == 8 && defined(__AVX2__)
#define vf_part_mask_(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define vf_load_part(p, n) ((vf)_mm256_maskload_ps((p), vf_part_mask_(n)))
#define vf_store_part(p, v, n) _mm256_maskstore_ps((p), vf_part_mask_(n), (__m256)(v))
#else
#define vf_load_part(p, n) __extension__({ vf vp_ = {0}; memcpy(&vp_, (p), (size_t)(n) * sizeof(float)); vp_; })
#define vf_store_part(p, v, n) do { vf vs_ = (v); memcpy((p), &vs_, (size_t)(n) * sizeof(float)); } while (0)
#endif

/* Loops over the NV registers of a 16-float group; NV is a constant, so they unroll. */
#define FOR_NV(e) _Pragma("GCC unroll 4") for (int e = 0; e < NV; e++)

/* The largest of V[0 .. n), VW lanes at a time (a scalar chain waits on each compare); -inf
 * for n = 0. A max is exact in any order; only which of +0 and -0 wins may differ. NaN
 * elements are passed over, as by the scalar compare. Attention's softmax (exp_row) and the
 * sampler's argmax (kernels_rows.inc.h). */
static inline __attribute__((always_inline)) float row_max(const float *v, size_t n) {
    vf vmx = {0};
    vmx -= INFINITY;
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        vf x = vf_load(v + i);
        vfu gt = (vfu)(x > vmx);
        vmx = (vf)(((vfu)x & gt) | ((vfu)vmx & ~gt));
    }
    float lanes[VW], mx = -INFINITY;
    vf_store(lanes, vmx);
    for (int l = 0; l < VW; l++) mx = lanes[l] > mx ? lanes[l] : mx;
    for (; i < n; i++) mx = v[i] > mx ? v[i] : mx;
    return mx;
}

/* e^x in every lane (Cephes' expf: x = n ln2 + r with |r| <= ln2/2, e^r by a degree-5
 * polynomial, 2^n put in the exponent bits; within 2 ulp of expf). Lanes below -87 give 0
 * (attention: a weight under 2^-125 of the best position's), lanes above 88 give e^88
 * (finite, where expf overflows from 88.72 on): 2^n then stays a normal number. Used by
 * attention's softmax and SwiGLU (kernels_rows.inc.h). */
static inline __attribute__((always_inline)) vf vexp(vf x) {
    const vf lo = (vf){0} - 87.0f;
    vfu under = (vfu)(x < lo);
    x = (vf)(((vfu)x & ~under) | ((vfu)lo & under));
    const vf hi = (vf){0} + 88.0f;
    vfu over = (vfu)(x > hi);
    x = (vf)(((vfu)x & ~over) | ((vfu)hi & over));
    vf t = x * 1.44269504088896341f + 12582912.0f; /* 1.5 * 2^23: rounds x / ln2 to an integer */
    vf n = t - 12582912.0f;
    vfu ni = (vfu)t - (vfu)((vf){0} + 12582912.0f); /* that integer, two's complement */
    vf r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vf p = (vf){0} + 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    vf y = p * (r * r) + r + 1.0f;
    return (vf)(((vfu)y + (ni << 23)) & ~under);
}


/* The sum of the 16 floats of a group held in NV registers G (float k in lane k % VW of
 * register k / VW), as the scalar tree l[k] += l[k + w] for w = 8, 4, 2, 1 (k < w) gives it:
 * the same pairs added in the same order, in vector lanes, so bit-identical to that loop
 * (which, through a stack array, cost a fifth of the adapters' down pass). */
typedef float vf4_ __attribute__((vector_size(16)));
static inline __attribute__((always_inline)) float vf_sum16_tree(const vf *g) {
#if VW == 16
    typedef float vf8_ __attribute__((vector_size(32)));
    vf v = g[0];
    vf8_ s8 = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
              __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    vf4_ s4 = __builtin_shufflevector(s8, s8, 0, 1, 2, 3) + __builtin_shufflevector(s8, s8, 4, 5, 6, 7);
#elif VW == 8
    vf s8 = g[0] + g[1];
    vf4_ s4 = __builtin_shufflevector(s8, s8, 0, 1, 2, 3) + __builtin_shufflevector(s8, s8, 4, 5, 6, 7);
#else
    vf4_ s4 = (g[0] + g[2]) + (g[1] + g[3]);
#endif
    vf4_ s2 = s4 + __builtin_shufflevector(s4, s4, 2, 3, 2, 3);
    return s2[0] + s2[1];
}

#endif
