/* edgekit RISC-V fault reporter: any trap (an exception: interrupts stay disabled) prints
 * one line on the console and the firmware exits with EK_EXIT_FAULT (ek_port.h):
 *
 *   edgekit: fault: mcause=0x00000007 mepc=0x... mtval=0x... sp=0x... (store access fault)
 *                                                        (one line, "\r\n" around it)
 *
 * Start-up points mtvec at ek_trap_entry. The message is formatted by ek_fault_format, plain
 * C that host tests run too; the rest exists only when compiled for RISC-V.
 */
#ifndef EK_FAULT_RISCV_H
#define EK_FAULT_RISCV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the reporter prints: the trap CSRs (RISC-V privileged spec, "Machine-Level CSRs")
 * and the stack pointer of the code that trapped. */
typedef struct {
    uint32_t mcause;
    uint32_t mepc;
    uint32_t mtval;
    uint32_t sp;
} ek_fault_info_t;

/* Room the message needs, its terminating NUL included. */
#define EK_FAULT_MESSAGE_MAX 128u

/* The message for `info` into buf (NUL-terminated, truncated to size - 1); returns its
 * length without truncation. */
size_t ek_fault_format(char *buf, size_t size, const ek_fault_info_t *info);

/* Trap entry (naked, 4-byte aligned for mtvec's direct mode): keeps the trapping sp in
 * mscratch and moves to a stack of its own, since the trap may be a stack overflow, then
 * reports and calls ek_port_exit(EK_EXIT_FAULT). */
void ek_trap_entry(void);

/* Provided by the port: make the console usable, even when the trap came before
 * ek_port_init got to it. */
void ek_fault_console_ready(void);

#ifdef __cplusplus
}
#endif

#endif /* EK_FAULT_RISCV_H */
