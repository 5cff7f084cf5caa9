/* The device side of the guest's USB printer gadget (/dev/g_printer0, one opener at a time):
 * sets the printer-class port status the host reads with GET_PORT_STATUS (0x18: selected, no
 * error; 0x38: paper empty; 0x08: not selected), then copies what the host prints to stdout
 * for SECONDS seconds. Built static by tests/hil/build.sh.
 *   gprinter STATUS SECONDS > printed */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* linux/usb/g_printer.h; the argument is the value itself, not a pointer. */
#define GADGET_SET_PRINTER_STATUS _IOWR('g', 0x22, unsigned char)

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: gprinter STATUS SECONDS\n");
        return 2;
    }
    int fd = open("/dev/g_printer0", O_RDWR);
    if (fd < 0) {
        perror("open /dev/g_printer0");
        return 1;
    }
    if (ioctl(fd, GADGET_SET_PRINTER_STATUS, (unsigned long)strtoul(argv[1], 0, 0)) < 0) {
        perror("GADGET_SET_PRINTER_STATUS");
        return 1;
    }
    time_t end = time(0) + atoi(argv[2]);
    char buf[4096];
    while (time(0) < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) > 0 && (p.revents & POLLIN)) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n > 0) {
                fwrite(buf, 1, (size_t)n, stdout);
                fflush(stdout);
            }
        }
    }
    close(fd);
    return 0;
}
