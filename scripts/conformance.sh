#!/usr/bin/env bash
# Runs the official MCP conformance suite (tests/conformance: a pinned
# @modelcontextprotocol/conformance and the Node.js 22 it needs) against pier serving the
# `conformance` fixture plugin over streamable HTTP, with MCP 2026-07-28 enabled: the
# scenarios that revision 2025-11-25 requires, then those 2026-07-28 requires. Every
# scenario must pass, but those listed with a reason in
# tests/conformance/expected-failures[-REVISION].yml.
#   scripts/conformance.sh            (after `make plugins setup-conformance` and a build)
set -euo pipefail
cd "$(dirname "$0")/.."
pier=${PIER:-target/debug/pier}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

mkdir "$work/plugins"
cp target/fixtures/conformance.wasm target/fixtures/conformance.toml "$work/plugins/"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PIER_SERVER_MAX_PROTOCOL_VERSION=2026-07-28 \
"$pier" serve --plugins "$work/plugins" --data-dir target/test-data \
  --listen "127.0.0.1:$port" --log-level warn 2>"$work/pier.log" &
pid=$!
for _ in $(seq 600); do
  curl -fs "http://127.0.0.1:$port/ready" >/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/pier.log"; echo "conformance: pier did not start" >&2; exit 1; }
  sleep 0.1
done

cd tests/conformance
status=0
for revision in 2025-11-25 2026-07-28; do
  expected=expected-failures.yml
  [ "$revision" = 2025-11-25 ] || expected=expected-failures-$revision.yml
  PATH="$PWD/node_modules/.bin:$PATH" conformance server \
    --url "http://127.0.0.1:$port/mcp" --requirements "$revision" --expected-failures "$expected" \
    >"$work/out-$revision.txt" 2>&1 || status=$?
  cat "$work/out-$revision.txt"
  grep -E '^Total: ' "$work/out-$revision.txt" | sed "s/^/conformance $revision: /"
done
if [ "$status" -ne 0 ]; then
  echo "--- pier's log" && cat "$work/pier.log"
fi
exit "$status"
