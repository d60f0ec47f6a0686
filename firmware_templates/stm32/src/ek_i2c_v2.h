/* edgekit I2C master for the STM32 "v2" I2C block (RM0351 chapter 39 "Inter-integrated
 * circuit (I2C) interface"; same registers on L4+ RM0432, H7 RM0433 §47 and F7; STM32F4 has
 * the older v1 block and cannot use this driver).
 *
 * Polled, one transfer at a time, 7-bit addresses. Every wait is bounded by the bus's
 * timeout, so a missing or stuck device costs at most that per wait and never hangs the
 * caller. Everything that varies per board (block address, TIMINGR, RCC bits, pins) is the
 * ek_i2c_v2_t the generated port fills in. Errors are EK_SENSOR_ERR_* (ek_port.h); time is
 * ek_port_cycles().
 */
#ifndef EK_I2C_V2_H
#define EK_I2C_V2_H

#include <stddef.h>
#include <stdint.h>

#include "ek_gpio_stm32.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One wait = one byte: 90 us at 100 kHz, plus clock stretching. */
#define EK_I2C_V2_TIMEOUT_US 1000u

typedef struct {
    uintptr_t base;                  /* the I2Cx register block */
    uint32_t timingr;                /* I2C_TIMINGR for the bus speed (RM0351 §39.4.5) */
    volatile uint32_t *rcc_enr;      /* RCC register with the block's clock enable ... */
    uint32_t rcc_bit;                /* ... at this bit */
    volatile uint32_t *kernel_sel;   /* RCC register with the 2-bit kernel clock select ... */
    uint32_t kernel_sel_shift;       /* ... at this shift; written 0 = PCLK1 */
    ek_gpio_t gpio;
    ek_pin_t scl;
    ek_pin_t sda;
    uint8_t af;                      /* alternate function of both pins */
    uint32_t timeout_us;             /* bound on one wait */
    uint32_t cycles_per_us;          /* ek_port_cycles() counts per microsecond */
} ek_i2c_v2_t;

/* Bus clear (UM10204 §3.1.16: up to 9 SCL pulses until a device mid-read lets SDA go, then
 * a STOP), clocks, TIMINGR, then the pins to their alternate function. Call it again to
 * recover a bus after errors. */
void ek_i2c_v2_init(const ek_i2c_v2_t *bus);

/* START, address+W, reg, value, STOP. Returns 0 or EK_SENSOR_ERR_NACK/_TIMEOUT/_BUS. */
int ek_i2c_v2_write_reg(const ek_i2c_v2_t *bus, uint8_t addr, uint8_t reg, uint8_t value);

/* START, address+W, reg, repeated START, address+R, len (1..255) bytes, STOP. */
int ek_i2c_v2_read_regs(const ek_i2c_v2_t *bus, uint8_t addr, uint8_t reg, uint8_t *buf,
                        size_t len);

/* Busy-wait `us` microseconds on ek_port_cycles(). */
void ek_i2c_v2_delay_us(const ek_i2c_v2_t *bus, uint32_t us);

/* One device on a bus, as the ctx of an ek_regbus_t (ek_regbus.h): the port fills a regbus
 * with these four functions, so drivers such as ek_lsm6dsl.c reach the chip through it. */
typedef struct {
    const ek_i2c_v2_t *bus;
    uint8_t addr;   /* 7-bit */
} ek_i2c_v2_dev_t;

void ek_i2c_v2_dev_reset(void *dev);
int ek_i2c_v2_dev_write(void *dev, uint8_t reg, uint8_t value);
int ek_i2c_v2_dev_read(void *dev, uint8_t reg, uint8_t *buf, size_t len);
void ek_i2c_v2_dev_delay_us(void *dev, uint32_t us);

#ifdef __cplusplus
}
#endif

#endif /* EK_I2C_V2_H */
