/* edgekit-rt: DEPTHWISE_CONV_2D (int8, TFLM-exact); see ekrt_nn.c for the folded bias and
 * the padded taps. */
#include "ekrt_kernels.h"
#include "ekrt_dsp.h"

/* ------------------------------------------------------------------ DEPTHWISE_CONV_2D */

/* Paired weights (ekrt_dwconv_p, depth multiplier 1, out_c % 4 == 0): per group of 4 channels,
 * per pair of taps (t, u) (an odd last tap is paired with zero weights), 4 words, one per
 * channel: w_t (low halfword) | w_u << 16, laid out in scratch once a call (dw_pair) from the
 * int8 [tap][oc] weights. With DSP, PKHBT/PKHTB put both taps' bytes of two channels in one
 * word, so each SMLAD does 2 MACs: per pair of taps and 4 channels 2 input loads, 2 PKH,
 * 4 SXTB16, 4 weight loads and 4 SMLAD. */
static inline __attribute__((always_inline)) void
dwp_group(const int8_t *const *taps, const int32_t *w, int32_t cc, int32_t n_pairs, int32_t *s)
{
    int32_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
    const int8_t *const *tp = taps, *const *te = taps + 2 * n_pairs;
    for (; tp != te; tp += 2, w += 4) {
#ifdef EKRT_DSP
        uint32_t xt = ekrt_ld32(tp[0] + cc), xu = ekrt_ld32(tp[1] + cc);
        uint32_t lo = ekrt_pkhbt16(xt, xu), hi = ekrt_pkhtb16(xu, xt);
        s0 = __smlad(ekrt_sxtb16_lo(lo), w[0], s0);
        s1 = __smlad(ekrt_sxtb16_hi(lo), w[1], s1);
        s2 = __smlad(ekrt_sxtb16_lo(hi), w[2], s2);
        s3 = __smlad(ekrt_sxtb16_hi(hi), w[3], s3);
#else
        const int8_t *xt = tp[0] + cc, *xu = tp[1] + cc;
        s0 += xt[0] * (int32_t)(int16_t)w[0] + xu[0] * (w[0] >> 16);
        s1 += xt[1] * (int32_t)(int16_t)w[1] + xu[1] * (w[1] >> 16);
        s2 += xt[2] * (int32_t)(int16_t)w[2] + xu[2] * (w[2] >> 16);
        s3 += xt[3] * (int32_t)(int16_t)w[3] + xu[3] * (w[3] >> 16);
#endif
    }
    s[0] = s0, s[1] = s1, s[2] = s2, s[3] = s3;
}

#if defined(EKRT_DSP) && !defined(EKRT_SINGLE_ROUNDING)
/* One output pixel of ekrt_dwconv_p with the table's requantization; the inputs are at
 * taps[i] + off. Per pair of taps and 4 channels, in assembly for the post-indexed loads:
 * 17 instructions, 13 registers. */
static void dwp_px_rq(const ekrt_conv_t *p, const int32_t *w, const int8_t *const *taps,
                      int32_t off, const int8_t *const *te, const int32_t *t, int8_t *dst)
{
    const int32_t *b = p->bias;
    int8_t *end = dst + p->out_c;
    for (; dst != end; dst += 4, b += 4, t += 12, off += 4) {
        int32_t s0 = b[0], s1 = b[1], s2 = b[2], s3 = b[3];
        const int8_t *const *tp = taps;
        uint32_t x, y, z, u, v;
        __asm__("1:\n\t"
                "ldrd %[x], %[z], [%[tp]], #8\n\t"
                "ldr %[x], [%[x], %[off]]\n\t"
                "ldr %[y], [%[z], %[off]]\n\t"
                "pkhbt %[z], %[x], %[y], lsl #16\n\t"
                "pkhtb %[x], %[y], %[x], asr #16\n\t"
                "ldrd %[u], %[v], [%[w]], #8\n\t"
                "sxtb16 %[y], %[z]\n\t"
                "smlad %[s0], %[y], %[u], %[s0]\n\t"
                "sxtb16 %[y], %[z], ror #8\n\t"
                "smlad %[s1], %[y], %[v], %[s1]\n\t"
                "ldrd %[u], %[v], [%[w]], #8\n\t"
                "sxtb16 %[y], %[x]\n\t"
                "smlad %[s2], %[y], %[u], %[s2]\n\t"
                "sxtb16 %[y], %[x], ror #8\n\t"
                "smlad %[s3], %[y], %[v], %[s3]\n\t"
                "cmp %[tp], %[te]\n\t"
                "bne 1b"
                : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [tp] "+r"(tp),
                  [w] "+r"(w), [x] "=&r"(x), [y] "=&r"(y), [z] "=&r"(z), [u] "=&r"(u),
                  [v] "=&r"(v)
                : [te] "r"(te), [off] "r"(off)
                : "cc", "memory");
        dst[0] = ekrt_rq_t(s0 + s0, t[0], t[1], t[2]);
        dst[1] = ekrt_rq_t(s1 + s1, t[3], t[4], t[5]);
        dst[2] = ekrt_rq_t(s2 + s2, t[6], t[7], t[8]);
        dst[3] = ekrt_rq_t(s3 + s3, t[9], t[10], t[11]);
    }
}
#endif

#if defined(EKRT_DSP) && !defined(EKRT_SINGLE_ROUNDING)
/* 3x3, stride 1, dilation 1 (ekrt_dwconv_p with DSP and the table's requantization), one
 * channel at a time: the channel's input sign-extended into a plane of int16 with its padding
 * (the zero point; EKRT_DW3_SCRATCH), so that two horizontally adjacent taps are one word
 * and the channel's 9 weights stay in registers. Per two output pixels and kernel row: one
 * LDRD, one (unaligned) LDR, two SMLAD, two SMLAxy. In place (out == in) as well: channel c
 * is read whole into the plane before any of it is written. */
/* One output line of one channel into acc (an odd line's extra pixel lands in acc[n]).
 * noinline: inlined, GCC cannot find the asm's 14 registers. */
static __attribute__((noinline)) void
dw3_row(const int16_t *p0, int32_t pw, const int32_t *wk, int32_t *acc, int32_t n)
{
    const int16_t *p1 = p0 + pw, *p2 = p1 + pw;
    int32_t *end = acc + 2 * ((n + 1) >> 1);
    int32_t w0 = wk[0], w1 = wk[1], w2 = wk[2], s01 = wk[3], s2 = wk[4];
    int32_t a0, a1;
    uint32_t x, y;
    /* 21 instructions per two output pixels (18 MACs), 14 registers */
    __asm__ volatile("1:\n\t" /* volatile: its only result is in memory */
            "ldrd %[x], %[y], [%[p0]], #4\n\t"
            "smuad %[a0], %[x], %[w0]\n\t"
            "smlabb %[a0], %[y], %[s01], %[a0]\n\t"
            "ldr %[x], [%[p0], #-2]\n\t"
            "smuad %[a1], %[x], %[w0]\n\t"
            "smlatb %[a1], %[y], %[s01], %[a1]\n\t"
            "ldrd %[x], %[y], [%[p1]], #4\n\t"
            "smlad %[a0], %[x], %[w1], %[a0]\n\t"
            "smlabt %[a0], %[y], %[s01], %[a0]\n\t"
            "ldr %[x], [%[p1], #-2]\n\t"
            "smlad %[a1], %[x], %[w1], %[a1]\n\t"
            "smlatt %[a1], %[y], %[s01], %[a1]\n\t"
            "ldrd %[x], %[y], [%[p2]], #4\n\t"
            "smlad %[a0], %[x], %[w2], %[a0]\n\t"
            "smlabb %[a0], %[y], %[s2], %[a0]\n\t"
            "ldr %[x], [%[p2], #-2]\n\t"
            "smlad %[a1], %[x], %[w2], %[a1]\n\t"
            "smlatb %[a1], %[y], %[s2], %[a1]\n\t"
            "strd %[a0], %[a1], [%[acc]], #8\n\t"
            "cmp %[acc], %[end]\n\t"
            "bne 1b"
            : [p0] "+r"(p0), [p1] "+r"(p1), [p2] "+r"(p2), [acc] "+r"(acc), [a0] "=&r"(a0),
              [a1] "=&r"(a1), [x] "=&r"(x), [y] "=&r"(y)
            : [end] "r"(end), [w0] "r"(w0), [w1] "r"(w1), [w2] "r"(w2), [s01] "r"(s01),
              [s2] "r"(s2)
            : "memory");
}

/* dw3's weights of channel c from the int8 [tap][oc] ones: per kernel line, its first two
 * taps as a pair (wk[0..2]), its third taps in wk[3] (lines 0 and 1) and wk[4] (line 2). Lines
 * are rows, or columns when tr (the plane is transposed). */
static void dw3_weights(const int8_t *w, int32_t oc, int32_t c, int tr, int32_t *wk)
{
    const int8_t *r0 = w + c, *r1 = r0 + 3 * oc, *r2 = r1 + 3 * oc; /* kernel rows 0, 1, 2 */
    int32_t t[9]; /* t[line * 3 + j] */
    int32_t i;
    if (tr) {
        t[0] = r0[0], t[1] = r1[0], t[2] = r2[0], t[3] = r0[oc], t[4] = r1[oc], t[5] = r2[oc];
        t[6] = r0[2 * oc], t[7] = r1[2 * oc], t[8] = r2[2 * oc];
    } else {
        t[0] = r0[0], t[1] = r0[oc], t[2] = r0[2 * oc], t[3] = r1[0], t[4] = r1[oc];
        t[5] = r1[2 * oc], t[6] = r2[0], t[7] = r2[oc], t[8] = r2[2 * oc];
    }
    for (i = 0; i < 3; i++) {
        wk[i] = (int32_t)(((uint32_t)t[3 * i] & 0xFFFFu) | ((uint32_t)t[3 * i + 1] << 16));
    }
    wk[3] = (int32_t)(((uint32_t)t[2] & 0xFFFFu) | ((uint32_t)t[5] << 16));
    wk[4] = t[8];
}

/* The plane runs along the longer side of the output (tr: its columns, the image transposed,
 * when it is taller than wide): fewer, longer lines. */
static void dw3(const ekrt_conv_t *p, const int8_t *in, int8_t *out, int32_t *scratch,
                const int32_t *rqt)
{
    int32_t oc = p->out_c, tr = p->out_h > p->out_w;
    int32_t n = tr ? p->out_h : p->out_w, lines = tr ? p->out_w : p->out_h;
    int32_t in_n = tr ? p->in_h : p->in_w, in_lines = tr ? p->in_w : p->in_h;
    int32_t along = tr ? p->pad_h : p->pad_w, across = tr ? p->pad_w : p->pad_h;
    int32_t row = p->in_w * oc, step = tr ? row : oc, in_line = tr ? oc : row;
    int32_t o_step = tr ? p->out_w * oc : oc, o_line = tr ? oc : p->out_w * oc;
    int32_t pw = EKRT_DW3_PLANE_W(n), c, y, i;
    int32_t *acc = scratch + 3 * oc; /* after the table */
    int16_t *plane = (int16_t *)(void *)(acc + ((n + 2) & ~1));
    for (i = 0; i < (lines + 2) * pw; i++) {
        plane[i] = (int16_t)p->in_zp;
    }
    for (c = 0; c < oc; c++) {
        int32_t wk[5], b2 = 2 * p->bias[c], m = rqt[3 * c], k = rqt[3 * c + 1];
        int32_t r = rqt[3 * c + 2];
        dw3_weights(p->w, oc, c, tr, wk);
        __asm__("" : "+r"(b2)); /* keeps 2 * acc + b2 one ADD (GCC would factor the 2 out) */
        for (y = 0; y < in_lines; y++) {
            const int8_t *src = in + (size_t)y * in_line + c;
            int16_t *dst = plane + (y + across) * pw + along, *de = dst + (in_n & ~1);
            for (; dst != de; dst += 2, src += 2 * step) {
                dst[0] = src[0], dst[1] = src[step];
            }
            if (in_n & 1) {
                *dst = *src;
            }
        }
        for (y = 0; y < lines; y++) {
            int8_t *o = out + (size_t)y * o_line + c;
            const int32_t *a = acc, *ae = acc + (n & ~1);
            dw3_row(plane + y * pw, pw, wk, acc, n);
            for (; a != ae; a += 2, o += 2 * o_step) {
                o[0] = ekrt_rq_t(2 * a[0] + b2, m, k, r);
                o[o_step] = ekrt_rq_t(2 * a[1] + b2, m, k, r);
            }
            if (n & 1) {
                *o = ekrt_rq_t(2 * a[0] + b2, m, k, r);
            }
        }
    }
}
#endif

/* One output pixel of ekrt_dwconv_p: every channel, requantized by rq->vec per chunk; the
 * inputs are at taps[i] + off. */
static void dwp_px(const ekrt_conv_t *p, const int32_t *w, const int8_t *const *taps, int32_t off,
                   int32_t n_pairs, int8_t *dst)
{
    int32_t oc = p->out_c, c0, c;
    int32_t acc[EKRT_CHUNK];
    for (c0 = 0; c0 < oc; c0 += EKRT_CHUNK) {
        int32_t n = oc - c0 < EKRT_CHUNK ? oc - c0 : EKRT_CHUNK;
        for (c = 0; c < n; c += 4, w += 4 * n_pairs) {
            acc[c] = p->bias[c0 + c], acc[c + 1] = p->bias[c0 + c + 1];
            acc[c + 2] = p->bias[c0 + c + 2], acc[c + 3] = p->bias[c0 + c + 3];
            dwp_group(taps, w, off + c0 + c, n_pairs, acc + c);
        }
        p->rq.vec(&p->rq, c0, acc, dst + c0, n);
    }
}

/* One output row. taps: k_h * k_w input pixel pointers (scratch), one more when paired (the
 * zero-weight partner of an odd last tap); zpix: one input pixel of zero points, read for
 * padded taps. pw: ekrt_dwconv_p's paired weights (dw_pair), else null; rqt: ekrt_rq_table's
 * when the requantization is fused as well, else null. */
static void dw_row(const ekrt_conv_t *p, const int8_t *in, int32_t oy, const int8_t **taps,
                   const int8_t *zpix, int8_t *dst, const int32_t *pw, const int32_t *rqt)
{
    int32_t oc = p->out_c, ic = p->in_c, mult = p->groups;
    int32_t n_taps = p->k_h * p->k_w, n_pairs = (n_taps + 1) / 2;
    int32_t n_tp = pw ? 2 * n_pairs : n_taps;
    int32_t ox, ky, kx, c, c0, t, off = 0;
    int32_t y0 = oy * p->stride_h - p->pad_h;
    int32_t acc[EKRT_CHUNK];
    const int32_t *bias = p->bias;
    /* Every tap of the row inside vertically; then a pixel whose taps are all inside and
     * follows one that was has each tap stride_w pixels on (off): no bounds checks. */
    int32_t rows_in = y0 >= 0 && y0 + (p->k_h - 1) * p->dil_h < p->in_h, prev_in = 0;
    int32_t step = p->stride_w * ic;
    for (ox = 0; ox < p->out_w; ox++, dst += oc) {
        int32_t x0 = ox * p->stride_w - p->pad_w;
        int32_t all_in = rows_in && x0 >= 0 && x0 + (p->k_w - 1) * p->dil_w < p->in_w;
        const int8_t **tp = taps;
        if (all_in && prev_in) {
            off += step;
        } else {
            off = 0;
            for (ky = 0; ky < p->k_h; ky++) {
                int32_t iy = y0 + ky * p->dil_h;
                for (kx = 0; kx < p->k_w; kx++) {
                    int32_t ix = x0 + kx * p->dil_w;
                    *tp++ = (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w)
                                ? zpix
                                : in + ((size_t)iy * p->in_w + ix) * ic;
                }
            }
            if (n_tp > n_taps) {
                *tp = tp[-1]; /* a real pixel, so that it moves along with the others */
            }
        }
        prev_in = all_in;
#if defined(EKRT_DSP) && !defined(EKRT_SINGLE_ROUNDING)
        if (rqt) {
            dwp_px_rq(p, pw, taps, off, taps + n_tp, rqt, dst);
            continue;
        }
#else
        (void)rqt;
#endif
        if (pw) {
            dwp_px(p, pw, taps, off, n_pairs, dst);
            continue;
        }
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
                        const int8_t *x = taps[t] + off + cc;
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
                    s += (int32_t)taps[t][off + ci] * *w;
                }
                acc[c] = s;
            }
            p->rq.vec(&p->rq, c0, acc, dst + c0, n);
        }
    }
}

static int8_t *dw_setup(const ekrt_conv_t *p, int32_t *scratch)
{
    int8_t *zpix = (int8_t *)scratch + 8 * (p->k_h * p->k_w + 1);
    int32_t i;
    for (i = 0; i < p->in_c; i++) {
        zpix[i] = (int8_t)p->in_zp;
    }
    return zpix;
}

/* dw_row's rqt: ekrt_rq_table's, after zpix, when the paired kernel's requantization is fusable
 * (decided once a call: ekrt_rq_fusable loops over the channels), else null. */
static const int32_t *dw_rqt(const ekrt_conv_t *p, const int32_t *pw, const int8_t *zpix)
{
#if defined(EKRT_DSP) && !defined(EKRT_SINGLE_ROUNDING)
    int32_t *t = (int32_t *)(void *)(zpix + ((p->in_c + 7) & ~7));
    if (pw) {
        return ekrt_rq_table(&p->rq, p->out_c, t);
    }
#endif
    (void)p, (void)pw, (void)zpix;
    return 0;
}

static void dw(const ekrt_conv_t *p, const int8_t *in, int8_t *out, int32_t *scratch,
               const int32_t *pw)
{
    const int8_t *zpix = dw_setup(p, scratch);
    const int32_t *rqt = dw_rqt(p, pw, zpix);
    int32_t oy;
    for (oy = 0; oy < p->out_h; oy++) {
        dw_row(p, in, oy, (const int8_t **)(void *)scratch, zpix,
               out + (size_t)oy * p->out_w * p->out_c, pw, rqt);
    }
}

static void dw_inplace(const ekrt_conv_t *p, int8_t *inout, int32_t *scratch, const int32_t *pw)
{
    int32_t row_bytes = (int32_t)p->out_w * p->out_c;
    int32_t ring = p->pad_h + 1 < p->out_h ? p->pad_h + 1 : p->out_h;
    const int8_t *zpix = dw_setup(p, scratch);
    const int32_t *rqt = dw_rqt(p, pw, zpix);
    int8_t *rows = (int8_t *)scratch + EKRT_DW_SCRATCH(p->k_h, p->k_w, p->in_c);
    int32_t y, r;
    for (y = 0; y < p->out_h + p->pad_h; y++) {
        if (y < p->out_h) {
            dw_row(p, inout, y, (const int8_t **)(void *)scratch, zpix,
                   rows + (size_t)(y % ring) * row_bytes, pw, rqt);
        }
        /* Input row y - pad_h is read by no later output row: overwrite it. */
        r = y - p->pad_h;
        if (r >= 0) {
            ekrt_copy(rows + (size_t)(r % ring) * row_bytes, inout + (size_t)r * row_bytes,
                      row_bytes);
        }
    }
}

void ekrt_dwconv(const ekrt_conv_t *p, const int8_t *in, int8_t *out, int32_t *scratch)
{
    dw(p, in, out, scratch, 0);
}

void ekrt_dwconv_inplace(const ekrt_conv_t *p, int8_t *inout, int32_t *scratch)
{
    dw_inplace(p, inout, scratch, 0);
}

/* dw3 when it applies (EKRT_DW3_USED: the lowering sizes the scratch for it then) and the
 * requantization is fused. */
static int dw3_used(const ekrt_conv_t *p, const int8_t *in, int8_t *out, int32_t *scratch)
{
#if defined(EKRT_DSP) && !defined(EKRT_SINGLE_ROUNDING)
    if (EKRT_DW3_USED(p->k_h, p->k_w, p->stride_h, p->stride_w, p->dil_h, p->dil_w, p->out_h,
                      p->out_w) &&
        ekrt_rq_table(&p->rq, p->out_c, scratch)) {
        dw3(p, in, out, scratch, scratch);
        return 1;
    }
#endif
    (void)p, (void)in, (void)out, (void)scratch;
    return 0;
}

/* ekrt_dwconv_p's paired weights, in scratch after the tap table, zpix and rq table. */
static const int32_t *dw_pair(const ekrt_conv_t *p, int32_t *scratch)
{
    int32_t oc = p->out_c, n_taps = p->k_h * p->k_w, stride = 4 * ((n_taps + 1) / 2), j, i;
    int32_t *d0 = (int32_t *)(void *)((int8_t *)scratch + 8 * (n_taps + 1) +
                                      ((p->in_c + 7) & ~7) + EKRT_RQT_BYTES(p->in_c));
    for (j = 0; j < n_taps; j += 2) { /* pair j / 2 of every channel */
        const int8_t *a = p->w + j * oc, *b = a + oc;
        int32_t *d = d0 + 2 * j;
        for (i = 0; i < oc; i += 4, a += 4, b += 4, d += stride) {
#ifdef EKRT_DSP
            uint32_t va = ekrt_ld32(a), vb = j + 1 < n_taps ? ekrt_ld32(b) : 0;
            uint32_t al = (uint32_t)ekrt_sxtb16_lo(va), ah = (uint32_t)ekrt_sxtb16_hi(va);
            uint32_t bl = (uint32_t)ekrt_sxtb16_lo(vb), bh = (uint32_t)ekrt_sxtb16_hi(vb);
            d[0] = (int32_t)ekrt_pkhbt16(al, bl), d[1] = (int32_t)ekrt_pkhbt16(ah, bh);
            d[2] = (int32_t)ekrt_pkhtb16(bl, al), d[3] = (int32_t)ekrt_pkhtb16(bh, ah);
#else
            int32_t k;
            for (k = 0; k < 4; k++) { /* an odd last tap's partner is zero */
                uint32_t hi = j + 1 < n_taps ? (uint32_t)b[k] << 16 : 0;
                d[k] = (int32_t)(((uint32_t)a[k] & 0xFFFFu) | hi);
            }
#endif
        }
    }
    return d0;
}

void ekrt_dwconv_p(const ekrt_conv_t *p, const int8_t *in, int8_t *out, int32_t *scratch)
{
    if (!dw3_used(p, in, out, scratch)) {
        dw(p, in, out, scratch, dw_pair(p, scratch));
    }
}

void ekrt_dwconv_p_inplace(const ekrt_conv_t *p, int8_t *inout, int32_t *scratch)
{
    if (!dw3_used(p, inout, inout, scratch)) {
        dw_inplace(p, inout, scratch, dw_pair(p, scratch));
    }
}
