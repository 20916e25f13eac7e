# make test is what the README and CI run.
# Resolved once, and only when a recipe uses them (make generate), not on every target.
GOOGLEAPIS = $(eval GOOGLEAPIS := $$(shell go mod download -json github.com/grpc-ecosystem/grpc-gateway@v1.16.0 | sed -n 's/.*"Dir": "\(.*\)",/\1/p')/third_party/googleapis)$(GOOGLEAPIS)
# Module directories, downloaded first when the module cache is new.
GATEWAY = $(eval GATEWAY := $$(shell go mod download -json github.com/grpc-ecosystem/grpc-gateway/v2 | sed -n 's/.*"Dir": "\(.*\)",/\1/p'))$(GATEWAY)
PROTOS := $(wildcard proto/callverify/v1/*.proto)
# Stored-record formats: each .proto under internal/ beside its generated Go.
RECORD_PROTOS = $(shell find internal -name '*.proto')

.PHONY: generate test bench lint run load screenshots
generate:
	@test -f $(GOOGLEAPIS)/google/api/annotations.proto || { echo "googleapis protos not found (go mod download failed?)"; exit 1; }
	@test -f $(GATEWAY)/protoc-gen-openapiv2/options/annotations.proto || { echo "grpc-gateway/v2 protos not found"; exit 1; }
	rm -f api/callverify/v1/*.pb.go api/callverify/v1/*.pb.gw.go api/callverify/v1/*.json
	# The plugins are the versions pinned in go.mod's tool block.
	GOBIN=$(CURDIR)/bin go install tool
	PATH="$(CURDIR)/bin:$$PATH" protoc -I proto -I $(GOOGLEAPIS) -I $(GATEWAY) \
		--go_out=paths=source_relative:api \
		--go-grpc_out=paths=source_relative:api \
		--grpc-gateway_out=paths=source_relative:api \
		--openapiv2_out=api/callverify/v1 \
		--openapiv2_opt=allow_merge=true,merge_file_name=callverify,json_names_for_fields=true \
		$(PROTOS)
	# The OpenAPI document, told what the server serves beside the gateway.
	go run ./internal/apidoc -openapi < api/callverify/v1/callverify.swagger.json > api/callverify/v1/openapi.tmp
	mv api/callverify/v1/openapi.tmp api/callverify/v1/callverify.swagger.json
	# The API reference, from the proto's comments and the server's role table.
	protoc -I proto -I $(GOOGLEAPIS) -I $(GATEWAY) --include_source_info --include_imports \
		--descriptor_set_out=/dev/stdout $(PROTOS) | go run ./internal/apidoc > docs/api.md.tmp
	mv docs/api.md.tmp docs/api.md
	rm -f $(RECORD_PROTOS:.proto=.pb.go)
	PATH="$(CURDIR)/bin:$$PATH" protoc -I . --go_out=paths=source_relative:. $(RECORD_PROTOS)

test:
	@# The load harness lives in the tools module (ghz and vegeta stay out of
	@# go.mod): its test runs it for a moment on the embedded store, beside
	@# the service's tests rather than after them.
	@{ (cd tools && go test -race -count=1 ./load/) > .load-test.log 2>&1; echo $$? > .load-test.rc; } & \
	go test -race -count=1 ./...; rc=$$?; wait; cat .load-test.log; \
	load=$$(cat .load-test.rc); rm -f .load-test.log .load-test.rc; \
	[ $$rc -eq 0 ] && [ $$load -eq 0 ]

# The browser tests write their screenshots to docs/screenshots (the README
# shows them). They need Chromium, and a CJK font for the Chinese pages
# (apt-get install chromium fonts-wqy-microhei).
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
