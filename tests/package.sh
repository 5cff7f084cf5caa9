#!/usr/bin/env bash
# Builds the .deb and checks what it holds. With STATIOND_PACKAGE_INSTALL=1 (CI, as root on a
# throwaway box) it also installs it with apt, checks the user, folders and config it set up,
# and removes it again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-deb >/dev/null 2>&1; then
  echo "tests/package.sh: installing cargo-deb"
  cargo install cargo-deb --locked --quiet
fi
cargo deb --locked --quiet
deb=$(ls -t target/debian/stationd_*.deb | head -1)
echo "built $deb"

contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for path in ./usr/bin/stationd ./usr/lib/systemd/system/stationd.service ./usr/lib/udev/rules.d/60-stationd.rules \
            ./usr/lib/sysusers.d/stationd.conf ./usr/lib/tmpfiles.d/stationd.conf \
            ./usr/share/stationd/stationd.example.toml ./usr/share/doc/stationd/OPERATIONS.md; do
  grep -qx "$path" <<<"$contents" || { echo "tests/package.sh: $deb lacks $path" >&2; exit 1; }
done
info=$(dpkg-deb -I "$deb")
for script in postinst prerm postrm; do
  grep -q " $script " <<<"$info" || { echo "tests/package.sh: $deb lacks $script" >&2; exit 1; }
done
grep -q systemd <<<"$(dpkg-deb -f "$deb" Depends)" || { echo "tests/package.sh: $deb does not depend on systemd" >&2; exit 1; }
grep -q fonts-noto-cjk <<<"$(dpkg-deb -f "$deb" Depends)" || { echo "tests/package.sh: $deb does not depend on fonts-noto-cjk (the screen's Chinese)" >&2; exit 1; }
echo "contents ok"

if [[ "${STATIOND_PACKAGE_INSTALL:-}" == 1 ]]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb" >/dev/null
  grep -q dialout <<<"$(id stationd)" || { echo "tests/package.sh: user stationd missing or not in dialout" >&2; exit 1; }
  [[ $(stat -c '%U:%G %a' /var/lib/stationd) == "stationd:stationd 750" ]] || { echo "tests/package.sh: /var/lib/stationd not set up" >&2; exit 1; }
  [[ $(stat -c '%G %a' /etc/stationd/stationd.toml) == "stationd 640" ]] || { echo "tests/package.sh: config not installed" >&2; exit 1; }
  [[ $(stat -c '%U:%G %a %s' /etc/stationd/http.token) == "root:stationd 640 64" ]] || { echo "tests/package.sh: no http token made" >&2; exit 1; }
  /usr/bin/stationd check-config /etc/stationd/stationd.toml
  DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq stationd >/dev/null
  [[ ! -e /usr/bin/stationd && -d /var/lib/stationd ]] || { echo "tests/package.sh: remove left the binary or took the journal" >&2; exit 1; }
  echo "install and remove ok"
fi
