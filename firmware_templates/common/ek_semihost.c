/* edgekit semihosting calls: see ek_semihost.h. Each architecture has its own trap; what the
 * operations do is the same. */
#if defined(__arm__) || defined(__riscv)
#include "ek_semihost.h"

#if defined(__arm__)
/* "bkpt 0xAB" with the operation in r0 and a parameter block pointer in r1; the result in r0. */
static uint32_t semihost(uint32_t op, volatile uint32_t *block)
{
    register uint32_t r0 __asm("r0") = op;
    register volatile uint32_t *r1 __asm("r1") = block;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}
#else
/* The operation in a0 and a parameter block pointer in a1, then the trap sequence
 * "slli x0,x0,0x1f; ebreak; srai x0,x0,7" (the host recognises the ebreak by its neighbours,
 * so all three must be uncompressed and in one page: 16-byte aligned); the result in a0. */
uint32_t ek_semihost_trap(uint32_t op, volatile uint32_t *block);

__asm__(
    ".pushsection .text.ek_semihost_trap, \"ax\", @progbits\n"
    ".balign 16\n"
    ".type ek_semihost_trap, @function\n"
    "ek_semihost_trap:\n"
    ".option push\n"
    ".option norvc\n"
    "    slli x0, x0, 0x1f\n"
    "    ebreak\n"
    "    srai x0, x0, 7\n"
    ".option pop\n"
    "    ret\n"
    ".size ek_semihost_trap, . - ek_semihost_trap\n"
    ".popsection\n");

static uint32_t semihost(uint32_t op, volatile uint32_t *block)
{
    return ek_semihost_trap(op, block);
}
#endif

static uint64_t ticks_per_us = 1000u, ticks_start;

static uint64_t elapsed_ticks(void)
{
    volatile uint32_t block[2] = {0u, 0u};
    (void)semihost(0x30u, block);                /* SYS_ELAPSED: low word, high word */
    return ((uint64_t)block[1] << 32) | block[0];
}

void ek_semihost_clock_init(void)
{
    uint32_t hz = semihost(0x31u, 0);            /* SYS_TICKFREQ */
    if (hz >= 1000000u && hz != 0xFFFFFFFFu) {
        ticks_per_us = hz / 1000000u;
    }
    ticks_start = elapsed_ticks();
}

uint64_t ek_semihost_now_us(void)
{
    return (elapsed_ticks() - ticks_start) / ticks_per_us;
}

void ek_semihost_wait_us(uint64_t us)
{
    uint64_t until = elapsed_ticks() + us * ticks_per_us;
    while (elapsed_ticks() < until) {
    }
}

void ek_semihost_exit(int code)
{
    volatile uint32_t block[2] = {0x20026u, (uint32_t)code};   /* ADP_Stopped_ApplicationExit */
    (void)semihost(0x20u, block);                /* SYS_EXIT_EXTENDED */
    for (;;) {
    }
}
#else
typedef int ek_semihost_none;   /* no semihosting on this target (ISO C wants a declaration) */
#endif
