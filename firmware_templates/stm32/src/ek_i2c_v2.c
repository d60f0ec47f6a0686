/* edgekit I2C master for the STM32 v2 I2C block: see ek_i2c_v2.h. Section numbers are
 * RM0351's. */
#include "ek_i2c_v2.h"

#include "ek_mmio.h"
#include "ek_port.h"

#define I2C_CR1           0x00u
#define I2C_CR2           0x04u
#define I2C_TIMINGR       0x10u
#define I2C_ISR           0x18u
#define I2C_ICR           0x1Cu
#define I2C_RXDR          0x24u
#define I2C_TXDR          0x28u
#define I2C_CR1_PE        (1u << 0)     /* I2C_CR1 (§39.7.1); ANFOFF = 0: analog filter on, DNF = 0 */
#define I2C_CR2_RD_WRN    (1u << 10)    /* I2C_CR2 (§39.7.2) */
#define I2C_CR2_START     (1u << 13)
#define I2C_CR2_NBYTES(n) ((uint32_t)(n) << 16)
#define I2C_CR2_AUTOEND   (1u << 25)    /* STOP once NBYTES are done; without it TC is set */
#define I2C_ISR_TXIS      (1u << 1)     /* I2C_ISR (§39.7.7) */
#define I2C_ISR_RXNE      (1u << 2)
#define I2C_ISR_NACKF     (1u << 4)
#define I2C_ISR_STOPF     (1u << 5)
#define I2C_ISR_TC        (1u << 6)
#define I2C_ISR_BERR      (1u << 8)
#define I2C_ISR_ARLO      (1u << 9)
#define I2C_ICR_ALL       0x3F38u       /* I2C_ICR (§39.7.8): ADDR, NACK, STOP, BERR, ARLO, OVR, PEC, TIMEOUT, ALERT */

static volatile uint32_t *reg(const ek_i2c_v2_t *bus, uint32_t offset)
{
    return EK_MMIO(bus->base + offset);
}

void ek_i2c_v2_delay_us(const ek_i2c_v2_t *bus, uint32_t us)
{
    uint32_t start = ek_port_cycles();
    while ((uint32_t)(ek_port_cycles() - start) < us * bus->cycles_per_us) {
    }
}

static int timed_out(const ek_i2c_v2_t *bus, uint32_t start)
{
    return (uint32_t)(ek_port_cycles() - start) > bus->timeout_us * bus->cycles_per_us;
}

static void bus_clear(const ek_i2c_v2_t *bus)
{
    int i;
    ek_gpio_open_drain_output(&bus->gpio, bus->scl);
    ek_gpio_open_drain_output(&bus->gpio, bus->sda);
    ek_i2c_v2_delay_us(bus, 5u);
    for (i = 0; i < 9 && !ek_gpio_read(&bus->gpio, bus->sda); i++) {
        ek_gpio_write(&bus->gpio, bus->scl, 0);
        ek_i2c_v2_delay_us(bus, 5u);
        ek_gpio_write(&bus->gpio, bus->scl, 1);
        ek_i2c_v2_delay_us(bus, 5u);
    }
    ek_gpio_write(&bus->gpio, bus->sda, 0);   /* STOP: SDA rises while SCL is high */
    ek_i2c_v2_delay_us(bus, 5u);
    ek_gpio_write(&bus->gpio, bus->sda, 1);
    ek_i2c_v2_delay_us(bus, 5u);
}

void ek_i2c_v2_init(const ek_i2c_v2_t *bus)
{
    bus_clear(bus);
    ek_mmio_modify(bus->kernel_sel, 3u << bus->kernel_sel_shift, 0u);   /* kernel clock = PCLK1 */
    ek_mmio_modify(bus->rcc_enr, 0u, 1u << bus->rcc_bit);
    (void)ek_mmio_read(bus->rcc_enr);
    ek_mmio_write(reg(bus, I2C_CR1), 0u);   /* PE = 0: TIMINGR is writable */
    ek_mmio_write(reg(bus, I2C_TIMINGR), bus->timingr);
    ek_mmio_write(reg(bus, I2C_CR1), I2C_CR1_PE);
    ek_gpio_af(&bus->gpio, bus->scl, bus->af, 1, 1);   /* open-drain, pulled up (the bus has its own too) */
    ek_gpio_af(&bus->gpio, bus->sda, bus->af, 1, 1);
}

/* Wait for any of `flags` in I2C_ISR. A NACK, bus error or lost arbitration ends the wait
 * with its own error; so does the timeout. */
static int wait_flags(const ek_i2c_v2_t *bus, uint32_t flags)
{
    uint32_t start = ek_port_cycles();
    for (;;) {
        uint32_t isr = ek_mmio_read(reg(bus, I2C_ISR));
        if (isr & I2C_ISR_NACKF) {
            return EK_SENSOR_ERR_NACK;
        }
        if (isr & (I2C_ISR_BERR | I2C_ISR_ARLO)) {
            return EK_SENSOR_ERR_BUS;
        }
        if (isr & flags) {
            return 0;
        }
        if (timed_out(bus, start)) {
            return EK_SENSOR_ERR_TIMEOUT;
        }
    }
}

/* End a transfer. On success clear STOPF. On failure: after a NACK the block sends the STOP
 * itself (§39.4.9 "I2C master mode"), let it finish; then clear every flag and software-reset
 * the block (PE = 0 for at least 3 APB cycles, §39.4.6 "Software reset"), which also
 * releases SCL and SDA. */
static int end_transfer(const ek_i2c_v2_t *bus, int rc)
{
    uint32_t start;
    int i;
    if (rc == 0) {
        ek_mmio_write(reg(bus, I2C_ICR), I2C_ICR_ALL);
        return 0;
    }
    start = ek_port_cycles();
    while (rc == EK_SENSOR_ERR_NACK && !(ek_mmio_read(reg(bus, I2C_ISR)) & I2C_ISR_STOPF) &&
           !timed_out(bus, start)) {
    }
    ek_mmio_write(reg(bus, I2C_ICR), I2C_ICR_ALL);
    ek_mmio_modify(reg(bus, I2C_CR1), I2C_CR1_PE, 0u);
    for (i = 0; i < 4; i++) {
        (void)ek_mmio_read(reg(bus, I2C_CR1));
    }
    ek_mmio_modify(reg(bus, I2C_CR1), 0u, I2C_CR1_PE);
    return rc;
}

int ek_i2c_v2_write_reg(const ek_i2c_v2_t *bus, uint8_t addr, uint8_t regno, uint8_t value)
{
    int rc;
    ek_mmio_write(reg(bus, I2C_ICR), I2C_ICR_ALL);
    ek_mmio_write(reg(bus, I2C_CR2), ((uint32_t)addr << 1) | I2C_CR2_NBYTES(2u) | I2C_CR2_AUTOEND |
                                     I2C_CR2_START);
    rc = wait_flags(bus, I2C_ISR_TXIS);
    if (rc == 0) {
        ek_mmio_write(reg(bus, I2C_TXDR), regno);
        rc = wait_flags(bus, I2C_ISR_TXIS);
    }
    if (rc == 0) {
        ek_mmio_write(reg(bus, I2C_TXDR), value);
        rc = wait_flags(bus, I2C_ISR_STOPF);
    }
    return end_transfer(bus, rc);
}

int ek_i2c_v2_read_regs(const ek_i2c_v2_t *bus, uint8_t addr, uint8_t regno, uint8_t *buf,
                        size_t len)
{
    size_t i;
    int rc;
    ek_mmio_write(reg(bus, I2C_ICR), I2C_ICR_ALL);
    ek_mmio_write(reg(bus, I2C_CR2), ((uint32_t)addr << 1) | I2C_CR2_NBYTES(1u) | I2C_CR2_START);
    rc = wait_flags(bus, I2C_ISR_TXIS);
    if (rc == 0) {
        ek_mmio_write(reg(bus, I2C_TXDR), regno);
        rc = wait_flags(bus, I2C_ISR_TC);   /* no AUTOEND: TC, then the repeated START */
    }
    if (rc == 0) {
        ek_mmio_write(reg(bus, I2C_CR2), ((uint32_t)addr << 1) | I2C_CR2_RD_WRN |
                                         I2C_CR2_NBYTES(len) | I2C_CR2_AUTOEND | I2C_CR2_START);
        for (i = 0; i < len && rc == 0; i++) {
            rc = wait_flags(bus, I2C_ISR_RXNE);
            if (rc == 0) {
                buf[i] = (uint8_t)ek_mmio_read(reg(bus, I2C_RXDR));
            }
        }
    }
    if (rc == 0) {
        rc = wait_flags(bus, I2C_ISR_STOPF);
    }
    return end_transfer(bus, rc);
}

void ek_i2c_v2_dev_reset(void *dev)
{
    ek_i2c_v2_init(((const ek_i2c_v2_dev_t *)dev)->bus);
}

int ek_i2c_v2_dev_write(void *dev, uint8_t regno, uint8_t value)
{
    const ek_i2c_v2_dev_t *d = (const ek_i2c_v2_dev_t *)dev;
    return ek_i2c_v2_write_reg(d->bus, d->addr, regno, value);
}

int ek_i2c_v2_dev_read(void *dev, uint8_t regno, uint8_t *buf, size_t len)
{
    const ek_i2c_v2_dev_t *d = (const ek_i2c_v2_dev_t *)dev;
    return ek_i2c_v2_read_regs(d->bus, d->addr, regno, buf, len);
}

void ek_i2c_v2_dev_delay_us(void *dev, uint32_t us)
{
    ek_i2c_v2_delay_us(((const ek_i2c_v2_dev_t *)dev)->bus, us);
}
