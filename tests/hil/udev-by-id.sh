#!/bin/sh
# The guest has no udev: `uevent udev-by-id` runs this for every kernel uevent, and it makes
# the stable names udev's rules would, from the same sysfs attributes:
#   60-serial.rules            /dev/serial/by-id/usb-<manufacturer>_<product>_<serial>-if<NN>
#   60-persistent-input.rules  /dev/input/by-id/usb-<manufacturer>_<product>_<serial>-event-kbd
#                              (-if<NN>-event-kbd for a keyboard not on interface 0)
# with spaces and other characters udev does not keep in names replaced by '_'. The link is
# removed when its device goes away, and made again when it comes back.
case "$SUBSYSTEM:$DEVNAME" in
tty:ttyACM* | tty:ttyUSB*) dir=/dev/serial/by-id suffix= ;;
input:input/event*) dir=/dev/input/by-id suffix=-event-kbd ;;
*) exit 0 ;;
esac
if [ "$ACTION" = remove ]; then
    for link in "$dir"/*; do
        [ "$(readlink "$link")" = "../../$DEVNAME" ] && rm -f "$link"
    done
    exit 0
fi
[ "$ACTION" = add ] || exit 0
# Up from the device to its USB interface (bInterfaceNumber), whose parent is the USB device.
d=$(readlink -f "/sys$DEVPATH")
while [ "$d" != / ] && [ ! -f "$d/bInterfaceNumber" ]; do d=${d%/*}; done
[ -f "$d/bInterfaceNumber" ] || exit 0
usb=${d%/*}
safe() { tr -c 'A-Za-z0-9#+.:=@_\n-' _ < "$1" 2>/dev/null | sed 's/^_*//;s/_*$//'; }
id="usb-$(safe "$usb/manufacturer")_$(safe "$usb/product")_$(safe "$usb/serial")"
iface=$(cat "$d/bInterfaceNumber")
case "$suffix" in
"") name="$id-if$iface" ;;
*) if [ "$iface" = 00 ]; then name="$id$suffix"; else name="$id-if$iface$suffix"; fi ;;
esac
mkdir -p "$dir"
ln -sfn "../../$DEVNAME" "$dir/$name"
