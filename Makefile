# The everyday commands. `make test` is what CI runs (after `make lint`).
CARGO ?= cargo

.PHONY: build test lint fmt

build:
	$(CARGO) build --workspace --release

test:
	$(CARGO) test --workspace --all-targets

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
