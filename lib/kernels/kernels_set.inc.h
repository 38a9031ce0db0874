/* kernels_set.inc.h — one kernel set: the bodies and the table. Included last by each set's
 * translation unit, which has chosen its ISA and defined
 *   KSET_SYM, KSET_NAME       the table's symbol and name
 *   VW                        floats of one native register (simd.h)
 *   GEMM_ACC, GEMM_TILE_M     kernels_gemm.inc.h
 *   LOWRANK_GROUP             kernels_lowrank.inc.h
 *   ATT_GROUPS                kernels_attention.inc.h
 * (stringified into the table's `tiles`). */
#include <math.h>

/* The bodies pass vf between static always_inline functions only: no ABI is involved. */
#pragma GCC diagnostic ignored "-Wpsabi"

#include "bigalloc.h" /* sl_touch_pages */
#include "kernels.h"
#include "simd.h"
#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "kernels_gemm.inc.h"
#include "kernels_lowrank.inc.h"
#include "kernels_attention.inc.h"
#include "kernels_rows.inc.h"

#define KSET_STR_(x) #x
#define KSET_STR(x) KSET_STR_(x)

const sl_kernels KSET_SYM = {
    .name = KSET_NAME,
    .tiles = KSET_STR(VW) " floats/register, gemm tiles of " KSET_STR(GEMM_ACC) " accumulators (up to " KSET_STR(GEMM_TILE_M)
             " rows), lowrank group " KSET_STR(LOWRANK_GROUP)
             ", attention heads " KSET_STR(ATT_GROUPS),
    .gemm = {[SL_WTYPE_F32] = gemm_f32, [SL_WTYPE_BF16] = gemm_bf16, [SL_WTYPE_F16] = gemm_f16, [SL_WTYPE_Q8_0] = gemm_q8_0},
    .lowrank = {[SL_WTYPE_F32] = lowrank_f32, [SL_WTYPE_BF16] = lowrank_bf16, [SL_WTYPE_F16] = lowrank_f16},
    .attend = {[SL_WTYPE_F32] = attend_f32, [SL_WTYPE_BF16] = attend_bf16, [SL_WTYPE_F16] = attend_f16},
    .attend_part = {[SL_WTYPE_F32] = attend_part_f32, [SL_WTYPE_BF16] = attend_part_bf16, [SL_WTYPE_F16] = attend_part_f16},
    .kv_round = kv_round,
    .add_into = add_into,
    .swiglu = swiglu,
    .exp_scaled = exp_scaled,
    .argmax = argmax,
};
