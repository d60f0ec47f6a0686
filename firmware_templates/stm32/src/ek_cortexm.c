/* edgekit Cortex-M core set-up: see ek_cortexm.h. */
#include "ek_cortexm.h"

void ek_cortexm7_caches_enable(void)
{
    uint32_t ccsidr, sets, ways, set, way;
    SCB_ICIALLU = 0u;
    EK_DSB_ISB();
    SCB_CCR |= 1u << 17;                      /* IC */
    EK_DSB_ISB();
    SCB_CSSELR = 0u;                          /* level 1 data cache */
    EK_DSB_ISB();
    ccsidr = SCB_CCSIDR;
    sets = ((ccsidr >> 13) & 0x7FFFu) + 1u;
    ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
    for (set = 0; set < sets; set++) {
        for (way = 0; way < ways; way++) {
            SCB_DCISW = (set << 5) | (way << 30);   /* 32-byte lines, 4 ways */
        }
    }
    EK_DSB_ISB();
    SCB_CCR |= 1u << 16;                      /* DC */
    EK_DSB_ISB();
}

void ek_cortexm_system_reset(void)
{
    __asm volatile("dsb" ::: "memory");
    SCB_AIRCR = 0x05FA0004u;                  /* VECTKEY | SYSRESETREQ */
    __asm volatile("dsb" ::: "memory");
    for (;;) {
    }
}
