#!/usr/bin/env bash
# Builds the benchmark's Python and JavaScript plugins (the Rust one is a cargo package).
# Usage: bench/plugins/build.sh OUT_DIR   (from the repository root; `make bench`)
# Uses the tools `make setup` installs; each plugin is rebuilt only when its source or the WIT changed.
set -euo pipefail
out=$1
here=bench/plugins
mkdir -p "$out"
newer() { [ ! -f "$1" ] || [ -n "$(find "${@:2}" -newer "$1" -print -quit)" ]; }

if newer "$out/bench-py.wasm" "$here/py" wit; then
  echo "componentize-py: $out/bench-py.wasm"
  .venv/bin/componentize-py -d wit -w pier-plugin componentize -p "$here/py" app -o "$out/bench-py.wasm.tmp" >/dev/null
  mv "$out/bench-py.wasm.tmp" "$out/bench-py.wasm"
fi
if newer "$out/bench-js.wasm" "$here/js/app.js" wit; then
  echo "componentize-js: $out/bench-js.wasm"
  tests/polyglot/js/node_modules/.bin/componentize-js "$here/js/app.js" --wit wit --world-name pier-plugin \
    --disable http fetch-event -o "$out/bench-js.wasm.tmp" >/dev/null
  mv "$out/bench-js.wasm.tmp" "$out/bench-js.wasm"
fi
