# Verdict: a policy decision point for Clerk session tokens.
# `make run` needs only Go; `make test` also runs promtool, which
# .ci/install-tools installs from Debian's packages when it is missing.

GO      ?= go
BIN     ?= bin/verdict
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.buildVersion=$(VERSION) -X main.buildCommit=$(COMMIT)

.PHONY: run test lint build fuzz cover check clean

## run: start `verdict dev` (ephemeral key, token minter, ./policies watched)
run:
	$(GO) run ./cmd/verdict dev

## test: the whole suite, Rego policies included, with the race detector
## (the load harness in testdata/bench is a module of its own)
test:
	.ci/install-tools
	$(GO) test -race -shuffle=on -count=1 ./...
	cd testdata/bench && $(GO) test -race -shuffle=on -count=1 ./...

## lint: formatting and vet (gofmt covers testdata/bench too)
lint:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt needs to run on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd testdata/bench && $(GO) vet ./...

## check: what CI runs
check: lint test

## build: a static binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/verdict

## fuzz: run each fuzz target for FUZZTIME (default 30s)
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./internal/authn -run '^$$' -fuzz '^FuzzNormalize$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/authn -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/authn -run '^$$' -fuzz '^FuzzDecodeMasks$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/authn -run '^$$' -fuzz '^FuzzParseCompact$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/authn -run '^$$' -fuzz '^FuzzEachMember$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/httpapi -run '^$$' -fuzz '^FuzzDecodeCheck$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/policy -run '^$$' -fuzz '^FuzzHasClaims$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/policy -run '^$$' -fuzz '^FuzzDecideClaims$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/httpapi -run '^$$' -fuzz '^FuzzClaimsOverHTTP$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/policy -run '^$$' -fuzz '^FuzzRuleCache$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/policy -run '^$$' -fuzz '^FuzzCarriedDecisions$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/jsonpointer -run '^$$' -fuzz '^FuzzRemove$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/decisionlog -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/callers -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/bundle -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)

## cover: test with a coverage profile
cover:
	$(GO) test -count=1 -coverprofile=cover.out ./...
	$(GO) tool cover -func=cover.out | tail -1

clean:
	rm -rf bin cover.out

## load: Verdict against a plain OPA server running the same rules, side by side
## (builds bin/verdict, and bin/opa from the load harness's module, where OPA's
## command is a tool at the version go.mod has; paths in LOAD_FLAGS are
## relative to testdata/bench)
LOAD_ROUNDS   ?= 3
LOAD_DURATION ?= 10s
LOAD_FLAGS    ?=
.PHONY: load
load:
	$(GO) build -o bin/verdict ./cmd/verdict
	cd testdata/bench && $(GO) build -o ../../bin/opa github.com/open-policy-agent/opa
	cd testdata/bench && $(GO) run . -rounds $(LOAD_ROUNDS) -duration $(LOAD_DURATION) $(LOAD_FLAGS)
