/* edgekit firmware application: answers the requests of docs/protocol.md.
 *
 * Single-threaded and stop-and-wait: a request is handled to completion (the model
 * runs inside the poll) and its reply sent before the next byte is read. All state
 * is in one static struct; nothing is allocated.
 */
#include "ek_app.h"

#include "edgekit_model.h"
#include "ek_port.h"
#include "ek_profile.h"
#include "ek_protocol.h"
#include "ek_stream.h"

#define MAX_RANK 6
#define DTYPE_INT8 1u
#ifndef EDGEKIT_MODEL_INPUT_DTYPE /* I/O dtype codes (protocol.md 4.2); older headers: int8 */
#define EDGEKIT_MODEL_INPUT_DTYPE DTYPE_INT8
#define EDGEKIT_MODEL_OUTPUT_DTYPE DTYPE_INT8
#endif
#ifndef EDGEKIT_MODEL_INPUTS /* one input and one output unless the header says more */
#define EDGEKIT_MODEL_INPUTS 1
#define EDGEKIT_MODEL_OUTPUTS 1
#endif
#define STR_MAX 32u

/* Bytes read per poll before servicing the stream again: one full frame. */
#define RX_BUDGET EK_PROTO_MAX_WIRE

typedef char ek_assert_in_rank[(EDGEKIT_MODEL_INPUT_RANK <= MAX_RANK) ? 1 : -1];
typedef char ek_assert_out_rank[(EDGEKIT_MODEL_OUTPUT_RANK <= MAX_RANK) ? 1 : -1];

static const uint32_t in_dims[] = EDGEKIT_MODEL_INPUT_DIMS;
static const uint32_t out_dims[] = EDGEKIT_MODEL_OUTPUT_DIMS;

static struct {
    uint8_t initialised;
    int32_t model_rc;
    uint32_t boot_ms;
    ek_parser_t parser;
    ek_stream_t stream;
    uint8_t tx[EK_PROTO_MAX_WIRE];
    uint8_t reply[EK_PROTO_MAX_PAYLOAD];
    int8_t input[EDGEKIT_MODEL_INPUT_BYTES] __attribute__((aligned(4))); /* tensor bytes */
    int8_t output[EDGEKIT_MODEL_OUTPUT_BYTES] __attribute__((aligned(4)));
} g;

static void send(uint8_t type, uint16_t seq, const uint8_t *payload, size_t len)
{
    size_t n = ek_frame_encode(type, seq, payload, len, g.tx, sizeof g.tx);
    if (n > 0u) {
        ek_port_uart_write(g.tx, n);
    }
}

static void reply(uint8_t req, uint16_t seq, size_t len)
{
    send((uint8_t)(req | EK_MSG_REPLY), seq, g.reply, len);
}

/* The model runtime's last log text (the tflm runtime defines it: TFLM's error messages);
   runtimes without a log get this empty default. */
const char *edgekit_model_log(void);
__attribute__((weak)) const char *edgekit_model_log(void)
{
    return "";
}

#define EK_ERROR_LOG_MAX 120u

static void send_error(uint8_t req, uint16_t seq, uint8_t code, int32_t detail)
{
    uint8_t p[8u + EK_ERROR_LOG_MAX];
    size_t len = 8u;
    p[0] = code;
    p[1] = req;
    p[2] = 0;
    p[3] = 0;
    ek_put_u32(&p[4], (uint32_t)detail);
    if (code == EK_ERR_NOT_READY || code == EK_ERR_MODEL) { /* the log's tail explains them */
        const char *log = edgekit_model_log();
        size_t n = 0;
        while (log[n] != '\0') {
            n++;
        }
        if (n > EK_ERROR_LOG_MAX) {
            log += n - EK_ERROR_LOG_MAX;
            n = EK_ERROR_LOG_MAX;
        }
        for (size_t i = 0; i < n; i++) {
            p[len++] = (uint8_t)log[i];
        }
    }
    send(EK_MSG_ERROR, seq, p, len);
}

static uint8_t model_ready(void)
{
    return (uint8_t)(g.model_rc == 0);
}

/* Runs the model on g.input; returns the cycles spent inside edgekit_model_invoke. Each
 * inference is an independent sequence (recurrent state reset) unless keep_state (a stream
 * that asked to carry it) or the model is a decode step, whose KV cache carries from one
 * token to the next until a RESET (which re-initializes the model) starts a new sequence. */
static int run_model(int keep_state, uint32_t *cycles)
{
    uint32_t c0, c1;
    int rc;
    if (!keep_state && !EDGEKIT_MODEL_STEPPED) {
        edgekit_model_reset();
    }
    c0 = ek_port_cycles();
    rc = edgekit_model_invoke(g.input, g.output);
    c1 = ek_port_cycles();
    *cycles = c1 - c0; /* unsigned: correct across one counter wrap */
    return rc;
}

static void send_sample(uint16_t seq, const uint8_t *payload, size_t len)
{
    send(EK_MSG_SAMPLE, seq, payload, len);
}

/* The model and the link as the streaming engine sees them. */
static const ek_stream_env_t stream_env = {
    g.input, sizeof g.input, g.output, sizeof g.output,
    (float)(EDGEKIT_MODEL_INPUT_SCALE), (int32_t)(EDGEKIT_MODEL_INPUT_ZERO_POINT),
    run_model, send_sample,
};

void ek_app_init(void)
{
    ek_parser_init(&g.parser);
    ek_stream_init(&g.stream, &stream_env);
    ek_zero_bytes((uint8_t *)g.input, sizeof g.input);
    ek_zero_bytes((uint8_t *)g.output, sizeof g.output);
    g.boot_ms = ek_port_millis();
    g.model_rc = (int32_t)edgekit_model_init();
    g.initialised = 1;
}

static void on_hello(uint16_t seq)
{
    uint8_t *p = g.reply;
    p[0] = (uint8_t)EK_PROTO_VERSION;
    p[1] = (uint8_t)((g.stream.active ? 1u : 0u) | (model_ready() ? 2u : 0u));
    ek_put_u16(&p[2], (uint16_t)EK_PROTO_MAX_PAYLOAD);
    ek_put_u32(&p[4], ek_port_millis() - g.boot_ms);
    ek_put_u32(&p[8], (uint32_t)g.model_rc);
    ek_put_u16(&p[12], g.parser.bad_frames);
    ek_put_u16(&p[14], g.parser.overflows);
    reply(EK_MSG_HELLO, seq, 16);
}

static void on_info(uint16_t seq)
{
    uint8_t *p = g.reply;
    size_t n, i;
    p[0] = (uint8_t)EK_PROTO_VERSION;
    p[1] = (uint8_t)((model_ready() ? 1u : 0u) | (EK_PROFILE_AVAILABLE ? 2u : 0u));
    ek_put_u16(&p[2], (uint16_t)EK_PROTO_MAX_PAYLOAD);
    ek_put_u32(&p[4], ek_port_cycles_hz());
    ek_put_u32(&p[8], (uint32_t)(EDGEKIT_MODEL_ARENA_BYTES));
    ek_put_u32(&p[12], (uint32_t)EDGEKIT_MODEL_INPUT_BYTES);
    ek_put_u32(&p[16], (uint32_t)EDGEKIT_MODEL_OUTPUT_BYTES);
    p[20] = (uint8_t)EDGEKIT_MODEL_INPUT_DTYPE;
    p[21] = (uint8_t)EDGEKIT_MODEL_OUTPUT_DTYPE;
    p[22] = (uint8_t)EDGEKIT_MODEL_INPUT_RANK;
    p[23] = (uint8_t)EDGEKIT_MODEL_OUTPUT_RANK;
    ek_put_f32(&p[24], (float)(EDGEKIT_MODEL_INPUT_SCALE));
    ek_put_u32(&p[28], (uint32_t)(int32_t)(EDGEKIT_MODEL_INPUT_ZERO_POINT));
    ek_put_f32(&p[32], (float)(EDGEKIT_MODEL_OUTPUT_SCALE));
    ek_put_u32(&p[36], (uint32_t)(int32_t)(EDGEKIT_MODEL_OUTPUT_ZERO_POINT));
    n = 40;
    for (i = 0; i < (size_t)EDGEKIT_MODEL_INPUT_RANK; i++, n += 4u) {
        ek_put_u32(&p[n], in_dims[i]);
    }
    for (i = 0; i < (size_t)EDGEKIT_MODEL_OUTPUT_RANK; i++, n += 4u) {
        ek_put_u32(&p[n], out_dims[i]);
    }
    n += ek_put_str(&p[n], EK_BOARD_ID, STR_MAX);
    n += ek_put_str(&p[n], EK_FIRMWARE_VERSION, STR_MAX);
    n += ek_put_str(&p[n], EDGEKIT_MODEL_RUNTIME, STR_MAX);
    n += ek_put_str(&p[n], EDGEKIT_MODEL_SHA256, 64u);
    p[n++] = (uint8_t)EDGEKIT_MODEL_INPUTS;
    p[n++] = (uint8_t)EDGEKIT_MODEL_OUTPUTS;
    reply(EK_MSG_INFO, seq, n);
}

/* Output bytes [offset, offset + n) after a header of `at` bytes; returns payload size. */
static size_t put_output(size_t at, uint32_t offset)
{
    size_t room = EK_PROTO_MAX_PAYLOAD - at;
    size_t n = (size_t)EDGEKIT_MODEL_OUTPUT_BYTES - offset;
    if (n > room) {
        n = room;
    }
    ek_copy_bytes(&g.reply[at], (const uint8_t *)&g.output[offset], n);
    return at + n;
}

static void on_infer(const ek_frame_t *f)
{
    uint32_t cycles = 0;
    int rc;
    /* Empty: run on the staged input (INFER_CHUNK, or the last INFER). */
    if (f->len != 0u && (size_t)f->len != (size_t)EDGEKIT_MODEL_INPUT_BYTES) {
        send_error(f->type, f->seq, EK_ERR_BAD_LENGTH, (int32_t)EDGEKIT_MODEL_INPUT_BYTES);
        return;
    }
    if (f->len != 0u) {
        ek_copy_bytes((uint8_t *)g.input, f->payload, f->len);
    }
    rc = run_model(0, &cycles);
    if (rc != 0) {
        send_error(f->type, f->seq, EK_ERR_MODEL, (int32_t)rc);
        return;
    }
    ek_put_u32(&g.reply[0], cycles);
    ek_put_u32(&g.reply[4], (uint32_t)EDGEKIT_MODEL_OUTPUT_BYTES);
    reply(f->type, f->seq, put_output(8, 0));
}

static void on_infer_chunk(const ek_frame_t *f)
{
    uint32_t offset, n;
    if (f->len < 4u) {
        send_error(f->type, f->seq, EK_ERR_BAD_LENGTH, 4);
        return;
    }
    offset = ek_get_u32(f->payload);
    n = (uint32_t)f->len - 4u;
    if (offset > (uint32_t)EDGEKIT_MODEL_INPUT_BYTES ||
        n > (uint32_t)EDGEKIT_MODEL_INPUT_BYTES - offset) {
        send_error(f->type, f->seq, EK_ERR_BAD_ARG, (int32_t)EDGEKIT_MODEL_INPUT_BYTES);
        return;
    }
    ek_copy_bytes((uint8_t *)&g.input[offset], f->payload + 4, n);
    ek_put_u32(&g.reply[0], offset + n);
    reply(f->type, f->seq, 4);
}

static void on_read_output(const ek_frame_t *f)
{
    uint32_t offset;
    size_t n, want;
    if (f->len != 6u) {
        send_error(f->type, f->seq, EK_ERR_BAD_LENGTH, 6);
        return;
    }
    offset = ek_get_u32(f->payload);
    want = ek_get_u16(f->payload + 4);
    if (offset > (uint32_t)EDGEKIT_MODEL_OUTPUT_BYTES) {
        send_error(f->type, f->seq, EK_ERR_BAD_ARG, (int32_t)EDGEKIT_MODEL_OUTPUT_BYTES);
        return;
    }
    ek_put_u32(&g.reply[0], offset);
    n = put_output(4, offset);
    if (n - 4u > want) {
        n = 4u + want;
    }
    reply(f->type, f->seq, n);
}

static void on_bench(const ek_frame_t *f)
{
    uint32_t warmup, runs, i, cycles = 0;
    int rc;
    if (f->len != 4u) {
        send_error(f->type, f->seq, EK_ERR_BAD_LENGTH, 4);
        return;
    }
    warmup = ek_get_u16(f->payload);
    runs = ek_get_u16(f->payload + 2);
    if (runs == 0u || runs > (EK_PROTO_MAX_PAYLOAD - 4u) / 4u) {
        send_error(f->type, f->seq, EK_ERR_BAD_ARG, (int32_t)((EK_PROTO_MAX_PAYLOAD - 4u) / 4u));
        return;
    }
    for (i = 0; i < warmup + runs; i++) {
        rc = run_model(0, &cycles);
        if (rc != 0) {
            send_error(f->type, f->seq, EK_ERR_MODEL, (int32_t)rc);
            return;
        }
        if (i >= warmup) {
            ek_put_u32(&g.reply[4u + 4u * (i - warmup)], cycles);
        }
    }
    ek_put_u16(&g.reply[0], (uint16_t)runs);
    ek_put_u16(&g.reply[2], 0);
    reply(f->type, f->seq, 4u + 4u * runs);
}

static void stream_ack(uint16_t seq)
{
    g.reply[0] = g.stream.sensor;
    g.reply[1] = g.stream.n_values;
    ek_put_u16(&g.reply[2], g.stream.rate_hz);
    reply(EK_MSG_STREAM_START, seq, 4);
}

static void on_stream_start(const ek_frame_t *f)
{
    int32_t detail = 0;
    int err;
    if (EDGEKIT_MODEL_INPUT_DTYPE != DTYPE_INT8 && !g.stream.active && f->len > 1u &&
        (f->payload[1] & 1u) != 0u) { /* live inference fills an int8 window */
        send_error(f->type, f->seq, EK_ERR_BAD_ARG, 1);
        return;
    }
    if (g.stream.active) {
        if (f->seq == g.stream.seq) {
            stream_ack(f->seq); /* our ack was lost and the host retried */
        } else {
            send_error(f->type, f->seq, EK_ERR_BUSY, 0);
        }
        return;
    }
    err = ek_stream_start(&g.stream, f->payload, f->len, f->seq, g.model_rc, &detail);
    if (err != 0) {
        send_error(f->type, f->seq, (uint8_t)err, detail);
        return;
    }
    stream_ack(f->seq);
}

static void on_stream_stop(const ek_frame_t *f)
{
    /* Idempotent: a retried STOP after the stream ended gets the same totals. */
    ek_stream_stop(&g.stream);
    ek_put_u32(&g.reply[0], g.stream.sent);
    ek_put_u32(&g.reply[4], g.stream.skipped);
    reply(f->type, f->seq, 8);
}

static void on_reset(const ek_frame_t *f)
{
    uint8_t mode = f->len > 0u ? f->payload[0] : 0u;
    uint8_t code = f->len > 1u ? f->payload[1] : 0u;
    uint16_t seq = f->seq;
    uint8_t type = f->type;
    if (mode > 1u) {
        send_error(type, seq, EK_ERR_BAD_ARG, 1);
        return;
    }
    if (mode == 1u) {
        reply(type, seq, 0);
        ek_port_exit((int)code);
        return; /* only reached on ports whose exit returns (tests) */
    }
    ek_app_init(); /* soft: stop streaming, clear buffers, re-init the model */
    reply(type, seq, 0);
}

static void on_echo(const ek_frame_t *f)
{
    ek_copy_bytes(g.reply, f->payload, f->len);
    reply(f->type, f->seq, f->len);
}

static void on_profile(const ek_frame_t *f) /* ek_profile.c runs and pages the profile */
{
    size_t n = 0;
    int32_t detail = 0;
    uint8_t err = ek_profile_request(f->payload, f->len, g.input, g.output, g.reply, sizeof g.reply,
                                     &n, &detail);
    if (err != 0u) {
        send_error(f->type, f->seq, err, detail);
        return;
    }
    reply(f->type, f->seq, n);
}

static void dispatch(const ek_frame_t *f)
{
    uint8_t busy_cmd = (uint8_t)(f->type == EK_MSG_INFER || f->type == EK_MSG_INFER_CHUNK ||
                                 f->type == EK_MSG_READ_OUTPUT || f->type == EK_MSG_BENCH ||
                                 f->type == EK_MSG_PROFILE);
    if (g.stream.active && busy_cmd) {
        send_error(f->type, f->seq, EK_ERR_BUSY, 0);
        return;
    }
    if ((f->type == EK_MSG_INFER || f->type == EK_MSG_BENCH || f->type == EK_MSG_PROFILE) &&
        !model_ready()) {
        send_error(f->type, f->seq, EK_ERR_NOT_READY, g.model_rc);
        return;
    }
    switch (f->type) {
    case EK_MSG_HELLO:
        on_hello(f->seq);
        break;
    case EK_MSG_INFO:
        on_info(f->seq);
        break;
    case EK_MSG_INFER:
        on_infer(f);
        break;
    case EK_MSG_INFER_CHUNK:
        on_infer_chunk(f);
        break;
    case EK_MSG_READ_OUTPUT:
        on_read_output(f);
        break;
    case EK_MSG_BENCH:
        on_bench(f);
        break;
    case EK_MSG_STREAM_START:
        on_stream_start(f);
        break;
    case EK_MSG_STREAM_STOP:
        on_stream_stop(f);
        break;
    case EK_MSG_RESET:
        on_reset(f);
        break;
    case EK_MSG_ECHO:
        on_echo(f);
        break;
    case EK_MSG_PROFILE:
        on_profile(f);
        break;
    default:
        send_error(f->type, f->seq, EK_ERR_UNKNOWN_CMD, 0);
        break;
    }
}

static void on_parse_result(int rc, const ek_frame_t *f)
{
    /* Errors are answered only when the header looks like ours, so line noise
     * does not make the device chatter; the host retries on BAD_CRC at once. */
    switch (rc) {
    case EK_PARSE_FRAME:
        dispatch(f);
        break;
    case EK_PARSE_BAD_CRC:
        if (f->version == EK_PROTO_VERSION) {
            send_error(f->type, f->seq, EK_ERR_BAD_CRC, 0);
        }
        break;
    case EK_PARSE_TOO_LONG:
        if (f->version == EK_PROTO_VERSION) {
            send_error(f->type, f->seq, EK_ERR_TOO_LONG, (int32_t)EK_PROTO_MAX_PAYLOAD);
        }
        break;
    case EK_PARSE_BAD_LENGTH:
        send_error(f->type, f->seq, EK_ERR_BAD_LENGTH, (int32_t)f->len);
        break;
    case EK_PARSE_BAD_VERSION:
        send_error(f->type, f->seq, EK_ERR_BAD_VERSION, (int32_t)EK_PROTO_VERSION);
        break;
    default:
        break; /* NONE, EMPTY, MALFORMED */
    }
}

/* One pass; returns nonzero when there may be more to do at once (a byte was read, or a
 * stream is running). */
static int poll_once(void)
{
    ek_frame_t frame;
    size_t budget = RX_BUDGET;
    int c;
    int busy = 0;

    if (!g.initialised) {
        ek_app_init();
    }
    while (budget-- > 0u) {
        c = ek_port_uart_getc();
        if (c < 0) {
            break;
        }
        busy = 1;
        on_parse_result(ek_parser_feed(&g.parser, (uint8_t)c, &frame), &frame);
    }
    ek_stream_service(&g.stream, g.reply);
    return busy || g.stream.active;
}

void ek_app_poll(void)
{
    (void)poll_once();
}

void ek_app_run(void)
{
    ek_app_init();
    for (;;) {
        if (!poll_once()) {
            ek_port_idle();
        }
    }
}
