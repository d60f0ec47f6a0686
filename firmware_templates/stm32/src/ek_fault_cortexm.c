/* edgekit Cortex-M fault reporter: see ek_fault_cortexm.h. */
#include "ek_fault_cortexm.h"

#include "ek_text.h"

size_t ek_fault_format(char *buf, size_t size, const ek_fault_info_t *info)
{
    ek_text_t o;
    uint32_t exc = info->ipsr & 0x1FFu;
    ek_text_init(&o, buf, size);
    ek_text_put(&o, "\r\nedgekit: fault: exception ");
    ek_text_hex(&o, "", exc);
    ek_text_put(&o, exc == 3u ? " (HardFault)" : (exc < 16u ? " (system)" : " (unexpected IRQ)"));
    ek_text_hex(&o, " pc=", info->pc);
    ek_text_hex(&o, " lr=", info->lr);
    ek_text_hex(&o, " cfsr=", info->cfsr);
    ek_text_hex(&o, " hfsr=", info->hfsr);
    ek_text_hex(&o, " bfar=", info->bfar);
    ek_text_hex(&o, " mmfar=", info->mmfar);
    ek_text_hex(&o, " exc_return=", info->exc_return);
    ek_text_put(&o, "\r\n");
    return ek_text_end(&o);
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
