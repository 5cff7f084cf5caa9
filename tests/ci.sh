#!/usr/bin/env bash
# The one test command (README: "Run the tests"). On a fresh Debian box it installs what
# is missing, then runs rustfmt, clippy and every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

# tool:package pairs the tests use (brokers: Mosquitto, and the NATS and RabbitMQ clusters of tests/brokers.rs;
# PTY/TCP helpers, privilege drop, a browser for the station screen, a barcode decoder and Node for the offline
# ZPL renderer of tests/labels.rs, QEMU and what builds its guest for tests/hil, gdb for the stacks of a
# daemon that stopped answering), fontconfig to find the CJK font the screen's Chinese needs.
required=(mosquitto:mosquitto mosquitto_sub:mosquitto-clients mosquitto_pub:mosquitto-clients nats-server:nats-server rabbitmq-server:rabbitmq-server socat:socat setpriv:util-linux systemd-analyze:systemd chromium:chromium qemu-system-x86_64:qemu-system-x86 busybox:busybox-static cpio:cpio depmod:kmod mkfs.ext4:e2fsprogs zbarimg:zbar-tools node:nodejs npm:npm gdb:gdb fc-list:fontconfig)
missing=()
for pair in "${required[@]}"; do
  tool=${pair%%:*} pkg=${pair##*:}
  if ! command -v "$tool" >/dev/null 2>&1 && [[ ! -x /usr/sbin/$tool ]]; then
    [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
  fi
done
# The font the package depends on, so the screen's screenshots show Chinese, not boxes.
if ! fc-list 2>/dev/null | grep -q "Noto Sans CJK SC"; then
  missing+=(fonts-noto-cjk)
fi
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "tests/ci.sh: missing packages: ${missing[*]}; install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "tests/ci.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin"

# The offline ZPL renderer (zpl-renderer-js, pinned in tests/labels/package-lock.json).
if [[ ! -d tests/labels/node_modules/zpl-renderer-js ]]; then
  echo "tests/ci.sh: installing the ZPL renderer (npm ci --prefix tests/labels)"
  npm ci --prefix tests/labels --no-audit --no-fund
fi

# The contract check: the AsyncAPI 3.0 JSON schema offline (@asyncapi/specs), ajv with
# ajv-formats and yaml for the second validator, quicktype for the consumer's models (all
# pinned in tests/contract/package-lock.json), and Python jsonschema (tests/contract/requirements.txt).
for dep in @asyncapi/specs ajv ajv-formats yaml quicktype; do
  if [[ ! -d tests/contract/node_modules/$dep ]]; then
    echo "tests/ci.sh: installing the contract tools (npm ci --prefix tests/contract)"
    npm ci --prefix tests/contract --no-audit --no-fund
    break
  fi
done
# playwright-core, which drives Debian's Chromium for the station screen's browser tests
# (tests/support/browser.rs; pinned in tests/browser/package-lock.json, no browser download).
if [[ ! -d tests/browser/node_modules/playwright-core ]]; then
  echo "tests/ci.sh: installing the browser driver (npm ci --prefix tests/browser)"
  npm ci --prefix tests/browser --no-audit --no-fund
fi
# Node-RED for the consumer recipe of docs/CONSUMING.md (tests/consumers.rs; pinned in
# tests/consumers/package-lock.json).
if [[ ! -d tests/consumers/node_modules/node-red ]]; then
  echo "tests/ci.sh: installing Node-RED (npm ci --prefix tests/consumers)"
  npm ci --prefix tests/consumers --no-audit --no-fund
fi
python=python3
if ! python3 -c 'import jsonschema, referencing, rfc3339_validator, yaml, dateutil' 2>/dev/null; then
  if [[ ! -x tests/contract/.venv/bin/python ]]; then
    echo "tests/ci.sh: installing the contract validator (pip, tests/contract/requirements.txt)"
    python3 -m venv tests/contract/.venv
    tests/contract/.venv/bin/pip install --quiet -r tests/contract/requirements.txt
  fi
  python=tests/contract/.venv/bin/python
fi

for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    rustup component add "$component"
  fi
done

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
# Every MQTT message the tests receive, and every command they publish, is captured
# (tests/support) and checked against docs/asyncapi.yaml afterwards by two independent
# validators (Python jsonschema, Node ajv), then parsed into the typed models a consumer
# generates from the document with quicktype and back.
capture_dir=$(mktemp -d)
STATIOND_CAPTURE_DIR=$capture_dir cargo test --workspace --locked
timed() { # label, command...: runs it and says how long it took
  local start=$EPOCHREALTIME
  "${@:2}"
  echo "($1: $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $start }") s)"
}
echo "== contract (docs/asyncapi.yaml): Python jsonschema"
timed validate.py "$python" tests/contract/validate.py docs/asyncapi.yaml "$capture_dir"
echo "== contract (docs/asyncapi.yaml): Node ajv"
timed validate.mjs node tests/contract/validate.mjs docs/asyncapi.yaml "$capture_dir"
echo "== contract: quicktype's Python models, every captured message through them and back"
models_dir=$(mktemp -d)
timed models.sh tests/contract/models.sh docs/asyncapi.yaml "$models_dir"
timed roundtrip.py "$python" tests/contract/roundtrip.py docs/asyncapi.yaml "$models_dir/stationd_models.py" "$capture_dir"
rm -rf "$capture_dir" "$models_dir"
# Telegraf is in no registry this installs from: its config is checked against the document.
"$python" tests/consumers/check_telegraf.py docs/consumers/telegraf.conf docs/asyncapi.yaml
echo "== demo config"
cargo run --locked --quiet -- check-config config/demo.toml
# The example as the package installs it: beside the http.token the package makes.
etc_dir=$(mktemp -d)
cp config/stationd.example.toml "$etc_dir/stationd.toml"
(umask 027 && echo 0123abcd > "$etc_dir/http.token")
cargo run --locked --quiet -- check-config "$etc_dir/stationd.toml"
rm -rf "$etc_dir"
echo "== systemd unit"
unit_dir=$(mktemp -d)
cp target/debug/stationd "$unit_dir/stationd"
sed "s#/usr/bin/stationd#$unit_dir/stationd#g" systemd/stationd.service > "$unit_dir/stationd.service"
systemd-analyze verify "$unit_dir/stationd.service"
systemd-analyze security --offline=true "$unit_dir/stationd.service" | tail -1
rm -rf "$unit_dir"
echo "== package"
bash tests/package.sh
