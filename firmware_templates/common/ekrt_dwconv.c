/* edgekit-rt: DEPTHWISE_CONV_2D (int8, TFLM-exact); see ekrt_nn.c for the folded bias and
 * the padded taps. */
#include "ekrt_kernels.h"
#include "ekrt_dsp.h"

/* ------------------------------------------------------------------ DEPTHWISE_CONV_2D */

#if defined(EKRT_DSP) && !defined(EKRT_SINGLE_ROUNDING)
/* One output pixel of a 3x3 depthwise conv (depth multiplier 1, out_c % 4 == 0), requantized
 * as it is summed when ekrt_rq_fusable: 4 channels per pass (SMLABB/SMLATT on the SXTB16
 * halves), no int32 round trip. (Unrolling the 9 taps made GCC spill: slower.) */
static inline __attribute__((always_inline)) void
dw3x3_px_rq(const int8_t *const *taps, const int8_t *w, const int32_t *bias, int32_t oc,
            const ekrt_requant_t *rq, int8_t *dst, int packed)
{
    const ekrt_rq_local_t l = ekrt_rq_load(rq);
    int32_t zp = rq->out_zp;
    int32_t cc;
    for (cc = 0; cc < oc; cc += 4) {
        int32_t s0 = bias[cc], s1 = bias[cc + 1], s2 = bias[cc + 2], s3 = bias[cc + 3];
        const int8_t *wp = w + cc;
        int32_t t;
        for (t = 0; t < 9; t++, wp += oc) {
            uint32_t xv = ekrt_ld32(taps[t] + cc), wv = ekrt_ld32(wp);
            int32_t xa = ekrt_sxtb16_lo(xv), xb = ekrt_sxtb16_hi(xv);
            int32_t wa = ekrt_sxtb16_lo(wv), wb = ekrt_sxtb16_hi(wv);
            s0 = __smlabb(xa, wa, s0);
            s1 = __smlabb(xb, wb, s1);
            s2 = __smlatt(xa, wa, s2);
            s3 = __smlatt(xb, wb, s3);
        }
        dst[cc] = ekrt_rq_fused(s0, ekrt_rq_ch(&l, cc, packed), zp);
        dst[cc + 1] = ekrt_rq_fused(s1, ekrt_rq_ch(&l, cc + 1, packed), zp);
        dst[cc + 2] = ekrt_rq_fused(s2, ekrt_rq_ch(&l, cc + 2, packed), zp);
        dst[cc + 3] = ekrt_rq_fused(s3, ekrt_rq_ch(&l, cc + 3, packed), zp);
    }
}
#endif

/* One output row. taps: k_h * k_w input pixel pointers (scratch); zpix: one input pixel of
 * zero points, read for padded taps. */
static void dw_row(const ekrt_conv_t *p, const int8_t *in, int32_t oy, const int8_t **taps,
                   const int8_t *zpix, int8_t *dst)
{
    int32_t oc = p->out_c, ic = p->in_c, mult = p->groups;
    int32_t n_taps = p->k_h * p->k_w;
    int32_t ox, ky, kx, c, c0, t;
    int32_t y0 = oy * p->stride_h - p->pad_h;
    int32_t acc[EKRT_CHUNK];
    const int32_t *bias = p->bias;
#if defined(EKRT_DSP) && !defined(EKRT_SINGLE_ROUNDING)
    int fused = mult == 1 && n_taps == 9 && (oc & 3) == 0 && ekrt_rq_fusable(&p->rq, oc);
#endif
    /* Every tap of the row inside vertically; then a pixel whose taps are all inside and
     * follows one that was has each tap stride_w pixels on: no bounds checks. */
    int32_t rows_in = y0 >= 0 && y0 + (p->k_h - 1) * p->dil_h < p->in_h, prev_in = 0;
    int32_t step = p->stride_w * ic;
    for (ox = 0; ox < p->out_w; ox++, dst += oc) {
        int32_t x0 = ox * p->stride_w - p->pad_w;
        int32_t all_in = rows_in && x0 >= 0 && x0 + (p->k_w - 1) * p->dil_w < p->in_w;
        const int8_t **tp = taps;
        if (all_in && prev_in) {
            for (t = 0; t < n_taps; t++) {
                taps[t] += step;
            }
        } else {
            for (ky = 0; ky < p->k_h; ky++) {
                int32_t iy = y0 + ky * p->dil_h;
                for (kx = 0; kx < p->k_w; kx++) {
                    int32_t ix = x0 + kx * p->dil_w;
                    *tp++ = (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w)
                                ? zpix
                                : in + ((size_t)iy * p->in_w + ix) * ic;
                }
            }
        }
        prev_in = all_in;
#if defined(EKRT_DSP) && !defined(EKRT_SINGLE_ROUNDING)
        if (fused) {
            if (p->rq.shift) {
                dw3x3_px_rq(taps, p->w, bias, oc, &p->rq, dst, 0);
            } else {
                dw3x3_px_rq(taps, p->w, bias, oc, &p->rq, dst, 1);
            }
            continue;
        }
#endif
        for (c0 = 0; c0 < oc; c0 += EKRT_CHUNK) {
            int32_t n = oc - c0 < EKRT_CHUNK ? oc - c0 : EKRT_CHUNK;
            c = 0;
            if (mult == 1) {
                for (; c + 4 <= n; c += 4) {
                    int32_t cc = c0 + c;
                    int32_t s0 = bias[cc], s1 = bias[cc + 1], s2 = bias[cc + 2];
                    int32_t s3 = bias[cc + 3];
                    const int8_t *w = p->w + cc;
                    for (t = 0; t < n_taps; t++, w += oc) {
                        const int8_t *x = taps[t] + cc;
#ifdef EKRT_DSP
                        uint32_t xv = ekrt_ld32(x), wv = ekrt_ld32(w);
                        int32_t xa = ekrt_sxtb16_lo(xv), xb = ekrt_sxtb16_hi(xv);
                        int32_t wa = ekrt_sxtb16_lo(wv), wb = ekrt_sxtb16_hi(wv);
                        s0 = __smlabb(xa, wa, s0);
                        s1 = __smlabb(xb, wb, s1);
                        s2 = __smlatt(xa, wa, s2);
                        s3 = __smlatt(xb, wb, s3);
#else
                        s0 += (int32_t)x[0] * w[0];
                        s1 += (int32_t)x[1] * w[1];
                        s2 += (int32_t)x[2] * w[2];
                        s3 += (int32_t)x[3] * w[3];
#endif
                    }
                    acc[c] = s0;
                    acc[c + 1] = s1;
                    acc[c + 2] = s2;
                    acc[c + 3] = s3;
                }
            }
            for (; c < n; c++) {
                int32_t cc = c0 + c;
                int32_t s = bias[cc], ci = cc / mult;
                const int8_t *w = p->w + cc;
                for (t = 0; t < n_taps; t++, w += oc) {
                    s += (int32_t)taps[t][ci] * *w;
                }
                acc[c] = s;
            }
            p->rq.vec(&p->rq, c0, acc, dst + c0, n);
        }
    }
}

static int8_t *dw_setup(const ekrt_conv_t *p, int32_t *scratch)
{
    int8_t *zpix = (int8_t *)scratch + 8 * p->k_h * p->k_w;
    int32_t i;
    for (i = 0; i < p->in_c; i++) {
        zpix[i] = (int8_t)p->in_zp;
    }
    return zpix;
}

void ekrt_dwconv(const ekrt_conv_t *p, const int8_t *in, int8_t *out, int32_t *scratch)
{
    const int8_t *zpix = dw_setup(p, scratch);
    int32_t oy;
    for (oy = 0; oy < p->out_h; oy++) {
        dw_row(p, in, oy, (const int8_t **)(void *)scratch, zpix,
               out + (size_t)oy * p->out_w * p->out_c);
    }
}

void ekrt_dwconv_inplace(const ekrt_conv_t *p, int8_t *inout, int32_t *scratch)
{
    int32_t row_bytes = (int32_t)p->out_w * p->out_c;
    int32_t ring = p->pad_h + 1 < p->out_h ? p->pad_h + 1 : p->out_h;
    const int8_t *zpix = dw_setup(p, scratch);
    int8_t *rows = (int8_t *)scratch + EKRT_DW_SCRATCH(p->k_h, p->k_w, p->in_c);
    int32_t y, r;
    for (y = 0; y < p->out_h + p->pad_h; y++) {
        if (y < p->out_h) {
            dw_row(p, inout, y, (const int8_t **)(void *)scratch, zpix,
                   rows + (size_t)(y % ring) * row_bytes);
        }
        /* Input row y - pad_h is read by no later output row: overwrite it. */
        r = y - p->pad_h;
        if (r >= 0) {
            ekrt_copy(rows + (size_t)(r % ring) * row_bytes, inout + (size_t)r * row_bytes,
                      row_bytes);
        }
    }
}
