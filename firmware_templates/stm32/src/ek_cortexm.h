/* edgekit Cortex-M core registers (ARMv7-M Architecture Reference Manual, chapter B3: SCB,
 * SysTick, and C1.8: DWT) and core set-up shared by every STM32 board. */
#ifndef EK_CORTEXM_H
#define EK_CORTEXM_H

#include <stdint.h>

#include "ek_mmio.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SCB_CPUID   REG32(0xE000ED00u)
#define SCB_ICSR    REG32(0xE000ED04u)
#define SCB_VTOR    REG32(0xE000ED08u)
#define SCB_AIRCR   REG32(0xE000ED0Cu)
#define SCB_CCR     REG32(0xE000ED14u)
#define SCB_CFSR    REG32(0xE000ED28u)
#define SCB_HFSR    REG32(0xE000ED2Cu)
#define SCB_MMFAR   REG32(0xE000ED34u)
#define SCB_BFAR    REG32(0xE000ED38u)
#define SCB_CCSIDR  REG32(0xE000ED80u)
#define SCB_CSSELR  REG32(0xE000ED84u)
#define SCB_CPACR   REG32(0xE000ED88u)
#define SCB_ICIALLU REG32(0xE000EF50u)
#define SCB_DCISW   REG32(0xE000EF60u)
#define SYST_CSR    REG32(0xE000E010u)
#define SYST_RVR    REG32(0xE000E014u)
#define SYST_CVR    REG32(0xE000E018u)
#define NVIC_ISER(n) REG32(0xE000E100u + 4u * (n))
#define DEMCR       REG32(0xE000EDFCu)
#define DWT_CTRL    REG32(0xE0001000u)
#define DWT_CYCCNT  REG32(0xE0001004u)
#define DWT_LAR     REG32(0xE0001FB0u)

#define EK_DSB_ISB() __asm volatile("dsb\n\tisb" ::: "memory")

/* Cortex-M7: instruction cache on, and the level-1 data cache (invalidated first) on. */
void ek_cortexm7_caches_enable(void);

/* System reset request (SCB_AIRCR.SYSRESETREQ); does not return. */
void ek_cortexm_system_reset(void);

#ifdef __cplusplus
}
#endif

#endif /* EK_CORTEXM_H */
