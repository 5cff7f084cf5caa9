/* The device side of the guest's HID keyboard gadget, and a second reader of its host-side
 * event device. Built static by tests/hil/build.sh.
 *
 *   ghid type [--alt-gs] [--gap MS] CODE...
 * types each CODE on /dev/hidg0 as a barcode scanner in keyboard mode does: boot-keyboard
 * reports (modifier byte, reserved, six key usages), one press and one release per
 * character, Shift for upper case and shifted symbols (US layout), then Enter. The GS1 group
 * separator (byte 0x1D) is typed as Ctrl+], or with --alt-gs as Alt held while keypad 0 0 2 9
 * is typed. --gap: milliseconds after each report (default 10; scanners have this setting,
 * "intercharacter delay", for hosts that read slowly; 0 types as fast as USB takes it).
 *
 *   ghid listen /dev/input/eventN SECONDS
 * reads the event device for SECONDS seconds and prints how many key events it got: zero
 * while another process has grabbed the device (EVIOCGRAB). */
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { CTRL = 0x01, SHIFT = 0x02, ALT = 0x04 };

/* The HID usage (and modifier) that types c on a US keyboard; 0 when it has none. */
static int usage(unsigned char c, int *mod) {
    static const char digits[] = "1234567890", shifted[] = "!@#$%^&*()";
    static const char plain_sym[] = "-=[]\\;'`,./", shift_sym[] = "_+{}|:\"~<>?";
    static const int sym_usage[] = {0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38};
    const char *p;
    *mod = 0;
    if (c >= 'a' && c <= 'z')
        return 0x04 + (c - 'a');
    if (c >= 'A' && c <= 'Z') {
        *mod = SHIFT;
        return 0x04 + (c - 'A');
    }
    if (c && (p = strchr(digits, c)))
        return 0x1e + (int)(p - digits);
    if (c && (p = strchr(shifted, c))) {
        *mod = SHIFT;
        return 0x1e + (int)(p - shifted);
    }
    if (c && (p = strchr(plain_sym, c)))
        return sym_usage[p - plain_sym];
    if (c && (p = strchr(shift_sym, c))) {
        *mod = SHIFT;
        return sym_usage[p - shift_sym];
    }
    if (c == ' ')
        return 0x2c;
    if (c == '\r')
        return 0x28;
    if (c == 0x1d) {
        *mod = CTRL;
        return 0x30; /* Ctrl+] */
    }
    return 0;
}

static int gap_ms = 10;

static void report(int fd, int mod, int key) {
    unsigned char r[8] = {(unsigned char)mod, 0, (unsigned char)key, 0, 0, 0, 0, 0};
    if (write(fd, r, sizeof r) != (ssize_t)sizeof r) {
        perror("write /dev/hidg0");
        exit(1);
    }
    if (gap_ms)
        usleep((useconds_t)gap_ms * 1000);
}

static void tap(int fd, int mod, int key) {
    report(fd, mod, key);
    report(fd, mod, 0);
}

static int type(int argc, char **argv) {
    int alt_gs = 0, i = 0;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--alt-gs"))
            alt_gs = 1;
        else if (!strcmp(argv[i], "--gap") && i + 1 < argc)
            gap_ms = atoi(argv[++i]);
        else
            break;
    }
    int fd = open("/dev/hidg0", O_WRONLY);
    if (fd < 0) {
        perror("open /dev/hidg0");
        return 1;
    }
    for (; i < argc; i++) {
        for (const unsigned char *c = (const unsigned char *)argv[i]; *c; c++) {
            int mod, key;
            if (*c == 0x1d && alt_gs) {
                static const int kp[] = {0x62, 0x62, 0x5a, 0x61}; /* keypad 0 0 2 9 */
                report(fd, ALT, 0);
                for (int k = 0; k < 4; k++)
                    tap(fd, ALT, kp[k]);
                report(fd, 0, 0);
                continue;
            }
            if (!(key = usage(*c, &mod))) {
                fprintf(stderr, "ghid: no key types byte 0x%02x\n", *c);
                return 1;
            }
            tap(fd, mod, key);
            if (mod)
                report(fd, 0, 0);
        }
        tap(fd, 0, 0x28); /* Enter */
    }
    close(fd);
    return 0;
}

static int listen_keys(const char *path, int seconds) {
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    long keys = 0;
    time_t end = time(0) + seconds;
    struct input_event ev[64];
    while (time(0) < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            continue;
        if (p.revents & (POLLERR | POLLHUP))
            break;
        ssize_t n = read(fd, ev, sizeof ev);
        for (ssize_t i = 0; i < n / (ssize_t)sizeof ev[0]; i++)
            keys += ev[i].type == EV_KEY;
    }
    printf("%ld\n", keys);
    close(fd);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "type"))
        return type(argc - 2, argv + 2);
    if (argc == 4 && !strcmp(argv[1], "listen"))
        return listen_keys(argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: ghid type [--alt-gs] CODE... | ghid listen /dev/input/eventN SECONDS\n");
    return 2;
}
