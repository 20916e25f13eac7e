package server

import (
	"bufio"
	"errors"
	"io"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
)

const exportPath = "/v1/blocklist:export"

// exportNDJSON serves ExportEntries as plain newline-delimited JSON, one
// Entry per line, so that an export can be imported back as it is. (The
// gateway would wrap each line in {"result": ...}.) It calls the service
// over the in-process gRPC connection, so the interceptor chain applies.
// An error before the first entry is an HTTP error like the gateway's; an
// error after it is a last line {"error": {"code": ..., "message": ...}}.
func (s *Server) exportNDJSON(w http.ResponseWriter, r *http.Request) {
	req := &callverifyv1.ExportEntriesRequest{}
	if err := runtime.PopulateQueryParameters(req, r.URL.Query(), utilities.NewDoubleArray(nil)); err != nil {
		writeHTTPError(w, status.New(codes.InvalidArgument, "the query parameters are not valid: use category and source"))
		return
	}
	ctx := metadata.NewOutgoingContext(r.Context(), metadata.Pairs(
		"authorization", r.Header.Get("Authorization"),
		"x-request-id", r.Header.Get("X-Request-Id"),
	))
	stream, err := callverifyv1.NewBlocklistServiceClient(s.innerCC).ExportEntries(ctx, req)
	if err != nil {
		writeHTTPError(w, status.Convert(err))
		return
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	opts := protojson.MarshalOptions{}
	for n := 0; ; n++ {
		e, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if n == 0 {
				w.Header().Set("Content-Type", "application/x-ndjson")
			}
			_ = bw.Flush()
			return
		}
		if err != nil {
			st := status.Convert(err)
			if n == 0 {
				writeHTTPError(w, st)
				return
			}
			b, _ := protojson.Marshal(st.Proto())
			_, _ = bw.WriteString(`{"error":`)
			_, _ = bw.Write(b)
			_, _ = bw.WriteString("}\n")
			_ = bw.Flush()
			return
		}
		if n == 0 {
			w.Header().Set("Content-Type", "application/x-ndjson")
		}
		b, err := opts.Marshal(e)
		if err != nil {
			return
		}
		_, _ = bw.Write(b)
		if err := bw.WriteByte('\n'); err != nil {
			return
		}
	}
}

// writeHTTPError answers like the gateway does: the status as JSON with the
// HTTP code the gateway maps it to.
func writeHTTPError(w http.ResponseWriter, st *status.Status) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	b, _ := protojson.Marshal(st.Proto())
	_, _ = w.Write(b)
}
