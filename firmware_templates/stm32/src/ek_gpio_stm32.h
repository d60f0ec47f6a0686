/* edgekit STM32 GPIO pins (reference manuals' "GPIO registers": MODER, OTYPER, OSPEEDR,
 * PUPDR, IDR, BSRR, AFRL/AFRH). The block is the same on F4, L4 and H7; what differs per
 * family (where port A is, which RCC register clocks the ports) is the caller's ek_gpio_t.
 */
#ifndef EK_GPIO_STM32_H
#define EK_GPIO_STM32_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uintptr_t base;               /* GPIOA; port n is at base + 0x400 * n */
    volatile uint32_t *rcc_enr;   /* RCC register whose bit n clocks port n */
} ek_gpio_t;

typedef struct {
    uint8_t port;   /* 0 = A, 1 = B, ... */
    uint8_t pin;    /* 0..15 */
} ek_pin_t;

/* Alternate function `af`, high speed; push-pull or open-drain, pulled up or floating. */
void ek_gpio_af(const ek_gpio_t *gpio, ek_pin_t pin, uint32_t af, int open_drain, int pull_up);

/* Open-drain output with pull-up, released (high). */
void ek_gpio_open_drain_output(const ek_gpio_t *gpio, ek_pin_t pin);

/* Drive an output low (0) or release / set it high (1). */
void ek_gpio_write(const ek_gpio_t *gpio, ek_pin_t pin, int high);

/* Level on the pin: 0 or 1. */
int ek_gpio_read(const ek_gpio_t *gpio, ek_pin_t pin);

#ifdef __cplusplus
}
#endif

#endif /* EK_GPIO_STM32_H */
