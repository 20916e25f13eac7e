# make test is what the README and CI run.
GOOGLEAPIS := $(shell go mod download -json github.com/grpc-ecosystem/grpc-gateway@v1.16.0 | sed -n 's/.*"Dir": "\(.*\)",/\1/p')/third_party/googleapis
# Module directories, downloaded first when the module cache is new.
GATEWAY := $(shell go mod download -json github.com/grpc-ecosystem/grpc-gateway/v2 | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
PROTOS := $(wildcard proto/callverify/v1/*.proto)

.PHONY: generate test bench lint run screenshots
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

test:
	go test -race -count=1 ./...

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

run:
	go run ./cmd/callverifyd --dev
