/* edgekit-rt: int8 kernel library for ahead-of-time generated models.
 *
 * C99, freestanding (no malloc, no stdio, no libm on the int8 path). Arithmetic follows
 * the TFLite int8 quantization spec as the TFLM reference kernels compute it, so that
 * results are bit-exact with TFLM. Generated model code (edgekit_model.c) fills the
 * parameter structs below at generation time (multipliers, shifts, folded biases) and
 * calls the kernels in order on one static arena.
 */
#ifndef EKRT_KERNELS_H
#define EKRT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- fixed point */

/* Round-to-nearest high half of 2*a*b, saturating the one overflow case (gemmlowp). */
static inline int32_t ekrt_srdhm(int32_t a, int32_t b)
{
    int64_t ab;
    int32_t nudge;
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    /* Division (truncating toward zero), not a shift: this is what gemmlowp does. */
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* Divide by 2^exponent, rounding half away from zero. */
static inline int32_t ekrt_rdbpot(int32_t x, int exponent)
{
    int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * multiplier * 2^shift, as TFLM's MultiplyByQuantizedMultiplier (int32 input), for
 * multiplier >= 0 (QuantizeMultiplier never makes a negative one).
 * Default: the double-rounding form TFLM builds use without TFLITE_SINGLE_ROUNDING (what
 * the tflite_micro package computes). With b >= 0, SaturatingRoundingDoublingHighMul's
 * overflow case cannot occur and its truncating division of (ab + nudge) by 2^31 equals
 * an arithmetic shift of (ab + 2^30) for either sign of ab. */
static inline int32_t ekrt_mul_q(int32_t x, int32_t multiplier, int shift)
{
#ifdef EKRT_SINGLE_ROUNDING
    int total_shift = 31 - shift;
    int64_t r = (int64_t)x * multiplier + ((int64_t)1 << (total_shift - 1));
    return (int32_t)(r >> total_shift);
#else
    int32_t hi;
    if (shift > 0) {
        x = (int32_t)((uint32_t)x << shift);
    }
    hi = (int32_t)(((int64_t)x * multiplier + ((int64_t)1 << 30)) >> 31);
    if (shift < 0) {
        hi = ekrt_rdbpot(hi, -shift);
    }
    return hi;
#endif
}

/* ekrt_mul_q for |x| < 2^30 - 1 (proven per layer at generation time), with the two
 * roundings of the double-rounding form merged exactly into one 64-bit product:
 * for shift = -r < 0, RoundingDivideByPOT(SRDHM(x, m), r)
 *   = ((x*m + (x < 0 ? -2^30 : 2^30)) >> 31) + 2^(r-1)) >> r      (floor shifts).
 * Derivation: SRDHM(x, m) = floor((x*m + 2^30) / 2^31) for m > 0; RoundingDivideByPOT(h, r)
 * = floor((h + 2^(r-1) - [h < 0]) / 2^r); nested floors of power-of-two divisions merge;
 * [h < 0] may be replaced by [x < 0] because they differ only when h == 0, where both give
 * 0 for r >= 1. The bound on |x| keeps the final 32-bit add from overflowing. */
static inline int32_t ekrt_mul_q_small(int32_t x, int32_t multiplier, int shift)
{
#ifdef EKRT_SINGLE_ROUNDING
    return ekrt_mul_q(x, multiplier, shift);
#else
    if (shift >= 0) {
        return (int32_t)(((int64_t)(int32_t)((uint32_t)x << shift) * multiplier +
                          ((int64_t)1 << 30)) >> 31);
    } else {
        int r = -shift;
        int32_t g = (int32_t)(((int64_t)x * multiplier + (x < 0 ? -(1 << 30) : (1 << 30))) >> 31);
        return (g + (1 << (r - 1))) >> r;
    }
#endif
}

/* SaturatingRoundingMultiplyByPOT with a positive exponent (saturating left shift). */
static inline int32_t ekrt_sat_shl(int32_t x, int exponent)
{
    int32_t threshold = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

static inline int8_t ekrt_clamp8(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* ---------------------------------------------------------------- parameters */

/* Requantization of int32 accumulators to int8 outputs (per channel or per tensor).
 * shift == NULL means packed multipliers: every multiplier is in [2^30, 2^31), so bit 30
 * is implied and bits 31..30 carry the channel's shift minus base_shift (0..3). */
struct ekrt_requant;
/* out[i] = requantized acc[i] for channels c0 + i, i < n. */
typedef void (*ekrt_rq_vec_fn)(const struct ekrt_requant *rq, int32_t c0, const int32_t *acc,
                               int8_t *out, int32_t n);

typedef struct ekrt_requant {
    const int32_t *mult;   /* per channel, or 1 entry */
    const int8_t *shift;   /* per channel, or 1 entry; NULL: packed in mult */
    int16_t out_zp;
    int16_t act_min, act_max;
    uint8_t per_channel;   /* 0: entry 0 for every channel */
    int8_t base_shift;
    uint8_t small_acc;     /* generation-time proof that |acc| < 2^30 - 1: fast path exact */
    ekrt_rq_vec_fn vec;    /* chosen at generation time: ekrt_rq_vec_fast, _fast_s, _generic */
} ekrt_requant_t;

/* Any requantization (per tensor or channel, packed or not, any shift). */
void ekrt_rq_vec_generic(const ekrt_requant_t *rq, int32_t c0, const int32_t *acc, int8_t *out,
                         int32_t n);
/* Packed per-channel multipliers, small_acc, every shift <= -2 (base_shift <= -5). */
void ekrt_rq_vec_fast(const ekrt_requant_t *rq, int32_t c0, const int32_t *acc, int8_t *out,
                      int32_t n);
/* Shift array (per tensor or channel), small_acc, every shift <= -2. */
void ekrt_rq_vec_fast_s(const ekrt_requant_t *rq, int32_t c0, const int32_t *acc, int8_t *out,
                        int32_t n);

/* Requantization parameters copied into locals (registers) by the kernels: int8 stores
 * may alias anything, so reading them through the struct would reload them every time. */
typedef struct {
    const int32_t *mult;
    const int8_t *shift;
    int32_t out_zp, act_min, act_max, ch_mask, base_shift, small_acc;
} ekrt_rq_local_t;

static inline ekrt_rq_local_t ekrt_rq_load(const ekrt_requant_t *rq)
{
    ekrt_rq_local_t l;
    l.mult = rq->mult;
    l.shift = rq->shift;
    l.out_zp = rq->out_zp;
    l.act_min = rq->act_min;
    l.act_max = rq->act_max;
    l.ch_mask = -(int32_t)rq->per_channel;
    l.base_shift = rq->base_shift;
    l.small_acc = rq->small_acc;
    return l;
}

static inline int8_t ekrt_rq_apply(ekrt_rq_local_t l, int32_t c, int32_t acc)
{
    int32_t k = c & l.ch_mask;
    int32_t m = l.mult[k];
    int s;
    int32_t v;
    if (l.shift) {
        s = l.shift[k];
    } else {
        s = l.base_shift + (int)((uint32_t)m >> 30);
        m = (int32_t)(((uint32_t)m & 0x3FFFFFFFu) | 0x40000000u);
    }
    v = l.small_acc ? ekrt_mul_q_small(acc, m, s) : ekrt_mul_q(acc, m, s);
    v += l.out_zp;
    v = v < l.act_min ? l.act_min : v;
    v = v > l.act_max ? l.act_max : v;
    return (int8_t)v;
}

static inline int8_t ekrt_requant(const ekrt_requant_t *rq, int32_t c, int32_t acc)
{
    return ekrt_rq_apply(ekrt_rq_load(rq), c, acc);
}

/* Weight matrices [n_out][depth] are stored blocked for streaming: for each block of 4
 * rows, 4-column slices of the 4 rows interleaved (16 bytes per step), then the 4 rows'
 * last depth % 4 columns row after row; the n_out % 4 last rows are stored plainly. */

typedef struct {
    int32_t batches, in_dim, out_dim;
    const int8_t *w;       /* [out_dim][in_dim], blocked (see above) */
    const int32_t *bias;   /* bias + input_offset * sum(w[o]) (folded), out_dim entries */
    ekrt_requant_t rq;
} ekrt_fc_t;

typedef struct {
    int16_t in_h, in_w, in_c, out_h, out_w, out_c;
    int16_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    int16_t groups;        /* CONV_2D: in_c / filter in_c; DEPTHWISE: depth multiplier */
    int32_t in_zp;
    const int8_t *w;       /* CONV: OHWI per group, blocked; DEPTHWISE: [k_h][k_w][out_c] */
    const int32_t *bias;   /* folded: bias + input_offset * sum over all taps of w */
    ekrt_requant_t rq;
} ekrt_conv_t;

typedef struct {
    int16_t in_h, in_w, c, out_h, out_w;
    int16_t k_h, k_w, stride_h, stride_w, pad_h, pad_w;
    int32_t act_min, act_max;
} ekrt_pool_t;

typedef struct {
    int32_t rows, depth;
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t diff_min;
} ekrt_softmax_t;

/* Elementwise binary op with up to 5-D broadcast: strides are 0 on broadcast axes. */
typedef struct {
    int32_t dims[5];
    int32_t s1[5], s2[5];
    int32_t size;          /* product of dims */
    uint8_t broadcast;     /* 0: both inputs have `size` elements */
    int32_t in1_off, in2_off, out_zp;
    int32_t m1, m2, mo;    /* ADD: input and output multipliers; MUL: mo only */
    int8_t sh1, sh2, sho;
    int8_t left_shift;
    int32_t act_min, act_max;
} ekrt_binary_t;

/* out[i] = OP(p, in1[...], in2[...]) over p->dims with the broadcast strides p->s1/p->s2 (0 on
 * broadcast axes), or elementwise when !p->broadcast: the loop of every ekrt_binary_t kernel
 * (in1, in2, out and p in scope; OP(p, T a, T b) -> T, T the element type: int8_t, or
 * int16_t in a 16x8 model's kernels). */
#define EKRT_BINARY_LOOP(OP) EKRT_BINARY_LOOP_T(int8_t, OP)
#define EKRT_BINARY_LOOP_T(T, OP)                                                         \
    do {                                                                                  \
        if (!p->broadcast) {                                                              \
            int32_t i;                                                                    \
            for (i = 0; i < p->size; i++) {                                               \
                out[i] = OP(p, in1[i], in2[i]);                                           \
            }                                                                             \
        } else {                                                                          \
            int32_t i0, i1, i2, i3, i4;                                                   \
            for (i0 = 0; i0 < p->dims[0]; i0++)                                           \
                for (i1 = 0; i1 < p->dims[1]; i1++)                                       \
                    for (i2 = 0; i2 < p->dims[2]; i2++)                                   \
                        for (i3 = 0; i3 < p->dims[3]; i3++) {                             \
                            const T *a = in1 + i0 * p->s1[0] + i1 * p->s1[1] +            \
                                         i2 * p->s1[2] + i3 * p->s1[3];                   \
                            const T *b = in2 + i0 * p->s2[0] + i1 * p->s2[1] +            \
                                         i2 * p->s2[2] + i3 * p->s2[3];                   \
                            for (i4 = 0; i4 < p->dims[4]; i4++) {                         \
                                *out++ = OP(p, a[i4 * p->s1[4]], b[i4 * p->s2[4]]);       \
                            }                                                             \
                        }                                                                 \
        }                                                                                 \
    } while (0)

typedef struct {
    int32_t size;
    int32_t in_zp, out_zp;
    int32_t mult;
    int32_t shift;
    int32_t radius;        /* LOGISTIC/TANH */
    int32_t act_min, act_max;
} ekrt_unary_t;

/* Copy blocks: output = concatenation along an axis, or padding. */
typedef struct {
    int32_t outer, out_axis_bytes;
    int32_t n_inputs;
    const int32_t *in_axis_bytes;
} ekrt_concat_t;

typedef struct {
    int32_t in_dims[4], out_dims[4], before[4];
    int8_t pad_value;
} ekrt_pad_t;

/* MEAN over contiguous axes: input viewed as [outer][reduce][inner]. */
typedef struct {
    int32_t outer, reduce, inner;
    int32_t in_zp, out_zp;
    int32_t mult;          /* input/output rescale with 1/reduce folded in (as TFLM) */
    int32_t shift;
} ekrt_mean_t;

/* UNIDIRECTIONAL_SEQUENCE_LSTM (ekrt_recurrent.c): TFLM's integer LSTM, batch 1. Gates are
 * indexed EKRT_GATE_* (TFLite's order). Zero points are folded into the biases; every
 * multiplier is computed at generation time as TFLM's Prepare does. */
enum { EKRT_GATE_INPUT = 0, EKRT_GATE_FORGET = 1, EKRT_GATE_CELL = 2, EKRT_GATE_OUTPUT = 3 };

typedef struct {
    const int8_t *w_in;      /* [units][in_dim], blocked like FC weights */
    const int8_t *w_rec;     /* [units][units], blocked */
    const int32_t *bias_in;  /* gate bias + input_offset * row sums of w_in */
    const int32_t *bias_rec; /* hidden_offset * row sums of w_rec */
    int32_t in_mult, rec_mult; /* to the Q3.12 gate pre-activation */
    int8_t in_shift, rec_shift;
} ekrt_lstm_gate_t;

typedef struct {
    int32_t time_steps, in_dim, units;
    ekrt_lstm_gate_t gates[4];
    int32_t fc_mult, ig_mult, oh_mult; /* forget x cell, input x cell gate, tanh(c) x output */
    int8_t fc_shift, ig_shift, oh_shift;
    int32_t tanh_mult, tanh_shift;     /* tanh of the cell state (its scale's power of 2) */
    int32_t h_zp;                      /* hidden state (= output) zero point */
    int16_t cell_clip;                 /* quantized; 0: no clipping */
    uint8_t cell_tanh;                 /* cell gate activation: 1 TANH, 0 SIGMOID */
    int8_t *h;                         /* hidden state [units]: persistent, see ekrt_lstm_reset */
    int16_t *c;                        /* cell state [units] */
} ekrt_lstm_t;

/* STRIDED_SLICE (and any strided copy of up to 5 dimensions): out[...] = in[start + i * step]
 * per dimension, `count` elements each; strides in elements. */
typedef struct {
    int32_t in_strides[5];
    int32_t start[5], step[5], count[5];
} ekrt_slice_t;

/* UNPACK: input viewed as [outer][num][inner]; output k gets [outer][inner] of slice k. */
typedef struct {
    int32_t outer, num, inner;
} ekrt_unpack_t;

/* GATHER: params viewed as [outer][axis_size][inner], int32 indices [n_indices]. */
typedef struct {
    int32_t outer, axis_size, n_indices, inner;
} ekrt_gather_t;

/* ---------------------------------------------------------------- kernels */

#include "ekrt_nn.h" /* FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D */

void ekrt_avgpool(const ekrt_pool_t *p, const int8_t *in, int8_t *out);
void ekrt_maxpool(const ekrt_pool_t *p, const int8_t *in, int8_t *out);

void ekrt_softmax(const ekrt_softmax_t *p, const int8_t *in, int8_t *out);
/* The same with exp_table[255 - max + x] (edgekit/codegen/quant.py softmax_exp_table, reversed)
 * for the exps and exp_table[511 - max + x] for their Q12.19 terms of the sum (512 entries). */
void ekrt_softmax_table(const ekrt_softmax_t *p, const int32_t *exp_table, const int8_t *in, int8_t *out);
void ekrt_logistic(const ekrt_unary_t *p, const int8_t *in, int8_t *out);
void ekrt_tanh(const ekrt_unary_t *p, const int8_t *in, int8_t *out);

void ekrt_add(const ekrt_binary_t *p, const int8_t *in1, const int8_t *in2, int8_t *out);
/* ADD of two full-size inputs with each input's rescaled term tabulated (tab: 2 x 256 int32,
 * lower_elementwise.add_tables; ignored, as ekrt_add, under EKRT_SINGLE_ROUNDING). */
void ekrt_add_lut(const ekrt_binary_t *p, const int32_t *tab, const int8_t *in1, const int8_t *in2,
                  int8_t *out);
void ekrt_mul(const ekrt_binary_t *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void ekrt_sub(const ekrt_binary_t *p, const int8_t *in1, const int8_t *in2, int8_t *out);

/* QUANTIZE between integer types (requantize), the pairs TFLM's QUANTIZE takes: out =
 * clamp(out_zp + mul_q(in - in_zp, mult, shift), act_min, act_max), act_min/act_max the
 * output type's range. s8: int8, u8: uint8, s16: int16. */
void ekrt_requantize(const ekrt_unary_t *p, const int8_t *in, int8_t *out);
void ekrt_requantize_u8_s8(const ekrt_unary_t *p, const uint8_t *in, int8_t *out);
void ekrt_requantize_s8_u8(const ekrt_unary_t *p, const int8_t *in, uint8_t *out);
void ekrt_requantize_s8_s16(const ekrt_unary_t *p, const int8_t *in, int16_t *out);
void ekrt_requantize_s16_s8(const ekrt_unary_t *p, const int16_t *in, int8_t *out);
void ekrt_requantize_s16_s16(const ekrt_unary_t *p, const int16_t *in, int16_t *out);
/* Float at the graph's edge (an integer model the converter left with float32 input/output).
 * QUANTIZE float32 -> int8/int16: out = clamp(round(in / scale) + zero_point, lo, hi) in
 * float32, rounding half away from zero (TFLM's AffineQuantize). DEQUANTIZE int8/uint8/int16
 * -> float32: out = scale * (in - zero_point). */
typedef struct {
    int32_t size;
    float scale;
    int32_t zero_point;
    int32_t act_min;
    int32_t act_max;
} ekrt_affine_t;
void ekrt_quantize_f32_s8(const ekrt_affine_t *p, const float *in, int8_t *out);
void ekrt_quantize_f32_s16(const ekrt_affine_t *p, const float *in, int16_t *out);
void ekrt_dequantize_s8_f32(const ekrt_affine_t *p, const int8_t *in, float *out);
void ekrt_dequantize_u8_f32(const ekrt_affine_t *p, const uint8_t *in, float *out);
void ekrt_dequantize_s16_f32(const ekrt_affine_t *p, const int16_t *in, float *out);
/* out[i] = in[i] ^ 0x80 on n bytes: uint8 <-> int8 at the same scale with zero points 128
 * apart (TFLM's Requantize takes the same shortcut; the result is the general one's). */
void ekrt_flip_sign8(const int8_t *in, int8_t *out, int32_t n);
/* LEAKY_RELU: mult/shift rescale x >= 0; radius (multiplier) and act_min (shift) x < 0. */
void ekrt_leaky_relu(const ekrt_unary_t *p, const int8_t *in, int8_t *out);
/* Clamp to [act_min, act_max]: RELU, RELU6, RELU_N1_TO_1 with equal in/out quantization. */
void ekrt_clamp(const ekrt_unary_t *p, const int8_t *in, int8_t *out);
/* RELU/RELU6 with differing in/out quantization: requantize then clamp. */
void ekrt_relu_requant(const ekrt_unary_t *p, const int8_t *in, int8_t *out);

void ekrt_concat(const ekrt_concat_t *p, const int8_t *const *ins, int8_t *out);
void ekrt_pad(const ekrt_pad_t *p, const int8_t *in, int8_t *out);

/* scratch: inner int32 sums. */
void ekrt_mean(const ekrt_mean_t *p, const int8_t *in, int8_t *out, int32_t *scratch);

void ekrt_copy(const int8_t *in, int8_t *out, int32_t n);
/* out[i] = table[(uint8_t)in[i]]: any elementwise int8 -> int8 function tabulated at
 * generation time (HARD_SWISH). */
void ekrt_lut(const int8_t *table, const int8_t *in, int8_t *out, int32_t n);

/* acc[c] = bias[c] + dot(x, row c of w) for c < n; w blocked (see above), n <= EKRT_MAC_ROWS
 * when the caller's acc is a local array. The matrix x vector core of the FC kernels. */
#define EKRT_MAC_ROWS 32
void ekrt_mac_rows(const int8_t *x, const int8_t *w, const int32_t *bias, int32_t depth,
                   int32_t n, int32_t *acc);
/* Runs the whole sequence from the current state; writes [time_steps][units] int8 and
 * leaves the last hidden and cell state in p->h, p->c. */
void ekrt_lstm(const ekrt_lstm_t *p, const int8_t *in, int8_t *out);
/* State to TFLM's reset values: hidden state to its zero point, cell state to 0. */
void ekrt_lstm_reset(const ekrt_lstm_t *p);
void ekrt_strided_slice(const ekrt_slice_t *p, const int8_t *in, int8_t *out);
void ekrt_unpack(const ekrt_unpack_t *p, const int8_t *in, int8_t *const *outs);
/* Returns -1 (nothing is read out of bounds) when an index is outside [0, axis_size). */
int ekrt_gather(const ekrt_gather_t *p, const int8_t *params, const int32_t *indices,
                int8_t *out);

/* ---------------------------------------------------------------- Keras 3 layer ops
 * (ekrt_select.c, ekrt_resample.c): what UpSampling2D, Resizing, Conv2DTranspose, PReLU,
 * Maximum/Minimum, GlobalMaxPooling, argmax and split produce. TILE, TRANSPOSE (Permute)
 * and ELU reuse ekrt_strided_slice and ekrt_lut. */

/* ARG_MAX / ARG_MIN: input viewed as [outer][axis_size][inner]; int32 indices [outer][inner],
 * the first index of the maximum (minimum) on ties, as TFLM. */
typedef struct {
    int32_t outer, axis_size, inner;
} ekrt_argminmax_t;

/* REDUCE_MAX / REDUCE_MIN over contiguous axes: input viewed as [outer][reduce][inner]. */
typedef struct {
    int32_t outer, reduce, inner;
} ekrt_reduce_t;

/* RESIZE_NEAREST_NEIGHBOR: output pixel (y, x) copies input pixel (rows[y], cols[x]), the
 * indices computed at generation time as TFLM computes them (in float). */
typedef struct {
    int32_t batches, in_h, in_w, out_h, out_w, depth;
    const int32_t *rows, *cols;
} ekrt_resize_nn_t;

/* RESIZE_BILINEAR (TFLM's integer kernel): scales in Q10. */
typedef struct {
    int32_t batches, in_h, in_w, out_h, out_w, depth;
    int32_t scale_h, scale_w;
    int32_t half_pixel;
} ekrt_resize_bl_t;

void ekrt_arg_max(const ekrt_argminmax_t *p, const int8_t *in, int32_t *out);
void ekrt_arg_min(const ekrt_argminmax_t *p, const int8_t *in, int32_t *out);
void ekrt_reduce_max(const ekrt_reduce_t *p, const int8_t *in, int8_t *out);
void ekrt_reduce_min(const ekrt_reduce_t *p, const int8_t *in, int8_t *out);
/* SPLIT / SPLIT_V: the inverse of ekrt_concat (same parameters): output k gets
 * in_axis_bytes[k] bytes of each of the `outer` blocks of out_axis_bytes input bytes. */
void ekrt_split(const ekrt_concat_t *p, const int8_t *in, int8_t *const *outs);
/* MAXIMUM / MINIMUM: raw int8 values compared (no rescaling, as TFLM), broadcast as ADD. */
void ekrt_maximum(const ekrt_binary_t *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void ekrt_minimum(const ekrt_binary_t *p, const int8_t *in1, const int8_t *in2, int8_t *out);
/* PRELU: x >= 0: mul_q(x - zp, m1, sh1); else mul_q((x - zp) * (alpha - alpha_zp), mo, sho);
 * in1_off/in2_off: minus the input's/alpha's zero point. */
void ekrt_prelu(const ekrt_binary_t *p, const int8_t *in, const int8_t *alpha, int8_t *out);
/* SQUARED_DIFFERENCE: ADD's input rescaling (left shift 7), the difference squared, then mo/sho. */
void ekrt_squared_difference(const ekrt_binary_t *p, const int8_t *in1, const int8_t *in2,
                             int8_t *out);
void ekrt_resize_nearest(const ekrt_resize_nn_t *p, const int8_t *in, int8_t *out);
void ekrt_resize_bilinear(const ekrt_resize_bl_t *p, const int8_t *in, int8_t *out);
/* TRANSPOSE_CONV (Conv2DTranspose), each output pixel gathered from the input pixels whose
 * taps reach it (TFLM scatters; integer sums are the same in any order). ekrt_conv_t: w is
 * OHWI unblocked, bias the raw bias (no zero point folded: the taps that reach a pixel vary
 * at the borders), in_zp the input zero point; scratch: out_c int32 sums. */
void ekrt_transpose_conv(const ekrt_conv_t *p, const int8_t *in, int8_t *out, int32_t *scratch);

#include "ekrt_transformer.h" /* BATCH_MATMUL, SELECT, float NEG/SQUARE */

#ifdef __cplusplus
}
#endif

/* ---------------------------------------------------------------- int16 (16x8 models) */
#include "ekrt_kernels16.h"

#endif /* EKRT_KERNELS_H */
