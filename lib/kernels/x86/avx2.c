/* avx2.c — the AVX2 + FMA + F16C kernel set (x86-64-v3: Haswell and later, AMD Zen).
 * 16 registers of 8 floats: a v16 accumulator takes two, so the GEMM tile is 6 rows x 1 panel
 * (12 registers of accumulators, 2 of weights, 1 broadcast), and the low-rank kernel's rows go
 * one at a time (each holds 8 registers of accumulators). */
#if defined(__x86_64__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif
#define KSET_SYM sl__kernels_avx2
#define KSET_NAME "avx2"
#define VW 8
#define GEMM_ACC 12
#define GEMM_WIDE_M 0
#define GEMM_TILE_M 6
#define LOWRANK_GROUP 1
#define ATT_GROUPS 1
#include "kernels_set.inc.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
