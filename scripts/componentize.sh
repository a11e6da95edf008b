#!/usr/bin/env bash
# Builds a Python or JavaScript pier plugin into a component, only when its source or the
# WIT changed, with the tools `make setup` installs. From the repository root:
#   scripts/componentize.sh py SRC_DIR OUT.wasm [WORLD]   (componentize-py; SRC_DIR/app.py)
#   scripts/componentize.sh js SRC.js OUT.wasm [WORLD]    (componentize-js)
#   scripts/componentize.sh pysdk SRC_DIR OUT.wasm [WORLD] (a FastMCP-style SRC_DIR/server.py,
#                                                          with guest-sdk/python; WORLD
#                                                          defaults to pier-plugin-granted,
#                                                          for pier_sdk.http and .config)
#   scripts/componentize.sh jssdk SRC.ts|js OUT.wasm       (a module making an McpServer with
#                                                          guest-sdk/js, bundled by esbuild;
#                                                          world pier-plugin-granted)
# WORLD is `pier-plugin` (the default of py and js: no network, no configuration) or
# `pier-plugin-granted` (also wasi:http and wasi:config, used within the plugin's grants).
set -euo pipefail
lang=${1:-} src=${2:-} out=${3:-} world=${4:-}
[ -n "$world" ] || { [[ $lang =~ sdk$ ]] && world=pier-plugin-granted || world=pier-plugin; }
if [[ ! $lang =~ ^(py|pysdk|js|jssdk)$ ]] || [ ! -e "$src" ] || [ -z "$out" ] \
  || [[ ! $world =~ ^pier-plugin(-granted)?$ ]]; then
  echo "usage: $0 py|pysdk SRC_DIR OUT.wasm [WORLD] | js SRC.js OUT.wasm [WORLD] (SRC must exist)" >&2
  exit 2
fi
mkdir -p "$(dirname "$out")"
inputs=("$src" wit)
[ "$lang" = pysdk ] && inputs+=(guest-sdk/python/pier_sdk)
[ "$lang" = jssdk ] && inputs+=(guest-sdk/js/src)
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
  jssdk)
    # One ES module: the SDK's component glue first, then the server module; pier-sdk is
    # this repository's (copied: its own node_modules must not lend it a second zod), zod
    # the JS toolchain's.
    shim=$(mktemp -d)
    trap 'rm -rf "$shim"' EXIT
    mkdir -p "$shim/node_modules/pier-sdk"
    cp -r guest-sdk/js/package.json guest-sdk/js/src "$shim/node_modules/pier-sdk/"
    printf 'export { plugin } from "pier-sdk/component";\nimport "%s";\n' "$PWD/$src" > "$shim/entry.js"
    NODE_PATH="$shim/node_modules:$PWD/tests/polyglot/js/node_modules" tests/polyglot/js/node_modules/.bin/esbuild \
      "$shim/entry.js" --bundle --format=esm --platform=neutral --main-fields=module,main \
      --external:'pier:*' --external:'wasi:*' --log-level=warning --outfile="$shim/bundle.js"
    tests/polyglot/js/node_modules/.bin/componentize-js "$shim/bundle.js" --wit wit --world-name "$world" \
      --disable fetch-event -o "$out.tmp" >/dev/null
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
