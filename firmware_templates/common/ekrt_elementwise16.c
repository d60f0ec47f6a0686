/* edgekit-rt: int16-activation elementwise, pooling and data-movement kernels (16x8 models),
 * as TFLM's int16 reference kernels. */
#include "ekrt_kernels.h"

static inline int16_t clamp16(int32_t v, int32_t lo, int32_t hi)
{
    v = v < lo ? lo : v;
    return (int16_t)(v > hi ? hi : v);
}

/* ------------------------------------------------------------------ binary */

/* TFLM's AddElementwise/SubElementwise (left shift 15 for int16: 65535 << 15 fits int32). */
static inline int16_t add16(const ekrt_binary_t *p, int32_t x, int32_t y)
{
    int32_t a = (int32_t)((uint32_t)(x + p->in1_off) << p->left_shift);
    int32_t b = (int32_t)((uint32_t)(y + p->in2_off) << p->left_shift);
    int32_t s = ekrt_mul_q(a, p->m1, p->sh1) + ekrt_mul_q(b, p->m2, p->sh2);
    return clamp16(ekrt_mul_q(s, p->mo, p->sho) + p->out_zp, p->act_min, p->act_max);
}

static inline int16_t sub16(const ekrt_binary_t *p, int32_t x, int32_t y)
{
    int32_t a = (int32_t)((uint32_t)(x + p->in1_off) << p->left_shift);
    int32_t b = (int32_t)((uint32_t)(y + p->in2_off) << p->left_shift);
    int32_t s = ekrt_mul_q(a, p->m1, p->sh1) - ekrt_mul_q(b, p->m2, p->sh2);
    return clamp16(ekrt_mul_q(s, p->mo, p->sho) + p->out_zp, p->act_min, p->act_max);
}

/* TFLM's int16 MulElementwise: the int32 product of the offset inputs, rescaled. */
static inline int16_t mul16(const ekrt_binary_t *p, int32_t x, int32_t y)
{
    int32_t v = ekrt_mul_q((x + p->in1_off) * (y + p->in2_off), p->mo, p->sho) + p->out_zp;
    return clamp16(v, p->act_min, p->act_max);
}

void ekrt_add_s16(const ekrt_binary_t *p, const int16_t *in1, const int16_t *in2, int16_t *out)
{
    EKRT_BINARY_LOOP_T(int16_t, add16);
}

void ekrt_sub_s16(const ekrt_binary_t *p, const int16_t *in1, const int16_t *in2, int16_t *out)
{
    EKRT_BINARY_LOOP_T(int16_t, sub16);
}

void ekrt_mul_s16(const ekrt_binary_t *p, const int16_t *in1, const int16_t *in2, int16_t *out)
{
    EKRT_BINARY_LOOP_T(int16_t, mul16);
}

/* ------------------------------------------------------------------ unary */

void ekrt_leaky_relu_s16(const ekrt_unary_t *p, const int16_t *in, int16_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; i++) {
        int32_t v = (int32_t)in[i] - p->in_zp;
        v = v >= 0 ? ekrt_mul_q(v, p->mult, p->shift) : ekrt_mul_q(v, p->radius, p->act_min);
        out[i] = clamp16(v + p->out_zp, -32768, 32767);
    }
}

void ekrt_relu_requant_s16(const ekrt_unary_t *p, const int16_t *in, int16_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; i++) {
        int32_t v = ekrt_mul_q((int32_t)in[i] - p->in_zp, p->mult, p->shift) + p->out_zp;
        out[i] = clamp16(v, p->act_min, p->act_max);
    }
}

/* TFLM's Requantize; the int32 differences and sums wrap as TFLM's do. */
#define EKRT_REQUANTIZE32(NAME, TIN, TOUT)                                                \
    void NAME(const ekrt_unary_t *p, const TIN *in, TOUT *out)                            \
    {                                                                                     \
        int32_t i;                                                                        \
        for (i = 0; i < p->size; i++) {                                                   \
            int32_t v = (int32_t)((uint32_t)(int32_t)in[i] - (uint32_t)p->in_zp);         \
            v = (int32_t)((uint32_t)ekrt_mul_q(v, p->mult, p->shift) + (uint32_t)p->out_zp); \
            out[i] = (TOUT)(v < p->act_min ? p->act_min : (v > p->act_max ? p->act_max : v)); \
        }                                                                                 \
    }

EKRT_REQUANTIZE32(ekrt_requantize_s32_s16, int32_t, int16_t)
EKRT_REQUANTIZE32(ekrt_requantize_s16_s32, int16_t, int32_t)
EKRT_REQUANTIZE32(ekrt_requantize_s32_s8, int32_t, int8_t)
EKRT_REQUANTIZE32(ekrt_requantize_s8_s32, int8_t, int32_t)

/* ------------------------------------------------------------------ pooling */

static inline void window(int32_t o, int32_t stride, int32_t pad, int32_t in, int32_t k,
                          int32_t *start, int32_t *lo, int32_t *hi)
{
    *start = o * stride - pad;
    *lo = *start < 0 ? -*start : 0;
    *hi = in - *start < k ? in - *start : k;
}

/* avg: TFLM's int16 AveragePool (int32 sum, division rounding half away from zero); else max. */
static void pool16(const ekrt_pool_t *p, const int16_t *in, int16_t *out, int avg)
{
    int32_t oy, ox, c, fy, fx, y0, fy0, fy1, x0, fx0, fx1;
    for (oy = 0; oy < p->out_h; oy++) {
        window(oy, p->stride_h, p->pad_h, p->in_h, p->k_h, &y0, &fy0, &fy1);
        for (ox = 0; ox < p->out_w; ox++) {
            int32_t count;
            window(ox, p->stride_w, p->pad_w, p->in_w, p->k_w, &x0, &fx0, &fx1);
            count = (fy1 - fy0) * (fx1 - fx0);
            for (c = 0; c < p->c; c++) {
                int32_t acc = avg ? 0 : -32768;
                for (fy = fy0; fy < fy1; fy++) {
                    const int16_t *row = in + ((size_t)(y0 + fy) * p->in_w + x0) * p->c + c;
                    for (fx = fx0; fx < fx1; fx++) {
                        int32_t v = row[(size_t)fx * p->c];
                        acc = avg ? acc + v : (v > acc ? v : acc);
                    }
                }
                if (avg && count > 0) {
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                }
                *out++ = clamp16(acc, p->act_min, p->act_max);
            }
        }
    }
}

void ekrt_avgpool_s16(const ekrt_pool_t *p, const int16_t *in, int16_t *out)
{
    pool16(p, in, out, 1);
}

void ekrt_maxpool_s16(const ekrt_pool_t *p, const int16_t *in, int16_t *out)
{
    pool16(p, in, out, 0);
}

/* ------------------------------------------------------------------ data movement */

void ekrt_pad_s16(const ekrt_pad16_t *p, const int16_t *in, int16_t *out)
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
                const int16_t *row = inside ? in + (((size_t)ia * p->in_dims[1] + ib) *
                                                    p->in_dims[2] + ic) * p->in_dims[3] : in;
                for (d = 0; d < p->out_dims[3]; d++) {
                    int32_t id = d - p->before[3];
                    *out++ = (inside && id >= 0 && id < p->in_dims[3]) ? row[id] : p->pad_value;
                }
            }
        }
    }
}

void ekrt_strided_slice_s16(const ekrt_slice_t *p, const int16_t *in, int16_t *out)
{
    int32_t i0, i1, i2, i3, i4;
    const int32_t *s = p->in_strides;
    for (i0 = 0; i0 < p->count[0]; i0++) {
        const int16_t *a = in + (ptrdiff_t)(p->start[0] + i0 * p->step[0]) * s[0];
        for (i1 = 0; i1 < p->count[1]; i1++) {
            const int16_t *b = a + (ptrdiff_t)(p->start[1] + i1 * p->step[1]) * s[1];
            for (i2 = 0; i2 < p->count[2]; i2++) {
                const int16_t *c = b + (ptrdiff_t)(p->start[2] + i2 * p->step[2]) * s[2];
                for (i3 = 0; i3 < p->count[3]; i3++) {
                    const int16_t *d = c + (ptrdiff_t)(p->start[3] + i3 * p->step[3]) * s[3];
                    for (i4 = 0; i4 < p->count[4]; i4++) {
                        *out++ = d[(ptrdiff_t)(p->start[4] + i4 * p->step[4]) * s[4]];
                    }
                }
            }
        }
    }
}

void ekrt_concat_s16(const ekrt_concat_t *p, const int16_t *const *ins, int16_t *out)
{
    int32_t o, k, i;
    for (o = 0; o < p->outer; o++) {
        for (k = 0; k < p->n_inputs; k++) {
            int32_t n = p->in_axis_bytes[k]; /* elements, as for ekrt_concat */
            const int16_t *src = ins[k] + (size_t)o * n;
            for (i = 0; i < n; i++) {
                *out++ = src[i];
            }
        }
    }
}

/* ------------------------------------------------------------------ MEAN */

/* TFLM's QuantizedMeanOrSum<int16_t> as ekrt_mean: int32 sums, one rescale. */
void ekrt_mean_s16(const ekrt_mean_t *p, const int16_t *in, int16_t *out, int32_t *scratch)
{
    int32_t o, r, i;
    int32_t zp_sum = p->in_zp * p->reduce;
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
            *out++ = clamp16(ekrt_mul_q(scratch[i] - zp_sum, p->mult, p->shift) + p->out_zp,
                             -32768, 32767);
        }
    }
}

/* ------------------------------------------------------------------ LOGISTIC, TANH */

/* TFLM's sigmoid(i/24) in 0.16 (kernels/internal/common.h): both kernels interpolate it. */
static const uint16_t sigmoid_table16[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794,
    41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443,
    48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169, 53581, 53983, 54374,
    54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544,
    58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279,
    61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990,
    63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030,
    64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652,
    64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019,
    65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234,
    65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360,
    65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476,
    65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498, 65500, 65501,
    65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516,
    65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529,
    65529, 65530, 65530, 65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532,
    65532, 65532, 65532, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65534, 65534,
    65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535};

/* The input rescaled as TFLM's int16 Logistic/Tanh: mult 0 means a power-of-two scale. */
static inline int32_t lut_input(const ekrt_unary_t *p, int32_t x)
{
    int32_t mult = p->mult, shift = p->shift;
    if (mult == 0) {
        mult = 3 << shift;
        shift = 0;
    }
    return (x * mult + (shift > 0 ? 1 << (shift - 1) : 0)) >> shift;
}

void ekrt_logistic_s16(const ekrt_unary_t *p, const int16_t *in, int16_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; i++) {
        int32_t x = lut_input(p, in[i]);
        uint32_t ax = (uint32_t)(x < 0 ? -x : x), uh = ax >> 9, r;
        if (uh >= 255) {
            r = 0x7FFFu << 10;
        } else {
            uint32_t ua = sigmoid_table16[uh], ub = sigmoid_table16[uh + 1];
            r = (ua << 9) + (ax & 0x1FFu) * (ub - ua);
        }
        r = x >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
        out[i] = (int16_t)(r >> 10);
    }
}

void ekrt_tanh_s16(const ekrt_unary_t *p, const int16_t *in, int16_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; i++) {
        int32_t x = lut_input(p, in[i]), r;
        uint32_t ax = (uint32_t)(x < 0 ? -x : x), uh = ax >> 8;
        if (uh >= 255) {
            r = 0xFFFF << 8;
        } else {
            uint32_t ua = sigmoid_table16[uh], ub = sigmoid_table16[uh + 1];
            r = (int32_t)((ua << 8) + (ax & 0xFFu) * (ub - ua));
        }
        r = x >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
        out[i] = (int16_t)(r >> 8);
    }
}

/* ------------------------------------------------------------------ SOFTMAX */

/* TFLM's LUTLookup: 512 segments of a 513-entry table, linear interpolation in Q0.7. */
static inline int16_t lut513(int32_t v, const int16_t *lut)
{
    int32_t index = 256 + (v >> 7), offset = v & 0x7F;
    int32_t slope = lut[index + 1] - lut[index];
    return (int16_t)(lut[index] + ((slope * offset + 64) >> 7));
}

static inline int clz_u32(uint32_t x)
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

/* TFLM's SoftmaxInt16: exps from the table (the output row holds them), their sum's
 * reciprocal from the 1 / (1 + x) table, each exp rescaled by it. */
void ekrt_softmax_s16(const ekrt_softmax16_t *p, const int16_t *in, int16_t *out)
{
    int32_t r, c;
    for (r = 0; r < p->rows; r++, in += p->depth, out += p->depth) {
        int32_t max = -32768, sum = 0, shifted, recip;
        int headroom, right_shift;
        for (c = 0; c < p->depth; c++) {
            max = in[c] > max ? in[c] : max;
        }
        for (c = 0; c < p->depth; c++) {
            int32_t d = ekrt_mul_q(in[c] - max, p->mult, p->shift) + 32767;
            out[c] = lut513(clamp16(d, -32768, 32767), p->exp_lut);
            sum += out[c];
        }
        headroom = clz_u32((uint32_t)sum);
        shifted = (int32_t)((((int64_t)sum << (headroom - 1)) + (1 << 13)) >> 14);
        recip = lut513(clamp16(shifted - ((1 << 15) + (1 << 16)), -32768, 32767), p->recip_lut);
        right_shift = 31 - headroom;
        for (c = 0; c < p->depth; c++) {
            int64_t v = ((int64_t)out[c] * recip + ((int64_t)1 << (right_shift - 1))) >> right_shift;
            out[c] = clamp16((int32_t)v, 0, 32767);
        }
    }
}
