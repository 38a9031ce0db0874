/* kernels_rows.inc.h — the element-wise stages of a step between the linears (forward.c's
 * rows stages), one body for every kernel set (included like kernels_gemm.inc.h). Every
 * element's arithmetic is its own, with no sum across elements, so no result depends on the
 * batch, the split between threads or the vector width:
 *   add_into  y[i] += d[i]: the residual stream, and the adapters' delta rows; the same IEEE
 *             add as a scalar loop, so every set gives the same bits;
 *   swiglu    g[i] = g[i] / (1 + e^-g[i]) * u[i], in that order, with vexp (simd.h) for
 *             e^x: within 2 ulp of libm's expf, which the scalar loop called 1536 times per
 *             token and layer (2% of a decode step). Sets may differ from each other in the
 *             last bit of e^x (FMA or not), like every other kernel (kernels.h). */

static void add_into(float *restrict y, const float *restrict d, size_t n) {
    size_t i = 0;
#pragma GCC unroll 4
    for (; i + VW <= n; i += VW) vf_store(y + i, vf_load(y + i) + vf_load(d + i));
    if (i < n) {
        int w = (int)(n - i);
        vf_store_part(y + i, vf_load_part(y + i, w) + vf_load_part(d + i, w), w);
    }
}

static inline __attribute__((always_inline)) vf silu_mul(vf g, vf u) { return g / (1.0f + vexp(-g)) * u; }

static void swiglu(float *restrict g, const float *restrict u, size_t n) {
    size_t i = 0;
#pragma GCC unroll 2
    for (; i + VW <= n; i += VW) vf_store(g + i, silu_mul(vf_load(g + i), vf_load(u + i)));
    if (i < n) {
        int w = (int)(n - i);
        vf_store_part(g + i, silu_mul(vf_load_part(g + i, w), vf_load_part(u + i, w)), w);
    }
}
