/* edgekit serial protocol, device side: CRC-32, COBS framing and a frame parser.
 *
 * Wire format (docs/protocol.md is the normative text):
 *   0x00 | COBS( version u8 | type u8 | seq u16 | len u16 | payload[len] | crc32 u32 ) | 0x00
 * All integers little-endian; CRC-32 (IEEE 802.3, reflected, init and xorout 0xFFFFFFFF)
 * covers version..payload. The parser uses one fixed buffer of EK_PROTO_MAX_FRAME bytes
 * and decodes COBS byte by byte, so no input can write outside it; after any garbage it
 * is back in sync at the next 0x00.
 *
 * C99, freestanding: no malloc, no stdio, no string.h.
 */
#ifndef EK_PROTOCOL_H
#define EK_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EK_PROTO_VERSION 2u

/* Largest payload the device accepts and sends. The generated project may raise it
 * (bigger chunks, fewer round trips) at the cost of 2 buffers of this size in RAM.
 * INFO needs up to 254 bytes (rank-6 shapes, full-length strings, I/O counts), hence the floor. */
#ifndef EK_PROTO_MAX_PAYLOAD
#define EK_PROTO_MAX_PAYLOAD 256u
#endif
#if EK_PROTO_MAX_PAYLOAD < 256 || EK_PROTO_MAX_PAYLOAD > 65535
#error "EK_PROTO_MAX_PAYLOAD must be in 256..65535"
#endif

#define EK_PROTO_HEADER_BYTES 6u
#define EK_PROTO_CRC_BYTES 4u
#define EK_PROTO_OVERHEAD (EK_PROTO_HEADER_BYTES + EK_PROTO_CRC_BYTES)
#define EK_PROTO_MAX_FRAME (EK_PROTO_MAX_PAYLOAD + EK_PROTO_OVERHEAD)
/* COBS adds one code byte per started run of 254 bytes. */
#define EK_COBS_MAX_ENCODED(n) ((n) + ((n) / 254u) + 1u)
/* Leading and trailing delimiter included. */
#define EK_PROTO_MAX_WIRE (EK_COBS_MAX_ENCODED(EK_PROTO_MAX_FRAME) + 2u)

/* Message types. Bit 7 set = sent by the device. Replies are request | 0x80. */
enum {
    EK_MSG_HELLO = 0x01,
    EK_MSG_INFO = 0x02,
    EK_MSG_INFER = 0x03,
    EK_MSG_INFER_CHUNK = 0x04,
    EK_MSG_READ_OUTPUT = 0x05,
    EK_MSG_BENCH = 0x06,
    EK_MSG_STREAM_START = 0x07,
    EK_MSG_STREAM_STOP = 0x08,
    EK_MSG_RESET = 0x09,
    EK_MSG_ECHO = 0x0A,
    EK_MSG_PROFILE = 0x0B,
    EK_MSG_REPLY = 0x80,
    EK_MSG_SAMPLE = 0xC0,
    EK_MSG_ERROR = 0xFF
};

/* Error codes carried by EK_MSG_ERROR. */
enum {
    EK_ERR_BAD_CRC = 0x01,
    EK_ERR_UNKNOWN_CMD = 0x02,
    EK_ERR_BAD_LENGTH = 0x03,
    EK_ERR_BUSY = 0x04,
    EK_ERR_MODEL = 0x05,
    EK_ERR_NO_SUCH_SENSOR = 0x06,
    EK_ERR_BAD_ARG = 0x07,
    EK_ERR_BAD_VERSION = 0x08,
    EK_ERR_TOO_LONG = 0x09,
    EK_ERR_NOT_READY = 0x0A
};

/* Result of ek_parser_feed. */
enum {
    EK_PARSE_NONE = 0,        /* byte consumed, no frame complete yet */
    EK_PARSE_FRAME = 1,       /* a valid frame is in *frame */
    EK_PARSE_EMPTY = 2,       /* a lone delimiter (frame start marker): ignore */
    EK_PARSE_MALFORMED = -1,  /* COBS error or shorter than a header + CRC: drop silently */
    EK_PARSE_BAD_CRC = -2,    /* header fields in *frame are unverified, payload unset */
    EK_PARSE_TOO_LONG = -3,   /* more than EK_PROTO_MAX_FRAME bytes; header fields unverified */
    EK_PARSE_BAD_LENGTH = -4, /* CRC ok but len field disagrees with the frame size */
    EK_PARSE_BAD_VERSION = -5 /* CRC ok, unknown protocol version */
};

typedef struct {
    uint8_t version;
    uint8_t type;
    uint16_t seq;
    uint16_t len;
    const uint8_t *payload; /* points into the parser; valid until the next feed */
} ek_frame_t;

typedef struct {
    uint8_t buf[EK_PROTO_MAX_FRAME];
    size_t n;          /* decoded bytes kept in buf */
    uint8_t left;      /* data bytes left in the current COBS block */
    uint8_t code;      /* code byte of the current block, 0 before the first */
    uint8_t overflow;  /* frame longer than buf: keep discarding until 0x00 */
    /* Diagnostics, reported by HELLO; saturate instead of wrapping. */
    uint16_t bad_frames;
    uint16_t overflows;
} ek_parser_t;

/* CRC-32/IEEE of data, continuing from crc (start with 0). */
uint32_t ek_crc32(uint32_t crc, const uint8_t *data, size_t len);

/* COBS-encode len bytes into out (no delimiter). Returns the encoded size, or 0 when
 * out_cap is too small. */
size_t ek_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap);

/* Build a complete wire frame (leading 0x00, COBS body, trailing 0x00) into out.
 * Returns its size, or 0 when len > EK_PROTO_MAX_PAYLOAD or out_cap is too small. */
size_t ek_frame_encode(uint8_t type, uint16_t seq, const uint8_t *payload, size_t len,
                       uint8_t *out, size_t out_cap);

void ek_parser_init(ek_parser_t *p);

/* Feed one received byte; see EK_PARSE_*. On EK_PARSE_FRAME, *frame is filled. */
int ek_parser_feed(ek_parser_t *p, uint8_t byte, ek_frame_t *frame);

/* Byte helpers shared with ek_app.c and ek_profile.c (no string.h: the core must link on
 * any freestanding toolchain). */
void ek_copy_bytes(uint8_t *dst, const uint8_t *src, size_t n);
void ek_zero_bytes(uint8_t *dst, size_t n);

/* Little-endian helpers shared with ek_app.c. */
void ek_put_u16(uint8_t *p, uint16_t v);
void ek_put_u32(uint8_t *p, uint32_t v);
uint16_t ek_get_u16(const uint8_t *p);
uint32_t ek_get_u32(const uint8_t *p);
/* IEEE-754 bits of v, little-endian (protocol floats). */
void ek_put_f32(uint8_t *p, float v);
/* A string of at most `max` bytes, prefixed with its length (u8); returns the bytes written. */
size_t ek_put_str(uint8_t *p, const char *s, size_t max);

#ifdef __cplusplus
}
#endif

#endif /* EK_PROTOCOL_H */
