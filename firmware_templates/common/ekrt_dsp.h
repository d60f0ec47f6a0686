/* edgekit-rt: what the int8 kernel files share (internal, not part of the kernel API): the
 * Armv7E-M DSP helpers behind EKRT_DSP and the accumulator chunk. */
#ifndef EKRT_DSP_H
#define EKRT_DSP_H

#include "ekrt_kernels.h"

#define EKRT_CHUNK 32 /* output channels whose int32 accumulators are held at once */

#if defined(__ARM_FEATURE_DSP) && !defined(EKRT_NO_DSP)
#include <arm_acle.h>
#define EKRT_DSP 1
static inline uint32_t ekrt_ld32(const int8_t *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, 4); /* unaligned word loads are fine on Armv7E-M */
    return v;
}
/* Sign-extend bytes 1 and 3 to two halfwords (SXTB16 with ROR #8). */
static inline int32_t ekrt_sxtb16_hi(uint32_t v)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}
static inline int32_t ekrt_sxtb16_lo(uint32_t v)
{
    return (int32_t)__sxtb16(v);
}
/* a's low halfword, b's low halfword above it (PKHBT, LSL #16). */
static inline uint32_t ekrt_pkhbt16(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
/* a's high halfword, b's high halfword below it (PKHTB, ASR #16). */
static inline uint32_t ekrt_pkhtb16(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* One 4-byte step of ekrt_dot2x2's loop, in assembly for the post-indexed LDRDs and loads (GCC
 * adds the pointers apart): 16 instructions. Row 1's word is loaded first so that row 0's load
 * steps w. */
#define EKRT_DOT2X2_STEP                                                                       \
    "ldrd %[a], %[b], [%[xp]], #8\n\t"                                                          \
    "ldrd %[c], %[d], [%[xp]], #8\n\t"                                                          \
    "ldr %[v], [%[w], #4]\n\t"                                                                 \
    "sxtb16 %[t], %[v], ror #8\n\t"                                                            \
    "sxtb16 %[v], %[v]\n\t"                                                                    \
    "smlad %[s01], %[v], %[a], %[s01]\n\t"                                                     \
    "smlad %[s01], %[t], %[b], %[s01]\n\t"                                                     \
    "smlad %[s11], %[v], %[c], %[s11]\n\t"                                                     \
    "smlad %[s11], %[t], %[d], %[s11]\n\t"                                                     \
    "ldr %[v], [%[w]], #16\n\t"                                                                \
    "sxtb16 %[t], %[v], ror #8\n\t"                                                            \
    "sxtb16 %[v], %[v]\n\t"                                                                    \
    "smlad %[s00], %[v], %[a], %[s00]\n\t"                                                     \
    "smlad %[s00], %[t], %[b], %[s00]\n\t"                                                     \
    "smlad %[s10], %[v], %[c], %[s10]\n\t"                                                     \
    "smlad %[s10], %[t], %[d], %[s10]\n\t"

/* s[0..3] += rows 0, 1 of the weight block at w (stride 16 per 4 bytes of depth) dotted with
 * widened inputs 0 (s[0], s[1]) and 1 (s[2], s[3]) (ekrt_nn.c's widen2): 2 weight loads, 4
 * SXTB16, 8 SMLAD per 16 MACs. Two steps a pass (an odd count enters at the second): 17
 * instructions per 16 MACs, 13 registers. */
static inline void ekrt_dot2x2(const int32_t *xp, const int32_t *xe, const int8_t *w, int32_t *s)
{
    int32_t s00 = s[0], s01 = s[1], s10 = s[2], s11 = s[3];
    uint32_t a, b, c, d, v, t;
    if (xp == xe) {
        return;
    }
    __asm__("sub %[t], %[xe], %[xp]\n\t"
            "tst %[t], #16\n\t"
            "bne 2f\n\t"
            "1:\n\t" EKRT_DOT2X2_STEP "2:\n\t" EKRT_DOT2X2_STEP
            "cmp %[xp], %[xe]\n\t"
            "bne 1b"
            : [s00] "+r"(s00), [s01] "+r"(s01), [s10] "+r"(s10), [s11] "+r"(s11), [xp] "+r"(xp),
              [w] "+r"(w), [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [d] "=&r"(d), [v] "=&r"(v),
              [t] "=&r"(t)
            : [xe] "r"(xe)
            : "cc", "memory");
    s[0] = s00, s[1] = s01, s[2] = s10, s[3] = s11;
}

#ifndef EKRT_SINGLE_ROUNDING
/* ekrt_rq_vec_fast's rq_fold (and ekrt_rq_vec_fast_s's) in five instructions (SMMLAR, the
 * sign term, shift, zero point, SSAT) over the full int8 range. With r >= 2, m >= 0 and
 * |a| < 2^30 (small_acc), SMMLAR(2a, m, 2^(r-1)) = floor((a*m + 2^30 + 2^(30+r)) / 2^31), so
 * (that - [a < 0]) >> r is rq_fold's (a*m + preset) >> (31 + r) exactly (nested floors of
 * power-of-two divisions merge). */
typedef struct {
    int32_t m, k, r; /* multiplier, 2^(r-1), right shift */
} ekrt_rq_ch_t;

/* Channel c's multiplier and shift, packed (rq_vec_fast's form) or from the shift array
 * (packed == !l->shift, a constant where the kernels call it: they are specialised on it). */
static inline ekrt_rq_ch_t ekrt_rq_ch(const ekrt_rq_local_t *l, int32_t c, int packed)
{
    ekrt_rq_ch_t q;
    if (!packed) {
        int32_t i = c & l->ch_mask;
        q.m = l->mult[i];
        q.r = -l->shift[i];
    } else {
        uint32_t pm = (uint32_t)l->mult[c];
        q.m = (int32_t)((pm & 0x3FFFFFFFu) | 0x40000000u);
        q.r = -l->base_shift - (int32_t)(pm >> 30);
    }
    q.k = (int32_t)(1u << (q.r - 1));
    return q;
}

static inline int8_t ekrt_rq_fused(int32_t a, ekrt_rq_ch_t q, int32_t zp)
{
    int32_t g;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(g) : "r"(a + a), "r"(q.m), "r"(q.k));
    return (int8_t)__ssat(((g + (a >> 31)) >> q.r) + zp, 8);
}

/* What ekrt_rq_fused needs of the n channels: small_acc, every shift <= -2 and multiplier
 * >= 0 (packed: base_shift <= -5, as ekrt_rq_vec_fast), the whole int8 range as the
 * activation range. The shift array is checked here, once a call. */
static inline int ekrt_rq_fusable(const ekrt_requant_t *rq, int32_t n)
{
    int32_t i;
    if (!rq->small_acc || rq->act_min != -128 || rq->act_max != 127) {
        return 0;
    }
    if (!rq->shift) {
        return rq->base_shift <= -5;
    }
    for (i = 0; i < (rq->per_channel ? n : 1); i++) {
        if (rq->shift[i] > -2 || rq->mult[i] < 0) {
            return 0;
        }
    }
    return 1;
}

/* The fused requantization as a table, built once a kernel call (EKRT_RQT_BYTES of scratch):
 * per channel m, k' = 2^(r-1) + (zp << r) and r, so that each output is ekrt_rq_fused's
 * without decoding the channel or adding the zero point (zp << r is a multiple of 2^r, so
 * adding it before the shift is exact; with |k'| < 2^30 - 1 and the product term under 2^30,
 * SMMLAR and the sign term stay inside int32). t, or null when ekrt_rq_fusable is not true or
 * some channel's k' is larger (the kernels then requantize through rq->vec). */
/* k' = 2^(r-1) + (zp << r) into *k for r >= 1; 0 when |k'| is not below 2^30 - 1. */
static inline int ekrt_rq_kz(int32_t zp, int32_t r, int32_t *k)
{
    int64_t v = r <= 30 ? (int64_t)(2 * zp + 1) * ((int64_t)1 << (r - 1)) : -1;
    *k = (int32_t)v;
    return r <= 30 && v < (1 << 30) - 1 && v > -(1 << 30) + 1;
}

static inline const int32_t *ekrt_rq_table(const ekrt_requant_t *rq, int32_t n, int32_t *t)
{
    ekrt_rq_local_t l;
    int32_t c;
    if (!ekrt_rq_fusable(rq, n)) {
        return 0;
    }
    l = ekrt_rq_load(rq);
    for (c = 0; c < n; c++) {
        ekrt_rq_ch_t q = ekrt_rq_ch(&l, c, !rq->shift);
        if (!ekrt_rq_kz(rq->out_zp, q.r, &t[3 * c + 1])) {
            return 0;
        }
        t[3 * c] = q.m, t[3 * c + 2] = q.r;
    }
    return t;
}

/* The output of a channel whose table entry is m, k, r, from twice its accumulator (a2). */
static inline __attribute__((always_inline)) int8_t ekrt_rq_t(int32_t a2, int32_t m, int32_t k,
                                                              int32_t r)
{
    int32_t g;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(g) : "r"(a2), "r"(m), "r"(k));
    return (int8_t)__ssat((g + (a2 >> 31)) >> r, 8);
}
#endif
#endif

#ifndef EKRT_SINGLE_ROUNDING
/* ekrt_mul_q(x, m, -r) for r >= 0, m >= 0 and |x| < 2^30, from loop invariants k = r ? 2^(r-1)
 * : 0 and sm = r ? -1 : 0 (the derivation of ekrt_rq_fused; at r = 0 it is SRDHM alone). */
static inline int32_t ekrt_mulq_small_r(int32_t x, int32_t m, int32_t k, int32_t sm, int32_t r)
{
    int32_t g;
#ifdef EKRT_DSP
    __asm__("smmlar %0, %1, %2, %3" : "=r"(g) : "r"(x + x), "r"(m), "r"(k));
#else
    g = (int32_t)(((int64_t)(x + x) * m + (int64_t)((uint64_t)(uint32_t)k << 32) +
                   (int64_t)0x80000000) >> 32);
#endif
    return (g + ((x >> 31) & sm)) >> r;
}
#endif

#endif
