/* Host test firmware: the portable edgekit core as a Linux process.
 *
 *   ek_host_fw [--stdio] [--boot-delay-ms N]
 *
 * Default: opens a pseudo-terminal, prints its slave path on stdout (one line) and
 * serves the protocol on it until killed or told to exit (RESET mode 1).
 * --stdio: serves on stdin/stdout instead.
 */
#define _XOPEN_SOURCE 600
#define _DEFAULT_SOURCE /* cfmakeraw */

#include "ek_app.h"
#include "ek_port.h"
#include "ek_port_host.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static int open_pty(void)
{
    struct termios tio;
    const char *name;
    int master, slave;

    master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
        perror("ek_host_fw: cannot open a pseudo-terminal");
        exit(2);
    }
    name = ptsname(master);
    if (name == NULL) {
        perror("ek_host_fw: ptsname");
        exit(2);
    }
    /* Keep a slave fd open: raw mode from the start (no echo, no line editing before
     * the host configures it), and the master never sees EOF between host sessions. */
    slave = open(name, O_RDWR | O_NOCTTY);
    if (slave < 0 || tcgetattr(slave, &tio) != 0) {
        perror("ek_host_fw: cannot open the pty slave");
        exit(2);
    }
    cfmakeraw(&tio);
    tcsetattr(slave, TCSANOW, &tio);
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    printf("%s\n", name);
    fflush(stdout);
    return master;
}

int main(int argc, char **argv)
{
    uint32_t boot_delay = 0;
    int use_stdio = 0;
    int i, fd;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--stdio") == 0) {
            use_stdio = 1;
        } else if (strcmp(argv[i], "--boot-delay-ms") == 0 && i + 1 < argc) {
            boot_delay = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: %s [--stdio] [--boot-delay-ms N]\n", argv[0]);
            return 2;
        }
    }
    if (use_stdio) {
        ek_port_host_configure(0, 1, boot_delay);
    } else {
        fd = open_pty();
        ek_port_host_configure(fd, fd, boot_delay);
    }
    ek_port_init();
    ek_app_run();
    return 0;
}
