/* edgekit-rt: the ops a Keras 3 transformer block converts to beyond the CNN set
 * (int8, bit-exact with TFLM's reference kernels). GELU and RSQRT need no kernel of their
 * own: they are 256-entry tables (ekrt_lut) computed at generation time. The comparisons
 * and SELECT_V2 on a runtime condition serve a decode step's masks and KV cache update. */
#include "ekrt_kernels.h"

void ekrt_batch_matmul(const ekrt_bmm_t *p, const int8_t *lhs, const int8_t *rhs, int8_t *out)
{
    int32_t b0, b1, b2, i, j, k;
    for (b0 = 0; b0 < p->batch[0]; b0++) {
        for (b1 = 0; b1 < p->batch[1]; b1++) {
            for (b2 = 0; b2 < p->batch[2]; b2++) {
                const int8_t *l = lhs + b0 * p->lhs_batch[0] + b1 * p->lhs_batch[1] +
                                  b2 * p->lhs_batch[2];
                const int8_t *r = rhs + b0 * p->rhs_batch[0] + b1 * p->rhs_batch[1] +
                                  b2 * p->rhs_batch[2];
                for (i = 0; i < p->rows; i++) {
                    const int8_t *lrow = l + i * p->lhs_row;
                    for (j = 0; j < p->cols; j++) {
                        const int8_t *rcol = r + j * p->rhs_col;
                        /* uint32: TFLM's int32 sum wraps the same way (never in practice). */
                        uint32_t acc = 0;
                        for (k = 0; k < p->depth; k++) {
                            acc += (uint32_t)(((int32_t)lrow[k * p->lhs_depth] + p->lhs_off) *
                                              ((int32_t)rcol[k * p->rhs_depth] + p->rhs_off));
                        }
                        *out++ = ekrt_clamp8(ekrt_mul_q((int32_t)acc, p->mult, p->shift) +
                                                 p->out_zp,
                                             p->act_min, p->act_max);
                    }
                }
            }
        }
    }
}

void ekrt_neg_f32(const float *in, float *out, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++) {
        out[i] = -in[i];
    }
}

void ekrt_select(const ekrt_select_t *p, const int8_t *cond, const int8_t *x, const int8_t *y,
                 int8_t *out)
{
    int32_t i0, i1, i2, i3, i4;
    for (i0 = 0; i0 < p->dims[0]; i0++) {
        for (i1 = 0; i1 < p->dims[1]; i1++) {
            for (i2 = 0; i2 < p->dims[2]; i2++) {
                for (i3 = 0; i3 < p->dims[3]; i3++) {
                    const int8_t *c = cond + i0 * p->sc[0] + i1 * p->sc[1] + i2 * p->sc[2] +
                                       i3 * p->sc[3];
                    const int8_t *a = x + i0 * p->sx[0] + i1 * p->sx[1] + i2 * p->sx[2] +
                                      i3 * p->sx[3];
                    const int8_t *b = y + i0 * p->sy[0] + i1 * p->sy[1] + i2 * p->sy[2] +
                                      i3 * p->sy[3];
                    for (i4 = 0; i4 < p->dims[4]; i4++) {
                        *out++ = c[i4 * p->sc[4]] ? a[i4 * p->sx[4]] : b[i4 * p->sy[4]];
                    }
                }
            }
        }
    }
}

void ekrt_select_slice(const ekrt_select_slice_t *p, const int32_t *key, const int8_t *x,
                       int8_t *out)
{
    static const int8_t take_x = 1;
    int32_t k;
    for (k = 0; k < p->n; k++) {
        if (p->keys[k] == *key) {
            const int8_t *xs = x + k * p->x_step;
            ekrt_select(&p->row, &take_x, xs, xs, out + k * p->out_step);
        }
    }
}

/* One innermost row of ekrt_compare: n elements from element ia of a, ib of b. */
static void compare_row(const ekrt_compare_t *p, const void *a, const void *b, int32_t ia,
                        int32_t ib, int32_t n, int8_t *out)
{
    int32_t i, sa = p->sa[4], sb = p->sb[4], mask = p->mask;
    if (p->logical) {
        const int8_t *x = (const int8_t *)a + ia, *y = (const int8_t *)b + ib;
        for (i = 0; i < n; i++) {
            out[i] = (int8_t)((mask >> (((x[i * sa] != 0) << 1) | (y[i * sb] != 0))) & 1);
        }
        return;
    }
    if (p->ta == 0 && p->tb == 0) { /* int32 (a position against its range): no tables */
        const int32_t *x = (const int32_t *)a + ia, *y = (const int32_t *)b + ib;
        for (i = 0; i < n; i++) {
            int32_t va = x[i * sa], vb = y[i * sb];
            out[i] = (int8_t)((mask >> ((va > vb) - (va < vb) + 1)) & 1);
        }
        return;
    }
    for (i = 0; i < n; i++) {
        int32_t va = p->ta ? p->ta[(uint8_t)((const int8_t *)a)[ia + i * sa]]
                           : ((const int32_t *)a)[ia + i * sa];
        int32_t vb = p->tb ? p->tb[(uint8_t)((const int8_t *)b)[ib + i * sb]]
                           : ((const int32_t *)b)[ib + i * sb];
        out[i] = (int8_t)((mask >> ((va > vb) - (va < vb) + 1)) & 1);
    }
}

void ekrt_compare(const ekrt_compare_t *p, const void *a, const void *b, int8_t *out)
{
    int32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < p->dims[0]; i0++) {
        for (i1 = 0; i1 < p->dims[1]; i1++) {
            for (i2 = 0; i2 < p->dims[2]; i2++) {
                for (i3 = 0; i3 < p->dims[3]; i3++) {
                    int32_t ia = i0 * p->sa[0] + i1 * p->sa[1] + i2 * p->sa[2] + i3 * p->sa[3];
                    int32_t ib = i0 * p->sb[0] + i1 * p->sb[1] + i2 * p->sb[2] + i3 * p->sb[3];
                    compare_row(p, a, b, ia, ib, p->dims[4], out);
                    out += p->dims[4];
                }
            }
        }
    }
}

void ekrt_square_f32(const float *in, float *out, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++) {
        out[i] = in[i] * in[i];
    }
}
