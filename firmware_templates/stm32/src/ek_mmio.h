/* edgekit memory-mapped register access for the STM32 port's plain C drivers.
 *
 * Drivers reach registers only through ek_mmio_read/ek_mmio_write, so a host test can
 * compile the same driver with -DEK_MMIO_HOOKS and provide both functions as a behavioural
 * model of the hardware. REG32 is the plain lvalue form, for code that never runs against
 * such a model (clock tree, console, startup).
 */
#ifndef EK_MMIO_H
#define EK_MMIO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EK_MMIO(addr) ((volatile uint32_t *)(uintptr_t)(addr))
#define REG32(addr) (*EK_MMIO(addr))

#ifdef EK_MMIO_HOOKS
uint32_t ek_mmio_read(volatile uint32_t *reg);
void ek_mmio_write(volatile uint32_t *reg, uint32_t value);
#else
static inline uint32_t ek_mmio_read(volatile uint32_t *reg)
{
    return *reg;
}

static inline void ek_mmio_write(volatile uint32_t *reg, uint32_t value)
{
    *reg = value;
}
#endif

/* Read-modify-write: *reg = (*reg & ~clear) | set. */
static inline void ek_mmio_modify(volatile uint32_t *reg, uint32_t clear, uint32_t set)
{
    ek_mmio_write(reg, (ek_mmio_read(reg) & ~clear) | set);
}

#ifdef __cplusplus
}
#endif

#endif /* EK_MMIO_H */
