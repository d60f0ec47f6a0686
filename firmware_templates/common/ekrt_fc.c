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
