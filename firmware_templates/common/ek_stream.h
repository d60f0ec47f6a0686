/* edgekit sensor streaming engine (docs/protocol.md, STREAM_START / SAMPLE / STREAM_STOP).
 *
 * A stream reads one sensor at a fixed rate, paced by ek_port_micros(), and sends one SAMPLE
 * frame per reading; with live inference it also pushes the values into the model input as
 * a sliding window and runs the model every `infer_every` samples once the window is full.
 * Each inference starts from the model's initial state unless the stream keeps state (flags
 * bit 2): then the first one starts fresh and each later one continues the previous.
 * The engine reaches the model and the link only through ek_stream_env_t, so it builds and
 * tests without a generated model. Single-threaded: call ek_stream_service() often
 * (ek_app_poll does).
 */
#ifndef EK_STREAM_H
#define EK_STREAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Values of one sensor sample the device can carry (ek_port_sensor_read's max_values). */
#ifndef EK_APP_MAX_SENSOR_VALUES
#define EK_APP_MAX_SENSOR_VALUES 16
#endif

/* Streaming rates: 1 Hz up to the sensor's ek_port_sensor_max_rate_hz (the board file's
 * max_rate_hz); the protocol's u16 rate field bounds them at 65535 Hz. Pacing and timestamps
 * are in microseconds (ek_port_micros). */

/* A stream that falls behind by up to this many ms sends the missed samples back to back;
 * further behind, it skips them (they show as a gap in the sample numbers). */
#ifndef EK_APP_STREAM_MAX_LAG_MS
#define EK_APP_STREAM_MAX_LAG_MS 50u
#endif

/* SAMPLE payload header: sample_seq u32, t_us u64, sensor u8, flags u8, n u8, 0 u8. */
#define EK_STREAM_SAMPLE_HEADER 16u

/* What the engine needs from the application: the model (for live inference) and the link. */
typedef struct {
    int8_t *input;            /* the model's input tensor: the sliding window */
    size_t input_bytes;
    const int8_t *output;     /* where invoke leaves the model's output */
    size_t output_bytes;
    float input_scale;        /* input quantization: real = scale * (q - zero_point) */
    int32_t input_zero_point;
    /* Run the model on `input`; store the cycles it took; 0 or the model's error code.
     * keep_state 0: from the model's initial recurrent state (an independent sequence);
     * 1: continuing the state the previous invoke left. */
    int (*invoke)(int keep_state, uint32_t *cycles);
    /* Send one SAMPLE frame with sequence number `seq` (the STREAM_START's). */
    void (*send_sample)(uint16_t seq, const uint8_t *payload, size_t len);
} ek_stream_env_t;

typedef struct {
    const ek_stream_env_t *env;
    uint8_t active;
    uint8_t sensor;
    uint8_t infer;
    uint8_t shift;
    uint8_t scaled;        /* live-inference inputs quantized with the model's input scale */
    uint8_t keep_state;    /* recurrent state carried from one window's inference to the next */
    uint8_t state_begun;   /* an inference of this stream ran: the next may continue its state */
    float per_lsb;         /* (model input units per sensor unit) / model input scale */
    uint8_t n_values;
    uint16_t seq;          /* seq of the STREAM_START that began it; sample frames echo it */
    uint16_t rate_hz;
    uint16_t infer_every;
    uint16_t since_infer;
    uint32_t period_us;    /* 1000000 / rate ... */
    uint32_t period_rem;   /* ... and 1000000 % rate, spread by acc so pacing never drifts */
    uint32_t acc;
    uint32_t next_due;     /* low 32 bits of ek_port_micros() (wrap-safe comparisons) */
    uint32_t sample_seq;
    uint32_t sent;
    uint32_t skipped;
    uint32_t window_fill;  /* values pushed into the input window, saturating at size */
} ek_stream_t;

/* Stopped stream bound to `env`; totals cleared. */
void ek_stream_init(ek_stream_t *s, const ek_stream_env_t *env);

/* Start from a STREAM_START payload (seq: the request's). Probes the sensor. Returns 0, or
 * an EK_ERR_* code (ek_protocol.h) with its detail in *detail; model_rc is
 * edgekit_model_init's result (live inference needs 0). The caller answers BUSY when a
 * stream is already active. */
int ek_stream_start(ek_stream_t *s, const uint8_t *payload, size_t len, uint16_t seq,
                    int32_t model_rc, int32_t *detail);

/* Stop (idempotent): the totals stay readable in s->sent and s->skipped. */
void ek_stream_stop(ek_stream_t *s);

/* Send the sample that is due, if any, into `buf` (at least EK_STREAM_SAMPLE_HEADER +
 * 2 * EK_APP_MAX_SENSOR_VALUES + 8 + output_bytes, and at most EK_PROTO_MAX_PAYLOAD, bytes). */
void ek_stream_service(ek_stream_t *s, uint8_t *buf);

/* int8 model input from a sensor value, as the stream quantizes it (exposed for tests). */
int8_t ek_stream_to_input(int16_t v, const ek_stream_t *s);

#ifdef __cplusplus
}
#endif

#endif /* EK_STREAM_H */
