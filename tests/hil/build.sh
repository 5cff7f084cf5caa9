#!/usr/bin/env bash
# Builds the hardware-in-the-loop guest: Debian's stock kernel (fetched with apt, cached in
# target/hil/kernel) and an initramfs holding busybox, the given stationd binary, its
# libraries, the kernel modules the rig needs (in load order) and tests/hil/init.
#
#   tests/hil/build.sh BINARY OUT_DIR     # writes OUT_DIR/vmlinuz and OUT_DIR/initramfs.cpio
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=$1
out=$2
kernel_pkg=${STATIOND_HIL_KERNEL:-linux-image-amd64}
cache="$here/../../target/hil/kernel"
mkdir -p "$cache" "$out"

for tool in busybox:busybox-static qemu-system-x86_64:qemu-system-x86 cpio:cpio depmod:kmod modprobe:kmod mkfs.ext4:e2fsprogs; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || [[ -x /usr/sbin/${tool%%:*} || -x /sbin/${tool%%:*} ]] || {
    echo "tests/hil/build.sh: ${tool%%:*} is missing; install it with: apt-get install -y ${tool##*:}" >&2; exit 1; }
done
export PATH="$PATH:/usr/sbin:/sbin"
if ldd "$(command -v busybox)" >/dev/null 2>&1; then
  echo "tests/hil/build.sh: $(command -v busybox) is linked dynamically; the guest needs: apt-get install -y busybox-static" >&2; exit 1
fi

# The stock kernel: the metapackage names the versioned image package.
if [[ ! -f "$cache/vmlinuz" ]]; then
  # A box whose package lists are old or absent updates them once.
  (cd "$cache" && rm -f ./*.deb && { apt-get download -q "$kernel_pkg" 2>/dev/null || { apt-get update -qq && apt-get download -q "$kernel_pkg"; }; })
  image=$(dpkg-deb -f "$cache"/"${kernel_pkg}"_*.deb Depends | sed -n 's/^\(linux-image-[^ ,]*\).*/\1/p')
  (cd "$cache" && apt-get download -q "$image" 2>/dev/null)
  rm -rf "$cache/root" && mkdir -p "$cache/root"
  dpkg-deb -x "$cache"/"$image"_*.deb "$cache/root"
  kver=$(ls "$cache/root/lib/modules")
  depmod -b "$cache/root" "$kver"
  cp "$cache/root/boot/vmlinuz-$kver" "$cache/vmlinuz.tmp" && mv "$cache/vmlinuz.tmp" "$cache/vmlinuz"
fi
kver=$(ls "$cache/root/lib/modules")
cp "$cache/vmlinuz" "$out/vmlinuz"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,usr/bin,usr/sbin,etc,modules,lib64,lib/x86_64-linux-gnu,tmp,mnt,proc,sys,dev}
cp "$(command -v busybox)" "$stage/bin/busybox"
strip -o "$stage/usr/bin/stationd" "$binary"
for exe in "$binary"; do
  for lib in $(ldd "$exe" | awk '/=>/ {print $3} /ld-linux/ {print $1}'); do
    [[ -f "$lib" ]] && cp -L "$lib" "$stage$lib" 2>/dev/null || cp -L "$lib" "$stage/lib/x86_64-linux-gnu/"
  done
done
cp -L /lib64/ld-linux-x86-64.so.2 "$stage/lib64/"
echo "root:x:0:0:root:/:/bin/sh" > "$stage/etc/passwd"
echo "root:x:0:" > "$stage/etc/group"
cp "$here/stationd.toml" "$stage/etc/stationd.toml"
cp "$here/init" "$stage/init" && chmod 755 "$stage/init"
cp "$here/usb-gadget.sh" "$stage/bin/usb-gadget" && chmod 755 "$stage/bin/usb-gadget"
cp "$here/station.sh" "$stage/bin/hil-station" && chmod 755 "$stage/bin/hil-station"
cp "$here/udev-by-id.sh" "$stage/bin/udev-by-id" && chmod 755 "$stage/bin/udev-by-id"
gcc -static -O2 -o "$stage/bin/gprinter" "$here/gprinter.c"
gcc -static -O2 -o "$stage/bin/ghid" "$here/ghid.c"
cp "$here/usb.toml" "$stage/etc/usb.toml"
cp "$here/labels.toml" "$stage/etc/labels.toml"
cp "$here/scanners.toml" "$stage/etc/scanners.toml"
# The orders; the last one carries a carrier label of 160 kB (an 80 000-byte graphic in ASCII
# hex), more than the printer gadget queues, so a printer that stops reading blocks it mid-job.
orders=$(cat "$here/orders.json")
{ printf '%s' "${orders%%@GRAPHIC@*}"; head -c 160000 /dev/zero | tr '\0' F; printf '%s' "${orders#*@GRAPHIC@}"; } > "$stage/etc/hil-orders.json"

# Modules the rig loads, in dependency order, uncompressed for busybox's insmod.
modules=(virtio_pci virtio_blk virtio_net ext4 crc32c_generic
         configfs libcomposite dummy_hcd usb_f_printer usb_f_hid usb_f_acm cdc_acm usblp usbhid hid_generic evdev)
: > "$stage/modules.order"
for path in $(modprobe -d "$cache/root" -S "$kver" -a --show-depends "${modules[@]}" | awk '$1 == "insmod" {print $2}'); do
  name=$(basename "$path")
  grep -qx "${name%.xz}" "$stage/modules.order" && continue
  case "$path" in
    *.xz) xz -dc "$path" > "$stage/modules/${name%.xz}" ;;
    *) cp "$path" "$stage/modules/$name" ;;
  esac
  echo "${name%.xz}" >> "$stage/modules.order"
done

(cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet) > "$out/initramfs.cpio.tmp"
mv "$out/initramfs.cpio.tmp" "$out/initramfs.cpio"
echo "tests/hil/build.sh: $out/vmlinuz ($kver), $out/initramfs.cpio ($(du -h "$out/initramfs.cpio" | cut -f1))"
