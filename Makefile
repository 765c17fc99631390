# slurm-installer — build, demo and tests. Run `make help`.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# PUBKEY: a minisign public key (RW...) to bake in as the default --pubkey, e.g.
#   make build PUBKEY=$$(tail -1 minisign.pub)
PUBKEY ?=
LDFLAGS := -s -w -X main.version=$(VERSION)$(if $(PUBKEY), -X slurm-installer/internal/app.DefaultPubKey=$(PUBKEY))
GOBUILD := CGO_ENABLED=0 $(GO) build -trimpath -tags urfave_cli_no_docs -ldflags "$(LDFLAGS)"
BUILD ?= $(CURDIR)/build

.PHONY: help build build-host test unit lint e2e e2e-docker demo fuzz fuzz-smoke bench bench-smoke bench-fleet torture clean audit-exports

help:
	@echo "make demo   build, serve a real SLURM bundle on loopback, install it into a glibc and an Alpine-like root, run sinfo in each"
	@echo "make test   everything CI runs: lint, unit and CLI script tests, the real end-to-end suite"
	@echo "make build  static binaries for linux/amd64 and linux/arm64 in bin/"
	@echo "make e2e    only the end-to-end suite (nginx, real Debian SLURM client, chroot roots)"
	@echo "make e2e-docker  RUN slurm-installer in real Docker builds (private offline dockerd; installs docker.io if missing)"
	@echo "make torture  the kill matrix: SIGKILL installs/upgrades at TRIALS (default 60) moments, check the root after each"
	@echo "make fuzz   run each fuzz target for FUZZTIME (default 60s); make fuzz-smoke: 3s each (part of make test)"
	@echo "make bench  slurm-installer against the wget/tar recipe, and RUN against COPY --from image builds (~7 min): docs/BENCHMARKS.md, docs/bench-medians.svg"
	@echo "make bench-fleet  20 and 50 concurrent installs from nginx, a registry, behind a trickling and a dead mirror (~10 min)"

# The runtime build (-tags runtime): connect, status and verify only, for an image that runs
# them after it is built (README, "In a Dockerfile"); ~2.7 MB smaller.
build: bin/slurm-installer-linux-amd64 bin/slurm-installer-linux-arm64 \
	bin/slurm-installer-runtime-linux-amd64 bin/slurm-installer-runtime-linux-arm64
	@ln -sf slurm-installer-linux-$(shell $(GO) env GOARCH) bin/slurm-installer
	@ls -l bin/

bin/slurm-installer-linux-%: FORCE
	@mkdir -p bin
	GOOS=linux GOARCH=$* $(GOBUILD) -o $@ .

bin/slurm-installer-runtime-linux-%: FORCE
	@mkdir -p bin
	GOOS=linux GOARCH=$* CGO_ENABLED=0 $(GO) build -trimpath -tags 'urfave_cli_no_docs runtime' -ldflags "$(LDFLAGS)" -o $@ .

FORCE:

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags runtime ./internal/app/
	$(GO) vet -tags torture ./torture/
	$(GO) vet -tags 'e2e docker' ./e2e/
	$(GO) vet -tags e2e ./oci/
	$(GO) tool -modfile=tools/go.mod staticcheck ./...

# scripts/gotest.sh: go test -v with the log in build/test-logs/; under CI=true a skip fails.
unit:
	@if [ "$$(id -u)" = 0 ]; then bash scripts/deps.sh; fi # the scripts' minisign, patchelf (CI fails without them)
	bash scripts/gotest.sh -count=1 ./...
	bash scripts/gotest.sh -count=1 -tags runtime -run '^TestRuntimeBuild$$' ./internal/app/

test: lint unit fuzz-smoke e2e e2e-docker
	$(MAKE) torture TRIALS=15

# The kill matrix (issues 6, 12, 23): SIGKILL, SIGINT and SIGTERM installs and upgrades at spread-out
# moments and check the root after each; `make test` runs it with 15 trials.
TRIALS ?= 60
torture:
	TRIALS=$(TRIALS) VERBOSE=1 bash scripts/gotest.sh -count=1 -tags torture -timeout 60m -run 'TestKillMatrix|TestKillFirstInstallDuringVerification' ./torture/

# scripts/syft.sh: the Syft image scanner (issue 27: a scanner must see an install's SBOM), built
# once from its Go module and cached by version in the machine's cache (~/.cache/slurm-installer/tools).
e2e: build
	bash scripts/deps.sh
	SYFT=$$(bash scripts/syft.sh) && \
	E2E_BUILD=$(BUILD)/e2e SLURM_INSTALLER=$(CURDIR)/bin/slurm-installer SYFT=$$SYFT VERBOSE=1 bash scripts/gotest.sh -count=1 -tags e2e -timeout 20m ./e2e/ ./oci/

# Real Docker builds (issue 16): a private dockerd that cannot reach anything, base images from
# docker import of the e2e roots, Dockerfile.example's stages and both builders; part of `make test`.
e2e-docker: build
	bash scripts/deps.sh
	E2E_BUILD=$(BUILD)/e2e SLURM_INSTALLER=$(CURDIR)/bin/slurm-installer bash scripts/e2e-docker.sh

# The demo needs only this host's binary and the few packages it uses (scripts/deps.sh demo).
demo: build-host
	bash scripts/deps.sh demo
	bash scripts/demo.sh

build-host: bin/slurm-installer-linux-$(shell $(GO) env GOARCH)
	@ln -sf slurm-installer-linux-$(shell $(GO) env GOARCH) bin/slurm-installer

# Benchmarks against the shell recipe (issue 8); not part of `make test`. bench-smoke: one run
# each, a 20 MB large bundle, output under build/bench/smoke (~1 min).
bench: build
	bash scripts/deps.sh
	bash scripts/build-bundle.sh
	bash scripts/bench.sh

bench-smoke: build
	bash scripts/deps.sh
	bash scripts/build-bundle.sh
	BENCH_SMOKE=1 bash scripts/bench.sh

# A fleet of concurrent installs (issue 17); not part of `make test`. FLEET_N, FLEET_SCENARIOS,
# FLEET_DEADLINE, FLEET_TRICKLE_BPS tune it; results in build/bench/fleet/.
bench-fleet: build
	bash scripts/deps.sh
	bash scripts/build-bundle.sh
	bash scripts/bench-fleet.sh

# Fuzz targets (package:target); seeds in <package>/testdata/fuzz/<target>/.
FUZZ_TARGETS := install:FuzzCheckEntry fetch:FuzzParseIndex internal/bundle:FuzzParseSHA256Sidecar \
	internal/bundle:FuzzParseSHA256SUMS fetch:FuzzParseAutoindex
FUZZTIME ?= 60s

# Each target for FUZZTIME (go test -fuzz runs one target at a time). A crasher
# is written to <package>/testdata/fuzz/<target>/ and fails the run.
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  echo "fuzz $$t for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) ./$${t%%:*}/; \
	done

# The same, ~3 s each: what `make test` runs. A count, not a duration: with a
# duration, Go 1.26's fuzz coordinator can report a spurious "context deadline
# exceeded" failure at the deadline (golang/go#75804, fixed in Go 1.27).
fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=30000x

clean:
	rm -rf bin build

# Exported identifiers no other package names (issue 15): candidates to unexport.
audit-exports:
	cd tools && $(GO) run ./exportaudit ..
