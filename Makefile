# confrun: see README.md. Every target runs as root on a fresh Debian machine
# and installs what it needs (Go modules, Debian packages, the lab build).
SHELL       := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO          ?= go
PKG         := github.com/confrun/confrun
COMMIT      ?= $(shell git rev-parse --short HEAD 2>/dev/null)
VERSION     ?= $(shell git describe --tags --dirty 2>/dev/null || echo v0.0.0-$(or $(COMMIT),dev))
LDFLAGS     := -s -w -X $(PKG)/internal/buildinfo.version=$(VERSION) -X $(PKG)/internal/buildinfo.commit=$(COMMIT)
BIN         := bin/confrun
CROSS_ARCHES := amd64 arm64 mips64le loong64 riscv64 ppc64le s390x
# How long each fuzz target runs under `make fuzz` (go test -fuzztime).
FUZZTIME    ?= 30s
# The architecture `make demo` runs for (amd64 or mips64el).
ARCH        ?= amd64

export GOFLAGS := -buildvcs=false

.PHONY: all build test unit e2e demo bench fuzz cross lint generate check-go clean help

all: build

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort | column -t -s $$'\t'

check-go:
	@command -v $(GO) >/dev/null || { echo "Go is not installed: install Go 1.25 or newer (https://go.dev/doc/install) and retry" >&2; exit 1; }

build: check-go ## build bin/confrun (static, pure Go)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/confrun

test: lint unit e2e ## all tests: lint, unit+integration (race), then lab-backed end-to-end

unit: check-go ## unit and in-process integration tests with the race detector
	$(GO) test -race -count=1 ./...

e2e: build lab-build ## end-to-end tests against the lab (brought up when needed, down afterwards)
	hack/e2e.sh

demo: build ## the whole pipeline against the local lab (ARCH=amd64|mips64el)
	hack/demo.sh $(ARCH)

bench: check-go ## benchmarks and comparison scripts; prints ratios
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...
	@for s in hack/bench/*.sh; do [ -e "$$s" ] || continue; echo "== $$s"; bash "$$s"; done

fuzz: check-go ## run every fuzz target for FUZZTIME each
	hack/fuzz.sh $(FUZZTIME)

cross: check-go ## static binaries for every supported architecture into bin/
	@for a in $(CROSS_ARCHES); do \
		echo "linux/$$a"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$a $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/confrun-linux-$$a ./cmd/confrun; \
	done

lint: check-go ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

generate: check-go ## regenerate embedded upstream data from the k8s.io/kubernetes module
	$(GO) generate ./...

clean: ## remove build outputs
	rm -rf bin

-include lab/lab.mk
