/* edgekit-rt: the transformer ops' kernels (ekrt_transformer.c; lowerings in
 * edgekit/codegen/lower_transformer.py); included by ekrt_kernels.h. */
#ifndef EKRT_TRANSFORMER_H
#define EKRT_TRANSFORMER_H

/* BATCH_MATMUL: out[b][i][j] = clamp(mul_q(sum_k (lhs(i, k) + lhs_off) * (rhs(k, j) + rhs_off))
 * + out_zp), up to 3 batch dimensions broadcast (a stride of 0 repeats an operand). Element
 * (i, k) of a batch of lhs is at i * lhs_row + k * lhs_depth (adj_x swaps the two), (k, j) of
 * rhs at k * rhs_depth + j * rhs_col; the output is [batch...][rows][cols], contiguous. */
typedef struct {
    int32_t batch[3];
    int32_t lhs_batch[3], rhs_batch[3];
    int32_t rows, cols, depth;
    int32_t lhs_row, lhs_depth, rhs_depth, rhs_col;
    int32_t lhs_off, rhs_off, out_zp;
    int32_t mult, shift;
    int32_t act_min, act_max;
} ekrt_bmm_t;

void ekrt_batch_matmul(const ekrt_bmm_t *p, const int8_t *lhs, const int8_t *rhs, int8_t *out);
/* NEG and SQUARE of float32 (the converter leaves LayerNormalization's NEG, RMSNormalization's
 * and UnitNormalization's SQUARE float between DEQUANTIZE and QUANTIZE): -x and x * x, one
 * IEEE operation each, bit-exact with any reference. */
void ekrt_neg_f32(const float *in, float *out, int32_t n);
void ekrt_square_f32(const float *in, float *out, int32_t n);
/* SELECT / SELECT_V2 (the causal mask of MultiHeadAttention): out = cond ? x : y, raw int8
 * values copied as TFLM (no requantization), broadcast over 5 dimensions by the strides
 * (0 repeats an operand); cond a bool array (one byte each, 0 or 1), constant or computed. */
typedef struct {
    int32_t dims[5];
    int32_t sc[5], sx[5], sy[5];
} ekrt_select_t;

void ekrt_select(const ekrt_select_t *p, const int8_t *cond, const int8_t *x, const int8_t *y,
                 int8_t *out);
/* SELECT_V2 on a state (a KV cache update) computed in place in y = out, its condition
 * EQUAL(keys, *key) true only along one axis: the slices k of out with keys[k] == *key get x
 * (`row` broadcasts x over one slice; out slice k at k * out_step, x at k * x_step), the
 * others are already y. O(one slice) instead of O(out); `all` is the plain SELECT's. keys NULL:
 * they are 0..n-1, so the slice is the key itself (no search). */
typedef struct {
    ekrt_select_t all, row;
    const int32_t *keys;
    int32_t n, out_step, x_step;
} ekrt_select_slice_t;

void ekrt_select_slice(const ekrt_select_slice_t *p, const int32_t *key, const int8_t *x,
                       int8_t *out);
/* EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL, broadcast as ekrt_select:
 * out[i] = bool (0 or 1) = bit (sign(a - b) + 1) of `mask` (lt 1, eq 2, gt 4). An operand
 * with a table is int8, compared as table[(uint8_t)v] (TFLM's rescaled value); without, int32.
 * logical: LOGICAL_AND / LOGICAL_OR of bool operands, out = bit
 * (2 * a + b) of `mask`. */
typedef struct {
    int32_t dims[5];
    int32_t sa[5], sb[5];
    int32_t mask, logical;
    const int32_t *ta, *tb;
} ekrt_compare_t;

void ekrt_compare(const ekrt_compare_t *p, const void *a, const void *b, int8_t *out);

#endif
