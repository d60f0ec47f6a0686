/* Host (Linux) test port of the edgekit firmware: the "UART" is a file descriptor pair
 * (a pseudo-terminal master, or stdin/stdout). Used by tests and benchmarks only. */
#ifndef EK_PORT_HOST_H
#define EK_PORT_HOST_H

#include <stdint.h>

/* rx_fd/tx_fd: where the UART reads and writes. boot_delay_ms: bytes received during
 * this long after start are discarded, like a board whose UART is not yet enabled. */
void ek_port_host_configure(int rx_fd, int tx_fd, uint32_t boot_delay_ms);

#endif /* EK_PORT_HOST_H */
