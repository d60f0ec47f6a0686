/* edgekit-rt: the FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D kernels (ekrt_nn.c,
 * ekrt_dwconv.c); included by ekrt_kernels.h after the parameter types. */
#ifndef EKRT_NN_H
#define EKRT_NN_H

/* Scratch of the two-vector kernels: both inputs' first depth & ~3 bytes widened to int16
 * (4 bytes per byte of depth, word-aligned); used on cores with the DSP extension only. */
#define EKRT_XW_BYTES(depth) (4 * ((depth) & ~3))

void ekrt_fully_connected(const ekrt_fc_t *p, const int8_t *in, int8_t *out);
/* Same result, faster on cores with DSP (ekrt_fc.c); scratch: 2 * (in_dim & ~3) bytes. */
void ekrt_fully_connected_w(const ekrt_fc_t *p, const int8_t *in, int8_t *out, int8_t *scratch);
/* Same result, two batch rows per pass (also used when the model's convolutions link the
 * two-row kernel anyway: one kernel less in flash); scratch: EKRT_XW_BYTES(in_dim). */
void ekrt_fully_connected_x2(const ekrt_fc_t *p, const int8_t *in, int8_t *out, int8_t *scratch);

/* CONV_2D. Generic NHWC convolution (groups > 1 allowed); weight rows zero-padded to a
 * multiple of 4 bytes; scratch holds two im2col columns of k_h * k_w * (in_c / groups)
 * bytes, each rounded up to a multiple of 4, then EKRT_XW_BYTES of that rounded depth. */
void ekrt_conv2d(const ekrt_conv_t *p, const int8_t *in, int8_t *out, int8_t *scratch);
#define EKRT_CONV_SCRATCH(depth) (6 * (((depth) + 3) & ~3))
/* In place (out == in) at stride 1, dilation 1, a same-size output, out_c <= in_c: scratch
 * is EKRT_CONV_SCRATCH, then min(pad_h + 1, out_h) rows of out_w * out_c bytes. */
void ekrt_conv2d_inplace(const ekrt_conv_t *p, int8_t *inout, int8_t *scratch);
/* 1x1 stride-1 unpadded convolution; scratch: EKRT_XW_BYTES(in_c). In place (inplace != 0,
 * out == in, out_c <= in_c) the scratch holds 2 * out_c more bytes after those. */
void ekrt_conv2d_1x1(const ekrt_conv_t *p, const int8_t *in, int8_t *out, int8_t *scratch,
                     int32_t inplace);

/* 1x1 convolution whose all-zero output channels ("dead": pruned, their output is a
 * constant) are not computed: conv holds the live channels' weights, biases and
 * requantization; a dead channel's output is requant(dead_acc) with its own multiplier. */
typedef struct {
    ekrt_conv_t conv;      /* out_c: all channels (the output's stride) */
    int32_t n_live, n_dead;
    const int32_t *live, *dead;          /* output channel of each */
    const int32_t *dead_acc, *dead_mult; /* the dead channel's folded bias and multiplier */
    const int8_t *dead_shift;
} ekrt_conv_pruned_t;
/* scratch: EKRT_XW_BYTES(in_c), out_c and 2 * n_live bytes (each rounded up to 4); in place
 * capable (out == in) when out_c <= in_c. */
void ekrt_conv2d_1x1_pruned(const ekrt_conv_pruned_t *p, const int8_t *in, int8_t *out,
                            int8_t *scratch);

/* DEPTHWISE_CONV_2D; scratch: EKRT_DW_SCRATCH bytes, 8-byte aligned (a tap pointer table,
 * sized for 64-bit hosts too, and one input pixel of zero points). */
#define EKRT_DW_SCRATCH(k_h, k_w, in_c) (8 * (k_h) * (k_w) + (((in_c) + 7) & ~7))
void ekrt_dwconv(const ekrt_conv_t *p, const int8_t *in, int8_t *out, int32_t *scratch);
/* In place (out == in) for stride 1, depth multiplier 1, same-size output: output rows
 * are buffered in scratch (EKRT_DW_SCRATCH bytes, then min(pad_h + 1, out_h) rows of
 * out_w * out_c bytes) until the input rows they overwrite are dead. */
void ekrt_dwconv_inplace(const ekrt_conv_t *p, int8_t *inout, int32_t *scratch);

#endif
