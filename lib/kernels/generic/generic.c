/* generic.c — the portable kernel set: the compiler's baseline vectors (SSE2 on x86-64), for
 * any CPU. Small tiles: the baseline has 16 registers of 4 floats, so a v16 costs four. */
#define KSET_SYM sl__kernels_generic
#define KSET_NAME "generic"
#define VW 4
#define GEMM_ACC 8
#define GEMM_WIDE_M 0
#define GEMM_TILE_M 2
#define LOWRANK_GROUP 1
#define ATT_GROUPS 1
#include "kernels_set.inc.h"
