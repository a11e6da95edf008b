#!/usr/bin/env bash
# Builds the polyglot contract fixtures: a Python and a JavaScript plugin.
# Usage: tests/polyglot/build.sh OUT_DIR   (from the repository root; `make polyglot`)
# Each is rebuilt only when its source or the WIT changed.
set -euo pipefail
out=$1
here=tests/polyglot
newer() { [ ! -f "$1" ] || [ -n "$(find "${@:2}" -newer "$1" -print -quit)" ]; }

if newer "$out/py-shout.wasm" "$here/py" wit; then
  echo "componentize-py: $out/py-shout.wasm"
  .venv/bin/componentize-py -d wit -w pier-plugin componentize -p "$here/py" app -o "$out/py-shout.wasm.tmp" >/dev/null
  mv "$out/py-shout.wasm.tmp" "$out/py-shout.wasm"
fi
if newer "$out/js-reverse.wasm" "$here/js/app.js" wit; then
  echo "componentize-js: $out/js-reverse.wasm"
  # The engine imports wasi:http by default; this plugin needs no network.
  "$here/js/node_modules/.bin/componentize-js" "$here/js/app.js" --wit wit --world-name pier-plugin \
    --disable http fetch-event -o "$out/js-reverse.wasm.tmp" >/dev/null
  mv "$out/js-reverse.wasm.tmp" "$out/js-reverse.wasm"
fi
