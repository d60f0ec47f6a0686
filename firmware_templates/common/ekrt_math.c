/* edgekit-rt: the requantization routines of the weighted kernels (ekrt_requant_t.vec); SOFTMAX,
 * LOGISTIC and TANH (int8), with the gemmlowp-style fixed-point
 * exp and reciprocal that TFLM's reference kernels use, so results match bit for bit.
 * Fixed-point values are plain int32 "raw" numbers; the comment on each helper says
 * how many integer bits its arguments and result carry.
 */
#include "ekrt_kernels.h"

/* ------------------------------------------------------------------ requantization */

/* Requantization runs as a separate tight loop after the MACs, so every parameter stays
 * in a register; the generator picks the routine per layer (unused ones are not linked). */
void ekrt_rq_vec_generic(const ekrt_requant_t *rq, int32_t c0, const int32_t *acc, int8_t *out,
                         int32_t n)
{
    const ekrt_rq_local_t l = ekrt_rq_load(rq);
    int32_t i;
    for (i = 0; i < n; i++) {
        out[i] = ekrt_rq_apply(l, c0 + i, acc[i]);
    }
}

/* Every channel shifts right by r >= 2 and |acc| is small: ekrt_mul_q_small with both
 * rounding terms folded into the 64-bit accumulator preset of one multiply-accumulate:
 * (x*m + (x < 0 ? -2^30 : 2^30) + 2^(30+r)) >> (31 + r); sh = r - 2. */
static inline int8_t rq_fold(int32_t a, int32_t m, int32_t sh, int32_t zp, int32_t lo,
                             int32_t hi)
{
#ifdef EKRT_SINGLE_ROUNDING
    int32_t v = ekrt_mul_q(a, m, -(sh + 2)) + zp;
#else
    int32_t t = a >> 31;
    int64_t preset = (int64_t)(((uint64_t)(uint32_t)(((int32_t)1 << sh) + t) << 32) |
                               (0x40000000u | ((uint32_t)t << 31)));
    int32_t v = ((int32_t)(((int64_t)a * m + preset) >> 32) >> (sh + 1)) + zp;
#endif
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    return (int8_t)v;
}

void ekrt_rq_vec_fast(const ekrt_requant_t *rq, int32_t c0, const int32_t *acc, int8_t *out,
                      int32_t n)
{
    const int32_t zp = rq->out_zp, lo = rq->act_min, hi = rq->act_max;
    const int32_t *mp = rq->mult + c0;
    const int32_t k0 = -rq->base_shift - 2;
    int32_t i;
    for (i = 0; i < n; i++) {
        uint32_t pm = (uint32_t)mp[i];
        out[i] = rq_fold(acc[i], (int32_t)((pm & 0x3FFFFFFFu) | 0x40000000u),
                         k0 - (int32_t)(pm >> 30), zp, lo, hi);
    }
}

void ekrt_rq_vec_fast_s(const ekrt_requant_t *rq, int32_t c0, const int32_t *acc, int8_t *out,
                        int32_t n)
{
    const int32_t zp = rq->out_zp, lo = rq->act_min, hi = rq->act_max;
    const int32_t mask = -(int32_t)rq->per_channel;
    const int32_t *mp = rq->mult;
    const int8_t *sp = rq->shift;
    int32_t i;
    for (i = 0; i < n; i++) {
        int32_t k = (c0 + i) & mask;
        out[i] = rq_fold(acc[i], mp[k], -sp[k] - 2, zp, lo, hi);
    }
}

/* Q0.31 * Q0.31 (or any Qa * Qb -> Q(a+b)). */
#define FX_MUL(a, b) ekrt_srdhm((a), (b))

/* exp(a) for a in [-1/4, 0), a in Q0.31; result Q0.31. */
static int32_t exp_quarter(int32_t a)
{
    const int32_t constant_term = 1895147668;
    const int32_t one_third = 715827883;
    int32_t x = a + (1 << 28); /* Taylor expansion around -1/8 */
    int32_t x2 = FX_MUL(x, x);
    int32_t x3 = FX_MUL(x2, x);
    int32_t x4 = FX_MUL(x2, x2);
    int32_t x4_4 = ekrt_rdbpot(x4, 2);
    int32_t poly = ekrt_rdbpot(FX_MUL(x4_4 + x3, one_third) + x2, 1);
    return constant_term + FX_MUL(constant_term, x + poly);
}

/* exp(a) for a <= 0, a with int_bits integer bits; result Q0.31. */
static int32_t exp_neg(int32_t a, int int_bits)
{
    static const int32_t mults[7] = {1672461947, 1302514674, 790015084, 290630308,
                                     39332535, 720401, 242};
    int frac_bits = 31 - int_bits;
    int32_t quarter = (int32_t)1 << (frac_bits - 2);
    int32_t mask = quarter - 1;
    int32_t amq = (a & mask) - quarter;
    int32_t result = exp_quarter(ekrt_sat_shl(amq, int_bits));
    int32_t remainder = amq - a;
    int e;
    for (e = -2; e <= 4; e++) {
        if (int_bits > e && (remainder & ((int32_t)1 << (frac_bits + e)))) {
            result = FX_MUL(result, mults[e + 2]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* Newton-Raphson 1/(1+a) core for a in [0, 1) (Q0.31); returns x ~ 1/(1+a) in Q2.29. */
static int32_t recip_nr(int32_t a)
{
    int64_t sum = (int64_t)a + INT32_MAX;
    int32_t half_den = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = 1515870810 + FX_MUL(half_den, -1010580540);
    int i;
    for (i = 0; i < 3; i++) {
        int32_t hdx = FX_MUL(half_den, x);
        int32_t one_minus = ((int32_t)1 << 29) - hdx;
        x = x + ekrt_sat_shl(FX_MUL(x, one_minus), 2);
    }
    return x;
}

/* 1/(1+a), a and result Q0.31. */
static int32_t one_over_one_plus(int32_t a)
{
    return ekrt_sat_shl(recip_nr(a), 1);
}

/* (1-a)/(1+a), a and result Q0.31. */
static int32_t one_minus_over_one_plus(int32_t a)
{
    return ekrt_sat_shl(recip_nr(a) - ((int32_t)1 << 29), 2);
}

static int clz32(uint32_t x)
{
    int n = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & 0x80000000u)) {
        x <<= 1;
        n++;
    }
    return n;
}

static int32_t row_max(const int8_t *x, int32_t n)
{
    int32_t c, max_v = -128;
    for (c = 0; c < n; c++) {
        max_v = x[c] > max_v ? x[c] : max_v;
    }
    return max_v;
}

/* 1/sum of a row's exps (Q12.19 sum) as TFLM scales it: the reciprocal and its exponent. */
static int32_t softmax_scale(int32_t sum, int *bits_over_unit)
{
    int headroom = clz32((uint32_t)sum);
    *bits_over_unit = 12 - headroom;
    return one_over_one_plus((int32_t)(((uint32_t)sum << headroom) - 0x80000000u));
}

void ekrt_softmax(const ekrt_softmax_t *p, const int8_t *in, int8_t *out)
{
    int32_t r, c;
    for (r = 0; r < p->rows; r++) {
        const int8_t *x = in + (size_t)r * p->depth;
        int8_t *y = out + (size_t)r * p->depth;
        int32_t max_v = row_max(x, p->depth), sum = 0, scale;
        int bits_over_unit;
        for (c = 0; c < p->depth; c++) {
            int32_t diff = x[c] - max_v;
            if (diff >= p->diff_min) {
                int32_t d = ekrt_srdhm((int32_t)((uint32_t)diff << p->input_left_shift),
                                       p->input_multiplier);
                sum += ekrt_rdbpot(exp_neg(d, 5), 12); /* accumulate in Q12.19 */
            }
        }
        scale = softmax_scale(sum, &bits_over_unit);
        for (c = 0; c < p->depth; c++) {
            int32_t diff = x[c] - max_v;
            if (diff >= p->diff_min) {
                int32_t d = ekrt_srdhm((int32_t)((uint32_t)diff << p->input_left_shift),
                                       p->input_multiplier);
                int32_t e = exp_neg(d, 5);
                int32_t v = ekrt_rdbpot(FX_MUL(scale, e), bits_over_unit + 31 - 8) - 128;
                y[c] = ekrt_clamp8(v, -128, 127);
            } else {
                y[c] = -128;
            }
        }
    }
}

/* exp_table: the exps by distance d to the row's maximum, entry 255 - d (so that an element x
 * reads entry 255 - max + x), then each one's Q12.19 term of the sum (ekrt_rdbpot(e, 12)) in the
 * same order. The output, rdbpot(srdhm(scale, e), n) - 128 with n = bits_over_unit + 23, both
 * roundings merged into one 64-bit product (scale, e >= 0: nested floors of power-of-two
 * divisions): floor((scale * e + 2^30 + 2^(30 + n)) / 2^(31 + n)) = (hi32(scale * e + 2^30) +
 * 2^(n - 2)) >> (n - 1), exact while n <= 31 (a row's sum under 2^28; else the two steps). */
void ekrt_softmax_table(const ekrt_softmax_t *p, const int32_t *exp_table, const int8_t *in, int8_t *out)
{
    const int32_t depth = p->depth;
    int32_t r, c;
    for (r = 0; r < p->rows; r++) {
        const int8_t *x = in + (size_t)r * depth;
        int8_t *y = out + (size_t)r * depth;
        const int32_t *e = exp_table + 255 - row_max(x, depth), *t = e + 256;
        int32_t sum = 0, sum2 = 0, scale, n;
        int bits_over_unit;
        /* Elements below diff_min have a 0 entry: they add nothing and come out at -128. */
        for (c = 0; c + 2 <= depth; c += 2) {
            sum += t[x[c]];
            sum2 += t[x[c + 1]];
        }
        sum += c < depth ? t[x[c]] : 0;
        sum = (int32_t)((uint32_t)sum + (uint32_t)sum2);
        scale = softmax_scale(sum, &bits_over_unit);
        n = bits_over_unit + 31 - 8;
        if (n <= 31) {
            const uint64_t k = ((uint64_t)1 << 30) | ((uint64_t)1 << (30 + n));
            const uint32_t s = (uint32_t)scale;
            for (c = 0; c < depth; c++) {
                uint32_t v = (uint32_t)(((uint64_t)s * (uint32_t)e[x[c]] + k) >> 32) >> (n - 1);
                y[c] = (int8_t)((int32_t)(v > 255u ? 255u : v) - 128);
            }
        } else {
            for (c = 0; c < depth; c++) {
                int32_t v = ekrt_rdbpot(FX_MUL(scale, e[x[c]]), n) - 128;
                y[c] = ekrt_clamp8(v, -128, 127);
            }
        }
    }
}

void ekrt_logistic(const ekrt_unary_t *p, const int8_t *in, int8_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; i++) {
        int32_t v = (int32_t)in[i] - p->in_zp;
        if (v <= -p->radius) {
            out[i] = -128;
        } else if (v >= p->radius) {
            out[i] = 127;
        } else {
            int32_t a = ekrt_mul_q(v, p->mult, p->shift); /* Q4.27 */
            int32_t r;
            if (a == 0) {
                r = (int32_t)1 << 30; /* one half */
            } else {
                int32_t pos = one_over_one_plus(exp_neg(a > 0 ? -a : a, 4));
                r = a > 0 ? pos : INT32_MAX - pos;
            }
            out[i] = ekrt_clamp8(ekrt_rdbpot(r, 23) - 128, -128, 127);
        }
    }
}

void ekrt_tanh(const ekrt_unary_t *p, const int8_t *in, int8_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; i++) {
        int32_t v = (int32_t)in[i] - p->in_zp;
        if (v <= -p->radius) {
            out[i] = -128;
        } else if (v >= p->radius) {
            out[i] = 127;
        } else {
            int32_t a = ekrt_mul_q(v, p->mult, p->shift); /* Q4.27 */
            int32_t r = 0;
            if (a != 0) {
                /* exp(2n) for n = -|a|: the same raw value read with 5 integer bits */
                int32_t t = one_minus_over_one_plus(exp_neg(a < 0 ? a : -a, 5));
                r = a < 0 ? -t : t;
            }
            out[i] = ekrt_clamp8(ekrt_rdbpot(r, 24), -128, 127);
        }
    }
}
