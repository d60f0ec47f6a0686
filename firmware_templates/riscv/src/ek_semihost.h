/* edgekit RISC-V semihosting calls (the RISC-V Semihosting specification, which reuses the
 * operations of ARM's "Semihosting for AArch32 and AArch64"), for the virtual board: QEMU
 * answers them with -semihosting-config enable=on. Without it the trap sequence is an
 * ordinary ebreak, which the fault reporter catches. */
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
