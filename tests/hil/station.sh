#!/bin/sh
# A running station on the guest's composite USB gadget (tests/hil/usb-gadget.sh), driven from
# the device side; tests/hil.rs reads the console. Markers: `HIL-<WHAT> <phase> <value>`.
#   hil-station labels     order labels to the USB printer: ready, paper out, offline, unplug mid-job
#   hil-station scanners   HID keyboard-wedge and CDC-ACM scanners by their by-id paths
log=/tmp/stationd.log

# Waits until the daemon's log has COUNT lines matching PATTERN (grep -E), at most SECONDS.
wait_log() {
    end=$(($(date +%s) + $3))
    while [ "$(grep -cE "$1" $log)" -lt "$2" ]; do
        if [ "$(date +%s)" -gt $end ]; then
            echo "HIL-TIMEOUT waiting for $2 x '$1'"
            tail -5 $log
            return 1
        fi
        usleep 100000
    done
}

get() { wget -q -O - "http://127.0.0.1:8080$1"; }

# The screen's document, the printer and job lines of /metrics, the printer's log lines.
show() {
    echo "HIL-STATUS $1 $(get /api/status)"
    get /metrics | grep -E '^stationd_(device_state|print_jobs)' | sed "s/^/HIL-METRICS $1 /"
}

# What a device-side stream holds: bytes, labels begun and ended, and (for short ones) the
# bytes themselves, base64, with the printer's status queries taken out.
stream() {
    sed 's/~HS//g' "$2" > /tmp/stream
    echo "HIL-STREAM $1 bytes=$(wc -c < /tmp/stream) starts=$(grep -o '\^XA' /tmp/stream | wc -l) ends=$(grep -o '\^XZ' /tmp/stream | wc -l) sha256=$(sha256sum < /tmp/stream | cut -d' ' -f1)"
    [ "$(wc -c < /tmp/stream)" -lt 20000 ] && echo "HIL-BYTES $1 $(base64 -w 0 /tmp/stream)"
}

labels() {
    : > $log
    : > /tmp/feedback
    mount -t configfs none /sys/kernel/config
    usb-gadget plug
    sleep 1
    # The printer: ready, read by gprinter, which takes commands on fd 4 from here on.
    mkfifo /tmp/gp
    gprinter serve 0x18 /tmp/ready.out < /tmp/gp 2>/tmp/gprinter.log &
    gp=$!
    exec 4> /tmp/gp
    # The scanner: every line written to fd 3 is a scan.
    mkfifo /tmp/scans
    stationd run --config /etc/labels.toml < /tmp/scans > /tmp/feedback 2> $log &
    daemon=$!
    exec 3> /tmp/scans
    # Children started from here on must not hold the scans' pipe open (the daemon stops
    # when it closes).
    tail -f /tmp/feedback 3>&- &
    wait_log "printer ready" 1 60 || return
    echo "HIL-PHASE ready"
    echo OP:0001 >&3
    echo HIL-1001 >&3
    echo 4006381333931 >&3
    wait_log "print job done" 1 60
    show ready

    # Paper out: the next label waits, and says why.
    echo "status 0x38" >&4
    echo "HIL-PHASE paper_out"
    echo "out /tmp/held.out" >&4
    echo HIL-1002 >&3
    echo 96385074 >&3
    wait_log "printer cannot print.*paper_out" 1 60
    show paper_out
    # Not selected (the printer's offline button): still waiting.
    echo "status 0x08" >&4
    echo "HIL-PHASE offline"
    wait_log "printer cannot print.*offline" 1 60
    show offline
    # Ready: the label goes out, once.
    echo "status 0x18" >&4
    echo "HIL-PHASE ready_again"
    wait_log "print job done" 2 60
    show ready_again

    # Unplugged mid-job: a big label, a printer that stops taking data, so the host's write
    # blocks with part of the label sent; the cable is pulled while it does.
    echo "read 0" >&4
    echo "out /tmp/stalled.out" >&4
    echo "HIL-PHASE unplug"
    echo HIL-1003 >&3
    echo 036000291452 >&3
    sleep 6
    echo "HIL-PHASE unplugged"
    usb-gadget unplug
    # Close the device side while unplugged (kept open across a replug, the kernel corrupts
    # its list when it is finally closed).
    echo quit >&4
    exec 4>&-
    wait $gp
    wait_log "print job done" 3 30
    show unplugged
    usb-gadget renew-printer
    usb-gadget plug
    gprinter serve 0x18 /tmp/after.out < /tmp/gp 2>>/tmp/gprinter.log 3>&- &
    gp=$!
    exec 4> /tmp/gp
    echo "HIL-PHASE replugged"
    wait_log "printer ready" 3 60
    # Long enough for a resend to show: backoff is at most 5 s, the idle poll 10 s.
    sleep 12
    show replugged
    echo quit >&4
    exec 4>&-
    wait $gp
    exec 3>&-
    wait $daemon
    echo "HIL-EXPORT-BEGIN"
    stationd queue export --config /etc/labels.toml | grep -E '"kind":"(print|order\.state|label)'
    echo "HIL-EXPORT-END"
    for s in ready held stalled after; do stream $s /tmp/$s.out; done
    grep -E "print|printer" $log | sed 's/^/HIL-LOG /'
    cat /tmp/gprinter.log
}

# The by-id name of the first device under DIR, waiting for it up to SECONDS.
by_id() {
    end=$(($(date +%s) + $2))
    while ! ls "$1"/* >/dev/null 2>&1; do
        [ "$(date +%s)" -gt $end ] && return 1
        usleep 100000
    done
    ls "$1"/* | head -1
}

scanners() {
    : > $log
    : > /tmp/feedback
    mount -t configfs none /sys/kernel/config
    # udev's by-id names, made from sysfs as devices come and go.
    uevent udev-by-id &
    sleep 1
    usb-gadget plug
    kbd=$(by_id /dev/input/by-id 20) && tty=$(by_id /dev/serial/by-id 20)
    echo "HIL-BY-ID $kbd -> $(readlink "$kbd")"
    echo "HIL-BY-ID $tty -> $(readlink "$tty")"
    ev=$(readlink -f "$kbd")
    stty -F /dev/ttyGS0 raw -echo
    # Nobody holds the keyboard yet: a second reader sees the keys (the control for the grab).
    ghid listen "$ev" 4 > /tmp/listen &
    listener=$!
    sleep 1
    ghid type "free"
    wait $listener
    echo "HIL-LISTEN ungrabbed $(cat /tmp/listen)"

    sed -e "s|@KBD@|$kbd|" -e "s|@TTY@|$tty|" /etc/scanners.toml > /tmp/scanners.toml
    stationd run --config /tmp/scanners.toml < /dev/null > /tmp/feedback 2> $log &
    daemon=$!
    tail -f /tmp/feedback &
    wait_log "scanner ready" 2 60 || return
    echo "HIL-PHASE plugged"
    ghid listen "$ev" 6 > /tmp/listen &
    listener=$!
    sleep 1
    # A badge, codes with shifted letters and symbols, a GS1 element string (GTIN, expiry,
    # lot ended by the group separator, serial) with Ctrl+] and with Alt+0029.
    ghid type "OP:0001" "Abc-XYZ_42!" 'a@#$%^&*()+{}|:"<>?~' "$(printf '01095011015300031726123110LOT-7A\03521SN/42')"
    ghid type --alt-gs "$(printf '0109501101530003\03510BATCH9')"
    printf 'SER-0001\r' > /dev/ttyGS0
    printf '%s\r' "$(printf '0109501101530003\03521ACM')" > /dev/ttyGS0
    wait $listener
    echo "HIL-LISTEN grabbed $(cat /tmp/listen)"
    # A daemon that stalls while the scanner types: the kernel's buffer of key events for it
    # overflows and keys are lost. No code may pass broken.
    kill -STOP $daemon
    ghid type --gap 0 BURST-0001 BURST-0002 BURST-0003 BURST-0004 BURST-0005 BURST-0006 BURST-0007 BURST-0008
    kill -CONT $daemon
    sleep 1
    # An Enter alone: it ends the broken code if the loss took the burst's last Enter with it
    # (else it is a blank line, ignored).
    ghid type "" AFTER-BURST
    sleep 2

    echo "HIL-PHASE unplug"
    usb-gadget unplug
    wait_log "scanner offline" 2 30
    # udev-by-id takes the names away as the kernel's remove events come in.
    end=$(($(date +%s) + 15))
    while ls /dev/serial/by-id /dev/input/by-id | grep -q usb- && [ "$(date +%s)" -le $end ]; do usleep 100000; done
    ls /dev/serial/by-id /dev/input/by-id | sed 's/^/HIL-UNPLUGGED /'
    sleep 1
    usb-gadget plug
    wait_log "scanner ready" 4 60
    echo "HIL-PHASE replugged"
    ls /dev/serial/by-id /dev/input/by-id | sed 's/^/HIL-REPLUGGED /'
    ghid type "AFTER-REPLUG-HID"
    printf 'AFTER-REPLUG-ACM\r' > /dev/ttyGS0
    sleep 3
    kill $daemon
    wait $daemon
    echo "HIL-EXPORT-BEGIN"
    stationd queue export --config /tmp/scanners.toml
    echo "HIL-EXPORT-END"
    grep -E "scanner" $log | sed 's/^/HIL-LOG /'
}

"$@"
