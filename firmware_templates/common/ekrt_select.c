/* edgekit-rt: selection and pointwise kernels of Keras 3's common layers (int8, TFLM-exact):
 * ARG_MAX/ARG_MIN, REDUCE_MAX/REDUCE_MIN, SPLIT, MAXIMUM/MINIMUM, PRELU, SQUARED_DIFFERENCE. */
#include "ekrt_kernels.h"

/* ------------------------------------------------------------------ arg max / min */

/* Strictly greater (less) replaces the best so far: the first index wins ties, as TFLM's
 * std::greater / std::less comparison. */
#define EKRT_ARG_LOOP(CMP)                                                                \
    do {                                                                                  \
        int32_t o, i, k;                                                                  \
        for (o = 0; o < p->outer; o++) {                                                  \
            const int8_t *base = in + (size_t)o * p->axis_size * p->inner;                \
            for (i = 0; i < p->inner; i++) {                                              \
                int32_t best = base[i], at = 0;                                           \
                for (k = 1; k < p->axis_size; k++) {                                      \
                    int32_t v = base[(size_t)k * p->inner + i];                           \
                    if (v CMP best) {                                                     \
                        best = v;                                                         \
                        at = k;                                                           \
                    }                                                                     \
                }                                                                         \
                out[(size_t)o * p->inner + i] = at;                                       \
            }                                                                             \
        }                                                                                 \
    } while (0)

void ekrt_arg_max(const ekrt_argminmax_t *p, const int8_t *in, int32_t *out)
{
    EKRT_ARG_LOOP(>);
}

void ekrt_arg_min(const ekrt_argminmax_t *p, const int8_t *in, int32_t *out)
{
    EKRT_ARG_LOOP(<);
}

/* ------------------------------------------------------------------ reduce max / min */

#define EKRT_REDUCE_LOOP(INIT, CMP)                                                       \
    do {                                                                                  \
        int32_t o, i, r;                                                                  \
        for (o = 0; o < p->outer; o++) {                                                  \
            const int8_t *base = in + (size_t)o * p->reduce * p->inner;                   \
            for (i = 0; i < p->inner; i++) {                                              \
                int32_t m = (INIT);                                                       \
                for (r = 0; r < p->reduce; r++) {                                         \
                    int32_t v = base[(size_t)r * p->inner + i];                           \
                    m = v CMP m ? v : m;                                                  \
                }                                                                         \
                *out++ = (int8_t)m;                                                       \
            }                                                                             \
        }                                                                                 \
    } while (0)

void ekrt_reduce_max(const ekrt_reduce_t *p, const int8_t *in, int8_t *out)
{
    EKRT_REDUCE_LOOP(-128, >);
}

void ekrt_reduce_min(const ekrt_reduce_t *p, const int8_t *in, int8_t *out)
{
    EKRT_REDUCE_LOOP(127, <);
}

/* ------------------------------------------------------------------ split */

void ekrt_split(const ekrt_concat_t *p, const int8_t *in, int8_t *const *outs)
{
    int32_t o, k, i;
    for (o = 0; o < p->outer; o++) {
        for (k = 0; k < p->n_inputs; k++) {
            int32_t n = p->in_axis_bytes[k];
            int8_t *dst = outs[k] + (size_t)o * n;
            for (i = 0; i < n; i++) {
                dst[i] = *in++;
            }
        }
    }
}

/* ------------------------------------------------------------------ broadcast binary */

static inline int8_t max1(const ekrt_binary_t *p, int32_t x, int32_t y)
{
    (void)p;
    return (int8_t)(x > y ? x : y);
}

static inline int8_t min1(const ekrt_binary_t *p, int32_t x, int32_t y)
{
    (void)p;
    return (int8_t)(x < y ? x : y);
}

static inline int8_t prelu1(const ekrt_binary_t *p, int32_t x, int32_t alpha)
{
    int32_t v = x + p->in1_off;
    v = v >= 0 ? ekrt_mul_q(v, p->m1, p->sh1) : ekrt_mul_q(v * (alpha + p->in2_off), p->mo, p->sho);
    return ekrt_clamp8(v + p->out_zp, p->act_min, p->act_max);
}

static inline int8_t sqdiff1(const ekrt_binary_t *p, int32_t x, int32_t y)
{
    int32_t a = ekrt_mul_q((x + p->in1_off) * (1 << p->left_shift), p->m1, p->sh1);
    int32_t b = ekrt_mul_q((y + p->in2_off) * (1 << p->left_shift), p->m2, p->sh2);
    int32_t d = a - b;
    return ekrt_clamp8(ekrt_mul_q(d * d, p->mo, p->sho) + p->out_zp, p->act_min, p->act_max);
}

void ekrt_maximum(const ekrt_binary_t *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    EKRT_BINARY_LOOP(max1);
}

void ekrt_minimum(const ekrt_binary_t *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    EKRT_BINARY_LOOP(min1);
}

void ekrt_prelu(const ekrt_binary_t *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    EKRT_BINARY_LOOP(prelu1);
}

void ekrt_squared_difference(const ekrt_binary_t *p, const int8_t *in1, const int8_t *in2,
                             int8_t *out)
{
    int32_t d, i, scalar2 = p->broadcast, full1 = 1;
    for (d = 0; d < 5; d++) {
        if (p->dims[d] > 1) {
            scalar2 &= p->s2[d] == 0, full1 &= p->s1[d] != 0;
        }
    }
    if (scalar2 && full1) {
        /* x less a run-time scalar (a normalization's mean): the scalar's term once */
        const int32_t b = ekrt_mul_q((in2[0] + p->in2_off) * (1 << p->left_shift), p->m2, p->sh2);
        const int32_t o1 = p->in1_off, ls = p->left_shift, m1 = p->m1, sh1 = p->sh1;
        const int32_t mo = p->mo, sho = p->sho, zp = p->out_zp, lo = p->act_min, hi = p->act_max;
        for (i = 0; i < p->size; i++) {
            int32_t a = ekrt_mul_q((in1[i] + o1) * (1 << ls), m1, sh1) - b;
            int32_t v = ekrt_mul_q(a * a, mo, sho) + zp;
            out[i] = (int8_t)(v < lo ? lo : (v > hi ? hi : v));
        }
        return;
    }
    EKRT_BINARY_LOOP(sqdiff1);
}
