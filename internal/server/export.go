package server

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

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
	var line []byte
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
		line = append(appendEntryJSON(line[:0], e), '\n')
		if _, err := bw.Write(line); err != nil {
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

// appendEntryJSON appends e as protojson writes it (lowerCamelCase names
// in field order, zero values left out, enums by name, timestamps in RFC
// 3339 UTC), without protojson's reflection, which was most of an
// export's cost per row. TestEntryJSONIsProtojson holds the two to the
// same message for every field Entry has. import_row is never exported.
func appendEntryJSON(b []byte, e *callverifyv1.Entry) []byte {
	b = append(b, '{')
	first := true
	str := func(name, v string) {
		if v == "" {
			return
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":`...)
		b = appendJSONString(b, v)
	}
	enum := func(name string, n int32, v string) {
		if n != 0 {
			str(name, v)
		}
	}
	ts := func(name string, t *timestamppb.Timestamp) {
		if t != nil {
			str(name, formatTimestamp(t))
		}
	}
	str("entryId", e.GetEntryId())
	str("pattern", e.GetPattern())
	enum("kind", int32(e.GetKind()), e.GetKind().String())
	enum("category", int32(e.GetCategory()), e.GetCategory().String())
	str("reason", e.GetReason())
	enum("source", int32(e.GetSource()), e.GetSource().String())
	if c := e.GetConfidence(); c != 0 {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `"confidence":`...)
		b = strconv.AppendInt(b, int64(c), 10)
	}
	str("createBy", e.GetCreateBy())
	ts("createTime", e.GetCreateTime())
	ts("updateTime", e.GetUpdateTime())
	ts("expireTime", e.GetExpireTime())
	return append(b, '}')
}

// formatTimestamp formats t as protojson does: UTC, with 0, 3, 6 or 9
// fractional digits.
func formatTimestamp(t *timestamppb.Timestamp) string {
	s := time.Unix(t.GetSeconds(), int64(t.GetNanos())).UTC().Format("2006-01-02T15:04:05.000000000")
	s = strings.TrimSuffix(s, "000")
	s = strings.TrimSuffix(s, "000")
	s = strings.TrimSuffix(s, ".000")
	return s + "Z"
}

// appendJSONString appends s as a JSON string. Stored text is valid UTF-8
// (the text policy); an invalid byte is written as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
