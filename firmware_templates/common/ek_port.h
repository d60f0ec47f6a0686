/* edgekit firmware port contract.
 *
 * The portable core (protocol endpoint, model runner, streaming) calls only these
 * functions; each target (stm32/, esp32/, the host test port) implements them.
 * Keep this list short: a new board family should need nothing else.
 */
#ifndef EK_PORT_H
#define EK_PORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bring up clocks, console UART, cycle counter and sensors. Called once from main. */
void ek_port_init(void);

/* Read one byte from the console without blocking: 0..255, or -1 when none is waiting. */
int ek_port_uart_getc(void);

/* Write len bytes to the console; returns once they are queued or sent. */
void ek_port_uart_write(const uint8_t *data, size_t len);

/* Free-running cycle counter (wraps at 2^32). DWT CYCCNT on Cortex-M silicon,
 * TIM2 at one count per instruction on QEMU (-icount shift=0), esp_cpu_get_cycle_count()
 * on ESP32. */
uint32_t ek_port_cycles(void);

/* Frequency the cycle counter counts at, in Hz (the core clock on silicon). */
uint32_t ek_port_cycles_hz(void);

/* Milliseconds since ek_port_init (wraps); used for timeouts. */
uint32_t ek_port_millis(void);

/* Microseconds since ek_port_init, on the same clock as ek_port_millis; stream pacing and
 * sample timestamps. */
uint64_t ek_port_micros(void);

/* Highest stream rate of sensor `sensor_id` in Hz: the board file's max_rate_hz
 * (EK_SENSOR_<ID>_MAX_RATE_HZ in ek_board.h); 0 when there is no such sensor. */
uint32_t ek_port_sensor_max_rate_hz(uint8_t sensor_id);

/* Read one sample of sensor `sensor_id` into out[0..max_values); returns the number of
 * values written, or one of the EK_SENSOR_ERR_* codes below. Sensor ids are the board
 * file's order (EK_SENSOR_<ID> in the generated ek_board.h). */
int ek_port_sensor_read(uint8_t sensor_id, int16_t *out, size_t max_values);

/* Why a sensor read failed: one code per cause, sent to the host as the detail of a
 * NO_SUCH_SENSOR error (edgekit/hil/protocol.py names them). */
#define EK_SENSOR_ERR_NO_SUCH      (-1)  /* no sensor with this id on this board */
#define EK_SENSOR_ERR_UNSUPPORTED  (-2)  /* the board has it, this port cannot read it yet */
#define EK_SENSOR_ERR_BUFFER       (-3)  /* max_values is smaller than the sensor's axes */
#define EK_SENSOR_ERR_NACK         (-4)  /* bus sensor: nothing acknowledged its address (absent, unpowered) */
#define EK_SENSOR_ERR_TIMEOUT      (-5)  /* bus sensor: the bus made no progress in time (held low, stuck) */
#define EK_SENSOR_ERR_BUS          (-6)  /* bus sensor: bus error or lost arbitration (glitch, second master) */
#define EK_SENSOR_ERR_WRONG_ID     (-7)  /* bus sensor: its identity register is not the part the board file names */

/* Nothing to do (no byte waiting, no stream running): sleep until the next interrupt, and
 * return at once when a byte is already waiting. An idle core draws less power, and an idle
 * virtual board stops taking a host core (QEMU halts on WFI). A port whose UART raises no
 * interrupt returns at once. */
void ek_port_idle(void);

/* Leave the firmware: reset on silicon, semihosting exit with `code` on QEMU. */
void ek_port_exit(int code);

/* Exit code a port passes to ek_port_exit when the firmware faults (HardFault or another
 * unexpected exception). */
#define EK_EXIT_FAULT 3

#ifdef __cplusplus
}
#endif

#endif /* EK_PORT_H */
