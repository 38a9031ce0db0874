/* lowrank.c — the fixed-order low-rank update of the adapters (see lowrank.h).
 *
 * One row at a time, so the arithmetic of a row never depends on its neighbours:
 *   down: h[j] = x·u[j], 64 floats per iteration into four independent 16-lane accumulators
 *         (a 16-float step, then a scalar tail for in % 16), reduced as
 *         ((a0 + a1) + (a2 + a3)), then lanes pairwise (k += k + 8, k + 4, k + 2, k + 1),
 *         then + tail; times scale[j].
 *   up:   64 outputs (then 16, then single ones) accumulate in registers over j = 0 .. r-1,
 *         in order, starting from 0, and are added into y once.
 * In a decode step every adapter row is its own call with n = 1 and the adapter's bytes come
 * from memory once: the kernel reads U and VT once per row with no packing, which is what
 * makes small runs cheap (cblas_sgemm packed both operands for every 1-row call). */
#include "lowrank.h"

#include "simd.h"

SL_SIMD_CLONES
void sl_lowrank_add(float *restrict y, size_t ldy, const float *restrict x, size_t ldx, int n, int in, int out, int r,
                    const float *restrict u, size_t ldu, const float *restrict scale, const float *restrict vt,
                    size_t ldv, float *restrict h) {
    for (int t = 0; t < n; t++) {
        const float *xt = x + (size_t)t * ldx;
        float *yt = y + (size_t)t * ldy;

        /* h = X[t] U^T (* scale) */
        for (int j = 0; j < r; j++) {
            const float *uj = u + (size_t)j * ldu;
            v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            int i = 0;
            for (; i + 64 <= in; i += 64) {
                a0 += v16_load(xt + i) * v16_load(uj + i);
                a1 += v16_load(xt + i + 16) * v16_load(uj + i + 16);
                a2 += v16_load(xt + i + 32) * v16_load(uj + i + 32);
                a3 += v16_load(xt + i + 48) * v16_load(uj + i + 48);
            }
            for (; i + 16 <= in; i += 16) a0 += v16_load(xt + i) * v16_load(uj + i);
            float tail = 0;
            for (; i < in; i++) tail += xt[i] * uj[i];
            float l[16];
            v16_store(l, (a0 + a1) + (a2 + a3));
            for (int w = 8; w >= 1; w /= 2)
                for (int k = 0; k < w; k++) l[k] += l[k + w];
            float d = l[0] + tail;
            h[j] = scale ? d * scale[j] : d;
        }

        /* Y[t] += h VT */
        int o = 0;
        for (; o + 64 <= out; o += 64) {
            v16 c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};
            const float *v = vt + o;
            for (int j = 0; j < r; j++, v += ldv) {
                float hj = h[j];
                c0 += hj * v16_load(v);
                c1 += hj * v16_load(v + 16);
                c2 += hj * v16_load(v + 32);
                c3 += hj * v16_load(v + 48);
            }
            v16_store(yt + o, v16_load(yt + o) + c0);
            v16_store(yt + o + 16, v16_load(yt + o + 16) + c1);
            v16_store(yt + o + 32, v16_load(yt + o + 32) + c2);
            v16_store(yt + o + 48, v16_load(yt + o + 48) + c3);
        }
        for (; o + 16 <= out; o += 16) {
            v16 c0 = {0};
            const float *v = vt + o;
            for (int j = 0; j < r; j++, v += ldv) c0 += h[j] * v16_load(v);
            v16_store(yt + o, v16_load(yt + o) + c0);
        }
        for (; o < out; o++) {
            float c = 0;
            const float *v = vt + o;
            for (int j = 0; j < r; j++, v += ldv) c += h[j] * *v;
            yt[o] += c;
        }
    }
}
