/* edgekit-rt: the ops a Keras 3 transformer block converts to beyond the CNN set
 * (int8, bit-exact with TFLM's reference kernels). GELU and RSQRT need no kernel of their
 * own: they are 256-entry tables (ekrt_lut) computed at generation time. The comparisons
 * and SELECT_V2 on a runtime condition serve a decode step's masks and KV cache update. */
#include "ekrt_kernels.h"
#include "ekrt_dsp.h"

/* The requantization of a BATCH_MATMUL sum, chosen once a call: mode 2 ekrt_rq_t (SMMLAR,
 * the zero point folded into k, SSAT: the DSP path over the whole int8 range), mode 1
 * ekrt_mulq_small_r from loop invariants, mode 0 ekrt_mul_q. Modes 1 and 2 need a shift <= 0
 * (>= -30), a multiplier >= 0 and |sum| < 2^30 (depth * 255 * 255 with depth < 16384). */
typedef struct {
    int32_t m, k, sm, r, zp, lo, hi, mode;
} bmm_rq_t;

static bmm_rq_t bmm_rq(const ekrt_bmm_t *p)
{
    bmm_rq_t q;
    q.m = p->mult, q.r = -p->shift, q.zp = p->out_zp, q.lo = p->act_min, q.hi = p->act_max;
    q.mode = p->shift <= 0 && p->shift >= -30 && p->mult >= 0 && p->depth < 16384;
    q.k = q.r > 0 ? 1 << (q.r - 1) : 0;
    q.sm = q.r > 0 ? -1 : 0;
#if defined(EKRT_DSP) && !defined(EKRT_SINGLE_ROUNDING)
    if (q.mode && q.r > 0 && q.lo == -128 && q.hi == 127 && ekrt_rq_kz(q.zp, q.r, &q.k)) {
        q.mode = 2;
    }
#endif
#ifdef EKRT_SINGLE_ROUNDING
    q.mode = 0;
#endif
    return q;
}

static inline __attribute__((always_inline)) int8_t bmm_out(bmm_rq_t q, int32_t acc, int mode)
{
    int32_t v;
#if defined(EKRT_DSP) && !defined(EKRT_SINGLE_ROUNDING)
    if (mode == 2) {
        return ekrt_rq_t(acc + acc, q.m, q.k, q.r);
    }
#endif
#ifndef EKRT_SINGLE_ROUNDING
    if (mode == 1) {
        v = ekrt_mulq_small_r(acc, q.m, q.k, q.sm, q.r);
    } else
#endif
    {
        v = ekrt_mul_q(acc, q.m, -q.r);
    }
    (void)mode;
    v += q.zp;
    return (int8_t)(v < q.lo ? q.lo : (v > q.hi ? q.hi : v));
}

#define EKRT_BMM_DOT_MAX 64   /* bmm_dot's depth: the widened lhs row on the stack */
#define EKRT_BMM_AXPY_MAX 256 /* bmm_axpy's depth */

/* lhs row and rhs columns contiguous along the depth (Q.K^T, the cache read through its
 * TRANSPOSE): out[j] = sum_k (l[k] + lo) * (r[j * col + k] + ro) for n columns, the rhs
 * offset folded into the start, ro * sum_k (l[k] + lo) (the same int32 sum, wrap-around
 * included). The DSP path multiplies halfword pairs (w: the lhs widened as SXTB16 splits a
 * word, bytes 0, 2 and 1, 3). Every operand a local: the int8 stores alias everything. */
static inline __attribute__((always_inline)) void bmm_dot(const int8_t *l, const int8_t *r,
                                                          int8_t *out, int32_t n, int32_t col,
                                                          int32_t depth, int32_t lo, int32_t ro,
                                                          bmm_rq_t q, int mode)
{
    int32_t k, base = 0;
    int8_t *const end = out + n;
#ifdef EKRT_DSP
    int32_t w[EKRT_BMM_DOT_MAX / 2];
    const int32_t n4 = depth >> 2;
    for (k = 0; k < depth; k++) {
        base += l[k] + lo;
    }
    for (k = 0; k < n4; k++) {
        const int8_t *b = l + 4 * k;
        w[2 * k] = (int32_t)((uint16_t)(b[0] + lo) | (uint32_t)(b[2] + lo) << 16);
        w[2 * k + 1] = (int32_t)((uint16_t)(b[1] + lo) | (uint32_t)(b[3] + lo) << 16);
    }
    base = (int32_t)((uint32_t)base * (uint32_t)ro);
    for (; out != end; r += col) {
        int32_t acc = base;
        for (k = 0; k < n4; k++) {
            uint32_t v = ekrt_ld32(r + 4 * k);
            acc = __smlad(ekrt_sxtb16_lo(v), w[2 * k], acc);
            acc = __smlad(ekrt_sxtb16_hi(v), w[2 * k + 1], acc);
        }
        for (k = 4 * n4; k < depth; k++) {
            acc += (l[k] + lo) * r[k];
        }
        *out++ = bmm_out(q, acc, mode);
    }
#else
    int32_t w[EKRT_BMM_DOT_MAX];
    for (k = 0; k < depth; k++) {
        w[k] = l[k] + lo;
        base += w[k];
    }
    base = (int32_t)((uint32_t)base * (uint32_t)ro);
    for (; out != end; r += col) {
        uint32_t acc = (uint32_t)base;
        for (k = 0; k < depth; k++) {
            acc += (uint32_t)(w[k] * r[k]);
        }
        *out++ = bmm_out(q, (int32_t)acc, mode);
    }
#endif
}

static void bmm_dot_any(const int8_t *l, const int8_t *r, int8_t *out, int32_t n, int32_t col,
                        int32_t depth, int32_t lo, int32_t ro, bmm_rq_t q)
{
    if (q.mode == 2 && depth == 8) { /* a head of 8: unrolled */
        bmm_dot(l, r, out, n, col, 8, lo, ro, q, 2);
    } else if (q.mode == 2) {
        bmm_dot(l, r, out, n, col, depth, lo, ro, q, 2);
    } else if (q.mode == 1) {
        bmm_dot(l, r, out, n, col, depth, lo, ro, q, 1);
    } else {
        bmm_dot(l, r, out, n, col, depth, lo, ro, q, 0);
    }
}

/* lhs row contiguous along the depth, rhs rows contiguous along the columns (P.V, the cache
 * read through its TRANSPOSE): out[j] = sum_k (l[k] + lo) * (r[k * dstep + j] + ro), four
 * columns at a time (DSP: SMLAxy on the halfwords SXTB16 gives, two depths a pass), the rhs offset
 * folded as in bmm_dot. */
static inline __attribute__((always_inline)) void bmm_axpy(const int8_t *l, const int8_t *r,
                                                           int8_t *out, int32_t n,
                                                           int32_t dstep, int32_t depth,
                                                           int32_t lo, int32_t ro, bmm_rq_t q,
                                                           int mode)
{
    int16_t w[EKRT_BMM_AXPY_MAX] __attribute__((aligned(4)));
    const int16_t *we = w + depth;
    int32_t j = 0, k = 0, base = 0;
#ifdef EKRT_DSP
    const int32_t lo2 = (int32_t)((uint32_t)(uint16_t)lo * 0x10001u);
    for (; k + 4 <= depth; k += 4) { /* 4 bytes widened and offset in halfword pairs */
        uint32_t v = ekrt_ld32(l + k), w01, w23;
        int32_t e = __sadd16(ekrt_sxtb16_lo(v), lo2), o = __sadd16(ekrt_sxtb16_hi(v), lo2);
        base = __smlad(e, 0x10001, base);
        base = __smlad(o, 0x10001, base);
        w01 = ekrt_pkhbt16((uint32_t)e, (uint32_t)o);
        w23 = ekrt_pkhtb16((uint32_t)o, (uint32_t)e);
        __builtin_memcpy(w + k, &w01, 4);
        __builtin_memcpy(w + k + 2, &w23, 4);
    }
#endif
    for (; k < depth; k++) {
        w[k] = (int16_t)(l[k] + lo);
        base += w[k];
    }
    base = (int32_t)((uint32_t)base * (uint32_t)ro);
    for (; j + 4 <= n; j += 4) {
        int32_t a0 = base, a1 = base, a2 = base, a3 = base;
        const int8_t *c = r + j;
        const int16_t *x = w;
#ifdef EKRT_DSP
        for (; x + 2 <= we; x += 2) { /* two depths a pass: their widened pair is one word */
            uint32_t xx, v0, v1;
            int32_t e, o;
            __builtin_memcpy(&xx, x, 4);
            v0 = ekrt_ld32(c);
            c += dstep;
            v1 = ekrt_ld32(c);
            c += dstep;
            e = ekrt_sxtb16_lo(v0), o = ekrt_sxtb16_hi(v0);
            a0 = __smlabb(e, (int32_t)xx, a0);
            a2 = __smlatb(e, (int32_t)xx, a2);
            a1 = __smlabb(o, (int32_t)xx, a1);
            a3 = __smlatb(o, (int32_t)xx, a3);
            e = ekrt_sxtb16_lo(v1), o = ekrt_sxtb16_hi(v1);
            a0 = __smlabt(e, (int32_t)xx, a0);
            a2 = __smlatt(e, (int32_t)xx, a2);
            a1 = __smlabt(o, (int32_t)xx, a1);
            a3 = __smlatt(o, (int32_t)xx, a3);
        }
#endif
        for (; x != we; x++, c += dstep) {
            int32_t xv = *x;
            a0 += xv * c[0];
            a1 += xv * c[1];
            a2 += xv * c[2];
            a3 += xv * c[3];
        }
        out[j] = bmm_out(q, a0, mode);
        out[j + 1] = bmm_out(q, a1, mode);
        out[j + 2] = bmm_out(q, a2, mode);
        out[j + 3] = bmm_out(q, a3, mode);
    }
    for (; j < n; j++) {
        int32_t acc = base;
        for (k = 0; k < depth; k++) {
            acc += w[k] * r[k * dstep + j];
        }
        out[j] = bmm_out(q, acc, mode);
    }
}

static void bmm_axpy_any(const int8_t *l, const int8_t *r, int8_t *out, int32_t n, int32_t dstep,
                         int32_t depth, int32_t lo, int32_t ro, bmm_rq_t q)
{
    if (q.mode == 2) {
        bmm_axpy(l, r, out, n, dstep, depth, lo, ro, q, 2);
    } else if (q.mode == 1) {
        bmm_axpy(l, r, out, n, dstep, depth, lo, ro, q, 1);
    } else {
        bmm_axpy(l, r, out, n, dstep, depth, lo, ro, q, 0);
    }
}

/* The general loop: any strides. */
static void bmm_rows(const ekrt_bmm_t *p, const int8_t *l, const int8_t *r, int8_t *out)
{
    int32_t i, j, k;
    for (i = 0; i < p->rows; i++) {
        const int8_t *lrow = l + i * p->lhs_row;
        for (j = 0; j < p->cols; j++) {
            const int8_t *rcol = r + j * p->rhs_col;
            /* uint32: TFLM's int32 sum wraps the same way (never in practice). */
            uint32_t acc = 0;
            for (k = 0; k < p->depth; k++) {
                acc += (uint32_t)(((int32_t)lrow[k * p->lhs_depth] + p->lhs_off) *
                                  ((int32_t)rcol[k * p->rhs_depth] + p->rhs_off));
            }
            *out++ = ekrt_clamp8(ekrt_mul_q((int32_t)acc, p->mult, p->shift) + p->out_zp,
                                 p->act_min, p->act_max);
        }
    }
}

void ekrt_batch_matmul(const ekrt_bmm_t *p, const int8_t *lhs, const int8_t *rhs, int8_t *out)
{
    const bmm_rq_t q = bmm_rq(p);
    const int dot = p->lhs_depth == 1 && p->rhs_depth == 1 && p->depth <= EKRT_BMM_DOT_MAX;
    const int axpy = p->lhs_depth == 1 && p->rhs_col == 1 && p->depth <= EKRT_BMM_AXPY_MAX;
    const int32_t rows = p->rows, cols = p->cols, depth = p->depth, lhs_row = p->lhs_row;
    const int32_t lo = p->lhs_off, ro = p->rhs_off;
    int32_t b0, b1, b2, i;
    for (b0 = 0; b0 < p->batch[0]; b0++) {
        for (b1 = 0; b1 < p->batch[1]; b1++) {
            for (b2 = 0; b2 < p->batch[2]; b2++) {
                const int8_t *l = lhs + b0 * p->lhs_batch[0] + b1 * p->lhs_batch[1] +
                                  b2 * p->lhs_batch[2];
                const int8_t *r = rhs + b0 * p->rhs_batch[0] + b1 * p->rhs_batch[1] +
                                  b2 * p->rhs_batch[2];
                if (!dot && !axpy) {
                    bmm_rows(p, l, r, out);
                    out += rows * cols;
                    continue;
                }
                for (i = 0; i < rows; i++, out += cols) {
                    if (dot) {
                        bmm_dot_any(l + i * lhs_row, r, out, cols, p->rhs_col, depth, lo, ro, q);
                    } else {
                        bmm_axpy_any(l + i * lhs_row, r, out, cols, p->rhs_depth, depth, lo, ro, q);
                    }
                }
            }
        }
    }
}

void ekrt_neg_f32(const float *in, float *out, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++) {
        out[i] = -in[i];
    }
}

/* An operand's step over the output's elements: 1 if it has all of them (contiguous), 0 if it
 * is one element (advances along no axis), -1 otherwise. */
static int32_t select_step(const int32_t *dims, const int32_t *s)
{
    int32_t d, any = 0, all = 1;
    for (d = 0; d < 5; d++) {
        if (dims[d] > 1) {
            any |= s[d] != 0, all &= s[d] != 0;
        }
    }
    return all ? any : (any ? -1 : 0);
}

void ekrt_select(const ekrt_select_t *p, const int8_t *cond, const int8_t *x, const int8_t *y,
                 int8_t *out)
{
    int32_t i0, i1, i2, i3, i4;
    const int32_t kc = select_step(p->dims, p->sc), kx = select_step(p->dims, p->sx);
    const int32_t ky = select_step(p->dims, p->sy);
    if (kc >= 0 && kx >= 0 && ky >= 0) { /* each operand whole or a scalar: one flat loop */
        const int32_t n = p->dims[0] * p->dims[1] * p->dims[2] * p->dims[3] * p->dims[4];
        if (kc && kx && !ky) { /* a mask: the scores, or one fill value */
            const int8_t fill = y[0];
            i0 = 0;
#ifdef EKRT_DSP
            { /* 4 at a time: USUB8 sets GE where the condition byte is >= 1, SEL takes x there */
                const uint32_t f4 = (uint32_t)(uint8_t)fill * 0x01010101u, ones = 0x01010101u;
                for (; i0 + 4 <= n; i0 += 4) {
                    uint32_t c = ekrt_ld32(cond + i0), v = ekrt_ld32(x + i0), r;
                    __asm__("usub8 %0, %1, %2\n\tsel %0, %3, %4"
                            : "=&r"(r)
                            : "r"(c), "r"(ones), "r"(v), "r"(f4)
                            : "cc");
                    __builtin_memcpy(out + i0, &r, 4);
                }
            }
#endif
            for (; i0 < n; i0++) {
                out[i0] = cond[i0] ? x[i0] : fill;
            }
        } else {
            for (i0 = 0; i0 < n; i0++) {
                out[i0] = cond[i0 * kc] ? x[i0 * kx] : y[i0 * ky];
            }
        }
        return;
    }
    for (i0 = 0; i0 < p->dims[0]; i0++) {
        for (i1 = 0; i1 < p->dims[1]; i1++) {
            for (i2 = 0; i2 < p->dims[2]; i2++) {
                for (i3 = 0; i3 < p->dims[3]; i3++) {
                    const int8_t *c = cond + i0 * p->sc[0] + i1 * p->sc[1] + i2 * p->sc[2] +
                                       i3 * p->sc[3];
                    const int8_t *a = x + i0 * p->sx[0] + i1 * p->sx[1] + i2 * p->sx[2] +
                                      i3 * p->sx[3];
                    const int8_t *b = y + i0 * p->sy[0] + i1 * p->sy[1] + i2 * p->sy[2] +
                                      i3 * p->sy[3];
                    for (i4 = 0; i4 < p->dims[4]; i4++) {
                        *out++ = c[i4 * p->sc[4]] ? a[i4 * p->sx[4]] : b[i4 * p->sy[4]];
                    }
                }
            }
        }
    }
}

void ekrt_select_slice(const ekrt_select_slice_t *p, const int32_t *key, const int8_t *x,
                       int8_t *out)
{
    static const int8_t take_x = 1;
    int32_t k;
    if (p->keys == 0) {
        k = *key;
        if (k >= 0 && k < p->n) {
            ekrt_select(&p->row, &take_x, x + k * p->x_step, x + k * p->x_step, out + k * p->out_step);
        }
        return;
    }
    for (k = 0; k < p->n; k++) {
        if (p->keys[k] == *key) {
            const int8_t *xs = x + k * p->x_step;
            ekrt_select(&p->row, &take_x, xs, xs, out + k * p->out_step);
        }
    }
}

/* One innermost row of ekrt_compare: n elements from element ia of a, ib of b. */
static void compare_row(const ekrt_compare_t *p, const void *a, const void *b, int32_t ia,
                        int32_t ib, int32_t n, int8_t *out)
{
    int32_t i, sa = p->sa[4], sb = p->sb[4], mask = p->mask;
    if (p->logical) {
        const int8_t *x = (const int8_t *)a + ia, *y = (const int8_t *)b + ib;
        if (sa == 1 && sb == 1 && (mask == 8 || mask == 14)) { /* AND, OR of two rows, branch-free: */
            const uint8_t *u = (const uint8_t *)x, *v = (const uint8_t *)y; /* bit 8 of byte + 255 */
            if (mask == 8) {                                                /* is "nonzero" */
                for (i = 0; i < n; i++) {
                    out[i] = (int8_t)((((uint32_t)u[i] + 255u) & ((uint32_t)v[i] + 255u)) >> 8);
                }
            } else {
                for (i = 0; i < n; i++) {
                    out[i] = (int8_t)((((uint32_t)u[i] + 255u) | ((uint32_t)v[i] + 255u)) >> 8);
                }
            }
            return;
        }
        for (i = 0; i < n; i++) {
            out[i] = (int8_t)((mask >> (((x[i * sa] != 0) << 1) | (y[i * sb] != 0))) & 1);
        }
        return;
    }
    if (p->ta == 0 && p->tb == 0) { /* int32 (a position against its range): no tables */
        const int32_t *x = (const int32_t *)a + ia, *y = (const int32_t *)b + ib;
        for (i = 0; i < n; i++) {
            int32_t va = x[i * sa], vb = y[i * sb];
            out[i] = (int8_t)((mask >> ((va > vb) - (va < vb) + 1)) & 1);
        }
        return;
    }
    for (i = 0; i < n; i++) {
        int32_t va = p->ta ? p->ta[(uint8_t)((const int8_t *)a)[ia + i * sa]]
                           : ((const int32_t *)a)[ia + i * sa];
        int32_t vb = p->tb ? p->tb[(uint8_t)((const int8_t *)b)[ib + i * sb]]
                           : ((const int32_t *)b)[ib + i * sb];
        out[i] = (int8_t)((mask >> ((va > vb) - (va < vb) + 1)) & 1);
    }
}

void ekrt_compare(const ekrt_compare_t *p, const void *a, const void *b, int8_t *out)
{
    int32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < p->dims[0]; i0++) {
        for (i1 = 0; i1 < p->dims[1]; i1++) {
            for (i2 = 0; i2 < p->dims[2]; i2++) {
                for (i3 = 0; i3 < p->dims[3]; i3++) {
                    int32_t ia = i0 * p->sa[0] + i1 * p->sa[1] + i2 * p->sa[2] + i3 * p->sa[3];
                    int32_t ib = i0 * p->sb[0] + i1 * p->sb[1] + i2 * p->sb[2] + i3 * p->sb[3];
                    compare_row(p, a, b, ia, ib, p->dims[4], out);
                    out += p->dims[4];
                }
            }
        }
    }
}

void ekrt_square_f32(const float *in, float *out, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++) {
        out[i] = in[i] * in[i];
    }
}
