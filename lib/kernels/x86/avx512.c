/* avx512.c — the AVX-512 kernel set (x86-64-v4: Skylake-SP and later, AMD Zen 4).
 * 32 registers of 16 floats: the GEMM tile is 6 rows x 4 panels (24 accumulators, 4 weight
 * loads, broadcasts folded into the FMAs), 8 panels at 1 or 2 rows, and the low-rank kernel
 * shares loads across 4 rows. */
#if defined(__x86_64__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
#endif
#define KSET_SYM sl__kernels_avx512
#define KSET_NAME "avx512"
#define VW 16
#define GEMM_ACC 24
#define GEMM_WIDE_M 2
#define GEMM_TILE_M 6
#define LOWRANK_GROUP 4
#define ATT_GROUPS 4
#include "kernels_set.inc.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
