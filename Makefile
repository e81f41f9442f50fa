# callrec: the two commands a newcomer needs are `make run` and `make test`.
GO ?= go
PKGS := ./...

.PHONY: run demo test test-short test-cluster generate lint bench bench-convert bench-engine prompts build

# The build says what it compiles (the first one builds SQLite and takes a minute or two).
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

run: bin/callrec-progress ## start the product on its defaults (./data, http://127.0.0.1:8080, SIP 127.0.0.1:5060)
	bin/callrec serve

demo: bin/callrec-progress ## start with the product document's worked example seeded
	bin/callrec serve --demo

call: bin/callrec-progress ## a test call through the running engine (built-in caller and callee): a first recording
	bin/callrec testcall

.PHONY: bin/callrec-progress call
bin/callrec-progress:
	@echo "== building bin/callrec (each line is a package being compiled; the first build takes a minute or two)"
	@CGO_ENABLED=1 $(GO) build -v -o bin/callrec ./cmd/callrec 2>&1 | sed -u 's/^/   /'
	@echo "== built bin/callrec"

build:
	CGO_ENABLED=1 $(GO) build -o bin/callrec ./cmd/callrec

# The packages whose tests open a store (internal/storetest) run a second time on PostgreSQL.
DB_PKGS := ./models ./web/... ./internal/enginestore ./internal/upload ./internal/webhooks ./cmd/callrec

test: ## every test, the store's on SQLite and on PostgreSQL; end-to-end tests run when their tools are installed (CALLREC_E2E=1 insists)
	$(GO) test -count=1 -timeout 20m $(PKGS)
	# the fault-test build of the recorder's file layer (a write hook that stalls one file)
	$(GO) test -count=1 -timeout 5m -tags callrec_faults -run 'Faults|DiskStall' ./media/ ./media/recorder/
	# the patched SIP library (third_party/sipgo/PATCHES.md)
	cd third_party/sipgo && $(GO) test -count=1 -skip TestClientTransactionInviteFSM ./sip/
	# the store's, the web's and serve's tests again on PostgreSQL (internal/storetest)
	CALLREC_TEST_DB=postgres $(GO) test -count=1 -timeout 20m $(DB_PKGS)

test-cluster: ## Kamailio + three nodes + PostgreSQL + SeaweedFS: 60 calls spread, control across nodes, kill -9, take-over, SIGTERM drain, database restart, prompts and FTPS/SFTP across nodes (also part of make test)
	$(GO) test -count=1 -timeout 10m -run 'TestClusterBehindKamailio' -v ./cmd/callrec/

test-short:
	$(GO) test -short $(PKGS)

generate: ## regenerate templ views (the generated code is committed)
	$(GO) tool templ generate

lint: ## gofmt, go vet, the import table of ARCHITECTURE.md, go mod tidy in step
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)
	$(GO) test -count=1 ./internal/importcheck
	$(GO) mod tidy -diff

bench: ## Go micro-benchmarks of every package
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

bench-convert: ## callrec convert against sox on a 10-minute 48 kHz stereo file
	scripts/bench-convert.sh

bench-engine: ## N recorded calls through the real binary with sipp (N=1000 LEN=60 by default)
	scripts/bench-engine.sh

prompts: ## re-render the six shipped announcements with espeak-ng
	$(GO) run ./cmd/genprompts
