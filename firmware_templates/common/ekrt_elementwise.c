/* edgekit-rt: pooling, elementwise and data-movement kernels (int8, TFLM-exact). */
#include "ekrt_kernels.h"
#include "ekrt_dsp.h"

/* ------------------------------------------------------------------ pooling */

/* Along one axis: the window of output `o` starts at input `*start` (negative inside the
 * padding); kernel taps [*lo, *hi) fall inside the input. */
static inline void pool_window(int32_t o, int32_t stride, int32_t pad, int32_t in, int32_t k,
                               int32_t *start, int32_t *lo, int32_t *hi)
{
    *start = o * stride - pad;
    *lo = *start < 0 ? -*start : 0;
    *hi = in - *start < k ? in - *start : k;
}

/* TFLM's rounded average of count values summing to acc, clamped. */
static inline int8_t avg_round(const ekrt_pool_t *p, int32_t acc, int32_t count)
{
    if (count > 0) {
        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    }
    return ekrt_clamp8(acc, p->act_min, p->act_max);
}

void ekrt_avgpool(const ekrt_pool_t *p, const int8_t *in, int8_t *out)
{
    int32_t oy, ox, c, fy, fx, y0, fy0, fy1, x0, fx0, fx1;
    for (oy = 0; oy < p->out_h; oy++) {
        pool_window(oy, p->stride_h, p->pad_h, p->in_h, p->k_h, &y0, &fy0, &fy1);
        for (ox = 0; ox < p->out_w; ox++, out += p->c) {
            pool_window(ox, p->stride_w, p->pad_w, p->in_w, p->k_w, &x0, &fx0, &fx1);
            int32_t count = (fy1 - fy0) * (fx1 - fx0);
            c = 0;
#ifdef EKRT_DSP
            /* 4 channels at once in halfword lanes (SADD16: |sum| <= 256 * 128 fits) */
            for (; count <= 256 && c + 4 <= p->c; c += 4) {
                uint32_t lo = 0, hi = 0;
                for (fy = fy0; fy < fy1; fy++) {
                    const int8_t *row = in + ((size_t)(y0 + fy) * p->in_w + x0) * p->c + c;
                    for (fx = fx0; fx < fx1; fx++) {
                        uint32_t v = ekrt_ld32(row + (size_t)fx * p->c);
                        lo = __sadd16(lo, (uint32_t)ekrt_sxtb16_lo(v));
                        hi = __sadd16(hi, (uint32_t)ekrt_sxtb16_hi(v));
                    }
                }
                out[c] = avg_round(p, (int16_t)lo, count);
                out[c + 1] = avg_round(p, (int16_t)hi, count);
                out[c + 2] = avg_round(p, (int16_t)(lo >> 16), count);
                out[c + 3] = avg_round(p, (int16_t)(hi >> 16), count);
            }
#endif
            for (; c < p->c; c++) {
                int32_t acc = 0;
                for (fy = fy0; fy < fy1; fy++) {
                    const int8_t *row = in + ((size_t)(y0 + fy) * p->in_w + x0) * p->c + c;
                    for (fx = fx0; fx < fx1; fx++) {
                        acc += row[(size_t)fx * p->c];
                    }
                }
                out[c] = avg_round(p, acc, count);
            }
        }
    }
}

void ekrt_maxpool(const ekrt_pool_t *p, const int8_t *in, int8_t *out)
{
    int32_t oy, ox, c, fy, fx, y0, fy0, fy1, x0, fx0, fx1;
    for (oy = 0; oy < p->out_h; oy++) {
        pool_window(oy, p->stride_h, p->pad_h, p->in_h, p->k_h, &y0, &fy0, &fy1);
        for (ox = 0; ox < p->out_w; ox++) {
            pool_window(ox, p->stride_w, p->pad_w, p->in_w, p->k_w, &x0, &fx0, &fx1);
            for (c = 0; c < p->c; c++) {
                int32_t m = -128;
                for (fy = fy0; fy < fy1; fy++) {
                    const int8_t *row = in + ((size_t)(y0 + fy) * p->in_w + x0) * p->c + c;
                    for (fx = fx0; fx < fx1; fx++) {
                        int32_t v = row[(size_t)fx * p->c];
                        m = v > m ? v : m;
                    }
                }
                *out++ = ekrt_clamp8(m, p->act_min, p->act_max);
            }
        }
    }
}

/* ------------------------------------------------------------------ binary */

static inline int8_t add1(const ekrt_binary_t *p, int32_t x, int32_t y)
{
    int32_t a = (int32_t)((uint32_t)(x + p->in1_off) << p->left_shift);
    int32_t b = (int32_t)((uint32_t)(y + p->in2_off) << p->left_shift);
    int32_t s = ekrt_mul_q(a, p->m1, p->sh1) + ekrt_mul_q(b, p->m2, p->sh2);
    return ekrt_clamp8(ekrt_mul_q(s, p->mo, p->sho) + p->out_zp, p->act_min, p->act_max);
}

static inline int8_t sub1(const ekrt_binary_t *p, int32_t x, int32_t y)
{
    int32_t a = (int32_t)((uint32_t)(x + p->in1_off) << p->left_shift);
    int32_t b = (int32_t)((uint32_t)(y + p->in2_off) << p->left_shift);
    int32_t s = ekrt_mul_q(a, p->m1, p->sh1) - ekrt_mul_q(b, p->m2, p->sh2);
    return ekrt_clamp8(ekrt_mul_q(s, p->mo, p->sho) + p->out_zp, p->act_min, p->act_max);
}

static inline int8_t mul1(const ekrt_binary_t *p, int32_t x, int32_t y)
{
    int32_t v = ekrt_mul_q((x + p->in1_off) * (y + p->in2_off), p->mo, p->sho) + p->out_zp;
    return ekrt_clamp8(v, p->act_min, p->act_max);
}

/* EKRT_BINARY_LOOP: ekrt_kernels.h (the kernels of ekrt_select.c use it too). */

#ifndef EKRT_SINGLE_ROUNDING
/* add1, sub1 and mul1 (kind 0, 1, 2) without broadcast or with one operand a single element
 * (a run-time scalar: a normalization's mean or inverse deviation), when every ekrt_mul_q in
 * them is ekrt_mulq_small_r's (TFLM's int8 ADD/SUB: left shift 20, so |input| < 2^28 and |sum|
 * < 2^29; MUL: |product| <= 255 * 255; shifts <= 0): each multiply from loop invariants, the
 * scalar's term once. 0 when it does not apply. */
typedef struct {
    int32_t o, ls, m, k, sm, r;
} bin_term_t;

static inline __attribute__((always_inline)) int32_t bin_term(bin_term_t t, int32_t v, int kind)
{
    if (kind == 2) {
        return v + t.o;
    }
    return ekrt_mulq_small_r((int32_t)((uint32_t)(v + t.o) << t.ls), t.m, t.k, t.sm, t.r);
}

static inline bin_term_t bin_q(int32_t o, int32_t ls, int32_t m, int32_t sh)
{
    bin_term_t t;
    t.o = o, t.ls = ls, t.m = m, t.r = -sh;
    t.k = t.r > 0 ? 1 << (t.r - 1) : 0;
    t.sm = -(t.r > 0);
    return t;
}

static inline __attribute__((always_inline)) int binary_fast(const ekrt_binary_t *p,
                                                             const int8_t *in1,
                                                             const int8_t *in2, int8_t *out,
                                                             int kind)
{
    const int32_t n = p->size, zp = p->out_zp, lo = p->act_min, hi = p->act_max;
    int32_t st1 = 1, st2 = 1, i, d;
    bin_term_t t1, t2, to;
    if (p->broadcast) { /* one operand a scalar (advancing along no axis), the other full */
        int full1 = 1, full2 = 1;
        st1 = st2 = 0;
        for (d = 0; d < 5; d++) {
            if (p->dims[d] > 1) {
                st1 |= p->s1[d] != 0, st2 |= p->s2[d] != 0;
                full1 &= p->s1[d] != 0, full2 &= p->s2[d] != 0;
            }
        }
        if (st1 == st2 || !(st1 ? full1 : full2)) {
            return 0;
        }
    }
    if (p->sho > 0 || p->sho < -31 || p->mo < 0 ||
        (kind != 2 && (p->left_shift > 20 || p->sh1 > 0 || p->sh2 > 0 || p->sh1 < -31 ||
                       p->sh2 < -31 || p->m1 < 0 || p->m2 < 0))) {
        return 0;
    }
    t1 = bin_q(p->in1_off, p->left_shift, p->m1, p->sh1);
    t2 = bin_q(p->in2_off, p->left_shift, p->m2, p->sh2);
    to = bin_q(0, 0, p->mo, p->sho);
#define EKRT_BIN_OUT(A, B)                                                                    \
    do {                                                                                      \
        int32_t s_ = kind == 0 ? (A) + (B) : (kind == 1 ? (A) - (B) : (A) * (B));             \
        int32_t v_ = ekrt_mulq_small_r(s_, to.m, to.k, to.sm, to.r) + zp;                     \
        out[i] = (int8_t)(v_ < lo ? lo : (v_ > hi ? hi : v_));                                \
    } while (0)
    if (st1 && st2) {
        for (i = 0; i < n; i++) {
            EKRT_BIN_OUT(bin_term(t1, in1[i], kind), bin_term(t2, in2[i], kind));
        }
    } else if (st1) {
        const int32_t b = bin_term(t2, in2[0], kind);
        for (i = 0; i < n; i++) {
            EKRT_BIN_OUT(bin_term(t1, in1[i], kind), b);
        }
    } else {
        const int32_t a = bin_term(t1, in1[0], kind);
        for (i = 0; i < n; i++) {
            EKRT_BIN_OUT(a, bin_term(t2, in2[i], kind));
        }
    }
#undef EKRT_BIN_OUT
    return 1;
}
#endif

void ekrt_add(const ekrt_binary_t *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
#ifndef EKRT_SINGLE_ROUNDING
    if (binary_fast(p, in1, in2, out, 0)) {
        return;
    }
#endif
    EKRT_BINARY_LOOP(add1);
}

/* tab: each input's rescaled term (add1's ekrt_mul_q of (x - zp) << left_shift) for the 256 int8
 * values, indexed by the byte read unsigned (0..127, then -128..-1), input 1's then input 2's,
 * computed at generation time in the default (double) rounding: two loads replace two
 * multiplies. The generator checks every term is below 2^29, so the output multiply is
 * ekrt_mulq_small_r's when it shifts right (always, for TFLM's ADD parameters). */
void ekrt_add_lut(const ekrt_binary_t *p, const int32_t *tab, const int8_t *in1, const int8_t *in2,
                  int8_t *out)
{
#ifndef EKRT_SINGLE_ROUNDING
    const uint8_t *a = (const uint8_t *)in1, *b = (const uint8_t *)in2, *e = a + p->size;
    const int32_t *t2 = tab + 256;
    const int32_t zp = p->out_zp, mo = p->mo, ro = -p->sho, lo = p->act_min, hi = p->act_max;
    if (!p->broadcast && ro > 0 && mo >= 0) {
        const int32_t ko = 1 << (ro - 1);
#ifdef EKRT_DSP
        /* The whole int8 range: ekrt_rq_t, the zero point folded into the rounding term as in
         * ekrt_rq_table (exact while |k'| < 2^30 - 1; the sum of two terms is under 2^30). */
        int32_t k;
        if (lo == -128 && hi == 127 && ekrt_rq_kz(zp, ro, &k)) {
            __asm__("" : "+r"(t2));
            for (; a != e; a++, b++, out++) {
                *out = ekrt_rq_t(2 * (tab[*a] + t2[*b]), mo, k, ro);
            }
            return;
        }
#endif
        __asm__("" : "+r"(t2)); /* else GCC rebuilds t2's index from tab's in the loop */
        for (; a != e; a++, b++, out++) {
            int32_t v = ekrt_mulq_small_r(tab[*a] + t2[*b], mo, ko, -1, ro) + zp;
            v = v < lo ? lo : v;
            *out = (int8_t)(v > hi ? hi : v);
        }
        return;
    }
#endif
    (void)tab;
    ekrt_add(p, in1, in2, out);
}

void ekrt_sub(const ekrt_binary_t *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
#ifndef EKRT_SINGLE_ROUNDING
    if (binary_fast(p, in1, in2, out, 1)) {
        return;
    }
#endif
    EKRT_BINARY_LOOP(sub1);
}

void ekrt_mul(const ekrt_binary_t *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
#ifndef EKRT_SINGLE_ROUNDING
    if (binary_fast(p, in1, in2, out, 2)) {
        return;
    }
#endif
    EKRT_BINARY_LOOP(mul1);
}

/* ------------------------------------------------------------------ unary */

/* TFLM's reference_ops::Requantize: the zero point added with int32 wrap-around as TFLM's
 * int32 sum does (only possible at scale ratios of 2^15 and more), then clamped to
 * [act_min, act_max], the output type's range. In place (out == in) when TOUT is no wider
 * than TIN: element i is written at or below the bytes of element i, already read. */
#define EKRT_REQUANTIZE(NAME, TIN, TOUT)                                                  \
    void NAME(const ekrt_unary_t *p, const TIN *in, TOUT *out)                            \
    {                                                                                     \
        int32_t i;                                                                        \
        for (i = 0; i < p->size; i++) {                                                   \
            int32_t v = ekrt_mul_q((int32_t)in[i] - p->in_zp, p->mult, p->shift);         \
            v = (int32_t)((uint32_t)v + (uint32_t)p->out_zp);                             \
            out[i] = (TOUT)(v < p->act_min ? p->act_min : (v > p->act_max ? p->act_max : v)); \
        }                                                                                 \
    }

EKRT_REQUANTIZE(ekrt_requantize, int8_t, int8_t)
EKRT_REQUANTIZE(ekrt_requantize_u8_s8, uint8_t, int8_t)
EKRT_REQUANTIZE(ekrt_requantize_s8_u8, int8_t, uint8_t)
EKRT_REQUANTIZE(ekrt_requantize_s8_s16, int8_t, int16_t)
EKRT_REQUANTIZE(ekrt_requantize_s16_s8, int16_t, int8_t)
EKRT_REQUANTIZE(ekrt_requantize_s16_s16, int16_t, int16_t)

/* round(q) half away from zero without libm, and without the undefined conversion of an
 * out-of-range float: q is first limited to |q| <= 2^22, where the conversion is defined and
 * q's fraction exact. NaN gives -2^22. (TFLM converts an out-of-int32-range quotient
 * undefinedly: x86 gives INT32_MIN, so the host reference clamps huge inputs of either sign
 * to the type's minimum; here they saturate to the nearer end.) */
static int32_t ekrt_round_limited(float q)
{
    int32_t t;
    float frac;
    if (!(q > -4194304.0f)) {
        q = -4194304.0f; /* also NaN */
    } else if (q > 4194304.0f) {
        q = 4194304.0f;
    }
    t = (int32_t)q; /* toward zero */
    frac = q - (float)t;
    if (frac >= 0.5f) {
        t += 1;
    } else if (frac <= -0.5f) {
        t -= 1;
    }
    return t;
}

#define EKRT_QUANTIZE_F32(name, out_t)                                                          \
    void name(const ekrt_affine_t *p, const float *in, out_t *out)                              \
    {                                                                                           \
        int32_t i;                                                                              \
        for (i = 0; i < p->size; i++) {                                                         \
            int32_t q = ekrt_round_limited(in[i] / p->scale) + p->zero_point;                   \
            out[i] = (out_t)(q < p->act_min ? p->act_min : (q > p->act_max ? p->act_max : q));  \
        }                                                                                       \
    }

EKRT_QUANTIZE_F32(ekrt_quantize_f32_s8, int8_t)
EKRT_QUANTIZE_F32(ekrt_quantize_f32_s16, int16_t)

/* TFLM computes (float)(double scale * (in - zp)). The double product of a 24-bit mantissa
 * and an integer below 2^17 is exact, so rounding it once to float is the float product:
 * float arithmetic gives the same bits without soft double on a single-precision FPU. */
#define EKRT_DEQUANTIZE_F32(name, in_t)                                                         \
    void name(const ekrt_affine_t *p, const in_t *in, float *out)                               \
    {                                                                                           \
        int32_t i;                                                                              \
        for (i = 0; i < p->size; i++) {                                                         \
            out[i] = p->scale * (float)((int32_t)in[i] - p->zero_point);                        \
        }                                                                                       \
    }

EKRT_DEQUANTIZE_F32(ekrt_dequantize_s8_f32, int8_t)
EKRT_DEQUANTIZE_F32(ekrt_dequantize_u8_f32, uint8_t)
EKRT_DEQUANTIZE_F32(ekrt_dequantize_s16_f32, int16_t)

void ekrt_flip_sign8(const int8_t *in, int8_t *out, int32_t n)
{
    int32_t i = 0;
#if defined(__GNUC__)
    if ((((uintptr_t)in | (uintptr_t)out) & 3u) == 0) {
        for (; i + 4 <= n; i += 4) { /* a word at a time (memcpy of 4 bytes is one ldr/str) */
            uint32_t v;
            __builtin_memcpy(&v, in + i, 4);
            v ^= 0x80808080u;
            __builtin_memcpy(out + i, &v, 4);
        }
    }
#endif
    for (; i < n; i++) {
        out[i] = (int8_t)((uint8_t)in[i] ^ 0x80u);
    }
}

void ekrt_leaky_relu(const ekrt_unary_t *p, const int8_t *in, int8_t *out)
{
    /* mult/shift: identity rescale; radius/act_min reused: alpha multiplier and shift */
    int32_t i;
    for (i = 0; i < p->size; i++) {
        int32_t v = (int32_t)in[i] - p->in_zp;
        v = v >= 0 ? ekrt_mul_q(v, p->mult, p->shift) : ekrt_mul_q(v, p->radius, p->act_min);
        out[i] = ekrt_clamp8(v + p->out_zp, -128, 127);
    }
}

void ekrt_clamp(const ekrt_unary_t *p, const int8_t *in, int8_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; i++) {
        out[i] = ekrt_clamp8(in[i], p->act_min, p->act_max);
    }
}

void ekrt_relu_requant(const ekrt_unary_t *p, const int8_t *in, int8_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; i++) {
        int32_t v = p->out_zp + ekrt_mul_q((int32_t)in[i] - p->in_zp, p->mult, p->shift);
        out[i] = ekrt_clamp8(v, p->act_min, p->act_max);
    }
}

/* ------------------------------------------------------------------ data movement */

void ekrt_copy(const int8_t *in, int8_t *out, int32_t n)
{
    int32_t i = 0;
#if defined(__GNUC__) && defined(EKRT_DSP)
    const int words = 1; /* Armv7E-M loads and stores words at any address (im2col's rows) */
#elif defined(__GNUC__)
    const int words = (((uintptr_t)in | (uintptr_t)out) & 3u) == 0;
#endif
    if (in == out) {
        return;
    }
#if defined(__GNUC__)
    if (words) {
        for (; i + 4 <= n; i += 4) { /* word copies (memcpy of 4 bytes is one ldr/str) */
            uint32_t v;
            __builtin_memcpy(&v, in + i, 4);
            __builtin_memcpy(out + i, &v, 4);
        }
    }
#endif
    for (; i < n; i++) {
        out[i] = in[i];
    }
}

void ekrt_lut(const int8_t *table, const int8_t *in, int8_t *out, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++) {
        out[i] = table[(uint8_t)in[i]];
    }
}

void ekrt_concat(const ekrt_concat_t *p, const int8_t *const *ins, int8_t *out)
{
    int32_t o, k, i;
    for (o = 0; o < p->outer; o++) {
        for (k = 0; k < p->n_inputs; k++) {
            int32_t n = p->in_axis_bytes[k];
            const int8_t *src = ins[k] + (size_t)o * n;
            for (i = 0; i < n; i++) {
                *out++ = src[i];
            }
        }
    }
}

void ekrt_pad(const ekrt_pad_t *p, const int8_t *in, int8_t *out)
{
    int32_t a, b, c, d;
    for (a = 0; a < p->out_dims[0]; a++) {
        int32_t ia = a - p->before[0];
        for (b = 0; b < p->out_dims[1]; b++) {
            int32_t ib = b - p->before[1];
            for (c = 0; c < p->out_dims[2]; c++) {
                int32_t ic = c - p->before[2];
                int inside = ia >= 0 && ia < p->in_dims[0] && ib >= 0 && ib < p->in_dims[1] &&
                             ic >= 0 && ic < p->in_dims[2];
                const int8_t *row = in + (((size_t)ia * p->in_dims[1] + ib) * p->in_dims[2] + ic) *
                                             p->in_dims[3];
                for (d = 0; d < p->out_dims[3]; d++) {
                    int32_t id = d - p->before[3];
                    *out++ = (inside && id >= 0 && id < p->in_dims[3]) ? row[id] : p->pad_value;
                }
            }
        }
    }
}

/* ------------------------------------------------------------------ MEAN */

void ekrt_mean(const ekrt_mean_t *p, const int8_t *in, int8_t *out, int32_t *scratch)
{
    int32_t o, r, i;
    int32_t zp_sum = p->in_zp * p->reduce;
    if (p->inner == 1) { /* the sum in a register (a normalization's mean over the last axis) */
        const int32_t n = p->reduce;
        (void)scratch;
        for (o = 0; o < p->outer; o++, in += n) {
            int32_t acc = 0;
            for (r = 0; r < n; r++) {
                acc += in[r];
            }
            *out++ = ekrt_clamp8(ekrt_mul_q(acc - zp_sum, p->mult, p->shift) + p->out_zp, -128, 127);
        }
        return;
    }
    for (o = 0; o < p->outer; o++) {
        for (i = 0; i < p->inner; i++) {
            scratch[i] = 0;
        }
        for (r = 0; r < p->reduce; r++) {
            for (i = 0; i < p->inner; i++) {
                scratch[i] += *in++;
            }
        }
        for (i = 0; i < p->inner; i++) {
            int32_t v = ekrt_mul_q(scratch[i] - zp_sum, p->mult, p->shift) + p->out_zp;
            *out++ = ekrt_clamp8(v, -128, 127);
        }
    }
}
