# Vitrine: the README's two commands are `make demo` and `make test`; both bootstrap first.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export WRANGLER_SEND_METRICS := false

.PHONY: demo test bootstrap test-native test-wasm-core bench check-demo

bootstrap:
	@.ci/bootstrap

## Runs the demo: a scripted shopper journey through the demo config, explained step by step.
demo: bootstrap
	cargo build --quiet --release --features cli
	./target/release/vitrine check src/config/demo.json
	./target/release/vitrine decide --config src/config/demo.json --visitor-id 07070707070707070707070707070707 \
	  / /c/hiking /p/hiking-ridgeline-mid /p/hiking-summit-pack /

## Runs every test suite.
test: bootstrap test-native test-wasm-core

test-native:
	cargo test --features cli --all-targets

# The core builds for wasm32 with no platform crate (STYLE invariant 1).
test-wasm-core:
	cargo build --quiet --lib --target wasm32-unknown-unknown

bench:
	cargo bench --bench decide

check-demo:
	cargo run --quiet --features cli -- check src/config/demo.json
