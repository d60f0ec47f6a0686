/* edgekit-rt: recurrent and gather kernels (int8, TFLM-exact).
 *
 * UNIDIRECTIONAL_SEQUENCE_LSTM follows TFLM's integer LSTM (lstm_eval.h, lstm_eval.cc):
 * int8 input, weights and hidden state, int32 gate biases, int16 cell state; gate
 * pre-activations in Q3.12, gate outputs in Q0.15, int16 sigmoid/tanh by TFLM's table
 * interpolation. Every multiplier is computed at generation time as TFLM's Prepare does.
 */
#include "ekrt_kernels.h"

/* sigmoid(i / 24) in 0.16 fixed point, TFLM's sigmoid_table_uint16 (tanh uses it too). */
static const uint16_t sigmoid_table[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535,
};

static inline int16_t sat16(int32_t v)
{
    return (int16_t)(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
}

/* reference_integer_ops::Logistic (int16) with input_multiplier 3, input_left_shift 0. */
static int16_t sigmoid16(int16_t x)
{
    int32_t input_data = (int32_t)x * 3;
    uint32_t abs_input = (uint32_t)(input_data < 0 ? -input_data : input_data);
    uint32_t uh = abs_input >> 9;
    uint32_t result;
    if (uh >= 255u) {
        result = 0x7FFFu << 10;
    } else {
        uint32_t ua = sigmoid_table[uh];
        uint32_t ub = sigmoid_table[uh + 1u];
        uint32_t ut = abs_input & 0x1FFu;
        result = (ua << 9) + ut * (ub - ua);
    }
    result = input_data >= 0 ? (result + (1u << 9)) : ((1u << (16 + 9)) - result + (1u << 9) - 1u);
    return (int16_t)(result >> 10);
}

/* reference_integer_ops::Tanh (int16); mult/shift as lstm_internal::Tanh derives them. */
static int16_t tanh16(int16_t x, int32_t mult, int32_t shift)
{
    int32_t round = shift > 0 ? (int32_t)1 << (shift - 1) : 0;
    int32_t input_data = ((int32_t)x * mult + round) >> shift;
    uint32_t abs_input = (uint32_t)(input_data < 0 ? -input_data : input_data);
    uint32_t uh = abs_input >> 8;
    int32_t result;
    if (uh >= 255u) {
        result = 0xFFFF << 8;
    } else {
        uint32_t ua = sigmoid_table[uh];
        uint32_t ub = sigmoid_table[uh + 1u];
        uint32_t ut = abs_input & 0xFFu;
        result = (int32_t)((ua << 8) + ut * (ub - ua));
    }
    result = input_data >= 0 ? (result - (1 << (14 + 9)) + (1 << (9 - 2)))
                             : (-result + (1 << (14 + 9)) + (1 << (9 - 2)) - 1);
    return (int16_t)(result >> (9 - 1));
}

/* Gate g for units [u0, u0 + n): input FC + recurrent FC, each requantized to int16 (Q3.12),
 * added with saturation, then the gate's nonlinearity (Q0.15). */
static void gate(const ekrt_lstm_t *p, int g, int32_t u0, int32_t n, const int8_t *x,
                 int16_t *out)
{
    const ekrt_lstm_gate_t *q = &p->gates[g];
    int32_t acc_in[EKRT_MAC_ROWS], acc_rec[EKRT_MAC_ROWS];
    int32_t k;
    ekrt_mac_rows(x, q->w_in + (size_t)u0 * p->in_dim, q->bias_in + u0, p->in_dim, n, acc_in);
    ekrt_mac_rows(p->h, q->w_rec + (size_t)u0 * p->units, q->bias_rec + u0, p->units, n, acc_rec);
    for (k = 0; k < n; k++) {
        int16_t s = sat16((int32_t)sat16(ekrt_mul_q(acc_in[k], q->in_mult, q->in_shift)) +
                          sat16(ekrt_mul_q(acc_rec[k], q->rec_mult, q->rec_shift)));
        /* The cell gate's activation is the op's (TANH or SIGMOID); the others are SIGMOID.
         * TANH of a Q3.12 input: lstm_internal::Tanh with cell_state_scale_power -12. */
        out[k] = (g == EKRT_GATE_CELL && p->cell_tanh) ? tanh16(s, 3, 0) : sigmoid16(s);
    }
}

void ekrt_lstm_reset(const ekrt_lstm_t *p)
{
    int32_t u;
    for (u = 0; u < p->units; u++) {
        p->h[u] = (int8_t)p->h_zp;
        p->c[u] = 0;
    }
}

void ekrt_lstm(const ekrt_lstm_t *p, const int8_t *in, int8_t *out)
{
    int16_t gv[4][EKRT_MAC_ROWS];
    int32_t t, u0, k, g;
    for (t = 0; t < p->time_steps; t++) {
        const int8_t *x = in + (size_t)t * p->in_dim;
        int8_t *y = out + (size_t)t * p->units;
        /* Every unit reads the whole previous hidden state: the new one goes to the output
         * row first and into the state once the step is done. */
        for (u0 = 0; u0 < p->units; u0 += EKRT_MAC_ROWS) {
            int32_t n = p->units - u0 < EKRT_MAC_ROWS ? p->units - u0 : EKRT_MAC_ROWS;
            for (g = 0; g < 4; g++) {
                gate(p, g, u0, n, x, gv[g]);
            }
            for (k = 0; k < n; k++) {
                int32_t f = gv[EKRT_GATE_FORGET][k], i = gv[EKRT_GATE_INPUT][k];
                int32_t cg = gv[EKRT_GATE_CELL][k], o = gv[EKRT_GATE_OUTPUT][k];
                int16_t *cp = &p->c[u0 + k];
                int32_t fc = sat16(ekrt_mul_q(f * *cp, p->fc_mult, p->fc_shift));
                int32_t ig = sat16(ekrt_mul_q(i * cg, p->ig_mult, p->ig_shift));
                int16_t c = sat16(fc + ig);
                int32_t hv;
                if (p->cell_clip > 0) {
                    c = c > p->cell_clip ? p->cell_clip : c;
                    c = c < -p->cell_clip ? (int16_t)-p->cell_clip : c;
                }
                *cp = c;
                hv = p->h_zp + ekrt_mul_q((int32_t)tanh16(c, p->tanh_mult, p->tanh_shift) * o,
                                          p->oh_mult, p->oh_shift);
                y[u0 + k] = ekrt_clamp8(hv, -128, 127);
            }
        }
        for (k = 0; k < p->units; k++) {
            p->h[k] = y[k];
        }
    }
}

void ekrt_strided_slice(const ekrt_slice_t *p, const int8_t *in, int8_t *out)
{
    int32_t i0, i1, i2, i3, i4;
    const int32_t *s = p->in_strides;
    for (i0 = 0; i0 < p->count[0]; i0++) {
        const int8_t *a = in + (ptrdiff_t)(p->start[0] + i0 * p->step[0]) * s[0];
        for (i1 = 0; i1 < p->count[1]; i1++) {
            const int8_t *b = a + (ptrdiff_t)(p->start[1] + i1 * p->step[1]) * s[1];
            for (i2 = 0; i2 < p->count[2]; i2++) {
                const int8_t *c = b + (ptrdiff_t)(p->start[2] + i2 * p->step[2]) * s[2];
                for (i3 = 0; i3 < p->count[3]; i3++) {
                    const int8_t *d = c + (ptrdiff_t)(p->start[3] + i3 * p->step[3]) * s[3];
                    for (i4 = 0; i4 < p->count[4]; i4++) {
                        *out++ = d[(ptrdiff_t)(p->start[4] + i4 * p->step[4]) * s[4]];
                    }
                }
            }
        }
    }
}

int ekrt_gather(const ekrt_gather_t *p, const int8_t *params, const int32_t *indices,
                int8_t *out)
{
    int32_t o, k, j;
    for (k = 0; k < p->n_indices; k++) {
        if (indices[k] < 0 || indices[k] >= p->axis_size) {
            return -1;
        }
    }
    for (o = 0; o < p->outer; o++) {
        for (k = 0; k < p->n_indices; k++) {
            const int8_t *src = params + ((size_t)o * p->axis_size + (size_t)indices[k]) * p->inner;
            for (j = 0; j < p->inner; j++) {
                *out++ = src[j];
            }
        }
    }
    return 0;
}

void ekrt_unpack(const ekrt_unpack_t *p, const int8_t *in, int8_t *const *outs)
{
    int32_t o, k, j;
    for (o = 0; o < p->outer; o++) {
        for (k = 0; k < p->num; k++) {
            int8_t *dst = outs[k] + (size_t)o * p->inner;
            for (j = 0; j < p->inner; j++) {
                dst[j] = *in++;
            }
        }
    }
}
