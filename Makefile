# make test is what the README and CI run.
# buf compiles the protos (pinned in tools/buf/go.mod, no protoc): buf.yaml
# is the workspace, buf.gen.yaml the API's plugins, buf.gen.records.yaml the
# stored records'. The plugins are go.mod's tools, run with go tool. buf is
# installed in bin/ once a run (go tool would load its module graph for each
# of the three calls).
BUF = bin/buf
# Stored-record formats: each .proto under internal/ beside its generated Go.
RECORD_PROTOS = $(shell find internal -name '*.proto')

.PHONY: generate third_party test bench lint run load screenshots
generate:
	GOBIN=$(CURDIR)/bin go install -modfile=tools/buf/go.mod tool
	rm -f api/callverify/v1/*.pb.go api/callverify/v1/*.pb.gw.go api/callverify/v1/*.json
	$(BUF) generate
	# The OpenAPI document, told what the server serves beside the gateway.
	go run ./internal/apidoc -openapi < api/callverify/v1/callverify.swagger.json > api/callverify/v1/openapi.tmp
	mv api/callverify/v1/openapi.tmp api/callverify/v1/callverify.swagger.json
	# The API reference, from the proto's comments and the server's role table.
	$(BUF) build proto --as-file-descriptor-set -o - | go run ./internal/apidoc > docs/api.md.tmp
	mv docs/api.md.tmp docs/api.md
	rm -f $(RECORD_PROTOS:.proto=.pb.go)
	$(BUF) generate --template buf.gen.records.yaml $(addprefix --path ,$(RECORD_PROTOS))

# make third_party copies the protos the API imports (third_party/README.md)
# from the module cache again, at the versions pinned here and in go.mod; the
# only target that resolves module directories.
GOOGLEAPIS_MODULE = github.com/grpc-ecosystem/grpc-gateway@v1.16.0
third_party:
	@set -e; \
	dir() { go mod download -json "$$1" | sed -n 's/.*"Dir": "\(.*\)",/\1/p'; }; \
	googleapis=$$(dir $(GOOGLEAPIS_MODULE))/third_party/googleapis; \
	gateway=$$(dir github.com/grpc-ecosystem/grpc-gateway/v2); \
	test -f "$$googleapis/google/api/annotations.proto" && test -f "$$gateway/protoc-gen-openapiv2/options/annotations.proto"; \
	install -m 644 "$$googleapis/LICENSE" third_party/googleapis/; \
	install -m 644 "$$googleapis/google/api/annotations.proto" "$$googleapis/google/api/http.proto" third_party/googleapis/google/api/; \
	install -m 644 "$$gateway/LICENSE" third_party/grpc-gateway/; \
	install -m 644 "$$gateway"/protoc-gen-openapiv2/options/*.proto third_party/grpc-gateway/protoc-gen-openapiv2/options/

# The test packages that take longest, started first (go test runs the
# packages in the order named; ./... adds the rest).
SLOW_TESTS = ./internal/web ./internal/store/redisstore ./internal/server ./internal/docs ./blocklist ./internal/e2e
test:
	@# The load harness lives in the tools module (ghz and vegeta stay out of
	@# go.mod): its test runs it for a moment on the embedded store, beside
	@# the service's tests rather than after them.
	@# -p 4: twice the cores, as many tests wait on servers and browsers;
	@# the longest packages are named first so they start first.
	@# atexit_sleep_ms=0: a race-enabled binary otherwise sleeps a second
	@# before it exits, a second per package.
	@# -ldflags=-w: test binaries without DWARF (stack traces and race
	@# reports keep their lines) link in a fifth less CPU, and linking is
	@# a third of the CPU of the whole run.
	@# GOFLAGS, for the tests and the commands they build: -trimpath, so
	@# the build cache does not depend on where the clone is (a fresh clone
	@# reuses what any other compiled); -buildvcs=false, so a commit alone
	@# does not relink the commands the tests run.
	@export GORACE="atexit_sleep_ms=0 $$GORACE" GOFLAGS="-trimpath -buildvcs=false $$GOFLAGS"; \
	{ (cd tools && go test -race -count=1 -ldflags=-w ./load/) > .load-test.log 2>&1; echo $$? > .load-test.rc; } & \
	go test -race -count=1 -ldflags=-w -p 4 $(SLOW_TESTS) ./...; rc=$$?; wait; cat .load-test.log; \
	load=$$(cat .load-test.rc); rm -f .load-test.log .load-test.rc; \
	[ $$rc -eq 0 ] && [ $$load -eq 0 ]

# The browser tests write their screenshots to docs/screenshots (the README
# shows them). They need Chromium, and a CJK font for the Chinese pages
# (apt-get install chromium-headless-shell fonts-wqy-microhei).
screenshots:
	go test -count=1 -run TestBrowser ./internal/web -args -screenshots

bench:
	go test -run '^$$' -bench . -benchmem ./...

lint:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"
	go vet ./...
	cd tools && go vet ./load/

run:
	go run ./cmd/callverifyd --dev

# make load runs the load harness (tools/load) and prints issue 16's table.
# BLOCKLIST: entries behind the hot RPCs and the store rows (e.g. 10000000);
# MD: also write the tables into this Markdown file (docs/performance.md);
# LOADFLAGS: any other flag (cd tools && go run ./load -h lists them).
BLOCKLIST ?= 100000
MD ?=
load:
	cd tools && go run ./load -repo $(CURDIR) -blocklist $(BLOCKLIST) $(if $(MD),-md $(abspath $(MD))) $(LOADFLAGS)
