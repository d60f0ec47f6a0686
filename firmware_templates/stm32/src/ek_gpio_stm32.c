/* edgekit STM32 GPIO pins: see ek_gpio_stm32.h. */
#include "ek_gpio_stm32.h"

#include "ek_mmio.h"

#define GPIO_MODER   0x00u
#define GPIO_OTYPER  0x04u
#define GPIO_OSPEEDR 0x08u
#define GPIO_PUPDR   0x0Cu
#define GPIO_IDR     0x10u
#define GPIO_BSRR    0x18u
#define GPIO_AFRL    0x20u

static volatile uint32_t *reg(const ek_gpio_t *gpio, ek_pin_t pin, uint32_t offset)
{
    return EK_MMIO(gpio->base + 0x400u * pin.port + offset);
}

static void clock_on(const ek_gpio_t *gpio, ek_pin_t pin)
{
    ek_mmio_modify(gpio->rcc_enr, 0u, 1u << pin.port);
    (void)ek_mmio_read(gpio->rcc_enr);   /* the clock is on once the write has landed */
}

void ek_gpio_af(const ek_gpio_t *gpio, ek_pin_t pin, uint32_t af, int open_drain, int pull_up)
{
    uint32_t two = pin.pin * 2u;
    uint32_t four = (pin.pin & 7u) * 4u;
    clock_on(gpio, pin);
    if (open_drain) {
        ek_mmio_modify(reg(gpio, pin, GPIO_OTYPER), 0u, 1u << pin.pin);   /* before it drives */
    }
    ek_mmio_modify(reg(gpio, pin, GPIO_PUPDR), 3u << two, (pull_up ? 1u : 0u) << two);
    ek_mmio_modify(reg(gpio, pin, GPIO_OSPEEDR), 0u, 2u << two);           /* high speed */
    ek_mmio_modify(reg(gpio, pin, GPIO_AFRL + 4u * (pin.pin >> 3)), 0xFu << four, af << four);
    ek_mmio_modify(reg(gpio, pin, GPIO_MODER), 3u << two, 2u << two);      /* AF mode */
}

void ek_gpio_open_drain_output(const ek_gpio_t *gpio, ek_pin_t pin)
{
    uint32_t two = pin.pin * 2u;
    clock_on(gpio, pin);
    ek_mmio_modify(reg(gpio, pin, GPIO_OTYPER), 0u, 1u << pin.pin);       /* before it drives */
    ek_mmio_modify(reg(gpio, pin, GPIO_PUPDR), 3u << two, 1u << two);
    ek_mmio_write(reg(gpio, pin, GPIO_BSRR), 1u << pin.pin);              /* released */
    ek_mmio_modify(reg(gpio, pin, GPIO_MODER), 3u << two, 1u << two);      /* output */
}

void ek_gpio_write(const ek_gpio_t *gpio, ek_pin_t pin, int high)
{
    ek_mmio_write(reg(gpio, pin, GPIO_BSRR), high ? 1u << pin.pin : 1u << (pin.pin + 16u));
}

int ek_gpio_read(const ek_gpio_t *gpio, ek_pin_t pin)
{
    return (ek_mmio_read(reg(gpio, pin, GPIO_IDR)) >> pin.pin) & 1u ? 1 : 0;
}
