/* edgekit LSM6DSL accelerometer + gyroscope driver (ST datasheet DS11503), portable C over
 * an ek_regbus_t, so the same code runs behind any port's I2C (or SPI) and in host tests.
 *
 * A port declares one ek_lsm6dsl_t per chip with the control values its board file asks
 * for and calls ek_lsm6dsl_read(); the first read sets the chip up. A setup failure is
 * cached (a missing sensor answers at once); a failed read sets the chip up again,
 * bus reset included, on the next call.
 */
#ifndef EK_LSM6DSL_H
#define EK_LSM6DSL_H

#include <stddef.h>
#include <stdint.h>

#include "ek_regbus.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Registers (DS11503, "Register description"); sensitivities are in table 3. */
#define LSM6DSL_WHO_AM_I          0x0Fu
#define LSM6DSL_WHO_AM_I_VALUE    0x6Au
#define LSM6DSL_CTRL1_XL          0x10u   /* ODR_XL [7:4], FS_XL [3:2] */
#define LSM6DSL_CTRL2_G           0x11u   /* ODR_G [7:4], FS_G [3:2], FS_125 [1] */
#define LSM6DSL_CTRL3_C           0x12u
#define LSM6DSL_CTRL3_C_BDU       (1u << 6)   /* output registers not updated until both bytes are read */
#define LSM6DSL_CTRL3_C_IF_INC    (1u << 2)   /* register address auto-increment */
#define LSM6DSL_CTRL3_C_SW_RESET  (1u << 0)   /* self-clearing, about 50 us */
#define LSM6DSL_OUTX_L_G          0x22u   /* OUTX_L_G .. OUTZ_H_G: 3 little-endian int16 */
#define LSM6DSL_OUTX_L_XL         0x28u   /* OUTX_L_XL .. OUTZ_H_XL */

typedef struct {
    const ek_regbus_t *bus;
    /* Written at setup; 0 leaves that sensor powered down (every configured ODR is non-zero). */
    uint8_t ctrl1_xl;
    uint8_t ctrl2_g;
    int state;   /* 0: not set up yet, 1: ready, < 0: the setup error (cached) */
} ek_lsm6dsl_t;

/* Three axes from `out_reg` (LSM6DSL_OUTX_L_XL or LSM6DSL_OUTX_L_G), each raw * num / den
 * rounded to nearest and saturated to int16 (the board file's units). Returns 3, or a
 * negative EK_SENSOR_ERR_* code. */
int ek_lsm6dsl_read(ek_lsm6dsl_t *dev, uint8_t out_reg, int16_t *out, int32_t num, int32_t den);

#ifdef __cplusplus
}
#endif

#endif /* EK_LSM6DSL_H */
