/* edgekit RV32 start-up, bare metal in M-mode: gp, sp, trap vector, flash protection, .data
 * and .bss, then main. Memory symbols come from linker.ld. No interrupts are ever enabled
 * (mstatus.MIE stays 0), so every trap is an exception and goes to the fault reporter. */
#include <stdint.h>

#include "ek_fault_riscv.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _ek_flash_start, _ek_ram_start;

int main(void);
void _start(void);
void ek_reset(void);

/* The first instruction of FLASH (linker.ld keeps .text.start first). gp is loaded with
 * relaxation off, or the linker would turn "la gp" into an access relative to gp itself. */
__attribute__((naked, section(".text.start"))) void _start(void)
{
    __asm volatile(
        ".option push\n\t"
        ".option norelax\n\t"
        "la gp, __global_pointer$\n\t"
        ".option pop\n\t"
        "la sp, _estack\n\t"
        "la t0, ek_trap_entry\n\t"
        "csrw mtvec, t0\n\t"
        "j ek_reset\n\t");
}

/* PMP (privileged spec, "Physical Memory Protection"): entry 1, top-of-range from pmpaddr0,
 * covers FLASH up to the start of RAM with read and execute only; locked, so it binds
 * M-mode too. Flash cannot be written, as on silicon, and the stack at the bottom of RAM
 * faults on its first store past its end. */
#define PMP_R 0x01u
#define PMP_X 0x04u
#define PMP_TOR 0x08u
#define PMP_L 0x80u

static void protect_flash(void)
{
    uint32_t lo = (uint32_t)(uintptr_t)&_ek_flash_start >> 2;
    uint32_t hi = (uint32_t)(uintptr_t)&_ek_ram_start >> 2;
    uint32_t cfg = (PMP_L | PMP_TOR | PMP_X | PMP_R) << 8;
    __asm volatile("csrw pmpaddr0, %0" : : "r"(lo));
    __asm volatile("csrw pmpaddr1, %0" : : "r"(hi));
    __asm volatile("csrw pmpcfg0, %0" : : "r"(cfg) : "memory");
}

void ek_reset(void)
{
    uint32_t *src = &_sidata;
    protect_flash();
    for (uint32_t *dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0u;
    }
    (void)main();
    for (;;) {
    }
}
