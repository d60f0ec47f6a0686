/* edgekit-rt: FULLY_CONNECTED and CONV_2D (int8, TFLM-exact); DEPTHWISE_CONV_2D is ekrt_dwconv.c.
 *
 * Biases arrive folded at generation time: bias + input_offset * sum(weights), so inner
 * loops are plain int8 x int8 dot products. Padded taps read as the input zero point,
 * which contributes exactly what TFLM's "skip the tap" does once the bias is folded.
 * All sums are exact int32 arithmetic, so evaluation order (and the dual-MAC DSP path)
 * cannot change a result. Weight matrices are pre-blocked (see ekrt_kernels.h) so one
 * pointer streams through them.
 */
#include "ekrt_kernels.h"
#include "ekrt_dsp.h"

/* ------------------------------------------------------------------ matrix x vector */

/* acc[c] = bias[c] + dot(x, w_c) for c < n; w blocked (blocks of 4 rows, then plain rows). */
static void mac1(const int8_t *x, const int8_t *w, const int32_t *bias, int32_t depth,
                 int32_t n, int32_t *acc)
{
    int32_t k4 = depth & ~3, tl = depth - k4;
    int32_t c, k, j;
    for (c = 0; c + 4 <= n; c += 4) {
        int32_t s0 = bias[c], s1 = bias[c + 1], s2 = bias[c + 2], s3 = bias[c + 3];
        for (k = 0; k < k4; k += 4) {
#ifdef EKRT_DSP
            uint32_t xv = ekrt_ld32(x + k), v;
            int32_t xa = ekrt_sxtb16_lo(xv), xb = ekrt_sxtb16_hi(xv);
            v = ekrt_ld32(w);
            s0 = __smlad(ekrt_sxtb16_lo(v), xa, s0);
            s0 = __smlad(ekrt_sxtb16_hi(v), xb, s0);
            v = ekrt_ld32(w + 4);
            s1 = __smlad(ekrt_sxtb16_lo(v), xa, s1);
            s1 = __smlad(ekrt_sxtb16_hi(v), xb, s1);
            v = ekrt_ld32(w + 8);
            s2 = __smlad(ekrt_sxtb16_lo(v), xa, s2);
            s2 = __smlad(ekrt_sxtb16_hi(v), xb, s2);
            v = ekrt_ld32(w + 12);
            s3 = __smlad(ekrt_sxtb16_lo(v), xa, s3);
            s3 = __smlad(ekrt_sxtb16_hi(v), xb, s3);
#else
            int32_t x0 = x[k], x1 = x[k + 1], x2 = x[k + 2], x3 = x[k + 3];
            s0 += x0 * w[0] + x1 * w[1] + x2 * w[2] + x3 * w[3];
            s1 += x0 * w[4] + x1 * w[5] + x2 * w[6] + x3 * w[7];
            s2 += x0 * w[8] + x1 * w[9] + x2 * w[10] + x3 * w[11];
            s3 += x0 * w[12] + x1 * w[13] + x2 * w[14] + x3 * w[15];
#endif
            w += 16;
        }
        for (j = 0; j < tl; j++) {
            int32_t xv = x[k4 + j];
            s0 += xv * w[j];
            s1 += xv * w[tl + j];
            s2 += xv * w[2 * tl + j];
            s3 += xv * w[3 * tl + j];
        }
        w += 4 * tl;
        acc[c] = s0;
        acc[c + 1] = s1;
        acc[c + 2] = s2;
        acc[c + 3] = s3;
    }
    for (; c < n; c++) {
        int32_t s = bias[c];
        for (k = 0; k < depth; k++) {
            s += (int32_t)x[k] * w[k];
        }
        w += depth;
        acc[c] = s;
    }
}

void ekrt_mac_rows(const int8_t *x, const int8_t *w, const int32_t *bias, int32_t depth,
                   int32_t n, int32_t *acc)
{
    mac1(x, w, bias, depth, n, acc);
}

#ifdef EKRT_DSP
/* Both input vectors' first k4 bytes sign-extended once, as SXTB16 splits them (bytes 0, 2
 * then 1, 3 of each word), interleaved: x0 lo, x0 hi, x1 lo, x1 hi per 4 bytes of depth.
 * Every output channel then reads its inputs ready to multiply; the weights, split the same
 * way, need no reordering (SMLAD pairs byte 0 with 0 and 2 with 2). */
static void widen2(const int8_t *x0, const int8_t *x1, int32_t k4, int32_t *xw)
{
    int32_t k;
    for (k = 0; k < k4; k += 4, xw += 4) {
        uint32_t v0 = ekrt_ld32(x0 + k), v1 = ekrt_ld32(x1 + k);
        xw[0] = ekrt_sxtb16_lo(v0);
        xw[1] = ekrt_sxtb16_hi(v0);
        xw[2] = ekrt_sxtb16_lo(v1);
        xw[3] = ekrt_sxtb16_hi(v1);
    }
}
#endif

/* Two input vectors at once (two output pixels or batch rows): each weight word feeds
 * both, 2 inputs x 2 rows per pass over the depth. With DSP the inputs come widened (xw,
 * widen2): per 4 bytes of depth, 2 weight loads, 4 SXTB16 and 8 SMLAD for 16 MACs. */
static void mac2(const int8_t *x0, const int8_t *x1, const int32_t *xw, const int8_t *w,
                 const int32_t *bias, int32_t depth, int32_t n, int32_t *acc0, int32_t *acc1)
{
    int32_t k4 = depth & ~3, tl = depth - k4;
    int32_t c, k, j, h;
    for (c = 0; c + 4 <= n; c += 4) {
        for (h = 0; h < 4; h += 2) {
            const int8_t *wp = w + 4 * h;
            const int8_t *wt = w + 4 * k4 + h * tl;
            int32_t s00 = bias[c + h], s01 = bias[c + h + 1];
            int32_t s10 = s00, s11 = s01;
#ifdef EKRT_DSP
            int32_t s[4];
            (void)k;
            s[0] = s00, s[1] = s01, s[2] = s10, s[3] = s11;
            ekrt_dot2x2(xw, xw + k4, wp, s);
            s00 = s[0], s01 = s[1], s10 = s[2], s11 = s[3];
#else
            (void)xw;
            for (k = 0; k < k4; k += 4, wp += 16) {
                int32_t p0 = x0[k], p1 = x0[k + 1], p2 = x0[k + 2], p3 = x0[k + 3];
                int32_t q0 = x1[k], q1 = x1[k + 1], q2 = x1[k + 2], q3 = x1[k + 3];
                s00 += p0 * wp[0] + p1 * wp[1] + p2 * wp[2] + p3 * wp[3];
                s10 += q0 * wp[0] + q1 * wp[1] + q2 * wp[2] + q3 * wp[3];
                s01 += p0 * wp[4] + p1 * wp[5] + p2 * wp[6] + p3 * wp[7];
                s11 += q0 * wp[4] + q1 * wp[5] + q2 * wp[6] + q3 * wp[7];
            }
#endif
            for (j = 0; j < tl; j++) {
                int32_t p = x0[k4 + j], q = x1[k4 + j];
                s00 += p * wt[j];
                s10 += q * wt[j];
                s01 += p * wt[tl + j];
                s11 += q * wt[tl + j];
            }
            acc0[c + h] = s00;
            acc0[c + h + 1] = s01;
            acc1[c + h] = s10;
            acc1[c + h + 1] = s11;
        }
        w += 4 * depth;
    }
    for (; c < n; c++) {
        int32_t s0 = bias[c], s1 = bias[c];
        for (k = 0; k < depth; k++) {
            s0 += (int32_t)x0[k] * w[k];
            s1 += (int32_t)x1[k] * w[k];
        }
        w += depth;
        acc0[c] = s0;
        acc1[c] = s1;
    }
}

#if defined(EKRT_DSP) && !defined(EKRT_SINGLE_ROUNDING)
/* mac2 requantized as it goes (the fused form, ekrt_rq_table's t, from the first of these
 * n4 channels on; n4 % 4 == 0). */
static inline __attribute__((always_inline)) void
mac2_rq(const int8_t *x0, const int8_t *x1, const int32_t *xw, const int8_t *w,
        const int32_t *bias, int32_t depth, int32_t n4, const int32_t *t, int8_t *out0,
        int8_t *out1)
{
    int32_t k4 = depth & ~3, tl = depth - k4;
    int32_t c, j, h;
    for (c = 0; c < n4; c += 4, w += 4 * depth) {
        for (h = 0; h < 4; h += 2, t += 6) {
            const int8_t *wt = w + 4 * k4 + h * tl;
            int32_t s[4];
            s[0] = s[2] = bias[c + h];
            s[1] = s[3] = bias[c + h + 1];
            ekrt_dot2x2(xw, xw + k4, w + 4 * h, s);
            for (j = 0; j < tl; j++) {
                int32_t p = x0[k4 + j], q = x1[k4 + j];
                s[0] += p * wt[j];
                s[1] += p * wt[tl + j];
                s[2] += q * wt[j];
                s[3] += q * wt[tl + j];
            }
            out0[c + h] = ekrt_rq_t(2 * s[0], t[0], t[1], t[2]);
            out1[c + h] = ekrt_rq_t(2 * s[2], t[0], t[1], t[2]);
            out0[c + h + 1] = ekrt_rq_t(2 * s[1], t[3], t[4], t[5]);
            out1[c + h + 1] = ekrt_rq_t(2 * s[3], t[3], t[4], t[5]);
        }
    }
}
#endif

/* out[c] = requant(bias[c] + dot(x, w[c])), c in [0, n_out); c_base offsets the
 * requantization channel (groups). */
static void gemv(const int8_t *x, const int8_t *w, const int32_t *bias, int32_t depth,
                 int32_t n_out, int32_t c_base, const ekrt_requant_t *rq, int8_t *out)
{
    int32_t acc[EKRT_CHUNK];
    int32_t c0;
    for (c0 = 0; c0 < n_out; c0 += EKRT_CHUNK) {
        int32_t n = n_out - c0 < EKRT_CHUNK ? n_out - c0 : EKRT_CHUNK;
        mac1(x, w + (size_t)c0 * depth, bias + c0, depth, n, acc);
        rq->vec(rq, c_base + c0, acc, out + c0, n);
    }
}

/* The fused requantization's table of n channels in t (EKRT_RQT_BYTES(n) of scratch), built
 * once a kernel call, or null: requantized through rq->vec then. */
static const int32_t *rq_table(const ekrt_requant_t *rq, int32_t n, int8_t *t)
{
#if defined(EKRT_DSP) && !defined(EKRT_SINGLE_ROUNDING)
    return ekrt_rq_table(rq, n, (int32_t *)(void *)t);
#else
    (void)rq, (void)n, (void)t;
    return 0;
#endif
}

/* xw: EKRT_XW_BYTES(depth) of word-aligned scratch for the widened inputs (DSP only);
 * t: rq_table's, from channel c_base on. */
static void gemv2(const int8_t *x0, const int8_t *x1, const int8_t *w, const int32_t *bias,
                  int32_t depth, int32_t n_out, int32_t c_base, const ekrt_requant_t *rq,
                  int8_t *out0, int8_t *out1, int32_t *xw, const int32_t *t)
{
    int32_t acc0[EKRT_CHUNK], acc1[EKRT_CHUNK];
    int32_t c0 = 0;
#ifdef EKRT_DSP
    widen2(x0, x1, depth & ~3, xw);
#ifndef EKRT_SINGLE_ROUNDING
    if (t) {
        c0 = n_out & ~3;
        /* depth & ~3: GCC drops the tail loop and its pointers (4-13 instructions a 2x2 tile) */
        if ((depth & 3) == 0) {
            mac2_rq(x0, x1, xw, w, bias, depth & ~3, c0, t, out0, out1);
        } else {
            mac2_rq(x0, x1, xw, w, bias, depth, c0, t, out0, out1);
        }
    }
#endif
#endif
    (void)t;
    for (; c0 < n_out; c0 += EKRT_CHUNK) {
        int32_t n = n_out - c0 < EKRT_CHUNK ? n_out - c0 : EKRT_CHUNK;
        mac2(x0, x1, xw, w + (size_t)c0 * depth, bias + c0, depth, n, acc0, acc1);
        rq->vec(rq, c_base + c0, acc0, out0 + c0, n);
        rq->vec(rq, c_base + c0, acc1, out1 + c0, n);
    }
}

/* ------------------------------------------------------------------ FULLY_CONNECTED */

void ekrt_fully_connected(const ekrt_fc_t *p, const int8_t *in, int8_t *out)
{
    int32_t b;
    for (b = 0; b < p->batches; b++) {
        gemv(in + (size_t)b * p->in_dim, p->w, p->bias, p->in_dim, p->out_dim, 0, &p->rq,
             out + (size_t)b * p->out_dim);
    }
}

void ekrt_fully_connected_x2(const ekrt_fc_t *p, const int8_t *in, int8_t *out, int8_t *scratch)
{
    const int32_t *t = rq_table(&p->rq, p->out_dim, scratch + EKRT_XW_BYTES(p->in_dim));
    int32_t b;
    for (b = 0; b < p->batches; b += 2) {
        /* an odd last row is computed twice into the same output */
        int32_t b1 = b + 1 < p->batches ? b + 1 : b;
        gemv2(in + (size_t)b * p->in_dim, in + (size_t)b1 * p->in_dim, p->w, p->bias, p->in_dim,
              p->out_dim, 0, &p->rq, out + (size_t)b * p->out_dim, out + (size_t)b1 * p->out_dim,
              (int32_t *)(void *)scratch, t);
    }
}

/* ------------------------------------------------------------------ CONV_2D */

/* im2col's window at (y0, x0) when it is wholly inside and groups == 1, dilation_w == 1 on DSP
 * cores: k_h runs of k_w * in_c bytes copied by words here (a call of ekrt_copy a run, and the
 * reloads of p after it, cost more than the copy). 0 when it does not apply. */
static int im2col_inside(const ekrt_conv_t *p, const int8_t *in, int32_t y0, int32_t x0,
                         int8_t *col)
{
#ifdef EKRT_DSP
    int32_t ic = p->in_c, n = p->k_w * ic, step = p->dil_h * p->in_w * ic, kh = p->k_h, ky, i;
    const int8_t *src = in + ((size_t)y0 * p->in_w + x0) * ic;
    if (p->groups != 1 || p->dil_w != 1 || y0 < 0 || y0 + (kh - 1) * p->dil_h >= p->in_h ||
        x0 < 0 || x0 + p->k_w > p->in_w) {
        return 0;
    }
    for (ky = 0; ky < kh; ky++, src += step) {
        for (i = 0; i + 4 <= n; i += 4, col += 4) {
            uint32_t v = ekrt_ld32(src + i);
            __builtin_memcpy(col, &v, 4);
        }
        for (; i < n; i++) {
            *col++ = src[i];
        }
    }
    return 1;
#else
    (void)p, (void)in, (void)y0, (void)x0, (void)col;
    return 0;
#endif
}

/* im2col of the receptive field of output pixel (oy, ox), group g; padded taps read as
 * the zero point. */
static void im2col(const ekrt_conv_t *p, const int8_t *in, int32_t oy, int32_t ox, int32_t g,
                   int8_t *col)
{
    int32_t gc = p->in_c / p->groups;
    int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
    int8_t *base = col;
    int32_t ky, kx, i;
    for (ky = im2col_inside(p, in, y0, x0, col) ? p->k_h : 0; ky < p->k_h; ky++) {
        int32_t iy = y0 + ky * p->dil_h;
        if (gc == p->in_c && p->dil_w == 1 && iy >= 0 && iy < p->in_h && x0 >= 0 &&
            x0 + p->k_w <= p->in_w) {
            /* the whole filter row is inside: one contiguous run of k_w * in_c bytes */
            ekrt_copy(in + ((size_t)iy * p->in_w + x0) * p->in_c, col, p->k_w * gc);
            col += p->k_w * gc;
            continue;
        }
        for (kx = 0; kx < p->k_w; kx++, col += gc) {
            int32_t ix = x0 + kx * p->dil_w;
            if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) {
                for (i = 0; i < gc; i++) {
                    col[i] = (int8_t)p->in_zp;
                }
            } else {
                ekrt_copy(in + ((size_t)iy * p->in_w + ix) * p->in_c + (size_t)g * gc, col, gc);
            }
        }
    }
    for (i = p->k_h * p->k_w * gc; i & 3; i++) {
        base[i] = 0; /* the padding to a multiple of 4 (zero weights) */
    }
}

#if defined(EKRT_DSP) && !defined(EKRT_SINGLE_ROUNDING)
/* im2col of output pixels pa and pb straight into widen2's layout (xw), for groups == 1 and
 * in_c % 4 == 0 (so the depth needs no padding): each tap's two pixels widened where they lie
 * instead of copied into columns first. Padded taps read zpix, in_c bytes of the zero point. */
static void im2col_widened(const ekrt_conv_t *p, const int8_t *in, int32_t pa, int32_t pb,
                           const int8_t *zpix, int32_t *xw)
{
    int32_t ya = pa / p->out_w * p->stride_h - p->pad_h;
    int32_t xa = pa % p->out_w * p->stride_w - p->pad_w;
    int32_t yb = pb / p->out_w * p->stride_h - p->pad_h;
    int32_t xb = pb % p->out_w * p->stride_w - p->pad_w;
    int32_t ky, kx, ic = p->in_c;
    for (ky = 0; ky < p->k_h; ky++) {
        int32_t iya = ya + ky * p->dil_h, iyb = yb + ky * p->dil_h;
        for (kx = 0; kx < p->k_w; kx++, xw += ic) {   /* widen2: ic words for ic bytes of each */
            int32_t ixa = xa + kx * p->dil_w, ixb = xb + kx * p->dil_w;
            const int8_t *a = iya < 0 || iya >= p->in_h || ixa < 0 || ixa >= p->in_w
                                  ? zpix : in + ((size_t)iya * p->in_w + ixa) * ic;
            const int8_t *b = iyb < 0 || iyb >= p->in_h || ixb < 0 || ixb >= p->in_w
                                  ? zpix : in + ((size_t)iyb * p->in_w + ixb) * ic;
            widen2(a, b, ic, xw);
        }
    }
}
#endif

/* Output pixels [pix0, pix1) (row-major) into out, which holds pixel pix0 on; t: rq_table's
 * (after the columns and xw in scratch: EKRT_CONV_SCRATCH). */
static void conv_pixels(const ekrt_conv_t *p, const int8_t *in, int32_t pix0, int32_t pix1,
                        int8_t *out, int8_t *scratch, const int32_t *t)
{
    /* rows of the weights (and the columns) padded with zeros to a multiple of 4 bytes */
    int32_t depth = (p->k_h * p->k_w * (p->in_c / p->groups) + 3) & ~3;
    int32_t oc_g = p->out_c / p->groups;
    int8_t *col1 = scratch + depth;
    int32_t *xw = (int32_t *)(void *)(col1 + depth);
    int32_t pix, g;
#if defined(EKRT_DSP) && !defined(EKRT_SINGLE_ROUNDING)
    if (t && p->groups == 1 && (p->in_c & 3) == 0 && (p->out_c & 3) == 0) {
        for (g = 0; g < p->in_c; g++) {
            scratch[g] = (int8_t)p->in_zp; /* zpix, where the int8 columns would go */
        }
        for (pix = pix0; pix < pix1; pix += 2) {
            int8_t *o = out + (size_t)(pix - pix0) * p->out_c;
            int32_t p1 = pix + 1 < pix1 ? pix + 1 : pix;
            im2col_widened(p, in, pix, p1, scratch, xw);
            /* mac2_rq inlined here rather than through gemv2: 1% fewer instructions on
             * ResNet-8; depth & ~3 (== depth) lets GCC drop the tail loop */
            mac2_rq(0, 0, xw, p->w, p->bias, depth & ~3, oc_g, t, o,
                    o + (size_t)(p1 - pix) * p->out_c);
        }
        return;
    }
#endif
    for (pix = pix0; pix < pix1; pix += 2) {
        int8_t *o = out + (size_t)(pix - pix0) * p->out_c;
        for (g = 0; g < p->groups; g++) {
            const int8_t *wg = p->w + (size_t)g * oc_g * depth;
            /* an odd last pixel is computed twice into the same output */
            int32_t p1 = pix + 1 < pix1 ? pix + 1 : pix;
            im2col(p, in, pix / p->out_w, pix % p->out_w, g, scratch);
            im2col(p, in, p1 / p->out_w, p1 % p->out_w, g, col1);
            gemv2(scratch, col1, wg, p->bias + g * oc_g, depth, oc_g, g * oc_g, &p->rq,
                  o + g * oc_g, o + (size_t)(p1 - pix) * p->out_c + g * oc_g, xw,
                  t ? t + 3 * g * oc_g : 0);
        }
    }
}

/* conv_pixels' table, once a kernel call */
static const int32_t *conv_table(const ekrt_conv_t *p, int8_t *scratch)
{
    return rq_table(&p->rq, p->out_c,
                    scratch + EKRT_CONV_SCRATCH(p->k_h * p->k_w * (p->in_c / p->groups), 0));
}

void ekrt_conv2d(const ekrt_conv_t *p, const int8_t *in, int8_t *out, int8_t *scratch)
{
    conv_pixels(p, in, 0, (int32_t)p->out_h * p->out_w, out, scratch, conv_table(p, scratch));
}

/* As ekrt_dwconv_inplace: output row y is computed into a ring of pad_h + 1 rows (after the
 * conv's own scratch), and input row y - pad_h, which no later output row reads at stride
 * 1, is overwritten with its output row. */
void ekrt_conv2d_inplace(const ekrt_conv_t *p, int8_t *inout, int8_t *scratch)
{
    int32_t row_bytes = (int32_t)p->out_w * p->out_c;
    int32_t ring = p->pad_h + 1 < p->out_h ? p->pad_h + 1 : p->out_h;
    int32_t depth = p->k_h * p->k_w * (p->in_c / p->groups);
    int8_t *rows = scratch + EKRT_CONV_SCRATCH(depth, p->out_c);
    const int32_t *t = conv_table(p, scratch);
    int32_t y, r;
    for (y = 0; y < p->out_h + p->pad_h; y++) {
        if (y < p->out_h) {
            conv_pixels(p, inout, y * p->out_w, (y + 1) * p->out_w,
                        rows + (size_t)(y % ring) * row_bytes, scratch, t);
        }
        r = y - p->pad_h;
        if (r >= 0) {
            ekrt_copy(rows + (size_t)(r % ring) * row_bytes, inout + (size_t)r * row_bytes,
                      row_bytes);
        }
    }
}

void ekrt_conv2d_1x1(const ekrt_conv_t *p, const int8_t *in, int8_t *out, int8_t *scratch,
                     int32_t inplace)
{
    int32_t n_pix = (int32_t)p->out_h * p->out_w;
    int32_t ic = p->in_c, oc = p->out_c;
    int32_t *xw = (int32_t *)(void *)scratch;
    const int32_t *t = rq_table(&p->rq, oc, scratch + EKRT_XW_BYTES(ic));
    int8_t *stage = inplace ? scratch + EKRT_XW_BYTES(ic) + EKRT_RQT_BYTES(oc) : 0;
    int32_t pix;
    for (pix = 0; pix < n_pix; pix += 2) {
        const int8_t *x = in + (size_t)pix * ic;
        int8_t *o = out + (size_t)pix * oc;
        int32_t n = pix + 1 < n_pix ? 2 : 1;
        /* In place, output pixels pix, pix+1 only overlap input pixels <= pix+1, which are
         * dead once both are computed into scratch. An odd last pixel is computed twice. */
        int8_t *dst = stage ? stage : o;
        gemv2(x, x + (n - 1) * ic, p->w, p->bias, ic, oc, 0, &p->rq, dst, dst + (n - 1) * oc,
              xw, t);
        if (stage) {
            ekrt_copy(stage, o, n * oc);
        }
    }
}

void ekrt_conv2d_1x1_pruned(const ekrt_conv_pruned_t *pp, const int8_t *in, int8_t *out,
                            int8_t *scratch)
{
    const ekrt_conv_t *p = &pp->conv;
    int32_t n_pix = (int32_t)p->out_h * p->out_w;
    int32_t ic = p->in_c, oc = p->out_c, n = pp->n_live;
    int32_t *xw = (int32_t *)(void *)scratch;
    int8_t *fill = scratch + EKRT_XW_BYTES(ic);
    int8_t *st0 = fill + ((oc + 3) & ~3), *st1 = st0 + ((n + 3) & ~3);
    const int32_t *t = rq_table(&p->rq, n, st1 + ((n + 3) & ~3));
    int32_t i, pix, q;
    /* One pixel of the dead channels' constants; the live ones are written over it. */
    for (i = 0; i < n; i++) {
        fill[pp->live[i]] = 0;
    }
    for (i = 0; i < pp->n_dead; i++) {
        fill[pp->dead[i]] = ekrt_clamp8(ekrt_mul_q(pp->dead_acc[i], pp->dead_mult[i],
                                                   pp->dead_shift[i]) + p->rq.out_zp,
                                        p->rq.act_min, p->rq.act_max);
    }
    for (pix = 0; pix < n_pix; pix += 2) {
        const int8_t *x = in + (size_t)pix * ic;
        int32_t n2 = pix + 1 < n_pix ? 2 : 1;
        /* In place, as ekrt_conv2d_1x1: inputs pix, pix+1 are consumed before any write. */
        gemv2(x, x + (n2 - 1) * ic, p->w, p->bias, ic, n, 0, &p->rq, st0, st1, xw, t);
        for (q = 0; q < n2; q++) {
            int8_t *o = out + (size_t)(pix + q) * oc;
            const int8_t *st = q ? st1 : st0;
            ekrt_copy(fill, o, oc);
            for (i = 0; i < n; i++) {
                o[pp->live[i]] = st[i];
            }
        }
    }
}
