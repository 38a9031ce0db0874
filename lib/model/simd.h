/* simd.h — the engine's portable SIMD: GCC/clang vector extensions, compiled per ISA.
 *
 * SL_SIMD_CLONES on a function makes GCC emit an AVX-512 (x86-64-v4), an AVX2+FMA
 * (x86-64-v3) and a baseline version, picked once at load time (ifunc). Not under ASan
 * (ifunc resolvers run before ASan is initialised) nor with clang.
 *
 * Kernels built on this sum in a fixed order per output element, so a result never depends
 * on how many rows are computed together: batching never changes a bit. On one machine the
 * same clone always runs, so results are reproducible there; FMA and non-FMA clones round
 * differently, which is why the order, not the instruction, is the contract. */
#ifndef SL_SIMD_H
#define SL_SIMD_H

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define SL_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SL_SIMD_CLONES
#endif

/* 16 floats: one AVX-512 register, or pieces of narrower ones in the other clones.
 * Unaligned loads and stores go through memcpy. Macros, not functions: a function
 * returning v16 would change the ABI between clones. */
typedef float v16 __attribute__((vector_size(64)));
#define v16_load(p) __extension__({ v16 v16_; memcpy(&v16_, (p), sizeof v16_); v16_; })
#define v16_store(p, v) do { v16 v16s_ = (v); memcpy((p), &v16s_, sizeof v16s_); } while (0)

#endif
