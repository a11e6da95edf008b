# pier — one entry point for people and CI. Every target installs what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

WASM_TARGET := wasm32-wasip2
WASM_OUT    := target/$(WASM_TARGET)/release
FIXTURES    := target/fixtures
VENV        := .venv
PY          := $(VENV)/bin/python
JS_DIR      := tests/polyglot/js
JS_SDK      := guest-sdk/js
CONF_DIR    := tests/conformance

EXAMPLES := hello calc assistant notes fetch

.PHONY: help setup setup-deny setup-docs docs docs-check docs-reference setup-fuzz setup-rust setup-py setup-js setup-js-sdk setup-conformance setup-redis setup-haproxy setup-registry setup-chromium plugins fixtures screenshots polyglot run test conformance bench soak fuzz fmt lint clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s "$$(printf '\t')"

setup: setup-rust setup-py setup-js setup-js-sdk setup-conformance setup-redis setup-haproxy setup-registry setup-chromium ## Install every tool the build and tests need (idempotent)

setup-deny:
	@command -v cargo-deny >/dev/null || cargo install --locked cargo-deny

setup-rust:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

# The storage tests start their own redis-server on a free loopback port.
setup-redis:
	@command -v redis-server >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server; }

# The fleet test balances three piers with haproxy (and checks deploy/haproxy.cfg).
setup-haproxy:
	@command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy; }

# The OCI tests push to and pull from a real registry (the CNCF distribution registry),
# one with an htpasswd login (htpasswd from apache2-utils), and check signatures made by
# OpenSSL.
setup-registry:
	@{ command -v docker-registry && command -v htpasswd && command -v openssl; } >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry apache2-utils openssl; }

# The console's test drives Debian's Chromium headless (through Playwright, from
# tests/requirements.txt); the fonts make its screenshots readable.
setup-chromium:
	@{ command -v chromium && [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; } >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; }

setup-py: $(VENV)/.installed
setup-js: $(JS_DIR)/node_modules/.installed
setup-js-sdk: $(JS_SDK)/node_modules/.installed
setup-conformance: $(CONF_DIR)/node_modules/.installed

# Re-run an install only when its lock file changed (or it never completed).
$(VENV)/.installed: tests/requirements.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r $<
	@touch $@

$(JS_DIR)/node_modules/.installed: $(JS_DIR)/package-lock.json
	cd $(JS_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The JS SDK's own tests compare it with the official MCP TypeScript SDK.
$(JS_SDK)/node_modules/.installed: $(JS_SDK)/package-lock.json
	cd $(JS_SDK) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CONF_DIR)/node_modules/.installed: $(CONF_DIR)/package-lock.json
	cd $(CONF_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

plugins: setup-rust ## Build the example plugins into plugins.d/, the example middleware into middleware.d/, the test fixtures into target/fixtures/
	cargo build --release --target $(WASM_TARGET) -p hello -p calc -p assistant -p notes -p fetch -p conformance -p hostile -p wrong-world -p hello-v2 -p probe -p outbound -p redact -p mw-probe
	@mkdir -p plugins.d middleware.d $(FIXTURES)
	@for p in $(EXAMPLES); do cp -f $(WASM_OUT)/$$p.wasm plugins.d/$$p.wasm; done
	@cp -f plugins/fetch/fetch.toml plugins.d/fetch.toml
	@cp -f $(WASM_OUT)/redact.wasm middleware.d/redact.wasm
	@cp -f $(WASM_OUT)/hostile.wasm $(WASM_OUT)/wrong_world.wasm $(WASM_OUT)/hello_v2.wasm $(WASM_OUT)/conformance.wasm $(WASM_OUT)/probe.wasm $(WASM_OUT)/outbound.wasm $(WASM_OUT)/mw_probe.wasm $(FIXTURES)/
	@cp -f plugins/conformance/conformance.toml $(FIXTURES)/
	@cargo build --quiet --release --target $(WASM_TARGET) -p mw-probe --features storage && \
	  cp -f $(WASM_OUT)/mw_probe.wasm $(FIXTURES)/mw_probe_storage.wasm
	@for f in bad-name bad-schema duplicate bad-annotations; do \
	  cargo build --quiet --release --target $(WASM_TARGET) -p bad-manifest --features $$f && \
	  cp -f $(WASM_OUT)/bad_manifest.wasm $(FIXTURES)/$$f.wasm || exit 1; \
	done

polyglot: setup-py setup-js ## Build the Python and JavaScript contract fixtures (and servers written with the Python and JS SDKs) into target/fixtures/
	@scripts/componentize.sh py tests/polyglot/py $(FIXTURES)/py-shout.wasm pier-plugin-granted
	@scripts/componentize.sh js tests/polyglot/js/app.js $(FIXTURES)/js-reverse.wasm pier-plugin-granted
	@scripts/componentize.sh pysdk tests/polyglot/fastmcp $(FIXTURES)/py-fastmcp.wasm
	@scripts/componentize.sh jssdk tests/polyglot/ts/server.ts $(FIXTURES)/js-sdk.wasm

run: plugins ## Serve the example plugins over HTTP on 127.0.0.1:8000/mcp
	@cargo build --quiet -p pier
	@echo "Connect an MCP client to http://127.0.0.1:8000/mcp; the console is at http://127.0.0.1:8000/console"
	@echo "(or let it start: $(CURDIR)/target/debug/pier serve --transport stdio --plugins $(CURDIR)/plugins.d)"
	target/debug/pier serve --plugins plugins.d --console

test: setup setup-docs plugins polyglot ## Run every test (unit, integration, real clients, the load generator, the conformance suite, the book's links)
	cargo test --no-fail-fast -p pier -p pier-sdk -p pier-sdk-macros -p pier-bench -p redact -p fetch -p pier-fuzz
	cargo package --quiet --allow-dirty -p pier-uri-template -p pier-sdk-macros -p pier-sdk
	cd guest-sdk/python && ../../$(PY) -m pytest -q -p no:cacheprovider
	cd $(JS_SDK) && node --test test/
	scripts/conformance.sh
	$(MAKE) --no-print-directory docs-check

conformance: setup-conformance plugins ## Run the official MCP conformance suite against pier over HTTP
	cargo build --quiet -p pier
	scripts/conformance.sh

screenshots: setup-py setup-chromium plugins ## Take the console's screenshots (docs/src/images/console-*.png) in headless Chromium
	cargo build --quiet -p pier
	scripts/screenshots.sh

bench: setup ## Measure pier against FastMCP and native rmcp; writes bench/results/latest.md and .json, a fleet's cost in fleet.md, tracing's in tracing.md
	cargo build --release --target $(WASM_TARGET) -p bench-plugin
	@scripts/componentize.sh py bench/plugins/py target/bench-plugins/bench-py.wasm
	@scripts/componentize.sh js bench/plugins/js/app.js target/bench-plugins/bench-js.wasm
	cargo build --profile perf -p pier -p native-peer -p pier-bench
	cargo bench --profile perf -p pier --bench call --bench middleware --bench auth
	target/perf/pier-bench --out bench/results
	target/perf/pier-bench --fleet --out bench/results
	target/perf/pier-bench --tracing --out bench/results

SOAK_MINUTES ?= 10

soak: setup plugins ## Soak pier under mixed load for SOAK_MINUTES (10) while plugins swap; writes bench/results/soak.md
	cargo build --profile perf -p pier -p pier-bench
	SOAK_MINUTES=$(SOAK_MINUTES) PIER=target/perf/pier target/perf/soak

# Fuzzing needs the nightly toolchain (libFuzzer's instrumentation); the build and the
# tests stay on stable. The targets build optimised without the release profile's
# whole-program LTO (nine binaries would each take minutes to link). Each target runs FUZZ_SECONDS; what it finds new is kept in
# fuzz/corpus/TARGET (commit it), a crash in fuzz/artifacts/TARGET (make it a
# regression: move it to fuzz/regressions/TARGET, which `make test` replays, and fix).
FUZZ_SECONDS   ?= 60
FUZZ_TARGETS   ?= uri_template jwt jwks config addresses storage_keys guest_values http jsonrpc
FUZZ_SANITIZER ?= none

setup-fuzz:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz

fuzz: setup-fuzz plugins ## Fuzz every boundary for FUZZ_SECONDS each (nightly toolchain); `make test` replays the corpora
	@for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
	  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
	  cargo +nightly fuzz run --fuzz-dir fuzz --features libfuzzer --sanitizer $(FUZZ_SANITIZER) $$t \
	    fuzz/corpus/$$t fuzz/seeds/$$t -- -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 || exit 1; \
	done

# The book: docs/ (mdBook). Its reference pages are generated from the code (`pier docs`);
# `make test` fails when a committed one differs.
MDBOOK_VERSION ?= 0.5.4

LYCHEE_VERSION ?= 0.24.2

setup-docs:
	@mdbook --version 2>/dev/null | grep -q "v$(MDBOOK_VERSION)" || cargo install --locked mdbook --version $(MDBOOK_VERSION)
	@lychee --version 2>/dev/null | grep -q " $(LYCHEE_VERSION)" || cargo install --locked lychee --version $(LYCHEE_VERSION)

# The reference pages are committed (and the tests fail when they drift): building the
# book does not regenerate them, so it needs no build of pier (`make docs-reference` does).
docs: setup-docs ## Build the book (docs/) into target/book, installing mdBook on first use
	mdbook build docs
	@echo "The book: $(CURDIR)/target/book/index.html"

docs-check: docs ## Build the book and check every link and anchor in it (offline)
	lychee --offline --include-fragments --no-progress --root-dir $(CURDIR)/target/book target/book

docs-reference: ## Write the book's reference pages (docs/src/reference/) from the code
	cargo run --quiet -p pier -- docs --write docs/src/reference

fmt: ## Format the code
	cargo fmt --all

lint: setup-deny ## Check formatting, clippy (warnings as errors) and the dependency tree (cargo deny)
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets -p pier-bench -p native-peer -p pier-fuzz -- -D warnings
	cargo clippy --release --target $(WASM_TARGET) -p hello -p calc -p assistant -p notes -p fetch -p redact -p conformance -p hostile -p wrong-world -p hello-v2 -p probe -p outbound -p mw-probe -p bad-manifest -p bench-plugin -- -D warnings
	cargo deny check licenses bans sources
	@# The advisory database is fetched from the network; where it cannot be, say so.
	@if cargo deny fetch db >/dev/null 2>&1; then cargo deny check --disable-fetch advisories; \
	  else echo "cargo deny: advisories NOT checked: the advisory database cannot be fetched from this machine"; fi

clean: ## Remove build outputs (not the installed tools)
	cargo clean
	rm -rf plugins.d middleware.d .pier
