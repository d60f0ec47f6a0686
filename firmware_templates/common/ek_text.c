/* edgekit bounded text builder: see ek_text.h. */
#include "ek_text.h"

void ek_text_init(ek_text_t *t, char *buf, size_t size)
{
    t->buf = buf;
    t->size = size;
    t->len = 0u;
}

void ek_text_put(ek_text_t *t, const char *s)
{
    while (*s) {
        if (t->len + 1u < t->size) {
            t->buf[t->len] = *s;
        }
        t->len++;
        s++;
    }
}

void ek_text_hex(ek_text_t *t, const char *label, uint32_t value)
{
    static const char digits[] = "0123456789abcdef";
    char text[11];
    int i;
    text[0] = '0';
    text[1] = 'x';
    for (i = 0; i < 8; i++) {
        text[2 + i] = digits[(value >> (28 - 4 * i)) & 0xFu];
    }
    text[10] = '\0';
    ek_text_put(t, label);
    ek_text_put(t, text);
}

size_t ek_text_end(ek_text_t *t)
{
    if (t->size > 0u) {
        t->buf[t->len < t->size ? t->len : t->size - 1u] = '\0';
    }
    return t->len;
}
