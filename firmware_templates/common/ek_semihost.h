/* edgekit semihosting calls (ARM's "Semihosting for AArch32 and AArch64", whose operations the
 * RISC-V Semihosting specification reuses): host time and the exit code of a virtual board.
 * QEMU answers them with -semihosting-config enable=on; on silicon without a debugger they
 * would trap, so only virtual boards call them. Compiled for Arm and RISC-V; elsewhere
 * ek_semihost.c is empty. */
#ifndef EK_SEMIHOST_H
#define EK_SEMIHOST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SYS_TICKFREQ (0x31): ticks per second of SYS_ELAPSED (QEMU: 1 GHz, host time), then the
 * start of ek_semihost_now_us(). */
void ek_semihost_clock_init(void);

/* Host microseconds since ek_semihost_clock_init (SYS_ELAPSED, 0x30). */
uint64_t ek_semihost_now_us(void);

/* Busy-wait `us` host microseconds. */
void ek_semihost_wait_us(uint64_t us);

/* SYS_EXIT_EXTENDED (0x20) with ADP_Stopped_ApplicationExit: QEMU exits with `code` as its
 * own exit status. Does not return. */
void ek_semihost_exit(int code);

#ifdef __cplusplus
}
#endif

#endif /* EK_SEMIHOST_H */
