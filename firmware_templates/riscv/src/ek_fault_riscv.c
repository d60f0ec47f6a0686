/* edgekit RISC-V fault reporter: see ek_fault_riscv.h. */
#include "ek_fault_riscv.h"

#include "ek_text.h"

/* Exception codes of mcause (privileged spec, table "Machine cause register values"). */
static const char *cause_name(uint32_t mcause)
{
    static const char *const names[] = {
        "instruction address misaligned", "instruction access fault", "illegal instruction",
        "breakpoint", "load address misaligned", "load access fault",
        "store address misaligned", "store access fault", "ecall from U-mode",
        "ecall from S-mode", "reserved", "ecall from M-mode",
    };
    if (mcause & 0x80000000u) {
        return "unexpected interrupt";
    }
    return mcause < sizeof names / sizeof names[0] ? names[mcause] : "exception";
}

size_t ek_fault_format(char *buf, size_t size, const ek_fault_info_t *info)
{
    ek_text_t o;
    ek_text_init(&o, buf, size);
    ek_text_hex(&o, "\r\nedgekit: fault: mcause=", info->mcause);
    ek_text_hex(&o, " mepc=", info->mepc);
    ek_text_hex(&o, " mtval=", info->mtval);
    ek_text_hex(&o, " sp=", info->sp);
    ek_text_put(&o, " (");
    ek_text_put(&o, cause_name(info->mcause));
    ek_text_put(&o, ")\r\n");
    return ek_text_end(&o);
}

#if defined(__riscv)
#include "ek_port.h"

#define EK_TRAP_STACK_BYTES 1024
#define EK_STR(x) EK_STR_(x)
#define EK_STR_(x) #x

uint8_t ek_trap_stack[EK_TRAP_STACK_BYTES] __attribute__((aligned(16)));
void ek_trap_report(void);

__attribute__((naked, aligned(4))) void ek_trap_entry(void)
{
    __asm volatile(
        "csrw mscratch, sp\n\t"
        "la sp, ek_trap_stack + " EK_STR(EK_TRAP_STACK_BYTES) "\n\t"
        "j ek_trap_report\n\t");
}

__attribute__((used)) void ek_trap_report(void)
{
    static volatile int reporting;
    char message[EK_FAULT_MESSAGE_MAX];
    ek_fault_info_t info;
    size_t len;
    if (reporting) {
        /* A trap while reporting one (e.g. semihosting is off, so the exit's ebreak traps):
         * nothing more can be said. */
        for (;;) {
        }
    }
    reporting = 1;
    __asm volatile("csrr %0, mcause" : "=r"(info.mcause));
    __asm volatile("csrr %0, mepc" : "=r"(info.mepc));
    __asm volatile("csrr %0, mtval" : "=r"(info.mtval));
    __asm volatile("csrr %0, mscratch" : "=r"(info.sp));
    len = ek_fault_format(message, sizeof message, &info);
    ek_fault_console_ready();
    ek_port_uart_write((const uint8_t *)message, len < sizeof message ? len : sizeof message - 1u);
    ek_port_exit(EK_EXIT_FAULT);
}
#endif /* __riscv */
