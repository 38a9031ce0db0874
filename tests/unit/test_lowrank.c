/* test_lowrank.c — the fixed-order low-rank kernel of the adapters (lib/lowrank.h), for each
 * element type of U / VT (F32, BF16, F16): values against a double-precision reference on the
 * stored values for many shapes, bit-identical rows whatever number of rows a call computes
 * and wherever the row sits in it, and BF16 / F16 results equal bit for bit to the F32
 * kernel's on the same values stored as F32. */
#include "lowrank.h"

#include <math.h>
#include <stdint.h>

#include "check.h"
#include "safetensors.h" /* F16 / BF16 conversions */

static const sl_wtype types[] = {SL_WTYPE_F32, SL_WTYPE_BF16, SL_WTYPE_F16};
enum { N_TYPES = sizeof types / sizeof types[0] };

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (float)((rng * 0x2545f4914f6cdd1dull) >> 40) / (float)(1 << 23) - 1.0f;
}

/* One problem: N rows of X (ldx) and Y (ldy), U (r, ldu) and VT (r, ldv), or one shared
 * matrix (SymLoRA: U == VT, r rows of max(in, out) used, ld = ldu) when SHARED. Padding
 * columns of X, U and VT hold NaN (a read past in / out poisons the result); padding columns
 * of Y hold a sentinel that must stay. U and VT are kept as F32 values (u, vt: rounded to WT,
 * so exactly the stored values) and as stored in WT (us, vts), which the kernel reads. */
typedef struct prob {
    int n, in, out, r, shared, scaled;
    sl_wtype wt;
    size_t ldx, ldy, ldu, ldv;
    float *x, *y0, *u, *vt, *scale;
    void *us, *vts;
} prob;

/* V (N values) rounded to WT in place (NaN stays NaN). */
static void round_to(float *v, size_t n, sl_wtype wt) {
    for (size_t i = 0; i < n; i++)
        if (wt == SL_WTYPE_BF16) v[i] = sl_bf16_to_f32(sl_f32_to_bf16(v[i]));
        else if (wt == SL_WTYPE_F16) v[i] = sl_f16_to_f32(sl_f32_to_f16(v[i]));
}

/* A malloc'ed copy of V (N values) in WT. */
static void *store(const float *v, size_t n, sl_wtype wt) {
    if (wt == SL_WTYPE_F32) {
        float *d = malloc(n * sizeof(float));
        memcpy(d, v, n * sizeof(float));
        return d;
    }
    uint16_t *d = malloc(n * sizeof(uint16_t));
    for (size_t i = 0; i < n; i++) d[i] = wt == SL_WTYPE_BF16 ? sl_f32_to_bf16(v[i]) : sl_f32_to_f16(v[i]);
    return d;
}

/* (Re)builds the stored U / VT from the F32 ones (rounding them to WT first). */
static void prob_store(prob *p) {
    if (p->vts != p->us) free(p->vts);
    free(p->us);
    size_t nu = (size_t)p->r * p->ldu;
    round_to(p->u, nu, p->wt);
    p->us = store(p->u, nu, p->wt);
    p->vts = p->us;
    if (!p->shared) {
        size_t nv = (size_t)p->r * p->ldv;
        round_to(p->vt, nv, p->wt);
        p->vts = store(p->vt, nv, p->wt);
    }
}

static const float SENTINEL = 12345.0f;

static float *fill(size_t rows, size_t ld, size_t used) {
    float *p = malloc(rows * ld * sizeof(float));
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < ld; j++) p[i * ld + j] = j < used ? frand() : NAN;
    return p;
}

static void prob_init(prob *p, sl_wtype wt, int n, int in, int out, int r, int shared, int scaled, int pad) {
    int mx = in > out ? in : out;
    *p = (prob){.n = n, .in = in, .out = out, .r = r, .shared = shared, .scaled = scaled, .wt = wt};
    p->ldx = (size_t)in + (size_t)pad;
    p->ldy = (size_t)out + (size_t)(pad ? pad + 2 : 0);
    p->x = fill((size_t)n, p->ldx, (size_t)in);
    p->y0 = fill((size_t)n, p->ldy, (size_t)out);
    for (int t = 0; t < n; t++)
        for (size_t o = (size_t)out; o < p->ldy; o++) p->y0[(size_t)t * p->ldy + o] = SENTINEL;
    if (shared) {
        p->ldu = p->ldv = (size_t)mx + (size_t)pad;
        p->u = p->vt = fill((size_t)r, p->ldu, (size_t)mx);
    } else {
        p->ldu = (size_t)in + (size_t)pad;
        p->ldv = (size_t)out + (size_t)(pad ? pad + 1 : 0);
        p->u = fill((size_t)r, p->ldu, (size_t)in);
        p->vt = fill((size_t)r, p->ldv, (size_t)out);
    }
    p->scale = scaled ? fill(1, (size_t)r, (size_t)r) : NULL;
    prob_store(p);
}

static void prob_free(prob *p) {
    free(p->x);
    free(p->y0);
    free(p->u);
    if (!p->shared) free(p->vt);
    free(p->scale);
    free(p->us);
    if (!p->shared) free(p->vts);
}

/* Y = Y0 + the kernel's update of rows [t0, t0 + n) (Y: a copy of Y0 for all rows). */
static float *run(const prob *p, int t0, int n, float *y) {
    float *h = malloc((size_t)p->r * sizeof(float)); /* exactly r floats: ASan sees an overrun */
    sl_lowrank_add(y + (size_t)t0 * p->ldy, p->ldy, p->x + (size_t)t0 * p->ldx, p->ldx, n, p->in, p->out, p->r, p->wt,
                   p->us, p->ldu, p->scale, p->vts, p->ldv, h);
    free(h);
    return y;
}

static float *copy_y0(const prob *p) {
    size_t sz = (size_t)p->n * p->ldy * sizeof(float);
    float *y = malloc(sz);
    memcpy(y, p->y0, sz);
    return y;
}

/* Checks Y (all rows computed) against the double reference. Bound per element, with
 * u = 2^-24 and mag = |y0| + sum_j |s_j| (sum_i |x_i u_ji|) |vt_jo|: the kernel's rounding
 * error is at most about (in/16 + 8 + 16 + 1 + r + 2) u * mag (lanes of in/64 terms, at
 * most 3 more from the 16-float step, a 2 + 4 level tree, a tail of up to 15 terms, the
 * scale, r sequential terms and the add into y). Returns the worst error / bound. */
static double check_values(const prob *p, const float *y, const char *what) {
    double worst = 0;
    double ulp = ldexp(1.0, -24), k = (double)p->in / 16 + 8 + 16 + 1 + p->r + 2;
    double *hd = malloc((size_t)p->r * sizeof(double)), *ha = malloc((size_t)p->r * sizeof(double));
    int bad = 0;
    for (int t = 0; t < p->n; t++) {
        const float *x = p->x + (size_t)t * p->ldx;
        for (int j = 0; j < p->r; j++) {
            const float *uj = p->u + (size_t)j * p->ldu;
            double s = 0, a = 0;
            for (int i = 0; i < p->in; i++) {
                s += (double)x[i] * uj[i];
                a += fabs((double)x[i] * uj[i]);
            }
            double sc = p->scale ? p->scale[j] : 1.0;
            hd[j] = s * sc;
            ha[j] = a * fabs(sc);
        }
        const float *y0 = p->y0 + (size_t)t * p->ldy, *yt = y + (size_t)t * p->ldy;
        for (int o = 0; o < p->out; o++) {
            double ref = y0[o], mag = fabs((double)y0[o]);
            for (int j = 0; j < p->r; j++) {
                double v = p->vt[(size_t)j * p->ldv + o];
                ref += hd[j] * v;
                mag += ha[j] * fabs(v);
            }
            double err = fabs((double)yt[o] - ref), bound = k * ulp * mag;
            if (!(err <= bound)) {
                if (bad++ < 3)
                    CHECKF(0, "%s: row %d out %d: got %.9g, want %.9g (error %.3g > bound %.3g)", what, t, o, yt[o], ref, err,
                           bound);
            } else if (bound > 0 && err / bound > worst) {
                worst = err / bound;
            }
        }
        for (size_t o = (size_t)p->out; o < p->ldy; o++)
            if (yt[o] != SENTINEL && bad++ < 3) CHECKF(0, "%s: row %d: padding column %zu of Y was written", what, t, o);
    }
    free(hd);
    free(ha);
    return worst;
}

/* 65: above the rank up to which the kernel computes rows in groups (lowrank.c). */
static const int ranks[] = {1, 3, 4, 8, 16, 17, 40, 65};
/* (in, out): out < in, out > in, square; widths with and without a 16 / 64 remainder. */
static const int shapes[][2] = {{1, 1},   {5, 3},    {3, 5},    {17, 33},   {64, 64},  {100, 37},
                                {37, 100}, {129, 65}, {65, 129}, {577, 193}, {193, 577}, {576, 1536}};
enum { N_SHAPES = sizeof shapes / sizeof shapes[0], N_RANKS = sizeof ranks / sizeof ranks[0] };

/* Every (type, shape, rank, shared U/VT or not, scale or not, padded ld or not) against the
 * double reference on the stored values; n = 5 rows, all computed in one call. */
TEST(values_match_double_reference) {
    for (int ti = 0; ti < N_TYPES; ti++) {
        double worst = 0;
        int cases = 0;
        for (int si = 0; si < N_SHAPES; si++)
            for (int ri = 0; ri < N_RANKS; ri++)
                for (int v = 0; v < 8; v++) {
                    int shared = v & 1, scaled = (v >> 1) & 1, pad = (v >> 2) & 1 ? 3 + ri : 0;
                    prob p;
                    prob_init(&p, types[ti], 5, shapes[si][0], shapes[si][1], ranks[ri], shared, scaled, pad);
                    char what[160];
                    snprintf(what, sizeof what, "%s in %d out %d r %d %s%s%s", sl_wtype_name(p.wt), p.in, p.out, p.r,
                             shared ? "shared U=VT" : "U, VT", scaled ? ", scaled" : "", pad ? ", padded ld" : "");
                    float *y = run(&p, 0, p.n, copy_y0(&p));
                    double w = check_values(&p, y, what);
                    worst = w > worst ? w : worst;
                    cases++;
                    free(y);
                    prob_free(&p);
                }
        printf("    %s: %d cases: worst error = %.3f of the rounding bound\n", sl_wtype_name(types[ti]), cases, worst);
    }
}

/* n = 0 and an empty update change nothing. */
TEST(empty_calls_change_nothing) {
    for (int ti = 0; ti < N_TYPES; ti++) {
        prob p;
        prob_init(&p, types[ti], 3, 20, 30, 4, 0, 1, 2);
        float *y = copy_y0(&p);
        run(&p, 0, 0, y);
        CHECK(memcmp(y, p.y0, (size_t)p.n * p.ldy * sizeof(float)) == 0);
        float h[1];
        sl_lowrank_add(y, p.ldy, p.x, p.ldx, p.n, p.in, p.out, 0, p.wt, p.us, p.ldu, NULL, p.vts, p.ldv, h);
        CHECK(memcmp(y, p.y0, (size_t)p.n * p.ldy * sizeof(float)) == 0);
        free(y);
        prob_free(&p);
    }
}

/* Each of 64 rows computed alone (n = 1) is bit-identical to the same row computed in calls
 * of 7 rows (at every position of such a call: the 64 rows in chunks starting at 0, and
 * again starting at 3; 7 = a group of 4 rows + 3 single ones in lowrank.c) and in one call
 * of 64, and with other leading dimensions (the same values at other addresses and
 * alignments). */
TEST(rows_are_bit_identical_whatever_the_batch) {
    for (int ti = 0; ti < N_TYPES; ti++) {
        int cases = 0, differ = 0;
        for (int si = 0; si < N_SHAPES; si++)
            for (int ri = 0; ri < N_RANKS; ri++) {
                for (int v = 0; v < 4; v++) {
                    int shared = v & 1, scaled = (v >> 1) & 1;
                    prob p;
                    prob_init(&p, types[ti], 64, shapes[si][0], shapes[si][1], ranks[ri], shared, scaled, 0);
                    size_t row = p.ldy * sizeof(float);
                    float *alone = copy_y0(&p), *b7 = copy_y0(&p), *b7s = copy_y0(&p), *b64 = copy_y0(&p);
                    for (int t = 0; t < p.n; t++) run(&p, t, 1, alone);
                    for (int t = 0; t < p.n; t += 7) run(&p, t, p.n - t < 7 ? p.n - t : 7, b7);
                    run(&p, 0, 3, b7s);
                    for (int t = 3; t < p.n; t += 7) run(&p, t, p.n - t < 7 ? p.n - t : 7, b7s);
                    run(&p, 0, p.n, b64);
                    for (int t = 0; t < p.n; t++) {
                        const float *a = alone + (size_t)t * p.ldy;
                        int d7 = memcmp(a, b7 + (size_t)t * p.ldy, row) != 0, d7s = memcmp(a, b7s + (size_t)t * p.ldy, row) != 0,
                            d64 = memcmp(a, b64 + (size_t)t * p.ldy, row) != 0;
                        if ((d7 || d7s || d64) && differ++ < 4)
                            CHECKF(0, "%s in %d out %d r %d%s%s: row %d alone differs from it in a call of 7 (%s) / 7 shifted (%s) / 64 (%s)",
                                   sl_wtype_name(p.wt), p.in, p.out, p.r, shared ? " shared" : "", scaled ? " scaled" : "", t, d7 ? "yes" : "no",
                                   d7s ? "yes" : "no", d64 ? "yes" : "no");
                    }
                    /* The same problem with padded leading dimensions (X, Y, U, VT moved). */
                    prob q;
                    prob_init(&q, p.wt, 64, p.in, p.out, p.r, shared, scaled, 5);
                    for (int t = 0; t < p.n; t++) {
                        memcpy(q.x + (size_t)t * q.ldx, p.x + (size_t)t * p.ldx, (size_t)p.in * sizeof(float));
                        memcpy(q.y0 + (size_t)t * q.ldy, p.y0 + (size_t)t * p.ldy, (size_t)p.out * sizeof(float));
                    }
                    int mx = p.in > p.out ? p.in : p.out;
                    for (int j = 0; j < p.r; j++) {
                        memcpy(q.u + (size_t)j * q.ldu, p.u + (size_t)j * p.ldu, (size_t)(shared ? mx : p.in) * sizeof(float));
                        if (!shared) memcpy(q.vt + (size_t)j * q.ldv, p.vt + (size_t)j * p.ldv, (size_t)p.out * sizeof(float));
                    }
                    if (scaled) memcpy(q.scale, p.scale, (size_t)p.r * sizeof(float));
                    prob_store(&q);
                    float *yq = run(&q, 0, q.n, copy_y0(&q));
                    for (int t = 0; t < p.n; t++)
                        if (memcmp(alone + (size_t)t * p.ldy, yq + (size_t)t * q.ldy, (size_t)p.out * sizeof(float)) != 0 &&
                            differ++ < 4)
                            CHECKF(0, "%s in %d out %d r %d: row %d differs with padded leading dimensions", sl_wtype_name(p.wt),
                                   p.in, p.out, p.r, t);
                    cases++;
                    free(yq);
                    prob_free(&q);
                    free(alone);
                    free(b7);
                    free(b7s);
                    free(b64);
                    prob_free(&p);
                }
            }
        printf("    %s: %d cases of 64 rows: alone == in 7 == in 7 shifted == in 64 == padded, bit for bit\n",
               sl_wtype_name(types[ti]), cases);
    }
}

/* The blocked form (sl_lowrank_add_split: columns [0, split) from VT, the rest from VT2) gives
 * the bits of the joined matrix, for splits on and off the 16- and 64-column blocks, with the
 * SymLoRA layout of out > in (U = VT = the first block). */
TEST(split_equals_joined) {
    static const int splits[] = {1, 15, 16, 17, 64, 70, 128};
    static const int ns[] = {1, 5};
    int bad = 0, cases = 0;
    for (int ti = 0; ti < N_TYPES; ti++)
        for (size_t si = 0; si < sizeof splits / sizeof *splits; si++)
            for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
                int in = splits[si], out = 150, r = 16, n = ns[ni];
                prob p;
                prob_init(&p, types[ti], n, in, out, r, 1, 1, 0); /* shared Q^T (r, out) */
                size_t ldb = (size_t)(out - in);
                float *b1 = malloc((size_t)r * in * sizeof(float)), *b2 = malloc((size_t)r * ldb * sizeof(float));
                for (int j = 0; j < r; j++) {
                    memcpy(b1 + (size_t)j * in, p.u + (size_t)j * p.ldu, (size_t)in * sizeof(float));
                    memcpy(b2 + (size_t)j * ldb, p.u + (size_t)j * p.ldu + in, ldb * sizeof(float));
                }
                void *b1s = store(b1, (size_t)r * in, p.wt), *b2s = store(b2, (size_t)r * ldb, p.wt);
                size_t ny = (size_t)n * p.ldy;
                float *y1 = malloc(ny * sizeof(float)), *y2 = malloc(ny * sizeof(float)), h[16];
                memcpy(y1, p.y0, ny * sizeof(float));
                memcpy(y2, p.y0, ny * sizeof(float));
                sl_lowrank_add(y1, p.ldy, p.x, p.ldx, n, in, out, r, p.wt, p.us, p.ldu, p.scale, p.vts, p.ldv, h);
                sl_lowrank_add_split(y2, p.ldy, p.x, p.ldx, n, in, out, r, p.wt, b1s, (size_t)in, p.scale, b1s, (size_t)in, in,
                                     b2s, ldb, h);
                bad += memcmp(y1, y2, ny * sizeof(float)) != 0;
                cases++;
                free(b1); free(b2); free(b1s); free(b2s); free(y1); free(y2);
                prob_free(&p);
            }
    CHECKF(bad == 0, "%d of %d split cases differ from the joined matrix", bad, cases);
}

/* BF16 / F16 storage computes exactly what the F32 kernel computes on the same values stored
 * as F32 (the loads widen exactly; the arithmetic and its order are the F32 kernel's), for
 * every shape and rank, with the SymLoRA split layout too: an F32 adapter rounded to BF16
 * offline and served as BF16 gives the F32 adapter's kernel result on the rounded values. */
TEST(half_types_equal_f32_on_the_widened_values) {
    int cases = 0, differ = 0;
    for (int ti = 1; ti < N_TYPES; ti++)
        for (int si = 0; si < N_SHAPES; si++)
            for (int ri = 0; ri < N_RANKS; ri++)
                for (int v = 0; v < 4; v++) {
                    int shared = v & 1, scaled = (v >> 1) & 1;
                    prob p;
                    prob_init(&p, types[ti], 6, shapes[si][0], shapes[si][1], ranks[ri], shared, scaled, (v & 1) ? 3 : 0);
                    float *yt = run(&p, 0, p.n, copy_y0(&p)), *yf = copy_y0(&p);
                    float *h = malloc((size_t)p.r * sizeof(float));
                    sl_lowrank_add(yf, p.ldy, p.x, p.ldx, p.n, p.in, p.out, p.r, SL_WTYPE_F32, p.u, p.ldu, p.scale, p.vt,
                                   p.ldv, h);
                    if (memcmp(yt, yf, (size_t)p.n * p.ldy * sizeof(float)) != 0 && differ++ < 4)
                        CHECKF(0, "%s in %d out %d r %d%s%s: differs from F32 on the widened values", sl_wtype_name(p.wt),
                               p.in, p.out, p.r, shared ? " shared" : "", scaled ? " scaled" : "");
                    cases++;
                    free(h);
                    free(yt);
                    free(yf);
                    prob_free(&p);
                }
    CHECKF(differ == 0, "%d of %d cases differ", differ, cases);
    printf("    %d cases (BF16, F16): == F32 kernel on the widened values, bit for bit\n", cases);
}

/* The store form (sl_lowrank_store_split: Y's columns [0, out) overwritten by the update, their
 * old values unread) gives the bits of the add form on those columns set to -0.0f, for every
 * type and shape, with the SymLoRA split layout, rows in groups and alone, and leaves the
 * padding columns alone. Y's old values are NaN, so reading one shows. */
TEST(store_equals_add_to_negative_zero) {
    int cases = 0, differ = 0;
    for (int ti = 0; ti < N_TYPES; ti++)
        for (int si = 0; si < N_SHAPES; si++)
            for (int ri = 0; ri < N_RANKS; ri++)
                for (int v = 0; v < 2; v++) {
                    prob p;
                    prob_init(&p, types[ti], 6, shapes[si][0], shapes[si][1], ranks[ri], v, v, v ? 3 : 0);
                    size_t ny = (size_t)p.n * p.ldy;
                    float *ya = copy_y0(&p), *ys = copy_y0(&p), *h = malloc((size_t)p.r * sizeof(float));
                    for (int t = 0; t < p.n; t++)
                        for (int o = 0; o < p.out; o++) {
                            ya[(size_t)t * p.ldy + o] = -0.0f;
                            ys[(size_t)t * p.ldy + o] = NAN;
                        }
                    int split = p.in < p.out ? p.in : p.out;
                    sl_lowrank_add_split(ya, p.ldy, p.x, p.ldx, p.n, p.in, p.out, p.r, p.wt, p.us, p.ldu, p.scale, p.vts,
                                         p.ldv, split, (const unsigned char *)p.vts + (size_t)split * (p.wt == SL_WTYPE_F32 ? 4 : 2),
                                         p.ldv, h);
                    sl_lowrank_store_split(ys, p.ldy, p.x, p.ldx, p.n, p.in, p.out, p.r, p.wt, p.us, p.ldu, p.scale,
                                           p.vts, p.ldv, split,
                                           (const unsigned char *)p.vts + (size_t)split * (p.wt == SL_WTYPE_F32 ? 4 : 2),
                                           p.ldv, h);
                    if (memcmp(ya, ys, ny * sizeof(float)) != 0 && differ++ < 4)
                        CHECKF(0, "%s in %d out %d r %d: store differs from add to -0", sl_wtype_name(p.wt), p.in, p.out,
                               p.r);
                    cases++;
                    free(h);
                    free(ya);
                    free(ys);
                    prob_free(&p);
                }
    CHECKF(differ == 0, "%d of %d cases differ", differ, cases);
    printf("    %d cases: store == add to -0.0f, bit for bit\n", cases);
}

int main(void) {
    RUN(values_match_double_reference);
    RUN(empty_calls_change_nothing);
    RUN(rows_are_bit_identical_whatever_the_batch);
    RUN(split_equals_joined);
    RUN(half_types_equal_f32_on_the_widened_values);
    RUN(store_equals_add_to_negative_zero);
    return check_summary();
}
