/* edgekit synthetic sensors: the signals of the virtual board (QEMU) and of the host test
 * port, the same code on both. Integers only (no libm), deterministic: fixed signal shapes
 * plus LCG noise whose sequence repeats exactly from boot.
 *
 * The caller passes the signal time in microseconds, from the same clock as its
 * ek_port_millis(), so a stream paced by millis samples the signal at its nominal rate.
 */
#ifndef EK_SYNTH_H
#define EK_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    /* 3 axes, mg: gravity on z at rest; every 2 s one of three gestures lasting 0.6 s
     * (wave: x swings; circle: x and y in quadrature; punch: a sharp x pulse). */
    EK_SYNTH_GESTURES = 0,
    /* 1 value, mg: a 50 Hz machine (3000 rpm) with 2nd/3rd harmonics, a 1.2 kHz bearing
     * tone and broadband noise. */
    EK_SYNTH_VIBRATION = 1
} ek_synth_signal_t;

/* Noise state; one per firmware, shared by its synthetic sensors. */
typedef struct {
    uint32_t lcg;
} ek_synth_t;

#define EK_SYNTH_INIT {0x12345678u}

/* Values one sample of `signal` has (3 or 1). */
size_t ek_synth_axes(ek_synth_signal_t signal);

/* One sample of `signal` at time t_us into out[0..max_values); returns the number of values
 * written, or EK_SENSOR_ERR_BUFFER (ek_port.h) when max_values is too small. */
int ek_synth_read(ek_synth_t *synth, ek_synth_signal_t signal, uint64_t t_us, int16_t *out,
                  size_t max_values);

/* sin(2*pi*phase/65536) * 32767 (Bhaskara I approximation, error < 0.2 %). */
int32_t ek_synth_isin(uint32_t phase);

#ifdef __cplusplus
}
#endif

#endif /* EK_SYNTH_H */
