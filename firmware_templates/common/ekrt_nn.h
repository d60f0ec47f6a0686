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
/* FULLY_CONNECTED with its weights widened to int16 at generation (generate --optimize speed):
 * ekrt_fully_connected's result, twice its weight flash (ekrt_fc.c); scratch as _w's. */
typedef struct {
    int32_t batches, in_dim, out_dim;
    const int32_t *w;      /* int16 pairs, one word each, in ekrt_fc.c's order */
    const int32_t *bias;   /* folded as ekrt_fc_t's */
    ekrt_requant_t rq;
} ekrt_fch_t;
void ekrt_fully_connected_h(const ekrt_fch_t *p, const int8_t *in, int8_t *out, int8_t *scratch);
/* The fused requantization's table (DSP cores): 12 bytes a channel, word-aligned. */
#define EKRT_RQT_BYTES(n) (12 * (n))

/* Same result, two batch rows per pass (also used when the model's convolutions link the
 * two-row kernel anyway: one kernel less in flash); scratch: EKRT_XW_BYTES(in_dim), then
 * EKRT_RQT_BYTES(out_dim). */
void ekrt_fully_connected_x2(const ekrt_fc_t *p, const int8_t *in, int8_t *out, int8_t *scratch);

/* CONV_2D. Generic NHWC convolution (groups > 1 allowed); weight rows zero-padded to a
 * multiple of 4 bytes; scratch holds two im2col columns of k_h * k_w * (in_c / groups)
 * bytes, each rounded up to a multiple of 4, EKRT_XW_BYTES of that rounded depth, then
 * EKRT_RQT_BYTES(out_c): EKRT_CONV_SCRATCH(depth, out_c). */
void ekrt_conv2d(const ekrt_conv_t *p, const int8_t *in, int8_t *out, int8_t *scratch);
#define EKRT_CONV_SCRATCH(depth, out_c) (6 * (((depth) + 3) & ~3) + EKRT_RQT_BYTES(out_c))
/* In place (out == in) at stride 1, dilation 1, a same-size output, out_c <= in_c: scratch
 * is EKRT_CONV_SCRATCH, then min(pad_h + 1, out_h) rows of out_w * out_c bytes. */
void ekrt_conv2d_inplace(const ekrt_conv_t *p, int8_t *inout, int8_t *scratch);
/* 1x1 stride-1 unpadded convolution; scratch: EKRT_XW_BYTES(in_c), EKRT_RQT_BYTES(out_c). In
 * place (inplace != 0, out == in, out_c <= in_c) the scratch holds 2 * out_c more bytes after
 * those. */
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
/* scratch: EKRT_XW_BYTES(in_c), out_c and 2 * n_live bytes (each rounded up to 4), then
 * EKRT_RQT_BYTES(n_live); in place capable (out == in) when out_c <= in_c. */
void ekrt_conv2d_1x1_pruned(const ekrt_conv_pruned_t *p, const int8_t *in, int8_t *out,
                            int8_t *scratch);

/* DEPTHWISE_CONV_2D on int8 [tap][oc] weights; scratch: EKRT_DW_SCRATCH bytes, 8-byte
 * aligned (a tap pointer table of k_h * k_w + 1 entries, sized for 64-bit hosts too, one input
 * pixel of zero points, and the paired kernel's requantization table and paired weights). */
#define EKRT_DW_SCRATCH(k_h, k_w, in_c)                                                        \
    (8 * ((k_h) * (k_w) + 1) + (((in_c) + 7) & ~7) + EKRT_RQT_BYTES(in_c) +                    \
     4 * (((k_h) * (k_w) + 1) / 2) * (in_c))
void ekrt_dwconv(const ekrt_conv_t *p, const int8_t *in, int8_t *out, int32_t *scratch);
/* In place (out == in) for stride 1, depth multiplier 1, same-size output: output rows
 * are buffered in scratch (EKRT_DW_SCRATCH bytes, then min(pad_h + 1, out_h) rows of
 * out_w * out_c bytes) until the input rows they overwrite are dead. */
void ekrt_dwconv_inplace(const ekrt_conv_t *p, int8_t *inout, int32_t *scratch);
/* The same two for depth multiplier 1 and out_c % 4 == 0, on the weights paired in scratch
 * (int32 words, see ekrt_dwconv.c): two MACs per SMLAD with DSP. */
void ekrt_dwconv_p(const ekrt_conv_t *p, const int8_t *in, int8_t *out, int32_t *scratch);
/* With DSP, a 3x3 stride-1 undilated one whose output is at least 4 pixels on its longer
 * side goes channel by channel through a plane of int16 (smaller ones lose more to the
 * per-line costs than they gain): its scratch (and its in-place form's) is at least
 * EKRT_DW3_SCRATCH bytes then. */
#define EKRT_DW3_USED(k_h, k_w, s_h, s_w, d_h, d_w, out_h, out_w)                              \
    ((k_h) == 3 && (k_w) == 3 && (s_h) == 1 && (s_w) == 1 && (d_h) == 1 && (d_w) == 1 &&      \
     ((out_h) > (out_w) ? (out_h) : (out_w)) >= 4)
#define EKRT_DW3_PLANE_W(n) (((n) + 4) & ~1)
#define EKRT_DW3_SCRATCH(out_c, out_h, out_w)                                                  \
    (12 * (out_c) + 4 * (EKRT_DW3_N(out_h, out_w) + 2) +                                       \
     2 * (EKRT_DW3_LINES(out_h, out_w) + 2) * EKRT_DW3_PLANE_W(EKRT_DW3_N(out_h, out_w)))
#define EKRT_DW3_N(out_h, out_w) ((out_h) > (out_w) ? (out_h) : (out_w))
#define EKRT_DW3_LINES(out_h, out_w) ((out_h) > (out_w) ? (out_w) : (out_h))
void ekrt_dwconv_p_inplace(const ekrt_conv_t *p, int8_t *inout, int32_t *scratch);

#endif
