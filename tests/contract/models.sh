#!/usr/bin/env bash
# Typed Python models a cloud team would generate from docs/asyncapi.yaml: quicktype (pinned
# in package-lock.json) on the document's JSON Schemas (models.mjs gathers them), one class
# per message payload with `<name>_from_dict` / `<name>_to_dict`. docs/CONSUMING.md shows
# the same commands.
# Usage: tests/contract/models.sh ASYNCAPI_YAML OUT_DIR   → OUT_DIR/stationd_models.py
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
doc=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
mkdir -p "$2"
cd "$2"
mapfile -t sources < <(node "$here/models.mjs" "$doc" .)
"$here/node_modules/.bin/quicktype" --src-lang schema --lang python --python-version 3.7 --no-uuids \
  -o stationd_models.py "${sources[@]}"
echo "models: ${#sources[@]} payload types generated from $1 into $2/stationd_models.py"
