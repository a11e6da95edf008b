#!/usr/bin/env bash
# Builds a Python or JavaScript pier plugin into a component, only when its source or the
# WIT changed, with the tools `make setup` installs. From the repository root:
#   scripts/componentize.sh py SRC_DIR OUT.wasm [WORLD]   (componentize-py; SRC_DIR/app.py)
#   scripts/componentize.sh js SRC.js OUT.wasm [WORLD]    (componentize-js)
#   scripts/componentize.sh pysdk SRC_DIR OUT.wasm [WORLD] (a FastMCP-style SRC_DIR/server.py,
#                                                          with guest-sdk/python; WORLD
#                                                          defaults to pier-plugin-granted,
#                                                          for pier_sdk.http and .config)
# WORLD is `pier-plugin` (the default of py and js: no network, no configuration) or
# `pier-plugin-granted` (also wasi:http and wasi:config, used within the plugin's grants).
set -euo pipefail
lang=${1:-} src=${2:-} out=${3:-} world=${4:-}
[ -n "$world" ] || { [ "$lang" = pysdk ] && world=pier-plugin-granted || world=pier-plugin; }
if [[ ! $lang =~ ^(py|pysdk|js)$ ]] || [ ! -e "$src" ] || [ -z "$out" ] \
  || [[ ! $world =~ ^pier-plugin(-granted)?$ ]]; then
  echo "usage: $0 py|pysdk SRC_DIR OUT.wasm [WORLD] | js SRC.js OUT.wasm [WORLD] (SRC must exist)" >&2
  exit 2
fi
mkdir -p "$(dirname "$out")"
inputs=("$src" wit)
[ "$lang" = pysdk ] && inputs+=(guest-sdk/python/pier_sdk)
if [ -f "$out" ] && [ -z "$(find "${inputs[@]}" -newer "$out" -print -quit)" ]; then
  exit 0
fi
echo "componentize-$lang: $out"
case $lang in
  py)
    .venv/bin/componentize-py -d wit -w "$world" componentize -p "$src" app -o "$out.tmp" >/dev/null
    ;;
  pysdk)
    # The component's entry module imports the server file (which makes its FastMCP
    # server) and the SDK's export of it.
    shim=$(mktemp -d)
    trap 'rm -rf "$shim"' EXIT
    printf 'import server  # noqa: F401\nfrom pier_sdk._component import Plugin  # noqa: F401\n' > "$shim/app.py"
    .venv/bin/componentize-py -d wit -w "$world" componentize -p "$src" -p guest-sdk/python -p "$shim" app \
      -o "$out.tmp" >/dev/null
    ;;
  js)
    # The engine imports wasi:http for fetch() unless told not to: only a granted world
    # keeps it. No plugin serves incoming HTTP (fetch-event).
    disable=(fetch-event)
    [ "$world" = pier-plugin-granted ] || disable+=(http)
    tests/polyglot/js/node_modules/.bin/componentize-js "$src" --wit wit --world-name "$world" \
      --disable "${disable[@]}" -o "$out.tmp" >/dev/null
    ;;
esac
mv "$out.tmp" "$out"
