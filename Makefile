# Portcullis — the commands a developer needs. `make help` lists them.
GO      ?= go
BIN     := bin/portcullis
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: help build run test test-short lint fuzz bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

build: ## build bin/portcullis
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/portcullis

run: build ## run the gateway with examples/quickstart and the built-in demo upstream
	$(BIN) run --config examples/quickstart --demo-upstream 127.0.0.1:9080

test: ## run every test: vet, unit, fuzz seeds, end-to-end with the real binary (race detector on), the whole CRS suite
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	@# Under -race the CRS regression suite runs a sample, and resident memory
	@# is not measured; here they run without it.
	$(GO) test -count=1 -run TestCRSRegressionSuite -v ./internal/policy/waf/
	$(GO) test -count=1 -run TestKeysResidentMemory -v ./test/

test-short: ## unit tests only, no end-to-end
	$(GO) test -short -count=1 ./...

lint: ## gofmt, go vet and staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: the files above need formatting'; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

FUZZTIME ?= 30s
fuzz: ## run every fuzz target for FUZZTIME each (new finds land in the Go cache; copy keepers to testdata/)
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench: build ## wrk side by side: direct backend, nginx proxy, Portcullis (appends to bench/RESULTS.md)
	bench/run.sh

clean: ## remove build output
	rm -rf bin bench/out
