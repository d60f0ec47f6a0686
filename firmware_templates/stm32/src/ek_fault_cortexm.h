/* edgekit Cortex-M fault reporter: any unexpected exception prints one line on the console
 * and the firmware exits with EK_EXIT_FAULT (ek_port.h):
 *
 *   edgekit: fault: exception 0x00000003 (HardFault) pc=0x... lr=0x... cfsr=0x...
 *   hfsr=0x... bfar=0x... mmfar=0x... exc_return=0x...     (one line, "\r\n" around it)
 *
 * The startup code's vector table points every unexpected exception at ek_fault_entry.
 * The message is formatted by ek_fault_format, plain C that host tests run too; the rest
 * exists only when compiled for ARM.
 */
#ifndef EK_FAULT_CORTEXM_H
#define EK_FAULT_CORTEXM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the reporter prints: IPSR, the stacked PC and LR (ARMv7-M ARM B1.5.6 stack frame:
 * r0-r3, r12, lr, pc, xpsr) and the fault status registers. */
typedef struct {
    uint32_t ipsr;
    uint32_t pc;
    uint32_t lr;
    uint32_t cfsr;
    uint32_t hfsr;
    uint32_t bfar;
    uint32_t mmfar;
    uint32_t exc_return;
} ek_fault_info_t;

/* Room the message needs, its terminating NUL included. */
#define EK_FAULT_MESSAGE_MAX 176u

/* The message for `info` into buf (NUL-terminated, truncated to size - 1); returns its
 * length without truncation. */
size_t ek_fault_format(char *buf, size_t size, const ek_fault_info_t *info);

/* Exception entry (naked): hands the stacked frame of whichever stack was in use to the
 * reporter, which prints the message and calls ek_port_exit(EK_EXIT_FAULT). */
void ek_fault_entry(void);

/* Provided by the port: make the console usable, even when the fault came before
 * ek_port_init got to it. */
void ek_fault_console_ready(void);

#ifdef __cplusplus
}
#endif

#endif /* EK_FAULT_CORTEXM_H */
