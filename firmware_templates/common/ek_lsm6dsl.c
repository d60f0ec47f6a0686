/* edgekit LSM6DSL driver over an ek_regbus_t: see ek_lsm6dsl.h. */
#include "ek_lsm6dsl.h"

#include "ek_port.h"

/* value * num / den rounded to nearest, saturated to int16. */
static int16_t scale_sample(int32_t value, int32_t num, int32_t den)
{
    int32_t p = value * num;
    int32_t q = (p >= 0 ? p + den / 2 : p - den / 2) / den;
    return (int16_t)(q > 32767 ? 32767 : (q < -32768 ? -32768 : q));
}

/* WHO_AM_I, software reset to the power-on values, then BDU | IF_INC and the control
 * registers of the sensors in use. */
static int setup(const ek_lsm6dsl_t *dev)
{
    const ek_regbus_t *bus = dev->bus;
    uint8_t id = 0u;
    uint8_t ctrl3 = LSM6DSL_CTRL3_C_SW_RESET;
    int rc;
    int i;

    bus->reset(bus->ctx);
    rc = bus->read_regs(bus->ctx, LSM6DSL_WHO_AM_I, &id, 1u);
    if (rc < 0) {
        return rc;
    }
    if (id != LSM6DSL_WHO_AM_I_VALUE) {
        return EK_SENSOR_ERR_WRONG_ID;
    }
    /* SW_RESET clears itself once the registers are back at their power-on values. */
    rc = bus->write_reg(bus->ctx, LSM6DSL_CTRL3_C, LSM6DSL_CTRL3_C_SW_RESET);
    for (i = 0; i < 10 && rc == 0 && (ctrl3 & LSM6DSL_CTRL3_C_SW_RESET); i++) {
        bus->delay_us(bus->ctx, 50u);
        rc = bus->read_regs(bus->ctx, LSM6DSL_CTRL3_C, &ctrl3, 1u);
    }
    if (rc == 0 && (ctrl3 & LSM6DSL_CTRL3_C_SW_RESET)) {
        rc = EK_SENSOR_ERR_TIMEOUT;
    }
    if (rc == 0) {
        rc = bus->write_reg(bus->ctx, LSM6DSL_CTRL3_C, LSM6DSL_CTRL3_C_BDU | LSM6DSL_CTRL3_C_IF_INC);
    }
    if (rc == 0 && dev->ctrl1_xl != 0u) {
        rc = bus->write_reg(bus->ctx, LSM6DSL_CTRL1_XL, dev->ctrl1_xl);
    }
    if (rc == 0 && dev->ctrl2_g != 0u) {
        rc = bus->write_reg(bus->ctx, LSM6DSL_CTRL2_G, dev->ctrl2_g);
    }
    return rc;
}

int ek_lsm6dsl_read(ek_lsm6dsl_t *dev, uint8_t out_reg, int16_t *out, int32_t num, int32_t den)
{
    uint8_t raw[6];
    int rc;
    int i;

    if (dev->state == 0) {
        rc = setup(dev);
        dev->state = rc < 0 ? rc : 1;
    }
    if (dev->state < 0) {
        return dev->state;
    }
    rc = dev->bus->read_regs(dev->bus->ctx, out_reg, raw, sizeof raw);
    if (rc < 0) {
        dev->state = 0;   /* set up again (bus reset included) on the next read */
        return rc;
    }
    for (i = 0; i < 3; i++) {
        int16_t v = (int16_t)((uint16_t)raw[2 * i] | ((uint16_t)raw[2 * i + 1] << 8));
        out[i] = scale_sample(v, num, den);
    }
    return 3;
}
