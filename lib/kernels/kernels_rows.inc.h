/* kernels_rows.inc.h — the element-wise stages of a step between the linears (forward.c's
 * rows stages), one body for every kernel set (included like kernels_gemm.inc.h). Every
 * element's arithmetic is its own, with no sum across elements, so no result depends on the
 * batch, the split between threads or the vector width:
 *   add_into  y[i] += d[i]: the residual stream, and the adapters' delta rows; the same IEEE
 *             add as a scalar loop, so every set gives the same bits;
 *   swiglu    g[i] = g[i] / (1 + e^-g[i]) * u[i], in that order, with vexp (simd.h) for
 *             e^x: within 2 ulp of libm's expf, which the scalar loop called 1536 times per
 *             token and layer (2% of a decode step). Sets may differ from each other in the
 *             last bit of e^x (FMA or not), like every other kernel (kernels.h);
 *   exp_scaled dst[i] = e^((src[i] - mx) * s) with vexp, and their sum (lane l of the VW
 *             lanes sums elements l, l + VW, ... in order, then the lanes in order): the
 *             sampler's softmax weights, over a whole vocabulary per sampled row (libm's expf
 *             and a normalising pass took 0.2 ms a row of 49152 on the Intel Xeon VM: 13 ms
 *             of every batch-64 step, on one thread);
 *   argmax    the first index of the largest element (NaN elements never win), by a vector
 *             max and a scan for its first occurrence: the scalar loop's compare waited on
 *             the load of the best so far, 0.2 ms a row of 49152 (Intel Xeon VM), which made
 *             greedy sampling 12-14 ms of a 100 ms batch-64 step. An exact compare: every set
 *             gives the same index. */

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

static float exp_scaled(float *restrict dst, const float *restrict src, size_t n, float mx, float s) {
    vf sum = {0};
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        vf e = vexp((vf_load(src + i) - mx) * s);
        vf_store(dst + i, e);
        sum += e;
    }
    float lanes[VW], tot = 0;
    if (i < n) {
        int w = (int)(n - i);
        vf e = vexp((vf_load_part(src + i, w) - mx) * s);
        vf_store_part(dst + i, e, w);
        vf_store(lanes, e);
        for (int l = w; l < VW; l++) lanes[l] = 0; /* lanes past the end are not elements */
        sum += vf_load(lanes);
    }
    vf_store(lanes, sum);
    for (int l = 0; l < VW; l++) tot += lanes[l];
    return tot;
}

static size_t argmax(const float *restrict v, size_t n) {
    float mx = row_max(v, n); /* simd.h: NaN passed over */
    /* Its first occurrence (+0 and -0 compare equal: the first of them, as the scalar loop). */
    for (size_t i = 0; i < n; i++)
        if (v[i] == mx) return i;
    return 0; /* n = 0, or every element NaN */
}
