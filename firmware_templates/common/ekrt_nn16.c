/* edgekit-rt: int16-activation convolutions and fully connected (16x8 models), as TFLM's
 * reference_integer_ops int16 kernels: int16 x int8 products summed in int64 (or int32, see
 * ekrt_conv16_t.acc32), the bias added, one requantization per output. */
#include "ekrt_kernels.h"

static inline int16_t requant16(const ekrt_conv16_t *p, int64_t acc, int32_t c)
{
    int32_t v;
    if (p->bias != 0) {
        acc += p->bias[c];
    }
    /* acc32: TFLM sums in int32 (wrapping) and calls the int32 MultiplyByQuantizedMultiplier. */
    v = p->acc32 ? ekrt_mul_q((int32_t)(uint32_t)(uint64_t)acc, p->mult[c], p->shift[c])
                 : ekrt_mul_q64(acc, p->mult[c], p->shift[c]);
    v = v < p->act_min ? p->act_min : v;
    return (int16_t)(v > p->act_max ? p->act_max : v);
}

static inline int64_t dot16(const int16_t *x, const int8_t *w, int32_t n)
{
    int64_t acc = 0;
    int32_t i;
    for (i = 0; i < n; i++) {
        acc += (int32_t)x[i] * (int32_t)w[i];
    }
    return acc;
}

void ekrt_conv2d_s16(const ekrt_conv16_t *p, const int16_t *in, int16_t *out)
{
    int32_t oy, ox, oc, ky, kx;
    int32_t icg = p->in_c / p->groups, ocg = p->out_c / p->groups;
    for (oy = 0; oy < p->out_h; oy++) {
        int32_t iy0 = oy * p->stride_h - p->pad_h;
        for (ox = 0; ox < p->out_w; ox++) {
            int32_t ix0 = ox * p->stride_w - p->pad_w;
            for (oc = 0; oc < p->out_c; oc++) {
                int32_t g = oc / ocg;
                int64_t acc = 0;
                for (ky = 0; ky < p->k_h; ky++) {
                    int32_t iy = iy0 + p->dil_h * ky;
                    if (iy < 0 || iy >= p->in_h) {
                        continue;
                    }
                    for (kx = 0; kx < p->k_w; kx++) {
                        int32_t ix = ix0 + p->dil_w * kx;
                        if (ix < 0 || ix >= p->in_w) {
                            continue;
                        }
                        acc += dot16(in + ((size_t)iy * p->in_w + ix) * p->in_c + (size_t)g * icg,
                                     p->w + (((size_t)oc * p->k_h + ky) * p->k_w + kx) * icg, icg);
                    }
                }
                *out++ = requant16(p, acc, oc);
            }
        }
    }
}

void ekrt_dwconv_s16(const ekrt_conv16_t *p, const int16_t *in, int16_t *out)
{
    int32_t oy, ox, oc, ky, kx;
    for (oy = 0; oy < p->out_h; oy++) {
        int32_t iy0 = oy * p->stride_h - p->pad_h;
        for (ox = 0; ox < p->out_w; ox++) {
            int32_t ix0 = ox * p->stride_w - p->pad_w;
            for (oc = 0; oc < p->out_c; oc++) {
                int32_t ic = oc / p->groups;
                int64_t acc = 0;
                for (ky = 0; ky < p->k_h; ky++) {
                    int32_t iy = iy0 + p->dil_h * ky;
                    if (iy < 0 || iy >= p->in_h) {
                        continue;
                    }
                    for (kx = 0; kx < p->k_w; kx++) {
                        int32_t ix = ix0 + p->dil_w * kx;
                        if (ix < 0 || ix >= p->in_w) {
                            continue;
                        }
                        acc += (int32_t)in[((size_t)iy * p->in_w + ix) * p->in_c + ic] *
                               (int32_t)p->w[((size_t)ky * p->k_w + kx) * p->out_c + oc];
                    }
                }
                *out++ = requant16(p, acc, oc);
            }
        }
    }
}

void ekrt_fully_connected_s16(const ekrt_conv16_t *p, const int16_t *in, int16_t *out)
{
    int32_t b, o;
    for (b = 0; b < p->in_h; b++) {
        const int16_t *x = in + (size_t)b * p->in_c;
        for (o = 0; o < p->out_c; o++) {
            *out++ = requant16(p, dot16(x, p->w + (size_t)o * p->in_c, p->in_c), o);
        }
    }
}

/* TFLM scatters each input into an int64 buffer of the whole output; the same sums gathered
 * per output pixel (integer sums without overflow: any order gives the same result). */
void ekrt_transpose_conv_s16(const ekrt_conv16_t *p, const int16_t *in, int16_t *out,
                             int64_t *scratch)
{
    int32_t oy, ox, oc, ky, kx;
    for (oy = 0; oy < p->out_h; oy++) {
        for (ox = 0; ox < p->out_w; ox++) {
            for (oc = 0; oc < p->out_c; oc++) {
                scratch[oc] = 0;
            }
            for (ky = 0; ky < p->k_h; ky++) {
                int32_t ty = oy + p->pad_h - ky, iy = ty / p->stride_h;
                if (ty < 0 || ty % p->stride_h != 0 || iy >= p->in_h) {
                    continue;
                }
                for (kx = 0; kx < p->k_w; kx++) {
                    int32_t tx = ox + p->pad_w - kx, ix = tx / p->stride_w;
                    const int16_t *x;
                    if (tx < 0 || tx % p->stride_w != 0 || ix >= p->in_w) {
                        continue;
                    }
                    x = in + ((size_t)iy * p->in_w + ix) * p->in_c;
                    for (oc = 0; oc < p->out_c; oc++) {
                        scratch[oc] += dot16(
                            x, p->w + (((size_t)oc * p->k_h + ky) * p->k_w + kx) * p->in_c, p->in_c);
                    }
                }
            }
            for (oc = 0; oc < p->out_c; oc++) {
                *out++ = requant16(p, scratch[oc], oc);
            }
        }
    }
}
