/* edgekit ARM semihosting calls: see ek_semihost.h. A call is "bkpt 0xAB" with the operation
 * in r0 and a parameter block pointer in r1; the result comes back in r0. */
#include "ek_semihost.h"

static uint64_t ticks_per_us = 1000u, ticks_start;

static uint64_t elapsed_ticks(void)
{
    volatile uint32_t block[2] = {0u, 0u};
    register uint32_t r0 __asm("r0") = 0x30u;    /* SYS_ELAPSED */
    register volatile uint32_t *r1 __asm("r1") = block;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return ((uint64_t)block[1] << 32) | block[0];
}

void ek_semihost_clock_init(void)
{
    register uint32_t r0 __asm("r0") = 0x31u;    /* SYS_TICKFREQ */
    register uint32_t r1 __asm("r1") = 0u;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    if (r0 >= 1000000u && r0 != 0xFFFFFFFFu) {
        ticks_per_us = r0 / 1000000u;
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
    volatile uint32_t block[2] = {0x20026u, (uint32_t)code};
    register uint32_t r0 __asm("r0") = 0x20u;    /* SYS_EXIT_EXTENDED */
    register volatile uint32_t *r1 __asm("r1") = block;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) {
    }
}
