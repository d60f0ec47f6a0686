/* edgekit-rt: resampling kernels (int8, TFLM-exact): RESIZE_NEAREST_NEIGHBOR,
 * RESIZE_BILINEAR, TRANSPOSE_CONV. */
#include "ekrt_kernels.h"

void ekrt_resize_nearest(const ekrt_resize_nn_t *p, const int8_t *in, int8_t *out)
{
    int32_t b, y, x, c;
    for (b = 0; b < p->batches; b++) {
        const int8_t *img = in + (size_t)b * p->in_h * p->in_w * p->depth;
        for (y = 0; y < p->out_h; y++) {
            const int8_t *row = img + (size_t)p->rows[y] * p->in_w * p->depth;
            for (x = 0; x < p->out_w; x++) {
                const int8_t *px = row + (size_t)p->cols[x] * p->depth;
                for (c = 0; c < p->depth; c++) {
                    *out++ = px[c];
                }
            }
        }
    }
}

/* TFLM's ComputeInterpolationValuesInteger: the Q10 source coordinate and its two
 * neighbours (C's truncating division, as TFLM). */
static void bl_coord(int32_t v, int32_t scale, int32_t half_pixel, int32_t in_size,
                     int32_t *pos, int32_t *lo, int32_t *hi)
{
    *pos = half_pixel ? v * scale + scale / 2 - (1 << 9) : v * scale;
    *lo = *pos / (1 << 10) > 0 ? *pos / (1 << 10) : 0;
    *hi = (*pos + (1 << 10) - 1) / (1 << 10);
    *hi = *hi < in_size - 1 ? *hi : in_size - 1;
}

void ekrt_resize_bilinear(const ekrt_resize_bl_t *p, const int8_t *in, int8_t *out)
{
    int32_t b, y, x, c, iy, y0, y1, ix, x0, x1;
    const size_t row = (size_t)p->in_w * p->depth;
    for (b = 0; b < p->batches; b++) {
        const int8_t *img = in + (size_t)b * p->in_h * row;
        for (y = 0; y < p->out_h; y++) {
            int32_t wy1, wy0;
            bl_coord(y, p->scale_h, p->half_pixel, p->in_h, &iy, &y0, &y1);
            wy1 = iy - (1 << 10) * y0;
            wy0 = (1 << 10) - wy1;
            for (x = 0; x < p->out_w; x++) {
                int32_t wx1, wx0;
                const int8_t *a, *bb, *cc, *d;
                bl_coord(x, p->scale_w, p->half_pixel, p->in_w, &ix, &x0, &x1);
                wx1 = ix - (1 << 10) * x0;
                wx0 = (1 << 10) - wx1;
                a = img + y0 * row + (size_t)x0 * p->depth;
                bb = img + y1 * row + (size_t)x0 * p->depth;
                cc = img + y0 * row + (size_t)x1 * p->depth;
                d = img + y1 * row + (size_t)x1 * p->depth;
                for (c = 0; c < p->depth; c++) {
                    int64_t v = (int64_t)a[c] * wy0 * wx0 + (int64_t)bb[c] * wy1 * wx0 +
                                (int64_t)cc[c] * wy0 * wx1 + (int64_t)d[c] * wy1 * wx1;
#ifdef EKRT_SINGLE_ROUNDING
                    *out++ = (int8_t)((v + (1 << 19)) >> 20);
#else
                    *out++ = (int8_t)((v + (v > 0 ? (1 << 19) : -(1 << 19))) / (1 << 20));
#endif
                }
            }
        }
    }
}

/* The first tap along one axis reaching output `o` and the input index it reads:
 * o = i * stride - pad + f, so f = (o + pad) mod stride first, then every stride-th tap. */
void ekrt_transpose_conv(const ekrt_conv_t *p, const int8_t *in, int8_t *out, int32_t *scratch)
{
    const int32_t in_c = p->in_c, out_c = p->out_c, in_off = -p->in_zp;
    int32_t oy, ox, oc, fy, fx, ic;
    for (oy = 0; oy < p->out_h; oy++) {
        int32_t ty = oy + p->pad_h;
        for (ox = 0; ox < p->out_w; ox++) {
            int32_t tx = ox + p->pad_w;
            for (oc = 0; oc < out_c; oc++) {
                scratch[oc] = p->bias[oc];
            }
            for (fy = ty % p->stride_h; fy < p->k_h && fy <= ty; fy += p->stride_h) {
                int32_t iy = (ty - fy) / p->stride_h;
                if (iy >= p->in_h) {
                    continue;
                }
                for (fx = tx % p->stride_w; fx < p->k_w && fx <= tx; fx += p->stride_w) {
                    int32_t ix = (tx - fx) / p->stride_w;
                    const int8_t *px;
                    if (ix >= p->in_w) {
                        continue;
                    }
                    px = in + ((size_t)iy * p->in_w + ix) * in_c;
                    for (oc = 0; oc < out_c; oc++) {
                        const int8_t *w = p->w + (((size_t)oc * p->k_h + fy) * p->k_w + fx) * in_c;
                        int32_t acc = 0;
                        for (ic = 0; ic < in_c; ic++) {
                            acc += (px[ic] + in_off) * w[ic];
                        }
                        scratch[oc] += acc;
                    }
                }
            }
            p->rq.vec(&p->rq, 0, scratch, out + ((size_t)oy * p->out_w + ox) * out_c, out_c);
        }
    }
}
