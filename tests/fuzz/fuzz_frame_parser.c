/* libFuzzer target: arbitrary bytes into the device's frame parser and dispatcher.
 *
 * Build (see benchmarks/fuzz_frame_parser.sh and tests/fuzz/test_fuzz_frame_parser.py):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     -Ifirmware_templates/common -Itests/fixtures/fake_model tests/fuzz/fuzz_frame_parser.c \
 *     firmware_templates/common/ek_protocol.c firmware_templates/common/ek_app.c \
 *     firmware_templates/common/ek_stream.c firmware_templates/common/ek_profile.c \
 *     tests/fixtures/fake_model/edgekit_model.c \
 *     -o fuzz_frame_parser
 *
 * The first input byte picks how the rest is used:
 *   even: raw bytes on the UART (framing, COBS, CRC, overflow paths);
 *   odd:  records [type][seq][flags][n][n bytes] turned into frames with a *valid* CRC
 *         (flags bit 0: lie in the length field, bit 1: 0x00-free garbage before it,
 *         bit 2: pad the payload past the max, bit 3: protocol version 2), so the
 *         dispatcher sees arbitrary
 *         requests instead of stopping at the CRC check.
 * Properties checked on every input (abort = finding):
 *   1. ASan/UBSan: nothing reads or writes outside its buffer, no UB;
 *   2. everything the device sends parses as a valid frame (no malformed output);
 *   3. after any input, a valid HELLO is answered: the parser never wedges;
 *   4. the bare parser, after the same bytes plus a delimiter, accepts a valid frame.
 */
#include "ek_app.h"
#include "ek_port.h"
#include "ek_protocol.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- stub port ----------------------------------------------------------------------- */

static const uint8_t *rx;
static size_t rx_len, rx_pos;
static uint32_t fake_ms;
static ek_parser_t out_parser; /* checks the device's output */
static int saw_hello_reply;
static uint16_t hello_seq;

void ek_port_init(void) {}
void ek_port_idle(void) {}

int ek_port_uart_getc(void)
{
    return rx_pos < rx_len ? rx[rx_pos++] : -1;
}

void ek_port_uart_write(const uint8_t *data, size_t len)
{
    ek_frame_t f;
    size_t i;
    for (i = 0; i < len; i++) {
        int rc = ek_parser_feed(&out_parser, data[i], &f);
        if (rc < 0) {
            fprintf(stderr, "device sent a malformed frame (parse result %d)\n", rc);
            abort();
        }
        if (rc == EK_PARSE_FRAME && f.type == (EK_MSG_HELLO | EK_MSG_REPLY) && f.seq == hello_seq) {
            saw_hello_reply = 1;
        }
    }
}

uint32_t ek_port_cycles(void) { return fake_ms * 1000u; }
uint32_t ek_port_cycles_hz(void) { return 1000000u; }
uint32_t ek_port_millis(void) { return fake_ms += 3u; } /* time moves: streams produce samples */
uint64_t ek_port_micros(void) { return (uint64_t)(fake_ms += 3u) * 1000u; }
uint32_t ek_port_sensor_max_rate_hz(uint8_t sensor_id) { return sensor_id > 1 ? 0u : 1000u; }

int ek_port_sensor_read(uint8_t sensor_id, int16_t *out, size_t max_values)
{
    size_t i;
    if (sensor_id > 1) {
        return -1;
    }
    for (i = 0; i < max_values && i < 3u + sensor_id * 20u; i++) {
        out[i] = (int16_t)(fake_ms * 977u + i * 131u);
    }
    /* Sensor 1 misbehaves: it claims 23 values whatever max_values is. */
    return sensor_id == 1 ? 23 : (int)i;
}

void ek_port_exit(int code) { (void)code; } /* returns: the app must cope */

/* --- input shaping -------------------------------------------------------------------- */

static uint8_t wire[1 << 16];
static uint8_t body[EK_PROTO_MAX_FRAME + 64];

static size_t add_frame(size_t at, uint8_t version, uint8_t type, uint16_t seq,
                        const uint8_t *p, size_t n, uint16_t len_field)
{
    uint32_t crc;
    size_t enc;
    body[0] = version;
    body[1] = type;
    ek_put_u16(&body[2], seq);
    ek_put_u16(&body[4], len_field);
    memcpy(&body[6], p, n);
    crc = ek_crc32(0, body, 6 + n);
    ek_put_u32(&body[6 + n], crc);
    if (at + 2 + EK_COBS_MAX_ENCODED(n + 10) >= sizeof wire) {
        return at;
    }
    wire[at++] = 0;
    enc = ek_cobs_encode(body, n + 10, &wire[at], sizeof wire - at);
    at += enc;
    wire[at++] = 0;
    return at;
}

static size_t shape_records(const uint8_t *d, size_t n)
{
    size_t i = 0, at = 0;
    static uint8_t pad[EK_PROTO_MAX_PAYLOAD + 40];
    while (i + 4 <= n) {
        uint8_t type = d[i], flags = d[i + 2];
        uint16_t seq = d[i + 1];
        size_t len = d[i + 3], j;
        const uint8_t *p;
        i += 4;
        if (len > n - i) {
            len = n - i;
        }
        p = &d[i];
        i += len;
        if (flags & 2u) {
            for (j = 0; j < 5 && at < sizeof wire; j++) {
                wire[at++] = (uint8_t)(0x80u | j);
            }
        }
        if (flags & 4u) { /* longer than the device accepts */
            memset(pad, 0x5A, sizeof pad);
            memcpy(pad, p, len);
            p = pad;
            len = sizeof pad;
        }
        at = add_frame(at, (flags & 8u) ? 2u : 1u, type, seq, p, len,
                       (flags & 1u) ? (uint16_t)(len + 1u + flags) : (uint16_t)len);
    }
    return at;
}

static void run_app(const uint8_t *data, size_t n)
{
    size_t polls = 0;
    rx = data;
    rx_len = n;
    rx_pos = 0;
    while ((rx_pos < rx_len || polls < 8) && polls < 100000) {
        ek_app_poll();
        polls++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t hello[EK_PROTO_MAX_WIRE];
    static ek_parser_t bare;
    ek_frame_t f;
    size_t n_hello, n, i;
    int rc = EK_PARSE_NONE;

    ek_parser_init(&out_parser);
    ek_app_init();
    saw_hello_reply = 0;
    if (size == 0) {
        return 0;
    }
    if (data[0] & 1u) {
        n = shape_records(data + 1, size - 1);
        run_app(wire, n);
    } else {
        run_app(data + 1, size - 1);
    }

    /* Property 3: a valid HELLO is answered whatever came before. */
    hello_seq = (uint16_t)(0xBEEFu ^ size);
    n_hello = ek_frame_encode(EK_MSG_HELLO, hello_seq, NULL, 0, hello, sizeof hello);
    run_app(hello, n_hello);
    if (!saw_hello_reply) {
        fprintf(stderr, "device did not answer HELLO after the input: parser wedged\n");
        abort();
    }

    /* Property 4: the bare parser, after the raw bytes, accepts a valid frame. */
    ek_parser_init(&bare);
    for (i = 1; i < size; i++) {
        (void)ek_parser_feed(&bare, data[i], &f);
    }
    for (i = 0; i < n_hello; i++) {
        rc = ek_parser_feed(&bare, hello[i], &f);
        if (rc == EK_PARSE_FRAME) {
            break;
        }
    }
    if (rc != EK_PARSE_FRAME || f.seq != hello_seq || f.type != EK_MSG_HELLO || f.len != 0) {
        fprintf(stderr, "bare parser did not accept a valid frame after the input\n");
        abort();
    }
    return 0;
}
