/* edgekit sensor streaming engine: see ek_stream.h and docs/protocol.md. */
#include "ek_stream.h"

#include "ek_port.h"
#include "ek_protocol.h"

typedef char ek_assert_sensor_values[(EK_APP_MAX_SENSOR_VALUES <= 64) ? 1 : -1];

/* No string.h: the core must link on any freestanding toolchain. */
static void zero_bytes(uint8_t *dst, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        dst[i] = 0;
    }
}

void ek_stream_init(ek_stream_t *s, const ek_stream_env_t *env)
{
    zero_bytes((uint8_t *)s, sizeof *s);
    s->env = env;
}

void ek_stream_stop(ek_stream_t *s)
{
    s->active = 0;
}

int ek_stream_start(ek_stream_t *s, const uint8_t *payload, size_t len, uint16_t seq,
                    int32_t model_rc, int32_t *detail)
{
    int16_t probe[EK_APP_MAX_SENSOR_VALUES];
    const ek_stream_env_t *env = s->env;
    uint8_t sensor, flags, shift;
    uint16_t rate;
    float scale_per_lsb = 0.0f;
    int n;

    flags = len >= 2u ? payload[1] : 0u;
    /* 8 bytes, or 12 with the input scale when flags bit 1 asks for scaled inputs. */
    if (len != ((flags & 2u) ? 12u : 8u)) {
        *detail = (flags & 2u) ? 12 : 8;
        return EK_ERR_BAD_LENGTH;
    }
    sensor = payload[0];
    rate = ek_get_u16(payload + 2);
    shift = payload[4];
    if (rate == 0u || shift > 15u || (flags & 0xF8u) != 0u) {
        *detail = 0;
        return EK_ERR_BAD_ARG;
    }
    if (flags & 2u) {
        union {
            uint32_t u;
            float f;
        } per_unit;
        per_unit.u = ek_get_u32(payload + 8);
        /* Positive and finite (a NaN fails both comparisons). */
        if (!(per_unit.f > 0.0f && per_unit.f < 1.0e30f)) {
            *detail = 0;
            return EK_ERR_BAD_ARG;
        }
        scale_per_lsb = per_unit.f / env->input_scale;
    }
    /* A probe read tells whether the sensor exists and how many values it gives. */
    n = ek_port_sensor_read(sensor, probe, EK_APP_MAX_SENSOR_VALUES);
    if (n < 0) {
        /* The port's own code says why: absent, unsupported, bus timeout, wrong chip... */
        *detail = (int32_t)n;
        return EK_ERR_NO_SUCH_SENSOR;
    }
    if (n > EK_APP_MAX_SENSOR_VALUES) {
        n = EK_APP_MAX_SENSOR_VALUES; /* a port that ignored max_values */
    }
    /* The board file's limit for this sensor (ek_board.h), the one the host checks too. */
    if ((uint32_t)rate > ek_port_sensor_max_rate_hz(sensor)) {
        *detail = (int32_t)ek_port_sensor_max_rate_hz(sensor);
        return EK_ERR_BAD_ARG;
    }
    if (flags & 1u) {
        if (model_rc != 0) {
            *detail = model_rc;
            return EK_ERR_NOT_READY;
        }
        if (EK_STREAM_SAMPLE_HEADER + 2u * (uint32_t)n + 8u + (uint32_t)env->output_bytes >
            EK_PROTO_MAX_PAYLOAD) {
            *detail = (int32_t)EK_PROTO_MAX_PAYLOAD;
            return EK_ERR_BAD_ARG;
        }
    }
    ek_stream_init(s, env);
    s->sensor = sensor;
    s->infer = (uint8_t)(flags & 1u);
    s->shift = shift;
    s->scaled = (uint8_t)((flags >> 1) & 1u);
    s->keep_state = (uint8_t)((flags >> 2) & 1u);
    s->per_lsb = scale_per_lsb;
    s->n_values = (uint8_t)n;
    s->rate_hz = rate;
    s->infer_every = ek_get_u16(payload + 6);
    if (s->infer_every == 0u) {
        s->infer_every = 1;
    }
    s->seq = seq;
    s->period_us = 1000000u / rate;
    s->period_rem = 1000000u % rate;
    s->next_due = (uint32_t)ek_port_micros();
    s->active = 1;
    *detail = 0;
    return 0;
}

/* Scaled mode quantizes as the model expects: round(v * per_lsb) + zero point, rounding
 * half away from zero, then saturate. Shift mode (no scale given) is a cheap fallback:
 * v / 2^shift rounded toward zero, saturated. */
int8_t ek_stream_to_input(int16_t v, const ek_stream_t *s)
{
    int32_t q;
    if (s->scaled) {
        float r = (float)v * s->per_lsb;
        if (r > 1000.0f) {
            r = 1000.0f; /* saturates below anyway; keeps the cast in range */
        } else if (r < -1000.0f) {
            r = -1000.0f;
        }
        q = (r >= 0.0f) ? (int32_t)(r + 0.5f) : -(int32_t)(0.5f - r);
        q += s->env->input_zero_point;
    } else {
        q = (int32_t)v / (int32_t)(1L << s->shift);
    }
    if (q > 127) {
        q = 127;
    } else if (q < -128) {
        q = -128;
    }
    return (int8_t)q;
}

/* Sliding window over the flattened sample stream, newest values last. */
static void window_push(ek_stream_t *s, const int16_t *values, uint8_t n)
{
    int8_t *input = s->env->input;
    const size_t size = s->env->input_bytes;
    size_t i;
    if ((size_t)n >= size) {
        for (i = 0; i < size; i++) {
            input[i] = ek_stream_to_input(values[(size_t)n - size + i], s);
        }
    } else {
        for (i = 0; i + n < size; i++) {
            input[i] = input[i + n];
        }
        for (i = 0; i < n; i++) {
            input[size - n + i] = ek_stream_to_input(values[i], s);
        }
    }
    s->window_fill += n;
    if (s->window_fill > size) {
        s->window_fill = (uint32_t)size;
    }
}

static void advance_due(ek_stream_t *s)
{
    s->next_due += s->period_us;
    s->acc += s->period_rem;
    if (s->acc >= s->rate_hz) {
        s->acc -= s->rate_hz;
        s->next_due += 1u;
    }
}

void ek_stream_service(ek_stream_t *s, uint8_t *p)
{
    const ek_stream_env_t *env = s->env;
    int16_t values[EK_APP_MAX_SENSOR_VALUES];
    uint64_t t_us = ek_port_micros();
    uint32_t now = (uint32_t)t_us;
    uint32_t cycles = 0;
    size_t n_out, i;
    int n, rc;

    if (!s->active || (int32_t)(now - s->next_due) < 0) {
        return;
    }
    n = ek_port_sensor_read(s->sensor, values, EK_APP_MAX_SENSOR_VALUES);
    if (n < 0) {
        n = 0; /* a failed read still produces a sample, so the host sees it */
    }
    if (n > (int)s->n_values) {
        n = (int)s->n_values;
    }
    ek_put_u32(&p[0], s->sample_seq);
    ek_put_u32(&p[4], (uint32_t)t_us);
    ek_put_u32(&p[8], (uint32_t)(t_us >> 32));
    p[12] = s->sensor;
    p[13] = 0;
    p[14] = (uint8_t)n;
    p[15] = 0;
    n_out = EK_STREAM_SAMPLE_HEADER;
    for (i = 0; i < (size_t)n; i++, n_out += 2u) {
        ek_put_u16(&p[n_out], (uint16_t)values[i]);
    }
    if (s->infer) {
        window_push(s, values, (uint8_t)n);
        s->since_infer++;
        if (s->window_fill >= (uint32_t)env->input_bytes && s->since_infer >= s->infer_every) {
            s->since_infer = 0;
            rc = env->invoke(s->keep_state && s->state_begun, &cycles);
            s->state_begun = 1;
            p[13] = (uint8_t)(rc == 0 ? 1u : 2u); /* 1: prediction, 2: model error */
            ek_put_u32(&p[n_out], rc == 0 ? cycles : (uint32_t)rc);
            ek_put_u32(&p[n_out + 4u], (uint32_t)env->output_bytes);
            n_out += 8u;
            if (rc == 0) {
                for (i = 0; i < env->output_bytes; i++) {
                    p[n_out + i] = (uint8_t)env->output[i];
                }
                n_out += env->output_bytes;
            }
        }
    }
    env->send_sample(s->seq, p, n_out);
    s->sample_seq++;
    s->sent++;
    advance_due(s);
    /* Short hiccups are caught up by sending the due samples back to back. Further
     * behind (slow link or model): skip the missed slots but count them in
     * sample_seq, so the host sees a gap, not a time warp. */
    now = (uint32_t)ek_port_micros();
    while ((int32_t)(now - s->next_due) >= (int32_t)s->period_us &&
           (int32_t)(now - s->next_due) > (int32_t)(EK_APP_STREAM_MAX_LAG_MS * 1000u)) {
        advance_due(s);
        s->sample_seq++;
        s->skipped++;
    }
}
