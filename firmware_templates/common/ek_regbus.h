/* edgekit register bus: how a sensor driver reaches one chip's registers.
 *
 * A port binds a chip (bus + address) into `ctx` and fills in the functions; the driver
 * (ek_lsm6dsl.c, ...) calls only these, so it is plain portable C with no link-time
 * dependency on any bus driver, and a port that has no such chip never references it.
 * Every function returns 0 or a negative EK_SENSOR_ERR_* code (ek_port.h).
 */
#ifndef EK_REGBUS_H
#define EK_REGBUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    void *ctx;   /* the port's handle for this chip (its bus and address) */
    /* Bring the bus to a known state (bus clear, controller reset) before a chip setup. */
    void (*reset)(void *ctx);
    int (*write_reg)(void *ctx, uint8_t reg, uint8_t value);
    /* Read `len` consecutive registers from `reg` on (the chip auto-increments). */
    int (*read_regs)(void *ctx, uint8_t reg, uint8_t *buf, size_t len);
    void (*delay_us)(void *ctx, uint32_t us);
} ek_regbus_t;

#ifdef __cplusplus
}
#endif

#endif /* EK_REGBUS_H */
