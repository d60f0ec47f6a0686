/* edgekit-rt: FULLY_CONNECTED of one input row on cores with the DSP extension (int8,
 * TFLM-exact): the input sign-extended once (SXTB16 halves) for every output row, the
 * requantization fused (ekrt_rq_fused). Otherwise, and when the requantization is not
 * fusable, it is ekrt_fully_connected. Weights blocked as ekrt_kernels.h describes. */
#include "ekrt_kernels.h"
#include "ekrt_dsp.h"

#if defined(EKRT_DSP) && !defined(EKRT_SINGLE_ROUNDING)
/* One weight row of fc_rq's loop: its word (LOAD) split by SXTB16, dotted with the input pair
 * into accumulator S. */
#define FC_ROW(S, LOAD)                                                                       \
    LOAD "\n\t"                                                                                \
         "sxtb16 %[t], %[v], ror #8\n\t"                                                       \
         "sxtb16 %[v], %[v]\n\t"                                                               \
         "smlad %[" S "], %[v], %[a], %[" S "]\n\t"                                              \
         "smlad %[" S "], %[t], %[b], %[" S "]\n\t"

/* One 4-byte step of fc_rq's loop: the input pair, then the 4 rows. */
#define FC_STEP                                                                                \
    "ldrd %[a], %[b], [%[xp]], #8\n\t"                                                          \
    FC_ROW("s1", "ldr %[v], [%[w], #4]")                                                       \
    FC_ROW("s2", "ldr %[v], [%[w], #8]")                                                       \
    FC_ROW("s3", "ldr %[v], [%[w], #12]")                                                      \
    FC_ROW("s0", "ldr %[v], [%[w]], #16")

static inline __attribute__((always_inline)) void
fc_rq(const ekrt_fc_t *p, const int8_t *x, const int32_t *xw, int8_t *out, int packed)
{
    const ekrt_rq_local_t l = ekrt_rq_load(&p->rq);
    int32_t depth = p->in_dim, n = p->out_dim, zp = p->rq.out_zp;
    int32_t k4 = depth & ~3, tl = depth - k4;
    const int32_t *xe = xw + k4 / 2;
    const int8_t *w = p->w;
    int32_t c, j, k;
    for (c = 0; c + 4 <= n; c += 4) {
        int32_t s0 = p->bias[c], s1 = p->bias[c + 1], s2 = p->bias[c + 2], s3 = p->bias[c + 3];
        const int32_t *xp = xw;
        uint32_t a, b, v, t;
        /* per 4 bytes of depth: 1 input pair, 4 weight loads, 8 SXTB16, 8 SMLAD for 16 MACs;
         * in assembly for the post-indexed loads (GCC steps the pointers apart), two steps a
         * pass (an odd count enters at the second): 22 instructions a step */
        if (xp != xe) {
            __asm__("sub %[t], %[xe], %[xp]\n\t"
                    "tst %[t], #8\n\t"
                    "bne 2f\n\t"
                    "1:\n\t" FC_STEP "2:\n\t" FC_STEP
                    "cmp %[xp], %[xe]\n\t"
                    "bne 1b"
                    : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [xp] "+r"(xp),
                      [w] "+r"(w), [a] "=&r"(a), [b] "=&r"(b), [v] "=&r"(v), [t] "=&r"(t)
                    : [xe] "r"(xe)
                    : "cc", "memory");
        }
        for (j = 0; j < tl; j++) {
            int32_t xv = x[k4 + j];
            s0 += xv * w[j];
            s1 += xv * w[tl + j];
            s2 += xv * w[2 * tl + j];
            s3 += xv * w[3 * tl + j];
        }
        w += 4 * tl;
        out[c] = ekrt_rq_fused(s0, ekrt_rq_ch(&l, c, packed), zp);
        out[c + 1] = ekrt_rq_fused(s1, ekrt_rq_ch(&l, c + 1, packed), zp);
        out[c + 2] = ekrt_rq_fused(s2, ekrt_rq_ch(&l, c + 2, packed), zp);
        out[c + 3] = ekrt_rq_fused(s3, ekrt_rq_ch(&l, c + 3, packed), zp);
    }
    for (; c < n; c++, w += depth) { /* the n % 4 last rows, stored plainly */
        int32_t s = p->bias[c];
        for (k = 0; k < depth; k++) {
            s += (int32_t)x[k] * w[k];
        }
        out[c] = ekrt_rq_fused(s, ekrt_rq_ch(&l, c, packed), zp);
    }
}
#endif

void ekrt_fully_connected_w(const ekrt_fc_t *p, const int8_t *in, int8_t *out, int8_t *scratch)
{
#if defined(EKRT_DSP) && !defined(EKRT_SINGLE_ROUNDING)
    int32_t *xw = (int32_t *)(void *)scratch;
    int32_t b, k;
    if (ekrt_rq_fusable(&p->rq, p->out_dim)) {
        for (b = 0; b < p->batches; b++, in += p->in_dim, out += p->out_dim) {
            for (k = 0; k + 4 <= p->in_dim; k += 4) {
                uint32_t v = ekrt_ld32(in + k);
                xw[k / 2] = ekrt_sxtb16_lo(v);
                xw[k / 2 + 1] = ekrt_sxtb16_hi(v);
            }
            if (p->rq.shift) {
                fc_rq(p, in, xw, out, 0);
            } else {
                fc_rq(p, in, xw, out, 1);
            }
        }
        return;
    }
#endif
    (void)scratch;
    ekrt_fully_connected(p, in, out);
}

/* ------------------------------------------------ int16 weights (generate --optimize speed)
 * Per block of 4 rows: per 4 inputs k..k+3, each row's (w[k], w[k+2]) then (w[k+1], w[k+3])
 * as halfword pairs (the widened input's SXTB16 lanes: one LDRD and two SMLAD a row); then
 * the 4 rows' last in_dim % 4 weights row after row; the out_dim % 4 last rows plainly. */

/* Halfword h of the word array w (little-endian pairs), sign-extended. */
static inline int32_t fch_h(const int32_t *w, int32_t h)
{
    uint32_t v = ((uint32_t)w[h >> 1] >> ((h & 1) * 16)) & 0xFFFFu;
    return (int32_t)(v ^ 0x8000u) - 0x8000;
}

#ifdef EKRT_DSP
/* One 4-input step: the widened input pair, then rows 1, 2, 3, 0 (row 0's LDRD steps w): 13
 * instructions for 16 MACs. */
#define FCH_ROW(S, LOAD)                                                                      \
    LOAD "\n\t"                                                                                \
         "smlad %[" S "], %[v], %[a], %[" S "]\n\t"                                              \
         "smlad %[" S "], %[t], %[b], %[" S "]\n\t"
#define FCH_STEP                                                                               \
    "ldrd %[a], %[b], [%[xp]], #8\n\t"                                                          \
    FCH_ROW("s1", "ldrd %[v], %[t], [%[w], #8]")                                               \
    FCH_ROW("s2", "ldrd %[v], %[t], [%[w], #16]")                                              \
    FCH_ROW("s3", "ldrd %[v], %[t], [%[w], #24]")                                              \
    FCH_ROW("s0", "ldrd %[v], %[t], [%[w]], #32")
#endif

/* s[0..3] += the 4 rows of the block at w (its first k4 inputs) dotted with x (xw: x's first
 * k4 bytes widened, DSP cores). */
static inline __attribute__((always_inline)) void fch_dot4(const int8_t *x, const int32_t *xw,
                                                            int32_t k4, const int32_t *w,
                                                            int32_t *s)
{
#ifdef EKRT_DSP
    int32_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
    const int32_t *xp = xw, *xe = xw + k4 / 2;
    uint32_t a, b, v, t;
    (void)x;
    if (xp == xe) {
        return;
    }
    /* two steps a pass (an odd count enters at the second) */
    __asm__("sub %[t], %[xe], %[xp]\n\t"
            "tst %[t], #8\n\t"
            "bne 2f\n\t"
            "1:\n\t" FCH_STEP "2:\n\t" FCH_STEP
            "cmp %[xp], %[xe]\n\t"
            "bne 1b"
            : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [xp] "+r"(xp),
              [w] "+r"(w), [a] "=&r"(a), [b] "=&r"(b), [v] "=&r"(v), [t] "=&r"(t)
            : [xe] "r"(xe)
            : "cc", "memory");
    s[0] = s0, s[1] = s1, s[2] = s2, s[3] = s3;
#else
    int32_t k, r;
    (void)xw;
    for (k = 0; k < k4; k += 4, w += 8) {
        for (r = 0; r < 4; r++) {
            s[r] += x[k] * fch_h(w, 4 * r) + x[k + 2] * fch_h(w, 4 * r + 1) +
                    x[k + 1] * fch_h(w, 4 * r + 2) + x[k + 3] * fch_h(w, 4 * r + 3);
        }
    }
#endif
}

/* Rows c..c+3's accumulators from the bias, and the block's depth % 4 tail (tl weights a row). */
static inline __attribute__((always_inline)) void fch_block(const ekrt_fch_t *p, const int8_t *x,
                                                            const int32_t *xw, const int32_t *w,
                                                            int32_t c, int32_t k4, int32_t tl,
                                                            int32_t *s)
{
    int32_t r, j;
    for (r = 0; r < 4; r++) {
        s[r] = p->bias[c + r];
    }
    fch_dot4(x, xw, k4, w, s);
    for (j = 0; j < tl; j++) {
        int32_t xv = x[k4 + j];
        for (r = 0; r < 4; r++) {
            s[r] += xv * fch_h(w + 2 * k4, r * tl + j);
        }
    }
}

/* Row c (of the out_dim % 4 last, from w on) dotted with x, from its bias. */
static int32_t fch_row(const ekrt_fch_t *p, const int8_t *x, const int32_t *w, int32_t c, int32_t i)
{
    int32_t s = p->bias[c], k;
    for (k = 0; k < p->in_dim; k++) {
        s += x[k] * fch_h(w, i * p->in_dim + k);
    }
    return s;
}

#if defined(EKRT_DSP) && !defined(EKRT_SINGLE_ROUNDING)
/* One input row with the fused requantization (ekrt_rq_fusable), specialised on packed. */
static inline __attribute__((always_inline)) void
fch_rq(const ekrt_fch_t *p, const int8_t *x, const int32_t *xw, int8_t *out, int packed)
{
    const ekrt_rq_local_t l = ekrt_rq_load(&p->rq);
    int32_t depth = p->in_dim, n = p->out_dim, zp = p->rq.out_zp;
    int32_t k4 = depth & ~3, tl = depth - k4, n4 = n & ~3, c, r, s[4];
    const int32_t *w = p->w;
    for (c = 0; c < n4; c += 4, w += 2 * depth) {
        fch_block(p, x, xw, w, c, k4, tl, s);
        for (r = 0; r < 4; r++) {
            out[c + r] = ekrt_rq_fused(s[r], ekrt_rq_ch(&l, c + r, packed), zp);
        }
    }
    for (; c < n; c++) {
        out[c] = ekrt_rq_fused(fch_row(p, x, w, c, c - n4), ekrt_rq_ch(&l, c, packed), zp);
    }
}
#endif

void ekrt_fully_connected_h(const ekrt_fch_t *p, const int8_t *in, int8_t *out, int8_t *scratch)
{
    int32_t depth = p->in_dim, n = p->out_dim, k4 = depth & ~3, tl = depth - k4;
    int32_t n4 = n & ~3, b, c, s[4];
    int32_t *xw = (int32_t *)(void *)scratch;
    for (b = 0; b < p->batches; b++, in += depth, out += n) {
        const int32_t *w = p->w;
#ifdef EKRT_DSP
        int32_t k;
        for (k = 0; k < k4; k += 4) {
            uint32_t v = ekrt_ld32(in + k);
            xw[k / 2] = ekrt_sxtb16_lo(v);
            xw[k / 2 + 1] = ekrt_sxtb16_hi(v);
        }
#ifndef EKRT_SINGLE_ROUNDING
        if (ekrt_rq_fusable(&p->rq, n)) {
            if (p->rq.shift) {
                fch_rq(p, in, xw, out, 0);
            } else {
                fch_rq(p, in, xw, out, 1);
            }
            continue;
        }
#endif
#endif
        for (c = 0; c < n4; c += 4, w += 2 * depth) {
            fch_block(p, in, xw, w, c, k4, tl, s);
            p->rq.vec(&p->rq, c, s, out + c, 4);
        }
        for (; c < n; c++) {
            s[0] = fch_row(p, in, w, c, c - n4);
            p->rq.vec(&p->rq, c, s, out + c, 1);
        }
    }
}
