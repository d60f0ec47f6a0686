/* edgekit Cortex-M fault reporter: see ek_fault_cortexm.h. */
#include "ek_fault_cortexm.h"

typedef struct {
    char *buf;
    size_t size;
    size_t len;   /* length of the whole message, even past size */
} out_t;

static void put_str(out_t *o, const char *s)
{
    while (*s) {
        if (o->len + 1u < o->size) {
            o->buf[o->len] = *s;
        }
        o->len++;
        s++;
    }
}

static void put_hex(out_t *o, const char *label, uint32_t value)
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
    put_str(o, label);
    put_str(o, text);
}

size_t ek_fault_format(char *buf, size_t size, const ek_fault_info_t *info)
{
    out_t o;
    uint32_t exc = info->ipsr & 0x1FFu;
    o.buf = buf;
    o.size = size;
    o.len = 0u;
    put_str(&o, "\r\nedgekit: fault: exception ");
    put_hex(&o, "", exc);
    put_str(&o, exc == 3u ? " (HardFault)" : (exc < 16u ? " (system)" : " (unexpected IRQ)"));
    put_hex(&o, " pc=", info->pc);
    put_hex(&o, " lr=", info->lr);
    put_hex(&o, " cfsr=", info->cfsr);
    put_hex(&o, " hfsr=", info->hfsr);
    put_hex(&o, " bfar=", info->bfar);
    put_hex(&o, " mmfar=", info->mmfar);
    put_hex(&o, " exc_return=", info->exc_return);
    put_str(&o, "\r\n");
    if (size > 0u) {
        buf[o.len < size ? o.len : size - 1u] = '\0';
    }
    return o.len;
}

#if defined(__arm__)
#include "ek_cortexm.h"
#include "ek_port.h"

void ek_fault_report(const uint32_t *frame, uint32_t exc_return);

/* Whichever stack was in use (EXC_RETURN bit 2) holds the frame. */
__attribute__((naked)) void ek_fault_entry(void)
{
    __asm volatile(
        "tst lr, #4\n\t"
        "ite eq\n\t"
        "mrseq r0, msp\n\t"
        "mrsne r0, psp\n\t"
        "mov r1, lr\n\t"
        "b ek_fault_report\n\t");
}

__attribute__((used)) void ek_fault_report(const uint32_t *frame, uint32_t exc_return)
{
    char message[EK_FAULT_MESSAGE_MAX];
    ek_fault_info_t info;
    size_t len;
    __asm volatile("mrs %0, ipsr" : "=r"(info.ipsr));
    info.pc = frame[6];
    info.lr = frame[5];
    info.cfsr = SCB_CFSR;
    info.hfsr = SCB_HFSR;
    info.bfar = SCB_BFAR;
    info.mmfar = SCB_MMFAR;
    info.exc_return = exc_return;
    len = ek_fault_format(message, sizeof message, &info);
    ek_fault_console_ready();
    ek_port_uart_write((const uint8_t *)message, len < sizeof message ? len : sizeof message - 1u);
    ek_port_exit(EK_EXIT_FAULT);
}
#endif /* __arm__ */
