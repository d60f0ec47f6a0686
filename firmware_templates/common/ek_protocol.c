/* edgekit serial protocol, device side. See ek_protocol.h and docs/protocol.md. */
#include "ek_protocol.h"

/* CRC-32/IEEE with a 16-entry table: 64 bytes of flash, two lookups per byte. */
static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
    0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};

uint32_t ek_crc32(uint32_t crc, const uint8_t *data, size_t len)
{
    size_t i;
    crc = ~crc;
    for (i = 0; i < len; i++) {
        crc ^= data[i];
        crc = (crc >> 4) ^ crc_nibble[crc & 0x0Fu];
        crc = (crc >> 4) ^ crc_nibble[crc & 0x0Fu];
    }
    return ~crc;
}

void ek_copy_bytes(uint8_t *dst, const uint8_t *src, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        dst[i] = src[i];
    }
}

void ek_zero_bytes(uint8_t *dst, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        dst[i] = 0;
    }
}

void ek_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

void ek_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

void ek_put_f32(uint8_t *p, float v)
{
    union {
        float f;
        uint32_t u;
    } bits;
    bits.f = v;
    ek_put_u32(p, bits.u);
}

size_t ek_put_str(uint8_t *p, const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n] != '\0') {
        n++;
    }
    p[0] = (uint8_t)n;
    ek_copy_bytes(&p[1], (const uint8_t *)s, n);
    return n + 1u;
}

uint16_t ek_get_u16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] | ((uint16_t)p[1] << 8));
}

uint32_t ek_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* Streaming COBS encoder, so a frame is encoded from its parts without a copy. */
typedef struct {
    uint8_t *out;
    size_t cap;
    size_t pos;      /* next free byte in out */
    size_t code_at;  /* where the current block's code byte goes */
    uint8_t code;    /* 1 + data bytes in the current block */
    uint8_t after_full; /* last block was closed because it reached 254 bytes */
    uint8_t failed;
} cobs_enc_t;

static void enc_start(cobs_enc_t *e, uint8_t *out, size_t cap)
{
    e->out = out;
    e->cap = cap;
    e->failed = (uint8_t)(cap < 1u);
    e->code_at = 0;
    e->pos = 1;
    e->code = 1;
    e->after_full = 0;
}

static void enc_byte(cobs_enc_t *e, uint8_t b)
{
    if (e->failed) {
        return;
    }
    e->after_full = 0;
    if (b == 0u) {
        e->out[e->code_at] = e->code;
        e->code = 1;
    } else {
        if (e->pos >= e->cap) {
            e->failed = 1;
            return;
        }
        e->out[e->pos++] = b;
        e->code++;
        if (e->code != 0xFFu) {
            return;
        }
        e->out[e->code_at] = e->code;
        e->code = 1;
        e->after_full = 1;
    }
    /* Reserve the next block's code byte. */
    if (e->pos >= e->cap) {
        e->failed = 1;
        return;
    }
    e->code_at = e->pos++;
}

static size_t enc_finish(cobs_enc_t *e)
{
    if (e->failed) {
        return 0;
    }
    if (e->after_full && e->code == 1u) {
        /* Canonical COBS: no empty block after a full one at the very end. */
        e->pos--;
    } else {
        e->out[e->code_at] = e->code;
    }
    return e->pos;
}

size_t ek_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap)
{
    cobs_enc_t e;
    size_t i;
    enc_start(&e, out, out_cap);
    for (i = 0; i < len; i++) {
        enc_byte(&e, in[i]);
    }
    return enc_finish(&e);
}

size_t ek_frame_encode(uint8_t type, uint16_t seq, const uint8_t *payload, size_t len,
                       uint8_t *out, size_t out_cap)
{
    uint8_t hdr[EK_PROTO_HEADER_BYTES];
    uint8_t crc_le[EK_PROTO_CRC_BYTES];
    uint32_t crc;
    cobs_enc_t e;
    size_t i, n;

    if (len > EK_PROTO_MAX_PAYLOAD || out_cap < 3u || (len > 0u && payload == NULL)) {
        return 0;
    }
    hdr[0] = (uint8_t)EK_PROTO_VERSION;
    hdr[1] = type;
    ek_put_u16(&hdr[2], seq);
    ek_put_u16(&hdr[4], (uint16_t)len);
    crc = ek_crc32(0, hdr, sizeof hdr);
    if (len > 0u) {
        crc = ek_crc32(crc, payload, len);
    }
    ek_put_u32(crc_le, crc);

    /* The leading delimiter ends whatever partial frame the receiver holds. */
    out[0] = 0;
    enc_start(&e, out + 1, out_cap - 2u);
    for (i = 0; i < sizeof hdr; i++) {
        enc_byte(&e, hdr[i]);
    }
    for (i = 0; i < len; i++) {
        enc_byte(&e, payload[i]);
    }
    for (i = 0; i < sizeof crc_le; i++) {
        enc_byte(&e, crc_le[i]);
    }
    n = enc_finish(&e);
    if (n == 0u) {
        return 0;
    }
    out[1u + n] = 0;
    return n + 2u;
}

void ek_parser_init(ek_parser_t *p)
{
    p->n = 0;
    p->left = 0;
    p->code = 0;
    p->overflow = 0;
    p->bad_frames = 0;
    p->overflows = 0;
}

static void parser_reset_frame(ek_parser_t *p)
{
    p->n = 0;
    p->left = 0;
    p->code = 0;
    p->overflow = 0;
}

static void parser_emit(ek_parser_t *p, uint8_t b)
{
    if (p->n < sizeof p->buf) {
        p->buf[p->n++] = b;
    } else {
        p->overflow = 1; /* keep the header for the error reply, drop the rest */
    }
}

static void count_bad(uint16_t *counter)
{
    if (*counter != 0xFFFFu) {
        (*counter)++;
    }
}

static void header_into(const ek_parser_t *p, ek_frame_t *f)
{
    f->version = p->buf[0];
    f->type = p->buf[1];
    f->seq = ek_get_u16(&p->buf[2]);
    f->len = ek_get_u16(&p->buf[4]);
    f->payload = NULL;
}

/* A complete frame sits in p->buf[0..n): check it. */
static int parser_finish(ek_parser_t *p, ek_frame_t *f)
{
    uint32_t crc_rx, crc;
    size_t body;

    if (p->overflow) {
        count_bad(&p->overflows);
        header_into(p, f); /* buf is full, so the header is there */
        return EK_PARSE_TOO_LONG;
    }
    /* A block cut short by the delimiter is the only COBS error a 0x00-free
     * stream can have. */
    if (p->left != 0u || p->n < EK_PROTO_OVERHEAD) {
        count_bad(&p->bad_frames);
        return EK_PARSE_MALFORMED;
    }
    body = p->n - EK_PROTO_CRC_BYTES;
    crc_rx = ek_get_u32(&p->buf[body]);
    crc = ek_crc32(0, p->buf, body);
    header_into(p, f);
    if (crc != crc_rx) {
        count_bad(&p->bad_frames);
        return EK_PARSE_BAD_CRC;
    }
    if (f->version != EK_PROTO_VERSION) {
        return EK_PARSE_BAD_VERSION;
    }
    if ((size_t)f->len != body - EK_PROTO_HEADER_BYTES) {
        count_bad(&p->bad_frames);
        return EK_PARSE_BAD_LENGTH;
    }
    f->payload = &p->buf[EK_PROTO_HEADER_BYTES];
    return EK_PARSE_FRAME;
}

int ek_parser_feed(ek_parser_t *p, uint8_t byte, ek_frame_t *frame)
{
    int rc;
    if (byte == 0u) {
        if (p->code == 0u && !p->overflow) {
            parser_reset_frame(p);
            return EK_PARSE_EMPTY;
        }
        rc = parser_finish(p, frame);
        /* The frame buffer stays intact until the next byte arrives. */
        p->left = 0;
        p->code = 0;
        p->overflow = 0;
        p->n = 0;
        return rc;
    }
    if (p->left == 0u) {
        /* A code byte: the previous block (if not a full one) ended with a zero. */
        if (p->code != 0u && p->code != 0xFFu) {
            parser_emit(p, 0);
        }
        p->code = byte;
        p->left = (uint8_t)(byte - 1u);
    } else {
        parser_emit(p, byte);
        p->left--;
    }
    return EK_PARSE_NONE;
}
