/* Test driver: exposes the device-side protocol code (ek_protocol.c) on stdin/stdout so
 * tests/hil/test_protocol.py can check it byte for byte against edgekit/hil/protocol.py.
 *   proto_driver encode   lines "TYPE SEQ HEXPAYLOAD" -> wire frame in hex, one per line
 *   proto_driver cobs     lines "HEX"                 -> COBS encoding in hex
 *   proto_driver parse    raw bytes                   -> one line per parser result
 */
#include "ek_protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    unsigned v;
    while (s[0] && s[1] && s[0] != '\n' && n < cap && sscanf(s, "%2x", &v) == 1) {
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

static void puthex(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        printf("%02x", p[i]);
    }
    printf("\n");
}

static char line[1 << 18];
static uint8_t buf[1 << 17];
static uint8_t out[1 << 17];

int main(int argc, char **argv)
{
    if (argc < 2) {
        return 2;
    }
    if (strcmp(argv[1], "encode") == 0) {
        unsigned type, seq;
        int used;
        while (fgets(line, sizeof line, stdin)) {
            size_t n;
            if (sscanf(line, "%x %x %n", &type, &seq, &used) < 2) {
                continue;
            }
            n = unhex(line + used, buf, sizeof buf);
            n = ek_frame_encode((uint8_t)type, (uint16_t)seq, buf, n, out, sizeof out);
            puthex(out, n);
        }
    } else if (strcmp(argv[1], "cobs") == 0) {
        while (fgets(line, sizeof line, stdin)) {
            size_t n = unhex(line, buf, sizeof buf);
            n = ek_cobs_encode(buf, n, out, sizeof out);
            puthex(out, n);
        }
    } else if (strcmp(argv[1], "parse") == 0) {
        static ek_parser_t p;
        ek_frame_t f;
        int c, rc;
        ek_parser_init(&p);
        while ((c = getchar()) != EOF) {
            rc = ek_parser_feed(&p, (uint8_t)c, &f);
            if (rc == EK_PARSE_FRAME) {
                printf("FRAME %02x %04x ", f.type, f.seq);
                puthex(f.payload, f.len);
            } else if (rc < 0) {
                printf("ERR %d\n", rc);
            }
        }
        printf("STATS %u %u\n", p.bad_frames, p.overflows);
    }
    return 0;
}
