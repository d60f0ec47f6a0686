/* edgekit synthetic sensors: see ek_synth.h. */
#include "ek_synth.h"

#include "ek_port.h"

/* Uniform noise in [-amplitude, amplitude] from an LCG (Numerical Recipes constants). */
static int32_t noise(ek_synth_t *s, int32_t amplitude)
{
    s->lcg = s->lcg * 1664525u + 1013904223u;
    return (int32_t)((s->lcg >> 8) % (uint32_t)(2 * amplitude + 1)) - amplitude;
}

int32_t ek_synth_isin(uint32_t phase)
{
    uint32_t t = phase & 0x7FFFu;            /* position within the half period */
    int64_t p = (int64_t)t * (int64_t)(32768u - t);
    int32_t v = (int32_t)((16 * p * 32767) / (5 * ((int64_t)1 << 30) - 4 * p));
    return (phase & 0x8000u) ? -v : v;
}

static void gestures(ek_synth_t *s, uint64_t t, int16_t *out)
{
    uint32_t cycle = (uint32_t)(t / 2000000u);
    uint32_t in_cycle = (uint32_t)(t % 2000000u);
    int32_t x = 0, y = 0, z = 1000;
    if (in_cycle < 600000u) {
        uint32_t ph = (uint32_t)(((uint64_t)in_cycle << 16) / 600000u);   /* 0..65535 over the gesture */
        int32_t env = ek_synth_isin(ph / 2u);                               /* half-sine envelope */
        switch (cycle % 3u) {
        case 0:
            x = (800 * env / 32767) * ek_synth_isin(ph * 2u) / 32767;
            break;
        case 1:
            x = (600 * env / 32767) * ek_synth_isin(ph) / 32767;
            y = (600 * env / 32767) * ek_synth_isin(ph + 16384u) / 32767;
            break;
        default:
            x = 1500 * env / 32767 * env / 32767 * env / 32767;
            z = 1000 - 300 * env / 32767;
            break;
        }
    }
    out[0] = (int16_t)(x + noise(s, 20));
    out[1] = (int16_t)(y + noise(s, 20));
    out[2] = (int16_t)(z + noise(s, 20));
}

static void vibration(ek_synth_t *s, uint64_t t, int16_t *out)
{
    uint32_t ph = (uint32_t)((t * 65536u * 50u / 1000000u) & 0xFFFFu);
    uint32_t ph_bearing = (uint32_t)((t * 65536u * 1200u / 1000000u) & 0xFFFFu);
    int32_t v = 300 * ek_synth_isin(ph) / 32767 + 120 * ek_synth_isin(ph * 2u) / 32767
              + 60 * ek_synth_isin(ph * 3u) / 32767 + 30 * ek_synth_isin(ph_bearing) / 32767
              + noise(s, 40);
    out[0] = (int16_t)v;
}

size_t ek_synth_axes(ek_synth_signal_t signal)
{
    return signal == EK_SYNTH_GESTURES ? 3u : 1u;
}

int ek_synth_read(ek_synth_t *synth, ek_synth_signal_t signal, uint64_t t_us, int16_t *out,
                  size_t max_values)
{
    size_t axes = ek_synth_axes(signal);
    if (max_values < axes) {
        return EK_SENSOR_ERR_BUFFER;
    }
    if (signal == EK_SYNTH_GESTURES) {
        gestures(synth, t_us, out);
    } else {
        vibration(synth, t_us, out);
    }
    return (int)axes;
}
