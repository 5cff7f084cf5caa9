#!/bin/sh
# Plugs a composite USB device into the guest's own dummy_hcd host controller, through
# configfs: a HID boot keyboard (interface 0), a CDC-ACM serial port (interfaces 1-2) and a
# printer (interface 3). The host side sees an evdev keyboard, /dev/ttyACM0 and a
# printer-class interface; the device side is /dev/hidg0, /dev/ttyGS0 and /dev/g_printer0.
#   usb-gadget.sh plug | unplug | replug
#   usb-gadget.sh renew-printer   (unplugged: the printer function made afresh, a power-cycled printer)
set -e
g=/sys/kernel/config/usb_gadget/hil
# The printer function, last in the configuration (interface 3).
printer() {
    mkdir $g/functions/printer.usb0
    echo "MFG:stationd;MDL:HIL;CMD:ZPL;CLS:PRINTER;" > $g/functions/printer.usb0/pnp_string
    echo 10 > $g/functions/printer.usb0/q_len
    ln -s $g/functions/printer.usb0 $g/configs/c.1/
}
case "$1" in
plug)
    if [ ! -d $g ]; then
        mkdir -p $g/strings/0x409 $g/configs/c.1/strings/0x409
        echo 0x1d6b > $g/idVendor
        echo 0x0104 > $g/idProduct
        echo 0xEF > $g/bDeviceClass
        echo 0x02 > $g/bDeviceSubClass
        echo 0x01 > $g/bDeviceProtocol
        echo HIL0001 > $g/strings/0x409/serialnumber
        echo stationd > $g/strings/0x409/manufacturer
        echo "HIL composite" > $g/strings/0x409/product
        echo "printer, keyboard, serial" > $g/configs/c.1/strings/0x409/configuration
        mkdir $g/functions/hid.usb0
        echo 1 > $g/functions/hid.usb0/protocol
        echo 1 > $g/functions/hid.usb0/subclass
        echo 8 > $g/functions/hid.usb0/report_length
        printf '\005\001\011\006\241\001\005\007\031\340\051\347\025\000\045\001\165\001\225\010\201\002\225\001\165\010\201\003\225\005\165\001\005\010\031\001\051\005\221\002\225\001\165\003\221\003\225\006\165\010\025\000\045\145\005\007\031\000\051\145\201\000\300' > $g/functions/hid.usb0/report_desc
        mkdir $g/functions/acm.usb0
        ln -s $g/functions/hid.usb0 $g/configs/c.1/
        ln -s $g/functions/acm.usb0 $g/configs/c.1/
        printer
    fi
    echo dummy_udc.0 > $g/UDC
    ;;
unplug)
    echo "" > $g/UDC
    ;;
renew-printer)
    # f_printer keeps the requests that held unread data at the unplug: after a replug the
    # device side takes one transfer and then no more. A printer that was unplugged while
    # its buffer was full is power-cycled in real life; here its function is made again.
    rm $g/configs/c.1/printer.usb0
    rmdir $g/functions/printer.usb0
    printer
    ;;
replug)
    echo "" > $g/UDC
    sleep 1
    echo dummy_udc.0 > $g/UDC
    ;;
esac
