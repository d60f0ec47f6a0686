/* Host (Linux) implementation of ek_port.h for tests: see ek_port_host.h. */
#define _GNU_SOURCE /* ppoll */

#include "ek_port.h"
#include "ek_port_host.h"
#include "ek_synth.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int rx_fd = 0;
static int tx_fd = 1;
static uint32_t boot_delay_ms;
static struct timespec t0;
static uint8_t rx_buf[4096];
static size_t rx_len, rx_pos;
static ek_synth_t synth = EK_SYNTH_INIT;
static const struct timespec idle_wait = {0, 200000L};

void ek_port_host_configure(int rx, int tx, uint32_t boot_delay)
{
    rx_fd = rx;
    tx_fd = tx;
    boot_delay_ms = boot_delay;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ek_port_init(void)
{
    clock_gettime(CLOCK_MONOTONIC, &t0);
}

static uint64_t since_init_ns(void)
{
    return now_ns() - ((uint64_t)t0.tv_sec * 1000000000u + (uint64_t)t0.tv_nsec);
}

void ek_port_idle(void)
{
    /* ek_port_uart_getc already waits on the input with a timeout. */
}

uint32_t ek_port_millis(void)
{
    return (uint32_t)(since_init_ns() / 1000000u);
}

uint64_t ek_port_micros(void)
{
    return since_init_ns() / 1000u;
}

uint32_t ek_port_cycles(void)
{
    return (uint32_t)now_ns(); /* 1 GHz "cycle" counter, wraps every 4.3 s like a real one */
}

uint32_t ek_port_cycles_hz(void)
{
    return 1000000000u;
}

int ek_port_uart_getc(void)
{
    struct pollfd pfd;
    ssize_t n;
    for (;;) {
        if (rx_pos < rx_len) {
            if (ek_port_millis() < boot_delay_ms) {
                rx_pos = rx_len; /* UART not enabled yet: the bytes are lost */
                continue;
            }
            return rx_buf[rx_pos++];
        }
        /* Nothing buffered: wait up to 0.2 ms, so the idle loop does not spin a core
         * yet 1 kHz streams stay on time. */
        pfd.fd = rx_fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (ppoll(&pfd, 1, &idle_wait, NULL) <= 0) {
            return -1;
        }
        n = read(rx_fd, rx_buf, sizeof rx_buf);
        if (n > 0) {
            rx_len = (size_t)n;
            rx_pos = 0;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            exit(0); /* the host side is gone for good (stdin closed) */
        }
        return -1;
    }
}

void ek_port_uart_write(const uint8_t *data, size_t len)
{
    struct pollfd pfd;
    ssize_t n;
    if (ek_port_millis() < boot_delay_ms) {
        return;
    }
    while (len > 0) {
        n = write(tx_fd, data, len);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            exit(0);
        }
        pfd.fd = tx_fd;
        pfd.events = POLLOUT;
        pfd.revents = 0;
        (void)poll(&pfd, 1, 10);
    }
}

/* Sensors: those of the virtual board (boards/qemu-netduinoplus2.toml), from the same code
 * (ek_synth.c) on the same kind of clock: 0 = "accel", 3 axes in mg (gestures);
 * 1 = "vibration", 1 value in mg; other ids do not exist. */
int ek_port_sensor_read(uint8_t sensor_id, int16_t *out, size_t max_values)
{
    uint64_t t_us = since_init_ns() / 1000u;
    if (sensor_id == 0) {
        return ek_synth_read(&synth, EK_SYNTH_GESTURES, t_us, out, max_values);
    }
    if (sensor_id == 1) {
        return ek_synth_read(&synth, EK_SYNTH_VIBRATION, t_us, out, max_values);
    }
    return EK_SENSOR_ERR_NO_SUCH;
}

/* The virtual board's limits (boards/qemu-netduinoplus2.toml max_rate_hz). */
uint32_t ek_port_sensor_max_rate_hz(uint8_t sensor_id)
{
    return sensor_id == 0 ? 1000u : sensor_id == 1 ? 4000u : 0u;
}

void ek_port_exit(int code)
{
    /* Let the host read the last reply before the pty disappears with us. */
    struct timespec pause = {0, 100000000L};
    nanosleep(&pause, NULL);
    fflush(stdout);
    exit(code);
}
