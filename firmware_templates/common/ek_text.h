/* edgekit bounded text builder: a message built piece by piece into a fixed buffer, truncated
 * (never overrun) when it is too small, its full length still counted. The fault reporters of
 * the ports use it; it needs no C library. */
#ifndef EK_TEXT_H
#define EK_TEXT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char *buf;
    size_t size;
    size_t len;   /* length of the whole text, even past size */
} ek_text_t;

/* Start an empty text in buf[0..size). */
void ek_text_init(ek_text_t *t, char *buf, size_t size);

/* Append the NUL-terminated string s. */
void ek_text_put(ek_text_t *t, const char *s);

/* Append label, then value as "0x" and 8 lowercase hex digits. */
void ek_text_hex(ek_text_t *t, const char *label, uint32_t value);

/* NUL-terminate what fits and return the whole text's length (size - 1 or more: truncated). */
size_t ek_text_end(ek_text_t *t);

#ifdef __cplusplus
}
#endif

#endif /* EK_TEXT_H */
