#!/usr/bin/env bash
# Builds a Python or JavaScript pier plugin into a component, only when its source or the
# WIT changed, with the tools `make setup` installs. From the repository root:
#   scripts/componentize.sh py SRC_DIR OUT.wasm    (componentize-py; SRC_DIR/app.py)
#   scripts/componentize.sh js SRC.js OUT.wasm     (componentize-js)
set -euo pipefail
lang=${1:-} src=${2:-} out=${3:-}
if [[ ! $lang =~ ^(py|js)$ ]] || [ ! -e "$src" ] || [ -z "$out" ]; then
  echo "usage: $0 py SRC_DIR OUT.wasm | js SRC.js OUT.wasm (SRC must exist)" >&2
  exit 2
fi
mkdir -p "$(dirname "$out")"
if [ -f "$out" ] && [ -z "$(find "$src" wit -newer "$out" -print -quit)" ]; then
  exit 0
fi
echo "componentize-$lang: $out"
case $lang in
  py)
    .venv/bin/componentize-py -d wit -w pier-plugin componentize -p "$src" app -o "$out.tmp" >/dev/null
    ;;
  js)
    # The engine imports wasi:http by default; pier plugins get no network.
    tests/polyglot/js/node_modules/.bin/componentize-js "$src" --wit wit --world-name pier-plugin \
      --disable http fetch-event -o "$out.tmp" >/dev/null
    ;;
esac
mv "$out.tmp" "$out"
