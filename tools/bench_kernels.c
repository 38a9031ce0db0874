/* bench_kernels.c — the packed GEMM kernels and the adapters' low-rank kernel of every kernel
 * set this CPU runs, on one thread, next to OpenBLAS's cblas_sgemm on the same thread (the
 * yardstick), in one run.
 *
 *   bench_kernels [--min-time SECONDS (0.3)] [--sets avx512,avx2,generic] [--types f32,bf16,f16,q8_0]
 *
 * Shapes: SmolLM2-135M's gate_proj (1536 x 576) and down_proj (576 x 1536), and a 2048 x 2048
 * square, at n = 1 (decode of one sequence: reported as GB/s of weights streamed), n = 64
 * (batched decode) and n = 512 (prefill): GFLOP/s, best of repeated calls for at least
 * --min-time each. sgemm: the same products as cblas_sgemm (row-major X (n, in) times W^T),
 * and its single-thread peak on a square 1024 problem. Low-rank (lowrank.h): a rank-16 SymLoRA
 * module of each shape in F32, BF16 and F16, one row (a decode step's item) and 32 rows (a
 * prefill chunk's), its matrices hot in cache (the kernel's arithmetic, not the memory
 * stream under it): GFLOP/s of its 2 * r * (in + out) flops per row. A readable table goes to
 * stderr and one JSON object to stdout:
 * {"sets": {set: {type: {shape: value}, "lowrank": {type: {shape: value}}}}, "sgemm": {...}}.
 * The yardstick is OpenBLAS's kernels for this CPU as it detects them, or OPENBLAS_CORETYPE's
 * (named in the output: an old OpenBLAS may not know a new CPU). */
#include "gemm.h"
#include "kernels.h"
#include "lowrank.h"
#include "safetensors.h" /* F16 / BF16 conversions */

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static float *randv(size_t n, unsigned seed) {
    float *v = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!v) { fprintf(stderr, "bench_kernels: out of memory\n"); exit(1); }
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
    return v;
}

static const struct { const char *name; int out, in; } shapes[] = {{"1536x576", 1536, 576}, {"576x1536", 576, 1536}, {"2048x2048", 2048, 2048}};
static const int ns[] = {1, 64, 512};
enum { N_SHAPES = 3, N_NS = 3 };
/* Low-rank modules (SmolLM2-135M's q / gate / down), rank 16, 1 and 32 rows. */
static const struct { const char *name; int out, in; } lr_shapes[] = {{"576x576", 576, 576}, {"1536x576", 1536, 576}, {"576x1536", 576, 1536}};
static const int lr_ns[] = {1, 32};
static const sl_wtype lr_types[] = {SL_WTYPE_F32, SL_WTYPE_BF16, SL_WTYPE_F16};
enum { LR_RANK = 16 };

/* Whether NAME is one of the comma-separated LIST (NULL: all). */
static int listed(const char *list, const char *name) {
    if (!list) return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* Seconds per call of FN, best over repeated calls for at least MIN_TIME. */
#define BEST_TIME(min_time, best, call) do { \
        double t_end = now() + (min_time); best = 1e30; \
        do { double t0 = now(); call; double dt = now() - t0; if (dt < best) best = dt; } while (now() < t_end); \
    } while (0)

int main(int argc, char **argv) {
    double min_time = 0.3;
    const char *want_sets = NULL, *want_types = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--min-time")) min_time = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--sets")) want_sets = argv[i + 1];
        else if (!strcmp(argv[i], "--types")) want_types = argv[i + 1];
        else { fprintf(stderr, "usage: bench_kernels [--min-time S] [--sets a,b] [--types f32,bf16,f16,q8_0]\n"); return 2; }
    }
    openblas_set_num_threads(1);
    const char *sets[4];
    int n_sets = sl_kernels_runnable(sets, 4);
    float *x = randv((size_t)512 * 2048, 1), *w = randv((size_t)2048 * 2048, 2), *y = randv((size_t)512 * 2048, 3);
    void *wp = aligned_alloc(64, (sl_gemm_packed_bytes(SL_WTYPE_F32, 2048, 2048) + 63) / 64 * 64);

    /* The yardstick: sgemm on this thread. */
    double best;
    float *a = randv((size_t)1024 * 1024, 4), *b = randv((size_t)1024 * 1024, 5), *c = randv((size_t)1024 * 1024, 6);
    BEST_TIME(min_time, best, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1024, 1024, 1024, 1.0f, a, 1024, b, 1024, 0.0f, c, 1024));
    double peak = 2.0 * 1024 * 1024 * 1024 / best / 1e9;
    /* OpenBLAS picks its kernels by CPU model, and on CPUs newer than the library falls back to
     * old ones (Debian 12's on an Intel family 6 model 207: SSE3 "Prescott", a third of its
     * SkylakeX kernels' speed): name them, and let OPENBLAS_CORETYPE choose (make bench picks
     * the fastest: tools/bench_lib.sh, bench_openblas_core). */
    const char *core = openblas_get_corename();
    fprintf(stderr, "bench_kernels: one thread; cblas_sgemm 1024^3 peak %.1f GFLOP/s on OpenBLAS's %s kernels%s\n", peak,
            core ? core : "(unknown)", getenv("OPENBLAS_CORETYPE") ? " (OPENBLAS_CORETYPE)" : " (detected; OPENBLAS_CORETYPE picks others)");
    printf("{\n  \"sgemm_peak_1thread_gflops\": %.2f,\n  \"openblas_core\": \"%s\",\n  \"sgemm\": {", peak, core ? core : "unknown");
    for (int s = 0; s < N_SHAPES; s++)
        for (int k = 0; k < N_NS; k++) {
            int out = shapes[s].out, in = shapes[s].in, n = ns[k];
            BEST_TIME(min_time, best, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, 0.0f, y, out));
            double g = 2.0 * n * out * in / best / 1e9;
            fprintf(stderr, "  sgemm   %-10s n=%-4d %8.1f GFLOP/s\n", shapes[s].name, n, g);
            printf("%s\n    \"%s_n%d_gflops\": %.2f", s || k ? "," : "", shapes[s].name, n, g);
        }
    printf("\n  },\n  \"sets\": {");
    for (int si = 0, first = 1; si < n_sets; si++) {
        if (!listed(want_sets, sets[si])) continue;
        sl_kernels_select(sets[si], NULL, 0);
        printf("%s\n    \"%s\": {\"tiles\": \"%s\"", first ? "" : ",", sets[si], sl_kernels_active()->tiles);
        first = 0;
        for (int t = 0; t < SL_WTYPE_COUNT; t++) {
            if (!listed(want_types, sl_wtype_name((sl_wtype)t))) continue;
            printf(",\n      \"%s\": {", sl_wtype_name((sl_wtype)t));
            for (int s = 0; s < N_SHAPES; s++) {
                int out = shapes[s].out, in = shapes[s].in;
                sl_gemm_pack(wp, (sl_wtype)t, w, SL_GEMM_SRC_F32, (size_t)in, out, in);
                size_t wbytes = sl_gemm_packed_bytes((sl_wtype)t, out, in);
                for (int k = 0; k < N_NS; k++) {
                    int n = ns[k];
                    BEST_TIME(min_time, best, sl_gemm_packed(y, (size_t)out, x, (size_t)in, n, wp, (sl_wtype)t, in, 0, out));
                    double g = 2.0 * n * out * in / best / 1e9;
                    fprintf(stderr, "  %-7s %-4s %-10s n=%-4d %8.1f GFLOP/s %7.1f GB/s of weights  (%.2f of sgemm peak)\n",
                            sets[si], sl_wtype_name((sl_wtype)t), shapes[s].name, n, g, (double)wbytes / best / 1e9, g / peak);
                    printf("%s\"%s_n%d_gflops\": %.2f", s || k ? ", " : "", shapes[s].name, n, g);
                    if (n == 1) printf(", \"%s_n1_weight_gbs\": %.2f", shapes[s].name, (double)wbytes / best / 1e9);
                }
            }
            printf("}");
        }
        /* The SymLoRA layout (adapter.h): Q^T as (r, in), then (r, out - in) when out > in. */
        printf(",\n      \"lowrank\": {");
        for (int t = 0, lr_first = 1; t < 3; t++) {
            sl_wtype wt = lr_types[t];
            if (!listed(want_types, sl_wtype_name(wt))) continue;
            printf("%s\n        \"%s\": {", lr_first ? "" : ",", sl_wtype_name(wt));
            lr_first = 0;
            for (int s = 0; s < 3; s++) {
                int out = lr_shapes[s].out, in = lr_shapes[s].in, split = out > in ? in : out;
                size_t es = wt == SL_WTYPE_F32 ? 4 : 2;
                size_t nq = (size_t)LR_RANK * (size_t)(out > in ? out : in);
                unsigned char *q = wp;
                for (size_t e = 0; e < nq; e++) { /* w's values, in type wt */
                    if (wt == SL_WTYPE_F32) {
                        memcpy(q + e * 4, &w[e], 4);
                    } else {
                        uint16_t v16 = wt == SL_WTYPE_BF16 ? sl_f32_to_bf16(w[e]) : sl_f32_to_f16(w[e]);
                        memcpy(q + e * 2, &v16, 2);
                    }
                }
                const unsigned char *q2 = out > in ? q + (size_t)LR_RANK * (size_t)in * es : NULL;
                float h[LR_RANK];
                for (int k = 0; k < 2; k++) {
                    int n = lr_ns[k];
                    BEST_TIME(min_time, best, sl_lowrank_add_split(y, (size_t)out, x, (size_t)in, n, in, out, LR_RANK, wt, q, (size_t)in, w,
                                                                    q, (size_t)in, split, q2, (size_t)(out - split), h));
                    double g = 2.0 * n * LR_RANK * (in + out) / best / 1e9;
                    fprintf(stderr, "  %-7s %-4s lowrank r%d %-10s n=%-4d %8.1f GFLOP/s\n", sets[si], sl_wtype_name(wt), LR_RANK,
                            lr_shapes[s].name, n, g);
                    printf("%s\"%s_r%d_n%d_gflops\": %.2f", s || k ? ", " : "", lr_shapes[s].name, LR_RANK, n, g);
                }
            }
            printf("}");
        }
        printf("}}");
    }
    printf("\n  }\n}\n");
    free(x); free(w); free(y); free(wp); free(a); free(b); free(c);
    return 0;
}
