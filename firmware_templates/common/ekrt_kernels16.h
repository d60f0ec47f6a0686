/* edgekit-rt: int16-activation kernels of 16x8 models (int16 activations, int8 weights,
 * int64 biases), as TFLM's int16 reference kernels compute them, bit for bit.
 *
 * Included by ekrt_kernels.h. The int16 tensors live in the same arena as the int8 ones: the
 * generated code passes them cast through void * (they are 4-byte aligned). */
#ifndef EKRT_KERNELS16_H
#define EKRT_KERNELS16_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* TFLM's MultiplyByQuantizedMultiplier for an int64 accumulator (16x8 conv, depthwise, fully
 * connected and transpose conv with int64 biases): the multiplier rounded to 16 bits first,
 * then one rounding shift. The same with or without TFLITE_SINGLE_ROUNDING. */
static inline int32_t ekrt_mul_q64(int64_t x, int32_t multiplier, int shift)
{
    int32_t reduced = multiplier < 0x7FFF0000 ? (multiplier + (1 << 15)) >> 16 : 0x7FFF;
    int total_shift = 15 - shift;
    return (int32_t)((x * reduced + ((int64_t)1 << (total_shift - 1))) >> total_shift);
}

/* CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and FULLY_CONNECTED on int16 activations. Zero
 * points are 0 (TFLM's int16 quantization is symmetric). acc32: TFLM's int32-accumulator
 * variant (an int32 bias, or none with quantized_bias_type int32), requantized by the int32
 * MultiplyByQuantizedMultiplier; otherwise int64 sums and ekrt_mul_q64. */
typedef struct {
    int32_t in_h, in_w, in_c, out_h, out_w, out_c;
    int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    int32_t groups;        /* CONV_2D: in_c / filter in_c; DEPTHWISE: depth multiplier */
    const int8_t *w;       /* CONV, TRANSPOSE_CONV, FC: OHWI; DEPTHWISE: [k_h][k_w][out_c] */
    const int64_t *bias;   /* out_c values (an int32 bias widened), or NULL */
    const int32_t *mult;   /* out_c multipliers (a per-tensor one repeated) */
    const int8_t *shift;
    int32_t act_min, act_max;
    int32_t acc32;
} ekrt_conv16_t;

void ekrt_conv2d_s16(const ekrt_conv16_t *p, const int16_t *in, int16_t *out);
void ekrt_dwconv_s16(const ekrt_conv16_t *p, const int16_t *in, int16_t *out);
/* FULLY_CONNECTED: in_h rows of in_c inputs to out_c outputs (the other fields unused). */
void ekrt_fully_connected_s16(const ekrt_conv16_t *p, const int16_t *in, int16_t *out);
/* scratch: out_c int64 sums (8-byte aligned). */
void ekrt_transpose_conv_s16(const ekrt_conv16_t *p, const int16_t *in, int16_t *out,
                             int64_t *scratch);

/* ADD/SUB (TFLM's general int16 path: left shift 15) and MUL on ekrt_binary_t (ekrt_kernels.h). */
void ekrt_add_s16(const ekrt_binary_t *p, const int16_t *in1, const int16_t *in2, int16_t *out);
void ekrt_sub_s16(const ekrt_binary_t *p, const int16_t *in1, const int16_t *in2, int16_t *out);
void ekrt_mul_s16(const ekrt_binary_t *p, const int16_t *in1, const int16_t *in2, int16_t *out);

/* LEAKY_RELU as ekrt_leaky_relu (radius, act_min: the alpha multiplier and shift). */
void ekrt_leaky_relu_s16(const ekrt_unary_t *p, const int16_t *in, int16_t *out);
/* RELU/RELU6 of TFLM's int16 kernels: rescaled by mult/shift, clamped to [act_min, act_max]. */
void ekrt_relu_requant_s16(const ekrt_unary_t *p, const int16_t *in, int16_t *out);
/* LOGISTIC/TANH: TFLM's int16 table interpolation; mult, shift: its input multiplier and left
 * shift (mult 0: a power-of-two input scale). Zero points 0, output scale 2^-15. */
void ekrt_logistic_s16(const ekrt_unary_t *p, const int16_t *in, int16_t *out);
void ekrt_tanh_s16(const ekrt_unary_t *p, const int16_t *in, int16_t *out);
/* SOFTMAX over the last axis: TFLM's int16 kernel with its two 513-entry tables (exp on
 * [-10, 0] and 1 / (1 + x) on [0, 1], computed at generation time as TFLM's Prepare does). */
typedef struct {
    int32_t rows, depth;
    int32_t mult, shift;   /* input_diff to [-65535, 0] ~ [-10, 0] */
    const int16_t *exp_lut, *recip_lut;
} ekrt_softmax16_t;

void ekrt_softmax_s16(const ekrt_softmax16_t *p, const int16_t *in, int16_t *out);
/* QUANTIZE to and from int32 (TFLM's Requantize, the sums wrapping as TFLM's int32 do). */
void ekrt_requantize_s32_s16(const ekrt_unary_t *p, const int32_t *in, int16_t *out);
void ekrt_requantize_s16_s32(const ekrt_unary_t *p, const int16_t *in, int32_t *out);
void ekrt_requantize_s32_s8(const ekrt_unary_t *p, const int32_t *in, int8_t *out);
void ekrt_requantize_s8_s32(const ekrt_unary_t *p, const int8_t *in, int32_t *out);

typedef struct {
    int32_t in_dims[4], out_dims[4], before[4];
    int16_t pad_value;
} ekrt_pad16_t;

void ekrt_pad_s16(const ekrt_pad16_t *p, const int16_t *in, int16_t *out);
/* The byte-moving kernels of ekrt_kernels.h over int16 elements (same parameters). */
void ekrt_strided_slice_s16(const ekrt_slice_t *p, const int16_t *in, int16_t *out);
void ekrt_concat_s16(const ekrt_concat_t *p, const int16_t *const *ins, int16_t *out);
void ekrt_maxpool_s16(const ekrt_pool_t *p, const int16_t *in, int16_t *out);
void ekrt_avgpool_s16(const ekrt_pool_t *p, const int16_t *in, int16_t *out);
/* MEAN/SUM over contiguous axes as ekrt_mean; scratch: inner int32 sums. */
void ekrt_mean_s16(const ekrt_mean_t *p, const int16_t *in, int16_t *out, int32_t *scratch);

#ifdef __cplusplus
}
#endif

#endif /* EKRT_KERNELS16_H */
