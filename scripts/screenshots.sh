#!/usr/bin/env bash
# `make screenshots`: the console's pages as PNGs under docs/src/images/, taken in the
# system's headless Chromium from a `pier dev` serving the example plugins (a fresh
# folder and data dir), with a little traffic for the charts.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/src/images
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/plugins.d" "$out"
cp plugins.d/*.wasm plugins.d/*.toml "$work/plugins.d/"
pier=$PWD/target/debug/pier
# Run from the folder, as a user would: sources show as plugins.d/NAME.wasm.
(cd "$work" && exec "$pier" dev --listen 127.0.0.1:0 --storage memory) 2> "$work/log" &
pid=$!
for _ in $(seq 1 300); do
  url=$(grep -o 'http://127.0.0.1:[0-9]*/mcp' "$work/log" | head -1 || true)
  [ -n "$url" ] && curl -sf "${url%/mcp}/ready" > /dev/null && break
  sleep 0.1
done
[ -n "${url:-}" ] || { cat "$work/log"; echo "pier did not start" >&2; exit 1; }
.venv/bin/python tests/clients/console.py "${url%/mcp}" "$work/plugins.d" \
  target/fixtures/hello_v2.wasm --screenshots "$out" --traffic 45 > /dev/null
ls -1 "$out"/console-*.png
