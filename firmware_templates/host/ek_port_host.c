/* Host (Linux) implementation of ek_port.h for tests: see ek_port_host.h. */
#define _GNU_SOURCE /* ppoll */

#include "ek_port.h"
#include "ek_port_host.h"

#include <errno.h>
#include <math.h>
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
static uint32_t lcg_state = 12345u;
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

uint32_t ek_port_millis(void)
{
    uint64_t start = (uint64_t)t0.tv_sec * 1000000000u + (uint64_t)t0.tv_nsec;
    return (uint32_t)((now_ns() - start) / 1000000u);
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

/* Sensors: 0 = 3-axis "accelerometer" (sines at 1, 2 and 3 Hz, amplitude 1000, plus
 * noise); 1 = one-value "microphone" (440 Hz sine); other ids do not exist. */
static int noise(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u; /* fixed seed: reproducible runs */
    return (int)((lcg_state >> 24) % 41u) - 20;
}

int ek_port_sensor_read(uint8_t sensor_id, int16_t *out, size_t max_values)
{
    const double two_pi = 6.283185307179586;
    double t = (double)ek_port_millis() / 1000.0;
    size_t i;
    if (sensor_id == 0) {
        for (i = 0; i < 3 && i < max_values; i++) {
            out[i] = (int16_t)(1000.0 * sin(two_pi * (double)(i + 1) * t) + noise());
        }
        return (int)i;
    }
    if (sensor_id == 1) {
        if (max_values < 1) {
            return 0;
        }
        out[0] = (int16_t)(8000.0 * sin(two_pi * 440.0 * t) + noise());
        return 1;
    }
    return -1;
}

void ek_port_exit(int code)
{
    /* Let the host read the last reply before the pty disappears with us. */
    struct timespec pause = {0, 100000000L};
    nanosleep(&pause, NULL);
    fflush(stdout);
    exit(code);
}
