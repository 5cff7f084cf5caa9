/* The device side of the guest's USB printer gadget (/dev/g_printer0, one opener at a time).
 * Built static by tests/hil/build.sh.
 *
 *   gprinter STATUS SECONDS > printed
 * sets the printer-class port status the host reads with GET_PORT_STATUS (0x18: selected, no
 * error; 0x38: paper empty; 0x08: not selected), then copies what the host prints to stdout
 * for SECONDS seconds.
 *
 *   gprinter serve STATUS OUT < commands
 * keeps the device open (closing it makes the printer "not selected") and appends what the
 * host prints to OUT, while it takes commands, one a line, on stdin:
 *   status 0x38   set the port status
 *   read 0|1      stop / resume reading (a printer that stops taking data: the host's
 *                 write blocks once the gadget's queue is full)
 *   out FILE      append what arrives from now on to FILE instead
 *   quit          close the device and exit (do it while unplugged: a descriptor kept open
 *                 across an unplug and replug corrupts the kernel's list on close)
 * Each command is acknowledged on stderr ("gprinter: status 0x38"). */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* linux/usb/g_printer.h; the argument is the value itself, not a pointer. */
#define GADGET_SET_PRINTER_STATUS _IOWR('g', 0x22, unsigned char)

/* Opens the device side, waiting up to 10 s for a host that has just plugged the gadget
 * to configure it (until then the open fails with ENODEV). */
static int open_printer(const char *status) {
    int fd = -1;
    for (int i = 0; i < 100 && (fd = open("/dev/g_printer0", O_RDWR)) < 0; i++)
        usleep(100000);
    if (fd < 0) {
        perror("open /dev/g_printer0");
        exit(1);
    }
    if (ioctl(fd, GADGET_SET_PRINTER_STATUS, (unsigned long)strtoul(status, 0, 0)) < 0) {
        perror("GADGET_SET_PRINTER_STATUS");
        exit(1);
    }
    return fd;
}

static int serve(const char *status, const char *out_path) {
    int fd = open_printer(status);
    FILE *out = fopen(out_path, "ab");
    if (!out) {
        perror(out_path);
        return 1;
    }
    fprintf(stderr, "gprinter: serving, status %s\n", status);
    int reading = 1;
    char line[256];
    size_t used = 0;
    char buf[4096];
    for (;;) {
        struct pollfd p[2] = {{0, POLLIN, 0}, {fd, reading ? POLLIN : 0, 0}};
        if (poll(p, 2, 200) <= 0)
            continue;
        if (p[1].revents & POLLIN) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n > 0) {
                fwrite(buf, 1, (size_t)n, out);
                fflush(out);
            } else {
                usleep(200000); /* unplugged: no busy loop */
            }
        }
        if (!(p[0].revents & (POLLIN | POLLHUP)))
            continue;
        ssize_t n = read(0, line + used, sizeof line - 1 - used);
        if (n <= 0) {
            close(fd);
            return 0;
        }
        used += (size_t)n;
        line[used] = 0;
        char *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = 0;
            if (!strncmp(line, "status ", 7)) {
                if (ioctl(fd, GADGET_SET_PRINTER_STATUS, (unsigned long)strtoul(line + 7, 0, 0)) < 0)
                    perror("GADGET_SET_PRINTER_STATUS");
            } else if (!strncmp(line, "read ", 5)) {
                reading = atoi(line + 5);
            } else if (!strncmp(line, "out ", 4)) {
                fclose(out);
                out = fopen(line + 4, "ab");
                if (!out) {
                    perror(line + 4);
                    return 1;
                }
            } else if (!strcmp(line, "quit")) {
                close(fd);
                fprintf(stderr, "gprinter: quit\n");
                return 0;
            }
            fprintf(stderr, "gprinter: %s\n", line);
            used -= (size_t)(nl + 1 - line);
            memmove(line, nl + 1, used + 1);
        }
    }
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "serve"))
        return serve(argv[2], argv[3]);
    if (argc != 3) {
        fprintf(stderr, "usage: gprinter STATUS SECONDS | gprinter serve STATUS OUT\n");
        return 2;
    }
    int fd = open_printer(argv[1]);
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
